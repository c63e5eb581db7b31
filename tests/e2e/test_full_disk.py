"""Full disk (issue 8): the data directory on a small filesystem of its own.

The module mounts a 48 MiB tmpfs and runs one server on it. Writes beyond capacity must
fail with a clear S3 error (507 InsufficientStorage, an XML body with a request id), the
server must stay up, what was acknowledged must stay readable and listed exactly, no
temporary file may be left behind, and writes must succeed again as soon as space is
freed, without a restart. The same holds when the space runs out under the metadata store
(small objects live inline in it): a filler file takes the rest of the filesystem. At the
end the directory survives a restart and `coffer scrub` finds nothing wrong.

Needs root for the mount (CI runs as root); without it the module fails, it is not skipped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import CofferServer, random_credentials
from test_scrub import scrub

MiB = 1024 * 1024
SIZE_MIB = 48


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    mnt = tmp_path_factory.mktemp("small-fs")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"cannot mount a {SIZE_MIB} MiB tmpfs at {mnt} (needs root): {res.stderr}")
    access, secret = random_credentials()
    srv = CofferServer(mnt / "data", tmp_path_factory.mktemp("logs"), access, secret)
    srv.start()
    yield mnt, srv
    srv.stop()
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def error_of(e: ClientError) -> tuple[str, int, str | None]:
    r = e.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["ResponseMetadata"].get(
        "RequestId")


def assert_no_space(e: ClientError) -> None:
    code, status, request_id = error_of(e)
    assert (code, status) == ("InsufficientStorage", 507), (code, status, e.response)
    assert request_id


def tmp_files(srv: CofferServer) -> list[Path]:
    return [p for p in (srv.data_dir / "tmp").rglob("*") if p.is_file()]


def test_data_writes_beyond_capacity_fail_cleanly_and_work_again_when_freed(disk):
    mnt, srv = disk
    s3 = srv.client()
    s3.create_bucket(Bucket="big")
    stored: dict[str, str] = {}
    failure = None
    for i in range(40):  # 40 x 4 MiB is far beyond 48 MiB
        body = os.urandom(4 * MiB)
        try:
            s3.put_object(Bucket="big", Key=f"obj{i:02}", Body=body)
        except ClientError as e:
            failure = e
            break
        stored[f"obj{i:02}"] = hashlib.md5(body).hexdigest()
    assert failure is not None, "the filesystem never filled"
    assert_no_space(failure)
    assert len(stored) >= 5, f"only {len(stored)} objects fitted in {SIZE_MIB} MiB"
    # A multipart part does not fit either.
    up = s3.create_multipart_upload(Bucket="big", Key="mp")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="big", Key="mp", UploadId=up, PartNumber=1, Body=os.urandom(6 * MiB))
    assert_no_space(e.value)
    # Everything acknowledged reads back; nothing else is listed; no temporary file is left.
    assert srv.alive()
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="big").get("Contents", [])}
    assert listed == set(stored)
    for key, md5 in stored.items():
        assert hashlib.md5(s3.get_object(Bucket="big", Key=key)["Body"].read()).hexdigest() == md5
    assert tmp_files(srv) == []
    assert s3.list_parts(Bucket="big", Key="mp", UploadId=up).get("Parts", []) == []
    # Freeing space through S3 makes room at once: the part, then the upload, then a PUT.
    for key in sorted(stored)[:3]:
        s3.delete_object(Bucket="big", Key=key)
        del stored[key]
    part = os.urandom(6 * MiB)
    etag = s3.upload_part(Bucket="big", Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    s3.complete_multipart_upload(Bucket="big", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="big", Key="mp")["Body"].read() == part
    stored["mp"] = hashlib.md5(part).hexdigest()
    # Leave room for the next test.
    for key in [k for k in stored if k != "mp"]:
        s3.delete_object(Bucket="big", Key=key)


def test_metadata_store_out_of_space_fails_cleanly_and_recovers_without_restart(disk):
    mnt, srv = disk
    s3 = srv.client()
    s3.create_bucket(Bucket="meta")
    kept = {f"kept{i}": os.urandom(2000) for i in range(5)}
    for k, v in kept.items():
        s3.put_object(Bucket="meta", Key=k, Body=v)
    # Fill the filesystem with a file Coffer does not know, leaving ~64 KiB.
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        chunk = b"\0" * MiB
        while free_bytes(mnt) > 64 * 1024 + MiB:
            f.write(chunk)
            f.flush()
        rest = free_bytes(mnt) - 64 * 1024
        if rest > 0:
            f.write(b"\0" * rest)
    outcomes = {"ok": 0, "full": 0}
    acknowledged = {}
    for i in range(200):  # small objects are inline in the metadata store
        body = os.urandom(20 * 1024)
        try:
            s3.put_object(Bucket="meta", Key=f"small{i:03}", Body=body)
        except ClientError as e:
            assert_no_space(e)
            outcomes["full"] += 1
            continue
        outcomes["ok"] += 1
        acknowledged[f"small{i:03}"] = body
    assert outcomes["full"] > 0, outcomes
    # Other metadata writes: 507 or success, never a 500.
    for call in (lambda: s3.create_bucket(Bucket="another-bucket"),
                 lambda: s3.put_object_tagging(Bucket="meta", Key="kept0", Tagging={
                     "TagSet": [{"Key": "k", "Value": "v" * 200}]}),
                 lambda: s3.put_bucket_versioning(Bucket="meta", VersioningConfiguration={
                     "Status": "Enabled"})):
        try:
            call()
        except ClientError as e:
            assert_no_space(e)
    # Not one byte left: reads still work, and a delete (the way to free space) is done or
    # refused cleanly.
    fd = os.open(filler, os.O_WRONLY | os.O_APPEND)
    try:
        for size in (4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    assert free_bytes(mnt) == 0
    try:
        s3.delete_object(Bucket="meta", Key="kept4")
        del kept["kept4"]
    except ClientError as e:
        assert_no_space(e)
    assert srv.alive()
    for k, v in {**kept, **acknowledged}.items():
        assert s3.get_object(Bucket="meta", Key=k)["Body"].read() == v, k
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="meta").get("Contents", [])}
    assert listed == set(kept) | set(acknowledged)
    # Space freed outside Coffer: the same server takes writes again.
    filler.unlink()
    for i in range(20):
        body = os.urandom(20 * 1024)
        s3.put_object(Bucket="meta", Key=f"after{i:02}", Body=body)
        assert s3.get_object(Bucket="meta", Key=f"after{i:02}")["Body"].read() == body
    s3.put_object_tagging(Bucket="meta", Key="kept0",
                          Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket="meta", Key="kept0")["TagSet"] == [
        {"Key": "k", "Value": "v"}]
    print(f"\nwith the filesystem full: {outcomes['ok']} small PUTs fitted, "
          f"{outcomes['full']} refused with 507")


def test_after_running_out_of_space_a_restart_and_scrub_find_everything_intact(disk):
    mnt, srv = disk
    s3 = srv.client()
    before = {(o["Key"], o["ETag"], o["Size"])
              for b in ("big", "meta")
              for o in s3.list_objects_v2(Bucket=b).get("Contents", [])}
    assert srv.stop() == 0
    code, report, stderr = scrub(srv.data_dir)
    assert code == 0, (report, stderr)
    srv.start()
    s3 = srv.client()
    after = {(o["Key"], o["ETag"], o["Size"])
             for b in ("big", "meta")
             for o in s3.list_objects_v2(Bucket=b).get("Contents", [])}
    assert after == before
    for key, etag, _ in sorted(after)[:10]:
        bucket = "big" if key == "mp" else "meta"
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if "-" not in etag:
            assert hashlib.md5(data).hexdigest() == etag.strip('"')
