//! Typed helpers shared by [`Arena`](crate::Arena) and
//! [`MorphContext`](crate::MorphContext), generated as inherent methods so
//! that no trait import is needed.
//!
//! Each helper comes as a pair: `try_x` returns the [`Error`], `x` panics
//! with it (as `Box::new` and `Vec::push` do when memory runs out). Each type
//! provides a private `alloc_layout_tagged(&self, Layout, TypeTag)`; the
//! macro builds on it. Every helper refuses, at compile time, a type that
//! needs `Drop`: such values would never be dropped, and silently leaking the
//! heap memory they own is the bug these helpers exist to rule out. An empty
//! slice or string allocates nothing.

use crate::error::Error;
use core::alloc::Layout;

/// The layout of `[T; len]`, or an `InvalidLayout` error on overflow.
pub(crate) fn array_layout<T>(len: usize) -> Result<Layout, Error> {
    Layout::array::<T>(len).map_err(|_| Error::InvalidLayout {
        size: len.saturating_mul(core::mem::size_of::<T>()),
        align: core::mem::align_of::<T>(),
    })
}

/// The panic of the infallible helpers; out of line so that their fast
/// paths stay small.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn alloc_failed(e: Error) -> ! {
    panic!("morph: allocation failed: {e}")
}

/// Unwraps a fallible helper's result, panicking with the error.
#[inline(always)]
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T, Error>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => alloc_failed(e),
    }
}

/// Runs its closure if dropped, that is, if the code it guards unwinds; the
/// normal path disarms it with `core::mem::forget`.
pub(crate) struct OnUnwind<F: FnMut()>(pub(crate) F);

impl<F: FnMut()> Drop for OnUnwind<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// The compile-time refusal of types that need `Drop`.
pub(crate) struct NoDrop<T>(core::marker::PhantomData<T>);

impl<T> NoDrop<T> {
    pub(crate) const CHECK: () = assert!(
        !core::mem::needs_drop::<T>(),
        "this allocator never runs Drop; use a boxed owner for types that need it"
    );
}

