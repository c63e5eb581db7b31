#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time each.
#
#   bash scripts/fuzz.sh [SECONDS]        # default 60 s per target
#   TARGETS="xml policy" bash scripts/fuzz.sh 300
#
# Needs the nightly toolchain (libFuzzer and AddressSanitizer); installs
# cargo-fuzz if missing. Each target first replays the inputs kept in
# fuzz/regressions/TARGET (crashes found earlier, now fixed), then fuzzes
# from fuzz/corpus/TARGET (kept between runs, not committed), with a token
# dictionary from fuzz/dicts when there is one. Prints executions per target
# and exits non-zero if any target found a crash; the input is then in
# fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-60}
targets=${TARGETS:-"keys chunked range xml policy request"}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O

status=0
summary=()
for t in $targets; do
    args=(-max_total_time="$secs")
    [[ -f $root/fuzz/dicts/$t.dict ]] && args+=(-dict="$root/fuzz/dicts/$t.dict")
    mapfile -t kept < <(find "$root/fuzz/regressions/$t" -type f 2>/dev/null | sort)
    if ((${#kept[@]})); then
        echo "== $t: replaying ${#kept[@]} kept input(s)"
        cargo +nightly fuzz run -O "$t" "${kept[@]}" >/dev/null 2>&1 \
            || { echo "!! $t: a kept input fails again"; status=1; }
    fi
    mkdir -p "$root/fuzz/corpus/$t"
    log=$(mktemp)
    echo "== $t: fuzzing for $secs s"
    if cargo +nightly fuzz run -O "$t" "$root/fuzz/corpus/$t" -- "${args[@]}" >"$log" 2>&1; then
        done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1)
        summary+=("$t: ${done_line:-no summary} (corpus $(find "$root/fuzz/corpus/$t" -type f | wc -l))")
    else
        status=1
        summary+=("$t: CRASH, see fuzz/artifacts/$t and $log")
        grep -E 'panicked|ERROR|500 for|no answer' "$log" | head -5 || true
        continue
    fi
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
exit $status
