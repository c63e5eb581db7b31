//! The AWS IAM Query API (`POST /` with `Action=...&Version=2010-05-08`,
//! SigV4 service `iam`) on the S3 port, so `aws iam ...` and boto3's `iam`
//! client manage Coffer's identities. Coffer adds three actions for its own
//! multi-account model (CreateAccount, ListAccounts, DeleteAccount), which
//! only the first account's root may call. The STS Query API (service `sts`,
//! `Version=2011-06-15`) shares the request handling (see `sts.rs`).

mod groups;
mod policies;
mod roles;
mod simulate;
mod sts;
mod xml;

use std::collections::HashMap;

use bytes::Bytes;
use coffer_engine::{AccessKeyRecord, Engine, EngineError, UserRecord};
use coffer_types::{Principal, PrincipalKind};
use http::{HeaderValue, Response, StatusCode};
use s3s::Body;

use crate::RootCredentials;
use xml::{Xml, date};

/// Query API requests are small forms; anything larger is refused.
pub(crate) const MAX_QUERY_BODY: usize = 1024 * 1024;

pub(super) struct IamError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> IamError {
    IamError {
        status,
        code,
        message: message.into(),
    }
}

impl From<EngineError> for IamError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match &e {
            EngineError::NoSuchEntity(_) => (StatusCode::NOT_FOUND, "NoSuchEntity"),
            EngineError::EntityAlreadyExists(_) => (StatusCode::CONFLICT, "EntityAlreadyExists"),
            EngineError::LimitExceeded(_) => (StatusCode::CONFLICT, "LimitExceeded"),
            EngineError::DeleteConflict(_) => (StatusCode::CONFLICT, "DeleteConflict"),
            EngineError::MalformedPolicyDocument(_) => {
                (StatusCode::BAD_REQUEST, "MalformedPolicyDocument")
            }
            EngineError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
            EngineError::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationError"),
            EngineError::PackedPolicyTooLarge(_) => {
                (StatusCode::BAD_REQUEST, "PackedPolicyTooLarge")
            }
            EngineError::ExpiredToken => (StatusCode::FORBIDDEN, "ExpiredToken"),
            EngineError::InvalidToken => (StatusCode::FORBIDDEN, "InvalidClientTokenId"),
            EngineError::AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDenied"),
            _ => {
                tracing::error!(error = %e, "IAM request failed");
                return err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                );
            }
        };
        err(status, code, e.to_string())
    }
}

struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, IamError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            err(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(name)),
            )
        })
    }

    /// A list parameter: `Name.member.1`, `Name.member.2`, ... in order.
    fn members(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut found: Vec<(usize, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.parse::<usize>().ok()?, v.clone())))
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// A tag list parameter: `Name.member.N.Key` / `Name.member.N.Value`.
    fn tags(&self, name: &str) -> Vec<(String, String)> {
        let mut tags = Vec::new();
        for i in 1.. {
            let Some(k) = self.get(&format!("{name}.member.{i}.Key")) else {
                break;
            };
            let v = self
                .get(&format!("{name}.member.{i}.Value"))
                .unwrap_or_default();
            tags.push((k.to_owned(), v.to_owned()));
        }
        tags
    }

    fn max_items(&self) -> Result<usize, IamError> {
        match self.get("MaxItems") {
            None => Ok(100),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    err(
                        StatusCode::BAD_REQUEST,
                        "ValidationError",
                        "MaxItems must be between 1 and 1000",
                    )
                }),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn xml_response(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    r
}

