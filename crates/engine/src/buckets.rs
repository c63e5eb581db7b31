//! Bucket lifecycle: create, look up, list, delete.

use coffer_meta::records::{
    BucketEncryption, BucketRecord, PartRecord, SseMode, UploadRecord, Versioning, decode, encode,
};
use coffer_meta::{MetaError, Table, keys};
use coffer_types::{BucketName, Principal};

use crate::{Engine, EngineError, now_ms};

impl Engine {
    /// Buckets owned by the caller's account, in name order.
    pub async fn list_buckets(
        &self,
        principal: &Principal,
    ) -> Result<Vec<BucketRecord>, EngineError> {
        let Some(account) = principal.account.clone() else {
            return Ok(Vec::new());
        };
        self.meta()
            .read(move |tx| -> Result<_, MetaError> {
                let mut out = Vec::new();
                let mut start = Vec::new();
                loop {
                    let batch = tx.range(Table::Buckets, &start, None, 1000)?;
                    let Some((last, _)) = batch.last() else { break };
                    start = last.clone();
                    start.push(0);
                    for (_, v) in batch {
                        let b: BucketRecord = decode(&v)?;
                        if b.owner == account.0 {
                            out.push(b);
                        }
                    }
                }
                Ok(out)
            })
            .await
            .map_err(EngineError::from)
    }

    /// Creates a bucket owned by the caller's account. `location` is the
    /// LocationConstraint; it must name this server's region when given.
    pub async fn create_bucket(
        &self,
        principal: &Principal,
        name: &str,
        location: Option<&str>,
    ) -> Result<BucketRecord, EngineError> {
        let name = BucketName::parse(name)?;
        let account = principal.account.clone().ok_or_else(|| {
            EngineError::AccessDenied("Anonymous users cannot create buckets".into())
        })?;
        let region = match location {
            None | Some("") => self.region().to_owned(),
            Some(l) if l == self.region() => l.to_owned(),
            // us-east-1 is the one region AWS lets clients name either way.
            Some("us-east-1") if self.region() == "us-east-1" => "us-east-1".to_owned(),
            Some(l) => {
                return Err(EngineError::InvalidLocationConstraint(format!(
                    "The specified location-constraint {l} is not valid for this endpoint (region {})",
                    self.region()
                )));
            }
        };
        let record = BucketRecord {
            name: name.as_str().to_owned(),
            owner: account.0,
            created_ms: now_ms(),
            region,
            policy: None,
            versioning: None,
            encryption: None,
            acl: None,
            ownership: None,
            public_access_block: None,
        };
        let rec = record;
        self.meta()
            .write(move |tx| -> Result<BucketRecord, EngineError> {
                let key = keys::bucket(&rec.name);
                if let Some(v) = tx.get(Table::Buckets, &key)? {
                    let existing: BucketRecord = decode(&v)?;
                    if existing.owner != rec.owner {
                        return Err(EngineError::BucketAlreadyExists);
                    }
                    // S3 keeps a legacy rule in us-east-1: re-creating a
                    // bucket you own succeeds and changes nothing else.
                    if rec.region == "us-east-1" && existing.region == "us-east-1" {
                        return Ok(existing);
                    }
                    return Err(EngineError::BucketAlreadyOwnedByYou);
                }
                tx.put(Table::Buckets, &key, &encode(&rec))?;
                Ok(rec.clone())
            })
            .await
    }

    /// The bucket's record, or NoSuchBucket.
    pub async fn head_bucket(&self, name: &str) -> Result<BucketRecord, EngineError> {
        self.bucket_record(name)
            .await?
            .ok_or(EngineError::NoSuchBucket)
    }

    /// Deletes a bucket that holds no objects. Multipart uploads still in
    /// progress do not keep a general purpose bucket alive in S3: they are
    /// aborted with it, their parts released. The emptiness check and the
    /// delete are one transaction, so a racing PUT either lands first (and
    /// the delete fails) or fails with NoSuchBucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), EngineError> {
        let name = name.to_owned();
        let released = self
            .meta()
            .write(move |tx| -> Result<Vec<String>, EngineError> {
                let key = keys::bucket(&name);
                if tx.get(Table::Buckets, &key)?.is_none() {
                    return Err(EngineError::NoSuchBucket);
                }
                let (start, end) = (keys::bucket_start(&name), keys::bucket_end(&name));
                if !tx.range(Table::Objects, &start, Some(&end), 1)?.is_empty() {
                    return Err(EngineError::BucketNotEmpty);
                }
                let mut released = Vec::new();
                for (ukey, v) in tx.range(Table::Uploads, &start, Some(&end), usize::MAX)? {
                    let upload: UploadRecord = decode(&v)?;
                    let (pstart, pend) = (
                        keys::upload_prefix(&upload.upload_id),
                        keys::upload_prefix_end(&upload.upload_id),
                    );
                    for (pkey, pv) in tx.range(Table::Parts, &pstart, Some(&pend), usize::MAX)? {
                        let part: PartRecord = decode(&pv)?;
                        released.extend(crate::pieces::release(tx, &part.blob)?);
                        tx.delete(Table::Parts, &pkey)?;
                    }
                    tx.delete(Table::Uploads, &ukey)?;
                }
                tx.delete(Table::Buckets, &key)?;
                Ok(released)
            })
            .await?;
        self.delete_blobs(released).await;
        Ok(())
    }
}

impl Engine {
    /// PutBucketVersioning. Once configured, versioning can be suspended but
    /// never turned off.
    pub async fn put_bucket_versioning(
        &self,
        name: &str,
        state: Versioning,
    ) -> Result<(), EngineError> {
        self.update_bucket(name, move |b| {
            b.versioning = Some(state);
            Ok(())
        })
        .await
    }

    /// PutBucketEncryption (`Some`) or DeleteBucketEncryption (`None`, back
    /// to the SSE-S3 default).
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        encryption: Option<BucketEncryption>,
    ) -> Result<(), EngineError> {
        if let Some(e) = &encryption {
            match e.mode {
                SseMode::Customer => {
                    return Err(EngineError::InvalidArgument(
                        "SSE-C cannot be a bucket's default encryption".into(),
                    ));
                }
                // Refuse a key the key store does not have now rather than
                // failing every later PUT.
                SseMode::Kms => {
                    self.keyring().new_key(&crate::SseRequest::Kms {
                        key_id: e.kms_key_id.clone(),
                    })?;
                }
                SseMode::S3 => {}
            }
        }
        self.update_bucket(name, move |b| {
            b.encryption.clone_from(&encryption);
            Ok(())
        })
        .await
    }

    /// Applies `change` to a bucket's record in one transaction.
    pub(crate) async fn update_bucket(
        &self,
        name: &str,
        change: impl Fn(&mut BucketRecord) -> Result<(), EngineError> + Send + 'static,
    ) -> Result<(), EngineError> {
        let name = name.to_owned();
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let key = keys::bucket(&name);
                let mut rec = crate::versions::read_bucket(tx, &name)?;
                change(&mut rec)?;
                tx.put(Table::Buckets, &key, &encode(&rec))?;
                Ok(())
            })
            .await
    }
}
