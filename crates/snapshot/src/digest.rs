use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{Result, SnapshotError};

/// A SHA-256 digest, written as 64 lowercase hex digits in every document.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The digest a finished hasher holds.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Self(hasher.finalize().into())
    }

    /// Fails with a [`SnapshotError::Digest`] naming `what` unless `bytes` hash to `self`.
    pub fn check(&self, bytes: &[u8], what: impl FnOnce() -> String) -> Result<()> {
        self.expect(Self::of(bytes), what)
    }

    /// Fails with a [`SnapshotError::Digest`] naming `what` unless `actual` is `self`.
    pub fn expect(&self, actual: Digest, what: impl FnOnce() -> String) -> Result<()> {
        if actual == *self {
            Ok(())
        } else {
            Err(SnapshotError::Digest { what: what(), expected: self.to_string(), actual: actual.to_string() })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Digest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut bytes = [0; 32];
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!("'{text}' is not 64 lowercase hex digits"));
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| format!("'{text}' is not 64 lowercase hex digits"))?;
        Ok(Self(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_known_value() {
        let digest = Digest::of(b"abc");
        assert_eq!(digest.to_string(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
        assert!("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD".parse::<Digest>().is_err());
        assert!("abc".parse::<Digest>().is_err());
    }

    #[test]
    fn check_names_what_failed() {
        let err = Digest::of(b"a").check(b"b", || "member 3".into()).unwrap_err();
        assert!(err.to_string().starts_with("digest mismatch for member 3"), "{err}");
    }
}
