#!/usr/bin/env bash
# `npm test`: set up (with the test extras), then every test: Rust unit and
# integration tests (real RTSP server, real SQLite file, real model), then
# the browser and desktop end-to-end tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh" --test
export PEREGRINE_BIN="$CARGO_TARGET_DIR/debug/peregrine"
export PEREGRINE_APP_BIN="$CARGO_TARGET_DIR/debug/peregrine-app"
t0=$SECONDS
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
echo "test: Rust tests took $((SECONDS - t0)) s" >&2
t0=$SECONDS
node --test --test-concurrency=1 tests/e2e/
echo "test: end-to-end tests took $((SECONDS - t0)) s" >&2
# The package test (tests/package/run.sh: release build, .deb into a clean
# Debian 12 root) takes minutes, so it runs when what it checks changed
# since it last passed on this machine, or when asked:
# PEREGRINE_PACKAGE_TEST=always|never.
package_inputs="$(git ls-files -s packaging scripts/package.sh scripts/setup.sh tests/package models/manifest.json \
  Cargo.lock src-tauri/server/src/platform src-tauri/server/src/assets.rs src-tauri/server/src/attach.rs \
  src-tauri/server/src/camsim.rs src-tauri/server/src/cli.rs src-tauri/server/src/main.rs | sha256sum | cut -c1-16)"
package_stamp="${PEREGRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peregrine}/package-test/passed"
case "${PEREGRINE_PACKAGE_TEST:-changed}" in
  never) echo "test: package test skipped (PEREGRINE_PACKAGE_TEST=never)" >&2 ;;
  *)
    if [ "${PEREGRINE_PACKAGE_TEST:-changed}" = always ] || [ "$(cat "$package_stamp" 2>/dev/null)" != "$package_inputs" ]; then
      t0=$SECONDS
      sudo=""
      [ "$(id -u)" -eq 0 ] || sudo="sudo -E"
      $sudo bash tests/package/run.sh
      mkdir -p "$(dirname "$package_stamp")" && echo "$package_inputs" > "$package_stamp"
      echo "test: package test took $((SECONDS - t0)) s" >&2
    else
      echo "test: package test passed before on these inputs ($package_inputs): not rerun" >&2
    fi
    ;;
esac

