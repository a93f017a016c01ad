//! The `lexer_demo` command line: `tokens | parse | check | run | mem FILE`.
//!
//! Exit codes follow the Lox reference (BSD `sysexits`): 0 success, 64 usage,
//! 65 compile errors, 66 unreadable input, 70 runtime errors.

use crate::backend::BackendKind;
use crate::diagnostics::{Diagnostic, render_pretty};
use crate::frontend::{front_end, read_source};
use crate::lexer::TokenStream;
use crate::mem::{self, ClassTable, Options as MemOptions, gate, project};
use clap::{Args, Parser, Subcommand};
use morph_runtime::MorphContext;
use std::ffi::OsString;
use std::io::{Read, Write};

/// Success.
pub const EXIT_OK: u8 = 0;
/// A regression gate failed (`mem --baseline`).
pub const EXIT_REGRESSION: u8 = 1;
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
    about = "A Lox front end and engine on the morph memory runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct ParseArgs {
    /// The program; `-` reads standard input.
    file: String,
    /// Where AST nodes are allocated.
    #[arg(long, value_enum, default_value_t = BackendKind::Morph)]
    backend: BackendKind,
    /// Show each diagnostic with its source line and a marker (in colour
    /// when stderr is a terminal and NO_COLOR is not set).
    #[arg(long)]
    pretty: bool,
    /// After the work, print on stderr how many tokens were made and how
    /// many were alive at most.
    #[arg(long)]
    stats: bool,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The program (`-` reads standard input), or several files and
    /// directories: every `.lox` file under them is checked on a thread
    /// pool.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Where AST nodes are allocated.
    #[arg(long, value_enum, default_value_t = BackendKind::Morph)]
    backend: BackendKind,
    /// Show each diagnostic with its source line and a marker (one
    /// program).
    #[arg(long)]
    pretty: bool,
    /// After the work, print token figures (one program) or the files
    /// checked and the time (a project) on stderr.
    #[arg(long)]
    stats: bool,
    /// Worker threads for a project (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
}

#[derive(Args, Debug)]
struct MemArgs {
    /// The program (`-` reads standard input), or several files and
    /// directories: every `.lox` file under them is measured on a thread
    /// pool, and a table sorted by peak is printed.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Where AST nodes are allocated.
    #[arg(long, value_enum, default_value_t = BackendKind::Morph)]
    backend: BackendKind,
    /// The AST context's size classes.
    #[arg(long, value_enum, default_value_t = ClassTable::Tight)]
    classes: ClassTable,
    /// Slab size of the AST context in KiB (a power of two, 4 to 65536).
    #[arg(long, value_name = "KIB", default_value_t = 16)]
    slab_kib: usize,
    /// Run every backend on the program and print one table side by side.
    #[arg(long, conflicts_with = "baseline")]
    compare: bool,
    /// Print the report as JSON (a project: an array of reports).
    #[arg(long, conflicts_with = "baseline")]
    json: bool,
    /// Also write the timeline of live bytes, phases marked, as an SVG
    /// chart to FILE (one program).
    #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
    svg: Option<String>,
    /// Compare against a report saved with --json; exit 1 when a count
    /// grew, or bytes grew beyond the tolerance.
    #[arg(long, value_name = "FILE")]
    baseline: Option<String>,
    /// How much bytes may grow against the baseline.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value = "2%",
        requires = "baseline"
    )]
    tolerance: String,
    /// Worker threads for a project (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The program; `-` reads standard input.
    file: String,
    /// Where runtime objects are allocated: `morph` or `heap`.
    #[arg(long, value_enum, default_value_t = BackendKind::Morph)]
    backend: BackendKind,
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
    Parse(ParseArgs),
    /// Lex, parse and resolve; report diagnostics only.
    Check(CheckArgs),
    /// Check, then run the program.
    Run(RunArgs),
    /// Report the memory a compile took, phase by phase, and where it went.
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
        Command::Parse(a) => &a.file,
        Command::Run(a) => &a.file,
        Command::Check(a) if !is_project(&a.paths) => &a.paths[0],
        Command::Mem(a) if !is_project(&a.paths) => &a.paths[0],
        Command::Check(a) => return check_project(a, err),
        Command::Mem(a) => return mem_project(a, out, err),
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
        Command::Parse(a) => front_cmd(
            &source,
            a.backend,
            true,
            a.stats,
            (file, a.pretty),
            out,
            err,
        ),
        Command::Check(a) => front_cmd(
            &source,
            a.backend,
            false,
            a.stats,
            (file, a.pretty),
            out,
            err,
        ),
        Command::Mem(a) => mem_cmd(&source, file, a, out, err),
        Command::Run(a) => run_cmd(&source, a, err, out),
    }
}

