#!/usr/bin/env bash
# `make release`: a fully static, stripped x86_64 binary that runs on a machine with no
# Swift, no libfcgi and no MariaDB client, packed with the deploy recipes and a sample
# config into dist/contact-listener-VERSION-linux-x86_64.tar.gz (+ .sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libfcgi-dev libmariadb-dev libsqlite3-dev libsodium-dev libssl-dev zlib1g-dev pkg-config binutils python3 file
scratch=${SCRATCH:-.build-release}
# A normal release build, then the static link from its objects (scripts/static-link.sh
# says how): the same binary as `-Xswiftc -static-executable`, without compiling twice.
swift build -c release --product contact-listener --scratch-path "$scratch"
bin="$scratch/release/contact-listener-static"
bash scripts/static-link.sh "$scratch" "$bin"
version=$("$bin" --version | awk '{print $1}')
name="contact-listener-$version-linux-x86_64"
stage="dist/$name"
rm -rf "$stage" && mkdir -p "$stage"
cp "$bin" "$stage/contact-listener"
strip "$stage/contact-listener"
cp -r deploy README.md "$stage/"
cp deploy/shared-hosting/contact-listener.yaml "$stage/contact-listener.yaml.sample"
( cd dist && tar -czf "$name.tar.gz" "$name" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256" )
file "$stage/contact-listener" | sed 's/^/built: /'
echo "dist/$name.tar.gz"
cat "dist/$name.tar.gz.sha256"
