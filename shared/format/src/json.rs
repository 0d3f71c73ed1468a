//! `%j` / `%J`: the JSON object mosquitto_sub builds with cJSON, reproduced byte for byte.
//!
//! mosquitto_sub builds a cJSON tree and prints it with `cJSON_PrintUnformatted` (or
//! `cJSON_Print` with `--pretty`). For `%J` it first parses the payload with
//! `cJSON_ParseWithOpts(payload, &end, true)` and embeds the *re-printed* tree, so the output is
//! normalised by cJSON (whitespace dropped, numbers re-rendered with `%1.15g`/`%1.17g`, strings
//! re-escaped, `\uXXXX` decoded to UTF-8). This module copies cJSON 1.7's parser and printer
//! rules, including its quirks: any byte <= 0x20 counts as whitespace, a leading UTF-8 BOM is
//! skipped, invalid `\u` hex digits decode to U+0000 (which then ends the C string), and nesting
//! is limited to 1000 levels. (Upstream cJSON 1.7.15 cuts numbers at 63 characters; the build
//! mosquitto_sub 2.0.11 runs with here, Debian's 1.7.15-1+deb12u4, does not, and neither do we.)

use std::io::{self, Write};

use crate::message::{Message, Property};
use crate::time::LocalTime;

/// cJSON's `CJSON_NESTING_LIMIT`.
const NESTING_LIMIT: usize = 1000;

/// A parsed JSON value as cJSON holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    False,
    True,
    Number(f64),
    /// Bytes as decoded; printing stops at the first NUL like C strings do.
    String(Vec<u8>),
    Array(Vec<Value>),
    /// Members in input order; duplicate keys are kept.
    Object(Vec<(Vec<u8>, Value)>),
}

/// The bytes a C string function sees: everything up to the first NUL.
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Parses a payload as `%J` does. `None` means mosquitto_sub would report
/// "Message payload is not valid JSON".
pub(crate) fn parse_payload(payload: &[u8]) -> Option<Value> {
    // cJSON gets the payload as a C string; libmosquitto NUL-terminates it. The parse must end
    // exactly at payload + payloadlen, which fails when the payload has an embedded NUL.
    let text = cstr(payload);
    let mut p = Parser { text, len: text.len() + 1, off: 0, depth: 0 };
    // skip_utf8_bom: needs index 4 to be readable, i.e. at least 4 bytes of text.
    if p.can_access(4) && text.starts_with(b"\xEF\xBB\xBF") {
        p.off += 3;
    }
    p.skip_ws();
    let value = p.parse_value()?;
    p.skip_ws();
    if p.off >= p.len || p.at(0) != 0 {
        return None;
    }
    (p.off == payload.len()).then_some(value)
}

