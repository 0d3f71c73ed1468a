//! The broker's shared state and the operations on it: routing a message to its subscribers, attaching
//! a connection to its session (with takeover), detaching, ending and expiring sessions, wills, and
//! subscriptions.
//!
//! # Concurrency
//! There is no central router task: the connection task that receives a PUBLISH routes it itself, so
//! both cores route. State is split into independently locked parts, each held briefly and never across
//! an await:
//! - `sessions` (client id → session), locked for connects, disconnects and the expiry sweep;
//! - `subs` (the subscription trie), read-locked per PUBLISH, write-locked per (un)subscribe;
//! - `retained`, read-locked per SUBSCRIBE, write-locked per retained PUBLISH;
//! - each session's state, locked to queue or take deliveries.
//!
//! Lock order: `sessions` may be held while taking a session's state, and `subs` while taking a
//! session's state (routing queues deliveries under the `subs` read lock, so it touches no reference
//! counts per delivery). Never the reverse: no path takes `sessions` or `subs` while holding a session's
//! state. `retained` is never held together with another lock.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mq_proto::{ProtocolVersion, QoS, SubscriptionOptions, Will};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::kick::{Kick, KickReason};
use crate::log;
use crate::message::{Delivery, Message};
use crate::park::{Lot, PARK_AFTER_MS};
use crate::retain::RetainStore;
use crate::session::{Attachment, Enqueued, Expiry, PendingWill, Session, SessionAccess, Stage, SubRecord};
use crate::settings::Settings;
use crate::stats::{Local, Stats};
use crate::subs::{Hit, SubTable, Subscriber};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
}

/// What a connection asks for when it attaches to its session.
#[derive(Debug)]
pub struct AttachRequest {
    pub client_id: Arc<str>,
    pub clean_start: bool,
    pub expiry: Expiry,
    pub version: ProtocolVersion,
    pub access: SessionAccess,
    pub conn: u64,
    pub kick: Arc<Kick>,
    pub will: Option<Will>,
}

/// The result of attaching.
#[derive(Debug)]
pub struct Attached {
    pub session: Arc<Session>,
    /// A stored session was resumed (CONNACK Session Present).
    pub present: bool,
}

