#!/usr/bin/env bash
# The test suite: Rust unit and integration tests, then the oracle / conformance / browser tests in tests/ (pytest).
# Installs missing prerequisites first (idempotent; see .ci/install).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash .ci/install
export HIPS_PYTHON="$PWD/.venv/bin/python"
export HIPS_SHARED_DATA="${HIPS_SHARED_DATA:-$PWD/../shared/data}"
echo "== cargo build (workspace binaries)"
cargo build --workspace --bins --quiet
echo "== cargo test"
cargo test --workspace --quiet --no-fail-fast
echo "== pytest tests/"
.venv/bin/pytest -q tests/
