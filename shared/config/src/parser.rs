//! The line parser: mosquitto.conf text to [`Config`].
//!
//! Each file is read line by line. A line is `name value`, the name and the
//! value separated by spaces or tabs. Every problem becomes a
//! [`ConfigError`] and parsing goes on with the next line, so all errors are
//! reported together; they are returned in the order the lines were read
//! (an included file's lines come at the point of its `include_dir`).
//!
//! Sections: a `listener` line opens a listener section and a `connection`
//! line a bridge section; each file starts outside any section (as in
//! Mosquitto, where the current listener and bridge are per file). Lines
//! before the first section of a file are "top level".
//!
//! This file holds the line loop, general, logging, security and plugin
//! options and the end-of-input checks; `values` reads words, numbers and
//! booleans, `listener` and `bridge` handle their sections.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrors, ErrorKind, Misplacement, Warning, WarningKind};
use crate::model::{
    Bridge, BridgeAddress, BridgeDirection, BridgeProtocol, BridgeTopic, Config, ConfigFile, DEFAULT_PORT, Fsync,
    KeyForm, Listener, ListenerAddr, ListenerOrigin, LogDest, LogFormat, LogTypes, MetricsListener, Plugin,
    PluginOption, Protocol, RestartTimeout, SecurityOptions, SocketDomain, StartType, TlsVersion,
};
use crate::options::{NEWER_OPTIONS, is_plugin_option_family, removed_note, suggest};
use crate::span::{Setting, Span};

mod bridge;
mod listener;
mod values;

use bridge::check_bridge;
use listener::check_listener;
use values::{set_once, set_scalar};

/// The largest packet MQTT can encode: fixed header byte, 4 length bytes
/// and the 268435455-byte maximum remaining length.
const MAX_MQTT_PACKET: i64 = 268_435_460;
/// The largest MQTT payload / remaining length.
const MAX_MQTT_PAYLOAD: i64 = 268_435_455;
/// Mosquitto stores most counts in a C `int`.
const INT_MAX: i64 = i32::MAX as i64;

const EXPECT_BOOL: &str = "true or false";
const EXPECT_PATH: &str = "a path";
const EXPECT_TEXT: &str = "a text value";
const EXPECT_NUMBER: &str = "a whole number";

/// Note attached to a repeated security option when it is global.
const GLOBAL_SECURITY_NOTE: &str = "security options are global unless per_listener_settings is true";

/// One non-blank, non-comment line, split into name and value.
pub(crate) struct Line<'a> {
    name: &'a str,
    /// Everything after the name and the blanks that follow it, with
    /// trailing blanks removed. Empty when the line has no value.
    rest: &'a str,
    span: Span,
}

/// Errors and warnings collected so far, plus the reading order of lines
/// (used to sort errors found after the whole file was read).
#[derive(Default)]
struct Diag {
    errors: Vec<(u64, ConfigError)>,
    warnings: Vec<Warning>,
    /// Sequence number of the line being handled.
    seq: u64,
    /// Sequence number of every line handled, by location.
    line_seq: HashMap<Span, u64>,
}

impl Diag {
    fn error(&mut self, span: &Span, kind: ErrorKind) {
        self.errors.push((self.seq, ConfigError::new(span, kind)));
    }

    /// An error found after reading, about an earlier line: sorted by that
    /// line's position in the reading order.
    fn error_later(&mut self, span: &Span, kind: ErrorKind) {
        let seq = self.line_seq.get(span).copied().unwrap_or(u64::MAX);
        self.errors.push((seq, ConfigError::new(span, kind)));
    }

    fn warn(&mut self, span: &Span, kind: WarningKind) {
        self.warnings.push(Warning::new(span, kind));
    }
}

/// The section the following lines of a file belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Before the first `listener` / `connection` line of the file.
    Top,
    /// After a `listener` line: index into `State::listeners`.
    Listener(usize),
    /// After a `connection` line: index into `Config::bridges`.
    Bridge(usize),
    /// After a `listener` / `connection` line that was in error: options are
    /// dropped silently so one bad line does not cause a cascade.
    Broken,
}

/// Which listener a listener option applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LTarget {
    Listener(usize),
    /// The legacy default listener (`port` / `bind_address`).
    Default,
}

/// Which security options a security option applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum STarget {
    Global,
    Listener(LTarget),
}

/// Per-file parsing state.
struct FileState {
    section: Section,
    /// The plugin that `plugin_opt_*` lines attach to, reset by each new
    /// section so options cannot leak into another listener's plugin.
    plugin: Option<(STarget, usize)>,
    /// 0 for the main file, 1 for included files.
    level: u32,
}

/// Everything built so far.
struct State {
    cfg: Config,
    /// Listeners from `listener` lines.
    listeners: Vec<Listener>,
    /// Options collected for the legacy default listener.
    default: Listener,
    default_port: Setting<Option<u16>>,
    default_bind: Setting<Option<String>>,
    /// Top-level listener (or per-listener security) options: valid only if
    /// the default listener exists, which is known at the end.
    default_uses: Vec<(Span, String, bool)>,
    /// The first security option, for the `per_listener_settings` rule.
    first_security: Option<(String, Span)>,
    /// Whether a `log_dest` / `log_type` line replaced the default yet.
    log_dest_set: bool,
    log_type_set: bool,
    log_file_span: Option<Span>,
    /// The main file, resolved, so `include_dir` cannot include it again.
    main_file: Option<PathBuf>,
    /// Options written in each listener / bridge, even with an invalid
    /// value: a bridge whose only `address` line was wrong is not also
    /// reported as having no address. Aliases are recorded under their
    /// canonical name.
    tried: HashSet<(Owner, &'static str)>,
}

/// A listener or bridge, for [`State::tried`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Owner {
    Listener(LTarget),
    Bridge(usize),
}

