//! The recursive-descent parser, with precedence climbing for binary
//! operators.
//!
//! It follows the grammar of LOX.md with the exact diagnostics of the
//! reference implementation and its panic-mode recovery: after an error it
//! skips to just after a `;` or just before `class fun var for if while print
//! return`, so one run reports every independent error. `Invalid assignment
//! target.` and the 255-argument and 255-parameter limits are reported without
//! entering panic mode.
//!
//! Tokens come from a [`TokenStream`]: each is a [`MorphBox`] in a context,
//! dropped (its slot freed) as soon as the parser has moved past it, so at
//! most two tokens are alive at any time.
//!
//! Nesting is limited to [`MAX_NESTING`] levels; deeper input gets one
//! diagnostic and parsing stops, so no input can overflow the stack. A level
//! is a recursion of the parser (blocks, bodies, parentheses, unary operators,
//! chained assignments) *or* one link of a left-associative chain (`a + b +
//! c`, `f()()`, `a.b.c`): chains are parsed by loops but build trees as deep
//! as they are long, and every later pass over the tree recurses. So the
//! height of every tree the parser returns is bounded too.

use crate::ast::{Class, Expr, Function, Ident, Literal, NodeKind, Op, Program, Stmt, UseId};
use crate::backend::Backend;
use crate::diagnostics::{Diagnostic, Location};
use crate::lexer::{SourceTooLarge, TokenStream, check_source_len};
use crate::token::{Token, TokenKind};
use morph_runtime::{Error, MorphBox, MorphContext};

/// The deepest nesting the parser accepts.
pub const MAX_NESTING: u32 = 200;
/// Most arguments of a call and parameters of a function.
pub const MAX_ARGS: usize = 255;

/// What parsing produced: the program (possibly partial) and every
/// diagnostic, lexical ones first (as a lexer running ahead would report
/// them), then syntactic ones, each group in source order.
pub struct ParseOutput<'a> {
    /// The statements that parsed.
    pub program: Program<'a>,
    /// Every compile error met.
    pub diagnostics: Vec<Diagnostic>,
    /// Tokens allocated.
    pub tokens_made: u64,
}

/// Parses `source`, placing AST nodes in `backend` and tokens in
/// `token_ctx` (pass the same context as the backend to keep everything in
/// one place).
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::printer::print_program;
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// let src = "print (5 - (3 - 1)) + -1;";
/// let out = parse(src, &ctx, &ctx).unwrap();
/// assert!(out.diagnostics.is_empty());
/// assert_eq!(print_program(&out.program), "(print (+ (group (- 5.0 (group (- 3.0 1.0)))) (- 1.0)))\n");
/// ```
pub fn parse<'a, B: Backend>(
    source: &'a str,
    backend: &'a B,
    token_ctx: &MorphContext,
) -> Result<ParseOutput<'a>, SourceTooLarge> {
    let end = check_source_len(source.len())?;
    let mut tokens = TokenStream::new(source, token_ctx)?;
    let first = tokens.next_token();
    let mut parser = Parser {
        source,
        end,
        backend,
        previous: Token {
            kind: TokenKind::Eof,
            start: 0,
            end: 0,
        },
        current: None,
        tokens,
        diagnostics: Vec::new(),
        depth: 0,
        aborted: false,
        uses: 0,
        scratch: Scratch::default(),
    };
    match first {
        Ok(t) => parser.current = Some(t),
        Err(e) => parser.out_of_memory(e),
    }
    let statements = parser.program();
    let mut diagnostics = std::mem::take(&mut parser.tokens.diagnostics);
    diagnostics.append(&mut parser.diagnostics);
    let statements = match statements {
        Ok(s) => s,
        Err(_) => &[],
    };
    Ok(ParseOutput {
        program: Program {
            statements,
            uses: parser.uses,
        },
        diagnostics,
        tokens_made: parser.tokens.tokens_made(),
    })
}

