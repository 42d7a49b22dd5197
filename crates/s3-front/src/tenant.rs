use std::sync::Arc;

use cachegate_cache::TenantCache;

use crate::{FrontError, Upstream};

/// One bucket rule of a tenant: an exact name, a name prefix, or every bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketPattern {
    /// Exactly this bucket.
    Exact(String),
    /// Every bucket whose name starts with this prefix (written `prefix*`).
    Prefix(String),
    /// Every bucket (written `*`).
    Any,
}

impl BucketPattern {
    /// Parses `name`, `prefix*` or `*`.
    pub fn parse(text: &str) -> Result<Self, FrontError> {
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        match text.strip_suffix('*') {
            Some("") => Ok(Self::Any),
            Some(prefix) if valid(prefix) => Ok(Self::Prefix(prefix.to_owned())),
            None if !text.is_empty() && valid(text) => Ok(Self::Exact(text.to_owned())),
            _ => Err(FrontError::BucketPattern(text.to_owned())),
        }
    }

    /// Whether `bucket` falls under this rule.
    pub fn matches(&self, bucket: &str) -> bool {
        match self {
            Self::Exact(name) => bucket == name,
            Self::Prefix(prefix) => bucket.starts_with(prefix.as_str()),
            Self::Any => true,
        }
    }
}

/// A tenant: the buckets its keys may use and the upstream that serves them.
#[derive(Debug)]
pub struct Tenant {
    /// Name used in logs and metric labels.
    pub name: Arc<str>,
    /// The bucket rules; a bucket is allowed when any rule matches.
    pub buckets: Vec<BucketPattern>,
    /// Where this tenant's requests are forwarded.
    pub upstream: Arc<Upstream>,
    /// How this tenant and its buckets use the disk cache.
    pub cache: TenantCache,
}

impl Tenant {
    /// Whether this tenant may use `bucket`.
    pub fn may_use(&self, bucket: &str) -> bool {
        self.buckets.iter().any(|p| p.matches(bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(BucketPattern::parse("nc-acme").unwrap(), BucketPattern::Exact("nc-acme".into()));
        assert_eq!(BucketPattern::parse("acme-*").unwrap(), BucketPattern::Prefix("acme-".into()));
        assert_eq!(BucketPattern::parse("*").unwrap(), BucketPattern::Any);
    }

    #[test]
    fn rejects_malformed_patterns() {
        for bad in ["", "a*b", "Upper", "a/b", "**"] {
            assert!(BucketPattern::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn matches_by_rule() {
        assert!(BucketPattern::parse("acme-*").unwrap().matches("acme-data"));
        assert!(!BucketPattern::parse("acme-*").unwrap().matches("acm"));
        assert!(!BucketPattern::parse("acme").unwrap().matches("acme-data"));
        assert!(BucketPattern::Any.matches("anything"));
    }
}
