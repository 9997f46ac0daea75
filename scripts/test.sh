#!/usr/bin/env bash
# `make test`: install what the tests need, build, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libfcgi-dev pkg-config nginx-light spawn-fcgi php-cli curl
swift build --build-tests
swift test --skip-build
