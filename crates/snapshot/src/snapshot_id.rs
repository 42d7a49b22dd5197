use std::fmt;

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A snapshot's name: its UTC creation time to the millisecond and six random hex digits,
/// `20261122T101500.123Z-3fa2c1`, so that names sort by age and never collide.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId(String);

impl SnapshotId {
    /// A new id for a snapshot created at `now`.
    pub fn new(now: SystemTime) -> Self {
        let stamp = humantime::format_rfc3339_millis(now).to_string();
        let stamp: String = stamp.chars().filter(|c| !matches!(c, '-' | ':')).collect();
        let random = &uuid::Uuid::new_v4().simple().to_string()[..6];
        Self(format!("{stamp}-{random}"))
    }

    /// When the snapshot was created, from the id's time stamp.
    pub fn created(&self) -> SystemTime {
        let s = &self.0;
        let text =
            format!("{}-{}-{}T{}:{}:{}{}", &s[0..4], &s[4..6], &s[6..8], &s[9..11], &s[11..13], &s[13..15], &s[15..20]);
        humantime::parse_rfc3339(&text).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `time` as RFC 3339 in UTC to the second, as every document writes times.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

impl std::str::FromStr for SnapshotId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let b = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
        let well_formed = b.len() == 27
            && digits(0..8)
            && b[8] == b'T'
            && digits(9..15)
            && b[15] == b'.'
            && digits(16..19)
            && b[19] == b'Z'
            && b[20] == b'-'
            && b[21..].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("'{text}' is not a snapshot id (like 20261122T101500.123Z-3fa2c1)"))
        }
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for SnapshotId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SnapshotId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_and_sort_by_time() {
        let early = SnapshotId::new(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_342_500));
        let late = SnapshotId::new(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_342_500_001));
        assert!(early.as_str().starts_with("20261122T101500.000Z-"), "{early}");
        assert_eq!(early.as_str().parse::<SnapshotId>().unwrap(), early);
        assert!(early < late);
        assert_eq!(early.created(), SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_342_500));
    }

    #[test]
    fn rejects_what_is_not_an_id() {
        for bad in
            ["", "../x", "20261122T101500.000Z-3FA2C1", "20261122T101500Z-3fa2c1", "20261122T101500.000Z-3fa2c1/"]
        {
            assert!(bad.parse::<SnapshotId>().is_err(), "{bad}");
        }
    }
}
