//! Mosquitto-compatible password files: hashing, parsing, verification and the mq-passwd tool.
//!
//! * [`hash`](mod@hash): the `$6$`, `$7$` and `$argon2id$` hash formats ([`PasswordHash`]).
//! * [`file`](mod@file): password files ([`PasswordFile`]): strict parsing with `path:line:` errors
//!   for editing, the broker's lenient reading (bad lines skipped and reported), verification,
//!   comment-preserving edits.
//! * [`cli`]: the `mq-passwd` tool ([`cli::PasswdArgs`], [`cli::run`], its [`mq_cli::Report`] mapping), also
//!   used as the `mq passwd` subcommand.
//! * [`atomic`]: crash-safe replacement of a file (temporary file, fsync, rename).
//! * [`lock`]: one editor at a time (`flock` on the file, held from reading it to replacing it).
//!
//! A broker loads a file with [`PasswordFile::load_lenient`] and checks a login with
//! [`PasswordFile::verify`] (on a blocking thread: argon2id entries take ~100 ms).

pub mod atomic;
pub mod cli;
pub mod file;
pub mod hash;
pub mod lock;

pub use file::{LineError, LineErrorKind, LoadError, ParseError, PasswordFile};
pub use hash::{HashAlgorithm, HashError, HashParams, PasswordHash};
