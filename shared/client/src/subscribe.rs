//! `mq-sub` (and `mq sub`): subscribe, and print every message as `mosquitto_sub` does, or hand it to an
//! `--exec` command.
//!
//! Design: one event loop per connection ([`Subscriber::connection`]) over the socket, the running
//! handlers, keep alive, the `-W` deadline and SIGINT/SIGTERM. A lost connection is re-established (every
//! second, as libmosquitto does) and the subscriptions made again, until `-W` runs out.
//!
//! Acknowledgements: QoS 1 and 2 messages are acknowledged in the order they arrived (MQTT 3.1.1
//! §4.6, [MQTT-4.6.0-2/3]), through one queue of [`AckSlot`]s. When printing, a slot is ready at once
//! (QoS 2 is delivered on PUBREL, as libmosquitto does). With `--exec` a slot becomes ready only when the
//! message's handler has finished, and QoS 2 messages are handled on PUBLISH with PUBREC held back until
//! then: a subscriber or handler that dies before that leaves the message unacknowledged, so a persistent
//! session (`-c`) gets it again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use mq_format::{Format, OutputMode, Printer};
use mq_proto::topic::matches;
use mq_proto::{
    Ack, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions,
    Unsubscribe,
};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::args::{OutputArgs, SubArgs};
use crate::config::{self, Session};
use crate::conn::Conn;
use crate::error::{ClientError, ToolKind, UsageError};
use crate::exec::{Finished, Runner};
use crate::output::{self, Received};
use crate::publish::{Mids, sleep_until_opt};

/// Messages waiting for a free `--exec` slot before the socket is no longer read.
const EXEC_BACKLOG: usize = 16;

/// The printer for `-v`, `-F`, `-N` and `--pretty`. A bad `-F` is a usage error with mosquitto_sub's
/// message.
pub(crate) fn printer(o: &OutputArgs) -> Result<Printer, ClientError> {
    let mode = match &o.format {
        Some(f) => {
            let format = Format::parse(f).map_err(|e| {
                let text = e.to_string();
                UsageError::new(text.strip_prefix("Error: ").unwrap_or(&text).to_string())
            })?;
            OutputMode::Format(format)
        }
        None if o.verbose => OutputMode::Verbose,
        None => OutputMode::Plain,
    };
    Ok(Printer::new(mode).with_eol(!o.no_eol).with_pretty(o.pretty))
}

/// SIGINT and SIGTERM, which end the tools cleanly (with a DISCONNECT).
pub(crate) struct Interrupts(Option<(Signal, Signal)>);

impl Interrupts {
    pub(crate) fn new() -> Self {
        Interrupts(signal(SignalKind::interrupt()).ok().zip(signal(SignalKind::terminate()).ok()))
    }

