//! Parsing of the `-F` format string.
//!
//! mosquitto_sub reads the string twice: once at startup to validate it (`check_format` in
//! `client_shared.c`), and once per message while printing (`formatted_print`). The two scans
//! are not the same code (e.g. the validator accepts `%-0005t` by counting the `0` as a width
//! digit, while the printer takes it as the zero-padding flag), so [`Format::parse`] runs a
//! faithful copy of each: the validator decides acceptance and the error text, the printer's scan
//! builds the item list that is replayed for every message.

use crate::error::FormatError;

/// A message field selected by `%<c>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `%A` topic alias.
    TopicAlias,
    /// `%C` content type.
    ContentType,
    /// `%D` correlation data.
    CorrelationData,
    /// `%E` message expiry interval.
    ExpiryInterval,
    /// `%F` payload format indicator.
    PayloadFormat,
    /// `%I` ISO-8601 local time.
    IsoTime,
    /// `%j` JSON with the payload as an escaped string.
    Json,
    /// `%J` JSON with the payload embedded as JSON.
    JsonRaw,
    /// `%l` payload length.
    PayloadLen,
    /// `%m` message id.
    Mid,
    /// `%P` user properties.
    UserProperties,
    /// `%p` payload.
    Payload,
    /// `%q` QoS.
    Qos,
    /// `%R` response topic.
    ResponseTopic,
    /// `%r` retain flag.
    Retain,
    /// `%S` subscription identifier.
    SubscriptionId,
    /// `%t` topic.
    Topic,
    /// `%U` Unix time with nanoseconds.
    UnixTime,
    /// `%x` payload as lower-case hex.
    HexLower,
    /// `%X` payload as upper-case hex.
    HexUpper,
}

impl Field {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'A' => Self::TopicAlias,
            b'C' => Self::ContentType,
            b'D' => Self::CorrelationData,
            b'E' => Self::ExpiryInterval,
            b'F' => Self::PayloadFormat,
            b'I' => Self::IsoTime,
            b'j' => Self::Json,
            b'J' => Self::JsonRaw,
            b'l' => Self::PayloadLen,
            b'm' => Self::Mid,
            b'P' => Self::UserProperties,
            b'p' => Self::Payload,
            b'q' => Self::Qos,
            b'R' => Self::ResponseTopic,
            b'r' => Self::Retain,
            b'S' => Self::SubscriptionId,
            b't' => Self::Topic,
            b'U' => Self::UnixTime,
            b'x' => Self::HexLower,
            b'X' => Self::HexUpper,
            _ => return None,
        })
    }

    /// Whether printing this field needs the current time.
    fn uses_time(self) -> bool {
        matches!(self, Self::IsoTime | Self::UnixTime | Self::Json | Self::JsonRaw)
    }
}

/// `%[-][0][width][.precision]<c>` as the printer parsed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conv {
    pub field: Field,
    /// `-` flag: left-align.
    pub left: bool,
    /// `0` flag: pad with `0` instead of a space (only some fields honour it).
    pub zero: bool,
    /// Field width; 0 when absent. Kept as C `int` arithmetic (wrapping) for fidelity with
    /// absurdly long digit strings.
    pub width: i32,
    /// Precision; -1 when absent.
    pub precision: i32,
}

/// One step of the compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// Bytes copied as they are (`%%`, `@@` and `\` escapes are folded in here).
    Literal(Vec<u8>),
    /// A `%` conversion.
    Conv(Conv),
    /// `@<c>`: strftime `%<c>` in local time.
    Strftime(u8),
    /// `@N`: nanoseconds within the second, 9 digits.
    Nanos,
}

/// A validated, compiled `-F` format string.
///
/// Parse once at startup with [`Format::parse`], then write each message with
/// [`Format::write`](crate::Format::write) or through a [`Printer`](crate::Printer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub(crate) items: Vec<Item>,
    pub(crate) uses_time: bool,
}

