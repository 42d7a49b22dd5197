use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Caching S3 gateway and webroot snapshot tool for stateless Nextcloud pods.
#[derive(Debug, Parser)]
#[command(name = "cachegate", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the S3 gateway in front of the upstream object store.
    Serve(ServeArgs),
    /// Pack a webroot into a new snapshot in the bucket and make it current.
    PublishSnapshot(crate::publish::PublishArgs),
    /// Bring a directory to the current (or a given) snapshot; the init container's job.
    FetchWebroot(crate::fetch::FetchArgs),
    /// List, show, roll back to and prune published snapshots.
    Snapshots(crate::snapshots::SnapshotsArgs),
}

/// Options of `cachegate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file: TOML, or YAML when it ends in .yaml/.yml.
    #[arg(long, env = "CACHEGATE_CONFIG", value_name = "FILE", conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    /// Use the embedded development configuration (bundled local RGW, public keys).
    #[arg(long)]
    pub dev: bool,
    /// Print the reference configuration (every key with its default) and exit.
    #[arg(long, exclusive = true)]
    pub print_default_config: bool,
    /// Validate the configuration, report every problem, and exit.
    #[arg(long)]
    pub check_config: bool,
}
