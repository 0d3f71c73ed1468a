//! Sessions (MQTT §4.1): what the broker keeps for a client id, across connections when the session is
//! persistent: subscriptions, the queue of messages not yet sent ([`queue`]), messages in flight,
//! QoS 2 packet ids received but not released, expiry and wills.
//!
//! A session is shared: publishers' connection tasks push deliveries into its queue
//! ([`Session::enqueue`]) and its own connection task, when one is attached, takes them out. The state is
//! plain data behind one short-held mutex (never held across an await); its fields are private, and
//! the methods here keep its invariants. The changes a restart must restore are made through
//! [`crate::durable`].

mod delivery;
pub mod queue;
mod submap;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mq_proto::{ProtocolVersion, QoS, SubscriptionOptions, Will};
use parking_lot::Mutex;

use crate::acl::{Acl, Want};
use crate::auth::Security;
use crate::durable::{Change, Rec};
use crate::kick::Kick;
use crate::message::Delivery;

pub use crate::inflight::{Inflight, Inflights, Stage};
pub use delivery::{AckEffect, ClientAck};
pub use queue::{Enqueued, Pace, Queue, QueueLimits};

/// A client's session.
#[derive(Debug)]
pub struct Session {
    /// Unique for the broker's lifetime (a new session for the same client id gets a new id).
    pub id: u64,
    /// The client identifier.
    pub client_id: Arc<str>,
    /// Everything that changes.
    pub state: Mutex<SessionState>,
    /// Whether a connection is attached (read without the lock by shared-subscription dispatch).
    online: AtomicBool,
    /// Whether the session outlives its connection, so its changes are recorded (see
    /// [`crate::durable`]). Set when a connection starts or resumes it; kept until it ends.
    persistent: AtomicBool,
}

/// How long a session outlives its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Ends when the connection closes (clean session, or MQTT 5 expiry interval 0).
    AtDisconnect,
    /// Ends this long after the connection closes.
    After(Duration),
    /// Never ends (MQTT 5 interval 0xFFFFFFFF, or a 3.x persistent session without
    /// `persistent_client_expiration`).
    Never,
}

/// Which connection is attached.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Connection id.
    pub conn: u64,
    /// Its kick handle.
    pub kick: Arc<Kick>,
}

/// A will waiting for its delay to pass (MQTT 5 Will Delay Interval).
#[derive(Debug, Clone)]
pub struct PendingWill {
    /// The will.
    pub will: Will,
    /// When to publish it.
    pub at: Instant,
}

/// Whose rules decide what a session may receive: the listener it last connected through and the user
/// name it connected with. `acl` is a snapshot of that listener's ACL, refreshed on reload.
#[derive(Debug, Clone)]
pub struct SessionAccess {
    /// The listener's security (reloadable).
    pub security: Arc<parking_lot::RwLock<Arc<Security>>>,
    /// The ACL in force, if any.
    pub acl: Option<Arc<Acl>>,
    /// The user name of the connection.
    pub username: Option<Arc<str>>,
}

impl SessionAccess {
    /// Whether this identity may read `topic`.
    fn may_read(&self, client_id: &str, topic: &str) -> bool {
        self.acl.as_ref().is_none_or(|acl| acl.check(Want::Read, self.username.as_deref(), client_id, topic))
    }
}

/// A subscription as the session remembers it (the subscription table holds the routing side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRecord {
    /// Options as granted.
    pub opts: SubscriptionOptions,
    /// Subscription identifier (MQTT 5).
    pub id: Option<u32>,
}

/// What a connection attaching to a session brings.
#[derive(Debug, Clone)]
pub struct Attaching {
    /// The connection.
    pub attachment: Attachment,
    /// Its protocol version.
    pub version: ProtocolVersion,
    /// Its identity.
    pub access: SessionAccess,
    /// The session's lifetime it asked for.
    pub expiry: Expiry,
    /// Its will.
    pub will: Option<Will>,
    /// The queue limits in force.
    pub limits: QueueLimits,
}

