//! Slabs, the per-class slab pool, and the cache of empty slabs that all
//! classes share.
//!
//! A slab is one block of `slab_size` bytes (64 KiB by default) aligned to its
//! own size, so any pointer into it finds the slab header by masking off the
//! low bits. The first [`SLAB_DATA_OFFSET`] bytes hold the header; slots follow.
//!
//! Each slab keeps its own free list and live count (free-list sharding), and
//! is in one of four states:
//!
//! ```text
//!            fresh from the cache or the OS
//!                        |
//!                        v
//!   +-------------> [Current] --- exhausted (no free slot, nothing to carve) ---+
//!   |  no current slot left;           ^                                         |
//!   |  taken back by its class          \ (never leaves while current)           v
//!   |                                                                         [Full]
//!   +--- [Partial] <------------- first free of a full slab ----------------------+
//!           |                                                                    |
//!           +------ last free --------> [Empty] <---------- last free -----------+
//!                                          |        (a one-slot slab)
//!                        kept in the cache up to the retention limit,
//!                        then given back to the operating system
//! ```
//!
//! - **Current** (one per class): the slab being allocated from. Its free
//!   list lives in the class pool's hot line (`ClassPool::free`), with its
//!   uncarved tail (`bump..bump_end`), so the fast paths touch one line.
//! - **Full**: every slot live; on the class's full list.
//! - **Partial**: some slots free; on the class's partial list. When the
//!   current slab runs out, the class takes a partial slab first, then an
//!   empty one from the cache, then a new one from the system.
//! - **Empty**: no live slot. It leaves its class for the cache shared by
//!   every class, so memory one class freed serves the next class that grows;
//!   beyond the retention limit it goes back to the operating system.
//!
//! Freeing a slot finds its slab by masking. A slot of the current slab goes
//! on the pool's free list (the next one handed out); any other slot goes on
//! its slab's own list, and only the two transitions (full to partial, and to
//! empty) leave the inlined path.

use crate::budget::Budget;
use crate::error::{ConfigError, Error};
use crate::observe::SlabEvent;
use crate::os;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::{self, NonNull};

/// Default slab size: 64 KiB.
pub(crate) const DEFAULT_SLAB_SIZE: usize = 64 * 1024;
/// Smallest slab size accepted (4 KiB: a page).
pub(crate) const MIN_SLAB_SIZE: usize = 4 * 1024;
/// Largest slab size accepted (64 MiB).
pub(crate) const MAX_SLAB_SIZE: usize = 64 * 1024 * 1024;
/// Bytes at the start of every slab reserved for its header. A multiple of
/// 256 so that slots of a power-of-two class are aligned to their size.
pub(crate) const SLAB_DATA_OFFSET: usize = 256;

const SLAB_MAGIC: u32 = 0x4d4f_5250; // "MORP"

/// Where a slab is; see the module docs for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Current,
    Full,
    Partial,
    Empty,
}

/// The header at the start of every slab.
#[repr(C)]
pub(crate) struct SlabHeader {
    /// Links of the list the state puts the slab on: the class's full or
    /// partial list (doubly linked), or the cache (`next` only). Null while
    /// current.
    prev: *mut SlabHeader,
    next: *mut SlabHeader,
    /// Free slots of a partial slab; null when full, current or empty (a
    /// current slab's free list is the pool's).
    free: *mut FreeSlot,
    /// Live slots of a full or partial slab: `used == capacity` when full,
    /// `0 < used < capacity` when partial (so `used + free slots ==
    /// capacity`: a slab that stops being current is fully carved). Not kept
    /// while current.
    used: u32,
    /// Slots the slab holds for its class.
    capacity: u32,
    slot_size: u32,
    state: State,
    magic: u32,
}

const _: () = assert!(core::mem::size_of::<SlabHeader>() <= SLAB_DATA_OFFSET);
const _: () = assert!(core::mem::size_of::<ClassPool>() == 128);
const _: () = assert!(
    core::mem::offset_of!(ClassPool, slot_size) < 64 && core::mem::align_of::<ClassPool>() == 64,
    "hot fields share the first line"
);

impl SlabHeader {
    /// The first slot of the slab at `this`.
    fn data(this: *mut SlabHeader) -> *mut u8 {
        this.cast::<u8>().wrapping_add(SLAB_DATA_OFFSET)
    }
}

/// A free slot: its first word links to the next free slot.
#[repr(C)]
pub(crate) struct FreeSlot {
    next: *mut FreeSlot,
}

/// Statistics of one size class.
///
/// ```
/// use morph_runtime::SlabPool;
/// let pool = SlabPool::new(32).unwrap();
/// let a = pool.alloc().unwrap();
/// // SAFETY: `a` came from this pool and is not used again.
/// unsafe { pool.free(a) };
/// let _b = pool.alloc().unwrap();
/// let s = pool.stats();
/// assert_eq!((s.allocations, s.frees, s.reuses, s.live, s.peak_carved), (2, 1, 1, 1, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassStats {
    /// Slot size in bytes.
    pub slot_size: usize,
    /// Slabs the class holds now (current, partial and full).
    pub slabs: usize,
    /// Most slabs the class held at once, over the pool's life.
    pub peak_slabs: usize,
    /// Slabs the class emptied and handed to the cache (or, past the
    /// retention limit, back to the system), over the pool's life.
    pub slabs_emptied: u64,
    /// Slots the held slabs can hold.
    pub slots: usize,
    /// Slots carved out of the held slabs (the rest of the current slab has
    /// never been handed out).
    pub carved: usize,
    /// Slots in use now.
    pub live: usize,
    /// Most slots carved at once, over the pool's life: an upper bound of
    /// the peak of live slots, and equal to it while the class never carved
    /// a fresh slot with free ones waiting in another of its slabs (for
    /// example while it has one slab).
    pub peak_carved: usize,
    /// Carved slots that are free (on a free list).
    pub free_slots: usize,
    /// Allocations since the last reset.
    pub allocations: u64,
    /// Frees since the last reset.
    pub frees: u64,
    /// Allocations served from a free list since the last reset.
    pub reuses: u64,
}

