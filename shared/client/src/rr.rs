//! `mq-rr` (and `mq rr`): MQTT request/response, as `mosquitto_rr`. Subscribe to the response topic
//! (`-e`); once the broker has acknowledged the subscription, publish the request to `-t` with the MQTT 5
//! Response Topic property naming `-e` (plus any `-D publish` properties, such as correlation data);
//! print the first message that arrives on the response topic, as `mosquitto_sub` would, and exit.
//!
//! With `-V 311` the same flow works without the property: the responder must know the response topic
//! by other means.

use mq_proto::client::Qos2Delivery;
use mq_proto::{Publish, ReasonCode, RetainHandling, SubscriptionOptions};

use crate::args::RrArgs;
use crate::config;
use crate::driver::{self, Driver, Event, sleep_until_opt};
use crate::error::{ClientError, ToolKind, UsageError};
use crate::output;
use crate::publish::{Source, adapt_to_broker, check_size, message_kinds, open_source, send_source, warn_failed};
use crate::subscribe::{Interrupts, interrupt_reason, printer};

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
    let options = driver::options(&session, Qos2Delivery::OnRelease, false);
    let mut driver = tokio::select! {
        d = Driver::connect(&session, options) => d?,
        () = sleep_until_opt(deadline) => return Err(ClientError::Timeout),
        () = interrupts.recv() => return Ok(()),
    };
    let request = adapt_to_broker(driver.session(), request)?;
    let options = SubscriptionOptions {
        qos: args.qos,
        retain_handling: if v5 && args.no_retained {
            RetainHandling::DoNotSend
        } else {
            RetainHandling::SendAtSubscribe
        },
        ..SubscriptionOptions::default()
    };
    let sub_mid = driver.subscribe(vec![(response_topic.clone(), options)], session.props.subscribe.clone())?;
    let mut request_mid = None;
    let disconnect = session.props.disconnect.clone();
    let result = loop {
        let event = tokio::select! {
            biased;
            () = interrupts.recv() => {
                driver.disconnect(interrupt_reason(session.version()), &disconnect).await;
                return Ok(());
            }
            () = sleep_until_opt(deadline) => break Err(ClientError::Timeout),
            r = driver.next() => match r {
                Ok(event) => event,
                Err(e) => break Err(e),
            },
        };
        let msg = match event {
            Event::Subscribed { mid, granted } if mid == sub_mid && request_mid.is_none() => {
                if granted.iter().all(|c| c.is_error()) {
                    break Err(ClientError::AllSubscriptionsDenied);
                }
                match send_request(&mut driver, request.clone(), &mut source).await {
                    Ok(mid) => request_mid = Some(mid),
                    Err(e) => break Err(e),
                }
                continue;
            }
            Event::Published { mid, reason } if Some(mid) == request_mid => {
                warn_failed(mid, reason, session.quiet);
                continue;
            }
            Event::Message { msg, .. } => msg,
            _ => continue,
        };
        // Only the response topic counts, and with -R only a fresh (not retained) response.
        if msg.publish.topic.as_ref() != response_topic || (args.no_retained && msg.publish.retain) {
            continue;
        }
        break output::print(&printer, &msg, session.quiet);
    };
    driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &disconnect).await;
    result
}

/// Publishes the request (a file streamed, without a progress bar); returns its message id.
async fn send_request(driver: &mut Driver, p: Publish, source: &mut Source) -> Result<u16, ClientError> {
    check_size(&p, source, driver.session().version(), driver.session().max_packet_size())?;
    send_source(driver, p, source, true).await.map(|(mid, _)| mid)
}
