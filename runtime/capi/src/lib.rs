//! # morph-capi
//!
//! The C ABI of `morph-runtime`, built as a static and a shared library
//! (`libmorph_capi.a`, `libmorph_capi.so`). The header is
//! `include/morph_runtime.h`, generated with cbindgen and checked in.
//!
//! Conventions:
//! - Handles are opaque pointers. `*_create` returns a handle the caller owns
//!   and must give back to the matching `*_destroy`, once; `NULL` means the
//!   creation failed. Every function accepts `NULL` handles and answers
//!   `NULL`, `0` or an error code; destroying `NULL` does nothing.
//! - Memory returned by `*_alloc` belongs to the pool, arena or context it
//!   came from: give it back with that object's `*_free` (pools, contexts),
//!   or it is reclaimed by `*_reset` / `*_destroy`.
//! - Functions returning `int` answer `MORPH_OK` (0) or a negative
//!   `MORPH_ERR_*` code. Pointers that the object did not hand out are
//!   refused with an error, and so is a second free of an object, as long
//!   as its memory has not been handed out again: checks go by address,
//!   and a freed slot is the next one handed out, so after `free(p)`,
//!   `q = alloc()` (often `q == p`), a second `free(p)` frees `q`. Give
//!   each pointer back once.
//! - No Rust panic crosses the boundary: each call catches one and answers
//!   `MORPH_ERR_INTERNAL` (or `NULL`).
//! - Handles are not thread-safe: use each from one thread at a time.
//!
//! Every function in use (the same calls a C program makes; the C test
//! suite in `suite/suite.c` covers each case):
//!
//! ```
//! use morph_capi::*;
//! use std::ptr::null_mut;
//! // SAFETY: every handle is used while alive and destroyed once; every
//! // pointer given back came from the object it is given back to.
//! unsafe {
//!     let pool = mp_pool_create(24, 4);
//!     let p = mp_pool_alloc(pool);
//!     assert_eq!(mp_pool_free(pool, p), MORPH_OK);
//!     assert_eq!(mp_pool_free(pool, p), MORPH_ERR_NOT_LIVE);
//!     let mut ps = MpPoolStats::default();
//!     assert_eq!(mp_pool_stats(pool, &mut ps), MORPH_OK);
//!     assert_eq!((ps.capacity, ps.frees), (4, 1));
//!     assert_eq!(mp_pool_reset(pool), MORPH_OK);
//!     mp_pool_destroy(pool);
//!
//!     let arena = mp_arena_create(0);
//!     let mut mark = MpArenaMark::default();
//!     assert_eq!(mp_arena_mark(arena, &mut mark), MORPH_OK);
//!     assert!(!mp_arena_alloc(arena, 100, 64).is_null());
//!     assert_eq!(mp_arena_rewind(arena, &mark), MORPH_OK);
//!     let mut st = MpArenaStats::default();
//!     mp_arena_stats(arena, &mut st);
//!     assert_eq!(st.bytes_used, 0);
//!     assert_eq!(mp_arena_reset(arena), MORPH_OK);
//!     mp_arena_destroy(arena);
//!
//!     let ctx = morph_context_create(MORPH_PRESET_COMPILER);
//!     let q = morph_alloc(ctx, 10, 8, 3);
//!     let q = morph_realloc(ctx, q, 1000);
//!     let mut ms = MorphStats::default();
//!     morph_stats(ctx, &mut ms);
//!     assert_eq!((ms.live_objects, ms.live_bytes), (1, 1000));
//!     let need = morph_report_json(ctx, null_mut(), 0);
//!     let mut buf = vec![0 as std::ffi::c_char; need];
//!     assert_eq!(morph_report_json(ctx, buf.as_mut_ptr(), need), need);
//!     assert_eq!(morph_free(ctx, q), MORPH_OK);
//!     assert_eq!(morph_reset(ctx), MORPH_OK);
//!     morph_context_destroy(ctx);
//!     assert_eq!(mp_pool_create(0, 1), null_mut(), "bad input gets NULL");
//!     let v = std::ffi::CStr::from_ptr(morph_version_string()).to_str().unwrap();
//!     let n = (morph_version_major(), morph_version_minor(), morph_version_patch());
//!     assert_eq!(v, format!("{}.{}.{}", n.0, n.1, n.2));
//! }
//! ```

