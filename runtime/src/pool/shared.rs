//! Lock-free pools: any thread may allocate and free.
//!
//! The core is a Treiber stack of slot *indices*, sharded: each thread has a
//! home shard (given round-robin on first use), frees into it and allocates
//! from it first, then from never-used slots, then by stealing from the other
//! shards; so threads that free what they allocate share no cache line. Each
//! shard's head packs a 32-bit
//! generation tag and a 32-bit index into one `AtomicU64`; every successful
//! push or pop bumps the tag, so a compare-and-swap that read a stale head
//! fails even if the same index is back on top.
//!
//! **The bound this gives (ABA).** A stale compare-and-swap can only succeed
//! if, between one thread's load of a shard's head and its CAS, the tag
//! wrapped around exactly: a multiple of 2^32 (4.29 billion) successful
//! operations on that one shard, ending with the same index on top. At 100
//! million operations a second on one shard, that needs the thread to stall
//! for 43 seconds at exactly that point of the loop and the shard to be in
//! the same state when it resumes. The tag stays 32 bits because the index
//! needs the other 32 and a 128-bit compare-and-swap is not portable; the
//! pools accept this bound. Each slot's `next` link is an `AtomicU32`, so a
//! racing reader of a link that is being rewritten reads a stale value,
//! never undefined behaviour, and its CAS then fails. Fresh slots are carved
//! lazily by a CAS on a counter, so creating a pool touches no slot.
//!
//! Memory orderings (why each is enough):
//! - `push` writes the slot's link and then publishes it with a `Release`
//!   CAS on the head; everything the freeing thread did to the slot (its
//!   value's drop, any writes) happens-before that CAS.
//! - `pop` loads the head with `Acquire` (and a failed CAS reloads it with
//!   `Acquire`), so it sees the link and the slot's contents as the pusher
//!   left them; its successful CAS is `Acquire` for the same reason.
//! - The fresh-slot counter is `Relaxed`: a fresh slot has never been used,
//!   so there is nothing to synchronise with.
//! - The statistics counters are `Relaxed`: they order nothing.
//!
//! [`SharedPool<T>`] keeps its slots on the heap; [`StaticPool<T, N>`] keeps
//! them inline, has a `const fn new`, and can be a `static`. Memory is never
//! returned to the system while a pool lives.

use crate::boxed::Rejected;
use crate::error::{ConfigError, Error};
use crate::fallible::try_vec_from_fn;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

// Indices are u32 and used as `usize`: the widening must be lossless.
const _: () = assert!(usize::BITS >= u32::BITS);

/// The index meaning "no slot".
const NIL: u32 = u32::MAX;
/// Most slots a lock-free pool may have.
pub(crate) const MAX_SHARED_CAPACITY: usize = (u32::MAX - 1) as usize;

const fn pack(tag: u32, index: u32) -> u64 {
    ((tag as u64) << 32) | index as u64
}

const fn index_of(head: u64) -> u32 {
    // Keeping the low 32 bits is the point: they are the index.
    #[allow(clippy::cast_possible_truncation)]
    let index = head as u32;
    index
}

const fn tag_of(head: u64) -> u32 {
    (head >> 32) as u32
}

/// Statistics of a lock-free pool (read without stopping other threads, so
/// each figure is exact but they may be from slightly different moments).
///
/// ```
/// use morph_runtime::pool::SharedPool;
/// let pool = SharedPool::new(8).unwrap();
/// let a = pool.alloc(1u32).unwrap();
/// drop(a);
/// let s = pool.stats();
/// assert_eq!((s.capacity, s.carved, s.allocations, s.frees), (8, 1, 1, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SharedStats {
    /// Slots in the pool.
    pub capacity: usize,
    /// Slots ever handed out (the high-water mark of slots in use).
    pub carved: usize,
    /// Allocations so far.
    pub allocations: u64,
    /// Frees so far.
    pub frees: u64,
}

/// Keeps a value on its own pair of cache lines, so threads updating it do
/// not also bounce the lines of its neighbours (128 bytes: adjacent-line
/// prefetching pairs lines on common x86 parts).
#[repr(align(128))]
struct Padded<T>(T);

