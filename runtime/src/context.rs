//! [`MorphContext`]: a header on every object, and routing to the pools, the
//! arena or the large-object space.

use crate::arena::{Arena, MAX_ALIGN};
use crate::boxed::{MorphBox, Rejected};
use crate::config::{Config, LargeObjects, Routing};
use crate::error::Error;
use crate::fallible::try_vec_from_fn;
use crate::header::{ARENA_CLASS, HEADER_SIZE, Header, MIN_ARENA_SHIFT, TypeTag, shift_for};
use crate::large::LargeSpace;
use crate::size_class::{GRANULE, LUT_LEN, MAX_CLASSES, MAX_SMALL, NO_CLASS, slot_align};
use crate::slab::{ClassPool, Miss, SLAB_DATA_OFFSET, SlabCache};
use crate::stats::{ArenaObjects, ClassReport, ContextStats, PoolTotals};
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::NonNull;

/// Counters of objects routed to the arena (off the fast path).
#[derive(Default)]
struct ArenaCounters {
    allocations: Cell<u64>,
    frees: Cell<u64>,
    requested: Cell<u64>,
    live_objects: Cell<usize>,
    live_bytes: Cell<usize>,
    dead_bytes: Cell<usize>,
    reclaimed: Cell<u64>,
}

/// A memory context for a compiler or interpreter: every object gets an
/// 8-byte [`Header`]; header + payload of at most 256 bytes goes to the slab
/// pool of the smallest size class that fits, larger objects to a chunked
/// bump arena.
///
/// **Values are never dropped** by the typed helpers (`alloc`,
/// `alloc_slice_copy`, …), which refuse types that need `Drop` at compile
/// time; [`MorphContext::boxed`] gives an owner that does run `Drop`.
/// Allocation takes `&self`, so many objects can be alive at once for the
/// context's lifetime; [`reset`](MorphContext::reset) takes `&mut self`, so no
/// reference survives it. A context is `Send` but not `Sync`: use one per
/// thread.
///
/// ```
/// use morph_runtime::{MorphContext, TypeTag};
/// use std::alloc::Layout;
///
/// let ctx = MorphContext::new();
/// let p = ctx.alloc_layout(Layout::new::<[u64; 2]>(), TypeTag(1));
/// // SAFETY: `p` came from this context and is not used afterwards.
/// unsafe { ctx.free(p) };
/// let q = ctx.alloc_layout(Layout::new::<[u64; 2]>(), TypeTag(1));
/// assert_eq!(p, q, "the freed slot is reused at once");
/// assert_eq!(ctx.stats().live_objects, 1);
/// ```
///
/// References cannot outlive the context:
///
/// ```compile_fail
/// let r = {
///     let ctx = morph_runtime::MorphContext::new();
///     ctx.alloc(1u32)
/// };
/// ```
///
/// And a context cannot be shared between threads:
///
/// ```compile_fail
/// let ctx = morph_runtime::MorphContext::new();
/// std::thread::scope(|s| {
///     s.spawn(|| ctx.try_alloc(1u8).map(|_| ()));
/// });
/// ```
pub struct MorphContext {
    /// `lut[ceil(total / GRANULE)]` (`GRANULE` = 8, so 33 entries up to
    /// 256 bytes): the class for a block of `total` bytes, or [`NOT_POOLED`]
    /// (whose pool's slow path sends the request on to the arena or the
    /// large-object space, so the fast path tests nothing).
    lut: [u8; LUT_LEN],
    /// `!(slab_size - 1)`: a slot's slab by masking (next to the table, on
    /// the line every allocation and free reads).
    slab_mask: usize,
    /// Per-class pools, and the placeholder at [`NOT_POOLED`]; their
    /// counters are the only ones the fast paths touch. Every context-wide
    /// figure is derived from them in `stats`.
    pools: [ClassPool; MAX_CLASSES + 1],
    /// Empty slabs any class may take, and the retention limit.
    slabs: SlabCache,
    /// Objects over the pool limit, with [`LargeObjects::Freeable`].
    large: LargeSpace,
    /// Scratch bits for walks: one per slot of the slab with most slots.
    walk_bits: Cell<Vec<u64>>,
    arena_counters: ArenaCounters,
    resets: Cell<u64>,
    /// The arena; its budget is shared with the pools.
    arena: Arena,
    config: Config,
    #[cfg(feature = "debug-checks")]
    debug: core::cell::RefCell<crate::debug::DebugState>,
    #[cfg(feature = "debug-checks")]
    leak_report_on_drop: Cell<bool>,
}

/// The pool index of sizes no class holds: the placeholder pool after the
/// classes.
// `MAX_CLASSES < NO_CLASS` (asserted below), so the index fits a byte.
#[allow(clippy::cast_possible_truncation)]
const NOT_POOLED: u8 = MAX_CLASSES as u8;
const _: () = assert!(MAX_CLASSES < NO_CLASS as usize);

// SAFETY: a MorphContext exclusively owns its slabs, chunks and large
// objects and refers to no thread-local state, so it may be moved to another
// thread. Its Cells make it !Sync, so it is never used from two threads at
// once.
unsafe impl Send for MorphContext {}

impl Default for MorphContext {
    fn default() -> Self {
        Self::new()
    }
}

impl MorphContext {
    /// A context with the [`Config::compiler`] preset. It reserves no slab
    /// or chunk, only its small bookkeeping (a few hundred bytes); like
    /// `Vec::with_capacity`, it panics if even that is refused, where
    /// [`with_config`](Self::with_config) returns the error.
    ///
    /// ```
    /// # use morph_runtime::MorphContext;
    /// let ctx = MorphContext::new();
    /// assert_eq!(ctx.stats().bytes_reserved, 0, "slabs and chunks are made on first use");
    /// ```
    pub fn new() -> MorphContext {
        match Self::with_config(Config::compiler()) {
            Ok(ctx) => ctx,
            Err(e) => crate::typed::alloc_failed(e),
        }
    }

    /// A context with the given configuration.
    ///
    /// ```
    /// # use morph_runtime::{Config, MorphContext};
    /// let ctx = MorphContext::with_config(Config::arena_only()).unwrap();
    /// assert!(MorphContext::with_config(Config::compiler().with_slab_size(3)).is_err());
    /// ```
    pub fn with_config(config: Config) -> Result<MorphContext, Error> {
        config.validate()?;
        let classes = config.size_classes();
        let slab = config.slab_size();
        let pools = core::array::from_fn(|c| {
            let size = if c < classes.len() {
                classes.size_of_class(c)
            } else {
                0
            };
            ClassPool::new(size, slab)
        });
        let mut lut = *classes.lut();
        for entry in &mut lut {
            if *entry == NO_CLASS {
                *entry = NOT_POOLED;
            }
        }
        let most_slots = (slab - SLAB_DATA_OFFSET) / 16;
        let walk_bits =
            try_vec_from_fn(most_slots.div_ceil(64), |_| 0u64).map_err(crate::error::refused)?;
        let (first, cap) = config.chunk_sizes();
        Ok(MorphContext {
            lut,
            slab_mask: !(slab - 1),
            pools,
            slabs: SlabCache::new(slab, config.retain_empty() / slab),
            large: LargeSpace::new(),
            walk_bits: Cell::new(walk_bits),
            arena_counters: ArenaCounters::default(),
            resets: Cell::new(0),
            arena: Arena::build(first, cap, config.budget()),
            config,
            #[cfg(feature = "debug-checks")]
            debug: Default::default(),
            #[cfg(feature = "debug-checks")]
            leak_report_on_drop: Cell::new(false),
        })
    }

