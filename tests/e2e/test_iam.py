"""Identity and access: the IAM Query API through aws cli and boto3, accounts through
`coffer admin`, and policies enforced on S3 requests made by real clients."""

from __future__ import annotations

import json
import time
import subprocess
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, _tool, _tool_env, coffer_bin, empty_and_delete_bucket, write_s3cmd_config


def iam_client(server, access_key=None, secret_key=None):
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


@pytest.fixture
def iam(live_server):
    return iam_client(live_server)


def make_user(iam, name: str, policy: dict | None = None):
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


def delete_user(iam, name: str):
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    for p in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=p)
    iam.delete_user(UserName=name)


# --------------------------------------------------------------------- the IAM API

def test_aws_cli_manages_users_and_keys(aws):
    name = unique("cli-user")
    created = json.loads(aws("iam", "create-user", "--user-name", name, "--path", "/team/").stdout)["User"]
    assert created["UserName"] == name
    assert created["Path"] == "/team/"
    assert created["Arn"].endswith(f":user/team/{name}")
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    again = aws("iam", "create-user", "--user-name", name, check=False)
    assert again.returncode != 0 and "EntityAlreadyExists" in again.stderr

    key = json.loads(aws("iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    aws("iam", "create-access-key", "--user-name", name)
    third = aws("iam", "create-access-key", "--user-name", name, check=False)
    assert third.returncode != 0 and "LimitExceeded" in third.stderr

    listed = json.loads(aws("iam", "list-users", "--path-prefix", "/team/").stdout)["Users"]
    assert name in [u["UserName"] for u in listed]
    keys = json.loads(aws("iam", "list-access-keys", "--user-name", name).stdout)["AccessKeyMetadata"]
    assert len(keys) == 2 and all(k["UserName"] == name for k in keys)

    conflict = aws("iam", "delete-user", "--user-name", name, check=False)
    assert conflict.returncode != 0 and "DeleteConflict" in conflict.stderr
    for k in keys:
        aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", k["AccessKeyId"])
    aws("iam", "delete-user", "--user-name", name)
    gone = aws("iam", "get-user", "--user-name", name, check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


def test_get_user_without_a_name_describes_the_caller(live_server, iam):
    me = iam.get_user()["User"]
    assert me["Arn"].endswith(":root")
    name = unique("self")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    try:
        mine = iam_client(live_server, ak, sk).get_user()["User"]
        assert mine["UserName"] == name
    finally:
        delete_user(iam, name)


def test_inline_policies_round_trip_and_bad_documents_are_refused(iam):
    name = unique("pol")
    iam.create_user(UserName=name)
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(doc))
    got = iam.get_user_policy(UserName=name, PolicyName="read")
    assert got["PolicyDocument"] == doc  # boto3 decodes IAM's URL-encoded document
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["read"]
    for bad in ["not json", json.dumps({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
                json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]})]:
        with pytest.raises(ClientError) as e:
            iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=bad)
        assert error_code(e.value) == "MalformedPolicyDocument", bad
    iam.delete_user_policy(UserName=name, PolicyName="read")
    with pytest.raises(ClientError) as e:
        iam.get_user_policy(UserName=name, PolicyName="read")
    assert error_code(e.value) == "NoSuchEntity"
    iam.delete_user(UserName=name)


def test_inactive_and_deleted_keys_are_refused(live_server, iam):
    name = unique("keys")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    s3 = live_server.client(ak, sk)
    try:
        s3.list_buckets()
        iam.update_access_key(UserName=name, AccessKeyId=ak, Status="Inactive")
        with pytest.raises(ClientError) as e:
            s3.list_buckets()
        assert error_code(e.value) == "InvalidAccessKeyId"
        iam.update_access_key(UserName=name, AccessKeyId=ak, Status="Active")
        s3.list_buckets()
        iam.delete_access_key(UserName=name, AccessKeyId=ak)
        with pytest.raises(ClientError) as e:
            s3.list_buckets()
        assert error_code(e.value) == "InvalidAccessKeyId"
    finally:
        delete_user(iam, name)


