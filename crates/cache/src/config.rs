use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{CacheError, Entry};

/// Settings of the disk cache (MinIO's `MINIO_CACHE_*` equivalents in `docs/cache.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Directory of the cache, typically an `emptyDir`; unset = no cache.
    pub dir: Option<PathBuf>,
    /// Bound of the cached bytes: a size (`10GiB`) or a share of the filesystem (`80%`).
    pub max_size: SizeLimit,
    /// Objects larger than this are never cached.
    pub max_object_size: SizeLimit,
    /// Memory for a second tier holding small hot objects (up to 256 KiB each) read from disk.
    pub memory_size: SizeLimit,
    /// How many times a key must be requested before it is cached (1 = at the first miss).
    pub min_hits: u32,
    /// Only keys matching one of these globs are cached; empty = every key.
    pub include: Vec<String>,
    /// Keys matching one of these globs are never cached.
    pub exclude: Vec<String>,
    /// How far a cached entry is trusted: `revalidate`, `ttl=30s` or `immutable`.
    pub mode: Consistency,
    /// How old an entry may be served when the upstream fails (`0s` = never).
    #[serde(with = "humantime_serde")]
    pub max_stale: Duration,
    /// Fills running at once at most; a miss beyond is served uncached.
    pub max_fills: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_size: SizeLimit::Percent(80),
            max_object_size: SizeLimit::Bytes(1 << 30),
            memory_size: SizeLimit::Bytes(64 << 20),
            min_hits: 1,
            include: Vec::new(),
            exclude: Vec::new(),
            mode: Consistency::Revalidate,
            max_stale: Duration::from_secs(3600),
            max_fills: 64,
        }
    }
}

/// A size in bytes, or a percentage of the cache filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SizeLimit {
    /// A number of bytes.
    Bytes(u64),
    /// A percentage (1-100) of the filesystem holding `cache.dir`.
    Percent(u8),
}

impl SizeLimit {
    /// The limit in bytes, for a filesystem of `filesystem_bytes`.
    pub fn bytes(self, filesystem_bytes: u64) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes,
            Self::Percent(percent) => filesystem_bytes / 100 * u64::from(percent),
        }
    }
}

impl FromStr for SizeLimit {
    type Err = CacheError;

    fn from_str(text: &str) -> Result<Self, CacheError> {
        let error = || CacheError::Size(text.to_owned());
        match text.trim().strip_suffix('%') {
            Some(number) => match number.trim().parse::<u8>() {
                Ok(percent @ 1..=100) => Ok(Self::Percent(percent)),
                _ => Err(error()),
            },
            None => {
                text.trim().parse::<bytesize::ByteSize>().map(|size| Self::Bytes(size.as_u64())).map_err(|_| error())
            }
        }
    }
}

impl fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => {
                // exact, so that a printed configuration reads back the same
                let units = [(1u64 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
                match units.iter().find(|(factor, _)| *bytes >= *factor && bytes % factor == 0) {
                    Some((factor, unit)) => write!(f, "{}{unit}", bytes / factor),
                    None => write!(f, "{bytes}"),
                }
            }
            Self::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

/// How far a cached entry is trusted without asking the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Consistency {
    /// Every hit asks the upstream with `If-None-Match`; 304 serves from disk.
    Revalidate,
    /// Trusted for this long after it was stored or last revalidated.
    Ttl(Duration),
    /// Trusted until evicted or invalidated by a write through the gateway.
    Immutable,
}

impl Consistency {
    /// Whether `entry` may be served without asking the upstream.
    pub fn trusts(self, entry: &Entry) -> bool {
        match self {
            Self::Immutable => true,
            Self::Ttl(ttl) => entry.age() < ttl,
            Self::Revalidate => false,
        }
    }
}

impl FromStr for Consistency {
    type Err = CacheError;

    fn from_str(text: &str) -> Result<Self, CacheError> {
        match text.trim() {
            "revalidate" => Ok(Self::Revalidate),
            "immutable" => Ok(Self::Immutable),
            other => other
                .strip_prefix("ttl=")
                .and_then(|d| humantime_serde::re::humantime::parse_duration(d).ok())
                .map(Self::Ttl)
                .ok_or_else(|| CacheError::Mode(text.to_owned())),
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Revalidate => f.write_str("revalidate"),
            Self::Immutable => f.write_str("immutable"),
            Self::Ttl(ttl) => write!(f, "ttl={}", humantime_serde::re::humantime::format_duration(*ttl)),
        }
    }
}

/// Serializes each type as its text form: `FromStr` to read, `Display` to write.
macro_rules! serde_as_text {
    ($($kind:ty),*) => {$(
        impl TryFrom<String> for $kind {
            type Error = CacheError;

            fn try_from(text: String) -> Result<Self, CacheError> {
                text.parse()
            }
        }

        impl From<$kind> for String {
            fn from(value: $kind) -> Self {
                value.to_string()
            }
        }
    )*};
}

serde_as_text!(SizeLimit, Consistency);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_percentages() {
        assert_eq!("10GiB".parse::<SizeLimit>().unwrap(), SizeLimit::Bytes(10 << 30));
        assert_eq!("80%".parse::<SizeLimit>().unwrap(), SizeLimit::Percent(80));
        assert_eq!(SizeLimit::Percent(50).bytes(1000), 500);
        for bad in ["", "0%", "101%", "ten", "-1GiB"] {
            assert!(bad.parse::<SizeLimit>().is_err(), "{bad} accepted");
        }
        for bytes in [10 << 30, 1536 << 20, 1234567] {
            assert_eq!(SizeLimit::Bytes(bytes).to_string().parse::<SizeLimit>().unwrap(), SizeLimit::Bytes(bytes));
        }
    }

    #[test]
    fn parses_modes_both_ways() {
        for text in ["revalidate", "immutable", "ttl=30s", "ttl=1h"] {
            let mode: Consistency = text.parse().unwrap();
            assert_eq!(String::from(mode), text);
        }
        assert!("ttl=soon".parse::<Consistency>().is_err());
    }
}
