//! `cachegate publish-snapshot`.

use std::path::PathBuf;
use std::process::ExitCode;

use bytesize::ByteSize;
use cachegate_snapshot::{DEFAULT_MEMBER_SIZE, PublishOptions, publish};
use clap::Args;

use crate::snapshot_cli::{BucketArgs, run};

/// Options of `cachegate publish-snapshot`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The webroot to publish.
    #[arg(long, value_name = "DIR")]
    pub source: PathBuf,
    /// Leave out paths matching this glob (relative to the source; `*` stays within a
    /// directory, `**` crosses them); repeatable. `data` and `config/config.php` are always left out.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Publish config/config.php too (it holds the instance secret and the database password).
    #[arg(long)]
    pub include_config: bool,
    /// Then delete all but the newest N snapshots (the current and previous ones are always kept).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// gzip level, 0-9 (5: 3.15x faster than `tar -czf` + `aws s3 cp` on 2 cores, archive 2.6% larger; see
    /// docs/benchmarks.md).
    #[arg(long, default_value_t = 5)]
    pub level: u32,
    /// Uncompressed size of each gzip member, 4KiB to 64MiB (smaller: finer incremental fetches, larger archive).
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(DEFAULT_MEMBER_SIZE as u64))]
    pub member_size: ByteSize,
    #[command(flatten)]
    pub bucket: BucketArgs,
}

/// Runs `cachegate publish-snapshot`: the new snapshot's id on stdout, a summary on stderr.
pub fn main(args: &PublishArgs) -> ExitCode {
    run("publish-snapshot", async {
        let options = PublishOptions {
            source: args.source.clone(),
            excludes: args.exclude.clone(),
            include_config: args.include_config,
            keep: args.keep,
            level: args.level,
            // publish refuses sizes out of range, this one included
            member_size: usize::try_from(args.member_size.as_u64()).unwrap_or(usize::MAX),
        };
        let store = args.bucket.store().await?;
        let report = publish(&store, &options).await?;
        let m = &report.manifest;
        println!("{}", report.snapshot.id);
        eprintln!(
            "publish-snapshot: {} is current (Nextcloud {}): {} entries, {} of files, archive {} in {} members, \
             {:.2} s; previous {}{}",
            report.snapshot.id,
            m.nextcloud_version.as_deref().unwrap_or("unknown"),
            m.entry_count,
            ByteSize(m.file_bytes),
            ByteSize(m.archive.size),
            m.member_count,
            report.elapsed.as_secs_f64(),
            report.previous.as_ref().map_or_else(|| "none".to_owned(), |p| p.id.to_string()),
            if report.pruned.is_empty() { String::new() } else { format!("; pruned {}", report.pruned.len()) },
        );
        Ok(())
    })
}
