//! AWS's policy evaluation logic for one request.
//!
//! 1. Every statement that applies is found: in identity policies, one
//!    whose action, resource and condition match; in the resource policy,
//!    one that also names the caller as principal.
//! 2. An applicable `Deny` anywhere is an explicit deny, and final (it binds
//!    even the root user of the owning account).
//! 3. The root user of the resource's account is allowed.
//! 4. Anonymous callers are allowed only by a resource-policy `Allow` whose
//!    principal is `"*"` (or `{"AWS": "*"}`).
//! 5. Within one account (or for resources that belong to no account) an
//!    `Allow` from an identity policy, or from the resource policy naming
//!    the caller directly, allows. A resource policy that names only the
//!    caller's *account* delegates to that account's identity policies, as
//!    AWS does, so it does not allow by itself.
//! 6. Across accounts both sides must allow: the resource policy must name
//!    the caller (or its account), and the caller's identity policies must
//!    allow unless the caller is its account's root.
//! 7. Anything else is an implicit deny.

use crate::Decision;
use crate::context::{Caller, CallerKind, ConditionContext};
use crate::matcher::{Case, wildcard_match};
use crate::policy::{
    ActionSet, Effect, Policy, PrincipalEntry, PrincipalSet, ResourceSet, Statement,
};

/// A policy with the name it is reported by (a managed policy's ARN, an
/// inline policy's name, `bucket-policy`).
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    pub id: &'a str,
    pub policy: &'a Policy,
}

/// Where a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    Identity,
    Resource,
    /// A session policy of temporary credentials.
    Session,
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy_id: String,
    pub source: PolicySource,
    /// The statement's position in its policy, from 0.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The outcome and what produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// For `ExplicitDeny`, every applicable `Deny`; for `Allow`, the
    /// statements that granted (empty when the owning account's root user
    /// was allowed by being root); for `ImplicitDeny`, empty.
    pub decided_by: Vec<MatchedStatement>,
    /// For `ImplicitDeny`: which kind of policy lacked the needed `Allow`.
    pub missing_allow: Option<PolicySource>,
}

/// Everything one decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    pub caller: &'a Caller,
    /// E.g. `s3:GetObject`.
    pub action: &'a str,
    /// E.g. `arn:aws:s3:::bucket/key`, or `*` for service-level actions.
    pub resource: &'a str,
    /// The account owning the resource; `None` for resources of no account
    /// (`*`, a bucket being created).
    pub resource_owner: Option<&'a str>,
    pub context: &'a ConditionContext,
    /// The caller's identity policies (user, group and managed policies).
    pub identity_policies: &'a [NamedPolicy<'a>],
    /// The resource's policy (the bucket policy), if any.
    pub resource_policy: Option<NamedPolicy<'a>>,
    /// For temporary credentials made with session policies: those
    /// policies. The session may then do only what they allow as well,
    /// unless a resource policy names the session itself.
    pub session_policies: Option<&'a [NamedPolicy<'a>]>,
    /// What the resource's ACL grants the caller, if anything. A grant acts
    /// as a resource-policy `Allow` naming the caller's account (or, for
    /// `AllUsers`, everyone); it never overrides a `Deny`.
    pub acl: Option<AclReach>,
}

/// How far an ACL grant reaches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclReach {
    /// A grant to the caller's account (or to every signed request).
    Account,
    /// A grant to everyone, anonymous requests included.
    Everyone,
}

/// How a resource-policy statement names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    No,
    /// Through the caller's account: delegated to identity policies.
    ViaAccount,
    /// By the caller's own ARN (or root's account).
    Direct,
    /// `"*"`: everyone, anonymous included.
    Everyone,
}

