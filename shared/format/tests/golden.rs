//! Byte-for-byte comparison with outputs captured from the real mosquitto_sub 2.0.11.
//!
//! The data under `tests/data/` is produced by `tests/data/capture.sh` (see its header for the
//! layout). Every case ran mosquitto_sub with a pinned clock and TZ, so time fields are compared
//! exactly too. The single intended difference is the `%j`/`%J` `tst` member: mosquitto 2.0.11
//! prints `….026730Z+0000`, mq-format prints the corrected `….026730+0000` (2.0.13+), so the `Z`
//! is removed from the captured bytes before comparing.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mq_format::{Format, Message, OutputMode, Printer, Property, Props, WriteError, Zone};

fn data_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(kind)
}

fn case_dirs(kind: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(data_dir(kind))
        .unwrap_or_else(|e| panic!("tests/data/{kind}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8 test data")
}

/// `<secs>.<nanos>` with C `timespec` meaning (nanos are added even when secs is negative).
fn parse_now(s: &str) -> SystemTime {
    let (secs, nanos) = s.split_once('.').unwrap_or((s, "0"));
    let secs: i64 = secs.parse().unwrap();
    let nanos: u32 = nanos.parse().unwrap();
    let base = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    base + Duration::from_nanos(nanos.into())
}

struct Case {
    name: String,
    printer: Printer,
    now: SystemTime,
    topic: String,
    payload: Vec<u8>,
    qos: u8,
    retain: bool,
    mid: u16,
    props: Props,
}

fn load(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut mode = String::new();
    let (mut eol, mut pretty, mut tz, mut now) = (true, false, String::new(), String::new());
    for line in text(read(dir, "options")).lines() {
        let (k, v) = line.split_once('=').unwrap();
        match k {
            "mode" => mode = v.to_owned(),
            "eol" => eol = v == "1",
            "pretty" => pretty = v == "1",
            "tz" => tz = v.to_owned(),
            "now" => now = v.to_owned(),
            other => panic!("{name}: unknown option {other}"),
        }
    }
    let mode = match mode.as_str() {
        "plain" => OutputMode::Plain,
        "verbose" => OutputMode::Verbose,
        "format" => {
            let spec = read(dir, "format");
            OutputMode::Format(Format::parse_bytes(&spec).unwrap_or_else(|e| panic!("{name}: {e}")))
        }
        other => panic!("{name}: unknown mode {other}"),
    };
    let mut case = Case {
        name,
        printer: Printer::new(mode).with_eol(eol).with_pretty(pretty).with_zone(Zone::from_tz(&tz)),
        now: parse_now(&now),
        topic: String::new(),
        payload: read(dir, "payload"),
        qos: 0,
        retain: false,
        mid: 0,
        props: Props::new(),
    };
    for line in read(dir, "message").split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let s = |i: usize| String::from_utf8(fields[i].to_vec()).unwrap();
        match fields[0] {
            b"topic" => case.topic = s(1),
            b"qos" => case.qos = s(1).parse().unwrap(),
            b"retain" => case.retain = s(1) == "1",
            b"mid" => case.mid = s(1).parse().unwrap(),
            b"prop" => case.props.push(match fields[1] {
                b"subscription-identifier" => Property::SubscriptionIdentifier(s(2).parse().unwrap()),
                b"content-type" => Property::ContentType(s(2)),
                b"response-topic" => Property::ResponseTopic(s(2)),
                b"correlation-data" => Property::CorrelationData(fields[2].to_vec()),
                b"payload-format-indicator" => Property::PayloadFormatIndicator(s(2).parse().unwrap()),
                b"message-expiry-interval" => Property::MessageExpiryInterval(s(2).parse().unwrap()),
                b"topic-alias" => Property::TopicAlias(s(2).parse().unwrap()),
                b"user-property" => Property::UserProperty(s(2), s(3)),
                other => panic!("unknown property {}", String::from_utf8_lossy(other)),
            }),
            other => panic!("unknown message line {}", String::from_utf8_lossy(other)),
        }
    }
    case
}

