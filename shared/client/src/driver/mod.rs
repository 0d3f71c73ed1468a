//! The one async driver of an MQTT client connection: a [`mq_proto::client::ClientSession`] over a
//! stream (`transport::Stream`), with the socket I/O, the timers and the `-d` lines. `mq-pub`, `mq-sub`,
//! `mq-rr` and `mq bench` all talk MQTT through it; none of them handles an acknowledgement itself.
//!
//! Design: the tools are single-task event loops (`tokio::select!` over [`Driver::next`], timers and their
//! own work), so the driver is a plain struct owned by that loop, not a task of its own. Requests
//! ([`Driver::publish`], [`Driver::subscribe`], [`Driver::ack`], ...) only encode into the output
//! buffer; [`Driver::next`] writes it, reads, decodes one packet at a time, keeps the connection alive
//! and returns the session's [`Event`]s. It is cancel-safe: nothing read or encoded is lost when it is
//! dropped at an await, so it can sit in a `select!` next to other branches.
//!
//! Payloads the caller writes itself (a file with sendfile(2), a load generator's buffer) go through
//! [`Driver::publish_file`] and [`Driver::publish_slice`] (module `payload`); the buffers are in `io`.

mod io;
mod payload;

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use mq_proto::client::{AckToken, Action, ClientSession, Options, OutgoingPublish};
use mq_proto::{Packet, Publish, ReasonCode, SubscribeProperties, SubscriptionOptions, UnsubscribeProperties};
use tokio::io::AsyncWriteExt as _;
use tokio::time::{Instant, Sleep};

pub use payload::FilePayload;

use crate::config::{Endpoint, Session};
use crate::debug::Log;
use crate::error::ClientError;
use crate::output::Received;
use crate::transport::{self, Stream};
use io::{Input, Output};

/// What the connection tells the tool.
#[derive(Debug)]
pub enum Event {
    /// A message, its topic resolved. `ack` is set when its acknowledgement waits for [`Driver::ack`].
    /// Boxed: one allocation per message costs less than moving a message's ~240 bytes through the
    /// event queue and every caller (a subscriber at millions of messages per second notices).
    Message { msg: Box<Received>, ack: Option<AckToken> },
    /// A QoS 1 or 2 message of the tool's is complete: acknowledged, or refused (`reason` 0x80 or more).
    Published { mid: u16, reason: ReasonCode },
    /// SUBACK: granted QoS or failure code per filter.
    Subscribed { mid: u16, granted: Vec<ReasonCode> },
    /// UNSUBACK.
    Unsubscribed { mid: u16 },
    /// An acknowledgement for a packet identifier not in flight, ignored (only with
    /// [`Options::tolerate_unknown_acks`]).
    UnknownAck { packet: mq_proto::PacketType, id: u16 },
}

/// An MQTT connection driven over its session.
#[derive(Debug)]
pub struct Driver {
    stream: Stream,
    session: ClientSession,
    input: Input,
    output: Output,
    events: VecDeque<Event>,
    /// Why the connection ended (CONNACK refused, DISCONNECT from the broker), for the next call.
    failure: Option<ClientError>,
    /// The `-d` logger, which also knows the client identifier.
    log: Log,
    /// The PUBLISH whose payload a `publish_*` call is about to write, and whether one is expected.
    streamed: Option<OutgoingPublish>,
    expect_streamed: bool,
    /// Property order of the PUBLISH being handled, until its message is handed over.
    order: Vec<u8>,
    /// Property orders of QoS 2 messages handed over on PUBREL.
    orders: HashMap<u16, Vec<u8>>,
    /// The session's timer (keep alive, CONNACK), and the deadline it is armed for.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

/// The session options of a client tool: its `-M`, when QoS 2 messages are handed over, whether the
/// tool acknowledges messages itself.
pub fn options(setup: &Session, qos2: mq_proto::client::Qos2Delivery, manual_acks: bool) -> Options {
    Options { max_inflight: setup.max_inflight, qos2_delivery: qos2, manual_acks, ..Options::default() }
}

impl Driver {
    /// Opens the transport of `setup` and connects over it. A refusal is [`ClientError::Refused`] with
    /// the broker's code.
    pub async fn connect(setup: &Session, options: Options) -> Result<Driver, ClientError> {
        let stream = transport::open(&setup.endpoint).await?;
        let session = ClientSession::new(setup.connect.clone(), options);
        Driver::start(stream, session, Log::new(setup.debug, &setup.connect.client_id)).await
    }

