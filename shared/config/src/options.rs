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

/// Every option name mq understands (Mosquitto 2.0), with its scope.
/// `auth_opt_*` and `plugin_opt_*` are families, matched by prefix.
pub const OPTIONS: &[(&str, OptionScope)] = &[
    // general
    ("pid_file", OptionScope::Global),
    ("user", OptionScope::Global),
    ("per_listener_settings", OptionScope::Global),
    ("sys_interval", OptionScope::Global),
    ("connection_messages", OptionScope::Global),
    ("check_retain_source", OptionScope::Global),
    ("allow_duplicate_messages", OptionScope::Global),
    ("upgrade_outgoing_qos", OptionScope::Global),
    ("set_tcp_nodelay", OptionScope::Global),
    ("clientid_prefixes", OptionScope::Global),
    ("memory_limit", OptionScope::Global),
    ("include_dir", OptionScope::Include),
    // logging
    ("log_dest", OptionScope::Global),
    ("log_facility", OptionScope::Global),
    ("log_timestamp", OptionScope::Global),
    ("log_timestamp_format", OptionScope::Global),
    ("log_type", OptionScope::Global),
    ("log_format", OptionScope::Global),       // mq only: text or json lines
    ("metrics_listener", OptionScope::Global), // mq only: the Prometheus endpoint
    ("websockets_log_level", OptionScope::Global),
    ("websockets_headers_size", OptionScope::Global),
    // persistence
    ("persistence", OptionScope::Global),
    ("retained_persistence", OptionScope::Global),
    ("persistence_file", OptionScope::Global),
    ("persistence_location", OptionScope::Global),
    ("autosave_interval", OptionScope::Global),
    ("autosave_on_changes", OptionScope::Global),
    ("persistence_fsync", OptionScope::Global),
    ("persistent_client_expiration", OptionScope::Global),
    ("queue_qos0_messages", OptionScope::Global),
    // limits
    ("max_inflight_messages", OptionScope::Global),
    ("max_inflight_bytes", OptionScope::Global),
    ("max_queued_messages", OptionScope::Global),
    ("max_queued_bytes", OptionScope::Global),
    ("message_size_limit", OptionScope::Global),
    ("max_packet_size", OptionScope::Global),
    ("max_keepalive", OptionScope::Global),
    ("retain_available", OptionScope::Global),
    // security
    ("password_file", OptionScope::Security),
    ("acl_file", OptionScope::Security),
    ("psk_file", OptionScope::Security),
    ("allow_anonymous", OptionScope::Security),
    ("allow_zero_length_clientid", OptionScope::Security),
    ("auto_id_prefix", OptionScope::Security),
    ("plugin", OptionScope::Security),
    ("auth_plugin", OptionScope::Security),
    ("auth_plugin_deny_special_chars", OptionScope::PluginOption),
    ("auth_opt_", OptionScope::PluginOption),
    ("plugin_opt_", OptionScope::PluginOption),
    // listeners
    ("listener", OptionScope::ListenerSection),
    ("port", OptionScope::DefaultListener),
    ("bind_address", OptionScope::DefaultListener),
    ("bind_interface", OptionScope::Listener),
    ("socket_domain", OptionScope::Listener),
    ("protocol", OptionScope::Listener),
    ("mount_point", OptionScope::Listener),
    ("http_dir", OptionScope::Listener),
    ("max_connections", OptionScope::Listener),
    ("max_qos", OptionScope::Listener),
    ("maximum_qos", OptionScope::Listener),
    ("max_topic_alias", OptionScope::Listener),
    ("use_username_as_clientid", OptionScope::Listener),
    ("cafile", OptionScope::Listener),
    ("capath", OptionScope::Listener),
    ("certfile", OptionScope::Listener),
    ("keyfile", OptionScope::Listener),
    ("crlfile", OptionScope::Listener),
    ("dhparamfile", OptionScope::Listener),
    ("ciphers", OptionScope::Listener),
    ("ciphers_tls1.3", OptionScope::Listener),
    ("tls_version", OptionScope::Listener),
    ("tls_engine", OptionScope::Listener),
    ("tls_engine_kpass_sha1", OptionScope::Listener),
    ("tls_keyform", OptionScope::Listener),
    ("require_certificate", OptionScope::Listener),
    ("use_identity_as_username", OptionScope::Listener),
    ("use_subject_as_username", OptionScope::Listener),
    ("psk_hint", OptionScope::Listener),
    // bridges
    ("connection", OptionScope::BridgeSection),
    ("address", OptionScope::Bridge),
    ("addresses", OptionScope::Bridge),
    ("round_robin", OptionScope::Bridge),
    ("bridge_protocol_version", OptionScope::Bridge),
    ("remote_clientid", OptionScope::Bridge),
    ("clientid", OptionScope::Bridge),
    ("local_clientid", OptionScope::Bridge),
    ("remote_username", OptionScope::Bridge),
    ("username", OptionScope::Bridge),
    ("remote_password", OptionScope::Bridge),
    ("password", OptionScope::Bridge),
    ("local_username", OptionScope::Bridge),
    ("local_password", OptionScope::Bridge),
    ("cleansession", OptionScope::Bridge),
    ("local_cleansession", OptionScope::Bridge),
    ("keepalive_interval", OptionScope::Bridge),
    ("start_type", OptionScope::Bridge),
    ("restart_timeout", OptionScope::Bridge),
    ("idle_timeout", OptionScope::Bridge),
    ("threshold", OptionScope::Bridge),
    ("try_private", OptionScope::Bridge),
    ("notifications", OptionScope::Bridge),
    ("notifications_local_only", OptionScope::Bridge),
    ("notification_topic", OptionScope::Bridge),
    ("bridge_attempt_unsubscribe", OptionScope::Bridge),
    ("bridge_outgoing_retain", OptionScope::Bridge),
    ("bridge_max_packet_size", OptionScope::Bridge),
    ("bridge_bind_address", OptionScope::Bridge),
    ("bridge_cafile", OptionScope::Bridge),
    ("bridge_capath", OptionScope::Bridge),
    ("bridge_certfile", OptionScope::Bridge),
    ("bridge_keyfile", OptionScope::Bridge),
    ("bridge_insecure", OptionScope::Bridge),
    ("bridge_tls_version", OptionScope::Bridge),
    ("bridge_alpn", OptionScope::Bridge),
    ("bridge_require_ocsp", OptionScope::Bridge),
    ("bridge_identity", OptionScope::Bridge),
    ("bridge_psk", OptionScope::Bridge),
    ("topic", OptionScope::Bridge),
    // removed: accepted with a warning
    ("retry_interval", OptionScope::Removed),
    ("store_clean_interval", OptionScope::Removed),
    ("trace_level", OptionScope::Removed),
    ("trace_output", OptionScope::Removed),
    ("ffdc_output", OptionScope::Removed),
    ("max_log_entries", OptionScope::Removed),
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
    OPTIONS.iter().find(|(n, _)| *n == name && !n.ends_with('_')).map(|&(_, s)| s)
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
        .map(|(n, _)| *n)
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
        let mut names: Vec<&str> = OPTIONS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for n in NEWER_OPTIONS {
            assert!(option_scope(n).is_none(), "{n} is both known and newer");
        }
    }
}
