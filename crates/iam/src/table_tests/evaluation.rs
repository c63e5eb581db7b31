use super::{decide, policy};
use crate::{
    Caller, ConditionContext, Decision, Effect, Policy, PolicySource, access_denied_message,
};

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";

const CCCS_DOCS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
 "Resource":["arn:aws:s3:::cccs-docs","arn:aws:s3:::cccs-docs/*"]}]}"#;

fn alice() -> Caller {
    Caller::user(OWNER, "/", "alice", "AIDAALICE")
}

fn cx(c: &Caller) -> ConditionContext {
    ConditionContext::for_caller(c)
}

#[test]
fn design_reference_scenario_confines_user_to_cccs_docs() {
    let p = policy(CCCS_DOCS);
    let a = alice();
    let cases: &[(&str, &str, Option<&str>, Decision)] = &[
        (
            "s3:GetObject",
            "arn:aws:s3:::cccs-docs/report.pdf",
            Some(OWNER),
            Decision::Allow,
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::cccs-docs/a/b",
            Some(OWNER),
            Decision::Allow,
        ),
        (
            "s3:ListBucket",
            "arn:aws:s3:::cccs-docs",
            Some(OWNER),
            Decision::Allow,
        ),
        (
            "s3:DeleteBucket",
            "arn:aws:s3:::cccs-docs",
            Some(OWNER),
            Decision::Allow,
        ),
        ("s3:ListAllMyBuckets", "*", None, Decision::ImplicitDeny),
        (
            "s3:CreateBucket",
            "arn:aws:s3:::other",
            None,
            Decision::ImplicitDeny,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::other/report.pdf",
            Some(OWNER),
            Decision::ImplicitDeny,
        ),
        (
            "s3:ListBucket",
            "arn:aws:s3:::cccs-docs-archive",
            Some(OWNER),
            Decision::ImplicitDeny,
        ),
        (
            "iam:CreateUser",
            "arn:aws:iam::111122223333:user/bob",
            Some(OWNER),
            Decision::ImplicitDeny,
        ),
    ];
    for (action, resource, owner, want) in cases {
        let e = decide(&a, action, resource, *owner, &cx(&a), &[&p], None);
        assert_eq!(e.decision, *want, "{action} on {resource}");
        if *want == Decision::Allow {
            assert_eq!(e.decided_by[0].policy_id, "identity-0");
            assert_eq!(e.decided_by[0].index, 0);
        }
    }
    let e = decide(&a, "s3:ListAllMyBuckets", "*", None, &cx(&a), &[&p], None);
    assert_eq!(
        access_denied_message(&a, "s3:ListAllMyBuckets", "*", &e),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: s3:ListAllMyBuckets on resource: \"*\" because no identity-based policy allows the s3:ListAllMyBuckets action"
    );
}

#[test]
fn explicit_deny_on_source_ip_overrides_an_allow() {
    let allow = policy(CCCS_DOCS);
    let deny = policy(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"OfficeOnly","Effect":"Deny","Action":"s3:*","Resource":"*",
        "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}}}"#,
    );
    let a = alice();
    let at = |ip: &str| {
        let c = cx(&a).with("aws:SourceIp", ip);
        decide(
            &a,
            "s3:GetObject",
            "arn:aws:s3:::cccs-docs/k",
            Some(OWNER),
            &c,
            &[&allow, &deny],
            None,
        )
    };
    assert_eq!(at("192.0.2.10").decision, Decision::Allow);
    assert_eq!(at("2001:db8::9").decision, Decision::Allow);
    let e = at("203.0.113.5");
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!(e.decided_by.len(), 1);
    assert_eq!(e.decided_by[0].sid.as_deref(), Some("OfficeOnly"));
    assert_eq!(e.decided_by[0].policy_id, "identity-1");
    assert_eq!(e.decided_by[0].effect, Effect::Deny);
    assert_eq!(
        access_denied_message(&a, "s3:GetObject", "arn:aws:s3:::cccs-docs/k", &e),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::cccs-docs/k\" with an explicit deny in an identity-based policy"
    );
}

const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow",
 "Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::site/*"]}]}"#;

