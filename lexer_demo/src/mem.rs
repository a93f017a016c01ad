//! The compile-footprint report of `lexer_demo mem`: how much memory lexing,
//! parsing and resolving a file took, and where it went.
//!
//! Two views are combined:
//! - the **heap peak**: the most bytes live at once in the process's heap
//!   during the work, above what was live before it (the source text is read
//!   before), from the [`crate::counting`] global allocator; it
//!   covers everything: slabs and chunks, the parser's temporary vectors, the
//!   resolver's scopes, the heap backend's nodes;
//! - for the morph backends, the **context's breakdown**: payload, headers,
//!   size-class slack, free slots, uncarved slab space, arena used against
//!   reserved, per class.
//!
//! Plus tokens made and alive at most, and AST nodes by kind (the same for
//! every backend).

use crate::ast::NodeKind;
use crate::backend::{Backend, HeapBackend};
use crate::counting;
use crate::diagnostics::Diagnostic;
use crate::frontend::{compile, token_context};
use morph_runtime::{Config, MorphContext, SizeClasses, stats::ContextStats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where AST nodes go, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MemBackend {
    /// A MorphContext with pools and arena.
    Morph,
    /// A MorphContext sending everything to its arena.
    MorphArena,
    /// A bumpalo arena.
    Bumpalo,
    /// One system allocation per node.
    Heap,
}

impl MemBackend {
    /// Every backend, in report order.
    pub const ALL: [MemBackend; 4] = [
        MemBackend::Morph,
        MemBackend::MorphArena,
        MemBackend::Bumpalo,
        MemBackend::Heap,
    ];

    /// Its name on the command line and in reports.
    ///
    /// ```
    /// assert_eq!(lexer_demo::mem::MemBackend::MorphArena.name(), "morph-arena");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            MemBackend::Morph => "morph",
            MemBackend::MorphArena => "morph-arena",
            MemBackend::Bumpalo => "bumpalo",
            MemBackend::Heap => "heap",
        }
    }
}

/// The count and bytes of one kind of node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// Nodes.
    pub nodes: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One size class in the breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClassRow {
    /// Slot size.
    pub slot_size: usize,
    /// Slabs of the class.
    pub slabs: usize,
    /// Objects live (after the compile: the AST).
    pub live: usize,
    /// Most slots carved at once (an upper bound of the most live at once;
    /// equal to it while the class has one slab).
    pub peak_carved: usize,
    /// Allocations.
    pub allocations: u64,
    /// Payload bytes of the live objects.
    pub payload_bytes: usize,
    /// Slack of the live objects.
    pub slack_bytes: usize,
}

/// A context's breakdown after the compile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// Slabs and chunks together.
    pub reserved_bytes: usize,
    /// Per size class.
    pub classes: Vec<ClassRow>,
}

impl ContextBreakdown {
    fn from_stats(s: &ContextStats) -> ContextBreakdown {
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
            reserved_bytes: s.bytes_reserved,
            classes: s
                .classes
                .iter()
                .map(|c| ClassRow {
                    slot_size: c.stats.slot_size,
                    slabs: c.stats.slabs,
                    live: c.stats.live,
                    peak_carved: c.stats.peak_carved,
                    allocations: c.stats.allocations,
                    payload_bytes: c.live_payload_bytes,
                    slack_bytes: c.slack_bytes,
                })
                .collect(),
        }
    }
}

