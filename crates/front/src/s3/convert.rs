//! Conversions between s3s's DTOs and the engine's plain values.

use std::collections::HashMap;

use coffer_engine::{
    ChecksumKind, DeclaredChecksum, Engine, EtagMatch, ObjectHeaders, ObjectRecord, StoredChecksum,
};
use coffer_types::{ChecksumAlgorithm as Algo, Principal};
use s3s::dto::{self, ETag, ETagCondition, Owner, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, S3Request, TrailingHeaders};
use time::OffsetDateTime;

pub fn ts(ms: i64) -> Timestamp {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// An HTTP date, as S3 sends Last-Modified.
pub fn http_date(ms: i64) -> String {
    let mut buf = Vec::new();
    // Formatting a valid timestamp into memory cannot fail.
    let _ = ts(ms).format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub fn ms_of(t: &Timestamp) -> i64 {
    let t: OffsetDateTime = t.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub fn etag(e: &str) -> ETag {
    ETag::Strong(e.to_owned())
}

pub fn etag_match(c: &ETagCondition) -> EtagMatch {
    match c {
        ETagCondition::Any => EtagMatch::Any,
        ETagCondition::ETag(e) => EtagMatch::Tags(vec![e.value().to_owned()]),
    }
}

/// If-Match / If-None-Match as sent, which may list several tags; s3s parses
/// only one, so the raw header is preferred when present.
pub fn etag_match_header<T>(
    req: &S3Request<T>,
    name: &str,
    parsed: Option<&ETagCondition>,
) -> Option<EtagMatch> {
    match req.headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(raw) => Some(EtagMatch::parse(raw)),
        None => parsed.map(etag_match),
    }
}

/// The S3 Owner (canonical id and display name) of an account.
pub async fn owner(engine: &Engine, account_id: &str) -> Result<Owner, S3Error> {
    let a = engine
        .account(account_id)
        .await
        .map_err(crate::errors::to_s3_error)?;
    Ok(Owner {
        display_name: Some(a.name),
        id: Some(a.canonical_id),
    })
}

/// The owner of a bucket's account.
pub async fn bucket_owner(engine: &Engine, bucket: &str) -> Result<Owner, S3Error> {
    let b = engine
        .head_bucket(bucket)
        .await
        .map_err(crate::errors::to_s3_error)?;
    owner(engine, &b.owner).await
}

/// The condition keys the access check derived from the request.
pub fn request_conditions<T>(req: &S3Request<T>) -> Vec<(String, String)> {
    req.extensions
        .get::<crate::access::RequestConditions>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}

pub fn principal<T>(req: &S3Request<T>) -> Principal {
    req.extensions
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous)
}

pub fn object_headers(
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    expires: Option<&Timestamp>,
) -> ObjectHeaders {
    ObjectHeaders {
        content_type,
        cache_control,
        content_disposition,
        // aws-chunked is transfer framing, not a property of the object.
        content_encoding: content_encoding.and_then(|e| {
            let rest: Vec<&str> = e
                .split(',')
                .map(str::trim)
                .filter(|p| !p.eq_ignore_ascii_case("aws-chunked") && !p.is_empty())
                .collect();
            (!rest.is_empty()).then(|| rest.join(", "))
        }),
        content_language,
        expires_ms: expires.map(ms_of),
    }
}

pub fn user_metadata(m: Option<dto::Metadata>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    v.sort();
    v
}

pub fn metadata_map(v: &[(String, String)]) -> Option<dto::Metadata> {
    if v.is_empty() {
        return None;
    }
    Some(v.iter().cloned().collect::<HashMap<_, _>>())
}

pub fn algorithm_of(a: &dto::ChecksumAlgorithm) -> Result<Algo, S3Error> {
    Algo::parse(a.as_str()).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            format!("Checksum algorithm {} is not supported", a.as_str()),
        )
    })
}

pub fn dto_algorithm(a: Algo) -> dto::ChecksumAlgorithm {
    dto::ChecksumAlgorithm::from(a.as_str().to_owned())
}

pub fn checksum_type(k: ChecksumKind) -> dto::ChecksumType {
    dto::ChecksumType::from(
        match k {
            ChecksumKind::FullObject => "FULL_OBJECT",
            ChecksumKind::Composite => "COMPOSITE",
        }
        .to_owned(),
    )
}

