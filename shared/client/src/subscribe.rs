//! `mq-sub` (and `mq sub`): subscribe, and print every message as `mosquitto_sub` does, or hand it to an
//! `--exec` command.
//!
//! Design: one event loop per connection ([`Subscriber::connection`]) over the [`Driver`], the running
//! handlers, the `-W` deadline and SIGINT/SIGTERM. A lost connection is re-established (every second, as
//! libmosquitto does) and the subscriptions made again, until `-W` runs out.
//!
//! Acknowledgements are the session's (in arrival order, MQTT 3.1.1 §4.6). When printing, a message is
//! acknowledged as it arrives, and QoS 2 is delivered on PUBREL, as libmosquitto does. With `--exec` the
//! session holds each acknowledgement until the tool says the message's handler has finished
//! ([`Driver::ack`]), and QoS 2 messages are handled on PUBLISH with PUBREC held back until then: a
//! subscriber or handler that dies before that leaves the message unacknowledged, so a persistent
//! session (`-c`) gets it again.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use mq_format::{Format, OutputMode, Printer};
use mq_proto::client::{AckToken, Qos2Delivery};
use mq_proto::topic::matches;
use mq_proto::{ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, SubscriptionOptions};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::args::{OutputArgs, SubArgs};
use crate::config::{self, Session};
use crate::driver::{self, Driver, Event, sleep_until_opt};
use crate::error::{ClientError, ToolKind, UsageError};
use crate::exec::{Finished, Runner};
use crate::output::{self, Received};

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

/// A message waiting for an `--exec` slot, with the token of its acknowledgement.
#[derive(Debug)]
struct Queued {
    seq: u64,
    msg: Received,
    ack: Option<AckToken>,
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
    seq: u64,
    received: u32,
    /// No more messages are processed (Mosquitto's `process_messages = false`).
    stopping: bool,
    queue: VecDeque<Queued>,
    /// `--exec` handlers running: their acknowledgement tokens by sequence number.
    running: HashMap<u64, Option<AckToken>>,
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
        seq: 0,
        received: 0,
        stopping: false,
        queue: VecDeque::new(),
        running: HashMap::new(),
        sub_mid: 0,
        session,
    };
    sub.run().await
}

