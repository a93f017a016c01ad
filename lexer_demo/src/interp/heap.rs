//! Where the interpreter's objects live: the [`ObjHeap`] trait and its two
//! implementations, [`MorphHeap`] (a `MorphContext`, the default) and
//! [`SysHeap`] (one system allocation per object, for comparison).
//!
//! The collector needs three things of a heap: allocate an object with a
//! type tag, free it, and keep one mark bit per object. A `MorphContext`
//! has all three in its 8-byte header; [`SysHeap`] puts an 8-byte prefix of
//! its own in front of each block, so both backends pay for one header.
//!
//! Objects over the context's pool limit (header + payload > 256 bytes:
//! long strings, big classes, environments of many locals) do not go to the
//! context's arena, whose space is reclaimed only by a reset: a collector
//! frees objects one by one, so [`MorphHeap`] sends them to a
//! [`SysHeap`] of its own, the "large object space", and counts them.

use morph_runtime::{Header, MorphContext, TypeTag, HEADER_SIZE};
use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;

/// The kind of a runtime object: the type tag of its header.
///
/// ```
/// use lexer_demo::interp::Kind;
/// assert_eq!(Kind::Str as u16, 32); // clear of the front end's node tags
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Kind {
    /// A string made at run time (concatenation). Literals are not copied.
    Str = 32,
    /// A function or method closure.
    Closure,
    /// An environment: the variables of one scope.
    Env,
    /// A class.
    Class,
    /// An instance.
    Instance,
    /// The field table of an instance.
    Fields,
    /// A method bound to its receiver.
    Bound,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 7] = [
        Kind::Str,
        Kind::Closure,
        Kind::Env,
        Kind::Class,
        Kind::Instance,
        Kind::Fields,
        Kind::Bound,
    ];

    /// The kind with type tag `tag`, if any.
    ///
    /// ```
    /// use lexer_demo::interp::Kind;
    /// assert_eq!(Kind::from_tag(Kind::Env as u16), Some(Kind::Env));
    /// assert_eq!(Kind::from_tag(1), None);
    /// ```
    pub fn from_tag(tag: u16) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u16 == tag)
    }

    /// Its name in reports.
    ///
    /// ```
    /// assert_eq!(lexer_demo::interp::Kind::Bound.name(), "bound method");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Closure => "closure",
            Kind::Env => "environment",
            Kind::Class => "class",
            Kind::Instance => "instance",
            Kind::Fields => "field table",
            Kind::Bound => "bound method",
        }
    }
}

/// Memory for runtime objects, with a mark bit per object.
///
/// Payloads are aligned to 8. `size` is passed back on every call, so that
/// an implementation may route by size without reading anything.
///
/// ```
/// use lexer_demo::interp::{Kind, MorphHeap, ObjHeap};
/// let ctx = morph_runtime::MorphContext::new();
/// let heap = MorphHeap::new(&ctx);
/// let p = heap.alloc(24, Kind::Closure).unwrap();
/// // SAFETY: `p` is a live 24-byte object of this heap, freed once.
/// unsafe {
///     heap.set_mark(p, 24, true);
///     assert!(heap.is_marked(p, 24));
///     heap.free(p, 24);
/// }
/// assert_eq!(ctx.stats().live_objects, 0);
/// ```
pub trait ObjHeap {
    /// The backend's name in reports.
    fn name(&self) -> &'static str;

    /// A new object of `size` bytes tagged `kind`, unmarked; `None` when
    /// memory is exhausted.
    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>>;

    /// Frees an object.
    ///
    /// # Safety
    /// `ptr` was returned by [`alloc`](Self::alloc) of this heap with this
    /// `size`, has not been freed, and is not used again.
    unsafe fn free(&self, ptr: NonNull<u8>, size: usize);

    /// Whether the object's mark bit is set.
    ///
    /// # Safety
    /// `ptr` is a live object of this heap of `size` bytes.
    unsafe fn is_marked(&self, ptr: NonNull<u8>, size: usize) -> bool;

    /// Sets or clears the object's mark bit.
    ///
    /// # Safety
    /// `ptr` is a live object of this heap of `size` bytes.
    unsafe fn set_mark(&self, ptr: NonNull<u8>, size: usize, on: bool);

    /// Objects that went to the system rather than to pools: all of them
    /// for [`SysHeap`], the large ones for [`MorphHeap`].
    fn system_objects(&self) -> SysCounts;
}

