//! The streaming lexer.
//!
//! [`Lexer`] turns source text into [`Token`]s and lexical diagnostics, going
//! on after an error. [`TokenStream`] allocates each token through a
//! [`MorphContext`] as a [`MorphBox`]: the consumer drops a token once it has
//! moved past it, its slot goes back to the 32-byte pool, and the next token
//! reuses it. However long the file, the number of live tokens stays as small
//! as the consumer's look-ahead.

use crate::diagnostics::{Diagnostic, Location};
use crate::token::{LazyLines, LineIndex, Token, TokenKind};
use logos::Logos;
use morph_runtime::{Error, MorphBox, MorphContext, TypeTag};
use std::fmt;

/// Type tag of tokens in the context's headers.
pub const TOKEN_TAG: TypeTag = TypeTag(1);

/// The source is too large for 32-bit spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceTooLarge {
    /// Its length in bytes.
    pub len: usize,
}

impl fmt::Display for SourceTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "source of {} bytes is too large (the limit is {} bytes)",
            self.len, MAX_SOURCE
        )
    }
}

impl std::error::Error for SourceTooLarge {}

/// Largest source the lexer accepts: spans are 32-bit offsets.
pub const MAX_SOURCE: usize = u32::MAX as usize - 1;

/// Refuses a source too long for 32-bit spans; else its length, which is
/// then the largest offset into it, as a 32-bit offset.
///
/// ```
/// use lexer_demo::lexer::{check_source_len, MAX_SOURCE};
/// assert_eq!(check_source_len(MAX_SOURCE), Ok(4294967294));
/// let err = check_source_len(MAX_SOURCE + 1).unwrap_err();
/// assert_eq!(err.to_string(), "source of 4294967295 bytes is too large (the limit is 4294967294 bytes)");
/// assert!(check_source_len(usize::MAX).is_err());
/// ```
pub fn check_source_len(len: usize) -> Result<u32, SourceTooLarge> {
    match u32::try_from(len) {
        Ok(end) if len <= MAX_SOURCE => Ok(end),
        _ => Err(SourceTooLarge { len }),
    }
}

/// A lexer over one source text: yields tokens and lexical errors in order,
/// then one [`TokenKind::Eof`] token, then `None`.
///
/// ```
/// use lexer_demo::lexer::Lexer;
/// use lexer_demo::token::TokenKind;
/// let mut lx = Lexer::new("print 1 @ 2;").unwrap();
/// let items: Vec<_> = lx.by_ref().collect();
/// assert_eq!(items.len(), 6); // print, 1, the error, 2, ;, EOF
/// assert_eq!(items[5].as_ref().unwrap().kind, lexer_demo::token::TokenKind::Eof);
/// assert!(lx.next().is_none());
/// assert_eq!(items[2].as_ref().unwrap_err().to_string(), "[line 1] Error: Unexpected character.");
/// ```
pub struct Lexer<'src> {
    inner: logos::Lexer<'src, TokenKind>,
    /// The source's length: every offset into it fits in 32 bits.
    end: u32,
    /// Built only when a line is needed (an error, a token dump).
    lines: LazyLines<'src>,
    finished: bool,
}

impl<'src> Lexer<'src> {
    /// A lexer over `source`, which must be shorter than 4 GiB.
    ///
    /// ```
    /// use lexer_demo::lexer::Lexer;
    /// assert!(Lexer::new("var a;").is_ok());
    /// ```
    pub fn new(source: &'src str) -> Result<Lexer<'src>, SourceTooLarge> {
        let end = check_source_len(source.len())?;
        Ok(Lexer {
            inner: TokenKind::lexer(source),
            end,
            lines: LazyLines::new(source),
            finished: false,
        })
    }

    /// The source being lexed.
    ///
    /// ```
    /// use lexer_demo::lexer::Lexer;
    /// assert_eq!(Lexer::new("nil").unwrap().source(), "nil");
    /// ```
    pub fn source(&self) -> &'src str {
        self.inner.source()
    }

    /// The line table of the source.
    ///
    /// ```
    /// use lexer_demo::lexer::Lexer;
    /// assert_eq!(Lexer::new("a\nb").unwrap().lines().line_count(), 2);
    /// ```
    pub fn lines(&self) -> &LineIndex {
        self.lines.get()
    }

    fn end_token(&self) -> Token {
        Token {
            kind: TokenKind::Eof,
            start: self.end,
            end: self.end,
        }
    }

    /// A byte offset into the source, as a 32-bit offset.
    #[inline(always)]
    // Cannot truncate: an offset into the source is at most its length,
    // `self.end`, which `new` checked fits in 32 bits. (Not checked again
    // here: this runs twice for every token.)
    #[allow(clippy::cast_possible_truncation)]
    fn offset(&self, i: usize) -> u32 {
        debug_assert!(i <= self.end as usize);
        i as u32
    }
}

