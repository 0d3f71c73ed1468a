//! The broker's persistent store: a directory of checksummed record files.
//!
//! - [`record`]: the records (one change each) and their framing;
//! - [`file`]: reading a file back up to its last good record, setting damage aside;
//! - [`state`]: the state the records describe, rebuilt by applying them;
//! - [`journal`]: appending records (group commit on a writer thread), segments, compaction.
//!
//! A store directory holds at most one `base-N.mqs` in use (the whole state up to segment N, written by
//! compaction) and journal segments `journal-M.mqs` (M ≥ N) with the changes since. Opening a store
//! replays the base and the segments in order, sets aside what is damaged (`damaged/`), and starts a new
//! segment for the changes to come.

pub mod file;
pub mod journal;
pub mod record;
pub mod state;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub use journal::{Event, Fsync, Journal};
pub use record::{Entry, Record};
pub use state::State;

use file::Kind;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unable to use store directory {path}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("store directory {0} is in use by another process")]
    Locked(PathBuf),
    #[error("unable to read store file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("unable to set aside the damaged part of {path}: {source}")]
    SetAside { path: PathBuf, source: io::Error },
    #[error("unable to start the journal in {path}: {source}")]
    Journal { path: PathBuf, source: io::Error },
}

/// What opening a store found that the operator should hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The damaged file.
    pub file: PathBuf,
    /// Where the good records end.
    pub offset: u64,
    /// Bytes set aside.
    pub len: u64,
    /// Why they could not be read.
    pub why: String,
    /// Where they were put.
    pub aside: PathBuf,
}

/// An open store: its journal, and the state it held when opened.
#[derive(Debug)]
pub struct Opened {
    /// Where changes go from now on.
    pub journal: Journal,
    /// What the store held.
    pub state: State,
    /// Files found damaged (their good part was used, the rest set aside).
    pub damaged: Vec<Damaged>,
    /// Bytes of store files read.
    pub bytes_read: u64,
    /// Held for as long as the store is open (another broker cannot open it meanwhile).
    pub lock: File,
}

/// Reads the state of the store in `dir` without opening it for writing (for inspection: nothing is
/// set aside, damage is only reported).
pub fn inspect(dir: &Path) -> Result<(State, Vec<Damaged>, u64), StoreError> {
    replay(dir, false)
}

/// Opens (creating if needed) the store in `dir`: replays it, sets damage aside, starts the journal.
pub fn open(dir: &Path, sync: Fsync) -> Result<Opened, StoreError> {
    let started = start(dir, sync)?;
    let (state, damaged, bytes_read) = started.replay()?;
    Ok(Opened { journal: started.journal, state, damaged, bytes_read, lock: started.lock })
}

/// A store whose journal takes changes already, and whose earlier files are still to be replayed
/// (see [`Started::replay`]): a broker can serve while a large store is read.
#[derive(Debug)]
pub struct Started {
    /// Where changes go from now on.
    pub journal: Journal,
    /// Held for as long as the store is open.
    pub lock: File,
    /// The files written before this start, still to be replayed.
    pub earlier: Earlier,
}

/// The files of a store written before its journal started.
#[derive(Debug, Clone)]
pub struct Earlier {
    dir: PathBuf,
    /// The journal's first segment: files before it hold what was stored earlier.
    first: u64,
}

impl Started {
    /// Replays the files written before this start, setting damage aside.
    pub fn replay(&self) -> Result<(State, Vec<Damaged>, u64), StoreError> {
        let r = self.earlier.replay();
        self.journal.allow_compaction();
        r
    }
}

impl Earlier {
    /// Replays them, setting damage aside. Compaction of the store must wait until this is done (see
    /// [`Journal::allow_compaction`]).
    pub fn replay(&self) -> Result<(State, Vec<Damaged>, u64), StoreError> {
        replay_before(&self.dir, self.first, true)
    }

    /// Hands their records to `apply` in order, without building a [`State`] (for a caller that
    /// keeps what they describe itself), setting damage aside. Returns what was damaged and the bytes
    /// read.
    pub fn each(&self, apply: impl FnMut(Record)) -> Result<(Vec<Damaged>, u64), StoreError> {
        each_before(&self.dir, self.first, true, apply)
    }
}

