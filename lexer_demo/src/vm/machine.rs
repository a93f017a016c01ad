//! The virtual machine: a value stack holding every frame's locals, call
//! frames that allocate nothing, upvalues open while their variable is on
//! the stack, and a mark-and-sweep collector over the runtime's heap walk
//! (the mark is the header's bit, the kind its type tag, and the table of
//! interned strings is weak).

use super::chunk::Op;
use super::compiler;
use super::object::{
    CLOSED, Entry, ObjBound, ObjClass, ObjClosure, ObjInstance, ObjNative, ObjStr, ObjTable,
    ObjUpvalue, Proto,
};
use super::value::Value;
use crate::ast::Program;
use crate::interp::format_number;
use crate::interp::{GcStats, MAX_CALL_DEPTH, MIN_THRESHOLD, Options, RuntimeError};
use crate::interp::{Kind, ObjHeap, SysCounts};
use crate::resolver::Resolution;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::ptr::{self, NonNull};

/// One active call: its closure, where it is in its code, and where its
/// slots start (slot 0: the callee or `this`).
struct Frame {
    closure: *const ObjClosure,
    proto: *const Proto,
    ip: usize,
    base: usize,
    /// Where the result goes (the callee's slot, below `base` for a method
    /// called as `obj.m()`).
    ret: usize,
}

/// The VM and everything it owns: its heap (where objects live), the value
/// stack, globals, functions and the string table.
pub struct Vm<'o, H: ObjHeap> {
    heap: H,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    /// Open upvalues, highest slot first.
    open: *mut ObjUpvalue,
    globals: Vec<Value>,
    global_names: Vec<*const ObjStr>,
    global_slots: std::collections::HashMap<*const ObjStr, u32>,
    strings: HashTable<*const ObjStr>,
    /// Closures and frames point at functions: each is boxed so that its
    /// address holds whatever the vector does.
    #[allow(clippy::vec_box)]
    protos: Vec<Box<Proto>>,
    init: *const ObjStr,
    out: &'o mut dyn Write,
    text: String,
    concat: String,
    gray: Vec<NonNull<u8>>,
    stats: GcStats,
    live_objects: u64,
    since_gc: usize,
    threshold: usize,
    gc_stress: bool,
    max_string_len: usize,
    /// Offset of the instruction being run in the top frame's code.
    at: usize,
}

type Step<T = ()> = Result<T, RuntimeError>;

fn hash_str(s: &str) -> u64 {
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    h.finish()
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
    let mut vm = Vm {
        heap,
        stack: Vec::with_capacity(1024),
        frames: Vec::with_capacity(64),
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
        at: 0,
    };
    let err = vm.start(program, res, source).err();
    let _ = vm.out.flush();
    (err, vm.finish())
}

impl<'o, H: ObjHeap> Vm<'o, H> {
    fn start(&mut self, program: &Program<'_>, res: &Resolution, source: &str) -> Step {
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
        let script = compiler::compile(self, program, res, source)?;
        let proto: *const Proto = &*self.protos[script];
        let closure = self.new_closure(proto)?;
        self.stack.push(Value::object(closure.cast()));
        self.frames.push(Frame {
            closure,
            proto,
            ip: 0,
            base: 0,
            ret: 0,
        });
        self.run()
    }

    fn finish(mut self) -> (GcStats, SysCounts) {
        self.note_peaks();
        self.stats.live_at_end = self.live_objects;
        self.strings.clear();
        // SAFETY: the program is over; no object is used again.
        let swept = unsafe { self.heap.free_all() };
        self.stats.objects_freed += swept.objects;
        self.stats.bytes_freed += swept.bytes;
        let sys = self.heap.system_objects();
        (self.stats, sys)
    }

