//! `allocator_api2` integration: `&MorphContext` and `&Arena` are
//! allocators, so standard-shaped collections can live in them.
//!
//! ```
//! use morph_runtime::{MorphContext, MorphVec};
//! let ctx = MorphContext::new();
//! let mut v: MorphVec<'_, u32> = MorphVec::new_in(&ctx);
//! v.extend(0..1000);
//! assert_eq!(v.iter().sum::<u32>(), 499_500);
//! ```
//!
//! A `Vec` in a context grows through `realloc`: it moves between size classes
//! and from the pools to the arena as it grows, and back as it shrinks.
//!
//! `deallocate`, `grow` and `shrink` may be handed a pointer derived from a
//! reference to the object (as `Box` does), whose provenance covers the
//! payload but not the header before it; they first rebuild the pointer from
//! the context's own slab or chunk pointer, which costs a walk of the slab
//! and chunk lists (cheap for growing collections, which reallocate rarely;
//! noticeable for many small `Box`es in a context with many slabs).
//! Collections in an `Arena` never give memory back until the arena is reset.

use crate::arena::Arena;
use crate::context::MorphContext;
use crate::header::TypeTag;
use allocator_api2::alloc::{AllocError, Allocator};
use core::alloc::Layout;
use core::ptr::NonNull;

/// Type tag of objects made through the `Allocator` interface.
pub(crate) const COLLECTION_TAG: TypeTag = TypeTag::COLLECTION;

/// A `Vec` whose buffer lives in a context.
///
/// ```
/// let ctx = morph_runtime::MorphContext::new();
/// let mut v = morph_runtime::MorphVec::new_in(&ctx);
/// v.push(1u8);
/// assert_eq!(ctx.stats().live_objects, 1);
/// ```
pub type MorphVec<'a, T> = allocator_api2::vec::Vec<T, &'a MorphContext>;

/// A `Box` whose value lives in a context (and is dropped, unlike the typed
/// helpers' references).
///
/// ```
/// let ctx = morph_runtime::MorphContext::new();
/// let b = morph_runtime::MorphAllocBox::new_in(String::from("x"), &ctx);
/// drop(b);
/// assert_eq!(ctx.stats().live_objects, 0);
/// ```
pub type MorphAllocBox<'a, T> = allocator_api2::boxed::Box<T, &'a MorphContext>;

fn slice(p: NonNull<u8>, len: usize) -> NonNull<[u8]> {
    NonNull::slice_from_raw_parts(p, len)
}

/// A well-aligned, never-allocated pointer for a zero-sized block.
fn dangling(layout: Layout) -> NonNull<u8> {
    // An alignment is never zero, so the pointer is never null.
    NonNull::new(core::ptr::without_provenance_mut(layout.align())).unwrap_or(NonNull::dangling())
}

// SAFETY: blocks returned by `allocate` stay valid until `deallocate` (or
// `reset`, which needs `&mut MorphContext` and so cannot happen while the
// shared borrow inside a collection lives); `grow`/`shrink` keep the
// contents; `&MorphContext` is `Copy`, and every copy refers to the same
// context, so memory from one copy may be freed through another.
unsafe impl Allocator for &MorphContext {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            // Zero-sized blocks are never allocated: `allocator_api2`'s
            // `Box` hands `deallocate` a dangling pointer for them anyway, so
            // a real block could not be told apart from one it never asked
            // for. Every size-0 call below relies on this.
            return Ok(slice(dangling(layout), 0));
        }
        self.try_alloc_layout(layout, COLLECTION_TAG)
            .map(|p| slice(p, layout.size()))
            .map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            // Never allocated (see `allocate`): nothing to give back.
            return;
        }
        // The caller's pointer may be derived from a reference covering the
        // payload only: rebuild it with the block's provenance first. A
        // pointer the context does not hold is not one of its blocks, and
        // there is no header before it to read: refuse it (the debug layer
        // records it as a foreign pointer).
        let Some(ptr) = self.rebase(ptr) else {
            self.refuse_foreign(ptr);
            return;
        };
        // SAFETY: the caller guarantees `ptr` came from `allocate`/`grow`/
        // `shrink` on this context with a non-zero size, so it is a live
        // block with a header (checked above: the context holds it), and it
        // is not used again.
        unsafe { self.free(ptr) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller guarantees `ptr` is a live block of `old`.
        unsafe { self.resize(ptr, old, new) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as for `grow`.
        unsafe { self.resize(ptr, old, new) }
    }
}

