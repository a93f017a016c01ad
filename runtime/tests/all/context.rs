//! Routing, alignment, realloc, budgets and statistics of the context.

use morph_runtime::{Config, Error, Header, MorphContext, Routing, SizeClasses, TypeTag};
use std::alloc::Layout;

fn alloc(ctx: &MorphContext, size: usize, align: usize) -> std::ptr::NonNull<u8> {
    ctx.try_alloc_layout(Layout::from_size_align(size, align).unwrap(), TypeTag(7))
        .unwrap()
}

#[test]
fn routing_boundary_is_256_bytes_with_header() {
    let ctx = MorphContext::new();
    let pooled = alloc(&ctx, 256 - Header::SIZE, 8);
    let arena = alloc(&ctx, 256 - Header::SIZE + 1, 8);
    // SAFETY: both are live objects of `ctx`.
    unsafe {
        // The last class of the default (tight) table: 256 bytes.
        assert_eq!(ctx.header(pooled).class(), Some(15));
        assert!(ctx.header(arena).is_arena());
    }
    let s = ctx.stats();
    assert_eq!((s.pools.live_objects, s.arena.live_objects), (1, 1));
}

#[test]
fn over_aligned_requests_stay_correct() {
    let ctx = MorphContext::new();
    for shift in 0..=12 {
        let align = 1usize << shift;
        let p = alloc(&ctx, 24, align);
        assert_eq!(p.as_ptr() as usize % align, 0);
        // SAFETY: `p` is live; header and slot arithmetic must agree.
        let h = unsafe { ctx.header(p) };
        assert_eq!(h.size(), 24);
        assert_eq!(h.payload_offset(), align.max(8));
        // Alignments a slot cannot give go to the arena.
        assert_eq!(h.is_arena(), 24 + align.max(8) > 256);
        // SAFETY: live, freed once.
        unsafe { ctx.free(p) };
    }
    assert_eq!(ctx.stats().live_objects, 0);
}

#[test]
fn fine_classes_cut_slack() {
    let sizes = [20usize, 40, 56, 72, 100, 150, 180, 200];
    let slack = |classes: SizeClasses| {
        let ctx = Config::compiler()
            .with_size_classes(classes)
            .build()
            .unwrap();
        for &s in &sizes {
            alloc(&ctx, s, 8);
        }
        ctx.stats().pools.slack_bytes
    };
    let (pow, fine) = (
        slack(SizeClasses::power_of_two()),
        slack(SizeClasses::fine()),
    );
    assert!(fine * 2 < pow, "fine {fine} vs power-of-two {pow}");
}

#[test]
fn realloc_moves_between_classes_and_to_the_arena_and_back() {
    let ctx = MorphContext::new();
    let mut p = alloc(&ctx, 4, 8);
    // SAFETY: `p` is a live 4-byte object.
    unsafe { p.as_ptr().copy_from(b"abcd".as_ptr(), 4) };
    for (size, arena) in [
        (20usize, false),
        (100, false),
        (1000, true),
        (600, true),
        (10, false),
        (3, false),
    ] {
        // SAFETY: `p` is live; the old pointer is replaced.
        p = unsafe { ctx.realloc(p, size) }.unwrap();
        // SAFETY: `p` is live.
        let h = unsafe { ctx.header(p) };
        assert_eq!((h.size(), h.is_arena(), h.tag()), (size, arena, TypeTag(7)));
        let keep = size.min(4);
        // SAFETY: at least `keep` bytes are live.
        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), keep) };
        assert_eq!(bytes, &b"abcd"[..keep]);
    }
    let s = ctx.stats();
    assert_eq!((s.live_objects, s.live_bytes), (1, 3));
}

#[test]
fn realloc_in_place_within_the_slot() {
    let ctx = MorphContext::new();
    let p = alloc(&ctx, 10, 8);
    // SAFETY: live; 10 -> 16 still belongs in the 24-byte class.
    let q = unsafe { ctx.realloc(p, 16) }.unwrap();
    assert_eq!(p, q);
    assert_eq!(ctx.stats().live_bytes, 16);
    // SAFETY: live; 16 -> 4 belongs in the 16-byte class: it moves.
    let r = unsafe { ctx.realloc(q, 4) }.unwrap();
    assert_ne!(q, r);
    // SAFETY: `r` is live.
    assert_eq!(unsafe { ctx.header(r) }.class(), Some(0));
    let s = ctx.stats();
    assert_eq!(
        (
            s.live_objects,
            s.classes[1].stats.live,
            s.classes[0].stats.live
        ),
        (1, 0, 1)
    );
}

