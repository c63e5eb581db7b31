//! The `coffer` binary: configuration, wiring of the concrete backends, and
//! subcommands. Only this crate names concrete backends.

mod admin;
mod credentials;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use coffer_blob::BlobStore;
use coffer_engine::Engine;
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
    /// A file holding the master key that seals stored secret access keys
    /// (alternatively set COFFER_MASTER_KEY). 64 hex digits are used as the
    /// key; any other text is hashed into one.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Seconds in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shutdown_grace: u64,
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
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create data directory {}", args.data.display()))?;
    let master_key = master_key(args.master_key_file.as_deref())?;
    let creds = credentials::load_or_create(&args.data, master_key.as_ref())?;
    let backend = RedbBackend::open(&args.data.join("meta.redb"))
        .with_context(|| format!("cannot open metadata in {}", args.data.display()))?;
    let meta = MetaStore::new(Arc::new(backend));
    let blobs = BlobStore::open(&args.data)
        .await
        .with_context(|| format!("cannot open blob store in {}", args.data.display()))?;
    let engine = Engine::open_with_master_key(meta, blobs, args.region.clone(), master_key)
        .await
        .context("cannot open the storage engine")?;
    let listener = tokio::net::TcpListener::bind(args.address)
        .await
        .with_context(|| format!("cannot listen on {}", args.address))?;
    let addr = listener.local_addr()?;
    let endpoint = format!("http://{addr}");
    {
        // The listening line comes last: whoever waits for it has then seen
        // everything else this start prints.
        let mut out = std::io::stdout().lock();
        if creds.generated {
            credentials::print_welcome(&mut out, &creds.root, &endpoint, &args.region, &args.data)?;
        }
        writeln!(out, "  data directory: {}", args.data.display())?;
        writeln!(out, "  region: {}", args.region)?;
        writeln!(
            out,
            "coffer {} listening on {endpoint}",
            env!("CARGO_PKG_VERSION")
        )?;
        out.flush()?;
    }
    tracing::info!(%endpoint, data = %args.data.display(), "coffer started");
    coffer_front::serve(
        listener,
        ServeOptions {
            engine,
            root: creds.root,
            domain: args.domain,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
        },
        shutdown_signal(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    tracing::info!("coffer stopped");
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
