//! Reuse in the shape of a chess move generator: make 30 moves, undo them all,
//! make 30 again: the same slots come back and no slab is added.

use morph_runtime::{MorphContext, TypeTag};
use std::alloc::Layout;
use std::collections::BTreeSet;

const MOVE: TypeTag = TypeTag(1);

/// A move: from, to, piece, captured, flags, score (12 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
struct Move {
    from: u8,
    to: u8,
    piece: u8,
    captured: u8,
    flags: u32,
    score: i32,
}

const _: () = assert!(std::mem::size_of::<Move>() == 12);

fn generate(ctx: &MorphContext, n: u8) -> Vec<std::ptr::NonNull<u8>> {
    (0..n)
        .map(|i| {
            let p = ctx.alloc_layout(Layout::new::<Move>(), MOVE);
            let m = Move {
                from: i,
                to: i + 8,
                piece: 1,
                captured: 0,
                flags: 0,
                score: i as i32,
            };
            // SAFETY: fresh memory sized and aligned for a Move.
            unsafe { p.cast::<Move>().write(m) };
            p
        })
        .collect()
}

#[test]
fn undone_moves_come_back_in_the_same_slots() {
    let ctx = MorphContext::new();
    let first = generate(&ctx, 30);
    let class = ctx
        .stats()
        .classes
        .iter()
        .position(|c| c.stats.live == 30)
        .unwrap();
    assert_eq!(
        ctx.stats().classes[class].stats.slot_size,
        24,
        "12 + 8 bytes land in 24"
    );
    let slabs = ctx.stats().pools.slabs;
    for &p in first.iter().rev() {
        // SAFETY: each move is live and undone once.
        unsafe { ctx.free(p) };
    }
    let second = generate(&ctx, 30);
    let a: BTreeSet<_> = first.iter().collect();
    let b: BTreeSet<_> = second.iter().collect();
    assert_eq!(a, b, "the same 30 addresses come back");
    assert_eq!(
        second, first,
        "LIFO: undone in reverse, handed out in order"
    );
    let s = ctx.stats();
    assert_eq!(s.pools.slabs, slabs, "no new slab");
    assert_eq!(s.classes[class].stats.reuses, 30);
    assert_eq!(s.classes[class].stats.carved, 30);
}
