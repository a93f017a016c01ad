//! A tree-walking interpreter over the resolved AST, whose runtime objects
//! live in an [`ObjHeap`] (a `MorphContext` by default) and are reclaimed by
//! a mark-and-sweep collector.
//!
//! - **Objects**: strings made at run time, closures, environments, classes,
//!   instances, field tables and bound methods, each tagged with its
//!   [`Kind`]. String literals are not copied: a literal value points into
//!   the AST.
//! - **Variables**: the resolver gives each local use a depth and a slot, so
//!   a read walks `depth` environments and indexes. Globals are a vector; the
//!   first time a use of a global runs, its name is looked up once and the
//!   index cached for that use.
//!   A block that declares nothing has no environment.
//! - **Roots**: the globals, the current environment, the environments of
//!   suspended calls, and the value stack, where every temporary that must
//!   survive an allocation (operands, callees, arguments, a class's methods
//!   while it is built) is kept.
//! - **Collection**: before an allocation, when the bytes allocated since
//!   the last collection pass a threshold (at first 1 MiB, then twice the
//!   live bytes after each collection), or before every allocation under
//!   `gc_stress`. Marking sets the header's mark bit, sweeping frees every
//!   unmarked object back to its pool and clears the others' bits. When the
//!   interpreter is dropped, every object is freed.
//! - **Limits**: calls nest at most [`MAX_CALL_DEPTH`] deep and within the
//!   stack budget given; beyond either, `Stack overflow.`. Concatenation
//!   builds strings of at most [`Options::max_string_len`] bytes
//!   ([`MAX_STRING_LEN`] by default); a longer one is `String too long.`.
//!   Object sizes are `usize` throughout, so a string may pass 4 GiB.
//!
//! ```
//! use lexer_demo::interp::{run_source, Backend, Options};
//! let mut out = Vec::new();
//! let r = run_source("var a = \"x\"; print a + \"y\"; print 1 / 4;", &Options::default(), &mut out);
//! assert!(r.error.is_none());
//! assert_eq!(String::from_utf8(out).unwrap(), "xy\n0.25\n");
//! # let _ = Backend::Heap;
//! ```

mod heap;
mod value;

pub use heap::{Kind, MorphHeap, ObjHeap, Swept, SysCounts, SysHeap};

use crate::ast::{Expr, Function, Program, Stmt};
use crate::diagnostics::Diagnostic;
use crate::resolver::{Resolution, declarations};
use crate::token::{LazyLines, TokenKind};
use morph_runtime::MorphContext;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::Write;
use std::ptr::NonNull;
pub(crate) use value::format_number;
use value::{
    Bound, Class, Closure, Env, Field, Fields, Gc, Instance, Method, Native, StrObj, Value, equal,
};

/// Calls nest at most this deep; one more is `Stack overflow.`.
///
/// ```
/// use lexer_demo::interp::{run_source, with_stack, Options, BIG_STACK_BUDGET, MAX_CALL_DEPTH};
/// let src = format!("fun d(n) {{ if (n == 0) return 0; return d(n - 1); }} d({});", MAX_CALL_DEPTH);
/// let opts = Options { stack_budget: BIG_STACK_BUDGET, ..Options::default() };
/// let r = with_stack(|| run_source(&src, &opts, &mut Vec::new()));
/// assert_eq!(r.error.unwrap().message, "Stack overflow.");
/// ```
pub const MAX_CALL_DEPTH: usize = 10_000;

/// Stack a thread needs to reach [`MAX_CALL_DEPTH`] in any build; what
/// [`with_stack`] gives. Reserved, not touched: only the pages a program's
/// recursion reaches become memory.
///
/// ```
/// assert!(lexer_demo::interp::BIG_STACK_BUDGET < lexer_demo::interp::STACK_SIZE);
/// ```
pub const STACK_SIZE: usize = 1 << 30;

/// Collection threshold before the first collection, and its floor.
///
/// ```
/// use lexer_demo::interp::{run_source, Options, MIN_THRESHOLD};
/// // 1,000 environments of 48 bytes: far below the threshold, no collection.
/// let r = run_source("for (var i = 0; i < 1000; i = i + 1) { var x = i; }", &Options::default(), &mut Vec::new());
/// assert!(r.gc.bytes_allocated < MIN_THRESHOLD as u64);
/// assert_eq!(r.gc.collections, 0);
/// ```
pub const MIN_THRESHOLD: usize = 1 << 20;

/// The longest string, in bytes, that concatenation builds unless
/// [`Options::max_string_len`] says less: the longest whose object (an
/// 8-byte length, then the bytes) either heap can lay out. A longer result
/// is the runtime error `String too long.`; a shorter one the system cannot
/// serve is `Out of memory.`.
///
/// ```
/// use lexer_demo::interp::{Options, MAX_STRING_LEN};
/// assert_eq!(MAX_STRING_LEN, (1 << 63) - 24);
/// assert_eq!(Options::default().max_string_len, MAX_STRING_LEN);
/// ```
pub const MAX_STRING_LEN: usize = heap::MAX_OBJECT - std::mem::size_of::<StrObj>();

/// Where runtime objects go.
///
/// ```
/// use lexer_demo::interp::{run_source, Backend, Options};
/// let opts = Options { backend: Backend::Heap, ..Options::default() };
/// let r = run_source("class A {} print A();", &opts, &mut Vec::new());
/// assert_eq!((r.heap.backend, r.heap.system_allocations), ("heap", 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// A `MorphContext`: size-class pools, headers with a mark bit.
    #[default]
    Morph,
    /// One system allocation per object.
    Heap,
}

/// How to run a program.
///
/// ```
/// let o = lexer_demo::interp::Options::default();
/// assert!(!o.gc_stress);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Collect before every allocation.
    pub gc_stress: bool,
    /// Where runtime objects go.
    pub backend: Backend,
    /// Bytes of native stack the interpreter may use; past them a call is
    /// `Stack overflow.`. The default suits a test thread's 2 MiB;
    /// [`with_stack`] gives far more.
    pub stack_budget: usize,
    /// The longest string concatenation may build, in bytes; a longer one
    /// is the runtime error `String too long.`. [`MAX_STRING_LEN`] by
    /// default, and a larger value counts as that.
    ///
    /// ```
    /// use lexer_demo::interp::{run_source, Options};
    /// let opts = Options { max_string_len: 3, ..Options::default() };
    /// let mut out = Vec::new();
    /// let r = run_source("print \"ab\" + \"c\";\nprint \"ab\" + \"cd\";", &opts, &mut out);
    /// assert_eq!(out, b"abc\n");
    /// assert_eq!(r.error.unwrap().to_string(), "String too long.\n[line 2]");
    /// ```
    pub max_string_len: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            gc_stress: false,
            backend: Backend::Morph,
            stack_budget: 1 << 20,
            max_string_len: MAX_STRING_LEN,
        }
    }
}

/// A runtime error: the message and the line it happened on.
///
/// ```
/// use lexer_demo::interp::{run_source, Options};
/// let r = run_source("var a;\nprint a.b;", &Options::default(), &mut Vec::new());
/// let e = r.error.unwrap();
/// assert_eq!((e.message.as_str(), e.line), ("Only instances have properties.", 2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    /// The message, as LOX.md spells it.
    pub message: String,
    /// The line of the token where it happened.
    pub line: u32,
}

impl std::fmt::Display for RuntimeError {
    /// The two-line form of LOX.md: the message, then `[line N]`.
    ///
    /// ```
    /// let e = lexer_demo::interp::RuntimeError { message: "Operand must be a number.".into(), line: 3 };
    /// assert_eq!(e.to_string(), "Operand must be a number.\n[line 3]");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n[line {}]", self.message, self.line)
    }
}

