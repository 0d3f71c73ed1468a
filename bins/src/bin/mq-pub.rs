//! `mq-pub`: publish an MQTT message (a drop-in for `mosquitto_pub`).
//!
//! All behaviour lives in `mq_client` (shared with the `mq pub` subcommand); this binary reads the
//! options file and the command line, and turns the result into an exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: mq_client::PubArgs = mq_cli::parse_or_exit(mq_client::PUB_TOOL);
    mq_client::pub_main(args, mq_client::PUB_TOOL.name)
}
