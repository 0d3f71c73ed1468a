//! Persistence (`persistence true`): the broker's durable changes ([`crate::durable`]) recorded in the
//! store ([`mq_store`]), and the state restored from it at start.
//!
//! Every change is appended to the journal as it happens and written to the system by the store's
//! writer thread in batches; a connection holds back what depends on a change (PUBACK, PUBREC, PUBCOMP,
//! SUBACK, UNSUBACK, a persistent session's CONNACK, a QoS 2 delivery) until it is written, so a
//! broker killed at any moment has kept everything it acknowledged. When writes reach stable storage
//! is `persistence_fsync` (default: at most a second later).
//!
//! Messages are stored once, when first queued for a persistent session or retained, as an MQTT 5
//! PUBLISH (topic, properties, payload) with their QoS, retain flag, absolute expiry and, with
//! `check_retain_source`, their publisher.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mq_proto::{Packet, ProtocolVersion, Publish, PublishHeader, QoS, SubscriptionOptions, Will};
use mq_store::record::{COPY_BLOB_UP_TO, Framer};
use mq_store::{Entry, Journal, Record, State};
use tokio::sync::Notify;

use crate::auth::Security;
use crate::broker::Broker;
use crate::durable::{Change, Durable, Pos};
use crate::message::{Delivery, Message, Source};
use crate::session::{Expiry, Inflight, QueueLimits, Restored, Session, Stage, SubRecord};
use crate::subs::Subscriber;

/// The store behind a broker with `persistence true`.
pub struct Persistence {
    /// Sessions, their subscriptions and messages.
    sessions: Journal,
    /// Retained messages, apart: a broker can serve while it reads many of them back.
    retained: Journal,
    written: Arc<Notify>,
    next_msg: AtomicU64,
    /// Held while the store is in use: another broker cannot open it.
    _locks: Vec<std::fs::File>,
}

impl std::fmt::Debug for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence").field("sessions", &self.sessions).field("retained", &self.retained).finish()
    }
}

/// Milliseconds since the Unix epoch of an instant (past or future).
fn unix_ms(at: Instant) -> u64 {
    let now = Instant::now();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    if at >= now {
        now_ms + at.duration_since(now).as_millis() as u64
    } else {
        now_ms.saturating_sub(now.duration_since(at).as_millis() as u64)
    }
}

/// The instant of a Unix time in milliseconds.
fn instant_of(ms: u64) -> Instant {
    let now = Instant::now();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - ms)).unwrap_or(now)
    }
}

fn expiry_secs(e: Expiry) -> u32 {
    match e {
        Expiry::AtDisconnect => 0,
        Expiry::Never => u32::MAX,
        Expiry::After(d) => u32::try_from(d.as_secs()).unwrap_or(u32::MAX - 1).clamp(1, u32::MAX - 1),
    }
}

fn expiry_of(secs: u32) -> Expiry {
    match secs {
        0 => Expiry::AtDisconnect,
        u32::MAX => Expiry::Never,
        s => Expiry::After(Duration::from_secs(s.into())),
    }
}

fn version_byte(v: ProtocolVersion) -> u8 {
    match v {
        ProtocolVersion::V31 => 3,
        ProtocolVersion::V311 => 4,
        ProtocolVersion::V5 => 5,
    }
}

fn version_of(b: u8) -> ProtocolVersion {
    match b {
        3 => ProtocolVersion::V31,
        5 => ProtocolVersion::V5,
        _ => ProtocolVersion::V311,
    }
}

/// The subscription options byte, as in an MQTT 5 SUBSCRIBE.
fn opts_byte(o: &SubscriptionOptions) -> u8 {
    o.qos.as_u8() | u8::from(o.no_local) << 2 | u8::from(o.retain_as_published) << 3 | (o.retain_handling as u8) << 4
}

fn opts_of(b: u8) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: QoS::from_u8(b & 3).unwrap_or(QoS::AtMostOnce),
        no_local: b & 4 != 0,
        retain_as_published: b & 8 != 0,
        retain_handling: match (b >> 4) & 3 {
            1 => mq_proto::RetainHandling::SendIfNew,
            2 => mq_proto::RetainHandling::DoNotSend,
            _ => mq_proto::RetainHandling::SendAtSubscribe,
        },
    }
}

