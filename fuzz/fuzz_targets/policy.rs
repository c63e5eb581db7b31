//! The policy language: parsing any text for each use, then evaluating what
//! parses against fuzzed requests. Nothing may panic, and an explicit
//! `Deny` of everything always wins, whatever the fuzzed policy says.
#![no_main]

use arbitrary::Arbitrary;
use coffer_iam::{
    AuthzRequest, Caller, ConditionContext, Decision, NamedPolicy, Policy, PolicyKind, evaluate,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    policy: &'a str,
    kind: u8,
    caller: u8,
    action: &'a str,
    resource: &'a str,
    owner: Option<&'a str>,
    context: Vec<(&'a str, &'a str)>,
}

/// The parts of a request that stay the same across evaluations.
struct Base<'a> {
    caller: &'a Caller,
    action: &'a str,
    resource: &'a str,
    owner: Option<&'a str>,
    context: &'a ConditionContext,
}

impl<'a> Base<'a> {
    fn request(
        &self,
        identity: &'a [NamedPolicy<'a>],
        resource_policy: Option<NamedPolicy<'a>>,
    ) -> AuthzRequest<'a> {
        AuthzRequest {
            caller: self.caller,
            action: self.action,
            resource: self.resource,
            resource_owner: self.owner,
            context: self.context,
            identity_policies: identity,
            resource_policy,
            session_policies: None,
            acl: None,
        }
    }
}

const DENY_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

fuzz_target!(|input: Input<'_>| {
    let kind = match input.kind % 3 {
        0 => PolicyKind::Identity,
        1 => PolicyKind::Resource,
        _ => PolicyKind::Trust,
    };
    let _ = Policy::parse(input.policy);
    let Ok(policy) = Policy::parse_for(input.policy, kind) else {
        return;
    };
    let caller = match input.caller % 4 {
        0 => Caller::user("111122223333", "/", "alice", "AIDAEXAMPLE"),
        1 => Caller::user("444455556666", "/team/", "bob", "AIDAOTHER"),
        2 => Caller::root("111122223333"),
        _ => Caller::anonymous(),
    };
    let mut context = ConditionContext::for_caller(&caller);
    for (k, v) in input.context.iter().take(16) {
        context.insert(k, *v);
    }
    let fuzzed = NamedPolicy {
        id: "fuzzed",
        policy: &policy,
    };
    let identity = [fuzzed];
    let base = Base {
        caller: &caller,
        action: input.action,
        resource: input.resource,
        owner: input.owner,
        context: &context,
    };
    let request = |identity, resource_policy| base.request(identity, resource_policy);
    let _ = evaluate(&request(&identity, None));
    let _ = evaluate(&request(&[], Some(fuzzed)));
    let _ = evaluate(&AuthzRequest {
        session_policies: Some(&identity),
        ..request(&identity, Some(fuzzed))
    });
    // A user denied everything by an identity policy is denied, whatever
    // the fuzzed policy allows as identity or resource policy.
    if matches!(input.caller % 4, 0 | 1) {
        let deny = Policy::parse_for(DENY_ALL, PolicyKind::Identity).unwrap();
        let both = [
            NamedPolicy {
                id: "deny",
                policy: &deny,
            },
            fuzzed,
        ];
        let eval = evaluate(&request(&both, Some(fuzzed)));
        assert_eq!(eval.decision, Decision::ExplicitDeny, "{eval:?}");
    }
});
