//! `mq-passwd` end to end: every option, message and exit status against `mosquitto_passwd`
//! 2.0, piped passwords, atomic edits, and interop both ways (files written by
//! `mosquitto_passwd` verify in our library; files written by `mq-passwd` are accepted by the
//! Mosquitto broker).
//!
//! Tests that need the Mosquitto binaries go through [`mosquitto_tools`]: they skip with a note
//! when the binaries are missing, unless `MQ_REQUIRE_INTEROP=1` (set by CI), where a missing
//! binary fails the test.

use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mq_passwd::PasswordFile;

const MQ_PASSWD: &str = env!("CARGO_BIN_EXE_mq-passwd");

/// Locates the named Mosquitto binaries (PATH, then the sbin directories the broker lives in).
///
/// Returns `None` after explaining on stderr when one is missing, so the caller can skip; with
/// `MQ_REQUIRE_INTEROP=1` a missing binary panics instead, so CI cannot pass by skipping.
fn mosquitto_tools<const N: usize>(names: [&str; N]) -> Option<[PathBuf; N]> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    let found: Vec<Option<PathBuf>> = names.iter().map(|n| find(n)).collect();
    let missing: Vec<&str> = names.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(n, _)| *n).collect();
    if missing.is_empty() {
        return found.into_iter().flatten().collect::<Vec<_>>().try_into().ok();
    }
    let why = format!("Mosquitto binaries not found: {}", missing.join(", "));
    if std::env::var("MQ_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{why}, and MQ_REQUIRE_INTEROP=1 requires the interop tests to run");
    }
    eprintln!("skipping Mosquitto interop check: {why} (set MQ_REQUIRE_INTEROP=1 to make this fail)");
    None
}

/// A command with a clean environment for config lookups, run in `dir`.
fn command(program: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env_remove("HOME").env_remove("XDG_CONFIG_HOME").stdin(Stdio::null());
    cmd
}

/// Runs `program args` in `dir`, feeding `stdin` (or nothing).
fn run_in(program: &Path, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = command(program, dir, args);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // The tool may exit before reading everything (e.g. an empty first line).
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("wait")
}

fn mq(dir: &Path, args: &[&str]) -> Output {
    run_in(Path::new(MQ_PASSWD), dir, args, None)
}

