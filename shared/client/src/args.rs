//! Command-line options of `mq-pub`, `mq-sub` and `mq-rr` (and of `mq pub|sub|rr`, which use the same
//! types).
//!
//! Mosquitto shares one option parser between its three clients and rejects, at run time, the options a
//! tool does not take. Here [`ConnectArgs`] holds what every tool takes and each tool's struct flattens it
//! and adds its own, so an option a tool does not take is simply unknown to it
//! (`Error: Unknown option '-C'.`, as Mosquitto says).
//!
//! Value parsers check values as they are read and fail with Mosquitto's messages (`Invalid QoS given:
//! 3`); `mq_cli::usage` adds the `Error: ` prefix and the `--help` hint. A trailing `\n` in a message
//! reproduces the extra empty line Mosquitto prints after some of them. Checks that involve several
//! options live in the `config` module, run before anything touches the network.
//!
//! Value names double as the nouns of Mosquitto's "argument given but no ... specified" messages
//! (`_` reads as a space), which is why they are lower case.

use std::path::PathBuf;

use clap::{ArgAction, ValueHint};
use mq_cli::Completing;
use mq_proto::topic::{check_topic_filter, check_topic_name};
use mq_proto::{ProtocolVersion, QoS};

/// Options every client tool takes: where and how to connect, who to be, the will, MQTT 5 properties,
/// debugging (Mosquitto: `client/client_shared.c`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// MQTT host to connect to [default: localhost].
    #[arg(short = 'h', long = "host", value_name = "host", value_hint = ValueHint::Hostname, help_heading = "Connection")]
    pub host: Option<String>,

    /// Network port to connect to [default: 1883].
    #[arg(short = 'p', long = "port", value_name = "port", value_parser = parse_port, help_heading = "Connection")]
    pub port: Option<u16>,

    /// Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic.
    ///
    /// -h, -p, -u and -P given as well take precedence over the URL's parts.
    #[arg(short = 'L', long = "url", value_name = "URL", help_heading = "Connection")]
    pub url: Option<String>,

    /// Connect through a unix domain socket instead of TCP (replaces -h and -p).
    #[arg(long = "unix", value_name = "socket_path", help_heading = "Connection")]
    pub unix: Option<PathBuf>,

    /// Bind the outgoing socket to this local host name or address.
    #[arg(short = 'A', value_name = "address", value_hint = ValueHint::Hostname, help_heading = "Connection")]
    pub bind_address: Option<String>,

    /// Disable Nagle's algorithm (TCP_NODELAY) to send small packets sooner.
    #[arg(long = "nodelay", help_heading = "Connection")]
    pub nodelay: bool,

    /// Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default;
    /// %25, %3A and %40 in the credentials stand for '%', ':' and '@').
    #[arg(long = "proxy", value_name = "proxy_url", help_heading = "Connection")]
    pub proxy: Option<String>,

    /// MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5].
    #[arg(short = 'V', long = "protocol-version", value_name = "version", value_parser = Completing::new(parse_version, VERSIONS), hide_possible_values = true, help_heading = "Connection")]
    pub protocol: Option<ProtocolVersion>,

    /// Keep alive in seconds, 5 to 65535.
    #[arg(short = 'k', long = "keepalive", value_name = "keepalive", value_parser = parse_keepalive, default_value = "60", help_heading = "Connection")]
    pub keepalive: u16,

    /// Client identifier [default: empty, so the broker assigns one].
    #[arg(short = 'i', long = "id", value_name = "id", allow_hyphen_values = true, help_heading = "Connection")]
    pub id: Option<String>,

    /// Client identifier made of this prefix and the process id (for brokers using clientid_prefixes).
    #[arg(short = 'I', long = "id-prefix", value_name = "id_prefix", help_heading = "Connection")]
    pub id_prefix: Option<String>,

    /// Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never
    /// expires unless -x says otherwise.
    #[arg(short = 'c', long = "disable-clean-session", help_heading = "Connection")]
    pub disable_clean_session: bool,

    /// MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never
    /// [default: never with -c, else 0].
    #[arg(short = 'x', value_name = "session_expiry_interval", value_parser = parse_session_expiry, allow_hyphen_values = true, help_heading = "Connection")]
    pub session_expiry: Option<u32>,

    /// Maximum number of QoS 1 and 2 messages in flight at once [default: 20].
    #[arg(short = 'M', value_name = "max_inflight", value_parser = parse_max_inflight, help_heading = "Connection")]
    pub max_inflight: Option<u16>,

    /// User name.
    #[arg(
        short = 'u',
        long = "username",
        value_name = "username",
        allow_hyphen_values = true,
        help_heading = "Authentication"
    )]
    pub username: Option<String>,

    /// Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD
    /// environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is).
    #[arg(
        short = 'P',
        long = "pw",
        value_name = "password",
        allow_hyphen_values = true,
        help_heading = "Authentication"
    )]
    pub password: Option<String>,

    /// Read the password from the first line of this file.
    #[arg(long = "pw-file", value_name = "file", help_heading = "Authentication")]
    pub pw_file: Option<PathBuf>,

    /// Ask for the password on the terminal.
    #[arg(long = "pw-prompt", help_heading = "Authentication")]
    pub pw_prompt: bool,

    /// Topic of the will, the message the broker publishes if this client goes away without
    /// disconnecting.
    #[arg(long = "will-topic", value_name = "will_topic", value_parser = parse_will_topic, help_heading = "Will")]
    pub will_topic: Option<String>,

    /// Payload of the will [default: empty].
    #[arg(long = "will-payload", value_name = "will_payload", allow_hyphen_values = true, help_heading = "Will")]
    pub will_payload: Option<String>,

    /// QoS of the will.
    #[arg(long = "will-qos", value_name = "will_QoS", value_parser = Completing::new(parse_will_qos, QOS), hide_possible_values = true, help_heading = "Will")]
    pub will_qos: Option<QoS>,

    /// Retain the will.
    #[arg(long = "will-retain", help_heading = "Will")]
    pub will_retain: bool,

    /// MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>.
    /// Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the
    /// specification, lower case with '-' (e.g. -D publish content-type text/plain). Implies -V 5.
    #[arg(short = 'D', long = "property", value_names = ["command", "identifier", "value"], num_args = 3..=4, action = ArgAction::Append, help_heading = "MQTT 5")]
    pub properties: Vec<String>,

    /// Print every packet sent and received, in Mosquitto's format, on stdout.
    #[arg(short = 'd', long = "debug", help_heading = "Output")]
    pub debug: bool,

    /// Do not print error messages (usage errors are still printed).
    #[arg(long = "quiet", help_heading = "Output")]
    pub quiet: bool,

    #[command(flatten)]
    pub tls: TlsArgs,
}

