#!/usr/bin/env bash
# Builds FerretDB 1.24.2 (the embedded database) into .tools/bin/ferretdb.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`?
# It compiles, but the binary panics at start ("Invalid build/version/version.txt
# file content. Please run `bin/task gen-version`"): the module zip lacks the
# generated version.txt that release builds embed. So we run the same `go install`
# step to fetch the module through the Go module proxy, then build the same
# package from that module's source with version.txt written, as FerretDB's own
# build does. The result is the official cmd/ferretdb at v1.24.2.
set -euo pipefail
VERSION=v1.24.2
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools/bin/ferretdb"
# grep without -q: with pipefail, -q exiting early can SIGPIPE the binary and force a rebuild.
if [ -x "$dest" ] && "$dest" --version 2>/dev/null | grep "version: $VERSION" >/dev/null; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go; do [ -x "$g" ] && export PATH="$(dirname "$g"):$PATH"; done
fi
command -v go >/dev/null 2>&1 || { echo "Go is needed to build FerretDB: install Go 1.22 or newer." >&2; exit 1; }
echo "Building FerretDB $VERSION (once; about a minute)…"
go mod download github.com/FerretDB/FerretDB@$VERSION
src_mod="$(go env GOMODCACHE)/github.com/!ferret!d!b/!ferret!d!b@$VERSION"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src_mod" "$work/src"
chmod -R u+w "$work/src"
echo "$VERSION" > "$work/src/build/version/version.txt"
mkdir -p "$(dirname "$dest")"
(cd "$work/src" && go build -buildvcs=false -trimpath -o "$dest" ./cmd/ferretdb)
"$dest" --version | head -1
