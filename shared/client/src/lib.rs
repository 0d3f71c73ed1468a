//! The MQTT client tools `mq-pub`, `mq-sub` and `mq-rr` (also spelled `mq pub|sub|rr`), drop-ins for
//! Mosquitto's `mosquitto_pub`, `mosquitto_sub` and `mosquitto_rr`, built on the `mq_proto` codec.
//!
//! # Layout
//! - [`args`]: the clap definitions ([`PubArgs`], [`SubArgs`], [`RrArgs`], sharing [`args::ConnectArgs`]).
//! - `props`, `url`, `config`: `-D` properties, `-L`/`--proxy` URLs, and the checks that turn the
//!   options into a validated connection setup.
//! - `transport`, `conn`, `debug`: TCP / unix socket / SOCKS5 with TLS (`tls`) and WebSockets (`ws`)
//!   on top, one MQTT connection with keep alive, and the `-d` packet lines.
//! - [`publish`], [`subscribe`], [`rr`]: the three tools; `exec` runs `mq-sub --exec` handlers; `output`
//!   prints messages with `mq_format` and turns a closed stdout into a quiet exit.
//! - [`error`]: [`ClientError`] and its one mapping to messages and exit statuses.
//!
//! # Entry points
//! Each tool has `run(args) -> Result<(), ClientError>` (async: [`publish::run`], [`subscribe::run`],
//! [`rr::run`]) and a synchronous `main` that builds a single-threaded runtime, runs it and maps the
//! result to an exit status with [`report`]: [`pub_main`], [`sub_main`], [`rr_main`]. The binaries parse
//! with `mq_cli::parse_or_exit` (options file, Mosquitto's usage errors) and call those; [`pub_cli`],
//! [`sub_cli`] and [`rr_cli`] do both for an argument list, for the `mq pub|sub|rr` subcommands.

pub mod args;
mod config;
mod conn;
mod debug;
pub mod error;
mod exec;
mod output;
mod props;
pub mod publish;
pub mod rr;
pub mod subscribe;
mod tls;
mod transport;
mod url;
mod ws;

use std::process::ExitCode;

use clap::CommandFactory as _;

pub use args::{PubArgs, RrArgs, SubArgs};
pub use error::{ClientError, ToolKind};

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

/// Maps a run's result to what is printed and the exit status (`tool` names the tool in the `--help`
/// hint, e.g. `mq-pub` or `mq pub`; `help` renders the usage for errors that show it).
pub fn report(
    kind: ToolKind,
    tool: &str,
    quiet: bool,
    result: Result<(), ClientError>,
    help: impl FnOnce() -> String,
) -> ExitCode {
    mq_cli::finish(result.map(|()| 0).map_err(|e| e.failure(kind, tool, help)), quiet)
}

/// `mq-pub`: runs and returns the exit status. `tool` is the name for messages (`mq-pub` or `mq pub`).
pub fn pub_main(args: PubArgs, tool: &str) -> ExitCode {
    let quiet = args.connect.quiet;
    let result = block_on(publish::run(args)).and_then(|r| r);
    report(ToolKind::Pub, tool, quiet, result, || PubArgs::command().render_help().to_string())
}

/// `mq-sub`: runs and returns the exit status. `tool` is the name for messages (`mq-sub` or `mq sub`).
pub fn sub_main(args: SubArgs, tool: &str) -> ExitCode {
    let quiet = args.connect.quiet;
    let result = block_on(subscribe::run(args)).and_then(|r| r);
    report(ToolKind::Sub, tool, quiet, result, || SubArgs::command().render_help().to_string())
}

/// `mq-rr`: runs and returns the exit status. `tool` is the name for messages (`mq-rr` or `mq rr`).
pub fn rr_main(args: RrArgs, tool: &str) -> ExitCode {
    let quiet = args.connect.quiet;
    let result = block_on(rr::run(args)).and_then(|r| r);
    report(ToolKind::Rr, tool, quiet, result, || RrArgs::command().render_help().to_string())
}

/// `mq pub ARGS...`: reads `~/.config/mq-pub`, parses `argv` (its first item names the program, e.g.
/// `mq pub`) with Mosquitto's usage conventions, runs, and returns the exit status; `name` is used in
/// messages (`Use 'mq pub --help' to see usage.`).
pub fn pub_cli(argv: impl IntoIterator<Item = std::ffi::OsString>, name: &'static str) -> ExitCode {
    let args: PubArgs = mq_cli::usage::parse_args_or_exit(mq_cli::Tool { name, options_file: "mq-pub" }, argv);
    pub_main(args, name)
}

/// `mq sub ARGS...`: as [`pub_cli`], with `~/.config/mq-sub`.
pub fn sub_cli(argv: impl IntoIterator<Item = std::ffi::OsString>, name: &'static str) -> ExitCode {
    let args: SubArgs = mq_cli::usage::parse_args_or_exit(mq_cli::Tool { name, options_file: "mq-sub" }, argv);
    sub_main(args, name)
}

/// `mq rr ARGS...`: as [`pub_cli`], with `~/.config/mq-rr`.
pub fn rr_cli(argv: impl IntoIterator<Item = std::ffi::OsString>, name: &'static str) -> ExitCode {
    let args: RrArgs = mq_cli::usage::parse_args_or_exit(mq_cli::Tool { name, options_file: "mq-rr" }, argv);
    rr_main(args, name)
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
