//! Whole configurations: the Debian files, typical real-world setups, syntax
//! (include_dir, CRLF, comments), placement rules, listeners, `-p`,
//! `allow_anonymous` defaults, unsupported features and reloads.
//!
//! Test data lives in `tests/data`; cargo runs integration tests from the
//! crate directory, so the relative paths below are also what messages show.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{err, ok, ok_warn};
use mq_config::{Config, ErrorKind, ListenerAddr, ListenerOrigin, OptionScope, Setting, load, option_scope, parse_str};

fn data(name: &str) -> PathBuf {
    Path::new("tests/data").join(name)
}

fn load_ok(path: &Path) -> (Config, Vec<String>) {
    match load(path) {
        Ok((cfg, w)) => (cfg, w.iter().map(ToString::to_string).collect()),
        Err(e) => panic!("{} should load:\n{e}", path.display()),
    }
}

fn unsupported(cfg: &Config) -> Vec<String> {
    match cfg.check_supported() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn addrs(cfg: &Config) -> Vec<String> {
    cfg.listeners.iter().map(|l| l.addr.to_string()).collect()
}

// ----- Debian's files -----

#[test]
fn debian_example_config_is_all_defaults() {
    let (cfg, warnings) = load_ok(&data("debian-example-mosquitto.conf"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(cfg.local_only);
    let mut expected = Config::local_only();
    expected.files = cfg.files.clone();
    assert_eq!(cfg, expected);
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
}

/// Every `#option value` line of the Debian example names an option mq
/// knows: uncommented alone, it is never an unknown option.
#[test]
fn every_option_in_the_debian_example_is_known() {
    let text = fs::read_to_string(data("debian-example-mosquitto.conf")).expect("test data");
    let mut seen = 0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('#') else { continue };
        let Some(name) = rest.split(' ').next() else { continue };
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.' || b.is_ascii_digit())
        {
            continue;
        }
        seen += 1;
        assert!(option_scope(name).is_some(), "{name} is not catalogued");
        if let Err(errors) = parse_str(rest, "example.conf") {
            for e in errors.errors() {
                assert!(!matches!(e.kind, ErrorKind::UnknownOption { .. }), "{rest:?}: {e}");
            }
        }
    }
    assert!(seen > 80, "only {seen} option lines found");
}

/// `/etc/mosquitto/mosquitto.conf` as Debian ships it, with its include_dir
/// pointed at a copy of `/etc/mosquitto/conf.d` (which holds only a README).
#[test]
fn debian_etc_config_loads_with_persistence() {
    let text = fs::read_to_string(data("debian-etc-mosquitto.conf")).expect("test data");
    assert!(text.contains("include_dir /etc/mosquitto/conf.d"));
    let conf_d = data("debian-conf.d");
    let text = text.replace("/etc/mosquitto/conf.d", &conf_d.to_string_lossy());
    let (cfg, warnings) = parse_str(&text, "mosquitto.conf").expect("loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cfg.pid_file.as_deref(), Some(Path::new("/run/mosquitto/mosquitto.pid")));
    assert!(*cfg.persistence.enabled);
    assert_eq!(cfg.persistence.path(), Path::new("/var/lib/mosquitto/mosquitto.db"));
    assert_eq!(cfg.log.dest.file.as_deref(), Some(Path::new("/var/log/mosquitto/mosquitto.log")));
    assert!(!cfg.log.dest.stderr);
    // No listener: local-only mode, anonymous allowed.
    assert!(cfg.local_only);
    assert_eq!(addrs(&cfg), ["1883 127.0.0.1", "1883 ::1"]);
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    assert_eq!(cfg.files.len(), 1, "README is not a .conf file");
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
    assert_eq!(cfg.persistence.store_dir(), Path::new("/var/lib/mosquitto/mosquitto.db.mq"));
}

// ----- typical real-world configurations -----

#[test]
fn home_automation_config() {
    let (cfg, warnings) = load_ok(&data("home-automation.conf"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!cfg.local_only);
    assert_eq!(addrs(&cfg), ["1883", "1884 127.0.0.1"]);
    assert_eq!(*cfg.listeners[0].max_connections, Some(200));
    assert_eq!(*cfg.listeners[1].max_qos, 1);
    for listener in &cfg.listeners {
        let sec = cfg.security_for(listener);
        assert_eq!(sec.password_file, Some(Path::new("/etc/mq/passwd")));
        assert_eq!(sec.acl_file, Some(Path::new("/etc/mq/acl")));
        assert!(!sec.allow_anonymous);
    }
    assert_eq!(
        cfg.security.password_file.span.as_ref().map(ToString::to_string).as_deref(),
        Some("tests/data/home-automation.conf:13")
    );
    assert_eq!(cfg.log.timestamp_format.as_deref(), Some("%Y-%m-%dT%H:%M:%S"));
    assert_eq!(*cfg.persistent_client_expiration, Some(std::time::Duration::from_secs(14 * 86_400)));
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
}

#[test]
fn unix_socket_config() {
    let (cfg, _) = load_ok(&data("unix-socket.conf"));
    assert_eq!(cfg.listeners[0].addr.value, ListenerAddr::Unix { path: PathBuf::from("/run/mq/mq.sock") });
    assert_eq!(cfg.listeners[1].addr.value, ListenerAddr::Tcp { port: 1883, host: Some("127.0.0.1".into()) });
    assert!(cfg.security_for(&cfg.listeners[1]).allow_anonymous, "global allow_anonymous");
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
}

#[test]
fn per_listener_settings_with_two_password_files() {
    let (cfg, warnings) = load_ok(&data("per-listener.conf"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let internal = cfg.security_for(&cfg.listeners[0]);
    assert_eq!(internal.password_file, Some(Path::new("/etc/mq/internal.passwd")));
    assert_eq!(internal.acl_file, Some(Path::new("/etc/mq/internal.acl")));
    assert!(!internal.allow_anonymous);
    assert_eq!(internal.auto_id_prefix, "auto-");
    let guests = cfg.security_for(&cfg.listeners[1]);
    assert_eq!(guests.password_file, Some(Path::new("/etc/mq/guests.passwd")));
    assert_eq!(guests.acl_file, None);
    assert!(guests.allow_anonymous);
    assert_eq!(guests.auto_id_prefix, "guest-");
    // The global options stay unused.
    assert_eq!(cfg.security.password_file.value, None);
}

#[test]
fn tls_listener_parses_and_is_supported() {
    let (cfg, _) = load_ok(&data("tls.conf"));
    assert_eq!(cfg.listeners[1].tls.certfile.as_deref(), Some(Path::new("/etc/mq/server.crt")));
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
}

#[test]
fn tls_options_that_cannot_apply_are_refused_line_by_line() {
    let cfg = ok("listener 8883\n\
                  certfile /c\n\
                  keyfile /k\n\
                  tls_engine pkcs11\n\
                  tls_keyform engine\n\
                  require_certificate true\n\
                  ciphers HIGH:DHE-RSA-AES256-GCM-SHA384\n\
                  ciphers_tls1.3 TLS_AES_128_CCM_SHA256\n\
                  listener 8884\n\
                  cafile /ca\n\
                  tls_version tlsv1.3\n");
    let got = unsupported(&cfg);
    let want_starts = [
        "mq.conf:4: tls_engine: OpenSSL engines are not available",
        "mq.conf:5: tls_keyform: OpenSSL engines are not available",
        "mq.conf:6: require_certificate: client certificates are verified against cafile or capath",
        "mq.conf:7: ciphers: \"DHE-RSA-AES256-GCM-SHA384\" is not a cipher suite the broker's TLS library (rustls) offers",
        "mq.conf:8: ciphers_tls1.3: TLS_AES_128_CCM_SHA256 is not offered",
        "mq.conf:10: cafile: TLS needs certfile and keyfile on this listener",
        "mq.conf:11: tls_version: TLS needs certfile and keyfile on this listener",
    ];
    assert_eq!(got.len(), want_starts.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want_starts) {
        assert!(g.starts_with(w), "{g:?} should start with {w:?}");
    }
    // With a CA, client certificate options are fine.
    let cfg = ok("listener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nrequire_certificate true\n\
                  use_subject_as_username true\ncrlfile /crl\nciphers ECDHE+AESGCM:!aNULL\n");
    assert_eq!(unsupported(&cfg), Vec::<String>::new());
}

#[test]
fn bridge_section_parses_with_its_tls_option() {
    let (cfg, _) = load_ok(&data("bridge.conf"));
    let b = &cfg.bridges[0];
    assert_eq!(b.name.as_str(), "cloud");
    assert_eq!(b.addresses[0].host, "mqtt.example.com");
    assert_eq!(b.addresses[0].port, 8883);
    assert_eq!(b.topics.len(), 2);
    assert_eq!(b.topics[1].local_prefix, None);
    assert_eq!(b.remote_password.as_deref(), Some("s3cret"));
    assert_eq!(b.tls.cafile.as_deref(), Some(std::path::Path::new("/etc/mq/cloud-ca.crt")));
    assert!(unsupported(&cfg).is_empty(), "{:?}", unsupported(&cfg));
    // Options after the bridge section do not leak into the listener.
    assert_eq!(*cfg.listeners[0].max_qos, 2);
}

#[test]
fn legacy_default_listener_config() {
    let (cfg, warnings) = load_ok(&data("legacy-port.conf"));
    assert_eq!(
        warnings,
        [
            "tests/data/legacy-port.conf:2: port is deprecated: use \"listener <port>\" instead",
            "tests/data/legacy-port.conf:3: bind_address is deprecated: use \"listener <port> <address>\" instead",
        ]
    );
    assert_eq!(addrs(&cfg), ["1884 0.0.0.0"]);
    assert_eq!(cfg.listeners[0].origin, ListenerOrigin::DefaultListener);
    assert_eq!(*cfg.listeners[0].max_connections, Some(50));
    assert!(!cfg.local_only);
}

#[test]
fn crlf_config() {
    let (cfg, _) = load_ok(&data("crlf.conf"));
    assert_eq!(cfg.security.password_file.as_deref(), Some(Path::new("C:/mq/passwd")));
    assert_eq!(*cfg.security.allow_anonymous, Some(false));
    assert_eq!(cfg.security.allow_anonymous.span.as_ref().map(|s| s.line), Some(4));
}

#[test]
fn broken_config_reports_every_error_in_order() {
    let errors = load("tests/data/broken.conf")
        .expect_err("broken")
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    assert_eq!(
        errors,
        [
            "tests/data/broken.conf:2: invalid max_inflight_messages value \"abc\": expected a whole number",
            "tests/data/broken.conf:3: invalid allow_anonymous value \"maybe\": expected true or false",
            "tests/data/broken.conf:4: unknown option \"bogus_option\"",
            "tests/data/broken.conf:5: max_packet_size 10 is below the minimum of 20",
            "tests/data/broken.conf:6: listener 1883 is defined twice (first at tests/data/broken.conf:1); the second \
             one could not be opened",
            // The duplicate listener's section is dropped, so this is not
            // also reported as misplaced.
        ]
    );
    let e = &load("tests/data/broken.conf").expect_err("broken").0[0];
    assert_eq!((e.path.as_path(), e.line), (Path::new("tests/data/broken.conf"), 2));
}

#[test]
fn missing_file() {
    let errors = load("tests/data/does-not-exist.conf").expect_err("missing");
    assert_eq!(
        errors.to_string(),
        "tests/data/does-not-exist.conf: cannot read the configuration file: No such file or directory (os error 2)"
    );
    assert_eq!(errors.0[0].line, 0);
}

// ----- include_dir -----

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write test file");
    path
}

#[test]
fn include_dir_loads_conf_files_in_mosquitto_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inc = tmp.path().join("conf.d");
    fs::create_dir(&inc).expect("mkdir");
    for (i, name) in ["B", "a", "A", "b", "00", "_x", "Z"].iter().enumerate() {
        write(&inc, &format!("{name}.conf"), &format!("listener {} 127.0.0.1\n", 18981 + i));
    }
    write(&inc, "notes.txt", "listener 1 127.0.0.1\n");
    write(&inc, ".conf", "listener 2 127.0.0.1\n");
    fs::create_dir(inc.join("dir.conf")).expect("mkdir");
    let main = write(tmp.path(), "mq.conf", &format!("include_dir {}\n", inc.display()));
    let (cfg, _) = load_ok(&main);
    let ports: Vec<String> = addrs(&cfg);
    // 00 A a B b Z _x
    assert_eq!(
        ports,
        [
            "18985 127.0.0.1",
            "18983 127.0.0.1",
            "18982 127.0.0.1",
            "18981 127.0.0.1",
            "18984 127.0.0.1",
            "18987 127.0.0.1",
            "18986 127.0.0.1"
        ]
    );
    let names: Vec<String> =
        cfg.files.iter().map(|f| f.path.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["mq.conf", "00.conf", "A.conf", "a.conf", "B.conf", "b.conf", "Z.conf", "_x.conf"]);
    assert_eq!(cfg.files[1].included_from.as_ref().map(|s| s.line), Some(1));
}

#[test]
fn include_dir_errors_name_the_included_file_and_keep_reading_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inc = tmp.path().join("conf.d");
    fs::create_dir(&inc).expect("mkdir");
    let a = write(&inc, "a.conf", "listener 1883\nmax_qos 7\n");
    let b = write(&inc, "b.conf", "# nested\ninclude_dir /tmp\n");
    let main = write(tmp.path(), "mq.conf", &format!("sys_interval x\ninclude_dir {}\nbogus 1\n", inc.display()));
    let errors: Vec<String> = load(&main).expect_err("errors").errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            format!("{}:1: invalid sys_interval value \"x\": expected a whole number", main.display()),
            format!("{}:2: max_qos 7 is above the maximum of 2", a.display()),
            format!(
                "{}:2: include_dir is only allowed in the main configuration file, not in an included one",
                b.display()
            ),
            format!("{}:3: unknown option \"bogus\"", main.display()),
        ]
    );
}

#[test]
fn each_file_starts_outside_any_section() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inc = tmp.path().join("conf.d");
    fs::create_dir(&inc).expect("mkdir");
    let a = write(&inc, "a.conf", "max_topic_alias 5\n");
    let main = write(tmp.path(), "mq.conf", &format!("listener 1883\ninclude_dir {}\n", inc.display()));
    let errors = load(&main).expect_err("misplaced");
    assert_eq!(
        errors.to_string(),
        format!(
            "{}:1: max_topic_alias is a listener option and no listener section is open; here it only applies to \
             the default listener, which nothing in this configuration opens (Mosquitto ignores it): put it after a \
             \"listener <port>\" line (or set \"port\" to configure the default listener)",
            a.display()
        )
    );
    // One that opens the default listener (port 1883, as in Mosquitto) collides with the main file's.
    write(&inc, "a.conf", "max_qos 1\n");
    assert_eq!(
        load(&main).expect_err("duplicate").to_string(),
        format!(
            "{}:1: the default listener (port 1883), which max_qos outside any listener section opens, is defined \
             twice (first at {}:1); the second one could not be opened",
            a.display(),
            main.display()
        )
    );
    // After include_dir the main file is still in its listener section.
    fs::remove_file(&a).expect("rm");
    write(&inc, "a.conf", "allow_anonymous true\n");
    let main = write(tmp.path(), "mq.conf", &format!("listener 1883\ninclude_dir {}\nmax_qos 1\n", inc.display()));
    let (cfg, _) = load_ok(&main);
    assert_eq!(*cfg.listeners[0].max_qos, 1);
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
}

