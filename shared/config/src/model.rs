//! The typed configuration: what the broker acts on.
//!
//! Every field is a [`Setting`]: the value plus the line that set it (`None`
//! for defaults). Defaults follow the Mosquitto 2.0 **code**; where that
//! differs from the Mosquitto documentation the field says so ("DIVERGENCE").

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::span::{Setting, Span};

/// The port Mosquitto listens on when nothing else is said.
pub const DEFAULT_PORT: u16 = 1883;

/// The user a broker started as root switches to when `user` is not set.
pub const DEFAULT_USER: &str = "mosquitto";

/// The whole broker configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every file that was read, the main file first, then included files in
    /// the order they were loaded. Empty for [`Config::local_only`].
    pub files: Vec<ConfigFile>,
    /// True when no listener was configured (no `listener`, `port` or
    /// `bind_address`): the broker then listens on loopback only, port 1883
    /// (or the `-p` ports), and anonymous clients are allowed by default.
    pub local_only: bool,

    // ----- general (mosquitto.conf(5) "General options") -----
    /// `pid_file <path>`: written at start when set. Not reloadable.
    pub pid_file: Setting<Option<PathBuf>>,
    /// `user <name>`: the user to switch to when started as root. `None`
    /// means the Mosquitto default, [`DEFAULT_USER`] (see
    /// [`Config::effective_user`]). Not reloadable.
    pub user: Setting<Option<String>>,
    /// `per_listener_settings true|false` (default false): security options
    /// become per listener. See [`Config::security_for`].
    pub per_listener_settings: Setting<bool>,
    /// `sys_interval <seconds>` (default 10, range 0..=65535): period of
    /// `$SYS` updates; 0 disables `$SYS`.
    pub sys_interval: Setting<u16>,
    /// `connection_messages true|false` (default true): log connects and
    /// disconnects.
    pub connection_messages: Setting<bool>,
    /// `check_retain_source true|false`. Default **false**: DIVERGENCE, the
    /// Mosquitto documentation says true but the 2.0 code initialises it to
    /// false, and brokers behave like the code.
    pub check_retain_source: Setting<bool>,
    /// `allow_duplicate_messages true|false`. Default **false**: DIVERGENCE,
    /// documented as true, the 2.0 code default is false (deliver a message
    /// once per client when subscriptions overlap). Deprecated.
    pub allow_duplicate_messages: Setting<bool>,
    /// `upgrade_outgoing_qos true|false` (default false).
    pub upgrade_outgoing_qos: Setting<bool>,
    /// `set_tcp_nodelay true|false` (default true: mq sends each burst at once; Mosquitto defaults to false).
    pub set_tcp_nodelay: Setting<bool>,
    /// `clientid_prefixes <prefix>`: only client ids starting with it may
    /// connect. Deprecated.
    pub clientid_prefixes: Setting<Option<String>>,
    /// `memory_limit <bytes>` (default 0 = no limit).
    pub memory_limit: Setting<u64>,

    /// Logging options.
    pub log: LogSettings,

    /// `metrics_listener <port> [bind address]` (mq only): serve the broker's figures in the
    /// Prometheus text format on `GET /metrics` there. `None` (default): no metrics endpoint.
    /// Read at start only.
    pub metrics_listener: Setting<Option<MetricsListener>>,

    /// Security options that apply to every listener when
    /// `per_listener_settings` is false. When it is true these stay at their
    /// defaults and each [`Listener::security`] is used instead.
    pub security: SecurityOptions,

    // ----- limits -----
    /// `max_inflight_messages <n>` (default 20, 0..=65535; 0 = unlimited).
    /// Mosquitto also treats 65535 as unlimited.
    pub max_inflight_messages: Setting<u16>,
    /// `max_inflight_bytes <n>` (default 0 = no byte limit).
    pub max_inflight_bytes: Setting<u64>,
    /// `max_queued_messages <n>` (default 1000; 0 = no limit).
    pub max_queued_messages: Setting<u32>,
    /// `max_queued_bytes <n>` (default 0 = no byte limit).
    pub max_queued_bytes: Setting<u64>,
    /// `message_size_limit <bytes>` (default 0 = the MQTT maximum,
    /// 268435455; at most 268435455).
    pub message_size_limit: Setting<u32>,
    /// `max_packet_size <bytes>`: `None` (the default, or `0`) = no limit;
    /// otherwise 20..=268435460 (the largest packet MQTT can encode).
    pub max_packet_size: Setting<Option<u32>>,
    /// `max_keepalive <seconds>` (default 65535). Range 10..=65535 as in
    /// Mosquitto 2.0.
    pub max_keepalive: Setting<u16>,
    /// `retain_available true|false` (default true).
    pub retain_available: Setting<bool>,
    /// `persistent_client_expiration <n><h|d|w|m|y>`: expire disconnected
    /// persistent sessions after this long (`m` = 30 days, `y` = 365 days).
    /// `None` (default) = never.
    pub persistent_client_expiration: Setting<Option<Duration>>,
    /// `queue_qos0_messages true|false` (default false).
    pub queue_qos0_messages: Setting<bool>,

    /// Persistence options.
    pub persistence: PersistenceSettings,

    /// Global WebSockets options.
    pub websockets: WebsocketsSettings,

    /// The listeners to open, in Mosquitto's order: `listener` sections in
    /// file order, then the legacy default listener (`port`/`bind_address`)
    /// if any. Never empty: without any listener in the file this holds the
    /// local-only loopback listeners.
    pub listeners: Vec<Listener>,

    /// `connection <name>` sections.
    pub bridges: Vec<Bridge>,
}

