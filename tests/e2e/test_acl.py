"""S3 access control lists, Object Ownership and the public access block, through boto3.

Canned ACLs and grants on CreateBucket, PutObject, CopyObject and multipart uploads,
Get/PutBucketAcl and Get/PutObjectAcl (canned, `x-amz-grant-*` headers and
AccessControlPolicy bodies), what those grants let anonymous callers and a second
account do, Object Ownership (BucketOwnerEnforced / BucketOwnerPreferred / ObjectWriter)
and the four public access block settings.

AWS behaviour pinned here, and where it is written down:
- Canned ACLs (userguide/acl-overview.html#canned-acl): every one gives the resource owner
  FULL_CONTROL; public-read adds AllUsers READ, public-read-write AllUsers READ and WRITE,
  authenticated-read AuthenticatedUsers READ, log-delivery-write LogDelivery WRITE and
  READ_ACP; bucket-owner-read / bucket-owner-full-control give the bucket owner READ /
  FULL_CONTROL on an object, and are ignored on CreateBucket.
- A canned ACL together with `x-amz-grant-*` headers is 400 InvalidRequest ("Specifying both
  Canned ACLs and Header Grants is not allowed"); a grant to a canonical id of no account is
  400 InvalidArgument; a grant by e-mail that matches no account is 400
  UnresolvableGrantByEmailAddress (the codes ceph/s3-tests expects from AWS; since October
  2025 some AWS regions refuse every e-mail grant with 405 instead).
- Permissions (userguide/acl-overview.html#permissions): bucket READ lists, bucket WRITE
  creates objects, object READ reads the object, READ_ACP/WRITE_ACP read/write the ACL.
  An ACL never grants more than it names: object READ does not give READ_ACP.
- The account that writes an object owns it (ObjectWriter), and a bucket policy or the
  bucket's ownership does not give the bucket owner access to objects other accounts own
  (userguide/bucket-policies.html: "These permissions do not apply to objects that are
  owned by other AWS accounts"); ListObjects shows each object's own Owner.
- CopyObject does not copy the source's ACL; an overwrite gets a new ACL.
- BucketOwnerEnforced (userguide/object-ownership-error-responses.html): setting an ACL
  other than bucket-owner-full-control is 400 AccessControlListNotSupported; reading ACLs
  still works and shows the bucket owner's full control; CreateBucket with
  BucketOwnerEnforced and a public ACL, or PutBucketOwnershipControls BucketOwnerEnforced
  on a bucket whose ACL grants others, is 400 InvalidBucketAclWithObjectOwnership.
  BucketOwnerPreferred gives the bucket owner objects written with
  bucket-owner-full-control.
- Public access block (userguide/access-control-block-public-access.html): BlockPublicAcls
  refuses PUTs carrying public ACLs (403 AccessDenied) but leaves existing ACLs in force;
  IgnorePublicAcls makes existing public ACLs ineffective; BlockPublicPolicy refuses public
  bucket policies; RestrictPublicBuckets limits a public policy to the owner's account.
  Unset configurations are 404 OwnershipControlsNotFoundError /
  NoSuchPublicAccessBlockConfiguration.

Coffer keeps S3's pre-2023 defaults for a new bucket: ACLs enabled (no ownership controls)
and no public access block. AWS now creates buckets with BucketOwnerEnforced and all four
block settings on, so on AWS the canned-ACL tests below would need ObjectOwnership and a
DeletePublicAccessBlock first.

A second account (its own root keys, made with `coffer admin account create`) plays the
grantee and the foreign writer; an unsigned boto3 client plays the anonymous caller.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, _tool_env, coffer_bin, empty_and_delete_bucket
from helpers import err, form_body, post_form, status

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
NO_SUCH_CANONICAL_ID = "f" * 64


# ---------------------------------------------------------------- fixtures and helpers
@dataclass
class Account:
    client: object
    canonical_id: str
    account_id: str
    name: str


def admin(server, *args, check=True):
    env = _tool_env(server.data_dir.parent, server)
    res = subprocess.run([str(coffer_bin()), "admin", "--endpoint-url", server.endpoint, *args],
                         env=env, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"coffer admin {args} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


@pytest.fixture(scope="module")
def alt(server):
    """A second account, through its root user's keys."""
    name = f"acl-alt-{uuid.uuid4().hex[:8]}"
    created = json.loads(admin(server, "account", "create", name).stdout)
    client = server.client(created["AccessKeyId"], created["SecretAccessKey"])
    yield Account(client, created["CanonicalUserId"], created["AccountId"], name)
    admin(server, "account", "delete", created["AccountId"], check=False)


@pytest.fixture(scope="module")
def main_owner(server):
    """The shared server's root account as S3 shows it: {"ID": ..., "DisplayName": ...}."""
    return server.client().list_buckets()["Owner"]


@pytest.fixture(scope="module")
def anon(server):
    """An unsigned (anonymous) client."""
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1, "mode": "standard"}))


