"""S3 bucket versioning seen through boto3.

The versioning configuration, version ids on writes, reads of old versions, delete
markers, the "null" version (objects written before versioning was enabled or while it is
suspended), ListObjectVersions paging, DeleteObjects, copies of old versions, multipart
uploads, and DeleteBucket of a versioned bucket.

AWS behaviour pinned here, and where it is written down:
- A bucket whose versioning was never set has no Status in GetBucketVersioning
  (API_PutBucketVersioning / API_GetBucketVersioning).
- A Status other than Enabled/Suspended is 400 MalformedXML (the schema allows only those
  two; versitygw's integration suite, which runs against AWS, expects MalformedXML).
- GET/HEAD naming a delete marker by version id is 405 MethodNotAllowed with
  `x-amz-delete-marker: true` and Last-Modified; a GET/HEAD whose current version is a
  delete marker is 404 with `x-amz-delete-marker: true` (API_GetObject, DeleteMarker).
- A version id the server could not have issued is 400 InvalidArgument "Invalid version
  id specified" (HEAD: bare 400); a well-formed id of no version is 404 NoSuchVersion.
- Writes while versioning is suspended store the version "null" and replace the previous
  null version (userguide/AddingObjectstoVersionSuspendedBuckets); the PutObject response
  then has no x-amz-version-id (API_PutObject's "versioning suspended" sample response),
  while GET/HEAD of that object say "null". A DELETE while suspended puts a delete marker
  with version id "null" in place of the null version (userguide/DeletingObjectsfromVersioningSuspendedBuckets).
- DeleteBucket answers BucketNotEmpty while any version or delete marker is left.

Each test gets its own bucket, and the fixtures here delete every version and delete
marker afterwards (the shared `bucket` fixture only deletes current objects).
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

import helpers as h
from helpers import err, err_of, status, endpoints

MiB = 1024 * 1024


# ---------------------------------------------------------------- helpers






def headers(resp) -> dict[str, str]:
    """Response headers (lower-case names) of a boto3 response or a ClientError."""
    if isinstance(resp, ClientError):
        resp = resp.response
    return resp["ResponseMetadata"]["HTTPHeaders"]


def etag(data: bytes) -> str:
    return f'"{h.md5_hex(data)}"'


def body_of(s3, bucket, key, **kw) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def set_versioning(s3, bucket: str, state: str):
    return s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": state})


def put_version(s3, bucket: str, key: str, data: bytes) -> str:
    """PUT into a versioning-enabled bucket; returns the new, real version id."""
    resp = s3.put_object(Bucket=bucket, Key=key, Body=data)
    vid = resp.get("VersionId")
    assert vid and vid != "null", f"PUT in an Enabled bucket gave version id {vid!r}"
    return vid


def list_versions(s3, bucket: str, **kw) -> tuple[list[dict], list[dict]]:
    """One untruncated ListObjectVersions: (Versions, DeleteMarkers)."""
    resp = s3.list_object_versions(Bucket=bucket, **kw)
    assert not resp.get("IsTruncated"), resp
    return resp.get("Versions", []), resp.get("DeleteMarkers", [])


def rows(entries: list[dict]) -> list[tuple[str, str, bool]]:
    return [(e["Key"], e["VersionId"], e["IsLatest"]) for e in entries]


def walk_versions(s3, bucket: str, **kw) -> list[dict]:
    """Every page of ListObjectVersions, following NextKeyMarker/NextVersionIdMarker."""
    params = {"Bucket": bucket, **kw}
    pages = []
    while True:
        resp = s3.list_object_versions(**params)
        pages.append(resp)
        if not resp.get("IsTruncated"):
            return pages
        assert len(pages) < 50, "ListObjectVersions stays truncated"
        assert resp.get("NextKeyMarker"), f"truncated page without NextKeyMarker: {resp}"
        params["KeyMarker"] = resp["NextKeyMarker"]
        if resp.get("NextVersionIdMarker"):
            params["VersionIdMarker"] = resp["NextVersionIdMarker"]
        else:
            params.pop("VersionIdMarker", None)


def page_items(resp: dict) -> list[tuple[str, str, str | None]]:
    """A page's entries as ("V"ersion | "M"arker, key, version id) and ("P"refix, prefix, None)."""
    return ([("V", v["Key"], v["VersionId"]) for v in resp.get("Versions", [])]
            + [("M", m["Key"], m["VersionId"]) for m in resp.get("DeleteMarkers", [])]
            + [("P", p["Prefix"], None) for p in resp.get("CommonPrefixes", [])])


