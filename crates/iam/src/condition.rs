//! The `Condition` element: operators, their parsing, and their evaluation
//! against a request's [`ConditionContext`].
//!
//! Semantics, as AWS documents them:
//! - operators in a block, and keys under one operator, are AND-ed;
//! - the policy values of one key are OR-ed, except for negated operators
//!   (`StringNotEquals`, `NotIpAddress`, ...), which hold only when the
//!   request value matches none of them (NOR);
//! - a key absent from the request makes a positive operator false and a
//!   negated operator true; `...IfExists` makes any operator true, and
//!   `Null` tests presence itself;
//! - `ForAnyValue:` holds when some request value satisfies the operator
//!   (false when the key is absent), `ForAllValues:` when every one does
//!   (true when the key is absent);
//! - a policy value whose variable cannot be resolved makes its key false.

use std::net::IpAddr;

use serde_json::Value;

use crate::context::ConditionContext;
use crate::matcher::{Case, Pattern};
use crate::values::{IpRange, decode_base64, parse_bool, parse_date, parse_number};
use crate::variables::Template;

/// The comparison an operator makes, without `IfExists` or set qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

use BaseOperator as B;

/// Every operator by its policy name.
const OPERATORS: &[(&str, BaseOperator)] = &[
    ("StringEquals", B::StringEquals),
    ("StringNotEquals", B::StringNotEquals),
    ("StringEqualsIgnoreCase", B::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", B::StringNotEqualsIgnoreCase),
    ("StringLike", B::StringLike),
    ("StringNotLike", B::StringNotLike),
    ("NumericEquals", B::NumericEquals),
    ("NumericNotEquals", B::NumericNotEquals),
    ("NumericLessThan", B::NumericLessThan),
    ("NumericLessThanEquals", B::NumericLessThanEquals),
    ("NumericGreaterThan", B::NumericGreaterThan),
    ("NumericGreaterThanEquals", B::NumericGreaterThanEquals),
    ("DateEquals", B::DateEquals),
    ("DateNotEquals", B::DateNotEquals),
    ("DateLessThan", B::DateLessThan),
    ("DateLessThanEquals", B::DateLessThanEquals),
    ("DateGreaterThan", B::DateGreaterThan),
    ("DateGreaterThanEquals", B::DateGreaterThanEquals),
    ("Bool", B::Bool),
    ("BinaryEquals", B::BinaryEquals),
    ("IpAddress", B::IpAddress),
    ("NotIpAddress", B::NotIpAddress),
    ("ArnEquals", B::ArnEquals),
    ("ArnNotEquals", B::ArnNotEquals),
    ("ArnLike", B::ArnLike),
    ("ArnNotLike", B::ArnNotLike),
    ("Null", B::Null),
];

impl BaseOperator {
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(n, _)| n)
    }

    /// For a negated operator, its positive form and `true`; otherwise
    /// itself and `false`.
    fn positive(self) -> (Self, bool) {
        match self {
            B::StringNotEquals => (B::StringEquals, true),
            B::StringNotEqualsIgnoreCase => (B::StringEqualsIgnoreCase, true),
            B::StringNotLike => (B::StringLike, true),
            B::NumericNotEquals => (B::NumericEquals, true),
            B::DateNotEquals => (B::DateEquals, true),
            B::NotIpAddress => (B::IpAddress, true),
            B::ArnNotEquals => (B::ArnEquals, true),
            B::ArnNotLike => (B::ArnLike, true),
            op => (op, false),
        }
    }

    /// Checks a policy value without variables has the operator's type.
    fn check_value(self, v: &str) -> Result<(), String> {
        let ok = match self.positive().0 {
            B::NumericEquals
            | B::NumericLessThan
            | B::NumericLessThanEquals
            | B::NumericGreaterThan
            | B::NumericGreaterThanEquals => parse_number(v).is_some(),
            B::DateEquals
            | B::DateLessThan
            | B::DateLessThanEquals
            | B::DateGreaterThan
            | B::DateGreaterThanEquals => parse_date(v).is_some(),
            B::Bool | B::Null => parse_bool(v).is_some(),
            B::BinaryEquals => decode_base64(v).is_some(),
            B::IpAddress => IpRange::parse(v).is_some(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "value \"{v}\" is not valid for condition operator {}",
                self.name()
            ))
        }
    }
}

