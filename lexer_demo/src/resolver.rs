//! Scope resolution and the static errors of LOX.md.
//!
//! For every variable use ([`UseId`]) the resolver records how many scopes
//! out its binding is, or that it is global; the interpreter looks variables
//! up by that distance. Globals may be redeclared; local scopes may not.

use crate::ast::{Expr, Function, Ident, Program, Stmt, UseId};
use crate::diagnostics::{Diagnostic, Location};
use crate::token::LineIndex;
use std::collections::HashMap;

/// Scope distances of every variable use.
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::resolver::resolve;
/// use lexer_demo::token::LineIndex;
/// let src = "var g = 1; { var a = 2; fun f() { print a + g; } }";
/// let ctx = morph_runtime::MorphContext::new();
/// let out = parse(src, &ctx, &ctx).unwrap();
/// let (res, errors) = resolve(&out.program, &LineIndex::new(src));
/// assert!(errors.is_empty());
/// // Uses in order of parsing: `a` (one scope out: past f's scope), `g` (global).
/// assert_eq!((res.depth(0), res.depth(1)), (Some(1), None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    depths: Vec<u32>,
}

const GLOBAL: u32 = u32::MAX;

impl Resolution {
    /// How many scopes out the binding of `id` is; `None` for a global (or an
    /// id the resolver never reached).
    pub fn depth(&self, id: UseId) -> Option<u32> {
        match self.depths.get(id as usize) {
            Some(&d) if d != GLOBAL => Some(d),
            _ => None,
        }
    }

