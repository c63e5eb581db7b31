"""IAM roles and STS temporary credentials, driven by aws cli and boto3.

The tests run on a private server started with `--sts-min-duration-seconds 1`,
so that a session can expire within a test. Everything else is AWS's rule set:
a role's trust policy must name the caller and the caller's own policies must
allow sts:AssumeRole (a trust policy naming the user directly suffices within
one account); session policies narrow a session to what both allow; temporary
credentials work only with their session token, until they expire or their
role or user is deleted.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, _tool, _tool_env, empty_and_delete_bucket

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
# The aws cli and boto3 refuse DurationSeconds below 900 before sending;
# the expiry tests need shorter sessions, which the server allows here.
UNVALIDATED = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
S3_ALL = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_of(e: ClientError) -> tuple[str, int]:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory(extra_args=["--sts-min-duration-seconds", "1"])


def client(srv, service: str, creds: dict | None = None, config: Config = NO_RETRY):
    creds = creds or {"AccessKeyId": srv.access_key, "SecretAccessKey": srv.secret_key}
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=config)


@pytest.fixture(scope="module")
def root_iam(srv):
    return client(srv, "iam")


@pytest.fixture(scope="module")
def account(srv):
    return client(srv, "sts").get_caller_identity()["Account"]


class World:
    """Users and roles made by one test, removed after it."""

    def __init__(self, srv, iam, account):
        self.srv, self.iam, self.account = srv, iam, account
        self.users: list[str] = []
        self.roles: list[str] = []
        self.buckets: list[str] = []

    def user(self, policy: dict | None = None) -> tuple[str, dict]:
        name = unique("u")
        self.iam.create_user(UserName=name)
        self.users.append(name)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        if policy is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="p",
                                     PolicyDocument=json.dumps(policy))
        return name, key

    def user_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{name}"

    def role(self, trusted: str | list[str], policy: dict | None = S3_ALL,
             condition: dict | None = None, actions=("sts:AssumeRole",), **kw) -> str:
        name = unique("r")
        statement = {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": list(actions)}
        if condition:
            statement["Condition"] = condition
        trust = {"Version": "2012-10-17", "Statement": [statement]}
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kw)
        self.roles.append(name)
        if policy is not None:
            self.iam.put_role_policy(RoleName=name, PolicyName="p",
                                     PolicyDocument=json.dumps(policy))
        return self.iam.get_role(RoleName=name)["Role"]["Arn"]

    def bucket(self) -> str:
        name = unique("sts-b")
        client(self.srv, "s3").create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def cleanup(self):
        for r in self.roles:
            try:
                for p in self.iam.list_role_policies(RoleName=r)["PolicyNames"]:
                    self.iam.delete_role_policy(RoleName=r, PolicyName=p)
                for p in self.iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]:
                    self.iam.detach_role_policy(RoleName=r, PolicyArn=p["PolicyArn"])
                self.iam.delete_role(RoleName=r)
            except ClientError:
                pass
        for u in self.users:
            try:
                for k in self.iam.list_access_keys(UserName=u)["AccessKeyMetadata"]:
                    self.iam.delete_access_key(UserName=u, AccessKeyId=k["AccessKeyId"])
                for p in self.iam.list_user_policies(UserName=u)["PolicyNames"]:
                    self.iam.delete_user_policy(UserName=u, PolicyName=p)
                self.iam.delete_user(UserName=u)
            except ClientError:
                pass
        for b in self.buckets:
            empty_and_delete_bucket(client(self.srv, "s3"), b)


@pytest.fixture
def world(srv, root_iam, account):
    w = World(srv, root_iam, account)
    yield w
    w.cleanup()


def assume(srv, creds: dict, role_arn: str, config: Config = NO_RETRY, **kw) -> dict:
    return client(srv, "sts", creds, config).assume_role(
        RoleArn=role_arn, RoleSessionName=kw.pop("RoleSessionName", "test-session"), **kw)


def aws_cli(srv, tmp_path: Path, creds: dict, *args, check=True):
    env = _tool_env(tmp_path, srv)
    env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
    if "SessionToken" in creds:
        env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    res = subprocess.run([_tool("aws"), "--endpoint-url", srv.endpoint, *args], env=env,
                         capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)}: {res.returncode}\n{res.stderr}")
    return res


# ------------------------------------------------------------------ IAM roles

def test_role_lifecycle_through_the_iam_api(world, root_iam, account):
    iam = root_iam
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole"}]}
    name = unique("role")
    created = iam.create_role(RoleName=name, Path="/apps/", Description="worker",
                              AssumeRolePolicyDocument=json.dumps(trust),
                              Tags=[{"Key": "team", "Value": "data"}])["Role"]
    world.roles.append(name)
    assert created["Arn"] == f"arn:aws:iam::{account}:role/apps/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["MaxSessionDuration"] == 3600
    assert created["AssumeRolePolicyDocument"] == trust
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(trust))
    assert code_of(e.value) == ("EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=json.dumps(S3_ALL))
    assert code_of(e.value)[0] == "MalformedPolicyDocument"

    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "worker" and got["Tags"] == [{"Key": "team", "Value": "data"}]
    listed = iam.list_roles(PathPrefix="/apps/")["Roles"]
    assert [r["RoleName"] for r in listed] == [name]
    assert iam.list_roles(PathPrefix="/nothing/")["Roles"] == []

    iam.update_role(RoleName=name, MaxSessionDuration=7200)
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 7200
    with pytest.raises(ClientError) as e:
        iam.update_role(RoleName=name, MaxSessionDuration=100000)
    assert code_of(e.value) == ("ValidationError", 400)
    new_trust = dict(trust, Statement=[dict(trust["Statement"][0], Action=["sts:AssumeRole", "sts:TagSession"])])
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new_trust

    iam.tag_role(RoleName=name, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "env", "Value": "prod"}]

    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(S3_ALL))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]
    assert iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"] == S3_ALL
    managed = iam.create_policy(PolicyName=unique("mp"), PolicyDocument=json.dumps(S3_ALL))["Policy"]
    iam.attach_role_policy(RoleName=name, PolicyArn=managed["Arn"])
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed["Arn"]]
    entities = iam.list_entities_for_policy(PolicyArn=managed["Arn"])
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [name]
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=managed["Arn"])
    assert code_of(e.value)[0] == "DeleteConflict"

    # A role keeps its policies until they are removed: DeleteConflict first.
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=name)
    assert code_of(e.value) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=name)
    assert code_of(e.value) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName=name, PolicyArn=managed["Arn"])
    iam.delete_policy(PolicyArn=managed["Arn"])
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=name)
    assert code_of(e.value) == ("NoSuchEntity", 404)


def test_aws_cli_role_commands(world, srv, tmp_path):
    root = {"AccessKeyId": srv.access_key, "SecretAccessKey": srv.secret_key}
    name = unique("clirole")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{world.account}:root"},
        "Action": "sts:AssumeRole"}]})
    out = json.loads(aws_cli(srv, tmp_path, root, "iam", "create-role", "--role-name", name,
                             "--assume-role-policy-document", trust).stdout)
    world.roles.append(name)
    assert out["Role"]["RoleName"] == name
    names = json.loads(aws_cli(srv, tmp_path, root, "iam", "list-roles").stdout)["Roles"]
    assert name in [r["RoleName"] for r in names]
    aws_cli(srv, tmp_path, root, "iam", "delete-role", "--role-name", name)
    gone = aws_cli(srv, tmp_path, root, "iam", "get-role", "--role-name", name, check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


# ------------------------------------------------------------- who am I

def test_get_caller_identity_for_root_user_and_role(world, srv, tmp_path, account):
    root = {"AccessKeyId": srv.access_key, "SecretAccessKey": srv.secret_key}
    me = json.loads(aws_cli(srv, tmp_path, root, "sts", "get-caller-identity").stdout)
    assert me == {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}

    name, key = world.user()
    user_id = world.iam.get_user(UserName=name)["User"]["UserId"]
    me = json.loads(aws_cli(srv, tmp_path, key, "sts", "get-caller-identity").stdout)
    assert me == {"UserId": user_id, "Account": account, "Arn": world.user_arn(name)}

    role_arn = world.role(world.user_arn(name))
    role_id = world.iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]["RoleId"]
    out = json.loads(aws_cli(srv, tmp_path, key, "sts", "assume-role", "--role-arn", role_arn,
                             "--role-session-name", "cli-run").stdout)
    session = out["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA") and len(session["AccessKeyId"]) == 20
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:cli-run"
    role_name = role_arn.rsplit("/", 1)[1]
    expected_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/cli-run"
    assert out["AssumedRoleUser"]["Arn"] == expected_arn
    me = json.loads(aws_cli(srv, tmp_path, session, "sts", "get-caller-identity").stdout)
    assert me == {"UserId": f"{role_id}:cli-run", "Account": account, "Arn": expected_arn}


# ------------------------------------------------- assuming roles, and S3 with them

def test_aws_cli_assume_role_then_s3_with_the_session(world, srv, tmp_path):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    out = json.loads(aws_cli(srv, tmp_path, key, "sts", "assume-role", "--role-arn", role_arn,
                             "--role-session-name", "copy-job").stdout)["Credentials"]
    src = tmp_path / "f.txt"
    src.write_text("from a role session\n")
    aws_cli(srv, tmp_path, out, "s3", "cp", str(src), f"s3://{b}/f.txt")
    listing = aws_cli(srv, tmp_path, out, "s3", "ls", f"s3://{b}/").stdout
    assert "f.txt" in listing
    body = client(srv, "s3").get_object(Bucket=b, Key="f.txt")["Body"].read()
    assert body == b"from a role session\n"
    # The user itself has no S3 permission: the session's rights are the role's.
    denied = aws_cli(srv, tmp_path, key, "s3", "ls", f"s3://{b}/", check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    # Without its token the temporary key is unknown.
    tokenless = {k: v for k, v in out.items() if k != "SessionToken"}
    res = aws_cli(srv, tmp_path, tokenless, "s3", "ls", f"s3://{b}/", check=False)
    assert res.returncode != 0 and "InvalidAccessKeyId" in res.stderr


def test_boto3_assume_role_provider_from_a_config_file(world, srv, tmp_path):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    config = tmp_path / "config"
    config.write_text(
        "[profile app]\n"
        f"role_arn = {role_arn}\n"
        "source_profile = base\n"
        "role_session_name = from-config\n"
        f"endpoint_url = {srv.endpoint}\n"
        f"region = {REGION}\n"
        "[profile base]\n"
        f"endpoint_url = {srv.endpoint}\n"
        f"region = {REGION}\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[base]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    import os
    saved = {k: os.environ.get(k) for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    os.environ["AWS_CONFIG_FILE"] = str(config)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    try:
        session = boto3.Session(profile_name="app")
        me = session.client("sts").get_caller_identity()
        assert me["Arn"].endswith(f":assumed-role/{role_arn.rsplit('/', 1)[1]}/from-config")
        s3 = session.client("s3")
        s3.put_object(Bucket=b, Key="k", Body=b"provider")
        assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"provider"
        frozen = session.get_credentials().get_frozen_credentials()
        assert frozen.access_key.startswith("ASIA") and frozen.token
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_trust_and_identity_policies_both_decide(world, srv, account):
    # Trust names the account: the user also needs sts:AssumeRole itself.
    name, key = world.user()
    role_arn = world.role(f"arn:aws:iam::{account}:root")
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn)
    assert code_of(e.value) == ("AccessDenied", 403)
    world.iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}))
    assert assume(srv, key, role_arn)["Credentials"]["AccessKeyId"].startswith("ASIA")

    # Trust that does not name the caller refuses, whatever the caller may do.
    other, other_key = world.user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    only_first = world.role(world.user_arn(name))
    with pytest.raises(ClientError) as e:
        assume(srv, other_key, only_first)
    assert code_of(e.value) == ("AccessDenied", 403)
    # An explicit deny in the caller's policy wins over a trust naming it.
    world.iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": only_first}]}))
    with pytest.raises(ClientError) as e:
        assume(srv, key, only_first)
    assert code_of(e.value) == ("AccessDenied", 403)
    # Root users cannot assume roles, and a missing role is refused like a closed one.
    root = {"AccessKeyId": srv.access_key, "SecretAccessKey": srv.secret_key}
    with pytest.raises(ClientError) as e:
        assume(srv, root, role_arn)
    assert code_of(e.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        assume(srv, other_key, f"arn:aws:iam::{account}:role/no-such-role")
    assert code_of(e.value) == ("AccessDenied", 403)


def test_external_id_and_durations(world, srv):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name),
                          condition={"StringEquals": {"sts:ExternalId": "ticket-42"}})
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn)
    assert code_of(e.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn, ExternalId="ticket-41")
    assert code_of(e.value) == ("AccessDenied", 403)
    out = assume(srv, key, role_arn, ExternalId="ticket-42", DurationSeconds=900)
    expires = out["Credentials"]["Expiration"].timestamp()
    assert 880 <= expires - time.time() <= 905
    # Above the role's MaxSessionDuration (3600 by default) is refused...
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn, ExternalId="ticket-42", DurationSeconds=7200)
    assert code_of(e.value) == ("ValidationError", 400)
    # ...until the role allows longer sessions.
    world.iam.update_role(RoleName=role_arn.rsplit("/", 1)[1], MaxSessionDuration=7200)
    out = assume(srv, key, role_arn, ExternalId="ticket-42", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"].timestamp() - time.time() > 7000
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn, ExternalId="ticket-42", RoleSessionName="bad name")
    assert code_of(e.value) == ("ValidationError", 400)


def test_role_sessions_expire(world, srv):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    out = assume(srv, key, role_arn, config=UNVALIDATED, DurationSeconds=2)["Credentials"]
    s3 = client(srv, "s3", out)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    time.sleep(2.5)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code_of(e.value) == ("ExpiredToken", 400)
    with pytest.raises(ClientError) as e:
        client(srv, "sts", out).get_caller_identity()
    assert code_of(e.value) == ("ExpiredToken", 403)


def test_session_policies_narrow_the_role(world, srv, root_iam):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    admin = client(srv, "s3")
    admin.put_object(Bucket=b, Key="public/a", Body=b"a")
    admin.put_object(Bucket=b, Key="private/b", Body=b"b")
    read_public = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/public/*"}]}
    out = assume(srv, key, role_arn, Policy=json.dumps(read_public))
    assert 0 < out["PackedPolicySize"] <= 100
    s3 = client(srv, "s3", out["Credentials"])
    assert s3.get_object(Bucket=b, Key="public/a")["Body"].read() == b"a"
    for call in (lambda: s3.get_object(Bucket=b, Key="private/b"),
                 lambda: s3.put_object(Bucket=b, Key="public/c", Body=b"c"),
                 lambda: s3.list_objects_v2(Bucket=b)):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e.value) == ("AccessDenied", 403)
    # A session policy cannot widen: the role grants nothing on IAM.
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    out = assume(srv, key, role_arn, Policy=json.dumps(wide))
    with pytest.raises(ClientError) as e:
        client(srv, "iam", out["Credentials"]).list_users()
    assert code_of(e.value)[0] == "AccessDenied"
    # Managed policies narrow the same way.
    managed = root_iam.create_policy(PolicyName=unique("sp"), PolicyDocument=json.dumps(read_public))
    arn = managed["Policy"]["Arn"]
    try:
        out = assume(srv, key, role_arn, PolicyArns=[{"arn": arn}])
        s3 = client(srv, "s3", out["Credentials"])
        assert s3.get_object(Bucket=b, Key="public/a")["Body"].read() == b"a"
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="private/b")
        assert code_of(e.value) == ("AccessDenied", 403)
    finally:
        root_iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        assume(srv, key, role_arn, Policy='{"Version": "2012-10-17", "Statement": [')
    assert code_of(e.value)[0] == "MalformedPolicyDocument"


def test_bucket_policies_see_the_session_as_aws_does(world, srv, account):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name), policy=None)
    role_name = role_arn.rsplit("/", 1)[1]
    role_id = world.iam.get_role(RoleName=role_name)["Role"]["RoleId"]
    b = world.bucket()
    admin = client(srv, "s3")
    admin.put_object(Bucket=b, Key="k", Body=b"v")
    # The role has no policies; the bucket policy names the role (every session),
    # with conditions on aws:PrincipalArn (the role ARN) and aws:userid.
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringEquals": {"aws:PrincipalArn": role_arn},
                      "StringLike": {"aws:userid": f"{role_id}:job-*"}}}]}))
    good = assume(srv, key, role_arn, RoleSessionName="job-1")["Credentials"]
    assert client(srv, "s3", good).get_object(Bucket=b, Key="k")["Body"].read() == b"v"
    other = assume(srv, key, role_arn, RoleSessionName="adhoc")["Credentials"]
    with pytest.raises(ClientError) as e:
        client(srv, "s3", other).get_object(Bucket=b, Key="k")
    assert code_of(e.value) == ("AccessDenied", 403)
    # A session policy limits what the bucket policy grants to the role...
    nothing = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    narrowed = assume(srv, key, role_arn, RoleSessionName="job-2",
                      Policy=json.dumps(nothing))["Credentials"]
    with pytest.raises(ClientError) as e:
        client(srv, "s3", narrowed).get_object(Bucket=b, Key="k")
    assert code_of(e.value) == ("AccessDenied", 403)
    # ...but not what it grants to the session's own ARN.
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/job-3"
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": session_arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b}/*"}]}))
    direct = assume(srv, key, role_arn, RoleSessionName="job-3",
                    Policy=json.dumps(nothing))["Credentials"]
    assert client(srv, "s3", direct).get_object(Bucket=b, Key="k")["Body"].read() == b"v"


def test_session_tags_need_tag_session_and_become_principal_tags(world, srv):
    name, key = world.user()
    b = world.bucket()
    client(srv, "s3").put_object(Bucket=b, Key="data/k", Body=b"v")
    by_tag = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/project": "data"}}}]}
    plain = world.role(world.user_arn(name), policy=by_tag)
    with pytest.raises(ClientError) as e:
        assume(srv, key, plain, Tags=[{"Key": "project", "Value": "data"}])
    assert code_of(e.value) == ("AccessDenied", 403)
    tagging = world.role(world.user_arn(name), policy=by_tag,
                         actions=("sts:AssumeRole", "sts:TagSession"))
    tagged = assume(srv, key, tagging, Tags=[{"Key": "project", "Value": "data"}])["Credentials"]
    assert client(srv, "s3", tagged).get_object(Bucket=b, Key="data/k")["Body"].read() == b"v"
    untagged = assume(srv, key, tagging)["Credentials"]
    with pytest.raises(ClientError) as e:
        client(srv, "s3", untagged).get_object(Bucket=b, Key="data/k")
    assert code_of(e.value) == ("AccessDenied", 403)


def test_deleting_the_role_or_user_ends_sessions(world, srv):
    name, key = world.user(S3_ALL)
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    session = assume(srv, key, role_arn)["Credentials"]
    user_session = client(srv, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    assert client(srv, "s3", session).list_objects_v2(Bucket=b)["KeyCount"] == 0
    assert client(srv, "s3", user_session).list_objects_v2(Bucket=b)["KeyCount"] == 0

    role_name = role_arn.rsplit("/", 1)[1]
    world.iam.delete_role_policy(RoleName=role_name, PolicyName="p")
    world.iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as e:
        client(srv, "s3", session).list_objects_v2(Bucket=b)
    assert code_of(e.value) == ("InvalidToken", 400)
    # A new role under the same name does not revive the old session.
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": world.user_arn(name)}, "Action": "sts:AssumeRole"}]})
    world.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)
    world.roles.append(role_name)
    with pytest.raises(ClientError) as e:
        client(srv, "s3", session).list_objects_v2(Bucket=b)
    assert code_of(e.value) == ("InvalidToken", 400)

    for k in world.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        world.iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    world.iam.delete_user_policy(UserName=name, PolicyName="p")
    world.iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        client(srv, "s3", user_session).list_objects_v2(Bucket=b)
    assert code_of(e.value) == ("InvalidToken", 400)


def test_get_session_token_acts_as_the_user(world, srv, tmp_path, account):
    name, key = world.user(S3_ALL)
    out = json.loads(aws_cli(srv, tmp_path, key, "sts", "get-session-token",
                             "--duration-seconds", "900").stdout)["Credentials"]
    assert out["AccessKeyId"].startswith("ASIA")
    me = json.loads(aws_cli(srv, tmp_path, out, "sts", "get-caller-identity").stdout)
    assert me["Arn"] == world.user_arn(name)
    b = world.bucket()
    aws_cli(srv, tmp_path, out, "s3", "ls", f"s3://{b}/")
    # No IAM calls with GetSessionToken credentials (AWS requires MFA), and no
    # new session from a session.
    res = aws_cli(srv, tmp_path, out, "iam", "list-users", check=False)
    assert res.returncode != 0 and "AccessDenied" in res.stderr
    with pytest.raises(ClientError) as e:
        client(srv, "sts", out).get_session_token()
    assert code_of(e.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        client(srv, "sts", key).get_session_token(DurationSeconds=200000)
    assert code_of(e.value) == ("ValidationError", 400)
    # Expiry applies here too.
    short = client(srv, "sts", key, UNVALIDATED).get_session_token(DurationSeconds=1)["Credentials"]
    time.sleep(1.5)
    with pytest.raises(ClientError) as e:
        client(srv, "s3", short).list_objects_v2(Bucket=b)
    assert code_of(e.value) == ("ExpiredToken", 400)


def test_tokens_are_checked(world, srv):
    name, key = world.user(S3_ALL)
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    a = assume(srv, key, role_arn)["Credentials"]
    other = assume(srv, key, role_arn)["Credentials"]
    swapped = dict(a, SessionToken=other["SessionToken"])
    tampered = dict(a, SessionToken=a["SessionToken"][:-8] + "AAAAAAAA")
    for creds in (swapped, tampered):
        with pytest.raises(ClientError) as e:
            client(srv, "s3", creds).list_objects_v2(Bucket=b)
        assert code_of(e.value) == ("InvalidToken", 400)
    # A token beside a long-term key is refused too, as on AWS.
    with pytest.raises(ClientError) as e:
        client(srv, "s3", dict(key, SessionToken=a["SessionToken"])).list_objects_v2(Bucket=b)
    assert code_of(e.value) == ("InvalidToken", 400)


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_presigned_urls_with_temporary_credentials(world, srv, signature):
    name, key = world.user()
    role_arn = world.role(world.user_arn(name))
    b = world.bucket()
    client(srv, "s3").put_object(Bucket=b, Key="doc.txt", Body=b"presigned")
    creds = assume(srv, key, role_arn, config=UNVALIDATED, DurationSeconds=3)["Credentials"]
    signer = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                          aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"],
                          config=Config(signature_version=signature))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "doc.txt"},
                                        ExpiresIn=600)
    assert "security-token" in url.lower()
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"presigned"
    # Without the token the URL is refused; after the session ends, so is the URL.
    bare = "&".join(p for p in url.split("&") if "security-token" not in p.lower())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bare, timeout=10)
    assert e.value.code == 403
    time.sleep(3.5)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 400 and b"ExpiredToken" in e.value.read()
