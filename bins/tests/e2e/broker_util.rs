//! Shared helpers of the `broker_*` modules (no tests here):
//!
//! - [`wire`]: hand-written packet bytes, independent of our protocol crate, for every packet the
//!   tests send (well-formed or not);
//! - [`Raw`]: a raw MQTT client over TCP or a Unix socket that sends those bytes and reads what the
//!   broker answers with a deadline, decoding with `mq_proto` for convenience only;
//! - [`V4`] and [`V5`]: `rumqttc` 3.1.1 and 5 clients whose event loop is polled in its own task (stopping
//!   at the first error, so they never reconnect behind a test's back), with events handed over a
//!   channel and waited on with deadlines;
//! - [`broker`]: the broker under test. `MQ_BROKER_TESTS_AGAINST=mosquitto` runs the same scenarios
//!   against Mosquitto, to check an expectation; tests of our own extensions say so.

#![allow(dead_code)] // each module uses a different part

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mq_proto::{ConnAck, Packet, ProtocolVersion, Publish, SubAck};

use crate::harness::Broker;

/// Longest a test waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test watches for something that must not happen, where nothing later can prove it.
pub const QUIET: Duration = Duration::from_millis(400);

/// The broker under test, with `extra` configuration lines (see the module docs).
pub fn broker(extra: &str) -> Broker {
    if std::env::var("MQ_BROKER_TESTS_AGAINST").as_deref() == Ok("mosquitto") {
        return Broker::mosquitto(extra).expect("MQ_BROKER_TESTS_AGAINST=mosquitto needs mosquitto");
    }
    Broker::mq(extra)
}

/// Whether the scenarios run against Mosquitto (for tests of behaviour only we have).
pub fn against_mosquitto() -> bool {
    std::env::var("MQ_BROKER_TESTS_AGAINST").as_deref() == Ok("mosquitto")
}

