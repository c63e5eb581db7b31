//! Object operations: put, get, head, delete, copy.

use coffer_engine::{
    AccessRequest, ByteRange, CopySourceConditions, Engine, EngineError, ObjectRecord, PutParams,
    ReadConditions,
};
use coffer_types::ChecksumAlgorithm as Algo;
use futures::TryStreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::acl::{self, acl_spec_of};
use super::convert::*;
use super::lock;
use super::sse::{self, customer_key_of};
use crate::errors::to_s3_error;

fn body_of(body: Option<StreamingBlob>) -> coffer_engine::BodyStream {
    match body {
        Some(b) => Box::pin(b),
        None => Box::pin(futures::stream::empty()),
    }
}

/// The decoded body length a client announced: x-amz-decoded-content-length
/// for aws-chunked bodies, otherwise Content-Length.
pub(super) fn expected_size<T>(req: &S3Request<T>, content_length: Option<i64>) -> Option<u64> {
    req.headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| content_length.and_then(|n| u64::try_from(n).ok()))
}

pub async fn put_object(
    engine: &Engine,
    mut req: S3Request<PutObjectInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<PutObjectOutput>> {
    let form = req
        .extensions
        .remove::<crate::post_form::PostFormFields>()
        .filter(|_| req.method == http::Method::POST);
    if let Some(form) = &form {
        apply_form_fields(&mut req.input, form)?;
    }
    if req.method == http::Method::POST {
        // A POST upload (browser form): its access check was deferred until
        // the key was known (access.rs).
        let conditions = request_conditions(&req);
        let access = AccessRequest {
            operation: "PutObject",
            bucket: Some(&req.input.bucket),
            key: Some(&req.input.key),
            version_id: None,
            conditions: &conditions,
        };
        engine
            .authorize(&principal(&req), access)
            .await
            .map_err(to_s3_error)?;
    }
    let checksum = declared_checksum_of!(req)?;
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let size = expected_size(&req, req.input.content_length);
    let if_match = etag_match_header(&req, "if-match", req.input.if_match.as_ref());
    let if_none_match = etag_match_header(&req, "if-none-match", req.input.if_none_match.as_ref());
    let tags = match form.and_then(|f| f.tags) {
        Some(tags) if req.input.tagging.is_none() => Some(tags),
        _ => tagging_header(req.input.tagging.as_deref())?,
    };
    let acl_spec = acl_spec_of!(object req.input)?;
    let writer = acl::writer(&req);
    let (retention, legal_hold) = super::lock::lock_headers_of!(req.input)?;
    let input = req.input;
    let params = PutParams {
        headers: object_headers(
            input.content_type,
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.expires.as_ref(),
        ),
        user_metadata: user_metadata(input.metadata),
        content_md5: input.content_md5,
        checksum,
        expected_size: size,
        if_match,
        if_none_match,
        tags,
        sse: sse::write_request(
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_deref(),
            customer,
        )?,
        acl: acl_spec,
        writer,
        retention,
        legal_hold,
    };
    let stored = engine
        .put_object(&input.bucket, &input.key, params, body_of(input.body))
        .await
        .map_err(to_s3_error)?;
    let rec = &stored.record;
    let c = checksum_fields(rec.checksum.as_ref());
    let e = sse::sse_fields(rec.sse.as_ref());
    Ok(S3Response::new(PutObjectOutput {
        server_side_encryption: e.server_side_encryption,
        sse_customer_algorithm: e.sse_customer_algorithm,
        sse_customer_key_md5: e.sse_customer_key_md5,
        ssekms_key_id: e.ssekms_key_id,
        e_tag: Some(etag(&rec.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        checksum_type: c.kind,
        size: Some(i64::try_from(rec.size).unwrap_or(i64::MAX)),
        expiration: super::lifecycle::expiration_header(&stored),
        version_id: stored.written_version_id(),
        ..Default::default()
    }))
}

/// The fields of a browser form that s3s does not map (see post_form.rs):
/// `acl` and the checksums. (`tagging` is taken where tags are read.)
fn apply_form_fields(
    input: &mut PutObjectInput,
    form: &crate::post_form::PostFormFields,
) -> S3Result<()> {
    if input.acl.is_none()
        && let Some(acl) = &form.acl
    {
        input.acl = Some(ObjectCannedACL::from(acl.clone()));
    }
    for (name, value) in &form.checksums {
        let v = Some(value.clone());
        match name.as_str() {
            "x-amz-checksum-crc32" => input.checksum_crc32 = v,
            "x-amz-checksum-crc32c" => input.checksum_crc32c = v,
            "x-amz-checksum-crc64nvme" => input.checksum_crc64nvme = v,
            "x-amz-checksum-sha1" => input.checksum_sha1 = v,
            "x-amz-checksum-sha256" => input.checksum_sha256 = v,
            // Whole-object checksums are the only kind a single upload has.
            "x-amz-checksum-type" => {}
            "x-amz-checksum-algorithm" => {
                input.checksum_algorithm = Some(ChecksumAlgorithm::from(value.clone()));
            }
            other => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("Unknown checksum form field {other}"),
                ));
            }
        }
    }
    Ok(())
}

