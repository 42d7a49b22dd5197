//! `cachegate`: the caching S3 gateway and the webroot snapshot tools in one binary.

mod admin;
mod cli;
mod config;
mod fetch;
mod json_log;
mod log_writer;
mod publish;
mod serve;
mod snapshot_cli;
mod snapshot_route;
mod snapshots;
mod telemetry;
mod tls;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc keeps freed pages for reuse: with the system allocator every 1 MiB cache block
/// read came back as fresh pages, faulted in again for each request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Subcommands that also run as a program of their own name, through a symlink to the binary.
const SYMLINKED_COMMANDS: &[&str] = &["fetch-webroot", "publish-snapshot"];

fn main() -> ExitCode {
    match cli::Cli::parse_from(arguments()).command {
        cli::Command::Serve(args) => serve::main(&args),
        cli::Command::PublishSnapshot(args) => publish::main(&args),
        cli::Command::FetchWebroot(args) => fetch::main(&args),
        cli::Command::Snapshots(args) => snapshots::main(&args),
    }
}

/// The command line, with the subcommand inserted when the binary was started as
/// `fetch-webroot` or `publish-snapshot` (argv[0] dispatch).
fn arguments() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let name = args.first().map(std::path::Path::new).and_then(|p| p.file_name()).and_then(|n| n.to_str());
    if let Some(command) = name.filter(|n| SYMLINKED_COMMANDS.contains(n)) {
        let command = OsString::from(command);
        args.splice(0..1, [OsString::from("cachegate"), command]);
    }
    args
}
