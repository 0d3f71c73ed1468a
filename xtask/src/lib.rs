//! Generation of the committed `completions/` and `man/` from the clap definitions of every `mq` command,
//! and the check that they are up to date (`cargo xtask gen`, `cargo xtask check`, and a test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Renders every generated file: relative path → contents.
pub fn render() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (stem, cmd) in mq::documented_commands() {
        for (name, page_cmd) in pages(stem, &cmd) {
            let mut page = Vec::new();
            clap_mangen::Man::new(page_cmd).render(&mut page).expect("rendering to memory cannot fail");
            files.insert(PathBuf::from(format!("man/{name}.1")), page);
        }
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
            if shell == Shell::Bash {
                out = bash_host_names(&cmd, out);
            }
            files.insert(PathBuf::from(format!("completions/{name}")), out);
        }
    }
    files
}

/// clap_complete's bash script completes every value without possible values as a file name; options
/// whose value is a host name (`-h`, `-A`) complete host names instead, as the zsh and fish scripts do.
fn bash_host_names(cmd: &clap::Command, script: Vec<u8>) -> Vec<u8> {
    fn spellings(cmd: &clap::Command, host: bool, out: &mut Vec<String>) {
        for a in cmd.get_arguments().filter(|a| a.get_action().takes_values() && !a.is_positional()) {
            if (a.get_value_hint() == clap::ValueHint::Hostname) == host {
                out.extend(a.get_short().map(|c| format!("-{c})")));
                out.extend(a.get_long().map(|l| format!("--{l})")));
            }
        }
        for sub in cmd.get_subcommands() {
            spellings(sub, host, out);
        }
    }
    let (mut hosts, mut others) = (Vec::new(), Vec::new());
    spellings(cmd, true, &mut hosts);
    spellings(cmd, false, &mut others);
    // The script's case labels do not say which subcommand they belong to: a spelling that is a host
    // name in one and something else in another could not be told apart.
    assert!(!hosts.iter().any(|h| others.contains(h)), "{:?} is a host name option and another option", hosts);
    let text = String::from_utf8(script).expect("clap_complete writes UTF-8");
    let file = "COMPREPLY=($(compgen -f \"${cur}\"))";
    let host = "COMPREPLY=($(compgen -A hostname -- \"${cur}\"))";
    let mut out = String::with_capacity(text.len());
    let mut in_host_case = false;
    for line in text.split_inclusive('\n') {
        if in_host_case && line.trim() == file {
            out.push_str(&line.replace(file, host));
        } else {
            out.push_str(line);
        }
        in_host_case = hosts.iter().any(|h| line.trim() == h);
    }
    out.into_bytes()
}

/// The man pages of one documented command: its own, and one per subcommand for `mq bench` and `mq db`
/// (`mq`'s subcommands are the standalone commands, with pages of their own). Clap's `help` subcommand
/// gets no page and is not listed (`--help` is). Each synopsis names the options' values.
fn pages(stem: &str, cmd: &clap::Command) -> Vec<(String, clap::Command)> {
    let cmd = cmd.clone().disable_help_subcommand(true);
    let mut out = Vec::new();
    if stem != "mq" {
        let bin = cmd.get_bin_name().unwrap_or(stem).to_owned();
        for sub in cmd.get_subcommands() {
            let name = format!("{stem}-{}", sub.get_name());
            // Clap names are `&'static str` without its `string` feature; xtask runs once and exits.
            let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
            let mut sub = sub.clone().name(static_name).bin_name(format!("{bin} {}", sub.get_name()));
            // Detached from its parent, it would get clap's own -h/--help and -V/--version besides the
            // ones it defines (-h is the host, -V the protocol version).
            let has = |sub: &clap::Command, short: char, long: &str| {
                sub.get_arguments().any(|a| a.get_short() == Some(short) || a.get_long() == Some(long))
            };
            if has(&sub, 'h', "help") {
                sub = sub.disable_help_flag(true);
            }
            if has(&sub, 'V', "version") {
                sub = sub.disable_version_flag(true);
            }
            out.push((name, with_synopsis(sub)));
        }
    }
    out.insert(0, (stem.to_owned(), with_synopsis(cmd)));
    out
}

/// `cmd` with a synopsis that shows each option with its value (`[-C count]`), positionals and the
/// subcommand slot, in definition order.
fn with_synopsis(cmd: clap::Command) -> clap::Command {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_owned();
    let mut parts = vec![name];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => continue,
        };
        let takes = arg.get_action().takes_values();
        let value = if takes {
            let names: Vec<String> = arg.get_value_names().map_or_else(
                || vec![arg.get_id().as_str().to_lowercase()],
                |v| v.iter().map(|n| n.as_str().to_lowercase()).collect(),
            );
            format!(" {}", names.join(" "))
        } else {
            String::new()
        };
        let text = format!("{flag}{value}");
        parts.push(if arg.is_required_set() { text } else { format!("[{text}]") });
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let n = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| arg.get_id().as_str().to_lowercase(), |n| n.as_str().to_lowercase());
        parts.push(if arg.is_required_set() { n } else { format!("[{n}]") });
    }
    if cmd.has_subcommands() {
        parts.push("<command>".to_owned());
    }
    let usage = parts.join(" ");
    cmd.override_usage(usage)
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
