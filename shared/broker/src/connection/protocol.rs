//! The protocol rules of one connection, without a socket: what a CONNECT is answered
//! ([`decide_connect`]), and the per-connection state later packets are checked against ([`Protocol`]:
//! topic aliases, Maximum QoS, retain, Receive Maximum, the in-flight window, Maximum Packet Size,
//! session expiry). Packets and settings in, decisions out; the connection does the I/O and the
//! session the state that outlives a connection (packet ids, QoS 2 ids, keep alive in its kick handle).

use std::sync::Arc;
use std::time::Duration;

use mq_proto::topic::{check_topic_filter, exceeds_levels, split_shared};
use mq_proto::{
    ConnAckProperties, Connect, Disconnect, ProtocolVersion, Publish, QoS, ReasonCode, SubscriptionOptions, Will,
};

use super::Violation;
use crate::session::Expiry;
use crate::settings::Settings;

/// Topic names and filters may have at most this many levels (200 separators, Mosquitto's limit). A
/// deeper one is a malformed packet, as in Mosquitto: nothing the broker keeps grows deeper than this.
pub const MAX_TOPIC_LEVELS: usize = 201;

/// Whether a topic or filter from a client is deeper than [`MAX_TOPIC_LEVELS`].
pub fn too_deep(topic: &str) -> bool {
    exceeds_levels(topic, MAX_TOPIC_LEVELS)
}

/// The listener options and security switches a CONNECT is decided with.
#[derive(Debug, Clone)]
pub struct ConnectRules<'a> {
    /// Highest QoS accepted (`max_qos`).
    pub max_qos: QoS,
    /// Topic aliases a client may use (`max_topic_alias`).
    pub max_topic_alias: u16,
    /// Prefix of every topic (`mount_point`).
    pub mount_point: Option<&'a str>,
    /// Replace client ids by user names (`use_username_as_clientid`).
    pub use_username_as_clientid: bool,
    /// An empty client id gets a generated one (`allow_zero_length_clientid`).
    pub allow_zero_length_clientid: bool,
    /// Prefix of generated client ids (`auto_id_prefix`).
    pub auto_id_prefix: &'a str,
}

/// A CONNECT accepted (before authentication, which is the caller's next step).
#[derive(Debug)]
pub struct Accept {
    /// The client id in force (generated, or the user name, where so configured).
    pub client_id: String,
    /// Keep alive in force, in seconds.
    pub keep_alive: u16,
    /// How long the session outlives the connection.
    pub expiry: Expiry,
    /// The will, its topic under the mount point.
    pub will: Option<Will>,
    /// CONNACK properties (MQTT 5), everything but Session Present.
    pub connack: ConnAckProperties,
    /// The connection's protocol state from here on.
    pub protocol: Protocol,
}

/// A CONNECT refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuse {
    /// The reason for the CONNACK (mapped to a 3.x return code); `None`: close without a CONNACK.
    pub code: Option<ReasonCode>,
    /// For the log: "Client x disconnected, {why}."
    pub why: &'static str,
}

fn refuse(code: ReasonCode, why: &'static str) -> Result<Accept, Refuse> {
    Err(Refuse { code: Some(code), why })
}