    /// Connects `session` over a stream already open (`mq bench`, which resolves the broker once for all
    /// its clients and opens each stream with [`crate::Target::layer`]).
    pub async fn over(stream: Stream, session: ClientSession) -> Result<Driver, ClientError> {
        Driver::start(stream, session, Log::default()).await
    }

    /// [`Driver::over`] with a session kept from an earlier connection (what was in flight is sent
    /// again), connected by `deadline` ([`ClientError::Timeout`] after): on failure the session comes
    /// back, for the next attempt.
    pub async fn over_kept(
        stream: Stream,
        session: ClientSession,
        deadline: Instant,
    ) -> Result<Driver, (ClientError, ClientSession)> {
        let mut d = Driver::new(stream, session, Log::default());
        match tokio::time::timeout_at(deadline, d.handshake()).await {
            Ok(Ok(())) => Ok(d),
            Ok(Err(e)) => Err((e, d.session)),
            Err(_) => Err((ClientError::Timeout, d.session)),
        }
    }

    /// Closes the connection; the session stays, for [`Driver::over_kept`].
    pub fn into_session(self) -> ClientSession {
        self.session
    }

    /// Makes closing the connection reset it (TCP, with or without TLS: SO_LINGER 0), for a server
    /// that broke the protocol; what it sent after is not read.
    pub fn reset_on_close(&self) {
        let tcp = match &self.stream {
            Stream::Tcp(t) => t,
            Stream::Tls(t) => t.get_ref().0,
            Stream::Unix(_) | Stream::Ws(_) => return,
        };
        let _ = tcp.set_zero_linger();
    }

    async fn start(stream: Stream, session: ClientSession, log: Log) -> Result<Driver, ClientError> {
        let mut d = Driver::new(stream, session, log);
        d.handshake().await?;
        Ok(d)
    }

    fn new(stream: Stream, session: ClientSession, log: Log) -> Driver {
        let version = session.version();
        Driver {
            stream,
            session,
            input: Input::new(version),
            output: Output::default(),
            events: VecDeque::new(),
            failure: None,
            log,
            streamed: None,
            expect_streamed: false,
            order: Vec::new(),
            orders: HashMap::new(),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
        }
    }

    /// Connects again over a new transport after the connection was lost; what was in flight is sent
    /// again. Returns whether the broker resumed the session.
    pub async fn reconnect(&mut self, endpoint: &Endpoint) -> Result<bool, ClientError> {
        self.session.connection_lost();
        self.stream = transport::open(endpoint).await?;
        self.handshake().await?;
        Ok(self.session.connack().session_present)
    }

    /// Sends what was in flight again, then what is queued, once the connection is up
    /// ([`Options::hold_resend`]).
    pub fn resume(&mut self) -> Result<(), ClientError> {
        self.session.resume();
        self.drain()
    }

    /// CONNECT, then packets until CONNACK.
    async fn handshake(&mut self) -> Result<(), ClientError> {
        self.input.clear();
        self.output.clear();
        self.events.clear();
        self.failure = None;
        self.streamed = None;
        self.armed = None;
        self.session.connect(now());
        self.drain()?;
        while !self.session.is_connected() {
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            self.step(true).await?;
        }
        Ok(())
    }

    /// The session: what the broker announced in CONNACK, the window, what is in flight.
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The `-d` logger.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Keeps only the first `front` bytes of the payload of received PUBLISH packets of `large` bytes or
    /// more.
    pub fn keep_front(&mut self, large: usize, front: usize) {
        self.input.keep_front(large, front);
    }

    /// Waits for the next event. Cancel-safe. The broker closing the connection is
    /// [`ClientError::ConnectionLost`]; a DISCONNECT from it is [`ClientError::Disconnected`].
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        self.poll(true).await
    }

