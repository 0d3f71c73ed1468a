//! The broker's shared state and the operations on it: routing a message to its subscribers
//! ([`routing`]), attaching a connection to its session (with takeover), detaching, ending and expiring
//! sessions, wills and subscriptions ([`sessions`]).
//!
//! # Concurrency
//! There is no central router task: the connection task that receives a PUBLISH routes it itself, so
//! both cores route. State is split into independently locked parts, each held briefly and never across
//! an await. The locks, in the order they may be taken (a lock is only ever taken while holding locks
//! above it in this list, never below):
//! 1. `sessions` (client id → session): connects, disconnects, the keep-alive and expiry sweeps;
//! 2. `subs` (the subscription trie): read per PUBLISH, written per (un)subscribe;
//! 3. a session's `state`: to queue or take deliveries (routing queues under the `subs` read lock, so
//!    it touches no reference counts per delivery);
//! 4. a [`Kick`]'s inner lock (a connection's stop reason and its parked state): never held while
//!    taking another.
//!
//! `retained` (retained messages), `settings` and the listeners' `security` are leaves: taken alone,
//! or last. While stored retained messages are read back, `retained_loading` is taken before
//! `retained` (never the reverse, and with no other lock). The parking lot's map and a large payload's pieces are leaves too.
//!
//! Waking or stopping a connection may resume a parked one (a reactor registration and a spawn), so it
//! is never done under a lock: the operations here collect the [`Kick`]s to wake or stop and act on
//! them once their locks are released.

mod routing;
mod sessions;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

pub use sessions::{AttachRequest, Attached};

use crate::durable::{Durable, Rec, Volatile};
use crate::kick::{Kick, KickReason};
use crate::park::{Lot, PARK_AFTER_MS};
use crate::retain::RetainStore;
use crate::session::Session;
use crate::settings::Settings;
use crate::stats::Stats;
use crate::subs::SubTable;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Sessions the periodic sweeps look at between two yields to the runtime.
pub(crate) const SWEEP_SLICE: usize = 256;

/// All broker state.
#[derive(Debug)]
pub struct Broker {
    settings: RwLock<Arc<Settings>>,
    /// Sessions by client id.
    pub sessions: Mutex<FastMap<Arc<str>, Arc<Session>>>,
    /// The subscription table.
    pub subs: RwLock<SubTable>,
    /// Retained messages.
    pub retained: RwLock<RetainStore>,
    /// Where durable changes are recorded (see [`crate::durable`]).
    pub durable: Arc<dyn Durable>,
    /// Counters for `$SYS`.
    pub stats: Stats,
    /// When the broker started.
    pub started: Instant,
    ids: AtomicU64,
    /// Set once shutdown begins.
    pub shutting_down: AtomicBool,
    /// Wakes tasks waiting for shutdown.
    pub shutdown: Notify,
    /// Most sessions seen at once (`$SYS/broker/clients/maximum`).
    pub max_sessions: AtomicU64,
    /// Connection tasks running (shutdown waits for them).
    pub active_connections: AtomicU64,
    /// Bumped on every reload, so connections know to refresh what they cached.
    pub generation: AtomicU64,
    /// Wakes publishers paused by flow control when a congested queue drains (they check their own).
    pub space: Notify,
    /// Where idle connections park (none if the system refused an epoll instance).
    pub lot: Option<Arc<Lot>>,
    /// Bytes held by connections that have not authenticated yet, beyond what each may hold freely
    /// (see `connection::PRE_AUTH_BUDGET`).
    pub pre_auth_bytes: AtomicUsize,
    /// While retained messages are read back from the store (see [`crate::persist::load_retained`]):
    /// the topics set or cleared meanwhile, which the stored messages must not overwrite. `None` once
    /// they are all back.
    pub retained_loading: Mutex<Option<std::collections::HashSet<Arc<str>>>>,
    /// Whether retained messages are being read back (a SUBSCRIBE waits before looking them up).
    loading: AtomicBool,
    /// Notified when they are all back.
    pub retained_back: Notify,
    /// Delayed wills of sessions that ended at the disconnection (Session Expiry Interval 0), waiting
    /// for their Will Delay Interval as Mosquitto keeps them: client id, when due, the will.
    pub orphan_wills: Mutex<Vec<(Arc<str>, Instant, mq_proto::Will)>>,
}

impl Broker {
    /// A broker with the given settings and no state, keeping nothing across restarts.
    pub fn new(settings: Settings) -> Broker {
        Broker::with_store(settings, Arc::new(Volatile))
    }