#[test]
fn public_read_bucket_policy_allows_anonymous_get_but_not_put() {
    let bp = policy(PUBLIC_READ);
    let anon = Caller::anonymous();
    let c = cx(&anon);
    let get = decide(
        &anon,
        "s3:GetObject",
        "arn:aws:s3:::site/index.html",
        Some(OWNER),
        &c,
        &[],
        Some(&bp),
    );
    assert_eq!(get.decision, Decision::Allow);
    assert_eq!(get.decided_by[0].source, PolicySource::Resource);
    assert_eq!(get.decided_by[0].sid.as_deref(), Some("PublicRead"));
    let put = decide(
        &anon,
        "s3:PutObject",
        "arn:aws:s3:::site/index.html",
        Some(OWNER),
        &c,
        &[],
        Some(&bp),
    );
    assert_eq!(put.decision, Decision::ImplicitDeny);
    assert_eq!(
        access_denied_message(&anon, "s3:PutObject", "arn:aws:s3:::site/index.html", &put),
        "Anonymous users are not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::site/index.html\" because no resource-based policy allows the s3:PutObject action"
    );
    // Public read also reaches IAM users of any account without an identity
    // policy in the owning account; other accounts need their own allow.
    let a = alice();
    let e = decide(
        &a,
        "s3:GetObject",
        "arn:aws:s3:::site/i",
        Some(OWNER),
        &cx(&a),
        &[],
        Some(&bp),
    );
    assert_eq!(e.decision, Decision::Allow);
    let stranger = Caller::user(OTHER, "/", "eve", "AIDAEVE");
    let e = decide(
        &stranger,
        "s3:GetObject",
        "arn:aws:s3:::site/i",
        Some(OWNER),
        &cx(&stranger),
        &[],
        Some(&bp),
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert_eq!(e.missing_allow, Some(PolicySource::Identity));
}

#[test]
fn anonymous_callers_are_allowed_only_by_a_star_principal() {
    let anon = Caller::anonymous();
    let c = cx(&anon);
    let any_aws = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let account = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let not_principal = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"444455556666"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let identity_allow = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let cases: &[(&crate::Policy, &[&crate::Policy], Decision)] = &[
        (&any_aws, &[], Decision::Allow),
        (&account, &[], Decision::ImplicitDeny),
        (&not_principal, &[], Decision::ImplicitDeny),
        (&account, &[&identity_allow], Decision::ImplicitDeny),
    ];
    for (i, (bp, ids, want)) in cases.iter().enumerate() {
        let e = decide(
            &anon,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &c,
            ids,
            Some(bp),
        );
        assert_eq!(e.decision, *want, "case {i}");
    }
    let e = decide(
        &anon,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &c,
        &[],
        None,
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
}

#[test]
fn root_user_is_all_powerful_in_its_own_account_except_for_bucket_policy_denies() {
    let root = Caller::root(OWNER);
    let c = cx(&root);
    let allowed = |action: &str, resource: &str, owner: Option<&str>| {
        decide(&root, action, resource, owner, &c, &[], None).decision
    };
    assert_eq!(
        allowed("s3:GetObject", "arn:aws:s3:::b/k", Some(OWNER)),
        Decision::Allow
    );
    assert_eq!(allowed("s3:ListAllMyBuckets", "*", None), Decision::Allow);
    assert_eq!(
        allowed("s3:CreateBucket", "arn:aws:s3:::new", None),
        Decision::Allow
    );
    assert_eq!(
        allowed("s3:GetObject", "arn:aws:s3:::b/k", Some(OTHER)),
        Decision::ImplicitDeny
    );
    let deny_all = policy(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"Lock","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::b"}}"#,
    );
    let e = decide(
        &root,
        "s3:DeleteBucket",
        "arn:aws:s3:::b",
        Some(OWNER),
        &c,
        &[],
        Some(&deny_all),
    );
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!(
        access_denied_message(&root, "s3:DeleteBucket", "arn:aws:s3:::b", &e),
        "User: arn:aws:iam::111122223333:root is not authorized to perform: s3:DeleteBucket on resource: \"arn:aws:s3:::b\" with an explicit deny in a resource-based policy"
    );
    let e = decide(
        &root,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &c,
        &[],
        Some(&deny_all),
    );
    assert_eq!(e.decision, Decision::Allow);
}

