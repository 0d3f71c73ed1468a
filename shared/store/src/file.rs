//! Store files: a header, then records. A file is read up to its last good record; what follows (a torn
//! last write after a crash, a damaged sector) is reported so it can be kept aside and cut off.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::record::{Record, RecordError};

/// The first bytes of every store file.
pub const MAGIC: &[u8; 8] = b"MQSTORE1";
/// Bytes of the header: magic, then the file's sequence number.
pub const HEADER: usize = 16;

/// What kind of file: a compacted base (the whole state up to its sequence number) or a journal
/// segment (changes, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Base,
    Journal,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Base => "base-",
            Kind::Journal => "journal-",
        }
    }
}

/// A store file's name: `base-000000000007.mqs`, `journal-000000000007.mqs`.
pub fn name(kind: Kind, seq: u64) -> String {
    format!("{}{seq:012}.mqs", kind.prefix())
}

/// The kind and sequence number of a store file's name.
pub fn parse_name(name: &str) -> Option<(Kind, u64)> {
    let stem = name.strip_suffix(".mqs")?;
    for kind in [Kind::Base, Kind::Journal] {
        if let Some(n) = stem.strip_prefix(kind.prefix()) {
            return n.parse().ok().map(|n| (kind, n));
        }
    }
    None
}

/// Where a file stops being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first byte not read as a good record.
    pub offset: u64,
    /// Bytes from there to the end of the file.
    pub len: u64,
    /// Why.
    pub why: String,
}

/// A file read back.
#[derive(Debug)]
pub struct Contents {
    /// Its sequence number (from its header).
    pub seq: u64,
    /// The good records, in order.
    pub records: Vec<Record>,
    /// Where the good records end.
    pub good_end: u64,
    /// What follows them, if anything.
    pub damage: Option<Damage>,
}

/// Reads a store file. A missing or damaged header makes the whole file damage (from offset 0).
pub fn read(path: &Path) -> io::Result<Contents> {
    let mut raw = Vec::new();
    File::open(path)?.read_to_end(&mut raw)?;
    let raw = Bytes::from(raw);
    let total = raw.len() as u64;
    if raw.len() < HEADER || raw.get(..8) != Some(&MAGIC[..]) {
        let why = if raw.is_empty() { "empty file" } else { "not a store file (bad header)" };
        return Ok(Contents {
            seq: 0,
            records: Vec::new(),
            good_end: 0,
            damage: (total > 0).then(|| Damage { offset: 0, len: total, why: why.into() }),
        });
    }
    let seq = u64::from_le_bytes(raw.get(8..16).and_then(|s| s.try_into().ok()).unwrap_or([0; 8]));
    let mut at = HEADER;
    let mut records = Vec::new();
    let mut damage = None;
    while at < raw.len() {
        let rest = raw.slice(at..);
        match Record::read(&rest) {
            Ok(Some((r, n))) => {
                records.push(r);
                at += n;
            }
            Ok(None) => {
                damage =
                    Some(Damage { offset: at as u64, len: total - at as u64, why: RecordError::Truncated.to_string() });
                break;
            }
            Err(e) => {
                damage = Some(Damage { offset: at as u64, len: total - at as u64, why: e.to_string() });
                break;
            }
        }
    }
    Ok(Contents { seq, records, good_end: at as u64, damage })
}

/// Copies the damaged part of a file into `aside` (a file of its own) and cuts the file at the last
/// good record.
pub fn set_aside(path: &Path, damage: &Damage, aside: &Path) -> io::Result<()> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    f.seek(SeekFrom::Start(damage.offset))?;
    let mut bad = Vec::new();
    f.read_to_end(&mut bad)?;
    if let Some(dir) = aside.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(aside, &bad)?;
    f.set_len(damage.offset.max(if damage.offset == 0 { 0 } else { HEADER as u64 }))?;
    f.sync_all()?;
    Ok(())
}

/// Creates a store file with its header (truncating one that exists).
pub fn create(path: &Path, seq: u64) -> io::Result<File> {
    let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
    let mut head = [0u8; HEADER];
    head[..8].copy_from_slice(MAGIC);
    head[8..].copy_from_slice(&seq.to_le_bytes());
    f.write_all(&head)?;
    Ok(f)
}

/// The store files of a directory, by kind and sequence number.
pub fn list(dir: &Path) -> io::Result<Vec<(Kind, u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if let Some((kind, seq)) = e.file_name().to_str().and_then(parse_name) {
            out.push((kind, seq, e.path()));
        }
    }
    out.sort_by_key(|(k, s, _)| (*s, *k));
    Ok(out)
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(Kind::Journal, 7), "journal-000000000007.mqs");
        assert_eq!(parse_name("base-000000000012.mqs"), Some((Kind::Base, 12)));
        assert_eq!(parse_name("base-x.mqs"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }

    #[test]
    fn read_stops_at_the_last_good_record_and_sets_the_rest_aside() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(name(Kind::Journal, 3));
        let mut f = create(&path, 3).expect("create");
        let recs: Vec<Record> = (0..3).map(|i| Record::SessionEnd { client: format!("c{i}") }).collect();
        for r in &recs {
            let (head, _) = r.frame();
            f.write_all(&head).expect("write");
        }
        // A torn last write.
        let (head, _) = Record::Sub { client: "x", filter: "a/b", opts: 1, id: 0 }.frame();
        f.write_all(&head[..head.len() - 3]).expect("write");
        drop(f);
        let c = read(&path).expect("read");
        assert_eq!((c.seq, c.records.len()), (3, 3));
        let d = c.damage.expect("damage");
        assert_eq!(d.offset, c.good_end);
        let aside = dir.path().join("damaged").join("x");
        set_aside(&path, &d, &aside).expect("set aside");
        assert_eq!(std::fs::metadata(&aside).expect("aside").len(), d.len);
        let again = read(&path).expect("read");
        assert_eq!((again.records, again.damage), (recs, None));
    }
}
