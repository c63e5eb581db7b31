//! ListObjects (v1 and v2): one page of keys and common prefixes.
//!
//! The cost is proportional to the page, not the bucket: keys are read in
//! order from the marker, and when a key rolls up into a common prefix the
//! scan seeks past every key under that prefix in one step (see
//! [`coffer_meta::keys::after_prefix`]).

use coffer_meta::records::{ObjectRecord, decode};
use coffer_meta::{MetaError, ReadTxn, Table, keys};

use crate::{Engine, EngineError, versions};

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub prefix: String,
    /// `None` (or empty) lists keys without rolling them up.
    pub delimiter: Option<String>,
    /// Only keys (and prefixes) greater than this are listed: v1's marker, or
    /// v2's start-after / continuation token.
    pub marker: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix in the page: where the next page
    /// starts (v1 NextMarker, v2 continuation token).
    pub next_marker: Option<String>,
}

/// What a scan of a bucket's latest versions meets, in key order.
enum Entry {
    Key(String, Box<ObjectRecord>),
    CommonPrefix(String),
}

/// What [`scan`] walks.
struct Scan<'a> {
    bucket: &'a str,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    marker: &'a str,
    /// Pass over delete markers, which then never make a common prefix
    /// appear.
    live_only: bool,
    /// Rows read per range query.
    batch: usize,
}

/// Walks the latest versions of a bucket after the marker, rolling keys up
/// into common prefixes, and hands each entry to `take` until it returns
/// `false` (the page is full: the entry is left for the next page). Returns
/// whether the scan stopped early.
fn scan(
    tx: &dyn ReadTxn,
    sc: &Scan<'_>,
    mut take: impl FnMut(Entry) -> Result<bool, MetaError>,
) -> Result<bool, MetaError> {
    let Scan {
        bucket,
        prefix,
        delimiter,
        marker,
        live_only,
        batch,
    } = *sc;
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let range_start = keys::object(bucket, prefix);
    let range_end = if prefix.is_empty() {
        keys::bucket_end(bucket)
    } else {
        keys::after_prefix(&range_start)
    };
    // The smallest table key greater than the marker: marker + NUL, since no
    // key contains NUL.
    let mut cursor = {
        let mut k = keys::object(bucket, marker);
        if !marker.is_empty() {
            k.push(0);
        }
        k.max(range_start)
    };
    let full_batch = batch.clamp(1, 1001);
    // With a delimiter the first rows may already roll up into a common
    // prefix, so start small and grow while keys come.
    let mut batch = if delimiter.is_some() {
        full_batch.min(16)
    } else {
        full_batch
    };
    'scan: loop {
        let rows = tx.range(Table::Objects, &cursor, Some(&range_end), batch)?;
        let exhausted = rows.len() < batch;
        if rows.is_empty() {
            return Ok(false);
        }
        for (k, v) in rows {
            let key = keys::object_key_of(bucket, &k)
                .ok_or_else(|| MetaError::Corrupt("object key is not UTF-8".into()))?;
            let record: ObjectRecord = decode(&v)?;
            if live_only && record.delete_marker {
                cursor = k;
                cursor.push(0);
                continue;
            }
            if let Some(d) = delimiter
                && let Some(pos) = key[prefix.len()..].find(d)
            {
                let cp = &key[..prefix.len() + pos + d.len()];
                cursor = keys::after_prefix(&keys::object(bucket, cp));
                // After a seek, one row says what comes next (often another
                // common prefix); reading a full batch there would read and
                // drop up to a thousand rows per common prefix.
                batch = 1;
                if cp <= marker {
                    continue 'scan;
                }
                if !take(Entry::CommonPrefix(cp.to_owned()))? {
                    return Ok(true);
                }
                continue 'scan;
            }
            if !take(Entry::Key(key, Box::new(record)))? {
                return Ok(true);
            }
            cursor = k;
            cursor.push(0);
        }
        if exhausted {
            return Ok(false);
        }
        // Keys, not common prefixes: read more at a time again.
        batch = (batch * 4).min(full_batch);
    }
}

/// Reads one page of ListObjects. Pure over a read transaction so that it
/// can be tested against a model.
pub fn list_page(tx: &dyn ReadTxn, bucket: &str, p: &ListParams) -> Result<ListPage, MetaError> {
    let mut page = ListPage::default();
    // S3 answers max-keys=0 with an empty, untruncated page.
    if p.max_keys == 0 {
        return Ok(page);
    }
    let mut count = 0usize;
    let sc = Scan {
        bucket,
        prefix: &p.prefix,
        delimiter: p.delimiter.as_deref(),
        marker: p.marker.as_deref().unwrap_or(""),
        live_only: true,
        batch: p.max_keys + 1,
    };
    page.is_truncated = scan(tx, &sc, |entry| {
        if count == p.max_keys {
            return Ok(false);
        }
        count += 1;
        match entry {
            Entry::Key(key, rec) => {
                page.next_marker = Some(key.clone());
                page.objects.push((key, *rec));
            }
            Entry::CommonPrefix(cp) => {
                page.next_marker = Some(cp.clone());
                page.common_prefixes.push(cp);
            }
        }
        Ok(true)
    })?;
    Ok(page)
}

