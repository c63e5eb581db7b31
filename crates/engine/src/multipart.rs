//! Multipart uploads. Parts are blobs; completing an upload writes one
//! object record that lists the parts' blobs in order, so nothing is copied.

use coffer_meta::records::{
    BlobOwner, BlobRef, ChecksumKind, ObjectHeaders, ObjectPart, ObjectRecord, PartRecord,
    StoredChecksum, UploadRecord, decode, encode,
};
use coffer_meta::{MetaError, Table, keys};
use coffer_types::{
    ChecksumAlgorithm, ETag, ObjectKey, combine_crc, composite_checksum, multipart_etag,
};

use crate::acl::AclSpec;
use crate::conditions::EtagMatch;
use crate::objects::{BodyStream, DeclaredChecksum, Received};
use crate::pieces;
use crate::sse::{CustomerKey, SseRequest};
use crate::versions::Versioned;
use crate::{Engine, EngineError, limits, now_ms};

/// One entry of CompleteMultipartUpload's part list.
#[derive(Debug, Clone)]
pub struct CompletedPart {
    pub number: u32,
    /// Unquoted.
    pub etag: String,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PartListing {
    pub upload: UploadRecord,
    pub parts: Vec<PartRecord>,
    pub is_truncated: bool,
    pub next_marker: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct UploadListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// What CreateMultipartUpload can set for the completed object besides its
/// headers, metadata, checksum, tags and encryption.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// The writer's account (see [`crate::PutParams::writer`]).
    pub writer: Option<String>,
    pub acl: Option<AclSpec>,
    pub retention: Option<coffer_meta::records::Retention>,
    pub legal_hold: Option<bool>,
}

/// The SSE-C keys an UploadPartCopy carries: the source's
/// (`x-amz-copy-source-server-side-encryption-customer-*`) and the upload's.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyKeys<'a> {
    pub source: Option<&'a CustomerKey>,
    pub destination: Option<&'a CustomerKey>,
}

