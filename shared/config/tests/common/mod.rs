//! Helpers shared by the integration tests.
#![allow(dead_code)]

use mq_config::{Config, parse_str};

/// Parse `text` as `mq.conf`; panic with every error when it fails.
pub fn ok(text: &str) -> Config {
    ok_warn(text).0
}

/// Parse `text` as `mq.conf` and return the warnings as strings too.
pub fn ok_warn(text: &str) -> (Config, Vec<String>) {
    match parse_str(text, "mq.conf") {
        Ok((cfg, warnings)) => (cfg, warnings.iter().map(ToString::to_string).collect()),
        Err(e) => panic!("{text:?} should parse, got:\n{e}"),
    }
}

/// Parse `text` as `mq.conf`, expecting errors; return them as strings.
pub fn err(text: &str) -> Vec<String> {
    match parse_str(text, "mq.conf") {
        Ok(_) => panic!("{text:?} should not parse"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}