def sibling_version_id(vid: str) -> str:
    """`vid` with its last character changed within its own character class: an id of the
    same shape as one the server issues, naming no version."""
    last = vid[-1]
    for alphabet in ("0123456789", "abcdef", "ABCDEF", "ghijklmnopqrstuvwxyz",
                     "GHIJKLMNOPQRSTUVWXYZ"):
        if last in alphabet:
            return vid[:-1] + alphabet[(alphabet.index(last) + 1) % len(alphabet)]
    return vid[:-1] + ("A" if last != "A" else "B")


@pytest.fixture
def fresh_bucket(bucket):
    """A new bucket whose versioning was never configured (the shared
    fixture removes every version and delete marker afterwards)."""
    return bucket


@pytest.fixture
def vbucket(s3, fresh_bucket):
    """A new bucket with versioning Enabled."""
    set_versioning(s3, fresh_bucket, "Enabled")
    return fresh_bucket


# ---------------------------------------------------------------- configuration
def test_new_bucket_has_no_versioning_status(s3, fresh_bucket):
    resp = s3.get_bucket_versioning(Bucket=fresh_bucket)
    assert status(resp) == 200
    assert "Status" not in resp, resp
    assert "MFADelete" not in resp, resp


def test_put_versioning_enabled_then_get_says_enabled(s3, fresh_bucket):
    assert status(set_versioning(s3, fresh_bucket, "Enabled")) == 200
    assert s3.get_bucket_versioning(Bucket=fresh_bucket).get("Status") == "Enabled"


def test_put_versioning_suspended_then_get_says_suspended(s3, fresh_bucket):
    # Suspended is accepted on a bucket that was never versioned, and after Enabled.
    assert status(set_versioning(s3, fresh_bucket, "Suspended")) == 200
    assert s3.get_bucket_versioning(Bucket=fresh_bucket).get("Status") == "Suspended"
    set_versioning(s3, fresh_bucket, "Enabled")
    assert s3.get_bucket_versioning(Bucket=fresh_bucket).get("Status") == "Enabled"
    set_versioning(s3, fresh_bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=fresh_bucket).get("Status") == "Suspended"


@pytest.mark.parametrize("bad", ["Disabled", "Bogus"])
def test_put_versioning_invalid_status_is_malformed_xml(s3, fresh_bucket, bad):
    set_versioning(s3, fresh_bucket, "Enabled")
    with pytest.raises(ClientError) as ei:
        set_versioning(s3, fresh_bucket, bad)
    assert err(ei) == ("MalformedXML", 400)
    assert s3.get_bucket_versioning(Bucket=fresh_bucket).get("Status") == "Enabled"