fn mq_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    run_in(Path::new(MQ_PASSWD), dir, args, Some(stdin))
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn load(path: &Path) -> PasswordFile {
    PasswordFile::load(path).expect("password file loads")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Error cases: our exit status and stderr, checked against the expected table and, when
/// `mosquitto_passwd` is installed, against what it does with the same arguments.
#[test]
fn argument_errors_match_mosquitto_passwd() {
    let long_user = "u".repeat(65_536);
    let long_password = "p".repeat(65_536);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-c", "-D", "f", "u"], "Error: -c and -D cannot be used together.\n"),
        (vec!["-c", "-U", "f"], "Error: -c and -U cannot be used together.\n"),
        (vec!["-D", "-U", "f"], "Error: -D and -U cannot be used together.\n"),
        (vec!["-b", "-D", "f", "u"], "Error: -b and -D cannot be used together.\n"),
        (vec!["-b", "-D", "f", "u", "p"], "Error: -b and -D cannot be used together.\n"),
        (vec!["-H", "md5", "-c", "-b", "f", "u", "p"], "Error: Unknown hash type 'md5'\n"),
        (vec!["-H"], "Error: -H argument given but not enough other arguments.\n"),
        (vec!["-I"], "Error: -I argument given but not enough other arguments.\n"),
        (vec!["-I", "0", "-c", "-b", "f", "u", "p"], "Error: Number of iterations must be > 0.\n"),
        (vec!["-I", "abc", "-c", "-b", "f", "u", "p"], "Error: Number of iterations must be > 0.\n"),
        (vec!["-I", "-5", "-c", "-b", "f", "u", "p"], "Error: Number of iterations must be > 0.\n"),
        (vec!["-c", "f"], "Error: -c argument given but password file or username missing.\n"),
        (vec!["-c", "-b", "f", "u"], "Error: -c argument given but password file, username, or password missing.\n"),
        (vec!["-D", "f"], "Error: -D argument given but password file or username missing.\n"),
        (vec!["-U"], "Error: -U argument given but password file missing.\n"),
        (vec!["-U", "f", "extra"], "Error: -U argument given but password file missing.\n"),
        (vec!["-c", "-b", "f", "u:x", "p"], "Error: Username must not contain the ':' character.\n"),
        (vec!["-c", "-b", "f", "u\u{1}", "p"], "Error: Username must not contain control characters.\n"),
        (vec!["-c", "-b", "f", &long_user, "p"], "Error: Username must be less than 65536 characters long.\n"),
        (vec!["-c", "-b", "f", "u", &long_password], "Error: Password must be less than 65536 characters long.\n"),
        (vec!["-b", "nofile", "u", "p"], "Error: Unable to open password file nofile. No such file or directory.\n"),
        (vec!["-D", "nofile", "u"], "Error: Unable to open password file nofile. No such file or directory.\n"),
        (vec!["-U", "nofile"], "Error: Unable to open password file nofile. No such file or directory.\n"),
        (
            vec!["-c", "-b", "nodir/f", "u", "p"],
            "Error: Unable to open file nodir/f for writing. No such file or directory.\n",
        ),
    ];
    let oracle = mosquitto_tools(["mosquitto_passwd"]);
    for (args, expected) in &cases {
        let dir = tempdir();
        let ours = mq(dir.path(), args);
        let shown = format!("{:?}", args.iter().map(|a| a.get(..40).unwrap_or(a)).collect::<Vec<_>>());
        assert_eq!((code(&ours), stderr(&ours).as_str()), (1, *expected), "mq-passwd {shown}");
        assert!(ours.stdout.is_empty(), "{shown}");
        if let Some([mosquitto_passwd]) = &oracle {
            let theirs = run_in(mosquitto_passwd, tempdir().path(), args, None);
            assert_eq!(
                (code(&theirs), stderr(&theirs)),
                (code(&ours), stderr(&ours)),
                "mosquitto_passwd differs for {shown}"
            );
        }
        assert_eq!(dir_entries(dir.path()), Vec::<String>::new(), "nothing created: {shown}");
    }
}