/// Hand-written MQTT bytes.
pub mod wire {
    /// A variable byte integer.
    pub fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut b = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                b |= 0x80;
            }
            out.push(b);
            if n == 0 {
                return out;
            }
        }
    }

    /// A length-prefixed string.
    pub fn s(text: &str) -> Vec<u8> {
        bin(text.as_bytes())
    }

    /// Length-prefixed binary data.
    pub fn bin(data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(data);
        out
    }

    /// A whole packet: first byte, remaining length, body.
    pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        out.extend(varint(body.len()));
        out.extend_from_slice(body);
        out
    }

    /// An MQTT 5 property block (length, then the properties).
    pub fn props(list: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = list.concat();
        let mut out = varint(body.len());
        out.extend(body);
        out
    }

    /// MQTT 5 properties, one builder per value type.
    pub mod prop {
        pub const PAYLOAD_FORMAT: u8 = 0x01;
        pub const MESSAGE_EXPIRY: u8 = 0x02;
        pub const CONTENT_TYPE: u8 = 0x03;
        pub const RESPONSE_TOPIC: u8 = 0x08;
        pub const CORRELATION_DATA: u8 = 0x09;
        pub const SUBSCRIPTION_ID: u8 = 0x0B;
        pub const SESSION_EXPIRY: u8 = 0x11;
        pub const WILL_DELAY: u8 = 0x18;
        pub const RECEIVE_MAXIMUM: u8 = 0x21;
        pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
        pub const TOPIC_ALIAS: u8 = 0x23;
        pub const USER_PROPERTY: u8 = 0x26;
        pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;

        pub fn byte(id: u8, v: u8) -> Vec<u8> {
            vec![id, v]
        }
        pub fn u16(id: u8, v: u16) -> Vec<u8> {
            let mut out = vec![id];
            out.extend(v.to_be_bytes());
            out
        }
        pub fn u32(id: u8, v: u32) -> Vec<u8> {
            let mut out = vec![id];
            out.extend(v.to_be_bytes());
            out
        }
        pub fn var(id: u8, v: usize) -> Vec<u8> {
            let mut out = vec![id];
            out.extend(super::varint(v));
            out
        }
        pub fn string(id: u8, v: &str) -> Vec<u8> {
            let mut out = vec![id];
            out.extend(super::s(v));
            out
        }
        pub fn bin(id: u8, v: &[u8]) -> Vec<u8> {
            let mut out = vec![id];
            out.extend(super::bin(v));
            out
        }
        pub fn user(k: &str, v: &str) -> Vec<u8> {
            let mut out = vec![USER_PROPERTY];
            out.extend(super::s(k));
            out.extend(super::s(v));
            out
        }
    }

    /// A will for [`Connect`].
    #[derive(Clone, Debug)]
    pub struct Will {
        pub topic: String,
        pub payload: Vec<u8>,
        pub qos: u8,
        pub retain: bool,
        /// MQTT 5 will properties.
        pub props: Vec<Vec<u8>>,
    }

    impl Will {
        pub fn new(topic: &str, payload: &str) -> Will {
            Will { topic: topic.into(), payload: payload.into(), qos: 0, retain: false, props: Vec::new() }
        }
        pub fn qos(mut self, qos: u8) -> Will {
            self.qos = qos;
            self
        }
        pub fn retain(mut self) -> Will {
            self.retain = true;
            self
        }
        pub fn prop(mut self, p: Vec<u8>) -> Will {
            self.props.push(p);
            self
        }
    }

    /// A CONNECT packet.
    #[derive(Clone, Debug)]
    pub struct Connect {
        /// Protocol level: 3 (`MQIsdp`), 4 or 5 (`MQTT`); anything else is sent as `MQTT`.
        pub level: u8,
        pub client_id: String,
        pub clean: bool,
        pub keep_alive: u16,
        /// MQTT 5 CONNECT properties.
        pub props: Vec<Vec<u8>>,
        pub will: Option<Will>,
        pub username: Option<String>,
        pub password: Option<Vec<u8>>,
        /// Extra bits ORed into the connect flags (for malformed cases).
        pub extra_flags: u8,
    }

    impl Connect {
        pub fn level(level: u8, client_id: &str) -> Connect {
            Connect {
                level,
                client_id: client_id.into(),
                clean: true,
                keep_alive: 60,
                props: Vec::new(),
                will: None,
                username: None,
                password: None,
                extra_flags: 0,
            }
        }
        pub fn v31(client_id: &str) -> Connect {
            Connect::level(3, client_id)
        }
        pub fn v311(client_id: &str) -> Connect {
            Connect::level(4, client_id)
        }
        pub fn v5(client_id: &str) -> Connect {
            Connect::level(5, client_id)
        }
        pub fn clean(mut self, clean: bool) -> Connect {
            self.clean = clean;
            self
        }
        pub fn keep_alive(mut self, secs: u16) -> Connect {
            self.keep_alive = secs;
            self
        }
        pub fn prop(mut self, p: Vec<u8>) -> Connect {
            self.props.push(p);
            self
        }
        /// MQTT 5 Session Expiry Interval.
        pub fn expiry(self, secs: u32) -> Connect {
            self.prop(prop::u32(prop::SESSION_EXPIRY, secs))
        }
        pub fn will(mut self, will: Will) -> Connect {
            self.will = Some(will);
            self
        }

        /// The encoded packet.
        pub fn bytes(&self) -> Vec<u8> {
            let v5 = self.level == 5;
            let mut body = s(if self.level == 3 { "MQIsdp" } else { "MQTT" });
            body.push(self.level);
            let mut flags = self.extra_flags;
            if self.clean {
                flags |= 0x02;
            }
            if let Some(w) = &self.will {
                flags |= 0x04 | (w.qos << 3) | if w.retain { 0x20 } else { 0 };
            }
            if self.password.is_some() {
                flags |= 0x40;
            }
            if self.username.is_some() {
                flags |= 0x80;
            }
            body.push(flags);
            body.extend(self.keep_alive.to_be_bytes());
            if v5 {
                body.extend(props(&self.props));
            }
            body.extend(s(&self.client_id));
            if let Some(w) = &self.will {
                if v5 {
                    body.extend(props(&w.props));
                }
                body.extend(s(&w.topic));
                body.extend(bin(&w.payload));
            }
            if let Some(u) = &self.username {
                body.extend(s(u));
            }
            if let Some(p) = &self.password {
                body.extend(bin(p));
            }
            packet(0x10, &body)
        }
    }

    /// A PUBLISH packet.
    #[derive(Clone, Debug)]
    pub struct Pub {
        pub topic: String,
        pub payload: Vec<u8>,
        pub qos: u8,
        pub pid: u16,
        pub retain: bool,
        pub dup: bool,
        /// MQTT 5 properties (written only by [`Pub::v5`]).
        pub props: Vec<Vec<u8>>,
    }

    impl Pub {
        pub fn new(topic: &str, payload: impl Into<Vec<u8>>) -> Pub {
            Pub {
                topic: topic.into(),
                payload: payload.into(),
                qos: 0,
                pid: 0,
                retain: false,
                dup: false,
                props: Vec::new(),
            }
        }
        /// QoS and packet id (QoS 0 ignores the id).
        pub fn qos(mut self, qos: u8, pid: u16) -> Pub {
            self.qos = qos;
            self.pid = pid;
            self
        }
        pub fn retain(mut self) -> Pub {
            self.retain = true;
            self
        }
        pub fn dup(mut self) -> Pub {
            self.dup = true;
            self
        }
        pub fn prop(mut self, p: Vec<u8>) -> Pub {
            self.props.push(p);
            self
        }

        fn encode(&self, v5: bool) -> Vec<u8> {
            let first = 0x30 | u8::from(self.dup) << 3 | self.qos << 1 | u8::from(self.retain);
            let mut body = s(&self.topic);
            if self.qos > 0 {
                body.extend(self.pid.to_be_bytes());
            }
            if v5 {
                body.extend(props(&self.props));
            }
            body.extend_from_slice(&self.payload);
            packet(first, &body)
        }
        /// MQTT 3.x bytes.
        pub fn v3(&self) -> Vec<u8> {
            self.encode(false)
        }
        /// MQTT 5 bytes.
        pub fn v5(&self) -> Vec<u8> {
            self.encode(true)
        }
    }

    /// SUBSCRIBE with `(filter, options byte)` pairs; `props` is `Some` for MQTT 5.
    pub fn subscribe(pid: u16, filters: &[(&str, u8)], v5_props: Option<&[Vec<u8>]>) -> Vec<u8> {
        let mut body = pid.to_be_bytes().to_vec();
        if let Some(p) = v5_props {
            body.extend(props(p));
        }
        for (f, o) in filters {
            body.extend(s(f));
            body.push(*o);
        }
        packet(0x82, &body)
    }

    /// UNSUBSCRIBE; `v5` adds an empty property block.
    pub fn unsubscribe(pid: u16, filters: &[&str], v5: bool) -> Vec<u8> {
        let mut body = pid.to_be_bytes().to_vec();
        if v5 {
            body.push(0);
        }
        for f in filters {
            body.extend(s(f));
        }
        packet(0xA2, &body)
    }

    pub fn puback(pid: u16) -> Vec<u8> {
        packet(0x40, &pid.to_be_bytes())
    }
    pub fn pubrec(pid: u16) -> Vec<u8> {
        packet(0x50, &pid.to_be_bytes())
    }
    pub fn pubrel(pid: u16) -> Vec<u8> {
        packet(0x62, &pid.to_be_bytes())
    }
    pub fn pubcomp(pid: u16) -> Vec<u8> {
        packet(0x70, &pid.to_be_bytes())
    }
    pub fn pingreq() -> Vec<u8> {
        vec![0xC0, 0]
    }
    /// DISCONNECT for MQTT 3.x (or a v5 normal disconnection with no body).
    pub fn disconnect() -> Vec<u8> {
        vec![0xE0, 0]
    }
    /// MQTT 5 DISCONNECT with a reason code and properties.
    pub fn disconnect_v5(reason: u8, p: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![reason];
        body.extend(props(p));
        packet(0xE0, &body)
    }
}