use morph_runtime::{
    Arena, ArenaMark, Config, MorphContext, RewindError, SizeClasses, TypeTag,
    pool::{FreeError, RawFixedPool},
};
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void};
use std::hash::{BuildHasher, RandomState};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};

/// Success.
pub const MORPH_OK: c_int = 0;
/// A required handle or out-pointer was NULL.
pub const MORPH_ERR_NULL: c_int = -1;
/// An argument was out of range: a zero or huge size, an alignment that is
/// not a power of two, an unknown preset.
pub const MORPH_ERR_INVALID: c_int = -2;
/// The pointer was not handed out by this pool or context.
pub const MORPH_ERR_FOREIGN: c_int = -3;
/// The pointer was already freed (or is not the start of a live object).
pub const MORPH_ERR_NOT_LIVE: c_int = -4;
/// No memory: the pool is full, the budget is spent, or the system refused.
pub const MORPH_ERR_NO_MEMORY: c_int = -5;
/// The arena mark is stale or belongs to another arena.
pub const MORPH_ERR_BAD_MARK: c_int = -6;
/// An internal error was caught at the boundary.
pub const MORPH_ERR_INTERNAL: c_int = -7;

/// `morph_context_create` preset: pools and arena (the default).
pub const MORPH_PRESET_COMPILER: c_int = 0;
/// `morph_context_create` preset: every object in the arena.
pub const MORPH_PRESET_ARENA_ONLY: c_int = 1;
/// `morph_context_create` preset: pools with the finer size-class table.
pub const MORPH_PRESET_FINE: c_int = 2;

/// Largest size any `*_alloc` accepts (1 GiB).
pub const MORPH_MAX_ALLOC: usize = 1 << 30;

/// A fixed-capacity pool of equal-sized objects (opaque).
pub struct MpPool(RawFixedPool);

/// A chunked bump arena (opaque), with the key that seals its marks.
pub struct MpArena {
    arena: Arena,
    /// Keys the seal in word 0 of every mark this arena hands out (random
    /// per arena), so that words the arena did not write are refused
    /// before any field is acted on.
    key: RandomState,
    /// The arena's identity, as word 0 of its own marks carries it; a
    /// sealed mark gets it back before the arena reads the mark.
    id: u64,
}

impl MpArena {
    /// The seal of a mark's words 1..5 under this arena's key.
    fn seal(&self, words: &[u64; 5]) -> u64 {
        self.key.hash_one(&words[1..])
    }
}

/// A memory context (opaque): the pools, the arena, the headers, and a set of
/// live objects so that frees can be checked.
pub struct MorphContextHandle {
    ctx: MorphContext,
    live: RefCell<HashSet<usize>>,
}

/// Statistics of a fixed pool.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpPoolStats {
    /// Slots in the pool.
    pub capacity: usize,
    /// Bytes per slot.
    pub slot_size: usize,
    /// Slots in use.
    pub live: usize,
    /// Most slots in use at once.
    pub peak_live: usize,
    /// Allocations since creation or the last reset.
    pub allocations: u64,
    /// Frees since creation or the last reset.
    pub frees: u64,
}

/// Statistics of an arena.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpArenaStats {
    /// Chunks held.
    pub chunks: usize,
    /// Bytes reserved from the system.
    pub bytes_reserved: usize,
    /// Bytes handed out.
    pub bytes_used: usize,
    /// Bytes lost at the ends of full chunks.
    pub bytes_wasted: usize,
}

