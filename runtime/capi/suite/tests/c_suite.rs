//! Runs the C test suite (suite.c) against the C ABI: lifecycle,
//! allocation, capacity, reset, reuse, large objects, alignment, out of
//! memory, statistics, NULL handles and misuse. .ci/run also runs this binary
//! under `valgrind --error-exitcode=1`.

#[test]
fn c_suite_passes() {
    assert_eq!(
        morph_capi_suite::run(),
        0,
        "failed checks in suite.c (printed above)"
    );
}