def test_iam_actions_by_users_follow_their_policies(live_server, iam):
    admin = unique("useradmin")
    plain = unique("plain")
    ak, sk = make_user(iam, admin, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:DeleteUser", "iam:GetUser"],
         "Resource": "arn:aws:iam::*:user/*"}]})
    pak, psk = make_user(iam, plain, None)
    try:
        made = unique("made")
        iam_client(live_server, ak, sk).create_user(UserName=made)
        iam_client(live_server, ak, sk).delete_user(UserName=made)
        with pytest.raises(ClientError) as e:
            iam_client(live_server, ak, sk).list_users()
        assert error_code(e.value) == "AccessDenied"
        with pytest.raises(ClientError) as e:
            iam_client(live_server, pak, psk).create_user(UserName=unique("nope"))
        assert error_code(e.value) == "AccessDenied"
        assert "iam:CreateUser" in e.value.response["Error"]["Message"]
    finally:
        delete_user(iam, admin)
        delete_user(iam, plain)


def test_bad_signatures_on_the_iam_api_are_refused(live_server):
    bad = iam_client(live_server, live_server.access_key, "x" * 40)
    with pytest.raises(ClientError) as e:
        bad.list_users()
    assert error_code(e.value) == "SignatureDoesNotMatch"
    unknown = iam_client(live_server, "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    with pytest.raises(ClientError) as e:
        unknown.list_users()
    assert error_code(e.value) == "InvalidClientTokenId"


# --------------------------------------------------------------------- S3 under policies

def run_s3cmd(tmp_path, server, ak, sk, *args, check=True):
    class Creds:
        access_key, secret_key, host_port = ak, sk, server.host_port
    cfg = write_s3cmd_config(tmp_path / f"s3cfg-{ak}", Creds)
    env = _tool_env(tmp_path, server)
    res = subprocess.run([_tool("s3cmd"), "-c", str(cfg), *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"s3cmd {args} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def test_reference_scenario_user_limited_to_one_bucket(live_server, iam, s3, tmp_path):
    """DESIGN.md section 6: s3:* on cccs-docs and its objects, nothing else."""
    user = unique("cccs-docs")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"],
              "Resource": ["arn:aws:s3:::cccs-docs", "arn:aws:s3:::cccs-docs/*"]}]}
    ak, sk = make_user(iam, user, policy)
    other = unique("other")
    s3.create_bucket(Bucket=other)
    src = tmp_path / "docs"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.txt").write_text("beta\n")
    try:
        run_s3cmd(tmp_path, live_server, ak, sk, "mb", "s3://cccs-docs")
        run_s3cmd(tmp_path, live_server, ak, sk, "put", src / "a.txt", "s3://cccs-docs/a.txt")
        run_s3cmd(tmp_path, live_server, ak, sk, "get", "s3://cccs-docs/a.txt", tmp_path / "a.back")
        assert (tmp_path / "a.back").read_text() == "alpha\n"
        run_s3cmd(tmp_path, live_server, ak, sk, "sync", "-r", "--skip-existing", f"{src}/", "s3://cccs-docs/docs/")
        listed = run_s3cmd(tmp_path, live_server, ak, sk, "ls", "-r", "s3://cccs-docs").stdout
        assert "s3://cccs-docs/docs/sub/b.txt" in listed and "s3://cccs-docs/a.txt" in listed
        # Everything else is refused, including listing all buckets.
        for args in (["ls"], ["ls", f"s3://{other}"], ["put", src / "a.txt", f"s3://{other}/x"], ["mb", f"s3://{unique('nope')}"]):
            res = run_s3cmd(tmp_path, live_server, ak, sk, *args, check=False)
            assert res.returncode != 0, args
            assert "AccessDenied" in res.stderr or "Access Denied" in res.stderr or "403" in res.stderr, (args, res.stderr)
        run_s3cmd(tmp_path, live_server, ak, sk, "del", "--recursive", "--force", "s3://cccs-docs")
        run_s3cmd(tmp_path, live_server, ak, sk, "rb", "s3://cccs-docs")
    finally:
        empty_and_delete_bucket(s3, other)
        try:
            empty_and_delete_bucket(s3, "cccs-docs")
        except ClientError:
            pass
        delete_user(iam, user)


