use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use s3s::Body;

/// Puts the gateway's request id into an S3 XML error body.
///
/// Errors come from s3s (signature checks), from the gateway and from RGW (whose own
/// `RequestId` would not match the gateway's logs); all leave with the gateway's id.
pub(crate) fn stamp_request_id(response: &mut http::Response<Body>, id: &str) {
    if response.status().as_u16() < 400 {
        return;
    }
    let Some(stamped) = response.body().bytes().and_then(|xml| with_request_id(&xml, id)) else {
        return;
    };
    response.headers_mut().insert(CONTENT_LENGTH, stamped.len().into());
    *response.body_mut() = Body::from(stamped);
}

fn with_request_id(xml: &[u8], id: &str) -> Option<Bytes> {
    let text = std::str::from_utf8(xml).ok()?;
    let close = text.rfind("</Error>")?;
    let (head, tail) = text.split_at(close);
    let head = match (head.find("<RequestId>"), head.find("</RequestId>")) {
        (Some(open), Some(end)) if open < end => {
            format!("{}{}", &head[..open], &head[end + "</RequestId>".len()..])
        }
        _ => head.to_owned(),
    };
    Some(Bytes::from(format!("{head}<RequestId>{id}</RequestId>{tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_missing_request_id() {
        let xml = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>";
        let out = with_request_id(xml, "abc").unwrap();
        assert_eq!(
            &out[..],
            &b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><RequestId>abc</RequestId></Error>"[..]
        );
    }

    #[test]
    fn replaces_the_upstream_request_id() {
        let xml = b"<Error><Code>NoSuchKey</Code><RequestId>tx00-rgw</RequestId><HostId>h</HostId></Error>";
        let out = with_request_id(xml, "gw1").unwrap();
        assert_eq!(&out[..], &b"<Error><Code>NoSuchKey</Code><HostId>h</HostId><RequestId>gw1</RequestId></Error>"[..]);
    }

    #[test]
    fn leaves_non_error_bodies_alone() {
        assert!(with_request_id(b"<ListBucketResult/>", "x").is_none());
    }
}