impl Default for Config {
    /// The configuration of an empty file, i.e. [`Config::local_only`].
    fn default() -> Self {
        Self::local_only()
    }
}

impl Config {
    /// The configuration used when the broker is started without `-c`:
    /// Mosquitto 2.0 "local only mode", listeners on `127.0.0.1:1883` and
    /// `[::1]:1883`, anonymous clients allowed, every other option at its
    /// default.
    pub fn local_only() -> Self {
        let mut cfg = Self::defaults_without_listeners();
        cfg.listeners = loopback_listeners(&[DEFAULT_PORT], ListenerOrigin::LocalOnly);
        cfg.local_only = true;
        cfg
    }

    /// Every option at its default and no listener; the parser starts here.
    pub(crate) fn defaults_without_listeners() -> Self {
        Self {
            files: Vec::new(),
            local_only: false,
            pid_file: Setting::default_value(None),
            user: Setting::default_value(None),
            per_listener_settings: Setting::default_value(false),
            sys_interval: Setting::default_value(10),
            connection_messages: Setting::default_value(true),
            check_retain_source: Setting::default_value(false),
            allow_duplicate_messages: Setting::default_value(false),
            upgrade_outgoing_qos: Setting::default_value(false),
            set_tcp_nodelay: Setting::default_value(true),
            clientid_prefixes: Setting::default_value(None),
            metrics_listener: Setting::default_value(None),
            memory_limit: Setting::default_value(0),
            log: LogSettings::default(),
            security: SecurityOptions::default(),
            max_inflight_messages: Setting::default_value(20),
            max_inflight_bytes: Setting::default_value(0),
            max_queued_messages: Setting::default_value(1000),
            max_queued_bytes: Setting::default_value(0),
            message_size_limit: Setting::default_value(0),
            max_packet_size: Setting::default_value(None),
            max_keepalive: Setting::default_value(65535),
            retain_available: Setting::default_value(true),
            persistent_client_expiration: Setting::default_value(None),
            queue_qos0_messages: Setting::default_value(false),
            persistence: PersistenceSettings::default(),
            websockets: WebsocketsSettings::default(),
            listeners: Vec::new(),
            bridges: Vec::new(),
        }
    }

