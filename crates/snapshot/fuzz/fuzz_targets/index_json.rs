//! Index parser and validator: `cargo +nightly fuzz run index_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cachegate_snapshot::fuzzing::index_json(data));
