//! A Lox front end whose tokens (and, to come, AST nodes) are allocated
//! through a [`morph_runtime::MorphContext`].
//!
//! - [`token`]: the logos token enum, 12-byte tokens, line numbers from a
//!   line-start table.
//! - [`lexer`]: a lexer that goes on after errors, and a stream that
//!   allocates each token in the context and frees it once consumed.
//! - [`diagnostics`]: the exact one-line error format.
//! - [`cli`]: the `lexer_demo` command line.
//!
//! ```
//! use lexer_demo::lexer::TokenStream;
//! use morph_runtime::MorphContext;
//! let ctx = MorphContext::new();
//! let mut tokens = TokenStream::new("print \"hi\";", &ctx).unwrap();
//! let first = tokens.next_token().unwrap();
//! assert_eq!(first.lexeme(tokens.source()), "print");
//! ```

pub mod cli;
pub mod diagnostics;
pub mod lexer;
pub mod token;