def grants(resp) -> list[tuple[str, str]]:
    """A Get*Acl response's grants as sorted (grantee, permission); the grantee is a
    canonical id or a group URI."""
    out = []
    for g in resp["Grants"]:
        ge = g["Grantee"]
        if ge["Type"] == "CanonicalUser":
            out.append((ge["ID"], g["Permission"]))
        elif ge["Type"] == "Group":
            out.append((ge["URI"], g["Permission"]))
        else:
            out.append((ge["Type"], g["Permission"]))
    return sorted(out)


def expected(*pairs) -> list[tuple[str, str]]:
    return sorted(pairs)


def canned(owner_id: str, name: str, bucket_owner_id: str | None = None) -> list[tuple[str, str]]:
    """What S3 documents a canned ACL to grant (for an object owned by `owner_id` in a
    bucket owned by `bucket_owner_id`)."""
    g = [(owner_id, "FULL_CONTROL")]
    if name == "public-read":
        g.append((ALL_USERS, "READ"))
    elif name == "public-read-write":
        g += [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")]
    elif name == "authenticated-read":
        g.append((AUTH_USERS, "READ"))
    elif name == "log-delivery-write":
        g += [(LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")]
    elif name == "bucket-owner-read" and bucket_owner_id and bucket_owner_id != owner_id:
        g.append((bucket_owner_id, "READ"))
    elif name == "bucket-owner-full-control" and bucket_owner_id and bucket_owner_id != owner_id:
        g.append((bucket_owner_id, "FULL_CONTROL"))
    return sorted(g)


def denied(call, *args, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as ei:
        call(*args, **kwargs)
    return err(ei)


def read(client, bucket, key, **kw) -> bytes:
    return client.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def public_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})


@pytest.fixture
def make_bucket(s3, bucket_name, cleanup_buckets):
    """Create a bucket with CreateBucket arguments of the test's choosing."""
    def make(suffix: str = "", **kwargs) -> str:
        name = (bucket_name[:50] + suffix)[:63]
        s3.create_bucket(Bucket=name, **kwargs)
        cleanup_buckets.append(name)
        return name
    return make


@pytest.fixture
def alt_writable(s3, bucket, alt, main_owner):
    """The test's bucket, with an ACL granting the alt account WRITE (and the owner
    FULL_CONTROL)."""
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{main_owner["ID"]}"',
                      GrantWrite=f'id="{alt.canonical_id}"')
    return bucket


# ---------------------------------------------------------------- default ACLs
def test_new_bucket_acl_is_the_owner_with_full_control(s3, bucket, main_owner):
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"]["ID"] == main_owner["ID"]
    assert acl["Owner"].get("DisplayName") == main_owner["DisplayName"]
    assert grants(acl) == [(main_owner["ID"], "FULL_CONTROL")]
    g = acl["Grants"][0]["Grantee"]
    assert g["Type"] == "CanonicalUser" and g.get("DisplayName") == main_owner["DisplayName"]


def test_new_object_acl_is_the_owner_with_full_control(s3, bucket, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    assert acl["Owner"]["ID"] == main_owner["ID"]
    assert acl["Owner"].get("DisplayName") == main_owner["DisplayName"]
    assert grants(acl) == [(main_owner["ID"], "FULL_CONTROL")]


def test_alt_account_owner_has_its_own_canonical_id_and_name(alt, main_owner):
    owner = alt.client.list_buckets()["Owner"]
    assert owner["ID"] == alt.canonical_id != main_owner["ID"]
    assert owner.get("DisplayName") == alt.name


def test_acl_of_missing_object_is_no_such_key(s3, bucket):
    assert denied(s3.get_object_acl, Bucket=bucket, Key="nope") == ("NoSuchKey", 404)
    assert denied(s3.put_object_acl, Bucket=bucket, Key="nope", ACL="public-read") == \
        ("NoSuchKey", 404)


# ---------------------------------------------------------------- canned ACLs
@pytest.mark.parametrize("acl", ["private", "public-read", "public-read-write",
                                 "authenticated-read", "log-delivery-write",
                                 "bucket-owner-read", "bucket-owner-full-control"])
def test_create_bucket_with_canned_acl(s3, make_bucket, main_owner, acl):
    name = make_bucket(ACL=acl)
    got = s3.get_bucket_acl(Bucket=name)
    assert got["Owner"]["ID"] == main_owner["ID"]
    # bucket-owner-* are ignored on buckets: the owner is the bucket owner.
    assert grants(got) == canned(main_owner["ID"], acl)


@pytest.mark.parametrize("acl", ["private", "public-read", "public-read-write",
                                 "authenticated-read"])
def test_put_object_with_canned_acl(s3, bucket, main_owner, acl):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL=acl)
    got = s3.get_object_acl(Bucket=bucket, Key="k")
    assert got["Owner"]["ID"] == main_owner["ID"]
    assert grants(got) == canned(main_owner["ID"], acl)


def test_copy_object_takes_the_requested_acl_not_the_sources(s3, bucket, main_owner, anon):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copied", ACL="public-read")
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "src"})
    assert grants(s3.get_object_acl(Bucket=bucket, Key="plain")) == \
        [(main_owner["ID"], "FULL_CONTROL")]
    assert denied(anon.get_object, Bucket=bucket, Key="plain") == ("AccessDenied", 403)

    s3.put_object(Bucket=bucket, Key="src2", Body=b"copied2")
    s3.copy_object(Bucket=bucket, Key="pub", CopySource={"Bucket": bucket, "Key": "src2"},
                   ACL="authenticated-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="pub")) == \
        canned(main_owner["ID"], "authenticated-read")
    s3.copy_object(Bucket=bucket, Key="pub", CopySource={"Bucket": bucket, "Key": "src2"},
                   ACL="public-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="pub")) == \
        canned(main_owner["ID"], "public-read")
    assert read(anon, bucket, "pub") == b"copied2"


def test_multipart_upload_acl_applies_to_the_completed_object(s3, bucket, main_owner, anon):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ACL="public-read")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=b"multipart body")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert grants(s3.get_object_acl(Bucket=bucket, Key="mp")) == \
        canned(main_owner["ID"], "public-read")
    assert read(anon, bucket, "mp") == b"multipart body"


