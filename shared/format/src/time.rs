//! Local time: the time zone (`TZ` like libc), broken-down time, and a glibc-compatible
//! `strftime` for the "C" locale (mosquitto_sub never calls `setlocale`).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::{TimeZone, TimeZoneOffsetInfo};

/// The time zone used for `%I`, `@<c>` and the `%j` timestamp.
///
/// [`Zone::local`] follows the rules libc's `localtime` applies to the `TZ` environment
/// variable; the other constructors exist so tests and callers can pin a zone without touching
/// the process environment.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
}

impl Zone {
    /// The process's local zone: `TZ` if set (see [`Zone::from_tz`]), otherwise the system zone
    /// (`/etc/localtime`), otherwise UTC.
    #[must_use]
    pub fn local() -> Self {
        match std::env::var("TZ") {
            Ok(value) => Self::from_tz(&value),
            Err(std::env::VarError::NotPresent) => Self { tz: TimeZone::try_system().unwrap_or(TimeZone::UTC) },
            // A non-UTF-8 value cannot name a zone file we can find; libc falls back to UTC.
            Err(std::env::VarError::NotUnicode(_)) => Self::utc(),
        }
    }

    /// UTC (abbreviation `UTC`).
    #[must_use]
    pub fn utc() -> Self {
        Self { tz: TimeZone::UTC }
    }

    /// A zone interpreted from a `TZ` value the way glibc does: empty means UTC; a leading `:`
    /// is dropped; an absolute path is a TZif file; otherwise a name in the system zoneinfo
    /// database (e.g. `Europe/Berlin`), otherwise a POSIX rule (e.g. `EST5EDT,M3.2.0,M11.1.0`,
    /// `<+0530>-5:30`). Anything unusable gives UTC.
    #[must_use]
    pub fn from_tz(value: &str) -> Self {
        let name = value.strip_prefix(':').unwrap_or(value);
        if name.is_empty() {
            return Self::utc();
        }
        let tz = if name.starts_with('/') {
            std::fs::read(name).ok().and_then(|data| TimeZone::tzif(name, &data).ok())
        } else {
            TimeZone::get(name).ok().or_else(|| TimeZone::posix(name).ok())
        };
        Self { tz: tz.unwrap_or(TimeZone::UTC) }
    }

    /// A zone with a fixed offset east of UTC, in seconds (clamped to ±25:59:59).
    #[must_use]
    pub fn fixed(offset_seconds: i32) -> Self {
        let secs = offset_seconds.clamp(-93_599, 93_599);
        let offset = jiff::tz::Offset::from_seconds(secs).unwrap_or(jiff::tz::Offset::UTC);
        Self { tz: TimeZone::fixed(offset) }
    }

    /// Breaks `now` down into local time in this zone.
    pub(crate) fn local_time(&self, now: SystemTime) -> LocalTime<'_> {
        let (secs, nanos) = split(now);
        // Outside jiff's range (years -9999..=9999) clamp instead of failing: such clocks are
        // not real and mosquitto's output for them is undefined anyway.
        let ts = Timestamp::new(secs, 0).unwrap_or(if secs < 0 { Timestamp::MIN } else { Timestamp::MAX });
        let info = self.tz.to_offset_info(ts);
        let dt = info.offset().to_datetime(ts);
        LocalTime {
            secs: ts.as_second(),
            nanos,
            year: i32::from(dt.year()),
            month: u8::try_from(dt.month()).unwrap_or(1),
            day: u8::try_from(dt.day()).unwrap_or(1),
            hour: u8::try_from(dt.hour()).unwrap_or(0),
            minute: u8::try_from(dt.minute()).unwrap_or(0),
            second: u8::try_from(dt.second()).unwrap_or(0),
            wday: u8::try_from(dt.weekday().to_sunday_zero_offset()).unwrap_or(0),
            yday: i32::from(dt.day_of_year()) - 1,
            gmtoff: info.offset().seconds(),
            info,
        }
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self::local()
    }
}

