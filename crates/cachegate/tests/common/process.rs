//! Running the built `cachegate` binary, and its snapshot subcommands against the test RGW.

use std::path::Path;
use std::process::Command;

use super::rgw;

/// A `cachegate` command with `args` and an empty environment.
pub fn cachegate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cachegate"));
    command.args(args).env_clear();
    command
}

/// A `cachegate` command with `args` and the test RGW's credentials and endpoint (its
/// `AWS_*` variables and nothing else from the environment).
pub fn cachegate_command(args: &[&str]) -> Command {
    let rgw = rgw();
    let mut command = cachegate(args);
    command
        .env("AWS_ENDPOINT_URL", &rgw.endpoint)
        .env("AWS_ACCESS_KEY_ID", &rgw.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &rgw.secret_key)
        .env("AWS_REGION", "us-east-1")
        .env("HOME", "/nonexistent");
    command
}

/// Runs `command` to its end: exit code, stdout, stderr.
pub fn outcome(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("run cachegate");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs [`cachegate_command`] with `args`: exit code, stdout, stderr.
pub fn run_cachegate(args: &[&str]) -> (i32, String, String) {
    outcome(&mut cachegate_command(args))
}

/// Publishes `source` to `bucket` under `prefix` (and `extra` options); the snapshot id.
pub fn publish(bucket: &str, prefix: &str, source: &Path, extra: &[&str]) -> String {
    let source = source.to_str().unwrap();
    let args = [&["publish-snapshot", "--source", source, "--bucket", bucket, "--prefix", prefix][..], extra].concat();
    let (code, out, err) = run_cachegate(&args);
    assert_eq!(code, 0, "publish failed: {err}");
    out.trim().to_owned()
}

/// The `fetch-webroot` command of `bucket` under `prefix` into `dest` (and `extra` options).
pub fn fetch_command(bucket: &str, prefix: &str, dest: &Path, extra: &[&str]) -> Command {
    let dest = dest.to_str().unwrap();
    cachegate_command(&[&["fetch-webroot", "--bucket", bucket, "--prefix", prefix, "--dest", dest][..], extra].concat())
}

/// Runs [`fetch_command`]: exit code and stderr.
pub fn fetch(bucket: &str, prefix: &str, dest: &Path, extra: &[&str]) -> (i32, String) {
    let (code, _, err) = outcome(&mut fetch_command(bucket, prefix, dest, extra));
    (code, err)
}

/// [`fetch`] that must succeed: its summary line.
pub fn fetched_ok(bucket: &str, prefix: &str, dest: &Path, extra: &[&str]) -> String {
    let (code, err) = fetch(bucket, prefix, dest, extra);
    assert_eq!(code, 0, "fetch failed: {err}");
    err.lines().last().unwrap_or_default().to_owned()
}