#[test]
fn include_dir_problems() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope");
    let main = write(tmp.path(), "mq.conf", &format!("include_dir {}\n", missing.display()));
    assert_eq!(
        load(&main).expect_err("missing dir").to_string(),
        format!(
            "{}:1: cannot read include_dir \"{}\": No such file or directory (os error 2)",
            main.display(),
            missing.display()
        )
    );
    // A directory that contains the main file.
    let own = tmp.path().join("own");
    fs::create_dir(&own).expect("mkdir");
    let main = write(&own, "main.conf", &format!("listener 1883\ninclude_dir {}\n", own.display()));
    let errors = load(&main).expect_err("self include");
    assert_eq!(
        errors.to_string(),
        format!(
            "{}:2: include_dir: {} is the main configuration file, which cannot include itself",
            main.display(),
            own.join("main.conf").display()
        )
    );
    assert_eq!(err("include_dir"), ["mq.conf:1: include_dir needs a value: a directory"]);
}

#[test]
fn relative_include_dir_is_relative_to_the_working_directory() {
    // Tests run in the crate directory; tests/data/debian-conf.d has no .conf
    // file, so nothing is added.
    let (cfg, _) = ok_warn("include_dir tests/data/debian-conf.d");
    assert_eq!(cfg.files.len(), 1);
}

