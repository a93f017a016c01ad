//! [`GrowablePool`]: an untyped pool of one object size that adds memory
//! instead of failing when full.
//!
//! It is a [`SlabPool`] whose slot size is derived from the object's size and
//! alignment, with slabs large enough for big objects: the same free list,
//! lazy carving and statistics, no second implementation.

use crate::error::{AllocError, ConfigError};
use crate::slab::{ClassStats, SlabPool, DEFAULT_SLAB_SIZE, MAX_SLAB_SIZE, SLAB_DATA_OFFSET};
use std::ptr::NonNull;

/// Largest alignment a growable pool gives (slots start 256 bytes into a
/// slab, so larger alignments cannot be kept).
pub const MAX_GROWABLE_ALIGN: usize = SLAB_DATA_OFFSET;

/// An untyped pool of objects of `size` bytes aligned to `align` that grows
/// by whole slabs when it runs out.
///
/// ```
/// use morph_runtime::GrowablePool;
/// let pool = GrowablePool::new(1000, 8).unwrap();
/// let objects: Vec<_> = (0..500).map(|_| pool.alloc().unwrap()).collect();
/// assert!(pool.stats().slabs > 1, "it grew");
/// # // SAFETY: each object came from `pool` and is freed once.
/// # for p in objects { unsafe { pool.free(p) } }
/// ```
pub struct GrowablePool {
    slabs: SlabPool,
    size: usize,
}

impl GrowablePool {
    /// A pool for objects of `size` bytes aligned to `align` (a power of two
    /// up to 256). Slabs are 64 KiB, or larger for big objects (at least 16
    /// objects a slab).
    ///
    /// ```
    /// use morph_runtime::GrowablePool;
    /// assert_eq!(GrowablePool::new(3, 1).unwrap().slot_size(), 16);
    /// assert!(GrowablePool::new(8, 512).is_err());
    /// ```
    pub fn new(size: usize, align: usize) -> Result<GrowablePool, ConfigError> {
        if !align.is_power_of_two() || align > MAX_GROWABLE_ALIGN {
            return Err(ConfigError::new(format!(
                "alignment {align} must be a power of two up to {MAX_GROWABLE_ALIGN}"
            )));
        }
        let slot = size
            .max(16)
            .checked_next_multiple_of(align.max(16))
            .filter(|&s| s <= (MAX_SLAB_SIZE - SLAB_DATA_OFFSET) / 16)
            .ok_or_else(|| ConfigError::new(format!("object size {size} is too large")))?;
        let slab = (slot * 16 + SLAB_DATA_OFFSET)
            .next_power_of_two()
            .max(DEFAULT_SLAB_SIZE);
        Ok(GrowablePool {
            slabs: SlabPool::with_slab_size(slot, slab)?,
            size,
        })
    }

    /// An object's worth of uninitialised memory.
    ///
    /// ```
    /// use morph_runtime::GrowablePool;
    /// let pool = GrowablePool::new(24, 8).unwrap();
    /// let p = pool.alloc().unwrap();
    /// assert_eq!(p.as_ptr() as usize % 8, 0);
    /// # // SAFETY: `p` came from `pool` and is freed once.
    /// # unsafe { pool.free(p) }
    /// ```
    #[inline]
    pub fn alloc(&self) -> Result<NonNull<u8>, AllocError> {
        self.slabs.alloc()
    }

    /// Returns an object's memory; it is the next handed out.
    ///
    /// # Safety
    /// `ptr` came from this pool's `alloc`, was not freed since, and is not
    /// used afterwards.
    ///
    /// ```
    /// use morph_runtime::GrowablePool;
    /// let pool = GrowablePool::new(24, 8).unwrap();
    /// let p = pool.alloc().unwrap();
    /// // SAFETY: from this pool, freed once.
    /// unsafe { pool.free(p) };
    /// assert_eq!(pool.alloc().unwrap(), p);
    /// ```
    #[inline]
    pub unsafe fn free(&self, ptr: NonNull<u8>) {
        // SAFETY: forwarded from the caller.
        unsafe { self.slabs.free(ptr) }
    }

    /// The object size asked for.
    ///
    /// ```
    /// assert_eq!(morph_runtime::GrowablePool::new(24, 8).unwrap().object_size(), 24);
    /// ```
    pub fn object_size(&self) -> usize {
        self.size
    }

    /// The slot size used (the object size rounded up).
    ///
    /// ```
    /// assert_eq!(morph_runtime::GrowablePool::new(24, 8).unwrap().slot_size(), 32);
    /// ```
    pub fn slot_size(&self) -> usize {
        self.slabs.slot_size()
    }

    /// Statistics (slabs, live, peak, reuses...).
    ///
    /// ```
    /// let pool = morph_runtime::GrowablePool::new(24, 8).unwrap();
    /// pool.alloc().unwrap();
    /// assert_eq!(pool.stats().live, 1);
    /// ```
    pub fn stats(&self) -> ClassStats {
        self.slabs.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_objects_get_big_slabs_and_stay_aligned() {
        let pool = GrowablePool::new(10_000, 256).unwrap();
        let ps: Vec<_> = (0..40).map(|_| pool.alloc().unwrap()).collect();
        for p in &ps {
            assert_eq!(p.as_ptr() as usize % 256, 0);
            // SAFETY: each object holds 10,000 bytes.
            unsafe { p.as_ptr().write_bytes(9, 10_000) };
        }
        let s = pool.stats();
        assert_eq!(s.live, 40);
        assert!(s.slabs >= 2);
        for p in ps {
            // SAFETY: from this pool, freed once.
            unsafe { pool.free(p) };
        }
        assert_eq!(pool.stats().live, 0);
    }
}
