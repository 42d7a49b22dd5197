use std::collections::HashSet;

use cachegate_s3::BucketPattern;

use super::Config;
use super::load::one_line;

/// Checks what deserialization cannot: every problem is reported as `key: why`.
pub fn validate(config: &Config) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if config.tenants.is_empty() {
        problems.push(
            "tenants: no tenant is configured (add [[tenants]] to the config file, set \
             CACHEGATE_ACCESS_KEY and CACHEGATE_SECRET_KEY, or use --dev)"
                .to_owned(),
        );
    }
    let mut names = HashSet::new();
    let mut access_keys = HashSet::new();
    for (i, tenant) in config.tenants.iter().enumerate() {
        let at = format!("tenants[{i}]");
        if tenant.name.is_empty() {
            problems.push(format!("{at}.name: must not be empty"));
        } else if !names.insert(tenant.name.as_str()) {
            problems.push(format!("{at}.name: '{}' is used by another tenant", tenant.name));
        }
        if tenant.buckets.is_empty() {
            problems.push(format!("{at}.buckets: list at least one bucket rule"));
        }
        let mut patterns = Vec::new();
        for (j, pattern) in tenant.buckets.iter().enumerate() {
            match BucketPattern::parse(pattern) {
                Ok(pattern) => patterns.push(pattern),
                Err(e) => problems.push(format!("{at}.buckets[{j}]: {e}")),
            }
        }
        if tenant.keys.is_empty() {
            problems.push(format!("{at}.keys: list at least one key pair"));
        }
        for (j, pair) in tenant.keys.iter().enumerate() {
            if pair.access_key.is_empty() || pair.secret_key.is_empty() {
                problems.push(format!("{at}.keys[{j}]: access_key and secret_key must both be set"));
            } else if !access_keys.insert(pair.access_key.as_str()) {
                problems.push(format!("{at}.keys[{j}].access_key: '{}' is used twice", pair.access_key));
            }
        }
        if let Some(webroot) = &tenant.webroot {
            if webroot.bucket.is_empty() {
                problems.push(format!("{at}.webroot.bucket: must not be empty"));
            } else if !patterns.iter().any(|p| p.matches(&webroot.bucket)) {
                problems.push(format!("{at}.webroot.bucket: '{}' is not one of the tenant's buckets", webroot.bucket));
            }
        }
        match tenant.upstream(&config.upstream) {
            Ok(upstream) => check_upstream(&format!("{at}.upstream"), &upstream, &mut problems),
            Err(e) => problems.push(format!("{at}.upstream: {}", one_line(&e))),
        }
    }
    check_upstream("upstream", &config.upstream, &mut problems);
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(_), None) | (None, Some(_)) => {
            problems.push("tls: cert_file and key_file must be set together".to_owned())
        }
        (Some(cert), Some(key)) => {
            for (name, path) in [("tls.cert_file", cert), ("tls.key_file", key)] {
                if let Err(e) = std::fs::metadata(path) {
                    problems.push(format!("{name}: cannot read {}: {e}", path.display()));
                }
            }
        }
        (None, None) => {}
    }
    if !config.snapshot_http.token.is_empty() && config.tenants.iter().all(|t| t.webroot.is_none()) {
        problems.push("snapshot_http.token: set, but no tenant names its `webroot`".to_owned());
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&config.log.level) {
        problems.push(format!("log.level: '{}' is not a valid filter: {e}", config.log.level));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn check_upstream(at: &str, upstream: &cachegate_upstream::UpstreamConfig, problems: &mut Vec<String>) {
    if !(upstream.endpoint.starts_with("http://") || upstream.endpoint.starts_with("https://")) {
        problems.push(format!("{at}.endpoint: '{}' must start with http:// or https://", upstream.endpoint));
    }
    if upstream.access_key.is_empty() || upstream.secret_key.is_empty() {
        problems.push(format!("{at}: access_key and secret_key (the gateway's upstream credentials) must be set"));
    }
    if upstream.max_attempts == 0 {
        problems.push(format!("{at}.max_attempts: must be at least 1"));
    }
    if let Some(path) = &upstream.ca_bundle
        && let Err(e) = std::fs::metadata(path)
    {
        problems.push(format!("{at}.ca_bundle: cannot read {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyPair, TenantConfig};

    fn valid() -> Config {
        let mut config = Config::default();
        config.upstream.access_key = "u".into();
        config.upstream.secret_key = "s".into();
        config.tenants.push(TenantConfig {
            name: "a".into(),
            buckets: vec!["a-*".into()],
            keys: vec![KeyPair { access_key: "k".into(), secret_key: "s".into() }],
            ..TenantConfig::default()
        });
        config
    }

    #[test]
    fn accepts_a_valid_config() {
        assert_eq!(validate(&valid()), Ok(()));
    }

    #[test]
    fn names_each_bad_key() {
        let mut config = valid();
        config.tenants[0].buckets.push("Bad*x".into());
        config.tenants.push(config.tenants[0].clone());
        config.upstream.endpoint = "rgw:7480".into();
        let problems = validate(&config).unwrap_err();
        let joined = problems.join("\n");
        assert!(joined.contains("tenants[0].buckets[1]:"), "{joined}");
        assert!(joined.contains("tenants[1].name:"), "{joined}");
        assert!(joined.contains("tenants[1].keys[0].access_key:"), "{joined}");
        assert!(joined.contains("upstream.endpoint:"), "{joined}");
    }

    #[test]
    fn requires_a_tenant() {
        let config = Config { tenants: Vec::new(), ..valid() };
        assert!(validate(&config).unwrap_err()[0].starts_with("tenants:"));
    }
}