    /// Waits for either signal. Cancel-safe.
    pub(crate) async fn recv(&mut self) {
        match &mut self.0 {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// The DISCONNECT reason for an interrupted client: Mosquitto's clients ask for the will to be sent.
pub(crate) fn interrupt_reason(version: ProtocolVersion) -> ReasonCode {
    if version.is_v5() { ReasonCode::DISCONNECT_WITH_WILL } else { ReasonCode::NORMAL_DISCONNECTION }
}

/// One acknowledgement owed to the broker, in arrival order.
#[derive(Debug)]
struct AckSlot {
    seq: u64,
    /// PUBACK or PUBREC.
    packet: Packet,
    ready: bool,
}

/// A message waiting for an `--exec` slot.
#[derive(Debug)]
struct Queued {
    seq: u64,
    msg: Received,
}

/// How a connection's event loop ended.
enum End {
    /// Finished (count reached, -E, --retained-only, interrupted): DISCONNECT sent.
    Done,
    /// The connection went away: reconnect.
    Lost,
}

struct Subscriber {
    session: Session,
    topics: Vec<String>,
    options: SubscriptionOptions,
    unsubscribe: Vec<String>,
    filter_out: Vec<String>,
    count: Option<u32>,
    exit_after_sub: bool,
    no_retained: bool,
    retained_only: bool,
    remove_retained: bool,
    /// Out of 10000, as Mosquitto keeps it.
    random_filter: Option<u32>,
    printer: Printer,
    exec: Option<Runner>,
    stop_on_error: bool,
    jobs: usize,
    deadline: Option<Instant>,

    // State.
    mids: Mids,
    seq: u64,
    received: u32,
    /// No more messages are processed (Mosquitto's `process_messages = false`).
    stopping: bool,
    acks: VecDeque<AckSlot>,
    queue: VecDeque<Queued>,
    /// Printing mode: QoS 2 messages waiting for PUBREL.
    qos2: HashMap<u16, Received>,
    /// `--exec` mode: QoS 2 messages whose PUBREC went out, waiting for PUBREL.
    released: HashSet<u16>,
    /// `--exec` mode: QoS 2 packet ids being handled.
    handling: HashSet<u16>,
    /// `--remove-retained` publishes waiting for PUBACK.
    removing: HashSet<u16>,
    sub_mid: u16,
}

/// Runs `mq-sub`.
pub async fn run(args: SubArgs) -> Result<(), ClientError> {
    let printer = printer(&args.output)?;
    let mut session = config::session(&args.connect, ToolKind::Sub)?;
    let mut topics: Vec<String> = session.url_topic.iter().cloned().collect();
    topics.extend(args.topics.iter().cloned());
    if topics.is_empty() {
        return Err(UsageError::new("You must specify a topic to subscribe to.").into());
    }
    if args.no_retained && args.retained_only {
        return Err(UsageError::new("Combining '-R' and '--retained-only' makes no sense.").into());
    }
    let v5 = session.version().is_v5();
    if v5 && let Some(c) = args.count {
        // Mosquitto 2.0.10+: with -C below the default receive maximum of 20, the broker is asked to send
        // no more than that many messages at once, so that no extra ones are in flight at the end.
        if c < 20 && session.connect.properties.receive_maximum.is_none() {
            session.connect.properties.receive_maximum = Some(c as u16);
        }
    }
    let options = SubscriptionOptions {
        qos: args.qos,
        no_local: false,
        retain_as_published: v5 && args.retain_as_published,
        retain_handling: if v5 && args.no_retained {
            RetainHandling::DoNotSend
        } else {
            RetainHandling::SendAtSubscribe
        },
    };
    let mut sub = Subscriber {
        topics,
        options,
        unsubscribe: args.unsubscribe.clone(),
        filter_out: args.filter_out.clone(),
        count: args.count,
        exit_after_sub: args.exit_after_sub,
        no_retained: args.no_retained,
        retained_only: args.retained_only,
        remove_retained: args.remove_retained,
        random_filter: args.random_filter.map(|p| (p * 100.0) as u32),
        printer,
        exec: args.exec.command.clone().map(Runner::new),
        stop_on_error: args.exec.stop_on_error,
        jobs: usize::from(args.exec.jobs),
        deadline: args.timeout.map(|s| Instant::now() + Duration::from_secs(s.into())),
        mids: Mids::default(),
        seq: 0,
        received: 0,
        stopping: false,
        acks: VecDeque::new(),
        queue: VecDeque::new(),
        qos2: HashMap::new(),
        released: HashSet::new(),
        handling: HashSet::new(),
        removing: HashSet::new(),
        sub_mid: 0,
        session,
    };
    sub.run().await
}

impl Subscriber {
    async fn run(&mut self) -> Result<(), ClientError> {
        let mut interrupts = Interrupts::new();
        let mut conn = tokio::select! {
            c = Conn::connect(&self.session) => c?,
            () = sleep_until_opt(self.deadline) => return Err(ClientError::Timeout),
            () = interrupts.recv() => return Ok(()),
        };
        loop {
            match self.connection(&mut conn, &mut interrupts).await? {
                End::Done => return Ok(()),
                End::Lost => {}
            }
            if self.stopping {
                return Ok(());
            }
            // Acknowledgements and QoS 2 state belong to the connection that is gone.
            self.acks.clear();
            self.qos2.clear();
            self.released.clear();
            self.handling.clear();
            self.removing.clear();
            conn = loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = sleep_until_opt(self.deadline) => return Err(ClientError::Timeout),
                    () = interrupts.recv() => return Ok(()),
                }
                match Conn::connect(&self.session).await {
                    Ok(c) => break c,
                    Err(e @ ClientError::Refused { .. }) => return Err(e),
                    Err(_) => {}
                }
            };
            if conn.connack.session_present {
                // The broker will send unacknowledged messages again; don't handle them twice.
                self.queue.retain(|q| q.msg.publish.qos == QoS::AtMostOnce);
            }
        }
    }

    /// The event loop of one connection.
    async fn connection(&mut self, conn: &mut Conn, interrupts: &mut Interrupts) -> Result<End, ClientError> {
        match self.subscribe(conn).await {
            Ok(()) => {}
            Err(e) if is_lost(&e) => return Ok(End::Lost),
            Err(e) => return Err(e),
        }
        loop {
            self.start_handlers();
            if self.stopping && self.drained() {
                conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                return Ok(End::Done);
            }
            let reading = self.queue.len() < EXEC_BACKLOG;
            let keepalive = conn.keepalive_deadline();
            let running = self.exec.as_ref().is_some_and(|r| r.running() > 0);
            let step = tokio::select! {
                biased;
                () = interrupts.recv() => {
                    self.stopping = true;
                    conn.disconnect(interrupt_reason(conn.version()), &self.session.props.disconnect).await;
                    return Ok(End::Done);
                }
                () = sleep_until_opt(self.deadline) => {
                    conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                    return Err(ClientError::Timeout);
                }
                f = next_finished(&mut self.exec), if running => self.finished(conn, f).await,
                r = conn.recv(), if reading => match r {
                    Ok(p) => {
                        let order = conn.take_order();
                        self.on_packet(conn, p, &order).await
                    }
                    Err(e) => Err(e),
                },
                () = sleep_until_opt(keepalive) => conn.keepalive_while(reading).await,
            };
            match step {
                Ok(()) => {}
                Err(e) if is_lost(&e) => return Ok(End::Lost),
                Err(ClientError::Output(e)) if mq_cli::is_broken_pipe(&e) => {
                    // Nobody reads our output any more (`mq-sub ... | head`): leave quietly.
                    conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                    return Err(ClientError::Output(e));
                }
                Err(e) => {
                    conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                    return Err(e);
                }
            }
        }
    }

    async fn subscribe(&mut self, conn: &mut Conn) -> Result<(), ClientError> {
        self.sub_mid = self.mids.next();
        let filters = self.topics.iter().map(|t| (t.clone(), self.options)).collect();
        let mut s = Subscribe::new(packet_id(self.sub_mid), filters);
        s.properties = self.session.props.subscribe.clone();
        conn.send(&Packet::Subscribe(s)).await?;
        for t in &self.unsubscribe {
            let mut u = Unsubscribe::new(packet_id(self.mids.next()), vec![t.clone()]);
            u.properties = self.session.props.unsubscribe.clone();
            conn.send(&Packet::Unsubscribe(u)).await?;
        }
        Ok(())
    }

    /// Nothing left to finish before disconnecting.
    fn drained(&self) -> bool {
        self.acks.is_empty()
            && self.queue.is_empty()
            && self.removing.is_empty()
            && self.exec.as_ref().is_none_or(|r| r.running() == 0)
    }

    fn stop(&mut self) {
        self.stopping = true;
    }

    async fn on_packet(&mut self, conn: &mut Conn, packet: Packet, order: &[u8]) -> Result<(), ClientError> {
        match packet {
            Packet::Publish(p) => self.on_publish(conn, p, order).await?,
            Packet::PubRel(a) => {
                let id = a.packet_id;
                let msg = self.qos2.remove(&id.get());
                self.released.remove(&id.get());
                conn.send(&Packet::PubComp(Ack::new(id))).await?;
                if let Some(msg) = msg {
                    self.deliver(conn, msg, None).await?;
                }
            }
            Packet::SubAck(s) if s.packet_id.get() == self.sub_mid => {
                let codes: Vec<String> = s.reason_codes.iter().map(|c| c.0.to_string()).collect();
                if !self.session.quiet {
                    conn.log.line(format_args!("Subscribed (mid: {}): {}", self.sub_mid, codes.join(", ")));
                }
                if s.reason_codes.iter().all(|c| c.is_error()) {
                    return Err(ClientError::AllSubscriptionsDenied);
                }
                if self.exit_after_sub {
                    self.stop();
                }
            }
            Packet::PubAck(a) => {
                self.removing.remove(&a.packet_id.get());
            }
            _ => {}
        }
        self.flush_acks(conn).await
    }

    async fn on_publish(&mut self, conn: &mut Conn, p: Publish, order: &[u8]) -> Result<(), ClientError> {
        let msg = Received::new(p, order);
        let exec = self.exec.is_some();
        match (msg.publish.qos, msg.publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) if exec => {
                let seq = self.slot(Packet::PubAck(Ack::new(id)));
                self.deliver(conn, msg, Some(seq)).await
            }
            (QoS::AtLeastOnce, Some(id)) => {
                // As libmosquitto: acknowledged first, then printed.
                self.slot(Packet::PubAck(Ack::new(id)));
                self.flush_acks(conn).await?;
                self.deliver(conn, msg, None).await
            }
            (QoS::ExactlyOnce, Some(id)) if exec => {
                if self.released.contains(&id.get()) {
                    // A resend of a message already handled: only the PUBREC got lost.
                    conn.send(&Packet::PubRec(Ack::new(id))).await
                } else if self.handling.insert(id.get()) {
                    let seq = self.slot(Packet::PubRec(Ack::new(id)));
                    self.deliver(conn, msg, Some(seq)).await
                } else {
                    Ok(())
                }
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Delivered on PUBREL; a resend before that is the same message.
                self.qos2.entry(id.get()).or_insert(msg);
                self.slot(Packet::PubRec(Ack::new(id)));
                Ok(())
            }
            _ => self.deliver(conn, msg, None).await,
        }
    }

