//! The large-object space: objects over the pool limit, each its own block
//! from the system allocator, freed (and its memory returned) one by one, as
//! a collector needs. A context uses it instead of the arena when its
//! configuration says [`LargeObjects::Freeable`](crate::LargeObjects).
//!
//! Block layout, from its start (aligned to the offset, so the payload is
//! aligned to it too, as every header's offset promises):
//!
//! ```text
//! [ padding | prev | next | header | payload ... ]
//!                          ^ payload - 8
//!   ^ payload - offset, offset = max(32, align)
//! ```
//!
//! The two links put every large object on one doubly linked list, so a
//! free unlinks in O(1) and a walk visits each object once; the offset is a
//! power of two, so the header's shift field records it exactly as for any
//! other object.

use crate::budget::Budget;
use crate::error::Error;
use crate::header::{HEADER_SIZE, Header, LARGE_CLASS, TypeTag, shift_for};
use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::{self, NonNull};

/// The links just before an object's header.
#[repr(C)]
struct Links {
    prev: *mut Links,
    next: *mut Links,
}

/// Bytes from the links to the payload: the links and the header.
const LINKS_TO_PAYLOAD: usize = core::mem::size_of::<Links>() + HEADER_SIZE;
const _: () = assert!(LINKS_TO_PAYLOAD == 24);

/// Distance from the block start to the payload for an alignment: room for
/// the links and the header, and a power of two the header can record.
fn payload_offset(align: usize) -> usize {
    align.max(32)
}

/// Alignment of the block for a payload offset: the offset itself, so that
/// the payload is aligned to the offset as every header promises.
fn block_align(offset: usize) -> usize {
    offset
}

/// Statistics of a context's large-object space.
///
/// ```
/// use morph_runtime::{Config, MorphContext};
/// let ctx = MorphContext::with_config(Config::runtime()).unwrap();
/// let big = ctx.alloc_slice_copy(&[7u8; 1000]);
/// let s = ctx.stats().large;
/// assert_eq!((s.live_objects, s.live_payload_bytes, s.allocations), (1, 1000, 1));
/// # let _ = big;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LargeStats {
    /// Objects allocated since the last reset.
    pub allocations: u64,
    /// Objects freed since the last reset.
    pub frees: u64,
    /// Payload bytes requested since the last reset.
    pub bytes_requested: u64,
    /// Objects alive.
    pub live_objects: usize,
    /// Payload bytes of those objects.
    pub live_payload_bytes: usize,
    /// Bytes of their blocks (payload, header, links and padding).
    pub bytes_reserved: usize,
    /// Most block bytes held at once.
    pub peak_bytes_reserved: usize,
    /// Block bytes given back to the system so far.
    pub bytes_returned: u64,
}

/// The large objects of one context.
pub(crate) struct LargeSpace {
    /// Newest first.
    head: Cell<*mut Links>,
    allocations: Cell<u64>,
    frees: Cell<u64>,
    requested: Cell<u64>,
    live_objects: Cell<usize>,
    live_bytes: Cell<usize>,
    reserved: Cell<usize>,
    peak_reserved: Cell<usize>,
    returned: Cell<u64>,
}

impl LargeSpace {
    pub(crate) const fn new() -> LargeSpace {
        LargeSpace {
            head: Cell::new(ptr::null_mut()),
            allocations: Cell::new(0),
            frees: Cell::new(0),
            requested: Cell::new(0),
            live_objects: Cell::new(0),
            live_bytes: Cell::new(0),
            reserved: Cell::new(0),
            peak_reserved: Cell::new(0),
            returned: Cell::new(0),
        }
    }

    /// A large object of `layout` with `tag`; its payload pointer.
    pub(crate) fn alloc(
        &self,
        layout: Layout,
        tag: TypeTag,
        budget: &Budget,
    ) -> Result<NonNull<u8>, Error> {
        let (size, align) = (layout.size(), layout.align());
        let invalid = Error::InvalidLayout { size, align };
        // The header holds the size in 32 bits.
        let size32 = u32::try_from(size).map_err(|_| invalid)?;
        let offset = payload_offset(align);
        let block = offset
            .checked_add(size)
            .and_then(|total| Layout::from_size_align(total, block_align(offset)).ok())
            .ok_or(invalid)?;
        budget.reserve(block.size())?;
        // SAFETY: the layout has a non-zero size (at least the offset).
        let Some(start) = NonNull::new(unsafe { alloc::alloc::alloc(block) }) else {
            budget.release(block.size());
            return Err(Error::OutOfMemory {
                requested: block.size(),
            });
        };
        // SAFETY: the block holds `offset + size` bytes; the links and the
        // header lie in the `offset >= 32` bytes before the payload, which is
        // aligned to `offset >= align` (the block is, and `offset` is a
        // multiple of itself), so both are 8-aligned.
        unsafe {
            let payload = start.as_ptr().add(offset);
            Header::new(size32, tag, LARGE_CLASS, shift_for(offset))
                .store(payload.sub(HEADER_SIZE).cast());
            let links = payload.sub(LINKS_TO_PAYLOAD).cast::<Links>();
            let head = self.head.get();
            links.write(Links {
                prev: ptr::null_mut(),
                next: head,
            });
            if !head.is_null() {
                (*head).prev = links;
            }
            self.head.set(links);
            self.allocations.set(self.allocations.get() + 1);
            self.requested.set(self.requested.get() + size as u64);
            self.live_objects.set(self.live_objects.get() + 1);
            self.live_bytes.set(self.live_bytes.get() + size);
            self.reserved.set(self.reserved.get() + block.size());
            self.peak_reserved
                .set(self.peak_reserved.get().max(self.reserved.get()));
            Ok(NonNull::new_unchecked(payload))
        }
    }