/// The footprint of compiling one source with one backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemReport {
    /// The backend.
    pub backend: MemBackend,
    /// `power-of-two` or `fine` (morph backends).
    pub size_classes: &'static str,
    /// Slab size of the morph backend.
    pub slab_size: usize,
    /// Source size.
    pub source_bytes: usize,
    /// Source lines.
    pub lines: usize,
    /// Most heap bytes live at once during the work (0 when the counting
    /// allocator is not installed).
    pub heap_peak_bytes: usize,
    /// Heap allocations during the work.
    pub heap_allocations: u64,
    /// Whether the heap figures were measured.
    pub heap_measured: bool,
    /// Tokens allocated.
    pub tokens_made: u64,
    /// Most tokens alive at once.
    pub peak_live_tokens: usize,
    /// Bytes of every AST node: the same for every backend.
    pub ast_payload_bytes: u64,
    /// AST nodes by kind.
    pub nodes: BTreeMap<&'static str, KindRow>,
    /// The context's breakdown (morph backends).
    pub context: Option<ContextBreakdown>,
    /// Bytes bumpalo reserved (bumpalo backend).
    pub bumpalo_reserved_bytes: Option<usize>,
    /// Compile errors met.
    pub diagnostics: usize,
}

/// Compiles `source` with `backend` and measures it. Returns the report and
/// the diagnostics.
///
/// ```
/// use lexer_demo::mem::{measure, MemBackend};
/// let (report, diagnostics) = measure("print 1 + 2;", MemBackend::Morph, false).unwrap();
/// assert!(diagnostics.is_empty());
/// assert_eq!(report.tokens_made, 6);
/// assert_eq!(report.nodes["binary"].nodes, 1);
/// assert!(report.context.is_some());
/// ```
pub fn measure(
    source: &str,
    backend: MemBackend,
    fine: bool,
) -> Result<(MemReport, Vec<Diagnostic>), String> {
    measure_with(
        source,
        backend,
        fine,
        morph_runtime::SlabPool::DEFAULT_SLAB_SIZE,
    )
}

/// As [`measure`], with the morph backends' slabs of `slab_size` bytes.
///
/// ```
/// use lexer_demo::mem::{measure_with, MemBackend};
/// let (r, _) = measure_with("print 1;", MemBackend::Morph, true, 16 * 1024).unwrap();
/// assert_eq!(r.slab_size, 16 * 1024);
/// ```
pub fn measure_with(
    source: &str,
    backend: MemBackend,
    fine: bool,
    slab_size: usize,
) -> Result<(MemReport, Vec<Diagnostic>), String> {
    let classes = if fine {
        SizeClasses::fine()
    } else {
        SizeClasses::power_of_two()
    };
    let heap_measured = counting::installed();
    let mut report = MemReport {
        backend,
        size_classes: if fine { "fine" } else { "power-of-two" },
        slab_size,
        source_bytes: source.len(),
        lines: source.lines().count(),
        heap_peak_bytes: 0,
        heap_allocations: 0,
        heap_measured,
        tokens_made: 0,
        peak_live_tokens: 0,
        ast_payload_bytes: 0,
        nodes: BTreeMap::new(),
        context: None,
        bumpalo_reserved_bytes: None,
        diagnostics: 0,
    };
    let window = counting::open();
    let tokens = token_context();
    let diagnostics = match backend {
        MemBackend::Morph | MemBackend::MorphArena => {
            let config = if backend == MemBackend::Morph {
                Config::compiler()
                    .with_size_classes(classes)
                    .with_slab_size(slab_size)
            } else {
                Config::arena_only()
            };
            let ctx = config.build().map_err(|e| e.to_string())?;
            let d = run(source, &ctx, &tokens, &mut report)?;
            report.context = Some(ContextBreakdown::from_stats(&ctx.stats()));
            d
        }
        MemBackend::Bumpalo => {
            let bump = bumpalo::Bump::new();
            let d = run(source, &bump, &tokens, &mut report)?;
            report.bumpalo_reserved_bytes = Some(bump.allocated_bytes());
            d
        }
        MemBackend::Heap => {
            let heap = HeapBackend::new();
            run(source, &heap, &tokens, &mut report)?
        }
    };
    report.heap_peak_bytes = window.peak_bytes();
    report.heap_allocations = window.allocations();
    let t = tokens.stats();
    report.peak_live_tokens = t.classes.iter().map(|c| c.stats.peak_carved).sum();
    report.diagnostics = diagnostics.len();
    Ok((report, diagnostics))
}