/// A position in an arena to rewind to (its fields are private). Any words
/// are safe to pass to `mp_arena_rewind`: words the arena did not write,
/// marks of another arena, and marks made stale by a reset or a rewind past
/// them are refused with `MORPH_ERR_BAD_MARK`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpArenaMark {
    /// Opaque.
    pub private_: [u64; 5],
}

/// Statistics of a context.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MorphStats {
    /// Objects alive.
    pub live_objects: usize,
    /// Payload bytes of live objects.
    pub live_bytes: usize,
    /// Header bytes of live objects.
    pub header_bytes: usize,
    /// Bytes of live pool slots holding neither payload nor header.
    pub slack_bytes: usize,
    /// Bytes reserved from the system (slabs and chunks).
    pub bytes_reserved: usize,
    /// Most bytes reserved at once.
    pub peak_bytes_reserved: usize,
    /// Slabs held.
    pub slabs: usize,
    /// Arena chunks held.
    pub chunks: usize,
    /// Allocations since creation or the last reset.
    pub allocations: u64,
    /// Frees since creation or the last reset.
    pub frees: u64,
}

/// A new handle owning `value`, or NULL when the system refuses the memory
/// (never an abort).
fn handle<T>(value: T) -> *mut T {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        // A zero-sized `Box` allocates nothing, so it cannot fail.
        return Box::into_raw(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) }.cast::<T>();
    if !p.is_null() {
        // SAFETY: fresh memory sized and aligned for `T`.
        unsafe { p.write(value) };
    }
    p
}

/// Drops a handle made by [`handle`]; NULL does nothing.
///
/// # Safety
/// `h` is NULL or came from [`handle`], and is not used afterwards.
unsafe fn drop_handle<T>(h: *mut T) {
    if let Some(h) = NonNull::new(h) {
        // SAFETY: `handle` allocated `h` with the global allocator and
        // `Layout::new::<T>()` (or through `Box` for a zero-sized `T`), which
        // is exactly what a `Box<T>` owns; the caller gives it up.
        drop(unsafe { Box::from_raw(h.as_ptr()) });
    }
}

/// Runs `f`, turning a panic into `fallback`.
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

fn valid_align(align: usize) -> bool {
    align.is_power_of_two() && align <= Arena::MAX_ALIGN
}

/* ========================================================================
 * Fixed pools
 * ====================================================================== */

/// ===== Fixed pools =====
///
/// Creates a pool of `capacity` objects of `object_size` bytes (objects
/// smaller than a pointer get a pointer-sized slot; slots are 16-aligned).
/// Returns NULL when a size is zero or too large or memory is short. The
/// caller owns the pool: give it to `mp_pool_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn mp_pool_create(object_size: usize, capacity: usize) -> *mut MpPool {
    guard(ptr::null_mut(), || {
        if object_size == 0 || object_size > MORPH_MAX_ALLOC || capacity == 0 {
            return ptr::null_mut();
        }
        match RawFixedPool::new(object_size, 16, capacity) {
            Ok(p) => handle(MpPool(p)),
            Err(_) => ptr::null_mut(),
        }
    })
}

/// An object's memory (uninitialised), or NULL when the pool is full or the
/// handle is NULL. The memory belongs to the pool.
///
/// # Safety
/// `pool` is NULL or a live handle from `mp_pool_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_pool_alloc(pool: *mut MpPool) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller guarantees `pool` is NULL or live.
        let Some(pool) = (unsafe { pool.as_ref() }) else {
            return ptr::null_mut();
        };
        pool.0
            .alloc()
            .map_or(ptr::null_mut(), |p| p.as_ptr().cast())
    })
}

