//! The index: where each gzip member lies in the archive and in the tar stream, and what
//! each entry of the webroot is.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::entry_path::{check_entry_path, split_parent};
use crate::error::{Result, SnapshotError};
use crate::limits::Limits;
use crate::link_check::check_symlink_target;

/// Version of the index document this code writes and reads.
pub const INDEX_FORMAT: u32 = 1;

/// The index of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Always [`INDEX_FORMAT`].
    pub format: u32,
    /// The gzip members of the archive, in archive order.
    pub members: Vec<Member>,
    /// The webroot's entries in tar order: every directory before what it holds.
    pub entries: Vec<Entry>,
}

/// One gzip member: an independent slice of the archive that inflates to a contiguous
/// range of the tar stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Offset of its first byte in the archive object.
    pub offset: u64,
    /// Its compressed length.
    pub size: u64,
    /// Offset of its first inflated byte in the tar stream.
    pub uoffset: u64,
    /// Its inflated length.
    pub usize: u64,
    /// SHA-256 of its compressed bytes.
    pub sha256: Digest,
}

impl Member {
    /// The bytes of the archive it occupies.
    pub fn archive_range(&self) -> Range<u64> {
        self.offset..self.offset + self.size
    }

    /// The bytes of the tar stream it inflates to.
    pub fn tar_range(&self) -> Range<u64> {
        self.uoffset..self.uoffset + self.usize
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file; its data lies in the tar stream.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to `target`.
    Symlink,
    /// A second name of the earlier regular file `target`.
    Hardlink,
}

/// One file, directory or link of the webroot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Path relative to the webroot, `/`-separated.
    pub path: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Permission bits (`0o777` at most; set-id and sticky bits are never written).
    #[serde(default)]
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    #[serde(default)]
    pub mtime: u64,
    /// Length of a file's contents.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// SHA-256 of a file's contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    /// Offset of a file's contents in the tar stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The member holding the first byte of a file's contents (or of where they would be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<u32>,
    /// A symlink's target, or the path of the file a hard link names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Entry {
    /// The permission bits to apply: set-uid, set-gid and sticky bits are dropped.
    pub fn permissions(&self) -> u32 {
        self.mode & 0o777
    }

    /// The bytes of the tar stream holding a file's contents (empty for other kinds).
    pub fn data_range(&self) -> Range<u64> {
        let start = self.offset.unwrap_or(0);
        start..start + self.size
    }

    /// A symlink's or hard link's target (empty for other kinds).
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or_default()
    }
}

/// Totals of an index, which its manifest repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexTotals {
    /// Length of the archive.
    pub archive_size: u64,
    /// Length of the tar stream.
    pub uncompressed_size: u64,
    /// Sum of the regular files' lengths.
    pub file_bytes: u64,
    /// Number of entries.
    pub entry_count: u64,
    /// Number of gzip members.
    pub member_count: u64,
    /// Longest path, in bytes.
    pub max_path_len: u64,
}

impl Index {
    /// Reads and validates a gzip-compressed index whose JSON is `json_len` bytes long.
    pub fn from_gzip(bytes: &[u8], json_len: u64, limits: &Limits) -> Result<Self> {
        if json_len > limits.max_index_len {
            return Err(SnapshotError::Limit { what: "index length", value: json_len, limit: limits.max_index_len });
        }
        let mut json = Vec::with_capacity(json_len as usize);
        flate2::read::MultiGzDecoder::new(bytes)
            .take(json_len + 1)
            .read_to_end(&mut json)
            .map_err(|e| SnapshotError::invalid("index", format!("not gzip: {e}")))?;
        if json.len() as u64 != json_len {
            return Err(SnapshotError::invalid(
                "index",
                format!("inflates to {} bytes, the manifest says {json_len}", json.len()),
            ));
        }
        Self::from_json(&json, limits)
    }

    /// Parses and validates the index's JSON.
    pub fn from_json(json: &[u8], limits: &Limits) -> Result<Self> {
        let index: Self = serde_json::from_slice(json).map_err(|e| SnapshotError::invalid("index", e.to_string()))?;
        index.validate(limits)?;
        Ok(index)
    }

