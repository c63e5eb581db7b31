//! Authentication (which secret signs for an access key) and the access
//! check that turns credentials into a principal and asks the engine.

use coffer_engine::{AccessRequest, Engine, EngineError, is_temporary_key};
use coffer_types::Principal;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::RootCredentials;
use crate::errors::to_s3_error;

pub(crate) struct Auth {
    pub engine: Engine,
    pub root: RootCredentials,
}

/// The secret and principal behind an access key: the configured root key of
/// the first account, a key stored by the engine (other accounts' roots, IAM
/// users), or temporary credentials (STS) with their session token.
/// Inactive and unknown keys, and temporary keys without a token, resolve to
/// nothing; a token that does not verify, or one sent with a long-term key,
/// is InvalidToken, as on AWS.
pub(crate) async fn resolve(
    engine: &Engine,
    root: &RootCredentials,
    access_key: &str,
    token: Option<&str>,
) -> Result<Option<(String, Principal)>, EngineError> {
    if access_key == root.access_key {
        if token.is_some() {
            return Err(EngineError::InvalidToken);
        }
        return Ok(Some((
            root.secret_key.clone(),
            engine.root_principal(access_key),
        )));
    }
    if is_temporary_key(access_key) {
        return match token {
            Some(t) => engine.resolve_session(access_key, t).await.map(Some),
            None => Ok(None),
        };
    }
    if token.is_some() {
        return Err(EngineError::InvalidToken);
    }
    engine.resolve_access_key(access_key).await
}

