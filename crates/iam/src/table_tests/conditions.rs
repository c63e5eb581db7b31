use super::{condition, context};
use crate::Operator;
use crate::values::{IpRange, decode_base64, format_iso8601, parse_date};

type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a [&'a str])], bool);

/// Evaluates every row: (what it pins down, condition block, request keys, expected).
fn check(rows: &[Row<'_>]) {
    for (name, block, keys, want) in rows {
        let got = condition(block).holds(&context(keys));
        assert_eq!(got, *want, "{name}: {block} with {keys:?}");
    }
}

#[test]
fn string_operators() {
    check(&[
        (
            "equals matches exactly",
            r#"{"StringEquals":{"s3:x-amz-acl":"public-read"}}"#,
            &[("s3:x-amz-acl", &["public-read"])],
            true,
        ),
        (
            "equals is case-sensitive",
            r#"{"StringEquals":{"s3:x-amz-acl":"Public-Read"}}"#,
            &[("s3:x-amz-acl", &["public-read"])],
            false,
        ),
        (
            "values are OR-ed",
            r#"{"StringEquals":{"k":["a","b"]}}"#,
            &[("k", &["b"])],
            true,
        ),
        (
            "key names are case-insensitive",
            r#"{"StringEquals":{"AWS:UserName":"alice"}}"#,
            &[("aws:username", &["alice"])],
            true,
        ),
        (
            "missing key is false",
            r#"{"StringEquals":{"k":"a"}}"#,
            &[],
            false,
        ),
        (
            "not-equals true when different",
            r#"{"StringNotEquals":{"k":"a"}}"#,
            &[("k", &["b"])],
            true,
        ),
        (
            "not-equals false when equal",
            r#"{"StringNotEquals":{"k":"a"}}"#,
            &[("k", &["a"])],
            false,
        ),
        (
            "not-equals is NOR over values",
            r#"{"StringNotEquals":{"k":["a","b"]}}"#,
            &[("k", &["b"])],
            false,
        ),
        (
            "not-equals NOR holds when none match",
            r#"{"StringNotEquals":{"k":["a","b"]}}"#,
            &[("k", &["c"])],
            true,
        ),
        (
            "negated operator on missing key is true",
            r#"{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}"#,
            &[],
            true,
        ),
        (
            "ignore-case equals",
            r#"{"StringEqualsIgnoreCase":{"k":"ALICE"}}"#,
            &[("k", &["alice"])],
            true,
        ),
        (
            "ignore-case not-equals",
            r#"{"StringNotEqualsIgnoreCase":{"k":"ALICE"}}"#,
            &[("k", &["Alice"])],
            false,
        ),
        (
            "ignore-case not-equals differs",
            r#"{"StringNotEqualsIgnoreCase":{"k":"ALICE"}}"#,
            &[("k", &["bob"])],
            true,
        ),
        (
            "like with star",
            r#"{"StringLike":{"s3:prefix":"home/alice/*"}}"#,
            &[("s3:prefix", &["home/alice/docs/"])],
            true,
        ),
        (
            "like with question mark",
            r#"{"StringLike":{"k":"a?c"}}"#,
            &[("k", &["abc"])],
            true,
        ),
        (
            "like is case-sensitive",
            r#"{"StringLike":{"k":"A*"}}"#,
            &[("k", &["abc"])],
            false,
        ),
        (
            "like empty string matches star",
            r#"{"StringLike":{"s3:prefix":["","home/*"]}}"#,
            &[("s3:prefix", &[""])],
            true,
        ),
        (
            "not-like",
            r#"{"StringNotLike":{"k":["a*","b*"]}}"#,
            &[("k", &["cat"])],
            true,
        ),
        (
            "not-like matching a value is false",
            r#"{"StringNotLike":{"k":["a*","b*"]}}"#,
            &[("k", &["bat"])],
            false,
        ),
        (
            "equals has no wildcards",
            r#"{"StringEquals":{"k":"a*"}}"#,
            &[("k", &["abc"])],
            false,
        ),
    ]);
}

#[test]
fn numeric_operators() {
    check(&[
        (
            "equals",
            r#"{"NumericEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            true,
        ),
        (
            "equals compares numbers not text",
            r#"{"NumericEquals":{"s3:max-keys":10}}"#,
            &[("s3:max-keys", &["10.0"])],
            true,
        ),
        (
            "not-equals",
            r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["11"])],
            true,
        ),
        (
            "not-equals equal",
            r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            false,
        ),
        (
            "less-than",
            r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["9"])],
            true,
        ),
        (
            "less-than at bound",
            r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            false,
        ),
        (
            "less-than-equals at bound",
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            true,
        ),
        (
            "greater-than",
            r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10.5"])],
            true,
        ),
        (
            "greater-than at bound",
            r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["10"])],
            false,
        ),
        (
            "greater-than-equals",
            r#"{"NumericGreaterThanEquals":{"s3:max-keys":"-1"}}"#,
            &[("s3:max-keys", &["-1"])],
            true,
        ),
        (
            "non-numeric request value does not match",
            r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
            &[("s3:max-keys", &["lots"])],
            false,
        ),
        (
            "missing key",
            r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
            &[],
            false,
        ),
    ]);
}