/// The mutable part of a session.
#[derive(Debug)]
pub struct SessionState {
    /// The attached connection, if any.
    attached: Option<Attachment>,
    /// Protocol version of the last connection.
    version: ProtocolVersion,
    /// Access rules of the last connection (ACLs of a resumed session use them).
    access: Option<SessionAccess>,
    /// The queue, the deliveries in flight and the QoS 2 ids received: boxed, made on the first
    /// delivery and let go while the session is idle (see [`SessionState::compact`]), so an idle
    /// session carries a pointer for them.
    traffic: Option<Box<Traffic>>,
    /// The queue limits in force (for the queue made next).
    limits: QueueLimits,
    /// Subscriptions by filter as subscribed (including `$share/...`).
    subs: submap::SubMap,
    /// How long the session outlives its connection.
    expiry: Expiry,
    /// When the last connection closed (None while attached).
    disconnected_at: Option<Instant>,
    /// The will of the attached connection (published if it ends abnormally). Boxed: most clients have
    /// none, and idle sessions should be small.
    will: Option<Box<Will>>,
    /// A will waiting for its delay.
    pending_will: Option<Box<PendingWill>>,
}

/// What moves through a session: see [`SessionState::traffic`].
#[derive(Debug)]
pub(crate) struct Traffic {
    /// Deliveries waiting to be sent.
    pub(crate) queue: Queue,
    /// Deliveries sent and not yet acknowledged, in send order, with their packet ids.
    pub(crate) inflight: Inflights,
    /// QoS 2 packet ids received and routed, awaiting PUBREL.
    pub(crate) incoming_qos2: PacketIds,
}

/// The traffic of a session that has none.
static NO_TRAFFIC: Traffic = Traffic {
    queue: Queue::new(QueueLimits { max_messages: 0, max_bytes: 0, queue_qos0: false }),
    inflight: Inflights::new(),
    incoming_qos2: PacketIds(Vec::new()),
};

/// What a QoS 2 PUBLISH received means for the session (see [`SessionState::receive_qos2`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos2Receipt {
    /// A new message: route it (its id is now recorded until PUBREL).
    New,
    /// A resend of one already routed and not released: acknowledge without routing it again.
    Duplicate,
    /// More unreleased messages than the Receive Maximum granted.
    TooMany,
}

/// A session brought back from the persistent store (see [`crate::persist`]).
#[derive(Debug)]
pub struct Restored {
    /// Its lifetime after disconnecting.
    pub expiry: Expiry,
    /// When its connection went away (its expiry counts from there).
    pub detached_at: Instant,
    /// Its subscriptions (also to be put in the subscription table).
    pub subs: Vec<(String, SubRecord)>,
    /// Messages queued, oldest first.
    pub queue: Vec<Delivery>,
    /// Messages in flight.
    pub inflight: Vec<Inflight>,
    /// QoS 2 ids received and not released.
    pub qos2: Vec<u16>,
    /// A will waiting for its delay.
    pub will: Option<(Will, Instant)>,
}

/// What a session that ended leaves to clean up.
#[derive(Debug, Default)]
pub struct Ended {
    /// Its subscriptions (filters as subscribed).
    pub filters: Vec<Box<str>>,
    /// Shared-subscription deliveries another member may take over.
    pub shared: Vec<Delivery>,
    /// Wills to publish: the connection's and one waiting for its delay.
    pub wills: Vec<Will>,
}

/// A small set of packet identifiers (QoS 2 messages received and not yet released). A client keeps
/// at most its Receive Maximum of them, usually a handful, so a vector beats a hash set in time and in
/// the memory every idle session carries.
#[derive(Debug, Default, Clone)]
pub struct PacketIds(Vec<u16>);

impl PacketIds {
    /// Whether `id` is in the set.
    pub fn contains(&self, id: u16) -> bool {
        self.0.contains(&id)
    }

    /// Adds `id`; returns false if it was there.
    pub fn insert(&mut self, id: u16) -> bool {
        if self.contains(id) {
            return false;
        }
        self.0.push(id);
        true
    }

