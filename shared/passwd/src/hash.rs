//! Password hash formats of Mosquitto password files: parse, verify and generate.
//!
//! The part after `username:` on a password-file line is one of:
//!
//! | Form | Algorithm | Written by |
//! |---|---|---|
//! | `$6$<salt>$<hash>` | SHA-512(password ‖ salt), one pass (not crypt(3) SHA-crypt) | Mosquitto ≤ 1.6, `-H sha512` |
//! | `$7$<iterations>$<salt>$<hash>` | PBKDF2-HMAC-SHA512, 64-byte output | Mosquitto 2.x default |
//! | `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` | Argon2id v1.3 | Mosquitto 2.1 with argon2, `-H argon2id` |
//!
//! `$6$` and `$7$` use standard base64 with padding; the argon2id form uses standard base64 without
//! padding (PHC string format). Reading accepts either padding style, any salt length (Mosquitto 2.0
//! writes 12-byte salts, 2.1 writes 64-byte ones) and any iteration count ≥ 1.
//!
//! Parsing never panics: every malformed input is a [`HashError`]. Verification recomputes the hash
//! and compares it in constant time.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest as _, Sha512};
use subtle::ConstantTimeEq as _;

use crate::file::snippet;

/// Default PBKDF2 iteration count for new `$7$` hashes.
///
/// Mosquitto 2.0 writes 101 iterations, which costs an attacker with a stolen file almost nothing
/// (≈ 45 µs per guess on one core). OWASP's 2023 figure for PBKDF2-HMAC-SHA512 is 210,000, but the
/// broker has to run the same computation for every CONNECT that carries a password, on its own
/// CPUs: measured ≈ 95 ms per verification on the development VM (release build), so a reconnect
/// storm of 10,000 clients would cost over 15 CPU-minutes. 10,000 iterations make guessing ~100×
/// dearer than Mosquitto's default while one verification stays ≈ 4.5 ms, cheap enough for a
/// broker. Administrators who want more use `-I`, and `-H argon2id` is there for memory-hard
/// hashing.
pub const DEFAULT_ITERATIONS: u32 = 10_000;

/// Salt length of new `$6$` and `$7$` hashes: 12 bytes, the only length Mosquitto 2.0 accepts.
pub const SALT_LEN: usize = 12;

/// Digest length of `$6$` and `$7$` hashes (SHA-512 output size).
pub const HASH_LEN: usize = 64;

/// Argon2id memory cost (KiB) of new hashes: Mosquitto 2.1's `MOSQ_ARGON2_M`.
pub const ARGON2_M_COST: u32 = 47_104;
/// Argon2id time cost (passes) of new hashes: Mosquitto 2.1's `MOSQ_ARGON2_T`.
pub const ARGON2_T_COST: u32 = 1;
/// Argon2id parallelism (lanes) of new hashes: Mosquitto 2.1's `MOSQ_ARGON2_P`.
pub const ARGON2_P_COST: u32 = 1;
/// Argon2id salt length of new hashes (Mosquitto 2.1 uses 64 bytes).
pub const ARGON2_SALT_LEN: usize = 64;
/// Argon2id output length of new hashes (Mosquitto 2.1 uses 64 bytes).
pub const ARGON2_HASH_LEN: usize = 64;

/// Largest argon2 memory cost accepted when reading (4 GiB, in KiB).
///
/// The memory is allocated on every verification, so a typo such as `m=4294967295` in a password
/// file must not make the broker try to allocate 4 TiB per login.
pub const ARGON2_MAX_M_COST: u32 = 4 * 1024 * 1024;

/// Base64 with the standard alphabet that accepts input with or without `=` padding.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The hash algorithms `mq-passwd -H` can write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// `$7$`: PBKDF2-HMAC-SHA512 (`-H sha512-pbkdf2`, the default).
    #[default]
    Sha512Pbkdf2,
    /// `$6$`: one pass of SHA-512(password ‖ salt) (`-H sha512`, Mosquitto ≤ 1.6 and VerneMQ).
    Sha512,
    /// `$argon2id$`: Argon2id with Mosquitto 2.1's parameters (`-H argon2id`; Mosquitto 2.0 brokers
    /// cannot read it).
    Argon2id,
}

impl HashAlgorithm {
    /// Every algorithm, in the order the help text lists them.
    pub const ALL: [HashAlgorithm; 3] = [Self::Sha512Pbkdf2, Self::Sha512, Self::Argon2id];

