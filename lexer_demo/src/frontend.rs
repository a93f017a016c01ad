//! The whole front end in one call: lex, parse, and (after a clean parse)
//! resolve.

use crate::ast::Program;
use crate::backend::{Backend, BackendKind, HeapBackend};
use crate::diagnostics::Diagnostic;
use crate::lexer::{MAX_SOURCE, SourceTooLarge, check_source_len};
use crate::parser::parse;
use crate::resolver::{Resolution, resolve};
use morph_runtime::MorphContext;
use std::io::Read;

/// A context for tokens: the parser keeps at most two alive, so one small
/// slab is all it ever needs (4 KiB rather than the default 64).
///
/// ```
/// let tokens = lexer_demo::frontend::token_context();
/// assert_eq!(tokens.config().slab_size(), 4096);
/// ```
pub fn token_context() -> MorphContext {
    morph_runtime::Config::compiler()
        .with_slab_size(4096)
        .build()
        .expect("a 4 KiB slab is a valid configuration")
}

/// The configuration of the context AST nodes go in: the runtime's
/// `compiler` preset (tight size classes), with two changes.
///
/// - **16 KiB slabs.** A compile fills about eight size classes, one of
///   them (48 bytes: the expression nodes) with most of the AST; each other
///   class holds one slab it barely carves. With 64 KiB slabs that empty
///   space was a fifth of a 10,000-line program's peak; with 16 KiB it is
///   at most 128 KiB, for a few dozen more slab requests per megabyte.
/// - **Large nodes** (lists of more than 31 statements) are freed one by
///   one rather than bumped in an arena, so that a context reset between
///   files holds nothing a fresh one would not, and a heap walk sees every
///   node.
///
/// ```
/// let ctx = lexer_demo::frontend::ast_config().build().unwrap();
/// ctx.alloc_slice_copy(&[0u64; 64]);
/// assert_eq!(ctx.stats().large.live_objects, 1);
/// assert_eq!(ctx.config().slab_size(), 16 * 1024);
/// ```
pub fn ast_config() -> morph_runtime::Config {
    morph_runtime::Config::compiler()
        .with_slab_size(16 * 1024)
        .with_large_objects(morph_runtime::LargeObjects::Freeable)
}

/// A context for AST nodes, of [`ast_config`].
///
/// ```
/// let ctx = lexer_demo::frontend::ast_context();
/// assert_eq!(ctx.config(), &lexer_demo::frontend::ast_config());
/// ```
pub fn ast_context() -> MorphContext {
    MorphContext::with_config(ast_config()).expect("the compiler preset is a valid configuration")
}

/// What compiling a source produced.
pub struct Compiled<'a> {
    /// The program (partial if there were parse errors).
    pub program: Program<'a>,
    /// Scope distances, present when the parse was clean.
    pub resolution: Option<Resolution>,
    /// Every compile error: lexical, then syntactic, or else static.
    pub diagnostics: Vec<Diagnostic>,
    /// Tokens allocated while parsing.
    pub tokens_made: u64,
}

/// Lexes and parses `source` into `backend` (tokens in `token_ctx`), then
/// resolves it if no error was found.
///
/// ```
/// use lexer_demo::frontend::compile;
/// let ctx = morph_runtime::MorphContext::new();
/// let c = compile("var a = 1; { var a = a; }", &ctx, &ctx).unwrap();
/// assert_eq!(c.diagnostics[0].to_string(),
///            "[line 1] Error at 'a': Can't read local variable in its own initializer.");
/// ```
pub fn compile<'a, B: Backend>(
    source: &'a str,
    backend: &'a B,
    token_ctx: &MorphContext,
) -> Result<Compiled<'a>, SourceTooLarge> {
    let parsed = parse(source, backend, token_ctx)?;
    let mut diagnostics = parsed.diagnostics;
    let resolution = if diagnostics.is_empty() {
        let (res, errors) = resolve(&parsed.program, source);
        diagnostics = errors;
        Some(res)
    } else {
        None
    };
    Ok(Compiled {
        program: parsed.program,
        resolution,
        diagnostics,
        tokens_made: parsed.tokens_made,
    })
}

/// What [`front_end`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontEnd {
    /// The AST dump (when asked for).
    pub dump: Option<String>,
    /// Every compile error.
    pub diagnostics: Vec<Diagnostic>,
    /// Tokens made.
    pub tokens_made: u64,
    /// Most tokens alive at once.
    pub peak_live_tokens: usize,
    /// Tokens still alive at the end (0: each is freed once read).
    pub live_tokens: usize,
}

