//! Durable, immutable blobs on the local file system.
//!
//! # Durability
//! A blob is written to `tmp/ID` while the caller streams data in. `finish`
//! appends the checksum table, `fsync`s the file, renames it to
//! `blobs/PREFIX/ID` and `fsync`s that directory. Only then may the caller
//! commit metadata that references the blob; a crash before that commit
//! leaves an unreferenced blob, which [`BlobStore::list_older_than`] lets the
//! engine collect. A writer dropped before `finish` removes its temp file.
//!
//! # Integrity
//! Every `BLOCK_SIZE` block of data has a CRC32C, stored after the data:
//!
//! ```text
//! [data][crc32c of block 0..n, u32 LE each][footer: "CFB1", block size u32 LE, data length u64 LE]
//! ```
//!
//! Reads verify each block they touch and fail instead of returning corrupt
//! bytes. The footer makes a blob self-describing, so `scrub` can verify blobs
//! without metadata.
//!
//! Blob ids are random hex strings chosen here; object keys never become file
//! names, so no key can escape the data directory.

use std::io::SeekFrom;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Size of the unit of checksumming and of I/O. It bounds the memory one
/// reader or writer holds.
pub const BLOCK_SIZE: usize = 256 * 1024;
const FOOTER_MAGIC: &[u8; 4] = b"CFB1";
const FOOTER_LEN: u64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("no space left for blob data")]
    NoSpace,
    #[error("blob {id} is corrupt: {detail}")]
    Corrupt { id: String, detail: String },
    #[error("blob {0} not found")]
    NotFound(String),
}

