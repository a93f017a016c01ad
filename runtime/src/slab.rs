//! Slabs and the per-class slab pool.
//!
//! A slab is one block of `slab_size` bytes (64 KiB by default) aligned to its
//! own size, so any pointer into it finds the slab header by masking off the
//! low bits. The first [`SLAB_DATA_OFFSET`] bytes hold the header; slots follow.
//!
//! A class pool hands out slots from two places, in this order:
//! 1. the free list, threaded through the free slots themselves (LIFO: the slot
//!    freed last is the next one handed out);
//! 2. the current slab's uncarved tail, by bumping a pointer (a fresh slab is
//!    carved lazily: its slots are never threaded into a list all at once).
//!
//! Only when both are empty does the `#[cold]` slow path get a new slab.

use crate::budget::Budget;
use crate::error::{AllocError, ConfigError};
use serde::Serialize;
use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Default slab size: 64 KiB.
pub const DEFAULT_SLAB_SIZE: usize = 64 * 1024;
/// Smallest slab size accepted (4 KiB: a page).
pub const MIN_SLAB_SIZE: usize = 4 * 1024;
/// Largest slab size accepted (64 MiB).
pub const MAX_SLAB_SIZE: usize = 64 * 1024 * 1024;
/// Bytes at the start of every slab reserved for its header. A multiple of
/// 256 so that slots of a power-of-two class are aligned to their size.
pub const SLAB_DATA_OFFSET: usize = 256;

const SLAB_MAGIC: u32 = 0x4d4f_5250; // "MORP"

/// The header at the start of every slab.
#[repr(C)]
struct SlabHeader {
    /// Next older slab of the same pool (a singly linked list, newest first).
    next: *mut SlabHeader,
    slot_size: u32,
    magic: u32,
}

const _: () = assert!(std::mem::size_of::<SlabHeader>() <= SLAB_DATA_OFFSET);
const _: () = assert!(std::mem::size_of::<ClassPool>() == 128);
const _: () = assert!(
    std::mem::offset_of!(ClassPool, slab_size) == 64,
    "hot fields fill the first line"
);

/// A free slot: its first word links to the next free slot.
#[repr(C)]
struct FreeSlot {
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
/// assert_eq!((s.allocations, s.frees, s.reuses, s.live, s.peak_live), (2, 1, 1, 1, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClassStats {
    /// Slot size in bytes.
    pub slot_size: usize,
    /// Slabs held.
    pub slabs: usize,
    /// Slots the held slabs can hold.
    pub slots: usize,
    /// Slots ever handed out since the last reset (carved from a slab).
    pub carved: usize,
    /// Slots in use now.
    pub live: usize,
    /// Most slots in use at once, over the pool's life.
    pub peak_live: usize,
    /// Slots freed and waiting on the free list.
    pub free_slots: usize,
    /// Allocations since the last reset.
    pub allocations: u64,
    /// Frees since the last reset.
    pub frees: u64,
    /// Allocations served from the free list since the last reset.
    pub reuses: u64,
}

/// One size class: its free list, its current slab and its counters.
///
/// All state is in `Cell`s so that allocation takes `&self`. The fields the
/// fast paths touch come first and fill one 64-byte cache line; the struct is
/// 128 bytes so that indexing an array of pools is a shift.
#[repr(C, align(64))]
pub(crate) struct ClassPool {
    /// Head of the free list; null when empty. Every slot on it lies in a slab
    /// of this pool and is not handed out.
    free: Cell<*mut FreeSlot>,
    /// Next uncarved slot of the newest slab. `bump <= bump_end`; both null
    /// before the first slab.
    bump: Cell<*mut u8>,
    /// One past the last slot of the newest slab.
    bump_end: Cell<*mut u8>,
    allocs: Cell<u64>,
    frees: Cell<u64>,
    /// Payload bytes requested by a context's allocations in this class
    /// since the last reset (a standalone pool leaves it at 0).
    requested: Cell<u64>,
    /// Payload bytes of those that were freed since.
    freed_bytes: Cell<u64>,
    slot_size: usize,
    // --- cold: slow paths and statistics only ---
    slab_size: usize,
    /// All slabs, newest first; the newest is the one being carved.
    slabs: Cell<*mut SlabHeader>,
    slab_count: Cell<usize>,
    /// Slots carved from slabs other than the newest, since the last reset.
    carved_before: Cell<usize>,
    /// Peak live slots before the last reset.
    peak_before_reset: Cell<usize>,
}