impl<T> Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Number of free-list shards. Each thread frees into its home shard and
/// allocates from it first, so threads that free what they allocate never
/// touch the same cache line.
const SHARDS: usize = 8;

/// One Treiber stack of free indices, and the counters of the threads whose
/// home it is.
struct Shard {
    /// `(tag << 32) | index` of the top free slot, `index == NIL` if none.
    head: AtomicU64,
    allocations: AtomicU64,
    frees: AtomicU64,
}

impl Shard {
    #[cfg(not(loom))]
    const fn new() -> Shard {
        Shard {
            head: AtomicU64::new(pack(0, NIL)),
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Shard {
        Shard {
            head: AtomicU64::new(pack(0, NIL)),
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
        }
    }

    /// Pops the top index, if any.
    fn pop(&self, links: &[AtomicU32]) -> Option<u32> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let index = index_of(head);
            if index == NIL {
                return None;
            }
            // Relaxed is enough: the Acquire load of `head` synchronised with
            // the Release CAS that published this link.
            let next = links[index as usize].load(Ordering::Relaxed);
            let new = pack(tag_of(head).wrapping_add(1), next);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Some(index),
                Err(current) => head = current,
            }
        }
    }

    /// Pushes `index` on top.
    fn push(&self, links: &[AtomicU32], index: u32) {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            links[index as usize].store(index_of(head), Ordering::Relaxed);
            let new = pack(tag_of(head).wrapping_add(1), index);
            // Release publishes the link and everything done to the slot.
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }
}

/// Adds one to a statistics counter. `Relaxed`: counters order nothing.
/// Under loom they are not kept: they are not part of the synchronisation
/// being checked, and long histories of relaxed stores trip an internal
/// assertion of loom's.
#[inline(always)]
fn count(counter: &AtomicU64) {
    #[cfg(not(loom))]
    counter.fetch_add(1, Ordering::Relaxed);
    #[cfg(loom)]
    let _ = counter;
}

/// The calling thread's home shard: given round-robin on first use.
#[cfg(all(not(loom), feature = "std"))]
fn home_shard() -> usize {
    use core::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) % SHARDS;
    }
    HOME.with(|h| *h)
}

/// Without the standard library there are no thread-locals: the home shard
/// comes from the address of the calling thread's stack, in 1 MiB units.
/// Threads' stacks lie apart, so threads mostly get different homes; two
/// that share one only contend more, since every thread may take from and
/// give to any shard.
#[cfg(all(not(loom), not(feature = "std")))]
fn home_shard() -> usize {
    let marker = 0u8;
    (core::ptr::from_ref(&marker).addr() >> 20) % SHARDS
}

/// Under loom, homes are handed out in the order model threads first ask,
/// from a counter that loom resets for every execution, so the model stays
/// deterministic while threads still get different shards and steal.
#[cfg(loom)]
fn home_shard() -> usize {
    loom::lazy_static! {
        static ref NEXT: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
    }
    loom::thread_local! {
        static HOME: core::cell::Cell<Option<usize>> = core::cell::Cell::new(None);
    }
    HOME.with(|h| match h.get() {
        Some(home) => home,
        None => {
            let home = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
            h.set(Some(home));
            home
        }
    })
}

/// The shared state of a free list: the shards and the fresh-slot counter,
/// each on its own cache lines.
struct ListCore {
    shards: [Padded<Shard>; SHARDS],
    /// Slots `fresh..capacity` were never handed out.
    fresh: Padded<AtomicU32>,
    capacity: u32,
}

impl ListCore {
    #[cfg(not(loom))]
    const fn new(capacity: u32) -> ListCore {
        ListCore {
            shards: [const { Padded(Shard::new()) }; SHARDS],
            fresh: Padded(AtomicU32::new(0)),
            capacity,
        }
    }

    #[cfg(loom)]
    fn new(capacity: u32) -> ListCore {
        ListCore {
            shards: core::array::from_fn(|_| Padded(Shard::new())),
            fresh: Padded(AtomicU32::new(0)),
            capacity,
        }
    }