fn io_err(e: std::io::Error) -> BlobError {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => BlobError::NoSpace,
        std::io::ErrorKind::NotFound => BlobError::Io(e),
        _ => BlobError::Io(e),
    }
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens the store under `root`, creating its directories, and removes
    /// temp files left by a previous process (they were never acknowledged).
    pub async fn open(root: &Path) -> Result<Self, BlobError> {
        let store = Self {
            root: root.to_path_buf(),
        };
        tokio::fs::create_dir_all(store.blobs_dir()).await?;
        let tmp = store.tmp_dir();
        if tokio::fs::try_exists(&tmp).await? {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        Ok(store)
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn path_of(&self, id: &str) -> Option<PathBuf> {
        // Ids are ours: 32 lowercase hex characters. Anything else is refused
        // rather than joined onto a path.
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(self.blobs_dir().join(&id[..2]).join(id))
    }

    /// Starts a new blob.
    pub async fn create(&self) -> Result<BlobWriter, BlobError> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let tmp_path = self.tmp_dir().join(&id);
        let file = tokio::fs::File::create(&tmp_path).await.map_err(io_err)?;
        Ok(BlobWriter {
            store: self.clone(),
            guard: TempGuard(Some(tmp_path)),
            file,
            id,
            size: 0,
            block: BytesMut::with_capacity(BLOCK_SIZE),
            crcs: Vec::new(),
        })
    }

    /// Streams `range` of a blob holding `size` data bytes, verifying every
    /// block it reads.
    pub async fn read(
        &self,
        id: &str,
        size: u64,
        range: Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes, BlobError>> + Send + use<>, BlobError> {
        let path = self
            .path_of(id)
            .ok_or_else(|| BlobError::NotFound(id.to_owned()))?;
        let end = range.end.min(size);
        let start = range.start.min(end);
        let first_block = start / BLOCK_SIZE as u64;
        let last_block = if end == start {
            first_block
        } else {
            (end - 1) / BLOCK_SIZE as u64 + 1
        };
        let owned_id = id.to_owned();
        // Opening, checking the length and reading the checksums of the
        // blocks in range are one trip to the blocking pool.
        let (file, crcs) = tokio::task::spawn_blocking(move || {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(BlobError::NotFound(owned_id));
                }
                Err(e) => return Err(e.into()),
            };
            let len = file.metadata()?.len();
            let blocks = size.div_ceil(BLOCK_SIZE as u64);
            if len != size + 4 * blocks + FOOTER_LEN {
                return Err(corrupt(
                    &owned_id,
                    format!("file length {len} does not match data length {size}"),
                ));
            }
            // 4 bytes per block, bounded by the range size (a 5 GiB object
            // has 20,480 blocks).
            let mut crcs = vec![0u8; ((last_block - first_block) * 4) as usize];
            file.read_exact_at(&mut crcs, size + first_block * 4)?;
            Ok((file, crcs))
        })
        .await
        .map_err(join_err)??;
        let state = ReadState {
            file: Arc::new(file),
            id: id.to_owned(),
            size,
            block: first_block,
            last_block,
            start,
            end,
            crcs,
        };
        Ok(futures::stream::try_unfold(state, ReadState::next))
    }

    pub async fn delete(&self, id: &str) -> Result<(), BlobError> {
        let Some(path) = self.path_of(id) else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Ids of every blob whose file was last modified before `cutoff`. Blobs
    /// written by requests still in flight are newer than the cutoff the
    /// caller chooses (the process start), so they are never listed.
    pub async fn list_older_than(&self, cutoff: SystemTime) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut dirs = tokio::fs::read_dir(self.blobs_dir()).await?;
        while let Some(d) = dirs.next_entry().await? {
            if !d.file_type().await?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(d.path()).await?;
            while let Some(f) = files.next_entry().await? {
                // Blobs are deleted while the walk goes on (the start-up
                // sweep runs beside requests): a file gone is not an error.
                let modified = match f.metadata().await {
                    Ok(m) => m.modified()?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                if modified < cutoff
                    && let Some(name) = f.file_name().to_str()
                {
                    out.push(name.to_owned());
                }
            }
        }
        Ok(out)
    }

    /// Reads a whole blob and checks every block against its CRC and the
    /// footer; returns the data length.
    pub async fn verify(&self, id: &str) -> Result<u64, BlobError> {
        let path = self
            .path_of(id)
            .ok_or_else(|| BlobError::NotFound(id.to_owned()))?;
        let mut file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        if len < FOOTER_LEN {
            return Err(corrupt(id, "shorter than its footer".into()));
        }
        let mut footer = [0u8; FOOTER_LEN as usize];
        file.seek(SeekFrom::Start(len - FOOTER_LEN)).await?;
        file.read_exact(&mut footer).await?;
        let (magic, rest) = footer.split_at(4);
        let size = u64::from_le_bytes(rest[4..12].try_into().unwrap_or_default());
        if magic != FOOTER_MAGIC {
            return Err(corrupt(id, "bad footer".into()));
        }
        let mut s = Box::pin(self.read(id, size, 0..size).await?);
        use futures::StreamExt as _;
        while let Some(chunk) = s.next().await {
            chunk?;
        }
        Ok(size)
    }
}

fn corrupt(id: &str, detail: String) -> BlobError {
    tracing::error!(blob = id, %detail, "corrupt blob");
    BlobError::Corrupt {
        id: id.to_owned(),
        detail,
    }
}

fn crc32c(data: &[u8]) -> u32 {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data);
    u32::try_from(v).unwrap_or(u32::MAX)
}

struct ReadState {
    file: Arc<std::fs::File>,
    id: String,
    size: u64,
    block: u64,
    last_block: u64,
    start: u64,
    end: u64,
    crcs: Vec<u8>,
}

