//! SIGHUP reloads: which options can change while the broker runs.
//!
//! Mosquitto re-reads its configuration on SIGHUP but keeps the options its
//! documentation marks as not reloadable (the "Rl" column of
//! mosquitto.conf(5)): listeners and everything configured inside them
//! except the per-listener security options, `pid_file`, `user`, bridges,
//! plugins and the global WebSockets options. [`Config::reload`] applies the
//! same rule and lists what changed but was kept, so the broker can log it;
//! bridges are the exception: mq applies changed `connection` sections on
//! SIGHUP (as Mosquitto 2.1 does).

use std::fmt;

use crate::model::{Config, Listener, SecurityOptions};
use crate::span::{Setting, Span};

/// The outcome of [`Config::reload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    /// The configuration to run with: the new one, with every
    /// non-reloadable part taken from the old one.
    pub config: Config,
    /// Non-reloadable options whose value changed, in a stable order.
    pub not_reloaded: Vec<NotReloaded>,
}

/// A non-reloadable option that differs in the re-read configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReloaded {
    /// What changed: `pid_file`, `listener 1883`, `connection east`, ...
    pub option: String,
    /// The line in the new configuration (or, for something removed, in the
    /// old one); `None` when it has no line (a default).
    pub span: Option<Span>,
}

impl fmt::Display for NotReloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = &self.span {
            write!(f, "{span}: ")?;
        }
        write!(f, "{} changed, but it is only read at start-up: restart the broker to apply it", self.option)
    }
}

/// Keep the old value of a non-reloadable setting, reporting a change.
fn keep<T: PartialEq + Clone>(out: &mut Vec<NotReloaded>, option: &str, old: &Setting<T>, new: &mut Setting<T>) {
    if old != new {
        out.push(NotReloaded { option: option.to_owned(), span: new.span.clone().or_else(|| old.span.clone()) });
        *new = old.clone();
    }
}

/// A listener's settings without the (reloadable) security options.
fn without_security(l: &Listener) -> Listener {
    let mut l = l.clone();
    l.security = SecurityOptions::default();
    l
}

impl Config {
    /// Combine this running configuration with `new`, re-read on SIGHUP.
    ///
    /// Reloadable options come from `new`; the others are kept from `self`
    /// and reported in [`Reload::not_reloaded`] when they differ. Values are
    /// compared without their line numbers, so moving a line does not count
    /// as a change. Listeners are matched by port and address (or socket
    /// path); a matched listener takes its new per-listener security options
    /// (password, ACL and PSK files, `allow_anonymous`,
    /// `allow_zero_length_clientid`, `auto_id_prefix`) but not its plugins.
    ///
    /// Apply the same `-p` ports to `new` (with
    /// [`Config::apply_cli_ports`]) before calling this, or the command-line
    /// listeners count as a change.
    pub fn reload(&self, new: Config) -> Reload {
        let mut cfg = new;
        let mut out = Vec::new();

        keep(&mut out, "pid_file", &self.pid_file, &mut cfg.pid_file);
        keep(&mut out, "user", &self.user, &mut cfg.user);
        keep(&mut out, "metrics_listener", &self.metrics_listener, &mut cfg.metrics_listener);
        keep(&mut out, "websockets_log_level", &self.websockets.log_level, &mut cfg.websockets.log_level);
        keep(&mut out, "websockets_headers_size", &self.websockets.headers_size, &mut cfg.websockets.headers_size);

        if self.security.plugins != cfg.security.plugins {
            let span = cfg.security.plugins.first().or(self.security.plugins.first()).and_then(|p| p.path.span.clone());
            out.push(NotReloaded { option: "plugin".to_owned(), span });
            cfg.security.plugins = self.security.plugins.clone();
        }

        let mut listeners = Vec::with_capacity(self.listeners.len());
        for old in &self.listeners {
            let mut kept = old.clone();
            let name = format!("listener {}", old.addr.value);
            match cfg.listeners.iter().find(|n| n.addr == old.addr) {
                Some(new) => {
                    if without_security(old) != without_security(new) {
                        out.push(NotReloaded { option: name.clone(), span: new.addr.span.clone() });
                    }
                    kept.security = new.security.clone();
                    if new.security.plugins != old.security.plugins {
                        out.push(NotReloaded { option: format!("plugin ({name})"), span: new.addr.span.clone() });
                    }
                    kept.security.plugins = old.security.plugins.clone();
                }
                None => out.push(NotReloaded { option: format!("{name} (removed)"), span: old.addr.span.clone() }),
            }
            listeners.push(kept);
        }
        for new in &cfg.listeners {
            if !self.listeners.iter().any(|o| o.addr == new.addr) {
                out.push(NotReloaded {
                    option: format!("listener {} (added)", new.addr.value),
                    span: new.addr.span.clone(),
                });
            }
        }
        cfg.listeners = listeners;
        cfg.local_only = self.local_only;

        // Bridges are reloaded (the broker restarts those whose section changed).

        Reload { config: cfg, not_reloaded: out }
    }
}
