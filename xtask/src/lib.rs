//! Generation of the committed `completions/` and `man/` from the clap definitions of every `mq` command,
//! of `mq.conf(5)` and README's table of mosquitto.conf support from the configuration parser's option
//! table ([`mq_config::OPTIONS`]), and the check that they are up to date (`cargo xtask gen`,
//! `cargo xtask check`, and a test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Renders every generated file: relative path → contents.
pub fn render() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (stem, cmd) in mq::documented_commands() {
        for (name, page_cmd) in pages(stem, &cmd) {
            let mut page = Vec::new();
            clap_mangen::Man::new(page_cmd).render(&mut page).expect("rendering to memory cannot fail");
            if name == "mq-broker" {
                page = with_broker_sections(page);
            }
            files.insert(PathBuf::from(format!("man/{name}.1")), page);
        }
        if stem == "mq-broker" || stem == "mq-bench" || stem == "mq-db" {
            // Completions come with `mq`'s own (`mq broker ...`).
            continue;
        }
        for (shell, name) in [
            (Shell::Bash, format!("{stem}.bash")),
            (Shell::Zsh, format!("_{stem}")),
            (Shell::Fish, format!("{stem}.fish")),
        ] {
            let mut out = Vec::new();
            let mut c = cmd.clone();
            clap_complete::generate(shell, &mut c, stem, &mut out);
            if shell == Shell::Bash {
                out = bash_host_names(&cmd, out);
            }
            files.insert(PathBuf::from(format!("completions/{name}")), out);
        }
    }
    files.insert(PathBuf::from("man/mq.conf.5"), conf_page().into_bytes());
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    if let Ok(readme) = std::fs::read_to_string(&readme_path) {
        files.insert(PathBuf::from("README.md"), with_support_table(&readme).into_bytes());
    }
    files
}

/// `mq-broker(1)` with what clap does not describe: signals, files and exit statuses (before VERSION).
fn with_broker_sections(page: Vec<u8>) -> Vec<u8> {
    const SECTIONS: &str = r#".SH SIGNALS
.TP
\fBSIGHUP\fR
Reload: read the configuration file again and apply what can change while running (log settings,
limits, bridges), and read the password, ACL and TLS certificate files again. Connected clients keep
their sessions. A file that fails keeps the configuration in force and the log says why. Under systemd
(\fBsystemctl reload mq\fR) the broker reports RELOADING=1, then READY=1.
.TP
\fBSIGINT\fR, \fBSIGTERM\fR
Stop: publish the wills of connected clients, deliver what is queued to them, close every connection,
remove the pid file, exit 0.
.TP
\fBSIGUSR1\fR
Logged and otherwise ignored: every change is already stored as it happens (Mosquitto saves its
database then).
.TP
\fBSIGUSR2\fR
Write the subscription table to the log.
.SH FILES
.TP
\fI/etc/mq/mq.conf\fR
The configuration the Debian package's service (\fBmq.service\fR) runs the broker with; its options
and their support: \fBmq.conf\fR(5).
.TP
\fI/var/lib/mq\fR
The package's persistence_location: the store (\fImosquitto.db.mq\fR, a directory) with sessions,
queued and retained messages.
.TP
\fBpid_file\fR, \fBlog_dest file\fR
Written where the configuration says; \-\-test\-config checks they can be.
.SH "EXIT STATUS"
.TP
0
Stopped by SIGINT or SIGTERM; or \-\-test\-config found the configuration good.
.TP
1
Could not start: a listener could not be opened, the user to switch to does not exist, the store could
not be opened.
.TP
3
A bad command line, or a configuration (or a file it names) with errors, each printed as
\fIfile\fR:\fIline\fR: what and why.
"#;
    let text = String::from_utf8(page).expect("clap_mangen writes UTF-8");
    match text.find(".SH VERSION") {
        Some(at) => format!("{}{SECTIONS}{}", &text[..at], &text[at..]).into_bytes(),
        None => format!("{text}{SECTIONS}").into_bytes(),
    }
}

/// The groups options are listed in, by scope.
fn groups() -> Vec<(&'static str, Vec<&'static mq_config::OptionInfo>)> {
    use mq_config::OptionScope as S;
    let by = |scopes: &[S]| mq_config::OPTIONS.iter().filter(|o| scopes.contains(&o.scope)).collect::<Vec<_>>();
    vec![
        ("General, logging, persistence and limits", by(&[S::Global, S::Include])),
        ("Security (per listener with per_listener_settings true)", by(&[S::Security])),
        ("Listeners", by(&[S::ListenerSection, S::DefaultListener, S::Listener])),
        ("Bridges", by(&[S::BridgeSection, S::Bridge])),
        ("Plugin options", by(&[S::PluginOption])),
        ("Removed from Mosquitto", by(&[S::Removed])),
    ]
}

