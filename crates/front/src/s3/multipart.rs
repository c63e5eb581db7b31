//! Multipart uploads.

use coffer_engine::{
    ByteRange, ChecksumKind, CompletedPart as EngineCompletedPart, Engine, UploadListParams,
};
use coffer_types::ChecksumAlgorithm as Algo;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::acl::{self, acl_spec_of};
use super::convert::*;
use super::objects::{authorize_copy_source, copy_source, copy_source_conditions, expected_size};
use super::sse::{self, customer_key_of};
use crate::errors::to_s3_error;

pub async fn create(
    engine: &Engine,
    req: S3Request<CreateMultipartUploadInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let acl_spec = acl_spec_of!(object req.input)?;
    let writer = acl::writer(&req);
    let (retention, legal_hold) = super::lock::lock_headers_of!(req.input)?;
    let i = req.input;
    let sse_request = sse::write_request(
        i.server_side_encryption.as_ref(),
        i.ssekms_key_id.as_deref(),
        customer,
    )?;
    let algorithm = i
        .checksum_algorithm
        .as_ref()
        .map(algorithm_of)
        .transpose()?;
    let kind = match i.checksum_type.as_ref().map(ChecksumType::as_str) {
        None => None,
        Some("FULL_OBJECT") => Some(ChecksumKind::FullObject),
        Some("COMPOSITE") => Some(ChecksumKind::Composite),
        Some(other) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!("Unknown checksum type {other}"),
            ));
        }
    };
    if kind == Some(ChecksumKind::FullObject) && algorithm.is_some_and(|a| !a.is_crc()) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The FULL_OBJECT checksum type is only supported for CRC algorithms",
        ));
    }
    let checksum = algorithm.map(|a| {
        (
            a,
            kind.unwrap_or(if a.is_crc() {
                ChecksumKind::FullObject
            } else {
                ChecksumKind::Composite
            }),
        )
    });
    let headers = object_headers(
        i.content_type,
        i.cache_control,
        i.content_disposition,
        i.content_encoding,
        i.content_language,
        i.expires.as_ref(),
    );
    let up = engine
        .create_multipart_upload_with(
            &i.bucket,
            &i.key,
            headers,
            user_metadata(i.metadata),
            checksum,
            tagging_header(i.tagging.as_deref())?.unwrap_or_default(),
            sse_request,
            coffer_engine::UploadOptions {
                writer,
                acl: acl_spec,
                retention,
                legal_hold,
            },
        )
        .await
        .map_err(to_s3_error)?;
    let e = sse::sse_fields(up.sse.as_ref());
    Ok(S3Response::new(CreateMultipartUploadOutput {
        server_side_encryption: e.server_side_encryption,
        sse_customer_algorithm: e.sse_customer_algorithm,
        sse_customer_key_md5: e.sse_customer_key_md5,
        ssekms_key_id: e.ssekms_key_id,
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(up.upload_id),
        checksum_algorithm: checksum.map(|c| dto_algorithm(c.0)),
        checksum_type: checksum.map(|c| checksum_type(c.1)),
        ..Default::default()
    }))
}

fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n).map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )
    })
}

pub async fn upload_part(
    engine: &Engine,
    req: S3Request<UploadPartInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<UploadPartOutput>> {
    let checksum = declared_checksum_of!(req)?;
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let size = expected_size(&req, req.input.content_length);
    let i = req.input;
    let number = part_number(i.part_number)?;
    let body: coffer_engine::BodyStream = match i.body {
        Some(b) => Box::pin(b),
        None => Box::pin(futures::stream::empty()),
    };
    let algorithm = match &checksum {
        coffer_engine::DeclaredChecksum::None => None,
        coffer_engine::DeclaredChecksum::Algorithm(a)
        | coffer_engine::DeclaredChecksum::Value(a, _)
        | coffer_engine::DeclaredChecksum::Trailer(a, _) => Some(*a),
    };
    let part = engine
        .upload_part(
            &i.bucket,
            &i.key,
            &i.upload_id,
            number,
            body,
            size,
            i.content_md5.as_deref(),
            checksum,
            customer.as_ref(),
        )
        .await
        .map_err(to_s3_error)?;
    let c = part_checksum_fields(algorithm, part.checksum.as_ref());
    let e = upload_sse_fields(engine, &i.bucket, &i.key, &i.upload_id).await?;
    Ok(S3Response::new(UploadPartOutput {
        server_side_encryption: e.server_side_encryption,
        sse_customer_algorithm: e.sse_customer_algorithm,
        sse_customer_key_md5: e.sse_customer_key_md5,
        ssekms_key_id: e.ssekms_key_id,
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        ..Default::default()
    }))
}

fn parse_copy_range(s: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let invalid = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = s.strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let first: u64 = a.parse().map_err(|_| invalid())?;
    let last: u64 = b.parse().map_err(|_| invalid())?;
    if last < first {
        return Err(invalid());
    }
    ByteRange::From {
        first,
        last: Some(last),
    }
    .resolve(size)
    .ok()
    .filter(|r| r.end == last + 1)
    .ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
    })
}

