//! The `mq-passwd` tool: Mosquitto's `mosquitto_passwd` options, messages and exit codes.
//!
//! [`PasswdArgs`] is both a [`clap::Parser`] (the `mq-passwd` binary) and a [`clap::Args`] (to be
//! flattened into the `mq passwd` subcommand). [`run`] does the work; the [`Report`] implementation of
//! [`PasswdError`] is the one place that turns an error into the text shown and the exit status, and
//! [`mq_cli::finish`] prints it.
//!
//! Behaviour matched with `mosquitto_passwd` 2.0.11 (messages are identical):
//!
//! | Situation | Message | Exit |
//! |---|---|---|
//! | success | (nothing) | 0 |
//! | no arguments, wrong number of positionals | usage on stdout | 1 |
//! | `-c -D`, `-c -U`, `-D -U`, `-b -D` | `Error: -c and -D cannot be used together.` (etc.) | 1 |
//! | `-c`/`-D`/`-U` with too few positionals | `Error: -c argument given but password file or username missing.` (etc.) | 1 |
//! | `-H md5` | `Error: Unknown hash type 'md5'` | 1 |
//! | `-H` / `-I` without a value | `Error: -H argument given but not enough other arguments.` | 1 |
//! | `-I 0`, `-I abc` | `Error: Number of iterations must be > 0.` | 1 |
//! | username with `:` / control characters / > 65535 bytes | `Error: Username must not contain the ':' character.` (etc.) | 1 |
//! | password > 65535 bytes | `Error: Password must be less than 65536 characters long.` | 1 |
//! | empty password | `Error: Empty password.` | 1 |
//! | the two passwords differ | `Error: Passwords do not match.` | 2 |
//! | file missing without `-c` | `Error: Unable to open password file f. No such file or directory.` | 1 |
//! | `-c` in a missing directory | `Error: Unable to open file d/f for writing. No such file or directory.` | 1 |
//! | `-D` of an unknown user | `Warning: User x not found in password file.` | 1 |
//!
//! Deliberate differences, each safer or clearer than Mosquitto:
//! * `--help` exits 0 (Mosquitto prints usage and exits 1 for any unknown option, `--help`
//!   included); unknown options get clap's message, exit 1.
//! * Default hash `$7$` with [`DEFAULT_ITERATIONS`](crate::hash::DEFAULT_ITERATIONS) iterations
//!   instead of 101; still a 12-byte salt, so Mosquitto 2.0 brokers read the file.
//! * `-H argon2id` (Mosquitto 2.1's format) is available, opt-in.
//! * A corrupt file is reported line by line and left unchanged (Mosquitto 2.0.11 prints
//!   "Corrupt password file" and, when adding a user, replaces the whole file with that one user).
//!   Comments and blank lines are kept on every edit.
//! * `-U` refuses a file that already contains hashes (Mosquitto hashes the hashes, locking every
//!   user out).
//! * `-b` with an empty password is refused (Mosquitto writes a hash of the empty string).
//! * Usernames that can never log in are refused: empty, leading/trailing whitespace (the broker
//!   trims it), a leading `#` (the line would be a comment), invalid UTF-8.
//! * `-c` or `-D` with a surplus password argument prints the usage (Mosquitto ignores it).
//! * Edits are atomic (temporary file, fsync, rename; owner and mode kept). `-c` creates the file
//!   with mode 0600 whatever the umask (Mosquitto: 0644 with the usual umask), since the file
//!   holds password hashes.
//! * Edits are serialised: the file is locked from reading it to replacing it ([`crate::lock`]),
//!   so concurrent `mq-passwd` runs never lose each other's changes (Mosquitto's can). A file
//!   another process keeps locked for [`LOCK_TIMEOUT`] is an error, exit 1. Passwords are asked for
//!   and hashed before the lock is taken.

use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal as _, Write};
use std::num::NonZeroU32;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use mq_cli::{Failure, Report};