    /// The index as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an index always serializes")
    }

    /// The index as gzip-compressed JSON, and the JSON's length.
    pub fn to_gzip(&self) -> (Vec<u8>, u64) {
        let json = self.to_json();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&json).expect("writing to memory");
        (encoder.finish().expect("writing to memory"), json.len() as u64)
    }

    /// The index's totals.
    pub fn totals(&self) -> IndexTotals {
        let last = self.members.last();
        let (file_bytes, max_path_len) = self.entries.iter().fold((0, 0), |(bytes, longest), e| {
            let size = if e.kind == EntryKind::File { e.size } else { 0 };
            (bytes + size, longest.max(e.path.len() as u64))
        });
        IndexTotals {
            archive_size: last.map_or(0, |m| m.offset + m.size),
            uncompressed_size: last.map_or(0, |m| m.uoffset + m.usize),
            file_bytes,
            entry_count: self.entries.len() as u64,
            member_count: self.members.len() as u64,
            max_path_len,
        }
    }

    /// The members whose tar ranges overlap `range` (a file's contents).
    pub fn members_overlapping(&self, range: Range<u64>) -> Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        let first = member_at(&self.members, range.start);
        let end = self.members.partition_point(|m| m.uoffset < range.end);
        first..end.max(first)
    }

    /// Checks every rule of the format that does not need the manifest: member layout,
    /// entry paths, parents, kinds and their fields, link targets, and the hard `limits`.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        if self.format != INDEX_FORMAT {
            return Err(SnapshotError::invalid(
                "index",
                format!("format {} (this cachegate reads {INDEX_FORMAT})", self.format),
            ));
        }
        let tar_len = self.validate_members(limits)?;
        let entry_count = self.entries.len() as u64;
        if entry_count > limits.max_entries {
            return Err(SnapshotError::Limit { what: "entry count", value: entry_count, limit: limits.max_entries });
        }
        let mut kinds: HashMap<&str, EntryKind> = HashMap::with_capacity(self.entries.len());
        let mut symlinks: HashMap<&str, &str> = HashMap::new();
        let mut data_end = 0;
        for entry in &self.entries {
            let refuse = |reason: String| SnapshotError::refused(&entry.path, reason);
            check_entry_path(&entry.path, limits.max_path_len).map_err(refuse)?;
            let (parent, _) = split_parent(&entry.path);
            match kinds.get(parent) {
                _ if parent.is_empty() => {}
                Some(EntryKind::Dir) => {}
                Some(EntryKind::Symlink) => return Err(refuse("reached through a symlink".into())),
                Some(_) => return Err(refuse("its parent is not a directory".into())),
                None => return Err(refuse("its directory is not listed before it".into())),
            }
            self.validate_fields(entry, &kinds, tar_len).map_err(refuse)?;
            if entry.kind == EntryKind::File {
                // contents in tar order, never shared: files cannot add up to more than the stream
                if entry.data_range().start < data_end {
                    return Err(refuse("its contents overlap the previous file's".into()));
                }
                data_end = entry.data_range().end;
            }
            if kinds.insert(&entry.path, entry.kind).is_some() {
                return Err(refuse("listed twice".into()));
            }
            if entry.kind == EntryKind::Symlink {
                symlinks.insert(&entry.path, entry.target());
            }
        }
        for (link, target) in &symlinks {
            check_symlink_target(link, target, &symlinks).map_err(|e| SnapshotError::refused(*link, e))?;
        }
        Ok(())
    }

    /// Checks the member layout; returns the length of the tar stream the members hold.
    fn validate_members(&self, limits: &Limits) -> Result<u64> {
        if self.members.is_empty() {
            return Err(SnapshotError::invalid("index", "no members"));
        }
        let (mut offset, mut uoffset) = (0u64, 0u64);
        for (n, member) in self.members.iter().enumerate() {
            let invalid = |reason: &str| SnapshotError::invalid("index", format!("member {n}: {reason}"));
            if member.offset != offset || member.uoffset != uoffset {
                return Err(invalid("does not follow the previous member"));
            }
            if member.size == 0 || member.usize == 0 {
                return Err(invalid("is empty"));
            }
            if member.usize > limits.max_member_len {
                return Err(SnapshotError::Limit {
                    what: "member length",
                    value: member.usize,
                    limit: limits.max_member_len,
                });
            }
            offset = offset.checked_add(member.size).ok_or_else(|| invalid("archive offset overflows"))?;
            uoffset = uoffset.checked_add(member.usize).ok_or_else(|| invalid("tar offset overflows"))?;
            if uoffset > limits.max_bytes {
                return Err(SnapshotError::Limit {
                    what: "tar stream length",
                    value: uoffset,
                    limit: limits.max_bytes,
                });
            }
        }
        Ok(uoffset)
    }

    fn validate_fields(&self, entry: &Entry, kinds: &HashMap<&str, EntryKind>, tar_len: u64) -> Result<(), String> {
        if entry.mode > 0o7777 {
            return Err(format!("mode {:o} is not a permission mode", entry.mode));
        }
        let file_fields = entry.size != 0 || entry.sha256.is_some() || entry.offset.is_some() || entry.member.is_some();
        match entry.kind {
            EntryKind::File => {
                let (Some(offset), Some(member), Some(_)) = (entry.offset, entry.member, entry.sha256) else {
                    return Err("a file needs sha256, offset and member".into());
                };
                if entry.target.is_some() {
                    return Err("a file has no target".into());
                }
                let end = offset.checked_add(entry.size).ok_or("file data overflows")?;
                if offset >= tar_len || end > tar_len {
                    return Err("file data lies beyond the tar stream".into());
                }
                let holds = self.members.get(member as usize).is_some_and(|m| m.tar_range().contains(&offset));
                if !holds {
                    return Err(format!("member {member} does not hold the file's offset {offset}"));
                }
            }
            EntryKind::Dir if file_fields || entry.target.is_some() => {
                return Err("a directory has no contents or target".into());
            }
            EntryKind::Dir => {}
            EntryKind::Symlink | EntryKind::Hardlink if file_fields => {
                return Err("a link has no contents".into());
            }
            EntryKind::Symlink => {
                if entry.target.is_none() {
                    return Err("a symlink needs a target".into());
                }
            }
            EntryKind::Hardlink => {
                let target = entry.target();
                if kinds.get(target) != Some(&EntryKind::File) {
                    return Err(format!("hard link target '{target}' is not a file listed before it"));
                }
            }
        }
        Ok(())
    }
}

