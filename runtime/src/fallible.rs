//! Building collections without the standard library's abort on a failed
//! allocation: the crate promises that no allocation failure aborts or
//! panics, and `collect`, `Vec::with_capacity` and `Box::new` on a public
//! path would break that promise for sizes a caller chooses.

use alloc::vec::Vec;

/// A vector of `len` elements made by `f(0)`, `f(1)`, …, or the number of
/// bytes the system refused (or that no layout can hold).
pub(crate) fn try_vec_from_fn<T>(len: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>, usize> {
    let bytes = core::mem::size_of::<T>().saturating_mul(len);
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| bytes)?;
    v.extend((0..len).map(f));
    Ok(v)
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
    }
}
