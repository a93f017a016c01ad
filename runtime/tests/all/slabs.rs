//! Slabs across classes, the retention limit, the large-object space, and
//! the walk and sweep a collector uses.

use crate::util::scaled;
use morph_runtime::{Config, Header, LargeObjects, MorphContext, TypeTag};
use std::alloc::Layout;
use std::ptr::NonNull;

const SLAB: usize = 4096;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn fill(ctx: &MorphContext, size: usize, n: usize, tag: u16) -> Vec<NonNull<u8>> {
    (0..n)
        .map(|_| ctx.alloc_layout(layout(size), TypeTag(tag)))
        .collect()
}

fn free_all(ctx: &MorphContext, objs: Vec<NonNull<u8>>) {
    for p in objs {
        // SAFETY: each is a live object of `ctx`, freed once.
        unsafe { ctx.free(p) };
    }
}

/// What one class freed serves the next class that grows: no new slab is
/// asked of the system while the cache has one.
#[test]
fn empty_slabs_move_between_classes() {
    let ctx = Config::runtime()
        .with_slab_size(SLAB)
        .with_retain_empty(1 << 20)
        .build()
        .unwrap();
    let small = fill(&ctx, 24, scaled(2000, 300), 1);
    let grown = ctx.stats().slabs.from_system;
    free_all(&ctx, small);
    let s = ctx.stats();
    assert_eq!(s.live_objects, 0);
    // Every slab but the class's current one is empty and cached.
    assert_eq!((s.slabs.in_use, s.slabs.cached as u64), (1, grown - 1));
    // A bigger class grows into the cached slabs.
    let slots_per_slab = (SLAB - 256) / 128;
    let big = fill(&ctx, 120, (grown as usize - 1) * slots_per_slab, 2);
    let s = ctx.stats();
    assert_eq!(s.slabs.from_system, grown, "no slab from the system");
    assert_eq!((s.slabs.cached, s.slabs.reused), (0, grown - 1));
    free_all(&ctx, big);
}

/// Past the retention limit, emptied slabs go back to the system and the
/// reserved bytes fall with them.
#[test]
fn slabs_beyond_the_retention_limit_are_returned() {
    let ctx = Config::runtime()
        .with_slab_size(SLAB)
        .with_retain_empty(2 * SLAB)
        .build()
        .unwrap();
    let per_slab = (SLAB - 256) / 32;
    let objs = fill(&ctx, 24, per_slab * 10, 1);
    assert_eq!(ctx.stats().slabs.in_use, 10);
    assert_eq!(ctx.stats().bytes_reserved, 10 * SLAB);
    free_all(&ctx, objs);
    let s = ctx.stats();
    assert_eq!((s.slabs.in_use, s.slabs.cached), (1, 2));
    assert_eq!(
        (s.slabs.returned, s.slabs.returned_bytes),
        (7, 7 * SLAB as u64)
    );
    assert_eq!(s.bytes_reserved, 3 * SLAB);
    assert_eq!(s.peak_bytes_reserved, 10 * SLAB);
    assert_eq!(s.slabs.peak_held, 10);
    let class = &s.classes[2].stats; // 24 + 8 bytes: the 32-byte class
    assert_eq!(
        (class.slot_size, class.slabs, class.peak_slabs),
        (32, 1, 10)
    );
    assert_eq!(class.slabs_emptied, 9);
}

/// Freeing a scattered part leaves partial slabs, which the class fills
/// again before it asks for another slab.
#[test]
fn partial_slabs_are_refilled_first() {
    let ctx = Config::runtime().with_slab_size(SLAB).build().unwrap();
    let per_slab = (SLAB - 256) / 32;
    let objs = fill(&ctx, 24, per_slab * 4, 1);
    let (kept, freed): (Vec<_>, Vec<_>) =
        objs.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    free_all(&ctx, freed.into_iter().map(|(_, p)| p).collect());
    let slabs = ctx.stats().slabs.from_system;
    let again = fill(&ctx, 24, per_slab * 2, 1);
    let s = ctx.stats();
    assert_eq!(s.slabs.from_system, slabs, "the freed half is reused");
    assert_eq!(s.classes[2].stats.free_slots, 0);
    free_all(&ctx, again);
    free_all(&ctx, kept.into_iter().map(|(_, p)| p).collect());
    assert_eq!(ctx.stats().live_objects, 0);
}