fn read_conditions<T>(
    req: &S3Request<T>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> ReadConditions {
    ReadConditions {
        if_match: etag_match_header(req, "if-match", if_match),
        if_none_match: etag_match_header(req, "if-none-match", if_none_match),
        if_modified_since_ms: if_modified_since.map(ms_of),
        if_unmodified_since_ms: if_unmodified_since.map(ms_of),
    }
}

/// The bytes a GET or HEAD covers: a part, a range, or everything.
fn plan(
    rec: &ObjectRecord,
    range: Option<Range>,
    part_number: Option<i32>,
) -> Result<(std::ops::Range<u64>, bool), EngineError> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(EngineError::InvalidRequest(
            "Cannot specify both Range header and partNumber query parameter".into(),
        )),
        (None, Some(n)) => {
            let n = u32::try_from(n).map_err(|_| EngineError::InvalidPartNumber)?;
            let r = Engine::part_range(rec, n)?;
            Ok((r, !rec.parts.is_empty()))
        }
        (Some(r), None) => {
            let br = match r {
                Range::Int { first, last } => ByteRange::From { first, last },
                Range::Suffix { length } => ByteRange::Suffix(length),
            };
            Ok((br.resolve(rec.size)?, true))
        }
        (None, None) => Ok((0..rec.size, false)),
    }
}

fn content_range(r: &std::ops::Range<u64>, size: u64) -> String {
    format!("bytes {}-{}/{size}", r.start, r.end.saturating_sub(1))
}

fn checksum_mode_enabled(m: Option<&ChecksumMode>) -> bool {
    m.is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

/// What GET and HEAD share: the object, the bytes the response covers, and
/// the checksums it reports.
struct ReadView {
    rec: ObjectRecord,
    expiration: Option<String>,
    data_key: Option<coffer_engine::DataKey>,
    version_id: Option<String>,
    range: std::ops::Range<u64>,
    partial: bool,
    checksums: ChecksumFields,
}

/// The GET/HEAD inputs that decide what is read.
struct ReadInputs<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    conditions: ReadConditions,
    range: Option<Range>,
    part_number: Option<i32>,
    checksum_mode: Option<&'a ChecksumMode>,
    customer_key: Option<coffer_engine::CustomerKey>,
}

async fn prepare_read(engine: &Engine, i: ReadInputs<'_>) -> S3Result<ReadView> {
    let found = engine
        .get_object_version(i.bucket, i.key, i.version_id)
        .await
        .map_err(to_s3_error)?;
    let version_id = found.version_id();
    let expiration = super::lifecycle::expiration_header(&found);
    let rec = found.record;
    let data_key = engine
        .data_key(rec.sse.as_ref(), i.customer_key.as_ref())
        .map_err(to_s3_error)?;
    i.conditions.check(&rec).map_err(|e| {
        let not_modified = matches!(e, coffer_engine::EngineError::NotModified);
        let mut err = to_s3_error(e);
        // A 304 still identifies the object it stands for (RFC 9110 15.4.5).
        if not_modified {
            let mut h = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", rec.etag)) {
                h.insert(http::header::ETAG, v);
            }
            err.set_headers(h);
        }
        err
    })?;
    let (range, partial) = plan(&rec, i.range, i.part_number).map_err(to_s3_error)?;
    let whole = range.start == 0 && range.end == rec.size;
    // S3 reports the object's checksum only for the whole object, or the
    // part's checksum for a partNumber read.
    let checksums = match (checksum_mode_enabled(i.checksum_mode), i.part_number) {
        (false, _) => ChecksumFields::default(),
        (true, Some(n)) if !rec.parts.is_empty() => {
            let mut f = part_checksum_fields(
                rec.checksum.as_ref().map(|c| c.algorithm),
                usize::try_from(n - 1)
                    .ok()
                    .and_then(|i| rec.parts.get(i))
                    .and_then(|p| p.checksum.as_ref()),
            );
            // A part's checksum is reported with the object's type.
            if f.kind.is_some() {
                f.kind = rec.checksum.as_ref().map(|c| checksum_type(c.kind));
            }
            f
        }
        (true, _) if whole => checksum_fields(rec.checksum.as_ref()),
        (true, _) => ChecksumFields::default(),
    };
    Ok(ReadView {
        rec,
        expiration,
        data_key,
        version_id,
        range,
        partial,
        checksums,
    })
}

