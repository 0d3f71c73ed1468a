//! Sessions (MQTT §4.1): what the broker keeps for a client id, across connections when the session is
//! persistent: subscriptions, the queue of messages not yet sent, messages in flight, QoS 2 packet ids
//! received but not released, expiry and a delayed will.
//!
//! A session is shared: publishers' connection tasks push deliveries into its queue
//! ([`Session::enqueue`]) and its own connection task, when one is attached, pulls them out. The state is
//! plain data behind one short-held mutex (never held across an await), so a later persistence layer can
//! store it as it is.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mq_proto::{ProtocolVersion, QoS, SubscriptionOptions, Will};
use parking_lot::Mutex;

use crate::acl::{Acl, Want};
use crate::auth::Security;
use crate::kick::Kick;
use crate::message::Delivery;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// With `max_queued_messages 0` (no limit), publishers of QoS 1/2 messages are paused from this many
/// queued messages on.
const UNLIMITED_FLOW_MARK: usize = 1000;

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
    pub online: AtomicBool,
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

/// Queue limits in force for a session (from `max_queued_messages` and friends).
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Most deliveries waiting beyond the in-flight window; 0 = no limit.
    pub max_messages: usize,
    /// Most payload bytes waiting; 0 = no limit.
    pub max_bytes: usize,
    /// Queue QoS 0 messages for a disconnected persistent session.
    pub queue_qos0: bool,
}

impl QueueLimits {
    /// Deliveries a congested client must take from its queue in each wait of a publisher for it to
    /// be worth waiting for: a tenth of its queue limit (of the flow-control mark without a limit).
    pub fn drain_per_wait(&self) -> u64 {
        let limit = if self.max_messages > 0 { self.max_messages } else { UNLIMITED_FLOW_MARK };
        (limit as u64 / 10).max(1)
    }
}

pub use crate::inflight::{Inflight, Inflights, Stage};

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

/// A subscription as the session remembers it (the subscription table holds the routing side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRecord {
    /// Options as granted.
    pub opts: SubscriptionOptions,
    /// Subscription identifier (MQTT 5).
    pub id: Option<u32>,
}

