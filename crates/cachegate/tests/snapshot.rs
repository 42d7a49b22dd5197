//! Webroot snapshots end to end through a real RGW: `publish-snapshot`, `fetch-webroot` and
//! `snapshots` run as the built binary; trees are compared by content and by stat.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use common::{
    Node, Relay, cachegate_command, eventually, failure, fetch, fetch_command, fetched_ok, fresh_bucket, noise,
    publish, rgw_client, run_cachegate, snapshot_of, untar, walk,
};

fn set_mtime(path: &Path, secs: u64) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
}

fn write(root: &Path, rel: &str, content: &[u8], mode: u32, mtime: u64) {
    let path = root.join(rel);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mtime(&path, mtime);
}

/// A webroot with every entry type: directories with modes, regular, empty, executable
/// and set-uid files, symlinks (one with a long target), a hard link, unicode and long
/// names, a file spanning several members, mtimes; plus `data/` and `config/config.php`.
fn make_tree(root: &Path) {
    let long_dir = format!("apps/{}", "d".repeat(120));
    for dir in ["apps", "apps/files", "lib", "lib/private", "data", "config", "ünïcödé 文字", long_dir.as_str()] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    write(root, "index.php", b"<?php\nrequire 'lib/base.php';\n", 0o644, 1_700_000_001);
    write(root, "version.php", b"<?php\n$OC_VersionString = '34.0.1';\n", 0o644, 1_700_000_002);
    write(root, "occ", b"#!/usr/bin/env php\n", 0o755, 1_700_000_003);
    write(root, "suid", b"no set-uid in a webroot\n", 0o4755, 1_700_000_004);
    write(root, "lib/private/empty.php", b"", 0o600, 1_700_000_005);
    write(root, "lib/private/big.bin", &noise(20_000, 1), 0o644, 1_700_000_006);
    write(root, "apps/files/app.js", &b"console.log('files');\n".repeat(300), 0o644, 1_700_000_007);
    write(root, "ünïcödé 文字/ファイル.txt", "unicode ✓\n".as_bytes(), 0o644, 1_700_000_008);
    let long_file = format!("{long_dir}/{}.php", "f".repeat(150));
    write(root, &long_file, b"<?php // long name\n", 0o644, 1_700_000_009);
    write(root, "data/owncloud.db", b"user data", 0o644, 1_700_000_010);
    write(root, "config/config.php", b"<?php $CONFIG = ['secret' => 'x'];", 0o640, 1_700_000_011);
    write(root, "config/apps.config.php", b"<?php", 0o644, 1_700_000_012);
    std::fs::hard_link(root.join("index.php"), root.join("apps/files/index-link.php")).unwrap();
    symlink("../../index.php", root.join("apps/files/rel-link.php")).unwrap();
    symlink(long_file.strip_prefix("apps/").unwrap(), root.join("apps/long-target")).unwrap();
    symlink("lib/private", root.join("dir-link")).unwrap();
    std::fs::set_permissions(root.join("lib/private"), std::fs::Permissions::from_mode(0o750)).unwrap();
    for dir in ["apps/files", "lib/private", "lib", "ünïcödé 文字", long_dir.as_str(), "apps", "config"] {
        set_mtime(&root.join(dir), 1_600_000_000);
    }
}

/// What the destination must equal: the source without `data/` and `config/config.php`,
/// set-uid bits dropped.
fn expected(source: &Path) -> (BTreeMap<String, Node>, Vec<Vec<String>>) {
    let (mut nodes, links) = snapshot_of(source, &["data", "config/config.php"]);
    for node in nodes.values_mut() {
        if let Node::File { mode, .. } | Node::Dir { mode, .. } = node {
            *mode &= 0o777;
        }
    }
    (nodes, links)
}

/// The number before `word` in a summary line (`... (12 members, ...`).
fn count_before(line: &str, word: &str) -> u64 {
    let at = line.find(word).unwrap_or_else(|| panic!("no '{word}' in: {line}"));
    line[..at].trim_end().rsplit([' ', '(']).next().unwrap().parse().unwrap()
}