use crate::atomic::{self, AtomicWriteError, Step, os_message};
use crate::file::{ParseError, PasswordFile, UpgradeError, UsernameError, validate_username};
use crate::hash::{HashAlgorithm, HashError, PasswordHash, default_iterations};
use crate::lock::{LOCK_TIMEOUT, LockError, LockedFile};

/// Longest password accepted, as Mosquitto.
pub const MAX_PASSWORD_LEN: usize = 65_535;

/// Mode of a password file created by `-c`.
pub const NEW_FILE_MODE: u32 = 0o600;

const USAGE: &str = "\
mq-passwd [-H hash] [-I iterations] [-c | -D] passwordfile username
       mq-passwd [-H hash] [-I iterations] [-c] -b passwordfile username password
       mq-passwd [-H hash] [-I iterations] -U passwordfile";

const AFTER_HELP: &str = "\
Without -b the password is asked for twice; when standard input is not a terminal the two \
passwords are read as two lines from it (printf 'pw\\npw\\n' | mq-passwd f user).

Files are written in Mosquitto's format and replaced atomically; a new file gets mode 0600.";

/// Command-line options of `mq-passwd` (and `mq passwd`), as `mosquitto_passwd` 2.0.
///
/// Values that Mosquitto validates itself (`-H`, `-I`, positional counts) are taken as plain
/// strings here and checked in [`run`], so the error messages can be Mosquitto's.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Parser)]
#[command(
    name = "mq-passwd",
    version,
    about = "Manage password files for mq and Mosquitto brokers.",
    long_about = None,
    override_usage = USAGE,
    after_help = AFTER_HELP,
    args_override_self = true
)]
pub struct PasswdArgs {
    /// Batch mode: take the password from the command line (visible to other local users in
    /// `ps` and kept in shell history).
    #[arg(short = 'b')]
    pub batch: bool,

    /// Create a new password file, replacing an existing one.
    #[arg(short = 'c')]
    pub create: bool,

    /// Delete the user rather than adding or updating its password.
    #[arg(short = 'D')]
    pub delete: bool,

    /// Hash algorithm: sha512-pbkdf2 (default, `$7$`), sha512 (`$6$`, Mosquitto 1.6 and
    /// earlier) or argon2id (Mosquitto 2.1 with argon2 only).
    #[arg(short = 'H', value_name = "hash", num_args = 0..=1, value_parser = mq_cli::Completing::new(clap::builder::StringValueParser::new(), &["sha512-pbkdf2", "sha512", "argon2id"]), hide_possible_values = true)]
    pub hash: Option<Option<String>>,

    /// PBKDF2 iterations for sha512-pbkdf2 (default 10000; Mosquitto uses 101).
    #[arg(
        short = 'I',
        value_name = "iterations",
        num_args = 0..=1,
        allow_negative_numbers = true
    )]
    pub iterations: Option<Option<String>>,

    /// Upgrade a plain-text password file (user:password lines) to hashed passwords.
    #[arg(short = 'U')]
    pub upgrade: bool,

    /// The password file.
    #[arg(value_name = "passwordfile")]
    pub password_file: Option<PathBuf>,

    /// The username.
    #[arg(value_name = "username", allow_hyphen_values = true)]
    pub username: Option<OsString>,

    /// The password (with -b only).
    #[arg(value_name = "password", allow_hyphen_values = true)]
    pub password: Option<OsString>,
}