/// Decides a CONNECT: client id, keep alive, will and session expiry, in Mosquitto's order. `new_id`
/// makes a client id from the prefix when one is to be assigned.
pub fn decide_connect(
    c: &Connect,
    settings: &Settings,
    rules: &ConnectRules<'_>,
    new_id: impl FnOnce(&str) -> String,
) -> Result<Accept, Refuse> {
    let v = c.protocol;
    if c.properties.authentication_method.is_some() {
        return refuse(ReasonCode::BAD_AUTHENTICATION_METHOD, "extended authentication is not supported");
    }
    let mut client_id = c.client_id.clone();
    if rules.use_username_as_clientid {
        match &c.username {
            Some(u) => client_id = u.clone(),
            None => return refuse(ReasonCode::NOT_AUTHORIZED, "not authorised"),
        }
    }
    let mut assigned = None;
    if client_id.is_empty() {
        // MQTT 3.1 requires an id; 3.1.1 allows an empty one only with a clean session.
        let allowed = rules.allow_zero_length_clientid && v != ProtocolVersion::V31 && (v.is_v5() || c.clean_start);
        if !allowed {
            return refuse(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID, "client identifier not valid");
        }
        client_id = new_id(rules.auto_id_prefix);
        if v.is_v5() {
            assigned = Some(client_id.clone());
        }
    }
    if let Some(prefix) = &settings.clientid_prefixes
        && !client_id.starts_with(prefix.as_str())
    {
        return refuse(ReasonCode::NOT_AUTHORIZED, "not authorised");
    }
    let mut keep_alive = c.keep_alive;
    let mut server_keep_alive = None;
    if settings.max_keepalive < u16::MAX && (keep_alive > settings.max_keepalive || keep_alive == 0) {
        if !v.is_v5() {
            return refuse(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID, "keepalive too large");
        }
        keep_alive = settings.max_keepalive;
        server_keep_alive = Some(keep_alive);
    }
    if let Some(w) = &c.will {
        if too_deep(&w.topic) {
            // Mosquitto closes such a connection without a CONNACK; MQTT 5 clients learn why.
            let code = v.is_v5().then_some(ReasonCode::MALFORMED_PACKET);
            return Err(Refuse { code, why: "will topic too deep" });
        }
        if w.retain && !settings.retain_available {
            return refuse(ReasonCode::RETAIN_NOT_SUPPORTED, "will retain not supported");
        }
        if w.qos > rules.max_qos {
            return refuse(ReasonCode::QOS_NOT_SUPPORTED, "will QoS not supported");
        }
        // A will that could never be published (`message_size_limit`) is refused now, as Mosquitto
        // does: 0x95 in MQTT 5, "not authorised" before.
        if settings.message_size_limit > 0 && w.payload.len() > settings.message_size_limit {
            let code = if v.is_v5() { ReasonCode::PACKET_TOO_LARGE } else { ReasonCode::NOT_AUTHORIZED };
            return refuse(code, "will payload too large");
        }
    }
    let expiry = if v.is_v5() {
        expiry_of(c.properties.session_expiry_interval.unwrap_or(0))
    } else if c.clean_start {
        Expiry::AtDisconnect
    } else {
        settings.persistent_client_expiration.map_or(Expiry::Never, Expiry::After)
    };
    let mut will = c.will.clone();
    if let (Some(w), Some(mount)) = (&mut will, rules.mount_point) {
        w.topic = format!("{mount}{}", w.topic).into();
    }
    let mut connack = ConnAckProperties::default();
    if v.is_v5() {
        if settings.max_inflight > 0 {
            connack.receive_maximum = Some(settings.max_inflight);
        }
        if rules.max_qos < QoS::ExactlyOnce {
            connack.maximum_qos = Some(rules.max_qos.as_u8());
        }
        if !settings.retain_available {
            connack.retain_available = Some(0);
        }
        connack.maximum_packet_size = settings.max_packet_size;
        if rules.max_topic_alias > 0 {
            connack.topic_alias_maximum = Some(rules.max_topic_alias);
        }
        connack.server_keep_alive = server_keep_alive;
        // Request/response (MQTT 5 §4.10): a client that asks gets a topic prefix of its own for
        // responses. `$` topics are not matched by `#`, so other clients' wildcards do not see them.
        if c.properties.request_response_information == Some(1) {
            connack.response_information = Some(format!("$response/{client_id}/"));
        }
        connack.assigned_client_identifier = assigned;
    }
    let protocol = Protocol {
        version: v,
        aliases: Vec::new(),
        max_topic_alias: rules.max_topic_alias,
        max_qos: rules.max_qos,
        retain_available: settings.retain_available,
        receive_maximum: v.is_v5().then_some(match settings.max_inflight {
            0 => u16::MAX,
            n => n,
        }),
        window: settings.window(c.properties.receive_maximum.unwrap_or(u16::MAX)),
        max_out_packet: c.properties.maximum_packet_size.map_or(mq_proto::MAX_PACKET_SIZE, |m| m as usize),
        expiry,
        connect_expiry_zero: expiry == Expiry::AtDisconnect && v.is_v5(),
        bridge: c.bridge && !v.is_v5(),
    };
    Ok(Accept { client_id, keep_alive, expiry, will, connack, protocol })
}

