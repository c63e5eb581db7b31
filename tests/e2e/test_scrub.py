"""Bit-rot: damaged stored data is never served, and `coffer scrub` finds it.

A private server stores objects of every kind of piece (inline in the metadata
store, blob files, a part of an unfinished multipart upload, old versions,
SSE-C), then bytes of one blob file are flipped on disk. GET must fail rather
than return the damaged bytes, and the server log must name the object;
`coffer scrub` on the stopped server's data directory must report exactly the
damaged object and exit non-zero, and list an orphaned blob file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import coffer_bin

MiB = 1024 * 1024


def scrub(data_dir: Path) -> tuple[int, dict | None, str]:
    res = subprocess.run([str(coffer_bin()), "scrub", "--data", str(data_dir), "--json"],
                         capture_output=True, text=True, timeout=120)
    report = json.loads(res.stdout) if res.stdout.strip() else None
    return res.returncode, report, res.stderr


def blob_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "blobs").rglob("*") if p.is_file())


def test_scrub_finds_flipped_bytes_and_get_never_serves_them(server_factory):
    srv = server_factory(extra_args=["--allow-sse-c-over-http"])
    s3 = srv.client()
    s3.create_bucket(Bucket="rot")
    s3.put_bucket_versioning(Bucket="rot", VersioningConfiguration={"Status": "Enabled"})
    big = os.urandom(3 * MiB + 123)
    s3.put_object(Bucket="rot", Key="small", Body=b"tiny and inline")
    s3.put_object(Bucket="rot", Key="big", Body=big)
    s3.put_object(Bucket="rot", Key="versioned", Body=os.urandom(100 * 1024))
    s3.put_object(Bucket="rot", Key="versioned", Body=os.urandom(100 * 1024))
    key = os.urandom(32)
    s3.put_object(Bucket="rot", Key="sse-c", Body=os.urandom(200 * 1024),
                  SSECustomerAlgorithm="AES256", SSECustomerKey=base64.b64encode(key).decode(),
                  SSECustomerKeyMD5=base64.b64encode(hashlib.md5(key).digest()).decode())
    up = s3.create_multipart_upload(Bucket="rot", Key="unfinished")
    s3.upload_part(Bucket="rot", Key="unfinished", UploadId=up["UploadId"], PartNumber=1,
                   Body=os.urandom(5 * MiB))

    # The metadata store is held by the running server: scrub refuses.
    code, _, err = scrub(srv.data_dir)
    assert code != 0 and "server running" in err

    srv.stop()
    code, report, err = scrub(srv.data_dir)
    assert code == 0, err
    # small, big, two versions, sse-c, and the unfinished upload's part.
    assert report["records"] == 6 and report["damaged"] == [] and report["orphans"] == []
    assert report["bytes"] >= len(big) + 5 * MiB

    # Flip one byte in the middle of the blob holding "big" (the only file of its size).
    files = blob_files(srv.data_dir)
    target = max(files, key=lambda p: p.stat().st_size if p.stat().st_size < 4 * MiB else 0)
    assert target.stat().st_size > 3 * MiB
    raw = bytearray(target.read_bytes())
    raw[2 * MiB] ^= 0xFF
    target.write_bytes(bytes(raw))
    # And leave an orphan, as a crash between a blob write and its commit would.
    orphan = srv.data_dir / "blobs" / "00" / ("0" * 32)
    orphan.parent.mkdir(exist_ok=True)
    shutil.copyfile(files[0], orphan)

    code, report, err = scrub(srv.data_dir)
    assert code != 0 and "damaged" in err
    assert len(report["damaged"]) == 1, report["damaged"]
    damage = report["damaged"][0]
    assert damage["object"].startswith("rot/big version ")
    assert damage["piece"] == target.name and "checksum" in damage["problem"]
    assert report["orphans"] == ["0" * 32]
    orphan.unlink()

    # The server never serves the damaged bytes: the body ends early.
    srv.start()
    s3 = srv.client()
    with pytest.raises(Exception) as e:
        body = s3.get_object(Bucket="rot", Key="big")["Body"].read()
        # A short body would already have failed inside botocore; a full
        # one must not equal anything but the original.
        assert body == big
        raise AssertionError("GET returned the whole object despite the damage")
    assert not isinstance(e.value, AssertionError), e.value
    # Bytes before the damaged block are still served, and intact objects are fine.
    head = s3.get_object(Bucket="rot", Key="big", Range="bytes=0-1023")["Body"].read()
    assert head == big[:1024]
    assert s3.get_object(Bucket="rot", Key="small")["Body"].read() == b"tiny and inline"
    srv.stop()
    log = srv.stderr_path.read_text(errors="replace")
    assert "rot" in log and "big" in log and "fails its checksum" in log


def test_scrub_draws_a_progress_bar_on_a_terminal(server_factory):
    """On a terminal, scrub shows a progress bar on stderr (and none when piped, as the
    JSON runs above show by parsing stdout alone)."""
    import pty
    import select

    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="bar")
    for i in range(300):
        s3.put_object(Bucket="bar", Key=f"k{i:03}", Body=os.urandom(40 * 1024))
    assert srv.stop() == 0
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the pty
        os.execv(str(coffer_bin()), [str(coffer_bin()), "scrub", "--data", str(srv.data_dir)])
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    text = out.decode(errors="replace")
    assert "checking " in text and "objects and parts" in text, text[-2000:]
    assert "/300 objects and parts" in text, text[-2000:]
