//! Environment overrides: `CACHEGATE_<KEY>` sets a config key (dots become `_`),
//! `CACHEGATE_<KEY>_FILE` reads it from a file (Kubernetes Secret mounts), and
//! `CACHEGATE_ACCESS_KEY`/`CACHEGATE_SECRET_KEY` add a single tenant, as MinIO Gateway's
//! `MINIO_ROOT_USER`/`MINIO_ROOT_PASSWORD` did (with `CACHEGATE_BUCKETS`, and
//! `CACHEGATE_WEBROOT_BUCKET`/`_PREFIX` for its snapshots).

use std::collections::BTreeMap;

use figment::Figment;
use figment::providers::Serialized;
use figment::value::Value;

use super::{KeyPair, TenantConfig, WebrootConfig};

const PREFIX: &str = "CACHEGATE_";

/// How an environment value becomes a config value.
#[derive(Clone, Copy)]
enum Kind {
    /// Taken as it is (secrets may look like numbers or booleans).
    Text,
    /// Parsed like a TOML value: numbers, booleans, `[arrays]`.
    Parsed,
}

/// Every key settable from the environment. Unknown `CACHEGATE_*` variables are
/// ignored: Kubernetes itself defines `CACHEGATE_PORT` and friends for a Service so named.
const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("admin_listen", Kind::Text),
    ("max_clock_skew", Kind::Text),
    ("anonymous_access", Kind::Parsed),
    ("virtual_host_domains", Kind::Parsed),
    ("shutdown_grace", Kind::Text),
    ("readiness_interval", Kind::Text),
    ("tls.cert_file", Kind::Text),
    ("tls.key_file", Kind::Text),
    ("log.format", Kind::Text),
    ("log.level", Kind::Text),
    ("upstream.endpoint", Kind::Text),
    ("upstream.region", Kind::Text),
    ("upstream.access_key", Kind::Text),
    ("upstream.secret_key", Kind::Text),
    ("upstream.path_style", Kind::Parsed),
    ("upstream.ca_bundle", Kind::Text),
    ("upstream.connect_timeout", Kind::Text),
    ("upstream.read_timeout", Kind::Text),
    ("upstream.max_attempts", Kind::Parsed),
    ("upstream.pool_max_idle", Kind::Parsed),
    ("cache.dir", Kind::Text),
    ("cache.max_size", Kind::Text),
    ("cache.max_object_size", Kind::Text),
    ("cache.memory_size", Kind::Text),
    ("cache.min_hits", Kind::Parsed),
    ("cache.include", Kind::Parsed),
    ("cache.exclude", Kind::Parsed),
    ("cache.mode", Kind::Text),
    ("cache.max_stale", Kind::Text),
    ("cache.max_fills", Kind::Parsed),
    ("snapshot_http.token", Kind::Text),
];

/// The single-tenant variables (not config keys of their own).
const ACCESS_KEY: &str = "ACCESS_KEY";
const SECRET_KEY: &str = "SECRET_KEY";
const BUCKETS: &str = "BUCKETS";
const PREVIOUS_ACCESS_KEY: &str = "PREVIOUS_ACCESS_KEY";
const PREVIOUS_SECRET_KEY: &str = "PREVIOUS_SECRET_KEY";
const WEBROOT_BUCKET: &str = "WEBROOT_BUCKET";
const WEBROOT_PREFIX: &str = "WEBROOT_PREFIX";

/// The environment variable that sets config `key`.
pub fn variable_for(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "_").to_uppercase())
}

/// Applies the `CACHEGATE_*` variables in `vars` on top of `figment`.
pub fn apply(mut figment: Figment, vars: impl IntoIterator<Item = (String, String)>) -> Result<Figment, String> {
    let values = resolve_files(vars)?;
    for (key, kind) in KEYS {
        if let Some(raw) = values.get(&variable_for(key)[PREFIX.len()..]) {
            let value = match kind {
                Kind::Text => Value::from(raw.clone()),
                Kind::Parsed => raw.parse().unwrap_or_else(|_| Value::from(raw.clone())),
            };
            figment = figment.merge(Serialized::default(key, value));
        }
    }
    let pair = |access: &str, secret: &str| match (values.get(access), values.get(secret)) {
        (Some(access_key), Some(secret_key)) => {
            Ok(Some(KeyPair { access_key: access_key.clone(), secret_key: secret_key.clone() }))
        }
        (None, None) => Ok(None),
        _ => Err(format!("{PREFIX}{access} and {PREFIX}{secret} must be set together")),
    };
    let (current, previous) = (pair(ACCESS_KEY, SECRET_KEY)?, pair(PREVIOUS_ACCESS_KEY, PREVIOUS_SECRET_KEY)?);
    match current {
        Some(current) => {
            let buckets = values.get(BUCKETS).map_or("*", String::as_str);
            let tenant = TenantConfig {
                name: "default".to_owned(),
                buckets: buckets.split(',').map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()).collect(),
                // the previous pair stays valid while clients move to the current one
                keys: std::iter::once(current).chain(previous).collect(),
                webroot: values.get(WEBROOT_BUCKET).map(|bucket| WebrootConfig {
                    bucket: bucket.clone(),
                    prefix: values.get(WEBROOT_PREFIX).cloned().unwrap_or_default(),
                }),
                ..TenantConfig::default()
            };
            figment = figment.admerge(Serialized::default("tenants", vec![tenant]));
        }
        None if previous.is_some() => {
            return Err(format!("{PREFIX}{PREVIOUS_ACCESS_KEY} needs {PREFIX}{ACCESS_KEY} and {PREFIX}{SECRET_KEY}"));
        }
        None => {}
    }
    Ok(figment)
}

