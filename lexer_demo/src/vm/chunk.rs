//! Bytecode: one chunk per function, with its constants and the source line
//! of every instruction.
//!
//! Instructions are an opcode byte and fixed-width little-endian operands.
//! Operands are wide enough that no limit a program meets in practice
//! exists: constants, global slots, locals and upvalues take 24 bits (16
//! million each), jumps 32 bits, argument counts 8 bits (the parser
//! already refuses more than 255 arguments).

use super::value::Value;

/// Opcodes. The comment on each gives its operands and stack effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `k: u24` → push constant `k`.
    Constant,
    /// → push `nil`.
    Nil,
    /// → push `true`.
    True,
    /// → push `false`.
    False,
    /// `v` →.
    Pop,
    /// `slot: u24` → push the frame's local `slot`.
    GetLocal,
    /// `slot: u24`; `v` → `v`, stored in local `slot`.
    SetLocal,
    /// `g: u24` → push global `g` (an error if it is undefined).
    GetGlobal,
    /// `g: u24`; `v` →, defining global `g`.
    DefineGlobal,
    /// `g: u24`; `v` → `v`, assigned to global `g` (an error if undefined).
    SetGlobal,
    /// `i: u24` → push upvalue `i` of the running closure.
    GetUpvalue,
    /// `i: u24`; `v` → `v`, stored in upvalue `i`.
    SetUpvalue,
    /// `name: u24`; `obj` → the property.
    GetProperty,
    /// `name: u24`; `obj v` → `v`, stored in the field.
    SetProperty,
    /// `name: u24`; `this super` → the bound method.
    GetSuper,
    /// `name: u24`; `obj` → `method obj`, or `field EMPTY` when a field
    /// holds the callee: the property is found (or the error raised) before
    /// the arguments are evaluated.
    GetMethod,
    /// `name: u24`; `this super` → `method this`.
    GetSuperMethod,
    /// `argc: u8`; `callee this-or-EMPTY args…` → result.
    CallMethod,
    /// `obj` → `obj`, an error unless it is an instance (a field store
    /// checks its object before the value is evaluated).
    CheckInstance,
    /// `a b` → `a == b`.
    Equal,
    /// `a b` → `a > b`.
    Greater,
    /// `a b` → `a < b`.
    Less,
    /// `a b` → `a >= b` (not `!(a < b)`: NaN compares false both ways).
    GreaterEqual,
    /// `a b` → `a <= b`.
    LessEqual,
    /// `a b` → `a + b` (numbers or strings).
    Add,
    /// `a b` → `a - b`.
    Subtract,
    /// `a b` → `a * b`.
    Multiply,
    /// `a b` → `a / b`.
    Divide,
    /// `v` → `!v`.
    Not,
    /// `v` → `-v`.
    Negate,
    /// `v` →, printed.
    Print,
    /// `d: u32` → jump forward `d` bytes.
    Jump,
    /// `d: u32`; `v` → `v`, jump forward `d` bytes if `v` is falsey.
    JumpIfFalse,
    /// `d: u32` → jump back `d` bytes.
    Loop,
    /// `argc: u8`; `callee args…` → result.
    Call,
    /// `f: u24` (a function of the program), then per upvalue
    /// `is_local: u8, index: u24` → the closure.
    Closure,
    /// `v` →, closing the upvalue of the top slot.
    CloseUpvalue,
    /// `v` → returns `v` from the frame.
    Return,
    /// `name: u24` → a new class.
    Class,
    /// `super sub` → `super`, the methods copied down.
    Inherit,
    /// `name: u24`; `class method` → `class`.
    Method,
}