/// Handles one IAM or STS Query API request whose body has been read.
pub(crate) async fn handle(
    engine: &Engine,
    root: &RootCredentials,
    parts: &http::request::Parts,
    body: &[u8],
    request_id: &str,
    principal_slot: &crate::access::PrincipalSlot,
) -> Response<Body> {
    let is_sts = crate::query_auth::scope_service(&parts.headers).is_some_and(|s| s == "sts");
    let ns = if is_sts { xml::STS_NS } else { xml::IAM_NS };
    let principal = match crate::query_auth::verify(engine, root, parts, body).await {
        Ok(p) => p,
        Err(e) => {
            return xml_response(
                StatusCode::FORBIDDEN,
                xml::error(ns, e.code, &e.message, request_id),
            );
        }
    };
    if let Ok(mut g) = principal_slot.0.lock() {
        *g = Some(principal.arn());
    }
    crate::access::note_key_used(engine, root, &principal, if is_sts { "sts" } else { "iam" });
    let mut params: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    // serde_urlencoded would turn bytes that are not UTF-8 into U+FFFD: a
    // policy nobody wrote. Such a form is refused instead.
    let utf8 = |raw: &[u8]| {
        raw.split(|b| *b == b'&' || *b == b'=')
            .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
    };
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(body) {
        Ok(f) if utf8(body) && utf8(parts.uri.query().unwrap_or_default().as_bytes()) => f,
        _ => {
            return xml_response(
                StatusCode::BAD_REQUEST,
                xml::error(
                    ns,
                    "MalformedQueryString",
                    "The request body is not a valid form",
                    request_id,
                ),
            );
        }
    };
    params.extend(form);
    let params = Params(params);
    let action = params.get("Action").unwrap_or_default().to_owned();
    let result = if action.is_empty() {
        Err(err(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "The request must contain the parameter Action",
        ))
    } else if is_sts {
        let conditions = crate::access::request_conditions(
            &parts.uri,
            &parts.headers,
            parts
                .extensions
                .get::<crate::access::PeerAddr>()
                .map(|p| p.0),
            parts
                .extensions
                .get::<crate::http_server::SecureTransport>()
                .is_some_and(|s| s.0),
        );
        sts::dispatch(engine, &principal, &action, &params, &conditions).await
    } else if principal.is_temporary()
        && !matches!(principal.kind, PrincipalKind::AssumedRole { .. })
    {
        // AWS: credentials from GetSessionToken cannot call IAM without MFA,
        // which Coffer does not have.
        Err(err(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Credentials from GetSessionToken cannot call the IAM API.",
        ))
    } else {
        dispatch(engine, &principal, &action, &params).await
    };
    match result {
        Ok(result) => xml_response(
            StatusCode::OK,
            xml::response(ns, &action, &result, request_id),
        ),
        Err(e) => xml_response(e.status, xml::error(ns, e.code, &e.message, request_id)),
    }
}

/// The account a principal administers through IAM.
fn account_of(p: &Principal) -> Result<&str, IamError> {
    p.account.as_ref().map(|a| a.0.as_str()).ok_or_else(|| {
        err(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Anonymous requests are not allowed",
        )
    })
}

fn user_arn(account: &str, u: &UserRecord) -> String {
    format!("arn:aws:iam::{account}:user{}{}", u.path, u.name)
}

fn write_user(x: &mut Xml, account: &str, u: &UserRecord) {
    x.open("User")
        .leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &u.user_id)
        .leaf("Arn", &user_arn(account, u))
        .leaf("CreateDate", &date(u.created_ms));
    if !u.tags.is_empty() {
        x.open("Tags");
        for (k, v) in &u.tags {
            x.open("member")
                .leaf("Key", k)
                .leaf("Value", v)
                .close("member");
        }
        x.close("Tags");
    }
    x.close("User");
}

fn write_key_metadata(x: &mut Xml, k: &AccessKeyRecord) {
    x.open("member")
        .leaf_opt("UserName", k.user.as_deref())
        .leaf("AccessKeyId", &k.access_key_id)
        .leaf("Status", if k.active { "Active" } else { "Inactive" })
        .leaf("CreateDate", &date(k.created_ms))
        .close("member");
}

/// The user an action names, or the caller when it is an IAM user and the
/// action allows omitting UserName.
fn target_user<'a>(principal: &'a Principal, params: &'a Params) -> Result<&'a str, IamError> {
    match (params.get("UserName"), &principal.kind) {
        (Some(n), _) if !n.is_empty() => Ok(n),
        (_, PrincipalKind::User { name, .. }) => Ok(name),
        _ => params.required("UserName"),
    }
}

