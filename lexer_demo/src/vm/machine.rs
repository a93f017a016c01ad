//! The virtual machine: a value stack holding every frame's locals, call
//! frames that allocate nothing, and upvalues open while their variable is
//! on the stack. The collector is in `gc`.
//!
//! The dispatch loop keeps the instruction pointer, the stack top and the
//! frame's slots in locals, and reads operands, locals, constants, globals
//! and upvalues without bounds checks. What makes that sound is the
//! verifier ([`Chunk::verify`](super::chunk::Chunk::verify)), run on every
//! function before it can be called: every path through a chunk keeps the
//! stack depth known and within the function's `max_stack`, every slot,
//! constant, global, upvalue and jump target it names exists, and every
//! path ends in a return. A call makes room for the callee's `max_stack`
//! before the callee runs, so no push inside it can pass the end.
//!
//! The verifier does not know the kinds of values; a few instructions
//! rely on kinds the compiler guarantees instead: a name constant is an
//! interned string, the value `GetSuper` and `GetSuperMethod` pop is a
//! class (the `super` of a class body), `Method` and `Inherit` find a
//! class below the top, and `CallMethod` finds a closure when the slot
//! above the callee is not the `EMPTY` marker (`GetMethod` put one of the
//! two there). Only the compiler makes chunks for the VM (`add_proto` is
//! not public), so those hold.

use super::chunk::{Context, Op};
use super::compiler;
use super::object::{
    CLOSED, ObjBound, ObjClass, ObjClosure, ObjInstance, ObjNative, ObjStr, ObjTable, ObjUpvalue,
    Proto,
};
use super::value::Value;
use super::value::format_number;
use super::{
    GcStats, Kind, MAX_CALL_DEPTH, MIN_THRESHOLD, ObjHeap, Options, RuntimeError, SysCounts,
};
use crate::ast::Program;
use crate::diagnostics::Diagnostic;
use crate::resolver::Resolution;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

/// One active call: its closure, where it is in its code, and where its
/// slots start (slot 0: the callee or `this`).
pub(super) struct Frame {
    pub(super) closure: *const ObjClosure,
    proto: *const Proto,
    /// Past the opcode of the instruction being run (saved when the frame
    /// calls or leaves the loop), so `ip - 1` is inside it.
    ip: *const u8,
    base: usize,
    /// Where the result goes (the callee's slot, below `base` for a method
    /// called as `obj.m()`).
    ret: usize,
}

/// Values the stack may hold at most (128 MiB: 10,000 frames of 1,600
/// values); a call that would need more is `Stack overflow.`, so a
/// program of huge frames recursing deep stops before it takes a
/// gibibyte.
const MAX_STACK: usize = 1 << 24;

/// Values the stack holds at first.
const FIRST_STACK: usize = 1 << 10;

/// The VM and everything it owns: its heap (where objects live), the value
/// stack, globals, functions and the string table.
pub struct Vm<'o, H: ObjHeap> {
    pub(super) heap: H,
    /// The value stack: `stack_cap` values, reached only through raw
    /// pointers (no reference to it is ever made, so pointers into it stay
    /// valid until it grows), initialised below `sp`.
    pub(super) stack: *mut Value,
    stack_cap: usize,
    /// The top of the stack, whenever the dispatch loop does not hold it.
    pub(super) sp: *mut Value,
    pub(super) frames: Vec<Frame>,
    /// Open upvalues, highest slot first.
    pub(super) open: *mut ObjUpvalue,
    pub(super) globals: Vec<Value>,
    pub(super) global_names: Vec<*const ObjStr>,
    global_slots: std::collections::HashMap<*const ObjStr, u32>,
    pub(super) strings: HashTable<*const ObjStr>,
    /// Closures and frames point at functions: each is boxed so that its
    /// address holds whatever the vector does.
    #[allow(clippy::vec_box)]
    pub(super) protos: Vec<Box<Proto>>,
    pub(super) init: *const ObjStr,
    out: &'o mut dyn Write,
    text: String,
    concat: String,
    pub(super) gray: Vec<NonNull<u8>>,
    pub(super) stats: GcStats,
    pub(super) live_objects: u64,
    pub(super) since_gc: usize,
    pub(super) threshold: usize,
    gc_stress: bool,
    max_string_len: usize,
    /// Backward jumps and calls left before `Step budget exhausted.`.
    steps_left: u64,
}

type Step<T = ()> = Result<T, RuntimeError>;

fn hash_str(s: &str) -> u64 {
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    h.finish()
}

/// A stack buffer of `cap` values, or `None` if the system refuses it.
fn new_stack(cap: usize) -> Option<(*mut Value, usize)> {
    let mut v: Vec<Value> = Vec::new();
    v.try_reserve_exact(cap).ok()?;
    let mut v = ManuallyDrop::new(v);
    Some((v.as_mut_ptr(), v.capacity()))
}

/// Runs a resolved program on `heap`; the error that stopped it, if any, the
/// collector's figures and the heap's count of system allocations.
pub fn interpret<H: ObjHeap>(
    heap: H,
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    options: &Options,
    out: &mut dyn Write,
) -> (Option<RuntimeError>, (GcStats, SysCounts)) {
    let (r, figures) = interpret_with(heap, options, out, |vm| {
        compiler::compile(vm, program, res, source).map_err(Stop::Error)
    });
    (r.err().map(Stop::into_error), figures)
}

/// Why a program did not run to its end.
pub(crate) enum Stop {
    /// The front end refused it (nothing ran).
    Diagnostics(Vec<Diagnostic>),
    /// A runtime error stopped it.
    Error(RuntimeError),
}

impl Stop {
    fn into_error(self) -> RuntimeError {
        match self {
            Stop::Error(e) => e,
            Stop::Diagnostics(_) => RuntimeError {
                message: "Internal error: diagnostics.".into(),
                line: 0,
            },
        }
    }
}