/// An option's name as written (`auth_opt_*` for a family).
fn shown(o: &mq_config::OptionInfo) -> String {
    if o.name.ends_with('_') { format!("{}*", o.name) } else { o.name.to_owned() }
}

/// roff text with its special characters escaped.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-").replace('`', "");
    // A line may not start with a control character.
    if t.starts_with('.') || t.starts_with('\'') { format!("\\&{t}") } else { t }
}

/// `mq.conf(5)`: every option of the parser's table with its support.
fn conf_page() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut p = String::new();
    p.push_str(&format!(".TH MQ.CONF 5 \"\" \"mq {version}\" \"File Formats\"\n"));
    p.push_str(".SH NAME\nmq.conf \\- configuration file of mq broker (mosquitto.conf syntax)\n");
    p.push_str(".SH SYNOPSIS\n\\fB/etc/mq/mq.conf\\fR\n");
    p.push_str(".SH DESCRIPTION\n");
    p.push_str(
        "\\fBmq broker \\-c\\fR reads Mosquitto 2.0's configuration file format: one option per line, \
         \\fIname value\\fR; lines starting with # are comments. \\fBlistener\\fR \\fIport\\fR [\\fIaddress\\fR] \
         starts a listener section, \\fBconnection\\fR \\fIname\\fR a bridge section; \\fBinclude_dir\\fR reads \
         the *.conf files of a directory. Options mean what mosquitto.conf(5) says they mean.\n.PP\n",
    );
    p.push_str(
        "Every error is reported at once, as \\fIfile\\fR:\\fIline\\fR: what and why, and the broker does not \
         start. \\fBmq broker \\-\\-test\\-config \\-c\\fR \\fIfile\\fR checks a file (and the files it names) \
         without starting. SIGHUP reloads it.\n.PP\nEach option below is marked:\n",
    );
    for (label, what) in [
        ("supported", "does what Mosquitto 2.0 does;"),
        ("partly", "some values work, the others are refused at start with the line and why;"),
        ("accepted, moot", "read and checked, but has nothing to do in mq;"),
        ("refused", "the broker refuses to start, naming the line and why;"),
        ("removed, ignored", "removed from Mosquitto before 2.0: a warning, and the line is ignored."),
    ] {
        p.push_str(&format!(".TP\n\\fI{label}\\fR\n{what}\n"));
    }
    p.push_str(".SH OPTIONS\n");
    for (title, options) in groups() {
        p.push_str(&format!(".SS {title}\n"));
        for o in options {
            let status = o.support.label();
            let line = if o.note.is_empty() { status.to_owned() } else { format!("{status}: {}", o.note) };
            p.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(&shown(o)), roff(&line)));
        }
    }
    p.push_str(".SH FILES\n.TP\n\\fI/etc/mq/mq.conf\\fR\nThe configuration the mq service reads.\n");
    p.push_str(".SH SEE ALSO\nmq\\-broker(1), mq\\-passwd(1), mosquitto.conf(5)\n");
    p
}

const TABLE_START: &str = "<!-- mosquitto.conf support table: generated from mq_config::OPTIONS by cargo xtask gen -->";
const TABLE_END: &str = "<!-- end of generated table -->";

/// README's mosquitto.conf support table, from the same option table as `mq.conf(5)`.
pub fn support_table() -> String {
    use mq_config::Support;
    let mut t = String::from("| Options | Status | Why |\n|---|---|---|\n");
    for (title, options) in groups() {
        let names = |s: Support| {
            options.iter().filter(|o| o.support == s).map(|o| format!("`{}`", shown(o))).collect::<Vec<_>>()
        };
        let supported = names(Support::Supported);
        if !supported.is_empty() {
            t.push_str(&format!("| {title}: {} | supported | |\n", supported.join(" ")));
        }
        let removed = names(Support::Removed);
        if !removed.is_empty() {
            t.push_str(&format!("| {} | removed, ignored | a warning at start |\n", removed.join(" ")));
        }
        for o in options.iter().filter(|o| matches!(o.support, Support::Partial | Support::Moot | Support::Refused)) {
            t.push_str(&format!("| `{}` | {} | {} |\n", shown(o), o.support.label(), o.note));
        }
    }
    t
}

/// `readme` with the text between the table's markers replaced by [`support_table`] (unchanged when
/// the markers are missing: the freshness test then fails on the README check).
fn with_support_table(readme: &str) -> String {
    let (Some(start), Some(end)) = (readme.find(TABLE_START), readme.find(TABLE_END)) else {
        return readme.to_owned();
    };
    let head = &readme[..start + TABLE_START.len()];
    format!("{head}\n{}{}", support_table(), &readme[end..])
}

