//! The VM's objects, as laid out in the heap. Every object is `#[repr(C)]`
//! and sits in a block the heap hands out, with the kind in the heap's
//! header (the runtime's 8-byte header, or the system heap's prefix): the
//! objects themselves carry no header of their own.
//!
//! | kind | layout | bytes |
//! |---|---|---|
//! | string | `len`, `hash`, then the bytes | 16 + len |
//! | closure | the function, the upvalue count, then the upvalue pointers | 16 + 8·n |
//! | upvalue | the stack slot (while open), the value (once closed), the next open upvalue | 24 |
//! | class | name, method table | 16 |
//! | instance | class, field table (made on the first field) | 16 |
//! | table | length, capacity, then `(key, value)` entries | 8 + 16·cap |
//! | bound method | receiver, method | 16 |
//! | native | which native | 8 |

use super::chunk::Chunk;
use super::value::Value;
use std::ptr;

/// A string: length and hash, then its UTF-8 bytes inline. Strings are
/// interned, so two equal strings are one object.
#[repr(C)]
pub struct ObjStr {
    /// Bytes of text.
    pub len: usize,
    /// FxHash of the bytes.
    pub hash: u64,
}

impl ObjStr {
    /// Bytes of a string object holding `len` bytes of text.
    pub fn size(len: usize) -> Option<usize> {
        len.checked_add(std::mem::size_of::<ObjStr>())
    }

    /// The text.
    ///
    /// # Safety
    /// `this` is a live string object.
    pub unsafe fn as_str<'s>(this: *const ObjStr) -> &'s str {
        // SAFETY: the text follows the head, `len` bytes of valid UTF-8
        // (strings are made only from `str`s).
        unsafe {
            let bytes = this.add(1).cast::<u8>();
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(bytes, (*this).len))
        }
    }
}

/// A compiled function: not a heap object (functions live as long as the
/// program), but what closures point at.
pub struct Proto {
    /// Its name (an interned string), or null for the top level.
    pub name: *const ObjStr,
    /// Parameters.
    pub arity: u8,
    /// Upvalues its closures capture.
    pub upvalues: u32,
    /// The most values its frame holds, from slot 0 (found by the
    /// verifier when the function is stored).
    pub max_stack: usize,
    /// The code.
    pub chunk: Chunk,
}

/// A closure: its function and its captured variables.
#[repr(C)]
pub struct ObjClosure {
    /// The function.
    pub proto: *const Proto,
    /// Upvalues that follow.
    pub count: usize,
}

impl ObjClosure {
    /// Bytes of a closure with `n` upvalues.
    pub fn size(n: usize) -> usize {
        std::mem::size_of::<ObjClosure>() + n * std::mem::size_of::<*mut ObjUpvalue>()
    }

    /// The upvalue slots.
    ///
    /// # Safety
    /// `this` is a live closure.
    pub unsafe fn upvalues(this: *const ObjClosure) -> *mut *mut ObjUpvalue {
        // SAFETY: the slots follow the head in the same block.
        unsafe { this.add(1).cast::<*mut ObjUpvalue>().cast_mut() }
    }
}

/// A captured variable: open (its value is in stack slot `slot`) or closed
/// (`slot == CLOSED`, the value is here).
#[repr(C)]
pub struct ObjUpvalue {
    /// The stack slot while open.
    pub slot: usize,
    /// The value once closed.
    pub closed: Value,
    /// The next open upvalue (lower slot), or null.
    pub next: *mut ObjUpvalue,
}

/// `slot` of a closed upvalue.
pub const CLOSED: usize = usize::MAX;

/// A class: its name and methods.
#[repr(C)]
pub struct ObjClass {
    /// The name.
    pub name: *const ObjStr,
    /// Methods by name (closures).
    pub methods: *mut ObjTable,
}

/// An instance: its class and fields.
#[repr(C)]
pub struct ObjInstance {
    /// The class.
    pub class: *const ObjClass,
    /// Fields by name, or null before the first one is set.
    pub fields: *mut ObjTable,
}

/// A method bound to its receiver.
#[repr(C)]
pub struct ObjBound {
    /// `this`.
    pub receiver: Value,
    /// The method.
    pub method: *const ObjClosure,
}

/// A native function (only `clock`).
#[repr(C)]
pub struct ObjNative {
    /// Which one.
    pub which: usize,
}

/// One entry of a table: an interned string key (null: empty) and a value.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Entry {
    /// The key, or null.
    pub key: *const ObjStr,
    /// The value.
    pub value: Value,
}

/// An open-addressing hash table keyed by interned strings (by address),
/// probing linearly; entries are never removed (Lox has no way to delete a
/// field or method). Grows into a new table object at 3/4 full, except a
/// table of 4 entries, which fills: an instance of four fields then needs
/// one table of 72 bytes rather than one of 136 (and the one it outgrew).
#[repr(C)]
pub struct ObjTable {
    /// Entries in use.
    pub len: u32,
    /// Entries (a power of two).
    pub cap: u32,
}

