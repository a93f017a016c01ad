//! The lean `lox` binary: the program's output on stdout, diagnostics and
//! runtime errors on stderr, and LOX.md's exit codes.

use std::process::Command;

fn lox(args: &[&str], source: Option<&str>) -> (i32, String, String) {
    let dir = std::env::temp_dir();
    let mut paths = Vec::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lox"));
    if let Some(src) = source {
        let p = dir.join(format!("lox_bin_{}_{}.lox", std::process::id(), src.len()));
        std::fs::write(&p, src).unwrap();
        cmd.arg(&p);
        paths.push(p);
    }
    cmd.args(args);
    let o = cmd.output().unwrap();
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn runs_a_program_and_gives_lox_md_exit_codes() {
    assert_eq!(
        lox(&[], Some("print 1 + 2;\nprint \"a\" + \"b\";")),
        (0, "3\nab\n".into(), String::new())
    );
    assert_eq!(
        lox(&[], Some("print 1;\nprint -nil;")),
        (
            70,
            "1\n".into(),
            "Operand must be a number.\n[line 2]\n".into()
        )
    );
    let (code, out, err) = lox(&[], Some("print 1 +;"));
    assert_eq!((code, out.as_str()), (65, ""));
    assert_eq!(err, "[line 1] Error at ';': Expect expression.\n");
    let (code, _, err) = lox(&[], None);
    assert_eq!((code, err.as_str()), (64, "Usage: lox FILE\n"));
    let (code, _, err) = lox(&["/nonexistent/x.lox"], None);
    assert_eq!(code, 66);
    assert!(
        err.starts_with("lox: cannot read '/nonexistent/x.lox'"),
        "{err}"
    );
}