    /// How many uses resolve to a local binding.
    pub fn locals(&self) -> usize {
        self.depths.iter().filter(|&&d| d != GLOBAL).count()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FunctionType {
    None,
    Function,
    Initializer,
    Method,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ClassType {
    None,
    Class,
    Subclass,
}

/// Resolves `program`; returns the distances and the static errors in the
/// order met.
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::resolver::resolve;
/// use lexer_demo::token::LineIndex;
/// let src = "return 1;";
/// let ctx = morph_runtime::MorphContext::new();
/// let out = parse(src, &ctx, &ctx).unwrap();
/// let (_, errors) = resolve(&out.program, &LineIndex::new(src));
/// assert_eq!(errors[0].to_string(), "[line 1] Error at 'return': Can't return from top-level code.");
/// ```
pub fn resolve(program: &Program<'_>, lines: &LineIndex) -> (Resolution, Vec<Diagnostic>) {
    let mut r = Resolver {
        scopes: Vec::new(),
        depths: vec![GLOBAL; program.uses as usize],
        function: FunctionType::None,
        class: ClassType::None,
        diagnostics: Vec::new(),
        lines,
    };
    r.statements(program.statements);
    (Resolution { depths: r.depths }, r.diagnostics)
}

struct Resolver<'a, 'l> {
    /// Innermost last; `false` while a variable's initialiser is resolved.
    scopes: Vec<HashMap<&'a str, bool>>,
    depths: Vec<u32>,
    function: FunctionType,
    class: ClassType,
    diagnostics: Vec<Diagnostic>,
    lines: &'l LineIndex,
}

impl<'a> Resolver<'a, '_> {
    fn error(&mut self, lexeme: &str, offset: u32, message: &str) {
        let line = self.lines.line_of(offset);
        self.diagnostics.push(
            Diagnostic::new(line, Location::At(lexeme.to_string()), message)
                .with_span(offset, offset + lexeme.len() as u32),
        );
    }

    fn statements(&mut self, list: &[Stmt<'a>]) {
        for s in list {
            self.stmt(s);
        }
    }

    fn begin(&mut self) {
        self.scopes.push(HashMap::new());
    }

    fn end(&mut self) {
        self.scopes.pop();
    }

    fn declare(&mut self, name: Ident<'a>) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        if scope.insert(name.name, false).is_some() {
            self.error(
                name.name,
                name.offset,
                "Already a variable with this name in this scope.",
            );
        }
    }

    fn define(&mut self, name: &'a str) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name, true);
        }
    }

    fn resolve_local(&mut self, id: UseId, name: &str) {
        for (i, scope) in self.scopes.iter().rev().enumerate() {
            if scope.contains_key(name) {
                if let Some(d) = self.depths.get_mut(id as usize) {
                    *d = i as u32;
                }
                return;
            }
        }
    }

    fn function(&mut self, f: &Function<'a>, kind: FunctionType) {
        let enclosing = std::mem::replace(&mut self.function, kind);
        self.begin();
        for p in f.params {
            self.declare(*p);
            self.define(p.name);
        }
        self.statements(f.body);
        self.end();
        self.function = enclosing;
    }

    fn stmt(&mut self, s: &Stmt<'a>) {
        match *s {
            Stmt::Block(list) => {
                self.begin();
                self.statements(list);
                self.end();
            }
            Stmt::Class {
                name,
                superclass,
                methods,
            } => {
                let enclosing = std::mem::replace(&mut self.class, ClassType::Class);
                self.declare(name);
                self.define(name.name);
                if let Some(sup) = superclass {
                    if let Expr::Variable { name: sname, .. } = *sup {
                        if sname.name == name.name {
                            self.error(
                                sname.name,
                                sname.offset,
                                "A class can't inherit from itself.",
                            );
                        }
                    }
                    self.class = ClassType::Subclass;
                    self.expr(sup);
                    self.begin();
                    self.define("super");
                }
                self.begin();
                self.define("this");
                for m in methods {
                    let kind = if m.name.name == "init" {
                        FunctionType::Initializer
                    } else {
                        FunctionType::Method
                    };
                    self.function(m, kind);
                }
                self.end();
                if superclass.is_some() {
                    self.end();
                }
                self.class = enclosing;
            }
            Stmt::Expression(e) | Stmt::Print(e) => self.expr(e),
            Stmt::Function(f) => {
                self.declare(f.name);
                self.define(f.name.name);
                self.function(f, FunctionType::Function);
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.stmt(then);
                if let Some(o) = otherwise {
                    self.stmt(o);
                }
            }
            Stmt::Return { offset, value } => {
                if self.function == FunctionType::None {
                    self.error("return", offset, "Can't return from top-level code.");
                }
                if let Some(v) = value {
                    if self.function == FunctionType::Initializer {
                        self.error(
                            "return",
                            offset,
                            "Can't return a value from an initializer.",
                        );
                    }
                    self.expr(v);
                }
            }
            Stmt::Var { name, init } => {
                self.declare(name);
                if let Some(e) = init {
                    self.expr(e);
                }
                self.define(name.name);
            }
            Stmt::While { cond, body } => {
                self.expr(cond);
                self.stmt(body);
            }
        }
    }

    fn expr(&mut self, e: &Expr<'a>) {
        match *e {
            Expr::Assign { name, value, id } => {
                self.expr(value);
                self.resolve_local(id, name.name);
            }
            Expr::Binary { left, right, .. } | Expr::Logical { left, right, .. } => {
                self.expr(left);
                self.expr(right);
            }
            Expr::Call { callee, args, .. } => {
                self.expr(callee);
                for a in args {
                    self.expr(a);
                }
            }
            Expr::Get { object, .. } => self.expr(object),
            Expr::Set { object, value, .. } => {
                self.expr(value);
                self.expr(object);
            }
            Expr::Grouping(inner) => self.expr(inner),
            Expr::Unary { right, .. } => self.expr(right),
            Expr::Literal(_) => {}
            Expr::Super { offset, id, .. } => {
                match self.class {
                    ClassType::None => {
                        self.error("super", offset, "Can't use 'super' outside of a class.")
                    }
                    ClassType::Class => self.error(
                        "super",
                        offset,
                        "Can't use 'super' in a class with no superclass.",
                    ),
                    ClassType::Subclass => {}
                }
                self.resolve_local(id, "super");
            }
            Expr::This { offset, id } => {
                if self.class == ClassType::None {
                    self.error("this", offset, "Can't use 'this' outside of a class.");
                    return;
                }
                self.resolve_local(id, "this");
            }
            Expr::Variable { name, id } => {
                if self.scopes.last().and_then(|s| s.get(name.name)) == Some(&false) {
                    self.error(
                        name.name,
                        name.offset,
                        "Can't read local variable in its own initializer.",
                    );
                }
                self.resolve_local(id, name.name);
            }
        }
    }
}