/// Opens (creating if needed) the store in `dir` and starts its journal, without reading it yet.
pub fn start(dir: &Path, sync: Fsync) -> Result<Started, StoreError> {
    let dir_err = |source| StoreError::Dir { path: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock")).map_err(dir_err)?;
    if lock.try_lock().is_err() {
        return Err(StoreError::Locked(dir.to_owned()));
    }
    let first = file::list(dir).map_err(dir_err)?.iter().map(|(_, s, _)| *s).max().unwrap_or(0) + 1;
    let journal = Journal::start(dir.to_owned(), first, sync)
        .map_err(|source| StoreError::Journal { path: dir.to_owned(), source })?;
    Ok(Started { journal, lock, earlier: Earlier { dir: dir.to_owned(), first } })
}

fn replay(dir: &Path, repair: bool) -> Result<(State, Vec<Damaged>, u64), StoreError> {
    replay_before(dir, u64::MAX, repair)
}

/// Replays the store files of `dir` with a sequence number below `before`.
fn replay_before(dir: &Path, before: u64, repair: bool) -> Result<(State, Vec<Damaged>, u64), StoreError> {
    let mut state = State::default();
    let (damaged, bytes_read) = each_before(dir, before, repair, |r| state.apply(r))?;
    state.prune();
    Ok((state, damaged, bytes_read))
}

/// Hands every record of the store files of `dir` below `before` to `apply`, in order: the newest
/// base that reads whole, then the journal segments from it on. Returns what was damaged (set aside
/// when `repair`) and the bytes read.
fn each_before(
    dir: &Path,
    before: u64,
    repair: bool,
    mut apply: impl FnMut(Record),
) -> Result<(Vec<Damaged>, u64), StoreError> {
    let files: Vec<_> = match file::list(dir) {
        Ok(f) => f.into_iter().filter(|(_, s, _)| *s < before).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(StoreError::Dir { path: dir.to_owned(), source }),
    };
    // The newest base that reads whole (a base is renamed into place only once complete).
    let mut damaged = Vec::new();
    let mut bytes_read = 0;
    let mut from = 0;
    for (_, seq, path) in files.iter().rev().filter(|(k, _, _)| *k == Kind::Base) {
        let c = file::read(path).map_err(|source| StoreError::Read { path: path.clone(), source })?;
        if c.damage.is_none() {
            bytes_read += c.good_end;
            c.records.into_iter().for_each(&mut apply);
            from = *seq;
            break;
        }
    }
    for (_, seq, path) in files.iter().filter(|(k, s, _)| *k == Kind::Journal && *s >= from) {
        let c = file::read(path).map_err(|source| StoreError::Read { path: path.clone(), source })?;
        bytes_read += c.good_end;
        c.records.into_iter().for_each(&mut apply);
        if let Some(d) = c.damage {
            let aside = dir.join("damaged").join(format!("{}.{}", file::name(Kind::Journal, *seq), d.offset));
            if repair {
                file::set_aside(path, &d, &aside)
                    .map_err(|source| StoreError::SetAside { path: path.clone(), source })?;
            }
            damaged.push(Damaged { file: path.clone(), offset: d.offset, len: d.len, why: d.why, aside });
        }
    }
    Ok((damaged, bytes_read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(msg: u64) -> Entry {
        Entry { msg, qos: 1, retain: false, sub_ids: vec![], shared: None }
    }

    fn wait_written(j: &Journal) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while j.written() < j.appended() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn what_was_written_is_there_after_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let o = open(dir.path(), Fsync::Never).expect("open");
        assert!(o.state.sessions.is_empty());
        let j = o.journal;
        j.append(&Record::Msg { id: 1, blob: Bytes::from_static(b"hello") });
        // A blob large enough to be written from where it is, between records copied in.
        j.append(&Record::Msg { id: 2, blob: Bytes::from(vec![9u8; 100_000]) });
        j.append(&Record::Session { client: "c".into(), expiry: 100, detached_at: 0, version: 5 });
        let at = j.append_with(|f| {
            f.record(&Record::<&str>::Queue { client: "c", entry: entry(1) });
            f.record(&Record::<&str>::Queue { client: "c", entry: entry(2) });
        });
        wait_written(&j);
        assert!(j.written() >= at);
        // A second broker cannot use the store meanwhile.
        assert!(matches!(open(dir.path(), Fsync::Never), Err(StoreError::Locked(_))));
        drop(j);
        drop(o.lock);
        let o = open(dir.path(), Fsync::Always).expect("reopen");
        assert_eq!(o.state.sessions["c"].queue.len(), 2);
        assert_eq!(&o.state.messages[&1][..], b"hello");
        assert_eq!(o.state.messages[&2].len(), 100_000);
        assert!(o.damaged.is_empty());
    }

    #[test]
    fn a_torn_tail_is_set_aside_and_the_rest_kept() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let o = open(dir.path(), Fsync::Never).expect("open");
            o.journal.append(&Record::Session { client: "c".into(), expiry: 0, detached_at: 0, version: 4 });
            o.journal.append(&Record::Sub { client: "c".into(), filter: "a".into(), opts: 0, id: 0 });
            wait_written(&o.journal);
        }
        let (_, _, path) =
            file::list(dir.path()).expect("list").into_iter().find(|(k, _, _)| *k == Kind::Journal).expect("j");
        let len = std::fs::metadata(&path).expect("meta").len();
        // Flip a bit in the last record: it and what follows are set aside.
        let mut raw = std::fs::read(&path).expect("read");
        let last = raw.len() - 2;
        raw[last] ^= 0x10;
        std::fs::write(&path, &raw).expect("write");
        let o = open(dir.path(), Fsync::Never).expect("reopen");
        assert_eq!(o.damaged.len(), 1);
        let d = &o.damaged[0];
        assert!(d.offset < len && d.aside.exists());
        let s = &o.state.sessions["c"];
        assert!(s.subs.is_empty(), "the damaged record is not applied");
    }

    #[test]
    fn compaction_keeps_the_state_and_drops_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let o = open(dir.path(), Fsync::Never).expect("open");
        for i in 0..100u64 {
            o.journal.append(&Record::Msg { id: i, blob: Bytes::from(vec![7u8; 1000]) });
            o.journal.append(&Record::RetainSet { topic: format!("t/{}", i % 10), msg: i });
        }
        o.journal.append(&Record::Session { client: "c".into(), expiry: 9, detached_at: 5, version: 4 });
        o.journal.append(&Record::Queue { client: "c".into(), entry: entry(3) });
        wait_written(&o.journal);
        drop(o.journal);
        drop(o.lock);
        let before = inspect(dir.path()).expect("inspect").0;
        let open_seq = file::list(dir.path()).expect("list").iter().map(|(_, s, _)| *s).max().expect("one") + 1;
        let bytes = journal::compact(dir.path(), open_seq).expect("compact");
        let after = inspect(dir.path()).expect("inspect").0;
        assert_eq!(after.retained, before.retained);
        assert_eq!(after.sessions, before.sessions);
        // 10 retained + 1 queued of 100 messages are kept.
        assert_eq!(after.messages.len(), 11);
        assert!(bytes < 20_000, "{bytes}");
    }
}