    /// Queues an acknowledgement slot (ready unless an `--exec` handler takes the message).
    fn slot(&mut self, packet: Packet) -> u64 {
        self.seq += 1;
        self.acks.push_back(AckSlot { seq: self.seq, packet, ready: true });
        self.seq
    }

    fn set_slot(&mut self, seq: u64, ready: bool) {
        if let Some(s) = self.acks.iter_mut().find(|s| s.seq == seq) {
            s.ready = ready;
        }
    }

    fn drop_slot(&mut self, seq: u64) {
        self.acks.retain(|s| s.seq != seq);
    }

    /// Sends the acknowledgements that are ready, in order.
    async fn flush_acks(&mut self, conn: &mut Conn) -> Result<(), ClientError> {
        while self.acks.front().is_some_and(|s| s.ready) {
            let Some(slot) = self.acks.pop_front() else { break };
            if let Packet::PubRec(a) = &slot.packet
                && self.exec.is_some()
            {
                self.handling.remove(&a.packet_id.get());
                self.released.insert(a.packet_id.get());
            }
            conn.send(&slot.packet).await?;
        }
        Ok(())
    }

    /// Mosquitto's message callback: the filters, `--remove-retained`, then print (or queue for `--exec`),
    /// and count.
    async fn deliver(&mut self, conn: &mut Conn, msg: Received, slot: Option<u64>) -> Result<(), ClientError> {
        let exec = self.exec.is_some();
        // A message that is neither printed nor handled: with --exec it is left unacknowledged, so it is not
        // lost (with a persistent session it comes again); when printing, as Mosquitto, it is acknowledged.
        let skip = |s: &mut Self| {
            if let Some(seq) = slot {
                if exec { s.drop_slot(seq) } else { s.set_slot(seq, true) }
            }
        };
        if self.stopping {
            skip(self);
            return Ok(());
        }
        let p = &msg.publish;
        if self.retained_only && !p.retain {
            self.stop();
            skip(self);
            return Ok(());
        }
        // Messages deliberately filtered out are done with.
        let filtered = (p.retain && self.no_retained) || self.filter_out.iter().any(|f| matches(f, &p.topic));
        if filtered {
            return Ok(());
        }
        if self.remove_retained && p.retain {
            let mid = self.mids.next();
            let mut clear = Publish::new(p.topic.clone(), QoS::AtLeastOnce, Bytes::new());
            clear.retain = true;
            clear.packet_id = PacketId::new(mid);
            self.removing.insert(mid);
            conn.send_publish(&clear, mid).await?;
        }
        if let Some(chance) = self.random_filter
            && rand::random_range(0..10_000u32) >= chance
        {
            return Ok(());
        }
        if exec {
            let seq = match slot {
                Some(seq) => {
                    self.set_slot(seq, false);
                    seq
                }
                None => {
                    self.seq += 1;
                    self.seq
                }
            };
            self.queue.push_back(Queued { seq, msg });
        } else {
            output::print(&self.printer, &msg, self.session.quiet)?;
        }
        self.received += 1;
        if self.count.is_some_and(|c| self.received >= c) {
            self.stop();
        }
        Ok(())
    }

