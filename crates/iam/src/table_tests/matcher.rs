use proptest::prelude::*;

use crate::matcher::{Case, Pattern, wildcard_match};

#[test]
fn wildcards_match_as_iam_documents() {
    use Case::{Insensitive, Sensitive};
    let cases: &[(&str, &str, Case, bool)] = &[
        ("*", "", Sensitive, true),
        ("*", "anything/at:all", Sensitive, true),
        ("", "", Sensitive, true),
        ("", "a", Sensitive, false),
        ("s3:*", "s3:GetObject", Insensitive, true),
        ("s3:Get*", "s3:GetObjectAcl", Insensitive, true),
        ("s3:get*", "s3:GetObject", Insensitive, true),
        ("S3:GETOBJECT", "s3:GetObject", Insensitive, true),
        ("s3:Get*", "s3:PutObject", Insensitive, false),
        ("s3:*Object", "s3:GetObject", Insensitive, true),
        ("s3:*Object", "s3:GetObjectAcl", Insensitive, false),
        ("s3:?etObject", "s3:GetObject", Insensitive, true),
        ("s3:?etObject", "s3:etObject", Insensitive, false),
        ("iam:*", "s3:GetObject", Insensitive, false),
        (
            "arn:aws:s3:::cccs-docs",
            "arn:aws:s3:::cccs-docs",
            Sensitive,
            true,
        ),
        (
            "arn:aws:s3:::cccs-docs",
            "arn:aws:s3:::cccs-docs/k",
            Sensitive,
            false,
        ),
        (
            "arn:aws:s3:::cccs-docs/*",
            "arn:aws:s3:::cccs-docs/a/b/c",
            Sensitive,
            true,
        ),
        (
            "arn:aws:s3:::cccs-docs/*",
            "arn:aws:s3:::cccs-docs/",
            Sensitive,
            true,
        ),
        (
            "arn:aws:s3:::cccs-docs/*",
            "arn:aws:s3:::cccs-docs",
            Sensitive,
            false,
        ),
        (
            "arn:aws:s3:::cccs-docs/*",
            "arn:aws:s3:::cccs-docs-other/k",
            Sensitive,
            false,
        ),
        (
            "arn:aws:s3:::Docs/*",
            "arn:aws:s3:::docs/k",
            Sensitive,
            false,
        ),
        ("arn:aws:s3:::*", "*", Sensitive, false),
        ("arn:*:s3:::b", "arn:aws:s3:::b", Sensitive, true),
        (
            "arn:aws:s3:::b/*.jpg",
            "arn:aws:s3:::b/x/y.jpg",
            Sensitive,
            true,
        ),
        (
            "arn:aws:s3:::b/*.jpg",
            "arn:aws:s3:::b/x/y.jpeg",
            Sensitive,
            false,
        ),
        ("a*b*c", "abc", Sensitive, true),
        ("a*b*c", "aXbYbZc", Sensitive, true),
        ("a*b*c", "aXbYcZ", Sensitive, false),
        ("a**", "a", Sensitive, true),
        ("*a", "bbba", Sensitive, true),
        ("?", "é", Sensitive, true),
        ("??", "é", Sensitive, false),
    ];
    for (pattern, text, case, want) in cases {
        assert_eq!(
            wildcard_match(pattern, text, *case),
            *want,
            "{pattern:?} vs {text:?} ({case:?})"
        );
    }
}

#[test]
fn literal_pattern_characters_are_not_wildcards() {
    let mut p = Pattern::new("arn:aws:s3:::b/");
    p.push_literal("*");
    assert!(p.matches("arn:aws:s3:::b/*", Case::Sensitive));
    assert!(!p.matches("arn:aws:s3:::b/x", Case::Sensitive));
}

#[test]
fn split_keeps_colons_of_the_last_component() {
    let parts = Pattern::new("arn:aws:s3:::b/a:b").splitn(6, ':');
    assert_eq!(parts.len(), 6);
    assert!(parts[5].matches("b/a:b", Case::Sensitive));
}

/// The obvious exponential definition, to check the fast matcher against.
fn reference(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && reference(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
    }
}

proptest! {
    #[test]
    fn wildcard_matcher_agrees_with_reference(
        pattern in "[ab*?/:]{0,10}",
        text in "[ab/:]{0,12}",
    ) {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        prop_assert_eq!(
            wildcard_match(&pattern, &text, Case::Sensitive),
            reference(&p, &t)
        );
    }

    #[test]
    fn case_insensitive_matching_ignores_ascii_case(
        pattern in "[aB*?]{0,8}",
        text in "[AbaB]{0,10}",
    ) {
        let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
        let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
        prop_assert_eq!(
            wildcard_match(&pattern, &text, Case::Insensitive),
            reference(&p, &t)
        );
    }
}
