//! `mq-passwd`: manage Mosquitto-compatible password files (a drop-in for `mosquitto_passwd`).
//!
//! All behaviour lives in `mq_passwd::cli`, shared with the `mq passwd` subcommand; this binary
//! only parses the command line and turns the result into an exit status with `mq_cli::finish`.

use std::process::ExitCode;

use clap::Parser as _;
use mq_passwd::cli::{self, PasswdArgs};

fn main() -> ExitCode {
    // `try_parse` instead of `parse`: usage errors go through the same mapping as every other
    // error, so they exit 1 like `mosquitto_passwd` rather than clap's 2.
    let result = PasswdArgs::try_parse().map_err(cli::PasswdError::from).and_then(cli::run);
    mq_cli::finish(result, &())
}