#[derive(Debug, Clone, Default)]
pub struct UploadListing {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        user_metadata: Vec<(String, String)>,
        checksum: Option<(ChecksumAlgorithm, ChecksumKind)>,
        tags: Vec<(String, String)>,
        sse: Option<SseRequest>,
    ) -> Result<UploadRecord, EngineError> {
        self.create_multipart_upload_with(
            bucket,
            key,
            headers,
            user_metadata,
            checksum,
            tags,
            sse,
            UploadOptions::default(),
        )
        .await
    }

    /// [`Self::create_multipart_upload`] with the writer's account and the
    /// ACL the completed object gets.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_multipart_upload_with(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        user_metadata: Vec<(String, String)>,
        checksum: Option<(ChecksumAlgorithm, ChecksumKind)>,
        tags: Vec<(String, String)>,
        sse: Option<SseRequest>,
        options: UploadOptions,
    ) -> Result<UploadRecord, EngineError> {
        let UploadOptions {
            writer,
            acl,
            retention,
            legal_hold,
        } = options;
        let key = ObjectKey::parse(key)?;
        crate::objects::check_user_metadata(&user_metadata)?;
        crate::objects::check_object_tags(&tags)?;
        let bucket_rec = self.head_bucket(bucket).await?;
        // Every part is encrypted with the upload's data key; the completed
        // object keeps it.
        let (sse, _) = self.new_data_key(&bucket_rec, sse.as_ref())?;
        let (owner, acl) = self
            .new_object_acl(&bucket_rec, writer.as_deref(), acl.as_ref())
            .await?;
        let (retention, legal_hold) =
            crate::lock::for_new_version(&bucket_rec, retention, legal_hold)?;
        let upload = UploadRecord {
            upload_id: hex::encode(rand::random::<[u8; 24]>()),
            key: key.as_str().to_owned(),
            initiated_ms: now_ms(),
            headers,
            user_metadata,
            checksum_algorithm: checksum.map(|c| c.0),
            checksum_kind: checksum.map(|c| c.1),
            tags,
            sse: Some(sse),
            owner,
            acl,
            retention,
            legal_hold,
        };
        let (b, u) = (bucket.to_owned(), upload.clone());
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                if tx.get(Table::Buckets, &keys::bucket(&b))?.is_none() {
                    return Err(EngineError::NoSuchBucket);
                }
                tx.put(
                    Table::Uploads,
                    &keys::upload(&b, &u.key, &u.upload_id),
                    &encode(&u),
                )?;
                Ok(())
            })
            .await?;
        Ok(upload)
    }

    /// An upload in progress.
    pub async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, EngineError> {
        self.upload_record(bucket, key, upload_id).await
    }

    async fn upload_record(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, EngineError> {
        let k = keys::upload(bucket, key, upload_id);
        let b = bucket.to_owned();
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                match tx.get(Table::Uploads, &k)? {
                    Some(v) => Ok(decode(&v)?),
                    None if tx.get(Table::Buckets, &keys::bucket(&b))?.is_none() => {
                        Err(EngineError::NoSuchBucket)
                    }
                    None => Err(EngineError::NoSuchUpload),
                }
            })
            .await
    }

    /// UploadPart: the part becomes a durable blob, then its record is
    /// committed (replacing a previous upload of the same number).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: BodyStream,
        expected_size: Option<u64>,
        content_md5: Option<&str>,
        checksum: DeclaredChecksum,
        customer_key: Option<&CustomerKey>,
    ) -> Result<PartRecord, EngineError> {
        if !(1..=limits::MAX_PART_NUMBER).contains(&part_number) {
            return Err(EngineError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let upload = self.upload_record(bucket, key, upload_id).await?;
        let data_key = self.data_key(upload.sse.as_ref(), customer_key)?;
        let checksum = match (checksum, upload.checksum_algorithm) {
            (DeclaredChecksum::None, Some(a)) => DeclaredChecksum::Algorithm(a),
            (c, _) => c,
        };
        let received = self
            .receive(
                body,
                expected_size,
                content_md5,
                checksum,
                limits::MAX_PUT_SIZE,
                data_key.as_ref(),
            )
            .await?;
        self.commit_part(bucket, key, upload_id, part_number, received)
            .await
    }

    /// UploadPartCopy: a part made from a byte range of an existing object.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: &ObjectRecord,
        range: std::ops::Range<u64>,
        keys: CopyKeys<'_>,
    ) -> Result<PartRecord, EngineError> {
        if !(1..=limits::MAX_PART_NUMBER).contains(&part_number) {
            return Err(EngineError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let upload = self.upload_record(bucket, key, upload_id).await?;
        let source_key = self.data_key(source.sse.as_ref(), keys.source)?;
        let data_key = self.data_key(upload.sse.as_ref(), keys.destination)?;
        let len = range.end - range.start;
        let data = futures::TryStreamExt::map_err(
            self.open_object(source, range, source_key.as_ref()).await?,
            |e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>,
        );
        let received = self
            .receive(
                Box::pin(data),
                Some(len),
                None,
                upload
                    .checksum_algorithm
                    .map_or(DeclaredChecksum::None, DeclaredChecksum::Algorithm),
                limits::MAX_PUT_SIZE,
                data_key.as_ref(),
            )
            .await?;
        self.commit_part(bucket, key, upload_id, part_number, received)
            .await
    }

    async fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        received: Received,
    ) -> Result<PartRecord, EngineError> {
        let part = PartRecord {
            number,
            etag: ETag::from_md5(&received.digest.md5).0,
            size: received.digest.size,
            last_modified_ms: now_ms(),
            blob: received.new.piece.clone(),
            checksum: received.checksum.map(|c| c.value),
        };
        let new = received.new;
        let ukey = keys::upload(bucket, key, upload_id);
        let (uid, p) = (upload_id.to_owned(), part.clone());
        let result = self
            .meta()
            .write(move |tx| -> Result<Option<String>, EngineError> {
                if tx.get(Table::Uploads, &ukey)?.is_none() {
                    return Err(EngineError::NoSuchUpload);
                }
                let pkey = keys::part(&uid, p.number);
                let old: Option<PartRecord> = tx
                    .get(Table::Parts, &pkey)?
                    .map(|v| decode(&v))
                    .transpose()?;
                let replaced = match &old {
                    Some(old) => pieces::release(tx, &old.blob)?,
                    None => None,
                };
                tx.put(Table::Parts, &pkey, &encode(&p))?;
                let owner = BlobOwner::Part {
                    upload_id: uid.clone(),
                    number: p.number,
                };
                pieces::store(tx, &new, &owner)?;
                Ok(replaced)
            })
            .await;
        match result {
            Ok(replaced) => {
                self.delete_blobs(replaced.into_iter().collect()).await;
                Ok(part)
            }
            Err(e) => {
                if !part.blob.is_inline() {
                    self.delete_blobs(vec![part.blob.id.clone()]).await;
                }
                Err(e)
            }
        }
    }

    async fn all_parts(&self, upload_id: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>, EngineError> {
        let uid = upload_id.to_owned();
        self.meta()
            .read(move |tx| -> Result<_, MetaError> {
                let end = keys::upload_prefix_end(&uid);
                let mut start = keys::upload_prefix(&uid);
                let mut out = Vec::new();
                loop {
                    let batch = tx.range(Table::Parts, &start, Some(&end), 1000)?;
                    let Some((last, _)) = batch.last() else { break };
                    start = last.clone();
                    start.push(0);
                    out.extend(batch);
                }
                Ok(out)
            })
            .await
            .map_err(EngineError::from)
    }

    /// CompleteMultipartUpload: checks the client's part list against the
    /// uploaded parts and commits the object in one transaction that also
    /// removes the upload, verifying nothing changed since the parts were
    /// read.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: Vec<CompletedPart>,
        if_match: Option<EtagMatch>,
        if_none_match: Option<EtagMatch>,
        declared_checksum: Option<String>,
    ) -> Result<Versioned, EngineError> {
        let upload = match self.upload_record(bucket, key, upload_id).await {
            Ok(u) => u,
            Err(EngineError::NoSuchUpload) => {
                // Completed already: S3 answers a repeated Complete with the
                // object it made, as long as that object is still current.
                return match self.get_object_version(bucket, key, None).await {
                    Ok(v) if v.record.upload_id.as_deref() == Some(upload_id) => Ok(v),
                    _ => Err(EngineError::NoSuchUpload),
                };
            }
            Err(e) => return Err(e),
        };
        self.precheck_write(bucket, key, if_match.as_ref(), if_none_match.as_ref())
            .await?;
        if requested.is_empty() {
            return Err(EngineError::MalformedXml(
                "You must specify at least one part".into(),
            ));
        }
        let stored_raw = self.all_parts(upload_id).await?;
        let mut stored = std::collections::BTreeMap::new();
        for (k, v) in &stored_raw {
            let p: PartRecord = decode(v)?;
            stored.insert(p.number, (k.clone(), v.clone(), p));
        }
        if requested.windows(2).any(|w| w[0].number > w[1].number) {
            return Err(EngineError::InvalidPartOrder);
        }
        // A part number listed twice (a part re-sent while the first upload
        // was still running) counts once, with its last entry.
        let mut requested = requested;
        requested.dedup_by(|later, earlier| {
            if later.number == earlier.number {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
        for (i, r) in requested.iter().enumerate() {
            let Some((_, _, p)) = stored.get(&r.number) else {
                return Err(EngineError::InvalidPart);
            };
            if p.etag != r.etag.trim_matches('"') {
                return Err(EngineError::InvalidPart);
            }
            if let (Some(want), Some(have)) = (&r.checksum, &p.checksum)
                && want != have
            {
                return Err(EngineError::InvalidPart);
            }
            if i + 1 < requested.len() && p.size < limits::MIN_PART_SIZE {
                return Err(EngineError::EntityTooSmall);
            }
            chosen.push(p);
        }
        let md5s: Vec<[u8; 16]> = chosen
            .iter()
            .map(|p| {
                ETag(p.etag.clone())
                    .md5_bytes()
                    .ok_or_else(|| EngineError::Corrupt("part etag".into()))
            })
            .collect::<Result<_, _>>()?;
        let checksum = multipart_checksum(&upload, &chosen);
        // The object checksum the client declared on Complete (with or
        // without the composite "-N" suffix) must be the one computed.
        if let Some(declared) = declared_checksum.as_deref()
            && let Some(a) = upload.checksum_algorithm
        {
            let matches = checksum.as_ref().is_some_and(|c| {
                c.value == declared || c.value.split_once('-').is_some_and(|(v, _)| v == declared)
            });
            if !matches {
                return Err(EngineError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    a.header_name()
                )));
            }
        }
        let record = ObjectRecord {
            version_id: crate::NULL_VERSION.into(),
            stamp: 0,
            delete_marker: false,
            size: chosen.iter().map(|p| p.size).sum(),
            etag: multipart_etag(md5s.iter()).0,
            last_modified_ms: now_ms(),
            headers: upload.headers.clone(),
            user_metadata: upload.user_metadata.clone(),
            checksum,
            blobs: chosen.iter().map(|p| p.blob.clone()).collect(),
            parts: chosen
                .iter()
                .map(|p| ObjectPart {
                    number: p.number,
                    etag: p.etag.clone(),
                    size: p.size,
                    checksum: p.checksum.clone(),
                })
                .collect(),
            tags: {
                let mut t = upload.tags.clone();
                t.sort();
                t
            },
            upload_id: Some(upload_id.to_owned()),
            sse: upload.sse.clone(),
            owner: upload.owner.clone(),
            acl: upload.acl.clone(),
            retention: upload.retention,
            legal_hold: upload.legal_hold,
        };
        let used: std::collections::HashSet<u32> = chosen.iter().map(|p| p.number).collect();
        let unused: Vec<&BlobRef> = stored
            .values()
            .filter(|(_, _, p)| !used.contains(&p.number))
            .map(|(_, _, p)| &p.blob)
            .collect();
        let mut consumed = vec![Consumed::expect(
            Table::Uploads,
            keys::upload(bucket, key, upload_id),
            encode(&upload),
            || EngineError::NoSuchUpload,
        )];
        for (k, v, _) in stored.values() {
            consumed.push(Consumed::expect(Table::Parts, k.clone(), v.clone(), || {
                EngineError::InvalidPart
            }));
        }
        for piece in &unused {
            let table = if piece.is_inline() {
                Table::Inline
            } else {
                Table::Blobs
            };
            consumed.push(Consumed::delete(table, piece.id.as_bytes().to_vec()));
        }
        let unused_files: Vec<String> = unused
            .iter()
            .filter(|p| !p.is_inline())
            .map(|p| p.id.clone())
            .collect();
        let record = self
            .commit_object_consuming(bucket, key, record, None, if_match, if_none_match, consumed)
            .await?;
        self.delete_blobs(unused_files).await;
        Ok(record)
    }

    /// AbortMultipartUpload: removes the upload and its parts.
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), EngineError> {
        self.upload_record(bucket, key, upload_id).await?;
        let ukey = keys::upload(bucket, key, upload_id);
        let uid = upload_id.to_owned();
        let released = self
            .meta()
            .write(move |tx| -> Result<Vec<String>, EngineError> {
                if !tx.delete(Table::Uploads, &ukey)? {
                    return Err(EngineError::NoSuchUpload);
                }
                let end = keys::upload_prefix_end(&uid);
                let mut released = Vec::new();
                loop {
                    let batch =
                        tx.range(Table::Parts, &keys::upload_prefix(&uid), Some(&end), 1000)?;
                    if batch.is_empty() {
                        break;
                    }
                    for (k, v) in batch {
                        let p: PartRecord = decode(&v)?;
                        tx.delete(Table::Parts, &k)?;
                        released.extend(pieces::release(tx, &p.blob)?);
                    }
                }
                Ok(released)
            })
            .await?;
        self.delete_blobs(released).await;
        Ok(())
    }

    /// ListParts: parts with numbers above `marker`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max_parts: usize,
    ) -> Result<PartListing, EngineError> {
        let upload = self.upload_record(bucket, key, upload_id).await?;
        let uid = upload_id.to_owned();
        let max = max_parts.min(limits::MAX_KEYS);
        let batch = self
            .meta()
            .read(move |tx| -> Result<_, MetaError> {
                let start = keys::part(&uid, marker.saturating_add(1));
                tx.range(
                    Table::Parts,
                    &start,
                    Some(&keys::upload_prefix_end(&uid)),
                    max + 1,
                )
            })
            .await?;
        let mut parts: Vec<PartRecord> = batch
            .iter()
            .map(|(_, v)| decode(v))
            .collect::<Result<_, _>>()?;
        let is_truncated = parts.len() > max;
        parts.truncate(max);
        let next_marker = parts.last().map(|p| p.number);
        Ok(PartListing {
            upload,
            parts,
            is_truncated,
            next_marker,
        })
    }

    /// ListMultipartUploads: uploads in key order, then initiation order,
    /// with prefix, delimiter and markers as ListObjects has them.
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        p: UploadListParams,
    ) -> Result<UploadListing, EngineError> {
        let b = bucket.to_owned();
        self.meta()
            .read(move |tx| -> Result<UploadListing, EngineError> {
                if tx.get(Table::Buckets, &keys::bucket(&b))?.is_none() {
                    return Err(EngineError::NoSuchBucket);
                }
                let mut start = keys::object(&b, &p.prefix);
                let end = if p.prefix.is_empty() {
                    keys::bucket_end(&b)
                } else {
                    keys::after_prefix(&start)
                };
                // TODO(issue 7): seek from the markers and stop at the page
                // instead of reading every upload under the prefix.
                let mut all: Vec<UploadRecord> = Vec::new();
                loop {
                    let batch = tx.range(Table::Uploads, &start, Some(&end), 1000)?;
                    let Some((last, _)) = batch.last() else { break };
                    start = last.clone();
                    start.push(0);
                    for (_, v) in batch {
                        all.push(decode(&v)?);
                    }
                }
                all.sort_by(|a, b| {
                    a.key
                        .cmp(&b.key)
                        .then(a.initiated_ms.cmp(&b.initiated_ms))
                        .then(a.upload_id.cmp(&b.upload_id))
                });
                let mut out = UploadListing::default();
                let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
                let max = p.max_uploads.min(limits::MAX_KEYS);
                let mut count = 0;
                for u in all {
                    if let Some(km) = &p.key_marker {
                        let after = match &p.upload_id_marker {
                            Some(um) => u.key > *km || (u.key == *km && u.upload_id > *um),
                            None => u.key > *km,
                        };
                        if !after {
                            continue;
                        }
                    }
                    if let Some(d) = delimiter
                        && let Some(pos) = u.key[p.prefix.len()..].find(d)
                    {
                        let cp = u.key[..p.prefix.len() + pos + d.len()].to_owned();
                        if out.common_prefixes.last() == Some(&cp) {
                            continue;
                        }
                        if count == max {
                            out.is_truncated = true;
                            break;
                        }
                        out.next_key_marker = Some(cp.clone());
                        out.next_upload_id_marker = None;
                        out.common_prefixes.push(cp);
                        count += 1;
                        continue;
                    }
                    if count == max {
                        out.is_truncated = true;
                        break;
                    }
                    out.next_key_marker = Some(u.key.clone());
                    out.next_upload_id_marker = Some(u.upload_id.clone());
                    out.uploads.push(u);
                    count += 1;
                }
                Ok(out)
            })
            .await
    }
}

