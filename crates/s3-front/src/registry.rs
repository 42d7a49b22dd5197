use std::collections::HashMap;
use std::sync::Arc;

use cachegate_sigv4::SigningKeyCache;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::{FrontError, Tenant};

/// Every client access key, with its secret and its tenant.
#[derive(Debug, Default)]
pub struct TenantRegistry {
    keys: HashMap<String, KeyPair>,
}

/// One access key's secret, for s3s and as the fast hit path's signing keys, and its tenant.
#[derive(Debug)]
struct KeyPair {
    secret: SecretKey,
    signing_keys: SigningKeyCache,
    tenant: Arc<Tenant>,
}

impl TenantRegistry {
    /// Adds `tenant` with its key pairs (several pairs allow key rotation).
    pub fn add(&mut self, tenant: Tenant, key_pairs: &[(String, String)]) -> Result<(), FrontError> {
        if key_pairs.is_empty() || key_pairs.iter().any(|(a, s)| a.is_empty() || s.is_empty()) {
            return Err(FrontError::MissingKey(tenant.name.to_string()));
        }
        let tenant = Arc::new(tenant);
        for (access_key, secret_key) in key_pairs {
            let pair = KeyPair {
                secret: SecretKey::from(secret_key.as_str()),
                signing_keys: SigningKeyCache::new(secret_key),
                tenant: Arc::clone(&tenant),
            };
            if self.keys.insert(access_key.clone(), pair).is_some() {
                return Err(FrontError::DuplicateKey(access_key.clone()));
            }
        }
        Ok(())
    }

    /// The tenant owning `access_key`.
    pub fn tenant(&self, access_key: &str) -> Option<&Arc<Tenant>> {
        self.keys.get(access_key).map(|pair| &pair.tenant)
    }

    /// The signing keys of `access_key`'s secret, and its tenant.
    pub(crate) fn key_pair(&self, access_key: &str) -> Option<(&SigningKeyCache, &Arc<Tenant>)> {
        self.keys.get(access_key).map(|pair| (&pair.signing_keys, &pair.tenant))
    }

    /// The tenant called `name`.
    pub fn tenant_named(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.keys.values().map(|pair| &pair.tenant).find(|t| &*t.name == name)
    }

    /// Each distinct upstream, once.
    pub fn upstreams(&self) -> Vec<Arc<crate::Upstream>> {
        let mut seen: Vec<Arc<crate::Upstream>> = Vec::new();
        for pair in self.keys.values() {
            if !seen.iter().any(|u| Arc::ptr_eq(u, &pair.tenant.upstream)) {
                seen.push(Arc::clone(&pair.tenant.upstream));
            }
        }
        seen
    }
}

/// Gives s3s the secret of an access key, so that it can verify the signature.
pub(crate) struct TenantAuth(pub(crate) Arc<TenantRegistry>);

#[async_trait::async_trait]
impl S3Auth for TenantAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.keys.get(access_key) {
            Some(pair) => Ok(pair.secret.clone()),
            None => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS access key Id you provided does not exist in our records."))
            }
        }
    }
}
