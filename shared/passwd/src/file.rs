//! Password files: `username:hash` lines, parsed strictly, edited without losing comments.
//!
//! What the broker does with a file: [`PasswordFile::load`] (or [`PasswordFile::parse`]) once, then
//! [`PasswordFile::verify`] per login, or [`PasswordFile::get`] + [`PasswordHash::verify`] when the
//! hashing should run on a blocking thread. `PasswordFile` is `Send + Sync` and its `Clone` is an
//! `Arc` bump, so a reload can swap in a new one while logins use the old.
//!
//! Parsing keeps Mosquitto's lenient rules (lines starting with `#` are comments, blank lines are
//! ignored, whitespace around the username and the hash is trimmed, CRLF line ends are fine) but,
//! unlike Mosquitto, never drops a line silently: every line it cannot use is reported as
//! `path:line: what is wrong` in one [`ParseError`]. Plain-text `user:password` lines are such an
//! error (Mosquitto 2.0's broker rejects them as well); [`upgrade_plaintext`] is the one reader that
//! accepts them, for `mq-passwd -U`.
//!
//! Two ways to read: [`PasswordFile::parse`] / [`PasswordFile::load`] refuse a file with any
//! unusable line (what an editor such as `mq-passwd` needs: rewriting the file must never lose a
//! line it did not understand). [`PasswordFile::parse_lenient`] / [`PasswordFile::load_lenient`]
//! are the broker's reading, as Mosquitto's: the usable entries, and the unusable lines skipped and
//! reported (for a log) rather than stopping the start. A leniently read file lacks the skipped
//! lines, so it must not be written back.
//!
//! Editing ([`PasswordFile::set`], [`PasswordFile::remove`]) keeps every other line byte for byte,
//! comments and order included, and [`PasswordFile::to_text`] renders the result.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::hash::{HashError, HashParams, PasswordHash, looks_hashed};

/// Longest username Mosquitto accepts (the MQTT string limit).
pub const MAX_USERNAME_LEN: usize = 65_535;

/// A parsed password file.
#[derive(Debug, Clone, Default)]
pub struct PasswordFile {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    lines: Vec<Line>,
    /// username → index into `lines`.
    index: HashMap<String, usize>,
    /// What an unknown username is checked against: the file's most common parameters, or `None`
    /// for a file without entries (then [`PasswordHash::decoy`]).
    decoy: Option<PasswordHash>,
}

#[derive(Debug, Clone)]
enum Line {
    /// A comment or blank line, kept as it was (without the `\n`).
    Verbatim(String),
    Entry {
        username: String,
        hash: PasswordHash,
        /// The original text for entries read from a file and not changed since, so an edit of
        /// one user leaves every other line exactly as it was.
        raw: Option<String>,
    },
}

/// One unusable line of a password file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: LineErrorKind,
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorKind {
    /// No `:` between username and hash.
    #[error("missing ':' between username and password hash")]
    MissingColon,
    /// Nothing (or only whitespace) before the `:`.
    #[error("empty username")]
    EmptyUsername,
    /// A username over 65535 bytes.
    #[error("username is {0} bytes long, the limit is 65535")]
    UsernameTooLong(usize),
    /// A second line for a username already defined.
    #[error("duplicate entry for user '{username}' (first defined on line {first_line})")]
    Duplicate {
        /// The username.
        username: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// The line is not UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// Plain text: the password is empty.
    #[error("empty password")]
    EmptyPassword,
    /// The hash field is unusable.
    #[error("{0}")]
    Hash(#[from] HashError),
}

/// Every unusable line of a password file, reported together.
///
/// `Display` prints one `path:line: what is wrong` per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(path, errors))]
pub struct ParseError {
    path: PathBuf,
    errors: Vec<LineError>,
}

fn render_errors(path: &Path, errors: &[LineError]) -> String {
    errors.iter().map(|e| format!("{}:{}: {}", path.display(), e.line, e.kind)).collect::<Vec<_>>().join("\n")
}

impl ParseError {
    /// The path named in the messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bad lines, in file order (never empty).
    pub fn errors(&self) -> &[LineError] {
        &self.errors
    }
}

/// [`PasswordFile::load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("unable to read password file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file has unusable lines.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A username `mq-passwd` refuses to write.
///
/// The first three match Mosquitto's checks (and its messages); the others catch names Mosquitto
/// writes but can never authenticate, because reading the file trims them or treats them as a
/// comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Longer than 65535 bytes.
    #[error("Username must be less than 65536 characters long.")]
    TooLong,
    /// Contains a control character.
    #[error("Username must not contain control characters.")]
    ControlCharacters,
    /// Contains `:`, the field separator.
    #[error("Username must not contain the ':' character.")]
    Colon,
    /// Empty.
    #[error("Username must not be empty.")]
    Empty,
    /// Leading or trailing whitespace, which reading the file would trim away.
    #[error("Username must not start or end with whitespace.")]
    SurroundingWhitespace,
    /// Starts with `#`, which would turn the line into a comment.
    #[error("Username must not start with '#' (the line would be a comment).")]
    LeadingHash,
}

/// Checks a username before it is written to a password file.
///
/// # Errors
/// The first [`UsernameError`] that applies, in Mosquitto's order (length, control characters,
/// `:`), then ours.
pub fn validate_username(username: &str) -> Result<(), UsernameError> {
    if username.len() > MAX_USERNAME_LEN {
        return Err(UsernameError::TooLong);
    }
    if username.chars().any(char::is_control) {
        return Err(UsernameError::ControlCharacters);
    }
    if username.contains(':') {
        return Err(UsernameError::Colon);
    }
    if username.is_empty() {
        return Err(UsernameError::Empty);
    }
    if username.trim() != username {
        return Err(UsernameError::SurroundingWhitespace);
    }
    if username.starts_with('#') {
        return Err(UsernameError::LeadingHash);
    }
    Ok(())
}

/// One line split into its parts, before the hash field is interpreted.
enum RawLine<'a> {
    Verbatim,
    Entry { username: &'a str, field: &'a str },
}