/// Usage errors print the usage on stdout and exit 1 (as Mosquitto); `--help` exits 0.
#[test]
fn usage_and_help() {
    let oracle = mosquitto_tools(["mosquitto_passwd"]);
    for args in [&[][..], &["f"], &["f", "u", "p"], &["-b", "f", "u"]] {
        let out = mq(tempdir().path(), args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stdout(&out).contains("Usage: mq-passwd"), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        if let Some([mosquitto_passwd]) = &oracle {
            let theirs = run_in(mosquitto_passwd, tempdir().path(), args, None);
            assert_eq!(code(&theirs), 1, "{args:?}");
            assert!(stdout(&theirs).contains("Usage: mosquitto_passwd"));
        }
    }
    let help = mq(tempdir().path(), &["--help"]);
    assert_eq!(code(&help), 0);
    for option in ["-b", "-c", "-D", "-H", "-I", "-U", "sha512-pbkdf2", "argon2id"] {
        assert!(stdout(&help).contains(option), "help lacks {option}");
    }
    let unknown = mq(tempdir().path(), &["-x", "f", "u"]);
    assert_eq!(code(&unknown), 1);
    assert!(stderr(&unknown).contains("'-x'"), "{}", stderr(&unknown));
}

/// `-b`, `-c`, `-H`, `-I`: the written lines verify in the library, with the right format.
#[test]
fn batch_create_update_and_hash_options() {
    let dir = tempdir();
    let f = dir.path().join("pw");
    let out = mq(dir.path(), &["-c", "-b", "pw", "alice", "secret"]);
    assert_eq!((code(&out), stderr(&out)), (0, String::new()));
    assert!(out.stdout.is_empty());
    assert_eq!(mode(&f), 0o600, "-c creates the file with mode 0600");
    let text = fs::read_to_string(&f).expect("read");
    assert!(text.starts_with("alice:$7$10000$"), "{text}");
    // 12-byte salt (16 base64 characters), 64-byte hash (88).
    let fields: Vec<&str> = text.trim_end().split('$').collect();
    assert_eq!((fields[3].len(), fields[4].len()), (16, 88), "{text}");

    for (args, user, prefix) in [
        (&["-b", "pw", "bob", "b-secret"][..], "bob", "$7$10000$"),
        (&["-H", "sha512", "-b", "pw", "carol", "c-secret"], "carol", "$6$"),
        (&["-H", "sha512-pbkdf2", "-I", "1000", "-b", "pw", "dave", "d-secret"], "dave", "$7$1000$"),
        (&["-H", "argon2id", "-b", "pw", "erin", "e-secret"], "erin", "$argon2id$v=19$m=47104,t=1,p=1$"),
        (&["-b", "pw", "ünï", "pässwörd"], "ünï", "$7$10000$"),
        (&["-b", "pw", "frank", "-dash"], "frank", "$7$10000$"),
    ] {
        let out = mq(dir.path(), args);
        assert_eq!((code(&out), stderr(&out)), (0, String::new()), "{args:?}");
        let line = fs::read_to_string(&f)
            .expect("read")
            .lines()
            .find(|l| l.starts_with(&format!("{user}:")))
            .map(str::to_owned)
            .expect("user line");
        assert!(line.starts_with(&format!("{user}:{prefix}")), "{line}");
    }
    let file = load(&f);
    for (user, password) in [
        ("alice", "secret"),
        ("bob", "b-secret"),
        ("carol", "c-secret"),
        ("dave", "d-secret"),
        ("erin", "e-secret"),
        ("ünï", "pässwörd"),
        ("frank", "-dash"),
    ] {
        assert!(file.verify(user, password.as_bytes()), "{user}");
        assert!(!file.verify(user, b"wrong"), "{user}");
    }
    // Updating keeps the position and changes the password.
    let out = mq(dir.path(), &["-b", "pw", "alice", "new"]);
    assert_eq!(code(&out), 0);
    let file = load(&f);
    assert!(file.verify("alice", b"new"));
    assert!(!file.verify("alice", b"secret"));
    assert_eq!(file.entries().next().map(|(u, _)| u), Some("alice"));
    // -D removes.
    let out = mq(dir.path(), &["-D", "pw", "bob"]);
    assert_eq!((code(&out), stderr(&out)), (0, String::new()));
    assert!(!load(&f).contains("bob"));
    assert_eq!(dir_entries(dir.path()), ["pw"], "no temporary files left behind");
}

/// Passwords piped into stdin: two lines, prompts on stdout, as `mosquitto_passwd`.
#[test]
fn piped_passwords() {
    let oracle = mosquitto_tools(["mosquitto_passwd"]);
    let cases: [(&[u8], i32, &str, &str); 5] = [
        (b"pw 1\tx\npw 1\tx\n", 0, "Password: \nReenter password: \n", ""),
        (b"pw\npx\n", 2, "Password: \nReenter password: \n", "Error: Passwords do not match.\n"),
        (b"pw\n", 1, "Password: \nReenter password: ", "Error: Empty password.\n"),
        (b"\n\n", 1, "Password: ", "Error: Empty password.\n"),
        (b"", 1, "Password: ", "Error: Empty password.\n"),
    ];
    for (input, want_code, want_out, want_err) in cases {
        let dir = tempdir();
        let out = mq_stdin(dir.path(), &["-c", "pw", "alice"], input);
        assert_eq!(
            (code(&out), stdout(&out).as_str(), stderr(&out).as_str()),
            (want_code, want_out, want_err),
            "input {input:?}"
        );
        if want_code == 0 {
            assert!(load(&dir.path().join("pw")).verify("alice", b"pw 1\tx"));
        } else {
            assert_eq!(dir_entries(dir.path()), Vec::<String>::new(), "nothing created");
        }
        if let Some([mosquitto_passwd]) = &oracle {
            let theirs = run_in(mosquitto_passwd, tempdir().path(), &["-c", "pw", "alice"], Some(input));
            assert_eq!(
                (code(&theirs), stdout(&theirs), stderr(&theirs)),
                (code(&out), stdout(&out), stderr(&out)),
                "mosquitto_passwd differs for input {input:?}"
            );
        }
    }
    // Updating an existing file through stdin, too.
    let dir = tempdir();
    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "pw", "alice", "a"])), 0);
    let out = mq_stdin(dir.path(), &["pw", "bob"], b"bee\nbee\n");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = load(&dir.path().join("pw"));
    assert!(file.verify("alice", b"a") && file.verify("bob", b"bee"));
}