#[test]
fn date_operators_accept_iso8601_and_epoch_seconds() {
    let now: &[(&str, &[&str])] = &[("aws:CurrentTime", &["2025-06-15T12:00:00Z"])];
    check(&[
        (
            "less-than iso",
            r#"{"DateLessThan":{"aws:CurrentTime":"2025-12-31T23:59:59Z"}}"#,
            now,
            true,
        ),
        (
            "less-than date only",
            r#"{"DateLessThan":{"aws:CurrentTime":"2025-06-15"}}"#,
            now,
            false,
        ),
        (
            "greater-than date only",
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2025-06-15"}}"#,
            now,
            true,
        ),
        (
            "less-than-equals at bound",
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}"#,
            now,
            true,
        ),
        (
            "greater-than-equals at bound",
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}}"#,
            now,
            true,
        ),
        (
            "equals across zone offsets",
            r#"{"DateEquals":{"aws:CurrentTime":"2025-06-15T14:00:00+02:00"}}"#,
            now,
            true,
        ),
        (
            "equals epoch seconds",
            r#"{"DateEquals":{"aws:CurrentTime":"1749988800"}}"#,
            now,
            true,
        ),
        (
            "not-equals",
            r#"{"DateNotEquals":{"aws:CurrentTime":"2025-06-15T12:00:01Z"}}"#,
            now,
            true,
        ),
        (
            "fractional seconds",
            r#"{"DateLessThan":{"aws:CurrentTime":"2025-06-15T12:00:00.001Z"}}"#,
            now,
            true,
        ),
        (
            "epoch request value",
            r#"{"DateGreaterThan":{"aws:EpochTime":"2025-01-01T00:00:00Z"}}"#,
            &[("aws:EpochTime", &["1749988800"])],
            true,
        ),
        (
            "unparseable request date does not match",
            r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}"#,
            &[("aws:CurrentTime", &["yesterday"])],
            false,
        ),
    ]);
    assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_date("2000-02-29"), Some(951_782_400_000));
    assert_eq!(parse_date("2001-02-29"), None);
    assert_eq!(format_iso8601(1_749_988_800), "2025-06-15T12:00:00Z");
    assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
}

#[test]
fn bool_binary_and_null_operators() {
    check(&[
        (
            "bool true",
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("aws:SecureTransport", &["true"])],
            true,
        ),
        (
            "bool json boolean",
            r#"{"Bool":{"aws:SecureTransport":false}}"#,
            &[("aws:SecureTransport", &["false"])],
            true,
        ),
        (
            "bool mismatch",
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &[("aws:SecureTransport", &["true"])],
            false,
        ),
        (
            "bool case-insensitive",
            r#"{"Bool":{"aws:SecureTransport":"TRUE"}}"#,
            &[("aws:SecureTransport", &["true"])],
            true,
        ),
        (
            "bool missing key",
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &[],
            false,
        ),
        (
            "binary equals",
            r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
            &[("k", &["QmluYXJ5VmFsdWVJbkJhc2U2NA"])],
            true,
        ),
        (
            "binary differs",
            r#"{"BinaryEquals":{"k":"QmluYXJ5"}}"#,
            &[("k", &["QmluYXJz"])],
            false,
        ),
        (
            "null true when absent",
            r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
            &[],
            true,
        ),
        (
            "null true when present",
            r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
            &[("aws:TokenIssueTime", &["x"])],
            false,
        ),
        (
            "null false when present",
            r#"{"Null":{"aws:TokenIssueTime":false}}"#,
            &[("aws:TokenIssueTime", &["x"])],
            true,
        ),
        (
            "null false when absent",
            r#"{"Null":{"aws:TokenIssueTime":"false"}}"#,
            &[],
            false,
        ),
    ]);
    assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
    assert_eq!(decode_base64("aGVsbG8"), Some(b"hello".to_vec()));
    assert_eq!(decode_base64("a$=="), None);
}