    /// The configuration the context was built with.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, Routing};
    /// assert_eq!(MorphContext::new().config().routing(), Routing::PoolsAndArena);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Allocates an object of `layout` with type tag `tag` and returns a
    /// pointer to its payload, as [`try_alloc_layout`](Self::try_alloc_layout)
    /// does; panics if memory cannot be had.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::new::<[u32; 3]>(), TypeTag(6));
    /// // SAFETY: `p` came from `alloc_layout` of this context.
    /// assert_eq!(unsafe { ctx.header(p) }.tag(), TypeTag(6));
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn alloc_layout(&self, layout: Layout, tag: TypeTag) -> NonNull<u8> {
        crate::typed::or_panic(self.try_alloc_layout(layout, tag))
    }

    /// Allocates an object of `layout` with type tag `tag` and returns a
    /// pointer to its payload, which is aligned to `layout.align()` (any power
    /// of two up to 2^29) and preceded by its [`Header`].
    ///
    /// The fast path (alignment at most 8, header + payload at most 256
    /// bytes): one table load for the class, a free-list pop or a bump, the
    /// header store and the counters.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(24, 8).unwrap(), TypeTag(2));
    /// // SAFETY: `p` came from `alloc_layout` of this context.
    /// let h = unsafe { ctx.header(p) };
    /// assert_eq!((h.size(), h.tag(), h.class()), (24, TypeTag(2), Some(2))); // 32 bytes
    /// ```
    #[inline(always)]
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_layout(&self, layout: Layout, tag: TypeTag) -> Result<NonNull<u8>, Error> {
        #[cfg(feature = "debug-checks")]
        return self.debug_alloc(layout, tag, core::panic::Location::caller());
        #[cfg(not(feature = "debug-checks"))]
        self.alloc_unchecked(layout, tag)
    }

    /// The allocation itself, without debug bookkeeping.
    #[inline(always)]
    fn alloc_unchecked(&self, layout: Layout, tag: TypeTag) -> Result<NonNull<u8>, Error> {
        let size = layout.size();
        if layout.align() <= HEADER_SIZE {
            // `size <= isize::MAX`, so this cannot overflow. Written as a
            // shift rather than `div_ceil`, which compiles to more
            // instructions because it must handle overflow.
            let g = (size + HEADER_SIZE + GRANULE - 1) >> GRANULE.trailing_zeros();
            if g < LUT_LEN {
                return self.alloc_in_class(self.lut[g], size, tag, 3);
            }
        }
        self.alloc_general(layout, tag)
    }

    /// Serves a request from a pool; `shift` = log2(max(8, align)).
    #[inline(always)]
    fn alloc_in_class(
        &self,
        class: u8,
        size: usize,
        tag: TypeTag,
        shift: u32,
    ) -> Result<NonNull<u8>, Error> {
        debug_assert!((class as usize) <= MAX_CLASSES && size <= MAX_SMALL);
        // SAFETY: `class` comes from the lookup table or `pool_for`, whose
        // entries are all at most NOT_POOLED = MAX_CLASSES, the last pool.
        let pool = unsafe { self.pools.get_unchecked(class as usize) };
        let slot = match pool.alloc_slot() {
            Some(slot) => slot,
            None => match pool.refill(&self.slabs, self.arena.budget()) {
                Ok(slot) => slot,
                Err(miss) => return self.alloc_missed(miss, size, tag, shift),
            },
        };
        pool.note_request(size);
        // SAFETY: the class was chosen so that `(1 << shift) + size` fits the
        // slot, and the slot is aligned to at least `1 << shift`; the header
        // occupies the 8 bytes before the payload, inside the slot.
        unsafe {
            let payload = slot.as_ptr().add(1 << shift);
            // `size < slot size <= MAX_SMALL` (256), so it fits 32 bits; a
            // checked conversion here would cost the fast path.
            #[allow(clippy::cast_possible_truncation)]
            let size = size as u32;
            let header = Header::new(size, tag, class, shift);
            header.store(payload.sub(HEADER_SIZE).cast());
            if shift > 3 {
                // An over-aligned object's header is not at its slot's
                // start: a copy there tells a walk where the payload is
                // (folded away on the fast path, where `shift` is 3).
                header.store(slot.as_ptr().cast());
            }
            Ok(NonNull::new_unchecked(payload))
        }
    }

    /// The pool gave no slot: a size no class holds (routed on), or a
    /// refused slab.
    #[cold]
    #[inline(never)]
    fn alloc_missed(
        &self,
        miss: Miss,
        size: usize,
        tag: TypeTag,
        shift: u32,
    ) -> Result<NonNull<u8>, Error> {
        match miss {
            Miss::Refused(e) => Err(e),
            Miss::NotPooled => {
                let align = 1usize << shift;
                let layout = Layout::from_size_align(size, align)
                    .map_err(|_| Error::InvalidLayout { size, align })?;
                self.alloc_large(layout, tag)
            }
        }
    }

    /// Over-aligned requests and everything that goes to the arena.
    #[inline(never)]
    fn alloc_general(&self, layout: Layout, tag: TypeTag) -> Result<NonNull<u8>, Error> {
        let (size, align) = (layout.size(), layout.align());
        // The header holds the size in 32 bits: larger payloads are refused
        // (the arena and the large-object space check it again).
        if align > MAX_ALIGN || u32::try_from(size).is_err() {
            return Err(Error::InvalidLayout { size, align });
        }
        let shift = shift_for(align);
        let offset = 1usize << shift;
        if let Some(class) = self.pool_for(size, offset) {
            return self.alloc_in_class(class, size, tag, shift);
        }
        self.alloc_large(layout, tag)
    }

