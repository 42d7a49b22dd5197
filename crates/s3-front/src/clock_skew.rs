use std::time::{Duration, SystemTime};

use http::HeaderMap;
use s3s::{S3Result, s3_error};

/// Refuses a SigV2 header-signed request whose date is too far from this clock.
///
/// s3s checks the skew of SigV4 requests only; RGW and AWS refuse stale SigV2 requests
/// too, which keeps a captured request from being replayed later.
pub(crate) fn check_sigv2_date(headers: &HeaderMap, max_skew: Duration) -> S3Result<()> {
    let is_sigv2 =
        headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("AWS "));
    if !is_sigv2 {
        return Ok(());
    }
    let date = ["x-amz-date", "date"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .and_then(|text| httpdate::parse_http_date(text).ok())
        .ok_or_else(|| s3_error!(AccessDenied, "AWS authentication requires a valid Date or x-amz-date header"))?;
    let now = SystemTime::now();
    let skew = now.duration_since(date).or_else(|_| date.duration_since(now)).unwrap_or_default();
    if skew > max_skew {
        return Err(s3_error!(
            RequestTimeTooSkewed,
            "The difference between the request time and the server's time is too large."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(date: SystemTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "AWS AKID:c2ln".parse().unwrap());
        headers.insert("date", httpdate::fmt_http_date(date).parse().unwrap());
        headers
    }

    #[test]
    fn refuses_stale_sigv2_requests_only() {
        let limit = Duration::from_secs(900);
        assert!(check_sigv2_date(&headers(SystemTime::now()), limit).is_ok());
        let stale = headers(SystemTime::now() - Duration::from_secs(1200));
        assert_eq!(check_sigv2_date(&stale, limit).unwrap_err().code().as_str(), "RequestTimeTooSkewed");
        let future = headers(SystemTime::now() + Duration::from_secs(1200));
        assert!(check_sigv2_date(&future, limit).is_err());
        assert!(check_sigv2_date(&HeaderMap::new(), limit).is_ok(), "not SigV2");
    }
}
