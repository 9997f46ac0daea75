#!/usr/bin/env bash
# scripts/static-link.sh SCRATCH OUTPUT: links the fully static contact-listener from the
# objects of a finished `swift build -c release --scratch-path SCRATCH` (a normal, dynamic
# build) in about two seconds, instead of compiling all ~50 modules a second time under
# `-Xswiftc -static-executable` (about 4.5 minutes on 2 cores). Used by `make release`
# (scripts/release.sh) and `bench/run`, so what the benchmark measures is what ships.
#
# The link is SwiftPM's own link command for the product, read from SCRATCH/release.yaml,
# with three changes:
#   - `-static-executable`, and no `-rpath`;
#   - one empty object compiled with `-static-executable` that imports Foundation: its
#     autolink entries name the archives that static Foundation needs and the dynamic
#     libFoundation.so carries inside (CoreFoundation, _FoundationICU, ...), so the
#     toolchain itself says what to add;
#   - the system archives named explicitly (docs/libfcgi.md: the module map's `link "fcgi"`
#     alone picks the .so), with the libraries libmariadb.a needs but does not name
#     (`pkg-config --static --libs libmariadb`: OpenSSL, zlib, libdl).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/static-link.sh SCRATCH OUTPUT" >&2; exit 64; }
scratch=$1 output=$2
manifest=$scratch/release.yaml
[ -f "$manifest" ] || { echo "static-link: no $manifest; run swift build -c release --scratch-path $scratch first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo 'import Foundation' > "$work/StaticAutolink.swift"
swiftc -c -O -parse-as-library -static-executable -module-name StaticAutolink \
  "$work/StaticAutolink.swift" -o "$work/StaticAutolink.o"

# SwiftPM's link command for the product: the command whose output is .../contact-listener.
mapfile -d '' link < <(python3 - "$manifest" "$output" <<'PY'
import json, sys
manifest, output = sys.argv[1], sys.argv[2]
args, linking = None, False
for line in open(manifest):
    stripped = line.strip()
    if line.startswith('  "') and stripped.endswith(':'):
        linking = False          # the next command
    elif stripped.startswith("outputs:") and stripped.endswith('/contact-listener"]'):
        linking = True
    elif linking and stripped.startswith("args:"):
        args = json.loads(stripped[len("args:"):])
        break
if args is None:
    sys.exit("static-link: no link command for contact-listener in " + manifest)
out = []
skip = False
for i, arg in enumerate(args):
    if skip:
        skip = False
        continue
    if arg == "-o":
        out += ["-o", output]
        skip = True
    elif arg == "-Xlinker" and i + 1 < len(args) and args[i + 1].startswith("-rpath"):
        skip = True
    else:
        out.append(arg)
sys.stdout.write("\0".join(out) + "\0")
PY
)
archives=()
for archive in libfcgi.a libsodium.a libmariadb.a libsqlite3.a libssl.a libcrypto.a libz.a; do archives+=(-Xlinker "-l:$archive"); done
# glibc warns that getaddrinfo & co. need its shared NSS modules at run time: known and
# documented (README: static binary), so only real errors are shown.
if ! "${link[@]}" -static-executable "$work/StaticAutolink.o" "${archives[@]}" -Xlinker -ldl \
    >"$work/link.log" 2>&1; then
  grep -v 'in statically linked applications requires at runtime' "$work/link.log" >&2
  exit 1
fi
file "$output" | grep -q 'statically linked' || { echo "static-link: $output is not statically linked" >&2; exit 1; }
