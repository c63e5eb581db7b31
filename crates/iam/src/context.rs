//! Who is asking and what the request carries: the [`Caller`] and the
//! condition keys of the request context.

use std::collections::BTreeMap;

use coffer_types::{Principal, PrincipalKind};

/// What kind of principal makes a request, as `aws:PrincipalType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// The root user of an account.
    Root,
    /// An IAM user.
    User,
    /// A session of an assumed IAM role (STS).
    AssumedRole,
    /// No credentials.
    Anonymous,
}

impl CallerKind {
    /// The value AWS gives `aws:PrincipalType`.
    pub fn principal_type(self) -> &'static str {
        match self {
            Self::Root => "Account",
            Self::User => "User",
            Self::AssumedRole => "AssumedRole",
            Self::Anonymous => "Anonymous",
        }
    }
}

/// The principal making a request, with what policy evaluation needs to
/// know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub kind: CallerKind,
    /// The principal's ARN: `arn:aws:iam::ACCOUNT:root`,
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`; `anonymous` for
    /// anonymous callers.
    pub arn: String,
    /// The 12-digit account id; `None` only for anonymous callers.
    pub account: Option<String>,
    /// `aws:userid`: the account id for root, the unique id (`AIDA...`) for
    /// users, `ROLEID:SESSION` for role sessions.
    pub user_id: Option<String>,
    /// `aws:username`, present for IAM users only.
    pub user_name: Option<String>,
    /// For role sessions, the role's ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
    pub role_arn: Option<String>,
    /// The S3 canonical user id of the account, matched by
    /// `{"CanonicalUser": ...}` principals.
    pub canonical_id: Option<String>,
}

impl Caller {
    pub fn anonymous() -> Self {
        Self {
            kind: CallerKind::Anonymous,
            arn: "anonymous".to_owned(),
            account: None,
            user_id: Some("anonymous".to_owned()),
            user_name: None,
            role_arn: None,
            canonical_id: None,
        }
    }

    pub fn root(account: &str) -> Self {
        Self {
            kind: CallerKind::Root,
            arn: format!("arn:aws:iam::{account}:root"),
            account: Some(account.to_owned()),
            user_id: Some(account.to_owned()),
            user_name: None,
            role_arn: None,
            canonical_id: None,
        }
    }

    /// An IAM user; `path` is the IAM path (`/` or `/division/team/`).
    pub fn user(account: &str, path: &str, name: &str, unique_id: &str) -> Self {
        Self {
            kind: CallerKind::User,
            arn: format!("arn:aws:iam::{account}:user{}{name}", normalise_path(path)),
            account: Some(account.to_owned()),
            user_id: Some(unique_id.to_owned()),
            user_name: Some(name.to_owned()),
            role_arn: None,
            canonical_id: None,
        }
    }

    /// A session of role `path`+`role_name` (unique id `role_id`) named
    /// `session`. Session ARNs do not carry the role's path; role ARNs do.
    pub fn assumed_role(
        account: &str,
        path: &str,
        role_name: &str,
        role_id: &str,
        session: &str,
    ) -> Self {
        Self {
            kind: CallerKind::AssumedRole,
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            account: Some(account.to_owned()),
            user_id: Some(format!("{role_id}:{session}")),
            user_name: None,
            role_arn: Some(format!(
                "arn:aws:iam::{account}:role{}{role_name}",
                normalise_path(path)
            )),
            canonical_id: None,
        }
    }

    pub fn with_canonical_id(mut self, canonical_id: &str) -> Self {
        self.canonical_id = Some(canonical_id.to_owned());
        self
    }

    /// The ARN `aws:PrincipalArn` reports: the role ARN for role sessions.
    pub fn principal_arn(&self) -> &str {
        self.role_arn.as_deref().unwrap_or(&self.arn)
    }
}

impl From<&Principal> for Caller {
    fn from(p: &Principal) -> Self {
        match (&p.kind, &p.account) {
            (PrincipalKind::Root, Some(a)) => Caller::root(&a.0),
            (
                PrincipalKind::User {
                    name,
                    path,
                    user_id,
                },
                Some(a),
            ) => Caller::user(&a.0, path, name, user_id),
            (
                PrincipalKind::AssumedRole {
                    role_name,
                    role_path,
                    role_id,
                    session_name,
                },
                Some(a),
            ) => Caller::assumed_role(&a.0, role_path, role_name, role_id, session_name),
            // Anything without an account acts with no identity at all.
            _ => Caller::anonymous(),
        }
    }
}

fn normalise_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

/// The condition keys of a request: each key (compared case-insensitively)
/// has one or more string values. Binary values are held base64-encoded;
/// dates as ISO 8601 or epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionContext {
    keys: BTreeMap<String, Vec<String>>,
}

impl ConditionContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys AWS derives from the principal: `aws:PrincipalType`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:userid`, and
    /// `aws:username` for IAM users.
    pub fn for_caller(caller: &Caller) -> Self {
        let mut cx = Self::new();
        cx.set("aws:PrincipalType", [caller.kind.principal_type()]);
        if caller.kind != CallerKind::Anonymous {
            cx.set("aws:PrincipalArn", [caller.principal_arn()]);
        }
        if let Some(a) = &caller.account {
            cx.set("aws:PrincipalAccount", [a.as_str()]);
        }
        if let Some(id) = &caller.user_id {
            cx.set("aws:userid", [id.as_str()]);
        }
        if let Some(name) = &caller.user_name {
            cx.set("aws:username", [name.as_str()]);
        }
        cx
    }

    /// Adds one value to `key` (a key may hold several, e.g. `aws:TagKeys`).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.keys
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }

    /// Replaces the values of `key`.
    pub fn set<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_ascii_lowercase());
    }

    /// Sets `aws:CurrentTime` (ISO 8601) and `aws:EpochTime` from Unix seconds.
    pub fn with_time(mut self, epoch_seconds: i64) -> Self {
        self.set(
            "aws:CurrentTime",
            [crate::values::format_iso8601(epoch_seconds)],
        );
        self.set("aws:EpochTime", [epoch_seconds.to_string()]);
        self
    }

    /// The values of `key`; `None` when absent. A key set to no values is
    /// treated as absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        let v = match self.keys.get(key) {
            Some(v) => v,
            None => self.keys.get(&key.to_ascii_lowercase())?,
        };
        (!v.is_empty()).then_some(v.as_slice())
    }

    /// All keys and values, keys lowercased.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}
