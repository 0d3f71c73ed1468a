//! The client side of an MQTT connection (3.1, 3.1.1 and 5.0), without a socket: [`ClientSession`].
//!
//! Packets and the time go in ([`ClientSession::handle`], [`ClientSession::tick`]); requests go in
//! ([`ClientSession::publish`], [`ClientSession::subscribe`], ...); [`Action`]s come out of
//! [`ClientSession::poll_action`]: packets to send and [`Event`]s for the application, in the order they
//! must happen (an acknowledgement is sent before the message it acknowledges is handed over). The
//! caller does the I/O (a tokio driver in the client tools, `mq bench`, later the broker's bridges) and
//! says when bytes went out ([`ClientSession::sent`]), for keep alive.
//!
//! What it covers:
//! - CONNECT / CONNACK: the CONNECT is given once; a refusal is [`Event::Refused`] with the server's code;
//!   what CONNACK announces (Receive Maximum, Maximum QoS, Retain Available, Maximum Packet Size, Topic
//!   Alias Maximum, Server Keep Alive) is obeyed.
//! - Publishing at QoS 0, 1 and 2 (`outbound`): message ids numbered as Mosquitto's client library does
//!   (every PUBLISH, SUBSCRIBE and UNSUBSCRIBE takes the next one, skipping those in use); an in-flight
//!   window (the configured maximum or the server's Receive Maximum, the lower) with a queue behind it;
//!   PUBACK, PUBREC / PUBREL / PUBCOMP; topic aliases set on first use and sent alone after. A payload can
//!   be written by the caller itself ([`ClientSession::publish_streamed`]), from a file say.
//! - Receiving at QoS 0, 1 and 2 (`inbound`): acknowledgements in arrival order, possibly held until the
//!   application is done with a message ([`Options::manual_acks`]); QoS 2 exactly once, handed over on
//!   PUBLISH or on PUBREL ([`Qos2Delivery`]); topic aliases.
//! - SUBSCRIBE / SUBACK, UNSUBSCRIBE / UNSUBACK.
//! - Keep alive: PINGREQ when nothing was sent for a keep-alive period, [`Timeout::PingResp`] when its
//!   answer does not come within another.
//! - Reconnecting: [`ClientSession::connection_lost`], then [`ClientSession::connect`] on a new stream;
//!   what was in flight is sent again (DUP, or PUBREL), and a resumed session keeps its QoS 2 state.
//! - The server breaking the rules is a [`Violation`], returned by [`ClientSession::handle`].

mod error;
mod inbound;
mod outbound;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use error::{RequestError, Timeout, Violation};

use crate::packet::{Ack, ConnAck, Connect, Disconnect, MAX_PACKET_SIZE, Packet, Publish, Subscribe, Unsubscribe};
use crate::properties::{DisconnectProperties, SubscribeProperties, UnsubscribeProperties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, PacketType, ProtocolVersion, QoS, SubscriptionOptions};
use inbound::Inbound;
use outbound::Outbound;

/// When an incoming QoS 2 message is handed to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos2Delivery {
    /// On PUBLISH (its PUBREC follows the application's acknowledgement, with manual acknowledgements).
    OnPublish,
    /// On PUBREL, after PUBCOMP (as Mosquitto's client library does).
    OnRelease,
}

