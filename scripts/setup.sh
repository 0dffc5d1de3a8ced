#!/usr/bin/env bash
# Sets up a checkout of ALKO Desk so that it runs and tests: system libraries for Qt
# (installed with apt-get when missing and we are root), the Python environment in
# .venv with the app and its test tools, and the embedded FerretDB in .tools/bin.
# Safe to run again: each step does nothing when it is already done.
#
#   scripts/setup.sh            what the app needs
#   scripts/setup.sh --tests    also what the test suite needs (D-Bus, gnome-keyring, Xvfb)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Qt's offscreen and xcb platform plugins, as `ldd` lists them for the PySide6 wheels, plus a font.
APP_PACKAGES=(
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libdbus-1-3 fonts-dejavu-core
  libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
  libxcb-glx0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 libxcb-render0
)
# ICU for name collation; PyICU is built from source against it (pkg-config, a C++ compiler).
APP_PACKAGES+=(libicu-dev pkg-config g++)
# A real Secret Service for the keyring tests, and a virtual display for runs without one.
TEST_PACKAGES=(dbus dbus-daemon dbus-x11 gnome-keyring xvfb xauth)
# ID documents: Tesseract reads the MRZ; SANE scans (libsane-dev builds python-sane, whose
# wheel pip compiles with gcc); the tests render MRZs in OCR-B and scan with SANE's test backend.
APP_PACKAGES+=(tesseract-ocr tesseract-ocr-eng libsane1 libsane-dev gcc)
TEST_PACKAGES+=(fonts-ocr-b sane-utils)
# Camera capture: Qt Multimedia links PulseAudio's client library even for video.
APP_PACKAGES+=(libpulse0)
TEST_PACKAGES+=(zbar-tools)  # zbarimg scans the EPC QR code printed on invoices
# veraPDF checks invoice PDFs as PDF/A-3 (tests/test_pdfa.py): Java and Maven, unless the
# machine has its own (scripts/install-verapdf.sh fetches veraPDF from Maven Central).
command -v javac >/dev/null 2>&1 || TEST_PACKAGES+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || TEST_PACKAGES+=(maven)
# Pango for WeasyPrint, which only the invoice benchmark uses (scripts/setup.sh --bench).
BENCH_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0)

packages=("${APP_PACKAGES[@]}")
if [ "${1:-}" = "--tests" ]; then packages+=("${TEST_PACKAGES[@]}"); fi
if [ "${1:-}" = "--bench" ]; then packages+=("${BENCH_PACKAGES[@]}"); fi

say() { printf '==> %s\n' "$*"; }

install_system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "Not a Debian-like system: make sure Qt's libraries (${packages[*]}) or their equivalents are installed."
    return
  fi
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    say "Missing system packages: ${missing[*]}"
    say "Install them with: sudo apt-get install ${missing[*]}"
    return
  fi
  say "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
  exit 1
}

setup_python() {
  if [ ! -x .venv/bin/python ]; then
    local python
    python="$(find_python)"
    say "Creating .venv with $("$python" --version)"
    "$python" -m venv .venv
  fi
  # Reinstall only when the declared dependencies changed.
  local stamp=.venv/.alko-desk-installed want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing ALKO Desk and its test tools into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$want" > "$stamp"
  fi
}

install_system_packages
setup_python
if [ "${1:-}" = "--bench" ] && ! .venv/bin/python -c 'import weasyprint' 2>/dev/null; then
  say "Installing WeasyPrint for the benchmarks"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
fi
bash scripts/install-ferretdb.sh
if [ "${1:-}" = "--tests" ]; then bash scripts/install-verapdf.sh; fi