impl State {
    fn listener(&mut self, t: LTarget) -> &mut Listener {
        match t {
            LTarget::Listener(i) => &mut self.listeners[i],
            LTarget::Default => &mut self.default,
        }
    }

    fn security(&mut self, t: STarget) -> &mut SecurityOptions {
        match t {
            STarget::Global => &mut self.cfg.security,
            STarget::Listener(l) => &mut self.listener(l).security,
        }
    }
}

/// The parser: feed it the main file, then call [`Parser::finish`].
pub(crate) struct Parser {
    d: Diag,
    s: State,
}

impl Parser {
    /// A parser for the main file `main_file` (resolved, if it exists).
    pub(crate) fn new(main_file: Option<PathBuf>) -> Self {
        Self {
            d: Diag::default(),
            s: State {
                cfg: Config::defaults_without_listeners(),
                listeners: Vec::new(),
                default: Listener::new(
                    Setting::default_value(ListenerAddr::Tcp { port: DEFAULT_PORT, host: None }),
                    ListenerOrigin::DefaultListener,
                ),
                default_port: Setting::default_value(None),
                default_bind: Setting::default_value(None),
                default_uses: Vec::new(),
                first_security: None,
                log_dest_set: false,
                log_type_set: false,
                log_file_span: None,
                main_file,
                tried: HashSet::new(),
            },
        }
    }

    /// Parse one file's content. `level` is 0 for the main file.
    pub(crate) fn parse_file(&mut self, bytes: &[u8], path: &Path, level: u32, included_from: Option<&Span>) {
        self.s.cfg.files.push(ConfigFile { path: path.to_path_buf(), included_from: included_from.cloned() });
        let mut fs = FileState { section: Section::Top, plugin: None, level };
        for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = u32::try_from(idx + 1).unwrap_or(u32::MAX);
            let span = Span::new(path, line_no);
            // CRLF (and stray CRs at the end) are accepted, as Mosquitto
            // strips every trailing CR and LF.
            let mut raw = raw;
            while let [head @ .., b'\r'] = raw {
                raw = head;
            }
            let Ok(text) = std::str::from_utf8(raw) else {
                self.begin_line(&span);
                self.d.error(&span, ErrorKind::NotUtf8);
                continue;
            };
            // A UTF-8 byte order mark written by some editors is not part of
            // the first option name.
            let text = if idx == 0 { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
            let trimmed = text.trim_matches([' ', '\t']);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            self.begin_line(&span);
            let (name, rest) = match trimmed.find([' ', '\t']) {
                Some(i) => (&trimmed[..i], trimmed[i..].trim_start_matches([' ', '\t'])),
                None => (trimmed, ""),
            };
            let line = Line { name, rest, span };
            self.line(&line, &mut fs);
        }
    }

    /// Give the next line its place in the reading order.
    fn begin_line(&mut self, span: &Span) {
        self.d.seq += 1;
        self.d.line_seq.insert(span.clone(), self.d.seq);
    }

    /// Record a read failure of the main file.
    pub(crate) fn file_error(&mut self, path: &Path, err: &std::io::Error) {
        self.d.error(
            &Span::new(path, 0),
            ErrorKind::Io { what: "the configuration file".to_owned(), reason: err.to_string() },
        );
    }

