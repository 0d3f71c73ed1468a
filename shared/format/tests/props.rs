//! Property tests: parsing and writing never panic, whatever the format, payload, topic,
//! properties, clock or zone; and simple modes reproduce the payload exactly.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mq_format::{Format, Message, OutputMode, Printer, Property, Props, WriteError, Zone};
use proptest::prelude::*;

fn property() -> impl Strategy<Value = Property> {
    prop_oneof![
        any::<u8>().prop_map(Property::PayloadFormatIndicator),
        any::<u32>().prop_map(Property::MessageExpiryInterval),
        ".{0,12}".prop_map(Property::ContentType),
        ".{0,12}".prop_map(Property::ResponseTopic),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Property::CorrelationData),
        any::<u32>().prop_map(Property::SubscriptionIdentifier),
        any::<u16>().prop_map(Property::TopicAlias),
        (".{0,6}", ".{0,6}").prop_map(|(k, v)| Property::UserProperty(k, v)),
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        // JSON-like text, to reach deep into the %J parser.
        "[\\[\\]{}\",:0-9eE.+\\- \t\nnultrfas\\\\/u]{0,60}".prop_map(String::into_bytes),
    ]
}

/// Format strings made of the language's pieces, with bounded widths so output stays small.
fn format_spec() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"%".to_vec()),
        Just(b"-".to_vec()),
        Just(b"0".to_vec()),
        Just(b".".to_vec()),
        Just(b"@".to_vec()),
        Just(b"\\".to_vec()),
        (0u32..300).prop_map(|n| n.to_string().into_bytes()),
        proptest::sample::select(b"%ACDEFIjJlmPpqRrStUxXe0aentvN@\\".to_vec()).prop_map(|b| vec![b]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|v| v.concat())
}

fn zone() -> impl Strategy<Value = Zone> {
    prop_oneof![
        Just(Zone::utc()),
        (-100_000i32..100_000).prop_map(Zone::fixed),
        proptest::sample::select(vec![
            "Asia/Kolkata",
            "America/New_York",
            "Pacific/Chatham",
            "EST5EDT,M3.2.0,M11.1.0",
            "<+0530>-5:30",
            ":Europe/Paris",
            "",
            "Not/A_Zone",
            "/nonexistent",
        ])
        .prop_map(Zone::from_tz),
    ]
}

fn clock() -> impl Strategy<Value = SystemTime> {
    (any::<i64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
        let d = Duration::new(secs.unsigned_abs(), nanos);
        let t = if secs >= 0 { UNIX_EPOCH.checked_add(d) } else { UNIX_EPOCH.checked_sub(d) };
        t.unwrap_or(UNIX_EPOCH)
    })
}

// Case count: proptest's default (256), or PROPTEST_CASES for a deeper run.
proptest! {
    #[test]
    fn parse_never_panics(spec in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Format::parse_bytes(&spec);
    }

    #[test]
    fn parse_str_never_panics(spec in "\\PC{0,40}") {
        let _ = Format::parse(&spec);
    }

    #[test]
    fn write_never_panics(
        spec in format_spec(),
        topic in "\\PC{0,20}",
        payload in payload(),
        props in proptest::collection::vec(property(), 0..6),
        qos in 0u8..3,
        retain: bool,
        mid: u16,
        pretty: bool,
        eol: bool,
        zone in zone(),
        now in clock(),
    ) {
        let Ok(format) = Format::parse_bytes(&spec) else { return Ok(()) };
        let props: Props = props.into_iter().collect();
        let msg = Message { topic: &topic, payload: &payload, qos, retain, mid, properties: &props };
        let printer = Printer::new(OutputMode::Format(format))
            .with_eol(eol)
            .with_pretty(pretty)
            .with_zone(zone);
        let mut out = Vec::new();
        match printer.write(&msg, &mut out, now) {
            Ok(()) => {}
            Err(WriteError::InvalidJson { occurrences, .. }) => prop_assert!(occurrences >= 1),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        }
        if eol {
            prop_assert_eq!(out.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn any_bytes_format_writes_without_panic(
        spec in proptest::collection::vec(any::<u8>(), 0..32),
        payload in payload(),
        now in clock(),
    ) {
        if let Ok(format) = Format::parse_bytes(&spec) {
            let msg = Message::new("a/b", &payload);
            let _ = Printer::new(OutputMode::Format(format))
                .with_zone(Zone::utc())
                .write(&msg, &mut io::sink(), now);
        }
    }

    #[test]
    fn plain_and_verbose_reproduce_the_payload(topic in "[a-z/]{1,10}", payload in payload(), eol: bool) {
        let msg = Message::new(&topic, &payload);
        let mut out = Vec::new();
        Printer::new(OutputMode::Plain).with_eol(eol).write(&msg, &mut out, UNIX_EPOCH).unwrap();
        let mut want = payload.clone();
        if eol && !payload.is_empty() {
            want.push(b'\n');
        }
        prop_assert_eq!(&out, &want);

        let mut out = Vec::new();
        Printer::new(OutputMode::Verbose).with_eol(eol).write(&msg, &mut out, UNIX_EPOCH).unwrap();
        let mut want = Vec::new();
        if !payload.is_empty() {
            want.extend_from_slice(topic.as_bytes());
            want.push(b' ');
            want.extend_from_slice(&payload);
            if eol {
                want.push(b'\n');
            }
        } else if eol {
            want.extend_from_slice(format!("{topic} (null)\n").as_bytes());
        }
        prop_assert_eq!(out, want);
    }

    #[test]
    fn payload_fields_agree(payload in payload()) {
        let format = Format::parse("%p|%x|%X|%l").unwrap();
        let msg = Message::new("t", &payload);
        let mut out = Vec::new();
        format.write(&msg, &mut out, UNIX_EPOCH, &Zone::utc(), false).unwrap();
        let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        let mut want = payload.clone();
        want.extend_from_slice(format!("|{hex}|{}|{}", hex.to_uppercase(), payload.len()).as_bytes());
        prop_assert_eq!(out, want);
    }
}
