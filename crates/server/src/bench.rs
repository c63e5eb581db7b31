//! `coffer bench`: a load generator for any S3 endpoint (Coffer, a peer,
//! AWS over plain HTTP), built into the binary so that every measurement
//! uses the same client.
//!
//! Each worker keeps one HTTP/1.1 connection (hyper's pooled client) and
//! signs every request with SigV4 and `UNSIGNED-PAYLOAD`, so the client's
//! own cost per request is a few microseconds of hashing; it is measured
//! (getrusage) and reported beside the results. Request bodies are slices of
//! one random buffer made up front; response bodies are counted and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The S3 endpoint (http:// only).
    #[arg(
        long,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint_url: String,
    /// Access key to sign with (default: AWS_ACCESS_KEY_ID).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    /// Secret key to sign with (default: AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Signing region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Bucket to use; created if it does not exist.
    #[arg(long, default_value = "coffer-bench")]
    bucket: String,
    /// Prefix of the keys the benchmark writes and reads.
    #[arg(long, default_value = "bench/")]
    prefix: String,
    /// What to measure. get, head, list and delete first write the objects
    /// they need (not measured); mixed is 60% get, 25% put, 10% head, 5%
    /// delete over the same objects.
    #[arg(long, value_enum, default_value = "put")]
    op: Op,
    /// Object size: `4KiB`, `1MiB`, `512MiB`, or a range `1KiB-1MiB` (uniformly
    /// random per object).
    #[arg(long, default_value = "4KiB")]
    size: String,
    /// Requests (or, for multipart, objects) in flight at once.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// Stop after this many operations.
    #[arg(short = 'n', long)]
    count: Option<u64>,
    /// Stop after this long (`30s`, `2m`); the default is 1000 operations.
    #[arg(short = 'd', long)]
    duration: Option<String>,
    /// How many objects get/head/list/delete/mixed work on (default: the
    /// count, or 1000 with --duration).
    #[arg(long)]
    objects: Option<u64>,
    /// Part size for --op multipart.
    #[arg(long, default_value = "16MiB")]
    part_size: String,
    /// Parts of one multipart object uploaded at once.
    #[arg(long, default_value_t = 8)]
    part_concurrency: usize,
    /// Delete the benchmark's objects afterwards (not measured).
    #[arg(long)]
    cleanup: bool,
    /// get/head/list/delete/mixed: use the objects an earlier run wrote
    /// under the same prefix instead of writing them first.
    #[arg(long)]
    skip_prepare: bool,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Spread the keys over this many "directories" (`PREFIX0042/...`)
    /// instead of one flat list, for listings with a delimiter.
    #[arg(long)]
    fanout: Option<u64>,
    /// --op page: list with this delimiter (e.g. `/`).
    #[arg(long)]
    delimiter: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Op {
    Put,
    Get,
    Head,
    List,
    Delete,
    Multipart,
    Mixed,
    /// One 1000-key page of ListObjectsV2, starting after a random key of
    /// the set (with --delimiter, a page of keys and common prefixes).
    Page,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::Head => "head",
            Self::List => "list",
            Self::Delete => "delete",
            Self::Multipart => "multipart",
            Self::Mixed => "mixed",
            Self::Page => "page",
        }
    }
}

/// `4KiB`, `16MiB`, `1GiB`, `4096`, `4k` (powers of 1024).
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("unknown size unit {other:?} in {s:?}"),
    };
    // Sizes are whole bytes; the float only carries `1.5MiB`-style input.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((n * mult) as u64)
}

/// An object size or a uniform range of sizes.
#[derive(Clone, Copy, Debug)]
struct SizeSpec {
    min: u64,
    max: u64,
}

