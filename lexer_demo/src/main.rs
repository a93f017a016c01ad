//! `lexer_demo`: the Lox front end's command line. See [`lexer_demo::cli`].

use std::process::ExitCode;

/// Counts heap bytes for `lexer_demo mem`.
#[global_allocator]
static ALLOC: lexer_demo::counting::CountingAlloc = lexer_demo::counting::CountingAlloc;

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