/// Several paths, or one directory: a project.
fn is_project(paths: &[String]) -> bool {
    paths.len() > 1 || (paths[0] != "-" && std::path::Path::new(&paths[0]).is_dir())
}

fn shown(file: &str) -> &str {
    if file == "-" { "<stdin>" } else { file }
}

fn report(diagnostics: &[Diagnostic], source: &str, file: &str, pretty: bool, err: &mut dyn Write) {
    use std::io::IsTerminal;
    // Colour only for a person at a terminal, and never under NO_COLOR.
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    for d in diagnostics {
        let _ = if pretty {
            err.write_all(render_pretty(d, source, shown(file), color).as_bytes())
        } else {
            writeln!(err, "{d}")
        };
    }
}

/// `parse` (`dump`): the AST dump on stdout; `check`: lex, parse and
/// resolve, nothing on stdout. With compile errors: the diagnostics on
/// stderr, nothing on stdout, and 65.
fn front_cmd(
    source: &str,
    backend: BackendKind,
    dump: bool,
    stats: bool,
    (file, pretty): (&str, bool),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    match front_end(backend, source, dump) {
        Ok(r) => {
            if stats {
                let _ = writeln!(
                    err,
                    "tokens: {} made, at most {} alive at once, {} live now; AST backend: {}",
                    r.tokens_made,
                    r.peak_live_tokens,
                    r.live_tokens,
                    backend.name()
                );
            }
            if r.diagnostics.is_empty() {
                if let Some(text) = r.dump {
                    let _ = out.write_all(text.as_bytes());
                }
                EXIT_OK
            } else {
                report(&r.diagnostics, source, file, pretty, err);
                EXIT_DATAERR
            }
        }
        // A source too large to lex: input it cannot read, as in
        // `read_source` (which refuses it first).
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            EXIT_NOINPUT
        }
    }
}

fn mem_options(args: &MemArgs, backend: BackendKind, timeline: bool) -> MemOptions {
    MemOptions {
        backend,
        classes: args.classes,
        slab_size: args.slab_kib.saturating_mul(1024),
        timeline,
    }
}

/// `mem --baseline`: the gate's changes on stdout; 1 when it fails.
fn gate_cmd(
    reports: &[mem::Report],
    project: bool,
    args: &MemArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let Some(path) = &args.baseline else {
        return EXIT_OK;
    };
    let tolerance = match gate::parse_tolerance(&args.tolerance) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: --tolerance: {e}");
            return EXIT_USAGE;
        }
    };
    let base = match gate::load(std::path::Path::new(path)) {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            return EXIT_NOINPUT;
        }
    };
    let verdict = gate::compare_reports(&base, reports, project, tolerance);
    match verdict {
        Ok(g) => {
            let _ = out.write_all(g.render().as_bytes());
            if g.failed() == 0 {
                EXIT_OK
            } else {
                EXIT_REGRESSION
            }
        }
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            EXIT_DATAERR
        }
    }
}

