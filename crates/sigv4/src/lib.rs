//! AWS Signature Version 4 for requests signed in their `Authorization` header.
//!
//! The load generator signs with it and the gateway's fast hit path verifies with it:
//! both build the same canonical request ([`canonical`]) and reuse the signing key of a
//! secret for as long as its scope (day, region, service) stays the same
//! ([`SigningKeyCache`]), where a signer or verifier that derives it anew spends four
//! HMACs per request. s3s remains the gateway's verifier for every other request.

mod amz_date;
mod authorization;
pub mod canonical;
mod signer;
mod signing_key;
mod verify;

pub use amz_date::amz_date;
pub use authorization::HeaderAuth;
pub use signer::Signer;
pub use signing_key::{SigningKeyCache, derive_signing_key};
pub use verify::{HeaderSigned, SignedRequest};

/// `x-amz-content-sha256` of a request whose body is not hashed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// `x-amz-content-sha256` of a request with an empty body.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