    /// Stores a compiled function and returns its index.
    pub(crate) fn add_proto(&mut self, p: Proto) -> usize {
        self.protos.push(Box::new(p));
        self.protos.len() - 1
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
        let p = self.alloc(Kind::Fields, ObjTable::size(cap))?;
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

    // ----- the collector --------------------------------------------------

    fn note_peaks(&mut self) {
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        self.stats.peak_live_bytes = self.stats.peak_live_bytes.max(live);
        self.stats.peak_live_objects = self.stats.peak_live_objects.max(self.live_objects);
        self.stats.objects_allocated = self.stats.by_kind.iter().sum();
    }

    fn mark_ptr(&mut self, p: *const u8) {
        let Some(p) = NonNull::new(p.cast_mut()) else {
            return;
        };
        // SAFETY: `p` is reachable from a root: a live object of this heap.
        unsafe {
            if !self.heap.is_marked(p) {
                self.heap.set_mark(p, true);
                self.gray.push(p);
            }
        }
    }

    fn mark_value(&mut self, v: Value) {
        if let Some(p) = v.as_object() {
            self.mark_ptr(p);
        }
    }

    fn mark_table(&mut self, t: *mut ObjTable) {
        self.mark_ptr(t.cast_const().cast());
    }

    fn collect(&mut self) {
        self.stats.collections += 1;
        self.note_peaks();
        // Roots: the stack, the frames' closures, open upvalues, globals
        // and their names, the functions' constants and names.
        for i in 0..self.stack.len() {
            self.mark_value(self.stack[i]);
        }
        for i in 0..self.frames.len() {
            self.mark_ptr(self.frames[i].closure.cast());
        }
        let mut u = self.open;
        while !u.is_null() {
            self.mark_ptr(u.cast_const().cast());
            // SAFETY: open upvalues are live.
            u = unsafe { (*u).next };
        }
        for i in 0..self.globals.len() {
            self.mark_value(self.globals[i]);
            self.mark_ptr(self.global_names[i].cast());
        }
        for i in 0..self.protos.len() {
            self.mark_ptr(self.protos[i].name.cast());
            for k in 0..self.protos[i].chunk.constants.len() {
                self.mark_value(self.protos[i].chunk.constants[k]);
            }
        }
        self.mark_ptr(self.init.cast());
        while let Some(p) = self.gray.pop() {
            self.trace(p);
        }
        // The string table is weak: unmarked strings leave it.
        let heap = &self.heap;
        // SAFETY: every string in the table is live until the sweep below.
        self.strings
            .retain(|p| unsafe { heap.is_marked(NonNull::new_unchecked(p.cast_mut().cast())) });
        self.heap.plan(usize::MAX);
        // SAFETY: an unmarked object is unreachable from every root.
        let swept = unsafe { self.heap.sweep() };
        self.live_objects -= swept.objects;
        self.stats.objects_freed += swept.objects;
        self.stats.bytes_freed += swept.bytes;
        self.since_gc = 0;
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        let live = usize::try_from(live).unwrap_or(usize::MAX);
        self.threshold = MIN_THRESHOLD.max(live.saturating_mul(2));
        self.heap
            .plan(self.threshold.saturating_add(self.threshold / 4));
    }

    fn trace(&mut self, p: NonNull<u8>) {
        // SAFETY: `p` is a marked, live object; its kind says its layout.
        unsafe {
            match self.heap.kind(p) {
                Kind::Str | Kind::Native | Kind::Env => {}
                Kind::Closure => {
                    let c = p.cast::<ObjClosure>().as_ptr();
                    let ups = ObjClosure::upvalues(c);
                    for i in 0..(*c).count {
                        self.mark_ptr((*ups.add(i)).cast_const().cast());
                    }
                }
                Kind::Upvalue => {
                    let u = p.cast::<ObjUpvalue>().as_ptr();
                    if (*u).slot == CLOSED {
                        self.mark_value((*u).closed);
                    }
                }
                Kind::Class => {
                    let c = p.cast::<ObjClass>().as_ptr();
                    self.mark_ptr((*c).name.cast());
                    self.mark_table((*c).methods);
                }
                Kind::Instance => {
                    let i = p.cast::<ObjInstance>().as_ptr();
                    self.mark_ptr((*i).class.cast());
                    self.mark_table((*i).fields);
                }
                Kind::Fields => {
                    let t = p.cast::<ObjTable>().as_ptr();
                    let e = ObjTable::entries(t);
                    for k in 0..(*t).cap as usize {
                        let Entry { key, value } = *e.add(k);
                        if !key.is_null() {
                            self.mark_ptr(key.cast());
                            self.mark_value(value);
                        }
                    }
                }
                Kind::Bound => {
                    let b = p.cast::<ObjBound>().as_ptr();
                    self.mark_value((*b).receiver);
                    self.mark_ptr((*b).method.cast());
                }
            }
        }
    }

    // ----- running ----------------------------------------------------------

    /// An error at the instruction being run (line 0 before the program
    /// starts).
    fn error(&self, message: String) -> RuntimeError {
        let line = match self.frames.last() {
            // SAFETY: protos live as long as the VM.
            Some(f) => unsafe { (*f.proto).chunk.line_at(self.at) },
            None => 0,
        };
        RuntimeError { message, line }
    }

    fn kind_of(&self, v: Value) -> Option<(Kind, *const u8)> {
        let p = v.as_object()?;
        // SAFETY: a value on the stack or in a live object refers to a live
        // object.
        Some((unsafe { self.heap.kind(NonNull::new(p.cast_mut())?) }, p))
    }

    fn instance(&self, v: Value) -> Option<*mut ObjInstance> {
        match self.kind_of(v)? {
            (Kind::Instance, p) => Some(p.cast::<ObjInstance>().cast_mut()),
            _ => None,
        }
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

    fn values_equal(&self, a: Value, b: Value) -> bool {
        match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => x == y,
            _ => a.bits() == b.bits(),
        }
    }

    #[inline]
    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or(Value::NIL)
    }

