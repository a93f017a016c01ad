//! A Lox front end whose tokens and AST nodes are allocated through
//! [`morph_runtime::MorphContext`] (or, for comparison, bumpalo or the
//! system heap).
//!
//! - [`token`]: the logos token enum, 12-byte tokens, line numbers from a
//!   line-start table.
//! - [`lexer`]: a lexer that goes on after errors, and a stream that
//!   allocates each token in a context and frees it once consumed.
//! - [`ast`]: `Copy` nodes whose children are references into the backend
//!   and whose names are slices of the source.
//! - [`backend`]: the allocation trait the parser is generic over.
//! - [`parser`]: recursive descent with the exact diagnostics, panic-mode
//!   recovery and a nesting limit.
//! - [`resolver`]: scope distances and the static errors.
//! - [`printer`]: the S-expression AST dump.
//! - [`diagnostics`]: the exact one-line error format, and a rich rendering.
//! - [`frontend`]: lex + parse + resolve in one call.
//! - [`vm`]: the engine: a bytecode compiler and VM, its objects in a
//!   `MorphContext` (or the system heap), and a mark-and-sweep collector.
//! - [`generate`]: a seeded generator of realistic programs of any length.
//! - [`mem`]: the compile-footprint report: phase by phase, a timeline,
//!   where the peak went, a regression gate against a saved report, and
//!   whole projects on a thread pool; with [`counting`], the per-thread
//!   counting wrapper around the system allocator that the binary installs.
//! - [`cli`]: the `lexer_demo` command line.
//!
//! ```
//! use lexer_demo::frontend::compile;
//! use lexer_demo::printer::print_program;
//! use morph_runtime::MorphContext;
//! let ctx = MorphContext::new();
//! let c = compile("var x = 1 + 2 * 3;", &ctx, &ctx).unwrap();
//! assert!(c.diagnostics.is_empty());
//! assert_eq!(print_program(&c.program), "(var x (+ 1.0 (* 2.0 3.0)))\n");
//! ```

// A size or offset cast to a narrower type must be checked, or carry a
// local `allow` with the reason it cannot truncate.
#![warn(clippy::cast_possible_truncation)]

pub mod ast;
pub mod backend;
pub mod cli;
pub mod counting;
pub mod diagnostics;
pub mod frontend;
pub mod generate;
pub mod lexer;
pub mod mem;
pub mod parser;
pub mod printer;
pub mod resolver;
pub mod token;
pub mod vm;
