//! `lexer_demo`: the Lox front end's command line. See [`lexer_demo::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = lexer_demo::cli::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut stdout.lock(),
        &mut stderr.lock(),
    );
    ExitCode::from(code)
}