#[test]
fn cross_account_access_needs_both_the_bucket_policy_and_the_identity_policy() {
    let grant_account = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Sid":"Partner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
    ));
    let grant_user = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER}:user/eve"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
    ));
    let own_allow = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let eve = Caller::user(OTHER, "/", "eve", "AIDAEVE");
    let mallory = Caller::user(OTHER, "/", "mallory", "AIDAMAL");
    let other_root = Caller::root(OTHER);
    let third = Caller::user("999999999999", "/", "eve", "AIDATHIRD");
    type Case<'a> = (
        &'a str,
        &'a Caller,
        Option<&'a crate::Policy>,
        &'a [&'a crate::Policy],
        Decision,
        Option<PolicySource>,
    );
    let cases: &[Case<'_>] = &[
        (
            "no bucket policy",
            &eve,
            None,
            &[&own_allow],
            Decision::ImplicitDeny,
            Some(PolicySource::Resource),
        ),
        (
            "bucket policy but no identity allow",
            &eve,
            Some(&grant_account),
            &[],
            Decision::ImplicitDeny,
            Some(PolicySource::Identity),
        ),
        (
            "both allow",
            &eve,
            Some(&grant_account),
            &[&own_allow],
            Decision::Allow,
            None,
        ),
        (
            "other account root needs only the bucket policy",
            &other_root,
            Some(&grant_account),
            &[],
            Decision::Allow,
            None,
        ),
        (
            "user-named grant still needs identity allow",
            &eve,
            Some(&grant_user),
            &[],
            Decision::ImplicitDeny,
            Some(PolicySource::Identity),
        ),
        (
            "user-named grant with identity allow",
            &eve,
            Some(&grant_user),
            &[&own_allow],
            Decision::Allow,
            None,
        ),
        (
            "user-named grant does not cover a colleague",
            &mallory,
            Some(&grant_user),
            &[&own_allow],
            Decision::ImplicitDeny,
            Some(PolicySource::Resource),
        ),
        (
            "grant to one account does not cover another",
            &third,
            Some(&grant_account),
            &[&own_allow],
            Decision::ImplicitDeny,
            Some(PolicySource::Resource),
        ),
    ];
    for (name, caller, bp, ids, want, missing) in cases {
        let e = decide(
            caller,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &cx(caller),
            ids,
            *bp,
        );
        assert_eq!(e.decision, *want, "{name}");
        assert_eq!(e.missing_allow, *missing, "{name}");
    }
    let e = decide(
        &eve,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &cx(&eve),
        &[&own_allow],
        None,
    );
    assert!(
        access_denied_message(&eve, "s3:GetObject", "arn:aws:s3:::b/k", &e)
            .ends_with("because no resource-based policy allows the s3:GetObject action")
    );
    let e = decide(
        &eve,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &cx(&eve),
        &[&own_allow],
        Some(&grant_account),
    );
    assert_eq!(e.decided_by.len(), 2, "both sides are reported");
}

#[test]
fn same_account_bucket_policy_grants_named_principals_and_delegates_for_the_account() {
    let a = alice();
    let session = Caller::assumed_role(OWNER, "/svc/", "reader", "AROAREADER", "job");
    let bp = |principal: &str| {
        policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}}}"#
        ))
    };
    let cases: &[(&str, &Caller, Decision)] = &[
        (
            r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
            &a,
            Decision::Allow,
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#,
            &a,
            Decision::ImplicitDeny,
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:user/Alice"}"#,
            &a,
            Decision::ImplicitDeny,
        ),
        (r#"{"AWS":"111122223333"}"#, &a, Decision::ImplicitDeny),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
            &a,
            Decision::ImplicitDeny,
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:role/svc/reader"}"#,
            &session,
            Decision::Allow,
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:role/reader"}"#,
            &session,
            Decision::ImplicitDeny,
        ),
        (
            r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/reader/job"}"#,
            &session,
            Decision::Allow,
        ),
        (
            r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/reader/other"}"#,
            &session,
            Decision::ImplicitDeny,
        ),
        (
            r#"{"Service":"logging.s3.amazonaws.com"}"#,
            &a,
            Decision::ImplicitDeny,
        ),
        (r#""*""#, &session, Decision::Allow),
    ];
    for (principal, caller, want) in cases {
        let p = bp(principal);
        let e = decide(
            caller,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &cx(caller),
            &[],
            Some(&p),
        );
        assert_eq!(e.decision, *want, "{principal} for {}", caller.arn);
    }
    let canonical = bp(r#"{"CanonicalUser":"abc123"}"#);
    let root = Caller::root(OTHER).with_canonical_id("abc123");
    let e = decide(
        &root,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &cx(&root),
        &[],
        Some(&canonical),
    );
    assert_eq!(e.decision, Decision::Allow);
}

#[test]
fn account_principal_deny_applies_to_every_principal_of_the_account() {
    let bp = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let allow = policy(CCCS_DOCS.replace("cccs-docs", "b").as_str());
    for caller in [
        alice(),
        Caller::root(OWNER),
        Caller::assumed_role(OWNER, "/", "r", "AROAR", "s"),
    ] {
        let e = decide(
            &caller,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &cx(&caller),
            &[&allow],
            Some(&bp),
        );
        assert_eq!(e.decision, Decision::ExplicitDeny, "{}", caller.arn);
    }
}

#[test]
fn not_action_and_not_resource_invert_the_match() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","NotAction":["s3:Delete*","s3:PutBucketPolicy"],"Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret-*"]}]}"#,
    );
    let a = alice();
    let cases: &[(&str, &str, Decision)] = &[
        ("s3:GetObject", "arn:aws:s3:::b/k", Decision::Allow),
        (
            "s3:deleteobject",
            "arn:aws:s3:::b/k",
            Decision::ImplicitDeny,
        ),
        (
            "s3:PutBucketPolicy",
            "arn:aws:s3:::b/k",
            Decision::ImplicitDeny,
        ),
        ("s3:GetObject", "arn:aws:s3:::c/k", Decision::ImplicitDeny),
        ("s3:ListBucket", "arn:aws:s3:::public", Decision::Allow),
        (
            "s3:ListBucket",
            "arn:aws:s3:::secret",
            Decision::ImplicitDeny,
        ),
        (
            "s3:ListBucket",
            "arn:aws:s3:::secret-2",
            Decision::ImplicitDeny,
        ),
    ];
    for (action, resource, want) in cases {
        let e = decide(&a, action, resource, Some(OWNER), &cx(&a), &[&p], None);
        assert_eq!(e.decision, *want, "{action} on {resource}");
    }
}

