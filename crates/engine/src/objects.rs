//! Objects: put, get, head, delete, copy.

use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use coffer_meta::records::{
    BlobOwner, BlobRef, BucketRecord, ChecksumKind, ObjectHeaders, ObjectRecord, Retention,
    SseMode, StoredChecksum, StoredSse, encode,
};
use coffer_meta::{MetaError, Table, WriteTxn, keys};
use coffer_types::{ChecksumAlgorithm, ETag, ObjectDigest, ObjectHasher, ObjectKey};
use futures::{Stream, StreamExt, TryStreamExt};

use crate::acl::AclSpec;
use crate::conditions::{CopySourceConditions, EtagMatch};
use crate::multipart::Consumed;
use crate::pieces::{self, INLINE_MAX_SIZE, NewPiece};
use crate::sse::{self, CustomerKey, DataKey, PieceEncryptor, SseRequest};
use crate::versions::{self, Deleted, Versioned};
use crate::{Engine, EngineError, limits, now_ms};

/// A request body as the front end hands it over. Its errors are kept
/// opaque so the front end can recognise its own (signature failures in
/// aws-chunked framing, for example) when they come back in
/// [`EngineError::Body`].
pub type BodyStream =
    Pin<Box<dyn Stream<Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

/// Object data as the engine serves it.
pub type DataStream = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send + Sync>>;

/// The checksum a client declared for a body.
pub enum DeclaredChecksum {
    None,
    /// An algorithm without a value: compute and store it.
    Algorithm(ChecksumAlgorithm),
    /// A base64 value sent in a header before the body.
    Value(ChecksumAlgorithm, String),
    /// A value that arrives in a trailer after the body (aws-chunked). The
    /// closure is called once the body has ended.
    Trailer(
        ChecksumAlgorithm,
        Box<dyn FnOnce() -> Option<String> + Send>,
    ),
}

impl DeclaredChecksum {
    fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            Self::None => None,
            Self::Algorithm(a) | Self::Value(a, _) | Self::Trailer(a, _) => Some(*a),
        }
    }
}

/// Everything a PUT carries besides its body.
pub struct PutParams {
    pub headers: ObjectHeaders,
    pub user_metadata: Vec<(String, String)>,
    /// Content-MD5, base64, as sent.
    pub content_md5: Option<String>,
    pub checksum: DeclaredChecksum,
    /// The decoded body length the client announced, when it did.
    pub expected_size: Option<u64>,
    pub if_match: Option<EtagMatch>,
    pub if_none_match: Option<EtagMatch>,
    /// Tags to set (`x-amz-tagging`). For CopyObject, `None` keeps the
    /// source's tags (TaggingDirective COPY).
    pub tags: Option<Vec<(String, String)>>,
    /// The encryption asked for; `None` takes the bucket's default.
    pub sse: Option<SseRequest>,
    /// `x-amz-acl` / `x-amz-grant-*`.
    pub acl: Option<AclSpec>,
    /// The writer's account: it owns the new object unless that is the
    /// bucket owner or the bucket's Object Ownership says otherwise.
    pub writer: Option<String>,
    /// `x-amz-object-lock-mode` with `-retain-until-date`.
    pub retention: Option<Retention>,
    /// `x-amz-object-lock-legal-hold`.
    pub legal_hold: Option<bool>,
}

impl PutParams {
    pub fn new(headers: ObjectHeaders) -> Self {
        Self {
            headers,
            user_metadata: Vec::new(),
            content_md5: None,
            checksum: DeclaredChecksum::None,
            expected_size: None,
            if_match: None,
            if_none_match: None,
            tags: None,
            sse: None,
            acl: None,
            writer: None,
            retention: None,
            legal_hold: None,
        }
    }
}

/// CopyObject's `x-amz-metadata-directive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataDirective {
    #[default]
    Copy,
    Replace,
}

/// What a GET will send: the byte range of the object and whether it is a
/// partial response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub range: Range<u64>,
    pub partial: bool,
}

