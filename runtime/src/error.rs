//! Error types. Nothing in the runtime aborts or panics on a failed
//! allocation: every failure is one of these values.

use std::fmt;

/// Why an allocation failed.
///
/// ```
/// use morph_runtime::{Arena, AllocError};
/// let arena = Arena::with_fixed_capacity(64).unwrap();
/// let err = arena.alloc_slice_copy(&[0u8; 1000]).unwrap_err();
/// assert!(matches!(err, AllocError::CapacityExhausted { .. }));
/// assert!(err.to_string().contains("fixed capacity"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
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
    /// The system allocator returned no memory.
    OutOfMemory {
        /// Bytes asked of the system.
        requested: usize,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::BudgetExceeded {
                requested,
                reserved,
                limit,
            } => write!(
                f,
                "byte budget exceeded: reserving {requested} more bytes with {reserved} of {limit} already reserved"
            ),
            AllocError::CapacityExhausted {
                requested,
                capacity,
            } => write!(
                f,
                "fixed capacity exhausted: {requested} requested, capacity {capacity}"
            ),
            AllocError::InvalidLayout { size, align } => {
                write!(f, "invalid layout: size {size}, alignment {align}")
            }
            AllocError::OutOfMemory { requested } => {
                write!(f, "the system allocator refused {requested} bytes")
            }
        }
    }
}

impl std::error::Error for AllocError {}

/// A configuration that cannot be used, with the reason.
///
/// ```
/// use morph_runtime::Config;
/// let err = Config::compiler().slab_size(1000).build().unwrap_err();
/// assert!(err.to_string().contains("power of two"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: String) -> ConfigError {
        ConfigError { message }
    }

    /// The system refused `bytes` for a structure being built.
    pub(crate) fn refused(bytes: usize) -> ConfigError {
        ConfigError::new(format!("the system refused {bytes} bytes"))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

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

impl std::error::Error for RewindError {}
