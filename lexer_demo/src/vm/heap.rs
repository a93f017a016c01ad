//! Where the VM's objects live: the [`ObjHeap`] trait and its two
//! implementations, [`MorphHeap`] (a `MorphContext`, the default) and
//! [`SysHeap`] (one system allocation per object, for comparison).
//!
//! The collector needs four things of a heap: allocate an object with a
//! type tag, keep one mark bit per object, sweep (free every unmarked
//! object, clear the marks of the others), and free everything at the end.
//! A `MorphContext` has all four: the kind is its header's type tag, the
//! mark is its header's mark bit, and its own heap walk finds every object,
//! so the VM keeps no list of its objects. Objects over the pool
//! limit go to the context's large-object space (the `runtime` preset),
//! freed one by one like the rest. [`SysHeap`] puts an 8-byte prefix of its
//! own in front of each block (so both backends pay for one header) and
//! must keep a list of its blocks to sweep them, as any collector over
//! `malloc` does.

use morph_runtime::{Header, MorphContext, TypeTag};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

/// The kind of a runtime object: the type tag of its header.
///
/// ```
/// use lexer_demo::vm::Kind;
/// assert_eq!(Kind::Str as u16, 32); // clear of the front end's node tags
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Kind {
    /// A string made at run time (concatenation). Literals are not copied.
    Str = 32,
    /// A function or method closure.
    Closure,
    /// A class.
    Class,
    /// An instance.
    Instance,
    /// A table of an instance's fields or a class's methods.
    Table,
    /// A method bound to its receiver.
    Bound,
    /// A captured variable.
    Upvalue,
    /// A native function.
    Native,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 8] = [
        Kind::Str,
        Kind::Closure,
        Kind::Class,
        Kind::Instance,
        Kind::Table,
        Kind::Bound,
        Kind::Upvalue,
        Kind::Native,
    ];

    /// The kind with type tag `tag`, if any (tags are consecutive from
    /// `Str`'s, as a check below the type proves).
    ///
    /// ```
    /// use lexer_demo::vm::Kind;
    /// assert_eq!(Kind::from_tag(Kind::Table as u16), Some(Kind::Table));
    /// assert_eq!(Kind::from_tag(1), None);
    /// assert_eq!(Kind::from_tag(Kind::Native as u16 + 1), None);
    /// ```
    #[inline]
    pub fn from_tag(tag: u16) -> Option<Kind> {
        let i = tag.checked_sub(Kind::Str as u16)?;
        Kind::ALL.get(usize::from(i)).copied()
    }

    /// Its name in reports.
    ///
    /// ```
    /// assert_eq!(lexer_demo::vm::Kind::Bound.name(), "bound method");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Closure => "closure",
            Kind::Class => "class",
            Kind::Instance => "instance",
            Kind::Table => "table",
            Kind::Bound => "bound method",
            Kind::Upvalue => "upvalue",
            Kind::Native => "native function",
        }
    }
}

// Tags are consecutive from `Str`'s, in `ALL` order: `from_tag` indexes.
const _: () = {
    let mut i = 0;
    while i < Kind::ALL.len() {
        assert!(Kind::ALL[i] as usize == Kind::Str as usize + i);
        i += 1;
    }
};

/// What a sweep freed.
///
/// ```
/// let s = lexer_demo::vm::Swept::default();
/// assert_eq!((s.objects, s.bytes), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Objects freed.
    pub objects: u64,
    /// Their bytes, as allocated.
    pub bytes: u64,
}

/// Memory for runtime objects, with a mark bit per object and a sweep.
///
/// Payloads are aligned to 8.
///
/// ```
/// use lexer_demo::vm::{Kind, MorphHeap, ObjHeap};
/// let mut ctx = lexer_demo::vm::runtime_context();
/// let mut heap = MorphHeap::new(&mut ctx);
/// let kept = heap.alloc(24, Kind::Closure).unwrap();
/// let _gone = heap.alloc(40, Kind::Str).unwrap();
/// // SAFETY: `kept` is a live object of this heap; the unmarked one is
/// // unreachable, so the sweep may free it.
/// unsafe {
///     heap.set_mark(kept, true);
///     let s = heap.sweep();
///     assert_eq!((s.objects, s.bytes), (1, 40));
///     assert!(!heap.is_marked(kept));
///     heap.free_all();
/// }
/// assert_eq!(ctx.stats().live_objects, 0);
/// ```
pub trait ObjHeap {
    /// The backend's name in reports.
    fn name(&self) -> &'static str;

