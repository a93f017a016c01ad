//! Fixed-capacity pools: one contiguous buffer made at creation, O(1) alloc
//! and free, the free list threaded through the free slots, fresh slots
//! carved lazily.
//!
//! - [`RawFixedPool`]: object size and alignment given at run time (what the
//!   C ABI uses); frees can be checked, so a pointer it never handed out or
//!   one freed twice is refused instead of corrupting the free list.
//! - [`FixedPool<T>`]: typed, with [`PoolBox`] owners that drop the value and
//!   return the slot, tied to the pool's lifetime.
//! - [`BlockPool`]: zeroed byte blocks aligned for SIMD (32 or 64 bytes).

use crate::boxed::Rejected;
use crate::error::{ConfigError, Error};
use crate::fallible::try_vec_from_fn;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};

/// Size of a cache line on the machines this runtime targets.
pub(crate) const CACHE_LINE: usize = 64;

/// Statistics of a fixed-capacity pool.
///
/// ```
/// use morph_runtime::pool::FixedPool;
/// let pool = FixedPool::new(4).unwrap();
/// let a = pool.alloc(1u32).unwrap();
/// let b = pool.alloc(2u32).unwrap();
/// drop(a);
/// let s = pool.stats();
/// assert_eq!((s.capacity, s.live, s.peak_live, s.allocations, s.frees), (4, 1, 2, 2, 1));
/// assert_eq!(s.utilisation, 0.25);
/// # drop(b);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolStats {
    /// Slots in the pool.
    pub capacity: usize,
    /// Bytes of each slot.
    pub slot_size: usize,
    /// Slots in use.
    pub live: usize,
    /// Most slots in use at once.
    pub peak_live: usize,
    /// Allocations since creation or the last reset.
    pub allocations: u64,
    /// Frees since creation or the last reset.
    pub frees: u64,
    /// `live / capacity`.
    pub utilisation: f64,
}

/// Why a checked free was refused.
///
/// ```
/// use morph_runtime::{pool::{FreeError, RawFixedPool}};
/// let pool = RawFixedPool::new(16, 8, 4).unwrap();
/// let p = pool.alloc().unwrap();
/// // SAFETY: `p` is not used after being freed.
/// unsafe {
///     assert_eq!(pool.free_checked(p), Ok(()));
///     assert_eq!(pool.free_checked(p), Err(FreeError::NotLive));
/// }
/// let mut x = 0u64;
/// // SAFETY: a refused free touches nothing.
/// assert_eq!(unsafe { pool.free_checked(std::ptr::NonNull::from(&mut x).cast()) }, Err(FreeError::Foreign));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The pointer is not the start of one of this pool's slots.
    Foreign,
    /// The slot is not in use: freed twice, or never handed out.
    NotLive,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FreeError::Foreign => "the pointer was not handed out by this pool",
            FreeError::NotLive => "the slot is not in use (double free?)",
        })
    }
}

impl core::error::Error for FreeError {}

/// An untyped pool of `capacity` slots of one size, in one buffer.
///
/// Slots are at least 8 bytes (room for the free-list link) and aligned as
/// asked. A bit per slot records which are live, so
/// [`free_checked`](Self::free_checked) can refuse foreign pointers and
/// double frees (by address: once the slot is handed out again, a second
/// free of the old pointer frees the new object).
///
/// ```
/// use morph_runtime::pool::RawFixedPool;
/// let pool = RawFixedPool::new(1024, 16, 8).unwrap(); // eight 1 KiB objects
/// let blocks: Vec<_> = (0..8).map(|_| pool.alloc().unwrap()).collect();
/// assert!(pool.alloc().is_err(), "full");
/// // SAFETY: each block came from `pool` and is freed once.
/// unsafe { pool.free(blocks[3]) };
/// assert_eq!(pool.alloc().unwrap(), blocks[3]);
/// ```
pub struct RawFixedPool {
    base: NonNull<u8>,
    layout: Layout,
    slot: usize,
    capacity: usize,
    /// Free-list head (null when empty); each free slot's first word links on.
    free: Cell<*mut u8>,
    /// Slots `fresh..capacity` were never handed out.
    fresh: Cell<usize>,
    /// One bit per slot: set while the slot is handed out.
    live_bits: Vec<Cell<u64>>,
    live: Cell<usize>,
    peak: Cell<usize>,
    allocations: Cell<u64>,
    frees: Cell<u64>,
    zero_on_free: bool,
}

