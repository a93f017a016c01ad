//! Criterion benches of morph against bumpalo, the system allocator and
//! mimalloc. Run them with `cargo bench -p morph-benches`; see
//! `benches/README.md` for what each measures and the figures measured here.
//!
//! This library holds the baselines the benches compare against.

use std::sync::Mutex;

/// The obvious thread-safe pool: free objects in a `Vec` behind a `Mutex`.
///
/// ```
/// let pool = morph_benches::MutexPool::new(2, || 0u64);
/// let x = pool.take().unwrap();
/// pool.give(x);
/// assert_eq!(pool.available(), 2);
/// ```
pub struct MutexPool<T> {
    free: Mutex<Vec<T>>,
}

impl<T> MutexPool<T> {
    /// A pool holding `capacity` objects made by `make`.
    ///
    /// ```
    /// let pool = morph_benches::MutexPool::new(3, || 0u8);
    /// assert_eq!(pool.available(), 3);
    /// ```
    pub fn new(capacity: usize, make: impl Fn() -> T) -> MutexPool<T> {
        MutexPool {
            free: Mutex::new((0..capacity).map(|_| make()).collect()),
        }
    }

    /// An object, or `None` when all are taken.
    ///
    /// ```
    /// let pool = morph_benches::MutexPool::new(1, || 0u8);
    /// assert_eq!(pool.take(), Some(0));
    /// assert_eq!(pool.take(), None);
    /// ```
    pub fn take(&self) -> Option<T> {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Returns an object.
    ///
    /// ```
    /// let pool = morph_benches::MutexPool::new(0, || 0u8);
    /// pool.give(5);
    /// assert_eq!(pool.take(), Some(5));
    /// ```
    pub fn give(&self, value: T) {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(value);
    }

    /// Objects in the pool.
    ///
    /// ```
    /// let pool = morph_benches::MutexPool::new(2, || 0u8);
    /// assert_eq!(pool.available(), 2);
    /// ```
    pub fn available(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
