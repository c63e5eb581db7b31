//! ListObjects (v1 and v2): one page of keys and common prefixes.
//!
//! The cost is proportional to the page, not the bucket: keys are read in
//! order from the marker, and when a key rolls up into a common prefix the
//! scan seeks past every key under that prefix in one step (see
//! [`coffer_meta::keys::after_prefix`]).

use coffer_meta::records::{ObjectRecord, decode};
use coffer_meta::{MetaError, ReadTxn, Table, keys};

use crate::{Engine, EngineError};

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

/// Reads one page. Pure over a read transaction so that it can be tested
/// against a model.
pub fn list_page(tx: &dyn ReadTxn, bucket: &str, p: &ListParams) -> Result<ListPage, MetaError> {
    let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let marker = p.marker.as_deref().unwrap_or("");
    let range_start = keys::object(bucket, &p.prefix);
    let range_end = if p.prefix.is_empty() {
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
    let mut page = ListPage::default();
    // S3 answers max-keys=0 with an empty, untruncated page.
    if p.max_keys == 0 {
        return Ok(page);
    }
    let mut count = 0usize;
    'scan: loop {
        let want = (p.max_keys - count).clamp(1, 1000) + 1;
        let batch = tx.range(Table::Objects, &cursor, Some(&range_end), want)?;
        if batch.is_empty() {
            break;
        }
        let batch_len = batch.len();
        for (i, (k, v)) in batch.into_iter().enumerate() {
            let key = keys::object_key_of(bucket, &k)
                .ok_or_else(|| MetaError::Corrupt("object key is not UTF-8".into()))?;
            if let Some(d) = delimiter
                && let Some(pos) = key[p.prefix.len()..].find(d)
            {
                let cp = &key[..p.prefix.len() + pos + d.len()];
                cursor = keys::after_prefix(&keys::object(bucket, cp));
                if cp <= marker {
                    continue 'scan;
                }
                if count == p.max_keys {
                    page.is_truncated = true;
                    break 'scan;
                }
                page.common_prefixes.push(cp.to_owned());
                page.next_marker = Some(cp.to_owned());
                count += 1;
                continue 'scan;
            }
            if count == p.max_keys {
                page.is_truncated = true;
                break 'scan;
            }
            let mut next = k;
            next.push(0);
            cursor = next;
            page.objects.push((key.clone(), decode(&v)?));
            page.next_marker = Some(key);
            count += 1;
            if i + 1 == batch_len && batch_len < want {
                break 'scan;
            }
        }
    }
    Ok(page)
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
