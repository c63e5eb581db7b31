//! Coffer's use cases: what each S3 operation means, over a [`MetaStore`] and
//! a [`BlobStore`]. Nothing here knows about HTTP or signatures; the front end
//! hands in an authenticated [`Principal`] and plain values.
//!
//! Invariants kept here:
//! - Data first, metadata second: a blob is durable before the transaction
//!   that references it commits, so a 200 means the bytes are on disk.
//! - Every blob referenced by a record has a row in `Table::Blobs` naming its
//!   owner, written in the same transaction; a blob without one is garbage.
//! - Blobs replaced or deleted by a transaction are removed after it commits;
//!   if the process dies first, the start-up sweep removes them.

mod acl;
mod auth;
mod aws_policies;
pub use auth::AccessRequest;
mod buckets;
mod conditions;
pub mod cors;
mod entities;
mod error;
mod gc;
mod groups;
mod identity;
pub mod lifecycle;
mod list;
mod lock;
mod managed_policies;
mod multipart;
mod objects;
mod pieces;
mod readers;
mod roles;
pub mod scrub;
mod secrets;
mod simulate;
mod sse;
mod sts;
mod user_admin;
mod versions;

use std::sync::Arc;
use std::time::SystemTime;

use coffer_blob::BlobStore;
use coffer_meta::MetaStore;

pub use conditions::{CopySourceConditions, EtagMatch, ReadConditions};
pub use error::EngineError;
pub use groups::{MAX_GROUPS_PER_USER, Page};
pub use identity::MAX_ACCESS_KEYS_PER_USER;
pub use list::{
    ListPage, ListParams, VersionEntry, VersionListParams, VersionPage, list_page,
    list_versions_page,
};
pub use managed_policies::{
    MAX_ATTACHED_POLICIES, MAX_POLICY_VERSIONS, PolicyEntities, PolicyScope,
};
pub use multipart::{
    CompletedPart, CopyKeys, PartListing, UploadListParams, UploadListing, UploadOptions,
};
pub use objects::{
    BodyStream, ByteRange, DataStream, DeclaredChecksum, MetadataDirective, PutParams, ReadPlan,
};
pub use roles::NewRole;
pub use sts::{AssumedRole, SessionGrant, TemporaryCredentials, is_temporary_key};
pub use versions::{Deleted, NULL_VERSION, Versioned};

pub use coffer_meta::records::WebsiteConfig;
pub use coffer_meta::records::{
    AccessKeyRecord, AccountRecord, AclGrant, AclPermission, BucketEncryption, BucketRecord,
    ChecksumKind, CorsRule, DefaultRetention, Grantee, GroupRecord, LifecycleFilter, LifecycleRule,
    LockMode, ManagedPolicyRecord, ObjectHeaders, ObjectLockConfig, ObjectOwnership, ObjectPart,
    ObjectRecord, PartRecord, PolicyVersionRecord, PublicAccessBlock, Retention, RoleRecord,
    SseMode, StoredChecksum, StoredSse, UploadRecord, UserRecord, Versioning,
};

pub use acl::{ALL_USERS_URI, AUTHENTICATED_USERS_URI, AclSpec, GranteeSpec, LOG_DELIVERY_URI};
pub use buckets::{AclView, BucketOptions};
pub use pieces::INLINE_MAX_SIZE;
pub use secrets::MasterKey;
pub use simulate::{MatchedPolicyStatement, SimulationResult};
pub use sse::{CustomerKey, DEFAULT_KMS_KEY, DataKey, SseRequest};

/// How many times a read starts over when writes keep replacing the version
/// it looked up before it could open the data ([`EngineError::Superseded`]).
pub const READ_ATTEMPTS: usize = 8;

/// AWS limits, named where they are enforced.
pub mod limits {
    /// The largest object a single PUT (or a single part) may carry: 5 GiB.
    pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
    /// Every part but the last must be at least 5 MiB.
    pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
    /// Part numbers run from 1 to 10,000.
    pub const MAX_PART_NUMBER: u32 = 10_000;
    /// Listing pages hold at most 1000 entries.
    pub const MAX_KEYS: usize = 1000;
}

