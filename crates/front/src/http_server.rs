//! Accepting connections and wrapping every request: request id, error
//! bodies that carry it, and one access-log line.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_engine::Engine;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::Body;
use tokio::net::TcpListener;

use crate::RootCredentials;
use crate::access::{OperationSlot, PrincipalSlot};

/// Error bodies are a few hundred bytes; anything larger is passed through
/// untouched rather than buffered.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub struct ServeOptions {
    pub engine: Engine,
    pub root: RootCredentials,
    /// Enables virtual-hosted-style addressing under this domain.
    pub domain: Option<String>,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Accept SSE-C keys over plain HTTP (S3 refuses them; for testing).
    pub allow_sse_c_over_http: bool,
    /// Serves buckets' static websites at `BUCKET.WEBSITE_DOMAIN`.
    pub website_domain: Option<String>,
}

/// A bound socket and, for HTTPS, its TLS configuration.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// What every connection shares.
#[derive(Clone)]
struct Shared {
    s3: s3s::service::S3Service,
    engine: Engine,
    root: RootCredentials,
    /// For virtual-hosted-style bucket names outside s3s (CORS).
    domain: Option<Arc<crate::host::DomainHost>>,
    /// The static website endpoint's domain.
    website: Option<Arc<crate::host::DomainHost>>,
}

/// Whether the request arrived over TLS (`aws:SecureTransport`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SecureTransport(pub bool);

