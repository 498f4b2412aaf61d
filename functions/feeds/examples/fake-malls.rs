//! The three malls' order APIs, faked on loopback ports with the samples in `events/` (fictional people),
//! for trying the local program's polling and Amazon notifications without any mall account:
//!
//! ```sh
//! cargo run -p mallguard-feeds --example fake-malls -- .mallguard-malls/secrets.json
//! ```
//!
//! The samples' orders are moved to yesterday (JST), so a first poll, which reads two days back, finds
//! them. The fakes' credentials are added to the secrets file given (create it first with any command of
//! the program, e.g. `cargo run -- holds --data .mallguard-malls`), and the environment the program needs
//! to call the fakes is printed. The fakes serve until Ctrl-C.

use std::process::ExitCode;

use mallguard_feeds::fake::{self, FakeRms};
use mallguard_feeds::fake_amazon::{self, FakeSpApi};
use mallguard_feeds::fake_yahoo::{self, FakeYahoo};

#[tokio::main]
async fn main() -> ExitCode {
    let Some(secrets_path) = std::env::args().nth(1) else {
        eprintln!("usage: fake-malls <the data folder's secrets.json>");
        return ExitCode::FAILURE;
    };
    let secrets = match std::fs::read(&secrets_path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{secrets_path}: {e} (run `cargo run -- holds --data <folder>` first to create it)");
            return ExitCode::FAILURE;
        }
    };
    let mut secrets: serde_json::Value = match serde_json::from_slice(&secrets) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("{secrets_path}: not JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    let today = jiff::Timestamp::now().to_zoned(mallguard_domain::policy::jst()).date();
    let yesterday = today.yesterday().unwrap();
    let (rms, yahoo, amazon) = (
        FakeRms::start_on(yesterday).await,
        FakeYahoo::start_on(yesterday).await,
        FakeSpApi::start_on(yesterday).await,
    );
    secrets["rakuten"][fake::SHOP] = serde_json::json!({
        "service_secret": fake::SERVICE_SECRET,
        "license_key": fake::LICENSE_KEY,
    });
    secrets["yahoo"][fake_yahoo::SELLER] = serde_json::json!({
        "client_id": fake_yahoo::CLIENT_ID,
        "client_secret": fake_yahoo::CLIENT_SECRET,
        "refresh_token": fake_yahoo::REFRESH_TOKEN,
    });
    secrets["amazon"][fake_amazon::SELLER] = serde_json::json!({
        "client_id": fake_amazon::CLIENT_ID,
        "client_secret": fake_amazon::CLIENT_SECRET,
        "refresh_token": fake_amazon::REFRESH_TOKEN,
    });
    if let Err(e) = std::fs::write(&secrets_path, serde_json::to_vec_pretty(&secrets).unwrap()) {
        eprintln!("{secrets_path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("# The fakes' credentials are in {secrets_path}. In the program's terminal:");
    println!("export MALLGUARD_RAKUTEN_URL={}", rms.url());
    println!("export MALLGUARD_YAHOO_URL={}/ShoppingWebService/V1/", yahoo.url());
    println!("export MALLGUARD_YAHOO_TOKEN_URL={}/yconnect/v2/token", yahoo.url());
    println!("export MALLGUARD_AMAZON_URL={}", amazon.url());
    println!(
        "export MALLGUARD_AMAZON_TOKEN_URL={}{}",
        amazon.url(),
        fake_amazon::LWA_PATH
    );
    println!("# Serving until Ctrl-C.");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