def test_versioning_of_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_versioning(Bucket=bucket_name)
    assert err(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        set_versioning(s3, bucket_name, "Enabled")
    assert err(ei) == ("NoSuchBucket", 404)


# ---------------------------------------------------------------- versions of one key
def test_enabled_puts_get_distinct_version_ids_and_get_returns_latest(s3, vbucket):
    d1, d2 = b"first", b"second version"
    v1 = put_version(s3, vbucket, "k", d1)
    v2 = put_version(s3, vbucket, "k", d2)
    assert v1 != v2
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == d2
    assert got["VersionId"] == v2
    assert got["ETag"] == etag(d2)
    head = s3.head_object(Bucket=vbucket, Key="k")
    assert head["VersionId"] == v2
    assert head["ContentLength"] == len(d2)


def test_get_and_head_by_version_id_return_that_version(s3, vbucket):
    data = [b"one", b"two two", b"three three three"]
    vids = [put_version(s3, vbucket, "k", d) for d in data]
    assert len(set(vids)) == 3
    for vid, d in zip(vids, data):
        got = s3.get_object(Bucket=vbucket, Key="k", VersionId=vid)
        assert got["Body"].read() == d
        assert got["VersionId"] == vid
        assert got["ETag"] == etag(d)
        assert got["ContentLength"] == len(d)
        head = s3.head_object(Bucket=vbucket, Key="k", VersionId=vid)
        assert head["VersionId"] == vid
        assert head["ETag"] == etag(d)
        assert head["ContentLength"] == len(d)
    # Ranges apply to the named version.
    r = s3.get_object(Bucket=vbucket, Key="k", VersionId=vids[1], Range="bytes=4-6")
    assert r["Body"].read() == b"two"


def test_list_object_versions_newest_first_with_is_latest_etag_and_size(s3, vbucket):
    d1, d2, z1 = b"doc v1", b"doc version 2", b"zeta"
    v1 = put_version(s3, vbucket, "doc", d1)
    zv = put_version(s3, vbucket, "zeta", z1)
    v2 = put_version(s3, vbucket, "doc", d2)
    resp = s3.list_object_versions(Bucket=vbucket)
    assert resp["Name"] == vbucket
    assert not resp.get("IsTruncated")
    assert not resp.get("DeleteMarkers")
    versions = resp["Versions"]
    assert rows(versions) == [("doc", v2, True), ("doc", v1, False), ("zeta", zv, True)]
    assert [(v["ETag"], v["Size"]) for v in versions] == \
        [(etag(d2), len(d2)), (etag(d1), len(d1)), (etag(z1), len(z1))]
    assert all(v.get("StorageClass") == "STANDARD" for v in versions), versions
    assert versions[0]["LastModified"] >= versions[1]["LastModified"]


# ---------------------------------------------------------------- delete markers
def test_delete_without_version_id_creates_a_delete_marker(s3, vbucket):
    data = b"still here"
    v1 = put_version(s3, vbucket, "k", data)
    resp = s3.delete_object(Bucket=vbucket, Key="k")
    assert status(resp) == 204
    assert resp.get("DeleteMarker") is True, resp
    dm = resp.get("VersionId")
    assert dm and dm not in ("null", v1), resp
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k")
    assert err(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=vbucket, Key="k")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.list_objects_v2(Bucket=vbucket)["KeyCount"] == 0
    assert not s3.list_objects_v2(Bucket=vbucket).get("Contents")
    assert not s3.list_objects(Bucket=vbucket).get("Contents")
    versions, markers = list_versions(s3, vbucket)
    assert rows(markers) == [("k", dm, True)]
    assert rows(versions) == [("k", v1, False)]
    # The old version is still readable by id.
    got = s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert got["Body"].read() == data
    assert got["VersionId"] == v1


def test_deleting_the_delete_marker_restores_the_object(s3, vbucket):
    data = b"restore me"
    v1 = put_version(s3, vbucket, "k", data)
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert status(resp) == 204
    assert resp.get("VersionId") == dm, resp
    # Deleting a delete marker by id says so.
    assert resp.get("DeleteMarker") is True, resp
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == data
    assert got["VersionId"] == v1
    versions, markers = list_versions(s3, vbucket)
    assert markers == []
    assert rows(versions) == [("k", v1, True)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["k"]


def test_get_of_delete_marker_version_is_405_method_not_allowed(s3, vbucket):
    put_version(s3, vbucket, "k", b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert err(ei) == ("MethodNotAllowed", 405)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405


def test_delete_marker_responses_carry_x_amz_delete_marker(s3, vbucket):
    # API_GetObject: a current delete marker answers 404 with x-amz-delete-marker: true; a
    # delete marker named by version id answers 405 with that header and Last-Modified.
    put_version(s3, vbucket, "k", b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as ei:
            call(Bucket=vbucket, Key="k")
        hdrs = headers(ei.value)
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert hdrs.get("x-amz-delete-marker") == "true", hdrs
        assert hdrs.get("x-amz-version-id", dm) == dm, hdrs
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as ei:
            call(Bucket=vbucket, Key="k", VersionId=dm)
        hdrs = headers(ei.value)
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
        assert hdrs.get("x-amz-delete-marker") == "true", hdrs
        assert "last-modified" in hdrs, hdrs


def test_delete_of_missing_key_in_enabled_bucket_creates_a_delete_marker(s3, vbucket):
    resp = s3.delete_object(Bucket=vbucket, Key="never-written")
    assert status(resp) == 204
    assert resp.get("DeleteMarker") is True, resp
    dm = resp.get("VersionId")
    assert dm and dm != "null", resp
    versions, markers = list_versions(s3, vbucket)
    assert versions == []
    assert rows(markers) == [("never-written", dm, True)]


# ---------------------------------------------------------------- unknown / malformed ids
def test_unknown_version_id_is_no_such_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"first")
    v2 = put_version(s3, vbucket, "k", b"second")
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    # An id this server issued whose version is gone, and one of the same shape never issued.
    for gone in (v1, sibling_version_id(v2)):
        assert gone != v2
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=vbucket, Key="k", VersionId=gone)
        assert err(ei) == ("NoSuchVersion", 404)
        with pytest.raises(ClientError) as ei:
            s3.head_object(Bucket=vbucket, Key="k", VersionId=gone)
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # A real version id under another key names nothing either.
    put_version(s3, vbucket, "other", b"o")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="other", VersionId=v2)
    assert err(ei) == ("NoSuchVersion", 404)


@pytest.mark.parametrize("bad", ["abc", "not-a-version-id"])
def test_malformed_version_id_is_invalid_argument(s3, vbucket, bad):
    v1 = put_version(s3, vbucket, "k", b"kept")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=bad)
    assert err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=vbucket, Key="k", VersionId=bad)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=vbucket, Key="k", VersionId=bad)
    assert err(ei) == ("InvalidArgument", 400)
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("k", v1, True)]
    assert markers == []