struct Parser<'a> {
    text: &'a [u8],
    /// cJSON's buffer length: the text plus its NUL terminator.
    len: usize,
    off: usize,
    depth: usize,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.text.get(self.off + i).copied().unwrap_or(0)
    }

    fn can_access(&self, i: usize) -> bool {
        self.off + i < self.len
    }

    fn can_read(&self, n: usize) -> bool {
        self.off + n <= self.len
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.can_read(lit.len()) && (0..lit.len()).all(|i| self.at(i) == lit[i])
    }

    fn skip_ws(&mut self) {
        if !self.can_access(0) {
            return;
        }
        while self.can_access(0) && self.at(0) <= 32 {
            self.off += 1;
        }
        if self.off == self.len {
            self.off -= 1;
        }
    }

    fn parse_value(&mut self) -> Option<Value> {
        if self.starts_with(b"null") {
            self.off += 4;
            return Some(Value::Null);
        }
        if self.starts_with(b"false") {
            self.off += 5;
            return Some(Value::False);
        }
        if self.starts_with(b"true") {
            self.off += 4;
            return Some(Value::True);
        }
        if !self.can_access(0) {
            return None;
        }
        match self.at(0) {
            b'"' => self.parse_string().map(Value::String),
            b'-' | b'0'..=b'9' => self.parse_number(),
            b'[' => self.parse_array(),
            b'{' => self.parse_object(),
            _ => None,
        }
    }

    fn parse_number(&mut self) -> Option<Value> {
        // cJSON copies the run of characters from this set, then lets strtod take the longest
        // valid prefix.
        let mut n = 0;
        while self.can_access(n) {
            match self.at(n) {
                b'0'..=b'9' | b'+' | b'-' | b'e' | b'E' | b'.' => n += 1,
                _ => break,
            }
        }
        let start = self.off;
        let (value, used) = strtod(&self.text[start..start + n])?;
        self.off += used;
        Some(Value::Number(value))
    }

    /// Returns the decoded bytes; leaves `off` after the closing quote.
    fn parse_string(&mut self) -> Option<Vec<u8>> {
        if self.at(0) != b'"' {
            return None;
        }
        let start = self.off + 1;
        let mut end = start;
        let byte = |i: usize| self.text.get(i).copied().unwrap_or(0);
        while end < self.len && byte(end) != b'"' {
            if byte(end) == b'\\' {
                if end + 1 >= self.len {
                    return None;
                }
                end += 1;
            }
            end += 1;
        }
        if end >= self.len || byte(end) != b'"' {
            return None;
        }
        let mut out = Vec::with_capacity(end - start);
        let mut p = start;
        while p < end {
            if byte(p) != b'\\' {
                out.push(byte(p));
                p += 1;
                continue;
            }
            let mut seq = 2;
            match byte(p + 1) {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                c @ (b'"' | b'\\' | b'/') => out.push(c),
                b'u' => seq = utf16_literal(self.text, p, end, &mut out)?,
                _ => return None,
            }
            p += seq;
        }
        self.off = end + 1;
        Some(out)
    }

    fn parse_array(&mut self) -> Option<Value> {
        if self.depth >= NESTING_LIMIT {
            return None;
        }
        self.depth += 1;
        let mut items = Vec::new();
        self.off += 1;
        self.skip_ws();
        if self.can_access(0) && self.at(0) == b']' {
            self.depth -= 1;
            self.off += 1;
            return Some(Value::Array(items));
        }
        if !self.can_access(0) {
            return None;
        }
        self.off -= 1;
        loop {
            self.off += 1;
            self.skip_ws();
            items.push(self.parse_value()?);
            self.skip_ws();
            if !(self.can_access(0) && self.at(0) == b',') {
                break;
            }
        }
        if !self.can_access(0) || self.at(0) != b']' {
            return None;
        }
        self.depth -= 1;
        self.off += 1;
        Some(Value::Array(items))
    }

    fn parse_object(&mut self) -> Option<Value> {
        if self.depth >= NESTING_LIMIT {
            return None;
        }
        self.depth += 1;
        let mut members = Vec::new();
        self.off += 1;
        self.skip_ws();
        if self.can_access(0) && self.at(0) == b'}' {
            self.depth -= 1;
            self.off += 1;
            return Some(Value::Object(members));
        }
        if !self.can_access(0) {
            return None;
        }
        self.off -= 1;
        loop {
            self.off += 1;
            self.skip_ws();
            if !self.can_access(0) {
                return None;
            }
            let key = self.parse_string()?;
            self.skip_ws();
            if !self.can_access(0) || self.at(0) != b':' {
                return None;
            }
            self.off += 1;
            self.skip_ws();
            let value = self.parse_value()?;
            members.push((key, value));
            self.skip_ws();
            if !(self.can_access(0) && self.at(0) == b',') {
                break;
            }
        }
        if !self.can_access(0) || self.at(0) != b'}' {
            return None;
        }
        self.depth -= 1;
        self.off += 1;
        Some(Value::Object(members))
    }
}

/// cJSON's `parse_hex4`: any invalid digit makes the whole value 0 (not an error).
fn parse_hex4(text: &[u8], at: usize) -> u32 {
    let mut h = 0u32;
    for i in 0..4 {
        let d = match text.get(at + i).copied().unwrap_or(0) {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'A'..=b'F' => c - b'A' + 10,
            c @ b'a'..=b'f' => c - b'a' + 10,
            _ => return 0,
        };
        h = (h << 4) | u32::from(d);
    }
    h
}

/// cJSON's `utf16_literal_to_utf8`: decodes `\uXXXX` (or a surrogate pair) at `p`, appends
/// UTF-8, and returns the number of input bytes used; `None` on a malformed sequence.
fn utf16_literal(text: &[u8], p: usize, end: usize, out: &mut Vec<u8>) -> Option<usize> {
    if end - p < 6 {
        return None;
    }
    let first = parse_hex4(text, p + 2);
    if (0xDC00..=0xDFFF).contains(&first) {
        return None;
    }
    let (codepoint, used) = if (0xD800..=0xDBFF).contains(&first) {
        let second_at = p + 6;
        if end - second_at < 6 {
            return None;
        }
        if text.get(second_at) != Some(&b'\\') || text.get(second_at + 1) != Some(&b'u') {
            return None;
        }
        let second = parse_hex4(text, second_at + 2);
        if !(0xDC00..=0xDFFF).contains(&second) {
            return None;
        }
        (0x10000 + (((first & 0x3FF) << 10) | (second & 0x3FF)), 12)
    } else {
        (first, 6)
    };
    // The code point is at most 0x10FFFF here; surrogates were rejected above, so `char`
    // conversion cannot fail, but a NUL code point must stay a NUL byte.
    let c = char::from_u32(codepoint)?;
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    Some(used)
}