    /// Apply the ports given with `-p` on the command line, as Mosquitto 2.0
    /// does: when the configuration defines no listener (local-only mode),
    /// the loopback listeners are replaced by loopback listeners
    /// (`127.0.0.1` and `::1`) on each given port, in order, duplicates
    /// removed. When the file defines listeners the ports are ignored.
    ///
    /// Returns true when the ports were used, false when they were ignored
    /// (or `ports` is empty), so the broker can log that `-p` had no effect.
    /// Port numbers are taken as given; rejecting 0 is the command line's job.
    pub fn apply_cli_ports(&mut self, ports: &[u16]) -> bool {
        if ports.is_empty() || !self.local_only {
            return false;
        }
        let mut unique: Vec<u16> = Vec::with_capacity(ports.len());
        for &p in ports {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        self.listeners = loopback_listeners(&unique, ListenerOrigin::CommandLine);
        true
    }

    /// The user to switch to when started as root: `user`, or
    /// [`DEFAULT_USER`].
    pub fn effective_user(&self) -> &str {
        self.user.value.as_deref().unwrap_or(DEFAULT_USER)
    }

    /// The security options in force on `listener`: the listener's own when
    /// `per_listener_settings` is true, the global ones otherwise.
    ///
    /// `allow_anonymous` resolves to the value written in the file, or else
    /// to true in local-only mode and false when the file configures
    /// listeners (Mosquitto 2.0 default).
    pub fn security_for<'a>(&'a self, listener: &'a Listener) -> EffectiveSecurity<'a> {
        let opts = if self.per_listener_settings.value { &listener.security } else { &self.security };
        EffectiveSecurity {
            password_file: opts.password_file.value.as_deref(),
            acl_file: opts.acl_file.value.as_deref(),
            psk_file: opts.psk_file.value.as_deref(),
            allow_anonymous: opts.allow_anonymous.value.unwrap_or(self.local_only),
            allow_zero_length_clientid: opts.allow_zero_length_clientid.value,
            auto_id_prefix: &opts.auto_id_prefix.value,
            plugins: &opts.plugins,
        }
    }
}

/// One file that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// The path as it was named.
    pub path: PathBuf,
    /// The `include_dir` line that loaded it; `None` for the main file.
    pub included_from: Option<Span>,
}

impl Config {
    /// A key that orders spans the way the lines were read: an included
    /// file's lines sort at its `include_dir` line of the main file.
    pub(crate) fn reading_order(&self, span: &Span) -> (u32, usize, u32) {
        let found = self.files.iter().enumerate().find(|(_, f)| f.path == span.path);
        match found {
            Some((_, ConfigFile { included_from: None, .. })) => (span.line, 0, 0),
            Some((rank, ConfigFile { included_from: Some(at), .. })) => (at.line, rank, span.line),
            None => (u32::MAX, usize::MAX, span.line),
        }
    }
}

/// Listeners on `127.0.0.1` and `::1` for each port.
fn loopback_listeners(ports: &[u16], origin: ListenerOrigin) -> Vec<Listener> {
    let mut out = Vec::with_capacity(ports.len() * 2);
    for &port in ports {
        for host in [Ipv4Addr::LOCALHOST.to_string(), Ipv6Addr::LOCALHOST.to_string()] {
            out.push(Listener::new(Setting::default_value(ListenerAddr::Tcp { port, host: Some(host) }), origin));
        }
    }
    out
}

/// The security options in force on one listener, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveSecurity<'a> {
    /// Password file, if any.
    pub password_file: Option<&'a Path>,
    /// ACL file, if any.
    pub acl_file: Option<&'a Path>,
    /// PSK file, if any.
    pub psk_file: Option<&'a Path>,
    /// Whether clients without a username may connect.
    pub allow_anonymous: bool,
    /// Whether an empty client id gets a generated one.
    pub allow_zero_length_clientid: bool,
    /// Prefix of generated client ids.
    pub auto_id_prefix: &'a str,
    /// Authentication plugins, in load order.
    pub plugins: &'a [Plugin],
}

/// Options that Mosquitto makes per listener with `per_listener_settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `password_file <path>`.
    pub password_file: Setting<Option<PathBuf>>,
    /// `acl_file <path>`.
    pub acl_file: Setting<Option<PathBuf>>,
    /// `psk_file <path>` (TLS-PSK identities).
    pub psk_file: Setting<Option<PathBuf>>,
    /// `allow_anonymous true|false`; `None` = not written, resolved by
    /// [`Config::security_for`] (true in local-only mode, else false).
    pub allow_anonymous: Setting<Option<bool>>,
    /// `allow_zero_length_clientid true|false` (default true).
    pub allow_zero_length_clientid: Setting<bool>,
    /// `auto_id_prefix <prefix>` (default `auto-`).
    pub auto_id_prefix: Setting<String>,
    /// `plugin` / `auth_plugin` lines with their options.
    pub plugins: Vec<Plugin>,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        Self {
            password_file: Setting::default_value(None),
            acl_file: Setting::default_value(None),
            psk_file: Setting::default_value(None),
            allow_anonymous: Setting::default_value(None),
            allow_zero_length_clientid: Setting::default_value(true),
            auto_id_prefix: Setting::default_value("auto-".to_owned()),
            plugins: Vec::new(),
        }
    }
}

