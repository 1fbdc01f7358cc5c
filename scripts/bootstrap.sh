#!/usr/bin/env bash
# Checks the toolchains Peregrine builds with and says exactly what to
# install when one is missing or too old. Sourced by setup.sh; safe to run alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

version_ge() { # version_ge HAVE NEED
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

need_rust="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
need_node="20.19.0"
problems=0

if command -v rustc >/dev/null 2>&1 && command -v cargo >/dev/null 2>&1; then
  have_rust="$(rustc --version | awk '{print $2}')"
  if ! version_ge "$have_rust" "$need_rust"; then
    echo "bootstrap: rustc $have_rust is older than the required $need_rust." >&2
    echo "  Install Rust $need_rust or newer: 'rustup update stable' (or your distribution's rustc package)." >&2
    problems=1
  fi
else
  echo "bootstrap: Rust (rustc and cargo) $need_rust or newer is required and was not found." >&2
  echo "  Install it with rustup (see the Rust website), then open a new shell." >&2
  problems=1
fi

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  have_node="$(node --version | sed 's/^v//')"
  if ! version_ge "$have_node" "$need_node"; then
    echo "bootstrap: Node.js $have_node is older than the required $need_node." >&2
    echo "  Install Node.js 20.19+ or 22 LTS (e.g. from your distribution or nvm)." >&2
    problems=1
  fi
else
  echo "bootstrap: Node.js $need_node or newer (with npm) is required and was not found." >&2
  problems=1
fi

if [ "$(uname -s)" != "Linux" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: setup is automated for Debian/Ubuntu (apt). On other systems install the" >&2
  echo "  packages listed in scripts/setup.sh by hand, then run it with PEREGRINE_SKIP_APT=1." >&2
fi

[ "$problems" -eq 0 ] || exit 1
