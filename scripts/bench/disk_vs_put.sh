#!/usr/bin/env bash
# Large PUTs against the disk's own write+fsync speed, measured in turn (issue 7's "large
# PUT at least 80 % of the disk's write+fsync throughput"). The virtio disk here varies
# from about 300 to 1,500 MB/s from minute to minute, so each PUT is paired with a dd run
# taken just before it.
#
#   PAIRS=8 bash scripts/bench/disk_vs_put.sh
#
# Each pair: `dd bs=16M conv=fsync` of 1 GiB of random data into a file next to the data
# directory, then the large PUT workload (2 x 512 MiB, multipart, 16 MiB parts, 8 in
# flight) against a fresh release server. Prints one line per pair and the medians.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/coffer}
PAIRS=${PAIRS:-8}
WORK=$(mktemp -d /tmp/coffer-disk-vs-put.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
head -c 1073741824 /dev/urandom >"$WORK/src"
export COFFER_ROOT_ACCESS_KEY=BENCHDISKVSPUT000001 COFFER_ROOT_SECRET_KEY=benchdiskvsputsecretbenchdiskvsputsecret
export AWS_ACCESS_KEY_ID=$COFFER_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$COFFER_ROOT_SECRET_KEY
dds=() puts=()
for i in $(seq "$PAIRS"); do
    dd=$(dd if="$WORK/src" of="$WORK/dd" bs=16M conv=fsync 2>&1 | tail -1 |
        python3 -c "import re, sys; l = sys.stdin.read(); b, s = re.search(r'^(\d+) bytes.*, ([0-9.]+) s,', l).groups(); print(round(int(b) / float(s) / 1e6))")
    rm -f "$WORK/dd"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$BIN" serve --data "$WORK/data" --address "127.0.0.1:$PORT" >"$WORK/log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
    put=$("$BIN" bench --endpoint-url "http://127.0.0.1:$PORT" --json --bucket large --prefix r/ \
        --size 512MiB --op multipart --part-size 16MiB --part-concurrency 8 -n 2 -c 1 | tail -1 |
        python3 -c "import json, sys; print(round(json.load(sys.stdin)['mb_per_sec']))")
    kill $PID; wait $PID 2>/dev/null || true
    rm -rf "$WORK/data"
    echo "pair $i: dd $dd MB/s, PUT $put MB/s"
    dds+=("$dd") puts+=("$put")
done
python3 - "${dds[*]}" "${puts[*]}" <<'EOF'
import statistics, sys
dd, put = ([int(x) for x in a.split()] for a in sys.argv[1:3])
d, p = statistics.median(dd), statistics.median(put)
print(f"median dd {d:.0f} MB/s, median PUT {p:.0f} MB/s: PUT is {100 * p / d:.0f} % of the disk")
EOF
