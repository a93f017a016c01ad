//! [`MorphBox`]: an owner of one context object that runs `Drop`.

use crate::context::MorphContext;
use crate::error::Error;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// An owning pointer into a [`MorphContext`]: dropping it drops the value and
/// returns its slot. Its lifetime ties it to the context.
///
/// ```
/// use morph_runtime::{MorphContext, TypeTag};
/// let ctx = MorphContext::new();
/// let mut v = ctx.boxed(vec![1, 2], TypeTag(1)).unwrap();
/// v.push(3);
/// assert_eq!(*v, [1, 2, 3]);
/// ```
///
/// It cannot outlive its context:
///
/// ```compile_fail
/// use morph_runtime::{MorphContext, TypeTag};
/// let b = {
///     let ctx = MorphContext::new();
///     ctx.boxed(1u8, TypeTag(0)).unwrap()
/// };
/// ```
pub struct MorphBox<'a, T> {
    ptr: NonNull<T>,
    ctx: &'a MorphContext,
    _owns: PhantomData<T>,
}

impl<'a, T> MorphBox<'a, T> {
    /// # Safety
    /// `ptr` must hold an initialised `T` in an object that `ctx.alloc_layout`
    /// returned, owned by nothing else.
    pub(crate) unsafe fn from_raw(ptr: NonNull<T>, ctx: &'a MorphContext) -> MorphBox<'a, T> {
        MorphBox {
            ptr,
            ctx,
            _owns: PhantomData,
        }
    }

    /// The object's pointer, valid while the box lives. It may be given to
    /// [`MorphContext::header`].
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let b = ctx.boxed(5u32, TypeTag(8)).unwrap();
    /// // SAFETY: the pointer came from the context and the box is alive.
    /// assert_eq!(unsafe { ctx.header(MorphBox::as_ptr(&b).cast()) }.tag(), TypeTag(8));
    /// # use morph_runtime::MorphBox;
    /// ```
    pub fn as_ptr(this: &Self) -> NonNull<T> {
        this.ptr
    }

    /// Moves the value out and frees the slot.
    ///
    /// ```
    /// # use morph_runtime::{MorphBox, MorphContext, TypeTag};
    /// let ctx = MorphContext::new();
    /// let b = ctx.boxed(String::from("x"), TypeTag(0)).unwrap();
    /// assert_eq!(MorphBox::into_inner(b), "x");
    /// assert_eq!(ctx.stats().live_objects, 0);
    /// ```
    pub fn into_inner(this: Self) -> T {
        let this = core::mem::ManuallyDrop::new(this);
        // SAFETY: the box owns an initialised `T`; it is read once and the box
        // is not dropped (ManuallyDrop), so the value is not dropped twice.
        let value = unsafe { this.ptr.as_ptr().read() };
        // SAFETY: the object came from `ctx.alloc_layout` and nothing else owns it.
        unsafe { this.ctx.free(this.ptr.cast()) };
        value
    }
}

impl<T> Deref for MorphBox<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns an initialised `T` while it lives.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for MorphBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for MorphBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised `T` in an object of `ctx`; after
        // dropping the value the object is freed and never used again.
        unsafe {
            self.ptr.as_ptr().drop_in_place();
            self.ctx.free(self.ptr.cast());
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for MorphBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A value that could not be placed, handed back with the reason, so nothing
/// is lost.
///
/// ```
/// use morph_runtime::{Config, TypeTag};
/// let ctx = Config::compiler().with_budget(1024).build().unwrap();
/// let r = ctx.boxed([7u8; 300], TypeTag(0)).unwrap_err();
/// assert_eq!(r.value, [7u8; 300]);
/// ```
#[derive(Debug)]
pub struct Rejected<T> {
    /// Why it was refused.
    pub error: Error,
    /// The value, untouched.
    pub value: T,
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: fmt::Debug> core::error::Error for Rejected<T> {}
