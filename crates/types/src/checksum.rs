//! Content hashing: the MD5 behind every ETag plus the additional checksums
//! S3 clients declare (`x-amz-checksum-*`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

/// The additional checksum algorithms S3 supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The name S3 uses in `x-amz-checksum-algorithm` and `ChecksumAlgorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header that carries a value of this algorithm.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the algorithm is a CRC, whose full-object value can be combined
    /// from part values.
    pub fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }
}

/// An incremental hasher for one checksum algorithm.
pub enum ChecksumHasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChecksumHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Self::Crc(
                algorithm,
                crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            ),
            ChecksumAlgorithm::Crc32c => Self::Crc(
                algorithm,
                crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi),
            ),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc(
                algorithm,
                crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme),
            ),
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(_, d) => d.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    /// The raw digest bytes (big-endian for CRCs, as S3 encodes them).
    pub fn finalize(self) -> Vec<u8> {
        match self {
            Self::Crc(ChecksumAlgorithm::Crc64Nvme, d) => d.finalize().to_be_bytes().to_vec(),
            Self::Crc(_, d) => {
                let v = d.finalize();
                // CRC32 variants fit in 32 bits by construction.
                u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes().to_vec()
            }
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest as S3 transmits it: base64 of the raw bytes.
    pub fn finalize_base64(self) -> String {
        B64.encode(self.finalize())
    }

    /// Checksum of `data` in one call, base64-encoded.
    pub fn digest_base64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = Self::new(algorithm);
        h.update(data);
        h.finalize_base64()
    }
}

fn crc_algorithm(a: ChecksumAlgorithm) -> Option<crc_fast::CrcAlgorithm> {
    match a {
        ChecksumAlgorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// The full-object CRC of a multipart object from its parts' CRCs (base64)
/// and sizes, in part order. `None` for non-CRC algorithms or bad input.
pub fn combine_crc(algorithm: ChecksumAlgorithm, parts: &[(&str, u64)]) -> Option<String> {
    let crc = crc_algorithm(algorithm)?;
    let mut acc: Option<u64> = None;
    for (b64, len) in parts {
        let raw = B64.decode(b64).ok()?;
        let mut buf = [0u8; 8];
        let n = raw.len();
        if n > 8 {
            return None;
        }
        buf[8 - n..].copy_from_slice(&raw);
        let v = u64::from_be_bytes(buf);
        acc = Some(match acc {
            None => v,
            Some(a) => crc_fast::checksum_combine(crc, a, v, *len),
        });
    }
    let v = acc.unwrap_or_else(|| crc_fast::checksum(crc, b""));
    Some(if algorithm == ChecksumAlgorithm::Crc64Nvme {
        B64.encode(v.to_be_bytes())
    } else {
        B64.encode(u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes())
    })
}

/// The COMPOSITE checksum of a multipart object: the checksum of the
/// concatenated raw part checksums, followed by `-N`.
pub fn composite_checksum(algorithm: ChecksumAlgorithm, parts: &[&str]) -> Option<String> {
    let mut h = ChecksumHasher::new(algorithm);
    for p in parts {
        h.update(&B64.decode(p).ok()?);
    }
    Some(format!("{}-{}", h.finalize_base64(), parts.len()))
}

/// Everything computed over an object body while it streams in: byte count,
/// MD5 (the ETag) and optionally one additional checksum.
pub struct ObjectHasher {
    size: u64,
    md5: md5::Md5,
    checksum: Option<ChecksumHasher>,
}

/// What [`ObjectHasher`] produced.
#[derive(Debug, Clone)]
pub struct ObjectDigest {
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

impl ObjectHasher {
    pub fn new(checksum: Option<ChecksumAlgorithm>) -> Self {
        Self {
            size: 0,
            md5: md5::Md5::new(),
            checksum: checksum.map(ChecksumHasher::new),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.md5.update(data);
        if let Some(c) = &mut self.checksum {
            c.update(data);
        }
    }

    pub fn finish(self) -> ObjectDigest {
        let algorithm = self.checksum.as_ref().map(|c| match c {
            ChecksumHasher::Crc(a, _) => *a,
            ChecksumHasher::Sha1(_) => ChecksumAlgorithm::Sha1,
            ChecksumHasher::Sha256(_) => ChecksumAlgorithm::Sha256,
        });
        ObjectDigest {
            size: self.size,
            md5: self.md5.finalize().into(),
            checksum: algorithm.zip(self.checksum.map(ChecksumHasher::finalize_base64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values for "123456789", the standard CRC check input.
    #[test]
    fn crc_check_values() {
        let b = |a| {
            let mut h = ChecksumHasher::new(a);
            h.update(b"123456789");
            hex::encode(h.finalize())
        };
        assert_eq!(b(ChecksumAlgorithm::Crc32), "cbf43926");
        assert_eq!(b(ChecksumAlgorithm::Crc32c), "e3069283");
        assert_eq!(b(ChecksumAlgorithm::Crc64Nvme), "ae8b14860a799888");
    }

    #[test]
    fn combined_crcs_equal_the_crc_of_the_whole() {
        for a in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let p1 = ChecksumHasher::digest_base64(a, b"hello ");
            let p2 = ChecksumHasher::digest_base64(a, b"wide world");
            let whole = ChecksumHasher::digest_base64(a, b"hello wide world");
            assert_eq!(
                combine_crc(a, &[(&p1, 6), (&p2, 10)]).as_deref(),
                Some(whole.as_str()),
                "{a:?}"
            );
        }
        assert_eq!(combine_crc(ChecksumAlgorithm::Sha256, &[]), None);
    }

    #[test]
    fn composite_checksum_hashes_raw_part_checksums() {
        let p1 = ChecksumHasher::digest_base64(ChecksumAlgorithm::Sha256, b"a");
        let p2 = ChecksumHasher::digest_base64(ChecksumAlgorithm::Sha256, b"b");
        let mut raw = B64.decode(&p1).unwrap();
        raw.extend(B64.decode(&p2).unwrap());
        let expected = format!(
            "{}-2",
            ChecksumHasher::digest_base64(ChecksumAlgorithm::Sha256, &raw)
        );
        assert_eq!(
            composite_checksum(ChecksumAlgorithm::Sha256, &[&p1, &p2]),
            Some(expected)
        );
    }

    #[test]
    fn sha_values_are_base64() {
        assert_eq!(
            ChecksumHasher::digest_base64(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            ChecksumHasher::digest_base64(ChecksumAlgorithm::Sha1, b"abc"),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
    }

    #[test]
    fn object_hasher_counts_and_md5s() {
        let mut h = ObjectHasher::new(None);
        h.update(b"hello ");
        h.update(b"world");
        let d = h.finish();
        assert_eq!(d.size, 11);
        assert_eq!(hex::encode(d.md5), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(d.checksum.is_none());
    }
}
