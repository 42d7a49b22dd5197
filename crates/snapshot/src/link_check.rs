//! Symlink targets must resolve inside the destination, even through other symlinks of
//! the same snapshot.

use std::collections::HashMap;

use crate::entry_path::split_parent;

/// Symlinks followed while resolving one target before giving up, as Linux's `MAXSYMLINKS`.
const MAX_HOPS: usize = 40;

/// Checks that the symlink at `link` with `target` stays inside the destination when
/// resolved, following the snapshot's other `symlinks` (path → target) on the way; a
/// target naming something the snapshot does not hold is allowed if it stays inside.
pub fn check_symlink_target(link: &str, target: &str, symlinks: &HashMap<&str, &str>) -> Result<(), String> {
    if target.is_empty() {
        return Err("empty symlink target".into());
    }
    if target.contains('\0') {
        return Err("NUL byte in symlink target".into());
    }
    let (parent, _) = split_parent(link);
    let mut resolved: Vec<&str> = parent.split('/').filter(|c| !c.is_empty()).collect();
    // components still to walk, last one first
    let mut pending: Vec<&str> = Vec::new();
    push_target(&mut pending, target)?;
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component {
            "" | "." => {}
            ".." => {
                if resolved.pop().is_none() {
                    return Err(format!("symlink target '{target}' leaves the destination"));
                }
            }
            name => {
                resolved.push(name);
                if let Some(next) = symlinks.get(resolved.join("/").as_str()) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(format!("symlink target '{target}' goes through too many symlinks"));
                    }
                    resolved.pop();
                    push_target(&mut pending, next)?;
                }
            }
        }
    }
    Ok(())
}

fn push_target<'a>(pending: &mut Vec<&'a str>, target: &'a str) -> Result<(), String> {
    if target.starts_with('/') {
        return Err(format!("absolute symlink target '{target}'"));
    }
    pending.extend(target.split('/').rev());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(link: &str, target: &str, others: &[(&'static str, &'static str)]) -> Result<(), String> {
        let map: HashMap<&str, &str> = others.iter().copied().collect();
        check_symlink_target(link, target, &map)
    }

    #[test]
    fn targets_inside_are_accepted() {
        check("a/b/l", "../c/d", &[]).unwrap();
        check("l", "index.php", &[]).unwrap();
        check("a/l", "./../x/./y", &[]).unwrap();
        check("a/l", "sub/missing/../file", &[]).unwrap();
        check("l", "d/", &[]).unwrap();
    }

    #[test]
    fn targets_outside_are_refused() {
        assert!(check("l", "/etc/passwd", &[]).unwrap_err().contains("absolute"));
        assert!(check("l", "..", &[]).unwrap_err().contains("leaves"));
        assert!(check("a/l", "../../x", &[]).unwrap_err().contains("leaves"));
        assert!(check("l", "", &[]).unwrap_err().contains("empty"));
    }

    #[test]
    fn follows_other_symlinks_of_the_snapshot() {
        // x/b -> ../a/.. looks inside, but a -> . makes it the destination's parent
        assert!(check("x/b", "../a/..", &[("a", ".")]).unwrap_err().contains("leaves"));
        assert!(check("x/b", "../a/..", &[("a", "sub")]).is_ok());
        assert!(check("l", "a/x", &[("a", "/etc")]).unwrap_err().contains("absolute"));
        assert!(check("l", "a", &[("a", "b"), ("b", "a")]).unwrap_err().contains("too many"));
    }
}