/// Everything that can stop `mq-passwd`. Its [`Report`] implementation maps each to its message and exit
/// status.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    /// Command-line syntax clap rejected (or `--help` / `--version`).
    #[error("{0}")]
    Clap(#[from] clap::Error),
    /// No arguments, or a combination of positionals that fits no mode: print the usage.
    #[error("usage")]
    Usage,
    /// `-H` or `-I` as the last argument.
    #[error("{0} argument given but not enough other arguments.")]
    MissingValue(&'static str),
    /// `-H` with an unknown name.
    #[error("Unknown hash type '{0}'")]
    UnknownHashType(String),
    /// `-I` not a number ≥ 1.
    #[error("Number of iterations must be > 0.")]
    BadIterations,
    /// Two options that exclude each other.
    #[error("{0} and {1} cannot be used together.")]
    Incompatible(&'static str, &'static str),
    /// Too few positionals for `-c`, `-D` or `-U`; the message names what is missing.
    #[error("{0}")]
    MissingArguments(&'static str),
    /// The username argument is not UTF-8 (MQTT usernames are UTF-8 strings).
    #[error("Username must be valid UTF-8.")]
    UsernameNotUtf8,
    /// A username that cannot be written.
    #[error(transparent)]
    Username(#[from] UsernameError),
    /// Password over 65535 bytes.
    #[error("Password must be less than 65536 characters long.")]
    PasswordTooLong,
    /// Empty password (typed, piped or `-b`).
    #[error("Empty password.")]
    EmptyPassword,
    /// The two typed passwords differ.
    #[error("Passwords do not match.")]
    PasswordsDoNotMatch,
    /// Reading the password failed.
    #[error("Unable to read password. {}.", os_message(.0))]
    PasswordRead(#[source] io::Error),
    /// The file to edit cannot be opened.
    #[error("Unable to open password file {}. {}.", .path.display(), os_message(.source))]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file to create (`-c`) cannot be created.
    #[error("Unable to open file {} for writing. {}.", .path.display(), os_message(.source))]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Replacing the file failed at a later step; it is unchanged.
    #[error("Unable to update password file {}, it is unchanged: {source}.", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Which step failed and why.
        #[source]
        source: AtomicWriteError,
    },
    /// The file to edit could not be locked against other editors; it is unchanged.
    #[error("Unable to lock password file {}: {source}.", .path.display())]
    Lock {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: LockError,
    },
    /// The file to edit has unusable lines; it is unchanged.
    #[error("Corrupt password file, not changed:\n{0}")]
    Corrupt(ParseError),
    /// `-U` on a file that is already hashed.
    #[error("{0}")]
    AlreadyHashed(UpgradeError),
    /// `-D` of a user that is not in the file.
    #[error("User {0} not found in password file.")]
    UserNotFound(String),
    /// Hashing failed (argon2id out of memory).
    #[error("Unable to hash password: {0}")]
    Hash(#[from] HashError),
}

impl From<UpgradeError> for PasswdError {
    fn from(e: UpgradeError) -> Self {
        match e {
            UpgradeError::Parse(parse) => Self::Corrupt(parse),
            hashed @ UpgradeError::AlreadyHashed { .. } => Self::AlreadyHashed(hashed),
        }
    }
}

/// The one mapping from an error to its message and exit status (Mosquitto's, see the module
/// table): 2 for mismatched passwords, 0 for `--help`/`--version`, 1 for everything else. The binaries
/// print it with [`mq_cli::finish`].
impl Report for PasswdError {
    type Context = ();

    fn failure(&self, _: &()) -> Failure {
        match self {
            PasswdError::Clap(e) => {
                let text = e.render().to_string();
                match e.kind() {
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                        Failure { stdout: Some(text), ..Failure::silent(0) }
                    }
                    // clap's text ends with a newline, which the line it is printed as adds back.
                    _ => Failure::text(1, text.strip_suffix('\n').unwrap_or(&text)),
                }
            }
            PasswdError::Usage => {
                Failure { stdout: Some(PasswdArgs::command().render_help().to_string()), ..Failure::silent(1) }
            }
            PasswdError::UserNotFound(_) => Failure::text(1, &format!("Warning: {self}")),
            PasswdError::PasswordsDoNotMatch => Failure::text(2, &format!("Error: {self}")),
            _ => Failure::text(1, &format!("Error: {self}")),
        }
    }
}

/// What the arguments ask for, after Mosquitto's checks.
#[derive(Debug)]
struct Plan {
    file: PathBuf,
    action: Action,
    algorithm: HashAlgorithm,
    iterations: NonZeroU32,
}

#[derive(Debug)]
enum Action {
    /// `-c`: new file with one user. `password` is `None` when it must be prompted for.
    Create { username: String, password: Option<Vec<u8>> },
    /// Add or update one user.
    Set { username: String, password: Option<Vec<u8>> },
    /// `-D`.
    Delete { username: String },
    /// `-U`.
    Upgrade,
}

impl Plan {
    /// Mosquitto's argument checks, in Mosquitto's order.
    fn from_args(args: PasswdArgs) -> Result<Self, PasswdError> {
        if args == PasswdArgs::default() {
            return Err(PasswdError::Usage);
        }
        let algorithm = match &args.hash {
            None => HashAlgorithm::default(),
            Some(None) => return Err(PasswdError::MissingValue("-H")),
            Some(Some(name)) => {
                HashAlgorithm::from_name(name).ok_or_else(|| PasswdError::UnknownHashType(name.clone()))?
            }
        };
        let iterations = match &args.iterations {
            None => default_iterations(),
            Some(None) => return Err(PasswdError::MissingValue("-I")),
            Some(Some(text)) => text.parse::<NonZeroU32>().map_err(|_| PasswdError::BadIterations)?,
        };
        let PasswdArgs { batch, create, delete, upgrade, password_file, username, password, .. } = args;
        if create && delete {
            return Err(PasswdError::Incompatible("-c", "-D"));
        }
        if create && upgrade {
            return Err(PasswdError::Incompatible("-c", "-U"));
        }
        if delete && upgrade {
            return Err(PasswdError::Incompatible("-D", "-U"));
        }
        if delete && batch {
            return Err(PasswdError::Incompatible("-b", "-D"));
        }

        // clap fills positionals in order, so the count says which are present.
        let given =
            usize::from(password_file.is_some()) + usize::from(username.is_some()) + usize::from(password.is_some());
        let wanted = if upgrade {
            1
        } else if batch {
            3
        } else {
            2
        };
        if given < wanted {
            return Err(match (create, delete, upgrade, batch) {
                (true, _, _, true) => {
                    PasswdError::MissingArguments("-c argument given but password file, username, or password missing.")
                }
                (true, _, _, false) => {
                    PasswdError::MissingArguments("-c argument given but password file or username missing.")
                }
                (_, true, _, _) => {
                    PasswdError::MissingArguments("-D argument given but password file or username missing.")
                }
                (_, _, true, _) => PasswdError::MissingArguments("-U argument given but password file missing."),
                _ => PasswdError::Usage,
            });
        }
        if given > wanted {
            return Err(if upgrade {
                PasswdError::MissingArguments("-U argument given but password file missing.")
            } else {
                PasswdError::Usage
            });
        }
        let Some(file) = password_file else {
            return Err(PasswdError::Usage);
        };

        let username = match username {
            Some(name) => {
                let name = name.into_string().map_err(|_| PasswdError::UsernameNotUtf8)?;
                validate_username(&name)?;
                Some(name)
            }
            None => None,
        };
        let password = match password {
            Some(p) => Some(check_password(p.into_vec())?),
            None => None,
        };

        let action = match (username, upgrade) {
            (_, true) => Action::Upgrade,
            (Some(username), false) if create => Action::Create { username, password },
            (Some(username), false) if delete => Action::Delete { username },
            (Some(username), false) => Action::Set { username, password },
            (None, false) => return Err(PasswdError::Usage),
        };
        Ok(Self { file, action, algorithm, iterations })
    }
}

fn check_password(password: Vec<u8>) -> Result<Vec<u8>, PasswdError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswdError::PasswordTooLong);
    }
    if password.is_empty() {
        return Err(PasswdError::EmptyPassword);
    }
    Ok(password)
}

