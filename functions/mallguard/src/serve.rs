//! `mallguard serve`: the ingest and respond routers on one local port, and the expiry sweep on a timer.
//! On the embedded store by default; with `--store dynamodb` on DynamoDB and SES (DynamoDB Local and
//! moto, through the standard `AWS_ENDPOINT_URL_*` variables), so the real adapters can be tried locally.

use std::process::ExitCode;
use std::time::Duration;

use mallguard_ingest::IngestConfig;

use crate::args::{CliResult, ServeArgs, ShopArgs, StoreKind, url_of};

/// The table's definition, compiled in so the program creates exactly the table the stack deploys.
const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Creates the table from the template unless it exists.
async fn ensure_table(table: &str) -> CliResult<bool> {
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(false),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            mallguard_aws::table_setup::create_table_from_template(&client, table, TEMPLATE).await?;
            Ok(true)
        }
        Err(err) => Err(format!(
            "cannot reach the DynamoDB table {table}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        )
        .into()),
    }
}

/// Where the SDK sends a service's requests: the standard variables, else AWS itself.
fn endpoint(service_variable: &str) -> String {
    std::env::var(service_variable)
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| "AWS".to_owned())
}

pub async fn serve(shop: &ShopArgs, args: ServeArgs) -> CliResult<ExitCode> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (choose another with --bind)", args.bind))?;
    let addr = listener.local_addr()?;
    let created = if shop.state.store == StoreKind::Dynamodb && args.create_table {
        ensure_table(&shop.state.table).await?
    } else {
        false
    };
    let crate::local::Local { app, webhooks } = crate::local::compose(shop, url_of(addr)).await?;
    let router = axum::Router::new()
        .route("/", axum::routing::get(index))
        .merge(mallguard_ingest::router(app.clone(), IngestConfig::new(webhooks)))
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
    // The send commands must reach this server and sign with this data folder's secrets.
    let mut port_flag = if addr.port() == 9000 {
        String::new()
    } else {
        format!(" --url {url}")
    };
    if shop.state.data.data != std::path::Path::new(".mallguard") {
        port_flag.push_str(&format!(" --data {}", shell_word(&data.root().display().to_string())));
    }
    let (store_line, where_line) = match shop.state.store {
        StoreKind::Embedded => (
            "the embedded store".to_owned(),
            format!(
                "data folder:  {} (mails are written to {})",
                data.root().display(),
                data.outbox().display()
            ),
        ),
        StoreKind::Dynamodb => (
            format!(
                "DynamoDB table {}{} at {}, mail through SES at {}",
                shop.state.table,
                if created { " (just created)" } else { "" },
                endpoint("AWS_ENDPOINT_URL_DYNAMODB"),
                endpoint("AWS_ENDPOINT_URL_SESV2"),
            ),
            format!(
                "secrets:      {}/secrets.json; SES sends only from a verified sender (moto too):\
                 \n                aws sesv2 create-email-identity --email-identity {} --endpoint-url {}",
                data.root().display(),
                shop.knobs.sender,
                endpoint("AWS_ENDPOINT_URL_SESV2"),
            ),
        ),
    };
    println!(
        "mallguard is running on {store_line}.\n\
         \n  webhooks:     {url}/webhooks/shopify   {url}/webhooks/generic\
         \n  buyer pages:  {url}/h/<token>\
         \n  {where_line}\
         \n  expiry sweep: every {secs} s\
         \n\nSend two same-item orders from another terminal; the second is held:\
         \n  cargo run -- send events/generic/order.json{port_flag}\
         \n  cargo run -- send events/generic/order-duplicate.json{port_flag}\n",
        secs = every.as_secs(),
    );
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    println!("mallguard stopped.");
    Ok(ExitCode::SUCCESS)
}

/// `GET /`: what this server is, for whoever opens its address in a browser.
async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(INDEX)
}

const INDEX: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mallguard（ローカル）</title>
<style>body{font-family:system-ui,"Noto Sans CJK JP",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.7}
code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}</style></head>
<body>
<h1>mallguard</h1>
<p>重複注文の疑いを発送前に保留し、購入者に確認するサーバーです（ローカル実行）。</p>
<ul>
<li>モールからの注文通知: <code>POST /webhooks/shopify</code>、<code>POST /webhooks/generic</code></li>
<li>購入者の確認ページ: <code>/h/&lt;トークン&gt;</code>（確認メールのリンクから開きます）</li>
<li>保留の一覧: <code>cargo run -- holds</code></li>
</ul>
<p lang="en">mallguard holds suspected duplicate orders before they ship and asks the buyer. Order webhooks:
<code>POST /webhooks/shopify</code>, <code>POST /webhooks/generic</code>. The buyer's page: <code>/h/&lt;token&gt;</code>,
linked from the notice mail. Holds: <code>cargo run -- holds</code>.</p>
</body></html>
"#;

/// A path as one shell word: quoted when it holds anything a shell would split or expand.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
