#!/usr/bin/env bash
# Large GETs against one Coffer binary, with the server's CPU time per run: for comparing
# two builds of the read path (alternate them: BIN=a RUNS=3 ...; BIN=b RUNS=3 ...), since
# CPU per GiB moves far less from run to run than MB/s does on 2 shared cores.
#
#   BIN=target/release/coffer RUNS=3 SIZE=512MiB bash scripts/bench/large_get.sh
#
# Starts the server on a fresh data directory and a free loopback port, PUTs 2 objects of
# SIZE (multipart, 16 MiB parts), then GETs both at once RUNS times. Prints one line a run:
# MB/s and the server's CPU (utime+stime) in clock ticks (1/100 s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/coffer}
RUNS=${RUNS:-3}
SIZE=${SIZE:-512MiB}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$(mktemp -d /tmp/coffer-large-get.XXXXXX)
export COFFER_ROOT_ACCESS_KEY=BENCHLARGEGET0000001 COFFER_ROOT_SECRET_KEY=benchlargegetsecretbenchlargegetsecret01
export AWS_ACCESS_KEY_ID=$COFFER_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$COFFER_ROOT_SECRET_KEY
"$BIN" serve --data "$DATA/data" --address "127.0.0.1:$PORT" >"$DATA/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
done
URL=http://127.0.0.1:$PORT
"$BIN" bench --endpoint-url "$URL" --json --bucket large --prefix r/ --size "$SIZE" \
    --op multipart --part-size 16MiB --part-concurrency 8 -n 2 -c 1 >/dev/null
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
for _ in $(seq "$RUNS"); do
    c0=$(ticks)
    mb=$("$BIN" bench --endpoint-url "$URL" --json --bucket large --prefix r/ --size "$SIZE" \
        --op get -n 2 -c 2 --objects 2 --skip-prepare | tail -1 |
        python3 -c "import json, sys; print(round(json.load(sys.stdin)['mb_per_sec']))")
    echo "GET $mb MB/s server_cpu_ticks $(($(ticks) - c0))"
done