    /// An object over the pool limit: to the arena or the large-object
    /// space, as configured.
    fn alloc_large(&self, layout: Layout, tag: TypeTag) -> Result<NonNull<u8>, Error> {
        if self.config.large_objects() == LargeObjects::Freeable {
            return self.large.alloc(layout, tag, self.arena.budget());
        }
        let (size, align) = (layout.size(), layout.align());
        let Ok(size32) = u32::try_from(size) else {
            return Err(Error::InvalidLayout { size, align });
        };
        // At least a 16-byte offset: the 8-byte one marks pool objects alone.
        let shift = shift_for(align).max(MIN_ARENA_SHIFT);
        let offset = 1usize << shift;
        let total = arena_block(offset, size).ok_or(Error::InvalidLayout { size, align })?;
        let block = Layout::from_size_align(total, offset)
            .map_err(|_| Error::InvalidLayout { size, align })?;
        let start = self.arena.try_alloc_layout(block)?;
        let c = &self.arena_counters;
        c.allocations.set(c.allocations.get() + 1);
        c.requested.set(c.requested.get() + size as u64);
        c.live_objects.set(c.live_objects.get() + 1);
        c.live_bytes.set(c.live_bytes.get() + size);
        // SAFETY: the block holds at least `offset + size` bytes and is
        // aligned to `offset >= 16`; the header goes in the 8 bytes before the
        // payload.
        unsafe {
            let payload = start.as_ptr().add(offset);
            Header::new(size32, tag, ARENA_CLASS, shift).store(payload.sub(HEADER_SIZE).cast());
            Ok(NonNull::new_unchecked(payload))
        }
    }

    /// The class that serves `size` payload bytes at `offset` (= max(8,
    /// align)) from the block start: the smallest that holds them and whose
    /// slots are aligned to `offset`; `None` for the arena or the
    /// large-object space.
    #[inline]
    fn pool_for(&self, size: usize, offset: usize) -> Option<u8> {
        let g = size.checked_add(offset)?.div_ceil(GRANULE);
        match self.lut.get(g) {
            Some(&c) if c != NOT_POOLED => (c as usize..self.config.size_classes().len())
                .find(|&c| slot_align(self.pools[c].slot_size()) >= offset)
                .and_then(|c| u8::try_from(c).ok()),
            _ => None,
        }
    }

    /// Frees an object. A pool object's slot goes back on its slab's free
    /// list (the next one handed out, if its slab is the one being allocated
    /// from; a slab left empty goes to the cache every class shares); a
    /// large object's block goes back to the system; an arena object's bytes
    /// are counted as dead, and reclaimed if it was the most recent arena
    /// allocation.
    ///
    /// # Safety
    /// `ptr` must have been returned by [`alloc_layout`](Self::alloc_layout) or
    /// [`realloc`](Self::realloc) of this context (not a pointer derived from a
    /// reference the typed helpers returned), must not have been freed since,
    /// and must not be used afterwards.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::new::<u64>(), TypeTag(0));
    /// // SAFETY: from this context, freed once, not used again.
    /// unsafe { ctx.free(p) };
    /// assert_eq!(ctx.stats().live_objects, 0);
    /// ```
    #[inline(always)]
    pub unsafe fn free(&self, ptr: NonNull<u8>) {
        #[cfg(feature = "debug-checks")]
        if !self.debug_free(ptr) {
            return;
        }
        // SAFETY: forwarded from the caller (and, with debug checks, the
        // pointer was just found in the table of live objects).
        unsafe { self.free_unchecked(ptr) }
    }

    /// # Safety
    /// As for [`free`](Self::free).
    #[inline(always)]
    unsafe fn free_unchecked(&self, ptr: NonNull<u8>) {
        // SAFETY: the caller guarantees `ptr` is a live payload of ours, so
        // the 8 bytes before it hold its header.
        let header = unsafe { ptr.as_ptr().sub(HEADER_SIZE).cast::<Header>().read() };
        if let Some(class) = header.plain_pool_class() {
            // SAFETY: a plain pool object's payload follows its header at the
            // slot start; the class was written by `alloc_in_class`.
            unsafe { self.free_pooled(ptr.as_ptr().sub(HEADER_SIZE), class) }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { self.free_other(ptr, header) }
        }
    }

    /// # Safety
    /// `slot` is the start of a live slot of class `class` holding the object
    /// whose header is `header`; the caller gives it up.
    #[inline(always)]
    unsafe fn free_pooled(&self, slot: *mut u8, class: u8) {
        // SAFETY: the class index was written by `alloc_in_class` and is below
        // MAX_CLASSES; the caller guarantees the slot.
        unsafe {
            let pool = self.pools.get_unchecked(class as usize);
            pool.free_slot(
                NonNull::new_unchecked(slot),
                self.slab_mask,
                &self.slabs,
                self.arena.budget(),
            );
        }
    }

    /// Frees an over-aligned or flagged pool object, a large object, or an
    /// arena object.
    ///
    /// # Safety
    /// As for [`free`](Self::free), with `header` the object's header.
    #[inline(never)]
    unsafe fn free_other(&self, ptr: NonNull<u8>, header: Header) {
        if header.is_large() {
            // SAFETY: forwarded from the caller: a live large object of ours.
            unsafe { self.large.free(ptr, header, self.arena.budget()) }
        } else if !header.is_arena() {
            // SAFETY: the slot starts `payload_offset` bytes before the payload.
            unsafe {
                let slot = ptr.as_ptr().sub(header.payload_offset());
                self.free_pooled(slot, header.raw_class());
            }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { self.free_arena(ptr, header) }
        }
    }

    /// # Safety
    /// As for [`free`](Self::free), with `header` the object's header.
    #[inline(always)]
    unsafe fn free_arena(&self, ptr: NonNull<u8>, header: Header) {
        let size = header.size();
        let offset = header.payload_offset();
        let c = &self.arena_counters;
        c.frees.set(c.frees.get() + 1);
        c.live_objects.set(c.live_objects.get() - 1);
        c.live_bytes.set(c.live_bytes.get() - size);
        // The size `alloc_large` gave the block (no overflow: it did the same
        // sum with this size, or a larger one before an in-place shrink).
        let block = arena_block(offset, size).unwrap_or(offset + size);
        // SAFETY: the block starts `offset` bytes before the payload and is
        // at least `block` bytes long; the caller gives it up.
        let reclaimed = unsafe {
            let start = NonNull::new_unchecked(ptr.as_ptr().sub(offset));
            self.arena.reclaim_last(start, block)
        };
        if reclaimed {
            c.reclaimed.set(c.reclaimed.get() + 1);
        } else {
            c.dead_bytes.set(c.dead_bytes.get() + block);
        }
    }

