//! Allocation benches: morph (arena, slab pool, context) against bumpalo,
//! the system allocator (glibc malloc/free through `std::alloc::System`) and
//! mimalloc (called directly, not installed as the global allocator), all in
//! the same run. Arenas are reused with `reset()` between iterations; inputs
//! and results go through `black_box`; only the work named is timed.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morph_runtime::{Arena, MorphContext, SlabPool, TypeTag};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

const TAG: TypeTag = TypeTag(1);

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// Objects allocated per timed batch in the alloc-only group.
const BATCH: usize = 1000;

/// 1. Allocation only: a batch of `BATCH` objects of one size, then the
///    memory is given back untimed (reset, or frees).
fn alloc_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_only");
    group.throughput(Throughput::Elements(BATCH as u64));
    for size in [16usize, 24, 48, 100, 200] {
        let l = layout(size);
        let mut arena = Arena::new();
        group.bench_with_input(BenchmarkId::new("morph_arena", size), &l, |b, &l| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        black_box(arena.alloc_layout(black_box(l)));
                    }
                    total += start.elapsed();
                    arena.reset();
                }
                total
            })
        });
        let mut ctx = MorphContext::new();
        group.bench_with_input(BenchmarkId::new("morph_context", size), &l, |b, &l| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        black_box(ctx.alloc_layout(black_box(l), TAG));
                    }
                    total += start.elapsed();
                    ctx.reset();
                }
                total
            })
        });
        let mut bump = bumpalo::Bump::new();
        group.bench_with_input(BenchmarkId::new("bumpalo", size), &l, |b, &l| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        black_box(bump.alloc_layout(black_box(l)));
                    }
                    total += start.elapsed();
                    bump.reset();
                }
                total
            })
        });
        group.bench_with_input(BenchmarkId::new("system", size), &l, |b, &l| {
            b.iter_custom(|iters| timed_then_freed(iters, l, &System))
        });
        group.bench_with_input(BenchmarkId::new("mimalloc", size), &l, |b, &l| {
            b.iter_custom(|iters| timed_then_freed(iters, l, &mimalloc::MiMalloc))
        });
    }
    group.finish();
}

/// Times `BATCH` allocations, frees them untimed.
fn timed_then_freed(iters: u64, l: Layout, a: &dyn GlobalAlloc) -> Duration {
    let mut ptrs = Vec::with_capacity(BATCH);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        for _ in 0..BATCH {
            // SAFETY: `l` has a non-zero size; freed below with the same layout.
            ptrs.push(black_box(unsafe { a.alloc(black_box(l)) }));
        }
        total += start.elapsed();
        for p in ptrs.drain(..) {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { a.dealloc(p, l) };
        }
    }
    total
}

/// An allocator that can free: the shape the pair/batch/reuse groups share.
trait Freeing {
    fn get(&self, l: Layout) -> NonNull<u8>;
    /// # Safety
    /// `p` came from `get` with `l` and is not used again.
    unsafe fn put(&self, p: NonNull<u8>, l: Layout);
}

impl Freeing for MorphContext {
    #[inline(always)]
    fn get(&self, l: Layout) -> NonNull<u8> {
        self.try_alloc_layout(l, TAG).unwrap()
    }
    #[inline(always)]
    unsafe fn put(&self, p: NonNull<u8>, _l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.free(p) }
    }
}

/// A slab pool serving one size: the context's pools without header or
/// routing.
struct Pool(SlabPool);

impl Freeing for Pool {
    #[inline(always)]
    fn get(&self, _l: Layout) -> NonNull<u8> {
        self.0.alloc().unwrap()
    }
    #[inline(always)]
    unsafe fn put(&self, p: NonNull<u8>, _l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.free(p) }
    }
}

struct Global<A: GlobalAlloc>(A);

impl<A: GlobalAlloc> Freeing for Global<A> {
    #[inline(always)]
    fn get(&self, l: Layout) -> NonNull<u8> {
        // SAFETY: every layout used here has a non-zero size.
        NonNull::new(unsafe { self.0.alloc(l) }).unwrap()
    }
    #[inline(always)]
    unsafe fn put(&self, p: NonNull<u8>, l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.dealloc(p.as_ptr(), l) }
    }
}

fn freeing_allocators(size: usize) -> Vec<(&'static str, Box<dyn Freeing>)> {
    let slot = size.next_multiple_of(16);
    vec![
        ("morph_context", Box::new(MorphContext::new())),
        ("morph_pool", Box::new(Pool(SlabPool::new(slot).unwrap()))),
        ("system", Box::new(Global(System))),
        ("mimalloc", Box::new(Global(mimalloc::MiMalloc))),
    ]
}