/// One `plugin <path>` (alias `auth_plugin`) and the options after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// The shared object to load.
    pub path: Setting<PathBuf>,
    /// `plugin_opt_<key> <value>` / `auth_opt_<key> <value>` lines, in order.
    pub options: Vec<PluginOption>,
    /// `auth_plugin_deny_special_chars true|false` (default true).
    pub deny_special_chars: Setting<bool>,
}

/// One `plugin_opt_<key> <value>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOption {
    /// The part after `plugin_opt_` / `auth_opt_`.
    pub key: String,
    /// The rest of the line.
    pub value: Setting<String>,
}

/// Logging options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `log_dest` lines, combined (default: stderr only). The first
    /// `log_dest` line replaces the default; `log_dest none` clears what was
    /// given before it. The span is the first `log_dest` line.
    pub dest: Setting<LogDest>,
    /// `log_facility <0-7>`: syslog facility `local<n>`; `None` = `daemon`.
    pub facility: Setting<Option<u8>>,
    /// `log_timestamp true|false` (default true).
    pub timestamp: Setting<bool>,
    /// `log_timestamp_format <strftime>`; `None` = Unix seconds.
    pub timestamp_format: Setting<Option<String>>,
    /// `log_type` lines OR-ed together (default error, warning, notice,
    /// information). The first `log_type` line replaces the default.
    pub types: Setting<LogTypes>,
    /// The `log_dest file` line, when there is one.
    pub file_line: Option<Span>,
    /// `log_format text|json` (mq only, default text): how lines are written to stdout, stderr and
    /// the log file.
    pub format: Setting<LogFormat>,
}

/// `log_format`: Mosquitto's text lines, or one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `1764105600: New connection from ...` (Mosquitto's).
    #[default]
    Text,
    /// `{"timestamp":"...","level":"notice","message":"...","client_id":"..."}`.
    Json,
}

/// `metrics_listener <port> [bind address]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsListener {
    /// The TCP port (1..=65535).
    pub port: u16,
    /// The address or host name to bind; every interface when `None`.
    pub host: Option<String>,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            dest: Setting::default_value(LogDest { stderr: true, ..LogDest::default() }),
            facility: Setting::default_value(None),
            timestamp: Setting::default_value(true),
            timestamp_format: Setting::default_value(None),
            types: Setting::default_value(LogTypes::DEFAULT),
            file_line: None,
            format: Setting::default_value(LogFormat::Text),
        }
    }
}

/// Where log lines go (`log_dest`); several may be on at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogDest {
    /// `log_dest stdout`.
    pub stdout: bool,
    /// `log_dest stderr`.
    pub stderr: bool,
    /// `log_dest syslog`.
    pub syslog: bool,
    /// `log_dest topic`: `$SYS/broker/log/...`.
    pub topic: bool,
    /// `log_dest dlt` (automotive Diagnostic Log and Trace).
    pub dlt: bool,
    /// `log_dest file <path>` (only one file; reopened on SIGHUP).
    pub file: Option<PathBuf>,
}

impl LogDest {
    /// True when no destination is on (`log_dest none`).
    pub fn is_none(&self) -> bool {
        !(self.stdout || self.stderr || self.syslog || self.topic || self.dlt) && self.file.is_none()
    }
}

/// A set of `log_type` categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogTypes(u16);

impl LogTypes {
    /// `log_type none`.
    pub const NONE: Self = Self(0);
    /// `log_type information`.
    pub const INFORMATION: Self = Self(1);
    /// `log_type notice`.
    pub const NOTICE: Self = Self(1 << 1);
    /// `log_type warning`.
    pub const WARNING: Self = Self(1 << 2);
    /// `log_type error`.
    pub const ERROR: Self = Self(1 << 3);
    /// `log_type debug`.
    pub const DEBUG: Self = Self(1 << 4);
    /// `log_type subscribe`.
    pub const SUBSCRIBE: Self = Self(1 << 5);
    /// `log_type unsubscribe`.
    pub const UNSUBSCRIBE: Self = Self(1 << 6);
    /// `log_type websockets`.
    pub const WEBSOCKETS: Self = Self(1 << 7);
    /// `log_type internal` (undocumented in Mosquitto).
    pub const INTERNAL: Self = Self(1 << 8);
    /// `log_type all`.
    pub const ALL: Self = Self((1 << 9) - 1);
    /// Without any `log_type` line: error, warning, notice, information.
    pub const DEFAULT: Self = Self(Self::ERROR.0 | Self::WARNING.0 | Self::NOTICE.0 | Self::INFORMATION.0);

