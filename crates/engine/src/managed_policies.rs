//! Customer-managed policies: versions, attachments to users and groups,
//! and the set of identity policies that applies to a user.
//!
//! An attachment is recorded on both sides (`UserRecord::attached` or
//! `GroupRecord::attached` holds the policy ARN, the policy lists the user or
//! group) and both change in one transaction, so a policy knows its
//! attachment count and its entities without a scan. As in IAM, a policy
//! keeps at most five versions, exactly one of which is the default, and is
//! deleted only when it is attached nowhere and has no other version left.

use std::collections::HashSet;

use coffer_iam::PolicySizeLimit;
use coffer_meta::records::{
    GroupRecord, ManagedPolicyRecord, PolicyVersionRecord, RoleRecord, UserRecord, decode, encode,
};
use coffer_meta::{MetaError, ReadTxn, Table, WriteTxn};

use crate::aws_policies;
use crate::entities::{
    account_range, check_identity_document, check_name, check_path, entity_key, load_user,
    new_entity_id, store_user,
};
use crate::groups::{Page, load_group, store_group};
use crate::roles::{load_role, store_role};
use crate::{Engine, EngineError, now_ms};

/// IAM keeps at most five versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;
/// IAM's default quota of managed policies attached to one user or group.
pub const MAX_ATTACHED_POLICIES: usize = 10;
/// IAM's default quota of customer-managed policies per account.
pub(crate) const MAX_POLICIES_PER_ACCOUNT: usize = 1500;
/// IAM's limit on a policy description.
const MAX_DESCRIPTION_LEN: usize = 1000;

/// Which policies ListPolicies returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyScope {
    All,
    /// AWS-managed policies (the few Coffer offers, see `aws_policies.rs`).
    Aws,
    /// The account's customer-managed policies.
    Local,
}

fn not_found(arn: &str) -> EngineError {
    EngineError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

/// The policy name an ARN of `account` names: `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
fn policy_name_of<'a>(account: &str, arn: &'a str) -> Result<&'a str, EngineError> {
    let invalid = || EngineError::InvalidInput(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (acct, resource) = rest.split_once(':').ok_or_else(invalid)?;
    let path_and_name = resource.strip_prefix("policy/").ok_or_else(invalid)?;
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        return Err(invalid());
    }
    // Other accounts' policies cannot be read or attached here (AWS-managed
    // ones are looked up before this).
    if acct != account {
        return Err(not_found(arn));
    }
    Ok(name)
}

pub(crate) fn load_policy(
    tx: &dyn ReadTxn,
    account: &str,
    arn: &str,
) -> Result<ManagedPolicyRecord, EngineError> {
    if let Some(name) = arn
        .strip_prefix("arn:aws:iam::aws:policy/")
        .filter(|n| !n.contains('/'))
    {
        return load_aws_policy(tx, account, name).ok_or_else(|| not_found(arn))?;
    }
    let name = policy_name_of(account, arn)?;
    let p: ManagedPolicyRecord = tx
        .get(Table::Policies, &entity_key(account, name))?
        .map(|v| decode(&v))
        .transpose()?
        .ok_or_else(|| not_found(arn))?;
    // The name is unique in the account, but the ARN must also carry the
    // policy's path.
    if !p.arn(account).eq_ignore_ascii_case(arn) {
        return Err(not_found(arn));
    }
    Ok(p)
}

/// An AWS-managed policy with this account's attachments of it.
fn load_aws_policy(
    tx: &dyn ReadTxn,
    account: &str,
    name: &str,
) -> Option<Result<ManagedPolicyRecord, EngineError>> {
    let mut p = aws_policies::lookup(name)?;
    let row = entity_key(account, &aws_policies::attachment_row(&p.name));
    Some(
        tx.get(Table::Policies, &row)
            .map_err(EngineError::from)
            .and_then(|v| {
                if let Some(v) = v {
                    let stored: ManagedPolicyRecord = decode(&v)?;
                    p.attached_users = stored.attached_users;
                    p.attached_groups = stored.attached_groups;
                    p.attached_roles = stored.attached_roles;
                }
                Ok(p)
            }),
    )
}

