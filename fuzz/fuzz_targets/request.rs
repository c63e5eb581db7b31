//! Whole S3 requests against a Coffer server running in this process, over
//! loopback TCP, as a client sends them: a fuzzed method, key, query,
//! S3 headers and body, signed correctly (SigV4 in a header or a presigned
//! query, SigV2), not at all, or with a fuzzed Authorization header, and
//! optionally framed as aws-chunked. This reaches s3s's SigV4/SigV2 header
//! and query parsers, its aws-chunked decoder, the XML body parsers and the
//! Range parser, and all of Coffer's own request handling.
//!
//! A failure is a panic anywhere in the server (the panic hook aborts), a
//! request that gets no complete answer within 10 s, or a 500.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use coffer_blob::BlobStore;
use coffer_engine::{Engine, EngineOptions};
use coffer_meta::MetaStore;
use coffer_meta_redb::RedbBackend;
use coffer_sigv4 as sigv4;
use libfuzzer_sys::fuzz_target;

const ACCESS_KEY: &str = "AKIAFUZZFUZZFUZZFUZZ";
const SECRET_KEY: &str = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";
const REGION: &str = "us-east-1";

struct Server {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // A panic in a server task would only end that task: abort, so the
        // fuzzer sees it.
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            std::process::abort();
        }));
        let dir = std::env::temp_dir().join(format!("coffer-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let tcp = runtime.block_on(async {
            let backend = RedbBackend::open(&dir.join("meta.redb")).unwrap();
            let meta = MetaStore::new(Arc::new(backend));
            let blobs = BlobStore::open(&dir).await.unwrap();
            let options = EngineOptions {
                region: REGION.into(),
                kms_key_ids: vec!["testkey-1".into()],
                ..EngineOptions::default()
            };
            let engine = Engine::open_with(meta, blobs, options).await.unwrap();
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (tcp, engine)
        });
        let (tcp, engine) = tcp;
        let port = tcp.local_addr().unwrap().port();
        let _ = PORT.set(port);
        runtime.spawn(async move {
            let options = coffer_front::ServeOptions {
                engine,
                root: coffer_front::RootCredentials {
                    access_key: ACCESS_KEY.into(),
                    secret_key: SECRET_KEY.into(),
                },
                domain: Some("coffer.test".into()),
                shutdown_grace: Duration::from_secs(1),
                allow_sse_c_over_http: true,
                website_domain: None,
            };
            let listeners = vec![coffer_front::Listener { tcp, tls: None }];
            coffer_front::serve(listeners, options, std::future::pending())
                .await
                .unwrap();
        });
        let s = Server {
            port,
            _runtime: runtime,
        };
        // Two buckets to work in, one versioned.
        for (path, body) in [
            ("/fuzz", ""),
            ("/fuzz-v", ""),
            (
                "/fuzz-v?versioning",
                "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
            ),
        ] {
            let (p, q) = path
                .split_once('?')
                .map_or((path, None), |(p, q)| (p, Some(q)));
            let query = q
                .map(|q| vec![(q.to_owned(), String::new())])
                .unwrap_or_default();
            let req = Built::signed_v4("PUT", p, query, Vec::new(), body.as_bytes().to_vec());
            let (status, _) = s.send(&req.bytes(s.port)).expect("set-up request answered");
            assert_eq!(status, 200, "set-up {path}");
        }
        s
    })
}

impl Server {
    /// Sends one request on a fresh connection; the status and body of the
    /// answer, or None when the server closed without a complete answer.
    fn send(&self, raw: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may answer (and close) before reading everything.
        // (No half-close: hyper drops a connection whose client half-closed
        // before the answer was ready.)
        let _ = c.write_all(raw);
        let mut out = Vec::new();
        match c.read_to_end(&mut out) {
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!(
                    "no answer within 10 s to {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(2000)])
                );
            }
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&out);
        let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
        Some((status, out))
    }
}

