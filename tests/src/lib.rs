//! Cross-crate tests: the front end and the runtime together, over the
//! fixture programs. The tests live in `tests/`; this library holds the
//! helpers they share.

use std::path::{Path, PathBuf};

/// The repository's `fixtures/` folder.
///
/// ```
/// assert!(morph_tests::fixtures().join("pass/hello.lox").exists());
/// ```
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The `.lox` files directly in `fixtures/<sub>`, sorted.
///
/// ```
/// assert!(!morph_tests::lox_files("fail").is_empty());
/// ```
pub fn lox_files(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join(sub))
        .unwrap_or_else(|e| panic!("fixtures/{sub}: {e}"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "lox"))
        .collect();
    files.sort();
    files
}

/// Runs the `lexer_demo` command line in process: returns the exit code,
/// stdout and stderr.
///
/// ```
/// assert_eq!(morph_tests::cli(&["check", "-"], b"print 1;").0, 0);
/// ```
pub fn cli(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let argv = std::iter::once("lexer_demo").chain(args.iter().copied());
    let code = lexer_demo::cli::run(argv, &mut input, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("stdout is UTF-8"),
        String::from_utf8(err).expect("stderr is UTF-8"),
    )
}

/// `fixtures/<sub>/<name>` as a string path.
///
/// ```
/// assert_eq!(morph_tests::path_str(std::path::Path::new("a.lox")), "a.lox");
/// ```
pub fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

/// The repository README's Rust examples are tested as doctests here, where
/// the runtime is built with `serde` (its example prints the JSON report).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
