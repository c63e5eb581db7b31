//! `coffer scrub`: checks every stored piece of every object against its
//! checksums and lists orphaned blob files, on a data directory no server is
//! using (the metadata store is opened exclusively).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use coffer_blob::BlobStore;
use coffer_meta::MetaStore;
use coffer_meta_redb::RedbBackend;

#[derive(Args)]
pub struct ScrubArgs {
    /// The data directory to check (stop the server using it first).
    #[arg(long, value_name = "DIR", default_value = "./coffer-data")]
    data: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScrubArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(scrub(args))
}

async fn scrub(args: ScrubArgs) -> anyhow::Result<()> {
    let meta_path = args.data.join("meta.redb");
    if !meta_path.exists() {
        bail!(
            "{} is not a Coffer data directory (no meta.redb)",
            args.data.display()
        );
    }
    crate::data_format::check(&args.data)?;
    let backend = RedbBackend::open(&meta_path).with_context(|| {
        format!(
            "cannot open {} (is a server running on this data directory? stop it first)",
            meta_path.display()
        )
    })?;
    let meta = MetaStore::new(Arc::new(backend));
    let blobs = BlobStore::open(&args.data)
        .await
        .with_context(|| format!("cannot open the blob store in {}", args.data.display()))?;
    let bar = (std::io::IsTerminal::is_terminal(&std::io::stderr()) && !args.json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "checking {bar:40} {pos}/{len} objects and parts [{elapsed_precise}, ETA {eta}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = coffer_engine::scrub::scrub(&meta, &blobs, &progress).await?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if args.json {
        let damaged: Vec<serde_json::Value> = report
            .damaged
            .iter()
            .map(
                |d| serde_json::json!({"object": d.object, "piece": d.piece, "problem": d.problem}),
            )
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "records": report.records,
                "pieces": report.pieces,
                "bytes": report.bytes,
                "damaged": damaged,
                "orphans": report.orphans,
            })
        );
    } else {
        println!(
            "checked {} object versions and parts: {} pieces, {} bytes intact",
            report.records, report.pieces, report.bytes
        );
        for d in &report.damaged {
            println!("DAMAGED {}: piece {}: {}", d.object, d.piece, d.problem);
        }
        for o in &report.orphans {
            println!(
                "orphaned blob {o} (no record refers to it; removed at the next server start)"
            );
        }
    }
    if !report.is_clean() {
        bail!("{} damaged piece(s) found", report.damaged.len());
    }
    Ok(())
}
