//! Every option: a line that sets it (checked against the typed field) and a
//! wrong value (checked against the exact `path:line:` message).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{err, ok, ok_warn};
use mq_config::{
    BridgeAddress, BridgeDirection, BridgeProtocol, BridgeTopic, Config, KeyForm, LogFormat, LogTypes, MetricsListener,
    OPTIONS, OptionScope, Protocol, RestartTimeout, SocketDomain, StartType, TlsVersion,
};

fn p(s: &str) -> Option<&Path> {
    Some(Path::new(s))
}

type Check = fn(&Config);

/// Global options: the line alone is the whole file.
#[test]
fn global_options_set_their_field() {
    let cases: &[(&str, Check)] = &[
        ("pid_file /run/mq.pid", |c| assert_eq!(c.pid_file.as_deref(), p("/run/mq.pid"))),
        ("user mqtt", |c| {
            assert_eq!(c.user.as_deref(), Some("mqtt"));
            assert_eq!(c.effective_user(), "mqtt");
        }),
        ("per_listener_settings true", |c| assert!(*c.per_listener_settings)),
        ("sys_interval 0", |c| assert_eq!(*c.sys_interval, 0)),
        ("sys_interval 65535", |c| assert_eq!(*c.sys_interval, 65535)),
        ("connection_messages false", |c| assert!(!*c.connection_messages)),
        ("check_retain_source true", |c| assert!(*c.check_retain_source)),
        ("allow_duplicate_messages true", |c| assert!(*c.allow_duplicate_messages)),
        ("upgrade_outgoing_qos true", |c| assert!(*c.upgrade_outgoing_qos)),
        ("set_tcp_nodelay 1", |c| assert!(*c.set_tcp_nodelay)),
        ("set_tcp_nodelay false", |c| assert!(!*c.set_tcp_nodelay)),
        // mq's default differs from Mosquitto's (README, Differences from Mosquitto).
        ("pid_file /run/mq.pid", |c| assert!(*c.set_tcp_nodelay)),
        ("clientid_prefixes sensor-", |c| {
            assert_eq!(c.clientid_prefixes.as_deref(), Some("sensor-"));
        }),
        ("memory_limit 1048576", |c| assert_eq!(*c.memory_limit, 1_048_576)),
        ("log_dest stdout", |c| {
            assert!(c.log.dest.stdout);
            assert!(!c.log.dest.stderr, "the first log_dest replaces the default");
        }),
        ("log_dest file /var/log/mq log.txt", |c| {
            assert_eq!(c.log.dest.file.as_deref(), p("/var/log/mq log.txt"));
        }),
        ("log_dest syslog\nlog_dest topic\nlog_dest dlt", |c| {
            let d = &c.log.dest;
            assert!(d.syslog && d.topic && d.dlt && !d.stderr && !d.stdout);
        }),
        ("log_dest stdout\nlog_dest none", |c| assert!(c.log.dest.is_none())),
        ("log_facility 3", |c| assert_eq!(*c.log.facility, Some(3))),
        ("log_timestamp false", |c| assert!(!*c.log.timestamp)),
        ("log_timestamp_format %Y-%m-%d %H:%M:%S", |c| {
            assert_eq!(c.log.timestamp_format.as_deref(), Some("%Y-%m-%d %H:%M:%S"));
        }),
        ("log_type debug\nlog_type subscribe", |c| {
            let t = *c.log.types;
            assert!(t.contains(LogTypes::DEBUG) && t.contains(LogTypes::SUBSCRIBE));
            assert!(!t.contains(LogTypes::ERROR), "the first log_type replaces the default");
        }),
        ("log_type all", |c| assert_eq!(*c.log.types, LogTypes::ALL)),
        ("log_format json", |c| assert_eq!(*c.log.format, LogFormat::Json)),
        ("log_format text", |c| assert_eq!(*c.log.format, LogFormat::Text)),
        ("metrics_listener 9100", |c| {
            assert_eq!(*c.metrics_listener, Some(MetricsListener { port: 9100, host: None }));
        }),
        ("metrics_listener 9100 127.0.0.1 # local only", |c| {
            assert_eq!(*c.metrics_listener, Some(MetricsListener { port: 9100, host: Some("127.0.0.1".into()) }));
        }),
        ("log_type all\nlog_type none\nlog_type websockets", |c| {
            assert_eq!(*c.log.types, LogTypes::WEBSOCKETS);
        }),
        ("log_type internal\nlog_type unsubscribe\nlog_type notice", |c| {
            let t = *c.log.types;
            assert!(t.contains(LogTypes::INTERNAL.union(LogTypes::UNSUBSCRIBE)));
            assert!(t.contains(LogTypes::NOTICE) && !t.contains(LogTypes::WARNING));
        }),
        ("log_type information\nlog_type warning\nlog_type error", |c| {
            let t = *c.log.types;
            assert!(t.contains(LogTypes::INFORMATION) && t.contains(LogTypes::WARNING));
            assert!(t.contains(LogTypes::ERROR) && !t.contains(LogTypes::NOTICE));
        }),
        ("websockets_log_level 255", |c| assert_eq!(*c.websockets.log_level, 255)),
        ("websockets_headers_size 4096", |c| assert_eq!(*c.websockets.headers_size, 4096)),
        ("persistence true", |c| assert!(*c.persistence.enabled)),
        ("retained_persistence true", |c| assert!(*c.persistence.enabled)),
        ("persistence_file mq.db", |c| assert_eq!(c.persistence.file.as_str(), "mq.db")),
        ("persistence_location /var/lib/mq/", |c| {
            assert_eq!(c.persistence.location.as_deref(), p("/var/lib/mq/"));
            assert_eq!(c.persistence.path(), Path::new("/var/lib/mq/mosquitto.db"));
        }),
        ("autosave_interval 60", |c| assert_eq!(*c.persistence.autosave_interval, 60)),
        ("autosave_on_changes true", |c| assert!(*c.persistence.autosave_on_changes)),
        ("persistent_client_expiration 2d", |c| {
            assert_eq!(*c.persistent_client_expiration, Some(Duration::from_secs(2 * 86_400)));
        }),
        ("persistent_client_expiration 3h", |c| {
            assert_eq!(*c.persistent_client_expiration, Some(Duration::from_secs(3 * 3600)));
        }),
        ("persistent_client_expiration 1w", |c| {
            assert_eq!(*c.persistent_client_expiration, Some(Duration::from_secs(604_800)));
        }),
        ("persistent_client_expiration 1m", |c| {
            assert_eq!(*c.persistent_client_expiration, Some(Duration::from_secs(2_592_000)));
        }),
        ("persistent_client_expiration 1y", |c| {
            assert_eq!(*c.persistent_client_expiration, Some(Duration::from_secs(31_536_000)));
        }),
        ("queue_qos0_messages true", |c| assert!(*c.queue_qos0_messages)),
        ("max_inflight_messages 1", |c| assert_eq!(*c.max_inflight_messages, 1)),
        ("max_inflight_bytes 65536", |c| assert_eq!(*c.max_inflight_bytes, 65536)),
        ("max_queued_messages 0", |c| assert_eq!(*c.max_queued_messages, 0)),
        ("max_queued_bytes 1000000", |c| assert_eq!(*c.max_queued_bytes, 1_000_000)),
        ("message_size_limit 1024", |c| assert_eq!(*c.message_size_limit, 1024)),
        ("max_packet_size 1024", |c| assert_eq!(*c.max_packet_size, Some(1024))),
        ("max_packet_size 20", |c| assert_eq!(*c.max_packet_size, Some(20))),
        ("max_packet_size 0", |c| assert_eq!(*c.max_packet_size, None)),
        ("max_keepalive 60", |c| assert_eq!(*c.max_keepalive, 60)),
        ("retain_available false", |c| assert!(!*c.retain_available)),
        // Security options, global (per_listener_settings false).
        ("password_file /etc/mq/passwd", |c| {
            assert_eq!(c.security.password_file.as_deref(), p("/etc/mq/passwd"));
        }),
        ("acl_file /etc/mq/acl", |c| assert_eq!(c.security.acl_file.as_deref(), p("/etc/mq/acl"))),
        ("psk_file /etc/mq/psk", |c| assert_eq!(c.security.psk_file.as_deref(), p("/etc/mq/psk"))),
        ("allow_anonymous false", |c| assert_eq!(*c.security.allow_anonymous, Some(false))),
        ("allow_zero_length_clientid false", |c| {
            assert!(!*c.security.allow_zero_length_clientid);
        }),
        ("auto_id_prefix gen-", |c| assert_eq!(c.security.auto_id_prefix.as_str(), "gen-")),
        (
            "plugin /usr/lib/auth.so\nplugin_opt_db /var/db\nauth_opt_mode x y\n\
             auth_plugin_deny_special_chars false",
            |c| {
                let plugin = &c.security.plugins[0];
                assert_eq!(plugin.path.as_path(), Path::new("/usr/lib/auth.so"));
                assert_eq!(plugin.options.len(), 2);
                assert_eq!(plugin.options[0].key, "db");
                assert_eq!(plugin.options[0].value.as_str(), "/var/db");
                assert_eq!(plugin.options[1].key, "mode");
                assert_eq!(plugin.options[1].value.as_str(), "x y");
                assert!(!*plugin.deny_special_chars);
            },
        ),
        ("auth_plugin /a.so\nauth_plugin /b.so", |c| {
            assert_eq!(c.security.plugins.len(), 2);
            assert!(*c.security.plugins[1].deny_special_chars, "default true");
        }),
    ];
    for (text, check) in cases {
        let cfg = ok(text);
        check(&cfg);
    }
}

