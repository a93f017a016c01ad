//! The `lexer_demo` command line: `tokens | parse | check | run | mem FILE`.
//!
//! Exit codes follow the Lox reference (BSD `sysexits`): 0 success, 64 usage,
//! 65 compile errors, 66 unreadable input, 70 runtime errors.

use crate::backend::{Backend, HeapBackend};
use crate::diagnostics::{Diagnostic, render_pretty};
use crate::frontend::compile;
use crate::lexer::{MAX_SOURCE, TokenStream, check_source_len};
use crate::mem::{MemBackend, compare_table, measure_with, render, svg_chart};
use crate::parser::parse;
use crate::printer::print_program;
use clap::{Args, Parser, Subcommand, ValueEnum};
use morph_runtime::MorphContext;
use std::ffi::OsString;
use std::io::{Read, Write};

/// Success.
pub const EXIT_OK: u8 = 0;
/// Bad command line.
pub const EXIT_USAGE: u8 = 64;
/// The program has compile errors.
pub const EXIT_DATAERR: u8 = 65;
/// The input could not be read or is not UTF-8.
pub const EXIT_NOINPUT: u8 = 66;
/// A runtime error.
pub const EXIT_SOFTWARE: u8 = 70;

#[derive(Parser, Debug)]
#[command(
    name = "lexer_demo",
    version,
    about = "A Lox front end on the morph memory runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the parser puts AST nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A MorphContext: headers, size-class pools (the default).
    Morph,
    /// A bumpalo arena.
    Bumpalo,
    /// One system allocation per node.
    Heap,
}

#[derive(Args, Debug)]
struct FrontArgs {
    /// The program; `-` reads standard input.
    file: String,
    /// Where AST nodes are allocated.
    #[arg(long, value_enum, default_value_t = BackendChoice::Morph)]
    backend: BackendChoice,
    /// Show each diagnostic with its source line and a marker (in colour
    /// when stderr is a terminal and NO_COLOR is not set).
    #[arg(long)]
    pretty: bool,
    /// After the work, print on stderr how many tokens were made, how many
    /// were alive at most, and the AST's memory in the backend.
    #[arg(long)]
    stats: bool,
}

#[derive(Args, Debug)]
struct MemArgs {
    /// The program; `-` reads standard input.
    file: String,
    /// Where AST nodes are allocated.
    #[arg(long, value_enum, default_value_t = MemBackend::Morph)]
    backend: MemBackend,
    /// Use the finer size-class table (steps of 16 to 128, then 32).
    #[arg(long)]
    fine: bool,
    /// Slab size of the morph backend in KiB (a power of two, 4 to 65536).
    #[arg(long, value_name = "KIB", default_value_t = 64)]
    slab_kib: usize,
    /// Run every backend on the file and print one table side by side.
    #[arg(long)]
    compare: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write a bar chart of the heap peak (payload and overhead) to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The program; `-` reads standard input.
    file: String,
    /// Where runtime objects are allocated.
    #[arg(long, value_enum, default_value_t = crate::vm::Backend::Morph)]
    backend: crate::vm::Backend,
    /// Collect garbage before every allocation (slow; for testing the
    /// collector: the output must not change).
    #[arg(long)]
    gc_stress: bool,
    /// After the run, print on stderr what the collector and the heap did.
    #[arg(long)]
    stats: bool,
    /// With --stats: print them as one JSON object instead.
    #[arg(long, requires = "stats")]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print one token a line: kind, lexeme, line.
    Tokens {
        /// The program; `-` reads standard input.
        file: String,
    },
    /// Print the AST as S-expressions.
    Parse(FrontArgs),
    /// Lex, parse and resolve; report diagnostics only.
    Check(FrontArgs),
    /// Check, then run the program.
    Run(RunArgs),
    /// Report the memory a compile took, and where it went.
    Mem(MemArgs),
}

/// Runs the command line `args` (program name first) with the given
/// standard streams and returns the exit code.
///
/// ```
/// use lexer_demo::cli::run;
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let code = run(["lexer_demo", "tokens", "-"], &mut "var x;".as_bytes(), &mut out, &mut err);
/// assert_eq!(code, 0);
/// assert_eq!(String::from_utf8(out).unwrap(), "VAR var 1\nIDENTIFIER x 1\nSEMICOLON ; 1\nEOF  1\n");
/// ```
pub fn run<I, T>(args: I, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    let file = match &cli.command {
        Command::Tokens { file } => file,
        Command::Parse(a) | Command::Check(a) => &a.file,
        Command::Run(a) => &a.file,
        Command::Mem(a) => &a.file,
    };
    let source = match read_source(file, stdin) {
        Ok(s) => s,
        Err(message) => {
            let _ = writeln!(err, "lexer_demo: {message}");
            return EXIT_NOINPUT;
        }
    };
    match &cli.command {
        Command::Tokens { .. } => tokens(&source, out, err),
        Command::Parse(a) => with_backend(a.backend, |b| front_cmd(b, &source, a, true, out, err)),
        Command::Check(a) => with_backend(a.backend, |b| front_cmd(b, &source, a, false, out, err)),
        Command::Mem(a) => mem_cmd(&source, a, out, err),
        Command::Run(a) => run_cmd(&source, a, out, err),
    }
}

