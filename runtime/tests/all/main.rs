//! Integration tests of morph-runtime, built as one binary.

mod collections;
mod context;
mod fragmentation;
mod model;
mod reuse;
mod torture;
mod util;
