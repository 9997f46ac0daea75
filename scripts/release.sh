#!/usr/bin/env bash
# `make release`: a fully static, stripped x86_64 binary that runs on a machine with no
# Swift, no libfcgi and no MariaDB client, packed with the deploy recipes and a sample
# config into dist/contact-listener-VERSION-linux-x86_64.tar.gz (+ .sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libfcgi-dev libmariadb-dev libsqlite3-dev libssl-dev zlib1g-dev pkg-config binutils
scratch=${SCRATCH:-.build-release}
# -static-executable links every archive; libmariadb.a doesn't name its own dependencies,
# so OpenSSL and zlib come explicitly (pkg-config --static --libs libmariadb).
swift build -c release --product contact-listener --scratch-path "$scratch" \
  -Xswiftc -static-executable \
  -Xlinker -l:libfcgi.a -Xlinker -l:libmariadb.a -Xlinker -l:libsqlite3.a \
  -Xlinker -l:libssl.a -Xlinker -l:libcrypto.a -Xlinker -l:libz.a -Xlinker -ldl
bin="$scratch/release/contact-listener"
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
