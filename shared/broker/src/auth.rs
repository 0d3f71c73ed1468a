//! Authentication and authorisation in force for a listener: anonymous access, the password file and
//! the ACL. Password checks run on blocking threads behind a semaphore, so an expensive hash (argon2id
//! takes ~50 ms) or a storm of wrong passwords never stalls the network threads.
//!
//! Repeat logins are cheap without weakening the stored hashes: after a full verification succeeds, the
//! user's HMAC-SHA256 of user name and password, under a key drawn at random when the password file is
//! loaded, is kept in memory ([`CredentialCache`]). A later login whose HMAC matches is let in without
//! the slow hash; any other password (wrong, or changed) gets the full verification. The cache lives in
//! the [`Security`] that a reload (SIGHUP) replaces, so it never outlives the file it vouches for.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use hmac::{KeyInit as _, Mac as _};
use mq_passwd::PasswordFile;
use subtle::ConstantTimeEq as _;

use crate::acl::{Acl, AclError};
use tokio::sync::Semaphore;

/// Security settings of one listener (or of all, without `per_listener_settings`).
#[derive(Debug, Clone)]
pub struct Security {
    /// Clients without a user name may connect (`allow_anonymous`).
    pub allow_anonymous: bool,
    /// An empty client id gets a generated one (`allow_zero_length_clientid`).
    pub allow_zero_length_clientid: bool,
    /// Prefix of generated client ids (`auto_id_prefix`).
    pub auto_id_prefix: String,
    /// The password file, if configured.
    pub passwords: Option<PasswordFile>,
    /// The ACL, if configured.
    pub acl: Option<Arc<Acl>>,
    /// Credentials verified since the files were loaded.
    cache: Arc<CredentialCache>,
    /// Full (slow) password verifications run, unknown user names included.
    full_checks: Arc<AtomicU64>,
}

/// Most credentials [`CredentialCache`] keeps. Only users of the password file are ever cached, so its
/// size is that of the file at most; the bound matters for very large files.
pub const CREDENTIAL_CACHE_CAPACITY: usize = 100_000;

/// HMAC-SHA256 output.
type Tag = [u8; 32];

/// Recently verified credentials: user name → HMAC-SHA256(key, user name ‖ 0 ‖ password).
///
/// The key is random per cache, so the tags are worthless outside this process (and this load of the
/// file). A matching tag means the same password that passed a full verification; comparison is
/// constant-time.
pub struct CredentialCache {
    key: [u8; 32],
    tags: parking_lot::Mutex<HashMap<String, Tag>>,
    capacity: usize,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the key nor the tags belong in a log.
        f.debug_struct("CredentialCache").field("len", &self.tags.lock().len()).finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// An empty cache with a fresh random key, holding at most `capacity` users.
    pub fn new(capacity: usize) -> Self {
        Self { key: rand::random(), tags: parking_lot::Mutex::new(HashMap::new()), capacity }
    }

    /// The tag of a login.
    fn tag(&self, user: &str, password: &[u8]) -> Tag {
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            // HMAC takes keys of any length; an all-zero tag is never stored, so it matches nothing.
            return [0; 32];
        };
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password);
        mac.finalize().into_bytes().into()
    }

    /// Whether `user` last passed a full verification with the password of `tag`.
    fn matches(&self, user: &str, tag: &Tag) -> bool {
        self.tags.lock().get(user).is_some_and(|known| bool::from(known.ct_eq(tag)))
    }

    /// Remembers a login that passed a full verification.
    fn insert(&self, user: &str, tag: Tag) {
        let mut tags = self.tags.lock();
        if tags.len() >= self.capacity
            && !tags.contains_key(user)
            && let Some(evict) = tags.keys().next().cloned()
        {
            tags.remove(&evict);
        }
        tags.insert(user.to_owned(), tag);
    }

    /// Users remembered.
    pub fn len(&self) -> usize {
        self.tags.lock().len()
    }

    /// True when nobody is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why security files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{0}")]
    Passwords(#[from] mq_passwd::LoadError),
    #[error("{0}")]
    Acl(#[from] AclError),
}

/// Why a login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong user name or password, or no user name where one is required.
    NotAuthorized,
}

/// Password checks running at once; more wait their turn.
fn verifier_permits() -> &'static Arc<Semaphore> {
    static SEM: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SEM.get_or_init(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))))
}

impl Security {
    /// Loads the files named by the configuration. The password file is read as Mosquitto reads it:
    /// lines it cannot use are skipped, and returned (one `path:line: why` each) for the log.
    pub fn load(
        allow_anonymous: bool,
        allow_zero_length_clientid: bool,
        auto_id_prefix: &str,
        password_file: Option<&Path>,
        acl_file: Option<&Path>,
    ) -> Result<(Security, Vec<String>), SecurityError> {
        let mut skipped = Vec::new();
        let passwords = match password_file {
            Some(path) => {
                let (file, bad) = PasswordFile::load_lenient(path)?;
                if let Some(bad) = bad {
                    skipped.extend(
                        bad.errors()
                            .iter()
                            .map(|e| format!("{}:{}: {}; line skipped", bad.path().display(), e.line, e.kind)),
                    );
                }
                Some(file)
            }
            None => None,
        };
        let acl = acl_file.map(Acl::load).transpose()?.map(Arc::new);
        let security = Security {
            allow_anonymous,
            allow_zero_length_clientid,
            auto_id_prefix: auto_id_prefix.to_owned(),
            passwords,
            acl,
            cache: Arc::new(CredentialCache::new(CREDENTIAL_CACHE_CAPACITY)),
            full_checks: Arc::new(AtomicU64::new(0)),
        };
        Ok((security, skipped))
    }

