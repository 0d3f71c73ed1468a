//! Source locations: where in which file a value was written.
//!
//! Every value read from a configuration file keeps the file and line it came
//! from, so that checks run after parsing (unsupported features, reload
//! reports) can still point at the exact line.

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A line in a configuration file: `path:line`.
///
/// `line` counts from 1. Line 0 means "the file as a whole" (for example when
/// the file cannot be read); [`fmt::Display`] then prints only the path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file, as it was named: the path given to [`crate::load`], or the
    /// `include_dir` directory joined with the included file name.
    pub path: PathBuf,
    /// 1-based line number; 0 for the whole file.
    pub line: u32,
}

impl Span {
    /// A span for `line` of `path`.
    pub fn new(path: impl Into<PathBuf>, line: u32) -> Self {
        Self { path: path.into(), line }
    }

    /// The file this span points into.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}", self.path.display(), self.line)
        }
    }
}

/// A configuration value together with the line that set it.
///
/// `span` is `None` when the value is a built-in default (or was produced by
/// [`crate::Config::local_only`] / [`crate::Config::apply_cli_ports`]).
///
/// Equality compares **only the value**: the span is metadata. This lets a
/// reload compare an old and a new configuration without reporting every
/// option as "changed" because a comment moved it down one line.
#[derive(Debug, Clone, Default)]
pub struct Setting<T> {
    /// The value the broker acts on.
    pub value: T,
    /// Where it was set, `None` for a default.
    pub span: Option<Span>,
}

impl<T> Setting<T> {
    /// A built-in default (no source line).
    pub const fn default_value(value: T) -> Self {
        Self { value, span: None }
    }

    /// A value read from `span`.
    pub fn at(value: T, span: Span) -> Self {
        Self { value, span: Some(span) }
    }

    /// True when the value was written in a configuration file.
    pub fn is_set(&self) -> bool {
        self.span.is_some()
    }
}

impl<T: PartialEq> PartialEq for Setting<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Setting<T> {}

impl<T> Deref for Setting<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}