/// The mutable part of a session.
#[derive(Debug)]
pub struct SessionState {
    /// The attached connection, if any.
    pub attached: Option<Attachment>,
    /// Protocol version of the last connection.
    pub version: ProtocolVersion,
    /// Access rules of the last connection (ACLs of a resumed session use them).
    pub access: Option<SessionAccess>,
    /// Deliveries waiting to be sent, oldest first.
    pub pending: VecDeque<Delivery>,
    /// Payload bytes in `pending`.
    pub pending_bytes: usize,
    /// Retained messages owed to the client after its SUBSCRIBEs, sent before `pending` and outside
    /// its limits: a subscription to `#` gets every retained message, paced by the in-flight window
    /// like any delivery, not cut at `max_queued_messages`. They are shared messages: each entry is
    /// a reference and a few flags.
    pub retained: VecDeque<Delivery>,
    /// Deliveries sent and not yet acknowledged, in send order, with their packet ids.
    pub inflight: Inflights,
    /// QoS 2 packet ids received and routed, awaiting PUBREL.
    pub incoming_qos2: PacketIds,
    /// Subscriptions by filter as subscribed (including `$share/...`).
    pub subs: FastMap<Box<str>, SubRecord>,
    /// How long the session outlives its connection.
    pub expiry: Expiry,
    /// When the last connection closed (None while attached).
    pub disconnected_at: Option<Instant>,
    /// The will of the attached connection (published if it ends abnormally). Boxed: most clients have
    /// none, and idle sessions should be small.
    pub will: Option<Box<Will>>,
    /// A will waiting for its delay.
    pub pending_will: Option<Box<PendingWill>>,
    /// Limits for `pending`.
    pub limits: QueueLimits,
    /// Deliveries dropped because the queue was full.
    pub dropped: u64,
    /// Whether a drop was logged since the queue last had room (Mosquitto logs once per episode).
    pub drop_logged: bool,
    /// The queue stayed full while a publisher waited: the client is not keeping up, so publishers no
    /// longer wait for it and what overflows is dropped. Cleared when the queue drains.
    pub stalled: bool,
    /// Deliveries taken from `pending` since the session began (progress, for stall detection).
    pub drained: u64,
    /// While publishers wait for this queue: since when its pace is being judged (broker ms; 0: not)
    /// and `drained` then. Its pace is judged over all the waits, however short each one is.
    pub congestion: (u64, u64),
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

/// What [`Session::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued for sending.
    Queued,
    /// Queued beyond the limit: the client is draining its queue, so the publisher should pause
    /// reading until there is room (see [`Session::has_room`]) instead of the message being dropped.
    Congested,
    /// Dropped: the queue is full.
    Dropped,
    /// Dropped, the first time since the queue last drained (the caller logs it once, as Mosquitto).
    FirstDrop,
    /// Not queued: QoS 0 for a disconnected session.
    Skipped,
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
                pending: VecDeque::new(),
                pending_bytes: 0,
                retained: VecDeque::new(),
                inflight: Inflights::default(),
                incoming_qos2: PacketIds::default(),
                subs: FastMap::default(),
                expiry: Expiry::AtDisconnect,
                disconnected_at: None,
                will: None,
                pending_will: None,
                limits,
                dropped: 0,
                drop_logged: false,
                stalled: false,
                congestion: (0, 0),
                drained: 0,
            }),
            online: AtomicBool::new(false),
        }
    }

    /// Whether a connection is attached.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Whether the queue is below its limits (or, without a limit, below the flow-control mark).
    pub fn has_room(&self) -> bool {
        !self.state.lock().congested()
    }

    /// Queues retained messages sent on subscribe: outside the queue limits, behind those already owed.
    /// Read access is checked as for any delivery.
    pub fn enqueue_retained(&self, deliveries: impl IntoIterator<Item = Delivery>) {
        let mut st = self.state.lock();
        let access = st.access.clone();
        let acl = access.as_ref().and_then(|a| a.acl.as_ref());
        let user = access.as_ref().and_then(|a| a.username.as_deref());
        let before = st.retained.len();
        st.retained.extend(
            deliveries
                .into_iter()
                .filter(|d| acl.is_none_or(|acl| acl.check(Want::Read, user, &self.client_id, &d.msg.topic))),
        );
        if before == 0
            && !st.retained.is_empty()
            && let Some(a) = &st.attached
        {
            a.kick.wake();
        }
    }

    /// Queues a delivery, honouring the queue limits. Wakes the attached connection if the queue was
    /// empty (a non-empty queue means the connection already has work it will come back for).
    ///
    /// Flow control: when the queue of a connected client that is keeping up is full, a QoS 1/2
    /// delivery is still queued (up to twice the limit) and [`Enqueued::Congested`] tells the publisher
    /// to pause; QoS 0 overflow and a stalled client's overflow are dropped, so one stuck subscriber
    /// never holds publishers back for more than a moment.
    pub fn enqueue(&self, d: Delivery) -> Enqueued {
        let mut st = self.state.lock();
        let online = st.attached.is_some();
        if !online && d.qos == QoS::AtMostOnce && !st.limits.queue_qos0 {
            return Enqueued::Skipped;
        }
        // Read access is checked per message at delivery, as Mosquitto does.
        if let Some(a) = &st.access
            && let Some(acl) = &a.acl
            && !acl.check(Want::Read, a.username.as_deref(), &self.client_id, &d.msg.topic)
        {
            return Enqueued::Skipped;
        }
        let size = d.msg.size();
        let mut result = Enqueued::Queued;
        // QoS 0 is at most once: its overflow is dropped. QoS 1/2 get flow control: queued beyond the
        // limit while the client drains (the publisher pauses), dropped once it stalls.
        let flow = online && d.qos != QoS::AtMostOnce && !st.stalled;
        if st.over_limit(size) {
            if flow && !st.over_hard_limit(size) {
                result = Enqueued::Congested;
            } else {
                st.dropped += 1;
                if !st.drop_logged {
                    st.drop_logged = true;
                    return Enqueued::FirstDrop;
                }
                return Enqueued::Dropped;
            }
        } else if flow && st.limits.max_messages == 0 && st.pending.len() >= UNLIMITED_FLOW_MARK {
            // Without a queue limit nothing is dropped, but publishers still pace themselves to the
            // subscriber instead of growing its queue without bound.
            result = Enqueued::Congested;
        }
        let was_empty = st.pending.is_empty();
        st.pending_bytes += size;
        st.pending.push_back(d);
        if was_empty && let Some(a) = &st.attached {
            a.kick.wake();
        }
        result
    }
}