    /// Resizes an object to `new_size` bytes, keeping its alignment, tag and
    /// the first `min(old, new)` bytes. It stays in place when the new size
    /// belongs in the same class (or, for an arena object, shrinks and still
    /// belongs in the arena; for a large object, keeps its size); otherwise
    /// it moves, between classes or between pools and the arena or the
    /// large-object space, so every object sits where its size calls for.
    /// On error the old object is untouched.
    ///
    /// # Safety
    /// As for [`free`](Self::free): `ptr` is a live object of this context. On
    /// success the old pointer must not be used again.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::array::<u8>(4).unwrap(), TypeTag(9));
    /// // SAFETY: `p` is live and 4 bytes long.
    /// unsafe { p.as_ptr().copy_from(b"lox!".as_ptr(), 4) };
    /// // SAFETY: `p` is live and from this context; it is not used after.
    /// let q = unsafe { ctx.realloc(p, 1000) }.unwrap();
    /// // SAFETY: `q` is live and at least 4 bytes long.
    /// let h = unsafe { ctx.header(q) };
    /// assert!(h.is_arena() && h.size() == 1000 && h.tag() == TypeTag(9));
    /// // SAFETY: as above.
    /// assert_eq!(unsafe { std::slice::from_raw_parts(q.as_ptr(), 4) }, b"lox!");
    /// ```
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub unsafe fn realloc(&self, ptr: NonNull<u8>, new_size: usize) -> Result<NonNull<u8>, Error> {
        #[cfg(feature = "debug-checks")]
        // SAFETY: forwarded from the caller.
        return unsafe { self.debug_realloc(ptr, new_size, core::panic::Location::caller()) };
        #[cfg(not(feature = "debug-checks"))]
        // SAFETY: forwarded from the caller.
        unsafe {
            self.realloc_unchecked(ptr, new_size)
        }
    }

    /// # Safety
    /// As for [`realloc`](Self::realloc).
    unsafe fn realloc_unchecked(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
    ) -> Result<NonNull<u8>, Error> {
        // SAFETY: the caller guarantees `ptr` is a live object of ours.
        let header_ptr = unsafe { ptr.as_ptr().sub(HEADER_SIZE).cast::<Header>() };
        // SAFETY: as above.
        let header = unsafe { header_ptr.read() };
        let (old, offset) = (header.size(), header.payload_offset());
        let in_place = match header.class() {
            Some(class) => self.pool_for(new_size, offset).map(usize::from) == Some(class),
            // A large block is freed with the layout its header gives, so
            // its size cannot change in place.
            None if header.is_large() => new_size == old,
            None => new_size <= old && self.pool_for(new_size, offset).is_none(),
        };
        // In place only when the new size also fits the header (a pool
        // class, or an arena object that shrinks: both below 2^32).
        let in_place_size = if in_place {
            u32::try_from(new_size).ok()
        } else {
            None
        };
        if let Some(size32) = in_place_size {
            let mut h = header;
            h.set_size(size32);
            // SAFETY: the header is ours to update; the object stays in place.
            unsafe { header_ptr.write(h) };
            match header.class() {
                Some(class) => self.pools[class].note_request(new_size),
                None if header.is_large() => self.large.resized(old, new_size),
                None => {
                    let c = &self.arena_counters;
                    c.live_bytes.set(c.live_bytes.get() - old + new_size);
                    // The block's tail past the new size is dead from now on
                    // (a later free accounts for the new size only).
                    let block = |size| arena_block(offset, size).unwrap_or(offset + size);
                    c.dead_bytes
                        .set(c.dead_bytes.get() + block(old) - block(new_size));
                }
            }
            return Ok(ptr);
        }
        let layout = Layout::from_size_align(new_size, offset.min(MAX_ALIGN)).map_err(|_| {
            Error::InvalidLayout {
                size: new_size,
                align: offset,
            }
        })?;
        let new = self.alloc_unchecked(layout, header.tag())?;
        // SAFETY: both objects are live, distinct, and at least
        // `min(old, new_size)` bytes long; then the old one is given up as the
        // caller promised.
        unsafe {
            core::ptr::copy_nonoverlapping(ptr.as_ptr(), new.as_ptr(), old.min(new_size));
            self.free_unchecked(ptr);
        }
        Ok(new)
    }

