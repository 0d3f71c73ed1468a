//! One client connection: the CONNECT handshake, then a loop that reads and handles packets, pulls
//! deliveries from the session into the output buffer, writes, and stops when kicked (takeover,
//! shutdown, keep alive expired: the broker's sweep watches keep alive for every connection). One task
//! per connection does all of it; reads and writes use readiness so a large write to a slow client never
//! stops its acknowledgements from being read.
//!
//! Decode errors close the connection; MQTT 5 clients first get a DISCONNECT (or, during CONNECT, a
//! CONNACK) carrying the reason code from [`mq_proto::DecodeError::reason_code`].
//!
//! # Files
//! - [`handshake`]: CONNECT read under the pre-authentication bounds, decided, answered.
//! - [`inbound`]: every packet a connected client sends.
//! - [`outbound`]: deliveries from the session into PUBLISH packets, within the client's window.
//! - [`large`]: large PUBLISH payloads, read into pieces and routed once complete.
//! - [`event_loop`]: the loop: readiness, reading, writing, flow control, parking, closing.

mod event_loop;
mod handshake;
mod inbound;
mod large;
mod outbound;
pub mod protocol;
mod violation;

pub use protocol::MAX_TOPIC_LEVELS;
pub use violation::Violation;

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use mq_proto::DecodeError;

use crate::auth::Security;
use crate::broker::Broker;
use crate::kick::{Kick, Parked};
use crate::outbuf::OutBuf;
use crate::session::Session;
use crate::settings::{ListenerCtx, Settings};
use crate::stats::Local;
use crate::stream::{ParkedStream, Stream};

pub use handshake::{PRE_AUTH_BUDGET, PRE_AUTH_FREE};
use large::Inbound;
pub use large::LARGE_AT;

/// Stop pulling deliveries into the output buffer beyond this many bytes.
const HIGH_WATER: usize = 64 * 1024;
/// Stop reading from a client whose own output (acknowledgements) piles up beyond this.
const READ_STOP: usize = 4 * 1024 * 1024;
/// Read at most this much per loop turn, so writes get their turn.
const READ_BUDGET: usize = 4 * 1024 * 1024;
/// A congested subscriber that takes nothing from its queue for this long is stalled: publishers stop
/// waiting for it and its overflow is dropped from then on.
const CONGESTION_WAIT: Duration = Duration::from_millis(100);
/// How long a shutting-down connection may spend flushing.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// A PUBLISH as Mosquitto's log lines describe it: `(d0, q1, r0, m1, 'a/b', ... (5 bytes))`.
struct PublishSummary<'a> {
    dup: bool,
    qos: mq_proto::QoS,
    retain: bool,
    pid: Option<mq_proto::PacketId>,
    topic: &'a str,
    /// Payload bytes.
    len: usize,
}

impl std::fmt::Display for PublishSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(self.dup),
            self.qos.as_u8(),
            u8::from(self.retain),
            self.pid.map_or(0, mq_proto::PacketId::get),
            self.topic,
            self.len
        )
    }
}

/// Why a connection ends.
#[derive(Debug)]
enum Close {
    /// The client sent DISCONNECT; `will` says whether to publish the will (reason 0x04).
    Disconnect { will: bool },
    /// The peer closed the socket or it failed.
    Io(Option<io::Error>),
    /// A protocol violation: DISCONNECT with its reason code to MQTT 5 clients, then close.
    Protocol(Violation),
    /// Keep alive expired.
    KeepAlive,
    /// Another connection took the client id.
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
    /// The store cannot write and the client (MQTT 3.x) cannot be told its message is refused.
    StoreFull,
    /// Not a close: the connection is idle and parks (see [`Conn::run`]).
    Idle,
}

impl From<io::Error> for Close {
    fn from(e: io::Error) -> Self {
        Close::Io(Some(e))
    }
}

impl From<Violation> for Close {
    fn from(v: Violation) -> Self {
        Close::Protocol(v)
    }
}

impl From<DecodeError> for Close {
    fn from(e: DecodeError) -> Self {
        Close::Protocol(Violation::Decode(e))
    }
}

/// Serves one accepted connection to its end (or until it parks: see [`crate::park`]).
///
/// The handshake runs in a boxed future of its own and the connection state lives in a box: the task
/// itself then holds little more than the loop's state.
///
/// The caller counted the connection in its listener and in the broker; the connection undoes both when
/// it is dropped, this guard if the handshake fails.
pub async fn serve(accepted: Box<Accepted>) {
    /// Uncounts a connection that never got past its handshake.
    struct Counted(Option<(Arc<Broker>, Arc<ListenerCtx>)>);
    impl Drop for Counted {
        fn drop(&mut self) {
            if let Some((broker, listener)) = self.0.take() {
                uncount(&broker, &listener);
            }
        }
    }
    let mut counted = Counted(Some((accepted.broker.clone(), accepted.listener.clone())));
    if let Some(conn) = Box::pin(handshake::handshake(accepted)).await {
        counted.0 = None;
        drop(counted);
        conn.run().await;
    }
}

fn uncount(broker: &Broker, listener: &ListenerCtx) {
    listener.connections.fetch_sub(1, Ordering::Relaxed);
    broker.active_connections.fetch_sub(1, Ordering::AcqRel);
}

/// A connection just accepted, boxed so the connection's task does not carry it for its whole life.
pub struct Accepted {
    pub broker: Arc<Broker>,
    pub listener: Arc<ListenerCtx>,
    pub stream: Stream,
    pub peer: String,
}