/// `ForAnyValue:` / `ForAllValues:`, for keys with several values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A full operator as written, e.g. `ForAllValues:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub set: Option<SetQualifier>,
    pub base: BaseOperator,
    pub if_exists: bool,
}

impl Operator {
    /// Reads an operator name; names compare case-insensitively.
    pub fn parse(name: &str) -> Result<Self, String> {
        let unknown = || format!("unknown condition operator \"{name}\"");
        let (set, rest) = match name.split_once(':') {
            Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => {
                (Some(SetQualifier::ForAnyValue), rest)
            }
            Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => {
                (Some(SetQualifier::ForAllValues), rest)
            }
            Some(_) => return Err(unknown()),
            None => (None, name),
        };
        let lookup = |n: &str| {
            OPERATORS
                .iter()
                .find(|(op, _)| op.eq_ignore_ascii_case(n))
                .map(|(_, b)| *b)
        };
        if let Some(base) = lookup(rest) {
            return Ok(Self {
                set,
                base,
                if_exists: false,
            });
        }
        let stem = rest.len().checked_sub("IfExists".len()).and_then(|i| {
            rest.get(i..)
                .filter(|s| s.eq_ignore_ascii_case("IfExists"))
                .map(|_| &rest[..i])
        });
        match stem.and_then(lookup) {
            Some(B::Null) => Err("condition operator Null cannot take IfExists".to_owned()),
            Some(base) => Ok(Self {
                set,
                base,
                if_exists: true,
            }),
            None => Err(unknown()),
        }
    }
}

/// One key under one operator, with its policy values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionClause {
    pub operator: Operator,
    /// The condition key as written (matched case-insensitively).
    pub key: String,
    pub values: Vec<Template>,
}

/// A whole `Condition` block: all clauses must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    pub clauses: Vec<ConditionClause>,
}

impl Condition {
    /// Reads a `Condition` element.
    pub fn parse(v: &Value, variables_enabled: bool) -> Result<Self, String> {
        let Value::Object(ops) = v else {
            return Err("Condition must be an object of operators".to_owned());
        };
        let mut clauses = Vec::new();
        for (op_name, keys) in ops {
            let operator = Operator::parse(op_name)?;
            let Value::Object(keys) = keys else {
                return Err(format!(
                    "condition operator {op_name} must map condition keys to values"
                ));
            };
            for (key, vals) in keys {
                if key.is_empty() {
                    return Err(format!("empty condition key under {op_name}"));
                }
                let raw = condition_values(vals)
                    .ok_or_else(|| format!("condition key \"{key}\" under {op_name} must have a string, number or boolean value, or a list of them"))?;
                let mut values = Vec::with_capacity(raw.len());
                for r in raw {
                    let t = Template::parse(&r, variables_enabled);
                    if !t.has_variables() {
                        operator
                            .base
                            .check_value(&r)
                            .map_err(|e| format!("condition key \"{key}\": {e}"))?;
                    }
                    values.push(t);
                }
                clauses.push(ConditionClause {
                    operator,
                    key: key.clone(),
                    values,
                });
            }
        }
        Ok(Self { clauses })
    }

    /// Whether every clause holds for the request.
    pub fn holds(&self, cx: &ConditionContext) -> bool {
        self.clauses.iter().all(|c| c.holds(cx))
    }
}

fn condition_values(v: &Value) -> Option<Vec<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        v => scalar(v).map(|s| vec![s]),
    }
}

/// A policy value resolved and read as the operator's type.
enum Resolved {
    Text(String),
    Pattern(Pattern),
    /// ARN components: six patterns.
    Arn(Vec<Pattern>),
    Number(f64),
    Date(i64),
    Bytes(Vec<u8>),
    Range(IpRange),
    Bool(bool),
    /// A value that cannot match anything (of the wrong type).
    Never,
}

