use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_sdk_s3::config::endpoint::{DefaultResolver, Endpoint, EndpointFuture, Params, ResolveEndpoint};

/// Probe buckets, equally long and sharing no character so that their URLs differ exactly where the bucket goes.
const PROBES: [&str; 2] = ["aaa", "bbb"];

/// Resolver for a client bound to one custom endpoint, sparing hot requests the S3 rules set DefaultResolver evaluates.
#[derive(Debug)]
pub(crate) struct FixedEndpoint {
    /// The client's own params: a request differing in more than bucket and key (e.g. a config override) is delegated.
    base: Params,
    /// `None` where DefaultResolver has no plain answer (e.g. an invalid region), which delegates every request.
    template: Option<Template>,
    /// Decides everything the template does not cover, so answers never differ from the SDK's.
    fallback: DefaultResolver,
}

/// DefaultResolver's answer for a plain bucket, with its URL split around the bucket name.
#[derive(Debug)]
struct Template {
    /// URL up to the bucket.
    prefix: String,
    /// URL after the bucket.
    suffix: String,
    /// Carries the headers, properties and auth schemes the signer reads; its URL is a probe's.
    endpoint: Endpoint,
}

impl FixedEndpoint {
    /// Learns the template from DefaultResolver rather than from the rules, so it keeps the SDK's quirks.
    pub(crate) fn new(endpoint: &str, region: &str, path_style: bool) -> Self {
        let params = |bucket: Option<&str>| {
            Params::builder()
                .endpoint(endpoint)
                .region(region)
                .force_path_style(path_style)
                .set_bucket(bucket.map(str::to_owned))
                .build()
                .expect("every other endpoint param has a default")
        };
        let fallback = DefaultResolver::new();
        let template = Template::learn(&fallback, |probe| params(Some(probe)));
        Self { base: params(None), template, fallback }
    }

    /// The template's answer, or `None` where DefaultResolver has to decide.
    fn fixed(&self, params: &Params) -> Option<Endpoint> {
        let template = self.template.as_ref()?;
        let bucket = params.bucket()?;
        (is_plain(bucket, self.base.force_path_style() == Some(true)) && same_client(params, &self.base))
            .then(|| template.with_bucket(bucket))
    }
}

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        match self.fixed(params) {
            Some(endpoint) => EndpointFuture::ready(Ok(endpoint)),
            None => self.fallback.resolve_endpoint(params),
        }
    }
}

impl Template {
    /// `None` unless DefaultResolver answers both probes and the answers fit one template.
    fn learn(resolver: &DefaultResolver, params: impl Fn(&str) -> Params) -> Option<Self> {
        let [a, b] = PROBES.map(|probe| resolve_now(resolver, &params(probe)));
        let (a, b) = (a?, b?);
        let at = a.url().bytes().zip(b.url().bytes()).position(|(x, y)| x != y)?;
        let template = Self {
            prefix: a.url().get(..at)?.to_owned(),
            suffix: a.url().get(at + PROBES[0].len()..)?.to_owned(),
            endpoint: a.clone(),
        };
        (template.with_bucket(PROBES[0]) == a && template.with_bucket(PROBES[1]) == b).then_some(template)
    }

    /// What DefaultResolver answers for a plain `bucket`.
    fn with_bucket(&self, bucket: &str) -> Endpoint {
        self.endpoint.clone().into_builder().url(format!("{}{bucket}{}", self.prefix, self.suffix)).build()
    }
}

/// DefaultResolver computes its answer before handing out the future, so one poll yields it.
fn resolve_now(resolver: &DefaultResolver, params: &Params) -> Option<Endpoint> {
    match pin!(resolver.resolve_endpoint(params)).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.ok(),
        Poll::Pending => None,
    }
}

/// Whether the rules treat `bucket` as the probes; they single out ARNs, `--` suffixes and names unfit for URL or host.
fn is_plain(bucket: &str, path_style: bool) -> bool {
    let label_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let shaped = if path_style {
        !bucket.is_empty() && bucket.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
    } else {
        let bytes = bucket.as_bytes();
        (3..=63).contains(&bytes.len())
            && bytes.first().is_some_and(label_char)
            && bytes.last().is_some_and(label_char)
            && bytes.iter().all(|c| label_char(c) || *c == b'-')
    };
    shaped && !bucket.contains("--")
}

