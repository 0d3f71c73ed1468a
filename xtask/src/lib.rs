//! Generation of the committed `completions/` and `man/` from the clap definitions of every `mq` command,
//! and the check that they are up to date (`cargo xtask gen`, `cargo xtask check`, and a test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Renders every generated file: relative path → contents.
pub fn render() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (stem, cmd) in mq::documented_commands() {
        let mut page = Vec::new();
        // Only this command's page: subcommands of `mq` have their own (standalone) pages.
        clap_mangen::Man::new(cmd.clone()).render(&mut page).expect("rendering to memory cannot fail");
        let section = "1";
        files.insert(PathBuf::from(format!("man/{stem}.{section}")), page);
        if stem == "mq-broker" || stem == "mq-bench" || stem == "mq-db" {
            // Completions come with `mq`'s own (`mq broker ...`).
            continue;
        }
        for (shell, name) in [
            (Shell::Bash, format!("{stem}.bash")),
            (Shell::Zsh, format!("_{stem}")),
            (Shell::Fish, format!("{stem}.fish")),
        ] {
            let mut out = Vec::new();
            let mut c = cmd.clone();
            clap_complete::generate(shell, &mut c, stem, &mut out);
            files.insert(PathBuf::from(format!("completions/{name}")), out);
        }
    }
    files
}

/// Writes the generated files under `root`.
pub fn write(root: &Path) -> std::io::Result<()> {
    for (rel, data) in render() {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, data)?;
    }
    Ok(())
}

/// Paths under `root` whose contents differ from what would be generated (missing files included).
pub fn stale(root: &Path) -> Vec<PathBuf> {
    render()
        .into_iter()
        .filter(|(rel, data)| std::fs::read(root.join(rel)).ok().as_ref() != Some(data))
        .map(|(rel, _)| rel)
        .collect()
}