def test_home_folders_with_username_variable_and_prefix_condition(live_server, iam, s3, bucket):
    name = unique("home")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}/"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*"}]}
    ak, sk = make_user(iam, name, policy)
    s3.put_object(Bucket=bucket, Key="home/someone-else/secret", Body=b"no")
    c = live_server.client(ak, sk)
    try:
        c.put_object(Bucket=bucket, Key=f"home/{name}/notes.txt", Body=b"mine")
        assert c.get_object(Bucket=bucket, Key=f"home/{name}/notes.txt")["Body"].read() == b"mine"
        keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=f"home/{name}/").get("Contents", [])]
        assert keys == [f"home/{name}/notes.txt"]
        for call in (lambda: c.get_object(Bucket=bucket, Key="home/someone-else/secret"),
                     lambda: c.list_objects_v2(Bucket=bucket, Prefix="home/someone-else/"),
                     lambda: c.list_objects_v2(Bucket=bucket)):
            with pytest.raises(ClientError) as e:
                call()
            assert error_code(e.value) == "AccessDenied"
    finally:
        delete_user(iam, name)


def test_confirm_remove_self_lets_a_policy_deny_the_owner_its_policy_actions(live_server, s3, bucket):
    deny_policy_actions = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*",
        "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    # Without the confirmation the owner's root keeps its policy actions...
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_policy_actions))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == deny_policy_actions
    s3.delete_bucket_policy(Bucket=bucket)
    # ...with it, the policy binds the owner too, as S3 promises.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_policy_actions),
                         ConfirmRemoveSelfBucketAccess=True)
    for call in (lambda: s3.get_bucket_policy(Bucket=bucket),
                 lambda: s3.delete_bucket_policy(Bucket=bucket)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e.value) == "AccessDenied"


def test_public_read_bucket_policy_serves_anonymous_gets_until_removed(live_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"hello world")
    url = f"{live_server.endpoint}/{bucket}/pub.txt"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)
    assert e.value.code == 403
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert urllib.request.urlopen(url).read() == b"hello world"
    # Reading is public, writing is not.
    req = urllib.request.Request(url, data=b"vandal", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)
    assert e.value.code == 403
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_code(e.value) == "NoSuchBucketPolicy"


def test_malformed_bucket_policies_are_refused(s3, bucket):
    for bad in ["{", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                                        "Resource": f"arn:aws:s3:::{bucket}/*"}]})]:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert error_code(e.value) == "MalformedPolicy", bad


def test_explicit_deny_by_source_ip_overrides_an_allow(live_server, iam, s3, bucket):
    name = unique("ipdeny")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
    c = live_server.client(ak, sk)
    try:
        c.put_object(Bucket=bucket, Key="k", Body=b"v")
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}))
        with pytest.raises(ClientError) as e:
            c.get_object(Bucket=bucket, Key="k")
        assert error_code(e.value) == "AccessDenied"
        assert "explicit deny" in e.value.response["Error"]["Message"]
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}))
        assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        delete_user(iam, name)


# --------------------------------------------------------------------- accounts