pub async fn upload_part_copy(
    engine: &Engine,
    req: S3Request<UploadPartCopyInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let source_customer = customer_key_of!(req, allow_http_sse_c, copy_source_sse_customer)?;
    let (src_bucket, src_key, src_version) = copy_source(&req.input.copy_source)?;
    authorize_copy_source(engine, &req, &src_bucket, &src_key, src_version.as_deref()).await?;
    let i = &req.input;
    let conditions = copy_source_conditions(
        &req,
        i.copy_source_if_match.as_ref(),
        i.copy_source_if_none_match.as_ref(),
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    );
    let i = req.input;
    let number = part_number(i.part_number)?;
    // A write replacing the source before its data was opened sends the
    // copy back to the lookup.
    let mut attempts = 0;
    let (part, copy_source_version_id) = loop {
        let found = engine
            .copy_source(&src_bucket, &src_key, src_version.as_deref())
            .await
            .map_err(to_s3_error)?;
        let copy_source_version_id = found.version_id();
        let source = found.record;
        conditions.check(&source).map_err(to_s3_error)?;
        let range = match &i.copy_source_range {
            Some(r) => parse_copy_range(r, source.size)?,
            None => 0..source.size,
        };
        let copied = engine
            .upload_part_copy(
                &i.bucket,
                &i.key,
                &i.upload_id,
                number,
                &source,
                range,
                coffer_engine::CopyKeys {
                    source: source_customer.as_ref(),
                    destination: customer.as_ref(),
                },
            )
            .await;
        match copied {
            Ok(part) => break (part, copy_source_version_id),
            Err(coffer_engine::EngineError::Superseded) if attempts < super::READ_ATTEMPTS => {
                attempts += 1;
            }
            Err(e) => return Err(to_s3_error(e)),
        }
    };
    let e = upload_sse_fields(engine, &i.bucket, &i.key, &i.upload_id).await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        server_side_encryption: e.server_side_encryption,
        sse_customer_algorithm: e.sse_customer_algorithm,
        sse_customer_key_md5: e.sse_customer_key_md5,
        ssekms_key_id: e.ssekms_key_id,
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&part.etag)),
            last_modified: Some(ts(part.last_modified_ms)),
            ..Default::default()
        }),
        copy_source_version_id,
        ..Default::default()
    }))
}

pub async fn complete(
    engine: &Engine,
    req: S3Request<CompleteMultipartUploadInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    // An SSE-C upload completes only with its key, as S3 requires when the
    // parts carry checksums (which SDKs now send by default). An upload
    // that is already gone is left to the engine (a repeated Complete).
    if let Ok(upload) = engine
        .upload(&req.input.bucket, &req.input.key, &req.input.upload_id)
        .await
        && upload
            .sse
            .as_ref()
            .is_some_and(|s| s.mode == coffer_engine::SseMode::Customer)
    {
        engine
            .data_key(upload.sse.as_ref(), customer.as_ref())
            .map_err(to_s3_error)?;
    }
    let if_match = etag_match_header(&req, "if-match", req.input.if_match.as_ref());
    let if_none_match = etag_match_header(&req, "if-none-match", req.input.if_none_match.as_ref());
    let i = req.input;
    // The object checksum the client declares for the whole upload.
    let declared = i
        .checksum_crc32
        .clone()
        .or_else(|| i.checksum_crc32c.clone())
        .or_else(|| i.checksum_crc64nvme.clone())
        .or_else(|| i.checksum_sha1.clone())
        .or_else(|| i.checksum_sha256.clone());
    let parts = i
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let number = part_number(p.part_number.unwrap_or(0))?;
            let checksum = p
                .checksum_crc32
                .or(p.checksum_crc32c)
                .or(p.checksum_crc64nvme)
                .or(p.checksum_sha1)
                .or(p.checksum_sha256);
            Ok(EngineCompletedPart {
                number,
                etag: p.e_tag.map(|e| e.value().to_owned()).unwrap_or_default(),
                checksum,
            })
        })
        .collect::<S3Result<Vec<_>>>()?;
    let stored = engine
        .complete_multipart_upload(
            &i.bucket,
            &i.key,
            &i.upload_id,
            parts,
            if_match,
            if_none_match,
            declared,
        )
        .await
        .map_err(to_s3_error)?;
    let rec = &stored.record;
    let c = checksum_fields(rec.checksum.as_ref());
    let e = sse::sse_fields(rec.sse.as_ref());
    let mut resp = S3Response::new(CompleteMultipartUploadOutput {
        server_side_encryption: e.server_side_encryption,
        ssekms_key_id: e.ssekms_key_id,
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        e_tag: Some(etag(&rec.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        checksum_type: c.kind,
        version_id: stored.written_version_id(),
        ..Default::default()
    });
    // The output type has no fields for SSE-C; S3 sends them.
    for (name, value) in [
        (
            "x-amz-server-side-encryption-customer-algorithm",
            e.sse_customer_algorithm,
        ),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            e.sse_customer_key_md5,
        ),
    ] {
        if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            resp.headers.insert(name, v);
        }
    }
    Ok(resp)
}

