//! The bytecode VM (being built; `run` still uses the tree-walker in
//! [`crate::interp`]).
//!
//! - [`value`]: 8-byte NaN-boxed values whose object references keep their
//!   pointer's provenance.
//! - [`chunk`]: bytecode with constants and a line table; operands wide
//!   enough that no per-function limit (constants, locals, jump distance)
//!   is met in practice.

pub mod chunk;
pub mod value;
