//! Mosquitto's `acl_file` (mosquitto.conf(5), "ACL file"): who may publish, subscribe and receive what.
//!
//! ```text
//! # before any `user` line: rules for clients without a user name
//! topic read $SYS/#
//! user roger
//! topic foo/bar                 # readwrite when no access word is given
//! topic deny foo/secret
//! pattern write sensors/%u/#    # every client; %u = user name, %c = client id
//! ```
//!
//! Rules, as Mosquitto 2.0: a client's rules are those of its user name (or the anonymous rules when
//! it has none) plus every `pattern` line; a matching `deny` wins over any grant; otherwise access is
//! granted when a matching rule grants it, and refused when none does. Patterns using `%u` do not apply
//! to clients without a user name, and no pattern applies to a client whose user name or client id
//! contains `+` or `#` (they could widen the pattern). Topics starting with `$` match only rules starting
//! with `$`.
//!
//! Beyond Mosquitto 2.0, which never checks SUBSCRIBE, [`Acl::may_subscribe`] refuses a filter the
//! client could never read anything through, so the refusal shows in SUBACK rather than as silence.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use mq_proto::topic::{check_topic_filter, matches};

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Access {
    fn grants(self, want: Want) -> bool {
        matches!((self, want), (Access::ReadWrite, _) | (Access::Read, Want::Read) | (Access::Write, Want::Write))
    }
}

/// The access a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Receive messages on a topic (delivery and SUBSCRIBE).
    Read,
    /// Publish to a topic.
    Write,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    access: Access,
    filter: String,
}

/// A parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    anonymous: Vec<Rule>,
    users: std::collections::HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

/// A bad line in an ACL file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {why}", path.display())]
pub struct AclLineError {
    pub path: PathBuf,
    pub line: usize,
    pub why: String,
}

/// Why an ACL file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    /// The file could not be read.
    #[error("unable to open ACL file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Some lines are wrong (all of them are listed).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Lines(Vec<AclLineError>),
}

impl Acl {
    /// Reads and parses an ACL file.
    pub fn load(path: &Path) -> Result<Acl, AclError> {
        let text = std::fs::read_to_string(path).map_err(|source| AclError::Io { path: path.to_owned(), source })?;
        Acl::parse(&text, path).map_err(AclError::Lines)
    }

