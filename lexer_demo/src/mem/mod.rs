//! The compile-footprint report of `lexer_demo mem`: how much memory each
//! phase of compiling a file took, when, and where it went.
//!
//! A compile runs in four phases, each measured on its own:
//!
//! - **lex**: the lexer alone, over the whole source, each token freed once
//!   read (the parser lexes as it reads, so this phase is what lexing costs
//!   by itself; the parse phase includes it again);
//! - **parse**: tokens and AST nodes, in the chosen backend;
//! - **resolve**: scope distances (after a clean parse);
//! - **compile**: the resolved AST to bytecode, its functions and strings in
//!   the engine's context (after a clean resolve).
//!
//! For each: its time; the process heap's allocations and bytes; the most
//! bytes live at once within it and the bytes live at its end, above what
//! was live before the compile (the source text is read before), counting
//! the process heap and the runtime's slabs (which come from the operating
//! system; see [`crate::counting`]); the contexts' objects and bytes; and
//! the objects it made by type tag.
//!
//! Then: a timeline of the live bytes (bounded, phases marked), where the
//! peak went (the breakdown at the end of the phase that held it, and the
//! type tags holding the most), the AST by node kind and the AST context
//! per size class. The figures are the same whatever ran before on the
//! thread: a [`Contexts`] reused across files with a reset reports what a
//! fresh one does, which is what measuring a whole project on a thread pool
//! ([`project`]) relies on.

pub mod gate;
pub mod project;
pub mod svg;
pub mod text;

use crate::ast::{NodeKind, NodeTally, Program};
use crate::backend::{Backend, BackendKind, HeapBackend, Tally};
use crate::counting::{self, Window};
use crate::diagnostics::Diagnostic;
use crate::lexer::TokenStream;
use crate::parser::parse;
use crate::resolver::{Resolution, resolve};
use crate::token::TokenKind;
use crate::vm::{Bytecode, Kind, compile_to_bytecode, runtime_context};
use morph_runtime::{Config, MorphContext, SizeClasses, stats::ContextStats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// The size-class table of the AST context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClassTable {
    /// Steps of 8 bytes: the `compiler` preset's (the default).
    #[default]
    Tight,
    /// Steps of 16 to 128, then 32.
    Fine,
    /// Powers of two.
    PowerOfTwo,
}

impl ClassTable {
    /// Its name in reports.
    ///
    /// ```
    /// assert_eq!(lexer_demo::mem::ClassTable::PowerOfTwo.name(), "power-of-two");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ClassTable::Tight => "tight",
            ClassTable::Fine => "fine",
            ClassTable::PowerOfTwo => "power-of-two",
        }
    }

    fn classes(self) -> SizeClasses {
        match self {
            ClassTable::Tight => SizeClasses::tight(),
            ClassTable::Fine => SizeClasses::fine(),
            ClassTable::PowerOfTwo => SizeClasses::power_of_two(),
        }
    }
}

/// What to measure and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Where AST nodes go.
    pub backend: BackendKind,
    /// The AST context's size classes (morph backend).
    pub classes: ClassTable,
    /// The AST context's slab size in bytes (morph backend).
    pub slab_size: usize,
    /// Record the timeline of live bytes.
    pub timeline: bool,
}

impl Default for Options {
    /// The morph backend with the front end's AST context (tight classes,
    /// 16 KiB slabs), no timeline.
    ///
    /// ```
    /// let o = lexer_demo::mem::Options::default();
    /// assert_eq!(o.slab_size, lexer_demo::frontend::ast_config().slab_size());
    /// ```
    fn default() -> Options {
        Options {
            backend: BackendKind::Morph,
            classes: ClassTable::Tight,
            slab_size: crate::frontend::ast_config().slab_size(),
            timeline: false,
        }
    }
}

/// The count and bytes of one kind of node, or one type tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// Objects.
    pub objects: u64,
    /// Their payload bytes.
    pub bytes: u64,
}

