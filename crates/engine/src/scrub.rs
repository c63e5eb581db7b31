//! Scrubbing: reading back every stored piece of every object version and
//! part and checking it against its checksums, and finding blob files no
//! record references.
//!
//! It works on the metadata store and blob store directly, not on a running
//! [`crate::Engine`] (whose start-up collects orphans and runs the lifecycle
//! worker): a scrub changes nothing. Encrypted pieces are checked as stored
//! (the CRC32C of blob blocks and inline pieces covers the stored bytes), so
//! SSE-C objects are checked without their keys.

use std::collections::HashSet;
use std::time::SystemTime;

use coffer_blob::{BlobError, BlobStore};
use coffer_meta::records::{BlobRef, ObjectRecord, PartRecord, UploadRecord, decode};
use coffer_meta::{MetaError, MetaStore, Table};

use crate::EngineError;

/// Records are read from the store in pages of this many.
const PAGE: usize = 1000;

/// One piece that failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// `bucket/key` and the version id, or `bucket/key (upload ID part N)`.
    pub object: String,
    /// The blob id or inline piece id.
    pub piece: String,
    /// `missing`, or what the checksum check found.
    pub problem: String,
}

/// What a scrub found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubReport {
    /// Object versions and multipart parts whose data was checked.
    pub records: u64,
    pub pieces: u64,
    pub bytes: u64,
    pub damaged: Vec<Damage>,
    /// Blob files that no record references (left by a crash; collected at
    /// the next start of the server).
    pub orphans: Vec<String>,
}

impl ScrubReport {
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// Where the scrub has got to: (records checked, records in total).
pub type ScrubProgress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Something whose pieces are checked, and how to name it in a report.
struct Holder {
    name: String,
    pieces: Vec<BlobRef>,
}

fn holder_of_object(bucket_and_key: &[u8], rec: &ObjectRecord) -> Holder {
    // Keys are `bucket NUL key` (Objects) or `bucket NUL key NUL !stamp`
    // (Versions); the record knows its version.
    let mut parts = bucket_and_key.split(|b| *b == 0);
    let bucket = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let key = String::from_utf8_lossy(parts.next().unwrap_or_default());
    Holder {
        name: format!("{bucket}/{key} version {}", rec.version_id),
        pieces: rec.blobs.clone(),
    }
}

/// Reads every record of `table` in pages, turning each into a holder.
fn collect(
    tx: &dyn coffer_meta::ReadTxn,
    table: Table,
    out: &mut Vec<Holder>,
    uploads: &std::collections::HashMap<String, String>,
) -> Result<(), EngineError> {
    let mut start: Vec<u8> = Vec::new();
    loop {
        let page = tx.range(table, &start, None, PAGE)?;
        let Some((last, _)) = page.last() else {
            return Ok(());
        };
        let mut next = last.clone();
        next.push(0);
        for (k, v) in &page {
            match table {
                Table::Parts => {
                    let p: PartRecord = decode(v)?;
                    let upload = k.split(|b| *b == 0).next().unwrap_or_default();
                    let upload = String::from_utf8_lossy(upload).into_owned();
                    let object = uploads
                        .get(&upload)
                        .cloned()
                        .unwrap_or_else(|| "(unknown upload)".to_owned());
                    out.push(Holder {
                        name: format!("{object} (upload {upload} part {})", p.number),
                        pieces: vec![p.blob],
                    });
                }
                _ => {
                    let rec: ObjectRecord = decode(v)?;
                    if !rec.delete_marker {
                        out.push(holder_of_object(k, &rec));
                    }
                }
            }
        }
        if page.len() < PAGE {
            return Ok(());
        }
        start = next;
    }
}

/// Checks every piece of every object version and multipart part, and
/// lists orphaned blob files. `progress` is called after each record.
pub async fn scrub(
    meta: &MetaStore,
    blobs: &BlobStore,
    progress: ScrubProgress<'_>,
) -> Result<ScrubReport, EngineError> {
    // Blob files that exist now; any of them no record references at the
    // end is an orphan. (A file written after this listing is not judged.)
    let started = SystemTime::now();
    let files = blobs.list_older_than(started).await?;
    let holders = meta
        .read(|tx| -> Result<Vec<Holder>, EngineError> {
            let mut uploads = std::collections::HashMap::new();
            for (k, v) in tx.range(Table::Uploads, b"", None, usize::MAX)? {
                let u: UploadRecord = decode(&v)?;
                let mut parts = k.split(|b| *b == 0);
                let bucket = String::from_utf8_lossy(parts.next().unwrap_or_default());
                let key = String::from_utf8_lossy(parts.next().unwrap_or_default());
                uploads.insert(u.upload_id.clone(), format!("{bucket}/{key}"));
            }
            let mut out = Vec::new();
            for table in [Table::Objects, Table::Versions, Table::Parts] {
                collect(tx, table, &mut out, &uploads)?;
            }
            Ok(out)
        })
        .await?;
    let total = holders.len() as u64;
    let mut report = ScrubReport::default();
    let mut referenced: HashSet<String> = HashSet::new();
    for (done, holder) in holders.into_iter().enumerate() {
        for piece in &holder.pieces {
            report.pieces += 1;
            let problem = match piece.inline_crc32c {
                Some(crc) => check_inline(meta, piece, crc).await?,
                None => {
                    referenced.insert(piece.id.clone());
                    match blobs.verify(&piece.id).await {
                        Ok(n) if n == piece.size => None,
                        Ok(n) => Some(format!("holds {n} bytes, the record says {}", piece.size)),
                        Err(BlobError::NotFound(_)) => Some("missing".to_owned()),
                        Err(BlobError::Corrupt { detail, .. }) => Some(detail),
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            match problem {
                None => report.bytes += piece.size,
                Some(problem) => report.damaged.push(Damage {
                    object: holder.name.clone(),
                    piece: piece.id.clone(),
                    problem,
                }),
            }
        }
        report.records += 1;
        progress(done as u64 + 1, total);
    }
    report.orphans = files
        .into_iter()
        .filter(|id| !referenced.contains(id))
        .collect();
    Ok(report)
}

async fn check_inline(
    meta: &MetaStore,
    piece: &BlobRef,
    crc: u32,
) -> Result<Option<String>, EngineError> {
    let id = piece.id.clone();
    let bytes = meta
        .read(move |tx| -> Result<_, MetaError> { tx.get(Table::Inline, id.as_bytes()) })
        .await?;
    Ok(match bytes {
        None => Some("missing".to_owned()),
        Some(b) if b.len() as u64 != piece.size => Some(format!(
            "holds {} bytes, the record says {}",
            b.len(),
            piece.size
        )),
        Some(b) if crate::pieces::crc32c(&b) != crc => {
            Some("inline data fails its checksum".to_owned())
        }
        Some(_) => None,
    })
}
