//! IAM roles: a trust policy saying who may assume the role, and the inline
//! and attached managed policies that say what its sessions may do.
//!
//! Role names, like user and group names, are unique case-insensitively
//! within an account. A role that still has policies cannot be deleted
//! (DeleteConflict), as in IAM. Sessions (STS) name their role by name and
//! id, so a role deleted and re-created under the same name does not revive
//! old sessions (see `sts.rs`).

use coffer_iam::{Policy, PolicyError, PolicyKind, PolicySizeLimit};
use coffer_meta::records::{RoleRecord, decode, encode};
use coffer_meta::{MetaError, ReadTxn, Table, WriteTxn};

use crate::entities::{
    account_range, check_name, check_new_entity, check_path, delete_inline_policy, entity_key,
    new_entity_id, put_inline_policy,
};
use crate::groups::Page;
use crate::user_admin::{check_tags, merge_tags};
use crate::{Engine, EngineError, now_ms};

/// IAM's default and bounds for MaxSessionDuration, in seconds.
pub const DEFAULT_MAX_SESSION: u32 = 3600;
const MAX_SESSION_RANGE: std::ops::RangeInclusive<u32> = 3600..=43_200;
/// IAM's quota on a trust policy (whitespace not counted).
pub(crate) const MAX_TRUST_POLICY: usize = 2048;
const MAX_DESCRIPTION: usize = 1000;
/// IAM's default quota: 1000 roles per account.
pub(crate) const MAX_ROLES_PER_ACCOUNT: usize = 1000;

/// What CreateRole takes besides the name.
#[derive(Debug, Clone, Default)]
pub struct NewRole<'a> {
    pub path: Option<&'a str>,
    pub trust_policy: &'a str,
    pub description: Option<&'a str>,
    pub max_session_duration: Option<u32>,
    pub tags: Vec<(String, String)>,
}

pub(crate) fn load_role(
    tx: &dyn ReadTxn,
    account: &str,
    name: &str,
) -> Result<RoleRecord, EngineError> {
    tx.get(Table::Roles, &entity_key(account, name))?
        .map(|v| decode(&v))
        .transpose()?
        .ok_or_else(|| {
            EngineError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })
}

pub(crate) fn store_role(
    tx: &mut dyn WriteTxn,
    account: &str,
    role: &RoleRecord,
) -> Result<(), MetaError> {
    tx.put(
        Table::Roles,
        &entity_key(account, &role.name),
        &encode(role),
    )
}

/// A trust policy must parse as one (a principal, no resource) and fit
/// IAM's quota.
fn check_trust_policy(document: &str) -> Result<(), EngineError> {
    let significant = document.chars().filter(|c| !c.is_whitespace()).count();
    if significant > MAX_TRUST_POLICY {
        return Err(EngineError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY}"
        )));
    }
    Policy::parse_for(document, PolicyKind::Trust)
        .map(|_| ())
        .map_err(|e: PolicyError| EngineError::MalformedPolicyDocument(e.to_string()))
}

fn check_max_session(seconds: u32) -> Result<(), EngineError> {
    if MAX_SESSION_RANGE.contains(&seconds) {
        Ok(())
    } else {
        Err(EngineError::Validation(format!(
            "1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
        )))
    }
}

fn check_description(d: &str) -> Result<(), EngineError> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(EngineError::Validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000".into(),
        ));
    }
    Ok(())
}

/// The identity policies of a role, as (name, document): its inline
/// policies and the default version of each attached managed policy.
pub(crate) fn role_identity_policies(
    tx: &dyn ReadTxn,
    account: &str,
    role: &RoleRecord,
) -> Result<Vec<(String, String)>, EngineError> {
    let mut out: Vec<(String, String)> = role
        .inline_policies
        .iter()
        .map(|(n, d)| (format!("role/{}/inline/{n}", role.name), d.clone()))
        .collect();
    for arn in &role.attached {
        let p = crate::managed_policies::load_policy(tx, account, arn)?;
        if let Some(doc) = p.default_document() {
            out.push((arn.clone(), doc.to_owned()));
        }
    }
    Ok(out)
}