// SAFETY: the pool exclusively owns its buffer and refers to no thread-local
// state; its Cells keep it !Sync, so only one thread uses it at a time.
unsafe impl Send for RawFixedPool {}

impl RawFixedPool {
    /// A pool of `capacity` slots for objects of `size` bytes aligned to
    /// `align` (a power of two). Objects smaller than a pointer get a
    /// pointer-sized slot.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// assert_eq!(RawFixedPool::new(3, 1, 10).unwrap().stats().slot_size, 8);
    /// use morph_runtime::{ConfigError, Error};
    /// assert!(RawFixedPool::new(8, 3, 10).is_err());
    /// let max = isize::MAX as usize / 1024; // the slot is 1 KiB
    /// assert_eq!(
    ///     RawFixedPool::new(1024, 8, 0).err(),
    ///     Some(Error::Config(ConfigError::Capacity { capacity: 0, max }))
    /// );
    /// ```
    pub fn new(size: usize, align: usize, capacity: usize) -> Result<RawFixedPool, Error> {
        Self::with_zeroing(size, align, capacity, false)
    }

    /// As [`new`](Self::new); with `zero_on_free`, a slot's bytes are zeroed
    /// when it is released, so no data passes from one user to the next.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// let pool = RawFixedPool::with_zeroing(32, 8, 2, true).unwrap();
    /// let p = pool.alloc().unwrap();
    /// // SAFETY: `p` is a live 32-byte slot, freed once.
    /// unsafe {
    ///     p.as_ptr().write_bytes(0xAB, 32);
    ///     pool.free(p);
    ///     assert_eq!(*p.as_ptr().add(31), 0);
    /// }
    /// ```
    pub fn with_zeroing(
        size: usize,
        align: usize,
        capacity: usize,
        zero_on_free: bool,
    ) -> Result<RawFixedPool, Error> {
        if !align.is_power_of_two() || align > crate::arena::MAX_ALIGN {
            return Err(ConfigError::Alignment {
                align,
                min: 1,
                max: 1 << 29,
            }
            .into());
        }
        let align = align.max(core::mem::align_of::<*mut u8>());
        let slot = size
            .max(core::mem::size_of::<*mut u8>())
            .checked_next_multiple_of(align)
            .ok_or(ConfigError::ObjectSize { size })?;
        let layout = Some(capacity)
            .filter(|&c| c > 0)
            .and_then(|c| slot.checked_mul(c))
            .and_then(|total| Layout::from_size_align(total, align).ok())
            .ok_or(ConfigError::Capacity {
                capacity,
                max: (isize::MAX as usize) / slot,
            })?;
        // SAFETY: the layout has a non-zero size (slot >= 8, capacity >= 1).
        let base = NonNull::new(unsafe { alloc::alloc::alloc(layout) })
            .ok_or_else(|| crate::error::refused(layout.size()))?;
        Ok(RawFixedPool {
            base,
            layout,
            slot,
            capacity,
            free: Cell::new(ptr::null_mut()),
            fresh: Cell::new(0),
            live_bits: match try_vec_from_fn(capacity.div_ceil(64), |_| Cell::new(0)) {
                Ok(bits) => bits,
                Err(bytes) => {
                    // SAFETY: allocated just above with `layout`, never handed out.
                    unsafe { alloc::alloc::dealloc(base.as_ptr(), layout) };
                    return Err(crate::error::refused(bytes));
                }
            },
            live: Cell::new(0),
            peak: Cell::new(0),
            allocations: Cell::new(0),
            frees: Cell::new(0),
            zero_on_free,
        })
    }

