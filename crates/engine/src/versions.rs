//! Object versions: what a write or delete does to a key's chain of
//! versions, by the bucket's versioning state (S3 User Guide, "Retaining
//! multiple versions of objects with S3 Versioning").
//!
//! Layout: `Table::Objects` holds the latest version of every key that has
//! any version, possibly a delete marker; `Table::Versions` holds the older
//! ones, newest first. So plain listings read one table, a key's versions
//! are one range, and a bucket is empty exactly when its Objects range is.
//!
//! Every function here runs inside the caller's write transaction and
//! returns the blob files to delete once it has committed.

use coffer_meta::records::{BucketRecord, ObjectRecord, Versioning, decode, encode};
use coffer_meta::{MetaError, ReadTxn, Table, WriteTxn, keys};

use crate::objects::release_blobs;
use crate::{EngineError, now_ms};

/// The version id of versions written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

/// A version id names its stamp (16 hex digits) followed by 16 random hex
/// digits, so a version is found with one lookup and ids are not guessable
/// from their neighbours.
fn new_version_id(stamp: u64) -> String {
    format!("{stamp:016x}{:016x}", rand::random::<u64>())
}

/// The stamp a version id names; `None` for `null` and `Err` for ids this
/// server could not have issued.
pub fn parse_version_id(id: &str) -> Result<Option<u64>, EngineError> {
    if id == NULL_VERSION {
        return Ok(None);
    }
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return u64::from_str_radix(&id[..16], 16)
            .map(Some)
            .map_err(|_| invalid_version_id());
    }
    Err(invalid_version_id())
}

fn invalid_version_id() -> EngineError {
    EngineError::InvalidArgument("Invalid version id specified".into())
}

fn now_us() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0).saturating_mul(1000)
}

pub(crate) fn read_bucket(tx: &dyn ReadTxn, bucket: &str) -> Result<BucketRecord, EngineError> {
    match tx.get(Table::Buckets, &keys::bucket(bucket))? {
        Some(v) => Ok(decode(&v)?),
        None => Err(EngineError::NoSuchBucket),
    }
}