/// Gives an object back. Refuses (and changes nothing) a pointer the pool did
/// not hand out (`MORPH_ERR_FOREIGN`) or one already freed
/// (`MORPH_ERR_NOT_LIVE`) whose slot was not handed out again since.
///
/// # Safety
/// `pool` is NULL or a live handle; after `MORPH_OK` the object must not be
/// used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_pool_free(pool: *mut MpPool, ptr: *mut c_void) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees `pool` is NULL or live.
        let Some(pool) = (unsafe { pool.as_ref() }) else {
            return MORPH_ERR_NULL;
        };
        let Some(p) = NonNull::new(ptr.cast::<u8>()) else {
            return MORPH_ERR_NULL;
        };
        // SAFETY: `free_checked` refuses anything but a live slot; the
        // caller gives a live slot up.
        match unsafe { pool.0.free_checked(p) } {
            Ok(()) => MORPH_OK,
            Err(FreeError::Foreign) => MORPH_ERR_FOREIGN,
            Err(FreeError::NotLive) => MORPH_ERR_NOT_LIVE,
        }
    })
}

/// Frees every object of the pool at once.
///
/// # Safety
/// `pool` is NULL or a live handle; no object of it is used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_pool_reset(pool: *mut MpPool) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees `pool` is NULL or live and not in use.
        let Some(pool) = (unsafe { pool.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        pool.0.reset();
        MORPH_OK
    })
}

/// Fills `*out` with the pool's statistics.
///
/// # Safety
/// `pool` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_pool_stats(pool: *const MpPool, out: *mut MpPoolStats) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees both are NULL or valid.
        let (Some(pool), Some(out)) = (unsafe { pool.as_ref() }, unsafe { out.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        let s = pool.0.stats();
        *out = MpPoolStats {
            capacity: s.capacity,
            slot_size: s.slot_size,
            live: s.live,
            peak_live: s.peak_live,
            allocations: s.allocations,
            frees: s.frees,
        };
        MORPH_OK
    })
}

/// Destroys the pool and all its objects. NULL does nothing.
///
/// # Safety
/// `pool` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_pool_destroy(pool: *mut MpPool) {
    guard((), || {
        if !pool.is_null() {
            // SAFETY: the handle came from `handle` in `mp_pool_create`
            // and is given up by the caller.
            unsafe { drop_handle(pool) };
        }
    })
}

/* ========================================================================
 * Arenas
 * ====================================================================== */

/// ===== Arenas =====
///
/// Creates an arena whose first chunk holds `initial_size` bytes (rounded up
/// to a power of two, at least 256; 0 means the default 4 KiB); chunks then
/// double up to 2 MiB (or to the initial size, if larger). Returns NULL if
/// `initial_size` is above 1 GiB. The caller owns the arena: give it to
/// `mp_arena_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn mp_arena_create(initial_size: usize) -> *mut MpArena {
    guard(ptr::null_mut(), || {
        if initial_size > MORPH_MAX_ALLOC {
            return ptr::null_mut();
        }
        let first = if initial_size == 0 {
            Arena::DEFAULT_FIRST_CHUNK
        } else {
            initial_size.next_power_of_two().max(256)
        };
        let cap = first.max(Arena::DEFAULT_CHUNK_CAP);
        match Arena::with_chunk_sizes(first, cap) {
            Ok(arena) => handle(MpArena {
                id: arena.mark().to_words()[0],
                arena,
                key: RandomState::new(),
            }),
            Err(_) => ptr::null_mut(),
        }
    })
}

/// `size` bytes aligned to `align` (a power of two), or NULL for a NULL
/// handle, a zero or too large size, a bad alignment, or no memory. The
/// memory belongs to the arena until reset, rewind or destroy.
///
/// # Safety
/// `arena` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_alloc(
    arena: *mut MpArena,
    size: usize,
    align: usize,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller guarantees `arena` is NULL or live.
        let Some(arena) = (unsafe { arena.as_ref() }) else {
            return ptr::null_mut();
        };
        if size == 0 || size > MORPH_MAX_ALLOC || !valid_align(align) {
            return ptr::null_mut();
        }
        std::alloc::Layout::from_size_align(size, align)
            .ok()
            .and_then(|l| arena.arena.try_alloc_layout(l).ok())
            .map_or(ptr::null_mut(), |p| p.as_ptr().cast())
    })
}

