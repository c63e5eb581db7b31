//! IAM group actions: CreateGroup, GetGroup, ListGroups, ListGroupsForUser,
//! AddUserToGroup, RemoveUserFromGroup, DeleteGroup and the inline group
//! policy actions, with the XML shapes of the IAM API reference. Also the
//! small helpers the managed-policy actions share.

use coffer_engine::{EngineError, GroupRecord, Page, UserRecord};
use http::StatusCode;

use super::{Ctx, IamError, Params, Xml, date, err};

pub(super) const ACTIONS: &[&str] = &[
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "ListGroupsForUser",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "DeleteGroup",
    "UpdateGroup",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "ListGroupPolicies",
    "DeleteGroupPolicy",
];

/// IAM returns policy documents URL-encoded.
pub(super) fn url_encoded(document: &str) -> String {
    percent_encoding::utf8_percent_encode(document, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `<IsTruncated>` and, when more follow, the `<Marker>` that continues.
pub(super) fn write_page_end<T>(x: &mut Xml, page: &Page<T>) {
    x.leaf("IsTruncated", &page.is_truncated().to_string());
    x.leaf_opt("Marker", page.marker.as_deref());
}

/// A List{User,Group,Role}Policies result: inline policy names in name
/// order, paged by Marker and MaxItems.
pub(super) fn write_policy_names(
    x: &mut Xml,
    inline: &[(String, String)],
    params: &Params,
) -> Result<(), IamError> {
    let mut names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    let page = Page::of(
        names,
        Clone::clone,
        params.get("Marker"),
        params.max_items()?,
    );
    x.open("PolicyNames");
    for n in &page.items {
        x.leaf("member", n);
    }
    x.close("PolicyNames");
    write_page_end(x, &page);
    Ok(())
}

/// The document of inline policy `name` of a user, group or role (`kind`),
/// or IAM's NoSuchEntity.
pub(super) fn inline_policy<'a>(
    policies: &'a [(String, String)],
    name: &str,
    kind: &str,
) -> Result<&'a str, IamError> {
    policies
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.as_str())
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                "NoSuchEntity",
                format!("The {kind} policy with name {name} cannot be found."),
            )
        })
}

