use s3s::dto::{ETag, ETagCondition, GetObjectInput, HeadObjectInput, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use cachegate_cache::ObjectMeta;

use crate::object_meta::unix_seconds;

/// The conditional headers of a GET or HEAD, evaluated against a cached object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
}

impl From<&GetObjectInput> for Conditions {
    fn from(input: &GetObjectInput) -> Self {
        Self {
            if_match: input.if_match.clone(),
            if_none_match: input.if_none_match.clone(),
            if_modified_since: input.if_modified_since.clone(),
            if_unmodified_since: input.if_unmodified_since.clone(),
        }
    }
}

impl From<&HeadObjectInput> for Conditions {
    fn from(input: &HeadObjectInput) -> Self {
        Self {
            if_match: input.if_match.clone(),
            if_none_match: input.if_none_match.clone(),
            if_modified_since: input.if_modified_since.clone(),
            if_unmodified_since: input.if_unmodified_since.clone(),
        }
    }
}

impl Conditions {
    /// As S3 (RFC 7232 §6): If-Match, else If-Unmodified-Since → 412; then
    /// If-None-Match, else If-Modified-Since → 304.
    pub(crate) fn check(&self, meta: &ObjectMeta) -> S3Result<()> {
        // parsed only for a request that names an ETag: most name none
        let matches = |condition: &ETagCondition| match condition {
            ETagCondition::Any => true,
            ETagCondition::ETag(wanted) => {
                ETag::parse_http_header(meta.etag.as_bytes()).is_ok_and(|e| e.value() == wanted.value())
            }
        };
        let modified_after = |since: &Timestamp| meta.last_modified.is_none_or(|m| m > unix_seconds(since));
        match (&self.if_match, &self.if_unmodified_since) {
            (Some(condition), _) if !matches(condition) => return Err(s3_error!(PreconditionFailed)),
            (None, Some(since)) if modified_after(since) => return Err(s3_error!(PreconditionFailed)),
            _ => {}
        }
        match (&self.if_none_match, &self.if_modified_since) {
            (Some(condition), _) if matches(condition) => Err(S3Error::new(S3ErrorCode::NotModified)),
            (None, Some(since)) if !modified_after(since) => Err(S3Error::new(S3ErrorCode::NotModified)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta { size: 1, etag: "\"abc\"".into(), last_modified: Some(1000), ..ObjectMeta::default() }
    }

    fn etag(value: &str) -> Option<ETagCondition> {
        Some(ETagCondition::parse_http_header(value.as_bytes()).unwrap())
    }

    fn at(seconds: u64) -> Option<Timestamp> {
        Some(Timestamp::from(UNIX_EPOCH + Duration::from_secs(seconds)))
    }

    fn code(result: S3Result<()>) -> Option<String> {
        result.err().map(|e| e.code().as_str().to_owned())
    }

    #[test]
    fn evaluates_like_s3() {
        let none = Conditions::default();
        assert_eq!(code(none.check(&meta())), None);
        let if_match = Conditions { if_match: etag("\"other\""), ..Conditions::default() };
        assert_eq!(code(if_match.check(&meta())).as_deref(), Some("PreconditionFailed"));
        let if_none_match = Conditions { if_none_match: etag("\"abc\""), ..Conditions::default() };
        assert_eq!(code(if_none_match.check(&meta())).as_deref(), Some("NotModified"));
        let modified_since = Conditions { if_modified_since: at(2000), ..Conditions::default() };
        assert_eq!(code(modified_since.check(&meta())).as_deref(), Some("NotModified"));
        let unmodified_since = Conditions { if_unmodified_since: at(500), ..Conditions::default() };
        assert_eq!(code(unmodified_since.check(&meta())).as_deref(), Some("PreconditionFailed"));
        // If-Match that holds wins over If-Unmodified-Since
        let both = Conditions { if_match: etag("\"abc\""), if_unmodified_since: at(500), ..Conditions::default() };
        assert_eq!(code(both.check(&meta())), None);
    }
}
