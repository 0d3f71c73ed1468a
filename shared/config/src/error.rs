//! Errors and warnings, each tied to a `path:line`.
//!
//! Parsing collects every problem instead of stopping at the first one, so a
//! user fixes a broken file in one round. Errors make the configuration
//! unusable; warnings (removed or deprecated options, values set twice) are
//! returned next to a usable [`crate::Config`].

use std::fmt;
use std::path::PathBuf;

use crate::span::Span;

/// One problem in a configuration file, printed as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", Span::new(.path.clone(), *.line))]
pub struct ConfigError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: u32,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// An error at `span`.
    pub fn new(span: &Span, kind: ErrorKind) -> Self {
        Self { path: span.path.clone(), line: span.line, kind }
    }

    /// Where the error is.
    pub fn span(&self) -> Span {
        Span::new(self.path.clone(), self.line)
    }
}

/// Why a line was placed where it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misplacement {
    /// A listener option outside any `listener` section, with no legacy
    /// default listener (`port`/`bind_address`) to attach it to.
    NeedsListener,
    /// A security option while `per_listener_settings true`, outside any
    /// listener section and with no legacy default listener.
    NeedsListenerPerListener,
    /// A listener (or per-listener security) option inside a bridge section.
    InBridge {
        /// The bridge whose section the line is in.
        bridge: String,
    },
    /// A bridge option outside a `connection` section.
    NeedsBridge,
    /// `port`/`bind_address` inside a listener or bridge section.
    DefaultListenerOnly,
    /// A plugin option with no `plugin` line before it in the same section.
    NeedsPlugin,
    /// `include_dir` in a file that was itself included.
    IncludedFile,
    /// An option that makes no sense for a Unix socket listener.
    UnixSocket,
}

impl fmt::Display for Misplacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NeedsListener => f.write_str(
                "is a listener option and no listener section is open; here it only applies to the \
                 default listener, which nothing in this configuration opens (Mosquitto ignores it): \
                 put it after a \"listener <port>\" line (or set \"port\" to configure the default listener)",
            ),
            Self::NeedsListenerPerListener => f.write_str(
                "applies per listener (per_listener_settings is true) and no listener section \
                 is open; here it only applies to the default listener, which nothing in this \
                 configuration opens (Mosquitto ignores it): put it after a \"listener <port>\" line",
            ),
            Self::InBridge { bridge } => write!(
                f,
                "is a listener option but follows \"connection {bridge}\": put it after a \
                 \"listener <port>\" line"
            ),
            Self::NeedsBridge => f.write_str("is a bridge option: it must follow a \"connection <name>\" line"),
            Self::DefaultListenerOnly => f.write_str(
                "configures the legacy default listener and is only allowed before the first \
                 \"listener\" or \"connection\" line of a file (a listener section takes its \
                 port and address from its \"listener\" line)",
            ),
            Self::NeedsPlugin => f.write_str("must follow a \"plugin\" line in the same section"),
            Self::IncludedFile => f.write_str("is only allowed in the main configuration file, not in an included one"),
            Self::UnixSocket => f.write_str("does not apply to a Unix socket listener"),
        }
    }
}