/// Runs `mq-passwd` with parsed arguments.
///
/// # Errors
/// A [`PasswdError`]; give it to [`mq_cli::finish`] for the message and exit status.
pub fn run(args: PasswdArgs) -> Result<(), PasswdError> {
    let plan = Plan::from_args(args)?;
    let hash = |password: &[u8]| PasswordHash::generate(password, plan.algorithm, plan.iterations);
    match plan.action {
        Action::Create { username, password } => {
            // As Mosquitto: ask first, then create.
            let password = match password {
                Some(p) => p,
                None => prompt_new_password()?,
            };
            let mut file = PasswordFile::new();
            file.set(&username, hash(&password)?)?;
            let target = resolve(&plan.file);
            // An existing file is replaced under its lock, so an edit running meanwhile finishes
            // first (its change is then replaced as well, as -c asks) rather than lands after.
            let _lock = match LockedFile::open(&target, LOCK_TIMEOUT) {
                Ok(locked) => Some(locked),
                Err(LockError::Open(e)) if e.kind() == io::ErrorKind::NotFound => None,
                Err(LockError::Open(source)) => {
                    return Err(PasswdError::CreateFile { path: plan.file.clone(), source });
                }
                Err(source) => return Err(PasswdError::Lock { path: plan.file.clone(), source }),
            };
            atomic::replace(&target, file.to_text().as_bytes(), NEW_FILE_MODE).map_err(|e| match e.step {
                Step::CreateTemp => PasswdError::CreateFile { path: plan.file.clone(), source: e.source },
                _ => PasswdError::Write { path: plan.file.clone(), source: e },
            })
        }
        Action::Set { username, password } => {
            // As Mosquitto: open (and here also check) the file before asking for the password.
            let (target, text) = read_for_edit(&plan.file)?;
            PasswordFile::parse(&text, &plan.file).map_err(PasswdError::Corrupt)?;
            let password = match password {
                Some(p) => p,
                None => prompt_new_password()?,
            };
            let new_hash = hash(&password)?;
            // The edit itself works on the file as it is once locked: another editor may have
            // changed it since.
            let locked = lock_for_edit(&plan.file, &target)?;
            let mut file = PasswordFile::parse(&locked.contents, &plan.file).map_err(PasswdError::Corrupt)?;
            file.set(&username, new_hash)?;
            write_edit(&plan.file, &target, &file)
        }
        Action::Delete { username } => {
            let target = resolve(&plan.file);
            let locked = lock_for_edit(&plan.file, &target)?;
            let mut file = PasswordFile::parse(&locked.contents, &plan.file).map_err(PasswdError::Corrupt)?;
            if !file.remove(&username) {
                return Err(PasswdError::UserNotFound(username));
            }
            write_edit(&plan.file, &target, &file)
        }
        Action::Upgrade => {
            // Hashing every line is slow: do it unlocked, then check under the lock that the file
            // is still what was hashed (and hash again, locked, in the rare case it is not).
            let (target, text) = read_for_edit(&plan.file)?;
            let upgraded = crate::file::upgrade_plaintext(&text, &plan.file, hash)?;
            let locked = lock_for_edit(&plan.file, &target)?;
            let file = if locked.contents == text {
                upgraded
            } else {
                crate::file::upgrade_plaintext(&locked.contents, &plan.file, hash)?
            };
            write_edit(&plan.file, &target, &file)
        }
    }
}

