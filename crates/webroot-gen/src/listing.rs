//! The shape of a webroot: its files (path, size, mode) and directories (path, mode), read
//! from the tab-separated listings in `benches/data/` (plain or gzip-compressed).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::Error;

/// A regular file of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileEntry {
    /// Path relative to the webroot, `/`-separated.
    pub(crate) path: String,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Permission bits.
    pub(crate) mode: u32,
}

/// A directory of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirEntry {
    /// Path relative to the webroot, `/`-separated.
    pub(crate) path: String,
    /// Permission bits.
    pub(crate) mode: u32,
}

/// Every file and directory of a webroot, in listing order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files; their index in this list seeds their contents.
    pub(crate) files: Vec<FileEntry>,
    /// Directories.
    pub(crate) dirs: Vec<DirEntry>,
}

impl Listing {
    /// Reads a files listing (`path size mode`) and a directories listing (`path mode`).
    pub fn load(files: &Path, dirs: &Path) -> Result<Self, Error> {
        let files = read_rows(files, &["path", "size", "mode"])?
            .into_iter()
            .map(|(line, mut fields)| {
                let mode = parse_mode(files, line, &fields[2])?;
                let size = fields[1].parse().map_err(|_| bad(files, line, format!("size {:?}", fields[1])))?;
                Ok(FileEntry { path: std::mem::take(&mut fields[0]), size, mode })
            })
            .collect::<Result<_, Error>>()?;
        let dirs = read_rows(dirs, &["path", "mode"])?
            .into_iter()
            .map(|(line, mut fields)| {
                Ok(DirEntry { mode: parse_mode(dirs, line, &fields[1])?, path: std::mem::take(&mut fields[0]) })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self { files, dirs })
    }

    /// Every `n`th file (indexes 0, n, 2n, …) and every directory: a smaller tree of the
    /// same mix, whose files keep their contents (the index into the full listing is kept).
    pub(crate) fn every(&self, n: usize) -> Vec<(usize, &FileEntry)> {
        self.files.iter().enumerate().step_by(n.max(1)).collect()
    }
}

/// Reads a listing with the given header; returns (line number, fields) per data row.
fn read_rows(path: &Path, header: &[&str]) -> Result<Vec<(usize, Vec<String>)>, Error> {
    let file = File::open(path).map_err(Error::io(path))?;
    let reader: Box<dyn Read> =
        if path.extension().is_some_and(|e| e == "gz") { Box::new(MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(Error::io(path))?;
        let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
        if line_no == 1 {
            if fields != header {
                return Err(bad(path, 1, format!("header must be {:?}", header.join("\t"))));
            }
            continue;
        }
        if fields.len() != header.len() {
            return Err(bad(path, line_no, format!("expected {} tab-separated fields", header.len())));
        }
        check_relative(path, line_no, &fields[0])?;
        rows.push((line_no, fields));
    }
    Ok(rows)
}

/// The generator writes below its destination only: no absolute paths, no `..`, no `.`.
fn check_relative(listing: &Path, line: usize, rel: &str) -> Result<(), Error> {
    let safe = !rel.is_empty() && rel.split('/').all(|c| !matches!(c, "" | "." | ".."));
    if safe { Ok(()) } else { Err(bad(listing, line, format!("path {rel:?} is not a plain relative path"))) }
}

fn parse_mode(listing: &Path, line: usize, text: &str) -> Result<u32, Error> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| bad(listing, line, format!("mode {text:?} is not octal permission bits")))
}

fn bad(path: &Path, line: usize, reason: String) -> Error {
    Error::Listing { path: path.to_owned(), line, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_files_and_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let files = write(tmp.path(), "f.tsv", "path\tsize\tmode\na/b.php\t12\t644\nocc\t0\t755\n");
        let dirs = write(tmp.path(), "d.tsv", "path\tmode\na\t755\n");
        let listing = Listing::load(&files, &dirs).unwrap();
        assert_eq!(listing.files[0], FileEntry { path: "a/b.php".into(), size: 12, mode: 0o644 });
        assert_eq!(listing.files[1].mode, 0o755);
        assert_eq!(listing.dirs, vec![DirEntry { path: "a".into(), mode: 0o755 }]);
        assert_eq!(listing.files.iter().map(|f| f.size).sum::<u64>(), 12);
    }

    #[test]
    fn rejects_paths_leaving_the_tree_and_bad_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = write(tmp.path(), "d.tsv", "path\tmode\n");
        for (row, needle) in [
            ("../x\t1\t644", "plain relative"),
            ("/etc/passwd\t1\t644", "plain relative"),
            ("a//b\t1\t644", "plain relative"),
            ("a/./b\t1\t644", "plain relative"),
            ("a\tten\t644", "size"),
            ("a\t1\t999", "octal"),
            ("a\t1", "fields"),
        ] {
            let files = write(tmp.path(), "f.tsv", &format!("path\tsize\tmode\n{row}\n"));
            let err = Listing::load(&files, &dirs).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(":2:"), "{row}: {err}");
        }
        let files = write(tmp.path(), "f.tsv", "name\tsize\tmode\n");
        assert!(Listing::load(&files, &dirs).unwrap_err().to_string().contains("header"));
    }

    #[test]
    fn reads_the_gzipped_real_listing() {
        let listing = crate::test_support::real_listing();
        assert_eq!((listing.files.len(), listing.dirs.len()), (26_359, 2_946));
        assert_eq!(listing.files.iter().map(|f| f.size).sum::<u64>(), 475_324_090);
    }
}