/// The [`ReadInputs`] of a GetObject or HeadObject request (same fields).
macro_rules! read_inputs {
    ($req:expr, $allow_http_sse_c:expr) => {{
        sse::refuse_sse_on_read(&$req)?;
        let customer_key = customer_key_of!($req, $allow_http_sse_c, sse_customer)?;
        let i = &$req.input;
        ReadInputs {
            customer_key,
            bucket: &i.bucket,
            key: &i.key,
            version_id: i.version_id.as_deref(),
            conditions: read_conditions(
                &$req,
                i.if_match.as_ref(),
                i.if_none_match.as_ref(),
                i.if_modified_since.as_ref(),
                i.if_unmodified_since.as_ref(),
            ),
            range: i.range,
            part_number: i.part_number,
            checksum_mode: i.checksum_mode.as_ref(),
        }
    }};
}

/// GetObjectOutput and HeadObjectOutput carry the same object headers.
macro_rules! object_output {
    ($ty:ident, $view:expr, $part_number:expr, { $($extra:tt)* }) => {{
        let v = $view;
        let h = &v.rec.headers;
        let c = v.checksums;
        let e = sse::sse_fields(v.rec.sse.as_ref());
        let l = lock::read_fields(&v.rec);
        $ty {
            object_lock_mode: l.mode,
            object_lock_retain_until_date: l.until,
            object_lock_legal_hold_status: l.legal_hold,
            server_side_encryption: e.server_side_encryption,
            sse_customer_algorithm: e.sse_customer_algorithm,
            sse_customer_key_md5: e.sse_customer_key_md5,
            ssekms_key_id: e.ssekms_key_id,
            accept_ranges: Some("bytes".into()),
            cache_control: h.cache_control.clone(),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            content_disposition: h.content_disposition.clone(),
            content_encoding: h.content_encoding.clone(),
            content_language: h.content_language.clone(),
            content_length: Some(i64::try_from(v.range.end - v.range.start).unwrap_or(i64::MAX)),
            content_range: v.partial.then(|| content_range(&v.range, v.rec.size)),
            // S3's type for objects stored without one.
            content_type: Some(h.content_type.clone().unwrap_or_else(|| "binary/octet-stream".into())),
            e_tag: Some(etag(&v.rec.etag)),
            expires: h.expires_ms.map(ts),
            last_modified: Some(ts(v.rec.last_modified_ms)),
            metadata: metadata_map(&v.rec.user_metadata),
            version_id: v.version_id.clone(),
            expiration: v.expiration.clone(),
            parts_count: (!v.rec.parts.is_empty() && $part_number.is_some())
                .then(|| i32::try_from(v.rec.parts.len()).unwrap_or(i32::MAX)),
            $($extra)*
            ..Default::default()
        }
    }};
}

