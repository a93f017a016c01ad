//! Slab memory from the operating system: regions aligned to their own size,
//! given back whole.
//!
//! On Unix (outside Miri) a slab is an anonymous private mapping: `mmap` of
//! twice the slab size, then `munmap` of the unaligned head and tail, which
//! leaves exactly one aligned slab. Giving it back is one `munmap`, so the
//! resident set really shrinks, and no allocator page of bookkeeping is spent
//! on the alignment (an aligned request to the system allocator costs up to a
//! whole extra slab of address space, and a page of it resident). Under Miri,
//! and on targets without these calls, the global allocator serves instead.
//!
//! The calls go through `rustix` (no libc wrapper, `no_std`-ready, and the
//! crate the Rust ecosystem maintains for exactly these system calls).

use core::ptr::NonNull;

/// A fresh, zero-filled or uninitialised region of `size` bytes aligned to
/// `size` (a power of two of at least a page), or `None` when the system
/// refuses it.
pub(crate) fn alloc_aligned(size: usize) -> Option<NonNull<u8>> {
    debug_assert!(size.is_power_of_two() && size >= 4096);
    imp::alloc_aligned(size)
}

/// Gives back a region from [`alloc_aligned`].
///
/// # Safety
/// `ptr` came from `alloc_aligned(size)` with this `size` and is not used
/// afterwards.
pub(crate) unsafe fn free_aligned(ptr: NonNull<u8>, size: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { imp::free_aligned(ptr, size) }
}

#[cfg(all(unix, not(miri)))]
mod imp {
    use core::ffi::c_void;
    use core::ptr::{self, NonNull};
    use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous, munmap};

    pub(super) fn alloc_aligned(size: usize) -> Option<NonNull<u8>> {
        let span = size.checked_mul(2)?;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing touches no existing memory.
        let base = unsafe {
            mmap_anonymous(
                ptr::null_mut(),
                span,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .ok()?
        .cast::<u8>();
        // The first `size`-aligned address in the mapping; `span` = 2 *
        // `size` leaves a whole slab after it.
        let head = base.addr().next_multiple_of(size) - base.addr();
        let start = base.wrapping_add(head);
        let tail = span - head - size;
        // SAFETY: both ranges lie inside the mapping just made, are page
        // aligned (mmap returns page-aligned addresses and `size` is a
        // multiple of the page size) and are not used by anyone.
        unsafe {
            if head > 0 {
                let _ = munmap(base.cast::<c_void>(), head);
            }
            if tail > 0 {
                let _ = munmap(start.wrapping_add(size).cast::<c_void>(), tail);
            }
        }
        NonNull::new(start)
    }

    pub(super) unsafe fn free_aligned(ptr: NonNull<u8>, size: usize) {
        // SAFETY: the caller gives back a whole mapping made by
        // `alloc_aligned(size)`; a failure (impossible for a valid range)
        // would only leave the memory mapped.
        let _ = unsafe { munmap(ptr.as_ptr().cast::<c_void>(), size) };
    }
}

#[cfg(not(all(unix, not(miri))))]
mod imp {
    use ::alloc::alloc::{alloc, dealloc};
    use core::alloc::Layout;
    use core::ptr::NonNull;

    pub(super) fn alloc_aligned(size: usize) -> Option<NonNull<u8>> {
        let layout = Layout::from_size_align(size, size).ok()?;
        // SAFETY: the layout has a non-zero size.
        NonNull::new(unsafe { alloc(layout) })
    }

    pub(super) unsafe fn free_aligned(ptr: NonNull<u8>, size: usize) {
        // SAFETY: `alloc_aligned` allocated `ptr` with exactly this layout
        // (`size` is a power of two, so the layout is valid).
        unsafe { dealloc(ptr.as_ptr(), Layout::from_size_align_unchecked(size, size)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_aligned_and_writable() {
        for size in [4096, 64 * 1024, 1 << 20] {
            let p = alloc_aligned(size).unwrap();
            assert_eq!(p.as_ptr().addr() % size, 0);
            // SAFETY: the region holds `size` bytes; it is given back once.
            unsafe {
                p.as_ptr().write_bytes(0xA5, size);
                assert_eq!(*p.as_ptr().add(size - 1), 0xA5);
                free_aligned(p, size);
            }
        }
    }
}
