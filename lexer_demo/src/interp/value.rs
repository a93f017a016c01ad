//! Values and the layouts of runtime objects.
//!
//! A [`Value`] is 16 bytes: numbers, booleans and nil inline; string
//! literals as a reference into the AST (never copied); everything else a
//! [`Gc`] pointer to an object in the interpreter's heap. Objects with a
//! variable part (strings, environments, classes, field tables) keep it
//! inline after a fixed head, so each is one allocation; they are reached
//! only through their `Gc` pointer, whose provenance covers the whole
//! object.

use super::heap::Kind;
use crate::ast::Function;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A pointer to a live runtime object of type `T`.
///
/// The interpreter keeps every `Gc` it uses reachable from a root (globals,
/// environments, its value stack) whenever a collection can run, so the
/// object behind it is alive whenever it is read.
pub(crate) struct Gc<T> {
    ptr: NonNull<u8>,
    _t: PhantomData<*const T>,
}

impl<T> Clone for Gc<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<T> {}

impl<T> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl<T> Gc<T> {
    /// Wraps a fresh object's pointer.
    ///
    /// # Safety
    /// `ptr` points to an initialised `T` (and its variable part) allocated
    /// by the interpreter's heap.
    pub(crate) unsafe fn from_raw(ptr: NonNull<u8>) -> Gc<T> {
        Gc {
            ptr,
            _t: PhantomData,
        }
    }

    /// The object's address.
    pub(crate) fn raw(self) -> NonNull<u8> {
        self.ptr
    }

    /// The object's fixed head.
    #[inline]
    pub(crate) fn get<'g>(self) -> &'g T {
        // SAFETY: the object is alive (the interpreter's rooting discipline,
        // see the type's docs) and initialised; mutable parts are `Cell`s, so
        // shared references are all that is ever made. The reference does
        // not outlive a collection in the interpreter's use.
        unsafe { self.ptr.cast::<T>().as_ref() }
    }

    /// The start of the variable part after the head.
    #[inline]
    fn tail_ptr<E>(self) -> *mut E {
        // SAFETY: the head is followed by the variable part in the same
        // allocation (an empty part ends exactly at the allocation's end).
        unsafe { self.ptr.as_ptr().add(std::mem::size_of::<T>()).cast::<E>() }
    }

    /// Appends `item` to a variable part of `cap` elements of `E` whose
    /// first `*len` are initialised; `false` when it is full. `len` and
    /// `cap` are the object's own counts.
    #[inline]
    fn push_tail<E>(self, len: &Cell<u32>, cap: u32, item: E) -> bool {
        let n = len.get();
        if n >= cap {
            return false;
        }
        // SAFETY: element `n < cap` lies in the allocation; it is not
        // initialised yet, so it is written without reading it.
        unsafe { self.tail_ptr::<E>().add(n as usize).write(item) };
        len.set(n + 1);
        true
    }

    /// The variable part after the head: its first `len` elements of `E`,
    /// which must be initialised.
    #[inline]
    fn tail<'g, E>(self, len: usize) -> &'g [E] {
        // SAFETY: objects with a variable part were allocated with room for
        // it right after the head (`size_of::<T>()` is a multiple of 8 and
        // of `align_of::<E>()`), and the pointer's provenance covers it.
        unsafe {
            std::slice::from_raw_parts(
                self.ptr.as_ptr().add(std::mem::size_of::<T>()).cast::<E>(),
                len,
            )
        }
    }
}

/// A native function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Native {
    /// `clock()`: seconds since the Unix epoch.
    Clock,
}

