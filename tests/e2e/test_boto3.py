"""S3 behaviour seen through boto3 (plus a few raw signed requests where boto3 hides the wire)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import time
import urllib.error
import urllib.request
from urllib.parse import unquote_plus

import boto3
import botocore.httpchecksum
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import helpers as h
from helpers import err, err_of, status, endpoints

MiB = 1024 * 1024






def body_of(s3, bucket, key, **kw) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


# ---------------------------------------------------------------- buckets
def test_list_buckets_includes_created_bucket_with_owner(s3, bucket):
    resp = s3.list_buckets()
    names = [b["Name"] for b in resp["Buckets"]]
    assert bucket in names
    entry = next(b for b in resp["Buckets"] if b["Name"] == bucket)
    assert isinstance(entry["CreationDate"], dt.datetime)
    assert resp["Owner"]["ID"]


def test_create_bucket_without_location_constraint(s3, bucket_name, cleanup_buckets):
    cleanup_buckets.append(bucket_name)
    resp = s3.create_bucket(Bucket=bucket_name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.head_bucket(Bucket=bucket_name)


def test_create_bucket_with_location_constraint(s3, bucket_name, cleanup_buckets):
    # AWS rejects a LocationConstraint naming us-east-1 (InvalidLocationConstraint) while
    # many S3 servers accept their own region; either is fine, a 5xx or a bucket in some
    # other region is not.
    cleanup_buckets.append(bucket_name)
    try:
        s3.create_bucket(Bucket=bucket_name,
                         CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    except ClientError as e:
        assert err_of(e) == ("InvalidLocationConstraint", 400), e.response
        return
    loc = s3.get_bucket_location(Bucket=bucket_name)["LocationConstraint"]
    assert loc in (None, "", "us-east-1")


def test_create_bucket_in_other_region_is_rejected(s3, bucket_name, cleanup_buckets):
    cleanup_buckets.append(bucket_name)
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=bucket_name,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    code, status = err(ei)
    assert status == 400
    assert code in ("IllegalLocationConstraintException", "InvalidLocationConstraint")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket_name)


def test_create_bucket_twice_succeeds_in_us_east_1(s3, bucket):
    # S3's legacy rule for us-east-1 (other regions answer 409
    # BucketAlreadyOwnedByYou; the engine tests cover that).
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.create_bucket(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


@pytest.mark.parametrize("name", ["UPPER", "ab", "192.168.1.1", "a..b", "-leading", "x" * 64,
                                  "under_score"])
def test_create_bucket_invalid_name_is_rejected(live_server, name):
    # botocore validates some names client-side; send raw so the server decides.
    resp = h.signed(live_server, "PUT", "/" + name)
    assert resp.status == 400, (resp.status, resp.body)
    assert resp.error_code() == "InvalidBucketName"


def test_head_bucket_200_then_404(s3, bucket, bucket_name):
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket="no-such-" + bucket)
    assert ei.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_delete_non_empty_bucket_is_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket)
    assert err(ei) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=bucket)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_delete_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket_name)
    assert err(ei) == ("NoSuchBucket", 404)


def test_get_bucket_location_is_us_east_1(s3, bucket):
    loc = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    # AWS answers an empty LocationConstraint for us-east-1.
    assert loc in (None, "", "us-east-1")


def test_put_object_in_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket_name, Key="k", Body=b"x")
    assert err(ei) == ("NoSuchBucket", 404)


# ---------------------------------------------------------------- put/get
def test_put_get_round_trips_body_metadata_and_headers(s3, bucket):
    body = os.urandom(3000)
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    put = s3.put_object(
        Bucket=bucket, Key="obj", Body=body,
        Metadata={"color": "blue", "multi-word": "hello world"},
        ContentType="image/png", CacheControl="max-age=60",
        ContentDisposition='attachment; filename="x.png"', ContentEncoding="identity",
        ContentLanguage="en-GB", Expires=expires,
    )
    assert put["ETag"] == f'"{h.md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"color": "blue", "multi-word": "hello world"}
    assert got["ContentType"] == "image/png"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="x.png"'
    assert got["ContentEncoding"] == "identity"
    assert got["ContentLanguage"] == "en-GB"
    hdrs = got["ResponseMetadata"]["HTTPHeaders"]
    assert hdrs.get("expires") == "Wed, 02 Jan 2030 03:04:05 GMT"
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"] == got["Metadata"]
    assert head["ContentType"] == "image/png"
    assert head["ETag"] == put["ETag"]


def test_overwrite_replaces_body_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"first", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="o", Body=b"second!")
    got = s3.get_object(Bucket=bucket, Key="o")
    assert got["Body"].read() == b"second!"
    assert got["Metadata"] == {}


def test_empty_object_round_trips(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == f'"{h.md5_hex(b"")}"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0


def test_etag_is_quoted_hex_md5(s3, bucket):
    for size in (1, 1000, 256 * 1024 + 7):
        body = os.urandom(size)
        etag = s3.put_object(Bucket=bucket, Key=f"e{size}", Body=body)["ETag"]
        assert etag == '"' + hashlib.md5(body).hexdigest() + '"'
        assert s3.head_object(Bucket=bucket, Key=f"e{size}")["ETag"] == etag


def test_content_md5_correct_is_accepted(s3, bucket):
    body = b"checked body"
    s3.put_object(Bucket=bucket, Key="md5ok", Body=body, ContentMD5=h.md5_b64(body))
    assert body_of(s3, bucket, "md5ok") == body


def test_content_md5_wrong_is_bad_digest_and_stores_nothing(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5bad", Body=b"real body",
                      ContentMD5=h.md5_b64(b"other body"))
    assert err(ei) == ("BadDigest", 400)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="md5bad")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_content_md5_malformed_is_invalid_digest(live_server, bucket):
    resp = h.signed(live_server, "PUT", h.object_path(bucket, "md5junk"),
                    {"Content-MD5": "not-base64!!"}, b"abc")
    assert resp.status == 400, resp.body
    assert resp.error_code() == "InvalidDigest"


# ---------------------------------------------------------------- ranges
@pytest.fixture
def ranged(s3, bucket):
    body = bytes(range(256)) * 40  # 10240 bytes
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    return bucket, body


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=0-0", 0, 0),
    ("bytes=10-99", 10, 99),
    ("bytes=10000-", 10000, 10239),
    ("bytes=-100", 10140, 10239),
    ("bytes=10200-20000", 10200, 10239),
])
def test_range_get_returns_206_with_content_range(s3, ranged, spec, start, end):
    bucket, body = ranged
    got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(body)}"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == body[start:end + 1]


@pytest.mark.parametrize("spec", ["bytes=10240-", "bytes=20000-30000"])
def test_unsatisfiable_range_is_416_invalid_range(s3, ranged, spec):
    bucket, _ = ranged
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert err(ei) == ("InvalidRange", 416)


def test_head_with_range_reports_partial_length(s3, ranged):
    bucket, body = ranged
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=0-9")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ov", Body=b"data", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="ov", ResponseContentType="application/x-test",
                        ResponseCacheControl="no-cache",
                        ResponseContentDisposition="inline",
                        ResponseContentLanguage="fr",
                        ResponseExpires=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    assert got["ContentType"] == "application/x-test"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == "inline"
    assert got["ContentLanguage"] == "fr"
    assert got["Body"].read() == b"data"


# ---------------------------------------------------------------- conditionals
@pytest.fixture
def cond(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    return bucket, put["ETag"]


def test_if_match_matching_etag_returns_object(s3, cond):
    bucket, etag = cond
    assert body_of(s3, bucket, "c", IfMatch=etag) == b"conditional"


def test_if_match_other_etag_is_412(s3, cond):
    bucket, _ = cond
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert err(ei) == ("PreconditionFailed", 412)


def test_if_none_match_matching_etag_is_304(s3, cond):
    bucket, etag = cond
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_if_none_match_other_etag_returns_object(s3, cond):
    bucket, _ = cond
    assert body_of(s3, bucket, "c", IfNoneMatch='"ffffffffffffffffffffffffffffffff"') == b"conditional"


def test_if_modified_since_future_is_304_past_is_200(s3, cond):
    bucket, _ = cond
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert body_of(s3, bucket, "c", IfModifiedSince=past) == b"conditional"


def test_if_unmodified_since_past_is_412_future_is_200(s3, cond):
    bucket, _ = cond
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert err(ei) == ("PreconditionFailed", 412)
    assert body_of(s3, bucket, "c", IfUnmodifiedSince=future) == b"conditional"


def test_head_conditionals(s3, cond):
    bucket, etag = cond
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"00000000000000000000000000000000"')
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_put_if_none_match_star_refuses_overwrite(s3, cond):
    bucket, _ = cond
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="c", Body=b"new", IfNoneMatch="*")
    assert err(ei) == ("PreconditionFailed", 412)
    assert body_of(s3, bucket, "c") == b"conditional"
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"new", IfNoneMatch="*")
    assert body_of(s3, bucket, "fresh") == b"new"


# ---------------------------------------------------------------- head/delete
def test_head_missing_key_is_404_without_body(s3, live_server, bucket):
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="missing")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    path = h.object_path(bucket, "missing")
    hdrs = h.sign_v4(live_server.endpoint, live_server.access_key, live_server.secret_key,
                     "HEAD", path)
    head, rest = h.head_raw_bytes(live_server.endpoint, path, hdrs)
    assert head.startswith(b"HTTP/1.1 404"), head
    assert rest == b"", rest
    assert b"x-amz-request-id" in head.lower()


def test_get_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="missing")
    assert err(ei) == ("NoSuchKey", 404)


def test_delete_object_is_idempotent_204(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="d")
    assert err(ei) == ("NoSuchKey", 404)


def test_delete_objects_verbose_reports_each_key(s3, bucket):
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["a", "b", "nope"]
    assert not resp.get("Errors")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["c"]


def test_delete_objects_quiet_reports_nothing_on_success(s3, bucket):
    for k in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True})
    assert not resp.get("Deleted")
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# ---------------------------------------------------------------- copy
def test_copy_object_same_bucket_keeps_metadata(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Metadata={"k": "v"},
                        ContentType="text/x-src")
    cp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert cp["CopyObjectResult"]["ETag"] == put["ETag"]
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["Metadata"] == {"k": "v"}
    assert got["ContentType"] == "text/x-src"


def test_copy_object_cross_bucket(s3, bucket, bucket_name, cleanup_buckets):
    other = bucket_name[:50] + "-dst"
    cleanup_buckets.append(other)
    s3.create_bucket(Bucket=other)
    body = os.urandom(70000)
    s3.put_object(Bucket=bucket, Key="a/src", Body=body)
    s3.copy_object(Bucket=other, Key="b/dst", CopySource=f"{bucket}/a/src")
    assert body_of(s3, other, "b/dst") == body
    assert body_of(s3, bucket, "a/src") == body


def test_copy_object_metadata_directive_replace(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Metadata={"old": "1"},
                  ContentType="text/old")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"new": "2"}, ContentType="text/new")
    got = s3.head_object(Bucket=bucket, Key="dst")
    assert got["Metadata"] == {"new": "2"}
    assert got["ContentType"] == "text/new"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="COPY", Metadata={"ignored": "3"})
    assert s3.head_object(Bucket=bucket, Key="dst2")["Metadata"] == {"old": "1"}


def test_copy_object_onto_itself_with_replace_updates_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"v": "1"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"}
    assert got["Body"].read() == b"same"


def test_copy_source_if_match_failing_is_412(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfMatch='"00000000000000000000000000000000"')
    assert err(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dst")


def test_copy_missing_source_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "none"})
    assert err(ei) == ("NoSuchKey", 404)


# ---------------------------------------------------------------- listing
def _put_keys(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())


LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y"]


def test_list_v1_prefix_and_delimiter(s3, bucket):
    _put_keys(s3, bucket, LIST_KEYS)
    resp = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in resp.get("Contents", [])] == ["c"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/", "b/", "d/"]
    resp = s3.list_objects(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/b/"]
    resp = s3.list_objects(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in resp["Contents"]] == ["a/1", "a/2", "a/b/3"]
    assert "CommonPrefixes" not in resp


def test_list_v1_max_keys_marker_and_next_marker(s3, bucket):
    _put_keys(s3, bucket, LIST_KEYS)
    resp = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in resp["Contents"]] == ["a/1", "a/2"]
    assert resp["IsTruncated"] is True
    resp = s3.list_objects(Bucket=bucket, Marker="a/2", MaxKeys=2)
    assert [o["Key"] for o in resp["Contents"]] == ["a/b/3", "b/1"]
    # With a delimiter, NextMarker tells where to go on (may be a common prefix).
    resp = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert resp["IsTruncated"] is True
    assert resp["NextMarker"] == "b/"
    seen = [p["Prefix"] for p in resp["CommonPrefixes"]]
    assert seen == ["a/", "b/"]
    resp = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=resp["NextMarker"])
    assert [o["Key"] for o in resp["Contents"]] == ["c"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/"]
    assert resp["IsTruncated"] is False


def test_list_v2_continuation_paging_returns_each_key_once(s3, bucket):
    keys = [f"page/{i:03d}" for i in range(25)]
    _put_keys(s3, bucket, keys)
    collected, token, pages = [], None, 0
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 7}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        pages += 1
        assert resp["KeyCount"] == len(resp.get("Contents", []))
        assert resp["KeyCount"] <= 7
        collected += [o["Key"] for o in resp.get("Contents", [])]
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
        assert pages < 10
    assert collected == keys
    assert pages == 4


def test_list_v2_start_after_and_prefix(s3, bucket):
    _put_keys(s3, bucket, LIST_KEYS)
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="a/b/3")
    assert [o["Key"] for o in resp["Contents"]] == ["b/1", "c", "d/x/y"]
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert resp.get("Contents", []) == []
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/x/"]
    assert resp["KeyCount"] == 1


def test_list_v2_delimiter_paging_counts_prefixes(s3, bucket):
    keys = [f"dir{i}/f{j}" for i in range(5) for j in range(3)] + ["top1", "top2"]
    _put_keys(s3, bucket, keys)
    entries, token = [], None
    while True:
        kw = {"Bucket": bucket, "Delimiter": "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        entries += [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        entries += [o["Key"] for o in resp.get("Contents", [])]
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert sorted(entries) == [f"dir{i}/" for i in range(5)] + ["top1", "top2"]
    assert len(entries) == len(set(entries))


def test_list_keys_in_utf8_byte_order(s3, bucket):
    keys = ["Z", "a", "é", "z", "~", "\u4e2d", "\U0001f600", "A"]
    _put_keys(s3, bucket, keys)
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert got == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_list_encoding_type_url(s3, live_server, bucket):
    keys = ["sp ace/x y", "uni/\u00fc\u4e2d", "pct%20lit"]
    _put_keys(s3, bucket, keys)
    # Default boto3 asks for encoding-type=url itself and decodes: keys must round-trip.
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == sorted(keys)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]) == sorted(keys)
    # Raw request: the wire form must be encoded (no raw spaces or non-ASCII).
    resp = h.signed(live_server, "GET", f"/{bucket}?encoding-type=url&list-type=2")
    assert resp.status == 200, resp.body
    root = resp.xml()
    ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    assert root.findtext(f"{ns}EncodingType") == "url"
    wire = [c.findtext(f"{ns}Key") for c in root.findall(f"{ns}Contents")]
    for w in wire:
        assert " " not in w and all(ord(ch) < 128 for ch in w), wire
    assert sorted(unquote_plus(w) for w in wire) == sorted(keys)


def test_list_v2_fetch_owner(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    with_owner = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert with_owner["Owner"]["ID"]
    without = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert "Owner" not in without
    v1 = s3.list_objects(Bucket=bucket)["Contents"][0]
    assert v1["Owner"]["ID"] == with_owner["Owner"]["ID"]


def test_list_entries_have_key_date_etag_size_storage_class(s3, bucket):
    bodies = {"x": b"xx", "y/z": b"yyy", "e": b""}
    for k, b in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=b)
    for resp in (s3.list_objects(Bucket=bucket), s3.list_objects_v2(Bucket=bucket)):
        assert len(resp["Contents"]) == 3
        for o in resp["Contents"]:
            assert set(o) >= {"Key", "LastModified", "ETag", "Size", "StorageClass"}, o
            assert o["ETag"] == f'"{h.md5_hex(bodies[o["Key"]])}"'
            assert o["Size"] == len(bodies[o["Key"]])
            assert o["StorageClass"] == "STANDARD"
            age = dt.datetime.now(dt.timezone.utc) - o["LastModified"]
            assert abs(age.total_seconds()) < 600


def test_list_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=bucket_name)
    assert err(ei) == ("NoSuchBucket", 404)


def test_list_max_keys_zero_and_capped(s3, bucket):
    _put_keys(s3, bucket, ["a", "b"])
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert resp["KeyCount"] == 0
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert resp["MaxKeys"] in (1000, 5000)  # AWS echoes the request; others cap it
    assert resp["KeyCount"] == 2


# ---------------------------------------------------------------- odd keys
ODD_KEYS = ["../escape", "../../../../../../tmp/coffer-escape", "a/../b", "100%", "%2F%20",
            "with space", "double//slash", "/leading", "trailing/", "ünï\u4e2d\U0001f600",
            "question?mark", "hash#tag", "plus+sign", "amp&eq=", "tilde~", ".", "..",
            "dot/./seg", "back\\slash", "tab\tchar", "*star", "quote\"s"]


def test_odd_keys_are_ordinary_keys(s3, live_server, bucket):
    for i, k in enumerate(ODD_KEYS):
        s3.put_object(Bucket=bucket, Key=k, Body=f"body{i}".encode())
    for i, k in enumerate(ODD_KEYS):
        assert body_of(s3, bucket, k) == f"body{i}".encode(), k
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(ODD_KEYS, key=lambda k: k.encode())
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode())
    # Nothing was written outside the data directory.
    siblings = sorted(p.name for p in live_server.data_dir.parent.iterdir())
    assert all(n == "data" or n.startswith("coffer-stderr") for n in siblings), siblings
    assert not os.path.exists("/tmp/coffer-escape")
    for k in ODD_KEYS:
        s3.delete_object(Bucket=bucket, Key=k)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_of_1024_bytes_ok_and_1025_is_key_too_long(s3, bucket):
    ok = "k" * 1022 + "é"  # 1024 bytes in UTF-8
    assert len(ok.encode()) == 1024
    s3.put_object(Bucket=bucket, Key=ok, Body=b"long")
    assert body_of(s3, bucket, ok) == b"long"
    too_long = "k" * 1025
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key=too_long, Body=b"x")
    assert err(ei) == ("KeyTooLongError", 400)


# ---------------------------------------------------------------- multipart
def test_multipart_upload_complete_etag_and_content(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1 * MiB)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-mp",
                                    Metadata={"m": "1"})
    uid = up["UploadId"]
    etags = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)
        assert r["ETag"] == f'"{h.md5_hex(p)}"'
        etags.append(r["ETag"])
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == \
        [(n, e, len(p)) for n, (e, p) in enumerate(zip(etags, parts), 1)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", uid)]
    # The object is not visible before completion.
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                   for n, e in enumerate(etags, 1)]})
    expected = h.multipart_etag(parts)
    assert done["ETag"] == expected
    got = s3.get_object(Bucket=bucket, Key="mp")
    data = got["Body"].read()
    assert len(data) == 11 * MiB
    assert hashlib.md5(data).digest() == hashlib.md5(b"".join(parts)).digest()
    assert got["ETag"] == expected
    assert got["ContentType"] == "application/x-mp"
    assert got["Metadata"] == {"m": "1"}
    # Ranges across a part boundary.
    r = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")
    assert r["Body"].read() == (parts[0] + parts[1])[5 * MiB - 10:5 * MiB + 10]
    # partNumber= returns that part.
    p2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert p2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert p2["Body"].read() == parts[1]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [("mp", expected, 11 * MiB)]


def _upload(s3, bucket, key, bodies):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=b)["ETag"]
             for n, b in enumerate(bodies, 1)]
    return uid, etags


def test_complete_with_bogus_etag_is_invalid_part(s3, bucket):
    uid, etags = _upload(s3, bucket, "bad", [os.urandom(5 * MiB), b"tail"])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0]},
                      {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]})
    assert err(ei) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 3, "ETag": etags[1]}]})
    assert err(ei) == ("InvalidPart", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid)


def test_complete_with_parts_out_of_order_is_invalid_part_order(s3, bucket):
    uid, etags = _upload(s3, bucket, "order", [os.urandom(5 * MiB), b"tail"])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="order", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]})
    assert err(ei) == ("InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="order", UploadId=uid)


def test_complete_with_small_first_part_is_entity_too_small(s3, bucket):
    uid, etags = _upload(s3, bucket, "small", [os.urandom(1024), os.urandom(1024)])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert err(ei) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)


def test_single_small_part_completes(s3, bucket):
    uid, etags = _upload(s3, bucket, "one", [b"only part"])
    done = s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etags[0]}]})
    assert done["ETag"] == h.multipart_etag([b"only part"])
    assert body_of(s3, bucket, "one") == b"only part"


def test_repeated_complete_returns_the_same_object(s3, bucket):
    uid, etags = _upload(s3, bucket, "twice", [b"data"])
    parts = {"Parts": [{"PartNumber": 1, "ETag": etags[0]}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="twice", UploadId=uid, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="twice", UploadId=uid, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    s3.put_object(Bucket=bucket, Key="twice", Body=b"replaced")
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="twice", UploadId=uid, MultipartUpload=parts)
    assert err(ei) == ("NoSuchUpload", 404)


def test_a_part_listed_twice_counts_once_with_its_last_entry(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dup")["UploadId"]
    old = s3.upload_part(Bucket=bucket, Key="dup", UploadId=uid, PartNumber=1, Body=b"first")["ETag"]
    new = s3.upload_part(Bucket=bucket, Key="dup", UploadId=uid, PartNumber=1, Body=b"second")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="dup", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": old}, {"PartNumber": 1, "ETag": new}]})
    assert body_of(s3, bucket, "dup") == b"second"


def test_part_number_beyond_the_parts_is_invalid_part_number(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"body")
    assert s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)["Body"].read() == b"body"
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert err(ei) == ("InvalidPartNumber", 416)


def test_requests_on_a_missing_bucket_say_no_such_bucket_even_to_strangers(live_server, s3):
    anon = boto3.client("s3", endpoint_url=live_server.endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as ei:
        anon.delete_object(Bucket="no-such-bucket-anywhere", Key="k")
    assert err(ei) == ("NoSuchBucket", 404)


def test_abort_then_upload_is_no_such_upload(s3, bucket):
    uid, _ = _upload(s3, bucket, "ab", [b"part"])
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid)
    for call in (lambda: s3.list_parts(Bucket=bucket, Key="ab", UploadId=uid),
                 lambda: s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=2,
                                        Body=b"x"),
                 lambda: s3.complete_multipart_upload(
                     Bucket=bucket, Key="ab", UploadId=uid,
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("NoSuchUpload", 404)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_part_copy(s3, bucket):
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    p2 = s3.upload_part(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=2, Body=b"end")
    s3.complete_multipart_upload(Bucket=bucket, Key="pc", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert body_of(s3, bucket, "pc") == src[:5 * MiB] + b"end"


# ---------------------------------------------------------------- checksums
CRT_ALGOS = {"CRC32C", "CRC64NVME"}


def _botocore_computes(algo: str) -> bool:
    return algo not in CRT_ALGOS or getattr(botocore.httpchecksum, "HAS_CRT", False)


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_checksum_stored_and_returned(s3, bucket, algo):
    body = os.urandom(100_000)
    expected = h.b64_checksum(algo, body)
    if _botocore_computes(algo):
        put = s3.put_object(Bucket=bucket, Key="ck", Body=body, ChecksumAlgorithm=algo)
    else:
        # botocore needs awscrt to compute these; send the value we computed ourselves.
        put = s3.put_object(Bucket=bucket, Key="ck", Body=body, **{f"Checksum{algo}": expected})
    assert put.get(f"Checksum{algo}") == expected, put
    got = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    hdr = got["ResponseMetadata"]["HTTPHeaders"].get(f"x-amz-checksum-{algo.lower()}")
    assert hdr == expected
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head["ResponseMetadata"]["HTTPHeaders"].get(f"x-amz-checksum-{algo.lower()}") == expected


def test_crc64nvme_support_in_botocore_is_reported():
    if not getattr(botocore.httpchecksum, "HAS_CRT", False):
        pytest.skip("botocore has no awscrt: CRC32C/CRC64NVME are sent as precomputed "
                    "header values (see test_checksum_stored_and_returned)")
    assert "crc64nvme" in botocore.httpchecksum._CRT_CHECKSUM_CLS


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA256"])
def test_wrong_checksum_header_is_bad_digest(s3, bucket, algo):
    wrong = h.b64_checksum(algo, b"something else")
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload", **{f"Checksum{algo}": wrong})
    assert err(ei) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def _force_trailer(params, **kwargs):
    """Make botocore use aws-chunked trailers as it does by default over HTTPS."""
    algo = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(algo, dict):
        algo["in"] = "trailer"


def test_default_aws_chunked_trailer_upload_stores_exact_bytes(live_server, bucket):
    s3 = live_server.client()
    s3.meta.events.register("before-call.s3.PutObject", _force_trailer)
    s3.meta.events.register("before-call.s3.UploadPart", _force_trailer)
    sent = {}

    def capture(request, **kwargs):
        sent["hdrs"] = {k: v.decode() if isinstance(v, bytes) else v
                        for k, v in request.headers.items()}
    s3.meta.events.register("before-send.s3.PutObject", capture)
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="chunked", Body=body)
    hdrs = {k.lower(): v for k, v in sent["hdrs"].items()}
    assert hdrs.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", hdrs
    assert hdrs.get("x-amz-trailer") == "x-amz-checksum-crc32"
    assert put["ETag"] == f'"{h.md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["ContentLength"] == len(body)
    assert got["Body"].read() == body
    assert got["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-crc32") == \
        h.b64_checksum("CRC32", body)
    # Multipart through trailers too.
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="chunked-mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="chunked-mp", UploadId=uid, PartNumber=n,
                            Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    assert etags == [f'"{h.md5_hex(p)}"' for p in parts]
    s3.complete_multipart_upload(Bucket=bucket, Key="chunked-mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert body_of(s3, bucket, "chunked-mp") == b"".join(parts)


def _trailer_body(data: bytes, checksum_of: bytes) -> bytes:
    return (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{h.b64_checksum('CRC32', checksum_of)}\r\n\r\n".encode())


TRAILER_HEADERS = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"}


def test_trailer_with_wrong_checksum_is_bad_digest(live_server, bucket):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER sent as botocore does (Transfer-Encoding: chunked)."""
    data = b"trailer payload"
    path = h.object_path(bucket, "trail-bad")
    hdrs = {**TRAILER_HEADERS, "X-Amz-Decoded-Content-Length": str(len(data)),
            "Transfer-Encoding": "chunked"}
    resp = h.signed(live_server, "PUT", path, hdrs, _trailer_body(data, b"nope"),
                    payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status == 400, (resp.status, resp.body)
    assert resp.error_code() == "BadDigest"
    assert h.signed(live_server, "HEAD", path).status == 404
    resp = h.signed(live_server, "PUT", path, hdrs, _trailer_body(data, data),
                    payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status == 200, (resp.status, resp.body)
    assert h.signed(live_server, "GET", path).body == data


def test_trailer_upload_with_content_length_of_framed_body(live_server, bucket):
    """SDKs other than botocore (Java v2, Go v2) send Content-Length = encoded length."""
    data = os.urandom(1000)
    path = h.object_path(bucket, "trail-cl")
    framed = _trailer_body(data, data)
    hdrs = {**TRAILER_HEADERS, "X-Amz-Decoded-Content-Length": str(len(data)),
            "Content-Length": str(len(framed))}
    resp = h.signed(live_server, "PUT", path, hdrs, framed,
                    payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status == 200, (resp.status, resp.body)
    assert h.signed(live_server, "GET", path).body == data


def test_streaming_signed_chunks_store_exact_bytes(live_server, s3, bucket):
    data = os.urandom(150_000)
    resp = h.put_streaming_signed(live_server, bucket, "sig-chunks", data)
    assert resp.status == 200, (resp.status, resp.body)
    assert resp.headers.get("etag") == f'"{h.md5_hex(data)}"'
    assert body_of(s3, bucket, "sig-chunks") == data


def test_unsigned_payload_put(live_server, s3, bucket):
    data = b"unsigned payload body"
    resp = h.signed(live_server, "PUT", h.object_path(bucket, "unsigned"), {}, data,
                    payload_hash="UNSIGNED-PAYLOAD")
    assert resp.status == 200, (resp.status, resp.body)
    assert body_of(s3, bucket, "unsigned") == data


def test_wrong_payload_sha256_is_rejected(live_server, bucket):
    resp = h.signed(live_server, "PUT", h.object_path(bucket, "sha-bad"), {}, b"abc",
                    payload_hash=hashlib.sha256(b"xyz").hexdigest())
    assert resp.status in (400, 403), (resp.status, resp.body)
    assert resp.error_code() in ("XAmzContentSHA256Mismatch", "BadDigest",
                                 "SignatureDoesNotMatch")


@pytest.mark.parametrize("signing", [False, True])
def test_put_with_payload_signing_setting(live_server, bucket, signing):
    # Over plain HTTP botocore always signs the payload; over HTTPS False means
    # UNSIGNED-PAYLOAD. Both settings must work.
    s3 = live_server.client(s3={"payload_signing_enabled": signing})
    data = os.urandom(4096)
    put = s3.put_object(Bucket=bucket, Key=f"ps-{signing}", Body=data)
    assert put["ETag"] == f'"{h.md5_hex(data)}"'
    assert body_of(s3, bucket, f"ps-{signing}") == data


# ---------------------------------------------------------------- auth
@pytest.fixture
def s3v4(live_server):
    # botocore presigns S3 URLs with SigV2 unless SigV4 is asked for explicitly.
    return live_server.client(signature_version="s3v4")


def test_presigned_get_works_without_credentials(s3v4, bucket):
    s3 = s3v4
    s3.put_object(Bucket=bucket, Key="pre sign/ü", Body=b"presigned body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre sign/ü"},
                                    ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        assert r.read() == b"presigned body"


def test_presigned_put_works_without_credentials(s3v4, bucket):
    s3 = s3v4
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pp"},
                                    ExpiresIn=300)
    req = urllib.request.Request(url, data=b"via presigned put", method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert body_of(s3, bucket, "pp") == b"via presigned put"


def test_expired_presigned_url_is_access_denied(s3v4, bucket):
    s3 = s3v4
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"},
                                    ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=30)
    assert ei.value.code == 403
    body = ei.value.read()
    assert b"<Code>AccessDenied</Code>" in body, body


def test_tampered_presigned_url_is_signature_does_not_match(s3v4, bucket):
    s3 = s3v4
    s3.put_object(Bucket=bucket, Key="t1", Body=b"x")
    s3.put_object(Bucket=bucket, Key="t2", Body=b"y")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "t1"},
                                    ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url.replace("/t1?", "/t2?"), timeout=30)
    assert ei.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in ei.value.read()