#[test]
fn ip_address_operators_with_ipv4_and_ipv6() {
    check(&[
        (
            "v4 in cidr",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.113.77"])],
            true,
        ),
        (
            "v4 outside cidr",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:SourceIp", &["203.0.114.1"])],
            false,
        ),
        (
            "plain address",
            r#"{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}"#,
            &[("aws:SourceIp", &["192.0.2.7"])],
            true,
        ),
        (
            "plain address differs",
            r#"{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}"#,
            &[("aws:SourceIp", &["192.0.2.8"])],
            false,
        ),
        (
            "zero prefix matches all v4",
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            &[("aws:SourceIp", &["8.8.8.8"])],
            true,
        ),
        (
            "list OR-ed",
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#,
            &[("aws:SourceIp", &["2001:db8:1::5"])],
            true,
        ),
        (
            "v6 outside",
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &[("aws:SourceIp", &["2001:db9::1"])],
            false,
        ),
        (
            "families do not mix",
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            &[("aws:SourceIp", &["::1"])],
            false,
        ),
        (
            "v4-mapped v6 counts as v4",
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["::ffff:10.1.2.3"])],
            true,
        ),
        (
            "not-ip outside",
            r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
            &[("aws:SourceIp", &["203.0.113.1"])],
            true,
        ),
        (
            "not-ip inside",
            r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
            &[("aws:SourceIp", &["192.168.1.1"])],
            false,
        ),
        (
            "garbage request address",
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            &[("aws:SourceIp", &["localhost"])],
            false,
        ),
    ]);
    assert!(IpRange::parse("10.0.0.0/8/1").is_none());
    assert!(IpRange::parse("::/129").is_none());
}

#[test]
fn arn_operators_compare_component_wise() {
    let src: &[(&str, &[&str])] = &[(
        "aws:SourceArn",
        &["arn:aws:sns:us-east-1:111122223333:topic:sub"],
    )];
    check(&[
        (
            "equals",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:topic:sub"}}"#,
            src,
            true,
        ),
        (
            "like region wildcard",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:*"}}"#,
            src,
            true,
        ),
        (
            "equals also takes wildcards",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:111122223333:topic:*"}}"#,
            src,
            true,
        ),
        (
            "star stays within a component",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:*:111122223333:topic:sub"}}"#,
            src,
            false,
        ),
        (
            "account differs",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:444455556666:*"}}"#,
            src,
            false,
        ),
        (
            "not-like",
            r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:444455556666:*"}}"#,
            src,
            true,
        ),
        (
            "not-equals equal",
            r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:topic:sub"}}"#,
            src,
            false,
        ),
        (
            "request value not an arn",
            r#"{"ArnLike":{"aws:SourceArn":"*"}}"#,
            &[("aws:SourceArn", &["nope"])],
            false,
        ),
    ]);
}

