//! The S-expression AST dump that `lexer_demo parse` prints and the snapshots
//! record.
//!
//! Expressions print as the reference AST printer does: `(+ 1.0 2.0)`,
//! `(group e)`, `(- 1.0)`, numbers always with a fractional part, strings as
//! their raw contents. The rest:
//!
//! | node | dump |
//! |---|---|
//! | `a and b`, `a or b` | `(and a b)`, `(or a b)` |
//! | variable, `this` | `name`, `this` |
//! | `a = v` | `(= a v)` |
//! | `f(x, y)` | `(call f x y)` |
//! | `o.p` | `(. o p)` |
//! | `o.p = v` | `(set o p v)` |
//! | `super.m` | `(super m)` |
//!
//! Statements print one construct a line; a construct with children opens on
//! its own line, indents each child by two spaces, and closes on the last
//! child's line:
//!
//! ```text
//! (print e)        (expr e)         (var x e)   (var x)
//! (return e)       (return)
//! (block           (if cond         (while cond
//!   stmt             then             body)
//!   stmt)            else)
//! (fun name (a b)  (class Name < Super
//!   stmt)            (fun method ()))
//! ```
//!
//! `for` loops appear desugared into `block` and `while`, as the parser
//! builds them.

use crate::ast::{Expr, Function, Literal, Program, Stmt};
use std::fmt::Write;

/// The dump of a whole program, one top-level statement (and its children)
/// a line, ending in a newline if not empty.
///
/// ```
/// use lexer_demo::parser::parse;
/// use lexer_demo::printer::print_program;
/// let ctx = morph_runtime::MorphContext::new();
/// let out = parse("if (a) print 1; else { print 2; }", &ctx, &ctx).unwrap();
/// assert_eq!(print_program(&out.program), "(if a\n  (print 1.0)\n  (block\n    (print 2.0)))\n");
/// ```
pub fn print_program(program: &Program<'_>) -> String {
    let mut lines = Vec::new();
    for s in program.statements {
        stmt(&mut lines, s, 0);
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The dump of one expression.
///
/// ```
/// use lexer_demo::ast::{Expr, Literal};
/// use lexer_demo::printer::print_expr;
/// assert_eq!(print_expr(&Expr::Literal(Literal::Number(5.0))), "5.0");
/// assert_eq!(print_expr(&Expr::Literal(Literal::Str("a b"))), "a b");
/// ```
pub fn print_expr(e: &Expr<'_>) -> String {
    let mut s = String::new();
    expr(&mut s, e);
    s
}

fn number(out: &mut String, n: f64) {
    if n.is_finite() && n.fract() == 0.0 {
        let _ = write!(out, "{n:.1}");
    } else {
        let _ = write!(out, "{n}");
    }
}

fn expr(out: &mut String, e: &Expr<'_>) {
    match *e {
        Expr::Binary { left, op, right } | Expr::Logical { left, op, right } => {
            let name = match op.kind {
                crate::token::TokenKind::And => "and",
                crate::token::TokenKind::Or => "or",
                k => symbol(k),
            };
            let _ = write!(out, "({name} ");
            expr(out, left);
            out.push(' ');
            expr(out, right);
            out.push(')');
        }
        Expr::Unary { op, right } => {
            let _ = write!(out, "({} ", symbol(op.kind));
            expr(out, right);
            out.push(')');
        }
        Expr::Grouping(inner) => {
            out.push_str("(group ");
            expr(out, inner);
            out.push(')');
        }
        Expr::Literal(lit) => match lit {
            Literal::Number(n) => number(out, n),
            Literal::Str(s) => out.push_str(s),
            Literal::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Literal::Nil => out.push_str("nil"),
        },
        Expr::Variable { name, .. } => out.push_str(name.name),
        Expr::Assign { name, value, .. } => {
            let _ = write!(out, "(= {} ", name.name);
            expr(out, value);
            out.push(')');
        }
        Expr::Call { callee, args, .. } => {
            out.push_str("(call ");
            expr(out, callee);
            for a in args {
                out.push(' ');
                expr(out, a);
            }
            out.push(')');
        }
        Expr::Get { object, name } => {
            out.push_str("(. ");
            expr(out, object);
            let _ = write!(out, " {})", name.name);
        }
        Expr::Set {
            object,
            name,
            value,
        } => {
            out.push_str("(set ");
            expr(out, object);
            let _ = write!(out, " {} ", name.name);
            expr(out, value);
            out.push(')');
        }
        Expr::This { .. } => out.push_str("this"),
        Expr::Super { method, .. } => {
            let _ = write!(out, "(super {})", method.name);
        }
    }
}

fn symbol(kind: crate::token::TokenKind) -> &'static str {
    use crate::token::TokenKind::*;
    match kind {
        Minus => "-",
        Plus => "+",
        Slash => "/",
        Star => "*",
        Bang => "!",
        BangEqual => "!=",
        EqualEqual => "==",
        Greater => ">",
        GreaterEqual => ">=",
        Less => "<",
        LessEqual => "<=",
        other => other.name(),
    }
}

fn line(lines: &mut Vec<String>, depth: usize, text: String) {
    lines.push(format!("{:width$}{text}", "", width = depth * 2));
}

/// Closes the construct opened `opened` lines ago: a `)` on the last line.
fn close(lines: &mut [String]) {
    if let Some(last) = lines.last_mut() {
        last.push(')');
    }
}

fn with_expr(head: &str, e: &Expr<'_>) -> String {
    let mut s = format!("({head} ");
    expr(&mut s, e);
    s
}

fn stmt(lines: &mut Vec<String>, s: &Stmt<'_>, depth: usize) {
    match *s {
        Stmt::Expression(e) => line(lines, depth, with_expr("expr", e) + ")"),
        Stmt::Print(e) => line(lines, depth, with_expr("print", e) + ")"),
        Stmt::Var { name, init } => match init {
            Some(e) => line(
                lines,
                depth,
                with_expr(&format!("var {}", name.name), e) + ")",
            ),
            None => line(lines, depth, format!("(var {})", name.name)),
        },
        Stmt::Return { value, .. } => match value {
            Some(e) => line(lines, depth, with_expr("return", e) + ")"),
            None => line(lines, depth, "(return)".to_string()),
        },
        Stmt::Block { body: list, .. } => {
            line(lines, depth, "(block".to_string());
            for s in list {
                stmt(lines, s, depth + 1);
            }
            close(lines);
        }
        Stmt::If {
            cond,
            then,
            otherwise,
        } => {
            line(lines, depth, with_expr("if", cond));
            stmt(lines, then, depth + 1);
            if let Some(o) = otherwise {
                stmt(lines, o, depth + 1);
            }
            close(lines);
        }
        Stmt::While { cond, body } => {
            line(lines, depth, with_expr("while", cond));
            stmt(lines, body, depth + 1);
            close(lines);
        }
        Stmt::Function(f) => function(lines, f, depth),
        Stmt::Class(class) => {
            let mut head = format!("(class {}", class.name.name);
            if let Some(sup) = class.superclass {
                head.push_str(" < ");
                expr(&mut head, sup);
            }
            line(lines, depth, head);
            for m in class.methods {
                function(lines, m, depth + 1);
            }
            close(lines);
        }
    }
}

fn function(lines: &mut Vec<String>, f: &Function<'_>, depth: usize) {
    let params: Vec<&str> = f.params.iter().map(|p| p.name).collect();
    line(
        lines,
        depth,
        format!("(fun {} ({})", f.name.name, params.join(" ")),
    );
    for s in f.body {
        stmt(lines, s, depth + 1);
    }
    close(lines);
}
