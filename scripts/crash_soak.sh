#!/usr/bin/env bash
# A longer crash soak than CI's: SIGKILL the server CYCLES times (default 200) under
# concurrent PUTs, multipart uploads, overwrites and deletes, verifying after every restart
# (tests/e2e/test_crash.py; CI runs it with its default of 20 cycles).
#   scripts/crash_soak.sh [CYCLES]
# Needs the debug build (cargo build) and the e2e venv (.ci/run or scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cycles=${1:-200}
[ -x target/test-venv/bin/pytest ] || { echo "no target/test-venv: run the tests once first" >&2; exit 2; }
cd tests/e2e
CRASH_CYCLES=$cycles exec ../../target/test-venv/bin/pytest -q -p no:cacheprovider test_crash.py