macro_rules! typed_alloc_methods {
    ($ty:ident, $ctor:literal) => {
        #[doc = concat!("Moves `value` into the ", stringify!($ty), " and returns a reference that lives as long as it.")]
        ///
        /// The value is never dropped; a `T` that needs `Drop` does not
        /// compile. Panics if memory cannot be had (see
        /// [`try_alloc`](Self::try_alloc)).
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let n = a.alloc(5u32);
        /// *n += 1;
        /// assert_eq!(*n, 6);
        /// ```
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc<T>(&self, value: T) -> &mut T {
            $crate::typed::or_panic(self.alloc_with_tag(value, $crate::TypeTag::UNTAGGED))
        }

        #[doc = concat!("Moves `value` into the ", stringify!($ty), ", or returns why it cannot.")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let n = a.try_alloc(5u32).unwrap();
        /// assert_eq!(*n, 5);
        /// ```
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc<T>(&self, value: T) -> Result<&mut T, $crate::Error> {
            self.alloc_with_tag(value, $crate::TypeTag::UNTAGGED)
        }

        /// Builds a value in place from `f`: the value is written straight
        /// into its memory, so a large value is not first made on the stack
        /// and copied (when the compiler inlines `f`). Panics if memory
        /// cannot be had.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let table = a.alloc_with(|| [7u64; 4096]);
        /// assert_eq!(table[4095], 7);
        /// ```
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_with<T, F: FnOnce() -> T>(&self, f: F) -> &mut T {
            $crate::typed::or_panic(self.alloc_with_fn_tag(f, $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_with`](Self::alloc_with), returning the error instead of
        /// panicking; `f` is not called when memory cannot be had.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.try_alloc_with(|| 3u8).unwrap(), &3);
        /// ```
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_with<T, F: FnOnce() -> T>(&self, f: F) -> Result<&mut T, $crate::Error> {
            self.alloc_with_fn_tag(f, $crate::TypeTag::UNTAGGED)
        }

        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn alloc_with_tag<T>(&self, value: T, tag: $crate::TypeTag) -> Result<&mut T, $crate::Error> {
            #[allow(clippy::let_unit_value)]
            let () = $crate::typed::NoDrop::<T>::CHECK;
            let p = self
                .alloc_layout_tagged(core::alloc::Layout::new::<T>(), tag)?
                .cast::<T>();
            // SAFETY: `p` is fresh memory sized and aligned for `T`, not
            // aliased, and lives as long as `self`.
            unsafe {
                p.as_ptr().write(value);
                Ok(&mut *p.as_ptr())
            }
        }

        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn alloc_with_fn_tag<T, F: FnOnce() -> T>(&self, f: F, tag: $crate::TypeTag) -> Result<&mut T, $crate::Error> {
            #[allow(clippy::let_unit_value)]
            let () = $crate::typed::NoDrop::<T>::CHECK;
            let p = self
                .alloc_layout_tagged(core::alloc::Layout::new::<T>(), tag)?
                .cast::<T>();
            // If `f` panics, the memory goes back before the unwind leaves.
            let guard = $crate::typed::OnUnwind(|| {
                // SAFETY: `p` was allocated just above with this layout, holds
                // no value yet, and nothing else refers to it.
                unsafe { self.abandon(p.cast(), core::alloc::Layout::new::<T>()) }
            });
            let value = f();
            core::mem::forget(guard);
            // SAFETY: as in `alloc_with_tag`.
            unsafe {
                p.as_ptr().write(value);
                Ok(&mut *p.as_ptr())
            }
        }

        #[doc = concat!("Copies a slice into the ", stringify!($ty), ". An empty slice allocates nothing. Panics if memory cannot be had.")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let s = a.alloc_slice_copy(&[1, 2, 3]);
        /// s[0] = 9;
        /// assert_eq!(s, &[9, 2, 3]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
            $crate::typed::or_panic(self.slice_copy_tagged(src, $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_slice_copy`](Self::alloc_slice_copy), returning the error.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.try_alloc_slice_copy(&[1u8, 2]).unwrap(), &[1, 2]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], $crate::Error> {
            self.slice_copy_tagged(src, $crate::TypeTag::UNTAGGED)
        }

        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn slice_copy_tagged<T: Copy>(&self, src: &[T], tag: $crate::TypeTag) -> Result<&mut [T], $crate::Error> {
            if src.is_empty() {
                return Ok(&mut []);
            }
            let layout = $crate::typed::array_layout::<T>(src.len())?;
            let p = self.alloc_layout_tagged(layout, tag)?.cast::<T>();
            // SAFETY: `p` is fresh memory for `src.len()` values of `T`, which
            // cannot overlap `src`; `T: Copy` so a bitwise copy is a valid copy.
            unsafe {
                core::ptr::copy_nonoverlapping(src.as_ptr(), p.as_ptr(), src.len());
                Ok(core::slice::from_raw_parts_mut(p.as_ptr(), src.len()))
            }
        }

        #[doc = concat!("Clones each element of a slice into the ", stringify!($ty), ". Panics if memory cannot be had.")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// #[derive(Clone, Debug, PartialEq)]
        /// struct Span { lo: u32, hi: u32 }
        /// let s = a.alloc_slice_clone(&[Span { lo: 0, hi: 4 }]);
        /// assert_eq!(s[0].hi, 4);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_slice_clone<T: Clone>(&self, src: &[T]) -> &mut [T] {
            $crate::typed::or_panic(self.slice_fill_tagged(src.len(), |i| src[i].clone(), $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_slice_clone`](Self::alloc_slice_clone), returning the error.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert!(a.try_alloc_slice_clone::<u8>(&[]).unwrap().is_empty());
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_slice_clone<T: Clone>(&self, src: &[T]) -> Result<&mut [T], $crate::Error> {
            self.slice_fill_tagged(src.len(), |i| src[i].clone(), $crate::TypeTag::UNTAGGED)
        }

        #[doc = concat!("Copies a string into the ", stringify!($ty), ". An empty string allocates nothing. Panics if memory cannot be had.")]
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.alloc_str("while"), "while");
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_str(&self, s: &str) -> &mut str {
            $crate::typed::or_panic(self.str_tagged(s, $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_str`](Self::alloc_str), returning the error.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.try_alloc_str("").unwrap(), "");
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_str(&self, s: &str) -> Result<&mut str, $crate::Error> {
            self.str_tagged(s, $crate::TypeTag::UNTAGGED)
        }

        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn str_tagged(&self, s: &str, tag: $crate::TypeTag) -> Result<&mut str, $crate::Error> {
            let bytes = self.slice_copy_tagged(s.as_bytes(), tag)?;
            // SAFETY: a byte-for-byte copy of a `str` is valid UTF-8.
            Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
        }

        /// Allocates a slice of `len` values, the `i`-th being `f(i)`. Panics
        /// if memory cannot be had.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let squares = a.alloc_slice_fill_with(4, |i| i * i);
        /// assert_eq!(squares, &[0, 1, 4, 9]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_slice_fill_with<T, F: FnMut(usize) -> T>(&self, len: usize, f: F) -> &mut [T] {
            $crate::typed::or_panic(self.slice_fill_tagged(len, f, $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_slice_fill_with`](Self::alloc_slice_fill_with),
        /// returning the error.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert!(a.try_alloc_slice_fill_with(usize::MAX, |i| i).is_err());
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_slice_fill_with<T, F: FnMut(usize) -> T>(
            &self,
            len: usize,
            f: F,
        ) -> Result<&mut [T], $crate::Error> {
            self.slice_fill_tagged(len, f, $crate::TypeTag::UNTAGGED)
        }

        /// Allocates a slice holding what an iterator of known length yields.
        /// Panics if memory cannot be had, or if the iterator yields fewer
        /// items than its `len()` said.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// let doubled = a.alloc_slice_fill_iter([1, 2, 3].iter().map(|x| x * 2));
        /// assert_eq!(doubled, &[2, 4, 6]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[track_caller]
        pub fn alloc_slice_fill_iter<T, I>(&self, iter: I) -> &mut [T]
        where
            I: IntoIterator<Item = T>,
            I::IntoIter: ExactSizeIterator,
        {
            $crate::typed::or_panic(self.slice_iter_tagged(iter, $crate::TypeTag::UNTAGGED))
        }

        /// As [`alloc_slice_fill_iter`](Self::alloc_slice_fill_iter),
        /// returning the allocation error. An iterator that yields fewer
        /// items than its `len()` said is a bug in the iterator and still
        /// panics; items past `len()` are not taken.
        ///
        /// ```
        #[doc = concat!("let a = morph_runtime::", $ctor, ";")]
        /// assert_eq!(a.try_alloc_slice_fill_iter(0..3u8).unwrap(), &[0, 1, 2]);
        /// ```
        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        pub fn try_alloc_slice_fill_iter<T, I>(&self, iter: I) -> Result<&mut [T], $crate::Error>
        where
            I: IntoIterator<Item = T>,
            I::IntoIter: ExactSizeIterator,
        {
            self.slice_iter_tagged(iter, $crate::TypeTag::UNTAGGED)
        }

        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn slice_iter_tagged<T, I>(&self, iter: I, tag: $crate::TypeTag) -> Result<&mut [T], $crate::Error>
        where
            I: IntoIterator<Item = T>,
            I::IntoIter: ExactSizeIterator,
        {
            let mut iter = iter.into_iter();
            let len = iter.len();
            self.slice_fill_tagged(
                len,
                |_| iter.next().expect("the iterator yielded fewer items than its len()"),
                tag,
            )
        }

        #[inline]
        #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
        #[cfg_attr(feature = "debug-checks", track_caller)]
        fn slice_fill_tagged<T, F: FnMut(usize) -> T>(
            &self,
            len: usize,
            mut f: F,
            tag: $crate::TypeTag,
        ) -> Result<&mut [T], $crate::Error> {
            #[allow(clippy::let_unit_value)]
            let () = $crate::typed::NoDrop::<T>::CHECK;
            if len == 0 {
                return Ok(&mut []);
            }
            let layout = $crate::typed::array_layout::<T>(len)?;
            let p = self.alloc_layout_tagged(layout, tag)?.cast::<T>();
            // If `f` panics, the memory goes back before the unwind leaves;
            // the values written so far need no drop (`T` has no `Drop`).
            let guard = $crate::typed::OnUnwind(|| {
                // SAFETY: `p` was allocated just above with this layout and
                // nothing else refers to it.
                unsafe { self.abandon(p.cast(), layout) }
            });
            for i in 0..len {
                // SAFETY: `i < len` and the memory holds `len` values of `T`.
                unsafe { p.as_ptr().add(i).write(f(i)) };
            }
            core::mem::forget(guard);
            // SAFETY: all `len` values were written just above.
            Ok(unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), len) })
        }
    };
}

pub(crate) use typed_alloc_methods;
