use super::{condition, context, decide, policy};
use crate::variables::{Part, Template};
use crate::{Caller, ConditionContext, Decision};

const ACCOUNT: &str = "111122223333";

/// AWS's "allow users to access their home folder" example.
const HOME_FOLDER: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ListOwnHome", "Effect": "Allow", "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::bucket",
     "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}},
    {"Sid": "UseOwnHome", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*"}
  ]
}"#;

#[test]
fn home_folder_policy_confines_each_user_to_their_folder() {
    let p = policy(HOME_FOLDER);
    let alice = Caller::user(ACCOUNT, "/", "alice", "AIDAALICE");
    let base = ConditionContext::for_caller(&alice);
    let list = |prefix: &str| {
        let cx = base.clone().with("s3:prefix", prefix);
        decide(
            &alice,
            "s3:ListBucket",
            "arn:aws:s3:::bucket",
            Some(ACCOUNT),
            &cx,
            &[&p],
            None,
        )
        .decision
    };
    assert_eq!(list(""), Decision::Allow);
    assert_eq!(list("home/"), Decision::Allow);
    assert_eq!(list("home/alice/"), Decision::Allow);
    assert_eq!(list("home/alice/photos/"), Decision::Allow);
    assert_eq!(list("home/bob/"), Decision::ImplicitDeny);
    assert_eq!(list("home/alice"), Decision::ImplicitDeny);
    let object = |action: &str, key: &str| {
        decide(
            &alice,
            action,
            &format!("arn:aws:s3:::bucket/{key}"),
            Some(ACCOUNT),
            &base,
            &[&p],
            None,
        )
        .decision
    };
    assert_eq!(
        object("s3:GetObject", "home/alice/notes.txt"),
        Decision::Allow
    );
    assert_eq!(
        object("s3:PutObject", "home/alice/a/b.txt"),
        Decision::Allow
    );
    assert_eq!(
        object("s3:GetObject", "home/bob/notes.txt"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        object("s3:DeleteObject", "home/alice/notes.txt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn missing_variable_makes_the_resource_not_match() {
    let p = policy(HOME_FOLDER);
    // A role session has no aws:username.
    let session = Caller::assumed_role(ACCOUNT, "/", "r", "AROAR", "s");
    let cx = ConditionContext::for_caller(&session);
    let e = decide(
        &session,
        "s3:GetObject",
        "arn:aws:s3:::bucket/home//x",
        Some(ACCOUNT),
        &cx,
        &[&p],
        None,
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
}

#[test]
fn missing_variable_makes_the_condition_false() {
    let c = condition(r#"{"StringEquals":{"s3:prefix":"${aws:username}/"}}"#);
    assert!(!c.holds(&context(&[("s3:prefix", &["/"])])));
    let negated = condition(r#"{"StringNotEquals":{"s3:prefix":"${aws:username}/"}}"#);
    assert!(!negated.holds(&context(&[("s3:prefix", &["x/"])])));
}

#[test]
fn variables_are_substituted_only_in_version_2012_10_17() {
    let doc = |version: &str| {
        format!(
            r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${{aws:username}}/*"}}}}"#
        )
    };
    let alice = Caller::user(ACCOUNT, "/", "alice", "AIDAALICE");
    let cx = ConditionContext::for_caller(&alice);
    for (version, resource, want) in [
        (
            r#""Version":"2012-10-17","#,
            "arn:aws:s3:::b/alice/k",
            Decision::Allow,
        ),
        (
            r#""Version":"2012-10-17","#,
            "arn:aws:s3:::b/${aws:username}/k",
            Decision::ImplicitDeny,
        ),
        (
            r#""Version":"2008-10-17","#,
            "arn:aws:s3:::b/alice/k",
            Decision::ImplicitDeny,
        ),
        (
            r#""Version":"2008-10-17","#,
            "arn:aws:s3:::b/${aws:username}/k",
            Decision::Allow,
        ),
        ("", "arn:aws:s3:::b/alice/k", Decision::ImplicitDeny),
        ("", "arn:aws:s3:::b/${aws:username}/k", Decision::Allow),
    ] {
        let p = policy(&doc(version));
        let got = decide(
            &alice,
            "s3:GetObject",
            resource,
            Some(ACCOUNT),
            &cx,
            &[&p],
            None,
        )
        .decision;
        assert_eq!(got, want, "{version} {resource}");
    }
}

#[test]
fn escaped_wildcards_are_literal_characters() {
    let cx = context(&[("aws:username", &["alice"])]);
    let like = |policy_value: &str, request: &str| {
        let block = format!(r#"{{"StringLike":{{"k":"{policy_value}"}}}}"#);
        let mut cx = cx.clone();
        cx.set("k", [request]);
        condition(&block).holds(&cx)
    };
    assert!(like("a${*}b", "a*b"));
    assert!(!like("a${*}b", "aXb"));
    assert!(like("a${?}", "a?"));
    assert!(!like("a${?}", "ab"));
    assert!(like("${$}{x}", "${x}"));
    assert!(like("*${aws:username}", "x-alice"));
    // A substituted value is literal too: a user named `*` is not a wildcard.
    let star = context(&[("aws:username", &["*"]), ("k", &["anything"])]);
    assert!(!condition(r#"{"StringLike":{"k":"${aws:username}"}}"#).holds(&star));
}

#[test]
fn principal_and_context_keys_resolve_as_variables() {
    let alice = Caller::user(ACCOUNT, "/eng/", "alice", "AIDAALICE");
    let cx = ConditionContext::for_caller(&alice).with("s3:prefix", "docs/");
    let t = |s: &str| Template::parse(s, true).resolve_text(&cx);
    assert_eq!(t("${aws:username}").as_deref(), Some("alice"));
    assert_eq!(t("${aws:userid}").as_deref(), Some("AIDAALICE"));
    assert_eq!(
        t("${aws:PrincipalArn}").as_deref(),
        Some("arn:aws:iam::111122223333:user/eng/alice")
    );
    assert_eq!(t("${AWS:PrincipalAccount}").as_deref(), Some(ACCOUNT));
    assert_eq!(t("${aws:PrincipalType}").as_deref(), Some("User"));
    assert_eq!(t("${s3:prefix}").as_deref(), Some("docs/"));
    assert_eq!(t("${aws:SourceIp}"), None);
    assert_eq!(t("${aws:SourceIp, 'none'}").as_deref(), Some("none"));
    assert_eq!(t("${not a var}").as_deref(), Some("${not a var}"));
    assert_eq!(t("${unterminated").as_deref(), Some("${unterminated"));
    assert_eq!(
        Template::parse("a${aws:username}b", true).parts,
        vec![
            Part::Text("a".into()),
            Part::Variable {
                key: "aws:username".into(),
                default: None
            },
            Part::Text("b".into()),
        ]
    );
}

#[test]
fn role_sessions_report_role_arn_as_principal_arn() {
    let s = Caller::assumed_role(ACCOUNT, "/svc/", "reader", "AROAREADER", "job-1");
    assert_eq!(s.arn, "arn:aws:sts::111122223333:assumed-role/reader/job-1");
    let cx = ConditionContext::for_caller(&s);
    assert_eq!(
        cx.get("aws:principalarn"),
        Some(&["arn:aws:iam::111122223333:role/svc/reader".to_owned()][..])
    );
    assert_eq!(
        cx.get("aws:userid"),
        Some(&["AROAREADER:job-1".to_owned()][..])
    );
    assert_eq!(cx.get("aws:username"), None);
}