def test_delete_of_unknown_version_id_is_204_and_changes_nothing(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"kept")
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId=sibling_version_id(v1))
    assert status(resp) == 204
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("k", v1, True)]
    assert markers == []
    assert body_of(s3, vbucket, "k") == b"kept"


# ---------------------------------------------------------------- deleting versions
def test_delete_of_a_specific_version_removes_only_that_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"v1")
    v2 = put_version(s3, vbucket, "k", b"v2")
    v3 = put_version(s3, vbucket, "k", b"v3")
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert status(resp) == 204
    assert resp.get("VersionId") == v2, resp
    assert not resp.get("DeleteMarker"), resp
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("k", v3, True), ("k", v1, False)]
    assert markers == []
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert err(ei) == ("NoSuchVersion", 404)
    assert body_of(s3, vbucket, "k") == b"v3"
    assert body_of(s3, vbucket, "k", VersionId=v1) == b"v1"


def test_deleting_the_current_version_makes_the_previous_one_current(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"older")
    v2 = put_version(s3, vbucket, "k", b"newer")
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"older"
    assert got["VersionId"] == v1
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("k", v1, True)]
    assert markers == []
    # Deleting the last version leaves no trace of the key.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert list_versions(s3, vbucket) == ([], [])
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k")
    assert err(ei) == ("NoSuchKey", 404)


# ---------------------------------------------------------------- the null version
def test_object_written_before_versioning_is_the_null_version(s3, fresh_bucket):
    old, new = b"before versioning", b"after"
    resp = s3.put_object(Bucket=fresh_bucket, Key="k", Body=old)
    assert "VersionId" not in resp, resp
    set_versioning(s3, fresh_bucket, "Enabled")
    v = put_version(s3, fresh_bucket, "k", new)
    versions, markers = list_versions(s3, fresh_bucket)
    assert rows(versions) == [("k", v, True), ("k", "null", False)]
    assert [(e["ETag"], e["Size"]) for e in versions] == [(etag(new), len(new)),
                                                          (etag(old), len(old))]
    assert markers == []
    got = s3.get_object(Bucket=fresh_bucket, Key="k", VersionId="null")
    assert got["Body"].read() == old
    assert got["VersionId"] == "null"
    head = s3.head_object(Bucket=fresh_bucket, Key="k", VersionId="null")
    assert head["ContentLength"] == len(old)
    assert head["VersionId"] == "null"
    assert body_of(s3, fresh_bucket, "k") == new


