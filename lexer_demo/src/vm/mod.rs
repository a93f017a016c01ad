//! The Lox engine: `lexer_demo run`. A compiler from the resolved AST to
//! bytecode and a stack VM that runs it, with its objects in an [`ObjHeap`]
//! (a `MorphContext` by default) reclaimed by a mark-and-sweep collector.
//!
//! - [`value`]: 8-byte NaN-boxed values whose object references keep their
//!   pointer's provenance.
//! - [`chunk`]: bytecode with constants and a line table; operands wide
//!   enough that no per-function limit (constants, locals, jump distance)
//!   is met in practice; and the verifier, which proves each chunk's stack
//!   depths and indexes before it runs.
//! - `compiler`: the resolved AST to one chunk per function; locals in
//!   stack slots, captured variables as upvalues.
//! - `object`: the object layouts (strings interned, closures with inline
//!   upvalue slots, classes and instances with open-addressing tables).
//! - `machine`: the dispatch loop. Frames live on the value stack and a
//!   call allocates nothing; a property or method is looked up before the
//!   arguments are evaluated.
//! - `gc`: the collector: the header's mark bit, the header's type tag for
//!   the kind, the heap's own walk for the sweep, and a weak table of
//!   interned strings. It runs when the bytes allocated since the last
//!   collection pass the live bytes after it (at least 1 MiB), so the heap
//!   grows to about twice what is live, or before every allocation under
//!   `gc_stress`.
//! - `heap`: the two backends, [`MorphHeap`] and [`SysHeap`].
//!
//! Limits: calls nest at most [`MAX_CALL_DEPTH`] deep, one more is `Stack
//! overflow.`; the VM does not recurse on the native stack, so it runs on
//! any thread. Concatenation builds strings of at most
//! [`Options::max_string_len`] bytes ([`MAX_STRING_LEN`] by default); a
//! longer one is `String too long.`.
//!
//! ```
//! use lexer_demo::vm::{run_source, Backend, Options};
//! let mut out = Vec::new();
//! let r = run_source("var a = \"x\"; print a + \"y\"; print 1 / 4;", &Options::default(), &mut out);
//! assert!(r.error.is_none());
//! assert_eq!(String::from_utf8(out).unwrap(), "xy\n0.25\n");
//! # let _ = Backend::Heap;
//! ```

pub mod chunk;
pub(crate) mod compiler;
mod gc;
mod heap;
pub(crate) mod machine;
pub(crate) mod object;
pub mod value;

pub use heap::{Kind, MorphHeap, ObjHeap, Swept, SysCounts, SysHeap};

use crate::ast::Program;
use crate::diagnostics::Diagnostic;
use crate::resolver::Resolution;
use morph_runtime::MorphContext;
use std::io::Write;

/// Calls nest at most this deep; one more is `Stack overflow.`.
///
/// ```
/// use lexer_demo::vm::{run_source, Options, MAX_CALL_DEPTH};
/// let deep = |n| format!("fun d(n) {{ if (n == 0) return 0; return d(n - 1); }} print d({n});");
/// let r = run_source(&deep(MAX_CALL_DEPTH - 1), &Options::default(), &mut Vec::new());
/// assert!(r.error.is_none());
/// let r = run_source(&deep(MAX_CALL_DEPTH), &Options::default(), &mut Vec::new());
/// assert_eq!(r.error.unwrap().message, "Stack overflow.");
/// ```
pub const MAX_CALL_DEPTH: usize = 10_000;

/// Bytes allocated before the first collection.
///
/// ```
/// use lexer_demo::vm::{run_source, Options, MIN_THRESHOLD};
/// // 1,000 strings of up to 1,000 bytes, about 0.5 MiB: below the
/// // threshold, so no collection.
/// let src = "var s = \"\"; for (var i = 0; i < 1000; i = i + 1) s = s + \"a\";";
/// let r = run_source(src, &Options::default(), &mut Vec::new());
/// assert!(r.gc.bytes_allocated > 500_000);
/// assert!(r.gc.bytes_allocated < MIN_THRESHOLD as u64);
/// assert_eq!(r.gc.collections, 0);
/// ```
pub const MIN_THRESHOLD: usize = 1 << 20;

