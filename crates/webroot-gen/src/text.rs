//! Pseudo-text whose gzip ratio matches a kind of real webroot file: phrases drawn from a
//! seeded phrase book with a Zipf law (as identifiers and keywords recur in code), broken
//! into indented lines, with a share of fresh random tokens (hashes, base64, VLQ mappings)
//! that no back-reference can shorten. Repeating one block would compress 100:1; this
//! compresses like the real thing (see the ratios in the tests and `docs/benchmarks.md`).
//!
//! The ratios are those that make the whole tree's `tar -czf` as large as the real
//! Nextcloud 34.0.1 webroot's (157 MB): its 73 MB of images, fonts, media and archives do
//! not shrink, so its 402 MB of text must shrink about 4.8:1 on average.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

/// A kind of text file, each with the gzip -6 ratio of its real counterparts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `.map`: JSON with the escaped sources and base64 VLQ mappings.
    SourceMap,
    /// `.js`, `.mjs`: bundled, mostly minified scripts.
    Script,
    /// `.php` and other source code with indentation and doc comments.
    Code,
    /// `.json`, `.lock`, `.yml` and similar structured data.
    Data,
    /// `.css`, `.html`, `.xml`, `.svg`.
    Markup,
    /// `.txt`, `.md`, licences: running text and word lists.
    Prose,
}

/// Every profile, in a fixed order.
pub(crate) const PROFILES: [Profile; 6] =
    [Profile::SourceMap, Profile::Script, Profile::Code, Profile::Data, Profile::Markup, Profile::Prose];

/// How one profile's text is put together.
struct Shape {
    /// Separators between the words of a phrase.
    separators: &'static [&'static str],
    /// Words in the profile's vocabulary.
    words: usize,
    /// Phrases in the phrase book.
    phrases: usize,
    /// Most words in one phrase.
    phrase_words: u32,
    /// Out of 1024 draws, how many emit a fresh random token instead of a phrase.
    fresh: u32,
    /// Length range of a fresh token.
    fresh_len: (usize, usize),
    /// A line break after a phrase with probability 1/`line`; 0: no line breaks.
    line: u32,
    /// Indentation unit.
    indent: &'static str,
}

impl Profile {
    /// The gzip -6 ratio (uncompressed / compressed) the profile is tuned to, for files of
    /// a few KiB back to back as in a tar stream (`Shape` is calibrated to it by the test
    /// `profiles_compress_like_real_files`).
    #[cfg(test)]
    pub(crate) fn target_ratio(self) -> f64 {
        match self {
            Self::SourceMap => 5.6,
            Self::Script => 4.6,
            Self::Code => 5.1,
            Self::Data => 5.6,
            Self::Markup => 5.6,
            Self::Prose => 4.0,
        }
    }

    fn shape(self) -> Shape {
        match self {
            Self::SourceMap => Shape {
                separators: &["\\n", "(", ")", ".", ", ", " = ", "\\\"", "{", "}", ";", " "],
                words: 3000,
                phrases: 700,
                phrase_words: 5,
                fresh: 45,
                fresh_len: (6, 40),
                line: 0,
                indent: "",
            },
            Self::Script => Shape {
                separators: &[".", "(", ")", ",", "=", "&&", "?", ":", "{", "}", ";", "=>", "!", "\""],
                words: 3000,
                phrases: 2500,
                phrase_words: 4,
                fresh: 70,
                fresh_len: (1, 3),
                line: 400,
                indent: "",
            },
            Self::Code => Shape {
                separators: &[" ", " = ", "->", "(", ")", ", ", ";", "::", "$", "[", "]", "'", ".", " { ", " }", " * "],
                words: 3000,
                phrases: 2000,
                phrase_words: 5,
                fresh: 32,
                fresh_len: (4, 14),
                line: 3,
                indent: "    ",
            },
            Self::Data => Shape {
                separators: &["\": \"", "\", \"", ": ", "{", "}", "[", "]", ",", "\"", " "],
                words: 3000,
                phrases: 700,
                phrase_words: 4,
                fresh: 15,
                fresh_len: (8, 40),
                line: 2,
                indent: "  ",
            },
            Self::Markup => Shape {
                separators: &["<", ">", "</", "=\"", "\" ", ": ", "; ", " { ", "}", " ", "-"],
                words: 3000,
                phrases: 1200,
                phrase_words: 5,
                fresh: 25,
                fresh_len: (4, 12),
                line: 3,
                indent: "\t",
            },
            Self::Prose => Shape {
                separators: &[" ", " ", " ", " ", ", ", ". "],
                words: 8000,
                phrases: 8000,
                phrase_words: 3,
                fresh: 40,
                fresh_len: (3, 10),
                line: 8,
                indent: "",
            },
        }
    }
}

