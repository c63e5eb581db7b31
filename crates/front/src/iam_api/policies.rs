//! Customer-managed policy actions: CreatePolicy, GetPolicy, ListPolicies,
//! DeletePolicy, the policy version actions, attaching policies to users
//! and groups, and ListEntitiesForPolicy, with the XML shapes of the IAM API
//! reference.

use coffer_engine::{ManagedPolicyRecord, Page, PolicyScope, PolicyVersionRecord};
use http::StatusCode;

use super::groups::{group_arn, url_encoded, user_arn, write_page_end};
use super::{Ctx, IamError, Params, Xml, date, err};

pub(super) const ACTIONS: &[&str] = &[
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "ListEntitiesForPolicy",
];

pub(super) fn validation(message: impl Into<String>) -> IamError {
    err(StatusCode::BAD_REQUEST, "ValidationError", message)
}

fn bool_param(params: &Params, name: &str) -> Result<bool, IamError> {
    match params.get(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(validation(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}

/// The fields of a Policy structure; GetPolicy alone carries the
/// description.
fn write_policy_fields(x: &mut Xml, cx: &Ctx<'_>, p: &ManagedPolicyRecord, with_description: bool) {
    x.leaf("PolicyName", &p.name)
        .leaf("DefaultVersionId", &p.default_version)
        .leaf("PolicyId", &p.policy_id)
        .leaf("Path", &p.path)
        .leaf("Arn", &p.arn(cx.account))
        .leaf("AttachmentCount", &p.attachment_count().to_string())
        .leaf("PermissionsBoundaryUsageCount", "0")
        .leaf("IsAttachable", "true");
    if with_description && !p.description.is_empty() {
        x.leaf("Description", &p.description);
    }
    x.leaf("CreateDate", &date(p.created_ms))
        .leaf("UpdateDate", &date(p.updated_ms));
}

/// The fields of a PolicyVersion structure, the document only when asked.
fn write_version(
    x: &mut Xml,
    tag: &str,
    v: &PolicyVersionRecord,
    default_version: &str,
    with_document: bool,
) {
    x.open(tag);
    if with_document {
        x.leaf("Document", &url_encoded(&v.document));
    }
    x.leaf("VersionId", &v.version_id)
        .leaf(
            "IsDefaultVersion",
            &(v.version_id == default_version).to_string(),
        )
        .leaf("CreateDate", &date(v.created_ms))
        .close(tag);
}

pub(super) fn write_attached(x: &mut Xml, cx: &Ctx<'_>, page: &Page<ManagedPolicyRecord>) {
    x.open("AttachedPolicies");
    for p in &page.items {
        x.open("member")
            .leaf("PolicyName", &p.name)
            .leaf("PolicyArn", &p.arn(cx.account))
            .close("member");
    }
    x.close("AttachedPolicies");
    write_page_end(x, page);
}

pub(super) async fn handle(
    cx: &Ctx<'_>,
    action: &str,
    params: &Params,
    x: &mut Xml,
) -> Result<(), IamError> {
    let (engine, account) = (cx.engine, cx.account);
    let iam_action = format!("iam:{action}");
    match action {
        "CreatePolicy" => {
            let name = params.required("PolicyName")?;
            let path = params.get("Path");
            let doc = params.required("PolicyDocument")?;
            cx.authorize(&iam_action, &cx.arn("policy", path.unwrap_or("/"), name))
                .await?;
            let p = engine
                .create_policy(account, name, path, doc, params.get("Description"))
                .await?;
            x.open("Policy");
            write_policy_fields(x, cx, &p, false);
            x.close("Policy");
        }
        "GetPolicy" => {
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, arn).await?;
            let p = engine.get_policy(account, arn).await?;
            x.open("Policy");
            write_policy_fields(x, cx, &p, true);
            x.close("Policy");
        }
        "ListPolicies" => {
            let scope = match params.get("Scope").unwrap_or("All") {
                "All" => PolicyScope::All,
                "AWS" => PolicyScope::Aws,
                "Local" => PolicyScope::Local,
                other => {
                    return Err(validation(format!(
                        "Scope must be one of All, AWS, Local, not {other:?}"
                    )));
                }
            };
            cx.authorize(&iam_action, &cx.arn("policy", "/", "*"))
                .await?;
            let page = engine
                .list_policies(
                    account,
                    scope,
                    bool_param(params, "OnlyAttached")?,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            x.open("Policies");
            for p in &page.items {
                x.open("member");
                write_policy_fields(x, cx, p, false);
                x.close("member");
            }
            x.close("Policies");
            write_page_end(x, &page);
        }
        "DeletePolicy" => {
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, arn).await?;
            engine.delete_policy(account, arn).await?;
        }
        "CreatePolicyVersion" => {
            let arn = params.required("PolicyArn")?;
            let doc = params.required("PolicyDocument")?;
            let set_default = bool_param(params, "SetAsDefault")?;
            cx.authorize(&iam_action, arn).await?;
            let v = engine
                .create_policy_version(account, arn, doc, set_default)
                .await?;
            let default = if set_default {
                v.version_id.as_str()
            } else {
                ""
            };
            write_version(x, "PolicyVersion", &v, default, false);
        }
        "GetPolicyVersion" => {
            let arn = params.required("PolicyArn")?;
            let vid = params.required("VersionId")?;
            cx.authorize(&iam_action, arn).await?;
            let p = engine.get_policy(account, arn).await?;
            let v = p.version(vid).ok_or_else(|| {
                err(
                    StatusCode::NOT_FOUND,
                    "NoSuchEntity",
                    format!("Policy {arn} version {vid} does not exist or is not attachable."),
                )
            })?;
            write_version(x, "PolicyVersion", v, &p.default_version, true);
        }
        "ListPolicyVersions" => {
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, arn).await?;
            let p = engine.get_policy(account, arn).await?;
            // Newest first, as IAM lists them.
            let versions: Vec<&PolicyVersionRecord> = p.versions.iter().rev().collect();
            let page = Page::of(
                versions,
                |v| v.version_id.clone(),
                params.get("Marker"),
                params.max_items()?,
            );
            x.open("Versions");
            for v in &page.items {
                write_version(x, "member", v, &p.default_version, false);
            }
            x.close("Versions");
            write_page_end(x, &page);
        }
        "SetDefaultPolicyVersion" | "DeletePolicyVersion" => {
            let arn = params.required("PolicyArn")?;
            let vid = params.required("VersionId")?;
            cx.authorize(&iam_action, arn).await?;
            if action == "SetDefaultPolicyVersion" {
                engine.set_default_policy_version(account, arn, vid).await?;
            } else {
                engine.delete_policy_version(account, arn, vid).await?;
            }
        }
        "AttachUserPolicy" | "DetachUserPolicy" => {
            let user = params.required("UserName")?;
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, &user_arn(cx, user).await?)
                .await?;
            if action == "AttachUserPolicy" {
                engine.attach_user_policy(account, user, arn).await?;
            } else {
                engine.detach_user_policy(account, user, arn).await?;
            }
        }
        "AttachGroupPolicy" | "DetachGroupPolicy" => {
            let group = params.required("GroupName")?;
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, &group_arn(cx, group).await?)
                .await?;
            if action == "AttachGroupPolicy" {
                engine.attach_group_policy(account, group, arn).await?;
            } else {
                engine.detach_group_policy(account, group, arn).await?;
            }
        }
        "ListAttachedUserPolicies" => {
            let user = params.required("UserName")?;
            cx.authorize(&iam_action, &user_arn(cx, user).await?)
                .await?;
            let page = engine
                .list_attached_user_policies(
                    account,
                    user,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            write_attached(x, cx, &page);
        }
        "ListAttachedGroupPolicies" => {
            let group = params.required("GroupName")?;
            cx.authorize(&iam_action, &group_arn(cx, group).await?)
                .await?;
            let page = engine
                .list_attached_group_policies(
                    account,
                    group,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            write_attached(x, cx, &page);
        }
        "ListEntitiesForPolicy" => {
            let arn = params.required("PolicyArn")?;
            let (want_groups, want_users, want_roles) = match params.get("EntityFilter") {
                None | Some("LocalManagedPolicy" | "AWSManagedPolicy") => (true, true, true),
                Some("User") => (false, true, false),
                Some("Group") => (true, false, false),
                Some("Role") => (false, false, true),
                Some(other) => {
                    return Err(validation(format!(
                        "EntityFilter must be one of User, Role, Group, LocalManagedPolicy, AWSManagedPolicy, not {other:?}"
                    )));
                }
            };
            cx.authorize(&iam_action, arn).await?;
            let coffer_engine::PolicyEntities {
                groups,
                users,
                roles,
            } = engine
                .list_entities_for_policy(account, arn, params.get("PathPrefix").unwrap_or("/"))
                .await?;
            x.open("PolicyGroups");
            for g in groups.iter().filter(|_| want_groups) {
                x.open("member")
                    .leaf("GroupName", &g.name)
                    .leaf("GroupId", &g.group_id)
                    .close("member");
            }
            x.close("PolicyGroups").open("PolicyUsers");
            for u in users.iter().filter(|_| want_users) {
                x.open("member")
                    .leaf("UserName", &u.name)
                    .leaf("UserId", &u.user_id)
                    .close("member");
            }
            x.close("PolicyUsers").open("PolicyRoles");
            for r in roles.iter().filter(|_| want_roles) {
                x.open("member")
                    .leaf("RoleName", &r.name)
                    .leaf("RoleId", &r.role_id)
                    .close("member");
            }
            x.close("PolicyRoles").leaf("IsTruncated", "false");
        }
        other => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("The action {other} is not valid for this web service."),
            ));
        }
    }
    Ok(())
}
