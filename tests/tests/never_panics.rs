//! Any input gives diagnostics and an exit code, never a panic or a crash.

use morph_tests::cli;
use proptest::prelude::*;

const LEXEMES: &[&str] = &[
    "(", ")", "{", "}", ",", ".", "-", "+", ";", "/", "*", "!", "!=", "=", "==", ">", ">=", "<",
    "<=", "x", "y", "init", "\"s\"", "\"open", "1", "2.5", "and", "class", "else", "false", "for",
    "fun", "if", "nil", "or", "print", "return", "super", "this", "true", "var", "while", "@",
    "\n", "// c\n",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(0..LEXEMES.len(), 0..200).prop_map(|ix| {
        ix.into_iter()
            .map(|i| LEXEMES[i])
            .collect::<Vec<_>>()
            .join(" ")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_ends_in_0_or_65(src in soup()) {
        for cmd in ["tokens", "parse", "check"] {
            let (code, _, _) = cli(&[cmd, "-"], src.as_bytes());
            prop_assert!(code == 0 || code == 65, "{cmd} gave {code} on {src:?}");
        }
    }

    #[test]
    fn any_text_ends_in_0_or_65(src in any::<String>()) {
        let (code, _, _) = cli(&["check", "-"], src.as_bytes());
        prop_assert!(code == 0 || code == 65);
    }

    #[test]
    fn any_bytes_end_in_0_65_or_66(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let (code, _, err) = cli(&["check", "-"], &bytes);
        let valid = std::str::from_utf8(&bytes).is_ok();
        if valid {
            prop_assert!(code == 0 || code == 65);
        } else {
            prop_assert_eq!(code, 66);
            prop_assert_eq!(err.lines().count(), 1);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 100_000;
    let cases = [
        format!("print {}1{};", "(".repeat(n), ")".repeat(n)),
        format!("{}{}", "{".repeat(n), "}".repeat(n)),
        format!("print {}1;", "-".repeat(n)),
        format!("print {};", vec!["1"; n].join(" + ")),
        format!("f{};", "()".repeat(n)),
        format!("a{};", ".b".repeat(n)),
        format!("{} 1;", "a = ".repeat(n)),
        format!("{}print 1;", "if (true) ".repeat(n)),
    ];
    for src in cases {
        let (code, out, err) = cli(&["check", "-"], src.as_bytes());
        assert_eq!(code, 65, "{}", &src[..40]);
        assert_eq!(out, "");
        assert!(err.contains("Too much nesting."), "{err}");
        assert_eq!(
            err.lines().count(),
            1,
            "one diagnostic, then parsing stops: {err}"
        );
    }
}

#[test]
fn empty_and_comment_only_programs_are_fine() {
    for src in ["", "// nothing\n", "\n\n\n"] {
        assert_eq!(cli(&["check", "-"], src.as_bytes()).0, 0);
        assert_eq!(
            cli(&["parse", "-"], src.as_bytes()),
            (0, String::new(), String::new())
        );
    }
}
