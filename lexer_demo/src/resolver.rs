//! Scope resolution and the static errors of LOX.md.
//!
//! For every variable use ([`UseId`]) the resolver records how many scopes
//! out its binding is, or that it is global; the compiler turns that into
//! a local slot, an upvalue or a global. Globals may be redeclared; local scopes may not.

use crate::ast::{Expr, Function, Ident, Program, Stmt, UseId};
use crate::diagnostics::{Diagnostic, Location};
use crate::token::LazyLines;
use rustc_hash::FxHashMap;

/// A scope: each name, whether its initialiser has been resolved, and its
/// slot (declaration order). Hashed with rustc's own hasher: scopes are
/// hashed on every declaration and lookup, and SipHash's resistance to
/// flooding buys nothing for a compiler's own scope tables.
type Scope<'a> = FxHashMap<&'a str, (bool, u32)>;

/// The slot the next variable of `scope` takes, or `None` when the scope
/// is full: slots are `u32`, so a scope holds at most `u32::MAX` variables. No source
/// the front end accepts comes near (it is under 4 GiB, and each variable
/// of a scope is declared by a name and a byte after it at least, so there
/// are fewer than 2^31), but a count is never truncated into a slot that
/// another variable has.
fn next_slot(scope: &Scope<'_>) -> Option<u32> {
    u32::try_from(scope.len()).ok().filter(|&n| n < u32::MAX)
}

pub use crate::ast::declarations;

/// Scope distances of every variable use.
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::resolver::resolve;
/// let src = "var g = 1; { var a = 2; fun f() { print a + g; } }";
/// let ctx = morph_runtime::MorphContext::new();
/// let out = parse(src, &ctx, &ctx).unwrap();
/// let (res, errors) = resolve(&out.program, src);
/// assert!(errors.is_empty());
/// // Uses in order of parsing: `a` (one scope out: past f's scope), `g` (global).
/// assert_eq!((res.depth(0), res.depth(1)), (Some(1), None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Per use: (depth or `GLOBAL`, slot), together so a lookup is one load.
    uses: Vec<(u32, u32)>,
}

const GLOBAL: u32 = u32::MAX;

impl Resolution {
    /// How many scopes out the binding of `id` is; `None` for a global (or an
    /// id the resolver never reached).
    ///
    /// ```
    /// use lexer_demo::{parser::parse, resolver::resolve};
    /// let src = "var g; { var a; a; g; }";
    /// let ctx = morph_runtime::MorphContext::new();
    /// let (res, _) = resolve(&parse(src, &ctx, &ctx).unwrap().program, src);
    /// assert_eq!((res.depth(0), res.depth(1)), (Some(0), None));
    /// ```
    pub fn depth(&self, id: UseId) -> Option<u32> {
        match self.uses.get(id as usize) {
            Some(&(d, _)) if d != GLOBAL => Some(d),
            _ => None,
        }
    }

    /// The slot of `id`'s binding in its scope (its declaration order: a
    /// method's `this`, a function's parameters, then its body's
    /// declarations); 0 for a global.
    ///
    /// ```
    /// use lexer_demo::{parser::parse, resolver::resolve};
    /// let src = "{ var a; var b; b; }";
    /// let ctx = morph_runtime::MorphContext::new();
    /// let (res, _) = resolve(&parse(src, &ctx, &ctx).unwrap().program, src);
    /// assert_eq!((res.depth(0), res.slot(0)), (Some(0), 1));
    /// ```
    pub fn slot(&self, id: UseId) -> u32 {
        self.uses.get(id as usize).map_or(0, |u| u.1)
    }

    /// Depth and slot of `id` together: `None` for a global.
    ///
    /// ```
    /// use lexer_demo::{parser::parse, resolver::resolve};
    /// let src = "var g; { var a; var b; b; g; }";
    /// let ctx = morph_runtime::MorphContext::new();
    /// let (res, _) = resolve(&parse(src, &ctx, &ctx).unwrap().program, src);
    /// assert_eq!((res.local(0), res.local(1)), (Some((0, 1)), None));
    /// ```
    #[inline]
    pub fn local(&self, id: UseId) -> Option<(u32, u32)> {
        match self.uses.get(id as usize) {
            Some(&(d, slot)) if d != GLOBAL => Some((d, slot)),
            _ => None,
        }
    }

