//! Deliveries from the session to the client: pulled within the in-flight window and the output
//! buffer's high-water mark, encoded as PUBLISH packets (the payload shared, never copied when large),
//! resent after a resumed session.

use std::time::Instant;

use mq_proto::{Ack, Packet, PacketId, PublishHeader, QoS};

use crate::log;
use crate::message::Delivery;
use crate::session::Stage;

use super::{Close, Conn, HIGH_WATER, PublishSummary};

impl Conn {
    /// Encodes a packet into the output buffer.
    pub(super) fn send(&mut self, p: Packet) {
        if crate::log::logger().enabled(crate::log::Level::Debug) {
            self.log_sending(&p);
        }
        if p.encode(self.proto.version, self.out.buf()).is_ok() {
            self.local.msgs_sent += 1;
        }
    }

    /// Mosquitto's `log_type debug` line for a packet sent (PUBLISH: [`Conn::encode_delivery`]).
    fn log_sending(&self, p: &Packet) {
        let id = &*self.client_id;
        match p {
            Packet::ConnAck(c) => {
                log!(Debug, client = id, "Sending CONNACK to {id} ({}, {})", u8::from(c.session_present), c.code);
            }
            Packet::PubAck(a) => {
                log!(Debug, client = id, "Sending PUBACK to {id} (m{}, rc{})", a.packet_id.get(), a.reason.0);
            }
            Packet::PubRec(a) => {
                log!(Debug, client = id, "Sending PUBREC to {id} (m{}, rc{})", a.packet_id.get(), a.reason.0);
            }
            Packet::PubRel(a) => log!(Debug, client = id, "Sending PUBREL to {id} (m{})", a.packet_id.get()),
            Packet::PubComp(a) => log!(Debug, client = id, "Sending PUBCOMP to {id} (m{})", a.packet_id.get()),
            Packet::SubAck(_) => log!(Debug, client = id, "Sending SUBACK to {id}"),
            Packet::UnsubAck(_) => log!(Debug, client = id, "Sending UNSUBACK to {id}"),
            Packet::PingResp => log!(Debug, client = id, "Sending PINGRESP to {id}"),
            Packet::Disconnect(d) => log!(Debug, client = id, "Sending DISCONNECT to {id} (rc{})", d.reason.0),
            _ => {}
        }
    }

    /// After a resumed session: resends unacknowledged PUBLISHes with DUP set and PUBRELs, in order
    /// ([MQTT-4.4.0-1]).
    pub(super) fn resend_inflight(&mut self) {
        let session = self.session.clone();
        let st = session.state.lock();
        let now = Instant::now();
        for f in st.inflight().iter() {
            match f.stage {
                Stage::Published => {
                    let _ = self.encode_delivery(&f.delivery, PacketId::new(f.pid), true, now);
                }
                Stage::Released => {
                    if let Some(pid) = PacketId::new(f.pid) {
                        self.send(Packet::PubRel(Ack::new(pid)));
                    }
                }
            }
        }
    }

    /// Moves deliveries from the session into the output buffer, as far as the in-flight window and
    /// the buffer's high-water mark allow. Returns whether it stopped at the high-water mark with
    /// deliveries left; fails when the session was taken over.
    pub(super) fn pull(&mut self) -> Result<bool, Close> {
        if self.out.len() >= HIGH_WATER {
            return Ok(true);
        }
        let now = Instant::now();
        let (session, broker) = (self.session.clone(), self.seat.broker.clone());
        let rec = broker.rec(&session);
        let mut st = session.state.lock();
        if !st.is_attached_to(self.id) {
            return Err(Close::TakenOver);
        }
        // Publishers paused by this queue are woken once it is well below where it congests.
        let was_full = !st.room_to_resume();
        let max_bytes = self.settings.max_inflight_bytes;
        let mut sent_durable = false;
        while self.out.len() < HIGH_WATER {
            let Some(d) = st.next_to_send(self.proto.window, max_bytes, rec) else { break };
            if d.qos == QoS::AtMostOnce {
                if d.msg.expired(now) || !self.encode_delivery(&d, None, false, now) {
                    self.local.pub_dropped += 1;
                }
                continue;
            }
            if d.msg.expired(now) {
                st.not_sent(&d, rec);
                self.local.pub_dropped += 1;
                continue;
            }
            let Some(pid) = st.assign_pid(&d) else { break };
            if self.encode_delivery(&d, PacketId::new(pid), false, now) {
                sent_durable |= rec.is_on() && d.qos == QoS::ExactlyOnce;
                st.sent(pid, d, rec);
            } else {
                st.not_sent(&d, rec);
                self.local.pub_dropped += 1;
            }
        }
        let more = self.out.len() >= HIGH_WATER && st.more_to_send(self.proto.window);
        if sent_durable {
            // QoS 2 deliveries of a persistent session go out once their being in flight is stored: a
            // crash cannot make one arrive twice under two packet ids. A QoS 1 delivery goes at once (a
            // crash before its state is written means it comes again, as QoS 1 allows).
            self.note_durable();
        }
        if was_full && st.room_to_resume() {
            drop(st);
            self.seat.broker.space.notify_waiters();
        }
        Ok(more)
    }

    /// Encodes one delivery as a PUBLISH. `false` if it cannot be sent (larger than the client's
    /// Maximum Packet Size: dropped, as [MQTT-3.1.2-25] requires).
    pub(super) fn encode_delivery(&mut self, d: &Delivery, pid: Option<PacketId>, dup: bool, now: Instant) -> bool {
        let msg = &d.msg;
        let topic = match &self.seat.listener.mount_point {
            Some(m) => msg.topic.strip_prefix(m.as_str()).unwrap_or(&msg.topic),
            None => &msg.topic,
        };
        let extra = self.proto.version.is_v5() && (msg.expires_at.is_some() || !d.sub_ids().is_empty());
        let owned;
        let properties = if extra {
            let mut p = msg.properties().clone();
            p.message_expiry_interval = msg.remaining_expiry(now);
            d.sub_ids().clone_into(&mut p.subscription_identifiers);
            owned = p;
            &owned
        } else {
            msg.properties()
        };
        let header = PublishHeader { dup, qos: d.qos, retain: d.retain, topic, packet_id: pid, properties };
        let size = msg.size();
        match header.packet_len(size, self.proto.version) {
            Ok(n) if n <= self.proto.max_out_packet => {}
            _ => return false,
        }
        if header.encode(size, self.proto.version, self.out.buf()).is_err() {
            return false;
        }
        match &msg.large {
            Some(large) => self.out.pieces(large),
            None => self.out.payload(&msg.payload),
        }
        let id = &*self.client_id;
        // Named as stored, under the mount point, as Mosquitto logs it.
        log!(
            Debug,
            client = id,
            "Sending PUBLISH to {id} {}",
            PublishSummary { dup, qos: d.qos, retain: d.retain, pid, topic: &msg.topic, len: size }
        );
        self.local.msgs_sent += 1;
        self.local.pub_sent += 1;
        self.local.pub_bytes_sent += size as u64;
        true
    }
}