impl ClassPool {
    /// A pool with no slab yet. `slot_size` 0 makes an unused placeholder.
    pub(crate) const fn new(slot_size: usize, slab_size: usize) -> ClassPool {
        ClassPool {
            free: Cell::new(ptr::null_mut()),
            bump: Cell::new(ptr::null_mut()),
            bump_end: Cell::new(ptr::null_mut()),
            allocs: Cell::new(0),
            frees: Cell::new(0),
            requested: Cell::new(0),
            freed_bytes: Cell::new(0),
            slot_size,
            slab_size,
            slabs: Cell::new(ptr::null_mut()),
            slab_count: Cell::new(0),
            carved_before: Cell::new(0),
            peak_before_reset: Cell::new(0),
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

    /// Hands out one slot: the free list first, then the current slab's tail,
    /// then a new slab. About 8 instructions when the free list has a slot.
    #[inline(always)]
    pub(crate) fn alloc_slot(&self, budget: &Budget) -> Result<NonNull<u8>, AllocError> {
        let head = self.free.get();
        let slot = if !head.is_null() {
            // SAFETY: every slot on the free list lies in a live slab of this
            // pool and holds the link written by `free_slot` (a slot is at
            // least 16 bytes and 8-aligned, see there, so the link fits and
            // is aligned).
            self.free.set(unsafe { (*head).next });
            head.cast::<u8>()
        } else {
            let b = self.bump.get();
            if b != self.bump_end.get() {
                // SAFETY: `b < bump_end`, and `bump_end` is one past the last
                // slot of the current slab, so `b + slot_size <= bump_end`.
                self.bump.set(unsafe { b.add(self.slot_size) });
                b
            } else {
                return self.refill(budget);
            }
        };
        self.allocs.set(self.allocs.get() + 1);
        // SAFETY: `slot` is either a free-list entry or a bump pointer into a
        // slab, never null.
        Ok(unsafe { NonNull::new_unchecked(slot) })
    }

    /// Adds a context request's payload size to the class's byte count.
    #[inline(always)]
    pub(crate) fn note_request(&self, size: usize) {
        self.requested.set(self.requested.get() + size as u64);
    }

    /// Adds a context object's payload size to the class's freed bytes.
    #[inline(always)]
    pub(crate) fn note_release(&self, size: usize) {
        self.freed_bytes.set(self.freed_bytes.get() + size as u64);
    }

    /// Payload bytes requested since the last reset.
    pub(crate) fn requested(&self) -> u64 {
        self.requested.get()
    }

    /// Payload bytes of the live objects.
    pub(crate) fn live_payload(&self) -> usize {
        // Live payload lies in memory, so it fits a usize.
        usize::try_from(self.requested.get() - self.freed_bytes.get()).unwrap_or(usize::MAX)
    }

    /// Puts a slot back on the free list; it is the next one handed out.
    ///
    /// # Safety
    /// `slot` must be the start of a slot this pool handed out and that was not
    /// freed since; nothing may use it afterwards.
    #[inline(always)]
    pub(crate) unsafe fn free_slot(&self, slot: NonNull<u8>) {
        let s = slot.as_ptr().cast::<FreeSlot>();
        // SAFETY: the caller guarantees `slot` is a whole slot of ours. Slots
        // start at `slab base + SLAB_DATA_OFFSET + k * slot_size`: the base is
        // aligned to the slab size, the offset is 256, and every slot size
        // is a multiple of 8 (the class granule) and at least 16, so the slot
        // is 8-aligned and holds the 8-byte, 8-aligned link.
        unsafe {
            s.write(FreeSlot {
                next: self.free.get(),
            })
        };
        self.free.set(s);
        self.frees.set(self.frees.get() + 1);
    }

    /// Gets a new slab and carves its first slot.
    #[cold]
    #[inline(never)]
    fn refill(&self, budget: &Budget) -> Result<NonNull<u8>, AllocError> {
        debug_assert!(self.slot_size >= 16, "placeholder class used");
        budget.reserve(self.slab_size)?;
        // SAFETY: slab_size is a non-zero power of two (checked by
        // `validate_slab`), so it is a valid size and alignment.
        let layout = unsafe { Layout::from_size_align_unchecked(self.slab_size, self.slab_size) };
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc::alloc(layout) };
        if base.is_null() {
            budget.release(self.slab_size);
            return Err(AllocError::OutOfMemory {
                requested: self.slab_size,
            });
        }
        if !self.slabs.get().is_null() {
            // The newest slab is fully carved (that is why we are here).
            self.carved_before
                .set(self.carved_before.get() + self.slots_per_slab());
        }
        let header = base.cast::<SlabHeader>();
        // SAFETY: `base` is a fresh allocation of at least SLAB_DATA_OFFSET
        // bytes aligned to the slab size, enough for the header.
        unsafe {
            header.write(SlabHeader {
                next: self.slabs.get(),
                // Slot sizes are at most a slab (64 MiB), validated at
                // construction.
                slot_size: u32::try_from(self.slot_size).unwrap_or(u32::MAX),
                magic: SLAB_MAGIC,
            })
        };
        self.slabs.set(header);
        self.slab_count.set(self.slab_count.get() + 1);
        self.start_carving(header);
        self.allocs.set(self.allocs.get() + 1);
        let first = self.bump.get();
        // SAFETY: a slab holds at least one slot (checked by `validate`).
        self.bump.set(unsafe { first.add(self.slot_size) });
        // SAFETY: `first` points into the fresh slab, never null.
        Ok(unsafe { NonNull::new_unchecked(first) })
    }

    /// Points the bump range at the slots of `slab`.
    fn start_carving(&self, slab: *mut SlabHeader) {
        let data = slab.cast::<u8>().wrapping_add(SLAB_DATA_OFFSET);
        self.bump.set(data);
        self.bump_end
            .set(data.wrapping_add(self.slots_per_slab() * self.slot_size));
    }

    /// Slots carved since the last reset.
    fn carved(&self) -> usize {
        let head = self.slabs.get();
        if head.is_null() {
            return 0;
        }
        let data = head.cast::<u8>().wrapping_add(SLAB_DATA_OFFSET);
        self.carved_before.get() + (self.bump.get() as usize - data as usize) / self.slot_size
    }

    pub(crate) fn live(&self) -> usize {
        // Live slots lie in memory, so their count fits a usize.
        usize::try_from(self.allocs.get() - self.frees.get()).unwrap_or(usize::MAX)
    }

    pub(crate) fn stats(&self) -> ClassStats {
        let carved = self.carved();
        let live = self.live();
        let allocations = self.allocs.get();
        ClassStats {
            slot_size: self.slot_size,
            slabs: self.slab_count.get(),
            slots: if self.slot_size == 0 {
                0
            } else {
                self.slab_count.get() * self.slots_per_slab()
            },
            carved,
            live,
            // Slabs are carved only when the free list is empty, i.e. when
            // every carved slot is live; so the peak of live slots since the
            // last reset equals the number carved.
            peak_live: carved.max(self.peak_before_reset.get()),
            free_slots: carved - live,
            allocations,
            frees: self.frees.get(),
            reuses: allocations - carved as u64,
        }
    }

    /// Forgets every slot: keeps the newest slab (rewound to empty), frees the
    /// others, zeroes the counters but the peak.
    pub(crate) fn reset(&mut self, budget: &Budget) {
        self.peak_before_reset
            .set(self.peak_before_reset.get().max(self.carved()));
        let head = self.slabs.get();
        if !head.is_null() {
            // SAFETY: `head` is a live slab header; `&mut self` means no slot
            // is borrowed, so the older slabs can be released.
            let older = unsafe { (*head).next };
            // SAFETY: as above; the list is ours.
            unsafe { (*head).next = ptr::null_mut() };
            let freed = self.release_list(older, budget);
            self.slab_count.set(self.slab_count.get() - freed);
            self.start_carving(head);
        }
        self.free.set(ptr::null_mut());
        self.carved_before.set(0);
        self.allocs.set(0);
        self.frees.set(0);
        self.requested.set(0);
        self.freed_bytes.set(0);
    }

    /// Frees a list of slabs; returns how many.
    fn release_list(&self, mut slab: *mut SlabHeader, budget: &Budget) -> usize {
        let mut n = 0;
        // SAFETY: slab_size is a valid power-of-two size, as at allocation.
        let layout = unsafe { Layout::from_size_align_unchecked(self.slab_size, self.slab_size) };
        while !slab.is_null() {
            // SAFETY: every slab on the list is a live allocation of `layout`
            // whose header we wrote; we read its link before freeing it.
            let next = unsafe { (*slab).next };
            debug_assert_eq!(
                // SAFETY: as above.
                unsafe { (*slab).magic },
                SLAB_MAGIC
            );
            // SAFETY: allocated in `refill` with the same layout.
            unsafe { alloc::dealloc(slab.cast(), layout) };
            budget.release(self.slab_size);
            n += 1;
            slab = next;
        }
        n
    }

    /// Releases every slab. The pool must not be used afterwards.
    pub(crate) fn release_all(&mut self, budget: &Budget) {
        let head = self.slabs.replace(ptr::null_mut());
        self.release_list(head, budget);
        self.slab_count.set(0);
    }

    /// Whether `ptr` points into one of this pool's slabs (walks the slab list).
    pub(crate) fn owns(&self, ptr: *const u8) -> bool {
        self.find(ptr.addr()).is_some()
    }

    /// The base of the slab holding address `addr` in its slot area, as a
    /// pointer carrying the whole slab's provenance (walks the slab list).
    pub(crate) fn find(&self, addr: usize) -> Option<*mut u8> {
        let base = addr & !(self.slab_size - 1);
        let mut slab = self.slabs.get();
        while !slab.is_null() {
            if slab.addr() == base {
                return (addr >= base + SLAB_DATA_OFFSET).then_some(slab.cast());
            }
            // SAFETY: every slab on the list is live and has a header.
            slab = unsafe { (*slab).next };
        }
        None
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
        return Err(ConfigError::new(format!(
            "slab size {slab_size} must be a power of two from {MIN_SLAB_SIZE} to {MAX_SLAB_SIZE}"
        )));
    }
    if slot_size < 16 || slot_size % granule != 0 || slot_size > slab_size - SLAB_DATA_OFFSET {
        return Err(ConfigError::new(format!(
            "slot size {slot_size} must be a multiple of {granule} (at least 16) that fits in a {slab_size}-byte slab"
        )));
    }
    Ok(())
}

/// A standalone pool of equal-sized slots: the building block of the
/// context's size classes, usable on its own.
///
/// Slots are at least 16-aligned (aligned to the largest power of two that
/// divides the slot size, up to 256). Dropping the pool returns its slabs to the
/// system; nothing stored in slots is dropped.
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
    budget: Budget,
}