    /// Takes a free index: from the home shard, else a fresh slot, else
    /// stolen from another shard.
    fn pop(&self, links: &[AtomicU32]) -> Option<u32> {
        let home = home_shard();
        let found = self.shards[home]
            .pop(links)
            .or_else(|| self.carve())
            .or_else(|| (1..SHARDS).find_map(|k| self.shards[(home + k) % SHARDS].pop(links)));
        if found.is_some() {
            count(&self.shards[home].allocations);
        }
        found
    }

    fn carve(&self) -> Option<u32> {
        let mut fresh = self.fresh.load(Ordering::Relaxed);
        while fresh < self.capacity {
            match self.fresh.compare_exchange_weak(
                fresh,
                fresh + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(fresh),
                Err(current) => fresh = current,
            }
        }
        None
    }

    /// Gives `index` back to the calling thread's home shard.
    fn push(&self, links: &[AtomicU32], index: u32) {
        let home = &self.shards[home_shard()];
        home.push(links, index);
        count(&home.frees);
    }

    fn stats(&self) -> SharedStats {
        let sum = |f: fn(&Shard) -> &AtomicU64| -> u64 {
            self.shards
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        SharedStats {
            capacity: self.capacity as usize,
            carved: self.fresh.load(Ordering::Relaxed) as usize,
            allocations: sum(|s| &s.allocations),
            frees: sum(|s| &s.frees),
        }
    }
}

/// `capacity` as the index type, once [`check_capacity`] has passed it.
fn capacity_u32(capacity: usize) -> Result<u32, ConfigError> {
    check_capacity(capacity)?;
    u32::try_from(capacity).map_err(|_| ConfigError::Capacity {
        capacity,
        max: MAX_SHARED_CAPACITY,
    })
}

fn check_capacity(capacity: usize) -> Result<(), ConfigError> {
    if capacity == 0 || capacity > MAX_SHARED_CAPACITY {
        return Err(ConfigError::Capacity {
            capacity,
            max: MAX_SHARED_CAPACITY,
        });
    }
    Ok(())
}

/// A lock-free allocator of the indices `0..capacity`: the building block of
/// the lock-free pools, usable for any storage of your own.
///
/// ```
/// use morph_runtime::pool::AtomicFreeList;
/// let list = AtomicFreeList::new(2).unwrap();
/// let (a, b) = (list.pop().unwrap(), list.pop().unwrap());
/// assert_eq!(list.pop(), None);
/// assert!(list.push(a));
/// assert_eq!(list.pop(), Some(a));
/// assert!(!list.push(7), "out of range");
/// # let _ = b;
/// ```
pub struct AtomicFreeList {
    core: ListCore,
    links: Vec<AtomicU32>,
    /// One bit per index, set while it is taken: `push` of an index that is
    /// not taken is refused, so a double push can neither hand an index out
    /// twice nor link it to itself (which made `pop` return it forever).
    /// The pools need no such map: their handles own their index.
    ///
    /// `Relaxed` suffices: the map guards against misuse and publishes no
    /// data. A legitimate push follows its pop in happens-before order, so
    /// its `fetch_and` comes after the pop's `fetch_or` in the word's
    /// modification order and sees the bit set.
    taken: Vec<AtomicU64>,
}

impl AtomicFreeList {
    /// Most slots a lock-free list or pool may have (indices are 32-bit,
    /// one value meaning "none").
    ///
    /// ```
    /// use morph_runtime::pool::AtomicFreeList;
    /// assert!(AtomicFreeList::new(AtomicFreeList::MAX_CAPACITY + 1).is_err());
    /// ```
    pub const MAX_CAPACITY: usize = MAX_SHARED_CAPACITY;

