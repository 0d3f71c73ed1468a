//! `mq-rr`: send an MQTT request and print the response (a drop-in for `mosquitto_rr`).
//!
//! All behaviour lives in `mq_client` (shared with the `mq rr` subcommand); this binary reads the
//! options file and the command line, and turns the result into an exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: mq_client::RrArgs = mq_cli::parse_or_exit(mq_client::RR_TOOL);
    mq_client::rr_main(args, mq_client::RR_TOOL.name)
}
