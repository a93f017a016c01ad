//! The C ABI's test suite (`suite.c`, compiled by `build.rs`), callable from
//! Rust so that `cargo test` runs it and CI can run the same binary under
//! valgrind.

// The C ABI's symbols come from this crate's dependency; naming it keeps
// the linker from dropping it.
use morph_capi as _;

unsafe extern "C" {
    /// The C test suite: returns the number of failed checks.
    fn morph_c_suite() -> std::ffi::c_int;
}

/// Runs the C test suite of the C ABI; the number of failed checks (each is
/// printed on stderr).
///
/// ```
/// assert_eq!(morph_capi_suite::run(), 0);
/// ```
pub fn run() -> i32 {
    // SAFETY: the suite only calls the C ABI, which accepts any input.
    unsafe { morph_c_suite() }
}
