//! End-to-end tests: the real binaries, spawned on ephemeral ports, checked by independent clients.
//!
//! One test binary with a module per area (ripgrep's layout). Each module says what it covers.

mod broker_bridge;
mod broker_bridge_hostile;
mod broker_config;
mod broker_connect;
mod broker_interop;
mod broker_log;
mod broker_malformed;
mod broker_park;
mod broker_persistence;
mod broker_qos;
mod broker_reason_codes;
mod broker_retain;
mod broker_robustness;
mod broker_sessions;
mod broker_shared;
mod broker_sys;
mod broker_tls;
mod broker_topics;
mod broker_uploads;
mod broker_util;
mod broker_v5;
mod broker_will;
mod broker_ws;
mod browser;
mod client_util;
mod clients_cli;
mod clients_tls;
mod configs;
mod db_import;
mod deb_installed;
mod exec;
mod exit_status;
mod harness;
mod hostile;
mod large;
mod passwd;
mod pub_sub;
mod quick_start;
mod security;
mod systemd;
mod tls_pki;
mod umbrella;
