//! `cachegate fetch-webroot` (also `fetch-webroot` through a symlink).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytesize::ByteSize;
use cachegate_snapshot::{FetchMode, FetchOptions, Limits, SnapshotError, VerifyMode, fetch_webroot};
use clap::{Args, ValueEnum};

use crate::snapshot_cli::{BucketArgs, parse_id, run};

/// Options of `cachegate fetch-webroot`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Directory to bring to the snapshot (created if missing; what the snapshot lacks is deleted).
    #[arg(long, value_name = "DIR")]
    pub dest: PathBuf,
    /// Fetch this snapshot instead of the current one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Owner and group (numeric) of everything written, e.g. 33:33.
    #[arg(long, value_name = "UID:GID")]
    pub owner: Option<String>,
    /// Marker file written last (relative paths are inside DEST) [default: DEST/.directory,
    /// a name Nextcloud's integrity check ignores].
    #[arg(long, value_name = "PATH")]
    pub marker: Option<PathBuf>,
    /// Checks when DEST already holds the snapshot: `quick` (type, size, mode, mtime, owner
    /// of every entry, no extras) or `full` (also every file's SHA-256).
    #[arg(long, value_enum, default_value_t = Verify::Quick)]
    pub verify: Verify,
    /// Ranged GETs in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Flush DEST's file system (syncfs) before writing the marker.
    #[arg(long)]
    pub sync: bool,
    /// Refuse snapshots whose tar stream is larger.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(Limits::default().max_bytes))]
    pub max_bytes: ByteSize,
    /// Refuse snapshots with more entries.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries)]
    pub max_entries: u64,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub progress: f64,
    #[command(flatten)]
    pub bucket: BucketArgs,
}

/// `--verify` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verify {
    /// Stat every entry.
    Quick,
    /// Stat and hash every entry.
    Full,
}

/// Runs `cachegate fetch-webroot`: progress and one summary line on stderr; exit 0 only
/// when DEST holds the snapshot and its marker.
pub fn main(args: &FetchArgs) -> ExitCode {
    run("fetch-webroot", async {
        let options = FetchOptions {
            dest: args.dest.clone(),
            snapshot: args.snapshot.as_deref().map(parse_id).transpose()?,
            owner: args.owner.as_deref().map(parse_owner).transpose()?,
            marker: args.marker.clone(),
            verify: match args.verify {
                Verify::Quick => VerifyMode::Quick,
                Verify::Full => VerifyMode::Full,
            },
            concurrency: args.concurrency,
            limits: Limits { max_bytes: args.max_bytes.as_u64(), max_entries: args.max_entries, ..Limits::default() },
            sync: args.sync,
            progress: progress_interval(args.progress)?,
        };
        let store = args.bucket.store().await?;
        let report = fetch_webroot(&store, &options).await?;
        let mode = match report.mode {
            FetchMode::Verified => "verified, nothing to change",
            FetchMode::Repaired => "repaired",
            FetchMode::Updated => "updated from the previous snapshot",
            FetchMode::Full => "fetched",
        };
        eprintln!(
            "fetch-webroot: {} holds {} (Nextcloud {}), {mode}: {} entries, {} files written ({}), {} fetched \
             ({} members, {} requests), {} removed, {} hashed, {:.2} s",
            args.dest.display(),
            report.snapshot.id,
            report.manifest.nextcloud_version.as_deref().unwrap_or("unknown"),
            report.manifest.entry_count,
            report.files_written,
            ByteSize(report.bytes_written),
            ByteSize(report.fetched.bytes),
            report.fetched.members,
            report.fetched.requests,
            report.removed,
            report.hashed,
            report.elapsed.as_secs_f64(),
        );
        Ok(())
    })
}

/// `UID:GID`, both numeric.
fn parse_owner(text: &str) -> Result<(u32, u32), SnapshotError> {
    text.split_once(':')
        .and_then(|(uid, gid)| Some((uid.parse().ok()?, gid.parse().ok()?)))
        .ok_or_else(|| SnapshotError::Usage(format!("--owner '{text}' is not UID:GID (numeric, e.g. 33:33)")))
}

/// `--progress SECONDS`: `None` for 0, the interval otherwise; a negative, infinite or
/// unrepresentable number of seconds (or one that rounds to no time at all) is a usage error.
fn progress_interval(seconds: f64) -> Result<Option<Duration>, SnapshotError> {
    if seconds == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|interval| !interval.is_zero())
        .map(Some)
        .ok_or_else(|| SnapshotError::Usage(format!("--progress {seconds} is not a number of seconds (0: none)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_a_finite_number_of_seconds() {
        assert_eq!(progress_interval(0.0).unwrap(), None);
        assert_eq!(progress_interval(2.5).unwrap(), Some(Duration::from_millis(2500)));
        for bad in [f64::INFINITY, f64::NAN, 1e300, -1.0, 1e-12] {
            let error = progress_interval(bad).unwrap_err();
            assert!(matches!(error, SnapshotError::Usage(_)), "{bad}");
            assert!(error.to_string().starts_with("--progress "), "{error}");
        }
    }

    #[test]
    fn owner_is_numeric_uid_and_gid() {
        assert_eq!(parse_owner("33:33").unwrap(), (33, 33));
        assert!(parse_owner("www-data:www-data").is_err());
        assert!(parse_owner("33").is_err());
    }
}
