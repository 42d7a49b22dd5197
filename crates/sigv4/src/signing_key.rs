//! Signing keys: derived from a secret per scope, and cached.

use std::sync::{PoisonError, RwLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::canonical::Scope;

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")`.
pub fn derive_signing_key(secret_key: &str, scope: &Scope<'_>) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), scope.day.as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// One secret and the signing key of the scope it last signed for: a day's requests in
/// one region reuse it instead of deriving it again with four HMACs.
pub struct SigningKeyCache {
    secret_key: String,
    /// Read by every request of the key's users, on every connection thread; written once a day.
    last: RwLock<Option<CachedKey>>,
}

struct CachedKey {
    day: String,
    region: String,
    service: String,
    key: [u8; 32],
}

impl SigningKeyCache {
    /// A cache for `secret_key`, empty.
    pub fn new(secret_key: &str) -> Self {
        Self { secret_key: secret_key.to_owned(), last: RwLock::new(None) }
    }

    /// The signing key of `scope`, derived only when the scope changed.
    pub fn key(&self, scope: &Scope<'_>) -> [u8; 32] {
        let cached = self.last.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = &*cached
            && cached.day == scope.day
            && cached.region == scope.region
            && cached.service == scope.service
        {
            return cached.key;
        }
        drop(cached);
        let key = derive_signing_key(&self.secret_key, scope);
        *self.last.write().unwrap_or_else(PoisonError::into_inner) = Some(CachedKey {
            day: scope.day.to_owned(),
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
            key,
        });
        key
    }
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeyCache(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing-key example of the AWS Signature Version 4 documentation.
    #[test]
    fn signing_key_matches_the_aws_example() {
        let scope = Scope { day: "20120215", region: "us-east-1", service: "iam" };
        let key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn the_cache_derives_again_when_the_scope_changes() {
        let cache = SigningKeyCache::new("secret");
        let monday = Scope { day: "20261207", region: "us-east-1", service: "s3" };
        let tuesday = Scope { day: "20261208", ..monday };
        assert_eq!(cache.key(&monday), derive_signing_key("secret", &monday));
        assert_eq!(cache.key(&tuesday), derive_signing_key("secret", &tuesday));
        assert_eq!(cache.key(&monday), derive_signing_key("secret", &monday));
        let elsewhere = Scope { region: "eu-west-1", ..monday };
        assert_eq!(cache.key(&elsewhere), derive_signing_key("secret", &elsewhere));
    }
}
