//! A harness around the real binary and a minimal HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ACCESS: &str = "AKIATESTKEYCOFFER001";
pub const SECRET: &str = "testsecretkeytestsecretkeytestsecret0001";

pub struct Server {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["serve", "--address", "127.0.0.1:0", "--data"])
            .arg(dir.path())
            .env("COFFER_ROOT_ACCESS_KEY", ACCESS)
            .env("COFFER_ROOT_SECRET_KEY", SECRET)
            .env("RUST_LOG", "warn,s3s=off")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start coffer");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("coffer exited before listening")
                .expect("read stdout");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub fn send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for now plus `offset_secs`.
pub fn amz_date(offset_secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Signs and sends a request with a single-chunk payload.
pub fn signed(
    server: &Server,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
    date_offset: i64,
) -> Response {
    let date = amz_date(date_offset);
    let payload = coffer_sigv4::sha256_hex(body);
    let headers = vec![
        ("Host".to_owned(), server.addr.clone()),
        ("x-amz-date".to_owned(), date.clone()),
        ("x-amz-content-sha256".to_owned(), payload.clone()),
    ];
    let q: Vec<(String, String)> = query
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let signer = coffer_sigv4::Signer {
        access_key: ACCESS,
        secret_key: SECRET,
        region: "us-east-1",
        service: "s3",
        amz_date: &date,
    };
    let auth = signer.authorization(&coffer_sigv4::Request {
        method,
        path,
        query: q.clone(),
        headers: headers.clone(),
        payload_hash: &payload,
    });
    let mut all = headers;
    all.push(("Authorization".to_owned(), auth));
    send(&server.addr, method, &target(path, &q), &all, body)
}

pub fn target(path: &str, query: &[(String, String)]) -> String {
    let mut t = coffer_sigv4::uri_encode(path, false);
    if !query.is_empty() {
        t.push('?');
        let parts: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    coffer_sigv4::uri_encode(k, true),
                    coffer_sigv4::uri_encode(v, true)
                )
            })
            .collect();
        t.push_str(&parts.join("&"));
    }
    t
}