/// Frees everything the arena handed out; keeps its largest chunk.
///
/// # Safety
/// `arena` is NULL or a live handle; nothing it handed out is used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_reset(arena: *mut MpArena) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees `arena` is NULL or live and unused.
        let Some(arena) = (unsafe { arena.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        arena.arena.reset();
        MORPH_OK
    })
}

/// Stores the arena's current position in `*out`.
///
/// # Safety
/// `arena` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_mark(arena: *const MpArena, out: *mut MpArenaMark) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees both are NULL or valid.
        let (Some(arena), Some(out)) = (unsafe { arena.as_ref() }, unsafe { out.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        let mut words = arena.arena.mark().to_words();
        // Word 0 carried the arena's identity; the seal, keyed per arena,
        // covers that and the other four words at once.
        words[0] = arena.seal(&words);
        *out = MpArenaMark { private_: words };
        MORPH_OK
    })
}

/// Frees everything allocated since `*mark` was taken. Any words are safe:
/// a mark this arena did not hand out (another arena's, or altered), or one
/// made stale by a reset or an earlier rewind, is refused with
/// `MORPH_ERR_BAD_MARK` and nothing changes.
///
/// # Safety
/// `arena` is NULL or a live handle; `mark` is NULL or readable; nothing
/// allocated since the mark is used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_rewind(arena: *mut MpArena, mark: *const MpArenaMark) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees both are NULL or valid.
        let (Some(arena), Some(mark)) = (unsafe { arena.as_mut() }, unsafe { mark.as_ref() })
        else {
            return MORPH_ERR_NULL;
        };
        // Words this arena did not write are refused before any is read as
        // a field; the arena then checks the fields against its own state
        // (stale marks, and forged ones whose seal happened to match).
        let mut words = mark.private_;
        if words[0] != arena.seal(&words) {
            return MORPH_ERR_BAD_MARK;
        }
        words[0] = arena.id;
        match arena.arena.rewind(ArenaMark::from_words(words)) {
            Ok(()) => MORPH_OK,
            Err(RewindError::ForeignMark | RewindError::StaleMark) => MORPH_ERR_BAD_MARK,
        }
    })
}

/// Fills `*out` with the arena's statistics.
///
/// # Safety
/// `arena` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_stats(arena: *const MpArena, out: *mut MpArenaStats) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees both are NULL or valid.
        let (Some(arena), Some(out)) = (unsafe { arena.as_ref() }, unsafe { out.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        let s = arena.arena.stats();
        *out = MpArenaStats {
            chunks: s.chunks,
            bytes_reserved: s.bytes_reserved,
            bytes_used: s.bytes_used,
            bytes_wasted: s.bytes_wasted,
        };
        MORPH_OK
    })
}

/// Destroys the arena and everything in it. NULL does nothing.
///
/// # Safety
/// `arena` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_arena_destroy(arena: *mut MpArena) {
    guard((), || {
        if !arena.is_null() {
            // SAFETY: the handle came from `handle` in `mp_arena_create`
            // and is given up by the caller.
            unsafe { drop_handle(arena) };
        }
    })
}

/* ========================================================================
 * Contexts
 * ====================================================================== */

/// ===== Contexts =====
///
/// Creates a context with a preset (`MORPH_PRESET_*`); NULL for an unknown
/// preset. The caller owns it: give it to `morph_context_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn morph_context_create(preset: c_int) -> *mut MorphContextHandle {
    guard(ptr::null_mut(), || {
        let config = match preset {
            MORPH_PRESET_COMPILER => Config::compiler(),
            MORPH_PRESET_ARENA_ONLY => Config::arena_only(),
            MORPH_PRESET_FINE => Config::compiler().with_size_classes(SizeClasses::fine()),
            _ => return ptr::null_mut(),
        };
        match config.build() {
            Ok(ctx) => handle(MorphContextHandle {
                ctx,
                live: RefCell::new(HashSet::new()),
            }),
            Err(_) => ptr::null_mut(),
        }
    })
}