def test_presigned_sigv2_get(live_server, bucket, s3):
    s3.put_object(Bucket=bucket, Key="v2pre", Body=b"v2 presigned")
    v2 = live_server.client(signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2pre"},
                                    ExpiresIn=300)
    assert "Signature=" in url and "AWSAccessKeyId=" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"v2 presigned"


def test_wrong_secret_is_signature_does_not_match(live_server):
    bad = live_server.client(secret_key="x" * 40)
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("SignatureDoesNotMatch", 403)


def test_unknown_access_key_is_invalid_access_key_id(live_server):
    bad = live_server.client(access_key="AKIAUNKNOWNUNKNOWN00", secret_key="x" * 40)
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("InvalidAccessKeyId", 403)


def test_anonymous_request_is_access_denied(live_server, bucket):
    for path in ("/", f"/{bucket}", f"/{bucket}/some-key"):
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(live_server.endpoint + path, timeout=30)
        assert ei.value.code == 403, path
        assert ei.value.headers.get("x-amz-request-id")
        assert b"<Code>AccessDenied</Code>" in ei.value.read(), path


def test_request_time_too_skewed(live_server):
    import botocore.auth
    from unittest import mock
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=skewed):
        hdrs = h.sign_v4(live_server.endpoint, live_server.access_key, live_server.secret_key,
                         "GET", "/")
    assert hdrs["X-Amz-Date"] == skewed.strftime("%Y%m%dT%H%M%SZ")
    resp = h.send(live_server.endpoint, "GET", "/", hdrs)
    assert resp.status == 403, resp.body
    assert resp.error_code() == "RequestTimeTooSkewed"