impl MorphContext {
    /// `realloc` when the block's alignment covers the new layout, else a
    /// fresh block, a copy and a free.
    ///
    /// # Safety
    /// `ptr` is a live block of this context allocated with `old`.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if old.size() == 0 {
            // Never allocated (see `allocate`): a fresh block.
            return Allocator::allocate(&self, new);
        }
        if new.size() == 0 {
            // SAFETY: forwarded from the caller; the block is given up.
            unsafe { Allocator::deallocate(&self, ptr, old) };
            return Ok(slice(dangling(new), 0));
        }
        // As in `deallocate`: the block's provenance, header included; a
        // pointer the context does not hold is refused.
        let Some(ptr) = self.rebase(ptr) else {
            self.refuse_foreign(ptr);
            return Err(AllocError);
        };
        // SAFETY: the caller guarantees `ptr` is a live object of ours.
        let offset = unsafe { self.header(ptr) }.payload_offset();
        if new.align() <= offset {
            // SAFETY: as above; on success the old pointer is given up.
            return unsafe { self.realloc(ptr, new.size()) }
                .map(|p| slice(p, new.size()))
                .map_err(|_| AllocError);
        }
        let fresh = self
            .try_alloc_layout(new, COLLECTION_TAG)
            .map_err(|_| AllocError)?;
        // SAFETY: both blocks are live and distinct; `ptr` is given up.
        unsafe {
            core::ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                fresh.as_ptr(),
                old.size().min(new.size()),
            );
            self.free(ptr);
        }
        Ok(slice(fresh, new.size()))
    }
}

