//! The processes under load: `mallguard serve` (or the bare axum server) started as a child, its address
//! read from its banner, and its CPU time and peak memory read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub type Result<T> = std::result::Result<T, String>;

/// A server process; killed when dropped (a bench that fails half way leaves nothing running).
pub struct Server {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Server {
    /// Starts `mallguard serve` on a free port with its data in `data` (created with fresh secrets on the
    /// first start). `extra` are more flags (policy knobs). Logs at `log` level (`info` is the default
    /// a shop runs with) go to `data.log`, a file as a service manager would keep them.
    pub fn mallguard(binary: &Path, data: &Path, extra: &[&str], log: &str) -> Result<Self> {
        std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
        let log_file = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(["--sweep-every", "86400"])
            .args(extra)
            .env("MALLGUARD_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        Self::spawn(cmd, "webhooks:")
    }

    /// Starts this program's own `bare-axum` subcommand: the HTTP floor, same runtime and framework, no work.
    pub fn bare_axum() -> Result<Self> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args(["bare-axum", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        Self::spawn(cmd, "listening on")
    }

    /// Spawns `cmd` and waits for the first `http://127.0.0.1:PORT` on a stdout line containing `marker`.
    fn spawn(mut cmd: Command, marker: &'static str) -> Result<Self> {
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads the banner, then keeps draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(marker)
                    && let Some(url) = first_url(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url);
                }
            }
        });
        let mut server = Self {
            child,
            pid,
            url: String::new(),
        };
        // The first start may build the secrets and the database: seconds at most.
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => server.url = url,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                return Err(format!("{cmd:?} printed no address (exit status {status:?})"));
            }
        }
        Ok(server)
    }

    /// User plus system CPU time of the whole process (every thread), in clock ticks.
    pub fn cpu_ticks(&self) -> Result<u64> {
        cpu_ticks(self.pid)
    }

    /// The peak resident set (VmHWM), in kB.
    pub fn peak_rss_kb(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).map_err(|e| e.to_string())?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc/<pid>/status".to_owned())
    }

    /// Stops the server as Ctrl-C would (it finishes the requests in flight and closes the store), killing
    /// it after ten seconds.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-INT", &self.pid.to_string()]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn first_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest[("http://127.0.0.1:".len())..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest.len(), |i| i + "http://127.0.0.1:".len());
    Some(rest[..end].to_owned())
}

/// utime + stime (fields 14 and 15 of /proc/<pid>/stat, counted after the command name, which may hold
/// spaces and parentheses).
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad /proc/<pid>/stat")?;
    // After the name: state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| "bad /proc/<pid>/stat".to_owned())
    };
    Ok(get(11)? + get(12)?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The generic (Standard Webhooks) secret of a data folder: `generic[0]` of its `secrets.json`.
pub fn generic_secret(data: &Path) -> Result<String> {
    let path = data.join("secrets.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    [&v["generic"][0], &v["webhooks"]["generic"][0]]
        .into_iter()
        .find_map(|s| s.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no generic secret", path.display()))
}

/// Builds the mallguard binary: release unless the path names a debug build.
pub fn build(root: &Path, binary: &Path) -> Result<()> {
    let debug = binary.components().any(|c| c.as_os_str() == "debug");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root).args(["build", "-p", "mallguard"]);
    if !debug {
        cmd.arg("--release");
    }
    eprintln!("building: {cmd:?} (the first release build takes minutes)");
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}"));
    }
    Ok(())
}

/// The database of a data folder.
pub fn database(data: &Path) -> PathBuf {
    data.join("mallguard.db")
}
