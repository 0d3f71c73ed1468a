//! Exit statuses and error messages of runtime failures.
//!
//! Libraries return typed errors; the binaries turn them into a [`Failure`] (the text to print, if any,
//! and the exit status) and call [`finish`]. Keeping the printing here means `--quiet` and broken pipes
//! are handled the same way by every tool.

use std::io;
use std::process::ExitCode;

/// What a failed run prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Lines for stderr (each printed with a trailing newline); empty for a silent exit.
    pub lines: Vec<String>,
    /// The exit status.
    pub code: u8,
    /// Text for stdout (the usage, for `--help` and some usage errors).
    pub stdout: Option<String>,
    /// Print even with `--quiet` (usage errors: Mosquitto's `--quiet` only silences runtime errors).
    pub always: bool,
}

impl Failure {
    /// A failure that prints `lines` and exits with `code`.
    pub fn new(code: u8, lines: impl IntoIterator<Item = String>) -> Self {
        Failure { lines: lines.into_iter().collect(), code, stdout: None, always: false }
    }

    /// A failure that prints one line.
    pub fn line(code: u8, line: impl Into<String>) -> Self {
        Failure::new(code, [line.into()])
    }

    /// An exit with `code` and nothing printed.
    pub fn silent(code: u8) -> Self {
        Failure::new(code, [])
    }
}

/// Prints the failure (unless `quiet`) and returns the exit status; `Ok` is status `code`.
///
/// `quiet` is Mosquitto's `--quiet`: it silences runtime errors, not usage errors (those never get here).
pub fn finish(result: Result<u8, Failure>, quiet: bool) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            use std::io::Write as _;
            if let Some(text) = &f.stdout {
                let mut out = io::stdout().lock();
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
            if !quiet || f.always {
                let mut err = io::stderr().lock();
                for line in &f.lines {
                    // Nothing sensible is left to do if stderr itself is gone.
                    let _ = writeln!(err, "{line}");
                }
            }
            ExitCode::from(f.code)
        }
    }
}

/// Whether an I/O error means the reader of our output went away (`mq-sub ... | head`): such a run ends
/// quietly with status 0, as `mosquitto_sub` does.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_recognised() {
        assert!(is_broken_pipe(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_broken_pipe(&io::Error::from(io::ErrorKind::ConnectionReset)));
    }

    #[test]
    fn failure_constructors() {
        assert_eq!(Failure::line(5, "x").lines, ["x"]);
        assert!(Failure::silent(0).lines.is_empty());
    }
}