    /// A new object of `size` bytes tagged `kind`, unmarked; `None` when
    /// memory is exhausted (or `size` is more than the heap can hold).
    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>>;

    /// Whether the object's mark bit is set.
    ///
    /// # Safety
    /// `ptr` is a live object of this heap.
    unsafe fn is_marked(&self, ptr: NonNull<u8>) -> bool;

    /// Sets or clears the object's mark bit.
    ///
    /// # Safety
    /// `ptr` is a live object of this heap.
    unsafe fn set_mark(&self, ptr: NonNull<u8>, on: bool);

    /// The object's kind, as it was allocated (read from its header).
    ///
    /// # Safety
    /// `ptr` is a live object of this heap.
    unsafe fn kind(&self, ptr: NonNull<u8>) -> Kind;

    /// Frees every unmarked object and clears the mark of every other.
    ///
    /// # Safety
    /// No unmarked object is used again.
    unsafe fn sweep(&mut self) -> Swept;

    /// Frees every object.
    ///
    /// # Safety
    /// No object is used again.
    unsafe fn free_all(&mut self) -> Swept;

    /// Objects that went to the system rather than to pools: all of them
    /// for [`SysHeap`], the large ones for [`MorphHeap`].
    fn system_objects(&self) -> SysCounts;

    /// Tells the heap that about `bytes` will be allocated before the next
    /// sweep, so it may keep that much freed memory rather than give it
    /// back to the system and ask for it again. By default, nothing.
    fn plan(&mut self, bytes: usize) {
        let _ = bytes;
    }
}

/// Counters of a [`SysHeap`].
///
/// ```
/// use lexer_demo::vm::{Kind, ObjHeap, SysHeap};
/// let mut heap = SysHeap::default();
/// let _p = heap.alloc(16, Kind::Bound).unwrap();
/// let c = heap.system_objects();
/// assert_eq!((c.allocations, c.live, c.live_bytes), (1, 1, 16));
/// # // SAFETY: nothing is used again.
/// # unsafe { heap.free_all() };
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

/// The largest object either heap can lay out: a [`SysHeap`] block is the
/// prefix and the object, and a layout is at most `isize::MAX` bytes once
/// rounded up to the alignment of 8. A larger size gets `None` from
/// `alloc`. (A context's objects are smaller still: its header holds sizes
/// below 4 GiB, and it refuses larger ones.)
pub(crate) const MAX_OBJECT: usize = (isize::MAX.unsigned_abs() & !7) - PREFIX;

/// One system allocation per object, with an 8-byte prefix holding the type
/// tag and the mark bit: the `--backend heap` of `run`. It keeps a list of
/// its blocks for the sweep.
///
/// ```
/// use lexer_demo::vm::{Kind, ObjHeap, SysHeap};
/// let mut heap = SysHeap::default();
/// let _p = heap.alloc(40, Kind::Str).unwrap();
/// assert_eq!(heap.system_objects().live, 1);
/// // SAFETY: the object is unmarked and not used again.
/// assert_eq!(unsafe { heap.sweep() }.objects, 1);
/// assert_eq!(heap.system_objects().live, 0);
/// ```
#[derive(Default)]
pub struct SysHeap {
    /// Every live block's payload and size.
    blocks: RefCell<Vec<(NonNull<u8>, usize)>>,
    allocations: Cell<u64>,
    live_bytes: Cell<u64>,
}

impl SysHeap {
    fn layout(size: usize) -> Option<Layout> {
        Layout::from_size_align(size.checked_add(PREFIX)?, 8).ok()
    }

    /// Frees one block.
    ///
    /// # Safety
    /// `ptr` came from `alloc` with `size` and is not used again.
    unsafe fn release(&self, ptr: NonNull<u8>, size: usize) {
        self.live_bytes.set(self.live_bytes.get() - size as u64);
        let layout = SysHeap::layout(size).expect("the layout it was allocated with");
        // SAFETY: the caller guarantees `ptr` came from `alloc` with `size`,
        // so the block starts `PREFIX` bytes before it and has this layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr().sub(PREFIX), layout) }
    }

    /// Frees the blocks `dead` picks out; the others stay listed.
    ///
    /// # Safety
    /// No block `dead` picks out is used again.
    unsafe fn release_where(&self, mut dead: impl FnMut(NonNull<u8>) -> bool) -> Swept {
        let mut swept = Swept::default();
        let mut blocks = self.blocks.take();
        blocks.retain(|&(ptr, size)| {
            if dead(ptr) {
                swept.objects += 1;
                swept.bytes += size as u64;
                // SAFETY: a listed block with its size, leaving the list;
                // the caller gives it up.
                unsafe { self.release(ptr, size) };
                false
            } else {
                true
            }
        });
        *self.blocks.borrow_mut() = blocks;
        swept
    }
}