/// Marks an error already reported; unwinds to the nearest `declaration`.
#[derive(Debug)]
struct ParseError;

type PResult<T> = Result<T, ParseError>;

struct Parser<'a, 'ctx, B: Backend> {
    source: &'a str,
    /// The source's length as a 32-bit offset (checked by `parse`).
    end: u32,
    backend: &'a B,
    tokens: TokenStream<'a, 'ctx>,
    /// The token being looked at; `None` only after an allocation failure.
    current: Option<MorphBox<'ctx, Token>>,
    previous: Token,
    diagnostics: Vec<Diagnostic>,
    depth: u32,
    /// Set by a fatal error (nesting too deep, out of memory): nothing more is
    /// reported and parsing stops.
    aborted: bool,
    uses: UseId,
    scratch: Scratch<'a>,
}

/// Stacks the parser collects lists on before copying them into the
/// backend: a construct pushes above the length it found and takes its part
/// off at the end, so nested lists share one allocation instead of a `Vec`
/// each.
#[derive(Default)]
struct Scratch<'a> {
    stmts: Vec<Stmt<'a>>,
    exprs: Vec<&'a Expr<'a>>,
    idents: Vec<Ident<'a>>,
    functions: Vec<&'a Function<'a>>,
}

impl Scratch<'_> {
    fn lengths(&self) -> [usize; 4] {
        [
            self.stmts.len(),
            self.exprs.len(),
            self.idents.len(),
            self.functions.len(),
        ]
    }

    fn truncate(&mut self, lengths: [usize; 4]) {
        self.stmts.truncate(lengths[0]);
        self.exprs.truncate(lengths[1]);
        self.idents.truncate(lengths[2]);
        self.functions.truncate(lengths[3]);
    }
}

