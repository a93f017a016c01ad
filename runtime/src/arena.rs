//! The chunked growing bump arena.
//!
//! **Values placed in an arena are never dropped.** The typed helpers refuse,
//! at compile time, any type that needs `Drop`; raw allocations are plain
//! bytes. Memory comes back all at once with [`Arena::reset`], back to a
//! checkpoint with [`Arena::rewind`], or when the arena is dropped.
//!
//! Allocation bumps a pointer *down* through the current chunk: subtract the
//! size, round down to the alignment, compare with the chunk start (about 8
//! instructions). When the chunk is full a `#[cold]` path adds one: chunks start
//! at 4 KiB and double up to a cap (2 MiB by default, the size at which
//! doubling stops paying, as rustc's arena also found). A request larger than
//! the cap gets a chunk of exactly its size that is never bumped into again, so
//! one huge request neither makes later chunks huge nor throws away the space
//! left in the current one.

use crate::budget::Budget;
use crate::error::{ConfigError, Error, RewindError};
use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};

/// Size of the first chunk: 4 KiB.
pub(crate) const DEFAULT_FIRST_CHUNK: usize = 4 * 1024;
/// Largest chunk made by doubling: 2 MiB.
pub(crate) const DEFAULT_CHUNK_CAP: usize = 2 * 1024 * 1024;
/// Largest alignment any allocation may ask for (512 MiB).
pub(crate) const MAX_ALIGN: usize = 1 << 29;

/// Alignment of every chunk allocation.
const CHUNK_ALIGN: usize = 16;
/// Bytes at the start of every chunk holding its header, rounded to CHUNK_ALIGN.
const CHUNK_HEADER: usize = core::mem::size_of::<ChunkHeader>().next_multiple_of(CHUNK_ALIGN);

/// Source of arena identities, so a mark can be checked against its arena.
static NEXT_ARENA_ID: AtomicU64 = AtomicU64::new(1);

/// The header at the start of every chunk.
#[repr(C)]
struct ChunkHeader {
    /// The chunk made before this one (all chunks form a list, newest first).
    prev: *mut ChunkHeader,
    /// Size of the allocation, header included.
    size: usize,
    /// Creation number: increases with every chunk the arena makes.
    seq: u64,
    /// Bytes in use when the chunk stopped being current (0 while current).
    used: usize,
    /// Bytes left unused when the chunk stopped being current.
    wasted: usize,
    /// Made for one request larger than the cap.
    oversized: bool,
}

impl ChunkHeader {
    fn data_start(this: *mut ChunkHeader) -> *mut u8 {
        this.cast::<u8>().wrapping_add(CHUNK_HEADER)
    }

    /// One past the last byte of the chunk.
    ///
    /// # Safety
    /// `this` must be a live chunk.
    unsafe fn end(this: *mut ChunkHeader) -> *mut u8 {
        // SAFETY: the caller guarantees `this` is live; `size` is its length.
        this.cast::<u8>().wrapping_add(unsafe { (*this).size })
    }
}

/// A position in an arena to come back to with [`Arena::rewind`].
///
/// ```
/// use morph_runtime::Arena;
/// let mut arena = Arena::new();
/// arena.alloc(1u32);
/// let used = arena.stats().bytes_used;
/// let mark = arena.mark();
/// for i in 0..1000u64 {
///     arena.alloc(i);
/// }
/// arena.rewind(mark).unwrap();
/// assert_eq!(arena.stats().bytes_used, used);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArenaMark {
    arena: u64,
    epoch: u64,
    /// Seq of the current chunk at the mark, or 0 if there was none.
    chunk_seq: u64,
    /// Seq of the newest chunk at the mark: every later chunk is released.
    newest_seq: u64,
    /// The bump pointer's address at the mark.
    addr: usize,
}

impl ArenaMark {
    /// The mark as plain words, to carry it where a Rust value cannot go
    /// (a C caller, a serialised checkpoint). Word 0 is the arena's identity.
    ///
    /// ```
    /// use morph_runtime::{Arena, ArenaMark};
    /// let mut arena = Arena::new();
    /// let mark = arena.mark();
    /// arena.alloc([0u8; 64]);
    /// let words = mark.to_words();
    /// assert_eq!(arena.rewind(ArenaMark::from_words(words)), Ok(()));
    /// assert_eq!(arena.stats().bytes_used, 0);
    /// ```
    pub fn to_words(self) -> [u64; 5] {
        [
            self.arena,
            self.epoch,
            self.chunk_seq,
            self.newest_seq,
            self.addr as u64,
        ]
    }

    /// A mark from plain words. Any words are safe: `rewind` checks every
    /// field against the arena's own state and refuses a mark that does not
    /// describe a live position of its arena. An address that does not fit
    /// a `usize` becomes one no chunk holds.
    ///
    /// ```
    /// use morph_runtime::{Arena, ArenaMark, RewindError};
    /// let mut arena = Arena::new();
    /// arena.alloc(1u64);
    /// let mut words = arena.mark().to_words();
    /// words[4] ^= 8; // an altered address is refused, nothing changes
    /// assert!(arena.rewind(ArenaMark::from_words(words)).is_err());
    /// words[0] ^= 1; // so is another arena's identity
    /// assert_eq!(arena.rewind(ArenaMark::from_words(words)), Err(RewindError::ForeignMark));
    /// ```
    pub fn from_words(w: [u64; 5]) -> ArenaMark {
        ArenaMark {
            arena: w[0],
            epoch: w[1],
            chunk_seq: w[2],
            newest_seq: w[3],
            addr: usize::try_from(w[4]).unwrap_or(usize::MAX),
        }
    }
}

