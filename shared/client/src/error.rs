//! Everything that can make a client tool fail, and the one mapping from a failure to what is printed and
//! the exit status (Mosquitto's texts and statuses wherever Mosquitto has them).

use std::io;
use std::path::PathBuf;

use clap::CommandFactory as _;
pub use mq_cli::UsageError;
use mq_cli::{Failure, Report};
use mq_proto::client::{RequestError, Violation};
use mq_proto::{ConnectReturnCode, DecodeError, EncodeError, PacketType, ProtocolVersion, ReasonCode};

/// Exit status of `-W` timeouts (libmosquitto's MOSQ_ERR_TIMEOUT, which `mosquitto_sub -W` exits with).
pub const EXIT_TIMEOUT: u8 = 27;
/// Exit status of a failed TLS handshake (libmosquitto's MOSQ_ERR_TLS).
pub const EXIT_TLS: u8 = 8;
/// Exit status when the connection is lost (libmosquitto's MOSQ_ERR_CONN_LOST: `mosquitto_pub` and
/// `mosquitto_rr` exit 7 when the broker closes or resets the connection).
pub const EXIT_CONN_LOST: u8 = 7;
/// Exit status when the broker breaks the protocol (libmosquitto's MOSQ_ERR_PROTOCOL, 2).
pub const EXIT_PROTOCOL: u8 = 2;
/// Exit status when the broker ends the connection with a DISCONNECT (libmosquitto's MOSQ_ERR_NO_CONN,
/// which `mosquitto_pub` exits with then).
pub const EXIT_NO_CONN: u8 = 4;

