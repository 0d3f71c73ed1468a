//! The committed man pages and completions match the clap definitions: change a flag or its help text
//! without `cargo xtask gen` and this fails.

#[test]
fn completions_and_man_pages_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let stale = xtask::stale(&root);
    assert!(stale.is_empty(), "stale generated files {stale:?}: run `cargo xtask gen`");
}
