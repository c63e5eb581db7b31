//! CORS at the HTTP layer: preflight `OPTIONS` requests, and the
//! `Access-Control-*` headers on every response to a request with an
//! `Origin`, from the bucket's CORS rules (coffer_engine::cors).

use bytes::Bytes;
use coffer_engine::Engine;
use coffer_engine::cors::matching_rule;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use s3s::Body;

use crate::host::DomainHost;

/// The bucket a request addresses: `BUCKET.DOMAIN` or the first path
/// segment.
pub(crate) fn bucket_of(
    domain: Option<&DomainHost>,
    headers: &HeaderMap,
    path: &str,
) -> Option<String> {
    if let (Some(d), Some(host)) = (
        domain,
        headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok()),
    ) && let Some(b) = d.bucket_of(host)
    {
        return Some(b);
    }
    let first = path.trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_owned())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The headers a request asked to send (`Access-Control-Request-Headers`).
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    header(headers, "access-control-request-headers")
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Adds the headers of the rule that allows `origin` to use `method`.
fn allow(
    out: &mut HeaderMap,
    rule: &coffer_engine::CorsRule,
    origin: &str,
    request_headers: &[String],
) {
    let wildcard = rule.allowed_origins.iter().any(|o| o == "*");
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    set(
        "access-control-allow-origin",
        if wildcard { "*".into() } else { origin.into() },
    );
    set(
        "access-control-allow-methods",
        rule.allowed_methods.join(", "),
    );
    if !request_headers.is_empty() {
        set("access-control-allow-headers", request_headers.join(", "));
    }
    if !rule.expose_headers.is_empty() {
        set(
            "access-control-expose-headers",
            rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set("access-control-max-age", age.to_string());
    }
    if !wildcard {
        set("access-control-allow-credentials", "true".into());
    }
    set(
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
    );
}

/// Answers a preflight request.
pub(crate) async fn preflight(
    engine: &Engine,
    bucket: Option<String>,
    headers: &HeaderMap,
) -> Response<Body> {
    let (Some(origin), Some(method)) = (
        header(headers, "origin"),
        header(headers, "access-control-request-method"),
    ) else {
        return crate::http_server::xml_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        );
    };
    let rules = match bucket {
        Some(b) => match engine.bucket(&b).await {
            Ok(rec) => rec.cors,
            Err(coffer_engine::EngineError::NoSuchBucket) => {
                return forbidden("CORSResponse: Bucket not found");
            }
            Err(e) => return crate::http_server::engine_error(e),
        },
        None => None,
    };
    let Some(rules) = rules else {
        return forbidden("CORSResponse: CORS is not enabled for this bucket.");
    };
    let wanted = requested_headers(headers);
    let wanted_refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    match matching_rule(&rules, origin, method, &wanted_refs) {
        Some(rule) => {
            let mut r = Response::new(Body::from(Bytes::new()));
            allow(r.headers_mut(), rule, origin, &wanted);
            r
        }
        None => forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

fn forbidden(message: &str) -> Response<Body> {
    crate::http_server::xml_error(StatusCode::FORBIDDEN, "AccessForbidden", message)
}

/// Adds CORS headers to the response of an actual (non-preflight) request
/// that carried an `Origin`, whatever its status.
pub(crate) async fn decorate(
    engine: &Engine,
    bucket: Option<String>,
    origin: &str,
    method: &Method,
    request_headers: &HeaderMap,
    response: &mut Response<Body>,
) {
    let Some(b) = bucket else { return };
    let Ok(rec) = engine.bucket(&b).await else {
        return;
    };
    let Some(rules) = rec.cors else { return };
    // A request may name the method it stands for, as a preflight does.
    let method =
        header(request_headers, "access-control-request-method").unwrap_or(method.as_str());
    if let Some(rule) = matching_rule(&rules, origin, method, &[]) {
        allow(response.headers_mut(), rule, origin, &[]);
    }
}
