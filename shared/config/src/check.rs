//! [`Config::check_supported`]: refuse options the broker parses but does
//! not implement yet, one error per offending line.
//!
//! Parsing accepts the whole Mosquitto 2.0 option set so that a real
//! configuration is validated completely; this separate check lets the
//! broker refuse to start with a precise `path:line: option: ...` message
//! instead of silently ignoring, for example, a TLS certificate.

use std::path::PathBuf;

use crate::error::{ConfigError, ErrorKind};
use crate::model::{Config, KeyForm, Listener, Protocol, SecurityOptions};
use crate::span::{Setting, Span};

const TLS: &str = "TLS listeners are not supported yet";
const PSK: &str = "TLS-PSK is not supported yet";
const WEBSOCKETS: &str = "WebSockets is not supported yet";
const BRIDGES: &str = "bridges are not supported yet";
const PLUGINS: &str = "plugins are not supported yet";

impl Config {
    /// Every line that asks for a feature the broker does not implement yet:
    /// TLS and TLS-PSK options, WebSockets (`protocol websockets`,
    /// `http_dir`, `websockets_*`), bridges (`connection`), and plugins. Options written with their default value
    /// (`require_certificate false`, `tls_keyform pem`, `persistence false`)
    /// are not refused. Errors are in file order.
    pub fn check_supported(&self) -> Result<(), Vec<ConfigError>> {
        let mut found: Vec<(Span, &'static str, &'static str)> = Vec::new();
        let mut push = |span: &Option<Span>, option: &'static str, message: &'static str| {
            if let Some(span) = span {
                found.push((span.clone(), option, message));
            }
        };

        push(&self.websockets.log_level.span, "websockets_log_level", WEBSOCKETS);
        push(&self.websockets.headers_size.span, "websockets_headers_size", WEBSOCKETS);
        security(&self.security, &mut push);
        for listener in &self.listeners {
            listener_options(listener, &mut push);
            security(&listener.security, &mut push);
        }
        for bridge in &self.bridges {
            push(&bridge.name.span, "connection", BRIDGES);
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
                ConfigError::new(
                    &span,
                    ErrorKind::Unsupported { option: option.to_owned(), message: message.to_owned() },
                )
            })
            .collect())
    }
}

type Push<'a> = dyn FnMut(&Option<Span>, &'static str, &'static str) + 'a;

/// Refused security options: TLS-PSK files and plugins.
fn security(sec: &SecurityOptions, push: &mut Push<'_>) {
    push(&sec.psk_file.span, "psk_file", PSK);
    for plugin in &sec.plugins {
        push(&plugin.path.span, "plugin", PLUGINS);
    }
}

/// Refused listener options: TLS, TLS-PSK and WebSockets.
fn listener_options(l: &Listener, push: &mut Push<'_>) {
    let tls = &l.tls;
    let paths: [(&Setting<Option<PathBuf>>, &'static str); 6] = [
        (&tls.cafile, "cafile"),
        (&tls.capath, "capath"),
        (&tls.certfile, "certfile"),
        (&tls.keyfile, "keyfile"),
        (&tls.crlfile, "crlfile"),
        (&tls.dhparamfile, "dhparamfile"),
    ];
    for (setting, option) in paths {
        push(&setting.span, option, TLS);
    }
    let texts: [(&Setting<Option<String>>, &'static str); 4] = [
        (&tls.ciphers, "ciphers"),
        (&tls.ciphers_tls13, "ciphers_tls1.3"),
        (&tls.tls_engine, "tls_engine"),
        (&tls.tls_engine_kpass_sha1, "tls_engine_kpass_sha1"),
    ];
    for (setting, option) in texts {
        push(&setting.span, option, TLS);
    }
    push(&tls.tls_version.span, "tls_version", TLS);
    if tls.tls_keyform.value != KeyForm::Pem {
        push(&tls.tls_keyform.span, "tls_keyform", TLS);
    }
    for (setting, option) in [
        (&tls.require_certificate, "require_certificate"),
        (&tls.use_identity_as_username, "use_identity_as_username"),
        (&tls.use_subject_as_username, "use_subject_as_username"),
    ] {
        if setting.value {
            push(&setting.span, option, TLS);
        }
    }
    push(&tls.psk_hint.span, "psk_hint", PSK);
    if l.protocol.value == Protocol::Websockets {
        push(&l.protocol.span, "protocol", WEBSOCKETS);
    }
    push(&l.http_dir.span, "http_dir", WEBSOCKETS);
}
