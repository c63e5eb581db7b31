"""s3cmd 2.4.0 against Coffer (SigV4 by default, SigV2 where named).

Every s3cmd command the project supports is run against the real server, and
each test checks what the command did on the server (with boto3, anonymous
HTTP requests or s3cmd's own output), not just s3cmd's exit code. s3cmd's
behaviour against AWS is the reference: where it fails here because the
server answers differently from S3, the test is a strict xfail naming the bug.

s3cmd's exit codes (S3/ExitCodes.py): 12 for a 404 answer, 13 for 409, 77 for
403, 64 for a usage error.

Website hosting (ws-create / ws-info / ws-delete and the website endpoint) runs
on a private server started with `--website-domain s3-website-us-east-1.coffer.test`;
s3cmd's `website_endpoint` is set to
`http://%(bucket)s.s3-website-%(location)s.coffer.test:PORT/`, the AWS layout
(BUCKET.s3-website-REGION.DOMAIN) on the test server's port. The name does not
resolve, so the tests connect to 127.0.0.1:PORT and send the Host of the URL
that `s3cmd ws-info` printed.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

import helpers as h
from conftest import (REGION, _tool, _tool_env, coffer_bin, empty_and_delete_bucket,
                      write_s3cmd_config)

MiB = 1024 * 1024
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
SIGS = pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])

# s3cmd exit codes (S3/ExitCodes.py)
EX_NOTFOUND = 12
EX_CONFLICT = 13
EX_USAGE = 64
EX_ACCESSDENIED = 77


# ---------------------------------------------------------------- helpers
def s3cmd_runner(cfg: Path, env: dict[str, str]):
    """Run s3cmd with config file `cfg` and environment `env`:
    run(*args, check=True, input=None) -> CompletedProcess with decoded stdout/stderr
    (the raw stdout stays in `.stdout_bytes`)."""
    exe = _tool("s3cmd")

    def run(*args, check: bool = True, timeout: float = 120, cwd=None, input: bytes | None = None):
        cmd = [exe, "-c", str(cfg), *map(str, args)]
        res = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, cwd=cwd,
                             input=input)
        res.stdout_bytes = res.stdout
        res.stdout = res.stdout.decode("utf-8", "replace")
        res.stderr = res.stderr.decode("utf-8", "replace")
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    return run


def make_s3cmd(server, tmp_path: Path, name: str, *, v2: bool = False,
               access_key: str | None = None, secret_key: str | None = None,
               extra: dict[str, str] | None = None, env_extra: dict[str, str] | None = None):
    """An s3cmd runner like the `s3cmd` fixture, for any server, with config overrides
    (`extra`) and extra environment variables (`env_extra`)."""
    cfg = write_s3cmd_config(tmp_path / f"s3cfg-{name}", server, v2)
    settings = dict(extra or {})
    if access_key is not None:
        settings["access_key"] = access_key
    if secret_key is not None:
        settings["secret_key"] = secret_key
    lines = [ln for ln in cfg.read_text().splitlines()
             if ln.split(" = ", 1)[0] not in settings]
    lines += [f"{k} = {v}" for k, v in settings.items()]
    cfg.write_text("\n".join(lines) + "\n")
    env = _tool_env(tmp_path, server)
    env.update(env_extra or {})
    return s3cmd_runner(cfg, env)


def url_get(url: str) -> tuple[int, bytes]:
    """An unsigned GET: (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def anon_get(server, bucket: str, key: str | None = None) -> tuple[int, bytes]:
    """An anonymous GET of a bucket or object, path-style."""
    return url_get(server.endpoint + h.object_path(bucket, key))


def client_error(call, **kw) -> tuple[str, int]:
    with pytest.raises(ClientError) as ei:
        call(**kw)
    return h.err(ei)


def keys_of(s3, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in
                  s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def s3cmd_attrs(head: dict) -> dict[str, str]:
    """The x-amz-meta-s3cmd-attrs metadata s3cmd stores: "k:v/k:v/..." as a dict."""
    raw = head["Metadata"].get("s3cmd-attrs", "")
    return dict(item.split(":", 1) for item in raw.split("/") if ":" in item)


def admin(server, *args):
    env = _tool_env(server.data_dir.parent, server)
    res = subprocess.run([str(coffer_bin()), "admin", "--endpoint-url", server.endpoint, *args],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"coffer admin {args}: {res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def other_account(server):
    """A second account: (canonical id, boto3 client, (access key, secret key))."""
    name = f"s3cmd-alt-{uuid.uuid4().hex[:8]}"
    created = json.loads(admin(server, "account", "create", name))
    keys = (created["AccessKeyId"], created["SecretAccessKey"])
    yield created["CanonicalUserId"], server.client(*keys), keys
    subprocess.run([str(coffer_bin()), "admin", "--endpoint-url", server.endpoint,
                    "account", "delete", created["AccountId"]],
                   env=_tool_env(server.data_dir.parent, server), capture_output=True, timeout=60)


# ---------------------------------------------------------------- buckets: mb, rb, ls, la, du
@SIGS
def test_mb_put_get_ls_del_rb(s3cmd, bucket_name, tmp_path, s3, cleanup_buckets, v2):
    cleanup_buckets.append(bucket_name)
    out = s3cmd("mb", f"s3://{bucket_name}", v2=v2).stdout
    assert f"Bucket 's3://{bucket_name}/' created" in out
    s3.head_bucket(Bucket=bucket_name)
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from s3cmd\n" * 100)
    s3cmd("put", src, f"s3://{bucket_name}/dir/hello.txt", v2=v2)
    head = s3.head_object(Bucket=bucket_name, Key="dir/hello.txt")
    assert head["ETag"] == f'"{h.md5_hex(src.read_bytes())}"'
    dst = tmp_path / "hello.back"
    res = s3cmd("get", f"s3://{bucket_name}/dir/hello.txt", dst, v2=v2)
    assert dst.read_bytes() == src.read_bytes()
    assert "WARNING" not in res.stderr, res.stderr  # e.g. "MD5 signatures do not match"

    top = s3cmd("ls", f"s3://{bucket_name}", v2=v2).stdout
    assert re.search(rf"DIR\s+s3://{bucket_name}/dir/", top), top
    inner = s3cmd("ls", f"s3://{bucket_name}/dir/", v2=v2).stdout
    assert re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d\s+{src.stat().st_size}\s+"
                     rf"s3://{bucket_name}/dir/hello.txt$", inner, re.M), inner
    assert f"s3://{bucket_name}" in s3cmd("ls", v2=v2).stdout
    rec = s3cmd("ls", "--recursive", f"s3://{bucket_name}", v2=v2).stdout
    assert f"s3://{bucket_name}/dir/hello.txt" in rec and "DIR" not in rec, rec

    s3cmd("del", f"s3://{bucket_name}/dir/hello.txt", v2=v2)
    assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
    out = s3cmd("rb", f"s3://{bucket_name}", v2=v2).stdout
    assert f"Bucket 's3://{bucket_name}/' removed" in out
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_mb_of_an_existing_bucket(s3cmd, bucket, s3, other_account, cleanup_buckets):
    # us-east-1 keeps S3's legacy rule: re-creating a bucket you own succeeds, keeps
    # its objects and resets its ACL.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    out = s3cmd("mb", f"s3://{bucket}").stdout
    assert f"Bucket 's3://{bucket}/' created" in out, out
    assert keys_of(s3, bucket) == ["kept"]
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == \
        ["FULL_CONTROL"]
    # Another account's bucket name is taken: 409 BucketAlreadyExists.
    _, other, _ = other_account
    theirs = f"{bucket[:40]}-theirs"
    other.create_bucket(Bucket=theirs)
    try:
        res = s3cmd("mb", f"s3://{theirs}", check=False)
        assert res.returncode == EX_CONFLICT, res
        assert "BucketAlreadyExists" in res.stderr or "already exists" in res.stderr, res.stderr
    finally:
        empty_and_delete_bucket(other, theirs)


@SIGS
def test_rb_refuses_a_non_empty_bucket_and_recursive_empties_it(s3cmd, bucket, s3, v2):
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=b"x" * i)
    res = s3cmd("rb", f"s3://{bucket}", check=False, v2=v2)
    assert res.returncode == EX_CONFLICT, res
    assert "BucketNotEmpty" in res.stderr, res.stderr
    assert len(keys_of(s3, bucket)) == 5
    out = s3cmd("rb", "--recursive", f"s3://{bucket}", v2=v2).stdout
    assert f"Bucket 's3://{bucket}/' removed" in out, out
    assert client_error(s3.head_bucket, Bucket=bucket)[1] == 404


def test_la_lists_objects_of_all_buckets(s3cmd, bucket, s3):
    s3.put_object(Bucket=bucket, Key="la/one", Body=b"1")
    out = s3cmd("la").stdout
    assert f"s3://{bucket}/la/" in out, out
    out = s3cmd("la", "--recursive").stdout
    assert re.search(rf"\s1\s+s3://{bucket}/la/one$", out, re.M), out


@SIGS
def test_du_sums_object_sizes(s3cmd, bucket, s3, v2):
    for i, size in enumerate((100, 200, 700)):
        s3.put_object(Bucket=bucket, Key=f"du/{i}", Body=b"x" * size)
    s3.put_object(Bucket=bucket, Key="other", Body=b"x" * 5)
    out = s3cmd("du", f"s3://{bucket}", v2=v2).stdout
    m = re.search(r"^\s*(\d+)\s+(\d+) objects", out, re.M)
    assert m, out
    assert (int(m.group(1)), int(m.group(2))) == (1005, 4)
    out = s3cmd("du", f"s3://{bucket}/du/", v2=v2).stdout
    m = re.search(r"^\s*(\d+)\s+(\d+) objects", out, re.M)
    assert m and (int(m.group(1)), int(m.group(2))) == (1000, 3), out


# ---------------------------------------------------------------- put
def test_multipart_put_with_default_chunks_and_get_back(s3cmd, bucket, tmp_path, s3):
    # s3cmd's default multipart chunk is 15 MiB: three parts, the last of 1 MiB.
    src = tmp_path / "big.bin"
    data = os.urandom(31 * MiB)
    src.write_bytes(data)
    s3cmd("put", src, f"s3://{bucket}/big.bin", timeout=240)
    chunk = 15 * MiB
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 31 * MiB
    assert head["ETag"] == h.multipart_etag([data[i:i + chunk] for i in range(0, len(data), chunk)])
    dst = tmp_path / "big.back"
    s3cmd("get", f"s3://{bucket}/big.bin", dst, timeout=240)
    assert filecmp.cmp(src, dst, shallow=False)


@SIGS
def test_multipart_put_with_5mib_chunks(s3cmd, bucket, tmp_path, s3, v2):
    (tmp_path / "mp").mkdir()
    src = tmp_path / "mp" / "file.bin"
    data = os.urandom(16 * MiB + 12345)
    src.write_bytes(data)
    s3cmd("put", "--multipart-chunk-size-mb=5", "--mime-type=application/x-test",
          "--add-header=x-amz-meta-origin:multipart", src, f"s3://{bucket}/mp/file.bin", v2=v2)
    chunk = 5 * MiB
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    assert len(parts) == 4
    head = s3.head_object(Bucket=bucket, Key="mp/file.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == h.multipart_etag(parts)
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"]["origin"] == "multipart"
    # s3cmd records the whole file's MD5 since the ETag of a multipart upload is not one.
    assert s3cmd_attrs(head)["md5"] == h.md5_hex(data)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    dst = tmp_path / "mp.back"
    res = s3cmd("get", f"s3://{bucket}/mp/file.bin", dst, v2=v2)
    assert "MD5 signatures do not match" not in res.stderr, res.stderr
    assert dst.read_bytes() == data
    # sync compares that stored MD5 (read with a HEAD), so nothing is uploaded again.
    res = s3cmd("sync", "--multipart-chunk-size-mb=5", f"{tmp_path / 'mp'}/",
                f"s3://{bucket}/mp/", v2=v2)
    assert "upload:" not in res.stdout, res.stdout


def test_put_from_stdin_and_get_to_stdout(live_server, tmp_path, bucket, s3):
    run = make_s3cmd(live_server, tmp_path, "stdio")
    data = os.urandom(7 * MiB + 3)
    # s3cmd streams stdin as a multipart upload of chunk-sized parts.
    run("put", "--multipart-chunk-size-mb=5", "--mime-type=application/octet-stream", "-",
        f"s3://{bucket}/from-stdin", input=data)
    head = s3.head_object(Bucket=bucket, Key="from-stdin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == h.multipart_etag([data[:5 * MiB], data[5 * MiB:]])
    res = run("get", f"s3://{bucket}/from-stdin", "-")
    assert res.stdout_bytes == data


@SIGS
def test_put_acl_public_lets_anonymous_callers_read(s3cmd, bucket, tmp_path, s3, live_server,
                                                    v2):
    src = tmp_path / "pub.txt"
    src.write_bytes(b"public bytes")
    s3cmd("put", "--acl-public", src, f"s3://{bucket}/pub.txt", v2=v2)
    s3cmd("put", src, f"s3://{bucket}/priv.txt", v2=v2)
    assert anon_get(live_server, bucket, "pub.txt") == (200, b"public bytes")
    assert anon_get(live_server, bucket, "priv.txt")[0] == 403
    grants = s3.get_object_acl(Bucket=bucket, Key="pub.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants


@SIGS
def test_put_mime_type_headers_and_user_metadata(s3cmd, bucket, tmp_path, s3, v2):
    src = tmp_path / "doc.txt"
    src.write_bytes(b"{\"a\": 1}")
    s3cmd("put", "-m", "application/json",
          "--add-header=Cache-Control:max-age=3600",
          "--add-header=Content-Disposition:attachment; filename=\"doc.json\"",
          "--add-header=Content-Language:en",
          "--add-header=x-amz-meta-colour:blue",
          "--add-header=x-amz-meta-Owner-Name:Ada Lovelace",
          src, f"s3://{bucket}/doc", v2=v2)
    head = s3.head_object(Bucket=bucket, Key="doc")
    assert head["ContentType"] == "application/json"
    assert head["CacheControl"] == "max-age=3600"
    assert head["ContentDisposition"] == 'attachment; filename="doc.json"'
    assert head["ContentLanguage"] == "en"
    assert head["Metadata"]["colour"] == "blue"
    assert head["Metadata"]["owner-name"] == "Ada Lovelace"
    s3cmd("put", "--mime-type=text/csv", src, f"s3://{bucket}/doc2", v2=v2)
    assert s3.head_object(Bucket=bucket, Key="doc2")["ContentType"] == "text/csv"
    info = s3cmd("info", f"s3://{bucket}/doc", v2=v2).stdout
    assert re.search(r"x-amz-meta-colour:\s+blue", info), info


def test_put_several_files_and_recursive_directory(s3cmd, bucket, tmp_path, s3):
    a, b, empty = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "empty"
    a.write_bytes(b"A")
    b.write_bytes(b"BB")
    empty.write_bytes(b"")
    s3cmd("put", a, b, empty, f"s3://{bucket}/many/")
    assert keys_of(s3, bucket) == ["many/a.txt", "many/b.txt", "many/empty"]
    assert s3.head_object(Bucket=bucket, Key="many/empty")["ContentLength"] == 0
    s3cmd("get", f"s3://{bucket}/many/empty", tmp_path / "empty.back")
    assert (tmp_path / "empty.back").read_bytes() == b""
    tree = tmp_path / "tree"
    write_tree(tree, {"x/1.txt": b"1", "x/y/2.txt": b"22"})
    s3cmd("put", "--recursive", tree, f"s3://{bucket}/rec/")
    assert keys_of(s3, bucket, "rec/") == ["rec/tree/x/1.txt", "rec/tree/x/y/2.txt"]
    assert s3.get_object(Bucket=bucket, Key="rec/tree/x/y/2.txt")["Body"].read() == b"22"


ODD_KEYS = ["sig/file name+a=b&c ~(1)!'*.txt", "sig/ünïcödé/日本語.txt",
            "sig/percent%20sign;semi,comma$@:.txt"]


@SIGS
def test_put_get_ls_with_signature_version(s3cmd, bucket, tmp_path, s3, v2):
    src = tmp_path / "sig.bin"
    src.write_bytes(os.urandom(20_000))
    for key in ODD_KEYS:
        s3cmd("put", src, f"s3://{bucket}/{key}", v2=v2)
    assert keys_of(s3, bucket) == sorted(ODD_KEYS)
    listing = s3cmd("ls", f"s3://{bucket}/sig/", "--recursive", v2=v2).stdout
    for key in ODD_KEYS:
        assert f"s3://{bucket}/{key}" in listing, listing
        dst = tmp_path / "sig.back"
        s3cmd("get", "--force", f"s3://{bucket}/{key}", dst, v2=v2)
        assert dst.read_bytes() == src.read_bytes()
        info = s3cmd("info", f"s3://{bucket}/{key}", v2=v2).stdout
        assert re.search(r"File size:\s+20000$", info, re.M), info
    for key in ODD_KEYS:
        s3cmd("del", f"s3://{bucket}/{key}", v2=v2)
    assert keys_of(s3, bucket) == []


# ---------------------------------------------------------------- get
def test_get_continue_resumes_a_partial_file_with_a_range(s3cmd, bucket, tmp_path, s3):
    data = os.urandom(3 * MiB + 17)
    s3.put_object(Bucket=bucket, Key="resume.bin", Body=data)
    cut = 1 * MiB + 5
    # A correct partial file: s3cmd fetches the rest and the whole file checks out.
    part = tmp_path / "resume.bin"
    part.write_bytes(data[:cut])
    res = s3cmd("get", "--continue", f"s3://{bucket}/resume.bin", part)
    assert part.read_bytes() == data
    assert "MD5 signatures do not match" not in res.stderr, res.stderr
    # A partial file with different bytes proves only the remainder was fetched
    # (Range: bytes=CUT-): the local prefix is kept as it is.
    marked = tmp_path / "marked.bin"
    marked.write_bytes(b"\0" * cut)
    res = s3cmd("get", "--continue", f"s3://{bucket}/resume.bin", marked, check=False)
    assert marked.read_bytes() == b"\0" * cut + data[cut:], res
    # Without --continue an existing local file is refused...
    res = s3cmd("get", f"s3://{bucket}/resume.bin", part, check=False)
    assert res.returncode != 0
    # ...and --force overwrites it.
    part.write_bytes(b"old")
    s3cmd("get", "--force", f"s3://{bucket}/resume.bin", part)
    assert part.read_bytes() == data


@SIGS
def test_get_of_a_missing_key_exits_not_found(s3cmd, bucket, tmp_path, v2):
    dst = tmp_path / "nothing"
    res = s3cmd("get", f"s3://{bucket}/no/such/key", dst, check=False, v2=v2)
    # s3cmd HEADs the object first and turns its 404 into a usage error (as against AWS).
    assert res.returncode == EX_USAGE, res
    assert f"Source object 's3://{bucket}/no/such/key' does not exist" in res.stderr, res.stderr
    assert not dst.exists()
    res = s3cmd("info", f"s3://{bucket}/no/such/key", check=False, v2=v2)
    assert res.returncode == EX_NOTFOUND, res


def test_get_recursive_downloads_a_prefix(s3cmd, bucket, tmp_path, s3):
    for k in ("p/a", "p/q/b", "other"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    dst = tmp_path / "dl"
    dst.mkdir()
    s3cmd("get", "--recursive", f"s3://{bucket}/p/", f"{dst}/")
    assert read_tree(dst) == {"a": b"p/a", "q/b": b"p/q/b"}


# ---------------------------------------------------------------- del
@SIGS
def test_del_single_and_recursive_force(s3cmd, bucket, s3, v2):
    for k in ("a/1", "a/2", "a/sub/3", "b/1", "top"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = s3cmd("del", f"s3://{bucket}/top", v2=v2).stdout
    assert f"delete: 's3://{bucket}/top'" in out, out
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}/a/", v2=v2)
    assert keys_of(s3, bucket) == ["b/1"]
    s3cmd("rm", "--recursive", "--force", f"s3://{bucket}", v2=v2)
    assert keys_of(s3, bucket) == []


def test_ls_du_and_del_past_one_thousand_keys(s3cmd, bucket, s3):
    # More keys than one ListObjects page (1000) and one DeleteObjects batch (1000).
    from concurrent.futures import ThreadPoolExecutor
    keys = [f"many/{i:05d}" for i in range(1005)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"12"), keys))
    out = s3cmd("ls", f"s3://{bucket}/many/").stdout
    listed = re.findall(rf"s3://{bucket}/(many/\d+)$", out, re.M)
    assert listed == keys, (len(listed), out[-500:])
    out = s3cmd("du", f"s3://{bucket}").stdout
    m = re.search(r"^\s*(\d+)\s+(\d+) objects", out, re.M)
    assert m and (int(m.group(1)), int(m.group(2))) == (2010, 1005), out
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}/many/")
    assert keys_of(s3, bucket) == []


# ---------------------------------------------------------------- sync
def test_sync_skip_existing_uploads_nothing_the_second_time(s3cmd, bucket, tmp_path, s3):
    root = tmp_path / "tree"
    files = {"a.txt": b"a" * 10, "sub/b.bin": os.urandom(5000), "sub/deeper/c.txt": b"ccc",
             "sp ace/d.txt": b"d"}
    write_tree(root, files)
    first = s3cmd("sync", "-r", "--skip-existing", f"{root}/", f"s3://{bucket}/backup/")
    assert first.stdout.count("upload:") == len(files), first.stdout
    keys = keys_of(s3, bucket)
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
    assert read_tree(down) == files
    # Down again with --skip-existing: nothing to download.
    again = s3cmd("sync", "--skip-existing", f"s3://{bucket}/backup/", f"{down}/")
    assert "download:" not in again.stdout, again.stdout


@SIGS
def test_sync_dry_run_and_delete_removed(s3cmd, bucket, tmp_path, s3, v2):
    root = tmp_path / "src"
    write_tree(root, {"keep.txt": b"keep", "gone.txt": b"gone", "edit.txt": b"v1"})
    dry = s3cmd("sync", "--dry-run", f"{root}/", f"s3://{bucket}/", v2=v2)
    assert dry.stdout.count("upload:") == 3, dry.stdout
    assert keys_of(s3, bucket) == []
    s3cmd("sync", f"{root}/", f"s3://{bucket}/", v2=v2)
    assert keys_of(s3, bucket) == ["edit.txt", "gone.txt", "keep.txt"]

    (root / "gone.txt").unlink()
    (root / "edit.txt").write_bytes(b"v2!")
    dry = s3cmd("sync", "--dry-run", "--delete-removed", f"{root}/", f"s3://{bucket}/", v2=v2)
    assert f"delete: 's3://{bucket}/gone.txt'" in dry.stdout, dry.stdout
    assert "edit.txt" in dry.stdout, dry.stdout
    assert keys_of(s3, bucket) == ["edit.txt", "gone.txt", "keep.txt"]
    assert s3.get_object(Bucket=bucket, Key="edit.txt")["Body"].read() == b"v1"

    # Without --delete-removed a removed file stays on the server.
    s3cmd("sync", f"{root}/", f"s3://{bucket}/", v2=v2)
    assert keys_of(s3, bucket) == ["edit.txt", "gone.txt", "keep.txt"]
    assert s3.get_object(Bucket=bucket, Key="edit.txt")["Body"].read() == b"v2!"
    out = s3cmd("sync", "--delete-removed", f"{root}/", f"s3://{bucket}/", v2=v2).stdout
    assert f"delete: 's3://{bucket}/gone.txt'" in out, out
    assert keys_of(s3, bucket) == ["edit.txt", "keep.txt"]

    # Downwards: --delete-removed deletes local files the bucket does not have.
    down = tmp_path / "down"
    write_tree(down, {"stale.txt": b"stale", "keep.txt": b"old"})
    s3cmd("sync", "--dry-run", "--delete-removed", f"s3://{bucket}/", f"{down}/", v2=v2)
    assert read_tree(down) == {"stale.txt": b"stale", "keep.txt": b"old"}
    s3cmd("sync", "--delete-removed", f"s3://{bucket}/", f"{down}/", v2=v2)
    assert read_tree(down) == {"keep.txt": b"keep", "edit.txt": b"v2!"}


def test_sync_exclude(s3cmd, bucket, tmp_path, s3):
    root = tmp_path / "src"
    write_tree(root, {"a.txt": b"a", "debug.log": b"log", "tmp/x.txt": b"x",
                      "sub/b.txt": b"b", "sub/trace.log": b"log"})
    out = s3cmd("sync", "--exclude=*.log", "--exclude=tmp/*", f"{root}/",
                f"s3://{bucket}/").stdout
    assert keys_of(s3, bucket) == ["a.txt", "sub/b.txt"], out
    # Downwards, too.
    s3.put_object(Bucket=bucket, Key="remote.log", Body=b"r")
    down = tmp_path / "down"
    s3cmd("sync", "--exclude=*.log", f"s3://{bucket}/", f"{down}/")
    assert read_tree(down) == {"a.txt": b"a", "sub/b.txt": b"b"}


def test_sync_preserve_keeps_mode_and_mtime(s3cmd, bucket, tmp_path, s3):
    root = tmp_path / "src"
    write_tree(root, {"script.sh": b"#!/bin/sh\necho hi\n", "data.txt": b"data"})
    os.chmod(root / "script.sh", 0o750)
    os.chmod(root / "data.txt", 0o640)
    mtime = 1_000_000_000  # 2001-09-09
    os.utime(root / "script.sh", (mtime, mtime))
    os.utime(root / "data.txt", (mtime + 60, mtime + 60))
    s3cmd("sync", "--preserve", f"{root}/", f"s3://{bucket}/p/")
    attrs = s3cmd_attrs(s3.head_object(Bucket=bucket, Key="p/script.sh"))
    assert int(attrs["mode"]) & 0o7777 == 0o750, attrs
    assert int(attrs["mtime"]) == mtime, attrs
    assert attrs["md5"] == h.md5_hex(b"#!/bin/sh\necho hi\n"), attrs
    attrs = s3cmd_attrs(s3.head_object(Bucket=bucket, Key="p/data.txt"))
    assert int(attrs["mode"]) & 0o7777 == 0o640 and int(attrs["mtime"]) == mtime + 60, attrs

    down = tmp_path / "down"
    s3cmd("sync", "--preserve", f"s3://{bucket}/p/", f"{down}/")
    st = (down / "script.sh").stat()
    assert (st.st_mode & 0o7777, int(st.st_mtime)) == (0o750, mtime)
    st = (down / "data.txt").stat()
    assert (st.st_mode & 0o7777, int(st.st_mtime)) == (0o640, mtime + 60)

    # --no-preserve stores no file system attributes.
    s3cmd("sync", "--no-preserve", f"{root}/", f"s3://{bucket}/np/")
    attrs = s3cmd_attrs(s3.head_object(Bucket=bucket, Key="np/script.sh"))
    assert "mode" not in attrs and "mtime" not in attrs, attrs


def test_sync_remote_to_remote(s3cmd, bucket, s3):
    for k in ("src/a", "src/b/c"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3cmd("sync", f"s3://{bucket}/src/", f"s3://{bucket}/dst/")
    assert keys_of(s3, bucket, "dst/") == ["dst/a", "dst/b/c"]
    assert s3.get_object(Bucket=bucket, Key="dst/b/c")["Body"].read() == b"src/b/c"


# ---------------------------------------------------------------- cp, mv, modify
@SIGS
def test_cp_and_mv(s3cmd, bucket, s3, v2):
    s3.put_object(Bucket=bucket, Key="orig", Body=b"original", Metadata={"a": "b"},
                  ContentType="text/x-orig")
    s3cmd("cp", f"s3://{bucket}/orig", f"s3://{bucket}/copy", v2=v2)
    got = s3.get_object(Bucket=bucket, Key="copy")
    assert got["Body"].read() == b"original"
    assert got["Metadata"] == {"a": "b"} and got["ContentType"] == "text/x-orig"
    s3cmd("mv", f"s3://{bucket}/copy", f"s3://{bucket}/moved", v2=v2)
    assert keys_of(s3, bucket) == ["moved", "orig"]
    assert s3.get_object(Bucket=bucket, Key="moved")["Body"].read() == b"original"
    # Recursive copy of a prefix, and a move into a directory-like prefix.
    s3.put_object(Bucket=bucket, Key="dir/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="dir/y/z", Body=b"z")
    s3cmd("cp", "--recursive", f"s3://{bucket}/dir/", f"s3://{bucket}/dir2/", v2=v2)
    assert keys_of(s3, bucket, "dir2/") == ["dir2/x", "dir2/y/z"]
    s3cmd("mv", f"s3://{bucket}/moved", f"s3://{bucket}/dir2/", v2=v2)
    assert keys_of(s3, bucket, "dir2/") == ["dir2/moved", "dir2/x", "dir2/y/z"]
    assert "moved" not in keys_of(s3, bucket)


def test_cp_between_buckets_and_missing_source(s3cmd, bucket, s3, cleanup_buckets):
    other = f"{bucket[:40]}-dst"
    cleanup_buckets.append(other)
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="k", Body=b"across")
    s3cmd("cp", f"s3://{bucket}/k", f"s3://{other}/k2")
    assert s3.get_object(Bucket=other, Key="k2")["Body"].read() == b"across"
    res = s3cmd("cp", f"s3://{bucket}/missing", f"s3://{other}/x", check=False)
    assert res.returncode == EX_NOTFOUND, res
    assert keys_of(s3, other) == ["k2"]


def test_cp_keeps_the_source_acl(s3cmd, bucket, s3, live_server):
    # s3cmd copies the source's ACL to the copy (GET ?acl, then PUT ?acl).
    s3.put_object(Bucket=bucket, Key="public", Body=b"p", ACL="public-read")
    s3cmd("cp", f"s3://{bucket}/public", f"s3://{bucket}/public-copy")
    assert anon_get(live_server, bucket, "public-copy") == (200, b"p")


def test_cp_of_a_large_object_uses_multipart_copy(live_server, tmp_path, bucket, s3):
    # With a 5 MiB multipart_copy_chunk_size_mb, s3cmd copies a 10 MiB + 1 byte object with
    # UploadPartCopy and x-amz-copy-source-range (three parts), as it copies > 1 GiB objects.
    run = make_s3cmd(live_server, tmp_path, "mpcopy",
                     extra={"multipart_copy_chunk_size_mb": "5"})
    data = os.urandom(10 * MiB + 1)
    s3.put_object(Bucket=bucket, Key="big", Body=data, ContentType="application/x-big",
                  Metadata={"m": "1"})
    run("cp", f"s3://{bucket}/big", f"s3://{bucket}/big-copy")
    head = s3.head_object(Bucket=bucket, Key="big-copy")
    assert head["ContentLength"] == len(data)
    chunk = 5 * MiB
    assert head["ETag"] == h.multipart_etag([data[i:i + chunk] for i in range(0, len(data), chunk)])
    assert head["ContentType"] == "application/x-big" and head["Metadata"] == {"m": "1"}
    assert s3.get_object(Bucket=bucket, Key="big-copy")["Body"].read() == data
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@SIGS
def test_modify_changes_metadata_and_keeps_the_data(s3cmd, bucket, s3, v2):
    s3.put_object(Bucket=bucket, Key="m", Body=b"payload", ContentType="text/plain",
                  Metadata={"keep": "no"})
    before = s3.head_object(Bucket=bucket, Key="m")
    s3cmd("modify", "--mime-type=application/json", "--add-header=Cache-Control:no-cache",
          "--add-header=x-amz-meta-state:modified", f"s3://{bucket}/m", v2=v2)
    after = s3.head_object(Bucket=bucket, Key="m")
    assert after["ContentType"] == "application/json"
    assert after["CacheControl"] == "no-cache"
    # s3cmd re-sends the metadata it read with a HEAD, with x-amz-metadata-directive: REPLACE.
    assert after["Metadata"] == {"keep": "no", "state": "modified"}
    assert after["ETag"] == before["ETag"]
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"payload"


# ---------------------------------------------------------------- info
@SIGS
def test_info_on_an_object(s3cmd, bucket, tmp_path, v2):
    src = tmp_path / "page.html"
    src.write_bytes(b"<html>hi</html>")
    s3cmd("put", "--mime-type=text/html", "--add-header=x-amz-meta-flavour:plain", src,
          f"s3://{bucket}/page.html", v2=v2)
    out = s3cmd("info", f"s3://{bucket}/page.html", v2=v2).stdout
    assert f"s3://{bucket}/page.html (object):" in out, out
    assert re.search(r"File size:\s+15$", out, re.M), out
    assert re.search(r"Last mod:\s+\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", out, re.M), out
    assert re.search(r"MIME type:\s+text/html$", out, re.M), out
    assert re.search(r"Storage:\s+STANDARD$", out, re.M), out
    assert re.search(rf"MD5 sum:\s+{h.md5_hex(src.read_bytes())}$", out, re.M), out
    assert re.search(r"SSE:\s+AES256$", out, re.M), out  # SSE-S3 by default, as on AWS
    assert re.search(r"Policy:\s+none$", out, re.M), out
    assert re.search(r"CORS:\s+none$", out, re.M), out
    assert re.search(r"ACL:\s+.+: FULL_CONTROL$", out, re.M), out
    assert re.search(r"x-amz-meta-flavour:\s+plain$", out, re.M), out


@SIGS
def test_info_on_a_new_bucket(s3cmd, bucket, s3, v2):
    out = s3cmd("info", f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/ (bucket):" in out, out
    assert re.search(rf"Location:\s+{REGION}$", out, re.M), out
    assert re.search(r"Ownership:\s+none$", out, re.M), out
    assert re.search(r"Versioning:none$", out, re.M), out
    assert re.search(r"Expiration rule: none$", out, re.M), out
    assert re.search(r"Block Public Access: none$", out, re.M), out
    assert re.search(r"Policy:\s+none$", out, re.M), out
    assert re.search(r"CORS:\s+none$", out, re.M), out
    owner = s3.list_buckets()["Owner"]
    names = {owner["ID"], owner.get("DisplayName")}
    acl = re.findall(r"ACL:\s+(.+): (\w+)$", out, re.M)
    assert len(acl) == 1 and acl[0][0] in names and acl[0][1] == "FULL_CONTROL", out


def test_info_reports_the_bucket_owner_as_payer(s3cmd, bucket):
    out = s3cmd("info", f"s3://{bucket}").stdout
    assert re.search(r"Payer:\s+BucketOwner$", out, re.M), out


def test_info_on_a_configured_bucket(s3cmd, bucket, s3, tmp_path):
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    (tmp_path / "cors.xml").write_text(
        "<CORSConfiguration><CORSRule><AllowedOrigin>https://example.com</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")
    s3cmd("setversioning", f"s3://{bucket}", "enable")
    s3cmd("setownership", f"s3://{bucket}", "BucketOwnerPreferred")
    s3cmd("setblockpublicaccess", f"s3://{bucket}", "BlockPublicAcls,IgnorePublicAcls")
    s3cmd("expire", f"s3://{bucket}", "--expiry-days=30", "--expiry-prefix=tmp/")
    s3cmd("setpolicy", tmp_path / "policy.json", f"s3://{bucket}")
    s3cmd("setcors", tmp_path / "cors.xml", f"s3://{bucket}")
    out = s3cmd("info", f"s3://{bucket}").stdout
    assert re.search(r"Versioning:Enabled$", out, re.M), out
    assert re.search(r"Ownership:\s+BucketOwnerPreferred$", out, re.M), out
    assert re.search(r"Block Public Access: BlockPublicAcls,IgnorePublicAcls$", out, re.M), out
    assert ("Expiration Rule: objects with key prefix 'tmp/' will expire in '30' day(s) "
            "after creation") in out, out
    m = re.search(r"Policy:\s+(.+)$", out, re.M)
    assert m and json.loads(m.group(1))["Statement"][0]["Sid"] == "PublicRead", out
    assert re.search(r"CORS:\s+<\?xml|CORS:\s+<CORSConfiguration", out), out
    assert "https://example.com" in out, out


# ---------------------------------------------------------------- ACLs
def test_setacl_public_private_on_objects_and_buckets(s3cmd, bucket, s3, live_server):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"acl body")
    assert anon_get(live_server, bucket, "obj")[0] == 403
    out = s3cmd("setacl", "--acl-public", f"s3://{bucket}/obj").stdout
    assert "ACL set to Public" in out, out
    assert anon_get(live_server, bucket, "obj") == (200, b"acl body")
    info = s3cmd("info", f"s3://{bucket}/obj").stdout
    assert re.search(r"ACL:\s+\*anon\*: READ$", info, re.M), info
    out = s3cmd("setacl", "--acl-private", f"s3://{bucket}/obj").stdout
    assert "ACL set to Private" in out, out
    assert anon_get(live_server, bucket, "obj")[0] == 403
    grants = s3.get_object_acl(Bucket=bucket, Key="obj")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], grants

    # Bucket-level: a public bucket can be listed anonymously.
    assert anon_get(live_server, bucket)[0] == 403
    s3cmd("setacl", "--acl-public", f"s3://{bucket}")
    status, body = anon_get(live_server, bucket)
    assert status == 200 and b"<Key>obj</Key>" in body, body
    s3cmd("setacl", "--acl-private", f"s3://{bucket}")
    assert anon_get(live_server, bucket)[0] == 403

    # Recursive: every object under a prefix.
    for k in ("r/1", "r/2"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3cmd("setacl", "--acl-public", "--recursive", f"s3://{bucket}/r/")
    assert anon_get(live_server, bucket, "r/1") == (200, b"r/1")
    assert anon_get(live_server, bucket, "r/2") == (200, b"r/2")
    assert anon_get(live_server, bucket, "obj")[0] == 403


def test_setacl_grant_and_revoke_to_a_canonical_id(s3cmd, bucket, s3, other_account,
                                                   live_server):
    canonical_id, other, _ = other_account
    s3.put_object(Bucket=bucket, Key="shared", Body=b"for the other account")
    assert client_error(other.get_object, Bucket=bucket, Key="shared") == ("AccessDenied", 403)
    s3cmd("setacl", f"--acl-grant=read:{canonical_id}", f"s3://{bucket}/shared")
    grants = s3.get_object_acl(Bucket=bucket, Key="shared")["Grants"]
    assert any(g["Grantee"].get("ID") == canonical_id and g["Permission"] == "READ"
               for g in grants), grants
    assert other.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"for the other account"
    # The grant gives READ only: not the ACL, and nothing to anonymous callers.
    assert client_error(other.get_object_acl, Bucket=bucket, Key="shared")[1] == 403
    assert anon_get(live_server, bucket, "shared")[0] == 403
    s3cmd("setacl", f"--acl-revoke=read:{canonical_id}", f"s3://{bucket}/shared")
    assert client_error(other.get_object, Bucket=bucket, Key="shared") == ("AccessDenied", 403)
    # A grant to the AllUsers group is the same as --acl-public.
    s3cmd("setacl", f"--acl-grant=read:{ALL_USERS}", f"s3://{bucket}/shared")
    assert anon_get(live_server, bucket, "shared") == (200, b"for the other account")


# ---------------------------------------------------------------- bucket policy
@SIGS
def test_setpolicy_and_delpolicy(s3cmd, bucket, s3, tmp_path, live_server, v2):
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AnonRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/pub/*"}]}
    pfile = tmp_path / "policy.json"
    pfile.write_text(json.dumps(policy, indent=2))
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"anyone")
    s3.put_object(Bucket=bucket, Key="priv/a", Body=b"owner only")
    assert anon_get(live_server, bucket, "pub/a")[0] == 403
    out = s3cmd("setpolicy", pfile, f"s3://{bucket}", v2=v2).stdout
    # s3cmd prints this when the server answers 204, as S3 does.
    assert f"s3://{bucket}/: Policy updated" in out, out
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert anon_get(live_server, bucket, "pub/a") == (200, b"anyone")
    assert anon_get(live_server, bucket, "priv/a")[0] == 403
    out = s3cmd("delpolicy", f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/: Policy deleted" in out, out
    assert client_error(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    assert anon_get(live_server, bucket, "pub/a")[0] == 403


def test_setpolicy_with_an_invalid_policy_fails(s3cmd, bucket, s3, tmp_path):
    pfile = tmp_path / "bad.json"
    pfile.write_text('{"Version": "2012-10-17", "Statement": [')
    res = s3cmd("setpolicy", pfile, f"s3://{bucket}", check=False)
    assert res.returncode != 0, res
    assert "MalformedPolicy" in res.stderr, res.stderr
    assert client_error(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)


# ---------------------------------------------------------------- CORS
@SIGS
def test_setcors_and_delcors(s3cmd, bucket, s3, tmp_path, live_server, v2):
    cfile = tmp_path / "cors.xml"
    cfile.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n'
        "  <CORSRule>\n"
        "    <ID>web</ID>\n"
        "    <AllowedOrigin>https://app.example.com</AllowedOrigin>\n"
        "    <AllowedMethod>GET</AllowedMethod>\n"
        "    <AllowedMethod>PUT</AllowedMethod>\n"
        "    <AllowedHeader>*</AllowedHeader>\n"
        "    <ExposeHeader>ETag</ExposeHeader>\n"
        "    <MaxAgeSeconds>600</MaxAgeSeconds>\n"
        "  </CORSRule>\n"
        "</CORSConfiguration>\n")
    s3cmd("setcors", cfile, f"s3://{bucket}", v2=v2)
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules == [{"ID": "web", "AllowedOrigins": ["https://app.example.com"],
                      "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
                      "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}
    r = h.send(live_server.endpoint, "OPTIONS", h.object_path(bucket, "k"), preflight)
    assert r.status == 200, r.body
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    out = s3cmd("delcors", f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/: CORS deleted" in out, out
    assert client_error(s3.get_bucket_cors, Bucket=bucket) == ("NoSuchCORSConfiguration", 404)
    r = h.send(live_server.endpoint, "OPTIONS", h.object_path(bucket, "k"), preflight)
    assert r.status == 403, r.body


# ---------------------------------------------------------------- lifecycle
@SIGS
def test_setlifecycle_getlifecycle_dellifecycle(s3cmd, bucket, s3, tmp_path, v2):
    lfile = tmp_path / "lifecycle.xml"
    lfile.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n'
        "  <Rule>\n"
        "    <ID>expire-logs</ID>\n"
        "    <Filter><Prefix>logs/</Prefix></Filter>\n"
        "    <Status>Enabled</Status>\n"
        "    <Expiration><Days>7</Days></Expiration>\n"
        "  </Rule>\n"
        "  <Rule>\n"
        "    <ID>abort-uploads</ID>\n"
        "    <Filter><Prefix></Prefix></Filter>\n"
        "    <Status>Enabled</Status>\n"
        "    <AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>\n"
        "  </Rule>\n"
        "</LifecycleConfiguration>\n")
    out = s3cmd("setlifecycle", lfile, f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/: Lifecycle Policy updated" in out, out
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"expire-logs", "abort-uploads"}
    assert rules["expire-logs"]["Expiration"] == {"Days": 7}
    assert rules["expire-logs"]["Filter"] == {"Prefix": "logs/"}
    assert rules["abort-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    got = s3cmd("getlifecycle", f"s3://{bucket}", v2=v2).stdout
    assert "expire-logs" in got and re.search(r"<Days>\s*7\s*</Days>", got), got
    out = s3cmd("dellifecycle", f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/: Lifecycle Policy deleted" in out, out
    assert client_error(s3.get_bucket_lifecycle_configuration,
                        Bucket=bucket) == ("NoSuchLifecycleConfiguration", 404)
    res = s3cmd("getlifecycle", f"s3://{bucket}", check=False, v2=v2)
    assert res.returncode == EX_NOTFOUND, res


@SIGS
def test_expire_sets_and_removes_an_expiration_rule(s3cmd, bucket, s3, v2):
    out = s3cmd("expire", f"s3://{bucket}", "--expiry-days=30", "--expiry-prefix=tmp/",
                v2=v2).stdout
    assert f"Bucket 's3://{bucket}/': expiration configuration is set." in out, out
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 1, rules
    assert rules[0]["Expiration"] == {"Days": 30}
    assert rules[0]["Filter"] == {"Prefix": "tmp/"}
    assert rules[0]["Status"] == "Enabled"
    out = s3cmd("expire", f"s3://{bucket}", "--expiry-date=2030-01-01T00:00:00.000Z",
                v2=v2).stdout
    assert "expiration configuration is set" in out, out
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["Expiration"]["Date"].year == 2030, rules
    # `expire` without a day or date removes the configuration.
    out = s3cmd("expire", f"s3://{bucket}", v2=v2).stdout
    assert f"Bucket 's3://{bucket}/': expiration configuration is deleted." in out, out
    assert client_error(s3.get_bucket_lifecycle_configuration,
                        Bucket=bucket) == ("NoSuchLifecycleConfiguration", 404)


# ---------------------------------------------------------------- signurl
def test_signurl_sigv2_presigned_get(s3cmd, bucket, s3):
    body = b"s3cmd signurl"
    s3.put_object(Bucket=bucket, Key="signed", Body=body)
    s3.put_object(Bucket=bucket, Key="dir/with space+plus.txt", Body=b"odd key")
    for v2 in (False, True):  # signurl always signs SigV2 query strings
        url = s3cmd("signurl", f"s3://{bucket}/signed", "+300", v2=v2).stdout.strip()
        q = urlsplit(url).query
        assert "AWSAccessKeyId=" in q and "Signature=" in q and "Expires=" in q, url
        assert url_get(url) == (200, body)
    url = s3cmd("signurl", f"s3://{bucket}/dir/with space+plus.txt", "+300").stdout.strip()
    assert url_get(url) == (200, b"odd key")
    # An absolute expiry (epoch seconds) in the future works too.
    url = s3cmd("signurl", f"s3://{bucket}/signed", int(time.time()) + 120).stdout.strip()
    assert url_get(url) == (200, body)
    # Tampering with the key invalidates the signature.
    status, _ = url_get(url.replace("/signed?", "/dir/with%20space%2Bplus.txt?"))
    assert status == 403


def test_signurl_with_a_past_expiry_is_refused(s3cmd, bucket, s3):
    s3.put_object(Bucket=bucket, Key="signed", Body=b"too late")
    url = s3cmd("signurl", f"s3://{bucket}/signed", int(time.time()) - 60).stdout.strip()
    status, body = url_get(url)
    assert status == 403, body
    assert b"AccessDenied" in body and b"expired" in body.lower(), body


# ---------------------------------------------------------------- multipart, listmp, abortmp
@SIGS
def test_multipart_listmp_abortmp(s3cmd, bucket, s3, v2):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj name")
    upload_id = up["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp/obj name", UploadId=upload_id, PartNumber=1,
                        Body=b"a" * 1000)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp/obj name", UploadId=upload_id, PartNumber=2,
                        Body=b"b" * 10)["ETag"]
    other = s3.create_multipart_upload(Bucket=bucket, Key="other")["UploadId"]

    out = s3cmd("multipart", f"s3://{bucket}", v2=v2).stdout
    rows = [ln.split("\t") for ln in out.splitlines() if "\t" in ln and "Initiated" not in ln]
    assert sorted((r[1], r[2]) for r in rows) == sorted(
        [(f"s3://{bucket}/mp/obj name", upload_id), (f"s3://{bucket}/other", other)]), out
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r[0]) for r in rows), out

    out = s3cmd("listmp", f"s3://{bucket}/mp/obj name", upload_id, v2=v2).stdout
    parts = [ln.split("\t") for ln in out.splitlines()[1:] if ln.strip()]
    assert [(p[1], p[2], p[3]) for p in parts] == [("1", e1, "1000"), ("2", e2, "10")], out
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", p[0]) for p in parts), out

    s3cmd("abortmp", f"s3://{bucket}/mp/obj name", upload_id, v2=v2)
    left = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert left == [other]
    assert client_error(s3.list_parts, Bucket=bucket, Key="mp/obj name",
                        UploadId=upload_id) == ("NoSuchUpload", 404)
    res = s3cmd("abortmp", f"s3://{bucket}/mp/obj name", upload_id, check=False, v2=v2)
    assert res.returncode == EX_NOTFOUND, res
    assert "NoSuchUpload" in res.stderr, res.stderr


# ---------------------------------------------------------------- versioning
@SIGS
def test_setversioning(s3cmd, bucket, s3, v2):
    out = s3cmd("setversioning", f"s3://{bucket}", "enable", v2=v2).stdout
    assert "Versioning status updated" in out, out
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_object(Bucket=bucket, Key="v", Body=b"1")
    s3.put_object(Bucket=bucket, Key="v", Body=b"2")
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2
    out = s3cmd("setversioning", f"s3://{bucket}", "disable", v2=v2).stdout
    assert "Versioning status updated" in out, out
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    info = s3cmd("info", f"s3://{bucket}", v2=v2).stdout
    assert re.search(r"Versioning:Suspended$", info, re.M), info


# ---------------------------------------------------------------- object lock
def test_setobjectlegalhold_and_setobjectretention(s3cmd, bucket_name, s3):
    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    try:
        vid = s3.put_object(Bucket=bucket_name, Key="locked", Body=b"keep me")["VersionId"]
        s3cmd("setobjectlegalhold", "ON", f"s3://{bucket_name}/locked")
        assert s3.get_object_legal_hold(Bucket=bucket_name,
                                        Key="locked")["LegalHold"] == {"Status": "ON"}
        assert client_error(s3.delete_object, Bucket=bucket_name, Key="locked",
                            VersionId=vid) == ("AccessDenied", 403)
        s3cmd("setobjectlegalhold", "OFF", f"s3://{bucket_name}/locked")
        assert s3.get_object_legal_hold(Bucket=bucket_name,
                                        Key="locked")["LegalHold"] == {"Status": "OFF"}
        # s3cmd 2.4.0's cmd_setobjectretention returns None, which s3cmd turns into exit
        # code 1 after a successful request (against AWS too): judge it by the server.
        res = s3cmd("setobjectretention", "GOVERNANCE", "2099-01-01T00:00:00Z",
                    f"s3://{bucket_name}/locked", check=False)
        assert res.returncode in (0, 1) and "ERROR" not in res.stderr, res
        ret = s3.get_object_retention(Bucket=bucket_name, Key="locked")["Retention"]
        assert ret["Mode"] == "GOVERNANCE" and ret["RetainUntilDate"].year == 2099, ret
        assert client_error(s3.delete_object, Bucket=bucket_name, Key="locked",
                            VersionId=vid) == ("AccessDenied", 403)
    finally:
        for v in s3.list_object_versions(Bucket=bucket_name).get("Versions", []):
            try:
                s3.put_object_legal_hold(Bucket=bucket_name, Key=v["Key"], VersionId=v["VersionId"],
                                         LegalHold={"Status": "OFF"})
            except ClientError:
                pass
            s3.delete_object(Bucket=bucket_name, Key=v["Key"], VersionId=v["VersionId"],
                             BypassGovernanceRetention=True)
        empty_and_delete_bucket(s3, bucket_name)


# ---------------------------------------------------------------- tagging
@SIGS
def test_object_and_bucket_tagging(s3cmd, bucket, s3, v2):
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged")
    out = s3cmd("settagging", f"s3://{bucket}/t", "project=coffer&stage=e2e test", v2=v2).stdout
    assert "Tagging updated" in out, out
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("project", "coffer"),
                                                             ("stage", "e2e test")]
    out = s3cmd("gettagging", f"s3://{bucket}/t", v2=v2).stdout
    assert f"s3://{bucket}/t (object):" in out, out
    assert "\tproject:\tcoffer" in out and "\tstage:\te2e test" in out, out
    s3cmd("deltagging", f"s3://{bucket}/t", v2=v2)
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []

    s3cmd("settagging", f"s3://{bucket}", "env=test", v2=v2)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "env", "Value": "test"}]
    out = s3cmd("gettagging", f"s3://{bucket}", v2=v2).stdout
    assert f"s3://{bucket}/ (bucket):" in out and "\tenv:\ttest" in out, out
    s3cmd("deltagging", f"s3://{bucket}", v2=v2)
    assert client_error(s3.get_bucket_tagging, Bucket=bucket) == ("NoSuchTagSet", 404)


# ---------------------------------------------------------------- client-side encryption
@pytest.fixture
def gpg_s3cmd(live_server, tmp_path):
    gpg = shutil.which("gpg")
    if not gpg:
        pytest.skip("gpg is not installed: s3cmd's put -e / get need it for client-side "
                    "encryption")
    run = make_s3cmd(live_server, tmp_path, "gpg",
                     extra={"gpg_command": gpg, "gpg_passphrase": "correct horse battery"})
    yield run
    # s3cmd's gpg calls may have started an agent for this test's GNUPGHOME ($HOME/.gnupg).
    gpgconf = shutil.which("gpgconf")
    if gpgconf and (tmp_path / ".gnupg").exists():
        subprocess.run([gpgconf, "--kill", "gpg-agent"], capture_output=True, timeout=30,
                       env={**os.environ, "HOME": str(tmp_path),
                            "GNUPGHOME": str(tmp_path / ".gnupg")})


def test_put_encrypted_and_get_decrypted(gpg_s3cmd, bucket, s3, tmp_path):
    plain = b"secret plans " * 1000
    src = tmp_path / "plans.txt"
    src.write_bytes(plain)
    gpg_s3cmd("put", "-e", src, f"s3://{bucket}/plans.txt")
    got = s3.get_object(Bucket=bucket, Key="plans.txt")
    stored = got["Body"].read()
    assert stored != plain and plain[:13] not in stored
    assert got["Metadata"].get("s3tools-gpgenc") == "gpg", got["Metadata"]
    dst = tmp_path / "plans.back"
    gpg_s3cmd("get", f"s3://{bucket}/plans.txt", dst)
    assert dst.read_bytes() == plain
    # A recursive encrypted put (s3cmd's sync does not encrypt) round-trips too.
    root = tmp_path / "tree"
    write_tree(root, {"a.txt": b"alpha" * 50, "b/c.txt": b"gamma" * 50})
    gpg_s3cmd("put", "-e", "--recursive", f"{root}/", f"s3://{bucket}/enc/")
    assert s3.get_object(Bucket=bucket, Key="enc/a.txt")["Body"].read() != b"alpha" * 50
    down = tmp_path / "down"
    down.mkdir()
    gpg_s3cmd("get", "--recursive", f"s3://{bucket}/enc/", f"{down}/")
    assert read_tree(down) == {"a.txt": b"alpha" * 50, "b/c.txt": b"gamma" * 50}


# ---------------------------------------------------------------- exit codes on failures
def test_missing_bucket_exits_non_zero(s3cmd, bucket_name, tmp_path):
    res = s3cmd("ls", f"s3://{bucket_name}", check=False)
    assert res.returncode == EX_NOTFOUND, res
    assert "NoSuchBucket" in res.stderr or "does not exist" in res.stderr, res.stderr
    src = tmp_path / "f"
    src.write_bytes(b"x")
    res = s3cmd("put", src, f"s3://{bucket_name}/f", check=False)
    assert res.returncode == EX_NOTFOUND, res
    res = s3cmd("get", f"s3://{bucket_name}/f", tmp_path / "g", check=False)
    assert res.returncode == EX_USAGE and "does not exist" in res.stderr, res
    res = s3cmd("rb", f"s3://{bucket_name}", check=False)
    assert res.returncode == EX_NOTFOUND, res
    res = s3cmd("info", f"s3://{bucket_name}", check=False)
    assert res.returncode == EX_NOTFOUND, res


@SIGS
def test_wrong_credentials_exit_access_denied(live_server, tmp_path, bucket, s3, v2):
    wrong_secret = make_s3cmd(live_server, tmp_path, "bad-secret", v2=v2,
                              secret_key="x" * 40)
    res = wrong_secret("ls", f"s3://{bucket}", check=False)
    assert res.returncode == EX_ACCESSDENIED, res
    assert "SignatureDoesNotMatch" in res.stderr or "AccessDenied" in res.stderr, res.stderr
    src = tmp_path / "f"
    src.write_bytes(b"x")
    res = wrong_secret("put", src, f"s3://{bucket}/f", check=False)
    assert res.returncode == EX_ACCESSDENIED, res
    assert keys_of(s3, bucket) == []
    unknown = make_s3cmd(live_server, tmp_path, "bad-key", v2=v2,
                         access_key="AKIANOSUCHKEY0000000")
    res = unknown("ls", f"s3://{bucket}", check=False)
    assert res.returncode == EX_ACCESSDENIED, res
    assert "InvalidAccessKeyId" in res.stderr or "AccessDenied" in res.stderr, res.stderr


def test_other_accounts_bucket_is_access_denied(live_server, tmp_path, bucket, s3, other_account):
    # The other account's keys, a bucket of the main account.
    _, _, (access_key, secret_key) = other_account
    run = make_s3cmd(live_server, tmp_path, "other", access_key=access_key,
                     secret_key=secret_key)
    s3.put_object(Bucket=bucket, Key="k", Body=b"mine")
    res = run("ls", f"s3://{bucket}", check=False)
    assert res.returncode == EX_ACCESSDENIED and "AccessDenied" in res.stderr, res
    res = run("get", f"s3://{bucket}/k", tmp_path / "k", check=False)
    assert res.returncode == EX_ACCESSDENIED, res
    res = run("del", f"s3://{bucket}/k", check=False)
    assert res.returncode == EX_ACCESSDENIED, res
    assert keys_of(s3, bucket) == ["k"]


# ---------------------------------------------------------------- static websites
# The website endpoint is `BUCKET.DOMAIN` on the server's own port
# (`coffer serve --website-domain DOMAIN`); the domain is AWS's
# s3-website-REGION layout under a test TLD, so s3cmd's website_endpoint
# template keeps its %(bucket)s and %(location)s fields.
WEBSITE_DOMAIN = f"s3-website-{REGION}.coffer.test"


@pytest.fixture(scope="module")
def website_server(server_factory):
    return server_factory(extra_args=["--website-domain", WEBSITE_DOMAIN])


@pytest.fixture
def ws(website_server, tmp_path):
    """(s3cmd runner for both signature versions, boto3 client, bucket) on the website server."""
    endpoint = f"http://%(bucket)s.s3-website-%(location)s.coffer.test:{website_server.port}/"
    runners = {v2: make_s3cmd(website_server, tmp_path, f"ws-{v2}", v2=v2,
                              extra={"website_endpoint": endpoint})
               for v2 in (False, True)}
    client = website_server.client()
    name = f"ws-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield runners, client, name
    empty_and_delete_bucket(client, name)


def website_get(server, url: str, path: str = "") -> h.RawResponse:
    """GET `url` + `path` by connecting to the test server and sending the URL's Host."""
    u = urlsplit(url)
    return h.send(server.endpoint, "GET", (u.path or "/") + path, {"Host": u.netloc})


@SIGS
def test_ws_create_info_delete(ws, website_server, v2):
    runners, c, bucket = ws
    run = runners[v2]
    out = run("ws-info", f"s3://{bucket}").stdout
    assert f"Bucket s3://{bucket}/: No website configuration found." in out, out
    out = run("ws-create", "--ws-index=index.html", "--ws-error=error.html",
              f"s3://{bucket}").stdout
    assert f"Bucket 's3://{bucket}/': website configuration created." in out, out
    got = c.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "error.html"}
    out = run("ws-info", f"s3://{bucket}").stdout
    assert f"Bucket s3://{bucket}/: Website configuration" in out, out
    assert (f"Website endpoint: http://{bucket}.{WEBSITE_DOMAIN}:{website_server.port}/"
            in out), out
    assert re.search(r"Index document:\s+index.html$", out, re.M), out
    assert re.search(r"Error document:\s+error.html$", out, re.M), out
    out = run("ws-delete", f"s3://{bucket}").stdout
    assert f"Bucket 's3://{bucket}/': website configuration deleted." in out, out
    assert client_error(c.get_bucket_website,
                        Bucket=bucket) == ("NoSuchWebsiteConfiguration", 404)
    out = run("ws-info", f"s3://{bucket}").stdout
    assert "No website configuration found." in out, out


def test_website_endpoint_serves_index_and_error_documents(ws, website_server, tmp_path):
    runners, c, bucket = ws
    run = runners[False]
    site = tmp_path / "site"
    write_tree(site, {"index.html": b"<h1>home</h1>", "docs/index.html": b"<h1>docs</h1>",
                      "error.html": b"<h1>not here</h1>"})
    run("sync", "--acl-public", "--no-mime-magic", f"{site}/", f"s3://{bucket}/")
    assert c.head_object(Bucket=bucket, Key="index.html")["ContentType"].startswith("text/html")
    run("ws-create", "--ws-index=index.html", "--ws-error=error.html", f"s3://{bucket}")
    url = re.search(r"Website endpoint: (\S+)", run("ws-info", f"s3://{bucket}").stdout).group(1)
    home = website_get(website_server, url)
    assert (home.status, home.body) == (200, b"<h1>home</h1>")
    assert home.headers["content-type"].startswith("text/html")
    docs = website_get(website_server, url, "docs/")
    assert (docs.status, docs.body) == (200, b"<h1>docs</h1>")
    # Anonymous visitors who may not list the bucket get 403 for a missing key, as on
    # S3; with a public bucket it is 404. Both serve the error document.
    missing = website_get(website_server, url, "nope.html")
    assert (missing.status, missing.body) == (403, b"<h1>not here</h1>")
    run("setacl", "--acl-public", f"s3://{bucket}")
    missing = website_get(website_server, url, "nope.html")
    assert (missing.status, missing.body) == (404, b"<h1>not here</h1>")
    # After ws-delete the bucket is no longer a website.
    run("ws-delete", f"s3://{bucket}")
    gone = website_get(website_server, url)
    assert gone.status == 404 and b"NoSuchWebsiteConfiguration" in gone.body, gone.body
