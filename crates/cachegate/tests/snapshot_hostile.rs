//! `fetch-webroot` against crafted, hostile or tampered snapshots in a real RGW: each is
//! refused with a clear one-line message, leaves no marker and writes nothing outside DEST.
//!
//! The snapshots are built here from an index and a data stream: `fetch-webroot` takes
//! every entry's metadata from the index and only file contents from the tar stream (it
//! never reads tar headers), so a crafted index over plain data is what an attacker who
//! controls the bucket can serve. Each is a consistent chain (pointer → manifest → index →
//! members) unless the case tampers with one link of it.

mod common;

use std::os::unix::fs::{MetadataExt, symlink};

use aws_sdk_s3::primitives::ByteStream;
use cachegate_snapshot::{
    ArchiveRef, Digest, Entry, EntryKind, INDEX_FORMAT, Index, IndexRef, Layout, MANIFEST_FORMAT, Manifest, Member,
    Pointer, SnapshotId, SnapshotRef, compress_member,
};
use common::{fetch, fresh_bucket, rgw_client};

const MEMBER: usize = 4096;

/// A snapshot under construction: entries and the stream their contents live in.
#[derive(Default)]
struct Craft {
    stream: Vec<u8>,
    entries: Vec<Entry>,
}

fn entry(path: &str, kind: EntryKind) -> Entry {
    Entry {
        path: path.into(),
        kind,
        mode: 0o755,
        mtime: 1_700_000_000,
        size: 0,
        sha256: None,
        offset: None,
        member: None,
        target: None,
    }
}

impl Craft {
    fn header(&mut self) {
        self.stream.extend_from_slice(&[0; 512]);
    }

    fn dir(mut self, path: &str) -> Self {
        self.header();
        self.entries.push(entry(path, EntryKind::Dir));
        self
    }

    fn file(mut self, path: &str, content: &[u8]) -> Self {
        self.header();
        let offset = self.stream.len() as u64;
        self.stream.extend_from_slice(content);
        self.stream.resize(self.stream.len().div_ceil(512) * 512, 0);
        self.entries.push(Entry {
            mode: 0o644,
            size: content.len() as u64,
            sha256: Some(Digest::of(content)),
            offset: Some(offset),
            ..entry(path, EntryKind::File)
        });
        self
    }

    fn link(mut self, path: &str, kind: EntryKind, target: &str) -> Self {
        self.header();
        self.entries.push(Entry { mode: 0o777, target: Some(target.into()), ..entry(path, kind) });
        self
    }

    /// Changes the last entry.
    fn with(mut self, change: impl FnOnce(&mut Entry)) -> Self {
        change(self.entries.last_mut().unwrap());
        self
    }

    /// The archive (gzip members of [`MEMBER`] bytes) and its index.
    fn build(mut self) -> (Vec<u8>, Index) {
        self.stream.extend_from_slice(&[0; 1024]);
        let (mut archive, mut members) = (Vec::new(), Vec::new());
        for (n, chunk) in self.stream.chunks(MEMBER).enumerate() {
            let member = compress_member(chunk, 6);
            members.push(Member {
                offset: archive.len() as u64,
                size: member.gz.len() as u64,
                uoffset: (n * MEMBER) as u64,
                usize: member.usize,
                sha256: member.sha256,
            });
            archive.extend_from_slice(&member.gz);
        }
        for entry in &mut self.entries {
            entry.member = entry.offset.map(|o| (o / MEMBER as u64) as u32);
        }
        (archive, Index { format: INDEX_FORMAT, members, entries: self.entries })
    }
}

/// A valid snapshot: a directory with a file.
fn honest() -> Craft {
    Craft::default().dir("apps").file("apps/a.php", b"<?php echo 'a';").file("index.php", b"<?php")
}

/// The objects of one snapshot, to tamper with before upload.
struct Objects {
    id: SnapshotId,
    archive: Vec<u8>,
    index_json: Vec<u8>,
    manifest: Manifest,
}