fn run<B: Backend>(
    source: &str,
    backend: &B,
    tokens: &MorphContext,
    report: &mut MemReport,
) -> Result<Vec<Diagnostic>, String> {
    let c = compile(source, backend, tokens).map_err(|e| e.to_string())?;
    report.tokens_made = c.tokens_made;
    report.ast_payload_bytes = c.nodes.total_bytes();
    for kind in NodeKind::ALL {
        if c.nodes.count(kind) > 0 {
            report.nodes.insert(
                kind.name(),
                KindRow {
                    nodes: c.nodes.count(kind),
                    bytes: c.nodes.bytes(kind),
                },
            );
        }
    }
    Ok(c.diagnostics)
}

/// `1234567` as `1,234,567`.
fn n(v: impl Into<u128>) -> String {
    let s = v.into().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn u(v: usize) -> String {
    n(v as u128)
}

/// The report's AST payload in the unit of the heap figures (it cannot
/// exceed the heap it lives in; saturating only to stay total).
fn payload_bytes(r: &MemReport) -> usize {
    usize::try_from(r.ast_payload_bytes).unwrap_or(usize::MAX)
}

/// The report for one backend as text.
///
/// ```
/// use lexer_demo::mem::{measure, render, MemBackend};
/// let (report, _) = measure("var a = 1;", MemBackend::Heap, false).unwrap();
/// let text = render(&report, "a.lox");
/// assert!(text.contains("backend heap"));
/// assert!(text.contains("tokens: 6 made, at most 2 alive at once"));
/// ```
pub fn render(r: &MemReport, name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "compile footprint of {name} ({} bytes, {} lines), backend {}, {} size classes, {} KiB slabs",
        u(r.source_bytes),
        u(r.lines),
        r.backend.name(),
        r.size_classes,
        r.slab_size / 1024
    );
    if r.heap_measured {
        let _ = writeln!(
            o,
            "heap peak during lex + parse + resolve: {} bytes ({} allocations)",
            u(r.heap_peak_bytes),
            n(r.heap_allocations)
        );
    } else {
        let _ = writeln!(
            o,
            "heap peak: not measured (the counting allocator is not installed)"
        );
    }
    let _ = writeln!(
        o,
        "tokens: {} made, at most {} alive at once",
        n(r.tokens_made),
        u(r.peak_live_tokens)
    );
    let total_nodes: u64 = r.nodes.values().map(|k| k.nodes).sum();
    let _ = writeln!(
        o,
        "AST: {} nodes, {} bytes of nodes",
        n(total_nodes),
        n(r.ast_payload_bytes)
    );
    for (kind, row) in &r.nodes {
        let _ = writeln!(
            o,
            "  {kind:<9} {:>10} nodes {:>12} bytes",
            n(row.nodes),
            n(row.bytes)
        );
    }
    if let Some(b) = r.bumpalo_reserved_bytes {
        let _ = writeln!(o, "bumpalo: {} bytes reserved in chunks", u(b));
    }
    if let Some(c) = &r.context {
        let _ = writeln!(
            o,
            "context: {} bytes reserved ({} slabs = {} bytes, {} chunks = {} bytes)",
            u(c.reserved_bytes),
            u(c.slabs),
            u(c.slab_bytes),
            u(c.chunks),
            u(c.arena_reserved)
        );
        let _ = writeln!(
            o,
            "  payload {} | headers {} | size-class slack {} | free slots {} | uncarved slab space {}",
            u(c.payload_bytes),
            u(c.header_bytes),
            u(c.slack_bytes),
            u(c.free_slot_bytes),
            u(c.uncarved_bytes)
        );
        let _ = writeln!(
            o,
            "  arena: {} used of {} reserved, {} wasted at chunk ends",
            u(c.arena_used),
            u(c.arena_reserved),
            u(c.arena_wasted)
        );
        if !c.classes.is_empty() {
            let _ = writeln!(
                o,
                "  {:>5} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10}",
                "class", "slabs", "live", "carved", "allocations", "payload", "slack"
            );
            for row in &c.classes {
                let _ = writeln!(
                    o,
                    "  {:>5} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10}",
                    row.slot_size,
                    row.slabs,
                    u(row.live),
                    u(row.peak_carved),
                    n(row.allocations),
                    u(row.payload_bytes),
                    u(row.slack_bytes)
                );
            }
        }
    }
    o
}