    /// Hands out a slot, or [`Error::CapacityExhausted`] when all are in
    /// use.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// let pool = RawFixedPool::new(8, 8, 1).unwrap();
    /// assert!(pool.alloc().is_ok());
    /// assert!(pool.alloc().is_err());
    /// ```
    #[inline]
    pub fn alloc(&self) -> Result<NonNull<u8>, Error> {
        let head = self.free.get();
        let slot = if !head.is_null() {
            // SAFETY: free slots hold the link written by `release`.
            self.free.set(unsafe { head.cast::<*mut u8>().read() });
            head
        } else {
            let i = self.fresh.get();
            if i == self.capacity {
                return Err(Error::CapacityExhausted {
                    requested: 1,
                    capacity: self.capacity,
                });
            }
            self.fresh.set(i + 1);
            // SAFETY: `i < capacity`, so the slot lies inside the buffer.
            unsafe { self.base.as_ptr().add(i * self.slot) }
        };
        let index = self.index_of(slot);
        self.flip(index);
        let live = self.live.get() + 1;
        self.live.set(live);
        self.peak.set(self.peak.get().max(live));
        self.allocations.set(self.allocations.get() + 1);
        // SAFETY: `slot` points into the buffer, never null.
        Ok(unsafe { NonNull::new_unchecked(slot) })
    }

    fn index_of(&self, slot: *mut u8) -> usize {
        (slot as usize - self.base.as_ptr() as usize) / self.slot
    }

    fn flip(&self, index: usize) {
        let word = &self.live_bits[index / 64];
        word.set(word.get() ^ (1 << (index % 64)));
    }

    fn is_live(&self, index: usize) -> bool {
        self.live_bits[index / 64].get() & (1 << (index % 64)) != 0
    }

    /// Returns a slot; it is the next one handed out.
    ///
    /// # Safety
    /// `ptr` must have come from this pool's `alloc` and not been freed since;
    /// it must not be used afterwards.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// let pool = RawFixedPool::new(8, 8, 1).unwrap();
    /// let p = pool.alloc().unwrap();
    /// // SAFETY: from this pool, freed once.
    /// unsafe { pool.free(p) };
    /// assert_eq!(pool.stats().live, 0);
    /// ```
    #[inline]
    pub unsafe fn free(&self, ptr: NonNull<u8>) {
        debug_assert_eq!(self.check(ptr), Ok(self.index_of(ptr.as_ptr())));
        let index = self.index_of(ptr.as_ptr());
        // SAFETY: forwarded from the caller.
        unsafe { self.release(ptr, index) }
    }

    /// Returns a slot after checking that `ptr` is the start of one of this
    /// pool's slots and that the slot is in use; a refused pointer changes
    /// nothing.
    ///
    /// # Safety
    /// If `ptr` is a live slot of this pool, nothing may use it afterwards.
    ///
    /// ```
    /// use morph_runtime::{pool::{FreeError, RawFixedPool}};
    /// let pool = RawFixedPool::new(16, 16, 2).unwrap();
    /// let p = pool.alloc().unwrap();
    /// // SAFETY: an interior pointer is refused without effect.
    /// let inside = unsafe { std::ptr::NonNull::new_unchecked(p.as_ptr().add(4)) };
    /// assert_eq!(unsafe { pool.free_checked(inside) }, Err(FreeError::Foreign));
    /// ```
    pub unsafe fn free_checked(&self, ptr: NonNull<u8>) -> Result<(), FreeError> {
        let index = self.check(ptr)?;
        // SAFETY: `check` proved `ptr` is a live slot; the caller gives it up.
        unsafe { self.release(ptr, index) };
        Ok(())
    }

    fn check(&self, ptr: NonNull<u8>) -> Result<usize, FreeError> {
        let (addr, base) = (ptr.as_ptr() as usize, self.base.as_ptr() as usize);
        let end = base + self.slot * self.capacity;
        if addr < base || addr >= end || (addr - base) % self.slot != 0 {
            return Err(FreeError::Foreign);
        }
        let index = (addr - base) / self.slot;
        if !self.is_live(index) {
            return Err(FreeError::NotLive);
        }
        Ok(index)
    }

