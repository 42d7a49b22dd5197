//! Helpers shared by the crate's tests.

use std::io::Write;
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::listing::Listing;

/// Loads the real Nextcloud listing, `benches/data/nextcloud-34.0.1-webroot-{files,dirs}.tsv.gz`.
pub(crate) fn real_listing() -> Listing {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/data");
    Listing::load(
        &data.join("nextcloud-34.0.1-webroot-files.tsv.gz"),
        &data.join("nextcloud-34.0.1-webroot-dirs.tsv.gz"),
    )
    .unwrap()
}

/// Uncompressed / compressed size of `data` under gzip -6, the seed script's level.
pub(crate) fn gzip_ratio(data: &[u8]) -> f64 {
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
    gz.write_all(data).unwrap();
    data.len() as f64 / gz.finish().unwrap().len() as f64
}