impl Subscriber {
    async fn run(&mut self) -> Result<(), ClientError> {
        let mut interrupts = Interrupts::new();
        // With --exec a message is acknowledged once its handler is done, and QoS 2 is handled on PUBLISH.
        let options = match self.exec {
            Some(_) => driver::options(&self.session, Qos2Delivery::OnPublish, true),
            None => driver::options(&self.session, Qos2Delivery::OnRelease, false),
        };
        let mut driver = tokio::select! {
            d = Driver::connect(&self.session, options) => d?,
            () = sleep_until_opt(self.deadline) => return Err(ClientError::Timeout),
            () = interrupts.recv() => return Ok(()),
        };
        loop {
            match self.connection(&mut driver, &mut interrupts).await? {
                End::Done => return Ok(()),
                End::Lost => {}
            }
            if self.stopping {
                return Ok(());
            }
            let resumed = loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = sleep_until_opt(self.deadline) => return Err(ClientError::Timeout),
                    () = interrupts.recv() => return Ok(()),
                }
                match driver.reconnect(&self.session.endpoint).await {
                    Ok(resumed) => break resumed,
                    Err(e @ ClientError::Refused { .. }) => return Err(e),
                    Err(_) => {}
                }
            };
            if resumed {
                // The broker will send unacknowledged messages again; don't handle them twice.
                self.queue.retain(|q| q.msg.publish.qos == QoS::AtMostOnce);
            }
        }
    }

    /// The event loop of one connection.
    async fn connection(&mut self, driver: &mut Driver, interrupts: &mut Interrupts) -> Result<End, ClientError> {
        if let Err(e) = self.subscribe(driver).await {
            return if e.is_lost() { Ok(End::Lost) } else { Err(e) };
        }
        loop {
            self.start_handlers();
            if self.stopping && self.drained(driver) {
                driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                return Ok(End::Done);
            }
            let reading = self.queue.len() < EXEC_BACKLOG;
            let running = self.exec.as_ref().is_some_and(|r| r.running() > 0);
            let step = tokio::select! {
                biased;
                () = interrupts.recv() => {
                    self.stopping = true;
                    driver.disconnect(interrupt_reason(driver.session().version()), &self.session.props.disconnect).await;
                    return Ok(End::Done);
                }
                () = sleep_until_opt(self.deadline) => {
                    driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                    return Err(ClientError::Timeout);
                }
                f = next_finished(&mut self.exec), if running => self.finished(driver, f),
                event = driver.poll(reading) => match event {
                    Ok(event) => self.on_event(driver, event),
                    Err(e) => Err(e),
                },
            };
            match step {
                Ok(()) => {}
                Err(e) if e.is_lost() => return Ok(End::Lost),
                Err(e) => {
                    // Including a closed stdout (`mq-sub ... | head`), which ends the tool quietly.
                    driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &self.session.props.disconnect).await;
                    return Err(e);
                }
            }
        }
    }

    /// SUBSCRIBE, then an UNSUBSCRIBE per `-U`, each written before the next (as Mosquitto's client does:
    /// the broker answers the SUBSCRIBE, retained messages included, before it reads the UNSUBSCRIBE).
    async fn subscribe(&mut self, driver: &mut Driver) -> Result<(), ClientError> {
        let filters = self.topics.iter().map(|t| (t.clone(), self.options)).collect();
        self.sub_mid = driver.subscribe(filters, self.session.props.subscribe.clone())?;
        driver.flush().await?;
        for t in &self.unsubscribe {
            driver.unsubscribe(vec![t.clone()], self.session.props.unsubscribe.clone())?;
            driver.flush().await?;
        }
        Ok(())
    }

    /// Nothing left to finish before disconnecting: no acknowledgement owed, no `--remove-retained`
    /// message in flight, no handler queued or running.
    fn drained(&self, driver: &Driver) -> bool {
        let s = driver.session();
        s.owed_acks() == 0
            && s.in_flight() == 0
            && s.queued() == 0
            && self.queue.is_empty()
            && self.exec.as_ref().is_none_or(|r| r.running() == 0)
    }

    fn stop(&mut self) {
        self.stopping = true;
    }

    fn on_event(&mut self, driver: &mut Driver, event: Event) -> Result<(), ClientError> {
        match event {
            Event::Message { msg, ack } => self.deliver(driver, *msg, ack),
            Event::Subscribed { mid, granted } if mid == self.sub_mid => {
                let codes: Vec<String> = granted.iter().map(|c| c.0.to_string()).collect();
                if !self.session.quiet {
                    driver.log().line(format_args!("Subscribed (mid: {mid}): {}", codes.join(", ")));
                }
                if granted.iter().all(|c| c.is_error()) {
                    return Err(ClientError::AllSubscriptionsDenied);
                }
                if self.exit_after_sub {
                    self.stop();
                }
                Ok(())
            }
            // The UNSUBACKs, and the PUBACKs of --remove-retained (the session counts those in flight).
            _ => Ok(()),
        }
    }

    /// Mosquitto's message callback: the filters, `--remove-retained`, then print (or queue for `--exec`),
    /// and count. `ack` is the token of a message whose acknowledgement waits for its handler.
    fn deliver(&mut self, driver: &mut Driver, msg: Received, ack: Option<AckToken>) -> Result<(), ClientError> {
        // A message that is neither printed nor handled is left unacknowledged, so it is not lost (with a
        // persistent session it comes again). When printing, Mosquitto has acknowledged it already.
        if self.stopping {
            return abandon(driver, ack);
        }
        let p = &msg.publish;
        if self.retained_only && !p.retain {
            self.stop();
            return abandon(driver, ack);
        }
        // Messages deliberately filtered out are done with.
        let filtered = (p.retain && self.no_retained) || self.filter_out.iter().any(|f| matches(f, &p.topic));
        if filtered {
            return acknowledge(driver, ack);
        }
        if self.remove_retained && p.retain {
            let qos = if driver.session().max_qos() >= 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
            let mut clear = Publish::new(p.topic.clone(), qos, Bytes::new());
            clear.retain = true;
            driver.publish(clear)?;
        }
        if let Some(chance) = self.random_filter
            && rand::random_range(0..10_000u32) >= chance
        {
            return acknowledge(driver, ack);
        }
        if self.exec.is_some() {
            self.seq += 1;
            self.queue.push_back(Queued { seq: self.seq, msg, ack });
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
            self.running.insert(q.seq, q.ack);
        }
    }

    /// A handler finished: acknowledge its message (in order), or stop.
    fn finished(&mut self, driver: &mut Driver, f: Finished) -> Result<(), ClientError> {
        let ack = self.running.remove(&f.seq).flatten();
        if f.success() {
            return acknowledge(driver, ack);
        }
        if self.stop_on_error {
            abandon(driver, ack)?;
            return Err(ClientError::Exec(f.describe()));
        }
        if !self.session.quiet {
            eprintln!("Error: {}", f.describe());
        }
        acknowledge(driver, ack)
    }
}

fn acknowledge(driver: &mut Driver, ack: Option<AckToken>) -> Result<(), ClientError> {
    ack.map_or(Ok(()), |t| driver.ack(t))
}

fn abandon(driver: &mut Driver, ack: Option<AckToken>) -> Result<(), ClientError> {
    ack.map_or(Ok(()), |t| driver.abandon(t))
}

async fn next_finished(exec: &mut Option<Runner>) -> Finished {
    match exec {
        Some(r) => r.next().await,
        None => std::future::pending().await,
    }
}
