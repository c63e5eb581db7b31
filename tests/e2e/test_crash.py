"""Crash consistency: SIGKILL the server under concurrent writes, overwrites and deletes,
restart, check what survived; CRASH_CYCLES times (20 by default; scripts/crash_soak.sh runs
many more).

The rule checked is linearizability of each key as a register written by PUTs and
DELETEs: after a crash, a key is in the state left by some write W (a body, or absent for
a delete) such that no other write to that key both started after W was acknowledged and
was itself acknowledged (that later write would have had to replace W). A body that
matches no write at all is corruption. Listings must agree with GETs, and at the end
`coffer scrub` must find every stored piece intact and no orphaned blob file (the
server collects those at start).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from conftest import coffer_bin

MiB = 1024 * 1024
THREADS = 16
CYCLES = int(os.environ.get("CRASH_CYCLES", "20"))
SMALL_KEYS = [f"small/{i:02d}" for i in range(40)]
MP_KEYS = ["mp/0", "mp/1"]
BUCKET = "crash-test"


@dataclass
class Write:
    key: str
    md5: str | None  # None: a delete
    start: float
    ack: float | None = None


class History:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes: dict[str, list[Write]] = {}

    def begin(self, key: str, md5: str | None) -> Write:
        w = Write(key, md5, time.monotonic())
        with self.lock:
            self.writes.setdefault(key, []).append(w)
        return w

    def acked(self, w: Write) -> None:
        w.ack = time.monotonic()

    def baseline(self, key: str, md5: str | None) -> None:
        """After a verified restart the observed state is the only possible past."""
        with self.lock:
            self.writes[key] = [Write(key, md5, float("-inf"), float("-inf"))]

    def allowed(self, key: str) -> set[str | None]:
        ws = self.writes.get(key, [])
        ok = set()
        for w in ws:
            superseded = w.ack is not None and any(
                o.ack is not None and o.start > w.ack for o in ws)
            if not superseded:
                ok.add(w.md5)
        return ok


def _client(server):
    return server.client(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10,
                         max_pool_connections=THREADS * 2)


def _worker(server, seed: int, stop: threading.Event, hist: History, errors: list) -> None:
    rnd = random.Random(seed)
    s3 = _client(server)
    while not stop.is_set():
        key = None
        try:
            if seed < 2 and rnd.random() < 0.5:
                key = MP_KEYS[seed]
                parts = [rnd.randbytes(5 * MiB), rnd.randbytes(rnd.randint(1, 64) * 1024)]
                md5 = hashlib.md5(b"".join(parts)).hexdigest()
                uid = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
                etags = [s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n,
                                        Body=p)["ETag"] for n, p in enumerate(parts, 1)]
                w = hist.begin(key, md5)
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                               for n, e in enumerate(etags, 1)]})
                hist.acked(w)
            elif rnd.random() < 0.15:
                key = rnd.choice(SMALL_KEYS)
                w = hist.begin(key, None)
                s3.delete_object(Bucket=BUCKET, Key=key)
                hist.acked(w)
            else:
                key = rnd.choice(SMALL_KEYS)
                body = rnd.randbytes(rnd.randint(1, 64) * 1024)
                w = hist.begin(key, hashlib.md5(body).hexdigest())
                resp = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                if resp["ETag"] != f'"{w.md5}"':
                    errors.append(f"{key}: PUT answered ETag {resp['ETag']} for md5 {w.md5}")
                hist.acked(w)
        except Exception as e:  # connection errors once the server is killed
            if not stop.is_set() and server.alive():
                errors.append(f"{key}: {type(e).__name__}: {e}")
            return


def _verify(server, hist: History) -> None:
    s3 = server.client()
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            listed[o["Key"]] = (o["ETag"], o["Size"])
    problems = []
    for key in SMALL_KEYS + MP_KEYS:
        try:
            got = s3.get_object(Bucket=BUCKET, Key=key)
            body = got["Body"].read()
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchKey":
                raise
            body = None
        if body is None:
            if None not in hist.allowed(key):
                problems.append(f"{key}: acknowledged write lost (NoSuchKey)")
            if key in listed:
                problems.append(f"{key}: listed but GET says NoSuchKey")
            hist.baseline(key, None)
            continue
        md5 = hashlib.md5(body).hexdigest()
        allowed = hist.allowed(key)
        if md5 not in allowed:
            problems.append(f"{key}: body md5 {md5} ({len(body)} bytes) is not one of the "
                            f"{len(allowed)} allowed writes")
        if len(body) != got["ContentLength"]:
            problems.append(f"{key}: Content-Length {got['ContentLength']} != {len(body)} read")
        if key not in listed:
            problems.append(f"{key}: readable but missing from listing")
        else:
            l_etag, l_size = listed[key]
            if l_size != len(body) or l_etag != got["ETag"]:
                problems.append(f"{key}: listing says {listed[key]}, GET says "
                                f"({got['ETag']}, {len(body)})")
            if key in SMALL_KEYS and l_etag != f'"{md5}"':
                problems.append(f"{key}: ETag {l_etag} is not the body's md5 {md5}")
        hist.baseline(key, md5)
    extra = set(listed) - set(SMALL_KEYS) - set(MP_KEYS)
    if extra:
        problems.append(f"listing has keys nobody wrote: {sorted(extra)[:5]}")
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(max(600, CYCLES * 10))
def test_acknowledged_writes_survive_sigkill(server_factory, record_property):
    started = time.monotonic()
    total_acked = 0
    srv = server_factory()
    srv.client().create_bucket(Bucket=BUCKET)
    hist = History()
    for key in SMALL_KEYS + MP_KEYS:
        hist.baseline(key, None)
    rnd = random.Random()
    for cycle in range(CYCLES):
        stop = threading.Event()
        errors: list[str] = []
        threads = [threading.Thread(target=_worker, args=(srv, i, stop, hist, errors),
                                    daemon=True) for i in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.3, 1.2))
        stop.set()
        srv.kill()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads), "a client thread hung after the kill"
        assert not errors, f"cycle {cycle}: errors while the server was up: {errors[:5]}"
        acked = sum(1 for ws in hist.writes.values() for w in ws if w.ack not in (None, float("-inf")))
        srv.start()
        _verify(srv, hist)
        assert acked > 0, f"cycle {cycle}: no write was acknowledged before the kill"
        total_acked += acked
    # The server still works normally after the crashes.
    s3 = srv.client()
    s3.put_object(Bucket=BUCKET, Key="after", Body=b"alive")
    assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"alive"
    # Nothing torn on disk, and the blobs the crashes orphaned were collected.
    time.sleep(0.5)
    assert srv.stop() == 0
    res = subprocess.run([str(coffer_bin()), "scrub", "--data", str(srv.data_dir), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["damaged"] == [] and report["orphans"] == [], report
    figures = {"cycles": CYCLES, "acknowledged_writes_verified": total_acked,
               "scrubbed_records": report["records"], "seconds": round(time.monotonic() - started)}
    for k, v in figures.items():
        record_property(k, v)
    print(f"crash figures: {figures}")