    /// Reads an object's header.
    ///
    /// # Safety
    /// `ptr` must be a live object returned by [`alloc_layout`](Self::alloc_layout)
    /// or [`realloc`](Self::realloc) of this context (or derived from such a
    /// pointer without narrowing its provenance).
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::new::<[u8; 300]>(), TypeTag(4));
    /// // SAFETY: `p` is live and from this context.
    /// assert!(unsafe { ctx.header(p) }.is_arena());
    /// ```
    #[inline]
    pub unsafe fn header(&self, ptr: NonNull<u8>) -> Header {
        // SAFETY: the caller guarantees a header precedes `ptr`.
        unsafe { ptr.as_ptr().sub(HEADER_SIZE).cast::<Header>().read() }
    }

    /// Sets or clears flag bits ([`Header::MARK`], [`Header::USER`]) of an
    /// object's header, as a collector's mark phase does.
    ///
    /// # Safety
    /// As for [`header`](Self::header).
    ///
    /// ```
    /// # use morph_runtime::{Header, MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::new::<u32>(), TypeTag(1));
    /// // SAFETY: `p` is live and from this context.
    /// unsafe {
    ///     ctx.set_flags(p, Header::MARK, true);
    ///     assert!(ctx.header(p).is_marked());
    /// }
    /// ```
    #[inline]
    pub unsafe fn set_flags(&self, ptr: NonNull<u8>, flags: u8, on: bool) {
        // SAFETY: the caller guarantees a header precedes `ptr`; no reference
        // to the header exists (the runtime hands out payloads only).
        let h = unsafe { &mut *ptr.as_ptr().sub(HEADER_SIZE).cast::<Header>() };
        h.set_flag(flags & (Header::MARK | Header::USER), on);
    }

    /// Moves `value` into the context with type tag `tag`; never dropped.
    /// Panics if memory cannot be had.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let v = ctx.alloc_tagged(1.5f64, TypeTag(5));
    /// assert_eq!(*v, 1.5);
    /// ```
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[track_caller]
    pub fn alloc_tagged<T>(&self, value: T, tag: TypeTag) -> &mut T {
        crate::typed::or_panic(self.alloc_with_tag(value, tag))
    }

    /// Moves `value` into the context with type tag `tag`, or returns why it
    /// cannot.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let v = ctx.try_alloc_tagged((1u8, 2u16), TypeTag(5)).unwrap();
    /// assert_eq!(*v, (1, 2));
    /// assert_eq!(ctx.stats().classes[0].stats.allocations, 1);
    /// ```
    #[inline(always)]
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_tagged<T>(&self, value: T, tag: TypeTag) -> Result<&mut T, Error> {
        self.alloc_with_tag(value, tag)
    }

    /// Moves `value` into an owner that drops it and frees its slot when it
    /// goes out of scope. If allocation fails the value comes back in the
    /// error.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// {
    ///     let b = ctx.boxed(String::from("owned"), TypeTag(3)).unwrap();
    ///     assert_eq!(b.len(), 5);
    ///     assert_eq!(ctx.stats().live_objects, 1);
    /// }
    /// assert_eq!(ctx.stats().live_objects, 0);
    /// ```
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn boxed<T>(&self, value: T, tag: TypeTag) -> Result<MorphBox<'_, T>, Rejected<T>> {
        match self.try_alloc_layout(Layout::new::<T>(), tag) {
            Ok(p) => {
                let p = p.cast::<T>();
                // SAFETY: fresh memory sized and aligned for `T`.
                unsafe { p.as_ptr().write(value) };
                // SAFETY: `p` holds an initialised `T` allocated by `self`.
                Ok(unsafe { MorphBox::from_raw(p, self) })
            }
            Err(error) => Err(Rejected { error, value }),
        }
    }

    #[inline(always)]
    #[cfg_attr(feature = "debug-checks", track_caller)]
    fn alloc_layout_tagged(&self, layout: Layout, tag: TypeTag) -> Result<NonNull<u8>, Error> {
        self.try_alloc_layout(layout, tag)
    }

    crate::typed::typed_alloc_methods!(MorphContext, "MorphContext::new()");

    /// Gives back an object whose construction failed (a typed helper's
    /// closure panicked).
    ///
    /// # Safety
    /// `ptr` came from `alloc_layout_tagged` of this context and nothing
    /// refers to it.
    unsafe fn abandon(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: forwarded from the caller: a live object of this context.
        unsafe { self.free(ptr) }
    }

    /// Copies a string into the context with type tag `tag`; an empty string
    /// allocates nothing. Panics if memory cannot be had.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert_eq!(ctx.alloc_str_tagged("fun", TypeTag(7)), "fun");
    /// assert_eq!(ctx.stats().live_objects, 1);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[track_caller]
    pub fn alloc_str_tagged(&self, s: &str, tag: TypeTag) -> &mut str {
        crate::typed::or_panic(self.str_tagged(s, tag))
    }

    /// As [`alloc_str_tagged`](Self::alloc_str_tagged), returning the error.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert_eq!(ctx.try_alloc_str_tagged("", TypeTag(7)).unwrap(), "");
    /// assert_eq!(ctx.stats().live_objects, 0, "empty: nothing allocated");
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_str_tagged(&self, s: &str, tag: TypeTag) -> Result<&mut str, Error> {
        self.str_tagged(s, tag)
    }

    /// Copies a slice into the context with type tag `tag`. Panics if memory
    /// cannot be had.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let mut ctx = MorphContext::new();
    /// assert_eq!(ctx.alloc_slice_copy_tagged(&[1u32, 2], TypeTag(8)), &[1, 2]);
    /// let mut seen = Vec::new();
    /// ctx.for_each_object(|_, h| seen.push((h.tag(), h.size())));
    /// assert_eq!(seen, [(TypeTag(8), 8)]);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[track_caller]
    pub fn alloc_slice_copy_tagged<T: Copy>(&self, src: &[T], tag: TypeTag) -> &mut [T] {
        crate::typed::or_panic(self.slice_copy_tagged(src, tag))
    }

    /// As [`alloc_slice_copy_tagged`](Self::alloc_slice_copy_tagged),
    /// returning the error.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert!(ctx.try_alloc_slice_copy_tagged(&[0u8; 3], TypeTag(8)).is_ok());
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_slice_copy_tagged<T: Copy>(
        &self,
        src: &[T],
        tag: TypeTag,
    ) -> Result<&mut [T], Error> {
        self.slice_copy_tagged(src, tag)
    }

    /// Clones a slice into the context with type tag `tag`. Panics if memory
    /// cannot be had.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert_eq!(ctx.alloc_slice_clone_tagged(&[(1, 'a')], TypeTag(9)), &[(1, 'a')]);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[track_caller]
    pub fn alloc_slice_clone_tagged<T: Clone>(&self, src: &[T], tag: TypeTag) -> &mut [T] {
        crate::typed::or_panic(self.slice_fill_tagged(src.len(), |i| src[i].clone(), tag))
    }

    /// As [`alloc_slice_clone_tagged`](Self::alloc_slice_clone_tagged),
    /// returning the error.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert!(ctx.try_alloc_slice_clone_tagged(&[1u8], TypeTag(9)).is_ok());
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_slice_clone_tagged<T: Clone>(
        &self,
        src: &[T],
        tag: TypeTag,
    ) -> Result<&mut [T], Error> {
        self.slice_fill_tagged(src.len(), |i| src[i].clone(), tag)
    }

    /// Allocates, with type tag `tag`, a slice holding what an iterator of
    /// known length yields. Panics if memory cannot be had or the iterator
    /// yields fewer items than its `len()` said.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let ids = ctx.alloc_slice_fill_iter_tagged((0..4u16).rev(), TypeTag(10));
    /// assert_eq!(ids, &[3, 2, 1, 0]);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[track_caller]
    pub fn alloc_slice_fill_iter_tagged<T, I>(&self, iter: I, tag: TypeTag) -> &mut [T]
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        crate::typed::or_panic(self.slice_iter_tagged(iter, tag))
    }

    /// As [`alloc_slice_fill_iter_tagged`](Self::alloc_slice_fill_iter_tagged),
    /// returning the allocation error.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// assert!(ctx.try_alloc_slice_fill_iter_tagged(0..0u8, TypeTag(10)).unwrap().is_empty());
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    #[cfg_attr(feature = "debug-checks", track_caller)]
    pub fn try_alloc_slice_fill_iter_tagged<T, I>(
        &self,
        iter: I,
        tag: TypeTag,
    ) -> Result<&mut [T], Error>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        self.slice_iter_tagged(iter, tag)
    }

    /// Frees every object at once. Every slab goes to the empty-slab cache
    /// (kept up to the retention limit, the rest given back to the system),
    /// every large object is freed, and the arena keeps its largest chunk,
    /// so the next round allocates without asking the system. Counters
    /// restart from zero; peaks are kept.
    ///
    /// ```
    /// # use morph_runtime::MorphContext;
    /// let mut ctx = MorphContext::new();
    /// for i in 0..1000u64 { ctx.alloc(i); }
    /// ctx.reset();
    /// let s = ctx.stats();
    /// assert_eq!((s.live_objects, s.classes[0].stats.peak_carved), (0, 1000));
    /// assert_eq!((s.pools.slabs, s.slabs.cached), (0, 1));
    /// ```
    pub fn reset(&mut self) {
        let budget = self.arena.budget();
        for pool in &mut self.pools {
            pool.reset(&self.slabs, budget);
        }
        self.large.free_all(budget);
        self.large.restart_counters();
        self.arena.reset();
        self.arena_counters = ArenaCounters::default();
        #[cfg(feature = "debug-checks")]
        self.debug.get_mut().clear();
        self.resets.set(self.resets.get() + 1);
    }

    /// A snapshot of every counter.
    ///
    /// ```
    /// # use morph_runtime::MorphContext;
    /// let ctx = MorphContext::new();
    /// ctx.alloc_str("hello");
    /// let s = ctx.stats();
    /// assert_eq!((s.live_objects, s.live_bytes, s.header_bytes), (1, 5, 8));
    /// assert_eq!(s.pools.slack_bytes, 16 - 8 - 5);
    /// ```
    pub fn stats(&self) -> ContextStats {
        let n = self.config.size_classes().len();
        // Live objects and their payload bytes per class, from the headers:
        // the fast paths keep neither.
        let mut live = [(0usize, 0usize); MAX_CLASSES];
        let mut bits = self.walk_bits.take();
        for (class, (objects, bytes)) in live.iter_mut().enumerate().take(n) {
            self.pools[class].for_each_live_slot(&mut bits, |slot| {
                // SAFETY: a live slot of this context holds an object.
                let (_, header) = unsafe { object_in_slot(slot) };
                *objects += 1;
                *bytes += header.size();
            });
        }
        self.walk_bits.set(bits);
        let classes: Vec<ClassReport> = self.pools[..n]
            .iter()
            .zip(live)
            .map(|(p, (objects, bytes))| ClassReport::new(p.stats(objects), p.requested(), bytes))
            .collect();
        let c = &self.arena_counters;
        let arena_live_objects = c.live_objects.get();
        let arena_live_bytes = c.live_bytes.get();
        let pool_live_objects: usize = classes.iter().map(|r| r.stats.live).sum();
        let pool_live_payload: usize = classes.iter().map(|r| r.live_payload_bytes).sum();
        let live_slot_bytes: usize = classes.iter().map(|r| r.live_slot_bytes).sum();
        let large = self.large.stats();
        let pools = PoolTotals {
            slabs: classes.iter().map(|r| r.stats.slabs).sum(),
            bytes_reserved: classes.iter().map(|r| r.stats.slabs).sum::<usize>()
                * self.config.slab_size(),
            live_objects: pool_live_objects,
            live_payload_bytes: pool_live_payload,
            live_slot_bytes,
            slack_bytes: classes.iter().map(|r| r.slack_bytes).sum(),
            free_slot_bytes: classes
                .iter()
                .map(|r| r.stats.free_slots * r.stats.slot_size)
                .sum(),
            uncarved_bytes: classes
                .iter()
                .map(|r| (r.stats.slots - r.stats.carved) * r.stats.slot_size)
                .sum(),
        };
        let arena = ArenaObjects {
            allocations: c.allocations.get(),
            frees: c.frees.get(),
            bytes_requested: c.requested.get(),
            live_objects: arena_live_objects,
            live_payload_bytes: arena_live_bytes,
            dead_bytes: c.dead_bytes.get(),
            reclaimed: c.reclaimed.get(),
            chunks: self.arena.stats(),
        };
        let allocations = classes.iter().map(|r| r.stats.allocations).sum::<u64>()
            + arena.allocations
            + large.allocations;
        let frees = classes.iter().map(|r| r.stats.frees).sum::<u64>() + arena.frees + large.frees;
        let live_objects = pool_live_objects + arena_live_objects + large.live_objects;
        ContextStats {
            routing: self.config.routing(),
            allocations,
            frees,
            live_objects,
            bytes_requested: classes.iter().map(|r| r.bytes_requested).sum::<u64>()
                + arena.bytes_requested
                + large.bytes_requested,
            live_bytes: pool_live_payload + arena_live_bytes + large.live_payload_bytes,
            header_bytes: live_objects * HEADER_SIZE,
            bytes_reserved: self.arena.budget().reserved(),
            peak_bytes_reserved: self.arena.budget().peak(),
            budget: self.arena.budget().limit(),
            resets: self.resets.get(),
            pools,
            slabs: self.slabs.stats(),
            large,
            arena,
            classes,
        }
    }

    /// Calls `f` with every live object in the pools and the large-object
    /// space: its payload pointer and its header. Objects in the arena are
    /// not visited (bump memory keeps no object boundaries). Taking `&mut
    /// self` means nothing can allocate or free while the walk runs; reading
    /// a payload through the pointer is the caller's `unsafe`.
    ///
    /// ```
    /// use morph_runtime::{Config, MorphContext, TypeTag};
    /// let mut ctx = MorphContext::with_config(Config::runtime()).unwrap();
    /// ctx.alloc_tagged(1u64, TypeTag(1));
    /// ctx.alloc_slice_copy(&[0u8; 500]);
    /// let mut seen = Vec::new();
    /// ctx.for_each_object(|_, header| seen.push((header.size(), header.is_large())));
    /// seen.sort();
    /// assert_eq!(seen, [(8, false), (500, true)]);
    /// ```
    pub fn for_each_object(&mut self, mut f: impl FnMut(NonNull<u8>, Header)) {
        let mut bits = self.walk_bits.take();
        for pool in &self.pools[..self.config.size_classes().len()] {
            pool.for_each_live_slot(&mut bits, |slot| {
                // SAFETY: a live slot of this context holds an object.
                let (payload, header) = unsafe { object_in_slot(slot) };
                f(payload, header);
            });
        }
        self.walk_bits.set(bits);
        self.large.for_each(|payload| {
            // SAFETY: a live large object has its header before it.
            f(payload, unsafe { self.header(payload) });
        });
    }

    /// The sweep of a mark-and-sweep collector: frees every object in the
    /// pools and the large-object space whose [`Header::MARK`] bit is clear
    /// (calling `on_free` with it first) and clears the bit of the others,
    /// walking the context's own slabs and large objects, so a collector
    /// keeps no list of its objects. Slabs it empties go to the shared
    /// cache, or back to the system past the retention limit. Arena objects
    /// are neither visited nor freed.
    ///
    /// Safe: `&mut self` means no reference into the context is alive; raw
    /// pointers to objects the sweep frees dangle afterwards, as after
    /// [`free`](Self::free).
    ///
    /// ```
    /// use morph_runtime::{Config, Header, MorphContext, TypeTag};
    /// use std::alloc::Layout;
    /// let mut ctx = MorphContext::with_config(Config::runtime()).unwrap();
    /// let keep = ctx.alloc_layout(Layout::new::<u64>(), TypeTag(1));
    /// for _ in 0..100 {
    ///     ctx.alloc_layout(Layout::new::<[u64; 3]>(), TypeTag(2));
    /// }
    /// // SAFETY: `keep` is a live object of `ctx`.
    /// unsafe { ctx.set_flags(keep, Header::MARK, true) };
    /// let mut freed_tags = 0;
    /// let s = ctx.sweep(|_, header| freed_tags += u32::from(header.tag().0));
    /// assert_eq!((s.kept, s.freed, freed_tags), (1, 100, 200));
    /// // SAFETY: `keep` survived the sweep, its mark cleared for the next one.
    /// assert!(!unsafe { ctx.header(keep) }.is_marked());
    /// assert_eq!(ctx.stats().live_objects, 1);
    /// ```
    pub fn sweep(&mut self, mut on_free: impl FnMut(NonNull<u8>, Header)) -> SweepStats {
        let mut out = SweepStats::default();
        let mut bits = self.walk_bits.take();
        let this = &*self;
        let mut visit = |payload: NonNull<u8>, header: Header| {
            if header.is_marked() {
                // SAFETY: a live object of this context.
                unsafe { this.set_flags(payload, Header::MARK, false) };
                out.kept += 1;
            } else {
                on_free(payload, header);
                out.freed += 1;
                out.freed_bytes += header.size();
                // SAFETY: a live object of this context, given up by the
                // sweep's contract; the walks allow freeing the object they
                // hand over (see `for_each_live_slot` and `LargeSpace::for_each`).
                unsafe { this.free(payload) };
            }
        };
        for pool in &this.pools[..this.config.size_classes().len()] {
            pool.for_each_live_slot(&mut bits, |slot| {
                // SAFETY: a live slot of this context holds an object.
                let (payload, header) = unsafe { object_in_slot(slot) };
                visit(payload, header);
            });
        }
        this.large.for_each(|payload| {
            // SAFETY: a live large object has its header before it.
            visit(payload, unsafe { this.header(payload) });
        });
        this.walk_bits.set(bits);
        out
    }

    /// Changes how many bytes of empty slabs the context keeps for reuse;
    /// what is cached beyond the new limit goes back to the system at once.
    ///
    /// ```
    /// use morph_runtime::{Config, MorphContext};
    /// let mut ctx = MorphContext::with_config(Config::runtime()).unwrap();
    /// for i in 0..10_000u64 { ctx.alloc(i); }
    /// ctx.reset();
    /// assert!(ctx.stats().slabs.cached > 0);
    /// ctx.set_retain_empty(0);
    /// assert_eq!(ctx.stats().slabs.cached, 0);
    /// ```
    pub fn set_retain_empty(&mut self, bytes: usize) {
        self.slabs
            .set_retain(bytes / self.config.slab_size(), self.arena.budget());
    }

    /// Changes the byte budget (`None`: no limit) shared by the pools, the
    /// arena and the large-object space, while the context is in use.
    /// Memory already reserved stays; below it, every allocation that needs
    /// a new slab, chunk or large block fails with
    /// [`Error::BudgetExceeded`] until memory is given back.
    ///
    /// ```
    /// use morph_runtime::{Error, MorphContext};
    /// let ctx = MorphContext::new();
    /// ctx.alloc(1u64);
    /// ctx.set_budget(Some(ctx.stats().bytes_reserved));
    /// let big = ctx.try_alloc_slice_copy(&[0u8; 100_000]);
    /// assert!(matches!(big, Err(Error::BudgetExceeded { .. })));
    /// ctx.set_budget(None);
    /// assert_eq!(ctx.stats().budget, None);
    /// ```
    pub fn set_budget(&self, limit: Option<usize>) {
        self.arena.budget().set_limit(limit);
    }

    /// The statistics as pretty-printed JSON (feature `serde`).
    ///
    /// ```
    /// # use morph_runtime::MorphContext;
    /// let ctx = MorphContext::new();
    /// ctx.alloc(1u64);
    /// let v: serde_json::Value = serde_json::from_str(&ctx.report_json()).unwrap();
    /// assert_eq!(v["live_objects"], 1);
    /// assert_eq!(v["routing"], "pools-and-arena");
    /// ```
    #[cfg(feature = "serde")]
    pub fn report_json(&self) -> String {
        serde_json::to_string_pretty(&self.stats()).expect("stats serialize without error")
    }

    /// Whether `ptr` points into memory this context holds (a slab in use
    /// or cached, a large object or a chunk). Walks the slab and chunk lists: for checks, not hot paths.
    ///
    /// ```
    /// # use morph_runtime::MorphContext;
    /// let ctx = MorphContext::new();
    /// let x = ctx.alloc(1u32);
    /// assert!(ctx.owns(x as *const u32 as *const u8));
    /// assert!(!ctx.owns(&0u8));
    /// ```
    pub fn owns(&self, ptr: *const u8) -> bool {
        self.pools.iter().any(|p| p.slot_size() != 0 && p.owns(ptr))
            || self.slabs.holds_empty(ptr.addr())
            || self.large.find(ptr.addr()).is_some()
            || self.arena.owns(ptr)
    }

    /// `ptr` rebuilt from the context's own pointer to the slab or chunk
    /// holding it, so that it carries the provenance of the whole block,
    /// header included. A pointer derived from a reference (as
    /// `allocator_api2`'s `Box` passes to `deallocate`) may only cover the
    /// payload; reading the header through it would be undefined behaviour
    /// under Rust's aliasing rules. Walks the slab and chunk lists: for the
    /// `Allocator` path, not the fast path. `None` if the context does not
    /// hold `ptr`.
    pub(crate) fn rebase(&self, ptr: NonNull<u8>) -> Option<NonNull<u8>> {
        let addr = ptr.as_ptr().addr();
        let base = self
            .pools
            .iter()
            .filter(|p| p.slot_size() != 0)
            .find_map(|p| p.find(addr))
            .or_else(|| self.large.find(addr))
            .or_else(|| self.arena.find(addr))?;
        NonNull::new(base.with_addr(addr))
    }

    /// Records a pointer the context was asked to free or resize but does
    /// not hold. Nothing is read through it; with debug checks it is
    /// reported as a foreign pointer.
    #[cold]
    pub(crate) fn refuse_foreign(&self, ptr: NonNull<u8>) {
        #[cfg(feature = "debug-checks")]
        self.debug.borrow_mut().on_free(ptr.as_ptr() as usize);
        #[cfg(not(feature = "debug-checks"))]
        let _ = ptr;
    }

    /// Which routing is in force.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, Routing};
    /// assert_eq!(MorphContext::new().routing(), Routing::PoolsAndArena);
    /// ```
    pub fn routing(&self) -> Routing {
        self.config.routing()
    }
}

