//! Just enough of WebDriver (W3C, over HTTP) to drive Debian's headless Chromium through chromedriver,
//! on loopback only. Both processes end with the test, however it ends: when the `Browser` is dropped
//! (a pass or a panic) the session is deleted, so Chromium closes, and whatever is left of chromedriver
//! and Chromium is killed by its id; when the test process is killed outright, a parent-death signal
//! kills chromedriver, and another kills Chromium with it. Chromium runs on a fresh profile and home in
//! a temporary folder, so it neither reads nor writes anything of the machine's user.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Japanese glyphs: without them the page would be measured in a fallback font, or in boxes.
pub const NOTO_CJK: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// The W3C key under which an element reference comes back.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What is missing to run a real browser here, if anything.
pub fn missing() -> Option<String> {
    let mut missing = vec![];
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            missing.push(path.to_owned());
        }
    }
    if !Path::new(NOTO_CJK).exists() {
        missing.push(format!("{NOTO_CJK} (fonts-noto-cjk)"));
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:{port}/session/{id}`.
    session: String,
    port: u16,
    http: reqwest::Client,
    /// This browser's own folder: the profile, a home, the launcher and chromedriver's log.
    _dir: tempfile::TempDir,
    profile: PathBuf,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session on a fresh profile.
    pub async fn launch() -> Browser {
        if let Some(missing) = missing() {
            panic!("{missing} missing: run the tests with `bash tests/run`, which installs them");
        }
        let dir = tempfile::Builder::new()
            .prefix("mallguard-chromium-")
            .tempdir()
            .unwrap();
        let profile = dir.path().join("profile");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        // Chromium is started through this launcher: it dies with chromedriver (parent-death signal),
        // so nothing outlives a test process that is killed outright.
        let launcher = dir.path().join("chromium");
        let pdeathsig = if Path::new("/usr/bin/setpriv").exists() {
            "/usr/bin/setpriv --pdeathsig KILL "
        } else {
            ""
        };
        std::fs::write(&launcher, format!("#!/bin/sh\nexec {pdeathsig}{CHROMIUM} \"$@\"\n")).unwrap();
        std::fs::set_permissions(&launcher, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            // Nothing is written to the real home (Chromium's crash reports, caches): all stays here.
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe. If the thread that started the browser dies without
        // unwinding (the test process is killed), chromedriver is killed too, and Chromium with it.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let driver = command.spawn().expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut browser = Browser {
            driver,
            session: String::new(),
            port,
            http,
            _dir: dir,
            profile,
            log,
        };
        browser.wait_ready().await;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
            "--no-default-browser-check",
            "--no-pings",
            "--disable-dev-shm-usage",
            "--window-size=1000,900",
            // Loopback only: no name resolves, and anything not on loopback would go to a dead port.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            "--proxy-server=http://127.0.0.1:9",
            "--lang=ja",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", browser.profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {"binary": launcher, "args": args},
                }
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let created = browser
            .send(reqwest::Method::POST, &format!("{base}/session"), Some(capabilities))
            .await;
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}{}", browser.log_tail()));
        browser.session = format!("{base}/session/{id}");
        browser
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{}/status", self.port);
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return;
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited: {exit}{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of chromedriver's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("\n--- chromedriver log (last lines) ---\n{tail}")
    }

    async fn send(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}{}", self.log_tail()));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {url}: {status} {value}");
        value
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        self.send(method, &url, body).await["value"].take()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        let url = self.command(reqwest::Method::GET, "/url", None).await;
        url.as_str().unwrap().to_owned()
    }

    pub async fn refresh(&self) {
        self.command(reqwest::Method::POST, "/refresh", Some(json!({}))).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command(reqwest::Method::POST, "/execute/sync", Some(body)).await
    }

    /// The elements that match a CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self.command(reqwest::Method::POST, "/elements", Some(body)).await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn text(&self, element: &str) -> String {
        let text = self
            .command(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await;
        text.as_str().unwrap().to_owned()
    }

    pub async fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into a form field.
    pub async fn type_into(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The first element that matches a CSS selector; panics naming the selector when there is none.
    pub async fn find(&self, css: &str) -> String {
        self.find_all(css)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element {css} on the page"))
    }

    /// The page's whole visible text.
    pub async fn body_text(&self) -> String {
        let text = self.execute("return document.body.innerText;", json!([])).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The browser's cookies for the current page (name and value), as `document.cookie` cannot show
    /// an HttpOnly one.
    pub async fn cookies(&self) -> Value {
        self.command(reqwest::Method::GET, "/cookie", None).await
    }

    /// A Chrome DevTools command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params });
        self.command(reqwest::Method::POST, "/goog/cdp/execute", Some(body))
            .await
    }

    /// Makes the page `width` CSS pixels wide, as a phone (`mobile`: the viewport meta tag applies,
    /// twice the pixels) or as a desktop window.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let scale = if mobile { 2 } else { 1 };
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile });
        self.cdp("Emulation.setDeviceMetricsOverride", params).await;
    }

    /// A PNG of the whole page, not only of what fits the window.
    pub async fn screenshot(&self, path: &Path) {
        let size = self
            .execute(
                "return [document.documentElement.clientWidth, document.documentElement.scrollHeight];",
                json!([]),
            )
            .await;
        let clip = json!({ "x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1 });
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
            )
            .await;
        let png = STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Waits until `script` returns true.
    pub async fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.execute(script, json!([])).await != true {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes the session with a plain blocking request (Drop cannot await): Chromium closes.
    fn delete_session(&self) {
        let Some(path) = self.session.strip_prefix(&format!("http://127.0.0.1:{}", self.port)) else {
            return;
        };
        let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(2))
        else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // Read the whole answer (chromedriver keeps the connection open): headers, then the body.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    })
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return;
                }
            }
        }
    }

    /// This browser's processes: chromedriver, what runs on this browser's own profile folder (the
    /// folder is unique to it, and Chromium's main process names it), and all their descendants.
    fn processes(&self, with_driver: bool) -> Vec<i32> {
        let needle = format!("--user-data-dir={}", self.profile.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return vec![];
        };
        let mut parent_of = vec![];
        let mut ours = if with_driver {
            vec![self.driver.id() as i32]
        } else {
            vec![]
        };
        for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
            // /proc/{pid}/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            if fields.first() == Some(&"Z") {
                continue; // already dead, waiting for its parent to reap it
            }
            if let Some(ppid) = fields.get(1).and_then(|p| p.parse::<i32>().ok()) {
                parent_of.push((pid, ppid));
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.split(|b| *b == 0).any(|arg| arg == needle.as_bytes()) {
                ours.push(pid);
            }
        }
        let mut i = 0;
        while i < ours.len() {
            let parent = ours[i];
            let children: Vec<i32> = parent_of
                .iter()
                .filter(|(pid, ppid)| *ppid == parent && !ours.contains(pid))
                .map(|(pid, _)| *pid)
                .collect();
            ours.extend(children);
            i += 1;
        }
        ours
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.delete_session();
        }
        // Whatever is left, found while Chromium's processes are still chromedriver's descendants,
        // is killed by its ids; chromedriver is reaped at once, so its id is never taken for another's.
        let mut left = self.processes(true);
        for _ in 0..50 {
            for pid in &left {
                // SAFETY: a plain syscall, on a process of this browser only.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            let _ = self.driver.kill();
            let _ = self.driver.wait();
            left = self.processes(false);
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