    /// Parses ACL text; every bad line is reported with its number.
    pub fn parse(text: &str, path: &Path) -> Result<Acl, Vec<AclLineError>> {
        let mut acl = Acl::default();
        let mut errors = Vec::new();
        let mut user: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: String| AclLineError { path: path.to_owned(), line: i + 1, why };
            let (keyword, rest) = match line.split_once(char::is_whitespace) {
                Some((k, r)) => (k, r.trim()),
                None => (line, ""),
            };
            match keyword {
                "user" => {
                    if rest.is_empty() {
                        errors.push(err("user line without a user name".into()));
                    } else {
                        user = Some(rest.to_owned());
                        acl.users.entry(rest.to_owned()).or_default();
                    }
                }
                "topic" | "pattern" => {
                    let (access, filter) = match rest.split_once(char::is_whitespace) {
                        Some(("read", f)) => (Access::Read, f.trim()),
                        Some(("write", f)) => (Access::Write, f.trim()),
                        Some(("readwrite", f)) => (Access::ReadWrite, f.trim()),
                        Some(("deny", f)) => (Access::Deny, f.trim()),
                        _ => (Access::ReadWrite, rest),
                    };
                    if filter.is_empty() {
                        errors.push(err(format!("{keyword} line without a topic")));
                        continue;
                    }
                    if let Err(e) = check_topic_filter(filter) {
                        errors.push(err(format!("invalid topic '{filter}': {e}")));
                        continue;
                    }
                    let rule = Rule { access, filter: filter.to_owned() };
                    match (keyword, &user) {
                        ("pattern", _) => acl.patterns.push(rule),
                        (_, Some(u)) => acl.users.entry(u.clone()).or_default().push(rule),
                        (_, None) => acl.anonymous.push(rule),
                    }
                }
                other => errors.push(err(format!("unknown keyword '{other}' (expected topic, pattern or user)"))),
            }
        }
        if errors.is_empty() { Ok(acl) } else { Err(errors) }
    }

    /// The rules that apply to a client as (access, filter), with patterns substituted. Rules without
    /// `%u`/`%c` are borrowed: this runs for every delivery to a client under an ACL.
    fn rules<'a>(
        &'a self,
        username: Option<&'a str>,
        client_id: &'a str,
    ) -> impl Iterator<Item = (Access, Cow<'a, str>)> + 'a {
        let own: &[Rule] = match username {
            Some(u) => self.users.get(u).map_or(&[], Vec::as_slice),
            None => &self.anonymous,
        };
        let unsafe_ids = username.is_some_and(|u| u.contains(['+', '#'])) || client_id.contains(['+', '#']);
        let patterns = self.patterns.iter().filter_map(move |p| {
            if unsafe_ids {
                return None;
            }
            let mut filter = Cow::Borrowed(p.filter.as_str());
            if filter.contains("%u") {
                filter = Cow::Owned(filter.replace("%u", username?));
            }
            if filter.contains("%c") {
                filter = Cow::Owned(filter.replace("%c", client_id));
            }
            Some((p.access, filter))
        });
        own.iter().map(|r| (r.access, Cow::Borrowed(r.filter.as_str()))).chain(patterns)
    }

    /// Whether the client may read or write `topic`.
    pub fn check(&self, want: Want, username: Option<&str>, client_id: &str, topic: &str) -> bool {
        let mut granted = false;
        for (access, filter) in self.rules(username, client_id) {
            if !matches(&filter, topic) {
                continue;
            }
            if access == Access::Deny {
                return false;
            }
            granted |= access.grants(want);
        }
        granted
    }

    /// Whether a subscription to `filter` could ever deliver something: some read grant overlaps it, and
    /// no deny rule covers it entirely. Messages are still checked one by one at delivery.
    pub fn may_subscribe(&self, username: Option<&str>, client_id: &str, filter: &str) -> bool {
        let filter = match mq_proto::topic::split_shared(filter) {
            Some(Ok((_, inner))) => inner,
            _ => filter,
        };
        let rules: Vec<(Access, Cow<'_, str>)> = self.rules(username, client_id).collect();
        if rules.iter().any(|(a, f)| *a == Access::Deny && covers(f, filter)) {
            return false;
        }
        rules.iter().any(|(a, f)| a.grants(Want::Read) && overlaps(f, filter))
    }
}

/// Whether some topic matches both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    // The `$` rule: a filter starting with a wildcard matches no `$` topic.
    let dollar = |f: &str| f.starts_with('$');
    let wild = |f: &str| f.starts_with('+') || f.starts_with('#');
    if (dollar(a) && wild(b)) || (dollar(b) && wild(a)) {
        return false;
    }
    let mut x = a.split('/');
    let mut y = b.split('/');
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(l), Some(r)) if l == r => {}
            _ => return false,
        }
    }
}