// SAFETY: arena blocks stay valid until the arena is reset or rewound, which
// takes `&mut Arena` and so cannot happen while a collection borrows it;
// `deallocate` does nothing (arena memory comes back all at once), and the
// default `grow` copies into a fresh block.
unsafe impl Allocator for &Arena {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.try_alloc_layout(layout)
            .map(|p| slice(p, layout.size()))
            .map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, _ptr: NonNull<u8>, _layout: Layout) {}

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // Shrinking in place is always valid in a bump arena when the
        // alignment is kept.
        if ptr.as_ptr() as usize % new.align() == 0 {
            Ok(slice(ptr, new.size()))
        } else {
            let fresh = self.allocate(new)?;
            // SAFETY: `ptr` holds at least `new.size()` bytes (it is
            // shrinking); the blocks are distinct.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    ptr.as_ptr(),
                    fresh.as_ptr().cast::<u8>(),
                    new.size(),
                )
            };
            Ok(fresh)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_moves_from_pool_to_arena_and_back() {
        let ctx = MorphContext::new();
        let mut v: MorphVec<'_, u64> = MorphVec::new_in(&ctx);
        v.push(1);
        // SAFETY: the buffer is a live context object.
        let h = unsafe { ctx.header(NonNull::new(v.as_mut_ptr().cast()).unwrap()) };
        assert!(!h.is_arena());
        v.extend(2..=100);
        // SAFETY: as above.
        let h = unsafe { ctx.header(NonNull::new(v.as_mut_ptr().cast()).unwrap()) };
        assert!(h.is_arena());
        assert_eq!(v.iter().sum::<u64>(), 5050);
        v.truncate(3);
        v.shrink_to_fit();
        // SAFETY: as above.
        let h = unsafe { ctx.header(NonNull::new(v.as_mut_ptr().cast()).unwrap()) };
        assert!(!h.is_arena(), "shrinking brings it back to a pool");
        assert_eq!(&v[..], &[1, 2, 3]);
        drop(v);
        assert_eq!(ctx.stats().live_objects, 0);
    }

    #[test]
    fn over_aligned_growth_keeps_alignment() {
        #[derive(Clone, Copy)]
        #[repr(align(64))]
        struct Line([u8; 64]);
        let ctx = MorphContext::new();
        let mut v: MorphVec<'_, Line> = MorphVec::new_in(&ctx);
        for i in 0..50u8 {
            v.push(Line([i; 64]));
            assert_eq!(v.as_ptr() as usize % 64, 0);
        }
        assert!(v.iter().enumerate().all(|(i, l)| l.0 == [i as u8; 64]));
    }

    /// Regression (found by Miri): `Box` frees through a pointer derived
    /// from a reference to the payload only; the header must be read with
    /// the block's provenance. Pool-sized and arena-sized values.
    #[test]
    fn boxes_free_through_reference_derived_pointers() {
        let ctx = MorphContext::new();
        let small = MorphAllocBox::new_in(7u64, &ctx);
        let large = MorphAllocBox::new_in([3u8; 600], &ctx);
        let text = MorphAllocBox::new_in(String::from("dropped"), &ctx);
        assert_eq!((*small, large[599], text.as_str()), (7, 3, "dropped"));
        assert_eq!(ctx.stats().live_objects, 3);
        drop((small, large, text));
        assert_eq!(ctx.stats().live_objects, 0);
    }

    /// Regression: `Box` hands `deallocate` a dangling, never-allocated
    /// pointer for zero-sized values and empty slices. It used to be freed
    /// as if a header preceded it (a segfault without debug checks, which
    /// hid it by refusing the pointer).
    #[test]
    fn zero_sized_boxes_and_empty_slices_free_nothing() {
        let ctx = MorphContext::new();
        drop(MorphAllocBox::new_in((), &ctx));
        drop(MorphVec::<u64>::new_in(&ctx).into_boxed_slice());
        let mut units: MorphVec<'_, ()> = MorphVec::new_in(&ctx);
        units.extend(std::iter::repeat_n((), 1000));
        assert_eq!(units.len(), 1000);
        drop(units);
        let s = ctx.stats();
        assert_eq!((s.allocations, s.live_objects), (0, 0));
        #[cfg(feature = "debug-checks")]
        assert!(ctx.violations().is_empty());
    }

    /// Growing from and shrinking to zero bytes goes through the same
    /// never-allocated block.
    #[test]
    fn grow_from_and_shrink_to_zero() {
        let ctx = MorphContext::new();
        let mut v: MorphVec<'_, u32> = MorphVec::with_capacity_in(0, &ctx);
        v.push(5);
        assert_eq!(ctx.stats().live_objects, 1);
        v.clear();
        v.shrink_to_fit();
        let s = ctx.stats();
        assert_eq!((s.live_objects, s.frees), (0, 1));
        v.push(6);
        assert_eq!((v[0], ctx.stats().live_objects), (6, 1));
    }

    /// A pointer the context does not hold is refused by `deallocate` and
    /// `grow` instead of having a header read before it.
    #[test]
    fn foreign_pointers_are_refused() {
        let ctx = MorphContext::new();
        let keep = MorphAllocBox::new_in(1u64, &ctx);
        let mut outside = [0u64; 4];
        let p = NonNull::from(&mut outside).cast::<u8>();
        let layout = Layout::new::<[u64; 4]>();
        // SAFETY: deliberately outside the contract; the context must find
        // that it does not hold `p` before touching anything.
        unsafe { (&ctx).deallocate(p, layout) };
        // SAFETY: as above.
        let grown = unsafe { (&ctx).grow(p, layout, Layout::new::<[u64; 8]>()) };
        assert!(grown.is_err());
        assert_eq!((ctx.stats().live_objects, *keep), (1, 1));
        #[cfg(feature = "debug-checks")]
        assert_eq!(ctx.violations().len(), 2);
    }

    #[test]
    fn arena_vec_and_box() {
        let arena = Arena::new();
        let mut v = allocator_api2::vec::Vec::new_in(&arena);
        v.extend(0..10_000u32);
        assert_eq!(v.len(), 10_000);
        let b = allocator_api2::boxed::Box::new_in(String::from("dropped"), &arena);
        assert_eq!(b.len(), 7);
    }
}