def test_null_version_can_be_deleted_by_version_id(s3, fresh_bucket):
    s3.put_object(Bucket=fresh_bucket, Key="k", Body=b"old")
    set_versioning(s3, fresh_bucket, "Enabled")
    v = put_version(s3, fresh_bucket, "k", b"new")
    resp = s3.delete_object(Bucket=fresh_bucket, Key="k", VersionId="null")
    assert status(resp) == 204
    assert resp.get("VersionId") == "null", resp
    versions, markers = list_versions(s3, fresh_bucket)
    assert rows(versions) == [("k", v, True)]
    assert markers == []
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=fresh_bucket, Key="k", VersionId="null")
    assert err(ei) == ("NoSuchVersion", 404)


# ---------------------------------------------------------------- suspended
def test_suspended_put_writes_the_null_version_and_keeps_real_versions(s3, vbucket):
    d1, s1, s2 = b"real version", b"suspended one", b"suspended two!"
    v1 = put_version(s3, vbucket, "k", d1)
    set_versioning(s3, vbucket, "Suspended")
    s3.put_object(Bucket=vbucket, Key="k", Body=s1)
    versions, _ = list_versions(s3, vbucket)
    assert rows(versions) == [("k", "null", True), ("k", v1, False)]
    assert versions[0]["ETag"] == etag(s1)
    # A second PUT replaces the null version instead of adding one.
    s3.put_object(Bucket=vbucket, Key="k", Body=s2)
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("k", "null", True), ("k", v1, False)]
    assert (versions[0]["ETag"], versions[0]["Size"]) == (etag(s2), len(s2))
    assert markers == []
    assert body_of(s3, vbucket, "k") == s2
    got = s3.get_object(Bucket=vbucket, Key="k", VersionId="null")
    assert got["Body"].read() == s2
    assert got["VersionId"] == "null"
    assert body_of(s3, vbucket, "k", VersionId=v1) == d1


def test_suspended_put_response_omits_version_id_but_reads_say_null(s3, vbucket):
    # API_PutObject's sample response for a versioning-suspended bucket has no
    # x-amz-version-id; GET and HEAD of the object it wrote name the version "null".
    set_versioning(s3, vbucket, "Suspended")
    resp = s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    assert "VersionId" not in resp, resp
    assert "x-amz-version-id" not in headers(resp)
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == "null"
    assert s3.head_object(Bucket=vbucket, Key="k")["VersionId"] == "null"


def test_suspended_delete_puts_a_null_delete_marker_in_place_of_the_null_version(s3, vbucket):
    d1 = b"real version"
    v1 = put_version(s3, vbucket, "k", d1)
    set_versioning(s3, vbucket, "Suspended")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null version")
    for _ in range(2):  # a second DELETE replaces the null marker again
        resp = s3.delete_object(Bucket=vbucket, Key="k")
        assert status(resp) == 204
        assert resp.get("DeleteMarker") is True, resp
        assert resp.get("VersionId") == "null", resp
        versions, markers = list_versions(s3, vbucket)
        assert rows(versions) == [("k", v1, False)]
        assert rows(markers) == [("k", "null", True)]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k")
    assert err(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="null")
    assert err(ei) == ("MethodNotAllowed", 405)
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId="null")
    assert resp.get("DeleteMarker") is True, resp
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == d1
    assert got["VersionId"] == v1


