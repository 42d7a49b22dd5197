use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

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

    pub(crate) fn advance(&self, written: u64) {
        self.state.send_replace(FillState::Writing(written));
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