/// Decides a request by AWS's evaluation logic (see the module docs).
pub fn evaluate(req: &AuthzRequest<'_>) -> Evaluation {
    let caller = req.caller;
    let anonymous = caller.kind == CallerKind::Anonymous;
    let mut denies = Vec::new();
    let mut identity_allows = Vec::new();
    // (statement, how it names the caller, whether it names the session ARN)
    let mut resource_allows: Vec<(MatchedStatement, Grant, bool)> = Vec::new();
    let mut session_allows = Vec::new();

    // Anonymous callers have no identity; any policies passed are ignored.
    let identity = if anonymous {
        &[][..]
    } else {
        req.identity_policies
    };
    for np in identity {
        for (index, st) in np.policy.statements.iter().enumerate() {
            if statement_applies(st, req) {
                let m = matched(np, PolicySource::Identity, index, st);
                match st.effect {
                    Effect::Deny => denies.push(m),
                    Effect::Allow => identity_allows.push(m),
                }
            }
        }
    }
    let session = if anonymous {
        None
    } else {
        req.session_policies
    };
    for np in session.unwrap_or_default() {
        for (index, st) in np.policy.statements.iter().enumerate() {
            if statement_applies(st, req) {
                let m = matched(np, PolicySource::Session, index, st);
                match st.effect {
                    Effect::Deny => denies.push(m),
                    Effect::Allow => session_allows.push(m),
                }
            }
        }
    }
    if let Some(np) = req.resource_policy {
        for (index, st) in np.policy.statements.iter().enumerate() {
            let grant = principal_grant(st.principal.as_ref(), caller);
            if grant == Grant::No || !statement_applies(st, req) {
                continue;
            }
            let m = matched(&np, PolicySource::Resource, index, st);
            match st.effect {
                Effect::Deny => denies.push(m),
                Effect::Allow => resource_allows.push((m, grant, names_session(st, caller))),
            }
        }
    }

    if let Some(reach) = req.acl {
        let m = MatchedStatement {
            policy_id: "acl".into(),
            source: PolicySource::Resource,
            index: 0,
            sid: None,
            effect: Effect::Allow,
        };
        resource_allows.push((
            m,
            match reach {
                AclReach::Account => Grant::ViaAccount,
                AclReach::Everyone => Grant::Everyone,
            },
            false,
        ));
    }
    if !denies.is_empty() {
        return Evaluation {
            decision: Decision::ExplicitDeny,
            decided_by: denies,
            missing_allow: None,
        };
    }
    // Session policies bound the session: without an Allow in them, only a
    // resource policy naming the session's own ARN can still allow.
    let outside_session = session.is_some() && session_allows.is_empty();
    if outside_session {
        identity_allows.clear();
        resource_allows.retain(|(_, _, direct)| *direct);
    }
    let same_account = match req.resource_owner {
        None => !anonymous,
        Some(owner) => caller.account.as_deref() == Some(owner),
    };
    let allow = |decided_by: Vec<MatchedStatement>| Evaluation {
        decision: Decision::Allow,
        decided_by,
        missing_allow: None,
    };
    let implicit = |missing: PolicySource| Evaluation {
        decision: Decision::ImplicitDeny,
        decided_by: Vec::new(),
        missing_allow: Some(missing),
    };
    let grants_at_least = |min: Grant| -> Vec<MatchedStatement> {
        resource_allows
            .iter()
            .filter(|(_, g, _)| *g >= min)
            .map(|(m, _, _)| m.clone())
            .collect()
    };

    if anonymous {
        let public = grants_at_least(Grant::Everyone);
        return if public.is_empty() {
            implicit(PolicySource::Resource)
        } else {
            allow(public)
        };
    }
    if same_account {
        if caller.kind == CallerKind::Root {
            return allow(Vec::new());
        }
        let mut by = identity_allows;
        by.extend(grants_at_least(Grant::Direct));
        return if by.is_empty() {
            implicit(if outside_session {
                PolicySource::Session
            } else {
                PolicySource::Identity
            })
        } else {
            allow(by)
        };
    }
    let resource_side = grants_at_least(Grant::ViaAccount);
    if resource_side.is_empty() {
        return implicit(PolicySource::Resource);
    }
    if caller.kind != CallerKind::Root && identity_allows.is_empty() {
        return implicit(if outside_session {
            PolicySource::Session
        } else {
            PolicySource::Identity
        });
    }
    let mut by = identity_allows;
    by.extend(resource_side);
    allow(by)
}