/// The checksum a client declared for a body: a value in a header, a value
/// promised in a trailer, or only an algorithm.
pub fn declared_checksum<T>(
    req: &S3Request<T>,
    values: [(Algo, Option<&String>); 5],
    algorithm: Option<&dto::ChecksumAlgorithm>,
) -> Result<DeclaredChecksum, S3Error> {
    let given: Vec<(Algo, &String)> = values
        .iter()
        .filter_map(|(a, v)| v.map(|v| (*a, v)))
        .collect();
    if given.len() > 1 {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    if let Some((a, v)) = given.first() {
        return Ok(DeclaredChecksum::Value(*a, (*v).clone()));
    }
    if let Some(trailer) = req
        .headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
    {
        let name = trailer.trim().to_ascii_lowercase();
        if let Some(a) = Algo::ALL.into_iter().find(|a| a.header_name() == name) {
            let handle: Option<TrailingHeaders> = req.trailing_headers.clone();
            return Ok(DeclaredChecksum::Trailer(
                a,
                Box::new(move || {
                    handle.and_then(|h| {
                        h.read(|m| {
                            m.get(a.header_name())
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        })
                        .flatten()
                    })
                }),
            ));
        }
    }
    match algorithm {
        Some(a) => Ok(DeclaredChecksum::Algorithm(algorithm_of(a)?)),
        None => Ok(DeclaredChecksum::None),
    }
}

/// [`declared_checksum`] for an input with the usual `checksum_*` fields
/// (PutObject, UploadPart).
macro_rules! declared_checksum_of {
    ($req:expr) => {
        declared_checksum(
            &$req,
            [
                (Algo::Crc32, $req.input.checksum_crc32.as_ref()),
                (Algo::Crc32c, $req.input.checksum_crc32c.as_ref()),
                (Algo::Crc64Nvme, $req.input.checksum_crc64nvme.as_ref()),
                (Algo::Sha1, $req.input.checksum_sha1.as_ref()),
                (Algo::Sha256, $req.input.checksum_sha256.as_ref()),
            ],
            $req.input.checksum_algorithm.as_ref(),
        )
    };
}
pub(crate) use declared_checksum_of;

/// Checksum fields of a response, by algorithm.
#[derive(Default)]
pub struct ChecksumFields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub kind: Option<dto::ChecksumType>,
}

pub fn checksum_fields(c: Option<&StoredChecksum>) -> ChecksumFields {
    let mut f = ChecksumFields::default();
    if let Some(c) = c {
        let v = Some(c.value.clone());
        match c.algorithm {
            Algo::Crc32 => f.crc32 = v,
            Algo::Crc32c => f.crc32c = v,
            Algo::Crc64Nvme => f.crc64nvme = v,
            Algo::Sha1 => f.sha1 = v,
            Algo::Sha256 => f.sha256 = v,
        }
        f.kind = Some(checksum_type(c.kind));
    }
    f
}

pub fn part_checksum_fields(algorithm: Option<Algo>, value: Option<&String>) -> ChecksumFields {
    checksum_fields(
        algorithm
            .zip(value)
            .map(|(algorithm, value)| StoredChecksum {
                algorithm,
                value: value.clone(),
                kind: ChecksumKind::FullObject,
            })
            .as_ref(),
    )
}

pub fn storage_class() -> dto::ObjectStorageClass {
    dto::ObjectStorageClass::from_static(dto::ObjectStorageClass::STANDARD)
}

/// `encoding-type=url`: S3 percent-encodes keys and prefixes in listings.
pub const KEY_ENCODE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub fn maybe_encode(s: &str, url: bool) -> String {
    if url {
        percent_encoding::utf8_percent_encode(s, KEY_ENCODE_SET).to_string()
    } else {
        s.to_owned()
    }
}

pub fn wants_url_encoding(e: Option<&dto::EncodingType>) -> Result<bool, S3Error> {
    match e.map(dto::EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// `max-keys`: default and cap 1000; negative is an error.
pub fn max_keys(v: Option<i32>) -> Result<usize, S3Error> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Argument max-keys must be an integer between 0 and 2147483647",
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

pub fn object_entry(key: String, o: &ObjectRecord, owner: Option<Owner>, url: bool) -> dto::Object {
    dto::Object {
        checksum_algorithm: o
            .checksum
            .as_ref()
            .map(|c| vec![dto_algorithm(c.algorithm)]),
        checksum_type: o.checksum.as_ref().map(|c| checksum_type(c.kind)),
        e_tag: Some(etag(&o.etag)),
        key: Some(maybe_encode(&key, url)),
        last_modified: Some(ts(o.last_modified_ms)),
        owner,
        restore_status: None,
        size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
        storage_class: Some(storage_class()),
    }
}

/// `x-amz-tagging`: tags as a URL query string (`k1=v1&k2=v2`).
pub fn tagging_header(v: Option<&str>) -> Result<Option<Vec<(String, String)>>, S3Error> {
    match v {
        None => Ok(None),
        Some(q) => serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .map(Some)
            .map_err(|_| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The x-amz-tagging header is not a valid query string",
                )
            }),
    }
}

/// A TagSet body as (key, value) pairs.
/// The tags of a Tagging body. Characters XML 1.0 forbids make the body
/// malformed, as on S3 (s3s's parser lets them through).
pub fn tag_pairs(set: Vec<dto::Tag>) -> Result<Vec<(String, String)>, S3Error> {
    let tags: Vec<(String, String)> = set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    if tags.iter().any(|(k, v)| !is_xml_text(k) || !is_xml_text(v)) {
        return Err(malformed_xml());
    }
    Ok(tags)
}

/// Whether every character of `s` may appear in an XML 1.0 document
/// (the `Char` production: tab, newline, carriage return, and everything
/// from U+0020 up except U+FFFE and U+FFFF; Rust strings hold no
/// surrogates).
pub fn is_xml_text(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    })
}

pub fn malformed_xml() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub fn tag_set(tags: &[(String, String)]) -> Vec<dto::Tag> {
    tags.iter()
        .map(|(k, v)| dto::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}