    /// Removes `id`; returns whether it was there.
    pub fn remove(&mut self, id: u16) -> bool {
        match self.0.iter().position(|&x| x == id) {
            Some(i) => {
                self.0.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Session {
    /// A new, empty session.
    pub fn new(id: u64, client_id: Arc<str>, version: ProtocolVersion, limits: QueueLimits) -> Session {
        Session {
            id,
            client_id,
            state: Mutex::new(SessionState {
                attached: None,
                version,
                access: None,
                traffic: None,
                limits,
                subs: submap::SubMap::default(),
                expiry: Expiry::AtDisconnect,
                disconnected_at: None,
                will: None,
                pending_will: None,
            }),
            online: AtomicBool::new(false),
            persistent: AtomicBool::new(false),
        }
    }

    /// A detached session as the store had it.
    pub fn restore(
        id: u64,
        client_id: Arc<str>,
        version: ProtocolVersion,
        limits: QueueLimits,
        r: Restored,
    ) -> Session {
        let s = Session::new(id, client_id, version, limits);
        s.persistent.store(true, Ordering::Relaxed);
        {
            let mut st = s.state.lock();
            st.expiry = r.expiry;
            st.disconnected_at = Some(r.detached_at);
            for (filter, record) in r.subs {
                st.subs.insert(&filter, record);
            }
            for d in r.queue {
                st.tr_mut().queue.push(d, true);
            }
            for f in r.inflight {
                st.tr_mut().inflight.push(f);
            }
            for pid in r.qos2 {
                st.tr_mut().incoming_qos2.insert(pid);
            }
            st.pending_will = r.will.map(|(will, at)| Box::new(PendingWill { will, at }));
        }
        s
    }

    /// Whether the session's changes are recorded (it outlives its connection).
    pub fn is_persistent(&self) -> bool {
        self.persistent.load(Ordering::Relaxed)
    }

    /// Marks the session as one to record, when `expiry` makes it outlive its connection; returns the
    /// recorder to use from now on.
    fn keep_if<'a>(&self, expiry: Expiry, rec: Rec<'a>) -> Rec<'a> {
        if expiry != Expiry::AtDisconnect {
            self.persistent.store(true, Ordering::Relaxed);
            return rec.on();
        }
        rec
    }

    /// Whether a connection is attached.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Whether the queue is below its limits (or, without a limit, below the flow-control mark).
    pub fn has_room(&self) -> bool {
        !self.state.lock().tr().queue.congested()
    }

    /// Queues retained messages sent on subscribe: outside the queue limits, behind those already owed.
    /// Read access is checked as for any delivery. Returns the connection to wake, if any (woken by
    /// the caller once it holds no lock).
    pub fn enqueue_retained(&self, deliveries: impl IntoIterator<Item = Delivery>, rec: Rec<'_>) -> Option<Arc<Kick>> {
        let mut st = self.state.lock();
        let was_empty = st.tr().queue.is_empty();
        let access = st.access.clone();
        // Not recorded: after a restart a client subscribes again for what is retained.
        let _ = rec;
        let mut owed = deliveries
            .into_iter()
            .filter(|d| access.as_ref().is_none_or(|a| a.may_read(&self.client_id, &d.msg.topic)))
            .peekable();
        if owed.peek().is_some() {
            st.tr_mut().queue.push_retained(owed);
        }
        if was_empty && !st.tr().queue.is_empty() { st.attached.as_ref().map(|a| a.kick.clone()) } else { None }
    }

    /// Queues a delivery, honouring the queue limits and the client's read access (checked per message
    /// at delivery, as Mosquitto does). Also returns the connection to wake when the queue was empty (a
    /// non-empty queue means the connection already has work it will come back for); the caller wakes
    /// it once it holds no lock, so a parked connection is never resumed under one.
    pub fn enqueue(&self, mut d: Delivery, rec: Rec<'_>) -> (Enqueued, Option<Arc<Kick>>) {
        let mut st = self.state.lock();
        if let Some(a) = &st.access
            && !a.may_read(&self.client_id, &d.msg.topic)
        {
            return (Enqueued::Skipped, None);
        }
        let online = st.attached.is_some();
        let was_empty = st.tr().queue.is_empty();
        // QoS 0 is recorded only when queued for a disconnected client (`queue_qos0_messages`).
        d.recorded = rec.is_on() && (d.qos != QoS::AtMostOnce || !online);
        let r = st.tr_mut().queue.push_with(d, online, |d| {
            if d.recorded {
                rec.record(Change::Queued { delivery: d });
            }
        });
        let wake = match r {
            Enqueued::Queued | Enqueued::Congested if was_empty => st.attached.as_ref().map(|a| a.kick.clone()),
            _ => None,
        };
        (r, wake)
    }

    /// Marks the session attached or not (read without the lock by shared-subscription dispatch).
    fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
    }
}

impl SessionState {
    /// The session's traffic (nothing, while it has none).
    pub(crate) fn tr(&self) -> &Traffic {
        self.traffic.as_deref().unwrap_or(&NO_TRAFFIC)
    }

