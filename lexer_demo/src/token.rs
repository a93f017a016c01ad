//! Tokens: the logos token enum, the token record, and line numbers.
//!
//! A token is 12 bytes (its kind and a byte span); its text is a slice of the
//! source and its line comes from a table of line starts built once per file
//! ([`LineIndex`]), not counted per token.

use logos::Logos;
use std::fmt;

/// The kinds of Lox tokens, recognised by a logos state machine.
///
/// ```
/// use lexer_demo::token::TokenKind;
/// use logos::Logos;
/// let kinds: Vec<_> = TokenKind::lexer("var x = 1.5;").map(Result::unwrap).collect();
/// assert_eq!(kinds, [TokenKind::Var, TokenKind::Identifier, TokenKind::Equal,
///                    TokenKind::Number, TokenKind::Semicolon]);
/// ```
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[logos(skip r"[ \t\r\n]+")]
// A comment runs to the end of its line: the greedy class stops at `\n`.
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum TokenKind {
    /// `(`
    #[token("(")]
    LeftParen,
    /// `)`
    #[token(")")]
    RightParen,
    /// `{`
    #[token("{")]
    LeftBrace,
    /// `}`
    #[token("}")]
    RightBrace,
    /// `,`
    #[token(",")]
    Comma,
    /// `.`
    #[token(".")]
    Dot,
    /// `-`
    #[token("-")]
    Minus,
    /// `+`
    #[token("+")]
    Plus,
    /// `;`
    #[token(";")]
    Semicolon,
    /// `/`
    #[token("/")]
    Slash,
    /// `*`
    #[token("*")]
    Star,
    /// `!`
    #[token("!")]
    Bang,
    /// `!=`
    #[token("!=")]
    BangEqual,
    /// `=`
    #[token("=")]
    Equal,
    /// `==`
    #[token("==")]
    EqualEqual,
    /// `>`
    #[token(">")]
    Greater,
    /// `>=`
    #[token(">=")]
    GreaterEqual,
    /// `<`
    #[token("<")]
    Less,
    /// `<=`
    #[token("<=")]
    LessEqual,
    /// A name.
    #[regex("[A-Za-z_][A-Za-z_0-9]*")]
    Identifier,
    /// A string literal, quotes included; may span lines.
    #[regex(r#""[^"]*""#, allow_greedy = true)]
    String,
    /// A string that reaches the end of the input without its closing quote.
    #[regex(r#""[^"]*"#, allow_greedy = true)]
    UnterminatedString,
    /// A number: digits, optionally `.` and more digits.
    #[regex(r"[0-9]+(\.[0-9]+)?")]
    Number,
    /// `and`
    #[token("and")]
    And,
    /// `class`
    #[token("class")]
    Class,
    /// `else`
    #[token("else")]
    Else,
    /// `false`
    #[token("false")]
    False,
    /// `for`
    #[token("for")]
    For,
    /// `fun`
    #[token("fun")]
    Fun,
    /// `if`
    #[token("if")]
    If,
    /// `nil`
    #[token("nil")]
    Nil,
    /// `or`
    #[token("or")]
    Or,
    /// `print`
    #[token("print")]
    Print,
    /// `return`
    #[token("return")]
    Return,
    /// `super`
    #[token("super")]
    Super,
    /// `this`
    #[token("this")]
    This,
    /// `true`
    #[token("true")]
    True,
    /// `var`
    #[token("var")]
    Var,
    /// `while`
    #[token("while")]
    While,
    /// The end of the input.
    Eof,
}

impl TokenKind {
    /// The name used in token dumps, as in the book: `LEFT_PAREN`, `IDENTIFIER`, …
    ///
    /// ```
    /// use lexer_demo::token::TokenKind;
    /// assert_eq!(TokenKind::BangEqual.name(), "BANG_EQUAL");
    /// ```
    pub fn name(self) -> &'static str {
        use TokenKind::*;
        match self {
            LeftParen => "LEFT_PAREN",
            RightParen => "RIGHT_PAREN",
            LeftBrace => "LEFT_BRACE",
            RightBrace => "RIGHT_BRACE",
            Comma => "COMMA",
            Dot => "DOT",
            Minus => "MINUS",
            Plus => "PLUS",
            Semicolon => "SEMICOLON",
            Slash => "SLASH",
            Star => "STAR",
            Bang => "BANG",
            BangEqual => "BANG_EQUAL",
            Equal => "EQUAL",
            EqualEqual => "EQUAL_EQUAL",
            Greater => "GREATER",
            GreaterEqual => "GREATER_EQUAL",
            Less => "LESS",
            LessEqual => "LESS_EQUAL",
            Identifier => "IDENTIFIER",
            String => "STRING",
            UnterminatedString => "UNTERMINATED_STRING",
            Number => "NUMBER",
            And => "AND",
            Class => "CLASS",
            Else => "ELSE",
            False => "FALSE",
            For => "FOR",
            Fun => "FUN",
            If => "IF",
            Nil => "NIL",
            Or => "OR",
            Print => "PRINT",
            Return => "RETURN",
            Super => "SUPER",
            This => "THIS",
            True => "TRUE",
            Var => "VAR",
            While => "WHILE",
            Eof => "EOF",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A token: its kind and its byte span in the source.
///
/// ```
/// use lexer_demo::token::{Token, TokenKind};
/// let t = Token { kind: TokenKind::Identifier, start: 4, end: 7 };
/// assert_eq!(t.lexeme("var foo;"), "foo");
/// assert_eq!(std::mem::size_of::<Token>(), 12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Offset of its first byte.
    pub start: u32,
    /// Offset one past its last byte.
    pub end: u32,
}

impl Token {
    /// Its text: a slice of the source it was lexed from.
    ///
    /// ```
    /// use lexer_demo::token::{Token, TokenKind};
    /// let t = Token { kind: TokenKind::Number, start: 0, end: 3 };
    /// assert_eq!(t.lexeme("1.5;"), "1.5");
    /// ```
    pub fn lexeme<'s>(&self, source: &'s str) -> &'s str {
        &source[self.start as usize..self.end as usize]
    }
}

