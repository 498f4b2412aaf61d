//! `mallguard serve`: the ingest and respond routers on one local port, and the expiry sweep on a timer.

use std::process::ExitCode;
use std::time::Duration;

use mallguard_ingest::{IngestConfig, WebhookSecrets};

use crate::cli::{CliResult, ServeArgs, ShopArgs, url_of};
use crate::local::LocalSecrets;

/// The webhook secrets of the local stack: one Shopify secret for every shop, one generic secret.
pub fn webhook_secrets(secrets: &LocalSecrets) -> WebhookSecrets {
    WebhookSecrets {
        shopify: [("*".to_owned(), secrets.shopify_secret.as_bytes().to_vec())].into(),
        generic: vec![secrets.generic_secret.clone()],
    }
}

pub async fn serve(shop: &ShopArgs, args: ServeArgs) -> CliResult<ExitCode> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (choose another with --bind)", args.bind))?;
    let addr = listener.local_addr()?;
    let (app, secrets) = shop.local_app(url_of(addr))?;
    let router = mallguard_ingest::router(app.clone(), IngestConfig::new(webhook_secrets(&secrets)))
        .merge(mallguard_respond::router(app.clone()));

    let sweeper = app.clone();
    let every = Duration::from_secs(args.sweep_every.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(err) = sweeper.sweep().await {
                tracing::warn!(error = %err, "expiry sweep failed; trying again at the next tick");
            }
        }
    });

    let data = shop.data_dir();
    let url = url_of(addr);
    let port_flag = if addr.port() == 9000 {
        String::new()
    } else {
        format!(" --url {url}")
    };
    println!(
        "mallguard is running on the embedded store.\n\
         \n  webhooks:     {url}/webhooks/shopify   {url}/webhooks/generic\
         \n  buyer pages:  {url}/h/<token>\
         \n  data folder:  {data} (mails are written to {outbox})\
         \n  expiry sweep: every {secs} s\
         \n\nSend two same-item orders from another terminal; the second is held:\
         \n  cargo run -- send events/generic/order.json{port_flag}\
         \n  cargo run -- send events/generic/order-duplicate.json{port_flag}\n",
        data = data.root().display(),
        outbox = data.outbox().display(),
        secs = every.as_secs(),
    );
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    println!("mallguard stopped.");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