    #[inline]
    fn peek(&self, back: usize) -> Value {
        self.stack[self.stack.len() - 1 - back]
    }

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

    fn close_upvalues(&mut self, from: usize) {
        // SAFETY: open upvalues are live and their slots are on the stack.
        unsafe {
            while !self.open.is_null() && (*self.open).slot >= from {
                let u = self.open;
                (*u).closed = self.stack[(*u).slot];
                (*u).slot = CLOSED;
                self.open = (*u).next;
            }
        }
    }

    /// Calls the closure `c` with `argc` arguments on the stack above
    /// `base` (slot 0 is `base`), its result going to `ret`.
    fn call_closure(&mut self, c: *const ObjClosure, argc: usize, base: usize, ret: usize) -> Step {
        // SAFETY: `c` is a live closure; its proto lives as long as the VM.
        let proto = unsafe { (*c).proto };
        // SAFETY: as above.
        let arity = usize::from(unsafe { (*proto).arity });
        if argc != arity {
            return Err(self.error(format!("Expected {arity} arguments but got {argc}.")));
        }
        if self.frames.len() > MAX_CALL_DEPTH {
            return Err(self.error("Stack overflow.".into()));
        }
        self.frames.push(Frame {
            closure: c,
            proto,
            ip: 0,
            base,
            ret,
        });
        Ok(())
    }

    /// Calls the value in slot `callee` with the `argc` values above it.
    fn call_value(&mut self, callee: usize, argc: usize) -> Step {
        let v = self.stack[callee];
        match self.kind_of(v) {
            Some((Kind::Closure, p)) => self.call_closure(p.cast(), argc, callee, callee),
            Some((Kind::Bound, p)) => {
                // SAFETY: a live bound method.
                let b = unsafe { &*p.cast::<ObjBound>() };
                self.stack[callee] = b.receiver;
                self.call_closure(b.method, argc, callee, callee)
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
                // SAFETY: fresh memory for an instance.
                unsafe {
                    inst.write(ObjInstance {
                        class,
                        fields: ptr::null_mut(),
                    })
                };
                self.stack[callee] = Value::object(inst.cast_const().cast());
                match init {
                    Some(m) => self.call_closure(m, argc, callee, callee),
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
                self.stack.truncate(callee);
                self.stack.push(Value::number(now));
                Ok(())
            }
            _ => Err(self.error("Can only call functions and classes.".into())),
        }
    }

    fn binary_numbers(&mut self, op: Op) -> Step {
        let (b, a) = (self.peek(0), self.peek(1));
        let (Some(x), Some(y)) = (a.as_number(), b.as_number()) else {
            return Err(self.error("Operands must be numbers.".into()));
        };
        let r = match op {
            Op::Subtract => Value::number(x - y),
            Op::Multiply => Value::number(x * y),
            Op::Divide => Value::number(x / y),
            Op::Greater => Value::bool(x > y),
            Op::Less => Value::bool(x < y),
            Op::GreaterEqual => Value::bool(x >= y),
            _ => Value::bool(x <= y),
        };
        self.stack.pop();
        *self.stack.last_mut().expect("two operands") = r;
        Ok(())
    }

    fn add(&mut self) -> Step {
        let (b, a) = (self.peek(0), self.peek(1));
        if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
            self.stack.pop();
            *self.stack.last_mut().expect("two operands") = Value::number(x + y);
            return Ok(());
        }
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
        self.stack.pop();
        *self.stack.last_mut().expect("two operands") = Value::object(s.cast());
        Ok(())
    }

