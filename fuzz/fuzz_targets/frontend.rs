//! The front end on arbitrary bytes: the CLI's UTF-8 check, then lex, parse,
//! resolve and the AST dump with every backend. Nothing may panic, every
//! backend must give the same dump, and an error must mean exit code 65.
#![no_main]

use lexer_demo::backend::HeapBackend;
use lexer_demo::frontend::{compile, token_context};
use lexer_demo::printer::print_program;
use libfuzzer_sys::fuzz_target;
use morph_runtime::MorphContext;

fuzz_target!(|data: &[u8]| {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = data;
    let code = lexer_demo::cli::run(["lexer_demo", "check", "-"], &mut input, &mut out, &mut err);
    assert!(matches!(code, 0 | 65 | 66), "exit code {code}");
    assert_eq!(code == 66, std::str::from_utf8(data).is_err());

    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let tokens = token_context();
    let ctx = MorphContext::new();
    let morph = compile(src, &ctx, &tokens).expect("small input");
    let dump = print_program(&morph.program);
    let bump = bumpalo::Bump::new();
    let b = compile(src, &bump, &tokens).expect("small input");
    assert_eq!(print_program(&b.program), dump);
    let heap = HeapBackend::new();
    let h = compile(src, &heap, &tokens).expect("small input");
    assert_eq!(print_program(&h.program), dump);
    assert_eq!(morph.diagnostics, b.diagnostics);
    assert_eq!(morph.diagnostics.is_empty(), code == 0);
    assert!(ctx.violations().is_empty(), "{:?}", ctx.violations());
});