def test_every_response_has_request_id(s3, bucket):
    responses = [
        s3.list_buckets(),
        s3.put_object(Bucket=bucket, Key="rid", Body=b"x"),
        s3.get_object(Bucket=bucket, Key="rid"),
        s3.head_object(Bucket=bucket, Key="rid"),
        s3.list_objects_v2(Bucket=bucket),
        s3.delete_object(Bucket=bucket, Key="rid"),
    ]
    for r in responses:
        assert r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id"), r["ResponseMetadata"]
    for call in (lambda: s3.get_object(Bucket=bucket, Key="nope"),
                 lambda: s3.head_object(Bucket=bucket, Key="nope"),
                 lambda: s3.list_objects_v2(Bucket=bucket + "-none")):
        with pytest.raises(ClientError) as ei:
            call()
        assert ei.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


def test_error_body_is_s3_xml(live_server, bucket):
    resp = h.signed(live_server, "GET", h.object_path(bucket, "missing/key"))
    assert resp.status == 404
    assert "xml" in resp.headers.get("content-type", "")
    root = resp.xml()
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message")
    assert root.findtext("RequestId") == resp.headers["x-amz-request-id"]
    nb = h.signed(live_server, "GET", f"/{bucket}-missing/k")
    assert nb.status == 404
    assert nb.xml().findtext("Code") == "NoSuchBucket"


