//! Diagnostics in the exact one-line format of the Lox reference:
//! `[line N] Error: MESSAGE`, `[line N] Error at 'LEXEME': MESSAGE`,
//! `[line N] Error at end: MESSAGE`.

use std::fmt;

/// Where a compile error is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// Not at a token (lexical errors).
    None,
    /// At a token with this lexeme.
    At(String),
    /// At the end of the input.
    End,
}

/// One compile-time diagnostic.
///
/// ```
/// use lexer_demo::diagnostics::{Diagnostic, Location};
/// let d = Diagnostic::new(3, Location::At("=".into()), "Invalid assignment target.");
/// assert_eq!(d.to_string(), "[line 3] Error at '=': Invalid assignment target.");
/// let e = Diagnostic::new(7, Location::End, "Expect ';' after value.");
/// assert_eq!(e.to_string(), "[line 7] Error at end: Expect ';' after value.");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: u32,
    /// Where on that line.
    pub location: Location,
    /// The message, one of the fixed set of the language.
    pub message: String,
    /// Byte span in the source, for rich rendering.
    pub span: (u32, u32),
}

impl Diagnostic {
    /// A diagnostic with no span.
    ///
    /// ```
    /// use lexer_demo::diagnostics::{Diagnostic, Location};
    /// let d = Diagnostic::new(1, Location::None, "Unexpected character.");
    /// assert_eq!(d.to_string(), "[line 1] Error: Unexpected character.");
    /// ```
    pub fn new(line: u32, location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line,
            location,
            message: message.into(),
            span: (0, 0),
        }
    }

    /// The same diagnostic with a byte span.
    ///
    /// ```
    /// use lexer_demo::diagnostics::{Diagnostic, Location};
    /// let d = Diagnostic::new(1, Location::End, "Expect expression.").with_span(4, 4);
    /// assert_eq!(d.span, (4, 4));
    /// ```
    pub fn with_span(mut self, start: u32, end: u32) -> Diagnostic {
        self.span = (start, end);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[line {}] Error", self.line)?;
        match &self.location {
            Location::None => {}
            Location::At(lexeme) => write!(f, " at '{lexeme}'")?,
            Location::End => f.write_str(" at end")?,
        }
        write!(f, ": {}", self.message)
    }
}
