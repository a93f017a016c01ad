//! The lock-free `SharedPool` against a `Mutex<Vec<T>>` pool: alloc + free
//! pairs of a 64-byte object, with 1 and 2 threads hammering one pool.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morph_benches::MutexPool;
use morph_runtime::pool::SharedPool;
use std::hint::black_box;
use std::time::{Duration, Instant};

type Payload = [u64; 8];

/// Runs `op` `iters` times on each of `threads` threads; returns the wall
/// time, so criterion reports time per pair per thread.
fn on_threads(threads: usize, iters: u64, op: &(dyn Fn(u64) + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for i in 0..iters {
                    op(i);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared_pool_pair");
    group.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        let shared = SharedPool::new(64).unwrap();
        group.bench_with_input(
            BenchmarkId::new("morph_shared", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    on_threads(t, iters, &|i| {
                        let v = shared.alloc(black_box([i; 8])).unwrap();
                        black_box(&*v);
                    })
                })
            },
        );
        let mutex: MutexPool<Box<Payload>> = MutexPool::new(64, || Box::new([0; 8]));
        group.bench_with_input(BenchmarkId::new("mutex_vec", threads), &threads, |b, &t| {
            b.iter_custom(|iters| {
                on_threads(t, iters, &|i| {
                    let mut v = mutex.take().unwrap();
                    *v = black_box([i; 8]);
                    black_box(&*v);
                    mutex.give(v);
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
