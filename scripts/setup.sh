#!/usr/bin/env bash
# One-time (and idempotent) set-up: system packages, model/runtime/footage,
# npm packages, the UI and the Rust binaries. Fast when nothing changed.
#   scripts/setup.sh           what the demo needs
#   scripts/setup.sh --test    plus what the tests need (browser, Xvfb, window build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

phase_start=$SECONDS
phase() { echo "setup: $1 ($((SECONDS - phase_start)) s so far)" >&2; }

bash "$root/scripts/bootstrap.sh"

# --- System packages (Debian 12) ---------------------------------------------
apt_build=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev
  libswscale-dev libdbus-1-dev libssl-dev build-essential
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
# The window's live video needs GStreamer's libav and bad plugins (WebKitGTK).
apt_run=(ffmpeg opencv-doc gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav wamerican)
# The tests' GStreamer camera simulator (other codecs, authentication, faults).
apt_test=(chromium xvfb xauth x11-utils libgl1-mesa-dri imagemagick dbus dbus-x11 mosquitto
  webkit2gtk-driver python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-ugly gstreamer1.0-rtsp iproute2)
# Packaging (`npm run package`, and the package test: lintian, a Debian root).
apt_package=(rpm unzip)
[ "$want_test" -eq 1 ] && apt_test+=("${apt_package[@]}" lintian mmdebstrap)
wanted=("${apt_build[@]}" "${apt_run[@]}")
[ "$want_test" -eq 1 ] && wanted+=("${apt_test[@]}")
[ "${PEREGRINE_SETUP_PACKAGING:-}" = 1 ] && wanted+=("${apt_package[@]}")

if [ -z "${PEREGRINE_SKIP_APT:-}" ] && command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 || { echo "setup: run as root: apt-get install ${missing[*]}" >&2; exit 1; }
      sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
phase "system packages ready"

# --- Model, ONNX Runtime, footage (cached, sha256-verified) ------------------
eval "$(bash "$root/scripts/fetch-assets.sh" | sed "s/^\([A-Z_0-9]*\)=\(.*\)$/export \1='\2'/")"
phase "model, runtime and footage ready"

# --- npm packages and the UI ----------------------------------------------------
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.peregrine-lock ] || [ "$(cat node_modules/.peregrine-lock)" != "$lock_sum" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_sum" > node_modules/.peregrine-lock
fi
npm run --silent ui:build >&2
phase "UI built"

# --- Rust ------------------------------------------------------------------------
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${PEREGRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peregrine}/target}"
cargo build --quiet -p peregrine-server --bin peregrine >&2
# The search's word table: every dictionary word's nearest class, colour and
# embedding, made once from the model so the console never loads it (its
# 23 MB file costs 157 MB once loaded). Seconds when nothing changed.
cargo run --quiet -p peregrine-server --example semantic_table >&2
if [ "$want_test" -eq 1 ] || [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cargo build --quiet -p peregrine-app >&2
fi
# The benchmark's own programs, so `npm run bench -- --quick` in the tests
# measures rather than compiles.
if [ "$want_test" -eq 1 ]; then
  cargo build --quiet -p peregrine-engine --examples >&2
  cargo build --quiet -p peregrine-store --examples >&2
fi
# WebDriver for the desktop window's end-to-end test (2.x: an unpinned
# install picks a 3.0 alpha).
if [ "$want_test" -eq 1 ] && ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  cargo install --quiet tauri-driver --version "^2" --locked >&2
fi
phase "binaries built in $CARGO_TARGET_DIR"