impl ObjHeap for SysHeap {
    fn name(&self) -> &'static str {
        "heap"
    }

    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>> {
        let layout = SysHeap::layout(size)?;
        // Room in the list first, so that listing the block cannot fail.
        self.blocks.borrow_mut().try_reserve(1).ok()?;
        // SAFETY: the layout has a non-zero size (at least the prefix).
        let block = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        self.allocations.set(self.allocations.get() + 1);
        self.live_bytes.set(self.live_bytes.get() + size as u64);
        // SAFETY: the block holds the prefix and `size` more bytes, aligned
        // to 8, which the prefix needs.
        let payload = unsafe {
            block.cast::<Prefix>().as_ptr().write(Prefix {
                tag: kind as u16,
                mark: Cell::new(false),
            });
            block.add(PREFIX)
        };
        self.blocks.borrow_mut().push((payload, size));
        Some(payload)
    }

    /// # Safety
    /// As for [`ObjHeap::is_marked`].
    unsafe fn is_marked(&self, ptr: NonNull<u8>) -> bool {
        // SAFETY: the caller guarantees a live object, so its prefix is there.
        unsafe { (*ptr.as_ptr().sub(PREFIX).cast::<Prefix>()).mark.get() }
    }

    /// # Safety
    /// As for [`ObjHeap::kind`].
    unsafe fn kind(&self, ptr: NonNull<u8>) -> Kind {
        // SAFETY: the caller guarantees a live object, so its prefix is there.
        let tag = unsafe { (*ptr.as_ptr().sub(PREFIX).cast::<Prefix>()).tag };
        Kind::from_tag(tag).unwrap_or(Kind::Str)
    }

    /// # Safety
    /// As for [`ObjHeap::set_mark`].
    unsafe fn set_mark(&self, ptr: NonNull<u8>, on: bool) {
        // SAFETY: as for `is_marked`; the mark is a `Cell`, and no other
        // reference to the prefix exists.
        unsafe { (*ptr.as_ptr().sub(PREFIX).cast::<Prefix>()).mark.set(on) }
    }

    /// # Safety
    /// As for [`ObjHeap::sweep`].
    unsafe fn sweep(&mut self) -> Swept {
        let this: &SysHeap = self;
        // SAFETY: every listed block is live; unmarked ones are not used
        // again (the caller's guarantee), marked ones only lose the mark.
        unsafe {
            this.release_where(|p| {
                let marked = this.is_marked(p);
                if marked {
                    this.set_mark(p, false);
                }
                !marked
            })
        }
    }

    /// # Safety
    /// As for [`ObjHeap::free_all`].
    unsafe fn free_all(&mut self) -> Swept {
        // SAFETY: nothing is used again (the caller's guarantee).
        unsafe { self.release_where(|_| true) }
    }

    fn system_objects(&self) -> SysCounts {
        SysCounts {
            allocations: self.allocations.get(),
            live: self.blocks.borrow().len() as u64,
            live_bytes: self.live_bytes.get(),
        }
    }
}

impl Drop for SysHeap {
    fn drop(&mut self) {
        // SAFETY: the heap is going away; whoever allocated from it is done.
        unsafe { self.free_all() };
    }
}

/// Objects in a `MorphContext`: each in the pool of its size class (or the
/// context's large-object space), with the kind as the header's type tag
/// and the header's mark bit for the collector; the context's own sweep
/// frees them.
///
/// ```
/// use lexer_demo::vm::{Kind, MorphHeap, ObjHeap};
/// let mut ctx = lexer_demo::vm::runtime_context();
/// let mut heap = MorphHeap::new(&mut ctx);
/// let _small = heap.alloc(40, Kind::Str).unwrap();
/// let _large = heap.alloc(1000, Kind::Str).unwrap();
/// assert_eq!(heap.system_objects().live, 1, "the large one");
/// // SAFETY: nothing is used again.
/// unsafe { heap.free_all() };
/// assert_eq!(ctx.stats().live_objects, 0);
/// ```
pub struct MorphHeap<'c> {
    ctx: &'c mut MorphContext,
}

