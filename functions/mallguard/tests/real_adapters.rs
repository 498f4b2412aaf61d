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
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        data: dir.path().join(".mallguard"),
        table: format!("mallguard-cli-{nanos}"),
        sender: format!("noreply-cli-{nanos}@shop.example"),
        dynamodb: service("MALLGUARD_TEST_DYNAMODB"),
        ses: service("MALLGUARD_TEST_SES"),
    };
    // SES (and moto) send only from a verified identity.
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