/// Runs a case through the printer: (stdout, stderr) as mq-sub would print them.
fn run(case: &Case, now: SystemTime) -> (Vec<u8>, Vec<u8>) {
    let msg = Message {
        topic: &case.topic,
        payload: &case.payload,
        qos: case.qos,
        retain: case.retain,
        mid: case.mid,
        properties: &case.props,
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    match case.printer.write(&msg, &mut out, now) {
        Ok(()) => {}
        Err(e @ WriteError::InvalidJson { occurrences, .. }) => {
            for _ in 0..occurrences {
                err.extend_from_slice(format!("{e}\n").as_bytes());
            }
        }
        Err(e) => panic!("{}: {e}", case.name),
    }
    (out, err)
}

/// Drops the `Z` of mosquitto 2.0.11's malformed `tst` (`.DDDDDDZ+DDDD`).
fn fix_tst(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (k, &b) in bytes.iter().enumerate() {
        let is_bug = b == b'Z'
            && k >= 7
            && bytes[k - 7] == b'.'
            && bytes[k - 6..k].iter().all(u8::is_ascii_digit)
            && matches!(bytes.get(k + 1), Some(b'+' | b'-'))
            && bytes.len() >= k + 6
            && bytes[k + 2..k + 6].iter().all(u8::is_ascii_digit);
        if !is_bug {
            out.push(b);
        }
    }
    out
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

#[test]
fn tst_fix_only_touches_the_timestamp() {
    assert_eq!(
        fix_tst(b"{\"tst\":\"2026-11-25T21:26:12.026730Z+0000\",\"payload\":\"Z+\"}"),
        b"{\"tst\":\"2026-11-25T21:26:12.026730+0000\",\"payload\":\"Z+\"}"
    );
    assert_eq!(fix_tst(b".123456Z"), b".123456Z");
}

#[test]
fn captured_cases_match_mosquitto_sub_byte_for_byte() {
    let dirs = case_dirs("cases");
    assert!(dirs.len() >= 150, "only {} captured cases", dirs.len());
    let mut failures = String::new();
    for dir in &dirs {
        let case = load(dir);
        let want_out = fix_tst(&read(dir, "stdout"));
        let want_err = read(dir, "stderr");
        let (out, err) = run(&case, case.now);
        if out != want_out {
            let _ = writeln!(failures, "{}: stdout\n  want: {}\n  got:  {}", case.name, show(&want_out), show(&out));
        }
        if err != want_err {
            let _ = writeln!(failures, "{}: stderr\n  want: {}\n  got:  {}", case.name, show(&want_err), show(&err));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{failures}");
}

/// Cases captured with the real clock: only digits may differ (time values).
#[test]
fn real_clock_captures_have_the_same_shape() {
    let dirs = case_dirs("shape");
    assert!(!dirs.is_empty());
    let digits_to_zero =
        |b: &[u8]| -> Vec<u8> { b.iter().map(|&c| if c.is_ascii_digit() { b'0' } else { c }).collect() };
    for dir in &dirs {
        let case = load(dir);
        let (out, _) = run(&case, SystemTime::now());
        assert_eq!(show(&digits_to_zero(&out)), show(&digits_to_zero(&fix_tst(&read(dir, "stdout")))), "{}", case.name);
    }
}

#[test]
fn rejected_formats_print_mosquitto_sub_errors() {
    let dirs = case_dirs("errors");
    assert!(dirs.len() >= 30);
    for dir in &dirs {
        let spec = read(dir, "format");
        let stderr = read(dir, "stderr");
        let first_line = stderr.split(|&b| b == b'\n').next().unwrap();
        let err = Format::parse_bytes(&spec).expect_err(&show(&spec));
        assert_eq!(show(&err.to_bytes()), show(first_line), "format {}", show(&spec));
        // The rest is the front end's usage hint, the same for every format error.
        assert_eq!(&stderr[first_line.len()..], b"\n\nUse 'mosquitto_sub --help' to see usage.\n");
    }
}