/// Calls `f` with a fresh backend of the chosen kind.
fn with_backend(choice: BackendChoice, f: impl FnOnce(&dyn DynFront) -> u8) -> u8 {
    match choice {
        BackendChoice::Morph => f(&MorphContext::new()),
        BackendChoice::Bumpalo => f(&bumpalo::Bump::new()),
        BackendChoice::Heap => f(&HeapBackend::new()),
    }
}

/// The front-end commands, for any backend (an object-safe wrapper around
/// the generic functions).
trait DynFront {
    /// `parse` (`Some(dump)`, no resolver) or `check` (lex, parse, resolve;
    /// `None`), with the diagnostics.
    fn front(
        &self,
        source: &str,
        tokens: &MorphContext,
        dump: bool,
    ) -> Result<(Option<String>, Vec<Diagnostic>), String>;
    fn backend_name(&self) -> &'static str;
}

impl<B: Backend> DynFront for B {
    fn front(
        &self,
        source: &str,
        tokens: &MorphContext,
        dump: bool,
    ) -> Result<(Option<String>, Vec<Diagnostic>), String> {
        if dump {
            let out = parse(source, self, tokens).map_err(|e| e.to_string())?;
            Ok((Some(print_program(&out.program)), out.diagnostics))
        } else {
            let c = compile(source, self, tokens).map_err(|e| e.to_string())?;
            Ok((None, c.diagnostics))
        }
    }

    fn backend_name(&self) -> &'static str {
        self.name()
    }
}

/// `--stats`: tokens made and alive at most (from the token context).
fn token_stats(backend: &dyn DynFront, tokens: &MorphContext, err: &mut dyn Write) {
    let s = tokens.stats();
    let made: u64 = s.classes.iter().map(|c| c.stats.allocations).sum();
    let peak: usize = s.classes.iter().map(|c| c.stats.peak_carved).sum();
    let _ = writeln!(
        err,
        "tokens: {made} made, at most {peak} alive at once, {} live now; AST backend: {}",
        s.live_objects,
        backend.backend_name()
    );
}

fn report(diagnostics: &[Diagnostic], source: &str, args: &FrontArgs, err: &mut dyn Write) {
    use std::io::IsTerminal;
    // Colour only for a person at a terminal, and never under NO_COLOR.
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    let name = if args.file == "-" {
        "<stdin>"
    } else {
        &args.file
    };
    for d in diagnostics {
        let _ = if args.pretty {
            err.write_all(render_pretty(d, source, name, color).as_bytes())
        } else {
            writeln!(err, "{d}")
        };
    }
}

/// `parse` (`dump`): the AST dump on stdout; `check`: lex, parse and
/// resolve, nothing on stdout. With compile errors: the diagnostics on
/// stderr, nothing on stdout, and 65.
fn front_cmd(
    backend: &dyn DynFront,
    source: &str,
    args: &FrontArgs,
    dump: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let tokens = crate::frontend::token_context();
    let result = backend.front(source, &tokens, dump);
    if args.stats {
        token_stats(backend, &tokens, err);
    }
    match result {
        Ok((text, diagnostics)) if diagnostics.is_empty() => {
            if let Some(text) = text {
                let _ = out.write_all(text.as_bytes());
            }
            EXIT_OK
        }
        Ok((_, diagnostics)) => {
            report(&diagnostics, source, args, err);
            EXIT_DATAERR
        }
        // A source too large to lex: input it cannot read, as in
        // `read_source` (which refuses it first).
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            EXIT_NOINPUT
        }
    }
}

