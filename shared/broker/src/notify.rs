//! systemd's readiness protocol (`Type=notify`): when `NOTIFY_SOCKET` is set, the broker sends
//! `READY=1` once its listeners accept clients, `RELOADING=1` (with the monotonic time systemd asks for)
//! before a SIGHUP reload and `READY=1` after it, and `STOPPING=1` when it shuts down. Each state is
//! one datagram on the socket the variable names (a path, or an abstract name written with a leading
//! `@`). Without the variable nothing is sent; a failed send is logged once and never stops the broker.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};

/// The service manager's socket, from `NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: std::os::unix::net::SocketAddr,
    failed: AtomicBool,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for, or `None` when it is unset or empty. The variable is
    /// left in place (a child the broker starts is not a service of its own).
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET").filter(|p| !p.is_empty())?;
        match Self::open(&path) {
            Ok(n) => Some(n),
            Err(e) => {
                log!(Warning, "NOTIFY_SOCKET {}: {e}; systemd will not hear that the broker is ready.", path.display());
                None
            }
        }
    }

    fn open(path: &std::ffi::OsStr) -> std::io::Result<Notifier> {
        use std::os::unix::ffi::OsStrExt as _;
        let bytes = path.as_bytes();
        let target = match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                std::os::unix::net::SocketAddr::from_abstract_name(name)?
            }
            None => std::os::unix::net::SocketAddr::from_pathname(path)?,
        };
        // Connected now, while the broker may still be root: a socket in a directory only root may
        // enter stays reachable after the switch to `user`.
        let socket = UnixDatagram::unbound()?;
        socket.connect_addr(&target)?;
        Ok(Notifier { socket, target, failed: AtomicBool::new(false) })
    }

    /// Sends one state (`READY=1`, ...: lines of `KEY=value`).
    pub fn send(&self, state: &str) {
        // Should the service manager have made its socket anew (a re-execution), address it afresh.
        let sent = self
            .socket
            .send(state.as_bytes())
            .or_else(|_| UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), &self.target)));
        if let Err(e) = sent
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            log!(Warning, "Unable to tell systemd the broker's state ({state:?}): {e}.");
        }
    }

    /// The listeners accept clients (at start, and after a reload).
    pub fn ready(&self) {
        self.send("READY=1\nSTATUS=Accepting clients");
    }

    /// A reload begins: systemd wants the CLOCK_MONOTONIC time with it, to tell this reload's READY=1
    /// from an earlier one.
    pub fn reloading(&self) {
        let usec = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
            .unwrap_or(0);
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=Reloading the configuration"));
    }

    /// Shutting down.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=Shutting down");
    }
}