/// Splits a password-file text into lines: `(1-based number, line without "\n")`.
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut parts: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    // A final "\n" ends the last line; it does not start an empty one.
    if parts.last().is_some_and(|last| last.is_empty()) {
        parts.pop();
    }
    parts.into_iter().enumerate().map(|(i, line)| (i + 1, line))
}

/// Mosquitto's lenient line rules. `Err` for lines that are neither comment, blank nor entry.
fn split_line(line: &str) -> Result<RawLine<'_>, LineErrorKind> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(RawLine::Verbatim);
    }
    let Some((username, field)) = line.split_once(':') else {
        return Err(LineErrorKind::MissingColon);
    };
    let username = username.trim();
    if username.is_empty() {
        return Err(LineErrorKind::EmptyUsername);
    }
    if username.len() > MAX_USERNAME_LEN {
        return Err(LineErrorKind::UsernameTooLong(username.len()));
    }
    Ok(RawLine::Entry { username, field: field.trim() })
}

/// How [`parse_with`] treats lines it cannot use. Either way every such line is reported; the
/// modes differ only in what counts as unusable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// For files that will be rewritten: a line that is not UTF-8 is an error even when it is a
    /// comment, since it could not be written back byte for byte.
    Strict,
    /// For the broker: a comment is a comment whatever its encoding (Mosquitto looks at the first
    /// byte only).
    Lenient,
}

/// Shared driver of [`PasswordFile::parse`], [`PasswordFile::parse_lenient`] and
/// [`upgrade_plaintext`]: walks the lines, applies the comment/blank/colon/username/duplicate
/// rules, and asks `entry` to turn each hash field into a hash. Returns the usable lines and every
/// error.
///
/// A username is taken by the first line that defines it with a usable hash; a later line for it
/// is a duplicate. A first line whose hash is unusable does not take the name, so a leniently read
/// file still has the user's good line.
fn parse_with(
    text: &[u8],
    mode: Mode,
    mut entry: impl FnMut(&str) -> Result<PasswordHash, LineErrorKind>,
) -> (Inner, Vec<LineError>) {
    let mut inner = Inner::default();
    let mut errors = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (number, bytes) in lines(text) {
        let Ok(line) = std::str::from_utf8(bytes) else {
            if mode == Mode::Lenient && bytes.trim_ascii_start().first() == Some(&b'#') {
                continue;
            }
            errors.push(LineError { line: number, kind: LineErrorKind::NotUtf8 });
            continue;
        };
        let result = split_line(line).and_then(|raw| match raw {
            RawLine::Verbatim => Ok(Line::Verbatim(line.to_owned())),
            RawLine::Entry { username, field } => {
                if let Some(&first) = first_line.get(username) {
                    return Err(LineErrorKind::Duplicate { username: snippet(username), first_line: first });
                }
                let hash = entry(field)?;
                first_line.insert(username.to_owned(), number);
                Ok(Line::Entry { username: username.to_owned(), hash, raw: Some(line.to_owned()) })
            }
        });
        match result {
            Ok(line) => inner.push(line),
            Err(kind) => errors.push(LineError { line: number, kind }),
        }
    }
    inner.refresh_decoy();
    (inner, errors)
}

/// [`parse_with`] where any error fails the whole file.
fn parse_strict(
    text: &[u8],
    path: &Path,
    entry: impl FnMut(&str) -> Result<PasswordHash, LineErrorKind>,
) -> Result<Inner, ParseError> {
    let (inner, errors) = parse_with(text, Mode::Strict, entry);
    if errors.is_empty() { Ok(inner) } else { Err(ParseError { path: path.to_owned(), errors }) }
}

