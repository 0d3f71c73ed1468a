//! `mq db import`: the state of a Mosquitto persistence file ([`super::mosquitto`]) copied into mq's
//! store, so a broker switching from Mosquitto keeps it.
//!
//! Carried over:
//! - retained messages: topic, payload, QoS, MQTT 5 properties, expiry;
//! - persistent sessions: client id, session expiry (counted on from where Mosquitto counted it: the
//!   disconnect, or the save for a client connected then), subscriptions with their QoS, No Local,
//!   Retain As Published and identifier;
//! - messages queued for them, in order, with the QoS, retain flag and subscription identifiers of each
//!   delivery;
//! - messages in flight to them: a PUBLISH sent and not acknowledged is sent again with its packet id
//!   when the client is back; where PUBREL was sent, the PUBREL;
//! - QoS 2 messages received from them and waiting for PUBREL: Mosquitto routes these on PUBREL, so the
//!   import routes them to the sessions whose subscriptions match (and retains one sent retained), and
//!   records the packet id as received, so the client's PUBREL completes the exchange.
//!
//! Left out, and said so: messages and sessions that have expired, sessions that end at disconnect
//! (expiry interval 0: Mosquitto ends them as it restores them), the user name a session last connected
//! with (mq checks a client's access again when it reconnects). Mosquitto's file holds no shared
//! subscriptions, delayed wills or Retain Handling options (Mosquitto 2.0 does not save them).
//!
//! [`plan`] turns the file into store records without touching the disk (so it can be tested on any
//! input); [`run`] writes them.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mq_proto::{Publish, QoS};
use mq_store::Entry;
pub use mq_store::Record;

use super::DbError;
use super::mosquitto::{self, Chunk, ChunkError, Client, ClientMessage, FileError, Message, MessageState};

// Millions of message ids and topics: a fast hash (no peer chooses them).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Why part of a file was not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error(transparent)]
    Unreadable(#[from] ChunkError),
    #[error("{what} refers to message {id}, which the file does not hold")]
    MissingMessage { what: &'static str, id: u64 },
    #[error("message {0} is stored a second time (the first one is kept)")]
    DuplicateMessage(u64),
    #[error("a QoS {0} message received from a client (only QoS 2 ones wait there, for PUBREL)")]
    IncomingQos(u8),
}

/// What an import brought over and left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file's format version.
    pub version: u32,
    pub retained: usize,
    pub sessions: usize,
    pub subscriptions: usize,
    pub queued: usize,
    /// PUBLISH sent, not acknowledged.
    pub inflight: usize,
    /// PUBREL sent, PUBCOMP not received.
    pub released: usize,
    /// QoS 2 messages received and waiting for PUBREL.
    pub received: usize,
    /// Deliveries queued by routing those.
    pub routed: usize,
    pub expired_messages: usize,
    pub expired_sessions: usize,
    /// Sessions with expiry interval 0.
    pub ended_sessions: usize,
    /// Sessions whose user name was not kept.
    pub usernames: usize,
    /// Parts not imported: their offset in the file and why.
    pub skipped: Vec<(u64, Skipped)>,
}

/// Where [`plan`] puts the records.
pub trait Sink {
    /// A record of the store's sessions part.
    fn session(&mut self, r: Record);
    /// A record of the store's retained messages part.
    fn retained(&mut self, r: Record);
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Now (Unix ms): what has expired by then is left out.
    pub now_ms: u64,
    /// Keep the publisher of each message (for `check_retain_source`).
    pub keep_source: bool,
    /// The first message id to give (after those in the store).
    pub first_id: u64,
    /// The store's sessions (merging): one with an imported client id is replaced, the others receive
    /// routed messages as well.
    pub existing: Option<&'a mq_store::State>,
}

/// The expiry a session gets: kept (expiry, disconnected at, Unix ms), or left out.
enum Lifetime {
    Keep(u32, u64),
    EndsAtDisconnect,
    Expired,
}