#[derive(Debug, Clone, Default)]
pub struct VersionListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Start after this key, or with `version_id_marker`, after that version
    /// of this key.
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

/// One entry of ListObjectVersions: a version or a delete marker.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    pub key: String,
    pub record: ObjectRecord,
    pub is_latest: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VersionPage {
    pub versions: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// Fills a [`VersionPage`] up to max-keys.
struct VersionCollector<'a> {
    tx: &'a dyn ReadTxn,
    bucket: &'a str,
    max_keys: usize,
    count: usize,
    page: VersionPage,
}

impl VersionCollector<'_> {
    fn full(&self) -> bool {
        self.count == self.max_keys
    }

    /// Adds `latest` (when given) and then the key's noncurrent versions
    /// older than stamp `after`. Returns `false` when the page filled up
    /// before the key's versions ran out.
    fn versions_of(
        &mut self,
        key: &str,
        latest: Option<ObjectRecord>,
        mut after: Option<u64>,
    ) -> Result<bool, MetaError> {
        let mut batch: Vec<(ObjectRecord, bool)> = latest.into_iter().map(|r| (r, true)).collect();
        loop {
            for (record, is_latest) in batch {
                if self.full() {
                    return Ok(false);
                }
                self.count += 1;
                after = Some(record.stamp);
                self.page.next_key_marker = Some(key.to_owned());
                self.page.next_version_id_marker = Some(record.version_id.clone());
                self.page.versions.push(VersionEntry {
                    key: key.to_owned(),
                    record,
                    is_latest,
                });
            }
            // One more than fits tells whether the page is truncated.
            let want = (self.max_keys - self.count).min(1000) + 1;
            let more = versions::noncurrent(self.tx, self.bucket, key, after, want)?;
            if more.is_empty() {
                return Ok(true);
            }
            batch = more.into_iter().map(|r| (r, false)).collect();
        }
    }
}

/// Reads one page of ListObjectVersions: keys in order, each key's
/// versions newest first, every version and common prefix counting toward
/// max-keys.
pub fn list_versions_page(
    tx: &dyn ReadTxn,
    bucket: &str,
    p: &VersionListParams,
) -> Result<VersionPage, EngineError> {
    let mut c = VersionCollector {
        tx,
        bucket,
        max_keys: p.max_keys,
        count: 0,
        page: VersionPage::default(),
    };
    if p.max_keys == 0 {
        return Ok(c.page);
    }
    let key_marker = p.key_marker.as_deref().unwrap_or("");
    // Resume inside the marker key's versions.
    if let Some(vm) = p.version_id_marker.as_deref().filter(|v| !v.is_empty())
        && !key_marker.is_empty()
        && let Some(at) = versions::find(tx, bucket, key_marker, vm)?
        && !c.versions_of(key_marker, None, Some(at.stamp))?
    {
        c.page.is_truncated = true;
        return Ok(c.page);
    }
    let mut key_cut = false;
    let sc = Scan {
        bucket,
        prefix: &p.prefix,
        delimiter: p.delimiter.as_deref(),
        marker: key_marker,
        live_only: false,
        batch: p.max_keys.min(1000) + 1,
    };
    let stopped = scan(tx, &sc, |entry| {
        if c.full() {
            return Ok(false);
        }
        match entry {
            Entry::Key(key, latest) => {
                key_cut = !c.versions_of(&key, Some(*latest), None)?;
                Ok(!key_cut)
            }
            Entry::CommonPrefix(cp) => {
                c.count += 1;
                c.page.next_key_marker = Some(cp.clone());
                c.page.next_version_id_marker = None;
                c.page.common_prefixes.push(cp);
                Ok(true)
            }
        }
    })?;
    c.page.is_truncated = stopped || key_cut;
    if !c.page.is_truncated {
        c.page.next_key_marker = None;
        c.page.next_version_id_marker = None;
    }
    Ok(c.page)
}

impl Engine {
    pub async fn list_objects(
        &self,
        bucket: &str,
        params: ListParams,
    ) -> Result<ListPage, EngineError> {
        let b = bucket.to_owned();
        self.meta()
            .read(move |tx| -> Result<ListPage, EngineError> {
                if tx.get(Table::Buckets, &keys::bucket(&b))?.is_none() {
                    return Err(EngineError::NoSuchBucket);
                }
                Ok(list_page(tx, &b, &params)?)
            })
            .await
    }
}

impl Engine {
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        params: VersionListParams,
    ) -> Result<VersionPage, EngineError> {
        let b = bucket.to_owned();
        self.meta()
            .read(move |tx| -> Result<VersionPage, EngineError> {
                versions::read_bucket(tx, &b)?;
                list_versions_page(tx, &b, &params)
            })
            .await
    }
}
