//! The one place engine errors become S3 errors (code, status, message).

use coffer_engine::EngineError;
use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};

pub(crate) fn to_s3_error(e: EngineError) -> S3Error {
    use S3ErrorCode as C;
    let (code, status) = match &e {
        EngineError::AccessDenied(_) => (C::AccessDenied, None),
        EngineError::NoSuchBucket => (C::NoSuchBucket, None),
        EngineError::NoSuchKey => (C::NoSuchKey, None),
        EngineError::NoSuchVersion => (C::NoSuchVersion, None),
        EngineError::DeleteMarker { by_version, .. } => {
            if *by_version {
                (C::MethodNotAllowed, None)
            } else {
                (C::NoSuchKey, None)
            }
        }
        EngineError::NoSuchUpload => (C::NoSuchUpload, None),
        EngineError::BucketAlreadyOwnedByYou => (C::BucketAlreadyOwnedByYou, None),
        EngineError::BucketAlreadyExists => (C::BucketAlreadyExists, None),
        EngineError::BucketNotEmpty => (C::BucketNotEmpty, None),
        EngineError::InvalidBucketName(_) => (C::InvalidBucketName, None),
        EngineError::KeyTooLong => (C::KeyTooLongError, None),
        EngineError::InvalidArgument(_) => (C::InvalidArgument, None),
        EngineError::InvalidLocationConstraint(_) => (C::InvalidLocationConstraint, None),
        EngineError::InvalidRequest(_) => (C::InvalidRequest, None),
        EngineError::MalformedXml(_) => (C::MalformedXML, None),
        EngineError::BadDigest(_) => (C::BadDigest, None),
        EngineError::InvalidDigest => (C::InvalidDigest, None),
        EngineError::EntityTooLarge => (C::EntityTooLarge, None),
        EngineError::EntityTooSmall => (C::EntityTooSmall, None),
        EngineError::IncompleteBody => (C::IncompleteBody, None),
        EngineError::InvalidPart => (C::InvalidPart, None),
        EngineError::InvalidPartOrder => (C::InvalidPartOrder, None),
        EngineError::PreconditionFailed => (C::PreconditionFailed, None),
        EngineError::ConditionalRequestConflict => (
            C::Custom("ConditionalRequestConflict".into()),
            Some(StatusCode::CONFLICT),
        ),
        EngineError::NotModified => (C::NotModified, None),
        EngineError::InvalidRange => (C::InvalidRange, None),
        // AWS documents 416 InvalidPartNumber; ceph/s3-tests expects RGW's
        // 400 InvalidPart (see COMPAT.md).
        EngineError::InvalidPartNumber => (
            C::Custom("InvalidPartNumber".into()),
            Some(StatusCode::RANGE_NOT_SATISFIABLE),
        ),
        EngineError::NoSpace => (
            C::Custom("InsufficientStorage".into()),
            Some(StatusCode::INSUFFICIENT_STORAGE),
        ),
        EngineError::NoSuchBucketPolicy => (C::NoSuchBucketPolicy, None),
        EngineError::InvalidBucketState(_) => (C::InvalidBucketState, None),
        EngineError::ObjectLockConfigurationNotFound => (
            C::Custom("ObjectLockConfigurationNotFoundError".into()),
            Some(StatusCode::NOT_FOUND),
        ),
        EngineError::NoSuchObjectLockConfiguration => (
            C::Custom("NoSuchObjectLockConfiguration".into()),
            Some(StatusCode::NOT_FOUND),
        ),
        EngineError::InvalidRetentionPeriod => (
            C::Custom("InvalidRetentionPeriod".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::InvalidBucketAclWithObjectOwnership => (
            C::Custom("InvalidBucketAclWithObjectOwnership".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::AccessControlListNotSupported => (
            C::Custom("AccessControlListNotSupported".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::UnresolvableGrantByEmailAddress(_) => {
            (C::UnresolvableGrantByEmailAddress, None)
        }
        EngineError::InvalidTag(_) => (
            C::Custom("InvalidTag".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::MalformedPolicyDocument(_) => (
            C::Custom("MalformedPolicy".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::InvalidInput(_) | EngineError::Validation(_) => (C::InvalidArgument, None),
        EngineError::ExpiredToken => (C::ExpiredToken, Some(StatusCode::BAD_REQUEST)),
        EngineError::InvalidToken => (C::InvalidToken, Some(StatusCode::BAD_REQUEST)),
        // IAM's own conditions reach S3 requests only through bugs; the IAM
        // API maps them itself (iam_api).
        EngineError::NoSuchEntity(_)
        | EngineError::EntityAlreadyExists(_)
        | EngineError::LimitExceeded(_)
        | EngineError::DeleteConflict(_)
        | EngineError::PackedPolicyTooLarge(_) => (C::InvalidRequest, None),
        EngineError::MetadataTooLarge => (C::MetadataTooLarge, None),
        EngineError::Body(_) => return body_error(e),
        // Only after several restarts, each lost to another write.
        EngineError::Superseded => (C::SlowDown, Some(StatusCode::SERVICE_UNAVAILABLE)),
        EngineError::Corrupt(m) => {
            tracing::error!(detail = %m, "refusing to serve corrupt data");
            (C::InternalError, None)
        }
        EngineError::Internal(m) => {
            tracing::error!(detail = %m, "internal error");
            (C::InternalError, None)
        }
    };
    let message = match &e {
        EngineError::Corrupt(_) | EngineError::Internal(_) => {
            "We encountered an internal error. Please try again.".to_owned()
        }
        other => other.to_string(),
    };
    let mut err = S3Error::with_message(code, message);
    if let Some(s) = status {
        err.set_status_code(s);
    }
    // A read that reached a delete marker says so (and which one).
    if let EngineError::DeleteMarker {
        version_id,
        last_modified_ms,
        ..
    } = &e
    {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&crate::s3::http_date(*last_modified_ms)) {
            h.insert(http::header::LAST_MODIFIED, v);
        }
        if let Some(v) = version_id
            .as_deref()
            .and_then(|v| http::HeaderValue::from_str(v).ok())
        {
            h.insert("x-amz-version-id", v);
        }
        err.set_headers(h);
    }
    err
}

/// A failure while reading the request body: s3s's own errors (signature
/// or hash mismatches in the framing) pass through with their meaning;
/// anything else means the client did not send what it announced.
fn body_error(e: EngineError) -> S3Error {
    let EngineError::Body(inner) = e else {
        return S3Error::new(S3ErrorCode::InternalError);
    };
    let inner = match inner.downcast::<S3Error>() {
        Ok(s3) => return *s3,
        Err(other) => other,
    };
    let text = inner.to_string();
    if text.contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(StatusCode::BAD_REQUEST);
        return err;
    }
    if text.contains("SignatureMismatch") {
        return S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if text.contains("FormatError") || text.contains("TooLarge") || text.contains("TooMany") {
        return S3Error::with_message(S3ErrorCode::InvalidRequest, "Malformed aws-chunked body");
    }
    tracing::debug!(error = %text, "request body ended early");
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}
