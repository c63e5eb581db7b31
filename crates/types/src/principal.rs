//! Who is making a request.

use serde::{Deserialize, Serialize};

/// A 12-digit AWS-style account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountId(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The root user of an account: all-powerful within it.
    Root,
    /// An IAM user of an account: may do what its policies allow.
    User {
        name: String,
        /// `/` or `/division/team/`.
        path: String,
        /// The stable `AIDA...` id (`aws:userid`).
        user_id: String,
    },
    /// A session of an IAM role, made by STS AssumeRole.
    AssumedRole {
        role_name: String,
        /// The role's IAM path (`/` or `/division/team/`).
        role_path: String,
        /// The role's stable `AROA...` id.
        role_id: String,
        session_name: String,
    },
    /// No credentials at all.
    Anonymous,
}

/// What temporary credentials (STS) carry besides who they act for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// When the credentials stop working, in milliseconds since the epoch.
    pub expires_ms: i64,
    /// An inline session policy, which narrows the permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Managed policies used as session policies, by ARN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags (`aws:PrincipalTag/KEY`), which override the role's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

impl Session {
    /// Whether session policies narrow what the session may do.
    pub fn has_policies(&self) -> bool {
        self.policy.is_some() || !self.policy_arns.is_empty()
    }
}

/// The authenticated caller, as produced by authentication and consumed by
/// authorization. Operations never look at signatures, only at this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The caller's account; `None` for anonymous callers.
    pub account: Option<AccountId>,
    /// The access key that signed the request, when there is one.
    pub access_key: Option<String>,
    /// Set when that key is a temporary one (STS).
    pub session: Option<Box<Session>>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            account: None,
            access_key: None,
            session: None,
        }
    }

    pub fn root(account: AccountId, access_key: String) -> Self {
        Self {
            kind: PrincipalKind::Root,
            account: Some(account),
            access_key: Some(access_key),
            session: None,
        }
    }

    pub fn user(
        account: AccountId,
        access_key: String,
        name: String,
        path: String,
        user_id: String,
    ) -> Self {
        Self {
            kind: PrincipalKind::User {
                name,
                path,
                user_id,
            },
            account: Some(account),
            access_key: Some(access_key),
            session: None,
        }
    }

    /// Whether the request is signed with temporary credentials.
    pub fn is_temporary(&self) -> bool {
        self.session.is_some()
    }

    /// `aws:userid`: the account id for root, the unique id for users,
    /// `ROLEID:SESSION` for role sessions.
    pub fn user_id(&self) -> String {
        match (&self.kind, &self.account) {
            (PrincipalKind::Root, Some(a)) => a.0.clone(),
            (PrincipalKind::User { user_id, .. }, _) => user_id.clone(),
            (
                PrincipalKind::AssumedRole {
                    role_id,
                    session_name,
                    ..
                },
                _,
            ) => format!("{role_id}:{session_name}"),
            _ => "anonymous".to_owned(),
        }
    }

    /// The ARN AWS would name this principal by.
    pub fn arn(&self) -> String {
        match (&self.kind, &self.account) {
            (PrincipalKind::Root, Some(a)) => format!("arn:aws:iam::{}:root", a.0),
            (PrincipalKind::User { name, path, .. }, Some(a)) => {
                format!("arn:aws:iam::{}:user{path}{name}", a.0)
            }
            (
                PrincipalKind::AssumedRole {
                    role_name,
                    session_name,
                    ..
                },
                Some(a),
            ) => format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                a.0
            ),
            _ => "anonymous".to_owned(),
        }
    }
}
