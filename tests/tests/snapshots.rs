//! Snapshot tests over the fixture folders: token dumps, AST dumps,
//! diagnostics, a one-screen summary, and deterministic allocation counts.

use insta::{assert_snapshot, glob};
use lexer_demo::frontend::compile;
use morph_runtime::MorphContext;
use morph_tests::{cli, fixtures, lox_files, path_str};

#[test]
fn token_dumps() {
    glob!("../../fixtures", "pass/*.lox", |path| {
        let (code, out, err) = cli(&["tokens", &path_str(path)], b"");
        assert_eq!(code, 0, "{err}");
        assert_snapshot!(out);
    });
}

#[test]
fn ast_dumps() {
    glob!(
        "../../fixtures",
        "{pass/*.lox,generated/lines_100.lox}",
        |path| {
            let (code, out, err) = cli(&["parse", &path_str(path)], b"");
            assert_eq!(code, 0, "{err}");
            assert_snapshot!(out);
        }
    );
}

#[test]
fn diagnostics_of_failing_programs() {
    glob!("../../fixtures", "fail/*.lox", |path| {
        let (code, out, err) = cli(&["check", &path_str(path)], b"");
        assert_eq!(code, 65, "a failing fixture exits 65");
        assert_eq!(out, "", "check prints nothing on stdout");
        assert_snapshot!(err);
    });
}

/// One line per fixture with its outcome, so a regression shows as a
/// one-line diff.
#[test]
fn summary() {
    let mut lines = Vec::new();
    let (mut passed, mut total) = (0, 0);
    for sub in ["pass", "fail", "generated"] {
        for path in lox_files(sub) {
            let (code, _, err) = cli(&["check", &path_str(&path)], b"");
            let expected = if sub == "fail" { 65 } else { 0 };
            total += 1;
            passed += usize::from(code == expected);
            let name = path.file_name().unwrap().to_string_lossy();
            lines.push(format!(
                "{sub}/{name}: exit {code}, {} diagnostic(s){}",
                err.lines().count(),
                if code == expected {
                    ""
                } else {
                    "  <-- UNEXPECTED"
                }
            ));
        }
    }
    assert_eq!(passed, total, "{}", lines.join("\n"));
    assert_snapshot!(format!("Passed: {passed}/{total}\n{}", lines.join("\n")));
}

/// Allocation counts are deterministic: the same program makes the same
/// allocations in the same classes every time.
#[test]
fn allocation_counts_for_chess() {
    let src = std::fs::read_to_string(fixtures().join("pass/chess.lox")).unwrap();
    let ctx = MorphContext::new();
    let c = compile(&src, &ctx, &ctx).unwrap();
    assert!(c.diagnostics.is_empty());
    let s = ctx.stats();
    let mut report = format!(
        "tokens made: {}\nlive objects: {}\nlive payload bytes: {}\nheader bytes: {}\n",
        c.tokens_made, s.live_objects, s.live_bytes, s.header_bytes
    );
    for class in &s.classes {
        report.push_str(&format!(
            "class {:>3}: allocations {:>4}, frees {:>4}, reuses {:>4}, live {:>4}, peak {:>4}\n",
            class.stats.slot_size,
            class.stats.allocations,
            class.stats.frees,
            class.stats.reuses,
            class.stats.live,
            class.stats.peak_carved
        ));
    }
    report.push_str(&format!(
        "arena: allocations {}, live {}\n",
        s.arena.allocations, s.arena.live_objects
    ));
    assert_snapshot!(report);
}