    /// Dispatch one line on its option name.
    fn line(&mut self, l: &Line<'_>, fs: &mut FileState) {
        match l.name {
            // ----- general -----
            "pid_file" => self.text(l, EXPECT_PATH, |s| &mut s.cfg.pid_file),
            "user" => self.text(l, EXPECT_TEXT, |s| &mut s.cfg.user),
            "per_listener_settings" => self.per_listener_settings(l),
            "sys_interval" => self.int(l, 0, 65535, |s| &mut s.cfg.sys_interval),
            "connection_messages" => self.boolean(l, |s| &mut s.cfg.connection_messages),
            "check_retain_source" => {
                // Mosquitto counts it as a security option for the
                // per_listener_settings ordering rule.
                self.note_security(l);
                self.boolean(l, |s| &mut s.cfg.check_retain_source);
            }
            "allow_duplicate_messages" => {
                self.deprecated(l, "it will be removed in a future version");
                self.boolean(l, |s| &mut s.cfg.allow_duplicate_messages);
            }
            "upgrade_outgoing_qos" => self.boolean(l, |s| &mut s.cfg.upgrade_outgoing_qos),
            "set_tcp_nodelay" => self.boolean(l, |s| &mut s.cfg.set_tcp_nodelay),
            "clientid_prefixes" => {
                self.deprecated(l, "it will be removed in a future version");
                self.text(l, EXPECT_TEXT, |s| &mut s.cfg.clientid_prefixes);
            }
            "memory_limit" => self.int(l, 0, i64::MAX, |s| &mut s.cfg.memory_limit),
            "include_dir" => self.include_dir(l, fs),

            // ----- logging -----
            "log_dest" => self.log_dest(l),
            "log_facility" => {
                if let Some(v) = self.d.int(l, 0, 7) {
                    let v = u8::try_from(v).ok();
                    set_scalar(&mut self.d, &mut self.s.cfg.log.facility, v, l, None);
                }
            }
            "log_timestamp" => self.boolean(l, |s| &mut s.cfg.log.timestamp),
            "log_timestamp_format" => {
                self.text(l, "a strftime format", |s| &mut s.cfg.log.timestamp_format);
            }
            "log_type" => self.log_type(l),
            "log_format" => {
                self.choice(l, &[("text", LogFormat::Text), ("json", LogFormat::Json)], |s| &mut s.cfg.log.format);
            }
            "metrics_listener" => self.metrics_listener(l),
            "websockets_log_level" => {
                self.int(l, i64::from(i32::MIN), INT_MAX, |s| &mut s.cfg.websockets.log_level);
            }
            "websockets_headers_size" => {
                self.int(l, 0, 65535, |s| &mut s.cfg.websockets.headers_size);
            }

            // ----- persistence -----
            "persistence" | "retained_persistence" => {
                self.boolean(l, |s| &mut s.cfg.persistence.enabled);
            }
            "persistence_file" => {
                if let Some(v) = self.d.text(l, "a file name") {
                    set_once(&mut self.d, &mut self.s.cfg.persistence.file, v, l, None);
                }
            }
            "persistence_location" => {
                self.text(l, "a directory", |s| &mut s.cfg.persistence.location);
            }
            "autosave_interval" => {
                self.int(l, 0, INT_MAX, |s| &mut s.cfg.persistence.autosave_interval);
            }
            "autosave_on_changes" => {
                self.boolean(l, |s| &mut s.cfg.persistence.autosave_on_changes);
            }
            "persistence_fsync" => self.fsync(l),
            "persistent_client_expiration" => self.expiration(l),
            "queue_qos0_messages" => self.boolean(l, |s| &mut s.cfg.queue_qos0_messages),

            // ----- limits -----
            "max_inflight_messages" => {
                self.int(l, 0, 65535, |s| &mut s.cfg.max_inflight_messages);
            }
            "max_inflight_bytes" => self.int(l, 0, i64::MAX, |s| &mut s.cfg.max_inflight_bytes),
            "max_queued_messages" => self.int(l, 0, INT_MAX, |s| &mut s.cfg.max_queued_messages),
            "max_queued_bytes" => self.int(l, 0, i64::MAX, |s| &mut s.cfg.max_queued_bytes),
            "message_size_limit" => {
                self.int(l, 0, MAX_MQTT_PAYLOAD, |s| &mut s.cfg.message_size_limit);
            }
            "max_packet_size" => self.max_packet_size(l),
            "max_keepalive" => self.int(l, 10, 65535, |s| &mut s.cfg.max_keepalive),
            "retain_available" => self.boolean(l, |s| &mut s.cfg.retain_available),

            // ----- security -----
            "password_file"
            | "acl_file"
            | "psk_file"
            | "allow_anonymous"
            | "allow_zero_length_clientid"
            | "auto_id_prefix" => self.security_option(l, fs),
            "plugin" | "auth_plugin" => self.plugin(l, fs),
            "auth_plugin_deny_special_chars" => self.plugin_deny_special_chars(l, fs),
            name if is_plugin_option_family(name) => self.plugin_option(l, fs),

            // ----- listeners -----
            "listener" => self.listener(l, fs),
            "port" | "bind_address" => self.default_listener_option(l, fs),
            "bind_interface"
            | "socket_domain"
            | "protocol"
            | "mount_point"
            | "http_dir"
            | "max_connections"
            | "max_qos"
            | "maximum_qos"
            | "max_topic_alias"
            | "use_username_as_clientid"
            | "cafile"
            | "capath"
            | "certfile"
            | "keyfile"
            | "crlfile"
            | "dhparamfile"
            | "ciphers"
            | "ciphers_tls1.3"
            | "tls_version"
            | "tls_engine"
            | "tls_engine_kpass_sha1"
            | "tls_keyform"
            | "require_certificate"
            | "use_identity_as_username"
            | "use_subject_as_username"
            | "psk_hint" => {
                self.listener_option(l, fs);
            }

            // ----- bridges -----
            "connection" => self.connection(l, fs),
            "address"
            | "addresses"
            | "round_robin"
            | "bridge_protocol_version"
            | "remote_clientid"
            | "clientid"
            | "local_clientid"
            | "remote_username"
            | "username"
            | "remote_password"
            | "password"
            | "local_username"
            | "local_password"
            | "cleansession"
            | "local_cleansession"
            | "keepalive_interval"
            | "start_type"
            | "restart_timeout"
            | "idle_timeout"
            | "threshold"
            | "try_private"
            | "notifications"
            | "notifications_local_only"
            | "notification_topic"
            | "bridge_attempt_unsubscribe"
            | "bridge_outgoing_retain"
            | "bridge_max_packet_size"
            | "bridge_bind_address"
            | "bridge_cafile"
            | "bridge_capath"
            | "bridge_certfile"
            | "bridge_keyfile"
            | "bridge_insecure"
            | "bridge_tls_version"
            | "bridge_alpn"
            | "bridge_require_ocsp"
            | "bridge_identity"
            | "bridge_psk"
            | "topic" => {
                self.bridge_option(l, fs);
            }

            // ----- removed, newer, unknown -----
            "retry_interval"
            | "store_clean_interval"
            | "trace_level"
            | "trace_output"
            | "ffdc_output"
            | "max_log_entries" => {
                self.d.warn(&l.span, WarningKind::Removed { option: l.name.to_owned(), note: removed_note(l.name) });
            }
            name if NEWER_OPTIONS.contains(&name) => {
                self.d.error(&l.span, ErrorKind::NewerOption { name: name.to_owned() });
            }
            name => {
                self.d.error(
                    &l.span,
                    ErrorKind::UnknownOption { name: name.to_owned(), suggestion: suggest(name).map(str::to_owned) },
                );
            }
        }
    }