impl ReadState {
    async fn next(mut self) -> Result<Option<(Bytes, Self)>, BlobError> {
        if self.block >= self.last_block || self.start >= self.end {
            return Ok(None);
        }
        let block_start = self.block * BLOCK_SIZE as u64;
        let block_len = (self.size - block_start).min(BLOCK_SIZE as u64) as usize;
        let mut buf = BytesMut::zeroed(block_len);
        let cached = read_cached(&self.file, &mut buf, block_start)?;
        if cached < block_len {
            let file = Arc::clone(&self.file);
            buf = tokio::task::spawn_blocking(move || {
                file.read_exact_at(&mut buf[cached..], block_start + cached as u64)
                    .map(|()| buf)
            })
            .await
            .map_err(join_err)??;
        }
        let i = ((self.block - self.start / BLOCK_SIZE as u64) * 4) as usize;
        let expected = u32::from_le_bytes(self.crcs[i..i + 4].try_into().unwrap_or_default());
        if crc32c(&buf) != expected {
            return Err(corrupt(
                &self.id,
                format!("block {} fails its checksum", self.block),
            ));
        }
        let from = self.start.saturating_sub(block_start) as usize;
        let to = (self.end - block_start).min(block_len as u64) as usize;
        self.block += 1;
        let chunk = buf.freeze().slice(from..to);
        Ok(Some((chunk, self)))
    }
}

/// Reads into `buf` at `offset` what the page cache already holds, without
/// blocking (`preadv2` with `RWF_NOWAIT`), and returns how many bytes that
/// was. The caller reads the rest on the blocking pool. Data just written or
/// read recently (the common case for a hot object) is then served without
/// a thread hand-off per block, which tokio::fs would cost; the profile in
/// BENCHMARKS.md shows those hand-offs as a quarter of a large GET's time.
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use rustix::io::{Errno, ReadWriteFlags};
    let mut filled = 0;
    while filled < buf.len() {
        let mut slices = [std::io::IoSliceMut::new(&mut buf[filled..])];
        match rustix::io::preadv2(
            file,
            &mut slices,
            offset + filled as u64,
            ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            // Not cached, or a kernel or file system without RWF_NOWAIT.
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_: &std::fs::File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Ok(0)
}

fn join_err(e: tokio::task::JoinError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

/// Removes a temp file unless the blob was finished.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A blob being written. Data is buffered one block at a time.
pub struct BlobWriter {
    store: BlobStore,
    guard: TempGuard,
    file: tokio::fs::File,
    id: String,
    size: u64,
    block: BytesMut,
    crcs: Vec<u8>,
}

/// A finished, durable blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedBlob {
    pub id: String,
    pub size: u64,
}

impl BlobWriter {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), BlobError> {
        while !data.is_empty() {
            let room = BLOCK_SIZE - self.block.len();
            let n = room.min(data.len());
            self.block.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.size += n as u64;
            if self.block.len() == BLOCK_SIZE {
                self.flush_block().await?;
            }
        }
        Ok(())
    }

    async fn flush_block(&mut self) -> Result<(), BlobError> {
        self.crcs
            .extend_from_slice(&crc32c(&self.block).to_le_bytes());
        self.file.write_all(&self.block).await.map_err(io_err)?;
        self.block.clear();
        Ok(())
    }

    /// Makes the blob durable under its final name. After this returns, the
    /// caller may commit metadata referencing it.
    pub async fn finish(mut self) -> Result<FinishedBlob, BlobError> {
        if !self.block.is_empty() {
            self.flush_block().await?;
        }
        let mut tail = std::mem::take(&mut self.crcs);
        tail.extend_from_slice(FOOTER_MAGIC);
        tail.extend_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        tail.extend_from_slice(&self.size.to_le_bytes());
        self.file.write_all(&tail).await.map_err(io_err)?;
        self.file.sync_all().await.map_err(io_err)?;
        let dir = self.store.blobs_dir().join(&self.id[..2]);
        tokio::fs::create_dir_all(&dir).await.map_err(io_err)?;
        let tmp = self
            .guard
            .0
            .take()
            .ok_or_else(|| corrupt(&self.id, "finished twice".into()))?;
        if let Err(e) = tokio::fs::rename(&tmp, dir.join(&self.id)).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_err(e));
        }
        sync_dir(&dir).await?;
        Ok(FinishedBlob {
            id: self.id.clone(),
            size: self.size,
        })
    }
}

