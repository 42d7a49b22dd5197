//! Changes a seeded share of a generated tree's files, as an upgrade or app update would:
//! new contents of the same size and kind, a later mtime.

use std::path::Path;

use rand_xoshiro::rand_core::RngCore;
use rayon::prelude::*;

use crate::Error;
use crate::contents::Contents;
use crate::listing::Listing;
use crate::tree::write_file;

/// What `change_files` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Paths of the changed files, in listing order.
    pub paths: Vec<String>,
    /// Their total size.
    pub bytes: u64,
}

/// Rewrites `percent` % (rounded up) of the non-empty files of the tree `write_tree` made
/// in `dest` with the same `listing`, `contents` and `every`, with their contents of
/// `generation` (≥ 1). The choice depends on the seed and `generation` only.
pub fn change_files(
    listing: &Listing,
    dest: &Path,
    contents: &Contents,
    every: usize,
    percent: f64,
    generation: u32,
) -> Result<ChangeSummary, Error> {
    let mut candidates: Vec<_> = listing.every(every).into_iter().filter(|(_, f)| f.size > 0).collect();
    let count = ((candidates.len() as f64 * percent / 100.0).ceil() as usize).min(candidates.len());
    // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
    let mut rng = contents.rng_for(u64::from(generation));
    for i in 0..count {
        let j = i + (rng.next_u64() % (candidates.len() - i) as u64) as usize;
        candidates.swap(i, j);
    }
    let mut chosen = candidates[..count].to_vec();
    chosen.sort_unstable_by_key(|(index, _)| *index);
    chosen
        .par_iter()
        .try_for_each_init(Vec::new, |buf, &(index, file)| write_file(dest, contents, index, generation, file, buf))?;
    Ok(ChangeSummary {
        bytes: chosen.iter().map(|(_, f)| f.size).sum(),
        paths: chosen.into_iter().map(|(_, f)| f.path.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::test_support::real_listing;
    use crate::tree::{BASE_MTIME, write_tree};

    #[test]
    fn changes_the_chosen_share_only() {
        let listing = real_listing();
        let tmp = tempfile::tempdir().unwrap();
        let (before, after) = (tmp.path().join("before"), tmp.path().join("after"));
        let contents = Contents::new(3);
        write_tree(&listing, &before, &contents, 200).unwrap();
        write_tree(&listing, &after, &contents, 200).unwrap();
        let summary = change_files(&listing, &after, &contents, 200, 5.0, 1).unwrap();
        let non_empty = listing.every(200).iter().filter(|(_, f)| f.size > 0).count();
        assert_eq!(summary.paths.len(), (non_empty * 5).div_ceil(100));
        assert_eq!(summary, change_files(&listing, &tmp.path().join("after"), &contents, 200, 5.0, 1).unwrap());

        for (_, file) in listing.every(200) {
            let (old, new) = (before.join(&file.path), after.join(&file.path));
            let changed = summary.paths.contains(&file.path);
            assert_eq!(fs::read(&old).unwrap() != fs::read(&new).unwrap(), changed, "{}", file.path);
            let meta = fs::metadata(&new).unwrap();
            assert_eq!(meta.len(), file.size);
            assert_eq!(meta.mtime() as u64, if changed { BASE_MTIME + 86_400 } else { BASE_MTIME });
        }
    }
}
