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
//!     identity_policies: &policies, resource_policy: None, session_policies: None, acl: None,
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
    AclReach, AuthzRequest, Evaluation, MatchedStatement, NamedPolicy, PolicySource,
    access_denied_message, evaluate, resource_policy_allows_caller,
};
pub use matcher::{Case, Pattern, wildcard_match};
pub use policy::{
    ActionSet, Effect, Policy, PolicyError, PolicyKind, PolicySizeLimit, PrincipalEntry,
    PrincipalSet, ResourceSet, Statement,
};

/// The outcome of evaluating a request, as AWS distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No policy allowed the action.
    ImplicitDeny,
    /// A policy explicitly denied the action.
    ExplicitDeny,
}
