//! `cachegate`: the caching S3 gateway (and, later, webroot snapshot tools) in one binary.

mod admin;
mod cli;
mod config;
mod serve;
mod telemetry;
mod tls;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => serve::main(&args),
    }
}
