use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Consistency;

/// How a tenant, and each of its buckets, uses the cache; unset fields inherit
/// (bucket → tenant → `cache.mode`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCache {
    /// Whether the tenant's objects are cached at all (default: yes).
    pub enabled: Option<bool>,
    /// The tenant's consistency mode.
    pub mode: Option<Consistency>,
    /// Overrides for single buckets.
    pub buckets: BTreeMap<String, BucketCache>,
}

/// The cache settings of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketCache {
    /// Whether the bucket's objects are cached.
    pub enabled: Option<bool>,
    /// The bucket's consistency mode.
    pub mode: Option<Consistency>,
}

impl TenantCache {
    /// The mode for `bucket`, or `None` when its objects are not cached.
    pub fn mode_for(&self, bucket: &str, default: Consistency) -> Option<Consistency> {
        let bucket = self.buckets.get(bucket);
        let enabled = bucket.and_then(|b| b.enabled).or(self.enabled).unwrap_or(true);
        enabled.then(|| bucket.and_then(|b| b.mode).or(self.mode).unwrap_or(default))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_override_tenants_override_the_default() {
        let mut tenant = TenantCache { mode: Some(Consistency::Immutable), ..TenantCache::default() };
        tenant.buckets.insert("off".into(), BucketCache { enabled: Some(false), mode: None });
        tenant
            .buckets
            .insert("ttl".into(), BucketCache { enabled: None, mode: Some(Consistency::Ttl(Duration::from_secs(5))) });
        let default = Consistency::Revalidate;
        assert_eq!(tenant.mode_for("other", default), Some(Consistency::Immutable));
        assert_eq!(tenant.mode_for("off", default), None);
        assert_eq!(tenant.mode_for("ttl", default), Some(Consistency::Ttl(Duration::from_secs(5))));
        assert_eq!(TenantCache::default().mode_for("x", default), Some(default));
        let disabled = TenantCache { enabled: Some(false), ..TenantCache::default() };
        assert_eq!(disabled.mode_for("x", default), None);
    }
}