/// What the collector did.
///
/// ```
/// use lexer_demo::interp::{run_source, Kind, Options};
/// let opts = Options { gc_stress: true, ..Options::default() };
/// let r = run_source("var s = \"a\" + \"b\"; s = s + s;", &opts, &mut Vec::new());
/// assert_eq!((r.gc.objects_allocated, r.gc.collections, r.gc.objects_freed), (2, 2, 0));
/// assert_eq!(r.gc.by_kind[Kind::Str as usize - Kind::Str as usize], 2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcStats {
    /// Collections run.
    pub collections: u64,
    /// Objects allocated.
    pub objects_allocated: u64,
    /// Their bytes.
    pub bytes_allocated: u64,
    /// Objects the collector freed.
    pub objects_freed: u64,
    /// Their bytes.
    pub bytes_freed: u64,
    /// Most object bytes alive at once.
    pub peak_live_bytes: u64,
    /// Most objects alive at once.
    pub peak_live_objects: u64,
    /// Objects alive when the program ended (freed at teardown).
    pub live_at_end: u64,
    /// Allocations by kind, in [`Kind::ALL`] order.
    pub by_kind: [u64; Kind::ALL.len()],
}

/// The result of a run.
///
/// ```
/// use lexer_demo::interp::{run_source, Options};
/// let r = run_source("print 1 +;", &Options::default(), &mut Vec::new());
/// assert_eq!(r.diagnostics[0].to_string(), "[line 1] Error at ';': Expect expression.");
/// ```
#[derive(Debug)]
pub struct RunResult {
    /// Compile errors; when there are any, nothing ran.
    pub diagnostics: Vec<Diagnostic>,
    /// The runtime error that stopped the program, if one did.
    pub error: Option<RuntimeError>,
    /// The collector's counters.
    pub gc: GcStats,
    /// The backend's own figures.
    pub heap: HeapFigures,
}

impl RunResult {
    /// The exit code of LOX.md: 65 for compile errors, 70 for a runtime
    /// error, else 0.
    ///
    /// ```
    /// use lexer_demo::interp::{run_source, Options};
    /// let r = run_source("print -\"a\";", &Options::default(), &mut Vec::new());
    /// assert_eq!(r.exit_code(), 70);
    /// ```
    pub fn exit_code(&self) -> u8 {
        if !self.diagnostics.is_empty() {
            65
        } else if self.error.is_some() {
            70
        } else {
            0
        }
    }
}

/// Figures of the heap the objects lived in, taken at the end of the run.
///
/// ```
/// use lexer_demo::interp::{run_source, Options};
/// let opts = Options { gc_stress: true, ..Options::default() };
/// let r = run_source("for (var i = 0; i < 10; i = i + 1) { var s = \"a\" + \"b\"; }", &opts, &mut Vec::new());
/// assert_eq!(r.heap.live_after_teardown, 0);
/// assert!(r.heap.pool_reuses > 0);
/// ```
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HeapFigures {
    /// `morph` or `heap`.
    pub backend: &'static str,
    /// Allocations served by a pool slot that an earlier object freed
    /// (morph only).
    pub pool_reuses: u64,
    /// Allocations the pools served (morph only).
    pub pool_allocations: u64,
    /// Most bytes the context held from the system at once (morph only).
    pub peak_bytes_reserved: u64,
    /// Objects that went to the system allocator (all of them for `heap`;
    /// the large ones for morph, in the context's large-object space).
    pub system_allocations: u64,
    /// Empty slabs the context gave back to the system (morph only).
    pub slabs_returned: u64,
    /// Objects still live in the heap after teardown: 0 unless something
    /// leaked.
    pub live_after_teardown: u64,
}

/// The `run --stats` text: what the collector did, and where objects went.
///
/// ```
/// use lexer_demo::interp::{render_stats, run_source, Options};
/// let r = run_source("var s = \"a\"; for (var i = 0; i < 3; i = i + 1) s = s + s;", &Options::default(), &mut Vec::new());
/// let text = render_stats(&r.gc, &r.heap, None, std::time::Duration::ZERO);
/// // Three strings and the loop's scope.
/// assert!(text.contains("4 objects allocated"), "{text}");
/// ```
pub fn render_stats(
    gc: &GcStats,
    heap: &HeapFigures,
    process_peak: Option<usize>,
    elapsed: std::time::Duration,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "run: backend {}, {:.3} s, {} collections",
        heap.backend,
        elapsed.as_secs_f64(),
        gc.collections
    );
    let _ = writeln!(
        s,
        "objects: {} objects allocated ({} bytes), {} freed by the collector ({} bytes), {} live at the end",
        gc.objects_allocated, gc.bytes_allocated, gc.objects_freed, gc.bytes_freed, gc.live_at_end
    );
    let _ = writeln!(
        s,
        "peak live: {} bytes in {} objects",
        gc.peak_live_bytes, gc.peak_live_objects
    );
    let kinds: Vec<String> = Kind::ALL
        .iter()
        .zip(gc.by_kind)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let _ = writeln!(s, "allocated by kind: {}", kinds.join(", "));
    if heap.backend == "morph" {
        let pct = if heap.pool_allocations == 0 {
            0.0
        } else {
            100.0 * heap.pool_reuses as f64 / heap.pool_allocations as f64
        };
        let _ = writeln!(
            s,
            "pools: {} of {} allocations reused a freed slot ({pct:.1}%), peak reserved {} bytes, {} empty slabs given back; {} large objects",
            heap.pool_reuses,
            heap.pool_allocations,
            heap.peak_bytes_reserved,
            heap.slabs_returned,
            heap.system_allocations
        );
    } else {
        let _ = writeln!(s, "system heap: {} allocations", heap.system_allocations);
    }
    if let Some(p) = process_peak {
        let _ = writeln!(s, "process heap peak during the run: {p} bytes");
    }
    let _ = writeln!(s, "live after teardown: {}", heap.live_after_teardown);
    s
}