/// A Lox value.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    Nil,
    Bool(bool),
    Number(f64),
    /// A string literal of the program.
    Lit(&'a &'a str),
    /// A string made at run time.
    Str(Gc<StrObj>),
    Closure(Gc<Closure<'a>>),
    Native(Native),
    Class(Gc<Class<'a>>),
    Instance(Gc<Instance<'a>>),
    Bound(Gc<Bound<'a>>),
}

const _: () = assert!(std::mem::size_of::<Value<'static>>() == 16);

impl<'a> Value<'a> {
    /// `nil` and `false` are falsey.
    #[inline]
    pub(crate) fn truthy(self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// The text of a string value.
    #[inline]
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Lit(s) => Some(s),
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The object behind the value, for the collector.
    #[inline]
    pub(crate) fn object(self) -> Option<(NonNull<u8>, Kind)> {
        match self {
            Value::Str(g) => Some((g.raw(), Kind::Str)),
            Value::Closure(g) => Some((g.raw(), Kind::Closure)),
            Value::Class(g) => Some((g.raw(), Kind::Class)),
            Value::Instance(g) => Some((g.raw(), Kind::Instance)),
            Value::Bound(g) => Some((g.raw(), Kind::Bound)),
            Value::Nil | Value::Bool(_) | Value::Number(_) | Value::Lit(_) | Value::Native(_) => {
                None
            }
        }
    }
}

/// Lox equality: never an error; different types are unequal; strings by
/// content; numbers as IEEE 754 doubles (`NaN` equals nothing, itself
/// included; `0` equals `-0`); objects by identity.
pub(crate) fn equal<'a>(a: Value<'a>, b: Value<'a>) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Native(x), Value::Native(y)) => x == y,
        (Value::Closure(x), Value::Closure(y)) => x == y,
        (Value::Class(x), Value::Class(y)) => x == y,
        (Value::Instance(x), Value::Instance(y)) => x == y,
        (Value::Bound(x), Value::Bound(y)) => x == y,
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
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

/// A string made at run time: its length, then its bytes (UTF-8).
#[repr(C)]
pub(crate) struct StrObj {
    pub(crate) len: usize,
}

impl Gc<StrObj> {
    #[inline]
    pub(crate) fn as_str<'g>(self) -> &'g str {
        let bytes: &[u8] = self.tail(self.get().len);
        // SAFETY: strings are made only by concatenating `str`s.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl StrObj {
    pub(crate) fn size(len: usize) -> usize {
        std::mem::size_of::<StrObj>() + len
    }
}

/// A function value: its declaration and the environment it closes over.
#[repr(C)]
pub(crate) struct Closure<'a> {
    pub(crate) decl: &'a Function<'a>,
    /// `None` at top level (globals).
    pub(crate) env: Option<Gc<Env<'a>>>,
    /// Slots its call environment needs: `this` for a method, the
    /// parameters, then the body's declarations.
    pub(crate) slots: u32,
    /// An `init` method: calls return `this`.
    pub(crate) is_init: bool,
}

/// The variables of one scope: up to `cap` slots, `len` defined so far, in
/// declaration order (the resolver's slot numbers).
#[repr(C)]
pub(crate) struct Env<'a> {
    pub(crate) enclosing: Option<Gc<Env<'a>>>,
    pub(crate) len: Cell<u32>,
    pub(crate) cap: u32,
    pub(crate) _values: PhantomData<Value<'a>>,
}

impl<'a> Env<'a> {
    pub(crate) fn size(cap: u32) -> usize {
        std::mem::size_of::<Env<'a>>() + cap as usize * std::mem::size_of::<Value<'a>>()
    }
}

impl<'a> Gc<Env<'a>> {
    /// The defined slots.
    #[inline]
    pub(crate) fn slots<'g>(self) -> &'g [Cell<Value<'a>>] {
        self.tail(self.get().len.get() as usize)
    }

    /// Defines the next slot; `false` when the environment is full (a
    /// resolver/interpreter mismatch, reported rather than trusted).
    #[inline]
    pub(crate) fn push(self, v: Value<'a>) -> bool {
        let head = self.get();
        self.push_tail(&head.len, head.cap, Cell::new(v))
    }

    /// The environment `depth` scopes out.
    #[inline]
    pub(crate) fn ancestor(self, depth: u32) -> Option<Gc<Env<'a>>> {
        let mut env = self;
        for _ in 0..depth {
            env = env.get().enclosing?;
        }
        Some(env)
    }
}

/// A class: its name, superclass and methods (later ones win on a clash).
#[repr(C)]
pub(crate) struct Class<'a> {
    pub(crate) name: &'a str,
    pub(crate) superclass: Option<Gc<Class<'a>>>,
    pub(crate) len: usize,
}

/// One method of a class.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Method<'a> {
    pub(crate) name: &'a str,
    pub(crate) closure: Gc<Closure<'a>>,
}

impl<'a> Class<'a> {
    pub(crate) fn size(methods: usize) -> usize {
        std::mem::size_of::<Class<'a>>() + methods * std::mem::size_of::<Method<'a>>()
    }
}

impl<'a> Gc<Class<'a>> {
    pub(crate) fn methods<'g>(self) -> &'g [Method<'a>] {
        self.tail(self.get().len)
    }

    /// Finds a method here or up the superclass chain.
    #[inline]
    pub(crate) fn find_method(self, name: &str) -> Option<Gc<Closure<'a>>> {
        let mut class = Some(self);
        while let Some(c) = class {
            if let Some(m) = c.methods().iter().rev().find(|m| m.name == name) {
                return Some(m.closure);
            }
            class = c.get().superclass;
        }
        None
    }
}

