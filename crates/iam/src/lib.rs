//! Authorization: who may do what to which resource.
//!
//! This crate is pure: it takes a principal, an action, a resource ARN and a
//! request context, and returns a [`Decision`]. It never does I/O; callers pass
//! in everything (policies, once the IAM issue lands; the resource owner now).
//!
//! The one table that maps S3 operations to IAM actions and resources lives in
//! [`actions`], so every layer agrees on what an operation needs.

pub mod actions;

use coffer_types::{AccountId, Principal, PrincipalKind};

/// The outcome of evaluating a request, as AWS distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No policy allowed the action.
    ImplicitDeny,
    /// A policy explicitly denied the action.
    ExplicitDeny,
}

/// What the evaluator knows about the request beyond principal, action and
/// resource.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The account that owns the resource (the bucket's owner), when the
    /// resource exists. `None` for service-level actions such as
    /// `s3:ListAllMyBuckets` and for buckets that do not exist yet.
    pub resource_owner: Option<AccountId>,
}

/// Decides whether `principal` may perform `action` on `resource`.
///
/// A root user is all-powerful within its own account, and may act on
/// resources that belong to no account yet (creating a bucket, listing its own
/// buckets). Anonymous callers are denied: public access arrives with bucket
/// policies and ACLs.
pub fn authorize(
    principal: &Principal,
    action: &str,
    resource: &str,
    context: &RequestContext,
) -> Decision {
    let _ = (action, resource);
    match principal.kind {
        PrincipalKind::Anonymous => Decision::ImplicitDeny,
        PrincipalKind::Root => match (&context.resource_owner, &principal.account) {
            (None, Some(_)) => Decision::Allow,
            (Some(owner), Some(mine)) if owner == mine => Decision::Allow,
            _ => Decision::ImplicitDeny,
        },
    }
}

/// The message AWS gives with an AccessDenied, naming the principal, the
/// action, the resource and what decided it.
pub fn denial_message(
    principal: &Principal,
    action: &str,
    resource: &str,
    decision: Decision,
) -> String {
    if principal.kind == PrincipalKind::Anonymous {
        return format!(
            "Anonymous users are not authorized to perform: {action} on resource: \"{resource}\" because no resource-based policy allows the {action} action"
        );
    }
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in a policy".to_owned(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    format!(
        "User: {} is not authorized to perform: {action} on resource: \"{resource}\" {why}",
        principal.arn()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(a: &str) -> Principal {
        Principal::root(AccountId(a.into()), "AK".into())
    }

    #[test]
    fn root_is_all_powerful_in_its_own_account_only() {
        let own = RequestContext {
            resource_owner: Some(AccountId("111111111111".into())),
        };
        assert_eq!(
            authorize(
                &root("111111111111"),
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &own
            ),
            Decision::Allow
        );
        assert_eq!(
            authorize(
                &root("222222222222"),
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &own
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn anonymous_is_denied_by_default() {
        let cx = RequestContext::default();
        assert_eq!(
            authorize(&Principal::anonymous(), "s3:ListAllMyBuckets", "*", &cx),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn denial_message_names_principal_action_resource() {
        let m = denial_message(
            &root("111111111111"),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Decision::ImplicitDeny,
        );
        assert!(m.contains("arn:aws:iam::111111111111:root"));
        assert!(m.contains("s3:GetObject"));
        assert!(m.contains("arn:aws:s3:::b/k"));
    }
}
