//! 1,000 objects of mixed sizes, half freed in a shuffled order, 200 more:
//! every live object stays distinct, aligned and intact.

use crate::util::{Obj, Rng, check_objects, scaled};
use morph_runtime::{Config, Header, MorphContext, SizeClasses, TypeTag};
use std::alloc::Layout;

fn torture(ctx: &MorphContext, seed: u64) {
    let mut rng = Rng::new(seed);
    let (first, freed, more) = (scaled(1000, 120), scaled(500, 60), scaled(200, 24));
    let mut objs = Vec::new();
    let alloc = |rng: &mut Rng, objs: &mut Vec<Obj>| {
        // Mostly small (pools), some large (arena), some over-aligned.
        let size = match rng.below(10) {
            0 => 300 + rng.below(3000),
            1 => rng.below(8),
            _ => 1 + rng.below(240),
        };
        let max_shift = if rng.below(8) == 0 { 9 } else { 4 };
        let align = 1 << rng.below(max_shift);
        let layout = Layout::from_size_align(size, align).unwrap();
        let ptr = ctx
            .try_alloc_layout(layout, TypeTag(objs.len() as u16))
            .unwrap();
        let o = Obj {
            ptr,
            size,
            align,
            pattern: (objs.len() % 251) as u8 + 1,
            tag: 0,
        };
        o.fill();
        objs.push(o);
    };
    for _ in 0..first {
        alloc(&mut rng, &mut objs);
    }
    check_objects(&objs, Header::SIZE);
    rng.shuffle(&mut objs);
    for o in objs.drain(..freed) {
        // SAFETY: every object is live and freed exactly once.
        unsafe { ctx.free(o.ptr) };
    }
    check_objects(&objs, Header::SIZE);
    for _ in 0..more {
        alloc(&mut rng, &mut objs);
    }
    check_objects(&objs, Header::SIZE);
    let s = ctx.stats();
    assert_eq!(s.live_objects, first - freed + more);
    assert_eq!(s.live_bytes, objs.iter().map(|o| o.size).sum::<usize>());
    assert_eq!(s.pools.live_objects + s.arena.live_objects, s.live_objects);
    assert!(
        s.classes.iter().any(|c| c.stats.reuses > 0),
        "freed slots were reused"
    );
}

#[test]
fn torture_default_classes() {
    torture(&MorphContext::new(), 1);
}

#[test]
fn torture_fine_classes_small_slabs() {
    let ctx = Config::compiler()
        .with_size_classes(SizeClasses::fine())
        .with_slab_size(4096)
        .with_chunk_sizes(256, 8192)
        .build()
        .unwrap();
    torture(&ctx, 2);
}

#[test]
fn torture_tight_classes() {
    let ctx = Config::compiler()
        .with_size_classes(SizeClasses::tight())
        .with_slab_size(4096)
        .build()
        .unwrap();
    torture(&ctx, 4);
}

#[test]
fn torture_arena_only() {
    let ctx = Config::arena_only().build().unwrap();
    let mut rng = Rng::new(3);
    let mut objs = Vec::new();
    for i in 0..scaled(500, 60) {
        let size = rng.below(500);
        let ptr = ctx
            .try_alloc_layout(Layout::from_size_align(size, 8).unwrap(), TypeTag(0))
            .unwrap();
        let o = Obj {
            ptr,
            size,
            align: 8,
            pattern: (i % 200) as u8 + 1,
            tag: 0,
        };
        o.fill();
        objs.push(o);
    }
    check_objects(&objs, Header::SIZE);
    assert_eq!(ctx.stats().pools.slabs, 0, "arena-only never makes a slab");
}
