//! Size classes: the table of slot sizes and the O(1) `class_of` lookup.
//!
//! Every class is a multiple of [`GRANULE`] (8) bytes, at least 16 and at
//! most [`MAX_SMALL`] (256) bytes, so a lookup table of 33 bytes indexed by
//! `ceil(total / 8)` answers `class_of` with one load.

use crate::error::ConfigError;

/// Granularity of slot sizes, and the minimum alignment of every slot. A
/// class that is a multiple of 8 but not of 16 (24, 40, ...) has 8-aligned
/// slots, which serve every request aligned to at most 8 (a request aligned
/// more goes to the next class whose slots are aligned enough).
pub(crate) const GRANULE: usize = 8;
/// Largest block (header + payload) served by a pool; larger goes to the arena.
pub(crate) const MAX_SMALL: usize = 256;
/// Most classes a table may have.
pub(crate) const MAX_CLASSES: usize = 16;

/// Length of the lookup table: one entry per granule from 0 to `MAX_SMALL`.
pub(crate) const LUT_LEN: usize = MAX_SMALL / GRANULE + 1;
/// Lookup-table entry meaning "no pool serves this size".
pub(crate) const NO_CLASS: u8 = 0xFF;

/// A table of size classes.
///
/// The default table is the powers of two 16, 32, 64, 128, 256; they waste up
/// to half a slot, so [`SizeClasses::fine`] offers steps of 16 up to 128 and
/// then of 32, and [`SizeClasses::tight`] steps of 8 up to 80.
///
/// ```
/// use morph_runtime::SizeClasses;
/// let classes = SizeClasses::power_of_two();
/// assert_eq!(classes.class_of(24), Some(1)); // the 32-byte class
/// assert_eq!(classes.size_of_class(1), 32);
/// assert_eq!(classes.class_of(257), None); // goes to the arena
///
/// let fine = SizeClasses::fine();
/// assert_eq!(fine.size_of_class(fine.class_of(40).unwrap()), 48);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeClasses {
    sizes: [u16; MAX_CLASSES],
    len: u8,
    /// `lut[i]` is the smallest class whose slot holds `i * GRANULE` bytes.
    lut: [u8; LUT_LEN],
}

impl SizeClasses {
    /// Largest block (8-byte header + payload) a context serves from a pool:
    /// 256 bytes. Larger objects go to the arena or the large-object space.
    ///
    /// ```
    /// use morph_runtime::{Header, MorphContext, SizeClasses};
    /// let ctx = MorphContext::new();
    /// ctx.alloc([0u8; SizeClasses::MAX_SMALL - Header::SIZE]);
    /// assert_eq!(ctx.stats().pools.live_objects, 1);
    /// ```
    pub const MAX_SMALL: usize = MAX_SMALL;

    /// Most classes a table may have: 16.
    ///
    /// ```
    /// use morph_runtime::SizeClasses;
    /// let sizes: Vec<usize> = (2..=18).map(|i| i * 8).collect(); // 16 to 144
    /// assert!(SizeClasses::new(&sizes[..SizeClasses::MAX_CLASSES]).is_ok());
    /// assert!(SizeClasses::new(&sizes).is_err());
    /// ```
    pub const MAX_CLASSES: usize = MAX_CLASSES;

    /// The default table: 16, 32, 64, 128 and 256 bytes.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::power_of_two().sizes().collect::<Vec<_>>(), [16, 32, 64, 128, 256]);
    /// ```
    pub fn power_of_two() -> SizeClasses {
        Self::new(&[16, 32, 64, 128, 256]).expect("built-in table is valid")
    }

    /// A finer table: 16 to 128 in steps of 16, then 160, 192, 224, 256.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::fine().len(), 12);
    /// ```
    pub fn fine() -> SizeClasses {
        Self::new(&[16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256])
            .expect("built-in table is valid")
    }

    /// The tightest table: steps of 8 from 16 to 80, then 96, 112, 128, 160,
    /// 192, 224, 256 (the 16 classes a table may have). For a runtime whose
    /// objects are 8-aligned and come in many sizes: an object of 32 bytes
    /// with its 8-byte header takes a 40-byte slot, not 48 or 64. Slots of
    /// the odd multiples of 8 are 8-aligned; a request aligned to 16 or
    /// more goes to the next class aligned enough.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// let t = SizeClasses::tight();
    /// assert_eq!(t.len(), 16);
    /// assert_eq!(t.size_of_class(t.class_of(40).unwrap()), 40);
    /// ```
    pub fn tight() -> SizeClasses {
        Self::new(&[
            16, 24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 224, 256,
        ])
        .expect("built-in table is valid")
    }

    /// A table with no classes: every object goes to the arena.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::none().class_of(16), None);
    /// ```
    pub fn none() -> SizeClasses {
        SizeClasses {
            sizes: [0; MAX_CLASSES],
            len: 0,
            lut: [NO_CLASS; LUT_LEN],
        }
    }