/// Runs the program `load` compiles into the VM (returning its top
/// level's function) on `heap`. Whatever `load` made to compile it (the
/// AST, the tokens) it may drop before returning, so the run's peak does
/// not include it.
pub(crate) fn interpret_with<'o, H: ObjHeap>(
    heap: H,
    options: &Options,
    out: &'o mut dyn Write,
    load: impl FnOnce(&mut Vm<'o, H>) -> Result<usize, Stop>,
) -> (Result<(), Stop>, (GcStats, SysCounts)) {
    let oom = RuntimeError {
        message: "Out of memory.".into(),
        line: 0,
    };
    let Some((stack, stack_cap)) = new_stack(FIRST_STACK) else {
        return (
            Err(Stop::Error(oom)),
            (GcStats::default(), heap.system_objects()),
        );
    };
    let mut vm = Vm::build(heap, stack, stack_cap, options, out);
    let r = match vm.prepare() {
        Ok(()) => load(&mut vm).and_then(|script| vm.start(script).map_err(Stop::Error)),
        Err(e) => Err(Stop::Error(e)),
    };
    let _ = vm.out.flush();
    (r, vm.finish())
}

/// What compiling a program made, for the footprint report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Compiled {
    /// Functions, the top level included.
    pub(crate) functions: usize,
    /// Bytes of bytecode.
    pub(crate) code_bytes: usize,
    /// Constants of every function.
    pub(crate) constants: usize,
}

/// Compiles a program into a VM on `heap` without running it; `inspect`
/// sees the VM while its functions and strings are alive; then everything
/// is freed.
pub(crate) fn compile_only<H: ObjHeap, R>(
    heap: H,
    load: impl FnOnce(&mut Vm<'_, H>) -> Result<usize, RuntimeError>,
    inspect: impl FnOnce(&mut H) -> R,
) -> Result<(Compiled, R), RuntimeError> {
    let oom = || RuntimeError {
        message: "Out of memory.".into(),
        line: 0,
    };
    let (stack, stack_cap) = new_stack(FIRST_STACK).ok_or_else(oom)?;
    let mut sink = std::io::sink();
    let mut vm = Vm::build(heap, stack, stack_cap, &Options::default(), &mut sink);
    let r = vm.prepare().and_then(|()| load(&mut vm)).map(|_| {
        let compiled = Compiled {
            functions: vm.protos.len(),
            code_bytes: vm.protos.iter().map(|p| p.chunk.code.len()).sum(),
            constants: vm.protos.iter().map(|p| p.chunk.constants.len()).sum(),
        };
        (compiled, inspect(&mut vm.heap))
    });
    let _ = vm.finish();
    r
}

impl<H: ObjHeap> Drop for Vm<'_, H> {
    fn drop(&mut self) {
        // SAFETY: `stack` came from a `Vec<Value>` of capacity `stack_cap`
        // (`new_stack`), and no pointer into it is used after this.
        drop(unsafe { Vec::from_raw_parts(self.stack, 0, self.stack_cap) });
    }
}