impl Objects {
    fn new(archive: Vec<u8>, index: &Index) -> Self {
        let id = SnapshotId::new(std::time::SystemTime::now());
        let totals = index.totals();
        let index_json = index.to_json();
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            id: id.clone(),
            created_at: "2026-11-22T10:15:00Z".into(),
            source_host: "attacker".into(),
            nextcloud_version: None,
            cachegate_version: "0".into(),
            archive: ArchiveRef { size: archive.len() as u64, sha256: Digest::of(&archive) },
            index: IndexRef { size: 0, json_size: 0, sha256: Digest::of(b"") },
            uncompressed_size: totals.uncompressed_size,
            file_bytes: totals.file_bytes,
            entry_count: totals.entry_count,
            member_count: index.members.len() as u64,
            max_path_len: totals.max_path_len,
            excluded: vec![],
        };
        Self { id, archive, index_json, manifest }
    }

    /// Uploads the snapshot and points `current` at it; `tamper` runs on the gzip index
    /// and the manifest bytes after the chain of digests is computed.
    async fn publish(mut self, bucket: &str, tamper: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>)) {
        let layout = Layout::new("");
        let mut index_gz = gzip(&self.index_json);
        self.manifest.index = IndexRef {
            size: index_gz.len() as u64,
            json_size: self.index_json.len() as u64,
            sha256: Digest::of(&index_gz),
        };
        let mut manifest_json = self.manifest.to_json();
        let pointer = Pointer {
            current: SnapshotRef { id: self.id.clone(), manifest_sha256: Digest::of(&manifest_json) },
            previous: None,
            updated_at: "2026-11-22T10:15:00Z".into(),
        };
        tamper(&mut self.archive, &mut index_gz, &mut manifest_json);
        for (key, body) in [
            (layout.archive(&self.id), self.archive),
            (layout.index(&self.id), index_gz),
            (layout.manifest(&self.id), manifest_json),
            (layout.current(), pointer.to_json()),
        ] {
            rgw_client().put_object().bucket(bucket).key(key).body(ByteStream::from(body)).send().await.unwrap();
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    compress_member(bytes, 6).gz
}

/// A destination holding an honest snapshot (with its marker) beside an `outside`
/// directory with a sentinel, in one work directory.
struct Scene {
    work: tempfile::TempDir,
    bucket: String,
}

impl Scene {
    async fn new() -> Self {
        let scene = Self { work: tempfile::tempdir().unwrap(), bucket: fresh_bucket("hostile").await };
        std::fs::create_dir(scene.outside()).unwrap();
        std::fs::write(scene.outside().join("sentinel"), b"untouched").unwrap();
        let (archive, index) = honest().build();
        Objects::new(archive, &index).publish(&scene.bucket, |_, _, _| {}).await;
        let (code, err) = scene.fetch(&[]);
        assert_eq!(code, 0, "honest snapshot: {err}");
        assert!(scene.dest().join(".directory").exists());
        scene
    }

    fn dest(&self) -> std::path::PathBuf {
        self.work.path().join("dest")
    }

    fn outside(&self) -> std::path::PathBuf {
        self.work.path().join("outside")
    }

    fn fetch(&self, extra: &[&str]) -> (i32, String) {
        fetch(&self.bucket, "", &self.dest(), extra)
    }

    /// Serves `craft` (tampered by `tamper`) and checks that the fetch is refused with
    /// `expected` in a one-line message, without a marker, with nothing written outside.
    async fn refused(
        &self,
        craft: Craft,
        tamper: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>),
        expected: &str,
    ) {
        let (archive, index) = craft.build();
        Objects::new(archive, &index).publish(&self.bucket, tamper).await;
        self.refused_as_published(&[], expected);
    }

    fn refused_as_published(&self, extra: &[&str], expected: &str) {
        let (code, err) = self.fetch(extra);
        assert_eq!(code, 1, "{expected}: the fetch succeeded: {err}");
        let message: Vec<&str> = err.lines().filter(|l| l.starts_with("fetch-webroot:")).collect();
        assert_eq!(message.len(), 1, "{expected}: {err}");
        assert!(message[0].contains(expected), "expected '{expected}' in: {err}");
        assert!(!self.dest().join(".directory").exists(), "{expected}: a marker was left");
        let outside: Vec<_> = std::fs::read_dir(self.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(outside, ["sentinel"], "{expected}: something was written outside DEST");
        assert_eq!(std::fs::read(self.outside().join("sentinel")).unwrap(), b"untouched");
        let work: Vec<_> = std::fs::read_dir(self.work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(work.len(), 2, "{expected}: something appeared beside DEST: {work:?}");
    }
}

fn untouched(_: &mut Vec<u8>, _: &mut Vec<u8>, _: &mut Vec<u8>) {}

#[tokio::test]
async fn paths_that_leave_the_destination_are_refused() {
    let scene = Scene::new().await;
    for (path, expected) in [
        ("/tmp/abs.php", "absolute path"),
        ("../outside/x.php", "'..' path component"),
        ("apps/../../outside/x.php", "'..' path component"),
        ("apps//x.php", "empty path component"),
        ("apps/./x.php", "'.' path component"),
    ] {
        scene.refused(honest().file(path, b"evil"), untouched, expected).await;
    }
}

#[tokio::test]
async fn entries_through_symlinks_and_links_out_of_the_destination_are_refused() {
    let scene = Scene::new().await;
    let cases = [
        (honest().link("s", EntryKind::Symlink, "../outside").file("s/x.php", b"evil"), "reached through a symlink"),
        (honest().link("s", EntryKind::Symlink, "apps").file("s/x.php", b"evil"), "reached through a symlink"),
        (honest().link("l", EntryKind::Symlink, "../outside"), "leaves the destination"),
        (honest().link("apps/l", EntryKind::Symlink, "../../outside/sentinel"), "leaves the destination"),
        (honest().link("l", EntryKind::Symlink, "/etc/passwd"), "absolute symlink target"),
        // a -> . makes x/b -> ../a/.. the destination's parent, though it looks inside
        (honest().link("a", EntryKind::Symlink, ".").dir("x").link("x/b", EntryKind::Symlink, "../a/.."), "leaves"),
        (honest().link("h", EntryKind::Hardlink, "../outside/sentinel"), "is not a file listed before it"),
        (honest().link("h", EntryKind::Hardlink, "/etc/passwd"), "is not a file listed before it"),
        (honest().link("h", EntryKind::Hardlink, "apps"), "is not a file listed before it"),
        (honest().file(".directory", b"{}"), "holds the marker's path"),
    ];
    for (craft, expected) in cases {
        scene.refused(craft, untouched, expected).await;
    }
}

#[tokio::test]
async fn devices_fifos_and_malformed_indexes_are_refused() {
    let scene = Scene::new().await;
    for kind in ["fifo", "chardev", "blockdev", "socket"] {
        let (archive, index) = honest().build();
        let mut objects = Objects::new(archive, &index);
        let json = String::from_utf8(objects.index_json).unwrap();
        objects.index_json = json.replacen("\"type\":\"file\"", &format!("\"type\":\"{kind}\""), 1).into_bytes();
        objects.publish(&scene.bucket, untouched).await;
        scene.refused_as_published(&[], "unknown variant");
    }
    let cases = [
        (honest().file("c.php", b"x").with(|e| e.offset = Some(512)), "overlap the previous file"),
        (honest().file("c.php", b"x").with(|e| e.offset = Some(1 << 40)), "beyond the tar stream"),
        (honest().file("apps", b"x"), "listed twice"),
        (honest().file("x/y.php", b"x"), "not listed before it"),
    ];
    for (craft, expected) in cases {
        scene.refused(craft, untouched, expected).await;
    }
}

#[tokio::test]
async fn tampering_with_any_link_of_the_chain_is_a_digest_mismatch() {
    let scene = Scene::new().await;
    let flip = |bytes: &mut Vec<u8>| {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
    };
    let new_file = || honest().file("new.php", &[b'n'; 3000]);
    scene.refused(new_file(), |archive, _, _| flip(archive), "digest mismatch for member").await;
    scene.refused(honest(), |_, index, _| flip(index), "digest mismatch for index").await;
    scene.refused(honest(), |_, _, manifest| manifest.push(b' '), "digest mismatch for manifest").await;
    // consistent digests up to the member, but the file is not what the index promises
    scene
        .refused(
            honest().file("c.php", b"x").with(|e| e.sha256 = Some(Digest::of(b"y"))),
            untouched,
            "digest mismatch for file 'c.php'",
        )
        .await;
}

#[tokio::test]
async fn limits_are_enforced() {
    let scene = Scene::new().await;
    let (archive, index) = honest().file("big.bin", &[7; 20_000]).build();
    Objects::new(archive, &index).publish(&scene.bucket, untouched).await;
    scene.refused_as_published(&["--max-bytes", "16KiB"], "tar stream length");
    scene.refused_as_published(&["--max-entries", "3"], "entry count 4 exceeds the limit 3");

    for (change, expected) in [
        ((|m| m.entry_count -= 1) as fn(&mut Manifest), "entry count"),
        (|m| m.max_path_len = 5, "limit is 5"),
        (|m| m.file_bytes -= 1, "differ from the manifest's"),
    ] {
        let (archive, index) = honest().build();
        let mut objects = Objects::new(archive, &index);
        change(&mut objects.manifest);
        objects.publish(&scene.bucket, untouched).await;
        scene.refused_as_published(&[], expected);
    }

    // a member that inflates to more than the index says
    let (archive, mut index) = honest().file("bomb.php", b"not there yet").build();
    index.members[0].usize -= 100;
    for member in &mut index.members[1..] {
        member.uoffset -= 100;
    }
    Objects::new(archive, &index).publish(&scene.bucket, untouched).await;
    scene.refused_as_published(&[], "inflates to");
}

#[tokio::test]
async fn set_id_bits_are_dropped_and_symlinks_planted_in_the_destination_are_not_followed() {
    let scene = Scene::new().await;
    std::fs::remove_dir_all(scene.dest().join("apps")).unwrap();
    symlink(scene.outside(), scene.dest().join("apps")).unwrap();
    let (archive, index) = honest().file("suid", b"#!/bin/sh").with(|e| e.mode = 0o6755).build();
    Objects::new(archive, &index).publish(&scene.bucket, untouched).await;
    let (code, err) = scene.fetch(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::metadata(scene.dest().join("suid")).unwrap().mode() & 0o7777, 0o755);
    let apps = std::fs::symlink_metadata(scene.dest().join("apps")).unwrap();
    assert!(apps.is_dir(), "the planted symlink was replaced by a directory");
    assert_eq!(std::fs::read(scene.dest().join("apps/a.php")).unwrap(), b"<?php echo 'a';");
    let outside: Vec<_> = std::fs::read_dir(scene.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside, ["sentinel"]);
    assert!(scene.dest().join(".directory").exists());
}