def test_overwrite_replaces_the_acl(s3, bucket, main_owner, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", ACL="public-read")
    assert read(anon, bucket, "k") == b"one"
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        [(main_owner["ID"], "FULL_CONTROL")]
    assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)


def test_each_version_keeps_its_own_acl(s3, bucket, main_owner, anon):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1", ACL="public-read")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2")["VersionId"]
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v1)) == \
        canned(main_owner["ID"], "public-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        [(main_owner["ID"], "FULL_CONTROL")]
    s3.put_object_acl(Bucket=bucket, Key="k", VersionId=v2, ACL="authenticated-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v2)) == \
        canned(main_owner["ID"], "authenticated-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v1)) == \
        canned(main_owner["ID"], "public-read")
    assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # A request naming a version is decided by that version's ACL.
    assert read(anon, bucket, "k", VersionId=v1) == b"v1"
    s3.put_object_acl(Bucket=bucket, Key="k", VersionId=v2, ACL="public-read")
    s3.put_object_acl(Bucket=bucket, Key="k", VersionId=v1, ACL="private")
    assert read(anon, bucket, "k") == b"v2"
    assert denied(anon.get_object, Bucket=bucket, Key="k", VersionId=v1) == \
        ("AccessDenied", 403)


@pytest.mark.parametrize("acl", ["bucket-owner-read", "bucket-owner-full-control"])
def test_foreign_writer_bucket_owner_canned_acls(s3, alt_writable, alt, main_owner, acl):
    bucket = alt_writable
    alt.client.put_object(Bucket=bucket, Key="k", Body=b"from alt", ACL=acl)
    got = alt.client.get_object_acl(Bucket=bucket, Key="k")
    assert got["Owner"]["ID"] == alt.canonical_id
    assert grants(got) == canned(alt.canonical_id, acl, main_owner["ID"])
    # The grant lets the bucket owner read the object.
    assert read(s3, bucket, "k") == b"from alt"


# ---------------------------------------------------------------- Put*Acl
def test_put_bucket_acl_canned_round_trip(s3, bucket, main_owner):
    for acl in ("public-read", "authenticated-read", "private"):
        assert status(s3.put_bucket_acl(Bucket=bucket, ACL=acl)) == 200
        assert grants(s3.get_bucket_acl(Bucket=bucket)) == canned(main_owner["ID"], acl)