// ----- syntax -----

#[test]
fn comments_blank_lines_and_blanks() {
    let cfg = ok("# comment\n\n   # indented comment\n\t# tab comment\n  listener\t1883  \n\tmax_qos\t 1\t\n   \n");
    assert_eq!(*cfg.listeners[0].max_qos, 1);
    assert_eq!(cfg.listeners[0].max_qos.span.as_ref().map(|s| s.line), Some(6));
}

#[test]
fn trailing_comments() {
    // After a one-word value: a comment, ignored.
    let (cfg, warnings) = ok_warn("listener 1883 # LAN\nallow_anonymous true # for now\nmax_qos 1 #no space needed");
    assert!(warnings.is_empty());
    assert_eq!(addrs(&cfg), ["1883"]);
    assert_eq!(*cfg.security.allow_anonymous, Some(true));
    // After a text value: kept, with a warning.
    let (cfg, warnings) = ok_warn("password_file /etc/mq/passwd # main file");
    assert_eq!(cfg.security.password_file.as_deref(), Some(Path::new("/etc/mq/passwd # main file")));
    assert_eq!(
        warnings,
        ["mq.conf:1: the password_file value \"/etc/mq/passwd # main file\" contains \" #\": it is kept as part of \
          the value (a comment must be on a line of its own)"]
    );
    // A '#' inside a word is not a comment.
    let (cfg, warnings) = ok_warn("auto_id_prefix id#");
    assert!(warnings.is_empty());
    assert_eq!(cfg.security.auto_id_prefix.as_str(), "id#");
}

