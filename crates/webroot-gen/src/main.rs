//! `cachegate-webroot-gen`: writes a tree shaped like Nextcloud 34's webroot (exact paths,
//! sizes and modes; seeded contents of realistic compressibility), or changes a seeded
//! share of its files. See `benches/webroot_vs_scripts.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cachegate_webroot_gen::{Contents, Error, Listing, change_files, write_tree};
use clap::{Args, Parser, Subcommand};

/// Generates a Nextcloud-shaped webroot for the snapshot benchmark.
#[derive(Parser, Debug)]
#[command(name = "cachegate-webroot-gen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the tree into DEST (empty or absent).
    Generate(Common),
    /// Rewrite PERCENT % of the files of a tree made by `generate` with the same options.
    Change {
        #[command(flatten)]
        common: Common,
        /// Share of the non-empty files to change, in percent (rounded up to whole files).
        #[arg(long, default_value_t = 1.0)]
        percent: f64,
        /// Which round of changes (1, 2, …): picks the files and their new contents.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        generation: u32,
        /// Print the changed paths on stdout, one per line.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Args, Debug)]
struct Common {
    /// Root of the tree.
    #[arg(long)]
    dest: PathBuf,
    /// Files listing (`path size mode`, tab-separated, optionally .gz).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/data/nextcloud-34.0.1-webroot-files.tsv.gz"))]
    files: PathBuf,
    /// Directories listing (`path mode`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/data/nextcloud-34.0.1-webroot-dirs.tsv.gz"))]
    dirs: PathBuf,
    /// Seed of all contents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only every Nth file (a smaller tree of the same mix; all directories are kept).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cachegate-webroot-gen: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let started = Instant::now();
    match cli.command {
        Command::Generate(common) => {
            let (listing, contents, every) = prepare(&common)?;
            let summary = write_tree(&listing, &common.dest, &contents, every)?;
            let total = summary.text_bytes + summary.binary_bytes;
            eprintln!(
                "cachegate-webroot-gen: {} files, {} directories, {total} bytes ({:.1} MB: text {:.1} MB, \
                 incompressible {:.1} MB) in {} in {:.1} s",
                summary.files,
                summary.dirs,
                total as f64 / 1e6,
                summary.text_bytes as f64 / 1e6,
                summary.binary_bytes as f64 / 1e6,
                common.dest.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Change { common, percent, generation, list } => {
            let (listing, contents, every) = prepare(&common)?;
            let summary = change_files(&listing, &common.dest, &contents, every, percent, generation)?;
            if list {
                for path in &summary.paths {
                    println!("{path}");
                }
            }
            eprintln!(
                "cachegate-webroot-gen: changed {} files ({} bytes, generation {generation}) in {} in {:.1} s",
                summary.paths.len(),
                summary.bytes,
                common.dest.display(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn prepare(common: &Common) -> Result<(Listing, Contents, usize), Error> {
    let listing = Listing::load(&common.files, &common.dirs)?;
    let every = usize::try_from(common.every).unwrap_or(usize::MAX);
    Ok((listing, Contents::new(common.seed), every))
}
