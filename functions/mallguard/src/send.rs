//! `mallguard send`: signs a sample event with the local secrets, as the mall would, and posts it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mallguard_domain::ports::{Clock, SystemClock};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::args::{CliResult, DataArgs};
use crate::terminal::say;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The event file, e.g. events/generic/order.json.
    pub file: PathBuf,
    /// shopify or generic (default: shopify for files under a `shopify` folder, else generic).
    #[arg(long)]
    pub mall: Option<String>,
    /// The running server.
    #[arg(long, env = "MALLGUARD_URL", default_value = "http://127.0.0.1:9000")]
    pub url: String,
    /// Shopify topic (default: from the file name: orders/cancelled, orders/updated, else orders/create).
    #[arg(long)]
    pub topic: Option<String>,
    /// Shopify shop domain.
    #[arg(long, default_value = "tanaka-shop.myshopify.com")]
    pub shop_domain: String,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn send(args: SendArgs) -> CliResult<ExitCode> {
    let body = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let secrets = args.data.data_dir().secrets()?;
    let path_text = args.file.to_string_lossy().to_string();
    let mall = args.mall.clone().unwrap_or_else(|| {
        if path_text.split(['/', '\\']).any(|p| p == "shopify") {
            "shopify".into()
        } else {
            "generic".into()
        }
    });
    // The same bytes give the same delivery id, as a mall's retry of one delivery does.
    let delivery: String = Sha256::digest(&body)[..12].iter().map(|b| format!("{b:02x}")).collect();
    let url = format!("{}/webhooks/{mall}", args.url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let mut request = client.post(&url).header("content-type", "application/json");
    match mall.as_str() {
        "shopify" => {
            let topic = args.topic.clone().unwrap_or_else(|| {
                let name = args
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                if name.contains("cancel") {
                    "orders/cancelled".into()
                } else if name.contains("updated") {
                    "orders/updated".into()
                } else {
                    "orders/create".into()
                }
            });
            // The shop's own secret, else the one for every shop, as the ingest router picks it.
            let shop_id = mallguard_malls::shopify::shop_id_from_domain(&args.shop_domain)
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default();
            let secret = secrets
                .webhooks()
                .shopify_for(Some(&shop_id))
                .ok_or_else(|| format!("secrets.json has no Shopify secret for {}", args.shop_domain))?;
            request = request
                .header("x-shopify-topic", topic)
                .header("x-shopify-shop-domain", &args.shop_domain)
                .header("x-shopify-webhook-id", delivery)
                .header(
                    "x-shopify-hmac-sha256",
                    mallguard_malls::shopify::sign(secret.expose_secret(), &body),
                );
        }
        _ => {
            let timestamp = SystemClock.now().as_second();
            let id = format!("msg_{delivery}");
            let secret = secrets
                .webhooks()
                .generic()
                .first()
                .ok_or("secrets.json has no generic (Standard Webhooks) secret")?;
            let signature = mallguard_malls::generic::sign(secret.expose_secret(), &id, timestamp, &body);
            request = request
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature);
        }
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e} (is `cargo run` running?)"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    say!("{} {status}\n{text}", args.file.display());
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