    /// Frees a large object and gives its block back.
    ///
    /// # Safety
    /// `payload` is a live large object of this space whose header is
    /// `header`, and is not used afterwards.
    pub(crate) unsafe fn free(&self, payload: NonNull<u8>, header: Header, budget: &Budget) {
        let (size, offset) = (header.size(), header.payload_offset());
        // SAFETY: the caller guarantees a live object of ours: its links sit
        // 24 bytes before the payload and its neighbours are live.
        unsafe {
            let links = payload.as_ptr().sub(LINKS_TO_PAYLOAD).cast::<Links>();
            let Links { prev, next } = links.read();
            if prev.is_null() {
                self.head.set(next);
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
        }
        let bytes = offset + size;
        // SAFETY: the block starts `offset` bytes before the payload and was
        // allocated with exactly this layout in `alloc`.
        unsafe {
            alloc::alloc::dealloc(
                payload.as_ptr().sub(offset),
                Layout::from_size_align_unchecked(bytes, block_align(offset)),
            )
        };
        budget.release(bytes);
        self.frees.set(self.frees.get() + 1);
        self.live_objects.set(self.live_objects.get() - 1);
        self.live_bytes.set(self.live_bytes.get() - size);
        self.reserved.set(self.reserved.get() - bytes);
        self.returned.set(self.returned.get() + bytes as u64);
    }

    /// Records a change of a live object's size made in place.
    pub(crate) fn resized(&self, old: usize, new: usize) {
        self.live_bytes.set(self.live_bytes.get() - old + new);
        self.requested.set(self.requested.get() + new as u64);
    }

    /// Calls `f` with the payload of every live large object. `f` may free
    /// the object it is given (the walk has already read its successor),
    /// nothing else.
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<u8>)) {
        let mut l = self.head.get();
        while !l.is_null() {
            // SAFETY: objects on the list are live; the link is read before
            // `f` may free the object.
            let next = unsafe { (*l).next };
            // SAFETY: the payload follows the links and the header.
            f(unsafe { NonNull::new_unchecked(l.cast::<u8>().add(LINKS_TO_PAYLOAD)) });
            l = next;
        }
    }

    /// The start of the block holding `addr` in its payload, as a pointer
    /// carrying the block's provenance (walks the list).
    pub(crate) fn find(&self, addr: usize) -> Option<*mut u8> {
        let mut found = None;
        self.for_each(|p| {
            // SAFETY: `p` is a live object with its header before it.
            let h = unsafe { p.as_ptr().sub(HEADER_SIZE).cast::<Header>().read() };
            let start = p.as_ptr().addr();
            if found.is_none() && (start..start + h.size().max(1)).contains(&addr) {
                found = Some(p.as_ptr());
            }
        });
        found
    }

    /// Frees every object (a reset, or the context going away).
    pub(crate) fn free_all(&self, budget: &Budget) {
        self.for_each(|p| {
            // SAFETY: `p` is live; its header is before it; `for_each`
            // allows freeing the object it hands over.
            unsafe {
                let h = p.as_ptr().sub(HEADER_SIZE).cast::<Header>().read();
                self.free(p, h, budget);
            }
        });
    }

    /// Counters restart (after a reset that freed everything).
    pub(crate) fn restart_counters(&self) {
        self.allocations.set(0);
        self.frees.set(0);
        self.requested.set(0);
    }

    pub(crate) fn stats(&self) -> LargeStats {
        LargeStats {
            allocations: self.allocations.get(),
            frees: self.frees.get(),
            bytes_requested: self.requested.get(),
            live_objects: self.live_objects.get(),
            live_payload_bytes: self.live_bytes.get(),
            bytes_reserved: self.reserved.get(),
            peak_bytes_reserved: self.peak_reserved.get(),
            bytes_returned: self.returned.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_linked_and_returned() {
        let budget = Budget::new(None);
        let space = LargeSpace::new();
        let mut ptrs = Vec::new();
        for (i, align) in [1usize, 8, 16, 32, 64, 4096].into_iter().enumerate() {
            let layout = Layout::from_size_align(300 + i, align).unwrap();
            let p = space.alloc(layout, TypeTag(7), &budget).unwrap();
            assert_eq!(p.as_ptr().addr() % align, 0);
            // SAFETY: a fresh object of `300 + i` bytes.
            unsafe { p.as_ptr().write_bytes(i as u8, 300 + i) };
            ptrs.push(p);
        }
        let mut seen = 0;
        space.for_each(|_| seen += 1);
        assert_eq!(seen, 6);
        assert_eq!(
            space.find(ptrs[2].as_ptr().addr() + 5),
            Some(ptrs[2].as_ptr())
        );
        // SAFETY: `ptrs[2]` is live; freed once.
        unsafe {
            let h = ptrs[2].as_ptr().sub(HEADER_SIZE).cast::<Header>().read();
            assert_eq!((h.size(), h.tag(), h.is_large()), (302, TypeTag(7), true));
            space.free(ptrs[2], h, &budget);
        }
        let s = space.stats();
        assert_eq!((s.live_objects, s.frees), (5, 1));
        assert_eq!(s.bytes_reserved, budget.reserved());
        space.free_all(&budget);
        assert_eq!((space.stats().live_objects, budget.reserved()), (0, 0));
    }

    #[test]
    fn sizes_the_header_cannot_hold_are_refused() {
        let budget = Budget::new(None);
        let space = LargeSpace::new();
        let huge = Layout::from_size_align(1 << 32, 8).unwrap();
        assert!(matches!(
            space.alloc(huge, TypeTag(0), &budget),
            Err(Error::InvalidLayout { .. })
        ));
        assert_eq!(budget.reserved(), 0);
    }
}