#[test]
fn crlf_and_bom() {
    let cfg = ok("\u{feff}listener 1883\r\npassword_file /etc/pw\r\n\r\n");
    assert_eq!(cfg.security.password_file.as_deref(), Some(Path::new("/etc/pw")));
}

#[test]
fn invalid_utf8_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("bad.conf");
    fs::write(&path, b"listener 1883\npassword_file /etc/\xff\n").expect("write");
    assert_eq!(
        load(&path).expect_err("utf8").to_string(),
        format!("{}:2: the line is not valid UTF-8", path.display())
    );
}

#[test]
fn multiple_errors_are_reported_together_in_order() {
    let errors = err("listener 1883\nmax_qos 3\nbogus\nlistener 1884\nmax_connections -7\nconnection b\nmax_qos 1\n");
    assert_eq!(
        errors,
        [
            "mq.conf:2: max_qos 3 is above the maximum of 2",
            "mq.conf:3: unknown option \"bogus\"",
            "mq.conf:5: max_connections -7 is below the minimum of -1",
            "mq.conf:6: connection b requires an address line",
            "mq.conf:6: connection b requires at least one topic line",
            "mq.conf:7: max_qos is a listener option but follows \"connection b\": put it after a \"listener <port>\" \
             line",
        ]
    );
}

// ----- placement rules -----

#[test]
fn per_listener_settings_must_come_first() {
    assert_eq!(
        err("allow_anonymous true\nper_listener_settings true\nlistener 1883"),
        ["mq.conf:2: per_listener_settings true must come before every security option, but allow_anonymous is \
          already set at mq.conf:1"]
    );
    assert_eq!(
        err("check_retain_source true\nper_listener_settings true"),
        ["mq.conf:2: per_listener_settings true must come before every security option, but check_retain_source is \
          already set at mq.conf:1"]
    );
    assert_eq!(
        err("per_listener_settings true\nper_listener_settings false"),
        ["mq.conf:2: per_listener_settings cannot be switched off: it is set to true at mq.conf:1"]
    );
    // Listener lines before it are fine, only security options matter.
    let cfg = ok("listener 1883\nper_listener_settings true\nlistener 1884\npassword_file /p");
    assert_eq!(cfg.security_for(&cfg.listeners[1]).password_file, Some(Path::new("/p")));
    assert_eq!(cfg.security_for(&cfg.listeners[0]).password_file, None);
}