/// Statistics of the empty-slab cache a context's classes share.
///
/// ```
/// use morph_runtime::{Config, MorphContext};
/// let ctx = MorphContext::with_config(Config::runtime()).unwrap();
/// let s = ctx.stats().slabs;
/// assert_eq!((s.in_use, s.cached, s.from_system), (0, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlabCacheStats {
    /// Bytes of one slab.
    pub slab_size: usize,
    /// Slabs held by classes.
    pub in_use: usize,
    /// Empty slabs kept for any class.
    pub cached: usize,
    /// Most empty slabs kept (the retention limit, in slabs).
    pub retain: usize,
    /// Slabs asked of the operating system (or the global allocator).
    pub from_system: u64,
    /// Empty slabs a class took from the cache instead.
    pub reused: u64,
    /// Slabs given back to the operating system.
    pub returned: u64,
    /// Bytes given back to the operating system.
    pub returned_bytes: u64,
    /// Most slabs held at once (in use and cached).
    pub peak_held: usize,
}

/// The empty slabs of a context (or a standalone pool), shared by all its
/// classes, with the retention limit and the calls to the system.
pub(crate) struct SlabCache {
    slab_size: usize,
    /// Empty slabs, linked through `next`; `cached` of them.
    empty: Cell<*mut SlabHeader>,
    cached: Cell<usize>,
    /// Most empty slabs kept; beyond, they go back to the system.
    retain: Cell<usize>,
    in_use: Cell<usize>,
    peak_held: Cell<usize>,
    from_system: Cell<u64>,
    reused: Cell<u64>,
    returned: Cell<u64>,
}

impl SlabCache {
    pub(crate) const fn new(slab_size: usize, retain: usize) -> SlabCache {
        SlabCache {
            slab_size,
            empty: Cell::new(ptr::null_mut()),
            cached: Cell::new(0),
            retain: Cell::new(retain),
            in_use: Cell::new(0),
            peak_held: Cell::new(0),
            from_system: Cell::new(0),
            reused: Cell::new(0),
            returned: Cell::new(0),
        }
    }

    /// An empty slab for a class: from the cache, else from the system
    /// (charged to `budget`).
    fn take(&self, budget: &Budget) -> Result<*mut SlabHeader, Error> {
        let head = self.empty.get();
        let slab = if !head.is_null() {
            // SAFETY: cached slabs are live, with headers we wrote.
            self.empty.set(unsafe { (*head).next });
            self.cached.set(self.cached.get() - 1);
            self.reused.set(self.reused.get() + 1);
            crate::observe::notify(SlabEvent::Taken {
                bytes: self.slab_size,
                from_system: false,
            });
            head
        } else {
            budget.reserve(self.slab_size)?;
            let Some(base) = os::alloc_aligned(self.slab_size) else {
                budget.release(self.slab_size);
                return Err(Error::OutOfMemory {
                    requested: self.slab_size,
                });
            };
            self.from_system.set(self.from_system.get() + 1);
            crate::observe::notify(SlabEvent::Taken {
                bytes: self.slab_size,
                from_system: true,
            });
            base.as_ptr().cast::<SlabHeader>()
        };
        self.in_use.set(self.in_use.get() + 1);
        let held = self.in_use.get() + self.cached.get();
        self.peak_held.set(self.peak_held.get().max(held));
        Ok(slab)
    }

    /// Takes back a slab no class uses any more: cached up to the retention
    /// limit, else given back to the system.
    ///
    /// # Safety
    /// `slab` came from [`take`](Self::take) of this cache, no slot of it is
    /// live, and it is on no list.
    unsafe fn give(&self, slab: *mut SlabHeader, budget: &Budget) {
        self.in_use.set(self.in_use.get() - 1);
        let cache = self.cached.get() < self.retain.get();
        crate::observe::notify(SlabEvent::Given {
            bytes: self.slab_size,
            to_system: !cache,
        });
        if cache {
            // SAFETY: the caller hands over a live slab no one else uses.
            unsafe {
                (*slab).state = State::Empty;
                (*slab).free = ptr::null_mut();
                (*slab).prev = ptr::null_mut();
                (*slab).next = self.empty.get();
            }
            self.empty.set(slab);
            self.cached.set(self.cached.get() + 1);
        } else {
            // SAFETY: as above; nothing refers to the slab any more.
            unsafe { self.release(slab, budget) };
        }
    }

    /// Gives one slab back to the system.
    ///
    /// # Safety
    /// `slab` came from `take` and nothing refers to it any more.
    unsafe fn release(&self, slab: *mut SlabHeader, budget: &Budget) {
        // SAFETY: slabs come from `os::alloc_aligned(slab_size)`; never null.
        unsafe { os::free_aligned(NonNull::new_unchecked(slab.cast()), self.slab_size) };
        budget.release(self.slab_size);
        self.returned.set(self.returned.get() + 1);
    }

    /// Changes the retention limit, giving back what is cached beyond it.
    pub(crate) fn set_retain(&self, slabs: usize, budget: &Budget) {
        self.retain.set(slabs);
        while self.cached.get() > slabs {
            let head = self.empty.get();
            // SAFETY: `cached > 0`, so the list holds a live slab.
            self.empty.set(unsafe { (*head).next });
            self.cached.set(self.cached.get() - 1);
            // SAFETY: unlinked just above; empty slabs hold nothing.
            unsafe { self.release(head, budget) };
        }
    }

    /// Gives every cached slab back. Slabs in use are the classes' to give.
    pub(crate) fn release_all(&self, budget: &Budget) {
        let retain = self.retain.get();
        self.set_retain(0, budget);
        self.retain.set(retain);
    }

    /// Whether `addr` lies in the slot area of an empty, cached slab
    /// (walks the cache).
    pub(crate) fn holds_empty(&self, addr: usize) -> bool {
        let base = addr & !(self.slab_size - 1);
        let mut s = self.empty.get();
        while !s.is_null() {
            if s.addr() == base {
                return addr >= base + SLAB_DATA_OFFSET;
            }
            // SAFETY: cached slabs are live.
            s = unsafe { (*s).next };
        }
        false
    }