impl Op {
    /// Every opcode, in encoding order.
    pub const ALL: [Op; 41] = [
        Op::Constant,
        Op::Nil,
        Op::True,
        Op::False,
        Op::Pop,
        Op::GetLocal,
        Op::SetLocal,
        Op::GetGlobal,
        Op::DefineGlobal,
        Op::SetGlobal,
        Op::GetUpvalue,
        Op::SetUpvalue,
        Op::GetProperty,
        Op::SetProperty,
        Op::GetSuper,
        Op::GetMethod,
        Op::GetSuperMethod,
        Op::CallMethod,
        Op::CheckInstance,
        Op::Equal,
        Op::Greater,
        Op::Less,
        Op::GreaterEqual,
        Op::LessEqual,
        Op::Add,
        Op::Subtract,
        Op::Multiply,
        Op::Divide,
        Op::Not,
        Op::Negate,
        Op::Print,
        Op::Jump,
        Op::JumpIfFalse,
        Op::Loop,
        Op::Call,
        Op::Closure,
        Op::CloseUpvalue,
        Op::Return,
        Op::Class,
        Op::Inherit,
        Op::Method,
    ];

    /// The opcode of a byte, if it is one.
    ///
    /// ```
    /// use lexer_demo::vm::chunk::Op;
    /// assert_eq!(Op::from_byte(Op::Return as u8), Some(Op::Return));
    /// assert_eq!(Op::from_byte(200), None);
    /// ```
    pub fn from_byte(b: u8) -> Option<Op> {
        Op::ALL.get(usize::from(b)).copied()
    }

    /// Bytes of fixed operands after the opcode (a closure's upvalue
    /// descriptors come on top).
    pub fn operand_bytes(self) -> usize {
        match self {
            Op::Constant
            | Op::GetGlobal
            | Op::DefineGlobal
            | Op::SetGlobal
            | Op::GetProperty
            | Op::SetProperty
            | Op::GetSuper
            | Op::GetMethod
            | Op::GetSuperMethod
            | Op::Closure
            | Op::Class
            | Op::Method
            | Op::GetLocal
            | Op::SetLocal
            | Op::GetUpvalue
            | Op::SetUpvalue => 3,
            Op::Jump | Op::JumpIfFalse | Op::Loop => 4,
            Op::Call | Op::CallMethod => 1,

            _ => 0,
        }
    }
}

// Every opcode's discriminant is its index in `ALL`.
const _: () = {
    let mut i = 0;
    while i < Op::ALL.len() {
        assert!(Op::ALL[i] as usize == i);
        i += 1;
    }
};

/// Largest 24-bit operand.
pub const MAX_U24: u32 = (1 << 24) - 1;

/// A function's bytecode, constants and line table.
///
/// ```
/// use lexer_demo::vm::chunk::{Chunk, Op};
/// use lexer_demo::vm::value::Value;
/// let mut c = Chunk::default();
/// let k = c.add_constant(Value::number(1.0)).unwrap();
/// c.emit_op(Op::Constant, 1);
/// c.emit_u24(k);
/// c.emit_op(Op::Return, 2);
/// assert_eq!(c.line_at(0), 1);
/// assert_eq!(c.line_at(4), 2);
/// assert_eq!(c.disassemble(), "0000 Constant 0 (1)\n0004 Return\n");
/// ```
#[derive(Default)]
pub struct Chunk {
    /// The instructions.
    pub code: Vec<u8>,
    /// The constants (numbers, strings, functions).
    pub constants: Vec<Value>,
    /// `(offset, line)` for the first instruction of each run of one line,
    /// in order of offset.
    lines: Vec<(u32, u32)>,
}

