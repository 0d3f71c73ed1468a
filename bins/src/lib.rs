//! The `mq` umbrella command: `mq broker`, `mq pub`, `mq sub`, `mq rr`, `mq passwd` (and `mq bench`). Every subcommand reuses the argument types of the library behind the standalone tool, so
//! `mq passwd` and `mq-passwd` cannot drift. The generated man pages and completions come from
//! [`command`].

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// mq: an MQTT broker and the command-line tools that go with it, speaking Mosquitto's flags,
/// configuration files and password files.
#[derive(Debug, Parser)]
#[command(name = "mq", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `mq`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MQTT broker (mosquitto).
    Broker(mq_broker::BrokerArgs),
    /// Publish a message (mosquitto_pub); the same options as mq-pub.
    Pub(mq_client::PubArgs),
    /// Subscribe and print messages (mosquitto_sub); the same options as mq-sub.
    Sub(mq_client::SubArgs),
    /// Send a request and wait for the response (mosquitto_rr); the same options as mq-rr.
    Rr(mq_client::RrArgs),
    /// Manage password files (mosquitto_passwd).
    #[command(disable_help_flag = true)]
    Passwd(mq_passwd::cli::PasswdArgs),
    /// Load-test a broker: many connections, publishers or subscribers from one process.
    #[command(disable_help_flag = true)]
    Bench(mq_bench::BenchArgs),
    /// Inspect, check, dump or compact the broker's persistent store, or import Mosquitto's into it.
    Db(mq_broker::db::DbArgs),
}

/// The `mq` command definition, for documentation generators.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Every command that gets a man page and completions: `(file stem, definition)`. `mq broker` has a
/// page of its own (`mq-broker.1`) since it has no standalone binary.
pub fn documented_commands() -> Vec<(&'static str, clap::Command)> {
    let broker = mq_broker::BrokerArgs::command().name("mq-broker").bin_name("mq broker");
    let bench = mq_bench::BenchArgs::command().name("mq-bench").bin_name("mq bench");
    let db = mq_broker::db::DbArgs::command().name("mq-db").bin_name("mq db");
    vec![
        ("mq", Cli::command()),
        ("mq-broker", broker),
        ("mq-pub", mq_client::PubArgs::command()),
        ("mq-sub", mq_client::SubArgs::command()),
        ("mq-rr", mq_client::RrArgs::command()),
        ("mq-passwd", mq_passwd::cli::PasswdArgs::command()),
        ("mq-bench", bench),
        ("mq-db", db),
    ]
}

/// Exit status of `mq broker` given an unknown option or an option without its value (Mosquitto's 3).
const BROKER_USAGE_EXIT: u8 = 3;

/// Runs `mq` with the process arguments and returns its exit status.
pub fn main_mq() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The client tools parse their own way (options file, Mosquitto's usage errors), with the
    // subcommand's name in their messages.
    let rest = || args.iter().skip(2).cloned();
    let named = |name: &str| std::iter::once(std::ffi::OsString::from(name)).chain(rest());
    match args.get(1).and_then(|a| a.to_str()) {
        Some("pub") => {
            let tool = mq_cli::Tool { name: "mq pub", ..mq_client::PUB_TOOL };
            return mq_client::pub_main(mq_cli::usage::parse_args_or_exit(tool, named(tool.name)), tool.name);
        }
        Some("sub") => {
            let tool = mq_cli::Tool { name: "mq sub", ..mq_client::SUB_TOOL };
            return mq_client::sub_main(mq_cli::usage::parse_args_or_exit(tool, named(tool.name)), tool.name);
        }
        Some("rr") => {
            let tool = mq_cli::Tool { name: "mq rr", ..mq_client::RR_TOOL };
            return mq_client::rr_main(mq_cli::usage::parse_args_or_exit(tool, named(tool.name)), tool.name);
        }
        _ => {}
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // `mq passwd` reports usage errors as mosquitto_passwd does (exit 1).
            if args.get(1).is_some_and(|a| a == "passwd") && !matches!(e.kind(), clap::error::ErrorKind::DisplayVersion)
            {
                return mq_cli::finish(Err(mq_passwd::cli::PasswdError::from(e)), &());
            }
            // A bad command line makes `mosquitto` exit 3, as a bad configuration does.
            if args.get(1).is_some_and(|a| a == "broker") && e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(BROKER_USAGE_EXIT);
            }
            e.exit();
        }
    };
    match cli.command {
        Command::Broker(args) => broker(args),
        Command::Pub(args) => mq_client::pub_main(args, "mq pub"),
        Command::Sub(args) => mq_client::sub_main(args, "mq sub"),
        Command::Rr(args) => mq_client::rr_main(args, "mq rr"),
        Command::Passwd(args) => mq_cli::finish(mq_passwd::cli::run(args), &()),
        Command::Bench(args) => mq_cli::finish(mq_bench::run(args), &()),
        Command::Db(args) => mq_cli::finish(mq_broker::db::run(args, &mut std::io::stdout().lock()), &()),
    }
}

/// Runs the broker; errors are printed once, each configuration error on a line of its own, and mapped
/// to Mosquitto's exit statuses (by `mq_broker::BrokerError`'s `mq_cli::Report` implementation).
pub fn broker(args: mq_broker::BrokerArgs) -> ExitCode {
    mq_cli::finish(mq_broker::run(args), &())
}