/// `parse` (`dump`: the S-expression dump, no resolver) or `check` (lex,
/// parse and resolve) of `source` with AST nodes in a fresh backend of
/// `kind`. An error for a source too large to lex.
///
/// ```
/// use lexer_demo::backend::BackendKind;
/// use lexer_demo::frontend::front_end;
/// let r = front_end(BackendKind::Bumpalo, "print 1;", true).unwrap();
/// assert_eq!(r.dump.as_deref(), Some("(print 1.0)\n"));
/// assert_eq!((r.tokens_made, r.live_tokens), (4, 0));
/// let r = front_end(BackendKind::Morph, "return 1;", false).unwrap();
/// assert_eq!(r.diagnostics.len(), 1);
/// ```
pub fn front_end(kind: BackendKind, source: &str, dump: bool) -> Result<FrontEnd, String> {
    fn go<B: Backend>(ast: &B, source: &str, dump: bool) -> Result<FrontEnd, String> {
        let tokens = token_context();
        let (text, diagnostics, made) = if dump {
            let out = parse(source, ast, &tokens).map_err(|e| e.to_string())?;
            let text = crate::printer::print_program(&out.program);
            (Some(text), out.diagnostics, out.tokens_made)
        } else {
            let c = compile(source, ast, &tokens).map_err(|e| e.to_string())?;
            (None, c.diagnostics, c.tokens_made)
        };
        let s = tokens.stats();
        Ok(FrontEnd {
            dump: text,
            diagnostics,
            tokens_made: made,
            peak_live_tokens: s.classes.iter().map(|c| c.stats.peak_carved).sum(),
            live_tokens: s.live_objects,
        })
    }
    match kind {
        BackendKind::Morph => go(&ast_context(), source, dump),
        BackendKind::MorphArena => {
            let ctx = morph_runtime::Config::arena_only()
                .build()
                .map_err(|e| e.to_string())?;
            go(&ctx, source, dump)
        }
        BackendKind::Bumpalo => go(&bumpalo::Bump::new(), source, dump),
        BackendKind::Heap => go(&HeapBackend::new(), source, dump),
    }
}

/// Reads a program: a file, or `stdin` for `-`. The error is one line
/// naming the input and the reason. A program longer than [`MAX_SOURCE`]
/// bytes (spans are 32-bit offsets) is refused as input the front end
/// cannot read: a file by its size, before reading it; standard input once
/// one byte more than the limit has come.
///
/// ```
/// let err = lexer_demo::frontend::read_source("/no/such.lox", &mut std::io::empty()).unwrap_err();
/// assert!(err.starts_with("cannot read '/no/such.lox': "));
/// let s = lexer_demo::frontend::read_source("-", &mut "print 1;".as_bytes()).unwrap();
/// assert_eq!(s, "print 1;");
/// ```
pub fn read_source(file: &str, stdin: &mut dyn Read) -> Result<String, String> {
    let (bytes, shown) = if file == "-" {
        let mut bytes = Vec::new();
        stdin
            .take(MAX_SOURCE as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        (bytes, "standard input".to_string())
    } else {
        return read_path(std::path::Path::new(file));
    };
    decode(bytes, &shown)
}

/// Reads the program at `path` (whatever bytes its name holds), as
/// [`read_source`] reads a file.
///
/// ```
/// let err = lexer_demo::frontend::read_path("/no/such.lox".as_ref()).unwrap_err();
/// assert!(err.starts_with("cannot read '/no/such.lox': "));
/// ```
pub fn read_path(path: &std::path::Path) -> Result<String, String> {
    let file = path.display();
    let cannot = |e: std::io::Error| format!("cannot read '{file}': {e}");
    let len = std::fs::metadata(path).map_err(cannot)?.len();
    let fits = usize::try_from(len).is_ok_and(|len| check_source_len(len).is_ok());
    if !fits {
        return Err(too_large(&format!("'{file}'")));
    }
    let bytes = std::fs::read(path).map_err(cannot)?;
    decode(bytes, &format!("'{file}'"))
}

/// The bytes as UTF-8 within the size limit, or why not.
fn decode(bytes: Vec<u8>, shown: &str) -> Result<String, String> {
    // Standard input, or a file that grew since its size was read.
    if check_source_len(bytes.len()).is_err() {
        return Err(too_large(shown));
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
