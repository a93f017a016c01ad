//! The compile-footprint report, measured: this test binary installs the
//! counting allocator, as the `lexer_demo` binary does.

use lexer_demo::mem::{MemBackend, measure};
use morph_tests::{cli, fixtures};

#[global_allocator]
static ALLOC: lexer_demo::counting::CountingAlloc = lexer_demo::counting::CountingAlloc;

/// The counting allocator is process-wide: a test measuring while another
/// allocates or frees on a parallel test thread would see the other's bytes.
/// Every test here holds this lock while it runs.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn program(lines: usize) -> String {
    lexer_demo::generate::program(lines, 3)
}

#[test]
fn heap_peak_is_measured_and_covers_the_ast() {
    let _serial = serial();
    assert!(lexer_demo::counting::installed());
    let src = program(1000);
    for backend in MemBackend::ALL {
        let (r, diags) = measure(&src, backend, false).unwrap();
        assert!(diags.is_empty());
        assert!(r.heap_measured);
        assert!(
            r.heap_peak_bytes as u64 >= r.ast_payload_bytes,
            "{}: peak {} below the AST's own {} bytes",
            backend.name(),
            r.heap_peak_bytes,
            r.ast_payload_bytes
        );
    }
}

#[test]
fn live_tokens_stay_bounded_whatever_the_size() {
    let _serial = serial();
    for lines in [100, 1000, 5000] {
        let (r, _) = measure(&program(lines), MemBackend::Morph, false).unwrap();
        assert_eq!(r.peak_live_tokens, 2, "{lines} lines");
        assert!(r.tokens_made > lines as u64);
    }
}

#[test]
fn every_backend_places_the_same_nodes() {
    let _serial = serial();
    let src = program(300);
    let reports: Vec<_> = MemBackend::ALL
        .iter()
        .map(|&b| measure(&src, b, false).unwrap().0)
        .collect();
    for r in &reports[1..] {
        assert_eq!(r.nodes, reports[0].nodes);
        assert_eq!(r.ast_payload_bytes, reports[0].ast_payload_bytes);
        assert_eq!(r.tokens_made, reports[0].tokens_made);
    }
}

#[test]
fn breakdown_adds_up() {
    let _serial = serial();
    let (r, _) = measure(&program(1000), MemBackend::Morph, true).unwrap();
    let c = r.context.expect("a morph backend has a breakdown");
    let slots: usize = c.classes.iter().map(|k| k.live * k.slot_size).sum();
    let headers_in_pools: usize = c.classes.iter().map(|k| k.live * 8).sum();
    let payload_in_pools: usize = c.classes.iter().map(|k| k.payload_bytes).sum();
    assert_eq!(slots, payload_in_pools + headers_in_pools + c.slack_bytes);
    assert_eq!(c.reserved_bytes, c.slab_bytes + c.arena_reserved);
    assert!(c.arena_used + c.arena_wasted <= c.arena_reserved);
    assert_eq!(r.size_classes, "fine");
}

#[test]
fn cli_mem_outputs() {
    let _serial = serial();
    let path = fixtures().join("generated/lines_1000.lox");
    let path = path.to_str().unwrap();
    let (code, out, _) = cli(&["mem", path], b"");
    assert_eq!(code, 0);
    assert!(
        out.contains("heap peak during lex + parse + resolve:"),
        "{out}"
    );
    assert!(out.contains("tokens: ") && out.contains("at most 2 alive at once"));

    let (code, out, _) = cli(&["mem", "--json", "--backend", "bumpalo", path], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backend"], "bumpalo");
    assert!(v["bumpalo_reserved_bytes"].as_u64().unwrap() > 0);

    let (code, out, _) = cli(&["mem", "--compare", "--json", path], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);

    let svg = std::env::temp_dir().join(format!("morph-mem-{}.svg", std::process::id()));
    let (code, out, _) = cli(
        &["mem", "--compare", "--svg", svg.to_str().unwrap(), path],
        b"",
    );
    assert_eq!(code, 0);
    assert!(out.contains("morph-arena"));
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(
        chart.matches("<rect").count(),
        2 + 4 * 2,
        "legend and two bars per backend"
    );
    std::fs::remove_file(svg).unwrap();
}

#[test]
fn cli_mem_reports_compile_errors_with_65() {
    let _serial = serial();
    let (code, out, err) = cli(&["mem", "-"], b"print ;");
    assert_eq!(code, 65);
    assert!(out.contains("compile footprint"));
    assert_eq!(err, "[line 1] Error at ';': Expect expression.\n");
    let (code, _, err) = cli(&["mem", "--slab-kib", "3", "-"], b"print 1;");
    assert_eq!(code, 65);
    assert!(
        err.contains("slab size 3072 must be a power of two"),
        "{err}"
    );
}