    /// The category names accepted by `log_type`, with their bits.
    pub const NAMES: [(&'static str, LogTypes); 11] = [
        ("none", Self::NONE),
        ("information", Self::INFORMATION),
        ("notice", Self::NOTICE),
        ("warning", Self::WARNING),
        ("error", Self::ERROR),
        ("debug", Self::DEBUG),
        ("subscribe", Self::SUBSCRIBE),
        ("unsubscribe", Self::UNSUBSCRIBE),
        ("websockets", Self::WEBSOCKETS),
        ("internal", Self::INTERNAL),
        ("all", Self::ALL),
    ];

    /// True when every category in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The raw bits (stable only within one build).
    pub fn bits(self) -> u16 {
        self.0
    }
}

/// Persistence options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceSettings {
    /// `persistence true|false` (alias `retained_persistence`), default false.
    pub enabled: Setting<bool>,
    /// `persistence_file <name>` (default `mosquitto.db`).
    pub file: Setting<String>,
    /// `persistence_location <dir>`; `None` = the working directory.
    pub location: Setting<Option<PathBuf>>,
    /// `autosave_interval <n>` (default 1800; 0 = only on exit / SIGUSR1).
    pub autosave_interval: Setting<u32>,
    /// `autosave_on_changes true|false` (default false).
    pub autosave_on_changes: Setting<bool>,
    /// `persistence_fsync always|never|<ms>` (mq only): when stored changes reach stable storage.
    /// Every change is written to the system before it is acknowledged; this decides what a power cut
    /// may take. Default: every 1000 ms.
    pub fsync: Setting<Fsync>,
}

/// `persistence_fsync`: when the store is flushed to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Before anything is acknowledged (group commit).
    Always,
    /// At most this many milliseconds after a change.
    EveryMs(u32),
    /// Left to the system.
    Never,
}

impl Default for PersistenceSettings {
    fn default() -> Self {
        Self {
            enabled: Setting::default_value(false),
            file: Setting::default_value("mosquitto.db".to_owned()),
            location: Setting::default_value(None),
            autosave_interval: Setting::default_value(1800),
            autosave_on_changes: Setting::default_value(false),
            fsync: Setting::default_value(Fsync::EveryMs(1000)),
        }
    }
}

impl PersistenceSettings {
    /// The database path as Mosquitto builds it: `<location>/<file>`, or
    /// `<file>` alone (relative to the working directory) without a location.
    pub fn path(&self) -> PathBuf {
        match &self.location.value {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(&self.file.value),
            _ => PathBuf::from(&self.file.value),
        }
    }

    /// The directory mq keeps its store in: Mosquitto's database path with `.mq` added
    /// (`/var/lib/mosquitto/mosquitto.db.mq`), so a Mosquitto file beside it is left alone.
    pub fn store_dir(&self) -> PathBuf {
        let mut p = self.path().into_os_string();
        p.push(".mq");
        PathBuf::from(p)
    }
}

/// Global WebSockets options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketsSettings {
    /// `websockets_log_level <int>` (default 0). Not reloadable.
    pub log_level: Setting<i32>,
    /// `websockets_headers_size <n>` (0..=65535; default 1024 as documented for
    /// Mosquitto 2.0). Not reloadable.
    pub headers_size: Setting<u16>,
}

impl Default for WebsocketsSettings {
    fn default() -> Self {
        Self { log_level: Setting::default_value(0), headers_size: Setting::default_value(1024) }
    }
}

/// Where a listener came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerOrigin {
    /// A `listener` line.
    Listener,
    /// The legacy default listener (`port` / `bind_address`).
    DefaultListener,
    /// Local-only mode (no listener configured).
    LocalOnly,
    /// `-p` on the command line, in local-only mode.
    CommandLine,
}

/// What a listener binds to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenerAddr {
    /// A TCP port, on `host` (an address or a host name, resolved by the
    /// broker) or on every interface when `None`.
    Tcp {
        /// The port; 1..=65535.
        port: u16,
        /// The bind address or host name.
        host: Option<String>,
    },
    /// A Unix socket (`listener 0 <path>`).
    Unix {
        /// The socket path.
        path: PathBuf,
    },
}

