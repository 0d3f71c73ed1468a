//! The committed man pages and completions match the clap definitions: change a flag or its help text
//! without `cargo xtask gen` and this fails.

#[test]
fn completions_and_man_pages_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let stale = xtask::stale(&root);
    assert!(stale.is_empty(), "stale generated files {stale:?}: run `cargo xtask gen`");
}

/// Every page a man page refers to (`name(1)`) is one of ours, and no synopsis has an option without
/// its value (`[-C ]`, what the generator wrote before).
#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let files = xtask::render();
    let pages: Vec<String> = files
        .keys()
        .filter_map(|p| p.strip_prefix("man").ok())
        .filter_map(|p| p.to_str().map(|s| s.trim_end_matches(".1").to_owned()))
        .collect();
    assert!(pages.iter().any(|p| p == "mq-bench-conn"), "subcommand pages generated: {pages:?}");
    for (path, data) in files.iter().filter(|(p, _)| p.starts_with("man")) {
        let text = String::from_utf8_lossy(data).replace("\\-", "-");
        for (i, _) in text.match_indices("(1)") {
            let name: String = text[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(pages.contains(&name), "{} refers to {name}(1), which is not generated", path.display());
        }
        let synopsis = text.split(".SH SYNOPSIS").nth(1).and_then(|s| s.split(".SH").next()).unwrap_or("");
        assert!(!synopsis.contains(" ]") && !synopsis.contains("\\fR]"), "{}: {synopsis}", path.display());
    }
}
