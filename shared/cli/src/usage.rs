//! Parsing a command line with clap, the Mosquitto way.
//!
//! clap parses; this module makes the outcome look like Mosquitto's clients:
//!
//! - `--help` prints the usage on stdout and exits 1 (as `mosquitto_pub --help` does), `--version` too;
//! - an unknown option is `Error: Unknown option '-z'.`;
//! - an option without its value is `Error: -p argument given but no port specified.` (the noun is the
//!   option's value name, with `_` read as a space);
//! - a value a parser rejects prints the parser's own message, so value parsers can carry Mosquitto's
//!   texts (`Invalid QoS given: 3`);
//! - every usage error ends with an empty line and `Use '<tool> --help' to see usage.` on stderr, status 1.
//!
//! Mosquitto prints some messages with an extra empty line before the hint (its format strings end in
//! `\n\n`); a message that ends in `\n` reproduces that.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use crate::exit::Failure;
use crate::options_file;

/// How a tool names itself and where its options file lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// Name in messages (`Use 'mq-pub --help' ...`), e.g. `mq-pub` or `mq pub`.
    pub name: &'static str,
    /// Options file name under the configuration directory, e.g. `mq-pub`.
    pub options_file: &'static str,
}

/// A usage error, printed as Mosquitto's clients print theirs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// The text after `Error: `; a trailing `\n` adds Mosquitto's extra empty line.
    pub message: String,
    /// Print the full usage on stdout instead of the `Use '... --help'` hint (as `mosquitto_pub` does when
    /// the topic or the message is missing).
    pub show_usage: bool,
}

impl UsageError {
    /// An error shown with the `--help` hint.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError { message: message.into(), show_usage: false }
    }

    /// An error followed by the full usage.
    pub fn with_usage(message: impl Into<String>) -> Self {
        UsageError { message: message.into(), show_usage: true }
    }

    /// The lines to print (stderr) and the usage text (stdout) for tool `tool` whose help is `help`.
    pub fn failure(&self, tool: &str, help: impl FnOnce() -> String) -> Failure {
        let mut lines: Vec<String> = self.message.split('\n').map(|l| format!("Error: {l}")).collect();
        // Only the first line carries the prefix; continuation lines (and the empty line a trailing `\n`
        // leaves) are printed as they are.
        for l in lines.iter_mut().skip(1) {
            *l = l.trim_start_matches("Error: ").to_string();
        }
        if self.show_usage {
            return Failure { stdout: Some(help()), always: true, ..Failure::new(1, lines) };
        }
        lines.push(String::new());
        lines.push(format!("Use '{tool} --help' to see usage."));
        Failure { always: true, ..Failure::new(1, lines) }
    }
}

/// A value parser that offers `values` to shell completion and the man pages while `parse` keeps doing
/// the checking, with its own (Mosquitto's) error messages: `-V` offers `mqttv5`, `5`, ... and still says
/// `Invalid protocol version argument given.` for anything else.
#[derive(Clone)]
pub struct Completing<P> {
    parse: P,
    values: &'static [&'static str],
}

impl<P> Completing<P> {
    /// `parse` checks and converts; `values` are what completion offers.
    pub fn new(parse: P, values: &'static [&'static str]) -> Self {
        Completing { parse, values }
    }
}

impl<P: clap::builder::TypedValueParser> clap::builder::TypedValueParser for Completing<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        self.parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(self.values.iter().map(|v| clap::builder::PossibleValue::new(*v))))
    }
}

/// Parses `argv` (program name first) into `T`. On failure, or for `--help`/`--version`, returns what to
/// print and the exit status instead.
pub fn try_parse<T: Parser>(tool: &str, argv: Vec<OsString>) -> Result<T, Failure> {
    T::try_parse_from(argv).map_err(|e| from_clap::<T>(tool, &e))
}

