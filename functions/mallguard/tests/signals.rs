//! How `mallguard serve` stops: on SIGTERM as on Ctrl-C, the requests in flight finished, the log's
//! waiting lines written, and a clean exit.
#![cfg(unix)]

mod common;

use std::io::{BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, event, read_banner};

/// What a stopped server left: its exit status, what it printed after the banner, its log and its data
/// folder.
struct Stopped {
    status: std::process::ExitStatus,
    printed: String,
    log: String,
    data: tempfile::TempDir,
}

/// Starts the server at `info`, posts the sample `events` one after another, sends it `signal` at once and
/// waits for it to end.
fn stopped_by(signal: &str, events: &[&str]) -> Stopped {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env("MALLGUARD_DATA", data.path())
        .env("MALLGUARD_LOG", "info")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (url, _) = read_banner(&mut stdout);
    for name in events {
        let sent = Command::new(BIN)
            .env("MALLGUARD_LOG", "warn")
            .args(["send", &event(name), "--url", &url, "--data"])
            .arg(data.path())
            .output()
            .unwrap();
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    }

    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within 30 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut printed = String::new();
    stdout.read_to_string(&mut printed).unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    Stopped {
        status,
        printed,
        log,
        data,
    }
}

#[test]
fn sigterm_stops_the_server_as_ctrl_c_does_with_the_log_written() {
    for signal in ["TERM", "INT"] {
        let Stopped {
            status, printed, log, ..
        } = stopped_by(signal, &["generic/order.json"]);
        assert!(status.success(), "SIG{signal}: {status:?}\n{printed}\n{log}");
        assert!(printed.contains("mallguard stopped."), "SIG{signal}: {printed}");
        // The order's line was written by the log's thread before the program ended.
        assert!(
            log.contains("order ingested") && log.contains("outcome=Accepted"),
            "SIG{signal}: {log}"
        );
    }
}

/// The server records a request's sent mails after answering it; stopped right after a duplicate was held,
/// it has recorded both of that request's mails (the buyer's notice and the staff's alert) as sent before
/// it ends, so none is sent again by the next start's sweep.
#[test]
fn the_last_requests_mails_are_recorded_as_sent_before_the_server_ends() {
    let stopped = stopped_by("TERM", &["generic/order.json", "generic/order-duplicate.json"]);
    assert!(stopped.status.success(), "{:?}\n{}", stopped.status, stopped.log);
    assert!(stopped.log.contains("suspected duplicate held"), "{}", stopped.log);
    let db = rusqlite::Connection::open(stopped.data.path().join("mallguard.db")).unwrap();
    let states: Vec<(String, String)> = db
        .prepare("SELECT json_extract(json, '$.kind'), state FROM notices ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        states,
        [("notice", "sent"), ("staff_new_hold", "sent")].map(|(k, s)| (k.to_owned(), s.to_owned())),
        "{}",
        stopped.log
    );
}