/// What [`Raw::next`] saw.
#[allow(clippy::large_enum_variant)] // short-lived, matched in place
#[derive(Debug)]
pub enum Next {
    Packet(Packet),
    /// The broker closed the connection.
    Closed,
    /// Nothing within the time given.
    Timeout,
}

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A raw MQTT client: hand-written bytes out, decoded packets in, every read with a deadline.
pub struct Raw {
    sock: Sock,
    buf: BytesMut,
    /// The version used to decode what the broker sends.
    pub version: ProtocolVersion,
    closed: bool,
    /// Packets read while waiting for another one (a PUBREL), served first by [`Raw::next`].
    stash: std::collections::VecDeque<Packet>,
}

fn version_of(level: u8) -> ProtocolVersion {
    match level {
        3 => ProtocolVersion::V31,
        5 => ProtocolVersion::V5,
        _ => ProtocolVersion::V311,
    }
}

impl Raw {
    /// A TCP connection to the broker on `port`, nothing sent yet.
    pub fn open(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the broker");
        s.set_nodelay(true).expect("nodelay");
        Raw {
            sock: Sock::Tcp(s),
            buf: BytesMut::new(),
            version: ProtocolVersion::V311,
            closed: false,
            stash: Default::default(),
        }
    }

    /// A Unix-socket connection, nothing sent yet.
    pub fn open_unix(path: &Path) -> Raw {
        let s = UnixStream::connect(path).expect("connect to the unix socket");
        Raw {
            sock: Sock::Unix(s),
            buf: BytesMut::new(),
            version: ProtocolVersion::V311,
            closed: false,
            stash: Default::default(),
        }
    }