impl SizeSpec {
    fn parse(s: &str) -> anyhow::Result<Self> {
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse_size(a)?, parse_size(b)?),
            None => {
                let v = parse_size(s)?;
                (v, v)
            }
        };
        if min > max {
            bail!("size range {s:?} is inverted");
        }
        Ok(Self { min, max })
    }

    fn pick(self) -> u64 {
        if self.min == self.max {
            self.min
        } else {
            rand::random_range(self.min..=self.max)
        }
    }
}

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let t = s.trim();
    let (num, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => bail!("unknown duration unit {other:?} in {s:?}"),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// A SigV4-signing S3 client over a pool of HTTP/1.1 connections.
struct S3 {
    http: Client<HttpConnector, Full<Bytes>>,
    authority: String,
    access_key: String,
    secret_key: String,
    region: String,
}

/// What one request returned.
struct Reply {
    status: http::StatusCode,
    etag: Option<String>,
    /// The start of the body (at most [`KEPT_BODY`] bytes: XML answers are
    /// small, object data is only counted).
    body: Bytes,
    /// The body's whole length.
    len: u64,
}

/// How much of a response body is kept.
const KEPT_BODY: usize = 1 << 20;

impl S3 {
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let now = time::OffsetDateTime::from(SystemTime::now());
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let headers = vec![
            ("host".to_owned(), self.authority.clone()),
            (
                "x-amz-content-sha256".to_owned(),
                coffer_sigv4::UNSIGNED_PAYLOAD.to_owned(),
            ),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        let signer = coffer_sigv4::Signer {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
            service: "s3",
            amz_date: &amz_date,
        };
        let auth = signer.authorization(&coffer_sigv4::Request {
            method,
            path,
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: headers.clone(),
            payload_hash: coffer_sigv4::UNSIGNED_PAYLOAD,
        });
        let mut uri = format!(
            "http://{}{}",
            self.authority,
            coffer_sigv4::uri_encode(path, false)
        );
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        coffer_sigv4::uri_encode(k, true),
                        coffer_sigv4::uri_encode(v, true)
                    )
                })
                .collect();
            uri.push('?');
            uri.push_str(&q.join("&"));
        }
        let mut req = http::Request::builder().method(method).uri(uri);
        for (n, v) in &headers {
            if n != "host" {
                req = req.header(n, v);
            }
        }
        let req = req.header("authorization", auth).body(Full::new(body))?;
        let resp = self.http.request(req).await?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut incoming = resp.into_body();
        let (mut kept, mut len) = (Vec::new(), 0u64);
        while let Some(frame) = incoming.frame().await {
            if let Ok(data) = frame?.into_data() {
                len += data.len() as u64;
                let room = KEPT_BODY.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
            }
        }
        Ok(Reply {
            status,
            etag,
            body: Bytes::from(kept),
            len,
        })
    }

    fn object_path(&self, bucket: &str, key: &str) -> String {
        format!("/{bucket}/{key}")
    }
}

/// The text of the first `<tag>` in an XML body.
fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let start = s.find(&open)? + open.len();
    let end = s[start..].find(&format!("</{tag}>"))? + start;
    Some(s[start..end].to_owned())
}

/// Counts shared by the workers.
#[derive(Default)]
struct Progress {
    ops: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    first_errors: Vec<String>,
}

#[derive(Clone)]
struct Plan {
    op: Op,
    bucket: String,
    prefix: String,
    size: SizeSpec,
    part_size: u64,
    part_concurrency: usize,
    objects: u64,
    limit: Limit,
    data: Bytes,
    fanout: Option<u64>,
    delimiter: Option<String>,
}

#[derive(Clone, Copy)]
enum Limit {
    Count(u64),
    Until(Instant),
}

impl Plan {
    fn key(&self, i: u64) -> String {
        match self.fanout {
            Some(n) => format!("{}{:04}/{i:010}", self.prefix, i % n.max(1)),
            None => format!("{}{i:010}", self.prefix),
        }
    }

    fn body(&self, len: u64) -> Bytes {
        // Slices of one random buffer; `len` never exceeds it.
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        self.data.slice(..len)
    }
}

