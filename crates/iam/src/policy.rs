//! The policy document: its model, its parsing from JSON, its validation
//! for the place it is used, and the size limits AWS puts on it.
//!
//! Parsing ([`Policy::parse`]) checks everything that is wrong wherever a
//! policy is used: JSON shape, unknown or misspelt elements, `Effect`,
//! exactly one of `Action`/`NotAction`, action syntax, principal syntax,
//! condition operators and typed condition values. [`Policy::validate`]
//! adds the rules of one use ([`PolicyKind`]): identity policies name no
//! principal and need a `Resource`, resource policies need a principal.

use std::fmt;

use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::variables::Template;

/// The current policy language version; the only one with variables.
pub const VERSION_2012_10_17: &str = "2012-10-17";
/// The previous version, still accepted; `${...}` is plain text in it.
pub const VERSION_2008_10_17: &str = "2008-10-17";

/// What is wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// Not a valid policy: IAM's `MalformedPolicyDocument`, S3's
    /// `MalformedPolicy`. The message says what and where.
    Malformed(String),
    /// Longer than AWS allows for this kind of policy: IAM's
    /// `LimitExceeded`, S3's `PolicyTooLarge`-style `MalformedPolicy`.
    TooLarge {
        limit: PolicySizeLimit,
        actual: usize,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => f.write_str(m),
            Self::TooLarge { limit, actual } => write!(
                f,
                "Cannot exceed quota for PolicySize: {} ({} is {actual} {}{})",
                limit.max_len(),
                limit.describe(),
                if limit.counts_whitespace() {
                    "bytes"
                } else {
                    "characters"
                },
                if limit.counts_whitespace() {
                    ""
                } else {
                    " not counting whitespace"
                },
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(msg.into())
}

/// The size quotas AWS applies, by where a policy is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySizeLimit {
    /// Customer-managed policy: 6,144 characters, whitespace not counted.
    ManagedPolicy,
    /// All inline policies of one user together: 2,048 characters.
    UserInline,
    /// All inline policies of one group together: 5,120 characters.
    GroupInline,
    /// All inline policies of one role together: 10,240 characters.
    RoleInline,
    /// A bucket policy: 20 KiB, whitespace counted.
    BucketPolicy,
}

impl PolicySizeLimit {
    pub fn max_len(self) -> usize {
        match self {
            Self::ManagedPolicy => 6_144,
            Self::UserInline => 2_048,
            Self::GroupInline => 5_120,
            Self::RoleInline => 10_240,
            Self::BucketPolicy => 20 * 1024,
        }
    }

    /// IAM quotas ignore whitespace; S3 counts the bytes of a bucket policy.
    pub fn counts_whitespace(self) -> bool {
        self == Self::BucketPolicy
    }

    fn describe(self) -> &'static str {
        match self {
            Self::ManagedPolicy => "managed policy",
            Self::UserInline => "user inline policies",
            Self::GroupInline => "group inline policies",
            Self::RoleInline => "role inline policies",
            Self::BucketPolicy => "bucket policy",
        }
    }

    /// The length of `text` as this quota counts it.
    pub fn measure(self, text: &str) -> usize {
        if self.counts_whitespace() {
            text.len()
        } else {
            text.chars().filter(|c| !c.is_whitespace()).count()
        }
    }

    /// Checks `text` (for inline quotas: all of the entity's inline policies
    /// together) against the quota.
    pub fn check(self, text: &str) -> Result<(), PolicyError> {
        let actual = self.measure(text);
        if actual > self.max_len() {
            Err(PolicyError::TooLarge {
                limit: self,
                actual,
            })
        } else {
            Ok(())
        }
    }
}

/// Where a policy is used, which decides the rules it must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role: no `Principal`, `Resource` required.
    Identity,
    /// Attached to a resource (a bucket policy): `Principal` or
    /// `NotPrincipal` required, and `Resource` or `NotResource`.
    Resource,
    /// A role's trust policy: a principal is required and there is no
    /// `Resource` (the role itself is the resource).
    Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

/// `Action` or `NotAction`: action patterns such as `s3:Get*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSet {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

/// `Resource` or `NotResource`: ARN patterns, possibly with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSet {
    Resource(Vec<Template>),
    NotResource(Vec<Template>),
}

