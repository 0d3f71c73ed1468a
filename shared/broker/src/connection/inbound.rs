//! Packets a connected client sends: PUBLISH (checked, routed, acknowledged), the acknowledgements of
//! its deliveries, SUBSCRIBE (with the retained messages it is owed), UNSUBSCRIBE, PINGREQ, DISCONNECT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use mq_proto::topic::split_shared;
use mq_proto::{
    Ack, Disconnect, Packet, PacketType, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck,
    Unsubscribe,
};

use crate::acl::Want;
use crate::log;
use crate::message::{Delivery, Message, Pieces, Source};
use crate::session::{AckEffect, ClientAck, Qos2Receipt};

use super::{Close, Conn, PublishSummary, Violation};

/// Payloads up to this size are copied out of the read buffer, so the buffer can be reused instead of
/// being kept alive by queued messages.
const COPY_PAYLOAD_UP_TO: usize = 1024;
impl Conn {
    pub(super) fn handle(&mut self, p: Packet) -> Result<(), Close> {
        // What these answer may depend on changes they record in the persistent store. PUBACK and
        // PUBCOMP are answered by nothing: what is sent next need not wait for their being written (a
        // crash before it only means the message comes again, as for any unacknowledged one).
        let durable = match &p {
            Packet::Publish(p) => p.qos != QoS::AtMostOnce,
            Packet::PubRec(_) | Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => true,
            _ => false,
        };
        // Only what it recorded itself: a message refused while the disk is full is answered at once
        // (if nothing from this connection waits to be written before it).
        let before = durable.then(|| self.seat.broker.durable.appended());
        let r = self.handle_packet(p);
        if before.is_some_and(|b| b != self.seat.broker.durable.appended()) {
            self.note_durable();
        }
        r
    }

    /// A packet refused for its type alone, from its first byte, before its body is read: a second
    /// CONNECT, AUTH (no extended authentication is under way), and the packets only a server sends.
    /// As in Mosquitto, a protocol error however the rest of the packet looks.
    pub(super) fn refused_by_type(&self, first: u8) -> Option<Violation> {
        match PacketType::from_nibble(first >> 4)? {
            PacketType::Connect => Some(Violation::SecondConnect),
            PacketType::Auth if self.proto.version.is_v5() => Some(Violation::UnexpectedAuth),
            // With reserved flag bits, Mosquitto calls SUBACK and UNSUBACK malformed (decoding says so).
            PacketType::SubAck | PacketType::UnsubAck if first & 0x0F != 0 => None,
            t @ (PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck | PacketType::PingResp) => {
                Some(Violation::ServerPacket(t))
            }
            _ => None,
        }
    }

    fn handle_packet(&mut self, p: Packet) -> Result<(), Close> {
        if crate::log::logger().enabled(crate::log::Level::Debug) {
            self.log_received(&p);
        }
        match p {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(a) => self.on_ack(PacketType::PubAck, ClientAck::PubAck, &a),
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => {
                let rec = self.seat.broker.rec(&self.session);
                let found = self.session.state.lock().release_qos2(a.packet_id.get(), rec);
                let reason = if found || !self.proto.version.is_v5() {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                };
                self.send(Packet::PubComp(Ack::with_reason(a.packet_id, reason)));
                Ok(())
            }
            Packet::PubComp(a) => self.on_ack(PacketType::PubComp, ClientAck::PubComp, &a),
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => self.on_disconnect(d),
            Packet::Connect(_) => Err(Violation::SecondConnect.into()),
            Packet::Auth(_) => Err(Violation::UnexpectedAuth.into()),
            other => Err(Violation::ServerPacket(other.packet_type()).into()),
        }
    }

