//! Producing the output for one message: the `-F` interpreter and the plain/verbose modes.

use std::io::{self, Write};
use std::time::SystemTime;

use crate::error::WriteError;
use crate::json::{self, Payload, cstr};
use crate::message::{Message, Property};
use crate::spec::{Conv, Field, Format, Item};
use crate::time::{LocalTime, StrfBuf, Zone};

/// Writes `n` copies of `byte` without allocating (widths can be large).
fn pad<W: Write + ?Sized>(out: &mut W, byte: u8, n: usize) -> io::Result<()> {
    let chunk = [byte; 64];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        out.write_all(&chunk[..k])?;
        left -= k;
    }
    Ok(())
}

/// C `printf` width semantics: a negative width means left-aligned with its absolute value.
fn width_of(width: i32, left: bool) -> (usize, bool) {
    let w = usize::try_from(width.unsigned_abs()).unwrap_or(usize::MAX);
    (w, left || width < 0)
}

/// mosquitto's `formatted_print_int`: `%d`, `%-*d`, `%0*d` or `%*d`.
///
/// Padding is written by hand: Rust's `{:w$}` rejects widths above `u16::MAX`, C does not.
fn print_int<W: Write + ?Sized>(out: &mut W, value: i64, c: &Conv) -> io::Result<()> {
    let mut buf = [0u8; 24];
    let mut cursor = io::Cursor::new(&mut buf[..]);
    write!(cursor, "{value}")?;
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    let text = &buf[..len];
    let (w, left) = width_of(c.width, c.left);
    let fill = w.saturating_sub(len);
    if left {
        out.write_all(text)?;
        pad(out, b' ', fill)
    } else if c.zero {
        // Zeros go after the sign, as with C's `%0*d`.
        let (sign, digits) = text.split_at(usize::from(value < 0));
        out.write_all(sign)?;
        pad(out, b'0', fill)?;
        out.write_all(digits)
    } else {
        pad(out, b' ', fill)?;
        out.write_all(text)
    }
}

/// mosquitto's `formatted_print_str`: `%s` with optional width and precision (in bytes).
fn print_str<W: Write + ?Sized>(out: &mut W, value: &[u8], c: &Conv) -> io::Result<()> {
    let value = cstr(value);
    let shown = match usize::try_from(c.precision) {
        Ok(p) => &value[..value.len().min(p)],
        Err(_) => value,
    };
    let (w, left) = width_of(c.width, c.left);
    let fill = w.saturating_sub(shown.len());
    if !left {
        pad(out, b' ', fill)?;
    }
    out.write_all(shown)?;
    if left {
        pad(out, b' ', fill)?;
    }
    Ok(())
}