    /// A broker recording durable changes in `durable`.
    pub fn with_store(settings: Settings, durable: Arc<dyn Durable>) -> Broker {
        Broker {
            settings: RwLock::new(Arc::new(settings)),
            sessions: Mutex::new(FastMap::default()),
            subs: RwLock::new(SubTable::default()),
            retained: RwLock::new(RetainStore::default()),
            durable,
            stats: Stats::default(),
            started: Instant::now(),
            ids: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
            max_sessions: AtomicU64::new(0),
            active_connections: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            space: Notify::new(),
            lot: Lot::new().ok().map(Arc::new),
            pre_auth_bytes: AtomicUsize::new(0),
            retained_loading: Mutex::new(None),
            loading: AtomicBool::new(false),
            retained_back: Notify::new(),
            orphan_wills: Mutex::new(Vec::new()),
        }
    }

    /// Retained messages are about to be read back from the store, while the broker serves.
    pub fn retained_loading_begins(&self) {
        *self.retained_loading.lock() = Some(Default::default());
        self.loading.store(true, Ordering::Release);
    }

    /// Every stored retained message is back.
    pub fn retained_loaded(&self) {
        *self.retained_loading.lock() = None;
        self.loading.store(false, Ordering::Release);
        self.retained_back.notify_waiters();
    }

    /// Whether stored retained messages are still being read back.
    pub fn retained_pending(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// The recorder of durable changes to `session`.
    pub fn rec<'a>(&'a self, session: &'a Session) -> Rec<'a> {
        Rec::new(&*self.durable, &session.client_id, session.is_persistent())
    }

    /// Waits until shutdown begins.
    pub async fn wait_shutdown(&self) {
        loop {
            let notified = self.shutdown.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shutting_down.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Begins shutdown: every waiter of [`Broker::wait_shutdown`] returns.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.shutdown.notify_waiters();
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().clone()
    }

    /// Replaces the settings (SIGHUP), refreshes every session's ACL snapshot from its listener, and
    /// tells connections to refresh what they cached.
    pub fn set_settings(&self, s: Settings) {
        *self.settings.write() = Arc::new(s);
        for session in self.all_sessions() {
            session.state.lock().refresh_acl();
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A fresh id for a session or connection.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Milliseconds since the broker started (the clock of keep alive).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Every session, as a snapshot (no lock held afterwards).
    pub fn all_sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().values().cloned().collect()
    }

    /// The kick handles of every attached connection, as a snapshot.
    pub fn attached_kicks(&self) -> Vec<Arc<Kick>> {
        self.sessions.lock().values().filter_map(|s| s.state.lock().attached().map(|a| a.kick.clone())).collect()
    }

    /// One part of the broker's sweep: for each of `sessions`, closes the connection if its keep alive
    /// ran out, asks it to park if idle long enough, publishes a will whose delay is over and ends the
    /// session if it expired. The server sweeps a quarter of the sessions every 250 ms (each one once a
    /// second, the precision Mosquitto keeps for keep alive), [`SWEEP_SLICE`] at a time with a yield
    /// between: with many connections the sweep never holds a worker (and the traffic it would serve)
    /// for long, and costs each session one visit a second.
    pub async fn sweep_part(&self, sessions: &[Arc<Session>]) {
        let (now_ms, now) = (self.now_ms(), Instant::now());
        let park = self.lot.as_ref().is_some_and(|l| l.open()) && !self.shutting_down.load(Ordering::Relaxed);
        for slice in sessions.chunks(SWEEP_SLICE) {
            for s in slice {
                self.check_keepalive(s, now_ms, park);
                self.sweep_session(s, now);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Closes the connection of `s` if its keep alive ran out, or asks it to park (when `park`) if it
    /// has been idle for [`PARK_AFTER_MS`].
    fn check_keepalive(&self, s: &Session, now_ms: u64, park: bool) {
        // Most connections call for nothing: that is found with atomic reads under the session's lock,
        // and only a connection that needs a kick or a hint is taken out of it.
        let st = s.state.lock();
        let Some(k) = st.attached().map(|a| &a.kick) else { return };
        let silent = k.silent_too_long(now_ms);
        if !(silent || park && k.may_park(now_ms, PARK_AFTER_MS)) {
            return;
        }
        let k = k.clone();
        drop(st);
        if silent {
            if k.reason().is_none() {
                k.kick(KickReason::KeepAlive);
            }
        } else {
            k.hint_park(now_ms, PARK_AFTER_MS);
        }
    }

    /// Number of sessions, and of those with a connection.
    pub fn session_counts(&self) -> (usize, usize) {
        let map = self.sessions.lock();
        let online = map.values().filter(|s| s.is_online()).count();
        (map.len(), online)
    }
}