pub async fn get_object(
    engine: &Engine,
    req: S3Request<GetObjectInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<GetObjectOutput>> {
    // A write replacing the version between its lookup and the opening of
    // its data sends the read back to the lookup.
    let mut attempts = 0;
    let (view, stream) = loop {
        let view = prepare_read(engine, read_inputs!(req, allow_http_sse_c)).await?;
        match engine
            .open_object(&view.rec, view.range.clone(), view.data_key.as_ref())
            .await
        {
            Ok(stream) => break (view, stream),
            Err(coffer_engine::EngineError::Superseded) if attempts < super::READ_ATTEMPTS => {
                attempts += 1;
            }
            Err(e) => return Err(to_s3_error(e)),
        }
    };
    let i = &req.input;
    // Data that fails its checksum ends the body early (the client sees a
    // short read, never the bad bytes); the log names the object.
    let (bucket, key, version) = (i.bucket.clone(), i.key.clone(), view.rec.version_id.clone());
    let body = StreamingBlob::wrap(stream.map_err(move |e| {
        tracing::error!(%bucket, %key, %version, error = %e, "GetObject failed while streaming the data");
        std::io::Error::other(e)
    }));
    let partial = view.partial;
    let tag_count =
        (!view.rec.tags.is_empty()).then(|| i32::try_from(view.rec.tags.len()).unwrap_or(i32::MAX));
    let output =
        object_output!(GetObjectOutput, view, i.part_number, { body: Some(body), tag_count, });
    let mut resp = S3Response::new(output);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

pub async fn head_object(
    engine: &Engine,
    req: S3Request<HeadObjectInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let view = prepare_read(engine, read_inputs!(req, allow_http_sse_c)).await?;
    let i = &req.input;
    let tags = view.rec.tags.len();
    // The 206 for a ranged HEAD is set by the HTTP layer (s3s always
    // answers HeadObject with 200).
    let mut resp = S3Response::new(object_output!(HeadObjectOutput, view, i.part_number, {}));
    // HeadObjectOutput has no field for it, but S3 sends it on HEAD too.
    if tags > 0 {
        resp.headers
            .insert("x-amz-tagging-count", http::HeaderValue::from(tags));
    }
    Ok(resp)
}

pub async fn delete_object(
    engine: &Engine,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let i = &req.input;
    let bypass = may_bypass_governance(
        engine,
        &req,
        &i.bucket,
        &i.key,
        i.bypass_governance_retention,
    )
    .await;
    let deleted = engine
        .delete_object_with(&i.bucket, &i.key, i.version_id.as_deref(), bypass)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteObjectOutput {
            delete_marker: deleted.delete_marker.then_some(true),
            version_id: deleted.version_id,
            ..Default::default()
        },
        http::StatusCode::NO_CONTENT,
    ))
}

/// Whether a request's x-amz-bypass-governance-retention counts: only for
/// callers allowed s3:BypassGovernanceRetention; for others it is ignored,
/// so the retention holds.
pub(super) async fn may_bypass_governance<T>(
    engine: &Engine,
    req: &S3Request<T>,
    bucket: &str,
    key: &str,
    asked: Option<bool>,
) -> bool {
    if asked != Some(true) {
        return false;
    }
    let conditions = request_conditions(req);
    let access = AccessRequest {
        operation: "BypassGovernanceRetention",
        bucket: Some(bucket),
        key: Some(key),
        version_id: None,
        conditions: &conditions,
    };
    engine.authorize(&principal(req), access).await.is_ok()
}

pub async fn delete_objects(
    engine: &Engine,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    const MAX_KEYS_PER_DELETE: usize = 1000;
    let p = principal(&req);
    let conditions = request_conditions(&req);
    let input = req.input;
    if input.delete.objects.len() > MAX_KEYS_PER_DELETE
        || input
            .delete
            .objects
            .iter()
            .any(|o| !super::convert::is_xml_text(&o.key))
    {
        return Err(super::convert::malformed_xml());
    }
    engine
        .head_bucket(&input.bucket)
        .await
        .map_err(to_s3_error)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in input.delete.objects {
        let access = AccessRequest {
            operation: "DeleteObject",
            bucket: Some(&input.bucket),
            key: Some(&o.key),
            version_id: o.version_id.as_deref(),
            conditions: &conditions,
        };
        let result = match engine.authorize(&p, access).await {
            Ok(()) => {
                let bypass = input.bypass_governance_retention == Some(true)
                    && engine
                        .authorize(
                            &p,
                            AccessRequest {
                                operation: "BypassGovernanceRetention",
                                ..access
                            },
                        )
                        .await
                        .is_ok();
                engine
                    .delete_object_with(&input.bucket, &o.key, o.version_id.as_deref(), bypass)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(d) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(o.key),
                        delete_marker: d.delete_marker.then_some(true),
                        delete_marker_version_id: d
                            .delete_marker
                            .then(|| d.version_id.clone())
                            .flatten(),
                        version_id: o.version_id,
                    });
                }
            }
            Err(e) => {
                let s3 = to_s3_error(e);
                errors.push(Error {
                    code: Some(s3.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: s3.message().map(str::to_owned),
                    version_id: o.version_id,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        request_charged: None,
    }))
}