    /// The session's traffic, made if it had none.
    pub(crate) fn tr_mut(&mut self) -> &mut Traffic {
        let limits = self.limits;
        self.traffic.get_or_insert_with(|| {
            Box::new(Traffic {
                queue: Queue::new(limits),
                inflight: Inflights::new(),
                incoming_qos2: PacketIds::default(),
            })
        })
    }

    /// Lets the traffic state go when nothing is queued, in flight or awaiting release and no
    /// publisher is waiting on the queue's pace: an idle session (its connection parked, or gone)
    /// keeps a pointer instead of its empty queues.
    pub(crate) fn compact(&mut self) {
        if self
            .traffic
            .as_ref()
            .is_some_and(|t| t.queue.is_idle() && t.inflight.is_empty() && t.incoming_qos2.is_empty())
        {
            self.traffic = None;
        }
    }

    /// The attached connection, if any.
    pub fn attached(&self) -> Option<&Attachment> {
        self.attached.as_ref()
    }

    /// Whether connection `conn` is the one attached.
    pub fn is_attached_to(&self, conn: u64) -> bool {
        self.attached.as_ref().is_some_and(|a| a.conn == conn)
    }

    /// Protocol version of the last connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// How long the session outlives its connection.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// A DISCONNECT set the lifetime the session will have once its connection is gone: known at once,
    /// so a connection with the client id that overtakes this close sees it (a session ending with
    /// its connection is not resumed).
    pub(crate) fn set_expiry(&mut self, expiry: Expiry) {
        self.expiry = expiry;
    }

    /// The queue (read only).
    pub fn queue(&self) -> &Queue {
        &self.tr().queue
    }

    /// The deliveries in flight (read only).
    pub fn inflight(&self) -> &Inflights {
        &self.tr().inflight
    }

    /// The subscriptions, by filter as subscribed.
    pub fn subs(&self) -> impl Iterator<Item = (&str, &SubRecord)> {
        self.subs.iter()
    }

    /// Deliveries waiting or in flight, and their payload bytes (for `$SYS`).
    pub fn backlog(&self) -> (usize, usize) {
        let t = self.tr();
        (t.queue.len() + t.inflight.len(), t.queue.bytes() + t.inflight.bytes())
    }

    /// A connection resumes the session: its identity, lifetime, will and limits replace the old
    /// ones; a will waiting for its delay is cancelled [MQTT-3.1.3-9]. What was queued or in flight is
    /// checked against the new identity (another user, or rules reloaded meanwhile): it gets nothing its
    /// own rights do not allow. Returns how many messages were dropped for that.
    pub(crate) fn resume(&mut self, session: &Session, with: Attaching, rec: Rec<'_>) -> usize {
        let rec = session.keep_if(with.expiry, rec);
        if self.pending_will.take().is_some() {
            rec.record(Change::WillCleared);
        }
        self.attached = Some(with.attachment);
        self.version = with.version;
        self.expiry = with.expiry;
        self.disconnected_at = None;
        self.limits = with.limits;
        if let Some(t) = &mut self.traffic {
            t.queue.set_limits(with.limits);
        }
        self.will = with.will.map(Box::new);
        self.access = Some(with.access);
        session.set_online(true);
        rec.record(Change::SessionResumed { expiry: self.expiry, version: self.version });
        self.recheck_access(&session.client_id, rec)
    }

    /// A new session's first connection.
    pub(crate) fn start(&mut self, session: &Session, with: Attaching, rec: Rec<'_>) {
        let rec = session.keep_if(with.expiry, rec);
        self.attached = Some(with.attachment);
        self.access = Some(with.access);
        self.expiry = with.expiry;
        self.will = with.will.map(Box::new);
        session.set_online(true);
        rec.record(Change::SessionStarted { expiry: self.expiry, version: self.version });
    }

    /// Takes the attachment away (a takeover tells the old connection to stop).
    pub(crate) fn take_attachment(&mut self) -> Option<Attachment> {
        self.attached.take()
    }