    /// A list of `capacity` indices, all free.
    ///
    /// ```
    /// assert!(morph_runtime::pool::AtomicFreeList::new(0).is_err());
    /// ```
    pub fn new(capacity: usize) -> Result<AtomicFreeList, Error> {
        Ok(AtomicFreeList {
            core: ListCore::new(capacity_u32(capacity)?),
            links: try_vec_from_fn(capacity, |_| AtomicU32::new(NIL))
                .map_err(crate::error::refused)?,
            taken: try_vec_from_fn(capacity.div_ceil(64), |_| AtomicU64::new(0))
                .map_err(crate::error::refused)?,
        })
    }

    /// A free index, or `None` when all are taken.
    ///
    /// ```
    /// let list = morph_runtime::pool::AtomicFreeList::new(1).unwrap();
    /// assert_eq!((list.pop(), list.pop()), (Some(0), None));
    /// ```
    pub fn pop(&self) -> Option<u32> {
        let index = self.core.pop(&self.links)?;
        let (word, bit) = Self::bit(index);
        // Relaxed: see `taken`.
        self.taken[word].fetch_or(bit, Ordering::Relaxed);
        Some(index)
    }

    /// Gives a taken `index` back. Returns `false`, and does nothing, if
    /// the index is out of range or not taken (never popped, or already
    /// given back), so a double push cannot corrupt the list.
    ///
    /// ```
    /// let list = morph_runtime::pool::AtomicFreeList::new(1).unwrap();
    /// let i = list.pop().unwrap();
    /// assert!(list.push(i));
    /// assert!(!list.push(i), "not taken any more");
    /// assert_eq!((list.pop(), list.pop()), (Some(i), None));
    /// ```
    pub fn push(&self, index: u32) -> bool {
        if index >= self.core.capacity {
            return false;
        }
        let (word, bit) = Self::bit(index);
        // Relaxed: see `taken`. Clearing the bit first means a second push
        // racing this one finds it clear and is refused.
        if self.taken[word].fetch_and(!bit, Ordering::Relaxed) & bit == 0 {
            return false;
        }
        self.core.push(&self.links, index);
        true
    }

    /// The word of `taken` and the bit in it for `index`.
    fn bit(index: u32) -> (usize, u64) {
        // Widening: `usize` holds every u32 (asserted at compile time).
        ((index / 64) as usize, 1 << (index % 64))
    }

    /// Statistics.
    ///
    /// ```
    /// let list = morph_runtime::pool::AtomicFreeList::new(3).unwrap();
    /// list.pop();
    /// assert_eq!(list.stats().carved, 1);
    /// ```
    pub fn stats(&self) -> SharedStats {
        self.core.stats()
    }
}

/// The storage of one value. The free-list links live in a separate array
/// of atomics: a link may be read by a thread racing for the slot, which
/// must never be a non-atomic read of memory the slot's owner is writing.
/// (Interleaving each link with its value was measured slower: 64-byte
/// values then straddle cache lines.)
#[repr(transparent)]
struct Cell<T>(UnsafeCell<MaybeUninit<T>>);

impl<T> Cell<T> {
    const fn new() -> Cell<T> {
        Cell(UnsafeCell::new(MaybeUninit::uninit()))
    }
}

/// The owner of one value in a lock-free pool: drops it and frees the slot
/// when dropped, from whichever thread it is on.
///
/// ```
/// use morph_runtime::pool::SharedPool;
/// let pool = SharedPool::new(4).unwrap();
/// let mut b = pool.alloc(vec![1]).unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || {
///         b.push(2);
///         assert_eq!(*b, [1, 2]);
///     }); // freed on this other thread
/// });
/// assert_eq!(pool.stats().frees, 1);
/// ```
///
/// A handle cannot outlive its pool:
///
/// ```compile_fail
/// let b = {
///     let pool = morph_runtime::pool::SharedPool::new(1).unwrap();
///     pool.alloc(1u8).unwrap()
/// };
/// ```
pub struct SharedBox<'p, T> {
    core: &'p ListCore,
    links: &'p [AtomicU32],
    cell: &'p Cell<T>,
    index: u32,
}

