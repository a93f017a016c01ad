//! Every backend gives the same AST dump and the same diagnostics, byte for
//! byte, on every fixture; tokens stay bounded whatever the file size.

use lexer_demo::backend::{Backend, HeapBackend};
use lexer_demo::frontend::compile;
use lexer_demo::parser::parse;
use lexer_demo::printer::print_program;
use morph_runtime::MorphContext;
use morph_tests::lox_files;

fn dump<B: Backend>(src: &str, backend: &B) -> (String, Vec<String>) {
    let tokens = MorphContext::new();
    let out = parse(src, backend, &tokens).unwrap();
    let diags = out.diagnostics.iter().map(|d| d.to_string()).collect();
    (print_program(&out.program), diags)
}

#[test]
fn all_backends_agree_on_every_fixture() {
    let mut checked = 0;
    for sub in ["pass", "fail", "generated"] {
        for path in lox_files(sub) {
            let src = std::fs::read_to_string(&path).unwrap();
            let morph = dump(&src, &MorphContext::new());
            let bump = dump(&src, &bumpalo::Bump::new());
            let heap = dump(&src, &HeapBackend::new());
            assert_eq!(morph, bump, "{}", path.display());
            assert_eq!(morph, heap, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 40);
}

#[test]
fn live_tokens_stay_bounded_on_the_largest_fixture() {
    let src =
        std::fs::read_to_string(morph_tests::fixtures().join("generated/lines_1000.lox")).unwrap();
    let (ast, tokens) = (MorphContext::new(), MorphContext::new());
    let c = compile(&src, &ast, &tokens).unwrap();
    assert!(c.diagnostics.is_empty());
    let t = tokens.stats();
    assert!(c.tokens_made > 5_000);
    assert_eq!(t.live_objects, 0, "every token was freed");
    assert_eq!(
        t.classes[1].stats.peak_carved, 2,
        "the current token and the next"
    );
    assert_eq!(t.classes[1].stats.reuses, c.tokens_made - 2);
    assert_eq!(t.pools.slabs, 1);
}

#[test]
fn heap_backend_makes_one_allocation_per_node() {
    let heap = HeapBackend::new();
    let tokens = MorphContext::new();
    let out = parse("print 1 + 2;", &heap, &tokens).unwrap();
    assert!(out.diagnostics.is_empty());
    // Three expressions (1, 2, +) and the statement list.
    assert_eq!(heap.allocations(), 4);
}