/// TLS options, as Mosquitto's clients take them. `--cafile`, `--capath` or `--tls-use-os-certs` turn
/// TLS on (so do `mqtts://`/`wss://` URLs, and port 8883 without other certificate options, which
/// trusts the system's CAs). TLS-PSK and OpenSSL engines are refused: rustls has neither.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Trust the CA certificates of this PEM file (turns TLS on).
    #[arg(long = "cafile", value_name = "file", help_heading = "TLS")]
    pub cafile: Option<PathBuf>,
    /// Trust the CA certificates of every PEM file in this directory (turns TLS on).
    #[arg(long = "capath", value_name = "directory", help_heading = "TLS")]
    pub capath: Option<PathBuf>,
    /// Client certificate (PEM), for brokers that require one; needs --key.
    #[arg(long = "cert", value_name = "file", help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM, not encrypted); needs --cert.
    #[arg(long = "key", value_name = "file", help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Key type: pem (engine is refused: rustls has no OpenSSL engines).
    #[arg(long = "keyform", value_name = "keyform", help_heading = "TLS")]
    pub keyform: Option<String>,
    /// TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls' suites.
    #[arg(long = "ciphers", value_name = "ciphers", help_heading = "TLS")]
    pub ciphers: Option<String>,
    /// Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1).
    #[arg(long = "tls-version", value_name = "version", help_heading = "TLS")]
    pub tls_version: Option<String>,
    /// Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca.
    #[arg(long = "tls-alpn", value_name = "protocol", help_heading = "TLS")]
    pub tls_alpn: Option<String>,
    /// OpenSSL engine (refused: rustls has no OpenSSL engines).
    #[arg(long = "tls-engine", value_name = "engine_id", help_heading = "TLS")]
    pub tls_engine: Option<String>,
    /// SHA1 of the engine key password (refused: rustls has no OpenSSL engines).
    #[arg(long = "tls-engine-kpass-sha1", value_name = "kpass_sha1", help_heading = "TLS")]
    pub tls_engine_kpass_sha1: Option<String>,
    /// Trust the operating system's CA certificates (turns TLS on).
    #[arg(long = "tls-use-os-certs", help_heading = "TLS")]
    pub tls_use_os_certs: bool,
    /// Do not check that the server's certificate is for the host name connected to (the
    /// certificate chain is still verified). Testing only.
    #[arg(long = "insecure", help_heading = "TLS")]
    pub insecure: bool,
    /// Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK).
    #[arg(long = "psk", value_name = "key", help_heading = "TLS")]
    pub psk: Option<String>,
    /// Identity for TLS-PSK (refused: rustls has no TLS-PSK).
    #[arg(long = "psk-identity", value_name = "identity", help_heading = "TLS")]
    pub psk_identity: Option<String>,
}

