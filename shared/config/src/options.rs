//! The catalogue of option names: which options exist and where they belong.
//!
//! The parser dispatches on the name itself; this table is what unknown-name
//! suggestions, documentation and tests use to know every option. A test
//! checks that every name listed here is understood by the parser.

/// Where an option may appear and what it configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionScope {
    /// A broker-wide option, allowed anywhere.
    Global,
    /// A security option: global, or per listener with
    /// `per_listener_settings true`.
    Security,
    /// Only meaningful inside a plugin's option list (`plugin_opt_*`,
    /// `auth_opt_*`, `auth_plugin_deny_special_chars`).
    PluginOption,
    /// A listener option (inside a `listener` section, or for the legacy
    /// default listener).
    Listener,
    /// Starts a listener section (`listener`).
    ListenerSection,
    /// Configures the legacy default listener (`port`, `bind_address`).
    DefaultListener,
    /// Starts a bridge section (`connection`).
    BridgeSection,
    /// A bridge option (inside a `connection` section).
    Bridge,
    /// `include_dir`, main file only.
    Include,
    /// Removed from Mosquitto; accepted with a warning and ignored.
    Removed,
}

/// How far the broker honours an option it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Support {
    /// Does what Mosquitto 2.0 does with it.
    Supported,
    /// Some values work; the others are refused at start with the line and why (see the note).
    Partial,
    /// Accepted and checked, but has nothing to do in mq (see the note).
    Moot,
    /// Refused at start with the line and why (see the note).
    Refused,
    /// Removed from Mosquitto before 2.0: accepted with a warning and ignored.
    Removed,
}

impl Support {
    /// The word the documentation uses.
    pub fn label(self) -> &'static str {
        match self {
            Support::Supported => "supported",
            Support::Partial => "partly",
            Support::Moot => "accepted, moot",
            Support::Refused => "refused",
            Support::Removed => "removed, ignored",
        }
    }
}

/// One option of the catalogue: its name, where it may appear, how far it is supported and, unless
/// supported, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionInfo {
    /// The name (`auth_opt_` and `plugin_opt_` stand for their families).
    pub name: &'static str,
    /// Where it may appear.
    pub scope: OptionScope,
    /// How far the broker honours it.
    pub support: Support,
    /// What is missing or why it is moot; empty when supported.
    pub note: &'static str,
}

const fn opt(name: &'static str, scope: OptionScope, support: Support, note: &'static str) -> OptionInfo {
    OptionInfo { name, scope, support, note }
}