/// mosquitto's `formatted_print_blank`: a missing property still takes its field width.
fn print_blank<W: Write + ?Sized>(out: &mut W, byte: u8, width: i32) -> io::Result<()> {
    pad(out, byte, usize::try_from(width).unwrap_or(0))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hex {
    No,
    Lower,
    Upper,
}

/// mosquitto's `write_payload`, including its width arithmetic: with a width the payload is cut
/// to `width` bytes (hex: to `width / 2` bytes of the cut length), and a left-aligned field with
/// no width pads with as many spaces as the payload has bytes (its `printf("%*s", -len, "")`).
fn print_payload<W: Write + ?Sized>(out: &mut W, payload: &[u8], hex: Hex, c: &Conv) -> io::Result<()> {
    let len = i32::try_from(payload.len()).unwrap_or(i32::MAX);
    let (shown, padlen) = if c.width > 0 {
        let mut n = len.min(c.width);
        if hex == Hex::No {
            (n, c.width - n)
        } else {
            n /= 2;
            (n, c.width - n * 2)
        }
    } else {
        (len, c.width.wrapping_sub(len))
    };
    let pad_byte = if c.zero { b'0' } else { b' ' };
    if !c.left {
        pad(out, pad_byte, usize::try_from(padlen).unwrap_or(0))?;
    }
    let bytes = &payload[..usize::try_from(shown).unwrap_or(0).min(payload.len())];
    match hex {
        Hex::No => out.write_all(bytes)?,
        Hex::Lower => write_hex(out, bytes, b"0123456789abcdef")?,
        Hex::Upper => write_hex(out, bytes, b"0123456789ABCDEF")?,
    }
    if c.left {
        // printf("%*s", padlen, ""): a negative width left-aligns, so |padlen| spaces either way.
        pad(out, b' ', usize::try_from(padlen.unsigned_abs()).unwrap_or(0))?;
    }
    Ok(())
}

fn write_hex<W: Write + ?Sized>(out: &mut W, bytes: &[u8], digits: &[u8; 16]) -> io::Result<()> {
    let mut buf = [0u8; 512];
    for chunk in bytes.chunks(buf.len() / 2) {
        for (i, &b) in chunk.iter().enumerate() {
            buf[2 * i] = digits[usize::from(b >> 4)];
            buf[2 * i + 1] = digits[usize::from(b & 0x0f)];
        }
        out.write_all(&buf[..chunk.len() * 2])?;
    }
    Ok(())
}

/// A numeric property with C `int` semantics (mosquitto casts `uint32_t` to `int`).
fn c_int(v: u32) -> i64 {
    i64::from(v.cast_signed())
}

impl Format {
    /// Writes one message formatted by this `-F` string, without the end-of-line (see
    /// [`Printer`] for the complete mosquitto_sub output).
    ///
    /// `now` and `zone` supply the time for `%I %U %j %J @…` (read only if the format uses
    /// them); `pretty` selects `--pretty` JSON for `%j`/`%J`.
    ///
    /// # Errors
    /// [`WriteError::Io`] if `out` fails; [`WriteError::InvalidJson`] if a `%J` payload is not
    /// valid JSON, after all other output has been written.
    pub fn write<W: Write + ?Sized>(
        &self,
        msg: &Message<'_>,
        out: &mut W,
        now: SystemTime,
        zone: &Zone,
        pretty: bool,
    ) -> Result<(), WriteError> {
        let time = self.uses_time.then(|| zone.local_time(now));
        let mut bad_json = 0;
        // Parse a %J payload once even if the format repeats %J.
        let mut parsed: Option<Option<json::Value>> = None;
        for item in &self.items {
            match item {
                Item::Literal(bytes) => out.write_all(bytes)?,
                Item::Conv(c) => {
                    if !write_conv(out, msg, c, time.as_ref(), pretty, &mut parsed)? {
                        bad_json += 1;
                    }
                }
                Item::Strftime(ch) => {
                    if let Some(t) = &time {
                        let mut buf = StrfBuf::new();
                        t.strftime(*ch, &mut buf)?;
                        if let Some(s) = buf.result() {
                            out.write_all(s)?;
                        }
                    }
                }
                Item::Nanos => {
                    if let Some(t) = &time {
                        write!(out, "{:09}", t.nanos)?;
                    }
                }
            }
        }
        if bad_json > 0 {
            return Err(WriteError::InvalidJson {
                topic: String::from_utf8_lossy(cstr(msg.topic.as_bytes())).into_owned(),
                occurrences: bad_json,
            });
        }
        Ok(())
    }
}

/// Writes one `%` conversion; returns `false` if it was a `%J` whose payload is not JSON.
fn write_conv<W: Write + ?Sized>(
    out: &mut W,
    msg: &Message<'_>,
    c: &Conv,
    time: Option<&LocalTime<'_>>,
    pretty: bool,
    parsed: &mut Option<Option<json::Value>>,
) -> io::Result<bool> {
    let props = msg.properties;
    let pad_byte = if c.zero { b'0' } else { b' ' };
    match c.field {
        Field::TopicAlias => match props.topic_alias() {
            Some(v) => print_int(out, v.into(), c)?,
            None => print_blank(out, pad_byte, c.width)?,
        },
        Field::ContentType => match props.content_type() {
            Some(v) => print_str(out, v.as_bytes(), c)?,
            None => print_blank(out, b' ', c.width)?,
        },
        Field::CorrelationData => {
            if let Some(v) = props.correlation_data() {
                out.write_all(v)?;
            }
        }
        Field::ExpiryInterval => match props.message_expiry_interval() {
            Some(v) => print_int(out, c_int(v), c)?,
            None => print_blank(out, pad_byte, c.width)?,
        },
        Field::PayloadFormat => match props.payload_format_indicator() {
            Some(v) => print_int(out, v.into(), c)?,
            None => print_blank(out, pad_byte, c.width)?,
        },
        Field::SubscriptionId => match props.subscription_identifier() {
            Some(v) => print_int(out, c_int(v), c)?,
            None => print_blank(out, pad_byte, c.width)?,
        },
        Field::ResponseTopic => {
            if let Some(v) = props.response_topic() {
                print_str(out, v.as_bytes(), c)?;
            }
        }
        Field::UserProperties => {
            let mut first = true;
            for p in props {
                if let Property::UserProperty(k, v) = p {
                    if !first {
                        out.write_all(b" ")?;
                    }
                    first = false;
                    out.write_all(cstr(k.as_bytes()))?;
                    out.write_all(b":")?;
                    out.write_all(cstr(v.as_bytes()))?;
                }
            }
        }
        Field::IsoTime => {
            if let Some(t) = time {
                let mut buf = StrfBuf::new();
                t.write_date_time(&mut buf)?;
                t.strftime(b'z', &mut buf)?;
                match buf.result() {
                    Some(s) => print_str(out, s, c)?,
                    None => print_blank(out, b' ', c.width)?,
                }
            }
        }
        Field::UnixTime => {
            if let Some(t) = time {
                write!(out, "{}.{:09}", t.secs, t.nanos)?;
            }
        }
        Field::Json => {
            if let Some(t) = time {
                json::write_message(out, msg, t, &Payload::Escaped, pretty)?;
            }
        }
        Field::JsonRaw => {
            let value = parsed.get_or_insert_with(|| json::parse_payload(msg.payload));
            match (msg.payload.is_empty(), value.as_ref()) {
                (true, _) => {
                    if let Some(t) = time {
                        json::write_message(out, msg, t, &Payload::Parsed(None), pretty)?;
                    }
                }
                (false, Some(v)) => {
                    if let Some(t) = time {
                        json::write_message(out, msg, t, &Payload::Parsed(Some(v)), pretty)?;
                    }
                }
                (false, None) => return Ok(false),
            }
        }
        Field::PayloadLen => print_int(out, i64::try_from(msg.payload.len()).unwrap_or(i64::MAX), c)?,
        Field::Mid => print_int(out, msg.mid.into(), c)?,
        Field::Payload => print_payload(out, msg.payload, Hex::No, c)?,
        Field::HexLower => print_payload(out, msg.payload, Hex::Lower, c)?,
        Field::HexUpper => print_payload(out, msg.payload, Hex::Upper, c)?,
        Field::Qos => out.write_all(&[msg.qos.wrapping_add(b'0')])?,
        Field::Retain => out.write_all(if msg.retain { b"1" } else { b"0" })?,
        Field::Topic => print_str(out, msg.topic.as_bytes(), c)?,
    }
    Ok(true)
}

/// How messages are printed: mosquitto_sub's default, `-v`, or `-F <format>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Default: the payload then end-of-line; a zero-length payload prints nothing at all.
    #[default]
    Plain,
    /// `-v`: `topic payload` then end-of-line; a zero-length payload prints `topic (null)`
    /// (and, as in mosquitto_sub, nothing at all when `-N` is also given).
    Verbose,
    /// `-F <format>` (takes precedence over `-v` in mosquitto_sub).
    Format(Format),
}