impl<'c> MorphHeap<'c> {
    /// Objects in `ctx`; a context made with the `runtime` preset (see
    /// [`runtime_context`](super::runtime_context)) frees large objects one
    /// by one.
    ///
    /// ```
    /// let mut ctx = lexer_demo::vm::runtime_context();
    /// let heap = lexer_demo::vm::MorphHeap::new(&mut ctx);
    /// assert_eq!(lexer_demo::vm::ObjHeap::name(&heap), "morph");
    /// ```
    pub fn new(ctx: &'c mut MorphContext) -> MorphHeap<'c> {
        MorphHeap { ctx }
    }

    /// The context.
    ///
    /// ```
    /// let mut ctx = lexer_demo::vm::runtime_context();
    /// let heap = lexer_demo::vm::MorphHeap::new(&mut ctx);
    /// assert_eq!(heap.context().stats().live_objects, 0);
    /// ```
    pub fn context(&self) -> &MorphContext {
        self.ctx
    }

    /// The context, to walk it (`for_each_object` takes `&mut`).
    ///
    /// ```
    /// let mut ctx = lexer_demo::vm::runtime_context();
    /// let mut heap = lexer_demo::vm::MorphHeap::new(&mut ctx);
    /// let mut n = 0;
    /// heap.context_mut().for_each_object(|_, _| n += 1);
    /// assert_eq!(n, 0);
    /// ```
    pub fn context_mut(&mut self) -> &mut MorphContext {
        self.ctx
    }
}

impl ObjHeap for MorphHeap<'_> {
    fn name(&self) -> &'static str {
        "morph"
    }

    #[inline]
    fn alloc(&self, size: usize, kind: Kind) -> Option<NonNull<u8>> {
        let layout = Layout::from_size_align(size, 8).ok()?;
        self.ctx.try_alloc_layout(layout, TypeTag(kind as u16)).ok()
    }

    /// # Safety
    /// As for [`ObjHeap::is_marked`].
    #[inline]
    unsafe fn is_marked(&self, ptr: NonNull<u8>) -> bool {
        // SAFETY: a live object of the context (the caller's guarantee).
        unsafe { self.ctx.header(ptr).is_marked() }
    }

    /// # Safety
    /// As for [`ObjHeap::kind`].
    #[inline]
    unsafe fn kind(&self, ptr: NonNull<u8>) -> Kind {
        // SAFETY: a live object of the context (the caller's guarantee).
        let tag = unsafe { self.ctx.header(ptr) }.tag();
        Kind::from_tag(tag.0).unwrap_or(Kind::Str)
    }

    /// # Safety
    /// As for [`ObjHeap::set_mark`].
    #[inline]
    unsafe fn set_mark(&self, ptr: NonNull<u8>, on: bool) {
        // SAFETY: a live object of the context (the caller's guarantee).
        unsafe { self.ctx.set_flags(ptr, Header::MARK, on) }
    }

    /// # Safety
    /// As for [`ObjHeap::sweep`].
    unsafe fn sweep(&mut self) -> Swept {
        let s = self.ctx.sweep(|_, _| {});
        Swept {
            objects: s.freed as u64,
            bytes: s.freed_bytes as u64,
        }
    }

    /// # Safety
    /// As for [`ObjHeap::free_all`].
    unsafe fn free_all(&mut self) -> Swept {
        // The first sweep frees the unmarked objects and clears the marks of
        // the others, which the second then frees: every object the context
        // can walk, which is all of them (a collector's context puts none
        // in an arena).
        // SAFETY: forwarded from the caller.
        let (a, b) = unsafe { (self.sweep(), self.sweep()) };
        Swept {
            objects: a.objects + b.objects,
            bytes: a.bytes + b.bytes,
        }
    }

    /// Sets the context's empty-slab retention to what the next cycle
    /// will allocate: emptied slabs up to that are kept for it, the rest go
    /// back to the system.
    fn plan(&mut self, bytes: usize) {
        self.ctx.set_retain_empty(bytes);
    }

    fn system_objects(&self) -> SysCounts {
        let l = self.ctx.stats().large;
        SysCounts {
            allocations: l.allocations,
            live: l.live_objects as u64,
            live_bytes: l.live_payload_bytes as u64,
        }
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
        let mut ctx = super::super::runtime_context();
        let heap = MorphHeap::new(&mut ctx);
        assert!(heap.alloc(MAX_OBJECT + 1, Kind::Str).is_none());
        // The context's header holds sizes below 4 GiB.
        assert!(heap.alloc(1 << 32, Kind::Str).is_none());
        assert_eq!(heap.system_objects(), SysCounts::default());
    }
}
