//! Cross-crate tests: the front end and the runtime together, over the
//! fixture programs. The tests live in `tests/`; this library only holds
//! helpers they share.

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The `.lox` files directly in `fixtures/<sub>`, sorted.
pub fn lox_files(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join(sub))
        .unwrap_or_else(|e| panic!("fixtures/{sub}: {e}"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "lox"))
        .collect();
    files.sort();
    files
}