fn lifetime(c: Option<&Client<'_>>, now_ms: u64) -> Lifetime {
    // A subscription or message of a client with no client chunk: Mosquitto makes it a session that
    // never expires.
    let Some(c) = c else { return Lifetime::Keep(u32::MAX, now_ms) };
    match c.session_expiry_interval {
        0 => Lifetime::EndsAtDisconnect,
        u32::MAX => Lifetime::Keep(u32::MAX, now_ms),
        i if c.session_expiry_time > 0 => {
            let ends = (c.session_expiry_time as u64).saturating_mul(1000);
            if ends <= now_ms {
                Lifetime::Expired
            } else {
                Lifetime::Keep(i, ends.saturating_sub(u64::from(i) * 1000).max(1))
            }
        }
        i => Lifetime::Keep(i, now_ms),
    }
}

/// A subscription messages received with QoS 2 are routed through: client, filter, options byte, id.
type Route = (String, String, u8, u32);

/// Reads `data` and hands the records that rebuild its state to `sink`: messages, then sessions with
/// their subscriptions, in-flight and queued messages, then QoS 2 messages received (routed), and the
/// retained messages to the retained part. Only a file that is not Mosquitto's at all is an error;
/// what does not read is in [`Report::skipped`].
pub fn plan(data: &[u8], opts: &Options<'_>, sink: &mut dyn Sink) -> Result<Report, FileError> {
    let mut chunks = mosquitto::chunks(data)?;
    let mut report = Report { version: chunks.version(), ..Report::default() };
    let expired = |m: &Message<'_>| m.expiry_time > 0 && (m.expiry_time as u64).saturating_mul(1000) <= opts.now_ms;
    // Messages by id: where their chunk is (read again when something refers to one, so the file
    // stays the only copy in memory), and which have expired.
    let mut offsets: HashMap<u64, u64> = HashMap::default();
    let mut gone = HashSet::default();
    let mut clients: Vec<Client<'_>> = Vec::new();
    let mut client_msgs: Vec<(u64, ClientMessage<'_>)> = Vec::new();
    let mut subs = Vec::new();
    let mut retains = Vec::new();
    for (offset, chunk) in chunks.by_ref() {
        match chunk {
            Err(e) => report.skipped.push((offset, e.into())),
            Ok(Chunk::Config(_)) => {}
            Ok(Chunk::Message(m)) => match offsets.entry(m.store_id) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    report.skipped.push((offset, Skipped::DuplicateMessage(m.store_id)));
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(offset);
                    if expired(&m) {
                        gone.insert(m.store_id);
                    }
                }
            },
            Ok(Chunk::ClientMessage(m)) => client_msgs.push((offset, m)),
            Ok(Chunk::Retain { store_id }) => retains.push((offset, store_id)),
            Ok(Chunk::Subscription(s)) => subs.push(s),
            Ok(Chunk::Client(c)) => clients.push(c),
        }
    }
    report.expired_messages = gone.len();
    let mut p =
        Planner { keep_source: opts.keep_source, ids: HashMap::default(), next_id: opts.first_id, sink, report };
    // The message a chunk refers to, unless it has expired (or is missing: said so).
    let live = |report: &mut Report, offset: u64, what, id| {
        let m = offsets.get(&id).and_then(|at| match chunks.at(*at) {
            Some(Ok(Chunk::Message(m))) if m.store_id == id => Some(m),
            _ => None,
        });
        if m.is_none() {
            report.skipped.push((offset, Skipped::MissingMessage { what, id }));
        }
        m.filter(|_| !gone.contains(&id))
    };

    // Retained messages (never `$SYS` ones, which Mosquitto does not save either).
    let mut topics = HashSet::default();
    for (offset, id) in retains {
        let Some(m) = live(&mut p.report, offset, "a retained message", id) else { continue };
        if m.topic.starts_with("$SYS") {
            continue;
        }
        p.sink.retained(Record::Retain { topic: m.topic.to_owned(), blob: blob(&m, true, opts.keep_source) });
        topics.insert(m.topic);
    }

    // Sessions, in the file's order; a client that only has subscriptions or messages comes after.
    let mut order: Vec<&str> = Vec::new();
    let mut chunk_of: HashMap<&str, &Client<'_>> = HashMap::default();
    for c in &clients {
        if chunk_of.insert(c.client_id, c).is_none() {
            order.push(c.client_id);
        }
    }
    let mut subs_of: HashMap<&str, Vec<_>> = HashMap::default();
    for s in &subs {
        subs_of.entry(s.client_id).or_default().push(s);
    }
    let mut msgs_of: HashMap<&str, Vec<_>> = HashMap::default();
    for (offset, m) in &client_msgs {
        msgs_of.entry(m.client_id).or_default().push((*offset, m));
    }
    let mut seen: HashSet<&str> = order.iter().copied().collect();
    for id in subs.iter().map(|s| s.client_id).chain(client_msgs.iter().map(|(_, m)| m.client_id)) {
        if seen.insert(id) {
            order.push(id);
        }
    }
    let mut routes: Vec<Route> = Vec::new();
    let mut incoming = Vec::new();
    let mut imported = HashSet::default();
    for client in order {
        let subs = subs_of.remove(client).unwrap_or_default();
        let msgs = msgs_of.remove(client).unwrap_or_default();
        let c = chunk_of.get(client).copied();
        let (expiry, detached_at) = match lifetime(c, opts.now_ms) {
            Lifetime::Keep(e, d) => (e, d),
            Lifetime::EndsAtDisconnect => {
                p.report.ended_sessions += 1;
                continue;
            }
            Lifetime::Expired => {
                p.report.expired_sessions += 1;
                continue;
            }
        };
        // Mosquitto does not save the protocol version: what only MQTT 5 has says 5.
        let v5 = expiry != u32::MAX
            || subs.iter().any(|s| s.identifier != 0 || s.options & 0x0C != 0)
            || msgs.iter().any(|(_, m)| !m.properties.subscription_identifiers.is_empty());
        if opts.existing.is_some_and(|s| s.sessions.contains_key(client)) {
            p.sink.session(Record::SessionEnd { client: client.to_owned() });
        }
        p.sink.session(Record::Session {
            client: client.to_owned(),
            expiry,
            detached_at,
            version: if v5 { 5 } else { 4 },
        });
        imported.insert(client);
        p.report.sessions += 1;
        p.report.usernames += usize::from(c.is_some_and(|c| c.username.is_some()));
        for s in subs {
            let opts = s.qos.as_u8() | (s.options & 0x0C);
            p.sink.session(Record::Sub {
                client: client.to_owned(),
                filter: s.filter.to_owned(),
                opts,
                id: s.identifier,
            });
            routes.push((client.to_owned(), s.filter.to_owned(), opts, s.identifier));
            p.report.subscriptions += 1;
        }
        let mut pids = HashSet::default();
        for (offset, m) in msgs {
            if !m.outgoing {
                if m.qos == QoS::ExactlyOnce && m.mid != 0 {
                    incoming.push((offset, m));
                } else {
                    p.report.skipped.push((offset, Skipped::IncomingQos(m.qos.as_u8())));
                }
                continue;
            }
            let sent = m.qos != QoS::AtMostOnce && m.mid != 0 && m.state != MessageState::Queued;
            if sent
                && matches!(m.state, MessageState::ResendPubrel | MessageState::WaitForPubcomp)
                && pids.insert(m.mid)
            {
                // Only the packet id matters now: the message itself is not kept.
                let entry = Entry { msg: 0, qos: 2, retain: false, sub_ids: Vec::new(), shared: None };
                p.sink.session(Record::Inflight { client: client.to_owned(), pid: m.mid, stage: 2, entry });
                p.report.released += 1;
                continue;
            }
            // A message queued for many sessions is read once.
            let id = match p.ids.get(&m.store_id) {
                Some(id) => *id,
                None => match live(&mut p.report, offset, "a client message", m.store_id) {
                    Some(msg) => p.id(m.store_id, &msg),
                    None => continue,
                },
            };
            let entry = Entry {
                msg: id,
                qos: m.qos.as_u8(),
                retain: m.retain,
                sub_ids: m.properties.subscription_identifiers.clone(),
                shared: None,
            };
            if sent && pids.insert(m.mid) {
                p.sink.session(Record::Inflight { client: client.to_owned(), pid: m.mid, stage: 1, entry });
                p.report.inflight += 1;
            } else {
                p.sink.session(Record::Queue { client: client.to_owned(), entry });
                p.report.queued += 1;
            }
        }
    }
    // The store's other sessions receive routed messages too.
    if let Some(state) = opts.existing {
        let mut kept: Vec<_> = state.sessions.iter().filter(|(c, _)| !imported.contains(c.as_str())).collect();
        kept.sort_by(|a, b| a.0.cmp(b.0));
        for (client, s) in kept {
            routes.extend(s.subs.iter().map(|(f, (o, id))| (client.clone(), f.clone(), *o, *id)));
        }
    }

    // QoS 2 messages received and not yet released: routed now, as Mosquitto would on PUBREL.
    for (offset, m) in incoming {
        p.sink.session(Record::Q2In { client: m.client_id.to_owned(), pid: m.mid });
        p.report.received += 1;
        let Some(msg) = live(&mut p.report, offset, "a client message", m.store_id) else { continue };
        for (client, entry) in route(&routes, m.client_id, &msg) {
            let entry = Entry { msg: p.id(m.store_id, &msg), ..entry };
            p.sink.session(Record::Queue { client, entry });
            p.report.routed += 1;
        }
        if msg.retain {
            if msg.payload.is_empty() {
                p.sink.retained(Record::RetainClear { topic: msg.topic.to_owned() });
                topics.remove(msg.topic);
            } else {
                p.sink
                    .retained(Record::Retain { topic: msg.topic.to_owned(), blob: blob(&msg, true, opts.keep_source) });
                topics.insert(msg.topic);
            }
        }
    }
    p.report.retained = topics.len();
    Ok(p.report)
}

