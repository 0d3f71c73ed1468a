//! From [`ConnectArgs`] to what a connection needs: the endpoint, the CONNECT packet and the properties of
//! the other packets, after the checks Mosquitto makes once all options are read (in the same order, with
//! the same messages).

use std::path::PathBuf;

use bytes::Bytes;
use mq_proto::{Connect, ProtocolVersion, Will};

use crate::args::{ConnectArgs, TlsArgs};
use crate::error::{ClientError, ToolKind, UsageError};
use crate::props::{self, PropertySet};
use crate::tls::TlsSetup;
use crate::transport::Target;
use crate::url::{self, BrokerUrl, ProxyUrl};

/// The environment variable a password may come from (never shown in `ps`, unlike `-P`).
pub const PASSWORD_ENV: &str = "MQ_PASSWORD";

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP, possibly bound to a local address and possibly through a SOCKS5 proxy, with TLS and
    /// WebSockets on top when asked for.
    Tcp {
        host: String,
        port: u16,
        bind: Option<String>,
        nodelay: bool,
        proxy: Option<ProxyUrl>,
        tls: Option<Box<TlsSetup>>,
        websocket: bool,
    },
    /// A unix domain socket.
    Unix(PathBuf),
}

/// A validated connection setup.
#[derive(Debug, Clone)]
pub struct Session {
    pub endpoint: Endpoint,
    /// The CONNECT to send (protocol version, client id, clean start, will, credentials, properties).
    pub connect: Connect,
    /// Properties for the other packets (`-D publish ...`, `-D subscribe ...`, ...).
    pub props: PropertySet,
    /// `-d`.
    pub debug: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `-M`.
    pub max_inflight: u16,
    /// The topic of `-L`, if given.
    pub url_topic: Option<String>,
}

impl Session {
    /// The protocol version in use.
    pub fn version(&self) -> ProtocolVersion {
        self.connect.protocol
    }
}

