//! Browser-form uploads (POST Object): the parts of the form S3 acts on that
//! s3s does not.
//!
//! s3s parses the form, checks its policy and signature and turns it into a
//! PutObject, but it reads only header-named fields (`x-amz-acl`,
//! `x-amz-tagging`), knows no `${filename}`, requires a policy condition for
//! checksum fields and takes a loosely written `expiration`. So before s3s
//! sees the body, Coffer reads the fields that precede the file (they come
//! first: S3 ignores anything after the file) and:
//!
//! - replaces `${filename}` in `key` with the file's name, before the policy
//!   is checked against the key, as S3 does;
//! - answers 400 InvalidPolicyDocument for an `expiration` that is not an
//!   ISO 8601 (RFC 3339) time, and 400 InvalidArgument for a form that names
//!   an access key but carries no signature;
//! - keeps `acl`, `tagging` (a Tagging XML document) and the `x-amz-checksum-*`
//!   fields in a [`PostFormFields`] request extension, which `put_object`
//!   applies. Checksum fields leave the form, as S3 does not ask the policy
//!   to name them.
//!
//! The body handed on is the fields (the key rewritten, checksum fields
//! dropped) followed by the rest of the original bytes, untouched.
//!
//! The fields are found by hand rather than with a multipart crate because
//! the rest of the body must go on byte for byte, and the parsers at hand
//! (s3s's own is private; multer) consume the stream without telling where
//! the file part begins.

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most form bytes read ahead of the file. Past it the form goes on to
/// s3s as it came (S3 bounds the policy document at 20 KB).
pub(crate) const MAX_FIELDS_BYTES: usize = 1 << 20;
/// New bytes that make the fields worth looking for again (see `prepare`).
const MIN_RESCAN_BYTES: usize = 4096;

/// What `put_object` takes from the form beyond what s3s passes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PostFormFields {
    /// The `acl` field: a canned ACL.
    pub acl: Option<String>,
    /// The `tagging` field, as (key, value) pairs.
    pub tags: Option<Vec<(String, String)>>,
    /// `x-amz-checksum-*` fields: (lower-case name, value).
    pub checksums: Vec<(String, String)>,
}

/// The form's boundary when `req` may be a POST Object: a POST of a form
/// with no query and no Authorization header (a form's signature is inside
/// it; a signed request may cover its body, which must then not change).
pub(crate) fn form_boundary(parts: &http::request::Parts) -> Option<String> {
    if parts.method != http::Method::POST
        || parts.uri.query().is_some_and(|q| !q.is_empty())
        || parts.headers.contains_key(http::header::AUTHORIZATION)
    {
        return None;
    }
    boundary_of(&parts.headers)
}