    /// Starts queued handlers while there are free slots.
    fn start_handlers(&mut self) {
        let Some(runner) = &mut self.exec else { return };
        while runner.running() < self.jobs {
            let Some(q) = self.queue.pop_front() else { break };
            runner.start(q.seq, &q.msg);
        }
    }

    /// A handler finished: acknowledge its message (in order), or stop.
    async fn finished(&mut self, conn: &mut Conn, f: Finished) -> Result<(), ClientError> {
        if f.success() {
            self.set_slot(f.seq, true);
        } else if self.stop_on_error {
            self.drop_slot(f.seq);
            return Err(ClientError::Exec(f.describe()));
        } else {
            if !self.session.quiet {
                eprintln!("Error: {}", f.describe());
            }
            self.set_slot(f.seq, true);
        }
        self.flush_acks(conn).await
    }
}

async fn next_finished(exec: &mut Option<Runner>) -> Finished {
    match exec {
        Some(r) => r.next().await,
        None => std::future::pending().await,
    }
}

fn is_lost(e: &ClientError) -> bool {
    matches!(e, ClientError::ConnectionLost | ClientError::Io(_) | ClientError::Disconnected(_))
}

/// A packet identifier from a message id (which is never 0).
pub(crate) fn packet_id(mid: u16) -> PacketId {
    PacketId::new(mid).unwrap_or(PacketId::MIN)
}
