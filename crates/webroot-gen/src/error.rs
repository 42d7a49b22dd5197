//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

/// What went wrong while reading a listing or writing a tree.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listing or tree file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The destination of a new tree holds something already.
    #[error("{}: destination is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// A line of a listing is not `path<TAB>[size<TAB>]mode` with a safe relative path.
    #[error("{}:{line}: {reason}", path.display())]
    Listing {
        /// The listing file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
