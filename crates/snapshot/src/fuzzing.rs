//! Bodies of the cargo-fuzz targets in `crates/snapshot/fuzz`, callable from ordinary tests:
//! each takes arbitrary bytes, must never panic, and checks what the parser promises.
//! Public only with the `fuzzing` feature, which the fuzz crate turns on.

use std::path::{Component, Path};

use crate::entry_path::check_entry_path;
use crate::index::{EntryKind, Index};
use crate::limits::Limits;
use crate::link_check::check_symlink_target;

/// Limits small enough that the fuzzer explores them.
fn fuzz_limits() -> Limits {
    Limits {
        max_bytes: 1 << 30,
        max_entries: 10_000,
        max_path_len: 512,
        max_member_len: 1 << 20,
        max_index_len: 1 << 20,
    }
}

/// Parses `data` as an index; an accepted index must round-trip and keep every promise
/// the fetcher relies on (paths inside, parents listed first, contents within the stream).
pub fn index_json(data: &[u8]) {
    let limits = fuzz_limits();
    let Ok(index) = Index::from_json(data, &limits) else { return };
    let again = Index::from_json(&index.to_json(), &limits).expect("an accepted index re-reads");
    assert_eq!(again, index);
    let tar_len = index.totals().uncompressed_size;
    for entry in &index.entries {
        assert!(stays_inside(&entry.path), "accepted path {:?}", entry.path);
        if entry.kind == EntryKind::File {
            let range = entry.data_range();
            assert!(range.end <= tar_len);
            let members = index.members_overlapping(range.clone());
            assert!(range.is_empty() || !members.is_empty());
        }
    }
}

/// Checks `data` (UTF-8) as an entry path, and as `link\ntarget` as a symlink; whatever is
/// accepted stays inside the destination by an independent lexical resolution.
pub fn entry_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if check_entry_path(text, 512).is_ok() {
        assert!(stays_inside(text), "accepted path {text:?}");
    }
    if let Some((link, target)) = text.split_once('\n')
        && check_entry_path(link, 512).is_ok()
        && check_symlink_target(link, target, &Default::default()).is_ok()
    {
        let joined = Path::new(link).parent().unwrap_or(Path::new("")).join(target);
        assert!(!target.starts_with('/') && lexically_inside(&joined), "accepted {link:?} -> {target:?}");
    }
}

fn stays_inside(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

/// Whether `path`, relative, never climbs above its start when read left to right.
fn lexically_inside(path: &Path) -> bool {
    let mut depth = 0i64;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in corpus of a target, plus deterministic mutations of each seed: the
    /// fuzz bodies run in every `cargo test`, without nightly or cargo-fuzz.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(!seeds.is_empty());
        let tokens: [&[u8]; 8] = [b"..", b"/", b"\0", b"\"", b"99999999999999999999", b"-1", b"{", b"\"symlink\""];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound.max(1) as u64) as usize
        };
        let mut mutated = Vec::new();
        for seed in &seeds {
            for _ in 0..300 {
                let mut bytes = seed.clone();
                let at = next(bytes.len() + 1);
                match next(4) {
                    0 if !bytes.is_empty() => {
                        let last = bytes.len() - 1;
                        bytes[at.min(last)] ^= 1 << next(8);
                    }
                    1 => bytes.truncate(at),
                    2 => bytes.splice(at..at, tokens[next(tokens.len())].iter().copied()).for_each(drop),
                    _ => {
                        let end = (at + next(8)).min(bytes.len());
                        bytes.drain(at.min(end)..end);
                    }
                }
                mutated.push(bytes);
            }
        }
        seeds.extend(mutated);
        seeds
    }

    #[test]
    fn index_json_corpus_and_mutations() {
        let inputs = corpus("index_json");
        let accepted = inputs.iter().filter(|i| Index::from_json(i, &fuzz_limits()).is_ok()).count();
        inputs.iter().for_each(|i| index_json(i));
        assert!(accepted > 0, "the valid seeds are accepted");
    }

    #[test]
    fn entry_path_corpus_and_mutations() {
        corpus("entry_path").iter().for_each(|i| entry_path(i));
    }
}