fn put_opt_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => {
            b.put_u16_le(s.len().min(0xFFFE) as u16);
            b.put_slice(s.as_bytes().get(..s.len().min(0xFFFE)).unwrap_or_default());
        }
        None => b.put_u16_le(0xFFFF),
    }
}

fn get_opt_str(b: &mut Bytes) -> Option<Option<String>> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_u16_le();
    if n == 0xFFFF {
        return Some(None);
    }
    let n = usize::from(n);
    if b.remaining() < n {
        return None;
    }
    String::from_utf8(b.split_to(n).to_vec()).ok().map(Some)
}

/// A message as stored: format 1, expiry (unix ms, 0: none), QoS, flags, the publisher (with
/// `check_retain_source`), then the message as an MQTT 5 PUBLISH at QoS 0.
fn encode_message(msg: &Message) -> Bytes {
    let mut b = BytesMut::with_capacity(32 + msg.topic.len() + msg.size());
    encode_message_into(msg, &mut b);
    b.freeze()
}

/// The same, at the end of `b`.
fn encode_message_into(msg: &Message, b: &mut BytesMut) {
    let source = msg.source.as_ref().map(|s| (s.username.as_deref(), &*s.client_id));
    put_stored_head(b, msg.expires_at.map_or(0, unix_ms), msg.qos, msg.retain, source);
    let header = PublishHeader {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: msg.retain,
        topic: &msg.topic,
        packet_id: None,
        properties: msg.properties(),
    };
    if header.encode(msg.size(), ProtocolVersion::V5, b).is_ok() {
        match &msg.large {
            Some(p) => p.pieces().iter().for_each(|piece| b.extend_from_slice(piece)),
            None => b.extend_from_slice(&msg.payload),
        }
    }
}

/// A message as stored (see [`encode_message`]) from its parts: expiry (unix ms, 0: none), the QoS it
/// was published with, its publisher (user name, client id), and the message as a PUBLISH (its retain
/// flag is the message's; its properties never carry Topic Alias, Subscription Identifier or Message
/// Expiry Interval).
pub(crate) fn encode_stored(expires_ms: u64, qos: QoS, source: Option<(Option<&str>, &str)>, p: Publish) -> Bytes {
    let mut b = BytesMut::with_capacity(32 + p.topic.len() + p.payload.len());
    encode_stored_into(&mut b, expires_ms, qos, source, p);
    b.freeze()
}

fn encode_stored_into(b: &mut BytesMut, expires_ms: u64, qos: QoS, source: Option<(Option<&str>, &str)>, p: Publish) {
    put_stored_head(b, expires_ms, qos, p.retain, source);
    let _ = Packet::Publish(p).encode(ProtocolVersion::V5, b);
}

/// What a stored message holds before its PUBLISH: format 1, expiry, QoS, flags, publisher.
fn put_stored_head(b: &mut BytesMut, expires_ms: u64, qos: QoS, retain: bool, source: Option<(Option<&str>, &str)>) {
    b.put_u8(1);
    b.put_u64_le(expires_ms);
    b.put_u8(qos.as_u8());
    b.put_u8(u8::from(retain) | u8::from(source.is_some()) << 1);
    if let Some((username, client_id)) = source {
        put_opt_str(b, username);
        put_opt_str(b, Some(client_id));
    }
}

/// A stored message's parts: expiry (unix ms, 0: none), QoS, retain, publisher (user name, client
/// id), and the message as a PUBLISH.
struct StoredMessage {
    expires: u64,
    qos: QoS,
    retain: bool,
    source: Option<(Option<String>, String)>,
    publish: Publish,
}

fn parse_message(mut b: Bytes) -> Option<StoredMessage> {
    if b.remaining() < 11 || b.get_u8() != 1 {
        return None;
    }
    let expires = b.get_u64_le();
    let qos = QoS::from_u8(b.get_u8())?;
    let flags = b.get_u8();
    let source = if flags & 2 != 0 {
        let username = get_opt_str(&mut b)?;
        let client_id = get_opt_str(&mut b)??;
        Some((username, client_id))
    } else {
        None
    };
    let mut raw = BytesMut::from(&b[..]);
    drop(b);
    let Ok(Some(Packet::Publish(publish))) = mq_proto::decode(&mut raw, ProtocolVersion::V5, usize::MAX) else {
        return None;
    };
    Some(StoredMessage { expires, qos, retain: flags & 1 != 0, source, publish })
}

