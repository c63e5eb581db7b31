//! Properties of the decision over randomly assembled policy sets.

use proptest::prelude::*;

use super::{context, decide, policy};
use crate::{Caller, ConditionContext, Decision, Effect, Policy};

const OWNER: &str = "111122223333";

const ACTIONS: &[&str] = &[
    "s3:*",
    "s3:GetObject",
    "s3:Get*",
    "s3:PutObject",
    "*",
    "s3:ListBucket",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/home/${aws:username}/*",
    "arn:aws:s3:::c/*",
];
const PRINCIPALS: &[&str] = &[
    r#""Principal":"*""#,
    r#""Principal":{"AWS":"111122223333"}"#,
    r#""Principal":{"AWS":"444455556666"}"#,
    r#""Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
    r#""Principal":{"AWS":"arn:aws:iam::444455556666:user/eve"}"#,
    r#""NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]}"#,
];
const CONDITIONS: &[&str] = &[
    "",
    r#","Condition":{"Bool":{"aws:SecureTransport":"true"}}"#,
    r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#","Condition":{"StringNotEquals":{"aws:username":"alice"}}"#,
    r#","Condition":{"ForAnyValue:StringLike":{"s3:prefix":["home/*"]}}"#,
];
const REQUEST_ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:ListBucket"];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/home/alice/x",
    "arn:aws:s3:::c/k",
];

#[derive(Debug, Clone)]
struct Spec {
    allow: bool,
    action: usize,
    resource: usize,
    principal: usize,
    condition: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..PRINCIPALS.len(),
        0..CONDITIONS.len(),
    )
        .prop_map(|(allow, action, resource, principal, condition)| Spec {
            allow,
            action,
            resource,
            principal,
            condition,
        })
}

fn build(specs: &[Spec], with_principal: bool) -> Policy {
    let statements: Vec<String> = specs
        .iter()
        .map(|s| {
            let principal = if with_principal {
                format!("{},", PRINCIPALS[s.principal])
            } else {
                String::new()
            };
            format!(
                r#"{{"Effect":"{}",{principal}"Action":"{}","Resource":"{}"{}}}"#,
                if s.allow { "Allow" } else { "Deny" },
                ACTIONS[s.action],
                RESOURCES[s.resource],
                CONDITIONS[s.condition]
            )
        })
        .collect();
    let mut p = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:Nothing","Resource":"*"}}{}{}]}}"#,
        if statements.is_empty() { "" } else { "," },
        statements.join(",")
    ));
    // The placeholder keeps the list non-empty for parsing; drop it.
    p.statements.remove(0);
    p
}

fn callers() -> Vec<Caller> {
    vec![
        Caller::user(OWNER, "/", "alice", "AIDAALICE"),
        Caller::user(OWNER, "/", "bob", "AIDABOB"),
        Caller::root(OWNER),
        Caller::user("444455556666", "/", "eve", "AIDAEVE"),
        Caller::root("444455556666"),
        Caller::anonymous(),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    identity: Vec<Spec>,
    bucket: Option<Vec<Spec>>,
    caller: usize,
    action: usize,
    resource: usize,
    secure: bool,
    internal_ip: bool,
    prefix: bool,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(spec(), 0..5),
        prop::option::of(prop::collection::vec(spec(), 0..5)),
        0..6usize,
        0..REQUEST_ACTIONS.len(),
        0..REQUEST_RESOURCES.len(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(identity, bucket, caller, action, resource, secure, internal_ip, prefix)| Scenario {
                identity,
                bucket,
                caller,
                action,
                resource,
                secure,
                internal_ip,
                prefix,
            },
        )
}

impl Scenario {
    fn caller(&self) -> Caller {
        callers().swap_remove(self.caller)
    }

    fn context(&self, caller: &Caller) -> ConditionContext {
        let mut cx = ConditionContext::for_caller(caller);
        for (k, v) in context(&[
            (
                "aws:SecureTransport",
                &[if self.secure { "true" } else { "false" }],
            ),
            (
                "aws:SourceIp",
                &[if self.internal_ip {
                    "10.1.2.3"
                } else {
                    "198.51.100.7"
                }],
            ),
        ])
        .iter()
        {
            cx.set(k, v.iter().cloned());
        }
        if self.prefix {
            cx.insert("s3:prefix", "home/alice/");
        }
        cx
    }

    fn decide(&self, identity: &Policy, bucket: Option<&Policy>) -> Decision {
        let caller = self.caller();
        let cx = self.context(&caller);
        decide(
            &caller,
            REQUEST_ACTIONS[self.action],
            REQUEST_RESOURCES[self.resource],
            Some(OWNER),
            &cx,
            &[identity],
            bucket,
        )
        .decision
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_applicable_deny_is_never_overridden(s in scenario(), in_bucket in any::<bool>()) {
        let mut identity = build(&s.identity, false);
        let mut bucket = s.bucket.as_ref().map(|b| build(b, true));
        let universal = policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#)
            .statements
            .remove(0);
        let anonymous = s.caller().kind == crate::CallerKind::Anonymous;
        if in_bucket || anonymous {
            bucket.get_or_insert_with(|| build(&[], true)).statements.push(universal);
        } else {
            let mut st = universal;
            st.principal = None;
            identity.statements.push(st);
        }
        prop_assert_eq!(s.decide(&identity, bucket.as_ref()), Decision::ExplicitDeny);
    }

    #[test]
    fn removing_an_allow_never_turns_a_deny_into_an_allow(s in scenario(), pick in any::<usize>()) {
        let identity = build(&s.identity, false);
        let bucket = s.bucket.as_ref().map(|b| build(b, true));
        let before = s.decide(&identity, bucket.as_ref());
        let allows: Vec<(bool, usize)> = identity
            .statements
            .iter()
            .enumerate()
            .filter(|(_, st)| st.effect == Effect::Allow)
            .map(|(i, _)| (false, i))
            .chain(bucket.iter().flat_map(|b| {
                b.statements
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| st.effect == Effect::Allow)
                    .map(|(i, _)| (true, i))
            }))
            .collect();
        prop_assume!(!allows.is_empty());
        let (in_bucket, index) = allows[pick % allows.len()];
        let (mut identity2, mut bucket2) = (identity.clone(), bucket.clone());
        if in_bucket {
            if let Some(b) = bucket2.as_mut() {
                b.statements.remove(index);
            }
        } else {
            identity2.statements.remove(index);
        }
        let after = s.decide(&identity2, bucket2.as_ref());
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        // Removing an Allow never creates or removes an explicit deny.
        prop_assert_eq!(
            before == Decision::ExplicitDeny,
            after == Decision::ExplicitDeny
        );
    }

    #[test]
    fn adding_a_deny_never_turns_a_deny_into_an_allow(s in scenario(), extra in spec()) {
        let identity = build(&s.identity, false);
        let bucket = s.bucket.as_ref().map(|b| build(b, true));
        let before = s.decide(&identity, bucket.as_ref());
        let deny = Spec { allow: false, ..extra };
        let mut identity2 = identity.clone();
        identity2.statements.extend(build(std::slice::from_ref(&deny), false).statements);
        let after = s.decide(&identity2, bucket.as_ref());
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
    }
}