/// `mem FILE`: the compile-footprint report (0, or 65 with the diagnostics
/// when the program has compile errors: the report is printed either way).
fn mem_cmd(
    source: &str,
    file: &str,
    args: &MemArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let backends: Vec<BackendKind> = if args.compare {
        BackendKind::ALL.to_vec()
    } else {
        vec![args.backend]
    };
    let mut reports = Vec::new();
    let mut diagnostics = Vec::new();
    for b in backends {
        match mem::measure(
            source,
            shown(file),
            mem_options(args, b, args.svg.is_some()),
        ) {
            Ok((r, d)) => {
                reports.push(r);
                diagnostics = d;
            }
            Err(e) => {
                let _ = writeln!(err, "lexer_demo: {e}");
                return EXIT_USAGE;
            }
        }
    }
    if args.baseline.is_some() {
        let code = gate_cmd(&reports, false, args, out, err);
        for d in &diagnostics {
            let _ = writeln!(err, "{d}");
        }
        return if code == EXIT_OK && !diagnostics.is_empty() {
            EXIT_DATAERR
        } else {
            code
        };
    }
    let text = if args.json {
        mem::to_json(&reports)
    } else if args.compare {
        format!(
            "compile footprint of {}, {} size classes, {} KiB slabs\n{}",
            shown(file),
            reports[0].size_classes,
            reports[0].slab_size / 1024,
            mem::text::compare_table(&reports)
        )
    } else {
        mem::text::render(&reports[0])
    };
    let _ = out.write_all(text.as_bytes());
    if let Some(path) = &args.svg {
        if let Err(e) = std::fs::write(path, mem::svg::timeline_chart(&reports, shown(file))) {
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

fn jobs(j: Option<u16>) -> usize {
    j.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    )
}

/// `mem DIR|FILE...`: every file on a thread pool; the table (or JSON, or
/// the gate). 65 when a file has compile errors, 66 when one cannot be read.
fn mem_project(args: &MemArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if args.compare || args.svg.is_some() || args.paths.iter().any(|p| p == "-") {
        let _ = writeln!(
            err,
            "lexer_demo: --compare, --svg and standard input take one program, not a project"
        );
        return EXIT_USAGE;
    }
    let options = mem_options(args, args.backend, false);
    if let Err(e) = mem::Contexts::new(options) {
        let _ = writeln!(err, "lexer_demo: {e}");
        return EXIT_USAGE;
    }
    let run = project::collect(&args.paths)
        .and_then(|files| project::measure_all(&files, options, jobs(args.jobs)));
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            return EXIT_NOINPUT;
        }
    };
    let reports = run.reports();
    let code = if args.baseline.is_some() {
        gate_cmd(&reports, true, args, out, err)
    } else {
        let text = if args.json {
            mem::to_json_array(&reports)
        } else {
            run.render()
        };
        let _ = out.write_all(text.as_bytes());
        EXIT_OK
    };
    let verdict = project_verdict(
        run.files.iter().map(|f| match &f.outcome {
            Ok((_, d)) => (f.file.as_str(), Ok(d.as_slice())),
            Err(e) => (f.file.as_str(), Err(e.as_str())),
        }),
        err,
    );
    // A failed gate (or bad usage) first; then unreadable files or errors.
    if code != EXIT_OK { code } else { verdict }
}

/// Each file's diagnostics on stderr, prefixed by its name; 66 when one
/// could not be read, else 65 when one has compile errors, else 0.
fn project_verdict<'a>(
    files: impl Iterator<Item = (&'a str, Result<&'a [Diagnostic], &'a str>)>,
    err: &mut dyn Write,
) -> u8 {
    let (mut unreadable, mut failing) = (false, false);
    for (file, outcome) in files {
        match outcome {
            Ok(d) => {
                failing |= !d.is_empty();
                for d in d {
                    let _ = writeln!(err, "{file}: {d}");
                }
            }
            Err(e) => {
                unreadable = true;
                let _ = writeln!(err, "lexer_demo: {e}");
            }
        }
    }
    if unreadable {
        EXIT_NOINPUT
    } else if failing {
        EXIT_DATAERR
    } else {
        EXIT_OK
    }
}

/// `check DIR|FILE...`: every file on a thread pool, diagnostics prefixed
/// by the file's name.
fn check_project(args: &CheckArgs, err: &mut dyn Write) -> u8 {
    if args.pretty || args.paths.iter().any(|p| p == "-") {
        let _ = writeln!(
            err,
            "lexer_demo: --pretty and standard input take one program, not a project"
        );
        return EXIT_USAGE;
    }
    let results = project::collect(&args.paths)
        .and_then(|f| project::check_all(&f, jobs(args.jobs), args.backend));
    let (results, wall) = match results {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "lexer_demo: {e}");
            return EXIT_NOINPUT;
        }
    };
    let code = project_verdict(
        results.iter().map(|(f, o)| match o {
            Ok(d) => (f.as_str(), Ok(d.as_slice())),
            Err(e) => (f.as_str(), Err(e.as_str())),
        }),
        err,
    );
    if args.stats {
        let failing = results
            .iter()
            .filter(|(_, o)| o.as_ref().is_ok_and(|d| !d.is_empty()))
            .count();
        let _ = writeln!(
            err,
            "checked {} files in {:.2} ms on {}, {failing} with errors",
            results.len(),
            wall.as_secs_f64() * 1000.0,
            project::workers(jobs(args.jobs))
        );
    }
    code
}

/// `run`: compile and run on the VM, the program's output buffered to
/// `out`. Compile errors: 65; a runtime error: its two lines on stderr, 70.
fn run_cmd(source: &str, args: &RunArgs, err: &mut dyn Write, out: &mut dyn Write) -> u8 {
    use crate::vm::{Backend, Options, run_source};
    let backend = match args.backend {
        BackendKind::Morph => Backend::Morph,
        BackendKind::Heap => Backend::Heap,
        other => {
            let _ = writeln!(
                err,
                "lexer_demo: run keeps objects in morph or heap, not {}",
                other.name()
            );
            return EXIT_USAGE;
        }
    };
    let options = Options {
        gc_stress: args.gc_stress,
        backend,
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
    use crate::lexer::MAX_SOURCE;

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