/// Several backends side by side: heap peak, ratio to bumpalo and to the
/// heap backend, AST payload and the rest (overhead).
///
/// ```
/// use lexer_demo::mem::{compare_table, measure, MemBackend};
/// let reports: Vec<_> = MemBackend::ALL.iter()
///     .map(|&b| measure("print 1;", b, false).unwrap().0)
///     .collect();
/// assert!(compare_table(&reports).contains("morph-arena"));
/// ```
pub fn compare_table(reports: &[MemReport]) -> String {
    let peak = |b: MemBackend| {
        reports
            .iter()
            .find(|r| r.backend == b)
            .map(|r| r.heap_peak_bytes)
    };
    let (bump, heap) = (peak(MemBackend::Bumpalo), peak(MemBackend::Heap));
    let ratio = |v: usize, base: Option<usize>| match base {
        Some(b) if b > 0 => format!("{:.2}", v as f64 / b as f64),
        _ => "-".into(),
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<12} {:>14} {:>10} {:>8} {:>14} {:>14}",
        "backend", "heap peak", "/bumpalo", "/heap", "AST payload", "overhead"
    );
    for r in reports {
        let _ = writeln!(
            o,
            "{:<12} {:>14} {:>10} {:>8} {:>14} {:>14}",
            r.backend.name(),
            u(r.heap_peak_bytes),
            ratio(r.heap_peak_bytes, bump),
            ratio(r.heap_peak_bytes, heap),
            n(r.ast_payload_bytes),
            u(r.heap_peak_bytes.saturating_sub(payload_bytes(r)))
        );
    }
    o
}

/// A bar chart (SVG) of each report's heap peak, split into AST payload and
/// overhead.
///
/// ```
/// use lexer_demo::mem::{measure, svg_chart, MemBackend};
/// let (r, _) = measure("print 1;", MemBackend::Morph, false).unwrap();
/// let svg = svg_chart(&[r], "demo");
/// assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
/// ```
pub fn svg_chart(reports: &[MemReport], title: &str) -> String {
    let (bar_w, gap, left, top, height) = (90.0, 40.0, 70.0, 85.0, 300.0);
    let max = reports
        .iter()
        .map(|r| r.heap_peak_bytes.max(payload_bytes(r)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let width = left + reports.len() as f64 * (bar_w + gap) + gap;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" font-family="sans-serif" font-size="12">"#,
        top + height + 60.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="25" font-size="15">Peak heap while compiling {}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="37" width="12" height="12" fill="#4e79a7"/><text x="{}" y="47">AST payload</text><rect x="{}" y="37" width="12" height="12" fill="#f28e2b"/><text x="{}" y="47">overhead (headers, slack, free space, parser and resolver tables)</text>"##,
        left + 16.0,
        left + 110.0,
        left + 126.0
    );
    for (i, r) in reports.iter().enumerate() {
        let x = left + gap + i as f64 * (bar_w + gap);
        let total = r.heap_peak_bytes as f64;
        let payload = (r.ast_payload_bytes as f64).min(total);
        let (h_total, h_payload) = (total / max * height, payload / max * height);
        let base = top + height;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{}" width="{bar_w}" height="{}" fill="#f28e2b"/>"##,
            base - h_total,
            h_total - h_payload
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{}" width="{bar_w}" height="{h_payload}" fill="#4e79a7"/>"##,
            base - h_payload
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x + bar_w / 2.0,
            base + 18.0,
            r.backend.name()
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{} KiB</text>"#,
            x + bar_w / 2.0,
            base - h_total - 6.0,
            u(r.heap_peak_bytes / 1024)
        );
    }
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        top + height,
        width - gap / 2.0,
        top + height
    );
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
