//! Static website hosting, like S3's website endpoints: a request to
//! `BUCKET.WEBSITE_DOMAIN` (`coffer serve --website-domain`) is an anonymous
//! GET or HEAD of the bucket's objects. A "directory" (`/`, or a key ending
//! in `/`) serves its index document, a key whose directory has one is
//! redirected to it, and failures serve the error document with their
//! status. As on S3, a missing key is 404 only when visitors may list the
//! bucket, 403 otherwise. Errors are HTML pages, not XML.

use bytes::Bytes;
use coffer_engine::{AccessRequest, Engine, EngineError, ObjectRecord};
use futures::TryStreamExt;
use http::{HeaderValue, Method, Response, StatusCode};
use s3s::Body;

fn html_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let page = format!(
        "<html>\n<head><title>{status}</title></head>\n<body>\n<h1>{status}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {message}</li>\n</ul>\n</body>\n</html>\n"
    );
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::new()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// An object found for a visitor, with its data opened unless the request
/// is a HEAD.
struct Found {
    rec: ObjectRecord,
    data: Option<coffer_engine::DataStream>,
}

/// Reads an object for an anonymous visitor; `Err` is the status, error
/// code and message the visitor gets.
async fn fetch(
    engine: &Engine,
    bucket: &str,
    key: &str,
    conditions: &[(String, String)],
    head: bool,
) -> Result<Found, (StatusCode, &'static str, &'static str)> {
    const NOT_FOUND: (StatusCode, &str, &str) = (
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
    );
    const INTERNAL: (StatusCode, &str, &str) = (
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
    );
    let access = AccessRequest {
        operation: "GetObject",
        bucket: Some(bucket),
        key: Some(key),
        version_id: None,
        conditions,
    };
    match engine
        .authorize(&coffer_types::Principal::anonymous(), access)
        .await
    {
        Ok(()) => {}
        Err(EngineError::NoSuchKey) => return Err(NOT_FOUND),
        Err(_) => return Err((StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")),
    }
    let mut attempts = 0;
    loop {
        let rec = match engine.get_object(bucket, key).await {
            Ok(rec) => rec,
            Err(EngineError::NoSuchKey | EngineError::DeleteMarker { .. }) => {
                return Err(NOT_FOUND);
            }
            Err(_) => return Err(INTERNAL),
        };
        // Objects under SSE-C cannot be served: the visitor has no key.
        let Ok(data_key) = engine.data_key(rec.sse.as_ref(), None) else {
            return Err((
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "The object is encrypted with a customer-provided key.",
            ));
        };
        if head {
            return Ok(Found { rec, data: None });
        }
        match engine
            .open_object(&rec, 0..rec.size, data_key.as_ref())
            .await
        {
            Ok(data) => {
                return Ok(Found {
                    rec,
                    data: Some(data),
                });
            }
            Err(EngineError::Superseded) if attempts < coffer_engine::READ_ATTEMPTS => {
                attempts += 1;
            }
            Err(_) => return Err(INTERNAL),
        }
    }
}

/// The response carrying an object's bytes (none for HEAD).
fn object_response(found: Found, status: StatusCode) -> Response<Body> {
    let rec = found.rec;
    let mut r = match found.data {
        None => Response::new(Body::from(Bytes::new())),
        Some(stream) => Response::new(Body::from(s3s::dto::StreamingBlob::wrap(
            stream.map_err(std::io::Error::other),
        ))),
    };
    *r.status_mut() = status;
    let h = r.headers_mut();
    let content_type = rec
        .headers
        .content_type
        .clone()
        .unwrap_or_else(|| "binary/octet-stream".into());
    for (name, value) in [
        (http::header::CONTENT_TYPE, content_type),
        (http::header::CONTENT_LENGTH, rec.size.to_string()),
        (http::header::ETAG, format!("\"{}\"", rec.etag)),
        (
            http::header::LAST_MODIFIED,
            crate::s3::http_date(rec.last_modified_ms),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

/// Serves one website request for `bucket`.
pub(crate) async fn serve(
    engine: &Engine,
    bucket: &str,
    method: &Method,
    path: &str,
    conditions: &[(String, String)],
) -> Response<Body> {
    let head = *method == Method::HEAD;
    if !head && *method != Method::GET {
        return html_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let website = match engine.bucket(bucket).await {
        Ok(b) => b.website,
        Err(_) => {
            return html_error(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
            );
        }
    };
    let Some(site) = website else {
        return html_error(
            StatusCode::NOT_FOUND,
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
        );
    };
    if let Some(host) = &site.redirect_host {
        let protocol = site.redirect_protocol.as_deref().unwrap_or("http");
        return redirect(
            StatusCode::MOVED_PERMANENTLY,
            &format!("{protocol}://{host}{path}"),
        );
    }
    let index = site.index_suffix.clone().unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    let key = if decoded.is_empty() || decoded.ends_with('/') {
        format!("{decoded}{index}")
    } else {
        decoded.clone()
    };
    let failure = match fetch(engine, bucket, &key, conditions, head).await {
        Ok(found) => return object_response(found, StatusCode::OK),
        Err(f) => f,
    };
    // `/dir` naming no object but a readable `dir/INDEX`: send the visitor
    // to `/dir/` (whether or not they may list the bucket).
    if !decoded.is_empty()
        && !decoded.ends_with('/')
        && matches!(
            engine.get_object(bucket, &decoded).await,
            Err(EngineError::NoSuchKey | EngineError::DeleteMarker { .. })
        )
        && fetch(
            engine,
            bucket,
            &format!("{decoded}/{index}"),
            conditions,
            true,
        )
        .await
        .is_ok()
    {
        return redirect(StatusCode::FOUND, &format!("/{decoded}/"));
    }
    if let Some(error_key) = &site.error_key
        && let Ok(found) = fetch(engine, bucket, error_key, conditions, head).await
    {
        return object_response(found, failure.0);
    }
    html_error(failure.0, failure.1, failure.2)
}
