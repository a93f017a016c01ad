//! The lock-free pools under real threads: no slot is ever held by two
//! threads at once, and every slot comes back.

use crate::util::scaled;
use morph_runtime::pool::{SharedPool, StaticPool};
use std::sync::atomic::{AtomicBool, Ordering};

/// Each thread allocates, writes its id, spins a little, checks its id is
/// still there, and frees: a slot handed to two threads would show another
/// thread's id.
fn hammer<'p>(
    alloc: impl Fn(u64) -> Option<Box<dyn FnOnce() -> u64 + 'p>> + Sync,
    threads: u64,
    rounds: usize,
) {
    let clash = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (alloc, clash) = (&alloc, &clash);
            s.spawn(move || {
                for _ in 0..rounds {
                    if let Some(read_back) = alloc(t) {
                        std::hint::spin_loop();
                        if read_back() != t {
                            clash.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    assert!(
        !clash.load(Ordering::Relaxed),
        "a slot was held by two threads"
    );
}

#[test]
fn shared_pool_stress() {
    let pool = SharedPool::new(4).unwrap();
    let (threads, rounds) = (4, scaled(20_000, 50));
    hammer(
        |t| {
            let b = pool.alloc([t; 4]).ok()?;
            Some(Box::new(move || {
                let v = *b;
                assert!(v.iter().all(|&x| x == v[0]));
                v[0]
            }))
        },
        threads,
        rounds,
    );
    let s = pool.stats();
    assert_eq!(s.allocations, s.frees, "every slot came back");
    assert!(s.allocations > 0 && s.carved <= 4);
}

static POOL: StaticPool<u64, 3> = StaticPool::new();

#[test]
fn static_pool_stress() {
    let (threads, rounds) = (3, scaled(20_000, 50));
    hammer(
        |t| {
            let b = POOL.alloc(t).ok()?;
            Some(Box::new(move || *b))
        },
        threads,
        rounds,
    );
    let s = POOL.stats();
    assert_eq!(s.allocations, s.frees);
}
