//! The lock-free pool against a model, with a deterministic schedule: three
//! worker threads execute generated steps one at a time, so every run of a
//! case is the same interleaving, while allocations and frees really happen
//! on different threads (and so in different shards of the free list).

use crate::util::scaled;
use morph_runtime::pool::{SharedBox, SharedPool};
use proptest::prelude::*;
use std::sync::mpsc;

enum Cmd<'p> {
    Alloc(u64),
    Free(SharedBox<'p, u64>),
}

#[derive(Clone, Debug)]
enum Step {
    Alloc { thread: usize, value: u64 },
    Free { thread: usize, index: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, any::<u64>()).prop_map(|(thread, value)| Step::Alloc { thread, value }),
        (0..3usize, any::<usize>()).prop_map(|(thread, index)| Step::Free { thread, index }),
    ]
}

fn run(capacity: usize, steps: &[Step]) {
    let pool: SharedPool<u64> = SharedPool::new(capacity).unwrap();
    std::thread::scope(|s| {
        let mut to_workers = Vec::new();
        let (reply_tx, replies) = mpsc::channel::<Option<SharedBox<'_, u64>>>();
        for _ in 0..3 {
            let (tx, rx) = mpsc::channel::<Cmd<'_>>();
            let (pool, reply) = (&pool, reply_tx.clone());
            s.spawn(move || {
                for cmd in rx {
                    match cmd {
                        Cmd::Alloc(v) => reply.send(pool.alloc(v).ok()).unwrap(),
                        Cmd::Free(b) => {
                            drop(b);
                            reply.send(None).unwrap();
                        }
                    }
                }
            });
            to_workers.push(tx);
        }
        let mut model: Vec<(SharedBox<'_, u64>, u64)> = Vec::new();
        for st in steps {
            match *st {
                Step::Alloc { thread, value } => {
                    to_workers[thread].send(Cmd::Alloc(value)).unwrap();
                    match replies.recv().unwrap() {
                        Some(b) => model.push((b, value)),
                        None => assert_eq!(model.len(), capacity, "refused with free slots left"),
                    }
                }
                Step::Free { thread, index } if !model.is_empty() => {
                    let (b, _) = model.swap_remove(index % model.len());
                    to_workers[thread].send(Cmd::Free(b)).unwrap();
                    replies.recv().unwrap();
                }
                Step::Free { .. } => {}
            }
            let mut addrs: Vec<usize> = model
                .iter()
                .map(|(b, _)| &**b as *const u64 as usize)
                .collect();
            addrs.sort_unstable();
            addrs.dedup();
            assert_eq!(addrs.len(), model.len(), "a slot is held twice");
            for (b, v) in &model {
                assert_eq!(**b, *v, "a value was overwritten");
            }
            let stats = pool.stats();
            assert_eq!(stats.allocations - stats.frees, model.len() as u64);
            assert!(stats.carved <= capacity);
        }
        drop(model);
        drop(to_workers);
    });
    let stats = pool.stats();
    assert_eq!(stats.allocations, stats.frees);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 128 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn shared_pool_matches_model(capacity in 1usize..6, steps in prop::collection::vec(step(), 1..scaled(200, 12))) {
        run(capacity, &steps);
    }
}