/// The complete message printer of mq-sub / mq-rr: mode, `-N`, `--pretty` and time zone.
///
/// Output is written with several small `write_all` calls per message; give it a buffered
/// writer (e.g. `BufWriter<StdoutLock>`) and flush after each message, as mosquitto_sub does.
/// Plain and verbose modes never allocate.
#[derive(Debug, Clone)]
pub struct Printer {
    mode: OutputMode,
    eol: bool,
    pretty: bool,
    zone: Zone,
}

impl Printer {
    /// A printer with end-of-line on (no `-N`), compact JSON, and the local zone
    /// ([`Zone::local`], which reads `TZ` once, here).
    #[must_use]
    pub fn new(mode: OutputMode) -> Self {
        Self { mode, eol: true, pretty: false, zone: Zone::local() }
    }

    /// `eol = false` is `-N`: no newline after each message.
    #[must_use]
    pub fn with_eol(mut self, eol: bool) -> Self {
        self.eol = eol;
        self
    }

    /// `--pretty`: indented JSON for `%j`/`%J`.
    #[must_use]
    pub fn with_pretty(mut self, pretty: bool) -> Self {
        self.pretty = pretty;
        self
    }

    /// Uses `zone` instead of the local zone.
    #[must_use]
    pub fn with_zone(mut self, zone: Zone) -> Self {
        self.zone = zone;
        self
    }

