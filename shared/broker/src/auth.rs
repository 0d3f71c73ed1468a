//! Authentication and authorisation in force for a listener: anonymous access, the password file and
//! the ACL. Password checks run on blocking threads, as many at once as there are cores, so an expensive
//! hash (argon2id takes ~50 ms) or a storm of wrong passwords never stalls the network threads. Checks
//! that wait for their turn are served round-robin per source address ([`FairGate`]): a flood of
//! CONNECTs from one address queues behind itself, not in front of everyone else.
//!
//! Repeat logins are cheap without weakening the stored hashes: after a full verification succeeds, the
//! user's HMAC-SHA256 of user name and password, under a key drawn at random when the password file is
//! loaded, is kept in memory ([`CredentialCache`]). A later login whose HMAC matches is let in without
//! the slow hash; any other password (wrong, or changed) gets the full verification. The cache lives in
//! the [`Security`] that a reload (SIGHUP) replaces, so it never outlives the file it vouches for.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use hmac::{KeyInit as _, Mac as _};
use mq_passwd::PasswordFile;
use subtle::ConstantTimeEq as _;

use crate::acl::{Acl, AclError};
use tokio::sync::oneshot;

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
    /// Turns for full verifications (process-wide: all listeners share the cores).
    gate: Arc<FairGate>,
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

/// Where a login comes from, as far as taking turns goes: an IPv4 address, an IPv6 /64 network (one
/// host commonly has a whole /64 to pick addresses from), or a local (unix) socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    V4(Ipv4Addr),
    V6Network(u64),
    Local,
}

impl Source {
    /// The source of a peer address; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn of(peer: Option<IpAddr>) -> Source {
        match peer.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => Source::V4(v4),
            Some(IpAddr::V6(v6)) => Source::V6Network((v6.to_bits() >> 64) as u64),
            None => Source::Local,
        }
    }
}

/// The IP address in a peer name as the listener writes it (`ip:port`; a unix socket's path has none).
pub fn peer_ip(peer: &str) -> Option<IpAddr> {
    if let Ok(addr) = peer.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    peer.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// Turns for full password verifications: at most `capacity` run at once, and those waiting are served
/// round-robin across [`Source`]s (first come, first served within one source).
pub struct FairGate {
    state: parking_lot::Mutex<GateState>,
}

struct GateState {
    capacity: usize,
    /// Turns held, and turns handed to a waiter but not yet received.
    running: usize,
    /// Sources with waiters, in serving order.
    ring: VecDeque<Source>,
    /// Each source's waiters, oldest first.
    waiting: HashMap<Source, VecDeque<oneshot::Sender<Turn>>>,
}

impl std::fmt::Debug for FairGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("FairGate")
            .field("capacity", &st.capacity)
            .field("running", &st.running)
            .field("sources_waiting", &st.ring.len())
            .finish()
    }
}

/// One turn of a [`FairGate`]; the next waiter gets it when it is dropped.
pub struct Turn {
    gate: Option<Arc<FairGate>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.release();
        }
    }
}

impl GateState {
    /// The next waiter, round-robin across sources; waiters that gave up are dropped on the way.
    fn next_waiter(&mut self) -> Option<oneshot::Sender<Turn>> {
        while let Some(source) = self.ring.pop_front() {
            let Some(queue) = self.waiting.get_mut(&source) else { continue };
            while let Some(tx) = queue.pop_front() {
                if tx.is_closed() {
                    continue;
                }
                if queue.is_empty() {
                    self.waiting.remove(&source);
                } else {
                    self.ring.push_back(source);
                }
                return Some(tx);
            }
            self.waiting.remove(&source);
        }
        None
    }
}

impl FairGate {
    /// A gate letting `capacity` (at least one) through at once.
    pub fn new(capacity: usize) -> Arc<FairGate> {
        Arc::new(FairGate {
            state: parking_lot::Mutex::new(GateState {
                capacity: capacity.max(1),
                running: 0,
                ring: VecDeque::new(),
                waiting: HashMap::new(),
            }),
        })
    }

    /// Waits for a turn. `None` only if the gate is gone, which cannot happen while this runs.
    pub async fn acquire(self: &Arc<Self>, source: Source) -> Option<Turn> {
        let rx = {
            let mut st = self.state.lock();
            // Nobody waits while a turn is free: a released turn goes straight to the next waiter.
            if st.running < st.capacity {
                st.running += 1;
                return Some(Turn { gate: Some(self.clone()) });
            }
            let (tx, rx) = oneshot::channel();
            let queue = st.waiting.entry(source).or_default();
            if queue.len() >= 64 && queue.len().is_power_of_two() {
                // Connections that gave up while waiting: forget them now and then, not only when
                // their turn comes.
                queue.retain(|tx| !tx.is_closed());
            }
            let first = queue.is_empty();
            queue.push_back(tx);
            if first {
                st.ring.push_back(source);
            }
            rx
        };
        rx.await.ok()
    }