/// Whether an `Allow` of the resource policy that applies to the request
/// names the caller (directly, through its account, or as everyone). A
/// role's trust policy must do this for AssumeRole, whatever the caller's
/// identity policies allow.
pub fn resource_policy_allows_caller(req: &AuthzRequest<'_>) -> bool {
    req.resource_policy.is_some_and(|np| {
        np.policy.statements.iter().any(|st| {
            st.effect == Effect::Allow
                && principal_grant(st.principal.as_ref(), req.caller) != Grant::No
                && statement_applies(st, req)
        })
    })
}

fn matched(
    np: &NamedPolicy<'_>,
    source: PolicySource,
    index: usize,
    st: &Statement,
) -> MatchedStatement {
    MatchedStatement {
        policy_id: np.id.to_owned(),
        source,
        index,
        sid: st.sid.clone(),
        effect: st.effect,
    }
}

/// Whether a statement's action, resource and condition match the request
/// (the principal is checked separately).
pub fn statement_applies(st: &Statement, req: &AuthzRequest<'_>) -> bool {
    action_matches(&st.action, req.action)
        && resource_matches(st.resource.as_ref(), req.resource, req.context)
        && st.condition.holds(req.context)
}

/// Actions compare case-insensitively, with wildcards.
pub fn action_matches(set: &ActionSet, action: &str) -> bool {
    let any = |list: &[String]| {
        list.iter()
            .any(|p| wildcard_match(p, action, Case::Insensitive))
    };
    match set {
        ActionSet::Action(list) => any(list),
        ActionSet::NotAction(list) => !any(list),
    }
}

/// Resources compare case-sensitively, `*` spanning `/` and `:`. A
/// `Resource` entry whose variable cannot be resolved matches nothing; such
/// an entry in `NotResource` makes the whole element not match.
pub fn resource_matches(set: Option<&ResourceSet>, resource: &str, cx: &ConditionContext) -> bool {
    match set {
        None => true,
        Some(ResourceSet::Resource(list)) => list.iter().any(|t| {
            t.resolve_pattern(cx)
                .is_some_and(|p| p.matches(resource, Case::Sensitive))
        }),
        Some(ResourceSet::NotResource(list)) => {
            let mut any = false;
            for t in list {
                match t.resolve_pattern(cx) {
                    Some(p) => any |= p.matches(resource, Case::Sensitive),
                    None => return false,
                }
            }
            !any
        }
    }
}

/// Whether a resource-policy statement names the caller's role session by
/// its own ARN (not through the role or the account).
fn names_session(st: &Statement, caller: &Caller) -> bool {
    caller.kind == CallerKind::AssumedRole
        && matches!(&st.principal, Some(PrincipalSet::Principal(entries))
            if entries.iter().any(|e| matches!(e, PrincipalEntry::AssumedRole(a) if *a == caller.arn)))
}

/// Whether a resource-policy `Principal`/`NotPrincipal` names the caller, and how.
fn principal_grant(set: Option<&PrincipalSet>, caller: &Caller) -> Grant {
    match set {
        // A resource-policy statement without a principal applies to no one.
        None => Grant::No,
        Some(PrincipalSet::Principal(entries)) => entries
            .iter()
            .map(|e| entry_grant(e, caller))
            .max()
            .unwrap_or(Grant::No),
        Some(PrincipalSet::NotPrincipal(entries)) => {
            if not_principal_excludes(entries, caller) {
                Grant::No
            } else if caller.kind == CallerKind::Anonymous {
                // Applies to anonymous callers for Deny; an Allow through
                // NotPrincipal is not a public grant.
                Grant::ViaAccount
            } else {
                Grant::Direct
            }
        }
    }
}

/// Whether a principal entry names the caller.
pub fn principal_entry_matches(entry: &PrincipalEntry, caller: &Caller) -> bool {
    entry_grant(entry, caller) != Grant::No
}

