//! Compiles the C test suite of the C ABI (suite.c) with the cc crate;
//! tests/c_suite.rs links it and runs it.

fn main() {
    println!("cargo:rerun-if-changed=suite.c");
    println!("cargo:rerun-if-changed=../include/morph_runtime.h");
    cc::Build::new()
        .file("suite.c")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Werror")
        .flag_if_supported("-std=c99")
        .compile("morph_c_suite");
}