    // ----- generic setters -----

    /// Read a boolean and store it in the field `get` selects.
    fn boolean(&mut self, l: &Line<'_>, get: impl FnOnce(&mut State) -> &mut Setting<bool>) {
        if let Some(v) = self.d.boolean(l) {
            set_scalar(&mut self.d, get(&mut self.s), v, l, None);
        }
    }

    /// Read a whole number in `min..=max` and store it in the field `get`
    /// selects.
    fn int<T: TryFrom<i64>>(
        &mut self,
        l: &Line<'_>,
        min: i64,
        max: i64,
        get: impl FnOnce(&mut State) -> &mut Setting<T>,
    ) {
        if let Some(v) = self.d.int(l, min, max) {
            // In range by construction; the conversion cannot fail for the
            // bounds the callers pass.
            if let Ok(v) = T::try_from(v) {
                set_scalar(&mut self.d, get(&mut self.s), v, l, None);
            }
        }
    }

    /// Read a text value (the rest of the line) into an optional field; a
    /// second occurrence is an error.
    fn text<T: From<String>>(
        &mut self,
        l: &Line<'_>,
        expected: &str,
        get: impl FnOnce(&mut State) -> &mut Setting<Option<T>>,
    ) {
        if let Some(v) = self.d.text(l, expected) {
            set_once(&mut self.d, get(&mut self.s), Some(T::from(v)), l, None);
        }
    }

    /// Read one keyword out of `choices` and store its value.
    fn choice<T: Copy>(
        &mut self,
        l: &Line<'_>,
        choices: &[(&str, T)],
        get: impl FnOnce(&mut State) -> &mut Setting<T>,
    ) {
        if let Some(v) = self.d.choice(l, choices) {
            set_scalar(&mut self.d, get(&mut self.s), v, l, None);
        }
    }

    /// Warn that the option on `l` is deprecated.
    fn deprecated(&mut self, l: &Line<'_>, advice: &'static str) {
        self.d.warn(&l.span, WarningKind::Deprecated { option: l.name.to_owned(), advice });
    }

    // ----- general options with special rules -----

    /// `per_listener_settings`: must precede every security option.
    fn per_listener_settings(&mut self, l: &Line<'_>) {
        let Some(v) = self.d.boolean(l) else { return };
        let current = &self.s.cfg.per_listener_settings;
        if v {
            if let Some((option, first)) = &self.s.first_security {
                self.d.error(
                    &l.span,
                    ErrorKind::PerListenerSettingsTooLate { option: option.clone(), first: first.clone() },
                );
                return;
            }
        } else if current.value {
            // Mosquitto silently ignores the attempt; the user surely meant
            // one or the other.
            if let Some(first) = &current.span {
                self.d.error(&l.span, ErrorKind::PerListenerSettingsConflict { first: first.clone() });
                return;
            }
        }
        set_scalar(&mut self.d, &mut self.s.cfg.per_listener_settings, v, l, None);
    }

    /// Remember the first security option: `per_listener_settings true`
    /// after it is an error, because that option already went global.
    fn note_security(&mut self, l: &Line<'_>) {
        if self.s.first_security.is_none() {
            self.s.first_security = Some((l.name.to_owned(), l.span.clone()));
        }
    }

    /// `max_packet_size`: 0 (no limit) or at least 20.
    fn max_packet_size(&mut self, l: &Line<'_>) {
        let Some(v) = self.d.int(l, 0, MAX_MQTT_PACKET) else {
            return;
        };
        // 0 is the documented default ("no limit") and is accepted;
        // 1..=19 cannot hold even a CONNECT packet.
        if v != 0 && v < 20 {
            self.d.error(&l.span, ErrorKind::BelowMinimum { option: l.name.to_owned(), value: v.to_string(), min: 20 });
            return;
        }
        let v = u32::try_from(v).ok().filter(|&v| v != 0);
        set_scalar(&mut self.d, &mut self.s.cfg.max_packet_size, v, l, None);
    }