async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    let d = tokio::fs::File::open(dir).await?;
    d.sync_all().await.map_err(io_err)
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    async fn write(store: &BlobStore, data: &[u8]) -> FinishedBlob {
        let mut w = store.create().await.unwrap();
        for chunk in data.chunks(10_000) {
            w.write(chunk).await.unwrap();
        }
        w.finish().await.unwrap()
    }

    async fn read(
        store: &BlobStore,
        b: &FinishedBlob,
        r: Range<u64>,
    ) -> Result<Vec<u8>, BlobError> {
        let chunks: Vec<Bytes> = store.read(&b.id, b.size, r).await?.try_collect().await?;
        Ok(chunks.concat())
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn ranged_reads_return_exactly_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let d = data(BLOCK_SIZE * 2 + 1234);
        let b = write(&store, &d).await;
        assert_eq!(b.size, d.len() as u64);
        let n = d.len() as u64;
        for (s, e) in [
            (0, n),
            (0, 1),
            (5, 6),
            (BLOCK_SIZE as u64 - 3, BLOCK_SIZE as u64 + 3),
            (n - 1, n),
            (100, 100),
        ] {
            assert_eq!(
                read(&store, &b, s..e).await.unwrap(),
                &d[s as usize..e as usize],
                "{s}..{e}"
            );
        }
    }

    /// Blocks not in the page cache are read on the blocking pool (run with
    /// a print in the fallback, this test takes it: `cached` is 0 after
    /// the pages are dropped). Reads must give the same bytes either way.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn reads_of_uncached_blocks_fall_back_to_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let d = data(BLOCK_SIZE * 3 + 77);
        let b = write(&store, &d).await;
        let file = std::fs::File::open(store.path_of(&b.id).unwrap()).unwrap();
        let drop_cache = || {
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        };
        drop_cache();
        assert_eq!(read(&store, &b, 0..b.size).await.unwrap(), d);
        drop_cache();
        let r = 10..(BLOCK_SIZE as u64 * 2 + 5);
        assert_eq!(
            read(&store, &b, r.clone()).await.unwrap(),
            &d[r.start as usize..r.end as usize]
        );
    }

    #[tokio::test]
    async fn empty_blobs_work() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let b = write(&store, b"").await;
        assert_eq!(read(&store, &b, 0..0).await.unwrap(), b"");
        assert_eq!(store.verify(&b.id).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn flipped_bytes_are_detected_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let d = data(BLOCK_SIZE + 10);
        let b = write(&store, &d).await;
        let path = store.path_of(&b.id).unwrap();
        let mut raw = std::fs::read(&path).unwrap();
        raw[BLOCK_SIZE + 3] ^= 0x40;
        std::fs::write(&path, raw).unwrap();
        assert!(
            read(&store, &b, 0..10).await.is_ok(),
            "untouched block still reads"
        );
        let err = read(&store, &b, 0..d.len() as u64).await.unwrap_err();
        assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
        assert!(store.verify(&b.id).await.is_err());
    }

    #[tokio::test]
    async fn dropped_writers_leave_no_temp_files_and_open_clears_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let mut w = store.create().await.unwrap();
        w.write(b"abc").await.unwrap();
        drop(w);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        std::fs::write(dir.path().join("tmp/leftover"), b"x").unwrap();
        let _ = BlobStore::open(dir.path()).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn ids_that_are_not_ours_never_become_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        assert!(store.path_of("../../etc/passwd").is_none());
        assert!(matches!(
            store.read("../x", 1, 0..1).await,
            Err(BlobError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn listing_and_deleting() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let b = write(&store, b"hello").await;
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        assert_eq!(
            store.list_older_than(later).await.unwrap(),
            vec![b.id.clone()]
        );
        assert!(
            store
                .list_older_than(SystemTime::UNIX_EPOCH)
                .await
                .unwrap()
                .is_empty()
        );
        store.delete(&b.id).await.unwrap();
        assert!(matches!(
            store.read(&b.id, 5, 0..5).await,
            Err(BlobError::NotFound(_))
        ));
    }
}
