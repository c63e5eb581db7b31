//! Bucket lifecycle: create, look up, list, delete.

use crate::acl::AclSpec;
use coffer_meta::records::{
    AclGrant, AclPermission, BucketEncryption, BucketRecord, Grantee, ObjectLockConfig,
    ObjectOwnership, PartRecord, PublicAccessBlock, SseMode, UploadRecord, Versioning,
    WebsiteConfig, decode, encode,
};
use coffer_meta::{MetaError, Table, keys};
use coffer_types::{BucketName, Principal};

use crate::{Engine, EngineError, now_ms};

impl Engine {
    /// Every bucket of every account, in name order.
    pub(crate) async fn all_buckets(&self) -> Result<Vec<BucketRecord>, EngineError> {
        self.meta()
            .read(move |tx| -> Result<_, MetaError> {
                tx.range(Table::Buckets, b"", None, usize::MAX)?
                    .iter()
                    .map(|(_, v)| decode(v))
                    .collect()
            })
            .await
            .map_err(EngineError::from)
    }

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
        self.create_bucket_with(principal, name, location, BucketOptions::default())
            .await
    }

    /// [`Self::create_bucket`] with the settings CreateBucket can carry.
    pub async fn create_bucket_with(
        &self,
        principal: &Principal,
        name: &str,
        location: Option<&str>,
        options: BucketOptions,
    ) -> Result<BucketRecord, EngineError> {
        let BucketOptions {
            acl,
            ownership,
            object_lock,
        } = options;
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
        let mut record = BucketRecord {
            name: name.as_str().to_owned(),
            owner: account.0,
            created_ms: now_ms(),
            region,
            policy: None,
            policy_binds_owner: false,
            versioning: None,
            encryption: None,
            acl: None,
            ownership,
            public_access_block: None,
            cors: None,
            foreign_objects: Some(false),
            // Object Lock needs versioning, which then cannot be suspended.
            object_lock: object_lock.then(ObjectLockConfig::default),
            lifecycle: None,
            tags: None,
            website: None,
        };
        if object_lock {
            record.versioning = Some(Versioning::Enabled);
        }
        if let Some(spec) = &acl {
            if !crate::acl::acls_enabled(&record) && !spec.is_owner_only(true) {
                return Err(EngineError::InvalidBucketAclWithObjectOwnership);
            }
            let owner = record.owner.clone();
            record.acl = Some(self.resolve_acl(spec, &record, &owner, true).await?);
        }
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
                    // bucket you own succeeds and only resets its ACL.
                    if rec.region == "us-east-1" && existing.region == "us-east-1" {
                        let mut existing = existing;
                        existing.acl.clone_from(&rec.acl);
                        tx.put(Table::Buckets, &key, &encode(&existing))?;
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
            if b.object_lock.is_some() && state == Versioning::Suspended {
                return Err(EngineError::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
                ));
            }
            b.versioning = Some(state);
            Ok(())
        })
        .await
    }

    /// PutBucketWebsite (`Some`) or DeleteBucketWebsite (`None`). A
    /// configuration needs an index document or a redirect of all requests.
    pub async fn set_bucket_website(
        &self,
        name: &str,
        website: Option<WebsiteConfig>,
    ) -> Result<(), EngineError> {
        if let Some(w) = &website {
            let index_ok = w
                .index_suffix
                .as_deref()
                .is_some_and(|s| !s.is_empty() && !s.contains('/'));
            if !index_ok && w.redirect_host.is_none() {
                return Err(EngineError::InvalidArgument(
                    "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty, and it must not be empty or contain a slash".into(),
                ));
            }
        }
        self.update_bucket(name, move |b| {
            b.website.clone_from(&website);
            Ok(())
        })
        .await
    }

    /// PutBucketTagging (`Some`) or DeleteBucketTagging (`None`). Buckets
    /// take up to 50 tags, with the same key and value rules as objects.
    pub async fn set_bucket_tagging(
        &self,
        name: &str,
        tags: Option<Vec<(String, String)>>,
    ) -> Result<(), EngineError> {
        const MAX_BUCKET_TAGS: usize = 50;
        if let Some(t) = &tags {
            if t.len() > MAX_BUCKET_TAGS {
                return Err(EngineError::InvalidTag(
                    "Bucket tags cannot be greater than 50".into(),
                ));
            }
            crate::objects::check_tag_pairs(t)?;
        }
        let tags = tags.map(|mut t| {
            t.sort();
            t
        });
        self.update_bucket(name, move |b| {
            b.tags.clone_from(&tags);
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

/// What CreateBucket can set besides the name and location.
#[derive(Debug, Clone, Default)]
pub struct BucketOptions {
    /// `x-amz-acl` / `x-amz-grant-*`.
    pub acl: Option<AclSpec>,
    /// `x-amz-object-ownership`.
    pub ownership: Option<ObjectOwnership>,
    /// `x-amz-bucket-object-lock-enabled`.
    pub object_lock: bool,
}

/// A resource's owner and ACL, as GetBucketAcl and GetObjectAcl show them.
#[derive(Debug, Clone)]
pub struct AclView {
    /// The owning account.
    pub owner: crate::AccountRecord,
    pub grants: Vec<AclGrant>,
}

impl Engine {
    /// The grants an ACL of `None` stands for: the owner's full control.
    async fn acl_view(
        &self,
        owner: &str,
        acl: Option<Vec<AclGrant>>,
    ) -> Result<AclView, EngineError> {
        let owner = self.account(owner).await?;
        let grants = acl.unwrap_or_else(|| {
            vec![AclGrant {
                grantee: Grantee::Account(owner.canonical_id.clone()),
                permission: coffer_meta::records::AclPermission::FullControl,
            }]
        });
        Ok(AclView { owner, grants })
    }

    pub async fn get_bucket_acl(&self, bucket: &str) -> Result<AclView, EngineError> {
        let b = self.head_bucket(bucket).await?;
        // With ACLs disabled, reads show the owner's full control alone.
        let enabled = crate::acl::acls_enabled(&b);
        let acl = b.acl.filter(|_| enabled);
        self.acl_view(&b.owner, acl).await
    }

    pub async fn put_bucket_acl(&self, bucket: &str, spec: AclSpec) -> Result<(), EngineError> {
        let b = self.head_bucket(bucket).await?;
        let grants = self.resolve_acl(&spec, &b, &b.owner, false).await?;
        self.update_bucket(bucket, move |rec| {
            rec.acl = Some(grants.clone());
            Ok(())
        })
        .await
    }

    /// PutBucketOwnershipControls (`Some`) / DeleteBucketOwnershipControls.
    pub async fn set_bucket_ownership(
        &self,
        bucket: &str,
        ownership: Option<ObjectOwnership>,
    ) -> Result<(), EngineError> {
        self.update_bucket(bucket, move |rec| {
            // Enforcing ownership disables ACLs; S3 refuses it while the
            // bucket's own ACL grants anyone but the owner.
            if ownership == Some(ObjectOwnership::BucketOwnerEnforced)
                && rec.acl.as_ref().is_some_and(|grants| {
                    grants.len() > 1
                        || grants
                            .iter()
                            .any(|g| g.permission != AclPermission::FullControl)
                })
            {
                return Err(EngineError::InvalidBucketAclWithObjectOwnership);
            }
            rec.ownership = ownership;
            Ok(())
        })
        .await
    }

    /// PutPublicAccessBlock (`Some`) / DeletePublicAccessBlock.
    pub async fn set_public_access_block(
        &self,
        bucket: &str,
        block: Option<PublicAccessBlock>,
    ) -> Result<(), EngineError> {
        self.update_bucket(bucket, move |rec| {
            rec.public_access_block = block;
            Ok(())
        })
        .await
    }

    pub async fn get_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<AclView, EngineError> {
        let v = self.get_object_version(bucket, key, version_id).await?;
        let b = self.head_bucket(bucket).await?;
        if !crate::acl::acls_enabled(&b) {
            return self.acl_view(&b.owner, None).await;
        }
        let owner = v.record.owner.unwrap_or(b.owner);
        self.acl_view(&owner, v.record.acl).await
    }

    pub async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        spec: AclSpec,
    ) -> Result<(), EngineError> {
        let b = self.head_bucket(bucket).await?;
        let current = self.get_object_version(bucket, key, version_id).await?;
        let owner = current
            .record
            .owner
            .clone()
            .unwrap_or_else(|| b.owner.clone());
        let grants = self.resolve_acl(&spec, &b, &owner, false).await?;
        let stamp = current.record.stamp;
        let (bk, k) = (bucket.to_owned(), key.to_owned());
        let v = version_id.map(str::to_owned);
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let mut record = crate::versions::lookup(tx, &bk, &k, v.as_deref())?
                    .filter(|r| r.stamp == stamp && !r.delete_marker)
                    .ok_or(EngineError::NoSuchKey)?;
                record.acl = Some(grants.clone());
                Ok(crate::versions::update(tx, &bk, &k, &record)?)
            })
            .await
    }
}
