//! `mq-config`: read a Mosquitto 2.0 `mosquitto.conf` into a typed,
//! validated [`Config`].
//!
//! ```
//! let (cfg, warnings) = mq_config::parse_str(
//!     "listener 1883\npassword_file /etc/mq/passwd\n",
//!     "mq.conf",
//! ).unwrap();
//! assert!(warnings.is_empty());
//! let sec = cfg.security_for(&cfg.listeners[0]);
//! assert_eq!(sec.password_file.unwrap().to_str(), Some("/etc/mq/passwd"));
//! assert!(!sec.allow_anonymous); // a listener is configured: no anonymous
//! ```
//!
//! # Using it in the broker
//!
//! * [`load`] the `-c` file, or use [`Config::local_only`] without `-c`;
//!   then [`Config::apply_cli_ports`] with the `-p` ports.
//! * Print the [`Warning`]s; on error print every [`ConfigError`] (one
//!   `path:line: message` per line) and exit.
//! * [`Config::check_supported`] refuses, line by line, what the broker
//!   cannot do (TLS-PSK, OpenSSL engines, cipher suites rustls lacks, TLS
//!   options that cannot take effect, bridges, plugins); [`load_checked`]
//!   reports those together with the parse errors, in one list.
//! * [`Config::security_for`] gives the password file, ACL file and
//!   `allow_anonymous` in force on a listener, whether or not
//!   `per_listener_settings` is on.
//! * On SIGHUP, load again and call [`Config::reload`]: it keeps the
//!   non-reloadable options and lists those that changed.
//!
//! Every value is a [`Setting`]: the value plus the [`Span`] (`path:line`)
//! that set it, `None` for a default.
//!
//! # File syntax
//!
//! * One option per line: `name value`. The name is separated from the value
//!   by spaces or tabs; leading and trailing blanks are ignored.
//! * A line whose first non-blank character is `#` is a comment. Blank lines
//!   are ignored. CRLF line ends are accepted, and a UTF-8 byte order mark at
//!   the start of the file.
//! * Option names are case-sensitive.
//! * Text values (paths, prefixes, formats, passwords) are the whole rest of
//!   the line, so they may contain spaces: `log_timestamp_format %Y-%m-%d
//!   %H:%M:%S`.
//! * `include_dir <dir>` (main file only, repeatable) reads every `*.conf`
//!   file of `dir` in Mosquitto's order: compared case-insensitively, and
//!   where two names differ only in case the upper-case one first
//!   (`00.conf A.conf a.conf B.conf b.conf Z.conf _x.conf`). Relative paths
//!   (here and in every path option) are relative to the working directory,
//!   as in Mosquitto.
//! * `listener <port> [<address>]` opens a listener section; `listener 0
//!   <path>` a Unix socket listener. `connection <name>` opens a bridge
//!   section. Each file starts outside any section.
//!
//! ## Trailing comments
//!
//! Mosquitto has no trailing comments: for text options it keeps ` # ...` as
//! part of the value, for numbers and booleans it silently ignores whatever
//! follows the first word. mq loses nothing and hides nothing:
//! * a value of one word (number, boolean, keyword, the `listener` line, a
//!   bridge `topic` or `address`) may be followed by `# comment`, which is
//!   ignored since it cannot be part of such a value; any other extra word
//!   is an error (`max_queued_messages 10 20`);
//! * a text value is kept whole, ` #` included (so a path containing `#`
//!   still works), with a warning that it contains ` #`.
//!
//! # Options
//!
//! All Mosquitto 2.0 options are understood. Scopes: G = global (allowed in
//! any section), L = listener, L\* = global, or per listener with
//! `per_listener_settings true`, B = bridge.
//!
//! | Option | Scope | Value, default |
//! |---|---|---|
//! | `pid_file` | G | path |
//! | `user` | G | name, default `mosquitto` |
//! | `per_listener_settings` | G | bool, false; must precede every security option |
//! | `sys_interval` | G | 0..=65535 s, 10 (0 = no `$SYS`) |
//! | `connection_messages` | G | bool, true |
//! | `check_retain_source` | G | bool, **false** (documented true) |
//! | `allow_duplicate_messages` | G | bool, **false** (documented true); deprecated |
//! | `upgrade_outgoing_qos` | G | bool, false |
//! | `set_tcp_nodelay` | G | bool, true (Mosquitto: false) |
//! | `clientid_prefixes` | G | text; deprecated |
//! | `memory_limit` | G | bytes, 0 = none |
//! | `log_dest` | G | `stdout` `stderr` `syslog` `topic` `dlt` `none` `file <path>`, repeatable; stderr |
//! | `log_facility` | G | 0..=7 (`local0`..`local7`), daemon |
//! | `log_timestamp` | G | bool, true |
//! | `log_timestamp_format` | G | strftime text |
//! | `log_type` | G | `debug` `error` `warning` `notice` `information` `subscribe` `unsubscribe` `websockets` `internal` `none` `all`, repeatable, OR-ed |
//! | `password_file`, `acl_file`, `psk_file` | L\* | path |
//! | `allow_anonymous` | L\* | bool; false when the file configures a listener, true in local-only mode |
//! | `allow_zero_length_clientid` | L\* | bool, true |
//! | `auto_id_prefix` | L\* | text, `auto-` |
//! | `plugin` / `auth_plugin`, `plugin_opt_*` / `auth_opt_*`, `auth_plugin_deny_special_chars` | L\* | path, text, bool |
//! | `use_username_as_clientid` | L | bool, false |
//! | `max_connections` | L | -1 (unlimited) or 0..=2147483647 |
//! | `max_qos` / `maximum_qos` | L | 0..=2, 2 |
//! | `max_topic_alias` | L | 0..=65535, 10 |
//! | `max_inflight_messages` | G | 0..=65535, 20 (0 = unlimited) |
//! | `max_inflight_bytes`, `max_queued_bytes` | G | bytes, 0 = none |
//! | `max_queued_messages` | G | 0..=2147483647, 1000 |
//! | `message_size_limit` | G | 0..=268435455, 0 = MQTT maximum |
//! | `max_packet_size` | G | 0 (none, default) or 20..=268435460 |
//! | `max_keepalive` | G | 10..=65535, 65535 |
//! | `retain_available`, `queue_qos0_messages` | G | bool, true / false |
//! | `persistent_client_expiration` | G | `<n>h` `d` `w` `m` (30 days) `y` (365 days), never |
//! | `persistence` / `retained_persistence`, `persistence_file`, `persistence_location`, `autosave_interval`, `autosave_on_changes` | G | false, `mosquitto.db`, working dir, 1800, false |
//! | `listener` | — | `<port> [<address>]` or `0 <path>` |
//! | `port`, `bind_address` | default listener | deprecated legacy default listener |
//! | `bind_interface`, `socket_domain ipv4\|ipv6`, `protocol mqtt\|websockets`, `mount_point`, `http_dir` | L | |
//! | `cafile` `capath` `certfile` `keyfile` `crlfile` `dhparamfile` `ciphers` `ciphers_tls1.3` `tls_version` `tls_engine` `tls_engine_kpass_sha1` `tls_keyform` `require_certificate` `use_identity_as_username` `use_subject_as_username` `psk_hint` | L | TLS / TLS-PSK |
//! | `websockets_log_level`, `websockets_headers_size` | G | int, 0..=65535 |
//! | `connection` and every bridge option (`address`, `topic`, `remote_*`, `local_*`, `bridge_*`, ...) | B | see [`Bridge`] |
//!
//! How far each option is supported (supported, partly, accepted but moot,
//! refused, removed) and why is the `support` and `note` of its entry in
//! [`OPTIONS`], from which `cargo xtask gen` writes `man/mq.conf.5` and
//! README's support table; a test checks the refused ones against
//! [`Config::check_supported`].
//!
//! Not available (parsed, validated, then refused by
//! [`Config::check_supported`]): TLS-PSK (`psk_hint`, `psk_file`), OpenSSL
//! engines (`tls_engine`, `tls_keyform engine`), `ciphers` naming suites
//! rustls does not offer ([`ciphers`] maps OpenSSL names), bridges, plugins.
//!
//! Removed options (`retry_interval`, `store_clean_interval` and the old rsmb
//! options `trace_level`, `trace_output`, `ffdc_output`, `max_log_entries`)
//! are accepted with a warning and ignored. Mosquitto 2.1 options
//! (`global_max_clients`, `accept_protocol_versions`, ...) are errors that
//! say so.
//!
//! # Differences from Mosquitto 2.0
//!
//! mq is stricter and says why; a configuration that mq accepts behaves as it
//! does in Mosquitto 2.0, except where noted.
//!
//! 1. **All errors at once**, each as `path:line: what and why`, instead of
//!    stopping at the first one.
//! 2. **Numbers are checked**: Mosquitto reads numbers with C `atoi`, so
//!    `max_inflight_messages abc` silently becomes 0 and `10abc` becomes 10;
//!    mq reports them. Negative values Mosquitto quietly turns into 0
//!    (`max_queued_messages -5`) are errors, except `max_connections -1`
//!    (documented as "unlimited").
//! 3. **Out-of-range values Mosquitto clamps are errors**: bridge
//!    `keepalive_interval` below 5, `idle_timeout`/`threshold`/
//!    `restart_timeout` below 1.
//! 4. **`max_packet_size 0`** (the documented default, "no limit") is
//!    accepted; Mosquitto rejects it. 1..=19 are errors in both.
//! 5. **Listener options outside a listener** apply to the default
//!    listener, as in Mosquitto. It opens (port 1883 on every interface,
//!    unless `port`/`bind_address` say otherwise) when `port` or
//!    `bind_address` is given or when such a line sets one of the options
//!    Mosquitto opens it for (`max_connections`, `max_qos`, `protocol`,
//!    `mount_point`, `socket_domain`, `bind_interface`,
//!    `use_username_as_clientid`, the TLS options, and with
//!    `per_listener_settings true` `password_file`, `psk_file`, `plugin`,
//!    `allow_zero_length_clientid false`) to other than its default; with
//!    listener sections in the file too a warning says so. The other
//!    listener options outside a listener (`max_topic_alias`, `http_dir`,
//!    `tls_version`, an option at its default value, and with
//!    `per_listener_settings true` `acl_file`, `allow_anonymous`,
//!    `auto_id_prefix`) are errors when nothing opens the default listener:
//!    Mosquitto ignores them silently. `port`/`bind_address` inside a
//!    listener or bridge section are errors (Mosquitto applies them to the
//!    default listener, silently opening another listener).
//! 6. **Sections are strict**: a listener option inside a bridge section, or
//!    a bridge option outside one, is an error (Mosquitto applies the former
//!    to the last listener and reports the latter as "Invalid bridge
//!    configuration"). Global options are allowed anywhere, as in Mosquitto.
//! 7. **A file without listeners** is local-only mode as in Mosquitto, but an
//!    explicit `allow_anonymous false` is respected (Mosquitto forces
//!    anonymous access on in that mode).
//! 8. **Repeated options**: text options given twice are errors (as in
//!    Mosquitto); numbers and booleans given twice keep the last value (as in
//!    Mosquitto) with a warning. `per_listener_settings false` after `true`
//!    is an error (Mosquitto ignores it).
//! 9. **Duplicate listeners** (same port and address, or same socket path)
//!    are errors at parse time instead of "Address already in use" at start.
//! 10. **Indented comments and tabs** are accepted (Mosquitto reports
//!     `  # note` as an unknown option and does not split on tabs).
//! 11. **`include_dir` in an included file** is an error (Mosquitto ignores
//!     it silently); including the main file itself is an error.
//! 12. **Removed options** from before 2.0 (`store_clean_interval`, the rsmb
//!     options) are warnings, not errors, so old configurations still load.
//! 13. **Host names are not resolved** while parsing (Mosquitto resolves
//!     `bind_address` at parse time); the broker resolves them when binding.
//! 14. **Checks Mosquitto leaves to start-up** are parse errors: `certfile`
//!     without `keyfile` and the reverse, `psk_hint` together with
//!     certificates, `http_dir` without `protocol websockets`,
//!     `socket_domain`/`bind_interface`/WebSockets on a Unix socket, a
//!     `listener 1883 /path` that looks like a socket path, a bridge without
//!     `address` or `topic`, `remote_password` without `remote_username`,
//!     `tls_version` and `tls_keyform` values, `tls_engine_kpass_sha1` hex.
//! 15. **Plugin options** (`plugin_opt_*`) attach to a `plugin` line of the
//!     same section; Mosquitto lets them reach across listener sections.

