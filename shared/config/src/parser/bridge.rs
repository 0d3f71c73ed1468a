//! `connection` sections: bridge options, `address` and `topic` grammar,
//! and the consistency checks run once a bridge is complete.

use super::listener::TLS_VERSIONS;
use super::*;

impl Parser {
    /// `connection <name>`: opens a bridge section.
    pub(super) fn connection(&mut self, l: &Line<'_>, fs: &mut FileState) {
        fs.plugin = None;
        fs.section = Section::Broken;
        let Some(name) = self.d.token(l, "a bridge name") else {
            return;
        };
        if let Some(first) = self.s.cfg.bridges.iter().find(|b| b.name.value == name) {
            let first = first.name.span.clone().unwrap_or_else(|| l.span.clone());
            self.d.error(&l.span, ErrorKind::DuplicateBridge { name: name.to_owned(), first });
            return;
        }
        self.s.cfg.bridges.push(Bridge::new(Setting::at(name.to_owned(), l.span.clone())));
        fs.section = Section::Bridge(self.s.cfg.bridges.len() - 1);
    }

    /// An option of the open bridge section.
    pub(super) fn bridge_option(&mut self, l: &Line<'_>, fs: &FileState) {
        let b = match fs.section {
            Section::Bridge(b) => b,
            Section::Broken => return,
            Section::Top | Section::Listener(_) => {
                self.d.error(
                    &l.span,
                    ErrorKind::Misplaced { option: l.name.to_owned(), reason: Misplacement::NeedsBridge },
                );
                return;
            }
        };
        self.s.tried.insert((Owner::Bridge(b), canonical(l.name)));
        match l.name {
            "address" | "addresses" => self.bridge_addresses(l, b),
            "round_robin" => self.boolean(l, move |s| &mut s.cfg.bridges[b].round_robin),
            "bridge_protocol_version" => self.choice(
                l,
                &[
                    ("mqttv31", BridgeProtocol::Mqtt31),
                    ("mqttv311", BridgeProtocol::Mqtt311),
                    ("mqttv50", BridgeProtocol::Mqtt5),
                ],
                move |s| &mut s.cfg.bridges[b].protocol_version,
            ),
            "remote_clientid" | "clientid" => {
                self.text(l, "a client id", move |s| &mut s.cfg.bridges[b].remote_clientid);
            }
            "local_clientid" => {
                self.text(l, "a client id", move |s| &mut s.cfg.bridges[b].local_clientid);
            }
            "remote_username" | "username" => {
                self.text(l, "a user name", move |s| &mut s.cfg.bridges[b].remote_username);
            }
            "remote_password" | "password" => {
                self.text(l, "a password", move |s| &mut s.cfg.bridges[b].remote_password);
            }
            "local_username" => {
                self.text(l, "a user name", move |s| &mut s.cfg.bridges[b].local_username);
            }
            "local_password" => {
                self.text(l, "a password", move |s| &mut s.cfg.bridges[b].local_password);
            }
            "cleansession" => self.boolean(l, move |s| &mut s.cfg.bridges[b].cleansession),
            "local_cleansession" => {
                if let Some(v) = self.d.boolean(l) {
                    set_scalar(&mut self.d, &mut self.s.cfg.bridges[b].local_cleansession, Some(v), l, None);
                }
            }
            "keepalive_interval" => {
                self.int(l, 5, 65535, move |s| &mut s.cfg.bridges[b].keepalive_interval);
            }
            "start_type" => {
                if l.rest.split([' ', '\t']).next() == Some("manual") {
                    self.d.error(
                        &l.span,
                        ErrorKind::Invalid {
                            option: l.name.to_owned(),
                            reason: "manual is not supported (Mosquitto refuses it too); use \
                                     automatic, lazy or once"
                                .to_owned(),
                        },
                    );
                    return;
                }
                self.choice(
                    l,
                    &[("automatic", StartType::Automatic), ("lazy", StartType::Lazy), ("once", StartType::Once)],
                    move |s| &mut s.cfg.bridges[b].start_type,
                );
            }
            "restart_timeout" => self.restart_timeout(l, b),
            "idle_timeout" => self.int(l, 1, INT_MAX, move |s| &mut s.cfg.bridges[b].idle_timeout),
            "threshold" => self.int(l, 1, INT_MAX, move |s| &mut s.cfg.bridges[b].threshold),
            "try_private" => self.boolean(l, move |s| &mut s.cfg.bridges[b].try_private),
            "notifications" => self.boolean(l, move |s| &mut s.cfg.bridges[b].notifications),
            "notifications_local_only" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].notifications_local_only);
            }
            "notification_topic" => {
                self.text(l, "a topic", move |s| &mut s.cfg.bridges[b].notification_topic);
            }
            "bridge_attempt_unsubscribe" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].attempt_unsubscribe);
            }
            "bridge_outgoing_retain" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].outgoing_retain);
            }
            "bridge_max_packet_size" => {
                self.int(l, 0, MAX_MQTT_PACKET, move |s| &mut s.cfg.bridges[b].max_packet_size);
            }
            "bridge_bind_address" => {
                if let Some(v) = self.d.token(l, "an address") {
                    let v = v.to_owned();
                    set_once(&mut self.d, &mut self.s.cfg.bridges[b].bind_address, Some(v), l, None);
                }
            }
            "bridge_cafile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.cafile);
            }
            "bridge_capath" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.capath);
            }
            "bridge_certfile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.certfile);
            }
            "bridge_keyfile" => {
                self.text(l, EXPECT_PATH, move |s| &mut s.cfg.bridges[b].tls.keyfile);
            }
            "bridge_insecure" => self.boolean(l, move |s| &mut s.cfg.bridges[b].tls.insecure),
            "bridge_tls_version" => self.choice(l, &TLS_VERSIONS, move |s| &mut s.cfg.bridges[b].tls.tls_version),
            "bridge_alpn" => {
                self.text(l, "an ALPN protocol", move |s| &mut s.cfg.bridges[b].tls.alpn);
            }
            "bridge_require_ocsp" => {
                self.boolean(l, move |s| &mut s.cfg.bridges[b].tls.require_ocsp);
            }
            "bridge_identity" => {
                self.text(l, "a PSK identity", move |s| &mut s.cfg.bridges[b].tls.identity);
            }
            "bridge_psk" => {
                let Some(v) = self.d.token(l, "a key in hexadecimal") else {
                    return;
                };
                if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                    self.d.invalid(l, v, "a key in hexadecimal");
                    return;
                }
                let v = v.to_owned();
                set_once(&mut self.d, &mut self.s.cfg.bridges[b].tls.psk, Some(v), l, None);
            }
            _ => self.bridge_topic(l, b),
        }
    }

    /// `address` / `addresses host[:port] ...`.
    fn bridge_addresses(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "one or more host[:port] (port 1 to 65535)";
        if let Some(first) = &self.s.cfg.bridges[b].addresses.span {
            // Mosquitto: "Invalid bridge configuration"; list every address
            // on one line instead.
            self.d.error(
                &l.span,
                ErrorKind::Duplicate {
                    option: l.name.to_owned(),
                    first: first.clone(),
                    note: Some("list every address on one line"),
                },
            );
            return;
        }
        let mut addresses = Vec::new();
        for word in l.rest.split([' ', '\t']).filter(|w| !w.is_empty()) {
            if word.starts_with('#') {
                break;
            }
            // Split at the last ':' as Mosquitto does, so an IPv6 address
            // needs an explicit port; brackets around it are accepted.
            let (host, port) = match word.rsplit_once(':') {
                Some((host, port)) => {
                    // Digits only (u16 parsing would take "+5"); the whole
                    // word is quoted in the error: "host:0" says more than "0".
                    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
                    match port.parse::<u16>() {
                        Ok(port) if digits && port != 0 => (host, port),
                        _ => {
                            self.d.invalid(l, word, EXPECT);
                            return;
                        }
                    }
                }
                None => (word, DEFAULT_PORT),
            };
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            if host.is_empty() {
                self.d.invalid(l, word, EXPECT);
                return;
            }
            addresses.push(BridgeAddress { host: host.to_owned(), port });
        }
        if addresses.is_empty() {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        }
        self.s.cfg.bridges[b].addresses = Setting::at(addresses, l.span.clone());
    }

    /// `restart_timeout <s>` or `restart_timeout <base> <cap>`.
    fn restart_timeout(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "seconds, or a base and a cap in seconds";
        let words: Vec<&str> =
            l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).take_while(|w| !w.starts_with('#')).collect();
        let value = match words.as_slice() {
            [] => {
                self.d
                    .error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
                return;
            }
            [one] => {
                let Some(v) = self.d.int_word(l, l.name, one, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                RestartTimeout::Constant(u32::try_from(v).unwrap_or(1))
            }
            [base, cap] => {
                let Some(base) = self.d.int_word(l, l.name, base, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                let Some(cap) = self.d.int_word(l, l.name, cap, 1, INT_MAX, EXPECT_NUMBER) else {
                    return;
                };
                if cap < base {
                    self.d.error(
                        &l.span,
                        ErrorKind::Invalid {
                            option: l.name.to_owned(),
                            reason: format!("the cap ({cap}) is lower than the base ({base})"),
                        },
                    );
                    return;
                }
                RestartTimeout::Backoff { base: u32::try_from(base).unwrap_or(1), cap: u32::try_from(cap).unwrap_or(1) }
            }
            [_, _, extra, ..] => {
                self.d.unexpected(l, extra);
                return;
            }
        };
        set_scalar(&mut self.d, &mut self.s.cfg.bridges[b].restart_timeout, value, l, None);
    }

    /// `topic <pattern> [[[out|in|both] <qos>] <local-prefix> <remote-prefix>]`.
    fn bridge_topic(&mut self, l: &Line<'_>, b: usize) {
        const EXPECT: &str = "a pattern, then optionally out|in|both, a QoS and local and \
                              remote prefixes";
        let words: Vec<&str> = l.rest.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let Some(&pattern) = words.first() else {
            self.d.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: EXPECT.to_owned() });
            return;
        };
        // The pattern may be "#" itself; later words starting with '#'
        // begin a comment.
        let rest: Vec<&str> = words[1..].iter().copied().take_while(|w| !w.starts_with('#')).collect();
        let unquote = |w: &str| -> Option<String> { (w != "\"\"").then(|| w.to_owned()) };
        let mut topic = BridgeTopic {
            pattern: unquote(pattern).unwrap_or_default(),
            direction: BridgeDirection::Out,
            qos: 0,
            local_prefix: None,
            remote_prefix: None,
        };
        if let Some(dir) = rest.first() {
            // Mosquitto compares the direction case-insensitively.
            topic.direction = match dir.to_ascii_lowercase().as_str() {
                "out" => BridgeDirection::Out,
                "in" => BridgeDirection::In,
                "both" => BridgeDirection::Both,
                _ => {
                    self.d.invalid(l, dir, "out, in or both");
                    return;
                }
            };
        }
        if let Some(qos) = rest.get(1) {
            let Some(q) = self.d.int_word(l, "topic QoS", qos, 0, 2, "0, 1 or 2") else {
                return;
            };
            topic.qos = u8::try_from(q).unwrap_or(0);
        }
        match rest.get(2..) {
            None | Some([]) => {}
            Some([_]) => {
                self.d.error(
                    &l.span,
                    ErrorKind::Requires {
                        option: "topic with a local prefix".to_owned(),
                        needs: "a remote prefix too (write \"\" for an empty one)".to_owned(),
                    },
                );
                return;
            }
            Some([local, remote]) => {
                topic.local_prefix = unquote(local);
                topic.remote_prefix = unquote(remote);
            }
            Some([_, _, extra, ..]) => {
                self.d.unexpected(l, extra);
                return;
            }
        }
        if topic.pattern.is_empty() && (topic.local_prefix.is_none() || topic.remote_prefix.is_none()) {
            self.d.error(
                &l.span,
                ErrorKind::Invalid {
                    option: l.name.to_owned(),
                    reason: "an empty pattern (\"\") remaps a single topic and needs both a \
                             local and a remote prefix"
                        .to_owned(),
                },
            );
            return;
        }
        self.s.cfg.bridges[b].topics.push(Setting::at(topic, l.span.clone()));
    }
}