/// `-D` of a missing user: Mosquitto's warning and status; the file is unchanged.
#[test]
fn delete_unknown_user_warns() {
    let dir = tempdir();
    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "pw", "alice", "a"])), 0);
    let before = fs::read(dir.path().join("pw")).expect("read");
    let out = mq(dir.path(), &["-D", "pw", "nobody"]);
    assert_eq!((code(&out), stderr(&out).as_str()), (1, "Warning: User nobody not found in password file.\n"));
    assert_eq!(fs::read(dir.path().join("pw")).expect("read"), before);
    if let Some([mosquitto_passwd]) = mosquitto_tools(["mosquitto_passwd"]) {
        let theirs = run_in(&mosquitto_passwd, dir.path(), &["-D", "pw", "nobody"], None);
        assert_eq!((code(&theirs), stderr(&theirs)), (code(&out), stderr(&out)));
    }
}

/// An edit keeps the file's mode, its comments and blank lines, and leaves no temporary file;
/// `-c` over an existing file keeps its mode too.
#[test]
fn atomic_edit_keeps_mode_and_comments() {
    let dir = tempdir();
    let f = dir.path().join("pw");
    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "pw", "alice", "a"])), 0);
    let alice = fs::read_to_string(&f).expect("read");
    fs::write(&f, format!("# users of the plant\n\n{alice}# end\n")).expect("write");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).expect("chmod");
    let ino_before = fs::metadata(&f).expect("meta").ino();

    assert_eq!(code(&mq(dir.path(), &["-b", "pw", "bob", "b"])), 0);
    let text = fs::read_to_string(&f).expect("read");
    assert!(text.starts_with(&format!("# users of the plant\n\n{alice}# end\nbob:$7$")), "{text}");
    assert_eq!(mode(&f), 0o640);
    assert_ne!(fs::metadata(&f).expect("meta").ino(), ino_before, "replaced by rename");
    assert_eq!(fs::metadata(&f).expect("meta").uid(), fs::metadata(dir.path()).expect("meta").uid());
    assert_eq!(dir_entries(dir.path()), ["pw"]);

    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "pw", "carol", "c"])), 0);
    assert_eq!(mode(&f), 0o640, "-c over an existing file keeps its mode");
    let file = load(&f);
    assert!(file.verify("carol", b"c") && !file.contains("alice"));
}

/// Editing through a symlink changes the target and keeps the link (as Mosquitto's realpath).
#[test]
fn edit_through_symlink() {
    let dir = tempdir();
    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "real", "alice", "a"])), 0);
    std::os::unix::fs::symlink("real", dir.path().join("link")).expect("symlink");
    assert_eq!(code(&mq(dir.path(), &["-b", "link", "bob", "b"])), 0);
    assert!(fs::symlink_metadata(dir.path().join("link")).expect("meta").file_type().is_symlink());
    assert!(load(&dir.path().join("real")).verify("bob", b"b"));
}

