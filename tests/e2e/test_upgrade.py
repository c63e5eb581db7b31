"""Upgrades (issue 8): a data directory written by an earlier build is read by this one.

Each fixture in fixtures/ is a data directory packed by fixtures/make_upgrade_fixture.py
run with an earlier build, with a manifest of what it holds. The current build must
serve all of it unchanged (objects inline and in blob files, multipart, SSE-S3, SSE-KMS
and SSE-C, metadata, tags, ACLs, versions and delete markers, an unfinished upload,
bucket policy, CORS and tagging, an IAM user's key, policies and group), record the
directory's format, keep working on it across a restart, and leave nothing for scrub to
report. A directory of a newer format is refused, untouched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, CofferServer, coffer_bin
from test_scrub import scrub

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("data-format-*.tar.gz"))
FORMAT_HEADER = "coffer data directory"
CURRENT_FORMAT = 1


def anonymous_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def open_fixture(archive: Path, tmp: Path) -> tuple[CofferServer, dict]:
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    data = tmp / "data"
    manifest = json.loads((data / "manifest.json").read_text())
    root = manifest["root"]
    args = ["--allow-sse-c-over-http"] + [a for k in manifest["kms_key_ids"]
                                          for a in ("--kms-key-id", k)]
    srv = CofferServer(data, tmp, root["access_key"], root["secret_key"], args)
    return srv, manifest


def client(srv: CofferServer, key: dict | None = None):
    """The root's client, or one with `key`'s credentials."""
    if key:
        return srv.client(key["access_key"], key["secret_key"], retries={"max_attempts": 1})
    return srv.client(retries={"max_attempts": 1})


def check_everything(srv: CofferServer, manifest: dict) -> None:
    s3 = client(srv)
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["plain", "versioned"]
    for o in manifest["objects"]:
        kw = {}
        if "sse_c_key" in o:
            kw = {"SSECustomerAlgorithm": "AES256",
                  "SSECustomerKey": base64.b64decode(o["sse_c_key"])}
        got = s3.get_object(Bucket=o["bucket"], Key=o["key"], **kw)
        data = got["Body"].read()
        where = f"{o['bucket']}/{o['key']}"
        assert (hashlib.md5(data).hexdigest(), len(data)) == (o["md5"], o["size"]), where
        assert got["ETag"] == o["etag"], where
        if o.get("version_id"):
            assert got["VersionId"] == o["version_id"], where
        if "content_type" in o:
            assert got["ContentType"] == o["content_type"], where
        if "metadata" in o:
            assert got["Metadata"] == o["metadata"], where
        if "tags" in o:
            tags = s3.get_object_tagging(Bucket=o["bucket"], Key=o["key"])["TagSet"]
            assert {t["Key"]: t["Value"] for t in tags} == o["tags"], where
        if "sse" in o:
            assert got["ServerSideEncryption"] == o["sse"], where
        if o.get("parts"):
            head = s3.head_object(Bucket=o["bucket"], Key=o["key"], PartNumber=1)
            assert head["PartsCount"] == o["parts"], where
        if o.get("public"):
            status, body = anonymous_get(f"{srv.endpoint}/{o['bucket']}/{o['key']}")
            assert status == 200 and hashlib.md5(body).hexdigest() == o["md5"], where
    keys = sorted(k["Key"] for k in s3.list_objects_v2(Bucket="plain")["Contents"])
    assert keys == sorted(o["key"] for o in manifest["objects"] if o["bucket"] == "plain")
    # Anonymous reads under dir/ come from the bucket policy.
    assert json.loads(s3.get_bucket_policy(Bucket="plain")["Policy"]) == manifest["bucket_policy"]
    assert anonymous_get(f"{srv.endpoint}/plain/dir/empty")[0] == 200
    assert anonymous_get(f"{srv.endpoint}/plain/small.txt")[0] == 403
    assert s3.get_bucket_tagging(Bucket="plain")["TagSet"] == [{"Key": "env", "Value": "prod"}]
    rules = s3.get_bucket_cors(Bucket="plain")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://example.com"]
    # Versions, newest first, behind a delete marker.
    listed = s3.list_object_versions(Bucket="versioned", Prefix="doc")
    assert [v["VersionId"] for v in listed["Versions"]] == \
        [v["version_id"] for v in reversed(manifest["doc_versions"])]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [manifest["doc_delete_marker"]]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="versioned", Key="doc")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    for v in manifest["doc_versions"]:
        data = s3.get_object(Bucket="versioned", Key="doc", VersionId=v["version_id"])["Body"].read()
        assert hashlib.md5(data).hexdigest() == v["md5"]
    pending = manifest["pending_upload"]
    parts = s3.list_parts(Bucket=pending["bucket"], Key=pending["key"],
                          UploadId=pending["upload_id"])["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    # The IAM user's key, inline policy and group still decide what it may do.
    alice = client(srv, manifest["alice"])
    assert alice.get_object(Bucket="plain", Key="small.txt")["Body"].read() == b"hello world"
    with pytest.raises(ClientError) as e:
        alice.put_object(Bucket="plain", Key="nope", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name=REGION,
                       aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key)
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["read-plain"]
    groups = iam.list_groups_for_user(UserName="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == ["readers"]
    attached = iam.list_attached_group_policies(GroupName="readers")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonS3ReadOnlyAccess"]


@pytest.mark.parametrize("archive", FIXTURES, ids=[a.name for a in FIXTURES])
def test_data_from_an_earlier_build_is_served_unchanged(archive, tmp_path):
    srv, manifest = open_fixture(archive, tmp_path)
    data = srv.data_dir
    had_marker = (data / "FORMAT").exists()
    try:
        srv.start()
        check_everything(srv, manifest)
        # The format is recorded (format 1 directories predate the marker).
        assert (data / "FORMAT").read_text() == f"{FORMAT_HEADER}\nformat {CURRENT_FORMAT}\n"
        # New writes beside the old data, the unfinished upload completed, then a restart.
        s3 = client(srv)
        s3.put_object(Bucket="plain", Key="after-upgrade", Body=b"new data")
        pending = manifest["pending_upload"]
        part = s3.list_parts(Bucket=pending["bucket"], Key=pending["key"],
                             UploadId=pending["upload_id"])["Parts"][0]
        s3.complete_multipart_upload(
            Bucket=pending["bucket"], Key=pending["key"], UploadId=pending["upload_id"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        assert srv.stop() == 0
        srv.start()
        s3 = client(srv)
        assert s3.get_object(Bucket="plain", Key="after-upgrade")["Body"].read() == b"new data"
        assert s3.head_object(Bucket="plain", Key="pending.bin")["ContentLength"] == 1000
        assert srv.stop() == 0
    finally:
        srv.stop()
    code, report, stderr = scrub(data)
    assert code == 0, (report, stderr)
    if archive.name == "data-format-1.tar.gz":
        assert not had_marker, "format 1 directories predate the FORMAT file"


def test_a_directory_of_a_newer_format_is_refused_untouched(server_factory):
    srv = server_factory(start=False)
    srv.start()
    srv.client().create_bucket(Bucket="kept")
    assert srv.stop() == 0
    marker = srv.data_dir / "FORMAT"
    assert marker.read_text() == f"{FORMAT_HEADER}\nformat {CURRENT_FORMAT}\n"
    newer = f"{FORMAT_HEADER}\nformat {CURRENT_FORMAT + 1}\n"
    marker.write_text(newer)
    before = {p: p.stat().st_mtime_ns for p in srv.data_dir.rglob("*") if p.is_file()}
    res = subprocess.run([str(coffer_bin()), "serve", "--data", str(srv.data_dir),
                          "--address", "127.0.0.1:0"], capture_output=True, text=True,
                         timeout=30, env=srv.env())
    assert res.returncode != 0
    assert f"format {CURRENT_FORMAT + 1}, made by a newer Coffer" in res.stderr, res.stderr
    res = subprocess.run([str(coffer_bin()), "scrub", "--data", str(srv.data_dir)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "made by a newer Coffer" in res.stderr, res.stderr
    assert marker.read_text() == newer
    after = {p: p.stat().st_mtime_ns for p in srv.data_dir.rglob("*") if p.is_file()}
    assert after == before