/// The least the bytes allocated between two collections may be: after a
/// collection the next comes once as many bytes as are live were
/// allocated, or this many if fewer are live, so a program that keeps
/// little does not collect at every step.
///
/// ```
/// use lexer_demo::vm::{run_source, Options, MIN_THRESHOLD, THRESHOLD_FLOOR};
/// // 2,000 strings of up to 2,000 bytes: about 2 MB, almost none of it
/// // live at once. One collection at 1 MiB, then one every 256 KiB.
/// let src = "var s = \"\"; for (var i = 0; i < 2000; i = i + 1) s = s + \"a\";";
/// let r = run_source(src, &Options::default(), &mut Vec::new());
/// let after_first = r.gc.bytes_allocated as usize - MIN_THRESHOLD;
/// assert_eq!(r.gc.collections as usize, 1 + after_first / THRESHOLD_FLOOR);
/// ```
pub const THRESHOLD_FLOOR: usize = 1 << 18;

/// The longest string, in bytes, that concatenation builds unless
/// [`Options::max_string_len`] says less: the longest whose object (an
/// 8-byte length, then the bytes) either heap can lay out. A longer result
/// is the runtime error `String too long.`; a shorter one the system cannot
/// serve is `Out of memory.`.
///
/// ```
/// use lexer_demo::vm::{Options, MAX_STRING_LEN};
/// assert_eq!(MAX_STRING_LEN, (1 << 63) - 32);
/// assert_eq!(Options::default().max_string_len, MAX_STRING_LEN);
/// ```
pub const MAX_STRING_LEN: usize = heap::MAX_OBJECT - std::mem::size_of::<object::ObjStr>();

/// Where runtime objects go.
///
/// ```
/// use lexer_demo::vm::{run_source, Backend, Options};
/// let opts = Options { backend: Backend::Heap, ..Options::default() };
/// let r = run_source("class A {} print A();", &opts, &mut Vec::new());
/// // "init", "clock", the native function, the name "A", the script's
/// // closure, the class and the instance.
/// assert_eq!((r.heap.backend, r.heap.system_allocations), ("heap", 7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// A MorphContext: size-class pools, the header's mark bit (the default).
    #[default]
    Morph,
    /// One system allocation per object.
    Heap,
}

/// How to run a program.
///
/// ```
/// let o = lexer_demo::vm::Options::default();
/// assert!(!o.gc_stress);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Collect before every allocation.
    pub gc_stress: bool,
    /// Where runtime objects go.
    pub backend: Backend,
    /// The longest string concatenation may build, in bytes; a longer one
    /// is the runtime error `String too long.`. [`MAX_STRING_LEN`] by
    /// default, and a larger value counts as that.
    ///
    /// ```
    /// use lexer_demo::vm::{run_source, Options};
    /// let opts = Options { max_string_len: 3, ..Options::default() };
    /// let mut out = Vec::new();
    /// let r = run_source("print \"ab\" + \"c\";\nprint \"ab\" + \"cd\";", &opts, &mut out);
    /// assert_eq!(out, b"abc\n");
    /// assert_eq!(r.error.unwrap().to_string(), "String too long.\n[line 2]");
    /// ```
    pub max_string_len: usize,
    /// How many backward jumps and calls the program may make, in all;
    /// one more is the runtime error `Step budget exhausted.`. Unlimited
    /// (`None`) by default. Between two such steps the VM runs straight
    /// through the code, so this bounds the time a program runs: a host
    /// that runs programs it did not write sets it (the fuzz target does).
    ///
    /// ```
    /// use lexer_demo::vm::{run_source, Options};
    /// let opts = Options { max_steps: Some(1000), ..Options::default() };
    /// let r = run_source("var i = 0;\nwhile (true) i = i + 1;", &opts, &mut Vec::new());
    /// assert_eq!(r.error.unwrap().to_string(), "Step budget exhausted.\n[line 2]");
    /// let r = run_source("for (var i = 0; i < 999; i = i + 1) {}", &opts, &mut Vec::new());
    /// assert!(r.error.is_none());
    /// ```
    pub max_steps: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            gc_stress: false,
            backend: Backend::Morph,
            max_string_len: MAX_STRING_LEN,
            max_steps: None,
        }
    }
}

/// A runtime error: the message and the line it happened on.
///
/// ```
/// use lexer_demo::vm::{run_source, Options};
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
    /// let e = lexer_demo::vm::RuntimeError { message: "Operand must be a number.".into(), line: 3 };
    /// assert_eq!(e.to_string(), "Operand must be a number.\n[line 3]");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n[line {}]", self.message, self.line)
    }
}

