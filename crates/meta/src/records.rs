//! Typed metadata records and their versioned encoding.
//!
//! Every stored value starts with a one-byte format version followed by the
//! JSON body of that version. Decoding dispatches on the version, so a newer
//! build reads values written by an older one and a format change never
//! needs a big-bang migration.

use coffer_types::ChecksumAlgorithm;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::MetaError;

/// The current encoding version of every record type.
pub const RECORD_V1: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_writer(&mut out, value).unwrap_or_default();
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MetaError> {
    match bytes.split_first() {
        Some((&RECORD_V1, body)) => {
            serde_json::from_slice(body).map_err(|e| MetaError::Corrupt(e.to_string()))
        }
        Some((v, _)) => Err(MetaError::Corrupt(format!("unknown record version {v}"))),
        None => Err(MetaError::Corrupt("empty record".into())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    /// Owning account id.
    pub owner: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The LocationConstraint the bucket was created with (its region).
    pub region: String,
    /// The bucket policy document, as the owner put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The policy was put with `x-amz-confirm-remove-self-bucket-access`:
    /// its Deny statements bind the owner's root too, even for the policy
    /// actions (which the owner's root may otherwise always use).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub policy_binds_owner: bool,
    /// `None` until versioning is first configured; it can then only be
    /// suspended, never turned off again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// Default encryption; `None` means SSE-S3, S3's default since 2023.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    /// The bucket's ACL; `None` is the owner's full control alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<ObjectOwnership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// Whether an object here may be owned by another account (one wrote
    /// it while ACLs were enabled). `None` on buckets made before this was
    /// recorded: unknown, so assumed. Authorization reads an object's owner
    /// only when this may be so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_objects: Option<bool>,
    /// Set when the bucket was created with Object Lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// Bucket tags (PutBucketTagging), in key order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<(String, String)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<WebsiteConfig>,
}

/// A bucket's versioning state once it has been configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
}

/// A reference to one contiguous piece of an object's data: a blob file, or
/// for small pieces a row of `Table::Inline` committed in the same
/// transaction as the record that references it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub id: String,
    pub size: u64,
    /// Set when the piece is stored inline: the CRC32C of its bytes,
    /// verified whenever it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_crc32c: Option<u32>,
    /// Set when the piece is encrypted: the hex AES-CTR initial counter
    /// block it was encrypted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// How an object's data is encrypted at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseMode {
    /// SSE-C: with a key the client sends on every request.
    Customer,
    /// SSE-S3: with a key the server manages.
    S3,
    /// SSE-KMS: with a key of the key store, named by id.
    Kms,
}

/// The encryption of an object version or multipart upload. Its data key is
/// never stored in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSse {
    pub mode: SseMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// SSE-C: the base64 MD5 of the customer's key, which S3 echoes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_md5: Option<String>,
    /// SSE-C: hex `salt:HMAC-SHA256(salt, key)`, to recognise the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_hmac: Option<String>,
    /// SSE-S3 and SSE-KMS: the data key, sealed under the server or KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<String>,
}

/// Who an ACL grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// An account, by its canonical user id.
    Account(String),
    /// Everyone, anonymous requests included.
    AllUsers,
    /// Every signed request, from any account.
    AuthenticatedUsers,
    LogDelivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclPermission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclGrant {
    pub grantee: Grantee,
    pub permission: AclPermission,
}

/// S3 Object Ownership (PutBucketOwnershipControls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
}

/// A bucket's public access block (PutPublicAccessBlock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// S3 Object Lock retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    /// Privileged users may shorten or lift it (x-amz-bypass-governance-retention).
    Governance,
    /// Nobody may shorten or lift it until it ends.
    Compliance,
}

/// A version's retention: locked in `mode` until `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: LockMode,
    pub until_ms: i64,
}

/// A bucket's default retention for new versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
}

/// Object Lock, enabled when a bucket is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// Which objects a lifecycle rule applies to: all conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleFilter {
    #[serde(default)]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<i64>,
    /// Whether the rule used the deprecated top-level `Prefix` element (so
    /// GetBucketLifecycleConfiguration shows it the same way).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_prefix: bool,
}

