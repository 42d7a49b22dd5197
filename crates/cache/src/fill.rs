use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::watch;

use crate::{CacheKey, ObjectMeta};

/// An object on its way into the cache. Readers join it as soon as it exists and stream
/// from its growing file; the writer runs on its own, so it completes even when the
/// client that caused it hangs up.
#[derive(Debug)]
pub struct Fill {
    pub(crate) key: CacheKey,
    started: OnceLock<Started>,
    state: watch::Sender<FillState>,
    discarded: AtomicBool,
    last_batch: Mutex<Batch>,
}

/// Chunks written together, from `start` on.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) start: u64,
    pub(crate) chunks: Vec<Bytes>,
}

impl Batch {
    /// The bytes at `offset`, at most `len` of them, if this batch holds that offset.
    fn slice(&self, offset: u64, len: u64) -> Option<Bytes> {
        let mut start = self.start;
        for chunk in &self.chunks {
            let end = start + chunk.len() as u64;
            if (start..end).contains(&offset) {
                let from = usize::try_from(offset - start).ok()?;
                let to = usize::try_from(end.min(offset.saturating_add(len)) - start).ok()?;
                return Some(chunk.slice(from..to));
            }
            start = end;
        }
        None
    }
}

/// What is known once the upstream answered.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) object: ObjectMeta,
    pub(crate) file: Arc<File>,
}

/// Progress of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FillState {
    /// Waiting for the upstream's answer.
    Pending,
    /// This many bytes are in the file.
    Writing(u64),
    /// Every byte is in the file.
    Complete,
    /// The fill stopped; the file is incomplete.
    Failed,
}

impl Fill {
    pub(crate) fn new(key: CacheKey) -> Self {
        Self {
            key,
            started: OnceLock::new(),
            state: watch::Sender::new(FillState::Pending),
            discarded: AtomicBool::new(false),
            last_batch: Mutex::new(Batch::default()),
        }
    }

    /// Waits until the upstream answered: the object's metadata, or `None` when the fill
    /// did not start (upstream error, object not cacheable) and the caller must fetch itself.
    pub async fn ready(&self) -> Option<&ObjectMeta> {
        let mut state = self.state.subscribe();
        state.wait_for(|s| *s != FillState::Pending).await.ok()?;
        self.started.get().map(|s| &s.object)
    }

    /// Bytes already in the file: how far a reader can go without waiting.
    pub fn written(&self) -> u64 {
        match *self.state.borrow() {
            FillState::Writing(written) => written,
            FillState::Complete => self.started.get().map_or(0, |s| s.object.size),
            FillState::Pending | FillState::Failed => 0,
        }
    }

    pub(crate) fn start(&self, object: ObjectMeta, file: Arc<File>) {
        let _ = self.started.set(Started { object, file });
        self.state.send_replace(FillState::Writing(0));
    }

    pub(crate) fn started(&self) -> Option<&Started> {
        self.started.get()
    }

    /// Records that `batch` is in the file, and keeps it: a reader keeping up with the
    /// writer takes those bytes from memory instead of reading them back.
    pub(crate) fn advance(&self, batch: Batch) {
        let written = batch.start + batch.chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        *self.last_batch.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = batch;
        self.state.send_replace(FillState::Writing(written));
    }

    /// The bytes at `offset` (at most `len`) if they came with the batch written last.
    pub(crate) fn recent(&self, offset: u64, len: u64) -> Option<Bytes> {
        self.last_batch.lock().unwrap_or_else(std::sync::PoisonError::into_inner).slice(offset, len)
    }

    pub(crate) fn finish(&self, state: FillState) {
        self.state.send_replace(state);
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<FillState> {
        self.state.subscribe()
    }

    /// Marks the fill as stale: readers already on it may finish, it is never stored.
    pub(crate) fn discard(&self) {
        self.discarded.store(true, Ordering::Release);
    }

    pub(crate) fn is_discarded(&self) -> bool {
        self.discarded.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_slices_within_one_chunk() {
        let batch = Batch { start: 100, chunks: vec![Bytes::from_static(b"abcd"), Bytes::from_static(b"efgh")] };
        assert_eq!(batch.slice(100, 10).as_deref(), Some(&b"abcd"[..]));
        assert_eq!(batch.slice(102, 1).as_deref(), Some(&b"c"[..]));
        assert_eq!(batch.slice(105, 10).as_deref(), Some(&b"fgh"[..]));
        assert_eq!(batch.slice(99, 10), None);
        assert_eq!(batch.slice(108, 10), None);
    }
}
