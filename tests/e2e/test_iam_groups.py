"""IAM groups and customer-managed policies through boto3 and the aws cli, and the
S3 access they grant to real clients."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from test_iam import error_code, iam, iam_client, make_user, unique  # noqa: F401  (iam is a fixture)


def allow(actions, resources, condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def bucket_access(bucket: str) -> dict:
    return allow(["s3:ListBucket", "s3:GetObject", "s3:PutObject"],
                 [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])


def remove_user(iam, name: str):
    """Deletes a user with everything that would block it."""
    for g in iam.list_groups_for_user(UserName=name)["Groups"]:
        iam.remove_user_from_group(GroupName=g["GroupName"], UserName=name)
    for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=p["PolicyArn"])
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    for p in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=p)
    iam.delete_user(UserName=name)


def remove_group(iam, name: str):
    for u in iam.get_group(GroupName=name)["Users"]:
        iam.remove_user_from_group(GroupName=name, UserName=u["UserName"])
    for p in iam.list_group_policies(GroupName=name)["PolicyNames"]:
        iam.delete_group_policy(GroupName=name, PolicyName=p)
    for p in iam.list_attached_group_policies(GroupName=name)["AttachedPolicies"]:
        iam.detach_group_policy(GroupName=name, PolicyArn=p["PolicyArn"])
    iam.delete_group(GroupName=name)


def remove_policy(iam, arn: str):
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for g in entities["PolicyGroups"]:
        iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=arn)
    for u in entities["PolicyUsers"]:
        iam.detach_user_policy(UserName=u["UserName"], PolicyArn=arn)
    for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def denied(call) -> bool:
    try:
        call()
    except ClientError as e:
        assert error_code(e) == "AccessDenied", e.response
        return True
    return False


# --------------------------------------------------------------------- the API

def test_group_lifecycle_and_delete_conflicts(iam):
    group, user = unique("grp"), unique("member")
    created = iam.create_group(GroupName=group, Path="/eng/")["Group"]
    assert created["GroupName"] == group and created["Path"] == "/eng/"
    assert created["Arn"].endswith(f":group/eng/{group}")
    assert created["GroupId"].startswith("AGPA") and len(created["GroupId"]) == 21
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName=group.upper())
    assert error_code(e.value) == "EntityAlreadyExists"
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/eng/")["Groups"]]
    assert group not in [g["GroupName"] for g in iam.list_groups(PathPrefix="/ops/")["Groups"]]

    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert got["Group"]["GroupId"] == created["GroupId"]
    assert [u["UserName"] for u in got["Users"]] == [user] and got["IsTruncated"] is False
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]

    for call in (lambda: iam.delete_group(GroupName=group), lambda: iam.delete_user(UserName=user)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e.value) == "DeleteConflict"
        assert "must remove users from group first" in e.value.response["Error"]["Message"]
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as e:
        iam.remove_user_from_group(GroupName=group, UserName=user)
    assert error_code(e.value) == "NoSuchEntity"

    doc = allow("s3:GetObject", "arn:aws:s3:::b/*")
    iam.put_group_policy(GroupName=group, PolicyName="read", PolicyDocument=json.dumps(doc))
    assert iam.get_group_policy(GroupName=group, PolicyName="read")["PolicyDocument"] == doc
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["read"]
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName=group, PolicyName="bad", PolicyDocument='{"Statement": 1}')
    assert error_code(e.value) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=group)
    assert error_code(e.value) == "DeleteConflict"
    iam.delete_group_policy(GroupName=group, PolicyName="read")
    with pytest.raises(ClientError) as e:
        iam.get_group_policy(GroupName=group, PolicyName="read")
    assert error_code(e.value) == "NoSuchEntity"

    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName=group)
    assert error_code(e.value) == "NoSuchEntity"


def test_list_groups_pages_with_marker(iam):
    prefix = f"/{unique('page')}/"
    names = sorted(unique(f"g{i}") for i in range(5))
    for n in names:
        iam.create_group(GroupName=n, Path=prefix)
    try:
        first = iam.list_groups(PathPrefix=prefix, MaxItems=2)
        assert first["IsTruncated"] is True and len(first["Groups"]) == 2
        pages = iam.get_paginator("list_groups").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
        listed = [g["GroupName"] for p in pages for g in p["Groups"]]
        assert listed == names
    finally:
        for n in names:
            iam.delete_group(GroupName=n)


def test_aws_cli_manages_groups_and_managed_policies(aws):
    group, user, pname = unique("cli-grp"), unique("cli-user"), unique("cli-pol")
    doc = json.dumps(allow("s3:ListBucket", "*"))
    aws("iam", "create-group", "--group-name", group)
    aws("iam", "create-user", "--user-name", user)
    aws("iam", "add-user-to-group", "--group-name", group, "--user-name", user)
    policy = json.loads(aws("iam", "create-policy", "--policy-name", pname, "--path", "/cli/",
                            "--policy-document", doc, "--description", "from the cli").stdout)["Policy"]
    arn = policy["Arn"]
    assert arn.endswith(f":policy/cli/{pname}") and policy["DefaultVersionId"] == "v1"
    assert policy["PolicyId"].startswith("ANPA")
    aws("iam", "attach-group-policy", "--group-name", group, "--policy-arn", arn)
    attached = json.loads(aws("iam", "list-attached-group-policies", "--group-name", group).stdout)
    assert attached["AttachedPolicies"] == [{"PolicyName": pname, "PolicyArn": arn}]
    got = json.loads(aws("iam", "get-policy", "--policy-arn", arn).stdout)["Policy"]
    assert got["AttachmentCount"] == 1 and got["IsAttachable"] is True
    assert got["Description"] == "from the cli"
    version = json.loads(aws("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v1").stdout)
    assert version["PolicyVersion"]["Document"] == json.loads(doc)
    assert version["PolicyVersion"]["IsDefaultVersion"] is True
    members = json.loads(aws("iam", "get-group", "--group-name", group).stdout)
    assert [u["UserName"] for u in members["Users"]] == [user]
    listed = json.loads(aws("iam", "list-policies", "--scope", "Local", "--only-attached").stdout)["Policies"]
    assert arn in [p["Arn"] for p in listed]

    conflict = aws("iam", "delete-policy", "--policy-arn", arn, check=False)
    assert conflict.returncode != 0 and "DeleteConflict" in conflict.stderr
    aws("iam", "detach-group-policy", "--group-name", group, "--policy-arn", arn)
    aws("iam", "delete-policy", "--policy-arn", arn)
    aws("iam", "remove-user-from-group", "--group-name", group, "--user-name", user)
    aws("iam", "delete-group", "--group-name", group)
    aws("iam", "delete-user", "--user-name", user)
    gone = aws("iam", "get-policy", "--policy-arn", arn, check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


def test_policy_versions_limits_and_delete_rules(iam):
    name = unique("versions")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(allow("s3:GetObject", "*")))["Policy"]["Arn"]
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName=name.upper(), PolicyDocument=json.dumps(allow("s3:GetObject", "*")))
    assert error_code(e.value) == "EntityAlreadyExists"
    try:
        for n in range(2, 6):
            v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:ListBucket", "*")))
            assert v["PolicyVersion"]["VersionId"] == f"v{n}"
            assert v["PolicyVersion"]["IsDefaultVersion"] is False
        with pytest.raises(ClientError) as e:
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:ListBucket", "*")))
        assert error_code(e.value) == "LimitExceeded"
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
        assert [v["IsDefaultVersion"] for v in versions] == [False] * 4 + [True]

        with pytest.raises(ClientError) as e:
            iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
        assert error_code(e.value) == "DeleteConflict"
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
        assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
        iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
        with pytest.raises(ClientError) as e:
            iam.get_policy_version(PolicyArn=arn, VersionId="v1")
        assert error_code(e.value) == "NoSuchEntity"
        with pytest.raises(ClientError) as e:
            iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        assert error_code(e.value) == "NoSuchEntity"
        v6 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:*", "*")),
                                       SetAsDefault=True)["PolicyVersion"]
        assert v6["VersionId"] == "v6" and v6["IsDefaultVersion"] is True

        with pytest.raises(ClientError) as e:
            iam.delete_policy(PolicyArn=arn)
        assert error_code(e.value) == "DeleteConflict"
        assert "more than one version" in e.value.response["Error"]["Message"]
    finally:
        remove_policy(iam, arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error_code(e.value) == "NoSuchEntity"


def test_list_entities_and_list_policies_filters(iam):
    group, user, name = unique("ent-grp"), unique("ent-user"), unique("ent-pol")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    arn = iam.create_policy(PolicyName=name, Path="/ent/",
                            PolicyDocument=json.dumps(allow("s3:GetObject", "*")))["Policy"]["Arn"]
    try:
        local = [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix="/ent/")["Policies"]]
        assert arn in local
        assert arn not in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
        assert arn not in [p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"]]

        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        iam.attach_user_policy(UserName=user, PolicyArn=arn)  # attaching twice is not an error
        entities = iam.list_entities_for_policy(PolicyArn=arn)
        assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
        assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
        assert entities["PolicyRoles"] == []
        assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")["PolicyGroups"] == []
        assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
        assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
        assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
            {"PolicyName": name, "PolicyArn": arn}]

        with pytest.raises(ClientError) as e:
            iam.delete_user(UserName=user)
        assert error_code(e.value) == "DeleteConflict"
        assert "must detach all policies first" in e.value.response["Error"]["Message"]
        for bad in (arn.replace("/ent/", "/"), "arn:aws:iam::aws:policy/NoSuchAwsPolicy"):
            with pytest.raises(ClientError) as e:
                iam.attach_user_policy(UserName=user, PolicyArn=bad)
            assert error_code(e.value) == "NoSuchEntity", bad
        with pytest.raises(ClientError) as e:
            iam.attach_user_policy(UserName=user, PolicyArn="this-is-not-an-arn-at-all")
        assert error_code(e.value) == "InvalidInput"
    finally:
        remove_policy(iam, arn)
        remove_group(iam, group)
        remove_user(iam, user)
    assert group not in [g["GroupName"] for g in iam.list_groups()["Groups"]]


def test_aws_managed_policies_attach_and_grant_like_on_aws(live_server, iam, s3, bucket):
    read_only = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    listed = {p["PolicyName"]: p for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AmazonS3FullAccess", "AmazonS3ReadOnlyAccess", "IAMReadOnlyAccess"} <= set(listed)
    assert listed["AmazonS3ReadOnlyAccess"]["Arn"] == read_only
    assert read_only not in [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]
    doc = iam.get_policy_version(PolicyArn=read_only, VersionId="v1")["PolicyVersion"]["Document"]
    assert "s3:Get*" in json.dumps(doc)

    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    user = unique("awsmp-user")
    access, secret = make_user(iam, user)
    client = live_server.client(access_key=access, secret_key=secret)
    try:
        with pytest.raises(ClientError):
            client.get_object(Bucket=bucket, Key="k")
        iam.attach_user_policy(UserName=user, PolicyArn=read_only)
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        with pytest.raises(ClientError) as e:
            client.put_object(Bucket=bucket, Key="k2", Body=b"x")
        assert error_code(e.value) == "AccessDenied"
        assert iam.get_policy(PolicyArn=read_only)["Policy"]["AttachmentCount"] == 1
        assert [u["UserName"] for u in iam.list_entities_for_policy(PolicyArn=read_only)["PolicyUsers"]] == [user]
        assert read_only in [p["Arn"] for p in iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]]
        for change in (lambda: iam.delete_policy(PolicyArn=read_only),
                       lambda: iam.create_policy_version(PolicyArn=read_only,
                                                         PolicyDocument=json.dumps(allow("s3:*", "*")))):
            with pytest.raises(ClientError) as e:
                change()
            assert error_code(e.value) == "InvalidInput"
        iam.detach_user_policy(UserName=user, PolicyArn=read_only)
        assert iam.get_policy(PolicyArn=read_only)["Policy"]["AttachmentCount"] == 0
        with pytest.raises(ClientError):
            client.get_object(Bucket=bucket, Key="k")
    finally:
        remove_user(iam, user)


def test_update_group_renames_and_moves_with_members_and_policies(iam):
    group, user = unique("old-grp"), unique("grp-user")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    arn = iam.create_policy(PolicyName=unique("grp-pol"),
                            PolicyDocument=json.dumps(allow("s3:GetObject", "*")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    new = unique("new-grp")
    try:
        iam.update_group(GroupName=group, NewGroupName=new, NewPath="/moved/")
        got = iam.get_group(GroupName=new)
        assert got["Group"]["Path"] == "/moved/" and [u["UserName"] for u in got["Users"]] == [user]
        assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [new]
        assert [g["GroupName"] for g in iam.list_entities_for_policy(PolicyArn=arn)["PolicyGroups"]] == [new]
        with pytest.raises(ClientError) as e:
            iam.get_group(GroupName=group)
        assert error_code(e.value) == "NoSuchEntity"
        other = unique("taken")
        iam.create_group(GroupName=other)
        with pytest.raises(ClientError) as e:
            iam.update_group(GroupName=new, NewGroupName=other.upper())
        assert error_code(e.value) == "EntityAlreadyExists"
        iam.delete_group(GroupName=other)
    finally:
        remove_group(iam, new)
        remove_user(iam, user)
        remove_policy(iam, arn)


def test_account_summary_root_keys_and_identity_providers(live_server, iam):
    before = iam.get_account_summary()["SummaryMap"]
    assert before["UsersQuota"] == 5000 and before["AccessKeysPerUserQuota"] == 2
    user = unique("summary-user")
    iam.create_user(UserName=user)
    try:
        after = iam.get_account_summary()["SummaryMap"]
        assert after["Users"] == before["Users"] + 1
    finally:
        iam.delete_user(UserName=user)
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []

    # Without UserName, a root user manages its own (stored) access keys.
    key = iam.create_access_key()["AccessKey"]
    try:
        assert "UserName" not in key and key["AccessKeyId"].startswith("AKIA")
        root_again = iam_client(live_server, key["AccessKeyId"], key["SecretAccessKey"])
        assert root_again.get_user()["User"]["Arn"].endswith(":root")
        iam.update_access_key(AccessKeyId=key["AccessKeyId"], Status="Inactive")
        listed = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys()["AccessKeyMetadata"]}
        assert listed[key["AccessKeyId"]] == "Inactive"
        with pytest.raises(ClientError):
            root_again.get_user()
    finally:
        iam.delete_access_key(AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        iam.update_access_key(AccessKeyId=key["AccessKeyId"], Status="Active")
    assert error_code(e.value) == "NoSuchEntity"


# --------------------------------------------------------------------- S3 access

def test_group_inline_policy_grants_s3_access_until_the_user_leaves(live_server, iam, s3, bucket):
    group, user = unique("readers"), unique("reader")
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"shared")
    ak, sk = make_user(iam, user)
    c = live_server.client(ak, sk)
    iam.create_group(GroupName=group)
    try:
        assert denied(lambda: c.get_object(Bucket=bucket, Key="doc.txt"))
        iam.put_group_policy(GroupName=group, PolicyName="access", PolicyDocument=json.dumps(bucket_access(bucket)))
        assert denied(lambda: c.get_object(Bucket=bucket, Key="doc.txt")), "not a member yet"
        iam.add_user_to_group(GroupName=group, UserName=user)
        assert c.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"shared"
        c.put_object(Bucket=bucket, Key="from-member.txt", Body=b"x")
        assert denied(lambda: c.list_buckets())
        iam.remove_user_from_group(GroupName=group, UserName=user)
        assert denied(lambda: c.get_object(Bucket=bucket, Key="doc.txt"))
    finally:
        remove_group(iam, group)
        remove_user(iam, user)


def test_managed_policy_attached_to_a_group_grants_until_detached(live_server, iam, s3, bucket):
    group, user, name = unique("mgd-grp"), unique("mgd-user"), unique("mgd-pol")
    ak, sk = make_user(iam, user)
    c = live_server.client(ak, sk)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(bucket_access(bucket)))["Policy"]["Arn"]
    try:
        assert denied(lambda: c.list_objects_v2(Bucket=bucket))
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
        c.put_object(Bucket=bucket, Key="k", Body=b"v")
        assert [o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
        iam.detach_group_policy(GroupName=group, PolicyArn=arn)
        assert denied(lambda: c.list_objects_v2(Bucket=bucket))
        # Attached to the user directly, it grants the same.
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        iam.detach_user_policy(UserName=user, PolicyArn=arn)
        assert denied(lambda: c.get_object(Bucket=bucket, Key="k"))
    finally:
        remove_user(iam, user)
        remove_group(iam, group)
        remove_policy(iam, arn)


def test_setting_the_default_version_changes_permissions_on_the_next_request(live_server, iam, s3, bucket):
    user, name = unique("ver-user"), unique("ver-pol")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    ak, sk = make_user(iam, user)
    c = live_server.client(ak, sk)
    read_only = allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(read_only))["Policy"]["Arn"]
    try:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        assert denied(lambda: c.list_objects_v2(Bucket=bucket))
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(bucket_access(bucket)))
        assert denied(lambda: c.list_objects_v2(Bucket=bucket)), "v2 is not the default yet"
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
        assert c.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        assert denied(lambda: c.list_objects_v2(Bucket=bucket))
    finally:
        remove_user(iam, user)
        remove_policy(iam, arn)


def test_home_folders_through_a_group_policy_with_username_variable(live_server, iam, s3, bucket):
    """The issue's scenario: one group policy gives every member a home folder."""
    group = unique("homes")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}/"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*"}]}
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="home", PolicyDocument=json.dumps(policy))
    users = [unique("home-a"), unique("home-b")]
    clients = {}
    try:
        for u in users:
            ak, sk = make_user(iam, u)
            iam.add_user_to_group(GroupName=group, UserName=u)
            clients[u] = live_server.client(ak, sk)
        for u, c in clients.items():
            c.put_object(Bucket=bucket, Key=f"home/{u}/notes.txt", Body=u.encode())
            keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=f"home/{u}/").get("Contents", [])]
            assert keys == [f"home/{u}/notes.txt"]
        a, b = users
        ca = clients[a]
        assert ca.get_object(Bucket=bucket, Key=f"home/{a}/notes.txt")["Body"].read() == a.encode()
        for call in (lambda: ca.get_object(Bucket=bucket, Key=f"home/{b}/notes.txt"),
                     lambda: ca.put_object(Bucket=bucket, Key=f"home/{b}/intruder", Body=b"x"),
                     lambda: ca.list_objects_v2(Bucket=bucket, Prefix=f"home/{b}/"),
                     lambda: ca.list_objects_v2(Bucket=bucket)):
            assert denied(call)
    finally:
        for u in users:
            try:
                remove_user(iam, u)
            except ClientError:
                pass
        remove_group(iam, group)


def test_group_actions_by_users_follow_their_policies(live_server, iam):
    admin, group = unique("grpadmin"), unique("managed")
    ak, sk = make_user(iam, admin, allow(["iam:CreateGroup", "iam:GetGroup", "iam:DeleteGroup"],
                                         f"arn:aws:iam::*:group/{group}"))
    as_admin = iam_client(live_server, ak, sk)
    try:
        as_admin.create_group(GroupName=group)
        assert as_admin.get_group(GroupName=group)["Group"]["GroupName"] == group
        for call in (lambda: as_admin.create_group(GroupName=unique("other")),
                     lambda: as_admin.list_groups(),
                     lambda: as_admin.put_group_policy(GroupName=group, PolicyName="p",
                                                       PolicyDocument=json.dumps(allow("s3:*", "*")))):
            with pytest.raises(ClientError) as e:
                call()
            assert error_code(e.value) == "AccessDenied"
        as_admin.delete_group(GroupName=group)
    finally:
        remove_user(iam, admin)
