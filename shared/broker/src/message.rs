//! Messages as the broker holds them: one immutable [`Message`] per PUBLISH received, shared by every
//! subscriber it goes to (Mosquitto's reference-counted message store), and one small [`Delivery`] per
//! subscriber saying how that subscriber gets it.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use bytes::Bytes;
use mq_proto::{PublishProperties, QoS};

/// An application message, immutable once routed.
#[derive(Debug)]
pub struct Message {
    /// Topic name (after the listener's mount point is applied).
    pub topic: Arc<str>,
    /// Payload, shared with every copy on its way to subscribers (empty when `large` holds it).
    pub payload: Bytes,
    /// A large payload, held in the pieces it was read into (see [`crate::connection`]).
    pub large: Option<Arc<Pieces>>,
    /// QoS the publisher sent it with.
    pub qos: QoS,
    /// Retain flag as published.
    pub retain: bool,
    /// MQTT 5 properties passed through unchanged (never Topic Alias, Subscription Identifier or
    /// Message Expiry Interval: those are per delivery).
    /// Boxed, and absent when empty (most messages): an idle retained message costs a pointer for them.
    pub properties: Option<Box<PublishProperties>>,
    /// When the message expires (MQTT 5 Message Expiry Interval), counted from its arrival.
    pub expires_at: Option<Instant>,
    /// Session id of the publisher, for No Local; 0 for messages the broker makes itself.
    pub origin: u64,
    /// Who published a retained message, kept only with `check_retain_source` so the publisher's
    /// write access can be checked again before the message is sent to a new subscriber.
    pub source: Option<Arc<Source>>,
    /// Its id in the persistent store, given when it is first stored (0: not stored).
    pub stored: AtomicU64,
}

/// The publisher of a retained message.
#[derive(Debug)]
pub struct Source {
    /// Its listener's security (reloadable).
    pub security: Arc<parking_lot::RwLock<Arc<crate::auth::Security>>>,
    /// Its user name.
    pub username: Option<Arc<str>>,
    /// Its client id.
    pub client_id: Arc<str>,
}

impl Source {
    /// Whether the publisher may still write `topic`.
    pub fn may_write(&self, topic: &str) -> bool {
        let sec = self.security.read();
        sec.acl
            .as_ref()
            .is_none_or(|acl| acl.check(crate::acl::Want::Write, self.username.as_deref(), &self.client_id, topic))
    }
}

impl Message {
    /// A message the broker publishes itself (`$SYS`, log lines, wills): no properties, no expiry, no
    /// publisher session.
    pub fn from_broker(topic: impl Into<Arc<str>>, payload: impl Into<Bytes>, qos: QoS, retain: bool) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            large: None,
            qos,
            retain,
            properties: None,
            expires_at: None,
            origin: 0,
            source: None,
            stored: AtomicU64::new(0),
        }
    }

    /// Properties given as they are: boxed when there are any.
    pub fn with_properties(mut self, p: PublishProperties) -> Message {
        self.properties = (p != PublishProperties::default()).then(|| Box::new(p));
        self
    }

    /// Its MQTT 5 properties (empty when it has none).
    pub fn properties(&self) -> &PublishProperties {
        static NONE: std::sync::LazyLock<PublishProperties> = std::sync::LazyLock::new(PublishProperties::default);
        self.properties.as_deref().unwrap_or(&NONE)
    }

    /// Whether the message has expired at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// Seconds left before expiry, as forwarded in Message Expiry Interval ([MQTT-3.3.2-6]).
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|t| {
            let left = t.saturating_duration_since(now);
            // Round up: a message with 0.4 s left still has a second to live for the receiver.
            u32::try_from(left.as_secs() + u64::from(left.subsec_nanos() > 0)).unwrap_or(u32::MAX)
        })
    }

    /// Payload bytes: what this message accounts for in queue limits.
    pub fn size(&self) -> usize {
        self.large.as_ref().map_or(self.payload.len(), |l| l.len())
    }
}

/// One subscriber's copy of a message: 24 bytes, as it sits in queues and in-flight windows by the
/// million (what only some deliveries carry is boxed).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The shared message.
    pub msg: Arc<Message>,
    /// Subscription identifiers and shared group, for the deliveries that have either.
    route: Option<Box<Route>>,
    /// QoS it is delivered with.
    pub qos: QoS,
    /// Retain flag as delivered (set for retained messages sent on subscribe, or Retain As Published).
    pub retain: bool,
    /// Whether its queueing was recorded in the persistent store (see [`crate::durable`]): then so is
    /// its leaving the queue.
    pub recorded: bool,
}

// Queues and in-flight windows hold deliveries by the million: their size is part of the memory per
// queued message (and what moves on every enqueue and send).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Delivery>() == 24);

/// What a delivery carries beyond its message for MQTT 5 subscription identifiers and shared
/// subscriptions.
#[derive(Debug, Clone)]
struct Route {
    /// Subscription identifiers of the subscriptions it matched (MQTT 5).
    sub_ids: Vec<u32>,
    /// The shared subscription (`$share/group/filter`) it came through, if any: if the subscriber goes
    /// away before acknowledging it, it goes to another member.
    shared: Option<Arc<str>>,
}

impl Delivery {
    /// `msg` delivered with `qos` and `retain`, through a plain subscription without identifier.
    pub fn new(msg: Arc<Message>, qos: QoS, retain: bool) -> Delivery {
        Delivery { msg, route: None, qos, retain, recorded: false }
    }

    /// With the subscription identifiers and shared group it came through.
    #[must_use]
    pub fn routed(mut self, sub_ids: Vec<u32>, shared: Option<Arc<str>>) -> Delivery {
        self.route = (!sub_ids.is_empty() || shared.is_some()).then(|| Box::new(Route { sub_ids, shared }));
        self
    }

    /// Subscription identifiers of the subscriptions it matched (MQTT 5).
    pub fn sub_ids(&self) -> &[u32] {
        self.route.as_ref().map_or(&[], |r| &r.sub_ids)
    }

    /// The shared subscription it came through, if any.
    pub fn shared(&self) -> Option<&Arc<str>> {
        self.route.as_ref().and_then(|r| r.shared.as_ref())
    }
}

/// A complete payload held in pieces, shared by every copy of its message.
#[derive(Debug)]
pub struct Pieces {
    pieces: Vec<Bytes>,
    len: usize,
}

impl Pieces {
    /// A payload made of `pieces`, `len` bytes in all.
    pub fn new(pieces: Vec<Bytes>, len: usize) -> Pieces {
        Pieces { pieces, len }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never, for a payload large enough to be read in pieces).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }
}