    pub(crate) fn stats(&self) -> SlabCacheStats {
        SlabCacheStats {
            slab_size: self.slab_size,
            in_use: self.in_use.get(),
            cached: self.cached.get(),
            retain: self.retain.get(),
            from_system: self.from_system.get(),
            reused: self.reused.get(),
            returned: self.returned.get(),
            returned_bytes: self.returned.get().saturating_mul(self.slab_size as u64),
            peak_held: self.peak_held.get(),
        }
    }
}

/// Why the slow path of an allocation gave no slot.
#[derive(Debug)]
pub(crate) enum Miss {
    /// The pool is the context's placeholder for "no class": the request
    /// belongs to the arena or the large-object space.
    NotPooled,
    /// The budget or the system refused a slab.
    Refused(Error),
}

/// One size class: the current slab's free list and uncarved tail, its
/// partial and full slabs, and its counters.
///
/// All state is in `Cell`s so that allocation takes `&self`. The fields the
/// fast paths touch come first and fill one 64-byte cache line; the struct is
/// 128 bytes so that indexing an array of pools is a shift.
#[repr(C, align(64))]
pub(crate) struct ClassPool {
    /// Free slots of the current slab (none of another slab); null when
    /// empty.
    free: Cell<*mut FreeSlot>,
    /// Next uncarved slot of the current slab. `bump <= bump_end`; both null
    /// when there is no current slab or it is fully carved.
    bump: Cell<*mut u8>,
    /// One past the last slot of the current slab (or null, as `bump`).
    bump_end: Cell<*mut u8>,
    /// The current slab, or null.
    current: Cell<*mut SlabHeader>,
    /// Frees since the last reset. Allocations are not counted on the fast
    /// path: they are the frees plus the live slots a walk finds.
    frees: Cell<u64>,
    /// Payload bytes requested by a context's allocations in this class
    /// since the last reset (a standalone pool leaves it at 0).
    requested: Cell<u64>,
    slot_size: usize,
    // --- cold: slow paths and statistics only ---
    slab_size: usize,
    /// Full slabs (doubly linked through `prev`/`next`).
    full: Cell<*mut SlabHeader>,
    /// Partial slabs (doubly linked through `prev`/`next`).
    partial: Cell<*mut SlabHeader>,
    /// Slabs held (current, partial and full) and their peak.
    slabs: Cell<usize>,
    peak_slabs: Cell<usize>,
    /// Slots fresh-carved in slabs that are no longer current, since the
    /// last reset (the current slab's count is `bump - data`).
    carved_closed: Cell<u64>,
    /// Most slots carved at once.
    peak_carved: Cell<usize>,
    /// Slabs emptied and given to the cache.
    emptied: Cell<u64>,
}

impl ClassPool {
    /// A pool with no slab yet. `slot_size` 0 makes the placeholder a
    /// context routes sizes no class holds to: its slow path answers
    /// [`Miss::NotPooled`].
    pub(crate) const fn new(slot_size: usize, slab_size: usize) -> ClassPool {
        ClassPool {
            free: Cell::new(ptr::null_mut()),
            bump: Cell::new(ptr::null_mut()),
            bump_end: Cell::new(ptr::null_mut()),
            current: Cell::new(ptr::null_mut()),
            frees: Cell::new(0),
            requested: Cell::new(0),
            slot_size,
            slab_size,
            full: Cell::new(ptr::null_mut()),
            partial: Cell::new(ptr::null_mut()),
            slabs: Cell::new(0),
            peak_slabs: Cell::new(0),
            carved_closed: Cell::new(0),
            peak_carved: Cell::new(0),
            emptied: Cell::new(0),
        }
    }

    #[inline]
    pub(crate) fn slot_size(&self) -> usize {
        self.slot_size
    }

    #[inline]
    fn slots_per_slab(&self) -> usize {
        (self.slab_size - SLAB_DATA_OFFSET) / self.slot_size
    }

    /// Hands out one slot: the current slab's free list first, then its
    /// uncarved tail; `None` when both are empty (the caller then takes the
    /// slow path, [`refill`](Self::refill)). About 8 instructions when the
    /// free list has a slot. An `Option` of a pointer is one register: a
    /// `Result` carrying the miss's reason was spilled to the stack on every
    /// call.
    #[inline(always)]
    pub(crate) fn alloc_slot(&self) -> Option<NonNull<u8>> {
        let head = self.free.get();
        let slot = if !head.is_null() {
            // SAFETY: every slot on the free list lies in the current slab of
            // this pool and holds the link written by `free_slot` (a slot is
            // at least 16 bytes and 8-aligned, see there, so the link fits
            // and is aligned).
            self.free.set(unsafe { (*head).next });
            head.cast::<u8>()
        } else {
            // Carving is laid out after the free-list case, which then
            // falls through to the common tail.
            unlikely();
            let b = self.bump.get();
            if b != self.bump_end.get() {
                // SAFETY: `b < bump_end`, and `bump_end` is one past the last
                // slot of the current slab, so `b + slot_size <= bump_end`.
                self.bump.set(unsafe { b.add(self.slot_size) });
                b
            } else {
                return None;
            }
        };
        // SAFETY: `slot` is either a free-list entry or a bump pointer into a
        // slab, never null.
        Some(unsafe { NonNull::new_unchecked(slot) })
    }

    /// Adds a context request's payload size to the class's byte count.
    #[inline(always)]
    pub(crate) fn note_request(&self, size: usize) {
        self.requested.set(self.requested.get() + size as u64);
    }

    /// Payload bytes requested since the last reset.
    pub(crate) fn requested(&self) -> u64 {
        self.requested.get()
    }

