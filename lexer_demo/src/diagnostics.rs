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

/// Renders `d` with its source line and a marker under the offending text
/// pointing to the message (after the exact one-line form, which stays the
/// first line). `color`
/// turns ANSI colours on; callers pass `false` when `NO_COLOR` is set.
///
/// ```
/// use lexer_demo::diagnostics::{render_pretty, Diagnostic, Location};
/// let src = "print 1 +;";
/// let d = Diagnostic::new(1, Location::At(";".into()), "Expect expression.").with_span(9, 10);
/// let text = render_pretty(&d, src, "demo.lox", false);
/// assert!(text.starts_with("[line 1] Error at ';': Expect expression.\n"));
/// assert!(text.contains(" 1 | print 1 +;"));
/// assert!(text.contains("`-- Expect expression."), "{text}");
/// ```
pub fn render_pretty(d: &Diagnostic, source: &str, name: &str, color: bool) -> String {
    use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};
    let len = source.len();
    let start = (d.span.0 as usize).min(len);
    let end = (d.span.1 as usize).clamp(start, len);
    let span = (name, start..end);
    let mut out = format!("{d}\n");
    let mut buf = Vec::new();
    let written = Report::build(ReportKind::Error, span.clone())
        .with_config(
            Config::default()
                .with_color(color)
                .with_char_set(CharSet::Ascii)
                .with_index_type(IndexType::Byte),
        )
        .with_message(&d.message)
        .with_label(Label::new(span).with_message(&d.message))
        .finish()
        .write((name, Source::from(source)), &mut buf);
    if written.is_ok() {
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        let d = Diagnostic::new(1, Location::End, "Expect expression.").with_span(5, 5);
        assert!(!render_pretty(&d, "print", "a.lox", false).contains('\x1b'));
        assert!(render_pretty(&d, "print", "a.lox", true).contains('\x1b'));
    }

    #[test]
    fn spans_past_the_end_are_clamped() {
        let d = Diagnostic::new(1, Location::End, "Expect expression.").with_span(50, 90);
        let text = render_pretty(&d, "print", "a.lox", false);
        assert!(text.starts_with("[line 1] Error at end: Expect expression."));
    }
}