#[test]
fn per_listener_security_needs_a_listener() {
    assert_eq!(
        err("per_listener_settings true\nacl_file /a\nlistener 1883"),
        ["mq.conf:2: acl_file applies per listener (per_listener_settings is true) and no listener section is \
          open; here it only applies to the default listener, which nothing in this configuration opens \
          (Mosquitto ignores it): put it after a \"listener <port>\" line"]
    );
    // password_file opens the default listener (port 1883), as in Mosquitto, and belongs to it.
    let cfg = ok("per_listener_settings true\npassword_file /p\nlistener 1884");
    assert_eq!(addrs(&cfg), ["1884", "1883"]);
    assert_eq!(cfg.security_for(&cfg.listeners[1]).password_file, Some(Path::new("/p")));
    assert_eq!(cfg.security_for(&cfg.listeners[0]).password_file, None);
    assert_eq!(
        err("per_listener_settings true\nconnection b\naddress h\ntopic #\nacl_file /a"),
        ["mq.conf:5: acl_file is a listener option but follows \"connection b\": put it after a \"listener <port>\" \
          line"]
    );
    // With the legacy default listener it belongs to that listener.
    let cfg = ok("per_listener_settings true\nport 1884\npassword_file /p");
    assert_eq!(cfg.security_for(&cfg.listeners[0]).password_file, Some(Path::new("/p")));
}

#[test]
fn section_rules() {
    assert_eq!(
        err("max_topic_alias 10\nlistener 1884"),
        ["mq.conf:1: max_topic_alias is a listener option and no listener section is open; here it only applies to \
          the default listener, which nothing in this configuration opens (Mosquitto ignores it): put it after a \
          \"listener <port>\" line (or set \"port\" to configure the default listener)"]
    );
    assert_eq!(
        err("address h"),
        ["mq.conf:1: address is a bridge option: it must follow a \"connection <name>\" line"]
    );
    assert_eq!(
        err("listener 1883\ntopic a/#"),
        ["mq.conf:2: topic is a bridge option: it must follow a \"connection <name>\" line"]
    );
    assert_eq!(
        err("listener 1883\nport 1884"),
        ["mq.conf:2: port configures the legacy default listener and is only allowed before the first \"listener\" \
          or \"connection\" line of a file (a listener section takes its port and address from its \"listener\" \
          line)"]
    );
    assert_eq!(
        err("listener 0 /run/mq.sock\nsocket_domain ipv4\nprotocol websockets"),
        [
            "mq.conf:2: socket_domain does not apply to a Unix socket listener",
            "mq.conf:3: protocol: a WebSockets listener needs a TCP port, not a Unix socket",
        ]
    );
    assert_eq!(
        err("listener 1883\nhttp_dir /www"),
        ["mq.conf:2: http_dir requires \"protocol websockets\" in the same listener"]
    );
    assert_eq!(err("listener 8883\ncertfile /c"), ["mq.conf:2: certfile requires keyfile in the same listener"]);
    assert_eq!(
        err("listener 8883\npsk_hint h\ncafile /ca"),
        ["mq.conf:2: psk_hint cannot be combined with cafile (at mq.conf:3): a listener uses either certificates or \
          TLS-PSK"]
    );
    assert_eq!(
        err("connection b\naddress h\ntopic #\nremote_password p"),
        ["mq.conf:4: remote_password requires remote_username in the same bridge"]
    );
    assert_eq!(
        err("connection b\naddress h\ntopic #\nconnection b"),
        ["mq.conf:4: bridge \"b\" is defined twice (first at mq.conf:1)"]
    );
    // Global options are fine anywhere, even in a bridge section.
    let cfg = ok("connection b\naddress h\ntopic #\nmax_inflight_messages 5");
    assert_eq!(*cfg.max_inflight_messages, 5);
}

#[test]
fn repeated_options() {
    // Text options: an error, as in Mosquitto.
    assert_eq!(
        err("pid_file /a\npid_file /b"),
        ["mq.conf:2: pid_file is set twice (first at mq.conf:1); give it once"]
    );
    assert_eq!(
        err("listener 1883\npassword_file /a\nlistener 1884\npassword_file /b"),
        ["mq.conf:4: password_file is set twice (first at mq.conf:2); give it once (security options are global \
          unless per_listener_settings is true)"]
    );
    assert_eq!(
        err("log_dest file /a\nlog_dest file /b"),
        ["mq.conf:2: log_dest file is set twice (first at mq.conf:1); give it once (only one log file is possible)"]
    );
    // Scalars: the last wins, with a warning.
    let (cfg, warnings) = ok_warn("listener 1883\nallow_anonymous true\nlistener 1884\nallow_anonymous false");
    assert_eq!(*cfg.security.allow_anonymous, Some(false));
    assert_eq!(
        warnings,
        ["mq.conf:4: allow_anonymous is set again (first at mq.conf:2); the last value wins (security options are \
          global unless per_listener_settings is true)"]
    );
    let (cfg, warnings) = ok_warn("max_queued_messages 10\nmax_queued_messages 20");
    assert_eq!(*cfg.max_queued_messages, 20);
    assert_eq!(warnings, ["mq.conf:2: max_queued_messages is set again (first at mq.conf:1); the last value wins"]);
}

