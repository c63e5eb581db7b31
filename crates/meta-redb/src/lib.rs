//! The embedded metadata backend: one redb file in the data directory.
//!
//! redb gives ACID transactions with MVCC readers; every commit uses
//! `Durability::Immediate`, so a committed transaction survives a crash and
//! a crash never exposes a half-applied one. redb runs one write transaction
//! at a time; readers never block.

use std::path::Path;

use coffer_meta::{KvBackend, KvPairs, MetaError, ReadFn, ReadTxn, Table, WriteFn, WriteTxn};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

pub struct RedbBackend {
    db: redb::Database,
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
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        for t in Table::ALL {
            tx.open_table(def(t)).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(Self { db })
    }
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
        let tx = self.db.begin_read().map_err(backend)?;
        f(&Reader(tx))
    }

    fn write(&self, f: &mut WriteFn<'_>) -> Result<(), MetaError> {
        let tx = self.db.begin_write().map_err(backend)?;
        match f(&mut Writer::new(&tx)) {
            Ok(()) => tx.commit().map_err(backend),
            Err(e) => {
                tx.abort().map_err(backend)?;
                Err(e)
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
        let tx = match self.db.begin_write() {
            Ok(tx) => tx,
            Err(e) => return fail_all(backend(e)),
        };
        let mut results = Vec::with_capacity(n);
        for f in jobs.iter_mut() {
            let mut w = Writer::undoable(&tx);
            let r = f(&mut w);
            if r.is_err()
                && let Err(e) = w.roll_back()
            {
                // The transaction can no longer be trusted: commit nothing.
                let _ = tx.abort();
                return fail_all(e);
            }
            results.push(r);
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => {
                let e = backend(e);
                results.into_iter().map(|r| r.and(Err(e.clone()))).collect()
            }
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
