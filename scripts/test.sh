#!/usr/bin/env bash
# `make test`: install what the tests need, build, and run the whole suite:
# unit tests, integration tests (the real binary behind real nginx, Apache, spawn-fcgi,
# PostgreSQL, MariaDB), the plugin example, and a short fuzzing pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libfcgi-dev libmariadb-dev libsqlite3-dev libssl-dev pkg-config \
  nginx-light spawn-fcgi php-cli php-cgi curl sqlite3 postgresql mariadb-server util-linux \
  apache2-bin libapache2-mod-fcgid systemd file python3 openssl logrotate
started=$SECONDS
swift build --build-tests
# The plugin example (Examples/CustomHandler) builds in the same scratch folder, so it
# reuses every compiled dependency; the integration tests run the binary it produces.
swift build --package-path Examples/CustomHandler --scratch-path .build
echo "build: $((SECONDS - started)) s"
swift test --skip-build
# CI runs a short pass (60 s per target); `FUZZ_SECONDS=3600 make fuzz` for a long one.
FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash fuzz/run
# The benchmark tools must keep building (nothing is timed here).
BENCH_BIN=.build/debug/contact-listener bash bench/run --build-only
echo "make test: $((SECONDS - started)) s"