def test_put_object_acl_canned_round_trip(s3, bucket, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for acl in ("public-read-write", "authenticated-read", "private"):
        assert status(s3.put_object_acl(Bucket=bucket, Key="k", ACL=acl)) == 200
        assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == canned(main_owner["ID"], acl)


def test_object_read_grant_by_canonical_id_lets_the_other_account_read(
        s3, bucket, alt, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"shared")
    assert denied(alt.client.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    s3.put_object_acl(Bucket=bucket, Key="k", GrantFullControl=f'id="{main_owner["ID"]}"',
                      GrantRead=f'id="{alt.canonical_id}"')
    got = s3.get_object_acl(Bucket=bucket, Key="k")
    assert grants(got) == expected((main_owner["ID"], "FULL_CONTROL"),
                                   (alt.canonical_id, "READ"))
    alt_grant = [g for g in got["Grants"] if g["Grantee"].get("ID") == alt.canonical_id][0]
    assert alt_grant["Grantee"]["Type"] == "CanonicalUser"
    assert alt_grant["Grantee"].get("DisplayName") == alt.name
    assert read(alt.client, bucket, "k") == b"shared"
    assert alt.client.head_object(Bucket=bucket, Key="k")["ContentLength"] == 6
    # READ is only READ: not the ACL, not a write, not the bucket listing.
    assert denied(alt.client.get_object_acl, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(alt.client.put_object_acl, Bucket=bucket, Key="k", ACL="public-read") == \
        ("AccessDenied", 403)
    assert denied(alt.client.put_object, Bucket=bucket, Key="k", Body=b"no") == \
        ("AccessDenied", 403)
    assert denied(alt.client.list_objects, Bucket=bucket) == ("AccessDenied", 403)
    # Taking the grant away takes the access away.
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert denied(alt.client.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)


def test_grant_headers_set_exactly_the_grants_named(s3, bucket, alt):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{alt.canonical_id}"',
                      GrantReadACP=f'uri="{AUTH_USERS}"')
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        expected((alt.canonical_id, "READ"), (AUTH_USERS, "READ_ACP"))


def test_object_read_acp_and_write_acp_grants(s3, bucket, alt, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_acl(Bucket=bucket, Key="k", GrantFullControl=f'id="{main_owner["ID"]}"',
                      GrantReadACP=f'id="{alt.canonical_id}"',
                      GrantWriteACP=f'id="{alt.canonical_id}"')
    got = alt.client.get_object_acl(Bucket=bucket, Key="k")
    assert got["Owner"]["ID"] == main_owner["ID"]
    assert denied(alt.client.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # WRITE_ACP: alt may rewrite the ACL, here to give itself READ.
    alt.client.put_object_acl(Bucket=bucket, Key="k", GrantFullControl=f'id="{main_owner["ID"]}"',
                              GrantRead=f'id="{alt.canonical_id}"')
    assert read(alt.client, bucket, "k") == b"x"


def test_put_bucket_acl_with_access_control_policy_body(s3, bucket, alt, main_owner, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    policy = {
        "Owner": {"ID": main_owner["ID"]},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": main_owner["ID"]},
             "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": alt.canonical_id},
             "Permission": "READ"},
            {"Grantee": {"Type": "CanonicalUser", "ID": alt.canonical_id},
             "Permission": "READ_ACP"},
        ],
    }
    assert status(s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy)) == 200
    assert grants(s3.get_bucket_acl(Bucket=bucket)) == expected(
        (main_owner["ID"], "FULL_CONTROL"), (alt.canonical_id, "READ"),
        (alt.canonical_id, "READ_ACP"))
    # Bucket READ lists, READ_ACP reads the ACL; neither reads objects or writes.
    assert [o["Key"] for o in alt.client.list_objects(Bucket=bucket)["Contents"]] == ["k"]
    assert [o["Key"] for o in alt.client.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert grants(alt.client.get_bucket_acl(Bucket=bucket)) == \
        grants(s3.get_bucket_acl(Bucket=bucket))
    assert denied(alt.client.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(alt.client.put_object, Bucket=bucket, Key="n", Body=b"n") == \
        ("AccessDenied", 403)
    assert denied(alt.client.put_bucket_acl, Bucket=bucket, ACL="public-read") == \
        ("AccessDenied", 403)
    assert denied(anon.list_objects, Bucket=bucket) == ("AccessDenied", 403)


def test_put_object_acl_with_access_control_policy_body(s3, bucket, alt, main_owner, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"body acl")
    policy = {
        "Owner": {"ID": main_owner["ID"]},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": main_owner["ID"]},
             "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
        ],
    }
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy=policy)
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        canned(main_owner["ID"], "public-read")
    assert read(anon, bucket, "k") == b"body acl"
    assert read(alt.client, bucket, "k") == b"body acl"


def test_canned_acl_and_grant_headers_together_are_invalid_request(s3, bucket, alt):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    grant = f'id="{alt.canonical_id}"'
    assert denied(s3.put_bucket_acl, Bucket=bucket, ACL="public-read", GrantRead=grant) == \
        ("InvalidRequest", 400)
    assert denied(s3.put_object_acl, Bucket=bucket, Key="k", ACL="private",
                  GrantRead=grant) == ("InvalidRequest", 400)
    assert denied(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", ACL="private",
                  GrantRead=grant) == ("InvalidRequest", 400)
    # Nothing changed.
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1
    assert len(s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]) == 1


def test_grant_to_unknown_canonical_id_is_invalid_argument(s3, bucket, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    grant = f'id="{NO_SUCH_CANONICAL_ID}"'
    assert denied(s3.put_bucket_acl, Bucket=bucket, GrantRead=grant) == ("InvalidArgument", 400)
    assert denied(s3.put_object_acl, Bucket=bucket, Key="k", GrantRead=grant) == \
        ("InvalidArgument", 400)
    policy = {"Owner": {"ID": main_owner["ID"]}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": NO_SUCH_CANONICAL_ID},
         "Permission": "READ"}]}
    assert denied(s3.put_object_acl, Bucket=bucket, Key="k", AccessControlPolicy=policy) == \
        ("InvalidArgument", 400)
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        [(main_owner["ID"], "FULL_CONTROL")]


