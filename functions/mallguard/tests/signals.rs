//! How `mallguard serve` stops: on SIGTERM as on Ctrl-C, the requests in flight finished, the log's
//! waiting lines written, and a clean exit.
#![cfg(unix)]

mod common;

use std::io::{BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, event, read_banner};

/// Starts the server at `info`, posts one order, sends it `signal` and returns its exit status, what it
/// printed after the banner and its log.
fn stopped_by(signal: &str) -> (std::process::ExitStatus, String, String) {
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
    let sent = Command::new(BIN)
        .env("MALLGUARD_LOG", "warn")
        .args(["send", &event("generic/order.json"), "--url", &url, "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));

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
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    (status, rest, log)
}

#[test]
fn sigterm_stops_the_server_as_ctrl_c_does_with_the_log_written() {
    for signal in ["TERM", "INT"] {
        let (status, printed, log) = stopped_by(signal);
        assert!(status.success(), "SIG{signal}: {status:?}\n{printed}\n{log}");
        assert!(printed.contains("mallguard stopped."), "SIG{signal}: {printed}");
        // The order's line was written by the log's thread before the program ended.
        assert!(
            log.contains("order ingested") && log.contains("outcome=Accepted"),
            "SIG{signal}: {log}"
        );
    }
}
