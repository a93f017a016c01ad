//! A context and an arena driven by arbitrary operation sequences (alloc of
//! any size and alignment, free, realloc, reset, sweep with arbitrary marks,
//! a change of the empty-slab retention, mark, rewind), checked against a
//! model after every step: contents kept, no overlap, alignment, the walk
//! sees exactly the live objects, the sweep frees exactly the unmarked,
//! statistics and slab accounting consistent, no misuse reported by the
//! debug checks. Configurations: compiler or runtime preset, large objects
//! to the arena or the large-object space, fine classes, small slabs, any
//! retention, a budget.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use morph_runtime::{Arena, Config, Header, LargeObjects, MorphContext, SizeClasses, TypeTag};
use std::alloc::Layout;
use std::ptr::NonNull;

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc {
        size: u16,
        align_shift: u8,
        tag: u16,
    },
    Free(u8),
    Realloc(u8, u16),
    Reset,
    /// Mark the objects whose bit (index modulo 64) is set, then sweep.
    Sweep(u64),
    /// A new empty-slab retention, in KiB.
    Retain(u8),
    ArenaAlloc {
        size: u16,
        align_shift: u8,
    },
    Mark,
    Rewind(u8),
    ArenaReset,
}

#[derive(Arbitrary, Debug)]
struct Case {
    fine: bool,
    small_slabs: bool,
    arena_only: bool,
    runtime: bool,
    freeable: bool,
    retain_kib: Option<u8>,
    budget_kib: Option<u16>,
    ops: Vec<Op>,
}

#[derive(Clone, Copy)]
struct Obj {
    ptr: NonNull<u8>,
    size: usize,
    align: usize,
    fill: u8,
}

/// Sizes up to 9,000 bytes, alignments up to 4 KiB.
fn layout_of(size: u16, align_shift: u8) -> Layout {
    Layout::from_size_align(size as usize % 9000, 1 << (align_shift % 13)).unwrap()
}

impl Obj {
    /// Records a fresh object and fills it with its pattern.
    fn new(ptr: NonNull<u8>, layout: Layout, pattern: u8) -> Obj {
        let o = Obj {
            ptr,
            size: layout.size(),
            align: layout.align(),
            fill: pattern,
        };
        fill(&o);
        o
    }
}

fn fill(o: &Obj) {
    // SAFETY: the model only holds live objects of `size` bytes.
    unsafe { o.ptr.as_ptr().write_bytes(o.fill, o.size) };
}

fn check(objs: &[Obj], gap: usize) {
    let mut spans: Vec<(usize, usize)> = objs
        .iter()
        .map(|o| {
            assert_eq!(o.ptr.as_ptr() as usize % o.align, 0);
            // SAFETY: live object of `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(o.ptr.as_ptr(), o.size) };
            assert!(bytes.iter().all(|&b| b == o.fill), "contents lost");
            (
                o.ptr.as_ptr() as usize - gap,
                o.ptr.as_ptr() as usize + o.size,
            )
        })
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap");
    }
}

