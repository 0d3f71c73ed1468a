//! Bridges (`connection` sections, Mosquitto 2.0 syntax): one task per bridge links this broker to a
//! remote MQTT broker.
//!
//! Each side is an MQTT client session driven by the client tools' driver (`mq_client::driver`, over
//! `mq_proto::client::ClientSession`):
//! - the remote side is a TCP connection to the remote broker (`address`/`addresses`, failing over to
//!   the next address, `round_robin`), with TLS over it when `bridge_cafile` or `bridge_capath` is given
//!   (the client tools' TLS, `mq_client::tls`), MQTT 3.1, 3.1.1 or 5 (`bridge_protocol_version`), with
//!   the protocol level's high bit set for 3.x when `try_private` (so that the remote knows a bridge);
//! - the local side is a session inside this broker, reached over a socket pair served as any other
//!   connection (no listener needed, no authentication, no ACL: Mosquitto's bridges bypass ACLs too,
//!   unless `local_username` gives the bridge an identity: then it logs in with `local_password` and the
//!   ACL of that user applies to what it publishes and reads), with the client id `local_clientid`. It is opened with its subscriptions when the bridge starts,
//!   then connected only while the remote is: while the remote is down (or was never reached), QoS 1
//!   and 2 messages for it queue in that session as for any offline client (limits and drops counted
//!   as for sessions), are delivered in order when it returns, and with
//!   `persistence true` survive a restart.
//!
//! Messages cross in both directions with their acknowledgement held until the other side has
//! acknowledged them (a local message leaves the local session's in-flight window only once the remote
//! has taken it), so nothing acknowledged is lost when either side goes away. With `cleansession
//! false` the remote session outlives its connection: what was in flight there goes again on the next
//! one with the same packet identifiers and DUP (PUBREL where PUBREC had come), and the local session's
//! redeliveries of those messages wait for them instead of crossing again. Local subscriptions are
//! No Local (what the bridge publishes locally never goes back out), remote ones too in MQTT 5 (in 3.x
//! the remote sees the bridge bit and does the same, as Mosquitto does).
//!
//! A lazy bridge (`start_type lazy`) waits for `threshold` messages queued or in flight in its local
//! session before connecting, and closes the connection after `idle_timeout` without a message
//! crossing it.
//!
//! Files: [`plan`] (the configuration resolved: client ids, topics and their prefixes), [`link`] (the
//! task: connecting, forwarding, notifications, reconnecting).

mod link;
pub mod plan;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use crate::broker::Broker;
use crate::log;
use crate::settings::ListenerCtx;

pub use plan::{Plan, Route};

/// Why one connection of a bridge ended.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The remote could not be reached.
    #[error("unable to connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    /// The remote did not answer in time.
    #[error("connecting to {addr} timed out")]
    Timeout { addr: String },
    /// The local session could not be opened.
    #[error("local session: {0}")]
    Local(mq_client::ClientError),
    /// The remote refused, broke the protocol or went away.
    #[error("remote: {0}")]
    Remote(mq_client::ClientError),
    /// The socket pair of the local session could not be made.
    #[error("local socket: {0}")]
    Socket(std::io::Error),
}

/// The running bridges: started with the broker, restarted on SIGHUP when their section changed.
#[derive(Debug)]
pub struct Bridges {
    /// The security of bridges' local sessions without `local_username`: anonymous, no ACL.
    open: SharedSecurity,
    /// That of bridges with `local_username`: the broker's (the first listener's with
    /// `per_listener_settings true`), so its password file and ACL apply.
    listeners: Option<SharedSecurity>,
    hostname: String,
    running: Vec<Running>,
}

/// One bridge's task and the section it runs.
#[derive(Debug)]
struct Running {
    config: mq_config::Bridge,
    plan: Plan,
    task: tokio::task::JoinHandle<()>,
}

impl Bridges {
    /// Starts every bridge of the configuration (each a task of its own, ending at shutdown).
    /// `security` is the listeners' (the first one's with `per_listener_settings true`): the password
    /// file and ACL of bridges with a local identity.
    pub fn start(broker: &Arc<Broker>, bridges: &[mq_config::Bridge], security: Option<SharedSecurity>) -> Bridges {
        let open = crate::auth::Security::load(true, true, "auto-", None, None)
            .map(|(s, _)| s)
            .expect("a security without files always loads");
        let open = Arc::new(parking_lot::RwLock::new(Arc::new(open)));
        let mut b = Bridges { open, listeners: security, hostname: hostname(), running: Vec::new() };
        b.apply(broker, bridges);
        b
    }

    /// Runs `bridges` from now on: those whose section is unchanged go on, the others stop (their
    /// connections close: the remote publishes the bridge's will) and start again as configured.
    pub fn apply(&mut self, broker: &Arc<Broker>, bridges: &[mq_config::Bridge]) {
        let mut kept = Vec::new();
        for r in self.running.drain(..) {
            if bridges.contains(&r.config) {
                kept.push(r);
                continue;
            }
            r.task.abort();
            log!(Notice, "Bridge {} stopped.", r.plan.name);
            link::notify_local(broker, &r.plan, "0");
        }
        // The configuration check makes sure every bridge has an address.
        for b in bridges.iter().filter(|b| !b.addresses.value.is_empty()) {
            if kept.iter().any(|r| r.config == *b) {
                continue;
            }
            let plan = Plan::new(b, &self.hostname);
            let security = match (&plan.local_username, &self.listeners) {
                (Some(_), Some(s)) => s.clone(),
                _ => self.open.clone(),
            };
            let ctx = Arc::new(local_listener(security, plan.lazy.is_some()));
            let task = tokio::spawn(link::run(broker.clone(), ctx, plan.clone()));
            kept.push(Running { config: b.clone(), plan, task });
        }
        self.running = kept;
    }
}

/// A listener's security, reloadable.
type SharedSecurity = Arc<parking_lot::RwLock<Arc<crate::auth::Security>>>;

/// The listener context of a bridge's local session: `security`, all of MQTT, no mount point; QoS 0
/// messages queued while the remote is down for a lazy bridge (they count towards its threshold, as in
/// Mosquitto).
fn local_listener(security: SharedSecurity, lazy: bool) -> ListenerCtx {
    ListenerCtx {
        index: usize::MAX,
        port: 0,
        max_qos: mq_proto::QoS::ExactlyOnce,
        max_topic_alias: 0,
        mount_point: None,
        use_username_as_clientid: false,
        max_connections: None,
        connections: AtomicU32::new(0),
        traffic: Default::default(),
        security,
        tls: None,
        websockets: None,
        queue_qos0: lazy,
    }
}

/// This machine's host name (the default remote client id is `<hostname>.<connection name>`).
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