    /// Sends `c` and returns the CONNACK (failing the test on anything else).
    pub fn handshake(&mut self, c: &wire::Connect) -> ConnAck {
        self.version = version_of(c.level);
        self.send(&c.bytes());
        match self.recv() {
            Packet::ConnAck(a) => a,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with `c` and checks the CONNACK accepts it.
    pub fn connect(port: u16, c: &wire::Connect) -> (Raw, ConnAck) {
        let mut r = Raw::open(port);
        let ack = r.handshake(c);
        assert_eq!(ack.code, 0, "CONNACK refused {c:?}: {ack:?}");
        (r, ack)
    }

    /// A clean 3.1.1 connection with id `id`.
    pub fn v311(port: u16, id: &str) -> Raw {
        Raw::connect(port, &wire::Connect::v311(id)).0
    }

    /// A clean MQTT 5 connection with id `id`.
    pub fn v5(port: u16, id: &str) -> Raw {
        Raw::connect(port, &wire::Connect::v5(id)).0
    }

    fn set_timeout(&self, t: Option<Duration>) {
        let r = match &self.sock {
            Sock::Tcp(s) => s.set_read_timeout(t),
            Sock::Unix(s) => s.set_read_timeout(t),
        };
        r.expect("set_read_timeout");
    }

    /// Writes `bytes`; returns false when the broker has closed the connection.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        let r = match &mut self.sock {
            Sock::Tcp(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Sock::Unix(s) => s.write_all(bytes).and_then(|()| s.flush()),
        };
        r.is_ok()
    }

    /// Writes `bytes`, failing the test if the connection is gone.
    pub fn send(&mut self, bytes: &[u8]) {
        assert!(self.try_send(bytes), "write failed: the broker closed the connection");
    }

    /// The next packet, or why there is none, waiting at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Next {
        if let Some(p) = self.stash.pop_front() {
            return Next::Packet(p);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match mq_proto::decode(&mut self.buf, self.version, mq_proto::MAX_PACKET_SIZE) {
                Ok(Some(p)) => return Next::Packet(p),
                Ok(None) => {}
                Err(e) => panic!("the broker sent bytes we cannot decode: {e} ({:02x?})", &self.buf[..]),
            }
            if self.closed {
                return Next::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Timeout;
            }
            self.set_timeout(Some(left));
            let mut chunk = [0u8; 65536];
            let r = match &mut self.sock {
                Sock::Tcp(s) => s.read(&mut chunk),
                Sock::Unix(s) => s.read(&mut chunk),
            };
            match r {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// Reads without decoding until at least `n` bytes are buffered or `timeout` passes; returns how
    /// many are (the start of a packet still arriving counts).
    pub fn wait_bytes(&mut self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.buf.len() < n && !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.set_timeout(Some(left));
            let mut chunk = [0u8; 65536];
            let r = match &mut self.sock {
                Sock::Tcp(s) => s.read(&mut chunk),
                Sock::Unix(s) => s.read(&mut chunk),
            };
            match r {
                Ok(0) => self.closed = true,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(_) => self.closed = true,
            }
        }
        self.buf.len()
    }

    /// The next packet within [`WAIT`].
    pub fn recv(&mut self) -> Packet {
        match self.next(WAIT) {
            Next::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// The next packet, which must be a PUBLISH.
    pub fn recv_publish(&mut self) -> Publish {
        match self.recv() {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Receives a PUBLISH and acknowledges it as its QoS requires (QoS 2: PUBREC, PUBREL, PUBCOMP).
    pub fn recv_publish_ack(&mut self) -> Publish {
        let p = self.recv_publish();
        self.ack(&p);
        p
    }

    /// Acknowledges a received PUBLISH completely.
    pub fn ack(&mut self, p: &Publish) {
        match (p.qos, p.packet_id) {
            (mq_proto::QoS::AtLeastOnce, Some(id)) => self.send(&wire::puback(id.get())),
            (mq_proto::QoS::ExactlyOnce, Some(id)) => {
                self.send(&wire::pubrec(id.get()));
                // Other messages may come before the PUBREL: keep them for later.
                let mut other = Vec::new();
                loop {
                    match self.recv() {
                        Packet::PubRel(a) if a.packet_id == id => break,
                        p => other.push(p),
                    }
                }
                self.stash.extend(other);
                self.send(&wire::pubcomp(id.get()));
            }
            _ => {}
        }
    }

    /// Receives (and acknowledges) messages until one satisfies `last`, skipping other packets;
    /// returns the messages before it. With a marker sent after the event under test, this proves what
    /// did not arrive without waiting for a timeout.
    pub fn publishes_until(&mut self, last: impl Fn(&Publish) -> bool) -> Vec<Publish> {
        let mut before = Vec::new();
        loop {
            if let Packet::Publish(p) = self.recv() {
                self.ack(&p);
                if last(&p) {
                    return before;
                }
                before.push(p);
            }
        }
    }

    /// Subscribes (3.x encoding unless the connection is MQTT 5) and returns the SUBACK.
    pub fn subscribe(&mut self, pid: u16, filters: &[(&str, u8)]) -> SubAck {
        let bytes = if self.version == ProtocolVersion::V5 {
            wire::subscribe(pid, filters, Some(&[]))
        } else {
            wire::subscribe(pid, filters, None)
        };
        self.send(&bytes);
        self.suback()
    }

    /// The next packet, which must be a SUBACK.
    pub fn suback(&mut self) -> SubAck {
        match self.recv() {
            Packet::SubAck(a) => a,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP); returns the reason
    /// code of the PUBACK or PUBREC (0 for QoS 0).
    pub fn publish(&mut self, p: &wire::Pub) -> u8 {
        let bytes = if self.version == ProtocolVersion::V5 { p.v5() } else { p.v3() };
        self.send(&bytes);
        match p.qos {
            0 => 0,
            1 => match self.recv() {
                Packet::PubAck(a) => {
                    assert_eq!(a.packet_id.get(), p.pid);
                    a.reason.0
                }
                other => panic!("expected PUBACK, got {other:?}"),
            },
            _ => {
                let rc = match self.recv() {
                    Packet::PubRec(a) => {
                        assert_eq!(a.packet_id.get(), p.pid);
                        a.reason.0
                    }
                    other => panic!("expected PUBREC, got {other:?}"),
                };
                if rc < 0x80 {
                    self.send(&wire::pubrel(p.pid));
                    match self.recv() {
                        Packet::PubComp(a) => assert_eq!(a.packet_id.get(), p.pid),
                        other => panic!("expected PUBCOMP, got {other:?}"),
                    }
                }
                rc
            }
        }
    }

    /// A round trip that proves every packet sent before it was handled: PINGREQ, then PINGRESP
    /// (failing on anything else arriving first).
    pub fn ping(&mut self) {
        self.send(&wire::pingreq());
        match self.recv() {
            Packet::PingResp => {}
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }

    /// Reads until the broker closes the connection; returns the packets that came before.
    pub fn expect_closed(&mut self) -> Vec<Packet> {
        self.expect_closed_within(WAIT)
    }

    /// [`Raw::expect_closed`] with a deadline of `t`.
    pub fn expect_closed_within(&mut self, t: Duration) -> Vec<Packet> {
        let deadline = Instant::now() + t;
        let mut got = Vec::new();
        loop {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Next::Packet(p) => got.push(p),
                Next::Closed => return got,
                Next::Timeout => panic!("the broker did not close the connection; received {got:?}"),
            }
        }
    }

    /// Reads until closed and checks the last packet: a DISCONNECT with `reason` for MQTT 5 (`Some`),
    /// nothing at all for 3.x (`None`).
    pub fn expect_disconnect(&mut self, reason: Option<u8>) {
        let got = self.expect_closed();
        match reason {
            Some(code) => match got.last() {
                Some(Packet::Disconnect(d)) => assert_eq!(d.reason.0, code, "DISCONNECT reason: {d:?}"),
                other => panic!("expected DISCONNECT 0x{code:02x} before the close, got {other:?} ({got:?})"),
            },
            None => assert!(got.is_empty(), "expected a bare close, got {got:?}"),
        }
    }

    /// Checks that nothing arrives for [`QUIET`] and the connection stays open.
    pub fn expect_silence(&mut self) {
        match self.next(QUIET) {
            Next::Timeout => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    /// Closes the socket without DISCONNECT.
    pub fn drop_connection(self) {
        match &self.sock {
            Sock::Tcp(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Sock::Unix(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A field of a process's `/proc/<pid>/status` (`VmRSS` in KiB, `Threads`).
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in status"))
}

/// The topic of a received PUBLISH and its payload as text.
pub fn tp(p: &Publish) -> (String, String) {
    (p.topic.to_string(), String::from_utf8_lossy(&p.payload).into_owned())
}

/// A message published by a fresh 3.1.1 client reaches a fresh subscriber: the broker still works.
pub fn assert_healthy(port: u16) {
    let mut sub = Raw::v311(port, "health-sub");
    sub.subscribe(1, &[("health/check", 1)]);
    let mut publ = Raw::v311(port, "health-pub");
    publ.publish(&wire::Pub::new("health/check", "ok").qos(1, 1));
    let p = sub.recv_publish_ack();
    assert_eq!(tp(&p), ("health/check".into(), "ok".into()));
}

/// Watches the `$SYS` topic `topic` until its value satisfies `ok` (values are republished when they
/// change, every `sys_interval`); returns that value.
pub fn sys_value_reaches(port: u16, topic: &str, ok: impl Fn(&str) -> bool) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = format!("sys-watch-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let mut c = Raw::v311(port, &id);
    c.subscribe(1, &[(topic, 0)]);
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match c.next(deadline.saturating_duration_since(Instant::now())) {
            Next::Packet(Packet::Publish(p)) => {
                let v = String::from_utf8_lossy(&p.payload).into_owned();
                if ok(&v) {
                    return v;
                }
                seen.push(v);
            }
            other => panic!("{topic} never reached the expected value; saw {seen:?}, then {other:?}"),
        }
    }
}

/// Polls a `rumqttc` event loop (3.1.1 or 5) in its own task until the first error, which ends it.
macro_rules! poller {
    ($eventloop:expr) => {{
        let mut eventloop = $eventloop;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(e) => {
                        if tx.send(Ok(e)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:?}")));
                        return;
                    }
                }
            }
        });
        Events { rx, task, backlog: std::collections::VecDeque::new() }
    }};
}

/// Events of a `rumqttc` client, with deadlines. Events a wait skips are kept for later waits.
pub struct Events<E> {
    rx: tokio::sync::mpsc::UnboundedReceiver<Result<E, String>>,
    task: tokio::task::JoinHandle<()>,
    backlog: std::collections::VecDeque<E>,
}

impl<E: std::fmt::Debug> Events<E> {
    /// Waits until `f` picks an event (kept ones first), failing on an event loop error or at the
    /// deadline.
    pub async fn wait_for<T>(&mut self, what: &str, mut f: impl FnMut(&E) -> Option<T>) -> T {
        if let Some(i) = self.backlog.iter().position(|e| f(e).is_some()) {
            let e = self.backlog.remove(i).expect("index");
            return f(&e).expect("picked");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Ok(e))) => match f(&e) {
                    Some(t) => return t,
                    None => self.backlog.push_back(e),
                },
                Ok(Some(Err(e))) => panic!("event loop failed while waiting for {what}: {e}"),
                Ok(None) => panic!("event loop ended while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}; other events: {:?}", self.backlog),
            }
        }
    }

    /// The first event `f` picks (kept or new) within `t`; `None` at the deadline or when the event
    /// loop ends.
    pub async fn pick_within<T>(&mut self, t: Duration, mut f: impl FnMut(&E) -> Option<T>) -> Option<T> {
        if let Some(i) = self.backlog.iter().position(|e| f(e).is_some()) {
            let e = self.backlog.remove(i).expect("index");
            return f(&e);
        }
        let deadline = tokio::time::Instant::now() + t;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Ok(e))) => match f(&e) {
                    Some(t) => return Some(t),
                    None => self.backlog.push_back(e),
                },
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// Whether `f` picks an event (kept or new) within `t`, without failing on errors.
    pub async fn seen_within(&mut self, t: Duration, mut f: impl FnMut(&E) -> bool) -> bool {
        self.pick_within(t, |e| f(e).then_some(())).await.is_some()
    }

    /// Waits for the event loop's error (the connection ended) and returns it.
    pub async fn wait_error(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Ok(e))) => self.backlog.push_back(e),
                Ok(Some(Err(e))) => return e,
                Ok(None) => return "event loop ended".into(),
                Err(_) => panic!("timed out waiting for the connection to end"),
            }
        }
    }