/// What the collector did.
///
/// ```
/// use lexer_demo::vm::{run_source, Kind, Options};
/// let opts = Options { gc_stress: true, ..Options::default() };
/// let r = run_source("var s = \"a\" + \"b\"; s = s + s;", &opts, &mut Vec::new());
/// // Strings: "init", "clock", "a", "b", the name "s", "ab", "abab"; the
/// // native function and the script's closure. A collection before each
/// // allocation once the compiler is done (the native, the closure, the
/// // two concatenations); nothing was garbage yet at any of them.
/// assert_eq!((r.gc.objects_allocated, r.gc.collections, r.gc.objects_freed), (9, 4, 0));
/// assert_eq!(r.gc.by_kind[Kind::Str as usize - Kind::Str as usize], 7);
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
/// use lexer_demo::vm::{run_source, Options};
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
    /// How long compiling and running the program took.
    pub elapsed: std::time::Duration,
    /// The backend's own figures.
    pub heap: HeapFigures,
}

impl RunResult {
    /// The `run --stats` text: what the collector did, and where objects
    /// went; `process_peak` is the process heap's peak, when measured.
    ///
    /// ```
    /// use lexer_demo::vm::{run_source, Options};
    /// let r = run_source("var s = \"a\"; for (var i = 0; i < 3; i = i + 1) s = s + s;", &Options::default(), &mut Vec::new());
    /// let text = r.render_stats(None);
    /// // Strings: "init", "clock", "a", the name "s", then "aa", "aaaa"
    /// // and "aaaaaaaa"; the native function and the script's closure.
    /// assert!(text.contains("9 objects allocated"), "{text}");
    /// assert!(text.contains("string 7, closure 1, native function 1"), "{text}");
    /// ```
    pub fn render_stats(&self, process_peak: Option<usize>) -> String {
        render_stats(self, process_peak)
    }

    /// The `run --stats --json` object: `gc`, `heap`,
    /// `process_heap_peak_bytes` and `seconds`.
    ///
    /// ```
    /// use lexer_demo::vm::{run_source, Options};
    /// let r = run_source("print 1;", &Options::default(), &mut Vec::new());
    /// let j = r.stats_json(Some(100));
    /// assert_eq!(j["gc"]["collections"], 0);
    /// assert_eq!(j["heap"]["backend"], "morph");
    /// assert_eq!(j["process_heap_peak_bytes"], 100);
    /// ```
    pub fn stats_json(&self, process_peak: Option<usize>) -> serde_json::Value {
        serde_json::json!({
            "gc": self.gc,
            "heap": self.heap,
            "process_heap_peak_bytes": process_peak,
            "seconds": self.elapsed.as_secs_f64(),
        })
    }

    /// The exit code of LOX.md: 65 for compile errors, 70 for a runtime
    /// error, else 0.
    ///
    /// ```
    /// use lexer_demo::vm::{run_source, Options};
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
/// use lexer_demo::vm::{run_source, Options};
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
    /// Bytes the context gave back to the system: empty slabs and freed
    /// large objects (morph only).
    pub bytes_returned: u64,
    /// Objects still live in the heap after teardown: 0 unless something
    /// leaked.
    pub live_after_teardown: u64,
}

/// The `run --stats` text of `r`.
fn render_stats(r: &RunResult, process_peak: Option<usize>) -> String {
    use std::fmt::Write as _;
    let (gc, heap, elapsed) = (&r.gc, &r.heap, r.elapsed);
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
            "pools: {} of {} allocations reused a freed slot ({pct:.1}%), peak reserved {} bytes, {} empty slabs given back; {} large objects; {} bytes given back to the system",
            heap.pool_reuses,
            heap.pool_allocations,
            heap.peak_bytes_reserved,
            heap.slabs_returned,
            heap.system_allocations,
            heap.bytes_returned
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

/// Compiles and runs `source`, printing to `out`.
///
/// ```
/// use lexer_demo::vm::{run_source, Options};
/// let mut out = Vec::new();
/// let r = run_source("class A { init(x) { this.x = x; } } print A(3).x;", &Options::default(), &mut out);
/// assert_eq!((r.exit_code(), out.as_slice()), (0, &b"3\n"[..]));
/// ```
pub fn run_source(source: &str, options: &Options, out: &mut dyn Write) -> RunResult {
    let started = std::time::Instant::now();
    let (r, gc, heap) = match options.backend {
        Backend::Morph => {
            let mut ctx = runtime_context();
            let (r, gc) = machine::interpret_with(MorphHeap::new(&mut ctx), options, out, |vm| {
                load_source(vm, source)
            });
            (r, gc.0, HeapFigures::of_context(&ctx, gc.1))
        }
        Backend::Heap => {
            let (r, gc) = machine::interpret_with(SysHeap::default(), options, out, |vm| {
                load_source(vm, source)
            });
            (r, gc.0, HeapFigures::of_system_heap(gc.1))
        }
    };
    let elapsed = started.elapsed();
    let (diagnostics, error) = match r {
        Ok(()) => (Vec::new(), None),
        Err(machine::Stop::Diagnostics(d)) => {
            return RunResult {
                diagnostics: d,
                error: None,
                gc: GcStats::default(),
                elapsed: std::time::Duration::ZERO,
                heap: HeapFigures::default(),
            };
        }
        Err(machine::Stop::Error(e)) => (Vec::new(), Some(e)),
    };
    RunResult {
        diagnostics,
        error,
        gc,
        elapsed,
        heap,
    }
}

/// Lexes, parses and resolves `source`, then compiles it into `vm`; the
/// tokens and the AST are gone when it returns, before the program runs.
fn load_source<H: ObjHeap>(
    vm: &mut machine::Vm<'_, H>,
    source: &str,
) -> Result<usize, machine::Stop> {
    // The front end's own AST context, the one `mem` measures.
    let ast = crate::frontend::ast_context();
    let tokens = crate::frontend::token_context();
    let compiled = crate::frontend::compile(source, &ast, &tokens).map_err(|e| {
        machine::Stop::Diagnostics(vec![Diagnostic::new(
            1,
            crate::diagnostics::Location::None,
            e.to_string(),
        )])
    })?;
    match compiled.resolution {
        Some(res) if compiled.diagnostics.is_empty() => {
            compiler::compile(vm, &compiled.program, &res, source).map_err(machine::Stop::Error)
        }
        _ => Err(machine::Stop::Diagnostics(compiled.diagnostics)),
    }
}

/// What compiling a program to bytecode made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Bytecode {
    /// Functions, the top level included.
    pub functions: usize,
    /// Bytes of instructions.
    pub code_bytes: usize,
    /// Constants of every function.
    pub constants: usize,
}