/// clap_complete's bash script completes every value without possible values as a file name; options
/// whose value is a host name (`-h`, `-A`) complete host names instead, as the zsh and fish scripts do.
fn bash_host_names(cmd: &clap::Command, script: Vec<u8>) -> Vec<u8> {
    fn spellings(cmd: &clap::Command, host: bool, out: &mut Vec<String>) {
        for a in cmd.get_arguments().filter(|a| a.get_action().takes_values() && !a.is_positional()) {
            if (a.get_value_hint() == clap::ValueHint::Hostname) == host {
                out.extend(a.get_short().map(|c| format!("-{c})")));
                out.extend(a.get_long().map(|l| format!("--{l})")));
            }
        }
        for sub in cmd.get_subcommands() {
            spellings(sub, host, out);
        }
    }
    let (mut hosts, mut others) = (Vec::new(), Vec::new());
    spellings(cmd, true, &mut hosts);
    spellings(cmd, false, &mut others);
    // The script's case labels do not say which subcommand they belong to: a spelling that is a host
    // name in one and something else in another could not be told apart.
    assert!(!hosts.iter().any(|h| others.contains(h)), "{:?} is a host name option and another option", hosts);
    let text = String::from_utf8(script).expect("clap_complete writes UTF-8");
    let file = "COMPREPLY=($(compgen -f \"${cur}\"))";
    let host = "COMPREPLY=($(compgen -A hostname -- \"${cur}\"))";
    let mut out = String::with_capacity(text.len());
    let mut in_host_case = false;
    for line in text.split_inclusive('\n') {
        if in_host_case && line.trim() == file {
            out.push_str(&line.replace(file, host));
        } else {
            out.push_str(line);
        }
        in_host_case = hosts.iter().any(|h| line.trim() == h);
    }
    out.into_bytes()
}

/// The man pages of one documented command: its own, and one per subcommand for `mq bench` and `mq db`
/// (`mq`'s subcommands are the standalone commands, with pages of their own). Clap's `help` subcommand
/// gets no page and is not listed (`--help` is). Each synopsis names the options' values.
fn pages(stem: &str, cmd: &clap::Command) -> Vec<(String, clap::Command)> {
    let cmd = cmd.clone().disable_help_subcommand(true);
    let mut out = Vec::new();
    if stem != "mq" {
        let bin = cmd.get_bin_name().unwrap_or(stem).to_owned();
        for sub in cmd.get_subcommands() {
            let name = format!("{stem}-{}", sub.get_name());
            // Clap names are `&'static str` without its `string` feature; xtask runs once and exits.
            let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
            let mut sub = sub.clone().name(static_name).bin_name(format!("{bin} {}", sub.get_name()));
            // Detached from its parent, it would get clap's own -h/--help and -V/--version besides the
            // ones it defines (-h is the host, -V the protocol version).
            let has = |sub: &clap::Command, short: char, long: &str| {
                sub.get_arguments().any(|a| a.get_short() == Some(short) || a.get_long() == Some(long))
            };
            if has(&sub, 'h', "help") {
                sub = sub.disable_help_flag(true);
            }
            if has(&sub, 'V', "version") {
                sub = sub.disable_version_flag(true);
            }
            out.push((name, with_synopsis(sub)));
        }
    }
    out.insert(0, (stem.to_owned(), with_synopsis(cmd)));
    out
}

/// `cmd` with a synopsis that shows each option with its value (`[-C count]`), positionals and the
/// subcommand slot, in definition order.
fn with_synopsis(cmd: clap::Command) -> clap::Command {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_owned();
    let mut parts = vec![name];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => continue,
        };
        let takes = arg.get_action().takes_values();
        let value = if takes {
            let names: Vec<String> = arg.get_value_names().map_or_else(
                || vec![arg.get_id().as_str().to_lowercase()],
                |v| v.iter().map(|n| n.as_str().to_lowercase()).collect(),
            );
            format!(" {}", names.join(" "))
        } else {
            String::new()
        };
        let text = format!("{flag}{value}");
        parts.push(if arg.is_required_set() { text } else { format!("[{text}]") });
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let n = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| arg.get_id().as_str().to_lowercase(), |n| n.as_str().to_lowercase());
        parts.push(if arg.is_required_set() { n } else { format!("[{n}]") });
    }
    if cmd.has_subcommands() {
        parts.push("<command>".to_owned());
    }
    let usage = parts.join(" ");
    cmd.override_usage(usage)
}

/// Writes the generated files under `root`.
pub fn write(root: &Path) -> std::io::Result<()> {
    for (rel, data) in render() {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, data)?;
    }
    Ok(())
}

/// Paths under `root` whose contents differ from what would be generated (missing files included).
pub fn stale(root: &Path) -> Vec<PathBuf> {
    render()
        .into_iter()
        .filter(|(rel, data)| std::fs::read(root.join(rel)).ok().as_ref() != Some(data))
        .map(|(rel, _)| rel)
        .collect()
}
