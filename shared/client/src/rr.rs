//! `mq-rr` (and `mq rr`): MQTT request/response, as `mosquitto_rr`. Subscribe to the response topic
//! (`-e`); once the broker has acknowledged the subscription, publish the request to `-t` with the MQTT 5
//! Response Topic property naming `-e` (plus any `-D publish` properties, such as correlation data);
//! print the first message that arrives on the response topic, as `mosquitto_sub` would, and exit.
//!
//! With `-V 311` the same flow works without the property: the responder must know the response topic
//! by other means.

use std::collections::HashMap;

use mq_proto::{Ack, Packet, PacketId, Publish, QoS, ReasonCode, RetainHandling, Subscribe, SubscriptionOptions};

use crate::args::RrArgs;
use crate::config;
use crate::conn::Conn;
use crate::error::{ClientError, ToolKind, UsageError};
use crate::output::{self, Received};
use crate::publish::{Mids, Source, check_size, message_kinds, open_source, sleep_until_opt, warn_failed};
use crate::subscribe::{Interrupts, interrupt_reason, packet_id, printer};

/// Runs `mq-rr`.
pub async fn run(args: RrArgs) -> Result<(), ClientError> {
    let printer = printer(&args.output)?;
    if message_kinds(&args.message, false) > 1 {
        return Err(UsageError::new("Only one type of message can be sent at once.\n").into());
    }
    let session = config::session(&args.connect, ToolKind::Rr)?;
    let topic = args.topic.clone().or_else(|| session.url_topic.clone());
    let (Some(topic), Some(response_topic), 1) =
        (topic, args.response_topic.clone(), message_kinds(&args.message, false))
    else {
        return Err(UsageError::new("All of topic, message, and response topic must be supplied.").into());
    };
    let mut source = open_source(&args.message)?
        .ok_or_else(|| UsageError::new("All of topic, message, and response topic must be supplied."))?;
    let v5 = session.version().is_v5();
    let mut request = Publish::new(topic.as_str(), args.qos, bytes::Bytes::new());
    request.properties = session.props.publish.clone();
    if v5 {
        request.properties.response_topic = Some(response_topic.clone());
    }
    let deadline = args.timeout.map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s.into()));
    let mut interrupts = Interrupts::new();
    let mut conn = tokio::select! {
        c = Conn::connect(&session) => c?,
        () = sleep_until_opt(deadline) => return Err(ClientError::Timeout),
        () = interrupts.recv() => return Ok(()),
    };
    let request = crate::publish::adapt_to_broker(&conn, request)?;
    let mut mids = Mids::default();
    let sub_mid = mids.next();
    let options = SubscriptionOptions {
        qos: args.qos,
        retain_handling: if v5 && args.no_retained {
            RetainHandling::DoNotSend
        } else {
            RetainHandling::SendAtSubscribe
        },
        ..SubscriptionOptions::default()
    };
    let mut s = Subscribe::new(packet_id(sub_mid), vec![(response_topic.clone(), options)]);
    s.properties = session.props.subscribe.clone();
    conn.send(&Packet::Subscribe(s)).await?;
    let mut request_mid = None;
    let mut pending_qos2: HashMap<u16, Received> = HashMap::new();
    let disconnect = session.props.disconnect.clone();
    let result = loop {
        let keepalive = conn.keepalive_deadline();
        let packet = tokio::select! {
            biased;
            () = interrupts.recv() => {
                conn.disconnect(interrupt_reason(conn.version()), &disconnect).await;
                return Ok(());
            }
            () = sleep_until_opt(deadline) => break Err(ClientError::Timeout),
            r = conn.recv() => match r {
                Ok(p) => p,
                Err(e) => break Err(e),
            },
            () = sleep_until_opt(keepalive) => match conn.keepalive().await {
                Ok(()) => continue,
                Err(e) => break Err(e),
            },
        };
        let order = conn.take_order();
        let response = match packet {
            Packet::SubAck(a) if a.packet_id.get() == sub_mid && request_mid.is_none() => {
                if a.reason_codes.iter().all(|c| c.is_error()) {
                    break Err(ClientError::AllSubscriptionsDenied);
                }
                let mid = mids.next();
                request_mid = Some(mid);
                let mut p = request.clone();
                if p.qos != QoS::AtMostOnce {
                    p.packet_id = PacketId::new(mid);
                }
                if let Err(e) = send_request(&mut conn, &mut p, mid, &mut source).await {
                    break Err(e);
                }
                None
            }
            Packet::Publish(p) => {
                let msg = Received::new(p, &order);
                match (msg.publish.qos, msg.publish.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => {
                        conn.send(&Packet::PubAck(Ack::new(id))).await?;
                        Some(msg)
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        pending_qos2.entry(id.get()).or_insert(msg);
                        conn.send(&Packet::PubRec(Ack::new(id))).await?;
                        None
                    }
                    _ => Some(msg),
                }
            }
            Packet::PubRel(a) => {
                conn.send(&Packet::PubComp(Ack::new(a.packet_id))).await?;
                pending_qos2.remove(&a.packet_id.get())
            }
            Packet::PubRec(a) if Some(a.packet_id.get()) == request_mid => {
                if a.reason.is_error() {
                    warn_failed(a.packet_id.get(), a.reason, session.quiet);
                } else {
                    conn.send(&Packet::PubRel(Ack::new(a.packet_id))).await?;
                }
                None
            }
            Packet::PubAck(a) | Packet::PubComp(a) if Some(a.packet_id.get()) == request_mid => {
                warn_failed(a.packet_id.get(), a.reason, session.quiet);
                None
            }
            _ => None,
        };
        let Some(msg) = response else { continue };
        // Only the response topic counts, and with -R only a fresh (not retained) response.
        if msg.publish.topic.as_ref() != response_topic || (args.no_retained && msg.publish.retain) {
            continue;
        }
        match output::print(&printer, &msg, session.quiet) {
            Err(ClientError::Output(e)) if mq_cli::is_broken_pipe(&e) => break Err(ClientError::Output(e)),
            Err(e) => break Err(e),
            Ok(()) => break Ok(()),
        }
    };
    conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &disconnect).await;
    result
}

async fn send_request(conn: &mut Conn, p: &mut Publish, mid: u16, source: &mut Source) -> Result<(), ClientError> {
    check_size(p, source, conn.version(), conn.max_packet_size())?;
    crate::publish::send_source(conn, p, mid, source, true).await.map(|_| ())
}