/// Reads the tool's options file, prepends it to this process's arguments and parses them into `T`; on
/// failure prints as Mosquitto does and exits.
pub fn parse_or_exit<T: Parser>(tool: Tool) -> T {
    parse_args_or_exit(tool, std::env::args_os())
}

/// [`parse_or_exit`] for a given argument list (program name first), e.g. what follows `mq pub`.
pub fn parse_args_or_exit<T: Parser>(tool: Tool, argv: impl IntoIterator<Item = OsString>) -> T {
    let result = match options_file::path(tool.options_file).map(|p| (options_file::read(&p), p)) {
        Some((Err(e), p)) => Err(UsageError::new(format!("Unable to read options file {}: {e}.", p.display()))
            .failure(tool.name, String::new)),
        Some((Ok(file_args), _)) => try_parse::<T>(tool.name, options_file::prepend(file_args, argv)),
        None => try_parse::<T>(tool.name, argv.into_iter().collect()),
    };
    match result {
        Ok(args) => args,
        Err(f) => {
            let code = f.code;
            let _ = crate::exit::finish(Err(f), &());
            std::process::exit(i32::from(code))
        }
    }
}

/// Translates a clap error into Mosquitto's message and status.
pub fn from_clap<T: CommandFactory>(tool: &str, e: &clap::Error) -> Failure {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::DisplayVersion => {
            // Mosquitto's clients exit 1 after printing their usage or version.
            Failure { stdout: Some(e.render().to_string()), always: true, ..Failure::silent(1) }
        }
        _ => usage_error::<T>(e).failure(tool, || T::command().render_help().to_string()),
    }
}

fn context_str(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// The option as Mosquitto names it in messages: the short form when there is one.
fn flag_of<T: CommandFactory>(display: &str) -> (String, Option<String>) {
    // clap shows the option as `--port <port>` (or `-p <port>` for short-only options).
    let word = display.split_whitespace().next().unwrap_or(display).trim_end_matches('=');
    let cmd = T::command();
    let arg = cmd.get_arguments().find(|a| {
        word.strip_prefix("--").is_some_and(|l| a.get_long() == Some(l))
            || word.strip_prefix('-').is_some_and(|s| s.chars().eq(a.get_short()))
    });
    let Some(arg) = arg else { return (word.to_string(), None) };
    let flag = match arg.get_short() {
        Some(s) => format!("-{s}"),
        None => word.to_string(),
    };
    let noun = arg.get_value_names().and_then(|n| n.first()).map(|n| n.to_string().replace('_', " "));
    (flag, noun)
}

fn usage_error<T: CommandFactory>(e: &clap::Error) -> UsageError {
    let arg = context_str(e, ContextKind::InvalidArg);
    match e.kind() {
        ErrorKind::UnknownArgument => UsageError::new(format!("Unknown option '{}'.", arg.unwrap_or_default())),
        ErrorKind::InvalidValue if context_str(e, ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) => {
            let (flag, noun) = flag_of::<T>(&arg.unwrap_or_default());
            UsageError::new(format!("{flag} argument given but no {} specified.\n", noun.unwrap_or("value".into())))
        }
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            let (flag, _) = flag_of::<T>(&arg.unwrap_or_default());
            UsageError::new(format!("{flag} argument given but not enough arguments specified.\n"))
        }
        ErrorKind::ValueValidation => match std::error::Error::source(e) {
            Some(source) => UsageError::new(source.to_string()),
            None => UsageError::new(clap_text(e)),
        },
        _ => UsageError::new(clap_text(e)),
    }
}