/// Large objects: freed one by one with their memory returned, tagged,
/// markable, walked, and counted in the budget.
#[test]
fn large_objects_are_freed_one_by_one() {
    let ctx = Config::compiler()
        .with_large_objects(LargeObjects::Freeable)
        .with_budget(1 << 20)
        .build()
        .unwrap();
    let a = ctx.alloc_layout(layout(5000), TypeTag(7));
    let b = ctx
        .try_alloc_layout(Layout::from_size_align(300, 256).unwrap(), TypeTag(8))
        .unwrap();
    assert_eq!(b.as_ptr().addr() % 256, 0);
    // SAFETY: both are live objects of `ctx`.
    unsafe {
        a.as_ptr().write_bytes(1, 5000);
        b.as_ptr().write_bytes(2, 300);
        assert!(ctx.header(a).is_large() && ctx.header(b).tag() == TypeTag(8));
        ctx.set_flags(a, Header::MARK, true);
        assert!(ctx.header(a).is_marked());
    }
    let s = ctx.stats();
    assert_eq!(
        (s.large.live_objects, s.large.live_payload_bytes),
        (2, 5300)
    );
    assert_eq!(s.bytes_reserved, s.large.bytes_reserved);
    // Over the budget: refused, nothing changes.
    assert!(ctx.try_alloc_layout(layout(2 << 20), TypeTag(9)).is_err());
    // SAFETY: `a` is live, freed once.
    unsafe { ctx.free(a) };
    let s = ctx.stats();
    assert_eq!((s.large.live_objects, s.large.frees), (1, 1));
    assert!(s.large.bytes_returned >= 5000);
    assert_eq!(s.bytes_reserved, s.large.bytes_reserved);
    // SAFETY: `b` is live; shrunk, it keeps its 256-byte alignment, which
    // no pool slot offers: it stays a large object.
    let b = unsafe { ctx.realloc(b, 40) }.unwrap();
    // SAFETY: `b` is live.
    assert!(unsafe { ctx.header(b) }.is_large() && b.as_ptr().addr() % 256 == 0);
    let d = ctx.alloc_layout(layout(600), TypeTag(9));
    // SAFETY: `d` is live with 600 bytes, then moves into a pool when it
    // shrinks (at the 32-byte offset its large block had).
    let c = unsafe {
        d.as_ptr().write_bytes(2, 600);
        ctx.realloc(d, 40)
    }
    .unwrap();
    // SAFETY: `c` is live with 40 bytes.
    unsafe {
        assert!(!ctx.header(c).is_large());
        assert!(
            std::slice::from_raw_parts(c.as_ptr(), 40)
                .iter()
                .all(|&x| x == 2)
        );
        assert_eq!(c.as_ptr().addr() % 32, 0);
        ctx.free(b);
    }
    assert_eq!(ctx.stats().large.live_objects, 0);
}

/// A sweep that frees everything empties the slabs it walked: they go to
/// the cache, or back to the system past the limit.
#[test]
fn a_sweep_gives_emptied_slabs_back() {
    let mut ctx = Config::runtime()
        .with_slab_size(SLAB)
        .with_retain_empty(0)
        .build()
        .unwrap();
    let per_slab = (SLAB - 256) / 32;
    let objs = fill(&ctx, 24, per_slab * 6, 3);
    let big = ctx.alloc_layout(layout(10_000), TypeTag(4));
    // Keep one object alive in the current slab and the large one.
    let keep = *objs.last().unwrap();
    // SAFETY: both are live objects of `ctx`.
    unsafe {
        ctx.set_flags(keep, Header::MARK, true);
        ctx.set_flags(big, Header::MARK, true);
    }
    let mut tags = 0u64;
    let s = ctx.sweep(|_, h| tags += u64::from(h.tag().0));
    assert_eq!(
        (s.kept, s.freed, s.freed_bytes),
        (2, objs.len() - 1, (objs.len() - 1) * 24)
    );
    assert_eq!(tags, 3 * (objs.len() as u64 - 1));
    let st = ctx.stats();
    assert_eq!(
        (st.live_objects, st.slabs.in_use, st.slabs.cached),
        (2, 1, 0)
    );
    assert_eq!(st.slabs.returned, 5);
    // A second sweep with no marks frees the rest.
    let s = ctx.sweep(|_, _| {});
    assert_eq!((s.kept, s.freed), (0, 2));
    assert_eq!(ctx.stats().live_objects, 0);
}

/// The walk reports over-aligned pool objects at their payload, with their
/// own headers (the copy at the slot start only gives the offset).
#[test]
fn walks_find_over_aligned_objects() {
    let mut ctx = Config::runtime().build().unwrap();
    let a = ctx
        .try_alloc_layout(Layout::from_size_align(40, 64).unwrap(), TypeTag(11))
        .unwrap();
    let b = ctx.alloc_layout(layout(8), TypeTag(12));
    let mut seen = Vec::new();
    ctx.for_each_object(|p, h| seen.push((p, h.size(), h.tag())));
    seen.sort_by_key(|(_, _, t)| *t);
    assert_eq!(seen, [(a, 40, TypeTag(11)), (b, 8, TypeTag(12))]);
}

#[cfg(feature = "debug-checks")]
#[test]
fn debug_checks_cover_large_objects() {
    use morph_runtime::debug::ViolationKind;
    let ctx = Config::runtime().build().unwrap();
    let a = ctx.alloc_layout(layout(1000), TypeTag(5));
    assert_eq!(ctx.leak_report().by_tag[&5].objects, 1);
    // SAFETY: freed once; the second free is refused by the debug layer.
    unsafe {
        ctx.free(a);
        ctx.free(a);
    }
    assert_eq!(ctx.violations()[0].kind, ViolationKind::DoubleFree);
    assert!(ctx.leak_report().is_empty());
}