/// A failure of a client tool.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad command line.
    #[error(transparent)]
    Usage(#[from] UsageError),

    /// A TLS option the TLS library (rustls) cannot serve: TLS-PSK, OpenSSL engines.
    #[error("{0} is not available: mq's TLS library (rustls) has no TLS-PSK and no OpenSSL engines")]
    TlsUnavailable(&'static str),

    /// A TLS option without anything that turns TLS on.
    #[error("{0} needs TLS: give --cafile, --capath or --tls-use-os-certs (or an mqtts:// URL)")]
    TlsOff(&'static str),

    /// The TLS options could not be used (a missing or unreadable file): Mosquitto's wording.
    #[error("Problem setting TLS options: {0}.")]
    TlsSetup(String),

    /// The TLS handshake failed (the broker's certificate was not trusted, say).
    #[error("A TLS error occurred.\n{0}")]
    Tls(#[source] io::Error),

    /// The WebSocket upgrade failed.
    #[error("WebSocket: {0}")]
    WebSocket(String),

    /// The host name did not resolve.
    #[error("Unable to connect (Lookup error.).")]
    Lookup(String),

    /// The connection could not be made (refused, unreachable, ...).
    #[error("{}", os_text(.0))]
    Connect(#[source] io::Error),

    /// The SOCKS5 proxy refused or failed.
    #[error("proxy: {0}")]
    Proxy(String),

    /// The broker refused the connection: the exit status is its return / reason code.
    #[error("Connection error: {}", refusal_text(*.version, *.code))]
    Refused { version: ProtocolVersion, code: u8 },

    /// The connection went away.
    #[error("The connection was lost.")]
    ConnectionLost,

    /// An I/O error on the connection.
    #[error("{}", os_text(.0))]
    Io(#[source] io::Error),

    /// The broker sent something that is not valid MQTT.
    #[error("The broker sent a malformed packet: {0}")]
    Protocol(#[from] DecodeError),

    /// The broker broke the protocol (an acknowledgement for nothing, an unknown topic alias, ...).
    #[error("Protocol error: {0}")]
    Violation(#[from] Violation),

    /// A request the session could not take.
    #[error("{0}")]
    Request(RequestError),

    /// The broker closed the connection with a DISCONNECT (MQTT 5 carries a reason).
    #[error("The broker disconnected: {}", .0.description(PacketType::Disconnect))]
    Disconnected(ReasonCode),

    /// A packet could not be encoded (a value too long for MQTT).
    #[error("{0}")]
    Encode(#[from] EncodeError),

    /// `-f`: the file could not be opened or read.
    #[error("Unable to open file \"{}\".\nError loading input file \"{}\".", .0.display(), .0.display())]
    FileOpen(PathBuf),

    /// `-f`: the file does not fit in one MQTT packet (or in the broker's Maximum Packet Size).
    #[error("{0}")]
    TooLarge(String),

    /// `-s`/`-l`: stdin could not be read.
    #[error("Error loading input from stdin.")]
    Stdin(#[source] io::Error),

    /// A password without a user name, which MQTT 3.x cannot carry.
    #[error("Problem setting username and/or password.")]
    Credentials,

    /// `--pw-file` could not be read, or `--pw-prompt` failed.
    #[error("Unable to read the password: {0}")]
    Password(String),

    /// `-W` ran out.
    #[error("Timed out")]
    Timeout,

    /// The broker refused every subscription.
    #[error("All subscription requests were denied.")]
    AllSubscriptionsDenied,

    /// The broker supports a lower QoS than asked for (MQTT 5 Maximum QoS).
    #[error("The broker only supports QoS {0} and lower.")]
    QosNotSupported(u8),

    /// `--exec`: the command could not be started, or failed with `--exec-stop-on-error`.
    #[error("{0}")]
    Exec(String),

    /// Writing the output failed (other than the reader going away).
    #[error("{}", os_text(.0))]
    Output(#[source] io::Error),
}

/// The text of an OS error without Rust's " (os error N)" suffix, as C's strerror() prints it.
fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Mosquitto's wording of a refused CONNACK.
fn refusal_text(version: ProtocolVersion, code: u8) -> String {
    if version.is_v5() {
        let text = ReasonCode(code).description(PacketType::ConnAck);
        if ReasonCode(code) == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION {
            format!("{text}. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.")
        } else {
            text.to_string()
        }
    } else {
        ConnectReturnCode(code).description().to_string()
    }
}

/// Which tool is reporting, for the few messages that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Pub,
    Sub,
    Rr,
}

impl ToolKind {
    /// The tool's usage, for usage errors that print it.
    fn help(self) -> String {
        match self {
            ToolKind::Pub => crate::PubArgs::command().render_help().to_string(),
            ToolKind::Sub => crate::SubArgs::command().render_help().to_string(),
            ToolKind::Rr => crate::RrArgs::command().render_help().to_string(),
        }
    }
}

/// How a client tool was called: what its failure messages depend on besides the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    /// Which tool.
    pub kind: ToolKind,
    /// The name for the `--help` hint (`mq-pub` or `mq pub`).
    pub name: &'static str,
    /// `--quiet`: runtime errors are not printed.
    pub quiet: bool,
}

/// The one mapping from a client failure to what is printed and the exit status, used by every tool and
/// by both spellings `mq-pub` / `mq pub`.
impl Report for ClientError {
    type Context = Invocation;

    fn failure(&self, cx: &Invocation) -> Failure {
        let failure = match self {
            ClientError::Usage(u) => u.failure(cx.name, || cx.kind.help()),
            ClientError::Refused { code, .. } => {
                let mut lines = vec![self.to_string()];
                // mosquitto_pub adds a second line; mosquitto_sub and mosquitto_rr don't.
                if cx.kind == ToolKind::Pub {
                    lines.push("Error: The connection was refused.".into());
                }
                Failure::new(*code, lines)
            }
            ClientError::Timeout => Failure::line(EXIT_TIMEOUT, "Timed out"),
            // libmosquitto's MOSQ_ERR_TLS, which mosquitto_pub and mosquitto_sub exit with.
            ClientError::Tls(e) => {
                Failure::new(EXIT_TLS, vec!["Error: A TLS error occurred.".into(), format!("TLS: {e}")])
            }
            ClientError::Lookup(_) | ClientError::AllSubscriptionsDenied => Failure::line(1, self.to_string()),
            ClientError::Output(e) if mq_cli::is_broken_pipe(e) => Failure::silent(0),
            ClientError::ConnectionLost => Failure::line(EXIT_CONN_LOST, format!("Error: {self}")),
            // A reset or half-closed connection is what libmosquitto calls a lost connection.
            ClientError::Io(e) if is_lost_io(e) => {
                Failure::line(EXIT_CONN_LOST, format!("Error: {}", ClientError::ConnectionLost))
            }
            ClientError::Protocol(_) | ClientError::Violation(_) => {
                Failure::line(EXIT_PROTOCOL, format!("Error: {self}"))
            }
            ClientError::Disconnected(_) => Failure::line(EXIT_NO_CONN, format!("Error: {self}")),
            other => {
                let text = other.to_string();
                let mut lines = text.lines();
                let first = lines.next().unwrap_or_default();
                let mut out = vec![format!("Error: {first}")];
                out.extend(lines.map(str::to_string));
                Failure::new(1, out)
            }
        };
        failure.quieted(cx.quiet)
    }
}

/// I/O errors that mean the connection went away under us.
fn is_lost_io(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl ClientError {
    /// Whether the connection went away (the broker closed it, an I/O error, a DISCONNECT from the
    /// broker, no answer in time): a tool that reconnects does so.
    pub fn is_lost(&self) -> bool {
        matches!(self, ClientError::ConnectionLost | ClientError::Io(_) | ClientError::Disconnected(_))
    }
}

impl From<RequestError> for ClientError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::QosNotSupported(q) => ClientError::QosNotSupported(q),
            RequestError::NotConnected => ClientError::ConnectionLost,
            RequestError::Encode(e) => ClientError::Encode(e),
            other => ClientError::Request(other),
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        // A TLS failure after the handshake (an alert: the broker wanted a client certificate, say).
        if e.get_ref().is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>()) {
            return ClientError::Tls(e);
        }
        ClientError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(kind: ToolKind) -> Invocation {
        Invocation { kind, name: "mq-pub", quiet: false }
    }

    fn lines(e: ClientError, kind: ToolKind) -> (Vec<String>, u8) {
        let f = e.failure(&cx(kind));
        (f.lines, f.code)
    }

    #[test]
    fn refused_connack_texts_and_statuses() {
        let e = ClientError::Refused { version: ProtocolVersion::V311, code: 5 };
        assert_eq!(
            lines(e, ToolKind::Pub),
            (
                vec![
                    "Connection error: Connection Refused: not authorised.".into(),
                    "Error: The connection was refused.".into()
                ],
                5
            )
        );
        let e = ClientError::Refused { version: ProtocolVersion::V5, code: 135 };
        assert_eq!(lines(e, ToolKind::Sub), (vec!["Connection error: Not authorized".into()], 135));
    }

    #[test]
    fn connection_refused_reads_like_strerror() {
        let e = ClientError::Connect(io::Error::from_raw_os_error(111));
        assert_eq!(lines(e, ToolKind::Sub), (vec!["Error: Connection refused".into()], 1));
    }

    #[test]
    fn timeout_and_file_errors() {
        assert_eq!(lines(ClientError::Timeout, ToolKind::Sub), (vec!["Timed out".into()], 27));
        let (l, c) = lines(ClientError::FileOpen("/x".into()), ToolKind::Pub);
        assert_eq!(l, ["Error: Unable to open file \"/x\".", "Error loading input file \"/x\"."]);
        assert_eq!(c, 1);
    }

    #[test]
    fn tls_failures_exit_8_as_libmosquitto_does() {
        let alert =
            tokio_rustls::rustls::Error::AlertReceived(tokio_rustls::rustls::AlertDescription::CertificateRequired);
        let e = ClientError::from(io::Error::new(io::ErrorKind::InvalidData, alert));
        let (l, c) = lines(e, ToolKind::Pub);
        assert_eq!(c, 8);
        assert_eq!(l[0], "Error: A TLS error occurred.");
        assert!(l[1].contains("CertificateRequired"), "{l:?}");
        assert!(matches!(ClientError::from(io::Error::from(io::ErrorKind::BrokenPipe)), ClientError::Io(_)));
    }

    #[test]
    fn lost_connections_protocol_errors_and_disconnects_exit_as_libmosquitto_does() {
        assert_eq!(
            lines(ClientError::ConnectionLost, ToolKind::Pub),
            (vec!["Error: The connection was lost.".into()], 7)
        );
        let reset = ClientError::Io(io::ErrorKind::ConnectionReset.into());
        assert_eq!(lines(reset, ToolKind::Rr), (vec!["Error: The connection was lost.".into()], 7));
        let other = ClientError::Io(io::ErrorKind::PermissionDenied.into());
        assert_eq!(lines(other, ToolKind::Rr).1, 1);
        let malformed = ClientError::Protocol(DecodeError::ReservedPacketType(15));
        assert_eq!(lines(malformed, ToolKind::Sub).1, 2);
        assert_eq!(lines(ClientError::Disconnected(ReasonCode(0x8E)), ToolKind::Pub).1, 4);
    }

    #[test]
    fn closed_stdout_is_a_quiet_success() {
        let f = ClientError::Output(io::ErrorKind::BrokenPipe.into()).failure(&cx(ToolKind::Sub));
        assert_eq!((f.lines.len(), f.code), (0, 0));
    }

    #[test]
    fn quiet_silences_runtime_errors_but_not_usage_errors() {
        let quiet = Invocation { quiet: true, ..cx(ToolKind::Sub) };
        assert_eq!(ClientError::Timeout.failure(&quiet), Failure { lines: vec![], ..Failure::silent(27) });
        let usage = ClientError::Usage(UsageError::new("bad")).failure(&quiet);
        assert_eq!(usage.lines, ["Error: bad", "", "Use 'mq-pub --help' to see usage."]);
        let with_usage = ClientError::Usage(UsageError::with_usage("Both")).failure(&cx(ToolKind::Sub));
        assert!(with_usage.stdout.is_some_and(|u| u.contains("Usage: mq-sub")));
    }
}