#[cfg(feature = "debug-checks")]
impl MorphContext {
    /// Bytes of canary that fit after the payload without changing the
    /// object's layout: the slot's spare bytes (none for arena objects).
    fn canary_room(&self, ptr: NonNull<u8>, size: usize) -> usize {
        // SAFETY: callers pass live objects of this context.
        let header = unsafe { self.header(ptr) };
        match header.class() {
            Some(class) => (self.pools[class].slot_size() - header.payload_offset() - size)
                .min(crate::debug::CANARY_SIZE),
            None => 0,
        }
    }

    /// The allocation, then a canary in the slot's spare bytes and a record
    /// of the object. Routing, classes and statistics are exactly as without
    /// the checks.
    fn debug_alloc(
        &self,
        layout: Layout,
        tag: TypeTag,
        site: &'static core::panic::Location<'static>,
    ) -> Result<NonNull<u8>, Error> {
        let p = self.alloc_unchecked(layout, tag)?;
        self.debug_record(p, layout.size(), tag, site);
        Ok(p)
    }

    fn debug_record(
        &self,
        p: NonNull<u8>,
        size: usize,
        tag: TypeTag,
        site: &'static core::panic::Location<'static>,
    ) {
        use crate::debug::{CANARY, LiveObject};
        let canary = self.canary_room(p, size);
        // SAFETY: the slot has `canary` spare bytes after the payload.
        unsafe {
            p.as_ptr()
                .add(size)
                .copy_from_nonoverlapping(CANARY.as_ptr(), canary)
        };
        self.debug.borrow_mut().on_alloc(
            p.as_ptr() as usize,
            LiveObject {
                size,
                canary,
                tag,
                site,
            },
        );
    }

