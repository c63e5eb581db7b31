//! SigV4 verification for the Query APIs (IAM, STS) that answer on the
//! S3 port. s3s verifies S3 requests but refuses the `iam` and `sts`
//! credential scopes, so these requests are checked here, with the same
//! rules: the canonical request rebuilt from what was received, the 15-minute
//! clock-skew window, and a constant-time comparison of signatures.

use std::time::Duration;

use coffer_engine::Engine;
use coffer_types::Principal;
use subtle::ConstantTimeEq as _;

use crate::RootCredentials;
use crate::access::resolve;

/// AWS rejects requests whose time is more than 15 minutes off.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub(crate) struct AuthError {
    pub code: &'static str,
    pub message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        code,
        message: message.into(),
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authorization<'a> {
    pub access_key: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

pub(crate) fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let auth = Authorization {
        access_key: scope.next()?,
        date: scope.next()?,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    };
    (scope.next() == Some("aws4_request") && scope.next().is_none()).then_some(auth)
}

/// The service a request's SigV4 credential scope names, if any.
pub(crate) fn scope_service(headers: &http::HeaderMap) -> Option<String> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    parse_authorization(v).map(|a| a.service.to_owned())
}

fn parse_amz_date(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// Verifies a SigV4 header-signed Query API request and returns who signed it.
pub(crate) async fn verify(
    engine: &Engine,
    root: &RootCredentials,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Principal, AuthError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            fail(
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        })?;
    let auth = parse_authorization(header).ok_or_else(|| {
        fail(
            "IncompleteSignature",
            "The Authorization header is not a valid AWS4-HMAC-SHA256 header",
        )
    })?;
    let amz_date = parts
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            fail(
                "IncompleteSignature",
                "The request must carry an x-amz-date header",
            )
        })?;
    let when = parse_amz_date(amz_date)
        .ok_or_else(|| fail("IncompleteSignature", "x-amz-date is not a valid date"))?;
    let skew = (time::OffsetDateTime::now_utc() - when).unsigned_abs();
    if skew > MAX_CLOCK_SKEW {
        return Err(fail(
            "SignatureDoesNotMatch",
            "Signature expired: the request time is more than 15 minutes away from the server time",
        ));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(fail(
            "SignatureDoesNotMatch",
            "The credential scope date does not match x-amz-date",
        ));
    }
    let token = crate::access::session_token(&parts.headers, &parts.uri);
    let (secret, principal) = resolve(engine, root, auth.access_key, token.as_deref())
        .await
        .map_err(|e| match e {
            coffer_engine::EngineError::ExpiredToken => fail(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            coffer_engine::EngineError::InvalidToken => fail(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            _ => fail("InternalFailure", "could not look up the access key"),
        })?
        .ok_or_else(|| {
            fail(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        })?;

    let body_hash = coffer_sigv4::sha256_hex(body);
    let payload_hash = match parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) if h != body_hash && h != coffer_sigv4::UNSIGNED_PAYLOAD => {
            return Err(fail(
                "SignatureDoesNotMatch",
                "The body does not match x-amz-content-sha256",
            ));
        }
        Some(h) => h.to_owned(),
        None => body_hash,
    };
    let mut headers = Vec::new();
    for name in &auth.signed_headers {
        let values: Vec<&str> = parts
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(fail(
                "SignatureDoesNotMatch",
                format!("Signed header {name} is missing"),
            ));
        }
        headers.push(((*name).to_owned(), values.join(",")));
    }
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let signer = coffer_sigv4::Signer {
        access_key: auth.access_key,
        secret_key: &secret,
        region: auth.region,
        service: auth.service,
        amz_date,
    };
    let (canonical, _) = coffer_sigv4::canonical_request(&coffer_sigv4::Request {
        method: parts.method.as_str(),
        path: &path,
        query,
        headers,
        payload_hash: &payload_hash,
    });
    let expected = signer.signature(&canonical);
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(fail(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_parse_into_their_parts() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert_eq!(
            a,
            Some(Authorization {
                access_key: "AKID",
                date: "20260101",
                region: "us-east-1",
                service: "iam",
                signed_headers: vec!["host", "x-amz-date"],
                signature: "abc",
            })
        );
        assert!(parse_authorization("AWS AKID:sig").is_none());
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/iam/other, SignedHeaders=host, Signature=a").is_none());
    }
}