// ----- listeners -----

#[test]
fn legacy_default_listener_from_port() {
    let cfg = ok("port 1884");
    assert_eq!(addrs(&cfg), ["1884"]);
    assert_eq!(cfg.listeners[0].addr.span.as_ref().map(|s| s.line), Some(1));
    assert!(!cfg.local_only);
    assert!(!cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    // Together with listener sections: the default listener comes last.
    let cfg = ok("port 1884\nmax_qos 1\nlistener 1885\n");
    assert_eq!(addrs(&cfg), ["1885", "1884"]);
    assert_eq!(*cfg.listeners[1].max_qos, 1);
    assert_eq!(*cfg.listeners[0].max_qos, 2);
    // bind_address alone: port 1883.
    let cfg = ok("bind_address 127.0.0.1");
    assert_eq!(addrs(&cfg), ["1883 127.0.0.1"]);
    assert_eq!(
        err("port 1883\nlistener 1883"),
        ["mq.conf:1: the default listener (port 1883) is defined twice (first at mq.conf:2); the second one could \
          not be opened"]
    );
}

#[test]
fn options_before_any_listener_open_the_default_listener() {
    // Alone: the default listener on port 1883, every interface, with the option; not local-only
    // (so no anonymous access unless allowed), as Mosquitto does.
    let (cfg, warnings) = ok_warn("max_connections 10\nmax_qos 1\nmount_point m/\nmax_topic_alias 3");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(addrs(&cfg), ["1883"]);
    let l = &cfg.listeners[0];
    assert_eq!(l.origin, ListenerOrigin::DefaultListener);
    assert_eq!(l.addr.span.as_ref().map(|s| s.line), Some(1));
    assert_eq!(
        (*l.max_connections, *l.max_qos, l.mount_point.as_deref(), *l.max_topic_alias),
        (Some(10), 1, Some("m/"), 3)
    );
    assert!(!cfg.local_only);
    assert!(!cfg.security_for(l).allow_anonymous);
    // Each option Mosquitto opens it for does, on its own.
    for line in [
        "max_connections 5",
        "max_qos 0",
        "protocol websockets",
        "mount_point x/",
        "socket_domain ipv4",
        "bind_interface lo",
        "use_username_as_clientid true",
    ] {
        let cfg = ok(&format!("allow_anonymous true\n{line}"));
        assert_eq!(addrs(&cfg), ["1883"], "{line}");
    }
    // With listener sections: the default listener comes last, and a warning says it opens.
    let (cfg, warnings) = ok_warn("protocol websockets\nlistener 1884");
    assert_eq!(addrs(&cfg), ["1884", "1883"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("mq.conf:1: protocol outside any listener section opens the default listener"));
    // At their default values they open nothing (Mosquitto ignores them): an error as before.
    for line in ["max_connections -1", "max_qos 2", "protocol mqtt", "require_certificate false"] {
        let errors = err(&format!("{line}\nlistener 1884"));
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        assert!(errors[0].contains("which nothing in this configuration opens"), "{line}: {errors:?}");
    }
}

#[test]
fn listener_forms() {
    let cfg = ok("listener 1883\nlistener 1883 ::1\nlistener 0 /tmp/mq.sock\nlistener 8080 localhost");
    assert_eq!(
        cfg.listeners.iter().map(|l| l.addr.value.clone()).collect::<Vec<_>>(),
        [
            ListenerAddr::Tcp { port: 1883, host: None },
            ListenerAddr::Tcp { port: 1883, host: Some("::1".into()) },
            ListenerAddr::Unix { path: "/tmp/mq.sock".into() },
            ListenerAddr::Tcp { port: 8080, host: Some("localhost".into()) },
        ]
    );
    assert!(cfg.listeners.iter().all(|l| l.origin == ListenerOrigin::Listener));
}

#[test]
fn command_line_ports() {
    let mut cfg = Config::local_only();
    assert!(cfg.apply_cli_ports(&[1884, 1885, 1884]));
    assert_eq!(addrs(&cfg), ["1884 127.0.0.1", "1884 ::1", "1885 127.0.0.1", "1885 ::1"]);
    assert!(cfg.listeners.iter().all(|l| l.origin == ListenerOrigin::CommandLine));
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    // A file without listeners: -p applies.
    let mut cfg = ok("max_queued_messages 10");
    assert!(cfg.apply_cli_ports(&[1999]));
    assert_eq!(addrs(&cfg), ["1999 127.0.0.1", "1999 ::1"]);
    // A file with listeners: -p is ignored.
    let mut cfg = ok("listener 1883");
    assert!(!cfg.apply_cli_ports(&[1999]));
    assert_eq!(addrs(&cfg), ["1883"]);
    let mut cfg = ok("port 1884");
    assert!(!cfg.apply_cli_ports(&[1999]));
    assert_eq!(addrs(&cfg), ["1884"]);
    // No ports: nothing changes.
    let mut cfg = Config::local_only();
    assert!(!cfg.apply_cli_ports(&[]));
    assert_eq!(addrs(&cfg), ["1883 127.0.0.1", "1883 ::1"]);
}

#[test]
fn allow_anonymous_defaults() {
    let local = Config::local_only();
    assert_eq!(addrs(&local), ["1883 127.0.0.1", "1883 ::1"]);
    assert!(local.listeners.iter().all(|l| local.security_for(l).allow_anonymous));
    assert_eq!(Config::default(), local);
    // An empty file is local-only mode too.
    let empty = ok("");
    assert!(empty.local_only && empty.security_for(&empty.listeners[0]).allow_anonymous);
    // Any listener in the file: anonymous is refused unless allowed.
    let cfg = ok("listener 1883");
    assert!(!cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    let cfg = ok("listener 1883\nallow_anonymous true");
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    // Difference from Mosquitto: an explicit false is respected in local-only mode.
    let cfg = ok("allow_anonymous false");
    assert!(cfg.local_only && !cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    // per_listener_settings: a listener without allow_anonymous refuses anonymous.
    let cfg = ok("per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884");
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    assert!(!cfg.security_for(&cfg.listeners[1]).allow_anonymous);
}

// ----- unsupported features -----

#[test]
fn bridge_tls_is_supported_but_ocsp_psk_and_tls_options_without_a_ca_are_refused() {
    let with_ca = ok("connection b\naddress h:8883\ntopic #\nbridge_cafile /ca.pem\nbridge_certfile /c.pem\n\
                      bridge_keyfile /k.pem\nbridge_insecure true\nbridge_tls_version tlsv1.3\nbridge_alpn mqtt\n");
    assert!(unsupported(&with_ca).is_empty(), "{:?}", unsupported(&with_ca));
    let capath = ok("connection b\naddress h:8883\ntopic #\nbridge_capath /certs\nbridge_insecure true\n");
    assert!(unsupported(&capath).is_empty(), "{:?}", unsupported(&capath));
    let no_ca = ok("connection b\naddress h:8883\ntopic #\nbridge_insecure true\nbridge_alpn mqtt\n");
    let why = "TLS to the remote is on only with bridge_cafile or bridge_capath (as in Mosquitto); without one the \
               bridge connects over plain TCP and this option has no effect";
    assert_eq!(
        unsupported(&no_ca),
        [format!("mq.conf:4: bridge_insecure: {why}"), format!("mq.conf:5: bridge_alpn: {why}")]
    );
    let ocsp = ok("connection b\naddress h:8883\ntopic #\nbridge_cafile /ca.pem\nbridge_require_ocsp true\n");
    assert_eq!(
        unsupported(&ocsp),
        ["mq.conf:5: bridge_require_ocsp: OCSP checks of the remote's certificate are not available: the broker's \
          TLS library (rustls) does not request OCSP stapling"]
    );
    let psk = ok("connection b\naddress h:8883\ntopic #\nbridge_identity id\nbridge_psk 0102\n");
    assert_eq!(unsupported(&psk).len(), 2, "{:?}", unsupported(&psk));
    assert!(unsupported(&psk)[0].starts_with("mq.conf:4: bridge_identity: TLS-PSK is not available"));
    let lazy = ok("connection b\naddress h\ntopic #\nstart_type lazy\nthreshold 3\nidle_timeout 5\n\
                   local_username u\nlocal_password p\n");
    assert_eq!(unsupported(&lazy), Vec::<String>::new());
}

#[test]
fn check_supported_lists_each_offending_line() {
    let cfg = ok("persistence false\n\
                  listener 1883\n\
                  require_certificate false\n\
                  tls_keyform pem\n\
                  listener 9001\n\
                  protocol websockets\n\
                  http_dir /www\n\
                  listener 8884\n\
                  psk_hint hint\n\
                  psk_file /psk\n\
                  plugin /p.so\n\
                  plugin_opt_x y\n\
                  websockets_log_level 1\n\
                  persistence true\n");
    assert_eq!(
        unsupported(&cfg),
        [
            "mq.conf:9: psk_hint: TLS-PSK is not available: the broker's TLS library (rustls) has no pre-shared-key \
             support; use certificates",
            "mq.conf:10: psk_file: TLS-PSK is not available: the broker's TLS library (rustls) has no pre-shared-key \
             support; use certificates",
            "mq.conf:11: plugin: plugins are not supported yet",
        ]
    );
    assert_eq!(unsupported(&ok("listener 1883\npersistence false\nrequire_certificate false")), Vec::<String>::new());
    assert_eq!(unsupported(&Config::local_only()), Vec::<String>::new());
}

#[test]
fn check_supported_follows_reading_order_across_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inc = tmp.path().join("conf.d");
    fs::create_dir(&inc).expect("mkdir");
    let a = write(&inc, "a.conf", "listener 8883\ncafile /ca\n");
    let main =
        write(tmp.path(), "mq.conf", &format!("persistence true\ninclude_dir {}\nplugin /p.so\n", inc.display()));
    let (cfg, _) = load_ok(&main);
    assert_eq!(
        unsupported(&cfg),
        [
            format!(
                "{}:2: cafile: TLS needs certfile and keyfile on this listener; without them this option has no effect",
                a.display()
            ),
            format!("{}:3: plugin: plugins are not supported yet", main.display()),
        ]
    );
}

#[test]
fn checked_parse_reports_every_error_in_one_pass() {
    // Placement and unknown options (parse errors) and what the broker cannot do (check_supported),
    // together in line order.
    let text = "max_topic_alias 5\nlistener 1883\nplugin /p.so\nbogus 1\ncafile /ca\n";
    let errors: Vec<String> = match mq_config::parse_str_checked(text, "mq.conf") {
        Ok(_) => panic!("should fail"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    };
    let lines: Vec<&str> = errors.iter().map(|e| e.split(':').nth(1).unwrap_or("")).collect();
    assert_eq!(lines, ["1", "3", "4", "5"], "{errors:?}");
    assert!(errors[1].starts_with("mq.conf:3: plugin: plugins are not supported"), "{errors:?}");
    assert!(errors[3].starts_with("mq.conf:5: cafile: TLS needs certfile and keyfile"), "{errors:?}");
    // The plain parse leaves the second kind to check_supported.
    assert_eq!(err(text).len(), 2);
    // Without parse errors, the checked parse fails on what check_supported refuses alone.
    assert!(mq_config::parse_str_checked("listener 1883\npsk_hint h\n", "mq.conf").is_err());
    assert!(mq_config::parse_str_checked("listener 1883\nmax_qos 1\n", "mq.conf").is_ok());
}

// ----- reload -----

#[test]
fn reload_takes_reloadable_options_and_reports_the_others() {
    let old = ok("pid_file /run/a.pid\nlistener 1883\nallow_anonymous false\nmax_inflight_messages 20");
    let new = ok("pid_file /run/b.pid\n# a comment moves lines down\nlistener 1883\nallow_anonymous true\n\
                  max_inflight_messages 5\nlistener 1884\nuser other");
    let reload = old.reload(new);
    let cfg = &reload.config;
    assert_eq!(*cfg.max_inflight_messages, 5);
    assert!(cfg.security_for(&cfg.listeners[0]).allow_anonymous);
    assert_eq!(cfg.pid_file.as_deref(), Some(Path::new("/run/a.pid")));
    assert_eq!(cfg.effective_user(), "mosquitto");
    assert_eq!(addrs(cfg), ["1883"]);
    let report: Vec<String> = reload.not_reloaded.iter().map(ToString::to_string).collect();
    assert_eq!(
        report,
        [
            "mq.conf:1: pid_file changed, but it is only read at start-up: restart the broker to apply it",
            "mq.conf:7: user changed, but it is only read at start-up: restart the broker to apply it",
            "mq.conf:6: listener 1884 (added) changed, but it is only read at start-up: restart the broker to apply it",
        ]
    );
}

#[test]
fn reload_of_an_unchanged_file_reports_nothing() {
    let (cfg, _) = load_ok(&data("bridge.conf"));
    let (again, _) = load_ok(&data("bridge.conf"));
    let reload = cfg.reload(again);
    assert!(reload.not_reloaded.is_empty(), "{:?}", reload.not_reloaded);
    assert_eq!(reload.config, cfg);
}

#[test]
fn reload_per_listener_security_but_not_listener_settings() {
    let old = ok("per_listener_settings true\nlistener 1883\npassword_file /a\nmax_qos 2\nplugin /p.so");
    let new = ok("per_listener_settings true\nlistener 1883\npassword_file /b\nmax_qos 1\nplugin /q.so");
    let reload = old.reload(new);
    let l = &reload.config.listeners[0];
    assert_eq!(reload.config.security_for(l).password_file, Some(Path::new("/b")));
    assert_eq!(*l.max_qos, 2);
    assert_eq!(l.security.plugins[0].path.as_path(), Path::new("/p.so"));
    let options: Vec<&str> = reload.not_reloaded.iter().map(|n| n.option.as_str()).collect();
    assert_eq!(options, ["listener 1883", "plugin (listener 1883)"]);
}

#[test]
fn reload_takes_the_new_bridges() {
    let old = ok("listener 1883\nconnection a\naddress h\ntopic #\nconnection gone\naddress h\ntopic #");
    let new = ok("listener 1883\nconnection a\naddress other\ntopic #\nconnection b\naddress h\ntopic #");
    let reload = old.reload(new.clone());
    assert_eq!(reload.config.bridges, new.bridges);
    assert!(reload.not_reloaded.is_empty(), "{:?}", reload.not_reloaded);
}

#[test]
fn settings_compare_values_not_lines() {
    assert_eq!(Setting::at(5, mq_config::Span::new("a", 1)), Setting::at(5, mq_config::Span::new("b", 9)));
    assert_ne!(Setting::at(5, mq_config::Span::new("a", 1)), Setting::default_value(6));
    assert_eq!(option_scope("listener"), Some(OptionScope::ListenerSection));
}