/// One lifecycle rule (PutBucketLifecycleConfiguration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub filter: LifecycleFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i32>,
    /// Midnight UTC, milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_object_delete_marker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_days: Option<i32>,
}

/// A bucket's static website configuration (PutBucketWebsite).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebsiteConfig {
    /// Served for requests of a "directory" (`/` or a key ending in `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_suffix: Option<String>,
    /// The object served (with the error status) when a request fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_key: Option<String>,
    /// Redirect every request to this host (and protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_protocol: Option<String>,
}

/// One rule of a bucket's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// A bucket's default encryption (PutBucketEncryption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `S3` or `Kms`; SSE-C cannot be a default.
    pub mode: SseMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

impl BlobRef {
    pub fn is_inline(&self) -> bool {
        self.inline_crc32c.is_some()
    }
}

/// One part of a multipart object, kept so that `partNumber=` reads and part
/// checksums work after completion. Part `i` is stored in `blobs[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// A stored checksum of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64 value, with `-N` for composite multipart checksums.
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: ChecksumKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumKind {
    FullObject,
    Composite,
}

/// Standard HTTP headers S3 stores with an object and returns on reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// The Expires header, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// One version of an object, or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// `null` for versions written while versioning was off or suspended.
    pub version_id: String,
    /// Orders the versions of one key: newer versions have larger stamps.
    /// Records written before versioning existed have 0.
    #[serde(default)]
    pub stamp: u64,
    /// A delete marker has no data; it hides older versions from reads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    pub size: u64,
    /// Unquoted ETag.
    pub etag: String,
    pub last_modified_ms: i64,
    pub headers: ObjectHeaders,
    /// `x-amz-meta-*` user metadata, names lowercased without the prefix.
    pub user_metadata: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<StoredChecksum>,
    /// The object's data, in order. One entry for a single-part object.
    pub blobs: Vec<BlobRef>,
    /// Set for objects made by CompleteMultipartUpload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ObjectPart>,
    /// Object tags (key, value), at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The multipart upload that made this object, so that a repeated
    /// CompleteMultipartUpload succeeds as it does on S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<StoredSse>,
    /// The account that wrote the object, when not the bucket owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The object's ACL; `None` is its owner's full control alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
    /// Object Lock retention of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
}

impl ObjectRecord {
    /// The blob files this record references (inline pieces have none).
    pub fn blob_file_ids(&self) -> impl Iterator<Item = &str> {
        self.blobs
            .iter()
            .filter(|b| !b.is_inline())
            .map(|b| b.id.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub headers: ObjectHeaders,
    pub user_metadata: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_kind: Option<ChecksumKind>,
    /// Tags the completed object will carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The encryption every part (and the completed object) gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<StoredSse>,
    /// The writer and ACL the completed object gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
    /// Object Lock settings the completed object gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: i64,
    pub blob: BlobRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// The root account and, later, further accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// 12-digit account id.
    pub id: String,
    /// 64-hex-digit canonical user id: the S3 Owner ID.
    pub canonical_id: String,
    pub name: String,
}

/// An access key: the root user's of an account, or an IAM user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    /// The IAM user the key belongs to; `None` for the account's root user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub active: bool,
    pub created_ms: i64,
    /// When the key last signed a request, and for which service (recorded
    /// at most once a minute per key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_service: Option<String>,
}

/// An IAM user and everything attached to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub path: String,
    /// `AIDA...`: stable across renames, the `aws:userid` of the user.
    pub user_id: String,
    pub created_ms: i64,
    /// Inline policies by name, as documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<(String, String)>,
    /// The user's access key ids (at most two).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Names of the groups the user belongs to; each group lists the user
    /// in [`GroupRecord::members`], kept in the same transaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// ARNs of the managed policies attached to the user; each policy lists
    /// the user in [`ManagedPolicyRecord::attached_users`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<String>,
}