/// How a session behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The most QoS 1 and 2 messages in flight at once; the server's Receive Maximum may lower it.
    pub max_inflight: u16,
    /// When an incoming QoS 2 message is handed over.
    pub qos2_delivery: Qos2Delivery,
    /// Incoming QoS 1 and 2 messages are acknowledged only once the application calls
    /// [`ClientSession::ack`] with their [`AckToken`] (still in arrival order).
    pub manual_acks: bool,
    /// How long to wait for CONNACK, at least (a keep alive longer than this is waited instead); `None`:
    /// as long as it takes.
    pub connack_timeout: Option<Duration>,
    /// The largest packet this client sends, if lower than the server's limit (a bridge's
    /// `bridge_max_packet_size`); `None`: the server's limit.
    pub max_packet_size: Option<u32>,
    /// A PINGREQ from the server is answered with PINGRESP instead of being a protocol error: a
    /// broker's bridge does so, as Mosquitto's bridges do.
    pub answer_pingreq: bool,
    /// A PUBACK, PUBREC or PUBCOMP for a packet identifier nothing is waiting on (one of an earlier
    /// session, say) is [`Event::UnknownAck`] instead of a protocol error; a PUBREC is answered with
    /// PUBREL all the same, so that the server can end that flow (as Mosquitto does).
    pub tolerate_unknown_acks: bool,
    /// After CONNACK, what was in flight is sent again (and the queue goes on) only once the
    /// application calls [`ClientSession::resume`]: a bridge subscribes first, as Mosquitto's do.
    pub hold_resend: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_inflight: 20,
            qos2_delivery: Qos2Delivery::OnRelease,
            manual_acks: false,
            connack_timeout: Some(Duration::from_secs(10)),
            max_packet_size: None,
            answer_pingreq: false,
            tolerate_unknown_acks: false,
            hold_resend: false,
        }
    }
}

/// Names an incoming message whose acknowledgement waits for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken(u64);

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected { session_present: bool },
    /// CONNACK refused it: the MQTT 3.x return code or MQTT 5 reason code, as sent.
    Refused { code: u8 },
    /// An application message, its topic resolved. `ack` is set when its acknowledgement waits for
    /// [`ClientSession::ack`].
    Message { publish: Publish, ack: Option<AckToken> },
    /// A QoS 1 or 2 message of the client's is complete: acknowledged, or refused (a `reason` of 0x80 or
    /// more in PUBACK or PUBREC, MQTT 5).
    Published { mid: u16, reason: ReasonCode },
    /// SUBACK: the granted QoS or a failure code, per filter.
    Subscribed { mid: u16, granted: Vec<ReasonCode> },
    /// UNSUBACK (reason codes in MQTT 5 only).
    Unsubscribed { mid: u16, reasons: Vec<ReasonCode> },
    /// The server sent DISCONNECT; the connection is over.
    Disconnected { reason: ReasonCode },
    /// An acknowledgement for a packet identifier not in flight, ignored
    /// ([`Options::tolerate_unknown_acks`]).
    UnknownAck { packet: PacketType, id: u16 },
}

/// A PUBLISH to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPublish {
    /// The message id (the packet identifier at QoS 1 and 2; Mosquitto's clients number QoS 0 too).
    pub mid: u16,
    /// The packet as it goes on this connection (topic alias applied, DUP when sent again).
    pub publish: Publish,
    /// `Some(len)`: the payload is not in `publish`; the caller writes its `len` bytes after the header.
    pub streamed: Option<usize>,
}

/// What the session asks of its caller, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this packet.
    Send(Packet),
    /// Send this PUBLISH.
    Publish(OutgoingPublish),
    /// Tell the application.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No connection.
    Down,
    /// CONNECT sent at this time.
    Connecting(Instant),
    Connected,
    /// Refused, or ended by either side.
    Closed,
}

/// A SUBSCRIBE or UNSUBSCRIBE waiting for its answer: which, and how many filters.
#[derive(Debug, Clone, Copy)]
struct Request {
    packet: PacketType,
    filters: usize,
}

/// An MQTT client session: the protocol state of one client across its connections.
#[derive(Debug)]
pub struct ClientSession {
    connect: Connect,
    options: Options,
    state: State,
    connack: ConnAck,
    keep_alive: Option<Duration>,
    last_sent: Option<Instant>,
    ping_sent: Option<Instant>,
    last_mid: u16,
    requests: HashMap<u16, Request>,
    out: Outbound,
    inb: Inbound,
    actions: VecDeque<Action>,
    /// Connected, with what was in flight waiting for [`ClientSession::resume`].
    held: bool,
}