    /// How many uses resolve to a local binding.
    ///
    /// ```
    /// use lexer_demo::{parser::parse, resolver::resolve};
    /// let src = "var g; { var a; a; g; }";
    /// let ctx = morph_runtime::MorphContext::new();
    /// let (res, _) = resolve(&parse(src, &ctx, &ctx).unwrap().program, src);
    /// assert_eq!(res.locals(), 1);
    /// ```
    pub fn locals(&self) -> usize {
        self.uses.iter().filter(|u| u.0 != GLOBAL).count()
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

/// Resolves `program`, parsed from `source`; returns the distances and the
/// static errors in the order met.
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::resolver::resolve;
/// let src = "return 1;";
/// let ctx = morph_runtime::MorphContext::new();
/// let out = parse(src, &ctx, &ctx).unwrap();
/// let (_, errors) = resolve(&out.program, src);
/// assert_eq!(errors[0].to_string(), "[line 1] Error at 'return': Can't return from top-level code.");
/// ```
pub fn resolve(program: &Program<'_>, source: &str) -> (Resolution, Vec<Diagnostic>) {
    let lines = LazyLines::new(source);
    let mut r = Resolver {
        scopes: Vec::new(),
        spare: Vec::new(),
        uses: vec![(GLOBAL, 0); program.uses as usize],
        function: FunctionType::None,
        class: ClassType::None,
        diagnostics: Vec::new(),
        lines: &lines,
        source,
    };
    r.statements(program.statements);
    (Resolution { uses: r.uses }, r.diagnostics)
}

struct Resolver<'a, 'l> {
    /// Innermost last; `false` while a variable's initialiser is resolved.
    scopes: Vec<Scope<'a>>,
    /// Emptied scopes kept for reuse, so a block does not allocate a table.
    spare: Vec<Scope<'a>>,
    uses: Vec<(u32, u32)>,
    function: FunctionType,
    class: ClassType,
    diagnostics: Vec<Diagnostic>,
    lines: &'l LazyLines<'l>,
    source: &'l str,
}

impl<'a> Resolver<'a, '_> {
    fn error(&mut self, lexeme: &str, offset: u32, message: &str) {
        let line = self.lines.get().line_of(offset);
        self.diagnostics.push(
            Diagnostic::new(line, Location::At(lexeme.to_string()), message).with_span(
                offset,
                // The lexeme is a slice of the source at `offset`, so this
                // is within the source; saturating only to stay total.
                offset.saturating_add(u32::try_from(lexeme.len()).unwrap_or(u32::MAX)),
            ),
        );
    }

    fn statements(&mut self, list: &[Stmt<'a>]) {
        for s in list {
            self.stmt(s);
        }
    }

    fn begin(&mut self) {
        let scope = self.spare.pop().unwrap_or_default();
        self.scopes.push(scope);
    }

    fn end(&mut self) {
        if let Some(mut scope) = self.scopes.pop() {
            scope.clear();
            self.spare.push(scope);
        }
    }

    fn declare(&mut self, name: Ident<'a>) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        let Some(slot) = next_slot(scope) else {
            self.error(
                name.name,
                name.offset_in(self.source),
                "Too many local variables in one scope.",
            );
            return;
        };
        if scope.insert(name.name, (false, slot)).is_some() {
            self.error(
                name.name,
                name.offset_in(self.source),
                "Already a variable with this name in this scope.",
            );
        }
    }

    fn define(&mut self, name: &'a str) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        if let Some(binding) = scope.get_mut(name) {
            binding.0 = true;
        } else if let Some(slot) = next_slot(scope) {
            // `this` and `super`, defined without a declaration (the first
            // variable of their scope). A name that did not fit its scope
            // was reported by `declare` and stays undefined.
            scope.insert(name, (true, slot));
        }
    }