/// A client's byte range before it is resolved against the object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-` or `bytes=first-last`
    From { first: u64, last: Option<u64> },
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open byte range this selects from an object of `size` bytes,
    /// or InvalidRange when it selects nothing.
    pub fn resolve(self, size: u64) -> Result<Range<u64>, EngineError> {
        match self {
            Self::From { first, last } => {
                if first >= size || last.is_some_and(|l| l < first) {
                    return Err(EngineError::InvalidRange);
                }
                let end = last.map_or(size, |l| l.saturating_add(1).min(size));
                Ok(first..end)
            }
            Self::Suffix(n) => {
                if n == 0 || size == 0 {
                    return Err(EngineError::InvalidRange);
                }
                Ok(size.saturating_sub(n)..size)
            }
        }
    }
}

pub(crate) struct Received {
    pub new: NewPiece,
    pub digest: ObjectDigest,
    pub checksum: Option<StoredChecksum>,
}

/// Where a body is being received: memory for a small piece, a blob file
/// otherwise. Both are bounded: the buffer by `INLINE_MAX_SIZE`, the file
/// writer by one block.
enum Sink {
    Memory(bytes::BytesMut),
    File(Box<coffer_blob::BlobWriter>),
}

fn body_error(e: Box<dyn std::error::Error + Send + Sync>) -> EngineError {
    match e.downcast::<EngineError>() {
        Ok(inner) => *inner,
        Err(other) => EngineError::Body(other),
    }
}

impl Engine {
    /// Streams a body into a new blob while hashing it, verifies everything
    /// the client declared, and only then makes the blob durable.
    pub(crate) async fn receive(
        &self,
        mut body: BodyStream,
        expected_size: Option<u64>,
        content_md5: Option<&str>,
        declared: DeclaredChecksum,
        max_size: u64,
        key: Option<&DataKey>,
    ) -> Result<Received, EngineError> {
        let content_md5 = content_md5
            .map(|m| decode_md5(m).ok_or(EngineError::InvalidDigest))
            .transpose()?;
        if expected_size.is_some_and(|n| n > max_size) {
            return Err(EngineError::EntityTooLarge);
        }
        let algorithm = declared.algorithm();
        let mut hasher = ObjectHasher::new(algorithm);
        let mut sink = match expected_size {
            Some(n) if n <= INLINE_MAX_SIZE => {
                Sink::Memory(bytes::BytesMut::with_capacity(n as usize))
            }
            _ => Sink::File(Box::new(self.blobs().create().await?)),
        };
        let mut encryptor = key.map(PieceEncryptor::new);
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(body_error)?;
            hasher.update(&chunk);
            let chunk = match &mut encryptor {
                Some(e) => e.encrypt(&chunk),
                None => chunk,
            };
            received += chunk.len() as u64;
            if received > max_size {
                return Err(EngineError::EntityTooLarge);
            }
            match &mut sink {
                Sink::Memory(buf) => {
                    if received > INLINE_MAX_SIZE {
                        // More than announced: the check below refuses it.
                        return Err(EngineError::IncompleteBody);
                    }
                    buf.extend_from_slice(&chunk);
                }
                Sink::File(w) => w.write(&chunk).await?,
            }
        }
        let digest = hasher.finish();
        if expected_size.is_some_and(|n| n != digest.size) {
            return Err(EngineError::IncompleteBody);
        }
        if content_md5.is_some_and(|m| m != digest.md5) {
            return Err(EngineError::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        let computed = digest.checksum.as_ref().map(|(_, v)| v.clone());
        let expected = match declared {
            DeclaredChecksum::None | DeclaredChecksum::Algorithm(_) => None,
            DeclaredChecksum::Value(_, v) => Some(v),
            DeclaredChecksum::Trailer(a, read) => Some(read().ok_or_else(|| {
                EngineError::InvalidRequest(format!(
                    "The trailer {} was declared but not sent",
                    a.header_name()
                ))
            })?),
        };
        if let (Some(expected), Some(computed), Some(a)) = (&expected, &computed, algorithm)
            && expected != computed
        {
            return Err(EngineError::BadDigest(format!(
                "The {} you specified did not match the calculated checksum.",
                a.header_name()
            )));
        }
        let checksum = algorithm
            .zip(computed)
            .map(|(algorithm, value)| StoredChecksum {
                algorithm,
                value,
                kind: ChecksumKind::FullObject,
            });
        let new = match sink {
            Sink::Memory(buf) => {
                let data = buf.freeze();
                NewPiece {
                    piece: BlobRef {
                        id: hex::encode(rand::random::<[u8; 16]>()),
                        size: data.len() as u64,
                        inline_crc32c: Some(pieces::crc32c(&data)),
                        iv: encryptor.as_ref().map(PieceEncryptor::iv_hex),
                    },
                    inline: Some(data),
                }
            }
            Sink::File(w) => {
                let blob = w.finish().await?;
                NewPiece {
                    piece: BlobRef {
                        id: blob.id,
                        size: blob.size,
                        inline_crc32c: None,
                        iv: encryptor.as_ref().map(PieceEncryptor::iv_hex),
                    },
                    inline: None,
                }
            }
        };
        Ok(Received {
            new,
            digest,
            checksum,
        })
    }

    /// PutObject: streams the body to a durable blob, then commits the
    /// record. Overwrites are atomic: readers see the old or the new object.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        params: PutParams,
        body: BodyStream,
    ) -> Result<Versioned, EngineError> {
        let key = ObjectKey::parse(key)?;
        if let Some(tags) = &params.tags {
            check_object_tags(tags)?;
        }
        let (bucket_rec, existing) = self.write_target(bucket, key.as_str()).await?;
        check_write_conditions(
            existing.as_ref(),
            params.if_match.as_ref(),
            params.if_none_match.as_ref(),
        )?;
        self.store_new_object(&bucket_rec, key.as_str(), params, body)
            .await
    }