/// glibc `strtod` restricted to the characters cJSON hands it (`0-9 + - e E .`): returns the
/// value and how many bytes form the longest valid prefix, or `None` if no conversion.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let negative = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = &s[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if s.get(i) == Some(&b'.') {
        let f_start = i + 1;
        let mut j = f_start;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        frac_digits = &s[f_start..j];
        if !int_digits.is_empty() || !frac_digits.is_empty() {
            i = j;
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exp: &[u8] = b"0";
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let d_start = j;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > d_start {
            exp = &s[i + 1..j];
            i = j;
        }
    }
    // Rebuild a canonical literal for Rust's correctly rounded parser (glibc's strtod is
    // correctly rounded too, so both give the same double).
    let mut lit = String::with_capacity(s.len() + 8);
    if negative {
        lit.push('-');
    }
    lit.push_str(if int_digits.is_empty() { "0" } else { std::str::from_utf8(int_digits).ok()? });
    lit.push('.');
    lit.push_str(if frac_digits.is_empty() { "0" } else { std::str::from_utf8(frac_digits).ok()? });
    lit.push('e');
    lit.push_str(std::str::from_utf8(exp).ok()?);
    let value = lit.parse::<f64>().ok()?;
    Some((value, i))
}

/// C's `%1.<precision>g`.
fn format_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = format!("{:.*e}", precision - 1, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i32 = exp.parse().unwrap_or(0);
    let p = i32::try_from(precision).unwrap_or(17);
    if x < -4 || x >= p {
        let mantissa = strip_zeros(mantissa);
        let sign = if x < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", x.unsigned_abs())
    } else {
        let decimals = usize::try_from(p - 1 - x).unwrap_or(0);
        strip_zeros(&format!("{d:.decimals$}")).to_owned()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// cJSON's `print_number`.
fn number_text(d: f64) -> String {
    if !d.is_finite() {
        return "null".to_owned();
    }
    let short = format_g(d, 15);
    // cJSON keeps 15 digits when they read back "close enough" (compare_double).
    let back: f64 = short.parse().unwrap_or(f64::NAN);
    let max = back.abs().max(d.abs());
    if (back - d).abs() <= max * f64::EPSILON { short } else { format_g(d, 17) }
}

/// Streams cJSON's printed form (compact or `cJSON_Print`'s tab-indented form).
struct Emitter<'w, W: Write + ?Sized> {
    out: &'w mut W,
    pretty: bool,
    depth: usize,
}

impl<W: Write + ?Sized> Emitter<'_, W> {
    fn tabs(&mut self, n: usize) -> io::Result<()> {
        for _ in 0..n {
            self.out.write_all(b"\t")?;
        }
        Ok(())
    }

    fn open_object(&mut self) -> io::Result<()> {
        self.depth += 1;
        self.out.write_all(if self.pretty { b"{\n" } else { b"{" })
    }

    /// Starts member `index` of the current object: separator, indentation, key and colon.
    fn key(&mut self, index: usize, key: &[u8]) -> io::Result<()> {
        if index > 0 {
            self.out.write_all(if self.pretty { b",\n" } else { b"," })?;
        }
        if self.pretty {
            self.tabs(self.depth)?;
        }
        self.string(key)?;
        self.out.write_all(if self.pretty { b":\t" } else { b":" })
    }

    fn close_object(&mut self, members: usize) -> io::Result<()> {
        if self.pretty {
            if members > 0 {
                self.out.write_all(b"\n")?;
            }
            self.tabs(self.depth - 1)?;
        }
        self.depth -= 1;
        self.out.write_all(b"}")
    }

    /// cJSON's `print_string_ptr` on a C string.
    fn string(&mut self, s: &[u8]) -> io::Result<()> {
        let s = cstr(s);
        self.out.write_all(b"\"")?;
        let mut start = 0;
        for (i, &b) in s.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                0x0c => b"\\f",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=31 => b"",
                _ => continue,
            };
            self.out.write_all(&s[start..i])?;
            if esc.is_empty() {
                write!(self.out, "\\u{b:04x}")?;
            } else {
                self.out.write_all(esc)?;
            }
            start = i + 1;
        }
        self.out.write_all(&s[start..])?;
        self.out.write_all(b"\"")
    }

    fn number(&mut self, d: f64) -> io::Result<()> {
        self.out.write_all(number_text(d).as_bytes())
    }

    /// An integer cJSON would print with `%1.15g`: always exact for these small values.
    fn int(&mut self, v: i64) -> io::Result<()> {
        write!(self.out, "{v}")
    }

    fn value(&mut self, v: &Value) -> io::Result<()> {
        match v {
            Value::Null => self.out.write_all(b"null"),
            Value::False => self.out.write_all(b"false"),
            Value::True => self.out.write_all(b"true"),
            Value::Number(d) => self.number(*d),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.out.write_all(b"[")?;
                self.depth += 1;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(if self.pretty { b", " } else { b"," })?;
                    }
                    self.value(item)?;
                }
                self.depth -= 1;
                self.out.write_all(b"]")
            }
            Value::Object(members) => {
                self.open_object()?;
                for (i, (k, v)) in members.iter().enumerate() {
                    self.key(i, k)?;
                    self.value(v)?;
                }
                self.close_object(members.len())
            }
        }
    }
}