/// The deliveries of a message from `publisher` through `routes`: one per session, with the highest
/// QoS and every identifier of its matching subscriptions (as the broker routes); a shared
/// subscription delivers to its first member.
fn route(routes: &[Route], publisher: &str, msg: &Message<'_>) -> Vec<(String, Entry)> {
    let mut out: Vec<(String, Entry)> = Vec::new();
    // Where each session's delivery through its own (not shared) subscriptions is in `out`.
    let mut own: HashMap<&str, usize> = HashMap::default();
    let mut groups = HashSet::default();
    for (client, filter, opts, id) in routes {
        let (inner, shared) = match mq_proto::topic::split_shared(filter) {
            Some(Ok((_, inner))) => (inner, true),
            Some(Err(_)) => continue,
            None => (filter.as_str(), false),
        };
        if !mq_proto::topic::matches(inner, msg.topic) || (!shared && opts & 4 != 0 && client == publisher) {
            continue;
        }
        if shared && !groups.insert(filter.as_str()) {
            continue;
        }
        let qos = QoS::from_u8(opts & 3).unwrap_or(QoS::AtMostOnce).min(msg.qos).as_u8();
        let retain = msg.retain && opts & 8 != 0;
        match (!shared).then(|| own.get(client.as_str())).flatten().and_then(|i| out.get_mut(*i)) {
            Some((_, e)) => {
                e.qos = e.qos.max(qos);
                e.retain |= retain;
                e.sub_ids.extend((*id != 0).then_some(*id));
            }
            None => {
                let entry = Entry {
                    msg: 0,
                    qos,
                    retain,
                    sub_ids: (*id != 0).then_some(*id).into_iter().collect(),
                    shared: shared.then(|| filter.clone()),
                };
                if !shared {
                    own.insert(client, out.len());
                }
                out.push((client.clone(), entry));
            }
        }
    }
    out
}

