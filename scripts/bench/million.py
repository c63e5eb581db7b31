#!/usr/bin/env python3
"""A bucket of a million objects (issue 7): one listing page, and start-up.

    python3 scripts/bench/million.py            # N=1000000, release build

Starts `coffer serve` (target/release/coffer) on a fresh data directory, fills one bucket
with N empty objects through `coffer bench` (keys spread over 1000 "directories":
`m/0042/0000012345`), then measures with `coffer bench --op page`, one request at a time:

  flat       1000-key ListObjectsV2 pages starting after a random key
  delimiter  the same with delimiter=/ under prefix m/ (pages of common prefixes: each one
             is a seek past a whole directory)
  inner      pages inside one directory: prefix m/0042/ with delimiter=/

and start-up: the time from exec to the first answered request (HEAD bucket), over RESTARTS
restarts, with the server's RSS after start-up. Prints a markdown table.

Environment: N (1000000), PAGES (500 per kind), RESTARTS (5), COFFER_BIN, DATA_DIR (a
fresh temporary directory; give one to reuse its objects with REUSE=1).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COFFER = Path(os.environ.get("COFFER_BIN", ROOT / "target" / "release" / "coffer"))
N = int(os.environ.get("N", "1000000"))
PAGES = int(os.environ.get("PAGES", "500"))
RESTARTS = int(os.environ.get("RESTARTS", "5"))
AK, SK = "MILLIONBENCH00000001", "millionbenchsecretmillionbenchsecret0001"
BUCKET = "million"


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(data: Path) -> tuple[subprocess.Popen, str, float]:
    """Starts the server; returns it, its endpoint and seconds until it answered."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, COFFER_ROOT_ACCESS_KEY=AK, COFFER_ROOT_SECRET_KEY=SK,
               RUST_LOG="warn")
    t0 = time.monotonic()
    proc = subprocess.Popen([str(COFFER), "serve", "--data", str(data), "--address",
                             f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            # Unsigned: any answer (403) means it is serving.
            urllib.request.urlopen(f"{endpoint}/-/health", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"coffer exited with {proc.returncode}")
            time.sleep(0.001)
    return proc, endpoint, time.monotonic() - t0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench(endpoint: str, *args: str, prefix: str = "m/", fanout: bool = True) -> dict:
    cmd = [str(COFFER), "bench", "--endpoint-url", endpoint, "--access-key", AK, "--secret-key", SK,
           "--bucket", BUCKET, "--prefix", prefix, "--json", *args]
    if fanout:
        cmd += ["--fanout", "1000"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    data = Path(os.environ.get("DATA_DIR") or tempfile.mkdtemp(prefix="coffer-million-"))
    proc, endpoint, _ = start(data)
    try:
        if os.environ.get("REUSE") != "1":
            log(f"writing {N} empty objects into {data}")
            r = bench(endpoint, "--op", "put", "-n", str(N), "--size", "0", "-c", "64")
            log(f"  {r['ops_per_sec']:.0f} PUT/s")
        rows = []
        kinds = {
            "flat": ["--op", "page"],
            "delimiter": ["--op", "page", "--delimiter", "/"],
        }
        for kind, extra in kinds.items():
            r = bench(endpoint, *extra, "-n", str(PAGES), "-c", "1", "--objects", str(N),
                      "--skip-prepare")
            rows.append((kind, r))
        # Inside directory m/0000/ (its keys are m/0000/ then a multiple of 1000).
        r = bench(endpoint, "--op", "page", "--delimiter", "/", "-n", str(PAGES), "-c", "1",
                  "--objects", str(N), "--skip-prepare", prefix="m/0000/", fanout=False)
        rows.append(("inner", r))
        listing_rss = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    starts = []
    rss = []
    for _ in range(RESTARTS):
        p, _, took = start(data)
        starts.append(took * 1000)
        rss.append(rss_mib(p.pid))
        p.terminate()
        p.wait(30)
    size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    print(f"\n{N} objects, data directory {size / 2**20:.0f} MiB, coffer at {COFFER}\n")
    print("| measure | p50 ms | p90 ms | p99 ms | max ms | pages/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, r in rows:
        lat = r["latency_ms"]
        print(f"| 1000-key page, {kind} | {lat['p50']:.2f} | {lat['p90']:.2f} | "
              f"{lat['p99']:.2f} | {lat['max']:.2f} | {r['ops_per_sec']:.0f} |")
    print(f"\nstart-up to first answer over {RESTARTS} restarts: "
          + ", ".join(f"{s:.0f}" for s in starts)
          + f" ms (median {statistics.median(starts):.0f} ms); RSS after start-up "
          f"{statistics.median(rss):.1f} MiB; RSS after the listings {listing_rss:.1f} MiB")


if __name__ == "__main__":
    main()