    /// Ends the connection without DISCONNECT (the socket closes with the event loop).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl<E> Drop for Events<E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits for the task of `ev` to end after an abort (so the socket is closed).
async fn join_aborted<E>(mut ev: Events<E>) {
    ev.task.abort();
    let _ = tokio::time::timeout(WAIT, &mut ev.task).await;
}

pub fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

pub fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// Options for a 3.1.1 client with id `id` on `port`: clean session, 30 s keep alive, 1 MiB limits.
pub fn v4_options(port: u16, id: &str) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// Options for an MQTT 5 client with id `id` on `port`: clean start, 30 s keep alive.
pub fn v5_options(port: u16, id: &str) -> rumqttc::v5::MqttOptions {
    let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// A `rumqttc` MQTT 3.1.1 client.
pub struct V4 {
    pub client: rumqttc::AsyncClient,
    pub ev: Events<rumqttc::Event>,
}

impl V4 {
    /// Connects with `opts`; returns the client and the CONNACK.
    pub async fn connect(opts: rumqttc::MqttOptions) -> (V4, rumqttc::ConnAck) {
        let (client, eventloop) = rumqttc::AsyncClient::new(opts, 100);
        let mut me = V4 { client, ev: poller!(eventloop) };
        let ack = me
            .ev
            .wait_for("CONNACK", |e| match e {
                rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a)) => Some(a.clone()),
                _ => None,
            })
            .await;
        (me, ack)
    }