/// `mem`: the compile-footprint report (0, or 65 with the diagnostics when
/// the program has compile errors: the report is printed either way).
fn mem_cmd(source: &str, args: &MemArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let backends: Vec<MemBackend> = if args.compare {
        MemBackend::ALL.to_vec()
    } else {
        vec![args.backend]
    };
    let mut reports = Vec::new();
    let mut diagnostics = Vec::new();
    for b in backends {
        match measure_with(source, b, args.fine, args.slab_kib.saturating_mul(1024)) {
            Ok((r, d)) => {
                reports.push(r);
                diagnostics = d;
            }
            Err(e) => {
                let _ = writeln!(err, "lexer_demo: {e}");
                return EXIT_DATAERR;
            }
        }
    }
    let name = if args.file == "-" {
        "<stdin>"
    } else {
        &args.file
    };
    let text = if args.json {
        let value = if args.compare {
            serde_json::to_string_pretty(&reports)
        } else {
            serde_json::to_string_pretty(&reports[0])
        };
        value.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
    } else if args.compare {
        format!(
            "compile footprint of {name}, {} size classes, {} KiB slabs\n{}",
            reports[0].size_classes,
            reports[0].slab_size / 1024,
            compare_table(&reports)
        )
    } else {
        render(&reports[0], name)
    };
    let _ = out.write_all(text.as_bytes());
    if let Some(path) = &args.svg {
        if let Err(e) = std::fs::write(path, svg_chart(&reports, name)) {
            let _ = writeln!(err, "lexer_demo: cannot write '{path}': {e}");
            return EXIT_NOINPUT;
        }
    }
    for d in &diagnostics {
        let _ = writeln!(err, "{d}");
    }
    if diagnostics.is_empty() {
        EXIT_OK
    } else {
        EXIT_DATAERR
    }
}

/// `run`: compile and run on the VM, the program's output buffered to
/// `out`. Compile errors: 65; a runtime error: its two lines on stderr, 70.
fn run_cmd(source: &str, args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    use crate::vm::{Options, run_source};
    let options = Options {
        gc_stress: args.gc_stress,
        backend: args.backend,
        ..Options::default()
    };
    let window = crate::counting::open();
    let mut buffered = std::io::BufWriter::with_capacity(1 << 13, out);
    let r = run_source(source, &options, &mut buffered);
    let _ = buffered.flush();
    for d in &r.diagnostics {
        let _ = writeln!(err, "{d}");
    }
    if !r.diagnostics.is_empty() {
        return EXIT_DATAERR;
    }
    if let Some(e) = &r.error {
        let _ = writeln!(err, "{e}");
    }
    if args.stats {
        let peak = crate::counting::installed().then(|| window.peak_bytes());
        let _ = if args.json {
            writeln!(err, "{}", r.stats_json(peak))
        } else {
            err.write_all(r.render_stats(peak).as_bytes())
        };
    }
    if r.error.is_some() {
        EXIT_SOFTWARE
    } else {
        EXIT_OK
    }
}