def test_sigv2_client_put_get_object(live_server, bucket):
    v2 = live_server.client(signature_version="s3")
    data = os.urandom(5000)
    put = v2.put_object(Bucket=bucket, Key="v2/obj", Body=data, Metadata={"x": "y"})
    assert put["ETag"] == f'"{h.md5_hex(data)}"'
    got = v2.get_object(Bucket=bucket, Key="v2/obj")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"x": "y"}
    assert bucket in [b["Name"] for b in v2.list_buckets()["Buckets"]]
    bad = live_server.client(signature_version="s3", secret_key="y" * 40)
    with pytest.raises(ClientError) as ei:
        bad.get_object(Bucket=bucket, Key="v2/obj")
    assert err(ei) == ("SignatureDoesNotMatch", 403)


def test_sigv2_client_list_objects(live_server, s3, bucket):
    # botocore signs the canonical resource "/bucket/" for path-style GET /bucket.
    s3.put_object(Bucket=bucket, Key="v2/obj", Body=b"x")
    v2 = live_server.client(signature_version="s3")
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="v2/")["Contents"]] == ["v2/obj"]
    assert v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    v2.head_bucket(Bucket=bucket)


# ---------------------------------------------------------------- consistency
def test_read_after_write_and_delete_is_immediate(s3, bucket):
    rnd = random.Random(7)
    for i in range(30):
        body = rnd.randbytes(rnd.randint(0, 3000))
        s3.put_object(Bucket=bucket, Key="raw", Body=body)
        assert body_of(s3, bucket, "raw") == body
        assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["Size"] == len(body)
    s3.delete_object(Bucket=bucket, Key="raw")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_not_modified_still_names_the_etag_and_untyped_objects_are_binary(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="nm", Body=b"same")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="nm", IfNoneMatch=put["ETag"])
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"].get("etag") == put["ETag"]
    assert s3.head_object(Bucket=bucket, Key="nm")["ContentType"] == "binary/octet-stream"


