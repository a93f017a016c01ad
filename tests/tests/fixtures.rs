//! Every passing fixture lexes cleanly with its tokens freed as it goes.

use lexer_demo::lexer::TokenStream;
use lexer_demo::token::TokenKind;
use morph_runtime::MorphContext;
use morph_tests::lox_files;

#[test]
fn pass_fixtures_lex_cleanly_with_bounded_live_tokens() {
    let files = lox_files("pass");
    assert!(files.len() >= 2, "fixtures/pass has programs");
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let ctx = MorphContext::new();
        let mut stream = TokenStream::new(&source, &ctx).unwrap();
        let mut count = 0;
        loop {
            let t = stream.next_token().unwrap();
            count += 1;
            if t.kind == TokenKind::Eof {
                break;
            }
        }
        assert!(
            stream.diagnostics.is_empty(),
            "{}: {:?}",
            path.display(),
            stream.diagnostics
        );
        let s = ctx.stats();
        assert_eq!(s.live_objects, 0, "{}", path.display());
        assert_eq!(
            s.classes[1].stats.allocations, count,
            "every token went through the pool"
        );
        assert_eq!(
            s.classes[1].stats.peak_carved, 1,
            "one token alive at a time"
        );
    }
}

#[test]
fn cli_dumps_tokens_of_a_fixture() {
    let path = morph_tests::fixtures().join("pass/hello.lox");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = ["lexer_demo".into(), "tokens".into(), path.into_os_string()];
    let code = lexer_demo::cli::run(args, &mut std::io::empty(), &mut out, &mut err);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert!(
        out.starts_with("PRINT print 2\nSTRING \"Hello, morph!\" 2\nSEMICOLON ; 2\n"),
        "{out}"
    );
    assert!(out.ends_with("EOF  6\n"), "{out}");
}
