//! What IAM entities (users, groups, managed policies) share: their key
//! layout in the metadata store, name and path rules, unique ids, and the
//! check of identity policy documents.

use coffer_iam::{Policy, PolicyError, PolicyKind, PolicySizeLimit};
use coffer_meta::records::{UserRecord, decode, encode};
use coffer_meta::{MetaError, ReadTxn, Table, WriteTxn};

use crate::EngineError;

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A unique id as IAM makes them: a four-letter prefix naming the kind
/// (`AGPA` group, `ANPA` managed policy) and 17 characters.
pub(crate) fn new_entity_id(prefix: &str) -> String {
    let tail: String = (0..17)
        .map(|_| char::from(ID_CHARS[rand::random_range(0..ID_CHARS.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// The key of a named entity of an account in Users, Groups and Policies.
pub(crate) fn entity_key(account: &str, name: &str) -> Vec<u8> {
    let mut k = account.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(name.to_ascii_lowercase().as_bytes());
    k
}

/// Every key of an account in an entity table, as (start, end).
pub(crate) fn account_range(account: &str) -> (Vec<u8>, Vec<u8>) {
    let start = entity_key(account, "");
    let mut end = account.as_bytes().to_vec();
    end.push(1);
    (start, end)
}

/// Refuses a new user, group or role (`kind` as IAM names it in messages,
/// `table` where it lives) whose name the account already uses, in any
/// case, or that would exceed the account's `quota` of that kind
/// (`quota_name` as IAM reports it).
pub(crate) fn check_new_entity(
    tx: &dyn ReadTxn,
    table: Table,
    account: &str,
    name: &str,
    (kind, quota_name, quota): (&str, &str, usize),
) -> Result<(), EngineError> {
    if tx.get(table, &entity_key(account, name))?.is_some() {
        return Err(EngineError::EntityAlreadyExists(format!(
            "{kind} with name {name} already exists."
        )));
    }
    let (start, end) = account_range(account);
    if tx.range(table, &start, Some(&end), quota)?.len() >= quota {
        return Err(EngineError::LimitExceeded(format!(
            "Cannot exceed quota for {quota_name}: {quota}"
        )));
    }
    Ok(())
}

/// IAM names: 1 to `max` characters of `[A-Za-z0-9+=,.@_-]` (64 for users,
/// 128 for groups and managed policies).
pub(crate) fn check_name(field: &str, name: &str, max: usize) -> Result<(), EngineError> {
    let ok = (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidInput(format!(
            "The specified value for {field} is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- (got {name:?})"
        )))
    }
}

/// IAM paths: `/` or `/segments/`, at most 512 characters of printable ASCII.
pub(crate) fn check_path(path: &str) -> Result<(), EngineError> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidInput(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters (got {path:?})"
        )))
    }
}

/// Checks an identity policy document for an entity whose documents are
/// counted together against `limit` (`all` holds them, this one included).
pub(crate) fn check_identity_document(
    document: &str,
    all: &str,
    limit: PolicySizeLimit,
) -> Result<(), EngineError> {
    let refused = |e: PolicyError| match e {
        PolicyError::TooLarge { .. } => EngineError::LimitExceeded(e.to_string()),
        other => EngineError::MalformedPolicyDocument(other.to_string()),
    };
    Policy::parse_for(document, PolicyKind::Identity).map_err(refused)?;
    limit.check(all).map_err(refused)
}

pub(crate) fn load_user(
    tx: &dyn ReadTxn,
    account: &str,
    name: &str,
) -> Result<UserRecord, EngineError> {
    tx.get(Table::Users, &entity_key(account, name))?
        .map(|v| decode(&v))
        .transpose()?
        .ok_or_else(|| {
            EngineError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })
}

pub(crate) fn store_user(
    tx: &mut dyn WriteTxn,
    account: &str,
    user: &UserRecord,
) -> Result<(), MetaError> {
    tx.put(
        Table::Users,
        &entity_key(account, &user.name),
        &encode(user),
    )
}

/// Adds or replaces the inline policy `name` of an entity, after checking the
/// document and the quota that all of the entity's inline policies share.
pub(crate) fn put_inline_policy(
    policies: &mut Vec<(String, String)>,
    name: &str,
    document: &str,
    limit: PolicySizeLimit,
) -> Result<(), EngineError> {
    check_name("policyName", name, 128)?;
    let all: String = policies
        .iter()
        .filter(|(n, _)| n != name)
        .map(|(_, d)| d.as_str())
        .chain([document])
        .collect();
    check_identity_document(document, &all, limit)?;
    match policies.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = document.to_owned(),
        None => policies.push((name.to_owned(), document.to_owned())),
    }
    Ok(())
}

/// Removes the inline policy `name` of an entity (`kind` is `user` or
/// `group`, for the error).
pub(crate) fn delete_inline_policy(
    policies: &mut Vec<(String, String)>,
    name: &str,
    kind: &str,
) -> Result<(), EngineError> {
    let before = policies.len();
    policies.retain(|(n, _)| n != name);
    if policies.len() == before {
        return Err(EngineError::NoSuchEntity(format!(
            "The {kind} policy with name {name} cannot be found."
        )));
    }
    Ok(())
}