/// Serves every listener until `shutdown` resolves, then stops accepting and
/// lets in-flight requests finish for at most `shutdown_grace`.
pub async fn serve(
    listeners: Vec<Listener>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let shared = Shared {
        s3: crate::s3_service(
            options.engine.clone(),
            options.root.clone(),
            options.domain.as_deref(),
            options.allow_sse_c_over_http,
        )?,
        engine: options.engine,
        root: options.root,
        domain: options
            .domain
            .as_deref()
            .map(crate::host::DomainHost::new)
            .transpose()?
            .map(Arc::new),
        website: options
            .website_domain
            .as_deref()
            .map(crate::host::DomainHost::new)
            .transpose()?
            .map(Arc::new),
    };
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut accepting = Vec::new();
    for l in listeners {
        let (shared, graceful, mut stop) = (shared.clone(), graceful.clone(), stop_rx.clone());
        accepting.push(tokio::spawn(async move {
            let acceptor = l.tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                tokio::select! {
                    accepted = l.tcp.accept() => match accepted {
                        Ok((stream, peer)) => serve_connection(&shared, &graceful, acceptor.clone(), stream, peer),
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for a in accepting {
        let _ = a.await;
    }
    tracing::info!("shutting down: waiting for in-flight requests");
    let graceful =
        Arc::try_unwrap(graceful).map_err(|_| "connections still registered".to_owned())?;
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!("in-flight requests did not finish in time; closing");
        }
    }
    Ok(())
}

/// The most a connection buffers from the socket (hyper's default is about
/// 400 KiB). It bounds request headers too: 64 KiB is eight times S3's own
/// 8 KiB limit. Every upload in flight holds one such buffer.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// How long a client may take to send a request's headers (and how long an
/// idle keep-alive connection waits for the next request).
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn serve_connection(
    shared: &Shared,
    graceful: &GracefulShutdown,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold small
    // responses back by ~40 ms.
    let _ = stream.set_nodelay(true);
    let shared = shared.clone();
    let secure = acceptor.is_some();
    let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req, peer, secure));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client must finish its request headers within HEADER_READ_TIMEOUT
    // (this also ends connections that send nothing): without a timer hyper
    // waits forever, and slow-drip clients each hold a task and a socket.
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_READ_BUFFER);
    match acceptor {
        None => {
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                // hyper's header timer starts at the first byte: a client
                // that connects and sends nothing is dropped here (TLS
                // connections are bounded by their handshake timeout).
                let mut first = [0u8; 1];
                if !matches!(
                    tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await,
                    Ok(Ok(1..))
                ) {
                    tracing::debug!(%peer, "connection sent nothing; closed");
                    return;
                }
                let conn = watcher.watch(
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .into_owned(),
                );
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        Some(acceptor) => {
            // The handshake runs in the connection's task, never in the
            // accept loop; it is bounded so idle handshakes cannot pile up.
            const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let conn = watcher.watch(
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                        .into_owned(),
                );
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    }
}

fn new_request_id() -> String {
    hex::encode_upper(rand::random::<[u8; 8]>())
}

async fn handle(
    shared: Shared,
    req: Request<Incoming>,
    peer: SocketAddr,
    secure: bool,
) -> Result<Response<Body>, std::convert::Infallible> {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let slot = PrincipalSlot::default();
    let operation = OperationSlot::default();
    let has_body = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || req.headers().contains_key(http::header::TRANSFER_ENCODING)
        // Even empty: it still owes its final chunk.
        || crate::chunk_seal::is_aws_chunked(req.headers());
    let expect = expectation(&req);
    let attributes_request = method == http::Method::GET
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|p| p == "attributes" || p.starts_with("attributes="))
        });
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cors_request = origin.as_ref().map(|_| {
        (
            crate::cors::bucket_of(shared.domain.as_deref(), req.headers(), req.uri().path()),
            req.headers().clone(),
        )
    });

    let website_bucket = shared.website.as_deref().and_then(|w| {
        req.headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| w.bucket_of(h))
    });

    let mut response = if let Some(bucket) = website_bucket {
        let conditions =
            crate::access::request_conditions(req.uri(), req.headers(), Some(peer), secure);
        crate::website::serve(&shared.engine, &bucket, &method, &path, &conditions).await
    } else if method == http::Method::OPTIONS {
        // Preflight requests are never signed.
        let bucket =
            crate::cors::bucket_of(shared.domain.as_deref(), req.headers(), req.uri().path());
        crate::cors::preflight(&shared.engine, bucket, req.headers()).await
    } else if req.uri().path() == "/-/health" {
        Response::new(Body::from(Bytes::from_static(b"ok\n")))
    } else if let Some(refusal) = check_presigned_expiry(req.uri())
        .or_else(|| check_one_auth_mechanism(&req))
        .or_else(|| check_query_is_utf8(req.uri()))
    {
        refusal
    } else if is_query_api(&req) {
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(crate::access::PeerAddr(peer));
        parts.extensions.insert(SecureTransport(secure));
        call_query_api(
            &shared,
            Request::from_parts(parts, body),
            &request_id,
            &slot,
        )
        .await
    } else if is_sigv2_bucket_request(&req) {
        call_sigv2_bucket_request(&shared.s3, req, &slot, peer, secure).await
    } else {
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(slot.clone());
        parts.extensions.insert(operation.clone());
        parts.extensions.insert(crate::access::PeerAddr(peer));
        parts.extensions.insert(SecureTransport(secure));
        lift_sigv2_query_token(&mut parts);
        let body = crate::body_rate::RateFloor::new(body);
        if let Some(boundary) = crate::post_form::form_boundary(&parts) {
            match crate::post_form::prepare(&mut parts, body, &boundary).await {
                crate::post_form::Prepared::Body(body) => {
                    call_s3(
                        &shared.s3,
                        Request::from_parts(parts, Body::http_body(body)),
                    )
                    .await
                }
                crate::post_form::Prepared::Refuse(refusal) => refusal,
            }
        } else {
            let body = if crate::chunk_seal::is_aws_chunked(&parts.headers) {
                Body::http_body(crate::chunk_seal::FinalChunk::new(body))
            } else {
                Body::http_body(body)
            };
            call_s3(&shared.s3, Request::from_parts(parts, body)).await
        }
    };
    // s3s always answers HeadObject with 200; a ranged HEAD is partial.
    if method == http::Method::HEAD
        && response.status() == StatusCode::OK
        && response.headers().contains_key(http::header::CONTENT_RANGE)
    {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if response.status().is_client_error() || response.status().is_server_error() {
        // A document body that could not be read (cut short, too slow,
        // broken aws-chunked framing) is the client's fault, but s3s
        // answers it with a bare 500.
        let unreadable_document = has_body
            && operation
                .get()
                .is_some_and(|op| !crate::access::streams_body(op));
        response = with_request_id_in_body(response, &request_id, unreadable_document).await;
    } else if attributes_request {
        response = with_unquoted_etag(response).await;
    } else if method == http::Method::POST && response.status() == StatusCode::SEE_OTHER {
        quote_redirect_etag(&mut response);
    }
    if let (Some(origin), Some((bucket, headers))) = (&origin, cors_request)
        && method != http::Method::OPTIONS
    {
        crate::cors::decorate(
            &shared.engine,
            bucket,
            origin,
            &method,
            &headers,
            &mut response,
        )
        .await;
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", v.clone());
        response.headers_mut().insert("x-amz-id-2", v);
    }
    // A final response to an `Expect: 100-continue` request that may not
    // have read the body closes the connection (RFC 9110 10.1.1): the
    // client may or may not send that body, so the next bytes on the
    // connection are not known to start a request. Without this, hyper
    // can drain the start of the client's next request as the rest of the
    // body. Empty bodies get no 100 Continue from hyper (allowed), which
    // botocore mishandles on a reused connection, stalling its next upload.
    if expect == Expectation::EmptyBody
        || (expect == Expectation::Body && !response.status().is_success())
    {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    let principal = slot
        .0
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .unwrap_or_else(|| "-".to_owned());
    let bytes = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info!(
        target: "coffer::access",
        %method,
        path = %path,
        operation = operation.get().unwrap_or("-"),
        status = response.status().as_u16(),
        bytes = %bytes,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        principal = %principal,
        peer = %peer,
        "request"
    );
    Ok(response)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expectation {
    None,
    /// `Expect: 100-continue` with `Content-Length: 0`.
    EmptyBody,
    /// `Expect: 100-continue` with a body.
    Body,
}

fn expectation(req: &Request<Incoming>) -> Expectation {
    let h = req.headers();
    if !h
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    {
        return Expectation::None;
    }
    if h.get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
    {
        Expectation::EmptyBody
    } else {
        Expectation::Body
    }
}

/// GetObjectAttributes shows the ETag without quotes, unlike every other
/// response; s3s always quotes it, so the (small) body is rewritten here.
async fn with_unquoted_etag(response: Response<Body>) -> Response<Body> {
    const MAX_ATTRIBUTES_BODY: usize = 1024 * 1024;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = http_body_util::Limited::new(body, MAX_ATTRIBUTES_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return xml_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        );
    };
    let text = String::from_utf8_lossy(&bytes);
    let fixed = match (text.find("<ETag>\""), text.find("\"</ETag>")) {
        (Some(a), Some(b)) if a < b => format!(
            "{}<ETag>{}</ETag>{}",
            &text[..a],
            &text[a + 7..b],
            &text[b + 8..]
        ),
        _ => return Response::from_parts(parts, Body::from(bytes)),
    };
    let mut parts = parts;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(fixed))
}

