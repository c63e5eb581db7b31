//! Temporary credentials (STS): AssumeRole for role sessions and
//! GetSessionToken for users, and resolving such credentials back to the
//! principal they act for.
//!
//! Nothing is stored per session. The session token is the session itself
//! (who, until when, session policies and tags) sealed with the server's STS
//! key (XChaCha20-Poly1305, bound to the access key id), so only this server
//! can read or make one and a token works only with its own key id. The
//! secret of a temporary key is an HMAC of the key id under the same key: the
//! S3 layer asks for a secret before it looks at the token, and the secret
//! must not depend on it. A token is checked on every request: expiry, and
//! that its role or user still exists with the same unique id, so deleting
//! the role or user ends its sessions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_iam::{
    AuthzRequest, Caller, ConditionContext, Decision, NamedPolicy, Policy, PolicyKind,
    access_denied_message, evaluate, resource_policy_allows_caller,
};
use coffer_meta::records::RoleRecord;
use coffer_types::{AccountId, Principal, PrincipalKind, Session};
use serde::{Deserialize, Serialize};

use crate::auth::ParsedPolicies;
use crate::entities::load_user;
use crate::roles::load_role;
use crate::{Engine, EngineError, now_ms};

/// Temporary access key ids start with `ASIA`, as AWS's do.
pub const TEMPORARY_KEY_PREFIX: &str = "ASIA";
const TOKEN_PREFIX: &str = "CofferSTSv1/";
/// AWS's shortest session.
pub const MIN_DURATION_SECONDS: u32 = 900;
const DEFAULT_ROLE_SESSION: u32 = 3600;
/// Role chaining (a role session assuming a role) is capped at an hour.
const CHAINED_MAX: u32 = 3600;
const USER_SESSION_DEFAULT: u32 = 43_200;
const USER_SESSION_MAX: u32 = 129_600;
const ROOT_SESSION_MAX: u32 = 3600;
/// Inline and managed session policies share 2,048 characters, as in STS.
const PACKED_POLICY_MAX: usize = 2048;
const MAX_POLICY_ARNS: usize = 10;
const MAX_SESSION_TAGS: usize = 50;

/// A temporary access key, secret and session token.
#[derive(Clone)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TemporaryCredentials({}, ..)", self.access_key_id)
    }
}

/// What an AssumeRole request asks for.
#[derive(Debug, Clone, Default)]
pub struct SessionGrant<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration_seconds: Option<u32>,
    pub external_id: Option<&'a str>,
    /// An inline session policy.
    pub policy: Option<&'a str>,
    /// Managed policies of the role's account used as session policies.
    pub policy_arns: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// Condition keys of the request itself (`aws:SourceIp`, ...).
    pub conditions: &'a [(String, String)],
}

/// The outcome of AssumeRole.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    pub credentials: TemporaryCredentials,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    pub arn: String,
    /// `ROLEID:SESSION`
    pub assumed_role_id: String,
    /// How much of the session-policy allowance the request used, in percent.
    pub packed_policy_size: usize,
}

/// Who a session acts for, as sealed into its token.
#[derive(Debug, Serialize, Deserialize)]
enum Actor {
    Role {
        name: String,
        path: String,
        id: String,
        session: String,
    },
    User {
        name: String,
        path: String,
        id: String,
    },
    Root,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    account: String,
    actor: Actor,
    session: Session,
}