# ---------------------------------------------------------------- listing
def _three_keys_three_versions(s3, bucket) -> list[tuple[str, str]]:
    """Writes k0..k2 three times each, round-robin; returns the expected listing order."""
    vids: dict[str, list[str]] = {"k0": [], "k1": [], "k2": []}
    for rnd in range(3):
        for key in ("k2", "k0", "k1"):
            vids[key].append(put_version(s3, bucket, key, f"{key}-{rnd}".encode()))
    return [(k, v) for k in sorted(vids) for v in reversed(vids[k])]


def test_list_object_versions_paging_yields_every_version_once_in_order(s3, vbucket):
    expected = _three_keys_three_versions(s3, vbucket)
    pages = walk_versions(s3, vbucket, MaxKeys=2)
    assert len(pages) == 5, [page_items(p) for p in pages]
    seen = []
    for n, page in enumerate(pages):
        assert not page.get("DeleteMarkers")
        got = [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if page.get("IsTruncated"):
            assert len(got) == 2, page
            assert (page["NextKeyMarker"], page["NextVersionIdMarker"]) == got[-1]
        else:
            assert n == len(pages) - 1
        if n > 0:
            prev = pages[n - 1]
            assert page.get("KeyMarker") == prev["NextKeyMarker"]
            assert page.get("VersionIdMarker") == prev["NextVersionIdMarker"]
        seen += got
    assert seen == expected
    latest = [(v["Key"], v["VersionId"]) for p in pages for v in p["Versions"] if v["IsLatest"]]
    assert latest == [expected[0], expected[3], expected[6]]


def test_list_object_versions_key_marker_and_version_id_marker(s3, vbucket):
    expected = _three_keys_three_versions(s3, vbucket)
    # KeyMarker alone starts after every version of that key.
    versions, _ = list_versions(s3, vbucket, KeyMarker="k1")
    assert [(v["Key"], v["VersionId"]) for v in versions] == expected[6:]
    # With VersionIdMarker it starts right after that version.
    k1_newest = expected[3][1]
    versions, _ = list_versions(s3, vbucket, KeyMarker="k1", VersionIdMarker=k1_newest)
    assert [(v["Key"], v["VersionId"]) for v in versions] == expected[4:]


def test_list_object_versions_paging_interleaves_delete_markers(s3, vbucket):
    a1 = put_version(s3, vbucket, "a", b"a1")
    b1 = put_version(s3, vbucket, "b", b"b1")
    a2 = put_version(s3, vbucket, "a", b"a2")
    bdm = s3.delete_object(Bucket=vbucket, Key="b")["VersionId"]
    c1 = put_version(s3, vbucket, "c", b"c1")
    pages = walk_versions(s3, vbucket, MaxKeys=1)
    items = []
    for page in pages:
        got = page_items(page)
        assert len(got) == 1, page
        items += got
    assert items == [("V", "a", a2), ("V", "a", a1), ("M", "b", bdm), ("V", "b", b1),
                     ("V", "c", c1)]
    # Unpaged, the same entries split into Versions and DeleteMarkers.
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("a", a2, True), ("a", a1, False), ("b", b1, False),
                              ("c", c1, True)]
    assert rows(markers) == [("b", bdm, True)]


PREFIX_KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c"]


def _two_versions_each(s3, bucket) -> dict[str, list[str]]:
    """Two versions of each of PREFIX_KEYS; returns key -> [newest, older]."""
    vids = {k: [put_version(s3, bucket, k, f"{k} v1".encode())] for k in PREFIX_KEYS}
    for k in PREFIX_KEYS:
        vids[k].insert(0, put_version(s3, bucket, k, f"{k} v2".encode()))
    return vids


def test_list_object_versions_prefix_and_delimiter(s3, vbucket):
    vids = _two_versions_each(s3, vbucket)
    resp = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert resp.get("Delimiter") == "/"
    assert [p["Prefix"] for p in resp.get("CommonPrefixes", [])] == ["a/", "b/"]
    assert rows(resp["Versions"]) == [("c", vids["c"][0], True), ("c", vids["c"][1], False)]

    resp = s3.list_object_versions(Bucket=vbucket, Prefix="a/", Delimiter="/")
    assert resp.get("Prefix") == "a/"
    assert [p["Prefix"] for p in resp.get("CommonPrefixes", [])] == ["a/b/"]
    assert rows(resp["Versions"]) == [("a/1", vids["a/1"][0], True),
                                      ("a/1", vids["a/1"][1], False),
                                      ("a/2", vids["a/2"][0], True),
                                      ("a/2", vids["a/2"][1], False)]

    versions, _ = list_versions(s3, vbucket, Prefix="a/")
    assert [(v["Key"], v["VersionId"]) for v in versions] == \
        [(k, vid) for k in ("a/1", "a/2", "a/b/3") for vid in vids[k]]