pub async fn abort(
    engine: &Engine,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    engine
        .abort_multipart_upload(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn list_parts(
    engine: &Engine,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let marker = u32::try_from(i.part_number_marker.unwrap_or(0)).unwrap_or(0);
    let max = max_keys(i.max_parts)?;
    let listing = engine
        .list_parts(&i.bucket, &i.key, &i.upload_id, marker, max)
        .await
        .map_err(to_s3_error)?;
    let algorithm = listing.upload.checksum_algorithm;
    let parts = listing
        .parts
        .iter()
        .map(|p| {
            let c = part_checksum_fields(algorithm, p.checksum.as_ref());
            Part {
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_ms)),
                part_number: Some(i32::try_from(p.number).unwrap_or(0)),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
            }
        })
        .collect();
    let o = upload_owner(engine, &i.bucket, &listing.upload).await?;
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(i.upload_id),
        checksum_algorithm: algorithm.map(dto_algorithm),
        checksum_type: listing.upload.checksum_kind.map(checksum_type),
        initiator: Some(Initiator {
            display_name: o.display_name.clone(),
            id: o.id.clone(),
        }),
        owner: Some(o),
        is_truncated: Some(listing.is_truncated),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: listing.next_marker.map(|n| i32::try_from(n).unwrap_or(0)),
        parts: Some(parts),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

/// The encryption headers of a part's response: the upload's.
async fn upload_sse_fields(
    engine: &Engine,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<sse::SseFields> {
    let upload = engine
        .upload(bucket, key, upload_id)
        .await
        .map_err(to_s3_error)?;
    Ok(sse::sse_fields(upload.sse.as_ref()))
}

/// Who owns an upload (and the object it makes): the initiating account
/// when it wrote into another account's bucket, else the bucket owner.
async fn upload_owner(
    engine: &Engine,
    bucket: &str,
    upload: &coffer_engine::UploadRecord,
) -> S3Result<Owner> {
    match &upload.owner {
        Some(account) => super::convert::owner(engine, account).await,
        None => bucket_owner(engine, bucket).await,
    }
}

pub async fn list_uploads(
    engine: &Engine,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let url = wants_url_encoding(i.encoding_type.as_ref())?;
    let max = max_keys(i.max_uploads)?;
    let listing = engine
        .list_multipart_uploads(
            &i.bucket,
            UploadListParams {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone(),
                key_marker: i.key_marker.clone(),
                upload_id_marker: i.upload_id_marker.clone(),
                max_uploads: max,
            },
        )
        .await
        .map_err(to_s3_error)?;
    let mut owners = Vec::new();
    for u in &listing.uploads {
        owners.push(upload_owner(engine, &i.bucket, u).await?);
    }
    let uploads = listing
        .uploads
        .into_iter()
        .zip(owners)
        .map(|(u, o)| MultipartUpload {
            checksum_algorithm: u.checksum_algorithm.map(dto_algorithm),
            checksum_type: u.checksum_kind.map(checksum_type),
            initiated: Some(ts(u.initiated_ms)),
            initiator: Some(Initiator {
                display_name: o.display_name.clone(),
                id: o.id.clone(),
            }),
            key: Some(maybe_encode(&u.key, url)),
            owner: Some(o.clone()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            upload_id: Some(u.upload_id),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        common_prefixes: Some(
            listing
                .common_prefixes
                .into_iter()
                .map(|p| CommonPrefix {
                    prefix: Some(maybe_encode(&p, url)),
                })
                .collect(),
        ),
        delimiter: i.delimiter,
        encoding_type: i.encoding_type,
        is_truncated: Some(listing.is_truncated),
        key_marker: i.key_marker,
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        next_key_marker: listing.next_key_marker.map(|k| maybe_encode(&k, url)),
        next_upload_id_marker: listing.next_upload_id_marker,
        prefix: i.prefix,
        upload_id_marker: i.upload_id_marker,
        uploads: Some(uploads),
        request_charged: None,
    }))
}
