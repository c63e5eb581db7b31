//! Table-driven tests of the policy engine, one file per concern, in the
//! library's own test binary (linking is the slow step on small machines).

mod conditions;
mod evaluation;
mod matcher;
mod parsing;
mod properties;
mod variables;

use crate::{Condition, ConditionContext, Policy};

/// Parses a policy the test knows to be valid.
pub fn policy(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|e| panic!("policy should parse: {e}\n{json}"))
}

/// A context from `(key, values)` pairs.
pub fn context(pairs: &[(&str, &[&str])]) -> ConditionContext {
    let mut cx = ConditionContext::new();
    for (k, vs) in pairs {
        cx.set(k, vs.iter().copied());
    }
    cx
}

/// Parses a `Condition` block (variables enabled, as in 2012-10-17).
pub fn condition(json: &str) -> Condition {
    let v: serde_json::Value = serde_json::from_str(json).expect("test JSON");
    Condition::parse(&v, true).unwrap_or_else(|e| panic!("condition should parse: {e}\n{json}"))
}

/// Evaluates a request with identity policies named `identity-N` and an
/// optional bucket policy named `bucket-policy`.
pub fn decide(
    caller: &crate::Caller,
    action: &str,
    resource: &str,
    owner: Option<&str>,
    cx: &ConditionContext,
    identity: &[&Policy],
    bucket: Option<&Policy>,
) -> crate::Evaluation {
    let names: Vec<String> = (0..identity.len())
        .map(|i| format!("identity-{i}"))
        .collect();
    let named: Vec<crate::NamedPolicy<'_>> = identity
        .iter()
        .zip(&names)
        .map(|(p, id)| crate::NamedPolicy { id, policy: p })
        .collect();
    crate::evaluate(&crate::AuthzRequest {
        caller,
        action,
        resource,
        resource_owner: owner,
        context: cx,
        identity_policies: &named,
        resource_policy: bucket.map(|p| crate::NamedPolicy {
            id: "bucket-policy",
            policy: p,
        }),
        session_policies: None,
        acl: None,
    })
}