def admin(server, *args, check=True):
    env = _tool_env(server.data_dir.parent, server)
    res = subprocess.run([str(coffer_bin()), "admin", "--endpoint-url", server.endpoint, *args],
                         env=env, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"coffer admin {args} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def test_accounts_are_separate_owners(live_server, s3):
    name = unique("team")
    created = json.loads(admin(live_server, "account", "create", name).stdout)
    assert len(created["AccountId"]) == 12 and created["AccountId"].isdigit()
    assert created["AccessKeyId"].startswith("AKIA") and len(created["SecretAccessKey"]) == 40
    listed = json.loads(admin(live_server, "account", "list").stdout)["Accounts"]
    assert created["AccountId"] in [a["AccountId"] for a in listed]

    alt = live_server.client(created["AccessKeyId"], created["SecretAccessKey"])
    mine, theirs = unique("main-owned"), unique("alt-owned")
    s3.create_bucket(Bucket=mine)
    alt.create_bucket(Bucket=theirs)
    try:
        listing = alt.list_buckets()
        assert [b["Name"] for b in listing["Buckets"]] == [theirs]
        assert listing["Owner"]["ID"] == created["CanonicalUserId"]
        assert s3.list_buckets()["Owner"]["ID"] != created["CanonicalUserId"]
        with pytest.raises(ClientError) as e:
            alt.put_object(Bucket=mine, Key="x", Body=b"x")
        assert error_code(e.value) == "AccessDenied"
        with pytest.raises(ClientError) as e:
            s3.list_objects_v2(Bucket=theirs)
        assert error_code(e.value) == "AccessDenied"
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=theirs)
        assert error_code(e.value) == "BucketAlreadyExists"
        # A bucket policy naming the other account grants it access.
        s3.put_bucket_policy(Bucket=mine, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{created['AccountId']}:root"},
             "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"],
             "Resource": f"arn:aws:s3:::{mine}/*"}]}))
        alt.put_object(Bucket=mine, Key="shared", Body=b"from alt")
        # The writer owns what it wrote (ObjectWriter): the bucket owner may read it
        # only once granted, as on AWS.
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=mine, Key="shared")
        assert error_code(e.value) == "AccessDenied"
        alt.put_object(Bucket=mine, Key="shared", Body=b"from alt",
                       ACL="bucket-owner-full-control")
        assert s3.get_object(Bucket=mine, Key="shared")["Body"].read() == b"from alt"
        # Deleting an account that owns buckets is refused.
        refused = admin(live_server, "account", "delete", created["AccountId"], check=False)
        assert refused.returncode != 0 and "DeleteConflict" in refused.stderr
    finally:
        empty_and_delete_bucket(s3, mine)
        empty_and_delete_bucket(alt, theirs)
    admin(live_server, "account", "delete", created["AccountId"])
    with pytest.raises(ClientError) as e:
        alt.list_buckets()
    assert error_code(e.value) == "InvalidAccessKeyId"


def test_only_the_first_accounts_root_administers_accounts(live_server, iam):
    name = unique("notadmin")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    try:
        class Creds:
            access_key, secret_key, endpoint, data_dir = ak, sk, live_server.endpoint, live_server.data_dir
        res = admin(Creds, "account", "create", unique("x"), check=False)
        assert res.returncode != 0 and "AccessDenied" in res.stderr
    finally:
        delete_user(iam, name)


# --------------------------------------------------------------------- simulator and admin CLI

def test_simulate_principal_policy_reports_decisions_and_statements(live_server, iam):
    name = unique("sim")
    make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadDocs", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"},
        {"Sid": "NotFromOutside", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]})
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    try:
        inside = iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=["arn:aws:s3:::docs/a"],
            ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}],
        )["EvaluationResults"]
        assert [(r["EvalActionName"], r["EvalDecision"]) for r in inside] == [
            ("s3:GetObject", "allowed"), ("s3:PutObject", "implicitDeny")]
        outside = iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::docs/a"],
            ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["192.0.2.1"], "ContextKeyType": "ip"}],
        )["EvaluationResults"]
        assert outside[0]["EvalDecision"] == "explicitDeny"
        custom = iam.simulate_custom_policy(
            PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]})],
            ActionNames=["s3:ListBucket", "s3:DeleteBucket"], ResourceArns=["arn:aws:s3:::b"])["EvaluationResults"]
        assert [r["EvalDecision"] for r in custom] == ["allowed", "implicitDeny"]
    finally:
        delete_user(iam, name)


