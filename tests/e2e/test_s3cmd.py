"""s3cmd 2.4.0 against Coffer (SigV4 by default, SigV2 where named)."""

from __future__ import annotations

import filecmp
import os
import re
from pathlib import Path

import pytest

import helpers as h

MiB = 1024 * 1024


def test_mb_put_get_ls_del_rb(s3cmd, bucket_name, tmp_path, s3):
    out = s3cmd("mb", f"s3://{bucket_name}").stdout
    assert f"Bucket 's3://{bucket_name}/' created" in out
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from s3cmd\n" * 100)
    s3cmd("put", src, f"s3://{bucket_name}/dir/hello.txt")
    head = s3.head_object(Bucket=bucket_name, Key="dir/hello.txt")
    assert head["ETag"] == f'"{h.md5_hex(src.read_bytes())}"'
    dst = tmp_path / "hello.back"
    s3cmd("get", f"s3://{bucket_name}/dir/hello.txt", dst)
    assert dst.read_bytes() == src.read_bytes()

    top = s3cmd("ls", f"s3://{bucket_name}").stdout
    assert re.search(rf"DIR\s+s3://{bucket_name}/dir/", top), top
    inner = s3cmd("ls", f"s3://{bucket_name}/dir/").stdout
    assert re.search(rf"\s{src.stat().st_size}\s+s3://{bucket_name}/dir/hello.txt", inner), inner
    assert f"s3://{bucket_name}" in s3cmd("ls").stdout

    s3cmd("del", f"s3://{bucket_name}/dir/hello.txt")
    assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
    s3cmd("rb", f"s3://{bucket_name}")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_la_lists_objects_of_all_buckets(s3cmd, bucket, s3):
    s3.put_object(Bucket=bucket, Key="la/one", Body=b"1")
    out = s3cmd("la").stdout
    assert f"s3://{bucket}/la/one" in out or f"s3://{bucket}/la/" in out, out


def test_info_reports_size_md5_and_mime(s3cmd, bucket, tmp_path):
    src = tmp_path / "page.html"
    src.write_bytes(b"<html>hi</html>")
    s3cmd("put", "--mime-type=text/html", src, f"s3://{bucket}/page.html")
    out = s3cmd("info", f"s3://{bucket}/page.html").stdout
    assert re.search(r"File size:\s+15\b", out), out
    assert h.md5_hex(src.read_bytes()) in out
    assert re.search(r"MIME type:\s+text/html", out), out
    binfo = s3cmd("info", f"s3://{bucket}").stdout
    assert f"s3://{bucket}/" in binfo


def test_du_sums_object_sizes(s3cmd, bucket, s3):
    for i, size in enumerate((100, 200, 700)):
        s3.put_object(Bucket=bucket, Key=f"du/{i}", Body=b"x" * size)
    out = s3cmd("du", f"s3://{bucket}").stdout
    m = re.search(r"^\s*(\d+)\s+(\d+) objects", out, re.M)
    assert m, out
    assert (int(m.group(1)), int(m.group(2))) == (1000, 3)


def test_sync_skip_existing_uploads_nothing_the_second_time(s3cmd, bucket, tmp_path, s3):
    root = tmp_path / "tree"
    files = {"a.txt": b"a" * 10, "sub/b.bin": os.urandom(5000), "sub/deeper/c.txt": b"ccc",
             "sp ace/d.txt": b"d"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    first = s3cmd("sync", "-r", "--skip-existing", f"{root}/", f"s3://{bucket}/backup/")
    assert first.stdout.count("upload:") == len(files), first.stdout
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"backup/{k}" for k in files)
    second = s3cmd("sync", "-r", "--skip-existing", f"{root}/", f"s3://{bucket}/backup/")
    assert "upload:" not in second.stdout, second.stdout
    # A plain sync (md5 comparison against listed ETags) also uploads nothing.
    third = s3cmd("sync", f"{root}/", f"s3://{bucket}/backup/")
    assert "upload:" not in third.stdout, third.stdout
    # And a changed file is uploaded again.
    (root / "a.txt").write_bytes(b"changed!!!")
    fourth = s3cmd("sync", f"{root}/", f"s3://{bucket}/backup/")
    assert fourth.stdout.count("upload:") == 1, fourth.stdout
    down = tmp_path / "down"
    s3cmd("sync", f"s3://{bucket}/backup/", f"{down}/")
    files["a.txt"] = b"changed!!!"
    got = {p.relative_to(down).as_posix(): p.read_bytes() for p in down.rglob("*") if p.is_file()}
    assert got == files


def test_multipart_put_40mib_and_get_back(s3cmd, bucket, tmp_path, s3):
    src = tmp_path / "big.bin"
    data = os.urandom(40 * MiB)
    src.write_bytes(data)
    s3cmd("put", src, f"s3://{bucket}/big.bin", timeout=240)
    chunk = 15 * MiB
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 40 * MiB
    assert head["ETag"] == h.multipart_etag([data[i:i + chunk] for i in range(0, len(data), chunk)])
    dst = tmp_path / "big.back"
    s3cmd("get", f"s3://{bucket}/big.bin", dst, timeout=240)
    assert filecmp.cmp(src, dst, shallow=False)


def test_cp_and_mv(s3cmd, bucket, s3):
    s3.put_object(Bucket=bucket, Key="orig", Body=b"original", Metadata={"a": "b"})
    s3cmd("cp", f"s3://{bucket}/orig", f"s3://{bucket}/copy")
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"original"
    s3cmd("mv", f"s3://{bucket}/copy", f"s3://{bucket}/moved")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["moved", "orig"]
    assert s3.get_object(Bucket=bucket, Key="moved")["Body"].read() == b"original"


@pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])
def test_put_get_ls_with_signature_version(s3cmd, bucket, tmp_path, v2):
    src = tmp_path / "sig.bin"
    src.write_bytes(os.urandom(20_000))
    s3cmd("put", src, f"s3://{bucket}/sig/file name.bin", v2=v2)
    dst = tmp_path / "sig.back"
    s3cmd("get", f"s3://{bucket}/sig/file name.bin", dst, v2=v2)
    assert dst.read_bytes() == src.read_bytes()
    out = s3cmd("ls", f"s3://{bucket}/sig/", v2=v2).stdout
    assert f"s3://{bucket}/sig/file name.bin" in out, out
    s3cmd("del", f"s3://{bucket}/sig/file name.bin", v2=v2)


def test_missing_bucket_exits_non_zero(s3cmd, bucket_name, tmp_path):
    res = s3cmd("ls", f"s3://{bucket_name}", check=False)
    assert res.returncode != 0
    assert "NoSuchBucket" in res.stderr or "does not exist" in res.stderr, res.stderr
    src = tmp_path / "f"
    src.write_bytes(b"x")
    res = s3cmd("put", src, f"s3://{bucket_name}/f", check=False)
    assert res.returncode != 0
    res = s3cmd("get", f"s3://{bucket_name}/f", tmp_path / "g", check=False)
    assert res.returncode != 0


def test_signurl_sigv2_presigned_get(s3cmd, bucket, s3):
    import time
    import urllib.request
    s3.put_object(Bucket=bucket, Key="signed", Body=b"s3cmd signurl")
    url = s3cmd("signurl", f"s3://{bucket}/signed", f"+300", v2=True).stdout.strip()
    assert url.startswith("http"), url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"s3cmd signurl"