impl Chunk {
    /// Frees the spare capacity of the code, constants and line table.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.code.shrink_to_fit();
        self.constants.shrink_to_fit();
        self.lines.shrink_to_fit();
    }

    /// Appends an opcode from source line `line`; line 0 means none of its
    /// own (an instruction that cannot fail), which keeps the line of the
    /// one before.
    pub fn emit_op(&mut self, op: Op, line: u32) {
        let offset = u32::try_from(self.code.len()).unwrap_or(u32::MAX);
        if line != 0 && self.lines.last().is_none_or(|&(_, l)| l != line) {
            self.lines.push((offset, line));
        }
        self.code.push(op as u8);
    }

    /// The line of the last instruction appended (0 before any).
    pub fn last_line(&self) -> u32 {
        self.lines.last().map_or(0, |&(_, l)| l)
    }

    /// Appends a byte operand.
    pub fn emit_u8(&mut self, v: u8) {
        self.code.push(v);
    }

    /// Appends a 16-bit operand.
    pub fn emit_u16(&mut self, v: u16) {
        self.code.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a 24-bit operand (`v` at most [`MAX_U24`]).
    pub fn emit_u24(&mut self, v: u32) {
        debug_assert!(v <= MAX_U24);
        self.code.extend_from_slice(&v.to_le_bytes()[..3]);
    }

    /// Appends a 32-bit operand.
    pub fn emit_u32(&mut self, v: u32) {
        self.code.extend_from_slice(&v.to_le_bytes());
    }

    /// Overwrites the 32-bit operand at `at` (a jump patched later).
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.code[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Adds a constant and returns its index, or `None` past 2^24.
    pub fn add_constant(&mut self, v: Value) -> Option<u32> {
        let k = u32::try_from(self.constants.len())
            .ok()
            .filter(|&k| k <= MAX_U24)?;
        self.constants.push(v);
        Some(k)
    }

    /// The 16-bit operand at `at`.
    #[inline(always)]
    pub fn read_u16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.code[at], self.code[at + 1]])
    }

    /// The 24-bit operand at `at`.
    #[inline(always)]
    pub fn read_u24(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.code[at], self.code[at + 1], self.code[at + 2], 0])
    }

    /// The 32-bit operand at `at`.
    #[inline(always)]
    pub fn read_u32(&self, at: usize) -> u32 {
        u32::from_le_bytes([
            self.code[at],
            self.code[at + 1],
            self.code[at + 2],
            self.code[at + 3],
        ])
    }

    /// The source line of the instruction at `offset` (a binary search; only
    /// errors need it).
    pub fn line_at(&self, offset: usize) -> u32 {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        match self.lines.partition_point(|&(o, _)| o <= offset) {
            0 => 0,
            i => self.lines[i - 1].1,
        }
    }

    /// The instructions as text, one a line: offset, opcode, operands (and a
    /// number constant's value). For tests and debugging.
    pub fn disassemble(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let mut at = 0;
        while at < self.code.len() {
            let Some(op) = Op::from_byte(self.code[at]) else {
                let _ = writeln!(out, "{at:04} ?{}", self.code[at]);
                at += 1;
                continue;
            };
            let _ = write!(out, "{at:04} {op:?}");
            let operands = at + 1;
            match op.operand_bytes() {
                1 => {
                    let _ = write!(out, " {}", self.code[operands]);
                }
                2 => {
                    let _ = write!(out, " {}", self.read_u16(operands));
                }
                3 => {
                    let k = self.read_u24(operands);
                    let _ = write!(out, " {k}");
                    if op == Op::Constant {
                        if let Some(n) = self.constants.get(k as usize).and_then(|v| v.as_number())
                        {
                            let _ = write!(out, " ({n})");
                        }
                    }
                }
                4 => {
                    let _ = write!(out, " {}", self.read_u32(operands));
                }
                _ => {}
            }
            at = operands + op.operand_bytes();
            out.push('\n');
        }
        out
    }
}

/// What the verifier needs to know of the program around a chunk.
#[derive(Clone, Copy)]
pub struct Context<'f> {
    /// Values on the frame at entry: the callee or `this`, then the
    /// parameters.
    pub entry_depth: u32,
    /// The function's upvalues.
    pub upvalues: u32,
    /// Global slots that exist.
    pub globals: u32,
    /// The upvalue count of function `i` of the program, if it exists.
    pub closure_upvalues: &'f dyn Fn(u32) -> Option<u32>,
}

