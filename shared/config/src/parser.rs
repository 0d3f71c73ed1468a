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

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrors, ErrorKind, Misplacement, Warning, WarningKind};
use crate::model::{
    Bridge, BridgeAddress, BridgeDirection, BridgeProtocol, BridgeTopic, Config, ConfigFile, DEFAULT_PORT, KeyForm,
    Listener, ListenerAddr, ListenerOrigin, LogDest, LogTypes, Plugin, PluginOption, Protocol, RestartTimeout,
    SecurityOptions, SocketDomain, StartType, TlsVersion,
};
use crate::options::{NEWER_OPTIONS, is_plugin_option_family, removed_note, suggest};
use crate::span::{Setting, Span};

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

    /// The whole rest of the line, as Mosquitto reads string options.
    fn text(&mut self, l: &Line<'_>, expected: &str) -> Option<String> {
        if l.rest.is_empty() {
            self.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: expected.to_owned() });
            return None;
        }
        self.check_hash(l.name, l.rest, &l.span);
        Some(l.rest.to_owned())
    }

    /// Free text keeps a ` #` (Mosquitto does the same), but say so: the
    /// user most likely meant a comment.
    fn check_hash(&mut self, option: &str, value: &str, span: &Span) {
        if value.contains(" #") || value.contains("\t#") {
            self.warn(span, WarningKind::HashInValue { option: option.to_owned(), value: value.to_owned() });
        }
    }

    /// Exactly one word. A second word is an error unless it starts a
    /// comment (`#...`): a single-word value cannot contain a blank, so
    /// nothing is lost by treating it as a comment.
    fn token<'a>(&mut self, l: &Line<'a>, expected: &str) -> Option<&'a str> {
        let mut words = l.rest.split([' ', '\t']).filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            self.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: expected.to_owned() });
            return None;
        };
        if let Some(second) = words.next()
            && !second.starts_with('#')
        {
            self.unexpected(l, second);
            return None;
        }
        Some(first)
    }

    /// Report everything from `from` (a word of `l.rest`) to the end of the
    /// line as unexpected.
    /// `from` must be a slice of `l.rest` (a word split out of it), so its
    /// position is known exactly even when the same text appears earlier.
    fn unexpected(&mut self, l: &Line<'_>, from: &str) {
        let offset = (from.as_ptr() as usize).wrapping_sub(l.rest.as_ptr() as usize);
        let text = l.rest.get(offset..).filter(|_| offset <= l.rest.len()).unwrap_or(from);
        self.error(&l.span, ErrorKind::UnexpectedText { option: l.name.to_owned(), text: text.to_owned() });
    }

    fn boolean(&mut self, l: &Line<'_>) -> Option<bool> {
        let tok = self.token(l, EXPECT_BOOL)?;
        match tok {
            // Mosquitto accepts exactly these four spellings.
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.invalid(l, tok, EXPECT_BOOL);
                None
            }
        }
    }

    fn invalid(&mut self, l: &Line<'_>, value: &str, expected: &str) {
        self.error(
            &l.span,
            ErrorKind::InvalidValue {
                option: l.name.to_owned(),
                value: value.to_owned(),
                expected: expected.to_owned(),
            },
        );
    }

    /// One whole number in `min..=max`.
    fn int(&mut self, l: &Line<'_>, min: i64, max: i64) -> Option<i64> {
        let tok = self.token(l, EXPECT_NUMBER)?;
        self.int_word(l, l.name, tok, min, max, EXPECT_NUMBER)
    }

    /// Parse `tok` as a whole number in `min..=max`, reporting errors under
    /// `option`. Unlike Mosquitto (C `atoi`), trailing garbage is an error.
    fn int_word(&mut self, l: &Line<'_>, option: &str, tok: &str, min: i64, max: i64, expected: &str) -> Option<i64> {
        let digits = tok.strip_prefix('-').unwrap_or(tok);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            self.error(
                &l.span,
                ErrorKind::InvalidValue {
                    option: option.to_owned(),
                    value: tok.to_owned(),
                    expected: expected.to_owned(),
                },
            );
            return None;
        }
        let negative = tok.starts_with('-');
        let value = tok.parse::<i64>().ok();
        let too_small = match value {
            Some(v) => v < min,
            None => negative,
        };
        let too_big = match value {
            Some(v) => v > max,
            None => !negative,
        };
        if too_small {
            self.error(&l.span, ErrorKind::BelowMinimum { option: option.to_owned(), value: tok.to_owned(), min });
            return None;
        }
        if too_big {
            self.error(&l.span, ErrorKind::AboveMaximum { option: option.to_owned(), value: tok.to_owned(), max });
            return None;
        }
        value
    }

    /// One word out of a fixed list.
    fn choice<T: Copy>(&mut self, l: &Line<'_>, choices: &[(&str, T)]) -> Option<T> {
        let expected = choice_list(choices);
        let tok = self.token(l, &expected)?;
        match choices.iter().find(|(name, _)| *name == tok) {
            Some(&(_, v)) => Some(v),
            None => {
                self.invalid(l, tok, &expected);
                None
            }
        }
    }
}