fn marker_id(dest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dest.join(".directory")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["cachegate_snapshot"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn round_trip_of_every_entry_type_equals_the_source_and_plain_tar() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    make_tree(&source);
    let id = publish(&bucket, "web", &source, &["--member-size", "4KiB"]);

    let dest = work.path().join("dest");
    let summary = fetched_ok(&bucket, "web", &dest, &["--owner", "4242:4343"]);
    assert!(summary.contains(&id) && summary.contains("Nextcloud 34.0.1"), "{summary}");
    assert!(count_before(&summary, "members") > 5, "the big file spans members: {summary}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));
    assert_eq!(marker_id(&dest).as_deref(), Some(id.as_str()));
    for item in walk(&dest) {
        let meta = std::fs::symlink_metadata(&item).unwrap();
        if item.ends_with(".directory") {
            continue;
        }
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343), "{}", item.display());
    }

    // the archive is a plain tar.gz of exactly the snapshot
    let archive = rgw_client()
        .get_object()
        .bucket(&bucket)
        .key(format!("web/snapshots/{id}/archive.tar.gz"))
        .send()
        .await
        .unwrap();
    let archive = common::body_of(archive).await;
    let plain = work.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    untar(&archive, &plain);
    let (plain_nodes, plain_links) = snapshot_of(&plain, &[]);
    let (nodes, links) = expected(&source);
    assert_eq!(plain_links, links);
    // tar leaves the extraction root's entries as they were in the archive, like fetch-webroot
    assert_eq!(plain_nodes, nodes);
}

