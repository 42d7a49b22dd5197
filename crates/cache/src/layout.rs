use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::block::BLOCK_SIZE;
use crate::key::EntryId;
use crate::meta::{Entry, EntryRecord, RECORD_FORMAT};

/// Where entries live: `DIR/<2 hex>/<id>-<nonce>.{data,meta}`, written as `.tmp` first.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the data file of a fresh entry of `id` (as `.data.tmp`) and returns its stem
    /// with it; the nonce keeps a replacement apart from the entry it replaces, whose files
    /// are deleted when the index drops it.
    pub(crate) fn create(&self, id: EntryId, nonce: u64) -> io::Result<(PathBuf, fs::File)> {
        let name = id.to_string();
        let fan_out = self.dir.join(&name[..2]);
        let stem = fan_out.join(format!("{name}-{nonce:016x}"));
        let open = || fs::OpenOptions::new().create_new(true).read(true).write(true).open(tmp(&stem, "data"));
        // the fan-out directory exists but for the first entry in it: make it only then
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&fan_out)?;
                open()?
            }
            opened => opened?,
        };
        Ok((stem, file))
    }

    /// Makes `record` the description of the complete data file at `stem.data.tmp`:
    /// data renamed first, record last, so a record never points at a partial file.
    pub(crate) fn commit(stem: &Path, record: &EntryRecord) -> io::Result<()> {
        let meta_tmp = tmp(stem, "meta");
        let mut file = fs::File::create(&meta_tmp)?;
        file.write_all(&serde_json::to_vec(record).map_err(io::Error::other)?)?;
        drop(file);
        fs::rename(tmp(stem, "data"), stem.with_extension("data"))?;
        fs::rename(meta_tmp, stem.with_extension("meta"))
    }

    /// Deletes the files of a complete entry, its record first, so that an interrupted
    /// removal leaves data without a record, which [`Self::scan`] deletes.
    pub(crate) fn remove(stem: &Path) {
        remove_files([stem.with_extension("meta"), stem.with_extension("data")]);
    }

    /// Deletes every file an entry may have, complete or not (a fill that failed or was
    /// discarded, a commit that stopped half-way, a record that cannot be read).
    pub(crate) fn remove_unfinished(stem: &Path) {
        remove_files([stem.with_extension("meta"), stem.with_extension("data"), tmp(stem, "meta"), tmp(stem, "data")]);
    }

    /// Finds the complete entries left by an earlier run and deletes everything else
    /// (temporary files, data without a record, records without their data).
    pub(crate) fn scan(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for fan_out in fs::read_dir(&self.dir)? {
            let fan_out = fan_out?.path();
            if !fan_out.is_dir() {
                continue;
            }
            let mut stems: Vec<PathBuf> = Vec::new();
            for file in fs::read_dir(&fan_out)? {
                let path = file?.path();
                let stem = path.with_extension("");
                match path.extension().and_then(|e| e.to_str()) {
                    Some("meta") => stems.push(stem),
                    Some("data") => {}
                    _ => {
                        debug!(path = %path.display(), "removing leftover cache file");
                        let _ = fs::remove_file(&path);
                    }
                }
            }
            for stem in stems {
                match load(&stem) {
                    Some(entry) => entries.push(entry),
                    None => Self::remove_unfinished(&stem),
                }
            }
            for file in fs::read_dir(&fan_out)? {
                let path = file?.path();
                if path.extension().is_some_and(|e| e == "data") && !path.with_extension("meta").exists() {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(entries)
    }
}

fn remove_files(paths: impl IntoIterator<Item = PathBuf>) {
    for path in paths {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %path.display(), error = %e, "cannot delete cache file"),
        }
    }
}

/// The temporary name of an entry file while it is written.
pub(crate) fn tmp(stem: &Path, kind: &str) -> PathBuf {
    stem.with_extension(format!("{kind}.tmp"))
}

/// A complete entry at `stem`, or `None` when its record or data is not usable.
fn load(stem: &Path) -> Option<Entry> {
    let record: EntryRecord = serde_json::from_slice(&fs::read(stem.with_extension("meta")).ok()?).ok()?;
    let size = fs::metadata(stem.with_extension("data")).ok()?.len();
    let readable = record.format == RECORD_FORMAT && record.block_size == BLOCK_SIZE && size == record.object.size;
    readable.then(|| Entry::new(record, stem.to_owned()))
}