/// The ARN of an entity for authorization: with its real path when it
/// exists, with `/` when it does not (the action then fails with
/// NoSuchEntity once it is authorized).
pub(super) fn path_or_root(found: Result<String, EngineError>) -> Result<String, IamError> {
    match found {
        Ok(path) => Ok(path),
        Err(EngineError::NoSuchEntity(_)) => Ok("/".into()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn group_arn(cx: &Ctx<'_>, name: &str) -> Result<String, IamError> {
    let path = path_or_root(cx.engine.get_group(cx.account, name).await.map(|g| g.path))?;
    Ok(cx.arn("group", &path, name))
}

pub(super) async fn user_arn(cx: &Ctx<'_>, name: &str) -> Result<String, IamError> {
    let path = path_or_root(cx.engine.get_user(cx.account, name).await.map(|u| u.path))?;
    Ok(cx.arn("user", &path, name))
}

/// The fields of a Group structure, inside whatever element holds them.
fn write_group_fields(x: &mut Xml, cx: &Ctx<'_>, g: &GroupRecord) {
    x.leaf("Path", &g.path)
        .leaf("GroupName", &g.name)
        .leaf("GroupId", &g.group_id)
        .leaf("Arn", &cx.arn("group", &g.path, &g.name))
        .leaf("CreateDate", &date(g.created_ms));
}

fn write_groups(x: &mut Xml, cx: &Ctx<'_>, page: &Page<GroupRecord>) {
    x.open("Groups");
    for g in &page.items {
        x.open("member");
        write_group_fields(x, cx, g);
        x.close("member");
    }
    x.close("Groups");
    write_page_end(x, page);
}

fn write_user_member(x: &mut Xml, cx: &Ctx<'_>, u: &UserRecord) {
    x.open("member")
        .leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &u.user_id)
        .leaf("Arn", &cx.arn("user", &u.path, &u.name))
        .leaf("CreateDate", &date(u.created_ms))
        .close("member");
}

pub(super) async fn handle(
    cx: &Ctx<'_>,
    action: &str,
    params: &Params,
    x: &mut Xml,
) -> Result<(), IamError> {
    let (engine, account) = (cx.engine, cx.account);
    match action {
        "CreateGroup" => {
            let name = params.required("GroupName")?;
            let path = params.get("Path");
            cx.authorize(
                "iam:CreateGroup",
                &cx.arn("group", path.unwrap_or("/"), name),
            )
            .await?;
            let g = engine.create_group(account, name, path).await?;
            x.open("Group");
            write_group_fields(x, cx, &g);
            x.close("Group");
        }
        "UpdateGroup" => {
            let name = params.required("GroupName")?;
            cx.authorize("iam:UpdateGroup", &group_arn(cx, name).await?)
                .await?;
            engine
                .update_group(
                    account,
                    name,
                    params.get("NewGroupName"),
                    params.get("NewPath"),
                )
                .await?;
        }
        "GetGroup" => {
            let name = params.required("GroupName")?;
            cx.authorize("iam:GetGroup", &group_arn(cx, name).await?)
                .await?;
            let (g, users) = engine
                .get_group_members(account, name, params.get("Marker"), params.max_items()?)
                .await?;
            x.open("Group");
            write_group_fields(x, cx, &g);
            x.close("Group").open("Users");
            for u in &users.items {
                write_user_member(x, cx, u);
            }
            x.close("Users");
            write_page_end(x, &users);
        }
        "ListGroups" => {
            cx.authorize("iam:ListGroups", &cx.arn("group", "/", "*"))
                .await?;
            let page = engine
                .list_groups(
                    account,
                    params.get("PathPrefix").unwrap_or("/"),
                    params.get("Marker"),
                    params.max_items()?,
                )
                .await?;
            write_groups(x, cx, &page);
        }
        "ListGroupsForUser" => {
            let user = params.required("UserName")?;
            cx.authorize("iam:ListGroupsForUser", &user_arn(cx, user).await?)
                .await?;
            let page = engine
                .list_groups_for_user(account, user, params.get("Marker"), params.max_items()?)
                .await?;
            write_groups(x, cx, &page);
        }
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let name = params.required("GroupName")?;
            let user = params.required("UserName")?;
            cx.authorize(&format!("iam:{action}"), &group_arn(cx, name).await?)
                .await?;
            if action == "AddUserToGroup" {
                engine.add_user_to_group(account, name, user).await?;
            } else {
                engine.remove_user_from_group(account, name, user).await?;
            }
        }
        "DeleteGroup" => {
            let name = params.required("GroupName")?;
            cx.authorize("iam:DeleteGroup", &group_arn(cx, name).await?)
                .await?;
            engine.delete_group(account, name).await?;
        }
        "PutGroupPolicy" => {
            let name = params.required("GroupName")?;
            let policy_name = params.required("PolicyName")?;
            let doc = params.required("PolicyDocument")?;
            cx.authorize("iam:PutGroupPolicy", &group_arn(cx, name).await?)
                .await?;
            engine
                .put_group_policy(account, name, policy_name, doc)
                .await?;
        }
        "GetGroupPolicy" => {
            let name = params.required("GroupName")?;
            let policy_name = params.required("PolicyName")?;
            cx.authorize("iam:GetGroupPolicy", &group_arn(cx, name).await?)
                .await?;
            let g = engine.get_group(account, name).await?;
            let doc = inline_policy(&g.inline_policies, policy_name, "group")?;
            x.leaf("GroupName", &g.name)
                .leaf("PolicyName", policy_name)
                .leaf("PolicyDocument", &url_encoded(doc));
        }
        "ListGroupPolicies" => {
            let name = params.required("GroupName")?;
            cx.authorize("iam:ListGroupPolicies", &group_arn(cx, name).await?)
                .await?;
            let g = engine.get_group(account, name).await?;
            write_policy_names(x, &g.inline_policies, params)?;
        }
        "DeleteGroupPolicy" => {
            let name = params.required("GroupName")?;
            let policy_name = params.required("PolicyName")?;
            cx.authorize("iam:DeleteGroupPolicy", &group_arn(cx, name).await?)
                .await?;
            engine
                .delete_group_policy(account, name, policy_name)
                .await?;
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