    /// Receives a body as a new version of `key` in `bucket` (encrypted,
    /// owned and locked as the bucket and the request say) and commits it;
    /// what PutObject and CopyObject share once their checks are done.
    async fn store_new_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        params: PutParams,
        body: BodyStream,
    ) -> Result<Versioned, EngineError> {
        check_user_metadata(&params.user_metadata)?;
        let (sse, data_key) = self.new_data_key(bucket, params.sse.as_ref())?;
        let (owner, acl) = self
            .new_object_acl(bucket, params.writer.as_deref(), params.acl.as_ref())
            .await?;
        let (retention, legal_hold) =
            crate::lock::for_new_version(bucket, params.retention, params.legal_hold)?;
        let received = self
            .receive(
                body,
                params.expected_size,
                params.content_md5.as_deref(),
                params.checksum,
                limits::MAX_PUT_SIZE,
                Some(&data_key),
            )
            .await?;
        let record = ObjectRecord {
            version_id: versions::NULL_VERSION.into(),
            stamp: 0,
            delete_marker: false,
            size: received.digest.size,
            etag: ETag::from_md5(&received.digest.md5).0,
            last_modified_ms: now_ms(),
            headers: params.headers,
            user_metadata: params.user_metadata,
            checksum: received.checksum,
            blobs: vec![received.new.piece.clone()],
            parts: Vec::new(),
            tags: sorted_tags(params.tags.unwrap_or_default()),
            upload_id: None,
            sse: Some(sse),
            owner,
            acl,
            retention,
            legal_hold,
        };
        self.commit_object(
            &bucket.name,
            key,
            record,
            Some(received.new),
            params.if_match,
            params.if_none_match,
        )
        .await
    }

    /// Commits `record` as the latest version of `bucket/key` (giving it its
    /// version id), deleting the blobs it replaces after the commit. On
    /// failure the new blob is removed.
    pub(crate) async fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        new: Option<NewPiece>,
        if_match: Option<EtagMatch>,
        if_none_match: Option<EtagMatch>,
    ) -> Result<Versioned, EngineError> {
        self.commit_object_consuming(
            bucket,
            key,
            record,
            new,
            if_match,
            if_none_match,
            Vec::new(),
        )
        .await
    }

    /// [`Self::commit_object`] that also removes `consumed` rows (an upload
    /// and its parts) in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit_object_consuming(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        new: Option<NewPiece>,
        if_match: Option<EtagMatch>,
        if_none_match: Option<EtagMatch>,
        consumed: Vec<Consumed>,
    ) -> Result<Versioned, EngineError> {
        let (b, k, rec) = (bucket.to_owned(), key.to_owned(), record.clone());
        let result = self
            .meta()
            .write(move |tx| -> Result<(Vec<String>, Versioned), EngineError> {
                let bucket = versions::read_bucket(tx, &b)?;
                let old = versions::current(tx, &b, &k)?.filter(|o| !o.delete_marker);
                // Checked again here: the object may have changed while the
                // body streamed in. Callers checked before the upload, so a
                // failure now is a race: S3's 409, which clients retry.
                check_write_conditions(old.as_ref(), if_match.as_ref(), if_none_match.as_ref())
                    .map_err(|e| match e {
                        EngineError::PreconditionFailed | EngineError::NoSuchKey => {
                            EngineError::ConditionalRequestConflict
                        }
                        other => other,
                    })?;
                for c in &consumed {
                    if let Some((value, otherwise)) = &c.expect
                        && tx.get(c.table, &c.key)?.as_ref() != Some(value)
                    {
                        return Err(otherwise());
                    }
                    tx.delete(c.table, &c.key)?;
                }
                let mut rec = rec.clone();
                let replaced = versions::install(tx, &bucket, &k, &mut rec)?;
                if rec.owner.is_some() && bucket.foreign_objects == Some(false) {
                    // From now on authorization asks who owns an object here.
                    let mut marked = bucket.clone();
                    marked.foreign_objects = Some(true);
                    tx.put(Table::Buckets, &keys::bucket(&b), &encode(&marked))?;
                }
                let owner = BlobOwner::Object {
                    bucket: b.clone(),
                    key: k.clone(),
                };
                match &new {
                    // A fresh piece from PutObject or CopyObject.
                    Some(n) => pieces::store(tx, n, &owner)?,
                    // Parts of a completed upload change hands.
                    None => {
                        for piece in &rec.blobs {
                            pieces::adopt(tx, piece, &owner)?;
                        }
                    }
                }
                Ok((replaced, Versioned::of(rec, &bucket, &k)))
            })
            .await;
        match result {
            Ok((replaced, stored)) => {
                self.delete_blobs(replaced).await;
                Ok(stored)
            }
            Err(e) => {
                // Multipart blobs still belong to their upload; only a fresh
                // blob of a single PUT or copy is ours to remove.
                if record.parts.is_empty() {
                    self.delete_blobs(record.blob_file_ids().map(str::to_owned).collect())
                        .await;
                }
                Err(e)
            }
        }
    }

    /// The latest version of an object, distinguishing a missing bucket from
    /// a missing key.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, EngineError> {
        Ok(self.get_object_version(bucket, key, None).await?.record)
    }

    /// One version of an object: the latest, or the one named. A delete
    /// marker is reported as [`EngineError::DeleteMarker`].
    pub async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Versioned, EngineError> {
        let (b, k, v) = versions::target(bucket, key, version_id)?;
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let bucket = versions::read_bucket(tx, &b)?;
                let found = versions::lookup(tx, &b, &k, v.as_deref())?;
                let Some(record) = found else {
                    return Err(if v.is_some() {
                        EngineError::NoSuchVersion
                    } else {
                        EngineError::NoSuchKey
                    });
                };
                if record.delete_marker {
                    return Err(EngineError::DeleteMarker {
                        version_id: bucket.versioning.map(|_| record.version_id),
                        by_version: v.is_some(),
                        last_modified_ms: record.last_modified_ms,
                    });
                }
                Ok(Versioned::of(record, &bucket, &k))
            })
            .await
    }

    /// Checks conditional-write headers against the key's live object
    /// before an upload starts.
    pub(crate) async fn precheck_write(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&EtagMatch>,
        if_none_match: Option<&EtagMatch>,
    ) -> Result<(), EngineError> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(());
        }
        let (_, existing) = self.write_target(bucket, key).await?;
        check_write_conditions(existing.as_ref(), if_match, if_none_match)
    }

    /// The bucket a write goes to and the key's live object (not a delete
    /// marker), read together.
    async fn write_target(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(BucketRecord, Option<ObjectRecord>), EngineError> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let bucket = versions::read_bucket(tx, &b)?;
                let live = versions::current(tx, &b, &k)?.filter(|o| !o.delete_marker);
                Ok((bucket, live))
            })
            .await
    }

    /// A fresh data key for a write into `bucket`: as the request asks, or
    /// by the bucket's default encryption.
    pub(crate) fn new_data_key(
        &self,
        bucket: &BucketRecord,
        requested: Option<&SseRequest>,
    ) -> Result<(StoredSse, DataKey), EngineError> {
        let default;
        let req = match requested {
            Some(r) => r,
            None => {
                default = match &bucket.encryption {
                    Some(e) if e.mode == SseMode::Kms => SseRequest::Kms {
                        key_id: e.kms_key_id.clone(),
                    },
                    _ => SseRequest::S3,
                };
                &default
            }
        };
        self.keyring().new_key(req)
    }

    /// The data key of an object (or upload), given the SSE-C key the
    /// request carries. Refuses a missing, wrong or needless customer key.
    pub fn data_key(
        &self,
        sse: Option<&StoredSse>,
        customer: Option<&CustomerKey>,
    ) -> Result<Option<DataKey>, EngineError> {
        self.keyring().open_key(sse, customer)
    }

    /// The byte range a GET of `part_number` covers, and the number of parts.
    pub fn part_range(object: &ObjectRecord, part_number: u32) -> Result<Range<u64>, EngineError> {
        if object.parts.is_empty() {
            return if part_number == 1 {
                Ok(0..object.size)
            } else {
                Err(EngineError::InvalidPartNumber)
            };
        }
        let idx = usize::try_from(part_number.saturating_sub(1)).unwrap_or(usize::MAX);
        if part_number == 0 || idx >= object.blobs.len() {
            return Err(EngineError::InvalidPartNumber);
        }
        let start: u64 = object.blobs[..idx].iter().map(|b| b.size).sum();
        Ok(start..start + object.blobs[idx].size)
    }

    /// Opens `range` of a version's data for streaming. Its blob files are
    /// pinned for as long as the stream lives, so a write replacing or
    /// deleting the version meanwhile does not cut it short; inline pieces
    /// are read at once. [`EngineError::Superseded`] when the version was
    /// replaced before its data was secured: the caller looks it up again.
    pub async fn open_object(
        &self,
        object: &ObjectRecord,
        range: Range<u64>,
        key: Option<&DataKey>,
    ) -> Result<DataStream, EngineError> {
        let mut wanted = Vec::new();
        let mut offset = 0u64;
        for b in &object.blobs {
            let (s, e) = (offset, offset + b.size);
            offset = e;
            let from = range.start.max(s);
            let to = range.end.min(e);
            if from < to {
                wanted.push((b.clone(), from - s..to - s));
            }
        }
        let files: Vec<String> = wanted
            .iter()
            .filter(|(b, _)| !b.is_inline())
            .map(|(b, _)| b.id.clone())
            .collect();
        let guard = self.readers().pin(files.clone(), self.blobs());
        // After pinning: every file still referenced, and the inline bytes
        // (an object has at most one inline piece, its last part).
        let inline_ids: Vec<String> = wanted
            .iter()
            .filter(|(b, _)| b.is_inline())
            .map(|(b, _)| b.id.clone())
            .collect();
        let inline = self
            .meta()
            .read(move |tx| -> Result<Option<Vec<Vec<u8>>>, MetaError> {
                for id in &files {
                    if tx.get(Table::Blobs, id.as_bytes())?.is_none() {
                        return Ok(None);
                    }
                }
                let mut out = Vec::with_capacity(inline_ids.len());
                for id in &inline_ids {
                    match tx.get(Table::Inline, id.as_bytes())? {
                        Some(data) => out.push(data),
                        None => return Ok(None),
                    }
                }
                Ok(Some(out))
            })
            .await?
            .ok_or(EngineError::Superseded)?;
        let mut inline = inline.into_iter();
        let mut parts = Vec::with_capacity(wanted.len());
        for (b, r) in wanted {
            let data = if b.is_inline() {
                let data = inline.next().unwrap_or_default();
                Some(verified_inline(&b, data, &r)?)
            } else {
                None
            };
            parts.push((b, r, data));
        }
        let engine = self.clone();
        let key = key.cloned();
        let stream = futures::stream::iter(parts)
            .then(move |(b, r, data)| {
                let engine = engine.clone();
                let key = key.clone();
                async move {
                    let stored: DataStream = match data {
                        Some(chunk) => Box::pin(futures::stream::iter([Ok(chunk)])),
                        None => {
                            let s = engine.blobs().read(&b.id, b.size, r.clone()).await?;
                            Box::pin(s.map_err(EngineError::from))
                        }
                    };
                    let Some(iv) = b.iv.clone() else {
                        return Ok(stored);
                    };
                    let key = key.ok_or_else(|| {
                        EngineError::Internal("encrypted data read without its key".into())
                    })?;
                    sse::decrypting(stored, &key, &iv, r.start)
                }
            })
            .try_flatten()
            // The pins last as long as the stream.
            .map(move |item| {
                let _held = &guard;
                item
            });
        Ok(Box::pin(stream))
    }

    /// DeleteObject: without a version id, removes the object or (in a
    /// versioned bucket) puts a delete marker on it; with one, removes that
    /// version for good. Idempotent; NoSuchBucket only when the bucket is
    /// gone.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deleted, EngineError> {
        self.delete_object_with(bucket, key, version_id, false)
            .await
    }

    /// [`Self::delete_object`]; `bypass_governance` lifts governance-mode
    /// retention (x-amz-bypass-governance-retention), once the caller has
    /// been allowed s3:BypassGovernanceRetention.
    pub async fn delete_object_with(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<Deleted, EngineError> {
        let (b, k, v) = versions::target(bucket, key, version_id)?;
        let (deleted, released) = self
            .meta()
            .write(move |tx| -> Result<_, EngineError> {
                let bucket = versions::read_bucket(tx, &b)?;
                match &v {
                    Some(v) => versions::delete_version(tx, &b, &k, v, bypass_governance),
                    None => Ok(versions::delete_latest(tx, &bucket, &k)?),
                }
            })
            .await?;
        self.delete_blobs(released).await;
        Ok(deleted)
    }

    /// CopyObject: the destination gets a new blob with the source's bytes.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        src_version: Option<&str>,
        dst_bucket: &str,
        dst_key: &str,
        directive: MetadataDirective,
        replacement: PutParams,
        source_conditions: &CopySourceConditions,
        source_customer_key: Option<&CustomerKey>,
    ) -> Result<(Versioned, Versioned), EngineError> {
        let dst_key = ObjectKey::parse(dst_key)?;
        if let Some(tags) = &replacement.tags {
            check_object_tags(tags)?;
        }
        // A write replacing the source between its lookup and the opening
        // of its data sends the copy back to the lookup.
        let mut attempts = 0;
        let (source_version, dst_bucket_rec, data) = loop {
            let source_version = self.copy_source(src_bucket, src_key, src_version).await?;
            let source = &source_version.record;
            source_conditions.check(source)?;
            if src_bucket == dst_bucket
                && src_key == dst_key.as_str()
                && src_version.is_none()
                && replacement.sse.is_none()
                && directive == MetadataDirective::Copy
            {
                return Err(EngineError::InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
                ));
            }
            let source_key = self.data_key(source.sse.as_ref(), source_customer_key)?;
            let (dst_bucket_rec, existing) =
                self.write_target(dst_bucket, dst_key.as_str()).await?;
            check_write_conditions(
                existing.as_ref(),
                replacement.if_match.as_ref(),
                replacement.if_none_match.as_ref(),
            )?;
            match self
                .open_object(source, 0..source.size, source_key.as_ref())
                .await
            {
                Ok(data) => break (source_version, dst_bucket_rec, data),
                Err(EngineError::Superseded) if attempts < crate::READ_ATTEMPTS => attempts += 1,
                Err(e) => return Err(e),
            }
        };
        let source = &source_version.record;
        let algorithm = replacement
            .checksum
            .algorithm()
            .or(source.checksum.as_ref().map(|c| c.algorithm));
        let data = data.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
        let mut params = replacement;
        if directive == MetadataDirective::Copy {
            params.headers = source.headers.clone();
            params.user_metadata = source.user_metadata.clone();
        }
        params.tags = Some(params.tags.unwrap_or_else(|| source.tags.clone()));
        params.expected_size = Some(source.size);
        params.content_md5 = None;
        params.checksum = algorithm.map_or(DeclaredChecksum::None, DeclaredChecksum::Algorithm);
        let record = self
            .store_new_object(&dst_bucket_rec, dst_key.as_str(), params, Box::pin(data))
            .await?;
        Ok((record, source_version))
    }

    /// The version a copy reads: naming a delete marker is a bad request.
    pub async fn copy_source(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Versioned, EngineError> {
        match self.get_object_version(bucket, key, version_id).await {
            Err(EngineError::DeleteMarker {
                by_version: true, ..
            }) => Err(EngineError::InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker by version id.".into(),
            )),
            Err(EngineError::DeleteMarker { .. }) => Err(EngineError::NoSuchKey),
            other => other,
        }
    }

    /// The bucket record, for operations that only need existence.
    pub async fn bucket(&self, bucket: &str) -> Result<BucketRecord, EngineError> {
        self.head_bucket(bucket).await
    }
}