    fn bind(&mut self, class: *const ObjClass, name: *const ObjStr) -> Step {
        // SAFETY: a live class; its table is live or null; `name` is live.
        let method = unsafe { ObjTable::get((*class).methods, name) };
        let Some(m) = method.and_then(|m| m.as_object()) else {
            // SAFETY: `name` is a live string.
            let n = unsafe { ObjStr::as_str(name) };
            return Err(self.error(format!("Undefined property '{n}'.")));
        };
        let p = self.alloc(Kind::Bound, std::mem::size_of::<ObjBound>())?;
        let receiver = self.peek(0);
        // SAFETY: fresh memory for a bound method.
        unsafe {
            p.cast::<ObjBound>().as_ptr().write(ObjBound {
                receiver,
                method: m.cast(),
            })
        };
        *self.stack.last_mut().expect("the receiver") = Value::object(p.as_ptr());
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn run(&mut self) -> Step {
        loop {
            let frame = self.frames.last_mut().expect("a frame is running");
            let proto = frame.proto;
            // SAFETY: protos are boxed, live as long as the VM and are not
            // changed while it runs, so this borrow does not hold `self`.
            let chunk = unsafe { &(*proto).chunk };
            let at = frame.ip;
            let base = frame.base;
            let byte = chunk.code[at];
            let Some(op) = Op::from_byte(byte) else {
                return Err(self.error("Internal error: bad instruction.".into()));
            };
            frame.ip = at + 1 + op.operand_bytes();
            self.at = at;
            let operand = at + 1;
            match op {
                Op::Constant => {
                    let k = chunk.read_u24(operand) as usize;
                    self.stack.push(chunk.constants[k]);
                }
                Op::Nil => self.stack.push(Value::NIL),
                Op::True => self.stack.push(Value::TRUE),
                Op::False => self.stack.push(Value::FALSE),
                Op::Pop => {
                    self.stack.pop();
                }
                Op::GetLocal => {
                    let slot = chunk.read_u24(operand) as usize;
                    self.stack.push(self.stack[base + slot]);
                }
                Op::SetLocal => {
                    let slot = chunk.read_u24(operand) as usize;
                    self.stack[base + slot] = self.peek(0);
                }
                Op::GetGlobal => {
                    let g = chunk.read_u24(operand) as usize;
                    let v = self.globals[g];
                    if v.is_empty() {
                        return Err(self.undefined_variable(g));
                    }
                    self.stack.push(v);
                }
                Op::DefineGlobal => {
                    let g = chunk.read_u24(operand) as usize;
                    self.globals[g] = self.pop();
                }
                Op::SetGlobal => {
                    let g = chunk.read_u24(operand) as usize;
                    if self.globals[g].is_empty() {
                        return Err(self.undefined_variable(g));
                    }
                    self.globals[g] = self.peek(0);
                }
                Op::GetUpvalue => {
                    let i = chunk.read_u24(operand) as usize;
                    let c = self.frames.last().expect("running").closure;
                    // SAFETY: the running closure and its upvalues are live.
                    let v = unsafe {
                        let u = *ObjClosure::upvalues(c).add(i);
                        if (*u).slot == CLOSED {
                            (*u).closed
                        } else {
                            self.stack[(*u).slot]
                        }
                    };
                    self.stack.push(v);
                }
                Op::SetUpvalue => {
                    let i = chunk.read_u24(operand) as usize;
                    let c = self.frames.last().expect("running").closure;
                    let v = self.peek(0);
                    // SAFETY: as above.
                    unsafe {
                        let u = *ObjClosure::upvalues(c).add(i);
                        if (*u).slot == CLOSED {
                            (*u).closed = v;
                        } else {
                            self.stack[(*u).slot] = v;
                        }
                    }
                }
                Op::GetProperty => {
                    let name = self.name_at(chunk, operand);
                    let Some(inst) = self.instance(self.peek(0)) else {
                        return Err(self.error("Only instances have properties.".into()));
                    };
                    // SAFETY: a live instance; its tables are live or null.
                    let field = unsafe { ObjTable::get((*inst).fields, name) };
                    match field {
                        Some(v) => *self.stack.last_mut().expect("the object") = v,
                        // SAFETY: as above.
                        None => self.bind(unsafe { (*inst).class }, name)?,
                    }
                }
                Op::SetProperty => {
                    let name = self.name_at(chunk, operand);
                    let Some(inst) = self.instance(self.peek(1)) else {
                        return Err(self.error("Only instances have fields.".into()));
                    };
                    let v = self.peek(0);
                    // SAFETY: `inst` is live (on the stack) and so is `v`.
                    self.table_set(unsafe { &raw mut (*inst).fields }, name, v)?;
                    self.stack.pop();
                    *self.stack.last_mut().expect("the object") = v;
                }
                Op::CheckInstance => {
                    if self.instance(self.peek(0)).is_none() {
                        return Err(self.error("Only instances have fields.".into()));
                    }
                }
                Op::GetSuper => {
                    let name = self.name_at(chunk, operand);
                    let sup = self.pop();
                    let class = self.class(sup).expect("super is a class");
                    self.bind(class, name)?;
                }
                Op::GetMethod => {
                    let name = self.name_at(chunk, operand);
                    let obj = self.peek(0);
                    let Some(inst) = self.instance(obj) else {
                        return Err(self.error("Only instances have properties.".into()));
                    };
                    // SAFETY: a live instance; its tables are live or null.
                    if let Some(v) = unsafe { ObjTable::get((*inst).fields, name) } {
                        *self.stack.last_mut().expect("the object") = v;
                        self.stack.push(Value::EMPTY);
                    } else {
                        // SAFETY: as above.
                        let m = unsafe { ObjTable::get((*(*inst).class).methods, name) };
                        let Some(m) = m else {
                            return Err(self.undefined_property(name));
                        };
                        *self.stack.last_mut().expect("the object") = m;
                        self.stack.push(obj);
                    }
                }
                Op::GetSuperMethod => {
                    let name = self.name_at(chunk, operand);
                    let sup = self.pop();
                    let class = self.class(sup).expect("super is a class");
                    // SAFETY: a live class.
                    let Some(m) = (unsafe { ObjTable::get((*class).methods, name) }) else {
                        return Err(self.undefined_property(name));
                    };
                    let this = self.peek(0);
                    *self.stack.last_mut().expect("this") = m;
                    self.stack.push(this);
                }
                Op::CallMethod => {
                    let argc = usize::from(chunk.code[operand]);
                    let callee = self.stack.len() - argc - 2;
                    if self.stack[callee + 1].is_empty() {
                        self.stack.remove(callee + 1);
                        self.call_value(callee, argc)?;
                    } else {
                        let m = self.stack[callee]
                            .as_object()
                            .expect("a method")
                            .cast::<ObjClosure>();
                        self.call_closure(m, argc, callee + 1, callee)?;
                    }
                }
                Op::Call => {
                    let argc = usize::from(chunk.code[operand]);
                    let callee = self.stack.len() - argc - 1;
                    self.call_value(callee, argc)?;
                }
                Op::Equal => {
                    let b = self.pop();
                    let a = self.peek(0);
                    *self.stack.last_mut().expect("two operands") =
                        Value::bool(self.values_equal(a, b));
                }
                Op::Greater
                | Op::Less
                | Op::GreaterEqual
                | Op::LessEqual
                | Op::Subtract
                | Op::Multiply
                | Op::Divide => self.binary_numbers(op)?,
                Op::Add => self.add()?,
                Op::Not => {
                    let v = self.peek(0);
                    *self.stack.last_mut().expect("an operand") = Value::bool(!v.is_truthy());
                }
                Op::Negate => {
                    let Some(n) = self.peek(0).as_number() else {
                        return Err(self.error("Operand must be a number.".into()));
                    };
                    *self.stack.last_mut().expect("an operand") = Value::number(-n);
                }
                Op::Print => {
                    let v = self.pop();
                    self.text.clear();
                    self.show(v);
                    self.text.push('\n');
                    let _ = self.out.write_all(self.text.as_bytes());
                }
                Op::Jump => {
                    let d = chunk.read_u32(operand) as usize;
                    self.frames.last_mut().expect("running").ip += d;
                }
                Op::JumpIfFalse => {
                    if !self.peek(0).is_truthy() {
                        let d = chunk.read_u32(operand) as usize;
                        self.frames.last_mut().expect("running").ip += d;
                    }
                }
                Op::Loop => {
                    let d = chunk.read_u32(operand) as usize;
                    self.frames.last_mut().expect("running").ip -= d;
                }
                Op::Closure => {
                    let index = chunk.read_u24(operand) as usize;
                    let proto: *const Proto = &*self.protos[index];
                    let c = self.new_closure(proto)?;
                    self.stack.push(Value::object(c.cast()));
                    // SAFETY: protos live as long as the VM.
                    let n = unsafe { (*proto).upvalues } as usize;
                    let mut at = operand + 3;
                    for i in 0..n {
                        let is_local = chunk.code[at] == 1;
                        let index = chunk.read_u24(at + 1) as usize;
                        at += 4;
                        let u = if is_local {
                            self.capture(base + index)?
                        } else {
                            let enclosing = self.frames.last().expect("running").closure;
                            // SAFETY: the running closure is live.
                            unsafe { *ObjClosure::upvalues(enclosing).add(index) }
                        };
                        // SAFETY: `c` is live (on the stack) with `n` slots.
                        unsafe { *ObjClosure::upvalues(c).add(i) = u };
                    }
                    self.frames.last_mut().expect("running").ip = at;
                }
                Op::CloseUpvalue => {
                    self.close_upvalues(self.stack.len() - 1);
                    self.stack.pop();
                }
                Op::Return => {
                    let result = self.pop();
                    let frame = self.frames.pop().expect("running");
                    self.close_upvalues(frame.base);
                    if self.frames.is_empty() {
                        self.stack.clear();
                        return Ok(());
                    }
                    self.stack.truncate(frame.ret);
                    self.stack.push(result);
                }
                Op::Class => {
                    let name = self.name_at(chunk, operand);
                    let p = self.alloc(Kind::Class, std::mem::size_of::<ObjClass>())?;
                    // SAFETY: fresh memory for a class.
                    unsafe {
                        p.cast::<ObjClass>().as_ptr().write(ObjClass {
                            name,
                            methods: ptr::null_mut(),
                        })
                    };
                    self.stack.push(Value::object(p.as_ptr()));
                }
                Op::Inherit => {
                    let Some(sup) = self.class(self.peek(1)) else {
                        return Err(self.error("Superclass must be a class.".into()));
                    };
                    let sub = self.class(self.peek(0)).expect("a class");
                    // SAFETY: both classes are live (on the stack).
                    let cap = unsafe { (*sup).methods.as_ref() }.map_or(0, |t| t.cap as usize);
                    for k in 0..cap {
                        // SAFETY: `k < cap`; the super's table stays live
                        // (the super is on the stack and never changes).
                        let entry = unsafe { *ObjTable::entries((*sup).methods).add(k) };
                        if !entry.key.is_null() {
                            // SAFETY: `sub` is live (on the stack).
                            let slot = unsafe { &raw mut (*sub).methods };
                            self.table_set(slot, entry.key, entry.value)?;
                        }
                    }
                    self.stack.pop();
                }
                Op::Method => {
                    let name = self.name_at(chunk, operand);
                    let m = self.peek(0);
                    let class = self.class(self.peek(1)).expect("a class");
                    // SAFETY: `class` is live (on the stack), and so is `m`.
                    self.table_set(unsafe { &raw mut (*class).methods }, name, m)?;
                    self.stack.pop();
                }
            }
        }
    }

    /// The interned string constant at `operand`.
    fn name_at(&self, chunk: &super::chunk::Chunk, operand: usize) -> *const ObjStr {
        let k = chunk.read_u24(operand) as usize;
        chunk.constants[k]
            .as_object()
            .expect("a name constant")
            .cast::<ObjStr>()
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
}
