//! Instruction-count probe: `alloc_ops MODE N` performs N operations of one
//! kind and prints a checksum of the pointers, so that
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/alloc_ops MODE 100000
//! valgrind --tool=callgrind target/release/examples/alloc_ops MODE 200000
//! ```
//!
//! give, by difference / 100,000, a machine-independent count of
//! instructions per operation (loop included). `scripts/alloc_ops.sh` does it
//! for every mode.
//!
//! Modes: `noop` (the loop alone), `arena` (24-byte arena allocations),
//! `ctx-alloc` (24-byte payloads through the context, never freed),
//! `ctx-pair` (alloc then free, 24 bytes), `pool-pair` (alloc then free on a
//! 32-byte slab pool), `bump` (bumpalo, 24 bytes), `malloc-pair` (system
//! allocator alloc + free, 24 bytes), `mimalloc-pair` (mimalloc called
//! directly).

use morph_runtime::{Arena, MorphContext, SlabPool, TypeTag};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::ExitCode;

const MODES: &str = "noop arena ctx-alloc ctx-pair pool-pair bump malloc-pair mimalloc-pair";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: alloc_ops MODE N   (MODE: {MODES})");
        return ExitCode::from(2);
    };
    match run(mode, n) {
        Some(sum) => {
            println!("{mode} {n} checksum {sum:x}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("alloc_ops: unknown mode '{mode}' (expected one of: {MODES})");
            ExitCode::from(2)
        }
    }
}

const LAYOUT: Layout = match Layout::from_size_align(24, 8) {
    Ok(l) => l,
    Err(_) => panic!("valid layout"),
};

/// Runs `n` operations; the checksum folds in every pointer (through
/// `black_box`) so no operation can be optimised away. The layout is a
/// constant, as it is for a typed allocation in real code.
#[inline(never)]
fn run(mode: &str, n: u64) -> Option<u64> {
    let mut sum = 0u64;
    let mut fold = |p: *mut u8| sum = sum.wrapping_add(black_box(p) as u64);
    match mode {
        "noop" => {
            for i in 0..n {
                fold(i as *mut u8);
            }
        }
        "arena" => {
            let arena = Arena::new();
            for _ in 0..n {
                fold(arena.alloc_layout(LAYOUT).as_ptr());
            }
        }
        "ctx-alloc" => {
            let ctx = MorphContext::new();
            for _ in 0..n {
                fold(ctx.alloc_layout(LAYOUT, TypeTag(1)).as_ptr());
            }
        }
        "ctx-pair" => {
            let ctx = MorphContext::new();
            for _ in 0..n {
                let p = ctx.alloc_layout(LAYOUT, TypeTag(1));
                fold(p.as_ptr());
                // SAFETY: `p` was just allocated by `ctx` and is not used again.
                unsafe { ctx.free(black_box(p)) };
            }
        }
        "pool-pair" => {
            let pool = SlabPool::new(32).unwrap();
            for _ in 0..n {
                let p = pool.alloc().unwrap();
                fold(p.as_ptr());
                // SAFETY: `p` was just allocated by `pool` and is not used again.
                unsafe { pool.free(black_box(p)) };
            }
        }
        "bump" => {
            let bump = bumpalo::Bump::new();
            for _ in 0..n {
                fold(bump.alloc_layout(LAYOUT).as_ptr());
            }
        }
        "malloc-pair" => {
            for _ in 0..n {
                // SAFETY: LAYOUT has a non-zero size; the pointer is freed
                // with the same layout and not used again.
                unsafe {
                    let p = System.alloc(LAYOUT);
                    fold(p);
                    System.dealloc(black_box(p), LAYOUT);
                }
            }
        }
        "mimalloc-pair" => {
            let mi = mimalloc::MiMalloc;
            for _ in 0..n {
                // SAFETY: as for malloc-pair.
                unsafe {
                    let p = mi.alloc(LAYOUT);
                    fold(p);
                    mi.dealloc(black_box(p), LAYOUT);
                }
            }
        }
        _ => return None,
    }
    Some(sum)
}
