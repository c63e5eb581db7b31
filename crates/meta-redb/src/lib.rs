//! The embedded metadata backend: one redb file in the data directory.
//!
//! redb gives ACID transactions with MVCC readers; every commit uses
//! `Durability::Immediate`, so a committed transaction survives a crash and
//! a crash never exposes a half-applied one. redb runs one write transaction
//! at a time; readers never block.
//!
//! An I/O error while writing (typically a full disk) makes redb refuse every
//! later write with `PreviousIo` until the database is closed and opened
//! again. The backend does that itself, so a server that ran out of space
//! takes writes again once space is freed, without a restart.
//!
//! A commit that reports an I/O error may still have reached the disk (redb
//! can fail after the new root is durable). Every commit therefore also
//! stores a fresh id in a table of its own; when a commit fails, the store
//! is reopened and the id read back: if it is there, the commit happened
//! and its writes are reported as done, so an error always means nothing
//! was written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use coffer_meta::{KvBackend, KvPairs, MetaError, ReadFn, ReadTxn, Table, WriteFn, WriteTxn};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// The id of the last commit (see the module documentation).
const LAST_COMMIT: TableDefinition<'static, &'static str, u64> =
    TableDefinition::new("coffer_last_commit");
const LAST_COMMIT_KEY: &str = "id";

/// A commit id no earlier commit of this file has used: the time in
/// nanoseconds, moved past the previous id if the clock has not.
fn next_commit_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let id = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(p) => prev = p,
        }
    }
}

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

pub struct RedbBackend {
    /// `None` after an I/O error closed it and before it could be opened
    /// again (say, while the disk is still full).
    db: RwLock<Option<Arc<redb::Database>>>,
    path: PathBuf,
    cache_bytes: usize,
}

/// The page cache redb keeps in memory, unless told otherwise. redb's own
/// default is 1 GiB, which a large bucket's listings fill: the server's
/// memory would then grow with the metadata it has read. Pages beyond the
/// cache are read again from the file (usually from the OS page cache).
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl RedbBackend {
    /// Opens (or creates) the database file and makes sure every table exists,
    /// so that readers never meet a missing table.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`Self::open`] with a cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, MetaError> {
        let db = open_database(path, cache_bytes).map_err(backend)?;
        Ok(Self {
            db: RwLock::new(Some(Arc::new(db))),
            path: path.to_owned(),
            cache_bytes,
        })
    }

    /// The open database, opening it again if an I/O error closed it.
    fn database(&self) -> Result<Arc<redb::Database>, MetaError> {
        if let Some(db) = self.db.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(db.clone());
        }
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        // Reads that began on the closed database hold its file lock for a
        // moment longer.
        let deadline = Instant::now() + Duration::from_secs(5);
        let db = loop {
            match open_database(&self.path, self.cache_bytes) {
                Ok(db) => break db,
                Err(redb::Error::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(backend(e)),
            }
        };
        tracing::info!(path = %self.path.display(), "metadata store reopened");
        let db = Arc::new(db);
        *slot = Some(db.clone());
        Ok(db)
    }

    /// Passes on the error of a write. After an I/O error redb takes no
    /// more writes, so the database is closed, to be opened again by the
    /// next use.
    fn failed(&self, e: impl Into<redb::Error>) -> MetaError {
        let e: redb::Error = e.into();
        if matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo) {
            self.close_after_io_error(&e);
        }
        backend(e)
    }

    /// [`Self::failed`] for errors the closures of a write met (their
    /// reads and writes map redb's errors as they go): out of space is an
    /// I/O error.
    fn job_failed(&self, e: MetaError) -> MetaError {
        if matches!(e, MetaError::NoSpace(_)) {
            self.close_after_io_error(&e);
        }
        e
    }

    /// Commits `tx`, stamped with a fresh commit id. On failure, finds out
    /// whether the commit reached the disk anyway: `Ok` if it did.
    fn commit(&self, tx: redb::WriteTransaction) -> Result<(), MetaError> {
        let id = next_commit_id();
        let stamped: Result<(), redb::Error> = tx
            .open_table(LAST_COMMIT)
            .map_err(redb::Error::from)
            .and_then(|mut t| {
                t.insert(LAST_COMMIT_KEY, id)?;
                Ok(())
            });
        if let Err(e) = stamped {
            let _ = tx.abort();
            return Err(self.failed(e));
        }
        let Err(e) = tx.commit() else {
            return Ok(());
        };
        let err = self.failed(e);
        // Reopened (if it can be) on the state on disk.
        let landed = self.database().ok().and_then(|db| {
            let tx = db.begin_read().ok()?;
            let t = tx.open_table(LAST_COMMIT).ok()?;
            let v = t.get(LAST_COMMIT_KEY).ok()??.value();
            Some(v == id)
        });
        if landed == Some(true) {
            tracing::info!("the failed commit had reached the disk: its writes stand");
            return Ok(());
        }
        Err(err)
    }

    fn close_after_io_error(&self, e: &dyn std::fmt::Display) {
        tracing::warn!(error = %e, "metadata write failed on I/O; the store will be reopened");
        self.db.write().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Opens (or creates) the database file and makes sure every table exists,
/// so that readers never meet a missing table.
fn open_database(path: &Path, cache_bytes: usize) -> Result<redb::Database, redb::Error> {
    let db = redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create(path)?;
    let tx = db.begin_write()?;
    for t in Table::ALL {
        tx.open_table(def(t))?;
    }
    tx.commit()?;
    Ok(db)
}

fn backend(e: impl Into<redb::Error>) -> MetaError {
    let e: redb::Error = e.into();
    match &e {
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            MetaError::NoSpace(e.to_string())
        }
        _ => MetaError::Backend(e.to_string()),
    }
}

