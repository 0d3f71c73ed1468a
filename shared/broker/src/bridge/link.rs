//! A bridge's task: connect to the remote (failing over between addresses), open the local session,
//! subscribe on both sides, forward in both directions with acknowledgements held until the other side
//! has acknowledged, publish the notification state, and start again after `restart_timeout` when
//! either side goes away.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use mq_client::driver::{Driver, Event};
use mq_client::{ClientError, Stream};
use mq_proto::client::{AckToken, ClientSession, Options, Qos2Delivery};
use mq_proto::{
    Connect, ConnectProperties, ProtocolVersion, Publish, QoS, RetainHandling, SubscribeProperties,
    SubscriptionOptions, UnsubscribeProperties, Will,
};

use super::{BridgeError, Plan};
use crate::broker::Broker;
use crate::connection::{self, Accepted};
use crate::log;
use crate::message::Message;
use crate::settings::ListenerCtx;

/// How long connecting to the remote (TCP, then CONNACK) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages in flight on the local side.
const WINDOW: u16 = 100;
/// How long the acknowledgements owed to the local broker may take to go, and be handled, when a
/// connection ends.
const LOCAL_FLUSH: Duration = Duration::from_secs(1);
/// Messages in flight on the remote side (Mosquitto's default `max_inflight_messages`).
const REMOTE_WINDOW: u16 = 20;
/// CONNACK return code (3.x) refusing the protocol level, and MQTT 5's "unsupported protocol version".
const REFUSED_LEVEL: u8 = 0x01;
const REFUSED_VERSION_V5: u8 = 0x84;

/// What the task learnt about the remote across attempts.
struct Attempt {
    /// Where the next attempt goes.
    address: usize,
    /// The remote refused the bridge bit once: later attempts go without it (as Mosquitto does).
    private: bool,
    /// The remote refused MQTT 5 once: later attempts use 3.1.1.
    protocol: ProtocolVersion,
    /// The last wait before connecting again.
    delay: Option<Duration>,
    /// The last message id used on the remote: the next connection numbers on (as Mosquitto's
    /// bridges do).
    last_mid: u16,
    /// The last connection of a lazy bridge ended for want of traffic (not an error: no wait before
    /// the next, which waits for the threshold).
    idled: bool,
    /// The remote session between connections (`cleansession false`): what was in flight there goes
    /// again on the next connection with the same message ids, DUP set (PUBREL where the remote had
    /// sent PUBREC), as Mosquitto's bridges do whether or not the remote kept the session.
    session: Option<ClientSession>,
    /// Local messages handed to the remote session and not complete there, by remote message id.
    /// Kept with `session`.
    out_flight: HashMap<u16, Outgoing>,
}

/// A local message in flight on the remote.
#[derive(Debug, Clone, Copy)]
struct Outgoing {
    /// Its packet identifier on the local connection it came on, while the local session keeps it
    /// (`local_cleansession false`): the local broker delivers it again with that identifier and DUP
    /// after the local connection is made again, and the redelivery waits for the message in flight
    /// instead of crossing a second time.
    local_id: Option<u16>,
    /// The acknowledgement the local connection is owed once the remote has the message; none after
    /// that connection ended, until the redelivery.
    ack: Option<AckToken>,
}