def test_max_keys_zero_and_empty_delimiter(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"")
    zero = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert zero["KeyCount"] == 0 and zero["IsTruncated"] is False
    empty = s3.list_objects(Bucket=bucket, Delimiter="")
    assert "Delimiter" not in empty and [o["Key"] for o in empty["Contents"]] == ["a/b"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="a/\n")
    assert v1["Prefix"] == "a/\n"


def test_list_buckets_pages_with_max_buckets(live_server):
    srv = live_server
    names = [f"page-{i:02d}-{os.urandom(3).hex()}" for i in range(5)]
    s3 = srv.client()
    for n in names:
        s3.create_bucket(Bucket=n)
    try:
        seen, token, pages = [], None, 0
        for _ in range(20):
            kw = {"MaxBuckets": 2, "Prefix": "page-"}
            if token:
                kw["ContinuationToken"] = token
            r = s3.list_buckets(**kw)
            assert len(r["Buckets"]) <= 2
            pages += 1
            seen += [b["Name"] for b in r["Buckets"]]
            token = r.get("ContinuationToken")
            if not token:
                break
        assert pages >= 3, "five buckets at two per page take three pages"
        assert sorted(n for n in seen if n in names) == sorted(names)
        assert len(seen) == len(set(seen))
    finally:
        for n in names:
            s3.delete_bucket(Bucket=n)


