//! Command-line behaviour of `mq-pub`, `mq-sub` and `mq-rr` without a broker (or with a closed port):
//! usage errors and runtime errors byte-identical to Mosquitto's clients (stderr and exit status, run side
//! by side when Mosquitto is installed), `--help`, options files, TLS options refused before connecting.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::client_util::*;
use crate::harness::{command, mosquitto_bin, mq};

/// Argument lists and the first stderr line both tools print for them. `{port}` is a closed port.
const CASES: &[(&str, &[&str], &str)] = &[
    ("pub", &["-z"], "Error: Unknown option '-z'."),
    ("pub", &["-p"], "Error: -p argument given but no port specified."),
    ("pub", &["-t"], "Error: -t argument given but no topic specified."),
    ("pub", &["-q"], "Error: -q argument given but no QoS specified."),
    ("pub", &["-q", "3", "-t", "a", "-m", "x"], "Error: Invalid QoS given: 3"),
    ("pub", &["-p", "70000", "-t", "a", "-m", "x"], "Error: Invalid port given: 70000"),
    (
        "pub",
        &["-k", "2", "-t", "a", "-m", "x"],
        "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.",
    ),
    ("pub", &["-t", "a/#", "-m", "x"], "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?"),
    ("pub", &["-i", "a", "-I", "b", "-t", "a", "-m", "x"], "Error: -i and -I argument cannot be used together."),
    ("pub", &["-c", "-t", "a", "-m", "x"], "Error: You must provide a client id if you are using the -c option."),
    (
        "pub",
        &["-c", "-V", "5", "-t", "a", "-m", "x"],
        "Error: You must provide a client id if you are using an infinite session expiry interval.",
    ),
    ("pub", &["--will-payload", "x", "-t", "a", "-m", "x"], "Error: Will payload given, but no will topic given."),
    ("pub", &["--will-retain", "-t", "a", "-m", "x"], "Error: Will retain given, but no will topic given."),
    (
        "pub",
        &["--will-topic", "a/+", "-t", "a", "-m", "x"],
        "Error: Invalid will topic 'a/+', does it contain '+' or '#'?",
    ),
    ("pub", &["--will-qos", "3", "--will-topic", "a", "-t", "a", "-m", "x"], "Error: Invalid will QoS 3."),
    ("pub", &["-V", "4", "-t", "a", "-m", "x"], "Error: Invalid protocol version argument given."),
    (
        "pub",
        &["-t", "a", "-m", "x", "-D", "publish", "foo", "bar"],
        "Error: Invalid property name given in --property argument.",
    ),
    (
        "pub",
        &["-t", "a", "-m", "x", "-D", "bogus", "content-type", "b"],
        "Error: Invalid command given in --property argument.",
    ),
    (
        "pub",
        &["-t", "a", "-m", "x", "-D", "connect", "content-type", "b"],
        "Error: content-type property not allowed for connect in --property argument.",
    ),
    (
        "pub",
        &["-t", "a", "-m", "x", "-D", "publish", "user-property", "k"],
        "Error: --property argument given but not enough arguments specified.",
    ),
    (
        "pub",
        &["-t", "a", "-m", "x", "--cert", "a"],
        "Error: Both certfile and keyfile must be provided if one of them is set.",
    ),
    ("pub", &["-t", "a", "-m", "x", "-n"], "Error: Only one type of message can be sent at once."),
    ("pub", &["-t", "a"], "Error: Both topic and message must be supplied."),
    ("pub", &["--repeat", "0", "-t", "a", "-m", "x"], "Error: --repeat argument must be >0."),
    ("pub", &["-M", "0", "-t", "a", "-m", "x"], "Error: Maximum inflight messages must be greater than 0."),
    ("pub", &["-C", "3", "-t", "a", "-m", "x"], "Error: Unknown option '-C'."),
    ("pub", &["-v", "-t", "a", "-m", "x"], "Error: Unknown option '-v'."),
    ("pub", &["-L", "http://x/t", "-m", "x"], "Error: unsupported URL scheme."),
    ("pub", &["-L", "mqtt://localhost", "-m", "x"], "Error: Invalid URL for -L argument specified - topic missing."),
    ("pub", &["-x", "abc", "-V", "5", "-t", "a", "-m", "x"], "Error: session-expiry-interval not a number."),
    ("pub", &["-p", "{port}", "-t", "a", "-m", "x"], "Error: Connection refused"),
    ("pub", &["-t", "a", "-f", "/nonexistent"], "Error: Unable to open file \"/nonexistent\"."),
    ("sub", &["-z"], "Error: Unknown option '-z'."),
    ("sub", &[], "Error: You must specify a topic to subscribe to."),
    ("sub", &["-t", "a/#/b"], "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?"),
    ("sub", &["-C", "0", "-t", "a"], "Error: Invalid message count \"0\"."),
    ("sub", &["-W", "0", "-t", "a"], "Error: Invalid timeout \"0\"."),
    ("sub", &["-m", "x", "-t", "a"], "Error: Unknown option '-m'."),
    ("sub", &["-T", "a/#/b", "-t", "a"], "Error: Invalid filter topic 'a/#/b', are all '+' and '#' wildcards correct?"),
    (
        "sub",
        &["-U", "#/x", "-t", "a"],
        "Error: Invalid unsubscribe topic '#/x', are all '+' and '#' wildcards correct?",
    ),
    ("sub", &["-F", "%e", "-t", "a"], "Error: Invalid format specifier 'e'."),
    ("sub", &["-F", "%", "-t", "a"], "Error: Incomplete format specifier."),
    ("sub", &["-F", "x\\q", "-t", "a"], "Error: Invalid escape specifier 'q'."),
    ("sub", &["-t", "a", "--random-filter", "0"], "Error: --random-filter chance must be between 0.1-100.0"),
    ("sub", &["-t", "a", "-r"], "Error: Unknown option '-r'."),
    ("sub", &["-p", "{port}", "-t", "a"], "Error: Connection refused"),
    ("rr", &["-t", "a"], "Error: All of topic, message, and response topic must be supplied."),
    ("rr", &["-C", "1"], "Error: Unknown option '-C'."),
    ("rr", &["-t", "a", "-e", "b/#", "-m", "x"], "Error: Invalid response topic 'b/#', does it contain '+' or '#'?"),
    ("rr", &["-t", "a", "-e", "b", "-m", "x", "-p", "{port}"], "Error: Connection refused"),
];