    /// The `-H` name of the algorithm (`sha512-pbkdf2`, `sha512`, `argon2id`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha512Pbkdf2 => "sha512-pbkdf2",
            Self::Sha512 => "sha512",
            Self::Argon2id => "argon2id",
        }
    }

    /// Looks an algorithm up by its `-H` name (exact match, as Mosquitto does).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a password hash could not be parsed or produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Nothing after the `:`.
    #[error("empty password hash")]
    Empty,
    /// The field does not start with `$`: a plain-text password, which Mosquitto 2.0's broker
    /// rejects too.
    #[error(
        "plain-text password instead of a hash (hash the file with `mq-passwd -U` or set the \
         password with `mq-passwd`)"
    )]
    PlainText,
    /// A `$<id>$` this crate does not know (for example `$5$` or `$argon2i$`).
    #[error("unknown hash type '${0}$' (known: $6$, $7$, $argon2id$)")]
    UnknownType(String),
    /// The right type, but the wrong number of `$`-separated fields.
    #[error("malformed {kind} hash, expected {expected}")]
    Malformed {
        /// The hash type, e.g. `$7$`.
        kind: &'static str,
        /// The expected shape.
        expected: &'static str,
    },
    /// The `$7$` iteration count is not a decimal number from 1 to 4294967295.
    #[error("iteration count '{0}' is not a whole number from 1 to 4294967295")]
    BadIterations(String),
    /// The salt field is empty.
    #[error("empty salt")]
    EmptySalt,
    /// The salt field is not base64.
    #[error("salt is not valid base64")]
    SaltNotBase64,
    /// The hash field is not base64.
    #[error("hash is not valid base64")]
    HashNotBase64,
    /// A `$6$`/`$7$` hash that does not decode to 64 bytes.
    #[error("hash decodes to {0} bytes, expected 64")]
    BadHashLength(usize),
    /// An argon2 version other than `v=19`.
    #[error("unsupported argon2 version '{0}' (only v=19 is supported)")]
    Argon2Version(String),
    /// The `m=..,t=..,p=..` field is malformed or out of range.
    #[error("bad argon2 parameters '{params}': {reason}")]
    Argon2Params {
        /// The parameter field as found.
        params: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An argon2 salt shorter than the 8 bytes Argon2 requires.
    #[error("argon2 salt decodes to {0} bytes, at least 8 are required")]
    Argon2SaltTooShort(usize),
    /// An argon2 hash shorter than the 4 bytes Argon2 requires.
    #[error("argon2 hash decodes to {0} bytes, at least 4 are required")]
    Argon2HashTooShort(usize),
    /// Argon2 itself failed while hashing a new password (in practice: out of memory).
    #[error("argon2 hashing failed: {0}")]
    Argon2(String),
}

/// What a verification against a hash costs: its algorithm with the parameters that decide the work
/// (iteration count, argon2 costs, salt and digest lengths), without salt or digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashParams {
    /// `$6$`.
    Sha512 {
        /// Salt bytes.
        salt_len: usize,
    },
    /// `$7$`.
    Sha512Pbkdf2 {
        /// PBKDF2 iterations.
        iterations: NonZeroU32,
        /// Salt bytes.
        salt_len: usize,
    },
    /// `$argon2id$`.
    Argon2id {
        /// Memory in KiB.
        m_cost: u32,
        /// Passes.
        t_cost: u32,
        /// Lanes.
        p_cost: u32,
        /// Salt bytes.
        salt_len: usize,
        /// Digest bytes.
        hash_len: usize,
    },
}

/// A parsed password hash: algorithm, parameters, salt and digest.
///
/// Parse with [`str::parse`] / [`PasswordHash::parse`], print with [`fmt::Display`] (the exact text
/// of a password-file line after `username:`), check a password with [`PasswordHash::verify`].
/// `Debug` does not show the salt or digest.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    repr: Repr,
}

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Sha512 { salt: Box<[u8]>, hash: [u8; HASH_LEN] },
    Pbkdf2 { iterations: NonZeroU32, salt: Box<[u8]>, hash: [u8; HASH_LEN] },
    Argon2id { m_cost: u32, t_cost: u32, p_cost: u32, salt: Box<[u8]>, hash: Box<[u8]> },
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Salt and digest stay out of logs: they are what an offline attack needs.
        match &self.repr {
            Repr::Sha512 { salt, .. } => {
                f.debug_struct("PasswordHash::Sha512").field("salt_len", &salt.len()).finish_non_exhaustive()
            }
            Repr::Pbkdf2 { iterations, salt, .. } => f
                .debug_struct("PasswordHash::Sha512Pbkdf2")
                .field("iterations", iterations)
                .field("salt_len", &salt.len())
                .finish_non_exhaustive(),
            Repr::Argon2id { m_cost, t_cost, p_cost, salt, hash } => f
                .debug_struct("PasswordHash::Argon2id")
                .field("m_cost", m_cost)
                .field("t_cost", t_cost)
                .field("p_cost", p_cost)
                .field("salt_len", &salt.len())
                .field("hash_len", &hash.len())
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Display for PasswordHash {
    /// The password-file form, byte-identical to what Mosquitto writes for the same values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Sha512 { salt, hash } => {
                write!(f, "$6${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
            }
            Repr::Pbkdf2 { iterations, salt, hash } => {
                write!(f, "$7${iterations}${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
            }
            Repr::Argon2id { m_cost, t_cost, p_cost, salt, hash } => write!(
                f,
                "$argon2id$v=19$m={m_cost},t={t_cost},p={p_cost}${}${}",
                STANDARD_NO_PAD.encode(salt),
                STANDARD_NO_PAD.encode(hash)
            ),
        }
    }
}