#[test]
fn freeing_the_last_arena_object_reclaims_it() {
    let ctx = MorphContext::new();
    let a = alloc(&ctx, 1000, 8);
    let used = ctx.stats().arena.chunks.bytes_used;
    let b = alloc(&ctx, 1000, 8);
    // SAFETY: `b` is live and the most recent arena object.
    unsafe { ctx.free(b) };
    let s = ctx.stats();
    assert_eq!((s.arena.reclaimed, s.arena.dead_bytes), (1, 0));
    assert_eq!(s.arena.chunks.bytes_used, used);
    assert_eq!(alloc(&ctx, 1000, 8), b, "the reclaimed bytes are reused");
    // SAFETY: `a` is live but not the most recent: its bytes are dead.
    unsafe { ctx.free(a) };
    // The payload and the 16 bytes before it (arena objects keep a 16-byte
    // offset, so that only pool objects have the plain 8-byte one), rounded
    // up to 16.
    assert_eq!(ctx.stats().arena.dead_bytes, 1024);
}

#[test]
fn budget_gives_errors_not_aborts() {
    let ctx = Config::compiler()
        .with_budget(64 * 1024 + 4096)
        .build()
        .unwrap();
    alloc(&ctx, 16, 8); // one slab: 64 KiB
    alloc(&ctx, 1000, 8); // one 4 KiB chunk
    let err = ctx
        .try_alloc_layout(Layout::from_size_align(40, 8).unwrap(), TypeTag(0))
        .unwrap_err();
    assert!(matches!(err, Error::BudgetExceeded { limit, .. } if limit == 64 * 1024 + 4096));
    let big = ctx.try_alloc_layout(Layout::from_size_align(1 << 30, 8).unwrap(), TypeTag(0));
    assert!(matches!(big, Err(Error::BudgetExceeded { .. })));
    let s = ctx.stats();
    assert_eq!((s.live_objects, s.bytes_reserved), (2, 64 * 1024 + 4096));
}

#[test]
fn impossible_requests_are_errors() {
    let ctx = MorphContext::new();
    let huge = Layout::from_size_align(u32::MAX as usize + 1, 8).unwrap();
    assert!(matches!(
        ctx.try_alloc_layout(huge, TypeTag(0)),
        Err(Error::InvalidLayout { .. })
    ));
    let over = Layout::from_size_align(8, 1 << 30).unwrap();
    assert!(matches!(
        ctx.try_alloc_layout(over, TypeTag(0)),
        Err(Error::InvalidLayout { .. })
    ));
    let n = usize::MAX / 4;
    assert!(matches!(
        ctx.try_alloc_slice_fill_with(n, |_| 0u32),
        Err(Error::InvalidLayout { .. })
    ));
    assert_eq!(ctx.stats().allocations, 0);
}

/// A size the 32-bit header field cannot hold is refused by `realloc` too,
/// leaving the object as it was (without allocating 4 GiB to find out).
#[test]
fn realloc_beyond_the_header_size_field_is_an_error() {
    let ctx = MorphContext::new();
    let p = ctx
        .try_alloc_layout(Layout::new::<[u8; 600]>(), TypeTag(3))
        .unwrap();
    // SAFETY: `p` is a live 600-byte object of `ctx`.
    unsafe { p.as_ptr().write_bytes(7, 600) };
    for size in [u32::MAX as usize + 1, usize::MAX / 2] {
        // SAFETY: `p` is live; on error it stays live.
        let r = unsafe { ctx.realloc(p, size) };
        assert!(matches!(r, Err(Error::InvalidLayout { .. })));
    }
    // SAFETY: `p` is still live and unchanged.
    let h = unsafe { ctx.header(p) };
    assert_eq!((h.size(), h.tag()), (600, TypeTag(3)));
    // SAFETY: as above.
    let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), 600) };
    assert!(bytes.iter().all(|&b| b == 7));
    assert_eq!(ctx.stats().live_objects, 1);
}

#[test]
fn arena_only_routes_everything_to_the_arena() {
    let ctx = Config::arena_only().build().unwrap();
    assert_eq!(ctx.routing(), Routing::ArenaOnly);
    let p = alloc(&ctx, 16, 8);
    // SAFETY: live object of `ctx`.
    assert!(unsafe { ctx.header(p) }.is_arena());
    let s = ctx.stats();
    assert_eq!(
        (s.pools.slabs, s.arena.live_objects, s.classes.len()),
        (0, 1, 0)
    );
}