/// The form's boundary, from `Content-Type: multipart/form-data; boundary=...`.
fn boundary_of(headers: &http::HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let mut params = ct.split(';');
    if !params
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// One field of the form as found in the raw bytes.
#[derive(Debug)]
struct Field {
    /// Lower-cased name.
    name: String,
    /// From its delimiter up to the next one.
    raw: Range<usize>,
    /// Its value.
    value: Range<usize>,
}

/// The fields before the file, and where the file part starts.
#[derive(Debug)]
struct Head {
    fields: Vec<Field>,
    file_part: usize,
    filename: Option<String>,
}

#[derive(Debug)]
enum Scan {
    /// The file part has begun.
    Found(Head),
    /// More bytes are needed.
    Incomplete,
    /// Not a form this module can read (no file, or malformed): s3s decides.
    Unusable,
}

/// Finds the fields ahead of the file part in `buf`, the start of a form
/// with `boundary`.
fn scan(buf: &[u8], boundary: &str) -> Scan {
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    // A preamble may precede the first delimiter (bounded by the caller).
    let Some(first) = memchr::memmem::find(buf, delim.as_bytes()) else {
        return Scan::Incomplete;
    };
    let mut fields = Vec::new();
    let mut at = first;
    loop {
        let after = at + delim.len();
        if buf.len() < after + 2 {
            return Scan::Incomplete;
        }
        if &buf[after..after + 2] != b"\r\n" {
            // "--" closes the form: it had no file.
            return Scan::Unusable;
        }
        let headers_start = after + 2;
        let Some(headers_len) = memchr::memmem::find(&buf[headers_start..], b"\r\n\r\n") else {
            return Scan::Incomplete;
        };
        let Ok(headers) = std::str::from_utf8(&buf[headers_start..headers_start + headers_len])
        else {
            return Scan::Unusable;
        };
        let Some((name, filename)) = disposition(headers) else {
            return Scan::Unusable;
        };
        let content = headers_start + headers_len + 4;
        // The file is the part named "file"; other parts may carry a
        // filename too (Python's requests gives every part one).
        if name == "file" {
            return Scan::Found(Head {
                fields,
                file_part: at,
                filename,
            });
        }
        let Some(len) = memchr::memmem::find(&buf[content..], next_delim.as_bytes()) else {
            return Scan::Incomplete;
        };
        let end = content + len;
        fields.push(Field {
            name,
            raw: at..end + 2,
            value: content..end,
        });
        at = end + 2;
    }
}

/// The lower-cased `name` and the `filename` of a part, from its headers.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.split("\r\n").find_map(|l| {
        let (h, v) = l.split_once(':')?;
        h.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    })?;
    let mut params = line.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut filename) = (None, None);
    for p in params {
        let Some((k, v)) = p.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_ascii_lowercase()),
            "filename" => filename = Some(v.to_owned()),
            _ => {}
        }
    }
    Some((name?, filename))
}

/// The outcome of [`prepare`].
pub(crate) enum Prepared<B> {
    /// Go on with this body (and the headers as adjusted).
    Body(Replay<B>),
    /// Answer this instead.
    Refuse(http::Response<s3s::Body>),
}

/// Whether the fields are worth looking for again: `scan` starts from the
/// top each time, so it runs again only once the buffer has grown by a
/// quarter since the last pass (or the body ended). A form dribbled in tiny
/// frames then costs a few passes over it, not one per frame.
fn rescan_due(scanned: usize, len: usize, ended: bool) -> bool {
    ended || len - scanned >= (scanned / 4).max(MIN_RESCAN_BYTES)
}

/// Reads the form's fields from `body` (a form with `boundary`, see
/// [`form_boundary`]), applies the rules in the module comment, and returns
/// the body to hand to s3s. `parts` gets the [`PostFormFields`] extension
/// and a corrected Content-Length.
pub(crate) async fn prepare<B>(
    parts: &mut http::request::Parts,
    mut body: B,
    boundary: &str,
) -> Prepared<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut buf = BytesMut::new();
    let mut scanned = 0;
    let head = loop {
        let ended = match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
                false
            }
            Some(Err(e)) => return Prepared::Refuse(body_error(e.into())),
            None => true,
        };
        if !rescan_due(scanned, buf.len(), ended) {
            continue;
        }
        scanned = buf.len();
        match scan(&buf, boundary) {
            Scan::Found(head) => break Some(head),
            Scan::Unusable => break None,
            Scan::Incomplete if ended || buf.len() > MAX_FIELDS_BYTES => break None,
            Scan::Incomplete => {}
        }
    };
    let buf = buf.freeze();
    let Some(head) = head else {
        return Prepared::Body(Replay::new(buf, body));
    };
    match rewrite(&buf, &head) {
        Err(refusal) => Prepared::Refuse(refusal),
        Ok((form, extras)) => {
            if let Some(len) = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                let new_len = len.saturating_sub(buf.len() as u64) + form.len() as u64;
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(new_len),
                );
            }
            parts.extensions.insert(extras);
            Prepared::Body(Replay::new(form, body))
        }
    }
}

