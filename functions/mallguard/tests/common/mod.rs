//! What the program's tests share: start `mallguard serve` and read its banner, run a command.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_mallguard");

/// The server, stopped when the test ends however it ends.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` (a `mallguard … serve --bind 127.0.0.1:0`) and reads its banner up to the sample
/// commands; returns the server, its URL and the banner.
pub fn spawn(mut command: Command) -> (Server, String, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let server = Server(child);
    let (url, banner) = read_banner(&mut BufReader::new(out));
    (server, url, banner)
}

/// Reads a server's banner from its standard output up to the sample commands (what follows stays in
/// `out`); returns the server's URL and the banner.
pub fn read_banner(out: &mut impl BufRead) -> (String, String) {
    let mut banner = String::new();
    let mut url = None;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        banner.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("webhooks:") {
            url = rest
                .split_whitespace()
                .next()
                .and_then(|u| u.strip_suffix("/webhooks/shopify"))
                .map(str::to_owned);
        }
        if line.contains("order-duplicate.json") {
            break;
        }
        line.clear();
    }
    let url = url.unwrap_or_else(|| panic!("no URL in the banner:\n{banner}"));
    (url, banner)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The absolute path of a sample event.
pub fn event(name: &str) -> String {
    mallguard_tests::events_dir().join(name).to_string_lossy().into_owned()
}

/// Runs `mallguard ARGS` on the data folder `data`; fails the test if it fails (but for `resolve`).
pub fn mallguard(data: &Path, args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .env("MALLGUARD_DATA", data)
        .args(args)
        .env("MALLGUARD_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success() || args[0] == "resolve",
        "mallguard {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Starts `mallguard serve` on a free port over the data folder `data`.
pub fn start(data: &Path) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .env("MALLGUARD_DATA", data)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MALLGUARD_LOG", "warn");
    let (server, url, banner) = spawn(command);
    assert!(
        banner.contains("cargo run -- send events/generic/order.json"),
        "{banner}"
    );
    (server, url)
}

/// Runs `mallguard ARGS` on the data folder `data` and returns what happened, success or not.
pub fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env("MALLGUARD_DATA", data)
        .args(args)
        .env("MALLGUARD_LOG", "warn")
        .output()
        .unwrap()
}

/// Starts `mallguard serve` on a free port over the data folder `data`, with more environment variables
/// (the server's hidden limits, say).
pub fn start_with_env(data: &Path, env: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .env("MALLGUARD_DATA", data)
        .envs(env.iter().copied())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MALLGUARD_LOG", "warn");
    let (server, url, _) = spawn(command);
    (server, url)
}
