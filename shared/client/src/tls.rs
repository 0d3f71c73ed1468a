//! TLS for the client tools: what the options ask for ([`TlsSetup`], checked with the other options)
//! and the rustls client configuration built from it when connecting (ring provider; OS roots from
//! `rustls-native-certs` for `--tls-use-os-certs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::args::TlsArgs;
use crate::error::{ClientError, UsageError};

/// What the TLS options ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSetup {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub os_certs: bool,
    /// Client certificate and key.
    pub client: Option<(PathBuf, PathBuf)>,
    /// Skip the host name check.
    pub insecure: bool,
    /// `--tls-version tlsv1.3`: TLS 1.3 only (otherwise 1.2 and 1.3).
    pub tls13_only: bool,
    pub alpn: Option<String>,
    /// TLS 1.2 suites (rustls names) from `--ciphers`.
    pub ciphers: Option<Vec<&'static str>>,
}

impl TlsSetup {
    /// The setup the options ask for; `implied` when TLS is on without a trust option (an `mqtts://`
    /// URL, port 8883), which trusts the operating system's CAs as Mosquitto's clients do.
    pub fn from_args(tls: &TlsArgs, implied: bool) -> Result<TlsSetup, ClientError> {
        let tls13_only = match tls.tls_version.as_deref() {
            None | Some("tlsv1.2" | "tlsv1.1") => false,
            Some("tlsv1.3") => true,
            Some(other) => {
                return Err(UsageError::new(format!(
                    "Unsupported TLS version \"{other}\": use tlsv1.3 or tlsv1.2 (the lowest version to use)."
                ))
                .into());
            }
        };
        let ciphers = tls
            .ciphers
            .as_deref()
            .map(mq_config::ciphers::tls12_suites)
            .transpose()
            .map_err(|why| UsageError::new(format!("--ciphers: {why}")))?;
        Ok(TlsSetup {
            cafile: tls.cafile.clone(),
            capath: tls.capath.clone(),
            os_certs: tls.tls_use_os_certs || (implied && tls.cafile.is_none() && tls.capath.is_none()),
            client: tls.cert.clone().zip(tls.key.clone()),
            insecure: tls.insecure,
            tls13_only,
            alpn: tls.tls_alpn.clone(),
            ciphers,
        })
    }

    /// The rustls configuration: trusted roots, client certificate, versions, suites, ALPN. A file
    /// that cannot be used is `ClientError::TlsSetup`, Mosquitto's "Problem setting TLS options".
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, ClientError> {
        let setup = |why: String| ClientError::TlsSetup(why);
        let mut roots = RootCertStore::empty();
        if let Some(f) = &self.cafile {
            for c in read_certs(f)? {
                roots.add(c).map_err(|e| setup(format!("{}: {e}", f.display())))?;
            }
        }
        if let Some(dir) = &self.capath {
            let entries = std::fs::read_dir(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                if let Ok(iter) = CertificateDer::pem_file_iter(entry.path()) {
                    for c in iter.flatten() {
                        let _ = roots.add(c);
                    }
                }
            }
        }
        if self.os_certs {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 && self.cafile.is_none() && self.capath.is_none() {
                return Err(setup("no CA certificates found in the operating system's store".into()));
            }
        }
        if roots.is_empty() {
            return Err(setup("no CA certificate to verify the broker with".into()));
        }
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(names) = &self.ciphers {
            provider.cipher_suites.retain(|s| {
                let name = s.suite().as_str().unwrap_or_default();
                name.starts_with("TLS13_") || names.contains(&name)
            });
        }
        let provider = Arc::new(provider);
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls13_only {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS12, &rustls::version::TLS13]
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| setup(e.to_string()))?;
        let roots = Arc::new(roots);
        let builder = if self.insecure {
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| setup(e.to_string()))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyName(inner)))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match &self.client {
            Some((cert, key)) => {
                let certs = read_certs(cert)?;
                let key = read_key(key)?;
                builder.with_client_auth_cert(certs, key).map_err(|e| setup(format!("--cert/--key: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        if let Some(alpn) = &self.alpn {
            config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
        }
        Ok(Arc::new(config))
    }
}

/// The certificates of a PEM file.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let fail = |why: String| ClientError::TlsSetup(format!("{}: {why}", path.display()));
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(pem_error(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(pem_error(e)))?;
    if certs.is_empty() {
        return Err(fail("no certificate in it".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientError> {
    let fail = |why: String| ClientError::TlsSetup(format!("{}: {why}", path.display()));
    let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    if text.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(fail("the key is encrypted with a pass phrase; decrypt it with openssl pkey".into()));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| fail(pem_error(e)))
}

fn pem_error(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound => "File not found".into(),
        rustls_pki_types::pem::Error::Io(e) => e.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM item in it".into(),
        other => format!("{other:?}"),
    }
}

/// `--insecure`: the chain is verified as usual, but a certificate for another name is accepted.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
