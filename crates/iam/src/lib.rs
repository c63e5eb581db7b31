//! Authorization: who may do what to which resource.
//!
//! This crate is pure: it takes a caller, an action, a resource ARN, the
//! request's condition keys and the policies that apply, and returns a
//! [`Decision`] with the statements that made it. It never does I/O;
//! callers load policies and pass them in.
//!
//! - [`policy`]: the IAM policy language (Version 2012-10-17): parsing from
//!   JSON with messages fit for `MalformedPolicyDocument`, validation per
//!   use (identity, resource, trust), and AWS's size quotas.
//! - [`matcher`]: `*`/`?` wildcards (actions case-insensitive, ARNs not).
//! - [`condition`]: every condition operator, `...IfExists`,
//!   `ForAnyValue:`/`ForAllValues:`.
//! - [`variables`]: `${aws:username}` and the other policy variables.
//! - [`evaluate`]: AWS's evaluation logic, same-account and cross-account.
//! - [`actions`]: the one table mapping S3 operations to IAM actions and
//!   resources, so every layer agrees on what an operation needs.
//!
//! Invariants:
//! - an applicable explicit `Deny` always wins, whoever the caller is;
//! - without an applicable `Allow` the answer is a deny (fail closed): a
//!   statement whose variable cannot be resolved, or whose condition value
//!   has the wrong type, simply does not apply;
//! - anonymous callers are allowed only by a resource policy naming `"*"`.
//!
//! ```
//! use coffer_iam::{evaluate, AuthzRequest, Caller, ConditionContext, Decision, NamedPolicy, Policy, PolicyKind};
//! let policy = Policy::parse_for(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::docs/*"}}"#, PolicyKind::Identity).unwrap();
//! let alice = Caller::user("111122223333", "/", "alice", "AIDAEXAMPLE");
//! let cx = ConditionContext::for_caller(&alice);
//! let policies = [NamedPolicy { id: "docs-access", policy: &policy }];
//! let eval = evaluate(&AuthzRequest {
//!     caller: &alice, action: "s3:GetObject", resource: "arn:aws:s3:::docs/a.txt",
//!     resource_owner: Some("111122223333"), context: &cx,
//!     identity_policies: &policies, resource_policy: None,
//! });
//! assert_eq!(eval.decision, Decision::Allow);
//! ```

pub mod actions;
pub mod condition;
pub mod context;
pub mod evaluate;
pub mod matcher;
pub mod policy;
pub mod values;
pub mod variables;

#[cfg(test)]
mod table_tests;

pub use condition::{BaseOperator, Condition, ConditionClause, Operator, SetQualifier};
pub use context::{Caller, CallerKind, ConditionContext};
pub use evaluate::{
    AuthzRequest, Evaluation, MatchedStatement, NamedPolicy, PolicySource, access_denied_message,
    evaluate,
};
pub use matcher::{Case, Pattern, wildcard_match};
pub use policy::{
    ActionSet, Effect, Policy, PolicyError, PolicyKind, PolicySizeLimit, PrincipalEntry,
    PrincipalSet, ResourceSet, Statement,
};

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
    let caller = Caller::from(principal);
    let owner = context.resource_owner.as_ref().map(|a| a.0.as_str());
    let cx = ConditionContext::for_caller(&caller);
    evaluate(&AuthzRequest {
        caller: &caller,
        action,
        resource,
        resource_owner: owner,
        context: &cx,
        identity_policies: &[],
        resource_policy: None,
    })
    .decision
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