/// A Mosquitto message as the store keeps one.
fn blob(m: &Message<'_>, retain: bool, keep_source: bool) -> Bytes {
    let mut properties = m.properties.clone();
    // Per delivery in mq (expiry is kept apart).
    properties.topic_alias = None;
    properties.subscription_identifiers.clear();
    properties.message_expiry_interval = None;
    let p = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain,
        topic: m.topic.into(),
        packet_id: None,
        properties,
        payload: Bytes::copy_from_slice(m.payload),
    };
    let expires_ms = if m.expiry_time > 0 { (m.expiry_time as u64).saturating_mul(1000) } else { 0 };
    let source = if keep_source { m.source_id.map(|id| (m.source_username, id)) } else { None };
    crate::persist::encode_stored(expires_ms, m.qos, source, p)
}

struct Planner<'p> {
    keep_source: bool,
    /// Mosquitto's message ids → the store's, for messages written to the sessions part.
    ids: HashMap<u64, u64>,
    next_id: u64,
    sink: &'p mut dyn Sink,
    report: Report,
}

impl Planner<'_> {
    /// The store's id of a message, writing it on first use.
    fn id(&mut self, store_id: u64, m: &Message<'_>) -> u64 {
        if let Some(id) = self.ids.get(&store_id) {
            return *id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(store_id, id);
        self.sink.session(Record::Msg { id, blob: blob(m, m.retain, self.keep_source) });
        id
    }
}

