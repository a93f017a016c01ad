//! [`Config`]: how a [`MorphContext`](crate::MorphContext) routes and sizes
//! its memory.

use crate::MorphContext;
use crate::arena::{DEFAULT_CHUNK_CAP, DEFAULT_FIRST_CHUNK, validate_chunks};
use crate::error::{ConfigError, Error};
use crate::size_class::SizeClasses;
use crate::slab::{DEFAULT_SLAB_SIZE, validate_slab};

/// Where a context puts its objects: the routing its configuration results
/// in (reported by [`MorphContext::routing`] and the statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Routing {
    /// Header + payload of at most 256 bytes to the pool of the smallest class
    /// that fits, larger to the arena.
    PoolsAndArena,
    /// Small objects to the pools, larger ones to the large-object space.
    PoolsAndLargeSpace,
    /// Every object to the arena (for comparison; `free` only counts).
    ArenaOnly,
    /// Every object to the large-object space.
    LargeSpaceOnly,
}

/// Where a context puts objects too large for its pools: the one choice
/// between a compiler's memory and a collector's.
///
/// ```
/// use morph_runtime::{Config, LargeObjects};
/// assert_eq!(Config::compiler().large_objects(), LargeObjects::Arena);
/// assert_eq!(Config::runtime().large_objects(), LargeObjects::Freeable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum LargeObjects {
    /// The bump arena: fast, freed all at once on `reset` (a `free` only
    /// reclaims the most recent one), as a compiler wants.
    Arena,
    /// The large-object space: each object its own block, freed and given
    /// back on `free`, visited by walks and sweeps, as a collector wants.
    Freeable,
}

/// Default empty-slab retention of the `compiler` preset: enough
/// for a file's worth of slabs to survive a `reset` without system calls.
pub(crate) const COMPILER_RETAIN: usize = 8 << 20;
/// Default empty-slab retention of the `runtime` preset: a
/// collector frees in waves; a few slabs absorb the next wave's growth, the
/// rest goes back to the system.
pub(crate) const RUNTIME_RETAIN: usize = 1 << 20;
/// Slab size of the `runtime` preset (see `benches/README.md` for
/// the measurement that chose it).
pub(crate) const RUNTIME_SLAB_SIZE: usize = 64 * 1024;

/// Configuration of a [`MorphContext`](crate::MorphContext), built from a
/// preset and adjusted with builder methods.
///
/// ```
/// use morph_runtime::{Config, SizeClasses};
/// let ctx = Config::compiler()
///     .with_size_classes(SizeClasses::fine())
///     .with_budget(64 << 20)
///     .build()
///     .unwrap();
/// assert_eq!(ctx.config().budget(), Some(64 << 20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    classes: SizeClasses,
    slab_size: usize,
    first_chunk: usize,
    chunk_cap: usize,
    budget: Option<usize>,
    large: LargeObjects,
    /// Bytes of empty slabs kept for reuse; beyond, they go back to the
    /// system.
    retain: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self::compiler()
    }
}

impl Config {
    /// The default: the tight size classes (16 to 80 bytes in steps of 8,
    /// then 96 to 256: the table that wastes least on rounding) in 64 KiB
    /// slabs, larger objects in an arena of chunks from 4 KiB doubling up to
    /// 2 MiB, 8 MiB of empty slabs kept across resets, no budget.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing};
    /// assert_eq!(Config::compiler().routing(), Routing::PoolsAndArena);
    /// ```
    pub fn compiler() -> Config {
        Config {
            classes: SizeClasses::tight(),
            slab_size: DEFAULT_SLAB_SIZE,
            first_chunk: DEFAULT_FIRST_CHUNK,
            chunk_cap: DEFAULT_CHUNK_CAP,
            budget: None,
            large: LargeObjects::Arena,
            retain: COMPILER_RETAIN,
        }
    }

    /// For a language runtime with a collector: the tight size classes (steps
    /// of 8 bytes, so small objects waste least), large objects freed one by
    /// one in the large-object space, and empty slabs beyond 1 MiB given back
    /// to the system.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing};
    /// let c = Config::runtime();
    /// assert_eq!(c.routing(), Routing::PoolsAndLargeSpace);
    /// assert_eq!(c.retain_empty(), 1 << 20);
    /// ```
    pub fn runtime() -> Config {
        Config {
            classes: SizeClasses::tight(),
            slab_size: RUNTIME_SLAB_SIZE,
            large: LargeObjects::Freeable,
            retain: RUNTIME_RETAIN,
            ..Self::compiler()
        }
    }

    /// Where objects too large for the pools go.
    ///
    /// ```
    /// # use morph_runtime::{Config, LargeObjects, Routing};
    /// let c = Config::compiler().with_large_objects(LargeObjects::Freeable);
    /// assert_eq!(c.routing(), Routing::PoolsAndLargeSpace);
    /// ```
    pub fn with_large_objects(mut self, large: LargeObjects) -> Config {
        self.large = large;
        self
    }