    /// Keeps only the deliveries (queued, retained owed, in flight) the session's current identity may
    /// read. Returns how many were dropped.
    fn recheck_access(&mut self, client_id: &str, rec: Rec<'_>) -> usize {
        let Some(access) = self.access.clone() else { return 0 };
        if access.acl.is_none() {
            return 0;
        }
        let mut removed = Vec::new();
        let mut may = |d: &Delivery| {
            let ok = access.may_read(client_id, &d.msg.topic);
            if !ok && (d.recorded || d.qos != QoS::AtMostOnce) {
                removed.push(d.msg.clone());
            }
            ok
        };
        let Some(t) = &mut self.traffic else { return 0 };
        let queued = t.queue.retain(&mut may);
        let before = t.inflight.len();
        // A PUBREL carries no message: those exchanges complete.
        t.inflight.retain(|f| f.stage == Stage::Released || may(&f.delivery));
        let after = t.inflight.len();
        if !removed.is_empty() {
            rec.record(Change::Removed { msgs: &removed });
        }
        queued + (before - after)
    }

    /// Refreshes the ACL snapshot from the listener's security (after a reload).
    pub(crate) fn refresh_acl(&mut self) {
        if let Some(a) = &mut self.access {
            a.acl = a.security.read().acl.clone();
        }
    }

    /// The connection closed at `now` with the session lifetime `expiry` in force: the session is
    /// detached; its will is returned if it is to be published now (`publish_will`: the close was not
    /// a normal DISCONNECT), or kept waiting for its delay (even when the session ends now: see
    /// [`SessionState::take_pending_will`]).
    pub(crate) fn detach(
        &mut self,
        session: &Session,
        now: Instant,
        publish_will: bool,
        expiry: Expiry,
        rec: Rec<'_>,
    ) -> Option<Will> {
        self.attached = None;
        session.set_online(false);
        self.disconnected_at = Some(now);
        self.expiry = expiry;
        self.compact();
        rec.record(Change::SessionDetached { expiry });
        let will = self.will.take().filter(|_| publish_will).map(|w| *w)?;
        let delay = will.properties.will_delay_interval.unwrap_or(0);
        if delay == 0 {
            return Some(will);
        }
        let at = now + Duration::from_secs(delay.into());
        rec.record(Change::WillDelayed { will: &will, at });
        self.pending_will = Some(Box::new(PendingWill { will, at }));
        None
    }

    /// Takes the will waiting for its delay, if any, with when it is due: a session that ends while
    /// one waits hands it on, and a new connection with the client id cancels it.
    pub(crate) fn take_pending_will(&mut self, rec: Rec<'_>) -> Option<(Will, Instant)> {
        let p = self.pending_will.take()?;
        rec.record(Change::WillCleared);
        Some((p.will, p.at))
    }

    /// A connection with the client id ends this session (a clean start, or a takeover of a session
    /// that ends with its connection): the client is back, so a will that would wait for a delay is
    /// not sent, whether it waits already or its connection is only being taken over (Mosquitto
    /// delays it on the takeover, then cancels it).
    pub(crate) fn cancel_delayed_wills(&mut self, rec: Rec<'_>) {
        let _ = self.take_pending_will(rec);
        if self.will.as_ref().is_some_and(|w| w.properties.will_delay_interval.unwrap_or(0) > 0) {
            self.will = None;
        }
    }

