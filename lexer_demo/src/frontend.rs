//! The whole front end in one call: lex, parse, and (after a clean parse)
//! resolve.

use crate::ast::Program;
use crate::backend::Backend;
use crate::diagnostics::Diagnostic;
use crate::lexer::SourceTooLarge;
use crate::parser::parse;
use crate::resolver::{Resolution, resolve};
use morph_runtime::MorphContext;

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
    /// AST nodes placed, by kind.
    pub nodes: crate::ast::NodeTally,
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
        nodes: parsed.nodes,
    })
}
