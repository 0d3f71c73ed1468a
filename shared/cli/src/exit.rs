//! Exit statuses and error messages of runtime failures, for every binary.
//!
//! Libraries return typed errors, and each error type says once what it prints and how the process
//! exits by implementing [`Report`]. The binaries hand their result to [`finish`], the one place that
//! prints a [`Failure`] and turns it into the exit status, so `--quiet`, usage text on stdout and broken
//! pipes are handled the same way by every tool.

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

    /// A failure that prints `text` and a newline, as `eprintln!` would (a text of several lines keeps
    /// them all, empty ones included).
    pub fn text(code: u8, text: &str) -> Self {
        Failure::new(code, text.split('\n').map(str::to_string))
    }

    /// An exit with `code` and nothing printed.
    pub fn silent(code: u8) -> Self {
        Failure::new(code, [])
    }

    /// The same failure with its stderr lines dropped unless it must always be shown (`--quiet`).
    pub fn quieted(mut self, quiet: bool) -> Self {
        if quiet && !self.always {
            self.lines.clear();
        }
        self
    }
}

/// An error that knows what it prints and the exit status it means: implemented once per error type
/// (client tools, `mq-passwd`, the broker, `mq bench`) so that every binary maps failures the same way.
pub trait Report {
    /// What the binary knows that the error does not: `()` for most; the client tools pass the name
    /// they were called by (`Use 'mq pub --help' ...`) and `--quiet`.
    type Context: ?Sized;

    /// The text to print and the exit status.
    fn failure(&self, cx: &Self::Context) -> Failure;
}

/// A failure already decided (a usage error found while parsing the command line).
impl Report for Failure {
    type Context = ();

    fn failure(&self, _: &()) -> Failure {
        self.clone()
    }
}

/// Prints the failure of `result`, if any, and returns the process exit status (0 on success).
pub fn finish<E: Report>(result: Result<(), E>, cx: &E::Context) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => print(&e.failure(cx)),
    }
}

/// Prints `f` (usage text on stdout, then the lines on stderr) and returns its exit status.
fn print(f: &Failure) -> ExitCode {
    use std::io::Write as _;
    if let Some(text) = &f.stdout {
        let mut out = io::stdout().lock();
        // A closed stdout must not turn into a panic; the exit status still tells.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    let mut err = io::stderr().lock();
    for line in &f.lines {
        // Nothing sensible is left to do if stderr itself is gone.
        let _ = writeln!(err, "{line}");
    }
    ExitCode::from(f.code)
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
        // As eprintln! prints it: every line, the empty ones too.
        assert_eq!(Failure::text(1, "a\n\nb").lines, ["a", "", "b"]);
        assert_eq!(Failure::text(1, "a\n").lines, ["a", ""]);
    }

    #[test]
    fn quiet_keeps_only_what_must_show() {
        assert!(Failure::line(1, "x").quieted(true).lines.is_empty());
        assert_eq!(Failure::line(1, "x").quieted(false).lines, ["x"]);
        let usage = Failure { always: true, ..Failure::line(1, "x") };
        assert_eq!(usage.quieted(true).lines, ["x"]);
    }
}