/// An instance: its class and its field table (made on the first field).
#[repr(C)]
pub(crate) struct Instance<'a> {
    pub(crate) class: Gc<Class<'a>>,
    pub(crate) fields: Cell<Option<Gc<Fields<'a>>>>,
}

/// The fields of an instance: up to `cap` entries, `len` in use.
#[repr(C)]
pub(crate) struct Fields<'a> {
    pub(crate) len: Cell<u32>,
    pub(crate) cap: u32,
    _align: PhantomData<Value<'a>>,
}

/// One field.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: Value<'a>,
}

impl<'a> Fields<'a> {
    pub(crate) fn size(cap: u32) -> usize {
        std::mem::size_of::<Fields<'a>>() + cap as usize * std::mem::size_of::<Field<'a>>()
    }

    pub(crate) fn new(cap: u32) -> Fields<'a> {
        Fields {
            len: Cell::new(0),
            cap,
            _align: PhantomData,
        }
    }
}

impl<'a> Gc<Fields<'a>> {
    /// The fields in use.
    #[inline]
    pub(crate) fn entries<'g>(self) -> &'g [Cell<Field<'a>>] {
        self.tail(self.get().len.get() as usize)
    }

    /// The value of field `name`.
    #[inline]
    pub(crate) fn get_field(self, name: &str) -> Option<Value<'a>> {
        self.entries()
            .iter()
            .map(Cell::get)
            .find(|f| f.name == name)
            .map(|f| f.value)
    }

    /// Sets an existing field; `false` if there is none by that name.
    #[inline]
    pub(crate) fn set_existing(self, name: &str, v: Value<'a>) -> bool {
        match self.entries().iter().find(|f| f.get().name == name) {
            Some(cell) => {
                cell.set(Field {
                    name: cell.get().name,
                    value: v,
                });
                true
            }
            None => false,
        }
    }

    /// Appends a field; `false` when the table is full.
    #[inline]
    pub(crate) fn push(self, name: &'a str, value: Value<'a>) -> bool {
        let head = self.get();
        self.push_tail(&head.len, head.cap, Cell::new(Field { name, value }))
    }
}

/// A method bound to the instance it was read from.
#[repr(C)]
pub(crate) struct Bound<'a> {
    pub(crate) receiver: Value<'a>,
    pub(crate) method: Gc<Closure<'a>>,
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
    fn numbers_are_equal_as_ieee_754_doubles() {
        let n = Value::Number;
        assert!(!equal(n(f64::NAN), n(f64::NAN)));
        assert!(!equal(n(f64::NAN), n(-f64::NAN)));
        assert!(equal(n(0.0), n(-0.0)));
        assert!(equal(n(f64::INFINITY), n(f64::INFINITY)));
        assert!(!equal(n(f64::INFINITY), n(f64::NEG_INFINITY)));
        assert!(equal(n(0.1 + 0.2), n(0.30000000000000004)));
        assert!(!equal(n(0.0), Value::Nil));
    }
}
