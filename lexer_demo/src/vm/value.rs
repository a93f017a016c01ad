//! Values: 8 bytes each, NaN-boxed.
//!
//! A number is its IEEE 754 bits. Every other value sits in the space of
//! quiet NaNs that arithmetic never produces once NaNs are made canonical:
//! `nil`, `false` and `true` are three small payloads, and an object is its
//! address with the sign bit and the quiet-NaN bits set.
//!
//! The word is a pointer, not an integer, so an object reference keeps its
//! provenance: it is tagged and untagged with `map_addr`, never cast from an
//! integer, and numbers and singletons are pointers without provenance
//! (`without_provenance`). Miri with strict provenance checks this.

use std::ptr;

// The encoding needs 64-bit words.
const _: () = assert!(usize::BITS == 64);

/// The quiet-NaN bits (exponent all ones, quiet bit, and one more bit so
/// that the canonical NaN `0x7ff8…` stays a number).
const QNAN: usize = 0x7ffc_0000_0000_0000;
/// Set, with `QNAN`, on object references.
const SIGN: usize = 0x8000_0000_0000_0000;
/// Both: the tag of an object reference.
const OBJ: usize = SIGN | QNAN;
/// The one NaN numbers use (any NaN a computation makes becomes this).
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

const NIL: usize = QNAN | 1;
const FALSE: usize = QNAN | 2;
const TRUE: usize = QNAN | 3;
const EMPTY: usize = QNAN | 4;

/// A Lox value: a number, `nil`, a boolean, or a reference to an object.
///
/// ```
/// use lexer_demo::vm::value::Value;
/// let n = Value::number(1.5);
/// assert_eq!(n.as_number(), Some(1.5));
/// assert!(Value::NIL.is_nil() && !Value::FALSE.is_truthy() && n.is_truthy());
/// assert_eq!(std::mem::size_of::<Value>(), 8);
/// ```
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Value(*const u8);

// SAFETY: a Value is a plain word; the objects it may refer to are only
// touched by the VM that owns them, on one thread at a time.
unsafe impl Send for Value {}

impl Value {
    /// `nil`.
    pub const NIL: Value = Value(ptr::without_provenance(NIL));
    /// `false`.
    pub const FALSE: Value = Value(ptr::without_provenance(FALSE));
    /// `true`.
    pub const TRUE: Value = Value(ptr::without_provenance(TRUE));
    /// No value: an undefined global, or the VM's marker for "no receiver".
    /// Never visible to a program.
    pub const EMPTY: Value = Value(ptr::without_provenance(EMPTY));

    /// A number. Every NaN becomes the canonical one, so no computed NaN can
    /// be mistaken for a tagged value.
    ///
    /// ```
    /// use lexer_demo::vm::value::Value;
    /// let weird = f64::from_bits(0xfffc_0000_0000_0001); // a NaN with a tag's bits
    /// assert!(Value::number(weird).as_number().unwrap().is_nan());
    /// assert_eq!(Value::number(-0.0).as_number().unwrap().to_bits(), (-0.0f64).to_bits());
    /// ```
    #[inline(always)]
    pub fn number(n: f64) -> Value {
        let bits = if n.is_nan() {
            CANONICAL_NAN
        } else {
            n.to_bits()
        };
        // `usize` is 64 bits (asserted above): the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        Value(ptr::without_provenance(bits as usize))
    }

    /// The result of arithmetic on numbers, without making a NaN canonical.
    ///
    /// A NaN that arithmetic makes carries either the payload of a NaN
    /// operand or none (IEEE 754, and Rust's float semantics), with either
    /// sign. The operands are values, so their NaNs are canonical, with no
    /// payload; a result NaN is then `0x7ff8…` or `0xfff8…`, neither of
    /// which has the bit every tag sets. So the check [`number`](Self::number)
    /// makes is not needed here.
    ///
    /// ```
    /// use lexer_demo::vm::value::Value;
    /// let (zero, inf) = (Value::number(0.0), Value::number(f64::INFINITY));
    /// let nan = Value::computed(zero.as_number().unwrap() / zero.as_number().unwrap());
    /// assert!(nan.as_number().unwrap().is_nan());
    /// let nan = Value::computed(inf.as_number().unwrap() - inf.as_number().unwrap());
    /// assert!(nan.is_number() && !nan.is_object());
    /// ```
    #[inline(always)]
    pub fn computed(n: f64) -> Value {
        // `usize` is 64 bits (asserted above): the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let v = Value(ptr::without_provenance(n.to_bits() as usize));
        debug_assert!(v.is_number(), "a NaN with a payload from arithmetic");
        v
    }