fuzz_target!(|case: Case| {
    let mut config = if case.arena_only {
        Config::arena_only()
    } else if case.runtime {
        Config::runtime()
    } else {
        Config::compiler()
    };
    if case.freeable {
        config = config.with_large_objects(LargeObjects::Freeable);
    }
    if let Some(kib) = case.retain_kib {
        config = config.with_retain_empty(kib as usize * 1024);
    }
    if case.fine {
        config = config.with_size_classes(SizeClasses::fine());
    }
    if case.small_slabs {
        config = config.with_slab_size(4096).with_chunk_sizes(256, 4096);
    }
    if let Some(kib) = case.budget_kib {
        config = config.with_budget(kib as usize * 1024);
    }
    let mut ctx: MorphContext = config.build().unwrap();
    let mut arena = Arena::with_chunk_sizes(256, 4096).unwrap();
    let (mut live, mut in_arena) = (Vec::<Obj>::new(), Vec::<Obj>::new());
    let mut marks = Vec::new();
    let mut n = 0u8;
    for op in case.ops.iter().take(300) {
        n = n.wrapping_add(1).max(1);
        match *op {
            Op::Alloc {
                size,
                align_shift,
                tag,
            } => {
                let layout = layout_of(size, align_shift);
                if let Ok(ptr) = ctx.try_alloc_layout(layout, TypeTag(tag)) {
                    live.push(Obj::new(ptr, layout, n));
                }
            }
            Op::Free(i) if !live.is_empty() => {
                let o = live.swap_remove(i as usize % live.len());
                // SAFETY: live object of `ctx`, freed once.
                unsafe { ctx.free(o.ptr) };
            }
            Op::Realloc(i, size) if !live.is_empty() => {
                let i = i as usize % live.len();
                let o = live[i];
                let size = size as usize % 9000;
                // SAFETY: live object; on success the old pointer is dropped.
                if let Ok(ptr) = unsafe { ctx.realloc(o.ptr, size) } {
                    let kept = o.size.min(size);
                    // SAFETY: the new object holds at least `kept` bytes.
                    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), kept) };
                    assert!(bytes.iter().all(|&b| b == o.fill), "realloc lost contents");
                    live[i] = Obj {
                        ptr,
                        size,
                        align: o.align,
                        fill: n,
                    };
                    fill(&live[i]);
                }
            }
            Op::Reset => {
                ctx.reset();
                live.clear();
            }
            Op::Sweep(bits) => {
                let mut expected = Vec::new();
                let mut kept = Vec::new();
                for (i, o) in live.drain(..).enumerate() {
                    // SAFETY: a live object of `ctx`.
                    let arena = unsafe { ctx.header(o.ptr) }.is_arena();
                    if arena || bits & (1 << (i % 64)) != 0 {
                        if !arena {
                            // SAFETY: as above.
                            unsafe { ctx.set_flags(o.ptr, Header::MARK, true) };
                        }
                        kept.push(o);
                    } else {
                        expected.push(o.ptr.as_ptr() as usize);
                    }
                }
                let mut freed = Vec::new();
                ctx.sweep(|p, _| freed.push(p.as_ptr() as usize));
                freed.sort_unstable();
                expected.sort_unstable();
                assert_eq!(freed, expected, "the sweep frees exactly the unmarked");
                live = kept;
            }
            Op::Retain(kib) => ctx.set_retain_empty(kib as usize * 1024),
            Op::ArenaAlloc { size, align_shift } => {
                let layout = layout_of(size, align_shift);
                if let Ok(ptr) = arena.try_alloc_layout(layout) {
                    in_arena.push(Obj::new(ptr, layout, n));
                }
            }
            Op::Mark => marks.push((arena.mark(), in_arena.len())),
            Op::Rewind(i) if !marks.is_empty() => {
                let i = i as usize % marks.len();
                let (mark, len) = marks[i];
                arena.rewind(mark).unwrap();
                in_arena.truncate(len);
                marks.truncate(i + 1);
            }
            Op::ArenaReset => {
                arena.reset();
                in_arena.clear();
                for (m, _) in marks.drain(..) {
                    assert!(arena.rewind(m).is_err());
                }
            }
            _ => {}
        }
        check(&live, Header::SIZE);
        check(&in_arena, 0);
        let mut walked = Vec::new();
        ctx.for_each_object(|p, h| walked.push((p.as_ptr() as usize, h.size())));
        let mut expected: Vec<(usize, usize)> = live
            .iter()
            // SAFETY: model objects are live.
            .filter(|o| !unsafe { ctx.header(o.ptr) }.is_arena())
            .map(|o| (o.ptr.as_ptr() as usize, o.size))
            .collect();
        walked.sort_unstable();
        expected.sort_unstable();
        assert_eq!(walked, expected, "the walk sees exactly the live objects");
        let s = ctx.stats();
        assert_eq!(s.live_objects, live.len());
        assert_eq!(s.live_bytes, live.iter().map(|o| o.size).sum::<usize>());
        assert_eq!(s.allocations - s.frees, live.len() as u64);
        assert!(s.slabs.cached <= s.slabs.retain);
        assert_eq!(
            s.bytes_reserved,
            (s.slabs.in_use + s.slabs.cached) * s.slabs.slab_size
                + s.arena.chunks.bytes_reserved
                + s.large.bytes_reserved
        );
        if let Some(limit) = s.budget {
            assert!(s.bytes_reserved <= limit);
        }
        assert!(ctx.violations().is_empty());
    }
});