/// Seconds and nanoseconds like a C `timespec` (nanoseconds always in `0..1e9`).
pub(crate) fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 { (-secs, 0) } else { (-secs - 1, 1_000_000_000 - d.subsec_nanos()) }
        }
    }
}

/// A broken-down local time (the fields of C's `struct tm` plus the nanoseconds).
pub(crate) struct LocalTime<'z> {
    pub secs: i64,
    pub nanos: u32,
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// 0 = Sunday.
    wday: u8,
    /// 0-based day of the year.
    yday: i32,
    gmtoff: i32,
    info: TimeZoneOffsetInfo<'z>,
}

const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// glibc's `iso_week_days`: days since the Monday starting the ISO week-based year's week 1.
fn iso_week_days(yday: i32, wday: i32) -> i32 {
    const BIG_ENOUGH_MULTIPLE_OF_7: i32 = (366 / 7 + 2) * 7;
    yday - (yday - wday + 4 + BIG_ENOUGH_MULTIPLE_OF_7) % 7 + 4 - 1
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// strftime's output buffer: mosquitto gives strftime 100 bytes, and a result that does not
/// fit (99 bytes plus the NUL) makes strftime return 0, i.e. nothing is printed.
pub(crate) struct StrfBuf {
    buf: [u8; 100],
    len: usize,
    overflow: bool,
}

impl StrfBuf {
    pub(crate) fn new() -> Self {
        Self { buf: [0; 100], len: 0, overflow: false }
    }

    /// The result, or `None` where C's strftime would have returned 0 (overflow or empty).
    pub(crate) fn result(&self) -> Option<&[u8]> {
        (!self.overflow && self.len > 0).then(|| &self.buf[..self.len])
    }
}

impl Write for StrfBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Room for the terminating NUL must remain, as in C.
        if self.len + data.len() >= self.buf.len() {
            self.overflow = true;
        } else {
            self.buf[self.len..self.len + data.len()].copy_from_slice(data);
            self.len += data.len();
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LocalTime<'_> {
    fn hour12(&self) -> u8 {
        match self.hour % 12 {
            0 => 12,
            h => h,
        }
    }

    /// The ISO 8601 week-based year and the 0-based days into its week 1 (glibc's logic).
    fn iso_year_days(&self) -> (i32, i32) {
        let wday = i32::from(self.wday);
        let mut year = self.year;
        let mut days = iso_week_days(self.yday, wday);
        if days < 0 {
            year -= 1;
            days = iso_week_days(self.yday + 365 + i32::from(is_leap(year)), wday);
        } else {
            let d = iso_week_days(self.yday - (365 + i32::from(is_leap(year))), wday);
            if d >= 0 {
                year += 1;
                days = d;
            }
        }
        (year, days)
    }

    /// glibc `strftime` with the two-byte format `%<c>` in the "C" locale.
    ///
    /// Conversions glibc does not know (and a lone flag, width digit or `E`/`O` modifier, which
    /// the end of the format cuts short) are copied literally, `%` included, as glibc does.
    pub(crate) fn strftime<W: Write + ?Sized>(&self, c: u8, out: &mut W) -> io::Result<()> {
        match c {
            b'%' => out.write_all(b"%"),
            b'a' => out.write_all(&DAYS[usize::from(self.wday % 7)].as_bytes()[..3]),
            b'A' => out.write_all(DAYS[usize::from(self.wday % 7)].as_bytes()),
            b'b' | b'h' => out.write_all(&self.month_name().as_bytes()[..3]),
            b'B' => out.write_all(self.month_name().as_bytes()),
            b'c' => {
                for conv in [b'a', b' ', b'b', b' ', b'e', b' ', b'H', b':', b'M', b':', b'S', b' ', b'Y'] {
                    self.sub(conv, out)?;
                }
                Ok(())
            }
            b'C' => {
                // Floor division, as glibc does for years before year 0.
                write!(out, "{:02}", self.year.div_euclid(100))
            }
            b'd' => write!(out, "{:02}", self.day),
            b'D' | b'x' => self.seq(b"m/d/y", out),
            b'e' => write!(out, "{:2}", self.day),
            b'F' => {
                write!(out, "{:04}-", self.year)?;
                self.seq(b"m-d", out)
            }
            b'g' => write!(out, "{:02}", self.iso_year_days().0.rem_euclid(100)),
            b'G' => write!(out, "{}", self.iso_year_days().0),
            b'H' => write!(out, "{:02}", self.hour),
            b'I' => write!(out, "{:02}", self.hour12()),
            b'j' => write!(out, "{:03}", self.yday + 1),
            b'k' => write!(out, "{:2}", self.hour),
            b'l' => write!(out, "{:2}", self.hour12()),
            b'm' => write!(out, "{:02}", self.month),
            b'M' => write!(out, "{:02}", self.minute),
            b'n' => out.write_all(b"\n"),
            b'p' => out.write_all(if self.hour < 12 { b"AM" } else { b"PM" }),
            b'P' => out.write_all(if self.hour < 12 { b"am" } else { b"pm" }),
            b'r' => {
                self.seq(b"I:M:S", out)?;
                out.write_all(b" ")?;
                self.strftime(b'p', out)
            }
            b'R' => self.seq(b"H:M", out),
            b's' => write!(out, "{}", self.secs),
            b'S' => write!(out, "{:02}", self.second),
            b't' => out.write_all(b"\t"),
            b'T' | b'X' => self.seq(b"H:M:S", out),
            b'u' => write!(out, "{}", (i32::from(self.wday) + 6) % 7 + 1),
            b'U' => write!(out, "{:02}", (self.yday - i32::from(self.wday) + 7).div_euclid(7)),
            b'V' => write!(out, "{:02}", self.iso_year_days().1.div_euclid(7) + 1),
            b'w' => write!(out, "{}", self.wday),
            b'W' => write!(out, "{:02}", (self.yday - (i32::from(self.wday) + 6) % 7 + 7).div_euclid(7)),
            b'y' => write!(out, "{:02}", self.year.rem_euclid(100)),
            b'Y' => write!(out, "{}", self.year),
            b'z' => {
                let sign = if self.gmtoff < 0 { '-' } else { '+' };
                // glibc drops the seconds of the offset rather than rounding.
                let minutes = self.gmtoff.unsigned_abs() / 60;
                write!(out, "{sign}{:02}{:02}", minutes / 60, minutes % 60)
            }
            b'Z' => out.write_all(self.info.abbreviation().as_bytes()),
            // A width with no conversion after it: glibc copies `%<d>` right-aligned in that
            // width (observed: `@3` prints ` %3`).
            d @ b'1'..=b'9' => {
                for _ in 2..(d - b'0') {
                    out.write_all(b" ")?;
                }
                out.write_all(&[b'%', d])
            }
            other => out.write_all(&[b'%', other]),
        }
    }

    /// Writes a sequence of conversions separated by the punctuation given between them.
    fn seq<W: Write + ?Sized>(&self, pattern: &[u8], out: &mut W) -> io::Result<()> {
        for &c in pattern {
            self.sub(c, out)?;
        }
        Ok(())
    }

    /// Letters are conversions, other bytes are copied.
    fn sub<W: Write + ?Sized>(&self, c: u8, out: &mut W) -> io::Result<()> {
        if c.is_ascii_alphabetic() { self.strftime(c, out) } else { out.write_all(&[c]) }
    }

    fn month_name(&self) -> &'static str {
        MONTHS[usize::from(self.month.clamp(1, 12) - 1)]
    }

    /// The time as `YYYY-MM-DDTHH:MM:SS`.
    pub(crate) fn write_date_time<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        self.strftime(b'F', out)?;
        out.write_all(b"T")?;
        self.strftime(b'T', out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: i64, nanos: u32) -> SystemTime {
        if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs.unsigned_abs(), nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nanos.into())
        }
    }

    fn strf(zone: &Zone, secs: i64, convs: &str) -> String {
        let lt = zone.local_time(at(secs, 0));
        let mut out = Vec::new();
        for c in convs.bytes() {
            lt.strftime(c, &mut out).unwrap();
            out.push(b'|');
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn c_locale_conversions_utc() {
        // 2026-11-25 21:26:12 UTC, a Wednesday. Expected values from `TZ=UTC date`.
        let z = Zone::utc();
        assert_eq!(
            strf(&z, 1_795_641_972, "aAbBhcCdDeFgGHIjklmMpPrRsSTuUVwWxXyYzZ%"),
            "Wed|Wednesday|Nov|November|Nov|Wed Nov 25 21:26:12 2026|20|25|11/25/26|25|\
             2026-11-25|26|2026|21|09|329|21| 9|11|26|PM|pm|09:26:12 PM|21:26|1795641972|12|\
             21:26:12|3|47|48|3|47|11/25/26|21:26:12|26|2026|+0000|UTC|%|"
        );
    }

    #[test]
    fn unknown_conversions_are_copied() {
        let z = Zone::utc();
        assert_eq!(strf(&z, 0, "Qq_0E12349"), "%Q|%q|%_|%0|%E|%1|%2| %3|  %4|       %9|");
    }

    #[test]
    fn midnight_and_noon_12_hour_clock() {
        let z = Zone::utc();
        assert_eq!(strf(&z, 0, "IlpkeH"), "12|12|AM| 0| 1|00|");
        assert_eq!(strf(&z, 12 * 3600, "Ilp"), "12|12|PM|");
    }

    #[test]
    fn iso_week_edges() {
        let z = Zone::utc();
        // 2021-01-01 (Friday) belongs to ISO week 53 of 2020.
        assert_eq!(strf(&z, 1_609_459_200, "GgVUWju"), "2020|20|53|00|00|001|5|");
        // 2024-12-30 (Monday) is in ISO week 1 of 2025.
        assert_eq!(strf(&z, 1_735_516_800, "GgVUW"), "2025|25|01|52|53|");
    }

    #[test]
    fn offsets_and_zones() {
        let z = Zone::from_tz("Asia/Kolkata");
        assert_eq!(strf(&z, 1_795_641_972, "zZT"), "+0530|IST|02:56:12|");
        let z = Zone::from_tz("America/New_York");
        assert_eq!(strf(&z, 1_795_641_972, "zZ"), "-0500|EST|");
        assert_eq!(strf(&z, 1_783_000_000, "zZ"), "-0400|EDT|");
        let z = Zone::from_tz("EST5EDT,M3.2.0,M11.1.0");
        assert_eq!(strf(&z, 1_783_000_000, "zZ"), "-0400|EDT|");
        let z = Zone::from_tz(":/usr/share/zoneinfo/Europe/Berlin");
        assert_eq!(strf(&z, 1_795_641_972, "zZ"), "+0100|CET|");
        let z = Zone::from_tz("");
        assert_eq!(strf(&z, 0, "zZ"), "+0000|UTC|");
        let z = Zone::fixed(-(3 * 3600 + 30 * 60));
        assert_eq!(strf(&z, 0, "zH"), "-0330|20|");
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(split(at(-5, 1)), (-5, 1));
        assert_eq!(split(UNIX_EPOCH - Duration::from_nanos(1)), (-1, 999_999_999));
        let z = Zone::utc();
        assert_eq!(strf(&z, -1, "FTs"), "1969-12-31|23:59:59|-1|");
    }

    #[test]
    fn strftime_buffer_limit() {
        let mut b = StrfBuf::new();
        b.write_all(&[b'x'; 99]).unwrap();
        assert_eq!(b.result().map(<[u8]>::len), Some(99));
        b.write_all(b"y").unwrap();
        assert_eq!(b.result(), None);
        assert_eq!(StrfBuf::new().result(), None);
    }
}