/// A corrupt file is reported line by line and not touched (Mosquitto 2.0.11 would replace it
/// with the single new user).
#[test]
fn corrupt_file_is_reported_and_unchanged() {
    let dir = tempdir();
    let f = dir.path().join("pw");
    let text = "# ok\nnocolon\nbob:plaintext\ncarol:$5$x$y\n";
    fs::write(&f, text).expect("write");
    let out = mq(dir.path(), &["-b", "pw", "alice", "a"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        "Error: Corrupt password file, not changed:\n\
         pw:2: missing ':' between username and password hash\n\
         pw:3: plain-text password instead of a hash (hash the file with `mq-passwd -U` or set the password with `mq-passwd`)\n\
         pw:4: unknown hash type '$5$' (known: $6$, $7$, $argon2id$)\n"
    );
    assert_eq!(fs::read_to_string(&f).expect("read"), text);
    assert_eq!(code(&mq(dir.path(), &["-D", "pw", "bob"])), 1);
    assert_eq!(fs::read_to_string(&f).expect("read"), text);
}

/// Several `mq-passwd -b` processes adding users to one file at once: every entry is there at
/// the end (each edit is a read-modify-replace, serialised by a lock on the file).
#[test]
fn concurrent_batch_edits_lose_no_entry() {
    const LOOPS: usize = 4;
    const USERS: usize = 50;
    let dir = tempdir();
    assert_eq!(code(&mq(dir.path(), &["-c", "-I", "1", "-b", "pw", "first", "x"])), 0);
    let loops: Vec<_> = (0..LOOPS)
        .map(|t| {
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                for i in 0..USERS {
                    let user = format!("user{t}-{i}");
                    let out = mq(&dir, &["-I", "1", "-b", "pw", &user, "pw"]);
                    assert_eq!(code(&out), 0, "{user}: {}", stderr(&out));
                }
            })
        })
        .collect();
    for l in loops {
        l.join().expect("loop");
    }
    let file = load(&dir.path().join("pw"));
    let missing: Vec<String> = (0..LOOPS)
        .flat_map(|t| (0..USERS).map(move |i| format!("user{t}-{i}")))
        .filter(|u| !file.contains(u))
        .collect();
    assert!(missing.is_empty(), "{} of {} entries lost: {missing:?}", missing.len(), LOOPS * USERS);
    assert_eq!(file.len(), LOOPS * USERS + 1);
    assert!(file.contains("first"));
    assert_eq!(dir_entries(dir.path()), ["pw"], "no temporary or lock file left behind");
}

/// `-U` hashes a plain-text file (comments kept) and refuses a file that is already hashed.
#[test]
fn upgrade_plaintext_and_refuse_hashed() {
    let dir = tempdir();
    let f = dir.path().join("pw");
    fs::write(&f, "# plain\nalice:one\n  bob  :  two  \n").expect("write");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).expect("chmod");
    let out = mq(dir.path(), &["-U", "pw"]);
    assert_eq!((code(&out), stderr(&out)), (0, String::new()));
    let text = fs::read_to_string(&f).expect("read");
    assert!(text.starts_with("# plain\nalice:$7$10000$"), "{text}");
    assert_eq!(mode(&f), 0o640);
    let file = load(&f);
    assert!(file.verify("alice", b"one") && file.verify("bob", b"two"));

    let out = mq(dir.path(), &["-U", "pw"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        "Error: pw:2: user 'alice' already has a hashed password; the file looks hashed already \
         and -U only converts plain-text files (hashing it again would lock users out)\n"
    );
    assert_eq!(fs::read_to_string(&f).expect("read"), text, "unchanged");

    // -H and -I apply to -U.
    fs::write(&f, "carol:three\n").expect("write");
    assert_eq!(code(&mq(dir.path(), &["-H", "sha512", "-U", "pw"])), 0);
    assert!(fs::read_to_string(&f).expect("read").starts_with("carol:$6$"));
    assert!(load(&f).verify("carol", b"three"));
}