/// A stored message back; `security` judges `check_retain_source` after a restart.
fn decode_message(b: Bytes, security: &Arc<parking_lot::RwLock<Arc<Security>>>) -> Option<Message> {
    let m = parse_message(b)?;
    let source = m.source.map(|(username, client_id)| {
        Arc::new(Source { security: security.clone(), username: username.map(Into::into), client_id: client_id.into() })
    });
    // The payload alone is kept (the rest of the packet is in the message's fields).
    let payload = Bytes::copy_from_slice(&m.publish.payload);
    Some(
        Message {
            expires_at: (m.expires != 0).then(|| instant_of(m.expires)),
            source,
            ..Message::from_broker(m.publish.topic, payload, m.qos, m.retain)
        }
        .with_properties(m.publish.properties),
    )
}

/// A stored message's topic, QoS, retain flag and payload (for `mq db dump`); `None` if unreadable.
pub fn describe_message(blob: &Bytes) -> Option<(String, u8, bool, Bytes)> {
    let m = parse_message(blob.clone())?;
    Some((m.publish.topic.to_string(), m.qos.as_u8(), m.retain, m.publish.payload))
}

/// A will as stored: the message part as for messages, plus its QoS and retain flag.
fn encode_will(w: &Will) -> Bytes {
    let mut b = BytesMut::new();
    let p = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: w.retain,
        topic: w.topic.clone(),
        packet_id: None,
        properties: mq_proto::PublishProperties {
            payload_format_indicator: w.properties.payload_format_indicator,
            message_expiry_interval: w.properties.message_expiry_interval,
            content_type: w.properties.content_type.clone(),
            response_topic: w.properties.response_topic.clone(),
            correlation_data: w.properties.correlation_data.clone(),
            user_properties: w.properties.user_properties.clone(),
            ..Default::default()
        },
        payload: w.payload.clone(),
    };
    b.put_u8(w.qos.as_u8());
    let _ = Packet::Publish(p).encode(ProtocolVersion::V5, &mut b);
    b.freeze()
}

fn decode_will(mut b: Bytes) -> Option<Will> {
    if !b.has_remaining() {
        return None;
    }
    let qos = QoS::from_u8(b.get_u8())?;
    let mut raw = BytesMut::from(&b[..]);
    let Ok(Some(Packet::Publish(p))) = mq_proto::decode(&mut raw, ProtocolVersion::V5, usize::MAX) else {
        return None;
    };
    let pp = p.properties;
    Some(Will {
        topic: p.topic,
        payload: p.payload,
        qos,
        retain: p.retain,
        properties: mq_proto::WillProperties {
            payload_format_indicator: pp.payload_format_indicator,
            message_expiry_interval: pp.message_expiry_interval,
            content_type: pp.content_type,
            response_topic: pp.response_topic,
            correlation_data: pp.correlation_data,
            user_properties: pp.user_properties,
            ..Default::default()
        },
    })
}

fn entry(d: &Delivery, msg: u64) -> Entry {
    Entry {
        msg,
        qos: d.qos.as_u8(),
        retain: d.retain,
        sub_ids: d.sub_ids().to_vec(),
        shared: d.shared().map(|s| s.to_string()),
    }
}

/// What the store's writers tell the broker.
fn hook(e: mq_store::Event) {
    match e {
        mq_store::Event::WriteFailed(why) => log!(
            Error,
            "Unable to write to the store ({why}): messages that need storing are refused until it works again."
        ),
        mq_store::Event::WriteRecovered => log!(Notice, "Writing to the store works again."),
        mq_store::Event::Compacted(Ok(bytes)) => log!(Information, "Store compacted to {bytes} bytes."),
        mq_store::Event::Compacted(Err(why)) => log!(Warning, "Store compaction failed: {why}."),
    }
}