/// Checks the connection options and builds the [`Session`]. `kind` decides the default protocol
/// version (MQTT 5 for `mq-rr`, 3.1.1 otherwise).
pub fn session(args: &ConnectArgs, kind: ToolKind) -> Result<Session, ClientError> {
    if args.id.is_some() && args.id_prefix.is_some() {
        return Err(UsageError::new("-i and -I argument cannot be used together.\n").into());
    }
    let mut props = props::parse(&args.properties)?;
    let default_version = if kind == ToolKind::Rr { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
    // Any -D makes the connection MQTT 5, as in Mosquitto.
    let version =
        if args.properties.is_empty() { args.protocol.unwrap_or(default_version) } else { ProtocolVersion::V5 };
    let url = args.url.as_deref().map(url::parse_broker_url).transpose()?;
    let proxy = args.proxy.as_deref().map(url::parse_proxy_url).transpose()?;

    if args.will_payload.is_some() && args.will_topic.is_none() {
        return Err(UsageError::new("Will payload given, but no will topic given.").into());
    }
    if args.will_retain && args.will_topic.is_none() {
        return Err(UsageError::new("Will retain given, but no will topic given.").into());
    }
    let tls = &args.tls;
    if tls.cert.is_some() != tls.key.is_some() {
        return Err(UsageError::new("Both certfile and keyfile must be provided if one of them is set.").into());
    }
    if tls.keyform.is_some() && tls.key.is_none() {
        return Err(UsageError::new("If keyform is set, keyfile must be also specified.").into());
    }
    if tls.tls_engine_kpass_sha1.is_some() && (tls.keyform.is_none() || tls.tls_engine.is_none()) {
        return Err(UsageError::new(
            "when using tls-engine-kpass-sha1, both tls-engine and keyform must also be provided.",
        )
        .into());
    }
    if (tls.cafile.is_some() || tls.capath.is_some()) && tls.psk.is_some() {
        return Err(UsageError::new("Only one of --psk or --cafile/--capath may be used at once.").into());
    }
    if tls.psk.is_some() && tls.psk_identity.is_none() {
        return Err(UsageError::new("--psk-identity required if --psk used.").into());
    }

    let clean_start = !args.disable_clean_session;
    let has_id = args.id.is_some();
    if version.is_v5() {
        // -c without -x means a session that never expires.
        let expiry = args.session_expiry.unwrap_or(if clean_start { 0 } else { u32::MAX });
        if expiry > 0 {
            if expiry == u32::MAX && !has_id {
                return Err(UsageError::new(
                    "You must provide a client id if you are using an infinite session expiry interval.",
                )
                .into());
            }
            props.connect.session_expiry_interval = Some(expiry);
        }
    } else if !clean_start && !has_id {
        return Err(UsageError::new("You must provide a client id if you are using the -c option.").into());
    }

    // Everything Mosquitto checks before connecting has passed; now refuse what rustls cannot do.
    if let Some(flag) = tls.first_unavailable() {
        return Err(ClientError::TlsUnavailable(flag));
    }

    let endpoint = endpoint(args, url.as_ref(), proxy)?;
    let client_id = match (&args.id, &args.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        // MQTT 3.1 has no empty client id: make one up, as Mosquitto's client library does.
        (None, None) if version == ProtocolVersion::V31 => generated_client_id(),
        (None, None) => String::new(),
    };
    let mut connect = Connect::new(version, client_id);
    connect.clean_start = clean_start;
    connect.keep_alive = args.keepalive;
    connect.username = args.username.clone().or_else(|| url.as_ref().and_then(|u| u.username.clone()));
    connect.password = password(args, url.as_ref(), connect.username.is_some())?.map(Bytes::from);
    if connect.password.is_some() && connect.username.is_none() && !version.is_v5() {
        // MQTT 3.x cannot carry a password without a user name.
        return Err(ClientError::Credentials);
    }
    if let Some(topic) = &args.will_topic {
        connect.will = Some(Will {
            topic: topic.as_str().into(),
            payload: Bytes::from(args.will_payload.clone().unwrap_or_default()),
            qos: args.will_qos.unwrap_or_default(),
            retain: args.will_retain,
            properties: std::mem::take(&mut props.will),
        });
    }
    connect.properties = std::mem::take(&mut props.connect);
    Ok(Session {
        endpoint,
        connect,
        props,
        debug: args.debug,
        quiet: args.quiet,
        max_inflight: args.max_inflight.unwrap_or(20),
        url_topic: url.map(|u| u.topic),
    })
}

/// Longest client id an MQTT 3.1 server must accept.
pub const MQTT31_MAX_CLIENT_ID: usize = 23;

/// A client id for MQTT 3.1 connections without `-i` or `-I`: `mq-` and 20 random letters and digits,
/// 23 characters in all (Mosquitto's clients send `mosq-` and 18).
pub fn generated_client_id() -> String {
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(MQTT31_MAX_CLIENT_ID);
    id.push_str("mq-");
    while id.len() < MQTT31_MAX_CLIENT_ID {
        let i = rand::random_range(0..ALPHANUMERIC.len());
        id.push(char::from(ALPHANUMERIC[i]));
    }
    id
}

fn endpoint(args: &ConnectArgs, url: Option<&BrokerUrl>, proxy: Option<ProxyUrl>) -> Result<Endpoint, ClientError> {
    if let Some(path) = &args.unix {
        return Ok(Endpoint::Unix(path.clone()));
    }
    let (host, port, tls) = host_port_tls(args.host.as_deref(), args.port, url, &args.tls)?;
    Ok(Endpoint::Tcp {
        host,
        port,
        bind: args.bind_address.clone(),
        nodelay: args.nodelay,
        proxy,
        tls: tls.map(Box::new),
        websocket: url.is_some_and(|u| u.websockets),
    })
}

/// Host, port and TLS from `-h`, `-p`, `-L` and the TLS options.
fn host_port_tls(
    host: Option<&str>,
    port: Option<u16>,
    url: Option<&BrokerUrl>,
    tls: &TlsArgs,
) -> Result<(String, u16, Option<TlsSetup>), ClientError> {
    let host = host.map(str::to_string).or_else(|| url.map(|u| u.host.clone())).unwrap_or_else(|| "localhost".into());
    let url_tls = url.is_some_and(|u| u.tls);
    // As Mosquitto's clients: a trust option or an mqtts:// URL means TLS, on port 8883 unless another
    // is given; port 8883 alone means TLS trusting the system's CAs.
    let asked = tls.turns_tls_on() || url_tls;
    let port = port.or(url.map(|u| u.port)).unwrap_or(if asked { 8883 } else { 1883 });
    let on = asked || port == 8883;
    if !on && let Some(flag) = tls.first_tls_only() {
        return Err(ClientError::TlsOff(flag));
    }
    let tls = on.then(|| TlsSetup::from_args(tls, !tls.turns_tls_on())).transpose()?;
    Ok((host, port, tls))
}

/// The broker `mq bench` connects its clients to, from its `-h`, `-p`, `-L` and TLS options, read as the
/// client tools read them. The URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`, with optional
/// `user:password@`) may end after the host and port, since `mq bench` takes its topics from `-t`.
pub fn target(host: Option<&str>, port: Option<u16>, url: Option<&str>, tls: &TlsArgs) -> Result<Target, ClientError> {
    if tls.cert.is_some() != tls.key.is_some() {
        return Err(UsageError::new("Both certfile and keyfile must be provided if one of them is set.").into());
    }
    if let Some(flag) = tls.first_unavailable() {
        return Err(ClientError::TlsUnavailable(flag));
    }
    let url = url
        .map(|u| {
            let scheme_end = u.find("://").map_or(0, |i| i + 3);
            let with_slash = if u[scheme_end..].contains('/') { u.to_string() } else { format!("{u}/") };
            url::parse_broker_url(&with_slash)
        })
        .transpose()?;
    if let Some(u) = &url
        && !u.topic.is_empty()
    {
        return Err(UsageError::new("mq bench takes its topics from -t, not from the -L URL.").into());
    }
    let (host, port, setup) = host_port_tls(host, port, url.as_ref(), tls)?;
    let mut target = Target::new(host, port, setup.as_ref(), url.as_ref().is_some_and(|u| u.websockets))?;
    if let Some(u) = url {
        target.username = u.username;
        target.password = u.password;
    }
    Ok(target)
}

/// The password from, in order: `-P`, `--pw-file`, `--pw-prompt`, the `-L` URL, and `MQ_PASSWORD` (only
/// when there is a user name to go with it).
fn password(args: &ConnectArgs, url: Option<&BrokerUrl>, has_username: bool) -> Result<Option<String>, ClientError> {
    let explicit = [args.password.is_some(), args.pw_file.is_some(), args.pw_prompt].iter().filter(|on| **on).count();
    if explicit > 1 {
        return Err(UsageError::new("Only one of -P, --pw-file and --pw-prompt may be given.").into());
    }
    if let Some(p) = &args.password {
        return Ok(Some(p.clone()));
    }
    if let Some(path) = &args.pw_file {
        let text = std::fs::read(path).map_err(|e| ClientError::Password(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(text)
            .map_err(|_| ClientError::Password(format!("{}: not valid UTF-8", path.display())))?;
        let first = text.lines().next().unwrap_or_default();
        return Ok(Some(first.to_string()));
    }
    if args.pw_prompt {
        return rpassword::prompt_password("Password: ").map(Some).map_err(|e| ClientError::Password(e.to_string()));
    }
    if let Some(p) = url.and_then(|u| u.password.clone()) {
        return Ok(Some(p));
    }
    if has_username && let Some(p) = std::env::var_os(PASSWORD_ENV) {
        return p
            .into_string()
            .map(Some)
            .map_err(|_| ClientError::Password(format!("{PASSWORD_ENV} is not valid UTF-8")));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::SubArgs;

    fn sub(args: &[&str]) -> Result<Session, ClientError> {
        let argv = ["mq-sub"].iter().chain(args).collect::<Vec<_>>();
        let a = SubArgs::try_parse_from(argv).unwrap();
        session(&a.connect, ToolKind::Sub)
    }

    /// `mq bench`'s target reads `-L`, `-p` and the TLS options as the tools do; its URL has no topic.
    #[test]
    fn bench_target_as_the_tools_read_it() {
        let none = TlsArgs::default();
        let t = target(None, None, Some("ws://u:pw@h:9001"), &none).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.transport()), ("h", 9001, "ws"));
        assert_eq!((t.username.as_deref(), t.password.as_deref()), (Some("u"), Some("pw")));
        let t = target(Some("x"), Some(1884), Some("mqtt://h/"), &none).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.transport()), ("x", 1884, "tcp"));
        assert_eq!(target(None, None, None, &none).unwrap().port, 1883);
        assert!(matches!(target(None, None, Some("mqtt://h/t"), &none), Err(ClientError::Usage(_))));
        // --cafile turns TLS on (so a missing file is a TLS setup error), on port 8883 by default.
        let missing = TlsArgs { cafile: Some("/nonexistent/ca.pem".into()), ..TlsArgs::default() };
        assert!(matches!(target(None, None, Some("wss://h"), &missing), Err(ClientError::TlsSetup(_))));
        let insecure = TlsArgs { insecure: true, ..TlsArgs::default() };
        assert!(matches!(target(None, Some(1883), None, &insecure), Err(ClientError::TlsOff("--insecure"))));
        let psk = TlsArgs { psk: Some("00".into()), ..TlsArgs::default() };
        assert!(matches!(target(None, None, None, &psk), Err(ClientError::TlsUnavailable("--psk"))));
    }

    fn usage(args: &[&str]) -> String {
        match sub(args) {
            Err(ClientError::Usage(u)) => u.message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn cross_option_checks_use_mosquitto_texts() {
        assert_eq!(usage(&["-i", "a", "-I", "b"]), "-i and -I argument cannot be used together.\n");
        assert_eq!(usage(&["--will-payload", "x"]), "Will payload given, but no will topic given.");
        assert_eq!(usage(&["-c"]), "You must provide a client id if you are using the -c option.");
        assert_eq!(
            usage(&["-c", "-V", "5"]),
            "You must provide a client id if you are using an infinite session expiry interval."
        );
        assert_eq!(usage(&["--cert", "c.pem"]), "Both certfile and keyfile must be provided if one of them is set.");
        assert!(matches!(sub(&["-P", "pw"]), Err(ClientError::Credentials)));
    }

    fn tls_of(args: &[&str]) -> (u16, Option<TlsSetup>) {
        match sub(args).unwrap().endpoint {
            Endpoint::Tcp { port, tls, .. } => (port, tls.map(|t| *t)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tls_options_turn_tls_on_as_in_mosquitto() {
        let (port, tls) = tls_of(&["--cafile", "ca.pem"]);
        assert_eq!((port, tls.map(|t| t.cafile)), (8883, Some(Some("ca.pem".into()))));
        // Port 8883 alone, or an mqtts:// URL, trust the system's CAs.
        assert!(tls_of(&["-p", "8883"]).1.is_some_and(|t| t.os_certs));
        assert!(tls_of(&["-L", "mqtts://h/t"]).1.is_some_and(|t| t.os_certs));
        assert_eq!(tls_of(&["-L", "mqtts://h:1/t", "--cafile", "c"]).1.map(|t| t.os_certs), Some(false));
        assert_eq!(tls_of(&["--cafile", "c", "-p", "1884"]).0, 1884);
        assert!(tls_of(&["-p", "1883"]).1.is_none());
        // TLS-only options without TLS, TLS-PSK and engines are refused.
        assert!(matches!(sub(&["--insecure"]), Err(ClientError::TlsOff("--insecure"))));
        assert!(matches!(sub(&["--psk", "00", "--psk-identity", "i"]), Err(ClientError::TlsUnavailable("--psk"))));
        assert!(matches!(sub(&["--cafile", "c", "--tls-version", "tlsv9"]), Err(ClientError::Usage(_))));
        assert!(matches!(sub(&["--cafile", "c", "--ciphers", "DHE-RSA-AES256-SHA"]), Err(ClientError::Usage(_))));
    }

    #[test]
    fn url_fills_in_host_port_credentials() {
        let s = sub(&["-L", "mqtt://u:p@example.org:1999/a/b"]).unwrap();
        assert_eq!(
            s.endpoint,
            Endpoint::Tcp {
                host: "example.org".into(),
                port: 1999,
                bind: None,
                nodelay: false,
                proxy: None,
                tls: None,
                websocket: false
            }
        );
        assert_eq!(s.connect.username.as_deref(), Some("u"));
        assert_eq!(s.connect.password.as_deref(), Some(&b"p"[..]));
        assert_eq!(s.url_topic.as_deref(), Some("a/b"));
    }

    #[test]
    fn property_forces_v5_and_session_expiry() {
        let s = sub(&["-D", "connect", "receive-maximum", "5", "-c", "-i", "me"]).unwrap();
        assert_eq!(s.version(), ProtocolVersion::V5);
        assert_eq!(s.connect.properties.receive_maximum, Some(5));
        assert_eq!(s.connect.properties.session_expiry_interval, Some(u32::MAX));
        assert!(!s.connect.clean_start);
        let s = sub(&["-V", "5", "-x", "30"]).unwrap();
        assert_eq!(s.connect.properties.session_expiry_interval, Some(30));
    }

    #[test]
    fn id_prefix_appends_the_pid() {
        let s = sub(&["-I", "pre-"]).unwrap();
        assert_eq!(s.connect.client_id, format!("pre-{}", std::process::id()));
    }

    #[test]
    fn mqtt31_without_an_id_gets_a_generated_one() {
        let s = sub(&["-V", "31"]).unwrap();
        let id = &s.connect.client_id;
        assert_eq!(id.len(), MQTT31_MAX_CLIENT_ID, "{id}");
        assert!(id.starts_with("mq-") && id[3..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert_ne!(sub(&["-V", "31"]).unwrap().connect.client_id, *id, "random");
        // Given ids are kept, and later versions still send an empty one.
        assert_eq!(sub(&["-V", "31", "-i", "me"]).unwrap().connect.client_id, "me");
        assert!(sub(&["-V", "31", "-I", "p-"]).unwrap().connect.client_id.starts_with("p-"));
        assert_eq!(sub(&["-V", "311"]).unwrap().connect.client_id, "");
        assert_eq!(sub(&["-V", "5"]).unwrap().connect.client_id, "");
    }

    #[test]
    fn password_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\nignored\n").unwrap();
        let s = sub(&["-u", "alice", "--pw-file", f.to_str().unwrap()]).unwrap();
        assert_eq!(s.connect.password.as_deref(), Some(&b"s3cret"[..]));
        assert!(matches!(sub(&["-u", "a", "-P", "x", "--pw-file", "f"]), Err(ClientError::Usage(_))));
    }
}