/// A port nothing listens on (bound and released).
fn closed_port() -> String {
    crate::harness::free_port().to_string()
}

fn with_port(args: &[&str], port: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{port}", port)).collect()
}

#[test]
fn errors_and_statuses_match_mosquitto() {
    let port = closed_port();
    for (tool, args, first_line) in CASES {
        let args = with_port(args, &port);
        let ours = run(mq(&format!("mq-{tool}")).args(&args));
        assert_eq!(ours.code(), 1, "mq-{tool} {args:?}: {ours:?}");
        assert_eq!(ours.stderr.lines().next(), Some(*first_line), "mq-{tool} {args:?}");
        let Some(theirs) = mosquitto_bin(&format!("mosquitto_{tool}")) else { continue };
        let theirs = run(command(theirs).args(&args));
        let expected = theirs.stderr.replace(&format!("mosquitto_{tool}"), &format!("mq-{tool}"));
        assert_eq!((ours.code(), ours.stderr.as_str()), (theirs.code(), expected.as_str()), "mq-{tool} {args:?}");
    }
}

#[test]
fn quiet_silences_runtime_errors_not_usage_errors() {
    let port = closed_port();
    let r = run(mq("mq-sub").args(["--quiet", "-p", &port, "-t", "a"]));
    assert_eq!((r.code(), r.stderr.as_str()), (1, ""));
    let r = run(mq("mq-sub").args(["--quiet", "-q", "5", "-t", "a"]));
    assert_eq!((r.code(), r.stderr.lines().next()), (1, Some("Error: Invalid QoS given: 5")));
}