    /// # Safety
    /// `ptr` is live slot `index`, given up by the caller.
    unsafe fn release(&self, ptr: NonNull<u8>, index: usize) {
        let p = ptr.as_ptr();
        if self.zero_on_free {
            // SAFETY: the slot is `self.slot` bytes inside the buffer.
            unsafe { p.write_bytes(0, self.slot) };
        }
        // SAFETY: slots are pointer-aligned and at least pointer-sized.
        unsafe { p.cast::<*mut u8>().write(self.free.get()) };
        self.free.set(p);
        self.flip(index);
        self.live.set(self.live.get() - 1);
        self.frees.set(self.frees.get() + 1);
    }

    /// Forgets every slot at once (zeroing the used ones if the pool zeroes).
    /// Values in slots are not dropped.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// let mut pool = RawFixedPool::new(8, 8, 2).unwrap();
    /// pool.alloc().unwrap();
    /// pool.alloc().unwrap();
    /// pool.reset();
    /// assert!(pool.alloc().is_ok());
    /// assert_eq!(pool.stats().peak_live, 2);
    /// ```
    pub fn reset(&mut self) {
        if self.zero_on_free {
            // SAFETY: the first `fresh` slots lie inside the buffer.
            unsafe {
                self.base
                    .as_ptr()
                    .write_bytes(0, self.fresh.get() * self.slot)
            };
        }
        self.free.set(ptr::null_mut());
        self.fresh.set(0);
        for w in self.live_bits.iter() {
            w.set(0);
        }
        self.live.set(0);
        self.allocations.set(0);
        self.frees.set(0);
    }

    /// Statistics.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// assert_eq!(RawFixedPool::new(24, 8, 10).unwrap().stats().capacity, 10);
    /// ```
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            capacity: self.capacity,
            slot_size: self.slot,
            live: self.live.get(),
            peak_live: self.peak.get(),
            allocations: self.allocations.get(),
            frees: self.frees.get(),
            utilisation: self.live.get() as f64 / self.capacity as f64,
        }
    }

    /// Whether `ptr` points into this pool's buffer.
    ///
    /// ```
    /// use morph_runtime::pool::RawFixedPool;
    /// let pool = RawFixedPool::new(8, 8, 2).unwrap();
    /// let p = pool.alloc().unwrap();
    /// assert!(pool.owns(p.as_ptr()));
    /// assert!(!pool.owns(&0u8));
    /// ```
    pub fn owns(&self, ptr: *const u8) -> bool {
        let base = self.base.as_ptr() as usize;
        (base..base + self.slot * self.capacity).contains(&(ptr as usize))
    }
}

impl Drop for RawFixedPool {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_zeroing` with this layout.
        unsafe { alloc::alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// How a [`FixedPool`] lays out and releases its slots.
///
/// ```
/// use morph_runtime::{pool::{FixedPool, PoolOptions}};
/// let pool = FixedPool::<u64>::with_options(8, PoolOptions { cache_line: true, zero_on_free: true }).unwrap();
/// assert_eq!(pool.stats().slot_size, 64);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// Give each slot a whole 64-byte cache line, so objects used by
    /// different threads never share one (no false sharing).
    pub cache_line: bool,
    /// Zero a slot's bytes when it is released.
    pub zero_on_free: bool,
}

/// A fixed-capacity pool of `T`. [`alloc`](FixedPool::alloc) returns a
/// [`PoolBox`] that drops the value and returns its slot when it goes out of
/// scope; when the pool is full the value comes back in the error.
///
/// ```
/// use morph_runtime::pool::FixedPool;
/// let pool = FixedPool::new(2).unwrap();
/// let a = pool.alloc(String::from("a")).unwrap();
/// let b = pool.alloc(String::from("b")).unwrap();
/// let refused = pool.alloc(String::from("c")).unwrap_err();
/// assert_eq!(refused.value, "c", "nothing is lost");
/// drop(a);
/// assert_eq!(*pool.alloc(String::from("d")).unwrap(), "d");
/// # drop(b);
/// ```
///
/// A handle cannot outlive its pool:
///
/// ```compile_fail
/// let handle = {
///     let pool = morph_runtime::pool::FixedPool::new(1).unwrap();
///     pool.alloc(1u8).unwrap()
/// };
/// ```
///
/// And the pool cannot be reset while a handle lives:
///
/// ```compile_fail
/// let mut pool = morph_runtime::pool::FixedPool::new(1).unwrap();
/// let h = pool.alloc(1u8).unwrap();
/// pool.reset();
/// drop(h);
/// ```
pub struct FixedPool<T> {
    raw: RawFixedPool,
    _values: PhantomData<T>,
}

