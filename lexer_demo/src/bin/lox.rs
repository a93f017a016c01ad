//! `lox FILE`: runs a Lox program on the VM and nothing else, as lean as
//! the engine allows (no report, no argument parser: the smallest process
//! that hosts the runtime). `lexer_demo run` is the same engine with
//! options and statistics.
//!
//! Exit codes as LOX.md: 64 for usage, 65 for compile errors, 66 for an
//! unreadable file, 70 for a runtime error.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path] = args.as_slice() else {
        eprintln!("Usage: lox FILE");
        return ExitCode::from(64);
    };
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lox: cannot read '{path}': {e}");
            return ExitCode::from(66);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 13, stdout.lock());
    let r = lexer_demo::vm::run_source(&source, &lexer_demo::vm::Options::default(), &mut out);
    let _ = out.flush();
    let mut err = std::io::stderr().lock();
    for d in &r.diagnostics {
        let _ = writeln!(err, "{d}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(err, "{e}");
    }
    ExitCode::from(r.exit_code())
}