/// Locks the file to edit and reads it (see [`crate::lock`]).
fn lock_for_edit(shown: &Path, target: &Path) -> Result<LockedFile, PasswdError> {
    LockedFile::open(target, LOCK_TIMEOUT).map_err(|e| match e {
        LockError::Open(source) => PasswdError::OpenFile { path: shown.to_owned(), source },
        source => PasswdError::Lock { path: shown.to_owned(), source },
    })
}

/// The real file behind `path` (symlinks resolved, like Mosquitto's `realpath`), so the atomic
/// rename replaces the target and not the link; `path` itself when it does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Opens the file for reading and writing, as Mosquitto does, so a file we may not change is
/// refused before any password is asked for; returns the resolved path and the contents.
fn read_for_edit(path: &Path) -> Result<(PathBuf, Vec<u8>), PasswdError> {
    let open_error = |source| PasswdError::OpenFile { path: path.to_owned(), source };
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(open_error)?;
    let mut text = Vec::new();
    io::Read::read_to_end(&mut file, &mut text).map_err(open_error)?;
    Ok((resolve(path), text))
}

fn write_edit(shown: &Path, target: &Path, file: &PasswordFile) -> Result<(), PasswdError> {
    atomic::replace(target, file.to_text().as_bytes(), NEW_FILE_MODE)
        .map_err(|source| PasswdError::Write { path: shown.to_owned(), source })
}