impl<T> FixedPool<T> {
    /// A pool for `capacity` values.
    ///
    /// ```
    /// use morph_runtime::pool::FixedPool;
    /// assert!(FixedPool::<[u8; 100]>::new(1000).is_ok());
    /// ```
    pub fn new(capacity: usize) -> Result<FixedPool<T>, Error> {
        Self::with_options(capacity, PoolOptions::default())
    }

    /// A pool with [`PoolOptions`].
    ///
    /// ```
    /// use morph_runtime::{pool::{FixedPool, PoolOptions}};
    /// let pool = FixedPool::<u8>::with_options(4, PoolOptions { cache_line: true, ..Default::default() }).unwrap();
    /// let a = pool.alloc(1).unwrap();
    /// let b = pool.alloc(2).unwrap();
    /// let gap = (&*b as *const u8 as usize).abs_diff(&*a as *const u8 as usize);
    /// assert_eq!(gap, 64);
    /// ```
    pub fn with_options(capacity: usize, options: PoolOptions) -> Result<FixedPool<T>, Error> {
        let (mut size, mut align) = (core::mem::size_of::<T>(), core::mem::align_of::<T>());
        if options.cache_line {
            size = size.next_multiple_of(CACHE_LINE).max(CACHE_LINE);
            align = align.max(CACHE_LINE);
        }
        Ok(FixedPool {
            raw: RawFixedPool::with_zeroing(size, align, capacity, options.zero_on_free)?,
            _values: PhantomData,
        })
    }

    /// Moves `value` into a slot. When the pool is full the value comes back
    /// in the error.
    ///
    /// ```
    /// use morph_runtime::pool::FixedPool;
    /// let pool = FixedPool::new(1).unwrap();
    /// let mut h = pool.alloc(vec![1, 2]).unwrap();
    /// h.push(3);
    /// assert_eq!(*h, [1, 2, 3]);
    /// ```
    #[inline]
    pub fn alloc(&self, value: T) -> Result<PoolBox<'_, T>, Rejected<T>> {
        match self.raw.alloc() {
            Ok(p) => {
                let p = p.cast::<T>();
                // SAFETY: the slot is sized and aligned for `T` and unused.
                unsafe { p.as_ptr().write(value) };
                Ok(PoolBox {
                    ptr: p,
                    pool: &self.raw,
                    _owns: PhantomData,
                })
            }
            Err(error) => Err(Rejected { error, value }),
        }
    }

    /// Frees every slot. `&mut self` guarantees no handle is alive (a handle
    /// that was leaked with `mem::forget` leaks its value).
    ///
    /// ```
    /// use morph_runtime::pool::FixedPool;
    /// let mut pool = FixedPool::new(1).unwrap();
    /// std::mem::forget(pool.alloc(1u8).unwrap());
    /// pool.reset();
    /// assert!(pool.alloc(2u8).is_ok());
    /// ```
    pub fn reset(&mut self) {
        self.raw.reset();
    }

    /// Statistics.
    ///
    /// ```
    /// use morph_runtime::pool::FixedPool;
    /// assert_eq!(FixedPool::<u32>::new(3).unwrap().stats().live, 0);
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.raw.stats()
    }
}

/// The owner of one value in a [`FixedPool`]: drops it and returns its slot
/// when dropped.
///
/// ```
/// use morph_runtime::{pool::{FixedPool, PoolBox}};
/// let pool = FixedPool::new(1).unwrap();
/// let h = pool.alloc(String::from("x")).unwrap();
/// assert_eq!(PoolBox::into_inner(h), "x");
/// assert_eq!(pool.stats().live, 0);
/// ```
pub struct PoolBox<'p, T> {
    ptr: NonNull<T>,
    pool: &'p RawFixedPool,
    _owns: PhantomData<T>,
}

