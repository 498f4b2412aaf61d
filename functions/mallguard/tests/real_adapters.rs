//! The local program on the real adapters: `mallguard serve --store dynamodb` against
//! DynamoDB Local and moto (both started by `bash tests/run`), through the standard
//! `AWS_ENDPOINT_URL_*` variables, with the secrets from the data folder.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use aws_config::BehaviorVersion;
use common::{BIN, Server, event, stdout};
use serde_json::Value;

fn service(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: DynamoDB Local and moto are not running: run the tests with `bash tests/run`")
    })
}

/// Everything the program reads, for one test: its own table and sender, so tests sharing the
/// services never meet.
struct Env {
    data: std::path::PathBuf,
    table: String,
    sender: String,
    dynamodb: String,
    ses: String,
}

impl Env {
    /// A data folder in `dir`, a table and a sender of their own (named `prefix` and the time), on the
    /// test services; the sender verified, since SES (and moto) send only from a verified identity.
    async fn with_sender(dir: &std::path::Path, prefix: &str) -> Env {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let env = Env {
            data: dir.join(".mallguard"),
            table: format!("mallguard-{prefix}-{nanos}"),
            sender: format!("noreply-{prefix}-{nanos}@shop.example"),
            dynamodb: service("MALLGUARD_TEST_DYNAMODB"),
            ses: service("MALLGUARD_TEST_SES"),
        };
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&env.ses)
            .load()
            .await;
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(&env.sender)
            .send()
            .await
            .expect("moto creates the identity");
        env
    }

    fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("MALLGUARD_DATA", &self.data)
            .env("MALLGUARD_STORE", "dynamodb")
            .env("MALLGUARD_TABLE", &self.table)
            .env("MALLGUARD_SENDER", &self.sender)
            .env("MALLGUARD_SHOP_NAME", "田中商店")
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.dynamodb)
            .env("AWS_ENDPOINT_URL_SESV2", &self.ses)
            .env("MALLGUARD_LOG", "warn");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "mallguard {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn start(&self) -> (Server, String, String) {
        let mut command = self.command();
        command.args(["serve", "--bind", "127.0.0.1:0", "--create-table"]);
        common::spawn(command)
    }
}

async fn messages_from(ses: &str, sender: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{ses}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["source"].as_str().is_some_and(|s| s.contains(sender)))
        .collect()
}

#[tokio::test]
async fn serve_on_dynamodb_and_ses_holds_the_second_order_and_mails_the_notice_through_ses() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::with_sender(dir.path(), "cli").await;

    let (_server, url, banner) = env.start();
    assert!(
        banner.contains(&format!("DynamoDB table {} (just created)", env.table)),
        "{banner}"
    );
    assert!(Path::new(&env.data).join("secrets.json").exists(), "secrets stay local");

    let first = stdout(&env.run(&["send", &event("generic/order.json"), "--url", &url]));
    assert!(first.contains("\"accepted\""), "{first}");
    let second = stdout(&env.run(&["send", &event("generic/order-duplicate.json"), "--url", &url]));
    assert!(
        second.contains("\"held\"") && second.contains("\"notified\":true"),
        "{second}"
    );

    let sent = messages_from(&env.ses, &env.sender).await;
    let notice = sent
        .iter()
        .find(|m| m["subject"].as_str().is_some_and(|s| s.contains("ご確認のお願い")))
        .unwrap_or_else(|| panic!("no notice among {sent:?}"));
    assert_eq!(
        notice["source"],
        format!("=?UTF-8?B?55Sw5Lit5ZWG5bqX?= <{}>", env.sender).as_str()
    );
    let to = notice["destinations"]["ToAddresses"].as_array().unwrap();
    assert_eq!(to.len(), 1);
    assert_ne!(to[0], "staff@shop.example", "the notice goes to the buyer");

    // The staff's tools read the same table, and the evidence names SES's message id.
    let holds = stdout(&env.run(&["holds"]));
    assert!(holds.contains("保留中"), "{holds}");
    let evidence = stdout(&env.run(&["evidence", "own", "TS-20261123-0002"]));
    let id = notice["id"].as_str().unwrap();
    assert!(
        evidence.contains(id),
        "the message id {id} is in the evidence:\n{evidence}"
    );
}

/// Operating a deployed stack (`--store dynamodb`), the program sends a Rakuten buyer's notice the way the
/// functions do: through the shop's Rakuten relay (an SMTP sink here) with its login, never through SES.
// Multi-threaded: the sink and the fake RMS answer the program while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_a_rakuten_buyers_notice_goes_through_the_shops_relay_as_the_functions_send_it() {
    use mallguard_feeds::fake::{FakeRms, LICENSE_KEY, SERVICE_SECRET, SHOP};
    use mallguard_smtp::sink::SmtpSink;

    let dir = tempfile::tempdir().unwrap();
    let env = Env::with_sender(dir.path(), "cli-relay").await;
    // A first start creates the table and the data folder's secrets; then the shop's relay login is added.
    drop(env.start());
    let rms = FakeRms::start().await;
    let sink = SmtpSink::start("tea-relay", "relay-password").await.unwrap();
    let path = env.data.join("secrets.json");
    let mut secrets: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    secrets["rakuten"] = serde_json::json!({
        SHOP: {
            "service_secret": SERVICE_SECRET,
            "license_key": LICENSE_KEY,
            "smtp": {
                "user": "tea-relay",
                "password": "relay-password",
                "from": "shop@tea-shop.example",
                "host": "127.0.0.1",
                "port": sink.port()
            }
        }
    });
    std::fs::write(&path, secrets.to_string()).unwrap();

    let mut command = env.command();
    command
        .env("MALLGUARD_RAKUTEN_URL", rms.url())
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let (_server, url, _) = common::spawn(command);
    // The shop's own-store order, then the same buyer's Rakuten order (relayed as the canonical JSON) from
    // a masked address five minutes later: held, and its notice goes to the masked address.
    let folder = dir.path().join("generic");
    std::fs::create_dir_all(&folder).unwrap();
    let mut first: Value = serde_json::from_slice(&std::fs::read(event("generic/order.json")).unwrap()).unwrap();
    first["order_id"] = "TS-RELAY-0001".into();
    let mut second = first.clone();
    second["mall"] = "rakuten".into();
    second["shop_id"] = SHOP.into();
    second["order_id"] = "386193-20261123-0000001".into();
    second["placed_at"] = "2026-11-23T12:05:00+09:00".into();
    second["buyer"]["email"] = "a1b2c3d4e5@pc.fw.rakuten.ne.jp".into();
    for (name, order) in [("own.json", &first), ("rakuten.json", &second)] {
        let file = folder.join(name);
        std::fs::write(&file, order.to_string()).unwrap();
        let answer = stdout(&env.run(&["send", file.to_str().unwrap(), "--url", &url]));
        assert!(!answer.contains("error"), "{answer}");
    }
    let relayed = sink.messages();
    assert_eq!(relayed.len(), 1, "the buyer's notice, through the relay");
    assert_eq!(relayed[0].user.as_deref(), Some("tea-relay"));
    assert_eq!(relayed[0].from, "shop@tea-shop.example");
    assert_eq!(relayed[0].recipients, ["a1b2c3d4e5@pc.fw.rakuten.ne.jp"]);
    let through_ses = messages_from(&env.ses, &env.sender).await;
    assert!(
        !through_ses
            .iter()
            .any(|m| m.to_string().contains("pc.fw.rakuten.ne.jp")),
        "never through SES"
    );
}