impl ObjTable {
    /// Bytes of a table of `cap` entries.
    pub fn size(cap: u32) -> usize {
        std::mem::size_of::<ObjTable>() + cap as usize * std::mem::size_of::<Entry>()
    }

    /// The entries.
    ///
    /// # Safety
    /// `this` is a live table.
    pub unsafe fn entries(this: *mut ObjTable) -> *mut Entry {
        // SAFETY: the entries follow the head in the same block.
        unsafe { this.add(1).cast::<Entry>() }
    }

    /// Fills a fresh table's entries with empty ones.
    ///
    /// # Safety
    /// `this` is a fresh table whose head is written.
    pub unsafe fn clear(this: *mut ObjTable) {
        // SAFETY: forwarded; `cap` entries follow.
        unsafe {
            let e = ObjTable::entries(this);
            for i in 0..(*this).cap as usize {
                e.add(i).write(Entry {
                    key: ptr::null(),
                    value: Value::NIL,
                });
            }
        }
    }

    /// The value under `key`.
    ///
    /// # Safety
    /// `this` is null or a live table; `key` a live interned string.
    #[inline]
    pub unsafe fn get(this: *mut ObjTable, key: *const ObjStr) -> Option<Value> {
        if this.is_null() {
            return None;
        }
        // SAFETY: forwarded; the probe stays below `cap` (masked) and
        // visits each entry at most once.
        unsafe {
            let cap = (*this).cap as usize;
            let mask = cap - 1;
            let e = ObjTable::entries(this);
            #[allow(clippy::cast_possible_truncation)] // masked below `cap`
            let mut i = (*key).hash as usize & mask;
            for _ in 0..cap {
                let entry = &*e.add(i);
                if entry.key == key {
                    return Some(entry.value);
                }
                if entry.key.is_null() {
                    return None;
                }
                i = (i + 1) & mask;
            }
            None
        }
    }

    /// Whether a table of `cap` entries may hold `len`.
    fn fits(len: usize, cap: usize) -> bool {
        if cap <= 4 {
            len <= cap
        } else {
            len * 4 <= cap * 3
        }
    }

    /// Stores `value` under `key` if the table has room for it and returns
    /// whether it did.
    ///
    /// # Safety
    /// As for [`get`](Self::get), with `this` not null.
    #[inline]
    pub unsafe fn set(this: *mut ObjTable, key: *const ObjStr, value: Value) -> bool {
        // SAFETY: as in `get`.
        unsafe {
            let cap = (*this).cap as usize;
            let mask = cap - 1;
            let e = ObjTable::entries(this);
            #[allow(clippy::cast_possible_truncation)] // masked below `cap`
            let mut i = (*key).hash as usize & mask;
            for _ in 0..cap {
                let entry = &mut *e.add(i);
                if entry.key == key {
                    entry.value = value;
                    return true;
                }
                if entry.key.is_null() {
                    if !ObjTable::fits((*this).len as usize + 1, cap) {
                        return false;
                    }
                    entry.key = key;
                    entry.value = value;
                    (*this).len += 1;
                    return true;
                }
                i = (i + 1) & mask;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of 4 entries takes a fourth key (three would be 3/4 full);
    /// a fifth is refused, and a lookup in the full table ends.
    #[test]
    fn a_table_of_four_fills_and_then_asks_to_grow() {
        // All keys hash to the same entry: the worst probe.
        let keys: Vec<ObjStr> = (0..5).map(|_| ObjStr { len: 0, hash: 7 }).collect();
        let k = |i: usize| &raw const keys[i];
        let mut block = vec![0u64; ObjTable::size(4) / 8];
        let t = block.as_mut_ptr().cast::<ObjTable>();
        // SAFETY: `block` is 8-aligned and holds a head and 4 entries.
        unsafe {
            t.write(ObjTable { len: 0, cap: 4 });
            ObjTable::clear(t);
            for i in 0..4 {
                assert!(ObjTable::set(t, k(i), Value::number(i as f64)));
            }
            assert!(ObjTable::set(t, k(2), Value::TRUE), "an update fits");
            assert!(!ObjTable::set(t, k(4), Value::NIL), "a fifth key does not");
            assert_eq!((*t).len, 4);
            assert_eq!(ObjTable::get(t, k(3)).and_then(Value::as_number), Some(3.0));
            assert_eq!(ObjTable::get(t, k(2)).and_then(Value::as_bool), Some(true));
            assert!(ObjTable::get(t, k(4)).is_none());
        }
        // Past 4 entries, 3/4 is the limit.
        assert!(ObjTable::fits(6, 8) && !ObjTable::fits(7, 8) && ObjTable::fits(4, 4));
    }
}