/// The bucket, key and version a copy reads from.
pub(super) fn copy_source(c: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match c {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_owned),
        )),
        CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Access points are not supported",
        )),
    }
}

/// `x-amz-copy-source-if-*`, shared by CopyObject and UploadPartCopy.
pub(super) fn copy_source_conditions<T>(
    req: &S3Request<T>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> CopySourceConditions {
    CopySourceConditions(ReadConditions {
        if_match: etag_match_header(req, "x-amz-copy-source-if-match", if_match),
        if_none_match: etag_match_header(req, "x-amz-copy-source-if-none-match", if_none_match),
        if_modified_since_ms: if_modified_since.map(ms_of),
        if_unmodified_since_ms: if_unmodified_since.map(ms_of),
    })
}

/// Checks that the caller may read the copy source (`s3:GetObject`), in
/// addition to the access check on the destination.
pub(super) async fn authorize_copy_source<T>(
    engine: &Engine,
    req: &S3Request<T>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<()> {
    let conditions = request_conditions(req);
    let access = AccessRequest {
        operation: "GetObject",
        bucket: Some(bucket),
        key: Some(key),
        version_id,
        conditions: &conditions,
    };
    engine
        .authorize(&principal(req), access)
        .await
        .map_err(to_s3_error)
}

pub async fn copy_object(
    engine: &Engine,
    req: S3Request<CopyObjectInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let source_customer = customer_key_of!(req, allow_http_sse_c, copy_source_sse_customer)?;
    let acl_spec = acl_spec_of!(object req.input)?;
    let writer = acl::writer(&req);
    let (retention, legal_hold) = super::lock::lock_headers_of!(req.input)?;
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
    let if_match = etag_match_header(&req, "if-match", None);
    let if_none_match = etag_match_header(&req, "if-none-match", None);
    let input = req.input;
    let directive = match input
        .metadata_directive
        .as_ref()
        .map(s3s::dto::MetadataDirective::as_str)
    {
        None | Some("COPY") => coffer_engine::MetadataDirective::Copy,
        Some("REPLACE") => coffer_engine::MetadataDirective::Replace,
        Some(other) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Unknown metadata directive {other}"),
            ));
        }
    };
    let mut params = PutParams::new(object_headers(
        input.content_type,
        input.cache_control,
        input.content_disposition,
        input.content_encoding,
        input.content_language,
        input.expires.as_ref(),
    ));
    params.user_metadata = user_metadata(input.metadata);
    params.tags = match input
        .tagging_directive
        .as_ref()
        .map(s3s::dto::TaggingDirective::as_str)
    {
        None | Some("COPY") => None,
        Some("REPLACE") => Some(tagging_header(input.tagging.as_deref())?.unwrap_or_default()),
        Some(other) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Unknown tagging directive {other}"),
            ));
        }
    };
    params.if_match = if_match;
    params.if_none_match = if_none_match;
    params.acl = acl_spec;
    params.writer = writer;
    params.retention = retention;
    params.legal_hold = legal_hold;
    params.sse = sse::write_request(
        input.server_side_encryption.as_ref(),
        input.ssekms_key_id.as_deref(),
        customer,
    )?;
    if let Some(a) = &input.checksum_algorithm {
        params.checksum = coffer_engine::DeclaredChecksum::Algorithm(algorithm_of(a)?);
    }
    let (stored, source) = engine
        .copy_object(
            &src_bucket,
            &src_key,
            src_version.as_deref(),
            &input.bucket,
            &input.key,
            directive,
            params,
            &conditions,
            source_customer.as_ref(),
        )
        .await
        .map_err(to_s3_error)?;
    let rec = &stored.record;
    let c = checksum_fields(rec.checksum.as_ref());
    let e = sse::sse_fields(rec.sse.as_ref());
    Ok(S3Response::new(CopyObjectOutput {
        server_side_encryption: e.server_side_encryption,
        sse_customer_algorithm: e.sse_customer_algorithm,
        sse_customer_key_md5: e.sse_customer_key_md5,
        ssekms_key_id: e.ssekms_key_id,
        copy_object_result: Some(CopyObjectResult {
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            e_tag: Some(etag(&rec.etag)),
            last_modified: Some(ts(rec.last_modified_ms)),
        }),
        copy_source_version_id: source.version_id(),
        version_id: stored.written_version_id(),
        ..Default::default()
    }))
}