#[test]
fn help_prints_usage_and_exits_1_like_mosquitto() {
    for tool in ["mq-pub", "mq-sub", "mq-rr"] {
        let r = run(mq(tool).arg("--help"));
        assert_eq!(r.code(), 1, "{tool}");
        assert!(r.out().contains("Usage:") && r.out().contains("--pw-file"), "{tool}: {}", r.out());
        let r = run(mq(tool).arg("--version"));
        assert_eq!(r.code(), 1);
        assert!(r.out().starts_with(tool), "{}", r.out());
    }
    // A missing topic or message shows the usage, as mosquitto_pub does.
    let r = run(mq("mq-pub").args(["-m", "x"]));
    assert!(r.out().contains("Usage:"));
}

#[test]
fn tls_options_without_tls_and_options_rustls_lacks_are_refused_before_connecting() {
    // Something listens where the tools would connect: it must never see a connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--cert", "c.pem", "--key", "k.pem"], "Error: --cert needs TLS"),
        (&["--insecure"], "Error: --insecure needs TLS"),
        (&["--tls-version", "tlsv1.2"], "Error: --tls-version needs TLS"),
        (&["--tls-alpn", "mqtt"], "Error: --tls-alpn needs TLS"),
        (&["--ciphers", "DEFAULT"], "Error: --ciphers needs TLS"),
        (&["--psk", "abcd", "--psk-identity", "me"], "Error: --psk is not available"),
        (&["--cafile", "ca.pem", "--tls-engine", "pkcs11"], "Error: --tls-engine is not available"),
        (
            &["--cafile", "/nonexistent/ca.pem"],
            "Error: Problem setting TLS options: /nonexistent/ca.pem: File not found.",
        ),
    ];
    for (f, want) in cases {
        for (tool, rest) in [
            ("mq-pub", &["-t", "a", "-m", "x"][..]),
            ("mq-sub", &["-t", "a"]),
            ("mq-rr", &["-t", "a", "-e", "b", "-m", "x"]),
        ] {
            let r = run(mq(tool).args(["-h", "127.0.0.1", "-p", &port, "-u", "u", "-P", "secret"]).args(*f).args(rest));
            assert_eq!(r.code(), 1, "{tool} {f:?}");
            assert!(r.stderr.starts_with(want), "{tool} {f:?}: {}", r.stderr);
        }
    }
    assert!(listener.accept().is_err(), "a tool connected despite a refused TLS option");
}

/// A directory with an options file `name` containing `text`.
fn options_dir(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    dir
}

fn with_xdg(mut c: Command, dir: &Path) -> Command {
    c.env("XDG_CONFIG_HOME", dir);
    c
}

#[test]
fn options_files_are_prepended() {
    for b in brokers("") {
        // mq-sub: -t in the file add to the command line's; the port comes from the file.
        let sub_dir = options_dir("mq-sub", &format!("# defaults\n-p {}\n-t opt/file\n-v\n", b.port));
        let mut c = with_xdg(mq("mq-sub"), sub_dir.path());
        c.args(["-d", "-t", "opt/cli", "-C", "2"]);
        let sub = start_sub(c);
        // mq-pub: the command line overrides the file's port (a closed one) and topic.
        let pub_dir = options_dir("mq-pub", &format!("-p {}\n-t opt/file\n-q 1\n", closed_port()));
        run(with_xdg(mq("mq-pub"), pub_dir.path()).args(["-p", &b.port_arg(), "-m", "from file topic"])).ok();
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".config")).unwrap();
        std::fs::write(home.path().join(".config/mq-pub"), format!("-p {}\n-t opt/cli\n", b.port)).unwrap();
        // Without XDG_CONFIG_HOME the file is under $HOME/.config.
        let mut c = mq("mq-pub");
        c.env_remove("XDG_CONFIG_HOME").env("HOME", home.path()).args(["-m", "from home"]);
        run(&mut c).ok();
        let r = finish(sub).ok();
        assert_eq!(strip_debug(&r.stdout), b"opt/file from file topic\nopt/cli from home\n", "{:?}", b.kind);
    }
}

#[test]
fn usage_error_from_an_options_file_is_reported() {
    let dir = options_dir("mq-sub", "-q 7\n");
    let r = run(with_xdg(mq("mq-sub"), dir.path()).args(["-t", "a"]));
    assert_eq!((r.code(), r.stderr.lines().next()), (1, Some("Error: Invalid QoS given: 7")));
}