/// A Session Expiry Interval as a lifetime.
fn expiry_of(seconds: u32) -> Expiry {
    match seconds {
        0 => Expiry::AtDisconnect,
        u32::MAX => Expiry::Never,
        s => Expiry::After(Duration::from_secs(s.into())),
    }
}

/// One connection's protocol state after CONNECT.
#[derive(Debug)]
pub struct Protocol {
    /// The protocol version agreed.
    pub version: ProtocolVersion,
    /// Topic aliases the client set (index = alias - 1).
    aliases: Vec<Option<Arc<str>>>,
    max_topic_alias: u16,
    max_qos: QoS,
    retain_available: bool,
    /// Most QoS 2 messages a client may leave unreleased (MQTT 5: our Receive Maximum).
    receive_maximum: Option<u16>,
    /// Outgoing in-flight window: the client's Receive Maximum and `max_inflight_messages`.
    pub window: usize,
    /// Largest packet the client accepts.
    pub max_out_packet: usize,
    /// Session lifetime in force (DISCONNECT may change it).
    expiry: Expiry,
    /// CONNECT asked for a session that ends with the connection (MQTT 5).
    connect_expiry_zero: bool,
    /// A bridge announced itself (MQTT 3.x protocol level with its high bit set, Mosquitto's
    /// `try_private`): its subscriptions are No Local and Retain As Published, so that what it
    /// forwards is not sent back to it and retained messages stay retained on its other side.
    pub bridge: bool,
}

impl Protocol {
    /// Checks a PUBLISH from the client and resolves its topic alias (MQTT 5).
    pub fn publish(&mut self, p: &mut Publish) -> Result<(), Violation> {
        if self.version.is_v5() {
            if let Some(alias) = p.properties.topic_alias.take() {
                if alias == 0 || alias > self.max_topic_alias {
                    return Err(Violation::TopicAliasInvalid(alias));
                }
                let i = usize::from(alias - 1);
                if p.topic.is_empty() {
                    match self.aliases.get(i).cloned().flatten() {
                        Some(t) => p.topic = t,
                        None => return Err(Violation::TopicAliasUnknown(alias)),
                    }
                } else {
                    if self.aliases.len() <= i {
                        self.aliases.resize(i + 1, None);
                    }
                    if let Some(slot) = self.aliases.get_mut(i) {
                        *slot = Some(p.topic.clone());
                    }
                }
            }
            if !p.properties.subscription_identifiers.is_empty() {
                return Err(Violation::SubscriptionIdentifier);
            }
        }
        if too_deep(&p.topic) {
            return Err(Violation::TooDeep("topic"));
        }
        if p.qos > self.max_qos {
            return Err(Violation::QosNotSupported(p.qos));
        }
        if p.retain && !self.retain_available {
            return Err(Violation::RetainNotSupported);
        }
        Ok(())
    }

    /// Most QoS 2 messages the client may leave unreleased (`None`: not checked, before MQTT 5).
    pub fn qos2_limit(&self) -> Option<usize> {
        self.receive_maximum.map(usize::from)
    }