/// One phase of the compile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Phase {
    /// `lex`, `parse`, `resolve` or `compile`.
    pub name: &'static str,
    /// Its time in microseconds (left out of gates and snapshots).
    pub micros: u64,
    /// Process-heap allocations (and growing reallocations) in the phase.
    pub heap_allocations: u64,
    /// Bytes they asked for.
    pub heap_allocated_bytes: u64,
    /// Most bytes live at once in the phase (heap and slabs), above what was
    /// live before the compile.
    pub peak_bytes: usize,
    /// Bytes live at its end, heap and slabs.
    pub end_bytes: usize,
    /// Of them, in the process heap.
    pub end_heap_bytes: usize,
    /// Of them, slabs in use by the contexts' pools.
    pub end_slab_bytes: usize,
    /// Objects allocated in the contexts (tokens, nodes, engine objects).
    pub context_allocations: u64,
    /// Payload bytes they asked for.
    pub context_allocated_bytes: u64,
    /// Objects live in the contexts at its end.
    pub context_live_objects: usize,
    /// Their payload and header bytes.
    pub context_live_bytes: usize,
    /// Objects the phase made, by type tag (engine objects: those alive at
    /// its end).
    pub objects: BTreeMap<&'static str, u64>,
}

/// A context's breakdown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContextBreakdown {
    /// Payload bytes of live objects.
    pub payload_bytes: usize,
    /// Header bytes of live objects.
    pub header_bytes: usize,
    /// Bytes of live slots holding neither payload nor header.
    pub slack_bytes: usize,
    /// Bytes of freed slots on free lists.
    pub free_slot_bytes: usize,
    /// Bytes of slabs never carved into slots.
    pub uncarved_bytes: usize,
    /// Slabs held.
    pub slabs: usize,
    /// Bytes of slabs.
    pub slab_bytes: usize,
    /// Arena chunks.
    pub chunks: usize,
    /// Arena bytes handed out.
    pub arena_used: usize,
    /// Arena bytes reserved.
    pub arena_reserved: usize,
    /// Arena bytes lost at chunk ends.
    pub arena_wasted: usize,
    /// Bytes of large objects, freed one by one.
    pub large_bytes: usize,
    /// Per size class (the AST context only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRow>,
}

/// One size class in the breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClassRow {
    /// Slot size.
    pub slot_size: usize,
    /// Slabs of the class.
    pub slabs: usize,
    /// Objects live.
    pub live: usize,
    /// Allocations.
    pub allocations: u64,
    /// Payload bytes of the live objects.
    pub payload_bytes: usize,
    /// Slack of the live objects.
    pub slack_bytes: usize,
}

