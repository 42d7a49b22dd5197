//! The bytes of each file: a function of the seed, the file's index in the listing, its
//! name (which picks the class) and the generation (0 when generated, then one more for
//! each round of changes), so any file can be written again identically on its own.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use crate::class::{Class, class_of};
use crate::text::{PROFILES, TextModel};

/// The phrase books of all profiles for one seed.
pub struct Contents {
    seed: u64,
    models: Vec<TextModel>,
}

impl Contents {
    /// Builds the text models for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, models: PROFILES.iter().map(|&p| TextModel::new(p, seed)).collect() }
    }

    /// Replaces `out` with the `size` bytes of file number `index` called `path` at
    /// `generation`.
    pub(crate) fn fill(&self, index: usize, generation: u32, path: &str, size: u64, out: &mut Vec<u8>) {
        out.clear();
        let size = usize::try_from(size).expect("file size fits in memory");
        let mut rng = self.file_rng(index, generation);
        match class_of(path) {
            Class::Binary => {
                out.resize(size, 0);
                rng.fill_bytes(out);
            }
            Class::Text(profile) => self.models[profile as usize].fill(&mut rng, size, out),
        }
    }

    /// A generator for one file: `seed_from_u64` spreads neighbouring keys (SplitMix64).
    fn file_rng(&self, index: usize, generation: u32) -> Xoshiro256PlusPlus {
        let key = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(generation) << 40) ^ index as u64;
        Xoshiro256PlusPlus::seed_from_u64(key)
    }

    /// A generator for choices that depend on the seed and a purpose only.
    pub(crate) fn rng_for(&self, purpose: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(self.seed.rotate_left(17) ^ purpose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_bytes_other_generation_other_bytes() {
        let contents = Contents::new(1);
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        contents.fill(5, 0, "lib/a.php", 4096, &mut a);
        Contents::new(1).fill(5, 0, "lib/a.php", 4096, &mut b);
        contents.fill(5, 1, "lib/a.php", 4096, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(c.len(), 4096);
        contents.fill(5, 0, "img/a.png", 100, &mut a);
        assert_eq!(a.len(), 100);
    }
}
