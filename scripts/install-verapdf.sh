#!/usr/bin/env bash
# Installs the veraPDF validator for the PDF/A-3 tests (tests/test_pdfa.py) into
# .tools/verapdf: its jars from Maven Central (scripts/verapdf/pom.xml) in lib/, and our small
# command-line front end (scripts/verapdf/PdfaCheck.java) compiled into classes/.
# Needs Java 11+ (java, javac) and Maven; without them it says so and the tests skip.
# Safe to run again: does nothing when the pom and the front end have not changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { printf '==> %s\n' "$*"; }
target=.tools/verapdf
stamp="$target/.installed"
want="$(cat scripts/verapdf/pom.xml scripts/verapdf/PdfaCheck.java | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
for tool in java javac mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "veraPDF not installed: $tool is missing (the PDF/A tests will skip without Java)."
    exit 0
  fi
done

say "Installing veraPDF (Maven Central) into $target"
rm -rf "$target"
mkdir -p "$target/lib" "$target/classes"
log="$(mktemp)"
if ! mvn -B -Dstyle.color=never -f scripts/verapdf/pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$root/$target/lib" >"$log" 2>&1; then
  grep -E 'ERROR|WARN' "$log" | head -20 >&2 || true
  say "veraPDF could not be fetched from Maven Central: the PDF/A tests will fail until it is."
  rm -f "$log"
  exit 0
fi
rm -f "$log"
javac -nowarn -d "$target/classes" -cp "$target/lib/*" scripts/verapdf/PdfaCheck.java
echo "$want" > "$stamp"
