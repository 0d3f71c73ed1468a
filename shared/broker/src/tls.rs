//! TLS listeners: the server configuration built from a listener's mosquitto.conf options (rustls with
//! the ring provider), reloaded on SIGHUP, the [`TlsLayer`] a connection's [`Stream`] reads and writes
//! through, and the client certificate names `use_identity_as_username` / `use_subject_as_username`
//! turn into user names.
//!
//! What rustls cannot do is refused or said at start: TLS-PSK, engines and unknown cipher suites are
//! refused by the configuration check (`mq_config::Config::check_supported`); `dhparamfile` is read and
//! unused (rustls has no DHE suites; ECDHE is used) and `tls_version tlsv1.1` serves TLS 1.2 and 1.3
//! (rustls has no TLS 1.1), each with a log line. An encrypted `keyfile` is refused: Mosquitto can only
//! ask for its pass phrase on the terminal it was started from, which a service does not have.
//!
//! [`Stream`]: crate::stream::Stream

use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mq_config::{TlsOptions, TlsVersion};
use parking_lot::RwLock;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig, ServerConnection, server::WebPkiClientVerifier};

use crate::stream::{Layer, LayerError, Wire};

/// Why a listener's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("unable to read {what} {path}: {source}")]
    Read { what: &'static str, path: PathBuf, source: io::Error },
    /// A PEM file held nothing of the kind expected.
    #[error("{what} {path} holds no {kind} (PEM, \"-----BEGIN {kind}-----\")")]
    Empty { what: &'static str, path: PathBuf, kind: &'static str },
    /// The key is protected by a pass phrase.
    #[error(
        "keyfile {0} is encrypted with a pass phrase, which the broker cannot ask for (Mosquitto asks on the \
         terminal it was started from); store it decrypted, readable only by the broker: openssl pkey -in {0} -out \
         <new keyfile>"
    )]
    EncryptedKey(PathBuf),
    /// The server certificate is X.509 version 1, which rustls refuses.
    #[error(
        "certfile {0} is an X.509 version 1 certificate, which the broker's TLS library (rustls) refuses (Mosquitto \
         accepts it); reissue it as version 3, e.g. add \"-extfile <(printf 'subjectAltName=DNS:<host>')\" to the \
         openssl x509 -req command that signed it"
    )]
    CertV1(PathBuf),
    /// A certificate could not be parsed.
    #[error("certfile {path}: {why}")]
    BadCert { path: PathBuf, why: String },
    /// A CA certificate could not be used.
    #[error("{what} {path}: {why}")]
    BadCa { what: &'static str, path: PathBuf, why: String },
    /// rustls refused the configuration (a key that does not match the certificate, say).
    #[error("{0}")]
    Rustls(String),
}

/// Which client certificate name becomes the user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The user name comes from CONNECT.
    None,
    /// The certificate's common name (`use_identity_as_username`).
    CommonName,
    /// The whole subject, as OpenSSL prints it in RFC 2253 order (`use_subject_as_username`).
    Subject,
}

/// A TLS listener: its options (what a reload reads again) and the configuration in force.
#[derive(Debug)]
pub struct ListenerTls {
    options: TlsOptions,
    config: RwLock<Arc<ServerConfig>>,
    /// The name taken from client certificates.
    pub identity: Identity,
}

impl ListenerTls {
    /// The TLS listener for `options`, its files read now (`None` without `certfile`: no TLS).
    pub fn new(options: &TlsOptions) -> Result<Option<ListenerTls>, TlsError> {
        if options.certfile.value.is_none() {
            return Ok(None);
        }
        let config = server_config(options)?;
        // Identity wins when both are set, as in Mosquitto.
        let identity = if options.use_identity_as_username.value {
            Identity::CommonName
        } else if options.use_subject_as_username.value {
            Identity::Subject
        } else {
            Identity::None
        };
        Ok(Some(ListenerTls { options: options.clone(), config: RwLock::new(config), identity }))
    }

    /// Notes for the log about options that are accepted but change nothing (see the module doc).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let (Some(path), Some(span)) = (&self.options.dhparamfile.value, &self.options.dhparamfile.span) {
            notes.push(format!(
                "{span}: dhparamfile {} is not used: the TLS library (rustls) offers no DHE cipher suites, clients \
                 use ECDHE",
                path.display()
            ));
        }
        if let (Some(TlsVersion::Tls1_1), Some(span)) = (self.options.tls_version.value, &self.options.tls_version.span)
        {
            notes.push(format!(
                "{span}: tls_version tlsv1.1: TLS 1.1 is not offered (the TLS library, rustls, has TLS 1.2 and 1.3 \
                 only); clients need TLS 1.2 or later"
            ));
        }
        notes
    }

    /// Reads the certificate, key, CA and CRL files again (SIGHUP). On failure the configuration in
    /// force stays and the error says why; connected clients are never affected.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = server_config(&self.options)?;
        *self.config.write() = fresh;
        Ok(())
    }

    /// A layer for one new connection.
    pub fn layer(&self) -> Result<TlsLayer, TlsError> {
        let config = self.config.read().clone();
        let conn = ServerConnection::new(config).map_err(|e| TlsError::Rustls(e.to_string()))?;
        Ok(TlsLayer { conn, pending: 0, eof: false })
    }
}

