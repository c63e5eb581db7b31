//! The rest of IAM's user administration: renaming and moving users,
//! tagging them, and when their access keys were last used.

use std::collections::HashMap;
use std::sync::Mutex;

use coffer_meta::records::{AccessKeyRecord, UserRecord, decode, encode};
use coffer_meta::{MetaError, Table};

use coffer_iam::PolicySizeLimit;

use crate::entities::{check_name, check_path, entity_key, load_user, store_user};
use crate::groups::{load_group, store_group};
use crate::managed_policies::{load_policy, store_policy};
use crate::{Engine, EngineError, now_ms};

/// IAM's tag quotas.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// Last use is recorded at most this often per key: a write per request
/// would double the cost of every request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// When each key was last recorded as used, to rate-limit the writes.
#[derive(Default)]
pub(crate) struct LastUsed(Mutex<HashMap<String, i64>>);

/// Adds `new` to an entity's tags, replacing the values of keys it already
/// has, within IAM's quota (`quota` names it in the error).
pub(crate) fn merge_tags(
    tags: &mut Vec<(String, String)>,
    new: &[(String, String)],
    quota: &str,
) -> Result<(), EngineError> {
    for (k, v) in new {
        match tags.iter_mut().find(|(tk, _)| tk == k) {
            Some(t) => t.1.clone_from(v),
            None => tags.push((k.clone(), v.clone())),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(EngineError::LimitExceeded(format!(
            "Cannot exceed quota for {quota}: {MAX_TAGS}"
        )));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[(String, String)]) -> Result<(), EngineError> {
    for (k, v) in tags {
        if k.is_empty()
            || k.chars().count() > MAX_TAG_KEY
            || v.chars().count() > MAX_TAG_VALUE
            || k.starts_with("aws:")
        {
            return Err(EngineError::InvalidInput(format!(
                "Tag key {k:?} or value {v:?} is invalid: keys are 1-128 characters not starting with aws:, values at most 256"
            )));
        }
    }
    Ok(())
}

impl Engine {
    /// GetAccountSummary: how many IAM entities the account has, and the
    /// quotas Coffer enforces on them (IAM's defaults).
    pub async fn account_summary(
        &self,
        account: &str,
    ) -> Result<Vec<(&'static str, usize)>, EngineError> {
        let acct = account.to_owned();
        let first = account == self.root_account().id;
        let (users, groups, roles, policies, attached, root_keys) = self
            .meta()
            .read(move |tx| -> Result<_, EngineError> {
                let (start, end) = crate::entities::account_range(&acct);
                let count = |t: Table| -> Result<usize, EngineError> {
                    Ok(tx.range(t, &start, Some(&end), usize::MAX)?.len())
                };
                let (mut policies, mut attached) = (0, 0);
                for (_, v) in tx.range(Table::Policies, &start, Some(&end), usize::MAX)? {
                    let p: coffer_meta::records::ManagedPolicyRecord = decode(&v)?;
                    policies += usize::from(!p.aws_managed);
                    attached += usize::from(p.attachment_count() > 0);
                }
                let root_keys = crate::identity::root_keys(tx, &acct)?.len();
                Ok((
                    count(Table::Users)?,
                    count(Table::Groups)?,
                    count(Table::Roles)?,
                    policies,
                    attached,
                    root_keys,
                ))
            })
            .await?;
        // The first account's root key comes from the configuration.
        let root_keys = root_keys + usize::from(first);
        Ok(vec![
            ("Users", users),
            ("UsersQuota", crate::identity::MAX_USERS_PER_ACCOUNT),
            ("Groups", groups),
            ("GroupsQuota", crate::groups::MAX_GROUPS_PER_ACCOUNT),
            ("Roles", roles),
            ("RolesQuota", crate::roles::MAX_ROLES_PER_ACCOUNT),
            ("Policies", policies),
            (
                "PoliciesQuota",
                crate::managed_policies::MAX_POLICIES_PER_ACCOUNT,
            ),
            ("PolicyVersionsInUse", attached),
            ("AccessKeysPerUserQuota", crate::MAX_ACCESS_KEYS_PER_USER),
            ("GroupsPerUserQuota", crate::MAX_GROUPS_PER_USER),
            ("AttachedPoliciesPerUserQuota", crate::MAX_ATTACHED_POLICIES),
            (
                "AttachedPoliciesPerGroupQuota",
                crate::MAX_ATTACHED_POLICIES,
            ),
            ("AttachedPoliciesPerRoleQuota", crate::MAX_ATTACHED_POLICIES),
            ("VersionsPerPolicyQuota", crate::MAX_POLICY_VERSIONS),
            ("PolicySizeQuota", PolicySizeLimit::ManagedPolicy.max_len()),
            ("UserPolicySizeQuota", PolicySizeLimit::UserInline.max_len()),
            (
                "GroupPolicySizeQuota",
                PolicySizeLimit::GroupInline.max_len(),
            ),
            ("RolePolicySizeQuota", PolicySizeLimit::RoleInline.max_len()),
            ("AssumeRolePolicySizeQuota", crate::roles::MAX_TRUST_POLICY),
            ("AccountAccessKeysPresent", usize::from(root_keys > 0)),
            ("AccountMFAEnabled", 0),
            ("MFADevices", 0),
            ("MFADevicesInUse", 0),
            ("Providers", 0),
        ])
    }

    /// UpdateUser: a new name and/or path. Everything that names the user
    /// (its keys, groups and policy attachments) follows in the same
    /// transaction.
    pub async fn update_user(
        &self,
        account: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<UserRecord, EngineError> {
        if let Some(n) = new_name {
            check_name("newUserName", n, 64)?;
        }
        if let Some(p) = new_path {
            check_path(p)?;
        }
        let (acct, old, new_name, new_path) = (
            account.to_owned(),
            name.to_owned(),
            new_name.map(str::to_owned),
            new_path.map(str::to_owned),
        );
        self.meta()
            .write(move |tx| -> Result<UserRecord, EngineError> {
                let mut u = load_user(tx, &acct, &old)?;
                if let Some(p) = &new_path {
                    u.path.clone_from(p);
                }
                let Some(to) = new_name.clone().filter(|n| *n != u.name) else {
                    store_user(tx, &acct, &u)?;
                    return Ok(u);
                };
                if !to.eq_ignore_ascii_case(&u.name)
                    && tx.get(Table::Users, &entity_key(&acct, &to))?.is_some()
                {
                    return Err(EngineError::EntityAlreadyExists(format!(
                        "User with name {to} already exists."
                    )));
                }
                let from = std::mem::replace(&mut u.name, to.clone());
                tx.delete(Table::Users, &entity_key(&acct, &from))?;
                store_user(tx, &acct, &u)?;
                for id in &u.access_keys {
                    if let Some(v) = tx.get(Table::AccessKeys, id.as_bytes())? {
                        let mut k: AccessKeyRecord = decode(&v)?;
                        k.user = Some(to.clone());
                        tx.put(Table::AccessKeys, id.as_bytes(), &encode(&k))?;
                    }
                }
                for g in &u.groups {
                    let mut group = load_group(tx, &acct, g)?;
                    for m in &mut group.members {
                        if m.eq_ignore_ascii_case(&from) {
                            m.clone_from(&to);
                        }
                    }
                    store_group(tx, &acct, &group)?;
                }
                for arn in &u.attached {
                    let mut p = load_policy(tx, &acct, arn)?;
                    for m in &mut p.attached_users {
                        if m.eq_ignore_ascii_case(&from) {
                            m.clone_from(&to);
                        }
                    }
                    store_policy(tx, &acct, &p)?;
                }
                Ok(u)
            })
            .await
    }

    /// TagUser: adds or overwrites tags (at most 50 per user).
    pub async fn tag_user(
        &self,
        account: &str,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), EngineError> {
        check_tags(&tags)?;
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut u = load_user(tx, &acct, &n)?;
                merge_tags(&mut u.tags, &tags, "TagsPerUser")?;
                Ok(store_user(tx, &acct, &u)?)
            })
            .await
    }

    /// UntagUser: removes tags by key; absent keys are ignored, as IAM does.
    pub async fn untag_user(
        &self,
        account: &str,
        name: &str,
        keys: Vec<String>,
    ) -> Result<(), EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut u = load_user(tx, &acct, &n)?;
                u.tags.retain(|(k, _)| !keys.contains(k));
                Ok(store_user(tx, &acct, &u)?)
            })
            .await
    }

    /// Records that an access key signed a request for `service`, at most
    /// once a minute per key. Failures are logged, never returned: they must
    /// not fail the request.
    pub async fn note_key_used(&self, access_key: &str, service: &str) {
        let now = now_ms();
        {
            let Ok(mut seen) = self.last_used().0.lock() else {
                return;
            };
            match seen.get(access_key) {
                Some(&t) if now - t < LAST_USED_RESOLUTION_MS => return,
                _ => {
                    seen.insert(access_key.to_owned(), now);
                }
            }
        }
        let (ak, svc) = (access_key.to_owned(), service.to_owned());
        let res = self
            .meta()
            .write(move |tx| -> Result<(), MetaError> {
                let Some(v) = tx.get(Table::AccessKeys, ak.as_bytes())? else {
                    return Ok(());
                };
                let mut k: AccessKeyRecord = decode(&v)?;
                k.last_used_ms = Some(now);
                k.last_used_service = Some(svc.clone());
                tx.put(Table::AccessKeys, ak.as_bytes(), &encode(&k))
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not record access key use");
        }
    }

    /// GetAccessKeyLastUsed: the key's user (None for an account root) and
    /// its last use, if any.
    pub async fn access_key_last_used(
        &self,
        account: &str,
        access_key: &str,
    ) -> Result<AccessKeyRecord, EngineError> {
        let (acct, ak) = (account.to_owned(), access_key.to_owned());
        self.meta()
            .read(move |tx| -> Result<AccessKeyRecord, EngineError> {
                tx.get(Table::AccessKeys, ak.as_bytes())?
                    .map(|v| decode::<AccessKeyRecord>(&v))
                    .transpose()?
                    .filter(|k| k.account_id == acct)
                    .ok_or_else(|| {
                        EngineError::NoSuchEntity(format!(
                            "The Access Key with id {ak} cannot be found."
                        ))
                    })
            })
            .await
    }
}
