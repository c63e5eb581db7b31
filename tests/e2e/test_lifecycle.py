"""Bucket lifecycle: the configuration API, x-amz-expiration, and the
background worker, on a server whose lifecycle "day" lasts one second
(`--lifecycle-day-seconds 1`), so rules measured in days act in seconds."""
from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from helpers import err

DAY_ARGS = ["--lifecycle-day-seconds", "1"]


@pytest.fixture(scope="module")
def fast(server_factory):
    return server_factory(extra_args=DAY_ARGS)


@pytest.fixture
def c(fast):
    return fast.client()


@pytest.fixture
def lbucket(c, bucket_name):
    from conftest import empty_and_delete_bucket
    c.create_bucket(Bucket=bucket_name)
    yield bucket_name
    empty_and_delete_bucket(c, bucket_name)


def rules(*rs):
    return {"Rules": list(rs)}


def expire(rule_id, prefix, days=1):
    return {"ID": rule_id, "Filter": {"Prefix": prefix}, "Status": "Enabled",
            "Expiration": {"Days": days}}


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


def keys(c, bucket):
    return sorted(o["Key"] for o in c.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_configuration_round_trips_and_deletes(c, lbucket):
    with pytest.raises(ClientError) as ei:
        c.get_bucket_lifecycle_configuration(Bucket=lbucket)
    assert err(ei) == ("NoSuchLifecycleConfiguration", 404)
    cfg = rules(expire("tmp", "tmp/", 3),
                {"ID": "old", "Filter": {"And": {"Prefix": "logs/", "Tags": [
                    {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}},
                 "Status": "Disabled",
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 5},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}})
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=cfg)
    got = {r["ID"]: r for r in c.get_bucket_lifecycle_configuration(Bucket=lbucket)["Rules"]}
    assert got["tmp"]["Expiration"] == {"Days": 3}
    assert got["tmp"]["Filter"] == {"Prefix": "tmp/"}
    assert got["old"]["Status"] == "Disabled"
    assert got["old"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 5
    assert got["old"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert sorted((t["Key"], t["Value"]) for t in got["old"]["Filter"]["And"]["Tags"]) == [
        ("a", "1"), ("b", "2")]
    c.delete_bucket_lifecycle(Bucket=lbucket)
    with pytest.raises(ClientError) as ei:
        c.get_bucket_lifecycle_configuration(Bucket=lbucket)
    assert err(ei)[1] == 404


def test_rules_without_an_id_get_one(c, lbucket):
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=rules(
        {"Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 30}}))
    (rule,) = c.get_bucket_lifecycle_configuration(Bucket=lbucket)["Rules"]
    assert rule["ID"]


@pytest.mark.parametrize("bad, code", [
    (rules(expire("same", "a/"), expire("same", "b/")), "InvalidArgument"),
    (rules(expire("x" * 256, "a/")), "InvalidArgument"),
    (rules(expire("zero", "a/", 0)), "InvalidArgument"),
    (rules({"ID": "s", "Filter": {"Prefix": ""}, "Status": "enabled",
            "Expiration": {"Days": 1}}), "MalformedXML"),
])
def test_invalid_configurations_are_refused(c, lbucket, bad, code):
    with pytest.raises(ClientError) as ei:
        c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=bad)
    assert err(ei) == (code, 400)
    with pytest.raises(ClientError):
        c.get_bucket_lifecycle_configuration(Bucket=lbucket)


def test_expiration_header_names_the_rule(c, lbucket):
    c.put_bucket_lifecycle_configuration(Bucket=lbucket,
                                         LifecycleConfiguration=rules(expire("r1", "tmp/", 30)))
    put = c.put_object(Bucket=lbucket, Key="tmp/a", Body=b"x")
    head = c.head_object(Bucket=lbucket, Key="tmp/a")
    for resp in (put, head):
        m = re.fullmatch(r'expiry-date="(.+)", rule-id="r1"', resp["Expiration"])
        assert m, resp["Expiration"]
    c.put_object(Bucket=lbucket, Key="keep/b", Body=b"x")
    assert "Expiration" not in c.head_object(Bucket=lbucket, Key="keep/b")


def test_worker_expires_current_versions_by_prefix(c, lbucket):
    for k in ("tmp/a", "tmp/b", "keep/c"):
        c.put_object(Bucket=lbucket, Key=k, Body=b"x")
    c.put_bucket_lifecycle_configuration(Bucket=lbucket,
                                         LifecycleConfiguration=rules(expire("tmp", "tmp/", 1)))
    assert wait_until(lambda: keys(c, lbucket) == ["keep/c"]), keys(c, lbucket)


def test_worker_honours_tag_filters(c, lbucket):
    c.put_object(Bucket=lbucket, Key="a", Body=b"x", Tagging="expire=yes")
    c.put_object(Bucket=lbucket, Key="b", Body=b"x", Tagging="expire=no")
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=rules(
        {"ID": "t", "Filter": {"Tag": {"Key": "expire", "Value": "yes"}},
         "Status": "Enabled", "Expiration": {"Days": 1}}))
    assert wait_until(lambda: keys(c, lbucket) == ["b"]), keys(c, lbucket)


def test_worker_removes_noncurrent_versions_and_lone_delete_markers(c, lbucket):
    c.put_bucket_versioning(Bucket=lbucket, VersioningConfiguration={"Status": "Enabled"})
    c.put_object(Bucket=lbucket, Key="k", Body=b"old")
    c.put_object(Bucket=lbucket, Key="k", Body=b"new")
    c.put_object(Bucket=lbucket, Key="gone", Body=b"x")
    c.delete_object(Bucket=lbucket, Key="gone")
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=rules(
        {"ID": "nc", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "dm", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "Expiration": {"ExpiredObjectDeleteMarker": True}}))

    def versions():
        r = c.list_object_versions(Bucket=lbucket)
        return (sorted(v["Key"] for v in r.get("Versions", [])),
                sorted(m["Key"] for m in r.get("DeleteMarkers", [])))

    # The old versions of "k" and "gone" go first; then the marker of
    # "gone" is alone and goes too. The current "k" stays.
    assert wait_until(lambda: versions() == (["k"], [])), versions()
    assert c.get_object(Bucket=lbucket, Key="k")["Body"].read() == b"new"


def test_worker_aborts_stale_multipart_uploads(c, lbucket):
    up = c.create_multipart_upload(Bucket=lbucket, Key="big")["UploadId"]
    c.upload_part(Bucket=lbucket, Key="big", UploadId=up, PartNumber=1, Body=b"x" * 10)
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=rules(
        {"ID": "mpu", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}))
    assert wait_until(lambda: not c.list_multipart_uploads(Bucket=lbucket).get("Uploads"))


def test_disabled_rules_do_nothing(c, lbucket):
    c.put_object(Bucket=lbucket, Key="tmp/a", Body=b"x")
    rule = expire("off", "tmp/", 1)
    rule["Status"] = "Disabled"
    c.put_bucket_lifecycle_configuration(Bucket=lbucket, LifecycleConfiguration=rules(rule))
    time.sleep(2.5)
    assert keys(c, lbucket) == ["tmp/a"]