#[test]
fn reset_frees_everything_and_keeps_memory() {
    let mut ctx = MorphContext::new();
    for i in 0..5000u32 {
        ctx.alloc(i);
        ctx.alloc([i; 100]);
    }
    let reserved = ctx.stats().bytes_reserved;
    ctx.reset();
    let s = ctx.stats();
    assert_eq!(
        (s.live_objects, s.live_bytes, s.allocations, s.resets),
        (0, 0, 0, 1)
    );
    assert_eq!(
        s.classes[0].stats.peak_carved, 5_000,
        "peaks survive a reset"
    );
    assert_eq!(s.peak_bytes_reserved, reserved);
    assert!(s.bytes_reserved < reserved && s.bytes_reserved > 0);
    let from_system = s.slabs.from_system;
    assert!(s.slabs.cached > 0 && s.pools.slabs == 0);
    ctx.alloc(1u32);
    let s = ctx.stats();
    assert_eq!(s.slabs.from_system, from_system, "a cached slab is reused");
    assert_eq!((s.pools.slabs, s.slabs.reused), (1, 1));
}

/// Regression: shrinking an arena object in place left the tail of its
/// block neither live nor dead in the statistics.
#[test]
fn shrinking_an_arena_object_counts_its_tail_as_dead() {
    let ctx = MorphContext::new();
    let a = alloc(&ctx, 2000, 8);
    let _b = alloc(&ctx, 2000, 8);
    // SAFETY: `a` is live; it shrinks in place (still an arena object).
    let a2 = unsafe { ctx.realloc(a, 1000) }.unwrap();
    assert_eq!(a2, a);
    // SAFETY: `a2` is live, freed once.
    unsafe { ctx.free(a2) };
    // The whole block: 16 bytes before the payload and 2000 after it.
    assert_eq!(ctx.stats().arena.dead_bytes, 2016);
}

#[test]
#[cfg(feature = "serde")]
fn report_json_has_the_breakdown() {
    let ctx = MorphContext::new();
    ctx.alloc_str("fun");
    ctx.alloc([0u8; 500]);
    let v: serde_json::Value = serde_json::from_str(&ctx.report_json()).unwrap();
    assert_eq!(v["live_objects"], 2);
    assert_eq!(v["header_bytes"], 16);
    assert_eq!(v["pools"]["live_payload_bytes"], 3);
    assert_eq!(v["arena"]["live_payload_bytes"], 500);
    assert_eq!(v["classes"][0]["slot_size"], 16);
    assert_eq!(v["classes"][0]["slack_bytes"], 5);
}

#[test]
fn context_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<MorphContext>();
    let ctx = MorphContext::new();
    let n = *ctx.alloc(5u8);
    let moved = std::thread::spawn(move || ctx.stats().live_objects)
        .join()
        .unwrap();
    assert_eq!((n, moved), (5, 1));
}

/// Regression: a closure that panicked inside `alloc_with` or
/// `alloc_slice_fill_with` left its object allocated (uninitialised, never
/// freed). The memory now goes back as the panic unwinds.
#[test]
fn a_panicking_constructor_gives_its_memory_back() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let ctx = MorphContext::new();
    let kept = ctx.alloc(1u64);
    let r = catch_unwind(AssertUnwindSafe(|| {
        ctx.alloc_with(|| -> [u64; 4] { panic!("no value") });
    }));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| {
        ctx.alloc_slice_fill_with(8, |i| if i < 5 { i } else { panic!("half built") });
    }));
    assert!(r.is_err());
    assert_eq!(*kept, 1);
    let s = ctx.stats();
    assert_eq!((s.live_objects, s.frees), (1, 2));

    let arena = morph_runtime::Arena::new();
    arena.alloc(2u64); // 8-aligned, so the slice below needs no padding
    let used = arena.stats().bytes_used;
    let r = catch_unwind(AssertUnwindSafe(|| {
        arena.alloc_slice_fill_with(100, |i| if i < 50 { i as u64 } else { panic!() });
    }));
    assert!(r.is_err());
    assert_eq!(
        arena.stats().bytes_used,
        used,
        "the last allocation was reclaimed"
    );
}
