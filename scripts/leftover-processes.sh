#!/usr/bin/env bash
# After the test run: lists every process that a test left running, ends it, and fails if
# there was one. A test's processes are found by the run's own folder ($1, which `make
# test` hands the tests as CONTACT_LISTENER_TEST_TMPDIR): their working directory,
# executable or command line lies inside it, or their environment names it (the test
# support puts it into every child's environment).
set -uo pipefail
root=${1:?usage: leftover-processes.sh TEST_TMPDIR}
left=()
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [ "$pid" = "$$" ] && continue
  hit=""
  for link in cwd exe; do
    target=$(readlink "$dir/$link" 2>/dev/null) || continue
    case "$target" in "$root" | "$root"/* | "$root (deleted)") hit=1 ;; esac
  done
  # A process may end while we look: its files vanish, which is no finding.
  if [ -z "$hit" ]; then
    { tr '\0' '\n' <"$dir/cmdline"; } 2>/dev/null | grep -qF -- "$root/" && hit=1
  fi
  if [ -z "$hit" ]; then
    { tr '\0' '\n' <"$dir/environ"; } 2>/dev/null | grep -qxF -- "CONTACT_LISTENER_TEST_TMPDIR=$root" && hit=1
  fi
  [ -n "$hit" ] && left+=("$pid")
done
[ ${#left[@]} -eq 0 ] && { echo "no test process left running"; exit 0; }
echo "FAIL: ${#left[@]} process(es) left running by the tests:" >&2
for pid in "${left[@]}"; do
  printf '  pid %s (%s) cwd %s\n' "$pid" "$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" "$(readlink "/proc/$pid/cwd" 2>/dev/null)" >&2
done
kill -9 "${left[@]}" 2>/dev/null
exit 1
