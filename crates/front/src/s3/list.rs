//! ListObjects, ListObjectsV2 and ListObjectVersions over one engine call.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use coffer_engine::{Engine, ListParams, VersionListParams};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::*;
use crate::errors::to_s3_error;

/// The owners of a page's objects: the bucket owner, and the accounts that
/// wrote objects into someone else's bucket.
struct Owners {
    bucket: Owner,
    writers: std::collections::HashMap<String, Owner>,
}

impl Owners {
    async fn load<'a>(
        engine: &Engine,
        bucket: &str,
        records: impl Iterator<Item = &'a coffer_engine::ObjectRecord>,
    ) -> S3Result<Self> {
        let mut writers = std::collections::HashMap::new();
        for id in records.filter_map(|r| r.owner.as_deref()) {
            if !writers.contains_key(id) {
                writers.insert(id.to_owned(), owner(engine, id).await?);
            }
        }
        Ok(Self {
            bucket: bucket_owner(engine, bucket).await?,
            writers,
        })
    }

    fn of(&self, rec: &coffer_engine::ObjectRecord) -> Owner {
        rec.owner
            .as_ref()
            .and_then(|w| self.writers.get(w))
            .unwrap_or(&self.bucket)
            .clone()
    }
}

fn common_prefixes(list: Vec<String>, url: bool) -> Vec<CommonPrefix> {
    list.into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(maybe_encode(&p, url)),
        })
        .collect()
}

pub async fn list_objects(
    engine: &Engine,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = req.input;
    let url = wants_url_encoding(i.encoding_type.as_ref())?;
    let max_keys = max_keys(i.max_keys)?;
    let page = engine
        .list_objects(
            &i.bucket,
            ListParams {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone(),
                marker: i.marker.clone(),
                max_keys,
            },
        )
        .await
        .map_err(to_s3_error)?;
    let owners = Owners::load(engine, &i.bucket, page.objects.iter().map(|(_, o)| o)).await?;
    let has_delimiter = i.delimiter.as_deref().is_some_and(|d| !d.is_empty());
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket),
        // S3 encodes the keys and common prefixes of a v1 listing, but not
        // the Prefix it echoes (botocore decodes only the former).
        prefix: Some(i.prefix.clone().unwrap_or_default()),
        marker: Some(maybe_encode(i.marker.as_deref().unwrap_or(""), url)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        is_truncated: Some(page.is_truncated),
        // AWS returns NextMarker only when a delimiter was given; clients
        // use the last key otherwise.
        next_marker: (page.is_truncated && has_delimiter)
            .then(|| page.next_marker.as_deref().map(|m| maybe_encode(m, url)))
            .flatten(),
        contents: Some(
            page.objects
                .into_iter()
                .map(|(k, o)| object_entry(k, &o, Some(owners.of(&o)), url))
                .collect(),
        ),
        common_prefixes: Some(common_prefixes(page.common_prefixes, url)),
        delimiter: i
            .delimiter
            .filter(|d| !d.is_empty())
            .map(|d| maybe_encode(&d, url)),
        encoding_type: i.encoding_type,
        request_charged: None,
    }))
}

fn decode_token(t: &str) -> S3Result<String> {
    TOKEN
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

pub async fn list_objects_v2(
    engine: &Engine,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = req.input;
    let url = wants_url_encoding(i.encoding_type.as_ref())?;
    let max_keys = max_keys(i.max_keys)?;
    let marker = match (&i.continuation_token, &i.start_after) {
        (Some(t), _) => Some(decode_token(t)?),
        (None, Some(s)) => Some(s.clone()),
        (None, None) => None,
    };
    let page = engine
        .list_objects(
            &i.bucket,
            ListParams {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone(),
                marker,
                max_keys,
            },
        )
        .await
        .map_err(to_s3_error)?;
    let owners = match i.fetch_owner {
        Some(true) => {
            Some(Owners::load(engine, &i.bucket, page.objects.iter().map(|(_, o)| o)).await?)
        }
        _ => None,
    };
    let key_count = page.objects.len() + page.common_prefixes.len();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: Some(maybe_encode(i.prefix.as_deref().unwrap_or(""), url)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
        continuation_token: i.continuation_token,
        is_truncated: Some(page.is_truncated),
        next_continuation_token: page
            .is_truncated
            .then(|| page.next_marker.map(|m| TOKEN.encode(m)))
            .flatten(),
        contents: Some(
            page.objects
                .into_iter()
                .map(|(k, o)| {
                    let owner = owners.as_ref().map(|w| w.of(&o));
                    object_entry(k, &o, owner, url)
                })
                .collect(),
        ),
        common_prefixes: Some(common_prefixes(page.common_prefixes, url)),
        delimiter: i
            .delimiter
            .filter(|d| !d.is_empty())
            .map(|d| maybe_encode(&d, url)),
        encoding_type: i.encoding_type,
        start_after: i.start_after.map(|s| maybe_encode(&s, url)),
        request_charged: None,
    }))
}

pub async fn list_object_versions(
    engine: &Engine,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = req.input;
    let url = wants_url_encoding(i.encoding_type.as_ref())?;
    let max_keys = max_keys(i.max_keys)?;
    if i.version_id_marker
        .as_deref()
        .is_some_and(|v| !v.is_empty())
        && i.key_marker.as_deref().unwrap_or("").is_empty()
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let page = engine
        .list_object_versions(
            &i.bucket,
            VersionListParams {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone(),
                key_marker: i.key_marker.clone(),
                version_id_marker: i.version_id_marker.clone(),
                max_keys,
            },
        )
        .await
        .map_err(to_s3_error)?;
    let owners = Owners::load(engine, &i.bucket, page.versions.iter().map(|v| &v.record)).await?;
    let mut versions = Vec::new();
    let mut delete_markers = Vec::new();
    for v in page.versions {
        let o = v.record;
        if o.delete_marker {
            delete_markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(maybe_encode(&v.key, url)),
                last_modified: Some(ts(o.last_modified_ms)),
                owner: Some(owners.of(&o)),
                version_id: Some(o.version_id),
            });
            continue;
        }
        versions.push(ObjectVersion {
            checksum_algorithm: o
                .checksum
                .as_ref()
                .map(|c| vec![dto_algorithm(c.algorithm)]),
            checksum_type: o.checksum.as_ref().map(|c| checksum_type(c.kind)),
            e_tag: Some(etag(&o.etag)),
            is_latest: Some(v.is_latest),
            key: Some(maybe_encode(&v.key, url)),
            last_modified: Some(ts(o.last_modified_ms)),
            owner: Some(owners.of(&o)),
            restore_status: None,
            size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
            storage_class: Some(ObjectVersionStorageClass::from_static(
                ObjectVersionStorageClass::STANDARD,
            )),
            version_id: Some(o.version_id),
        });
    }
    Ok(S3Response::new(ListObjectVersionsOutput {
        common_prefixes: Some(common_prefixes(page.common_prefixes, url)),
        delete_markers: Some(delete_markers),
        delimiter: i
            .delimiter
            .filter(|d| !d.is_empty())
            .map(|d| maybe_encode(&d, url)),
        encoding_type: i.encoding_type,
        is_truncated: Some(page.is_truncated),
        key_marker: Some(maybe_encode(&i.key_marker.unwrap_or_default(), url)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        name: Some(i.bucket),
        next_key_marker: page.next_key_marker.map(|m| maybe_encode(&m, url)),
        next_version_id_marker: page.next_version_id_marker,
        prefix: Some(maybe_encode(i.prefix.as_deref().unwrap_or(""), url)),
        request_charged: None,
        version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
        versions: Some(versions),
    }))
}
