"""The aws cli (v1, from the test virtualenv) against Coffer: high-level s3 and low-level s3api."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import helpers as h

MiB = 1024 * 1024


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "top.txt": b"top level\n",
        "empty.bin": b"",
        "a/one.bin": os.urandom(10_000),
        "a/b/two.bin": os.urandom(70_000),
        "a/b/c/three.txt": b"deep\n" * 100,
        "with space/f i l e.txt": b"spaces\n",
        "unicod\u00e9/\u4e2d.txt": "unicode\n".encode(),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file()}


def test_mb_ls_rb(aws, bucket_name, s3):
    out = aws("s3", "mb", f"s3://{bucket_name}")
    assert f"make_bucket: {bucket_name}" in out.stdout
    s3.head_bucket(Bucket=bucket_name)
    assert bucket_name in aws("s3", "ls").stdout
    aws("s3", "rb", f"s3://{bucket_name}")
    assert bucket_name not in aws("s3", "ls").stdout


def test_cp_small_file_up_and_down(aws, bucket, tmp_path, s3):
    src = tmp_path / "small.bin"
    src.write_bytes(os.urandom(12345))
    aws("s3", "cp", src, f"s3://{bucket}/dir/small.bin")
    head = s3.head_object(Bucket=bucket, Key="dir/small.bin")
    assert head["ContentLength"] == 12345
    assert head["ETag"] == f'"{h.md5_hex(src.read_bytes())}"'
    dst = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/dir/small.bin", dst)
    assert dst.read_bytes() == src.read_bytes()


def test_cp_20mib_file_uses_multipart_and_round_trips(aws, bucket, tmp_path, s3):
    src = tmp_path / "big.bin"
    data = os.urandom(20 * MiB)
    src.write_bytes(data)
    aws("s3", "cp", src, f"s3://{bucket}/big.bin", timeout=180)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 20 * MiB
    # aws cli's default 8 MiB chunks: 8 + 8 + 4 MiB.
    chunk = 8 * MiB
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    assert head["ETag"] == h.multipart_etag(parts)
    dst = tmp_path / "big.back"
    aws("s3", "cp", f"s3://{bucket}/big.bin", dst, timeout=180)
    assert filecmp.cmp(src, dst, shallow=False)


def test_cp_object_to_stdout(aws, bucket, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"printed to stdout\n")
    aws("s3", "cp", src, f"s3://{bucket}/out.txt")
    out = aws("s3", "cp", f"s3://{bucket}/out.txt", "-")
    assert out.stdout == "printed to stdout\n"


def test_sync_up_and_down_nested_tree(aws, bucket, tmp_path, s3):
    up = tmp_path / "up"
    files = make_tree(up)
    res = aws("s3", "sync", up, f"s3://{bucket}/tree")
    assert res.stdout.count("upload:") == len(files)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"tree/{k}" for k in files)
    # Second sync finds nothing to do.
    again = aws("s3", "sync", up, f"s3://{bucket}/tree")
    assert "upload:" not in again.stdout, again.stdout
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/tree", down)
    assert tree_files(down) == files
    again = aws("s3", "sync", f"s3://{bucket}/tree", down)
    assert "download:" not in again.stdout, again.stdout


def test_ls_recursive_lists_every_object_with_sizes(aws, bucket, tmp_path):
    up = tmp_path / "up"
    files = make_tree(up)
    aws("s3", "sync", up, f"s3://{bucket}")
    out = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    listed = {}
    for line in out.splitlines():
        # "2024-01-01 12:00:00      12345 key with spaces"
        date, time_, size, key = line.split(None, 3)
        listed[key] = int(size)
    assert listed == {k: len(v) for k, v in files.items()}
    top = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE a/" in top and "top.txt" in top
    assert "two.bin" not in top


def test_rm_recursive_removes_everything(aws, bucket, tmp_path, s3):
    up = tmp_path / "up"
    files = make_tree(up)
    aws("s3", "sync", up, f"s3://{bucket}")
    aws("s3", "rm", "--recursive", f"s3://{bucket}/a/")
    remaining = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert remaining == sorted(k for k in files if not k.startswith("a/"))
    aws("s3", "rm", "--recursive", f"s3://{bucket}")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_rb_force_deletes_non_empty_bucket(aws, bucket_name, tmp_path, s3):
    aws("s3", "mb", f"s3://{bucket_name}")
    make_tree(tmp_path / "t")
    aws("s3", "sync", tmp_path / "t", f"s3://{bucket_name}")
    plain = aws("s3", "rb", f"s3://{bucket_name}", check=False)
    assert plain.returncode != 0
    assert "BucketNotEmpty" in plain.stderr
    aws("s3", "rb", "--force", f"s3://{bucket_name}")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3api_put_get_head_list(aws, bucket, tmp_path):
    src = tmp_path / "api.bin"
    src.write_bytes(os.urandom(3333))
    put = json.loads(aws("s3api", "put-object", "--bucket", bucket, "--key", "api/obj",
                         "--body", src, "--content-type", "application/x-api",
                         "--metadata", "k1=v1").stdout)
    assert put["ETag"] == f'"{h.md5_hex(src.read_bytes())}"'
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "api/obj").stdout)
    assert head["ContentLength"] == 3333
    assert head["ContentType"] == "application/x-api"
    assert head["Metadata"] == {"k1": "v1"}
    out = tmp_path / "api.out"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "api/obj",
                         out).stdout)
    assert got["ETag"] == put["ETag"]
    assert out.read_bytes() == src.read_bytes()
    listing = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket,
                             "--prefix", "api/").stdout)
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listing["Contents"]] == \
        [("api/obj", 3333, put["ETag"])]


def test_s3api_errors_exit_non_zero(aws, bucket, bucket_name):
    res = aws("s3api", "head-object", "--bucket", bucket, "--key", "missing", check=False)
    assert res.returncode != 0
    assert "404" in res.stderr
    res = aws("s3api", "get-object", "--bucket", bucket, "--key", "missing", "/dev/null",
              check=False)
    assert res.returncode != 0
    assert "NoSuchKey" in res.stderr
    res = aws("s3", "ls", f"s3://{bucket_name}-none", check=False)
    assert res.returncode != 0
    assert "NoSuchBucket" in res.stderr