/// Asks for the new password twice: on the terminal (no echo) when standard input is one,
/// otherwise as two lines of standard input.
fn prompt_new_password() -> Result<Vec<u8>, PasswdError> {
    if io::stdin().is_terminal() {
        let first = prompt_terminal("Password: ")?;
        let second = prompt_terminal("Reenter password: ")?;
        compare(first, second)
    } else {
        let mut input = io::stdin().lock();
        let mut output = io::stdout();
        read_password_pair(&mut input, &mut output)
    }
}

fn prompt_terminal(prompt: &str) -> Result<Vec<u8>, PasswdError> {
    match rpassword::prompt_password(prompt) {
        Ok(p) => check_password(p.into_bytes()),
        // Ctrl-D on an empty line.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(PasswdError::EmptyPassword),
        Err(e) => Err(PasswdError::PasswordRead(e)),
    }
}

fn compare(first: Vec<u8>, second: Vec<u8>) -> Result<Vec<u8>, PasswdError> {
    if first == second { Ok(first) } else { Err(PasswdError::PasswordsDoNotMatch) }
}

/// The non-terminal password dialogue, byte-compatible with `mosquitto_passwd` reading a pipe:
/// prompt `Password: `, read a line, newline; prompt `Reenter password: `, read a line, newline.
/// An empty line or end of input stops with "Empty password." right after its prompt.
///
/// Reads lines directly rather than through rpassword: rpassword's line editor drops control
/// characters (tabs included) that are part of a piped password, and Mosquitto keeps them.
fn read_password_pair(input: &mut impl BufRead, output: &mut impl Write) -> Result<Vec<u8>, PasswdError> {
    let first = read_password_line(input, output, "Password: ")?;
    let second = read_password_line(input, output, "Reenter password: ")?;
    compare(first, second)
}