impl FromStr for PasswordHash {
    type Err = HashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// True when `field` starts like one of the hash forms this crate reads (`$6$`, `$7$`,
/// `$argon2id$`), whether or not the rest is well formed.
///
/// `mq-passwd -U` uses it to refuse hashing a file that is already hashed.
pub fn looks_hashed(field: &str) -> bool {
    ["$6$", "$7$", "$argon2id$"].iter().any(|prefix| field.starts_with(prefix))
}

impl PasswordHash {
    /// Parses the part of a password-file line after `username:` (already trimmed).
    ///
    /// # Errors
    /// A [`HashError`] saying what is wrong; never panics, whatever the input.
    pub fn parse(field: &str) -> Result<Self, HashError> {
        if field.is_empty() {
            return Err(HashError::Empty);
        }
        let Some(rest) = field.strip_prefix('$') else {
            return Err(HashError::PlainText);
        };
        let (id, body) = rest.split_once('$').unwrap_or((rest, ""));
        match id {
            "6" => parse_sha512(body),
            "7" => parse_pbkdf2(body),
            "argon2id" => parse_argon2id(body),
            other => Err(HashError::UnknownType(snippet(other))),
        }
    }

    /// Hashes `password` with `algorithm` and a fresh random salt.
    ///
    /// `iterations` is used by [`HashAlgorithm::Sha512Pbkdf2`] only (Mosquitto ignores `-I` for
    /// `sha512` as well); argon2id uses Mosquitto 2.1's fixed parameters.
    ///
    /// # Errors
    /// Only argon2id can fail ([`HashError::Argon2`], in practice when its 46 MiB cannot be allocated).
    pub fn generate(password: &[u8], algorithm: HashAlgorithm, iterations: NonZeroU32) -> Result<Self, HashError> {
        match algorithm {
            HashAlgorithm::Sha512Pbkdf2 => Ok(Self::pbkdf2_with_salt(password, &random_salt(SALT_LEN), iterations)),
            HashAlgorithm::Sha512 => Ok(Self::sha512_with_salt(password, &random_salt(SALT_LEN))),
            HashAlgorithm::Argon2id => Self::argon2id_with_params(
                password,
                &random_salt(ARGON2_SALT_LEN),
                ARGON2_M_COST,
                ARGON2_T_COST,
                ARGON2_P_COST,
                ARGON2_HASH_LEN,
            ),
        }
    }