/// `text` for an error message: at most 64 characters of it, so a 1 MB line in a password file
/// cannot become a 1 MB log line.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

impl Inner {
    fn push(&mut self, line: Line) {
        if let Line::Entry { username, .. } = &line {
            self.index.insert(username.clone(), self.lines.len());
        }
        self.lines.push(line);
    }

    /// Picks the decoy's parameters: those most entries have (the first of them on a tie), so an
    /// unknown username costs what a known one with a wrong password costs.
    fn refresh_decoy(&mut self) {
        let mut counts: HashMap<HashParams, (usize, usize)> = HashMap::new();
        for (order, line) in self.lines.iter().enumerate() {
            if let Line::Entry { hash, .. } = line {
                counts.entry(hash.params()).or_insert((0, order)).0 += 1;
            }
        }
        let most_common = counts.into_iter().max_by_key(|&(_, (count, first))| (count, std::cmp::Reverse(first)));
        self.decoy = most_common.map(|(params, _)| PasswordHash::decoy_with(params));
    }

    fn reindex(&mut self) {
        self.index = self
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, line)| match line {
                Line::Entry { username, .. } => Some((username.clone(), i)),
                Line::Verbatim(_) => None,
            })
            .collect();
    }
}

impl PasswordFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the text of a password file; `path` only names the file in error messages.
    ///
    /// # Errors
    /// A [`ParseError`] listing every unusable line (bad or unknown hash, missing `:`, empty
    /// username, duplicate user, plain-text password, invalid UTF-8).
    pub fn parse(text: impl AsRef<[u8]>, path: impl AsRef<Path>) -> Result<Self, ParseError> {
        let inner = parse_strict(text.as_ref(), path.as_ref(), |field| Ok(PasswordHash::parse(field)?))?;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Parses the text of a password file as the broker reads it (and as Mosquitto does): every
    /// usable entry, and the unusable lines skipped. The second value lists the skipped lines
    /// (`None` when there are none), for a log; the reasons are those [`PasswordFile::parse`] gives,
    /// except that a comment line is never one. For a username defined twice, the first usable
    /// line counts.
    ///
    /// The result lacks the skipped lines: do not write it back ([`PasswordFile::to_text`]) over
    /// the file it came from.
    pub fn parse_lenient(text: impl AsRef<[u8]>, path: impl AsRef<Path>) -> (Self, Option<ParseError>) {
        let (inner, errors) = parse_with(text.as_ref(), Mode::Lenient, |field| Ok(PasswordHash::parse(field)?));
        let skipped = (!errors.is_empty()).then(|| ParseError { path: path.as_ref().to_owned(), errors });
        (Self { inner: Arc::new(inner) }, skipped)
    }

    /// Reads and parses a password file.
    ///
    /// # Errors
    /// [`LoadError::Io`] when it cannot be read, [`LoadError::Parse`] for unusable lines.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        Ok(Self::parse(text, path)?)
    }

    /// Reads a password file leniently (see [`PasswordFile::parse_lenient`]).
    ///
    /// # Errors
    /// Only [`LoadError::Io`]: a file that cannot be read. Unusable lines are returned, not errors.
    pub fn load_lenient(path: impl AsRef<Path>) -> Result<(Self, Option<ParseError>), LoadError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        Ok(Self::parse_lenient(text, path))
    }

    /// The hash stored for `username`, if any.
    ///
    /// For a broker that verifies on a blocking thread: clone the hash (or the whole file, which
    /// is cheap) into the closure and call [`PasswordHash::verify`] there. For an unknown user,
    /// call [`PasswordFile::verify`] anyway so the response takes as long as for a known one.
    pub fn get(&self, username: &str) -> Option<&PasswordHash> {
        let &i = self.inner.index.get(username)?;
        match self.inner.lines.get(i)? {
            Line::Entry { hash, .. } => Some(hash),
            Line::Verbatim(_) => None,
        }
    }

    /// True when `username` has an entry.
    pub fn contains(&self, username: &str) -> bool {
        self.inner.index.contains_key(username)
    }

    /// Checks a login. `false` for an unknown user or a wrong password.
    ///
    /// The digest comparison is constant-time, and an unknown username is checked against the
    /// file's decoy ([`PasswordFile::hash_for`]), which costs what checking a real entry costs, so
    /// timing does not tell which usernames exist. May take ~100 ms for argon2id entries: call it
    /// from a blocking thread.
    pub fn verify(&self, username: &str, password: &[u8]) -> bool {
        let (hash, known) = self.hash_for(username);
        // For an unknown user the check runs all the same, for its time; the answer is false.
        hash.verify(password) && known
    }

    /// The hash a login as `username` is checked against, and whether the user exists: the user's
    /// own hash, or for an unknown username a decoy that no password matches, with the parameters
    /// (algorithm, iterations or argon2 costs, salt length) most entries of this file have; for a
    /// file without entries, `$7$` at [`DEFAULT_ITERATIONS`](crate::hash::DEFAULT_ITERATIONS).
    ///
    /// A user whose entry uses less common parameters than the rest can still be told apart by
    /// timing; a file whose entries all share parameters (what `mq-passwd` and
    /// `mosquitto_passwd` write with their defaults) does not tell.
    pub fn hash_for(&self, username: &str) -> (&PasswordHash, bool) {
        static EMPTY_FILE_DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
        match self.get(username) {
            Some(hash) => (hash, true),
            None => {
                (self.inner.decoy.as_ref().unwrap_or_else(|| EMPTY_FILE_DECOY.get_or_init(PasswordHash::decoy)), false)
            }
        }
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.inner.index.len()
    }

    /// True when the file has no users (it may still have comments).
    pub fn is_empty(&self) -> bool {
        self.inner.index.is_empty()
    }

    /// The users and their hashes, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &PasswordHash)> {
        self.inner.lines.iter().filter_map(|line| match line {
            Line::Entry { username, hash, .. } => Some((username.as_str(), hash)),
            Line::Verbatim(_) => None,
        })
    }

    /// Sets the hash of `username`: replaces its line in place, or appends a new line at the end.
    ///
    /// # Errors
    /// [`UsernameError`] for a username that cannot be written (see [`validate_username`]).
    pub fn set(&mut self, username: &str, hash: PasswordHash) -> Result<(), UsernameError> {
        validate_username(username)?;
        let inner = Arc::make_mut(&mut self.inner);
        let line = Line::Entry { username: username.to_owned(), hash, raw: None };
        match inner.index.get(username) {
            Some(&i) => {
                if let Some(slot) = inner.lines.get_mut(i) {
                    *slot = line;
                }
            }
            None => inner.push(line),
        }
        inner.refresh_decoy();
        Ok(())
    }

    /// Removes `username`'s line. Returns whether it was there.
    pub fn remove(&mut self, username: &str) -> bool {
        let Some(&i) = self.inner.index.get(username) else {
            return false;
        };
        let inner = Arc::make_mut(&mut self.inner);
        if i < inner.lines.len() {
            inner.lines.remove(i);
        }
        inner.reindex();
        inner.refresh_decoy();
        true
    }

    /// The file's text: every line followed by `\n`, untouched lines exactly as read.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.inner.lines {
            match line {
                Line::Verbatim(text) | Line::Entry { raw: Some(text), .. } => writeln!(f, "{text}")?,
                Line::Entry { username, hash, raw: None } => writeln!(f, "{username}:{hash}")?,
            }
        }
        Ok(())
    }
}