/// One chunk of an arena, as [`Arena::chunks`] reports it.
///
/// ```
/// let a = morph_runtime::Arena::new();
/// a.alloc(7u64);
/// let c = a.chunks().next().unwrap();
/// assert_eq!((c.bytes, c.used, c.oversized), (4096, 8, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChunkUsage {
    /// Bytes reserved for the chunk, its header included.
    pub bytes: usize,
    /// Bytes handed out from it (alignment padding included).
    pub used: usize,
    /// Made for one request larger than the chunk cap.
    pub oversized: bool,
}

/// Statistics of an arena.
///
/// ```
/// use morph_runtime::Arena;
/// let arena = Arena::new();
/// arena.alloc([0u8; 100]);
/// let s = arena.stats();
/// assert_eq!(s.chunks, 1);
/// assert!(s.bytes_used >= 100 && s.bytes_used <= s.bytes_reserved);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ArenaStats {
    /// Chunks held.
    pub chunks: usize,
    /// Chunks held that were made for one oversized request.
    pub oversized_chunks: usize,
    /// Bytes reserved from the system (chunk headers included).
    pub bytes_reserved: usize,
    /// Bytes handed out, alignment padding included.
    pub bytes_used: usize,
    /// Bytes left unused at the ends of chunks that are no longer current.
    pub bytes_wasted: usize,
    /// Bytes still free in the current chunk.
    pub bytes_free_in_current: usize,
    /// Size of the next chunk the arena will make by doubling.
    pub next_chunk_size: usize,
}

/// A chunked growing bump arena.
///
/// **Nothing allocated in it is ever dropped**: types that need `Drop` are
/// refused at compile time by the typed helpers. All memory comes back at once
/// with [`reset`](Arena::reset) (which needs `&mut self`, so no reference into
/// the arena can still be alive) or when the arena is dropped.
///
/// ```
/// use morph_runtime::Arena;
/// let arena = Arena::new();
/// let x = arena.alloc(42u64);
/// let name = arena.alloc_str("token");
/// *x += 1;
/// assert_eq!((*x, &*name), (43, "token"));
/// ```
///
/// A type with a destructor is refused:
///
/// ```compile_fail
/// let arena = morph_runtime::Arena::new();
/// arena.alloc(String::from("would leak"));
/// ```
///
/// A reference cannot outlive its arena:
///
/// ```compile_fail
/// let r = {
///     let arena = morph_runtime::Arena::new();
///     arena.alloc(1u8)
/// };
/// ```
pub struct Arena {
    /// The bump pointer. Invariant: `start <= ptr <= end of current chunk`, or
    /// null with `start` the sentinel 1 when there is no current chunk.
    ptr: Cell<*mut u8>,
    /// Lowest usable address of the current chunk.
    start: Cell<*mut u8>,
    /// The chunk being bumped into, or null.
    current: Cell<*mut ChunkHeader>,
    /// Every chunk, newest first (the current one and oversized ones included).
    newest: Cell<*mut ChunkHeader>,
    next_size: Cell<usize>,
    cap: usize,
    /// Never grows: the one chunk made at construction is all there is.
    fixed: bool,
    seq: Cell<u64>,
    epoch: Cell<u64>,
    id: u64,
    chunks: Cell<usize>,
    oversized: Cell<usize>,
    reserved: Cell<usize>,
    /// Bytes used in chunks that are not current.
    used_retired: Cell<usize>,
    wasted: Cell<usize>,
    /// Bytes reserved from the system, and the limit. In a context the pools
    /// charge this budget too.
    budget: Budget,
}

