//! Integration tests of morph-runtime, built as one binary.

mod collections;
mod context;
mod debug;
mod fragmentation;
mod model;
mod reuse;
mod shared;
mod shared_model;
mod slabs;
mod torture;
mod util;
