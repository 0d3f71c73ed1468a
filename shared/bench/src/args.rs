//! `mq bench` command line. Options follow emqtt-bench and `mqttx bench` where they exist, with
//! Mosquitto's spellings for the connection (`-h` host, `-p` port, `-V` version, `-u`/`-P`).

use std::path::PathBuf;

/// Load-test an MQTT broker from one process: many connections, publishers or subscribers.
///
/// Every run is bounded: it stops after --duration seconds (and --messages per publisher, if given).
/// It connects only to the host given (default localhost).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "mq bench", version, disable_help_flag = true, disable_version_flag = true)]
pub struct BenchArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help, global = true)]
    help: Option<bool>,
    #[command(subcommand)]
    pub mode: Mode,
}

/// What to run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Mode {
    /// Open connections and hold them (connect rate, idle cost).
    Conn(ConnArgs),
    /// Publish from many clients.
    Pub(PubArgs),
    /// Subscribe from many clients and measure throughput, latency, loss and order.
    Sub(SubArgs),
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    #[value(name = "mqttv31", alias = "31")]
    V31,
    #[value(name = "mqttv311", alias = "311")]
    V311,
    #[value(name = "mqttv5", alias = "5")]
    V5,
}

impl From<Version> for mq_proto::ProtocolVersion {
    fn from(v: Version) -> Self {
        match v {
            Version::V31 => mq_proto::ProtocolVersion::V31,
            Version::V311 => mq_proto::ProtocolVersion::V311,
            Version::V5 => mq_proto::ProtocolVersion::V5,
        }
    }
}

/// Options every mode shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Broker host (default localhost, or the -L URL's).
    #[arg(short = 'h', long = "host", value_hint = clap::ValueHint::Hostname)]
    pub host: Option<String>,
    /// Broker port (default 1883, 8883 with TLS, or the -L URL's). Port 8883 alone turns TLS on, trusting
    /// the system's CAs, as in mq-pub.
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// The broker as a URL, as mq-pub's -L without the topic: mqtt://, mqtts:// (TLS), ws://
    /// (WebSockets), wss:// (WebSockets over TLS), then [user[:password]@]host[:port].
    #[arg(short = 'L', long = "url", value_name = "URL")]
    pub url: Option<String>,
    /// TLS options as mq-pub has them: --cafile (or --capath, --tls-use-os-certs) turns TLS on.
    #[command(flatten)]
    pub tls: mq_client::args::TlsArgs,
    /// MQTT version: mqttv31, mqttv311 or mqttv5 (31, 311, 5).
    #[arg(short = 'V', long = "protocol-version", value_enum, default_value = "mqttv311")]
    pub version: Version,
    /// Number of clients.
    #[arg(short = 'c', long = "count", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// New connections per second (0: as fast as possible).
    #[arg(short = 'R', long = "connect-rate", default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Most connection handshakes (TCP connect to CONNACK) in progress at once (0: no limit). A limit
    /// keeps a burst within the broker's listen backlog, so a connect storm measures the broker's
    /// handshakes rather than SYN retransmission back-off.
    #[arg(long = "connect-concurrency", default_value_t = 0)]
    pub connect_concurrency: u32,
    /// Source address for the connections (repeat it for several: clients take them in turn). Each
    /// source address has its own ephemeral ports, so several (127.0.0.1, 127.0.0.2, ...) reach beyond
    /// the ~28,000 connections one address can open to one broker port.
    #[arg(long = "bind", value_name = "ADDRESS")]
    pub bind: Vec<std::net::IpAddr>,
    /// Client id prefix; ids are <prefix>-<process id>-<client number>.
    #[arg(short = 'i', long = "id-prefix", default_value = "mqbench")]
    pub id_prefix: String,
    /// Keep alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// Persistent sessions: clean session off (MQTT 5: clean start off, session expiry never), so a
    /// broker with persistence stores what it queues and acknowledges for them.
    #[arg(long)]
    pub persistent: bool,
    /// User name; %i is the client number, %c the client id (`-u user%i` logs each client in as its own
    /// user).
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password; %i is the client number, %c the client id.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// Run time in seconds, from the moment every client is connected.
    #[arg(short = 'D', long = "duration", default_value_t = 10.0)]
    pub duration: f64,
    /// Print one JSON line as the summary.
    #[arg(long)]
    pub json: bool,
    /// Append the JSON summary to this file as well.
    #[arg(long = "json-file")]
    pub json_file: Option<PathBuf>,
}

/// `mq bench conn`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    #[command(flatten)]
    pub common: Common,
    /// Each client also subscribes to this filter (QoS 0) once connected; %i is the client number, %c
    /// the client id (`-t 'idle/%i'`: a topic of its own, the cost of a connection with a subscription).
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
    /// Subscriptions per client with -t: 1 subscribes to the filter itself, more to <filter>/0 ...
    /// <filter>/<N-1>.
    #[arg(long = "subscriptions", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub subscriptions: u32,
}

/// `mq bench pub`.
#[derive(Debug, Clone, clap::Args)]
pub struct PubArgs {
    #[command(flatten)]
    pub common: Common,
    /// Topic; %i is the client number, %c the client id.
    #[arg(short = 't', long = "topic", default_value = "bench/%i")]
    pub topic: String,
    /// QoS.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = mq_cli::Completing::new(clap::value_parser!(u8).range(0..=2), &["0", "1", "2"]), hide_possible_values = true)]
    pub qos: u8,
    /// Payload size in bytes (at least 20: the payload carries a send time and sequence number).
    #[arg(short = 's', long = "size", default_value_t = 64, value_parser = clap::value_parser!(u32).range(20..=268_435_000))]
    pub size: u32,
    /// Messages per second per client (0: as fast as possible); paced clients start spread evenly over one
    /// interval.
    #[arg(short = 'r', long = "rate", default_value_t = 0.0)]
    pub rate: f64,
    /// Stop each client after this many messages (0: no limit; the duration still applies).
    #[arg(short = 'n', long = "messages", default_value_t = 0)]
    pub messages: u64,
    /// QoS 1/2 messages in flight per client (the broker's Receive Maximum caps it in MQTT 5).
    #[arg(long = "inflight", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..))]
    pub inflight: u16,
    /// Publish retained.
    #[arg(long)]
    pub retain: bool,
    /// Bytes of messages encoded before they are written to the socket (writes of about this size).
    #[arg(long = "batch", default_value_t = 65536, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

/// `mq bench sub`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubArgs {
    #[command(flatten)]
    pub common: Common,
    /// Topic filter; %i is the client number, %c the client id.
    #[arg(short = 't', long = "topic", default_value = "bench/#")]
    pub topic: String,
    /// QoS.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = mq_cli::Completing::new(clap::value_parser!(u8).range(0..=2), &["0", "1", "2"]), hide_possible_values = true)]
    pub qos: u8,
    /// Each client stops after this many messages (0: run for the whole duration). Messages it expected
    /// and did not receive by the end count as lost.
    #[arg(short = 'n', long = "messages", default_value_t = 0)]
    pub messages: u64,
    /// Each client stops once it has received messages and then none for this many seconds (0: never),
    /// so that a burst with losses ends promptly.
    #[arg(long = "idle-timeout", value_name = "SECONDS", default_value_t = 0.0)]
    pub idle_timeout: f64,
}
