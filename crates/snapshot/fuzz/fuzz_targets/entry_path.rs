//! Entry path and symlink target checks: `cargo +nightly fuzz run entry_path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cachegate_snapshot::fuzzing::entry_path(data));
