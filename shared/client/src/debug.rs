//! `-d`: one line per packet on stdout, in libmosquitto's words, so scripts and tests written against
//! `mosquitto_pub -d` / `mosquitto_sub -d` (e.g. waiting for `received SUBACK`) work unchanged.
//!
//! The client is named by its identifier, or `(null)` while it has none (an empty `-i` with MQTT 3.x,
//! or MQTT 5 before CONNACK assigns one), exactly as libmosquitto prints it.

use std::fmt;
use std::io::Write as _;

use mq_proto::{Packet, Publish};

/// The packet logger of one client.
#[derive(Debug, Clone, Default)]
pub struct Log {
    enabled: bool,
    id: String,
}

/// The client name in a debug line.
struct Name<'a>(&'a str);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("(null)") } else { f.write_str(self.0) }
    }
}

impl Log {
    /// A logger that prints when `enabled`, for client `id` (empty: not known yet).
    pub fn new(enabled: bool, id: &str) -> Self {
        Log { enabled, id: id.to_string() }
    }

    /// The identifier the broker assigned (MQTT 5).
    pub fn set_id(&mut self, id: &str) {
        self.id = id.to_string();
    }

    /// Prints one line (a debug line that is not about a packet, such as `Subscribed (mid: 1): 0`).
    pub fn line(&self, args: fmt::Arguments<'_>) {
        if self.enabled {
            let mut out = std::io::stdout().lock();
            // A closed stdout is noticed, and handled, where messages are printed.
            let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
        }
    }

    fn client(&self, args: fmt::Arguments<'_>) {
        self.line(format_args!("Client {} {args}", Name(&self.id)));
    }

    /// Logs a PUBLISH about to be sent; `mid` is the message id (libmosquitto numbers QoS 0 messages too).
    pub fn sending_publish(&self, p: &Publish, mid: u16, payload_len: usize) {
        if self.enabled {
            self.client(format_args!(
                "sending PUBLISH (d{}, q{}, r{}, m{mid}, '{}', ... ({payload_len} bytes))",
                u8::from(p.dup),
                p.qos.as_u8(),
                u8::from(p.retain),
                p.topic
            ));
        }
    }

    /// Logs any other packet about to be sent.
    pub fn sending(&self, p: &Packet) {
        if !self.enabled {
            return;
        }
        match p {
            Packet::Connect(_) => self.client(format_args!("sending CONNECT")),
            Packet::Publish(p) => {
                self.sending_publish(p, p.packet_id.map_or(0, |id| id.get()), p.payload.len());
            }
            Packet::PubAck(a) => self.client(format_args!("sending PUBACK (m{}, rc{})", a.packet_id, a.reason.0)),
            Packet::PubRec(a) => self.client(format_args!("sending PUBREC (m{}, rc{})", a.packet_id, a.reason.0)),
            Packet::PubRel(a) => self.client(format_args!("sending PUBREL (m{})", a.packet_id)),
            Packet::PubComp(a) => self.client(format_args!("sending PUBCOMP (m{})", a.packet_id)),
            Packet::Subscribe(s) => {
                for (filter, o) in &s.filters {
                    self.client(format_args!(
                        "sending SUBSCRIBE (Mid: {}, Topic: {filter}, QoS: {}, Options: 0x{:02x})",
                        s.packet_id,
                        o.qos.as_u8(),
                        // libmosquitto prints the option bits other than the QoS.
                        o.to_byte(mq_proto::ProtocolVersion::V5) & 0xFC
                    ));
                }
            }
            Packet::Unsubscribe(u) => {
                for filter in &u.filters {
                    self.client(format_args!("sending UNSUBSCRIBE (Mid: {}, Topic: {filter})", u.packet_id));
                }
            }
            other => self.client(format_args!("sending {}", other.packet_type())),
        }
    }

    /// Logs a packet just received.
    pub fn received(&self, p: &Packet) {
        if !self.enabled {
            return;
        }
        match p {
            Packet::ConnAck(c) => self.client(format_args!("received CONNACK ({})", c.code)),
            Packet::Publish(p) => self.client(format_args!(
                "received PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                u8::from(p.dup),
                p.qos.as_u8(),
                u8::from(p.retain),
                p.packet_id.map_or(0, |id| id.get()),
                p.topic,
                p.payload.len()
            )),
            Packet::PubAck(a) => self.client(format_args!("received PUBACK (Mid: {}, RC:{})", a.packet_id, a.reason.0)),
            Packet::PubComp(a) => {
                self.client(format_args!("received PUBCOMP (Mid: {}, RC:{})", a.packet_id, a.reason.0))
            }
            Packet::PubRec(a) => self.client(format_args!("received PUBREC (Mid: {})", a.packet_id)),
            Packet::PubRel(a) => self.client(format_args!("received PUBREL (Mid: {})", a.packet_id)),
            Packet::Disconnect(d) => self.client(format_args!("received DISCONNECT ({})", d.reason.0)),
            other => self.client(format_args!("received {}", other.packet_type())),
        }
    }
}