    /// `metrics_listener <port> [bind address]`.
    fn metrics_listener(&mut self, l: &Line<'_>) {
        const EXPECT: &str = "a port number (1 to 65535), optionally followed by a bind address";
        let words: Vec<&str> = l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        // A word starting with '#' after the port starts a comment.
        let words: Vec<&str> = words.iter().take_while(|w| !w.starts_with('#')).copied().collect();
        let Some(&port_word) = words.first() else {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        };
        if let Some(extra) = words.get(2) {
            self.d.unexpected(l, extra);
            return;
        }
        let Some(port) = self.d.int_word(l, l.name, port_word, 1, 65535, EXPECT) else {
            return;
        };
        let v = MetricsListener {
            port: u16::try_from(port).unwrap_or(DEFAULT_PORT),
            host: words.get(1).map(|h| (*h).to_owned()),
        };
        set_once(&mut self.d, &mut self.s.cfg.metrics_listener, Some(v), l, None);
    }

    /// `persistence_fsync always|never|<milliseconds>`.
    fn fsync(&mut self, l: &Line<'_>) {
        const EXPECT: &str = "always, never, or a number of milliseconds (1 to 3600000)";
        let Some(tok) = self.d.token(l, EXPECT) else {
            return;
        };
        let v = match tok {
            "always" => Fsync::Always,
            "never" => Fsync::Never,
            n => match n.parse::<u32>() {
                Ok(ms) if (1..=3_600_000).contains(&ms) => Fsync::EveryMs(ms),
                _ => {
                    self.d.invalid(l, tok, EXPECT);
                    return;
                }
            },
        };
        set_scalar(&mut self.d, &mut self.s.cfg.persistence.fsync, v, l, None);
    }