impl Persistence {
    /// Records sessions in `sessions` and retained messages in `retained`; new messages get ids after
    /// `max_message_id`.
    pub fn new(
        sessions: Journal,
        retained: Journal,
        max_message_id: u64,
        locks: Vec<std::fs::File>,
    ) -> Arc<Persistence> {
        let p = Arc::new(Persistence {
            sessions,
            retained,
            written: Arc::new(Notify::new()),
            next_msg: AtomicU64::new(max_message_id + 1),
            _locks: locks,
        });
        for j in [&p.sessions, &p.retained] {
            let written = p.written.clone();
            j.set_waker(move || written.notify_waiters());
            j.set_hook(hook);
        }
        p
    }

    /// Lets the retained messages' journal compact (its earlier files have been read back).
    pub fn allow_retained_compaction(&self) {
        self.retained.allow_compaction();
    }

    /// Makes the writers wait this long before each batch (tests of what depends on a write).
    pub fn set_write_delay(&self, d: Duration) {
        self.sessions.set_write_delay(d);
        self.retained.set_write_delay(d);
    }

    /// The store id of `msg`, framing the message into `f` first if it was never stored.
    fn store_message(&self, f: &mut Framer, msg: &Message) -> u64 {
        let id = msg.stored.load(Ordering::Acquire);
        if id != 0 {
            return id;
        }
        let new = self.next_msg.fetch_add(1, Ordering::Relaxed);
        match msg.stored.compare_exchange(0, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if msg.size() <= COPY_BLOB_UP_TO {
                    // Encoded in place, next to the record that refers to it.
                    f.msg(new, |b| encode_message_into(msg, b));
                } else {
                    f.record(&Record::<&str>::Msg { id: new, blob: encode_message(msg) });
                }
                new
            }
            // Another thread stored it meanwhile (its record may land after ours: replay does not
            // mind the order of a message and what refers to it).
            Err(existing) => existing,
        }
    }

    /// Records a message in flight or queued for `client`, with the message itself if never stored.
    fn record_delivery(&self, client: &str, delivery: &Delivery, pid: Option<u16>) {
        self.sessions.append_with(|f| {
            let id = self.store_message(f, &delivery.msg);
            let entry = entry(delivery, id);
            match pid {
                Some(pid) => f.record(&Record::Inflight { client, pid, stage: 1, entry }),
                None => f.record(&Record::Queue { client, entry }),
            }
        });
    }

    /// Writes and syncs everything recorded, and stops writing (shutdown).
    pub fn close(&self) {
        self.sessions.close();
        self.retained.close();
    }
}

impl Durable for Persistence {
    fn record(&self, client_id: Option<&str>, change: Change<'_>) {
        let client = client_id.unwrap_or_default();
        let r: Record<&str> = match change {
            Change::SessionStarted { expiry, version } | Change::SessionResumed { expiry, version } => {
                Record::Session { client, expiry: expiry_secs(expiry), detached_at: 0, version: version_byte(version) }
            }
            Change::SessionDetached { expiry } => Record::Session {
                client,
                expiry: expiry_secs(expiry),
                detached_at: unix_ms(Instant::now()).max(1),
                version: 0,
            },
            Change::SessionEnded => Record::SessionEnd { client },
            Change::Subscribed { filter, record } => {
                Record::Sub { client, filter, opts: opts_byte(&record.opts), id: record.id.unwrap_or(0) }
            }
            Change::Unsubscribed { filter } => Record::Unsub { client, filter },
            Change::Queued { delivery } => return self.record_delivery(client, delivery, None),
            Change::Removed { msgs } => Record::Remove {
                client,
                msgs: msgs.iter().map(|m| m.stored.load(Ordering::Acquire)).filter(|id| *id != 0).collect(),
            },
            Change::Dequeued { pid } => Record::Dequeue { client, pid: pid.unwrap_or(0) },
            Change::SentDirect { pid, delivery } => return self.record_delivery(client, delivery, Some(pid)),
            Change::Acknowledged { pid, stage } => {
                Record::Ack { client, pid, stage: if stage == Stage::Published { 1 } else { 2 } }
            }
            Change::Received { pid } => Record::Released { client, pid },
            Change::Qos2Recorded { pid } => Record::Q2In { client, pid },
            Change::Qos2Released { pid } => Record::Q2Rel { client, pid },
            Change::WillDelayed { will, at } => Record::Will { client, at: unix_ms(at), blob: encode_will(will) },
            Change::WillCleared => Record::WillClear { client },
            Change::RetainSet { msg } => {
                // Carried whole in a journal of its own: the two are read back apart.
                self.retained
                    .append_with(|f| f.record(&Record::Retain { topic: &*msg.topic, blob: encode_message(msg) }));
                return;
            }
            Change::RetainCleared { topic } => {
                self.retained.append_with(|f| f.record(&Record::RetainClear { topic }));
                return;
            }
        };
        self.sessions.append_with(|f| f.record(&r));
    }