/// Reads the program: a file, or standard input for `-`. The error is one
/// line naming the input and the reason. A program longer than
/// [`MAX_SOURCE`] bytes (spans are 32-bit offsets) is refused here, as input
/// the front end cannot read: a file by its size, before reading it;
/// standard input once one byte more than the limit has come.
fn read_source(file: &str, stdin: &mut dyn Read) -> Result<String, String> {
    let (bytes, shown) = if file == "-" {
        let mut bytes = Vec::new();
        stdin
            .take(MAX_SOURCE as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        (bytes, "standard input".to_string())
    } else {
        let cannot = |e: std::io::Error| format!("cannot read '{file}': {e}");
        let len = std::fs::metadata(file).map_err(cannot)?.len();
        let fits = usize::try_from(len).is_ok_and(|len| check_source_len(len).is_ok());
        if !fits {
            return Err(too_large(&format!("'{file}'")));
        }
        let bytes = std::fs::read(file).map_err(cannot)?;
        (bytes, format!("'{file}'"))
    };
    // Standard input, or a file that grew since its size was read.
    if check_source_len(bytes.len()).is_err() {
        return Err(too_large(&shown));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{shown} is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn too_large(shown: &str) -> String {
    format!("{shown} is too large (the limit is {MAX_SOURCE} bytes)")
}

/// `tokens`: one token a line, `KIND LEXEME LINE`, with newlines, tabs, carriage
/// returns and backslashes in the lexeme escaped so each token stays on one
/// line. Each token is allocated in a context and freed once printed.
fn tokens(source: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let ctx = MorphContext::new();
    let mut stream = match TokenStream::new(source, &ctx) {
        Ok(s) => s,
        // Too large to lex: as in `front_cmd`.
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            return EXIT_NOINPUT;
        }
    };
    let mut text = String::new();
    loop {
        let token = match stream.next_token() {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(err, "lexer_demo: out of memory: {e}");
                return EXIT_SOFTWARE;
            }
        };
        let lexeme = escape(token.lexeme(source));
        let line = stream.lines().line_of_token(&token);
        text.push_str(&format!("{} {lexeme} {line}\n", token.kind));
        if token.kind == crate::token::TokenKind::Eof {
            break;
        }
    }
    let _ = out.write_all(text.as_bytes());
    for d in &stream.diagnostics {
        let _ = writeln!(err, "{d}");
    }
    if stream.diagnostics.is_empty() {
        EXIT_OK
    } else {
        EXIT_DATAERR
    }
}

fn escape(lexeme: &str) -> std::borrow::Cow<'_, str> {
    if !lexeme.contains(['\n', '\r', '\t', '\\']) {
        return lexeme.into();
    }
    let mut s = String::with_capacity(lexeme.len() + 4);
    for c in lexeme.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(args: &[&str], input: &[u8]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut stdin = input;
        let code = run(args.iter().copied(), &mut stdin, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn lexical_errors_exit_65_after_the_dump() {
        let (code, out, err) = run_with(&["lexer_demo", "tokens", "-"], b"a\n@\"x\ny");
        assert_eq!(code, EXIT_DATAERR);
        assert_eq!(out, "IDENTIFIER a 1\nEOF  3\n");
        assert_eq!(
            err,
            "[line 2] Error: Unexpected character.\n[line 3] Error: Unterminated string.\n"
        );
    }

    #[test]
    fn unreadable_input_exits_66_with_one_line() {
        let (code, _, err) = run_with(&["lexer_demo", "tokens", "/no/such/file.lox"], b"");
        assert_eq!(code, EXIT_NOINPUT);
        assert!(
            err.starts_with("lexer_demo: cannot read '/no/such/file.lox': "),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        let (code, _, err) = run_with(&["lexer_demo", "tokens", "-"], b"ok \xff");
        assert_eq!(code, EXIT_NOINPUT);
        assert_eq!(
            err,
            "lexer_demo: standard input is not valid UTF-8 (invalid byte at offset 3)\n"
        );
    }

    #[test]
    fn a_source_too_large_for_32_bit_offsets_exits_66_with_one_line() {
        /// Removes the file when the test ends, passed or not.
        struct Remove(std::path::PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        // A sparse file one byte over the limit: its size is refused before
        // anything is read, so the test takes neither the memory nor the
        // disk space.
        let path = std::env::temp_dir().join(format!("too_large_{}.lox", std::process::id()));
        let file = Remove(path.clone());
        std::fs::File::create(&file.0)
            .and_then(|f| f.set_len(MAX_SOURCE as u64 + 1))
            .unwrap();
        let p = path.to_str().unwrap();
        for cmd in ["tokens", "parse", "check", "run", "mem"] {
            let (code, out, err) = run_with(&["lexer_demo", cmd, p], b"");
            assert_eq!((code, out.as_str()), (EXIT_NOINPUT, ""), "{cmd}: {err}");
            assert_eq!(
                err,
                format!("lexer_demo: '{p}' is too large (the limit is 4294967294 bytes)\n"),
                "{cmd}"
            );
        }
    }

    #[test]
    fn usage_errors_exit_64() {
        let (code, _, err) = run_with(&["lexer_demo", "frobnicate"], b"");
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("frobnicate"));
        let (code, out, _) = run_with(&["lexer_demo", "--help"], b"");
        assert_eq!(code, EXIT_OK);
        assert!(out.contains("tokens"));
    }

    #[test]
    fn stats_report_bounded_live_tokens() {
        let src = "var a = 1;\n".repeat(500);
        let (code, out, err) = run_with(&["lexer_demo", "check", "--stats", "-"], src.as_bytes());
        assert_eq!((code, out.as_str()), (EXIT_OK, ""));
        assert_eq!(
            err,
            "tokens: 2501 made, at most 2 alive at once, 0 live now; AST backend: morph\n"
        );
    }

    #[test]
    fn every_backend_parses_alike() {
        let src = b"class A < B { m(x) { return super.m(x) + this.y; } }";
        let dumps: Vec<_> = ["morph", "bumpalo", "heap"]
            .iter()
            .map(|b| run_with(&["lexer_demo", "parse", "--backend", b, "-"], src))
            .collect();
        assert_eq!(dumps[0].0, EXIT_OK);
        assert!(dumps.iter().all(|d| d == &dumps[0]));
    }

    #[test]
    fn pretty_diagnostics_show_the_line() {
        let (code, _, err) = run_with(&["lexer_demo", "check", "--pretty", "-"], b"var 1;");
        assert_eq!(code, EXIT_DATAERR);
        // Drop any ANSI colour sequences (present when stderr is a terminal).
        let mut plain = String::new();
        let mut chars = err.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                chars.by_ref().find(|&c| c == 'm');
            } else {
                plain.push(c);
            }
        }
        assert!(plain.starts_with("[line 1] Error at '1': Expect variable name.\n"));
        assert!(plain.contains(" 1 | var 1;"), "{plain}");
        assert!(plain.contains("`-- Expect variable name."), "{plain}");
    }

    #[test]
    fn escapes_keep_one_token_a_line() {
        let (code, out, _) = run_with(&["lexer_demo", "tokens", "-"], b"\"a\\b\n\tc\"");
        assert_eq!(code, EXIT_OK);
        assert_eq!(out, "STRING \"a\\\\b\\n\\tc\" 2\nEOF  2\n");
    }
}