#[test]
fn if_exists_makes_a_missing_key_pass() {
    check(&[
        (
            "string missing",
            r#"{"StringEqualsIfExists":{"k":"a"}}"#,
            &[],
            true,
        ),
        (
            "string present differs",
            r#"{"StringEqualsIfExists":{"k":"a"}}"#,
            &[("k", &["b"])],
            false,
        ),
        (
            "string present equal",
            r#"{"StringEqualsIfExists":{"k":"a"}}"#,
            &[("k", &["a"])],
            true,
        ),
        (
            "numeric missing",
            r#"{"NumericLessThanIfExists":{"s3:max-keys":"5"}}"#,
            &[],
            true,
        ),
        (
            "numeric present",
            r#"{"NumericLessThanIfExists":{"s3:max-keys":"5"}}"#,
            &[("s3:max-keys", &["6"])],
            false,
        ),
        (
            "ip missing",
            r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[],
            true,
        ),
        (
            "not-ip present",
            r#"{"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["10.0.0.1"])],
            false,
        ),
        (
            "bool missing",
            r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#,
            &[],
            true,
        ),
        (
            "date missing",
            r#"{"DateLessThanIfExists":{"aws:CurrentTime":"2020-01-01"}}"#,
            &[],
            true,
        ),
        (
            "arn missing",
            r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
            &[],
            true,
        ),
        (
            "binary missing",
            r#"{"BinaryEqualsIfExists":{"k":"QQ=="}}"#,
            &[],
            true,
        ),
        (
            "like present",
            r#"{"StringLikeIfExists":{"k":"a*"}}"#,
            &[("k", &["abc"])],
            true,
        ),
    ]);
}

#[test]
fn set_operators_over_multivalued_keys() {
    let tags: &[(&str, &[&str])] = &[("aws:TagKeys", &["env", "team"])];
    check(&[
        (
            "all values allowed",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","cost"]}}"#,
            tags,
            true,
        ),
        (
            "one value outside the set",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}"#,
            tags,
            false,
        ),
        (
            "all-values on missing key is true",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}"#,
            &[],
            true,
        ),
        (
            "any value in the set",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","x"]}}"#,
            tags,
            true,
        ),
        (
            "no value in the set",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["x"]}}"#,
            tags,
            false,
        ),
        (
            "any-value on missing key is false",
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}"#,
            &[],
            false,
        ),
        (
            "all-values like",
            r#"{"ForAllValues:StringLike":{"aws:TagKeys":["e*","t*"]}}"#,
            tags,
            true,
        ),
        (
            "any-value not-equals: some value outside",
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#,
            tags,
            true,
        ),
        (
            "any-value not-equals: all inside",
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}"#,
            tags,
            false,
        ),
        (
            "all-values not-equals: none forbidden",
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#,
            tags,
            true,
        ),
        (
            "all-values not-equals: one forbidden",
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["team"]}}"#,
            tags,
            false,
        ),
        (
            "any-value not-equals on missing key",
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#,
            &[],
            false,
        ),
        (
            "all-values not-equals on missing key",
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["env"]}}"#,
            &[],
            true,
        ),
        (
            "any-value with if-exists on missing key",
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}"#,
            &[],
            true,
        ),
        (
            "plain operator matches any request value",
            r#"{"StringEquals":{"aws:TagKeys":"team"}}"#,
            tags,
            true,
        ),
        (
            "plain negated operator needs every request value unmatched",
            r#"{"StringNotEquals":{"aws:TagKeys":"team"}}"#,
            tags,
            false,
        ),
        (
            "qualifier names are case-insensitive",
            r#"{"forallvalues:stringequals":{"aws:TagKeys":["env","team"]}}"#,
            tags,
            true,
        ),
    ]);
}

#[test]
fn operators_and_keys_are_anded() {
    let cx: &[(&str, &[&str])] = &[("a", &["1"]), ("b", &["2"])];
    check(&[
        (
            "two keys both hold",
            r#"{"StringEquals":{"a":"1","b":"2"}}"#,
            cx,
            true,
        ),
        (
            "two keys one fails",
            r#"{"StringEquals":{"a":"1","b":"3"}}"#,
            cx,
            false,
        ),
        (
            "two operators both hold",
            r#"{"StringEquals":{"a":"1"},"NumericEquals":{"b":"2"}}"#,
            cx,
            true,
        ),
        (
            "two operators one fails",
            r#"{"StringEquals":{"a":"1"},"NumericLessThan":{"b":"2"}}"#,
            cx,
            false,
        ),
        ("empty block holds", r#"{}"#, cx, true),
    ]);
}

#[test]
fn operator_names_parse_with_qualifiers() {
    let op = Operator::parse("ForAllValues:StringLikeIfExists").unwrap();
    assert!(op.if_exists);
    assert_eq!(op.set, Some(crate::SetQualifier::ForAllValues));
    assert_eq!(op.base, crate::BaseOperator::StringLike);
    assert!(Operator::parse("StringLikeIfExist").is_err());
    assert!(Operator::parse("IfExists").is_err());
}
