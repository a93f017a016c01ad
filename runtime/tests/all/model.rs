//! Property tests: random operation sequences against a simple model.

use crate::util::{Obj, check_objects};
use morph_runtime::{Arena, Config, Header, LargeObjects, MorphContext, SizeClasses, TypeTag};
use proptest::prelude::*;
use proptest::test_runner::Config as PropConfig;
use std::alloc::Layout;

#[derive(Clone, Debug)]
enum CtxOp {
    Alloc {
        size: usize,
        align_shift: u32,
    },
    Free(usize),
    Realloc(usize, usize),
    Reset,
    /// Marks the live objects whose bit (index modulo 64) is set, then
    /// sweeps.
    Sweep(u64),
}

/// Largest size the property tests ask for: 8 KiB, or 1 KiB under Miri.
const MAX_SIZE: usize = if cfg!(miri) { 1024 } else { 8192 };
/// Longest operation sequence.
const MAX_OPS: usize = if cfg!(miri) { 16 } else { 60 };

fn ctx_op() -> impl Strategy<Value = CtxOp> {
    let size = prop_oneof![4 => 0usize..=256, 1 => 0usize..=MAX_SIZE];
    prop_oneof![
        8 => (size, 0u32..=12).prop_map(|(size, align_shift)| CtxOp::Alloc { size, align_shift }),
        4 => any::<usize>().prop_map(CtxOp::Free),
        2 => (any::<usize>(), 0usize..=MAX_SIZE).prop_map(|(i, s)| CtxOp::Realloc(i, s)),
        1 => Just(CtxOp::Reset),
        1 => any::<u64>().prop_map(CtxOp::Sweep),
    ]
}

fn prop_config() -> PropConfig {
    PropConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..PropConfig::default()
    }
}

fn run_context(ctx: &mut MorphContext, ops: &[CtxOp]) {
    let mut live: Vec<Obj> = Vec::new();
    let mut next_pattern = 1u8;
    let mut pattern = || {
        next_pattern = next_pattern.wrapping_add(1).max(1);
        next_pattern
    };
    for op in ops {
        match *op {
            CtxOp::Alloc { size, align_shift } => {
                let align = 1 << align_shift;
                let layout = Layout::from_size_align(size, align).unwrap();
                let ptr = ctx.alloc_layout(layout, TypeTag(size as u16));
                let o = Obj {
                    ptr,
                    size,
                    align,
                    pattern: pattern(),
                    tag: size as u16,
                };
                o.fill();
                live.push(o);
            }
            CtxOp::Free(i) if !live.is_empty() => {
                let o = live.swap_remove(i % live.len());
                // SAFETY: `o` is live and freed once.
                unsafe { ctx.free(o.ptr) };
            }
            CtxOp::Realloc(i, new_size) if !live.is_empty() => {
                let i = i % live.len();
                let o = live[i];
                // SAFETY: `o` is live; its old pointer is dropped from the model.
                let ptr = unsafe { ctx.realloc(o.ptr, new_size) }.unwrap();
                let kept = o.size.min(new_size);
                // SAFETY: the new object is live and at least `kept` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), kept) };
                assert!(
                    bytes.iter().all(|&b| b == o.pattern),
                    "realloc lost contents"
                );
                // SAFETY: as above.
                assert_eq!(unsafe { ctx.header(ptr) }.tag(), TypeTag(o.tag));
                live[i] = Obj {
                    ptr,
                    size: new_size,
                    pattern: pattern(),
                    ..o
                };
                live[i].fill();
            }
            CtxOp::Reset => {
                ctx.reset();
                live.clear();
            }
            CtxOp::Sweep(bits) => sweep(ctx, &mut live, bits),
            _ => {}
        }
        check_objects(&live, Header::SIZE);
        check_walk(ctx, &live);
        let s = ctx.stats();
        assert_eq!(s.live_objects, live.len());
        assert_eq!(s.live_bytes, live.iter().map(|o| o.size).sum::<usize>());
        assert_eq!(
            s.pools.live_objects + s.arena.live_objects + s.large.live_objects,
            s.live_objects
        );
        assert_eq!(s.slabs.in_use, s.pools.slabs);
        assert!(s.slabs.cached <= s.slabs.retain);
        assert_eq!(
            s.bytes_reserved,
            (s.slabs.in_use + s.slabs.cached) * s.slabs.slab_size
                + s.arena.chunks.bytes_reserved
                + s.large.bytes_reserved,
            "every reserved byte is a slab, a chunk or a large block"
        );
        assert_eq!(
            s.slabs.from_system - s.slabs.returned,
            (s.slabs.in_use + s.slabs.cached) as u64
        );
        assert_eq!(s.allocations - s.frees, (s.live_objects) as u64);
        assert!(s.peak_bytes_reserved >= s.bytes_reserved);
        for c in &s.classes {
            assert_eq!(c.stats.carved, c.stats.live + c.stats.free_slots);
            assert!(c.stats.carved <= c.stats.slots);
            assert!(c.stats.peak_carved >= c.stats.live);
            assert_eq!(
                c.live_slot_bytes,
                c.live_payload_bytes + c.slack_bytes + c.stats.live * Header::SIZE
            );
        }
        assert!(
            s.pools.live_slot_bytes + s.pools.free_slot_bytes + s.pools.uncarved_bytes
                <= s.pools.bytes_reserved
        );
    }
}

