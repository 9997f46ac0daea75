#!/usr/bin/env bash
# `make test`: install what the tests need, build, and run the whole suite:
# unit tests, integration tests (the real binary behind real nginx, Apache, spawn-fcgi,
# PostgreSQL, MariaDB; the console in headless Chromium), the plugin example, and a short
# fuzzing pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libfcgi-dev libmariadb-dev libsqlite3-dev libsodium-dev libssl-dev pkg-config \
  nginx-light spawn-fcgi php-cli php-cgi curl sqlite3 postgresql mariadb-server util-linux \
  apache2-bin libapache2-mod-fcgid systemd file python3 openssl logrotate strace \
  chromium chromium-driver python3-selenium
started=$SECONDS
swift build --build-tests
# The plugin example (Examples/CustomHandler) builds in the same scratch folder, so it
# reuses every compiled dependency; the integration tests run the binary it produces.
swift build --package-path Examples/CustomHandler --scratch-path .build
echo "build: $((SECONDS - started)) s"
# Every test folder goes inside one folder of this run, which marks the processes the
# tests start; after the run none of them may still be running.
CONTACT_LISTENER_TEST_TMPDIR=$(mktemp -d /tmp/clt-XXXXXX)
export CONTACT_LISTENER_TEST_TMPDIR
chmod 755 "$CONTACT_LISTENER_TEST_TMPDIR"   # nginx's and Apache's workers reach sockets in it
status=0
swift test --skip-build || status=$?
bash scripts/leftover-processes.sh "$CONTACT_LISTENER_TEST_TMPDIR" || status=1
[ "${INTEGRATION_KEEP_DIRS:-}" = 1 ] || rm -rf "$CONTACT_LISTENER_TEST_TMPDIR"
[ "$status" -eq 0 ] || exit "$status"
# CI runs a short pass (60 s per target); `FUZZ_SECONDS=3600 make fuzz` for a long one.
FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash fuzz/run
# The benchmark tools must keep building (nothing is timed here).
BENCH_BIN=.build/debug/contact-listener bash bench/run --build-only
echo "make test: $((SECONDS - started)) s"