    /// A `$7$` hash with a caller-chosen salt. Deterministic, for test vectors; real hashes come
    /// from [`PasswordHash::generate`], which uses a random salt.
    pub fn pbkdf2_with_salt(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Self {
        Self { repr: Repr::Pbkdf2 { iterations, salt: salt.into(), hash: pbkdf2_sha512(password, salt, iterations) } }
    }

    /// A `$6$` hash with a caller-chosen salt. Deterministic, for test vectors.
    pub fn sha512_with_salt(password: &[u8], salt: &[u8]) -> Self {
        Self { repr: Repr::Sha512 { salt: salt.into(), hash: sha512_salted(password, salt) } }
    }

    /// An `$argon2id$` hash with caller-chosen salt and parameters. Deterministic, for test
    /// vectors.
    ///
    /// # Errors
    /// [`HashError::Argon2Params`] / [`HashError::Argon2SaltTooShort`] /
    /// [`HashError::Argon2HashTooShort`] for parameters Argon2 refuses, [`HashError::Argon2`] when
    /// hashing fails.
    pub fn argon2id_with_params(
        password: &[u8],
        salt: &[u8],
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
        hash_len: usize,
    ) -> Result<Self, HashError> {
        check_argon2_params(m_cost, t_cost, p_cost, hash_len).map_err(|reason| HashError::Argon2Params {
            params: format!("m={m_cost},t={t_cost},p={p_cost}"),
            reason,
        })?;
        if salt.len() < argon2::MIN_SALT_LEN {
            return Err(HashError::Argon2SaltTooShort(salt.len()));
        }
        if hash_len < argon2::Params::MIN_OUTPUT_LEN {
            return Err(HashError::Argon2HashTooShort(hash_len));
        }
        let hash = argon2id(password, salt, m_cost, t_cost, p_cost, hash_len)?;
        Ok(Self { repr: Repr::Argon2id { m_cost, t_cost, p_cost, salt: salt.into(), hash: hash.into() } })
    }

    /// The algorithm of this hash.
    pub fn algorithm(&self) -> HashAlgorithm {
        match self.repr {
            Repr::Sha512 { .. } => HashAlgorithm::Sha512,
            Repr::Pbkdf2 { .. } => HashAlgorithm::Sha512Pbkdf2,
            Repr::Argon2id { .. } => HashAlgorithm::Argon2id,
        }
    }

    /// The PBKDF2 iteration count of a `$7$` hash, `None` for the other forms.
    pub fn iterations(&self) -> Option<u32> {
        match self.repr {
            Repr::Pbkdf2 { iterations, .. } => Some(iterations.get()),
            _ => None,
        }
    }

    /// The parameters that decide what verifying against this hash costs.
    pub fn params(&self) -> HashParams {
        match &self.repr {
            Repr::Sha512 { salt, .. } => HashParams::Sha512 { salt_len: salt.len() },
            Repr::Pbkdf2 { iterations, salt, .. } => {
                HashParams::Sha512Pbkdf2 { iterations: *iterations, salt_len: salt.len() }
            }
            Repr::Argon2id { m_cost, t_cost, p_cost, salt, hash } => HashParams::Argon2id {
                m_cost: *m_cost,
                t_cost: *t_cost,
                p_cost: *p_cost,
                salt_len: salt.len(),
                hash_len: hash.len(),
            },
        }
    }

    /// A hash with `params` that no password matches (random salt, random digest): verifying
    /// against it costs what verifying against a real hash with these parameters costs. For
    /// unknown user names, so that refusing them takes as long as refusing a wrong password.
    pub fn decoy_with(params: HashParams) -> Self {
        let repr = match params {
            HashParams::Sha512 { salt_len } => {
                Repr::Sha512 { salt: random_salt(salt_len).into(), hash: random_digest() }
            }
            HashParams::Sha512Pbkdf2 { iterations, salt_len } => {
                Repr::Pbkdf2 { iterations, salt: random_salt(salt_len).into(), hash: random_digest() }
            }
            HashParams::Argon2id { m_cost, t_cost, p_cost, salt_len, hash_len } => Repr::Argon2id {
                m_cost,
                t_cost,
                p_cost,
                salt: random_salt(salt_len).into(),
                hash: random_salt(hash_len).into(),
            },
        };
        Self { repr }
    }

    /// The decoded salt.
    pub fn salt(&self) -> &[u8] {
        match &self.repr {
            Repr::Sha512 { salt, .. } | Repr::Pbkdf2 { salt, .. } | Repr::Argon2id { salt, .. } => salt,
        }
    }

    /// True when this hash is readable by a Mosquitto 2.0 broker: `$6$`/`$7$` with a 12-byte salt.
    pub fn is_mosquitto_2_0_compatible(&self) -> bool {
        match &self.repr {
            Repr::Sha512 { salt, .. } | Repr::Pbkdf2 { salt, .. } => salt.len() == SALT_LEN,
            Repr::Argon2id { .. } => false,
        }
    }

    /// Checks `password` (the bytes of the CONNECT password field) against this hash.
    ///
    /// The digest comparison is constant-time. The cost is that of the hash: microseconds for
    /// `$6$`, milliseconds for `$7$` at the default iteration count, ~100 ms and ~46 MiB for
    /// Mosquitto 2.1's argon2id parameters, so a broker should call this off its I/O threads.
    ///
    /// Mosquitto's broker stops at the first NUL byte of the password (C string); this hashes all
    /// bytes, so `secret\0x` does not match a hash of `secret`. (Trailing NUL bytes never change a
    /// `$7$` digest: HMAC pads its key with zeros. A property of PBKDF2-HMAC, not of this code.)
    pub fn verify(&self, password: &[u8]) -> bool {
        match &self.repr {
            Repr::Sha512 { salt, hash } => ct_eq(&sha512_salted(password, salt), hash),
            Repr::Pbkdf2 { iterations, salt, hash } => ct_eq(&pbkdf2_sha512(password, salt, *iterations), hash),
            Repr::Argon2id { m_cost, t_cost, p_cost, salt, hash } => {
                match argon2id(password, salt, *m_cost, *t_cost, *p_cost, hash.len()) {
                    Ok(candidate) => ct_eq(&candidate, hash),
                    // Parameters were validated when parsing; what is left is allocation failure, and
                    // a login that could not be checked must not succeed.
                    Err(_) => false,
                }
            }
        }
    }

    /// A `$7$` hash at the default iteration count that no password matches: the decoy of a file
    /// without entries (see [`PasswordHash::decoy_with`]).
    pub(crate) fn decoy() -> Self {
        Self {
            repr: Repr::Pbkdf2 {
                iterations: default_iterations(),
                salt: Box::new([0x5a; SALT_LEN]),
                // An all-zero digest: finding a password whose PBKDF2 output is 64 zero bytes is
                // as hard as inverting SHA-512.
                hash: [0; HASH_LEN],
            },
        }
    }
}

/// [`DEFAULT_ITERATIONS`] as a `NonZeroU32`.
pub fn default_iterations() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn random_salt(len: usize) -> Vec<u8> {
    let mut salt = vec![0u8; len];
    // rand's thread RNG is a CSPRNG seeded from the OS.
    rand::fill(&mut salt[..]);
    salt
}

fn random_digest() -> [u8; HASH_LEN] {
    let mut digest = [0u8; HASH_LEN];
    rand::fill(&mut digest[..]);
    digest
}

fn sha512_salted(password: &[u8], salt: &[u8]) -> [u8; HASH_LEN] {
    Sha512::new().chain_update(password).chain_update(salt).finalize().into()
}

fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations.get(), &mut out);
    out
}

fn argon2id(
    password: &[u8],
    salt: &[u8],
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    hash_len: usize,
) -> Result<Vec<u8>, HashError> {
    let params =
        argon2::Params::new(m_cost, t_cost, p_cost, Some(hash_len)).map_err(|e| HashError::Argon2(e.to_string()))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = vec![0u8; hash_len];
    hasher.hash_password_into(password, salt, &mut out).map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(out)
}

/// Argon2's own limits plus [`ARGON2_MAX_M_COST`]; `Err` carries the reason.
fn check_argon2_params(m_cost: u32, t_cost: u32, p_cost: u32, hash_len: usize) -> Result<(), String> {
    if m_cost > ARGON2_MAX_M_COST {
        return Err(format!("memory cost {m_cost} KiB is above the {ARGON2_MAX_M_COST} KiB (4 GiB) limit"));
    }
    argon2::Params::new(m_cost, t_cost, p_cost, Some(hash_len)).map(|_| ()).map_err(|e| e.to_string())
}