impl Broker {
    /// A broker with the given settings and no state.
    pub fn new(settings: Settings) -> Broker {
        Broker {
            settings: RwLock::new(Arc::new(settings)),
            sessions: Mutex::new(FastMap::default()),
            subs: RwLock::new(SubTable::default()),
            retained: RwLock::new(RetainStore::default()),
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
        }
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
        let sessions: Vec<Arc<Session>> = self.sessions.lock().values().cloned().collect();
        for session in sessions {
            let mut st = session.state.lock();
            if let Some(a) = &mut st.access {
                a.acl = a.security.read().acl.clone();
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A fresh id for a session or connection.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores a retained message (if flagged) and queues the message for every matching subscriber.
    /// Returns how many sessions it was queued for; sessions whose queues are congested (see
    /// [`Enqueued::Congested`]) are added to `congested`.
    pub fn publish(&self, msg: Arc<Message>, local: &mut Local) -> usize {
        self.publish_flow(msg, &self.settings(), local, None)
    }

    /// Publishes a message the broker makes itself, counting it in the statistics.
    pub fn publish_internal(&self, msg: Message) {
        let mut local = Local::default();
        self.publish(Arc::new(msg), &mut local);
        self.stats.flush(&mut local);
    }

    /// [`Broker::publish`] for connections: with the settings they hold (no lock per message), collecting
    /// congested sessions for the publisher to wait on.
    pub fn publish_flow(
        &self,
        msg: Arc<Message>,
        settings: &Settings,
        local: &mut Local,
        mut congested: Option<&mut Vec<Arc<Session>>>,
    ) -> usize {
        if msg.retain {
            self.retained.write().set(msg.clone());
        }
        let subs = self.subs.read();
        let mut hits = Vec::new();
        subs.route(&msg.topic, msg.origin, &mut hits);
        let mut queued = 0;
        for hit in hits {
            let session = congested.is_some().then(|| hit.session.clone());
            match deliver(settings, hit, &msg) {
                Enqueued::Queued => queued += 1,
                Enqueued::Congested => {
                    queued += 1;
                    if let (Some(list), Some(s)) = (congested.as_deref_mut(), session)
                        && s.id != msg.origin
                        && !list.iter().any(|x| x.id == s.id)
                    {
                        list.push(s);
                    }
                }
                Enqueued::Dropped | Enqueued::FirstDrop => local.pub_dropped += 1,
                Enqueued::Skipped => {}
            }
        }
        queued
    }

    /// Attaches a connection to the session of its client id: resumes the stored session unless
    /// clean start asks otherwise or it has expired, and takes it over from a connection still attached
    /// (which is told to stop).
    pub fn attach(&self, req: AttachRequest) -> Attached {
        let settings = self.settings();
        let now = Instant::now();
        let mut map = self.sessions.lock();
        let mut present = false;
        let mut old_ended: Option<Arc<Session>> = None;
        let mut session = None;
        if let Some(old) = map.get(&req.client_id).cloned() {
            let mut st = old.state.lock();
            let expired = st.attached.is_none() && session_expired(st.expiry, st.disconnected_at, now);
            // A connection still attached with a session that ends with it: the session ends now.
            let ends_with_old = st.attached.is_some() && st.expiry == Expiry::AtDisconnect;
            let resume = !req.clean_start && !expired && !ends_with_old;
            if let Some(a) = st.attached.take() {
                a.kick.kick(KickReason::TakenOver { session_ends: !resume });
            }
            if resume {
                // The old connection's will is dropped when its session goes on (as Mosquitto does); if
                // the session ends, `finish_session` publishes it.
                present = true;
                // A will waiting for its delay is cancelled by the reconnect [MQTT-3.1.3-9].
                st.pending_will = None;
                st.attached = Some(Attachment { conn: req.conn, kick: req.kick.clone() });
                st.version = req.version;
                st.access = Some(req.access.clone());
                {
                    // What was queued is checked against whoever resumes the session (another user, or
                    // rules reloaded meanwhile): it gets nothing its own rights do not allow.
                    let dropped = st.recheck_access(&req.client_id);
                    if dropped > 0 {
                        st.dropped += dropped as u64;
                        log!(
                            Notice,
                            "Client {} resumed a session holding {dropped} messages it may not read; they were dropped.",
                            req.client_id
                        );
                    }
                }
                st.expiry = req.expiry;
                st.disconnected_at = None;
                st.limits = settings.queue;
                st.will = req.will.clone().map(Box::new);
                drop(st);
                old.online.store(true, Ordering::Release);
                session = Some(old);
            } else {
                drop(st);
                map.remove(&req.client_id);
                old_ended = Some(old);
            }
        }
        let session = session.unwrap_or_else(|| {
            let s = Arc::new(Session::new(self.next_id(), req.client_id.clone(), req.version, settings.queue));
            {
                let mut st = s.state.lock();
                st.attached = Some(Attachment { conn: req.conn, kick: req.kick.clone() });
                st.access = Some(req.access.clone());
                st.expiry = req.expiry;
                st.will = req.will.clone().map(Box::new);
            }
            s.online.store(true, Ordering::Release);
            map.insert(req.client_id.clone(), s.clone());
            s
        });
        let total = map.len() as u64;
        drop(map);
        self.max_sessions.fetch_max(total, Ordering::Relaxed);
        if let Some(old) = old_ended {
            self.finish_session(&old);
        }
        Attached { session, present }
    }

    /// Detaches connection `conn` from its session after the connection closed. `will` is the will to
    /// publish (already decided by the connection: `None` after a normal DISCONNECT), `expiry` the
    /// session expiry in force at the close. Does nothing if another connection took the session over.
    pub fn detach(&self, session: &Arc<Session>, conn: u64, publish_will: bool, expiry: Expiry) {
        let now = Instant::now();
        let mut st = session.state.lock();
        if st.attached.as_ref().is_none_or(|a| a.conn != conn) {
            return;
        }
        st.attached = None;
        session.online.store(false, Ordering::Release);
        st.disconnected_at = Some(now);
        st.expiry = expiry;
        let will = st.will.take().filter(|_| publish_will).map(|w| *w);
        let ends = expiry == Expiry::AtDisconnect;
        // Messages of shared subscriptions not yet acknowledged go to other members (QoS 2 messages
        // already sent stay: they must complete with this client [MQTT-4.8.2-5]).
        let reassign = take_shared(&mut st);
        let mut publish_now = None;
        if let Some(will) = will {
            let delay = will.properties.will_delay_interval.unwrap_or(0);
            if delay == 0 || ends {
                publish_now = Some(will);
            } else {
                st.pending_will = Some(Box::new(PendingWill { will, at: now + Duration::from_secs(delay.into()) }));
            }
        }
        drop(st);
        self.reassign(session.id, reassign);
        if let Some(w) = publish_now {
            self.publish_will(w);
        }
        if ends {
            let mut map = self.sessions.lock();
            if map.get(&session.client_id).is_some_and(|s| Arc::ptr_eq(s, session)) {
                map.remove(&session.client_id);
            }
            drop(map);
            self.finish_session(session);
        }
    }

    /// Cleans up a session that ended and is already out of the session map: its subscriptions, its
    /// shared-subscription messages, and a will still waiting for its delay.
    fn finish_session(&self, session: &Arc<Session>) {
        let mut st = session.state.lock();
        let filters: Vec<Box<str>> = st.subs.drain().map(|(f, _)| f).collect();
        let reassign = take_shared(&mut st);
        let wills: Vec<Will> =
            st.will.take().map(|w| *w).into_iter().chain(st.pending_will.take().map(|p| p.will)).collect();
        st.pending.clear();
        st.pending_bytes = 0;
        st.retained.clear();
        st.inflight.clear();
        drop(st);
        {
            let mut subs = self.subs.write();
            for f in &filters {
                subs.unsubscribe(f, session.id);
            }
        }
        self.reassign(session.id, reassign);
        for w in wills {
            self.publish_will(w);
        }
    }

    /// Sends shared-subscription deliveries taken from session `from` to other members.
    fn reassign(&self, from: u64, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let settings = self.settings();
        let subs = self.subs.read();
        for d in deliveries {
            let Some(key) = d.shared.clone() else { continue };
            if let Some(hit) = subs.reassign(&key, from) {
                deliver(&settings, hit, &d.msg);
            }
        }
    }

    /// Publishes a will message.
    pub fn publish_will(&self, will: Will) {
        let now = Instant::now();
        let p = will.properties;
        self.publish_internal(Message {
            properties: mq_proto::PublishProperties {
                payload_format_indicator: p.payload_format_indicator,
                content_type: p.content_type,
                response_topic: p.response_topic,
                correlation_data: p.correlation_data,
                user_properties: p.user_properties,
                ..Default::default()
            },
            expires_at: p.message_expiry_interval.map(|s| now + Duration::from_secs(s.into())),
            ..Message::from_broker(will.topic, will.payload, will.qos, will.retain)
        });
    }

    /// Records a subscription in the table and the session. Returns whether it replaced one.
    pub fn subscribe(&self, session: &Arc<Session>, filter: &str, opts: SubscriptionOptions, id: Option<u32>) -> bool {
        let existed = self.subs.write().subscribe(filter, Subscriber { session: session.clone(), opts, id });
        session.state.lock().subs.insert(filter.into(), SubRecord { opts, id });
        existed
    }

    /// Removes a subscription. Returns whether it existed.
    pub fn unsubscribe(&self, session: &Arc<Session>, filter: &str) -> bool {
        let removed = self.subs.write().unsubscribe(filter, session.id);
        session.state.lock().subs.remove(filter);
        removed
    }

    /// Milliseconds since the broker started (the clock of keep alive).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Closes connections whose keep alive ran out and asks those idle long enough to park. Run several
    /// times a second.
    pub fn check_keepalive(&self) {
        let now = self.now_ms();
        let kicks: Vec<Arc<Kick>> = self
            .sessions
            .lock()
            .values()
            .filter_map(|s| s.state.lock().attached.as_ref().map(|a| a.kick.clone()))
            .collect();
        let park = self.lot.as_ref().is_some_and(|l| l.open()) && !self.shutting_down.load(Ordering::Relaxed);
        for k in kicks {
            if k.silent_too_long(now) && k.reason().is_none() {
                k.kick(KickReason::KeepAlive);
            } else if park {
                k.hint_park(now, PARK_AFTER_MS);
            }
        }
    }

    /// Publishes delayed wills that are due and ends sessions that expired. Run every second.
    pub fn sweep(&self, now: Instant) {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().values().cloned().collect();
        for s in sessions {
            let mut st = s.state.lock();
            if st.attached.is_some() {
                continue;
            }
            let will = match &st.pending_will {
                Some(p) if p.at <= now => st.pending_will.take().map(|p| p.will),
                _ => None,
            };
            let expired = session_expired(st.expiry, st.disconnected_at, now);
            drop(st);
            if let Some(w) = will {
                self.publish_will(w);
            }
            if expired {
                let mut map = self.sessions.lock();
                let still_ours = map.get(&s.client_id).is_some_and(|x| Arc::ptr_eq(x, &s));
                // Check again under the map lock: a connect may have resumed it meanwhile.
                let detached = s.state.lock().attached.is_none();
                if still_ours && detached {
                    map.remove(&s.client_id);
                    drop(map);
                    self.stats.expired.fetch_add(1, Ordering::Relaxed);
                    log!(Notice, "Expiring client {}.", s.client_id);
                    self.finish_session(&s);
                }
            }
        }
        let purged = self.retained.write().purge_expired(now);
        if purged > 0 {
            log!(Debug, "Removed {purged} expired retained messages.");
        }
    }

    /// Publishes the wills of every connected client and every delayed will (shutdown).
    pub fn publish_all_wills(&self) {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().values().cloned().collect();
        for s in sessions {
            let mut st = s.state.lock();
            let wills: Vec<Will> =
                st.will.take().map(|w| *w).into_iter().chain(st.pending_will.take().map(|p| p.will)).collect();
            drop(st);
            for w in wills {
                self.publish_will(w);
            }
        }
    }

    /// Number of sessions, and of those with a connection.
    pub fn session_counts(&self) -> (usize, usize) {
        let map = self.sessions.lock();
        let online = map.values().filter(|s| s.is_online()).count();
        (map.len(), online)
    }
}

/// Queues `msg` for one subscriber.
fn deliver(settings: &Settings, hit: Hit<'_>, msg: &Arc<Message>) -> Enqueued {
    let qos = if settings.upgrade_outgoing_qos { hit.qos } else { hit.qos.min(msg.qos) };
    let d = Delivery {
        msg: msg.clone(),
        qos,
        retain: hit.retain_as_published && msg.retain,
        sub_ids: hit.sub_ids,
        shared: hit.shared,
    };
    let r = hit.session.enqueue(d);
    if r == Enqueued::FirstDrop {
        log!(Notice, "Outgoing messages are being dropped for client {}.", hit.session.client_id);
        return Enqueued::Dropped;
    }
    r
}

/// Whether a detached session has outlived its expiry.
fn session_expired(expiry: Expiry, disconnected_at: Option<Instant>, now: Instant) -> bool {
    match (expiry, disconnected_at) {
        (Expiry::AtDisconnect, Some(_)) => true,
        (Expiry::After(d), Some(at)) => now >= at + d,
        _ => false,
    }
}

/// Takes a session's shared-subscription deliveries that another member may take over: everything
/// not yet sent, and QoS 1 messages sent but not acknowledged.
fn take_shared(st: &mut crate::session::SessionState) -> Vec<Delivery> {
    let mut out = Vec::new();
    if st.pending.iter().any(|d| d.shared.is_some()) {
        let mut keep = std::collections::VecDeque::with_capacity(st.pending.len());
        for d in st.pending.drain(..) {
            if d.shared.is_some() {
                st.pending_bytes = st.pending_bytes.saturating_sub(d.msg.size());
                out.push(d);
            } else {
                keep.push_back(d);
            }
        }
        st.pending = keep;
    }
    if st.inflight.iter().any(|f| f.delivery.shared.is_some()) {
        let mut keep = Vec::with_capacity(st.inflight.len());
        for f in st.inflight.take_all() {
            if f.delivery.shared.is_some() && f.delivery.qos == QoS::AtLeastOnce && f.stage == Stage::Published {
                out.push(f.delivery);
            } else {
                keep.push(f);
            }
        }
        for f in keep {
            st.inflight.push(f);
        }
    }
    out
}