/// IAM and STS Query API requests: `POST /` signed for the `iam` or `sts`
/// service. s3s would refuse their credential scope, so they are routed
/// before it.
fn is_query_api(req: &Request<Incoming>) -> bool {
    req.uri().path() == "/"
        && matches!(*req.method(), http::Method::POST | http::Method::GET)
        && crate::query_auth::scope_service(req.headers()).is_some_and(|s| s == "iam" || s == "sts")
}

async fn call_query_api(
    shared: &Shared,
    req: Request<Incoming>,
    request_id: &str,
    slot: &PrincipalSlot,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, crate::iam_api::MAX_QUERY_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return xml_error(
                StatusCode::BAD_REQUEST,
                "RequestEntityTooLarge",
                "Request body too large.",
            );
        }
    };
    crate::iam_api::handle(
        &shared.engine,
        &shared.root,
        &parts,
        &body,
        request_id,
        slot,
    )
    .await
}

async fn call_s3(s3: &s3s::service::S3Service, req: Request<Body>) -> Response<Body> {
    match s3.call(req).await {
        Ok(r) => r,
        Err(e) => {
            let e: s3s::StdError = e.into();
            tracing::error!(error = %e, "request failed outside the S3 layer");
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

/// A browser-form POST with `success_action_redirect` is redirected to that
/// URL with `bucket`, `key` and `etag` added; S3 gives the ETag with its
/// quotes (`etag=%22...%22`), s3s without them.
fn quote_redirect_etag(response: &mut Response<Body>) {
    let Some(location) = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let Ok(mut url) = url::Url::parse(location) else {
        return;
    };
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if !pairs
        .iter()
        .any(|(k, v)| k == "etag" && !v.starts_with('"'))
    {
        return;
    }
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            if k == "etag" && !v.starts_with('"') {
                (k.clone(), format!("\"{v}\""))
            } else {
                (k.clone(), v.clone())
            }
        }));
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
}