/// Whose access keys a key action names: `UserName`, or else the caller
/// itself (an IAM user by name, the root user as `None`).
fn key_owner(principal: &Principal, params: &Params) -> Result<Option<String>, IamError> {
    match (params.get("UserName"), &principal.kind) {
        (Some(n), _) if !n.is_empty() => Ok(Some(n.to_owned())),
        (_, PrincipalKind::User { name, .. }) => Ok(Some(name.clone())),
        (_, PrincipalKind::Root) => Ok(None),
        _ => params.required("UserName").map(|n| Some(n.to_owned())),
    }
}

/// What an action handler needs to know about the request.
struct Ctx<'a> {
    pub engine: &'a Engine,
    pub principal: &'a Principal,
    /// The caller's account, which the action administers.
    pub account: &'a str,
}

impl Ctx<'_> {
    /// Authorizes `iam:ACTION` on a resource of the caller's account.
    pub async fn authorize(&self, action: &str, resource: &str) -> Result<(), IamError> {
        Ok(self
            .engine
            .authorize_iam(self.principal, action, resource)
            .await?)
    }

    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account)
    }
}

/// Actions handled by the per-entity modules below (groups, managed
/// policies, ...), each of which writes its result into `x`.
/// (Each module exports its action names as `ACTIONS`.)
const ENTITY_MODULES_HANDLE: &[&[&str]] = &[
    simulate::ACTIONS,
    groups::ACTIONS,
    policies::ACTIONS,
    roles::ACTIONS,
];

async fn handle_entity_action(
    cx: &Ctx<'_>,
    action: &str,
    params: &Params,
    x: &mut Xml,
) -> Result<(), IamError> {
    if simulate::ACTIONS.contains(&action) {
        return simulate::handle(cx, action, params, x).await;
    }
    if groups::ACTIONS.contains(&action) {
        return groups::handle(cx, action, params, x).await;
    }
    if policies::ACTIONS.contains(&action) {
        return policies::handle(cx, action, params, x).await;
    }
    if roles::ACTIONS.contains(&action) {
        return roles::handle(cx, action, params, x).await;
    }
    Err(err(
        StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("The action {action} is not valid for this web service."),
    ))
}

