#!/usr/bin/env bash
# The one command that runs every Coffer test: Rust unit tests, then the
# end-to-end suite (real binary driven by boto3, aws cli and s3cmd).
# Needs only Rust and Python 3; everything else goes into target/test-venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

PYTHON=${PYTHON:-python3}
VENV=$ROOT/target/test-venv
REQS=$ROOT/tests/e2e/requirements.txt
STAMP=$VENV/.requirements.sha256
want=$( { sha256sum < "$REQS"; "$PYTHON" --version; } 2>&1 | sha256sum | cut -d" " -f1)

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] \
        || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "==> creating test virtualenv at $VENV"
    rm -rf "$VENV"
    mkdir -p "$ROOT/target"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want" > "$STAMP"
fi

echo "==> cargo build --bin coffer"
cargo build --bin coffer

echo "==> cargo test --workspace"
cargo test --workspace

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export COFFER_BIN=${COFFER_BIN:-$TARGET_DIR/debug/coffer}
export PATH="$VENV/bin:$PATH"
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN || true

echo "==> pytest tests/e2e"
exec "$VENV/bin/python" -m pytest tests/e2e -q -p no:cacheprovider "$@"