/// A SigV2 presigned URL made with temporary credentials carries
/// `x-amz-security-token` in its query, and the client signed it as an
/// `x-amz-` header (botocore's HmacV1QueryAuth does). s3s builds the string
/// to sign from headers only, so the parameter is given to it as the header
/// the client signed.
fn lift_sigv2_query_token(parts: &mut http::request::Parts) {
    let Some(query) = parts.uri.query() else {
        return;
    };
    if parts.headers.contains_key("x-amz-security-token")
        || !query.split('&').any(|p| p.starts_with("AWSAccessKeyId="))
    {
        return;
    }
    let token = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "x-amz-security-token"))
        .and_then(|(_, v)| HeaderValue::from_str(&v).ok());
    if let Some(v) = token {
        parts.headers.insert("x-amz-security-token", v);
    }
}

/// A SigV2 header-signed request on a bucket (`/bucket`, no key).
fn is_sigv2_bucket_request(req: &Request<Incoming>) -> bool {
    let v2 = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(b"AWS "));
    let path = req.uri().path();
    v2 && path.len() > 1 && !path[1..].contains('/')
}

/// SigV2 signs a "canonical resource"; for a bucket, AWS accepts it with or
/// without a trailing slash (`/bucket` or `/bucket/`), and botocore signs the
/// latter for path-style requests. s3s derives it from the path as sent, so a
/// request it rejects is retried once with the slash. Bucket-level bodies are
/// small XML documents, buffered up to s3s's own XML limit.
async fn call_sigv2_bucket_request(
    s3: &s3s::service::S3Service,
    req: Request<Incoming>,
    slot: &PrincipalSlot,
    peer: SocketAddr,
    secure: bool,
) -> Response<Body> {
    const MAX_BUCKET_BODY: usize = 20 * 1024 * 1024;
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_BUCKET_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return xml_error(
                StatusCode::BAD_REQUEST,
                "MaxMessageLengthExceeded",
                "Your request was too big.",
            );
        }
    };
    let build = |uri: http::Uri| {
        let mut b = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .version(parts.version);
        if let Some(h) = b.headers_mut() {
            h.clone_from(&parts.headers);
        }
        let mut r = b.body(Body::from(body.clone())).unwrap_or_default();
        r.extensions_mut().insert(slot.clone());
        r.extensions_mut().insert(crate::access::PeerAddr(peer));
        r.extensions_mut().insert(SecureTransport(secure));
        r
    };
    let first = call_s3(s3, build(parts.uri.clone())).await;
    if first.status() != StatusCode::FORBIDDEN {
        return first;
    }
    let (first_parts, first_body) = first.into_parts();
    let first_bytes = first_body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mismatch = first_bytes
        .windows(b"SignatureDoesNotMatch".len())
        .any(|w| w == b"SignatureDoesNotMatch");
    let with_slash = format!(
        "{}/{}",
        parts.uri.path(),
        parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    match (mismatch, with_slash.parse::<http::Uri>()) {
        (true, Ok(uri)) => call_s3(s3, build(uri)).await,
        _ => Response::from_parts(first_parts, Body::from(first_bytes)),
    }
}

/// AWS's wording for errors that s3s raises without a message.
fn default_message(code: &str) -> &'static str {
    match code {
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema."
        }
        "InvalidBucketName" => "The specified bucket is not valid.",
        "MissingRequestBodyError" => "Request Body is empty.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        "InvalidURI" => "Couldn't parse the specified URI.",
        "KeyTooLongError" => "Your key is too long.",
        "NotImplemented" => {
            "A header or query you provided implies functionality that is not implemented."
        }
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "AccessDenied" => "Access Denied",
        _ => "The request could not be processed.",
    }
}

/// A request authenticates one way: an Authorization header, or a
/// presigned URL's query (SigV4's X-Amz-Algorithm, SigV2's Signature), not
/// both, as on S3.
fn check_one_auth_mechanism<B>(req: &Request<B>) -> Option<Response<Body>> {
    if !req.headers().contains_key(http::header::AUTHORIZATION) {
        return None;
    }
    let query = req.uri().query()?;
    let presigned = query.split('&').any(|p| {
        let name = p.split('=').next().unwrap_or_default();
        matches!(name, "X-Amz-Algorithm" | "X-Amz-Signature" | "Signature")
    });
    presigned.then(|| {
        xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        )
    })
}