/// Compiles a resolved program to bytecode, its functions and strings in
/// `ctx`, without running it: the compile phase of the footprint report.
/// `inspect` sees the context while everything compiled is alive; then it
/// is all freed.
///
/// ```
/// use lexer_demo::{frontend::compile, vm::{compile_to_bytecode, runtime_context}};
/// let ast = morph_runtime::MorphContext::new();
/// let src = "fun f(x) { return x + 1; } print f(2);";
/// let c = compile(src, &ast, &ast).unwrap();
/// let mut ctx = runtime_context();
/// let (made, live) = compile_to_bytecode(&mut ctx, &c.program, c.resolution.as_ref().unwrap(), src,
///     |ctx| ctx.stats().live_objects).unwrap();
/// assert_eq!(made.functions, 2);
/// assert!(live > 0);
/// assert_eq!(ctx.stats().live_objects, 0);
/// ```
pub fn compile_to_bytecode<R>(
    ctx: &mut MorphContext,
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    inspect: impl FnOnce(&mut MorphContext) -> R,
) -> Result<(Bytecode, R), RuntimeError> {
    let (c, r) = machine::compile_only(
        MorphHeap::new(ctx),
        |vm| compiler::compile(vm, program, res, source),
        |heap| inspect(heap.context_mut()),
    )?;
    Ok((
        Bytecode {
            functions: c.functions,
            code_bytes: c.code_bytes,
            constants: c.constants,
        },
        r,
    ))
}

/// The context `run` puts objects in: the runtime's `runtime` preset. Its
/// tight size-class table (steps of 8) fits a runtime's objects, which come
/// in many sizes, all 8-aligned (an instance is 24 bytes with its header,
/// an upvalue 32, a field table of 4 entries 80, a closure with one
/// upvalue 32; the default table would round the table to 128); objects
/// over the
/// pool limit go to its large-object space, freed one by one; empty slabs
/// go back to the system past 1 MiB.
///
/// ```
/// let ctx = lexer_demo::vm::runtime_context();
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
/// use lexer_demo::{frontend::compile, vm::{run_program, Options}};
/// let src = "fun f(n) { if (n < 2) return n; return f(n - 1) + f(n - 2); } print f(10);";
/// let ctx = morph_runtime::MorphContext::new();
/// let c = compile(src, &ctx, &ctx).unwrap();
/// let mut out = Vec::new();
/// let (err, gc, _) = run_program(&c.program, c.resolution.as_ref().unwrap(), src, &Options::default(), &mut out);
/// assert!(err.is_none());
/// assert_eq!(out, b"55\n");
/// // "init", "clock", the native function, the name "f", f's closure and
/// // the script's: the 177 calls allocate nothing. Too few
/// // bytes for a collection, so all were still there at the end.
/// assert_eq!((gc.objects_allocated, gc.collections, gc.live_at_end), (6, 0, 6));
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
            let (err, gc) =
                machine::interpret(SysHeap::default(), program, res, source, options, out);
            (err, gc.0, HeapFigures::of_system_heap(gc.1))
        }
    }
}