    /// A clean-session client with id `id`.
    pub async fn new(port: u16, id: &str) -> V4 {
        V4::connect(v4_options(port, id)).await.0
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str, qos: u8) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client.subscribe(filter, qos4(qos)).await.expect("subscribe request");
        self.ev
            .wait_for("SUBACK", |e| match e {
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(a)) => Some(a.return_codes.clone()),
                _ => None,
            })
            .await
    }

    /// Publishes and waits until the broker acknowledged it (QoS 1/2) or it was written (QoS 0).
    pub async fn publish(&mut self, topic: &str, qos: u8, retain: bool, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, qos4(qos), retain, payload.into()).await.expect("publish request");
        let pkid = self
            .ev
            .wait_for("outgoing PUBLISH", |e| match e {
                rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(id)) => Some(*id),
                _ => None,
            })
            .await;
        match qos {
            0 => {}
            1 => {
                self.ev
                    .wait_for("PUBACK", |e| {
                        matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::PubAck(a)) if a.pkid == pkid)
                            .then_some(())
                    })
                    .await
            }
            _ => {
                self.ev
                    .wait_for("PUBCOMP", |e| {
                        matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::PubComp(a)) if a.pkid == pkid)
                            .then_some(())
                    })
                    .await
            }
        }
    }

    /// The next message received.
    pub async fn recv(&mut self) -> rumqttc::Publish {
        self.ev
            .wait_for("PUBLISH", |e| match e {
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await
    }

    /// The next message received within `t`, if any.
    pub async fn recv_within(&mut self, t: Duration) -> Option<rumqttc::Publish> {
        self.ev
            .pick_within(t, |e| match e {
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await
    }

    /// Sends DISCONNECT and waits for the connection to end.
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.expect("disconnect request");
        self.ev.wait_error().await;
    }

    /// Closes the connection without DISCONNECT and waits until the socket is gone.
    pub async fn kill(self) {
        join_aborted(self.ev).await;
    }
}

/// A `rumqttc` MQTT 5 client.
pub struct V5 {
    pub client: rumqttc::v5::AsyncClient,
    pub ev: Events<rumqttc::v5::Event>,
}

/// The `rumqttc` MQTT 5 packet types.
pub use rumqttc::v5::mqttbytes::v5 as p5;

impl V5 {
    /// Connects with `opts`; returns the client and the CONNACK.
    pub async fn connect(opts: rumqttc::v5::MqttOptions) -> (V5, p5::ConnAck) {
        let (client, eventloop) = rumqttc::v5::AsyncClient::new(opts, 100);
        let mut me = V5 { client, ev: poller!(eventloop) };
        let ack = me
            .ev
            .wait_for("CONNACK", |e| match e {
                rumqttc::v5::Event::Incoming(p5::Packet::ConnAck(a)) => Some(a.clone()),
                _ => None,
            })
            .await;
        (me, ack)
    }

    /// A clean-start client with id `id`.
    pub async fn new(port: u16, id: &str) -> V5 {
        V5::connect(v5_options(port, id)).await.0
    }

    /// Subscribes with `filters` and optional properties; returns the SUBACK.
    pub async fn subscribe_with(
        &mut self,
        filters: Vec<p5::Filter>,
        props: Option<p5::SubscribeProperties>,
    ) -> p5::SubAck {
        match props {
            Some(p) => self.client.subscribe_many_with_properties(filters, p).await,
            None => self.client.subscribe_many(filters).await,
        }
        .expect("subscribe request");
        self.ev
            .wait_for("SUBACK", |e| match e {
                rumqttc::v5::Event::Incoming(p5::Packet::SubAck(a)) => Some(a.clone()),
                _ => None,
            })
            .await
    }

    /// Subscribes to one filter at `qos` with default options.
    pub async fn subscribe(&mut self, filter: &str, qos: u8) -> p5::SubAck {
        self.subscribe_with(vec![p5::Filter::new(filter, qos5(qos))], None).await
    }

    /// Publishes with properties and waits for the PUBACK/PUBREC reason (QoS 1/2) or the write (QoS 0).
    pub async fn publish_with(
        &mut self,
        topic: &str,
        qos: u8,
        retain: bool,
        payload: impl Into<Vec<u8>>,
        props: Option<p5::PublishProperties>,
    ) {
        let payload: Vec<u8> = payload.into();
        match props {
            Some(p) => self.client.publish_with_properties(topic, qos5(qos), retain, payload, p).await,
            None => self.client.publish(topic, qos5(qos), retain, payload).await,
        }
        .expect("publish request");
        let pkid = self
            .ev
            .wait_for("outgoing PUBLISH", |e| match e {
                rumqttc::v5::Event::Outgoing(rumqttc::Outgoing::Publish(id)) => Some(*id),
                _ => None,
            })
            .await;
        match qos {
            0 => {}
            1 => {
                self.ev
                    .wait_for("PUBACK", |e| {
                        matches!(e, rumqttc::v5::Event::Incoming(p5::Packet::PubAck(a)) if a.pkid == pkid).then_some(())
                    })
                    .await
            }
            _ => {
                self.ev
                    .wait_for("PUBCOMP", |e| {
                        matches!(e, rumqttc::v5::Event::Incoming(p5::Packet::PubComp(a)) if a.pkid == pkid)
                            .then_some(())
                    })
                    .await
            }
        }
    }

    /// Publishes without properties.
    pub async fn publish(&mut self, topic: &str, qos: u8, retain: bool, payload: impl Into<Vec<u8>>) {
        self.publish_with(topic, qos, retain, payload, None).await;
    }

    /// The next message received.
    pub async fn recv(&mut self) -> p5::Publish {
        self.ev
            .wait_for("PUBLISH", |e| match e {
                rumqttc::v5::Event::Incoming(p5::Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await
    }

    /// Sends DISCONNECT and waits for the connection to end.
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.expect("disconnect request");
        self.ev.wait_error().await;
    }

    /// Closes the connection without DISCONNECT and waits until the socket is gone.
    pub async fn kill(self) {
        join_aborted(self.ev).await;
    }
}

/// Topic and payload of a `rumqttc` 3.1.1 message.
pub fn tp4(p: &rumqttc::Publish) -> (String, String) {
    (p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned())
}

/// Topic and payload of a `rumqttc` MQTT 5 message.
pub fn tp5(p: &p5::Publish) -> (String, String) {
    (String::from_utf8_lossy(&p.topic).into_owned(), String::from_utf8_lossy(&p.payload).into_owned())
}
