//! Error types: format-string validation errors and per-message write errors.

use std::io;

/// A `-F` format string was rejected at startup.
///
/// The [`Display`](std::fmt::Display) text is the exact line mosquitto_sub prints (without the
/// trailing newline). mosquitto_sub prints the offending byte raw, which may not be valid UTF-8
/// (e.g. the first byte of a multi-byte character after `%`): [`FormatError::to_bytes`] returns
/// those exact bytes, while `Display` shows such a byte as U+FFFD.
///
/// After printing the message mosquitto_sub prints an empty line, `Use 'mosquitto_sub --help' to
/// see usage.` and exits with status 1; that part belongs to the command-line front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A `%` (with optional flags, width and precision) or an `@` ends the string.
    #[error("Error: Incomplete format specifier.")]
    IncompleteSpecifier,
    /// `%` is followed by a byte that names no field (e.g. `%e`).
    #[error("Error: Invalid format specifier '{}'.", display_byte(*.0))]
    InvalidSpecifier(u8),
    /// A `\` ends the string.
    #[error("Error: Incomplete escape specifier.")]
    IncompleteEscape,
    /// `\` is followed by a byte that is not one of `\ 0 a e n r t v`.
    #[error("Error: Invalid escape specifier '{}'.", display_byte(*.0))]
    InvalidEscape(u8),
}

impl FormatError {
    /// The exact bytes mosquitto_sub writes to stderr for this error, without the newline.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        match *self {
            Self::InvalidSpecifier(b) => quoted(b"Error: Invalid format specifier '", b),
            Self::InvalidEscape(b) => quoted(b"Error: Invalid escape specifier '", b),
            Self::IncompleteSpecifier | Self::IncompleteEscape => self.to_string().into_bytes(),
        }
    }
}

fn quoted(prefix: &[u8], b: u8) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.push(b);
    v.extend_from_slice(b"'.");
    v
}

/// ASCII bytes show as themselves; a lone byte of a multi-byte sequence cannot be shown in a
/// `String`, so it becomes U+FFFD (use [`FormatError::to_bytes`] for the raw byte).
fn display_byte(b: u8) -> char {
    if b.is_ascii() { char::from(b) } else { char::REPLACEMENT_CHARACTER }
}

/// Writing one message failed, or part of its output could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output sink failed (e.g. a closed pipe).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// `%J` was used and the payload is not valid JSON (by cJSON's rules, which mosquitto_sub
    /// uses). Like mosquitto_sub, everything else in the format, including the end-of-line, has
    /// already been written; only the `%J` field itself produced nothing.
    ///
    /// The caller prints the `Display` text plus a newline to stderr (unless quiet), once per
    /// `%J` that failed: mosquitto_sub reports each occurrence, so `occurrences` tells how many
    /// lines it would print.
    #[error("Error: Message payload is not valid JSON on topic {topic}.")]
    InvalidJson {
        /// The message topic, as printed in the error line.
        topic: String,
        /// How many `%J` fields in the format failed (at least 1).
        occurrences: usize,
    },
}
