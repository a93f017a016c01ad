//! [`ObjectPool`]: recycles initialised objects that are expensive to build
//! (buffers keep their capacity), through a reset hook.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::ops::{Deref, DerefMut};

/// A pool of ready-made objects. [`get`](ObjectPool::get) hands out a
/// recycled object (or builds one); when the [`Recycled`] handle drops, the
/// reset hook cleans the object and it goes back to the pool, up to
/// `max_kept` objects.
///
/// ```
/// use morph_runtime::pool::ObjectPool;
/// let pool = ObjectPool::new(|| Vec::<u8>::with_capacity(4096), |v| v.clear(), 8);
/// {
///     let mut buf = pool.get();
///     buf.extend_from_slice(b"scratch");
/// }
/// let buf = pool.get();
/// assert!(buf.is_empty() && buf.capacity() >= 4096, "cleaned, capacity kept");
/// assert_eq!((pool.created(), pool.reused()), (1, 1));
/// ```
pub struct ObjectPool<T> {
    kept: RefCell<Vec<T>>,
    create: Box<dyn Fn() -> T>,
    reset: Box<dyn Fn(&mut T)>,
    max_kept: usize,
    created: Cell<u64>,
    reused: Cell<u64>,
}

impl<T> ObjectPool<T> {
    /// A pool that builds objects with `create`, cleans returned ones with
    /// `reset`, and keeps at most `max_kept` of them.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ObjectPool::new(|| 1u8, |_| {}, 2);
    /// assert_eq!(*pool.get(), 1);
    /// ```
    pub fn new(
        create: impl Fn() -> T + 'static,
        reset: impl Fn(&mut T) + 'static,
        max_kept: usize,
    ) -> ObjectPool<T> {
        ObjectPool {
            kept: RefCell::new(Vec::new()),
            create: Box::new(create),
            reset: Box::new(reset),
            max_kept,
            created: Cell::new(0),
            reused: Cell::new(0),
        }
    }

    /// A recycled object, or a new one if none is kept.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ObjectPool::new(String::new, String::clear, 1);
    /// pool.get().push_str("x");
    /// assert_eq!(*pool.get(), "");
    /// ```
    pub fn get(&self) -> Recycled<'_, T> {
        let recycled = self.kept.borrow_mut().pop();
        let value = match recycled {
            Some(v) => {
                self.reused.set(self.reused.get() + 1);
                v
            }
            None => {
                self.created.set(self.created.get() + 1);
                (self.create)()
            }
        };
        Recycled {
            value: Some(value),
            pool: self,
        }
    }

    /// Objects built so far.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ObjectPool::new(|| 0u8, |_| {}, 1);
    /// let (_a, _b) = (pool.get(), pool.get());
    /// assert_eq!(pool.created(), 2);
    /// ```
    pub fn created(&self) -> u64 {
        self.created.get()
    }

    /// Times a kept object was handed out again.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ObjectPool::new(|| 0u8, |_| {}, 1);
    /// drop(pool.get());
    /// drop(pool.get());
    /// assert_eq!(pool.reused(), 1);
    /// ```
    pub fn reused(&self) -> u64 {
        self.reused.get()
    }

    /// Objects waiting in the pool.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ObjectPool::new(|| 0u8, |_| {}, 1);
    /// let (a, b) = (pool.get(), pool.get());
    /// drop((a, b));
    /// assert_eq!(pool.kept(), 1, "at most max_kept are kept");
    /// ```
    pub fn kept(&self) -> usize {
        self.kept.borrow().len()
    }

    fn give_back(&self, mut value: T) {
        (self.reset)(&mut value);
        let mut kept = self.kept.borrow_mut();
        // A refused reservation drops the value rather than aborting.
        if kept.len() < self.max_kept && kept.try_reserve(1).is_ok() {
            kept.push(value);
        }
    }
}

/// An object on loan from an [`ObjectPool`]; it goes back when dropped.
///
/// ```
/// let pool = morph_runtime::pool::ObjectPool::new(Vec::<u32>::new, Vec::clear, 4);
/// let mut v = pool.get();
/// v.push(1);
/// assert_eq!(v.len(), 1);
/// ```
pub struct Recycled<'p, T> {
    value: Option<T>,
    pool: &'p ObjectPool<T>,
}

impl<T> Deref for Recycled<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().expect("present until drop")
    }
}

impl<T> DerefMut for Recycled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("present until drop")
    }
}

impl<T> Drop for Recycled<'_, T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.give_back(v);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Recycled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