/// A connection's place in its listener's and the broker's counts, given back when the connection
/// goes, running or parked (see [`Idle`]).
struct Seat {
    broker: Arc<Broker>,
    listener: Arc<ListenerCtx>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        uncount(&self.broker, &self.listener);
    }
}

/// An accepted connection after its CONNACK.
pub(crate) struct Conn {
    seat: Seat,
    settings: Arc<Settings>,
    stream: Stream,
    rbuf: BytesMut,
    out: OutBuf,
    /// The protocol rules agreed with the client, and aliases (see [`protocol`]).
    proto: protocol::Protocol,
    session: Arc<Session>,
    id: u64,
    kick: Arc<Kick>,
    client_id: Arc<str>,
    username: Option<Arc<str>>,
    /// Security in force (refreshed when the broker's generation changes).
    security: Arc<Security>,
    generation: u64,
    local: Local,
    /// Sessions whose queues this connection's publications filled: reading pauses until they drain.
    congested: Vec<Arc<Session>>,
    /// A large PUBLISH whose payload is being read.
    inbound: Option<Box<Inbound>>,
    /// Nothing is written to the client before the persistent store has written up to here: what this
    /// connection sends (acknowledgements, deliveries) depends on changes appended before it.
    durable_at: crate::durable::Pos,
    /// Retained messages to look up once the store has read them all back (subscriptions made
    /// meanwhile): filter as stored, QoS granted, subscription identifier.
    retained_lookups: Vec<(String, mq_proto::QoS, Option<u32>)>,
    /// Never parked yet: parks as soon as it is idle (afterwards only when the sweep finds it idle).
    park_at_once: bool,
    /// When it was last served on its parked socket (milliseconds since broker start; `None`: never).
    served_parked_at: Option<u64>,
}

/// A parked connection (see [`crate::park`]): what of a [`Conn`] an idle connection needs kept. What it
/// holds empty while idle (buffers, the congestion list, counts not yet added up) is left out, and what
/// it can look up again (its settings and security, its client id, which its session has) is looked
/// up when it wakes: an idle client costs about half of a running one.
pub(crate) struct Idle {
    seat: Seat,
    stream: ParkedStream,
    proto: protocol::Protocol,
    session: Arc<Session>,
    id: u64,
    kick: Arc<Kick>,
    username: Option<Arc<str>>,
    /// [`Conn::durable_at`] while the store has not written up to it (nothing is buffered while idle,
    /// so rarely); `None`: nothing to wait for.
    durable_at: Option<Box<crate::durable::Pos>>,
    /// [`Conn::served_parked_at`], `u64::MAX` for never (a word less than an `Option`).
    served_parked_at: u64,
    park_at_once: bool,
}

impl Conn {
    /// The connection as it waits parked. Only for an idle connection: what it buffers is dropped.
    fn into_idle(mut self: Box<Self>) -> Box<Idle> {
        self.flush_stats();
        let Conn {
            seat,
            settings: _,
            stream,
            rbuf: _,
            out: _,
            proto,
            session,
            id,
            kick,
            client_id: _,
            username,
            security: _,
            generation: _,
            local: _,
            congested: _,
            inbound: _,
            durable_at,
            retained_lookups: _,
            park_at_once,
            served_parked_at,
        } = *self;
        let durable_at = (!seat.broker.durable.written().covers(durable_at)).then(|| Box::new(durable_at));
        Box::new(Idle {
            seat,
            stream: stream.into_parked(),
            proto,
            session,
            id,
            kick,
            username,
            durable_at,
            served_parked_at: served_parked_at.unwrap_or(u64::MAX),
            park_at_once,
        })
    }
}

impl Idle {
    /// The connection running again: settings and security as in force now (what [`Conn::refresh`]
    /// would pick up), empty buffers.
    fn into_conn(self) -> Box<Conn> {
        let Idle { seat, stream, proto, session, id, kick, username, durable_at, served_parked_at, park_at_once } =
            self;
        let generation = seat.broker.generation.load(Ordering::Acquire);
        let settings = seat.broker.settings();
        let security = seat.listener.security.read().clone();
        Box::new(Conn {
            settings,
            stream: stream.into(),
            rbuf: BytesMut::new(),
            out: OutBuf::default(),
            proto,
            client_id: session.client_id.clone(),
            session,
            id,
            kick,
            username,
            security,
            generation,
            local: Local::default(),
            congested: Vec::new(),
            inbound: None,
            durable_at: durable_at.map_or_else(Default::default, |p| *p),
            retained_lookups: Vec::new(),
            park_at_once,
            served_parked_at: (served_parked_at != u64::MAX).then_some(served_parked_at),
            seat,
        })
    }
}

impl Parked for Idle {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.stream.fd()
    }

    fn resume(self: Box<Self>) {
        tokio::spawn(self.into_conn().resumed());
    }

    fn resume_here(self: Box<Self>) {
        self.into_conn().resumed_here();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_parked_connection_keeps_less_than_half_of_a_running_one() {
        // What every idle client costs while parked (see `Idle`), against the running form.
        let (idle, running) = (std::mem::size_of::<super::Idle>(), std::mem::size_of::<super::Conn>());
        assert!(idle <= 184 && idle * 2 < running, "Idle {idle} B, Conn {running} B");
    }
}