impl fmt::Display for ListenerAddr {
    /// As written on a `listener` line: `1883`, `1883 127.0.0.1`, `0 /path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { port, host: None } => write!(f, "{port}"),
            Self::Tcp { port, host: Some(h) } => write!(f, "{port} {h}"),
            Self::Unix { path } => write!(f, "0 {}", path.display()),
        }
    }
}

/// `socket_domain ipv4|ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketDomain {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
}

/// `protocol mqtt|websockets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// Plain MQTT (the default).
    #[default]
    Mqtt,
    /// MQTT over WebSockets.
    Websockets,
}

/// One listener and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Port and address, or socket path. The span is the `listener` line
    /// (or the `port` / `bind_address` line of the default listener).
    pub addr: Setting<ListenerAddr>,
    /// Where the listener came from.
    pub origin: ListenerOrigin,
    /// `bind_interface <device>`.
    pub bind_interface: Setting<Option<String>>,
    /// `socket_domain ipv4|ipv6`; `None` = both.
    pub socket_domain: Setting<Option<SocketDomain>>,
    /// `protocol mqtt|websockets`.
    pub protocol: Setting<Protocol>,
    /// `mount_point <prefix>`.
    pub mount_point: Setting<Option<String>>,
    /// `http_dir <dir>` (WebSockets only).
    pub http_dir: Setting<Option<PathBuf>>,
    /// `max_connections <n>`; `None` = unlimited (`-1`, the default).
    pub max_connections: Setting<Option<u32>>,
    /// `max_qos 0|1|2` (alias `maximum_qos`), default 2.
    pub max_qos: Setting<u8>,
    /// `max_topic_alias <n>` (default 10, 0..=65535).
    pub max_topic_alias: Setting<u16>,
    /// `use_username_as_clientid true|false` (default false).
    pub use_username_as_clientid: Setting<bool>,
    /// TLS and TLS-PSK options.
    pub tls: TlsOptions,
    /// This listener's security options; used only when
    /// `per_listener_settings` is true (see [`Config::security_for`]).
    pub security: SecurityOptions,
}

impl Listener {
    /// A listener with every option at its default.
    pub fn new(addr: Setting<ListenerAddr>, origin: ListenerOrigin) -> Self {
        Self {
            addr,
            origin,
            bind_interface: Setting::default_value(None),
            socket_domain: Setting::default_value(None),
            protocol: Setting::default_value(Protocol::Mqtt),
            mount_point: Setting::default_value(None),
            http_dir: Setting::default_value(None),
            max_connections: Setting::default_value(None),
            max_qos: Setting::default_value(2),
            max_topic_alias: Setting::default_value(10),
            use_username_as_clientid: Setting::default_value(false),
            tls: TlsOptions::default(),
            security: SecurityOptions::default(),
        }
    }
}

/// `tls_version` values (the minimum version accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    /// `tlsv1.1`.
    Tls1_1,
    /// `tlsv1.2`.
    Tls1_2,
    /// `tlsv1.3`.
    Tls1_3,
}

/// `tls_keyform pem|engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyForm {
    /// PEM key file (default).
    #[default]
    Pem,
    /// Key held by an OpenSSL engine.
    Engine,
}

/// TLS and TLS-PSK options of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// `cafile <path>`.
    pub cafile: Setting<Option<PathBuf>>,
    /// `capath <dir>`.
    pub capath: Setting<Option<PathBuf>>,
    /// `certfile <path>`.
    pub certfile: Setting<Option<PathBuf>>,
    /// `keyfile <path>`.
    pub keyfile: Setting<Option<PathBuf>>,
    /// `crlfile <path>`.
    pub crlfile: Setting<Option<PathBuf>>,
    /// `dhparamfile <path>`.
    pub dhparamfile: Setting<Option<PathBuf>>,
    /// `ciphers <list>`.
    pub ciphers: Setting<Option<String>>,
    /// `ciphers_tls1.3 <list>`.
    pub ciphers_tls13: Setting<Option<String>>,
    /// `tls_version tlsv1.1|tlsv1.2|tlsv1.3`.
    pub tls_version: Setting<Option<TlsVersion>>,
    /// `tls_engine <id>`.
    pub tls_engine: Setting<Option<String>>,
    /// `tls_engine_kpass_sha1 <40 hex digits>`.
    pub tls_engine_kpass_sha1: Setting<Option<String>>,
    /// `tls_keyform pem|engine`.
    pub tls_keyform: Setting<KeyForm>,
    /// `require_certificate true|false` (default false).
    pub require_certificate: Setting<bool>,
    /// `use_identity_as_username true|false` (default false).
    pub use_identity_as_username: Setting<bool>,
    /// `use_subject_as_username true|false` (default false).
    pub use_subject_as_username: Setting<bool>,
    /// `psk_hint <hint>`: enables TLS-PSK.
    pub psk_hint: Setting<Option<String>>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            cafile: Setting::default_value(None),
            capath: Setting::default_value(None),
            certfile: Setting::default_value(None),
            keyfile: Setting::default_value(None),
            crlfile: Setting::default_value(None),
            dhparamfile: Setting::default_value(None),
            ciphers: Setting::default_value(None),
            ciphers_tls13: Setting::default_value(None),
            tls_version: Setting::default_value(None),
            tls_engine: Setting::default_value(None),
            tls_engine_kpass_sha1: Setting::default_value(None),
            tls_keyform: Setting::default_value(KeyForm::Pem),
            require_certificate: Setting::default_value(false),
            use_identity_as_username: Setting::default_value(false),
            use_subject_as_username: Setting::default_value(false),
            psk_hint: Setting::default_value(None),
        }
    }
}

