//! Loom model tests of the lock-free free list: every interleaving of a few
//! threads is explored, and loom's checked cells report any access to a slot
//! that is not ordered after the previous owner's free.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p morph-runtime --release --test loom`.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use morph_runtime::pool::AtomicFreeList;

struct Slots(Vec<UnsafeCell<u64>>);
// SAFETY: a slot is touched only by the thread that holds its index; that is
// exactly what the model checks.
unsafe impl Sync for Slots {}
// SAFETY: as above.
unsafe impl Send for Slots {}

fn worker(list: &AtomicFreeList, slots: &Slots, id: u64, rounds: usize) {
    for _ in 0..rounds {
        if let Some(i) = list.pop() {
            let cell = &slots.0[i as usize];
            // SAFETY: we hold index `i`; loom checks no one else touches it.
            cell.with_mut(|p| unsafe { *p = id });
            // SAFETY: as above.
            cell.with(|p| assert_eq!(unsafe { *p }, id));
            assert!(list.push(i));
        }
    }
}

fn model(threads: u64, capacity: usize, rounds: usize) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        let list = Arc::new(AtomicFreeList::new(capacity).unwrap());
        let slots = Arc::new(Slots((0..capacity).map(|_| UnsafeCell::new(0)).collect()));
        let handles: Vec<_> = (1..threads)
            .map(|id| {
                let (list, slots) = (list.clone(), slots.clone());
                thread::spawn(move || worker(&list, &slots, id, rounds))
            })
            .collect();
        worker(&list, &slots, 0, rounds);
        for h in handles {
            h.join().unwrap();
        }
        // Every index came back: all can be taken again, and no more.
        let taken: Vec<u32> = (0..capacity).filter_map(|_| list.pop()).collect();
        assert_eq!(taken.len(), capacity);
        assert_eq!(list.pop(), None);
    });
}

#[test]
fn two_threads_one_slot() {
    model(2, 1, 2);
}

#[test]
fn two_threads_two_slots() {
    model(2, 2, 2);
}

#[test]
fn three_threads_two_slots() {
    model(3, 2, 1);
}