/// [`upgrade_plaintext`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The file is (at least partly) hashed already; hashing again would store a hash of the
    /// hash and lock the users out (what Mosquitto's `-U` does when run twice).
    #[error(
        "{}:{line}: user '{username}' already has a hashed password; the file looks hashed \
         already and -U only converts plain-text files (hashing it again would lock users out)",
        path.display()
    )]
    AlreadyHashed {
        /// The file.
        path: PathBuf,
        /// First hashed line.
        line: usize,
        /// Its username.
        username: String,
    },
    /// Unusable lines.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Reads a plain-text `user:password` file (comments and blank lines allowed) and returns it
/// with every password replaced by `hash(password)`, comments and order kept.
///
/// The password is everything after the first `:`, with surrounding whitespace trimmed (as
/// Mosquitto does). Any line whose password already looks like a hash makes the whole upgrade
/// fail with [`UpgradeError::AlreadyHashed`].
///
/// # Errors
/// [`UpgradeError::AlreadyHashed`], or [`UpgradeError::Parse`] listing unusable lines (no `:`,
/// empty username or password, duplicates, invalid UTF-8, or a failure of `hash`).
pub fn upgrade_plaintext(
    text: impl AsRef<[u8]>,
    path: impl AsRef<Path>,
    mut hash: impl FnMut(&[u8]) -> Result<PasswordHash, HashError>,
) -> Result<PasswordFile, UpgradeError> {
    let text = text.as_ref();
    let path = path.as_ref();
    // Refuse before hashing anything: hashing is slow and the answer would be thrown away.
    for (number, bytes) in lines(text) {
        if let Ok(line) = std::str::from_utf8(bytes)
            && let Ok(RawLine::Entry { username, field }) = split_line(line)
            && looks_hashed(field)
        {
            return Err(UpgradeError::AlreadyHashed {
                path: path.to_owned(),
                line: number,
                username: username.to_owned(),
            });
        }
    }
    let mut inner = parse_strict(text, path, |field| {
        if field.is_empty() {
            return Err(LineErrorKind::EmptyPassword);
        }
        Ok(hash(field.as_bytes())?)
    })?;
    // The lines were read as plain text: render the new hashes, not the old lines.
    for line in &mut inner.lines {
        if let Line::Entry { raw, .. } = line {
            *raw = None;
        }
    }
    Ok(PasswordFile { inner: Arc::new(inner) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashAlgorithm;
    use std::num::NonZeroU32;

    const TV7: &str = "tv7:$7$101$AAECAwQFBgcICQoL$Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==";
    const TV6: &str = "tv6:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==";

    fn hash_field(line: &str) -> &str {
        line.split_once(':').expect("colon").1
    }

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn is_send_sync_clone() {
        assert_send_sync_clone::<PasswordFile>();
        assert_send_sync_clone::<PasswordHash>();
    }

    #[test]
    fn vectors_verify_through_the_file() {
        let text = format!("# users\n\n{TV7}\n{TV6}\n");
        let file = PasswordFile::parse(&text, "pw").expect("parses");
        assert_eq!(file.len(), 2);
        assert!(file.verify("tv7", b"secret"));
        assert!(file.verify("tv6", b"secret"));
        assert!(!file.verify("tv7", b"Secret"));
        assert!(!file.verify("tv6", b"Secret"));
        assert!(!file.verify("nobody", b"secret"));
        assert!(file.get("tv7").expect("tv7").verify(b"secret"));
        assert!(file.get("nobody").is_none());
        // Unchanged input renders byte for byte.
        assert_eq!(file.to_text(), text);
    }

    /// An unknown username costs one verification with the parameters the file's entries have,
    /// not a fixed cost: with `mosquitto_passwd`'s 101 iterations, a fixed 10,000-iteration decoy
    /// made unknown names 80 times slower to refuse than wrong passwords.
    #[test]
    fn unknown_users_are_checked_with_the_files_own_parameters() {
        let mosquitto = |user: &str, salt: &[u8]| {
            format!("{user}:{}", PasswordHash::pbkdf2_with_salt(b"pw", salt, NonZeroU32::new(101).expect("101")))
        };
        let text = [TV6.to_owned(), mosquitto("a", b"saltsaltsalt"), mosquitto("b", b"SALTSALTSALT"), TV7.to_owned()]
            .join("\n");
        let file = PasswordFile::parse(&text, "pw").expect("parses");
        let (decoy, known) = file.hash_for("nobody");
        assert!(!known);
        let expected = HashParams::Sha512Pbkdf2 { iterations: NonZeroU32::new(101).expect("101"), salt_len: 12 };
        assert_eq!(decoy.params(), expected);
        assert_eq!(file.hash_for("a").0.params(), expected);
        assert_eq!(file.hash_for("tv6"), (file.get("tv6").expect("tv6"), true));
        assert!(!file.verify("nobody", b"pw"));

        // Edits follow the majority; a tie goes to the parameters seen first.
        let mut edited = file.clone();
        for user in ["a", "b", "tv7"] {
            assert!(edited.remove(user));
        }
        assert_eq!(edited.hash_for("nobody").0.params(), HashParams::Sha512 { salt_len: 12 });
        edited.set("c", PasswordHash::pbkdf2_with_salt(b"pw", b"0123456789ab", NonZeroU32::MIN)).expect("set");
        assert_eq!(edited.hash_for("nobody").0.params(), HashParams::Sha512 { salt_len: 12 });

        // Without entries: $7$ at the default iteration count.
        let empty = PasswordFile::parse("# nobody yet\n", "pw").expect("parses");
        assert_eq!(
            empty.hash_for("x").0.params(),
            HashParams::Sha512Pbkdf2 { iterations: crate::hash::default_iterations(), salt_len: 12 }
        );
    }

    #[test]
    fn lenient_rules() {
        let text = format!(
            "#comment\n   \n  # indented comment\n  tv7  :  {}  \r\n\t\ntv6:{}",
            hash_field(TV7),
            hash_field(TV6)
        );
        let file = PasswordFile::parse(&text, "pw").expect("parses");
        assert!(file.verify("tv7", b"secret"));
        assert!(file.verify("tv6", b"secret"));
        assert_eq!(file.entries().map(|(u, _)| u).collect::<Vec<_>>(), ["tv7", "tv6"]);
    }

    /// The malformed-file table: every bad line is reported with `path:line:`.
    #[test]
    fn malformed_file_reports_every_bad_line() {
        let h7 = hash_field(TV7);
        let text = [
            "# fine comment",                                  // 1
            "nocolon",                                         // 2
            ":$7$101$AAECAwQFBgcICQoL$x",                      // 3
            "alice:",                                          // 4
            "bob:secret",                                      // 5
            "carol:$5$abc$def",                                // 6
            "dave:$7$101$not*base64$AAAA",                     // 7
            &format!("tv7:{h7}"),                              // 8 (good)
            &format!("tv7:{h7}"),                              // 9 duplicate
            "erin:$7$0$AAECAwQFBgcICQoL$AAAA",                 // 10
            "frank:$7$101$AAECAwQFBgcICQoL$AAAA",              // 11 (3-byte hash)
            "gina:$6$AAECAwQFBgcICQoL",                        // 12
            "hank:$argon2id$v=19$m=64,t=1$AAAAAAAAAAA$AAAAAA", // 13
        ]
        .join("\n");
        let err = PasswordFile::parse(&text, "/etc/mq/pw").expect_err("must fail");
        let expected = [
            "/etc/mq/pw:2: missing ':' between username and password hash",
            "/etc/mq/pw:3: empty username",
            "/etc/mq/pw:4: empty password hash",
            "/etc/mq/pw:5: plain-text password instead of a hash (hash the file with `mq-passwd -U` or set the password with `mq-passwd`)",
            "/etc/mq/pw:6: unknown hash type '$5$' (known: $6$, $7$, $argon2id$)",
            "/etc/mq/pw:7: salt is not valid base64",
            "/etc/mq/pw:9: duplicate entry for user 'tv7' (first defined on line 8)",
            "/etc/mq/pw:10: iteration count '0' is not a whole number from 1 to 4294967295",
            "/etc/mq/pw:11: hash decodes to 3 bytes, expected 64",
            "/etc/mq/pw:12: malformed $6$ hash, expected $6$<salt>$<hash>",
            "/etc/mq/pw:13: bad argon2 parameters 'm=64,t=1': m, t and p are all required",
        ]
        .join("\n");
        assert_eq!(err.to_string(), expected);
        assert_eq!(err.errors().len(), 11);
        assert_eq!(err.path(), Path::new("/etc/mq/pw"));
    }

    #[test]
    fn non_utf8_line_is_reported() {
        let mut text = b"ok:".to_vec();
        text.extend_from_slice(hash_field(TV7).as_bytes());
        text.extend_from_slice(b"\nbad\xff:x\n");
        let err = PasswordFile::parse(&text, "f").expect_err("must fail");
        assert_eq!(err.to_string(), "f:2: line is not valid UTF-8");
    }

    /// What Mosquitto 2.0's broker starts with, read the way it does: usable entries kept, every
    /// other line skipped and reported.
    #[test]
    fn lenient_parse_skips_and_reports_bad_lines() {
        let h7 = hash_field(TV7);
        let mut text = Vec::new();
        for line in [
            "# comment".to_owned(),                 // 1
            "name-only".to_owned(),                 // 2: no ':'
            format!("tv7:{h7}"),                    // 3: good
            format!("tv6:{}", hash_field(TV6)),     // 4: good
            "bob:plain".to_owned(),                 // 5: plain text
            format!("tv7:{}", hash_field(TV6)),     // 6: duplicate, first one counts
            "".to_owned(),                          // 7
            format!("u:{}", "x".repeat(1 << 20)),   // 8: 1 MB line
            format!("{}:{h7}", "u".repeat(70_000)), // 9: username too long
        ] {
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
        }
        text.extend_from_slice(b"caf\xe9:x\n"); // 10: not UTF-8
        text.extend_from_slice(b"  # caf\xe9 (Latin-1 comment)\n"); // 11: a comment all the same
        text.extend_from_slice(format!("carol:$7$1$AAECAwQFBgcICQoL${}", "!".repeat(200_000)).as_bytes()); // 12

        assert!(PasswordFile::parse(&text, "pw").is_err(), "the strict reading refuses the file");
        let (file, skipped) = PasswordFile::parse_lenient(&text, "pw");
        assert_eq!(file.entries().map(|(u, _)| u).collect::<Vec<_>>(), ["tv7", "tv6"]);
        assert!(file.verify("tv7", b"secret"), "the first tv7 line counts");
        assert!(file.verify("tv6", b"secret"));
        let skipped = skipped.expect("bad lines reported");
        assert_eq!(skipped.errors().iter().map(|e| e.line).collect::<Vec<_>>(), [2, 5, 6, 8, 9, 10, 12]);
        let text = skipped.to_string();
        assert!(text.starts_with("pw:2: missing ':' between username and password hash\n"), "{text}");
        assert!(text.contains("pw:6: duplicate entry for user 'tv7' (first defined on line 3)"), "{text}");
        assert!(text.contains("pw:9: username is 70000 bytes long, the limit is 65535"), "{text}");
        assert!(text.contains("pw:10: line is not valid UTF-8"), "{text}");
        assert!(text.contains("pw:12: hash is not valid base64"), "{text}");
        // No message echoes a long line back.
        assert!(text.lines().all(|l| l.len() < 200), "{text}");

        // A clean file has nothing to report.
        let (file, skipped) = PasswordFile::parse_lenient(format!("{TV7}\n"), "pw");
        assert!(skipped.is_none());
        assert_eq!(file.len(), 1);
    }

    /// A user whose first line is unusable still logs in with a later good line (a leniently read
    /// file must not lock a user out over a line that is skipped anyway).
    #[test]
    fn lenient_parse_a_bad_first_line_does_not_shadow_a_good_one() {
        let text = format!("tv7:$7$101$AAAA\n{TV7}\n");
        let (file, skipped) = PasswordFile::parse_lenient(&text, "pw");
        assert!(file.verify("tv7", b"secret"));
        assert_eq!(skipped.expect("line 1").errors().iter().map(|e| e.line).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn load_lenient_reports_only_io_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(PasswordFile::load_lenient(dir.path().join("missing")), Err(LoadError::Io { .. })));
        let path = dir.path().join("pw");
        std::fs::write(&path, format!("x\n{TV7}\n")).expect("write");
        let (file, skipped) = PasswordFile::load_lenient(&path).expect("loads");
        assert!(file.verify("tv7", b"secret"));
        assert_eq!(skipped.expect("line 1").path(), path);
    }

    #[test]
    fn error_messages_quote_at_most_a_snippet() {
        let long = "a".repeat(100_000);
        for field in [
            format!("${long}$x"),
            format!("$7${long}$AAECAwQFBgcICQoL$AAAA"),
            format!("$argon2id${long}$m=1,t=1,p=1$x$y"),
            format!("$argon2id$v=19${long}=1,t=1,p=1$AAAAAAAAAAA$AAAAAA"),
        ] {
            let err = PasswordHash::parse(&field).expect_err("bad").to_string();
            assert!(err.len() < 300, "{}", err.len());
        }
        assert_eq!(snippet("short"), "short");
        assert_eq!(snippet(&"é".repeat(65)), format!("{}...", "é".repeat(64)));
    }

    #[test]
    fn long_username_is_reported() {
        let text = format!("{}:{}\n", "u".repeat(65_536), hash_field(TV7));
        let err = PasswordFile::parse(&text, "f").expect_err("must fail");
        assert_eq!(err.to_string(), "f:1: username is 65536 bytes long, the limit is 65535");
    }

    #[test]
    fn empty_file_is_valid() {
        let file = PasswordFile::parse("", "f").expect("empty");
        assert!(file.is_empty());
        assert_eq!(file.to_text(), "");
        assert!(!file.verify("anyone", b""));
    }

    #[test]
    fn load_reports_io_and_parse_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        assert!(matches!(PasswordFile::load(&missing), Err(LoadError::Io { .. })));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "x\n").expect("write");
        match PasswordFile::load(&bad) {
            Err(LoadError::Parse(e)) => assert_eq!(
                e.to_string(),
                format!("{}:1: missing ':' between username and password hash", bad.display())
            ),
            other => panic!("{other:?}"),
        }
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{TV7}\n")).expect("write");
        assert!(PasswordFile::load(&good).expect("loads").verify("tv7", b"secret"));
    }

    #[test]
    fn edits_keep_comments_and_order() {
        let text = format!("# head\n{TV7}\n\n# middle\n{TV6}\n# tail\n");
        let mut file = PasswordFile::parse(&text, "f").expect("parses");
        let snapshot = file.clone();
        let new = PasswordHash::sha512_with_salt(b"new", b"0123456789ab");
        file.set("tv7", new.clone()).expect("set");
        file.set("zed", new.clone()).expect("set");
        assert_eq!(file.to_text(), format!("# head\ntv7:{new}\n\n# middle\n{TV6}\n# tail\nzed:{new}\n"));
        assert!(file.verify("tv7", b"new"));
        assert!(file.remove("tv6"));
        assert!(!file.remove("tv6"));
        assert_eq!(file.to_text(), format!("# head\ntv7:{new}\n\n# middle\n# tail\nzed:{new}\n"));
        assert!(file.verify("zed", b"new"));
        assert!(!file.contains("tv6"));
        // The clone taken before the edits is unaffected (copy on write).
        assert_eq!(snapshot.to_text(), text);
        assert!(snapshot.verify("tv6", b"secret"));
    }

    #[test]
    fn set_refuses_bad_usernames() {
        let mut file = PasswordFile::new();
        let h = PasswordHash::sha512_with_salt(b"x", b"y");
        assert_eq!(file.set("a:b", h.clone()), Err(UsernameError::Colon));
        assert_eq!(file.set("a\tb", h.clone()), Err(UsernameError::ControlCharacters));
        assert_eq!(file.set("", h.clone()), Err(UsernameError::Empty));
        assert_eq!(file.set(" a", h.clone()), Err(UsernameError::SurroundingWhitespace));
        assert_eq!(file.set("#a", h.clone()), Err(UsernameError::LeadingHash));
        assert_eq!(file.set(&"a".repeat(65_536), h.clone()), Err(UsernameError::TooLong));
        assert!(file.set(&"a".repeat(65_535), h.clone()).is_ok());
        assert!(file.set("ü-user", h).is_ok());
    }

    fn hasher(password: &[u8]) -> Result<PasswordHash, HashError> {
        Ok(PasswordHash::pbkdf2_with_salt(password, b"saltsaltsalt", NonZeroU32::MIN))
    }

    #[test]
    fn upgrade_hashes_plain_text_and_keeps_comments() {
        let text = "# plain\nalice:one\n\n  carol  :  three  \nbob:pa:ss\n";
        let file = upgrade_plaintext(text, "f", hasher).expect("upgrade");
        assert!(file.verify("alice", b"one"));
        assert!(file.verify("carol", b"three"));
        assert!(file.verify("bob", b"pa:ss"));
        let out = file.to_text();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# plain");
        assert!(lines[1].starts_with("alice:$7$1$"));
        assert_eq!(lines[2], "");
        assert!(lines[3].starts_with("carol:$7$1$"));
        // The result is a valid hashed file.
        let reparsed = PasswordFile::parse(&out, "f").expect("hashed file parses");
        assert!(reparsed.verify("carol", b"three"));
    }

    #[test]
    fn upgrade_refuses_hashed_files() {
        let text = format!("alice:one\n{TV7}\n");
        assert_eq!(
            upgrade_plaintext(&text, "pw", hasher).expect_err("hashed"),
            UpgradeError::AlreadyHashed { path: "pw".into(), line: 2, username: "tv7".into() }
        );
        let argon = "u:$argon2id$v=19$m=64,t=1,p=1$x$y\n";
        assert!(matches!(upgrade_plaintext(argon, "pw", hasher), Err(UpgradeError::AlreadyHashed { line: 1, .. })));
    }

    #[test]
    fn upgrade_reports_bad_lines() {
        let err = upgrade_plaintext("a:x\nnocolon\nb:\na:y\n", "pw", hasher).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "pw:2: missing ':' between username and password hash\n\
             pw:3: empty password\n\
             pw:4: duplicate entry for user 'a' (first defined on line 1)"
        );
        let failing = |_: &[u8]| Err(HashError::Argon2("out of memory".into()));
        assert_eq!(
            upgrade_plaintext("a:x\n", "pw", failing).expect_err("hash fails").to_string(),
            "pw:1: argon2 hashing failed: out of memory"
        );
    }

    #[test]
    fn generated_hashes_of_every_algorithm_roundtrip_through_a_file() {
        let mut file = PasswordFile::new();
        for (user, algorithm) in
            [("p", HashAlgorithm::Sha512Pbkdf2), ("s", HashAlgorithm::Sha512), ("a", HashAlgorithm::Argon2id)]
        {
            let hash = PasswordHash::generate(b"pw", algorithm, NonZeroU32::MIN).expect("hash");
            file.set(user, hash).expect("set");
        }
        let reparsed = PasswordFile::parse(file.to_text(), "f").expect("parses");
        for user in ["p", "s", "a"] {
            assert!(reparsed.verify(user, b"pw"), "{user}");
            assert!(!reparsed.verify(user, b"pW"), "{user}");
        }
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Random lines: parsing either succeeds or reports errors, never panics, and every
            /// reported line number is within the file.
            #[test]
            fn parse_random_lines_never_panics(
                lines in proptest::collection::vec(
                    prop_oneof![
                        "\\PC{0,80}",
                        "[a-z #]{0,8}:\\$(6|7|argon2id)\\$[A-Za-z0-9+/=$,:mtpv ]{0,120}",
                        "[a-z]{1,8}:[^\n]{0,40}",
                    ],
                    0..20,
                ),
            ) {
                let text = lines.join("\n");
                match PasswordFile::parse(&text, "f") {
                    Ok(file) => {
                        // Whatever parsed renders back to the same text (plus a final newline).
                        let rendered = file.to_text();
                        prop_assert_eq!(rendered.trim_end_matches('\n'), text.trim_end_matches('\n'));
                    }
                    Err(e) => {
                        prop_assert!(!e.errors().is_empty());
                        let count = text.split('\n').count();
                        for err in e.errors() {
                            prop_assert!(err.line >= 1 && err.line <= count);
                        }
                    }
                }
                let _ = upgrade_plaintext(&text, "f", hasher);
            }

            /// Random bytes, including invalid UTF-8.
            #[test]
            fn parse_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = PasswordFile::parse(&bytes, "f");
            }
        }
    }
}