    /// Reports a broken canary of a live object.
    fn debug_check_canary(&self, ptr: NonNull<u8>, object: crate::debug::LiveObject) {
        // SAFETY: the object is live with `canary` bytes after its payload.
        let found =
            unsafe { core::slice::from_raw_parts(ptr.as_ptr().add(object.size), object.canary) };
        if found != &crate::debug::CANARY[..object.canary] {
            self.debug
                .borrow_mut()
                .overflow(ptr.as_ptr() as usize, object);
        }
    }

    /// Checks a free: refuses (reporting it) a pointer that is not live;
    /// reports a broken canary; poisons the payload. Returns whether the
    /// free may go ahead.
    fn debug_free(&self, ptr: NonNull<u8>) -> bool {
        let Some(object) = self.debug.borrow_mut().on_free(ptr.as_ptr() as usize) else {
            return false;
        };
        self.debug_check_canary(ptr, object);
        // SAFETY: the table says `ptr` is a live object of `size` bytes plus
        // its canary; the caller is giving it up.
        unsafe {
            ptr.as_ptr()
                .write_bytes(crate::debug::POISON, object.size + object.canary)
        };
        true
    }

    /// `realloc` with the object checked first and the table updated after.
    ///
    /// # Safety
    /// As for [`realloc`](Self::realloc).
    unsafe fn debug_realloc(
        &self,
        ptr: NonNull<u8>,
        new_size: usize,
        site: &'static core::panic::Location<'static>,
    ) -> Result<NonNull<u8>, Error> {
        let address = ptr.as_ptr() as usize;
        let known = self.debug.borrow().lookup(address);
        let Some(object) = known else {
            // Record the misuse exactly as a free would, and refuse.
            self.debug.borrow_mut().on_free(address);
            return Err(Error::ForeignPointer { address });
        };
        self.debug_check_canary(ptr, object);
        // SAFETY: forwarded from the caller; `ptr` is live.
        let new = unsafe { self.realloc_unchecked(ptr, new_size) }?;
        self.debug.borrow_mut().forget(address);
        self.debug_record(new, new_size, object.tag, site);
        Ok(new)
    }

