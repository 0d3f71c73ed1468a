//! Conventions shared by the mq binaries, so `mq-pub`, `mq-sub`, `mq-rr` and their `mq pub|sub|rr`
//! spellings behave alike, and every binary reports failures the same way:
//!
//! - [`options_file`]: default options read from `$XDG_CONFIG_HOME/<tool>` (or `~/.config/<tool>`) in
//!   Mosquitto's one-option-per-line syntax, prepended to the command line.
//! - [`usage`]: clap parsing with Mosquitto's conventions: `--help` prints usage and exits 1, argument
//!   errors print `Error: ...` and `Use '<tool> --help' to see usage.` and exit 1, with Mosquitto's texts
//!   for the common cases (unknown option, missing value).
//! - [`exit`]: the [`Report`] trait every library error type implements (its message and exit status),
//!   and [`finish`], the one place where a failure is printed and becomes the exit status of any `mq`
//!   binary; a closed stdout (`mq-sub ... | head`) becomes a quiet, successful exit.

pub mod exit;
pub mod options_file;
pub mod usage;

pub use exit::{Failure, Report, finish, is_broken_pipe};
pub use usage::{Completing, Tool, UsageError, parse_or_exit, try_parse};