    /// Mosquitto's `log_type debug` line for a packet received (PUBLISH: [`Conn::route_publish`];
    /// SUBSCRIBE and UNSUBSCRIBE: one more line per filter there).
    fn log_received(&self, p: &Packet) {
        let id = &*self.client_id;
        match p {
            Packet::PubAck(a) => {
                log!(Debug, client = id, "Received PUBACK from {id} (Mid: {}, RC:{})", a.packet_id.get(), a.reason.0);
            }
            Packet::PubComp(a) => {
                log!(Debug, client = id, "Received PUBCOMP from {id} (Mid: {}, RC:{})", a.packet_id.get(), a.reason.0);
            }
            Packet::PubRec(a) => log!(Debug, client = id, "Received PUBREC from {id} (Mid: {})", a.packet_id.get()),
            Packet::PubRel(a) => log!(Debug, client = id, "Received PUBREL from {id} (Mid: {})", a.packet_id.get()),
            Packet::Subscribe(_) => log!(Debug, client = id, "Received SUBSCRIBE from {id}"),
            Packet::Unsubscribe(_) => log!(Debug, client = id, "Received UNSUBSCRIBE from {id}"),
            Packet::PingReq => log!(Debug, client = id, "Received PINGREQ from {id}"),
            Packet::Disconnect(_) => log!(Debug, client = id, "Received DISCONNECT from {id}"),
            _ => {}
        }
    }

    pub(super) fn on_publish(&mut self, p: Publish) -> Result<(), Close> {
        if let Some(ack) = self.route_publish(p, None)? {
            self.send(ack);
        }
        Ok(())
    }