impl Format {
    /// Validates and compiles a format string exactly as mosquitto_sub 2.0 does for `-F`.
    ///
    /// # Errors
    /// The first problem found scanning left to right, with mosquitto_sub's message (see
    /// [`FormatError`]).
    pub fn parse(spec: &str) -> Result<Self, FormatError> {
        Self::parse_bytes(spec.as_bytes())
    }

    /// [`Format::parse`] for a format given as raw bytes (on Unix an argument need not be
    /// UTF-8, e.g. `-F $'@\xff'`; use `OsStrExt::as_bytes`).
    ///
    /// # Errors
    /// As [`Format::parse`].
    pub fn parse_bytes(spec: &[u8]) -> Result<Self, FormatError> {
        // The C code sees a NUL-terminated argv string, so nothing after a NUL exists for it.
        let bytes = spec.iter().position(|&b| b == 0).map_or(spec, |n| &spec[..n]);
        check(bytes)?;
        Ok(compile(bytes))
    }

    /// Whether any item needs the current time (`%I %U %j %J @…`), so callers can skip reading
    /// the clock.
    #[must_use]
    pub fn uses_time(&self) -> bool {
        self.uses_time
    }
}

/// Faithful copy of mosquitto's `check_format`.
fn check(s: &[u8]) -> Result<(), FormatError> {
    let len = s.len();
    // The byte at `len` is the C string's NUL terminator.
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let mut i = 0;
    while i < len {
        match s[i] {
            b'%' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteSpecifier);
                }
                if at(i + 1) == b'0' || at(i + 1) == b'-' {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteSpecifier);
                    }
                }
                while at(i + 1).is_ascii_digit() {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteSpecifier);
                    }
                }
                if at(i + 1) == b'.' {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteSpecifier);
                    }
                    while at(i + 1).is_ascii_digit() {
                        i += 1;
                        if i == len - 1 {
                            return Err(FormatError::IncompleteSpecifier);
                        }
                    }
                }
                let c = at(i + 1);
                if c != b'%' && Field::from_byte(c).is_none() {
                    return Err(FormatError::InvalidSpecifier(c));
                }
                i += 1;
            }
            b'@' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteSpecifier);
                }
                i += 1;
            }
            b'\\' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteEscape);
                }
                if escape(at(i + 1)).is_none() {
                    return Err(FormatError::InvalidEscape(at(i + 1)));
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn escape(b: u8) -> Option<u8> {
    Some(match b {
        b'\\' => b'\\',
        b'0' => 0,
        b'a' => 0x07,
        b'e' => 0x1b,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

fn digit(b: u8) -> i32 {
    i32::from(b - b'0')
}

/// Faithful copy of the scan in mosquitto's `formatted_print`, producing items instead of
/// output. Only called on strings that passed [`check`].
fn compile(s: &[u8]) -> Format {
    let len = s.len();
    let mut items: Vec<Item> = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut uses_time = false;
    let flush = |lit: &mut Vec<u8>, items: &mut Vec<Item>| {
        if !lit.is_empty() {
            items.push(Item::Literal(std::mem::take(lit)));
        }
    };
    let mut i = 0;
    while i < len {
        match s[i] {
            b'%' => {
                if i < len - 1 {
                    i += 1;
                    let mut conv_left = false;
                    let mut zero = false;
                    let mut width: i32 = 0;
                    let mut precision: i32 = -1;
                    if s[i] == b'-' {
                        conv_left = true;
                        if i < len - 1 {
                            i += 1;
                        }
                    }
                    if s[i] == b'0' {
                        zero = true;
                        if i < len - 1 {
                            i += 1;
                        }
                    }
                    while i < len - 1 && s[i].is_ascii_digit() {
                        width = width.wrapping_mul(10).wrapping_add(digit(s[i]));
                        i += 1;
                    }
                    if s[i] == b'.' && i < len - 1 {
                        i += 1;
                        precision = 0;
                        while i < len - 1 && s[i].is_ascii_digit() {
                            precision = precision.wrapping_mul(10).wrapping_add(digit(s[i]));
                            i += 1;
                        }
                    }
                    if s[i] == b'%' {
                        lit.push(b'%');
                    } else if let Some(field) = Field::from_byte(s[i]) {
                        flush(&mut lit, &mut items);
                        uses_time |= field.uses_time();
                        items.push(Item::Conv(Conv { field, left: conv_left, zero, width, precision }));
                    }
                }
            }
            b'@' => {
                if i < len - 1 {
                    i += 1;
                    match s[i] {
                        b'@' => lit.push(b'@'),
                        b'N' => {
                            flush(&mut lit, &mut items);
                            uses_time = true;
                            items.push(Item::Nanos);
                        }
                        c => {
                            flush(&mut lit, &mut items);
                            uses_time = true;
                            items.push(Item::Strftime(c));
                        }
                    }
                }
            }
            b'\\' => {
                if i < len - 1 {
                    i += 1;
                    if let Some(b) = escape(s[i]) {
                        lit.push(b);
                    }
                }
            }
            c => lit.push(c),
        }
        i += 1;
    }
    flush(&mut lit, &mut items);
    Format { items, uses_time }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        Format::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn errors_match_mosquitto_sub() {
        // Each expectation was observed from mosquitto_sub 2.0.11 (see tests/data/errors).
        for s in ["%", "%-", "%0", "%5", "%5.", "%.5", "%-5.3", "@", "ab%", "%%%", "%.", "%-."] {
            assert_eq!(err(s), "Error: Incomplete format specifier.", "{s:?}");
        }
        assert_eq!(err("\\"), "Error: Incomplete escape specifier.");
        assert_eq!(err("\\q"), "Error: Invalid escape specifier 'q'.");
        assert_eq!(err("%e"), "Error: Invalid format specifier 'e'.");
        assert_eq!(err("%5.5.t"), "Error: Invalid format specifier '.'.");
        assert_eq!(err("%0-t"), "Error: Invalid format specifier '-'.");
        assert_eq!(err("%--t"), "Error: Invalid format specifier '-'.");
        assert_eq!(Format::parse("%é").unwrap_err().to_bytes(), b"Error: Invalid format specifier '\xc3'.");
        assert_eq!(Format::parse("\\é").unwrap_err().to_bytes(), b"Error: Invalid escape specifier '\xc3'.");
        assert_eq!(err("%é"), "Error: Invalid format specifier '\u{fffd}'.");
    }

    #[test]
    fn accepted_forms() {
        for s in ["", "%-0t", "%00t", "%-0005t", "%.t", "%5.t", "%%", "@@", "@x", "\\e\\0", "%-%"] {
            assert!(Format::parse(s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn first_error_wins() {
        // mosquitto scans left to right and stops at the first problem.
        assert_eq!(err("\\q%e"), "Error: Invalid escape specifier 'q'.");
        assert_eq!(err("%e\\q"), "Error: Invalid format specifier 'e'.");
    }

    #[test]
    fn compile_flags_like_the_printer() {
        let f = Format::parse("%-0005t").unwrap();
        assert_eq!(
            f.items,
            vec![Item::Conv(Conv { field: Field::Topic, left: true, zero: true, width: 5, precision: -1 })]
        );
        let f = Format::parse("a%%b@@c\\n%.3t").unwrap();
        assert_eq!(f.items[0], Item::Literal(b"a%b@c\n".to_vec()));
        assert_eq!(
            f.items[1],
            Item::Conv(Conv { field: Field::Topic, left: false, zero: false, width: 0, precision: 3 })
        );
        assert!(!f.uses_time());
        assert!(Format::parse("@N").unwrap().uses_time());
        assert!(Format::parse("%j").unwrap().uses_time());
    }

    #[test]
    fn nul_ends_the_string() {
        let f = Format::parse("ab\0%e").unwrap();
        assert_eq!(f.items, vec![Item::Literal(b"ab".to_vec())]);
    }
}
