//! Test certificates made with `openssl` at test time into a temporary directory (no key is ever
//! committed): a CA, a second CA nobody trusts, server certificates (X.509 v3 with subjectAltName
//! `localhost`/`127.0.0.1`) from each, client certificates for alice and bob (bob's revoked in
//! `ca.crl`), an expired one, a key
//! encrypted with a pass phrase, and a version 1 certificate as Mosquitto's tutorial makes them. Plus
//! rustls client configurations (ring) for the tests' own TLS peers.

#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio_rustls::rustls;

/// A directory of test certificates and keys.
pub struct Pki {
    dir: tempfile::TempDir,
}

const EXT: &str = "[srv]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                   keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n\
                   [cli]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                   extendedKeyUsage=clientAuth\n";

fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs (apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Pki {
    /// Makes every certificate and key.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("ext.cnf"), EXT).expect("write ext.cnf");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for ca in ["ca", "other-ca"] {
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            let (key, crt, subj) = (format!("{ca}.key"), format!("{ca}.crt"), format!("/CN=mq test {ca}"));
            args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
            openssl(d, &args);
        }
        let issue = |name: &str, subj: &str, ca: &str, ext: Option<&str>, days: &str| {
            let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", subj]);
            openssl(d, &args);
            let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
            let mut args = vec!["x509", "-req", "-in", &csr, "-CA", &ca_crt, "-CAkey", &ca_key, "-CAcreateserial"];
            args.extend(["-out", &crt, "-days", days]);
            if let Some(section) = ext {
                args.extend(["-extfile", "ext.cnf", "-extensions", section]);
            }
            openssl(d, &args);
        };
        issue("server", "/CN=localhost", "ca", Some("srv"), "2");
        issue("other-server", "/CN=localhost", "other-ca", Some("srv"), "2");
        issue("alice", "/C=GB/O=mq/CN=alice", "ca", Some("cli"), "2");
        issue("bob", "/C=GB/O=mq/CN=bob", "ca", Some("cli"), "2");
        // Not after lies before not before: expired as soon as it is made.
        issue("expired", "/C=GB/O=mq/CN=alice", "ca", Some("cli"), "-1");
        // What `man 7 mosquitto-tls` makes: no extensions, so X.509 version 1.
        issue("v1", "/CN=localhost", "ca", None, "2");
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-aes256",
                "-pass",
                "pass:secret",
                "-out",
                "encrypted.key",
            ],
        );
        // bob's certificate revoked in ca.crl (openssl ca keeps its books in index.txt).
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\ncrlnumber = crlnumber\ncertificate = ca.crt\n\
             private_key = ca.key\ndefault_md = sha256\ndefault_crl_days = 2\n",
        )
        .expect("write ca.cnf");
        std::fs::write(d.join("index.txt"), "").expect("write index");
        std::fs::write(d.join("crlnumber"), "01\n").expect("write crlnumber");
        openssl(d, &["ca", "-config", "ca.cnf", "-revoke", "bob.crt"]);
        openssl(d, &["ca", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl"]);
        Pki { dir }
    }

    /// The path of `name` (`ca.crt`, `server.key`, ...).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The path of `name` as a string, for configuration files and command lines.
    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Listener lines for a TLS server certificate from `ca`.
    pub fn server_lines(&self) -> String {
        format!("certfile {}\nkeyfile {}\n", self.p("server.crt"), self.p("server.key"))
    }

    /// Makes the directory and every file in it readable by all: a broker started as root reads
    /// its bridges' certificates and keys when connecting, after dropping privileges.
    pub fn readable_by_all(&self) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        mode(self.dir.path(), 0o755);
        for entry in std::fs::read_dir(self.dir.path()).expect("read pki dir").flatten() {
            mode(&entry.path(), 0o644);
        }
    }

    /// The PEM bytes of `name`.
    pub fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read pem")
    }

    /// A rustls client trusting `ca` (a file name here), offering `versions`, with a client certificate
    /// `client` (`alice` → alice.crt + alice.key) if given.
    pub fn client_config(
        &self,
        ca: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
        client: Option<&str>,
    ) -> Arc<rustls::ClientConfig> {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_file_iter(self.path(ca)).expect("ca") {
            roots.add(c.expect("ca cert")).expect("add ca");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots);
        let config = match client {
            Some(name) => {
                let certs = rustls_pki_types::CertificateDer::pem_file_iter(self.path(&format!("{name}.crt")))
                    .expect("cert")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("certs");
                let key =
                    rustls_pki_types::PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).expect("key");
                builder.with_client_auth_cert(certs, key).expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

/// Makes rustls' ring provider the process default (rumqttc's `TlsConfiguration::Simple` needs one).
pub fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS handshake with the broker on `port` as `localhost`: the stream, or why it failed.
pub async fn handshake(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await
}
