//! Bucket names and object keys, validated as AWS S3 does.

use std::fmt;

/// Object keys are at most 1024 bytes of UTF-8 (AWS S3 limit).
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(&'static str),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("The key must not be empty")]
    EmptyKey,
    /// NUL cannot be carried in S3's XML responses, and the metadata key
    /// layout uses it as a separator.
    #[error("Object keys must not contain the NUL character")]
    NulInKey,
}

/// A bucket name that satisfies AWS's general-purpose bucket naming rules:
/// 3-63 characters of lowercase letters, digits, dots and hyphens, starting and
/// ending with a letter or digit, no two adjacent dots, not shaped like an IPv4
/// address, and none of the reserved prefixes and suffixes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketName(String);

impl BucketName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        use NameError::InvalidBucketName as E;
        let len = name.len();
        if !(3..=63).contains(&len) {
            return Err(E("bucket names must be between 3 and 63 characters long"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(E(
                "bucket names may contain only lowercase letters, digits, dots and hyphens",
            ));
        }
        let first = name.as_bytes()[0];
        let last = name.as_bytes()[len - 1];
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(E("bucket names must begin and end with a letter or digit"));
        }
        if name.contains("..") || name.contains(".-") || name.contains("-.") {
            return Err(E("bucket names must not contain adjacent periods"));
        }
        if looks_like_ipv4(name) {
            return Err(E("bucket names must not be formatted as an IP address"));
        }
        const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
        const RESERVED_SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3"];
        if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
            || RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
        {
            return Err(E("bucket names must not use a reserved prefix or suffix"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn looks_like_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object key: 1 to 1024 bytes of UTF-8. Keys are opaque strings; `../`,
/// `//`, `%` and a trailing `/` are ordinary characters and never touch a
/// file path (the blob store names files by random ids).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: &str) -> Result<Self, NameError> {
        if key.is_empty() {
            return Err(NameError::EmptyKey);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(NameError::KeyTooLong);
        }
        if key.contains('\0') {
            return Err(NameError::NulInKey);
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_aws_rules() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(BucketName::parse(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "UPPER",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "has space",
        ] {
            assert!(BucketName::parse(bad).is_err(), "{bad} should be invalid");
        }
    }

    #[test]
    fn keys_are_limited_to_1024_bytes_not_characters() {
        assert!(ObjectKey::parse(&"a".repeat(1024)).is_ok());
        assert_eq!(
            ObjectKey::parse(&"a".repeat(1025)),
            Err(NameError::KeyTooLong)
        );
        // 342 three-byte characters = 1026 bytes.
        assert_eq!(
            ObjectKey::parse(&"€".repeat(342)),
            Err(NameError::KeyTooLong)
        );
        assert!(ObjectKey::parse("../../etc/passwd").is_ok());
        assert!(ObjectKey::parse("").is_err());
    }
}
