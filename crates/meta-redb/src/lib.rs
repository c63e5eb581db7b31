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

impl RedbBackend {
    /// Opens (or creates) the database file and makes sure every table exists,
    /// so that readers never meet a missing table.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        let db = redb::Database::create(path).map_err(backend)?;
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

struct Writer<'a>(&'a redb::WriteTransaction);

impl ReadTxn for Writer<'_> {
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

impl WriteTxn for Writer<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        let mut t = self.0.open_table(def(table)).map_err(backend)?;
        t.insert(key, value).map_err(backend)?;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, MetaError> {
        let mut t = self.0.open_table(def(table)).map_err(backend)?;
        Ok(t.remove(key).map_err(backend)?.is_some())
    }
}

impl KvBackend for RedbBackend {
    fn read(&self, f: &mut ReadFn<'_>) -> Result<(), MetaError> {
        let tx = self.db.begin_read().map_err(backend)?;
        f(&Reader(tx))
    }

    fn write(&self, f: &mut WriteFn<'_>) -> Result<(), MetaError> {
        let tx = self.db.begin_write().map_err(backend)?;
        match f(&mut Writer(&tx)) {
            Ok(()) => tx.commit().map_err(backend),
            Err(e) => {
                tx.abort().map_err(backend)?;
                Err(e)
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
