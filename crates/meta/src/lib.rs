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

#[derive(Debug, Clone, thiserror::Error)]
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
/// A write closure that can be sent to the writer thread.
type SendWriteFn = dyn FnMut(&mut dyn WriteTxn) -> Result<(), MetaError> + Send + 'static;

/// A metadata backend. Its methods block; [`MetaStore`] calls them on
/// threads of its own.
pub trait KvBackend: Send + Sync + 'static {
    fn read(&self, f: &mut ReadFn<'_>) -> Result<(), MetaError>;
    /// Runs `f` in a write transaction and commits it durably when `f`
    /// returns `Ok`; rolls back when it returns `Err`.
    fn write(&self, f: &mut WriteFn<'_>) -> Result<(), MetaError>;
    /// Runs each closure as if in a transaction of its own, in order, and
    /// returns each one's outcome: one that fails leaves no trace, and every
    /// one that succeeded is durable when this returns. A backend may commit
    /// them together (one durable commit for the batch); this default runs
    /// them one transaction each.
    fn write_batch(&self, jobs: &mut [&mut WriteFn<'_>]) -> Vec<Result<(), MetaError>> {
        jobs.iter_mut().map(|f| self.write(*f)).collect()
    }
}

/// At most this many write transactions share one commit.
const MAX_BATCH: usize = 256;

/// A write transaction waiting for the writer thread.
struct WriteJob {
    run: Box<SendWriteFn>,
    done: tokio::sync::oneshot::Sender<Result<(), MetaError>>,
}

/// The async face of a backend used by the engine.
///
/// Writes go through one writer thread that takes every write transaction
/// queued while the previous commit was in progress and hands them to the
/// backend as one batch (group commit): under concurrency, many writes
/// share one durable commit instead of each paying for its own.
#[derive(Clone)]
pub struct MetaStore {
    backend: Arc<dyn KvBackend>,
    writer: std::sync::mpsc::Sender<WriteJob>,
}

impl MetaStore {
    pub fn new(backend: Arc<dyn KvBackend>) -> Self {
        let (writer, jobs) = std::sync::mpsc::channel::<WriteJob>();
        // The thread holds the backend weakly, so that dropping the last
        // MetaStore closes the database at once (a reopen in the same process
        // must not race the thread); it ends when its channel closes.
        let weak = Arc::downgrade(&backend);
        std::thread::Builder::new()
            .name("coffer-meta-writer".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let mut runs: Vec<&mut WriteFn<'_>> = batch
                        .iter_mut()
                        .map(|j| &mut *j.run as &mut WriteFn<'_>)
                        .collect();
                    let results = match weak.upgrade() {
                        Some(b) => b.write_batch(&mut runs),
                        None => runs
                            .iter()
                            .map(|_| Err(MetaError::Backend("the metadata store is closed".into())))
                            .collect(),
                    };
                    drop(runs);
                    for (job, r) in batch.into_iter().zip(results) {
                        let _ = job.done.send(r);
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the metadata writer thread: {e}"));
        Self { backend, writer }
    }

    /// Runs a read transaction on the calling thread. Reads are short (a
    /// few B-tree lookups in redb's cache, or one page of a listing), and
    /// handing each one to a blocking thread cost more than the read itself:
    /// a profile of 4 KiB GETs spent about 45 % of the server's time in the
    /// thread handoffs of `spawn_blocking`.
    pub async fn read<R, E, F>(&self, mut f: F) -> Result<R, E>
    where
        F: FnMut(&dyn ReadTxn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<MetaError> + Send + 'static,
    {
        let mut out: Option<Result<R, E>> = None;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.backend.read(&mut |tx| match f(tx) {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    out = Some(Err(e));
                    Err(MetaError::Aborted)
                }
            })
        }));
        match run {
            Ok(res) => finish(res, out),
            Err(_) => Err(E::from(MetaError::Backend(
                "a metadata read panicked".into(),
            ))),
        }
    }

    /// Runs a write transaction on the writer thread; commits (durably,
    /// possibly together with other transactions) when `f` returns `Ok`.
    pub async fn write<R, E, F>(&self, mut f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn WriteTxn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<MetaError> + Send + 'static,
    {
        let out: Arc<std::sync::Mutex<Option<Result<R, E>>>> = Arc::default();
        let slot = out.clone();
        let run = Box::new(move |tx: &mut dyn WriteTxn| {
            // A panicking closure fails its own transaction, not the writer
            // thread every other write depends on.
            let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(tx))) else {
                return Err(MetaError::Backend("a metadata transaction panicked".into()));
            };
            let failed = r.is_err();
            if let Ok(mut s) = slot.lock() {
                *s = Some(r);
            }
            if failed {
                Err(MetaError::Aborted)
            } else {
                Ok(())
            }
        });
        let (done, result) = tokio::sync::oneshot::channel();
        if self.writer.send(WriteJob { run, done }).is_err() {
            return Err(E::from(MetaError::Backend(
                "the metadata writer thread is gone".into(),
            )));
        }
        let res = result.await.unwrap_or_else(|_| {
            Err(MetaError::Backend(
                "the metadata writer dropped a transaction".into(),
            ))
        });
        let taken = out.lock().ok().and_then(|mut s| s.take());
        finish(res, taken)
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