/// Runs a resolved program with its objects in `ctx` (whatever
/// `options.backend` says); when it returns, every object has been freed
/// back to `ctx`.
///
/// ```
/// use lexer_demo::{frontend::compile, vm::{run_in_context, runtime_context, Options}};
/// let src = "var s = \"a\"; for (var i = 0; i < 100; i = i + 1) s = s + \"b\"; print s == s;";
/// let ast = morph_runtime::MorphContext::new();
/// let c = compile(src, &ast, &ast).unwrap();
/// let mut ctx = runtime_context();
/// let opts = Options { gc_stress: true, ..Options::default() };
/// let mut out = Vec::new();
/// let (err, gc, _) = run_in_context(&mut ctx, &c.program, c.resolution.as_ref().unwrap(), src, &opts, &mut out);
/// assert!(err.is_none());
/// // One collection before each allocation but the five strings made
/// // before the program runs ("init", "clock", "a", "s", "b").
/// assert_eq!(gc.collections, gc.objects_allocated - 5);
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
    let (err, gc) = machine::interpret(MorphHeap::new(ctx), program, res, source, options, out);
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
            bytes_returned: s.slabs.returned_bytes + s.large.bytes_returned,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of object, through collections before every allocation,
    /// on both backends; under Miri with strict provenance this checks the
    /// tagged pointers, the inline tails and the collector.
    #[test]
    fn every_object_kind_survives_collection_on_both_backends() {
        let src = r#"
            fun counter() { var n = 0; fun inc() { n = n + 1; return n; } return inc; }
            var c = counter(); c(); print c();
            class A { init(x) { this.x = x; } get() { return this.x; } }
            class B < A { init(x) { super.init(x + 1); this.a = 1; this.b = 2; this.c = 3; this.d = 4; }
                          get() { return super.get() * 10; } }
            var b = B(1); print b.get(); print b.d;
            var m = b.get; print m();
            var s = "a"; for (var i = 0; i < 3; i = i + 1) { s = s + "b"; } print s;
            print s == "abbb"; print !nil; print b; print B; print counter;
        "#;
        let ast = morph_runtime::MorphContext::new();
        let tokens = crate::frontend::token_context();
        let c = crate::frontend::compile(src, &ast, &tokens).unwrap();
        let res = c.resolution.unwrap();
        for backend in [Backend::Morph, Backend::Heap] {
            let o = Options {
                gc_stress: true,
                backend,
                ..Options::default()
            };
            let mut out = Vec::new();
            let (err, gc, heap) = run_program(&c.program, &res, src, &o, &mut out);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "2\n20\n4\n20\nabbb\ntrue\ntrue\nB instance\nB\n<fn counter>\n"
            );
            assert!(gc.collections > 10 && gc.objects_freed > 0);
            assert_eq!(heap.live_after_teardown, 0);
        }
    }

    /// The stack moves when a call needs more room than it has: frames,
    /// open upvalues and the loop's own pointers must all follow. A
    /// function with 300 locals recursing 8 deep needs 2,400 slots, past
    /// the first 1,024; a closure captures a local of each frame before
    /// the stack moves and reads it after. Under Miri, a stale pointer
    /// into the old stack is a use after free.
    #[test]
    fn the_stack_moves_under_frames_and_open_upvalues() {
        let mut src = String::from("var fns = nil;\nfun deep(n) {\n");
        for i in 0..300 {
            src.push_str(&format!("  var v{i} = n + {i};\n"));
        }
        src.push_str(
            "  fun get() { return v299; }\n  if (n > 0) { var r = deep(n - 1); return r + get(); }\n  return get();\n}\nprint deep(7);\n",
        );
        // Field holding a callable, called as a method (the empty marker
        // is dropped and the arguments move down), under stress.
        src.push_str("class C { init() { this.f = deep; } }\nvar c = C();\nprint c.f(1);\n");
        let ast = morph_runtime::MorphContext::new();
        let tokens = crate::frontend::token_context();
        let c = crate::frontend::compile(&src, &ast, &tokens).unwrap();
        let res = c.resolution.unwrap();
        let want = format!("{}\n{}\n", (0..=7).map(|n| n + 299).sum::<i32>(), 299 + 300);
        for gc_stress in [false, true] {
            let o = Options {
                gc_stress,
                ..Options::default()
            };
            let mut out = Vec::new();
            let (err, _, heap) = run_program(&c.program, &res, &src, &o, &mut out);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(String::from_utf8(out).unwrap(), want);
            assert_eq!(heap.live_after_teardown, 0);
        }
    }
}