/// The session token of a request: the `x-amz-security-token` header, or the
/// query parameter of a presigned URL (`X-Amz-Security-Token` in SigV4,
/// `x-amz-security-token` in SigV2).
pub(crate) fn session_token<'a>(
    headers: &'a http::HeaderMap,
    uri: &'a http::Uri,
) -> Option<String> {
    if let Some(v) = headers.get("x-amz-security-token") {
        return v.to_str().ok().map(str::to_owned);
    }
    let query = uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"))
        .map(|(_, v)| v)
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        // s3s asks for the secret before anything looks at the session
        // token; a temporary key's secret depends on the key id alone, and
        // the token is checked with the principal (Access::check).
        if is_temporary_key(access_key) && access_key != self.root.access_key {
            return Ok(SecretKey::from(self.engine.session_secret(access_key)));
        }
        match resolve(&self.engine, &self.root, access_key, None)
            .await
            .map_err(to_s3_error)?
        {
            Some((secret, _)) => Ok(SecretKey::from(secret)),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// Where the access check leaves the principal for the access log.
#[derive(Clone, Default)]
pub(crate) struct PrincipalSlot(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

/// Where the access check leaves the S3 operation s3s resolved, for the
/// access log and for telling a body that could not be read from a fault.
#[derive(Clone, Default)]
pub(crate) struct OperationSlot(pub std::sync::Arc<std::sync::OnceLock<String>>);

impl OperationSlot {
    pub(crate) fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Operations whose body is object data, streamed to the engine; every
/// other body is a document s3s reads whole before the operation runs.
pub(crate) fn streams_body(operation: &str) -> bool {
    matches!(operation, "PutObject" | "UploadPart" | "PostObject")
}

pub(crate) struct Access {
    pub engine: Engine,
    pub root: RootCredentials,
}

impl Access {
    /// Authentication already proved the key (s3s checked the signature
    /// with its secret), so the principal is whoever owns it.
    async fn principal(
        &self,
        access_key: Option<&str>,
        token: Option<&str>,
    ) -> S3Result<Principal> {
        let Some(k) = access_key else {
            return Ok(Principal::anonymous());
        };
        match resolve(&self.engine, &self.root, k, token)
            .await
            .map_err(to_s3_error)?
        {
            Some((_, p)) => Ok(p),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let token = session_token(cx.headers(), cx.uri());
        let principal = self
            .principal(
                cx.credentials().map(|c| c.access_key.as_str()),
                token.as_deref(),
            )
            .await?;
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let version_id: Option<String> = cx.uri().query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "versionId")
                .map(|(_, v)| v.into_owned())
        });
        let operation = cx.s3_op().name().to_owned();
        let peer = cx.extensions_mut().get::<PeerAddr>().map(|p| p.0);
        let secure = cx
            .extensions_mut()
            .get::<crate::http_server::SecureTransport>()
            .is_some_and(|s| s.0);
        let conditions =
            RequestConditions(request_conditions(cx.uri(), cx.headers(), peer, secure));
        if let Some(slot) = cx.extensions_mut().get::<PrincipalSlot>()
            && let Ok(mut g) = slot.0.lock()
        {
            *g = Some(principal.arn());
        }
        if let Some(slot) = cx.extensions_mut().get::<OperationSlot>() {
            let _ = slot.0.set(operation.clone());
        }
        refuse_oversized_document(&operation, cx.headers())?;
        // A browser-form POST names its key in the form, which s3s has not
        // exposed yet: PutObject checks that upload with its key instead.
        let deferred = operation == "PostObject";
        if !deferred {
            self.engine
                .authorize(
                    &principal,
                    AccessRequest {
                        operation: &operation,
                        bucket: bucket.as_deref(),
                        key: key.as_deref(),
                        version_id: version_id.as_deref(),
                        conditions: &conditions.0,
                    },
                )
                .await
                .map_err(to_s3_error)?;
        }
        // x-amz-expected-bucket-owner: the request only applies to a bucket
        // of that account.
        if let (Some(expected), Some(b)) = (
            cx.headers()
                .get("x-amz-expected-bucket-owner")
                .and_then(|v| v.to_str().ok()),
            bucket.as_deref(),
        ) && let Ok(rec) = self.engine.bucket(b).await
            && rec.owner != expected
        {
            return Err(s3s::s3_error!(AccessDenied, "Access Denied"));
        }
        note_key_used(&self.engine, &self.root, &principal, "s3");
        cx.extensions_mut().insert(principal);
        cx.extensions_mut().insert(conditions);
        Ok(())
    }
}

/// Request bodies other than object data are XML (or JSON) documents that
/// s3s reads whole, up to 20 MiB; past that it answers 500 (it does not
/// recognise the limit error of the body type it uses). S3's answer is 400
/// MaxMessageLengthExceeded, given here from Content-Length before any of
/// the body is read.
fn refuse_oversized_document(operation: &str, headers: &http::HeaderMap) -> S3Result<()> {
    const MAX_DOCUMENT_SIZE: u64 = 20 * 1024 * 1024;
    if streams_body(operation) {
        return Ok(());
    }
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > MAX_DOCUMENT_SIZE) {
        return Err(S3Error::with_message(
            S3ErrorCode::MaxMessageLengthExceeded,
            "Your request was too big.",
        ));
    }
    Ok(())
}

/// The client's address, put in each request's extensions by the HTTP layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub std::net::SocketAddr);

/// The condition keys of a request, kept in its extensions for the checks
/// operations make themselves (copy sources, keys of a DeleteObjects).
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestConditions(pub Vec<(String, String)>);

/// The condition keys AWS derives from an S3 request itself (the principal's
/// keys are added by the engine).
pub(crate) fn request_conditions(
    uri: &http::Uri,
    headers: &http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    secure: bool,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(p) = peer {
        out.push(("aws:SourceIp".into(), p.ip().to_canonical().to_string()));
    }
    out.push(("aws:SecureTransport".into(), secure.to_string()));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for (key, name) in [
        ("aws:UserAgent", "user-agent"),
        ("aws:Referer", "referer"),
        ("s3:x-amz-acl", "x-amz-acl"),
        ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
        (
            "s3:x-amz-server-side-encryption",
            "x-amz-server-side-encryption",
        ),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ),
        (
            "s3:x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-algorithm",
        ),
        ("s3:x-amz-grant-full-control", "x-amz-grant-full-control"),
        ("s3:x-amz-grant-read", "x-amz-grant-read"),
        ("s3:x-amz-grant-read-acp", "x-amz-grant-read-acp"),
        ("s3:x-amz-grant-write", "x-amz-grant-write"),
        ("s3:x-amz-grant-write-acp", "x-amz-grant-write-acp"),
        ("s3:object-lock-mode", "x-amz-object-lock-mode"),
        (
            "s3:object-lock-retain-until-date",
            "x-amz-object-lock-retain-until-date",
        ),
        ("s3:object-lock-legal-hold", "x-amz-object-lock-legal-hold"),
        ("s3:x-amz-storage-class", "x-amz-storage-class"),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
    ] {
        if let Some(v) = header(name) {
            out.push((key.into(), v.to_owned()));
        }
    }
    // s3:RequestObjectTag/KEY and s3:RequestObjectTagKeys from x-amz-tagging.
    if let Some(tags) = header("x-amz-tagging")
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
    {
        for (k, v) in tags {
            out.push((format!("s3:RequestObjectTag/{k}"), v));
            out.push(("s3:RequestObjectTagKeys".into(), k));
        }
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    for (key, param) in [
        ("s3:prefix", "prefix"),
        ("s3:delimiter", "delimiter"),
        ("s3:max-keys", "max-keys"),
        ("s3:VersionId", "versionId"),
    ] {
        if let Some((_, v)) = query.iter().find(|(k, _)| k == param) {
            out.push((key.into(), v.clone()));
        }
    }
    let authorization = header("authorization").unwrap_or_default();
    let (version, auth_type) = if authorization.starts_with("AWS4-HMAC-SHA256") {
        (Some("AWS4-HMAC-SHA256"), Some("REST-HEADER"))
    } else if authorization.starts_with("AWS ") {
        (Some("AWS"), Some("REST-HEADER"))
    } else if query.iter().any(|(k, _)| k == "X-Amz-Signature") {
        (Some("AWS4-HMAC-SHA256"), Some("REST-QUERY-STRING"))
    } else if query.iter().any(|(k, _)| k == "Signature") {
        (Some("AWS"), Some("REST-QUERY-STRING"))
    } else {
        (None, None)
    };
    if let (Some(v), Some(t)) = (version, auth_type) {
        out.push(("s3:signatureversion".into(), v.into()));
        out.push(("s3:authType".into(), t.into()));
    }
    out
}

/// Records, in the background, that a stored access key signed a verified
/// request (GetAccessKeyLastUsed). The configured root key is not stored.
pub(crate) fn note_key_used(
    engine: &Engine,
    root: &RootCredentials,
    principal: &Principal,
    service: &'static str,
) {
    if let Some(k) = principal.access_key.as_deref()
        && k != root.access_key
        && !principal.is_temporary()
    {
        let (engine, k) = (engine.clone(), k.to_owned());
        tokio::spawn(async move { engine.note_key_used(&k, service).await });
    }
}