/// Counters of a [`SysHeap`].
///
/// ```
/// use lexer_demo::interp::{Kind, ObjHeap, SysHeap};
/// let heap = SysHeap::default();
/// let _p = heap.alloc(16, Kind::Bound).unwrap();
/// let c = heap.system_objects();
/// assert_eq!((c.allocations, c.live, c.live_bytes), (1, 1, 16));
/// # // SAFETY: live, this size, freed once.
/// # unsafe { heap.free(_p, 16) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysCounts {
    /// Allocations so far.
    pub allocations: u64,
    /// Objects alive now.
    pub live: u64,
    /// Payload bytes alive now.
    pub live_bytes: u64,
}

/// The prefix [`SysHeap`] puts before each payload.
#[repr(C, align(8))]
struct Prefix {
    tag: u16,
    mark: Cell<bool>,
}

const PREFIX: usize = std::mem::size_of::<Prefix>();
const _: () = assert!(PREFIX == 8);

/// The largest object either heap can lay out: a [`SysHeap`] block (where
/// [`MorphHeap`] sends every object over [`MAX_POOLED`]) is the prefix and
/// the object, and a layout is at most `isize::MAX` bytes once rounded up
/// to the alignment of 8. A larger size gets `None` from `alloc`.
pub(crate) const MAX_OBJECT: usize = (isize::MAX.unsigned_abs() & !7) - PREFIX;

/// One system allocation per object, with an 8-byte prefix holding the type
/// tag and the mark bit: the `--backend heap` of `run`.
///
/// ```
/// use lexer_demo::interp::{Kind, ObjHeap, SysHeap};
/// let heap = SysHeap::default();
/// let p = heap.alloc(40, Kind::Str).unwrap();
/// assert_eq!(heap.system_objects().live, 1);
/// // SAFETY: `p` is a live 40-byte object of this heap, freed once.
/// unsafe { heap.free(p, 40) };
/// assert_eq!(heap.system_objects().live, 0);
/// ```
#[derive(Default)]
pub struct SysHeap {
    allocations: Cell<u64>,
    live: Cell<u64>,
    live_bytes: Cell<u64>,
}

impl SysHeap {
    fn layout(size: usize) -> Option<Layout> {
        Layout::from_size_align(size.checked_add(PREFIX)?, 8).ok()
    }
}

impl ObjHeap for SysHeap {
    fn name(&self) -> &'static str {
        "heap"
    }

    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>> {
        let layout = SysHeap::layout(size)?;
        // SAFETY: the layout has a non-zero size (at least the prefix).
        let block = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        self.allocations.set(self.allocations.get() + 1);
        self.live.set(self.live.get() + 1);
        self.live_bytes.set(self.live_bytes.get() + size as u64);
        // SAFETY: the block holds the prefix and `size` more bytes, aligned
        // to 8, which the prefix needs.
        unsafe {
            block.cast::<Prefix>().as_ptr().write(Prefix {
                tag: kind as u16,
                mark: Cell::new(false),
            });
            Some(block.add(PREFIX))
        }
    }

    /// # Safety
    /// As for [`ObjHeap::free`].
    unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        self.live.set(self.live.get() - 1);
        self.live_bytes.set(self.live_bytes.get() - size as u64);
        let layout = SysHeap::layout(size).expect("the layout it was allocated with");
        // SAFETY: the caller guarantees `ptr` came from `alloc` with `size`,
        // so the block starts `PREFIX` bytes before it and has this layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr().sub(PREFIX), layout) }
    }

    /// # Safety
    /// As for [`ObjHeap::is_marked`].
    unsafe fn is_marked(&self, ptr: NonNull<u8>, _size: usize) -> bool {
        // SAFETY: the caller guarantees a live object, so its prefix is there.
        unsafe { (*ptr.as_ptr().sub(PREFIX).cast::<Prefix>()).mark.get() }
    }

    /// # Safety
    /// As for [`ObjHeap::set_mark`].
    unsafe fn set_mark(&self, ptr: NonNull<u8>, _size: usize, on: bool) {
        // SAFETY: as for `is_marked`; the mark is a `Cell`, and no other
        // reference to the prefix exists.
        unsafe { (*ptr.as_ptr().sub(PREFIX).cast::<Prefix>()).mark.set(on) }
    }

    fn system_objects(&self) -> SysCounts {
        SysCounts {
            allocations: self.allocations.get(),
            live: self.live.get(),
            live_bytes: self.live_bytes.get(),
        }
    }
}

