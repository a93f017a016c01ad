//! [`ArenaPool`]: arenas for scoped work, reset and kept for the next user
//! instead of freed.

use crate::arena::Arena;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ops::{Deref, DerefMut};

/// Hands out arenas; a [`ScopedArena`] resets its arena when dropped and
/// returns it, so its chunks serve the next scope. At most `max_kept` arenas
/// are kept; extra ones are freed.
///
/// ```
/// use morph_runtime::pool::ArenaPool;
/// let pool = ArenaPool::new(2);
/// for file in ["a.lox", "b.lox"] {
///     let arena = pool.acquire();
///     arena.alloc_str(file);
/// } // reset, kept
/// assert_eq!(pool.kept(), 1);
/// assert!(pool.acquire().stats().bytes_reserved > 0, "memory reused, not freed");
/// ```
pub struct ArenaPool {
    kept: RefCell<Vec<Arena>>,
    max_kept: usize,
}

impl ArenaPool {
    /// A pool that keeps at most `max_kept` idle arenas.
    ///
    /// ```
    /// assert_eq!(morph_runtime::pool::ArenaPool::new(4).kept(), 0);
    /// ```
    pub fn new(max_kept: usize) -> ArenaPool {
        ArenaPool {
            kept: RefCell::new(Vec::new()),
            max_kept,
        }
    }

    /// An empty arena: a kept one if there is one, else a new one.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ArenaPool::new(1);
    /// let a = pool.acquire();
    /// assert_eq!(a.stats().bytes_used, 0);
    /// ```
    pub fn acquire(&self) -> ScopedArena<'_> {
        let arena = self.kept.borrow_mut().pop().unwrap_or_default();
        ScopedArena {
            arena: Some(arena),
            pool: self,
        }
    }

    /// Idle arenas held.
    ///
    /// ```
    /// let pool = morph_runtime::pool::ArenaPool::new(0);
    /// drop(pool.acquire());
    /// assert_eq!(pool.kept(), 0, "a cap of zero keeps none");
    /// ```
    pub fn kept(&self) -> usize {
        self.kept.borrow().len()
    }
}

/// An arena on loan from an [`ArenaPool`].
///
/// ```
/// let pool = morph_runtime::pool::ArenaPool::new(1);
/// let scratch = pool.acquire();
/// let s = scratch.alloc_slice_copy(&[1, 2, 3]);
/// assert_eq!(s.len(), 3);
/// ```
pub struct ScopedArena<'p> {
    arena: Option<Arena>,
    pool: &'p ArenaPool,
}

impl Deref for ScopedArena<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        self.arena.as_ref().expect("present until drop")
    }
}

impl DerefMut for ScopedArena<'_> {
    fn deref_mut(&mut self) -> &mut Arena {
        self.arena.as_mut().expect("present until drop")
    }
}

impl Drop for ScopedArena<'_> {
    fn drop(&mut self) {
        if let Some(mut arena) = self.arena.take() {
            let mut kept = self.pool.kept.borrow_mut();
            // Kept only if there is room (a refused reservation drops the
            // arena rather than aborting).
            if kept.len() < self.pool.max_kept && kept.try_reserve(1).is_ok() {
                arena.reset();
                kept.push(arena);
            }
        }
    }
}
