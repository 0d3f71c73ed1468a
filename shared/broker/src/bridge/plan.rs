//! A bridge's configuration resolved for running: client ids with Mosquitto's defaults, and its `topic`
//! lines as routes with their prefixes (the local topic is local-prefix + pattern, the remote one
//! remote-prefix + pattern; a message crossing has the one prefix swapped for the other).

use std::time::Duration;

use mq_client::tls::TlsSetup;
use mq_config::{Bridge, BridgeAddress, BridgeDirection, BridgeProtocol, RestartTimeout, TlsVersion};
use mq_proto::topic::matches;
use mq_proto::{ProtocolVersion, QoS};

/// One `topic` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Remote to local.
    pub incoming: bool,
    /// Local to remote.
    pub outgoing: bool,
    /// The topic's QoS: the most a message crossing on it keeps.
    pub qos: QoS,
    /// The filter on the local side (local prefix + pattern).
    pub local_filter: String,
    /// The filter on the remote side (remote prefix + pattern).
    pub remote_filter: String,
    local_prefix: String,
    remote_prefix: String,
}

impl Route {
    fn new(t: &mq_config::BridgeTopic) -> Route {
        let local_prefix = t.local_prefix.clone().unwrap_or_default();
        let remote_prefix = t.remote_prefix.clone().unwrap_or_default();
        Route {
            incoming: matches!(t.direction, BridgeDirection::In | BridgeDirection::Both),
            outgoing: matches!(t.direction, BridgeDirection::Out | BridgeDirection::Both),
            qos: QoS::from_u8(t.qos).unwrap_or(QoS::AtMostOnce),
            local_filter: format!("{local_prefix}{}", t.pattern),
            remote_filter: format!("{remote_prefix}{}", t.pattern),
            local_prefix,
            remote_prefix,
        }
    }

    /// The remote topic of a local `topic` this route forwards, if it does.
    fn to_remote(&self, topic: &str) -> Option<String> {
        let rest = topic.strip_prefix(self.local_prefix.as_str())?;
        (self.outgoing && matches(&self.local_filter, topic)).then(|| format!("{}{rest}", self.remote_prefix))
    }

    /// The local topic of a remote `topic` this route brings in, if it does.
    fn to_local(&self, topic: &str) -> Option<String> {
        let rest = topic.strip_prefix(self.remote_prefix.as_str())?;
        (self.incoming && matches(&self.remote_filter, topic)).then(|| format!("{}{rest}", self.local_prefix))
    }
}

/// A lazy bridge (`start_type lazy`): it connects once `threshold` messages wait for the remote, and
/// disconnects after `idle` without a message crossing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lazy {
    /// `threshold`: messages queued or in flight for the remote (default 10).
    pub threshold: usize,
    /// `idle_timeout` (default 60 s).
    pub idle: Duration,
}

/// Everything a bridge's task needs, from its `connection` section.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub addresses: Vec<BridgeAddress>,
    pub round_robin: bool,
    pub protocol: ProtocolVersion,
    pub remote_clientid: String,
    pub local_clientid: String,
    pub remote_username: Option<String>,
    pub remote_password: Option<String>,
    /// `local_username`/`local_password`: the bridge's identity on this broker (its password file
    /// and ACL then apply to the bridge's local session).
    pub local_username: Option<String>,
    pub local_password: Option<String>,
    pub cleansession: bool,
    pub local_cleansession: bool,
    pub keepalive: u16,
    pub restart: RestartTimeout,
    /// `start_type once`: not restarted once its connection ends.
    pub once: bool,
    /// `start_type lazy`: when it connects and when it lets go.
    pub lazy: Option<Lazy>,
    pub try_private: bool,
    /// The notification topic, when notifications are on.
    pub notification_topic: Option<String>,
    pub notifications_local_only: bool,
    pub attempt_unsubscribe: bool,
    pub outgoing_retain: bool,
    pub routes: Vec<Route>,
    /// `bridge_max_packet_size`: the largest packet sent to the remote (0: the remote's limit).
    pub max_packet_size: u32,
    /// `bridge_bind_address`: the local address the connection to the remote is made from.
    pub bind_address: Option<String>,
    /// TLS to the remote: on when `bridge_cafile` or `bridge_capath` is set (as Mosquitto's bridges).
    pub tls: Option<TlsSetup>,
}

