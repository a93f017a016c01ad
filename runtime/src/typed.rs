//! Typed helpers shared by [`Arena`](crate::Arena) and
//! [`MorphContext`](crate::MorphContext), generated as inherent methods so
//! that no trait import is needed.
//!
//! Each type provides a private `alloc_layout_tagged(&self, Layout, TypeTag)`;
//! the macro builds on it. Every helper refuses, at compile time, a type that
//! needs `Drop`: such values would never be dropped, and silently leaking the
//! heap memory they own is the bug these helpers exist to rule out.

use crate::error::AllocError;
use std::alloc::Layout;

/// The layout of `[T; len]`, or an `InvalidLayout` error on overflow.
pub(crate) fn array_layout<T>(len: usize) -> Result<Layout, AllocError> {
    Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout {
        size: len.saturating_mul(std::mem::size_of::<T>()),
        align: std::mem::align_of::<T>(),
    })
}

macro_rules! typed_alloc_methods {
    ($ty:ident, $ctor:literal) => {
        #[doc = concat!("Moves `value` into the ", stringify!($ty), " and returns a reference that lives as long as it.")]
        ///
        /// The value is never dropped; a `T` that needs `Drop` does not compile.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let n = a.alloc(5u32).unwrap();
        /// *n += 1;
        /// assert_eq!(*n, 6);
        /// ```
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn alloc<T>(&self, value: T) -> Result<&mut T, $crate::AllocError> {
            self.alloc_with_tag(value, $crate::TypeTag::UNTAGGED)
        }

        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn alloc_with_tag<T>(&self, value: T, tag: $crate::TypeTag) -> Result<&mut T, $crate::AllocError> {
            const {
                assert!(
                    !std::mem::needs_drop::<T>(),
                    "this allocator never runs Drop; use a boxed owner for types that need it"
                )
            };
            let p = self
                .alloc_layout_tagged(std::alloc::Layout::new::<T>(), tag)?
                .cast::<T>();
            // SAFETY: `p` is fresh memory sized and aligned for `T`, not
            // aliased, and lives as long as `self`.
            unsafe {
                p.as_ptr().write(value);
                Ok(&mut *p.as_ptr())
            }
        }

        #[doc = concat!("Copies a slice into the ", stringify!($ty), ".")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let s = a.alloc_slice_copy(&[1, 2, 3]).unwrap();
        /// s[0] = 9;
        /// assert_eq!(s, &[9, 2, 3]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], $crate::AllocError> {
            let layout = $crate::typed::array_layout::<T>(src.len())?;
            let p = self
                .alloc_layout_tagged(layout, $crate::TypeTag::UNTAGGED)?
                .cast::<T>();
            // SAFETY: `p` is fresh memory for `src.len()` values of `T`, which
            // cannot overlap `src`; `T: Copy` so a bitwise copy is a valid copy.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), p.as_ptr(), src.len());
                Ok(std::slice::from_raw_parts_mut(p.as_ptr(), src.len()))
            }
        }

        #[doc = concat!("Copies a string into the ", stringify!($ty), ".")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.alloc_str("while").unwrap(), "while");
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn alloc_str(&self, s: &str) -> Result<&mut str, $crate::AllocError> {
            let bytes = self.alloc_slice_copy(s.as_bytes())?;
            // SAFETY: a byte-for-byte copy of a `str` is valid UTF-8.
            Ok(unsafe { std::str::from_utf8_unchecked_mut(bytes) })
        }

        /// Allocates a slice of `len` values, the `i`-th being `f(i)`.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let squares = a.alloc_slice_fill_with(4, |i| i * i).unwrap();
        /// assert_eq!(squares, &[0, 1, 4, 9]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn alloc_slice_fill_with<T, F: FnMut(usize) -> T>(
            &self,
            len: usize,
            mut f: F,
        ) -> Result<&mut [T], $crate::AllocError> {
            const {
                assert!(
                    !std::mem::needs_drop::<T>(),
                    "this allocator never runs Drop; use a boxed owner for types that need it"
                )
            };
            let layout = $crate::typed::array_layout::<T>(len)?;
            let p = self
                .alloc_layout_tagged(layout, $crate::TypeTag::UNTAGGED)?
                .cast::<T>();
            for i in 0..len {
                // SAFETY: `i < len` and the memory holds `len` values of `T`.
                unsafe { p.as_ptr().add(i).write(f(i)) };
            }
            // SAFETY: all `len` values were written just above.
            Ok(unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), len) })
        }
    };
}

pub(crate) use typed_alloc_methods;