    /// Puts a slot back. A slot of the current slab goes on the pool's free
    /// list and is the next one handed out; another slab's slot goes on that
    /// slab's list (see [`free_elsewhere`](Self::free_elsewhere)).
    ///
    /// # Safety
    /// `slot` must be the start of a slot this pool handed out and that was
    /// not freed since; nothing may use it afterwards. `mask` is
    /// `!(slab_size - 1)`; `cache` and `budget` are the ones the pool
    /// allocates with.
    #[inline(always)]
    pub(crate) unsafe fn free_slot(
        &self,
        slot: NonNull<u8>,
        mask: usize,
        cache: &SlabCache,
        budget: &Budget,
    ) {
        let s = slot.as_ptr().cast::<FreeSlot>();
        let slab = slot.as_ptr().map_addr(|a| a & mask).cast::<SlabHeader>();
        self.frees.set(self.frees.get() + 1);
        if slab == self.current.get() {
            // SAFETY: the caller guarantees `slot` is a whole slot of ours.
            // Slots start at `slab base + SLAB_DATA_OFFSET + k * slot_size`:
            // the base is aligned to the slab size, the offset is 256, and
            // every slot size is a multiple of 8 (the class granule) and at
            // least 16, so the slot is 8-aligned and holds the 8-byte,
            // 8-aligned link.
            unsafe {
                s.write(FreeSlot {
                    next: self.free.get(),
                })
            };
            self.free.set(s);
        } else {
            // Laid out after the current slab's case, which falls through.
            unlikely();
            // SAFETY: forwarded from the caller; masking a slot of ours gives
            // its slab's header, and the slab is not current.
            unsafe { self.free_elsewhere(slab, s, cache, budget) }
        }
    }

    /// Frees a slot of a full or partial slab onto the slab's own list.
    ///
    /// # Safety
    /// `s` is a live slot of `slab`, a full or partial slab of this pool.
    #[inline(always)]
    unsafe fn free_elsewhere(
        &self,
        slab: *mut SlabHeader,
        s: *mut FreeSlot,
        cache: &SlabCache,
        budget: &Budget,
    ) {
        // SAFETY: the caller guarantees `slab` is a live slab of ours (its
        // header is ours to update) and `s` a live slot of it (see
        // `free_slot` for the link's size and alignment).
        unsafe {
            let used = (*slab).used;
            s.write(FreeSlot { next: (*slab).free });
            (*slab).free = s;
            (*slab).used = used - 1;
            // Full before (`used == capacity`) or empty now (`used == 1`):
            // the slab changes lists.
            if used == (*slab).capacity || used == 1 {
                self.moved(slab, cache, budget);
            }
        }
    }

    /// A full slab got a free slot, or a slab lost its last live one.
    ///
    /// # Safety
    /// `slab` is a full or partial slab of this pool whose `used` was just
    /// lowered by one.
    #[cold]
    #[inline(never)]
    unsafe fn moved(&self, slab: *mut SlabHeader, cache: &SlabCache, budget: &Budget) {
        // SAFETY: forwarded from the caller.
        let (state, used) = unsafe { ((*slab).state, (*slab).used) };
        let list = if state == State::Full {
            &self.full
        } else {
            &self.partial
        };
        // SAFETY: `slab` is on `list`, as its state says.
        unsafe { unlink(list, slab) };
        if used == 0 {
            // Carved slots only ever drop here and on reset: take the peak
            // first, so that it stays exact.
            self.note_carved();
            self.slabs.set(self.slabs.get() - 1);
            self.emptied.set(self.emptied.get() + 1);
            // SAFETY: none of its slots is live and it is on no list.
            unsafe { cache.give(slab, budget) };
        } else {
            // SAFETY: a live slab of ours, now on no list.
            unsafe {
                (*slab).state = State::Partial;
                link(&self.partial, slab);
            }
        }
    }

    /// The current slab is exhausted (or there is none): makes another
    /// current and hands out its first slot.
    #[cold]
    #[inline(never)]
    pub(crate) fn refill(&self, cache: &SlabCache, budget: &Budget) -> Result<NonNull<u8>, Miss> {
        if self.slot_size == 0 {
            return Err(Miss::NotPooled);
        }
        self.retire_current();
        let partial = self.partial.get();
        if !partial.is_null() {
            // SAFETY: a partial slab of ours: live, on the partial list, with
            // at least one free slot.
            unsafe {
                unlink(&self.partial, partial);
                (*partial).state = State::Current;
                self.free.set((*partial).free);
                (*partial).free = ptr::null_mut();
            }
            self.current.set(partial);
            self.bump.set(ptr::null_mut());
            self.bump_end.set(ptr::null_mut());
            let head = self.free.get();
            // SAFETY: the slab had a free slot, now at the head of the list.
            self.free.set(unsafe { (*head).next });
            // SAFETY: a slot pointer, never null.
            return Ok(unsafe { NonNull::new_unchecked(head.cast()) });
        }
        let slab = cache.take(budget).map_err(Miss::Refused)?;
        let capacity = self.slots_per_slab();
        // SAFETY: `slab` is a live, empty slab of `slab_size` bytes aligned
        // to its size, ours alone; its first SLAB_DATA_OFFSET bytes hold the
        // header.
        unsafe {
            slab.write(SlabHeader {
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                free: ptr::null_mut(),
                used: 0,
                // Both fit: a slab is at most 64 MiB (checked by
                // `validate_slab`), and slots are at least 16 bytes.
                capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
                slot_size: u32::try_from(self.slot_size).unwrap_or(u32::MAX),
                state: State::Current,
                magic: SLAB_MAGIC,
            })
        };
        self.slabs.set(self.slabs.get() + 1);
        self.peak_slabs
            .set(self.peak_slabs.get().max(self.slabs.get()));
        self.current.set(slab);
        let first = SlabHeader::data(slab);
        self.bump.set(first.wrapping_add(self.slot_size));
        self.bump_end
            .set(first.wrapping_add(capacity * self.slot_size));
        self.note_carved();
        // SAFETY: `first` points into the fresh slab, never null.
        Ok(unsafe { NonNull::new_unchecked(first) })
    }

    /// Moves the current slab, exhausted, to the full list.
    fn retire_current(&self) {
        let cur = self.current.get();
        if cur.is_null() {
            return;
        }
        debug_assert!(self.free.get().is_null() && self.bump.get() == self.bump_end.get());
        self.carved_closed
            .set(self.carved_closed.get() + self.current_fresh() as u64);
        // SAFETY: the current slab is live and ours; exhausted means every
        // slot is carved and live.
        unsafe {
            (*cur).state = State::Full;
            (*cur).used = (*cur).capacity;
            (*cur).free = ptr::null_mut();
            link(&self.full, cur);
        }
        self.current.set(ptr::null_mut());
        self.bump.set(ptr::null_mut());
        self.bump_end.set(ptr::null_mut());
    }

