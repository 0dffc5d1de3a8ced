#!/usr/bin/env bash
# Sets up the checkout (scripts/setup.sh) and opens ALKO Desk on its default database:
# ALKO_MONGODB_URI or the URI saved in the keyring, else the embedded FerretDB.
# Arguments go to `alko-desk` (`scripts/run-app.sh db status`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

app=(.venv/bin/python -m alko_desk "$@")
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  if command -v xvfb-run >/dev/null 2>&1; then
    echo "No display here (DISPLAY and WAYLAND_DISPLAY are unset): starting ALKO Desk under xvfb-run," \
         "on a virtual screen nobody sees. Run it from a desktop session to use it."
    exec xvfb-run --auto-servernum --server-args="-screen 0 1440x900x24" "${app[@]}"
  fi
  echo "No display here (DISPLAY and WAYLAND_DISPLAY are unset) and no xvfb-run to make a virtual one." >&2
  echo "Run this from a desktop session, or install the xvfb package." >&2
  exit 1
fi
exec "${app[@]}"
