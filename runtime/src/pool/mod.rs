//! Pools beside the context, for objects whose lifetime a program knows
//! better than a general allocator does.
//!
//! | pool | objects | memory | frees | threads |
//! |---|---|---|---|---|
//! | [`FixedPool<T>`] | one type, owned by [`PoolBox`] | one buffer, fixed capacity | on drop | one |
//! | [`RawFixedPool`] | one size and alignment at run time | one buffer, fixed capacity | by pointer, checkable | one |
//! | [`BlockPool`] | zeroed SIMD-aligned byte blocks ([`Block`]) | one buffer, fixed capacity | on drop | one |
//! | [`ObjectPool<T>`] | built objects, recycled through a reset hook | the heap | on drop ([`Recycled`]) | one |
//! | [`ArenaPool`] | whole arenas, reset and kept ([`ScopedArena`]) | the arenas' chunks | on drop | one |
//! | [`SharedPool<T>`] | one type, owned by [`SharedBox`] | the heap, fixed capacity | on drop | any |
//! | [`StaticPool<T, N>`] | as `SharedPool`, inline, `const fn new` | a `static`, no heap | on drop | any |
//!
//! A pool that grows slab by slab for objects of one size is
//! [`SlabPool`](crate::SlabPool) ([`SlabPool::for_layout`](crate::SlabPool::for_layout)
//! for any size and alignment). [`AtomicFreeList`] is the lock-free list of
//! indices under the shared pools, for callers who keep their own slots.
//!
//! ```
//! use morph_runtime::pool::FixedPool;
//! let pool = FixedPool::new(2).unwrap();
//! let a = pool.alloc(String::from("kept")).unwrap();
//! assert_eq!(*a, "kept");
//! drop(a); // the String is dropped and the slot goes back
//! assert_eq!(pool.stats().live, 0);
//! ```

mod arena;
mod fixed;
mod object;
mod shared;

pub use arena::{ArenaPool, ScopedArena};
pub use fixed::{Block, BlockPool, FixedPool, FreeError, PoolBox, PoolOptions, RawFixedPool};
pub use object::{ObjectPool, Recycled};
#[cfg(not(loom))]
pub use shared::StaticPool;
pub use shared::{AtomicFreeList, SharedBox, SharedPool};

// The pools' statistics types are public from `crate::stats`, with the rest.
pub(crate) mod stats {
    pub use super::fixed::PoolStats;
    pub use super::shared::SharedStats;
}