/// Marks the objects the bits choose (arena objects are outside sweeps),
/// sweeps, and checks that exactly the unmarked ones were freed.
fn sweep(ctx: &mut MorphContext, live: &mut Vec<Obj>, bits: u64) {
    let mut expected_freed = Vec::new();
    let mut kept = Vec::new();
    for (i, o) in live.drain(..).enumerate() {
        // SAFETY: `o` is a live object of `ctx`.
        let h = unsafe { ctx.header(o.ptr) };
        if h.is_arena() || bits & (1 << (i % 64)) != 0 {
            if !h.is_arena() {
                // SAFETY: as above.
                unsafe { ctx.set_flags(o.ptr, Header::MARK, true) };
            }
            kept.push(o);
        } else {
            expected_freed.push((o.ptr.as_ptr().addr(), o.size, o.tag));
        }
    }
    let mut freed = Vec::new();
    let s = ctx.sweep(|p, h| freed.push((p.as_ptr().addr(), h.size(), h.tag().0)));
    freed.sort_unstable();
    expected_freed.sort_unstable();
    assert_eq!(
        freed, expected_freed,
        "the sweep frees exactly the unmarked"
    );
    assert_eq!(s.freed, expected_freed.len());
    for o in &kept {
        // SAFETY: kept objects are live.
        let h = unsafe { ctx.header(o.ptr) };
        assert!(!h.is_marked(), "marks are cleared");
    }
    *live = kept;
}

/// The walk visits exactly the model's pool and large objects, with their
/// sizes and tags.
fn check_walk(ctx: &mut MorphContext, live: &[Obj]) {
    let mut expected: Vec<(usize, usize, u16)> = live
        .iter()
        // SAFETY: every model object is live.
        .filter(|o| !unsafe { ctx.header(o.ptr) }.is_arena())
        .map(|o| (o.ptr.as_ptr().addr(), o.size, o.tag))
        .collect();
    let mut seen = Vec::new();
    ctx.for_each_object(|p, h| seen.push((p.as_ptr().addr(), h.size(), h.tag().0)));
    expected.sort_unstable();
    seen.sort_unstable();
    assert_eq!(seen, expected, "the walk sees exactly the live objects");
}