/// Query parameters are UTF-8 text once percent-decoded; s3s would replace
/// invalid bytes with U+FFFD (a listing prefix `%FF` would then match keys
/// starting with U+FFFD), so such a query is refused.
fn check_query_is_utf8(uri: &http::Uri) -> Option<Response<Body>> {
    let query = uri.query()?;
    let valid = query.split(['&', '=']).all(|part| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .is_ok()
    });
    (!valid).then(|| {
        xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The query string is not valid UTF-8 once decoded.",
        )
    })
}

/// AWS limits presigned URLs to seven days; s3s checks expiry but not the
/// limit, so it is enforced here before the request reaches it.
fn check_presigned_expiry(uri: &http::Uri) -> Option<Response<Body>> {
    const MAX_PRESIGNED_EXPIRY_SECS: u64 = 7 * 24 * 3600;
    let query = uri.query()?;
    let value = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))?;
    match value.parse::<i64>() {
        Ok(n) if u64::try_from(n).is_ok_and(|n| n <= MAX_PRESIGNED_EXPIRY_SECS) => None,
        // A URL that expired before it was signed.
        Ok(n) if n < 0 => Some(xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        )),
        _ => Some(xml_error(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
    }
}

/// An engine error as an S3 XML error response, outside s3s.
pub(crate) fn engine_error(e: coffer_engine::EngineError) -> Response<Body> {
    let s3 = crate::errors::to_s3_error(e);
    let status = s3
        .status_code()
        .or_else(|| s3.code().status_code())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    xml_error(status, s3.code().as_str(), s3.message().unwrap_or_default())
}

pub(crate) fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// S3 error bodies carry the request id; s3s leaves it out, so it is added
/// here for every error, including those s3s raises itself.
///
/// With `unreadable_document`, a bare InternalError (s3s's own, without a
/// message: it failed to read the request's document body) becomes 400
/// IncompleteBody.
async fn with_request_id_in_body(
    response: Response<Body>,
    request_id: &str,
    unreadable_document: bool,
) -> Response<Body> {
    let is_xml = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    let small = http_body::Body::size_hint(response.body())
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY as u64);
    if !is_xml || !small {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let bytes = collected.to_bytes();
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut new = text.to_owned();
    // s3s reports a browser-form POST that breaks its policy's conditions
    // as 400 InvalidPolicyDocument; S3 answers 403 AccessDenied "Invalid
    // according to Policy".
    if parts.status == StatusCode::BAD_REQUEST
        && new.contains("<Code>InvalidPolicyDocument</Code>")
        && (new.contains("<Message>Policy condition")
            || new.contains("<Message>Bucket in form field"))
    {
        new = new
            .replace(
                "<Code>InvalidPolicyDocument</Code>",
                "<Code>AccessDenied</Code>",
            )
            .replace("<Message>", "<Message>Invalid according to Policy: ");
        parts.status = StatusCode::FORBIDDEN;
    }
    if unreadable_document
        && parts.status == StatusCode::INTERNAL_SERVER_ERROR
        && new.contains("<Code>InternalError</Code>")
        && !new.contains("<Message>")
    {
        tracing::debug!(request_id, "request body could not be read");
        new = new.replace(
            "<Code>InternalError</Code>",
            "<Code>IncompleteBody</Code><Message>The request body could not be read: it ended early, arrived too slowly or was not framed as declared.</Message>",
        );
        parts.status = StatusCode::BAD_REQUEST;
    }
    if !new.contains("<Message>")
        && let (Some(start), Some(end)) = (new.find("<Code>"), new.find("</Code>"))
    {
        let code = new[start + 6..end].to_owned();
        new.insert_str(
            end + 7,
            &format!("<Message>{}</Message>", default_message(&code)),
        );
    }
    if !new.contains("<RequestId>")
        && let Some(i) = new.rfind("</Error>")
    {
        new.insert_str(i, &format!("<RequestId>{request_id}</RequestId>"));
    }
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(new.len()));
    Response::from_parts(parts, Body::from(new))
}