/// Every option name mq understands (Mosquitto 2.0), with its scope and support: the one table the
/// parser's suggestions, `mq.conf(5)` and README's support table are made from.
/// `auth_opt_*` and `plugin_opt_*` are families, matched by prefix.
pub const OPTIONS: &[OptionInfo] = &[
    // general
    opt("pid_file", OptionScope::Global, Support::Supported, ""),
    opt("user", OptionScope::Global, Support::Supported, ""),
    opt("per_listener_settings", OptionScope::Global, Support::Supported, ""),
    opt("sys_interval", OptionScope::Global, Support::Supported, ""),
    opt("connection_messages", OptionScope::Global, Support::Supported, ""),
    opt("check_retain_source", OptionScope::Global, Support::Supported, ""),
    opt(
        "allow_duplicate_messages",
        OptionScope::Global,
        Support::Moot,
        "deprecated; a client gets one copy of a message, as Mosquitto 2.0 with `false`",
    ),
    opt("upgrade_outgoing_qos", OptionScope::Global, Support::Supported, ""),
    opt(
        "set_tcp_nodelay",
        OptionScope::Global,
        Support::Supported,
        "default `true` in mq (Mosquitto: `false`): without it a subscriber of a steady stream waits on delayed acknowledgements (p50 18 ms at 20,000 msg/s)",
    ),
    opt("clientid_prefixes", OptionScope::Global, Support::Supported, ""),
    opt("memory_limit", OptionScope::Global, Support::Moot, "accepted, not enforced"),
    opt("include_dir", OptionScope::Include, Support::Supported, ""),
    // logging
    opt("log_dest", OptionScope::Global, Support::Partial, "`dlt` is accepted and logs nowhere"),
    opt("log_facility", OptionScope::Global, Support::Supported, ""),
    opt("log_timestamp", OptionScope::Global, Support::Supported, ""),
    opt("log_timestamp_format", OptionScope::Global, Support::Supported, ""),
    opt("log_type", OptionScope::Global, Support::Supported, ""),
    opt("log_format", OptionScope::Global, Support::Supported, "mq only: `text` or `json` lines"),
    opt("metrics_listener", OptionScope::Global, Support::Supported, "mq only: the Prometheus endpoint"),
    opt(
        "websockets_log_level",
        OptionScope::Global,
        Support::Partial,
        "selects mq's own WebSocket log lines (errors, upgrades), not libwebsockets'",
    ),
    opt("websockets_headers_size", OptionScope::Global, Support::Supported, ""),
    // persistence
    opt("persistence", OptionScope::Global, Support::Supported, ""),
    opt("retained_persistence", OptionScope::Global, Support::Supported, ""),
    opt("persistence_file", OptionScope::Global, Support::Supported, ""),
    opt("persistence_location", OptionScope::Global, Support::Supported, ""),
    opt("autosave_interval", OptionScope::Global, Support::Moot, "every change is stored as it happens"),
    opt("autosave_on_changes", OptionScope::Global, Support::Moot, "every change is stored as it happens"),
    opt("persistence_fsync", OptionScope::Global, Support::Supported, ""),
    opt("persistent_client_expiration", OptionScope::Global, Support::Supported, ""),
    opt("queue_qos0_messages", OptionScope::Global, Support::Supported, ""),
    // limits
    opt("max_inflight_messages", OptionScope::Global, Support::Supported, ""),
    opt("max_inflight_bytes", OptionScope::Global, Support::Supported, ""),
    opt("max_queued_messages", OptionScope::Global, Support::Supported, ""),
    opt("max_queued_bytes", OptionScope::Global, Support::Supported, ""),
    opt("message_size_limit", OptionScope::Global, Support::Supported, ""),
    opt("max_packet_size", OptionScope::Global, Support::Supported, ""),
    opt("max_keepalive", OptionScope::Global, Support::Supported, ""),
    opt("retain_available", OptionScope::Global, Support::Supported, ""),
    // security
    opt("password_file", OptionScope::Security, Support::Supported, ""),
    opt("acl_file", OptionScope::Security, Support::Supported, ""),
    opt("psk_file", OptionScope::Security, Support::Refused, "TLS-PSK: rustls has no pre-shared keys"),
    opt("allow_anonymous", OptionScope::Security, Support::Supported, ""),
    opt("allow_zero_length_clientid", OptionScope::Security, Support::Supported, ""),
    opt("auto_id_prefix", OptionScope::Security, Support::Supported, ""),
    opt("plugin", OptionScope::Security, Support::Refused, "plugins are not supported yet"),
    opt("auth_plugin", OptionScope::Security, Support::Refused, "plugins are not supported yet"),
    opt("auth_plugin_deny_special_chars", OptionScope::PluginOption, Support::Refused, "plugins are not supported yet"),
    opt("auth_opt_", OptionScope::PluginOption, Support::Refused, "plugins are not supported yet (`auth_opt_*`)"),
    opt("plugin_opt_", OptionScope::PluginOption, Support::Refused, "plugins are not supported yet (`plugin_opt_*`)"),
    // listeners
    opt("listener", OptionScope::ListenerSection, Support::Supported, ""),
    opt("port", OptionScope::DefaultListener, Support::Supported, ""),
    opt("bind_address", OptionScope::DefaultListener, Support::Supported, ""),
    opt("bind_interface", OptionScope::Listener, Support::Supported, ""),
    opt("socket_domain", OptionScope::Listener, Support::Supported, ""),
    opt("protocol", OptionScope::Listener, Support::Supported, ""),
    opt("mount_point", OptionScope::Listener, Support::Supported, ""),
    opt("http_dir", OptionScope::Listener, Support::Supported, ""),
    opt("max_connections", OptionScope::Listener, Support::Supported, ""),
    opt("max_qos", OptionScope::Listener, Support::Supported, ""),
    opt("maximum_qos", OptionScope::Listener, Support::Supported, ""),
    opt("max_topic_alias", OptionScope::Listener, Support::Supported, ""),
    opt("use_username_as_clientid", OptionScope::Listener, Support::Supported, ""),
    opt("cafile", OptionScope::Listener, Support::Supported, ""),
    opt("capath", OptionScope::Listener, Support::Supported, ""),
    opt("certfile", OptionScope::Listener, Support::Supported, ""),
    opt("keyfile", OptionScope::Listener, Support::Supported, ""),
    opt("crlfile", OptionScope::Listener, Support::Supported, ""),
    opt(
        "dhparamfile",
        OptionScope::Listener,
        Support::Moot,
        "rustls has no DHE suites; clients use ECDHE, a start-up line says so",
    ),
    opt(
        "ciphers",
        OptionScope::Listener,
        Support::Partial,
        "OpenSSL cipher strings mapped onto the ECDHE suites rustls offers; a suite it lacks (DHE, CBC) is refused",
    ),
    opt(
        "ciphers_tls1.3",
        OptionScope::Listener,
        Support::Partial,
        "the three TLS 1.3 suites rustls offers; the CCM ones are refused",
    ),
    opt(
        "tls_version",
        OptionScope::Listener,
        Support::Partial,
        "`tlsv1.1` serves TLS 1.2 and 1.3 (rustls has no TLS 1.1) and says so at start",
    ),
    opt("tls_engine", OptionScope::Listener, Support::Refused, "OpenSSL engines: keys are read from PEM files"),
    opt(
        "tls_engine_kpass_sha1",
        OptionScope::Listener,
        Support::Refused,
        "OpenSSL engines: keys are read from PEM files",
    ),
    opt("tls_keyform", OptionScope::Listener, Support::Partial, "`pem` only; `engine` is refused (no OpenSSL engines)"),
    opt("require_certificate", OptionScope::Listener, Support::Supported, ""),
    opt("use_identity_as_username", OptionScope::Listener, Support::Supported, ""),
    opt("use_subject_as_username", OptionScope::Listener, Support::Supported, ""),
    opt("psk_hint", OptionScope::Listener, Support::Refused, "TLS-PSK: rustls has no pre-shared keys"),
    // bridges
    opt("connection", OptionScope::BridgeSection, Support::Supported, ""),
    opt("address", OptionScope::Bridge, Support::Supported, ""),
    opt("addresses", OptionScope::Bridge, Support::Supported, ""),
    opt("round_robin", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_protocol_version", OptionScope::Bridge, Support::Supported, ""),
    opt("remote_clientid", OptionScope::Bridge, Support::Supported, ""),
    opt("clientid", OptionScope::Bridge, Support::Supported, ""),
    opt("local_clientid", OptionScope::Bridge, Support::Supported, ""),
    opt("remote_username", OptionScope::Bridge, Support::Supported, ""),
    opt("username", OptionScope::Bridge, Support::Supported, ""),
    opt("remote_password", OptionScope::Bridge, Support::Supported, ""),
    opt("password", OptionScope::Bridge, Support::Supported, ""),
    opt(
        "local_username",
        OptionScope::Bridge,
        Support::Supported,
        "mq logs the bridge in with it and applies its ACL (Mosquitto reads it but checks nothing)",
    ),
    opt(
        "local_password",
        OptionScope::Bridge,
        Support::Supported,
        "mq logs the bridge in with it and applies its ACL (Mosquitto reads it but checks nothing)",
    ),
    opt("cleansession", OptionScope::Bridge, Support::Supported, ""),
    opt("local_cleansession", OptionScope::Bridge, Support::Supported, ""),
    opt("keepalive_interval", OptionScope::Bridge, Support::Supported, ""),
    opt("start_type", OptionScope::Bridge, Support::Supported, ""),
    opt("restart_timeout", OptionScope::Bridge, Support::Supported, ""),
    opt("idle_timeout", OptionScope::Bridge, Support::Supported, ""),
    opt("threshold", OptionScope::Bridge, Support::Supported, ""),
    opt("try_private", OptionScope::Bridge, Support::Supported, ""),
    opt("notifications", OptionScope::Bridge, Support::Supported, ""),
    opt("notifications_local_only", OptionScope::Bridge, Support::Supported, ""),
    opt("notification_topic", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_attempt_unsubscribe", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_outgoing_retain", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_max_packet_size", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_bind_address", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_cafile", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_capath", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_certfile", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_keyfile", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_insecure", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_tls_version", OptionScope::Bridge, Support::Supported, ""),
    opt("bridge_alpn", OptionScope::Bridge, Support::Supported, ""),
    opt(
        "bridge_require_ocsp",
        OptionScope::Bridge,
        Support::Partial,
        "`false` only: rustls does not request OCSP stapling",
    ),
    opt("bridge_identity", OptionScope::Bridge, Support::Refused, "TLS-PSK: rustls has no pre-shared keys"),
    opt("bridge_psk", OptionScope::Bridge, Support::Refused, "TLS-PSK: rustls has no pre-shared keys"),
    opt("topic", OptionScope::Bridge, Support::Supported, ""),
    // removed: accepted with a warning
    opt("retry_interval", OptionScope::Removed, Support::Removed, ""),
    opt("store_clean_interval", OptionScope::Removed, Support::Removed, ""),
    opt("trace_level", OptionScope::Removed, Support::Removed, ""),
    opt("trace_output", OptionScope::Removed, Support::Removed, ""),
    opt("ffdc_output", OptionScope::Removed, Support::Removed, ""),
    opt("max_log_entries", OptionScope::Removed, Support::Removed, ""),
];

/// Options that exist only in Mosquitto 2.1 and later: named in the error so
/// the user knows the option is real but not for this broker.
pub const NEWER_OPTIONS: &[&str] = &[
    "accept_protocol_versions",
    "enable_control_api",
    "enable_proxy_protocol",
    "proxy_protocol_v2_require_tls",
    "global_max_clients",
    "global_max_connections",
    "global_plugin",
    "plugin_load",
    "plugin_use",
    "max_topic_alias_broker",
    "disable_client_cert_date_checks",
    "websockets_origin",
    "bridge_receive_maximum",
    "bridge_session_expiry_interval",
    "bridge_max_topic_alias",
    "bridge_tls_use_os_certs",
    "bridge_ciphers",
    "bridge_ciphers_tls1.3",
    "bridge_tcp_keepalive",
    "bridge_tcp_user_timeout",
    "bridge_reload_type",
];

/// Why a removed option was removed (for the warning).
pub(crate) fn removed_note(name: &str) -> &'static str {
    match name {
        "retry_interval" => "removed in Mosquitto 2.0",
        "store_clean_interval" => "no longer needed since Mosquitto 1.5",
        _ => "an option of the old IBM rsmb broker that Mosquitto never used",
    }
}