async fn dispatch(
    engine: &Engine,
    principal: &Principal,
    action: &str,
    params: &Params,
) -> Result<String, IamError> {
    let account = account_of(principal)?.to_owned();
    let mut x = Xml::default();
    // Every action is authorized as `iam:ACTION` on the resource it names.
    let user_resource = |name: &str| format!("arn:aws:iam::{account}:user/{name}");
    match action {
        "CreateUser" => {
            let name = params.required("UserName")?;
            engine
                .authorize_iam(principal, "iam:CreateUser", &user_resource(name))
                .await?;
            let u = engine
                .create_user(&account, name, params.get("Path"))
                .await?;
            write_user(&mut x, &account, &u);
        }
        "GetUser" => match (params.get("UserName"), &principal.kind) {
            (None, PrincipalKind::Root) => {
                let a = engine.account(&account).await?;
                x.open("User")
                    .leaf("UserId", &a.id)
                    .leaf("Arn", &format!("arn:aws:iam::{}:root", a.id))
                    .leaf("CreateDate", &date(0))
                    .close("User");
            }
            _ => {
                let name = target_user(principal, params)?;
                engine
                    .authorize_iam(principal, "iam:GetUser", &user_resource(name))
                    .await?;
                let u = engine.get_user(&account, name).await?;
                write_user(&mut x, &account, &u);
            }
        },
        "ListUsers" => {
            engine
                .authorize_iam(principal, "iam:ListUsers", &user_resource("*"))
                .await?;
            let prefix = params.get("PathPrefix").unwrap_or("/");
            let (users, truncated) = engine
                .list_users(&account, prefix, params.get("Marker"), params.max_items()?)
                .await?;
            x.open("Users");
            for u in &users {
                let mut inner = Xml::default();
                write_user(&mut inner, &account, u);
                // A list holds <member> elements with a user's fields.
                let s = inner.into_string();
                let s = s
                    .strip_prefix("<User>")
                    .and_then(|s| s.strip_suffix("</User>"))
                    .unwrap_or(&s)
                    .to_owned();
                x.open("member").raw(&s).close("member");
            }
            x.close("Users").leaf("IsTruncated", &truncated.to_string());
            if truncated && let Some(last) = users.last() {
                x.leaf("Marker", &last.name);
            }
        }
        "UpdateUser" => {
            let name = params.required("UserName")?;
            engine
                .authorize_iam(principal, "iam:UpdateUser", &user_resource(name))
                .await?;
            engine
                .update_user(
                    &account,
                    name,
                    params.get("NewUserName"),
                    params.get("NewPath"),
                )
                .await?;
        }
        "TagUser" | "UntagUser" | "ListUserTags" => {
            let name = params.required("UserName")?;
            engine
                .authorize_iam(principal, &format!("iam:{action}"), &user_resource(name))
                .await?;
            match action {
                "TagUser" => engine.tag_user(&account, name, params.tags("Tags")).await?,
                "UntagUser" => {
                    engine
                        .untag_user(&account, name, params.members("TagKeys"))
                        .await?
                }
                _ => {
                    let u = engine.get_user(&account, name).await?;
                    x.open("Tags");
                    for (k, v) in &u.tags {
                        x.open("member")
                            .leaf("Key", k)
                            .leaf("Value", v)
                            .close("member");
                    }
                    x.close("Tags").leaf("IsTruncated", "false");
                }
            }
        }
        "GetAccountSummary" => {
            engine
                .authorize_iam(principal, "iam:GetAccountSummary", "*")
                .await?;
            x.open("SummaryMap");
            for (k, v) in engine.account_summary(&account).await? {
                x.open("entry")
                    .leaf("key", k)
                    .leaf("value", &v.to_string())
                    .close("entry");
            }
            x.close("SummaryMap");
        }
        // Coffer has no OpenID Connect identity providers (web identity
        // federation is not supported), so the list is truthfully empty.
        "ListOpenIDConnectProviders" => {
            engine
                .authorize_iam(
                    principal,
                    "iam:ListOpenIDConnectProviders",
                    &format!("arn:aws:iam::{account}:oidc-provider/*"),
                )
                .await?;
            x.open("OpenIDConnectProviderList")
                .close("OpenIDConnectProviderList");
        }
        "GetAccessKeyLastUsed" => {
            let id = params.required("AccessKeyId")?;
            let k = engine.access_key_last_used(&account, id).await?;
            let resource = match &k.user {
                Some(u) => user_resource(u),
                None => format!("arn:aws:iam::{account}:root"),
            };
            engine
                .authorize_iam(principal, "iam:GetAccessKeyLastUsed", &resource)
                .await?;
            x.leaf_opt("UserName", k.user.as_deref())
                .open("AccessKeyLastUsed");
            match k.last_used_ms {
                Some(ms) => {
                    x.leaf("LastUsedDate", &date(ms))
                        .leaf(
                            "ServiceName",
                            k.last_used_service.as_deref().unwrap_or("N/A"),
                        )
                        .leaf("Region", engine.region());
                }
                None => {
                    x.leaf("ServiceName", "N/A").leaf("Region", "N/A");
                }
            }
            x.close("AccessKeyLastUsed");
        }
        "DeleteUser" => {
            let name = params.required("UserName")?;
            engine
                .authorize_iam(principal, "iam:DeleteUser", &user_resource(name))
                .await?;
            engine.delete_user(&account, name).await?;
        }
        "CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey" | "DeleteAccessKey" => {
            // Without UserName, the caller's own keys: an IAM user's, or the
            // root user's (the account's stored root keys).
            let owner = key_owner(principal, params)?;
            let resource = match &owner {
                Some(n) => user_resource(n),
                None => format!("arn:aws:iam::{account}:root"),
            };
            let active = match (action, params.get("Status")) {
                ("UpdateAccessKey", Some("Active")) => true,
                ("UpdateAccessKey", Some("Inactive")) => false,
                ("UpdateAccessKey", other) => {
                    return Err(err(
                        StatusCode::BAD_REQUEST,
                        "ValidationError",
                        format!("Status must be Active or Inactive, not {other:?}"),
                    ));
                }
                _ => true,
            };
            engine
                .authorize_iam(principal, &format!("iam:{action}"), &resource)
                .await?;
            let owner = owner.as_deref();
            match action {
                "CreateAccessKey" => {
                    let k = engine.create_access_key(&account, owner).await?;
                    x.open("AccessKey")
                        .leaf_opt("UserName", owner)
                        .leaf("AccessKeyId", &k.access_key_id)
                        .leaf("Status", "Active")
                        .leaf("SecretAccessKey", &k.secret_access_key)
                        .leaf("CreateDate", &date(k.created_ms))
                        .close("AccessKey");
                }
                "ListAccessKeys" => {
                    let keys = engine.list_access_keys(&account, owner).await?;
                    x.open("AccessKeyMetadata");
                    for k in &keys {
                        write_key_metadata(&mut x, k);
                    }
                    x.close("AccessKeyMetadata").leaf("IsTruncated", "false");
                }
                "UpdateAccessKey" => {
                    let id = params.required("AccessKeyId")?;
                    engine
                        .update_access_key(&account, owner, id, active)
                        .await?;
                }
                _ => {
                    let id = params.required("AccessKeyId")?;
                    engine.delete_access_key(&account, owner, id).await?;
                }
            }
        }
        "PutUserPolicy" => {
            let name = params.required("UserName")?;
            let policy_name = params.required("PolicyName")?;
            let doc = params.required("PolicyDocument")?;
            engine
                .authorize_iam(principal, "iam:PutUserPolicy", &user_resource(name))
                .await?;
            engine
                .put_user_policy(&account, name, policy_name, doc)
                .await?;
        }
        "GetUserPolicy" => {
            let name = params.required("UserName")?;
            let policy_name = params.required("PolicyName")?;
            engine
                .authorize_iam(principal, "iam:GetUserPolicy", &user_resource(name))
                .await?;
            let u = engine.get_user(&account, name).await?;
            let doc = groups::inline_policy(&u.inline_policies, policy_name, "user")?;
            x.leaf("UserName", &u.name)
                .leaf("PolicyName", policy_name)
                .leaf("PolicyDocument", &groups::url_encoded(doc));
        }
        "ListUserPolicies" => {
            let name = params.required("UserName")?;
            engine
                .authorize_iam(principal, "iam:ListUserPolicies", &user_resource(name))
                .await?;
            let u = engine.get_user(&account, name).await?;
            groups::write_policy_names(&mut x, &u.inline_policies, params)?;
        }
        "DeleteUserPolicy" => {
            let name = params.required("UserName")?;
            let policy_name = params.required("PolicyName")?;
            engine
                .authorize_iam(principal, "iam:DeleteUserPolicy", &user_resource(name))
                .await?;
            engine
                .delete_user_policy(&account, name, policy_name)
                .await?;
        }
        "CreateAccount" | "ListAccounts" | "DeleteAccount" => {
            if !(principal.kind == PrincipalKind::Root && account == engine.root_account().id) {
                return Err(err(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "Only the first account's root user administers accounts",
                ));
            }
            match action {
                "CreateAccount" => {
                    let (a, k) = engine
                        .create_account(params.required("AccountName")?)
                        .await?;
                    x.open("Account")
                        .leaf("AccountId", &a.id)
                        .leaf("AccountName", &a.name)
                        .leaf("CanonicalUserId", &a.canonical_id)
                        .leaf("AccessKeyId", &k.access_key_id)
                        .leaf("SecretAccessKey", &k.secret_access_key)
                        .close("Account");
                }
                "ListAccounts" => {
                    x.open("Accounts");
                    for a in engine.list_accounts().await? {
                        x.open("member")
                            .leaf("AccountId", &a.id)
                            .leaf("AccountName", &a.name)
                            .leaf("CanonicalUserId", &a.canonical_id)
                            .close("member");
                    }
                    x.close("Accounts");
                }
                _ => engine.delete_account(params.required("AccountId")?).await?,
            }
        }
        other if ENTITY_MODULES_HANDLE.iter().any(|m| m.contains(&other)) => {
            let cx = Ctx {
                engine,
                principal,
                account: &account,
            };
            handle_entity_action(&cx, other, params, &mut x).await?;
        }
        other => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!(
                    "The action {other} is not valid for this web service (or not implemented yet)."
                ),
            ));
        }
    }
    Ok(x.into_string())
}