/// clap's own message without its `error: ` prefix and usage tail, for cases Mosquitto has no text for.
fn clap_text(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut s = first.to_string();
    if let Some(c) = s.get(..1) {
        s.replace_range(..1, &c.to_uppercase());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qos(s: &str) -> Result<u8, String> {
        match s.parse::<u8>() {
            Ok(q @ 0..=2) => Ok(q),
            _ => Err(format!("Invalid QoS given: {s}")),
        }
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "t", disable_help_flag = true, disable_version_flag = true, args_override_self = true)]
    struct Args {
        #[arg(short = 'h', long = "host", value_name = "host")]
        host: Option<String>,
        #[arg(short = 'q', long = "qos", value_name = "QoS", value_parser = qos)]
        qos: Option<u8>,
        #[arg(long = "will-topic", value_name = "will_topic")]
        will_topic: Option<String>,
        #[arg(short = 't', value_name = "topic", action = clap::ArgAction::Append)]
        topics: Vec<String>,
        #[arg(short = 'D', long = "property", num_args = 3..=4)]
        props: Vec<String>,
        #[arg(long, action = clap::ArgAction::Help)]
        help: Option<bool>,
    }

    fn fail(args: &[&str]) -> Failure {
        let argv = std::iter::once("t").chain(args.iter().copied()).map(OsString::from).collect();
        try_parse::<Args>("t", argv).unwrap_err()
    }

    #[test]
    fn unknown_option() {
        assert_eq!(fail(&["-z"]).lines, ["Error: Unknown option '-z'.", "", "Use 't --help' to see usage."]);
        assert_eq!(fail(&["--nope"]).lines[0], "Error: Unknown option '--nope'.");
        assert_eq!(fail(&["stray"]).lines[0], "Error: Unknown option 'stray'.");
    }

    #[test]
    fn missing_value_uses_the_short_flag_and_value_name() {
        let f = fail(&["--host"]);
        assert_eq!(
            f.lines,
            ["Error: -h argument given but no host specified.", "", "", "Use 't --help' to see usage."]
        );
        assert_eq!(f.code, 1);
        assert_eq!(fail(&["-q"]).lines[0], "Error: -q argument given but no QoS specified.");
        assert_eq!(fail(&["--will-topic"]).lines[0], "Error: --will-topic argument given but no will topic specified.");
    }

    #[test]
    fn value_parser_message_is_kept() {
        assert_eq!(fail(&["-q", "3"]).lines, ["Error: Invalid QoS given: 3", "", "Use 't --help' to see usage."]);
    }

    #[test]
    fn too_few_property_values() {
        assert_eq!(fail(&["-D", "a", "b"]).lines[0], "Error: -D argument given but not enough arguments specified.");
    }

    #[test]
    fn help_goes_to_stdout_with_status_1() {
        let f = fail(&["--help"]);
        assert_eq!(f.code, 1);
        assert!(f.lines.is_empty());
        assert!(f.stdout.unwrap().contains("--host"));
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let argv = ["t", "-h", "a", "-h", "b", "-t", "x", "-t", "y"].map(OsString::from).to_vec();
        let a = try_parse::<Args>("t", argv).unwrap();
        assert_eq!(a.host.as_deref(), Some("b"));
        assert_eq!(a.topics, ["x", "y"]);
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "c")]
    struct Offered {
        #[arg(short = 'q', value_parser = Completing::new(qos, &["0", "1", "2"]), hide_possible_values = true)]
        qos: Option<u8>,
    }

    #[test]
    fn completing_parser_offers_values_and_keeps_its_messages() {
        let cmd = Offered::command();
        let arg = cmd.get_arguments().find(|a| a.get_id() == "qos").unwrap();
        let offered: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
        assert_eq!(offered, ["0", "1", "2"]);
        let argv = ["c", "-q", "7"].map(OsString::from).to_vec();
        assert_eq!(try_parse::<Offered>("c", argv).unwrap_err().lines[0], "Error: Invalid QoS given: 7");
        let argv = ["c", "-q", "2"].map(OsString::from).to_vec();
        assert_eq!(try_parse::<Offered>("c", argv).unwrap().qos, Some(2));
    }

    #[test]
    fn hyphen_values_are_not_options_by_default() {
        assert_eq!(fail(&["-h", "-q"]).lines[0], "Error: -h argument given but no host specified.");
    }
}