/// Listener options, inside `listener 1883`.
#[test]
fn listener_options_set_their_field() {
    let cases: &[(&str, Check)] = &[
        ("bind_interface eth0", |c| {
            assert_eq!(c.listeners[0].bind_interface.as_deref(), Some("eth0"));
        }),
        ("socket_domain ipv4", |c| {
            assert_eq!(*c.listeners[0].socket_domain, Some(SocketDomain::Ipv4));
        }),
        ("socket_domain ipv6", |c| {
            assert_eq!(*c.listeners[0].socket_domain, Some(SocketDomain::Ipv6));
        }),
        ("protocol websockets", |c| {
            assert_eq!(*c.listeners[0].protocol, Protocol::Websockets);
        }),
        ("protocol mqtt", |c| assert_eq!(*c.listeners[0].protocol, Protocol::Mqtt)),
        ("protocol websockets\nhttp_dir /srv/www", |c| {
            assert_eq!(c.listeners[0].http_dir.as_deref(), p("/srv/www"));
        }),
        ("mount_point site1/", |c| {
            assert_eq!(c.listeners[0].mount_point.as_deref(), Some("site1/"));
        }),
        ("max_connections 100", |c| assert_eq!(*c.listeners[0].max_connections, Some(100))),
        ("max_connections -1", |c| assert_eq!(*c.listeners[0].max_connections, None)),
        ("max_qos 1", |c| assert_eq!(*c.listeners[0].max_qos, 1)),
        ("maximum_qos 0", |c| assert_eq!(*c.listeners[0].max_qos, 0)),
        ("max_topic_alias 0", |c| assert_eq!(*c.listeners[0].max_topic_alias, 0)),
        ("use_username_as_clientid true", |c| {
            assert!(*c.listeners[0].use_username_as_clientid);
        }),
        ("cafile /etc/ca.pem", |c| assert_eq!(c.listeners[0].tls.cafile.as_deref(), p("/etc/ca.pem"))),
        ("capath /etc/ca", |c| assert_eq!(c.listeners[0].tls.capath.as_deref(), p("/etc/ca"))),
        ("certfile /etc/c.pem\nkeyfile /etc/k.pem", |c| {
            assert_eq!(c.listeners[0].tls.certfile.as_deref(), p("/etc/c.pem"));
            assert_eq!(c.listeners[0].tls.keyfile.as_deref(), p("/etc/k.pem"));
        }),
        ("crlfile /etc/crl.pem", |c| {
            assert_eq!(c.listeners[0].tls.crlfile.as_deref(), p("/etc/crl.pem"));
        }),
        ("dhparamfile /etc/dh.pem", |c| {
            assert_eq!(c.listeners[0].tls.dhparamfile.as_deref(), p("/etc/dh.pem"));
        }),
        ("ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256", |c| {
            assert_eq!(
                c.listeners[0].tls.ciphers.as_deref(),
                Some("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
            );
        }),
        ("ciphers_tls1.3 TLS_AES_256_GCM_SHA384", |c| {
            assert_eq!(c.listeners[0].tls.ciphers_tls13.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        }),
        ("tls_version tlsv1.3", |c| {
            assert_eq!(*c.listeners[0].tls.tls_version, Some(TlsVersion::Tls1_3));
        }),
        ("tls_version tlsv1.1", |c| {
            assert_eq!(*c.listeners[0].tls.tls_version, Some(TlsVersion::Tls1_1));
        }),
        ("tls_engine pkcs11", |c| assert_eq!(c.listeners[0].tls.tls_engine.as_deref(), Some("pkcs11"))),
        ("tls_engine_kpass_sha1 0123456789abcdef0123456789ABCDEF01234567", |c| {
            assert_eq!(
                c.listeners[0].tls.tls_engine_kpass_sha1.as_deref(),
                Some("0123456789abcdef0123456789ABCDEF01234567")
            );
        }),
        ("tls_keyform engine", |c| assert_eq!(*c.listeners[0].tls.tls_keyform, KeyForm::Engine)),
        ("require_certificate true", |c| assert!(*c.listeners[0].tls.require_certificate)),
        ("use_identity_as_username true", |c| {
            assert!(*c.listeners[0].tls.use_identity_as_username);
        }),
        ("use_subject_as_username true", |c| {
            assert!(*c.listeners[0].tls.use_subject_as_username);
        }),
        ("psk_hint hint one", |c| assert_eq!(c.listeners[0].tls.psk_hint.as_deref(), Some("hint one"))),
    ];
    for (line, check) in cases {
        let cfg = ok(&format!("listener 1883\n{line}"));
        check(&cfg);
        // And the value remembers its line.
        assert_eq!(cfg.listeners[0].addr.span.as_ref().map(|s| s.line), Some(1));
    }
}

/// Bridge options, inside a minimal valid bridge.
#[test]
fn bridge_options_set_their_field() {
    let cases: &[(&str, Check)] = &[
        ("round_robin true", |c| assert!(*c.bridges[0].round_robin)),
        ("bridge_protocol_version mqttv50", |c| {
            assert_eq!(*c.bridges[0].protocol_version, BridgeProtocol::Mqtt5);
        }),
        ("bridge_protocol_version mqttv31", |c| {
            assert_eq!(*c.bridges[0].protocol_version, BridgeProtocol::Mqtt31);
        }),
        ("remote_clientid edge-1", |c| {
            assert_eq!(c.bridges[0].remote_clientid.as_deref(), Some("edge-1"));
        }),
        ("clientid edge-2", |c| assert_eq!(c.bridges[0].remote_clientid.as_deref(), Some("edge-2"))),
        ("local_clientid here", |c| assert_eq!(c.bridges[0].local_clientid.as_deref(), Some("here"))),
        ("remote_username u\nremote_password secret pass", |c| {
            assert_eq!(c.bridges[0].remote_username.as_deref(), Some("u"));
            assert_eq!(c.bridges[0].remote_password.as_deref(), Some("secret pass"));
        }),
        ("username u2\npassword p2", |c| {
            assert_eq!(c.bridges[0].remote_username.as_deref(), Some("u2"));
            assert_eq!(c.bridges[0].remote_password.as_deref(), Some("p2"));
        }),
        ("local_username lu\nlocal_password lp", |c| {
            assert_eq!(c.bridges[0].local_username.as_deref(), Some("lu"));
            assert_eq!(c.bridges[0].local_password.as_deref(), Some("lp"));
        }),
        ("cleansession true", |c| assert!(*c.bridges[0].cleansession)),
        ("local_cleansession false", |c| assert_eq!(*c.bridges[0].local_cleansession, Some(false))),
        ("keepalive_interval 30", |c| assert_eq!(*c.bridges[0].keepalive_interval, 30)),
        ("start_type lazy", |c| assert_eq!(*c.bridges[0].start_type, StartType::Lazy)),
        ("start_type once", |c| assert_eq!(*c.bridges[0].start_type, StartType::Once)),
        ("restart_timeout 10", |c| {
            assert_eq!(*c.bridges[0].restart_timeout, RestartTimeout::Constant(10));
        }),
        ("restart_timeout 5 60", |c| {
            assert_eq!(*c.bridges[0].restart_timeout, RestartTimeout::Backoff { base: 5, cap: 60 });
        }),
        ("idle_timeout 120", |c| assert_eq!(*c.bridges[0].idle_timeout, 120)),
        ("threshold 5", |c| assert_eq!(*c.bridges[0].threshold, 5)),
        ("try_private false", |c| assert!(!*c.bridges[0].try_private)),
        ("notifications false", |c| assert!(!*c.bridges[0].notifications)),
        ("notifications_local_only true", |c| assert!(*c.bridges[0].notifications_local_only)),
        ("notification_topic bridges/east/state", |c| {
            assert_eq!(c.bridges[0].notification_topic.as_deref(), Some("bridges/east/state"));
        }),
        ("bridge_attempt_unsubscribe false", |c| assert!(!*c.bridges[0].attempt_unsubscribe)),
        ("bridge_outgoing_retain false", |c| assert!(!*c.bridges[0].outgoing_retain)),
        ("bridge_max_packet_size 100000", |c| assert_eq!(*c.bridges[0].max_packet_size, 100_000)),
        ("bridge_bind_address 192.0.2.1", |c| {
            assert_eq!(c.bridges[0].bind_address.as_deref(), Some("192.0.2.1"));
        }),
        ("bridge_cafile /ca.pem\nbridge_capath /ca", |c| {
            assert_eq!(c.bridges[0].tls.cafile.as_deref(), p("/ca.pem"));
            assert_eq!(c.bridges[0].tls.capath.as_deref(), p("/ca"));
        }),
        ("bridge_certfile /c.pem\nbridge_keyfile /k.pem", |c| {
            assert_eq!(c.bridges[0].tls.certfile.as_deref(), p("/c.pem"));
            assert_eq!(c.bridges[0].tls.keyfile.as_deref(), p("/k.pem"));
        }),
        ("bridge_insecure true", |c| assert!(*c.bridges[0].tls.insecure)),
        ("bridge_tls_version tlsv1.2", |c| {
            assert_eq!(*c.bridges[0].tls.tls_version, Some(TlsVersion::Tls1_2));
        }),
        ("bridge_alpn x-amzn-mqtt-ca", |c| {
            assert_eq!(c.bridges[0].tls.alpn.as_deref(), Some("x-amzn-mqtt-ca"));
        }),
        ("bridge_require_ocsp true", |c| assert!(*c.bridges[0].tls.require_ocsp)),
        ("bridge_identity edge\nbridge_psk 0a1B2c", |c| {
            assert_eq!(c.bridges[0].tls.identity.as_deref(), Some("edge"));
            assert_eq!(c.bridges[0].tls.psk.as_deref(), Some("0a1B2c"));
        }),
    ];
    for (line, check) in cases {
        let cfg = ok(&format!("connection east\naddress broker.example\ntopic #\n{line}"));
        check(&cfg);
    }
}

#[test]
fn bridge_address_and_topic_forms() {
    let cfg = ok("connection east\n\
                  addresses a.example b.example:8883 [2001:db8::1]:1884 # the last is IPv6\n\
                  topic # out 0\n\
                  topic sensors/+ IN 1 local/ remote/\n\
                  topic \"\" both 2 here/x there/y\n\
                  topic a/b both 2 \"\" remote/\n");
    let b = &cfg.bridges[0];
    assert_eq!(b.name.as_str(), "east");
    assert_eq!(
        *b.addresses,
        vec![
            BridgeAddress { host: "a.example".into(), port: 1883 },
            BridgeAddress { host: "b.example".into(), port: 8883 },
            BridgeAddress { host: "2001:db8::1".into(), port: 1884 },
        ]
    );
    let topics: Vec<&BridgeTopic> = b.topics.iter().map(|t| &t.value).collect();
    assert_eq!(
        topics,
        [
            &BridgeTopic {
                pattern: "#".into(),
                direction: BridgeDirection::Out,
                qos: 0,
                local_prefix: None,
                remote_prefix: None
            },
            &BridgeTopic {
                pattern: "sensors/+".into(),
                direction: BridgeDirection::In,
                qos: 1,
                local_prefix: Some("local/".into()),
                remote_prefix: Some("remote/".into())
            },
            &BridgeTopic {
                pattern: String::new(),
                direction: BridgeDirection::Both,
                qos: 2,
                local_prefix: Some("here/x".into()),
                remote_prefix: Some("there/y".into())
            },
            &BridgeTopic {
                pattern: "a/b".into(),
                direction: BridgeDirection::Both,
                qos: 2,
                local_prefix: None,
                remote_prefix: Some("remote/".into())
            },
        ]
    );
    assert_eq!(b.topics[3].span.as_ref().map(|s| s.line), Some(6));
}

#[test]
fn default_listener_options() {
    let cfg = ok("port 1884\nbind_address 127.0.0.1\nmax_connections 5");
    assert_eq!(cfg.listeners.len(), 1);
    let l = &cfg.listeners[0];
    assert_eq!(l.addr.to_string(), "1884 127.0.0.1");
    assert_eq!(*l.max_connections, Some(5));
    assert_eq!(l.origin, mq_config::ListenerOrigin::DefaultListener);
}

/// A wrong value for every kind of option, with the exact message.
#[test]
fn wrong_values_have_exact_messages() {
    let cases: &[(&str, &str)] = &[
        // general
        ("pid_file", "mq.conf:1: pid_file needs a value: a path"),
        ("user", "mq.conf:1: user needs a value: a text value"),
        ("per_listener_settings yes", "mq.conf:1: invalid per_listener_settings value \"yes\": expected true or false"),
        ("sys_interval 70000", "mq.conf:1: sys_interval 70000 is above the maximum of 65535"),
        ("sys_interval -1", "mq.conf:1: sys_interval -1 is below the minimum of 0"),
        ("connection_messages 2", "mq.conf:1: invalid connection_messages value \"2\": expected true or false"),
        ("check_retain_source TRUE", "mq.conf:1: invalid check_retain_source value \"TRUE\": expected true or false"),
        ("allow_duplicate_messages", "mq.conf:1: allow_duplicate_messages needs a value: true or false"),
        ("upgrade_outgoing_qos on", "mq.conf:1: invalid upgrade_outgoing_qos value \"on\": expected true or false"),
        (
            "set_tcp_nodelay true false",
            "mq.conf:1: unexpected \"false\" after the set_tcp_nodelay value (a comment must \
             start with \"#\" and be separated from the value by a space)",
        ),
        ("clientid_prefixes", "mq.conf:1: clientid_prefixes needs a value: a text value"),
        ("memory_limit -1", "mq.conf:1: memory_limit -1 is below the minimum of 0"),
        ("log_format yaml", "mq.conf:1: invalid log_format value \"yaml\": expected text or json"),
        ("log_format", "mq.conf:1: log_format needs a value: text or json"),
        (
            "metrics_listener",
            "mq.conf:1: metrics_listener needs a value: a port number (1 to 65535), optionally followed by a bind address",
        ),
        ("metrics_listener 0", "mq.conf:1: metrics_listener 0 is below the minimum of 1"),
        ("metrics_listener 65536", "mq.conf:1: metrics_listener 65536 is above the maximum of 65535"),
        (
            "metrics_listener nine",
            "mq.conf:1: invalid metrics_listener value \"nine\": expected a port number (1 to 65535), optionally followed by a bind address",
        ),
        (
            "metrics_listener 9100 127.0.0.1 extra",
            "mq.conf:1: unexpected \"extra\" after the metrics_listener value (a comment must start with \"#\" and be separated from the value by a space)",
        ),
        (
            "metrics_listener 9100\nmetrics_listener 9101",
            "mq.conf:2: metrics_listener is set twice (first at mq.conf:1); give it once",
        ),
        (
            "memory_limit 99999999999999999999",
            "mq.conf:1: memory_limit 99999999999999999999 is above the maximum of \
             9223372036854775807",
        ),
        // logging
        (
            "log_dest console",
            "mq.conf:1: invalid log_dest value \"console\": expected stdout, stderr, syslog, \
             topic, dlt, none or file <path>",
        ),
        ("log_dest file", "mq.conf:1: log_dest file needs a value: a path"),
        ("log_facility 8", "mq.conf:1: log_facility 8 is above the maximum of 7"),
        ("log_timestamp no", "mq.conf:1: invalid log_timestamp value \"no\": expected true or false"),
        ("log_timestamp_format", "mq.conf:1: log_timestamp_format needs a value: a strftime format"),
        (
            "log_type verbose",
            "mq.conf:1: invalid log_type value \"verbose\": expected none, information, notice, \
             warning, error, debug, subscribe, unsubscribe, websockets, internal or all",
        ),
        ("websockets_log_level x", "mq.conf:1: invalid websockets_log_level value \"x\": expected a whole number"),
        ("websockets_headers_size 70000", "mq.conf:1: websockets_headers_size 70000 is above the maximum of 65535"),
        // persistence
        ("persistence yes", "mq.conf:1: invalid persistence value \"yes\": expected true or false"),
        ("retained_persistence 2", "mq.conf:1: invalid retained_persistence value \"2\": expected true or false"),
        ("persistence_file", "mq.conf:1: persistence_file needs a value: a file name"),
        ("persistence_location", "mq.conf:1: persistence_location needs a value: a directory"),
        ("autosave_interval -5", "mq.conf:1: autosave_interval -5 is below the minimum of 0"),
        (
            "autosave_on_changes sometimes",
            "mq.conf:1: invalid autosave_on_changes value \"sometimes\": expected true or false",
        ),
        (
            "persistent_client_expiration 5s",
            "mq.conf:1: invalid persistent_client_expiration value \"5s\": expected a number \
             followed by h, d, w, m or y (hours, days, weeks, 30-day months, 365-day years), \
             e.g. 14d",
        ),
        (
            "persistent_client_expiration 1.5d",
            "mq.conf:1: invalid persistent_client_expiration value \"1.5d\": expected a number \
             followed by h, d, w, m or y (hours, days, weeks, 30-day months, 365-day years), \
             e.g. 14d",
        ),
        (
            "persistent_client_expiration 0d",
            "mq.conf:1: persistent_client_expiration: \"0d\" is zero; leave the option out to \
             never expire",
        ),
        ("queue_qos0_messages 3", "mq.conf:1: invalid queue_qos0_messages value \"3\": expected true or false"),
        // limits
        (
            "max_inflight_messages abc",
            "mq.conf:1: invalid max_inflight_messages value \"abc\": expected a whole number",
        ),
        (
            "max_inflight_messages 10abc",
            "mq.conf:1: invalid max_inflight_messages value \"10abc\": expected a whole number",
        ),
        ("max_inflight_messages 70000", "mq.conf:1: max_inflight_messages 70000 is above the maximum of 65535"),
        ("max_inflight_bytes -1", "mq.conf:1: max_inflight_bytes -1 is below the minimum of 0"),
        ("max_queued_messages -5", "mq.conf:1: max_queued_messages -5 is below the minimum of 0"),
        (
            "max_queued_messages 10 20",
            "mq.conf:1: unexpected \"20\" after the max_queued_messages value (a comment must \
             start with \"#\" and be separated from the value by a space)",
        ),
        ("max_queued_bytes", "mq.conf:1: max_queued_bytes needs a value: a whole number"),
        (
            "max_queued_bytes 10 0 # why",
            "mq.conf:1: unexpected \"0 # why\" after the max_queued_bytes value (a comment must start with \"#\" and \
             be separated from the value by a space)",
        ),
        ("message_size_limit 300000000", "mq.conf:1: message_size_limit 300000000 is above the maximum of 268435455"),
        ("max_packet_size 10", "mq.conf:1: max_packet_size 10 is below the minimum of 20"),
        ("max_packet_size 268435461", "mq.conf:1: max_packet_size 268435461 is above the maximum of 268435460"),
        ("max_keepalive 5", "mq.conf:1: max_keepalive 5 is below the minimum of 10"),
        ("retain_available maybe", "mq.conf:1: invalid retain_available value \"maybe\": expected true or false"),
        // security
        ("password_file", "mq.conf:1: password_file needs a value: a path"),
        ("acl_file   ", "mq.conf:1: acl_file needs a value: a path"),
        ("psk_file", "mq.conf:1: psk_file needs a value: a path"),
        ("allow_anonymous maybe", "mq.conf:1: invalid allow_anonymous value \"maybe\": expected true or false"),
        (
            "allow_zero_length_clientid yes",
            "mq.conf:1: invalid allow_zero_length_clientid value \"yes\": expected true or false",
        ),
        ("auto_id_prefix", "mq.conf:1: auto_id_prefix needs a value: a text value"),
        ("plugin", "mq.conf:1: plugin needs a value: a path"),
        ("auth_plugin", "mq.conf:1: auth_plugin needs a value: a path"),
        ("plugin_opt_db /var/db", "mq.conf:1: plugin_opt_db must follow a \"plugin\" line in the same section"),
        (
            "auth_plugin_deny_special_chars false",
            "mq.conf:1: auth_plugin_deny_special_chars must follow a \"plugin\" line in the same \
             section",
        ),
        ("plugin /p.so\nplugin_opt_ x", "mq.conf:2: plugin_opt_: the option key after the prefix is empty"),
        ("plugin /p.so\nauth_opt_key", "mq.conf:2: auth_opt_key needs a value: a text value"),
        // default listener
        ("port 0", "mq.conf:1: port 0 is below the minimum of 1"),
        ("port 70000", "mq.conf:1: port 70000 is above the maximum of 65535"),
        ("bind_address", "mq.conf:1: bind_address needs a value: an address or host name"),
        // listener line
        (
            "listener",
            "mq.conf:1: listener needs a value: a port number, optionally followed by a bind \
             address (or, with port 0, a Unix socket path)",
        ),
        ("listener abc", "mq.conf:1: invalid listener port value \"abc\": expected a port number (0 to 65535)"),
        ("listener 70000", "mq.conf:1: listener port 70000 is above the maximum of 65535"),
        ("listener 0", "mq.conf:1: listener 0 requires a Unix socket path (listener 0 <path>)"),
        (
            "listener 1883 127.0.0.1 extra",
            "mq.conf:1: unexpected \"extra\" after the listener value (a comment must start \
             with \"#\" and be separated from the value by a space)",
        ),
        (
            "listener 1883 /run/mq.sock",
            "mq.conf:1: listener: \"/run/mq.sock\" looks like a path, but a Unix socket \
             listener needs port 0 (listener 0 /run/mq.sock)",
        ),
        // listener options
        ("listener 1883\nsocket_domain ipv5", "mq.conf:2: invalid socket_domain value \"ipv5\": expected ipv4 or ipv6"),
        ("listener 1883\nprotocol ws", "mq.conf:2: invalid protocol value \"ws\": expected mqtt or websockets"),
        (
            "listener 1883\nmount_point a/#",
            "mq.conf:2: mount_point: \"a/#\" contains a wildcard (+ or #), which a topic prefix \
             cannot have",
        ),
        ("listener 1883\nbind_interface", "mq.conf:2: bind_interface needs a value: a network interface name"),
        ("listener 1883\nhttp_dir", "mq.conf:2: http_dir needs a value: a directory"),
        ("listener 1883\nmax_connections -2", "mq.conf:2: max_connections -2 is below the minimum of -1"),
        ("listener 1883\nmax_qos 3", "mq.conf:2: max_qos 3 is above the maximum of 2"),
        ("listener 1883\nmaximum_qos -1", "mq.conf:2: maximum_qos -1 is below the minimum of 0"),
        ("listener 1883\nmax_topic_alias 70000", "mq.conf:2: max_topic_alias 70000 is above the maximum of 65535"),
        (
            "listener 1883\nuse_username_as_clientid yes",
            "mq.conf:2: invalid use_username_as_clientid value \"yes\": expected true or false",
        ),
        ("listener 1883\ncafile", "mq.conf:2: cafile needs a value: a path"),
        ("listener 1883\ncapath", "mq.conf:2: capath needs a value: a path"),
        ("listener 1883\ncertfile", "mq.conf:2: certfile needs a value: a path"),
        ("listener 1883\nkeyfile", "mq.conf:2: keyfile needs a value: a path"),
        ("listener 1883\ncrlfile", "mq.conf:2: crlfile needs a value: a path"),
        ("listener 1883\ndhparamfile", "mq.conf:2: dhparamfile needs a value: a path"),
        ("listener 1883\nciphers", "mq.conf:2: ciphers needs a value: a cipher list"),
        ("listener 1883\nciphers_tls1.3", "mq.conf:2: ciphers_tls1.3 needs a value: a cipher suite list"),
        (
            "listener 1883\ntls_version tlsv1.9",
            "mq.conf:2: invalid tls_version value \"tlsv1.9\": expected tlsv1.3, tlsv1.2 or tlsv1.1",
        ),
        ("listener 1883\ntls_engine", "mq.conf:2: tls_engine needs a value: an engine id"),
        (
            "listener 1883\ntls_engine_kpass_sha1 xyz",
            "mq.conf:2: invalid tls_engine_kpass_sha1 value \"xyz\": expected a SHA-1 hash as 40 \
             hex digits",
        ),
        ("listener 1883\ntls_keyform der", "mq.conf:2: invalid tls_keyform value \"der\": expected pem or engine"),
        (
            "listener 1883\nrequire_certificate yes",
            "mq.conf:2: invalid require_certificate value \"yes\": expected true or false",
        ),
        (
            "listener 1883\nuse_identity_as_username 2",
            "mq.conf:2: invalid use_identity_as_username value \"2\": expected true or false",
        ),
        (
            "listener 1883\nuse_subject_as_username x",
            "mq.conf:2: invalid use_subject_as_username value \"x\": expected true or false",
        ),
        ("listener 1883\npsk_hint", "mq.conf:2: psk_hint needs a value: a PSK hint"),
        // bridges
        ("connection", "mq.conf:1: connection needs a value: a bridge name"),
        (
            "connection b\naddress host:0\ntopic #",
            "mq.conf:2: invalid address value \"host:0\": expected one or more host[:port] (port 1 to 65535)",
        ),
        (
            "connection b\naddress :1883\ntopic #",
            "mq.conf:2: invalid address value \":1883\": expected one or more host[:port] (port 1 \
             to 65535)",
        ),
        (
            "connection b\naddress\ntopic #",
            "mq.conf:2: address needs a value: one or more host[:port] (port 1 to 65535)",
        ),
        (
            "connection b\naddress h\ntopic a sideways",
            "mq.conf:3: invalid topic value \"sideways\": expected out, in or both",
        ),
        ("connection b\naddress h\ntopic a out 3", "mq.conf:3: topic QoS 3 is above the maximum of 2"),
        (
            "connection b\naddress h\ntopic a out 1 local/",
            "mq.conf:3: topic with a local prefix requires a remote prefix too (write \"\" for an \
             empty one)",
        ),
        (
            "connection b\naddress h\ntopic \"\" out 1 \"\" remote/",
            "mq.conf:3: topic: an empty pattern (\"\") remaps a single topic and needs both a \
             local and a remote prefix",
        ),
        (
            "connection b\naddress h\ntopic",
            "mq.conf:3: topic needs a value: a pattern, then optionally out|in|both, a QoS and local and remote prefixes",
        ),
        (
            "connection b\naddress h\ntopic #\nround_robin x",
            "mq.conf:4: invalid round_robin value \"x\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_protocol_version mqttv5",
            "mq.conf:4: invalid bridge_protocol_version value \"mqttv5\": expected mqttv31, \
             mqttv311 or mqttv50",
        ),
        ("connection b\naddress h\ntopic #\nremote_clientid", "mq.conf:4: remote_clientid needs a value: a client id"),
        ("connection b\naddress h\ntopic #\nlocal_clientid", "mq.conf:4: local_clientid needs a value: a client id"),
        ("connection b\naddress h\ntopic #\nremote_username", "mq.conf:4: remote_username needs a value: a user name"),
        ("connection b\naddress h\ntopic #\nlocal_password", "mq.conf:4: local_password needs a value: a password"),
        (
            "connection b\naddress h\ntopic #\ncleansession 2",
            "mq.conf:4: invalid cleansession value \"2\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nlocal_cleansession 2",
            "mq.conf:4: invalid local_cleansession value \"2\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nkeepalive_interval 3",
            "mq.conf:4: keepalive_interval 3 is below the minimum of 5",
        ),
        (
            "connection b\naddress h\ntopic #\nstart_type manual",
            "mq.conf:4: start_type: manual is not supported (Mosquitto refuses it too); use \
             automatic, lazy or once",
        ),
        (
            "connection b\naddress h\ntopic #\nstart_type often",
            "mq.conf:4: invalid start_type value \"often\": expected automatic, lazy or once",
        ),
        (
            "connection b\naddress h\ntopic #\nrestart_timeout 30 5",
            "mq.conf:4: restart_timeout: the cap (5) is lower than the base (30)",
        ),
        (
            "connection b\naddress h\ntopic #\nrestart_timeout 0",
            "mq.conf:4: restart_timeout 0 is below the minimum of 1",
        ),
        ("connection b\naddress h\ntopic #\nidle_timeout 0", "mq.conf:4: idle_timeout 0 is below the minimum of 1"),
        ("connection b\naddress h\ntopic #\nthreshold 0", "mq.conf:4: threshold 0 is below the minimum of 1"),
        (
            "connection b\naddress h\ntopic #\ntry_private no",
            "mq.conf:4: invalid try_private value \"no\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nnotifications no",
            "mq.conf:4: invalid notifications value \"no\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nnotifications_local_only no",
            "mq.conf:4: invalid notifications_local_only value \"no\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nnotification_topic",
            "mq.conf:4: notification_topic needs a value: a topic",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_attempt_unsubscribe no",
            "mq.conf:4: invalid bridge_attempt_unsubscribe value \"no\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_outgoing_retain no",
            "mq.conf:4: invalid bridge_outgoing_retain value \"no\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_max_packet_size -1",
            "mq.conf:4: bridge_max_packet_size -1 is below the minimum of 0",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_bind_address",
            "mq.conf:4: bridge_bind_address needs a value: an address",
        ),
        ("connection b\naddress h\ntopic #\nbridge_cafile", "mq.conf:4: bridge_cafile needs a value: a path"),
        ("connection b\naddress h\ntopic #\nbridge_certfile", "mq.conf:4: bridge_certfile needs a value: a path"),
        ("connection b\naddress h\ntopic #\nbridge_keyfile", "mq.conf:4: bridge_keyfile needs a value: a path"),
        (
            "connection b\naddress h\ntopic #\nbridge_identity",
            "mq.conf:4: bridge_identity needs a value: a PSK identity",
        ),
        ("connection b\naddress h\ntopic #\nclientid", "mq.conf:4: clientid needs a value: a client id"),
        ("connection b\naddress h\ntopic #\nusername", "mq.conf:4: username needs a value: a user name"),
        ("connection b\naddress h\ntopic #\npassword", "mq.conf:4: password needs a value: a password"),
        ("connection b\naddress h\ntopic #\nremote_password", "mq.conf:4: remote_password needs a value: a password"),
        ("connection b\naddress h\ntopic #\nlocal_username", "mq.conf:4: local_username needs a value: a user name"),
        (
            "connection b\naddresses h:x\ntopic #",
            "mq.conf:2: invalid addresses value \"h:x\": expected one or more host[:port] (port 1 to 65535)",
        ),
        (
            "plugin /p.so\nauth_plugin_deny_special_chars 2",
            "mq.conf:2: invalid auth_plugin_deny_special_chars value \"2\": expected true or false",
        ),
        ("connection b\naddress h\ntopic #\nbridge_capath", "mq.conf:4: bridge_capath needs a value: a path"),
        (
            "connection b\naddress h\ntopic #\nbridge_insecure maybe",
            "mq.conf:4: invalid bridge_insecure value \"maybe\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_tls_version 1.2",
            "mq.conf:4: invalid bridge_tls_version value \"1.2\": expected tlsv1.3, tlsv1.2 or \
             tlsv1.1",
        ),
        ("connection b\naddress h\ntopic #\nbridge_alpn", "mq.conf:4: bridge_alpn needs a value: an ALPN protocol"),
        (
            "connection b\naddress h\ntopic #\nbridge_require_ocsp 5",
            "mq.conf:4: invalid bridge_require_ocsp value \"5\": expected true or false",
        ),
        (
            "connection b\naddress h\ntopic #\nbridge_identity id\nbridge_psk not-hex",
            "mq.conf:5: invalid bridge_psk value \"not-hex\": expected a key in hexadecimal",
        ),
    ];
    for (text, expected) in cases {
        let errors = err(text);
        assert_eq!(errors, [*expected], "for {text:?}");
    }
}

/// Every option in the catalogue is understood by the parser: with no
/// value it is never reported as unknown.
#[test]
fn every_catalogued_option_is_understood() {
    for info in OPTIONS {
        let name = info.name;
        let name = if name.ends_with('_') { format!("{name}key") } else { name.to_owned() };
        let text = match info.scope {
            OptionScope::Bridge => format!("connection b\naddress h\ntopic #\n{name}"),
            OptionScope::Listener => format!("listener 1883\n{name}"),
            OptionScope::PluginOption => format!("plugin /p.so\n{name}"),
            _ => name.clone(),
        };
        if let Err(errors) = mq_config::parse_str(&text, "mq.conf") {
            for e in errors.errors() {
                assert!(
                    !matches!(e.kind, mq_config::ErrorKind::UnknownOption { .. }),
                    "{name} is catalogued but the parser does not know it: {e}"
                );
            }
        }
    }
}

#[test]
fn unknown_and_newer_options() {
    assert_eq!(err("listener 1883\n\n\n\n\n\nbogus_option 1"), ["mq.conf:7: unknown option \"bogus_option\""]);
    assert_eq!(
        err("alow_anonymous true"),
        ["mq.conf:1: unknown option \"alow_anonymous\" (did you mean \"allow_anonymous\"?)"]
    );
    assert_eq!(
        err("global_max_clients 10"),
        ["mq.conf:1: \"global_max_clients\" is a Mosquitto 2.1 option; mq reads Mosquitto 2.0 \
          configurations"]
    );
}

#[test]
fn removed_options_are_warnings() {
    let (cfg, warnings) = ok_warn("retry_interval 20\nstore_clean_interval 10\ntrace_level 3");
    assert_eq!(
        warnings,
        [
            "mq.conf:1: retry_interval is no longer supported (removed in Mosquitto 2.0); the \
             line is ignored",
            "mq.conf:2: store_clean_interval is no longer supported (no longer needed since \
             Mosquitto 1.5); the line is ignored",
            "mq.conf:3: trace_level is no longer supported (an option of the old IBM rsmb broker \
             that Mosquitto never used); the line is ignored",
        ]
    );
    assert_eq!(cfg, Config::local_only().with_files_of(&cfg));
}

/// Defaults, including the ones that differ from the Mosquitto documentation.
#[test]
fn defaults_follow_mosquitto_2_0_code() {
    let c = ok("listener 1883");
    assert!(!*c.check_retain_source, "DIVERGENCE: documented true, code false");
    assert!(!*c.allow_duplicate_messages, "DIVERGENCE: documented true, code false");
    assert_eq!(*c.sys_interval, 10);
    assert!(*c.connection_messages);
    assert_eq!(*c.max_inflight_messages, 20);
    assert_eq!(*c.max_queued_messages, 1000);
    assert_eq!(*c.max_keepalive, 65535);
    assert_eq!(*c.max_packet_size, None);
    assert_eq!(*c.message_size_limit, 0);
    assert!(*c.retain_available);
    assert_eq!(*c.persistent_client_expiration, None);
    assert!(!*c.persistence.enabled);
    assert_eq!(c.persistence.file.as_str(), "mosquitto.db");
    assert_eq!(*c.persistence.autosave_interval, 1800);
    assert_eq!(c.effective_user(), "mosquitto");
    assert!(c.log.dest.stderr && !c.log.dest.stdout);
    assert_eq!(*c.log.types, LogTypes::DEFAULT);
    assert!(*c.log.timestamp);
    assert_eq!(*c.log.facility, None);
    let l = &c.listeners[0];
    assert_eq!(*l.max_qos, 2);
    assert_eq!(*l.max_topic_alias, 10);
    assert_eq!(*l.max_connections, None);
    assert_eq!(*l.protocol, Protocol::Mqtt);
    let sec = c.security_for(l);
    assert!(!sec.allow_anonymous);
    assert!(sec.allow_zero_length_clientid);
    assert_eq!(sec.auto_id_prefix, "auto-");
    assert_eq!(*c.websockets.headers_size, 1024);
}

/// Helper so tests can compare a parsed config with a constructed one.
trait WithFiles {
    fn with_files_of(self, other: &Config) -> Config;
}

impl WithFiles for Config {
    fn with_files_of(mut self, other: &Config) -> Config {
        self.files = other.files.clone();
        self
    }
}

/// The catalogue's support column is what the broker does: every option marked refused is refused by
/// `check_supported` with its line, and one marked supported or moot is not.
#[test]
fn catalogued_support_matches_check_supported() {
    use mq_config::Support;
    let sample = |name: &str| -> Option<String> {
        let bridge = "connection b\naddress h\ntopic #\n";
        Some(match name {
            "psk_file" => "listener 1883\npsk_file /p".into(),
            "psk_hint" => "listener 1883\npsk_hint h".into(),
            "tls_engine" => "listener 1883\ntls_engine e".into(),
            "tls_engine_kpass_sha1" => "listener 1883\ntls_engine_kpass_sha1 00".into(),
            "plugin" | "auth_plugin" => format!("listener 1883\n{name} /p.so"),
            "auth_plugin_deny_special_chars" => {
                "listener 1883\nplugin /p.so\nauth_plugin_deny_special_chars true".into()
            }
            "auth_opt_" | "plugin_opt_" => format!("listener 1883\nplugin /p.so\n{name}k v"),
            "bridge_identity" => format!("{bridge}bridge_identity i"),
            "bridge_psk" => format!("{bridge}bridge_psk 00"),
            "local_username" => format!("{bridge}local_username u"),
            "local_password" => format!("{bridge}local_username u\nlocal_password p"),
            "idle_timeout" => format!("{bridge}idle_timeout 60"),
            "threshold" => format!("{bridge}threshold 10"),
            _ => return None,
        })
    };
    for info in OPTIONS.iter().filter(|o| o.support == Support::Refused) {
        let text = sample(info.name).unwrap_or_else(|| panic!("no sample line for refused option {}", info.name));
        let errors = match mq_config::parse_str_checked(&text, "mq.conf") {
            Ok(_) => panic!("{} is marked refused but {text:?} is accepted", info.name),
            Err(e) => e.to_string(),
        };
        // A plugin's options go with its `plugin` line (line 2), which is the one refused.
        let line = if info.scope == OptionScope::PluginOption { 2 } else { text.lines().count() };
        assert!(errors.contains(&format!("mq.conf:{line}:")), "{}: {errors}", info.name);
        assert!(!info.note.is_empty(), "{} is refused without a why", info.name);
    }
    for info in OPTIONS.iter().filter(|o| matches!(o.support, Support::Partial | Support::Moot)) {
        assert!(!info.note.is_empty(), "{} has no note", info.name);
    }
    // Moot options load.
    let moot = "autosave_interval 60\nautosave_on_changes true\nmemory_limit 1000\nallow_duplicate_messages true\n";
    assert!(mq_config::parse_str_checked(moot, "mq.conf").is_ok());
}
