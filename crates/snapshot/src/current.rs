//! Moving the `current` pointer without ever leaving it half-written or lost.

use std::time::SystemTime;

use tracing::{debug, warn};

use crate::error::{Result, SnapshotError};
use crate::pointer::{Pointer, SnapshotRef};
use crate::resolve::read_pointer;
use crate::snapshot_id::rfc3339;
use crate::store::{PutCondition, SnapshotStore};

/// Rounds of read-then-conditional-write before giving up on a contended pointer.
const ROUNDS: u32 = 20;

/// Points `current` at `target`, keeping the snapshot it named before as `previous`;
/// returns that previous snapshot.
///
/// The pointer is one small object written whole, so readers see the old or the new
/// pointer, never a mix. Each write is conditional on the ETag just read (`If-Match`, or
/// `If-None-Match: *` when there is no pointer yet), so that two publishers racing each
/// record the other's snapshot as `previous` instead of losing it; a store that ignores
/// the conditions degrades to last-writer-wins, still with a complete pointer.
pub(crate) async fn move_current(store: &SnapshotStore, target: &SnapshotRef) -> Result<Option<SnapshotRef>> {
    let key = store.layout.current();
    for round in 1..=ROUNDS {
        let (previous, condition) = match read_pointer(store).await {
            Ok(Some((pointer, etag))) => {
                // pointing again at the current snapshot keeps the previous one
                let previous = if pointer.current.id == target.id { pointer.previous } else { Some(pointer.current) };
                (previous, etag.map_or(PutCondition::None, PutCondition::IfMatch))
            }
            Ok(None) => (None, PutCondition::IfAbsent),
            Err(SnapshotError::Invalid { reason, .. }) => {
                warn!(%reason, "replacing an unreadable current pointer");
                (None, PutCondition::None)
            }
            Err(other) => return Err(other),
        };
        let pointer =
            Pointer { current: target.clone(), previous: previous.clone(), updated_at: rfc3339(SystemTime::now()) };
        if store.put(&key, pointer.to_json(), "application/json", condition).await? {
            return Ok(previous);
        }
        debug!(round, "current moved meanwhile; reading it again");
        tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(round))).await;
    }
    Err(store.s3_error("PutObject", &key, format!("the pointer kept changing under {ROUNDS} conditional writes")))
}
