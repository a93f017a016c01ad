//! The footprint report as text: one report, or backends side by side.

use super::Report;
use std::fmt::Write;

/// `1234567` as `1,234,567`.
pub(crate) fn n(v: impl Into<u128>) -> String {
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

/// A `usize` as [`n`] does.
pub(crate) fn u(v: usize) -> String {
    n(v as u128)
}

/// Microseconds as milliseconds with two decimals.
pub(crate) fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// One report as text: the phases, where the peak went, the AST and the
/// AST context's classes.
///
/// ```
/// use lexer_demo::mem::{measure, text::render, Options};
/// let (r, _) = measure("var a = 1;", "a.lox", Options::default()).unwrap();
/// let text = render(&r);
/// assert!(text.starts_with("compile footprint of a.lox"));
/// assert!(text.contains("\nlex "));
/// assert!(text.contains("where the peak went"));
/// ```
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "compile footprint of {} ({} bytes, {} lines), backend {}, {} size classes, {} KiB slabs",
        r.file,
        u(r.source_bytes),
        u(r.lines),
        r.backend.name(),
        r.size_classes,
        r.slab_size / 1024
    );
    if !r.heap_measured {
        let _ = writeln!(
            o,
            "(the process heap is not counted: the counting allocator is not installed)"
        );
    }
    let _ = writeln!(
        o,
        "peak {} bytes (in {}), {} in all",
        u(r.peak_bytes),
        r.at_peak.phase,
        ms(r.micros)
    );
    let _ = writeln!(
        o,
        "{:<8} {:>10} {:>11} {:>13} {:>11} {:>13} {:>12} {:>12}",
        "phase",
        "time",
        "heap allocs",
        "heap bytes",
        "ctx objects",
        "ctx bytes",
        "peak live",
        "live at end"
    );
    for p in &r.phases {
        let _ = writeln!(
            o,
            "{:<8} {:>10} {:>11} {:>13} {:>11} {:>13} {:>12} {:>12}",
            p.name,
            ms(p.micros),
            n(p.heap_allocations),
            n(p.heap_allocated_bytes),
            n(p.context_allocations),
            n(p.context_allocated_bytes),
            u(p.peak_bytes),
            u(p.end_bytes)
        );
    }
    for p in &r.phases {
        if p.objects.is_empty() {
            continue;
        }
        let list: Vec<String> = p
            .objects
            .iter()
            .map(|(k, v)| format!("{k} {}", n(*v)))
            .collect();
        let _ = writeln!(o, "  {} made: {}", p.name, list.join(", "));
    }
    let a = &r.at_peak;
    let c = &a.contexts;
    let _ = writeln!(
        o,
        "where the peak went (end of {}): process heap {} | slabs {}",
        a.phase,
        u(a.heap_bytes),
        u(a.slab_bytes)
    );
    let _ = writeln!(
        o,
        "  in the contexts: payload {} | headers {} | size-class slack {} | free slots {} | uncarved slab space {} | arena {} used of {} | large objects {}",
        u(c.payload_bytes),
        u(c.header_bytes),
        u(c.slack_bytes),
        u(c.free_slot_bytes),
        u(c.uncarved_bytes),
        u(c.arena_used),
        u(c.arena_reserved),
        u(c.large_bytes)
    );
    let end = r
        .phases
        .iter()
        .find(|p| p.name == a.phase)
        .map_or(0, |p| p.end_bytes);
    if r.peak_bytes > end {
        let _ = writeln!(
            o,
            "  held for a moment within {} and gone by its end: {} bytes",
            a.phase,
            u(r.peak_bytes - end)
        );
    }
    if !a.top_tags.is_empty() {
        let list: Vec<String> = a
            .top_tags
            .iter()
            .map(|(k, row)| format!("{k} {} ({} bytes)", n(row.objects), n(row.bytes)))
            .collect();
        let _ = writeln!(o, "  top type tags: {}", list.join(", "));
    }
    let total: u64 = r.nodes.values().map(|k| k.objects).sum();
    let _ = writeln!(
        o,
        "tokens: {}; AST: {} nodes, {} bytes",
        n(r.tokens),
        n(total),
        n(r.ast_payload_bytes)
    );
    for (kind, row) in &r.nodes {
        let _ = writeln!(
            o,
            "  {kind:<9} {:>10} nodes {:>12} bytes",
            n(row.objects),
            n(row.bytes)
        );
    }
    if let Some(b) = &r.bytecode {
        let _ = writeln!(
            o,
            "bytecode: {} functions, {} bytes of code, {} constants",
            u(b.functions),
            u(b.code_bytes),
            u(b.constants)
        );
    }
    if let Some(b) = r.bumpalo_reserved_bytes {
        let _ = writeln!(o, "bumpalo: {} bytes reserved in chunks", u(b));
    }
    if let Some(c) = &r.ast_context {
        let _ = writeln!(
            o,
            "AST context at the end: {} slabs ({} bytes), {} arena chunks ({} bytes), {} bytes of large objects",
            u(c.slabs),
            u(c.slab_bytes),
            u(c.chunks),
            u(c.arena_reserved),
            u(c.large_bytes)
        );
        if !c.classes.is_empty() {
            let _ = writeln!(
                o,
                "  {:>5} {:>6} {:>10} {:>12} {:>12} {:>10}",
                "class", "slabs", "live", "allocations", "payload", "slack"
            );
            for row in &c.classes {
                let _ = writeln!(
                    o,
                    "  {:>5} {:>6} {:>10} {:>12} {:>12} {:>10}",
                    row.slot_size,
                    row.slabs,
                    u(row.live),
                    n(row.allocations),
                    u(row.payload_bytes),
                    u(row.slack_bytes)
                );
            }
        }
    }
    o
}

