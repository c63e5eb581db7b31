//! Garbage: blobs no record references.
//!
//! A blob becomes garbage when a crash lands between its rename into place
//! and the commit that would reference it, or between a commit that dropped
//! it and its deletion. Every referenced blob has a row in `Table::Blobs`, so
//! a blob file without one is garbage. Only files older than this process's
//! start are considered: newer ones may belong to requests in flight.

use std::time::SystemTime;

use coffer_meta::{MetaError, Table};

use crate::{Engine, EngineError};

impl Engine {
    /// Deletes unreferenced blobs older than `cutoff`; returns how many.
    pub async fn collect_orphans(&self, cutoff: SystemTime) -> Result<usize, EngineError> {
        let ids = self.blobs().list_older_than(cutoff).await?;
        let mut removed = 0;
        for chunk in ids.chunks(1000) {
            let chunk = chunk.to_vec();
            let orphans = self
                .meta()
                .read(move |tx| -> Result<Vec<String>, MetaError> {
                    let mut out = Vec::new();
                    for id in &chunk {
                        if tx.get(Table::Blobs, id.as_bytes())?.is_none() {
                            out.push(id.clone());
                        }
                    }
                    Ok(out)
                })
                .await?;
            removed += orphans.len();
            for id in &orphans {
                tracing::debug!(blob = %id, "removing orphaned blob");
            }
            self.delete_blobs(orphans).await;
        }
        Ok(removed)
    }
}
