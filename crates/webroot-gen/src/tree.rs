//! Writes a listing out as a tree: directories, then files on all cores (rayon), then the
//! directories' modes and mtimes (writing files into a directory moves its mtime).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::Error;
use crate::class::{Class, class_of};
use crate::contents::Contents;
use crate::listing::{FileEntry, Listing};

/// Modification time of every generated entry: 2026-01-01T00:00:00Z. Generation `g`
/// changes files with mtime `BASE_MTIME + g` days.
pub(crate) const BASE_MTIME: u64 = 1_767_225_600;

/// What `write_tree` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSummary {
    /// Regular files.
    pub files: usize,
    /// Directories (the root not counted).
    pub dirs: usize,
    /// Bytes of pseudo-text.
    pub text_bytes: u64,
    /// Bytes of random (incompressible) data.
    pub binary_bytes: u64,
}

/// The mtime of files of `generation`.
pub(crate) fn mtime_of(generation: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(BASE_MTIME + u64::from(generation) * 86_400)
}

/// Writes every `every`th file of `listing` and all its directories below `dest`, which
/// must be empty or absent.
pub fn write_tree(listing: &Listing, dest: &Path, contents: &Contents, every: usize) -> Result<TreeSummary, Error> {
    fs::create_dir_all(dest).map_err(Error::io(dest))?;
    if fs::read_dir(dest).map_err(Error::io(dest))?.next().is_some() {
        return Err(Error::NotEmpty(dest.to_owned()));
    }
    let files = listing.every(every);
    let mut parents: BTreeSet<&str> = listing.dirs.iter().map(|d| d.path.as_str()).collect();
    parents.extend(files.iter().filter_map(|(_, f)| f.path.rsplit_once('/').map(|(dir, _)| dir)));
    for dir in &parents {
        let path = dest.join(dir);
        fs::create_dir_all(&path).map_err(Error::io(&path))?;
    }
    files
        .par_iter()
        .try_for_each_init(Vec::new, |buf, &(index, file)| write_file(dest, contents, index, 0, file, buf))?;
    for dir in &listing.dirs {
        finish_dir(&dest.join(&dir.path), dir.mode)?;
    }
    finish_dir(dest, 0o755)?;
    let mut summary = TreeSummary { files: files.len(), dirs: listing.dirs.len(), ..TreeSummary::default() };
    for (_, file) in &files {
        match class_of(&file.path) {
            Class::Binary => summary.binary_bytes += file.size,
            Class::Text(_) => summary.text_bytes += file.size,
        }
    }
    Ok(summary)
}

/// (Re)writes file number `index` of the listing at `generation`, with its mode and mtime.
pub(crate) fn write_file(
    dest: &Path,
    contents: &Contents,
    index: usize,
    generation: u32,
    file: &FileEntry,
    buf: &mut Vec<u8>,
) -> Result<(), Error> {
    use std::io::Write;
    let path = dest.join(&file.path);
    contents.fill(index, generation, &file.path, file.size, buf);
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(file.mode)
        .open(&path)
        .map_err(Error::io(&path))?;
    out.write_all(buf).map_err(Error::io(&path))?;
    // The umask may have masked bits of the mode at creation.
    out.set_permissions(Permissions::from_mode(file.mode)).map_err(Error::io(&path))?;
    out.set_modified(mtime_of(generation)).map_err(Error::io(&path))
}

fn finish_dir(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(Error::io(path))?;
    File::open(path).and_then(|dir| dir.set_modified(mtime_of(0))).map_err(Error::io(path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::test_support::{gzip_ratio, real_listing};

    #[test]
    fn one_percent_of_the_real_webroot() {
        let listing = real_listing();
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("webroot");
        let contents = Contents::new(1);
        let summary = write_tree(&listing, &dest, &contents, 100).unwrap();
        assert_eq!(summary.files, listing.files.len().div_ceil(100));
        assert_eq!(summary.dirs, listing.dirs.len());

        let (mut text, mut binary) = (Vec::new(), Vec::new());
        for (_, file) in listing.every(100) {
            let path = dest.join(&file.path);
            let meta = fs::metadata(&path).unwrap();
            assert_eq!((meta.len(), meta.mode() & 0o7777), (file.size, file.mode), "{}", file.path);
            assert_eq!(meta.mtime() as u64, BASE_MTIME);
            let data = fs::read(&path).unwrap();
            match class_of(&file.path) {
                Class::Binary => binary.extend(data),
                Class::Text(_) => text.extend(data),
            }
        }
        for dir in &listing.dirs {
            let meta = fs::metadata(dest.join(&dir.path)).unwrap();
            assert_eq!((meta.mode() & 0o7777, meta.mtime() as u64), (dir.mode, BASE_MTIME), "{}", dir.path);
        }
        let (text_ratio, binary_ratio) = (gzip_ratio(&text), gzip_ratio(&binary));
        assert!((3.8..5.2).contains(&text_ratio), "text compresses {text_ratio:.2}:1");
        assert!(binary_ratio < 1.01, "binary compresses {binary_ratio:.3}:1");

        let again = tmp.path().join("again");
        write_tree(&listing, &again, &contents, 100).unwrap();
        for (_, file) in listing.every(100).into_iter().take(50) {
            assert_eq!(fs::read(dest.join(&file.path)).unwrap(), fs::read(again.join(&file.path)).unwrap());
        }
        assert!(matches!(write_tree(&listing, &again, &contents, 100), Err(Error::NotEmpty(_))));
    }
}