impl ConditionClause {
    pub fn holds(&self, cx: &ConditionContext) -> bool {
        let op = self.operator;
        let request = cx.get(&self.key);
        if op.base == B::Null {
            let absent = request.is_none();
            return self
                .values
                .iter()
                .any(|v| v.resolve_text(cx).and_then(|t| parse_bool(&t)) == Some(absent));
        }
        let Some(request) = request else {
            let negated = op.base.positive().1;
            return op.if_exists
                || match op.set {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => negated,
                };
        };
        let (positive, negated) = op.base.positive();
        let mut policy = Vec::with_capacity(self.values.len());
        for v in &self.values {
            match resolve(positive, v, cx) {
                Some(r) => policy.push(r),
                None => return false,
            }
        }
        // Whether one request value satisfies the (possibly negated) operator.
        let per_value = |rv: &String| policy.iter().any(|p| compare(positive, p, rv)) != negated;
        match op.set {
            Some(SetQualifier::ForAllValues) => request.iter().all(per_value),
            Some(SetQualifier::ForAnyValue) => request.iter().any(per_value),
            // A plain negated operator must hold for every request value
            // (none matches); a plain positive one for some value.
            None if negated => request.iter().all(per_value),
            None => request.iter().any(per_value),
        }
    }
}

fn resolve(op: BaseOperator, t: &Template, cx: &ConditionContext) -> Option<Resolved> {
    let text = || t.resolve_text(cx);
    Some(match op {
        B::StringEquals => Resolved::Text(text()?),
        B::StringEqualsIgnoreCase => Resolved::Text(text()?.to_lowercase()),
        B::StringLike => Resolved::Pattern(t.resolve_pattern(cx)?),
        B::ArnEquals | B::ArnLike => {
            let parts = t.resolve_pattern(cx)?.splitn(6, ':');
            if parts.len() == 6 {
                Resolved::Arn(parts)
            } else {
                Resolved::Never
            }
        }
        B::NumericEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => {
            parse_number(&text()?).map_or(Resolved::Never, Resolved::Number)
        }
        B::DateEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => parse_date(&text()?).map_or(Resolved::Never, Resolved::Date),
        B::Bool => parse_bool(&text()?).map_or(Resolved::Never, Resolved::Bool),
        B::BinaryEquals => decode_base64(&text()?).map_or(Resolved::Never, Resolved::Bytes),
        B::IpAddress => IpRange::parse(&text()?).map_or(Resolved::Never, Resolved::Range),
        _ => Resolved::Never,
    })
}

/// Whether request value `rv` satisfies positive operator `op` against one
/// resolved policy value.
fn compare(op: BaseOperator, policy: &Resolved, rv: &str) -> bool {
    match (op, policy) {
        (B::StringEquals, Resolved::Text(p)) => p == rv,
        (B::StringEqualsIgnoreCase, Resolved::Text(p)) => *p == rv.to_lowercase(),
        (B::StringLike, Resolved::Pattern(p)) => p.matches(rv, Case::Sensitive),
        (B::ArnEquals | B::ArnLike, Resolved::Arn(parts)) => {
            let rparts: Vec<&str> = rv.splitn(6, ':').collect();
            rparts.len() == 6
                && parts
                    .iter()
                    .zip(rparts)
                    .all(|(p, r)| p.matches(r, Case::Sensitive))
        }
        (_, Resolved::Number(p)) => parse_number(rv).is_some_and(|r| match op {
            B::NumericEquals => r == *p,
            B::NumericLessThan => r < *p,
            B::NumericLessThanEquals => r <= *p,
            B::NumericGreaterThan => r > *p,
            B::NumericGreaterThanEquals => r >= *p,
            _ => false,
        }),
        (_, Resolved::Date(p)) => parse_date(rv).is_some_and(|r| match op {
            B::DateEquals => r == *p,
            B::DateLessThan => r < *p,
            B::DateLessThanEquals => r <= *p,
            B::DateGreaterThan => r > *p,
            B::DateGreaterThanEquals => r >= *p,
            _ => false,
        }),
        (B::Bool, Resolved::Bool(p)) => parse_bool(rv) == Some(*p),
        (B::BinaryEquals, Resolved::Bytes(p)) => decode_base64(rv).as_ref() == Some(p),
        (B::IpAddress, Resolved::Range(range)) => {
            rv.trim().parse::<IpAddr>().is_ok_and(|a| range.contains(a))
        }
        _ => false,
    }
}