def test_list_object_versions_delimiter_paging_counts_each_prefix_once(s3, vbucket):
    vids = _two_versions_each(s3, vbucket)
    pages = walk_versions(s3, vbucket, Delimiter="/", MaxKeys=1)
    items = []
    for page in pages:
        got = page_items(page)
        assert len(got) == 1, page
        items += got
    assert items == [("P", "a/", None), ("P", "b/", None),
                     ("V", "c", vids["c"][0]), ("V", "c", vids["c"][1])]


# ---------------------------------------------------------------- DeleteObjects
def test_delete_objects_with_version_ids_deletes_those_versions(s3, vbucket):
    va1 = put_version(s3, vbucket, "a", b"a1")
    va2 = put_version(s3, vbucket, "a", b"a2")
    vc1 = put_version(s3, vbucket, "c", b"c1")
    resp = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [
        {"Key": "a", "VersionId": va1}, {"Key": "c", "VersionId": vc1}]})
    assert not resp.get("Errors"), resp
    deleted = {d["Key"]: d for d in resp["Deleted"]}
    assert sorted(deleted) == ["a", "c"]
    assert deleted["a"].get("VersionId") == va1
    assert deleted["c"].get("VersionId") == vc1
    assert not deleted["a"].get("DeleteMarker") and not deleted["c"].get("DeleteMarker")
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("a", va2, True)]
    assert markers == []


def test_delete_objects_without_version_id_creates_delete_markers(s3, vbucket):
    data = b"b1"
    vb1 = put_version(s3, vbucket, "b", data)
    resp = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "b"}]})
    assert not resp.get("Errors"), resp
    [entry] = resp["Deleted"]
    assert entry["Key"] == "b"
    assert entry.get("DeleteMarker") is True, entry
    dm = entry.get("DeleteMarkerVersionId")
    assert dm and dm not in ("null", vb1), entry
    versions, markers = list_versions(s3, vbucket)
    assert rows(versions) == [("b", vb1, False)]
    assert rows(markers) == [("b", dm, True)]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=vbucket, Key="b")
    assert err(ei) == ("NoSuchKey", 404)
    # Removing the marker through DeleteObjects brings the object back.
    resp = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "b", "VersionId": dm}]})
    assert not resp.get("Errors"), resp
    [entry] = resp["Deleted"]
    assert entry.get("VersionId") == dm, entry
    assert entry.get("DeleteMarker") is True, entry
    assert entry.get("DeleteMarkerVersionId", dm) == dm, entry
    assert body_of(s3, vbucket, "b") == data


# ---------------------------------------------------------------- copy
def test_copy_object_from_an_old_version(s3, vbucket):
    first, second = b"first content", b"second content!"
    v1 = put_version(s3, vbucket, "src", first)
    v2 = put_version(s3, vbucket, "src", second)
    resp = s3.copy_object(Bucket=vbucket, Key="dst",
                          CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert resp.get("CopySourceVersionId") == v1, resp
    new = resp.get("VersionId")
    assert new and new not in ("null", v1, v2), resp
    assert resp["CopyObjectResult"]["ETag"] == etag(first)
    got = s3.get_object(Bucket=vbucket, Key="dst")
    assert got["Body"].read() == first
    assert got["VersionId"] == new
    # Copying an old version onto its own key makes it the newest version.
    resp = s3.copy_object(Bucket=vbucket, Key="src",
                          CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    v3 = resp.get("VersionId")
    assert v3 and v3 not in ("null", v1, v2, new), resp
    assert body_of(s3, vbucket, "src") == first
    versions, _ = list_versions(s3, vbucket, Prefix="src")
    assert rows(versions) == [("src", v3, True), ("src", v2, False), ("src", v1, False)]


def test_copy_object_from_a_deleted_version_is_no_such_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "src", b"gone")
    put_version(s3, vbucket, "src", b"current")
    s3.delete_object(Bucket=vbucket, Key="src", VersionId=v1)
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=vbucket, Key="dst",
                       CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert err(ei) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=vbucket, Key="dst")