/// S3's object tag rules: at most 10 tags, keys of 1-128 and values of at
/// most 256 Unicode characters, keys unique and not in the `aws:` namespace.
/// Tags as S3 returns them: in key order.
fn sorted_tags(mut tags: Vec<(String, String)>) -> Vec<(String, String)> {
    tags.sort();
    tags
}

/// S3's limit on user-defined metadata: 2 KB, counted as the UTF-8 bytes of
/// every name (without `x-amz-meta-`) and value.
pub const MAX_USER_METADATA_SIZE: usize = 2 * 1024;

pub(crate) fn check_user_metadata(metadata: &[(String, String)]) -> Result<(), EngineError> {
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA_SIZE {
        return Err(EngineError::MetadataTooLarge);
    }
    Ok(())
}

pub fn check_object_tags(tags: &[(String, String)]) -> Result<(), EngineError> {
    const MAX_OBJECT_TAGS: usize = 10;
    if tags.len() > MAX_OBJECT_TAGS {
        return Err(EngineError::InvalidTag(
            "Object tags cannot be greater than 10".into(),
        ));
    }
    check_tag_pairs(tags)
}

/// Tag key and value rules shared by objects and buckets.
pub(crate) fn check_tag_pairs(tags: &[(String, String)]) -> Result<(), EngineError> {
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(EngineError::InvalidTag(format!(
                "The TagKey {k:?} you have provided is invalid"
            )));
        }
        if v.chars().count() > 256 {
            return Err(EngineError::InvalidTag(format!(
                "The TagValue you have provided for {k:?} is too long"
            )));
        }
        if k.starts_with("aws:") {
            return Err(EngineError::InvalidTag(
                "Your TagKey cannot be prefixed with aws:".into(),
            ));
        }
        if !seen.insert(k.as_str()) {
            return Err(EngineError::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

impl Engine {
    /// The tags of an object version (the latest by default).
    pub async fn get_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Versioned, EngineError> {
        self.get_object_version(bucket, key, version_id).await
    }

    /// Replaces the tags of an object version (an empty set deletes them).
    /// Returns the version as it now is.
    pub async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<Versioned, EngineError> {
        check_object_tags(&tags)?;
        let (b, k, v) = versions::target(bucket, key, version_id)?;
        self.meta()
            .write(move |tx| -> Result<Versioned, EngineError> {
                let bucket = versions::read_bucket(tx, &b)?;
                let found = versions::lookup(tx, &b, &k, v.as_deref())?;
                let mut record = match found {
                    Some(r) if !r.delete_marker => r,
                    Some(marker) if v.is_some() => {
                        return Err(EngineError::DeleteMarker {
                            version_id: v.clone(),
                            by_version: true,
                            last_modified_ms: marker.last_modified_ms,
                        });
                    }
                    _ if v.is_some() => return Err(EngineError::NoSuchVersion),
                    _ => return Err(EngineError::NoSuchKey),
                };
                record.tags = sorted_tags(tags.clone());
                versions::update(tx, &b, &k, &record)?;
                Ok(Versioned::of(record, &bucket, &k))
            })
            .await
    }
}

/// Conditional writes (AWS, 2024): `If-None-Match: *` fails when the key
/// exists; `If-Match` fails when it is missing (404) or has another ETag.
fn check_write_conditions(
    existing: Option<&ObjectRecord>,
    if_match: Option<&EtagMatch>,
    if_none_match: Option<&EtagMatch>,
) -> Result<(), EngineError> {
    if let Some(m) = if_match {
        match existing {
            None => return Err(EngineError::NoSuchKey),
            Some(o) if !etag_matches(m, &o.etag) => return Err(EngineError::PreconditionFailed),
            Some(_) => {}
        }
    }
    if let Some(m) = if_none_match
        && let Some(o) = existing
        && etag_matches(m, &o.etag)
    {
        return Err(EngineError::PreconditionFailed);
    }
    Ok(())
}

fn etag_matches(m: &EtagMatch, etag: &str) -> bool {
    match m {
        EtagMatch::Any => true,
        EtagMatch::Tags(t) => t.iter().any(|t| t == etag),
    }
}

/// Drops the blob-owner rows of a replaced record and returns its blob ids
/// for deletion after commit.
pub(crate) fn release_blobs(
    tx: &mut dyn WriteTxn,
    old: Option<&ObjectRecord>,
) -> Result<Vec<String>, MetaError> {
    let mut ids = Vec::new();
    for piece in old.map(|o| o.blobs.as_slice()).unwrap_or_default() {
        ids.extend(pieces::release(tx, piece)?);
    }
    Ok(ids)
}

fn decode_md5(b64: &str) -> Option<[u8; 16]> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    bytes.try_into().ok()
}

/// `range` of an inline piece, once its bytes pass their checksum.
fn verified_inline(
    piece: &BlobRef,
    data: Vec<u8>,
    range: &Range<u64>,
) -> Result<Bytes, EngineError> {
    let crc = piece.inline_crc32c.unwrap_or_default();
    if data.len() as u64 != piece.size || pieces::crc32c(&data) != crc {
        tracing::error!(piece = %piece.id, "inline data fails its checksum");
        return Err(EngineError::Corrupt(format!(
            "inline piece {} fails its checksum",
            piece.id
        )));
    }
    Ok(Bytes::from(data).slice(range.start as usize..range.end as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_rfc_7233_says() {
        let r = |b: ByteRange| b.resolve(100);
        assert_eq!(
            r(ByteRange::From {
                first: 0,
                last: Some(9)
            })
            .unwrap(),
            0..10
        );
        assert_eq!(
            r(ByteRange::From {
                first: 90,
                last: None
            })
            .unwrap(),
            90..100
        );
        assert_eq!(
            r(ByteRange::From {
                first: 90,
                last: Some(1000)
            })
            .unwrap(),
            90..100
        );
        assert_eq!(r(ByteRange::Suffix(10)).unwrap(), 90..100);
        assert_eq!(r(ByteRange::Suffix(1000)).unwrap(), 0..100);
        assert!(matches!(
            r(ByteRange::From {
                first: 100,
                last: None
            }),
            Err(EngineError::InvalidRange)
        ));
        assert!(matches!(
            r(ByteRange::From {
                first: 5,
                last: Some(4)
            }),
            Err(EngineError::InvalidRange)
        ));
        assert!(matches!(
            r(ByteRange::Suffix(0)),
            Err(EngineError::InvalidRange)
        ));
        assert!(matches!(
            ByteRange::Suffix(5).resolve(0),
            Err(EngineError::InvalidRange)
        ));
    }

    #[test]
    fn content_md5_decodes_standard_base64() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            decode_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
                .map(hex::encode)
                .as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(decode_md5("not base64!"), None);
        assert_eq!(decode_md5("AAAA"), None, "wrong length is not an MD5");
    }
}
