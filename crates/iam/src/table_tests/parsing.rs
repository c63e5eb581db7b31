use super::policy;
use crate::{
    ActionSet, Effect, Policy, PolicyError, PolicyKind, PolicySizeLimit, PrincipalEntry,
    PrincipalSet, ResourceSet,
};

#[test]
fn statement_may_be_an_object_or_a_list() {
    let one = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let list = policy(
        r#"{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"A","Effect":"Deny","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#,
    );
    assert_eq!(one.statements.len(), 1);
    assert_eq!(list.id.as_deref(), Some("p1"));
    let st = &list.statements[0];
    assert_eq!(st.sid.as_deref(), Some("A"));
    assert_eq!(st.effect, Effect::Deny);
    assert_eq!(
        st.action,
        ActionSet::Action(vec!["s3:Get*".into(), "s3:List*".into()])
    );
    assert!(matches!(&st.resource, Some(ResourceSet::Resource(r)) if r.len() == 2));
}

#[test]
fn version_2008_and_missing_version_are_accepted_without_variables() {
    for doc in [
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    ] {
        assert!(!policy(doc).variables_enabled());
    }
    assert!(
        policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#)
            .variables_enabled()
    );
}

#[test]
fn principals_of_every_form_are_parsed_and_kept() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::444455556666:root",
            "arn:aws:iam::111122223333:user/div/alice","arn:aws:iam::111122223333:role/r",
            "arn:aws:sts::111122223333:assumed-role/r/s"],
            "CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
            "Service":"cloudtrail.amazonaws.com","Federated":"cognito-identity.amazonaws.com"},
         "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#,
    );
    assert_eq!(
        p.statements[0].principal,
        Some(PrincipalSet::Principal(vec![PrincipalEntry::Everyone]))
    );
    let Some(PrincipalSet::Principal(entries)) = &p.statements[1].principal else {
        panic!("principal expected")
    };
    for want in [
        PrincipalEntry::Everyone,
        PrincipalEntry::Account("111122223333".into()),
        PrincipalEntry::Account("444455556666".into()),
        PrincipalEntry::User("arn:aws:iam::111122223333:user/div/alice".into()),
        PrincipalEntry::Role("arn:aws:iam::111122223333:role/r".into()),
        PrincipalEntry::AssumedRole("arn:aws:sts::111122223333:assumed-role/r/s".into()),
        PrincipalEntry::Service("cloudtrail.amazonaws.com".into()),
        PrincipalEntry::Federated("cognito-identity.amazonaws.com".into()),
    ] {
        assert!(entries.contains(&want), "missing {want:?}");
    }
    assert!(matches!(
        p.statements[2].principal,
        Some(PrincipalSet::NotPrincipal(_))
    ));
}

#[test]
fn condition_values_may_be_strings_lists_booleans_or_numbers() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
        "Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThanEquals":{"s3:max-keys":10},
        "StringLike":{"s3:prefix":["a/*","b/*"]}}}}"#,
    );
    assert_eq!(p.statements[0].condition.clauses.len(), 3);
}

