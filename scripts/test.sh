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
