//! `lexer_demo`: the Lox front end's command line. See [`lexer_demo::cli`].

// A size or offset cast to a narrower type must be checked, or carry a
// local `allow` with the reason it cannot truncate.
#![warn(clippy::cast_possible_truncation)]

use std::process::ExitCode;

/// Counts heap bytes for `lexer_demo mem`.
#[global_allocator]
static ALLOC: lexer_demo::counting::CountingAlloc = lexer_demo::counting::CountingAlloc;

fn main() -> ExitCode {
    lexer_demo::counting::observe_slabs();
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