/// 2. A hot alloc + free pair, 64 bytes.
fn hot_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("hot_pair_64");
    group.throughput(Throughput::Elements(1));
    let l = layout(64);
    for (name, a) in freeing_allocators(64) {
        group.bench_function(name, |b| {
            b.iter(|| {
                let p = a.get(black_box(l));
                // SAFETY: `p` came from `a` with `l`.
                unsafe { a.put(black_box(p), l) };
            })
        });
    }
    group.finish();
}

/// 3. Batch: 50,000 allocations of 64 bytes, then free them all.
fn batch(c: &mut Criterion) {
    const N: usize = 50_000;
    let mut group = c.benchmark_group("batch_50k_64");
    group.throughput(Throughput::Elements(N as u64));
    let l = layout(64);
    let mut ptrs = Vec::with_capacity(N);
    for (name, a) in freeing_allocators(64) {
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..N {
                    ptrs.push(a.get(black_box(l)));
                }
                for p in ptrs.drain(..) {
                    // SAFETY: each came from `a` with `l`, freed once.
                    unsafe { a.put(black_box(p), l) };
                }
            })
        });
    }
    let mut bump = bumpalo::Bump::new();
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            for _ in 0..N {
                black_box(bump.alloc_layout(black_box(l)));
            }
            bump.reset();
        })
    });
    group.finish();
}

/// 4. Reuse: 1,000 rounds of (alloc 100 objects, free the 100).
fn reuse(c: &mut Criterion) {
    const ROUNDS: usize = 1000;
    const N: usize = 100;
    let mut group = c.benchmark_group("reuse_1000x100_48");
    group.throughput(Throughput::Elements((ROUNDS * N) as u64));
    let l = layout(48);
    let mut ptrs = Vec::with_capacity(N);
    for (name, a) in freeing_allocators(48) {
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..ROUNDS {
                    for _ in 0..N {
                        ptrs.push(a.get(black_box(l)));
                    }
                    for p in ptrs.drain(..) {
                        // SAFETY: each came from `a` with `l`, freed once.
                        unsafe { a.put(black_box(p), l) };
                    }
                }
            })
        });
    }
    group.finish();
}

/// 5. Hybrid: 30,000 objects of 32 bytes and 10,000 of 512, interleaved
///    (three small, one large), then all given back.
fn hybrid(c: &mut Criterion) {
    let mut group = c.benchmark_group("hybrid_30k32_10k512");
    group.throughput(Throughput::Elements(40_000));
    let (small, large) = (layout(32), layout(512));
    let mut ctx = MorphContext::new();
    group.bench_function("morph_context", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                for _ in 0..10_000 {
                    for _ in 0..3 {
                        black_box(ctx.alloc_layout(black_box(small), TAG));
                    }
                    black_box(ctx.alloc_layout(black_box(large), TAG));
                }
                ctx.reset();
                total += start.elapsed();
            }
            total
        })
    });
    let mut bump = bumpalo::Bump::new();
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            for _ in 0..10_000 {
                for _ in 0..3 {
                    black_box(bump.alloc_layout(black_box(small)));
                }
                black_box(bump.alloc_layout(black_box(large)));
            }
            bump.reset();
        })
    });
    let mut ptrs = Vec::with_capacity(40_000);
    for (name, a) in [
        ("system", Box::new(Global(System)) as Box<dyn Freeing>),
        ("mimalloc", Box::new(Global(mimalloc::MiMalloc))),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..10_000 {
                    for _ in 0..3 {
                        ptrs.push((a.get(black_box(small)), small));
                    }
                    ptrs.push((a.get(black_box(large)), large));
                }
                for (p, l) in ptrs.drain(..) {
                    // SAFETY: each came from `a` with `l`, freed once.
                    unsafe { a.put(p, l) };
                }
            })
        });
    }
    group.finish();
}

/// 6. Reset after 10,000 allocations of 48 bytes (only the reset is timed).
fn reset(c: &mut Criterion) {
    let mut group = c.benchmark_group("reset_after_10k");
    let l = layout(48);
    let mut ctx = MorphContext::new();
    group.bench_function("morph_context", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..10_000 {
                    black_box(ctx.alloc_layout(l, TAG));
                }
                let start = Instant::now();
                ctx.reset();
                total += start.elapsed();
            }
            total
        })
    });
    let mut arena = Arena::new();
    group.bench_function("morph_arena", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..10_000 {
                    black_box(arena.alloc_layout(l));
                }
                let start = Instant::now();
                arena.reset();
                total += start.elapsed();
            }
            total
        })
    });
    let mut bump = bumpalo::Bump::new();
    group.bench_function("bumpalo", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..10_000 {
                    black_box(bump.alloc_layout(l));
                }
                let start = Instant::now();
                bump.reset();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, alloc_only, hot_pair, batch, reuse, hybrid, reset);
criterion_main!(benches);