/// Each malformed document, and a piece of the message that must explain it.
#[test]
fn malformed_policies_are_rejected_with_helpful_messages() {
    let cases: &[(&str, &str)] = &[
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (
            r#"{"Version":"2012-10-17"}"#,
            "missing required element Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            "must not be an empty list",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":"x"}"#,
            "Statement must be an object",
        ),
        (
            r#"{"Version":"2012-10-17","Statment":[]}"#,
            "unknown element \"Statment\"",
        ),
        (
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            "Version \"2020-01-01\" is not supported",
        ),
        (
            r#"{"Version":20121017,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            "Version must be a string",
        ),
        (
            r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#,
            "Statement[0]: missing required element Effect",
        ),
        (
            r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#,
            "Effect must be \"Allow\" or \"Deny\"",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"Two","Effect":"Allow","Acton":"s3:*","Resource":"*"}]}"#,
            "Statement[1] (Sid \"Two\"): unknown element \"Acton\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#,
            "has both Action and NotAction",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
            "missing required element Action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            "Action must not be empty",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3GetObject","Resource":"*"}}"#,
            "Action \"s3GetObject\" must be \"*\" or of the form service:action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:","Resource":"*"}}"#,
            "service:action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}"#,
            "Action must be a string or a list of strings",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}}"#,
            "has both Resource and NotResource",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket/key"}}"#,
            "Resource \"bucket/key\" must be \"*\" or an ARN",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqual":{"aws:username":"a"}}}}"#,
            "unknown condition operator \"StringEqual\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"k":"a"}}}}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"k":"true"}}}}"#,
            "Null cannot take IfExists",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"a"}}}"#,
            "must map condition keys to values",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}}"#,
            "condition key \"k\" under StringEquals must have a string",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}"#,
            "value \"10.0.0.0/33\" is not valid for condition operator IpAddress",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}"#,
            "not valid for condition operator NumericLessThan",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-13-01"}}}}"#,
            "not valid for condition operator DateGreaterThan",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}"#,
            "not valid for condition operator Bool",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"someone"}}"#,
            "Principal must be \"*\" or an object",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":{"IAM":"*"}}}"#,
            "unknown principal type \"IAM\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"}}}"#,
            "wildcards are not allowed in principal ARNs",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":{"AWS":"alice"}}}"#,
            "Invalid principal in policy: \"alice\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":{"AWS":"arn:aws:iam::111122223333:group/g"}}}"#,
            "Invalid principal in policy",
        ),
    ];
    for (doc, want) in cases {
        match Policy::parse(doc) {
            Ok(_) => panic!("should be rejected: {doc}"),
            Err(e) => assert!(
                e.to_string().contains(want),
                "message {:?} should contain {want:?} for {doc}",
                e.to_string()
            ),
        }
    }
}

#[test]
fn validation_applies_the_rules_of_each_policy_kind() {
    use PolicyKind::{Identity, Resource, Trust};
    let with_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    let without_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
    let no_resource = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#;
    let odd_sid = r#"{"Version":"2012-10-17","Statement":{"Sid":"public read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    let dup_sid = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
    let cases: &[(&str, PolicyKind, Option<&str>)] = &[
        (with_principal, Resource, None),
        (
            with_principal,
            Identity,
            Some("should not specify a principal"),
        ),
        (without_principal, Identity, None),
        (
            without_principal,
            Resource,
            Some("missing required element Principal"),
        ),
        (trust, Trust, None),
        (trust, Resource, Some("missing required element Resource")),
        (with_principal, Trust, Some("must not have Resource")),
        (
            no_resource,
            Identity,
            Some("missing required element Resource"),
        ),
        (odd_sid, Resource, None),
        (odd_sid, Identity, Some("Sid may contain only letters")),
        (
            dup_sid,
            Identity,
            Some("Statement[1] (Sid \"A\"): Statement IDs (Sid) must be unique"),
        ),
    ];
    for (doc, kind, want) in cases {
        let got = Policy::parse_for(doc, *kind);
        match (want, got) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{kind:?} should accept {doc}: {e}"),
            (Some(_), Ok(_)) => panic!("{kind:?} should reject {doc}"),
            (Some(w), Err(e)) => assert!(e.to_string().contains(w), "{e} should contain {w:?}"),
        }
    }
    let bad_sid = r#"{"Version":"2012-10-17","Statement":{"Sid":"no spaces","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    assert!(
        Policy::parse_for(bad_sid, Identity)
            .unwrap_err()
            .to_string()
            .contains("Sid may contain only letters")
    );
}

#[test]
fn size_limits_follow_aws_quotas() {
    assert_eq!(PolicySizeLimit::ManagedPolicy.max_len(), 6144);
    assert_eq!(PolicySizeLimit::UserInline.max_len(), 2048);
    assert_eq!(PolicySizeLimit::BucketPolicy.max_len(), 20 * 1024);
    // IAM does not count whitespace; S3 counts every byte.
    let padded = format!("{{{}}}", " ".repeat(7000));
    assert!(PolicySizeLimit::ManagedPolicy.check(&padded).is_ok());
    assert!(PolicySizeLimit::UserInline.check(&"x".repeat(2048)).is_ok());
    let err = PolicySizeLimit::UserInline
        .check(&"x".repeat(2049))
        .unwrap_err();
    assert!(matches!(err, PolicyError::TooLarge { actual: 2049, .. }));
    assert!(err.to_string().contains("2048"));
    assert!(
        PolicySizeLimit::BucketPolicy
            .check(&" ".repeat(20 * 1024 + 1))
            .is_err()
    );
}
