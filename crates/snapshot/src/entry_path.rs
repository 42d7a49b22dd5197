//! The rules every path inside a snapshot obeys, checked before anything touches the disk.

/// Longest file name (one path component) a snapshot may hold, as Linux's `NAME_MAX`.
pub const MAX_NAME_LEN: usize = 255;

/// Checks that `path` names something strictly inside the destination: relative, made of
/// `/`-separated non-empty components, none of them `.` or `..`, no NUL byte, at most
/// `max_len` bytes and [`MAX_NAME_LEN`] bytes per component. Returns why it is refused.
pub fn check_entry_path(path: &str, max_len: usize) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.len() > max_len {
        return Err(format!("path is {} bytes long, the limit is {max_len}", path.len()));
    }
    if path.starts_with('/') {
        return Err("absolute path".into());
    }
    if path.contains('\0') {
        return Err("NUL byte in path".into());
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty path component (// or a trailing /)".into()),
            "." => return Err("'.' path component".into()),
            ".." => return Err("'..' path component".into()),
            name if name.len() > MAX_NAME_LEN => {
                return Err(format!("a component is {} bytes long, the limit is {MAX_NAME_LEN}", name.len()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The directory holding `path` (`""` for the destination itself) and the entry's name.
pub fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in ["index.php", "3rdparty/a b/ü 文字.js", ".htaccess", "a/..b/c..", "x".repeat(255).as_str()] {
            check_entry_path(ok, 4096).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn refuses_what_could_leave_the_destination() {
        let long_name = "x".repeat(256);
        for (bad, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("../x", "'..'"),
            ("a/../../x", "'..'"),
            ("a/./b", "'.'"),
            (".", "'.'"),
            ("a//b", "empty path component"),
            ("a/", "empty path component"),
            ("a\0b", "NUL"),
            (long_name.as_str(), "component is 256 bytes"),
        ] {
            let err = check_entry_path(bad, 4096).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(check_entry_path("abcdef", 5).unwrap_err().contains("limit is 5"));
    }

    #[test]
    fn splits_parent_and_name() {
        assert_eq!(split_parent("a/b/c"), ("a/b", "c"));
        assert_eq!(split_parent("c"), ("", "c"));
    }
}