/// Files written by `mosquitto_passwd` (every hash option, `-U`, non-ASCII) verify in our
/// library, and `mq-passwd` can edit them.
#[test]
fn interop_mosquitto_passwd_files_verify_in_library() {
    let Some([mosquitto_passwd]) = mosquitto_tools(["mosquitto_passwd"]) else {
        return;
    };
    let dir = tempdir();
    let f = dir.path().join("pw");
    for args in [
        &["-c", "-b", "pw", "alice", "secret"][..],
        &["-I", "1000", "-b", "pw", "bob", "secret"],
        &["-H", "sha512", "-b", "pw", "carol", "secret"],
        &["-b", "pw", "dave", "pässwörd"],
    ] {
        let out = run_in(&mosquitto_passwd, dir.path(), args, None);
        assert_eq!(code(&out), 0, "mosquitto_passwd {args:?}: {}", stderr(&out));
    }
    let out = run_in(&mosquitto_passwd, dir.path(), &["pw", "erin"], Some(b"e r\ne r\n"));
    assert_eq!(code(&out), 0);
    let file = load(&f);
    for (user, password) in
        [("alice", "secret"), ("bob", "secret"), ("carol", "secret"), ("dave", "pässwörd"), ("erin", "e r")]
    {
        assert!(file.verify(user, password.as_bytes()), "{user}");
        assert!(!file.verify(user, b"Secret"), "{user}");
    }
    assert_eq!(file.get("bob").and_then(|h| h.iterations()), Some(1000));

    // A plain-text file upgraded by mosquitto_passwd -U.
    let plain = dir.path().join("plain");
    fs::write(&plain, "frank:one\ngina:two\n").expect("write");
    assert_eq!(code(&run_in(&mosquitto_passwd, dir.path(), &["-U", "plain"], None)), 0);
    let upgraded = load(&plain);
    assert!(upgraded.verify("frank", b"one") && upgraded.verify("gina", b"two"));

    // And we edit their file without disturbing the other lines.
    let before = fs::read_to_string(&f).expect("read");
    assert_eq!(code(&mq(dir.path(), &["-D", "pw", "carol"])), 0);
    let after = fs::read_to_string(&f).expect("read");
    let expected: String = before.lines().filter(|l| !l.starts_with("carol:")).map(|l| format!("{l}\n")).collect();
    assert_eq!(after, expected);
}

/// Kills and reaps the broker however the test ends.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn wait_for_port(port: u16, broker: &mut Broker, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = broker.0.try_wait() {
            panic!("mosquitto exited ({status}): {}", fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("mosquitto did not listen on {port}");
}

/// A file written by `mq-passwd` (default `$7$` with our iteration count, `-H sha512`, `-U`)
/// is accepted by Mosquitto's broker: right password → `mosquitto_pub` exits 0, wrong → 5.
#[test]
fn interop_mosquitto_broker_accepts_our_file() {
    let Some([mosquitto, mosquitto_pub]) = mosquitto_tools(["mosquitto", "mosquitto_pub"]) else {
        return;
    };
    let dir = tempdir();
    let pw = dir.path().join("pw");
    assert_eq!(code(&mq(dir.path(), &["-c", "-b", "pw", "alice", "secret"])), 0);
    assert_eq!(code(&mq(dir.path(), &["-H", "sha512", "-b", "pw", "bob", "b0b"])), 0);
    assert_eq!(code(&mq(dir.path(), &["-I", "101", "-b", "pw", "ünï", "pässwörd"])), 0);
    assert_eq!(code(&mq_stdin(dir.path(), &["pw", "carol"], b"c c\nc c\n")), 0);

    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    let mut text = format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display());
    // Started as root, Mosquitto switches to the `mosquitto` user before reading the password
    // file, which could then not read our 0600 file in a 0700 directory.
    if fs::metadata(dir.path()).expect("meta").uid() == 0 {
        text.push_str("user root\n");
    }
    fs::write(&conf, text).expect("conf");
    let log = dir.path().join("mosquitto.log");
    let child = command(&mosquitto, dir.path(), &["-c", conf.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start mosquitto");
    let mut broker = Broker(child);
    wait_for_port(port, &mut broker, &log);

    let port_arg = port.to_string();
    let publish = |user: &str, password: &str| {
        let out = run_in(
            &mosquitto_pub,
            dir.path(),
            &["-p", &port_arg, "-u", user, "-P", password, "-t", "t", "-m", "x"],
            None,
        );
        code(&out)
    };
    assert_eq!(publish("alice", "secret"), 0, "log: {}", fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(publish("alice", "Secret"), 5);
    assert_eq!(publish("bob", "b0b"), 0);
    assert_eq!(publish("bob", "bob"), 5);
    assert_eq!(publish("ünï", "pässwörd"), 0);
    assert_eq!(publish("carol", "c c"), 0);
    assert_eq!(publish("mallory", "secret"), 5);
    drop(broker);
}