// SAFETY: an Arena exclusively owns its chunks and refers to no thread-local
// state, so it may move to another thread. Its Cells keep it !Sync.
unsafe impl Send for Arena {}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    /// Size of the first chunk unless configured: 4 KiB.
    ///
    /// ```
    /// use morph_runtime::Arena;
    /// let a = Arena::new();
    /// a.alloc(1u8);
    /// assert_eq!(a.stats().bytes_reserved, Arena::DEFAULT_FIRST_CHUNK);
    /// ```
    pub const DEFAULT_FIRST_CHUNK: usize = DEFAULT_FIRST_CHUNK;

    /// Largest chunk made by doubling unless configured: 2 MiB.
    ///
    /// ```
    /// assert_eq!(morph_runtime::Arena::DEFAULT_CHUNK_CAP, 2 << 20);
    /// ```
    pub const DEFAULT_CHUNK_CAP: usize = DEFAULT_CHUNK_CAP;

    /// Largest alignment any allocation may ask for (512 MiB).
    ///
    /// ```
    /// use morph_runtime::Arena;
    /// use std::alloc::Layout;
    /// let a = Arena::new();
    /// let too_much = Layout::from_size_align(8, Arena::MAX_ALIGN * 2).unwrap();
    /// assert!(a.try_alloc_layout(too_much).is_err());
    /// ```
    pub const MAX_ALIGN: usize = MAX_ALIGN;

    /// An empty arena; the first chunk (4 KiB) is made on first use.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// assert_eq!(Arena::new().stats().chunks, 0);
    /// ```
    pub fn new() -> Arena {
        Self::build(DEFAULT_FIRST_CHUNK, DEFAULT_CHUNK_CAP, None)
    }

    /// An arena whose chunks start at `first` bytes and double up to `cap`
    /// (both powers of two, `first <= cap`, at least 256 bytes).
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let a = Arena::with_chunk_sizes(256, 1024).unwrap();
    /// a.alloc(0u8);
    /// assert_eq!(a.stats().bytes_reserved, 256);
    /// assert!(Arena::with_chunk_sizes(4096, 1024).is_err());
    /// ```
    pub fn with_chunk_sizes(first: usize, cap: usize) -> Result<Arena, ConfigError> {
        validate_chunks(first, cap)?;
        Ok(Self::build(first, cap, None))
    }

    /// An arena that reserves at most `limit` bytes from the system; past that,
    /// allocations fail with [`Error::BudgetExceeded`].
    ///
    /// ```
    /// # use morph_runtime::{Arena, Error};
    /// let a = Arena::with_budget(16 * 1024);
    /// assert!(a.try_alloc_slice_copy(&[0u8; 8000]).is_ok());
    /// assert!(matches!(a.try_alloc_slice_copy(&[0u8; 20000]), Err(Error::BudgetExceeded { .. })));
    /// ```
    pub fn with_budget(limit: usize) -> Arena {
        Self::build(DEFAULT_FIRST_CHUNK, DEFAULT_CHUNK_CAP, Some(limit))
    }

    /// Changes the byte budget (`None`: no limit) while the arena is in
    /// use. Memory already reserved stays; below it, every allocation that
    /// needs a new chunk fails until a reset or rewind gives chunks back.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let a = Arena::new();
    /// a.alloc(1u64);
    /// a.set_budget(Some(a.stats().bytes_reserved));
    /// assert!(a.try_alloc_slice_copy(&[0u8; 10_000]).is_err());
    /// a.set_budget(None);
    /// assert!(a.try_alloc_slice_copy(&[0u8; 10_000]).is_ok());
    /// ```
    pub fn set_budget(&self, limit: Option<usize>) {
        self.budget.set_limit(limit);
    }

    /// An arena of one buffer of `capacity` bytes that never grows: when it is
    /// full, allocations fail with [`Error::CapacityExhausted`].
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let a = Arena::with_fixed_capacity(64).unwrap();
    /// assert!(a.try_alloc([0u8; 64]).is_ok());
    /// assert!(a.try_alloc(0u8).is_err());
    /// ```
    pub fn with_fixed_capacity(capacity: usize) -> Result<Arena, Error> {
        let mut arena = Self::build(capacity, capacity, None);
        arena.fixed = true;
        let total = capacity
            .checked_add(CHUNK_HEADER)
            .filter(|&t| t <= isize::MAX as usize - CHUNK_ALIGN)
            .ok_or(Error::InvalidLayout {
                size: capacity,
                align: 1,
            })?;
        let chunk = arena.new_chunk(total, false)?;
        arena.make_current(chunk);
        Ok(arena)
    }

    pub(crate) fn build(first: usize, cap: usize, limit: Option<usize>) -> Arena {
        Arena {
            ptr: Cell::new(ptr::null_mut()),
            start: Cell::new(ptr::without_provenance_mut(1)),
            current: Cell::new(ptr::null_mut()),
            newest: Cell::new(ptr::null_mut()),
            next_size: Cell::new(first),
            cap,
            fixed: false,
            seq: Cell::new(0),
            epoch: Cell::new(0),
            id: NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed),
            chunks: Cell::new(0),
            oversized: Cell::new(0),
            reserved: Cell::new(0),
            used_retired: Cell::new(0),
            wasted: Cell::new(0),
            budget: Budget::new(limit),
        }
    }

    /// Allocates `layout.size()` bytes aligned to `layout.align()`; panics if
    /// memory cannot be had (see [`try_alloc_layout`](Self::try_alloc_layout)).
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// # use std::alloc::Layout;
    /// let a = Arena::new();
    /// let p = a.alloc_layout(Layout::from_size_align(24, 8).unwrap());
    /// assert_eq!(p.as_ptr() as usize % 8, 0);
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn alloc_layout(&self, layout: Layout) -> NonNull<u8> {
        crate::typed::or_panic(self.try_alloc_layout(layout))
    }

    /// Allocates `layout.size()` bytes aligned to `layout.align()`, or
    /// returns why it cannot.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// # use std::alloc::Layout;
    /// let a = Arena::new();
    /// let p = a.try_alloc_layout(Layout::from_size_align(100, 4096).unwrap()).unwrap();
    /// assert_eq!(p.as_ptr() as usize % 4096, 0);
    /// ```
    #[inline(always)]
    pub fn try_alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        let ptr = self.ptr.get();
        if let Some(new) = ptr.addr().checked_sub(layout.size()) {
            let new = new & !(layout.align() - 1);
            if new >= self.start.get().addr() {
                let p = ptr.with_addr(new);
                self.ptr.set(p);
                // SAFETY: `start <= new <= ptr` and `start` is a non-null
                // address inside the current chunk, so `p` is non-null.
                return Ok(unsafe { NonNull::new_unchecked(p) });
            }
        }
        self.alloc_slow(layout)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        let (size, align) = (layout.size(), layout.align());
        let invalid = Error::InvalidLayout { size, align };
        if align > MAX_ALIGN {
            return Err(invalid);
        }
        if self.fixed {
            let cur = self.current.get();
            // SAFETY: a fixed arena always has its one chunk.
            let capacity = unsafe { (*cur).size } - CHUNK_HEADER;
            return Err(Error::CapacityExhausted {
                requested: size,
                capacity,
            });
        }
        // A chunk of `need` bytes holds the object wherever its data starts.
        let need = size
            .checked_add(align - 1)
            .and_then(|n| n.checked_add(CHUNK_HEADER))
            .filter(|&n| n <= isize::MAX as usize - CHUNK_ALIGN)
            .ok_or(invalid)?;
        if need > self.cap {
            let chunk = self.new_chunk(need, true)?;
            // SAFETY: `chunk` is live and `need` bytes long.
            let end = unsafe { ChunkHeader::end(chunk) };
            let addr = (end.addr() - size) & !(align - 1);
            debug_assert!(addr >= ChunkHeader::data_start(chunk).addr());
            let used = end.addr() - addr;
            // SAFETY: the chunk is ours and not current; record its use.
            unsafe { (*chunk).used = used };
            self.used_retired.set(self.used_retired.get() + used);
            // SAFETY: `addr` lies inside the chunk, past its header.
            return Ok(unsafe { NonNull::new_unchecked(end.with_addr(addr)) });
        }
        let size_of_chunk = self
            .next_size
            .get()
            .max(need.next_power_of_two())
            .min(self.cap);
        let chunk = self.new_chunk(size_of_chunk.max(need), false)?;
        self.retire_current();
        self.make_current(chunk);
        self.next_size.set((size_of_chunk * 2).min(self.cap));
        // Cannot fail now: the fresh chunk holds `need` bytes.
        let ptr = self.ptr.get();
        let new = (ptr.addr() - size) & !(align - 1);
        debug_assert!(new >= self.start.get().addr());
        let p = ptr.with_addr(new);
        self.ptr.set(p);
        // SAFETY: `p` is inside the fresh chunk, non-null.
        Ok(unsafe { NonNull::new_unchecked(p) })
    }

    /// Allocates and links a chunk of `size` bytes (header included).
    fn new_chunk(&self, size: usize, oversized: bool) -> Result<*mut ChunkHeader, Error> {
        let layout =
            Layout::from_size_align(size, CHUNK_ALIGN).map_err(|_| Error::InvalidLayout {
                size,
                align: CHUNK_ALIGN,
            })?;
        self.budget.reserve(size)?;
        // SAFETY: `size >= CHUNK_HEADER > 0`.
        let base = unsafe { alloc::alloc::alloc(layout) };
        if base.is_null() {
            self.budget.release(size);
            return Err(Error::OutOfMemory { requested: size });
        }
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let chunk = base.cast::<ChunkHeader>();
        // SAFETY: fresh allocation of at least CHUNK_HEADER bytes, 16-aligned.
        unsafe {
            chunk.write(ChunkHeader {
                prev: self.newest.get(),
                size,
                seq,
                used: 0,
                wasted: 0,
                oversized,
            })
        };
        self.newest.set(chunk);
        self.chunks.set(self.chunks.get() + 1);
        self.oversized
            .set(self.oversized.get() + oversized as usize);
        self.reserved.set(self.reserved.get() + size);
        Ok(chunk)
    }

    /// Records the current chunk's use and waste as it stops being current.
    fn retire_current(&self) {
        let cur = self.current.get();
        if cur.is_null() {
            return;
        }
        let ptr = self.ptr.get().addr();
        // SAFETY: `cur` is a live chunk of ours.
        let used = unsafe { ChunkHeader::end(cur) }.addr() - ptr;
        let wasted = ptr - self.start.get().addr();
        // SAFETY: as above.
        unsafe {
            (*cur).used = used;
            (*cur).wasted = wasted;
        }
        self.used_retired.set(self.used_retired.get() + used);
        self.wasted.set(self.wasted.get() + wasted);
    }

    fn make_current(&self, chunk: *mut ChunkHeader) {
        self.current.set(chunk);
        self.start.set(ChunkHeader::data_start(chunk));
        // SAFETY: `chunk` is live.
        self.ptr.set(unsafe { ChunkHeader::end(chunk) });
    }

    /// Gives back the most recent allocation if `ptr` is it, so the next
    /// allocation reuses its bytes. Returns whether it did.
    ///
    /// # Safety
    /// `ptr` must have been returned by this arena for `size` bytes, and the
    /// memory must not be used afterwards.
    pub(crate) unsafe fn reclaim_last(&self, ptr: NonNull<u8>, size: usize) -> bool {
        if ptr.as_ptr() == self.ptr.get() {
            // SAFETY: the object is the last one bumped in the current chunk;
            // its end is at most the chunk's end.
            self.ptr.set(unsafe { ptr.as_ptr().add(size) });
            true
        } else {
            false
        }
    }

    /// A checkpoint to come back to with [`rewind`](Self::rewind).
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let mut a = Arena::new();
    /// let m = a.mark();
    /// a.alloc(1u8);
    /// a.rewind(m).unwrap();
    /// assert_eq!(a.stats().bytes_used, 0);
    /// ```
    pub fn mark(&self) -> ArenaMark {
        let seq = |c: *mut ChunkHeader| {
            if c.is_null() {
                0
            } else {
                // SAFETY: non-null chunk pointers held by the arena are live.
                unsafe { (*c).seq }
            }
        };
        ArenaMark {
            arena: self.id,
            epoch: self.epoch.get(),
            chunk_seq: seq(self.current.get()),
            newest_seq: seq(self.newest.get()),
            addr: self.ptr.get().addr(),
        }
    }

    /// Frees everything allocated since `mark` was taken, releasing chunks made
    /// since then. Taking `&mut self` guarantees no reference into that memory
    /// is alive. A mark from another arena, or one made stale by a
    /// [`reset`](Self::reset) or by rewinding past it, is refused and nothing
    /// changes.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let mut a = Arena::with_chunk_sizes(256, 256).unwrap();
    /// let m = a.mark();
    /// for _ in 0..100 { a.alloc([0u8; 100]); }
    /// assert!(a.stats().chunks > 1);
    /// a.rewind(m).unwrap();
    /// assert_eq!(a.stats().chunks, 0);
    /// ```
    pub fn rewind(&mut self, mark: ArenaMark) -> Result<(), RewindError> {
        if mark.arena != self.id {
            return Err(RewindError::ForeignMark);
        }
        if mark.epoch != self.epoch.get() {
            return Err(RewindError::StaleMark);
        }
        // Validate every field before changing anything.
        let target = self.find_mark_chunk(mark)?;
        self.check_release_order(mark, target)?;
        // Release every chunk made after the mark.
        let mut c = self.newest.get();
        // SAFETY: the list holds live chunks of ours; `&mut self` means none is
        // borrowed.
        while !c.is_null() && unsafe { (*c).seq } > mark.newest_seq {
            // SAFETY: as above.
            let prev = unsafe { (*c).prev };
            self.release_chunk(c);
            c = prev;
        }
        self.newest.set(c);
        if target.is_null() {
            self.current.set(ptr::null_mut());
            self.ptr.set(ptr::null_mut());
            self.start.set(ptr::without_provenance_mut(1));
            return Ok(());
        }
        if target != self.current.get() {
            // Reopen a chunk retired since the mark.
            // SAFETY: `target` is live (its seq is <= newest_seq).
            unsafe {
                self.used_retired
                    .set(self.used_retired.get() - (*target).used);
                self.wasted.set(self.wasted.get() - (*target).wasted);
                (*target).used = 0;
                (*target).wasted = 0;
            }
            self.make_current(target);
        }
        self.ptr.set(self.ptr.get().with_addr(mark.addr));
        Ok(())
    }

    /// The chunk a mark points into (null when it had none), checking that the
    /// mark still describes a position at or above the bump pointer there.
    fn find_mark_chunk(&self, mark: ArenaMark) -> Result<*mut ChunkHeader, RewindError> {
        if mark.chunk_seq == 0 {
            return Ok(ptr::null_mut());
        }
        let mut c = self.newest.get();
        while !c.is_null() {
            // SAFETY: chunks on the list are live.
            let h = unsafe { &*c };
            if h.seq == mark.chunk_seq && !h.oversized {
                // SAFETY: `c` is live.
                let end = unsafe { ChunkHeader::end(c) }.addr();
                let low = if c == self.current.get() {
                    self.ptr.get().addr()
                } else {
                    end - h.used
                };
                let ok = mark.addr >= low && mark.addr <= end;
                return if ok {
                    Ok(c)
                } else {
                    Err(RewindError::StaleMark)
                };
            }
            c = h.prev;
        }
        Err(RewindError::StaleMark)
    }

    /// Checks that the chunks `rewind` would release are exactly ones made
    /// after the mark: every chunk newer than `newest_seq` goes, so the
    /// mark's own chunk must not be among them (`chunk_seq <= newest_seq`:
    /// otherwise the chunk about to be reopened would be freed first), no
    /// chunk may be claimed that was never made (`newest_seq <= seq`), and
    /// the current chunk must either be the mark's or go (a current chunk
    /// the mark predates, left in place but no longer current, would lose
    /// the account of its objects). A mark `mark` made satisfies all three.
    fn check_release_order(
        &self,
        mark: ArenaMark,
        target: *mut ChunkHeader,
    ) -> Result<(), RewindError> {
        if mark.chunk_seq > mark.newest_seq || mark.newest_seq > self.seq.get() {
            return Err(RewindError::StaleMark);
        }
        let cur = self.current.get();
        // SAFETY: a non-null current chunk is live.
        if !cur.is_null() && cur != target && unsafe { (*cur).seq } <= mark.newest_seq {
            return Err(RewindError::StaleMark);
        }
        Ok(())
    }

    fn release_chunk(&self, c: *mut ChunkHeader) {
        // SAFETY: `c` is a live chunk of ours being unlinked by the caller.
        let h = unsafe { &*c };
        self.chunks.set(self.chunks.get() - 1);
        self.oversized
            .set(self.oversized.get() - h.oversized as usize);
        self.reserved.set(self.reserved.get() - h.size);
        self.used_retired.set(self.used_retired.get() - h.used);
        self.wasted.set(self.wasted.get() - h.wasted);
        self.budget.release(h.size);
        if c == self.current.get() {
            self.current.set(ptr::null_mut());
        }
        let size = h.size;
        // SAFETY: allocated in `new_chunk` with this size and CHUNK_ALIGN.
        unsafe {
            alloc::alloc::dealloc(
                c.cast(),
                Layout::from_size_align_unchecked(size, CHUNK_ALIGN),
            )
        };
    }

    /// Frees every allocation at once. Keeps the largest chunk, rewound to
    /// empty, and releases the others; marks taken before are refused after.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let mut a = Arena::with_chunk_sizes(256, 4096).unwrap();
    /// for _ in 0..100 { a.alloc([0u8; 64]); }
    /// a.reset();
    /// let s = a.stats();
    /// assert_eq!((s.chunks, s.bytes_used), (1, 0));
    /// assert_eq!(s.bytes_reserved, 4096);
    /// ```
    pub fn reset(&mut self) {
        self.epoch.set(self.epoch.get() + 1);
        let mut largest: *mut ChunkHeader = ptr::null_mut();
        let mut c = self.newest.get();
        while !c.is_null() {
            // SAFETY: chunks on the list are live; `&mut self` means none is
            // borrowed.
            let (prev, size) = unsafe { ((*c).prev, (*c).size) };
            // SAFETY: as above.
            if largest.is_null() || size > unsafe { (*largest).size } {
                if !largest.is_null() {
                    self.release_chunk(largest);
                }
                largest = c;
            } else {
                self.release_chunk(c);
            }
            c = prev;
        }
        self.newest.set(largest);
        self.used_retired.set(0);
        self.wasted.set(0);
        if largest.is_null() {
            self.current.set(ptr::null_mut());
            self.ptr.set(ptr::null_mut());
            self.start.set(ptr::without_provenance_mut(1));
            return;
        }
        // SAFETY: `largest` is live and now the only chunk.
        unsafe {
            if (*largest).oversized {
                (*largest).oversized = false;
                self.oversized.set(self.oversized.get() - 1);
            }
            (*largest).prev = ptr::null_mut();
            (*largest).used = 0;
            (*largest).wasted = 0;
        }
        self.make_current(largest);
    }

    /// Whether `ptr` points into one of the arena's chunks (walks the list).
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let a = Arena::new();
    /// let x = a.alloc(3u16);
    /// assert!(a.owns(x as *const u16 as *const u8));
    /// assert!(!a.owns(&0u8));
    /// ```
    pub fn owns(&self, ptr: *const u8) -> bool {
        self.find(ptr.addr()).is_some()
    }

    /// The start of the chunk holding address `addr`, as a pointer carrying
    /// the whole chunk's provenance (walks the chunk list).
    pub(crate) fn find(&self, addr: usize) -> Option<*mut u8> {
        let mut c = self.newest.get();
        while !c.is_null() {
            let start = ChunkHeader::data_start(c).addr();
            // SAFETY: chunks on the list are live.
            let end = unsafe { ChunkHeader::end(c) }.addr();
            if (start..end).contains(&addr) {
                return Some(c.cast());
            }
            // SAFETY: as above.
            c = unsafe { (*c).prev };
        }
        None
    }

    /// Statistics: chunks, bytes reserved, used and wasted.
    ///
    /// ```
    /// # use morph_runtime::Arena;
    /// let a = Arena::with_chunk_sizes(256, 1024).unwrap();
    /// a.alloc_slice_copy(&[1u8; 5000]); // larger than the 1 KiB cap
    /// let s = a.stats();
    /// assert_eq!(s.oversized_chunks, 1);
    /// assert_eq!(s.next_chunk_size, 256, "an oversized request does not grow later chunks");
    /// ```
    pub fn stats(&self) -> ArenaStats {
        let cur = self.current.get();
        let (cur_used, cur_free) = if cur.is_null() {
            (0, 0)
        } else {
            let ptr = self.ptr.get().addr();
            // SAFETY: `cur` is live.
            let end = unsafe { ChunkHeader::end(cur) }.addr();
            (end - ptr, ptr - self.start.get().addr())
        };
        ArenaStats {
            chunks: self.chunks.get(),
            oversized_chunks: self.oversized.get(),
            bytes_reserved: self.reserved.get(),
            bytes_used: self.used_retired.get() + cur_used,
            bytes_wasted: self.wasted.get(),
            bytes_free_in_current: cur_free,
            next_chunk_size: self.next_size.get(),
        }
    }

    /// Each chunk the arena holds, newest first: its size and the bytes in
    /// use. A walk of the chunk list, nothing else; allocating while
    /// iterating is allowed (a new chunk is simply not seen).
    ///
    /// ```
    /// use morph_runtime::Arena;
    /// let a = Arena::with_chunk_sizes(256, 1024).unwrap();
    /// a.alloc([0u8; 100]);
    /// a.alloc_slice_copy(&[1u8; 5000]); // its own, oversized chunk
    /// let chunks: Vec<_> = a.chunks().collect();
    /// assert_eq!(chunks.len(), 2);
    /// assert!(chunks[0].oversized && chunks[0].used == 5000);
    /// assert!(!chunks[1].oversized && chunks[1].used >= 100);
    /// let used: usize = chunks.iter().map(|c| c.used).sum();
    /// assert_eq!(used, a.stats().bytes_used);
    /// ```
    pub fn chunks(&self) -> impl Iterator<Item = ChunkUsage> + '_ {
        let mut c = self.newest.get();
        core::iter::from_fn(move || {
            if c.is_null() {
                return None;
            }
            let chunk = c;
            // SAFETY: chunks on the list are live while the arena is
            // borrowed: only `reset`, `rewind` and drop (all `&mut self`)
            // release them.
            let (size, prev, retired_used, oversized) = unsafe {
                (
                    (*chunk).size,
                    (*chunk).prev,
                    (*chunk).used,
                    (*chunk).oversized,
                )
            };
            c = prev;
            let used = if chunk == self.current.get() {
                // SAFETY: as above.
                unsafe { ChunkHeader::end(chunk) }.addr() - self.ptr.get().addr()
            } else {
                retired_used
            };
            Some(ChunkUsage {
                bytes: size,
                used,
                oversized,
            })
        })
    }

    /// The budget this arena charges; a context's pools charge it too, so one
    /// limit covers slabs and chunks.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Releases every chunk.
    pub(crate) fn release_all(&mut self) {
        let mut c = self.newest.replace(ptr::null_mut());
        while !c.is_null() {
            // SAFETY: chunks on the list are live and unborrowed.
            let prev = unsafe { (*c).prev };
            self.release_chunk(c);
            c = prev;
        }
        self.ptr.set(ptr::null_mut());
        self.start.set(ptr::without_provenance_mut(1));
    }

    /// Allocation with the type tag ignored, for the shared typed helpers.
    #[inline(always)]
    fn alloc_layout_tagged(
        &self,
        layout: Layout,
        _tag: crate::TypeTag,
    ) -> Result<NonNull<u8>, Error> {
        self.try_alloc_layout(layout)
    }

    crate::typed::typed_alloc_methods!(Arena, "Arena::new()");

    /// Gives back memory whose construction failed (a typed helper's
    /// closure panicked): reclaimed if it is the latest allocation, as it
    /// is unless the closure itself allocated; otherwise left until reset.
    ///
    /// # Safety
    /// `ptr` came from this arena with `layout` and nothing refers to it.
    unsafe fn abandon(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        let _ = unsafe { self.reclaim_last(ptr, layout.size()) };
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Checks chunk sizes: powers of two, `256 <= first <= cap <= 1 GiB`.
pub(crate) fn validate_chunks(first: usize, cap: usize) -> Result<(), ConfigError> {
    let ok = |n: usize| n.is_power_of_two() && (256..=1 << 30).contains(&n);
    if !ok(first) || !ok(cap) || first > cap {
        return Err(ConfigError::ChunkSizes { first, cap });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_double_up_to_the_cap() {
        let a = Arena::with_chunk_sizes(256, 1024).unwrap();
        let mut sizes = vec![];
        for _ in 0..40 {
            a.alloc([0u8; 100]);
            sizes.push(a.stats().bytes_reserved);
        }
        sizes.dedup();
        let steps: Vec<_> = sizes.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(
            &steps[..3],
            &[512, 1024, 1024],
            "256, then 512, then capped at 1024"
        );
    }

    #[test]
    fn oversized_request_keeps_current_chunk() {
        let a = Arena::with_chunk_sizes(256, 1024).unwrap();
        let small = a.alloc(1u64) as *mut u64;
        let big = a.alloc_slice_copy(&[7u8; 5000]);
        assert!(big.iter().all(|&b| b == 7));
        let next = a.alloc(2u64) as *mut u64;
        assert_eq!(
            small as usize - next as usize,
            8,
            "still bumping in the first chunk"
        );
        let s = a.stats();
        assert_eq!((s.chunks, s.oversized_chunks), (2, 1));
        assert!(s.bytes_used >= 5016);
    }

    #[test]
    fn alignment_up_to_large_values() {
        let a = Arena::new();
        for shift in 0..=13 {
            let align = 1usize << shift;
            let p = a
                .try_alloc_layout(Layout::from_size_align(3, align).unwrap())
                .unwrap();
            assert_eq!(p.as_ptr() as usize % align, 0, "align {align}");
        }
    }

    #[test]
    fn zero_sized_and_fresh_arena() {
        let a = Arena::new();
        let zst = Layout::from_size_align(0, 8).unwrap();
        let p = a.alloc_layout(zst);
        let q = a.alloc_layout(zst);
        assert_eq!(p.as_ptr() as usize % 8, 0);
        assert_eq!(p, q, "zero-sized allocations take no room");
        let s = a.stats();
        assert_eq!((s.chunks, s.bytes_used), (1, 0));
    }

    #[test]
    fn impossible_alignment_is_an_error() {
        let a = Arena::new();
        let l = Layout::from_size_align(8, MAX_ALIGN * 2).unwrap();
        assert!(matches!(
            a.try_alloc_layout(l),
            Err(Error::InvalidLayout { .. })
        ));
    }

    #[test]
    fn rewind_reopens_retired_chunk_and_refuses_stale_marks() {
        let mut a = Arena::with_chunk_sizes(256, 256).unwrap();
        a.alloc(1u8);
        let m1 = a.mark();
        let before = a.stats();
        for _ in 0..20 {
            a.alloc([0u8; 64]);
        }
        let m2 = a.mark();
        assert!(a.stats().chunks > 3);
        a.rewind(m1).unwrap();
        assert_eq!(a.stats(), before);
        assert_eq!(a.rewind(m2), Err(RewindError::StaleMark));
        assert_eq!(a.stats(), before, "a refused rewind changes nothing");
    }

    /// Regression: a mark whose `newest_seq` lies below its `chunk_seq`
    /// released the mark's own chunk and then made it current again, so
    /// later allocations landed in freed memory. Every forged field of a
    /// real mark is refused, and a refused rewind changes nothing.
    #[test]
    fn forged_marks_are_refused() {
        let mut a = Arena::with_chunk_sizes(256, 256).unwrap();
        for _ in 0..8 {
            a.alloc([0u8; 100]);
        }
        let real = a.mark();
        let before = a.stats();
        let forged = [
            ArenaMark {
                newest_seq: 0,
                ..real
            },
            ArenaMark {
                newest_seq: real.chunk_seq - 1,
                ..real
            },
            ArenaMark {
                newest_seq: real.newest_seq + 1,
                ..real
            },
            ArenaMark {
                chunk_seq: real.chunk_seq - 1,
                ..real
            },
            ArenaMark {
                chunk_seq: real.chunk_seq + 1,
                ..real
            },
            ArenaMark {
                chunk_seq: 0,
                ..real
            },
            ArenaMark {
                addr: real.addr - 1,
                ..real
            },
            ArenaMark {
                addr: usize::MAX,
                ..real
            },
            ArenaMark { addr: 0, ..real },
            ArenaMark {
                epoch: real.epoch + 1,
                ..real
            },
            ArenaMark {
                arena: real.arena + 1,
                ..real
            },
        ];
        for m in forged {
            assert!(a.rewind(m).is_err(), "{m:?} was accepted");
            assert_eq!(a.stats(), before, "a refused rewind changes nothing");
        }
        a.rewind(real).unwrap();
        assert_eq!(a.stats(), before);
        let p = a.alloc([0x41u8; 64]);
        assert!(a.owns(p.as_ptr()));
    }

    /// A current chunk the mark predates may not be left in place while an
    /// older chunk is reopened: its objects would drop out of the account.
    #[test]
    fn a_mark_cannot_keep_a_newer_current_chunk() {
        let mut a = Arena::with_chunk_sizes(256, 256).unwrap();
        a.alloc([0u8; 100]);
        let old = a.mark();
        for _ in 0..4 {
            a.alloc([0u8; 100]);
        }
        let newest = a.mark().newest_seq;
        let forged = ArenaMark {
            newest_seq: newest,
            ..old
        };
        let before = a.stats();
        assert_eq!(a.rewind(forged), Err(RewindError::StaleMark));
        assert_eq!(a.stats(), before);
        a.rewind(old).unwrap();
        assert_eq!(a.stats().chunks, 1);
    }

    #[test]
    fn budget_errors_instead_of_growing() {
        let a = Arena::with_budget(4096);
        a.alloc([0u8; 1000]);
        let err = a.try_alloc([0u8; 4000]).unwrap_err();
        assert!(matches!(err, Error::BudgetExceeded { limit: 4096, .. }));
        assert_eq!(a.stats().chunks, 1);
    }

    #[test]
    fn reset_keeps_the_largest_chunk_even_oversized() {
        let mut a = Arena::with_chunk_sizes(256, 1024).unwrap();
        a.alloc([0u8; 100]);
        a.alloc_slice_copy(&[0u8; 3000]);
        a.reset();
        let s = a.stats();
        assert_eq!((s.chunks, s.oversized_chunks, s.bytes_used), (1, 0, 0));
        assert!(s.bytes_free_in_current >= 3000);
        a.alloc_slice_copy(&[0u8; 2900]);
        assert_eq!(a.stats().chunks, 1);
    }
}