fn decode_salt(field: &str, engine: &GeneralPurpose) -> Result<Vec<u8>, HashError> {
    if field.is_empty() {
        return Err(HashError::EmptySalt);
    }
    engine.decode(field).map_err(|_| HashError::SaltNotBase64)
}

fn decode_hash64(field: &str) -> Result<[u8; HASH_LEN], HashError> {
    let bytes = B64_LENIENT.decode(field).map_err(|_| HashError::HashNotBase64)?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| HashError::BadHashLength(len))
}

/// `<salt>$<hash>`
fn parse_sha512(body: &str) -> Result<PasswordHash, HashError> {
    const MALFORMED: HashError = HashError::Malformed { kind: "$6$", expected: "$6$<salt>$<hash>" };
    let mut fields = body.split('$');
    let (Some(salt), Some(hash), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(MALFORMED);
    };
    Ok(PasswordHash {
        repr: Repr::Sha512 { salt: decode_salt(salt, &B64_LENIENT)?.into(), hash: decode_hash64(hash)? },
    })
}

/// `<iterations>$<salt>$<hash>`
fn parse_pbkdf2(body: &str) -> Result<PasswordHash, HashError> {
    const MALFORMED: HashError = HashError::Malformed { kind: "$7$", expected: "$7$<iterations>$<salt>$<hash>" };
    let mut fields = body.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(MALFORMED);
    };
    Ok(PasswordHash {
        repr: Repr::Pbkdf2 {
            iterations: parse_iterations(iterations)?,
            salt: decode_salt(salt, &B64_LENIENT)?.into(),
            hash: decode_hash64(hash)?,
        },
    })
}

/// Strict decimal (no sign, no spaces), 1..=u32::MAX.
fn parse_iterations(field: &str) -> Result<NonZeroU32, HashError> {
    let bad = || HashError::BadIterations(snippet(field));
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    field.parse::<NonZeroU32>().map_err(|_| bad())
}

/// `v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>`
///
/// Parsed by hand: RustCrypto's PHC parser caps salts at 48 bytes and Mosquitto 2.1 writes 64.
fn parse_argon2id(body: &str) -> Result<PasswordHash, HashError> {
    const MALFORMED: HashError = HashError::Malformed {
        kind: "$argon2id$",
        expected: "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>",
    };
    let mut fields = body.split('$');
    let (Some(version), Some(params), Some(salt), Some(hash), None) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(MALFORMED);
    };
    if version != "v=19" {
        return Err(HashError::Argon2Version(snippet(version)));
    }
    let (m_cost, t_cost, p_cost) =
        parse_argon2_params(params).map_err(|reason| HashError::Argon2Params { params: snippet(params), reason })?;
    let salt = decode_salt(salt, &B64_LENIENT)?;
    if salt.len() < argon2::MIN_SALT_LEN {
        return Err(HashError::Argon2SaltTooShort(salt.len()));
    }
    let hash = B64_LENIENT.decode(hash).map_err(|_| HashError::HashNotBase64)?;
    if hash.len() < argon2::Params::MIN_OUTPUT_LEN {
        return Err(HashError::Argon2HashTooShort(hash.len()));
    }
    check_argon2_params(m_cost, t_cost, p_cost, hash.len())
        .map_err(|reason| HashError::Argon2Params { params: snippet(params), reason })?;
    Ok(PasswordHash { repr: Repr::Argon2id { m_cost, t_cost, p_cost, salt: salt.into(), hash: hash.into() } })
}

