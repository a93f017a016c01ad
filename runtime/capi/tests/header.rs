//! The checked-in C header matches what cbindgen generates from the code.
#![cfg(not(miri))]

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(crate_dir).join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen understands the C ABI")
        .write(&mut generated);
    let path = Path::new(crate_dir).join("include/morph_runtime.h");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/morph_runtime.h is out of date: run \
         `UPDATE_HEADER=1 cargo test -p morph-capi --test header`"
    );
}