// SAFETY: a SharedBox is the unique owner of its value, like Box<T>: moving
// it to another thread moves the value (T: Send); the pool state it refers
// to is made of atomics, and it touches no other slot's value.
unsafe impl<T: Send> Send for SharedBox<'_, T> {}
// SAFETY: sharing a SharedBox only gives `&T` (T: Sync).
unsafe impl<T: Sync> Sync for SharedBox<'_, T> {}

impl<T> SharedBox<'_, T> {
    /// Moves the value out and frees the slot.
    ///
    /// ```
    /// let pool = morph_runtime::pool::SharedPool::new(1).unwrap();
    /// let b = pool.alloc(String::from("v")).unwrap();
    /// assert_eq!(morph_runtime::pool::SharedBox::into_inner(b), "v");
    /// ```
    pub fn into_inner(this: Self) -> T {
        let this = core::mem::ManuallyDrop::new(this);
        // SAFETY: the box owns an initialised value, read once; the box is
        // not dropped, so the value is not dropped twice.
        let value = unsafe { (*this.cell.0.get()).assume_init_read() };
        this.core.push(this.links, this.index);
        value
    }
}

impl<T> Deref for SharedBox<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns an initialised value; only the owner of the
        // index touches the cell.
        unsafe { (*self.cell.0.get()).assume_init_ref() }
    }
}

impl<T> DerefMut for SharedBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes the access unique.
        unsafe { (*self.cell.0.get()).assume_init_mut() }
    }
}

impl<T> Drop for SharedBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised value; after dropping it the
        // index is pushed (Release) and the cell never touched again by us.
        unsafe { (*self.cell.0.get()).assume_init_drop() };
        self.core.push(self.links, self.index);
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

fn alloc_in<'p, T>(
    core: &'p ListCore,
    links: &'p [AtomicU32],
    cells: &'p [Cell<T>],
    value: T,
) -> Result<SharedBox<'p, T>, Rejected<T>> {
    match core.pop(links) {
        Some(index) => {
            let cell = &cells[index as usize];
            // SAFETY: the index is ours alone until pushed back; the cell is
            // uninitialised (fresh, or its last value was dropped).
            unsafe { (*cell.0.get()).write(value) };
            Ok(SharedBox {
                core,
                links,
                cell,
                index,
            })
        }
        None => Err(Rejected {
            error: Error::CapacityExhausted {
                requested: 1,
                capacity: core.capacity as usize,
            },
            value,
        }),
    }
}

/// A lock-free pool of `T` with its slots on the heap. `Sync`: share it
/// (`&SharedPool`, an `Arc`) and allocate and free from any thread.
///
/// ```
/// use morph_runtime::pool::SharedPool;
/// let pool = SharedPool::new(64).unwrap();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let pool = &pool;
///         s.spawn(move || {
///             for i in 0..100 {
///                 let b = pool.alloc(t * 1000 + i).unwrap();
///                 assert_eq!(*b, t * 1000 + i);
///             }
///         });
///     }
/// });
/// assert_eq!(pool.stats().allocations, 400);
/// ```
pub struct SharedPool<T> {
    core: ListCore,
    links: Vec<AtomicU32>,
    cells: Vec<Cell<T>>,
}

// SAFETY: values move between threads through the pool (T: Send); all shared
// state is atomic, and a cell is touched only by the owner of its index.
unsafe impl<T: Send> Send for SharedPool<T> {}
// SAFETY: as for Send: `&SharedPool` only lets a thread take a free index
// (atomically) and own that cell's value; like `Mutex<T>`, T: Send suffices.
unsafe impl<T: Send> Sync for SharedPool<T> {}