/// How the payload goes into the object.
pub(crate) enum Payload<'v> {
    /// `%j`: the payload as a JSON string (C string: cut at the first NUL); `null` if empty.
    Escaped,
    /// `%J`: the already parsed payload; `None` for an empty payload, printed as `null`.
    Parsed(Option<&'v Value>),
}

/// Writes the `%j`/`%J` object.
///
/// The `tst` member uses the corrected timestamp form of mosquitto 2.0.13+
/// (`2026-11-25T19:35:56.026730+0000`), not 2.0.11's `…026730Z+0000`.
pub(crate) fn write_message<W: Write + ?Sized>(
    out: &mut W,
    msg: &Message<'_>,
    time: &LocalTime<'_>,
    payload: &Payload<'_>,
    pretty: bool,
) -> io::Result<()> {
    let mut e = Emitter { out, pretty, depth: 0 };
    let mut tst = crate::time::StrfBuf::new();
    time.write_date_time(&mut tst)?;
    write!(tst, ".{:06}", time.nanos / 1000)?;
    time.strftime(b'z', &mut tst)?;

    e.open_object()?;
    let mut n = 0;
    e.key(n, b"tst")?;
    e.string(tst.result().unwrap_or_default())?;
    n += 1;
    e.key(n, b"topic")?;
    e.string(msg.topic.as_bytes())?;
    n += 1;
    e.key(n, b"qos")?;
    e.int(msg.qos.into())?;
    n += 1;
    e.key(n, b"retain")?;
    e.int(msg.retain.into())?;
    n += 1;
    e.key(n, b"payloadlen")?;
    e.int(i64::try_from(msg.payload.len()).unwrap_or(i64::MAX))?;
    n += 1;
    if msg.qos > 0 {
        e.key(n, b"mid")?;
        e.int(msg.mid.into())?;
        n += 1;
    }
    if !msg.properties.is_empty() {
        e.key(n, b"properties")?;
        n += 1;
        write_properties(&mut e, msg)?;
    }
    e.key(n, b"payload")?;
    n += 1;
    match payload {
        Payload::Escaped if msg.payload.is_empty() => e.out.write_all(b"null")?,
        Payload::Escaped => e.string(msg.payload)?,
        Payload::Parsed(None) => e.out.write_all(b"null")?,
        Payload::Parsed(Some(v)) => e.value(v)?,
    }
    e.close_object(n)
}

