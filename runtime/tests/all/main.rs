//! Integration tests of morph-runtime, built as one binary.

mod context;
mod fragmentation;
mod model;
mod reuse;
mod torture;
mod util;
