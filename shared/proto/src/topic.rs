//! Topic names and topic filters (MQTT 3.1.1 §4.7, 5.0 §4.7 and §4.8.2): validation, matching, the
//! `$`-topic rule and shared subscriptions.
//!
//! Valid filters: `a/b`, `a/+/c`, `+`, `#`, `a/#`, `+/+`, `/`, `a//b`, `$SYS/#`, `$share/g/a/#`.
//! Invalid filters: `a/b#`, `a/#/c`, `a+`, `+a/b`, `#/a`, `` (empty), `$share/g` (no filter),
//! `$share//a`, `$share/g+/a`.
//! Valid but not matching: `#` and `+/x` do not match `$SYS/x` ([MQTT-4.7.2-1]); `a/+` does not match
//! `a` or `a/b/c`; `a/#` does match `a` (the parent level).

use crate::error::DecodeError;

/// Why a string is not a valid topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// [MQTT-4.7.3-1] topic names and filters are at least one character long.
    #[error("topic is empty")]
    Empty,
    /// [MQTT-4.7.3-3] at most 65,535 bytes.
    #[error("topic is longer than 65535 bytes")]
    TooLong,
    /// [MQTT-1.5.4-2] U+0000 is not allowed.
    #[error("topic contains the null character U+0000")]
    NullCharacter,
    /// §1.5.4: control characters (U+0001..U+001F, U+007F..U+009F), refused as Mosquitto refuses them.
    #[error("topic contains a control character")]
    ControlCharacter,
    /// [MQTT-3.3.2-2] topic names carry no wildcards.
    #[error("topic name contains '+' or '#'")]
    WildcardInName,
    /// [MQTT-4.7.1-1, -2] a wildcard that does not occupy a whole level, or `#` that is not last.
    #[error("wildcard '+' or '#' does not occupy a whole level, or '#' is not the last level")]
    MisplacedWildcard,
    /// [MQTT-4.8.2-1, -2] a `$share/` filter without a valid share name and filter.
    #[error("shared subscription must be $share/<name>/<filter> with a name without '/', '+' or '#'")]
    InvalidShare,
}

/// Checks a topic name as it arrives in PUBLISH or a will: no wildcard characters.
/// (UTF-8 and U+0000 are checked when the string is read; emptiness depends on topic aliases.)
pub(crate) fn validate_topic_name(topic: &str) -> Result<(), DecodeError> {
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(DecodeError::TopicNameWildcard);
    }
    Ok(())
}

/// Checks a topic name that does not come from the wire (a command-line argument, a config value).
pub fn check_topic_name(topic: &str) -> Result<(), TopicError> {
    check_common(topic)?;
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    if s.as_bytes().contains(&0) {
        return Err(TopicError::NullCharacter);
    }
    if s.chars().any(char::is_control) {
        return Err(TopicError::ControlCharacter);
    }
    Ok(())
}

/// Checks a topic filter, including the `$share/<name>/<filter>` form.
pub fn check_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    match split_shared(filter) {
        Some(Ok((_, inner))) => check_wildcards(inner),
        Some(Err(e)) => Err(e),
        None => check_wildcards(filter),
    }
}

fn check_wildcards(filter: &str) -> Result<(), TopicError> {
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let has_plus = level.contains('+');
        let has_hash = level.contains('#');
        if (has_plus || has_hash) && level.len() != 1 {
            return Err(TopicError::MisplacedWildcard);
        }
        if has_hash && levels.peek().is_some() {
            return Err(TopicError::MisplacedWildcard);
        }
    }
    Ok(())
}

/// Splits `$share/<name>/<filter>` into the share name and the filter. `None` when the filter is not
/// shared; an error when it starts with `$share/` but is not a valid shared filter.
pub fn split_shared(filter: &str) -> Option<Result<(&str, &str), TopicError>> {
    let rest = filter.strip_prefix("$share/")?;
    let Some((name, inner)) = rest.split_once('/') else {
        return Some(Err(TopicError::InvalidShare));
    };
    if name.is_empty() || name.contains(['+', '#']) || inner.is_empty() {
        return Some(Err(TopicError::InvalidShare));
    }
    Some(Ok((name, inner)))
}

/// Whether `topic` (a name or a filter) has more than `max` levels. Stops counting at the limit, so a
/// topic of 65,535 levels costs no more than one at the limit.
pub fn exceeds_levels(topic: &str, max: usize) -> bool {
    max == 0 || memchr::memchr_iter(b'/', topic.as_bytes()).nth(max - 1).is_some()
}

/// Whether a filter contains `+` or `#`.
pub fn has_wildcards(filter: &str) -> bool {
    filter.bytes().any(|b| b == b'+' || b == b'#')
}

/// Whether `filter` matches `topic`. Both must be valid; a shared filter must be split first.
pub fn matches(filter: &str, topic: &str) -> bool {
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_validity() {
        for ok in ["a/b", "a/+/c", "+", "#", "a/#", "+/+", "/", "a//b", "$SYS/#", "$share/g/a/#", "$share/g/#"] {
            assert_eq!(check_topic_filter(ok), Ok(()), "{ok}");
        }
        for (bad, err) in [
            ("a/b#", TopicError::MisplacedWildcard),
            ("a/#/c", TopicError::MisplacedWildcard),
            ("a+", TopicError::MisplacedWildcard),
            ("+a/b", TopicError::MisplacedWildcard),
            ("#/a", TopicError::MisplacedWildcard),
            ("", TopicError::Empty),
            ("$share/g", TopicError::InvalidShare),
            ("$share//a", TopicError::InvalidShare),
            ("$share/g+/a", TopicError::InvalidShare),
            ("$share/g/", TopicError::InvalidShare),
            ("a\0b", TopicError::NullCharacter),
            ("a\nb", TopicError::ControlCharacter),
            ("a/\u{1b}[2J", TopicError::ControlCharacter),
            ("a\u{85}", TopicError::ControlCharacter),
        ] {
            assert_eq!(check_topic_filter(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn name_validity() {
        assert_eq!(check_topic_name("a/b"), Ok(()));
        assert_eq!(check_topic_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(check_topic_name("#"), Err(TopicError::WildcardInName));
        assert_eq!(check_topic_name(""), Err(TopicError::Empty));
        assert_eq!(check_topic_name(&"x".repeat(65_536)), Err(TopicError::TooLong));
    }

    #[test]
    fn matching_table() {
        // The examples of MQTT 3.1.1 §4.7.1 and §4.7.2.
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
            ("sport/#", "sport", true),
            ("#", "sport/tennis", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("#", "$SYS/broker", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
            ("a//b", "a//b", true),
            ("a/+/b", "a//b", true),
        ];
        for (f, t, want) in cases {
            assert_eq!(matches(f, t), want, "{f} vs {t}");
        }
    }

    #[test]
    fn level_limit() {
        assert!(!exceeds_levels("a", 1));
        assert!(exceeds_levels("a/b", 1));
        assert!(!exceeds_levels("a/b", 2));
        assert!(!exceeds_levels(&"/".repeat(200), 201));
        assert!(exceeds_levels(&"/".repeat(201), 201));
        assert!(exceeds_levels(&"/".repeat(65_535), 201));
    }

    #[test]
    fn shared_split() {
        assert_eq!(split_shared("$share/g/a/b"), Some(Ok(("g", "a/b"))));
        assert_eq!(split_shared("a/b"), None);
        assert_eq!(split_shared("$share/g"), Some(Err(TopicError::InvalidShare)));
    }
}