    /// Slots fresh-carved from the current slab so far.
    fn current_fresh(&self) -> usize {
        let b = self.bump.get();
        if b.is_null() {
            return 0;
        }
        let data = SlabHeader::data(self.current.get());
        (b.addr() - data.addr()) / self.slot_size
    }

    /// Brings the peak of carved slots up to date.
    fn note_carved(&self) {
        self.peak_carved
            .set(self.peak_carved.get().max(self.carved()));
    }

    /// Slots carved in the held slabs.
    fn carved(&self) -> usize {
        let cur = self.current.get();
        if cur.is_null() {
            return self.full_and_partial_slots();
        }
        let current = if self.bump.get().is_null() {
            self.slots_per_slab()
        } else {
            self.current_fresh()
        };
        self.full_and_partial_slots() + current
    }

    /// Slots of the full and partial slabs (all carved).
    fn full_and_partial_slots(&self) -> usize {
        let n = self.slabs.get() - usize::from(!self.current.get().is_null());
        n * if self.slot_size == 0 {
            0
        } else {
            self.slots_per_slab()
        }
    }

    /// The class's statistics, given its live slots (counted by a walk:
    /// see [`count_live`](Self::count_live)).
    pub(crate) fn stats(&self, live: usize) -> ClassStats {
        self.note_carved();
        let carved = self.carved();
        let allocations = self.frees.get() + live as u64;
        let fresh = self.carved_closed.get() + self.current_fresh() as u64;
        ClassStats {
            slot_size: self.slot_size,
            slabs: self.slabs.get(),
            peak_slabs: self.peak_slabs.get(),
            slabs_emptied: self.emptied.get(),
            slots: if self.slot_size == 0 {
                0
            } else {
                self.slabs.get() * self.slots_per_slab()
            },
            carved,
            live,
            peak_carved: self.peak_carved.get(),
            free_slots: carved - live,
            allocations,
            frees: self.frees.get(),
            reuses: allocations - fresh.min(allocations),
        }
    }

    /// Every slab of the class: the current one, then the partial, then the
    /// full ones. `f` may free slots of the slab it is given (a sweep does):
    /// that slab then moves to a list already walked (full to partial) or
    /// leaves for the cache, and nothing else changes, so each slab is
    /// visited once.
    fn for_each_slab(&self, mut f: impl FnMut(*mut SlabHeader)) {
        let cur = self.current.get();
        if !cur.is_null() {
            f(cur);
        }
        for list in [&self.partial, &self.full] {
            let mut s = list.get();
            while !s.is_null() {
                // SAFETY: slabs on our lists are live; the link is read
                // before `f` runs, and `f` moves no slab but `s`.
                let next = unsafe { (*s).next };
                f(s);
                s = next;
            }
        }
    }

    /// Live slots of the class (a walk: `bits` as for
    /// [`for_each_live_slot`](Self::for_each_live_slot)).
    pub(crate) fn count_live(&self, bits: &mut [u64]) -> usize {
        let mut n = 0;
        self.for_each_live_slot(bits, |_| n += 1);
        n
    }

    /// Calls `f` with every live slot of the class, slab by slab (`bits`
    /// is scratch space of at least `slots_per_slab` bits).
    pub(crate) fn for_each_live_slot(&self, bits: &mut [u64], mut f: impl FnMut(*mut u8)) {
        if self.slot_size == 0 {
            return;
        }
        self.for_each_slab(|slab| {
            // SAFETY: `slab` is live and ours; its free slots are the ones on
            // its list (or the pool's, when current), and the uncarved tail.
            unsafe { self.scan_slab(slab, bits, &mut f) }
        });
    }

    /// The free-slot bitmap of `slab` in `bits`, then `f` for each carved
    /// slot not in it.
    ///
    /// # Safety
    /// `slab` is a live slab of this pool; the lists are not changed while
    /// this runs.
    unsafe fn scan_slab(
        &self,
        slab: *mut SlabHeader,
        bits: &mut [u64],
        f: &mut impl FnMut(*mut u8),
    ) {
        let data = SlabHeader::data(slab);
        // SAFETY: `slab` is live and ours.
        let capacity = unsafe { (*slab).capacity } as usize;
        let words = capacity.div_ceil(64);
        bits[..words].fill(0);
        let is_current = slab == self.current.get();
        let (mut s, carved_end) = if is_current {
            let end = if self.bump.get().is_null() {
                capacity
            } else {
                self.current_fresh()
            };
            (self.free.get(), end)
        } else {
            // SAFETY: as above.
            (unsafe { (*slab).free }, capacity)
        };
        while !s.is_null() {
            let i = (s.addr() - data.addr()) / self.slot_size;
            bits[i / 64] |= 1 << (i % 64);
            // SAFETY: free slots of the slab hold their link.
            s = unsafe { (*s).next };
        }
        for i in 0..carved_end {
            if bits[i / 64] & (1 << (i % 64)) == 0 {
                f(data.wrapping_add(i * self.slot_size));
            }
        }
    }

    /// Forgets every slot: every slab goes to the cache (or back to the
    /// system past the retention limit); counters restart but the peaks.
    pub(crate) fn reset(&mut self, cache: &SlabCache, budget: &Budget) {
        self.note_carved();
        self.drain(|s| {
            // SAFETY: drained slabs are ours, on no list, and `&mut self`
            // means no slot of them is borrowed any more.
            unsafe { cache.give(s, budget) }
        });
        self.frees.set(0);
        self.requested.set(0);
        self.carved_closed.set(0);
    }

    /// Gives every slab back to the system. The pool must not be used
    /// afterwards except through `reset`.
    pub(crate) fn release_all(&mut self, cache: &SlabCache, budget: &Budget) {
        self.drain(|s| {
            cache.in_use.set(cache.in_use.get() - 1);
            crate::observe::notify(SlabEvent::Given {
                bytes: cache.slab_size,
                to_system: true,
            });
            // SAFETY: as in `reset`; the slab goes straight to the system.
            unsafe { cache.release(s, budget) }
        });
    }

