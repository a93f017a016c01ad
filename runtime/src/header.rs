//! The 8-byte header that [`MorphContext`](crate::MorphContext) puts in front
//! of every object.
//!
//! Layout (little end first, `#[repr(C)]`, 8 bytes, 8-aligned):
//!
//! | bytes | field   | meaning                                                   |
//! |-------|---------|-----------------------------------------------------------|
//! | 0..4  | `size`  | payload size in bytes (so payloads are < 4 GiB)           |
//! | 4..6  | `tag`   | the caller's [`TypeTag`]                                  |
//! | 6     | `class` | size-class index, [`ARENA_CLASS`] for arena objects, [`LARGE_CLASS`] for the large-object space |
//! | 7     | `flags` | bits 0..3: [`Header::MARK`] and friends; bits 3..8: log2 of the distance from the block start to the payload |
//!
//! The header always sits in the 8 bytes just before the payload, so a payload
//! pointer finds its header by subtracting 8. The block (slot or arena
//! allocation) starts `1 << shift` bytes before the payload, where
//! `1 << shift = max(8, align)`: a pool slot is therefore found from the payload
//! with one subtraction, whatever the alignment the object was allocated with.

use core::fmt;

/// Size of the object header in bytes.
pub(crate) const HEADER_SIZE: usize = 8;

/// The `class` value of an object that lives in the arena rather than a pool.
pub(crate) const ARENA_CLASS: u8 = 0xFF;

/// The `class` value of an object in the large-object space.
pub(crate) const LARGE_CLASS: u8 = 0xFE;

// Every pool class index stays below both.
const _: () = assert!(crate::size_class::MAX_CLASSES < LARGE_CLASS as usize);

/// A caller-chosen tag stored in every object's header.
///
/// The runtime never interprets it; statistics and leak reports group objects
/// by it, and a collector can use it to find an object's kind.
///
/// ```
/// use morph_runtime::TypeTag;
/// const TOKEN: TypeTag = TypeTag(1);
/// assert_eq!(TOKEN.0, 1);
/// assert_eq!(TypeTag::default(), TypeTag::UNTAGGED);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeTag(pub u16);

impl TypeTag {
    /// The tag of objects allocated without one.
    pub const UNTAGGED: TypeTag = TypeTag(0);

    /// The tag of objects made through the `allocator_api2` interface
    /// (collections in a context, [`MorphVec`](crate::MorphVec)).
    ///
    /// ```
    /// use morph_runtime::{MorphContext, MorphVec, TypeTag};
    /// let mut ctx = MorphContext::new();
    /// let v: MorphVec<u32> = MorphVec::with_capacity_in(4, &ctx);
    /// std::mem::forget(v); // its buffer stays, an object of the context
    /// let mut tags = Vec::new();
    /// ctx.for_each_object(|_, h| tags.push(h.tag()));
    /// assert_eq!(tags, [TypeTag::COLLECTION]);
    /// ```
    pub const COLLECTION: TypeTag = TypeTag(0xFFFF);
}