/// The scope of `name`, or `None` when it is not an option.
pub fn option_scope(name: &str) -> Option<OptionScope> {
    if is_plugin_option_family(name) {
        return Some(OptionScope::PluginOption);
    }
    OPTIONS.iter().find(|o| o.name == name && !o.name.ends_with('_')).map(|o| o.scope)
}

/// `auth_opt_<key>` or `plugin_opt_<key>` (the key may be empty here; the
/// parser reports an empty key).
pub(crate) fn is_plugin_option_family(name: &str) -> bool {
    name.starts_with("auth_opt_") || name.starts_with("plugin_opt_")
}

/// The known option closest to a misspelt `name`, when close enough to be a
/// plausible typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    if name.len() < 3 {
        return None;
    }
    // Short names get one edit; longer ones two ("listen" -> "listener").
    let limit = if name.len() < 5 { 1 } else { 2 };
    OPTIONS
        .iter()
        .map(|o| o.name)
        .filter(|n| !n.ends_with('_'))
        .map(|n| (edit_distance(name, n), n))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

/// Levenshtein distance over bytes (option names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("alow_anonymous"), Some("allow_anonymous"));
        assert_eq!(suggest("Listener"), Some("listener"));
        assert_eq!(suggest("listen"), Some("listener"));
        assert_eq!(suggest("usr"), Some("user"));
        assert_eq!(suggest("bogus_option"), None);
        assert_eq!(suggest("xy"), None);
    }

    #[test]
    fn scopes() {
        assert_eq!(option_scope("listener"), Some(OptionScope::ListenerSection));
        assert_eq!(option_scope("plugin_opt_db"), Some(OptionScope::PluginOption));
        assert_eq!(option_scope("auth_opt_"), Some(OptionScope::PluginOption));
        assert_eq!(option_scope("nope"), None);
    }

    #[test]
    fn no_duplicates_in_catalogue() {
        let mut names: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for n in NEWER_OPTIONS {
            assert!(option_scope(n).is_none(), "{n} is both known and newer");
        }
    }
}
