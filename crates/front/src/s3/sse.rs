//! Server-side encryption headers: what a request asks for and what a
//! response reports. The keys and the cipher live in the engine.

use coffer_engine::{CustomerKey, SseMode, SseRequest, StoredSse};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use crate::errors::to_s3_error;

fn invalid_argument(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message.to_owned())
}

/// An SSE-C key from the three customer-key headers (or the copy-source
/// ones). Like S3, refuses them over plain HTTP unless the operator allowed
/// it: a key sent in the clear must be considered leaked.
pub(super) fn customer_key<T>(
    req: &S3Request<T>,
    allow_http: bool,
    algorithm: Option<&str>,
    key: Option<&str>,
    key_md5: Option<&str>,
) -> S3Result<Option<CustomerKey>> {
    let secure = req
        .extensions
        .get::<crate::http_server::SecureTransport>()
        .is_some_and(|s| s.0);
    let any = algorithm.is_some() || key.is_some() || key_md5.is_some();
    if any && !secure && !allow_http {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    CustomerKey::from_headers(algorithm, key, key_md5).map_err(to_s3_error)
}

/// [`customer_key`] from an input's SSE-C fields: `sse_customer` for the
/// object's own key, `copy_source_sse_customer` for a copy source's.
macro_rules! customer_key_of {
    ($req:expr, $allow:expr, sse_customer) => {
        sse::customer_key(
            &$req,
            $allow,
            $req.input.sse_customer_algorithm.as_deref(),
            $req.input.sse_customer_key.as_deref(),
            $req.input.sse_customer_key_md5.as_deref(),
        )
    };
    ($req:expr, $allow:expr, copy_source_sse_customer) => {
        sse::customer_key(
            &$req,
            $allow,
            $req.input.copy_source_sse_customer_algorithm.as_deref(),
            $req.input.copy_source_sse_customer_key.as_deref(),
            $req.input.copy_source_sse_customer_key_md5.as_deref(),
        )
    };
}
pub(crate) use customer_key_of;

/// The encryption a write asks for: SSE-C, `AES256` or `aws:kms`, never two
/// at once. `None` leaves it to the bucket's default.
pub(super) fn write_request(
    sse: Option<&ServerSideEncryption>,
    kms_key_id: Option<&str>,
    customer: Option<CustomerKey>,
) -> S3Result<Option<SseRequest>> {
    let kms_only = || {
        invalid_argument(
            "x-amz-server-side-encryption-aws-kms-key-id is only valid with x-amz-server-side-encryption: aws:kms",
        )
    };
    match (sse.map(ServerSideEncryption::as_str), customer) {
        (Some(_), Some(_)) => Err(invalid_argument(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )),
        (None, Some(c)) if kms_key_id.is_none() => Ok(Some(SseRequest::Customer(c))),
        (Some(ServerSideEncryption::AES256), None) if kms_key_id.is_none() => {
            Ok(Some(SseRequest::S3))
        }
        (Some(ServerSideEncryption::AWS_KMS | ServerSideEncryption::AWS_KMS_DSSE), None) => {
            Ok(Some(SseRequest::Kms {
                key_id: kms_key_id.map(str::to_owned),
            }))
        }
        (None, None) if kms_key_id.is_none() => Ok(None),
        (None | Some(ServerSideEncryption::AES256), _) => Err(kms_only()),
        (Some(other), None) => Err(invalid_argument(&format!(
            "The encryption method specified is not supported: {other}"
        ))),
    }
}

/// Reads never name a server-side encryption method: S3 refuses them.
pub(super) fn refuse_sse_on_read<T>(req: &S3Request<T>) -> S3Result<()> {
    if req.headers.contains_key("x-amz-server-side-encryption")
        || req
            .headers
            .contains_key("x-amz-server-side-encryption-aws-kms-key-id")
    {
        return Err(invalid_argument(
            "x-amz-server-side-encryption header is not supported for this operation.",
        ));
    }
    Ok(())
}

/// The encryption headers of a response about stored data.
#[derive(Default)]
pub(super) struct SseFields {
    pub server_side_encryption: Option<ServerSideEncryption>,
    pub sse_customer_algorithm: Option<String>,
    pub sse_customer_key_md5: Option<String>,
    pub ssekms_key_id: Option<String>,
}

pub(super) fn sse_fields(stored: Option<&StoredSse>) -> SseFields {
    let Some(s) = stored else {
        return SseFields::default();
    };
    match s.mode {
        SseMode::Customer => SseFields {
            sse_customer_algorithm: Some("AES256".into()),
            sse_customer_key_md5: s.customer_key_md5.clone(),
            ..Default::default()
        },
        SseMode::S3 => SseFields {
            server_side_encryption: Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AES256,
            )),
            ..Default::default()
        },
        SseMode::Kms => SseFields {
            server_side_encryption: Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AWS_KMS,
            )),
            ssekms_key_id: s.kms_key_id.clone(),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(v: &str) -> ServerSideEncryption {
        ServerSideEncryption::from(v.to_owned())
    }

    #[test]
    fn write_requests_accept_one_method_only() {
        assert!(matches!(
            write_request(Some(&sse("AES256")), None, None),
            Ok(Some(SseRequest::S3))
        ));
        assert!(matches!(
            write_request(Some(&sse("aws:kms")), Some("k1"), None),
            Ok(Some(SseRequest::Kms { key_id: Some(k) })) if k == "k1"
        ));
        assert!(matches!(write_request(None, None, None), Ok(None)));
        for (s, k) in [
            (Some("aes:kms"), None),
            (Some("AES256"), Some("k1")),
            (None, Some("k1")),
        ] {
            let e = write_request(s.map(sse).as_ref(), k, None).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument, "{s:?} {k:?}");
        }
        let c = CustomerKey::from_headers(
            Some("AES256"),
            Some("pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs="),
            Some("DWygnHRtgiJ77HCm+1rvHw=="),
        )
        .unwrap();
        assert!(write_request(Some(&sse("AES256")), None, c.clone()).is_err());
        assert!(matches!(
            write_request(None, None, c),
            Ok(Some(SseRequest::Customer(_)))
        ));
    }
}
