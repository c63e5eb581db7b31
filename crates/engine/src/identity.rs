//! Identities: accounts, IAM users and access keys, and resolving an access
//! key to the principal it signs for.
//!
//! The first account's root keys come from the server's configuration and
//! are never stored here; every other key is. Names follow IAM's rules and
//! limits (user names unique case-insensitively within an account, at most
//! two access keys per user).

use coffer_iam::PolicySizeLimit;
use coffer_meta::Table;
use coffer_meta::records::{
    AccessKeyRecord, AccountRecord, BucketRecord, UserRecord, decode, encode,
};
use coffer_types::{AccountId, Principal};

use crate::entities::{
    account_range, check_name, check_new_entity, check_path, delete_inline_policy, entity_key,
    load_user, new_entity_id, put_inline_policy, store_user,
};
use crate::{Engine, EngineError, now_ms};

/// IAM allows two access keys per user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// IAM's default quota: 5000 users per account.
pub(crate) const MAX_USERS_PER_ACCOUNT: usize = 5000;

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rand::random_range(0..alphabet.len())]))
        .collect()
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A new long-term access key: `AKIA` + 16 characters, and a 40-character
/// secret.
pub fn new_access_key(account_id: &str, user: Option<&str>) -> AccessKeyRecord {
    AccessKeyRecord {
        access_key_id: format!("AKIA{}", random_from(UPPER_DIGITS, 16)),
        secret_access_key: random_from(SECRET_CHARS, 40),
        account_id: account_id.to_owned(),
        user: user.map(str::to_owned),
        active: true,
        created_ms: now_ms(),
        last_used_ms: None,
        last_used_service: None,
    }
}

/// The record as stored: its secret sealed when a master key is configured.
fn stored(master: Option<&crate::secrets::MasterKey>, key: &AccessKeyRecord) -> AccessKeyRecord {
    AccessKeyRecord {
        secret_access_key: crate::secrets::seal(master, &key.access_key_id, &key.secret_access_key),
        ..key.clone()
    }
}

/// The stored access keys of an account's root user.
pub(crate) fn root_keys(
    tx: &dyn coffer_meta::ReadTxn,
    account: &str,
) -> Result<Vec<AccessKeyRecord>, EngineError> {
    let mut out = Vec::new();
    for (_, v) in tx.range(Table::AccessKeys, b"", None, usize::MAX)? {
        let k: AccessKeyRecord = decode(&v)?;
        if k.account_id == account && k.user.is_none() {
            out.push(k);
        }
    }
    Ok(out)
}