    /// Passes a finished turn to the next waiter, or frees it.
    fn release(self: &Arc<Self>) {
        loop {
            let tx = {
                let mut st = self.state.lock();
                match st.next_waiter() {
                    Some(tx) => tx,
                    None => {
                        st.running = st.running.saturating_sub(1);
                        return;
                    }
                }
            };
            match tx.send(Turn { gate: Some(self.clone()) }) {
                Ok(()) => return,
                // The waiter gave up meanwhile: the turn is still ours to pass on.
                Err(mut turn) => turn.gate = None,
            }
        }
    }

    /// Turns held.
    pub fn running(&self) -> usize {
        self.state.lock().running
    }
}

/// The process-wide gate: as many checks at once as there are cores.
fn verifier_gate() -> &'static Arc<FairGate> {
    static GATE: OnceLock<Arc<FairGate>> = OnceLock::new();
    GATE.get_or_init(|| FairGate::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
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
            gate: verifier_gate().clone(),
        };
        Ok((security, skipped))
    }

    /// Full password verifications run so far (the slow hash, for known and unknown user names alike);
    /// logins let in from the cache are not counted.
    pub fn full_checks(&self) -> u64 {
        self.full_checks.load(Ordering::Relaxed)
    }

    /// Decides a login from `peer` (`None` for a unix socket). Mosquitto's order: a user name is checked
    /// against the password file when there is one; without a user name, `allow_anonymous` decides. A
    /// user name and password that passed a full verification before are let in from the cache at once;
    /// a full verification waits for its turn, taken round-robin across source addresses.
    pub async fn authenticate(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        peer: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        let Some(user) = username else {
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        let Some(file) = &self.passwords else {
            // A user name but no password file: Mosquitto lets the client in as if anonymous.
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        // A zero-length password counts as none, as in Mosquitto (which reads it as absent): an entry
        // made for the empty password lets nobody in.
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(Refusal::NotAuthorized);
        };
        let tag = self.cache.tag(user, password);
        if self.cache.matches(user, &tag) {
            return Ok(());
        }
        let file = file.clone();
        let owned_user = user.to_owned();
        let password = password.to_vec();
        let Some(_turn) = self.gate.acquire(Source::of(peer)).await else {
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
    use std::time::Duration;

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
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw"), None).await, Ok(()));
        assert_eq!(sec.full_checks(), 1);
        for _ in 0..100 {
            assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw"), None).await, Ok(()));
        }
        assert_eq!(sec.full_checks(), 1, "repeat logins skip the slow hash");

        // A wrong password after a remembered login is refused, after a full check.
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pW"), None).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.full_checks(), 2);
        // An empty password is no password: refused without a check, whoever the user.
        assert_eq!(sec.authenticate(Some("alice"), Some(b""), None).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.full_checks(), 2);
        // ... and does not make the right one forgotten.
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw"), None).await, Ok(()));
        assert_eq!(sec.full_checks(), 2);
        // Another user's password is not alice's: tags are per user name.
        assert_eq!(sec.authenticate(Some("bob"), Some(b"alice-pw"), None).await, Err(Refusal::NotAuthorized));
        assert_eq!(sec.authenticate(Some("bob"), Some(b"bob-pw"), None).await, Ok(()));
        assert_eq!(sec.full_checks(), 4);
        // Unknown users and failed checks are never remembered.
        for _ in 0..2 {
            assert_eq!(sec.authenticate(Some("carol"), Some(b"x"), None).await, Err(Refusal::NotAuthorized));
        }
        assert_eq!(sec.full_checks(), 6);
        assert_eq!(sec.cache.len(), 2);
    }

    /// A reload builds a new `Security`: nothing remembered carries over, so a changed password file is
    /// checked afresh.
    #[tokio::test]
    async fn a_reload_forgets() {
        let (_dir, sec) = security(&[("alice", "old")]);
        assert_eq!(sec.authenticate(Some("alice"), Some(b"old"), None).await, Ok(()));
        let (_dir2, reloaded) = security(&[("alice", "new")]);
        assert_eq!(reloaded.authenticate(Some("alice"), Some(b"old"), None).await, Err(Refusal::NotAuthorized));
        assert_eq!(reloaded.authenticate(Some("alice"), Some(b"new"), None).await, Ok(()));
        assert_eq!(reloaded.full_checks(), 2);
    }

    fn v4(last: u8) -> Source {
        Source::of(Some(IpAddr::from([10, 0, 0, last])))
    }

    /// Takes a turn from `gate` for `source` in a task that records `label` in `order` when served,
    /// then holds the turn until told to go.
    fn waiter(
        gate: &Arc<FairGate>,
        source: Source,
        label: &'static str,
        order: &Arc<parking_lot::Mutex<Vec<&'static str>>>,
    ) -> (tokio::task::JoinHandle<()>, oneshot::Sender<()>) {
        let (go, wait) = oneshot::channel::<()>();
        let (gate, order) = (gate.clone(), order.clone());
        let task = tokio::spawn(async move {
            let turn = gate.acquire(source).await.expect("turn");
            order.lock().push(label);
            let _ = wait.await;
            drop(turn);
        });
        (task, go)
    }

    /// Lets tasks run until the gate has handed out `n` turns.
    async fn until_running(gate: &FairGate, n: usize) {
        while gate.running() != n {
            tokio::task::yield_now().await;
        }
    }

    /// A flood from one address waits behind itself: the other address's check is served next.
    #[tokio::test]
    async fn waiting_checks_are_served_round_robin_per_source() {
        let gate = FairGate::new(1);
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let held = gate.acquire(v4(1)).await.expect("free turn");
        let mut waiters = Vec::new();
        for label in ["a1", "a2", "a3", "a4"] {
            waiters.push(waiter(&gate, v4(1), label, &order));
            tokio::task::yield_now().await;
        }
        waiters.push(waiter(&gate, v4(2), "b1", &order));
        tokio::task::yield_now().await;
        waiters.push(waiter(&gate, Source::Local, "l1", &order));
        // Let every waiter queue up.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        drop(held);
        // Each waiter gives its turn back as soon as it has it: the gate alone decides the order.
        let mut tasks = Vec::new();
        for (task, go) in waiters {
            let _ = go.send(());
            tasks.push(task);
        }
        for task in tasks {
            task.await.expect("waiter");
        }
        assert_eq!(*order.lock(), ["a1", "b1", "l1", "a2", "a3", "a4"]);
        until_running(&gate, 0).await;
    }

    /// A waiter that gives up (its connection closed) loses its place, and its turn is not lost.
    #[tokio::test]
    async fn a_waiter_that_gives_up_is_skipped() {
        let gate = FairGate::new(1);
        let held = gate.acquire(v4(1)).await.expect("free turn");
        let gone = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire(v4(2)).await.is_some() }
        });
        tokio::task::yield_now().await;
        gone.abort();
        let next = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire(v4(3)).await.is_some() }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert!(tokio::time::timeout(Duration::from_secs(10), next).await.expect("served").expect("task"));
        until_running(&gate, 0).await;
        assert!(gate.acquire(v4(4)).await.is_some(), "the turn came back");
    }

    /// With every turn taken, a remembered login still gets in at once; a full check waits its turn.
    #[tokio::test]
    async fn a_remembered_login_does_not_wait_for_a_turn() {
        let (_dir, mut sec) = security(&[("alice", "alice-pw")]);
        sec.gate = FairGate::new(1);
        assert_eq!(sec.authenticate(Some("alice"), Some(b"alice-pw"), None).await, Ok(()));
        let held = sec.gate.acquire(v4(9)).await.expect("free turn");
        let remembered = sec.authenticate(Some("alice"), Some(b"alice-pw"), Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), remembered).await, Ok(Ok(())));
        let sec = Arc::new(sec);
        let wrong = tokio::spawn({
            let sec = sec.clone();
            async move { sec.authenticate(Some("alice"), Some(b"nope"), None).await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!wrong.is_finished(), "a full check waits for the turn");
        drop(held);
        assert_eq!(wrong.await.expect("task"), Err(Refusal::NotAuthorized));
    }

    #[test]
    fn peer_addresses_and_sources() {
        assert_eq!(peer_ip("127.0.0.2:50000"), Some(IpAddr::from([127, 0, 0, 2])));
        assert_eq!(peer_ip("::1:50000"), Some("::1".parse().expect("ip")));
        assert_eq!(peer_ip("[2001:db8::1]:1883"), Some("2001:db8::1".parse().expect("ip")));
        assert_eq!(peer_ip("/run/mq.sock"), None);
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(Source::of(ip("::ffff:10.0.0.1")), v4(1));
        assert_eq!(Source::of(ip("2001:db8:1:2::1")), Source::of(ip("2001:db8:1:2:ffff::9")), "one /64");
        assert_ne!(Source::of(ip("2001:db8:1:2::1")), Source::of(ip("2001:db8:1:3::1")));
        assert_eq!(Source::of(None), Source::Local);
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