    fn appended(&self) -> Pos {
        Pos { sessions: self.sessions.appended(), retained: self.retained.appended() }
    }

    fn written(&self) -> Pos {
        Pos { sessions: self.sessions.written(), retained: self.retained.written() }
    }

    fn written_notify(&self) -> Option<&Notify> {
        Some(&self.written)
    }

    fn is_full(&self) -> bool {
        self.sessions.is_full() || self.retained.is_full()
    }
}

/// What a restore brought back.
#[derive(Debug, Default)]
pub struct RestoreCounts {
    pub sessions: usize,
    pub subscriptions: usize,
    pub retained: usize,
    pub queued: usize,
    pub expired: usize,
}

/// Messages restored at a time while the retained messages' write lock is held.
const RETAINED_BATCH: usize = 1024;

/// Brings the retained messages of the store back into `broker`, while it serves: records are applied
/// as they are read (no second copy of the store in memory), a topic set or cleared since the broker
/// started is left as it is now. Messages go in by batches, so a PUBLISH waits at most one batch; a
/// SUBSCRIBE waits for the end (see [`Broker::retained_pending`]). Returns what was damaged, how many
/// messages were restored, and how many had expired.
pub fn load_retained(
    broker: &Broker,
    earlier: &mq_store::Earlier,
    security: &Arc<parking_lot::RwLock<Arc<Security>>>,
) -> Result<(Vec<mq_store::Damaged>, usize, usize), mq_store::StoreError> {
    let now = Instant::now();
    let (mut restored, mut expired) = (0, 0);
    /// What a record asks of the retained store.
    enum Op {
        Set(Arc<Message>),
        Clear(String),
    }
    let mut batch: Vec<Op> = Vec::with_capacity(RETAINED_BATCH);
    let flush = |batch: &mut Vec<Op>| {
        let touched = broker.retained_loading.lock();
        let mut store = broker.retained.write();
        let untouched = |t: &str| !touched.as_ref().is_some_and(|s| s.contains(t));
        for op in batch.drain(..) {
            match op {
                Op::Set(m) if untouched(&m.topic) => store.set(m),
                Op::Clear(topic) if untouched(&topic) => {
                    store.set(Arc::new(Message::from_broker(topic, Bytes::new(), QoS::AtMostOnce, true)));
                }
                _ => {}
            }
        }
    };
    let (damaged, _) = earlier.each(|r| {
        let op = match r {
            Record::Retain { topic, blob } => match decode_message(blob, security) {
                Some(m) if !m.expired(now) => {
                    restored += 1;
                    Op::Set(Arc::new(m))
                }
                Some(_) => {
                    expired += 1;
                    Op::Clear(topic)
                }
                None => {
                    log!(Warning, "The stored retained message of {topic} could not be read; it is left out.");
                    Op::Clear(topic)
                }
            },
            Record::RetainClear { topic } => Op::Clear(topic),
            _ => return,
        };
        batch.push(op);
        if batch.len() == RETAINED_BATCH {
            flush(&mut batch);
        }
    })?;
    flush(&mut batch);
    broker.retained_loaded();
    Ok((damaged, restored, expired))
}

