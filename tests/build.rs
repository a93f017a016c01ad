//! Compiles the C test suite of the C ABI (tests/c/suite.c) with the cc
//! crate; tests/c_abi.rs links it and runs it.

fn main() {
    println!("cargo:rerun-if-changed=c/suite.c");
    println!("cargo:rerun-if-changed=../runtime/include/morph_runtime.h");
    cc::Build::new()
        .file("c/suite.c")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Werror")
        .flag_if_supported("-std=c99")
        .compile("morph_c_suite");
}