impl<'o, H: ObjHeap> Vm<'o, H> {
    /// A VM on `heap` with a stack of `stack_cap` values at `stack`.
    fn build(
        heap: H,
        stack: *mut Value,
        stack_cap: usize,
        options: &Options,
        out: &'o mut dyn Write,
    ) -> Vm<'o, H> {
        Vm {
            heap,
            stack,
            stack_cap,
            sp: stack,
            frames: Vec::new(),
            open: ptr::null_mut(),
            globals: Vec::new(),
            global_names: Vec::new(),
            global_slots: std::collections::HashMap::new(),
            strings: HashTable::new(),
            protos: Vec::new(),
            init: ptr::null(),
            out,
            text: String::new(),
            concat: String::new(),
            gray: Vec::new(),
            stats: GcStats::default(),
            live_objects: 0,
            since_gc: 0,
            threshold: MIN_THRESHOLD,
            gc_stress: options.gc_stress,
            max_string_len: options.max_string_len,
            steps_left: options.max_steps.unwrap_or(u64::MAX),
        }
    }

    /// Makes what every program has: the `init` name and `clock`.
    fn prepare(&mut self) -> Step {
        let oom = || RuntimeError {
            message: "Out of memory.".into(),
            line: 0,
        };
        self.init = self.intern("init").ok_or_else(oom)?;
        let clock = self.intern("clock").ok_or_else(oom)?;
        let g = self.global_slot(clock);
        let native = self.alloc(Kind::Native, std::mem::size_of::<ObjNative>())?;
        // SAFETY: fresh memory for an `ObjNative`.
        unsafe {
            native
                .cast::<ObjNative>()
                .as_ptr()
                .write(ObjNative { which: 0 })
        };
        self.globals[g as usize] = Value::object(native.as_ptr());
        Ok(())
    }

    /// Runs function `script` (the top level) from its start.
    fn start(&mut self, script: usize) -> Step {
        let oom = || RuntimeError {
            message: "Out of memory.".into(),
            line: 0,
        };
        let proto: *const Proto = &*self.protos[script];
        let closure = self.new_closure(proto)?;
        self.frames
            .try_reserve_exact(MAX_CALL_DEPTH + 2)
            .map_err(|_| oom())?;
        // SAFETY: the stack is empty and holds `FIRST_STACK` values.
        unsafe {
            self.sp.write(Value::object(closure.cast()));
            self.sp = self.sp.add(1);
        }
        self.enter(closure, 0, 0, 0)?;
        self.run()
    }

    fn finish(mut self) -> (GcStats, SysCounts) {
        self.note_peaks();
        self.stats.live_at_end = self.live_objects;
        self.strings.clear();
        // SAFETY: the program is over; no object is used again.
        let swept = unsafe { self.heap.free_all() };
        debug_assert_eq!(swept.objects, self.live_objects);
        let sys = self.heap.system_objects();
        (self.stats, sys)
    }

    /// Verifies a compiled function, stores it and returns its index.
    pub(crate) fn add_proto(&mut self, mut p: Proto) -> Result<usize, String> {
        let protos = &self.protos;
        let upvalues_of = |i: u32| protos.get(i as usize).map(|p| p.upvalues);
        let cx = Context {
            entry_depth: u32::from(p.arity) + 1,
            upvalues: p.upvalues,
            globals: u32::try_from(self.globals.len()).unwrap_or(u32::MAX),
            closure_upvalues: &upvalues_of,
        };
        p.max_stack = p.chunk.verify(&cx)? as usize;
        self.protos.push(Box::new(p));
        Ok(self.protos.len() - 1)
    }

    /// The global slot of `name`, made on first use.
    pub(crate) fn global_slot(&mut self, name: *const ObjStr) -> u32 {
        if let Some(&g) = self.global_slots.get(&name) {
            return g;
        }
        let g = u32::try_from(self.globals.len()).unwrap_or(u32::MAX);
        self.globals.push(Value::EMPTY);
        self.global_names.push(name);
        self.global_slots.insert(name, g);
        g
    }

    /// Values on the stack.
    pub(super) fn depth(&self) -> usize {
        // SAFETY: `sp` points into the stack buffer, at or above `stack`.
        let d = unsafe { self.sp.offset_from(self.stack) };
        usize::try_from(d).unwrap_or(0)
    }

    /// The stack's value `back` below the top.
    ///
    /// # Safety
    /// At least `back + 1` values are on the stack.
    unsafe fn peek(&self, back: usize) -> Value {
        // SAFETY: the caller's guarantee.
        unsafe { *self.sp.sub(back + 1) }
    }

    /// Replaces the top `n` values with `v`.
    ///
    /// # Safety
    /// At least `n` values are on the stack, and `n >= 1`.
    unsafe fn replace_top(&mut self, n: usize, v: Value) {
        // SAFETY: the caller's guarantee.
        unsafe {
            self.sp = self.sp.sub(n);
            self.sp.write(v);
            self.sp = self.sp.add(1);
        }
    }

    /// Pushes a frame for closure `c` called with `argc` arguments, its
    /// slots from `base` (the caller's frame, if any, has saved its `ip`).
    #[inline(always)]
    fn enter(&mut self, c: *const ObjClosure, argc: usize, base: usize, ret: usize) -> Step {
        // SAFETY: `c` is a live closure; its proto lives as long as the VM.
        let proto = unsafe { (*c).proto };
        // SAFETY: as above.
        let (arity, max_stack) = unsafe { (usize::from((*proto).arity), (*proto).max_stack) };
        if argc != arity {
            return Err(self.error(format!("Expected {arity} arguments but got {argc}.")));
        }
        if self.frames.len() > MAX_CALL_DEPTH {
            return Err(self.error("Stack overflow.".into()));
        }
        if base + max_stack > self.stack_cap {
            self.grow_stack(base + max_stack)?;
        }
        self.frames.push(Frame {
            closure: c,
            proto,
            // SAFETY: the proto's code is never changed after compiling.
            ip: unsafe { (*proto).chunk.code.as_ptr() },
            base,
            ret,
        });
        Ok(())
    }

    /// Moves the stack into a buffer of at least `need` values.
    #[cold]
    fn grow_stack(&mut self, need: usize) -> Step {
        if need > MAX_STACK {
            return Err(self.error("Stack overflow.".into()));
        }
        let cap = need.next_power_of_two().min(MAX_STACK);
        let Some((new, cap)) = new_stack(cap) else {
            return Err(self.error("Out of memory.".into()));
        };
        let depth = self.depth();
        // SAFETY: the old buffer holds `depth` values, the new one room for
        // `cap >= need > depth`; the old one came from `new_stack` with
        // capacity `stack_cap`, and only `sp` pointed into it (frames and
        // upvalues hold slot numbers).
        unsafe {
            ptr::copy_nonoverlapping(self.stack, new, depth);
            drop(Vec::from_raw_parts(self.stack, 0, self.stack_cap));
            self.stack = new;
            self.sp = new.add(depth);
        }
        self.stack_cap = cap;
        Ok(())
    }

    // ----- allocation and strings ---------------------------------------

    fn alloc(&mut self, kind: Kind, size: usize) -> Step<NonNull<u8>> {
        if self.gc_stress || self.since_gc.saturating_add(size) > self.threshold {
            self.collect();
        }
        let Some(p) = self.heap.alloc(size, kind) else {
            return Err(self.error("Out of memory.".into()));
        };
        self.since_gc += size;
        self.stats.bytes_allocated += size as u64;
        self.stats.by_kind[kind as usize - Kind::Str as usize] += 1;
        self.live_objects += 1;
        Ok(p)
    }

    /// The interned string for `s`, made if new (without collecting: the
    /// compiler calls this too, holding strings no root reaches yet).
    pub(crate) fn intern(&mut self, s: &str) -> Option<*const ObjStr> {
        let hash = hash_str(s);
        if let Some(&p) = self
            .strings
            // SAFETY: every string in the table is live (dead ones are
            // removed before each sweep).
            .find(hash, |&p| unsafe { ObjStr::as_str(p) } == s)
        {
            return Some(p);
        }
        let size = ObjStr::size(s.len())?;
        let p = self.heap.alloc(size, Kind::Str)?;
        self.since_gc += size;
        self.stats.bytes_allocated += size as u64;
        self.stats.by_kind[0] += 1;
        self.live_objects += 1;
        let p = p.cast::<ObjStr>().as_ptr();
        // SAFETY: fresh memory for the head and `len` bytes of text.
        unsafe {
            p.write(ObjStr { len: s.len(), hash });
            ptr::copy_nonoverlapping(s.as_ptr(), p.add(1).cast::<u8>(), s.len());
        }
        let p = p.cast_const();
        // SAFETY: as above, every string in the table is live.
        self.strings
            .insert_unique(hash, p, |&q| unsafe { (*q).hash });
        Some(p)
    }

    /// Interns the string in `self.concat`, collecting first if due (both
    /// operands are still on the stack).
    fn intern_concat(&mut self) -> Step<*const ObjStr> {
        let Some(size) = ObjStr::size(self.concat.len()) else {
            return Err(self.error("Out of memory.".into()));
        };
        if self.gc_stress || self.since_gc.saturating_add(size) > self.threshold {
            self.collect();
        }
        let s = std::mem::take(&mut self.concat);
        let r = self.intern(&s);
        self.concat = s;
        r.ok_or_else(|| self.error("Out of memory.".into()))
    }

    fn new_closure(&mut self, proto: *const Proto) -> Step<*const ObjClosure> {
        // SAFETY: protos live as long as the VM.
        let n = unsafe { (*proto).upvalues } as usize;
        let p = self.alloc(Kind::Closure, ObjClosure::size(n))?;
        let c = p.cast::<ObjClosure>().as_ptr();
        // SAFETY: fresh memory for the head and `n` upvalue pointers.
        unsafe {
            c.write(ObjClosure { proto, count: n });
            let ups = ObjClosure::upvalues(c);
            for i in 0..n {
                ups.add(i).write(ptr::null_mut());
            }
        }
        Ok(c)
    }

    fn new_table(&mut self, cap: u32) -> Step<*mut ObjTable> {
        let p = self.alloc(Kind::Table, ObjTable::size(cap))?;
        let t = p.cast::<ObjTable>().as_ptr();
        // SAFETY: fresh memory for a table of `cap` entries.
        unsafe {
            t.write(ObjTable { len: 0, cap });
            ObjTable::clear(t);
        }
        Ok(t)
    }

    /// Stores `key: value` in the table at `*slot` (made, or grown into a
    /// new one, as needed). The owner of `slot` must be reachable from a
    /// root, and so must `value`.
    fn table_set(&mut self, slot: *mut *mut ObjTable, key: *const ObjStr, value: Value) -> Step {
        // SAFETY: `slot` is a field of a live class or instance; tables are
        // live while their owner is.
        unsafe {
            if (*slot).is_null() {
                *slot = self.new_table(4)?;
            }
            if ObjTable::set(*slot, key, value) {
                return Ok(());
            }
            let old = *slot;
            let Some(cap) = (*old).cap.checked_mul(2) else {
                return Err(self.error("Out of memory.".into()));
            };
            let new = self.new_table(cap)?;
            // The old table is still reachable through `slot` during that
            // allocation; copy its entries into the new one.
            let old = *slot;
            let e = ObjTable::entries(old);
            for i in 0..(*old).cap as usize {
                let entry = *e.add(i);
                if !entry.key.is_null() {
                    ObjTable::set(new, entry.key, entry.value);
                }
            }
            *slot = new;
            ObjTable::set(new, key, value);
        }
        Ok(())
    }

    // ----- running ----------------------------------------------------------

    fn kind_of(&self, v: Value) -> Option<(Kind, *const u8)> {
        let p = v.as_object()?;
        // SAFETY: a value on the stack or in a live object refers to a live
        // object.
        Some((unsafe { self.heap.kind(NonNull::new(p.cast_mut())?) }, p))
    }

    fn class(&self, v: Value) -> Option<*mut ObjClass> {
        match self.kind_of(v)? {
            (Kind::Class, p) => Some(p.cast::<ObjClass>().cast_mut()),
            _ => None,
        }
    }

    /// Writes `v` as `print` shows it into `self.text`.
    fn show(&mut self, v: Value) {
        if let Some(n) = v.as_number() {
            format_number(n, &mut self.text);
            return;
        }
        if let Some(b) = v.as_bool() {
            self.text.push_str(if b { "true" } else { "false" });
            return;
        }
        let Some((kind, p)) = self.kind_of(v) else {
            self.text.push_str("nil");
            return;
        };
        // SAFETY: `p` is a live object of `kind`.
        unsafe {
            match kind {
                Kind::Str => self.text.push_str(ObjStr::as_str(p.cast())),
                Kind::Closure => self.show_fn(p.cast()),
                Kind::Bound => self.show_fn((*p.cast::<ObjBound>()).method),
                Kind::Native => self.text.push_str("<native fn>"),
                Kind::Class => self
                    .text
                    .push_str(ObjStr::as_str((*p.cast::<ObjClass>()).name)),
                Kind::Instance => {
                    let class = (*p.cast::<ObjInstance>()).class;
                    self.text.push_str(ObjStr::as_str((*class).name));
                    self.text.push_str(" instance");
                }
                _ => self.text.push_str("<internal>"),
            }
        }
    }

    /// # Safety
    /// `c` is a live closure.
    unsafe fn show_fn(&mut self, c: *const ObjClosure) {
        // SAFETY: forwarded; protos and their names live as long as the VM.
        unsafe {
            let name = (*(*c).proto).name;
            if name.is_null() {
                self.text.push_str("<script>");
            } else {
                self.text.push_str("<fn ");
                self.text.push_str(ObjStr::as_str(name));
                self.text.push('>');
            }
        }
    }

    /// The upvalue for stack slot `slot`, made if no open one exists.
    fn capture(&mut self, slot: usize) -> Step<*mut ObjUpvalue> {
        let mut prev: *mut ObjUpvalue = ptr::null_mut();
        let mut u = self.open;
        // SAFETY: open upvalues are live; the list is sorted by slot,
        // highest first.
        unsafe {
            while !u.is_null() && (*u).slot > slot {
                prev = u;
                u = (*u).next;
            }
            if !u.is_null() && (*u).slot == slot {
                return Ok(u);
            }
        }
        let p = self.alloc(Kind::Upvalue, std::mem::size_of::<ObjUpvalue>())?;
        let new = p.cast::<ObjUpvalue>().as_ptr();
        // A collection during that allocation cannot have changed the open
        // list (nothing is freed that a root reaches), so `prev` and `u`
        // still hold.
        // SAFETY: fresh memory for an upvalue; `prev` is live or null.
        unsafe {
            new.write(ObjUpvalue {
                slot,
                closed: Value::NIL,
                next: u,
            });
            if prev.is_null() {
                self.open = new;
            } else {
                (*prev).next = new;
            }
        }
        Ok(new)
    }

    /// Closes every open upvalue of a slot at or above `from`.
    fn close_upvalues(&mut self, from: usize) {
        // SAFETY: open upvalues are live and their slots are below the top
        // of the stack (a slot leaves the stack only after this ran for it).
        unsafe {
            while !self.open.is_null() && (*self.open).slot >= from {
                let u = self.open;
                (*u).closed = *self.stack.add((*u).slot);
                (*u).slot = CLOSED;
                self.open = (*u).next;
            }
        }
    }

    /// Calls the value in slot `callee` with the `argc` values above it
    /// (the top of the stack); anything but a closure comes here.
    fn call_value(&mut self, callee: usize, argc: usize) -> Step {
        // SAFETY: `callee` is below the top (the verifier counted the
        // callee and its arguments on the stack).
        let slot = unsafe { self.stack.add(callee) };
        // SAFETY: as above.
        let v = unsafe { *slot };
        match self.kind_of(v) {
            Some((Kind::Closure, p)) => self.enter(p.cast(), argc, callee, callee),
            Some((Kind::Bound, p)) => {
                // SAFETY: a live bound method; `slot` is on the stack.
                unsafe {
                    let b = &*p.cast::<ObjBound>();
                    *slot = b.receiver;
                    self.enter(b.method, argc, callee, callee)
                }
            }
            Some((Kind::Class, p)) => {
                let class = p.cast::<ObjClass>().cast_mut();
                // SAFETY: a live class; its method table is live or null.
                let init = unsafe { ObjTable::get((*class).methods, self.init) };
                let init = init
                    .and_then(|m| m.as_object())
                    .map(|m| m.cast::<ObjClosure>());
                // SAFETY: methods are live closures.
                let arity = init.map_or(0, |m| usize::from(unsafe { (*(*m).proto).arity }));
                if argc != arity {
                    return Err(self.error(format!("Expected {arity} arguments but got {argc}.")));
                }
                let o = self.alloc(Kind::Instance, std::mem::size_of::<ObjInstance>())?;
                let inst = o.cast::<ObjInstance>().as_ptr();
                // SAFETY: fresh memory for an instance; `slot` is on the
                // stack (a collection does not move it).
                unsafe {
                    inst.write(ObjInstance {
                        class,
                        fields: ptr::null_mut(),
                    });
                    *self.stack.add(callee) = Value::object(inst.cast_const().cast());
                }
                match init {
                    Some(m) => self.enter(m, argc, callee, callee),
                    None => Ok(()),
                }
            }
            Some((Kind::Native, _)) => {
                if argc != 0 {
                    return Err(self.error(format!("Expected 0 arguments but got {argc}.")));
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                // SAFETY: `callee` is on the stack, with nothing above it.
                unsafe {
                    *slot = Value::number(now);
                    self.sp = slot.add(1);
                }
                Ok(())
            }
            _ => Err(self.error("Can only call functions and classes.".into())),
        }
    }

    /// `a + b` for the top two values when they are not two numbers.
    #[cold]
    fn add_slow(&mut self) -> Step {
        // SAFETY: the verifier counted two operands on the stack.
        let (b, a) = unsafe { (self.peek(0), self.peek(1)) };
        let (Some((Kind::Str, pa)), Some((Kind::Str, pb))) = (self.kind_of(a), self.kind_of(b))
        else {
            return Err(self.error("Operands must be two numbers or two strings.".into()));
        };
        // SAFETY: both are live strings (on the stack).
        let (sa, sb) = unsafe { (ObjStr::as_str(pa.cast()), ObjStr::as_str(pb.cast())) };
        if sa.len().saturating_add(sb.len()) > self.max_string_len {
            return Err(self.error("String too long.".into()));
        }
        self.concat.clear();
        if self.concat.try_reserve(sa.len() + sb.len()).is_err() {
            return Err(self.error("Out of memory.".into()));
        }
        self.concat.push_str(sa);
        self.concat.push_str(sb);
        let s = self.intern_concat()?;
        // SAFETY: both operands are still on the stack.
        unsafe { self.replace_top(2, Value::object(s.cast())) };
        Ok(())
    }

    /// Replaces the top value (an instance) with its method `name` of
    /// `class`, bound to it.
    fn bind(&mut self, class: *const ObjClass, name: *const ObjStr) -> Step {
        // SAFETY: a live class; its table is live or null; `name` is live.
        let method = unsafe { ObjTable::get((*class).methods, name) };
        let Some(m) = method.and_then(|m| m.as_object()) else {
            return Err(self.undefined_property(name));
        };
        let p = self.alloc(Kind::Bound, std::mem::size_of::<ObjBound>())?;
        // SAFETY: the receiver is on the stack (it was when the caller
        // called, and the allocation does not pop).
        let receiver = unsafe { self.peek(0) };
        // SAFETY: fresh memory for a bound method; the top is the receiver.
        unsafe {
            p.cast::<ObjBound>().as_ptr().write(ObjBound {
                receiver,
                method: m.cast(),
            });
            self.replace_top(1, Value::object(p.as_ptr()));
        }
        Ok(())
    }

    /// Sets field `name` of the instance below the top to the top value,
    /// making or growing its table.
    #[cold]
    fn set_field_slow(&mut self, inst: *mut ObjInstance, name: *const ObjStr) -> Step {
        // SAFETY: the verifier counted the instance and the value.
        let v = unsafe { self.peek(0) };
        // SAFETY: `inst` is live (on the stack) and so is `v`.
        self.table_set(unsafe { &raw mut (*inst).fields }, name, v)?;
        // SAFETY: as above.
        unsafe { self.replace_top(2, v) };
        Ok(())
    }

    fn undefined_variable(&self, g: usize) -> RuntimeError {
        // SAFETY: global names are live strings.
        let n = unsafe { ObjStr::as_str(self.global_names[g]) };
        self.error(format!("Undefined variable '{n}'."))
    }

    fn undefined_property(&self, name: *const ObjStr) -> RuntimeError {
        // SAFETY: names are live strings.
        let n = unsafe { ObjStr::as_str(name) };
        self.error(format!("Undefined property '{n}'."))
    }

    /// An error at the instruction being run (line 0 before the program
    /// starts). The top frame's `ip` must be saved.
    fn error(&self, message: String) -> RuntimeError {
        let line = match self.frames.last() {
            // SAFETY: protos live as long as the VM; the saved `ip` is past
            // an opcode of this code, so `ip - 1` is inside it.
            Some(f) => unsafe {
                let code = &(*f.proto).chunk;
                let at = f.ip.offset_from(code.code.as_ptr()) - 1;
                code.line_at(usize::try_from(at).unwrap_or(0))
            },
            None => 0,
        };
        RuntimeError { message, line }
    }

    /// The dispatch loop.
    #[allow(clippy::too_many_lines)]
    fn run(&mut self) -> Step {
        // SAFETY: the loop's unchecked accesses rest on these facts.
        // - `ip` points into the running frame's code, which the verifier
        //   accepted: every instruction is whole, every jump lands on an
        //   instruction and no path runs off the end, so each opcode and
        //   operand read is in the code.
        // - `sp` is the top of the stack. The verifier proved the depth on
        //   every path at every instruction, and that the frame never
        //   holds more than its `max_stack` values; `enter` made room for
        //   `base + max_stack` before the frame ran. So every push stays in
        //   the buffer, every pop and peek stays in the frame, and every
        //   local slot read or written is below the top.
        // - Constant, global and upvalue indexes were checked against the
        //   chunk's constants, the global slots (which only grow) and the
        //   function's upvalue count, which is the running closure's.
        // - Before anything that may allocate, collect, grow the stack or
        //   report an error, `sync!` hands `sp` and `ip` back to `self`, and
        //   `reload!` takes them again afterwards (`load!` for a new frame),
        //   so the collector sees the whole stack and a moved stack is never
        //   reached through an old pointer.
        // - Objects reached from values on the stack or in live objects are
        //   live (the collector frees only what no root reaches), and the
        //   header's tag gives their layout.
        unsafe {
            let mut sp: *mut Value;
            let mut ip: *const u8;
            let mut slots: *mut Value;
            let mut consts: *const Value;
            let mut closure: *const ObjClosure;

            macro_rules! load {
                () => {{
                    let f = self.frames.last().unwrap_unchecked();
                    ip = f.ip;
                    closure = f.closure;
                    slots = self.stack.add(f.base);
                    consts = (*f.proto).chunk.constants.as_ptr();
                    sp = self.sp;
                }};
            }
            macro_rules! sync {
                () => {{
                    self.sp = sp;
                    self.frames.last_mut().unwrap_unchecked().ip = ip;
                }};
            }
            macro_rules! reload {
                () => {{
                    sp = self.sp;
                    slots = self.stack.add(self.frames.last().unwrap_unchecked().base);
                }};
            }
            macro_rules! step {
                () => {{
                    if self.steps_left == 0 {
                        fail!(self.error("Step budget exhausted.".into()));
                    }
                    self.steps_left -= 1;
                }};
            }
            macro_rules! fail {
                ($e:expr) => {{
                    sync!();
                    return Err($e);
                }};
            }
            macro_rules! u8_operand {
                () => {{
                    let v = *ip;
                    ip = ip.add(1);
                    usize::from(v)
                }};
            }
            // A 24-bit operand is read as four bytes, one load: an
            // instruction with one always falls through to another, so at
            // least that one's opcode follows it in the code.
            macro_rules! u24 {
                () => {{
                    let v = u32::from_le(ip.cast::<u32>().read_unaligned()) & 0xff_ffff;
                    ip = ip.add(3);
                    v as usize
                }};
            }
            macro_rules! u32_operand {
                () => {{
                    let v = u32::from_le(ip.cast::<u32>().read_unaligned());
                    ip = ip.add(4);
                    v as usize
                }};
            }
            macro_rules! push {
                ($v:expr) => {{
                    let v = $v;
                    sp.write(v);
                    sp = sp.add(1);
                }};
            }
            macro_rules! pop {
                () => {{
                    sp = sp.sub(1);
                    *sp
                }};
            }
            macro_rules! top {
                () => {
                    *sp.sub(1)
                };
            }
            macro_rules! name {
                () => {{
                    let k = u24!();
                    (*consts.add(k))
                        .as_object()
                        .unwrap_unchecked()
                        .cast::<ObjStr>()
                }};
            }
            macro_rules! numbers {
                ($msg:expr) => {{
                    let (b, a) = (*sp.sub(1), *sp.sub(2));
                    if !(a.is_number() && b.is_number()) {
                        fail!(self.error($msg.into()));
                    }
                    sp = sp.sub(1);
                    (a.number_unchecked(), b.number_unchecked())
                }};
            }
            macro_rules! instance {
                ($v:expr) => {{
                    let v: Value = $v;
                    match v.as_object() {
                        Some(p)
                            if self.heap.kind(NonNull::new_unchecked(p.cast_mut()))
                                == Kind::Instance =>
                        {
                            Some(p.cast::<ObjInstance>().cast_mut())
                        }
                        _ => None,
                    }
                }};
            }

            load!();
            loop {
                let op = *ip;
                ip = ip.add(1);
                // The verifier accepted only opcodes of `Op`.
                match std::mem::transmute::<u8, Op>(op) {
                    Op::Constant => {
                        let k = u24!();
                        push!(*consts.add(k));
                    }
                    Op::Nil => push!(Value::NIL),
                    Op::True => push!(Value::TRUE),
                    Op::False => push!(Value::FALSE),
                    Op::Pop => sp = sp.sub(1),
                    Op::GetLocal => {
                        let s = u24!();
                        push!(*slots.add(s));
                    }
                    Op::SetLocal => {
                        let s = u24!();
                        *slots.add(s) = top!();
                    }
                    Op::GetGlobal => {
                        let g = u24!();
                        let v = *self.globals.get_unchecked(g);
                        if v.is_empty() {
                            fail!(self.undefined_variable(g));
                        }
                        push!(v);
                    }
                    Op::DefineGlobal => {
                        let g = u24!();
                        *self.globals.get_unchecked_mut(g) = pop!();
                    }
                    Op::SetGlobal => {
                        let g = u24!();
                        if self.globals.get_unchecked(g).is_empty() {
                            fail!(self.undefined_variable(g));
                        }
                        *self.globals.get_unchecked_mut(g) = top!();
                    }
                    Op::GetUpvalue => {
                        let i = u24!();
                        let u = *ObjClosure::upvalues(closure).add(i);
                        let v = if (*u).slot == CLOSED {
                            (*u).closed
                        } else {
                            *self.stack.add((*u).slot)
                        };
                        push!(v);
                    }
                    Op::SetUpvalue => {
                        let i = u24!();
                        let u = *ObjClosure::upvalues(closure).add(i);
                        if (*u).slot == CLOSED {
                            (*u).closed = top!();
                        } else {
                            *self.stack.add((*u).slot) = top!();
                        }
                    }
                    Op::GetProperty => {
                        let name = name!();
                        let Some(inst) = instance!(top!()) else {
                            fail!(self.error("Only instances have properties.".into()));
                        };
                        if let Some(v) = ObjTable::get((*inst).fields, name) {
                            *sp.sub(1) = v;
                        } else {
                            sync!();
                            self.bind((*inst).class, name)?;
                            reload!();
                        }
                    }
                    Op::SetProperty => {
                        let name = name!();
                        let Some(inst) = instance!(*sp.sub(2)) else {
                            fail!(self.error("Only instances have fields.".into()));
                        };
                        let v = top!();
                        let fields = (*inst).fields;
                        if !fields.is_null() && ObjTable::set(fields, name, v) {
                            sp = sp.sub(1);
                            *sp.sub(1) = v;
                        } else {
                            sync!();
                            self.set_field_slow(inst, name)?;
                            reload!();
                        }
                    }
                    Op::CheckInstance => {
                        if instance!(top!()).is_none() {
                            fail!(self.error("Only instances have fields.".into()));
                        }
                    }
                    Op::GetSuper => {
                        let name = name!();
                        let sup = pop!();
                        let class = sup.as_object().unwrap_unchecked().cast::<ObjClass>();
                        sync!();
                        self.bind(class, name)?;
                        reload!();
                    }
                    Op::GetMethod => {
                        let name = name!();
                        let obj = top!();
                        let Some(inst) = instance!(obj) else {
                            fail!(self.error("Only instances have properties.".into()));
                        };
                        if let Some(v) = ObjTable::get((*inst).fields, name) {
                            *sp.sub(1) = v;
                            push!(Value::EMPTY);
                        } else {
                            let m = ObjTable::get((*(*inst).class).methods, name);
                            let Some(m) = m else {
                                fail!(self.undefined_property(name));
                            };
                            *sp.sub(1) = m;
                            push!(obj);
                        }
                    }
                    Op::GetSuperMethod => {
                        let name = name!();
                        let sup = pop!();
                        let class = sup.as_object().unwrap_unchecked().cast::<ObjClass>();
                        let Some(m) = ObjTable::get((*class).methods, name) else {
                            fail!(self.undefined_property(name));
                        };
                        let this = top!();
                        *sp.sub(1) = m;
                        push!(this);
                    }
                    Op::CallMethod => {
                        let argc = u8_operand!();
                        step!();
                        let callee = sp.sub(argc + 2);
                        let at = usize::try_from(callee.offset_from(self.stack)).unwrap_unchecked();
                        sync!();
                        if (*callee.add(1)).is_empty() {
                            // A field held the callee: drop the marker.
                            ptr::copy(callee.add(2), callee.add(1), argc);
                            self.sp = sp.sub(1);
                            self.call_value(at, argc)?;
                        } else {
                            let m = (*callee)
                                .as_object()
                                .unwrap_unchecked()
                                .cast::<ObjClosure>();
                            self.enter(m, argc, at + 1, at)?;
                        }
                        load!();
                    }
                    Op::Call => {
                        let argc = u8_operand!();
                        step!();
                        let callee = sp.sub(argc + 1);
                        let at = usize::try_from(callee.offset_from(self.stack)).unwrap_unchecked();
                        sync!();
                        let v = *callee;
                        match v.as_object() {
                            Some(p)
                                if self.heap.kind(NonNull::new_unchecked(p.cast_mut()))
                                    == Kind::Closure =>
                            {
                                self.enter(p.cast(), argc, at, at)?;
                            }
                            _ => self.call_value(at, argc)?,
                        }
                        load!();
                    }
                    Op::Equal => {
                        let b = pop!();
                        let a = top!();
                        *sp.sub(1) = Value::bool(values_equal(a, b));
                    }
                    Op::Greater => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::bool(a > b);
                    }
                    Op::Less => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::bool(a < b);
                    }
                    Op::GreaterEqual => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::bool(a >= b);
                    }
                    Op::LessEqual => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::bool(a <= b);
                    }
                    Op::Subtract => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::computed(a - b);
                    }
                    Op::Multiply => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::computed(a * b);
                    }
                    Op::Divide => {
                        let (a, b) = numbers!("Operands must be numbers.");
                        *sp.sub(1) = Value::computed(a / b);
                    }
                    Op::Add => {
                        let (b, a) = (*sp.sub(1), *sp.sub(2));
                        if a.is_number() && b.is_number() {
                            sp = sp.sub(1);
                            *sp.sub(1) =
                                Value::computed(a.number_unchecked() + b.number_unchecked());
                        } else {
                            sync!();
                            self.add_slow()?;
                            reload!();
                        }
                    }
                    Op::Not => *sp.sub(1) = Value::bool(!top!().is_truthy()),
                    Op::Negate => {
                        let v = top!();
                        if !v.is_number() {
                            fail!(self.error("Operand must be a number.".into()));
                        }
                        *sp.sub(1) = Value::computed(-v.number_unchecked());
                    }
                    Op::Print => {
                        let v = pop!();
                        self.text.clear();
                        self.show(v);
                        self.text.push('\n');
                        let _ = self.out.write_all(self.text.as_bytes());
                    }
                    Op::Jump => {
                        let d = u32_operand!();
                        ip = ip.add(d);
                    }
                    Op::JumpIfFalse => {
                        let d = u32_operand!();
                        if !top!().is_truthy() {
                            ip = ip.add(d);
                        }
                    }
                    Op::Loop => {
                        let d = u32_operand!();
                        step!();
                        ip = ip.sub(d);
                    }
                    Op::Closure => {
                        let index = u24!();
                        let proto: *const Proto = &**self.protos.get_unchecked(index);
                        sync!();
                        let c = self.new_closure(proto)?;
                        // On the stack at once, so a collection in `capture`
                        // keeps it.
                        push!(Value::object(c.cast()));
                        self.sp = sp;
                        let base = self.frames.last().unwrap_unchecked().base;
                        for i in 0..(*c).count {
                            let is_local = *ip == 1;
                            ip = ip.add(1);
                            let index = u24!();
                            let u = if is_local {
                                self.capture(base + index)?
                            } else {
                                *ObjClosure::upvalues(closure).add(index)
                            };
                            *ObjClosure::upvalues(c).add(i) = u;
                        }
                        reload!();
                    }
                    Op::CloseUpvalue => {
                        sp = sp.sub(1);
                        let slot = usize::try_from(sp.offset_from(self.stack)).unwrap_unchecked();
                        self.close_upvalues(slot);
                    }
                    Op::Return => {
                        let result = pop!();
                        let frame = self.frames.pop().unwrap_unchecked();
                        if !self.open.is_null() {
                            self.close_upvalues(frame.base);
                        }
                        if self.frames.is_empty() {
                            self.sp = self.stack;
                            return Ok(());
                        }
                        sp = self.stack.add(frame.ret);
                        push!(result);
                        self.sp = sp;
                        load!();
                    }
                    Op::Class => {
                        let name = name!();
                        sync!();
                        let p = self.alloc(Kind::Class, std::mem::size_of::<ObjClass>())?;
                        p.cast::<ObjClass>().as_ptr().write(ObjClass {
                            name,
                            methods: ptr::null_mut(),
                        });
                        push!(Value::object(p.as_ptr()));
                    }
                    Op::Inherit => {
                        sync!();
                        let Some(sup) = self.class(*sp.sub(2)) else {
                            fail!(self.error("Superclass must be a class.".into()));
                        };
                        let sub = self.class(top!()).unwrap_unchecked();
                        let cap = (*sup).methods.as_ref().map_or(0, |t| t.cap as usize);
                        for k in 0..cap {
                            // The super's table stays live and unchanged
                            // (the super is on the stack, and only `sub`'s
                            // table is written).
                            let entry = *ObjTable::entries((*sup).methods).add(k);
                            if !entry.key.is_null() {
                                self.table_set(&raw mut (*sub).methods, entry.key, entry.value)?;
                            }
                        }
                        sp = sp.sub(1);
                    }
                    Op::Method => {
                        let name = name!();
                        let m = top!();
                        let class = (*sp.sub(2)).as_object().unwrap_unchecked();
                        let class = class.cast::<ObjClass>().cast_mut();
                        sync!();
                        self.table_set(&raw mut (*class).methods, name, m)?;
                        sp = sp.sub(1);
                    }
                }
            }
        }
    }
}

/// Lox equality: numbers by value (so `NaN != NaN`), everything else by
/// identity (strings are interned).
#[inline(always)]
fn values_equal(a: Value, b: Value) -> bool {
    if a.is_number() && b.is_number() {
        a.number_unchecked() == b.number_unchecked()
    } else {
        a.bits() == b.bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_equal_as_ieee_754_doubles() {
        let n = Value::number;
        assert!(!values_equal(n(f64::NAN), n(f64::NAN)));
        assert!(!values_equal(n(f64::NAN), n(-f64::NAN)));
        assert!(values_equal(n(0.0), n(-0.0)));
        assert!(values_equal(n(f64::INFINITY), n(f64::INFINITY)));
        assert!(!values_equal(n(f64::INFINITY), n(f64::NEG_INFINITY)));
        assert!(values_equal(n(0.1 + 0.2), n(0.30000000000000004)));
        assert!(!values_equal(n(0.0), Value::NIL));
        assert!(!values_equal(Value::FALSE, Value::NIL));
    }
}