impl TlsArgs {
    /// Whether an option asks for TLS by itself (a trust source).
    pub fn turns_tls_on(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some() || self.tls_use_os_certs
    }

    /// The first option given that only makes sense with TLS, as typed on the command line.
    pub fn first_tls_only(&self) -> Option<&'static str> {
        let given = [
            (self.cert.is_some(), "--cert"),
            (self.ciphers.is_some(), "--ciphers"),
            (self.tls_version.is_some(), "--tls-version"),
            (self.tls_alpn.is_some(), "--tls-alpn"),
            (self.insecure, "--insecure"),
        ];
        given.into_iter().find(|(on, _)| *on).map(|(_, name)| name)
    }

    /// The first option rustls cannot serve (TLS-PSK, OpenSSL engines), if any.
    pub fn first_unavailable(&self) -> Option<&'static str> {
        let given = [
            (self.psk.is_some(), "--psk"),
            (self.psk_identity.is_some(), "--psk-identity"),
            (self.tls_engine.is_some(), "--tls-engine"),
            (self.tls_engine_kpass_sha1.is_some(), "--tls-engine-kpass-sha1"),
            (self.keyform.as_deref().is_some_and(|k| k != "pem"), "--keyform engine"),
        ];
        given.into_iter().find(|(on, _)| *on).map(|(_, name)| name)
    }
}

/// Where a message's payload comes from (`mq-pub`, `mq-rr`): exactly one is required.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MessageArgs {
    /// Send this text as the payload.
    #[arg(short = 'm', long = "message", value_name = "message", allow_hyphen_values = true, help_heading = "Message")]
    pub message: Option<String>,
    /// Send the contents of a file as the payload, streamed from disk (up to the MQTT limit of about
    /// 256 MiB). On a terminal a progress bar shows on stderr.
    #[arg(short = 'f', long = "file", value_name = "file", help_heading = "Message")]
    pub file: Option<PathBuf>,
    /// Send all of stdin as one payload.
    #[arg(short = 's', long = "stdin-file", help_heading = "Message")]
    pub stdin_file: bool,
    /// Send a zero-length payload.
    #[arg(short = 'n', long = "null-message", help_heading = "Message")]
    pub null_message: bool,
}

/// How received messages are printed (`mq-sub`, `mq-rr`); the same bytes as `mosquitto_sub`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Print the topic before each payload: `topic payload`.
    #[arg(short = 'v', long = "verbose", help_heading = "Output")]
    pub verbose: bool,
    /// Print each message with this format instead: %t topic, %p payload, %x/%X payload in hex, %l
    /// length, %q QoS, %r retain, %m message id, %j/%J JSON, %I/%U time, MQTT 5 properties %A %C %D %E %F
    /// %P %R %S, @<c> strftime codes, @N nanoseconds, \n \t \e ... escapes; flags, width and precision as
    /// printf. Exactly mosquitto_sub's format language.
    #[arg(short = 'F', value_name = "format", allow_hyphen_values = true, help_heading = "Output")]
    pub format: Option<String>,
    /// Do not add an end of line after each message.
    #[arg(short = 'N', help_heading = "Output")]
    pub no_eol: bool,
    /// Indent the JSON of %j and %J.
    #[arg(long = "pretty", help_heading = "Output")]
    pub pretty: bool,
}