    /// Checks and routes a PUBLISH (whose payload is in `large` pieces, with its length, when it was
    /// read as a large payload) and returns the acknowledgement to send.
    pub(super) fn route_publish(
        &mut self,
        mut p: Publish,
        large: Option<(Arc<Pieces>, usize)>,
    ) -> Result<Option<Packet>, Close> {
        let payload_len = large.as_ref().map_or(p.payload.len(), |(_, len)| *len);
        let v5 = self.proto.version.is_v5();
        self.proto.publish(&mut p)?;
        self.local.pub_received += 1;
        self.local.pub_bytes_received += payload_len as u64;
        let pid = p.packet_id;

        // QoS 2 received twice before PUBREL (a resend with DUP): acknowledge without routing again.
        if p.qos == QoS::ExactlyOnce
            && let Some(id) = pid
        {
            // MQTT 5 clients may leave at most the Receive Maximum granted unreleased.
            let max = self.proto.qos2_limit();
            let rec = self.seat.broker.rec(&self.session);
            match self.session.state.lock().receive_qos2(id.get(), max, rec) {
                Qos2Receipt::New => {}
                Qos2Receipt::Duplicate => {
                    if crate::log::logger().enabled(crate::log::Level::Debug) {
                        let mount = self.seat.listener.mount_point.as_deref().unwrap_or_default();
                        let topic = format!("{mount}{}", p.topic);
                        let summary = PublishSummary {
                            dup: p.dup,
                            qos: p.qos,
                            retain: p.retain,
                            pid,
                            topic: &topic,
                            len: payload_len,
                        };
                        let id = &*self.client_id;
                        log!(Debug, client = id, "Received PUBLISH from {id} {summary}");
                    }
                    return Ok(Some(Packet::PubRec(Ack::new(id))));
                }
                Qos2Receipt::TooMany => return Err(Violation::ReceiveMaximumExceeded.into()),
            }
        }

        let topic: Arc<str> = match &self.seat.listener.mount_point {
            Some(m) => format!("{m}{}", p.topic).into(),
            None => p.topic.clone(),
        };
        // Clients never publish into $SYS or $share (Mosquitto's rule; a bridge's state topic
        // `$SYS/broker/connection/<id>/state` excepted), nor where the ACL says no. As in Mosquitto,
        // the topic is judged under the listener's mount point (`mnt/$SYS/x` is an ordinary topic).
        let denied = (topic.starts_with("$SYS/")
            && !mq_proto::topic::matches("$SYS/broker/connection/+/state", &topic))
            || topic.starts_with("$share/")
            || &*topic == "$SYS"
            || self
                .security
                .acl
                .as_ref()
                .is_some_and(|acl| !acl.check(Want::Write, self.username.as_deref(), &self.client_id, &topic));
        let id = &*self.client_id;
        let summary = PublishSummary { dup: p.dup, qos: p.qos, retain: p.retain, pid, topic: &topic, len: payload_len };
        let too_big = self.settings.message_size_limit > 0 && payload_len > self.settings.message_size_limit;
        // One of Mosquitto's three lines, in its order of checks.
        if too_big {
            log!(Debug, client = id, "Dropped too large PUBLISH from {id} {summary}");
        } else if denied {
            log!(Debug, client = id, "Denied PUBLISH from {id} {summary}");
        } else {
            log!(Debug, client = id, "Received PUBLISH from {id} {summary}");
        }
        // The store cannot write (a full disk): messages that may need storing are refused, MQTT 5
        // clients hear why, 3.x clients (which have no way to be told) are disconnected. QoS 0 flows.
        if p.qos != QoS::AtMostOnce && self.seat.broker.durable.is_full() {
            if !v5 {
                return Err(Close::StoreFull);
            }
            return Ok(match (p.qos, pid) {
                (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::with_reason(id, ReasonCode::QUOTA_EXCEEDED))),
                (QoS::ExactlyOnce, Some(id)) => {
                    let rec = self.seat.broker.rec(&self.session);
                    self.session.state.lock().release_qos2(id.get(), rec);
                    Some(Packet::PubRec(Ack::with_reason(id, ReasonCode::QUOTA_EXCEEDED)))
                }
                _ => None,
            });
        }
        let outcome = if too_big {
            log!(
                Notice,
                client = self.client_id,
                "Dropped too large PUBLISH from {} ({payload_len} bytes).",
                self.client_id
            );
            // Mosquitto's answer, though MQTT 5 lists 0x95 for CONNACK and DISCONNECT only.
            Some(ReasonCode::PACKET_TOO_LARGE)
        } else if denied {
            Some(ReasonCode::NOT_AUTHORIZED)
        } else {
            None
        };
        let reason = match outcome {
            Some(r) => r,
            None => {
                let now = Instant::now();
                let expires_at =
                    p.properties.message_expiry_interval.take().map(|s| now + Duration::from_secs(s.into()));
                let payload = if p.payload.len() <= COPY_PAYLOAD_UP_TO {
                    Bytes::copy_from_slice(&p.payload)
                } else {
                    std::mem::take(&mut p.payload)
                };
                let msg = Message {
                    topic,
                    payload,
                    large: large.map(|(pieces, _)| pieces),
                    qos: p.qos,
                    retain: p.retain,
                    properties: Some(Box::new(std::mem::take(&mut p.properties)))
                        .filter(|b| **b != mq_proto::PublishProperties::default()),
                    expires_at,
                    origin: self.session.id,
                    stored: Default::default(),
                    source: (p.retain && self.settings.check_retain_source).then(|| {
                        Arc::new(Source {
                            security: self.seat.listener.security.clone(),
                            username: self.username.clone(),
                            client_id: self.client_id.clone(),
                        })
                    }),
                };
                let msg = Arc::new(msg);
                let queued =
                    self.seat.broker.publish_flow(msg, &self.settings, &mut self.local, Some(&mut self.congested));
                if queued == 0 { ReasonCode::NO_MATCHING_SUBSCRIBERS } else { ReasonCode::SUCCESS }
            }
        };
        // MQTT 3.x has no way to report these; the acknowledgement is plain (Mosquitto does the same).
        // Its refusals keep their reason all the same: the encoder leaves it out of a 3.x packet and
        // the log shows it, as Mosquitto's does (`Sending PUBACK to x (m1, rc135)`).
        let reason = if v5 || reason.is_error() { reason } else { ReasonCode::SUCCESS };
        let ack = match (p.qos, pid) {
            (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::with_reason(id, reason))),
            (QoS::ExactlyOnce, Some(id)) => {
                // As Mosquitto does: 0x10 (no matching subscribers) in PUBACK only; PUBREC says 0x00.
                let reason = if reason == ReasonCode::NO_MATCHING_SUBSCRIBERS { ReasonCode::SUCCESS } else { reason };
                if v5 && reason.is_error() {
                    let rec = self.seat.broker.rec(&self.session);
                    self.session.state.lock().release_qos2(id.get(), rec);
                }
                Some(Packet::PubRec(Ack::with_reason(id, reason)))
            }
            _ => None,
        };
        Ok(ack)
    }

    /// PUBACK or PUBCOMP: ends the exchange it names. One for a packet id not in flight is ignored
    /// (as Mosquitto does); one that does not fit the exchange in flight with its id (PUBACK for a
    /// QoS 2 message, PUBCOMP for a QoS 1 message or before PUBREC) is a protocol error, as in
    /// Mosquitto.
    fn on_ack(&mut self, packet: PacketType, ack: ClientAck, a: &Ack) -> Result<(), Close> {
        let pid = a.packet_id.get();
        let rec = self.seat.broker.rec(&self.session);
        match self.session.state.lock().client_ack(ack, pid, rec) {
            AckEffect::Wrong(awaited) => Err(Violation::WrongAck { packet, pid, awaited }.into()),
            AckEffect::Ended | AckEffect::Released | AckEffect::Unknown => Ok(()),
        }
    }

    /// Settles the run of plain PUBACKs at the head of the read buffer (first byte 0x40, remaining
    /// length 2, a non-zero packet id: nearly all that a QoS 1 subscriber sends) under one lock of the
    /// session, straight from their four bytes; the same as decoding and handling each, without a
    /// `Packet` per acknowledgement. Whether it settled any. Anything else (a PUBACK with a reason code
    /// or properties, an id of 0, a partial packet) and every packet while debug lines are logged go
    /// the general way.
    pub(super) fn settle_pubacks(&mut self) -> Result<bool, Close> {
        if !is_plain_puback(&self.rbuf) || crate::log::logger().enabled(crate::log::Level::Debug) {
            return Ok(false);
        }
        let rec = self.seat.broker.rec(&self.session);
        let mut st = self.session.state.lock();
        let mut n = 0;
        let mut wrong = None;
        while let Some(ack) = self.rbuf.get(n..).filter(|b| is_plain_puback(b)) {
            let pid = u16::from_be_bytes([ack[2], ack[3]]);
            n += 4;
            if let AckEffect::Wrong(awaited) = st.client_ack(ClientAck::PubAck, pid, rec) {
                wrong = Some(Violation::WrongAck { packet: PacketType::PubAck, pid, awaited });
                break;
            }
        }
        drop(st);
        self.rbuf.advance(n);
        self.local.msgs_received += (n / 4) as u64;
        match wrong {
            Some(v) => Err(v.into()),
            None => Ok(true),
        }
    }

    /// PUBREC: PUBREL follows (again, for a PUBREC repeated after it). For a packet id not in flight,
    /// PUBREL all the same (MQTT 5: with 0x92, packet identifier not found), unless the PUBREC refuses
    /// the message; PUBREC for a QoS 1 message, or refusing a message already released, is a protocol
    /// error, as in Mosquitto.
    pub(super) fn on_pubrec(&mut self, a: Ack) -> Result<(), Close> {
        let pid = a.packet_id.get();
        let refused = a.reason.is_error();
        let ack = if refused { ClientAck::PubRecRefused } else { ClientAck::PubRec };
        let rec = self.seat.broker.rec(&self.session);
        let effect = self.session.state.lock().client_ack(ack, pid, rec);
        match effect {
            AckEffect::Wrong(awaited) => Err(Violation::WrongAck { packet: PacketType::PubRec, pid, awaited }.into()),
            AckEffect::Ended => Ok(()),
            AckEffect::Unknown if refused => Ok(()),
            AckEffect::Unknown => {
                let reason = if self.proto.version.is_v5() {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                } else {
                    ReasonCode::SUCCESS
                };
                self.send(Packet::PubRel(Ack::with_reason(a.packet_id, reason)));
                Ok(())
            }
            AckEffect::Released => {
                self.send(Packet::PubRel(Ack::new(a.packet_id)));
                Ok(())
            }
        }
    }

    /// A filter as stored: the listener's mount point before it (inside `$share/<group>/`).
    pub(super) fn mounted_filter(&self, filter: &str) -> String {
        match (&self.seat.listener.mount_point, split_shared(filter).and_then(Result::ok)) {
            (Some(m), Some((group, inner))) => format!("$share/{group}/{m}{inner}"),
            (Some(m), None) => format!("{m}{filter}"),
            (None, _) => filter.to_owned(),
        }
    }

    pub(super) fn on_subscribe(&mut self, s: Subscribe) -> Result<(), Close> {
        let now = Instant::now();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<(Arc<Message>, QoS, Option<u32>)> = Vec::new();
        let sub_id = s.properties.subscription_identifier;
        self.proto.filters(s.filters.iter().map(|(f, _)| f.as_str()))?;
        for (filter, opts) in s.filters {
            if crate::log::logger().enabled(crate::log::Level::Debug) {
                let id = &*self.client_id;
                let qos = opts.qos.min(self.seat.listener.max_qos).as_u8();
                log!(Debug, client = id, "\t{} (QoS {qos})", self.mounted_filter(&filter));
            }
            let granted = self.proto.subscription(&filter, &opts)?;
            let shared = split_shared(&filter).and_then(Result::ok);
            let full = self.mounted_filter(&filter);
            if let Some(acl) = &self.security.acl
                && !acl.may_subscribe(self.username.as_deref(), &self.client_id, &full)
                && let Some(code) = self.proto.not_authorised()
            {
                log!(Notice, client = self.client_id, "Denied SUBSCRIBE from {} to '{filter}'.", self.client_id);
                codes.push(code);
                continue;
            }
            let granted_opts = self.proto.granted_options(opts, granted);
            let existed = self.seat.broker.subscribe(&self.session, &full, granted_opts, sub_id);
            log!(Subscribe, client = self.client_id, "{} {} {}", self.client_id, granted.as_u8(), full);
            codes.push(ReasonCode(granted.as_u8()));
            let send_retained = shared.is_none()
                && match opts.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained && self.seat.broker.retained_pending() {
                // Stored retained messages are still being read back: looked up once they are.
                self.retained_lookups.push((full, granted, sub_id));
            } else if send_retained {
                self.retained_matching(&full, now, granted, sub_id, &mut retained);
            }
        }
        self.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        }));
        // Retained messages follow the SUBACK, all of them, paced by the in-flight window.
        self.owe_retained(retained);
        Ok(())
    }

    /// The retained messages matching `filter` (as stored) that a subscription granted `granted` is to
    /// be sent.
    fn retained_matching(
        &self,
        filter: &str,
        now: Instant,
        granted: QoS,
        sub_id: Option<u32>,
        out: &mut Vec<(Arc<Message>, QoS, Option<u32>)>,
    ) {
        let mut found = Vec::new();
        self.seat.broker.retained.read().matching(filter, now, &mut found);
        // `check_retain_source`: the publisher must still be allowed to write there.
        found.retain(|m| m.source.as_ref().is_none_or(|s| s.may_write(&m.topic)));
        out.extend(found.into_iter().map(|m| (m, granted, sub_id)));
    }

    /// Sends the retained messages owed to subscriptions made while the store was read back.
    pub(super) fn owed_retained_lookups(&mut self) {
        if self.retained_lookups.is_empty() || self.seat.broker.retained_pending() {
            return;
        }
        let now = Instant::now();
        let mut retained = Vec::new();
        for (filter, granted, id) in std::mem::take(&mut self.retained_lookups) {
            self.retained_matching(&filter, now, granted, id, &mut retained);
        }
        self.owe_retained(retained);
    }

    /// Queues retained messages found for a subscription (outside the queue limits).
    fn owe_retained(&mut self, retained: Vec<(Arc<Message>, QoS, Option<u32>)>) {
        let upgrade = self.settings.upgrade_outgoing_qos;
        let owed = retained.into_iter().map(|(msg, granted, id)| {
            let qos = if upgrade { granted } else { granted.min(msg.qos) };
            Delivery::new(msg, qos, true).routed(id.into_iter().collect(), None)
        });
        // This connection is the one to wake, and it is running: no wake needed.
        let _ = self.session.enqueue_retained(owed, self.seat.broker.rec(&self.session));
    }

    pub(super) fn on_unsubscribe(&mut self, u: Unsubscribe) -> Result<(), Close> {
        self.proto.filters(u.filters.iter().map(String::as_str))?;
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let id = &*self.client_id;
            log!(Debug, client = id, "\t{filter}");
            let full = self.mounted_filter(filter);
            let existed = self.seat.broker.unsubscribe(&self.session, &full);
            log!(Unsubscribe, client = self.client_id, "{} {}", self.client_id, filter);
            codes.push(if existed { ReasonCode::SUCCESS } else { ReasonCode::NO_SUBSCRIPTION_EXISTED });
        }
        if !self.proto.version.is_v5() {
            codes.clear();
        }
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        }));
        Ok(())
    }

    pub(super) fn on_disconnect(&mut self, d: Disconnect) -> Result<(), Close> {
        let will = self.proto.disconnect(&d)?;
        self.session.state.lock().set_expiry(self.proto.expiry());
        Err(Close::Disconnect { will })
    }
}

/// Whether `b` starts with a complete PUBACK of four bytes with a non-zero packet id (see
/// [`Conn::settle_pubacks`]).
fn is_plain_puback(b: &[u8]) -> bool {
    matches!(b, [0x40, 2, hi, lo, ..] if *hi != 0 || *lo != 0)
}