/// The member holding tar offset `offset`: the first whose range ends beyond it.
pub(crate) fn member_at(members: &[Member], offset: u64) -> usize {
    members.partition_point(|m| m.uoffset + m.usize <= offset)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid index: one member, a directory, a file, a symlink and a hard link.
    pub(crate) fn sample() -> Index {
        let file = |path: &str, offset: u64, size: u64| Entry {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            mtime: 1_700_000_000,
            size,
            sha256: Some(Digest::of(path.as_bytes())),
            offset: Some(offset),
            member: Some(u32::from(offset >= 4096)),
            target: None,
        };
        let other = |path: &str, kind: EntryKind, target: Option<&str>| Entry {
            path: path.into(),
            kind,
            mode: 0o755,
            mtime: 1_700_000_000,
            size: 0,
            sha256: None,
            offset: None,
            member: None,
            target: target.map(Into::into),
        };
        Index {
            format: INDEX_FORMAT,
            members: vec![
                Member { offset: 0, size: 100, uoffset: 0, usize: 4096, sha256: Digest::of(b"m0") },
                Member { offset: 100, size: 50, uoffset: 4096, usize: 4096, sha256: Digest::of(b"m1") },
            ],
            entries: vec![
                other("d", EntryKind::Dir, None),
                file("d/a.php", 1024, 5000),
                other("d/l", EntryKind::Symlink, Some("a.php")),
                other("h", EntryKind::Hardlink, Some("d/a.php")),
                file("e", 7168, 0),
            ],
        }
    }

    #[test]
    fn json_and_gzip_round_trip() {
        let index = sample();
        assert_eq!(Index::from_json(&index.to_json(), &Limits::default()).unwrap(), index);
        let (gz, len) = index.to_gzip();
        assert_eq!(Index::from_gzip(&gz, len, &Limits::default()).unwrap(), index);
        assert!(Index::from_gzip(&gz, len - 1, &Limits::default()).unwrap_err().to_string().contains("inflates"));
    }

    #[test]
    fn totals_and_overlapping_members() {
        let index = sample();
        let totals = index.totals();
        assert_eq!((totals.archive_size, totals.uncompressed_size, totals.file_bytes), (150, 8192, 5000));
        assert_eq!(totals.member_count, 2);
        assert_eq!((member_at(&index.members, 4095), member_at(&index.members, 4096)), (0, 1));
        assert_eq!(index.members_overlapping(1024..6024), 0..2);
        assert_eq!(index.members_overlapping(4096..4097), 1..2);
        assert_eq!(index.members_overlapping(0..4096), 0..1);
        assert_eq!(index.members_overlapping(5..5), 0..0);
    }

    /// A change that breaks a rule of the format.
    type Mutation = fn(&mut Index);

    fn refused(mutate: impl FnOnce(&mut Index)) -> String {
        let mut index = sample();
        mutate(&mut index);
        index.validate(&Limits::default()).unwrap_err().to_string()
    }

    #[test]
    fn refuses_hostile_or_broken_entries() {
        let cases: &[(Mutation, &str)] = &[
            (|i| i.entries[1].path = "../a.php".into(), "'..'"),
            (|i| i.entries[1].path = "/a.php".into(), "absolute"),
            (|i| i.entries[1].path = "x/a.php".into(), "not listed before"),
            (|i| i.entries[1].path = "d/l/x".into(), "not listed before"),
            (|i| i.entries[4].path = "d/l/x".into(), "through a symlink"),
            (|i| i.entries[4].path = "h/x".into(), "parent is not a directory"),
            (|i| i.entries[4].path = "d".into(), "listed twice"),
            (|i| i.entries[2].target = Some("../../x".into()), "leaves the destination"),
            (|i| i.entries[2].target = Some("/etc".into()), "absolute"),
            (|i| i.entries[3].target = Some("d/l".into()), "is not a file"),
            (|i| i.entries[3].target = Some("e".into()), "is not a file listed before"),
            (|i| i.entries[1].offset = Some(8000), "beyond the tar stream"),
            (|i| i.entries[1].member = Some(1), "does not hold"),
            (|i| i.entries[4].offset = Some(6000), "overlap the previous"),
            (|i| i.entries[1].sha256 = None, "needs sha256"),
            (|i| i.entries[0].size = 3, "directory has no contents"),
            (|i| i.entries[1].mode = 0o100644, "not a permission mode"),
            (|i| i.members[1].offset = 99, "does not follow"),
            (|i| i.members[1].usize = 0, "is empty"),
            (|i| i.members.clear(), "no members"),
            (|i| i.format = 2, "format 2"),
        ];
        for (mutate, expected) in cases {
            let message = refused(*mutate);
            assert!(message.contains(expected), "expected '{expected}' in '{message}'");
        }
    }

    #[test]
    fn enforces_hard_limits() {
        let index = sample();
        let tight = |f: fn(&mut Limits)| {
            let mut limits = Limits::default();
            f(&mut limits);
            index.validate(&limits).unwrap_err().to_string()
        };
        assert!(tight(|l| l.max_entries = 4).contains("entry count 5 exceeds"));
        assert!(tight(|l| l.max_bytes = 8000).contains("tar stream length"));
        assert!(tight(|l| l.max_member_len = 4000).contains("member length"));
        assert!(tight(|l| l.max_path_len = 4).contains("limit is 4"));
    }

    #[test]
    fn rejects_unknown_fields() {
        let json = String::from_utf8(sample().to_json()).unwrap().replacen("\"format\":1", "\"format\":1,\"x\":0", 1);
        assert!(
            Index::from_json(json.as_bytes(), &Limits::default()).unwrap_err().to_string().contains("unknown field")
        );
    }
}