impl<T> PoolBox<'_, T> {
    /// Moves the value out and frees the slot.
    ///
    /// ```
    /// use morph_runtime::{pool::{FixedPool, PoolBox}};
    /// let pool = FixedPool::new(1).unwrap();
    /// assert_eq!(PoolBox::into_inner(pool.alloc(5u8).unwrap()), 5);
    /// ```
    pub fn into_inner(this: Self) -> T {
        let this = core::mem::ManuallyDrop::new(this);
        // SAFETY: the box owns an initialised `T`, read once; the box is
        // not dropped, so the value is not dropped twice.
        let value = unsafe { this.ptr.as_ptr().read() };
        // SAFETY: the slot came from this pool and is given up.
        unsafe { this.pool.free(this.ptr.cast()) };
        value
    }
}

impl<T> Deref for PoolBox<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns an initialised `T` while it lives.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for PoolBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for PoolBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised `T` in a slot of `pool`; after
        // dropping the value the slot is returned and never used again.
        unsafe {
            self.ptr.as_ptr().drop_in_place();
            self.pool.free(self.ptr.cast());
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A pool of zeroed byte blocks of one size and a SIMD-friendly alignment
/// (32 for AVX, 64 for AVX-512 or a cache line; any power of two from 16 up
/// is accepted).
///
/// ```
/// use morph_runtime::pool::BlockPool;
/// let pool = BlockPool::new(256, 64, 16).unwrap();
/// let mut block = pool.alloc().unwrap();
/// assert_eq!(block.as_ptr() as usize % 64, 0);
/// assert!(block.iter().all(|&b| b == 0));
/// block[0] = 7;
/// ```
pub struct BlockPool {
    raw: RawFixedPool,
    block: usize,
}

impl BlockPool {
    /// `capacity` blocks of `block_size` bytes aligned to `align` (a power
    /// of two, at least 16).
    ///
    /// ```
    /// use morph_runtime::pool::BlockPool;
    /// assert!(BlockPool::new(100, 32, 4).is_ok());
    /// use morph_runtime::{ConfigError, Error};
    /// let too_big = Error::Config(ConfigError::Alignment { align: 1 << 30, min: 16, max: 1 << 29 });
    /// assert_eq!(BlockPool::new(100, 1 << 30, 4).err(), Some(too_big));
    /// assert!(BlockPool::new(100, 8, 4).is_err());
    /// ```
    pub fn new(block_size: usize, align: usize, capacity: usize) -> Result<BlockPool, Error> {
        if !align.is_power_of_two() || !(16..=crate::arena::MAX_ALIGN).contains(&align) {
            return Err(ConfigError::Alignment {
                align,
                min: 16,
                max: 1 << 29,
            }
            .into());
        }
        Ok(BlockPool {
            raw: RawFixedPool::new(block_size, align, capacity)?,
            block: block_size,
        })
    }

    /// A zeroed block, or [`Error::CapacityExhausted`] when all are in
    /// use.
    ///
    /// ```
    /// use morph_runtime::pool::BlockPool;
    /// let pool = BlockPool::new(32, 32, 1).unwrap();
    /// let b = pool.alloc().unwrap();
    /// assert_eq!(b.len(), 32);
    /// assert!(pool.alloc().is_err());
    /// ```
    pub fn alloc(&self) -> Result<Block<'_>, Error> {
        let p = self.raw.alloc()?;
        // SAFETY: the slot holds at least `block` bytes.
        unsafe { p.as_ptr().write_bytes(0, self.block) };
        Ok(Block {
            ptr: p,
            len: self.block,
            pool: &self.raw,
        })
    }

    /// Statistics.
    ///
    /// ```
    /// use morph_runtime::pool::BlockPool;
    /// assert_eq!(BlockPool::new(64, 64, 3).unwrap().stats().capacity, 3);
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.raw.stats()
    }
}

