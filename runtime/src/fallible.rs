//! Building collections without the standard library's abort on a failed
//! allocation: the crate promises that no allocation failure aborts or
//! panics, and `collect`, `Vec::with_capacity` and `Box::new` on a public
//! path would break that promise for sizes a caller chooses.

#[cfg(any(feature = "ffi", test))]
use std::{alloc::Layout, ptr::NonNull};

/// A vector of `len` elements made by `f(0)`, `f(1)`, …, or the number of
/// bytes the system refused (or that no layout can hold).
pub(crate) fn try_vec_from_fn<T>(len: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>, usize> {
    let bytes = std::mem::size_of::<T>().saturating_mul(len);
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| bytes)?;
    v.extend((0..len).map(f));
    Ok(v)
}

/// Moves `value` to the heap and returns the owning pointer (as
/// `Box::into_raw(Box::new(value))` does), or gives the value back when the
/// system refuses the memory. Free it with [`free_raw`].
#[cfg(any(feature = "ffi", test))]
pub(crate) fn try_into_raw<T>(value: T) -> Result<NonNull<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        // A zero-sized `Box` allocates nothing, so it cannot fail.
        return Ok(NonNull::from(Box::leak(Box::new(value))));
    }
    // SAFETY: the layout has a non-zero size.
    let Some(p) = NonNull::new(unsafe { std::alloc::alloc(layout) }.cast::<T>()) else {
        return Err(value);
    };
    // SAFETY: fresh memory sized and aligned for `T`.
    unsafe { p.as_ptr().write(value) };
    Ok(p)
}

/// Drops and frees what [`try_into_raw`] returned.
///
/// # Safety
/// `p` came from [`try_into_raw`] and is not used afterwards.
#[cfg(any(feature = "ffi", test))]
pub(crate) unsafe fn free_raw<T>(p: NonNull<T>) {
    // SAFETY: `try_into_raw` allocated `p` with the global allocator and
    // `Layout::new::<T>()` (or through `Box` for a zero-sized `T`, which the
    // `Box` layout matches), which is exactly what `Box` owns.
    drop(unsafe { Box::from_raw(p.as_ptr()) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_sizes_come_back_as_errors() {
        assert_eq!(try_vec_from_fn(3, |i| i * 2).unwrap(), [0, 2, 4]);
        // More than any layout holds: refused before the allocator is asked.
        let huge = try_vec_from_fn::<[u64; 1 << 30]>(1 << 40, |_| [0; 1 << 30]);
        assert_eq!(huge.unwrap_err(), usize::MAX);
        let p = try_into_raw(String::from("kept")).unwrap();
        // SAFETY: `p` came from `try_into_raw` and is freed once.
        unsafe {
            assert_eq!(p.as_ref(), "kept");
            free_raw(p);
        }
    }
}
