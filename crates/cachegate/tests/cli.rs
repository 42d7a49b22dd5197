//! The command line: configuration printing and checking.

mod common;

/// Runs `cachegate` with `args` and only the variables `env`: exit code, stdout, stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    common::outcome(common::cachegate(args).envs(env.iter().copied()))
}

#[test]
fn printed_default_config_checks_once_upstream_keys_are_set() {
    let (code, printed, _) = run(&["serve", "--print-default-config"], &[]);
    assert_eq!(code, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, printed).unwrap();
    let path = path.to_str().unwrap();
    let (code, _, err) = run(&["serve", "--config", path, "--check-config"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("upstream: access_key and secret_key"), "{err}");
    let keys = [("CACHEGATE_UPSTREAM_ACCESS_KEY", "a"), ("CACHEGATE_UPSTREAM_SECRET_KEY", "b")];
    let (code, out, err) = run(&["serve", "--config", path, "--check-config"], &keys);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("config ok"));
}

#[test]
fn bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "listen = \"not-an-address\"\n").unwrap();
    let (code, _, err) = run(&["serve", "--config", path.to_str().unwrap(), "--check-config"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("listen"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line per problem: {err}");
}

#[test]
fn environment_alone_configures_a_single_tenant() {
    let env = [
        ("CACHEGATE_ACCESS_KEY", "client"),
        ("CACHEGATE_SECRET_KEY", "client-secret"),
        ("CACHEGATE_UPSTREAM_ENDPOINT", "http://rgw:7480"),
        ("CACHEGATE_UPSTREAM_ACCESS_KEY", "gw"),
        ("CACHEGATE_UPSTREAM_SECRET_KEY", "gw-secret"),
    ];
    let (code, out, err) = run(&["serve", "--check-config"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 tenants"), "{out}");
    let (code, _, err) = run(&["serve", "--check-config"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no tenant is configured"), "{err}");
}