/// An object of `size` bytes aligned to `align`, with type tag `tag` in its
/// header; NULL for a NULL handle, a zero or too large size, a bad
/// alignment, or no memory. It belongs to the context: free it with
/// `morph_free`, or it goes with `morph_reset` / `morph_context_destroy`.
///
/// # Safety
/// `ctx` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_alloc(
    ctx: *mut MorphContextHandle,
    size: usize,
    align: usize,
    tag: u16,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller guarantees `ctx` is NULL or live.
        let Some(h) = (unsafe { ctx.as_ref() }) else {
            return ptr::null_mut();
        };
        if size == 0 || size > MORPH_MAX_ALLOC || !valid_align(align) {
            return ptr::null_mut();
        }
        let Ok(layout) = std::alloc::Layout::from_size_align(size, align) else {
            return ptr::null_mut();
        };
        // Room in the table of live objects first, so that recording the
        // object cannot fail (or abort) once it exists.
        if h.live.borrow_mut().try_reserve(1).is_err() {
            return ptr::null_mut();
        }
        match h.ctx.try_alloc_layout(layout, TypeTag(tag)) {
            Ok(p) => {
                h.live.borrow_mut().insert(p.as_ptr() as usize);
                p.as_ptr().cast()
            }
            Err(_) => ptr::null_mut(),
        }
    })
}

/// Looks `ptr` up: `Ok` if it is a live object of `h`.
fn check_live(h: &MorphContextHandle, ptr: *mut c_void) -> Result<NonNull<u8>, c_int> {
    let p = NonNull::new(ptr.cast::<u8>()).ok_or(MORPH_ERR_NULL)?;
    if h.live.borrow().contains(&(p.as_ptr() as usize)) {
        Ok(p)
    } else if h.ctx.owns(p.as_ptr()) {
        Err(MORPH_ERR_NOT_LIVE)
    } else {
        Err(MORPH_ERR_FOREIGN)
    }
}

/// Frees an object. Refuses (and changes nothing) a pointer this context did
/// not hand out (`MORPH_ERR_FOREIGN`) or one already freed
/// (`MORPH_ERR_NOT_LIVE`) whose memory was not handed out again since.
///
/// # Safety
/// `ctx` is NULL or a live handle; after `MORPH_OK` the object is not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_free(ctx: *mut MorphContextHandle, ptr: *mut c_void) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees `ctx` is NULL or live.
        let Some(h) = (unsafe { ctx.as_ref() }) else {
            return MORPH_ERR_NULL;
        };
        match check_live(h, ptr) {
            Ok(p) => {
                h.live.borrow_mut().remove(&(p.as_ptr() as usize));
                // SAFETY: `p` is a live object of this context (checked) and
                // the caller gives it up.
                unsafe { h.ctx.free(p) };
                MORPH_OK
            }
            Err(code) => code,
        }
    })
}

/// Resizes an object to `new_size` bytes, keeping its contents (up to the
/// smaller size), alignment and tag; it may move. Returns the new pointer,
/// or NULL (the old object unchanged and still live) for a NULL handle, a
/// pointer that is not a live object of this context, a zero or too large
/// size, or no memory.
///
/// # Safety
/// `ctx` is NULL or a live handle; after a non-NULL answer the old pointer is
/// not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_realloc(
    ctx: *mut MorphContextHandle,
    ptr: *mut c_void,
    new_size: usize,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller guarantees `ctx` is NULL or live.
        let Some(h) = (unsafe { ctx.as_ref() }) else {
            return ptr::null_mut();
        };
        if new_size == 0 || new_size > MORPH_MAX_ALLOC {
            return ptr::null_mut();
        }
        let Ok(p) = check_live(h, ptr) else {
            return ptr::null_mut();
        };
        // As in `morph_alloc`: the table has room before anything moves.
        if h.live.borrow_mut().try_reserve(1).is_err() {
            return ptr::null_mut();
        }
        // SAFETY: `p` is live (checked); on success the caller gives it up.
        match unsafe { h.ctx.realloc(p, new_size) } {
            Ok(q) => {
                let mut live = h.live.borrow_mut();
                live.remove(&(p.as_ptr() as usize));
                live.insert(q.as_ptr() as usize);
                q.as_ptr().cast()
            }
            Err(_) => ptr::null_mut(),
        }
    })
}

