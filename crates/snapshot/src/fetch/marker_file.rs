//! The marker file: absent while the destination changes, written last.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Result, SnapshotError};
use crate::marker::Marker;

/// The marker at `path`, if there is a readable one.
pub(crate) fn read(path: &Path) -> Option<Marker> {
    std::fs::read(path).ok().and_then(|bytes| Marker::from_json(&bytes))
}

/// Removes the marker (a missing one is fine).
pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SnapshotError::io("remove marker", path, e)),
        _ => Ok(()),
    }
}

/// Writes the marker: a new file beside it, flushed, then renamed over it, so that a
/// crash leaves the old state or the complete marker.
pub(crate) fn write(path: &Path, marker: &Marker) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = Path::new(&temporary);
    let _ = std::fs::remove_file(temporary);
    let written = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(temporary)
        .and_then(|mut file| {
            file.write_all(&marker.to_json())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(temporary, path));
    written.map_err(|e| SnapshotError::io("write marker", path, e))
}
