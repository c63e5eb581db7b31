//! Signing requests the way AWS clients do: Signature Version 4 (header,
//! presigned URL, aws-chunked chunk signatures) and Signature Version 2.
//!
//! The server verifies signatures through s3s; this crate is the client
//! side, for Coffer's own tools and for tests that need requests no stock
//! client sends (tampered chunks, skewed clocks). Its unit tests reproduce
//! the examples AWS publishes in the S3 API reference ("Signature
//! Calculations for the Authorization Header", "Authenticating Requests:
//! Using Query Parameters", "Signature Calculations ... Chunked Upload") and
//! in the SigV4 test suite, and the SigV2 example from "Signing and
//! Authenticating REST Requests".

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// SHA-256 of the empty string, the payload hash of bodiless requests.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

/// SigV4's UriEncode: everything but unreserved characters is percent-encoded.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const SIGV4_ENCODE_PATH: &AsciiSet = &SIGV4_ENCODE.remove(b'/');

/// UriEncode as the SigV4 specification defines it; `/` is kept in paths.
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let set = if encode_slash {
        SIGV4_ENCODE
    } else {
        SIGV4_ENCODE_PATH
    };
    utf8_percent_encode(s, set).to_string()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Who signs, for what scope, at what time.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`
    pub amz_date: &'a str,
}

/// A request to sign: the path is given unencoded and encoded here once
/// (S3 does not double-encode); headers are `(name, value)` pairs, all signed.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub payload_hash: &'a str,
}

impl Signer<'_> {
    pub fn date(&self) -> &str {
        &self.amz_date[..8.min(self.amz_date.len())]
    }

    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }

    pub fn signing_key(&self) -> [u8; 32] {
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_key).as_bytes(),
            self.date().as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, self.service.as_bytes());
        hmac_sha256(&k_service, b"aws4_request")
    }

    pub fn string_to_sign(&self, canonical_request: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope(),
            sha256_hex(canonical_request.as_bytes())
        )
    }

    pub fn signature(&self, canonical_request: &str) -> String {
        hex::encode(hmac_sha256(
            &self.signing_key(),
            self.string_to_sign(canonical_request).as_bytes(),
        ))
    }

    /// The Authorization header value for `req`.
    pub fn authorization(&self, req: &Request<'_>) -> String {
        let (canonical, signed) = canonical_request(req);
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={signed},Signature={}",
            self.access_key,
            self.scope(),
            self.signature(&canonical)
        )
    }

    /// Query parameters of a presigned URL valid for `expires_secs`. The
    /// request's headers (at least `host`) are signed; the payload is
    /// `UNSIGNED-PAYLOAD`.
    pub fn presign(&self, req: &Request<'_>, expires_secs: u64) -> Vec<(String, String)> {
        let mut names: Vec<String> = req
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        names.sort();
        let mut query = req.query.clone();
        query.extend([
            ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            (
                "X-Amz-Credential".to_owned(),
                format!("{}/{}", self.access_key, self.scope()),
            ),
            ("X-Amz-Date".to_owned(), self.amz_date.to_owned()),
            ("X-Amz-Expires".to_owned(), expires_secs.to_string()),
            ("X-Amz-SignedHeaders".to_owned(), names.join(";")),
        ]);
        let to_sign = Request {
            query: query.clone(),
            payload_hash: UNSIGNED_PAYLOAD,
            ..req.clone()
        };
        let (canonical, _) = canonical_request(&to_sign);
        query.push(("X-Amz-Signature".to_owned(), self.signature(&canonical)));
        query
    }

    /// The signature of one aws-chunked chunk, chained from the previous
    /// chunk's (the seed signature for the first).
    pub fn chunk_signature(&self, previous: &str, chunk: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope(),
            sha256_hex(chunk)
        );
        hex::encode(hmac_sha256(&self.signing_key(), sts.as_bytes()))
    }
}

impl Signer<'_> {
    /// The signature of the trailing headers of an aws-chunked body, chained
    /// from the final (empty) chunk's signature. `trailers` are `name:value`
    /// lines, each ending in `\n`, as they are sent.
    pub fn trailer_signature(&self, previous: &str, trailers: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            self.amz_date,
            self.scope(),
            sha256_hex(trailers.as_bytes())
        );
        hex::encode(hmac_sha256(&self.signing_key(), sts.as_bytes()))
    }
}

/// The canonical request and the signed-headers list.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{signed}\n{}",
        req.method,
        uri_encode(req.path, false),
        req.payload_hash
    );
    (canonical, signed)
}

/// A SigV2 signature: base64 of HMAC-SHA1 over the string to sign.
pub fn sign_v2(secret_key: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret_key.as_bytes())
        .unwrap_or_else(|_| unreachable!());
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn s3_signer() -> Signer<'static> {
        Signer {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: S3_SECRET,
            region: "us-east-1",
            service: "s3",
            amz_date: "20130524T000000Z",
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// S3 API reference, single-chunk example "GET Object".
    #[test]
    fn aws_example_get_object_with_range() {
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: vec![],
            headers: h(&[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ]),
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(
            s3_signer().authorization(&req),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// S3 API reference, single-chunk example "PUT Object": the `$` in the
    /// key is encoded once.
    #[test]
    fn aws_example_put_object() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let req = Request {
            method: "PUT",
            path: "/test$file.text",
            query: vec![],
            headers: h(&[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", &payload),
            ]),
            payload_hash: &payload,
        };
        assert!(s3_signer().authorization(&req).ends_with(
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ));
    }

    /// S3 API reference, single-chunk example "GET Bucket (List Objects)".
    #[test]
    fn aws_example_list_objects() {
        let req = Request {
            method: "GET",
            path: "/",
            query: vec![
                ("max-keys".into(), "2".into()),
                ("prefix".into(), "J".into()),
            ],
            headers: h(&[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", EMPTY_SHA256),
            ]),
            payload_hash: EMPTY_SHA256,
        };
        assert!(s3_signer().authorization(&req).ends_with(
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ));
    }

    /// S3 API reference, "Authenticating Requests: Using Query Parameters".
    #[test]
    fn aws_example_presigned_get() {
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: vec![],
            headers: h(&[("Host", "examplebucket.s3.amazonaws.com")]),
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let q = s3_signer().presign(&req, 86400);
        let sig = q
            .iter()
            .find(|(k, _)| k == "X-Amz-Signature")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            sig,
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
    }

    /// S3 API reference, chunked upload example: seed and first chunk.
    #[test]
    fn aws_example_chunked_upload_signatures() {
        let req = Request {
            method: "PUT",
            path: "/examplebucket/chunkObject.txt",
            query: vec![],
            headers: h(&[
                ("Host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", STREAMING_PAYLOAD),
                ("Content-Encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("Content-Length", "66824"),
            ]),
            payload_hash: STREAMING_PAYLOAD,
        };
        let s = s3_signer();
        let seed = s.authorization(&req);
        let seed = seed.rsplit('=').next().unwrap_or_default().to_owned();
        assert_eq!(
            seed,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let first = s.chunk_signature(&seed, &[b'a'; 65536]);
        assert_eq!(
            first,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
    }

    /// The SigV4 test suite's `get-vanilla` (service "service").
    #[test]
    fn aws_test_suite_get_vanilla() {
        let signer = Signer {
            access_key: "AKIDEXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "service",
            amz_date: "20150830T123600Z",
        };
        let req = Request {
            method: "GET",
            path: "/",
            query: vec![],
            headers: h(&[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
            ]),
            payload_hash: EMPTY_SHA256,
        };
        assert!(signer.authorization(&req).ends_with(
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ));
    }

    /// "Signing and Authenticating REST Requests" (SigV2), the GET example.
    #[test]
    fn aws_example_sigv2_get_object() {
        let sts = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg";
        assert_eq!(sign_v2(S3_SECRET, sts), "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved() {
        assert_eq!(uri_encode("a b/ü~$", false), "a%20b/%C3%BC~%24");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
    }
}