    /// Checks the filters of a SUBSCRIBE or UNSUBSCRIBE before any is acted on: one that is not a valid
    /// filter, or too deep, refuses the whole packet (Mosquitto closes the connection too; MQTT 5 keeps
    /// 0x8F for a well-formed filter the server does not accept).
    pub fn filters<'a>(&self, filters: impl Iterator<Item = &'a str>) -> Result<(), Violation> {
        for f in filters {
            check_topic_filter(f).map_err(Violation::InvalidFilter)?;
            if too_deep(f) {
                return Err(Violation::TooDeep("topic filter"));
            }
        }
        Ok(())
    }

    /// Decides one (valid) filter of a SUBSCRIBE, authorisation aside: the QoS granted.
    pub fn subscription(&self, filter: &str, opts: &SubscriptionOptions) -> Result<QoS, Violation> {
        if self.version.is_v5() && opts.no_local && split_shared(filter).is_some() {
            return Err(Violation::NoLocalOnShared);
        }
        Ok(opts.qos.min(self.max_qos))
    }

    /// The options a subscription is made with: those asked for, with the QoS granted; for a bridge
    /// (see [`Protocol::bridge`]) No Local and Retain As Published too, as Mosquitto does.
    pub fn granted_options(&self, opts: SubscriptionOptions, qos: QoS) -> SubscriptionOptions {
        if self.bridge {
            SubscriptionOptions { qos, no_local: true, retain_as_published: true, ..opts }
        } else {
            SubscriptionOptions { qos, ..opts }
        }
    }

    /// The code refusing a subscription the ACL does not allow (MQTT 3.1 has none: it is granted).
    pub fn not_authorised(&self) -> Option<ReasonCode> {
        match self.version {
            ProtocolVersion::V31 => None,
            v if v.is_v5() => Some(ReasonCode::NOT_AUTHORIZED),
            _ => Some(ReasonCode::UNSPECIFIED_ERROR),
        }
    }

    /// A DISCONNECT from the client: the session lifetime it may set, and whether the will is to be
    /// published (reason 0x04).
    pub fn disconnect(&mut self, d: &Disconnect) -> Result<bool, Violation> {
        if let Some(s) = d.properties.session_expiry_interval {
            if self.connect_expiry_zero && s != 0 {
                return Err(Violation::SessionExpiryAfterZero);
            }
            self.expiry = expiry_of(s);
        }
        Ok(d.reason == ReasonCode::DISCONNECT_WITH_WILL)
    }

    /// The session lifetime in force.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }
}

#[cfg(test)]
mod tests {
    use mq_proto::topic::TopicError;
    use mq_proto::{ConnectProperties, DisconnectProperties, PublishProperties, RetainHandling};

    use super::*;

    fn settings(extra: &str) -> Settings {
        let text = format!("listener 1883\nallow_anonymous true\n{extra}\n");
        let (cfg, _) = mq_config::parse_str(&text, std::path::Path::new("t.conf")).expect("config");
        Settings::from_config(&cfg)
    }