/// What a publisher waiting for a congested queue should do (see [`SessionState::judge_pace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Keep waiting, until this broker time at most before judging again.
    Wait(u64),
    /// The client is not keeping up: it is now stalled; stop waiting for it.
    Stalled,
}

impl SessionState {
    /// Judges the pace of a congested client for a publisher about to wait for it, at broker time
    /// `now_ms`, over every wait since its congestion began (each may end as soon as one message is
    /// taken): over each `window_ms` it must take [`QueueLimits::drain_per_wait`] deliveries.
    pub fn judge_pace(&mut self, now_ms: u64, window_ms: u64) -> Pace {
        let (since, drained_then) = self.congestion;
        if since == 0 {
            self.congestion = (now_ms.max(1), self.drained);
            return Pace::Wait(now_ms + window_ms);
        }
        if now_ms < since + window_ms {
            return Pace::Wait(since + window_ms);
        }
        if self.drained.saturating_sub(drained_then) >= self.limits.drain_per_wait() {
            self.congestion = (now_ms.max(1), self.drained);
            return Pace::Wait(now_ms + window_ms);
        }
        self.stalled = true;
        self.congestion = (0, 0);
        Pace::Stalled
    }

    /// Whether publishers of QoS 1/2 messages should wait for this queue: at its limit, or, without a
    /// limit, at the flow-control mark.
    pub fn congested(&self) -> bool {
        self.over_limit(0) || (self.limits.max_messages == 0 && self.pending.len() >= UNLIMITED_FLOW_MARK)
    }

    /// Whether queueing `extra` more bytes would pass a queue limit.
    pub fn over_limit(&self, extra: usize) -> bool {
        (self.limits.max_messages > 0 && self.pending.len() >= self.limits.max_messages)
            || (self.limits.max_bytes > 0 && self.pending_bytes + extra > self.limits.max_bytes)
    }

    /// The limit flow control may queue up to: twice the configured one.
    fn over_hard_limit(&self, extra: usize) -> bool {
        (self.limits.max_messages > 0 && self.pending.len() >= 2 * self.limits.max_messages)
            || (self.limits.max_bytes > 0 && self.pending_bytes + extra > 2 * self.limits.max_bytes)
    }

    /// The next delivery to send: retained messages owed after a SUBSCRIBE first, then the queue.
    pub fn next_delivery(&self) -> Option<&Delivery> {
        self.retained.front().or_else(|| self.pending.front())
    }

    /// Takes the delivery [`SessionState::next_delivery`] shows.
    pub fn pop_delivery(&mut self) -> Option<Delivery> {
        match self.retained.pop_front() {
            Some(d) => {
                self.drained += 1;
                Some(d)
            }
            None => self.pop_pending(),
        }
    }

    /// Keeps only the deliveries (queued, retained owed, in flight) the session's current identity may
    /// read, after another user took the session over. Returns how many were dropped.
    pub fn recheck_access(&mut self, client_id: &str) -> usize {
        let Some(access) = &self.access else { return 0 };
        let Some(acl) = access.acl.clone() else { return 0 };
        let user = access.username.clone();
        let may = |d: &Delivery| acl.check(Want::Read, user.as_deref(), client_id, &d.msg.topic);
        let before = self.pending.len() + self.retained.len() + self.inflight.len();
        self.pending.retain(|d| may(d));
        self.pending_bytes = self.pending.iter().map(|d| d.msg.size()).sum();
        self.retained.retain(|d| may(d));
        // A PUBREL carries no message: those exchanges complete.
        self.inflight.retain(|f| f.stage == Stage::Released || may(&f.delivery));
        before - (self.pending.len() + self.retained.len() + self.inflight.len())
    }

    /// Takes the next pending delivery, keeping `pending_bytes` right.
    pub fn pop_pending(&mut self) -> Option<Delivery> {
        let d = self.pending.pop_front()?;
        self.pending_bytes = self.pending_bytes.saturating_sub(d.msg.size());
        self.drained += 1;
        if self.pending.is_empty() {
            self.drop_logged = false;
            self.stalled = false;
            self.congestion = (0, 0);
        }
        Some(d)
    }
}