    /// Every misuse detected so far (each was also printed on stderr).
    ///
    /// ```
    /// use morph_runtime::{debug::ViolationKind, MorphContext};
    /// let ctx = MorphContext::new();
    /// let mut x = 0u64;
    /// // SAFETY: a foreign pointer is refused before anything is touched.
    /// unsafe { ctx.free(std::ptr::NonNull::from(&mut x).cast()) };
    /// assert_eq!(ctx.violations()[0].kind, ViolationKind::ForeignPointer);
    /// ```
    pub fn violations(&self) -> Vec<crate::debug::Violation> {
        self.debug.borrow().violations()
    }

    /// Live objects by type tag, with their allocation sites.
    ///
    /// ```
    /// use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let b = ctx.boxed(5u8, TypeTag(2)).unwrap();
    /// assert_eq!(ctx.leak_report().by_tag[&2].objects, 1);
    /// drop(b);
    /// assert!(ctx.leak_report().is_empty());
    /// ```
    pub fn leak_report(&self) -> crate::debug::LeakReport {
        self.debug.borrow().leak_report()
    }

    /// Whether to print the leak report on stderr when the context is
    /// dropped with objects still live (off by default: objects from the
    /// typed helpers are meant to live until the context goes).
    ///
    /// ```
    /// let ctx = morph_runtime::MorphContext::new();
    /// ctx.set_leak_report_on_drop(true);
    /// ```
    pub fn set_leak_report_on_drop(&self, on: bool) {
        self.leak_report_on_drop.set(on);
    }
}

impl Drop for MorphContext {
    fn drop(&mut self) {
        #[cfg(feature = "debug-checks")]
        if self.leak_report_on_drop.get() {
            let report = self.debug.get_mut().leak_report();
            if !report.is_empty() {
                use std::io::Write as _;
                let _ = write!(std::io::stderr(), "{report}");
            }
        }
        let budget = self.arena.budget();
        for pool in &mut self.pools {
            pool.release_all(&self.slabs, budget);
        }
        self.slabs.release_all(budget);
        self.large.free_all(budget);
        // The arena releases its chunks when it drops.
    }
}

/// Bytes of an arena block for `size` payload bytes at `offset`: rounded up
/// to the 16 bytes every arena block is aligned to, so that freeing the most
/// recent object gives back exactly what it took (no padding is left below
/// the next block).
fn arena_block(offset: usize, size: usize) -> Option<usize> {
    offset
        .checked_add(size)?
        .checked_next_multiple_of(1 << MIN_ARENA_SHIFT)
}

/// What a [`MorphContext::sweep`] did.
///
/// ```
/// let s = morph_runtime::stats::SweepStats::default();
/// assert_eq!((s.kept, s.freed, s.freed_bytes), (0, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SweepStats {
    /// Marked objects, kept (their marks now clear).
    pub kept: usize,
    /// Unmarked objects, freed.
    pub freed: usize,
    /// Payload bytes of the freed objects.
    pub freed_bytes: usize,
}

/// The payload and header of the object in a live pool slot. The slot's
/// first word is a header whose offset gives the payload (the object's own
/// header for a plain object, a copy of it for an over-aligned one).
///
/// # Safety
/// `slot` is a live slot of a context, with the provenance of its slab.
unsafe fn object_in_slot(slot: *mut u8) -> (NonNull<u8>, Header) {
    // SAFETY: the caller guarantees a live slot: its first word is a header
    // (see `alloc_in_class`), and the payload lies `payload_offset` bytes on,
    // its header just before it.
    unsafe {
        let offset = slot.cast::<Header>().read().payload_offset();
        let payload = slot.add(offset);
        let header = payload.sub(HEADER_SIZE).cast::<Header>().read();
        (NonNull::new_unchecked(payload), header)
    }
}

impl core::fmt::Debug for MorphContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.stats();
        f.debug_struct("MorphContext")
            .field("routing", &s.routing)
            .field("live_objects", &s.live_objects)
            .field("live_bytes", &s.live_bytes)
            .field("bytes_reserved", &s.bytes_reserved)
            .finish()
    }
}
