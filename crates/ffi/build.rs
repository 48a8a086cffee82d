//! Writes `include/fugato.h` from the crate's `extern "C"` items with cbindgen (settings in
//! `cbindgen.toml`), so the header a C program includes is always the ABI built here.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("crates/ffi/cbindgen.toml reads");
    let bindings = cbindgen::generate_with_config(&dir, config).expect("cbindgen reads crates/ffi/src");
    // Written only when it changed, so an unchanged header keeps its time.
    bindings.write_to_file(format!("{dir}/include/fugato.h"));
}