    /// A custom table. Sizes must be strictly increasing multiples of 8, from
    /// 16 to 256, and there may be at most 16 of them.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// let t = SizeClasses::new(&[32, 40, 96]).unwrap();
    /// assert_eq!((t.class_of(33), t.class_of(100)), (Some(1), None));
    /// assert!(SizeClasses::new(&[20]).is_err());
    /// assert!(SizeClasses::new(&[8]).is_err());
    /// assert!(SizeClasses::new(&[64, 32]).is_err());
    /// ```
    pub fn new(sizes: &[usize]) -> Result<SizeClasses, ConfigError> {
        if sizes.len() > MAX_CLASSES {
            return Err(ConfigError::TooManyClasses { count: sizes.len() });
        }
        let mut table = SizeClasses::none();
        let mut prev = 0;
        for (i, &s) in sizes.iter().enumerate() {
            if s < 16 || s % GRANULE != 0 || s > MAX_SMALL {
                return Err(ConfigError::ClassSize { size: s });
            }
            if s <= prev {
                return Err(ConfigError::ClassOrder {
                    size: s,
                    previous: prev,
                });
            }
            prev = s;
            // `s <= MAX_SMALL` was checked just above.
            table.sizes[i] = u16::try_from(s).unwrap_or(u16::MAX);
        }
        // At most MAX_CLASSES (checked above), which a byte holds; so does
        // every class index.
        const _: () = assert!(MAX_CLASSES < NO_CLASS as usize);
        table.len = u8::try_from(sizes.len()).unwrap_or(NO_CLASS);
        for (g, entry) in table.lut.iter_mut().enumerate() {
            let need = g * GRANULE;
            *entry = (0..sizes.len())
                .find(|&c| sizes[c] >= need)
                .map_or(NO_CLASS, |c| u8::try_from(c).unwrap_or(NO_CLASS));
        }
        Ok(table)
    }

    /// The class whose slots hold `total` bytes (header included), or `None`
    /// when no class is large enough. O(1): one table load.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// let t = SizeClasses::power_of_two();
    /// assert_eq!((t.class_of(16), t.class_of(17), t.class_of(300)), (Some(0), Some(1), None));
    /// ```
    #[inline(always)]
    pub fn class_of(&self, total: usize) -> Option<usize> {
        let g = total.div_ceil(GRANULE);
        match self.lut.get(g) {
            Some(&c) if c != NO_CLASS => Some(c as usize),
            _ => None,
        }
    }

    /// Slot size of class `class`. Panics if `class >= self.len()`.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::power_of_two().size_of_class(4), 256);
    /// ```
    #[inline]
    pub fn size_of_class(&self, class: usize) -> usize {
        assert!(class < self.len(), "no size class {class}");
        self.sizes[class] as usize
    }

    /// Number of classes.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::power_of_two().len(), 5);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the table has no classes (everything goes to the arena).
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert!(SizeClasses::none().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot sizes in increasing order.
    ///
    /// ```
    /// # use morph_runtime::SizeClasses;
    /// assert_eq!(SizeClasses::fine().sizes().last(), Some(256));
    /// ```
    pub fn sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.sizes[..self.len()].iter().map(|&s| s as usize)
    }

    /// The raw lookup table, for the context's inlined fast path.
    #[inline(always)]
    pub(crate) fn lut(&self) -> &[u8; LUT_LEN] {
        &self.lut
    }
}

/// The tight table: the one that wastes least.
impl Default for SizeClasses {
    fn default() -> Self {
        Self::tight()
    }
}

/// The alignment every slot of a class of `size` bytes has, given that slab
/// data starts at an offset that is a multiple of 256: the largest power of
/// two dividing the size.
#[inline]
pub(crate) const fn slot_align(size: usize) -> usize {
    1 << size.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_of_picks_smallest_fitting_class() {
        let t = SizeClasses::power_of_two();
        for total in 0..=MAX_SMALL {
            let c = t.class_of(total).expect("every size up to 256 fits");
            let size = t.size_of_class(c);
            assert!(size >= total, "{total} put in class of {size}");
            if c > 0 {
                assert!(t.size_of_class(c - 1) < total.max(1));
            }
        }
        assert_eq!(t.class_of(MAX_SMALL + 1), None);
        assert_eq!(t.class_of(usize::MAX), None);
    }

    #[test]
    fn fine_table_wastes_less() {
        let fine = SizeClasses::fine();
        let pow = SizeClasses::power_of_two();
        let waste = |t: &SizeClasses| -> usize {
            (1..=MAX_SMALL)
                .map(|n| t.size_of_class(t.class_of(n).unwrap()) - n)
                .sum()
        };
        assert!(waste(&fine) < waste(&pow) / 2);
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(SizeClasses::new(&[0]).is_err());
        assert!(SizeClasses::new(&[8]).is_err());
        assert!(SizeClasses::new(&[16, 36]).is_err());
        assert!(SizeClasses::new(&[272]).is_err());
        assert!(SizeClasses::new(&[16, 16]).is_err());
        assert!(SizeClasses::new(&[16; 17]).is_err());
        let partial = SizeClasses::new(&[16, 64]).unwrap();
        assert_eq!(partial.class_of(64), Some(1));
        assert_eq!(partial.class_of(65), None);
    }

    #[test]
    fn slot_alignment() {
        assert_eq!(slot_align(48), 16);
        assert_eq!(slot_align(64), 64);
        assert_eq!(slot_align(256), 256);
    }
}
