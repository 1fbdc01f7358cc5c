#!/usr/bin/env bash
# `npm run demo`: set up, then the console on 4 simulated cameras. With a
# display it opens the desktop window; without one it serves the UI and
# prints the URL to open in a browser.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${PEREGRINE_HEADLESS:-}" ]; then
  exec "$CARGO_TARGET_DIR/debug/peregrine-app" demo "$@"
else
  echo "No display: running headless. Open the URL below in a browser on this machine." >&2
  exec "$CARGO_TARGET_DIR/debug/peregrine" demo "$@"
fi