/// A profile's phrase book, built once from a seed and shared by all files of that profile
/// (as real files of one kind share keywords and identifiers across the archive).
pub(crate) struct TextModel {
    shape: Shape,
    phrases: Vec<Vec<u8>>,
    /// Cumulative Zipf weights of the phrases, scaled to `u32`.
    cdf: Vec<u32>,
}

const WORD_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const FRESH_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const MAX_INDENT: u32 = 6;

impl TextModel {
    /// Builds the phrase book of `profile` from `seed`.
    pub(crate) fn new(profile: Profile, seed: u64) -> Self {
        let shape = profile.shape();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ (0x5EED_0000 + profile as u64));
        let words: Vec<Vec<u8>> = (0..shape.words)
            .map(|_| {
                let len = 2 + below(&mut rng, 5) + below(&mut rng, 6);
                (0..len).map(|_| WORD_CHARS[below(&mut rng, WORD_CHARS.len())]).collect()
            })
            .collect();
        let phrases = (0..shape.phrases)
            .map(|_| {
                let count = 1 + below(&mut rng, shape.phrase_words as usize);
                let mut phrase = Vec::new();
                for _ in 0..count {
                    // Zipf over words too: some identifiers are everywhere.
                    phrase.extend_from_slice(&words[zipf_index(&mut rng, words.len())]);
                    phrase.extend_from_slice(shape.separators[below(&mut rng, shape.separators.len())].as_bytes());
                }
                phrase
            })
            .collect::<Vec<_>>();
        let weights: Vec<f64> = (1..=phrases.len()).map(|rank| 1.0 / rank as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w;
                (acc / total * f64::from(u32::MAX)) as u32
            })
            .collect();
        Self { shape, phrases, cdf }
    }

    /// Appends exactly `size` bytes of text to `out`, drawn with `rng`.
    pub(crate) fn fill(&self, rng: &mut Xoshiro256PlusPlus, size: usize, out: &mut Vec<u8>) {
        let end = out.len() + size;
        let shape = &self.shape;
        let mut depth = 0u32;
        while out.len() < end {
            let r = rng.next_u64();
            if (r as u32 & 1023) < shape.fresh {
                let (lo, hi) = shape.fresh_len;
                let len = lo + below(rng, hi - lo + 1);
                out.extend((0..len).map(|_| FRESH_CHARS[below(rng, FRESH_CHARS.len())]));
            } else {
                let index = self.cdf.partition_point(|&c| c < (r >> 32) as u32).min(self.phrases.len() - 1);
                out.extend_from_slice(&self.phrases[index]);
            }
            if shape.line != 0 && ((r >> 10) as u32).is_multiple_of(shape.line) {
                out.push(b'\n');
                depth = match (r >> 20) & 3 {
                    0 => depth.saturating_sub(1),
                    1 => (depth + 1).min(MAX_INDENT),
                    _ => depth,
                };
                for _ in 0..depth {
                    out.extend_from_slice(shape.indent.as_bytes());
                }
            }
        }
        out.truncate(end);
    }
}

/// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Roughly Zipf-distributed index in `0..n`: log-uniform, so that low indexes recur often.
fn zipf_index(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::gzip_ratio;

    fn sample(profile: Profile, seed: u64, bytes: usize) -> Vec<u8> {
        let model = TextModel::new(profile, 1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = Vec::new();
        // Files of a few KiB, back to back, as tar would put them in one gzip stream.
        while out.len() < bytes {
            let size = 2000 + below(&mut rng, 12000);
            model.fill(&mut rng, size, &mut out);
        }
        out
    }

    #[test]
    fn fills_exactly_and_deterministically() {
        let model = TextModel::new(Profile::Code, 7);
        let mut a = Vec::new();
        model.fill(&mut Xoshiro256PlusPlus::seed_from_u64(3), 10_001, &mut a);
        let mut b = b"prefix".to_vec();
        model.fill(&mut Xoshiro256PlusPlus::seed_from_u64(3), 10_001, &mut b);
        assert_eq!(a.len(), 10_001);
        assert_eq!(&b[6..], &a[..]);
        let mut empty = Vec::new();
        model.fill(&mut Xoshiro256PlusPlus::seed_from_u64(3), 0, &mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn profiles_compress_like_real_files() {
        let ratios: Vec<(Profile, f64)> =
            PROFILES.iter().map(|&profile| (profile, gzip_ratio(&sample(profile, 11, 1 << 20)))).collect();
        eprintln!("gzip -6 ratios: {ratios:.2?}");
        for (profile, ratio) in ratios {
            let target = profile.target_ratio();
            assert!((ratio / target - 1.0).abs() < 0.12, "{profile:?}: ratio {ratio:.2}, target {target}");
        }
    }
}