/// Runs `f` on a thread with [`STACK_SIZE`] bytes of stack, so that
/// [`MAX_CALL_DEPTH`] calls fit in any build (the memory is reserved, and
/// touched only as deep as the program goes).
///
/// ```
/// assert_eq!(lexer_demo::interp::with_stack(|| 2 + 2), 4);
/// ```
pub fn with_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("lox".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(s, f)
            .expect("a thread for the interpreter")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// The stack budget for code run by [`with_stack`]: all of it but 8 MiB,
/// a margin for the frames between two checks.
///
/// ```
/// assert_eq!(lexer_demo::interp::BIG_STACK_BUDGET, (1 << 30) - (8 << 20));
/// ```
pub const BIG_STACK_BUDGET: usize = STACK_SIZE - (8 << 20);

/// Compiles and runs `source`, printing to `out`.
///
/// ```
/// use lexer_demo::interp::{run_source, Options};
/// let mut out = Vec::new();
/// let r = run_source("class A { init(x) { this.x = x; } } print A(3).x;", &Options::default(), &mut out);
/// assert_eq!((r.exit_code(), out.as_slice()), (0, &b"3\n"[..]));
/// ```
pub fn run_source(source: &str, options: &Options, out: &mut dyn Write) -> RunResult {
    let ast = MorphContext::new();
    let tokens = crate::frontend::token_context();
    let compiled = match crate::frontend::compile(source, &ast, &tokens) {
        Ok(c) => c,
        Err(e) => {
            return RunResult {
                diagnostics: vec![Diagnostic::new(
                    1,
                    crate::diagnostics::Location::None,
                    e.to_string(),
                )],
                error: None,
                gc: GcStats::default(),
                heap: HeapFigures::default(),
            };
        }
    };
    match compiled.resolution {
        Some(res) if compiled.diagnostics.is_empty() => {
            let (error, gc, heap) = run_program(&compiled.program, &res, source, options, out);
            RunResult {
                diagnostics: Vec::new(),
                error,
                gc,
                heap,
            }
        }
        _ => RunResult {
            diagnostics: compiled.diagnostics,
            error: None,
            gc: GcStats::default(),
            heap: HeapFigures::default(),
        },
    }
}

/// The context `run` puts objects in: the runtime's `runtime` preset. Its
/// tight size-class table (steps of 8) fits a runtime's objects, which come
/// in many sizes, all 8-aligned (a one-variable environment is 40 bytes
/// with its header, an instance 32, a three-slot environment 72; the
/// default table would round them to 64, 32 and 128); objects over the
/// pool limit go to its large-object space, freed one by one; empty slabs
/// go back to the system past 1 MiB.
///
/// ```
/// let ctx = lexer_demo::interp::runtime_context();
/// assert_eq!(ctx.config(), &morph_runtime::Config::runtime());
/// ```
pub fn runtime_context() -> MorphContext {
    MorphContext::with_config(morph_runtime::Config::runtime())
        .expect("the runtime preset is a valid configuration")
}

/// Runs a resolved program with objects in the chosen backend; returns the
/// runtime error if one stopped it, and the figures.
///
/// ```
/// use lexer_demo::{frontend::compile, interp::{run_program, Options}};
/// let src = "fun f(n) { if (n < 2) return n; return f(n - 1) + f(n - 2); } print f(10);";
/// let ctx = morph_runtime::MorphContext::new();
/// let c = compile(src, &ctx, &ctx).unwrap();
/// let mut out = Vec::new();
/// let (err, gc, _) = run_program(&c.program, c.resolution.as_ref().unwrap(), src, &Options::default(), &mut out);
/// assert!(err.is_none());
/// assert_eq!(out, b"55\n");
/// // The closure, and an environment for each of the 177 calls: too few
/// // bytes for a collection, so all were still there at the end.
/// assert_eq!((gc.objects_allocated, gc.collections, gc.live_at_end), (178, 0, 178));
/// ```
pub fn run_program(
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    options: &Options,
    out: &mut dyn Write,
) -> (Option<RuntimeError>, GcStats, HeapFigures) {
    match options.backend {
        Backend::Morph => {
            run_in_context(&mut runtime_context(), program, res, source, options, out)
        }
        Backend::Heap => {
            let (err, gc) = interpret(SysHeap::default(), program, res, source, options, out);
            (err, gc.0, HeapFigures::of_system_heap(gc.1))
        }
    }
}

/// Runs a resolved program with its objects in `ctx` (whatever
/// `options.backend` says); when it returns, every object has been freed
/// back to `ctx`.
///
/// ```
/// use lexer_demo::{frontend::compile, interp::{run_in_context, runtime_context, Options}};
/// let src = "var s = \"a\"; for (var i = 0; i < 100; i = i + 1) s = s + \"b\"; print s == s;";
/// let ast = morph_runtime::MorphContext::new();
/// let c = compile(src, &ast, &ast).unwrap();
/// let mut ctx = runtime_context();
/// let opts = Options { gc_stress: true, ..Options::default() };
/// let mut out = Vec::new();
/// let (err, gc, _) = run_in_context(&mut ctx, &c.program, c.resolution.as_ref().unwrap(), src, &opts, &mut out);
/// assert!(err.is_none());
/// assert_eq!(gc.collections, gc.objects_allocated); // one before each allocation
/// assert_eq!(ctx.stats().live_objects, 0);           // all freed at teardown
/// ```
pub fn run_in_context(
    ctx: &mut MorphContext,
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    options: &Options,
    out: &mut dyn Write,
) -> (Option<RuntimeError>, GcStats, HeapFigures) {
    let (err, gc) = interpret(MorphHeap::new(ctx), program, res, source, options, out);
    (err, gc.0, HeapFigures::of_context(ctx, gc.1))
}

impl HeapFigures {
    /// The figures of a context after a run and its teardown.
    pub(crate) fn of_context(ctx: &MorphContext, sys: SysCounts) -> HeapFigures {
        let s = ctx.stats();
        HeapFigures {
            backend: "morph",
            pool_reuses: s.classes.iter().map(|c| c.stats.reuses).sum(),
            pool_allocations: s.classes.iter().map(|c| c.stats.allocations).sum(),
            peak_bytes_reserved: s.peak_bytes_reserved as u64,
            system_allocations: sys.allocations,
            slabs_returned: s.slabs.returned,
            live_after_teardown: s.live_objects as u64,
        }
    }

    /// The figures of the system heap after a run and its teardown.
    pub(crate) fn of_system_heap(sys: SysCounts) -> HeapFigures {
        HeapFigures {
            backend: "heap",
            system_allocations: sys.allocations,
            live_after_teardown: sys.live,
            ..HeapFigures::default()
        }
    }
}

/// Runs `program` with objects in `heap`, then frees them all; returns the
/// runtime error, the collector's counters and the heap's system counts.
fn interpret<H: ObjHeap>(
    heap: H,
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    options: &Options,
    out: &mut dyn Write,
) -> (Option<RuntimeError>, (GcStats, SysCounts)) {
    let mut it = Interpreter::new(heap, program.uses, res, source, options, out);
    let err = it.run(program);
    (err, it.finish())
}

/// How a statement or expression stopped early. A `return` leaves its
/// value in the interpreter (no allocation can happen between the `return`
/// and the call that takes it), so `Unwind` is one word and an expression's
/// `Result` fits in two registers.
enum Unwind {
    /// A `return` on its way to the call; the value is in `returned`.
    Return,
    /// A runtime error on its way out.
    Error(Box<RuntimeError>),
}

const _: () = assert!(std::mem::size_of::<Result<Value<'static>, Unwind>>() == 16);

type Exec = Result<(), Unwind>;
type Eval<'a> = Result<Value<'a>, Unwind>;

/// What a property read finds.
enum Property<'a> {
    /// A field's value.
    Field(Value<'a>),
    /// A method, to be bound to the instance or called on it.
    Method(Gc<Closure<'a>>),
}

struct Interpreter<'a, 'o, H: ObjHeap> {
    heap: H,
    res: &'a Resolution,
    source: &'a str,
    lines: LazyLines<'a>,
    out: &'o mut dyn Write,
    /// Globals by index; `None` until defined.
    globals: Vec<Option<Value<'a>>>,
    /// The index of each global name.
    global_index: HashMap<&'a str, u32, BuildHasherDefault<crate::resolver::FxHasher>>,
    /// Per variable use: the index of its global once looked up, else
    /// `u32::MAX`.
    global_of_use: Vec<u32>,
    /// The current scope's environment; `None` at top level.
    env: Option<Gc<Env<'a>>>,
    /// Environments of suspended calls.
    saved: Vec<Option<Gc<Env<'a>>>>,
    /// Temporaries that must survive an allocation.
    stack: Vec<Value<'a>>,
    /// The value of the `return` being unwound.
    returned: Value<'a>,
    /// Objects alive (the heap finds them itself when it sweeps).
    live_objects: u64,
    gray: Vec<(NonNull<u8>, Kind)>,
    roots: Vec<(NonNull<u8>, Kind)>,
    depth: usize,
    stack_base: usize,
    stack_budget: usize,
    /// [`Options::max_string_len`], at most [`MAX_STRING_LEN`], so that a
    /// string's object size never overflows.
    max_string_len: usize,
    gc_stress: bool,
    since_gc: usize,
    threshold: usize,
    stats: GcStats,
    text: String,
}

impl<'a, 'o, H: ObjHeap> Interpreter<'a, 'o, H> {
    fn new(
        heap: H,
        uses: u32,
        res: &'a Resolution,
        source: &'a str,
        options: &Options,
        out: &'o mut dyn Write,
    ) -> Self {
        let marker = 0u8;
        let mut global_index = HashMap::default();
        global_index.insert("clock", 0);
        let globals = vec![Some(Value::Native(Native::Clock))];
        Interpreter {
            heap,
            res,
            source,
            lines: LazyLines::new(source),
            out,
            globals,
            global_index,
            global_of_use: vec![u32::MAX; uses as usize],
            env: None,
            saved: Vec::new(),
            stack: Vec::with_capacity(256),
            returned: Value::Nil,
            live_objects: 0,
            gray: Vec::new(),
            roots: Vec::new(),
            depth: 0,
            stack_base: std::ptr::addr_of!(marker) as usize,
            stack_budget: options.stack_budget,
            max_string_len: options.max_string_len.min(MAX_STRING_LEN),
            gc_stress: options.gc_stress,
            since_gc: 0,
            threshold: MIN_THRESHOLD,
            stats: GcStats::default(),
            text: String::new(),
        }
    }

    fn run(&mut self, program: &Program<'a>) -> Option<RuntimeError> {
        let mut result = None;
        for s in program.statements {
            match self.execute(s) {
                Ok(()) => {}
                Err(Unwind::Error(e)) => {
                    result = Some(*e);
                    break;
                }
                // The resolver refuses `return` at top level.
                Err(Unwind::Return) => break,
            }
        }
        let _ = self.out.flush();
        result
    }

    /// Frees every object; returns the counters and the heap's system
    /// counts after teardown.
    fn finish(&mut self) -> (GcStats, SysCounts) {
        self.note_peaks();
        self.stats.live_at_end = self.live_objects;
        self.teardown();
        (self.stats, self.heap.system_objects())
    }

    fn teardown(&mut self) {
        self.globals.clear();
        self.stack.clear();
        self.saved.clear();
        self.env = None;
        // SAFETY: the roots were just dropped, so nothing uses an object
        // again.
        let freed = unsafe { self.heap.free_all() };
        self.live_objects -= freed.objects.min(self.live_objects);
    }

    // ----- errors -------------------------------------------------------

    fn error<T>(&self, offset: u32, message: impl Into<String>) -> Result<T, Unwind> {
        Err(Unwind::Error(Box::new(RuntimeError {
            message: message.into(),
            line: self.lines.get().line_of(offset),
        })))
    }

    fn offset_of(&self, name: &str) -> u32 {
        crate::ast::Ident { name }.offset_in(self.source)
    }

    // ----- allocation and collection -------------------------------------

    /// Allocates `size` bytes for an object of `kind` (collecting first if
    /// due) and writes `head` at its start. Everything `head` points to
    /// must be rooted by the caller.
    #[inline(always)]
    fn alloc<T>(&mut self, kind: Kind, size: usize, head: T, at: u32) -> Result<Gc<T>, Unwind> {
        // Cannot overflow: `since_gc` counts bytes of live objects, fewer
        // than the address space holds, and no size asked for is over
        // `isize::MAX` (a string's is bounded by `MAX_STRING_LEN`, the
        // others by their 32-bit counts).
        if self.gc_stress || self.since_gc + size > self.threshold {
            self.collect();
        }
        let Some(ptr) = self.heap.alloc(size, kind) else {
            return self.error(at, "Out of memory.");
        };
        // SAFETY: the block holds `size >= size_of::<T>()` bytes aligned to
        // 8, which every object head needs.
        unsafe { ptr.cast::<T>().as_ptr().write(head) };
        // Live bytes and objects only grow between collections, so their
        // peaks are taken in `collect` and at the end, not here.
        self.since_gc += size;
        self.stats.bytes_allocated += size as u64;
        self.stats.by_kind[kind as usize - Kind::Str as usize] += 1;
        self.live_objects += 1;
        // SAFETY: the head is written; variable parts are written by the
        // caller before anything reads them (their lengths start at 0 or
        // the caller fills them at once).
        Ok(unsafe { Gc::from_raw(ptr) })
    }

    /// Brings the peaks up to date (live bytes and objects only grow
    /// between collections).
    fn note_peaks(&mut self) {
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        self.stats.peak_live_bytes = self.stats.peak_live_bytes.max(live);
        self.stats.peak_live_objects = self.stats.peak_live_objects.max(self.live_objects);
        self.stats.objects_allocated = self.stats.by_kind.iter().sum();
    }

    fn new_env(
        &mut self,
        enclosing: Option<Gc<Env<'a>>>,
        cap: u32,
        at: u32,
    ) -> Result<Gc<Env<'a>>, Unwind> {
        let head = Env {
            enclosing,
            len: std::cell::Cell::new(0),
            cap,
            _values: std::marker::PhantomData,
        };
        self.alloc(Kind::Env, Env::size(cap), head, at)
    }

    fn new_closure(
        &mut self,
        decl: &'a Function<'a>,
        method: bool,
        is_init: bool,
    ) -> Result<Gc<Closure<'a>>, Unwind> {
        let at = self.offset_of(decl.name.name);
        // The resolver refuses a scope of more than `u32::MAX` variables,
        // and a function's parameters and body declarations are one scope
        // (with `this` for a method), so this holds for every program that
        // runs; a hand-built AST that passes it gets an error.
        let slots = u32::try_from(decl.params.len())
            .ok()
            .and_then(|p| p.checked_add(u32::from(method)))
            .and_then(|n| n.checked_add(declarations(decl.body)));
        let Some(slots) = slots else {
            return self.error(at, "Too many local variables in one scope.");
        };
        let head = Closure {
            decl,
            env: self.env,
            slots,
            is_init,
        };
        self.alloc(Kind::Closure, std::mem::size_of::<Closure<'a>>(), head, at)
    }

    fn collect(&mut self) {
        self.stats.collections += 1;
        self.note_peaks();
        // Mark the roots.
        let mut roots = std::mem::take(&mut self.roots);
        roots.clear();
        let returned = std::iter::once(&self.returned);
        for v in self
            .globals
            .iter()
            .flatten()
            .chain(&self.stack)
            .chain(returned)
        {
            if let Some(o) = v.object() {
                roots.push(o);
            }
        }
        for e in self
            .saved
            .iter()
            .chain(std::iter::once(&self.env))
            .flatten()
        {
            roots.push((e.raw(), Kind::Env));
        }
        for &(ptr, kind) in &roots {
            self.mark(ptr, kind);
        }
        self.roots = roots;
        // Trace.
        while let Some((ptr, kind)) = self.gray.pop() {
            self.trace(ptr, kind);
        }
        // Sweep: the heap walks its own objects. Whatever it empties is
        // kept until the plan below says how much the next cycle needs.
        self.heap.plan(usize::MAX);
        // SAFETY: an unmarked object is unreachable from every root, so
        // nothing uses it again.
        let swept = unsafe { self.heap.sweep() };
        self.live_objects -= swept.objects;
        self.stats.objects_freed += swept.objects;
        self.stats.bytes_freed += swept.bytes;
        self.since_gc = 0;
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        let live = usize::try_from(live).unwrap_or(usize::MAX);
        self.threshold = MIN_THRESHOLD.max(live.saturating_mul(2));
        // The next cycle allocates `threshold` bytes of objects (a quarter
        // more with headers and class rounding) before it collects: keeping
        // that much of the emptied memory saves giving it back to the
        // system only to ask for it again; the rest goes back.
        self.heap
            .plan(self.threshold.saturating_add(self.threshold / 4));
    }

    #[inline]
    fn mark(&mut self, ptr: NonNull<u8>, kind: Kind) {
        // SAFETY: `ptr` is reachable from a root, so it is a live object of
        // this kind in this heap.
        unsafe {
            if !self.heap.is_marked(ptr) {
                self.heap.set_mark(ptr, true);
                self.gray.push((ptr, kind));
            }
        }
    }

    #[inline]
    fn mark_value(&mut self, v: Value<'a>) {
        if let Some((ptr, kind)) = v.object() {
            self.mark(ptr, kind);
        }
    }

    fn trace(&mut self, ptr: NonNull<u8>, kind: Kind) {
        // SAFETY: `ptr` is a marked, live object of this kind.
        unsafe {
            match kind {
                // The VM's kinds; the tree-walker makes none.
                Kind::Str | Kind::Upvalue | Kind::Native => {}
                Kind::Closure => {
                    if let Some(e) = Gc::<Closure<'a>>::from_raw(ptr).get().env {
                        self.mark(e.raw(), Kind::Env);
                    }
                }
                Kind::Env => {
                    let env = Gc::<Env<'a>>::from_raw(ptr);
                    if let Some(e) = env.get().enclosing {
                        self.mark(e.raw(), Kind::Env);
                    }
                    for slot in env.slots() {
                        self.mark_value(slot.get());
                    }
                }
                Kind::Class => {
                    let class = Gc::<Class<'a>>::from_raw(ptr);
                    if let Some(s) = class.get().superclass {
                        self.mark(s.raw(), Kind::Class);
                    }
                    for m in class.methods() {
                        self.mark(m.closure.raw(), Kind::Closure);
                    }
                }
                Kind::Instance => {
                    let inst = Gc::<Instance<'a>>::from_raw(ptr).get();
                    self.mark(inst.class.raw(), Kind::Class);
                    if let Some(f) = inst.fields.get() {
                        self.mark(f.raw(), Kind::Fields);
                    }
                }
                Kind::Fields => {
                    for f in Gc::<Fields<'a>>::from_raw(ptr).entries() {
                        self.mark_value(f.get().value);
                    }
                }
                Kind::Bound => {
                    let b = Gc::<Bound<'a>>::from_raw(ptr).get();
                    self.mark_value(b.receiver);
                    self.mark(b.method.raw(), Kind::Closure);
                }
            }
        }
    }

    // ----- statements ----------------------------------------------------

    fn execute(&mut self, s: &'a Stmt<'a>) -> Exec {
        match s {
            Stmt::Expression(e) => {
                self.eval(e)?;
            }
            Stmt::Print(e) => {
                let v = self.eval(e)?;
                self.print(v);
            }
            Stmt::Var { name, init } => {
                let v = match init {
                    Some(e) => self.eval(e)?,
                    None => Value::Nil,
                };
                self.define(name.name, v)?;
            }
            Stmt::Block { body, decls } => return self.block(body, *decls),
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                if self.eval(cond)?.truthy() {
                    return self.execute(then);
                } else if let Some(o) = otherwise {
                    return self.execute(o);
                }
            }
            Stmt::While { cond, body } => {
                while self.eval(cond)?.truthy() {
                    self.execute(body)?;
                }
            }
            Stmt::Function(f) => {
                let c = self.new_closure(f, false, false)?;
                self.define(f.name.name, Value::Closure(c))?;
            }
            Stmt::Return { value, .. } => {
                let v = match value {
                    Some(e) => self.eval(e)?,
                    None => Value::Nil,
                };
                self.returned = v;
                return Err(Unwind::Return);
            }
            Stmt::Class(c) => self.class(c)?,
        }
        Ok(())
    }

    fn statements(&mut self, list: &'a [Stmt<'a>]) -> Exec {
        for s in list {
            self.execute(s)?;
        }
        Ok(())
    }

    fn block(&mut self, list: &'a [Stmt<'a>], n: u32) -> Exec {
        if n == 0 {
            return self.statements(list);
        }
        let at = list.first().map_or(0, |s| self.stmt_offset(s));
        let env = self.new_env(self.env, n, at)?;
        // The enclosing environment stays reachable through `env`.
        let outer = self.env.replace(env);
        let r = self.statements(list);
        self.env = outer;
        r
    }

    /// An offset for errors about a statement (only "Out of memory.").
    fn stmt_offset(&self, s: &Stmt<'a>) -> u32 {
        match s {
            Stmt::Var { name, .. } => self.offset_of(name.name),
            Stmt::Function(f) => self.offset_of(f.name.name),
            Stmt::Class(c) => self.offset_of(c.name.name),
            Stmt::Return { offset, .. } => *offset,
            _ => 0,
        }
    }

    /// Defines the next variable of the current scope.
    fn define(&mut self, name: &'a str, v: Value<'a>) -> Exec {
        match self.env {
            None => self.set_global(name, v),
            Some(env) if env.push(v) => Ok(()),
            Some(_) => self.error(self.offset_of(name), "Internal error: scope overflow."),
        }
    }

    fn print(&mut self, v: Value<'a>) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.stringify(v, &mut text);
        text.push('\n');
        let _ = self.out.write_all(text.as_bytes());
        self.text = text;
    }

    fn stringify(&self, v: Value<'a>, out: &mut String) {
        match v {
            Value::Nil => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Number(n) => format_number(n, out),
            Value::Lit(s) => out.push_str(s),
            Value::Str(s) => out.push_str(s.as_str()),
            Value::Closure(c) => {
                out.push_str("<fn ");
                out.push_str(c.get().decl.name.name);
                out.push('>');
            }
            Value::Bound(b) => {
                out.push_str("<fn ");
                out.push_str(b.get().method.get().decl.name.name);
                out.push('>');
            }
            Value::Native(_) => out.push_str("<native fn>"),
            Value::Class(c) => out.push_str(c.get().name),
            Value::Instance(i) => {
                out.push_str(i.get().class.get().name);
                out.push_str(" instance");
            }
        }
    }

    fn class(&mut self, c: &'a crate::ast::Class<'a>) -> Exec {
        let base = self.stack.len();
        let superclass = match c.superclass {
            Some(e) => match self.eval(e)? {
                Value::Class(k) => Some(k),
                _ => {
                    let at = match e {
                        Expr::Variable { name, .. } => self.offset_of(name.name),
                        _ => self.offset_of(c.name.name),
                    };
                    return self.error(at, "Superclass must be a class.");
                }
            },
            None => None,
        };
        let slot = self.env.map(|e| e.get().len.get() as usize);
        self.define(c.name.name, Value::Nil)?;
        let at = self.offset_of(c.name.name);
        let outer = self.env;
        if let Some(k) = superclass {
            self.stack.push(Value::Class(k));
            let env = self.new_env(self.env, 1, at)?;
            env.push(Value::Class(k));
            self.env = Some(env);
        }
        let made = (|| {
            for m in c.methods {
                let clo = self.new_closure(m, true, m.name.name == "init")?;
                self.stack.push(Value::Closure(clo));
            }
            let len = c.methods.len();
            let head = Class {
                name: c.name.name,
                superclass,
                len,
            };
            let class = self.alloc(Kind::Class, Class::size(len), head, at)?;
            let first = self.stack.len() - len;
            // SAFETY: the class was allocated with room for `len` methods
            // after its head; they are written before anything reads them.
            unsafe {
                let dst = class
                    .raw()
                    .as_ptr()
                    .add(std::mem::size_of::<Class<'a>>())
                    .cast::<Method<'a>>();
                for (i, (v, m)) in self.stack[first..].iter().zip(c.methods).enumerate() {
                    if let Value::Closure(closure) = v {
                        dst.add(i).write(Method {
                            name: m.name.name,
                            closure: *closure,
                        });
                    }
                }
            }
            Ok(class)
        })();
        self.env = outer;
        self.stack.truncate(base);
        let class = Value::Class(made?);
        match (self.env, slot) {
            (Some(env), Some(slot)) => env.slots()[slot].set(class),
            _ => self.set_global(c.name.name, class)?,
        }
        Ok(())
    }

    /// Defines or redefines a global by name (at its declaration).
    fn set_global(&mut self, name: &'a str, v: Value<'a>) -> Exec {
        let i = self.global_named(name);
        self.globals[i as usize] = Some(v);
        Ok(())
    }

    /// The index of global `name`, made on first sight.
    fn global_named(&mut self, name: &'a str) -> u32 {
        // Cannot truncate: the globals are `clock` and the distinct names
        // the program declares or uses, each a slice of the source, which
        // the front end caps at `MAX_SOURCE` (under 4 GiB) bytes; distinct
        // names need a byte each at least and a separator between them, so
        // there are fewer than 2^31 (and `u32::MAX`, "not looked up" in
        // `global_of_use`, is never an index either).
        #[allow(clippy::cast_possible_truncation)]
        let next = self.globals.len() as u32;
        let i = *self.global_index.entry(name).or_insert(next);
        if i == next {
            self.globals.push(None);
        }
        i
    }

    /// The index of the global that use `id` (of `name`) refers to.
    #[inline]
    fn global_of(&mut self, id: u32, name: &'a str) -> u32 {
        match self.global_of_use.get(id as usize) {
            Some(&g) if g != u32::MAX => g,
            _ => {
                let g = self.global_named(name);
                if let Some(slot) = self.global_of_use.get_mut(id as usize) {
                    *slot = g;
                }
                g
            }
        }
    }

    // ----- expressions ---------------------------------------------------

    fn eval(&mut self, e: &'a Expr<'a>) -> Eval<'a> {
        use crate::ast::Literal;
        match e {
            Expr::Literal(l) => Ok(match l {
                Literal::Number(n) => Value::Number(*n),
                Literal::Str(s) => Value::Lit(s),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Nil => Value::Nil,
            }),
            Expr::Grouping(inner) => self.eval(inner),
            Expr::Variable { name, id } => self.lookup(name.name, *id),
            Expr::Assign { name, value, id } => {
                let v = self.eval(value)?;
                self.assign(name.name, *id, v)?;
                Ok(v)
            }
            Expr::Unary { op, right } => {
                let v = self.eval(right)?;
                match op.kind {
                    TokenKind::Minus => match v {
                        Value::Number(n) => Ok(Value::Number(-n)),
                        _ => self.error(op.offset, "Operand must be a number."),
                    },
                    _ => Ok(Value::Bool(!v.truthy())),
                }
            }
            Expr::Logical { left, op, right } => {
                let l = self.eval(left)?;
                let short = if op.kind == TokenKind::Or {
                    l.truthy()
                } else {
                    !l.truthy()
                };
                if short { Ok(l) } else { self.eval(right) }
            }
            Expr::Binary { left, op, right } => {
                let l = self.eval(left)?;
                self.stack.push(l);
                let r = self.eval(right);
                let l = self.stack.pop().unwrap_or(Value::Nil);
                self.binary(l, op.kind, op.offset, r?)
            }
            Expr::Call {
                callee,
                args,
                paren,
            } => self.call_expr(callee, args, *paren),
            Expr::Get { object, name } => {
                let o = self.eval(object)?;
                match self.property(o, name.name)? {
                    Property::Field(v) => Ok(v),
                    Property::Method(m) => self.bind(o, m, name.name),
                }
            }
            Expr::Set {
                object,
                name,
                value,
            } => {
                let o = self.eval(object)?;
                let Value::Instance(inst) = o else {
                    return self.error(self.offset_of(name.name), "Only instances have fields.");
                };
                self.stack.push(o);
                let v = self.eval(value);
                let v = match v {
                    Ok(v) => v,
                    Err(e) => {
                        self.stack.pop();
                        return Err(e);
                    }
                };
                self.stack.push(v);
                let r = self.set_field(inst, name.name, v);
                self.stack.truncate(self.stack.len() - 2);
                r.map(|()| v)
            }
            Expr::This { offset, id } => self.lookup_at("this", *id, *offset),
            Expr::Super { offset, method, id } => {
                let (m, this) = self.super_method(*id, *offset, method.name)?;
                self.stack.push(this);
                let r = self.bind(this, m, method.name);
                self.stack.pop();
                r
            }
        }
    }

    /// What `o.name` finds: a field, else a method of its class.
    #[inline]
    fn property(&self, o: Value<'a>, name: &'a str) -> Result<Property<'a>, Unwind> {
        let Value::Instance(inst) = o else {
            return self.error(self.offset_of(name), "Only instances have properties.");
        };
        if let Some(v) = inst.get().fields.get().and_then(|f| f.get_field(name)) {
            return Ok(Property::Field(v));
        }
        match inst.get().class.find_method(name) {
            Some(m) => Ok(Property::Method(m)),
            None => self.undefined_property(name),
        }
    }

    fn undefined_property<T>(&self, name: &str) -> Result<T, Unwind> {
        self.error(
            self.offset_of(name),
            format!("Undefined property '{name}'."),
        )
    }

    /// The method `super.name` finds, and `this`.
    fn super_method(
        &self,
        id: u32,
        offset: u32,
        name: &'a str,
    ) -> Result<(Gc<Closure<'a>>, Value<'a>), Unwind> {
        let (sup, this) = self.super_parts(id, offset)?;
        match sup.find_method(name) {
            Some(m) => Ok((m, this)),
            None => self.undefined_property(name),
        }
    }

    /// The superclass and `this` for a `super` expression.
    fn super_parts(&self, id: u32, offset: u32) -> Result<(Gc<Class<'a>>, Value<'a>), Unwind> {
        let found = self.res.local(id).and_then(|(depth, slot)| {
            let env = self.env?.ancestor(depth)?;
            let sup = env.slots().get(slot as usize)?.get();
            let this_env = self.env?.ancestor(depth.checked_sub(1)?)?;
            let this = this_env.slots().first()?.get();
            match sup {
                Value::Class(k) => Some((k, this)),
                _ => None,
            }
        });
        match found {
            Some(parts) => Ok(parts),
            None => self.error(offset, "Internal error: unresolved 'super'."),
        }
    }

    #[inline]
    fn lookup(&mut self, name: &'a str, id: u32) -> Eval<'a> {
        match self.res.local(id) {
            Some((depth, slot)) => self.local(depth, slot, name),
            None => {
                let g = self.global_of(id, name) as usize;
                match self.globals.get(g) {
                    Some(Some(v)) => Ok(*v),
                    _ => self.error(
                        self.offset_of(name),
                        format!("Undefined variable '{name}'."),
                    ),
                }
            }
        }
    }

    fn lookup_at(&self, name: &'static str, id: u32, offset: u32) -> Eval<'a> {
        match self.res.local(id).and_then(|(d, s)| self.slot(d, s)) {
            Some(v) => Ok(v),
            None => self.error(offset, format!("Internal error: unresolved '{name}'.")),
        }
    }

    #[inline]
    fn slot(&self, depth: u32, slot: u32) -> Option<Value<'a>> {
        Some(self.env?.ancestor(depth)?.slots().get(slot as usize)?.get())
    }

    #[inline]
    fn local(&self, depth: u32, slot: u32, name: &'a str) -> Eval<'a> {
        match self.slot(depth, slot) {
            Some(v) => Ok(v),
            None => self.error(
                self.offset_of(name),
                format!("Internal error: unresolved '{name}'."),
            ),
        }
    }

    fn assign(&mut self, name: &'a str, id: u32, v: Value<'a>) -> Exec {
        match self.res.local(id) {
            Some((depth, slot)) => {
                let cell = self
                    .env
                    .and_then(|e| e.ancestor(depth))
                    .and_then(|e| e.slots().get(slot as usize));
                match cell {
                    Some(c) => {
                        c.set(v);
                        Ok(())
                    }
                    None => self.error(
                        self.offset_of(name),
                        format!("Internal error: unresolved '{name}'."),
                    ),
                }
            }
            None => {
                let g = self.global_of(id, name) as usize;
                match self.globals.get_mut(g) {
                    Some(Some(slot)) => {
                        *slot = v;
                        Ok(())
                    }
                    _ => self.error(
                        self.offset_of(name),
                        format!("Undefined variable '{name}'."),
                    ),
                }
            }
        }
    }

    fn binary(&mut self, l: Value<'a>, op: TokenKind, at: u32, r: Value<'a>) -> Eval<'a> {
        use TokenKind as T;
        if let (Value::Number(a), Value::Number(b)) = (l, r) {
            return Ok(match op {
                T::Plus => Value::Number(a + b),
                T::Minus => Value::Number(a - b),
                T::Star => Value::Number(a * b),
                T::Slash => Value::Number(a / b),
                T::Greater => Value::Bool(a > b),
                T::GreaterEqual => Value::Bool(a >= b),
                T::Less => Value::Bool(a < b),
                T::LessEqual => Value::Bool(a <= b),
                // IEEE 754, as `equal` compares numbers: `nan != nan`,
                // `0 == -0`; every comparison with a NaN is false.
                T::EqualEqual => Value::Bool(a == b),
                _ => Value::Bool(a != b),
            });
        }
        match op {
            T::EqualEqual => Ok(Value::Bool(equal(l, r))),
            T::BangEqual => Ok(Value::Bool(!equal(l, r))),
            T::Plus => match (l.as_str(), r.as_str()) {
                (Some(_), Some(_)) => self.concat(l, r, at),
                _ => self.error(at, "Operands must be two numbers or two strings."),
            },
            _ => self.error(at, "Operands must be numbers."),
        }
    }

    fn concat(&mut self, l: Value<'a>, r: Value<'a>, at: u32) -> Eval<'a> {
        let (a, b) = (
            l.as_str().map_or(0, str::len),
            r.as_str().map_or(0, str::len),
        );
        // Within the limit, which is at most `MAX_STRING_LEN`, the object's
        // size `StrObj::size(len)` cannot overflow either.
        let Some(len) = a.checked_add(b).filter(|&n| n <= self.max_string_len) else {
            return self.error(at, "String too long.");
        };
        self.stack.push(l);
        self.stack.push(r);
        let s = self.alloc(Kind::Str, StrObj::size(len), StrObj { len }, at);
        self.stack.truncate(self.stack.len() - 2);
        let s = s?;
        // SAFETY: the string was allocated with `len` bytes after its head;
        // both operands were rooted across the allocation, so their bytes
        // are alive, and they do not overlap the new object.
        unsafe {
            let dst = s.raw().as_ptr().add(std::mem::size_of::<StrObj>());
            let (a, b) = (l.as_str().unwrap_or(""), r.as_str().unwrap_or(""));
            std::ptr::copy_nonoverlapping(a.as_ptr(), dst, a.len());
            std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(a.len()), b.len());
        }
        Ok(Value::Str(s))
    }

    fn bind(&mut self, receiver: Value<'a>, method: Gc<Closure<'a>>, name: &'a str) -> Eval<'a> {
        self.stack.push(receiver);
        let b = self.alloc(
            Kind::Bound,
            std::mem::size_of::<Bound<'a>>(),
            Bound { receiver, method },
            self.offset_of(name),
        );
        self.stack.pop();
        Ok(Value::Bound(b?))
    }

    fn set_field(&mut self, inst: Gc<Instance<'a>>, name: &'a str, v: Value<'a>) -> Exec {
        let at = self.offset_of(name);
        let old = inst.get().fields.get();
        if let Some(f) = old {
            if f.set_existing(name, v) || f.push(name, v) {
                return Ok(());
            }
        }
        // A new table, twice as big; the old one becomes garbage. (A table
        // of 2^31 fields would take 64 GiB: the doubling cannot overflow
        // before memory runs out, but it is checked all the same.)
        let Some(cap) = old.map_or(Some(2), |f| f.get().cap.checked_mul(2)) else {
            return self.error(at, "Out of memory.");
        };
        let table = self.alloc(Kind::Fields, Fields::size(cap), Fields::new(cap), at)?;
        if let Some(f) = old {
            for e in f.entries() {
                let Field { name, value } = e.get();
                table.push(name, value);
            }
        }
        table.push(name, v);
        inst.get().fields.set(Some(table));
        Ok(())
    }

    // ----- calls -------------------------------------------------------------

    fn call_expr(
        &mut self,
        callee: &'a Expr<'a>,
        args: &'a [&'a Expr<'a>],
        paren: u32,
    ) -> Eval<'a> {
        let base = self.stack.len();
        // `obj.method(...)` and `super.method(...)` call the method without
        // making a bound-method object.
        let mut method = None;
        match callee {
            Expr::Get { object, name } => {
                let o = self.eval(object)?;
                match self.property(o, name.name)? {
                    Property::Field(v) => self.stack.push(v),
                    Property::Method(m) => {
                        self.stack.push(o);
                        method = Some(m);
                    }
                }
            }
            Expr::Super {
                offset,
                method: name,
                id,
            } => {
                let (m, this) = self.super_method(*id, *offset, name.name)?;
                self.stack.push(this);
                method = Some(m);
            }
            _ => {
                let c = self.eval(callee)?;
                self.stack.push(c);
            }
        }
        for a in args {
            match self.eval(a) {
                Ok(v) => self.stack.push(v),
                Err(e) => {
                    self.stack.truncate(base);
                    return Err(e);
                }
            }
        }
        let r = match method {
            Some(m) => self.call_closure(m, Some(base), base + 1, paren),
            None => self.call_value(base, paren),
        };
        self.stack.truncate(base);
        r
    }

    /// Calls `stack[base]` with the arguments above it.
    fn call_value(&mut self, base: usize, paren: u32) -> Eval<'a> {
        let callee = self.stack[base];
        let argc = self.stack.len() - base - 1;
        match callee {
            Value::Closure(c) => self.call_closure(c, None, base + 1, paren),
            Value::Bound(b) => {
                // The receiver replaces the callee on the stack: rooted,
                // and where `call_closure` looks for it.
                let b = b.get();
                self.stack[base] = b.receiver;
                self.call_closure(b.method, Some(base), base + 1, paren)
            }
            Value::Native(Native::Clock) => {
                if argc != 0 {
                    return self.error(paren, format!("Expected 0 arguments but got {argc}."));
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                Ok(Value::Number(now))
            }
            Value::Class(class) => {
                let init = class.find_method("init");
                let arity = init.map_or(0, |m| m.get().decl.params.len());
                if argc != arity {
                    return self
                        .error(paren, format!("Expected {arity} arguments but got {argc}."));
                }
                let head = Instance {
                    class,
                    fields: std::cell::Cell::new(None),
                };
                let inst = self.alloc(
                    Kind::Instance,
                    std::mem::size_of::<Instance<'a>>(),
                    head,
                    paren,
                )?;
                let this = Value::Instance(inst);
                // The instance replaces the class (still reachable from it).
                self.stack[base] = this;
                if let Some(m) = init {
                    self.call_closure(m, Some(base), base + 1, paren)?;
                }
                Ok(this)
            }
            _ => self.error(paren, "Can only call functions and classes."),
        }
    }

    /// Calls `closure` with the arguments at `stack[args..]`; a method gets
    /// the receiver at `stack[this]` as `this`.
    fn call_closure(
        &mut self,
        closure: Gc<Closure<'a>>,
        this: Option<usize>,
        args: usize,
        paren: u32,
    ) -> Eval<'a> {
        let c = closure.get();
        let decl = c.decl;
        let argc = self.stack.len() - args;
        if argc != decl.params.len() {
            return self.error(
                paren,
                format!("Expected {} arguments but got {argc}.", decl.params.len()),
            );
        }
        let marker = 0u8;
        let used = self
            .stack_base
            .saturating_sub(std::ptr::addr_of!(marker) as usize);
        if self.depth >= MAX_CALL_DEPTH || used > self.stack_budget {
            return self.error(paren, "Stack overflow.");
        }
        let (is_init, slots) = (c.is_init, c.slots);
        // The caller's environment is not reachable from the callee's.
        self.saved.push(self.env);
        let receiver = this.map(|i| self.stack[i]);
        let env = match self.new_env(c.env, slots, paren) {
            Ok(e) => e,
            Err(e) => {
                self.saved.pop();
                return Err(e);
            }
        };
        // A method's `this` is slot 0 of its call environment.
        if let Some(recv) = receiver {
            env.push(recv);
        }
        for i in args..self.stack.len() {
            env.push(self.stack[i]);
        }
        self.env = Some(env);
        self.depth += 1;
        let r = self.statements(decl.body);
        self.depth -= 1;
        self.env = self.saved.pop().flatten();
        match r {
            Ok(()) | Err(Unwind::Return) if is_init => Ok(receiver.unwrap_or(Value::Nil)),
            Ok(()) => Ok(Value::Nil),
            Err(Unwind::Return) => Ok(std::mem::replace(&mut self.returned, Value::Nil)),
            Err(e) => Err(e),
        }
    }
}

