//! # morph-runtime
//!
//! A memory runtime for compilers and interpreters, which make millions of
//! small objects (tokens, AST nodes, values) and a few large ones.
//!
//! **Nothing placed with the typed helpers (`alloc`, `alloc_slice_copy`,
//! `alloc_str`, …) is ever dropped**: they refuse types that need `Drop` at
//! compile time. [`MorphBox`] is the owner that does run `Drop`.
//!
//! - [`SlabPool`]: size-class slab pools. O(1) alloc and free; a freed slot of
//!   the slab being allocated from is the next one handed out; slabs are aligned to their size so a pointer
//!   finds its slab by masking; fresh slabs are carved lazily.
//! - [`Arena`]: a chunked growing bump arena. Downward bumping on an inlined
//!   fast path; chunks double up to a cap; oversized requests get their own
//!   chunk; `reset` keeps the largest chunk; `mark`/`rewind`; a fixed-capacity
//!   mode; a byte budget.
//! - [`MorphContext`]: an 8-byte [`Header`] (size, [`TypeTag`], class, flags
//!   with a mark bit) on every object; header + payload ≤ 256 bytes goes to a
//!   pool, larger to the arena; `free`, `realloc`, typed helpers, `reset`.
//! - [`ContextStats`](stats::ContextStats): live and peak objects and bytes, header bytes,
//!   size-class slack, pools against arena, per class; a JSON report.
//! - [`pool`]: the pools beside the context. [`FixedPool<T>`](pool::FixedPool)
//!   with owners, [`RawFixedPool`](pool::RawFixedPool) (object size at run
//!   time, checked frees), [`BlockPool`](pool::BlockPool) (SIMD-aligned
//!   blocks), [`ObjectPool`](pool::ObjectPool) (recycles initialised
//!   objects), [`ArenaPool`](pool::ArenaPool) (arenas reset and kept), and
//!   the lock-free [`SharedPool`](pool::SharedPool) and
//!   [`StaticPool`](pool::StaticPool) (inline, `const fn new`, usable as a
//!   `static`).
//! - [`stats`]: every statistics type, in one module.
//! - [`allocator_api2`] integration: `&MorphContext` and `&Arena` are
//!   allocators ([`MorphVec`], `hashbrown::HashMap` in a context).
//! - Debug checks (feature `debug-checks`): poisoning, double-free,
//!   foreign-pointer and overflow detection, leak reports by type tag with
//!   allocation sites; nothing of it is compiled when the feature is off.
//! - Statistics as JSON (feature `serde`): every stats type derives
//!   `serde::Serialize`, and `MorphContext::report_json` renders them.
//! - A C ABI lives in the crate `morph-capi` (static and shared library, C
//!   header): fixed pools, arenas and contexts.
//! - No allocation failure aborts or panics: each is an [`Error`].
//!
//! ```
//! use morph_runtime::{MorphContext, TypeTag};
//!
//! const NODE: TypeTag = TypeTag(1);
//! #[derive(Clone, Copy)]
//! struct Node<'a> { value: f64, next: Option<&'a Node<'a>> }
//!
//! let ctx = MorphContext::new();
//! let a = ctx.alloc_tagged(Node { value: 1.0, next: None }, NODE);
//! let b = ctx.alloc_tagged(Node { value: 2.0, next: Some(a) }, NODE);
//! assert_eq!(b.next.unwrap().value, 1.0);
//! let s = ctx.stats();
//! assert_eq!(s.live_objects, 2);
//! assert_eq!(s.classes[1].stats.live, 2); // 8 + 16 bytes: the 32-byte class
//! ```

#![warn(missing_docs)]
// Sizes are never narrowed unchecked; tests may build patterns from indices.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

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

/// The README's examples are tested as doctests (they print the JSON
/// report, so with the `serde` feature).
#[cfg(all(doctest, feature = "serde"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