pub async fn get_object_tagging(
    engine: &Engine,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = &req.input;
    let v = engine
        .get_object_tagging(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set(&v.record.tags),
        version_id: v.version_id(),
    }))
}

pub async fn put_object_tagging(
    engine: &Engine,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = super::convert::tag_pairs(i.tagging.tag_set)?;
    let v = engine
        .put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), tags)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: v.version_id(),
    }))
}

pub async fn delete_object_tagging(
    engine: &Engine,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = &req.input;
    let v = engine
        .put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), Vec::new())
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput {
            version_id: v.version_id(),
        },
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_object_attributes(
    engine: &Engine,
    req: S3Request<GetObjectAttributesInput>,
    allow_http_sse_c: bool,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let customer = customer_key_of!(req, allow_http_sse_c, sse_customer)?;
    let i = req.input;
    let found = engine
        .get_object_version(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3_error)?;
    // Reading attributes of an SSE-C object takes its key, as a GET does.
    engine
        .data_key(found.record.sse.as_ref(), customer.as_ref())
        .map_err(to_s3_error)?;
    // x-amz-object-attributes is one comma-separated header.
    let wanted = |a: &str| {
        i.object_attributes
            .iter()
            .flat_map(|x| x.as_str().split(','))
            .any(|x| x.trim() == a)
    };
    let rec = &found.record;
    let algorithm = rec.checksum.as_ref().map(|c| c.algorithm);
    let object_parts =
        (wanted(ObjectAttributes::OBJECT_PARTS) && !rec.parts.is_empty()).then(|| {
            let marker = i.part_number_marker.unwrap_or(0);
            let max = usize::try_from(i.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
            let after: Vec<_> = rec
                .parts
                .iter()
                .filter(|p| i64::from(p.number) > i64::from(marker))
                .collect();
            let page: Vec<_> = after.iter().take(max).collect();
            let truncated = after.len() > page.len();
            GetObjectAttributesParts {
                is_truncated: Some(truncated),
                max_parts: Some(i32::try_from(max).unwrap_or(1000)),
                next_part_number_marker: page
                    .last()
                    .filter(|_| truncated)
                    .map(|p| i32::try_from(p.number).unwrap_or(0)),
                part_number_marker: Some(marker),
                parts: Some(
                    page.iter()
                        .map(|p| {
                            let c = part_checksum_fields(algorithm, p.checksum.as_ref());
                            ObjectPart {
                                checksum_crc32: c.crc32,
                                checksum_crc32c: c.crc32c,
                                checksum_crc64nvme: c.crc64nvme,
                                checksum_sha1: c.sha1,
                                checksum_sha256: c.sha256,
                                part_number: Some(i32::try_from(p.number).unwrap_or(0)),
                                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                            }
                        })
                        .collect(),
                ),
                total_parts_count: Some(i32::try_from(rec.parts.len()).unwrap_or(i32::MAX)),
            }
        });
    let checksum = (wanted(ObjectAttributes::CHECKSUM) && rec.checksum.is_some()).then(|| {
        let c = checksum_fields(rec.checksum.as_ref());
        Checksum {
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
        }
    });
    Ok(S3Response::new(GetObjectAttributesOutput {
        checksum,
        delete_marker: None,
        // Unquoted here, unlike the ETag header.
        e_tag: wanted(ObjectAttributes::ETAG).then(|| ETag::Strong(rec.etag.clone())),
        last_modified: Some(ts(rec.last_modified_ms)),
        object_parts,
        object_size: wanted(ObjectAttributes::OBJECT_SIZE)
            .then(|| i64::try_from(rec.size).unwrap_or(i64::MAX)),
        request_charged: None,
        storage_class: wanted(ObjectAttributes::STORAGE_CLASS)
            .then(|| StorageClass::from_static(StorageClass::STANDARD)),
        version_id: found.version_id(),
    }))
}
