use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml, Yaml};

use super::{Config, DEV_TOML, env};

/// Where the configuration comes from, before environment overrides.
#[derive(Debug, Clone)]
pub enum Source {
    /// A TOML or YAML file (chosen by extension: `.yaml`/`.yml` is YAML).
    File(PathBuf),
    /// The embedded development configuration for the bundled local RGW.
    Dev,
    /// Built-in defaults only (single-tenant mode from the environment).
    Defaults,
}

/// Reads the configuration: defaults, then `source`, then the `CACHEGATE_*` environment.
pub fn load(source: &Source) -> Result<Config, String> {
    load_with_env(source, std::env::vars())
}

fn load_with_env(source: &Source, vars: impl IntoIterator<Item = (String, String)>) -> Result<Config, String> {
    let figment = Figment::from(Serialized::defaults(Config::default()));
    let figment = match source {
        Source::File(path) if is_yaml(path) => figment.merge(Yaml::file_exact(path)),
        Source::File(path) => figment.merge(Toml::file_exact(path)),
        Source::Dev => figment.merge(Toml::string(DEV_TOML)),
        Source::Defaults => figment,
    };
    env::apply(figment, vars)?.extract().map_err(|e| one_line(&e))
}

fn is_yaml(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml")
}

/// figment reports every error of a file; each already names its key and source.
pub(super) fn one_line(err: &figment::Error) -> String {
    err.clone().into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::REFERENCE_TOML;

    #[test]
    fn reference_config_states_the_defaults() {
        let reference: Config = Figment::from(Toml::string(REFERENCE_TOML)).extract().unwrap();
        assert_eq!(Config { tenants: Vec::new(), ..reference.clone() }, Config::default());
        assert_eq!(reference.tenants.len(), 1, "the reference shows one example tenant");
    }

    #[test]
    fn dev_config_loads() {
        let config = load_with_env(&Source::Dev, Vec::new()).unwrap();
        assert_eq!(config.tenants[0].buckets, vec!["*"]);
    }

    #[test]
    fn yaml_and_toml_files_are_equivalent() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        let yaml_path = dir.path().join("c.yaml");
        std::fs::write(&toml_path, "listen = \"0.0.0.0:9100\"\n[[tenants]]\nname = \"a\"\nbuckets = [\"a-*\"]\n")
            .unwrap();
        std::fs::write(&yaml_path, "listen: 0.0.0.0:9100\ntenants:\n  - name: a\n    buckets: [\"a-*\"]\n").unwrap();
        let from_toml = load_with_env(&Source::File(toml_path), Vec::new()).unwrap();
        let from_yaml = load_with_env(&Source::File(yaml_path), Vec::new()).unwrap();
        assert_eq!(from_toml, from_yaml);
    }

    #[test]
    fn environment_overrides_the_file_and_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[upstream]\nendpoint = \"http://file:1\"\nmax_attempts = \"many\"\n").unwrap();
        let err = load_with_env(&Source::File(path.clone()), Vec::new()).unwrap_err();
        assert!(err.contains("upstream.max_attempts"), "{err}");
        std::fs::write(&path, "[upstream]\nendpoint = \"http://file:1\"\n").unwrap();
        let vars = vec![("CACHEGATE_UPSTREAM_ENDPOINT".to_owned(), "http://env:2".to_owned())];
        assert_eq!(load_with_env(&Source::File(path), vars).unwrap().upstream.endpoint, "http://env:2");
    }

    #[test]
    fn tenant_upstream_inherits_unset_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[upstream]\nendpoint = \"http://shared:1\"\naccess_key = \"g\"\n\
             [[tenants]]\nname = \"a\"\n[tenants.upstream]\nendpoint = \"http://own:2\"\n",
        )
        .unwrap();
        let config = load_with_env(&Source::File(path), Vec::new()).unwrap();
        let own = config.tenants[0].upstream(&config.upstream).unwrap();
        assert_eq!((own.endpoint.as_str(), own.access_key.as_str()), ("http://own:2", "g"));
    }
}