proptest! {
    #![proptest_config(prop_config())]

    #[test]
    fn runtime_preset_small_slabs_match_model(ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)) {
        // Small slabs and a retention of two slabs: slabs empty, move
        // between classes through the cache, and go back to the system.
        let mut ctx = Config::runtime()
            .with_slab_size(4096)
            .with_retain_empty(2 * 4096)
            .build()
            .unwrap();
        run_context(&mut ctx, &ops);
    }

    #[test]
    fn freeable_large_objects_with_power_of_two_classes_match_model(
        ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)
    ) {
        let mut ctx = Config::compiler()
            .with_large_objects(LargeObjects::Freeable)
            .with_slab_size(4096)
            .with_retain_empty(0)
            .build()
            .unwrap();
        run_context(&mut ctx, &ops);
    }

    #[test]
    fn context_matches_model(ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)) {
        run_context(&mut MorphContext::new(), &ops);
    }

    #[test]
    fn fine_classes_small_slabs_match_model(ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)) {
        let mut ctx = Config::compiler()
            .with_size_classes(SizeClasses::fine())
            .with_slab_size(4096)
            .with_chunk_sizes(256, 4096)
            .build()
            .unwrap();
        run_context(&mut ctx, &ops);
    }

    #[test]
    fn tight_classes_match_model(ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)) {
        let mut ctx = Config::compiler()
            .with_size_classes(SizeClasses::tight())
            .with_slab_size(4096)
            .build()
            .unwrap();
        run_context(&mut ctx, &ops);
    }

    #[test]
    fn arena_only_matches_model(ops in prop::collection::vec(ctx_op(), 1..MAX_OPS)) {
        run_context(&mut Config::arena_only().build().unwrap(), &ops);
    }
}

#[derive(Clone, Debug)]
enum ArenaOp {
    Alloc { size: usize, align_shift: u32 },
    Mark,
    Rewind(usize),
    Reset,
}

fn arena_op() -> impl Strategy<Value = ArenaOp> {
    prop_oneof![
        8 => (0usize..=MAX_SIZE, 0u32..=12).prop_map(|(size, align_shift)| ArenaOp::Alloc { size, align_shift }),
        2 => Just(ArenaOp::Mark),
        2 => any::<usize>().prop_map(ArenaOp::Rewind),
        1 => Just(ArenaOp::Reset),
    ]
}

proptest! {
    #![proptest_config(prop_config())]

    #[test]
    fn arena_marks_match_model(ops in prop::collection::vec(arena_op(), 1..MAX_OPS)) {
        let mut arena = Arena::with_chunk_sizes(256, 4096).unwrap();
        let mut live: Vec<Obj> = Vec::new();
        // Each mark remembers how many model objects existed when it was taken.
        let mut marks = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            match *op {
                ArenaOp::Alloc { size, align_shift } => {
                    let align = 1 << align_shift;
                    let ptr = arena.alloc_layout(Layout::from_size_align(size, align).unwrap());
                    let o = Obj { ptr, size, align, pattern: (n % 250) as u8 + 1, tag: 0 };
                    o.fill();
                    live.push(o);
                }
                ArenaOp::Mark => marks.push((arena.mark(), live.len())),
                ArenaOp::Rewind(i) if !marks.is_empty() => {
                    let i = i % marks.len();
                    let (mark, len) = marks[i];
                    arena.rewind(mark).unwrap();
                    live.truncate(len);
                    // Later marks are stale now: the model drops them.
                    marks.truncate(i + 1);
                }
                ArenaOp::Reset => {
                    arena.reset();
                    live.clear();
                    for (m, _) in marks.drain(..) {
                        prop_assert!(arena.rewind(m).is_err(), "marks from before a reset are refused");
                    }
                }
                _ => {}
            }
            check_objects(&live, 0);
            let s = arena.stats();
            prop_assert!(s.bytes_used >= live.iter().map(|o| o.size).sum::<usize>());
            prop_assert!(s.bytes_used + s.bytes_wasted + s.bytes_free_in_current <= s.bytes_reserved);
        }
    }
}
