//! Policy variables: `${aws:username}` and friends in `Resource` elements
//! and condition values.
//!
//! Variables are only recognised in policies whose `Version` is
//! `2012-10-17`; in older or versionless policies `${...}` is plain text,
//! as in AWS. `${*}`, `${?}` and `${$}` stand for those characters taken
//! literally (never as wildcards). `${key, 'default'}` supplies a value when
//! the key is absent. A variable whose key is absent and that has no default
//! cannot be resolved, and whatever holds it does not match.

use crate::context::ConditionContext;
use crate::matcher::Pattern;

/// One piece of a policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text as written; `*` and `?` in it are wildcards where the operator
    /// allows wildcards.
    Text(String),
    /// A character that is always literal (from `${*}`, `${?}`, `${$}`).
    Literal(char),
    /// `${key}` or `${key, 'default'}`; `key` is stored lowercased because
    /// context keys compare case-insensitively.
    Variable {
        key: String,
        default: Option<String>,
    },
}

/// A policy string split into text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The string as written in the policy, for display and re-serialising.
    pub raw: String,
    pub parts: Vec<Part>,
}

impl Template {
    /// A template with no variables at all.
    pub fn plain(raw: &str) -> Self {
        Self {
            raw: raw.to_owned(),
            parts: vec![Part::Text(raw.to_owned())],
        }
    }

    /// Splits `raw` into parts, recognising variables only when
    /// `variables_enabled` (policy Version 2012-10-17).
    pub fn parse(raw: &str, variables_enabled: bool) -> Self {
        if !variables_enabled || !raw.contains("${") {
            return Self::plain(raw);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            text.push_str(&rest[..start]);
            let inner = &after[..end];
            if let Some(part) = parse_variable(inner) {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(part);
            } else {
                // Not a variable after all: keep it as written.
                text.push_str(&rest[start..start + 2 + end + 1]);
            }
            rest = &after[end + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Self {
            raw: raw.to_owned(),
            parts,
        }
    }

    /// Whether any part is a variable (and so cannot be checked at parse).
    pub fn has_variables(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Variable { .. }))
    }

    /// The string with variables substituted; `None` when a variable cannot
    /// be resolved. Wildcard characters in the result mean nothing here:
    /// this form is for exact comparisons.
    pub fn resolve_text(&self, cx: &ConditionContext) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Literal(c) => out.push(*c),
                Part::Variable { key, default } => out.push_str(lookup(cx, key, default)?),
            }
        }
        Some(out)
    }

    /// The string as a wildcard pattern: `*`/`?` written in the policy are
    /// wildcards, substituted values and `${*}`-style escapes are literal.
    pub fn resolve_pattern(&self, cx: &ConditionContext) -> Option<Pattern> {
        let mut out = Pattern::default();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_wild(t),
                Part::Literal(c) => out.push_literal(c.encode_utf8(&mut [0; 4])),
                Part::Variable { key, default } => out.push_literal(lookup(cx, key, default)?),
            }
        }
        Some(out)
    }
}

/// A variable's value: the key's single value, else the default. A key with
/// several values cannot stand in for one string, so it does not resolve.
fn lookup<'a>(cx: &'a ConditionContext, key: &str, default: &'a Option<String>) -> Option<&'a str> {
    match cx.get(key) {
        Some([one]) => Some(one.as_str()),
        Some(_) => None,
        None => default.as_deref(),
    }
}

fn parse_variable(inner: &str) -> Option<Part> {
    match inner {
        "*" => return Some(Part::Literal('*')),
        "?" => return Some(Part::Literal('?')),
        "$" => return Some(Part::Literal('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let d = default.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(d.to_owned()))
        }
        None => (inner.trim(), None),
    };
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/-_.@+=".contains(c));
    valid.then(|| Part::Variable {
        key: key.to_ascii_lowercase(),
        default,
    })
}