    /// Full password verifications run so far (the slow hash, for known and unknown user names alike);
    /// logins let in from the cache are not counted.
    pub fn full_checks(&self) -> u64 {
        self.full_checks.load(Ordering::Relaxed)
    }

    /// Decides a login. Mosquitto's order: a user name is checked against the password file when there
    /// is one; without a user name, `allow_anonymous` decides. A user name and password that passed a
    /// full verification before are let in from the cache.
    pub async fn authenticate(&self, username: Option<&str>, password: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(user) = username else {
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        let Some(file) = &self.passwords else {
            // A user name but no password file: Mosquitto lets the client in as if anonymous.
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        let Some(password) = password else {
            return Err(Refusal::NotAuthorized);
        };
        let tag = self.cache.tag(user, password);
        if self.cache.matches(user, &tag) {
            return Ok(());
        }
        let file = file.clone();
        let owned_user = user.to_owned();
        let password = password.to_vec();
        let Ok(_permit) = verifier_permits().clone().acquire_owned().await else {
            return Err(Refusal::NotAuthorized);
        };
        self.full_checks.fetch_add(1, Ordering::Relaxed);
        let ok = tokio::task::spawn_blocking(move || file.verify(&owned_user, &password)).await.unwrap_or(false);
        if !ok {
            return Err(Refusal::NotAuthorized);
        }
        self.cache.insert(user, tag);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_passwd::PasswordHash;
    use std::num::NonZeroU32;

    /// A password file with `users` (`user:password`), at 1000 iterations.
    fn security(users: &[(&str, &str)]) -> (tempfile::TempDir, Security) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        let mut file = PasswordFile::new();
        for (user, password) in users {
            let hash = PasswordHash::pbkdf2_with_salt(
                password.as_bytes(),
                b"0123456789ab",
                NonZeroU32::new(1000).expect("1000"),
            );
            file.set(user, hash).expect("set");
        }
        std::fs::write(&path, file.to_text()).expect("write");
        let (security, skipped) = Security::load(false, true, "auto-", Some(&path), None).expect("loads");
        assert!(skipped.is_empty());
        (dir, security)
    }

    #[tokio::test]
    async fn a_verified_login_is_remembered() {
        let (_dir, sec) = security(&[("alice", "alice-pw"), ("bob", "bob-pw")]);
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw")).await, Ok(()));
        assert_eq!(sec.full_checks(), 1);
        for _ in 0..100 {
            assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw")).await, Ok(()));
        }
        assert_eq!(sec.full_checks(), 1, "repeat logins skip the slow hash");

        // A wrong password after a remembered login is refused, after a full check.
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pW")).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.full_checks(), 2);
        assert_eq!(sec.authenticate(Some("alice"), Some(b"")).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.full_checks(), 3);
        // ... and does not make the right one forgotten.
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw")).await, Ok(()));
        assert_eq!(sec.full_checks(), 3);
        // Another user's password is not alice's: tags are per user name.
        assert_eq!(sec.authenticate(Some("bob"), Some(b"alice-pw")).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.authenticate(Some("bob"), Some(b"bob-pw")).await, Ok(()));
        assert_eq!(sec.full_checks(), 5);
        // Unknown users and failed checks are never remembered.
        for _ in 0..2 {
            assert_eq!(sec.authenticate(Some("carol"), Some(b"x")).await, Err(Refusal::NotAuthorized));
        }
        assert_eq!(sec.full_checks(), 7);
        assert_eq!(sec.cache.len(), 2);
    }

    /// A reload builds a new `Security`: nothing remembered carries over, so a changed password file is
    /// checked afresh.
    #[tokio::test]
    async fn a_reload_forgets() {
        let (_dir, sec) = security(&[("alice", "old")]);
        assert_eq!(sec.authenticate(Some("alice"), Some(b"old")).await, Ok(()));
        let (_dir2, reloaded) = security(&[("alice", "new")]);
        assert_eq!(reloaded.authenticate(Some("alice"), Some(b"old")).await, Err(Refusal::NotAuthorized));
        assert_eq!(reloaded.authenticate(Some("alice"), Some(b"new")).await, Ok(()));
        assert_eq!(reloaded.full_checks(), 2);
    }

    #[test]
    fn the_cache_is_bounded_and_keyed_per_instance() {
        let cache = CredentialCache::new(3);
        for i in 0..10 {
            let user = format!("u{i}");
            cache.insert(&user, cache.tag(&user, b"pw"));
            assert!(cache.len() <= 3);
        }
        assert!(cache.matches("u9", &cache.tag("u9", b"pw")), "the newest entry stays");
        assert!(!cache.matches("u9", &cache.tag("u9", b"pw2")));
        let other = CredentialCache::new(3);
        assert_ne!(other.tag("u9", b"pw"), cache.tag("u9", b"pw"), "a fresh key per cache");
        assert!(!format!("{cache:?}").contains("key"), "{cache:?}");
    }
}