#[test]
fn not_principal_deny_spares_only_fully_listed_principals() {
    let a = alice();
    let bob = Caller::user(OWNER, "/", "bob", "AIDABOB");
    let anon = Caller::anonymous();
    let session = Caller::assumed_role(OWNER, "/", "admin", "AROAADMIN", "s1");
    let deny_except = |listed: &str| {
        policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}},
            {{"Sid":"OnlyListed","Effect":"Deny","NotPrincipal":{{"AWS":{listed}}},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}]}}"#
        ))
    };
    let alice_and_account =
        r#"["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]"#;
    let session_role_account = r#"["arn:aws:sts::111122223333:assumed-role/admin/s1","arn:aws:iam::111122223333:role/admin","111122223333"]"#;
    let cases: &[(&str, &Caller, Decision)] = &[
        (alice_and_account, &a, Decision::Allow),
        (alice_and_account, &bob, Decision::ExplicitDeny),
        (alice_and_account, &anon, Decision::ExplicitDeny),
        // AWS: listing the user without its account does not spare the user.
        (
            r#""arn:aws:iam::111122223333:user/alice""#,
            &a,
            Decision::ExplicitDeny,
        ),
        (session_role_account, &session, Decision::Allow),
        (
            r#"["arn:aws:iam::111122223333:role/admin","111122223333"]"#,
            &session,
            Decision::ExplicitDeny,
        ),
        (r#""111122223333""#, &Caller::root(OWNER), Decision::Allow),
        (r#""111122223333""#, &a, Decision::ExplicitDeny),
        (r#""*""#, &anon, Decision::Allow),
    ];
    for (listed, caller, want) in cases {
        let p = deny_except(listed);
        let e = decide(
            caller,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &cx(caller),
            &[],
            Some(&p),
        );
        assert_eq!(
            e.decision, *want,
            "NotPrincipal {listed} for {}",
            caller.arn
        );
    }
}

#[test]
fn conditions_in_bucket_policies_see_the_request_context() {
    let bp = policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
         "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    let anon = Caller::anonymous();
    let over = |tls: &str| {
        let c = cx(&anon).with("aws:SecureTransport", tls);
        decide(
            &anon,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(OWNER),
            &c,
            &[],
            Some(&bp),
        )
        .decision
    };
    assert_eq!(over("true"), Decision::Allow);
    assert_eq!(over("false"), Decision::ExplicitDeny);
}

#[test]
fn all_applicable_denies_are_reported() {
    let d1 = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"},{"Sid":"B","Effect":"Deny","Action":"s3:Get*","Resource":"*"},{"Sid":"C","Effect":"Deny","Action":"s3:Put*","Resource":"*"}]}"#,
    );
    let a = alice();
    let e = decide(
        &a,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        Some(OWNER),
        &cx(&a),
        &[&d1],
        None,
    );
    let sids: Vec<_> = e
        .decided_by
        .iter()
        .filter_map(|m| m.sid.as_deref())
        .collect();
    assert_eq!(sids, ["A", "B"]);
}

/// A role session with optional session policies, evaluated against an
/// optional bucket policy of the same account.
fn session_decision(
    action: &str,
    role_policy: &Policy,
    session: Option<&[&Policy]>,
    bucket: Option<&Policy>,
) -> crate::Evaluation {
    let caller = Caller::assumed_role(OWNER, "/", "app", "AROAEXAMPLE", "job");
    let c = cx(&caller);
    let identity = [crate::NamedPolicy {
        id: "role-policy",
        policy: role_policy,
    }];
    let session_named: Option<Vec<crate::NamedPolicy<'_>>> = session.map(|ps| {
        ps.iter()
            .map(|p| crate::NamedPolicy {
                id: "session",
                policy: p,
            })
            .collect()
    });
    crate::evaluate(&crate::AuthzRequest {
        caller: &caller,
        action,
        resource: "arn:aws:s3:::data/k",
        resource_owner: Some(OWNER),
        context: &c,
        identity_policies: &identity,
        resource_policy: bucket.map(|p| crate::NamedPolicy {
            id: "bucket-policy",
            policy: p,
        }),
        session_policies: session_named.as_deref(),
        acl: None,
    })
}