/// Brings the stored sessions into `broker`, before any client connects. `security` is what
/// `check_retain_source` judges restored messages by (the listeners' shared security).
pub fn restore(broker: &Broker, state: State, security: &Arc<parking_lot::RwLock<Arc<Security>>>) -> RestoreCounts {
    let mut counts = RestoreCounts::default();
    let now = Instant::now();
    let mut messages: HashMap<u64, Arc<Message>> = HashMap::with_capacity(state.messages.len());
    for (id, blob) in state.messages {
        match decode_message(blob, security) {
            Some(m) if !m.expired(now) => {
                m.stored.store(id, Ordering::Release);
                messages.insert(id, Arc::new(m));
            }
            Some(_) => counts.expired += 1,
            None => log!(Warning, "Stored message {id} could not be read; it is left out."),
        }
    }
    {
        let mut retained = broker.retained.write();
        for (_, id) in state.retained {
            if let Some(m) = messages.get(&id) {
                retained.set(m.clone());
                counts.retained += 1;
            }
        }
    }
    let limits: QueueLimits = broker.settings().queue;
    let delivery = |e: &Entry, recorded: bool| -> Option<Delivery> {
        let mut d = Delivery::new(messages.get(&e.msg)?.clone(), QoS::from_u8(e.qos)?, e.retain)
            .routed(e.sub_ids.clone(), e.shared.as_deref().map(Into::into));
        d.recorded = recorded;
        Some(d)
    };
    let mut sessions = broker.sessions.lock();
    let mut subs = broker.subs.write();
    for (client_id, s) in state.sessions {
        let client_id: Arc<str> = client_id.into();
        let expiry = expiry_of(s.expiry);
        let detached_at = if s.detached_at == 0 { now } else { instant_of(s.detached_at) };
        let queue: Vec<Delivery> = s.queue.iter().filter_map(|e| delivery(e, true)).collect();
        counts.queued += queue.len();
        let inflight: Vec<Inflight> = s
            .inflight
            .iter()
            .filter_map(|(pid, stage, e)| {
                let d = match delivery(e, true) {
                    Some(d) => d,
                    // Released: the message itself is no longer needed, only the packet id.
                    None if *stage == 2 => {
                        let msg = Arc::new(Message::from_broker("", Bytes::new(), QoS::ExactlyOnce, false));
                        let mut d = Delivery::new(msg, QoS::ExactlyOnce, false);
                        d.recorded = true;
                        d
                    }
                    None => return None,
                };
                Some(Inflight {
                    pid: *pid,
                    delivery: d,
                    stage: if *stage == 2 { Stage::Released } else { Stage::Published },
                })
            })
            .collect();
        let will = s.will.and_then(|(at, blob)| decode_will(blob).map(|w| (w, instant_of(at))));
        let filters: Vec<(String, SubRecord)> = s
            .subs
            .iter()
            .map(|(f, (opts, id))| (f.clone(), SubRecord { opts: opts_of(*opts), id: (*id != 0).then_some(*id) }))
            .collect();
        let session = Arc::new(Session::restore(
            broker.next_id(),
            client_id.clone(),
            version_of(s.version),
            limits,
            Restored { expiry, detached_at, subs: filters.clone(), queue, inflight, qos2: s.q2in, will },
        ));
        for (filter, record) in filters {
            subs.subscribe(&filter, Subscriber { session: session.clone(), opts: record.opts, id: record.id });
            counts.subscriptions += 1;
        }
        sessions.insert(client_id, session);
        counts.sessions += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Pieces;

    #[test]
    fn a_message_is_stored_as_its_publish_and_read_back() {
        let props = mq_proto::PublishProperties {
            content_type: Some("text/plain".into()),
            user_properties: vec![("k".into(), "v".into())],
            ..Default::default()
        };
        let msg = Message::from_broker("a/b", Bytes::from_static(b"payload"), QoS::AtLeastOnce, true)
            .with_properties(props.clone());
        let blob = encode_message(&msg);
        let p = Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: true,
            topic: "a/b".into(),
            packet_id: None,
            properties: props,
            payload: Bytes::from_static(b"payload"),
        };
        assert_eq!(blob, encode_stored(0, QoS::AtLeastOnce, None, p));
        assert_eq!(describe_message(&blob), Some(("a/b".to_owned(), 1, true, Bytes::from_static(b"payload"))));
        // A payload in pieces is stored whole.
        let pieces = Pieces::new(vec![Bytes::from_static(b"pay"), Bytes::from_static(b"load")], 7);
        let large = Message {
            large: Some(Arc::new(pieces)),
            ..Message::from_broker("a/b", Bytes::new(), QoS::AtLeastOnce, false)
        };
        let (_, _, _, payload) = describe_message(&encode_message(&large)).expect("readable");
        assert_eq!(&payload[..], b"payload");
    }
}