impl<H: ObjHeap> Drop for Interpreter<'_, '_, H> {
    fn drop(&mut self) {
        self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of object, closures over loop scopes, inheritance, bound
    /// methods, growing field tables, string building: small enough for
    /// Miri, run with a collection before every allocation.
    const PROGRAM: &str = r#"
        class A {
          init(n) { this.n = n; }
          get() { return this.n; }
        }
        class B < A {
          init(n) { super.init(n * 2); this.extra = "x"; }
          get() { return super.get() + 1; }
        }
        var fns = nil;
        fun keep(f, rest) { fun pick(w) { if (w) return f; return rest; } return pick; }
        for (var i = 0; i < 3; i = i + 1) {
          var b = B(i);
          b.a = 1; b.b = 2; b.c = 3;
          var m = b.get;
          fns = keep(m, fns);
        }
        var s = "";
        var total = 0;
        while (fns != nil) { total = total * 10 + fns(true)(); s = s + "<" + B(0).extra + ">"; fns = fns(false); }
        print total;
        print s;
    "#;

    fn run(backend: Backend) -> (String, RunResult) {
        let opts = Options {
            gc_stress: true,
            backend,
            ..Options::default()
        };
        let mut out = Vec::new();
        let r = run_source(PROGRAM, &opts, &mut out);
        (String::from_utf8(out).unwrap(), r)
    }

    #[test]
    fn objects_survive_collections_on_both_backends() {
        for backend in [Backend::Morph, Backend::Heap] {
            let (out, r) = run(backend);
            assert!(r.error.is_none(), "{:?}", r.error);
            assert_eq!(out, "531\n<x><x><x>\n");
            assert_eq!(r.gc.collections, r.gc.objects_allocated);
            assert!(r.gc.objects_freed > 0);
            assert_eq!(r.heap.live_after_teardown, 0);
        }
    }

    /// A heap that keeps each object's size as allocated (a `usize`) and
    /// reports the sizes its sweeps free. It backs only the first 64 bytes
    /// of an object, enough for any head: its tests write no variable
    /// parts, so they can make objects of any size.
    #[derive(Default)]
    struct SizeCheckingHeap {
        /// Each live object's block, size and mark bit, by address.
        live: std::cell::RefCell<HashMap<usize, TestObject>>,
        /// The sizes freed, in order.
        freed: std::cell::RefCell<Vec<usize>>,
    }

    type Block = [u64; 8];
    type TestObject = (NonNull<Block>, usize, bool);

    impl SizeCheckingHeap {
        /// Frees the objects `dead` picks out, in address order.
        fn release(&self, dead: impl Fn(bool) -> bool) -> Swept {
            let mut swept = Swept::default();
            let mut live = self.live.borrow_mut();
            let mut addrs: Vec<usize> = live.keys().copied().collect();
            addrs.sort_unstable();
            for a in addrs {
                let (block, size, marked) = live[&a];
                if dead(marked) {
                    live.remove(&a);
                    self.freed.borrow_mut().push(size);
                    swept.objects += 1;
                    swept.bytes += size as u64;
                    // SAFETY: a live object of this heap: `alloc` made it
                    // with `Box::into_raw` of a `Block`.
                    drop(unsafe { Box::from_raw(block.as_ptr()) });
                } else if let Some(e) = live.get_mut(&a) {
                    e.2 = false;
                }
            }
            swept
        }
    }

    impl ObjHeap for SizeCheckingHeap {
        fn name(&self) -> &'static str {
            "size-checking"
        }

        fn alloc(&self, size: usize, _kind: Kind) -> Option<NonNull<u8>> {
            let block = NonNull::new(Box::into_raw(Box::new(Block::default())))?;
            self.live
                .borrow_mut()
                .insert(block.as_ptr().addr(), (block, size, false));
            Some(block.cast())
        }

        unsafe fn is_marked(&self, ptr: NonNull<u8>) -> bool {
            self.live.borrow()[&ptr.as_ptr().addr()].2
        }

        unsafe fn set_mark(&self, ptr: NonNull<u8>, on: bool) {
            if let Some(e) = self.live.borrow_mut().get_mut(&ptr.as_ptr().addr()) {
                e.2 = on;
            }
        }

        unsafe fn kind(&self, _ptr: NonNull<u8>) -> Kind {
            // Only the VM asks; this heap serves the tree-walker's tests.
            Kind::Str
        }

        unsafe fn sweep(&mut self) -> Swept {
            self.release(|marked| !marked)
        }

        unsafe fn free_all(&mut self) -> Swept {
            self.release(|_| true)
        }

        fn system_objects(&self) -> SysCounts {
            SysCounts::default()
        }
    }