    /// Unlinks every slab and hands it to `f`; the pool is left empty.
    fn drain(&mut self, mut f: impl FnMut(*mut SlabHeader)) {
        let cur = self.current.replace(ptr::null_mut());
        self.free.set(ptr::null_mut());
        self.bump.set(ptr::null_mut());
        self.bump_end.set(ptr::null_mut());
        if !cur.is_null() {
            f(cur);
        }
        for list in [&self.partial, &self.full] {
            let mut s = list.replace(ptr::null_mut());
            while !s.is_null() {
                // SAFETY: slabs on our lists are live; the link is read first.
                let next = unsafe { (*s).next };
                f(s);
                s = next;
            }
        }
        self.slabs.set(0);
    }

    /// Whether `ptr` points into the slot area of one of this pool's slabs
    /// (walks the slab lists).
    pub(crate) fn owns(&self, ptr: *const u8) -> bool {
        self.find(ptr.addr()).is_some()
    }

    /// The base of the slab holding address `addr` in its slot area, as a
    /// pointer carrying the whole slab's provenance (walks the slab lists).
    pub(crate) fn find(&self, addr: usize) -> Option<*mut u8> {
        let base = addr & !(self.slab_size - 1);
        let mut found = None;
        self.for_each_slab(|s| {
            if s.addr() == base && addr >= base + SLAB_DATA_OFFSET {
                found = Some(s.cast());
            }
        });
        found
    }
}

/// Marks the branch that calls it as unlikely, so the other one falls
/// through (the stable spelling of a branch hint).
#[cold]
#[inline(always)]
fn unlikely() {}

/// Puts `slab` at the head of the doubly linked `list`.
///
/// # Safety
/// `slab` is live and on no list.
unsafe fn link(list: &Cell<*mut SlabHeader>, slab: *mut SlabHeader) {
    let head = list.get();
    // SAFETY: `slab` is live; `head`, if any, is a live slab of the list.
    unsafe {
        (*slab).prev = ptr::null_mut();
        (*slab).next = head;
        if !head.is_null() {
            (*head).prev = slab;
        }
    }
    list.set(slab);
}