/// The form's bytes up to the end of `buf`, rewritten, and what
/// `put_object` needs from it.
#[allow(clippy::result_large_err)]
fn rewrite(buf: &Bytes, head: &Head) -> Result<(Bytes, PostFormFields), http::Response<s3s::Body>> {
    let text = |f: &Field| String::from_utf8_lossy(&buf[f.value.clone()]).into_owned();
    let has = |name: &str| head.fields.iter().any(|f| f.name == name);
    if let Some(f) = head.fields.iter().find(|f| f.name == "policy") {
        check_expiration(&text(f))?;
    }
    if has("awsaccesskeyid") && !has("signature") {
        return Err(invalid_argument(
            "Bucket POST must contain a field named 'Signature'.",
        ));
    }
    if has("x-amz-credential") && !has("x-amz-signature") {
        return Err(invalid_argument(
            "Bucket POST must contain a field named 'X-Amz-Signature'.",
        ));
    }
    let mut extras = PostFormFields::default();
    let mut out = BytesMut::with_capacity(buf.len());
    for f in &head.fields {
        match f.name.as_str() {
            name if name.starts_with("x-amz-checksum-") => {
                extras.checksums.push((name.to_owned(), text(f)));
                continue;
            }
            "key" => {
                if let Some(filename) = &head.filename {
                    let key = text(f).replace("${filename}", filename);
                    out.extend_from_slice(&buf[f.raw.start..f.value.start]);
                    out.extend_from_slice(key.as_bytes());
                    out.extend_from_slice(&buf[f.value.end..f.raw.end]);
                    continue;
                }
            }
            "acl" => extras.acl = Some(text(f)),
            "tagging" => extras.tags = Some(parse_tagging(&buf[f.value.clone()])?),
            _ => {}
        }
        out.extend_from_slice(&buf[f.raw.clone()]);
    }
    out.extend_from_slice(&buf[head.file_part..]);
    Ok((out.freeze(), extras))
}

/// S3 wants the policy's `expiration` in ISO 8601; s3s also takes other
/// spellings (a space for the `T`, no zone).
#[allow(clippy::result_large_err)]
fn check_expiration(policy_b64: &str) -> Result<(), http::Response<s3s::Body>> {
    use base64::Engine as _;
    // A policy s3s cannot read is s3s's to refuse.
    let Ok(doc) = base64::engine::general_purpose::STANDARD.decode(policy_b64.trim()) else {
        return Ok(());
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&doc) else {
        return Ok(());
    };
    let Some(exp) = json.get("expiration").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let strict = exp.len() >= 11 && exp.as_bytes()[10] == b'T';
    match time::OffsetDateTime::parse(exp, &time::format_description::well_known::Rfc3339) {
        Ok(_) if strict => Ok(()),
        _ => Err(crate::http_server::xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyDocument",
            &format!("Invalid Policy: Invalid 'expiration' value: '{exp}'"),
        )),
    }
}

