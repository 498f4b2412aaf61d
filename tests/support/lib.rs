//! Test support: `spawn_app` starts the real ingest and respond routers on a random loopback port over
//! the embedded store and the outbox folder, as `cargo run` does, and a client that signs like a mall.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mallguard_domain::ports::Clock;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::{Mallguard, Settings};
use mallguard_domain::testing::ManualClock;
use mallguard_embedded::{OutboxMailer, SqliteStore};
use mallguard_ingest::IngestConfig;
use mallguard_malls::WebhookSecrets;

pub const SHOPIFY_SECRET: &[u8] = b"shpss_test_secret";
pub const GENERIC_SECRET: &str = "whsec_dGVzdCBnZW5lcmljIHNlY3JldCBmb3IgbWFsbGd1YXJk";
pub const SHOP_DOMAIN: &str = "tanaka-shop.myshopify.com";

/// The repository's `events/` folder.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

pub fn event(name: &str) -> Vec<u8> {
    let path = events_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One running app on a loopback port, with its own data folder.
pub struct TestApp {
    pub url: String,
    pub app: Mallguard,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    pub outbox: PathBuf,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A staff member on the console's staff list of every test app.
pub const STAFF: &str = "sato@tanaka-shop.example";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut IngestConfig)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("mallguard.db")).unwrap());
    let outbox = dir.path().join("outbox");
    let mailer = Arc::new(OutboxMailer::new(
        outbox.clone(),
        "noreply@tanaka-shop.example".parse().unwrap(),
    ));
    let clock = Arc::new(ManualClock::at(&mallguard_domain::ports::SystemClock.now().to_string()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut settings: Settings = mallguard_domain::testing::settings();
    settings.shop.public_url = url.clone();
    let app = Mallguard::new(store.clone(), mailer, clock.clone(), settings);
    let secrets = WebhookSecrets::new(
        [(
            "tanaka-shop".to_owned(),
            String::from_utf8(SHOPIFY_SECRET.to_vec()).unwrap(),
        )]
        .into(),
        vec![GENERIC_SECRET.to_owned()],
    )
    .unwrap();
    let mut config = IngestConfig::new(secrets);
    configure(&mut config);
    // The staff's console as the local program mounts it: the shop's staff address and one more may sign in.
    let console = mallguard_console::ConsoleConfig {
        staff: mallguard_domain::staff::StaffList::parse(&format!("staff@tanaka-shop.example, {STAFF}")).unwrap(),
        base_url: mallguard_console::ConsoleUrl::Fixed(url.clone()),
    };
    let router = mallguard_ingest::router(app.clone(), config)
        .merge(mallguard_respond::router(app.clone()))
        .merge(mallguard_console::router(
            app.clone(),
            Arc::new(mallguard_malls::inbound::Malls),
            console,
        ));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        url,
        app,
        store,
        clock,
        outbox,
        client,
        _dir: dir,
    }
}

impl TestApp {
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Posts a body to `/webhooks/generic`, signed now with the generic secret.
    pub async fn post_generic(&self, body: &[u8]) -> reqwest::Response {
        let id = format!("msg_{}", mallguard_domain::order::PayloadDigest::of(body).as_str());
        let timestamp = self.now().as_second();
        let signature = mallguard_malls::generic::sign(GENERIC_SECRET, &id, timestamp, body);
        self.client
            .post(format!("{}/webhooks/generic", self.url))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Posts a body to `/webhooks/shopify` with a correct HMAC.
    pub async fn post_shopify(&self, body: &[u8], topic: &str) -> reqwest::Response {
        let id = format!(
            "wh-{}",
            &mallguard_domain::order::PayloadDigest::of(body).as_str()[..16]
        );
        self.client
            .post(format!("{}/webhooks/shopify", self.url))
            .header("content-type", "application/json")
            .header("x-shopify-topic", topic)
            .header("x-shopify-shop-domain", SHOP_DOMAIN)
            .header("x-shopify-webhook-id", id)
            .header(
                "x-shopify-hmac-sha256",
                mallguard_malls::shopify::sign(SHOPIFY_SECRET, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// The mails in the outbox folder, oldest first.
    pub fn outbox(&self) -> Vec<OutboxMail> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return vec![];
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| OutboxMail::read(p)).collect()
    }

    pub async fn hold_state(&self, hold: &str) -> mallguard_domain::hold::HoldState {
        let id = mallguard_domain::ids::HoldId::parse(hold).unwrap();
        self.store.hold(&id).await.unwrap().unwrap().state
    }
}

/// One `.eml` file from the outbox, decoded enough to read.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub path: PathBuf,
    pub raw: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl OutboxMail {
    pub fn read(path: &Path) -> Self {
        let raw = std::fs::read_to_string(path).unwrap();
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .or_else(|| raw.split_once("\n\n"))
            .expect("headers and body");
        let header = |name: &str| -> String {
            let mut value = String::new();
            let mut inside = false;
            for line in head.lines() {
                if inside && (line.starts_with(' ') || line.starts_with('\t')) {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                inside = false;
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case(name)
                {
                    value = v.trim().to_owned();
                    inside = true;
                }
            }
            value
        };
        let subject = decode_words(&header("subject"));
        let to = header("to");
        let text = part(body, "text/plain").expect("a text part");
        let html = part(body, "text/html");
        Self {
            path: path.to_owned(),
            raw: raw.clone(),
            to,
            subject,
            text,
            html,
        }
    }

    /// The `/h/{token}` links in the text part.
    pub fn links(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .filter(|w| w.starts_with("http") && w.contains("/h/"))
            .map(str::to_owned)
            .collect()
    }
}

/// Decodes RFC 2047 `=?UTF-8?B?…?=` words (the charset and encoding labels in any case).
fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    for word in value.split_whitespace() {
        let prefix = "=?utf-8?b?";
        let encoded = word
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| &word[prefix.len()..]);
        match encoded.and_then(|w| w.strip_suffix("?=")) {
            Some(b64) => out.extend(STANDARD.decode(b64).expect("base64 encoded word")),
            None => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend(word.as_bytes());
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 subject")
}

/// The decoded body of the first MIME part of `content_type`.
fn part(body: &str, content_type: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find(&format!("content-type: {content_type}"))?;
    let rest = &body[start..];
    let (headers, content) = rest.split_once("\r\n\r\n").or_else(|| rest.split_once("\n\n"))?;
    let content = content.split("\n--").next().unwrap_or(content);
    let headers = headers.to_ascii_lowercase();
    if headers.contains("content-transfer-encoding: base64") {
        let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
        Some(String::from_utf8(STANDARD.decode(compact).expect("base64 part")).expect("UTF-8 part"))
    } else if headers.contains("quoted-printable") {
        Some(decode_quoted_printable(content))
    } else {
        Some(content.to_owned())
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.replace("=\r\n", "").replace("=\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