    /// Bytes of empty slabs kept for any class to reuse (rounded down to
    /// whole slabs); beyond, an emptied slab goes back to the system.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().with_retain_empty(0).retain_empty(), 0);
    /// ```
    pub fn with_retain_empty(mut self, bytes: usize) -> Config {
        self.retain = bytes;
        self
    }

    /// The large-object choice.
    ///
    /// ```
    /// # use morph_runtime::{Config, LargeObjects};
    /// assert_eq!(Config::default().large_objects(), LargeObjects::Arena);
    /// ```
    pub fn large_objects(&self) -> LargeObjects {
        self.large
    }

    /// The empty-slab retention in bytes.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().retain_empty(), 8 << 20);
    /// ```
    pub fn retain_empty(&self) -> usize {
        self.retain
    }

    /// Every object to the arena, headers still written: the baseline that
    /// shows what the pools buy.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing};
    /// assert_eq!(Config::arena_only().routing(), Routing::ArenaOnly);
    /// ```
    pub fn arena_only() -> Config {
        Config {
            classes: SizeClasses::none(),
            ..Self::compiler()
        }
    }

    /// Uses `classes` as the size-class table.
    ///
    /// ```
    /// # use morph_runtime::{Config, SizeClasses};
    /// let c = Config::compiler().with_size_classes(SizeClasses::fine());
    /// assert_eq!(c.size_classes().len(), 12);
    /// ```
    pub fn with_size_classes(mut self, classes: SizeClasses) -> Config {
        self.classes = classes;
        self
    }

    /// Slab size in bytes: a power of two from 4 KiB to 64 MiB.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert!(Config::compiler().with_slab_size(16 * 1024).build().is_ok());
    /// ```
    pub fn with_slab_size(mut self, bytes: usize) -> Config {
        self.slab_size = bytes;
        self
    }

    /// Arena chunk sizes: the first, and the cap doubling stops at.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert!(Config::compiler().with_chunk_sizes(1024, 1 << 20).build().is_ok());
    /// assert!(Config::compiler().with_chunk_sizes(1000, 1 << 20).build().is_err());
    /// ```
    pub fn with_chunk_sizes(mut self, first: usize, cap: usize) -> Config {
        self.first_chunk = first;
        self.chunk_cap = cap;
        self
    }

    /// The most bytes the context may reserve from the system (slabs and
    /// chunks together); past it allocations fail with
    /// [`Error::BudgetExceeded`](crate::Error::BudgetExceeded).
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// let ctx = Config::compiler().with_budget(100 * 1024).build().unwrap();
    /// assert!(ctx.try_alloc_slice_copy(&[0u8; 200 * 1024]).is_err());
    /// ```
    pub fn with_budget(mut self, bytes: usize) -> Config {
        self.budget = Some(bytes);
        self
    }

    /// Checks the configuration.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert!(Config::compiler().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(largest) = self.classes.sizes().last() {
            validate_slab(self.slab_size, largest, crate::size_class::GRANULE)?;
        } else {
            validate_slab(self.slab_size, 16, crate::size_class::GRANULE)?;
        }
        validate_chunks(self.first_chunk, self.chunk_cap)
    }

    /// Builds a context with this configuration.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// let ctx = Config::arena_only().build().unwrap();
    /// ctx.alloc(1u8);
    /// assert_eq!(ctx.stats().arena.live_objects, 1);
    /// ```
    pub fn build(self) -> Result<MorphContext, Error> {
        MorphContext::with_config(self)
    }

    /// The routing this configuration gives.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing, SizeClasses};
    /// assert_eq!(Config::compiler().with_size_classes(SizeClasses::none()).routing(), Routing::ArenaOnly);
    /// ```
    pub fn routing(&self) -> Routing {
        match (self.classes.is_empty(), self.large) {
            (false, LargeObjects::Arena) => Routing::PoolsAndArena,
            (false, LargeObjects::Freeable) => Routing::PoolsAndLargeSpace,
            (true, LargeObjects::Arena) => Routing::ArenaOnly,
            (true, LargeObjects::Freeable) => Routing::LargeSpaceOnly,
        }
    }

    /// The size-class table.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().size_classes().len(), 16); // the tight table
    /// ```
    pub fn size_classes(&self) -> &SizeClasses {
        &self.classes
    }

    /// The slab size.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().slab_size(), 64 * 1024);
    /// ```
    pub fn slab_size(&self) -> usize {
        self.slab_size
    }

    /// The first and the largest doubled chunk size.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().chunk_sizes(), (4096, 2 << 20));
    /// ```
    pub fn chunk_sizes(&self) -> (usize, usize) {
        (self.first_chunk, self.chunk_cap)
    }

    /// The byte budget, if any.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().budget(), None);
    /// ```
    pub fn budget(&self) -> Option<usize> {
        self.budget
    }
}