    /// The output mode.
    #[must_use]
    pub fn mode(&self) -> &OutputMode {
        &self.mode
    }

    /// Whether the printer reads the clock at all (only `-F` with time fields does), so callers
    /// can skip `SystemTime::now()`.
    #[must_use]
    pub fn uses_time(&self) -> bool {
        matches!(&self.mode, OutputMode::Format(f) if f.uses_time())
    }

    /// Writes one message exactly as mosquitto_sub 2.0 would, with `now` as the current time.
    ///
    /// # Errors
    /// See [`Format::write`]. On [`WriteError::InvalidJson`] the output (including the
    /// end-of-line) has been written and only the error line remains to be printed.
    pub fn write<W: Write + ?Sized>(&self, msg: &Message<'_>, out: &mut W, now: SystemTime) -> Result<(), WriteError> {
        match &self.mode {
            OutputMode::Plain => {
                if !msg.payload.is_empty() {
                    out.write_all(msg.payload)?;
                    if self.eol {
                        out.write_all(b"\n")?;
                    }
                }
                Ok(())
            }
            OutputMode::Verbose => {
                let topic = cstr(msg.topic.as_bytes());
                if !msg.payload.is_empty() {
                    out.write_all(topic)?;
                    out.write_all(b" ")?;
                    out.write_all(msg.payload)?;
                    if self.eol {
                        out.write_all(b"\n")?;
                    }
                } else if self.eol {
                    out.write_all(topic)?;
                    out.write_all(b" (null)\n")?;
                }
                Ok(())
            }
            OutputMode::Format(format) => {
                let result = format.write(msg, out, now, &self.zone, self.pretty);
                if matches!(result, Err(WriteError::Io(_))) {
                    return result;
                }
                if self.eol {
                    out.write_all(b"\n")?;
                }
                result
            }
        }
    }

    /// [`Printer::write`] with the current system time.
    ///
    /// # Errors
    /// See [`Printer::write`].
    pub fn write_now<W: Write + ?Sized>(&self, msg: &Message<'_>, out: &mut W) -> Result<(), WriteError> {
        let now = if self.uses_time() { SystemTime::now() } else { SystemTime::UNIX_EPOCH };
        self.write(msg, out, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Props;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2026-11-25T21:26:12.026730123Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_795_641_972, 26_730_123)
    }

    fn props() -> Props {
        [
            Property::SubscriptionIdentifier(7),
            Property::ContentType("text/plain".into()),
            Property::UserProperty("k1".into(), "v1".into()),
            Property::CorrelationData(b"c\0d".to_vec()),
            Property::ResponseTopic("resp/t".into()),
            Property::PayloadFormatIndicator(1),
            Property::TopicAlias(3),
            Property::UserProperty("k2".into(), "v 2".into()),
            Property::SubscriptionIdentifier(9),
            Property::MessageExpiryInterval(300),
        ]
        .into_iter()
        .collect()
    }

