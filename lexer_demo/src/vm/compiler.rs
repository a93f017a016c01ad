//! From the resolved AST to bytecode: one [`Proto`] per function.
//!
//! Locals live in the VM's stack: slot 0 of a frame holds the callee (a
//! function) or `this` (a method), then the parameters, then the body's
//! locals in declaration order. A variable the resolver found in no scope
//! is a global, addressed by a slot number given here; every other variable
//! is looked up by name through the enclosing functions, as the resolver
//! did, becoming an upvalue when it belongs to an enclosing function.

use super::chunk::{Chunk, MAX_U24, Op};
use super::machine::Vm;
use super::object::{ObjStr, Proto};
use super::value::Value;
use super::{ObjHeap, RuntimeError};
use crate::ast::{Class, Expr, Function, Ident, Literal, Program, Stmt};
use crate::resolver::Resolution;
use crate::token::{LineIndex, TokenKind};
use std::collections::HashMap;

/// Compiles `program` into the VM's functions and returns the index of the
/// top level's.
pub(crate) fn compile<H: ObjHeap>(
    vm: &mut Vm<'_, H>,
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
) -> Result<usize, RuntimeError> {
    let mut c = Compiler {
        vm,
        res,
        source,
        lines: LineIndex::new(source),
        fns: Vec::new(),
        classes: Vec::new(),
    };
    c.fns
        .push(FnState::new(FnKind::Script, std::ptr::null(), 0));
    for s in program.statements {
        c.stmt(s)?;
    }
    c.emit(Op::Nil, 0);
    c.emit(Op::Return, 0);
    let f = c.fns.pop().expect("the script's state");
    c.vm.add_proto(f.into_proto())
        .map_err(|e| c.error(0, &format!("Internal error: {e}.")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FnKind {
    Script,
    Function,
    Method,
    Initializer,
}

struct Local<'a> {
    name: &'a str,
    /// Scope depth, or `None` while declared but not yet defined.
    depth: u32,
    captured: bool,
}

struct FnState<'a> {
    kind: FnKind,
    chunk: Chunk,
    locals: Vec<Local<'a>>,
    upvalues: Vec<(bool, u32)>,
    depth: u32,
    name: *const ObjStr,
    arity: u8,
    numbers: HashMap<u64, u32>,
    strings: HashMap<*const ObjStr, u32>,
}

impl<'a> FnState<'a> {
    fn new(kind: FnKind, name: *const ObjStr, arity: u8) -> FnState<'a> {
        let slot0 = if matches!(kind, FnKind::Method | FnKind::Initializer) {
            "this"
        } else {
            ""
        };
        FnState {
            kind,
            chunk: Chunk::default(),
            locals: vec![Local {
                name: slot0,
                depth: 0,
                captured: false,
            }],
            upvalues: Vec::new(),
            depth: 0,
            name,
            arity,
            numbers: HashMap::new(),
            strings: HashMap::new(),
        }
    }

    fn into_proto(mut self) -> Proto {
        // The code is final: give back what the vectors grew beyond it (up
        // to half of each), which the program would otherwise hold for its
        // whole run.
        self.chunk.shrink_to_fit();
        Proto {
            name: self.name,
            arity: self.arity,
            upvalues: u32::try_from(self.upvalues.len()).unwrap_or(u32::MAX),
            max_stack: 0,
            chunk: self.chunk,
        }
    }
}

struct Compiler<'c, 'o, 'a, H: ObjHeap> {
    vm: &'c mut Vm<'o, H>,
    res: &'c Resolution,
    source: &'a str,
    lines: LineIndex,
    fns: Vec<FnState<'a>>,
    /// Per class being compiled: whether it has a superclass.
    classes: Vec<bool>,
}

type Done = Result<(), RuntimeError>;

