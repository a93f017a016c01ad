//! # morph-runtime
//!
//! A memory runtime for compilers and interpreters, which make millions of
//! small objects (tokens, AST nodes, values) and a few large ones: slab pools
//! by size class, a bump arena, and a context that puts an 8-byte header on
//! every object and tells you exactly where memory went.
//!
//! ## Quick start
//!
//! ```
//! use morph_runtime::{Arena, MorphContext, TypeTag};
//!
//! // An arena: bump allocation, everything freed at once.
//! let arena = Arena::new();
//! let name = arena.alloc_str("fib");
//! let params = arena.alloc_slice_copy(&[1u32, 2, 3]);
//! assert_eq!((&*name, &*params), ("fib", &[1, 2, 3][..]));
//!
//! // A context: every object carries a header with its type tag, small
//! // objects go to slab pools, and each can be freed on its own.
//! const NODE: TypeTag = TypeTag(1);
//! #[derive(Clone, Copy)]
//! struct Node<'a> { value: f64, next: Option<&'a Node<'a>> }
//!
//! let ctx = MorphContext::new();
//! let a = ctx.alloc_tagged(Node { value: 1.0, next: None }, NODE);
//! let b = ctx.alloc_tagged(Node { value: 2.0, next: Some(a) }, NODE);
//! assert_eq!(b.next.unwrap().value, 1.0);
//! let s = ctx.stats();
//! assert_eq!((s.live_objects, s.header_bytes), (2, 16));
//! assert_eq!(s.classes[1].stats.live, 2); // 8 + 16 bytes: the 24-byte class
//! ```
//!
//! ## Which calls panic
//!
//! The plain helpers (`alloc`, `alloc_with`, `alloc_str`, `alloc_slice_copy`,
//! `alloc_slice_clone`, `alloc_slice_fill_with`, `alloc_slice_fill_iter`,
//! `alloc_layout`, `alloc_tagged`, …) panic when memory cannot be had, as
//! `Box::new` does. Each has a `try_` twin that returns an [`Error`] instead
//! (a byte budget exceeded, a fixed capacity full, an impossible layout, the
//! system out of memory) and does not panic for want of memory; so do the
//! constructors (`with_config`, each pool's `new`), every pool's `alloc`,
//! `free`, `realloc` and the C ABI (crate `morph-capi`).
//!
//! **Nothing placed with the typed helpers is ever dropped**: they refuse
//! types that need `Drop` at compile time. [`MorphBox`] is the owner that
//! does run `Drop`.
//!
//! ## What is here
//!
//! - [`MorphContext`]: an 8-byte [`Header`] (size, [`TypeTag`], class, flags
//!   with a mark bit) on every object; header + payload ≤ 256 bytes goes to a
//!   pool, larger to the arena or to a space that frees them one by one
//!   ([`Config`] presets); `free`, `realloc`, `reset`, a heap walk and a
//!   mark-bit sweep for collectors.
//! - [`SlabPool`]: size-class slab pools. O(1) alloc and free; a freed slot of
//!   the slab being allocated from is the next one handed out; slabs are
//!   aligned to their size so a pointer finds its slab by masking; fresh
//!   slabs are carved lazily.
//! - [`Arena`]: a chunked growing bump arena. Downward bumping on an inlined
//!   fast path; chunks double up to a cap; oversized requests get their own
//!   chunk; `reset` keeps the largest chunk; `mark`/`rewind`; a fixed-capacity
//!   mode; a byte budget.
//! - [`stats`]: every statistics type, in one module;
//!   [`ContextStats`](stats::ContextStats) has live and peak objects and
//!   bytes, header bytes, size-class slack, pools against arena, per class.
//! - [`pool`]: the pools beside the context. [`FixedPool<T>`](pool::FixedPool)
//!   with owners, [`RawFixedPool`](pool::RawFixedPool) (object size at run
//!   time, checked frees), [`BlockPool`](pool::BlockPool) (SIMD-aligned
//!   blocks), [`ObjectPool`](pool::ObjectPool) (recycles initialised
//!   objects), [`ArenaPool`](pool::ArenaPool) (arenas reset and kept), and
//!   the lock-free [`SharedPool`](pool::SharedPool) and
//!   [`StaticPool`](pool::StaticPool) (inline, `const fn new`, usable as a
//!   `static`).
//! - [`observe`]: a hook told of every slab a pool takes or gives back, so a
//!   host's own accounting (a counting global allocator) sees slab memory.
//! - [`allocator_api2`] integration: `&MorphContext` and `&Arena` are
//!   allocators ([`MorphVec`], `hashbrown::HashMap` in a context).
//!
//! ## Features
//!
//! - `debug-checks`: poisoning, double-free, foreign-pointer and overflow
//!   detection, leak reports by type tag with allocation sites (module `debug`
//!   when enabled); nothing of it is compiled when the feature is off.
//! - `serde`: every statistics type derives `serde::Serialize`, and
//!   `MorphContext::report_json` renders them.

#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![warn(missing_docs)]
// Sizes are never narrowed unchecked; tests may build patterns from indices.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

extern crate alloc;

mod alloc_api;
mod arena;
mod boxed;
mod budget;
mod config;
mod context;
#[cfg(feature = "debug-checks")]
pub mod debug;
mod error;
mod fallible;
mod header;
mod large;
pub mod observe;
mod os;
pub mod pool;
mod size_class;
mod slab;
pub mod stats;
mod typed;

pub use alloc_api::{MorphAllocBox, MorphVec};
pub use allocator_api2;
pub use arena::{Arena, ArenaMark};
pub use boxed::{MorphBox, Rejected};
pub use config::{Config, LargeObjects, Routing};
pub use context::MorphContext;
pub use error::{ConfigError, Error, RewindError};
pub use header::{Header, TypeTag};
pub use size_class::SizeClasses;
pub use slab::SlabPool;

/// The crate README's example is tested as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