const METHODS: [&str; 6] = ["GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS"];
const BUCKETS: [&str; 4] = ["fuzz", "fuzz-v", "", "nosuchbucket"];
const SUBRESOURCES: [&str; 24] = [
    "tagging",
    "acl",
    "cors",
    "lifecycle",
    "versioning",
    "policy",
    "encryption",
    "website",
    "object-lock",
    "retention",
    "legal-hold",
    "ownershipControls",
    "publicAccessBlock",
    "delete",
    "uploads",
    "uploadId",
    "partNumber",
    "versionId",
    "versions",
    "list-type",
    "prefix",
    "delimiter",
    "attributes",
    "policyStatus",
];
const HEADERS: [&str; 40] = [
    "range",
    "content-md5",
    "content-type",
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-full-control",
    "x-amz-tagging",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-copy-source-if-match",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-meta-a",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-type",
    "x-amz-checksum-mode",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amz-bypass-governance-retention",
    "x-amz-expected-bucket-owner",
    "x-amz-security-token",
    "x-amz-metadata-directive",
    "x-amz-tagging-directive",
    "x-amz-object-attributes",
    "x-amz-max-parts",
    "x-amz-bucket-object-lock-enabled",
    "x-amz-object-ownership",
    "origin",
    "access-control-request-method",
];

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    V4Header,
    V4Presigned,
    V2Header,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Plain(Vec<u8>),
    /// aws-chunked, signed per chunk, optionally tampered with.
    Chunked {
        chunks: Vec<Vec<u8>>,
        tamper: Option<(u16, u8)>,
        drop_final: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    bucket: u8,
    key: String,
    subresources: Vec<(u8, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(u8, String)>,
    auth: Auth,
    payload: Payload,
}

/// A request ready to be written out.
struct Built {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn amz_date() -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc().format(&f).unwrap()
}

fn signer(date: &str) -> sigv4::Signer<'_> {
    sigv4::Signer {
        access_key: ACCESS_KEY,
        secret_key: SECRET_KEY,
        region: REGION,
        service: "s3",
        amz_date: date,
    }
}

impl Built {
    fn signed_v4(
        method: &str,
        path: &str,
        query: Vec<(String, String)>,
        mut headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let date = amz_date();
        let hash = sigv4::sha256_hex(&body);
        headers.push(("x-amz-date".into(), date.clone()));
        headers.push(("x-amz-content-sha256".into(), hash.clone()));
        let mut b = Self {
            method: method.into(),
            path: path.into(),
            query,
            headers,
            body,
        };
        b.sign_v4_header(&date, &hash);
        b
    }

    fn request<'a>(
        &'a self,
        payload_hash: &'a str,
        with_host: &[(String, String)],
    ) -> sigv4::Request<'a> {
        sigv4::Request {
            method: &self.method,
            path: &self.path,
            query: self.query.clone(),
            headers: with_host.to_vec(),
            payload_hash,
        }
    }

    fn host_and_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![("host".to_owned(), format!("127.0.0.1:{}", server_port()))];
        h.extend(self.headers.iter().cloned());
        h
    }

    fn sign_v4_header(&mut self, date: &str, hash: &str) {
        let all = self.host_and_headers();
        let auth = signer(date).authorization(&self.request(hash, &all));
        self.headers.push(("authorization".into(), auth));
    }

    fn bytes(&self, port: u16) -> Vec<u8> {
        let mut line = format!("{} {}", self.method, sigv4::uri_encode(&self.path, false));
        if !self.query.is_empty() {
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        sigv4::uri_encode(k, true),
                        sigv4::uri_encode(v, true)
                    )
                })
                .collect();
            line.push('?');
            line.push_str(&q.join("&"));
        }
        let mut out = format!("{line} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n");
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

static PORT: OnceLock<u16> = OnceLock::new();

fn server_port() -> u16 {
    *PORT.get().unwrap_or(&0)
}