    #[test]
    fn objects_over_4_gib_go_back_to_the_heap_with_their_size() {
        let ast = MorphContext::new();
        let c = crate::frontend::compile("", &ast, &ast).unwrap();
        let res = c.resolution.unwrap();
        let mut out = Vec::new();
        let opts = Options::default();
        let heap = SizeCheckingHeap::default();
        let mut it = Interpreter::new(heap, c.program.uses, &res, "", &opts, &mut out);
        // The heads of strings of 2^32 + 3 and 2^33 bytes, whose sizes do
        // not fit in 32 bits; their bytes are never read.
        let (kept, dropped) = (StrObj::size((1 << 32) + 3), StrObj::size(1 << 33));
        let Ok(s) = it.alloc(Kind::Str, kept, StrObj { len: (1 << 32) + 3 }, 0) else {
            panic!("allocated");
        };
        it.stack.push(Value::Str(s));
        if it
            .alloc(Kind::Str, dropped, StrObj { len: 1 << 33 }, 0)
            .is_err()
        {
            panic!("allocated");
        }
        // The first is marked (the collection before the second allocation
        // found it too) and kept; the second is freed.
        it.collect();
        assert_eq!(*it.heap.freed.borrow(), [dropped]);
        assert_eq!(it.stats.bytes_freed, dropped as u64);
        let (gc, _) = it.finish();
        assert_eq!(*it.heap.freed.borrow(), [dropped, kept]);
        assert!(it.heap.live.borrow().is_empty());
        assert_eq!(gc.bytes_allocated, (kept + dropped) as u64);
        assert_eq!((gc.collections, gc.live_at_end), (3, 1));
    }

    #[test]
    fn long_strings_go_to_the_large_object_space_and_come_back() {
        let src = "var s = \"0123456789\"; for (var i = 0; i < 5; i = i + 1) s = s + s; print s == s + \"\";";
        let mut ctx = runtime_context();
        let ast = MorphContext::new();
        let c = crate::frontend::compile(src, &ast, &ast).unwrap();
        let res = c.resolution.unwrap();
        let opts = Options {
            gc_stress: true,
            ..Options::default()
        };
        let mut out = Vec::new();
        let (err, gc, heap) = run_in_context(&mut ctx, &c.program, &res, src, &opts, &mut out);
        assert!(err.is_none());
        assert_eq!(out, b"true\n");
        // The 320-byte string and its copy are over the pool limit.
        assert_eq!(heap.system_allocations, 2);
        assert_eq!(heap.live_after_teardown, 0);
        assert!(gc.objects_freed >= 4);
    }
}