    /// Whether the detached session has outlived its expiry at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        if self.attached.is_some() {
            return false;
        }
        match (self.expiry, self.disconnected_at) {
            (Expiry::AtDisconnect, Some(_)) => true,
            (Expiry::After(d), Some(at)) => now >= at + d,
            _ => false,
        }
    }

    /// A delayed will whose time has come at `now` (detached sessions only).
    pub(crate) fn take_due_will(&mut self, now: Instant, rec: Rec<'_>) -> Option<Will> {
        if self.attached.is_some() || self.pending_will.as_ref().is_none_or(|p| p.at > now) {
            return None;
        }
        rec.record(Change::WillCleared);
        self.pending_will.take().map(|p| p.will)
    }

    /// Every will the session holds: the connection's and a delayed one (shutdown).
    pub(crate) fn take_wills(&mut self) -> Vec<Will> {
        self.will.take().map(|w| *w).into_iter().chain(self.pending_will.take().map(|p| p.will)).collect()
    }

    /// The session ended: empties it and returns what is left to clean up elsewhere.
    pub(crate) fn end(&mut self, rec: Rec<'_>) -> Ended {
        rec.record(Change::SessionEnded);
        let filters = self.subs.take_filters();
        let shared = self.take_shared(rec);
        let wills = self.take_wills();
        self.traffic = None;
        Ended { filters, shared, wills }
    }

    /// Takes the shared-subscription deliveries another member may take over: everything not yet
    /// sent, and QoS 1 messages sent but not acknowledged (QoS 2 messages already sent stay: they must
    /// complete with this client [MQTT-4.8.2-5]).
    pub(crate) fn take_shared(&mut self, rec: Rec<'_>) -> Vec<Delivery> {
        let Some(t) = &mut self.traffic else { return Vec::new() };
        let mut out = t.queue.take_where(|d| d.shared().is_some());
        let from_queue = out.len();
        if t.inflight.iter().any(|f| f.delivery.shared().is_some()) {
            let mut keep = Vec::with_capacity(t.inflight.len());
            for f in t.inflight.take_all() {
                if f.delivery.shared().is_some() && f.delivery.qos == QoS::AtLeastOnce && f.stage == Stage::Published {
                    out.push(f.delivery);
                } else {
                    keep.push(f);
                }
            }
            for f in keep {
                t.inflight.push(f);
            }
        }
        let recorded: Vec<Arc<crate::message::Message>> = out
            .iter()
            .enumerate()
            .filter(|(i, d)| *i >= from_queue || d.recorded)
            .map(|(_, d)| d.msg.clone())
            .collect();
        if !recorded.is_empty() {
            rec.record(Change::Removed { msgs: &recorded });
        }
        out
    }

    /// Records a subscription; returns whether it replaced one.
    pub(crate) fn subscribe(&mut self, filter: &str, record: SubRecord, rec: Rec<'_>) -> bool {
        rec.record(Change::Subscribed { filter, record });
        self.subs.insert(filter, record).is_some()
    }

    /// Forgets a subscription; returns whether it existed.
    pub(crate) fn unsubscribe(&mut self, filter: &str, rec: Rec<'_>) -> bool {
        let existed = self.subs.remove(filter).is_some();
        if existed {
            rec.record(Change::Unsubscribed { filter });
        }
        existed
    }
}

#[cfg(test)]
mod traffic_tests {
    use bytes::Bytes;

    use super::*;
    use crate::durable::tests::Log;
    use crate::message::Message;

    #[test]
    fn an_idle_session_lets_its_traffic_go() {
        let log = Log::default();
        let rec = || Rec::new(&log, "c", false);
        let limits = QueueLimits { max_messages: 10, max_bytes: 0, queue_qos0: false };
        let s = Session::new(1, "c".into(), ProtocolVersion::V311, limits);
        let mut st = s.state.lock();
        st.compact();
        assert!(st.traffic.is_none());
        let msg = Arc::new(Message::from_broker("t", Bytes::from_static(b"x"), QoS::AtLeastOnce, false));
        let d = Delivery::new(msg, QoS::AtLeastOnce, false);
        st.tr_mut().queue.push(d, true);
        st.compact();
        assert!(st.traffic.is_some(), "a delivery is queued");
        let d = st.next_to_send(10, 0, rec()).expect("queued");
        let pid = st.assign_pid(&d).expect("a packet id");
        st.sent(pid, d, rec());
        st.compact();
        assert!(st.traffic.is_some(), "a delivery is in flight");
        assert_eq!(st.client_ack(ClientAck::PubAck, pid, rec()), AckEffect::Ended);
        st.compact();
        assert!(st.traffic.is_none());
        assert_eq!(st.receive_qos2(7, None, rec()), Qos2Receipt::New);
        st.compact();
        assert!(st.traffic.is_some(), "a QoS 2 message awaits its PUBREL");
        assert_eq!(st.receive_qos2(7, None, rec()), Qos2Receipt::Duplicate);
        assert!(st.release_qos2(7, rec()));
        st.compact();
        assert!(st.traffic.is_none());
        // What only reads or finds nothing makes no traffic state.
        assert!(!st.release_qos2(7, rec()));
        assert_eq!(st.client_ack(ClientAck::PubAck, 9, rec()), AckEffect::Unknown);
        assert!(!st.more_to_send(10) && st.next_to_send(10, 0, rec()).is_none());
        assert!(st.traffic.is_none());
    }
}