/// Appends to the store's journals, holding back while the writer is far behind (memory stays bounded
/// on a large file).
struct Journals<'j> {
    sessions: &'j mq_store::Journal,
    retained: &'j mq_store::Journal,
}

impl Journals<'_> {
    const AHEAD: u64 = 64 * 1024 * 1024;

    fn append(j: &mq_store::Journal, r: &Record) {
        let at = j.append(r);
        while at.saturating_sub(j.written()) > Self::AHEAD {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

impl Sink for Journals<'_> {
    fn session(&mut self, r: Record) {
        Self::append(self.sessions, &r);
    }

    fn retained(&mut self, r: Record) {
        Self::append(self.retained, &r);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The user the store's files should belong to, when run as root: the broker's `user` with a
/// configuration, else the owner of the directory the store is in.
fn owner(dir: &Path, cfg: Option<&mq_config::Config>) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::Uid::effective().is_root() {
        return None;
    }
    let (uid, gid) = match cfg {
        Some(cfg) => {
            let u = nix::unistd::User::from_name(cfg.effective_user()).ok().flatten()?;
            (u.uid.as_raw(), u.gid.as_raw())
        }
        None => {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let m = std::fs::metadata(parent).ok()?;
            (m.uid(), m.gid())
        }
    };
    (uid != 0).then_some((uid, gid))
}

/// Gives `dir` and everything in it to `uid`/`gid`.
fn give(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            give(&e.path(), uid, gid)?;
        } else {
            std::os::unix::fs::chown(e.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// `mq db import`: reads the Mosquitto file (`file`, or the one `cfg` names) and writes its state into
/// the store in `dir`, refusing a store that holds state already unless `merge`. Prints what was
/// imported to `out`, what was skipped to `err`.
pub fn run(
    dir: &Path,
    file: Option<&Path>,
    merge: bool,
    cfg: Option<&mq_config::Config>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), DbError> {
    let file: PathBuf = match (file, cfg) {
        (Some(f), _) => f.to_owned(),
        (None, Some(cfg)) => cfg.persistence.path(),
        (None, None) => return Err(DbError::NoFile),
    };
    let data = std::fs::read(&file).map_err(|source| DbError::ReadFile { path: file.clone(), source })?;
    let version = mosquitto::version(&data).map_err(|why| DbError::Mosquitto { path: file.clone(), why })?;
    let started = std::time::Instant::now();
    // Started, not opened: the journals do not compact while the import writes (a large file would
    // have its first segments folded while the rest is still coming).
    let sessions = mq_store::start(&dir.join("sessions"), mq_store::Fsync::Never)?;
    let retained = mq_store::start(&dir.join("retained"), mq_store::Fsync::Never)?;
    let (state, mut damaged, _) = sessions.earlier.replay()?;
    let (retained_state, more, _) = retained.earlier.replay()?;
    damaged.extend(more);
    for d in damaged {
        writeln!(
            err,
            "{}: damaged at byte {} ({}); set aside in {}.",
            d.file.display(),
            d.offset,
            d.why,
            d.aside.display()
        )?;
    }
    let holds =
        !state.sessions.is_empty() || !retained_state.retained_msgs.is_empty() || !retained_state.retained.is_empty();
    drop(retained_state);
    if holds && !merge {
        return Err(DbError::NotEmpty(dir.to_owned()));
    }
    writeln!(
        out,
        "Importing {} (Mosquitto persistence format version {version}) into {}.",
        file.display(),
        dir.display()
    )?;
    let opts = Options {
        now_ms: now_ms(),
        keep_source: cfg.is_some_and(|c| c.check_retain_source.value),
        first_id: state.max_message_id() + 1,
        existing: merge.then_some(&state),
    };
    let mut sink = Journals { sessions: &sessions.journal, retained: &retained.journal };
    let report = plan(&data, &opts, &mut sink).map_err(|why| DbError::Mosquitto { path: file.clone(), why })?;
    // Written and synced before the summary says so.
    sessions.journal.close();
    retained.journal.close();
    drop((sessions, retained));
    let owner = owner(dir, cfg);
    if let Some((uid, gid)) = owner {
        give(dir, uid, gid).map_err(|source| DbError::Owner { path: dir.to_owned(), source })?;
    }
    for (offset, why) in &report.skipped {
        writeln!(err, "{}: byte {offset}: {why}; skipped.", file.display())?;
    }
    print_report(&report, started.elapsed(), out)?;
    if let Some((uid, _)) = owner {
        let name = nix::unistd::User::from_uid(uid.into()).ok().flatten().map_or(uid.to_string(), |u| u.name);
        writeln!(out, "The store was given to user {name}, whom the broker runs as.")?;
    }
    if cfg.is_some_and(|c| !c.persistence.enabled.value) {
        writeln!(
            out,
            "Note: this configuration has persistence off; the broker reads the store with persistence true."
        )?;
    }
    Ok(())
}

fn print_report(r: &Report, took: std::time::Duration, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "imported {} retained messages, {} sessions, {} queued messages in {} ms",
        r.retained,
        r.sessions,
        r.queued + r.routed,
        took.as_millis()
    )?;
    let mut also = vec![format!("{} subscriptions", r.subscriptions)];
    if r.inflight > 0 {
        also.push(format!("{} messages in flight (sent again when their client is back)", r.inflight));
    }
    if r.released > 0 {
        also.push(format!("{} QoS 2 exchanges waiting for PUBCOMP", r.released));
    }
    if r.received > 0 {
        also.push(format!(
            "{} QoS 2 messages received and waiting for PUBREL ({} deliveries queued for them)",
            r.received, r.routed
        ));
    }
    if r.sessions > 0 {
        writeln!(out, "  with {}", also.join(", "))?;
    }
    let mut left = Vec::new();
    for (n, what) in [
        (r.expired_messages, "expired messages"),
        (r.expired_sessions, "expired sessions"),
        (r.ended_sessions, "sessions that end at disconnect (expiry interval 0)"),
        (r.usernames, "user names of sessions (checked again when the client reconnects)"),
        (r.skipped.len(), "unreadable or inconsistent parts (above)"),
    ] {
        if n > 0 {
            left.push(format!("{n} {what}"));
        }
    }
    if !left.is_empty() {
        writeln!(out, "not imported: {}", left.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::mosquitto::tests::{FIXTURE, file, raw_chunks};
    use mq_store::State;

    /// The records of each part, applied.
    #[derive(Default)]
    struct States {
        sessions: State,
        retained: State,
        records: Vec<Record>,
    }

    impl Sink for States {
        fn session(&mut self, r: Record) {
            self.records.push(r.clone());
            self.sessions.apply(r);
        }
        fn retained(&mut self, r: Record) {
            self.retained.apply(r);
        }
    }

    /// When the fixture was saved (its `r/bin` expires an hour after it was published), in Unix ms.
    fn saved_ms() -> u64 {
        mosquitto::chunks(FIXTURE)
            .expect("header")
            .find_map(|(_, c)| match c {
                Ok(Chunk::Message(m)) if m.topic == "r/bin" => Some((m.expiry_time as u64 - 3600) * 1000 + 5_000),
                _ => None,
            })
            .expect("r/bin")
    }

    fn options(now_ms: u64) -> Options<'static> {
        Options { now_ms, keep_source: false, first_id: 1, existing: None }
    }

    fn run(data: &[u8], opts: &Options<'_>) -> (Report, States) {
        let mut s = States::default();
        let r = plan(data, opts, &mut s).expect("a Mosquitto file");
        s.sessions.prune();
        (r, s)
    }

    /// Topic and payload of a stored message.
    fn message(s: &State, id: u64) -> (String, String) {
        let (topic, _, _, payload) = crate::persist::describe_message(&s.messages[&id]).expect("readable");
        (topic, String::from_utf8_lossy(&payload).into_owned())
    }

    #[test]
    fn the_state_mosquitto_saved_becomes_records() {
        let (r, s) = run(FIXTURE, &options(saved_ms()));
        assert_eq!(
            (r.retained, r.sessions, r.subscriptions, r.queued, r.inflight, r.released, r.received, r.routed),
            (3, 4, 4, 5, 2, 1, 1, 1)
        );
        assert_eq!((r.expired_messages, r.expired_sessions, r.ended_sessions, r.usernames), (1, 0, 1, 0));
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);

        let mut topics: Vec<_> = s.retained.retained_msgs.keys().cloned().collect();
        topics.sort();
        assert_eq!(topics, ["i/4", "r/bin", "r/text"]);
        let (_, qos, retain, payload) =
            crate::persist::describe_message(&s.retained.retained_msgs["r/bin"]).expect("readable");
        assert_eq!((qos, retain, &payload[..]), (1, true, &[0u8, 1, 0xff, 0xfe, 0x80][..]));

        let k = &s.sessions.sessions["keeper"];
        assert_eq!((k.expiry, k.version), (u32::MAX, 4));
        assert_eq!(
            k.subs.iter().map(|(f, o)| (f.as_str(), *o)).collect::<Vec<_>>(),
            [("q/#", (1, 0)), ("x/+", (2, 0))]
        );
        let queued: Vec<_> = k.queue.iter().map(|e| (message(&s.sessions, e.msg).1, e.qos)).collect();
        assert_eq!(queued, [("m1".into(), 1), ("m2".into(), 1), ("m3".into(), 1), ("x2".into(), 2)]);

        let v = &s.sessions.sessions["v5keeper"];
        assert_eq!((v.expiry, v.version), (3600, 5));
        assert!(v.detached_at <= saved_ms() && v.detached_at > saved_ms() - 10_000, "{}", v.detached_at);
        assert_eq!(v.subs["v/#"], (2 | 4 | 8, 7));
        assert_eq!((v.queue.len(), &v.queue[0].sub_ids[..]), (1, &[7][..]));

        let f = &s.sessions.sessions["inflight"];
        let stages: Vec<_> = f.inflight.iter().map(|(_, stage, e)| (*stage, e.qos)).collect();
        assert_eq!(stages, [(1, 1), (2, 2), (1, 2)]);
        assert_eq!(message(&s.sessions, f.inflight[2].2.msg).1, "three");
        // The half-received message, routed.
        assert_eq!(
            f.queue.iter().map(|e| (message(&s.sessions, e.msg).1, e.qos)).collect::<Vec<_>>(),
            [("four".into(), 2)]
        );
        assert_eq!(s.sessions.sessions["halfpub"].q2in, [42]);
        assert!(!s.sessions.sessions.contains_key("short"));
        assert_eq!(s.sessions.orphans, 0);
    }

    #[test]
    fn what_has_expired_since_is_left_out() {
        // Two hours after the save: r/bin and v5keeper's session have expired.
        let (r, s) = run(FIXTURE, &options(saved_ms() + 7_200_000));
        assert_eq!((r.retained, r.sessions, r.expired_messages, r.expired_sessions), (2, 3, 2, 1));
        assert!(!s.retained.retained_msgs.contains_key("r/bin"));
        assert!(!s.sessions.sessions.contains_key("v5keeper"));
    }

    #[test]
    fn merging_replaces_a_session_and_routes_to_the_others() {
        let mut existing = State::default();
        for r in [
            Record::Session { client: "keeper".into(), expiry: 5, detached_at: 1, version: 4 },
            Record::Sub { client: "keeper".into(), filter: "old/#".into(), opts: 1, id: 0 },
            Record::Session { client: "other".into(), expiry: 5, detached_at: 1, version: 4 },
            Record::Sub { client: "other".into(), filter: "i/+".into(), opts: 1, id: 0 },
            Record::Msg { id: 9, blob: Bytes::from_static(b"x") },
        ] {
            existing.apply(r);
        }
        let opts = Options { existing: Some(&existing), first_id: 10, ..options(saved_ms()) };
        let (r, s) = run(FIXTURE, &opts);
        assert_eq!(r.routed, 2, "to `inflight` and to the store's `other`");
        assert!(s.records.contains(&Record::SessionEnd { client: "keeper".into() }));
        assert!(!s.records.contains(&Record::SessionEnd { client: "other".into() }));
        let routed: Vec<_> = s
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Queue { client, entry } if client == "other" => Some(entry.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(routed.len(), 1);
        assert_eq!((routed[0].qos, routed[0].msg >= 10), (1, true));
    }

    #[test]
    fn routing_follows_subscription_options() {
        let m = Message {
            store_id: 1,
            expiry_time: 0,
            source_id: None,
            source_username: None,
            topic: "a/b",
            qos: QoS::ExactlyOnce,
            retain: true,
            payload: b"x",
            properties: Default::default(),
        };
        let r = |c: &str, f: &str, o: u8, id: u32| (c.to_owned(), f.to_owned(), o, id);
        let routes = [
            r("me", "a/#", 1 | 4, 0), // No Local: not to the publisher
            r("x", "a/+", 1, 3),      // overlapping: one delivery, the highest QoS, both ids
            r("x", "a/b", 2 | 8, 4),
            r("y", "$share/g/a/b", 2, 0), // a shared subscription: its first member only
            r("z", "$share/g/a/b", 2, 0),
            r("w", "b/#", 2, 0),
        ];
        let got = route(&routes, "me", &m);
        let got: Vec<_> =
            got.iter().map(|(c, e)| (c.as_str(), e.qos, e.retain, e.sub_ids.clone(), e.shared.clone())).collect();
        assert_eq!(got, [("x", 2, true, vec![3, 4], None), ("y", 2, false, vec![], Some("$share/g/a/b".to_owned()))]);
    }

    #[test]
    fn what_does_not_read_is_reported_where_it_is() {
        let mut c = raw_chunks(FIXTURE);
        // A queued message whose message is gone, and a message stored twice.
        let msg = c.iter().position(|(k, _)| *k == 2).expect("a message");
        c.insert(msg + 1, c[msg].clone());
        let cmsg = c.iter().position(|(k, _)| *k == 3).expect("a client message");
        c[cmsg].1[..8].copy_from_slice(&12345u64.to_le_bytes());
        let data = file(6, &c);
        let (r, _) = run(&data, &options(saved_ms()));
        let why: Vec<String> = r.skipped.iter().map(|(_, w)| w.to_string()).collect();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("stored a second time"), "{why:?}");
        assert!(why[1].contains("refers to message 12345"), "{why:?}");
        assert_eq!(r.queued, 4);
    }

    #[test]
    fn every_cut_and_every_flipped_bit_plans_without_a_panic() {
        let opts = options(saved_ms());
        let whole = run(FIXTURE, &opts).0;
        let mut before = 0;
        for cut in 0..=FIXTURE.len() {
            if let Ok(r) = plan(&FIXTURE[..cut], &opts, &mut States::default()) {
                assert!(before <= r.sessions && r.sessions <= whole.sessions, "cut at {cut}");
                before = r.sessions;
            }
        }
        let mut data = FIXTURE.to_vec();
        for i in 0..data.len() * 8 {
            data[i / 8] ^= 1 << (i % 8);
            let _ = plan(&data, &opts, &mut States::default());
            data[i / 8] ^= 1 << (i % 8);
        }
    }
}
