#!/usr/bin/env bash
# Builds FerretDB 1.24.2 (the embedded database) into .tools/bin/ferretdb.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`?
# It compiles, but the binary panics at start ("Invalid build/version/version.txt
# file content. Please run `bin/task gen-version`"): the module zip lacks the
# generated version.txt that release builds embed. So we run the same `go install`
# step to fetch the module through the Go module proxy, then build the same
# package from that module's source with version.txt written, as FerretDB's own
# build does. The result is cmd/ferretdb at v1.24.2 with the patches below.
#
# Patches (scripts/ferretdb-patches/*.patch, applied in name order):
#   0001  On SQLite, FerretDB queries `_id` as `_ferretdb_sjson->'$._id'` but builds the
#         `_id` index on `_ferretdb_sjson->"_id"`, a different expression, so SQLite never
#         uses the index: every find/update/delete by `_id` scans the whole collection
#         (~250 ms find_one, ~1 s update_one at 100,000 documents). The patch makes the
#         query use the index's expression (EXPLAIN QUERY PLAN: SEARCH ... USING INDEX);
#         existing database files need no change. tests/test_ferretdb_patch.py checks it.
#         The 1.x line gets no further releases, so the fix lives here.
# A marker file beside the binary records which patches it was built with, so that a
# checkout with an unpatched (or differently patched) binary rebuilds it.
set -euo pipefail
VERSION=v1.24.2
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools/bin/ferretdb"
# grep without -q reads all the output: with -q it can exit first, ferretdb dies of SIGPIPE,
# pipefail fails the check and a good binary is rebuilt (through a symlinked .tools/bin too).
patches_dir="$root/scripts/ferretdb-patches"
marker="$dest.patches"
want_patches="$VERSION $(cat "$patches_dir"/*.patch 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ -x "$dest" ] && "$dest" --version 2>/dev/null | grep "version: $VERSION" >/dev/null &&
   [ "$(cat "$marker" 2>/dev/null)" = "$want_patches" ]; then
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
for p in "$patches_dir"/*.patch; do
  [ -e "$p" ] || continue
  echo "Applying $(basename "$p")"
  (cd "$work/src" && git apply -p1 "$p")
done
mkdir -p "$(dirname "$dest")"
rm -f "$dest" "$marker"  # a symlink to another checkout's binary is replaced, never written through
(cd "$work/src" && go build -buildvcs=false -trimpath -o "$dest" ./cmd/ferretdb)
echo "$want_patches" > "$marker"
"$dest" --version | sed -n 1p
