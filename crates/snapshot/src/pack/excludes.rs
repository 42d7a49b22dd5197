use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Result, SnapshotError};

/// Paths publish leaves out unless told otherwise: Nextcloud's data directory, and the
/// instance configuration (it holds the instance secret and the database password).
pub const DEFAULT_EXCLUDES: &[&str] = &["data", CONFIG_PHP];

/// The instance configuration, left out unless `--include-config`.
pub const CONFIG_PHP: &str = "config/config.php";

/// Glob patterns of paths (relative to the source, `/`-separated) left out of a snapshot;
/// a directory that matches is left out with everything in it.
#[derive(Debug, Clone)]
pub struct Excludes {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Excludes {
    /// Compiles `patterns`; `*` and `?` stop at `/`, `**` crosses it; leading `./` or `/`
    /// and trailing `/` are ignored.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self> {
        let mut builder = GlobSetBuilder::new();
        let mut normalized = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let clean = pattern.trim_start_matches("./").trim_matches('/').to_owned();
            let glob = GlobBuilder::new(&clean)
                .literal_separator(true)
                .build()
                .map_err(|e| SnapshotError::Usage(format!("--exclude '{pattern}': {e}")))?;
            builder.add(glob);
            normalized.push(clean);
        }
        let set = builder.build().map_err(|e| SnapshotError::Usage(format!("--exclude: {e}")))?;
        Ok(Self { patterns: normalized, set })
    }

    /// Whether `path` is left out.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    /// The patterns, as recorded in the manifest.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_relative_paths() {
        let excludes = Excludes::new(&["data/", "./config/config.php", "*.log", "apps/**/tests"]).unwrap();
        assert_eq!(excludes.patterns(), ["data", "config/config.php", "*.log", "apps/**/tests"]);
        for yes in ["data", "config/config.php", "x.log", "apps/a/tests", "apps/a/b/tests"] {
            assert!(excludes.matches(yes), "{yes}");
        }
        for no in ["data2", "config/config.sample.php", "a/x.log", "apps/a/tests2", "lib/data"] {
            assert!(!excludes.matches(no), "{no}");
        }
        assert!(Excludes::new(&["a[b"]).unwrap_err().to_string().contains("--exclude 'a[b'"));
    }
}