fn read_err(what: &'static str, path: &Path) -> impl FnOnce(rustls_pki_types::pem::Error) -> TlsError {
    let path = path.to_owned();
    move |e| match e {
        rustls_pki_types::pem::Error::Io(source) => TlsError::Read { what, path, source },
        other => TlsError::BadCa { what, path, why: format!("{other:?}") },
    }
}

/// Certificates of a PEM file.
fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(read_err(what, path))?
        .collect::<Result<_, _>>()
        .map_err(read_err(what, path))?;
    if certs.is_empty() {
        return Err(TlsError::Empty { what, path: path.to_owned(), kind: "CERTIFICATE" });
    }
    Ok(certs)
}

/// A `certfile` holding the server's certificate alone is sent with the intermediate CAs `cafile`
/// holds for it, up to (not including) a self-signed root, as OpenSSL completes the chain for
/// Mosquitto: clients that trust only the root can verify it. A `certfile` with a chain is sent as is.
fn complete_chain(
    mut chain: Vec<CertificateDer<'static>>,
    options: &TlsOptions,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let Some(cafile) = &options.cafile.value else { return Ok(chain) };
    if chain.len() != 1 {
        return Ok(chain);
    }
    // Subject and issuer names (raw DER) of a certificate.
    let names = |der: &CertificateDer<'_>| {
        x509_parser::parse_x509_certificate(der)
            .ok()
            .map(|(_, c)| (c.subject().as_raw().to_vec(), c.issuer().as_raw().to_vec()))
    };
    let cas: Vec<_> = certs("cafile", cafile)?.into_iter().filter_map(|c| names(&c).map(|n| (c, n))).collect();
    // Each step adds a certificate that is not yet in the chain, so this ends.
    while let Some((subject, issuer)) = chain.last().and_then(names) {
        if subject == issuer {
            break;
        }
        let next = cas.iter().find(|(c, (s, i))| *s == issuer && s != i && !chain.contains(c));
        match next {
            Some((c, _)) => chain.push(c.clone()),
            None => break,
        }
    }
    Ok(chain)
}

/// The private key of `keyfile` (PKCS#8, PKCS#1 or SEC1 PEM).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text =
        std::fs::read(path).map_err(|source| TlsError::Read { what: "keyfile", path: path.to_owned(), source })?;
    let text = String::from_utf8_lossy(&text);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(TlsError::EncryptedKey(path.to_owned()));
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| TlsError::Empty {
        what: "keyfile",
        path: path.to_owned(),
        kind: "PRIVATE KEY",
    })
}

/// The CA certificates of `cafile` and every file of `capath` (files without certificates, such as
/// hash links to CRLs, are skipped).
fn roots(options: &TlsOptions) -> Result<Option<RootCertStore>, TlsError> {
    let mut found: Vec<(&'static str, PathBuf, CertificateDer<'static>)> = Vec::new();
    if let Some(path) = &options.cafile.value {
        found.extend(certs("cafile", path)?.into_iter().map(|c| ("cafile", path.clone(), c)));
    }
    if let Some(dir) = &options.capath.value {
        let entries =
            std::fs::read_dir(dir).map_err(|source| TlsError::Read { what: "capath", path: dir.clone(), source })?;
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            if let Ok(iter) = CertificateDer::pem_file_iter(&f) {
                found.extend(iter.filter_map(Result::ok).map(|c| ("capath", f.clone(), c)));
            }
        }
        if !found.iter().any(|(what, _, _)| *what == "capath") && options.cafile.value.is_none() {
            return Err(TlsError::Empty { what: "capath", path: dir.clone(), kind: "CERTIFICATE" });
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let mut store = RootCertStore::empty();
    for (what, path, cert) in found {
        store.add(cert).map_err(|e| TlsError::BadCa { what, path, why: e.to_string() })?;
    }
    Ok(Some(store))
}

/// The cipher suites the options allow (the configuration check has validated the names).
fn provider(options: &TlsOptions) -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    let tls12 = options.ciphers.value.as_deref().and_then(|l| mq_config::ciphers::tls12_suites(l).ok());
    let tls13 = options.ciphers_tls13.value.as_deref().and_then(|l| mq_config::ciphers::tls13_suites(l).ok());
    provider.cipher_suites.retain(|s| {
        let name = s.suite().as_str().unwrap_or_default();
        let allowed = if name.starts_with("TLS13_") { &tls13 } else { &tls12 };
        allowed.as_ref().is_none_or(|names| names.contains(&name))
    });
    provider
}