def test_admin_cli_manages_users_keys_policies_and_simulates(live_server, s3, bucket):
    name = unique("cli")
    user = json.loads(admin(live_server, "user", "create", name, "--path", "/ops/").stdout)["User"]
    assert user["UserName"] == name and user["Path"] == "/ops/"
    key = json.loads(admin(live_server, "key", "create", name).stdout)["AccessKey"]
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    admin(live_server, "policy", "put-user", name, "read", doc)
    assert json.loads(admin(live_server, "policy", "get-user", name, "read").stdout) == json.loads(doc)
    sim = json.loads(admin(live_server, "policy", "simulate", "--user", name, "--action", "s3:GetObject",
                           "--action", "s3:PutObject", "--resource", f"arn:aws:s3:::{bucket}/k").stdout)
    assert [r["EvalDecision"] for r in sim["EvaluationResults"]] == ["allowed", "implicitDeny"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    c = live_server.client(key["AccessKeyId"], key["SecretAccessKey"])
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    admin(live_server, "key", "disable", name, key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=bucket, Key="k")
    assert error_code(e.value) == "InvalidAccessKeyId"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    admin(live_server, "bucket-policy", "put", bucket, json.dumps(policy))
    assert json.loads(admin(live_server, "bucket-policy", "get", bucket).stdout) == policy
    admin(live_server, "bucket-policy", "delete", bucket)
    missing = admin(live_server, "bucket-policy", "get", bucket, check=False)
    assert missing.returncode != 0 and "NoSuchBucketPolicy" in missing.stderr
    refused = admin(live_server, "user", "delete", name, check=False)
    assert refused.returncode != 0 and "DeleteConflict" in refused.stderr
    admin(live_server, "key", "delete", name, key["AccessKeyId"])
    admin(live_server, "policy", "delete-user", name, "read")
    admin(live_server, "user", "delete", name)
    listed = json.loads(admin(live_server, "user", "list").stdout)["Users"]
    assert name not in [u["UserName"] for u in listed]


def test_master_key_seals_stored_secrets(server_factory, tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("a long passphrase that seals every stored secret\n")
    srv = server_factory(extra_args=["--master-key-file", str(key_file)])
    iam = iam_client(srv)
    iam.create_user(UserName="sealed")
    key = iam.create_access_key(UserName="sealed")["AccessKey"]
    iam.put_user_policy(UserName="sealed", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    c = srv.client(key["AccessKeyId"], key["SecretAccessKey"])
    c.list_buckets()
    srv.stop()
    raw = (srv.data_dir / "meta.redb").read_bytes()
    assert key["AccessKeyId"].encode() in raw
    assert key["SecretAccessKey"].encode() not in raw, "the secret is not stored in clear"
    # Without the master key the server refuses to start: the sealed
    # secrets (and the sealed encryption keys) cannot be opened...
    srv.extra_args = []
    with pytest.raises(RuntimeError):
        srv.start()
    assert "no master key is configured" in srv.stderr_path.read_text()
    # ...and with it, it works again.
    srv.extra_args = ["--master-key-file", str(key_file)]
    srv.start()
    srv.client(key["AccessKeyId"], key["SecretAccessKey"]).list_buckets()


def test_update_user_renames_and_keeps_keys_and_groups(live_server, iam):
    old, new = unique("old"), unique("new")
    ak, sk = make_user(iam, old, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    group = unique("grp")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=old)
    try:
        iam.update_user(UserName=old, NewUserName=new, NewPath="/moved/")
        u = iam.get_user(UserName=new)["User"]
        assert u["Path"] == "/moved/" and u["Arn"].endswith(f":user/moved/{new}")
        with pytest.raises(ClientError) as e:
            iam.get_user(UserName=old)
        assert error_code(e.value) == "NoSuchEntity"
        assert [m["UserName"] for m in iam.get_group(GroupName=group)["Users"]] == [new]
        assert [k["UserName"] for k in iam.list_access_keys(UserName=new)["AccessKeyMetadata"]] == [new]
        live_server.client(ak, sk).list_buckets()  # the key still works, now as the renamed user
    finally:
        iam.remove_user_from_group(GroupName=group, UserName=new)
        iam.delete_group(GroupName=group)
        delete_user(iam, new)


def test_user_tags_and_access_key_last_used(live_server, iam):
    name = unique("tagged")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    try:
        iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "docs"}, {"Key": "env", "Value": "prod"}])
        iam.tag_user(UserName=name, Tags=[{"Key": "env", "Value": "test"}])
        tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}
        assert tags == {"team": "docs", "env": "test"}
        iam.untag_user(UserName=name, TagKeys=["team", "absent"])
        assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "env", "Value": "test"}]
        never = iam.get_access_key_last_used(AccessKeyId=ak)
        assert never["UserName"] == name and never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
        live_server.client(ak, sk).list_buckets()
        for _ in range(50):
            used = iam.get_access_key_last_used(AccessKeyId=ak)["AccessKeyLastUsed"]
            if used["ServiceName"] != "N/A":
                break
            time.sleep(0.1)
        assert used["ServiceName"] == "s3" and "LastUsedDate" in used
    finally:
        delete_user(iam, name)