fn collect<'a>(
    iter: impl Iterator<
        Item = Result<
            (
                redb::AccessGuard<'a, &'static [u8]>,
                redb::AccessGuard<'a, &'static [u8]>,
            ),
            redb::StorageError,
        >,
    >,
    limit: usize,
) -> Result<KvPairs, MetaError> {
    let mut out = Vec::new();
    for item in iter.take(limit) {
        let (k, v) = item.map_err(backend)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

fn bounds<'k>(
    start: &'k [u8],
    end: Option<&'k [u8]>,
) -> (std::ops::Bound<&'k [u8]>, std::ops::Bound<&'k [u8]>) {
    use std::ops::Bound;
    (
        Bound::Included(start),
        end.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

fn get_from(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, MetaError> {
    Ok(t.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
}

fn range_from(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    start: &[u8],
    end: Option<&[u8]>,
    limit: usize,
) -> Result<KvPairs, MetaError> {
    if end.is_some_and(|e| e <= start) {
        return Ok(Vec::new());
    }
    collect(
        t.range::<&[u8]>(bounds(start, end)).map_err(backend)?,
        limit,
    )
}

struct Reader(redb::ReadTransaction);

impl ReadTxn for Reader {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        get_from(&self.0.open_table(def(table)).map_err(backend)?, key)
    }

    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<KvPairs, MetaError> {
        range_from(
            &self.0.open_table(def(table)).map_err(backend)?,
            start,
            end,
            limit,
        )
    }
}

/// Writes of one closure inside a (possibly shared) write transaction. With
/// an undo log, every change records the value it replaced, so that the
/// closure's changes can be taken back if it fails while others in the same
/// transaction succeed (redb savepoints cannot be taken once a transaction
/// has changes).
struct Writer<'a> {
    tx: &'a redb::WriteTransaction,
    undo: Option<Vec<Change>>,
}

/// A value a writer replaced: (table, key, the value before, if any).
type Change = (Table, Vec<u8>, Option<Vec<u8>>);

impl<'a> Writer<'a> {
    fn new(tx: &'a redb::WriteTransaction) -> Self {
        Self { tx, undo: None }
    }

    fn undoable(tx: &'a redb::WriteTransaction) -> Self {
        Self {
            tx,
            undo: Some(Vec::new()),
        }
    }

    /// Restores every value this writer changed, newest change first.
    fn roll_back(self) -> Result<(), MetaError> {
        for (table, key, old) in self.undo.unwrap_or_default().into_iter().rev() {
            let mut t = self.tx.open_table(def(table)).map_err(backend)?;
            match old {
                Some(v) => {
                    t.insert(key.as_slice(), v.as_slice()).map_err(backend)?;
                }
                None => {
                    t.remove(key.as_slice()).map_err(backend)?;
                }
            }
        }
        Ok(())
    }
}

impl ReadTxn for Writer<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        get_from(&self.tx.open_table(def(table)).map_err(backend)?, key)
    }

    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<KvPairs, MetaError> {
        range_from(
            &self.tx.open_table(def(table)).map_err(backend)?,
            start,
            end,
            limit,
        )
    }
}

impl WriteTxn for Writer<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        let mut t = self.tx.open_table(def(table)).map_err(backend)?;
        let old = t.insert(key, value).map_err(backend)?;
        if let Some(undo) = &mut self.undo {
            undo.push((table, key.to_vec(), old.map(|g| g.value().to_vec())));
        }
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, MetaError> {
        let mut t = self.tx.open_table(def(table)).map_err(backend)?;
        let old = t.remove(key).map_err(backend)?.map(|g| g.value().to_vec());
        let existed = old.is_some();
        if let (Some(undo), Some(v)) = (&mut self.undo, old) {
            undo.push((table, key.to_vec(), Some(v)));
        }
        Ok(existed)
    }
}