def test_grant_by_unknown_email_is_unresolvable(s3, bucket, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    grant = 'emailAddress="nobody@example.com"'
    assert denied(s3.put_bucket_acl, Bucket=bucket, GrantRead=grant) == \
        ("UnresolvableGrantByEmailAddress", 400)
    assert denied(s3.put_object_acl, Bucket=bucket, Key="k", GrantRead=grant) == \
        ("UnresolvableGrantByEmailAddress", 400)
    policy = {"Owner": {"ID": main_owner["ID"]}, "Grants": [
        {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "nobody@example.com"},
         "Permission": "READ"}]}
    assert denied(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=policy) == \
        ("UnresolvableGrantByEmailAddress", 400)


def test_acls_on_the_bucket_are_only_changed_by_whom_they_allow(s3, bucket, alt, anon):
    assert denied(alt.client.get_bucket_acl, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(alt.client.put_bucket_acl, Bucket=bucket, ACL="public-read") == \
        ("AccessDenied", 403)
    assert denied(anon.get_bucket_acl, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(anon.put_bucket_acl, Bucket=bucket, ACL="public-read-write") == \
        ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    # READ on the object is not READ_ACP.
    assert denied(anon.get_object_acl, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(alt.client.get_object_acl, Bucket=bucket, Key="k") == ("AccessDenied", 403)


# ---------------------------------------------------------------- enforcement
def test_anonymous_reads_public_read_objects_only(s3, bucket, anon):
    s3.put_object(Bucket=bucket, Key="public", Body=b"for all", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private", Body=b"mine")
    assert read(anon, bucket, "public") == b"for all"
    assert anon.head_object(Bucket=bucket, Key="public")["ContentLength"] == 7
    assert denied(anon.get_object, Bucket=bucket, Key="private") == ("AccessDenied", 403)
    with pytest.raises(ClientError) as ei:
        anon.head_object(Bucket=bucket, Key="private")
    assert err(ei)[1] == 403
    # An object's READ does not open the bucket listing.
    assert denied(anon.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)


def test_anonymous_lists_public_read_bucket_but_not_its_private_objects(
        s3, make_bucket, anon):
    name = make_bucket(ACL="public-read")
    s3.put_object(Bucket=name, Key="a", Body=b"a")
    s3.put_object(Bucket=name, Key="b", Body=b"b")
    assert [o["Key"] for o in anon.list_objects(Bucket=name)["Contents"]] == ["a", "b"]
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]] == ["a", "b"]
    # Bucket READ is listing only: the objects themselves stay private.
    assert denied(anon.get_object, Bucket=name, Key="a") == ("AccessDenied", 403)
    assert denied(anon.put_object, Bucket=name, Key="c", Body=b"c") == ("AccessDenied", 403)


def test_anonymous_writes_into_public_read_write_bucket(s3, make_bucket, anon):
    name = make_bucket(ACL="public-read-write")
    assert status(anon.put_object(Bucket=name, Key="anon", Body=b"dropped")) == 200
    assert read(s3, name, "anon") == b"dropped"
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]] == ["anon"]
    # A private bucket takes no anonymous writes.
    other = make_bucket("-p")
    assert denied(anon.put_object, Bucket=other, Key="anon", Body=b"x") == ("AccessDenied", 403)


def test_authenticated_read_allows_other_accounts_not_anonymous(s3, bucket, alt, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"signed only", ACL="authenticated-read")
    assert read(alt.client, bucket, "k") == b"signed only"
    assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)