impl Plan {
    /// Resolves `b`; `hostname` makes the default remote client id (`<hostname>.<name>`, as Mosquitto
    /// builds it).
    pub fn new(b: &Bridge, hostname: &str) -> Plan {
        let name = b.name.value.clone();
        let remote_clientid = b.remote_clientid.value.clone().unwrap_or_else(|| format!("{hostname}.{name}"));
        let local_clientid = b.local_clientid.value.clone().unwrap_or_else(|| format!("local.{remote_clientid}"));
        let notification_topic = b.notifications.value.then(|| {
            b.notification_topic
                .value
                .clone()
                .unwrap_or_else(|| format!("$SYS/broker/connection/{remote_clientid}/state"))
        });
        Plan {
            addresses: b.addresses.value.clone(),
            round_robin: b.round_robin.value,
            protocol: match b.protocol_version.value {
                BridgeProtocol::Mqtt31 => ProtocolVersion::V31,
                BridgeProtocol::Mqtt311 => ProtocolVersion::V311,
                BridgeProtocol::Mqtt5 => ProtocolVersion::V5,
            },
            remote_username: b.remote_username.value.clone(),
            remote_password: b.remote_password.value.clone(),
            local_username: b.local_username.value.clone(),
            local_password: b.local_password.value.clone(),
            cleansession: b.cleansession.value,
            local_cleansession: b.local_cleansession.value.unwrap_or(b.cleansession.value),
            keepalive: b.keepalive_interval.value,
            restart: b.restart_timeout.value,
            once: b.start_type.value == mq_config::StartType::Once,
            lazy: (b.start_type.value == mq_config::StartType::Lazy).then(|| Lazy {
                threshold: usize::try_from(b.threshold.value.max(1)).unwrap_or(usize::MAX),
                idle: Duration::from_secs(b.idle_timeout.value.max(1).into()),
            }),
            try_private: b.try_private.value,
            notification_topic,
            notifications_local_only: b.notifications_local_only.value,
            attempt_unsubscribe: b.attempt_unsubscribe.value,
            outgoing_retain: b.outgoing_retain.value,
            routes: b.topics.iter().map(|t| Route::new(&t.value)).collect(),
            tls: tls_setup(&b.tls),
            max_packet_size: b.max_packet_size.value,
            bind_address: b.bind_address.value.clone(),
            name,
            remote_clientid,
            local_clientid,
        }
    }

    /// Where a local message goes on the remote, and the most QoS it keeps: the first route that
    /// forwards it.
    pub fn to_remote(&self, topic: &str) -> Option<(String, QoS)> {
        self.routes.iter().find_map(|r| r.to_remote(topic).map(|t| (t, r.qos)))
    }

    /// Where a remote message goes locally, and the most QoS it keeps.
    pub fn to_local(&self, topic: &str) -> Option<(String, QoS)> {
        self.routes.iter().find_map(|r| r.to_local(topic).map(|t| (t, r.qos)))
    }

    /// The wait before connecting again: constant, or Mosquitto's "decorrelated jitter" between base
    /// and cap (`previous` is the last wait; none after a connection that worked).
    pub fn restart_delay(&self, previous: Option<Duration>) -> Duration {
        match self.restart {
            RestartTimeout::Constant(s) => Duration::from_secs(s.into()),
            RestartTimeout::Backoff { base, cap } => {
                let base = u64::from(base) * 1000;
                let cap = u64::from(cap) * 1000;
                let prev = previous.map_or(base, |p| u64::try_from(p.as_millis()).unwrap_or(cap));
                let high = prev.saturating_mul(3).max(base + 1);
                let pick = base + rand::random::<u64>() % (high - base);
                Duration::from_millis(pick.min(cap))
            }
        }
    }
}