/// The rustls server configuration for a listener's options.
fn server_config(options: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let (Some(certfile), Some(keyfile)) = (&options.certfile.value, &options.keyfile.value) else {
        return Err(TlsError::Rustls("certfile and keyfile are both needed".into()));
    };
    let chain = certs("certfile", certfile)?;
    if let Some(first) = chain.first() {
        match x509_parser::parse_x509_certificate(first) {
            Ok((_, cert)) if cert.version() == x509_parser::x509::X509Version::V1 => {
                return Err(TlsError::CertV1(certfile.clone()));
            }
            Ok(_) => {}
            Err(e) => return Err(TlsError::BadCert { path: certfile.clone(), why: e.to_string() }),
        }
    }
    let chain = complete_chain(chain, options)?;
    let key = private_key(keyfile)?;
    let provider = Arc::new(provider(options));
    let versions: &[&rustls::SupportedProtocolVersion] = match options.tls_version.value {
        Some(TlsVersion::Tls1_3) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match roots(options)? {
        Some(store) => {
            let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider);
            if let Some(path) = &options.crlfile.value {
                let crls: Vec<CertificateRevocationListDer<'static>> =
                    CertificateRevocationListDer::pem_file_iter(path)
                        .map_err(read_err("crlfile", path))?
                        .collect::<Result<_, _>>()
                        .map_err(read_err("crlfile", path))?;
                if crls.is_empty() {
                    return Err(TlsError::Empty { what: "crlfile", path: path.clone(), kind: "X509 CRL" });
                }
                verifier = verifier.with_crls(crls);
            }
            if !options.require_certificate.value {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier.build().map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config =
        builder.with_single_cert(chain, key).map_err(|e| TlsError::Rustls(format!("certfile/keyfile: {e}")))?;
    Ok(Arc::new(config))
}

/// The user name a client certificate gives under `identity`, if it has that name.
pub fn cert_username(cert: &[u8], identity: Identity) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    let subject = cert.subject();
    match identity {
        Identity::None => None,
        Identity::CommonName => subject.iter_common_name().next()?.as_str().ok().map(str::to_owned),
        Identity::Subject => Some(rfc2253(subject)),
    }
}

/// A distinguished name as OpenSSL prints it with `XN_FLAG_RFC2253` (what Mosquitto uses): the last
/// RDN first, `,` between them, special characters escaped.
fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in name.iter_rdn().collect::<Vec<_>>().into_iter().rev() {
        let attrs: Vec<String> = rdn
            .iter()
            .map(|a| {
                let key = x509_parser::objects::oid2abbrev(a.attr_type(), registry)
                    .map(str::to_owned)
                    .unwrap_or_else(|_| a.attr_type().to_id_string());
                let value = a.as_str().map(escape_rfc2253).unwrap_or_default();
                format!("{key}={value}")
            })
            .collect();
        parts.push(attrs.join("+"));
    }
    parts.join(",")
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let edge = (i == 0 && (c == '#' || c == ' ')) || (i == last && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A connection's TLS session (rustls, sans-IO) between its socket and MQTT.
pub struct TlsLayer {
    conn: ServerConnection,
    /// Decrypted bytes waiting to be read.
    pending: usize,
    /// The peer closed its side.
    eof: bool,
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer").field("handshaking", &self.conn.is_handshaking()).finish_non_exhaustive()
    }
}

/// A [`Wire`] as the `Read`/`Write` rustls takes.
struct WireIo<'a>(&'a mut dyn Wire);

impl Read for WireIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for WireIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsLayer {
    /// Writes what rustls holds for the wire, ignoring a full socket (the connection flushes later).
    fn push_out(&mut self, wire: &mut dyn Wire) -> io::Result<()> {
        match Layer::flush(self, wire) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

impl Layer for TlsLayer {
    fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending > 0 {
                match self.conn.reader().read(buf) {
                    Ok(n) => {
                        self.pending = self.pending.saturating_sub(n);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pending = 0,
                    Err(e) => return Err(e),
                }
            }
            if self.eof {
                return Ok(0);
            }
            let n = self.conn.read_tls(&mut WireIo(wire))?;
            match self.conn.process_new_packets() {
                Ok(state) => {
                    self.pending = state.plaintext_bytes_to_read();
                    if state.peer_has_closed() && self.pending == 0 {
                        self.eof = true;
                    }
                }
                Err(e) => {
                    // The alert rustls queued tells the peer why.
                    let _ = self.push_out(wire);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, LayerError::Tls(e)));
                }
            }
            // Handshake messages (and alerts) go out as soon as they are made.
            self.push_out(wire)?;
            if n == 0 {
                self.eof = true;
            }
        }
    }

    fn write(&mut self, wire: &mut dyn Wire, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let _ = wire;
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let n = self.conn.writer().write_vectored(bufs)?;
        if n == 0 && want > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self, wire: &mut dyn Wire) -> io::Result<bool> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut WireIo(wire))? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(true)
    }

    fn has_input(&self) -> bool {
        self.pending > 0
    }

    fn has_output(&self) -> bool {
        self.conn.wants_write()
    }

    fn peer_certificate(&self) -> Option<&[u8]> {
        self.conn.peer_certificates()?.first().map(|c| c.as_ref())
    }

    fn close(&mut self) {
        self.conn.send_close_notify();
    }
}