/// A block from a [`BlockPool`], returned when dropped.
///
/// ```
/// use morph_runtime::pool::BlockPool;
/// let pool = BlockPool::new(16, 16, 1).unwrap();
/// {
///     let mut b = pool.alloc().unwrap();
///     b.copy_from_slice(&[1; 16]);
/// }
/// assert_eq!(pool.stats().live, 0);
/// ```
pub struct Block<'p> {
    ptr: NonNull<u8>,
    len: usize,
    pool: &'p RawFixedPool,
}

impl Deref for Block<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the block owns `len` initialised (zeroed) bytes.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Block<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, uniquely borrowed.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // SAFETY: the block came from `pool` and is given up.
        unsafe { self.pool.free(self.ptr) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn handles_drop_their_values() {
        let marker = Rc::new(());
        let pool = FixedPool::new(3).unwrap();
        let a = pool.alloc(Rc::clone(&marker)).unwrap();
        let b = pool.alloc(Rc::clone(&marker)).unwrap();
        assert_eq!(Rc::strong_count(&marker), 3);
        drop(a);
        drop(b);
        assert_eq!(Rc::strong_count(&marker), 1);
        assert_eq!(pool.stats().live, 0);
    }

    #[test]
    fn lifo_reuse_and_full_pool() {
        let pool = FixedPool::new(2).unwrap();
        let a = pool.alloc(1u64).unwrap();
        let addr = &*a as *const u64;
        drop(a);
        let b = pool.alloc(2u64).unwrap();
        assert_eq!(&*b as *const u64, addr);
        let _c = pool.alloc(3u64).unwrap();
        let err = pool.alloc(4u64).unwrap_err();
        assert_eq!(err.value, 4);
        assert!(matches!(
            err.error,
            Error::CapacityExhausted { capacity: 2, .. }
        ));
    }

    #[test]
    fn zeroing_scrubs_released_slots() {
        let pool = FixedPool::with_options(
            1,
            PoolOptions {
                zero_on_free: true,
                ..Default::default()
            },
        )
        .unwrap();
        let h = pool.alloc([0xFFu8; 48]).unwrap();
        // The pool's own pointer (not one derived from `&*h`, which the drop
        // invalidates) keeps the buffer's provenance.
        let p = h.ptr.as_ptr().cast::<u8>().cast_const();
        drop(h);
        // SAFETY: the pool's buffer is alive; slot bytes 8.. are zero now
        // (the first word holds the free-list link).
        let tail = unsafe { std::slice::from_raw_parts(p.add(8), 40) };
        assert!(tail.iter().all(|&b| b == 0));
    }

    #[test]
    fn one_kib_objects_and_checked_frees() {
        let pool = RawFixedPool::new(1024, 8, 3).unwrap();
        let ps: Vec<_> = (0..3).map(|_| pool.alloc().unwrap()).collect();
        for p in &ps {
            // SAFETY: live 1 KiB slots.
            unsafe { p.as_ptr().write_bytes(1, 1024) };
        }
        // SAFETY: each freed once; the second free of ps[0] is refused.
        unsafe {
            assert_eq!(pool.free_checked(ps[0]), Ok(()));
            assert_eq!(pool.free_checked(ps[0]), Err(FreeError::NotLive));
        }
        assert_eq!(pool.stats().live, 2);
        let never = {
            let mut pool2 = RawFixedPool::new(1024, 8, 3).unwrap();
            let q = pool2.alloc().unwrap();
            pool2.reset();
            // SAFETY: reset made the slot not live: the free is refused.
            unsafe { pool2.free_checked(q) }
        };
        assert_eq!(never, Err(FreeError::NotLive));
    }

    #[test]
    fn block_alignment() {
        for align in [32, 64] {
            let pool = BlockPool::new(100, align, 5).unwrap();
            let blocks: Vec<_> = (0..5).map(|_| pool.alloc().unwrap()).collect();
            for b in &blocks {
                assert_eq!(b.as_ptr() as usize % align, 0);
                assert_eq!(b.len(), 100);
            }
        }
    }
}