impl Engine {
    pub async fn create_role(
        &self,
        account: &str,
        name: &str,
        new: NewRole<'_>,
    ) -> Result<RoleRecord, EngineError> {
        check_name("roleName", name, 64)?;
        let path = new.path.unwrap_or("/").to_owned();
        check_path(&path)?;
        check_trust_policy(new.trust_policy)?;
        let max_session_duration = new.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION);
        check_max_session(max_session_duration)?;
        let description = new.description.unwrap_or_default().to_owned();
        check_description(&description)?;
        check_tags(&new.tags)?;
        let mut role = RoleRecord {
            name: name.to_owned(),
            path,
            role_id: new_entity_id("AROA"),
            created_ms: now_ms(),
            trust_policy: new.trust_policy.to_owned(),
            description,
            max_session_duration,
            ..RoleRecord::default()
        };
        merge_tags(&mut role.tags, &new.tags, "TagsPerRole")?;
        let (acct, r) = (account.to_owned(), role.clone());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                check_new_entity(
                    tx,
                    Table::Roles,
                    &acct,
                    &r.name,
                    ("Role", "RolesPerAccount", MAX_ROLES_PER_ACCOUNT),
                )?;
                Ok(store_role(tx, &acct, &r)?)
            })
            .await?;
        Ok(role)
    }

    pub async fn get_role(&self, account: &str, name: &str) -> Result<RoleRecord, EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta().read(move |tx| load_role(tx, &acct, &n)).await
    }

    /// Roles of an account whose path starts with `path_prefix`, in name
    /// order.
    pub async fn list_roles(
        &self,
        account: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<RoleRecord>, EngineError> {
        let (acct, prefix, marker) = (
            account.to_owned(),
            path_prefix.to_owned(),
            marker.map(str::to_ascii_lowercase),
        );
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let (start, end) = account_range(&acct);
                let mut roles = tx
                    .range(Table::Roles, &start, Some(&end), usize::MAX)?
                    .iter()
                    .map(|(_, v)| decode::<RoleRecord>(v).map_err(EngineError::from))
                    .collect::<Result<Vec<_>, _>>()?;
                roles.retain(|r| r.path.starts_with(&prefix));
                Ok(Page::of(
                    roles,
                    |r| r.name.to_ascii_lowercase(),
                    marker.as_deref(),
                    max,
                ))
            })
            .await
    }

    /// Changes a role with `change` inside one transaction and stores it.
    async fn modify_role(
        &self,
        account: &str,
        name: &str,
        change: impl Fn(&mut RoleRecord) -> Result<(), EngineError> + Send + 'static,
    ) -> Result<(), EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut r = load_role(tx, &acct, &n)?;
                change(&mut r)?;
                Ok(store_role(tx, &acct, &r)?)
            })
            .await
    }

    /// UpdateRole: the description and/or the longest session.
    pub async fn update_role(
        &self,
        account: &str,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> Result<(), EngineError> {
        if let Some(d) = description {
            check_description(d)?;
        }
        if let Some(m) = max_session_duration {
            check_max_session(m)?;
        }
        let description = description.map(str::to_owned);
        self.modify_role(account, name, move |r| {
            if let Some(d) = &description {
                r.description.clone_from(d);
            }
            if let Some(m) = max_session_duration {
                r.max_session_duration = m;
            }
            Ok(())
        })
        .await
    }

    pub async fn update_assume_role_policy(
        &self,
        account: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EngineError> {
        check_trust_policy(document)?;
        let doc = document.to_owned();
        self.modify_role(account, name, move |r| {
            r.trust_policy.clone_from(&doc);
            Ok(())
        })
        .await
    }

    /// Deletes a role that has no policies left, as IAM requires.
    pub async fn delete_role(&self, account: &str, name: &str) -> Result<(), EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let r = load_role(tx, &acct, &n)?;
                if !r.inline_policies.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                if !r.attached.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    ));
                }
                tx.delete(Table::Roles, &entity_key(&acct, &r.name))?;
                Ok(())
            })
            .await
    }

    pub async fn tag_role(
        &self,
        account: &str,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), EngineError> {
        check_tags(&tags)?;
        self.modify_role(account, name, move |r| {
            merge_tags(&mut r.tags, &tags, "TagsPerRole")
        })
        .await
    }

    /// UntagRole: removes tags by key; absent keys are ignored, as IAM does.
    pub async fn untag_role(
        &self,
        account: &str,
        name: &str,
        keys: Vec<String>,
    ) -> Result<(), EngineError> {
        self.modify_role(account, name, move |r| {
            r.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await
    }

    pub async fn put_role_policy(
        &self,
        account: &str,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), EngineError> {
        let (pn, doc) = (policy_name.to_owned(), document.to_owned());
        self.modify_role(account, role, move |r| {
            put_inline_policy(
                &mut r.inline_policies,
                &pn,
                &doc,
                PolicySizeLimit::RoleInline,
            )
        })
        .await
    }

    pub async fn delete_role_policy(
        &self,
        account: &str,
        role: &str,
        policy_name: &str,
    ) -> Result<(), EngineError> {
        let pn = policy_name.to_owned();
        self.modify_role(account, role, move |r| {
            delete_inline_policy(&mut r.inline_policies, &pn, "role")
        })
        .await
    }
}