impl KvBackend for RedbBackend {
    fn read(&self, f: &mut ReadFn<'_>) -> Result<(), MetaError> {
        let tx = self.database()?.begin_read().map_err(backend)?;
        f(&Reader(tx))
    }

    fn write(&self, f: &mut WriteFn<'_>) -> Result<(), MetaError> {
        // The transaction does not need the handle, and a reopen after a
        // failed commit needs every handle gone.
        let tx = self.database()?.begin_write().map_err(|e| self.failed(e))?;
        match f(&mut Writer::new(&tx)) {
            Ok(()) => self.commit(tx),
            Err(e) => {
                tx.abort().map_err(|e| self.failed(e))?;
                Err(self.job_failed(e))
            }
        }
    }

    /// Group commit: the closures run one after another in a single redb
    /// transaction, each with an undo log that takes its changes back if it
    /// fails, and one durable commit covers them all.
    fn write_batch(&self, jobs: &mut [&mut WriteFn<'_>]) -> Vec<Result<(), MetaError>> {
        if let [only] = jobs {
            return vec![self.write(*only)];
        }
        let n = jobs.len();
        let fail_all = |e: MetaError| vec![Err(e); n];
        let tx = match self.database().map(|db| db.begin_write()) {
            Ok(Ok(tx)) => tx,
            Ok(Err(e)) => return fail_all(self.failed(e)),
            Err(e) => return fail_all(e),
        };
        let mut results = Vec::with_capacity(n);
        for f in jobs.iter_mut() {
            let mut w = Writer::undoable(&tx);
            let r = f(&mut w).map_err(|e| self.job_failed(e));
            if r.is_err()
                && let Err(undo) = w.roll_back()
            {
                // The transaction can no longer be trusted: commit nothing.
                let _ = tx.abort();
                return fail_all(self.job_failed(undo));
            }
            results.push(r);
        }
        match self.commit(tx) {
            Ok(()) => results,
            Err(e) => results.into_iter().map(|r| r.and(Err(e.clone()))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use coffer_meta::MetaStore;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redb_backend_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let b = RedbBackend::open(&dir.path().join("meta.redb")).unwrap();
        coffer_meta::conformance::run_all(MetaStore::new(Arc::new(b))).await;
    }

    #[test]
    fn a_failed_job_in_a_batch_leaves_no_trace_and_the_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let b = RedbBackend::open(&dir.path().join("meta.redb")).unwrap();
        let mut first = |tx: &mut dyn WriteTxn| tx.put(Table::Buckets, b"a", b"1");
        let mut failing = |tx: &mut dyn WriteTxn| {
            tx.put(Table::Buckets, b"b", b"2")?;
            tx.delete(Table::Buckets, b"a")?;
            Err(MetaError::Aborted)
        };
        let mut last = |tx: &mut dyn WriteTxn| {
            // Sees the first job's write, not the failed one's.
            assert_eq!(tx.get(Table::Buckets, b"a")?.as_deref(), Some(&b"1"[..]));
            assert_eq!(tx.get(Table::Buckets, b"b")?, None);
            tx.put(Table::Buckets, b"c", b"3")
        };
        let results = b.write_batch(&mut [&mut first, &mut failing, &mut last]);
        assert!(results[0].is_ok() && results[2].is_ok());
        assert!(matches!(results[1], Err(MetaError::Aborted)));
        let mut seen = Vec::new();
        b.read(&mut |tx| {
            seen = tx.range(Table::Buckets, b"", None, 10)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::new(Arc::new(
            RedbBackend::open(&dir.path().join("meta.redb")).unwrap(),
        ));
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.write(move |tx| -> Result<(), MetaError> {
                    tx.put(Table::Objects, &i.to_be_bytes(), b"x")?;
                    // Every tenth transaction fails after writing.
                    if i % 10 == 0 {
                        Err(MetaError::Aborted)
                    } else {
                        Ok(())
                    }
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap().is_ok());
        }
        assert_eq!(ok, 180);
        let n = s
            .read(|tx| -> Result<_, MetaError> {
                Ok(tx.range(Table::Objects, b"", None, 1000)?.len())
            })
            .await
            .unwrap();
        assert_eq!(n, 180);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn committed_data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let s = MetaStore::new(Arc::new(RedbBackend::open(&path).unwrap()));
            s.write(|tx| -> Result<(), MetaError> { tx.put(Table::Buckets, b"b", b"v") })
                .await
                .unwrap();
        }
        let s = MetaStore::new(Arc::new(RedbBackend::open(&path).unwrap()));
        let v = s
            .read(|tx| -> Result<_, MetaError> { tx.get(Table::Buckets, b"b") })
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
    }
}