pub(crate) fn current(
    tx: &dyn ReadTxn,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRecord>, MetaError> {
    tx.get(Table::Objects, &keys::object(bucket, key))?
        .map(|v| decode(&v))
        .transpose()
}

/// The noncurrent versions of a key, newest first, starting after the one
/// with `after_stamp` when given.
pub(crate) fn noncurrent(
    tx: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    after_stamp: Option<u64>,
    limit: usize,
) -> Result<Vec<ObjectRecord>, MetaError> {
    let start = match after_stamp {
        // !stamp + 1 is the next key in inverted order.
        Some(s) if s > 0 => keys::version(bucket, key, s - 1),
        Some(_) => return Ok(Vec::new()),
        None => keys::versions_start(bucket, key),
    };
    tx.range(
        Table::Versions,
        &start,
        Some(&keys::versions_end(bucket, key)),
        limit,
    )?
    .iter()
    .map(|(_, v)| decode(v))
    .collect()
}

/// One version of a key by id, current or not.
pub(crate) fn find(
    tx: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<ObjectRecord>, EngineError> {
    let stamp = parse_version_id(version_id)?;
    if let Some(cur) = current(tx, bucket, key)?
        && cur.version_id == version_id
    {
        return Ok(Some(cur));
    }
    let found = match stamp {
        Some(s) => tx
            .get(Table::Versions, &keys::version(bucket, key, s))?
            .map(|v| decode::<ObjectRecord>(&v))
            .transpose()?,
        // The null version sits wherever it was written: look for it.
        None => noncurrent(tx, bucket, key, None, usize::MAX)?
            .into_iter()
            .find(|v| v.version_id == NULL_VERSION),
    };
    Ok(found.filter(|v| v.version_id == version_id))
}

/// Owned copies of an object address for a transaction closure, with the
/// version id checked first.
pub(crate) fn target(
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<(String, String, Option<String>), EngineError> {
    if let Some(v) = version_id {
        parse_version_id(v)?;
    }
    Ok((
        bucket.to_owned(),
        key.to_owned(),
        version_id.map(str::to_owned),
    ))
}

/// The latest version, or the one named.
pub(crate) fn lookup(
    tx: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<ObjectRecord>, EngineError> {
    match version_id {
        None => Ok(current(tx, bucket, key)?),
        Some(v) => find(tx, bucket, key, v),
    }
}

/// Makes `new` the latest version of `bucket/key`, giving it its version id
/// and stamp. Returns the blob files it displaced.
pub(crate) fn install(
    tx: &mut dyn WriteTxn,
    bucket: &BucketRecord,
    key: &str,
    new: &mut ObjectRecord,
) -> Result<Vec<String>, MetaError> {
    let b = bucket.name.as_str();
    let old = current(tx, b, key)?;
    new.stamp = now_us().max(old.as_ref().map_or(0, |o| o.stamp.saturating_add(1)));
    let mut released = Vec::new();
    match bucket.versioning {
        Some(Versioning::Enabled) => {
            new.version_id = new_version_id(new.stamp);
            if let Some(old) = &old {
                demote(tx, b, key, old)?;
            }
        }
        None | Some(Versioning::Suspended) => {
            new.version_id = NULL_VERSION.into();
            if let Some(old) = &old {
                if old.version_id == NULL_VERSION {
                    released.extend(release_blobs(tx, Some(old))?);
                } else {
                    demote(tx, b, key, old)?;
                    released.extend(drop_noncurrent_null(tx, b, key)?);
                }
            }
        }
    }
    tx.put(Table::Objects, &keys::object(b, key), &encode(&*new))?;
    Ok(released)
}

/// A version as responses report it: its id is shown once the bucket's
/// versioning has been configured, even for `null` versions.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub record: ObjectRecord,
    pub versioning: Option<Versioning>,
    /// When a lifecycle rule expires this version as the current one, and
    /// the rule's id (`x-amz-expiration`).
    pub expiration: Option<(i64, String)>,
}

impl Versioned {
    pub(crate) fn of(record: ObjectRecord, bucket: &BucketRecord, key: &str) -> Self {
        let real_day = crate::lifecycle::REAL_DAY;
        let expiration = bucket
            .lifecycle
            .as_deref()
            .and_then(|rules| crate::lifecycle::expiration_of(rules, key, &record, real_day))
            .map(|(at, id)| (at, id.to_owned()));
        Self {
            record,
            versioning: bucket.versioning,
            expiration,
        }
    }

    /// The `x-amz-version-id` a read sends, if any.
    pub fn version_id(&self) -> Option<String> {
        self.versioning.map(|_| self.record.version_id.clone())
    }

    /// The `x-amz-version-id` a write sends: only real version ids, as S3
    /// sends none for objects written while versioning is suspended.
    pub fn written_version_id(&self) -> Option<String> {
        (self.record.version_id != NULL_VERSION).then(|| self.record.version_id.clone())
    }
}

/// What DeleteObject did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deleted {
    /// Set when the delete concerned a delete marker: the marker created, or
    /// the one removed by version id.
    pub delete_marker: bool,
    /// The version created (a delete marker) or removed, for versioned
    /// buckets.
    pub version_id: Option<String>,
}

/// DeleteObject without a version id: removes the object in an unversioned
/// bucket, or puts a delete marker on top of it otherwise.
pub(crate) fn delete_latest(
    tx: &mut dyn WriteTxn,
    bucket: &BucketRecord,
    key: &str,
) -> Result<(Deleted, Vec<String>), MetaError> {
    let b = bucket.name.as_str();
    if bucket.versioning.is_none() {
        let old = current(tx, b, key)?;
        if old.is_some() {
            tx.delete(Table::Objects, &keys::object(b, key))?;
        }
        return Ok((Deleted::default(), release_blobs(tx, old.as_ref())?));
    }
    let mut marker = ObjectRecord {
        version_id: String::new(),
        stamp: 0,
        delete_marker: true,
        size: 0,
        etag: String::new(),
        last_modified_ms: now_ms(),
        headers: Default::default(),
        user_metadata: Vec::new(),
        checksum: None,
        blobs: Vec::new(),
        parts: Vec::new(),
        tags: Vec::new(),
        upload_id: None,
        sse: None,
        owner: None,
        acl: None,
        retention: None,
        legal_hold: false,
    };
    let released = install(tx, bucket, key, &mut marker)?;
    Ok((
        Deleted {
            delete_marker: true,
            version_id: Some(marker.version_id),
        },
        released,
    ))
}

/// DeleteObject with a version id: removes that version for good. When it
/// was the latest, the next newest version takes its place. Deleting a
/// version that does not exist succeeds, as on S3.
pub(crate) fn delete_version(
    tx: &mut dyn WriteTxn,
    bucket: &str,
    key: &str,
    version_id: &str,
    bypass_governance: bool,
) -> Result<(Deleted, Vec<String>), EngineError> {
    let Some(victim) = find(tx, bucket, key, version_id)? else {
        return Ok((
            Deleted {
                delete_marker: false,
                version_id: Some(version_id.to_owned()),
            },
            Vec::new(),
        ));
    };
    crate::lock::check_deletable(&victim, bypass_governance)?;
    let okey = keys::object(bucket, key);
    let was_current = current(tx, bucket, key)?.is_some_and(|c| c.stamp == victim.stamp);
    if was_current {
        tx.delete(Table::Objects, &okey)?;
        if let Some(next) = noncurrent(tx, bucket, key, None, 1)?.pop() {
            tx.delete(Table::Versions, &keys::version(bucket, key, next.stamp))?;
            tx.put(Table::Objects, &okey, &encode(&next))?;
        }
    } else {
        tx.delete(Table::Versions, &keys::version(bucket, key, victim.stamp))?;
    }
    let released = release_blobs(tx, Some(&victim))?;
    Ok((
        Deleted {
            delete_marker: victim.delete_marker,
            version_id: Some(victim.version_id),
        },
        released,
    ))
}

/// Rewrites a stored version in place (tags), wherever it lives.
pub(crate) fn update(
    tx: &mut dyn WriteTxn,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
) -> Result<(), MetaError> {
    let is_current = current(tx, bucket, key)?.is_some_and(|c| c.stamp == rec.stamp);
    let k = if is_current {
        keys::object(bucket, key)
    } else {
        keys::version(bucket, key, rec.stamp)
    };
    tx.put(
        if is_current {
            Table::Objects
        } else {
            Table::Versions
        },
        &k,
        &encode(rec),
    )
}

fn demote(tx: &mut dyn WriteTxn, b: &str, key: &str, old: &ObjectRecord) -> Result<(), MetaError> {
    tx.put(
        Table::Versions,
        &keys::version(b, key, old.stamp),
        &encode(old),
    )
}

/// Removes a noncurrent `null` version, which a new null version replaces.
fn drop_noncurrent_null(
    tx: &mut dyn WriteTxn,
    b: &str,
    key: &str,
) -> Result<Vec<String>, MetaError> {
    let Some(null) = noncurrent(tx, b, key, None, usize::MAX)?
        .into_iter()
        .find(|v| v.version_id == NULL_VERSION)
    else {
        return Ok(Vec::new());
    };
    tx.delete(Table::Versions, &keys::version(b, key, null.stamp))?;
    release_blobs(tx, Some(&null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_carry_their_stamp() {
        let id = new_version_id(0x0123_4567_89ab_cdef);
        assert_eq!(id.len(), 32);
        assert_eq!(parse_version_id(&id).unwrap(), Some(0x0123_4567_89ab_cdef));
        assert_eq!(parse_version_id("null").unwrap(), None);
        for bad in ["", "abc", "NULL", &"g".repeat(32), &"0".repeat(31)] {
            assert!(
                matches!(parse_version_id(bad), Err(EngineError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