# ---------------------------------------------------------------- DeleteBucket
def test_delete_bucket_refuses_while_versions_or_markers_remain(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"old")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    assert s3.list_objects_v2(Bucket=vbucket)["KeyCount"] == 0
    # A noncurrent version under a delete marker.
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=vbucket)
    assert err(ei) == ("BucketNotEmpty", 409)
    # Only the delete marker.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=vbucket)
    assert err(ei) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert list_versions(s3, vbucket) == ([], [])
    assert status(s3.delete_bucket(Bucket=vbucket)) == 204
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=vbucket)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# ---------------------------------------------------------------- multipart
def test_multipart_upload_in_enabled_bucket_creates_a_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "mp", b"small")
    parts = [os.urandom(5 * MiB), b"tail"]
    uid = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=vbucket, Key="mp", UploadId=uid, PartNumber=n,
                            Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    done = s3.complete_multipart_upload(
        Bucket=vbucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                   for n, e in enumerate(etags, 1)]})
    vid = done.get("VersionId")
    assert vid and vid not in ("null", v1), done
    size = sum(map(len, parts))
    versions, _ = list_versions(s3, vbucket)
    assert rows(versions) == [("mp", vid, True), ("mp", v1, False)]
    assert (versions[0]["ETag"], versions[0]["Size"]) == (h.multipart_etag(parts), size)
    head = s3.head_object(Bucket=vbucket, Key="mp", VersionId=vid)
    assert head["VersionId"] == vid
    assert head["ContentLength"] == size
    assert s3.head_object(Bucket=vbucket, Key="mp")["VersionId"] == vid
    assert body_of(s3, vbucket, "mp", VersionId=v1) == b"small"


# ---------------------------------------------------------------- unversioned buckets
def test_unversioned_bucket_responses_carry_no_version_id(s3, fresh_bucket):
    b = fresh_bucket
    resp = s3.put_object(Bucket=b, Key="k", Body=b"data")
    assert "VersionId" not in resp, resp
    assert "x-amz-version-id" not in headers(resp)
    resp = s3.get_object(Bucket=b, Key="k")
    assert resp["Body"].read() == b"data"
    assert "VersionId" not in resp, resp
    assert "x-amz-version-id" not in headers(resp)
    resp = s3.head_object(Bucket=b, Key="k")
    assert "VersionId" not in resp, resp
    resp = s3.copy_object(Bucket=b, Key="k2", CopySource={"Bucket": b, "Key": "k"})
    assert "VersionId" not in resp and "CopySourceVersionId" not in resp, resp
    uid = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    e = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=1, Body=b"p")["ETag"]
    resp = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert "VersionId" not in resp, resp
    resp = s3.delete_object(Bucket=b, Key="k")
    assert "VersionId" not in resp and "DeleteMarker" not in resp, resp
    # The delete removed the object outright: no delete marker, no old version.
    versions, markers = list_versions(s3, b, Prefix="k")
    assert [v["Key"] for v in versions] == ["k2"]
    assert markers == []


def test_unversioned_bucket_lists_objects_as_null_versions(s3, fresh_bucket):
    s3.put_object(Bucket=fresh_bucket, Key="k", Body=b"first")
    s3.put_object(Bucket=fresh_bucket, Key="k", Body=b"overwritten")
    versions, markers = list_versions(s3, fresh_bucket)
    assert rows(versions) == [("k", "null", True)]
    assert (versions[0]["ETag"], versions[0]["Size"]) == (etag(b"overwritten"), 11)
    assert markers == []