impl<T> SharedPool<T> {
    /// A pool of `capacity` slots (1 to 2^32 - 2).
    ///
    /// ```
    /// assert!(morph_runtime::pool::SharedPool::<u8>::new(0).is_err());
    /// ```
    pub fn new(capacity: usize) -> Result<SharedPool<T>, Error> {
        let core = ListCore::new(capacity_u32(capacity)?);
        // More cells than any layout holds is a capacity to refuse, not
        // memory the system refused (it is never asked).
        if core::alloc::Layout::array::<Cell<T>>(capacity).is_err() {
            let per_cell = core::mem::size_of::<Cell<T>>().max(1);
            return Err(ConfigError::Capacity {
                capacity,
                max: MAX_SHARED_CAPACITY.min(isize::MAX as usize / per_cell),
            }
            .into());
        }
        // The cells first: they are the larger part, and a refusal there
        // costs nothing else.
        let cells = try_vec_from_fn(capacity, |_| Cell::new()).map_err(crate::error::refused)?;
        let links =
            try_vec_from_fn(capacity, |_| AtomicU32::new(NIL)).map_err(crate::error::refused)?;
        Ok(SharedPool { core, links, cells })
    }

    /// Moves `value` into a free slot; when none is free the value comes back
    /// in the error.
    ///
    /// ```
    /// let pool = morph_runtime::pool::SharedPool::new(1).unwrap();
    /// let _a = pool.alloc('a').unwrap();
    /// assert_eq!(pool.alloc('b').unwrap_err().value, 'b');
    /// ```
    pub fn alloc(&self, value: T) -> Result<SharedBox<'_, T>, Rejected<T>> {
        alloc_in(&self.core, &self.links, &self.cells, value)
    }

    /// Statistics.
    ///
    /// ```
    /// assert_eq!(morph_runtime::pool::SharedPool::<u8>::new(5).unwrap().stats().capacity, 5);
    /// ```
    pub fn stats(&self) -> SharedStats {
        self.core.stats()
    }
}

/// A lock-free pool of `N` values of `T` stored inline: no heap call ever.
/// `const fn new` makes it usable as a `static`, a struct field or a local.
///
/// ```
/// use morph_runtime::pool::StaticPool;
/// static MESSAGES: StaticPool<[u8; 32], 16> = StaticPool::new();
///
/// let m = MESSAGES.alloc([7; 32]).unwrap();
/// std::thread::spawn(move || assert_eq!(m[0], 7)).join().unwrap();
/// assert_eq!(MESSAGES.stats().frees, 1);
/// ```
#[cfg(not(loom))]
pub struct StaticPool<T, const N: usize> {
    core: ListCore,
    links: [AtomicU32; N],
    cells: [Cell<T>; N],
}

// SAFETY: as for SharedPool: values move between threads (T: Send), shared
// state is atomic, a cell belongs to the owner of its index.
#[cfg(not(loom))]
unsafe impl<T: Send, const N: usize> Send for StaticPool<T, N> {}
// SAFETY: as for SharedPool's Sync.
#[cfg(not(loom))]
unsafe impl<T: Send, const N: usize> Sync for StaticPool<T, N> {}

#[cfg(not(loom))]
impl<T, const N: usize> StaticPool<T, N> {
    /// An empty pool; evaluated at compile time for a `static`. The pool
    /// holds its `N` values inline: made as a local (or through `Default`),
    /// it lives on the stack, and a pool larger than the thread's stack
    /// overflows it, which aborts the process. Put large pools in a
    /// `static`, where they take no stack at all.
    ///
    /// ```
    /// let pool: morph_runtime::pool::StaticPool<u64, 4> = morph_runtime::pool::StaticPool::new();
    /// assert_eq!(pool.stats().capacity, 4);
    /// ```
    pub const fn new() -> StaticPool<T, N> {
        const {
            assert!(
                N >= 1 && N <= MAX_SHARED_CAPACITY,
                "capacity must be from 1 to 2^32 - 2"
            )
        };
        StaticPool {
            // `N <= MAX_SHARED_CAPACITY < u32::MAX`, asserted just above.
            #[allow(clippy::cast_possible_truncation)]
            core: ListCore::new(N as u32),
            links: [const { AtomicU32::new(NIL) }; N],
            cells: [const { Cell::new() }; N],
        }
    }