#![warn(missing_docs)]

mod check;
pub mod ciphers;
mod error;
mod model;
mod options;
mod parser;
mod reload;
mod span;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors, ErrorKind, Misplacement, Warning, WarningKind};
pub use model::{
    Bridge, BridgeAddress, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic, Config, ConfigFile, DEFAULT_PORT,
    DEFAULT_USER, EffectiveSecurity, Fsync, KeyForm, Listener, ListenerAddr, ListenerOrigin, LogDest, LogFormat,
    LogSettings, LogTypes, MetricsListener, PersistenceSettings, Plugin, PluginOption, Protocol, RestartTimeout,
    SecurityOptions, SocketDomain, StartType, TlsOptions, TlsVersion, WebsocketsSettings,
};
pub use options::{NEWER_OPTIONS, OPTIONS, OptionInfo, OptionScope, Support, option_scope};
pub use reload::{NotReloaded, Reload};
pub use span::{Setting, Span};

/// What [`load`] and [`parse_str`] return: the configuration and its
/// warnings, or every error found.
pub type ParseResult = Result<(Config, Vec<Warning>), ConfigErrors>;

/// Read and parse the configuration file at `path` (and the files its
/// `include_dir` lines name).
pub fn load(path: impl AsRef<Path>) -> ParseResult {
    let path = path.as_ref();
    let mut parser = parser::Parser::new(std::fs::canonicalize(path).ok());
    match std::fs::read(path) {
        Ok(bytes) => parser.parse_file(&bytes, path, 0, None),
        Err(e) => parser.file_error(path, &e),
    }
    parser.finish()
}

