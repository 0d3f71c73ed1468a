//! `mq-sub`: subscribe to MQTT topics and print or handle the messages (a drop-in for `mosquitto_sub`).
//!
//! All behaviour lives in `mq_client` (shared with the `mq sub` subcommand); this binary reads the
//! options file and the command line, and turns the result into an exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: mq_client::SubArgs = mq_cli::parse_or_exit(mq_client::SUB_TOOL);
    mq_client::sub_main(args, mq_client::SUB_TOOL.name)
}
