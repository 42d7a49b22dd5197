use std::path::Path;

/// Nextcloud's version string from `version.php` in `webroot`
/// (`$OC_VersionString = '34.0.1';`), if the file is there and says it.
pub fn nextcloud_version(webroot: &Path) -> Option<String> {
    let text = std::fs::read_to_string(webroot.join("version.php")).ok()?;
    parse_version_php(&text)
}

/// The `$OC_VersionString` assignment of a `version.php` text.
fn parse_version_php(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("$OC_VersionString")?;
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let value = &rest[1..rest[1..].find(quote)? + 1];
    let plausible = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ' '));
    plausible.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_string() {
        let php = "<?php\n$OC_Version = array(34,0,1,2);\n$OC_VersionString = '34.0.1';\n$OC_Edition = '';\n";
        assert_eq!(parse_version_php(php).as_deref(), Some("34.0.1"));
        assert_eq!(parse_version_php("$OC_VersionString=\"28.0.0 RC1\";").as_deref(), Some("28.0.0 RC1"));
        assert_eq!(parse_version_php("<?php echo 1;"), None);
        assert_eq!(parse_version_php("$OC_VersionString = '<script>';"), None);
    }
}