fn multipart_checksum(upload: &UploadRecord, parts: &[&PartRecord]) -> Option<StoredChecksum> {
    let algorithm = upload.checksum_algorithm?;
    let values: Option<Vec<&str>> = parts.iter().map(|p| p.checksum.as_deref()).collect();
    let values = values?;
    let kind = upload.checksum_kind.unwrap_or(if algorithm.is_crc() {
        ChecksumKind::FullObject
    } else {
        ChecksumKind::Composite
    });
    let value = match kind {
        ChecksumKind::FullObject => {
            let with_len: Vec<(&str, u64)> = values
                .iter()
                .copied()
                .zip(parts.iter().map(|p| p.size))
                .collect();
            combine_crc(algorithm, &with_len)?
        }
        ChecksumKind::Composite => composite_checksum(algorithm, &values)?,
    };
    Some(StoredChecksum {
        algorithm,
        value,
        kind,
    })
}

/// A row a commit removes, optionally only if it still holds the value the
/// operation read (otherwise the commit fails with the given error).
pub(crate) struct Consumed {
    pub table: Table,
    pub key: Vec<u8>,
    pub expect: Option<(Vec<u8>, ErrorFn)>,
}

/// Builds the error a failed expectation reports. A function rather than a
/// value because a transaction closure may run more than once.
pub(crate) type ErrorFn = fn() -> EngineError;

impl Consumed {
    fn expect(table: Table, key: Vec<u8>, value: Vec<u8>, otherwise: ErrorFn) -> Self {
        Self {
            table,
            key,
            expect: Some((value, otherwise)),
        }
    }

    fn delete(table: Table, key: Vec<u8>) -> Self {
        Self {
            table,
            key,
            expect: None,
        }
    }
}