def test_tags_come_back_sorted_and_head_reports_their_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="zeta=1&alpha=2&mid=3")
    assert [t["Key"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]] == ["alpha", "mid", "zeta"]
    head = s3.head_object(Bucket=bucket, Key="t")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"


def test_empty_uploads_do_not_stall_the_next_upload_on_their_connection(live_server, bucket):
    # botocore sends `Expect: 100-continue` with every upload; after an early
    # final response (an empty body needs no 100 Continue) it misreads the
    # next response on that connection and waits for its read timeout. The
    # server closes such connections (http_server.rs). One pooled connection
    # and no retries turn a stall into a failure here.
    c = live_server.client(max_pool_connections=1, read_timeout=5,
                           retries={"total_max_attempts": 1})
    for i in range(6):
        c.put_object(Bucket=bucket, Key=f"k{i}", Body=b"" if i % 2 == 0 else b"hello")
    assert c.get_object(Bucket=bucket, Key="k5")["Body"].read() == b"hello"


def test_bucket_tagging_round_trip_and_limits(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(ei) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
        {"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    for bad in ([{"Key": "aws:x", "Value": "1"}],
                [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
                [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]):
        with pytest.raises(ClientError) as ei:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": bad})
        assert err(ei) == ("InvalidTag", 400)
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 2
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(ei)[1] == 404


def test_list_buckets_filters_by_region(s3, bucket):
    names = [b["Name"] for b in s3.list_buckets(BucketRegion="us-east-1")["Buckets"]]
    assert bucket in names
    assert s3.list_buckets(BucketRegion="eu-west-1")["Buckets"] == []


def test_complete_refuses_a_wrong_declared_object_checksum(s3, bucket):
    # The composite SHA-256 the client declares on Complete must match, with
    # or without the "-N" suffix (ceph/s3-tests test_multipart_checksum_sha256).
    import base64
    part = b"A" * 1024
    part_sum = base64.b64encode(hashlib.sha256(part).digest()).decode()
    composite = base64.b64encode(
        hashlib.sha256(hashlib.sha256(part).digest()).digest()).decode() + "-1"
    for declared, ok in (("bad", False), (composite, True)):
        uid = s3.create_multipart_upload(Bucket=bucket, Key="mp",
                                         ChecksumAlgorithm="SHA256")["UploadId"]
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=part,
                           ChecksumAlgorithm="SHA256", ChecksumSHA256=part_sum)
        parts = {"Parts": [{"ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"],
                            "PartNumber": 1}]}
        if ok:
            done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                                ChecksumSHA256=declared, MultipartUpload=parts)
            assert done["ChecksumSHA256"] == composite
        else:
            with pytest.raises(ClientError) as ei:
                s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                             ChecksumSHA256=declared, MultipartUpload=parts)
            assert err(ei) == ("BadDigest", 400)
            s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)
