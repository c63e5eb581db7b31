//! Coffer's vocabulary: the small value types every layer speaks.
//!
//! Nothing here does I/O. Each type validates on construction, so a value of
//! the type is proof that the rule holds (a `BucketName` follows AWS's naming
//! rules, an `ObjectKey` is at most 1024 bytes of UTF-8).

mod checksum;
mod etag;
mod names;
mod principal;

pub use checksum::{
    ChecksumAlgorithm, ChecksumHasher, ObjectDigest, ObjectHasher, combine_crc, composite_checksum,
};
pub use etag::{ETag, multipart_etag};
pub use names::{BucketName, MAX_KEY_BYTES, NameError, ObjectKey};
pub use principal::{AccountId, Principal, PrincipalKind, Session};