/// What the lexer found next: a token, or a lexical error with its span. A
/// compact value (16 bytes): the diagnostic is built only when an error is
/// reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Token(Token),
    UnexpectedCharacter(u32, u32),
    UnterminatedString(u32, u32),
}

impl Lexer<'_> {
    /// The next token or lexical error; `Eof` at the end, again and again.
    #[inline]
    fn next_item(&mut self) -> Item {
        let Some(result) = self.inner.next() else {
            self.finished = true;
            return Item::Token(self.end_token());
        };
        let span = self.inner.span();
        let (start, end) = (self.offset(span.start), self.offset(span.end));
        match result {
            Ok(TokenKind::UnterminatedString) => Item::UnterminatedString(start, end),
            Ok(kind) => Item::Token(Token { kind, start, end }),
            Err(()) => Item::UnexpectedCharacter(start, end),
        }
    }

    /// The diagnostic of a lexical error item.
    #[cold]
    fn diagnostic(&self, item: Item) -> Diagnostic {
        let (line, message, start, end) = match item {
            Item::UnterminatedString(start, end) => (
                self.lines.get().line_of(self.end),
                "Unterminated string.",
                start,
                end,
            ),
            Item::UnexpectedCharacter(start, end) => (
                self.lines.get().line_of(start),
                "Unexpected character.",
                start,
                end,
            ),
            Item::Token(t) => unreachable!("{t:?} is not an error"),
        };
        Diagnostic::new(line, Location::None, message).with_span(start, end)
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<Token, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        Some(match self.next_item() {
            Item::Token(t) => Ok(t),
            error => Err(self.diagnostic(error)),
        })
    }
}

/// Tokens allocated one by one through a [`MorphContext`]; lexical errors are
/// collected in [`TokenStream::diagnostics`] and skipped.
///
/// ```
/// use lexer_demo::lexer::TokenStream;
/// use lexer_demo::token::TokenKind;
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// let mut ts = TokenStream::new("a + b", &ctx).unwrap();
/// let mut kinds = vec![];
/// loop {
///     let t = ts.next_token().unwrap(); // a MorphBox<Token>
///     kinds.push(t.kind);
///     if t.kind == TokenKind::Eof { break; }
/// } // each token is dropped, and its slot freed, as the loop moves on
/// assert_eq!(kinds.len(), 4);
/// let s = ctx.stats();
/// assert_eq!((s.live_objects, s.classes[1].stats.peak_carved), (0, 1));
/// ```
pub struct TokenStream<'src, 'ctx> {
    lexer: Lexer<'src>,
    ctx: &'ctx MorphContext,
    /// Lexical errors met so far, in order.
    pub diagnostics: Vec<Diagnostic>,
    made: u64,
}

impl<'src, 'ctx> TokenStream<'src, 'ctx> {
    /// A stream over `source` whose tokens live in `ctx`.
    ///
    /// ```
    /// use lexer_demo::lexer::TokenStream;
    /// let ctx = morph_runtime::MorphContext::new();
    /// assert!(TokenStream::new("x", &ctx).is_ok());
    /// ```
    pub fn new(source: &'src str, ctx: &'ctx MorphContext) -> Result<Self, SourceTooLarge> {
        Ok(TokenStream {
            lexer: Lexer::new(source)?,
            ctx,
            diagnostics: Vec::new(),
            made: 0,
        })
    }