/// `mq-pub`: publish one message (or one per line of stdin) and exit.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mq-pub",
    version,
    about = "Publish an MQTT message (a drop-in for mosquitto_pub)",
    long_about = "Publish an MQTT message and exit: a drop-in for mosquitto_pub, with the same options, \
                  messages and exit statuses.\n\nDefault options are read from $XDG_CONFIG_HOME/mq-pub \
                  (or ~/.config/mq-pub), one option per line.",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct PubArgs {
    /// Topic to publish to.
    #[arg(short = 't', long = "topic", value_name = "topic", value_parser = parse_pub_topic, help_heading = "Message")]
    pub topic: Option<String>,

    #[command(flatten)]
    pub message: MessageArgs,

    /// Read stdin and send each line as a message (without its newline), staying connected.
    #[arg(short = 'l', long = "stdin-line", help_heading = "Message")]
    pub stdin_line: bool,

    /// QoS of the message: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", value_name = "QoS", value_parser = Completing::new(parse_qos, QOS), hide_possible_values = true, default_value = "0", help_heading = "Message")]
    pub qos: QoS,

    /// Ask the broker to retain the message.
    #[arg(short = 'r', long = "retain", help_heading = "Message")]
    pub retain: bool,

    /// With -m, -f, -s or -n: publish the message this many times.
    #[arg(long = "repeat", value_name = "count", value_parser = parse_repeat, help_heading = "Message")]
    pub repeat: Option<u32>,

    /// With --repeat: seconds (fractions allowed) between the delivery of one message and the start of the
    /// next.
    #[arg(long = "repeat-delay", value_name = "time", value_parser = parse_repeat_delay, help_heading = "Message")]
    pub repeat_delay: Option<f64>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Print usage (long form only: -h is --host).
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print the version (long form only: -V is --protocol-version).
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// `mq-sub`: subscribe and print (or hand to a command) every message received.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mq-sub",
    version,
    about = "Subscribe to MQTT topics and print or handle the messages (a drop-in for mosquitto_sub)",
    long_about = "Subscribe to MQTT topics and print every message received: a drop-in for mosquitto_sub, with \
                  the same options, output bytes and exit statuses, plus --exec to hand each message to a \
                  command.\n\nDefault options are read from $XDG_CONFIG_HOME/mq-sub (or ~/.config/mq-sub), one \
                  option per line; -t and -T there add to the command line's.",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct SubArgs {
    /// Topic filter to subscribe to; repeat for more.
    #[arg(short = 't', long = "topic", value_name = "topic", value_parser = parse_sub_topic, action = ArgAction::Append, help_heading = "Subscription")]
    pub topics: Vec<String>,

    /// QoS to subscribe with: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", value_name = "QoS", value_parser = Completing::new(parse_qos, QOS), hide_possible_values = true, default_value = "0", help_heading = "Subscription")]
    pub qos: QoS,

    /// Unsubscribe from this filter after subscribing (to edit a persistent session); repeatable.
    #[arg(short = 'U', long = "unsubscribe", value_name = "unsubscribe_topic", value_parser = parse_unsub_topic, action = ArgAction::Append, help_heading = "Subscription")]
    pub unsubscribe: Vec<String>,

    /// Do not print messages whose topic matches this filter; repeatable.
    #[arg(short = 'T', long = "filter-out", value_name = "topic_filter", value_parser = parse_filter_out, action = ArgAction::Append, help_heading = "Subscription")]
    pub filter_out: Vec<String>,

    /// Exit after this many messages.
    #[arg(short = 'C', value_name = "count", value_parser = parse_count, help_heading = "Subscription")]
    pub count: Option<u32>,

    /// Exit after this many seconds, with status 27 and "Timed out".
    #[arg(short = 'W', value_name = "timeout", value_parser = parse_timeout, help_heading = "Subscription")]
    pub timeout: Option<u32>,

    /// Exit as soon as the subscriptions are acknowledged (e.g. to create a persistent session with -c).
    #[arg(short = 'E', help_heading = "Subscription")]
    pub exit_after_sub: bool,

    /// Do not print retained (stale) messages; with MQTT 5 the broker is asked not to send them.
    #[arg(short = 'R', help_heading = "Subscription")]
    pub no_retained: bool,

    /// Print only retained messages and exit at the first message that is not retained.
    #[arg(long = "retained-only", help_heading = "Subscription")]
    pub retained_only: bool,

    /// Clear each retained message received (publish an empty retained message to its topic); -T
    /// filters still apply.
    #[arg(long = "remove-retained", help_heading = "Subscription")]
    pub remove_retained: bool,

    /// MQTT 5: keep the retain flag of messages as published.
    #[arg(long = "retain-as-published", help_heading = "Subscription")]
    pub retain_as_published: bool,

    /// Print only about this percentage of the messages, 0.1 to 100.
    #[arg(long = "random-filter", value_name = "chance", value_parser = parse_random_filter, help_heading = "Subscription")]
    pub random_filter: Option<f64>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub exec: ExecArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Print usage (long form only: -h is --host).
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print the version (long form only: -V is --protocol-version).
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// `--exec`: run a command for every message.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExecArgs {
    /// Run this shell command (sh -c) for each message instead of printing it. The payload is on the
    /// command's stdin; MQ_TOPIC, MQ_QOS, MQ_RETAIN, MQ_MID, MQ_DUP, MQ_PAYLOAD_LENGTH and, for MQTT 5,
    /// MQ_CONTENT_TYPE, MQ_RESPONSE_TOPIC, MQ_CORRELATION_DATA (hex), MQ_PAYLOAD_FORMAT,
    /// MQ_MESSAGE_EXPIRY, MQ_SUBSCRIPTION_IDS, MQ_USER_PROPERTIES (JSON array of [key, value]) and
    /// MQ_USER_PROPERTY_<KEY> are in its environment. QoS 1 and 2 messages are acknowledged only when
    /// their command has finished, so nothing is lost if the subscriber dies first (with -c the broker
    /// sends it again).
    #[arg(long = "exec", value_name = "command", help_heading = "Exec")]
    pub command: Option<String>,

    /// Run up to this many commands at once (messages start in order but may finish out of order).
    #[arg(long = "exec-jobs", value_name = "jobs", value_parser = parse_jobs, default_value = "1", help_heading = "Exec")]
    pub jobs: u16,

    /// Stop at the first command that fails (exit status not 0): its message is not acknowledged, so with
    /// -c the broker delivers it again next time; mq-sub exits with status 1. Without this option a
    /// failure is reported on stderr and the message counts as handled.
    #[arg(long = "exec-stop-on-error", help_heading = "Exec")]
    pub stop_on_error: bool,
}

/// `mq-rr`: MQTT 5 request/response: publish a request, print the first response.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mq-rr",
    version,
    about = "Send an MQTT request and print the response (a drop-in for mosquitto_rr)",
    long_about = "Subscribe to a response topic, publish a request whose MQTT 5 Response Topic property names \
                  it, print the first response and exit: a drop-in for mosquitto_rr.\n\nDefault options are \
                  read from $XDG_CONFIG_HOME/mq-rr (or ~/.config/mq-rr), one option per line.",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct RrArgs {
    /// Topic to publish the request to.
    #[arg(short = 't', long = "topic", value_name = "topic", value_parser = parse_pub_topic, help_heading = "Request")]
    pub topic: Option<String>,

    /// Topic the response is expected on (sent as the request's Response Topic property).
    #[arg(short = 'e', value_name = "response_topic", value_parser = parse_response_topic, help_heading = "Request")]
    pub response_topic: Option<String>,

    #[command(flatten)]
    pub message: MessageArgs,

    /// QoS for the subscription and the request: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", value_name = "QoS", value_parser = Completing::new(parse_qos, QOS), hide_possible_values = true, default_value = "0", help_heading = "Request")]
    pub qos: QoS,

    /// Give up after this many seconds, with status 27 and "Timed out".
    #[arg(short = 'W', value_name = "timeout", value_parser = parse_timeout, help_heading = "Request")]
    pub timeout: Option<u32>,

    /// Ignore retained responses.
    #[arg(short = 'R', help_heading = "Request")]
    pub no_retained: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Print usage (long form only: -h is --host).
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print the version (long form only: -V is --protocol-version).
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

// Value parsers. Mosquitto reads numbers with atoi(), so "abc" counts as 0 there; here a value that is
// not a number is reported in the same words as one out of range.

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse().map_err(|_| format!("Invalid port given: {s}"))
}

fn parse_keepalive(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(k) if k >= 5 => Ok(k),
        _ => Err("Invalid keepalive given, it must be between 5 and 65535 inclusive.\n".into()),
    }
}