/// One principal named in a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Everyone,
    /// A 12-digit account id or `arn:aws:iam::ACCOUNT:root`: the account,
    /// i.e. every principal in it.
    Account(String),
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    User(String),
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`: every session of the role.
    Role(String),
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole(String),
    /// `{"CanonicalUser": ID}`: an account by its S3 canonical id.
    CanonicalUser(String),
    /// `{"Service": "NAME.amazonaws.com"}`: kept, never matches a caller.
    Service(String),
    /// `{"Federated": ...}`: kept, never matches a caller.
    Federated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSet {
    Principal(Vec<PrincipalEntry>),
    NotPrincipal(Vec<PrincipalEntry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalSet>,
    pub action: ActionSet,
    /// `None` only where the policy kind allows it (trust policies).
    pub resource: Option<ResourceSet>,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Whether the policy grants access to everyone: an `Allow` whose
    /// principal is `"*"` and that no condition narrows (the public access
    /// block's notion of a public policy, simplified: any condition counts
    /// as narrowing).
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|st| {
            st.effect == Effect::Allow
                && st.condition.clauses.is_empty()
                && matches!(&st.principal, Some(PrincipalSet::Principal(entries))
                    if entries.contains(&PrincipalEntry::Everyone))
        })
    }

    /// Parses a policy document, checking what is wrong in any use.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("Policy document is not valid JSON: {e}")))?;
        let Value::Object(top) = doc else {
            return Err(malformed("Policy document must be a JSON object"));
        };
        for key in top.keys() {
            if !["Version", "Id", "Statement"].contains(&key.as_str()) {
                return Err(malformed(format!(
                    "Policy document has unknown element \"{key}\" (expected Version, Id, Statement)"
                )));
            }
        }
        let version = optional_string(&top, "Version", "Policy document")?;
        if let Some(v) = &version
            && v != VERSION_2012_10_17
            && v != VERSION_2008_10_17
        {
            return Err(malformed(format!(
                "Version \"{v}\" is not supported; use \"{VERSION_2012_10_17}\""
            )));
        }
        let id = optional_string(&top, "Id", "Policy document")?;
        let variables = version.as_deref() == Some(VERSION_2012_10_17);
        let statements = match top.get("Statement") {
            None => {
                return Err(malformed(
                    "Policy document is missing required element Statement",
                ));
            }
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(malformed("Statement must not be an empty list"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, s)| parse_statement(s, variables).map_err(|m| at_statement(i, s, &m)))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s @ Value::Object(_)) => {
                vec![parse_statement(s, variables).map_err(|m| at_statement(0, s, &m))?]
            }
            Some(_) => {
                return Err(malformed(
                    "Statement must be an object or a list of objects",
                ));
            }
        };
        Ok(Self {
            version,
            id,
            statements,
        })
    }

    /// Parses and validates for one use.
    pub fn parse_for(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let p = Self::parse(text)?;
        p.validate(kind)?;
        Ok(p)
    }

    /// Whether `${...}` policy variables are substituted (Version 2012-10-17).
    pub fn variables_enabled(&self) -> bool {
        self.version.as_deref() == Some(VERSION_2012_10_17)
    }

    /// Checks the rules of `kind` on an already parsed policy.
    pub fn validate(&self, kind: PolicyKind) -> Result<(), PolicyError> {
        let mut sids: Vec<&str> = Vec::new();
        for (i, st) in self.statements.iter().enumerate() {
            let at = |m: &str| {
                let name = st
                    .sid
                    .as_deref()
                    .map(|s| format!(" (Sid \"{s}\")"))
                    .unwrap_or_default();
                malformed(format!("Statement[{i}]{name}: {m}"))
            };
            if let Some(sid) = st.sid.as_deref() {
                if sids.contains(&sid) {
                    return Err(at("Statement IDs (Sid) must be unique within a policy"));
                }
                sids.push(sid);
                if kind == PolicyKind::Identity && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(at("Sid may contain only letters A-Z, a-z and digits 0-9"));
                }
            }
            match kind {
                PolicyKind::Identity => {
                    if st.principal.is_some() {
                        return Err(at("Policy document should not specify a principal"));
                    }
                }
                PolicyKind::Resource | PolicyKind::Trust => {
                    if st.principal.is_none() {
                        return Err(at("missing required element Principal (or NotPrincipal)"));
                    }
                }
            }
            match (kind, &st.resource) {
                (PolicyKind::Trust, Some(_)) => {
                    return Err(at("a trust policy must not have Resource or NotResource"));
                }
                (PolicyKind::Identity | PolicyKind::Resource, None) => {
                    return Err(at("missing required element Resource (or NotResource)"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn at_statement(i: usize, s: &Value, m: &str) -> PolicyError {
    let name = s
        .get("Sid")
        .and_then(Value::as_str)
        .map(|s| format!(" (Sid \"{s}\")"))
        .unwrap_or_default();
    malformed(format!("Statement[{i}]{name}: {m}"))
}

const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_statement(v: &Value, variables: bool) -> Result<Statement, String> {
    let Value::Object(st) = v else {
        return Err("each statement must be a JSON object".to_owned());
    };
    for key in st.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "unknown element \"{key}\" (expected one of {})",
                STATEMENT_KEYS.join(", ")
            ));
        }
    }
    let sid = optional_string(st, "Sid", "statement").map_err(|e| e.to_string())?;
    let effect = match st.get("Effect") {
        None => return Err("missing required element Effect".to_owned()),
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(format!("Effect must be \"Allow\" or \"Deny\", not {other}"));
        }
    };
    let action = match one_of(st, "Action", "NotAction")? {
        None => return Err("missing required element Action (or NotAction)".to_owned()),
        Some((name, v)) => {
            let list = string_list(v, name)?;
            for a in &list {
                check_action(a)?;
            }
            if name == "Action" {
                ActionSet::Action(list)
            } else {
                ActionSet::NotAction(list)
            }
        }
    };
    let resource = match one_of(st, "Resource", "NotResource")? {
        None => None,
        Some((name, v)) => {
            let list = string_list(v, name)?;
            for r in &list {
                check_resource(r)?;
            }
            let list = list.iter().map(|r| Template::parse(r, variables)).collect();
            Some(if name == "Resource" {
                ResourceSet::Resource(list)
            } else {
                ResourceSet::NotResource(list)
            })
        }
    };
    let principal = match one_of(st, "Principal", "NotPrincipal")? {
        None => None,
        Some((name, v)) => {
            let entries = parse_principal(v, name)?;
            Some(if name == "Principal" {
                PrincipalSet::Principal(entries)
            } else {
                PrincipalSet::NotPrincipal(entries)
            })
        }
    };
    let condition = match st.get("Condition") {
        None => Condition::default(),
        Some(c) => Condition::parse(c, variables).map_err(|e| format!("Condition: {e}"))?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        condition,
    })
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    within: &str,
) -> Result<Option<String>, PolicyError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(format!("{within}: {key} must be a string"))),
    }
}

/// The one element of a pair (`Action`/`NotAction`) that is present.
fn one_of<'a>(
    st: &'a Map<String, Value>,
    a: &'static str,
    b: &'static str,
) -> Result<Option<(&'static str, &'a Value)>, String> {
    match (st.get(a), st.get(b)) {
        (Some(_), Some(_)) => Err(format!("has both {a} and {b}; use exactly one")),
        (Some(v), None) => Ok(Some((a, v))),
        (None, Some(v)) => Ok(Some((b, v))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty list of strings.
fn string_list(v: &Value, name: &str) -> Result<Vec<String>, String> {
    let list = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{name} must be a string or a list of strings"))?,
        _ => return Err(format!("{name} must be a string or a list of strings")),
    };
    if list.is_empty() {
        return Err(format!("{name} must not be empty"));
    }
    Ok(list)
}

/// `*` or `service:action`, where the action part may use `*` and `?`.
fn check_action(a: &str) -> Result<(), String> {
    if a == "*" {
        return Ok(());
    }
    let ok = a.split_once(':').is_some_and(|(svc, act)| {
        !svc.is_empty()
            && svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !act.is_empty()
            && act
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Action \"{a}\" must be \"*\" or of the form service:action (for example s3:GetObject or s3:Get*)"
        ))
    }
}

/// `*` or an ARN with at least its six colon-separated parts.
fn check_resource(r: &str) -> Result<(), String> {
    if r == "*" || (r.starts_with("arn:") && r.split(':').count() >= 6) {
        Ok(())
    } else {
        Err(format!(
            "Resource \"{r}\" must be \"*\" or an ARN such as arn:aws:s3:::bucket/key"
        ))
    }
}

fn parse_principal(v: &Value, name: &str) -> Result<Vec<PrincipalEntry>, String> {
    let map = match v {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalEntry::Everyone]),
        Value::Object(map) if !map.is_empty() => map,
        _ => {
            return Err(format!(
                "{name} must be \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::123456789012:user/name\"}}"
            ));
        }
    };
    let mut out = Vec::new();
    for (kind, values) in map {
        let values = string_list(values, &format!("{name}.{kind}"))?;
        for val in values {
            out.push(match kind.as_str() {
                "AWS" => aws_principal(&val)?,
                "CanonicalUser" => PrincipalEntry::CanonicalUser(val),
                "Service" => PrincipalEntry::Service(val),
                "Federated" => PrincipalEntry::Federated(val),
                other => {
                    return Err(format!(
                        "{name} has unknown principal type \"{other}\" (expected AWS, CanonicalUser, Service or Federated)"
                    ));
                }
            });
        }
    }
    Ok(out)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// An `AWS` principal: `*`, an account id, or a root/user/role/session ARN.
/// Wildcards are not allowed in ARNs (AWS rejects them).
fn aws_principal(val: &str) -> Result<PrincipalEntry, String> {
    if val == "*" {
        return Ok(PrincipalEntry::Everyone);
    }
    if is_account_id(val) {
        return Ok(PrincipalEntry::Account(val.to_owned()));
    }
    let invalid = || format!("Invalid principal in policy: \"{val}\"");
    if val.contains(['*', '?']) {
        return Err(format!(
            "{}: wildcards are not allowed in principal ARNs (use \"*\" with a condition instead)",
            invalid()
        ));
    }
    let parts: Vec<&str> = val.splitn(6, ':').collect();
    let [arn, _partition, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    if arn != "arn" || !region.is_empty() || !is_account_id(account) {
        return Err(invalid());
    }
    let entry = match service {
        "iam" if resource == "root" => PrincipalEntry::Account(account.to_owned()),
        "iam" if resource.len() > 5 && resource.starts_with("user/") => {
            PrincipalEntry::User(val.to_owned())
        }
        "iam" if resource.len() > 5 && resource.starts_with("role/") => {
            PrincipalEntry::Role(val.to_owned())
        }
        "sts" if resource.starts_with("assumed-role/") && resource.split('/').count() == 3 => {
            PrincipalEntry::AssumedRole(val.to_owned())
        }
        _ => return Err(invalid()),
    };
    Ok(entry)
}
