//! IAM role actions: CreateRole, GetRole, ListRoles, UpdateRole,
//! UpdateRoleDescription, UpdateAssumeRolePolicy, DeleteRole, role tags,
//! inline role policies and managed policy attachments, with the XML shapes
//! of the IAM API reference.

use coffer_engine::{NewRole, Page, RoleRecord};
use http::StatusCode;

use super::groups::{inline_policy, path_or_root, url_encoded, write_page_end, write_policy_names};
use super::policies::{validation, write_attached};
use super::{Ctx, IamError, Params, Xml, date, err};

pub(super) const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
];

/// The ARN a role action is authorized on (with `/` as the path of a role
/// that does not exist, which then fails with NoSuchEntity).
async fn role_arn(cx: &Ctx<'_>, name: &str) -> Result<String, IamError> {
    let path = path_or_root(cx.engine.get_role(cx.account, name).await.map(|r| r.path))?;
    Ok(cx.arn("role", &path, name))
}

fn write_tags(x: &mut Xml, tags: &[(String, String)]) {
    x.open("Tags");
    for (k, v) in tags {
        x.open("member")
            .leaf("Key", k)
            .leaf("Value", v)
            .close("member");
    }
    x.close("Tags");
}

/// The fields of a Role structure, inside whatever element holds them.
fn write_role_fields(x: &mut Xml, cx: &Ctx<'_>, r: &RoleRecord) {
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.role_id)
        .leaf("Arn", &r.arn(cx.account))
        .leaf("CreateDate", &date(r.created_ms))
        .leaf("AssumeRolePolicyDocument", &url_encoded(&r.trust_policy));
    if !r.description.is_empty() {
        x.leaf("Description", &r.description);
    }
    x.leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    if !r.tags.is_empty() {
        write_tags(x, &r.tags);
    }
}

fn write_role(x: &mut Xml, cx: &Ctx<'_>, r: &RoleRecord) {
    x.open("Role");
    write_role_fields(x, cx, r);
    x.close("Role");
}

fn write_roles(x: &mut Xml, cx: &Ctx<'_>, page: &Page<RoleRecord>) {
    x.open("Roles");
    for r in &page.items {
        x.open("member");
        write_role_fields(x, cx, r);
        x.close("member");
    }
    x.close("Roles");
    write_page_end(x, page);
}

fn max_session(params: &Params) -> Result<Option<u32>, IamError> {
    params
        .get("MaxSessionDuration")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| validation(format!("MaxSessionDuration must be a number, not {v:?}")))
        })
        .transpose()
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
        "CreateRole" => {
            let name = params.required("RoleName")?;
            let path = params.get("Path");
            cx.authorize(&iam_action, &cx.arn("role", path.unwrap_or("/"), name))
                .await?;
            let new = NewRole {
                path,
                trust_policy: params.required("AssumeRolePolicyDocument")?,
                description: params.get("Description"),
                max_session_duration: max_session(params)?,
                tags: params.tags("Tags"),
            };
            let r = engine.create_role(account, name, new).await?;
            write_role(x, cx, &r);
        }
        "GetRole" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            let r = engine.get_role(account, name).await?;
            write_role(x, cx, &r);
        }
        "ListRoles" => {
            cx.authorize(&iam_action, &cx.arn("role", "/", "*")).await?;
            let page = engine
                .list_roles(
                    account,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            write_roles(x, cx, &page);
        }
        "UpdateRole" | "UpdateRoleDescription" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            let description = if action == "UpdateRoleDescription" {
                Some(params.get("Description").unwrap_or_default())
            } else {
                params.get("Description")
            };
            engine
                .update_role(account, name, description, max_session(params)?)
                .await?;
            if action == "UpdateRoleDescription" {
                write_role(x, cx, &engine.get_role(account, name).await?);
            }
        }
        "UpdateAssumeRolePolicy" => {
            let name = params.required("RoleName")?;
            let doc = params.required("PolicyDocument")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            engine.update_assume_role_policy(account, name, doc).await?;
        }
        "DeleteRole" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            engine.delete_role(account, name).await?;
        }
        "TagRole" | "UntagRole" | "ListRoleTags" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            match action {
                "TagRole" => engine.tag_role(account, name, params.tags("Tags")).await?,
                "UntagRole" => {
                    engine
                        .untag_role(account, name, params.members("TagKeys"))
                        .await?
                }
                _ => {
                    let r = engine.get_role(account, name).await?;
                    write_tags(x, &r.tags);
                    x.leaf("IsTruncated", "false");
                }
            }
        }
        "PutRolePolicy" => {
            let name = params.required("RoleName")?;
            let policy_name = params.required("PolicyName")?;
            let doc = params.required("PolicyDocument")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            engine
                .put_role_policy(account, name, policy_name, doc)
                .await?;
        }
        "GetRolePolicy" => {
            let name = params.required("RoleName")?;
            let policy_name = params.required("PolicyName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            let r = engine.get_role(account, name).await?;
            let doc = inline_policy(&r.inline_policies, policy_name, "role")?;
            x.leaf("RoleName", &r.name)
                .leaf("PolicyName", policy_name)
                .leaf("PolicyDocument", &url_encoded(doc));
        }
        "ListRolePolicies" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            let r = engine.get_role(account, name).await?;
            write_policy_names(x, &r.inline_policies, params)?;
        }
        "DeleteRolePolicy" => {
            let name = params.required("RoleName")?;
            let policy_name = params.required("PolicyName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            engine
                .delete_role_policy(account, name, policy_name)
                .await?;
        }
        "AttachRolePolicy" | "DetachRolePolicy" => {
            let name = params.required("RoleName")?;
            let arn = params.required("PolicyArn")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            if action == "AttachRolePolicy" {
                engine.attach_role_policy(account, name, arn).await?;
            } else {
                engine.detach_role_policy(account, name, arn).await?;
            }
        }
        "ListAttachedRolePolicies" => {
            let name = params.required("RoleName")?;
            cx.authorize(&iam_action, &role_arn(cx, name).await?)
                .await?;
            let page = engine
                .list_attached_role_policies(
                    account,
                    name,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            write_attached(x, cx, &page);
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