/// The values completion offers for `-V` (every spelling [`parse_version`] takes).
const VERSIONS: &[&str] = &["mqttv5", "mqttv311", "mqttv31", "5", "311", "31"];
/// The values completion offers for `-q` and `--will-qos`.
const QOS: &[&str] = &["0", "1", "2"];

fn parse_qos(s: &str) -> Result<QoS, String> {
    s.parse().ok().and_then(QoS::from_u8).ok_or_else(|| format!("Invalid QoS given: {s}"))
}

fn parse_will_qos(s: &str) -> Result<QoS, String> {
    s.parse().ok().and_then(QoS::from_u8).ok_or_else(|| format!("Invalid will QoS {s}.\n"))
}

/// `-V`: the names Mosquitto accepts.
pub fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s {
        "mqttv31" | "31" => Ok(ProtocolVersion::V31),
        "mqttv311" | "311" => Ok(ProtocolVersion::V311),
        "mqttv5" | "5" => Ok(ProtocolVersion::V5),
        _ => Err("Invalid protocol version argument given.\n".into()),
    }
}

fn parse_session_expiry(s: &str) -> Result<u32, String> {
    if s == "∞" || s == "-1" {
        return Ok(u32::MAX);
    }
    let n: i64 = s.parse().map_err(|_| "session-expiry-interval not a number.\n".to_string())?;
    u32::try_from(n).map_err(|_| "session-expiry-interval out of range.\n".to_string())
}

