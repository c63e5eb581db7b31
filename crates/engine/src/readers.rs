//! Blobs held open by reads in flight.
//!
//! A GET streams a version's pieces one after another, opening each file
//! only when the stream reaches it. An overwrite or delete that commits
//! meanwhile releases the old pieces; removing their files at once would cut
//! the GET short. So a read pins the blob files it will stream, and
//! [`Engine::delete_blobs`] leaves a pinned file in place until the last
//! reader lets go of it.
//!
//! Pinning races with the release: a read may pin a blob just after the
//! commit that released it, and after the release looked for pins. The read
//! therefore confirms, in a transaction begun after it pinned, that every
//! blob it pinned is still referenced (its `Table::Blobs` row exists). If
//! one is not, the version was replaced while the read was starting, and
//! the read starts over. If all are, any release is yet to commit, so it
//! will find the pins.
//!
//! A process that dies while a released blob is pinned leaves it without a
//! row: the start-up sweep collects it like any other orphan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use coffer_blob::BlobStore;

#[derive(Default)]
struct Pin {
    readers: usize,
    /// Released by a commit while pinned: delete when the last reader goes.
    released: bool,
}

/// The pins of every read in flight.
#[derive(Default, Clone)]
pub(crate) struct Readers {
    pins: Arc<Mutex<HashMap<String, Pin>>>,
}

impl Readers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Pin>> {
        // A panic while holding the lock leaves a consistent map (every
        // update is a single insert or field change), so poisoning is moot.
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins `ids` until the returned guard is dropped.
    pub(crate) fn pin(&self, ids: Vec<String>, blobs: &BlobStore) -> PinGuard {
        let mut pins = self.lock();
        for id in &ids {
            pins.entry(id.clone()).or_default().readers += 1;
        }
        PinGuard {
            readers: self.clone(),
            blobs: blobs.clone(),
            ids,
        }
    }

    /// Of blobs just released by a commit, those no read holds: delete them
    /// now. The others are deleted when their last reader lets go.
    pub(crate) fn take_unpinned(&self, ids: Vec<String>) -> Vec<String> {
        let mut pins = self.lock();
        ids.into_iter()
            .filter(|id| match pins.get_mut(id) {
                Some(pin) => {
                    pin.released = true;
                    false
                }
                None => true,
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn pinned(&self) -> usize {
        self.lock().len()
    }
}

/// Holds blob files in place while a read streams them.
pub(crate) struct PinGuard {
    readers: Readers,
    blobs: BlobStore,
    ids: Vec<String>,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut doomed = Vec::new();
        {
            let mut pins = self.readers.lock();
            for id in self.ids.drain(..) {
                let Some(pin) = pins.get_mut(&id) else {
                    continue;
                };
                pin.readers -= 1;
                if pin.readers == 0 {
                    if pin.released {
                        doomed.push(id.clone());
                    }
                    pins.remove(&id);
                }
            }
        }
        if doomed.is_empty() {
            return;
        }
        let blobs = self.blobs.clone();
        let delete = async move {
            for id in doomed {
                if let Err(e) = blobs.delete(&id).await {
                    // The start-up sweep will find it again.
                    tracing::warn!(blob = %id, error = %e, "could not delete released blob");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(delete);
            }
            // Outside a runtime (a test dropping a stream late): the files
            // stay until the next start-up sweep.
            Err(_) => tracing::debug!("released blobs left for the start-up sweep"),
        }
    }
}