fn entry_grant(entry: &PrincipalEntry, caller: &Caller) -> Grant {
    let account_grant = || {
        if caller.kind == CallerKind::Root {
            Grant::Direct
        } else {
            Grant::ViaAccount
        }
    };
    match entry {
        PrincipalEntry::Everyone => Grant::Everyone,
        PrincipalEntry::Account(a) if caller.account.as_deref() == Some(a.as_str()) => {
            account_grant()
        }
        PrincipalEntry::CanonicalUser(c)
            if caller.canonical_id.as_deref() == Some(c.as_str())
                && caller.kind != CallerKind::Anonymous =>
        {
            account_grant()
        }
        PrincipalEntry::User(arn) if caller.kind == CallerKind::User && caller.arn == *arn => {
            Grant::Direct
        }
        PrincipalEntry::AssumedRole(arn)
            if caller.kind == CallerKind::AssumedRole && caller.arn == *arn =>
        {
            Grant::Direct
        }
        PrincipalEntry::Role(arn)
            if caller.kind == CallerKind::AssumedRole
                && caller.role_arn.as_deref() == Some(arn.as_str()) =>
        {
            Grant::Direct
        }
        _ => Grant::No,
    }
}

/// The identities a request is made as, each of which a `NotPrincipal`
/// must list for the caller to be excluded. AWS: "if you specify an
/// assumed-role session you must also include the role ARN and the
/// account ARN"; and listing an account names only the account itself (its
/// root), so `NotPrincipal: [user/bob, account]` spares Bob and root only.
#[derive(Clone, Copy)]
enum Identity {
    Account,
    User,
    Role,
    Session,
    Anonymous,
}

fn not_principal_excludes(entries: &[PrincipalEntry], caller: &Caller) -> bool {
    let identities: &[Identity] = match caller.kind {
        CallerKind::Root => &[Identity::Account],
        CallerKind::User => &[Identity::Account, Identity::User],
        CallerKind::AssumedRole => &[Identity::Account, Identity::Role, Identity::Session],
        CallerKind::Anonymous => &[Identity::Anonymous],
    };
    identities.iter().all(|id| {
        entries.iter().any(|e| match (e, id) {
            (PrincipalEntry::Everyone, _) => true,
            (_, Identity::Anonymous) => false,
            (PrincipalEntry::Account(a), Identity::Account) => {
                caller.account.as_deref() == Some(a.as_str())
            }
            (PrincipalEntry::CanonicalUser(c), Identity::Account) => {
                caller.canonical_id.as_deref() == Some(c.as_str())
            }
            (PrincipalEntry::User(arn), Identity::User) => caller.arn == *arn,
            (PrincipalEntry::Role(arn), Identity::Role) => {
                caller.role_arn.as_deref() == Some(arn.as_str())
            }
            (PrincipalEntry::AssumedRole(arn), Identity::Session) => caller.arn == *arn,
            _ => false,
        })
    })
}

/// The AccessDenied message AWS gives today, naming the caller, action and
/// resource and saying what decided. Meant for denials.
pub fn access_denied_message(
    caller: &Caller,
    action: &str,
    resource: &str,
    eval: &Evaluation,
) -> String {
    let why = match eval.decision {
        Decision::ExplicitDeny => {
            let source = eval
                .decided_by
                .first()
                .map_or(PolicySource::Identity, |m| m.source);
            match source {
                PolicySource::Identity => {
                    "with an explicit deny in an identity-based policy".to_owned()
                }
                PolicySource::Resource => {
                    "with an explicit deny in a resource-based policy".to_owned()
                }
                PolicySource::Session => "with an explicit deny in a session policy".to_owned(),
            }
        }
        _ => match eval.missing_allow {
            Some(PolicySource::Resource) => {
                format!("because no resource-based policy allows the {action} action")
            }
            Some(PolicySource::Session) => {
                format!("because no session policy allows the {action} action")
            }
            _ => format!("because no identity-based policy allows the {action} action"),
        },
    };
    let who = if caller.kind == CallerKind::Anonymous {
        "Anonymous users are".to_owned()
    } else {
        format!("User: {} is", caller.arn)
    };
    format!("{who} not authorized to perform: {action} on resource: \"{resource}\" {why}")
}