/// What is wrong with a line (or a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A file or directory could not be read.
    #[error("cannot read {what}: {reason}")]
    Io {
        /// What was being read ("the file", `include_dir "/x"`).
        what: String,
        /// The operating system's explanation.
        reason: String,
    },
    /// The line is not UTF-8 (Mosquitto rejects malformed UTF-8 in values too).
    #[error("the line is not valid UTF-8")]
    NotUtf8,
    /// The option name is not a Mosquitto 2.0 option.
    #[error("unknown option \"{name}\"{}", suggestion_text(.suggestion))]
    UnknownOption {
        /// The name as written.
        name: String,
        /// A known option with a similar name, if any.
        suggestion: Option<String>,
    },
    /// An option that only exists in Mosquitto 2.1 and later.
    #[error("\"{name}\" is a Mosquitto 2.1 option; mq reads Mosquitto 2.0 configurations")]
    NewerOption {
        /// The name as written.
        name: String,
    },
    /// The option has no value.
    #[error("{option} needs a value: {expected}")]
    MissingValue {
        /// The option name.
        option: String,
        /// What kind of value it takes.
        expected: String,
    },
    /// The value cannot be read as what the option takes.
    #[error("invalid {option} value \"{value}\": expected {expected}")]
    InvalidValue {
        /// The option name.
        option: String,
        /// The value as written.
        value: String,
        /// What kind of value it takes.
        expected: String,
    },
    /// A number below the option's minimum.
    #[error("{option} {value} is below the minimum of {min}")]
    BelowMinimum {
        /// The option name.
        option: String,
        /// The number as written.
        value: String,
        /// The smallest accepted value.
        min: i64,
    },
    /// A number above the option's maximum.
    #[error("{option} {value} is above the maximum of {max}")]
    AboveMaximum {
        /// The option name.
        option: String,
        /// The number as written.
        value: String,
        /// The largest accepted value.
        max: i64,
    },
    /// Extra words after a value that takes a fixed number of words.
    #[error(
        "unexpected \"{text}\" after the {option} value (a comment must start with \"#\" and be \
         separated from the value by a space)"
    )]
    UnexpectedText {
        /// The option name.
        option: String,
        /// The rest of the line.
        text: String,
    },
    /// A single-valued option given twice where the second cannot silently win.
    #[error("{option} is set twice (first at {first}); give it once{}", note_text(.note))]
    Duplicate {
        /// The option name.
        option: String,
        /// The first line that set it.
        first: Span,
        /// An explanation when the repetition is a likely misunderstanding.
        note: Option<&'static str>,
    },
    /// An option in a section where it does not apply.
    #[error("{option} {reason}")]
    Misplaced {
        /// The option name.
        option: String,
        /// Why it cannot be used here.
        reason: Misplacement,
    },
    /// `per_listener_settings true` after a security option already applied globally.
    #[error(
        "per_listener_settings true must come before every security option, but {option} is \
         already set at {first}"
    )]
    PerListenerSettingsTooLate {
        /// The earlier security option.
        option: String,
        /// Where it is.
        first: Span,
    },
    /// `per_listener_settings false` after `per_listener_settings true`.
    #[error("per_listener_settings cannot be switched off: it is set to true at {first}")]
    PerListenerSettingsConflict {
        /// The line that set it to true.
        first: Span,
    },
    /// Two listeners on the same port and address (or socket path).
    #[error("{listener} is defined twice (first at {first}); the second one could not be opened")]
    DuplicateListener {
        /// The listener, e.g. `listener 1883 127.0.0.1`.
        listener: String,
        /// The first definition.
        first: Span,
    },
    /// Two bridges with the same name.
    #[error("bridge \"{name}\" is defined twice (first at {first})")]
    DuplicateBridge {
        /// The bridge name.
        name: String,
        /// The first definition.
        first: Span,
    },
    /// Two options that exclude each other in one listener or bridge.
    #[error("{option} cannot be combined with {other} (at {other_at}): {reason}")]
    Conflict {
        /// The option on this line.
        option: String,
        /// The option it conflicts with.
        other: String,
        /// Where that one is.
        other_at: Span,
        /// Why they exclude each other.
        reason: String,
    },
    /// An option that needs another one that is missing.
    #[error("{option} requires {needs}")]
    Requires {
        /// The option on this line.
        option: String,
        /// What is missing.
        needs: String,
    },
    /// A value that is well-formed but not acceptable, with the reason.
    #[error("{option}: {reason}")]
    Invalid {
        /// The option name.
        option: String,
        /// Why the value is refused.
        reason: String,
    },
    /// Parsed and valid, but the broker does not implement it yet
    /// (reported by [`crate::Config::check_supported`]).
    #[error("{option}: {message}")]
    Unsupported {
        /// The option name.
        option: String,
        /// e.g. "TLS listeners are not supported yet".
        message: String,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean \"{s}\"?)"),
        None => String::new(),
    }
}

/// Every error found in a configuration, in file order.
///
/// Display prints one `path:line: message` per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in the order the lines were read.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no errors (never the case for a returned `Err`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Something worth telling the user that does not stop the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u32,
    /// What it is about.
    pub kind: WarningKind,
}

impl Warning {
    /// A warning at `span`.
    pub fn new(span: &Span, kind: WarningKind) -> Self {
        Self { path: span.path.clone(), line: span.line, kind }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", Span::new(self.path.clone(), self.line), self.kind)
    }
}

/// The kinds of warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    /// An option Mosquitto no longer has; the line is ignored.
    #[error("{option} is no longer supported ({note}); the line is ignored")]
    Removed {
        /// The option name.
        option: String,
        /// Since when / why.
        note: &'static str,
    },
    /// An option that still works but is deprecated.
    #[error("{option} is deprecated: {advice}")]
    Deprecated {
        /// The option name.
        option: String,
        /// What to use instead.
        advice: &'static str,
    },
    /// A single-valued option set a second time; the later value wins.
    #[error("{option} is set again (first at {first}); the last value wins{}", note_text(.note))]
    SetAgain {
        /// The option name.
        option: String,
        /// The earlier line.
        first: Span,
        /// An explanation when the repetition is a likely mistake.
        note: Option<&'static str>,
    },
    /// A listener option outside any listener section, in a configuration
    /// with listener sections, opens the default listener (port 1883 on
    /// every interface), as in Mosquitto.
    #[error(
        "{option} outside any listener section opens the default listener on port 1883 on every \
         interface, as in Mosquitto, and applies to it (put it after a \"listener <port>\" line if \
         it was meant for that listener)"
    )]
    OpensDefaultListener {
        /// The option name.
        option: String,
    },
    /// A free-text value that contains ` #`, which Mosquitto also keeps as
    /// part of the value.
    #[error(
        "the {option} value \"{value}\" contains \" #\": it is kept as part of the value (a \
         comment must be on a line of its own)"
    )]
    HashInValue {
        /// The option name.
        option: String,
        /// The whole value.
        value: String,
    },
}

fn note_text(note: &Option<&'static str>) -> String {
    match note {
        Some(n) => format!(" ({n})"),
        None => String::new(),
    }
}