#[tokio::test]
async fn same_snapshot_is_verified_quickly_and_repaired_when_changed() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    make_tree(&source);
    publish(&bucket, "", &source, &[]);
    let dest = work.path().join("dest");
    fetched_ok(&bucket, "", &dest, &[]);

    let again = fetched_ok(&bucket, "", &dest, &[]);
    assert!(again.contains("verified, nothing to change") && again.contains(" 0 files written"), "{again}");

    // damage: mode, a missing file, an extra tree, a truncated file, a replaced symlink
    std::fs::set_permissions(dest.join("occ"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(dest.join("apps/files/app.js")).unwrap();
    std::fs::create_dir_all(dest.join("apps/intruder/sub")).unwrap();
    std::fs::write(dest.join("apps/intruder/sub/x.php"), b"<?php evil();").unwrap();
    std::fs::write(dest.join("lib/private/big.bin"), b"short").unwrap();
    std::fs::remove_file(dest.join("dir-link")).unwrap();
    symlink("/etc", dest.join("dir-link")).unwrap();
    let repaired = fetched_ok(&bucket, "", &dest, &[]);
    assert!(repaired.contains("repaired") && repaired.contains(" 2 files written"), "{repaired}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));

    // same size and mtime, other content: only --verify full sees it
    let path = dest.join("index.php");
    let mut content = std::fs::read(&path).unwrap();
    content[0] = b'#';
    let mtime = std::fs::metadata(&path).unwrap().mtime() as u64;
    std::fs::write(&path, &content).unwrap();
    set_mtime(&path, mtime);
    assert!(fetched_ok(&bucket, "", &dest, &[]).contains("verified"));
    let full = fetched_ok(&bucket, "", &dest, &["--verify", "full"]);
    assert!(full.contains("repaired") && full.contains(" 1 files written"), "{full}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));
}

#[tokio::test]
async fn another_snapshot_present_fetches_only_the_changed_members() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir_all(source.join("apps")).unwrap();
    for n in 0..200 {
        write(&source, &format!("apps/f{n:03}.php"), &noise(3000, n), 0o644, 1_700_000_000);
    }
    let first = publish(&bucket, "p", &source, &["--member-size", "4KiB"]);
    let dest = work.path().join("dest");
    let cold = fetched_ok(&bucket, "p", &dest, &[]);
    let all_members = count_before(&cold, "members");
    assert!(all_members >= 150, "{cold}");

    write(&source, "apps/f010.php", &noise(3000, 1010), 0o644, 1_700_000_100);
    write(&source, "apps/f150.php", b"<?php // shorter now", 0o644, 1_700_000_100);
    write(&source, "apps/new.php", b"<?php // added", 0o644, 1_700_000_100);
    std::fs::remove_file(source.join("apps/f099.php")).unwrap();
    std::fs::set_permissions(source.join("apps/f020.php"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let second = publish(&bucket, "p", &source, &["--member-size", "4KiB"]);
    assert_ne!(first, second);

    let update = fetched_ok(&bucket, "p", &dest, &[]);
    assert!(update.contains("updated from the previous snapshot"), "{update}");
    assert!(count_before(&update, "members") <= 4, "only the changed files' members: {update}");
    assert_eq!(count_before(&update, "files written"), 3, "{update}");
    assert_eq!(count_before(&update, "removed"), 1, "{update}");
    assert_eq!(count_before(&update, "hashed"), 0, "{update}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));
    assert_eq!(marker_id(&dest).as_deref(), Some(second.as_str()));
}

#[tokio::test]
async fn a_fetch_killed_halfway_leaves_no_marker_and_a_rerun_completes() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir_all(source.join("media")).unwrap();
    write(&source, "index.php", b"<?php", 0o644, 1_700_000_000);
    let first = publish(&bucket, "", &source, &[]);
    let dest = work.path().join("dest");
    fetched_ok(&bucket, "", &dest, &[]);
    assert_eq!(marker_id(&dest).as_deref(), Some(first.as_str()));

    for n in 0..40 {
        write(&source, &format!("media/{n:02}.bin"), &noise(100_000, n), 0o644, 1_700_000_000);
    }
    publish(&bucket, "", &source, &[]);
    let relay = Relay::throttled(1 << 20);
    let mut child = fetch_command(&bucket, "", &dest, &["--endpoint", &relay.endpoint, "--concurrency", "2"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let writing = eventually(Duration::from_secs(20), || {
        std::fs::read_dir(dest.join("media")).map(|d| d.count()).unwrap_or(0) >= 2
    });
    assert!(writing, "the fetch never started writing");
    assert!(child.try_wait().unwrap().is_none(), "the fetch ended before it could be killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(marker_id(&dest), None, "no marker after a killed fetch");

    // without a marker nothing in DEST is trusted: the rerun is a full fetch
    let rerun = fetched_ok(&bucket, "", &dest, &[]);
    assert!(rerun.contains("), fetched: "), "{rerun}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));
    assert!(marker_id(&dest).is_some());
}

#[tokio::test]
async fn racing_publishes_leave_current_valid_and_keep_each_other() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    for (root, seed) in [(&a, 1), (&b, 2)] {
        std::fs::create_dir_all(root.join("lib")).unwrap();
        for n in 0..30 {
            write(root, &format!("lib/{n}.js"), &noise(20_000, seed * 100 + n), 0o644, 1_700_000_000);
        }
    }
    let start = |root: &Path| {
        cachegate_command(&["publish-snapshot", "--source", root.to_str().unwrap(), "--bucket", &bucket])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(&a), start(&b));
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert!(first.status.success() && second.status.success());
    let id_a = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    let id_b = String::from_utf8(second.stdout).unwrap().trim().to_owned();

    let pointer = rgw_client().get_object().bucket(&bucket).key("current").send().await.unwrap();
    let pointer: serde_json::Value = serde_json::from_slice(&common::body_of(pointer).await).unwrap();
    let current = pointer["current"]["id"].as_str().unwrap().to_owned();
    let previous = pointer["previous"]["id"].as_str().unwrap_or_default().to_owned();
    assert!(
        (current == id_a && previous == id_b) || (current == id_b && previous == id_a),
        "current {current}, previous {previous}, published {id_a} and {id_b}"
    );
    let dest = work.path().join("dest");
    fetched_ok(&bucket, "", &dest, &[]);
    let source = if current == id_a { &a } else { &b };
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(source));
}

/// The publish protocol moves `current` with conditional PUTs (`If-Match` the ETag just
/// read, `If-None-Match: *` for the first pointer); racing publishers keep each other's
/// snapshot only because the store refuses a stale condition. RGW does, and so does the
/// gateway, which publishes with a tenant key go through. The ETags are sent unquoted, as
/// cachegate's S3 client sends them (RGW 16.2 never matches a quoted one, see
/// crates/upstream/src/rgw_quirks.rs).
#[tokio::test]
async fn the_store_refuses_stale_conditional_writes_of_the_pointer() {
    let gateway = common::Gateway::start();
    for (store, s3) in [("RGW", rgw_client()), ("gateway", gateway.client(common::ALPHA))] {
        let bucket = fresh_bucket("alpha").await;
        let put = |condition: Option<(&str, &str)>, body: &'static [u8]| {
            let request = s3.put_object().bucket(&bucket).key("current").body(ByteStream::from_static(body));
            match condition {
                Some(("If-Match", etag)) => request.if_match(etag),
                Some((_, etag)) => request.if_none_match(etag),
                None => request,
            }
            .send()
        };
        let first = put(Some(("If-None-Match", "*")), b"first").await.expect("If-None-Match: * on a new key");
        let first = first.e_tag().unwrap().trim_matches('"').to_owned();
        let (status, _) = failure(put(Some(("If-None-Match", "*")), b"again").await);
        assert_eq!(status, 412, "{store}: If-None-Match: * on an existing key");
        let second = put(Some(("If-Match", &first)), b"second").await.expect("If-Match the current ETag");
        let second = second.e_tag().unwrap().trim_matches('"').to_owned();
        assert_ne!(first, second);
        let (status, _) = failure(put(Some(("If-Match", &first)), b"stale").await);
        assert_eq!(status, 412, "{store}: If-Match a stale ETag");
        let pointer = rgw_client().get_object().bucket(&bucket).key("current").send().await.unwrap();
        assert_eq!(pointer.e_tag().map(|e| e.trim_matches('"')), Some(second.as_str()));
        assert_eq!(common::body_of(pointer).await, b"second", "{store}: the refused writes changed nothing");
    }
}

#[tokio::test]
async fn list_show_rollback_and_prune() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    let mut ids = Vec::new();
    for n in 0..4u8 {
        write(&source, "index.php", &[b'0' + n], 0o644, 1_700_000_000);
        ids.push(publish(&bucket, "t", &source, &[]));
    }
    let snapshots = |args: &[&str]| {
        let mut all = vec!["snapshots"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--bucket", &bucket, "--prefix", "t"]);
        let (code, out, err) = run_cachegate(&all);
        assert_eq!(code, 0, "{err}");
        out
    };
    let listed = snapshots(&["list"]);
    let order: Vec<&str> = listed.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(order, ids.iter().rev().map(String::as_str).collect::<Vec<_>>());
    assert!(listed.lines().next().unwrap().ends_with("current"), "{listed}");
    assert!(listed.lines().nth(1).unwrap().ends_with("previous"), "{listed}");
    let shown: serde_json::Value = serde_json::from_str(&snapshots(&["show", &ids[1]])).unwrap();
    assert_eq!(shown["manifest"]["id"], ids[1].as_str());
    assert_eq!(shown["manifest"]["entry_count"], 1);

    assert!(snapshots(&["rollback", &ids[0]]).contains(&format!("current: {} (was {})", ids[0], ids[3])));
    let dest = work.path().join("dest");
    fetched_ok(&bucket, "t", &dest, &[]);
    assert_eq!(std::fs::read(dest.join("index.php")).unwrap(), b"0");

    let pruned = snapshots(&["prune", "--keep", "1"]);
    assert_eq!(pruned.lines().collect::<Vec<_>>(), [format!("deleted {}", ids[1]), format!("deleted {}", ids[2])]);
    let left: Vec<String> =
        snapshots(&["list"]).lines().map(|l| l.split_whitespace().next().unwrap().to_owned()).collect();
    assert_eq!(left, [ids[3].clone(), ids[0].clone()]);
    let (code, err) = fetch(&bucket, "t", &dest, &["--snapshot", &ids[1]]);
    assert_eq!(code, 1);
    assert!(err.contains("has no manifest"), "{err}");
}

#[tokio::test]
async fn symlinked_names_run_their_subcommand_and_bad_input_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["fetch-webroot", "publish-snapshot"] {
        let link = dir.path().join(name);
        symlink(env!("CARGO_BIN_EXE_cachegate"), &link).unwrap();
        let output = std::process::Command::new(&link).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success() && help.contains("--bucket"), "{name}: {help}");
        let flag = if name == "fetch-webroot" { "--dest" } else { "--source" };
        assert!(help.contains(flag), "{name}: {help}");
    }

    let bucket = fresh_bucket("snap").await;
    let dest = dir.path().join("dest");
    let (code, err) = fetch(&bucket, "nothing", &dest, &[]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no snapshot was published"), "{err}");
    let (code, err) = fetch(&bucket, "", &dest, &["--owner", "www-data"]);
    assert_eq!(code, 2);
    assert!(err.contains("--owner 'www-data' is not UID:GID"), "{err}");
    let (code, _, err) = run_cachegate(&["publish-snapshot", "--source", "/nonexistent", "--bucket", &bucket]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn publish_and_fetch_through_the_gateway_with_a_tenant_key() {
    let gateway = common::Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    make_tree(&source);
    let secret = work.path().join("secret");
    std::fs::write(&secret, format!("{}\n", common::ALPHA.1)).unwrap();
    let endpoint = gateway.endpoint();
    let tenant =
        ["--endpoint", &endpoint, "--access-key", common::ALPHA.0, "--secret-key-file", secret.to_str().unwrap()];
    let id = publish(&bucket, "gw", &source, &[&["--member-size", "8KiB"][..], &tenant[..]].concat());
    let dest = work.path().join("dest");
    let summary = fetched_ok(&bucket, "gw", &dest, &tenant);
    assert!(summary.contains(&id), "{summary}");
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));

    let wrong = work.path().join("wrong");
    std::fs::write(&wrong, "not-the-secret").unwrap();
    let (code, err) = fetch(
        &bucket,
        "gw",
        &dest,
        &["--endpoint", &endpoint, "--access-key", common::ALPHA.0, "--secret-key-file", wrong.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(marker_id(&dest).is_none(), "a failed fetch leaves no marker");
}

#[tokio::test]
async fn credentials_and_endpoint_come_from_aws_config_files() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    write(&source, "index.php", b"<?php", 0o644, 1_700_000_000);
    publish(&bucket, "", &source, &[]);

    let rgw = common::rgw();
    let credentials = work.path().join("credentials");
    let config = work.path().join("config");
    std::fs::write(
        &credentials,
        format!("[webroot]\naws_access_key_id = {}\naws_secret_access_key = {}\n", rgw.access_key, rgw.secret_key),
    )
    .unwrap();
    std::fs::write(&config, format!("[profile webroot]\nregion = us-east-1\nendpoint_url = {}\n", rgw.endpoint))
        .unwrap();
    let dest = work.path().join("dest");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cachegate"))
        .args(["fetch-webroot", "--bucket", &bucket, "--dest", dest.to_str().unwrap()])
        .env_clear()
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "webroot")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read(dest.join("index.php")).unwrap(), b"<?php");
}

#[tokio::test]
async fn the_web_user_fetches_as_itself_without_privileges() {
    let bucket = fresh_bucket("snap").await;
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let source = work.path().join("src");
    make_tree(&source);
    publish(&bucket, "", &source, &[]);
    let dest = work.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::chown(&dest, Some(33), Some(33)).expect("the end-to-end tests run as root");
    let run = || {
        use std::os::unix::process::CommandExt;
        let output = fetch_command(&bucket, "", &dest, &["--owner", "33:33"]).uid(33).gid(33).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    run();
    assert_eq!(snapshot_of(&dest, &[".directory"]), expected(&source));
    assert!(run().contains("verified"));
}