/// Frees every object of the context at once.
///
/// # Safety
/// `ctx` is NULL or a live handle; no object of it is used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_reset(ctx: *mut MorphContextHandle) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees `ctx` is NULL or live and unused.
        let Some(h) = (unsafe { ctx.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        h.ctx.reset();
        h.live.get_mut().clear();
        MORPH_OK
    })
}

/// Fills `*out` with the context's statistics.
///
/// # Safety
/// `ctx` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_stats(
    ctx: *const MorphContextHandle,
    out: *mut MorphStats,
) -> c_int {
    guard(MORPH_ERR_INTERNAL, || {
        // SAFETY: the caller guarantees both are NULL or valid.
        let (Some(h), Some(out)) = (unsafe { ctx.as_ref() }, unsafe { out.as_mut() }) else {
            return MORPH_ERR_NULL;
        };
        let s = h.ctx.stats();
        *out = MorphStats {
            live_objects: s.live_objects,
            live_bytes: s.live_bytes,
            header_bytes: s.header_bytes,
            slack_bytes: s.pools.slack_bytes,
            bytes_reserved: s.bytes_reserved,
            peak_bytes_reserved: s.peak_bytes_reserved,
            slabs: s.pools.slabs,
            chunks: s.arena.chunks.chunks,
            allocations: s.allocations,
            frees: s.frees,
        };
        MORPH_OK
    })
}

/// Writes the statistics as JSON, NUL-terminated, into `buf` if `len` bytes
/// hold it. Returns the bytes the report needs, NUL included (0 for a NULL
/// handle): call with `len` 0 to learn the size.
///
/// # Safety
/// `ctx` is NULL or a live handle; `buf` is NULL or writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_report_json(
    ctx: *const MorphContextHandle,
    buf: *mut c_char,
    len: usize,
) -> usize {
    guard(0, || {
        // SAFETY: the caller guarantees `ctx` is NULL or live.
        let Some(h) = (unsafe { ctx.as_ref() }) else {
            return 0;
        };
        let json = h.ctx.report_json();
        let needed = json.len() + 1;
        if !buf.is_null() && len >= needed {
            // SAFETY: `buf` holds `len >= needed` bytes (the caller's promise).
            unsafe {
                ptr::copy_nonoverlapping(json.as_ptr(), buf.cast::<u8>(), json.len());
                *buf.add(json.len()) = 0;
            }
        }
        needed
    })
}

/// Destroys the context and all its objects. NULL does nothing.
///
/// # Safety
/// `ctx` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn morph_context_destroy(ctx: *mut MorphContextHandle) {
    guard((), || {
        if !ctx.is_null() {
            // SAFETY: the handle came from `handle` in
            // `morph_context_create` and is given up by the caller.
            unsafe { drop_handle(ctx) };
        }
    })
}

/* ========================================================================
 * Version
 * ====================================================================== */

/// ===== Version =====
///
/// The major version number.
#[unsafe(no_mangle)]
pub extern "C" fn morph_version_major() -> u32 {
    env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0)
}

/// The minor version number.
#[unsafe(no_mangle)]
pub extern "C" fn morph_version_minor() -> u32 {
    env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0)
}

/// The patch version number.
#[unsafe(no_mangle)]
pub extern "C" fn morph_version_patch() -> u32 {
    env!("CARGO_PKG_VERSION_PATCH").parse().unwrap_or(0)
}

/// The version as a static NUL-terminated string (`"0.1.0"`); do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn morph_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