/// The client library's TLS setup for a bridge's TLS options; none without a CA (plain TCP).
fn tls_setup(t: &mq_config::BridgeTls) -> Option<TlsSetup> {
    if t.cafile.value.is_none() && t.capath.value.is_none() {
        return None;
    }
    Some(TlsSetup {
        cafile: t.cafile.value.clone(),
        capath: t.capath.value.clone(),
        os_certs: false,
        client: t.certfile.value.clone().zip(t.keyfile.value.clone()),
        insecure: t.insecure.value,
        tls13_only: t.tls_version.value == Some(TlsVersion::Tls1_3),
        alpn: t.alpn.value.clone(),
        ciphers: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_config::{BridgeTopic, Setting};

    fn topic(
        pattern: &str,
        direction: BridgeDirection,
        qos: u8,
        l: Option<&str>,
        r: Option<&str>,
    ) -> Setting<BridgeTopic> {
        Setting::default_value(BridgeTopic {
            pattern: pattern.into(),
            direction,
            qos,
            local_prefix: l.map(Into::into),
            remote_prefix: r.map(Into::into),
        })
    }

    fn bridge(topics: Vec<Setting<BridgeTopic>>) -> Bridge {
        let mut b = Bridge::new(Setting::default_value("edge".to_owned()));
        b.topics = topics;
        b
    }

    #[test]
    fn client_ids_and_notification_topic_default_as_mosquitto_makes_them() {
        let p = Plan::new(&bridge(Vec::new()), "host1");
        assert_eq!(p.remote_clientid, "host1.edge");
        assert_eq!(p.local_clientid, "local.host1.edge");
        assert_eq!(p.notification_topic.as_deref(), Some("$SYS/broker/connection/host1.edge/state"));
        assert_eq!(p.protocol, ProtocolVersion::V311);
        assert!(!p.local_cleansession && p.try_private && p.outgoing_retain);
    }

    #[test]
    fn prefixes_are_swapped_in_each_direction() {
        use BridgeDirection::{Both, In, Out};
        let p = Plan::new(
            &bridge(vec![
                topic("sensors/#", Out, 1, Some("site/"), Some("factory/site/")),
                topic("cmd/#", In, 2, None, Some("factory/site/")),
                topic("", Both, 1, Some("local/state"), Some("remote/state")),
                topic("plain/+", Both, 0, None, None),
            ]),
            "h",
        );
        let q1 = QoS::AtLeastOnce;
        assert_eq!(p.to_remote("site/sensors/t1"), Some(("factory/site/sensors/t1".into(), q1)));
        assert_eq!(p.to_remote("sensors/t1"), None);
        assert_eq!(p.to_local("factory/site/sensors/t1"), None, "an out route brings nothing in");
        assert_eq!(p.to_local("factory/site/cmd/reboot"), Some(("cmd/reboot".into(), QoS::ExactlyOnce)));
        assert_eq!(p.to_remote("cmd/reboot"), None, "an in route sends nothing out");
        assert_eq!(p.to_remote("local/state"), Some(("remote/state".into(), q1)));
        assert_eq!(p.to_local("remote/state"), Some(("local/state".into(), q1)));
        assert_eq!(p.to_remote("plain/a"), Some(("plain/a".into(), QoS::AtMostOnce)));
        assert_eq!(p.to_local("plain/a/b"), None);
    }

    #[test]
    fn restart_delay_is_constant_or_between_base_and_cap() {
        let mut b = bridge(Vec::new());
        b.restart_timeout = Setting::default_value(RestartTimeout::Constant(3));
        assert_eq!(Plan::new(&b, "h").restart_delay(None), Duration::from_secs(3));
        b.restart_timeout = Setting::default_value(RestartTimeout::Backoff { base: 2, cap: 10 });
        let p = Plan::new(&b, "h");
        let mut prev = None;
        for _ in 0..50 {
            let d = p.restart_delay(prev);
            assert!(d >= Duration::from_secs(2) && d <= Duration::from_secs(10), "{d:?}");
            prev = Some(d);
        }
    }
}
