/// Hard caps the fetcher enforces on whatever a manifest or index declares, so that a
/// hostile or broken snapshot cannot make it allocate, download or write without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed tar stream (file contents plus headers), in bytes.
    pub max_bytes: u64,
    /// Most entries (files, directories, links).
    pub max_entries: u64,
    /// Longest path, in bytes.
    pub max_path_len: usize,
    /// Largest uncompressed gzip member, in bytes.
    pub max_member_len: u64,
    /// Largest index (its JSON), in bytes.
    pub max_index_len: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 32 << 30,
            max_entries: 2_000_000,
            max_path_len: 4096,
            max_member_len: 64 << 20,
            max_index_len: 1 << 30,
        }
    }
}

/// Largest manifest or pointer document, in bytes (they are a few hundred bytes).
pub const MAX_DOCUMENT_LEN: u64 = 1 << 20;