#[test]
fn session_policies_intersect_with_the_role_and_bound_role_wide_grants() {
    let role = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#,
    );
    let get_only = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let everything = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let deny_get = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    // No session policy: the role's permissions.
    assert_eq!(
        session_decision("s3:PutObject", &role, None, None).decision,
        Decision::Allow
    );
    // The intersection: allowed by both only.
    assert_eq!(
        session_decision("s3:GetObject", &role, Some(&[&get_only]), None).decision,
        Decision::Allow
    );
    let put = session_decision("s3:PutObject", &role, Some(&[&get_only]), None);
    assert_eq!(put.decision, Decision::ImplicitDeny);
    assert_eq!(put.missing_allow, Some(PolicySource::Session));
    // A session policy never widens the role.
    assert_eq!(
        session_decision("s3:DeleteObject", &role, Some(&[&everything]), None).decision,
        Decision::ImplicitDeny
    );
    // A Deny in a session policy is explicit.
    let denied = session_decision("s3:GetObject", &role, Some(&[&everything, &deny_get]), None);
    assert_eq!(denied.decision, Decision::ExplicitDeny);
    assert_eq!(denied.decided_by[0].source, PolicySource::Session);

    // A bucket policy naming the role is bounded by the session policy; one
    // naming the session's own ARN is not.
    let nothing = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
    );
    let names_role = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OWNER}:role/app"}},"Action":"s3:DeleteObject","Resource":"*"}}]}}"#
    ));
    let names_session = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:sts::{OWNER}:assumed-role/app/job"}},"Action":"s3:DeleteObject","Resource":"*"}}]}}"#
    ));
    assert_eq!(
        session_decision("s3:DeleteObject", &nothing, None, Some(&names_role)).decision,
        Decision::Allow
    );
    assert_eq!(
        session_decision(
            "s3:DeleteObject",
            &nothing,
            Some(&[&get_only]),
            Some(&names_role)
        )
        .decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        session_decision(
            "s3:DeleteObject",
            &nothing,
            Some(&[&get_only]),
            Some(&names_session)
        )
        .decision,
        Decision::Allow
    );
}

#[test]
fn a_trust_policy_must_name_the_caller_whatever_identity_policies_allow() {
    let alice = alice();
    let c = cx(&alice);
    let may_assume = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    );
    let trust = |principal: &str| {
        Policy::parse_for(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
            ),
            crate::PolicyKind::Trust,
        )
        .expect("trust policy")
    };
    let names_other = trust("arn:aws:iam::111122223333:user/bob");
    let names_account = trust("arn:aws:iam::111122223333:root");
    let named = [crate::NamedPolicy {
        id: "p",
        policy: &may_assume,
    }];
    let request = |trust: &Policy, identity: &[crate::NamedPolicy<'_>]| {
        let req = crate::AuthzRequest {
            caller: &alice,
            action: "sts:AssumeRole",
            resource: "arn:aws:iam::111122223333:role/app",
            resource_owner: Some(OWNER),
            context: &c,
            identity_policies: identity,
            resource_policy: Some(crate::NamedPolicy {
                id: "trust",
                policy: trust,
            }),
            session_policies: None,
            acl: None,
        };
        (
            crate::evaluate(&req).decision,
            crate::resource_policy_allows_caller(&req),
        )
    };
    // The identity policy alone would allow within the account, but the
    // trust policy does not name Alice.
    assert_eq!(request(&names_other, &named), (Decision::Allow, false));
    // Naming the account delegates to the identity policy.
    assert_eq!(request(&names_account, &named), (Decision::Allow, true));
    assert_eq!(request(&names_account, &[]).0, Decision::ImplicitDeny);
}