    /// A boolean.
    ///
    /// ```
    /// use lexer_demo::vm::value::Value;
    /// assert_eq!(Value::bool(true).as_bool(), Some(true));
    /// ```
    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        if b { Value::TRUE } else { Value::FALSE }
    }

    /// A reference to the object at `p` (any address a heap hands out: below
    /// 2^50, 8-aligned). The pointer's provenance is kept.
    ///
    /// ```
    /// use lexer_demo::vm::value::Value;
    /// let x = 7u64;
    /// let v = Value::object((&raw const x).cast::<u8>());
    /// assert_eq!(v.as_object(), Some((&raw const x).cast::<u8>()));
    /// assert!(v.as_number().is_none());
    /// ```
    #[inline(always)]
    pub fn object(p: *const u8) -> Value {
        debug_assert_eq!(p.addr() & OBJ, 0, "an address in the tag's bits");
        Value(p.map_addr(|a| a | OBJ))
    }

    /// The number, if this is one.
    #[inline(always)]
    pub fn as_number(self) -> Option<f64> {
        self.is_number().then(|| self.number_unchecked())
    }

    /// Whether this is a number.
    #[inline(always)]
    pub fn is_number(self) -> bool {
        self.0.addr() & QNAN != QNAN
    }

    /// The number, when [`is_number`](Self::is_number) said so.
    #[inline(always)]
    pub fn number_unchecked(self) -> f64 {
        debug_assert!(self.is_number());
        f64::from_bits(self.0.addr() as u64)
    }

    /// The object, if this refers to one (its pointer, provenance kept).
    #[inline(always)]
    pub fn as_object(self) -> Option<*const u8> {
        self.is_object().then(|| self.0.map_addr(|a| a & !OBJ))
    }

    /// Whether this refers to an object.
    #[inline(always)]
    pub fn is_object(self) -> bool {
        self.0.addr() & OBJ == OBJ
    }

    /// The boolean, if this is one.
    #[inline(always)]
    pub fn as_bool(self) -> Option<bool> {
        match self.0.addr() {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }

    /// Whether this is [`EMPTY`](Self::EMPTY).
    #[inline(always)]
    pub fn is_empty(self) -> bool {
        self.0.addr() == EMPTY
    }

    /// Whether this is `nil`.
    #[inline(always)]
    pub fn is_nil(self) -> bool {
        self.0.addr() == NIL
    }

    /// Lox truthiness: everything but `nil` and `false` is true.
    #[inline(always)]
    pub fn is_truthy(self) -> bool {
        !matches!(self.0.addr(), NIL | FALSE)
    }

    /// The raw word, for identity comparisons (objects, singletons).
    #[inline(always)]
    pub fn bits(self) -> usize {
        self.0.addr()
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(n) = self.as_number() {
            write!(f, "{n}")
        } else if let Some(b) = self.as_bool() {
            write!(f, "{b}")
        } else if self.is_nil() {
            f.write_str("nil")
        } else {
            write!(f, "object@{:#x}", self.bits() & !OBJ)
        }
    }
}

/// Formats a number as `print` does (LOX.md): shortest round-trip form, no
/// `.0` on integers, `-0` kept, `nan` for every NaN (whatever its sign and
/// payload), `inf` and `-inf` for the infinities.
pub(crate) fn format_number(n: f64, out: &mut String) {
    use std::fmt::Write;
    if n.is_nan() {
        out.push_str("nan");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "inf" } else { "-inf" });
    } else {
        // Display for f64 prints the shortest text that reads back as the
        // same number, with no fractional part for integral values and
        // never an exponent (`1e21` prints all 22 digits).
        let _ = write!(out, "{n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(n: f64) -> String {
        let mut s = String::new();
        format_number(n, &mut s);
        s
    }

    #[test]
    fn numbers_print_as_lox_md_says() {
        assert_eq!(printed(3.0), "3");
        assert_eq!(printed(2.5), "2.5");
        assert_eq!(printed(-0.0), "-0");
        assert_eq!(printed(f64::INFINITY), "inf");
        assert_eq!(printed(f64::NEG_INFINITY), "-inf");
        // Every NaN, whatever its sign and payload.
        for bits in [
            0x7ff8_0000_0000_0000,
            0xfff8_0000_0000_0000,
            0x7ff0_0000_0000_0001,
        ] {
            assert_eq!(printed(f64::from_bits(bits)), "nan", "{bits:#x}");
        }
        assert_eq!(printed(1e21), "1000000000000000000000");
        assert_eq!(printed(1e-7), "0.0000001");
    }

    #[test]
    fn numbers_round_trip_and_stay_apart_from_everything_else() {
        for n in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let v = Value::number(n);
            assert_eq!(v.as_number().unwrap().to_bits(), n.to_bits());
            assert!(!v.is_object() && !v.is_nil() && v.as_bool().is_none());
        }
        for nan in [
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ffc_0000_0000_0003),
            f64::from_bits(u64::MAX),
        ] {
            let v = Value::number(nan);
            assert!(v.is_number() && v.as_number().unwrap().is_nan());
            assert!(!v.is_object() && !v.is_nil() && v.as_bool().is_none());
        }
        for s in [Value::NIL, Value::TRUE, Value::FALSE] {
            assert!(!s.is_number() && !s.is_object());
        }
        assert!(!Value::NIL.is_truthy() && !Value::FALSE.is_truthy());
        assert!(Value::TRUE.is_truthy() && Value::number(0.0).is_truthy());
    }

    #[test]
    fn objects_keep_their_provenance() {
        // Under Miri with strict provenance, reading through the untagged
        // pointer is only allowed if the tag kept the original provenance.
        let boxed = Box::new([1u64, 2, 3]);
        let p = Box::into_raw(boxed);
        let v = Value::object(p.cast::<u8>());
        assert!(v.is_object() && v.is_truthy() && !v.is_number());
        let back = v.as_object().unwrap().cast::<[u64; 3]>().cast_mut();
        // SAFETY: `back` is `p` with its tag removed: the live box.
        let boxed = unsafe { Box::from_raw(back) };
        assert_eq!(*boxed, [1, 2, 3]);
    }
}