/// Takes `slab` off the doubly linked `list`.
///
/// # Safety
/// `slab` is live and on `list`.
unsafe fn unlink(list: &Cell<*mut SlabHeader>, slab: *mut SlabHeader) {
    // SAFETY: `slab` and its neighbours are live slabs of the list.
    unsafe {
        let (prev, next) = ((*slab).prev, (*slab).next);
        if prev.is_null() {
            list.set(next);
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
        (*slab).prev = ptr::null_mut();
        (*slab).next = ptr::null_mut();
    }
}

/// Checks a slab size (a power of two from 4 KiB to 64 MiB) and a slot size
/// (a multiple of `granule`, at least 16, that fits in the slab).
pub(crate) fn validate_slab(
    slab_size: usize,
    slot_size: usize,
    granule: usize,
) -> Result<(), ConfigError> {
    if !slab_size.is_power_of_two() || !(MIN_SLAB_SIZE..=MAX_SLAB_SIZE).contains(&slab_size) {
        return Err(ConfigError::SlabSize { bytes: slab_size });
    }
    if slot_size < 16 || slot_size % granule != 0 || slot_size > slab_size - SLAB_DATA_OFFSET {
        return Err(ConfigError::SlotSize {
            slot: slot_size,
            granule,
            slab: slab_size,
        });
    }
    Ok(())
}

/// A standalone pool of equal-sized slots: the building block of the
/// context's size classes, usable on its own.
///
/// Slots are at least 16-aligned (aligned to the largest power of two that
/// divides the slot size, up to 256). A slab whose last slot is freed is kept
/// for reuse up to a retention limit (4 slabs) and given back to the system
/// beyond it; dropping the pool gives every slab back. Nothing stored in
/// slots is dropped.
///
/// ```
/// use morph_runtime::SlabPool;
/// let pool = SlabPool::new(32).unwrap();
/// let a = pool.alloc().unwrap();
/// // SAFETY: `a` came from `pool` and is not used after this.
/// unsafe { pool.free(a) };
/// let b = pool.alloc().unwrap();
/// assert_eq!(a, b, "a freed slot is the next one handed out");
/// ```
pub struct SlabPool {
    pool: ClassPool,
    cache: SlabCache,
    mask: usize,
    budget: Budget,
    /// Scratch bits for the walk that counts live slots.
    walk_bits: Cell<Vec<u64>>,
}

/// Empty slabs a standalone [`SlabPool`] keeps before giving them back.
const STANDALONE_RETAIN: usize = 4;

// SAFETY: a SlabPool exclusively owns its slabs; nothing in it refers to
// thread-local state, so moving it to another thread is sound. It is not
// Sync (its Cells make that so), so only one thread uses it at a time.
unsafe impl Send for SlabPool {}

impl SlabPool {
    /// Slab size unless configured: 64 KiB.
    ///
    /// ```
    /// use morph_runtime::SlabPool;
    /// let p = SlabPool::new(64).unwrap();
    /// p.alloc().unwrap();
    /// assert_eq!(p.reserved_bytes(), SlabPool::DEFAULT_SLAB_SIZE);
    /// ```
    pub const DEFAULT_SLAB_SIZE: usize = DEFAULT_SLAB_SIZE;

    /// Smallest slab size accepted: 4 KiB, a page.
    ///
    /// ```
    /// use morph_runtime::SlabPool;
    /// assert!(SlabPool::with_slab_size(64, SlabPool::MIN_SLAB_SIZE / 2).is_err());
    /// ```
    pub const MIN_SLAB_SIZE: usize = MIN_SLAB_SIZE;

    /// Largest slab size accepted: 64 MiB.
    ///
    /// ```
    /// use morph_runtime::SlabPool;
    /// assert!(SlabPool::with_slab_size(64, SlabPool::MAX_SLAB_SIZE * 2).is_err());
    /// ```
    pub const MAX_SLAB_SIZE: usize = MAX_SLAB_SIZE;

    /// Largest alignment [`for_layout`](Self::for_layout) serves: 256 (slots
    /// start 256 bytes into a slab, after its header).
    ///
    /// ```
    /// use morph_runtime::SlabPool;
    /// use std::alloc::Layout;
    /// let over = Layout::from_size_align(8, SlabPool::MAX_ALIGN * 2).unwrap();
    /// assert!(SlabPool::for_layout(over).is_err());
    /// ```
    pub const MAX_ALIGN: usize = SLAB_DATA_OFFSET;

    /// A pool for objects of any size and alignment (up to
    /// [`MAX_ALIGN`](Self::MAX_ALIGN)) that grows by whole slabs: the slot
    /// size is the size rounded up to a multiple of the alignment (and of
    /// 16), and slabs are 64 KiB or, for big objects, large enough for 16.
    ///
    /// ```
    /// use morph_runtime::SlabPool;
    /// use std::alloc::Layout;
    /// let pool = SlabPool::for_layout(Layout::from_size_align(1000, 8).unwrap()).unwrap();
    /// assert_eq!(pool.slot_size(), 1008);
    /// let objects: Vec<_> = (0..500).map(|_| pool.alloc().unwrap()).collect();
    /// assert!(pool.stats().slabs > 1, "it grew");
    /// // SAFETY: each object came from `pool` and is freed once.
    /// for p in objects { unsafe { pool.free(p) } }
    /// ```
    pub fn for_layout(layout: Layout) -> Result<SlabPool, Error> {
        let (size, align) = (layout.size(), layout.align());
        if align > Self::MAX_ALIGN {
            return Err(ConfigError::Alignment {
                align,
                min: 1,
                max: Self::MAX_ALIGN,
            }
            .into());
        }
        let slot = size
            .max(16)
            .checked_next_multiple_of(align.max(16))
            .filter(|&s| s <= (MAX_SLAB_SIZE - SLAB_DATA_OFFSET) / 16)
            .ok_or(ConfigError::ObjectSize { size })?;
        let slab = (slot * 16 + SLAB_DATA_OFFSET)
            .next_power_of_two()
            .max(DEFAULT_SLAB_SIZE);
        SlabPool::with_slab_size(slot, slab)
    }

    /// A pool of `slot_size`-byte slots in 64 KiB slabs. `slot_size` must be a
    /// multiple of 16.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// assert!(SlabPool::new(48).is_ok());
    /// assert!(SlabPool::new(20).is_err());
    /// ```
    pub fn new(slot_size: usize) -> Result<SlabPool, Error> {
        Self::with_slab_size(slot_size, DEFAULT_SLAB_SIZE)
    }

    /// A pool with slabs of `slab_size` bytes (a power of two, 4 KiB to 64 MiB).
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::with_slab_size(64, 4096).unwrap();
    /// p.alloc().unwrap();
    /// assert_eq!(p.stats().slots, (4096 - 256) / 64);
    /// ```
    pub fn with_slab_size(slot_size: usize, slab_size: usize) -> Result<SlabPool, Error> {
        // Standalone pools promise 16-aligned slots, so sizes are multiples
        // of 16; a context's classes may be multiples of 8.
        validate_slab(slab_size, slot_size, 16)?;
        let slots = (slab_size - SLAB_DATA_OFFSET) / slot_size;
        let walk_bits = crate::fallible::try_vec_from_fn(slots.div_ceil(64), |_| 0u64)
            .map_err(crate::error::refused)?;
        Ok(SlabPool {
            pool: ClassPool::new(slot_size, slab_size),
            cache: SlabCache::new(slab_size, STANDALONE_RETAIN),
            mask: !(slab_size - 1),
            budget: Budget::new(None),
            walk_bits: Cell::new(walk_bits),
        })
    }

    /// Hands out one slot (uninitialised memory of `slot_size` bytes).
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::new(16).unwrap();
    /// let slot = p.alloc().unwrap();
    /// assert_eq!(slot.as_ptr() as usize % 16, 0);
    /// ```
    #[inline(always)]
    pub fn alloc(&self) -> Result<NonNull<u8>, Error> {
        if let Some(slot) = self.pool.alloc_slot() {
            return Ok(slot);
        }
        self.pool
            .refill(&self.cache, &self.budget)
            .map_err(|miss| match miss {
                Miss::Refused(e) => e,
                // A standalone pool always has a slot size.
                Miss::NotPooled => Error::InvalidLayout {
                    size: self.pool.slot_size(),
                    align: 16,
                },
            })
    }

    /// Returns a slot. A slot of the slab being allocated from is the next
    /// one [`alloc`](Self::alloc) hands out.
    ///
    /// # Safety
    /// `slot` must have come from this pool's `alloc` and not have been freed
    /// since; it must not be used afterwards.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::new(16).unwrap();
    /// let slot = p.alloc().unwrap();
    /// // SAFETY: from this pool, freed once, not used again.
    /// unsafe { p.free(slot) };
    /// assert_eq!(p.stats().live, 0);
    /// ```
    #[inline(always)]
    pub unsafe fn free(&self, slot: NonNull<u8>) {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.pool
                .free_slot(slot, self.mask, &self.cache, &self.budget)
        }
    }

    /// Size of each slot.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// assert_eq!(morph_runtime::SlabPool::new(64).unwrap().slot_size(), 64);
    /// ```
    pub fn slot_size(&self) -> usize {
        self.pool.slot_size()
    }

    /// Whether `ptr` points into one of this pool's slabs in use.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::new(16).unwrap();
    /// let slot = p.alloc().unwrap();
    /// assert!(p.owns(slot.as_ptr()));
    /// assert!(!p.owns(&0u8));
    /// ```
    pub fn owns(&self, ptr: *const u8) -> bool {
        self.pool.owns(ptr)
    }

    /// Statistics of the pool.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::new(16).unwrap();
    /// p.alloc().unwrap();
    /// assert_eq!(p.stats().slabs, 1);
    /// ```
    pub fn stats(&self) -> ClassStats {
        let mut bits = self.walk_bits.take();
        let live = self.pool.count_live(&mut bits);
        self.walk_bits.set(bits);
        self.pool.stats(live)
    }

    /// Statistics of the pool's slabs: in use, cached empty, taken from and
    /// given back to the system.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::with_slab_size(16, 4096).unwrap();
    /// let slot = p.alloc().unwrap();
    /// // SAFETY: from this pool, freed once.
    /// unsafe { p.free(slot) };
    /// assert_eq!(p.slab_stats().in_use, 1, "the current slab stays");
    /// ```
    pub fn slab_stats(&self) -> SlabCacheStats {
        self.cache.stats()
    }

    /// Bytes reserved from the system (slabs in use and cached).
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let p = SlabPool::new(16).unwrap();
    /// assert_eq!(p.reserved_bytes(), 0);
    /// p.alloc().unwrap();
    /// assert_eq!(p.reserved_bytes(), 64 * 1024);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        self.budget.reserved()
    }

    /// Forgets every slot at once: the slabs go to the pool's cache (up to
    /// its retention limit) and the rest back to the system.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let mut p = SlabPool::new(16).unwrap();
    /// p.alloc().unwrap();
    /// p.reset();
    /// assert_eq!(p.stats().live, 0);
    /// assert_eq!(p.stats().peak_carved, 1);
    /// assert_eq!(p.slab_stats().cached, 1);
    /// ```
    pub fn reset(&mut self) {
        self.pool.reset(&self.cache, &self.budget);
    }
}

