//! A long run of alloc/free cycles over a bounded live set of mixed sizes
//! ends with as many slabs as the first round needed.

use crate::util::{Rng, scaled};
use morph_runtime::{MorphContext, TypeTag};
use std::alloc::Layout;
use std::ptr::NonNull;

#[test]
fn bounded_live_set_needs_no_new_slabs() {
    let ctx = MorphContext::new();
    let mut rng = Rng::new(42);
    const LIVE: usize = 256;
    let sizes = [8usize, 20, 40, 100, 200];
    let mut live: Vec<Option<NonNull<u8>>> = vec![None; LIVE];
    let mut slot_sizes = vec![0usize; LIVE];
    // Each live-set position keeps its size, so the per-class live count is
    // bounded by the number of positions of that size.
    for (i, s) in slot_sizes.iter_mut().enumerate() {
        *s = sizes[i % sizes.len()];
    }
    let cycle = |rng: &mut Rng, live: &mut Vec<Option<NonNull<u8>>>| {
        let i = rng.below(LIVE);
        if let Some(p) = live[i].take() {
            // SAFETY: `p` is live and freed once.
            unsafe { ctx.free(p) };
        }
        let layout = Layout::from_size_align(slot_sizes[i], 8).unwrap();
        let p = ctx.alloc_layout(layout, TypeTag(i as u16));
        // SAFETY: fresh object of at least 8 bytes.
        unsafe { p.as_ptr().write_bytes(i as u8, slot_sizes[i]) };
        live[i] = Some(p);
    };
    for _ in 0..LIVE * 8 {
        cycle(&mut rng, &mut live);
    }
    let after_first_round = ctx.stats().pools.slabs;
    let peaks: Vec<usize> = ctx
        .stats()
        .classes
        .iter()
        .map(|c| c.stats.peak_carved)
        .collect();
    for _ in 0..scaled(1_000_000, 5_000) {
        cycle(&mut rng, &mut live);
    }
    let s = ctx.stats();
    assert_eq!(s.pools.slabs, after_first_round);
    for (c, &before) in s.classes.iter().zip(&peaks) {
        assert!(c.stats.peak_carved >= before);
        assert!(c.stats.peak_carved <= LIVE.div_ceil(sizes.len()), "{c:?}");
    }
    assert!(s.live_objects <= LIVE);
}
