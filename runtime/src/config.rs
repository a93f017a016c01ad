//! [`Config`]: how a [`MorphContext`](crate::MorphContext) routes and sizes
//! its memory.

use crate::arena::{validate_chunks, DEFAULT_CHUNK_CAP, DEFAULT_FIRST_CHUNK};
use crate::error::ConfigError;
use crate::size_class::SizeClasses;
use crate::slab::{validate_slab, DEFAULT_SLAB_SIZE};
use crate::MorphContext;

/// Where a context puts its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Header + payload of at most 256 bytes to the pool of the smallest class
    /// that fits, larger to the arena.
    PoolsAndArena,
    /// Every object to the arena (for comparison; `free` only counts).
    ArenaOnly,
}

/// Configuration of a [`MorphContext`](crate::MorphContext), built from a
/// preset and adjusted with builder methods.
///
/// ```
/// use morph_runtime::{Config, SizeClasses};
/// let ctx = Config::compiler()
///     .size_classes(SizeClasses::fine())
///     .budget(64 << 20)
///     .build()
///     .unwrap();
/// assert_eq!(ctx.config().budget_limit(), Some(64 << 20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    classes: SizeClasses,
    slab_size: usize,
    first_chunk: usize,
    chunk_cap: usize,
    budget: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self::compiler()
    }
}

impl Config {
    /// The default: power-of-two size classes 16..256 in 64 KiB slabs, larger
    /// objects in an arena of chunks from 4 KiB doubling up to 2 MiB, no budget.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing};
    /// assert_eq!(Config::compiler().routing(), Routing::PoolsAndArena);
    /// ```
    pub fn compiler() -> Config {
        Config {
            classes: SizeClasses::power_of_two(),
            slab_size: DEFAULT_SLAB_SIZE,
            first_chunk: DEFAULT_FIRST_CHUNK,
            chunk_cap: DEFAULT_CHUNK_CAP,
            budget: None,
        }
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
    /// let c = Config::compiler().size_classes(SizeClasses::fine());
    /// assert_eq!(c.classes().len(), 12);
    /// ```
    pub fn size_classes(mut self, classes: SizeClasses) -> Config {
        self.classes = classes;
        self
    }

    /// Slab size in bytes: a power of two from 4 KiB to 64 MiB.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert!(Config::compiler().slab_size(16 * 1024).build().is_ok());
    /// ```
    pub fn slab_size(mut self, bytes: usize) -> Config {
        self.slab_size = bytes;
        self
    }

    /// Arena chunk sizes: the first, and the cap doubling stops at.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert!(Config::compiler().chunk_sizes(1024, 1 << 20).build().is_ok());
    /// assert!(Config::compiler().chunk_sizes(1000, 1 << 20).build().is_err());
    /// ```
    pub fn chunk_sizes(mut self, first: usize, cap: usize) -> Config {
        self.first_chunk = first;
        self.chunk_cap = cap;
        self
    }

    /// The most bytes the context may reserve from the system (slabs and
    /// chunks together); past it allocations fail with
    /// [`AllocError::BudgetExceeded`](crate::AllocError::BudgetExceeded).
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// let ctx = Config::compiler().budget(100 * 1024).build().unwrap();
    /// assert!(ctx.alloc_slice_copy(&[0u8; 200 * 1024]).is_err());
    /// ```
    pub fn budget(mut self, bytes: usize) -> Config {
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
        if let Some(&largest) = self.classes.sizes().collect::<Vec<_>>().last() {
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
    /// ctx.alloc(1u8).unwrap();
    /// assert_eq!(ctx.stats().arena.live_objects, 1);
    /// ```
    pub fn build(self) -> Result<MorphContext, ConfigError> {
        MorphContext::with_config(self)
    }

    /// The routing this configuration gives.
    ///
    /// ```
    /// # use morph_runtime::{Config, Routing, SizeClasses};
    /// assert_eq!(Config::compiler().size_classes(SizeClasses::none()).routing(), Routing::ArenaOnly);
    /// ```
    pub fn routing(&self) -> Routing {
        if self.classes.is_empty() {
            Routing::ArenaOnly
        } else {
            Routing::PoolsAndArena
        }
    }

    /// The size-class table.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().classes().len(), 5);
    /// ```
    pub fn classes(&self) -> &SizeClasses {
        &self.classes
    }

    /// The slab size.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().slab_bytes(), 64 * 1024);
    /// ```
    pub fn slab_bytes(&self) -> usize {
        self.slab_size
    }

    /// The first and the largest doubled chunk size.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().chunk_bytes(), (4096, 2 << 20));
    /// ```
    pub fn chunk_bytes(&self) -> (usize, usize) {
        (self.first_chunk, self.chunk_cap)
    }

    /// The byte budget, if any.
    ///
    /// ```
    /// # use morph_runtime::Config;
    /// assert_eq!(Config::compiler().budget_limit(), None);
    /// ```
    pub fn budget_limit(&self) -> Option<usize> {
        self.budget
    }
}