impl ContextBreakdown {
    fn of(s: &ContextStats, classes: bool) -> ContextBreakdown {
        ContextBreakdown {
            payload_bytes: s.live_bytes,
            header_bytes: s.header_bytes,
            slack_bytes: s.pools.slack_bytes,
            free_slot_bytes: s.pools.free_slot_bytes,
            uncarved_bytes: s.pools.uncarved_bytes,
            slabs: s.pools.slabs,
            slab_bytes: s.pools.bytes_reserved,
            chunks: s.arena.chunks.chunks,
            arena_used: s.arena.chunks.bytes_used,
            arena_reserved: s.arena.chunks.bytes_reserved,
            arena_wasted: s.arena.chunks.bytes_wasted,
            large_bytes: s.large.bytes_reserved,
            classes: if classes {
                s.classes
                    .iter()
                    .filter(|c| c.stats.slabs > 0 || c.stats.allocations > 0)
                    .map(|c| ClassRow {
                        slot_size: c.stats.slot_size,
                        slabs: c.stats.slabs,
                        live: c.stats.live,
                        allocations: c.stats.allocations,
                        payload_bytes: c.live_payload_bytes,
                        slack_bytes: c.slack_bytes,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn add(&mut self, o: &ContextBreakdown) {
        self.payload_bytes += o.payload_bytes;
        self.header_bytes += o.header_bytes;
        self.slack_bytes += o.slack_bytes;
        self.free_slot_bytes += o.free_slot_bytes;
        self.uncarved_bytes += o.uncarved_bytes;
        self.slabs += o.slabs;
        self.slab_bytes += o.slab_bytes;
        self.chunks += o.chunks;
        self.arena_used += o.arena_used;
        self.arena_reserved += o.arena_reserved;
        self.arena_wasted += o.arena_wasted;
        self.large_bytes += o.large_bytes;
    }
}

/// Where the peak went: the state at the end of the phase that held it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AtPeak {
    /// The phase.
    pub phase: &'static str,
    /// Bytes in the process heap (the parser's and resolver's tables, the
    /// bytecode, arena chunks and large objects, and the AST itself for the
    /// bumpalo and heap backends).
    pub heap_bytes: usize,
    /// Bytes of slabs in use.
    pub slab_bytes: usize,
    /// The contexts together (tokens, AST, engine).
    pub contexts: ContextBreakdown,
    /// The type tags holding the most bytes, most first (at most 5).
    pub top_tags: Vec<(&'static str, KindRow)>,
}

/// The live bytes over the compile.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// (milliseconds since the compile began, most bytes live in the
    /// stretch up to then, above what was live before).
    pub points: Vec<(f64, usize)>,
    /// (phase, the millisecond it began, the millisecond it ended); the
    /// gaps between phases are the measuring, not drawn.
    pub phases: Vec<(&'static str, f64, f64)>,
}

/// The footprint of compiling one source with one backend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The file, as named.
    pub file: String,
    /// The AST backend.
    pub backend: BackendKind,
    /// The AST context's size classes (morph backend).
    pub size_classes: &'static str,
    /// Its slab size.
    pub slab_size: usize,
    /// Source size.
    pub source_bytes: usize,
    /// Source lines.
    pub lines: usize,
    /// Whether the heap was counted (the counting allocator is installed).
    pub heap_measured: bool,
    /// The phases that ran, in order (a phase after an error does not).
    pub phases: Vec<Phase>,
    /// The most bytes live at once over the whole compile.
    pub peak_bytes: usize,
    /// Its time in microseconds (left out of gates and snapshots).
    pub micros: u64,
    /// Tokens the parser made.
    pub tokens: u64,
    /// Bytes of every AST node: the same for every backend.
    pub ast_payload_bytes: u64,
    /// AST nodes by kind.
    pub nodes: BTreeMap<&'static str, KindRow>,
    /// What the compile phase made.
    pub bytecode: Option<Bytecode>,
    /// Where the peak went.
    pub at_peak: AtPeak,
    /// The AST context at the end (morph backends).
    pub ast_context: Option<ContextBreakdown>,
    /// Bytes bumpalo reserved (bumpalo backend).
    pub bumpalo_reserved_bytes: Option<usize>,
    /// Compile errors met.
    pub diagnostics: usize,
    /// The live bytes over time (with `Options::timeline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
}

/// The contexts a compile uses, reusable across files: the token context,
/// the AST context (morph backend) and the engine's. A reset between files
/// frees every object and keeps the slabs for the next file.
pub struct Contexts {
    tokens: MorphContext,
    ast: Option<MorphContext>,
    engine: MorphContext,
    options: Options,
}

/// The AST context of the morph backends for `options`. Large nodes (lists
/// of more than 31 statements) are freed one by one, not bumped in an
/// arena: a reset then frees them all, and a reused context holds nothing a
/// fresh one would not.
fn ast_context(options: &Options) -> Result<MorphContext, String> {
    let config = match options.backend {
        BackendKind::MorphArena => Config::arena_only(),
        _ => crate::frontend::ast_config()
            .with_size_classes(options.classes.classes())
            .with_slab_size(options.slab_size),
    };
    config.build().map_err(|e| e.to_string())
}

impl Contexts {
    /// Fresh contexts for `options`; an error for an invalid slab size.
    ///
    /// ```
    /// use lexer_demo::mem::{Contexts, Options};
    /// assert!(Contexts::new(Options::default()).is_ok());
    /// let bad = Options { slab_size: 3000, ..Options::default() };
    /// assert!(Contexts::new(bad).is_err());
    /// ```
    pub fn new(options: Options) -> Result<Contexts, String> {
        // The AST context's settings are checked whatever the backend, so
        // that a report never names a configuration that cannot exist.
        let morph = ast_context(&Options {
            backend: BackendKind::Morph,
            ..options
        })?;
        let ast = match options.backend {
            BackendKind::Morph => Some(morph),
            _ => None,
        };
        Ok(Contexts {
            tokens: crate::frontend::token_context(),
            ast,
            engine: runtime_context(),
            options,
        })
    }

    /// The options they were made for.
    ///
    /// ```
    /// use lexer_demo::mem::{Contexts, Options};
    /// let c = Contexts::new(Options::default()).unwrap();
    /// assert_eq!(c.options(), Options::default());
    /// ```
    pub fn options(&self) -> Options {
        self.options
    }

    /// Frees every object of every context, keeping their slabs.
    ///
    /// ```
    /// use lexer_demo::mem::{Contexts, Options};
    /// let mut c = Contexts::new(Options::default()).unwrap();
    /// c.measure("print 1;", "a.lox").unwrap();
    /// c.reset();
    /// ```
    pub fn reset(&mut self) {
        self.tokens.reset();
        if let Some(a) = &mut self.ast {
            a.reset();
        }
        self.engine.reset();
    }

    /// Compiles `source` phase by phase and measures it. The contexts are
    /// reset first, so the figures do not depend on what ran before.
    ///
    /// ```
    /// use lexer_demo::mem::{Contexts, Options};
    /// let mut c = Contexts::new(Options::default()).unwrap();
    /// let (r, diagnostics) = c.measure("print 1 + 2;", "a.lox").unwrap();
    /// assert!(diagnostics.is_empty());
    /// let names: Vec<_> = r.phases.iter().map(|p| p.name).collect();
    /// assert_eq!(names, ["lex", "parse", "resolve", "compile"]);
    /// assert_eq!(r.tokens, 6);
    /// assert_eq!(r.nodes["binary"].objects, 1);
    /// assert_eq!(r.bytecode.unwrap().functions, 1);
    /// ```
    pub fn measure(
        &mut self,
        source: &str,
        file: &str,
    ) -> Result<(Report, Vec<Diagnostic>), String> {
        self.reset();
        let options = self.options;
        // A fresh arena each time (a reset arena keeps its largest chunk,
        // which would make the figures depend on the file before), made
        // before the measuring starts.
        let arena = match options.backend {
            BackendKind::MorphArena => Some(ast_context(&options)?),
            _ => None,
        };
        let mut m = Meter::new(source, file, &options);
        let diagnostics = match options.backend {
            BackendKind::Morph => {
                let ast = self.ast.as_ref().ok_or("no AST context")?;
                m.phases(source, ast, &self.tokens, &mut self.engine, Some(ast))?
            }
            BackendKind::MorphArena => {
                let ast = arena.as_ref().ok_or("no AST context")?;
                m.phases(source, ast, &self.tokens, &mut self.engine, Some(ast))?
            }
            BackendKind::Bumpalo => {
                let bump = bumpalo::Bump::new();
                let d = m.phases(source, &bump, &self.tokens, &mut self.engine, None)?;
                m.report.bumpalo_reserved_bytes = Some(bump.allocated_bytes());
                d
            }
            BackendKind::Heap => {
                let heap = HeapBackend::new();
                m.phases(source, &heap, &self.tokens, &mut self.engine, None)?
            }
        };
        let mut report = m.finish();
        report.diagnostics = diagnostics.len();
        Ok((report, diagnostics))
    }
}

/// Measures `source` with fresh contexts: see [`Contexts::measure`].
///
/// ```
/// use lexer_demo::backend::BackendKind;
/// use lexer_demo::mem::{measure, Options};
/// let options = Options { backend: BackendKind::Heap, ..Options::default() };
/// let (r, _) = measure("var a = 1;", "a.lox", options).unwrap();
/// assert!(r.ast_context.is_none());
/// assert_eq!(r.phases[0].objects["token"], 6);
/// ```
pub fn measure(
    source: &str,
    file: &str,
    options: Options,
) -> Result<(Report, Vec<Diagnostic>), String> {
    Contexts::new(options)?.measure(source, file)
}

/// The running measurement of one compile.
///
/// Everything the measuring itself allocates (statistics, heap walks, the
/// report's own rows) happens inside [`Window::exclude`], so that it moves
/// the baseline instead of counting as the compile's; what it frees is
/// freed there too.
struct Meter {
    window: Window,
    started: Instant,
    phase_started: Instant,
    /// The timeline's clock when the phase began (nanoseconds).
    phase_clock: u64,
    /// Heap allocations and bytes, and each context's allocations and
    /// requested bytes, when the phase began.
    heap_at: (u64, u64),
    ctx_at: [(u64, u64); 3],
    nodes_at: NodeTally,
    timeline: bool,
    /// (timeline clock, window baseline from then on): the baseline moves
    /// when measuring leaves something allocated.
    shifts: Vec<(u64, isize)>,
    report: Report,
}

/// A context's allocations and requested bytes.
fn ctx_counts(s: &ContextStats) -> (u64, u64) {
    (s.allocations, s.bytes_requested)
}

/// The contexts of a compile, in the order the meter keeps them.
fn contexts<'c>(
    tokens: &'c MorphContext,
    ast: Option<&'c MorphContext>,
    engine: &'c MorphContext,
) -> [Option<&'c MorphContext>; 3] {
    [Some(tokens), ast, Some(engine)]
}

impl Meter {
    /// A meter; the window opens in [`Meter::begin`].
    fn new(source: &str, file: &str, options: &Options) -> Meter {
        let heap_measured = counting::installed();
        let report = Report {
            file: file.to_string(),
            backend: options.backend,
            size_classes: options.classes.name(),
            slab_size: options.slab_size,
            source_bytes: source.len(),
            lines: source.lines().count(),
            heap_measured,
            phases: Vec::with_capacity(4),
            peak_bytes: 0,
            micros: 0,
            tokens: 0,
            ast_payload_bytes: 0,
            nodes: BTreeMap::new(),
            bytecode: None,
            at_peak: AtPeak::default(),
            ast_context: None,
            bumpalo_reserved_bytes: None,
            diagnostics: 0,
            timeline: options.timeline.then(|| Timeline {
                points: Vec::new(),
                phases: Vec::with_capacity(4),
            }),
        };
        let shifts = Vec::with_capacity(16);
        let now = Instant::now();
        Meter {
            window: counting::open(),
            started: now,
            phase_started: now,
            phase_clock: 0,
            heap_at: (0, 0),
            ctx_at: [(0, 0); 3],
            nodes_at: NodeTally::default(),
            timeline: options.timeline,
            shifts,
            report,
        }
    }

    /// Runs the phases with AST nodes in `ast`; `ast_ctx` is the AST's
    /// context when it is one.
    fn phases<B: Backend>(
        &mut self,
        source: &str,
        ast: &B,
        tokens: &MorphContext,
        engine: &mut MorphContext,
        ast_ctx: Option<&MorphContext>,
    ) -> Result<Vec<Diagnostic>, String> {
        let ast = Tally::new(ast);
        self.begin(&contexts(tokens, ast_ctx, engine), &ast);

        // Lex: the lexer alone; each token freed once read.
        let mut lexed = 0u64;
        {
            let mut stream = TokenStream::new(source, tokens).map_err(|e| e.to_string())?;
            loop {
                let t = stream.next_token().map_err(|e| e.to_string())?;
                lexed += 1;
                if t.kind == TokenKind::Eof {
                    break;
                }
            }
        }
        self.end(
            "lex",
            (tokens, ast_ctx, engine),
            false,
            &ast,
            &[("token", lexed)],
        );

        self.next();
        let parsed = parse(source, &ast, tokens).map_err(|e| e.to_string())?;
        self.report.tokens = parsed.tokens_made;
        let made = [("token", parsed.tokens_made)];
        self.end("parse", (tokens, ast_ctx, engine), false, &ast, &made);
        if !parsed.diagnostics.is_empty() {
            self.nodes(&ast);
            return Ok(parsed.diagnostics);
        }

        self.next();
        let (res, errors): (Resolution, _) = resolve(&parsed.program, source);
        self.end("resolve", (tokens, ast_ctx, engine), false, &ast, &[]);
        if !errors.is_empty() {
            self.nodes(&ast);
            return Ok(errors);
        }

        let program: Program<'_> = parsed.program;
        self.next();
        let compiled = compile_to_bytecode(engine, &program, &res, source, |engine| {
            self.end("compile", (tokens, ast_ctx, engine), true, &ast, &[]);
        });
        match compiled {
            Ok((bytecode, ())) => self.report.bytecode = Some(bytecode),
            Err(e) => return Err(format!("cannot compile to bytecode: {}", e.message)),
        }
        self.nodes(&ast);
        Ok(Vec::new())
    }

    /// The AST's nodes by kind and, for a morph backend, its context.
    fn nodes<B: Backend>(&mut self, ast: &Tally<'_, B>) {
        let t = ast.tally();
        let report = &mut self.report;
        self.window.exclude(|| {
            report.ast_payload_bytes = t.total_bytes();
            for kind in NodeKind::ALL {
                if t.count(kind) > 0 {
                    report.nodes.insert(
                        kind.name(),
                        KindRow {
                            objects: t.count(kind),
                            bytes: t.bytes(kind),
                        },
                    );
                }
            }
        });
    }

    /// Opens the window's first phase.
    fn begin<B: Backend>(&mut self, contexts: &[Option<&MorphContext>; 3], ast: &Tally<'_, B>) {
        let mut at = [(0, 0); 3];
        self.window.exclude(|| {
            for (slot, c) in at.iter_mut().zip(contexts) {
                if let Some(c) = c {
                    *slot = ctx_counts(&c.stats());
                }
            }
        });
        self.ctx_at = at;
        self.heap_at = (self.window.allocations(), self.window.allocated_bytes());
        self.nodes_at = ast.tally();
        if self.timeline {
            counting::start_timeline();
        }
        self.shifts.push((0, self.window.baseline()));
        self.next();
    }

    /// Starts a phase: its peak, its time, its stretch of the timeline.
    fn next(&mut self) {
        counting::timeline_resume();
        self.phase_clock = counting::timeline_clock();
        self.window.restart_peak();
        self.phase_started = Instant::now();
    }

    /// Closes phase `name`. `made` are objects by tag known to the caller;
    /// with `walk`, the engine's live objects are counted by kind.
    fn end<B: Backend>(
        &mut self,
        name: &'static str,
        (tokens, ast_ctx, engine): (&MorphContext, Option<&MorphContext>, &mut MorphContext),
        walk: bool,
        ast: &Tally<'_, B>,
        made: &[(&'static str, u64)],
    ) {
        let micros = u64::try_from(self.phase_started.elapsed().as_micros()).unwrap_or(u64::MAX);
        counting::timeline_pause();
        let clock = counting::timeline_clock();
        let peak = self.window.peak_bytes();
        let now = self.window.now();
        let heap = (self.window.allocations(), self.window.allocated_bytes());
        let nodes = ast.tally();
        let (report, ctx_at, nodes_at, heap_at, phase_clock) = (
            &mut self.report,
            self.ctx_at,
            self.nodes_at,
            self.heap_at,
            self.phase_clock,
        );
        let at = self.window.exclude(|| {
            let mut kinds: BTreeMap<&'static str, KindRow> = BTreeMap::new();
            if walk {
                engine.for_each_object(|_, header| {
                    if let Some(k) = Kind::from_tag(header.tag().0) {
                        let row = kinds.entry(k.name()).or_default();
                        row.objects += 1;
                        row.bytes += header.size() as u64;
                    }
                });
            }
            let stats: Vec<Option<ContextStats>> = contexts(tokens, ast_ctx, engine)
                .iter()
                .map(|c| c.map(MorphContext::stats))
                .collect();
            let mut objects: BTreeMap<&'static str, u64> = BTreeMap::new();
            let made = made
                .iter()
                .copied()
                .chain(kinds.iter().map(|(&k, r)| (k, r.objects)));
            for (tag, n) in made {
                if n > 0 {
                    *objects.entry(tag).or_default() += n;
                }
            }
            for kind in NodeKind::ALL {
                let n = nodes.count(kind) - nodes_at.count(kind);
                if n > 0 {
                    *objects.entry(kind.name()).or_default() += n;
                }
            }
            let mut phase = Phase {
                name,
                micros,
                heap_allocations: heap.0 - heap_at.0,
                heap_allocated_bytes: heap.1 - heap_at.1,
                peak_bytes: peak,
                end_bytes: now.total(),
                end_heap_bytes: now.heap,
                end_slab_bytes: now.slabs,
                context_allocations: 0,
                context_allocated_bytes: 0,
                context_live_objects: 0,
                context_live_bytes: 0,
                objects,
            };
            let mut at = [(0, 0); 3];
            for ((s, slot), before) in stats.iter().zip(at.iter_mut()).zip(ctx_at) {
                if let Some(s) = s {
                    *slot = ctx_counts(s);
                    phase.context_allocations += slot.0 - before.0;
                    phase.context_allocated_bytes += slot.1 - before.1;
                    phase.context_live_objects += s.live_objects;
                    phase.context_live_bytes += s.live_bytes + s.header_bytes;
                }
            }
            if peak >= report.peak_bytes || report.phases.is_empty() {
                report.peak_bytes = peak;
                report.at_peak = at_peak(name, now, &stats, &nodes, &kinds);
            }
            report.phases.push(phase);
            if let Some(t) = &mut report.timeline {
                t.phases.push((name, ms(phase_clock), ms(clock)));
            }
            if let Some(Some(s)) = stats.get(1) {
                report.ast_context = Some(ContextBreakdown::of(s, true));
            }
            at
        });
        self.ctx_at = at;
        self.heap_at = (self.window.allocations(), self.window.allocated_bytes());
        self.nodes_at = nodes;
        self.shifts.push((clock, self.window.baseline()));
    }

    fn finish(mut self) -> Report {
        self.report.micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if self.timeline {
            let shifts = std::mem::take(&mut self.shifts);
            let points = counting::stop_timeline()
                .into_iter()
                .map(|(t, bytes)| {
                    // The baseline in effect when the point was taken.
                    let base = shifts
                        .iter()
                        .take_while(|s| s.0 <= t)
                        .last()
                        .map_or(self.window.baseline(), |s| s.1);
                    let above = usize::try_from(bytes.saturating_sub(base)).unwrap_or(0);
                    (ms(t), above)
                })
                .collect();
            if let Some(t) = &mut self.report.timeline {
                t.points = points;
            }
        }
        self.report
    }
}

/// Nanoseconds as milliseconds.
fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// Where the peak went, at the end of phase `name`.
fn at_peak(
    name: &'static str,
    now: counting::Live,
    stats: &[Option<ContextStats>],
    nodes: &NodeTally,
    engine: &BTreeMap<&'static str, KindRow>,
) -> AtPeak {
    let mut contexts = ContextBreakdown::default();
    for s in stats.iter().flatten() {
        contexts.add(&ContextBreakdown::of(s, false));
    }
    let mut tags: Vec<(&'static str, KindRow)> = Vec::new();
    for kind in NodeKind::ALL {
        if nodes.count(kind) > 0 {
            tags.push((
                kind.name(),
                KindRow {
                    objects: nodes.count(kind),
                    bytes: nodes.bytes(kind),
                },
            ));
        }
    }
    tags.extend(engine.iter().map(|(&n, &r)| (n, r)));
    if let Some(Some(t)) = stats.first() {
        if t.live_objects > 0 {
            tags.push((
                "token",
                KindRow {
                    objects: t.live_objects as u64,
                    bytes: t.live_bytes as u64,
                },
            ));
        }
    }
    tags.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
    tags.truncate(5);
    AtPeak {
        phase: name,
        heap_bytes: now.heap,
        slab_bytes: now.slabs,
        contexts,
        top_tags: tags,
    }
}

/// Reports as pretty JSON: one object, or an array for several.
///
/// ```
/// use lexer_demo::mem::{measure, to_json, Options};
/// let (r, _) = measure("print 1;", "a.lox", Options::default()).unwrap();
/// let v: serde_json::Value = serde_json::from_str(&to_json(&[r])).unwrap();
/// assert_eq!(v["phases"][0]["name"], "lex");
/// ```
pub fn to_json(reports: &[Report]) -> String {
    if let [one] = reports {
        let text = serde_json::to_string_pretty(one);
        // Serialising these plain structures cannot fail; say so if it did.
        return text.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n";
    }
    to_json_array(reports)
}

/// Reports as a pretty JSON array, however many: a project's report.
///
/// ```
/// use lexer_demo::mem::{measure, to_json_array, Options};
/// let (r, _) = measure("print 1;", "a.lox", Options::default()).unwrap();
/// let v: serde_json::Value = serde_json::from_str(&to_json_array(&[r])).unwrap();
/// assert_eq!(v.as_array().unwrap().len(), 1);
/// ```
pub fn to_json_array(reports: &[Report]) -> String {
    let text = serde_json::to_string_pretty(reports);
    // Serialising these plain structures cannot fail; say so if it did.
    text.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}