/// Whether two requests agree on every param the rules read but the bucket (Key, Prefix and CopySource feed no rule).
fn same_client(a: &Params, b: &Params) -> bool {
    a.region() == b.region()
        && a.endpoint() == b.endpoint()
        && a.force_path_style() == b.force_path_style()
        && a.use_fips() == b.use_fips()
        && a.use_dual_stack() == b.use_dual_stack()
        && a.accelerate() == b.accelerate()
        && a.use_global_endpoint() == b.use_global_endpoint()
        && a.use_object_lambda_endpoint() == b.use_object_lambda_endpoint()
        && a.disable_access_points() == b.disable_access_points()
        && a.disable_multi_region_access_points() == b.disable_multi_region_access_points()
        && a.use_arn_region() == b.use_arn_region()
        && a.use_s3_express_control_endpoint() == b.use_s3_express_control_endpoint()
        && a.disable_s3_express_session_auth() == b.disable_s3_express_session_auth()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UpstreamConfig;
    use crate::client::tests::unsent_get_object;

    /// With and without port, path and trailing slash; IP hosts get path style even in virtual-host mode.
    const ENDPOINTS: [&str; 6] = [
        "http://rgw:7480",
        "https://rgw.example.com",
        "http://rgw:7480/s3",
        "https://rgw.example.com/s3/",
        "http://10.0.0.1:7480",
        "https://[::1]:8443",
    ];
    /// `not_a_label` fails DefaultResolver's region check on some branches only.
    const REGIONS: [&str; 3] = ["us-east-1", "default", "not_a_label"];
    /// Plain names, names the rules route elsewhere (S3 Express, Outposts, ARNs), and none (ListBuckets).
    const BUCKETS: [Option<&str>; 13] = [
        None,
        Some("bucket"),
        Some("my-bucket-1"),
        Some("my.bucket"),
        Some("MyBucket"),
        Some("my_bucket"),
        Some("ab"),
        Some("-bucket"),
        Some("b b"),
        Some("data--x-s3"),
        Some("data--op-s3"),
        Some("arn:aws:s3:us-east-1:123456789012:accesspoint/ap"),
        Some("arn:aws:s3:::bucket"),
    ];

    /// Errors carry no PartialEq; their messages are what a caller sees.
    async fn resolve(resolver: &impl ResolveEndpoint, params: &Params) -> Result<Endpoint, String> {
        resolver.resolve_endpoint(params).await.map_err(|e| e.to_string())
    }

    /// The signer trusts these answers, so any difference from the SDK's would break requests.
    #[tokio::test]
    async fn answers_like_default_resolver() {
        let default = DefaultResolver::new();
        let mut fast = 0;
        for endpoint in ENDPOINTS {
            for region in REGIONS {
                for path_style in [true, false] {
                    let ours = FixedEndpoint::new(endpoint, region, path_style);
                    for bucket in BUCKETS {
                        let params = Params::builder()
                            .endpoint(endpoint)
                            .region(region)
                            .force_path_style(path_style)
                            .set_bucket(bucket.map(str::to_owned))
                            .key("dir/a key+ü%2F")
                            .build()
                            .unwrap();
                        fast += usize::from(ours.fixed(&params).is_some());
                        assert_eq!(
                            resolve(&ours, &params).await,
                            resolve(&default, &params).await,
                            "{endpoint} {region} path_style={path_style} {bucket:?}"
                        );
                    }
                }
            }
        }
        // the comparison must not pass merely because everything was delegated
        assert!(fast > 100, "only {fast} requests took the fast path");
    }

    /// Params that change the rules' branch must never get the template's answer.
    #[tokio::test]
    async fn delegates_what_the_template_does_not_cover() {
        let ours = FixedEndpoint::new("http://rgw:7480", "us-east-1", true);
        let base = || Params::builder().endpoint("http://rgw:7480").region("us-east-1").force_path_style(true);
        for params in [
            base().bucket("bucket").use_fips(true),
            base().bucket("bucket").use_dual_stack(true),
            base().bucket("bucket").accelerate(true),
            base().bucket("bucket").region("eu-west-1"),
            base().bucket("bucket").force_path_style(false),
            base().bucket("bucket").use_s3_express_control_endpoint(true).disable_access_points(true),
            base().bucket("arn:aws:s3:us-east-1:123456789012:accesspoint/ap").use_arn_region(true),
            base().use_object_lambda_endpoint(true),
        ] {
            let params = params.build().unwrap();
            assert!(ours.fixed(&params).is_none(), "{params:?}");
            assert_eq!(resolve(&ours, &params).await, resolve(&DefaultResolver::new(), &params).await);
        }
    }

    /// Guards the speed-up itself: a mismatch between our base params and the SDK's would delegate everything.
    #[tokio::test]
    async fn client_requests_take_the_fast_path() {
        for path_style in [true, false] {
            let config = UpstreamConfig { path_style, ..UpstreamConfig::default() };
            let (params, _) = unsent_get_object(&config).await;
            let ours = FixedEndpoint::new(&config.endpoint, &config.region, path_style);
            assert!(ours.fixed(&params).is_some(), "{params:?}");
        }
    }
}
