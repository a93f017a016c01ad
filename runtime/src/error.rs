//! Error types. Nothing in the runtime aborts or panics on a failed
//! allocation unless asked to (the infallible `alloc` helpers): every
//! failure is one of these values.
//!
//! - [`Error`]: why an allocation, or building a pool or context, failed.
//! - [`ConfigError`]: which part of a configuration is unusable (also
//!   inside [`Error::Config`]).
//! - [`RewindError`]: why an arena refused a mark.
//! - [`FreeError`](crate::pool::FreeError): why a checked free refused a
//!   pointer.

use core::fmt;

/// Why an allocation, or building a pool or context, failed.
///
/// ```
/// use morph_runtime::{Arena, Error};
/// let arena = Arena::with_fixed_capacity(64).unwrap();
/// let err = arena.try_alloc_slice_copy(&[0u8; 1000]).unwrap_err();
/// assert!(matches!(err, Error::CapacityExhausted { .. }));
/// assert!(err.to_string().contains("fixed capacity"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Serving the request would take the memory reserved from the system past
    /// the configured byte budget.
    BudgetExceeded {
        /// Bytes the failed step would have reserved.
        requested: usize,
        /// Bytes already reserved.
        reserved: usize,
        /// The budget.
        limit: usize,
    },
    /// A fixed-capacity arena or pool is full.
    CapacityExhausted {
        /// Bytes (or slots, for pools) that were asked for.
        requested: usize,
        /// Total capacity.
        capacity: usize,
    },
    /// The size or alignment cannot be served: an overflowing size
    /// computation, a payload of 4 GiB or more in a context, an alignment that
    /// is not a power of two or is above 2^29.
    InvalidLayout {
        /// Requested size in bytes (saturated on overflow).
        size: usize,
        /// Requested alignment.
        align: usize,
    },
    /// The system allocator (or the operating system) returned no memory.
    OutOfMemory {
        /// Bytes asked of the system.
        requested: usize,
    },
    /// A pointer the context did not hand out (or has freed) was given back
    /// to it, and refused: reported by `realloc` with `debug-checks`.
    ForeignPointer {
        /// The pointer's address.
        address: usize,
    },
    /// The pool or context could not be built as configured.
    Config(ConfigError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BudgetExceeded {
                requested,
                reserved,
                limit,
            } => write!(
                f,
                "byte budget exceeded: reserving {requested} more bytes with {reserved} of {limit} already reserved"
            ),
            Error::CapacityExhausted {
                requested,
                capacity,
            } => write!(
                f,
                "fixed capacity exhausted: {requested} requested, capacity {capacity}"
            ),
            Error::InvalidLayout { size, align } => {
                write!(f, "invalid layout: size {size}, alignment {align}")
            }
            Error::OutOfMemory { requested } => {
                write!(f, "the system refused {requested} bytes")
            }
            Error::ForeignPointer { address } => {
                write!(
                    f,
                    "pointer {address:#x} was not handed out by this context, or was freed"
                )
            }
            Error::Config(e) => e.fmt(f),
        }
    }
}

// `Error::Config` shows its inner message itself, so it does not also
// return it as a source (a report walking the chain would print it twice);
// match the variant to get the `ConfigError`.
impl core::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

/// The system refused `bytes` for a structure being built.
pub(crate) fn refused(bytes: usize) -> Error {
    Error::OutOfMemory { requested: bytes }
}

/// Which part of a configuration cannot be used.
///
/// ```
/// use morph_runtime::{Config, ConfigError};
/// let err = Config::compiler().with_slab_size(1000).validate().unwrap_err();
/// assert_eq!(err, ConfigError::SlabSize { bytes: 1000 });
/// assert!(err.to_string().contains("power of two"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// More size classes than a table holds (16).
    TooManyClasses {
        /// Classes given.
        count: usize,
    },
    /// A size class that is not a multiple of 8 from 16 to 256.
    ClassSize {
        /// The class size given.
        size: usize,
    },
    /// Size classes that do not strictly increase.
    ClassOrder {
        /// The class size given.
        size: usize,
        /// The class before it.
        previous: usize,
    },
    /// A slab size that is not a power of two from 4 KiB to 64 MiB.
    SlabSize {
        /// The slab size given.
        bytes: usize,
    },
    /// A slot size that is not a multiple of `granule` (at least 16), or
    /// that leaves no room for a slot in a slab.
    SlotSize {
        /// The slot size given.
        slot: usize,
        /// What it must be a multiple of.
        granule: usize,
        /// The slab size.
        slab: usize,
    },
    /// Arena chunk sizes that are not powers of two from 256 bytes to 1 GiB
    /// with `first <= cap`.
    ChunkSizes {
        /// The first chunk's size given.
        first: usize,
        /// The cap given.
        cap: usize,
    },
    /// An alignment that is not a power of two from `min` to `max`.
    Alignment {
        /// The alignment given.
        align: usize,
        /// The smallest accepted.
        min: usize,
        /// The largest accepted.
        max: usize,
    },
    /// An object size no slot can hold.
    ObjectSize {
        /// The size given.
        size: usize,
    },
    /// A capacity of zero, or more than the pool can index or address.
    Capacity {
        /// The capacity given.
        capacity: usize,
        /// The largest accepted.
        max: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration: ")?;
        match *self {
            ConfigError::TooManyClasses { count } => {
                write!(f, "at most 16 size classes, got {count}")
            }
            ConfigError::ClassSize { size } => {
                write!(
                    f,
                    "size class {size} must be a multiple of 8 from 16 to 256"
                )
            }
            ConfigError::ClassOrder { size, previous } => {
                write!(f, "size classes must increase: {size} follows {previous}")
            }
            ConfigError::SlabSize { bytes } => write!(
                f,
                "slab size {bytes} must be a power of two from 4096 to 67108864"
            ),
            ConfigError::SlotSize {
                slot,
                granule,
                slab,
            } => write!(
                f,
                "slot size {slot} must be a multiple of {granule} (at least 16) that fits in a {slab}-byte slab"
            ),
            ConfigError::ChunkSizes { first, cap } => write!(
                f,
                "chunk sizes must be powers of two from 256 bytes to 1 GiB with first <= cap; got first {first}, cap {cap}"
            ),
            ConfigError::Alignment { align, min, max } => write!(
                f,
                "alignment {align} must be a power of two from {min} to {max}"
            ),
            ConfigError::ObjectSize { size } => write!(f, "object size {size} is too large"),
            ConfigError::Capacity { capacity, max } => {
                write!(f, "capacity {capacity} must be from 1 to {max}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// Why [`Arena::rewind`](crate::Arena::rewind) refused a mark.
///
/// ```
/// use morph_runtime::{Arena, RewindError};
/// let mut a = Arena::new();
/// let mut b = Arena::new();
/// let m = a.mark();
/// assert_eq!(b.rewind(m), Err(RewindError::ForeignMark));
/// a.reset();
/// assert_eq!(a.rewind(m), Err(RewindError::StaleMark));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewindError {
    /// The mark was taken on another arena.
    ForeignMark,
    /// The mark no longer describes a position in this arena: the arena was
    /// reset, or rewound to an earlier mark, since it was taken.
    StaleMark,
}

impl fmt::Display for RewindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewindError::ForeignMark => write!(f, "the mark belongs to another arena"),
            RewindError::StaleMark => {
                write!(
                    f,
                    "the mark is stale: the arena was reset or rewound past it"
                )
            }
        }
    }
}

impl core::error::Error for RewindError {}