fn read_password_line(input: &mut impl BufRead, output: &mut impl Write, prompt: &str) -> Result<Vec<u8>, PasswdError> {
    // The prompt is cosmetic when piped: a closed stdout must not stop the tool.
    let _ = output.write_all(prompt.as_bytes());
    let _ = output.flush();
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line).map_err(PasswdError::PasswordRead)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        // Accept CRLF input from scripts written on Windows.
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    let password = check_password(line)?;
    let _ = output.write_all(b"\n");
    let _ = output.flush();
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use std::io::Cursor;

    fn parse(args: &[&str]) -> Result<PasswdArgs, clap::Error> {
        PasswdArgs::try_parse_from(std::iter::once("mq-passwd").chain(args.iter().copied()))
    }

    fn plan(args: &[&str]) -> Result<Plan, PasswdError> {
        Plan::from_args(parse(args).map_err(PasswdError::Clap)?)
    }

    /// What an error prints and its exit status, as bytes on stdout and stderr.
    struct Outcome {
        code: u8,
        stdout: String,
        stderr: String,
    }

    fn outcome(error: &PasswdError) -> Outcome {
        let f = error.failure(&());
        let stderr = f.lines.iter().map(|l| format!("{l}\n")).collect();
        Outcome { code: f.code, stdout: f.stdout.unwrap_or_default(), stderr }
    }

    fn message(args: &[&str]) -> (u8, String) {
        let err = plan(args).expect_err("must fail");
        let o = outcome(&err);
        (o.code, o.stderr)
    }

    fn assert_args_and_parser<T: clap::Args + clap::Parser>() {}

    #[test]
    fn passwd_args_is_args_and_parser() {
        assert_args_and_parser::<PasswdArgs>();
        PasswdArgs::command().debug_assert();
    }

    #[test]
    fn mosquitto_messages_for_argument_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["-c", "-D", "f", "u"], "Error: -c and -D cannot be used together.\n"),
            (&["-c", "-U", "f"], "Error: -c and -U cannot be used together.\n"),
            (&["-D", "-U", "f"], "Error: -D and -U cannot be used together.\n"),
            (&["-b", "-D", "f", "u"], "Error: -b and -D cannot be used together.\n"),
            (&["-H", "md5", "f", "u"], "Error: Unknown hash type 'md5'\n"),
            (&["-H"], "Error: -H argument given but not enough other arguments.\n"),
            (&["-I"], "Error: -I argument given but not enough other arguments.\n"),
            (&["-I", "0", "f", "u"], "Error: Number of iterations must be > 0.\n"),
            (&["-I", "abc", "f", "u"], "Error: Number of iterations must be > 0.\n"),
            (&["-I", "-5", "f", "u"], "Error: Number of iterations must be > 0.\n"),
            (&["-c", "f"], "Error: -c argument given but password file or username missing.\n"),
            (&["-c", "-b", "f", "u"], "Error: -c argument given but password file, username, or password missing.\n"),
            (&["-D", "f"], "Error: -D argument given but password file or username missing.\n"),
            (&["-U"], "Error: -U argument given but password file missing.\n"),
            (&["-U", "f", "extra"], "Error: -U argument given but password file missing.\n"),
            (&["-b", "f", "u:x", "p"], "Error: Username must not contain the ':' character.\n"),
            (&["-b", "f", "u\u{1}", "p"], "Error: Username must not contain control characters.\n"),
            (&["-b", "f", "u", ""], "Error: Empty password.\n"),
        ];
        for (args, expected) in cases {
            assert_eq!(message(args), (1, (*expected).to_owned()), "{args:?}");
        }
        let long_user = "u".repeat(65_536);
        assert_eq!(
            message(&["-b", "f", &long_user, "p"]).1,
            "Error: Username must be less than 65536 characters long.\n"
        );
        let long_password = "p".repeat(65_536);
        assert_eq!(
            message(&["-b", "f", "u", &long_password]).1,
            "Error: Password must be less than 65536 characters long.\n"
        );
        assert!(plan(&["-b", "f", "u", &"p".repeat(65_535)]).is_ok());
    }

    #[test]
    fn usage_cases() {
        for args in [&[][..], &["f"], &["f", "u", "p"], &["-b", "f", "u"], &["-c", "f", "u", "p"]] {
            let err = plan(args).expect_err("usage");
            assert!(matches!(err, PasswdError::Usage), "{args:?}: {err:?}");
            let o = outcome(&err);
            assert_eq!(o.code, 1);
            assert!(o.stdout.contains("Usage: mq-passwd"), "{}", o.stdout);
            assert!(o.stderr.is_empty());
        }
    }

    #[test]
    fn help_and_unknown_option() {
        let help = outcome(&PasswdError::Clap(parse(&["--help"]).expect_err("help")));
        assert_eq!(help.code, 0);
        assert!(help.stdout.contains("-H [<hash>]"), "{}", help.stdout);
        assert!(help.stdout.starts_with("Manage password files"), "{}", help.stdout);
        let unknown = outcome(&PasswdError::Clap(parse(&["-x"]).expect_err("unknown")));
        assert_eq!(unknown.code, 1);
        assert!(unknown.stderr.contains("'-x'"), "{}", unknown.stderr);
    }

    #[test]
    fn valid_plans() {
        let p = plan(&["-c", "-b", "f", "alice", "secret"]).expect("plan");
        assert!(matches!(
            &p.action,
            Action::Create { username, password: Some(pw) } if username == "alice" && pw == b"secret"
        ));
        assert_eq!(p.algorithm, HashAlgorithm::Sha512Pbkdf2);
        assert_eq!(p.iterations.get(), crate::hash::DEFAULT_ITERATIONS);
        let p = plan(&["-H", "sha512", "-I", "7", "f", "bob"]).expect("plan");
        assert!(matches!(&p.action, Action::Set { password: None, .. }));
        assert_eq!(p.algorithm, HashAlgorithm::Sha512);
        assert_eq!(p.iterations.get(), 7);
        assert!(matches!(plan(&["-D", "f", "u"]).expect("plan").action, Action::Delete { .. }));
        assert!(matches!(plan(&["-U", "f"]).expect("plan").action, Action::Upgrade));
        // Options repeat harmlessly, and a password may start with '-'.
        let p = plan(&["-b", "-b", "f", "u", "-secret"]).expect("plan");
        assert!(matches!(&p.action, Action::Set { password: Some(pw), .. } if pw == b"-secret"));
        assert_eq!(plan(&["-H", "argon2id", "f", "u"]).expect("plan").algorithm, HashAlgorithm::Argon2id);
    }

    #[test]
    fn mismatch_exits_2() {
        let o = outcome(&PasswdError::PasswordsDoNotMatch);
        assert_eq!((o.code, o.stderr.as_str()), (2, "Error: Passwords do not match.\n"));
        let o = outcome(&PasswdError::UserNotFound("bob".into()));
        assert_eq!((o.code, o.stderr.as_str()), (1, "Warning: User bob not found in password file.\n"));
    }

    #[test]
    fn lock_failures_exit_1_with_the_file_named() {
        let busy = PasswdError::Lock { path: "pw".into(), source: LockError::Busy(LOCK_TIMEOUT) };
        let o = outcome(&busy);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Error: Unable to lock password file pw: another process kept it locked for 30 s.\n")
        );
        let nolck = PasswdError::Lock { path: "pw".into(), source: LockError::Lock(io::Error::from_raw_os_error(37)) };
        assert_eq!(outcome(&nolck).stderr, "Error: Unable to lock password file pw: No locks available.\n");
    }

    fn dialogue(input: &[u8]) -> (Result<Vec<u8>, PasswdError>, String) {
        let mut out = Vec::new();
        let result = read_password_pair(&mut Cursor::new(input.to_vec()), &mut out);
        (result, String::from_utf8(out).expect("utf8"))
    }

    /// Prompts and newlines exactly as `mosquitto_passwd` prints them when reading a pipe.
    #[test]
    fn piped_password_dialogue() {
        let (r, out) = dialogue(b"pw\npw\n");
        assert_eq!(r.expect("ok"), b"pw");
        assert_eq!(out, "Password: \nReenter password: \n");

        let (r, out) = dialogue(b"pw\npx\n");
        assert!(matches!(r, Err(PasswdError::PasswordsDoNotMatch)));
        assert_eq!(out, "Password: \nReenter password: \n");

        let (r, out) = dialogue(b"pw\n");
        assert!(matches!(r, Err(PasswdError::EmptyPassword)));
        assert_eq!(out, "Password: \nReenter password: ");

        let (r, out) = dialogue(b"\n\n");
        assert!(matches!(r, Err(PasswdError::EmptyPassword)));
        assert_eq!(out, "Password: ");

        let (r, _) = dialogue(b"");
        assert!(matches!(r, Err(PasswdError::EmptyPassword)));

        // No final newline, spaces and tabs kept, CRLF accepted.
        let (r, _) = dialogue(b"p w\t\r\np w\t");
        assert_eq!(r.expect("ok"), b"p w\t");
    }
}

#[cfg(test)]
mod subcommand_tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    #[command(name = "mq")]
    struct Umbrella {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Passwd(PasswdArgs),
    }

    #[test]
    fn usable_as_mq_passwd_subcommand() {
        let parsed = Umbrella::try_parse_from(["mq", "passwd", "-b", "f", "u", "p"]).expect("parses");
        let Sub::Passwd(args) = parsed.command;
        assert!(args.batch);
        assert_eq!(args.password_file.as_deref(), Some(Path::new("f")));
        let help = Umbrella::command().render_help().to_string();
        assert!(help.contains("passwd"), "{help}");
    }
}