    /// `persistent_client_expiration <n><h|d|w|m|y>`.
    fn expiration(&mut self, l: &Line<'_>) {
        const EXPECT: &str = "a number followed by h, d, w, m or y (hours, days, weeks, \
                              30-day months, 365-day years), e.g. 14d";
        let Some(tok) = self.d.token(l, EXPECT) else {
            return;
        };
        let Some((unit_at, unit)) = tok.char_indices().last() else {
            return;
        };
        let mult: u64 = match unit {
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            'm' => 30 * 86_400,
            'y' => 365 * 86_400,
            _ => {
                self.d.invalid(l, tok, EXPECT);
                return;
            }
        };
        let number = &tok[..unit_at];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            self.d.invalid(l, tok, EXPECT);
            return;
        }
        let secs = number.parse::<u64>().ok().and_then(|n| n.checked_mul(mult));
        match secs {
            Some(0) => self.d.error(
                &l.span,
                ErrorKind::Invalid {
                    option: l.name.to_owned(),
                    reason: format!("\"{tok}\" is zero; leave the option out to never expire"),
                },
            ),
            Some(secs) => set_scalar(
                &mut self.d,
                &mut self.s.cfg.persistent_client_expiration,
                Some(Duration::from_secs(secs)),
                l,
                None,
            ),
            None => self.d.error(
                &l.span,
                ErrorKind::Invalid { option: l.name.to_owned(), reason: format!("\"{tok}\" is too large") },
            ),
        }
    }

    /// `log_dest`: repeatable; `file` takes the rest of the line as a path.
    fn log_dest(&mut self, l: &Line<'_>) {
        const EXPECT: &str = "stdout, stderr, syslog, topic, dlt, none or file <path>";
        let kind = l.rest.split([' ', '\t']).next().unwrap_or("");
        if kind.is_empty() {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        }
        let after = l.rest[kind.len()..].trim_start_matches([' ', '\t']);
        // The first log_dest line replaces the default (stderr).
        if !self.s.log_dest_set {
            self.s.log_dest_set = true;
            self.s.cfg.log.dest = Setting::at(LogDest::default(), l.span.clone());
        }
        if kind == "file" {
            if after.is_empty() {
                self.d.error(
                    &l.span,
                    ErrorKind::MissingValue { option: "log_dest file".to_owned(), expected: EXPECT_PATH.to_owned() },
                );
                return;
            }
            if let Some(first) = &self.s.log_file_span {
                self.d.error(
                    &l.span,
                    ErrorKind::Duplicate {
                        option: "log_dest file".to_owned(),
                        first: first.clone(),
                        note: Some("only one log file is possible"),
                    },
                );
                return;
            }
            self.d.check_hash("log_dest file", after, &l.span);
            self.s.log_file_span = Some(l.span.clone());
            self.s.cfg.log.file_line = Some(l.span.clone());
            self.s.cfg.log.dest.value.file = Some(PathBuf::from(after));
            return;
        }
        if !after.is_empty() && !after.starts_with('#') {
            self.d.unexpected(l, after);
            return;
        }
        let dest = &mut self.s.cfg.log.dest.value;
        match kind {
            "none" => *dest = LogDest::default(),
            "stdout" => dest.stdout = true,
            "stderr" => dest.stderr = true,
            "syslog" => dest.syslog = true,
            "topic" => dest.topic = true,
            "dlt" => dest.dlt = true,
            _ => self.d.invalid(l, kind, EXPECT),
        }
    }

    /// `log_type`: repeatable, OR-ed; `none` clears.
    fn log_type(&mut self, l: &Line<'_>) {
        let Some(t) = self.d.choice(l, &LogTypes::NAMES) else {
            return;
        };
        // The first log_type line replaces the default set.
        if !self.s.log_type_set {
            self.s.log_type_set = true;
            self.s.cfg.log.types = Setting::at(LogTypes::NONE, l.span.clone());
        }
        let types = &mut self.s.cfg.log.types.value;
        *types = if t == LogTypes::NONE { LogTypes::NONE } else { types.union(t) };
    }

    /// `include_dir <dir>`: parse every `*.conf` file of `dir`, in Mosquitto's
    /// order, at this point of the main file.
    fn include_dir(&mut self, l: &Line<'_>, fs: &FileState) {
        if fs.level > 0 {
            // Mosquitto ignores it silently; an error says why nothing loads.
            self.d
                .error(&l.span, ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::IncludedFile });
            return;
        }
        let Some(dir) = self.d.text(l, "a directory") else {
            return;
        };
        // Relative to the working directory, as in Mosquitto.
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.d.error(&l.span, ErrorKind::Io { what: format!("include_dir \"{dir}\""), reason: e.to_string() });
                return;
            }
        };
        let mut names: Vec<OsString> = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.d.error(
                        &l.span,
                        ErrorKind::Io { what: format!("include_dir \"{dir}\""), reason: e.to_string() },
                    );
                    continue;
                }
            };
            let name = entry.file_name();
            let bytes = name.as_encoded_bytes();
            // Mosquitto: names ending in ".conf" with at least one character
            // before the suffix.
            if bytes.len() > 5 && bytes.ends_with(b".conf") && !entry.path().is_dir() {
                names.push(name);
            }
        }
        names.sort_by(|a, b| mosquitto_name_order(a.as_encoded_bytes(), b.as_encoded_bytes()));
        for name in names {
            let path = Path::new(&dir).join(&name);
            if let Some(main) = &self.s.main_file
                && fs::canonicalize(&path).ok().as_ref() == Some(main)
            {
                self.d.error(
                    &l.span,
                    ErrorKind::Invalid {
                        option: l.name.to_owned(),
                        reason: format!(
                            "{} is the main configuration file, which cannot include itself",
                            path.display()
                        ),
                    },
                );
                continue;
            }
            match fs::read(&path) {
                Ok(bytes) => self.parse_file(&bytes, &path, fs.level + 1, Some(&l.span)),
                Err(e) => self.d.error(
                    &l.span,
                    ErrorKind::Io { what: format!("included file \"{}\"", path.display()), reason: e.to_string() },
                ),
            }
        }
    }

    // ----- security -----

    /// Where a security option goes: global, or (with
    /// `per_listener_settings true`) the current listener.
    fn security_target(&mut self, l: &Line<'_>, fs: &FileState) -> Option<STarget> {
        if !self.s.cfg.per_listener_settings.value {
            return Some(STarget::Global);
        }
        match fs.section {
            Section::Listener(i) => Some(STarget::Listener(LTarget::Listener(i))),
            Section::Top => {
                self.s.default_uses.push((l.span.clone(), l.name.to_owned(), true));
                Some(STarget::Listener(LTarget::Default))
            }
            Section::Bridge(b) => {
                let bridge = self.s.cfg.bridges[b].name.value.clone();
                self.d.error(
                    &l.span,
                    ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::InBridge { bridge } },
                );
                None
            }
            Section::Broken => None,
        }
    }

    /// Password, ACL and PSK files, `allow_anonymous`,
    /// `allow_zero_length_clientid`, `auto_id_prefix`.
    fn security_option(&mut self, l: &Line<'_>, fs: &FileState) {
        self.note_security(l);
        let Some(target) = self.security_target(l, fs) else {
            return;
        };
        // Without per_listener_settings a security option inside a listener
        // section still applies to every listener: say so when it repeats.
        let note =
            (target == STarget::Global && matches!(fs.section, Section::Listener(_))).then_some(GLOBAL_SECURITY_NOTE);
        match l.name {
            "allow_anonymous" | "allow_zero_length_clientid" => {
                let Some(v) = self.d.boolean(l) else { return };
                let sec = self.s.security(target);
                if l.name == "allow_anonymous" {
                    set_scalar(&mut self.d, &mut sec.allow_anonymous, Some(v), l, note);
                } else {
                    set_scalar(&mut self.d, &mut sec.allow_zero_length_clientid, v, l, note);
                }
            }
            "auto_id_prefix" => {
                let Some(v) = self.d.text(l, EXPECT_TEXT) else {
                    return;
                };
                let sec = self.s.security(target);
                set_once(&mut self.d, &mut sec.auto_id_prefix, v, l, note);
            }
            name => {
                let Some(v) = self.d.text(l, EXPECT_PATH) else {
                    return;
                };
                let sec = self.s.security(target);
                let field = match name {
                    "password_file" => &mut sec.password_file,
                    "acl_file" => &mut sec.acl_file,
                    _ => &mut sec.psk_file,
                };
                set_once(&mut self.d, field, Some(PathBuf::from(v)), l, note);
            }
        }
    }

    /// `plugin` / `auth_plugin <path>`: later plugin options attach to it.
    fn plugin(&mut self, l: &Line<'_>, fs: &mut FileState) {
        self.note_security(l);
        fs.plugin = None;
        let Some(target) = self.security_target(l, fs) else {
            return;
        };
        let Some(path) = self.d.text(l, EXPECT_PATH) else {
            return;
        };
        let sec = self.s.security(target);
        sec.plugins.push(Plugin {
            path: Setting::at(PathBuf::from(path), l.span.clone()),
            options: Vec::new(),
            deny_special_chars: Setting::default_value(true),
        });
        fs.plugin = Some((target, sec.plugins.len() - 1));
    }

    /// The plugin the current section's plugin options attach to.
    fn current_plugin(&mut self, l: &Line<'_>, fs: &FileState) -> Option<&mut Plugin> {
        let Some((target, idx)) = fs.plugin else {
            if fs.section != Section::Broken {
                self.d.error(
                    &l.span,
                    ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::NeedsPlugin },
                );
            }
            return None;
        };
        self.s.security(target).plugins.get_mut(idx)
    }

    /// `auth_plugin_deny_special_chars` of the current plugin.
    fn plugin_deny_special_chars(&mut self, l: &Line<'_>, fs: &FileState) {
        let Some(v) = self.d.boolean(l) else { return };
        if let Some(plugin) = self.current_plugin(l, fs) {
            let setting = &mut plugin.deny_special_chars;
            let first = setting.span.replace(l.span.clone());
            setting.value = v;
            if let Some(first) = first {
                self.d.warn(&l.span, WarningKind::SetAgain { option: l.name.to_owned(), first, note: None });
            }
        }
    }

    /// `plugin_opt_<key>` / `auth_opt_<key> <value>` of the current plugin.
    fn plugin_option(&mut self, l: &Line<'_>, fs: &FileState) {
        let key = l.name.strip_prefix("auth_opt_").or_else(|| l.name.strip_prefix("plugin_opt_")).unwrap_or("");
        if key.is_empty() {
            self.d.error(
                &l.span,
                ErrorKind::Invalid {
                    option: l.name.to_owned(),
                    reason: "the option key after the prefix is empty".to_owned(),
                },
            );
            return;
        }
        let Some(value) = self.d.text(l, EXPECT_TEXT) else {
            return;
        };
        let span = l.span.clone();
        if let Some(plugin) = self.current_plugin(l, fs) {
            plugin.options.push(PluginOption { key: key.to_owned(), value: Setting::at(value, span) });
        }
    }

    // ----- listeners -----

    // ----- bridges -----

    // ----- end of input -----

    /// Checks that need the whole configuration, then the result.
    pub(crate) fn finish(self) -> Result<(Config, Vec<Warning>), ConfigErrors> {
        self.finish_with(false)
    }

    /// [`Parser::finish`]; with `unsupported`, what [`Config::check_supported`]
    /// refuses is reported with the other errors, in reading order.
    pub(crate) fn finish_with(mut self, unsupported: bool) -> Result<(Config, Vec<Warning>), ConfigErrors> {
        let mut listeners = std::mem::take(&mut self.s.listeners);

        // The default listener exists when `port` or `bind_address` is
        // given, or, as in Mosquitto, when a line outside any listener
        // section sets one of the options that open it (port 1883 on every
        // interface); every top-level listener option then belongs to it.
        // Without it those options are errors: Mosquitto ignores them.
        let port_span = self.s.default_port.span.clone();
        let bind_span = self.s.default_bind.span.clone();
        let per_listener = self.s.cfg.per_listener_settings.value;
        let opener = opens_default_listener(&self.s.default, per_listener)
            .and_then(|spans| self.s.default_uses.iter().find(|(span, _, _)| spans.contains(span)).cloned());
        let explicit = port_span.or(bind_span);
        if let Some(span) = explicit.clone().or_else(|| opener.as_ref().map(|(span, _, _)| span.clone())) {
            let addr = ListenerAddr::Tcp {
                port: self.s.default_port.value.unwrap_or(DEFAULT_PORT),
                host: self.s.default_bind.value.clone(),
            };
            let opened_by = match (&explicit, &opener) {
                (None, Some((_, option, _))) => format!(", which {option} outside any listener section opens,"),
                _ => String::new(),
            };
            if let Some(first) = listeners.iter().find(|x| x.addr.value == addr) {
                let first = first.addr.span.clone().unwrap_or_else(|| span.clone());
                self.d.error_later(
                    &span,
                    ErrorKind::DuplicateListener {
                        listener: format!("the default listener (port {addr}){opened_by}"),
                        first,
                    },
                );
            } else if explicit.is_none()
                && !listeners.is_empty()
                && let Some((_, option, _)) = &opener
            {
                // Likely meant for a listener section: say what it does.
                self.d.warn(&span, WarningKind::OpensDefaultListener { option: option.clone() });
            }
            let mut default = self.s.default.clone();
            default.addr = Setting::at(addr, span);
            default.origin = ListenerOrigin::DefaultListener;
            listeners.push(default);
        } else {
            for (span, option, security) in std::mem::take(&mut self.s.default_uses) {
                let reason =
                    if security { Misplacement::NeedsListenerPerListener } else { Misplacement::NeedsListener };
                self.d.error_later(&span, ErrorKind::Misplaced { option, reason });
            }
        }

        for (i, listener) in listeners.iter().enumerate() {
            let owner = match listener.origin {
                ListenerOrigin::DefaultListener => Owner::Listener(LTarget::Default),
                _ => Owner::Listener(LTarget::Listener(i)),
            };
            let tried = |option| self.s.tried.contains(&(owner, option));
            check_listener(&mut self.d, listener, &tried);
        }
        for (i, bridge) in self.s.cfg.bridges.iter().enumerate() {
            let tried = |option| self.s.tried.contains(&(Owner::Bridge(i), option));
            check_bridge(&mut self.d, bridge, &tried);
        }

        let mut cfg = self.s.cfg;
        if listeners.is_empty() {
            let files = std::mem::take(&mut cfg.files);
            let local = Config::local_only();
            cfg.listeners = local.listeners;
            cfg.local_only = true;
            cfg.files = files;
        } else {
            cfg.listeners = listeners;
            cfg.local_only = false;
        }

        if unsupported && let Err(found) = cfg.check_supported() {
            for e in found {
                let span = e.span();
                self.d.error_later(&span, e.kind);
            }
        }

        if self.d.errors.is_empty() {
            Ok((cfg, self.d.warnings))
        } else {
            let mut errors = self.d.errors;
            errors.sort_by_key(|(seq, _)| *seq);
            Err(ConfigErrors(errors.into_iter().map(|(_, e)| e).collect()))
        }
    }
}

