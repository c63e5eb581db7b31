//! Measures what a small PUT costs, to decide whether small objects should
//! be stored inline in the metadata store (issue 2).
//!
//! Four workloads, each N writes of SIZE bytes from C concurrent tasks, on
//! the same disk:
//! 1. `put_object` with the size announced, as clients send it: stored
//!    inline when SIZE <= `INLINE_MAX_SIZE`;
//! 2. `put_object` through a blob file (write, fsync, rename, directory
//!    fsync) followed by the metadata commit;
//! 3. the blob file alone;
//! 4. a bare metadata commit carrying SIZE bytes.
//!
//! Usage: `cargo run --release -p coffer-engine --example small_put -- [DIR] [N] [SIZE] [C]`
//! (defaults: a temp dir under ./target, 2000, 4096, 16).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_blob::BlobStore;
use coffer_engine::{Engine, ObjectHeaders, PutParams};
use coffer_meta::{MetaError, MetaStore, Table};
use coffer_meta_redb::RedbBackend;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "target".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let c: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(16);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::tempdir_in(&base)?;
    let meta = MetaStore::new(Arc::new(RedbBackend::open(&dir.path().join("meta.redb"))?));
    let blobs = BlobStore::open(dir.path()).await?;
    let engine = Engine::open(meta.clone(), blobs.clone(), "us-east-1".into()).await?;
    let root = engine.root_principal("bench");
    engine.create_bucket(&root, "bench", None).await?;
    let data = Bytes::from(vec![7u8; size]);
    println!(
        "{n} writes of {size} bytes, {c} concurrent, in {}",
        dir.path().display()
    );

    let report = |name: &str, started: Instant| {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name:<42} {:>8.0} ops/s  {:>7.2} ms/op per task",
            n as f64 / secs,
            secs * 1000.0 * c as f64 / n as f64
        );
    };

    for (name, announce) in [
        ("put_object, size announced", true),
        ("put_object via a blob file", false),
    ] {
        let started = Instant::now();
        let (e, d) = (engine.clone(), data.clone());
        run(n, c, move |i| {
            let (engine, data) = (e.clone(), d.clone());
            async move {
                let mut params = PutParams::new(ObjectHeaders::default());
                // Without an announced size the body cannot be kept in memory.
                params.expected_size = announce.then_some(data.len() as u64);
                let body: coffer_engine::BodyStream = Box::pin(futures::stream::iter([Ok(data)]));
                engine
                    .put_object("bench", &format!("{announce}{i}"), params, body)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await?;
        report(name, started);
    }

    let started = Instant::now();
    let (b, d) = (blobs.clone(), data.clone());
    run(n, c, move |_| {
        let (blobs, data) = (b.clone(), d.clone());
        async move {
            let mut w = blobs.create().await.map_err(|e| e.to_string())?;
            w.write(&data).await.map_err(|e| e.to_string())?;
            w.finish().await.map(|_| ()).map_err(|e| e.to_string())
        }
    })
    .await?;
    report("blob file alone (write, fsync, rename, dir fsync)", started);

    let started = Instant::now();
    let (m, d) = (meta.clone(), data.clone());
    run(n, c, move |i| {
        let (meta, data) = (m.clone(), d.clone());
        async move {
            meta.write(move |tx| -> Result<(), MetaError> {
                tx.put(Table::System, format!("inline{i}").as_bytes(), &data)
            })
            .await
            .map_err(|e| e.to_string())
        }
    })
    .await?;
    report("bare metadata commit of SIZE bytes", started);
    Ok(())
}

async fn run<F, Fut>(n: usize, c: usize, f: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (next, f) = (next.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), String>(());
                }
                f(i).await?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