/// Header values as HTTP allows them (no CR, LF or NUL), trimmed.
fn header_value(v: &str) -> String {
    v.chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .take(512)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn build(input: &Input) -> Built {
    let method = METHODS[input.method as usize % METHODS.len()];
    let bucket = BUCKETS[input.bucket as usize % BUCKETS.len()];
    let key: String = input.key.chars().take(300).collect();
    let path = match (bucket, key.is_empty()) {
        ("", _) => "/".to_owned(),
        (b, true) => format!("/{b}"),
        (b, false) => format!("/{b}/{key}"),
    };
    let mut query: Vec<(String, String)> = input
        .subresources
        .iter()
        .take(3)
        .map(|(i, v)| {
            (
                SUBRESOURCES[*i as usize % SUBRESOURCES.len()].to_owned(),
                v.chars().take(64).collect(),
            )
        })
        .collect();
    query.extend(
        input
            .query
            .iter()
            .take(4)
            .map(|(k, v)| (k.chars().take(64).collect(), v.chars().take(256).collect())),
    );
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .take(8)
        .map(|(i, v)| {
            (
                HEADERS[*i as usize % HEADERS.len()].to_owned(),
                header_value(v),
            )
        })
        .collect();
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    let date = amz_date();
    let mut b = Built {
        method: method.into(),
        path,
        query,
        headers,
        body: Vec::new(),
    };
    match &input.payload {
        Payload::Plain(body) => b.body = body.iter().copied().take(64 * 1024).collect(),
        Payload::Chunked {
            chunks,
            tamper,
            drop_final,
        } => {
            let data_len: usize = chunks.iter().take(8).map(|c| c.len().min(16 * 1024)).sum();
            b.headers
                .push(("x-amz-decoded-content-length".into(), data_len.to_string()));
            b.headers
                .push(("content-encoding".into(), "aws-chunked".into()));
            b.headers.push(("x-amz-date".into(), date.clone()));
            b.headers.push((
                "x-amz-content-sha256".into(),
                sigv4::STREAMING_PAYLOAD.into(),
            ));
            let all = b.host_and_headers();
            let s = signer(&date);
            let seed = s
                .signature(&sigv4::canonical_request(&b.request(sigv4::STREAMING_PAYLOAD, &all)).0);
            let auth = s.authorization(&b.request(sigv4::STREAMING_PAYLOAD, &all));
            let mut prev = seed;
            let mut body = Vec::new();
            let mut pieces: Vec<&[u8]> = chunks
                .iter()
                .take(8)
                .map(|c| &c[..c.len().min(16 * 1024)])
                .collect();
            if !drop_final {
                pieces.push(&[]);
            }
            for c in pieces {
                let sig = s.chunk_signature(&prev, c);
                body.extend_from_slice(
                    format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes(),
                );
                body.extend_from_slice(c);
                body.extend_from_slice(b"\r\n");
                prev = sig;
            }
            if let Some((at, byte)) = tamper
                && !body.is_empty()
            {
                let i = *at as usize % body.len();
                body[i] = *byte;
            }
            b.body = body;
            b.headers.push(("authorization".into(), auth));
            return b;
        }
    }
    match &input.auth {
        Auth::None => {}
        Auth::V4Header => {
            let hash = sigv4::sha256_hex(&b.body);
            b.headers.push(("x-amz-date".into(), date.clone()));
            b.headers
                .push(("x-amz-content-sha256".into(), hash.clone()));
            b.sign_v4_header(&date, &hash);
        }
        Auth::V4Presigned => {
            let all = b.host_and_headers();
            let q = signer(&date).presign(&b.request(sigv4::UNSIGNED_PAYLOAD, &all), 300);
            b.query = q;
        }
        Auth::V2Header => {
            let date = httpdate();
            b.headers.push(("date".into(), date.clone()));
            let mut amz: Vec<String> = b
                .headers
                .iter()
                .filter(|(k, _)| k.starts_with("x-amz-"))
                .map(|(k, v)| format!("{k}:{v}\n"))
                .collect();
            amz.sort();
            let content_md5 = b
                .headers
                .iter()
                .find(|(k, _)| k == "content-md5")
                .map_or("", |(_, v)| v.as_str());
            let content_type = b
                .headers
                .iter()
                .find(|(k, _)| k == "content-type")
                .map_or("", |(_, v)| v.as_str());
            let resource = sigv4::uri_encode(&b.path, false);
            let sts = format!(
                "{}\n{content_md5}\n{content_type}\n{date}\n{}{resource}",
                b.method,
                amz.concat()
            );
            let sig = sigv4::sign_v2(SECRET_KEY, &sts);
            b.headers
                .push(("authorization".into(), format!("AWS {ACCESS_KEY}:{sig}")));
        }
        Auth::Raw(v) => b.headers.push(("authorization".into(), header_value(v))),
    }
    b
}

fn httpdate() -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::now_utc().format(&f).unwrap()
}

fuzz_target!(|input: Input| {
    let s = server();
    let req = build(&input);
    let raw = req.bytes(s.port);
    if let Some((status, answer)) = s.send(&raw) {
        assert!(
            status != 500,
            "500 for {:?}\n{}",
            String::from_utf8_lossy(&raw[..raw.len().min(4000)]),
            String::from_utf8_lossy(&answer)
        );
    }
});
