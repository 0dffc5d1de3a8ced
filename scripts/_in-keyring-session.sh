#!/usr/bin/env bash
# Inside `dbus-run-session`: unlocks a fresh gnome-keyring login collection (its
# password fed on stdin, as a desktop login does) and runs the given command.
# The keyring daemon ends with the session bus.
set -euo pipefail
keyring_password="alko-desk-tests-$RANDOM$RANDOM"
if ! printf '%s' "$keyring_password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null; then
  echo "gnome-keyring-daemon did not start: the Secret Service tests will fail." >&2
fi
exec "$@"
