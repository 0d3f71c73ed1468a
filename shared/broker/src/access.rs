//! Will the user the broker drops to be able to read a file? Started as root, the broker reads its
//! password and ACL files before dropping privileges, and again on SIGHUP after: a file only root
//! may read (what `mq-passwd -c` makes, run as root) loads at start and then fails every reload.
//! [`unreadable_reason`] finds that out at start, from the owners and permission bits along the
//! path, so the broker can warn while the administrator is watching.
//!
//! The decision is [`permits`], a pure function of the classic Unix rule: the owner bits apply to
//! the owner, else the group bits to members of the group, else the other bits. POSIX ACLs and
//! capabilities are not considered.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Owner, group and permission bits of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

impl Owned {
    /// From a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> Owned {
        Owned { uid: meta.uid(), gid: meta.gid(), mode: meta.mode() & 0o7777 }
    }
}

/// The user a process runs as: user id, primary group and supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Read permission (`r`).
pub const READ: u32 = 0o4;
/// Search permission on a directory (`x`).
pub const SEARCH: u32 = 0o1;

/// Whether `who` has every permission in `want` ([`READ`], [`SEARCH`]) on `file`.
pub fn permits(file: Owned, who: &Identity, want: u32) -> bool {
    if who.uid == 0 {
        // Root reads anything; searching a directory needs some x bit.
        return want & SEARCH == 0 || file.mode & 0o111 != 0;
    }
    let class = if file.uid == who.uid {
        file.mode >> 6
    } else if file.gid == who.gid || who.groups.contains(&file.gid) {
        file.mode >> 3
    } else {
        file.mode
    };
    class & 0o7 & want == want
}

/// Why `who` could not read `path` (`None` when it could): the first directory on the way it may not
/// search, or the file itself, with its owner and mode. Symbolic links are followed; a path whose
/// metadata cannot be read is not judged.
pub fn unreadable_reason(path: &Path, who: &Identity) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let mut dirs: Vec<PathBuf> = real.ancestors().skip(1).map(Path::to_owned).collect();
    dirs.reverse();
    for dir in dirs {
        let owned = Owned::of(&std::fs::metadata(&dir).ok()?);
        if !permits(owned, who, SEARCH) {
            return Some(format!("directory {} is {}", dir.display(), describe(owned)));
        }
    }
    let owned = Owned::of(&std::fs::metadata(&real).ok()?);
    if !permits(owned, who, READ) {
        return Some(format!("the file is {}", describe(owned)));
    }
    None
}

/// `owned by root:root, mode 0600`, with names where they resolve.
fn describe(o: Owned) -> String {
    use nix::unistd::{Gid, Group, Uid, User};
    let user = User::from_uid(Uid::from_raw(o.uid)).ok().flatten().map_or_else(|| o.uid.to_string(), |u| u.name);
    let group = Group::from_gid(Gid::from_raw(o.gid)).ok().flatten().map_or_else(|| o.gid.to_string(), |g| g.name);
    format!("owned by {user}:{group}, mode {:04o}", o.mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn who(uid: u32, gid: u32, groups: &[u32]) -> Identity {
        Identity { uid, gid, groups: groups.to_vec() }
    }

    fn file(uid: u32, gid: u32, mode: u32) -> Owned {
        Owned { uid, gid, mode }
    }

    #[test]
    fn owner_group_other_classes() {
        let nobody = who(65534, 65534, &[]);
        // What `mq-passwd -c` makes as root.
        assert!(!permits(file(0, 0, 0o600), &nobody, READ));
        assert!(permits(file(0, 0, 0o644), &nobody, READ));
        assert!(permits(file(0, 0, 0o604), &nobody, READ));
        // Group: primary or supplementary.
        assert!(permits(file(0, 65534, 0o640), &nobody, READ));
        assert!(permits(file(0, 105, 0o640), &who(102, 65534, &[105]), READ));
        assert!(!permits(file(0, 105, 0o640), &nobody, READ));
        // Owned by the user: the owner bits decide, even when others may read.
        assert!(permits(file(65534, 0, 0o400), &nobody, READ));
        assert!(!permits(file(65534, 0, 0o044), &nobody, READ));
        // A group member is judged by the group bits, even when others may read.
        assert!(!permits(file(0, 65534, 0o604), &nobody, READ));
        // Directories: search needs x.
        assert!(permits(file(0, 0, 0o711), &nobody, SEARCH));
        assert!(!permits(file(0, 0, 0o700), &nobody, SEARCH));
        assert!(!permits(file(0, 0, 0o744), &nobody, SEARCH));
        // Root reads anything, and searches a directory with any x bit.
        assert!(permits(file(1, 1, 0o000), &who(0, 0, &[]), READ));
        assert!(permits(file(1, 1, 0o001), &who(0, 0, &[]), SEARCH));
        assert!(!permits(file(1, 1, 0o600), &who(0, 0, &[]), SEARCH));
    }

    /// On real files: the identity is made to be someone other than the files' owner, so the test
    /// means the same whoever runs it.
    #[test]
    fn reasons_for_real_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let pw = sub.join("pw");
        std::fs::write(&pw, "x").expect("write");
        let meta = std::fs::metadata(&pw).expect("meta");
        let stranger = who(meta.uid().wrapping_add(1).max(1), meta.gid().wrapping_add(1).max(1), &[]);
        let chmod = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");

        chmod(dir.path(), 0o755);
        chmod(&sub, 0o755);
        chmod(&pw, 0o600);
        let why = unreadable_reason(&pw, &stranger).expect("unreadable");
        assert!(why.starts_with("the file is owned by ") && why.ends_with(", mode 0600"), "{why}");
        chmod(&pw, 0o644);
        assert_eq!(unreadable_reason(&pw, &stranger), None);
        chmod(&sub, 0o700);
        let why = unreadable_reason(&pw, &stranger).expect("unreadable");
        assert!(why.starts_with(&format!("directory {} is owned by ", sub.display())), "{why}");
        assert!(why.ends_with(", mode 0700"), "{why}");
        // Missing files are not judged (loading them reports that).
        assert_eq!(unreadable_reason(&dir.path().join("missing"), &stranger), None);
    }
}