// SAFETY: a SlabPool exclusively owns its slabs; nothing in it refers to
// thread-local state, so moving it to another thread is sound. It is not
// Sync (its Cells make that so), so only one thread uses it at a time.
unsafe impl Send for SlabPool {}

impl SlabPool {
    /// A pool of `slot_size`-byte slots in 64 KiB slabs. `slot_size` must be a
    /// multiple of 16.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// assert!(SlabPool::new(48).is_ok());
    /// assert!(SlabPool::new(20).is_err());
    /// ```
    pub fn new(slot_size: usize) -> Result<SlabPool, ConfigError> {
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
    pub fn with_slab_size(slot_size: usize, slab_size: usize) -> Result<SlabPool, ConfigError> {
        // Standalone pools promise 16-aligned slots, so sizes are multiples
        // of 16; a context's classes may be multiples of 8.
        validate_slab(slab_size, slot_size, 16)?;
        Ok(SlabPool {
            pool: ClassPool::new(slot_size, slab_size),
            budget: Budget::new(None),
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
    pub fn alloc(&self) -> Result<NonNull<u8>, AllocError> {
        self.pool.alloc_slot(&self.budget)
    }

    /// Returns a slot; it is the next one [`alloc`](Self::alloc) hands out.
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
        unsafe { self.pool.free_slot(slot) }
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

    /// Whether `ptr` points into one of this pool's slabs.
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
        self.pool.stats()
    }

    /// Bytes reserved from the system (slabs).
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

    /// Forgets every slot at once: keeps one slab, frees the rest.
    ///
    /// ```
    /// # use morph_runtime::SlabPool;
    /// let mut p = SlabPool::new(16).unwrap();
    /// p.alloc().unwrap();
    /// p.reset();
    /// assert_eq!(p.stats().live, 0);
    /// assert_eq!(p.stats().peak_live, 1);
    /// ```
    pub fn reset(&mut self) {
        self.pool.reset(&self.budget);
    }
}

impl Drop for SlabPool {
    fn drop(&mut self) {
        self.pool.release_all(&self.budget);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn reset_keeps_one_slab_and_the_peak() {
        let mut p = SlabPool::with_slab_size(64, 4096).unwrap();
        let per = (4096 - SLAB_DATA_OFFSET) / 64;
        for _ in 0..per + 1 {
            p.alloc().unwrap();
        }
        assert_eq!(p.reserved_bytes(), 8192);
        p.reset();
        let s = p.stats();
        assert_eq!((s.slabs, s.live, s.carved, s.peak_live), (1, 0, 0, per + 1));
        assert_eq!(p.reserved_bytes(), 4096);
        p.alloc().unwrap();
        assert_eq!(p.stats().slabs, 1);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(SlabPool::with_slab_size(16, 3000).is_err());
        assert!(SlabPool::with_slab_size(16, 1024).is_err());
        assert!(SlabPool::with_slab_size(8, 4096).is_err());
        assert!(SlabPool::with_slab_size(4096, 4096).is_err());
    }
}