/// Consistency of one bridge's options.
pub(super) fn check_bridge(d: &mut Diag, bridge: &Bridge, tried: &dyn Fn(&'static str) -> bool) {
    let Some(span) = &bridge.name.span else {
        return;
    };
    let section = format!("connection {}", bridge.name.value);
    if !tried("address") {
        d.error_later(span, ErrorKind::Requires { option: section.clone(), needs: "an address line".to_owned() });
    }
    if !tried("topic") {
        d.error_later(span, ErrorKind::Requires { option: section, needs: "at least one topic line".to_owned() });
    }
    let tls = &bridge.tls;
    let pairs = [
        ("bridge_identity", &tls.identity.span, "bridge_psk"),
        ("bridge_psk", &tls.psk.span, "bridge_identity"),
        ("bridge_keyfile", &tls.keyfile.span, "bridge_certfile"),
        ("bridge_certfile", &tls.certfile.span, "bridge_keyfile"),
        ("remote_password", &bridge.remote_password.span, "remote_username"),
        ("local_password", &bridge.local_password.span, "local_username"),
    ];
    for (option, span, needs) in pairs {
        if let Some(span) = span
            && !tried(needs)
        {
            d.error_later(
                span,
                ErrorKind::Requires { option: option.to_owned(), needs: format!("{needs} in the same bridge") },
            );
        }
    }
    let psk = tls.psk.span.as_ref().or(tls.identity.span.as_ref());
    if let Some(psk) = psk {
        for (other, span) in [
            ("bridge_cafile", &tls.cafile.span),
            ("bridge_capath", &tls.capath.span),
            ("bridge_certfile", &tls.certfile.span),
        ] {
            if let Some(span) = span {
                d.error_later(
                    psk,
                    ErrorKind::Conflict {
                        option: "bridge_psk".to_owned(),
                        other: other.to_owned(),
                        other_at: span.clone(),
                        reason: "a bridge uses either certificates or TLS-PSK".to_owned(),
                    },
                );
            }
        }
    }
}
