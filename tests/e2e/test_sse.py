"""Server-side encryption seen through boto3 (and raw signed requests where boto3 would
fix up or refuse what a test means to send).

SSE-S3 as every bucket's default, bucket default encryption (Get/Put/DeleteBucketEncryption),
SSE-KMS against the local key store (`--kms-key-id`), SSE-C (single PUT, ranged reads,
multipart, refusal over plain HTTP), CopyObject and UploadPartCopy between modes, and the
at-rest check: no plaintext (and no SSE-C key) anywhere under the data directory, and every
object still readable after a restart.

AWS behaviour pinned here, and where it is written down:
- Every bucket has SSE-S3 as its base encryption since January 2023; GetBucketEncryption on a
  new bucket answers that rule (API_GetBucketEncryption). PUT/GET/HEAD report
  `x-amz-server-side-encryption: AES256` (API_PutObject, API_GetObject).
- PutBucketEncryption cannot make SSE-C a bucket default ("PutBucketEncryption doesn't
  support enabling SSE-C as the default encryption method", userguide/specifying-s3-c-encryption).
- `aws:kms` without a key id uses the AWS managed key `aws/s3` (API_PutObject,
  SSEKMSKeyId). A KMS key id without `aws:kms` is 400 InvalidArgument.
- SSE-C: S3 rejects SSE-C requests over HTTP (userguide/ServerSideEncryptionCustomerKeys);
  it stores only a salted HMAC of the key, never the key; the object's SSE-C headers are
  needed on GET/HEAD and on every UploadPart, not on CompleteMultipartUpload unless the
  upload uses a checksum algorithm (API_CompleteMultipartUpload, SSECustomerKey).
- A copy's destination encryption comes from the copy request's own encryption headers,
  else the destination bucket's default; the source's encryption is not carried over
  (API_CopyObject, x-amz-server-side-encryption).
- GET/HEAD of an SSE-S3 or SSE-KMS object with `x-amz-server-side-encryption` is
  400 Bad Request (API_GetObject, API_HeadObject).

Coffer's local KMS: response key ids may be the bare id ("testkey-1") or an ARN ending in
it (what AWS sends); both are accepted here.

SSE-C keys are passed to boto3 base64-encoded together with their MD5: with the MD5 given,
botocore sends the key as is (without it, botocore base64-encodes the key itself and
computes the MD5, so a missing or wrong MD5 can only be sent raw).
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import helpers as h
from helpers import err, err_of, status, endpoints
from conftest import REGION, coffer_bin, empty_and_delete_bucket

MiB = 1024 * 1024
KiB = 1024

KEY1 = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs="
KEY1_MD5 = "DWygnHRtgiJ77HCm+1rvHw=="
KEY2 = "6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4="
KEY2_MD5 = "arxBvwY2V4SiOne6yppVPQ=="

SSEC1 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY1, "SSECustomerKeyMD5": KEY1_MD5}
SSEC2 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY2, "SSECustomerKeyMD5": KEY2_MD5}
COPY_SSEC1 = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY1,
              "CopySourceSSECustomerKeyMD5": KEY1_MD5}
COPY_SSEC2 = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY2,
              "CopySourceSSECustomerKeyMD5": KEY2_MD5}
KMS1 = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "testkey-1"}
KMS2 = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "testkey-2"}

H_ALG = "x-amz-server-side-encryption-customer-algorithm"
H_KEY = "x-amz-server-side-encryption-customer-key"
H_MD5 = "x-amz-server-side-encryption-customer-key-MD5"

# The normalised encryption of a response (see `mode`).
SSE_S3 = ("AES256",)
SSE_C1 = ("SSE-C", "AES256", KEY1_MD5)
SSE_C2 = ("SSE-C", "AES256", KEY2_MD5)
SSE_KMS1 = ("aws:kms", "testkey-1")
SSE_KMS2 = ("aws:kms", "testkey-2")
SSE_KMS_DEFAULT = ("aws:kms", "aws/s3")

KMS_ARGS = ["--kms-key-id", "testkey-1", "--kms-key-id", "testkey-2"]


# ---------------------------------------------------------------- helpers






def body_of(c, bucket, key, **kw) -> bytes:
    return c.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def rnd(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def kms_name(key_id: str | None) -> str | None:
    """The key id of an `x-amz-server-side-encryption-aws-kms-key-id` value: the bare id,
    or the part after `key/` or `alias/` of an ARN."""
    if key_id and key_id.startswith("arn:"):
        resource = key_id.split(":", 5)[5]
        return resource.split("/", 1)[1] if "/" in resource else resource
    return key_id


def mode(resp: dict) -> tuple:
    """How a boto3 response says the object is encrypted, normalised for comparison."""
    if resp.get("SSECustomerAlgorithm"):
        return ("SSE-C", resp["SSECustomerAlgorithm"], resp.get("SSECustomerKeyMD5"))
    sse = resp.get("ServerSideEncryption")
    if sse == "aws:kms":
        return ("aws:kms", kms_name(resp.get("SSEKMSKeyId")))
    return (sse,)


def assert_missing(c, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as ei:
        c.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404, ei.value.response


def assert_4xx(excinfo, codes: set[str] | None = None) -> None:
    code, st = err(excinfo)
    assert 400 <= st < 500, excinfo.value.response
    if codes is not None:
        assert code in codes, excinfo.value.response


def default_rule(c, bucket: str) -> dict:
    rules = c.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1, rules
    return rules[0]


def put_bucket_default(c, bucket: str, algorithm: str, key_id: str | None = None):
    by_default = {"SSEAlgorithm": algorithm}
    if key_id is not None:
        by_default["KMSMasterKeyID"] = key_id
    return c.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault":
                                                      by_default}]})


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def kms_server(server_factory):
    """A private server with two KMS keys that also takes SSE-C over plain HTTP."""
    return server_factory(extra_args=KMS_ARGS + ["--allow-sse-c-over-http"])


@pytest.fixture
def es3(kms_server):
    """boto3 client of the KMS/SSE-C server."""
    if not kms_server.alive():
        pytest.fail(f"the SSE test server is not running: {kms_server.stderr_tail()}")
    return kms_server.client()


@pytest.fixture
def ebucket(es3, bucket_name):
    """A fresh bucket on the KMS/SSE-C server, emptied and deleted afterwards."""
    es3.create_bucket(Bucket=bucket_name)
    yield bucket_name
    empty_and_delete_bucket(es3, bucket_name)


# ---------------------------------------------------------------- SSE-S3 by default
@pytest.mark.parametrize("size", [0, 1000, 300 * KiB + 7], ids=["empty", "inline", "blob"])
def test_put_without_encryption_headers_is_sse_s3(s3, bucket, size):
    data = rnd(size, size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data)
    assert mode(put) == SSE_S3, put
    assert "SSEKMSKeyId" not in put
    # SSE-S3 ETags stay the MD5 of the data.
    assert put["ETag"] == f'"{h.md5_hex(data)}"'
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert mode(got) == SSE_S3
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="k")
    assert mode(head) == SSE_S3
    assert head["ContentLength"] == size


def test_put_with_explicit_aes256_is_sse_s3(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"explicit", ServerSideEncryption="AES256")
    assert mode(put) == SSE_S3
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"explicit"
    assert mode(got) == SSE_S3


def test_default_multipart_upload_is_sse_s3(s3, bucket):
    parts = [rnd(5 * MiB, 1), rnd(KiB + 1, 2)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)["ETag"]
             for n, p in enumerate(parts, 1)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert mode(done) == SSE_S3, done
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert mode(got) == SSE_S3
    r = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 3}-{5 * MiB + 2}")
    assert r["Body"].read() == b"".join(parts)[5 * MiB - 3:5 * MiB + 3]


# ---------------------------------------------------------------- bucket default encryption
def test_new_bucket_reports_the_sse_s3_default_rule(s3, bucket):
    rule = default_rule(s3, bucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, rule
    assert rule.get("BucketKeyEnabled") is False, rule


def test_put_bucket_encryption_aes256_then_get(s3, bucket):
    assert status(put_bucket_default(s3, bucket, "AES256")) == 200
    rule = default_rule(s3, bucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert mode(s3.put_object(Bucket=bucket, Key="k", Body=b"x")) == SSE_S3


def test_bucket_default_kms_applies_to_new_objects_until_deleted(es3, ebucket):
    before = es3.put_object(Bucket=ebucket, Key="before", Body=b"written under SSE-S3")
    assert mode(before) == SSE_S3
    assert status(put_bucket_default(es3, ebucket, "aws:kms", "testkey-2")) == 200
    rule = default_rule(es3, ebucket)
    by_default = rule["ApplyServerSideEncryptionByDefault"]
    assert by_default["SSEAlgorithm"] == "aws:kms", rule
    assert kms_name(by_default.get("KMSMasterKeyID")) == "testkey-2", rule
    assert rule.get("BucketKeyEnabled", False) is False, rule

    data = rnd(70 * KiB + 3, 7)
    put = es3.put_object(Bucket=ebucket, Key="kms", Body=data)
    assert mode(put) == SSE_KMS2, put
    got = es3.get_object(Bucket=ebucket, Key="kms")
    assert got["Body"].read() == data
    assert mode(got) == SSE_KMS2
    assert mode(es3.head_object(Bucket=ebucket, Key="kms")) == SSE_KMS2
    # The request's own encryption wins over the bucket default.
    assert mode(es3.put_object(Bucket=ebucket, Key="s3", Body=b"s3",
                               ServerSideEncryption="AES256")) == SSE_S3
    assert mode(es3.put_object(Bucket=ebucket, Key="k1", Body=b"k1", **KMS1)) == SSE_KMS1
    assert mode(es3.put_object(Bucket=ebucket, Key="c", Body=b"c", **SSEC1)) == SSE_C1
    # A copy without encryption headers takes the bucket default, not the source's mode.
    copied = es3.copy_object(Bucket=ebucket, Key="s3-copy", CopySource={"Bucket": ebucket, "Key": "s3"})
    assert mode(copied) == SSE_KMS2, copied
    assert mode(es3.head_object(Bucket=ebucket, Key="s3-copy")) == SSE_KMS2
    assert body_of(es3, ebucket, "s3-copy") == b"s3"
    # Objects written earlier keep the encryption they were written with.
    assert mode(es3.head_object(Bucket=ebucket, Key="before")) == SSE_S3
    assert body_of(es3, ebucket, "before") == b"written under SSE-S3"

    assert status(es3.delete_bucket_encryption(Bucket=ebucket)) == 204
    rule = default_rule(es3, ebucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, rule
    assert mode(es3.put_object(Bucket=ebucket, Key="after", Body=b"after")) == SSE_S3
    got = es3.get_object(Bucket=ebucket, Key="kms")
    assert got["Body"].read() == data
    assert mode(got) == SSE_KMS2


def test_bucket_default_kms_without_key_id_uses_aws_s3(es3, ebucket):
    put_bucket_default(es3, ebucket, "aws:kms")
    put = es3.put_object(Bucket=ebucket, Key="k", Body=b"default kms key")
    assert mode(put) == SSE_KMS_DEFAULT, put
    got = es3.get_object(Bucket=ebucket, Key="k")
    assert got["Body"].read() == b"default kms key"
    assert mode(got) == SSE_KMS_DEFAULT


def test_bucket_default_sse_c_is_refused(s3, bucket):
    with pytest.raises(ClientError) as ei:
        put_bucket_default(s3, bucket, "SSE-C")
    assert err(ei)[1] == 400, ei.value.response
    assert default_rule(s3, bucket)["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert mode(s3.put_object(Bucket=bucket, Key="k", Body=b"x")) == SSE_S3


def test_bucket_encryption_of_missing_bucket_is_no_such_bucket(s3, bucket_name):
    for call in (lambda: s3.get_bucket_encryption(Bucket=bucket_name),
                 lambda: put_bucket_default(s3, bucket_name, "AES256"),
                 lambda: s3.delete_bucket_encryption(Bucket=bucket_name)):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("NoSuchBucket", 404)


# ---------------------------------------------------------------- SSE-KMS
@pytest.mark.parametrize("size", [1000, 300 * KiB + 7], ids=["inline", "blob"])
def test_kms_put_get_head_with_key_id(es3, ebucket, size):
    data = rnd(size, size)
    put = es3.put_object(Bucket=ebucket, Key="k", Body=data, **KMS1)
    assert mode(put) == SSE_KMS1, put
    got = es3.get_object(Bucket=ebucket, Key="k")
    assert got["Body"].read() == data
    assert mode(got) == SSE_KMS1
    head = es3.head_object(Bucket=ebucket, Key="k")
    assert mode(head) == SSE_KMS1
    assert head["ContentLength"] == size


def test_kms_without_key_id_uses_the_default_key(es3, ebucket):
    put = es3.put_object(Bucket=ebucket, Key="k", Body=b"aws managed", ServerSideEncryption="aws:kms")
    assert mode(put) == SSE_KMS_DEFAULT, put
    got = es3.get_object(Bucket=ebucket, Key="k")
    assert got["Body"].read() == b"aws managed"
    assert mode(got) == SSE_KMS_DEFAULT


def test_kms_unknown_key_id_is_rejected(es3, ebucket):
    bad = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "no-such-key"}
    with pytest.raises(ClientError) as ei:
        es3.put_object(Bucket=ebucket, Key="k", Body=b"x", **bad)
    code, st = err(ei)
    assert st == 400 and code in ("InvalidArgument", "KMS.NotFoundException"), ei.value.response
    assert_missing(es3, ebucket, "k")
    with pytest.raises(ClientError) as ei:
        es3.create_multipart_upload(Bucket=ebucket, Key="mp", **bad)
    code, st = err(ei)
    assert st == 400 and code in ("InvalidArgument", "KMS.NotFoundException"), ei.value.response
    assert es3.list_multipart_uploads(Bucket=ebucket).get("Uploads", []) == []


@pytest.mark.parametrize("kw", [
    {"SSEKMSKeyId": "testkey-1"},
    {"ServerSideEncryption": "AES256", "SSEKMSKeyId": "testkey-1"},
], ids=["key-id-alone", "key-id-with-aes256"])
def test_kms_key_id_without_aws_kms_is_invalid_argument(es3, ebucket, kw):
    with pytest.raises(ClientError) as ei:
        es3.put_object(Bucket=ebucket, Key="k", Body=b"x", **kw)
    assert err(ei) == ("InvalidArgument", 400)
    assert_missing(es3, ebucket, "k")


@pytest.mark.parametrize("value", ["aes:kms", "AES512"])
def test_unsupported_sse_value_is_invalid_argument(s3, bucket, value):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption=value)
    assert err(ei) == ("InvalidArgument", 400)
    assert_missing(s3, bucket, "k")


def test_kms_multipart_upload(es3, ebucket):
    parts = [rnd(5 * MiB, 11), rnd(2 * KiB + 5, 12)]
    up = es3.create_multipart_upload(Bucket=ebucket, Key="mp", **KMS1)
    assert mode(up) == SSE_KMS1, up
    uid = up["UploadId"]
    etags = [es3.upload_part(Bucket=ebucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)["ETag"]
             for n, p in enumerate(parts, 1)]
    done = es3.complete_multipart_upload(
        Bucket=ebucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert mode(done) == SSE_KMS1, done
    got = es3.get_object(Bucket=ebucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert mode(got) == SSE_KMS1
    r = es3.get_object(Bucket=ebucket, Key="mp", Range=f"bytes={5 * MiB - 5}-{5 * MiB + 4}")
    assert r["Body"].read() == b"".join(parts)[5 * MiB - 5:5 * MiB + 5]


# ---------------------------------------------------------------- encryption headers on reads
def test_get_and_head_of_sse_s3_object_with_sse_header_are_400(live_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"sse-s3 data")
    path = h.object_path(bucket, "k")
    got = h.signed(live_server, "GET", path, {"x-amz-server-side-encryption": "AES256"})
    assert got.status == 400, got.body
    assert got.error_code() == "InvalidArgument"
    head = h.signed(live_server, "HEAD", path, {"x-amz-server-side-encryption": "AES256"})
    assert head.status == 400
    assert h.signed(live_server, "GET", path).body == b"sse-s3 data"


@pytest.mark.parametrize("hdrs", [
    {"x-amz-server-side-encryption": "aws:kms"},
    {"x-amz-server-side-encryption": "aws:kms",
     "x-amz-server-side-encryption-aws-kms-key-id": "testkey-1"},
], ids=["sse", "sse-and-key-id"])
def test_get_of_kms_object_with_sse_headers_is_400(kms_server, es3, ebucket, hdrs):
    es3.put_object(Bucket=ebucket, Key="k", Body=b"kms data", **KMS1)
    path = h.object_path(ebucket, "k")
    got = h.signed(kms_server, "GET", path, hdrs)
    assert got.status == 400, got.body
    assert got.error_code() == "InvalidArgument"
    assert h.signed(kms_server, "HEAD", path, hdrs).status == 400
    assert h.signed(kms_server, "GET", path).body == b"kms data"


def test_sse_c_headers_on_an_sse_s3_object_are_400(es3, ebucket):
    es3.put_object(Bucket=ebucket, Key="k", Body=b"not sse-c")
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k", **SSEC1)
    code, st = err(ei)
    assert st == 400 and code in ("InvalidRequest", "InvalidArgument"), ei.value.response
    with pytest.raises(ClientError) as ei:
        es3.head_object(Bucket=ebucket, Key="k", **SSEC1)
    assert err(ei)[1] == 400


# ---------------------------------------------------------------- SSE-C over HTTP and HTTPS
def test_sse_c_over_plain_http_is_refused_without_the_flag(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)
    assert_missing(s3, bucket, "k")
    with pytest.raises(ClientError) as ei:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "plain"},
                       **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)
    assert_missing(s3, bucket, "copy")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="plain", **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("sse-tls")
    res = subprocess.run([str(coffer_bin()), "cert", "--cert", str(d / "cert.pem"),
                          "--key", str(d / "key.pem")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return d / "cert.pem", d / "key.pem"




def test_sse_c_over_https_works_and_plain_http_is_refused(server_factory, tls_cert):
    cert, key = tls_cert
    srv = server_factory(extra_args=["--tls-cert", str(cert), "--tls-key", str(key),
                                     "--tls-address", "127.0.0.1:0"])
    eps = endpoints(srv)
    https_ep = next(e for e in eps if e.startswith("https://"))
    http_ep = next(e for e in eps if e.startswith("http://"))

    def client(endpoint, **kw):
        return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}), **kw)

    tls = client(https_ep, verify=str(cert))
    plain = client(http_ep)
    tls.create_bucket(Bucket="ssec-tls")
    data = rnd(100 * KiB + 1, 21)
    put = tls.put_object(Bucket="ssec-tls", Key="k", Body=data, **SSEC1)
    assert mode(put) == SSE_C1, put
    got = tls.get_object(Bucket="ssec-tls", Key="k", **SSEC1)
    assert got["Body"].read() == data
    assert mode(got) == SSE_C1
    with pytest.raises(ClientError) as ei:
        plain.get_object(Bucket="ssec-tls", Key="k", **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as ei:
        plain.put_object(Bucket="ssec-tls", Key="k2", Body=b"x", **SSEC1)
    assert err(ei) == ("InvalidRequest", 400)
    assert_missing(tls, "ssec-tls", "k2")


# ---------------------------------------------------------------- SSE-C objects
@pytest.mark.parametrize("size", [0, 1000, 300 * KiB + 7], ids=["empty", "inline", "blob"])
def test_sse_c_put_get_head_round_trip(es3, ebucket, size):
    data = rnd(size, size + 1)
    put = es3.put_object(Bucket=ebucket, Key="k", Body=data, **SSEC1)
    assert put.get("SSECustomerAlgorithm") == "AES256", put
    assert put.get("SSECustomerKeyMD5") == KEY1_MD5, put
    got = es3.get_object(Bucket=ebucket, Key="k", **SSEC1)
    assert got["Body"].read() == data
    assert mode(got) == SSE_C1
    head = es3.head_object(Bucket=ebucket, Key="k", **SSEC1)
    assert mode(head) == SSE_C1
    assert head["ContentLength"] == size


def test_sse_c_get_and_head_without_the_key_are_400(es3, ebucket):
    es3.put_object(Bucket=ebucket, Key="k", Body=b"secret", **SSEC1)
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k")
    code, st = err(ei)
    assert st == 400 and code in ("InvalidRequest", "InvalidArgument"), ei.value.response
    with pytest.raises(ClientError) as ei:
        es3.head_object(Bucket=ebucket, Key="k")
    assert err(ei)[1] == 400
    # Listing needs no key.
    listed = es3.list_objects_v2(Bucket=ebucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", 6)]


def test_sse_c_get_with_another_key_is_rejected(es3, ebucket):
    es3.put_object(Bucket=ebucket, Key="k", Body=b"secret", **SSEC1)
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k", **SSEC2)
    assert_4xx(ei, {"InvalidArgument", "AccessDenied"})
    with pytest.raises(ClientError) as ei:
        es3.head_object(Bucket=ebucket, Key="k", **SSEC2)
    assert_4xx(ei)
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k", Range="bytes=0-1", **SSEC2)
    assert_4xx(ei, {"InvalidArgument", "AccessDenied"})
    assert body_of(es3, ebucket, "k", **SSEC1) == b"secret"


@pytest.mark.parametrize("enc", ["sse-s3", "sse-kms", "sse-c"])
def test_ranged_reads_at_odd_offsets(es3, ebucket, enc):
    size = 3 * MiB + 123
    data = rnd(size, 99)
    write_kw, read_kw = {"sse-s3": ({}, {}), "sse-kms": (KMS1, {}), "sse-c": (SSEC1, SSEC1)}[enc]
    es3.put_object(Bucket=ebucket, Key="big", Body=data, **write_kw)
    block = 256 * KiB
    spans = [(0, 0), (1, 16), (15, 17), (16, 31), (block - 1, block), (block * 3 + 3, block * 4 + 5),
             (MiB - 1, 2 * MiB + 1), (7, size - 1), (size - 7, size - 1)]
    for a, b in spans:
        r = es3.get_object(Bucket=ebucket, Key="big", Range=f"bytes={a}-{b}", **read_kw)
        assert status(r) == 206
        assert r["ContentRange"] == f"bytes {a}-{b}/{size}"
        assert r["Body"].read() == data[a:b + 1], (a, b)
    r = es3.get_object(Bucket=ebucket, Key="big", Range="bytes=-100", **read_kw)
    assert r["Body"].read() == data[-100:]
    r = es3.get_object(Bucket=ebucket, Key="big", Range="bytes=3000001-", **read_kw)
    assert r["ContentRange"] == f"bytes 3000001-{size - 1}/{size}"
    assert r["Body"].read() == data[3000001:]


def _ssec_headers(alg=None, key=None, md5=None) -> dict[str, str]:
    out = {}
    if alg is not None:
        out[H_ALG] = alg
    if key is not None:
        out[H_KEY] = key
    if md5 is not None:
        out[H_MD5] = md5
    return out


_SHORT_KEY = bytes(range(16))
_SHORT_KEY_B64 = base64.b64encode(_SHORT_KEY).decode()
_SHORT_KEY_MD5 = base64.b64encode(hashlib.md5(_SHORT_KEY).digest()).decode()


@pytest.mark.parametrize("hdrs,codes", [
    (_ssec_headers("AES256", KEY1, KEY2_MD5), {"InvalidArgument"}),
    (_ssec_headers("AES256", KEY1, None), {"InvalidArgument"}),
    (_ssec_headers("AES256", None, KEY1_MD5), {"InvalidArgument"}),
    (_ssec_headers(None, KEY1, KEY1_MD5), {"InvalidArgument"}),
    (_ssec_headers("AES128", KEY1, KEY1_MD5),
     {"InvalidArgument", "InvalidEncryptionAlgorithmError"}),
    (_ssec_headers("AES256", _SHORT_KEY_B64, _SHORT_KEY_MD5), {"InvalidArgument"}),
], ids=["wrong-md5", "missing-md5", "missing-key", "key-without-algorithm",
        "unsupported-algorithm", "128-bit-key"])
def test_sse_c_put_with_bad_key_headers_is_400(kms_server, es3, ebucket, hdrs, codes):
    resp = h.signed(kms_server, "PUT", h.object_path(ebucket, "k"), hdrs, b"secret data")
    assert resp.status == 400, resp.body
    assert resp.error_code() in codes, resp.body
    assert_missing(es3, ebucket, "k")


@pytest.mark.parametrize("sse", [
    {"ServerSideEncryption": "AES256"},
    {"ServerSideEncryption": "aws:kms"},
    {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "testkey-1"},
], ids=["aes256", "aws-kms", "aws-kms-with-key"])
def test_sse_c_together_with_server_side_encryption_is_invalid_argument(es3, ebucket, sse):
    with pytest.raises(ClientError) as ei:
        es3.put_object(Bucket=ebucket, Key="k", Body=b"x", **SSEC1, **sse)
    assert err(ei) == ("InvalidArgument", 400)
    assert_missing(es3, ebucket, "k")


def test_sse_c_versions_keep_their_own_encryption(es3, ebucket):
    es3.put_bucket_versioning(Bucket=ebucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = es3.put_object(Bucket=ebucket, Key="k", Body=b"v1 secret", **SSEC1)["VersionId"]
    v2 = es3.put_object(Bucket=ebucket, Key="k", Body=b"v2 plain")["VersionId"]
    v3 = es3.put_object(Bucket=ebucket, Key="k", Body=b"v3 other key", **SSEC2)["VersionId"]
    assert len({v1, v2, v3}) == 3
    assert body_of(es3, ebucket, "k", **SSEC2) == b"v3 other key"
    got = es3.get_object(Bucket=ebucket, Key="k", VersionId=v2)
    assert got["Body"].read() == b"v2 plain"
    assert mode(got) == SSE_S3
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k", VersionId=v1)
    assert err(ei)[1] == 400
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="k", VersionId=v1, **SSEC2)
    assert_4xx(ei)
    got = es3.get_object(Bucket=ebucket, Key="k", VersionId=v1, **SSEC1)
    assert got["Body"].read() == b"v1 secret"
    assert mode(got) == SSE_C1


# ---------------------------------------------------------------- SSE-C multipart
def test_sse_c_multipart_upload(es3, ebucket):
    parts = [rnd(5 * MiB, 31), rnd(MiB + 3, 32)]
    up = es3.create_multipart_upload(Bucket=ebucket, Key="mp", **SSEC1)
    assert mode(up) == SSE_C1, up
    uid = up["UploadId"]
    # Every part must carry the upload's key.
    with pytest.raises(ClientError) as ei:
        es3.upload_part(Bucket=ebucket, Key="mp", UploadId=uid, PartNumber=1, Body=parts[0][:KiB])
    assert err(ei)[1] == 400, ei.value.response
    with pytest.raises(ClientError) as ei:
        es3.upload_part(Bucket=ebucket, Key="mp", UploadId=uid, PartNumber=1, Body=parts[0][:KiB],
                        **SSEC2)
    assert err(ei)[1] == 400, ei.value.response
    etags = []
    for n, p in enumerate(parts, 1):
        r = es3.upload_part(Bucket=ebucket, Key="mp", UploadId=uid, PartNumber=n, Body=p, **SSEC1)
        assert mode(r) == SSE_C1, r
        etags.append(r["ETag"])
    listed = es3.list_parts(Bucket=ebucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MiB), (2, MiB + 3)]
    # No checksum algorithm was named, so Complete needs no key (API_CompleteMultipartUpload).
    # Completing an SSE-C upload takes its key (as S3 requires once parts
    # carry checksums, which SDKs send by default).
    with pytest.raises(ClientError) as ei:
        es3.complete_multipart_upload(
            Bucket=ebucket, Key="mp", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                       for n, e in enumerate(etags, 1)]})
    assert err(ei)[1] == 400
    es3.complete_multipart_upload(
        Bucket=ebucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
        **SSEC1)
    whole = b"".join(parts)
    got = es3.get_object(Bucket=ebucket, Key="mp", **SSEC1)
    assert hashlib.md5(got["Body"].read()).digest() == hashlib.md5(whole).digest()
    assert mode(got) == SSE_C1
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="mp")
    assert err(ei)[1] == 400
    with pytest.raises(ClientError) as ei:
        es3.get_object(Bucket=ebucket, Key="mp", **SSEC2)
    assert_4xx(ei)
    a, b = 5 * MiB - 11, 5 * MiB + 12
    r = es3.get_object(Bucket=ebucket, Key="mp", Range=f"bytes={a}-{b}", **SSEC1)
    assert r["Body"].read() == whole[a:b + 1]
    p2 = es3.get_object(Bucket=ebucket, Key="mp", PartNumber=2, **SSEC1)
    assert p2["Body"].read() == parts[1]
    assert es3.head_object(Bucket=ebucket, Key="mp", **SSEC1)["ContentLength"] == len(whole)


# ---------------------------------------------------------------- copies between modes
COPY_CASES = {
    # name: (source write params, copy params, destination read params, destination mode)
    "sse-c-to-sse-s3": (SSEC1, COPY_SSEC1, {}, SSE_S3),
    "sse-s3-to-sse-c": ({}, SSEC2, SSEC2, SSE_C2),
    "sse-kms-to-sse-c": (KMS1, SSEC1, SSEC1, SSE_C1),
    "sse-c-to-sse-c-other-key": (SSEC1, {**COPY_SSEC1, **SSEC2}, SSEC2, SSE_C2),
    "sse-c-to-sse-kms": (SSEC1, {**COPY_SSEC1, **KMS2}, {}, SSE_KMS2),
    "sse-kms-to-bucket-default": (KMS1, {}, {}, SSE_S3),
}


@pytest.mark.parametrize("size", [100, 70 * KiB + 3], ids=["inline", "blob"])
@pytest.mark.parametrize("case", list(COPY_CASES))
def test_copy_object_between_modes(es3, ebucket, case, size):
    src_kw, copy_kw, read_kw, expected = COPY_CASES[case]
    data = rnd(size, size * 3 + len(case))
    es3.put_object(Bucket=ebucket, Key="src", Body=data, **src_kw)
    src_read = SSEC1 if src_kw is SSEC1 else {}
    copied = es3.copy_object(Bucket=ebucket, Key="dst", CopySource={"Bucket": ebucket, "Key": "src"},
                             **copy_kw)
    assert mode(copied) == expected, copied
    got = es3.get_object(Bucket=ebucket, Key="dst", **read_kw)
    assert got["Body"].read() == data
    assert mode(got) == expected
    assert mode(es3.head_object(Bucket=ebucket, Key="dst", **read_kw)) == expected
    if expected[0] == "SSE-C":
        with pytest.raises(ClientError) as ei:
            es3.get_object(Bucket=ebucket, Key="dst")
        assert err(ei)[1] == 400
    # The source is untouched.
    assert body_of(es3, ebucket, "src", **src_read) == data


def test_copy_of_sse_c_source_needs_its_key(es3, ebucket):
    es3.put_object(Bucket=ebucket, Key="src", Body=b"secret source", **SSEC1)
    src = {"Bucket": ebucket, "Key": "src"}
    with pytest.raises(ClientError) as ei:
        es3.copy_object(Bucket=ebucket, Key="dst", CopySource=src)
    assert err(ei)[1] == 400, ei.value.response
    with pytest.raises(ClientError) as ei:
        es3.copy_object(Bucket=ebucket, Key="dst", CopySource=src, **SSEC1)
    assert err(ei)[1] == 400, ei.value.response
    with pytest.raises(ClientError) as ei:
        es3.copy_object(Bucket=ebucket, Key="dst", CopySource=src, **COPY_SSEC2)
    assert_4xx(ei, {"InvalidArgument", "AccessDenied"})
    assert_missing(es3, ebucket, "dst")


def test_upload_part_copy_from_sse_c_source_into_sse_s3_upload(es3, ebucket):
    src = rnd(6 * MiB, 41)
    es3.put_object(Bucket=ebucket, Key="src", Body=src, **SSEC1)
    up = es3.create_multipart_upload(Bucket=ebucket, Key="dst")
    assert mode(up) == SSE_S3, up
    uid = up["UploadId"]
    source = {"Bucket": ebucket, "Key": "src"}
    with pytest.raises(ClientError) as ei:
        es3.upload_part_copy(Bucket=ebucket, Key="dst", UploadId=uid, PartNumber=1,
                             CopySource=source, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    assert err(ei)[1] == 400, ei.value.response
    p1 = es3.upload_part_copy(Bucket=ebucket, Key="dst", UploadId=uid, PartNumber=1,
                              CopySource=source, CopySourceRange=f"bytes=0-{5 * MiB - 1}",
                              **COPY_SSEC1)
    # The second part starts at an odd offset of the source.
    tail_from = 5 * MiB + 17
    p2 = es3.upload_part_copy(Bucket=ebucket, Key="dst", UploadId=uid, PartNumber=2,
                              CopySource=source, CopySourceRange=f"bytes={tail_from}-{6 * MiB - 1}",
                              **COPY_SSEC1)
    es3.complete_multipart_upload(Bucket=ebucket, Key="dst", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    expected = src[:5 * MiB] + src[tail_from:]
    got = es3.get_object(Bucket=ebucket, Key="dst")
    assert hashlib.md5(got["Body"].read()).digest() == hashlib.md5(expected).digest()
    assert mode(got) == SSE_S3
    r = es3.get_object(Bucket=ebucket, Key="dst", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert r["Body"].read() == expected[5 * MiB - 2:5 * MiB + 2]


# ---------------------------------------------------------------- at rest, and across restarts
def _pattern(tag: str, size: int) -> tuple[bytes, bytes]:
    """(a 64-byte run unique to this object, `size` bytes of that run repeated)."""
    run = f"<coffer-at-rest:{tag}:{uuid.uuid4().hex[:16]}>".encode()
    assert len(run) <= 64, tag
    run += b"#" * (64 - len(run))
    return run, (run * (size // 64 + 1))[:size]


def _scan(root: Path, needles: dict[str, bytes]) -> tuple[dict[str, list[str]], int, list[Path]]:
    """Which files under `root` hold each needle; bytes scanned; files scanned."""
    found: dict[str, list[str]] = {}
    total = 0
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]
    for p in files:
        data = p.read_bytes()
        total += len(data)
        for name, needle in needles.items():
            if needle in data:
                found.setdefault(name, []).append(str(p.relative_to(root)))
    return found, total, files


def test_object_data_is_encrypted_at_rest_and_readable_after_restart(server_factory):
    srv = server_factory(extra_args=KMS_ARGS + ["--allow-sse-c-over-http"])
    c = srv.client()
    b = f"at-rest-{uuid.uuid4().hex[:10]}"
    c.create_bucket(Bucket=b)
    needles: dict[str, bytes] = {}
    # key -> (expected data, read params, expected mode)
    expect: dict[str, tuple[bytes, dict, tuple]] = {}

    def put(key: str, tag: str, size: int, write_kw: dict, read_kw: dict, want: tuple) -> bytes:
        run, data = _pattern(tag, size)
        resp = c.put_object(Bucket=b, Key=key, Body=data, **write_kw)
        assert mode(resp) == want, resp
        needles[key] = run
        expect[key] = (data, read_kw, want)
        return data

    put("sse-s3/big", "s3-big", 2 * MiB, {}, {}, SSE_S3)
    put("sse-s3/small", "s3-small", KiB, {}, {}, SSE_S3)  # stored inline in the metadata file
    c_big = put("sse-c/big", "c-big", 2 * MiB, SSEC1, SSEC1, SSE_C1)
    put("sse-c/small", "c-small", KiB, SSEC1, SSEC1, SSE_C1)
    put("sse-kms/big", "kms-big", 2 * MiB, KMS1, {}, SSE_KMS1)
    put("sse-kms/small", "kms-small", KiB, {"ServerSideEncryption": "aws:kms"}, {}, SSE_KMS_DEFAULT)

    # An SSE-C multipart object (completed with the key, as s3transfer does).
    run, part1 = _pattern("c-multipart", 5 * MiB)
    part2 = (run * 20)[:KiB + 7]
    needles["sse-c/multipart"] = run
    uid = c.create_multipart_upload(Bucket=b, Key="sse-c/multipart", **SSEC1)["UploadId"]
    etags = [c.upload_part(Bucket=b, Key="sse-c/multipart", UploadId=uid, PartNumber=n, Body=p,
                           **SSEC1)["ETag"] for n, p in enumerate([part1, part2], 1)]
    c.complete_multipart_upload(Bucket=b, Key="sse-c/multipart", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]}, **SSEC1)
    expect["sse-c/multipart"] = (part1 + part2, SSEC1, SSE_C1)

    # A copy of an SSE-C object into the bucket default, and a part of an unfinished upload.
    c.copy_object(Bucket=b, Key="copy/from-sse-c", CopySource={"Bucket": b, "Key": "sse-c/big"},
                  **COPY_SSEC1)
    expect["copy/from-sse-c"] = (c_big, {}, SSE_S3)
    run, pending = _pattern("pending-part", MiB + 5)
    needles["pending upload part"] = run
    pending_uid = c.create_multipart_upload(Bucket=b, Key="pending")["UploadId"]
    pending_etag = c.upload_part(Bucket=b, Key="pending", UploadId=pending_uid, PartNumber=1,
                                 Body=pending)["ETag"]

    # Positive control: key names are metadata, stored as they are; the scan must see them.
    control = f"plaintext-key-name-{uuid.uuid4().hex}"
    c.put_object(Bucket=b, Key=control, Body=b"")

    code = srv.stop()
    assert code in (0, -signal.SIGTERM), f"coffer exited {code}: {srv.stderr_tail()}"

    key1_raw = base64.b64decode(KEY1)
    leaks, scanned, files = _scan(srv.data_dir, {
        **needles,
        "SSE-C key (raw)": key1_raw,
        "SSE-C key (base64)": KEY1.encode(),
        "control": control.encode(),
    })
    assert any(p.suffix == ".redb" for p in files), [str(p) for p in files]
    assert "control" in leaks and any(f.endswith(".redb") for f in leaks["control"]), (
        f"the scan did not find a key name in the metadata file; it proves nothing: {leaks}")
    del leaks["control"]
    # Everything written (~14 MiB) is somewhere on disk, just not readable.
    assert scanned >= 13 * MiB, scanned
    assert not leaks, f"plaintext or SSE-C key material found at rest: {leaks}"

    srv.start()
    c = srv.client()
    for key, (data, read_kw, want) in expect.items():
        got = c.get_object(Bucket=b, Key=key, **read_kw)
        assert hashlib.md5(got["Body"].read()).digest() == hashlib.md5(data).digest(), key
        assert mode(got) == want, key
        assert mode(c.head_object(Bucket=b, Key=key, **read_kw)) == want, key
    r = c.get_object(Bucket=b, Key="sse-c/big", Range="bytes=1000001-1000100", **SSEC1)
    assert r["Body"].read() == c_big[1000001:1000101]
    with pytest.raises(ClientError) as ei:
        c.get_object(Bucket=b, Key="sse-c/big", **SSEC2)
    assert_4xx(ei, {"InvalidArgument", "AccessDenied"})
    with pytest.raises(ClientError) as ei:
        c.get_object(Bucket=b, Key="sse-c/small")
    assert err(ei)[1] == 400
    # The unfinished upload's part survived too, and completes into readable data.
    c.complete_multipart_upload(Bucket=b, Key="pending", UploadId=pending_uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": pending_etag}]})
    got = c.get_object(Bucket=b, Key="pending")
    assert got["Body"].read() == pending
    assert mode(got) == SSE_S3