impl Engine {
    /// The secret and principal of an active access key, or `None` when the
    /// key is unknown or inactive.
    pub async fn resolve_access_key(
        &self,
        access_key: &str,
    ) -> Result<Option<(String, Principal)>, EngineError> {
        let ak = access_key.to_owned();
        let master = self.master_key().cloned();
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let Some(v) = tx.get(Table::AccessKeys, ak.as_bytes())? else {
                    return Ok(None);
                };
                let key: AccessKeyRecord = decode(&v)?;
                if !key.active {
                    return Ok(None);
                }
                let secret = crate::secrets::open(master.as_ref(), &ak, &key.secret_access_key)?;
                let account = AccountId(key.account_id.clone());
                let principal = match &key.user {
                    None => Principal::root(account, ak.clone()),
                    Some(name) => {
                        let u = load_user(tx, &key.account_id, name)?;
                        Principal::user(account, ak.clone(), u.name, u.path, u.user_id)
                    }
                };
                Ok(Some((secret, principal)))
            })
            .await
    }

    /// Creates an account with a root access key; only the first account's
    /// root may do this.
    pub async fn create_account(
        &self,
        name: &str,
    ) -> Result<(AccountRecord, AccessKeyRecord), EngineError> {
        if name.is_empty() || name.len() > 64 {
            return Err(EngineError::InvalidInput(
                "Account names are 1 to 64 characters".into(),
            ));
        }
        let name = name.to_owned();
        let master = self.master_key().cloned();
        self.meta()
            .write(move |tx| -> Result<_, EngineError> {
                for (_, v) in tx.range(Table::Accounts, b"", None, usize::MAX)? {
                    let a: AccountRecord = decode(&v)?;
                    if a.name == name {
                        return Err(EngineError::EntityAlreadyExists(format!(
                            "An account named {name} already exists."
                        )));
                    }
                }
                let account = AccountRecord {
                    id: crate::auth::new_account_id(),
                    canonical_id: hex::encode(rand::random::<[u8; 32]>()),
                    name: name.clone(),
                };
                let key = new_access_key(&account.id, None);
                tx.put(Table::Accounts, account.id.as_bytes(), &encode(&account))?;
                tx.put(
                    Table::AccessKeys,
                    key.access_key_id.as_bytes(),
                    &encode(&stored(master.as_ref(), &key)),
                )?;
                Ok((account, key))
            })
            .await
    }

    /// Every account, the first one first.
    pub async fn list_accounts(&self) -> Result<Vec<AccountRecord>, EngineError> {
        let first = self.root_account().clone();
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let mut out = vec![first.clone()];
                for (_, v) in tx.range(Table::Accounts, b"", None, usize::MAX)? {
                    out.push(decode::<AccountRecord>(&v)?);
                }
                Ok(out)
            })
            .await
    }

    /// Deletes an account that owns no buckets, with its users and keys. The
    /// first account cannot be deleted.
    pub async fn delete_account(&self, id: &str) -> Result<(), EngineError> {
        if id == self.root_account().id {
            return Err(EngineError::DeleteConflict(
                "The first account administers the server and cannot be deleted.".into(),
            ));
        }
        let id = id.to_owned();
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                if !tx.delete(Table::Accounts, id.as_bytes())? {
                    return Err(EngineError::NoSuchEntity(format!(
                        "The account {id} cannot be found."
                    )));
                }
                for (_, v) in tx.range(Table::Buckets, b"", None, usize::MAX)? {
                    let b: BucketRecord = decode(&v)?;
                    if b.owner == id {
                        return Err(EngineError::DeleteConflict(format!(
                            "The account {id} still owns bucket {}; delete its buckets first.",
                            b.name
                        )));
                    }
                }
                for (k, v) in tx.range(Table::AccessKeys, b"", None, usize::MAX)? {
                    let key: AccessKeyRecord = decode(&v)?;
                    if key.account_id == id {
                        tx.delete(Table::AccessKeys, &k)?;
                    }
                }
                // Everything the account owns in IAM goes with it.
                let (start, end) = account_range(&id);
                for table in [Table::Users, Table::Groups, Table::Policies, Table::Roles] {
                    for (k, _) in tx.range(table, &start, Some(&end), usize::MAX)? {
                        tx.delete(table, &k)?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// The account record for an id (the first account included).
    pub async fn account(&self, id: &str) -> Result<AccountRecord, EngineError> {
        if id == self.root_account().id {
            return Ok(self.root_account().clone());
        }
        let key = id.to_owned();
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                tx.get(Table::Accounts, key.as_bytes())?
                    .map(|v| decode(&v))
                    .transpose()?
                    .ok_or_else(|| {
                        EngineError::NoSuchEntity(format!("The account {key} cannot be found."))
                    })
            })
            .await
    }

    pub async fn create_user(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
    ) -> Result<UserRecord, EngineError> {
        check_name("userName", name, 64)?;
        let path = path.unwrap_or("/").to_owned();
        check_path(&path)?;
        let user = UserRecord {
            name: name.to_owned(),
            path,
            user_id: new_entity_id("AIDA"),
            created_ms: now_ms(),
            ..UserRecord::default()
        };
        let (acct, u) = (account.to_owned(), user.clone());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                check_new_entity(
                    tx,
                    Table::Users,
                    &acct,
                    &u.name,
                    ("User", "UsersPerAccount", MAX_USERS_PER_ACCOUNT),
                )?;
                Ok(store_user(tx, &acct, &u)?)
            })
            .await?;
        Ok(user)
    }

    pub async fn get_user(&self, account: &str, name: &str) -> Result<UserRecord, EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .read(move |tx| -> Result<_, EngineError> { load_user(tx, &acct, &n) })
            .await
    }

    /// Users of an account whose path starts with `path_prefix`, in name
    /// order, after `marker` (a user name), at most `max`; and whether more
    /// follow.
    pub async fn list_users(
        &self,
        account: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<UserRecord>, bool), EngineError> {
        let (acct, prefix, marker) = (
            account.to_owned(),
            path_prefix.to_owned(),
            marker.map(str::to_ascii_lowercase),
        );
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let start = match &marker {
                    Some(m) => {
                        let mut k = entity_key(&acct, m);
                        k.push(0);
                        k
                    }
                    None => entity_key(&acct, ""),
                };
                let end = {
                    let mut e = acct.as_bytes().to_vec();
                    e.push(1);
                    e
                };
                let mut out = Vec::new();
                let mut truncated = false;
                for (_, v) in tx.range(Table::Users, &start, Some(&end), usize::MAX)? {
                    let u: UserRecord = decode(&v)?;
                    if !u.path.starts_with(&prefix) {
                        continue;
                    }
                    if out.len() == max {
                        truncated = true;
                        break;
                    }
                    out.push(u);
                }
                Ok((out, truncated))
            })
            .await
    }

    /// Deletes a user that has no access keys and no policies left
    /// (DeleteConflict otherwise, as IAM does).
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<(), EngineError> {
        let (acct, n) = (account.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let u = load_user(tx, &acct, &n)?;
                if !u.access_keys.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must delete access keys first.".into(),
                    ));
                }
                if !u.inline_policies.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                if !u.groups.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must remove users from group first.".into(),
                    ));
                }
                if !u.attached.is_empty() {
                    return Err(EngineError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    ));
                }
                tx.delete(Table::Users, &entity_key(&acct, &n))?;
                Ok(())
            })
            .await
    }

    /// Creates an access key for a user (at most two per user).
    /// A new access key for an IAM user, or with `user` `None` for the
    /// account's root user (stored like any key; the first account's
    /// configured root key is not among them). Two keys at most each.
    pub async fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<AccessKeyRecord, EngineError> {
        let (acct, n) = (account.to_owned(), user.map(str::to_owned));
        let master = self.master_key().cloned();
        self.meta()
            .write(move |tx| -> Result<_, EngineError> {
                let mut u = n.as_deref().map(|n| load_user(tx, &acct, n)).transpose()?;
                let existing = match &u {
                    Some(u) => u.access_keys.len(),
                    None => root_keys(tx, &acct)?.len(),
                };
                if existing >= MAX_ACCESS_KEYS_PER_USER {
                    return Err(EngineError::LimitExceeded(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                    )));
                }
                let key = new_access_key(&acct, u.as_ref().map(|u| u.name.as_str()));
                if let Some(u) = &mut u {
                    u.access_keys.push(key.access_key_id.clone());
                    store_user(tx, &acct, u)?;
                }
                tx.put(
                    Table::AccessKeys,
                    key.access_key_id.as_bytes(),
                    &encode(&stored(master.as_ref(), &key)),
                )?;
                Ok(key)
            })
            .await
    }

    /// The access keys of an IAM user, or of the account's root user.
    pub async fn list_access_keys(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, EngineError> {
        let (acct, n) = (account.to_owned(), user.map(str::to_owned));
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let Some(n) = &n else {
                    return root_keys(tx, &acct);
                };
                let u = load_user(tx, &acct, n)?;
                let mut out = Vec::new();
                for id in &u.access_keys {
                    if let Some(v) = tx.get(Table::AccessKeys, id.as_bytes())? {
                        out.push(decode::<AccessKeyRecord>(&v)?);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// The key record, if it belongs to `user` (or the root user) of
    /// `account`.
    fn user_key_record(
        tx: &dyn coffer_meta::ReadTxn,
        account: &str,
        user: Option<&str>,
        key_id: &str,
    ) -> Result<AccessKeyRecord, EngineError> {
        let missing = || {
            EngineError::NoSuchEntity(format!("The Access Key with id {key_id} cannot be found."))
        };
        let key: AccessKeyRecord = tx
            .get(Table::AccessKeys, key_id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()?
            .ok_or_else(missing)?;
        let owned = match (key.user.as_deref(), user) {
            (Some(k), Some(u)) => k.eq_ignore_ascii_case(u),
            (None, None) => true,
            _ => false,
        };
        if key.account_id != account || !owned {
            return Err(missing());
        }
        Ok(key)
    }

    pub async fn update_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        key_id: &str,
        active: bool,
    ) -> Result<(), EngineError> {
        let (acct, n, id) = (
            account.to_owned(),
            user.map(str::to_owned),
            key_id.to_owned(),
        );
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut key = Self::user_key_record(tx, &acct, n.as_deref(), &id)?;
                key.active = active;
                tx.put(Table::AccessKeys, id.as_bytes(), &encode(&key))?;
                Ok(())
            })
            .await
    }

    pub async fn delete_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        key_id: &str,
    ) -> Result<(), EngineError> {
        let (acct, n, id) = (
            account.to_owned(),
            user.map(str::to_owned),
            key_id.to_owned(),
        );
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                Self::user_key_record(tx, &acct, n.as_deref(), &id)?;
                if let Some(n) = &n {
                    let mut u = load_user(tx, &acct, n)?;
                    u.access_keys.retain(|k| *k != id);
                    store_user(tx, &acct, &u)?;
                }
                tx.delete(Table::AccessKeys, id.as_bytes())?;
                Ok(())
            })
            .await
    }

    /// Adds or replaces an inline policy of a user, after checking it.
    pub async fn put_user_policy(
        &self,
        account: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EngineError> {
        let (acct, n, pn, doc) = (
            account.to_owned(),
            user.to_owned(),
            name.to_owned(),
            document.to_owned(),
        );
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut u = load_user(tx, &acct, &n)?;
                // All of a user's inline policies count together against
                // IAM's quota; checked in the transaction that stores them.
                put_inline_policy(
                    &mut u.inline_policies,
                    &pn,
                    &doc,
                    PolicySizeLimit::UserInline,
                )?;
                Ok(store_user(tx, &acct, &u)?)
            })
            .await
    }

    pub async fn delete_user_policy(
        &self,
        account: &str,
        user: &str,
        name: &str,
    ) -> Result<(), EngineError> {
        let (acct, n, pn) = (account.to_owned(), user.to_owned(), name.to_owned());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut u = load_user(tx, &acct, &n)?;
                delete_inline_policy(&mut u.inline_policies, &pn, "user")?;
                Ok(store_user(tx, &acct, &u)?)
            })
            .await
    }

    /// Whether a (valid) bucket policy grants access to everyone.
    pub fn policy_is_public(text: &str) -> bool {
        coffer_iam::Policy::parse_for(text, coffer_iam::PolicyKind::Resource)
            .is_ok_and(|p| p.is_public())
    }

    /// Sets (or with `None` removes) a bucket's policy. The document must
    /// already have been validated. With `binds_owner` (the
    /// `x-amz-confirm-remove-self-bucket-access` header) the policy can deny
    /// the owner's root its policy actions too, as on S3.
    pub async fn set_bucket_policy(
        &self,
        bucket: &str,
        policy: Option<String>,
        binds_owner: bool,
    ) -> Result<(), EngineError> {
        self.update_bucket(bucket, move |rec| {
            let blocks = rec
                .public_access_block
                .is_some_and(|p| p.block_public_policy);
            if blocks
                && let Some(text) = &policy
                && Self::policy_is_public(text)
            {
                return Err(EngineError::AccessDenied(
                    "Access Denied: the bucket's public access block refuses public policies"
                        .into(),
                ));
            }
            rec.policy.clone_from(&policy);
            rec.policy_binds_owner = binds_owner && policy.is_some();
            Ok(())
        })
        .await
    }
}