impl<'a, H: ObjHeap> Compiler<'_, '_, 'a, H> {
    fn f(&mut self) -> &mut FnState<'a> {
        self.fns.last_mut().expect("a function is being compiled")
    }

    fn line(&self, offset: u32) -> u32 {
        self.lines.line_of(offset)
    }

    fn line_of(&self, name: Ident<'_>) -> u32 {
        self.line(name.offset_in(self.source))
    }

    fn error(&self, line: u32, message: &str) -> RuntimeError {
        RuntimeError {
            message: message.to_string(),
            line,
        }
    }

    fn emit(&mut self, op: Op, line: u32) {
        self.f().chunk.emit_op(op, line);
    }

    fn emit_u24(&mut self, op: Op, operand: u32, line: u32) {
        let c = &mut self.f().chunk;
        c.emit_op(op, line);
        c.emit_u24(operand);
    }

    fn emit_slot(&mut self, op: Op, operand: u32, line: u32) {
        let c = &mut self.f().chunk;
        c.emit_op(op, line);
        c.emit_u24(operand);
    }

    fn emit_jump(&mut self, op: Op, line: u32) -> usize {
        let c = &mut self.f().chunk;
        c.emit_op(op, line);
        let at = c.code.len();
        c.emit_u32(0);
        at
    }

    fn patch_jump(&mut self, at: usize) {
        let c = &mut self.f().chunk;
        let distance = c.code.len() - (at + 4);
        c.patch_u32(at, u32::try_from(distance).unwrap_or(u32::MAX));
    }

    /// A jump back to `start`, on the line of the instruction before it
    /// (the end of the loop's body), where an exhausted step budget is
    /// reported.
    fn emit_loop(&mut self, start: usize) {
        let c = &mut self.f().chunk;
        c.emit_op(Op::Loop, c.last_line());
        let distance = c.code.len() + 4 - start;
        c.emit_u32(u32::try_from(distance).unwrap_or(u32::MAX));
    }

    fn intern(&mut self, s: &str, line: u32) -> Result<*const ObjStr, RuntimeError> {
        self.vm
            .intern(s)
            .ok_or_else(|| self.error(line, "Out of memory."))
    }

    fn constant(&mut self, v: Value, line: u32) -> Result<u32, RuntimeError> {
        self.f()
            .chunk
            .add_constant(v)
            .ok_or_else(|| self.error(line, "Too many constants in one function."))
    }

    fn number(&mut self, n: f64, line: u32) -> Done {
        let bits = n.to_bits();
        let k = match self.f().numbers.get(&bits) {
            Some(&k) => k,
            None => {
                let k = self.constant(Value::number(n), line)?;
                self.f().numbers.insert(bits, k);
                k
            }
        };
        self.emit_u24(Op::Constant, k, line);
        Ok(())
    }

    /// The constant index of an interned string.
    fn string(&mut self, s: &str, line: u32) -> Result<u32, RuntimeError> {
        let p = self.intern(s, line)?;
        if let Some(&k) = self.f().strings.get(&p) {
            return Ok(k);
        }
        let k = self.constant(Value::object(p.cast()), line)?;
        self.f().strings.insert(p, k);
        Ok(k)
    }

    fn global(&mut self, name: &str, line: u32) -> Result<u32, RuntimeError> {
        let p = self.intern(name, line)?;
        let g = self.vm.global_slot(p);
        if g > MAX_U24 {
            return Err(self.error(line, "Too many global variables."));
        }
        Ok(g)
    }

    // ----- scopes and variables -----------------------------------------

    fn begin_scope(&mut self) {
        self.f().depth += 1;
    }

    fn end_scope(&mut self, line: u32) {
        let f = self.f();
        f.depth -= 1;
        let depth = f.depth;
        let mut ops = Vec::new();
        while f.locals.last().is_some_and(|l| l.depth > depth) {
            let l = f.locals.pop().expect("checked above");
            ops.push(if l.captured {
                Op::CloseUpvalue
            } else {
                Op::Pop
            });
        }
        for op in ops {
            self.emit(op, line);
        }
    }

    /// Whether a declaration at this point makes a global.
    fn at_global_scope(&mut self) -> bool {
        let f = self.f();
        f.kind == FnKind::Script && f.depth == 0
    }

    fn add_local(&mut self, name: &'a str, line: u32) -> Done {
        let f = self.f();
        if f.locals.len() > MAX_U24 as usize {
            return Err(self.error(line, "Too many local variables in function."));
        }
        let depth = f.depth;
        f.locals.push(Local {
            name,
            depth,
            captured: false,
        });
        Ok(())
    }

    fn resolve_local(f: &FnState<'_>, name: &str) -> Option<u32> {
        f.locals
            .iter()
            .rposition(|l| l.name == name)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
    }

    fn add_upvalue(
        &mut self,
        fi: usize,
        is_local: bool,
        index: u32,
        line: u32,
    ) -> Result<u32, RuntimeError> {
        let f = &mut self.fns[fi];
        if let Some(i) = f.upvalues.iter().position(|&u| u == (is_local, index)) {
            return Ok(u32::try_from(i).unwrap_or(u32::MAX));
        }
        if f.upvalues.len() >= MAX_U24 as usize {
            return Err(self.error(line, "Too many closure variables in function."));
        }
        f.upvalues.push((is_local, index));
        Ok(u32::try_from(f.upvalues.len() - 1).unwrap_or(u32::MAX))
    }

    fn resolve_upvalue(
        &mut self,
        fi: usize,
        name: &str,
        line: u32,
    ) -> Result<Option<u32>, RuntimeError> {
        if fi == 0 {
            return Ok(None);
        }
        if let Some(slot) = Self::resolve_local(&self.fns[fi - 1], name) {
            self.fns[fi - 1].locals[slot as usize].captured = true;
            return self.add_upvalue(fi, true, slot, line).map(Some);
        }
        match self.resolve_upvalue(fi - 1, name, line)? {
            Some(up) => self.add_upvalue(fi, false, up, line).map(Some),
            None => Ok(None),
        }
    }

    /// Emits a read (`set == false`) or write of the variable `name`.
    fn variable(&mut self, name: &str, global: bool, set: bool, line: u32) -> Done {
        if !global {
            let fi = self.fns.len() - 1;
            if let Some(slot) = Self::resolve_local(&self.fns[fi], name) {
                let op = if set { Op::SetLocal } else { Op::GetLocal };
                self.emit_slot(op, slot, line);
                return Ok(());
            }
            if let Some(up) = self.resolve_upvalue(fi, name, line)? {
                let op = if set { Op::SetUpvalue } else { Op::GetUpvalue };
                self.emit_slot(op, up, line);
                return Ok(());
            }
        }
        let g = self.global(name, line)?;
        let op = if set { Op::SetGlobal } else { Op::GetGlobal };
        self.emit_u24(op, g, line);
        Ok(())
    }

    /// Defines a just-declared variable whose value is on the stack: a
    /// global is stored, a local already sits in its slot.
    fn define(&mut self, name: &'a str, line: u32) -> Done {
        if self.at_global_scope() {
            let g = self.global(name, line)?;
            self.emit_u24(Op::DefineGlobal, g, line);
            Ok(())
        } else {
            self.add_local(name, line)
        }
    }

    // ----- statements -----------------------------------------------------

    fn stmt(&mut self, s: &'a Stmt<'a>) -> Done {
        match *s {
            Stmt::Expression(e) => {
                self.expr(e)?;
                self.emit(Op::Pop, 0);
            }
            Stmt::Print(e) => {
                self.expr(e)?;
                self.emit(Op::Print, 0);
            }
            Stmt::Var { name, init } => {
                let line = self.line_of(name);
                match init {
                    Some(e) => self.expr(e)?,
                    None => self.emit(Op::Nil, line),
                }
                self.define(name.name, line)?;
            }
            Stmt::Block { body, decls } => {
                if decls > 0 {
                    self.begin_scope();
                }
                for s in body {
                    self.stmt(s)?;
                }
                if decls > 0 {
                    self.end_scope(0);
                }
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond)?;
                let to_else = self.emit_jump(Op::JumpIfFalse, 0);
                self.emit(Op::Pop, 0);
                self.stmt(then)?;
                let to_end = self.emit_jump(Op::Jump, 0);
                self.patch_jump(to_else);
                self.emit(Op::Pop, 0);
                if let Some(o) = otherwise {
                    self.stmt(o)?;
                }
                self.patch_jump(to_end);
            }
            Stmt::While { cond, body } => {
                let start = self.f().chunk.code.len();
                self.expr(cond)?;
                let exit = self.emit_jump(Op::JumpIfFalse, 0);
                self.emit(Op::Pop, 0);
                self.stmt(body)?;
                self.emit_loop(start);
                self.patch_jump(exit);
                self.emit(Op::Pop, 0);
            }
            Stmt::Function(f) => {
                let line = self.line_of(f.name);
                if self.at_global_scope() {
                    self.function(f, FnKind::Function)?;
                    let g = self.global(f.name.name, line)?;
                    self.emit_u24(Op::DefineGlobal, g, line);
                } else {
                    // Declared first, so the body can call itself.
                    self.add_local(f.name.name, line)?;
                    self.function(f, FnKind::Function)?;
                }
            }
            Stmt::Return { offset, value } => {
                let line = self.line(offset);
                if self.f().kind == FnKind::Initializer {
                    self.emit_slot(Op::GetLocal, 0, line);
                } else {
                    match value {
                        Some(e) => self.expr(e)?,
                        None => self.emit(Op::Nil, line),
                    }
                }
                self.emit(Op::Return, line);
            }
            Stmt::Class(c) => self.class(c)?,
        }
        Ok(())
    }

    fn function(&mut self, decl: &'a Function<'a>, kind: FnKind) -> Done {
        let line = self.line_of(decl.name);
        let name = self.intern(decl.name.name, line)?;
        let arity = u8::try_from(decl.params.len())
            .map_err(|_| self.error(line, "Can't have more than 255 parameters."))?;
        self.fns.push(FnState::new(kind, name, arity));
        self.begin_scope();
        for p in decl.params {
            let l = self.line_of(*p);
            self.add_local(p.name, l)?;
        }
        for s in decl.body {
            self.stmt(s)?;
        }
        if kind == FnKind::Initializer {
            self.emit_slot(Op::GetLocal, 0, 0);
        } else {
            self.emit(Op::Nil, 0);
        }
        self.emit(Op::Return, 0);
        let f = self.fns.pop().expect("pushed above");
        let upvalues = f.upvalues.clone();
        let index = self
            .vm
            .add_proto(f.into_proto())
            .map_err(|e| self.error(line, &format!("Internal error: {e}.")))?;
        let index = u32::try_from(index)
            .ok()
            .filter(|&i| i <= MAX_U24)
            .ok_or_else(|| self.error(line, "Too many functions."))?;
        self.emit_u24(Op::Closure, index, line);
        let chunk = &mut self.f().chunk;
        for (is_local, i) in upvalues {
            chunk.emit_u8(u8::from(is_local));
            chunk.emit_u24(i);
        }
        Ok(())
    }

    fn class(&mut self, c: &'a Class<'a>) -> Done {
        let line = self.line_of(c.name);
        let name = self.string(c.name.name, line)?;
        let global = self.at_global_scope();
        self.emit_u24(Op::Class, name, line);
        self.define(c.name.name, line)?;
        let has_super = c.superclass.is_some();
        self.classes.push(has_super);
        if let Some(sup) = c.superclass {
            let Expr::Variable { name: sname, .. } = *sup else {
                return Err(self.error(line, "Internal error: superclass."));
            };
            let sline = self.line_of(sname);
            self.begin_scope();
            self.expr(sup)?;
            self.add_local("super", sline)?;
            self.variable(c.name.name, global, false, line)?;
            self.emit(Op::Inherit, sline);
        }
        self.variable(c.name.name, global, false, line)?;
        for m in c.methods {
            let mline = self.line_of(m.name);
            let kind = if m.name.name == "init" {
                FnKind::Initializer
            } else {
                FnKind::Method
            };
            self.function(m, kind)?;
            let k = self.string(m.name.name, mline)?;
            self.emit_u24(Op::Method, k, mline);
        }
        self.emit(Op::Pop, line);
        if has_super {
            self.end_scope(line);
        }
        self.classes.pop();
        Ok(())
    }

    // ----- expressions ----------------------------------------------------

    fn is_global(&self, id: u32) -> bool {
        self.res.depth(id).is_none()
    }

    fn expr(&mut self, e: &'a Expr<'a>) -> Done {
        match *e {
            Expr::Literal(l) => match l {
                Literal::Number(n) => self.number(n, 0)?,
                Literal::Str(s) => {
                    let k = self.string(s, 0)?;
                    self.emit_u24(Op::Constant, k, 0);
                }
                Literal::Bool(true) => self.emit(Op::True, 0),
                Literal::Bool(false) => self.emit(Op::False, 0),
                Literal::Nil => self.emit(Op::Nil, 0),
            },
            Expr::Grouping(inner) => self.expr(inner)?,
            Expr::Unary { op, right } => {
                self.expr(right)?;
                let line = self.line(op.offset);
                match op.kind {
                    TokenKind::Minus => self.emit(Op::Negate, line),
                    _ => self.emit(Op::Not, line),
                }
            }
            Expr::Binary { left, op, right } => {
                self.expr(left)?;
                self.expr(right)?;
                let line = self.line(op.offset);
                let (a, not) = match op.kind {
                    TokenKind::Plus => (Op::Add, false),
                    TokenKind::Minus => (Op::Subtract, false),
                    TokenKind::Star => (Op::Multiply, false),
                    TokenKind::Slash => (Op::Divide, false),
                    TokenKind::EqualEqual => (Op::Equal, false),
                    TokenKind::BangEqual => (Op::Equal, true),
                    TokenKind::Greater => (Op::Greater, false),
                    TokenKind::GreaterEqual => (Op::GreaterEqual, false),
                    TokenKind::Less => (Op::Less, false),
                    TokenKind::LessEqual => (Op::LessEqual, false),
                    _ => return Err(self.error(line, "Internal error: operator.")),
                };
                self.emit(a, line);
                if not {
                    self.emit(Op::Not, line);
                }
            }
            Expr::Logical { left, op, right } => {
                self.expr(left)?;
                if op.kind == TokenKind::And {
                    let end = self.emit_jump(Op::JumpIfFalse, 0);
                    self.emit(Op::Pop, 0);
                    self.expr(right)?;
                    self.patch_jump(end);
                } else {
                    let to_right = self.emit_jump(Op::JumpIfFalse, 0);
                    let end = self.emit_jump(Op::Jump, 0);
                    self.patch_jump(to_right);
                    self.emit(Op::Pop, 0);
                    self.expr(right)?;
                    self.patch_jump(end);
                }
            }
            Expr::Variable { name, id } => {
                let line = self.line_of(name);
                let global = self.is_global(id);
                self.variable(name.name, global, false, line)?;
            }
            Expr::Assign { name, value, id } => {
                self.expr(value)?;
                let line = self.line_of(name);
                let global = self.is_global(id);
                self.variable(name.name, global, true, line)?;
            }
            Expr::Call {
                callee,
                args,
                paren,
            } => {
                let line = self.line(paren);
                match *callee {
                    Expr::Get { object, name } => {
                        self.expr(object)?;
                        let nline = self.line_of(name);
                        let k = self.string(name.name, nline)?;
                        self.emit_u24(Op::GetMethod, k, nline);
                        self.args(args, Op::CallMethod, line)?;
                    }
                    Expr::Super { offset, method, .. } => {
                        let kline = self.line(offset);
                        self.variable("this", false, false, kline)?;
                        self.variable("super", false, false, kline)?;
                        let mline = self.line_of(method);
                        let k = self.string(method.name, mline)?;
                        self.emit_u24(Op::GetSuperMethod, k, mline);
                        self.args(args, Op::CallMethod, line)?;
                    }
                    _ => {
                        self.expr(callee)?;
                        self.args(args, Op::Call, line)?;
                    }
                }
            }
            Expr::Get { object, name } => {
                self.expr(object)?;
                let line = self.line_of(name);
                let k = self.string(name.name, line)?;
                self.emit_u24(Op::GetProperty, k, line);
            }
            Expr::Set {
                object,
                name,
                value,
            } => {
                self.expr(object)?;
                let line = self.line_of(name);
                self.emit(Op::CheckInstance, line);
                self.expr(value)?;
                let k = self.string(name.name, line)?;
                self.emit_u24(Op::SetProperty, k, line);
            }
            Expr::This { offset, .. } => {
                let line = self.line(offset);
                self.variable("this", false, false, line)?;
            }
            Expr::Super { offset, method, .. } => {
                let line = self.line(offset);
                self.variable("this", false, false, line)?;
                self.variable("super", false, false, line)?;
                let mline = self.line_of(method);
                let k = self.string(method.name, mline)?;
                self.emit_u24(Op::GetSuper, k, mline);
            }
        }
        Ok(())
    }

    fn args(&mut self, args: &'a [&'a Expr<'a>], call: Op, line: u32) -> Done {
        for a in args {
            self.expr(a)?;
        }
        let argc = u8::try_from(args.len())
            .map_err(|_| self.error(line, "Can't have more than 255 arguments."))?;
        let c = &mut self.f().chunk;
        c.emit_op(call, line);
        c.emit_u8(argc);
        Ok(())
    }
}