def test_admin_cli_manages_groups(live_server, iam):
    group, user = unique("cli-grp"), unique("cli-member")
    iam.create_user(UserName=user)
    try:
        admin(live_server, "group", "create", group)
        admin(live_server, "group", "add-user", group, user)
        admin(live_server, "group", "put-policy", group, "p", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
        got = json.loads(admin(live_server, "group", "get", group).stdout)
        assert got["Group"]["GroupName"] == group and [u["UserName"] for u in got["Users"]] == [user]
        refused = admin(live_server, "group", "delete", group, check=False)
        assert refused.returncode != 0 and "DeleteConflict" in refused.stderr
        admin(live_server, "group", "remove-user", group, user)
        iam.delete_group_policy(GroupName=group, PolicyName="p")
        admin(live_server, "group", "delete", group)
        assert group not in [g["GroupName"] for g in json.loads(admin(live_server, "group", "list").stdout)["Groups"]]
    finally:
        iam.delete_user(UserName=user)


# --------------------------------------------------------------------- tags in conditions

def test_object_tagging_round_trips(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=docs&env=prod")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"team": "docs", "env": "prod"}
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "t"})
    assert s3.get_object_tagging(Bucket=bucket, Key="copied")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="retagged", CopySource={"Bucket": bucket, "Key": "t"},
                   TaggingDirective="REPLACE", Tagging="new=tag")
    assert s3.get_object_tagging(Bucket=bucket, Key="retagged")["TagSet"] == [{"Key": "new", "Value": "tag"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="many", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert error_code(e.value) == "InvalidTag"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="mp=yes")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"] == [{"Key": "mp", "Value": "yes"}]


def test_tag_condition_keys_decide_access(live_server, iam, s3, bucket):
    name = unique("tags")
    ak, sk = make_user(iam, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/project": "coffer"}}}]})
    c = live_server.client(ak, sk)
    s3.put_object(Bucket=bucket, Key="public", Body=b"ok", Tagging="classification=public")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"no", Tagging="classification=secret")
    try:
        assert c.get_object(Bucket=bucket, Key="public")["Body"].read() == b"ok"
        with pytest.raises(ClientError) as e:
            c.get_object(Bucket=bucket, Key="secret")
        assert error_code(e.value) == "AccessDenied"
        c.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="project=coffer")
        with pytest.raises(ClientError) as e:
            c.put_object(Bucket=bucket, Key="untagged", Body=b"x")
        assert error_code(e.value) == "AccessDenied"
        with pytest.raises(ClientError) as e:
            c.put_object(Bucket=bucket, Key="wrong", Body=b"x", Tagging="project=other")
        assert error_code(e.value) == "AccessDenied"
    finally:
        delete_user(iam, name)


def test_master_key_seals_the_generated_root_secret(server_factory, tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("0123456789abcdef" * 4)
    srv = server_factory(credentials=False, extra_args=["--master-key-file", str(key_file)])
    text = (srv.data_dir / "root-credentials").read_text()
    access = next(l.split("=", 1)[1] for l in text.splitlines() if l.startswith("access_key="))
    printed = srv.stdout_text()
    secret = next(l.split(":", 1)[1].strip() for l in printed.splitlines() if "SecretAccessKey:" in l)
    assert "sealed:v1:" in text and secret not in text
    srv.client(access, secret).list_buckets()
    srv.stop()
    srv.extra_args = []
    with pytest.raises(RuntimeError):
        srv.start()
    assert "sealed" in srv.stderr_tail(1_000_000)


def test_a_deny_policy_cannot_lock_the_bucket_owner_out_of_the_policy(s3, bucket):
    deny_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_all))
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert error_code(e.value) == "AccessDenied"
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == deny_all
    s3.delete_bucket_policy(Bucket=bucket)
    s3.list_objects_v2(Bucket=bucket)
