//! Runtime settings derived from the configuration: the broker-wide limits every connection reads, and
//! each listener's own options. Reloadable values are swapped in whole on SIGHUP; connections pick the
//! new ones up at their next CONNECT or loop turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use mq_config::Config;
use mq_proto::QoS;
use parking_lot::RwLock;

use crate::auth::Security;
use crate::session::QueueLimits;
use crate::stream::{Stacked, Stream};
use crate::tls::{ListenerTls, TlsError};
use crate::ws::{WsLayer, WsOptions};

/// Broker-wide limits and switches.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Outgoing QoS 1/2 messages in flight per client (`max_inflight_messages`; 0 = no limit).
    pub max_inflight: u16,
    /// Outgoing in-flight payload bytes per client (`max_inflight_bytes`; 0 = no limit).
    pub max_inflight_bytes: usize,
    /// Queue limits for sessions.
    pub queue: QueueLimits,
    /// Largest payload accepted (`message_size_limit`; 0 = the MQTT maximum).
    pub message_size_limit: usize,
    /// Largest packet accepted, advertised to MQTT 5 clients (`max_packet_size`).
    pub max_packet_size: Option<u32>,
    /// Largest keep alive allowed (`max_keepalive`).
    pub max_keepalive: u16,
    /// Whether retained messages are allowed (`retain_available`).
    pub retain_available: bool,
    /// Deliver at the subscription's QoS rather than the minimum (`upgrade_outgoing_qos`).
    pub upgrade_outgoing_qos: bool,
    /// Expiry of disconnected MQTT 3.x persistent sessions (`persistent_client_expiration`).
    pub persistent_client_expiration: Option<Duration>,
    /// `$SYS` period in seconds; 0 disables `$SYS`.
    pub sys_interval: u16,
    /// Log connects and disconnects (`connection_messages`).
    pub connection_messages: bool,
    /// TCP_NODELAY on client sockets (`set_tcp_nodelay`).
    pub set_tcp_nodelay: bool,
    /// Only client ids with this prefix may connect (`clientid_prefixes`).
    pub clientid_prefixes: Option<String>,
    /// Re-check the publisher's write access before sending a retained message (`check_retain_source`).
    pub check_retain_source: bool,
}

impl Settings {
    /// The settings of `cfg`.
    pub fn from_config(cfg: &Config) -> Settings {
        Settings {
            max_inflight: cfg.max_inflight_messages.value,
            max_inflight_bytes: usize::try_from(cfg.max_inflight_bytes.value).unwrap_or(usize::MAX),
            queue: QueueLimits {
                max_messages: cfg.max_queued_messages.value as usize,
                max_bytes: usize::try_from(cfg.max_queued_bytes.value).unwrap_or(usize::MAX),
                queue_qos0: cfg.queue_qos0_messages.value,
            },
            message_size_limit: cfg.message_size_limit.value as usize,
            max_packet_size: cfg.max_packet_size.value,
            max_keepalive: cfg.max_keepalive.value,
            retain_available: cfg.retain_available.value,
            upgrade_outgoing_qos: cfg.upgrade_outgoing_qos.value,
            persistent_client_expiration: cfg.persistent_client_expiration.value,
            sys_interval: cfg.sys_interval.value,
            connection_messages: cfg.connection_messages.value,
            set_tcp_nodelay: cfg.set_tcp_nodelay.value,
            clientid_prefixes: cfg.clientid_prefixes.value.clone(),
            check_retain_source: cfg.check_retain_source.value,
        }
    }

    /// The in-flight window for a client announcing `receive_maximum` (MQTT 5; 65,535 otherwise).
    pub fn window(&self, receive_maximum: u16) -> usize {
        let ours = if self.max_inflight == 0 { usize::from(u16::MAX) } else { usize::from(self.max_inflight) };
        ours.min(usize::from(receive_maximum))
    }

    /// The largest incoming packet accepted.
    pub fn incoming_packet_limit(&self) -> usize {
        self.max_packet_size.map_or(mq_proto::MAX_PACKET_SIZE, |m| m as usize)
    }
}

/// A listener's options, shared by its connections.
#[derive(Debug)]
pub struct ListenerCtx {
    /// Its position in the configuration.
    pub index: usize,
    /// Its port as logged ("on port 1883"); 0 for Unix sockets.
    pub port: u16,
    /// Highest QoS accepted (`max_qos`).
    pub max_qos: QoS,
    /// Topic aliases a client may use (`max_topic_alias`).
    pub max_topic_alias: u16,
    /// Prefix of every topic of this listener's clients (`mount_point`).
    pub mount_point: Option<String>,
    /// Replace client ids by user names (`use_username_as_clientid`).
    pub use_username_as_clientid: bool,
    /// Most simultaneous connections (`max_connections`).
    pub max_connections: Option<u32>,
    /// Current connections.
    pub connections: AtomicU32,
    /// Connections accepted and bytes carried since start (the metrics endpoint's per-listener figures).
    pub traffic: ListenerTraffic,
    /// Authentication and authorisation in force (reloaded on SIGHUP).
    pub security: Arc<RwLock<Arc<Security>>>,
    /// TLS (`certfile`/`keyfile` set): its configuration, reloaded on SIGHUP.
    pub tls: Option<ListenerTls>,
    /// WebSockets (`protocol websockets`).
    pub websockets: Option<Arc<WsOptions>>,
    /// Queue QoS 0 messages for disconnected persistent sessions of this listener even without
    /// `queue_qos0_messages` (the local sessions of lazy bridges, as Mosquitto queues them).
    pub queue_qos0: bool,
}

/// A listener's counters since start.
#[derive(Debug, Default)]
pub struct ListenerTraffic {
    /// Connections accepted (refused ones included).
    pub accepted: AtomicU64,
    /// Bytes read from its clients.
    pub bytes_received: AtomicU64,
    /// Bytes written to its clients.
    pub bytes_sent: AtomicU64,
}

impl ListenerTraffic {
    /// Adds a connection's socket bytes not yet counted (before they are flushed into the broker's).
    pub fn add(&self, local: &crate::stats::Local) {
        if local.bytes_received != 0 {
            self.bytes_received.fetch_add(local.bytes_received, Ordering::Relaxed);
        }
        if local.bytes_sent != 0 {
            self.bytes_sent.fetch_add(local.bytes_sent, Ordering::Relaxed);
        }
    }
}

impl ListenerCtx {
    /// The listener's protocol as logs and `$SYS` name it: `mqtt`, `mqtts`, `ws` or `wss`.
    pub fn protocol(&self) -> &'static str {
        match (self.tls.is_some(), self.websockets.is_some()) {
            (false, false) => "mqtt",
            (true, false) => "mqtts",
            (false, true) => "ws",
            (true, true) => "wss",
        }
    }

    /// `stream` with this listener's layers: TLS, WebSocket framing, or WebSocket over TLS.
    pub fn wrap(&self, stream: Stream) -> Result<Stream, TlsError> {
        Ok(match (&self.tls, &self.websockets) {
            (None, None) => stream,
            (Some(t), None) => stream.with_layer(Box::new(t.layer()?)),
            (None, Some(w)) => stream.with_layer(Box::new(WsLayer::new(w.clone()))),
            (Some(t), Some(w)) => {
                stream.with_layer(Box::new(Stacked { lower: t.layer()?, upper: WsLayer::new(w.clone()) }))
            }
        })
    }
}
