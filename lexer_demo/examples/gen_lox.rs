//! Writes a generated Lox program to standard output:
//! `cargo run -p lexer_demo --example gen_lox -- LINES [SEED]`.
//! The 100- and 1,000-line programs are checked in under
//! `fixtures/generated/`; larger ones are made on demand.

// A size or offset cast to a narrower type must be checked, or carry a
// local `allow` with the reason it cannot truncate.
#![warn(clippy::cast_possible_truncation)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines = args.first().and_then(|a| a.parse::<usize>().ok());
    let seed = args.get(1).map_or(Some(1), |a| a.parse::<u64>().ok());
    match (lines, seed) {
        (Some(lines), Some(seed)) => {
            print!("{}", lexer_demo::generate::program(lines, seed));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: gen_lox LINES [SEED]");
            ExitCode::from(64)
        }
    }
}
