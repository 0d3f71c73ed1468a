//! Property tests: random configuration text never panics the parser, and
//! every error or warning points at a real line of the input.

use std::io::Write;

use mq_config::{OPTIONS, load, parse_str};
use proptest::prelude::*;

/// Option names, minus `include_dir` (which would read random directories).
fn option_names() -> Vec<String> {
    OPTIONS.iter().map(|o| o.name.to_owned()).filter(|n| n != "include_dir").collect()
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(option_names()),
        2 => "[a-z_]{1,12}",
        2 => "-?[0-9]{1,22}",
        1 => "[0-9]{1,4}[hdwmys]",
        1 => proptest::sample::select(vec![
            "#", "\"\"", "true", "false", "0", "1", "file", "none", "websockets", "ipv4",
            "tlsv1.2", "out", "in", "both", "/tmp/x", "127.0.0.1", "::1", "host:1883", "a/#",
        ])
        .prop_map(str::to_owned),
        1 => "[^\n]{0,10}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::collection::vec(word(), 0..6), prop::sample::select(vec![" ", "\t", "  "]))
            .prop_map(|(words, sep)| words.join(sep)),
        1 => "[^\n]{0,40}",
        1 => Just(String::new()),
    ]
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    match parse_str(text, "fuzz.conf") {
        Ok((cfg, warnings)) => {
            for w in &warnings {
                prop_assert!(w.line >= 1 && w.line <= lines, "{w}");
            }
            prop_assert!(!cfg.listeners.is_empty());
            if let Err(errors) = cfg.check_supported() {
                for e in errors {
                    prop_assert!(e.line >= 1 && e.line <= lines, "{e}");
                }
            }
            let again = cfg.reload(cfg.clone());
            prop_assert!(again.not_reloaded.is_empty(), "{:?}", again.not_reloaded);
            prop_assert_eq!(again.config, cfg);
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in errors.errors() {
                prop_assert!(e.line >= 1 && e.line <= lines, "{e}");
                prop_assert!(e.to_string().starts_with("fuzz.conf:"), "{e}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_lines_never_panic(lines in prop::collection::vec(line(), 0..25)) {
        check_text(&lines.join("\n"))?;
    }

    #[test]
    fn random_sections_never_panic(
        head in prop::collection::vec(line(), 0..5),
        body in prop::collection::vec(line(), 0..10),
        section in prop::sample::select(vec![
            "listener 1883", "listener 0 /tmp/s", "connection b\naddress h\ntopic #",
            "per_listener_settings true\nlistener 1884", "port 1885",
        ]),
    ) {
        check_text(&format!("{}\n{section}\n{}", head.join("\n"), body.join("\n")))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut file = tempfile::NamedTempFile::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
        file.write_all(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lines = u32::try_from(bytes.split(|&b| b == b'\n').count()).unwrap_or(u32::MAX);
        if let Err(errors) = load(file.path()) {
            for e in errors.errors() {
                prop_assert!(e.line <= lines, "{e}");
            }
        }
    }
}
