//! The `coffer` binary: configuration, wiring of the concrete backends, and
//! subcommands. Only this crate names concrete backends.

mod admin;
mod bench;
mod credentials;
mod data_format;
mod scrub;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use coffer_blob::BlobStore;
use coffer_engine::{Engine, EngineOptions};
use coffer_front::ServeOptions;
use coffer_meta::MetaStore;
use coffer_meta_redb::RedbBackend;

/// Coffer: a self-hosted object store that speaks the Amazon S3 API.
#[derive(Parser)]
#[command(name = "coffer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 server on an embedded metadata store and a local data directory.
    Serve(ServeArgs),
    /// Administer a running server through its APIs (accounts, ...).
    Admin(admin::AdminArgs),
    /// Write a self-signed TLS certificate and key for local HTTPS.
    Cert(CertArgs),
    /// Load-test any S3 endpoint: put, get, head, list, delete, multipart or
    /// mixed, with a result table (or --json).
    Bench(bench::BenchArgs),
    /// Check every stored object against its checksums and list orphaned
    /// data, on a data directory no server is using.
    Scrub(scrub::ScrubArgs),
}

#[derive(Args)]
struct CertArgs {
    /// Where to write the PEM certificate.
    #[arg(long, value_name = "FILE", default_value = "coffer-cert.pem")]
    cert: PathBuf,
    /// Where to write the PEM private key (mode 0600).
    #[arg(long, value_name = "FILE", default_value = "coffer-key.pem")]
    key: PathBuf,
    /// A DNS name or IP address the certificate is for (repeatable;
    /// default: localhost, 127.0.0.1 and ::1).
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Directory holding all data: object data, metadata and the generated
    /// root credentials. Created if missing.
    #[arg(long, value_name = "DIR", default_value = "./coffer-data")]
    data: PathBuf,
    /// Address to listen on for HTTP. Port 0 picks a free port (the chosen
    /// address is printed on start).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9000")]
    address: SocketAddr,
    /// The region this server answers for: the SigV4 signing region clients
    /// must use and the LocationConstraint buckets report.
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    region: String,
    /// Enable virtual-hosted-style addressing: `BUCKET.DOMAIN` names a bucket.
    /// Path-style addressing always works.
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// PEM certificate chain for HTTPS. With --tls-key, --address serves
    /// HTTPS, or with --tls-address as well, both are served.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS on this address in addition to HTTP on --address.
    #[arg(long, value_name = "HOST:PORT")]
    tls_address: Option<SocketAddr>,
    /// A file holding the master key that seals stored secret access keys
    /// (alternatively set COFFER_MASTER_KEY). 64 hex digits are used as the
    /// key; any other text is hashed into one.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Seconds in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shutdown_grace: u64,
    /// A key id of the local KMS key store for SSE-KMS (repeatable; also
    /// COFFER_KMS_KEY_IDS, comma-separated). Keys are generated on first
    /// start and kept in the data directory; `aws/s3` always exists.
    #[arg(
        long = "kms-key-id",
        value_name = "ID",
        env = "COFFER_KMS_KEY_IDS",
        value_delimiter = ','
    )]
    kms_key_ids: Vec<String>,
    /// Accept SSE-C keys over plain HTTP. S3 refuses them, since a key sent
    /// in the clear is compromised; this exists for local testing.
    #[arg(long)]
    allow_sse_c_over_http: bool,
    /// Serve buckets' static websites (PutBucketWebsite) at
    /// `BUCKET.DOMAIN` on the same port, e.g. `s3-website.example.com`.
    #[arg(long, value_name = "DOMAIN")]
    website_domain: Option<String>,
    /// The length of a lifecycle-rule "day" in seconds (default: a real
    /// day). For tests of lifecycle rules; also COFFER_LIFECYCLE_DAY_SECONDS.
    #[arg(long, value_name = "SECONDS", env = "COFFER_LIFECYCLE_DAY_SECONDS")]
    lifecycle_day_seconds: Option<f64>,
    /// Memory for the metadata store's page cache, in MiB. More keeps more
    /// of a large bucket's metadata in memory; pages beyond it are read from
    /// the file again (usually from the OS page cache).
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 16,
        env = "COFFER_META_CACHE_MIB"
    )]
    meta_cache_mib: usize,
    /// The shortest session STS (AssumeRole, GetSessionToken) grants, in
    /// seconds (default: AWS's 900). Lower it only to test expiry; also
    /// COFFER_STS_MIN_DURATION_SECONDS.
    #[arg(long, value_name = "SECONDS", env = "COFFER_STS_MIN_DURATION_SECONDS")]
    sts_min_duration_seconds: Option<u32>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off")),
        )
        .init();
    match cli.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve(args))
        }
        Command::Admin(args) => admin::run(args),
        Command::Cert(args) => write_self_signed(&args),
        Command::Bench(args) => bench::run(args),
        Command::Scrub(args) => scrub::run(args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create data directory {}", args.data.display()))?;
    data_format::prepare(&args.data)?;
    let master_key = master_key(args.master_key_file.as_deref())?;
    let creds = credentials::load_or_create(&args.data, master_key.as_ref())?;
    let backend = RedbBackend::open_with_cache(
        &args.data.join("meta.redb"),
        args.meta_cache_mib.saturating_mul(1024 * 1024),
    )
    .with_context(|| format!("cannot open metadata in {}", args.data.display()))?;
    let meta = MetaStore::new(Arc::new(backend));
    let blobs = BlobStore::open(&args.data)
        .await
        .with_context(|| format!("cannot open blob store in {}", args.data.display()))?;
    let options = EngineOptions {
        region: args.region.clone(),
        master_key,
        kms_key_ids: args.kms_key_ids.clone(),
        lifecycle_day: args.lifecycle_day_seconds.map(Duration::from_secs_f64),
        sts_min_duration: args.sts_min_duration_seconds,
    };
    let engine = Engine::open_with(meta, blobs, options)
        .await
        .context("cannot open the storage engine")?;
    // TLS is checked before anything listens, so a bad certificate is a
    // clear start-up error rather than failed handshakes.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => {
            Some(coffer_front::load_tls_config(c, k).map_err(anyhow::Error::msg)?)
        }
        (None, None) => {
            anyhow::ensure!(
                args.tls_address.is_none(),
                "--tls-address needs --tls-cert and --tls-key"
            );
            None
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    // With --tls-address, --address stays plain HTTP; otherwise a
    // certificate makes --address HTTPS.
    let mut plan = Vec::new();
    match (&tls, args.tls_address) {
        (Some(t), Some(tls_addr)) => {
            plan.push((tls_addr, Some(t.clone())));
            plan.push((args.address, None));
        }
        (Some(t), None) => plan.push((args.address, Some(t.clone()))),
        (None, _) => plan.push((args.address, None)),
    }
    let mut listeners = Vec::new();
    let mut endpoints = Vec::new();
    for (addr, tls) in plan {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        endpoints.push(format!("{scheme}://{}", tcp.local_addr()?));
        listeners.push(coffer_front::Listener { tcp, tls });
    }
    let endpoint = endpoints.last().cloned().unwrap_or_default();
    {
        // The listening lines come last: whoever waits for them has then
        // seen everything else this start prints.
        let mut out = std::io::stdout().lock();
        if creds.generated {
            credentials::print_welcome(&mut out, &creds.root, &endpoint, &args.region, &args.data)?;
        }
        writeln!(out, "  data directory: {}", args.data.display())?;
        writeln!(out, "  region: {}", args.region)?;
        for e in &endpoints {
            writeln!(out, "coffer {} listening on {e}", env!("CARGO_PKG_VERSION"))?;
        }
        out.flush()?;
    }
    tracing::info!(endpoints = ?endpoints, data = %args.data.display(), "coffer started");
    coffer_front::serve(
        listeners,
        ServeOptions {
            engine,
            root: creds.root,
            domain: args.domain,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            allow_sse_c_over_http: args.allow_sse_c_over_http,
            website_domain: args.website_domain,
        },
        shutdown_signal(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    tracing::info!("coffer stopped");
    Ok(())
}

/// `coffer cert`: a self-signed certificate for local use (clients must be
/// told to trust it, e.g. s3cmd's ca_certs_file or boto3's verify=).
fn write_self_signed(args: &CertArgs) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let hosts = if args.hosts.is_empty() {
        vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ]
    } else {
        args.hosts.clone()
    };
    let certified = rcgen::generate_simple_self_signed(hosts.clone())
        .context("cannot generate a certificate")?;
    std::fs::write(&args.cert, certified.cert.pem())
        .with_context(|| format!("cannot write {}", args.cert.display()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&args.key)
        .with_context(|| format!("cannot write {}", args.key.display()))?;
    f.write_all(certified.signing_key.serialize_pem().as_bytes())?;
    println!(
        "wrote {} and {} for {}",
        args.cert.display(),
        args.key.display(),
        hosts.join(", ")
    );
    Ok(())
}

/// The master key from `--master-key-file` or `COFFER_MASTER_KEY`, if any.
fn master_key(file: Option<&std::path::Path>) -> anyhow::Result<Option<coffer_engine::MasterKey>> {
    let material = match (
        file,
        std::env::var("COFFER_MASTER_KEY")
            .ok()
            .filter(|s| !s.is_empty()),
    ) {
        (Some(f), _) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read master key file {}", f.display()))?,
        (None, Some(k)) => k,
        (None, None) => return Ok(None),
    };
    coffer_engine::MasterKey::from_config(&material)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("invalid master key: {e}"))
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