    /// The next token, allocated in the context; after the end, `Eof` again
    /// and again. Lexical errors are recorded and skipped.
    ///
    /// ```
    /// use lexer_demo::lexer::TokenStream;
    /// use lexer_demo::token::TokenKind;
    /// let ctx = morph_runtime::MorphContext::new();
    /// let mut ts = TokenStream::new("# 1", &ctx).unwrap();
    /// assert_eq!(ts.next_token().unwrap().kind, TokenKind::Number);
    /// assert_eq!(ts.next_token().unwrap().kind, TokenKind::Eof);
    /// assert_eq!(ts.next_token().unwrap().kind, TokenKind::Eof);
    /// assert_eq!(ts.diagnostics.len(), 1);
    /// ```
    #[inline]
    pub fn next_token(&mut self) -> Result<MorphBox<'ctx, Token>, Error> {
        let token = loop {
            match self.lexer.next_item() {
                Item::Token(t) => break t,
                error => {
                    let d = self.lexer.diagnostic(error);
                    self.diagnostics.push(d);
                }
            }
        };
        self.made += 1;
        self.ctx.boxed(token, TOKEN_TAG).map_err(|r| r.error)
    }

    /// How many tokens were allocated.
    ///
    /// ```
    /// use lexer_demo::lexer::TokenStream;
    /// let ctx = morph_runtime::MorphContext::new();
    /// let mut ts = TokenStream::new("a b", &ctx).unwrap();
    /// ts.next_token().unwrap();
    /// assert_eq!(ts.tokens_made(), 1);
    /// ```
    pub fn tokens_made(&self) -> u64 {
        self.made
    }

    /// The line table of the source.
    ///
    /// ```
    /// use lexer_demo::lexer::TokenStream;
    /// let ctx = morph_runtime::MorphContext::new();
    /// let ts = TokenStream::new("a\n\nb", &ctx).unwrap();
    /// assert_eq!(ts.lines().line_count(), 3);
    /// ```
    pub fn lines(&self) -> &LineIndex {
        self.lexer.lines()
    }

    /// The source.
    ///
    /// ```
    /// use lexer_demo::lexer::TokenStream;
    /// let ctx = morph_runtime::MorphContext::new();
    /// assert_eq!(TokenStream::new("a", &ctx).unwrap().source(), "a");
    /// ```
    pub fn source(&self) -> &'src str {
        self.lexer.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `src` and compares (kind, lexeme, line) triples, then checks the
    /// stream ends with EOF.
    fn assert_lex(src: &str, expected: &[(TokenKind, &str, u32)]) {
        let lx = Lexer::new(src).unwrap();
        let lines = LineIndex::new(src);
        let got: Vec<_> = lx
            .map(|r| r.unwrap())
            .map(|t| (t.kind, t.lexeme(src), lines.line_of_token(&t)))
            .collect();
        let (last, body) = got.split_last().unwrap();
        assert_eq!(body, expected);
        assert_eq!(last.0, TokenKind::Eof);
    }

    fn errors(src: &str) -> Vec<std::string::String> {
        Lexer::new(src)
            .unwrap()
            .filter_map(|r| r.err())
            .map(|d| d.to_string())
            .collect()
    }

    use TokenKind::*;

    #[test]
    fn operators_longest_match() {
        assert_lex(
            "! != = == > >= < <= / // comment\n*",
            &[
                (Bang, "!", 1),
                (BangEqual, "!=", 1),
                (Equal, "=", 1),
                (EqualEqual, "==", 1),
                (Greater, ">", 1),
                (GreaterEqual, ">=", 1),
                (Less, "<", 1),
                (LessEqual, "<=", 1),
                (Slash, "/", 1),
                (Star, "*", 2),
            ],
        );
    }

    #[test]
    fn numbers_need_digits_on_both_sides_of_the_dot() {
        assert_lex(
            "12 3.25 5. .5",
            &[
                (Number, "12", 1),
                (Number, "3.25", 1),
                (Number, "5", 1),
                (Dot, ".", 1),
                (Dot, ".", 1),
                (Number, "5", 1),
            ],
        );
    }

    #[test]
    fn keywords_and_identifiers() {
        assert_lex(
            "and class else false for fun if nil or print return super this true var while orchid _x1",
            &[
                (And, "and", 1),
                (Class, "class", 1),
                (Else, "else", 1),
                (False, "false", 1),
                (For, "for", 1),
                (Fun, "fun", 1),
                (If, "if", 1),
                (Nil, "nil", 1),
                (Or, "or", 1),
                (Print, "print", 1),
                (Return, "return", 1),
                (Super, "super", 1),
                (This, "this", 1),
                (True, "true", 1),
                (Var, "var", 1),
                (While, "while", 1),
                (Identifier, "orchid", 1),
                (Identifier, "_x1", 1),
            ],
        );
    }

    #[test]
    fn strings_span_lines_and_report_where_they_end() {
        assert_lex(
            "\"a\nb\" x",
            &[(String, "\"a\nb\"", 2), (Identifier, "x", 2)],
        );
    }

    #[test]
    fn errors_are_reported_and_lexing_goes_on() {
        assert_eq!(
            errors("a @ b\n# é"),
            [
                "[line 1] Error: Unexpected character.",
                "[line 2] Error: Unexpected character.",
                "[line 2] Error: Unexpected character."
            ]
        );
        assert_eq!(
            errors("x = \"open\n\n"),
            ["[line 3] Error: Unterminated string."]
        );
    }

    #[test]
    fn eof_is_on_the_last_line() {
        let src = "a\nb\n";
        let eof = Lexer::new(src).unwrap().last().unwrap().unwrap();
        assert_eq!(
            (eof.kind, LineIndex::new(src).line_of_token(&eof)),
            (Eof, 3)
        );
    }

    #[test]
    fn live_tokens_stay_bounded() {
        let src = "var x = 1;\n".repeat(if cfg!(miri) { 20 } else { 2000 });
        let ctx = MorphContext::new();
        let mut ts = TokenStream::new(&src, &ctx).unwrap();
        let mut prev = ts.next_token().unwrap();
        while prev.kind != Eof {
            let next = ts.next_token().unwrap();
            prev = next; // the older token is dropped: two live at most
        }
        drop(prev);
        let s = ctx.stats();
        assert_eq!(s.live_objects, 0);
        assert_eq!(s.classes[1].stats.peak_carved, 2);
        assert_eq!(ts.tokens_made(), s.classes[1].stats.allocations);
        assert_eq!(s.pools.slabs, 1);
    }
}