impl<'a, B: Backend> Parser<'a, '_, B> {
    // ----- token handling -----

    fn peek(&self) -> Token {
        match &self.current {
            Some(t) => **t,
            None => Token {
                kind: TokenKind::Eof,
                start: self.end,
                end: self.end,
            },
        }
    }

    fn check(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    fn at_end(&self) -> bool {
        self.check(TokenKind::Eof)
    }

    fn advance(&mut self) -> Token {
        let cur = self.peek();
        if cur.kind != TokenKind::Eof {
            self.previous = cur;
            match self.tokens.next_token() {
                // Replacing the box drops the token we moved past.
                Ok(t) => self.current = Some(t),
                Err(e) => self.out_of_memory(e),
            }
        } else {
            self.previous = cur;
        }
        self.previous
    }

    fn matches(&mut self, kinds: &[TokenKind]) -> bool {
        if kinds.contains(&self.peek().kind) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn consume(&mut self, kind: TokenKind, message: &str) -> PResult<Token> {
        if self.check(kind) {
            return Ok(self.advance());
        }
        Err(self.error_at(self.peek(), message))
    }

    fn lexeme(&self, t: Token) -> &'a str {
        t.lexeme(self.source)
    }

    fn ident(&self, t: Token) -> Ident<'a> {
        Ident {
            name: self.lexeme(t),
        }
    }

    // ----- errors -----

    fn error_at(&mut self, token: Token, message: &str) -> ParseError {
        if !self.aborted {
            let line = self.tokens.lines().line_of_token(&token);
            let location = if token.kind == TokenKind::Eof {
                Location::End
            } else {
                Location::At(self.lexeme(token).to_string())
            };
            self.diagnostics
                .push(Diagnostic::new(line, location, message).with_span(token.start, token.end));
        }
        ParseError
    }

    fn out_of_memory(&mut self, e: Error) {
        if !self.aborted {
            let t = self.peek();
            let line = self.tokens.lines().line_of_token(&t);
            self.diagnostics.push(Diagnostic::new(
                line,
                Location::None,
                format!("Out of memory: {e}."),
            ));
            self.aborted = true;
        }
        self.current = None;
    }

    fn place<T: Copy>(&mut self, value: T, kind: NodeKind) -> PResult<&'a T> {
        match self.backend.place(value, kind) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.out_of_memory(e);
                Err(ParseError)
            }
        }
    }

    fn place_slice<T: Copy>(&mut self, items: &[T]) -> PResult<&'a [T]> {
        match self.backend.place_slice(items) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.out_of_memory(e);
                Err(ParseError)
            }
        }
    }

    /// Copies the part of a scratch stack above `start` into the backend and
    /// takes it off the stack.
    fn finish_list<T: Copy>(
        &mut self,
        stack: for<'s> fn(&'s mut Scratch<'a>) -> &'s mut Vec<T>,
        start: usize,
    ) -> PResult<&'a [T]> {
        let items = std::mem::take(stack(&mut self.scratch));
        let list = self.place_slice(&items[start..]);
        let slot = stack(&mut self.scratch);
        *slot = items;
        slot.truncate(start);
        list
    }

    fn expr(&mut self, e: Expr<'a>) -> PResult<&'a Expr<'a>> {
        let kind = e.kind();
        self.place(e, kind)
    }

    fn next_use(&mut self) -> UseId {
        self.uses += 1;
        self.uses - 1
    }

    /// Goes one nesting level deeper, refusing past [`MAX_NESTING`]. The
    /// caller gives the level back (`nested` does; chain loops subtract their
    /// count; `declaration` restores the depth after an error).
    fn deeper(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            let e = self.error_at(self.peek(), "Too much nesting.");
            self.aborted = true;
            return Err(e);
        }
        self.depth += 1;
        Ok(())
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.deeper()?;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn synchronize(&mut self) {
        use TokenKind::*;
        self.advance();
        while !self.at_end() {
            if self.previous.kind == Semicolon {
                return;
            }
            if matches!(
                self.peek().kind,
                Class | Fun | Var | For | If | While | Print | Return
            ) {
                return;
            }
            self.advance();
        }
    }

    // ----- declarations and statements -----

    fn program(&mut self) -> PResult<&'a [Stmt<'a>]> {
        let start = self.scratch.stmts.len();
        while !self.at_end() && !self.aborted {
            if let Some(s) = self.declaration()? {
                self.scratch.stmts.push(s);
            }
        }
        self.finish_list(|s| &mut s.stmts, start)
    }

    /// A declaration; `Ok(None)` after a recovered error, `Err` only once
    /// parsing was aborted.
    fn declaration(&mut self) -> PResult<Option<Stmt<'a>>> {
        let (depth, lengths) = (self.depth, self.scratch.lengths());
        let result = self.nested(|p| match p.peek().kind {
            TokenKind::Class => {
                p.advance();
                p.class_declaration()
            }
            TokenKind::Fun => {
                p.advance();
                Ok(Stmt::Function(p.function(false)?))
            }
            TokenKind::Var => {
                p.advance();
                p.var_declaration()
            }
            _ => p.statement(),
        });
        match result {
            Ok(s) => Ok(Some(s)),
            Err(e) if self.aborted => Err(e),
            Err(_) => {
                // Chain loops and lists cut short by the error did not give
                // back their levels and scratch space.
                self.depth = depth;
                self.scratch.truncate(lengths);
                self.synchronize();
                Ok(None)
            }
        }
    }

    fn class_declaration(&mut self) -> PResult<Stmt<'a>> {
        let name = self.consume(TokenKind::Identifier, "Expect class name.")?;
        let superclass = if self.matches(&[TokenKind::Less]) {
            let s = self.consume(TokenKind::Identifier, "Expect superclass name.")?;
            let id = self.next_use();
            Some(self.expr(Expr::Variable {
                name: self.ident(s),
                id,
            })?)
        } else {
            None
        };
        self.consume(TokenKind::LeftBrace, "Expect '{' before class body.")?;
        let start = self.scratch.functions.len();
        while !self.check(TokenKind::RightBrace) && !self.at_end() {
            let m = self.function(true)?;
            self.scratch.functions.push(m);
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after class body.")?;
        let class = Class {
            name: self.ident(name),
            superclass,
            methods: self.finish_list(|s| &mut s.functions, start)?,
        };
        Ok(Stmt::Class(self.place(class, NodeKind::Class)?))
    }

    /// A function or, with `method`, a method (the messages differ).
    fn function(&mut self, method: bool) -> PResult<&'a Function<'a>> {
        let [name_message, paren_message, body_message] = if method {
            [
                "Expect method name.",
                "Expect '(' after method name.",
                "Expect '{' before method body.",
            ]
        } else {
            [
                "Expect function name.",
                "Expect '(' after function name.",
                "Expect '{' before function body.",
            ]
        };
        let name = self.consume(TokenKind::Identifier, name_message)?;
        self.consume(TokenKind::LeftParen, paren_message)?;
        let start = self.scratch.idents.len();
        if !self.check(TokenKind::RightParen) {
            loop {
                if self.scratch.idents.len() - start >= MAX_ARGS {
                    self.error_at(self.peek(), "Can't have more than 255 parameters.");
                }
                let p = self.consume(TokenKind::Identifier, "Expect parameter name.")?;
                let p = self.ident(p);
                self.scratch.idents.push(p);
                if !self.matches(&[TokenKind::Comma]) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after parameters.")?;
        let params = self.finish_list(|s| &mut s.idents, start)?;
        self.consume(TokenKind::LeftBrace, body_message)?;
        let body = self.block()?;
        let f = Function {
            name: self.ident(name),
            params,
            body,
        };
        self.place(f, NodeKind::Function)
    }

    fn var_declaration(&mut self) -> PResult<Stmt<'a>> {
        let name = self.consume(TokenKind::Identifier, "Expect variable name.")?;
        let init = if self.matches(&[TokenKind::Equal]) {
            Some(self.expression()?)
        } else {
            None
        };
        self.consume(
            TokenKind::Semicolon,
            "Expect ';' after variable declaration.",
        )?;
        Ok(Stmt::Var {
            name: self.ident(name),
            init,
        })
    }

    fn statement(&mut self) -> PResult<Stmt<'a>> {
        use TokenKind::*;
        let kind = self.peek().kind;
        if matches!(kind, For | If | Print | Return | While | LeftBrace) {
            self.advance();
        }
        match kind {
            For => self.for_statement(),
            If => self.if_statement(),
            Print => {
                let value = self.expression()?;
                self.consume(Semicolon, "Expect ';' after value.")?;
                Ok(Stmt::Print(value))
            }
            Return => {
                let offset = self.previous.start;
                let value = if !self.check(Semicolon) {
                    Some(self.expression()?)
                } else {
                    None
                };
                self.consume(Semicolon, "Expect ';' after return value.")?;
                Ok(Stmt::Return { offset, value })
            }
            While => {
                self.consume(LeftParen, "Expect '(' after 'while'.")?;
                let cond = self.expression()?;
                self.consume(RightParen, "Expect ')' after condition.")?;
                let body = self.sub_statement()?;
                Ok(Stmt::While { cond, body })
            }
            LeftBrace => Ok(Stmt::block(self.block()?)),
            _ => {
                let e = self.expression()?;
                self.consume(Semicolon, "Expect ';' after expression.")?;
                Ok(Stmt::Expression(e))
            }
        }
    }

    /// A statement placed on its own, as the body of `if`, `while`, `for`.
    fn sub_statement(&mut self) -> PResult<&'a Stmt<'a>> {
        let s = self.nested(|p| p.statement())?;
        self.place(s, NodeKind::Stmt)
    }

    /// `for` desugared: `{ init; while (cond) { body; incr; } }`.
    fn for_statement(&mut self) -> PResult<Stmt<'a>> {
        use TokenKind::*;
        self.consume(LeftParen, "Expect '(' after 'for'.")?;
        let init = if self.matches(&[Semicolon]) {
            None
        } else if self.matches(&[Var]) {
            Some(self.var_declaration()?)
        } else {
            let e = self.expression()?;
            self.consume(Semicolon, "Expect ';' after expression.")?;
            Some(Stmt::Expression(e))
        };
        let cond = if !self.check(Semicolon) {
            Some(self.expression()?)
        } else {
            None
        };
        self.consume(Semicolon, "Expect ';' after loop condition.")?;
        let incr = if !self.check(RightParen) {
            Some(self.expression()?)
        } else {
            None
        };
        self.consume(RightParen, "Expect ')' after for clauses.")?;
        let mut body = *self.sub_statement()?;
        if let Some(incr) = incr {
            let list = self.place_slice(&[body, Stmt::Expression(incr)])?;
            body = Stmt::block(list);
        }
        let cond = match cond {
            Some(c) => c,
            None => self.expr(Expr::Literal(Literal::Bool(true)))?,
        };
        let body = self.place(body, NodeKind::Stmt)?;
        let mut stmt = Stmt::While { cond, body };
        if let Some(init) = init {
            stmt = Stmt::block(self.place_slice(&[init, stmt])?);
        }
        Ok(stmt)
    }

    fn if_statement(&mut self) -> PResult<Stmt<'a>> {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'if'.")?;
        let cond = self.expression()?;
        self.consume(TokenKind::RightParen, "Expect ')' after if condition.")?;
        let then = self.sub_statement()?;
        let otherwise = if self.matches(&[TokenKind::Else]) {
            Some(self.sub_statement()?)
        } else {
            None
        };
        Ok(Stmt::If {
            cond,
            then,
            otherwise,
        })
    }

    fn block(&mut self) -> PResult<&'a [Stmt<'a>]> {
        let mut statements = Vec::new();
        while !self.check(TokenKind::RightBrace) && !self.at_end() {
            if let Some(s) = self.declaration()? {
                statements.push(s);
            }
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after block.")?;
        self.place_slice(&statements)
    }

    // ----- expressions -----

    fn expression(&mut self) -> PResult<&'a Expr<'a>> {
        self.nested(|p| p.assignment())
    }

    fn assignment(&mut self) -> PResult<&'a Expr<'a>> {
        let expr = self.binary_expr(1)?;
        if self.matches(&[TokenKind::Equal]) {
            let equals = self.previous;
            let value = self.nested(|p| p.assignment())?;
            match *expr {
                Expr::Variable { name, .. } => {
                    let id = self.next_use();
                    return self.expr(Expr::Assign { name, value, id });
                }
                Expr::Get { object, name } => {
                    return self.expr(Expr::Set {
                        object,
                        name,
                        value,
                    });
                }
                _ => {
                    self.error_at(equals, "Invalid assignment target.");
                }
            }
        }
        Ok(expr)
    }

    fn op(&self) -> Op {
        Op {
            kind: self.previous.kind,
            offset: self.previous.start,
        }
    }

    /// Binary and logical operators by precedence (higher binds tighter), all
    /// left-associative: `or` 1, `and` 2, equality 3, comparison 4, term 5,
    /// factor 6.
    fn precedence_of(kind: TokenKind) -> Option<(u8, bool)> {
        use TokenKind::*;
        Some(match kind {
            Or => (1, true),
            And => (2, true),
            BangEqual | EqualEqual => (3, false),
            Greater | GreaterEqual | Less | LessEqual => (4, false),
            Minus | Plus => (5, false),
            Slash | Star => (6, false),
            _ => return None,
        })
    }

    /// Precedence climbing over `logic_or` down to `factor`: operands are
    /// unary expressions; an operator of precedence `p >= min` takes as its
    /// right operand everything that binds tighter than `p`. One loop and at
    /// most six levels of recursion replace the six grammar rules, with the
    /// same trees and the same diagnostics. Each link of a chain is one
    /// nesting level (the tree grows one deeper).
    fn binary_expr(&mut self, min: u8) -> PResult<&'a Expr<'a>> {
        let mut left = self.unary()?;
        let mut links = 0;
        while let Some((prec, logical)) = Self::precedence_of(self.peek().kind) {
            if prec < min {
                break;
            }
            self.advance();
            self.deeper()?;
            links += 1;
            let op = self.op();
            let right = self.binary_expr(prec + 1)?;
            left = self.expr(if logical {
                Expr::Logical { left, op, right }
            } else {
                Expr::Binary { left, op, right }
            })?;
        }
        self.depth -= links;
        Ok(left)
    }

    fn unary(&mut self) -> PResult<&'a Expr<'a>> {
        if self.matches(&[TokenKind::Bang, TokenKind::Minus]) {
            let op = self.op();
            let right = self.nested(|p| p.unary())?;
            return self.expr(Expr::Unary { op, right });
        }
        self.call()
    }

    fn call(&mut self) -> PResult<&'a Expr<'a>> {
        let mut expr = self.primary()?;
        let mut links = 0;
        loop {
            if self.check(TokenKind::LeftParen) || self.check(TokenKind::Dot) {
                self.deeper()?;
                links += 1;
            }
            if self.matches(&[TokenKind::LeftParen]) {
                expr = self.finish_call(expr)?;
            } else if self.matches(&[TokenKind::Dot]) {
                let name =
                    self.consume(TokenKind::Identifier, "Expect property name after '.'.")?;
                expr = self.expr(Expr::Get {
                    object: expr,
                    name: self.ident(name),
                })?;
            } else {
                self.depth -= links;
                return Ok(expr);
            }
        }
    }

    fn finish_call(&mut self, callee: &'a Expr<'a>) -> PResult<&'a Expr<'a>> {
        let mut args = Vec::new();
        if !self.check(TokenKind::RightParen) {
            loop {
                if args.len() >= MAX_ARGS {
                    self.error_at(self.peek(), "Can't have more than 255 arguments.");
                }
                args.push(self.expression()?);
                if !self.matches(&[TokenKind::Comma]) {
                    break;
                }
            }
        }
        let paren = self.consume(TokenKind::RightParen, "Expect ')' after arguments.")?;
        let args = self.place_slice(&args)?;
        self.expr(Expr::Call {
            callee,
            args,
            paren: paren.start,
        })
    }

    fn primary(&mut self) -> PResult<&'a Expr<'a>> {
        use TokenKind::*;
        let t = self.peek();
        let literal = match t.kind {
            False => Some(Literal::Bool(false)),
            True => Some(Literal::Bool(true)),
            Nil => Some(Literal::Nil),
            Number => Some(Literal::Number(self.lexeme(t).parse().unwrap_or(f64::NAN))),
            String => {
                let s = self.lexeme(t);
                Some(Literal::Str(&s[1..s.len() - 1]))
            }
            _ => None,
        };
        if let Some(lit) = literal {
            self.advance();
            return self.expr(Expr::Literal(lit));
        }
        match t.kind {
            Super => {
                self.advance();
                self.consume(Dot, "Expect '.' after 'super'.")?;
                let method = self.consume(Identifier, "Expect superclass method name.")?;
                let id = self.next_use();
                self.expr(Expr::Super {
                    offset: t.start,
                    method: self.ident(method),
                    id,
                })
            }
            This => {
                self.advance();
                let id = self.next_use();
                self.expr(Expr::This {
                    offset: t.start,
                    id,
                })
            }
            Identifier => {
                self.advance();
                let id = self.next_use();
                self.expr(Expr::Variable {
                    name: self.ident(t),
                    id,
                })
            }
            LeftParen => {
                self.advance();
                let inner = self.expression()?;
                self.consume(RightParen, "Expect ')' after expression.")?;
                self.expr(Expr::Grouping(inner))
            }
            _ => Err(self.error_at(t, "Expect expression.")),
        }
    }
}