    fn fmt_with(spec: &str, msg: &Message<'_>, pretty: bool) -> Result<String, WriteError> {
        let format = Format::parse(spec).unwrap();
        let mut out = Vec::new();
        format.write(msg, &mut out, now(), &Zone::utc(), pretty)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn fmt(spec: &str, payload: &[u8], with_props: bool) -> String {
        let p = props();
        let mut msg = Message::new("a/b", payload);
        msg.qos = 1;
        msg.mid = 42;
        if with_props {
            msg.properties = &p;
        }
        fmt_with(spec, &msg, false).unwrap()
    }

    #[test]
    fn message_fields() {
        assert_eq!(fmt("%t|%p|%l|%q|%r|%m|%%", b"hi", false), "a/b|hi|2|1|0|42|%");
        assert_eq!(fmt("%x|%X", b"\x00\xab\xff", false), "00abff|00ABFF");
        let mut msg = Message::new("t", b"");
        msg.retain = true;
        assert_eq!(fmt_with("%r%q%m", &msg, false).unwrap(), "100");
    }

    #[test]
    fn property_fields() {
        assert_eq!(fmt("%A|%C|%D|%E|%F|%P|%R|%S", b"x", true), "3|text/plain|c\0d|300|1|k1:v1 k2:v 2|resp/t|7");
        // Absent: numeric fields and %C keep their width, %R and %D print nothing.
        assert_eq!(fmt("%A|%C|%D|%E|%F|%P|%R|%S", b"x", false), "|||||||");
        assert_eq!(fmt("%3A|%03E|%-03F|%4C|%4R|%2S|%2D", b"x", false), "   |000|000|    ||  |");
    }

    #[test]
    fn int_width_and_flags() {
        assert_eq!(fmt("%5l|%-5l|%05l|%-05l|%1l", b"abc", false), "    3|3    |00003|3    |3");
        let p: Props = [Property::MessageExpiryInterval(u32::MAX)].into_iter().collect();
        let mut msg = Message::new("t", b"");
        msg.properties = &p;
        // mosquitto casts to int.
        assert_eq!(fmt_with("%E|%5E|%05E", &msg, false).unwrap(), "-1|   -1|-0001");
    }

    #[test]
    fn string_width_and_precision() {
        let msg = Message::new("topic/name", b"");
        assert_eq!(
            fmt_with("%12t|%-12t|%.3t|%5.2t|%-5.2t|%.0t|%3t", &msg, false).unwrap(),
            "  topic/name|topic/name  |top|   to|to   ||topic/name"
        );
        // Precision counts bytes, like printf, even inside a UTF-8 character.
        let msg = Message::new("é", b"");
        assert_eq!(fmt_with("%.1t", &msg, false).unwrap().as_bytes(), b"\xef\xbf\xbd");
    }

    #[test]
    fn payload_width_quirks() {
        assert_eq!(fmt("%8p|%-8p|%08p|%3p|%-p|", b"abcde", false), "   abcde|abcde   |000abcde|abc|abcde     |");
        assert_eq!(fmt("%8x|%-8x|%3x|%-x|", b"abc", false), "      61|61      | 61|616263   |");
    }

    #[test]
    fn widths_beyond_u16() {
        let out = fmt("%70000l|%-70000m|%070000l", b"abc", false);
        assert_eq!(out.len(), 3 * 70_000 + 2);
        assert!(out.starts_with("    ") && out.contains("3|42 "));
        assert!(out.ends_with("0003"));
    }

    #[test]
    fn huge_width_wraps_like_c_int() {
        // 4294967301 wraps to 5 as a C int.
        assert_eq!(fmt("%4294967301l", b"abc", false), "    3");
    }

    #[test]
    fn nul_in_strings_ends_them_like_c() {
        let p: Props = [Property::UserProperty("a\0b".into(), "c".into())].into_iter().collect();
        let mut msg = Message::new("x\0y", b"p\0q");
        msg.properties = &p;
        assert_eq!(fmt_with("%t|%P|%p", &msg, false).unwrap(), "x|a:c|p\0q");
        let mut out = Vec::new();
        Printer::new(OutputMode::Verbose).write(&msg, &mut out, now()).unwrap();
        assert_eq!(out, b"x p\0q\n");
    }

    #[test]
    fn time_fields() {
        assert_eq!(
            fmt("%I|%U|@N|@@|@Y-@m-@d @H:@M:@S @Z", b"", false),
            "2026-11-25T21:26:12+0000|1795641972.026730123|026730123|@|2026-11-25 21:26:12 UTC"
        );
        let format = Format::parse("%I @H").unwrap();
        let mut out = Vec::new();
        let zone = Zone::from_tz("Asia/Kolkata");
        format.write(&Message::new("t", b""), &mut out, now(), &zone, false).unwrap();
        assert_eq!(out, b"2026-11-26T02:56:12+0530 02");
    }

    #[test]
    fn json_compact_and_pretty() {
        assert_eq!(
            fmt("%j", b"say \"hi\"\n\0rest", true),
            "{\"tst\":\"2026-11-25T21:26:12.026730+0000\",\"topic\":\"a/b\",\"qos\":1,\"retain\":0,\
             \"payloadlen\":14,\"mid\":42,\"properties\":{\"subscription-identifier\":7,\
             \"content-type\":\"text/plain\",\"user-properties\":{\"k1\":\"v1\",\"k2\":\"v 2\"},\
             \"correlation-data\":\"c\",\"response-topic\":\"resp/t\",\"payload-format-indicator\":1,\
             \"topic-alias\":3,\"subscription-identifier\":9,\"message-expiry-interval\":300},\
             \"payload\":\"say \\\"hi\\\"\\n\"}"
        );
        let msg = Message::new("t", b"[1, {\"a\" : 2.50}]");
        assert_eq!(
            fmt_with("%J", &msg, true).unwrap(),
            "{\n\t\"tst\":\t\"2026-11-25T21:26:12.026730+0000\",\n\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\
             \t\"retain\":\t0,\n\t\"payloadlen\":\t17,\n\t\"payload\":\t[1, {\n\t\t\t\"a\":\t2.5\n\t\t}]\n}"
        );
        assert_eq!(
            fmt_with("%J", &Message::new("t", b""), false).unwrap(),
            "{\"tst\":\"2026-11-25T21:26:12.026730+0000\",\"topic\":\"t\",\"qos\":0,\"retain\":0,\
             \"payloadlen\":0,\"payload\":null}"
        );
    }

    #[test]
    fn invalid_json_keeps_the_rest_of_the_line() {
        let printer = Printer::new(OutputMode::Format(Format::parse("<%J|%J>").unwrap())).with_zone(Zone::utc());
        let mut out = Vec::new();
        let err = printer.write(&Message::new("a/b", b"{oops"), &mut out, now()).unwrap_err();
        assert_eq!(out, b"<|>\n");
        assert_eq!(err.to_string(), "Error: Message payload is not valid JSON on topic a/b.");
        assert!(matches!(err, WriteError::InvalidJson { occurrences: 2, .. }));
    }

    #[test]
    fn modes_and_eol() {
        let msg = Message::new("a/b", b"hi");
        let empty = Message::new("a/b", b"");
        let run = |printer: &Printer, m: &Message<'_>| {
            let mut out = Vec::new();
            printer.write(m, &mut out, now()).unwrap();
            out
        };
        let plain = Printer::new(OutputMode::Plain);
        assert_eq!(run(&plain, &msg), b"hi\n");
        assert_eq!(run(&plain, &empty), b"");
        assert_eq!(run(&plain.clone().with_eol(false), &msg), b"hi");
        let verbose = Printer::new(OutputMode::Verbose);
        assert_eq!(run(&verbose, &msg), b"a/b hi\n");
        assert_eq!(run(&verbose, &empty), b"a/b (null)\n");
        assert_eq!(run(&verbose.clone().with_eol(false), &empty), b"");
        let format = Printer::new(OutputMode::Format(Format::parse("[%p]").unwrap()));
        assert_eq!(run(&format, &empty), b"[]\n");
        assert_eq!(run(&format.clone().with_eol(false), &msg), b"[hi]");
        assert!(!format.uses_time());
        assert!(Printer::new(OutputMode::Format(Format::parse("@s").unwrap())).uses_time());
    }

    #[test]
    fn io_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for mode in [OutputMode::Plain, OutputMode::Verbose, OutputMode::Format(Format::parse("%J").unwrap())] {
            let err = Printer::new(mode).write(&Message::new("t", b"1"), &mut Broken, now()).unwrap_err();
            assert!(matches!(err, WriteError::Io(ref e) if e.kind() == io::ErrorKind::BrokenPipe));
        }
    }
}