/// Line numbers from byte offsets: the offsets at which lines start, found
/// once per file; a lookup is a binary search.
///
/// ```
/// use lexer_demo::token::LineIndex;
/// let lines = LineIndex::new("a\nbb\n\nc");
/// assert_eq!((lines.line_of(0), lines.line_of(2), lines.line_of(6)), (1, 2, 4));
/// assert_eq!(lines.line_count(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `source`. Offsets are 32 bits, as in spans
    /// ([`crate::lexer::Lexer::new`] refuses a longer source), so only the
    /// lines that start at an offset that fits are indexed: every 32-bit
    /// offset still gets its right line.
    ///
    /// ```
    /// use lexer_demo::token::LineIndex;
    /// assert_eq!(LineIndex::new("").line_count(), 1);
    /// ```
    pub fn new(source: &str) -> LineIndex {
        // Counted first so the table is allocated once at its size: a
        // doubling vector would hold up to half again, and copy itself on
        // the way, while a long program compiles.
        let lines = source.bytes().filter(|&b| b == b'\n').count();
        let mut starts = Vec::with_capacity(lines + 1);
        starts.push(0);
        // `match_indices` on a char uses a vectorised byte search.
        starts.extend(
            source
                .match_indices('\n')
                .map_while(|(i, _)| u32::try_from(i + 1).ok()),
        );
        LineIndex { starts }
    }

    /// The 1-based line of the byte at `offset` (an offset at the very end
    /// belongs to the last line).
    ///
    /// ```
    /// use lexer_demo::token::LineIndex;
    /// assert_eq!(LineIndex::new("a\nb").line_of(3), 2);
    /// ```
    pub fn line_of(&self, offset: u32) -> u32 {
        // The starts are distinct 32-bit offsets, so there are at most 2^32
        // of them: only a line starting at `u32::MAX` could pass the range,
        // and it saturates.
        u32::try_from(self.starts.partition_point(|&s| s <= offset)).unwrap_or(u32::MAX)
    }

    /// Number of lines (a file ending in a newline has an empty last line).
    ///
    /// ```
    /// use lexer_demo::token::LineIndex;
    /// assert_eq!(LineIndex::new("a\n").line_count(), 2);
    /// ```
    pub fn line_count(&self) -> u32 {
        u32::try_from(self.starts.len()).unwrap_or(u32::MAX)
    }

    /// The line a token is reported on: the line of its last byte, as the
    /// reference interpreter counts (a string spanning lines reports where
    /// it ends).
    ///
    /// ```
    /// use lexer_demo::token::{LineIndex, Token, TokenKind};
    /// let src = "\"a\nb\"";
    /// let t = Token { kind: TokenKind::String, start: 0, end: 5 };
    /// assert_eq!(LineIndex::new(src).line_of_token(&t), 2);
    /// ```
    pub fn line_of_token(&self, token: &Token) -> u32 {
        self.line_of(token.end.saturating_sub(1).max(token.start))
    }
}

/// A [`LineIndex`] built on first use: most compiles never report a line,
/// so most never pay for the table.
///
/// ```
/// use lexer_demo::token::LazyLines;
/// let lines = LazyLines::new("a\nb");
/// assert!(!lines.is_built());
/// assert_eq!(lines.get().line_of(2), 2);
/// assert!(lines.is_built());
/// ```
#[derive(Clone, Debug)]
pub struct LazyLines<'s> {
    source: &'s str,
    index: std::cell::OnceCell<LineIndex>,
}

impl<'s> LazyLines<'s> {
    /// Lines of `source`, not yet indexed.
    ///
    /// ```
    /// assert!(!lexer_demo::token::LazyLines::new("a").is_built());
    /// ```
    pub fn new(source: &'s str) -> LazyLines<'s> {
        LazyLines {
            source,
            index: std::cell::OnceCell::new(),
        }
    }

    /// The index, built now if it was not.
    ///
    /// ```
    /// assert_eq!(lexer_demo::token::LazyLines::new("a\nb").get().line_count(), 2);
    /// ```
    pub fn get(&self) -> &LineIndex {
        self.index.get_or_init(|| LineIndex::new(self.source))
    }

    /// Whether the index was built.
    ///
    /// ```
    /// let l = lexer_demo::token::LazyLines::new("a");
    /// l.get();
    /// assert!(l.is_built());
    /// ```
    pub fn is_built(&self) -> bool {
        self.index.get().is_some()
    }
}