/// Objects in a `MorphContext`: each in the pool of its size class, with
/// the kind as the header's type tag and the header's mark bit for the
/// collector. Objects too big for the pools go to a [`SysHeap`].
///
/// ```
/// use lexer_demo::interp::{Kind, MorphHeap, ObjHeap};
/// let ctx = morph_runtime::MorphContext::new();
/// let heap = MorphHeap::new(&ctx);
/// let small = heap.alloc(40, Kind::Str).unwrap();
/// let large = heap.alloc(1000, Kind::Str).unwrap();
/// assert_eq!(ctx.stats().live_objects, 1);
/// assert_eq!(heap.system_objects().live, 1);
/// // SAFETY: both are live objects of this heap with these sizes, freed once.
/// unsafe {
///     heap.free(small, 40);
///     heap.free(large, 1000);
/// }
/// ```
pub struct MorphHeap<'c> {
    ctx: &'c MorphContext,
    large: SysHeap,
}

/// The largest payload [`MorphHeap`] places in the context's pools.
///
/// ```
/// assert_eq!(lexer_demo::interp::MAX_POOLED, 248); // 256 with the header
/// ```
pub const MAX_POOLED: usize = morph_runtime::MAX_SMALL - HEADER_SIZE;

impl<'c> MorphHeap<'c> {
    /// Objects in `ctx`.
    ///
    /// ```
    /// let ctx = morph_runtime::MorphContext::new();
    /// let heap = lexer_demo::interp::MorphHeap::new(&ctx);
    /// assert_eq!(lexer_demo::interp::ObjHeap::name(&heap), "morph");
    /// ```
    pub fn new(ctx: &'c MorphContext) -> MorphHeap<'c> {
        MorphHeap {
            ctx,
            large: SysHeap::default(),
        }
    }

    /// The context.
    ///
    /// ```
    /// let ctx = morph_runtime::MorphContext::new();
    /// let heap = lexer_demo::interp::MorphHeap::new(&ctx);
    /// assert_eq!(heap.context().stats().live_objects, 0);
    /// ```
    pub fn context(&self) -> &'c MorphContext {
        self.ctx
    }
}

impl ObjHeap for MorphHeap<'_> {
    fn name(&self) -> &'static str {
        "morph"
    }

    #[inline]
    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>> {
        if size <= MAX_POOLED {
            // Cannot fail: `size` is small and the alignment is 8.
            let layout = Layout::from_size_align(size, 8).ok()?;
            self.ctx.alloc_layout(layout, TypeTag(kind as u16)).ok()
        } else {
            self.large.alloc(size, kind)
        }
    }

    /// # Safety
    /// As for [`ObjHeap::free`].
    #[inline]
    unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        if size <= MAX_POOLED {
            // SAFETY: the caller guarantees a live object of this size, which
            // `alloc` placed in the context.
            unsafe { self.ctx.free(ptr) }
        } else {
            // SAFETY: as above, and `alloc` placed it in the large space.
            unsafe { self.large.free(ptr, size) }
        }
    }

    /// # Safety
    /// As for [`ObjHeap::is_marked`].
    #[inline]
    unsafe fn is_marked(&self, ptr: NonNull<u8>, size: usize) -> bool {
        if size <= MAX_POOLED {
            // SAFETY: a live object of the context (the caller's guarantee).
            unsafe { self.ctx.header(ptr).is_marked() }
        } else {
            // SAFETY: a live object of the large space.
            unsafe { self.large.is_marked(ptr, size) }
        }
    }

    /// # Safety
    /// As for [`ObjHeap::set_mark`].
    #[inline]
    unsafe fn set_mark(&self, ptr: NonNull<u8>, size: usize, on: bool) {
        if size <= MAX_POOLED {
            // SAFETY: a live object of the context (the caller's guarantee).
            unsafe { self.ctx.set_flags(ptr, Header::MARK, on) }
        } else {
            // SAFETY: a live object of the large space.
            unsafe { self.large.set_mark(ptr, size, on) }
        }
    }

    fn system_objects(&self) -> SysCounts {
        self.large.system_objects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_object_has_a_layout_and_one_byte_more_has_none() {
        assert!(SysHeap::layout(MAX_OBJECT).is_some());
        assert!(SysHeap::layout(MAX_OBJECT + 1).is_none());
        assert!(SysHeap::layout(usize::MAX).is_none());
        let ctx = MorphContext::new();
        let heap = MorphHeap::new(&ctx);
        assert!(heap.alloc(MAX_OBJECT + 1, Kind::Str).is_none());
        assert_eq!(heap.system_objects(), SysCounts::default());
    }
}
