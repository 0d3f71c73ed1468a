//! Default options from a per-tool file, in Mosquitto's syntax.
//!
//! `mosquitto_pub` reads `$XDG_CONFIG_HOME/mosquitto_pub` (else `$HOME/.config/mosquitto_pub`); our tools
//! read `$XDG_CONFIG_HOME/<tool>` (else `$HOME/.config/<tool>`), e.g. `~/.config/mq-pub`. Syntax, as
//! Mosquitto's: one option per line, split at the first space into the option and its value (the value
//! may contain spaces and is taken verbatim); lines starting with `#` and empty lines are skipped.
//! `-D`/`--property` lines are the exception: their three or four words are split, since one value
//! could not hold them.
//!
//! The file's arguments go in front of the command line's, so for single-valued options the command line
//! wins (the parser lets a later occurrence override an earlier one) and repeatable options such as
//! `mq-sub -t` add up, exactly as with Mosquitto.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};

/// Where `tool`'s options file lives, from the given `XDG_CONFIG_HOME` and `HOME` values.
pub fn path_from(tool: &str, xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG base directory spec says an empty value counts as unset.
    match xdg_config_home.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join(tool)),
        None => home.filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config").join(tool)),
    }
}

/// Where `tool`'s options file lives for this process.
pub fn path(tool: &str) -> Option<PathBuf> {
    path_from(tool, std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"))
}

/// Splits the text of an options file into arguments.
pub fn parse(text: &[u8]) -> Vec<OsString> {
    let mut args = Vec::new();
    for raw in text.split(|&b| b == b'\n') {
        let line = trim_end_newline(raw);
        if line.first() == Some(&b'#') {
            continue;
        }
        // Leading spaces are skipped, as strtok() does in Mosquitto.
        let line = trim_start_spaces(line);
        if line.is_empty() {
            continue;
        }
        let (option, value) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], Some(trim_start_spaces(&line[i + 1..]))),
            None => (line, None),
        };
        args.push(OsString::from_vec(option.to_vec()));
        match value {
            Some(v) if option == b"-D" || option == b"--property" => {
                args.extend(
                    v.split(|b| b.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                        .map(|w| OsString::from_vec(w.to_vec())),
                );
            }
            Some(v) if !v.is_empty() => args.push(OsString::from_vec(v.to_vec())),
            _ => {}
        }
    }
    args
}

fn trim_end_newline(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = line {
        line = rest;
    }
    line
}

fn trim_start_spaces(mut line: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = line {
        line = rest;
    }
    line
}

/// Reads the options file at `path`; a missing file gives no arguments.
pub fn read(path: &Path) -> io::Result<Vec<OsString>> {
    match std::fs::read(path) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// `argv` with the options file's arguments inserted after the program name.
pub fn prepend(file_args: Vec<OsString>, argv: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut argv = argv.into_iter();
    let mut out: Vec<OsString> = argv.next().into_iter().collect();
    out.extend(file_args);
    out.extend(argv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn mosquitto_syntax() {
        let text =
            b"# defaults\n-h broker.example\r\n\n-p 1884\n  -d\n-m hello world\n-D publish user-property k v\n#-q 2\n";
        assert_eq!(
            strings(parse(text)),
            [
                "-h",
                "broker.example",
                "-p",
                "1884",
                "-d",
                "-m",
                "hello world",
                "-D",
                "publish",
                "user-property",
                "k",
                "v"
            ]
        );
    }

    #[test]
    fn last_line_without_newline() {
        assert_eq!(strings(parse(b"-t a/b")), ["-t", "a/b"]);
    }

    #[test]
    fn location_follows_xdg_then_home() {
        let p = path_from("mq-pub", Some("/x".into()), Some("/h".into()));
        assert_eq!(p, Some(PathBuf::from("/x/mq-pub")));
        let p = path_from("mq-pub", Some("".into()), Some("/h".into()));
        assert_eq!(p, Some(PathBuf::from("/h/.config/mq-pub")));
        assert_eq!(path_from("mq-pub", None, None), None);
    }

    #[test]
    fn prepend_keeps_program_name_first() {
        let argv = ["mq-sub", "-t", "b"].map(OsString::from);
        let out = prepend(vec!["-t".into(), "a".into()], argv);
        assert_eq!(strings(out), ["mq-sub", "-t", "a", "-t", "b"]);
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("nope")).unwrap().is_empty());
        std::fs::write(dir.path().join("yes"), "-q 1\n").unwrap();
        assert_eq!(strings(read(&dir.path().join("yes")).unwrap()), ["-q", "1"]);
    }
}
