//! `cachegate snapshots list | show | rollback | prune`.

use std::process::ExitCode;

use bytesize::ByteSize;
use cachegate_snapshot::{SnapshotError, SnapshotStore, list, prune, rollback, show};
use clap::{Args, Subcommand};

use crate::snapshot_cli::{BucketArgs, parse_id, run};

/// Options of `cachegate snapshots`.
#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The `snapshots` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// One line per snapshot, newest first: id, created, Nextcloud version, sizes, current/previous.
    List {
        #[command(flatten)]
        bucket: BucketArgs,
    },
    /// A snapshot's manifest (JSON) with its SHA-256.
    Show {
        /// The snapshot.
        id: String,
        #[command(flatten)]
        bucket: BucketArgs,
    },
    /// Make a published snapshot current again.
    Rollback {
        /// The snapshot.
        id: String,
        #[command(flatten)]
        bucket: BucketArgs,
    },
    /// Delete all but the newest N snapshots (the current and previous ones are always kept).
    Prune {
        /// Snapshots to keep besides the current and previous ones.
        #[arg(long, default_value_t = 3)]
        keep: usize,
        #[command(flatten)]
        bucket: BucketArgs,
    },
}

impl Action {
    fn bucket(&self) -> &BucketArgs {
        match self {
            Action::List { bucket } | Action::Show { bucket, .. } | Action::Rollback { bucket, .. } => bucket,
            Action::Prune { bucket, .. } => bucket,
        }
    }
}

/// Runs `cachegate snapshots …`.
pub fn main(args: &SnapshotsArgs) -> ExitCode {
    run("snapshots", async {
        let store = args.action.bucket().store().await?;
        match &args.action {
            Action::List { .. } => print_list(&store).await,
            Action::Show { id, .. } => {
                let (manifest, digest) = show(&store, &parse_id(id)?).await?;
                let shown = serde_json::json!({ "manifest_sha256": digest.to_string(), "manifest": manifest });
                println!("{}", serde_json::to_string_pretty(&shown).expect("JSON values serialize"));
                Ok(())
            }
            Action::Rollback { id, .. } => {
                let id = parse_id(id)?;
                let previous = rollback(&store, &id).await?;
                let was = previous.map_or_else(|| "nothing".to_owned(), |p| p.id.to_string());
                println!("current: {id} (was {was})");
                Ok(())
            }
            Action::Prune { keep, .. } => {
                let deleted = prune(&store, *keep).await?;
                for id in &deleted {
                    println!("deleted {id}");
                }
                eprintln!("snapshots: {} deleted", deleted.len());
                Ok(())
            }
        }
    })
}

async fn print_list(store: &SnapshotStore) -> Result<(), SnapshotError> {
    for summary in list(store).await? {
        let flag = match (summary.current, summary.previous) {
            (true, _) => "current",
            (_, true) => "previous",
            _ => "",
        };
        match &summary.manifest {
            Some(m) => println!(
                "{}  {}  nextcloud {}  {} files  {} archive  {} entries  {flag}",
                summary.id,
                m.created_at,
                m.nextcloud_version.as_deref().unwrap_or("-"),
                ByteSize(m.file_bytes),
                ByteSize(m.archive.size),
                m.entry_count,
            ),
            None => println!("{}  (no manifest: publishing, or a publish that died)  {flag}", summary.id),
        }
    }
    Ok(())
}
