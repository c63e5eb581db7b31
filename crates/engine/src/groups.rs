//! IAM groups: membership, inline group policies, and the storage helpers
//! that groups and managed policies share.
//!
//! Membership is recorded on both sides, `GroupRecord::members` and
//! `UserRecord::groups`, and every operation that changes one side changes
//! the other in the same transaction, so either side can be read alone.
//! Group names, like user names, are unique case-insensitively within an
//! account.

use coffer_iam::PolicySizeLimit;
use coffer_meta::records::{GroupRecord, UserRecord, decode, encode};
use coffer_meta::{MetaError, ReadTxn, Table, WriteTxn};

use crate::entities::{
    account_range, check_name, check_new_entity, check_path, delete_inline_policy, entity_key,
    load_user, new_entity_id, put_inline_policy, store_user,
};
use crate::{Engine, EngineError, now_ms};

/// IAM's default quota: a user belongs to at most 10 groups.
pub const MAX_GROUPS_PER_USER: usize = 10;
/// IAM's default quota: 300 groups per account.
pub(crate) const MAX_GROUPS_PER_ACCOUNT: usize = 300;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Set when more items follow: the Marker that continues the listing.
    pub marker: Option<String>,
}

impl<T> Page<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }

    /// Cuts one page out of `items`, which are in listing order and identified
    /// by `key`. A marker names the last item of the previous page; when that
    /// item has gone meanwhile, the page starts at the first key after it (the
    /// listings paged this way are ordered by key).
    pub fn of(items: Vec<T>, key: impl Fn(&T) -> String, marker: Option<&str>, max: usize) -> Self {
        let start = match marker {
            None => 0,
            Some(m) => match items.iter().position(|i| key(i) == m) {
                Some(p) => p + 1,
                None => items
                    .iter()
                    .position(|i| key(i).as_str() > m)
                    .unwrap_or(items.len()),
            },
        };
        let mut rest: Vec<T> = items.into_iter().skip(start).collect();
        let marker = if rest.len() > max {
            rest.truncate(max);
            rest.last().map(&key)
        } else {
            None
        };
        Self {
            items: rest,
            marker,
        }
    }
}

pub(crate) fn load_group(
    tx: &dyn ReadTxn,
    account: &str,
    name: &str,
) -> Result<GroupRecord, EngineError> {
    tx.get(Table::Groups, &entity_key(account, name))?
        .map(|v| decode(&v))
        .transpose()?
        .ok_or_else(|| {
            EngineError::NoSuchEntity(format!("The group with name {name} cannot be found."))
        })
}

pub(crate) fn store_group(
    tx: &mut dyn WriteTxn,
    account: &str,
    group: &GroupRecord,
) -> Result<(), MetaError> {
    tx.put(
        Table::Groups,
        &entity_key(account, &group.name),
        &encode(group),
    )
}