#[allow(clippy::result_large_err)]
fn parse_tagging(xml: &[u8]) -> Result<Vec<(String, String)>, http::Response<s3s::Body>> {
    use s3s::xml::Deserialize as _;
    let malformed = || {
        crate::http_server::xml_error(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let mut d = s3s::xml::Deserializer::new(xml);
    let tagging = s3s::dto::Tagging::deserialize(&mut d).map_err(|_| malformed())?;
    d.expect_eof().map_err(|_| malformed())?;
    crate::s3::convert::tag_pairs(tagging.tag_set).map_err(|_| malformed())
}

fn invalid_argument(message: &str) -> http::Response<s3s::Body> {
    crate::http_server::xml_error(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

fn body_error(e: BoxError) -> http::Response<s3s::Body> {
    match e.downcast::<s3s::S3Error>() {
        Ok(s3) => {
            let status = s3.status_code().unwrap_or(StatusCode::BAD_REQUEST);
            let message = s3.message().unwrap_or("").to_owned();
            crate::http_server::xml_error(status, s3.code().as_str(), &message)
        }
        Err(_) => crate::http_server::xml_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "The request body terminated unexpectedly",
        ),
    }
}

/// `prefix`, then the rest of `inner`.
pub(crate) struct Replay<B> {
    prefix: Option<Bytes>,
    inner: B,
}

impl<B> Replay<B> {
    fn new(prefix: Bytes, inner: B) -> Self {
        Self {
            prefix: (!prefix.is_empty()).then_some(prefix),
            inner,
        }
    }
}

impl<B> Body for Replay<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(chunk) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let ahead = self.prefix.as_ref().map_or(0, |c| c.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + ahead);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + ahead);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    const B: &str = "XyZ123";

    fn form(fields: &[(&str, &str)], filename: Option<&str>, file: &str) -> Vec<u8> {
        let mut out = String::from("preamble\r\n");
        for (k, v) in fields {
            // Python's requests names a filename on every part.
            out += &format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{k}\"\r\n\r\n{v}\r\n"
            );
        }
        let fname = filename
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        out += &format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"file\"{fname}\r\nContent-Type: text/plain\r\n\r\n{file}\r\n--{B}--\r\n"
        );
        out.into_bytes()
    }

    fn request(body_len: usize) -> http::request::Parts {
        let (parts, ()) = http::Request::post("/bucket")
            .header(
                "content-type",
                format!("multipart/form-data; boundary=\"{B}\""),
            )
            .header("content-length", body_len)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    /// `data` delivered `step` bytes at a time.
    fn chunked(
        data: &[u8],
        step: usize,
    ) -> StreamBody<impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> + Unpin> {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = data
            .chunks(step)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(futures::stream::iter(chunks))
    }

    async fn run(data: &[u8], step: usize) -> (http::request::Parts, Result<Vec<u8>, u16>) {
        let mut parts = request(data.len());
        let boundary = form_boundary(&parts).unwrap();
        match prepare(&mut parts, chunked(data, step), &boundary).await {
            Prepared::Body(b) => {
                let out = b.collect().await.unwrap().to_bytes().to_vec();
                (parts, Ok(out))
            }
            Prepared::Refuse(r) => (parts, Err(r.status().as_u16())),
        }
    }

    #[tokio::test]
    async fn filename_goes_into_the_key_and_extras_come_out_at_any_chunking() {
        let tagging = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>";
        let data = form(
            &[
                ("key", "up/${filename}"),
                ("acl", "public-read"),
                ("Tagging", tagging),
                ("x-amz-checksum-sha256", "abc="),
            ],
            Some("photo.jpg"),
            "the file body",
        );
        let expected = form(
            &[
                ("key", "up/photo.jpg"),
                ("acl", "public-read"),
                ("Tagging", tagging),
            ],
            Some("photo.jpg"),
            "the file body",
        );
        // The preamble is dropped: s3s skips it anyway.
        let expected = &expected["preamble\r\n".len()..];
        for step in [1, 7, 64, 100_000] {
            let (parts, out) = run(&data, step).await;
            assert_eq!(out.unwrap(), expected, "step {step}");
            let extras = parts.extensions.get::<PostFormFields>().unwrap();
            assert_eq!(extras.acl.as_deref(), Some("public-read"));
            assert_eq!(extras.tags, Some(vec![("a".into(), "1".into())]));
            assert_eq!(
                extras.checksums,
                vec![("x-amz-checksum-sha256".into(), "abc=".into())]
            );
            let len = parts.headers[http::header::CONTENT_LENGTH]
                .to_str()
                .unwrap();
            assert_eq!(len, expected.len().to_string());
        }
    }

    #[tokio::test]
    async fn a_large_form_in_tiny_frames_is_read_in_a_few_passes() {
        let meta = "m".repeat(200_000);
        let data = form(
            &[("key", "k/${filename}"), ("x-amz-meta-big", &meta)],
            Some("f.txt"),
            "x",
        );
        let expected = form(
            &[("key", "k/f.txt"), ("x-amz-meta-big", &meta)],
            Some("f.txt"),
            "x",
        );
        let (_, out) = run(&data, 3).await;
        assert_eq!(out.unwrap(), &expected["preamble\r\n".len()..]);
        // The same frames as prepare sees them: scanning from the top on each
        // of the ~67,000 would pass over about 6 GB.
        let (mut scanned, mut passes) = (0, 0);
        for len in (3..=data.len()).step_by(3) {
            if rescan_due(scanned, len, false) {
                scanned = len;
                passes += 1;
            }
        }
        assert!(passes < 20, "{passes} passes");
    }

    #[tokio::test]
    async fn forms_without_a_file_or_too_long_go_on_unchanged() {
        let no_file = format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--{B}--\r\n"
        );
        let (parts, out) = run(no_file.as_bytes(), 5).await;
        assert_eq!(out.unwrap(), no_file.as_bytes());
        assert!(parts.extensions.get::<PostFormFields>().is_none());

        let big = "x".repeat(2 * MAX_FIELDS_BYTES);
        let data = form(
            &[("key", "${filename}"), ("x-amz-meta-big", &big)],
            Some("f"),
            "body",
        );
        let (parts, out) = run(&data, 64 * 1024).await;
        assert_eq!(out.unwrap(), data);
        assert!(parts.extensions.get::<PostFormFields>().is_none());
    }

    #[tokio::test]
    async fn bad_expirations_missing_signatures_and_bad_tagging_are_refused() {
        use base64::Engine as _;
        let policy = |exp: &str| {
            base64::engine::general_purpose::STANDARD
                .encode(format!("{{\"expiration\": \"{exp}\", \"conditions\": []}}"))
        };
        let good = policy("2030-01-01T00:00:00.000Z");
        let (_, out) = run(&form(&[("policy", &good)], None, "x"), 10).await;
        assert!(out.is_ok());
        for bad in ["2030-01-01 00:00:00.123+00:00", "2030-01-01", "tomorrow"] {
            let (_, out) = run(&form(&[("policy", &policy(bad))], None, "x"), 10).await;
            assert_eq!(out, Err(400), "{bad}");
        }
        let (_, out) = run(
            &form(&[("AWSAccessKeyId", "AK"), ("policy", &good)], None, "x"),
            10,
        )
        .await;
        assert_eq!(out, Err(400));
        let signed = [
            ("AWSAccessKeyId", "AK"),
            ("signature", "s"),
            ("policy", &good),
        ];
        let (_, out) = run(&form(&signed, None, "x"), 10).await;
        assert!(out.is_ok());
        let (_, out) = run(
            &form(&[("x-amz-credential", "c"), ("policy", &good)], None, "x"),
            10,
        )
        .await;
        assert_eq!(out, Err(400));
        let (_, out) = run(&form(&[("tagging", "<Tagging><TagSet>")], None, "x"), 10).await;
        assert_eq!(out, Err(400));
    }

    #[test]
    fn only_unsigned_form_posts_without_a_query_apply() {
        let parts = |uri: &str, ct: &str, auth: bool| {
            let mut b = http::Request::post(uri).header("content-type", ct);
            if auth {
                b = b.header("authorization", "AWS4-HMAC-SHA256 ...");
            }
            b.body(()).unwrap().into_parts().0
        };
        let form = "multipart/form-data; boundary=abc";
        let abc = Some("abc".to_owned());
        assert_eq!(form_boundary(&parts("/b", form, false)), abc);
        let shouted = "Multipart/Form-Data; Boundary=\"abc\"";
        assert_eq!(form_boundary(&parts("/b", shouted, false)), abc);
        assert_eq!(form_boundary(&parts("/b?delete", form, false)), None);
        assert_eq!(form_boundary(&parts("/b", form, true)), None);
        assert_eq!(form_boundary(&parts("/b", "application/xml", false)), None);
        assert_eq!(
            form_boundary(&parts("/b", "multipart/form-data", false)),
            None
        );
    }

    #[tokio::test]
    async fn a_body_that_fails_while_fields_are_read_is_refused() {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = vec![
            Ok(Frame::data(Bytes::from_static(b"--XyZ123\r\nContent-Disp"))),
            Err("connection reset".into()),
        ];
        let body = StreamBody::new(futures::stream::iter(chunks));
        let mut parts = request(1000);
        match prepare(&mut parts, body, B).await {
            Prepared::Refuse(r) => assert_eq!(r.status(), StatusCode::BAD_REQUEST),
            Prepared::Body(_) => panic!("a failed body went on"),
        }
    }
}
