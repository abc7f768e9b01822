#!/usr/bin/env bash
# Installs DynamoDB Local (the jar AWS ships) under .cache/dynamodb-local without Docker and
# without the simulator package's 280 dependencies: `npm pack` fetches only its tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
version="2.9.30"
dest=".cache/dynamodb-local"
if [ -f "$dest/DynamoDBLocal.jar" ]; then
  echo "DynamoDB Local already installed in $dest"
  exit 0
fi
command -v java >/dev/null || { echo "DynamoDB Local needs Java 17+ (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "Fetching DynamoDB Local (amplify-dynamodb-simulator@$version) ..."
(cd "$tmp" && npm pack --silent "amplify-dynamodb-simulator@$version" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$dest"
cp -R "$tmp/package/emulator/." "$dest/"
echo "DynamoDB Local installed in $dest"