fn validation(message: impl Into<String>) -> EngineError {
    EngineError::Validation(message.into())
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME` as (account, name).
fn parse_role_arn(arn: &str) -> Result<(&str, &str), EngineError> {
    let invalid = || validation(format!("{arn} is invalid"));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    let path_and_name = resource.strip_prefix("role/").ok_or_else(invalid)?;
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    if account.is_empty() || name.is_empty() {
        return Err(invalid());
    }
    Ok((account, name))
}

/// Session names: 2 to 64 characters of `[\w+=,.@-]`.
fn check_session_name(name: &str) -> Result<(), EngineError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )))
    }
}

fn check_duration(seconds: u32, min: u32, max: u32, exceeded: &str) -> Result<(), EngineError> {
    if seconds < min {
        return Err(validation(format!(
            "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if seconds > max {
        return Err(validation(exceeded.to_owned()));
    }
    Ok(())
}

fn random_key_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let tail: String = (0..16)
        .map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())]))
        .collect();
    format!("{TEMPORARY_KEY_PREFIX}{tail}")
}

impl Engine {
    /// The secret of a temporary access key id. Any `ASIA...` id has one;
    /// only a request that also carries a token this server sealed for that
    /// id is accepted (see [`Self::resolve_session`]).
    pub fn session_secret(&self, access_key_id: &str) -> String {
        let mac = self
            .keyring()
            .sts
            .derive(format!("secret\0{access_key_id}").as_bytes());
        let mut s = B64.encode(mac);
        s.truncate(40);
        s
    }

    fn mint(&self, claims: &Claims) -> TemporaryCredentials {
        let access_key_id = random_key_id();
        // Serializing a struct of strings and numbers cannot fail.
        let json = serde_json::to_string(claims).unwrap_or_default();
        let sealed = self.keyring().sts.seal(&access_key_id, &json);
        let body = sealed.strip_prefix("sealed:v1:").unwrap_or(&sealed);
        TemporaryCredentials {
            secret_access_key: self.session_secret(&access_key_id),
            session_token: format!("{TOKEN_PREFIX}{body}"),
            access_key_id,
            expires_ms: claims.session.expires_ms,
        }
    }

    /// The secret and principal of temporary credentials, after checking the
    /// token, its expiry, and that its role or user still exists.
    pub async fn resolve_session(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> Result<(String, Principal), EngineError> {
        let body = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(EngineError::InvalidToken)?;
        let json = self
            .keyring()
            .sts
            .open(access_key_id, &format!("sealed:v1:{body}"))
            .map_err(|_| EngineError::InvalidToken)?;
        let claims: Claims = serde_json::from_str(&json).map_err(|_| EngineError::InvalidToken)?;
        if now_ms() >= claims.session.expires_ms {
            return Err(EngineError::ExpiredToken);
        }
        let account = claims.account.clone();
        let kind = match claims.actor {
            Actor::Role {
                name,
                path,
                id,
                session,
            } => {
                let (acct, n) = (account.clone(), name.clone());
                let role = self.meta().read(move |tx| load_role(tx, &acct, &n)).await;
                if !role.is_ok_and(|r| r.role_id == id) {
                    return Err(EngineError::InvalidToken);
                }
                PrincipalKind::AssumedRole {
                    role_name: name,
                    role_path: path,
                    role_id: id,
                    session_name: session,
                }
            }
            Actor::User { name, path, id } => {
                let (acct, n) = (account.clone(), name.clone());
                let user = self.meta().read(move |tx| load_user(tx, &acct, &n)).await;
                if !user.is_ok_and(|u| u.user_id == id) {
                    return Err(EngineError::InvalidToken);
                }
                PrincipalKind::User {
                    name,
                    path,
                    user_id: id,
                }
            }
            Actor::Root => {
                self.account(&account)
                    .await
                    .map_err(|_| EngineError::InvalidToken)?;
                PrincipalKind::Root
            }
        };
        let principal = Principal {
            kind,
            account: Some(AccountId(account)),
            access_key: Some(access_key_id.to_owned()),
            session: Some(Box::new(claims.session)),
        };
        Ok((self.session_secret(access_key_id), principal))
    }

    /// STS AssumeRole: temporary credentials for a session of a role, when
    /// the role's trust policy names the caller and the caller's own
    /// policies allow `sts:AssumeRole` on the role (as AWS evaluates it: a
    /// trust policy naming the caller directly is enough within one account).
    pub async fn assume_role(
        &self,
        caller: &Principal,
        grant: SessionGrant<'_>,
    ) -> Result<AssumedRole, EngineError> {
        if caller.kind == PrincipalKind::Root {
            return Err(EngineError::AccessDenied(
                "Roles may not be assumed by root accounts.".into(),
            ));
        }
        check_session_name(grant.session_name)?;
        let (role_account, role_name) = parse_role_arn(grant.role_arn)?;
        let (acct, n) = (role_account.to_owned(), role_name.to_owned());
        let role = self.meta().read(move |tx| load_role(tx, &acct, &n)).await;
        let caller_view = Caller::from(caller);
        let denied = || {
            EngineError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller_view.arn, grant.role_arn
            ))
        };
        // A role that does not exist is refused like one that may not be
        // assumed, so role names do not leak across accounts.
        let role = match role {
            Ok(r) if r.arn(role_account) == grant.role_arn => r,
            Ok(_) | Err(EngineError::NoSuchEntity(_)) => return Err(denied()),
            Err(e) => return Err(e),
        };
        let chained = matches!(caller.kind, PrincipalKind::AssumedRole { .. });
        let duration = grant.duration_seconds.unwrap_or(DEFAULT_ROLE_SESSION);
        let (max, exceeded) = if chained {
            (
                CHAINED_MAX.min(role.max_session_duration),
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            )
        } else {
            (
                role.max_session_duration,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            )
        };
        check_duration(duration, self.sts_min_duration(), max, exceeded)?;
        let packed_policy_size = self.check_session_policies(role_account, &grant).await?;

        let mut context = ConditionContext::for_caller(&caller_view).with_time(now_ms() / 1000);
        for (k, v) in grant.conditions {
            context.insert(k, v.clone());
        }
        context.insert("sts:RoleSessionName", grant.session_name);
        if let Some(id) = grant.external_id {
            context.insert("sts:ExternalId", id);
        }
        for (k, v) in &grant.tags {
            context.insert(&format!("aws:RequestTag/{k}"), v.clone());
            context.insert("aws:TagKeys", k.clone());
        }
        let mut actions_needed = vec!["sts:AssumeRole"];
        if !grant.tags.is_empty() {
            actions_needed.push("sts:TagSession");
        }
        for action in actions_needed {
            if !self
                .trusts(caller, &role, role_account, action, &context)
                .await?
            {
                return Err(denied());
            }
        }

        let session_name = grant.session_name.to_owned();
        let claims = Claims {
            account: role_account.to_owned(),
            actor: Actor::Role {
                name: role.name.clone(),
                path: role.path.clone(),
                id: role.role_id.clone(),
                session: session_name.clone(),
            },
            session: Session {
                expires_ms: now_ms() + i64::from(duration) * 1000,
                policy: grant.policy.map(str::to_owned),
                policy_arns: grant.policy_arns.clone(),
                tags: grant.tags.clone(),
            },
        };
        Ok(AssumedRole {
            credentials: self.mint(&claims),
            arn: format!(
                "arn:aws:sts::{role_account}:assumed-role/{}/{session_name}",
                role.name
            ),
            assumed_role_id: format!("{}:{session_name}", role.role_id),
            packed_policy_size,
        })
    }

    /// Whether `caller` may take `action` (sts:AssumeRole, sts:TagSession) on
    /// `role`: the trust policy must name the caller, and AWS's evaluation of
    /// the caller's policies with the trust policy as the resource policy
    /// must allow.
    async fn trusts(
        &self,
        caller: &Principal,
        role: &RoleRecord,
        role_account: &str,
        action: &str,
        context: &ConditionContext,
    ) -> Result<bool, EngineError> {
        let Ok(trust) = Policy::parse_for(&role.trust_policy, PolicyKind::Trust) else {
            tracing::error!(role = %role.name, "stored trust policy does not parse");
            return Ok(false);
        };
        let mut caller_view = Caller::from(caller);
        if let Some(a) = &caller.account {
            caller_view = caller_view.with_canonical_id(&self.account(&a.0).await?.canonical_id);
        }
        let policies = self.principal_policies(caller).await?;
        let mut context = context.clone();
        policies.add_principal_keys(&mut context);
        let identity = ParsedPolicies::parse(&policies.identity);
        let named = identity.named();
        let session = policies.session.as_deref().map(ParsedPolicies::parse);
        let session_named = session.as_ref().map(ParsedPolicies::named);
        let resource = role.arn(role_account);
        let request = AuthzRequest {
            caller: &caller_view,
            action,
            resource: &resource,
            resource_owner: Some(role_account),
            context: &context,
            identity_policies: &named,
            resource_policy: Some(NamedPolicy {
                id: "trust-policy",
                policy: &trust,
            }),
            session_policies: session_named.as_deref(),
            acl: None,
        };
        let eval = evaluate(&request);
        let allowed = eval.decision == Decision::Allow && resource_policy_allows_caller(&request);
        if !allowed {
            tracing::debug!(
                reason = %access_denied_message(&caller_view, action, &resource, &eval),
                "assume role refused"
            );
        }
        Ok(allowed)
    }

    /// Checks the session policies and tags of an AssumeRole request and
    /// returns how much of the packed allowance they use, in percent.
    async fn check_session_policies(
        &self,
        role_account: &str,
        grant: &SessionGrant<'_>,
    ) -> Result<usize, EngineError> {
        if let Some(p) = grant.policy {
            if p.len() > PACKED_POLICY_MAX {
                return Err(validation(format!(
                    "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {PACKED_POLICY_MAX}"
                )));
            }
            Policy::parse_for(p, PolicyKind::Identity)
                .map_err(|e| EngineError::MalformedPolicyDocument(e.to_string()))?;
        }
        if grant.policy_arns.len() > MAX_POLICY_ARNS {
            return Err(validation(format!(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}"
            )));
        }
        let (acct, arns) = (role_account.to_owned(), grant.policy_arns.clone());
        self.meta()
            .read(move |tx| -> Result<(), EngineError> {
                for arn in &arns {
                    crate::managed_policies::load_policy(tx, &acct, arn).map_err(|_| {
                        validation(format!(
                            "The policy {arn} does not exist or is not attachable."
                        ))
                    })?;
                }
                Ok(())
            })
            .await?;
        if grant.tags.len() > MAX_SESSION_TAGS {
            return Err(validation(format!(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}"
            )));
        }
        crate::user_admin::check_tags(&grant.tags).map_err(|e| validation(e.to_string()))?;
        let packed: usize = grant
            .policy
            .map_or(0, |p| p.chars().filter(|c| !c.is_whitespace()).count())
            + grant.policy_arns.iter().map(String::len).sum::<usize>()
            + grant
                .tags
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        let percent = packed * 100 / PACKED_POLICY_MAX;
        if percent > 100 {
            return Err(EngineError::PackedPolicyTooLarge(format!(
                "Packed size of session policies and tags is {percent}% of the allowed size"
            )));
        }
        Ok(percent)
    }

    /// STS GetSessionToken: temporary credentials for an IAM user or an
    /// account's root user, with the caller's own permissions. As on AWS it
    /// needs no permission: the credentials can do no more than the caller.
    pub async fn get_session_token(
        &self,
        caller: &Principal,
        duration_seconds: Option<u32>,
    ) -> Result<TemporaryCredentials, EngineError> {
        if caller.is_temporary() {
            return Err(EngineError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            ));
        }
        let account = caller
            .account
            .as_ref()
            .ok_or_else(|| EngineError::AccessDenied("Anonymous callers cannot".into()))?;
        let (actor, default, max) = match &caller.kind {
            PrincipalKind::User {
                name,
                path,
                user_id,
            } => (
                Actor::User {
                    name: name.clone(),
                    path: path.clone(),
                    id: user_id.clone(),
                },
                USER_SESSION_DEFAULT,
                USER_SESSION_MAX,
            ),
            PrincipalKind::Root => (Actor::Root, ROOT_SESSION_MAX, ROOT_SESSION_MAX),
            _ => {
                return Err(EngineError::AccessDenied(
                    "Only IAM users and root users can call GetSessionToken".into(),
                ));
            }
        };
        let duration = duration_seconds.unwrap_or(default);
        check_duration(
            duration,
            self.sts_min_duration(),
            max,
            &format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
            ),
        )?;
        Ok(self.mint(&Claims {
            account: account.0.clone(),
            actor,
            session: Session {
                expires_ms: now_ms() + i64::from(duration) * 1000,
                ..Session::default()
            },
        }))
    }
}

/// Whether an access key id is a temporary one.
pub fn is_temporary_key(access_key_id: &str) -> bool {
    access_key_id.starts_with(TEMPORARY_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::harness;
    use coffer_iam::CallerKind;

    const S3_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    /// A user `alice` and a role `app` whose trust policy names her.
    async fn user_and_role(h: &crate::tests::Harness) -> (Principal, String) {
        let u = h
            .engine
            .create_user(&h.account, "alice", None)
            .await
            .unwrap();
        let alice = Principal::user(
            AccountId(h.account.clone()),
            "AKALICE".into(),
            u.name,
            u.path,
            u.user_id,
        );
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#,
            h.account
        );
        let role = h
            .engine
            .create_role(
                &h.account,
                "app",
                crate::NewRole {
                    trust_policy: &trust,
                    ..crate::NewRole::default()
                },
            )
            .await
            .unwrap();
        h.engine
            .put_role_policy(&h.account, "app", "s3", S3_ALL)
            .await
            .unwrap();
        (alice, role.arn(&h.account))
    }

    fn grant(role_arn: &str) -> SessionGrant<'_> {
        SessionGrant {
            role_arn,
            session_name: "job",
            ..SessionGrant::default()
        }
    }

    #[tokio::test]
    async fn tokens_resolve_only_with_their_own_key_and_until_expiry() {
        let h = harness().await;
        let (alice, arn) = user_and_role(&h).await;
        let a = h.engine.assume_role(&alice, grant(&arn)).await.unwrap();
        let c = &a.credentials;
        assert!(c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20);
        assert_eq!(c.secret_access_key.len(), 40);
        assert_eq!(
            c.secret_access_key,
            h.engine.session_secret(&c.access_key_id)
        );
        let (secret, p) = h
            .engine
            .resolve_session(&c.access_key_id, &c.session_token)
            .await
            .unwrap();
        assert_eq!(secret, c.secret_access_key);
        assert_eq!(
            p.arn(),
            format!("arn:aws:sts::{}:assumed-role/app/job", h.account)
        );
        assert!(p.is_temporary());

        // Bound to its key id: another session's token does not fit.
        let b = h.engine.assume_role(&alice, grant(&arn)).await.unwrap();
        assert!(matches!(
            h.engine
                .resolve_session(&c.access_key_id, &b.credentials.session_token)
                .await,
            Err(EngineError::InvalidToken)
        ));
        // Any change to the sealed token is detected.
        let mut bytes = c.session_token.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            h.engine.resolve_session(&c.access_key_id, &tampered).await,
            Err(EngineError::InvalidToken)
        ));
        assert!(matches!(
            h.engine.resolve_session(&c.access_key_id, "garbage").await,
            Err(EngineError::InvalidToken)
        ));

        // Expired credentials (minted directly with a past expiry).
        let expired = h.engine.mint(&Claims {
            account: h.account.clone(),
            actor: Actor::Root,
            session: Session {
                expires_ms: now_ms() - 1,
                ..Session::default()
            },
        });
        assert!(matches!(
            h.engine
                .resolve_session(&expired.access_key_id, &expired.session_token)
                .await,
            Err(EngineError::ExpiredToken)
        ));
    }

    #[tokio::test]
    async fn role_sessions_get_the_role_permissions_and_end_with_the_role() {
        let h = harness().await;
        h.engine.create_bucket(&h.root, "bkt", None).await.unwrap();
        let (alice, arn) = user_and_role(&h).await;
        let a = h.engine.assume_role(&alice, grant(&arn)).await.unwrap();
        let (_, session) = h
            .engine
            .resolve_session(&a.credentials.access_key_id, &a.credentials.session_token)
            .await
            .unwrap();
        let list = crate::AccessRequest {
            operation: "ListObjectsV2",
            bucket: Some("bkt"),
            key: None,
            version_id: None,
            conditions: &[],
        };
        h.engine.authorize(&session, list).await.unwrap();
        assert!(matches!(
            h.engine.authorize(&alice, list).await,
            Err(EngineError::AccessDenied(_))
        ));

        // Chained sessions are capped at an hour.
        let chained = h
            .engine
            .assume_role(
                &session,
                SessionGrant {
                    duration_seconds: Some(7200),
                    ..grant(&arn)
                },
            )
            .await;
        assert!(matches!(chained, Err(EngineError::Validation(_))));

        h.engine
            .delete_role_policy(&h.account, "app", "s3")
            .await
            .unwrap();
        h.engine.delete_role(&h.account, "app").await.unwrap();
        assert!(matches!(
            h.engine
                .resolve_session(&a.credentials.access_key_id, &a.credentials.session_token)
                .await,
            Err(EngineError::InvalidToken)
        ));
    }

    #[test]
    fn role_arns_parse_to_account_and_name() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/app").unwrap(),
            ("123456789012", "app")
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/team/a/app").unwrap(),
            ("123456789012", "app")
        );
        for bad in [
            "arn:aws:iam::123456789012:user/app",
            "arn:aws:iam:::role/app",
            "arn:aws:iam::123456789012:role/",
            "app",
        ] {
            assert!(parse_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names_follow_sts_rules() {
        assert!(check_session_name("ci-job_42@example.com").is_ok());
        assert!(check_session_name("a").is_err());
        assert!(check_session_name(&"x".repeat(65)).is_err());
        assert!(check_session_name("has space").is_err());
        assert!(check_session_name("slash/no").is_err());
    }

    #[test]
    fn caller_kind_of_a_role_session_is_assumed_role() {
        let p = Principal {
            kind: PrincipalKind::AssumedRole {
                role_name: "app".into(),
                role_path: "/team/".into(),
                role_id: "AROAEXAMPLE".into(),
                session_name: "s1".into(),
            },
            account: Some(AccountId("123456789012".into())),
            access_key: Some("ASIAEXAMPLE".into()),
            session: Some(Box::default()),
        };
        let c = Caller::from(&p);
        assert_eq!(c.kind, CallerKind::AssumedRole);
        assert_eq!(c.arn, "arn:aws:sts::123456789012:assumed-role/app/s1");
        assert_eq!(
            c.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/team/app")
        );
        assert_eq!(p.arn(), c.arn);
        assert_eq!(p.user_id(), "AROAEXAMPLE:s1");
    }
}
