"""Browser-form uploads (POST Object) signed by boto3's generate_presigned_post: the form
fields S3 honours beyond the headers' names (`${filename}`, `acl`, `tagging`, checksums) and
the form errors S3 answers with 400."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from helpers import post_form

TAGGING = ("<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag>"
           "<Tag><Key>n</Key><Value>1</Value></Tag></TagSet></Tagging>")


@pytest.fixture(params=["s3v4", "s3"])
def signer(request, live_server):
    """A client that signs forms with SigV4 (x-amz-signature) or SigV2 (signature)."""
    return live_server.client(signature_version=request.param)


def test_filename_acl_and_tagging_fields_are_honoured(live_server, s3, signer, bucket):
    form = signer.generate_presigned_post(
        Bucket=bucket, Key="uploads/${filename}",
        Fields={"acl": "public-read", "tagging": TAGGING},
        Conditions=[{"acl": "public-read"}, ["starts-with", "$key", "uploads/"],
                    ["starts-with", "$tagging", ""]],
        ExpiresIn=600)
    status, text = post_form(form["url"], form["fields"], b"hello form", "photo.txt")
    assert status == 204, text
    # ${filename} became the file's name, before the policy checked the key.
    assert s3.get_object(Bucket=bucket, Key="uploads/photo.txt")["Body"].read() == b"hello form"
    tags = s3.get_object_tagging(Bucket=bucket, Key="uploads/photo.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("n", "1"), ("team", "blue")]
    # acl=public-read: anyone may read it.
    with urllib.request.urlopen(f"{live_server.endpoint}/{bucket}/uploads/photo.txt") as r:
        assert r.read() == b"hello form"


def test_the_key_field_must_still_meet_the_policy_after_substitution(s3, signer, bucket):
    form = signer.generate_presigned_post(
        Bucket=bucket, Key="${filename}", Conditions=[["starts-with", "$key", "ok-"]],
        ExpiresIn=600)
    assert post_form(form["url"], form["fields"], b"a", "ok-1.txt")[0] == 204
    status, text = post_form(form["url"], form["fields"], b"b", "bad.txt")
    assert status == 403, text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad.txt")


def test_form_checksums_are_verified_and_stored(s3, signer, bucket):
    data = b"x" * 100_000
    good = base64.b64encode(hashlib.sha256(data).digest()).decode()
    form = signer.generate_presigned_post(Bucket=bucket, Key="sum.bin", ExpiresIn=600)
    status, text = post_form(form["url"], {**form["fields"], "x-amz-checksum-sha256": good},
                             data, "sum.bin")
    assert status == 204, text
    head = s3.head_object(Bucket=bucket, Key="sum.bin", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == good
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, text = post_form(form["url"], {**form["fields"], "x-amz-checksum-sha256": wrong},
                             b"replacement", "sum.bin")
    assert status == 400, text
    assert "<Code>BadDigest</Code>" in text, text
    # The stored object is the first one.
    assert s3.get_object(Bucket=bucket, Key="sum.bin")["Body"].read() == data


def test_forms_missing_a_signature_or_with_a_loose_expiration_are_400(live_server, s3, signer,
                                                                      bucket):
    form = signer.generate_presigned_post(Bucket=bucket, Key="k", ExpiresIn=600)
    signature = "x-amz-signature" if "x-amz-credential" in form["fields"] else "signature"
    assert signature in form["fields"]
    unsigned = {k: v for k, v in form["fields"].items() if k != signature}
    status, text = post_form(form["url"], unsigned, b"a", "k")
    assert status == 400 and "<Code>InvalidArgument</Code>" in text, text

    # A SigV2 form whose policy's expiration is not ISO 8601 (a space for the T).
    expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 600))
    policy = base64.b64encode(json.dumps({
        "expiration": expires, "conditions": [{"bucket": bucket}, ["starts-with", "$key", ""]],
    }).encode()).decode()
    signature = base64.b64encode(hmac.new(live_server.secret_key.encode(), policy.encode(),
                                          hashlib.sha1).digest()).decode()
    fields = {"key": "k", "AWSAccessKeyId": live_server.access_key, "policy": policy,
              "signature": signature}
    status, text = post_form(form["url"], fields, b"a", "k")
    assert status == 400 and "<Code>InvalidPolicyDocument</Code>" in text, text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_malformed_tagging_in_a_form_is_400(s3, bucket):
    form = s3.generate_presigned_post(
        Bucket=bucket, Key="t", Fields={"tagging": "<Tagging><TagSet>"},
        Conditions=[["starts-with", "$tagging", ""]], ExpiresIn=600)
    status, text = post_form(form["url"], form["fields"], b"a", "t")
    assert status == 400 and "<Code>MalformedXML</Code>" in text, text
