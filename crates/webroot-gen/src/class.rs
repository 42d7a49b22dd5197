//! What kind of contents a file gets, from its name: one of the text profiles, or random
//! bytes for formats that are compressed already (images, fonts, media, archives, binaries).

use crate::text::Profile;

/// The contents a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Pseudo-text of the given profile.
    Text(Profile),
    /// Random bytes: gzip cannot shrink them.
    Binary,
}

/// Extensions whose real files gzip does not shrink (lower case).
const BINARY: &[&str] = &[
    "avif", "bcmap", "bin", "bmp", "bz2", "dat", "dll", "docx", "eot", "exe", "gif", "gz", "ico", "inv", "jar", "jpeg",
    "jpg", "m4a", "mp3", "mp4", "odg", "odp", "ods", "odt", "ogg", "otf", "pdf", "pfb", "phar", "png", "pptx", "so",
    "sqlite", "tgz", "ttf", "wasm", "wav", "webm", "webp", "woff", "woff2", "xlsx", "xz", "zip", "zst",
];

/// The class of the file at `path` (a `/`-separated relative path).
pub(crate) fn class_of(path: &str) -> Class {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        // LICENSE, COPYING, AUTHORS, README, Makefile, occ …
        return Class::Text(Profile::Prose);
    };
    let ext = ext.to_ascii_lowercase();
    if BINARY.contains(&ext.as_str()) {
        return Class::Binary;
    }
    Class::Text(match ext.as_str() {
        "map" => Profile::SourceMap,
        "js" | "mjs" | "cjs" | "ts" => Profile::Script,
        "php" | "c" | "h" | "zep" | "sh" | "bash" | "zsh" | "fish" | "m4" | "bat" | "patch" => Profile::Code,
        "json" | "ndjson" | "lock" | "whiteboard" | "vcf" | "csv" | "yml" | "yaml" | "toml" | "neon" | "crt"
        | "crl" => Profile::Data,
        "css" | "scss" | "less" | "html" | "htm" | "xml" | "xsd" | "rng" | "svg" | "ftl" => Profile::Markup,
        "txt" | "md" | "license" | "rst" => Profile::Prose,
        _ => Profile::Code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_name() {
        assert_eq!(class_of("core/img/logo.PNG"), Class::Binary);
        assert_eq!(class_of("dist/core-main.js.map"), Class::Text(Profile::SourceMap));
        assert_eq!(class_of("apps/x/js/a.chunk.mjs"), Class::Text(Profile::Script));
        assert_eq!(class_of("lib/base.php"), Class::Text(Profile::Code));
        assert_eq!(class_of("3rdparty/LICENSE"), Class::Text(Profile::Prose));
        assert_eq!(class_of(".htaccess"), Class::Text(Profile::Code));
        assert_eq!(class_of("l10n/de.json"), Class::Text(Profile::Data));
        assert_eq!(class_of("core/css/server.css"), Class::Text(Profile::Markup));
        assert_eq!(class_of("core/fonts/NotoSans.woff2"), Class::Binary);
    }
}