/// Whether the options collected outside any listener section open the
/// default listener, as Mosquitto decides it (`config__read`): one of these
/// set to other than its default value. The lines that do, if any.
fn opens_default_listener(d: &Listener, per_listener: bool) -> Option<Vec<Span>> {
    let t = &d.tls;
    let set = [
        (d.bind_interface.value.is_some(), &d.bind_interface.span),
        (t.cafile.value.is_some(), &t.cafile.span),
        (t.capath.value.is_some(), &t.capath.span),
        (t.certfile.value.is_some(), &t.certfile.span),
        (t.keyfile.value.is_some(), &t.keyfile.span),
        (t.tls_engine.value.is_some(), &t.tls_engine.span),
        (t.tls_keyform.value != KeyForm::Pem, &t.tls_keyform.span),
        (t.tls_engine_kpass_sha1.value.is_some(), &t.tls_engine_kpass_sha1.span),
        (t.ciphers.value.is_some(), &t.ciphers.span),
        (t.ciphers_tls13.value.is_some(), &t.ciphers_tls13.span),
        (t.dhparamfile.value.is_some(), &t.dhparamfile.span),
        (t.psk_hint.value.is_some(), &t.psk_hint.span),
        (t.require_certificate.value, &t.require_certificate.span),
        (t.crlfile.value.is_some(), &t.crlfile.span),
        (t.use_identity_as_username.value, &t.use_identity_as_username.span),
        (t.use_subject_as_username.value, &t.use_subject_as_username.span),
        (d.use_username_as_clientid.value, &d.use_username_as_clientid.span),
        (d.max_connections.value.is_some(), &d.max_connections.span),
        (d.max_qos.value != 2, &d.max_qos.span),
        (d.mount_point.value.is_some(), &d.mount_point.span),
        (d.protocol.value != Protocol::Mqtt, &d.protocol.span),
        (d.socket_domain.value.is_some(), &d.socket_domain.span),
    ];
    let mut spans: Vec<Span> = set.into_iter().filter(|(on, _)| *on).filter_map(|(_, span)| span.clone()).collect();
    if per_listener {
        let sec = &d.security;
        let security = [
            (sec.password_file.value.is_some(), &sec.password_file.span),
            (sec.psk_file.value.is_some(), &sec.psk_file.span),
            (!sec.allow_zero_length_clientid.value, &sec.allow_zero_length_clientid.span),
        ];
        spans.extend(security.into_iter().filter(|(on, _)| *on).filter_map(|(_, span)| span.clone()));
        spans.extend(sec.plugins.iter().filter_map(|p| p.path.span.clone()));
    }
    (!spans.is_empty()).then_some(spans)
}