/// The `CACHEGATE_*` variables without their prefix, `_FILE` forms read from their files.
fn resolve_files(vars: impl IntoIterator<Item = (String, String)>) -> Result<BTreeMap<String, String>, String> {
    let mut direct = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (name, value) in vars {
        let Some(name) = name.strip_prefix(PREFIX) else {
            continue;
        };
        match name.strip_suffix("_FILE") {
            Some(base) => files.insert(base.to_owned(), value),
            None => direct.insert(name.to_owned(), value),
        };
    }
    for (base, path) in files {
        if direct.contains_key(&base) {
            return Err(format!("set {PREFIX}{base} or {PREFIX}{base}_FILE, not both"));
        }
        let content =
            std::fs::read_to_string(&path).map_err(|e| format!("{PREFIX}{base}_FILE: cannot read {path}: {e}"))?;
        direct.insert(base, content.trim_end_matches(['\r', '\n']).to_owned());
    }
    Ok(direct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let figment = Figment::from(Serialized::defaults(Config::default()));
        apply(figment, vars(pairs))?.extract().map_err(|e| e.to_string())
    }

    #[test]
    fn every_serialized_key_is_settable() {
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        let dict = defaults.extract::<figment::value::Dict>().unwrap();
        for (section, value) in dict {
            let keys: Vec<String> = match value.into_dict() {
                Some(inner) => inner.keys().map(|k| format!("{section}.{k}")).collect(),
                None => vec![section],
            };
            for key in keys.into_iter().filter(|k| k != "tenants") {
                assert!(KEYS.iter().any(|(k, _)| *k == key), "{key} cannot be set from the environment");
            }
        }
    }

    #[test]
    fn single_tenant_mode_and_typed_values() {
        let config = config_from(&[
            ("CACHEGATE_ACCESS_KEY", "ak"),
            ("CACHEGATE_SECRET_KEY", "12345"),
            ("CACHEGATE_UPSTREAM_ENDPOINT", "http://rgw:7480"),
            ("CACHEGATE_UPSTREAM_PATH_STYLE", "false"),
            ("CACHEGATE_LISTEN", "0.0.0.0:9000"),
            ("CACHEGATE_PORT", "tcp://10.0.0.1:9000"),
        ])
        .unwrap();
        assert_eq!(config.tenants.len(), 1);
        assert_eq!(config.tenants[0].keys[0].secret_key, "12345");
        assert_eq!(config.tenants[0].buckets, vec!["*"]);
        assert_eq!(config.upstream.endpoint, "http://rgw:7480");
        assert!(!config.upstream.path_style);
        assert_eq!(config.listen.port(), 9000);
    }

    #[test]
    fn file_forms_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t\n").unwrap();
        let config = config_from(&[
            ("CACHEGATE_UPSTREAM_SECRET_KEY_FILE", secret.to_str().unwrap()),
            ("CACHEGATE_ACCESS_KEY", "ak"),
            ("CACHEGATE_SECRET_KEY_FILE", secret.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(config.upstream.secret_key, "s3cr3t");
        assert_eq!(config.tenants[0].keys[0].secret_key, "s3cr3t");
    }

    #[test]
    fn conflicting_and_half_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, "x").unwrap();
        let both = config_from(&[("CACHEGATE_SECRET_KEY", "a"), ("CACHEGATE_SECRET_KEY_FILE", file.to_str().unwrap())]);
        assert!(both.unwrap_err().contains("not both"));
        assert!(config_from(&[("CACHEGATE_ACCESS_KEY", "a")]).unwrap_err().contains("together"));
        let previous_only = [("CACHEGATE_PREVIOUS_ACCESS_KEY", "a"), ("CACHEGATE_PREVIOUS_SECRET_KEY", "b")];
        assert!(config_from(&previous_only).unwrap_err().contains("needs"));
    }

    #[test]
    fn a_previous_key_pair_stays_valid_during_rotation() {
        let config = config_from(&[
            ("CACHEGATE_ACCESS_KEY", "new"),
            ("CACHEGATE_SECRET_KEY", "new-secret"),
            ("CACHEGATE_PREVIOUS_ACCESS_KEY", "old"),
            ("CACHEGATE_PREVIOUS_SECRET_KEY", "old-secret"),
            ("CACHEGATE_WEBROOT_BUCKET", "web"),
        ])
        .unwrap();
        let keys: Vec<_> = config.tenants[0].keys.iter().map(|k| k.access_key.as_str()).collect();
        assert_eq!(keys, ["new", "old"]);
        assert_eq!(config.tenants[0].webroot.as_ref().unwrap().bucket, "web");
    }
}