/// Runs one operation; `Ok(bytes moved)` or an error description.
async fn run_one(s3: &S3, plan: &Plan, op: Op, i: u64) -> Result<u64, String> {
    let ok = |r: &Reply| -> Result<(), String> {
        if r.status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "{} {}",
                r.status.as_u16(),
                xml_text(&r.body, "Code").unwrap_or_default()
            ))
        }
    };
    let io = |e: anyhow::Error| format!("{e:#}");
    let key = plan.key(i % plan.objects.max(1));
    let path = s3.object_path(&plan.bucket, &key);
    match op {
        Op::Put | Op::Mixed => {
            let len = plan.size.pick();
            let r = s3
                .send("PUT", &path, &[], plan.body(len))
                .await
                .map_err(io)?;
            ok(&r)?;
            Ok(len)
        }
        Op::Get => {
            let r = s3.send("GET", &path, &[], Bytes::new()).await.map_err(io)?;
            ok(&r)?;
            Ok(r.len)
        }
        Op::Head => {
            let r = s3
                .send("HEAD", &path, &[], Bytes::new())
                .await
                .map_err(io)?;
            ok(&r).map(|()| 0)
        }
        Op::Delete => {
            let r = s3
                .send("DELETE", &path, &[], Bytes::new())
                .await
                .map_err(io)?;
            ok(&r).map(|()| 0)
        }
        Op::List => list_all(s3, plan).await.map(|_| 0),
        Op::Page => {
            let after = plan.key(rand::random::<u64>() % plan.objects.max(1));
            let mut q = vec![
                ("list-type", "2"),
                ("max-keys", "1000"),
                ("prefix", plan.prefix.as_str()),
                ("start-after", after.as_str()),
            ];
            if let Some(d) = &plan.delimiter {
                q.push(("delimiter", d.as_str()));
            }
            let r = s3
                .send("GET", &format!("/{}", plan.bucket), &q, Bytes::new())
                .await
                .map_err(io)?;
            ok(&r).map(|()| r.len)
        }
        Op::Multipart => multipart(s3, plan, &path).await,
    }
}

/// Lists every key under the prefix, 1000 per page; returns the key count.
async fn list_all(s3: &S3, plan: &Plan) -> Result<u64, String> {
    let mut token: Option<String> = None;
    let mut keys = 0u64;
    loop {
        let mut q = vec![
            ("list-type", "2"),
            ("max-keys", "1000"),
            ("prefix", plan.prefix.as_str()),
        ];
        if let Some(t) = &token {
            q.push(("continuation-token", t.as_str()));
        }
        let r = s3
            .send("GET", &format!("/{}", plan.bucket), &q, Bytes::new())
            .await
            .map_err(|e| format!("{e:#}"))?;
        if !r.status.is_success() {
            return Err(format!("list: {}", r.status.as_u16()));
        }
        keys += xml_text(&r.body, "KeyCount")
            .and_then(|k| k.parse().ok())
            .unwrap_or(0);
        match xml_text(&r.body, "NextContinuationToken") {
            Some(t) if xml_text(&r.body, "IsTruncated").as_deref() == Some("true") => {
                token = Some(t);
            }
            _ => return Ok(keys),
        }
    }
}

