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
    /// No credentials at all.
    Anonymous,
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
}

impl Principal {
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            account: None,
            access_key: None,
        }
    }

    pub fn root(account: AccountId, access_key: String) -> Self {
        Self {
            kind: PrincipalKind::Root,
            account: Some(account),
            access_key: Some(access_key),
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
        }
    }

    /// The ARN AWS would name this principal by.
    pub fn arn(&self) -> String {
        match (&self.kind, &self.account) {
            (PrincipalKind::Root, Some(a)) => format!("arn:aws:iam::{}:root", a.0),
            (PrincipalKind::User { name, path, .. }, Some(a)) => {
                format!("arn:aws:iam::{}:user{path}{name}", a.0)
            }
            _ => "anonymous".to_owned(),
        }
    }
}