fn parse_max_inflight(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("Maximum inflight messages must be greater than 0.\n".into()),
    }
}

fn parse_pub_topic(s: &str) -> Result<String, String> {
    check_topic_name(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid publish topic '{s}', does it contain '+' or '#'?"))
}

fn parse_will_topic(s: &str) -> Result<String, String> {
    check_topic_name(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid will topic '{s}', does it contain '+' or '#'?"))
}

fn parse_response_topic(s: &str) -> Result<String, String> {
    check_topic_name(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid response topic '{s}', does it contain '+' or '#'?"))
}

fn parse_sub_topic(s: &str) -> Result<String, String> {
    check_topic_filter(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid subscription topic '{s}', are all '+' and '#' wildcards correct?"))
}

fn parse_unsub_topic(s: &str) -> Result<String, String> {
    check_topic_filter(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid unsubscribe topic '{s}', are all '+' and '#' wildcards correct?"))
}

fn parse_filter_out(s: &str) -> Result<String, String> {
    check_topic_filter(s)
        .map(|()| s.to_string())
        .map_err(|_| format!("Invalid filter topic '{s}', are all '+' and '#' wildcards correct?"))
}

fn parse_count(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("Invalid message count \"{s}\".\n")),
    }
}

fn parse_timeout(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("Invalid timeout \"{s}\".\n")),
    }
}

fn parse_repeat(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("--repeat argument must be >0.\n".into()),
    }
}

fn parse_repeat_delay(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(d) if d >= 0.0 && d.is_finite() => Ok(d),
        _ => Err("--repeat-delay argument must be >=0.0.\n".into()),
    }
}

fn parse_random_filter(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.1..=100.0).contains(&p) => Ok(p),
        _ => Err("--random-filter chance must be between 0.1-100.0\n".into()),
    }
}

