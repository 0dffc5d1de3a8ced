#!/usr/bin/env bash
# Runs the whole test suite as CI does: set up, then pytest inside a private D-Bus
# session with a real Secret Service (gnome-keyring), Qt offscreen, and HOME and
# XDG_RUNTIME_DIR in a temporary folder so that nothing of the user's is touched.
# Extra arguments go to pytest (`scripts/run-tests.sh -k cli -x`). Exits with pytest's code.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/setup.sh --tests

# Lint and format first: a quick, clear failure before the long run.
echo "==> ruff check and ruff format --check"
.venv/bin/ruff check alko_desk tests bench
.venv/bin/ruff format --check alko_desk tests bench

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is missing: install the packages dbus and gnome-keyring (scripts/setup.sh does, as root)." >&2
    exit 1
  fi
done

sandbox="$(mktemp -d -t alko-tests.XXXXXX)"
trap 'rm -rf "$sandbox"' EXIT
mkdir -p "$sandbox/home" "$sandbox/runtime"
chmod 700 "$sandbox/runtime"

export HOME="$sandbox/home"
export XDG_RUNTIME_DIR="$sandbox/runtime"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export QT_QPA_PLATFORM=offscreen
export PYTHONDONTWRITEBYTECODE=1
unset ALKO_MONGODB_URI ALKO_DATA_DIR ALKO_DB_NAME ALKO_PASSWORD ALKO_NEW_PASSWORD DBUS_SESSION_BUS_ADDRESS

set +e
dbus-run-session -- bash scripts/_in-keyring-session.sh .venv/bin/python -m pytest "$@"
code=$?
set -e
exit "$code"