/// The engine: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    meta: MetaStore,
    blobs: BlobStore,
    region: String,
    root: AccountRecord,
    master_key: Option<MasterKey>,
    keyring: sse::Keyring,
    last_used: user_admin::LastUsed,
    lifecycle_day: std::time::Duration,
    sts_min_duration: u32,
    readers: readers::Readers,
}

/// How the engine is set up.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub region: String,
    /// Seals stored secrets and the server's encryption keys.
    pub master_key: Option<MasterKey>,
    /// The key ids of the local KMS key store (`aws/s3` always exists).
    pub kms_key_ids: Vec<String>,
    /// How long a lifecycle "day" lasts (`None`: a real day); shorter for
    /// tests.
    pub lifecycle_day: Option<std::time::Duration>,
    /// The shortest session STS grants, in seconds (`None`: AWS's 900);
    /// shorter for tests of expiry.
    pub sts_min_duration: Option<u32>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Engine {
    /// Opens the engine: ensures the root account exists and starts the
    /// background sweep of blobs left unreferenced by a previous process.
    pub async fn open(
        meta: MetaStore,
        blobs: BlobStore,
        region: String,
    ) -> Result<Self, EngineError> {
        Self::open_with_master_key(meta, blobs, region, None).await
    }

    /// [`Self::open`] with a master key that seals stored secret access keys.
    pub async fn open_with_master_key(
        meta: MetaStore,
        blobs: BlobStore,
        region: String,
        master_key: Option<MasterKey>,
    ) -> Result<Self, EngineError> {
        let options = EngineOptions {
            region,
            master_key,
            ..EngineOptions::default()
        };
        Self::open_with(meta, blobs, options).await
    }

    /// Opens the engine with every option.
    pub async fn open_with(
        meta: MetaStore,
        blobs: BlobStore,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let started = SystemTime::now();
        let root = auth::ensure_root_account(&meta).await?;
        let keyring =
            sse::Keyring::load(&meta, options.master_key.as_ref(), &options.kms_key_ids).await?;
        let engine = Self {
            inner: Arc::new(Inner {
                meta,
                blobs,
                region: options.region,
                root,
                master_key: options.master_key,
                keyring,
                last_used: user_admin::LastUsed::default(),
                lifecycle_day: options.lifecycle_day.unwrap_or(lifecycle::REAL_DAY),
                sts_min_duration: options
                    .sts_min_duration
                    .unwrap_or(sts::MIN_DURATION_SECONDS),
                readers: readers::Readers::default(),
            }),
        };
        engine.spawn_lifecycle_worker();
        let sweeper = engine.clone();
        tokio::spawn(async move {
            match sweeper.collect_orphans(started).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "collected orphaned blobs"),
                Err(e) => tracing::warn!(error = %e, "orphan collection failed"),
            }
        });
        Ok(engine)
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The first account, whose root administers the server.
    pub fn root_account(&self) -> &AccountRecord {
        &self.inner.root
    }

    fn last_used(&self) -> &user_admin::LastUsed {
        &self.inner.last_used
    }

    fn master_key(&self) -> Option<&MasterKey> {
        self.inner.master_key.as_ref()
    }

    fn lifecycle_day(&self) -> std::time::Duration {
        self.inner.lifecycle_day
    }

    fn sts_min_duration(&self) -> u32 {
        self.inner.sts_min_duration
    }

    fn keyring(&self) -> &sse::Keyring {
        &self.inner.keyring
    }

    fn meta(&self) -> &MetaStore {
        &self.inner.meta
    }

    fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    fn readers(&self) -> &readers::Readers {
        &self.inner.readers
    }

    /// Removes blobs after the transaction that dropped them committed;
    /// those that reads in flight hold are removed when the last one ends.
    async fn delete_blobs(&self, ids: Vec<String>) {
        for id in self.readers().take_unpinned(ids) {
            if let Err(e) = self.blobs().delete(&id).await {
                // The start-up sweep will find it again.
                tracing::warn!(blob = %id, error = %e, "could not delete replaced blob");
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_groups;
#[cfg(test)]
mod tests_versions;