/// An IAM group: its members, inline policies and attached managed policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub path: String,
    /// `AGPA...`: stable id of the group.
    pub group_id: String,
    pub created_ms: i64,
    /// Member user names, as the users spell them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Inline policies by name, as documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<(String, String)>,
    /// ARNs of the managed policies attached to the group; each policy lists
    /// the group in [`ManagedPolicyRecord::attached_groups`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<String>,
}

/// An IAM role: who may assume it (its trust policy) and what its sessions
/// may do (inline and attached managed policies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub name: String,
    pub path: String,
    /// `AROA...`: stable id of the role; part of each session's `aws:userid`.
    pub role_id: String,
    pub created_ms: i64,
    /// The trust policy (AssumeRolePolicyDocument), as given.
    pub trust_policy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The longest session AssumeRole may grant, in seconds (3600 to 43200).
    pub max_session_duration: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<(String, String)>,
    /// ARNs of the managed policies attached to the role; each policy lists
    /// the role in [`ManagedPolicyRecord::attached_roles`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// When a session of the role last made a request (at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<i64>,
}

impl RoleRecord {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.name)
    }
}

/// One version of a managed policy's document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersionRecord {
    /// `v1`, `v2`, ...: never reused within a policy.
    pub version_id: String,
    pub document: String,
    pub created_ms: i64,
}

/// A customer-managed policy with its versions and the entities it is
/// attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicyRecord {
    pub name: String,
    pub path: String,
    /// `ANPA...`: stable id of the policy.
    pub policy_id: String,
    pub created_ms: i64,
    /// When the default version last changed.
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The version that is in force.
    pub default_version: String,
    /// Oldest first; always contains `default_version`.
    pub versions: Vec<PolicyVersionRecord>,
    /// The number of the next version to create.
    pub next_version: u32,
    /// Users the policy is attached to; the attachment count is the sum of
    /// both lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_roles: Vec<String>,
    /// An AWS-managed policy (`arn:aws:iam::aws:policy/...`): the record
    /// then only keeps one account's attachments of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aws_managed: bool,
}

impl ManagedPolicyRecord {
    pub fn arn(&self, account: &str) -> String {
        let account = if self.aws_managed { "aws" } else { account };
        format!("arn:aws:iam::{account}:policy{}{}", self.path, self.name)
    }

    pub fn attachment_count(&self) -> usize {
        self.attached_users.len() + self.attached_groups.len() + self.attached_roles.len()
    }

    /// The document of the default version.
    pub fn default_document(&self) -> Option<&str> {
        self.version(&self.default_version)
            .map(|v| v.document.as_str())
    }

    pub fn version(&self, id: &str) -> Option<&PolicyVersionRecord> {
        self.versions.iter().find(|v| v.version_id == id)
    }
}

/// Who references a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobOwner {
    Object { bucket: String, key: String },
    Part { upload_id: String, number: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_version_marker() {
        let b = BucketRecord {
            name: "b".into(),
            owner: "123456789012".into(),
            created_ms: 5,
            region: "us-east-1".into(),
            policy: None,
            policy_binds_owner: false,
            versioning: None,
            encryption: None,
            acl: None,
            ownership: None,
            public_access_block: None,
            cors: None,
            foreign_objects: Some(false),
            object_lock: None,
            lifecycle: None,
            tags: None,
            website: None,
        };
        let enc = encode(&b);
        assert_eq!(enc[0], RECORD_V1);
        assert_eq!(decode::<BucketRecord>(&enc).ok(), Some(b));
    }

    #[test]
    fn users_stored_before_groups_existed_still_decode() {
        let old = br#"{"name":"a","path":"/","user_id":"AIDA1","created_ms":1}"#;
        let mut enc = vec![RECORD_V1];
        enc.extend_from_slice(old);
        let u: UserRecord = decode(&enc).unwrap();
        assert_eq!(u.name, "a");
        assert!(u.groups.is_empty() && u.attached.is_empty());
    }

    #[test]
    fn unknown_versions_are_refused_not_misread() {
        let mut enc = encode(&1u32);
        enc[0] = 99;
        assert!(matches!(decode::<u32>(&enc), Err(MetaError::Corrupt(_))));
        assert!(decode::<u32>(&[]).is_err());
    }
}