impl Chunk {
    /// Where the jump at `at` (whose operand is whole) lands, if inside
    /// the code.
    fn landing(&self, at: usize, op: Op) -> Result<usize, String> {
        let next = at + 1 + op.operand_bytes();
        let offset = i64::from(self.read_u32(at + 1));
        let offset = if op == Op::Loop { -offset } else { offset };
        let t = i64::try_from(next).ok().and_then(|n| n.checked_add(offset));
        match t.and_then(|t| usize::try_from(t).ok()) {
            Some(t) if t < self.code.len() => Ok(t),
            _ => Err(format!("jump from {next} lands outside the code")),
        }
    }

    /// Checks the chunk and returns the most values its frame ever holds
    /// (from slot 0).
    ///
    /// Every instruction must be whole; every jump must land on an
    /// instruction; every path must reach the same stack depth at each
    /// instruction, never pop below the frame and end in a return; every
    /// local slot must be below the depth where it is read or written (a
    /// captured one at most the depth: the closure's own slot), every constant, global, upvalue and
    /// function index must exist, and every name operand must be an
    /// object. The VM relies on this to run without bounds checks: what
    /// this proves, it does not test again. It does not prove kinds (that
    /// a name is a string, that `super` is a class): the VM's module
    /// documentation lists the few the compiler guarantees instead.
    ///
    /// ```
    /// use lexer_demo::vm::chunk::{Chunk, Context, Op};
    /// let none = |_| None;
    /// let cx = Context { entry_depth: 1, upvalues: 0, globals: 0, closure_upvalues: &none };
    /// let mut c = Chunk::default();
    /// c.emit_op(Op::Nil, 1);
    /// c.emit_op(Op::Nil, 1);
    /// c.emit_op(Op::Add, 1);
    /// c.emit_op(Op::Return, 1);
    /// assert_eq!(c.verify(&cx), Ok(3));
    /// let mut bad = Chunk::default();
    /// bad.emit_op(Op::GetLocal, 1);
    /// bad.emit_u24(1);
    /// assert!(bad.verify(&cx).unwrap_err().contains("slot 1"));
    /// ```
    pub fn verify(&self, cx: &Context<'_>) -> Result<u32, String> {
        let code = &self.code;
        let len = code.len();
        // Pass 1: every instruction whole, where instructions start (a bit
        // a code byte), and the places paths join: every jump's landing.
        // Only joins need a remembered depth; any other instruction is
        // reached only from the one before it (or is the entry), so no path
        // visits it twice. A depth per code byte would be the biggest thing
        // a compile holds for a moment (a long top level has tens of
        // thousands of code bytes); these tables are a 32nd of that and
        // grow with the jumps.
        let mut starts = vec![0u64; len.div_ceil(64)];
        let mut joins: Vec<usize> = Vec::new();
        let mut at = 0;
        while at < len {
            starts[at / 64] |= 1 << (at % 64);
            let op = Op::from_byte(code[at]).ok_or_else(|| format!("bad opcode at {at}"))?;
            let mut next = at + 1 + op.operand_bytes();
            if next > len {
                return Err(format!("instruction at {at} runs past the end"));
            }
            match op {
                Op::Closure => {
                    let f = self.read_u24(at + 1);
                    let n = (cx.closure_upvalues)(f).ok_or_else(|| format!("no function {f}"))?;
                    next += 4 * n as usize;
                    if next > len {
                        return Err(format!("instruction at {at} runs past the end"));
                    }
                }
                Op::Jump | Op::JumpIfFalse | Op::Loop => joins.push(self.landing(at, op)?),
                _ => {}
            }
            at = next;
        }
        joins.sort_unstable();
        joins.dedup();
        if let Some(j) = joins
            .iter()
            .find(|&&j| starts[j / 64] & (1 << (j % 64)) == 0)
        {
            return Err(format!("a jump lands at {j}, inside an instruction"));
        }
        drop(starts);
        // Pass 2: follow every path from each join until it ends or meets
        // a join seen before; the depth there must be the same.
        const UNSEEN: u32 = u32::MAX;
        let mut depth_at_join = vec![UNSEEN; joins.len()];
        let mut work = vec![(0usize, cx.entry_depth)];
        let mut max = cx.entry_depth;
        'paths: while let Some((from, entry)) = work.pop() {
            let (mut at, mut d) = (from, entry);
            // The next join at or after `at`.
            let mut join = joins.partition_point(|&j| j < at);
            loop {
                if at >= len {
                    return Err("the code runs off its end".into());
                }
                if d == UNSEEN {
                    return Err(format!("the stack is too deep at {at}"));
                }
                if joins.get(join) == Some(&at) {
                    match depth_at_join[join] {
                        UNSEEN => depth_at_join[join] = d,
                        seen if seen == d => continue 'paths,
                        seen => return Err(format!("depth {d} and {seen} meet at {at}")),
                    }
                    join += 1;
                }
                let op = Op::from_byte(code[at]).ok_or_else(|| format!("bad opcode at {at}"))?;
                let operand = at + 1;
                let mut next = operand + op.operand_bytes();
                let need = |n: u32| {
                    if d >= n {
                        Ok(())
                    } else {
                        Err(format!("{op:?} at {at} pops below the frame"))
                    }
                };
                let slot = |s: u32| {
                    if s < d {
                        Ok(())
                    } else {
                        Err(format!("{op:?} at {at} uses slot {s} of {d}"))
                    }
                };
                let constant = |k: u32| {
                    self.constants
                        .get(k as usize)
                        .copied()
                        .ok_or_else(|| format!("no constant {k} at {at}"))
                };
                let name = |k: u32| match constant(k)?.as_object() {
                    Some(_) => Ok(()),
                    None => Err(format!("constant {k} at {at} is not a name")),
                };
                let global = |g: u32| {
                    if g < cx.globals {
                        Ok(())
                    } else {
                        Err(format!("no global {g} at {at}"))
                    }
                };
                let upvalue = |i: u32| {
                    if i < cx.upvalues {
                        Ok(())
                    } else {
                        Err(format!("no upvalue {i} at {at}"))
                    }
                };
                let u24 = || self.read_u24(operand);
                let argc = || u32::from(code[operand]);
                let after = match op {
                    Op::Constant => {
                        constant(u24())?;
                        d + 1
                    }
                    Op::Nil | Op::True | Op::False => d + 1,
                    Op::Pop | Op::CloseUpvalue | Op::Print => {
                        need(1)?;
                        d - 1
                    }
                    Op::GetLocal => {
                        slot(u24())?;
                        d + 1
                    }
                    Op::SetLocal => {
                        need(1)?;
                        slot(u24())?;
                        d
                    }
                    Op::GetGlobal => {
                        global(u24())?;
                        d + 1
                    }
                    Op::DefineGlobal => {
                        global(u24())?;
                        need(1)?;
                        d - 1
                    }
                    Op::SetGlobal => {
                        global(u24())?;
                        need(1)?;
                        d
                    }
                    Op::GetUpvalue => {
                        upvalue(u24())?;
                        d + 1
                    }
                    Op::SetUpvalue => {
                        upvalue(u24())?;
                        need(1)?;
                        d
                    }
                    Op::GetProperty | Op::CheckInstance => {
                        if op == Op::GetProperty {
                            name(u24())?;
                        }
                        need(1)?;
                        d
                    }
                    Op::GetMethod => {
                        name(u24())?;
                        need(1)?;
                        d + 1
                    }
                    Op::SetProperty | Op::GetSuper | Op::Method => {
                        name(u24())?;
                        need(2)?;
                        d - 1
                    }
                    Op::GetSuperMethod => {
                        name(u24())?;
                        need(2)?;
                        d
                    }
                    Op::Class => {
                        name(u24())?;
                        d + 1
                    }
                    Op::Inherit
                    | Op::Equal
                    | Op::Greater
                    | Op::Less
                    | Op::GreaterEqual
                    | Op::LessEqual
                    | Op::Add
                    | Op::Subtract
                    | Op::Multiply
                    | Op::Divide => {
                        need(2)?;
                        d - 1
                    }
                    Op::Not | Op::Negate => {
                        need(1)?;
                        d
                    }
                    Op::Call => {
                        need(argc() + 1)?;
                        d - argc()
                    }
                    Op::CallMethod => {
                        need(argc() + 2)?;
                        d - argc() - 1
                    }
                    Op::Closure => {
                        let f = u24();
                        let n =
                            (cx.closure_upvalues)(f).ok_or_else(|| format!("no function {f}"))?;
                        for i in 0..n as usize {
                            let desc = operand + 3 + 4 * i;
                            let index = self.read_u24(desc + 1);
                            match code[desc] {
                                // The closure is pushed before it captures, so
                                // its own slot (a local function naming itself)
                                // is one it may capture.
                                1 if index <= d => {}
                                1 => return Err(format!("capture of slot {index} of {d} at {at}")),
                                0 => upvalue(index)?,
                                _ => return Err(format!("bad capture at {desc}")),
                            }
                        }
                        next += 4 * n as usize;
                        d + 1
                    }
                    Op::Return => {
                        need(1)?;
                        continue 'paths;
                    }
                    Op::Jump | Op::Loop => {
                        work.push((self.landing(at, op)?, d));
                        continue 'paths;
                    }
                    Op::JumpIfFalse => {
                        need(1)?;
                        work.push((self.landing(at, op)?, d));
                        d
                    }
                };
                max = max.max(after);
                d = after;
                at = next;
            }
        }
        Ok(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_round_trip_and_lines_are_found_by_offset() {
        let mut c = Chunk::default();
        c.emit_op(Op::GetLocal, 3);
        c.emit_u24(70_000);
        c.emit_op(Op::Jump, 3);
        let jump = c.code.len();
        c.emit_u32(0);
        c.emit_op(Op::GetMethod, 9);
        c.emit_u24(MAX_U24);
        c.emit_op(Op::CallMethod, 9);
        c.emit_u8(255);
        c.patch_u32(jump, 123_456);
        assert_eq!(c.read_u24(1), 70_000);
        assert_eq!(c.read_u32(jump), 123_456);
        assert_eq!(c.read_u24(jump + 5), MAX_U24);
        assert_eq!((c.line_at(0), c.line_at(4), c.line_at(9)), (3, 3, 9));
        assert_eq!(
            c.disassemble(),
            "0000 GetLocal 70000\n0004 Jump 123456\n0009 GetMethod 16777215\n0013 CallMethod 255\n"
        );
    }

    fn cx<'f>(f: &'f dyn Fn(u32) -> Option<u32>) -> Context<'f> {
        Context {
            entry_depth: 1,
            upvalues: 1,
            globals: 1,
            closure_upvalues: f,
        }
    }

    /// Instructions as opcodes and raw operand bytes.
    type Code<'a> = &'a [(Op, &'a [u8])];

    fn chunk(ops: Code<'_>) -> Chunk {
        let mut c = Chunk::default();
        c.add_constant(Value::number(1.0));
        for &(op, operands) in ops {
            c.emit_op(op, 1);
            c.code.extend_from_slice(operands);
        }
        c
    }

    #[test]
    fn the_verifier_finds_the_deepest_point_over_every_path() {
        let none = |_| None;
        // if (x) { 1 + 1 } ; with the branch deeper than the fall-through.
        let c = chunk(&[
            (Op::True, &[]),
            (Op::JumpIfFalse, &[10, 0, 0, 0]),
            (Op::Constant, &[0, 0, 0]),
            (Op::Constant, &[0, 0, 0]),
            (Op::Add, &[]),
            (Op::Pop, &[]),
            (Op::Pop, &[]),
            (Op::Nil, &[]),
            (Op::Return, &[]),
        ]);
        assert_eq!(c.verify(&cx(&none)), Ok(4));
    }

    #[test]
    fn a_loop_that_keeps_its_depth_is_followed_once() {
        let none = |_| None;
        // while (true) {}
        let c = chunk(&[
            (Op::True, &[]),
            (Op::JumpIfFalse, &[6, 0, 0, 0]),
            (Op::Pop, &[]),
            (Op::Loop, &[12, 0, 0, 0]),
            (Op::Pop, &[]),
            (Op::Nil, &[]),
            (Op::Return, &[]),
        ]);
        assert_eq!(c.verify(&cx(&none)), Ok(2));
    }

    #[test]
    fn the_verifier_refuses_what_would_read_or_jump_out_of_bounds() {
        let none = |_| None;
        let one = |f: u32| (f == 0).then_some(1);
        let cases: &[(Code<'_>, &str)] = &[
            (
                &[(Op::Pop, &[]), (Op::Pop, &[]), (Op::Return, &[])],
                "pops below",
            ),
            (
                &[(Op::GetLocal, &[1, 0, 0]), (Op::Return, &[])],
                "slot 1 of 1",
            ),
            (
                &[(Op::Constant, &[1, 0, 0]), (Op::Return, &[])],
                "no constant 1",
            ),
            (
                &[(Op::GetGlobal, &[1, 0, 0]), (Op::Return, &[])],
                "no global 1",
            ),
            (
                &[(Op::GetUpvalue, &[1, 0, 0]), (Op::Return, &[])],
                "no upvalue 1",
            ),
            (
                &[(Op::GetProperty, &[0, 0, 0]), (Op::Return, &[])],
                "not a name",
            ),
            (
                &[(Op::Jump, &[1, 0, 0, 0]), (Op::Return, &[])],
                "outside the code",
            ),
            (&[(Op::Loop, &[6, 0, 0, 0])], "outside the code"),
            (&[(Op::Nil, &[])], "runs off its end"),
            (&[], "runs off its end"),
            (
                &[
                    (Op::Jump, &[1, 0, 0, 0]),
                    (Op::Constant, &[0, 0, 0]),
                    (Op::Return, &[]),
                ],
                "lands at 6, inside an instruction",
            ),
            // Refused even where no path reaches the jump.
            (
                &[
                    (Op::Nil, &[]),
                    (Op::Return, &[]),
                    (Op::Jump, &[1, 0, 0, 0]),
                    (Op::Constant, &[0, 0, 0]),
                    (Op::Return, &[]),
                ],
                "inside an instruction",
            ),
            // A loop whose body leaves a value behind.
            (
                &[(Op::Nil, &[]), (Op::Loop, &[6, 0, 0, 0])],
                "depth 2 and 1 meet at 0",
            ),
            (&[(Op::GetLocal, &[0, 0])], "past the end"),
            (
                &[(Op::Closure, &[1, 0, 0]), (Op::Return, &[])],
                "no function 1",
            ),
            (
                &[(Op::Closure, &[0, 0, 0, 1, 2, 0, 0]), (Op::Return, &[])],
                "capture of slot 2",
            ),
            (
                &[(Op::Closure, &[0, 0, 0, 7, 0, 0, 0]), (Op::Return, &[])],
                "bad capture",
            ),
            (
                &[
                    (Op::True, &[]),
                    (Op::JumpIfFalse, &[1, 0, 0, 0]),
                    (Op::Nil, &[]),
                    (Op::Return, &[]),
                ],
                "meet",
            ),
        ];
        for (ops, want) in cases {
            let c = chunk(ops);
            let err = c.verify(&cx(&one)).expect_err(want);
            assert!(err.contains(want), "{err} should say {want}");
        }
        let mut bad = Chunk::default();
        bad.code.push(200);
        assert!(bad.verify(&cx(&none)).unwrap_err().contains("bad opcode"));
    }

    #[test]
    fn constants_are_limited_only_at_2_pow_24() {
        let mut c = Chunk::default();
        for i in 0..70_000 {
            assert_eq!(c.add_constant(Value::number(f64::from(i))), Some(i));
        }
        assert_eq!(c.constants.len(), 70_000);
    }
}