impl ClientSession {
    /// A session that connects with `connect`.
    pub fn new(connect: Connect, options: Options) -> Self {
        let p = &connect.properties;
        let v5 = connect.protocol.is_v5();
        let alias_max = if v5 { p.topic_alias_maximum.unwrap_or(0) } else { 0 };
        let receive_max = if v5 { p.receive_maximum.unwrap_or(u16::MAX) } else { u16::MAX };
        ClientSession {
            inb: Inbound::new(alias_max, receive_max, options.qos2_delivery, options.manual_acks),
            connect,
            options,
            state: State::Down,
            connack: ConnAck::default(),
            keep_alive: None,
            last_sent: None,
            ping_sent: None,
            last_mid: 0,
            requests: HashMap::new(),
            out: Outbound::default(),
            actions: VecDeque::new(),
            held: false,
        }
    }

    /// Connects with `connect` from the next connection on (a client falling back to an older
    /// protocol level); what is in flight stays.
    pub fn set_connect(&mut self, connect: Connect) {
        let p = &connect.properties;
        let v5 = connect.protocol.is_v5();
        let alias_max = if v5 { p.topic_alias_maximum.unwrap_or(0) } else { 0 };
        let receive_max = if v5 { p.receive_maximum.unwrap_or(u16::MAX) } else { u16::MAX };
        self.inb.set_limits(alias_max, receive_max);
        self.connect = connect;
    }

    /// Sends again what was in flight, then what is queued, after a CONNACK held by
    /// [`Options::hold_resend`]. Nothing to do otherwise.
    pub fn resume(&mut self) {
        if self.state == State::Connected && std::mem::take(&mut self.held) {
            let alias_max = self.server_alias_max();
            self.out.resend(alias_max, &mut self.actions);
            self.pump();
        }
    }

    /// Starts a connection on a new stream: CONNECT is the first action.
    pub fn connect(&mut self, now: Instant) {
        self.connection_lost();
        self.state = State::Connecting(now);
        self.last_sent = Some(now);
        self.actions.push_back(Action::Send(Packet::Connect(Box::new(self.connect.clone()))));
    }

    /// The stream went away. What belongs to the connection (aliases, acknowledgements owed, pending
    /// SUBSCRIBEs, actions not taken) is dropped; messages in flight wait for the next [`connect`].
    ///
    /// [`connect`]: ClientSession::connect
    pub fn connection_lost(&mut self) {
        self.state = State::Down;
        self.held = false;
        self.ping_sent = None;
        self.requests.clear();
        self.actions.clear();
        self.out.connection_lost();
        self.inb.connection_lost();
    }

    /// Ends the connection with DISCONNECT.
    pub fn disconnect(&mut self, reason: ReasonCode, properties: DisconnectProperties) {
        self.actions.push_back(Action::Send(Packet::Disconnect(Disconnect { reason, properties })));
        self.state = State::Closed;
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Bytes went out at `now` (keep alive counts from the last).
    pub fn sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }

    /// A packet from the server. A PUBLISH's topic alias is resolved as by [`resolve`].
    ///
    /// [`resolve`]: ClientSession::resolve
    pub fn handle(&mut self, packet: Packet) -> Result<(), Violation> {
        let kind = packet.packet_type();
        match (self.state, packet) {
            (_, Packet::Disconnect(d)) => {
                self.state = State::Closed;
                self.event(Event::Disconnected { reason: d.reason });
                Ok(())
            }
            (State::Connecting(_), Packet::ConnAck(ack)) => {
                self.on_connack(ack);
                Ok(())
            }
            // After DISCONNECT nothing more matters.
            (State::Closed, _) => Ok(()),
            (State::Down | State::Connecting(_), _) => Err(Violation::BeforeConnAck(kind)),
            (State::Connected, packet) => self.on_packet(packet),
        }
    }

    /// Puts the topic back into a PUBLISH that names it by its alias (and learns the alias it sets), for
    /// a caller that wants to see the topic before [`handle`] (a packet log); `handle` does it anyway.
    ///
    /// [`handle`]: ClientSession::handle
    pub fn resolve(&mut self, packet: &mut Packet) -> Result<(), Violation> {
        match packet {
            Packet::Publish(p) if self.state == State::Connected => self.inb.resolve(p),
            _ => Ok(()),
        }
    }