    fn resolve_local(&mut self, id: UseId, name: &str) {
        for (i, scope) in self.scopes.iter().rev().enumerate() {
            if let Some(&(_, slot)) = scope.get(name) {
                // Cannot truncate: `i` is below the number of open scopes.
                // The parser nests at most `MAX_NESTING` (200) levels deep,
                // and each level opens at most two scopes (a class's
                // `super` scope and a method's); and any AST's scopes nest
                // only as deep as the resolver's own recursion can go,
                // which runs out of stack long before 2^32 levels.
                #[allow(clippy::cast_possible_truncation)]
                let depth = i as u32;
                if let Some(u) = self.uses.get_mut(id as usize) {
                    *u = (depth, slot);
                }
                return;
            }
        }
    }

    fn function(&mut self, f: &Function<'a>, kind: FunctionType) {
        let enclosing = std::mem::replace(&mut self.function, kind);
        self.begin();
        if matches!(kind, FunctionType::Method | FunctionType::Initializer) {
            // `this` is slot 0 of a method's own scope: the receiver sits in
            // the frame's slot 0, below the arguments.
            self.define("this");
        }
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
            Stmt::Block { body, decls: 0 } => self.statements(body),
            Stmt::Block { body: list, .. } => {
                self.begin();
                self.statements(list);
                self.end();
            }
            Stmt::Class(class) => {
                let (name, superclass, methods) = (class.name, class.superclass, class.methods);
                let enclosing = std::mem::replace(&mut self.class, ClassType::Class);
                self.declare(name);
                self.define(name.name);
                if let Some(sup) = superclass {
                    if let Expr::Variable { name: sname, .. } = *sup {
                        if sname.name == name.name {
                            self.error(
                                sname.name,
                                sname.offset_in(self.source),
                                "A class can't inherit from itself.",
                            );
                        }
                    }
                    self.class = ClassType::Subclass;
                    self.expr(sup);
                    self.begin();
                    self.define("super");
                }
                for m in methods {
                    let kind = if m.name.name == "init" {
                        FunctionType::Initializer
                    } else {
                        FunctionType::Method
                    };
                    self.function(m, kind);
                }
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
                // Assigning a variable in its own initializer is refused as
                // reading it is: it has no slot yet.
                self.refuse_own_initializer(name);
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
                self.refuse_own_initializer(name);
                self.resolve_local(id, name.name);
            }
        }
    }

    /// Reports a use of a local that is declared in the innermost scope but
    /// not yet defined (inside its own initializer).
    fn refuse_own_initializer(&mut self, name: crate::ast::Ident<'_>) {
        let declared_only = self
            .scopes
            .last()
            .and_then(|s| s.get(name.name))
            .map(|e| e.0)
            == Some(false);
        if declared_only {
            self.error(
                name.name,
                name.offset_in(self.source),
                "Can't read local variable in its own initializer.",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    /// Regression: assigning a local in its own initializer resolved to a
    /// variable with no slot yet (the tree-walker it replaced stopped with
    /// an internal error, the VM wrote to an outer variable). It is refused as reading
    /// it is.
    #[test]
    fn assigning_a_local_in_its_own_initializer_is_an_error() {
        let ctx = morph_runtime::MorphContext::new();
        for src in [
            "var a = 1; { var a = (a = 2); }",
            "fun f() { var b = (b = 1) + 1; }",
        ] {
            let c = crate::frontend::compile(src, &ctx, &ctx).unwrap();
            let messages: Vec<String> = c.diagnostics.iter().map(|d| d.to_string()).collect();
            assert_eq!(messages.len(), 1, "{src}: {messages:?}");
            assert!(
                messages[0].ends_with("Can't read local variable in its own initializer."),
                "{src}: {messages:?}"
            );
        }
        // A global initializer may assign the global (globals are late-bound).
        let c = crate::frontend::compile("var g = (g = 1);", &ctx, &ctx).unwrap();
        assert!(c.diagnostics.is_empty());
    }
}