impl Drop for SlabPool {
    fn drop(&mut self) {
        self.pool.release_all(&self.cache, &self.budget);
        self.cache.release_all(&self.budget);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_for_big_aligned_layouts_get_big_slabs() {
        let layout = Layout::from_size_align(10_000, 256).unwrap();
        let pool = SlabPool::for_layout(layout).unwrap();
        let ps: Vec<_> = (0..40).map(|_| pool.alloc().unwrap()).collect();
        for p in &ps {
            assert_eq!(p.as_ptr() as usize % 256, 0);
            // SAFETY: each object holds 10,000 bytes.
            unsafe { p.as_ptr().write_bytes(9, 10_000) };
        }
        let s = pool.stats();
        assert_eq!((s.live, s.slot_size), (40, 10_240));
        assert!(s.slabs >= 2);
        for p in ps {
            // SAFETY: from this pool, freed once.
            unsafe { pool.free(p) };
        }
        assert_eq!(pool.stats().live, 0);
        let tiny = SlabPool::for_layout(Layout::new::<u8>()).unwrap();
        assert_eq!(tiny.slot_size(), 16);
    }

    #[test]
    fn lifo_reuse_and_lazy_carving() {
        let p = SlabPool::with_slab_size(32, 4096).unwrap();
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        assert_eq!(
            b.as_ptr() as usize - a.as_ptr() as usize,
            32,
            "carved in order"
        );
        // SAFETY: both from `p`, freed once.
        unsafe {
            p.free(a);
            p.free(b);
        }
        assert_eq!(p.alloc().unwrap(), b);
        assert_eq!(p.alloc().unwrap(), a);
        let s = p.stats();
        assert_eq!((s.carved, s.reuses, s.free_slots), (2, 2, 0));
    }

    #[test]
    fn slabs_are_aligned_and_found_by_masking() {
        let p = SlabPool::with_slab_size(256, 4096).unwrap();
        let per = (4096 - SLAB_DATA_OFFSET) / 256;
        let slots: Vec<_> = (0..per * 3).map(|_| p.alloc().unwrap()).collect();
        assert_eq!(p.stats().slabs, 3);
        for s in &slots {
            assert_eq!(s.as_ptr() as usize % 256, 0);
            assert!(p.owns(s.as_ptr()));
        }
        assert_eq!(p.stats().carved, per * 3);
    }

    #[test]
    fn reset_caches_slabs_and_keeps_the_peaks() {
        let mut p = SlabPool::with_slab_size(64, 4096).unwrap();
        let per = (4096 - SLAB_DATA_OFFSET) / 64;
        for _ in 0..per + 1 {
            p.alloc().unwrap();
        }
        assert_eq!(p.reserved_bytes(), 8192);
        p.reset();
        let s = p.stats();
        assert_eq!(
            (s.slabs, s.live, s.carved, s.peak_carved),
            (0, 0, 0, per + 1)
        );
        assert_eq!((s.peak_slabs, p.slab_stats().cached), (2, 2));
        assert_eq!(p.reserved_bytes(), 8192, "cached, not given back");
        p.alloc().unwrap();
        let c = p.slab_stats();
        assert_eq!((c.in_use, c.cached, c.reused, c.from_system), (1, 1, 1, 2));
    }

    /// A slab whose last slot is freed leaves the class; past the retention
    /// limit it goes back to the system.
    #[test]
    fn empty_slabs_are_cached_then_returned() {
        let p = SlabPool::with_slab_size(64, 4096).unwrap();
        let per = (4096 - SLAB_DATA_OFFSET) / 64;
        let n = per * (STANDALONE_RETAIN + 3);
        let slots: Vec<_> = (0..n).map(|_| p.alloc().unwrap()).collect();
        assert_eq!(p.stats().slabs, STANDALONE_RETAIN + 3);
        for s in slots {
            // SAFETY: each from `p`, freed once.
            unsafe { p.free(s) };
        }
        let c = p.slab_stats();
        // The current slab stays with its class; every other one emptied.
        assert_eq!((c.in_use, c.cached), (1, STANDALONE_RETAIN));
        assert_eq!(c.returned, 2);
        assert_eq!(p.reserved_bytes(), (1 + STANDALONE_RETAIN) * 4096);
        assert_eq!(p.stats().live, 0);
    }

    /// A full slab that gets a free slot is taken back before a new slab.
    #[test]
    fn partial_slabs_are_used_before_new_ones() {
        let p = SlabPool::with_slab_size(64, 4096).unwrap();
        let per = (4096 - SLAB_DATA_OFFSET) / 64;
        let first: Vec<_> = (0..per).map(|_| p.alloc().unwrap()).collect();
        let _second = p.alloc().unwrap();
        // SAFETY: from `p`, freed once.
        unsafe { p.free(first[3]) };
        for _ in 1..per {
            p.alloc().unwrap();
        }
        assert_eq!(p.stats().slabs, 2);
        assert_eq!(p.alloc().unwrap(), first[3], "the partial slab's slot");
        assert_eq!(p.slab_stats().from_system, 2);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(SlabPool::with_slab_size(16, 3000).is_err());
        assert!(SlabPool::with_slab_size(16, 1024).is_err());
        assert!(SlabPool::with_slab_size(8, 4096).is_err());
        assert!(SlabPool::with_slab_size(4096, 4096).is_err());
    }
}