    fn rules() -> ConnectRules<'static> {
        ConnectRules {
            max_qos: QoS::ExactlyOnce,
            max_topic_alias: 10,
            mount_point: None,
            use_username_as_clientid: false,
            allow_zero_length_clientid: true,
            auto_id_prefix: "auto-",
        }
    }

    fn connect(v: ProtocolVersion, id: &str) -> Connect {
        Connect::new(v, id)
    }

    #[test]
    fn connect_decisions() {
        use ProtocolVersion::{V5, V31, V311};
        let s = settings("");
        let id = |_: &str| "auto-1".to_owned();
        // (CONNECT, rules change, expected refusal code or accepted client id)
        let persistent = |v| Connect { clean_start: false, ..connect(v, "") };
        let will = |qos, retain| {
            Some(Will { topic: "w".into(), payload: Default::default(), qos, retain, properties: Default::default() })
        };
        /// A CONNECT, the settings and rules it meets, and the client id accepted or the code refused.
        type Case<'a> = (Connect, Settings, ConnectRules<'a>, Result<&'a str, Option<u8>>);
        let mut cases: Vec<Case<'_>> = vec![
            (connect(V311, "a"), s.clone(), rules(), Ok("a")),
            (connect(V31, ""), s.clone(), rules(), Err(Some(0x85))),
            (persistent(V311), s.clone(), rules(), Err(Some(0x85))),
            (persistent(V5), s.clone(), rules(), Ok("auto-1")),
            (
                connect(V311, ""),
                s.clone(),
                ConnectRules { allow_zero_length_clientid: false, ..rules() },
                Err(Some(0x85)),
            ),
            (
                connect(V311, "x"),
                s.clone(),
                ConnectRules { use_username_as_clientid: true, ..rules() },
                Err(Some(0x87)),
            ),
            (connect(V311, "x"), settings("clientid_prefixes ok-"), rules(), Err(Some(0x87))),
            (connect(V311, "ok-x"), settings("clientid_prefixes ok-"), rules(), Ok("ok-x")),
            (connect(V311, "k"), settings("max_keepalive 30"), rules(), Err(Some(0x85))),
            (
                Connect { will: will(QoS::AtMostOnce, true), ..connect(V5, "w") },
                settings("retain_available false"),
                rules(),
                Err(Some(0x9A)),
            ),
            (
                Connect { will: will(QoS::ExactlyOnce, false), ..connect(V5, "w") },
                s.clone(),
                ConnectRules { max_qos: QoS::AtLeastOnce, ..rules() },
                Err(Some(0x9B)),
            ),
            (
                Connect {
                    will: Some(Will { topic: "/".repeat(300).into(), ..will(QoS::AtMostOnce, false).expect("will") }),
                    ..connect(V311, "deep")
                },
                s.clone(),
                rules(),
                Err(None),
            ),
        ];
        let big_will = |v| Connect {
            will: Some(Will {
                payload: bytes::Bytes::from_static(b"AB"),
                ..will(QoS::AtMostOnce, false).expect("will")
            }),
            ..connect(v, "big")
        };
        cases.push((big_will(V5), settings("message_size_limit 1"), rules(), Err(Some(0x95))));
        cases.push((big_will(V311), settings("message_size_limit 1"), rules(), Err(Some(0x87))));
        cases.push((big_will(V311), settings("message_size_limit 2"), rules(), Ok("big")));
        for (c, settings, rules, want) in cases {
            let got = decide_connect(&c, &settings, &rules, id);
            match (got, want) {
                (Ok(a), Ok(want_id)) => assert_eq!(a.client_id, want_id, "{c:?}"),
                (Err(r), Err(code)) => assert_eq!(r.code.map(|c| c.0), code, "{c:?}: {}", r.why),
                (got, want) => panic!("{c:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn connack_properties_and_expiry() {
        let s = settings("max_keepalive 30\nmax_inflight_messages 5\nmax_qos 1");
        let mut c = connect(ProtocolVersion::V5, "");
        c.keep_alive = 0;
        c.properties = ConnectProperties {
            session_expiry_interval: Some(90),
            receive_maximum: Some(3),
            request_response_information: Some(1),
            ..Default::default()
        };
        let a = decide_connect(&c, &s, &ConnectRules { max_qos: QoS::AtLeastOnce, ..rules() }, |p| format!("{p}9"))
            .expect("accepted");
        assert_eq!(
            (a.client_id.as_str(), a.keep_alive, a.expiry),
            ("auto-9", 30, Expiry::After(Duration::from_secs(90)))
        );
        let p = &a.connack;
        assert_eq!(p.assigned_client_identifier.as_deref(), Some("auto-9"));
        assert_eq!((p.server_keep_alive, p.receive_maximum, p.maximum_qos), (Some(30), Some(5), Some(1)));
        assert_eq!(p.response_information.as_deref(), Some("$response/auto-9/"));
        assert_eq!(a.protocol.window, 3);
        assert_eq!(a.protocol.qos2_limit(), Some(5));
        // 3.1.1 persistent session without persistent_client_expiration: never expires.
        let c = Connect { clean_start: false, ..connect(ProtocolVersion::V311, "p") };
        assert_eq!(decide_connect(&c, &settings(""), &rules(), |_| String::new()).expect("ok").expiry, Expiry::Never);
    }

    fn protocol(v: ProtocolVersion) -> Protocol {
        decide_connect(
            &connect(v, "p"),
            &settings("max_qos 1"),
            &ConnectRules { max_qos: QoS::AtLeastOnce, ..rules() },
            |_| String::new(),
        )
        .expect("accepted")
        .protocol
    }

    fn publish(topic: &str, alias: Option<u16>) -> Publish {
        Publish {
            topic: topic.into(),
            properties: PublishProperties { topic_alias: alias, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn publish_rules_and_topic_aliases() {
        let mut p = protocol(ProtocolVersion::V5);
        // (PUBLISH in, expected topic after it or violation), in order: aliases carry over.
        let steps: Vec<(Publish, Result<&str, Violation>)> = vec![
            (publish("a/b", Some(1)), Ok("a/b")),
            (publish("", Some(1)), Ok("a/b")),
            (publish("", Some(2)), Err(Violation::TopicAliasUnknown(2))),
            (publish("x", Some(0)), Err(Violation::TopicAliasInvalid(0))),
            (publish("x", Some(11)), Err(Violation::TopicAliasInvalid(11))),
            (publish(&"/".repeat(201), None), Err(Violation::TooDeep("topic"))),
            (
                Publish { qos: QoS::ExactlyOnce, ..publish("q", None) },
                Err(Violation::QosNotSupported(QoS::ExactlyOnce)),
            ),
            (
                Publish {
                    properties: PublishProperties { subscription_identifiers: vec![1], ..Default::default() },
                    ..publish("s", None)
                },
                Err(Violation::SubscriptionIdentifier),
            ),
        ];
        for (mut packet, want) in steps {
            let got = p.publish(&mut packet).map(|()| packet.topic.to_string());
            assert_eq!(got, want.map(str::to_owned));
        }
        // Before MQTT 5 there are no aliases to resolve.
        let mut p = protocol(ProtocolVersion::V311);
        let mut packet = publish("t", Some(1));
        p.publish(&mut packet).expect("accepted");
    }

    #[test]
    fn a_bridge_announcing_itself_subscribes_no_local_and_retain_as_published() {
        let decide = |v, bridge| {
            decide_connect(&Connect { bridge, ..connect(v, "b") }, &settings(""), &rules(), |_| String::new())
                .expect("accepted")
                .protocol
        };
        let asked = SubscriptionOptions { qos: QoS::ExactlyOnce, ..Default::default() };
        let bridged = decide(ProtocolVersion::V311, true).granted_options(asked, QoS::AtLeastOnce);
        assert_eq!((bridged.qos, bridged.no_local, bridged.retain_as_published), (QoS::AtLeastOnce, true, true));
        // A plain client, and an MQTT 5 client (which says what it wants itself), get what they asked.
        for p in [decide(ProtocolVersion::V311, false), decide(ProtocolVersion::V5, true)] {
            let got = p.granted_options(asked, QoS::AtLeastOnce);
            assert_eq!((got.qos, got.no_local, got.retain_as_published), (QoS::AtLeastOnce, false, false));
        }
    }

    #[test]
    fn subscription_and_disconnect_rules() {
        let opts = |qos, no_local| SubscriptionOptions {
            qos,
            no_local,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        };
        let v5 = protocol(ProtocolVersion::V5);
        assert_eq!(v5.subscription("a/#", &opts(QoS::ExactlyOnce, false)), Ok(QoS::AtLeastOnce));
        assert_eq!(v5.subscription("$share/g/a", &opts(QoS::AtMostOnce, true)), Err(Violation::NoLocalOnShared));
        for v in [ProtocolVersion::V31, ProtocolVersion::V311, ProtocolVersion::V5] {
            let p = protocol(v);
            assert_eq!(
                p.filters(["ok", "a/#/b"].into_iter()),
                Err(Violation::InvalidFilter(TopicError::MisplacedWildcard))
            );
            assert_eq!(p.filters(["$share/g"].into_iter()), Err(Violation::InvalidFilter(TopicError::InvalidShare)));
        }
        assert_eq!(v5.filters(["a", &"/".repeat(201)].into_iter()), Err(Violation::TooDeep("topic filter")));

        let mut p = protocol(ProtocolVersion::V5);
        let d = |reason, expiry| Disconnect {
            reason: ReasonCode(reason),
            properties: DisconnectProperties { session_expiry_interval: expiry, ..Default::default() },
        };
        // CONNECT asked for expiry 0: DISCONNECT may not give the session a lifetime.
        assert_eq!(p.disconnect(&d(0, Some(10))), Err(Violation::SessionExpiryAfterZero));
        assert_eq!(p.disconnect(&d(4, Some(0))), Ok(true));
        assert_eq!(p.expiry(), Expiry::AtDisconnect);
    }
}
