//! Generates a tree shaped like a Nextcloud webroot (exact paths, sizes and modes from a
//! listing of a real release) with contents of realistic gzip compressibility, seeded so
//! that every run writes the same bytes; and changes a seeded share of its files, as an
//! upgrade would. Used by `benches/webroot_vs_scripts.sh`.

mod change;
mod class;
mod contents;
mod error;
mod listing;
#[cfg(test)]
mod test_support;
mod text;
mod tree;

pub use change::{ChangeSummary, change_files};
pub use contents::Contents;
pub use error::Error;
pub use listing::Listing;
pub use tree::{TreeSummary, write_tree};