/// Several backends side by side: each phase's peak, the compile's peak,
/// its ratio to bumpalo's and to the heap backend's, and the AST payload.
///
/// ```
/// use lexer_demo::backend::BackendKind;
/// use lexer_demo::mem::{measure, text::compare_table, Options};
/// let reports: Vec<_> = BackendKind::ALL.iter()
///     .map(|&backend| measure("print 1;", "a.lox", Options { backend, ..Options::default() }).unwrap().0)
///     .collect();
/// let t = compare_table(&reports);
/// assert!(t.contains("morph-arena"));
/// assert!(t.contains("compile"));
/// ```
pub fn compare_table(reports: &[Report]) -> String {
    use crate::backend::BackendKind;
    let peak = |b: BackendKind| {
        reports
            .iter()
            .find(|r| r.backend == b)
            .map(|r| r.peak_bytes)
    };
    let (bump, heap) = (peak(BackendKind::Bumpalo), peak(BackendKind::Heap));
    let ratio = |v: usize, base: Option<usize>| match base {
        Some(b) if b > 0 => format!("{:.2}", v as f64 / b as f64),
        _ => "-".into(),
    };
    let names: Vec<&str> = reports
        .first()
        .map(|r| r.phases.iter().map(|p| p.name).collect())
        .unwrap_or_default();
    let mut o = String::new();
    let _ = write!(o, "{:<12}", "peak bytes");
    for name in &names {
        let _ = write!(o, " {name:>11}");
    }
    let _ = writeln!(
        o,
        " {:>11} {:>9} {:>7} {:>12} {:>9}",
        "peak", "/bumpalo", "/heap", "AST payload", "time"
    );
    for r in reports {
        let _ = write!(o, "{:<12}", r.backend.name());
        for name in &names {
            let v = r.phases.iter().find(|p| p.name == *name);
            let _ = write!(o, " {:>11}", v.map_or("-".into(), |p| u(p.peak_bytes)));
        }
        let _ = writeln!(
            o,
            " {:>11} {:>9} {:>7} {:>12} {:>9}",
            u(r.peak_bytes),
            ratio(r.peak_bytes, bump),
            ratio(r.peak_bytes, heap),
            n(r.ast_payload_bytes),
            ms(r.micros)
        );
    }
    o
}