    /// Acts on the time: PINGREQ when due, a timeout when CONNACK or PINGRESP is overdue. `reading`:
    /// whether the caller was reading the stream meanwhile (an answer left unread is no sign of a dead
    /// server: another PINGREQ goes instead).
    pub fn tick(&mut self, now: Instant, reading: bool) -> Result<(), Timeout> {
        match self.state {
            State::Connecting(since) => {
                if self.connack_wait().is_some_and(|wait| now >= since + wait) {
                    return Err(Timeout::ConnAck);
                }
            }
            State::Connected => {
                let Some(k) = self.keep_alive else { return Ok(()) };
                match (self.ping_sent, self.last_sent) {
                    (Some(ping), _) if now >= ping + k => {
                        if reading {
                            return Err(Timeout::PingResp);
                        }
                        self.ping(now);
                    }
                    (None, Some(last)) if now >= last + k => self.ping(now),
                    _ => {}
                }
            }
            State::Down | State::Closed => {}
        }
        Ok(())
    }

    /// When [`tick`] has something to do next.
    ///
    /// [`tick`]: ClientSession::tick
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Connecting(since) => self.connack_wait().map(|wait| since + wait),
            State::Connected => {
                let k = self.keep_alive?;
                Some(self.ping_sent.or(self.last_sent)? + k)
            }
            State::Down | State::Closed => None,
        }
    }

    /// Publishes `p` (its packet identifier and DUP flag are the session's business); returns its
    /// message id. It goes at once if the window has room, else when it has; while disconnected, after
    /// the next CONNACK.
    pub fn publish(&mut self, p: Publish) -> Result<u16, RequestError> {
        let len = p.payload.len();
        self.enqueue(p, len, None)
    }

    /// Publishes `p` with a payload of `len` bytes that the caller writes itself right after the
    /// header (`p.payload` is ignored). It must go at once: connected, nothing queued, room in the window.
    pub fn publish_streamed(&mut self, mut p: Publish, len: usize) -> Result<u16, RequestError> {
        if self.state != State::Connected {
            return Err(RequestError::NotConnected);
        }
        if self.held || self.out.queued() > 0 || (p.qos != QoS::AtMostOnce && self.out.in_flight() >= self.window()) {
            return Err(RequestError::WindowFull);
        }
        p.payload = bytes::Bytes::new();
        self.enqueue(p, len, Some(len))
    }

    fn enqueue(&mut self, mut p: Publish, len: usize, streamed: Option<usize>) -> Result<u16, RequestError> {
        if p.qos.as_u8() > self.max_qos() {
            return Err(RequestError::QosNotSupported(self.max_qos()));
        }
        if p.retain && !self.retain_available() {
            return Err(RequestError::RetainNotSupported);
        }
        p.dup = false;
        p.packet_id = (p.qos != QoS::AtMostOnce).then_some(PacketId::MIN);
        let size = p.packet_len(len, self.version())?;
        if size > self.max_packet_size() {
            return Err(RequestError::TooLarge { size, max: self.max_packet_size() });
        }
        let mid = self.next_mid()?;
        if p.qos != QoS::AtMostOnce {
            p.packet_id = PacketId::new(mid);
        }
        self.out.enqueue(mid, p, streamed);
        self.pump();
        Ok(mid)
    }

    /// Subscribes to `filters`; returns the message id, which [`Event::Subscribed`] names.
    pub fn subscribe(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<u16, RequestError> {
        let mid = self.request(PacketType::Subscribe, filters.len())?;
        let packet_id = PacketId::new(mid).unwrap_or(PacketId::MIN);
        self.actions.push_back(Action::Send(Packet::Subscribe(Subscribe { packet_id, filters, properties })));
        Ok(mid)
    }

    /// Unsubscribes from `filters`; returns the message id, which [`Event::Unsubscribed`] names.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<String>,
        properties: UnsubscribeProperties,
    ) -> Result<u16, RequestError> {
        let mid = self.request(PacketType::Unsubscribe, filters.len())?;
        let packet_id = PacketId::new(mid).unwrap_or(PacketId::MIN);
        self.actions.push_back(Action::Send(Packet::Unsubscribe(Unsubscribe { packet_id, filters, properties })));
        Ok(mid)
    }

    fn request(&mut self, packet: PacketType, filters: usize) -> Result<u16, RequestError> {
        if self.state != State::Connected {
            return Err(RequestError::NotConnected);
        }
        let mid = self.next_mid()?;
        self.requests.insert(mid, Request { packet, filters });
        Ok(mid)
    }

    /// The application is done with the message of `token` (manual acknowledgements): its PUBACK or
    /// PUBREC goes once those of earlier messages have. A token of an earlier connection is ignored.
    pub fn ack(&mut self, token: AckToken) {
        self.inb.ack(token, &mut self.actions);
    }

    /// The message of `token` is not to be acknowledged on this connection, so that a resumed session
    /// gets it again; later messages are acknowledged without waiting for it.
    pub fn abandon(&mut self, token: AckToken) {
        self.inb.abandon(token, &mut self.actions);
    }

    /// The last message id given out.
    pub fn last_mid(&self) -> u16 {
        self.last_mid
    }

    /// Numbers the next messages after `last` (a client that starts a new session per connection but
    /// numbers its messages on, as Mosquitto's bridges do across reconnections).
    pub fn continue_mids_after(&mut self, last: u16) {
        self.last_mid = last;
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.connect.protocol
    }

    /// The last CONNACK that accepted a connection.
    pub fn connack(&self) -> &ConnAck {
        &self.connack
    }

    /// Whether a connection is up (CONNACK accepted it, and it has not ended).
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// The largest packet the server accepts (MQTT 5 Maximum Packet Size; else the MQTT limit), or
    /// the session's own limit if lower.
    pub fn max_packet_size(&self) -> usize {
        let size = |m: Option<u32>| m.map_or(MAX_PACKET_SIZE, |m| usize::try_from(m).unwrap_or(MAX_PACKET_SIZE));
        size(self.connack.properties.maximum_packet_size).min(size(self.options.max_packet_size)).min(MAX_PACKET_SIZE)
    }

    /// The highest QoS the server accepts (MQTT 5 Maximum QoS; else 2).
    pub fn max_qos(&self) -> u8 {
        self.connack.properties.maximum_qos.unwrap_or(2)
    }

    /// Whether the server accepts retained messages (MQTT 5 Retain Available; else yes).
    pub fn retain_available(&self) -> bool {
        self.connack.properties.retain_available != Some(0)
    }

    /// The in-flight window: the configured maximum, or the server's Receive Maximum if lower.
    pub fn window(&self) -> usize {
        let server = self.connack.properties.receive_maximum.unwrap_or(u16::MAX);
        usize::from(self.options.max_inflight.min(server).max(1))
    }

    /// QoS 1 and 2 messages sent and not complete.
    pub fn in_flight(&self) -> usize {
        self.out.in_flight()
    }

    /// Whether another message would go at once (nothing queued, room in the window).
    pub fn has_room(&self) -> bool {
        !self.held && self.out.queued() == 0 && self.out.in_flight() < self.window()
    }

    /// Messages not yet sent, waiting for room in the window or for a connection.
    pub fn queued(&self) -> usize {
        self.out.queued()
    }

    /// Acknowledgements owed to the server and not sent yet (held for the application, or behind one
    /// that is).
    pub fn owed_acks(&self) -> usize {
        self.inb.owed()
    }

    fn connack_wait(&self) -> Option<Duration> {
        let keep_alive = Duration::from_secs(self.connect.keep_alive.into());
        self.options.connack_timeout.map(|t| t.max(keep_alive))
    }

    fn ping(&mut self, now: Instant) {
        self.actions.push_back(Action::Send(Packet::PingReq));
        self.ping_sent = Some(now);
    }

    fn event(&mut self, e: Event) {
        self.actions.push_back(Action::Event(e));
    }

    /// The message id after the last one, skipping those still in use (a wrapped counter meeting a
    /// message in flight).
    fn next_mid(&mut self) -> Result<u16, RequestError> {
        for _ in 0..u16::MAX {
            self.last_mid = self.last_mid.checked_add(1).unwrap_or(1);
            if !self.out.uses(self.last_mid) && !self.requests.contains_key(&self.last_mid) {
                return Ok(self.last_mid);
            }
        }
        Err(RequestError::NoPacketId)
    }

    fn pump(&mut self) {
        if self.state == State::Connected && !self.held {
            let alias_max = self.server_alias_max();
            self.out.pump(self.window(), alias_max, &mut self.actions);
        }
    }

    fn server_alias_max(&self) -> u16 {
        self.connack.properties.topic_alias_maximum.unwrap_or(0)
    }

    fn on_connack(&mut self, ack: ConnAck) {
        if !ack.is_success() {
            self.state = State::Closed;
            self.event(Event::Refused { code: ack.code });
            return;
        }
        let keep_alive = ack.properties.server_keep_alive.unwrap_or(self.connect.keep_alive);
        self.keep_alive = (keep_alive > 0).then(|| Duration::from_secs(keep_alive.into()));
        let session_present = ack.session_present;
        self.connack = ack;
        self.state = State::Connected;
        self.inb.connected(session_present);
        self.event(Event::Connected { session_present });
        if self.options.hold_resend {
            self.held = true;
            return;
        }
        let alias_max = self.server_alias_max();
        self.out.resend(alias_max, &mut self.actions);
        self.pump();
    }

    fn on_packet(&mut self, packet: Packet) -> Result<(), Violation> {
        let kind = packet.packet_type();
        match packet {
            Packet::Publish(p) => self.inb.publish(p, &mut self.actions),
            Packet::PubRel(a) => self.inb.release(&a, &mut self.actions),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubComp(a) => {
                let pid = a.packet_id;
                match self.out.ack(kind, a, &mut self.actions) {
                    Err(Violation::UnknownPacketId { packet, id }) if self.options.tolerate_unknown_acks => {
                        if packet == PacketType::PubRec {
                            self.actions.push_back(Action::Send(Packet::PubRel(Ack::new(pid))));
                        }
                        self.event(Event::UnknownAck { packet, id });
                    }
                    r => r?,
                }
                self.pump();
                Ok(())
            }
            Packet::SubAck(s) => {
                self.answer(kind, PacketType::Subscribe, s.packet_id.get(), s.reason_codes.len())?;
                let mid = s.packet_id.get();
                self.event(Event::Subscribed { mid, granted: s.reason_codes });
                Ok(())
            }
            Packet::UnsubAck(u) => {
                // Reason codes exist from MQTT 5 on.
                let count = if self.version().is_v5() { u.reason_codes.len() } else { usize::MAX };
                self.answer(kind, PacketType::Unsubscribe, u.packet_id.get(), count)?;
                self.event(Event::Unsubscribed { mid: u.packet_id.get(), reasons: u.reason_codes });
                Ok(())
            }
            Packet::PingResp => {
                self.ping_sent = None;
                Ok(())
            }
            Packet::PingReq if self.options.answer_pingreq => {
                self.actions.push_back(Action::Send(Packet::PingResp));
                Ok(())
            }
            Packet::ConnAck(_) => Err(Violation::SecondConnAck),
            // DISCONNECT is handled whatever the state.
            Packet::Disconnect(_) => Ok(()),
            Packet::Connect(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) | Packet::PingReq | Packet::Auth(_) => {
                Err(Violation::Unexpected(kind))
            }
        }
    }

    /// Matches a SUBACK or UNSUBACK with its request; `codes` is `usize::MAX` where no codes are sent.
    fn answer(&mut self, packet: PacketType, request: PacketType, id: u16, codes: usize) -> Result<(), Violation> {
        match self.requests.get(&id) {
            Some(r) if r.packet == request => {
                let want = r.filters;
                self.requests.remove(&id);
                if codes != usize::MAX && codes != want {
                    return Err(Violation::ReasonCodeCount { packet, got: codes, want });
                }
                Ok(())
            }
            _ => Err(Violation::UnknownPacketId { packet, id }),
        }
    }
}