fn all_groups(tx: &dyn ReadTxn, account: &str) -> Result<Vec<GroupRecord>, EngineError> {
    let (start, end) = account_range(account);
    tx.range(Table::Groups, &start, Some(&end), usize::MAX)?
        .iter()
        .map(|(_, v)| decode(v).map_err(EngineError::from))
        .collect()
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl Engine {
    pub async fn create_group(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
    ) -> Result<GroupRecord, EngineError> {
        check_name("groupName", name, 128)?;
        let path = path.unwrap_or("/").to_owned();
        check_path(&path)?;
        let group = GroupRecord {
            name: name.to_owned(),
            path,
            group_id: new_entity_id("AGPA"),
            created_ms: now_ms(),
            ..GroupRecord::default()
        };
        let (acct, g) = (account.to_owned(), group.clone());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                check_new_entity(
                    tx,
                    Table::Groups,
                    &acct,
                    &g.name,
                    ("Group", "GroupsPerAccount", MAX_GROUPS_PER_ACCOUNT),
                )?;
                Ok(store_group(tx, &acct, &g)?)
            })
            .await?;
        Ok(group)
    }

    /// UpdateGroup: a new name and/or path; the members' lists and policy
    /// attachments that name the group follow in the same transaction.
    pub async fn update_group(
        &self,
        account: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<(), EngineError> {
        if let Some(n) = new_name {
            check_name("newGroupName", n, 128)?;
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
            .write(move |tx| -> Result<(), EngineError> {
                let mut g = load_group(tx, &acct, &old)?;
                if let Some(p) = &new_path {
                    g.path.clone_from(p);
                }
                let Some(to) = new_name.clone().filter(|n| *n != g.name) else {
                    return Ok(store_group(tx, &acct, &g)?);
                };
                if !to.eq_ignore_ascii_case(&g.name)
                    && tx.get(Table::Groups, &entity_key(&acct, &to))?.is_some()
                {
                    return Err(EngineError::EntityAlreadyExists(format!(
                        "Group with name {to} already exists."
                    )));
                }
                let from = std::mem::replace(&mut g.name, to.clone());
                tx.delete(Table::Groups, &entity_key(&acct, &from))?;
                store_group(tx, &acct, &g)?;
                let rename = |names: &mut Vec<String>| {
                    for n in names.iter_mut().filter(|n| n.eq_ignore_ascii_case(&from)) {
                        n.clone_from(&to);
                    }
                };
                for m in &g.members {
                    let mut u = load_user(tx, &acct, m)?;
                    rename(&mut u.groups);
                    store_user(tx, &acct, &u)?;
                }
                for arn in &g.attached {
                    let mut p = crate::managed_policies::load_policy(tx, &acct, arn)?;
                    rename(&mut p.attached_groups);
                    crate::managed_policies::store_policy(tx, &acct, &p)?;
                }
                Ok(())
            })
            .await
    }

    pub async fn get_group(&self, account: &str, name: &str) -> Result<GroupRecord, EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta().read(move |tx| load_group(tx, &acct, &n)).await
    }

    /// A group and one page of its members, in name order.
    pub async fn get_group_members(
        &self,
        account: &str,
        name: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(GroupRecord, Page<UserRecord>), EngineError> {
        let (acct, n, marker) = (account.to_owned(), name.to_owned(), marker.map(lower));
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let g = load_group(tx, &acct, &n)?;
                let mut users = g
                    .members
                    .iter()
                    .map(|m| load_user(tx, &acct, m))
                    .collect::<Result<Vec<_>, _>>()?;
                users.sort_by_key(|u| lower(&u.name));
                let users = Page::of(users, |u| lower(&u.name), marker.as_deref(), max);
                Ok((g, users))
            })
            .await
    }

    /// Groups of an account whose path starts with `path_prefix`, in name
    /// order.
    pub async fn list_groups(
        &self,
        account: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<GroupRecord>, EngineError> {
        let (acct, prefix, marker) = (
            account.to_owned(),
            path_prefix.to_owned(),
            marker.map(lower),
        );
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let mut groups = all_groups(tx, &acct)?;
                groups.retain(|g| g.path.starts_with(&prefix));
                Ok(Page::of(groups, |g| lower(&g.name), marker.as_deref(), max))
            })
            .await
    }

    /// The groups a user belongs to, in name order.
    pub async fn list_groups_for_user(
        &self,
        account: &str,
        user: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<GroupRecord>, EngineError> {
        let (acct, n, marker) = (account.to_owned(), user.to_owned(), marker.map(lower));
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let u = load_user(tx, &acct, &n)?;
                let mut groups = u
                    .groups
                    .iter()
                    .map(|g| load_group(tx, &acct, g))
                    .collect::<Result<Vec<_>, _>>()?;
                groups.sort_by_key(|g| lower(&g.name));
                Ok(Page::of(groups, |g| lower(&g.name), marker.as_deref(), max))
            })
            .await
    }

    /// Adds a user to a group; adding a member again changes nothing, as in
    /// IAM.
    pub async fn add_user_to_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), EngineError> {
        let (acct, gn, un) = (account.to_owned(), group.to_owned(), user.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut g = load_group(tx, &acct, &gn)?;
                let mut u = load_user(tx, &acct, &un)?;
                if u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)) {
                    return Ok(());
                }
                if u.groups.len() >= MAX_GROUPS_PER_USER {
                    return Err(EngineError::LimitExceeded(format!(
                        "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                    )));
                }
                u.groups.push(g.name.clone());
                g.members.push(u.name.clone());
                store_user(tx, &acct, &u)?;
                Ok(store_group(tx, &acct, &g)?)
            })
            .await
    }

    pub async fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), EngineError> {
        let (acct, gn, un) = (account.to_owned(), group.to_owned(), user.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut g = load_group(tx, &acct, &gn)?;
                let mut u = load_user(tx, &acct, &un)?;
                let before = g.members.len();
                g.members.retain(|m| !m.eq_ignore_ascii_case(&u.name));
                u.groups.retain(|x| !x.eq_ignore_ascii_case(&g.name));
                if g.members.len() == before {
                    return Err(EngineError::NoSuchEntity(format!(
                        "The user with name {un} cannot be found in group {}.",
                        g.name
                    )));
                }
                store_user(tx, &acct, &u)?;
                Ok(store_group(tx, &acct, &g)?)
            })
            .await
    }

    /// Deletes a group that has no members and no policies left
    /// (DeleteConflict otherwise, as IAM does).
    pub async fn delete_group(&self, account: &str, name: &str) -> Result<(), EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let g = load_group(tx, &acct, &n)?;
                let conflict = if !g.members.is_empty() {
                    Some("Cannot delete entity, must remove users from group first.")
                } else if !g.inline_policies.is_empty() {
                    Some("Cannot delete entity, must delete policies first.")
                } else if !g.attached.is_empty() {
                    Some("Cannot delete entity, must detach all policies first.")
                } else {
                    None
                };
                if let Some(msg) = conflict {
                    return Err(EngineError::DeleteConflict(msg.into()));
                }
                tx.delete(Table::Groups, &entity_key(&acct, &n))?;
                Ok(())
            })
            .await
    }

    /// Adds or replaces an inline policy of a group, after checking the
    /// document and IAM's quota for all of the group's inline policies.
    pub async fn put_group_policy(
        &self,
        account: &str,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EngineError> {
        let (acct, gn, pn, doc) = (
            account.to_owned(),
            group.to_owned(),
            name.to_owned(),
            document.to_owned(),
        );
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut g = load_group(tx, &acct, &gn)?;
                put_inline_policy(
                    &mut g.inline_policies,
                    &pn,
                    &doc,
                    PolicySizeLimit::GroupInline,
                )?;
                Ok(store_group(tx, &acct, &g)?)
            })
            .await
    }

    pub async fn delete_group_policy(
        &self,
        account: &str,
        group: &str,
        name: &str,
    ) -> Result<(), EngineError> {
        let (acct, gn, pn) = (account.to_owned(), group.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut g = load_group(tx, &acct, &gn)?;
                delete_inline_policy(&mut g.inline_policies, &pn, "group")?;
                Ok(store_group(tx, &acct, &g)?)
            })
            .await
    }
}