/// One multipart object: create, `part_concurrency` parts at a time, complete.
async fn multipart(s3: &S3, plan: &Plan, path: &str) -> Result<u64, String> {
    let io = |e: anyhow::Error| format!("{e:#}");
    let size = plan.size.pick();
    let r = s3
        .send("POST", path, &[("uploads", "")], Bytes::new())
        .await
        .map_err(io)?;
    let upload_id = xml_text(&r.body, "UploadId")
        .ok_or_else(|| format!("create multipart upload: {}", r.status.as_u16()))?;
    let parts = size.div_ceil(plan.part_size).max(1);
    let next = AtomicU64::new(1);
    let upload_part = || async {
        let mut etags = Vec::new();
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n > parts {
                return Ok::<_, String>(etags);
            }
            let len = plan.part_size.min(size - (n - 1) * plan.part_size);
            let number = n.to_string();
            let r = s3
                .send(
                    "PUT",
                    path,
                    &[("partNumber", &number), ("uploadId", &upload_id)],
                    plan.body(len),
                )
                .await
                .map_err(io)?;
            match r.etag {
                Some(etag) if r.status.is_success() => etags.push((n, etag)),
                _ => return Err(format!("upload part {n}: {}", r.status.as_u16())),
            }
        }
    };
    let workers: Vec<_> = (0..plan.part_concurrency.max(1))
        .map(|_| upload_part())
        .collect();
    let mut etags = Vec::new();
    for r in futures::future::join_all(workers).await {
        etags.extend(r?);
    }
    etags.sort();
    let mut complete = String::from("<CompleteMultipartUpload>");
    for (number, etag) in &etags {
        complete.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    complete.push_str("</CompleteMultipartUpload>");
    let r = s3
        .send(
            "POST",
            path,
            &[("uploadId", &upload_id)],
            Bytes::from(complete),
        )
        .await
        .map_err(io)?;
    if !r.status.is_success() || xml_text(&r.body, "Code").is_some() {
        return Err(format!(
            "complete multipart upload: {} {}",
            r.status.as_u16(),
            xml_text(&r.body, "Code").unwrap_or_default()
        ));
    }
    Ok(size)
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`
/// (Linux; 0 elsewhere). Its times are in USER_HZ, which Linux fixes at 100
/// for this interface.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may contain spaces; fields after it are
    // plain numbers: utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `plan.op` (or the preparation's puts) with `concurrency` workers.
async fn drive(
    s3: &Arc<S3>,
    plan: &Arc<Plan>,
    op: Op,
    concurrency: usize,
    progress: &Arc<Progress>,
    stop: &Arc<AtomicBool>,
) -> Vec<Tally> {
    let next = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (s3, plan, next, progress, stop) = (
            s3.clone(),
            plan.clone(),
            next.clone(),
            progress.clone(),
            stop.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                match plan.limit {
                    Limit::Count(n) if i >= n => break,
                    Limit::Until(t) if Instant::now() >= t => break,
                    _ => {}
                }
                let op = if op == Op::Mixed {
                    match rand::random_range(0..100u8) {
                        0..60 => Op::Get,
                        60..85 => Op::Put,
                        85..95 => Op::Head,
                        _ => Op::Delete,
                    }
                } else {
                    op
                };
                let started = Instant::now();
                let result = run_one(&s3, &plan, op, i).await;
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                match result {
                    Ok(bytes) => {
                        tally.latencies_us.push(us);
                        progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                    // A mixed run deletes objects it may later read: a 404
                    // there is expected, not an error.
                    Err(e) if plan.op == Op::Mixed && e.starts_with("404") => {
                        tally.latencies_us.push(us);
                    }
                    Err(e) => {
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                        if tally.first_errors.len() < 3 {
                            tally.first_errors.push(e);
                        }
                    }
                }
                progress.ops.fetch_add(1, Ordering::Relaxed);
            }
            tally
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        if let Ok(t) = h.await {
            out.push(t);
        }
    }
    out
}

/// The result of a run.
#[derive(Debug, serde::Serialize)]
struct Report {
    endpoint: String,
    op: &'static str,
    size: String,
    concurrency: usize,
    ops: u64,
    errors: u64,
    seconds: f64,
    ops_per_sec: f64,
    mb_per_sec: f64,
    latency_ms: Latency,
    /// The benchmark's own CPU time per operation, in microseconds.
    client_cpu_us_per_op: f64,
    first_errors: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx] as f64 / 1000.0
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let authority = args
        .endpoint_url
        .strip_prefix("http://")
        .context("coffer bench speaks plain http:// only")?
        .trim_end_matches('/')
        .to_owned();
    let (Some(access_key), Some(secret_key)) = (args.access_key.clone(), args.secret_key.clone())
    else {
        bail!(
            "credentials needed: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --access-key and --secret-key"
        );
    };
    let size = SizeSpec::parse(&args.size)?;
    let part_size = parse_size(&args.part_size)?.max(5 * 1024 * 1024);
    let buffer = if args.op == Op::Multipart {
        part_size.min(size.max)
    } else {
        size.max
    };
    let data: Vec<u8> = (0..buffer).map(|_| rand::random::<u8>()).collect();
    let (limit, objects) = match (args.count, args.duration.as_deref()) {
        (Some(_), Some(_)) => bail!("give --count or --duration, not both"),
        (_, Some(d)) => (
            Limit::Until(Instant::now() + parse_duration(d)?),
            args.objects.unwrap_or(1000),
        ),
        (n, None) => {
            let n = n.unwrap_or(1000);
            (Limit::Count(n), args.objects.unwrap_or(n))
        }
    };
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency.max(args.part_concurrency) * 2)
        .build(http);
    let s3 = Arc::new(S3 {
        http: client,
        authority,
        access_key,
        secret_key,
        region: args.region.clone(),
    });

    // The bucket: created unless it exists (owned by us already is fine).
    let r = s3
        .send("PUT", &format!("/{}", args.bucket), &[], Bytes::new())
        .await
        .context("cannot reach the endpoint")?;
    let code = xml_text(&r.body, "Code").unwrap_or_default();
    if !r.status.is_success() && code != "BucketAlreadyOwnedByYou" {
        // Some servers answer BucketAlreadyExists to its owner too: the
        // bucket is usable if we may reach it.
        let head = s3
            .send("HEAD", &format!("/{}", args.bucket), &[], Bytes::new())
            .await?;
        if !head.status.is_success() {
            bail!("cannot create bucket {}: {} {code}", args.bucket, r.status);
        }
    }

    let mut plan = Plan {
        op: args.op,
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        size,
        part_size,
        part_concurrency: args.part_concurrency,
        objects,
        limit: Limit::Count(objects),
        data: Bytes::from(data),
        fanout: args.fanout,
        delimiter: args.delimiter.clone(),
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !args.json;
    // get/head/list/delete/mixed need the objects first.
    if !args.skip_prepare
        && matches!(
            args.op,
            Op::Get | Op::Head | Op::List | Op::Delete | Op::Mixed | Op::Page
        )
    {
        if terminal {
            eprintln!("preparing {objects} objects of {} ...", args.size);
        }
        let prep = Arc::new(Plan {
            op: Op::Put,
            ..plan.clone()
        });
        let progress = Arc::new(Progress::default());
        let tallies = drive(
            &s3,
            &prep,
            Op::Put,
            args.concurrency,
            &progress,
            &Arc::new(AtomicBool::new(false)),
        )
        .await;
        let errors = progress.errors.load(Ordering::Relaxed);
        if errors > 0 {
            let first: Vec<&String> = tallies.iter().flat_map(|t| &t.first_errors).collect();
            bail!("preparing the objects failed {errors} times: {first:?}");
        }
    }
    plan.limit = limit;
    let plan = Arc::new(plan);

    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let bar = terminal.then(|| {
        let bar = match limit {
            Limit::Count(n) => indicatif::ProgressBar::new(n),
            Limit::Until(t) => indicatif::ProgressBar::new(
                t.saturating_duration_since(Instant::now()).as_secs().max(1),
            ),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bar:40} {pos}/{len} {msg} [{elapsed_precise}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let ticker = bar.clone().map(|bar| {
        let progress = progress.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let ops = progress.ops.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                match limit {
                    Limit::Count(_) => bar.set_position(ops),
                    Limit::Until(_) => bar.set_position(started.elapsed().as_secs()),
                }
                bar.set_message(format!(
                    "{:.0} ops/s, {} errors",
                    ops as f64 / secs,
                    progress.errors.load(Ordering::Relaxed)
                ));
            }
        })
    });
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let tallies = drive(&s3, &plan, args.op, args.concurrency, &progress, &stop).await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut latencies: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let ops = progress.ops.load(Ordering::Relaxed);
    let bytes = progress.bytes.load(Ordering::Relaxed);
    let report = Report {
        endpoint: args.endpoint_url.clone(),
        op: args.op.name(),
        size: args.size.clone(),
        concurrency: args.concurrency,
        ops,
        errors: progress.errors.load(Ordering::Relaxed),
        seconds,
        ops_per_sec: ops as f64 / seconds.max(1e-9),
        mb_per_sec: bytes as f64 / 1e6 / seconds.max(1e-9),
        latency_ms: Latency {
            p50: percentile(&latencies, 0.50),
            p90: percentile(&latencies, 0.90),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().map_or(0.0, |m| *m as f64 / 1000.0),
        },
        client_cpu_us_per_op: cpu * 1e6 / (ops.max(1) as f64),
        first_errors: tallies
            .iter()
            .flat_map(|t| t.first_errors.iter().cloned())
            .take(5)
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }

    if args.cleanup {
        cleanup(&s3, &plan, args.concurrency).await?;
    }
    if report.errors > 0 {
        bail!("{} of {} operations failed", report.errors, report.ops);
    }
    Ok(())
}

fn print_table(r: &Report) {
    println!(
        "{:<10} {:>8} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "op", "ops", "ops/s", "MB/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    println!(
        "{:<10} {:>8} {:>10.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
        r.op,
        r.ops,
        r.ops_per_sec,
        r.mb_per_sec,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.errors
    );
    println!(
        "{} {} x{} in {:.2} s; client CPU {:.1} µs per operation",
        r.endpoint, r.size, r.concurrency, r.seconds, r.client_cpu_us_per_op
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
}

/// Deletes every object under the prefix (not measured).
async fn cleanup(s3: &Arc<S3>, plan: &Arc<Plan>, concurrency: usize) -> anyhow::Result<()> {
    let listing = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("list-type", "2"), ("prefix", plan.prefix.as_str())];
        if let Some(t) = &token {
            q.push(("continuation-token", t.as_str()));
        }
        let r = s3
            .send("GET", &format!("/{}", plan.bucket), &q, Bytes::new())
            .await?;
        let text = String::from_utf8_lossy(&r.body).into_owned();
        if let Ok(mut l) = listing.lock() {
            l.extend(
                text.split("<Contents>")
                    .skip(1)
                    .filter_map(|c| xml_text(c.as_bytes(), "Key")),
            );
        }
        match xml_text(&r.body, "NextContinuationToken") {
            Some(t) if xml_text(&r.body, "IsTruncated").as_deref() == Some("true") => {
                token = Some(t);
            }
            _ => break,
        }
    }
    let mut handles = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (s3, plan, listing) = (s3.clone(), plan.clone(), listing.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let Some(key) = listing.lock().ok().and_then(|mut l| l.pop()) else {
                    return;
                };
                let _ = s3
                    .send(
                        "DELETE",
                        &s3.object_path(&plan.bucket, &key),
                        &[],
                        Bytes::new(),
                    )
                    .await;
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("4XB").is_err());
        let r = SizeSpec::parse("1KiB-2KiB").unwrap();
        for _ in 0..100 {
            assert!((1024..=2048).contains(&r.pick()));
        }
        assert!(SizeSpec::parse("2KiB-1KiB").is_err());
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn percentiles_pick_the_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert!((percentile(&v, 0.5) - 50.0).abs() < 1e-9);
        assert!((percentile(&v, 0.99) - 99.0).abs() < 1e-9);
        assert!((percentile(&v, 1.0) - 100.0).abs() < 1e-9);
        assert!(percentile(&[], 0.5).abs() < 1e-9);
    }
}
