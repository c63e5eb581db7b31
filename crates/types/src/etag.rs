//! Entity tags as S3 computes them.

use md5::Digest as _;
use serde::{Deserialize, Serialize};

/// An S3 ETag without its surrounding quotes: hex MD5 for a single-part
/// object, `hex(md5(concat(part md5s)))-N` for a multipart one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ETag(pub String);

impl ETag {
    pub fn from_md5(md5: &[u8; 16]) -> Self {
        Self(hex::encode(md5))
    }

    /// The quoted form used on the wire.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// Accepts a quoted or unquoted value as clients send it.
    pub fn from_client(s: &str) -> Self {
        Self(s.trim().trim_matches('"').to_owned())
    }

    /// The binary MD5 of a single-part ETag, if it is one.
    pub fn md5_bytes(&self) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(&self.0, &mut out).ok()?;
        Some(out)
    }
}

impl From<&str> for ETag {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// The ETag of a multipart object from its parts' ETags, in part order.
pub fn multipart_etag<'a>(part_md5s: impl IntoIterator<Item = &'a [u8; 16]>) -> ETag {
    let mut h = md5::Md5::new();
    let mut n = 0usize;
    for m in part_md5s {
        h.update(m);
        n += 1;
    }
    ETag(format!("{}-{n}", hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_md5_of_binary_md5s_with_count() {
        let a: [u8; 16] = md5::Md5::digest(b"part one").into();
        let b: [u8; 16] = md5::Md5::digest(b"part two").into();
        let mut cat = Vec::new();
        cat.extend_from_slice(&a);
        cat.extend_from_slice(&b);
        let expected = format!("{}-2", hex::encode(md5::Md5::digest(&cat)));
        assert_eq!(multipart_etag([&a, &b]).0, expected);
    }

    #[test]
    fn client_etags_lose_their_quotes() {
        assert_eq!(ETag::from_client("\"abc\"").0, "abc");
        assert_eq!(ETag::from("abc").quoted(), "\"abc\"");
    }
}