fn write_properties<W: Write + ?Sized>(e: &mut Emitter<'_, W>, msg: &Message<'_>) -> io::Result<()> {
    e.open_object()?;
    let mut n = 0;
    // All user properties go into one nested object created where the first one appears; the
    // object stays open while later members are written, so collect them first.
    let mut user_written = false;
    for prop in msg.properties {
        match prop {
            Property::PayloadFormatIndicator(v) => {
                e.key(n, b"payload-format-indicator")?;
                e.int((*v).into())?;
            }
            Property::MessageExpiryInterval(v) => {
                e.key(n, b"message-expiry-interval")?;
                e.int((*v).into())?;
            }
            Property::ContentType(v) => {
                e.key(n, b"content-type")?;
                e.string(v.as_bytes())?;
            }
            Property::ResponseTopic(v) => {
                e.key(n, b"response-topic")?;
                e.string(v.as_bytes())?;
            }
            Property::CorrelationData(v) => {
                e.key(n, b"correlation-data")?;
                e.string(v)?;
            }
            Property::SubscriptionIdentifier(v) => {
                e.key(n, b"subscription-identifier")?;
                e.int((*v).into())?;
            }
            Property::TopicAlias(v) => {
                // The alias itself. (Some mosquitto 2.0 sources read this with the wrong property
                // id and print a stale number; a mosquitto broker never sends aliases to
                // subscribers, so that output cannot be observed and is not copied.)
                e.key(n, b"topic-alias")?;
                e.int((*v).into())?;
            }
            Property::UserProperty(..) => {
                if user_written {
                    continue;
                }
                user_written = true;
                e.key(n, b"user-properties")?;
                e.open_object()?;
                let mut m = 0;
                for (k, v) in msg.properties.user_properties() {
                    e.key(m, k.as_bytes())?;
                    e.string(v.as_bytes())?;
                    m += 1;
                }
                e.close_object(m)?;
            }
        }
        n += 1;
    }
    e.close_object(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reprint(payload: &[u8], pretty: bool) -> Option<String> {
        let v = parse_payload(payload)?;
        let mut out = Vec::new();
        Emitter { out: &mut out, pretty, depth: 0 }.value(&v).unwrap();
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn numbers_like_cjson() {
        // Observed from mosquitto_sub 2.0.11 + cJSON 1.7.15 (`%J`).
        assert_eq!(
            reprint(b"[1.0,-0.0,1e400,0.1,123456789012345678,1.5e-7,-.5,1.e5,100000000000000000000]", false).unwrap(),
            "[1,-0,null,0.1,1.2345678901234568e+17,1.5e-07,-0.5,100000,1e+20]"
        );
        assert_eq!(reprint(b"-0", false).unwrap(), "-0");
        // compare_double accepts a one-ulp difference, so 15 digits are kept here.
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(number_text(2.0_f64.sqrt()), "1.4142135623730951");
        assert_eq!(number_text(1e15), "1e+15");
        assert_eq!(number_text(123_456_789_012_345.0), "123456789012345");
        assert_eq!(number_text(0.0001), "0.0001");
        assert_eq!(number_text(0.00001), "1e-05");
        assert_eq!(number_text(4_294_967_295.0), "4294967295");
        assert_eq!(number_text(-2.5), "-2.5");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1e+"), Some((1.0, 1)));
        assert_eq!(strtod(b"1.5e-3x"), Some((0.0015, 6)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"-."), None);
        assert_eq!(strtod(b"1-2"), Some((1.0, 1)));
        assert_eq!(strtod(b"00012"), Some((12.0, 5)));
    }

    #[test]
    fn validity_rules() {
        for ok in
            [&b" true "[..], b"\xef\xbb\xbf1", b"\x01{}\x1f", b"01", b"[1 , 2]", b"\"\\uzzzz\"", b"{\"a\":{\"b\":[]}}"]
        {
            assert!(parse_payload(ok).is_some(), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b" ",
            b"nul",
            b"nullx",
            b"{}\0",
            b"{} {}",
            b"[1,]",
            b"{\"a\"}",
            b"{a:1}",
            b"\"\\x\"",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"abc",
            b"1e",
            b".5",
            b"+1",
            b"\xef\xbb\xbf",
        ] {
            assert!(parse_payload(bad).is_none(), "{bad:?}");
        }
        // No length limit on numbers (observed with mosquitto_sub 2.0.11 on Debian 12).
        assert!(parse_payload(&[b'1'; 400]).is_some());
        let long = format!("{}1", "0".repeat(63));
        assert_eq!(parse_payload(long.as_bytes()), Some(Value::Number(1.0)));
    }

    #[test]
    fn nesting_limit() {
        let ok = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(parse_payload(ok.as_bytes()).is_some());
        let bad = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert!(parse_payload(bad.as_bytes()).is_none());
    }

    #[test]
    fn strings_like_cjson() {
        assert_eq!(reprint(b"\"\\u00e9\\/\\u0000x\"", false).unwrap(), "\"\u{e9}/\"");
        assert_eq!(
            reprint(b"\"\\ud83d\\ude00 \\b\\f\\n\\r\\t\x01\x7f\"", false).unwrap(),
            "\"\u{1f600} \\b\\f\\n\\r\\t\\u0001\x7f\""
        );
        // Invalid hex: the code point is 0, so the C string ends there.
        assert_eq!(reprint(b"\"a\\uzzzzb\"", false).unwrap(), "\"a\"");
    }

    #[test]
    fn pretty_layout_like_cjson() {
        assert_eq!(
            reprint(b"{\"b\":[{\"c\":{}},[]],\"d\":{}}", true).unwrap(),
            "{\n\t\"b\":\t[{\n\t\t\t\"c\":\t{\n\t\t\t}\n\t\t}, []],\n\t\"d\":\t{\n\t}\n}"
        );
    }
}
