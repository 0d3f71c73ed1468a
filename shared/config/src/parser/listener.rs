//! `listener` lines, the legacy default listener (`port`, `bind_address`)
//! and listener options, plus the consistency checks run once a listener
//! is complete.

use super::*;

impl Parser {
    /// `listener <port> [<address>]` or `listener 0 <path>`: opens a listener
    /// section.
    pub(super) fn listener(&mut self, l: &Line<'_>, fs: &mut FileState) {
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

    /// `port` / `bind_address`: the legacy default listener, top level only.
    pub(super) fn default_listener_option(&mut self, l: &Line<'_>, fs: &FileState) {
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

    /// Where a listener option goes: the open listener section, or the
    /// legacy default listener at top level (checked at the end).
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

    /// An option of the listener section (or of the default listener).
    pub(super) fn listener_option(&mut self, l: &Line<'_>, fs: &FileState) {
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
}

/// `tls_version` / `bridge_tls_version` values.
pub(super) const TLS_VERSIONS: [(&str, Option<TlsVersion>); 3] = [
    ("tlsv1.3", Some(TlsVersion::Tls1_3)),
    ("tlsv1.2", Some(TlsVersion::Tls1_2)),
    ("tlsv1.1", Some(TlsVersion::Tls1_1)),
];

/// Consistency of one listener's options.
pub(super) fn check_listener(d: &mut Diag, listener: &Listener, tried: &dyn Fn(&'static str) -> bool) {
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