/// `m=..,t=..,p=..` in any order, each exactly once, nothing else.
fn parse_argon2_params(params: &str) -> Result<(u32, u32, u32), String> {
    let (mut m, mut t, mut p) = (None, None, None);
    for item in params.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("'{}' is not key=value", snippet(item)));
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{}' value '{}' is not a whole number", snippet(key), snippet(value)));
        }
        let value: u32 =
            value.parse().map_err(|_| format!("'{}' value '{}' is too large", snippet(key), snippet(value)))?;
        let slot = match key {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            other => return Err(format!("unknown parameter '{}'", snippet(other))),
        };
        if slot.replace(value).is_some() {
            return Err(format!("parameter '{key}' given twice"));
        }
    }
    match (m, t, p) {
        (Some(m), Some(t), Some(p)) => Ok((m, t, p)),
        _ => Err("m, t and p are all required".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    /// mosquitto.md §3.3: password `secret`, salt = bytes 00..0b. Both accepted by Mosquitto
    /// 2.0.11's broker for `secret` and rejected for `Secret`.
    const TV7: &str = "$7$101$AAECAwQFBgcICQoL$Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==";
    const TV6: &str =
        "$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==";

    const SALT_00_0B: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    #[test]
    fn deterministic_vectors_verify() {
        for line in [TV7, TV6] {
            let hash: PasswordHash = line.parse().expect(line);
            assert!(hash.verify(b"secret"), "{line}");
            assert!(!hash.verify(b"Secret"), "{line}");
            assert!(!hash.verify(b""), "{line}");
            assert_eq!(hash.salt(), SALT_00_0B);
            assert!(hash.is_mosquitto_2_0_compatible());
        }
    }

    #[test]
    fn deterministic_vectors_are_reproduced_byte_for_byte() {
        assert_eq!(PasswordHash::pbkdf2_with_salt(b"secret", &SALT_00_0B, nz(101)).to_string(), TV7);
        assert_eq!(PasswordHash::sha512_with_salt(b"secret", &SALT_00_0B).to_string(), TV6);
    }

    /// Lines written by `mosquitto_passwd` 2.0.11 on the development machine
    /// (`mosquitto_passwd -c -b f <user> <password>` and variants).
    #[test]
    fn golden_hashes_from_mosquitto_passwd() {
        let cases: [(&str, &[u8], Option<u32>, HashAlgorithm); 5] = [
            // -c -b f alice secret (default: $7$, 101 iterations)
            (
                "$7$101$SsQGC0lHtPH/ioHn$7U0zTrI+ygHzCqR9SeWgo+WqZSA3yZFZiaGKkuMXvE+YBYICmaRCfgLORyHW2GRT8TjE7PllLv5WcNG9UofrQA==",
                b"secret",
                Some(101),
                HashAlgorithm::Sha512Pbkdf2,
            ),
            // -I 1000 -c -b f bob secret
            (
                "$7$1000$TYKtjXer9XCnQMa5$RWoT3AdQNftBNVOYY0z+L9YjsJHoXKWkYX/lLEb+lkD0GRMopwAygkwS/YtVGCCrgKpAk7KzGk3kZIQ4L4WcNA==",
                b"secret",
                Some(1000),
                HashAlgorithm::Sha512Pbkdf2,
            ),
            // -H sha512 -b f carol secret
            (
                "$6$0NmBwGDC7QMAff6a$XyGdq5bxegMI3RDlSzlMR8fy7RDZawNONER827V4NSyoJD0enWB0BRgX+tNsppEaV/bFVj7rEo7htk0gDNW8FA==",
                b"secret",
                None,
                HashAlgorithm::Sha512,
            ),
            // -c -b f ü pässwörd (non-ASCII password, UTF-8 bytes)
            (
                "$7$101$HKqk86heEQu5OvgV$8fpP4gedKVYr+ln2aFO2g1L2XRoxpK2Po7XvEIZr6Cl7/0l49O+VpNUpNUh75tTA1lc4LjMv7fBhExzbUsLM0A==",
                "pässwörd".as_bytes(),
                Some(101),
                HashAlgorithm::Sha512Pbkdf2,
            ),
            // printf 'p w \np w \n' | mosquitto_passwd -c f bob (spaces are part of the password)
            (
                "$7$101$pScV/vrQvyUK8jXI$0IiKjA2R8GANMqgE+DPC+D3DUchDKtK3MluFgKW1SrGW5YK6cXt8WDbfd9vf3tiFQhjJqhLrYvz8hUIzXQOCPQ==",
                b"p w ",
                Some(101),
                HashAlgorithm::Sha512Pbkdf2,
            ),
        ];
        for (line, password, iterations, algorithm) in cases {
            let hash: PasswordHash = line.parse().expect(line);
            assert_eq!(hash.algorithm(), algorithm, "{line}");
            assert_eq!(hash.iterations(), iterations, "{line}");
            assert!(hash.verify(password), "{line}");
            assert!(!hash.verify(b"wrong"), "{line}");
            // Re-encoding gives back the exact line: we write what Mosquitto writes.
            assert_eq!(hash.to_string(), line);
        }
    }

    /// Mosquitto 2.1 writes `$7$1000$` with 64-byte salts; 2.0 rejects them, we read them.
    #[test]
    fn pbkdf2_with_64_byte_salt() {
        let salt: Vec<u8> = (0u8..64).collect();
        let made = PasswordHash::pbkdf2_with_salt(b"secret", &salt, nz(1000)).to_string();
        let salt_b64 = STANDARD.encode(&salt);
        assert_eq!(salt_b64.len(), 88);
        assert!(made.starts_with(&format!("$7$1000${salt_b64}$")));
        let hash: PasswordHash = made.parse().expect("64-byte salt parses");
        assert_eq!(hash.salt().len(), 64);
        assert!(!hash.is_mosquitto_2_0_compatible());
        assert!(hash.verify(b"secret"));
        assert!(!hash.verify(b"Secret"));
        // Independent of our encoder: a hand-assembled line with the same salt.
        let mut expected = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(b"secret", &salt, 1000, &mut expected);
        let manual = format!("$7$1000${salt_b64}${}", STANDARD.encode(expected));
        assert!(PasswordHash::parse(&manual).expect("parses").verify(b"secret"));
    }

    #[test]
    fn odd_salt_lengths_and_iteration_counts() {
        for (salt_len, iterations) in [(1usize, 1u32), (5, 2), (16, 3), (33, 7), (100, 1)] {
            let salt = vec![0xa5u8; salt_len];
            let line = PasswordHash::pbkdf2_with_salt(b"pw", &salt, nz(iterations)).to_string();
            let hash = PasswordHash::parse(&line).expect(&line);
            assert!(hash.verify(b"pw"), "{line}");
            assert!(!hash.verify(b"pW"), "{line}");
            let line6 = PasswordHash::sha512_with_salt(b"pw", &salt).to_string();
            assert!(PasswordHash::parse(&line6).expect(&line6).verify(b"pw"));
        }
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let unpadded = TV7.trim_end_matches('=');
        assert!(PasswordHash::parse(unpadded).expect("unpadded").verify(b"secret"));
    }

    /// An argon2id line made by our code must have the shape Mosquitto 2.1 writes:
    /// `$argon2id$v=19$m=47104,t=1,p=1$<86 chars: 64-byte salt>$<86 chars: 64-byte hash>`,
    /// unpadded standard base64.
    #[test]
    fn argon2id_generated_matches_mosquitto_2_1_shape() {
        let hash = PasswordHash::generate(b"secret", HashAlgorithm::Argon2id, nz(1)).expect("argon2 hashing");
        let line = hash.to_string();
        let fields: Vec<&str> = line.split('$').collect();
        assert_eq!(fields.len(), 6, "{line}");
        assert_eq!(fields[0], "");
        assert_eq!(fields[1], "argon2id");
        assert_eq!(fields[2], "v=19");
        assert_eq!(fields[3], "m=47104,t=1,p=1");
        for field in &fields[4..] {
            assert_eq!(field.len(), 86, "{line}");
            assert!(!field.contains('='), "no padding: {line}");
            assert_eq!(STANDARD_NO_PAD.decode(field).expect("base64").len(), 64);
        }
        let parsed = PasswordHash::parse(&line).expect("own argon2 line parses");
        assert_eq!(parsed, hash);
        assert!(parsed.verify(b"secret"));
        assert!(!parsed.verify(b"Secret"));
        assert!(!parsed.is_mosquitto_2_0_compatible());
    }

    /// Known-answer check independent of our own writer: the argon2 crate's raw API with the
    /// same inputs must produce the hash in a hand-written line.
    #[test]
    fn argon2id_hand_written_line_verifies() {
        let salt = [7u8; 64];
        let params = argon2::Params::new(64, 2, 1, Some(32)).expect("params");
        let mut out = [0u8; 32];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(b"secret", &salt, &mut out)
            .expect("hash");
        let line =
            format!("$argon2id$v=19$t=2,p=1,m=64${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out));
        let hash = PasswordHash::parse(&line).expect(&line);
        assert!(hash.verify(b"secret"));
        assert!(!hash.verify(b"secreT"));
    }

    #[test]
    fn generated_pbkdf2_defaults() {
        let hash = PasswordHash::generate(b"pw", HashAlgorithm::Sha512Pbkdf2, default_iterations()).expect("pbkdf2");
        let line = hash.to_string();
        assert!(line.starts_with("$7$10000$"), "{line}");
        assert_eq!(hash.salt().len(), 12);
        assert!(hash.is_mosquitto_2_0_compatible());
        assert!(PasswordHash::parse(&line).expect("parses").verify(b"pw"));
        // Fresh salt every time.
        let again = PasswordHash::generate(b"pw", HashAlgorithm::Sha512Pbkdf2, default_iterations()).expect("pbkdf2");
        assert_ne!(hash.salt(), again.salt());
    }

    #[test]
    fn generated_sha512() {
        let hash = PasswordHash::generate(b"pw", HashAlgorithm::Sha512, nz(5)).expect("sha512");
        let line = hash.to_string();
        assert!(line.starts_with("$6$"), "{line}");
        assert_eq!(line.split('$').count(), 4);
        assert!(PasswordHash::parse(&line).expect("parses").verify(b"pw"));
    }

    #[test]
    fn decoys_have_the_parameters_asked_for() {
        for line in [
            TV7,
            TV6,
            "$7$10000$AAECAwQFBgcICQoL$Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==",
        ] {
            let real: PasswordHash = line.parse().expect(line);
            let decoy = PasswordHash::decoy_with(real.params());
            assert_eq!(decoy.params(), real.params(), "{line}");
            assert_ne!(decoy.salt(), real.salt());
            assert!(!decoy.verify(b"secret"));
        }
        let argon = PasswordHash::argon2id_with_params(b"pw", &[1; 16], 64, 2, 1, 32).expect("argon2");
        let decoy = PasswordHash::decoy_with(argon.params());
        assert_eq!(
            decoy.params(),
            HashParams::Argon2id { m_cost: 64, t_cost: 2, p_cost: 1, salt_len: 16, hash_len: 32 }
        );
        assert!(!decoy.verify(b"pw"));
    }

    #[test]
    fn decoy_never_matches() {
        let decoy = PasswordHash::decoy();
        assert!(!decoy.verify(b""));
        assert!(!decoy.verify(b"secret"));
    }

    #[test]
    fn malformed_hashes_are_typed_errors() {
        let salt = "AAECAwQFBgcICQoL";
        let h64 = TV7.rsplit('$').next().expect("hash field");
        let cases: Vec<(String, HashError)> = vec![
            (String::new(), HashError::Empty),
            ("secret".into(), HashError::PlainText),
            ("7$101$x$y".into(), HashError::PlainText),
            ("$5$abc$def".into(), HashError::UnknownType("5".into())),
            ("$argon2i$v=19$m=8,t=1,p=1$x$y".into(), HashError::UnknownType("argon2i".into())),
            ("$".into(), HashError::UnknownType(String::new())),
            ("$7$101$abc".into(), HashError::Malformed { kind: "$7$", expected: "$7$<iterations>$<salt>$<hash>" }),
            (
                format!("$7$101${salt}${h64}$extra"),
                HashError::Malformed { kind: "$7$", expected: "$7$<iterations>$<salt>$<hash>" },
            ),
            ("$6$onlysalt".into(), HashError::Malformed { kind: "$6$", expected: "$6$<salt>$<hash>" }),
            (format!("$7$0${salt}${h64}"), HashError::BadIterations("0".into())),
            (format!("$7$-5${salt}${h64}"), HashError::BadIterations("-5".into())),
            (format!("$7$ 5${salt}${h64}"), HashError::BadIterations(" 5".into())),
            (format!("$7$${salt}${h64}"), HashError::BadIterations(String::new())),
            (format!("$7$99999999999${salt}${h64}"), HashError::BadIterations("99999999999".into())),
            (format!("$7$101$${h64}"), HashError::EmptySalt),
            (format!("$7$101$no*base64${h64}"), HashError::SaltNotBase64),
            (format!("$7$101${salt}$!!!"), HashError::HashNotBase64),
            (format!("$7$101${salt}$"), HashError::BadHashLength(0)),
            (format!("$7$101${salt}${salt}"), HashError::BadHashLength(12)),
            (format!("$6${salt}$AAAA"), HashError::BadHashLength(3)),
            (format!("$argon2id$v=16$m=64,t=1,p=1${salt}${salt}"), HashError::Argon2Version("v=16".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(PasswordHash::parse(&input), Err(expected), "input: {input:?}");
        }
    }

    #[test]
    fn malformed_argon2_params() {
        let salt = STANDARD_NO_PAD.encode([1u8; 16]);
        let hash = STANDARD_NO_PAD.encode([2u8; 32]);
        for params in [
            "m=64,t=1",
            "m=64,t=1,p=1,x=2",
            "m=64,t=1,p=1,m=64",
            "m=64;t=1;p=1",
            "m=6a,t=1,p=1",
            "m=,t=1,p=1",
            "m=4,t=1,p=1",          // below argon2's minimum memory
            "m=64,t=0,p=1",         // zero passes
            "m=64,t=1,p=0",         // zero lanes
            "m=4294967295,t=1,p=1", // above our 4 GiB cap
            "m=99999999999,t=1,p=1",
        ] {
            let line = format!("$argon2id$v=19${params}${salt}${hash}");
            match PasswordHash::parse(&line) {
                Err(HashError::Argon2Params { params: p, .. }) => assert_eq!(p, params),
                other => panic!("{line}: {other:?}"),
            }
        }
        let short_salt = STANDARD_NO_PAD.encode([1u8; 4]);
        assert_eq!(
            PasswordHash::parse(&format!("$argon2id$v=19$m=64,t=1,p=1${short_salt}${hash}")),
            Err(HashError::Argon2SaltTooShort(4))
        );
        let short_hash = STANDARD_NO_PAD.encode([1u8; 3]);
        assert_eq!(
            PasswordHash::parse(&format!("$argon2id$v=19$m=64,t=1,p=1${salt}${short_hash}")),
            Err(HashError::Argon2HashTooShort(3))
        );
    }

    #[test]
    fn looks_hashed_prefixes() {
        assert!(looks_hashed(TV7));
        assert!(looks_hashed(TV6));
        assert!(looks_hashed("$argon2id$whatever"));
        assert!(!looks_hashed("secret"));
        assert!(!looks_hashed("$5$x"));
        assert!(!looks_hashed("$argon2i$x"));
    }

    #[test]
    fn algorithm_names() {
        for algorithm in HashAlgorithm::ALL {
            assert_eq!(HashAlgorithm::from_name(algorithm.name()), Some(algorithm));
        }
        assert_eq!(HashAlgorithm::from_name("md5"), None);
        assert_eq!(HashAlgorithm::from_name("SHA512"), None);
    }

    #[test]
    fn debug_hides_digest() {
        let hash = PasswordHash::parse(TV7).expect("tv7");
        let debug = format!("{hash:?}");
        assert!(debug.contains("iterations"));
        assert!(!debug.contains("AAECAwQFBgcICQoL"));
        assert!(!debug.contains("Xr99"));
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Arbitrary text never panics the parser.
            #[test]
            fn parse_never_panics(s in "\\PC{0,200}") {
                let _ = PasswordHash::parse(&s);
            }

            /// Text close to the real forms (right prefixes, base64 characters, separators).
            #[test]
            fn parse_never_panics_near_miss(
                prefix in proptest::sample::select(vec!["$6$", "$7$", "$argon2id$", "$argon2id$v=19$", "$", ""]),
                body in "[A-Za-z0-9+/=$,:mtpv ]{0,160}",
            ) {
                let _ = PasswordHash::parse(&format!("{prefix}{body}"));
            }

            /// Whatever we generate parses back to the same value and verifies.
            #[test]
            fn roundtrip(
                password in proptest::collection::vec(any::<u8>(), 0..64),
                salt in proptest::collection::vec(any::<u8>(), 1..80),
                iterations in 1u32..20,
            ) {
                for hash in [
                    PasswordHash::pbkdf2_with_salt(&password, &salt, nz(iterations)),
                    PasswordHash::sha512_with_salt(&password, &salt),
                ] {
                    let parsed = PasswordHash::parse(&hash.to_string()).expect("roundtrip");
                    prop_assert_eq!(&parsed, &hash);
                    prop_assert!(parsed.verify(&password));
                    // Not a NUL: HMAC zero-pads its key, so "pw" and "pw\0" are the same
                    // PBKDF2 key.
                    let mut other = password.clone();
                    other.push(1);
                    prop_assert!(!parsed.verify(&other));
                }
            }
        }
    }
}