/// Runs the bridge until shutdown.
pub async fn run(broker: Arc<Broker>, ctx: Arc<ListenerCtx>, plan: Plan) {
    let mut at = Attempt {
        address: 0,
        private: plan.try_private,
        protocol: plan.protocol,
        delay: None,
        last_mid: 0,
        idled: false,
        session: None,
        out_flight: HashMap::new(),
    };
    if plan.lazy.is_some() && plan.local_cleansession {
        log!(
            Warning,
            "Bridge {}: start_type lazy with a clean local session (local_cleansession true, or cleansession \
             true without local_cleansession): nothing queues for the remote while the bridge is down, so it \
             never reaches its threshold.",
            plan.name
        );
    }
    // A persistent local session is opened first so that messages queue from now on; a local identity
    // is checked at once.
    if !plan.local_cleansession || plan.local_username.is_some() {
        tokio::select! {
            () = broker.wait_shutdown() => return,
            r = prepare_local(&broker, &ctx, &plan) => match r {
                Err(BridgeError::Local(e @ ClientError::Refused { .. })) => {
                    log!(
                        Error,
                        "Bridge {}: the local broker refused local_username {} ({e}); the bridge is not started.",
                        plan.name,
                        plan.local_username.as_deref().unwrap_or("")
                    );
                    return;
                }
                Err(e) => log!(Warning, "Bridge {}: {e}", plan.name),
                Ok(()) => {}
            }
        }
    }
    if plan.lazy.is_some() {
        // Down until enough is queued for the remote (said once the local session queues).
        notify_local(&broker, &plan, "0");
    }
    loop {
        if let Some(lazy) = plan.lazy {
            tokio::select! {
                () = broker.wait_shutdown() => return,
                () = threshold_reached(&broker, &plan.local_clientid, lazy.threshold) => {}
            }
        }
        let addr = &plan.addresses[at.address % plan.addresses.len()];
        log!(Notice, "Connecting bridge {} ({}:{})", plan.name, addr.host, addr.port);
        let mut announced = false;
        let outcome = tokio::select! {
            () = broker.wait_shutdown() => None,
            r = link(&broker, &ctx, &plan, &mut at, &mut announced) => Some(r),
        };
        if announced {
            notify_local(&broker, &plan, "0");
        }
        let Some(result) = outcome else { return };
        match &result {
            Err(BridgeError::Remote(ClientError::Refused { code, .. })) => {
                log!(Notice, "Bridge {} refused by {}:{} (code {code}).", plan.name, addr.host, addr.port);
                if *code == REFUSED_LEVEL && at.private && !at.protocol.is_v5() {
                    at.private = false;
                } else if *code == REFUSED_VERSION_V5 && at.protocol.is_v5() {
                    at.protocol = ProtocolVersion::V311;
                }
            }
            // On one line (a TLS error's reason is on a second line of its own).
            Err(e) => log!(Notice, "Bridge {} disconnected: {}", plan.name, e.to_string().replace('\n', " ")),
            Ok(()) => {}
        }
        if plan.once {
            log!(Notice, "Bridge {} ended (start_type once: not restarted).", plan.name);
            return;
        }
        if std::mem::take(&mut at.idled) {
            // Idle, not failing: the next connection is as a first one, when the threshold is reached.
            at.delay = None;
            at.address = if plan.round_robin { at.address + 1 } else { 0 };
            continue;
        }
        // A connection that worked starts again on the first address (the primary) unless round robin;
        // one that failed tries the next address.
        if announced {
            at.delay = None;
            at.address = if plan.round_robin { at.address + 1 } else { 0 };
        } else {
            at.address += 1;
        }
        let delay = plan.restart_delay(at.delay);
        at.delay = Some(delay);
        tokio::select! {
            () = broker.wait_shutdown() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// One connection of the bridge, until either side goes away (`announced`: the link came up).
async fn link(
    broker: &Arc<Broker>,
    ctx: &Arc<ListenerCtx>,
    plan: &Plan,
    at: &mut Attempt,
    announced: &mut bool,
) -> Result<(), BridgeError> {
    if plan.cleansession {
        // A new remote session each time: what it had in flight crosses again as new messages when
        // the local session delivers it again.
        at.session = None;
        at.out_flight.clear();
    }
    let mut remote = connect_remote(plan, at).await?;
    let result = match connect_local(broker, ctx, plan).await {
        Ok(mut local) => {
            // The acknowledgements of the last connection's local messages are the local session's
            // (they come again), and its identifiers too unless the local session is clean.
            for o in at.out_flight.values_mut() {
                o.ack = None;
                if plan.local_cleansession {
                    o.local_id = None;
                }
            }
            let r = forward(broker, plan, at, announced, &mut remote, &mut local).await;
            // What the remote has taken is acknowledged to the local broker, and handled there, before
            // the connection closes (else it would cross again).
            local.close(LOCAL_FLUSH).await;
            r
        }
        Err(e) => Err(e),
    };
    // A remote that broke the protocol gets a reset (as from Mosquitto), not an orderly close.
    if let Err(BridgeError::Remote(ClientError::Protocol(_) | ClientError::Violation(_))) = &result {
        remote.reset_on_close();
    }
    if !plan.cleansession {
        at.session = Some(remote.into_session());
    }
    result
}

/// Forwards in both directions until either side goes away.
async fn forward(
    broker: &Arc<Broker>,
    plan: &Plan,
    at: &mut Attempt,
    announced: &mut bool,
    remote: &mut Driver,
    local: &mut Driver,
) -> Result<(), BridgeError> {
    let mut waiting: HashSet<(bool, u16)> = HashSet::new();
    // What was in flight on the remote goes again once the local broker has delivered again what the
    // bridge had not acknowledged (it does so right after CONNACK, so before the SUBACK): those
    // redeliveries then find their message in flight instead of crossing again.
    let mut local_sub = subscribe_local(local, plan)?;
    if let Some(mid) = local_sub {
        waiting.insert((false, mid));
    }
    // Remote side, one packet per topic in the order written, as Mosquitto's bridges send them: a
    // SUBSCRIBE for what comes in; for what only goes out, an UNSUBSCRIBE (a persistent remote session
    // may hold a subscription of an earlier configuration: bridge_attempt_unsubscribe).
    let v5 = remote.session().version().is_v5();
    for r in &plan.routes {
        if r.incoming {
            // MQTT 5 says No Local and Retain As Published itself; 3.x remotes do it for a bridge.
            let opts = SubscriptionOptions { qos: r.qos, no_local: v5, retain_as_published: v5, ..Default::default() };
            let mid = remote
                .subscribe(vec![(r.remote_filter.clone(), opts)], SubscribeProperties::default())
                .map_err(BridgeError::Remote)?;
            waiting.insert((true, mid));
        } else if plan.attempt_unsubscribe {
            remote
                .unsubscribe(vec![r.remote_filter.clone()], UnsubscribeProperties::default())
                .map_err(BridgeError::Remote)?;
        }
    }
    if local_sub.is_none() {
        remote.resume().map_err(BridgeError::Remote)?;
    }

    // Local message ids of remote messages in flight here, and the remote's acknowledgements.
    let mut in_flight: HashMap<u16, AckToken> = HashMap::new();
    // A lazy bridge lets go after `idle_timeout` without a message crossing it.
    let mut last_message = tokio::time::Instant::now();
    loop {
        at.last_mid = remote.session().last_mid();
        if !*announced && waiting.is_empty() {
            *announced = true;
            log!(Notice, "Bridge {} connected.", plan.name);
            notify_local(broker, plan, "1");
            if let (Some(topic), false) = (&plan.notification_topic, plan.notifications_local_only) {
                remote.publish(state(topic, "1")).map_err(BridgeError::Remote)?;
            }
        }
        let idle_at = plan.lazy.map(|l| last_message + l.idle);
        tokio::select! {
            () = until(idle_at) => {
                log!(Notice, "Bridge connection {} has exceeded idle timeout, disconnecting.", plan.local_clientid);
                at.idled = true;
                // Closed without DISCONNECT, as Mosquitto does: the remote publishes the bridge's will.
                return Ok(());
            }
            e = remote.next() => match e.map_err(BridgeError::Remote)? {
                Event::Message { msg, ack } => {
                    last_message = tokio::time::Instant::now();
                    let p = msg.publish;
                    let Some((topic, max)) = plan.to_local(&p.topic) else {
                        if let Some(t) = ack { remote.ack(t).map_err(BridgeError::Remote)?; }
                        continue;
                    };
                    let qos = p.qos.min(max);
                    let p = crossing(p, topic, qos, true);
                    if let Some((mid, t)) = hand_over(remote, local, p, ack, &plan.name, "from the remote")
                        .map_err(BridgeError::Remote)?
                    {
                        in_flight.insert(mid, t);
                    }
                }
                Event::Published { mid, .. } => {
                    if let Some(t) = at.out_flight.remove(&mid).and_then(|o| o.ack) {
                        local.ack(t).map_err(BridgeError::Local)?;
                    }
                }
                Event::Subscribed { mid, .. } | Event::Unsubscribed { mid } => {
                    waiting.remove(&(true, mid));
                }
                Event::UnknownAck { packet, id } => {
                    log!(Debug, "Bridge {}: {packet} from the remote for packet identifier {id}, not in flight: ignored.", plan.name);
                }
            },
            e = local.next() => match e.map_err(BridgeError::Local)? {
                Event::Message { msg, ack } => {
                    last_message = tokio::time::Instant::now();
                    let p = msg.publish;
                    let local_id = p.packet_id.map(|id| id.get()).filter(|_| !plan.local_cleansession);
                    // A redelivery of a message still in flight on the remote: it waits for that one.
                    if p.dup
                        && let Some(id) = local_id
                        && let Some(o) = at.out_flight.values_mut().find(|o| o.local_id == Some(id) && o.ack.is_none())
                    {
                        o.ack = ack;
                        continue;
                    }
                    let Some((topic, max)) = plan.to_remote(&p.topic) else {
                        if let Some(t) = ack { local.ack(t).map_err(BridgeError::Local)?; }
                        continue;
                    };
                    let session = remote.session();
                    let qos = p.qos.min(max).min(QoS::from_u8(session.max_qos()).unwrap_or(QoS::ExactlyOnce));
                    let retain = plan.outgoing_retain && session.retain_available();
                    let p = crossing(p, topic, qos, retain);
                    if let Some((mid, t)) = hand_over(local, remote, p, ack, &plan.name, "for the remote")
                        .map_err(BridgeError::Local)?
                    {
                        at.out_flight.insert(mid, Outgoing { local_id, ack: Some(t) });
                    }
                }
                Event::Published { mid, .. } => {
                    if let Some(t) = in_flight.remove(&mid) {
                        remote.ack(t).map_err(BridgeError::Remote)?;
                    }
                }
                Event::Subscribed { mid, .. } | Event::Unsubscribed { mid } => {
                    waiting.remove(&(false, mid));
                    if local_sub.take_if(|m| *m == mid).is_some() {
                        remote.resume().map_err(BridgeError::Remote)?;
                    }
                }
                Event::UnknownAck { .. } => {}
            },
        }
    }
}

/// Sleeps until `deadline`; forever without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How often a lazy bridge looks at what is queued for the remote.
const THRESHOLD_POLL: Duration = Duration::from_millis(100);

/// Returns once `threshold` messages are queued or in flight for the remote in the bridge's local
/// session (`client_id`), as Mosquitto counts them for a lazy bridge.
async fn threshold_reached(broker: &Broker, client_id: &str, threshold: usize) {
    loop {
        let session = broker.sessions.lock().get(client_id).cloned();
        if session.is_some_and(|s| s.state.lock().backlog().0 >= threshold) {
            return;
        }
        tokio::time::sleep(THRESHOLD_POLL).await;
    }
}

/// Subscribes the local session to what goes out: No Local (what the bridge brings in never goes back
/// out), retain as published, retained messages when the subscription is new. The SUBSCRIBE's id, if
/// any topic goes out.
fn subscribe_local(local: &mut Driver, plan: &Plan) -> Result<Option<u16>, BridgeError> {
    let outgoing: Vec<(String, SubscriptionOptions)> = plan
        .routes
        .iter()
        .filter(|r| r.outgoing)
        .map(|r| {
            let opts = SubscriptionOptions {
                qos: r.qos,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            };
            (r.local_filter.clone(), opts)
        })
        .collect();
    if outgoing.is_empty() {
        return Ok(None);
    }
    local.subscribe(outgoing, SubscribeProperties::default()).map(Some).map_err(BridgeError::Local)
}

/// Opens the local session once with its subscriptions and closes it again, before the remote is
/// first tried: from then on QoS 1 and 2 messages for the remote queue in it (`local_cleansession
/// false`) even if the remote is never reached (unreachable, refusing, a certificate not trusted), as
/// Mosquitto's bridges queue from their start. Messages delivered meanwhile are not acknowledged: the
/// session keeps them for the link.
async fn prepare_local(broker: &Arc<Broker>, ctx: &Arc<ListenerCtx>, plan: &Plan) -> Result<(), BridgeError> {
    let mut local = connect_local(broker, ctx, plan).await?;
    if let Some(mid) = subscribe_local(&mut local, plan)? {
        let subscribed = async {
            loop {
                if let Event::Subscribed { mid: m, .. } = local.next().await.map_err(BridgeError::Local)?
                    && m == mid
                {
                    return Ok::<(), BridgeError>(());
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, subscribed)
            .await
            .map_err(|_| BridgeError::Timeout { addr: "the local broker".into() })??;
    }
    local.disconnect(mq_proto::ReasonCode::NORMAL_DISCONNECTION, &Default::default()).await;
    // Messages queue for the remote once the broker has taken the session offline; until then they go
    // to this connection, which forwards nothing (QoS 1/2 come again on the next connection, QoS 0 would
    // be lost). Ready when the broker has seen the disconnect.
    let offline = async {
        while broker.sessions.lock().get(plan.local_clientid.as_str()).is_some_and(|s| s.is_online()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let _ = tokio::time::timeout(CONNECT_TIMEOUT, offline).await;
    Ok(())
}

/// Hands a message across the bridge: published to `to`. At QoS 1 and 2 its acknowledgement to `from`
/// waits until `to` acknowledges it: returned with the message id on `to`; otherwise (QoS 0, or `to`
/// refused it: logged) it goes at once. The error is `from`'s.
fn hand_over(
    from: &mut Driver,
    to: &mut Driver,
    p: Publish,
    ack: Option<AckToken>,
    name: &str,
    direction: &str,
) -> Result<Option<(u16, AckToken)>, ClientError> {
    let qos = p.qos;
    match to.publish(p) {
        Ok(mid) if qos != QoS::AtMostOnce => return Ok(ack.map(|t| (mid, t))),
        Ok(_) => {}
        Err(e) => log!(Notice, "Bridge {name} dropped a message {direction}: {e}"),
    }
    ack.map_or(Ok(()), |t| from.ack(t)).map(|()| None)
}

/// A message crossing the bridge: its new topic and QoS, the retain flag kept when `retain`, MQTT 5
/// properties kept but for those of the connection it came on (alias, subscription identifiers).
fn crossing(mut p: Publish, topic: String, qos: QoS, retain: bool) -> Publish {
    p.properties.topic_alias = None;
    p.properties.subscription_identifiers.clear();
    Publish {
        dup: false,
        qos,
        retain: retain && p.retain,
        topic: topic.into(),
        packet_id: None,
        properties: p.properties,
        payload: p.payload,
    }
}

/// A notification: retained, QoS 1.
fn state(topic: &str, value: &'static str) -> Publish {
    Publish { retain: true, ..Publish::new(topic, QoS::AtLeastOnce, Bytes::from_static(value.as_bytes())) }
}

/// Publishes the bridge's state on the local broker (when notifications are on).
pub(super) fn notify_local(broker: &Broker, plan: &Plan, value: &'static str) {
    if let Some(topic) = &plan.notification_topic {
        broker.publish_internal(Message::from_broker(
            topic.as_str(),
            Bytes::from_static(value.as_bytes()),
            QoS::AtLeastOnce,
            true,
        ));
    }
}

/// Connects to the remote at the attempt's address, with the session kept from the last connection if
/// any (it stays for the next attempt if this one fails).
async fn connect_remote(plan: &Plan, at: &mut Attempt) -> Result<Driver, BridgeError> {
    let a = &plan.addresses[at.address % plan.addresses.len()];
    let addr = format!("{}:{}", a.host, a.port);
    let v5 = at.protocol.is_v5();
    let will = plan.notification_topic.as_ref().filter(|_| !plan.notifications_local_only).map(|t| Will {
        topic: t.as_str().into(),
        payload: Bytes::from_static(b"0"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    });
    let connect = Connect {
        bridge: at.private && !v5,
        clean_start: plan.cleansession,
        keep_alive: plan.keepalive,
        will,
        username: plan.remote_username.clone(),
        password: plan.remote_password.clone().map(Bytes::from),
        // As Mosquitto 2.0's bridges connect: Receive Maximum 20, no Session Expiry Interval (so an
        // MQTT 5 remote ends the session with the connection, `cleansession false` or not).
        properties: ConnectProperties { receive_maximum: v5.then_some(REMOTE_WINDOW), ..Default::default() },
        ..Connect::new(at.protocol, &plan.remote_clientid)
    };
    let session = match at.session.take() {
        Some(mut kept) => {
            kept.set_connect(connect);
            kept
        }
        None => {
            let max_packet_size = (plan.max_packet_size > 0).then_some(plan.max_packet_size);
            let options = Options {
                max_inflight: REMOTE_WINDOW,
                max_packet_size,
                tolerate_unknown_acks: true,
                hold_resend: true,
                ..options()
            };
            let mut session = ClientSession::new(connect, options);
            session.continue_mids_after(at.last_mid);
            session
        }
    };
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let opened = async {
        let tcp = tcp_connect(&a.host, a.port, plan.bind_address.as_deref())
            .await
            .map_err(|source| BridgeError::Connect { addr: addr.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        match &plan.tls {
            Some(tls) => mq_client::tls_over(tcp, tls, &a.host).await.map_err(BridgeError::Remote),
            None => Ok(Stream::Tcp(tcp)),
        }
    };
    let stream = match tokio::time::timeout_at(deadline, opened).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            at.session = Some(session);
            return Err(e);
        }
        Err(_) => {
            at.session = Some(session);
            return Err(BridgeError::Timeout { addr });
        }
    };
    Driver::over_kept(stream, session, deadline).await.map_err(|(e, session)| {
        at.session = Some(session);
        match e {
            ClientError::Timeout => BridgeError::Timeout { addr },
            e => BridgeError::Remote(e),
        }
    })
}

/// TCP to `host`:`port`, from `bind` (`bridge_bind_address`) when given: each address of the host in
/// turn, those of the bind address's family only.
async fn tcp_connect(host: &str, port: u16, bind: Option<&str>) -> std::io::Result<tokio::net::TcpStream> {
    let Some(bind) = bind else { return tokio::net::TcpStream::connect((host, port)).await };
    let local: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bind, 0)).await?.collect();
    let mut last = std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        format!("no address of {host} of the family of bridge_bind_address {bind}"),
    );
    for addr in tokio::net::lookup_host((host, port)).await? {
        let Some(from) = local.iter().find(|l| l.is_ipv4() == addr.is_ipv4()) else { continue };
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }?;
        if let Err(e) = socket.bind(*from) {
            last = e;
            continue;
        }
        match socket.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Opens the bridge's local session: a socket pair, one end served by the broker as a connection, the
/// other driven by the bridge (MQTT 5, so that its subscriptions can be No Local).
async fn connect_local(broker: &Arc<Broker>, ctx: &Arc<ListenerCtx>, plan: &Plan) -> Result<Driver, BridgeError> {
    let (ours, theirs) = tokio::net::UnixStream::pair().map_err(BridgeError::Socket)?;
    ctx.connections.fetch_add(1, Ordering::Relaxed);
    broker.active_connections.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(connection::serve(Box::new(Accepted {
        broker: broker.clone(),
        listener: ctx.clone(),
        stream: crate::stream::Stream::unix(theirs),
        peer: format!("bridge {}", plan.name),
    })));
    let connect = Connect {
        clean_start: plan.local_cleansession,
        keep_alive: 0,
        username: plan.local_username.clone(),
        password: plan.local_username.as_ref().and(plan.local_password.clone()).map(Bytes::from),
        properties: ConnectProperties {
            session_expiry_interval: (!plan.local_cleansession).then_some(u32::MAX),
            receive_maximum: Some(WINDOW),
            ..Default::default()
        },
        ..Connect::new(ProtocolVersion::V5, &plan.local_clientid)
    };
    let session = ClientSession::new(connect, options());
    tokio::time::timeout(CONNECT_TIMEOUT, Driver::over(Stream::Unix(ours), session))
        .await
        .map_err(|_| BridgeError::Timeout { addr: "the local broker".into() })?
        .map_err(BridgeError::Local)
}

/// Both sides: acknowledgements held until the other side has taken the message, QoS 2 handed over on
/// PUBLISH (its PUBREC follows the other side's acknowledgement).
fn options() -> Options {
    Options {
        max_inflight: WINDOW,
        qos2_delivery: Qos2Delivery::OnPublish,
        manual_acks: true,
        answer_pingreq: true,
        ..Options::default()
    }
}