/// A policy the account may change: its own, not an AWS-managed one.
fn load_own_policy(
    tx: &dyn ReadTxn,
    account: &str,
    arn: &str,
) -> Result<ManagedPolicyRecord, EngineError> {
    let p = load_policy(tx, account, arn)?;
    if p.aws_managed {
        return Err(EngineError::InvalidInput(format!(
            "{arn} is an AWS managed policy, which cannot be changed or deleted."
        )));
    }
    Ok(p)
}

pub(crate) fn store_policy(
    tx: &mut dyn WriteTxn,
    account: &str,
    p: &ManagedPolicyRecord,
) -> Result<(), MetaError> {
    if p.aws_managed {
        let row = entity_key(account, &aws_policies::attachment_row(&p.name));
        return if p.attachment_count() == 0 {
            tx.delete(Table::Policies, &row).map(|_| ())
        } else {
            tx.put(Table::Policies, &row, &encode(p))
        };
    }
    tx.put(Table::Policies, &entity_key(account, &p.name), &encode(p))
}

fn version_not_found(arn: &str, version: &str) -> EngineError {
    EngineError::NoSuchEntity(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

fn check_managed_document(document: &str) -> Result<(), EngineError> {
    check_identity_document(document, document, PolicySizeLimit::ManagedPolicy)
}

/// What ListEntitiesForPolicy reports.
#[derive(Debug, Clone, Default)]
pub struct PolicyEntities {
    pub groups: Vec<GroupRecord>,
    pub users: Vec<UserRecord>,
    pub roles: Vec<RoleRecord>,
}

/// Which entity a policy is attached to.
#[derive(Clone, Copy)]
enum Entity {
    User,
    Group,
    Role,
}

/// The identity policies that apply to a user, as (name, document): its
/// inline policies, the default version of each managed policy attached to
/// it, and for each of its groups the group's inline and attached managed
/// policies. A managed policy that arrives by several routes counts once.
pub(crate) fn user_identity_policies(
    tx: &dyn ReadTxn,
    account: &str,
    u: &UserRecord,
) -> Result<Vec<(String, String)>, EngineError> {
    let mut out: Vec<(String, String)> = u
        .inline_policies
        .iter()
        .map(|(n, d)| (format!("user/{}/inline/{n}", u.name), d.clone()))
        .collect();
    let mut arns: Vec<&str> = u.attached.iter().map(String::as_str).collect();
    let groups = u
        .groups
        .iter()
        .map(|g| load_group(tx, account, g))
        .collect::<Result<Vec<_>, _>>()?;
    for g in &groups {
        out.extend(
            g.inline_policies
                .iter()
                .map(|(n, d)| (format!("group/{}/inline/{n}", g.name), d.clone())),
        );
        arns.extend(g.attached.iter().map(String::as_str));
    }
    let mut seen = HashSet::new();
    for arn in arns {
        if !seen.insert(arn.to_ascii_lowercase()) {
            continue;
        }
        let p = load_policy(tx, account, arn)?;
        if let Some(doc) = p.default_document() {
            out.push((arn.to_owned(), doc.to_owned()));
        }
    }
    Ok(out)
}

impl Engine {
    /// Creates a customer-managed policy whose first version, `v1`, is the
    /// default.
    pub async fn create_policy(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
    ) -> Result<ManagedPolicyRecord, EngineError> {
        check_name("policyName", name, 128)?;
        let path = path.unwrap_or("/").to_owned();
        check_path(&path)?;
        let description = description.unwrap_or_default().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(EngineError::InvalidInput(format!(
                "The description is longer than {MAX_DESCRIPTION_LEN} characters."
            )));
        }
        check_managed_document(document)?;
        let now = now_ms();
        let policy = ManagedPolicyRecord {
            name: name.to_owned(),
            path,
            policy_id: new_entity_id("ANPA"),
            created_ms: now,
            updated_ms: now,
            description,
            default_version: "v1".into(),
            versions: vec![PolicyVersionRecord {
                version_id: "v1".into(),
                document: document.to_owned(),
                created_ms: now,
            }],
            next_version: 2,
            ..ManagedPolicyRecord::default()
        };
        let (acct, p) = (account.to_owned(), policy.clone());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                if tx
                    .get(Table::Policies, &entity_key(&acct, &p.name))?
                    .is_some()
                {
                    return Err(EngineError::EntityAlreadyExists(format!(
                        "A policy called {} already exists. Duplicate names are not allowed.",
                        p.name
                    )));
                }
                let (start, end) = account_range(&acct);
                let existing = tx.range(
                    Table::Policies,
                    &start,
                    Some(&end),
                    MAX_POLICIES_PER_ACCOUNT,
                )?;
                if existing.len() >= MAX_POLICIES_PER_ACCOUNT {
                    return Err(EngineError::LimitExceeded(format!(
                        "Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES_PER_ACCOUNT}"
                    )));
                }
                Ok(store_policy(tx, &acct, &p)?)
            })
            .await?;
        Ok(policy)
    }

    pub async fn get_policy(
        &self,
        account: &str,
        arn: &str,
    ) -> Result<ManagedPolicyRecord, EngineError> {
        let (acct, arn) = (account.to_owned(), arn.to_owned());
        self.meta()
            .read(move |tx| load_policy(tx, &acct, &arn))
            .await
    }

    /// Managed policies visible to an account, in name order: its own
    /// and the AWS-managed ones, optionally only those attached
    /// somewhere, whose path starts with `path_prefix`.
    pub async fn list_policies(
        &self,
        account: &str,
        scope: PolicyScope,
        only_attached: bool,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<ManagedPolicyRecord>, EngineError> {
        let (acct, prefix, marker) = (
            account.to_owned(),
            path_prefix.to_owned(),
            marker.map(str::to_ascii_lowercase),
        );
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let (start, end) = account_range(&acct);
                let mut policies = Vec::new();
                if scope != PolicyScope::Aws {
                    for (_, v) in tx.range(Table::Policies, &start, Some(&end), usize::MAX)? {
                        let p: ManagedPolicyRecord = decode(&v)?;
                        if !p.aws_managed {
                            policies.push(p);
                        }
                    }
                }
                if scope != PolicyScope::Local {
                    for name in aws_policies::names() {
                        if let Some(p) = load_aws_policy(tx, &acct, name) {
                            policies.push(p?);
                        }
                    }
                    policies.sort_by_key(|p| p.name.to_ascii_lowercase());
                }
                policies.retain(|p| {
                    p.path.starts_with(&prefix) && (!only_attached || p.attachment_count() > 0)
                });
                Ok(Page::of(
                    policies,
                    |p| p.name.to_ascii_lowercase(),
                    marker.as_deref(),
                    max,
                ))
            })
            .await
    }

    /// Adds a version to a policy, optionally making it the default.
    pub async fn create_policy_version(
        &self,
        account: &str,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersionRecord, EngineError> {
        check_managed_document(document)?;
        let (acct, arn, doc) = (account.to_owned(), arn.to_owned(), document.to_owned());
        self.meta()
            .write(move |tx| -> Result<_, EngineError> {
                let mut p = load_own_policy(tx, &acct, &arn)?;
                if p.versions.len() >= MAX_POLICY_VERSIONS {
                    return Err(EngineError::LimitExceeded(format!(
                        "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                    )));
                }
                let now = now_ms();
                let version = PolicyVersionRecord {
                    version_id: format!("v{}", p.next_version),
                    document: doc.clone(),
                    created_ms: now,
                };
                p.next_version += 1;
                p.versions.push(version.clone());
                if set_as_default {
                    p.default_version.clone_from(&version.version_id);
                    p.updated_ms = now;
                }
                store_policy(tx, &acct, &p)?;
                Ok(version)
            })
            .await
    }

    pub async fn set_default_policy_version(
        &self,
        account: &str,
        arn: &str,
        version: &str,
    ) -> Result<(), EngineError> {
        let (acct, arn, vid) = (account.to_owned(), arn.to_owned(), version.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut p = load_own_policy(tx, &acct, &arn)?;
                if p.version(&vid).is_none() {
                    return Err(version_not_found(&arn, &vid));
                }
                if p.default_version != vid {
                    p.default_version.clone_from(&vid);
                    p.updated_ms = now_ms();
                }
                Ok(store_policy(tx, &acct, &p)?)
            })
            .await
    }

    /// Deletes a version other than the default one.
    pub async fn delete_policy_version(
        &self,
        account: &str,
        arn: &str,
        version: &str,
    ) -> Result<(), EngineError> {
        let (acct, arn, vid) = (account.to_owned(), arn.to_owned(), version.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut p = load_own_policy(tx, &acct, &arn)?;
                if p.version(&vid).is_none() {
                    return Err(version_not_found(&arn, &vid));
                }
                if p.default_version == vid {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete the default version of a policy.".into(),
                    ));
                }
                p.versions.retain(|v| v.version_id != vid);
                Ok(store_policy(tx, &acct, &p)?)
            })
            .await
    }

    /// Deletes a policy that is attached nowhere and has only its default
    /// version left, which goes with it.
    pub async fn delete_policy(&self, account: &str, arn: &str) -> Result<(), EngineError> {
        let (acct, arn) = (account.to_owned(), arn.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let p = load_own_policy(tx, &acct, &arn)?;
                if p.attachment_count() > 0 {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete a policy attached to entities.".into(),
                    ));
                }
                if p.versions.len() > 1 {
                    return Err(EngineError::DeleteConflict(
                        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
                    ));
                }
                tx.delete(Table::Policies, &entity_key(&acct, &p.name))?;
                Ok(())
            })
            .await
    }

    pub async fn attach_user_policy(
        &self,
        account: &str,
        user: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::User, user, arn, true)
            .await
    }

    pub async fn detach_user_policy(
        &self,
        account: &str,
        user: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::User, user, arn, false)
            .await
    }

    pub async fn attach_group_policy(
        &self,
        account: &str,
        group: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::Group, group, arn, true)
            .await
    }

    pub async fn detach_group_policy(
        &self,
        account: &str,
        group: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::Group, group, arn, false)
            .await
    }

    /// Attaches or detaches, changing the entity's list and the policy's in
    /// one transaction. Attaching twice changes nothing, as in IAM;
    /// detaching a policy that is not attached is NoSuchEntity.
    async fn set_attachment(
        &self,
        account: &str,
        entity: Entity,
        name: &str,
        arn: &str,
        attach: bool,
    ) -> Result<(), EngineError> {
        let (acct, n, arn) = (account.to_owned(), name.to_owned(), arn.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut p = load_policy(tx, &acct, &arn)?;
                let canonical = p.arn(&acct);
                let mut user: Option<UserRecord> = None;
                let mut group: Option<GroupRecord> = None;
                let mut role: Option<RoleRecord> = None;
                let (attached, entity_name, holders, quota) = match entity {
                    Entity::User => {
                        let u = user.insert(load_user(tx, &acct, &n)?);
                        (
                            &mut u.attached,
                            u.name.clone(),
                            &mut p.attached_users,
                            "PoliciesPerUser",
                        )
                    }
                    Entity::Group => {
                        let g = group.insert(load_group(tx, &acct, &n)?);
                        (
                            &mut g.attached,
                            g.name.clone(),
                            &mut p.attached_groups,
                            "PoliciesPerGroup",
                        )
                    }
                    Entity::Role => {
                        let r = role.insert(load_role(tx, &acct, &n)?);
                        (
                            &mut r.attached,
                            r.name.clone(),
                            &mut p.attached_roles,
                            "PoliciesPerRole",
                        )
                    }
                };
                let present = attached.iter().any(|a| a.eq_ignore_ascii_case(&canonical));
                match (attach, present) {
                    (true, true) => return Ok(()),
                    (false, false) => {
                        return Err(EngineError::NoSuchEntity(format!(
                            "Policy {arn} was not found."
                        )));
                    }
                    (true, false) => {
                        if attached.len() >= MAX_ATTACHED_POLICIES {
                            return Err(EngineError::LimitExceeded(format!(
                                "Cannot exceed quota for {quota}: {MAX_ATTACHED_POLICIES}"
                            )));
                        }
                        attached.push(canonical);
                        holders.push(entity_name);
                    }
                    (false, true) => {
                        attached.retain(|a| !a.eq_ignore_ascii_case(&canonical));
                        holders.retain(|h| !h.eq_ignore_ascii_case(&entity_name));
                    }
                }
                if let Some(u) = &user {
                    store_user(tx, &acct, u)?;
                }
                if let Some(g) = &group {
                    store_group(tx, &acct, g)?;
                }
                if let Some(r) = &role {
                    store_role(tx, &acct, r)?;
                }
                Ok(store_policy(tx, &acct, &p)?)
            })
            .await
    }

    /// The managed policies attached to a user, in name order.
    pub async fn list_attached_user_policies(
        &self,
        account: &str,
        user: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<ManagedPolicyRecord>, EngineError> {
        self.list_attached(account, Entity::User, user, path_prefix, marker, max)
            .await
    }

    /// The managed policies attached to a group, in name order.
    pub async fn list_attached_group_policies(
        &self,
        account: &str,
        group: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<ManagedPolicyRecord>, EngineError> {
        self.list_attached(account, Entity::Group, group, path_prefix, marker, max)
            .await
    }

    pub async fn attach_role_policy(
        &self,
        account: &str,
        role: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::Role, role, arn, true)
            .await
    }

    pub async fn detach_role_policy(
        &self,
        account: &str,
        role: &str,
        arn: &str,
    ) -> Result<(), EngineError> {
        self.set_attachment(account, Entity::Role, role, arn, false)
            .await
    }

    /// The managed policies attached to a role, in name order.
    pub async fn list_attached_role_policies(
        &self,
        account: &str,
        role: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<ManagedPolicyRecord>, EngineError> {
        self.list_attached(account, Entity::Role, role, path_prefix, marker, max)
            .await
    }

    async fn list_attached(
        &self,
        account: &str,
        entity: Entity,
        name: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<ManagedPolicyRecord>, EngineError> {
        let (acct, n, prefix, marker) = (
            account.to_owned(),
            name.to_owned(),
            path_prefix.to_owned(),
            marker.map(str::to_ascii_lowercase),
        );
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let arns = match entity {
                    Entity::User => load_user(tx, &acct, &n)?.attached,
                    Entity::Group => load_group(tx, &acct, &n)?.attached,
                    Entity::Role => load_role(tx, &acct, &n)?.attached,
                };
                let mut policies = Vec::new();
                for arn in &arns {
                    let p = load_policy(tx, &acct, arn)?;
                    if p.path.starts_with(&prefix) {
                        policies.push(p);
                    }
                }
                policies.sort_by_key(|p| p.name.to_ascii_lowercase());
                Ok(Page::of(
                    policies,
                    |p| p.name.to_ascii_lowercase(),
                    marker.as_deref(),
                    max,
                ))
            })
            .await
    }

    /// The groups, users and roles a policy is attached to, in name order,
    /// whose path starts with `path_prefix`.
    pub async fn list_entities_for_policy(
        &self,
        account: &str,
        arn: &str,
        path_prefix: &str,
    ) -> Result<PolicyEntities, EngineError> {
        let (acct, arn, prefix) = (account.to_owned(), arn.to_owned(), path_prefix.to_owned());
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let p = load_policy(tx, &acct, &arn)?;
                let mut groups = p
                    .attached_groups
                    .iter()
                    .map(|g| load_group(tx, &acct, g))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut users = p
                    .attached_users
                    .iter()
                    .map(|u| load_user(tx, &acct, u))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut roles = p
                    .attached_roles
                    .iter()
                    .map(|r| load_role(tx, &acct, r))
                    .collect::<Result<Vec<_>, _>>()?;
                groups.retain(|g| g.path.starts_with(&prefix));
                users.retain(|u| u.path.starts_with(&prefix));
                roles.retain(|r| r.path.starts_with(&prefix));
                groups.sort_by_key(|g| g.name.to_ascii_lowercase());
                users.sort_by_key(|u| u.name.to_ascii_lowercase());
                roles.sort_by_key(|r| r.name.to_ascii_lowercase());
                Ok(PolicyEntities {
                    groups,
                    users,
                    roles,
                })
            })
            .await
    }
}