fn parse_jobs(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("Invalid --exec-jobs \"{s}\": it must be between 1 and 65535.")),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse<T: Parser>(args: &[&str]) -> Result<T, Vec<String>> {
        let argv = std::iter::once("x").chain(args.iter().copied()).map(OsString::from).collect();
        mq_cli::try_parse::<T>("x", argv).map_err(|f| f.lines)
    }

    fn first_error<T: Parser + std::fmt::Debug>(args: &[&str]) -> String {
        parse::<T>(args).unwrap_err().remove(0)
    }

    #[test]
    fn definitions_are_consistent() {
        PubArgs::command().debug_assert();
        SubArgs::command().debug_assert();
        RrArgs::command().debug_assert();
    }

    #[test]
    fn mosquitto_names_parse() {
        let a = parse::<PubArgs>(&[
            "-h",
            "b",
            "-p",
            "1884",
            "-V",
            "mqttv5",
            "-k",
            "30",
            "-i",
            "me",
            "-t",
            "a/b",
            "-m",
            "hi",
            "-q",
            "2",
            "-r",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "connect",
            "session-expiry-interval",
            "10",
        ])
        .unwrap();
        assert_eq!(a.connect.host.as_deref(), Some("b"));
        assert_eq!(a.connect.port, Some(1884));
        assert_eq!(a.connect.protocol, Some(ProtocolVersion::V5));
        assert_eq!(a.connect.keepalive, 30);
        assert_eq!(a.qos, QoS::ExactlyOnce);
        assert!(a.retain);
        assert_eq!(
            a.connect.properties,
            ["publish", "user-property", "k", "v", "connect", "session-expiry-interval", "10"]
        );
    }

    #[test]
    fn mosquitto_messages_for_bad_values() {
        assert_eq!(first_error::<PubArgs>(&["-q", "3"]), "Error: Invalid QoS given: 3");
        assert_eq!(first_error::<PubArgs>(&["-p", "70000"]), "Error: Invalid port given: 70000");
        assert_eq!(
            first_error::<PubArgs>(&["-k", "2"]),
            "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive."
        );
        assert_eq!(first_error::<PubArgs>(&["-V", "4"]), "Error: Invalid protocol version argument given.");
        assert_eq!(
            first_error::<PubArgs>(&["-t", "a/#"]),
            "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?"
        );
        assert_eq!(
            first_error::<SubArgs>(&["-t", "a/#/b"]),
            "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?"
        );
        assert_eq!(first_error::<SubArgs>(&["-C", "0"]), "Error: Invalid message count \"0\".");
        assert_eq!(first_error::<PubArgs>(&["--repeat", "0"]), "Error: --repeat argument must be >0.");
        assert_eq!(first_error::<PubArgs>(&["-x", "abc"]), "Error: session-expiry-interval not a number.");
        assert_eq!(first_error::<PubArgs>(&["-M", "0"]), "Error: Maximum inflight messages must be greater than 0.");
        assert_eq!(first_error::<PubArgs>(&["-p"]), "Error: -p argument given but no port specified.");
        assert_eq!(first_error::<PubArgs>(&["-t"]), "Error: -t argument given but no topic specified.");
        assert_eq!(first_error::<PubArgs>(&["-q"]), "Error: -q argument given but no QoS specified.");
        assert_eq!(
            first_error::<PubArgs>(&["--will-topic"]),
            "Error: --will-topic argument given but no will topic specified."
        );
    }

    #[test]
    fn options_of_other_tools_are_unknown() {
        assert_eq!(first_error::<PubArgs>(&["-C", "3"]), "Error: Unknown option '-C'.");
        assert_eq!(first_error::<PubArgs>(&["-v"]), "Error: Unknown option '-v'.");
        assert_eq!(first_error::<SubArgs>(&["-m", "x"]), "Error: Unknown option '-m'.");
        assert_eq!(first_error::<RrArgs>(&["-C", "1"]), "Error: Unknown option '-C'.");
        assert_eq!(first_error::<RrArgs>(&["-l"]), "Error: Unknown option '-l'.");
    }

    #[test]
    fn session_expiry_spellings() {
        for (s, v) in [("-1", u32::MAX), ("∞", u32::MAX), ("4294967295", u32::MAX), ("0", 0), ("10", 10)] {
            assert_eq!(parse_session_expiry(s), Ok(v), "{s}");
        }
        assert!(parse_session_expiry("-2").is_err());
        assert!(parse_session_expiry("4294967296").is_err());
    }

    #[test]
    fn message_values_may_start_with_a_hyphen() {
        let a = parse::<PubArgs>(&["-t", "a", "-m", "-5"]).unwrap();
        assert_eq!(a.message.message.as_deref(), Some("-5"));
    }

    #[test]
    fn sub_topics_accumulate_and_single_values_override() {
        let a = parse::<SubArgs>(&["-t", "a", "-q", "1", "-t", "b/#", "-q", "2"]).unwrap();
        assert_eq!(a.topics, ["a", "b/#"]);
        assert_eq!(a.qos, QoS::ExactlyOnce);
    }

    #[test]
    fn tls_flags_are_recognised() {
        let a = parse::<SubArgs>(&["-t", "a", "--cafile", "ca.pem"]).unwrap();
        assert!(a.connect.tls.turns_tls_on());
        let a = parse::<SubArgs>(&["-t", "a", "--insecure"]).unwrap();
        assert!(!a.connect.tls.turns_tls_on());
        assert_eq!(a.connect.tls.first_tls_only(), Some("--insecure"));
        let a = parse::<SubArgs>(&["-t", "a", "--psk", "00", "--psk-identity", "me"]).unwrap();
        assert_eq!(a.connect.tls.first_unavailable(), Some("--psk"));
    }
}