def test_bucket_write_grant_lets_other_account_write_and_own_the_object(
        s3, bucket, alt, main_owner):
    assert denied(alt.client.put_object, Bucket=bucket, Key="k", Body=b"x") == \
        ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{main_owner["ID"]}"',
                      GrantWrite=f'id="{alt.canonical_id}"')
    assert status(alt.client.put_object(Bucket=bucket, Key="k", Body=b"by alt")) == 200
    acl = alt.client.get_object_acl(Bucket=bucket, Key="k")
    assert acl["Owner"]["ID"] == alt.canonical_id
    assert acl["Owner"].get("DisplayName") == alt.name
    assert grants(acl) == [(alt.canonical_id, "FULL_CONTROL")]
    assert read(alt.client, bucket, "k") == b"by alt"
    # WRITE is not READ on the bucket.
    assert denied(alt.client.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    # The bucket owner may still delete any object in its bucket.
    assert status(s3.delete_object(Bucket=bucket, Key="k")) == 204


def test_foreign_object_owner_controls_its_acl(s3, alt_writable, alt, main_owner, anon):
    bucket = alt_writable
    alt.client.put_object(Bucket=bucket, Key="k", Body=b"alt data")
    alt.client.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert grants(alt.client.get_object_acl(Bucket=bucket, Key="k")) == \
        canned(alt.canonical_id, "public-read")
    assert read(anon, bucket, "k") == b"alt data"


def test_bucket_owner_cannot_read_foreign_object_without_a_grant(s3, alt_writable, alt):
    """AWS: bucket policies and the bucket owner's rights do not extend to objects other
    accounts own (ObjectWriter); the bucket owner may still delete them."""
    bucket = alt_writable
    alt.client.put_object(Bucket=bucket, Key="k", Body=b"alt only")
    assert denied(s3.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(s3.get_object_acl, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(s3.get_object_tagging, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # A bucket policy granting the owner's account everything does not reach it.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    try:
        assert denied(s3.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
        # Its owner's grant does.
        alt.client.put_object_acl(Bucket=bucket, Key="k", ACL="bucket-owner-read")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"alt only"
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_listing_shows_each_objects_own_owner(s3, alt_writable, alt, main_owner):
    bucket = alt_writable
    s3.put_object(Bucket=bucket, Key="by-main", Body=b"m")
    alt.client.put_object(Bucket=bucket, Key="by-alt", Body=b"a")
    owners = {o["Key"]: o["Owner"]["ID"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    assert owners == {"by-main": main_owner["ID"], "by-alt": alt.canonical_id}
    v2 = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    assert {o["Key"]: o["Owner"]["ID"] for o in v2} == owners


# ---------------------------------------------------------------- Object Ownership
def test_ownership_controls_round_trip(s3, bucket):
    assert denied(s3.get_bucket_ownership_controls, Bucket=bucket) == \
        ("OwnershipControlsNotFoundError", 404)
    for value in ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"):
        assert status(s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": value}]})) == 200
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": value}]
    assert status(s3.delete_bucket_ownership_controls(Bucket=bucket)) == 204
    assert denied(s3.get_bucket_ownership_controls, Bucket=bucket) == \
        ("OwnershipControlsNotFoundError", 404)


def test_create_bucket_with_object_ownership(s3, make_bucket):
    name = make_bucket(ObjectOwnership="BucketOwnerEnforced")
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_owner_enforced_refuses_acls_but_bucket_owner_full_control(
        s3, make_bucket, main_owner):
    name = make_bucket(ObjectOwnership="BucketOwnerEnforced")
    assert denied(s3.put_object, Bucket=name, Key="k", Body=b"x", ACL="public-read") == \
        ("AccessControlListNotSupported", 400)
    assert denied(s3.put_bucket_acl, Bucket=name, ACL="public-read") == \
        ("AccessControlListNotSupported", 400)
    assert denied(s3.create_multipart_upload, Bucket=name, Key="mp",
                  ACL="authenticated-read") == ("AccessControlListNotSupported", 400)
    assert status(s3.put_object(Bucket=name, Key="k", Body=b"x",
                                ACL="bucket-owner-full-control")) == 200
    assert denied(s3.put_object_acl, Bucket=name, Key="k", ACL="public-read") == \
        ("AccessControlListNotSupported", 400)
    assert denied(s3.copy_object, Bucket=name, Key="c", ACL="public-read",
                  CopySource={"Bucket": name, "Key": "k"}) == \
        ("AccessControlListNotSupported", 400)
    # Reading ACLs still works and shows the bucket owner's full control.
    assert grants(s3.get_object_acl(Bucket=name, Key="k")) == \
        [(main_owner["ID"], "FULL_CONTROL")]
    assert grants(s3.get_bucket_acl(Bucket=name)) == [(main_owner["ID"], "FULL_CONTROL")]


def test_bucket_owner_enforced_disables_existing_object_acls(s3, bucket, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"was public", ACL="public-read")
    assert read(anon, bucket, "k") == b"was public"
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # Back to ObjectWriter: the object's ACL counts again.
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    assert read(anon, bucket, "k") == b"was public"


def test_bucket_owner_enforced_acl_reads_show_only_the_owner(s3, bucket, main_owner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == \
        [(main_owner["ID"], "FULL_CONTROL")]


def test_create_bucket_enforced_with_public_acl_is_invalid_bucket_acl(
        s3, bucket_name, cleanup_buckets):
    cleanup_buckets.append(bucket_name)
    assert denied(s3.create_bucket, Bucket=bucket_name, ACL="public-read",
                  ObjectOwnership="BucketOwnerEnforced") == \
        ("InvalidBucketAclWithObjectOwnership", 400)


def test_enforcing_ownership_on_a_bucket_with_public_acl_is_refused(s3, make_bucket):
    name = make_bucket(ACL="public-read")
    assert denied(s3.put_bucket_ownership_controls, Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}) == \
        ("InvalidBucketAclWithObjectOwnership", 400)


def test_bucket_owner_preferred_takes_objects_written_with_full_control(
        s3, alt_writable, alt, main_owner):
    bucket = alt_writable
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    alt.client.put_object(Bucket=bucket, Key="given", Body=b"g",
                          ACL="bucket-owner-full-control")
    assert s3.get_object_acl(Bucket=bucket, Key="given")["Owner"]["ID"] == main_owner["ID"]
    assert read(s3, bucket, "given") == b"g"
    alt.client.put_object(Bucket=bucket, Key="kept", Body=b"k")
    assert alt.client.get_object_acl(Bucket=bucket, Key="kept")["Owner"]["ID"] == \
        alt.canonical_id


def test_bucket_owner_enforced_gives_foreign_writes_to_the_bucket_owner(
        s3, make_bucket, alt, main_owner):
    name = make_bucket(ObjectOwnership="BucketOwnerEnforced")
    # ACLs are off, so the other account needs the bucket policy.
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{alt.account_id}:root"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    alt.client.put_object(Bucket=name, Key="k", Body=b"taken")
    acl = s3.get_object_acl(Bucket=name, Key="k")
    assert acl["Owner"]["ID"] == main_owner["ID"]
    assert read(s3, name, "k") == b"taken"
    s3.delete_bucket_policy(Bucket=name)


# ---------------------------------------------------------------- public access block
ALL_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
             "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def test_public_access_block_round_trip(s3, bucket):
    assert denied(s3.get_public_access_block, Bucket=bucket) == \
        ("NoSuchPublicAccessBlockConfiguration", 404)
    assert status(s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=ALL_BLOCK)) == 200
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == \
        ALL_BLOCK
    partial = {"BlockPublicAcls": True, "IgnorePublicAcls": False,
               "BlockPublicPolicy": False, "RestrictPublicBuckets": True}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=partial)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == \
        partial
    assert status(s3.delete_public_access_block(Bucket=bucket)) == 204
    assert denied(s3.get_public_access_block, Bucket=bucket) == \
        ("NoSuchPublicAccessBlockConfiguration", 404)


def test_public_access_block_of_missing_bucket_is_no_such_bucket(s3, bucket_name):
    assert denied(s3.get_public_access_block, Bucket=bucket_name) == ("NoSuchBucket", 404)
    assert denied(s3.put_public_access_block, Bucket=bucket_name,
                  PublicAccessBlockConfiguration=ALL_BLOCK) == ("NoSuchBucket", 404)
    assert denied(s3.get_bucket_ownership_controls, Bucket=bucket_name) == ("NoSuchBucket", 404)


def test_block_public_acls_refuses_public_acls_on_writes(s3, bucket, main_owner, anon):
    s3.put_object(Bucket=bucket, Key="old", Body=b"old", ACL="public-read")
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert denied(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="public-read") == \
        ("AccessDenied", 403)
    assert denied(s3.put_object, Bucket=bucket, Key="k", Body=b"x",
                  GrantRead=f'uri="{AUTH_USERS}"') == ("AccessDenied", 403)
    assert denied(s3.put_bucket_acl, Bucket=bucket, ACL="public-read") == ("AccessDenied", 403)
    assert denied(s3.put_object_acl, Bucket=bucket, Key="old", ACL="public-read-write") == \
        ("AccessDenied", 403)
    # Non-public ACLs still go through; existing public ACLs stay in force.
    assert status(s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")) == 200
    assert status(s3.put_bucket_acl(Bucket=bucket, ACL="private")) == 200
    assert read(anon, bucket, "old") == b"old"
    assert grants(s3.get_object_acl(Bucket=bucket, Key="old")) == \
        canned(main_owner["ID"], "public-read")
    s3.delete_public_access_block(Bucket=bucket)
    assert status(s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")) == 200


def test_ignore_public_acls_hides_public_objects_until_removed(s3, bucket, alt, anon):
    s3.put_object(Bucket=bucket, Key="pub", Body=b"public", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="auth", Body=b"signed", ACL="authenticated-read")
    s3.put_object(Bucket=bucket, Key="direct", Body=b"direct")
    s3.put_object_acl(Bucket=bucket, Key="direct", GrantRead=f'id="{alt.canonical_id}"')
    assert read(anon, bucket, "pub") == b"public"
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert denied(anon.get_object, Bucket=bucket, Key="pub") == ("AccessDenied", 403)
    assert denied(alt.client.get_object, Bucket=bucket, Key="auth") == ("AccessDenied", 403)
    # A grant to a named account is not public and still counts.
    assert read(alt.client, bucket, "direct") == b"direct"
    # The owner is unaffected, and the ACL itself is unchanged.
    assert read(s3, bucket, "pub") == b"public"
    s3.delete_public_access_block(Bucket=bucket)
    assert read(anon, bucket, "pub") == b"public"
    assert read(alt.client, bucket, "auth") == b"signed"


def test_ignore_public_acls_closes_a_public_bucket_listing(s3, make_bucket, anon):
    name = make_bucket(ACL="public-read-write")
    s3.put_object(Bucket=name, Key="a", Body=b"a")
    assert len(anon.list_objects_v2(Bucket=name)["Contents"]) == 1
    s3.put_public_access_block(Bucket=name,
                               PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert denied(anon.list_objects_v2, Bucket=name) == ("AccessDenied", 403)
    assert denied(anon.put_object, Bucket=name, Key="b", Body=b"b") == ("AccessDenied", 403)


def test_block_public_policy_refuses_public_bucket_policies(s3, bucket):
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert denied(s3.put_bucket_policy, Bucket=bucket, Policy=public_policy(bucket)) == \
        ("AccessDenied", 403)


def test_restrict_public_buckets_stops_anonymous_access_through_policy(s3, bucket, anon):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    try:
        assert read(anon, bucket, "k") == b"x"
        s3.put_public_access_block(Bucket=bucket,
                                   PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
        assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    finally:
        s3.delete_bucket_policy(Bucket=bucket)


def _form_post(endpoint: str, bucket: str, fields: dict[str, str], data: bytes) -> int:
    """An unsigned browser-form POST upload; returns the HTTP status."""
    return post_form(f"{endpoint}/{bucket}", fields, data)[0]


def test_anonymous_form_post_follows_the_bucket_acl(live_server, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ACL="public-read-write")
    try:
        status = _form_post(live_server.endpoint, bucket_name, {"key": "up/a.txt"}, b"bar")
        assert status == 204
        assert s3.get_object(Bucket=bucket_name, Key="up/a.txt")["Body"].read() == b"bar"
        # The same upload into a private bucket is refused, and nothing is stored.
        s3.put_bucket_acl(Bucket=bucket_name, ACL="private")
        status = _form_post(live_server.endpoint, bucket_name, {"key": "up/b.txt"}, b"bar")
        assert status == 403
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket_name, Prefix="up/b")
    finally:
        from conftest import empty_and_delete_bucket
        empty_and_delete_bucket(s3, bucket_name)


def test_form_post_redirects_with_the_quoted_etag(live_server, s3, bucket_name):
    import http.client
    from urllib.parse import parse_qs, urlsplit
    s3.create_bucket(Bucket=bucket_name, ACL="public-read-write")
    try:
        target = "http://example.test/done?from=form"
        body, content_type = form_body(
            {"key": "r/a.txt", "success_action_redirect": target}, b"redirected")
        host = urlsplit(live_server.endpoint)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        conn.request("POST", f"/{bucket_name}", body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 303
        location = resp.getheader("Location")
        etag = s3.head_object(Bucket=bucket_name, Key="r/a.txt")["ETag"]
        assert location.startswith("http://example.test/done?from=form&")
        # S3 sends the ETag with its quotes, percent-encoded.
        assert f"etag={etag.replace(chr(34), '%22')}" in location
        assert parse_qs(urlsplit(location).query) == {
            "from": ["form"], "bucket": [bucket_name], "key": ["r/a.txt"], "etag": [etag]}
    finally:
        from conftest import empty_and_delete_bucket
        empty_and_delete_bucket(s3, bucket_name)


def test_form_post_is_checked_against_policies_with_its_key(live_server, s3, bucket_name):
    # A public bucket policy that denies one prefix: a POST into it is refused
    # even though the request path names only the bucket.
    import json
    s3.create_bucket(Bucket=bucket_name)
    try:
        s3.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": f"arn:aws:s3:::{bucket_name}/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": f"arn:aws:s3:::{bucket_name}/secret/*"}]}))
        assert _form_post(live_server.endpoint, bucket_name, {"key": "open/a"}, b"x") == 204
        assert _form_post(live_server.endpoint, bucket_name, {"key": "secret/a"}, b"x") == 403
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]] == ["open/a"]
    finally:
        from conftest import empty_and_delete_bucket
        empty_and_delete_bucket(s3, bucket_name)


def test_missing_key_is_404_only_for_callers_who_may_list(anon, s3, bucket_name):
    # S3 answers 404 for a missing key when the caller may list the bucket,
    # 403 otherwise, so that key existence does not leak.
    a = anon
    s3.create_bucket(Bucket=bucket_name)
    try:
        with pytest.raises(ClientError) as ei:
            a.get_object(Bucket=bucket_name, Key="nope")
        assert err(ei)[1] == 403
        s3.put_bucket_acl(Bucket=bucket_name, ACL="public-read")
        with pytest.raises(ClientError) as ei:
            a.get_object(Bucket=bucket_name, Key="nope")
        assert err(ei) == ("NoSuchKey", 404)
        with pytest.raises(ClientError) as ei:
            a.head_object(Bucket=bucket_name, Key="nope")
        assert err(ei)[1] == 404
        # An existing private object stays 403 even for those who may list.
        s3.put_object(Bucket=bucket_name, Key="private", Body=b"x")
        with pytest.raises(ClientError) as ei:
            a.get_object(Bucket=bucket_name, Key="private")
        assert err(ei)[1] == 403
    finally:
        from conftest import empty_and_delete_bucket
        empty_and_delete_bucket(s3, bucket_name)