/// The header in front of every object of a [`MorphContext`](crate::MorphContext).
///
/// Read it with [`MorphContext::header`](crate::MorphContext::header).
///
/// ```
/// use morph_runtime::{MorphContext, TypeTag};
/// use std::alloc::Layout;
/// let ctx = MorphContext::new();
/// let n = ctx.alloc_layout(Layout::new::<u64>(), TypeTag(3));
/// // SAFETY: `n` came from this context's `alloc_layout` and is live.
/// let h = unsafe { ctx.header(n) };
/// assert_eq!(h.size(), 8);
/// assert_eq!(h.tag(), TypeTag(3));
/// assert!(!h.is_arena());
/// ```
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header {
    size: u32,
    tag: u16,
    class: u8,
    flags: u8,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(core::mem::align_of::<Header>() == HEADER_SIZE);
const _: () = assert!(core::mem::offset_of!(Header, size) == 0);
const _: () = assert!(core::mem::offset_of!(Header, tag) == 4);
const _: () = assert!(core::mem::offset_of!(Header, class) == 6);
const _: () = assert!(core::mem::offset_of!(Header, flags) == 7);

/// Number of low flag bits; the rest of the byte holds the payload shift.
const FLAG_BITS: u8 = 3;
const FLAG_MASK: u8 = (1 << FLAG_BITS) - 1;

// The shift has 5 bits: every alignment the runtime accepts must fit.
const _: () = assert!(crate::arena::MAX_ALIGN.trailing_zeros() < 32);

/// cbindgen:ignore
impl Header {
    /// Bytes of a header: 8, in front of every object of a context.
    ///
    /// ```
    /// use morph_runtime::{Header, MorphContext};
    /// let ctx = MorphContext::new();
    /// ctx.alloc(1u64);
    /// assert_eq!(ctx.stats().header_bytes, Header::SIZE);
    /// ```
    pub const SIZE: usize = HEADER_SIZE;

    /// The mark bit, for a collector's mark phase.
    pub const MARK: u8 = 1 << 0;
    /// Set when the object has been freed (kept for debug checks).
    pub const FREED: u8 = 1 << 1;
    /// Free for the embedder's own use.
    pub const USER: u8 = 1 << 2;

    #[inline(always)]
    pub(crate) const fn new(size: u32, tag: TypeTag, class: u8, shift: u32) -> Header {
        debug_assert!(shift < 32);
        // `shift <= log2(MAX_ALIGN) < 32` (asserted above), so it fits the
        // flag byte's 5 high bits.
        #[allow(clippy::cast_possible_truncation)]
        let shift = shift as u8;
        Header {
            size,
            tag: tag.0,
            class,
            flags: shift << FLAG_BITS,
        }
    }

    /// The header's 8 bytes as one word, in memory order.
    #[inline(always)]
    const fn to_bits(self) -> u64 {
        let s = self.size.to_ne_bytes();
        let t = self.tag.to_ne_bytes();
        u64::from_ne_bytes([s[0], s[1], s[2], s[3], t[0], t[1], self.class, self.flags])
    }

    /// Writes the header with one 8-byte store. `free` reads `class` and
    /// `flags` with one 16-bit load soon after; the CPU forwards a load
    /// from a single earlier store, but not one that spans several (a
    /// field-by-field write cost a store-forwarding stall on every
    /// alloc + free pair).
    ///
    /// # Safety
    /// `dst` must be valid for an 8-byte write and 8-aligned.
    #[inline(always)]
    pub(crate) unsafe fn store(self, dst: *mut Header) {
        // SAFETY: forwarded from the caller; `Header` is 8 bytes with no
        // padding, so its bits are exactly this word.
        unsafe { dst.cast::<u64>().write(self.to_bits()) }
    }

    /// Payload size in bytes, as requested (not rounded to the size class).
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert_eq!(h.size(), 20);
    /// ```
    #[inline]
    pub const fn size(&self) -> usize {
        self.size as usize
    }

    /// The type tag given at allocation.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert_eq!(h.tag(), TypeTag(6));
    /// ```
    #[inline]
    pub const fn tag(&self) -> TypeTag {
        TypeTag(self.tag)
    }

    /// Index of the size class the object lives in, or `None` for arena objects.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// // 16 + 20 bytes, 16-aligned: the 48-byte class (the 40-byte one's
    /// // slots are only 8-aligned)
    /// assert_eq!(h.class(), Some(4));
    /// ```
    #[inline]
    pub const fn class(&self) -> Option<usize> {
        if self.class == ARENA_CLASS || self.class == LARGE_CLASS {
            None
        } else {
            Some(self.class as usize)
        }
    }

    /// Whether the object lives in the arena.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert!(!h.is_arena());
    /// ```
    #[inline]
    pub const fn is_arena(&self) -> bool {
        self.class == ARENA_CLASS
    }

    /// Whether the object lives in the large-object space (freed one by
    /// one, see [`LargeObjects`](crate::LargeObjects)).
    ///
    /// ```
    /// # use morph_runtime::{Config, MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::with_config(Config::runtime()).unwrap();
    /// let p = ctx.alloc_layout(Layout::from_size_align(1000, 8).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert!(h.is_large() && !h.is_arena() && h.class().is_none());
    /// ```
    #[inline]
    pub const fn is_large(&self) -> bool {
        self.class == LARGE_CLASS
    }

    /// The flag bits (`MARK`, `FREED`, `USER`).
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert_eq!(h.flags(), 0);
    /// ```
    #[inline]
    pub const fn flags(&self) -> u8 {
        self.flags & FLAG_MASK
    }

    /// Whether the mark bit is set.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert!(!h.is_marked());
    /// ```
    #[inline]
    pub const fn is_marked(&self) -> bool {
        self.flags & Self::MARK != 0
    }

    /// Distance in bytes from the start of the object's block to its payload;
    /// also the alignment the payload is guaranteed to have.
    ///
    /// ```
    /// # use morph_runtime::{MorphContext, TypeTag};
    /// # use std::alloc::Layout;
    /// let ctx = MorphContext::new();
    /// let p = ctx.alloc_layout(Layout::from_size_align(20, 16).unwrap(), TypeTag(6));
    /// // SAFETY: `p` came from this context's `alloc_layout` and is live.
    /// let h = unsafe { ctx.header(p) };
    /// assert_eq!(h.payload_offset(), 16);
    /// ```
    #[inline(always)]
    pub const fn payload_offset(&self) -> usize {
        1usize << (self.flags >> FLAG_BITS)
    }

    /// The class of a *plain* pool object: one whose payload directly follows
    /// its header at the slot start (alignment at most 8) and whose flag bits
    /// are all clear; `None` for anything else.
    ///
    /// One byte compare: only pool objects are ever stored with the 8-byte
    /// offset (arena objects start at least 16 bytes before their payload,
    /// large objects at least 32, see `MIN_ARENA_SHIFT`), so `flags ==
    /// PLAIN` alone says "a pool object"; the class byte is then the class.
    #[inline(always)]
    pub(crate) const fn plain_pool_class(&self) -> Option<u8> {
        const PLAIN: u8 = 3 << FLAG_BITS;
        if self.flags == PLAIN {
            Some(self.class)
        } else {
            None
        }
    }

    #[inline(always)]
    pub(crate) const fn raw_class(&self) -> u8 {
        self.class
    }

    #[inline]
    pub(crate) fn set_size(&mut self, size: u32) {
        self.size = size;
    }

    #[inline]
    pub(crate) fn set_flag(&mut self, flag: u8, on: bool) {
        debug_assert!(flag & !FLAG_MASK == 0);
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("size", &self.size)
            .field("tag", &self.tag)
            .field("class", &self.class())
            .field("flags", &self.flags())
            .field("payload_offset", &self.payload_offset())
            .finish()
    }
}

/// The smallest shift an arena object is stored with (a 16-byte offset, at
/// a cost of 8 bytes an arena object), so that the 8-byte offset marks pool
/// objects alone and `free` tells them apart with one byte compare.
pub(crate) const MIN_ARENA_SHIFT: u32 = 4;

/// The shift stored for a request of alignment `align`: log2(max(8, align)).
#[inline(always)]
pub(crate) const fn shift_for(align: usize) -> u32 {
    if align <= HEADER_SIZE {
        3
    } else {
        align.trailing_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut h = Header::new(1234, TypeTag(77), 3, shift_for(64));
        assert_eq!(h.size(), 1234);
        assert_eq!(h.tag(), TypeTag(77));
        assert_eq!(h.class(), Some(3));
        assert_eq!(h.payload_offset(), 64);
        assert!(!h.is_marked());
        h.set_flag(Header::MARK, true);
        assert!(h.is_marked());
        assert_eq!(h.payload_offset(), 64, "flags must not disturb the shift");
        h.set_flag(Header::MARK, false);
        assert_eq!(h.flags(), 0);
    }

    #[test]
    fn plain_pool_class_only_for_unflagged_default_offset_pool_objects() {
        assert_eq!(Header::new(1, TypeTag(1), 4, 3).plain_pool_class(), Some(4));
        assert_eq!(Header::new(1, TypeTag(1), 0, 3).plain_pool_class(), Some(0));
        assert_eq!(
            Header::new(1, TypeTag(1), ARENA_CLASS, MIN_ARENA_SHIFT).plain_pool_class(),
            None
        );
        assert_eq!(
            Header::new(1, TypeTag(1), LARGE_CLASS, 5).plain_pool_class(),
            None
        );
        assert_eq!(Header::new(1, TypeTag(1), 2, 4).plain_pool_class(), None);
        let mut marked = Header::new(1, TypeTag(1), 2, 3);
        marked.set_flag(Header::MARK, true);
        assert_eq!(marked.plain_pool_class(), None);
    }

    #[test]
    fn one_word_store_matches_the_fields() {
        let h = Header::new(0x0102_0304, TypeTag(0x0506), 7, shift_for(32));
        let mut word = 0u64;
        // SAFETY: `word` is 8 bytes, 8-aligned.
        unsafe { h.store((&mut word as *mut u64).cast()) };
        // SAFETY: any 8 bytes are a valid Header.
        let back: Header = unsafe { std::mem::transmute(word) };
        assert_eq!(back, h);
    }

    #[test]
    fn arena_class_and_small_alignments() {
        let h = Header::new(0, TypeTag::UNTAGGED, ARENA_CLASS, shift_for(1));
        assert!(h.is_arena());
        assert_eq!(h.class(), None);
        assert_eq!(h.payload_offset(), 8);
        assert_eq!(shift_for(8), 3);
        assert_eq!(shift_for(16), 4);
        assert_eq!(shift_for(crate::arena::MAX_ALIGN), 29);
    }
}