/// `a, b or c`.
fn choice_list<T>(choices: &[(&str, T)]) -> String {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    match names.split_last() {
        Some((last, init)) if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// A single-valued scalar set again: Mosquitto lets the last value win, and
/// so do we, with a warning (a `conf.d` file overriding the main file is a
/// legitimate use).
fn set_scalar<T>(d: &mut Diag, s: &mut Setting<T>, v: T, l: &Line<'_>, note: Option<&'static str>) {
    if let Some(first) = &s.span {
        d.warn(&l.span, WarningKind::SetAgain { option: l.name.to_owned(), first: first.clone(), note });
    }
    *s = Setting::at(v, l.span.clone());
}

/// A text option set again is an error, as in Mosquitto ("Duplicate ...
/// value"): two paths for one file are never what the user meant.
fn set_once<T>(d: &mut Diag, s: &mut Setting<T>, v: T, l: &Line<'_>, note: Option<&'static str>) {
    if let Some(first) = &s.span {
        d.error(&l.span, ErrorKind::Duplicate { option: l.name.to_owned(), first: first.clone(), note });
        return;
    }
    *s = Setting::at(v, l.span.clone());
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

    fn boolean(&mut self, l: &Line<'_>, get: impl FnOnce(&mut State) -> &mut Setting<bool>) {
        if let Some(v) = self.d.boolean(l) {
            set_scalar(&mut self.d, get(&mut self.s), v, l, None);
        }
    }

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

    fn deprecated(&mut self, l: &Line<'_>, advice: &'static str) {
        self.d.warn(&l.span, WarningKind::Deprecated { option: l.name.to_owned(), advice });
    }

    // ----- general options with special rules -----

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

    fn plugin_deny_special_chars(&mut self, l: &Line<'_>, fs: &FileState) {
        let Some(v) = self.d.boolean(l) else { return };
        let note = None;
        let Some((target, idx)) = fs.plugin else {
            // Reported by current_plugin.
            let _ = self.current_plugin(l, fs);
            return;
        };
        if let Some(plugin) = self.s.security(target).plugins.get_mut(idx) {
            set_scalar(&mut self.d, &mut plugin.deny_special_chars, v, l, note);
        }
    }

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

    fn listener(&mut self, l: &Line<'_>, fs: &mut FileState) {
        const EXPECT: &str = "a port number, optionally followed by a bind address (or, with \
                              port 0, a Unix socket path)";
        fs.plugin = None;
        // Until the line proves valid, swallow the section's options.
        fs.section = Section::Broken;
        let words: Vec<&str> = l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let Some(&port_word) = words.first() else {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        };
        // A word starting with '#' after the port starts a comment
        // (Mosquitto does the same for this line).
        let second = words.get(1).copied().filter(|w| !w.starts_with('#'));
        if second.is_some()
            && let Some(&third) = words.get(2)
            && !third.starts_with('#')
        {
            self.d.unexpected(l, third);
            return;
        }
        let Some(port) = self.d.int_word(l, "listener port", port_word, 0, 65535, "a port number (0 to 65535)") else {
            return;
        };
        let addr = if port == 0 {
            let Some(path) = second else {
                self.d.error(
                    &l.span,
                    ErrorKind::Requires {
                        option: "listener 0".to_owned(),
                        needs: "a Unix socket path (listener 0 <path>)".to_owned(),
                    },
                );
                return;
            };
            ListenerAddr::Unix { path: PathBuf::from(path) }
        } else {
            if let Some(host) = second.filter(|h| h.contains('/')) {
                self.d.error(
                    &l.span,
                    ErrorKind::Invalid {
                        option: l.name.to_owned(),
                        reason: format!(
                            "\"{host}\" looks like a path, but a Unix socket listener needs \
                             port 0 (listener 0 {host})"
                        ),
                    },
                );
                return;
            }
            ListenerAddr::Tcp { port: u16::try_from(port).unwrap_or(DEFAULT_PORT), host: second.map(str::to_owned) }
        };
        if let Some(first) = self.s.listeners.iter().find(|x| x.addr.value == addr) {
            let first = first.addr.span.clone().unwrap_or_else(|| l.span.clone());
            self.d.error(&l.span, ErrorKind::DuplicateListener { listener: format!("listener {addr}"), first });
            return;
        }
        self.s.listeners.push(Listener::new(Setting::at(addr, l.span.clone()), ListenerOrigin::Listener));
        fs.section = Section::Listener(self.s.listeners.len() - 1);
    }

    fn default_listener_option(&mut self, l: &Line<'_>, fs: &FileState) {
        match fs.section {
            Section::Top => {}
            Section::Broken => return,
            Section::Listener(_) | Section::Bridge(_) => {
                // Mosquitto applies it to the default listener even here,
                // which silently opens an extra listener.
                self.d.error(
                    &l.span,
                    ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::DefaultListenerOnly },
                );
                return;
            }
        }
        if l.name == "port" {
            self.deprecated(l, "use \"listener <port>\" instead");
            if let Some(p) = self.d.int(l, 1, 65535) {
                let p = u16::try_from(p).ok();
                set_scalar(&mut self.d, &mut self.s.default_port, p, l, None);
            }
        } else {
            self.deprecated(l, "use \"listener <port> <address>\" instead");
            if let Some(host) = self.d.token(l, "an address or host name") {
                let host = host.to_owned();
                set_once(&mut self.d, &mut self.s.default_bind, Some(host), l, None);
            }
        }
    }

    /// Where a listener option goes.
    fn listener_target(&mut self, l: &Line<'_>, fs: &FileState) -> Option<LTarget> {
        match fs.section {
            Section::Listener(i) => Some(LTarget::Listener(i)),
            Section::Top => {
                self.s.default_uses.push((l.span.clone(), l.name.to_owned(), false));
                Some(LTarget::Default)
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

    fn listener_option(&mut self, l: &Line<'_>, fs: &FileState) {
        let Some(t) = self.listener_target(l, fs) else {
            return;
        };
        self.s.tried.insert((Owner::Listener(t), canonical(l.name)));
        match l.name {
            "bind_interface" => {
                self.text(l, "a network interface name", move |s| &mut s.listener(t).bind_interface);
            }
            "socket_domain" => {
                self.choice(l, &[("ipv4", Some(SocketDomain::Ipv4)), ("ipv6", Some(SocketDomain::Ipv6))], move |s| {
                    &mut s.listener(t).socket_domain
                })
            }
            "protocol" => self.choice(l, &[("mqtt", Protocol::Mqtt), ("websockets", Protocol::Websockets)], move |s| {
                &mut s.listener(t).protocol
            }),
            "mount_point" => {
                let Some(v) = self.d.text(l, "a topic prefix") else {
                    return;
                };
                if v.contains(['+', '#']) || v.contains('\0') {
                    self.d.error(
                        &l.span,
                        ErrorKind::Invalid {
                            option: l.name.to_owned(),
                            reason: format!(
                                "\"{v}\" contains a wildcard (+ or #), which a topic prefix \
                                 cannot have"
                            ),
                        },
                    );
                    return;
                }
                set_once(&mut self.d, &mut self.s.listener(t).mount_point, Some(v), l, None);
            }
            "http_dir" => self.text(l, "a directory", move |s| &mut s.listener(t).http_dir),
            "max_connections" => {
                if let Some(v) = self.d.int(l, -1, INT_MAX) {
                    let v = u32::try_from(v).ok();
                    set_scalar(&mut self.d, &mut self.s.listener(t).max_connections, v, l, None);
                }
            }
            "max_qos" | "maximum_qos" => self.int(l, 0, 2, move |s| &mut s.listener(t).max_qos),
            "max_topic_alias" => {
                self.int(l, 0, 65535, move |s| &mut s.listener(t).max_topic_alias);
            }
            "use_username_as_clientid" => {
                self.boolean(l, move |s| &mut s.listener(t).use_username_as_clientid);
            }
            "cafile" => self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.cafile),
            "capath" => self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.capath),
            "certfile" => self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.certfile),
            "keyfile" => self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.keyfile),
            "crlfile" => self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.crlfile),
            "dhparamfile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.listener(t).tls.dhparamfile);
            }
            "ciphers" => {
                self.text(l, "a cipher list", move |s| &mut s.listener(t).tls.ciphers);
            }
            "ciphers_tls1.3" => {
                self.text(l, "a cipher suite list", move |s| &mut s.listener(t).tls.ciphers_tls13);
            }
            "tls_version" => self.choice(l, &TLS_VERSIONS, move |s| &mut s.listener(t).tls.tls_version),
            "tls_engine" => {
                self.text(l, "an engine id", move |s| &mut s.listener(t).tls.tls_engine);
            }
            "tls_engine_kpass_sha1" => {
                let Some(v) = self.d.token(l, "a SHA-1 hash as 40 hex digits") else {
                    return;
                };
                if v.len() != 40 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    self.d.invalid(l, v, "a SHA-1 hash as 40 hex digits");
                    return;
                }
                let v = v.to_owned();
                set_once(&mut self.d, &mut self.s.listener(t).tls.tls_engine_kpass_sha1, Some(v), l, None);
            }
            "tls_keyform" => self.choice(l, &[("pem", KeyForm::Pem), ("engine", KeyForm::Engine)], move |s| {
                &mut s.listener(t).tls.tls_keyform
            }),
            "require_certificate" => {
                self.boolean(l, move |s| &mut s.listener(t).tls.require_certificate);
            }
            "use_identity_as_username" => {
                self.boolean(l, move |s| &mut s.listener(t).tls.use_identity_as_username);
            }
            "use_subject_as_username" => {
                self.boolean(l, move |s| &mut s.listener(t).tls.use_subject_as_username);
            }
            _ => self.text(l, "a PSK hint", move |s| &mut s.listener(t).tls.psk_hint),
        }
    }

    // ----- bridges -----

    fn connection(&mut self, l: &Line<'_>, fs: &mut FileState) {
        fs.plugin = None;
        fs.section = Section::Broken;
        let Some(name) = self.d.token(l, "a bridge name") else {
            return;
        };
        if let Some(first) = self.s.cfg.bridges.iter().find(|b| b.name.value == name) {
            let first = first.name.span.clone().unwrap_or_else(|| l.span.clone());
            self.d.error(&l.span, ErrorKind::DuplicateBridge { name: name.to_owned(), first });
            return;
        }
        self.s.cfg.bridges.push(Bridge::new(Setting::at(name.to_owned(), l.span.clone())));
        fs.section = Section::Bridge(self.s.cfg.bridges.len() - 1);
    }

    fn bridge_option(&mut self, l: &Line<'_>, fs: &FileState) {
        let b = match fs.section {
            Section::Bridge(b) => b,
            Section::Broken => return,
            Section::Top | Section::Listener(_) => {
                self.d.error(
                    &l.span,
                    ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::NeedsBridge },
                );
                return;
            }
        };
        self.s.tried.insert((Owner::Bridge(b), canonical(l.name)));
        match l.name {
            "address" | "addresses" => self.bridge_addresses(l, b),
            "round_robin" => self.boolean(l, move |s| &mut s.cfg.bridges[b].round_robin),
            "bridge_protocol_version" => self.choice(
                l,
                &[
                    ("mqttv31", BridgeProtocol::Mqtt31),
                    ("mqttv311", BridgeProtocol::Mqtt311),
                    ("mqttv50", BridgeProtocol::Mqtt5),
                ],
                move |s| &mut s.cfg.bridges[b].protocol_version,
            ),
            "remote_clientid" | "clientid" => {
                self.text(l, "a client id", move |s| &mut s.cfg.bridges[b].remote_clientid);
            }
            "local_clientid" => {
                self.text(l, "a client id", move |s| &mut s.cfg.bridges[b].local_clientid);
            }
            "remote_username" | "username" => {
                self.text(l, "a user name", move |s| &mut s.cfg.bridges[b].remote_username);
            }
            "remote_password" | "password" => {
                self.text(l, "a password", move |s| &mut s.cfg.bridges[b].remote_password);
            }
            "local_username" => {
                self.text(l, "a user name", move |s| &mut s.cfg.bridges[b].local_username);
            }
            "local_password" => {
                self.text(l, "a password", move |s| &mut s.cfg.bridges[b].local_password);
            }
            "cleansession" => self.boolean(l, move |s| &mut s.cfg.bridges[b].cleansession),
            "local_cleansession" => {
                if let Some(v) = self.d.boolean(l) {
                    set_scalar(&mut self.d, &mut self.s.cfg.bridges[b].local_cleansession, Some(v), l, None);
                }
            }
            "keepalive_interval" => {
                self.int(l, 5, 65535, move |s| &mut s.cfg.bridges[b].keepalive_interval);
            }
            "start_type" => {
                if l.rest.split([' ', '\t']).next() == Some("manual") {
                    self.d.error(
                        &l.span,
                        ErrorKind::Invalid {
                            option: l.name.to_owned(),
                            reason: "manual is not supported (Mosquitto refuses it too); use \
                                     automatic, lazy or once"
                                .to_owned(),
                        },
                    );
                    return;
                }
                self.choice(
                    l,
                    &[("automatic", StartType::Automatic), ("lazy", StartType::Lazy), ("once", StartType::Once)],
                    move |s| &mut s.cfg.bridges[b].start_type,
                );
            }
            "restart_timeout" => self.restart_timeout(l, b),
            "idle_timeout" => self.int(l, 1, INT_MAX, move |s| &mut s.cfg.bridges[b].idle_timeout),
            "threshold" => self.int(l, 1, INT_MAX, move |s| &mut s.cfg.bridges[b].threshold),
            "try_private" => self.boolean(l, move |s| &mut s.cfg.bridges[b].try_private),
            "notifications" => self.boolean(l, move |s| &mut s.cfg.bridges[b].notifications),
            "notifications_local_only" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].notifications_local_only);
            }
            "notification_topic" => {
                self.text(l, "a topic", move |s| &mut s.cfg.bridges[b].notification_topic);
            }
            "bridge_attempt_unsubscribe" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].attempt_unsubscribe);
            }
            "bridge_outgoing_retain" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].outgoing_retain);
            }
            "bridge_max_packet_size" => {
                self.int(l, 0, MAX_MQTT_PACKET, move |s| &mut s.cfg.bridges[b].max_packet_size);
            }
            "bridge_bind_address" => {
                if let Some(v) = self.d.token(l, "an address") {
                    let v = v.to_owned();
                    set_once(&mut self.d, &mut self.s.cfg.bridges[b].bind_address, Some(v), l, None);
                }
            }
            "bridge_cafile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.cafile);
            }
            "bridge_capath" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.capath);
            }
            "bridge_certfile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.certfile);
            }
            "bridge_keyfile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.keyfile);
            }
            "bridge_insecure" => self.boolean(l, move |s| &mut s.cfg.bridges[b].tls.insecure),
            "bridge_tls_version" => self.choice(l, &TLS_VERSIONS, move |s| &mut s.cfg.bridges[b].tls.tls_version),
            "bridge_alpn" => {
                self.text(l, "an ALPN protocol", move |s| &mut s.cfg.bridges[b].tls.alpn);
            }
            "bridge_require_ocsp" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].tls.require_ocsp);
            }
            "bridge_identity" => {
                self.text(l, "a PSK identity", move |s| &mut s.cfg.bridges[b].tls.identity);
            }
            "bridge_psk" => {
                let Some(v) = self.d.token(l, "a key in hexadecimal") else {
                    return;
                };
                if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                    self.d.invalid(l, v, "a key in hexadecimal");
                    return;
                }
                let v = v.to_owned();
                set_once(&mut self.d, &mut self.s.cfg.bridges[b].tls.psk, Some(v), l, None);
            }
            _ => self.bridge_topic(l, b),
        }
    }

    fn bridge_addresses(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "one or more host[:port] (port 1 to 65535)";
        if let Some(first) = &self.s.cfg.bridges[b].addresses.span {
            // Mosquitto: "Invalid bridge configuration"; list every address
            // on one line instead.
            self.d.error(
                &l.span,
                ErrorKind::Duplicate {
                    option: l.name.to_owned(),
                    first: first.clone(),
                    note: Some("list every address on one line"),
                },
            );
            return;
        }
        let mut addresses = Vec::new();
        for word in l.rest.split([' ', '\t']).filter(|w| !w.is_empty()) {
            if word.starts_with('#') {
                break;
            }
            // Split at the last ':' as Mosquitto does, so an IPv6 address
            // needs an explicit port; brackets around it are accepted.
            let (host, port) = match word.rsplit_once(':') {
                Some((host, port)) => {
                    let Some(port) = self.d.int_word(l, l.name, port, 1, 65535, EXPECT) else {
                        return;
                    };
                    (host, u16::try_from(port).unwrap_or(DEFAULT_PORT))
                }
                None => (word, DEFAULT_PORT),
            };
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            if host.is_empty() {
                self.d.invalid(l, word, EXPECT);
                return;
            }
            addresses.push(BridgeAddress { host: host.to_owned(), port });
        }
        if addresses.is_empty() {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        }
        self.s.cfg.bridges[b].addresses = Setting::at(addresses, l.span.clone());
    }

    fn restart_timeout(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "seconds, or a base and a cap in seconds";
        let words: Vec<&str> =
            l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).take_while(|w| !w.starts_with('#')).collect();
        let value = match words.as_slice() {
            [] => {
                self.d
                    .error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
                return;
            }
            [one] => {
                let Some(v) = self.d.int_word(l, l.name, one, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                RestartTimeout::Constant(u32::try_from(v).unwrap_or(1))
            }
            [base, cap] => {
                let Some(base) = self.d.int_word(l, l.name, base, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                let Some(cap) = self.d.int_word(l, l.name, cap, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                if cap < base {
                    self.d.error(
                        &l.span,
                        ErrorKind::Invalid {
                            option: l.name.to_owned(),
                            reason: format!("the cap ({cap}) is lower than the base ({base})"),
                        },
                    );
                    return;
                }
                RestartTimeout::Backoff { base: u32::try_from(base).unwrap_or(1), cap: u32::try_from(cap).unwrap_or(1) }
            }
            [_, _, extra, ..] => {
                self.d.unexpected(l, extra);
                return;
            }
        };
        set_scalar(&mut self.d, &mut self.s.cfg.bridges[b].restart_timeout, value, l, None);
    }

    /// `topic <pattern> [[[out|in|both] <qos>] <local-prefix> <remote-prefix>]`.
    fn bridge_topic(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "a pattern, then optionally out|in|both, a QoS and local and \
                              remote prefixes";
        let words: Vec<&str> = l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let Some(&pattern) = words.first() else {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        };
        // The pattern may be "#" itself; later words starting with '#'
        // begin a comment.
        let rest: Vec<&str> = words[1..].iter().copied().take_while(|w| !w.starts_with('#')).collect();
        let unquote = |w: &str| -> Option<String> { (w != "\"\"").then(|| w.to_owned()) };
        let mut topic = BridgeTopic {
            pattern: unquote(pattern).unwrap_or_default(),
            direction: BridgeDirection::Out,
            qos: 0,
            local_prefix: None,
            remote_prefix: None,
        };
        if let Some(dir) = rest.first() {
            // Mosquitto compares the direction case-insensitively.
            topic.direction = match dir.to_ascii_lowercase().as_str() {
                "out" => BridgeDirection::Out,
                "in" => BridgeDirection::In,
                "both" => BridgeDirection::Both,
                _ => {
                    self.d.invalid(l, dir, "out, in or both");
                    return;
                }
            };
        }
        if let Some(qos) = rest.get(1) {
            let Some(q) = self.d.int_word(l, "topic QoS", qos, 0, 2, "0, 1 or 2") else {
                return;
            };
            topic.qos = u8::try_from(q).unwrap_or(0);
        }
        match rest.get(2..) {
            None | Some([]) => {}
            Some([_]) => {
                self.d.error(
                    &l.span,
                    ErrorKind::Requires {
                        option: "topic with a local prefix".to_owned(),
                        needs: "a remote prefix too (write \"\" for an empty one)".to_owned(),
                    },
                );
                return;
            }
            Some([local, remote]) => {
                topic.local_prefix = unquote(local);
                topic.remote_prefix = unquote(remote);
            }
            Some([_, _, extra, ..]) => {
                self.d.unexpected(l, extra);
                return;
            }
        }
        if topic.pattern.is_empty() && (topic.local_prefix.is_none() || topic.remote_prefix.is_none()) {
            self.d.error(
                &l.span,
                ErrorKind::Invalid {
                    option: l.name.to_owned(),
                    reason: "an empty pattern (\"\") remaps a single topic and needs both a \
                             local and a remote prefix"
                        .to_owned(),
                },
            );
            return;
        }
        self.s.cfg.bridges[b].topics.push(Setting::at(topic, l.span.clone()));
    }

    // ----- end of input -----

    /// Checks that need the whole configuration, then the result.
    pub(crate) fn finish(mut self) -> Result<(Config, Vec<Warning>), ConfigErrors> {
        let mut listeners = std::mem::take(&mut self.s.listeners);

        // The legacy default listener exists when `port` or `bind_address`
        // is given; top-level listener options then belong to it. Without
        // them those options are errors: Mosquitto would silently open an
        // extra listener on port 1883 on every interface.
        let port_span = self.s.default_port.span.clone();
        let bind_span = self.s.default_bind.span.clone();
        if let Some(span) = port_span.or(bind_span) {
            let addr = ListenerAddr::Tcp {
                port: self.s.default_port.value.unwrap_or(DEFAULT_PORT),
                host: self.s.default_bind.value.clone(),
            };
            if let Some(first) = listeners.iter().find(|x| x.addr.value == addr) {
                let first = first.addr.span.clone().unwrap_or_else(|| span.clone());
                self.d.error_later(
                    &span,
                    ErrorKind::DuplicateListener { listener: format!("the default listener (port {addr})"), first },
                );
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

        if self.d.errors.is_empty() {
            Ok((cfg, self.d.warnings))
        } else {
            let mut errors = self.d.errors;
            errors.sort_by_key(|(seq, _)| *seq);
            Err(ConfigErrors(errors.into_iter().map(|(_, e)| e).collect()))
        }
    }
}

const TLS_VERSIONS: [(&str, Option<TlsVersion>); 3] = [
    ("tlsv1.3", Some(TlsVersion::Tls1_3)),
    ("tlsv1.2", Some(TlsVersion::Tls1_2)),
    ("tlsv1.1", Some(TlsVersion::Tls1_1)),
];

/// The canonical name of an option that has an alias, as a `'static` name
/// for [`State::tried`].
fn canonical(name: &str) -> &'static str {
    match name {
        "addresses" | "address" => "address",
        "clientid" | "remote_clientid" => "remote_clientid",
        "username" | "remote_username" => "remote_username",
        "password" | "remote_password" => "remote_password",
        "maximum_qos" | "max_qos" => "max_qos",
        _ => crate::options::OPTIONS.iter().map(|(n, _)| *n).find(|n| *n == name).unwrap_or("?"),
    }
}

/// Consistency of one listener's options.
fn check_listener(d: &mut Diag, listener: &Listener, tried: &dyn Fn(&'static str) -> bool) {
    let is_unix = matches!(listener.addr.value, ListenerAddr::Unix { .. });
    if is_unix {
        for (option, span) in
            [("socket_domain", &listener.socket_domain.span), ("bind_interface", &listener.bind_interface.span)]
        {
            if let Some(span) = span {
                d.error_later(
                    span,
                    ErrorKind::Misplaced { option: option.to_owned(), reason: Misplacement::UnixSocket },
                );
            }
        }
        if listener.protocol.value == Protocol::Websockets
            && let Some(span) = &listener.protocol.span
        {
            d.error_later(
                span,
                ErrorKind::Invalid {
                    option: "protocol".to_owned(),
                    reason: "a WebSockets listener needs a TCP port, not a Unix socket".to_owned(),
                },
            );
        }
    }
    // An invalid protocol line was reported already.
    let protocol_unreadable = tried("protocol") && listener.protocol.span.is_none();
    if let Some(span) = &listener.http_dir.span
        && listener.protocol.value != Protocol::Websockets
        && !protocol_unreadable
    {
        d.error_later(
            span,
            ErrorKind::Requires {
                option: "http_dir".to_owned(),
                needs: "\"protocol websockets\" in the same listener".to_owned(),
            },
        );
    }
    let tls = &listener.tls;
    for (option, span, needs) in
        [("certfile", &tls.certfile.span, "keyfile"), ("keyfile", &tls.keyfile.span, "certfile")]
    {
        if let Some(span) = span
            && !tried(needs)
        {
            d.error_later(
                span,
                ErrorKind::Requires { option: option.to_owned(), needs: format!("{needs} in the same listener") },
            );
        }
    }
    if let Some(psk_span) = &tls.psk_hint.span {
        for (other, span) in
            [("certfile", &tls.certfile.span), ("cafile", &tls.cafile.span), ("capath", &tls.capath.span)]
        {
            if let Some(span) = span {
                d.error_later(
                    psk_span,
                    ErrorKind::Conflict {
                        option: "psk_hint".to_owned(),
                        other: other.to_owned(),
                        other_at: span.clone(),
                        reason: "a listener uses either certificates or TLS-PSK".to_owned(),
                    },
                );
            }
        }
    }
}

/// Consistency of one bridge's options.
fn check_bridge(d: &mut Diag, bridge: &Bridge, tried: &dyn Fn(&'static str) -> bool) {
    let Some(span) = &bridge.name.span else {
        return;
    };
    let section = format!("connection {}", bridge.name.value);
    if !tried("address") {
        d.error_later(span, ErrorKind::Requires { option: section.clone(), needs: "an address line".to_owned() });
    }
    if !tried("topic") {
        d.error_later(span, ErrorKind::Requires { option: section, needs: "at least one topic line".to_owned() });
    }
    let tls = &bridge.tls;
    let pairs = [
        ("bridge_identity", &tls.identity.span, "bridge_psk"),
        ("bridge_psk", &tls.psk.span, "bridge_identity"),
        ("bridge_keyfile", &tls.keyfile.span, "bridge_certfile"),
        ("bridge_certfile", &tls.certfile.span, "bridge_keyfile"),
        ("remote_password", &bridge.remote_password.span, "remote_username"),
        ("local_password", &bridge.local_password.span, "local_username"),
    ];
    for (option, span, needs) in pairs {
        if let Some(span) = span
            && !tried(needs)
        {
            d.error_later(
                span,
                ErrorKind::Requires { option: option.to_owned(), needs: format!("{needs} in the same bridge") },
            );
        }
    }
    let psk = tls.psk.span.as_ref().or(tls.identity.span.as_ref());
    if let Some(psk) = psk {
        for (other, span) in [
            ("bridge_cafile", &tls.cafile.span),
            ("bridge_capath", &tls.capath.span),
            ("bridge_certfile", &tls.certfile.span),
        ] {
            if let Some(span) = span {
                d.error_later(
                    psk,
                    ErrorKind::Conflict {
                        option: "bridge_psk".to_owned(),
                        other: other.to_owned(),
                        other_at: span.clone(),
                        reason: "a bridge uses either certificates or TLS-PSK".to_owned(),
                    },
                );
            }
        }
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