/// The canonical name of an option that has an alias, as a `'static` name
/// for [`State::tried`].
fn canonical(name: &str) -> &'static str {
    match name {
        "addresses" | "address" => "address",
        "clientid" | "remote_clientid" => "remote_clientid",
        "username" | "remote_username" => "remote_username",
        "password" | "remote_password" => "remote_password",
        "maximum_qos" | "max_qos" => "max_qos",
        _ => crate::options::OPTIONS.iter().map(|o| o.name).find(|n| *n == name).unwrap_or("?"),
    }
}

/// Mosquitto's `include_dir` order: compare case-insensitively first, and at
/// the first pair of characters that differ only in case put the upper-case
/// one first. So `00.conf A.conf a.conf B.conf b.conf Z.conf _x.conf`.
pub(crate) fn mosquitto_name_order(a: &[u8], b: &[u8]) -> Ordering {
    for (&x, &y) in a.iter().zip(b) {
        let (ux, uy) = (x.to_ascii_uppercase(), y.to_ascii_uppercase());
        if ux != uy {
            return ux.cmp(&uy);
        }
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::values::choice_list;
    use super::*;

    #[test]
    fn include_order_matches_mosquitto() {
        let mut names = vec!["B.conf", "a.conf", "A.conf", "b.conf", "00.conf", "_x.conf", "Z.conf"];
        names.sort_by(|a, b| mosquitto_name_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(names, ["00.conf", "A.conf", "a.conf", "B.conf", "b.conf", "Z.conf", "_x.conf"]);
    }

    #[test]
    fn choice_list_wording() {
        assert_eq!(choice_list(&[("a", 1), ("b", 2), ("c", 3)]), "a, b or c");
        assert_eq!(choice_list(&[("a", 1)]), "a");
    }
}