    /// [`Driver::next`], or with `reading` false only the writing and keep alive of a tool that takes no
    /// more messages for now (`--exec` waiting for a free slot): then it returns only on failure.
    pub async fn poll(&mut self, reading: bool) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.wait(reading, false).await? {
                return Ok(event);
            }
        }
    }

    /// [`Driver::next`] that also returns, with `None`, once everything encoded so far is written (if
    /// anything is): for a publisher that encodes more as the socket takes it. Cancel-safe.
    pub async fn next_or_written(&mut self) -> Result<Option<Event>, ClientError> {
        let until_written = !self.output.is_empty();
        self.wait(true, until_written).await
    }

    async fn wait(&mut self, reading: bool, until_written: bool) -> Result<Option<Event>, ClientError> {
        loop {
            if reading && let Some(event) = self.events.pop_front() {
                // Acknowledgements go out before the tool works on the message, as far as the socket takes
                // them now; while more packets are in, they wait to go out together.
                if !self.input.has_packet() {
                    self.try_write()?;
                }
                return Ok(Some(event));
            }
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            if until_written && self.output.is_empty() {
                return Ok(None);
            }
            self.step(reading).await?;
        }
    }

    /// One step: a packet already received, or else whichever comes first of writing, reading and the
    /// session's timer.
    async fn step(&mut self, reading: bool) -> Result<(), ClientError> {
        if reading && self.decode_one()? {
            return Ok(());
        }
        let timing = self.arm_timer();
        let writing = !self.output.is_empty();
        let (mut rd, mut wr) = tokio::io::split(&mut self.stream);
        tokio::select! {
            r = self.output.write(&mut wr), if writing => {
                r?;
                self.session.sent(now());
            }
            r = self.input.read(&mut rd), if reading => {
                if r? == 0 {
                    return Err(ClientError::ConnectionLost);
                }
            }
            () = self.timer.as_mut(), if timing => {
                self.armed = None;
                self.session.tick(now(), reading).map_err(|_| ClientError::ConnectionLost)?;
                self.drain()?;
            }
            // Not reading, nothing to write, no keep alive (the broker turned it off): nothing to do.
            else => std::future::pending::<()>().await,
        }
        Ok(())
    }

    /// Arms the timer for the session's deadline; whether there is one. The timer is moved only to an
    /// earlier deadline: one that moved later (bytes went out since) is found not due when it fires, and
    /// the timer is armed again then (so that a busy connection does not re-register it at every step).
    fn arm_timer(&mut self) -> bool {
        let Some(deadline) = self.session.deadline().map(Instant::from_std) else {
            self.armed = None;
            return false;
        };
        if self.armed.is_none_or(|armed| deadline < armed) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        true
    }

    /// The next event if one is here already (decoding what was read), without waiting: for a tool that
    /// takes a burst of events at once.
    pub fn try_next(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            if !self.decode_one()? {
                return Ok(None);
            }
        }
    }

    /// Decodes and handles one packet if a whole one is in. Its `-d` line shows the topic it stands for.
    fn decode_one(&mut self) -> Result<bool, ClientError> {
        let Some((mut packet, order)) = self.input.next()? else { return Ok(false) };
        self.session.resolve(&mut packet)?;
        self.log.received(&packet);
        let qos2 = match &packet {
            Packet::Publish(p) if p.qos == mq_proto::QoS::ExactlyOnce => p.packet_id,
            _ => None,
        };
        self.order = match &packet {
            Packet::PubRel(a) => self.orders.remove(&a.packet_id.get()).unwrap_or_default(),
            _ => order,
        };
        self.session.handle(packet)?;
        self.drain()?;
        // A QoS 2 message not handed over yet is handed over on PUBREL.
        if let Some(id) = qos2
            && !self.order.is_empty()
        {
            self.orders.insert(id.get(), std::mem::take(&mut self.order));
        }
        Ok(true)
    }

    /// Takes the session's actions: packets are encoded (and logged), events queued for the tool.
    fn drain(&mut self) -> Result<(), ClientError> {
        let version = self.session.version();
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send(p) => {
                    self.log.sending(&p);
                    self.output.packet(&p, version)?;
                }
                Action::Publish(o) if o.streamed.is_some() => {
                    // Its payload is the caller's to write: only the call that asked for it can. One the
                    // session sends again after a reconnect has no payload to go with it, and the
                    // connection cannot go on without it.
                    if !std::mem::take(&mut self.expect_streamed) {
                        return Err(ClientError::ConnectionLost);
                    }
                    self.streamed = Some(o);
                    return Ok(());
                }
                Action::Publish(o) => {
                    self.log.sending_publish(&o.publish, o.mid, o.publish.payload.len());
                    self.output.packet(&Packet::Publish(o.publish), version)?;
                }
                Action::Event(e) => self.on_event(e),
            }
        }
        Ok(())
    }

    fn on_event(&mut self, e: mq_proto::client::Event) {
        use mq_proto::client::Event as S;
        let event = match e {
            S::Connected { session_present } => {
                if let Some(id) = &self.session.connack().properties.assigned_client_identifier {
                    self.log.set_id(id);
                }
                if !session_present {
                    self.orders.clear();
                }
                return;
            }
            S::Refused { code } => {
                self.failure = Some(ClientError::Refused { version: self.session.version(), code });
                return;
            }
            S::Disconnected { reason } => {
                self.failure = Some(ClientError::Disconnected(reason));
                return;
            }
            S::Message { publish, ack } => {
                let order = std::mem::take(&mut self.order);
                Event::Message { msg: Box::new(Received::new(publish, &order)), ack }
            }
            S::Published { mid, reason } => Event::Published { mid, reason },
            S::Subscribed { mid, granted } => Event::Subscribed { mid, granted },
            S::Unsubscribed { mid, .. } => Event::Unsubscribed { mid },
            S::UnknownAck { packet, id } => Event::UnknownAck { packet, id },
        };
        self.events.push_back(event);
    }

    /// Writes what the socket takes without waiting.
    fn try_write(&mut self) -> Result<(), ClientError> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while !self.output.is_empty() {
            match self.output.poll_write(&mut self.stream, &mut cx) {
                std::task::Poll::Ready(r) => {
                    r?;
                    self.session.sent(now());
                }
                std::task::Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// Writes everything encoded so far.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        while !self.output.is_empty() {
            self.output.write(&mut self.stream).await?;
            self.session.sent(now());
        }
        Ok(())
    }

    /// Writes what is encoded, closes the sending side and reads (discarding it) until the server
    /// closes too, for at most `within`: everything written is then the server's, handled before it saw
    /// the close (dropping a socket with unread bytes in it resets the connection, and a reset can
    /// overtake what was sent before it). What the server sent meanwhile stays unacknowledged, so a
    /// persistent session sends it again.
    pub async fn close(mut self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            self.flush().await?;
            self.stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while tokio::io::AsyncReadExt::read(&mut self.stream, &mut sink).await? > 0 {}
            Ok::<(), ClientError>(())
        })
        .await;
    }

    /// Bytes encoded and not written yet.
    pub fn unwritten(&self) -> usize {
        self.output.len()
    }

    /// Publishes a message whose payload is in memory; returns its message id. It goes when the window
    /// has room ([`Event::Published`] tells when a QoS 1 or 2 message is complete).
    pub fn publish(&mut self, p: Publish) -> Result<u16, ClientError> {
        let mid = self.session.publish(p)?;
        self.drain()?;
        Ok(mid)
    }

    /// Subscribes; returns the message id [`Event::Subscribed`] will name.
    pub fn subscribe(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<u16, ClientError> {
        let mid = self.session.subscribe(filters, properties)?;
        self.drain()?;
        Ok(mid)
    }

    /// Unsubscribes; returns the message id [`Event::Unsubscribed`] will name.
    pub fn unsubscribe(&mut self, filters: Vec<String>, properties: UnsubscribeProperties) -> Result<u16, ClientError> {
        let mid = self.session.unsubscribe(filters, properties)?;
        self.drain()?;
        Ok(mid)
    }

    /// The tool is done with the message of `token`: it is acknowledged in its turn.
    pub fn ack(&mut self, token: AckToken) -> Result<(), ClientError> {
        self.session.ack(token);
        self.drain()
    }

    /// The message of `token` is left unacknowledged (a persistent session gets it again).
    pub fn abandon(&mut self, token: AckToken) -> Result<(), ClientError> {
        self.session.abandon(token);
        self.drain()
    }

    /// Sends DISCONNECT with `reason` and `props` (MQTT 5) after what is still to be written, and closes
    /// the sending side. The connection is ending either way: a broker already gone changes nothing.
    pub async fn disconnect(&mut self, reason: ReasonCode, props: &mq_proto::DisconnectProperties) {
        self.session.disconnect(reason, props.clone());
        if self.drain().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(10), self.flush()).await;
        }
        let _ = self.stream.shutdown().await;
    }
}

/// The session's clock: tokio's, so that a paused test clock moves it too.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Sleeps until `deadline`, or forever when there is none.
pub async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