/// `bridge_protocol_version` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BridgeProtocol {
    /// `mqttv31`.
    Mqtt31,
    /// `mqttv311` (default).
    Mqtt311,
    /// `mqttv50`.
    Mqtt5,
}

/// `start_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartType {
    /// Start at broker start, restart on failure (default).
    Automatic,
    /// Start when `threshold` messages are queued; stop after `idle_timeout`.
    Lazy,
    /// Start once, never restart.
    Once,
}

/// `restart_timeout <s>` or `restart_timeout <base> <cap>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartTimeout {
    /// Wait this many seconds before every reconnection.
    Constant(u32),
    /// "Decorrelated jitter" backoff between `base` and `cap` seconds
    /// (default 5 and 30).
    Backoff {
        /// Lower bound, seconds.
        base: u32,
        /// Upper bound, seconds.
        cap: u32,
    },
}

/// One remote address of a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BridgeAddress {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 1883).
    pub port: u16,
}

/// Direction of a bridge `topic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BridgeDirection {
    /// Local to remote (default).
    Out,
    /// Remote to local.
    In,
    /// Both ways.
    Both,
}

/// One bridge `topic <pattern> [[[out|in|both] qos] local-prefix remote-prefix]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BridgeTopic {
    /// The topic pattern; empty when written as `""`.
    pub pattern: String,
    /// Direction (default out).
    pub direction: BridgeDirection,
    /// QoS 0..=2 (default 0).
    pub qos: u8,
    /// Local prefix; `None` when absent or `""`.
    pub local_prefix: Option<String>,
    /// Remote prefix; `None` when absent or `""`.
    pub remote_prefix: Option<String>,
}

/// TLS options of a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTls {
    /// `bridge_cafile <path>`.
    pub cafile: Setting<Option<PathBuf>>,
    /// `bridge_capath <dir>`.
    pub capath: Setting<Option<PathBuf>>,
    /// `bridge_certfile <path>`.
    pub certfile: Setting<Option<PathBuf>>,
    /// `bridge_keyfile <path>`.
    pub keyfile: Setting<Option<PathBuf>>,
    /// `bridge_insecure true|false` (default false).
    pub insecure: Setting<bool>,
    /// `bridge_tls_version` (Mosquitto default tlsv1.2 when unset).
    pub tls_version: Setting<Option<TlsVersion>>,
    /// `bridge_alpn <protocol>`.
    pub alpn: Setting<Option<String>>,
    /// `bridge_require_ocsp true|false` (default false).
    pub require_ocsp: Setting<bool>,
    /// `bridge_identity <id>` (TLS-PSK).
    pub identity: Setting<Option<String>>,
    /// `bridge_psk <hex key>` (TLS-PSK).
    pub psk: Setting<Option<String>>,
}

impl Default for BridgeTls {
    fn default() -> Self {
        Self {
            cafile: Setting::default_value(None),
            capath: Setting::default_value(None),
            certfile: Setting::default_value(None),
            keyfile: Setting::default_value(None),
            insecure: Setting::default_value(false),
            tls_version: Setting::default_value(None),
            alpn: Setting::default_value(None),
            require_ocsp: Setting::default_value(false),
            identity: Setting::default_value(None),
            psk: Setting::default_value(None),
        }
    }
}

