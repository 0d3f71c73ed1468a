//! [`Config::check_supported`]: refuse options the broker parses but does
//! not implement yet, one error per offending line.
//!
//! Parsing accepts the whole Mosquitto 2.0 option set so that a real
//! configuration is validated completely; this separate check lets the
//! broker refuse to start with a precise `path:line: option: ...` message
//! instead of silently ignoring, for example, a TLS certificate.

use std::path::PathBuf;

use crate::error::{ConfigError, ErrorKind};
use crate::model::{Bridge, Config, KeyForm, Listener, SecurityOptions};
use crate::span::{Setting, Span};

const PSK: &str = "TLS-PSK is not available: the broker's TLS library (rustls) has no pre-shared-key support; \
                   use certificates";
const ENGINE: &str = "OpenSSL engines are not available: the broker's TLS library (rustls) reads keys from PEM \
                      files (keyfile) only";
const NEEDS_CERT: &str = "TLS needs certfile and keyfile on this listener; without them this option has no effect";
const NEEDS_CA: &str = "client certificates are verified against cafile or capath, and this listener has neither";
const BRIDGE_NO_CA: &str = "TLS to the remote is on only with bridge_cafile or bridge_capath (as in Mosquitto); \
                            without one the bridge connects over plain TCP and this option has no effect";
const BRIDGE_OCSP: &str = "OCSP checks of the remote's certificate are not available: the broker's TLS library \
                           (rustls) does not request OCSP stapling";
const PLUGINS: &str = "plugins are not supported yet";

impl Config {
    /// Every line that asks for something the broker cannot do: TLS-PSK, OpenSSL engines, cipher
    /// suites its TLS library (rustls) does not offer, TLS options on a listener without a certificate,
    /// client-certificate options without a CA, the bridge options not implemented (OCSP) or without
    /// effect (bridge TLS options without a CA) and plugins. Options written with their default value
    /// (`require_certificate false`, `tls_keyform pem`) are not refused. Errors are in file order.
    pub fn check_supported(&self) -> Result<(), Vec<ConfigError>> {
        let mut found: Vec<(Span, &'static str, String)> = Vec::new();
        let mut push = |span: &Option<Span>, option: &'static str, message: &str| {
            if let Some(span) = span {
                found.push((span.clone(), option, message.to_owned()));
            }
        };

        security(&self.security, &mut push);
        for listener in &self.listeners {
            listener_options(listener, &mut push);
            security(&listener.security, &mut push);
        }
        for bridge in &self.bridges {
            bridge_options(bridge, &mut push);
        }

        if found.is_empty() {
            return Ok(());
        }
        // The order the lines were read in.
        found.sort_by_key(|(span, _, _)| self.reading_order(span));
        found.dedup_by(|a, b| a.0 == b.0);
        Err(found
            .into_iter()
            .map(|(span, option, message)| {
                ConfigError::new(&span, ErrorKind::Unsupported { option: option.to_owned(), message })
            })
            .collect())
    }
}

type Push<'a> = dyn FnMut(&Option<Span>, &'static str, &str) + 'a;

/// Refused security options: TLS-PSK files and plugins.
fn security(sec: &SecurityOptions, push: &mut Push<'_>) {
    push(&sec.psk_file.span, "psk_file", PSK);
    for plugin in &sec.plugins {
        push(&plugin.path.span, "plugin", PLUGINS);
    }
}

/// Refused bridge options: what the bridge runtime does not implement (OCSP), and TLS options without
/// `bridge_cafile` or `bridge_capath` (without which the bridge does not use TLS). Options written with
/// their default value are not refused.
fn bridge_options(b: &Bridge, push: &mut Push<'_>) {
    let t = &b.tls;
    if t.cafile.value.is_none() && t.capath.value.is_none() {
        push(&t.certfile.span, "bridge_certfile", BRIDGE_NO_CA);
        push(&t.keyfile.span, "bridge_keyfile", BRIDGE_NO_CA);
        push(&t.alpn.span, "bridge_alpn", BRIDGE_NO_CA);
        push(&t.tls_version.span, "bridge_tls_version", BRIDGE_NO_CA);
        if t.insecure.value {
            push(&t.insecure.span, "bridge_insecure", BRIDGE_NO_CA);
        }
    }
    if t.require_ocsp.value {
        push(&t.require_ocsp.span, "bridge_require_ocsp", BRIDGE_OCSP);
    }
    push(&t.identity.span, "bridge_identity", PSK);
    push(&t.psk.span, "bridge_psk", PSK);
}

/// Refused listener options: TLS-PSK, engines, cipher suites rustls lacks, and TLS options that
/// cannot take effect.
fn listener_options(l: &Listener, push: &mut Push<'_>) {
    let tls = &l.tls;
    push(&tls.psk_hint.span, "psk_hint", PSK);
    push(&tls.tls_engine.span, "tls_engine", ENGINE);
    push(&tls.tls_engine_kpass_sha1.span, "tls_engine_kpass_sha1", ENGINE);
    if tls.tls_keyform.value != KeyForm::Pem {
        push(&tls.tls_keyform.span, "tls_keyform", ENGINE);
    }
    if let Some(list) = &tls.ciphers.value
        && let Err(why) = crate::ciphers::tls12_suites(list)
    {
        push(&tls.ciphers.span, "ciphers", &why);
    }
    if let Some(list) = &tls.ciphers_tls13.value
        && let Err(why) = crate::ciphers::tls13_suites(list)
    {
        push(&tls.ciphers_tls13.span, "ciphers_tls1.3", &why);
    }
    let has_cert = tls.certfile.value.is_some() && tls.keyfile.value.is_some();
    let has_ca = tls.cafile.value.is_some() || tls.capath.value.is_some();
    if !has_cert {
        let paths: [(&Setting<Option<PathBuf>>, &'static str); 4] = [
            (&tls.cafile, "cafile"),
            (&tls.capath, "capath"),
            (&tls.crlfile, "crlfile"),
            (&tls.dhparamfile, "dhparamfile"),
        ];
        for (setting, option) in paths {
            push(&setting.span, option, NEEDS_CERT);
        }
        push(&tls.ciphers.span, "ciphers", NEEDS_CERT);
        push(&tls.ciphers_tls13.span, "ciphers_tls1.3", NEEDS_CERT);
        push(&tls.tls_version.span, "tls_version", NEEDS_CERT);
    }
    let client_cert: [(&Setting<bool>, &'static str); 3] = [
        (&tls.require_certificate, "require_certificate"),
        (&tls.use_identity_as_username, "use_identity_as_username"),
        (&tls.use_subject_as_username, "use_subject_as_username"),
    ];
    for (setting, option) in client_cert {
        if setting.value && !(has_cert && has_ca) {
            push(&setting.span, option, if has_cert { NEEDS_CA } else { NEEDS_CERT });
        }
    }
    if has_cert && !has_ca {
        push(&tls.crlfile.span, "crlfile", NEEDS_CA);
    }
}