/// [`load`], and what [`Config::check_supported`] refuses: every error in
/// one list, in the order the lines were read (what the broker reports).
pub fn load_checked(path: impl AsRef<Path>) -> ParseResult {
    let path = path.as_ref();
    let mut parser = parser::Parser::new(std::fs::canonicalize(path).ok());
    match std::fs::read(path) {
        Ok(bytes) => parser.parse_file(&bytes, path, 0, None),
        Err(e) => parser.file_error(path, &e),
    }
    parser.finish_with(true)
}

/// [`parse_str`] and [`Config::check_supported`] in one list of errors, as
/// [`load_checked`].
pub fn parse_str_checked(text: &str, path: impl AsRef<Path>) -> ParseResult {
    let path = path.as_ref();
    let mut parser = parser::Parser::new(std::fs::canonicalize(path).ok());
    parser.parse_file(text.as_bytes(), path, 0, None);
    parser.finish_with(true)
}

/// Parse `text` as if it were the content of the main configuration file
/// `path` (used in messages; the file itself is not read). `include_dir`
/// lines still read the directories they name.
pub fn parse_str(text: &str, path: impl AsRef<Path>) -> ParseResult {
    let path = path.as_ref();
    let mut parser = parser::Parser::new(std::fs::canonicalize(path).ok());
    parser.parse_file(text.as_bytes(), path, 0, None);
    parser.finish()
}
