//! The MQTT client tools `mq-pub`, `mq-sub` and `mq-rr` (also spelled `mq pub|sub|rr`), drop-ins for
//! Mosquitto's `mosquitto_pub`, `mosquitto_sub` and `mosquitto_rr`, built on the `mq_proto` codec.
//!
//! # Layout
//! - [`args`]: the clap definitions ([`PubArgs`], [`SubArgs`], [`RrArgs`], sharing [`args::ConnectArgs`]).
//! - `props`, `url`, `config`: `-D` properties, `-L`/`--proxy` URLs, and the checks that turn the
//!   options into a validated connection setup.
//! - `transport`, [`driver`], `debug`: TCP / unix socket / SOCKS5 with TLS (`tls`) and WebSockets (`ws`)
//!   on top; the one async driver of an MQTT connection (the sans-IO `mq_proto::client::ClientSession`
//!   over a stream: socket I/O, timers, large payloads), also used by `mq bench`; the `-d` packet lines.
//!   The tools never handle an acknowledgement themselves.
//! - [`publish`], [`subscribe`], [`rr`]: the three tools; `exec` runs `mq-sub --exec` handlers; `output`
//!   prints messages with `mq_format` and turns a closed stdout into a quiet exit.
//! - [`error`]: [`ClientError`] and its one mapping to messages and exit statuses (its
//!   [`mq_cli::Report`] implementation).
//!
//! # Entry points
//! Each tool has `run(args) -> Result<(), ClientError>` (async: [`publish::run`], [`subscribe::run`],
//! [`rr::run`]) and a synchronous `main` that builds a single-threaded runtime, runs it and maps the
//! result to an exit status with [`mq_cli::finish`]: [`pub_main`], [`sub_main`], [`rr_main`]. The
//! binaries (and the `mq pub|sub|rr` subcommands) parse with `mq_cli::parse_or_exit` (options file,
//! Mosquitto's usage errors) and call those.

pub mod args;
mod config;
mod debug;
pub mod driver;
pub mod error;
mod exec;
mod output;
mod props;
pub mod publish;
pub mod rr;
pub mod subscribe;
pub mod tls;
mod transport;
mod url;
mod ws;

use std::process::ExitCode;

pub use args::{PubArgs, RrArgs, SubArgs};
pub use config::target;
pub use error::{ClientError, Invocation, ToolKind};
pub use output::Received;
pub use transport::{Stream, Target, tls_over};

/// How `mq-pub` names itself and where its options file is.
pub const PUB_TOOL: mq_cli::Tool = mq_cli::Tool { name: "mq-pub", options_file: "mq-pub" };
/// How `mq-sub` names itself and where its options file is.
pub const SUB_TOOL: mq_cli::Tool = mq_cli::Tool { name: "mq-sub", options_file: "mq-sub" };
/// How `mq-rr` names itself and where its options file is.
pub const RR_TOOL: mq_cli::Tool = mq_cli::Tool { name: "mq-rr", options_file: "mq-rr" };

/// Runs a tool's future on a single-threaded runtime (one connection needs no more).
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ClientError::Io)?;
    Ok(rt.block_on(f))
}

/// Runs a tool and maps its result to the exit status (the message printed on failure is the one
/// [`mq_cli::Report`] gives for [`ClientError`]).
fn main_of<F: std::future::Future<Output = Result<(), ClientError>>>(
    kind: ToolKind,
    name: &'static str,
    quiet: bool,
    run: F,
) -> ExitCode {
    let result = block_on(run).and_then(|r| r);
    mq_cli::finish(result, &Invocation { kind, name, quiet })
}

/// `mq-pub`: runs and returns the exit status. `name` is the name for messages (`mq-pub` or `mq pub`).
pub fn pub_main(args: PubArgs, name: &'static str) -> ExitCode {
    main_of(ToolKind::Pub, name, args.connect.quiet, publish::run(args))
}

/// `mq-sub`: runs and returns the exit status. `name` is the name for messages (`mq-sub` or `mq sub`).
pub fn sub_main(args: SubArgs, name: &'static str) -> ExitCode {
    main_of(ToolKind::Sub, name, args.connect.quiet, subscribe::run(args))
}

/// `mq-rr`: runs and returns the exit status. `name` is the name for messages (`mq-rr` or `mq rr`).
pub fn rr_main(args: RrArgs, name: &'static str) -> ExitCode {
    main_of(ToolKind::Rr, name, args.connect.quiet, rr::run(args))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    /// The argument types also work as subcommands of an umbrella command that has its own `-h` and a
    /// propagated `--version` (as `mq` does).
    #[derive(Debug, clap::Parser)]
    #[command(name = "mq", version, propagate_version = true)]
    struct Umbrella {
        #[command(subcommand)]
        command: Tool,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Tool {
        Pub(PubArgs),
        Sub(SubArgs),
        Rr(RrArgs),
    }

    #[test]
    fn args_work_as_subcommands() {
        Umbrella::command().debug_assert();
        let u = Umbrella::try_parse_from(["mq", "pub", "-h", "broker", "-V", "5", "-t", "a", "-m", "x"]).unwrap();
        let Tool::Pub(p) = u.command else { panic!("not pub") };
        assert_eq!(p.connect.host.as_deref(), Some("broker"));
        let u = Umbrella::try_parse_from(["mq", "sub", "-t", "a", "-t", "b", "-v"]).unwrap();
        assert!(matches!(u.command, Tool::Sub(s) if s.topics == ["a", "b"] && s.output.verbose));
        assert!(Umbrella::try_parse_from(["mq", "rr", "-t", "a", "-e", "b", "-m", "x"]).is_ok());
        let help = Umbrella::try_parse_from(["mq", "pub", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
