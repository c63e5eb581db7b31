#!/usr/bin/env bash
# 64 uploads at once (issue 7): server memory while N PUTs of SIZE stream in together.
#
#   SIZE=512MiB N=64 bash scripts/bench/concurrent_uploads.sh
#
# Starts target/release/coffer on a fresh directory (DATA, default /tmp/c64-data, removed
# afterwards; it needs N x SIZE of free disk), runs `coffer bench --op put -c N -n N`,
# samples the server's RSS every 0.5 s and prints the bench result, the peak (VmHWM) and
# the largest sample.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=${SIZE:-512MiB}
N=${N:-64}
DATA=${DATA:-/tmp/c64-data}
PORT=${PORT:-9557}
export COFFER_ROOT_ACCESS_KEY=CONCURRENTUPLOADS001 COFFER_ROOT_SECRET_KEY=concurrentuploadssecretconcurrentuploads01
rm -rf "$DATA"
target/release/coffer serve --data "$DATA" --address "127.0.0.1:$PORT" > "$DATA.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
sleep 1
samples=$(mktemp)
( while kill -0 $PID 2>/dev/null; do awk '/VmRSS/{print $2}' /proc/$PID/status >> "$samples"; sleep 0.5; done ) &
target/release/coffer bench --endpoint-url "http://127.0.0.1:$PORT" \
    --access-key "$COFFER_ROOT_ACCESS_KEY" --secret-key "$COFFER_ROOT_SECRET_KEY" \
    --op put --size "$SIZE" -c "$N" -n "$N" --bucket c64 | tail -3
echo "server peak: $(grep VmHWM /proc/$PID/status)"
echo "largest RSS sample: $(sort -n "$samples" | tail -1) kB over $(wc -l < "$samples") samples"
rm -f "$samples"