    /// Moves `value` into a free slot; when none is free the value comes back
    /// in the error.
    ///
    /// ```
    /// let pool: morph_runtime::pool::StaticPool<u8, 1> = morph_runtime::pool::StaticPool::new();
    /// let _a = pool.alloc(1).unwrap();
    /// assert!(pool.alloc(2).is_err());
    /// ```
    pub fn alloc(&self, value: T) -> Result<SharedBox<'_, T>, Rejected<T>> {
        alloc_in(&self.core, &self.links, &self.cells, value)
    }

    /// Statistics.
    ///
    /// ```
    /// let pool: morph_runtime::pool::StaticPool<u8, 3> = morph_runtime::pool::StaticPool::new();
    /// assert_eq!(pool.stats().carved, 0);
    /// ```
    pub fn stats(&self) -> SharedStats {
        self.core.stats()
    }
}

#[cfg(not(loom))]
impl<T, const N: usize> Default for StaticPool<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    /// Regression: a pool whose slots cannot be allocated aborted the
    /// process (`collect` on an infallible path); it is now an error.
    #[test]
    fn pools_too_large_for_memory_are_errors() {
        // More bytes than any layout holds: refused before the allocator
        // is asked (cheap everywhere, Miri included).
        let too_many = SharedPool::<[u64; 1 << 40]>::new(1 << 20).err();
        assert!(matches!(
            too_many,
            Some(Error::Config(ConfigError::Capacity { capacity, max }))
                if capacity == 1 << 20 && max < capacity
        ));
        // 4 TiB: the system refuses it (too much for Miri to attempt).
        #[cfg(not(miri))]
        assert!(matches!(
            SharedPool::<[u8; 1 << 20]>::new(1 << 22).err(),
            Some(Error::OutOfMemory { .. })
        ));
        let pool = SharedPool::<u64>::new(4).unwrap();
        assert_eq!(*pool.alloc(7).unwrap(), 7);
    }

    /// Regression: a double push linked the index to itself, so `pop`
    /// returned it forever. It is now refused.
    #[test]
    fn double_push_is_refused() {
        let list = AtomicFreeList::new(3).unwrap();
        let a = list.pop().unwrap();
        assert!(!list.push(1), "never popped");
        assert!(list.push(a));
        assert!(!list.push(a), "already given back");
        let mut got: Vec<u32> = core::iter::from_fn(|| list.pop()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2], "each index once, then none");
    }

    #[test]
    fn tags_change_on_every_operation() {
        let list = AtomicFreeList::new(2).unwrap();
        let a = list.pop().unwrap();
        list.push(a);
        let home = &list.core.shards[home_shard()];
        let h1 = home.head.load(Ordering::Relaxed);
        assert_eq!(list.pop(), Some(a));
        list.push(a);
        let h2 = home.head.load(Ordering::Relaxed);
        assert_eq!(index_of(h1), index_of(h2));
        assert_ne!(
            h1, h2,
            "same index on top, different tag: a stale CAS fails"
        );
    }

    #[test]
    fn freed_slots_are_stolen_by_other_threads() {
        let list = AtomicFreeList::new(2).unwrap();
        let (a, b) = (list.pop().unwrap(), list.pop().unwrap());
        // Free both on another thread: they land in that thread's shard.
        std::thread::scope(|s| {
            s.spawn(|| {
                list.push(a);
                list.push(b);
            });
        });
        let mut again = [list.pop().unwrap(), list.pop().unwrap()];
        again.sort();
        assert_eq!(again, [0, 1], "this thread steals them back");
        assert_eq!(list.pop(), None);
    }

    #[test]
    fn values_are_dropped_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        #[derive(Debug)]
        struct D;
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let pool = SharedPool::new(2).unwrap();
        drop(pool.alloc(D).unwrap());
        let kept = SharedBox::into_inner(pool.alloc(D).unwrap());
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        drop(kept);
        assert_eq!(DROPS.load(Ordering::Relaxed), 2);
        let refused = {
            let _a = pool.alloc(D).unwrap();
            let _b = pool.alloc(D).unwrap();
            pool.alloc(D).unwrap_err()
        };
        assert_eq!(DROPS.load(Ordering::Relaxed), 4);
        drop(refused);
        assert_eq!(DROPS.load(Ordering::Relaxed), 5);
    }
}