/// One `connection <name>` section. The options the broker does not implement yet are refused by
/// [`Config::check_supported`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// The bridge name; the span is the `connection` line.
    pub name: Setting<String>,
    /// `address` / `addresses`: one or more `host[:port]`.
    pub addresses: Setting<Vec<BridgeAddress>>,
    /// `round_robin true|false` (default false).
    pub round_robin: Setting<bool>,
    /// `bridge_protocol_version` (default mqttv311).
    pub protocol_version: Setting<BridgeProtocol>,
    /// `remote_clientid` (alias `clientid`); `None` = `<hostname>.<name>`
    /// (DIVERGENCE: the documentation says `<name>.<hostname>`, the code
    /// builds `<hostname>.<name>`).
    pub remote_clientid: Setting<Option<String>>,
    /// `local_clientid`; `None` = `local.<remote_clientid>`.
    pub local_clientid: Setting<Option<String>>,
    /// `remote_username` (alias `username`).
    pub remote_username: Setting<Option<String>>,
    /// `remote_password` (alias `password`).
    pub remote_password: Setting<Option<String>>,
    /// `local_username`.
    pub local_username: Setting<Option<String>>,
    /// `local_password`.
    pub local_password: Setting<Option<String>>,
    /// `cleansession true|false` (default false).
    pub cleansession: Setting<bool>,
    /// `local_cleansession`; `None` = same as `cleansession`.
    pub local_cleansession: Setting<Option<bool>>,
    /// `keepalive_interval <s>` (default 60, 5..=65535).
    pub keepalive_interval: Setting<u16>,
    /// `start_type` (default automatic).
    pub start_type: Setting<StartType>,
    /// `restart_timeout` (default backoff 5..30 s).
    pub restart_timeout: Setting<RestartTimeout>,
    /// `idle_timeout <s>` (default 60, at least 1).
    pub idle_timeout: Setting<u32>,
    /// `threshold <n>` (default 10, at least 1).
    pub threshold: Setting<u32>,
    /// `try_private true|false` (default true).
    pub try_private: Setting<bool>,
    /// `notifications true|false` (default true).
    pub notifications: Setting<bool>,
    /// `notifications_local_only true|false` (default false).
    pub notifications_local_only: Setting<bool>,
    /// `notification_topic <topic>`; `None` =
    /// `$SYS/broker/connection/<remote_clientid>/state`.
    pub notification_topic: Setting<Option<String>>,
    /// `bridge_attempt_unsubscribe true|false` (default true).
    pub attempt_unsubscribe: Setting<bool>,
    /// `bridge_outgoing_retain true|false` (default true).
    pub outgoing_retain: Setting<bool>,
    /// `bridge_max_packet_size <n>` (default 0 = no limit).
    pub max_packet_size: Setting<u32>,
    /// `bridge_bind_address <ip>`.
    pub bind_address: Setting<Option<String>>,
    /// TLS options.
    pub tls: BridgeTls,
    /// `topic` lines, in order.
    pub topics: Vec<Setting<BridgeTopic>>,
}

impl Bridge {
    /// A bridge with every option at its default.
    pub fn new(name: Setting<String>) -> Self {
        Self {
            name,
            addresses: Setting::default_value(Vec::new()),
            round_robin: Setting::default_value(false),
            protocol_version: Setting::default_value(BridgeProtocol::Mqtt311),
            remote_clientid: Setting::default_value(None),
            local_clientid: Setting::default_value(None),
            remote_username: Setting::default_value(None),
            remote_password: Setting::default_value(None),
            local_username: Setting::default_value(None),
            local_password: Setting::default_value(None),
            cleansession: Setting::default_value(false),
            local_cleansession: Setting::default_value(None),
            keepalive_interval: Setting::default_value(60),
            start_type: Setting::default_value(StartType::Automatic),
            restart_timeout: Setting::default_value(RestartTimeout::Backoff { base: 5, cap: 30 }),
            idle_timeout: Setting::default_value(60),
            threshold: Setting::default_value(10),
            try_private: Setting::default_value(true),
            notifications: Setting::default_value(true),
            notifications_local_only: Setting::default_value(false),
            notification_topic: Setting::default_value(None),
            attempt_unsubscribe: Setting::default_value(true),
            outgoing_retain: Setting::default_value(true),
            max_packet_size: Setting::default_value(0),
            bind_address: Setting::default_value(None),
            tls: BridgeTls::default(),
            topics: Vec::new(),
        }
    }
}
