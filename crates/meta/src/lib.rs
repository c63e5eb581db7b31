//! The metadata store.
//!
//! Backends implement [`KvBackend`]: named tables of ordered byte keys, read
//! transactions that see one consistent snapshot, and write transactions that
//! commit atomically and durably or not at all. The trait is deliberately
//! small (get, put, delete, forward range from an arbitrary key) so that the
//! embedded redb backend and a PostgreSQL backend fit it equally well; it names
//! no backend.
//!
//! Transactions are closures, run on a blocking thread by [`MetaStore`]. A
//! closure may run more than once when a backend retries a conflicting
//! transaction, so it must not have side effects outside the transaction.
//!
//! [`records`] holds the typed values (buckets, objects, uploads, parts) with
//! a versioned encoding, and [`keys`] the order-preserving key layout.
//! [`conformance`] is the test suite every backend must pass.

pub mod conformance;
pub mod keys;
pub mod records;

use std::sync::Arc;

/// The tables Coffer keeps. Each backend maps them to its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// bucket name -> [`records::BucketRecord`]
    Buckets,
    /// bucket NUL key -> [`records::ObjectRecord`]: the latest version of
    /// every key that has any version (possibly a delete marker)
    Objects,
    /// bucket NUL key NUL !stamp (big-endian u64) -> [`records::ObjectRecord`]:
    /// the noncurrent versions of a key, newest first
    Versions,
    /// bucket NUL key NUL upload id -> [`records::UploadRecord`]
    Uploads,
    /// upload id NUL part number (big-endian u32) -> [`records::PartRecord`]
    Parts,
    /// blob id -> [`records::BlobOwner`]: which record references a blob, so
    /// that orphans can be found without scanning every object.
    Blobs,
    /// server-wide settings: format version, accounts.
    System,
    /// inline piece id -> the raw bytes of a small object or part, stored
    /// here instead of in a blob file (see `BlobRef::inline_crc32c`).
    Inline,
    /// account id -> [`records::AccountRecord`]
    Accounts,
    /// access key id -> [`records::AccessKeyRecord`]
    AccessKeys,
    /// account id NUL lowercase user name -> [`records::UserRecord`]
    /// (IAM user names are unique case-insensitively within an account)
    Users,
    /// account id NUL lowercase group name -> [`records::GroupRecord`]
    Groups,
    /// account id NUL lowercase policy name -> [`records::ManagedPolicyRecord`]
    /// (customer-managed policy names are unique case-insensitively within an
    /// account, whatever their path)
    Policies,
    /// account id NUL lowercase role name -> [`records::RoleRecord`]
    Roles,
}

impl Table {
    pub const ALL: [Self; 14] = [
        Self::Buckets,
        Self::Objects,
        Self::Versions,
        Self::Uploads,
        Self::Parts,
        Self::Blobs,
        Self::System,
        Self::Inline,
        Self::Accounts,
        Self::AccessKeys,
        Self::Users,
        Self::Groups,
        Self::Policies,
        Self::Roles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Buckets => "buckets",
            Self::Objects => "objects",
            Self::Versions => "versions",
            Self::Uploads => "uploads",
            Self::Parts => "parts",
            Self::Blobs => "blobs",
            Self::System => "system",
            Self::Inline => "inline",
            Self::Accounts => "accounts",
            Self::AccessKeys => "access_keys",
            Self::Users => "users",
            Self::Groups => "groups",
            Self::Policies => "policies",
            Self::Roles => "roles",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata backend: {0}")]
    Backend(String),
    #[error("metadata store is full: {0}")]
    NoSpace(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// The transaction closure asked to roll back; the caller's own error is
    /// carried separately by [`MetaStore`].
    #[error("transaction aborted")]
    Aborted,
}

pub type KvPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads within one consistent snapshot.
pub trait ReadTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Up to `limit` entries with `start <= key < end` (no upper bound when
    /// `end` is `None`), in ascending byte order.
    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<KvPairs, MetaError>;
}

/// A write transaction: its reads see its own writes.
pub trait WriteTxn: ReadTxn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), MetaError>;
    /// Removes a key; returns whether it existed.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, MetaError>;
}

pub type ReadFn<'a> = dyn FnMut(&dyn ReadTxn) -> Result<(), MetaError> + 'a;
pub type WriteFn<'a> = dyn FnMut(&mut dyn WriteTxn) -> Result<(), MetaError> + 'a;

/// A metadata backend. Both methods block; [`MetaStore`] calls them on a
/// blocking thread.
pub trait KvBackend: Send + Sync + 'static {
    fn read(&self, f: &mut ReadFn<'_>) -> Result<(), MetaError>;
    /// Runs `f` in a write transaction and commits it durably when `f`
    /// returns `Ok`; rolls back when it returns `Err`.
    fn write(&self, f: &mut WriteFn<'_>) -> Result<(), MetaError>;
}

/// The async face of a backend used by the engine.
#[derive(Clone)]
pub struct MetaStore {
    backend: Arc<dyn KvBackend>,
}

impl MetaStore {
    pub fn new(backend: Arc<dyn KvBackend>) -> Self {
        Self { backend }
    }

    /// Runs a read transaction on a blocking thread.
    pub async fn read<R, E, F>(&self, mut f: F) -> Result<R, E>
    where
        F: FnMut(&dyn ReadTxn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<MetaError> + Send + 'static,
    {
        let backend = self.backend.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut out: Option<Result<R, E>> = None;
            let res = backend.read(&mut |tx| match f(tx) {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    out = Some(Err(e));
                    Err(MetaError::Aborted)
                }
            });
            finish(res, out)
        })
        .await;
        joined.unwrap_or_else(|e| Err(E::from(MetaError::Backend(e.to_string()))))
    }

    /// Runs a write transaction on a blocking thread; commits when `f`
    /// returns `Ok`.
    pub async fn write<R, E, F>(&self, mut f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn WriteTxn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<MetaError> + Send + 'static,
    {
        let backend = self.backend.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut out: Option<Result<R, E>> = None;
            let res = backend.write(&mut |tx| match f(tx) {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    out = Some(Err(e));
                    Err(MetaError::Aborted)
                }
            });
            finish(res, out)
        })
        .await;
        joined.unwrap_or_else(|e| Err(E::from(MetaError::Backend(e.to_string()))))
    }
}

fn finish<R, E: From<MetaError>>(
    res: Result<(), MetaError>,
    out: Option<Result<R, E>>,
) -> Result<R, E> {
    match (res, out) {
        // The closure's own error wins over the resulting Aborted.
        (Err(MetaError::Aborted), Some(Err(e))) => Err(e),
        (Err(e), _) => Err(E::from(e)),
        (Ok(()), Some(v)) => v,
        (Ok(()), None) => Err(E::from(MetaError::Backend(
            "transaction closure never ran".into(),
        ))),
    }
}
