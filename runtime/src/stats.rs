//! Every statistics type, in one place: a context's
//! ([`MorphContext::stats`](crate::MorphContext::stats) gives
//! [`ContextStats`], which holds the others) and each pool's and arena's.
//! They are plain values, counted exactly (no sampling); with the feature
//! `serde` each derives `serde::Serialize`.
//!
//! ```
//! use morph_runtime::{stats::ContextStats, MorphContext};
//! let ctx = MorphContext::new();
//! ctx.alloc(7u64);
//! let s: ContextStats = ctx.stats();
//! assert_eq!((s.live_objects, s.live_bytes, s.header_bytes), (1, 8, 8));
//! ```

pub use crate::arena::{ArenaStats, ChunkUsage};
use crate::config::Routing;
pub use crate::context::SweepStats;
use crate::header::HEADER_SIZE;
pub use crate::large::LargeStats;
pub use crate::pool::stats::{PoolStats, SharedStats};
pub use crate::slab::{ClassStats, SlabCacheStats};
use alloc::vec::Vec;

/// One size class in a context's report.
///
/// ```
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// ctx.alloc([0u8; 12]); // 8 + 12 = 20 bytes: the 24-byte class
/// let c = &ctx.stats().classes[1];
/// assert_eq!((c.stats.slot_size, c.live_payload_bytes, c.slack_bytes), (24, 12, 4));
/// assert_eq!(c.peak_slot_bytes, 24);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassReport {
    /// The pool's own counters.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub stats: ClassStats,
    /// Payload bytes requested in this class since the last reset.
    pub bytes_requested: u64,
    /// Payload bytes of the live objects (added up from their headers when
    /// the statistics are taken: the free path keeps no byte count).
    pub live_payload_bytes: usize,
    /// Bytes of the slots the live objects occupy.
    pub live_slot_bytes: usize,
    /// Most slot bytes carved at once (peak carved slots × slot size; see
    /// [`ClassStats::peak_carved`]).
    pub peak_slot_bytes: usize,
    /// Bytes of live slots holding neither payload nor header: what the class
    /// rounding (and any alignment padding) costs now.
    pub slack_bytes: usize,
}

impl ClassReport {
    pub(crate) fn new(
        stats: ClassStats,
        bytes_requested: u64,
        live_payload_bytes: usize,
    ) -> ClassReport {
        let live_slot_bytes = stats.live * stats.slot_size;
        ClassReport {
            stats,
            bytes_requested,
            live_payload_bytes,
            live_slot_bytes,
            peak_slot_bytes: stats.peak_carved * stats.slot_size,
            slack_bytes: live_slot_bytes - live_payload_bytes - stats.live * HEADER_SIZE,
        }
    }
}

/// The pools of a context, added up.
///
/// ```
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// ctx.alloc(0u64);
/// let p = ctx.stats().pools;
/// assert_eq!((p.slabs, p.live_objects, p.live_slot_bytes), (1, 1, 16));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolTotals {
    /// Slabs held by the classes (cached empty slabs are in
    /// [`ContextStats::slabs`]).
    pub slabs: usize,
    /// Bytes of slabs held by the classes.
    pub bytes_reserved: usize,
    /// Objects alive in pools.
    pub live_objects: usize,
    /// Payload bytes of those objects.
    pub live_payload_bytes: usize,
    /// Bytes of the slots they occupy.
    pub live_slot_bytes: usize,
    /// Bytes of live slots holding neither payload nor header (class rounding
    /// and alignment padding).
    pub slack_bytes: usize,
    /// Bytes of freed slots waiting on free lists.
    pub free_slot_bytes: usize,
    /// Bytes of slabs not yet carved into slots.
    pub uncarved_bytes: usize,
}

/// The objects a context put in its arena, and the arena's chunks.
///
/// ```
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// ctx.alloc([0u8; 1000]);
/// let a = ctx.stats().arena;
/// assert_eq!((a.live_objects, a.live_payload_bytes), (1, 1000));
/// assert_eq!(a.chunks.chunks, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ArenaObjects {
    /// Objects put in the arena since the last reset.
    pub allocations: u64,
    /// Of those, how many were freed.
    pub frees: u64,
    /// Payload bytes requested.
    pub bytes_requested: u64,
    /// Objects alive in the arena.
    pub live_objects: usize,
    /// Their payload bytes.
    pub live_payload_bytes: usize,
    /// Bytes of freed arena objects that stay unusable until reset.
    pub dead_bytes: usize,
    /// Freed arena objects whose bytes were reclaimed (they were the most
    /// recent allocation).
    pub reclaimed: u64,
    /// The arena's chunks.
    pub chunks: ArenaStats,
}

/// A snapshot of a context's counters. Counts of allocations and frees are
/// since the last reset; peaks are over the context's life.
///
/// Every figure is exact. The fast paths keep four counters per size class
/// (allocations, frees, bytes requested, bytes freed); the rest is derived
/// here. Peaks are those that can be known exactly without a running maximum
/// on every allocation: per class, the peak of live slots (slots are carved
/// only when every carved slot is live, so the peak equals the slots carved),
/// and for the whole context, the peak of bytes reserved from the system.
///
/// ```
/// use morph_runtime::MorphContext;
/// let ctx = MorphContext::new();
/// ctx.alloc(1u32);
/// ctx.alloc([0u8; 400]);
/// let s = ctx.stats();
/// assert_eq!(s.allocations, 2);
/// assert_eq!(s.live_bytes, 404);
/// assert_eq!(s.pools.live_objects + s.arena.live_objects, s.live_objects);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ContextStats {
    /// Where objects go.
    pub routing: Routing,
    /// Allocations since the last reset.
    pub allocations: u64,
    /// Frees since the last reset.
    pub frees: u64,
    /// Objects alive now.
    pub live_objects: usize,
    /// Payload bytes requested since the last reset.
    pub bytes_requested: u64,
    /// Payload bytes of live objects.
    pub live_bytes: usize,
    /// Bytes of the headers of live objects.
    pub header_bytes: usize,
    /// Bytes reserved from the system now: slabs (in use and cached),
    /// chunks and large blocks.
    pub bytes_reserved: usize,
    /// Most bytes reserved from the system at once.
    pub peak_bytes_reserved: usize,
    /// The byte budget, if any.
    pub budget: Option<usize>,
    /// Resets so far.
    pub resets: u64,
    /// The pools, added up.
    pub pools: PoolTotals,
    /// The slabs: in use, cached empty, taken from and given back to the
    /// system.
    pub slabs: SlabCacheStats,
    /// The large-object space.
    pub large: LargeStats,
    /// The arena.
    pub arena: ArenaObjects,
    /// Each size class.
    pub classes: Vec<ClassReport>,
}