/// Whether every topic `inner` matches is matched by `outer`.
pub fn covers(outer: &str, inner: &str) -> bool {
    if outer.starts_with('$') != inner.starts_with('$') && !(inner.starts_with('+') || inner.starts_with('#')) {
        return false;
    }
    let mut x = outer.split('/');
    let mut y = inner.split('/');
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(l)) if l != "#" => {}
            (Some(l), Some(r)) if l == r && r != "+" && r != "#" => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(text: &str) -> Acl {
        Acl::parse(text, Path::new("acl")).expect("parses")
    }

    #[test]
    fn mosquitto_example() {
        let a =
            acl("topic read $SYS/#\n\nuser roger\ntopic foo/bar\n\npattern write $SYS/broker/connection/%c/state\n");
        // Anonymous: only $SYS reads.
        assert!(a.check(Want::Read, None, "c", "$SYS/broker/uptime"));
        assert!(!a.check(Want::Write, None, "c", "$SYS/broker/uptime"));
        assert!(!a.check(Want::Read, None, "c", "foo/bar"));
        // roger: foo/bar read and write, not $SYS.
        assert!(a.check(Want::Read, Some("roger"), "c", "foo/bar"));
        assert!(a.check(Want::Write, Some("roger"), "c", "foo/bar"));
        assert!(!a.check(Want::Read, Some("roger"), "c", "$SYS/broker/uptime"));
        // The pattern: every client, for its own client id.
        assert!(a.check(Want::Write, Some("roger"), "br1", "$SYS/broker/connection/br1/state"));
        assert!(!a.check(Want::Write, Some("roger"), "br1", "$SYS/broker/connection/br2/state"));
        // A user not in the file gets only patterns.
        assert!(!a.check(Want::Read, Some("eve"), "c", "foo/bar"));
    }

    #[test]
    fn deny_wins_and_patterns_substitute() {
        let a = acl("user u\ntopic readwrite a/#\ntopic deny a/secret\npattern read users/%u/#\npattern c/%c\n");
        assert!(a.check(Want::Write, Some("u"), "x", "a/b"));
        assert!(!a.check(Want::Read, Some("u"), "x", "a/secret"));
        assert!(a.check(Want::Read, Some("u"), "x", "users/u/inbox"));
        assert!(!a.check(Want::Write, Some("u"), "x", "users/u/inbox"));
        assert!(!a.check(Want::Read, Some("u"), "x", "users/v/inbox"));
        assert!(a.check(Want::Write, Some("u"), "x", "c/x"));
        // %u patterns skip clients without a user name; ids with wildcards get no patterns.
        assert!(!a.check(Want::Read, None, "x", "users//inbox"));
        assert!(a.check(Want::Write, None, "x", "c/x"));
        assert!(!a.check(Want::Write, None, "+", "c/+"));
    }

    #[test]
    fn subscribe_checks() {
        let a = acl("user u\ntopic read a/+/c\ntopic deny a/x/#\ntopic read b/#\n");
        assert!(a.may_subscribe(Some("u"), "c", "a/b/c"));
        assert!(a.may_subscribe(Some("u"), "c", "a/#"));
        assert!(a.may_subscribe(Some("u"), "c", "#"));
        assert!(!a.may_subscribe(Some("u"), "c", "z/#"));
        assert!(!a.may_subscribe(Some("u"), "c", "a/x/c"));
        assert!(!a.may_subscribe(Some("u"), "c", "a/x/#"));
        assert!(a.may_subscribe(Some("u"), "c", "$share/g/b/1"));
        assert!(!a.may_subscribe(Some("u"), "c", "$SYS/#"));
    }

    #[test]
    fn filter_relations() {
        for (a, b, want) in [
            ("a/+", "a/b", true),
            ("a/#", "b", false),
            ("#", "$SYS/x", false),
            ("$SYS/#", "$SYS/+", true),
            ("a/b", "a/b/c", false),
            ("+/+", "a/#", true),
        ] {
            assert_eq!(overlaps(a, b), want, "{a} ~ {b}");
        }
        for (o, i, want) in [
            ("a/#", "a/b/#", true),
            ("a/+", "a/b", true),
            ("a/+", "a/#", false),
            ("a/b", "a/+", false),
            ("#", "x/y", true),
        ] {
            assert_eq!(covers(o, i), want, "{o} ⊇ {i}");
        }
    }

    #[test]
    fn bad_lines_are_reported() {
        let e = Acl::parse("topic\nuser\nfoo bar\ntopic read a/#/b\ntopic read ok\n", Path::new("f.acl")).unwrap_err();
        let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "f.acl:1: topic line without a topic",
                "f.acl:2: user line without a user name",
                "f.acl:3: unknown keyword 'foo' (expected topic, pattern or user)",
                "f.acl:4: invalid topic 'a/#/b': wildcard '+' or '#' does not occupy a whole level, or '#' is not the last level",
            ]
        );
    }
}
