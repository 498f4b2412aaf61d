//! `mallguard serve`: the ingest and respond routers on one local port, and the expiry sweep on a timer.
//! On the embedded store by default; with `--store dynamodb` on DynamoDB and SES (DynamoDB Local and
//! moto, through the standard `AWS_ENDPOINT_URL_*` variables), so the real adapters can be tried locally.

use std::process::ExitCode;
use std::time::Duration;

use mallguard_aws::config::Secrets;
use mallguard_ingest::{IngestConfig, WebhookSecrets};

use crate::cli::{CliResult, ServeArgs, ShopArgs, StoreKind, url_of};

/// The table's definition, compiled in so the program creates exactly the table the stack deploys.
const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The webhook secrets of the ingest router, from the deployment's secrets.
pub fn webhook_secrets(secrets: &Secrets) -> WebhookSecrets {
    WebhookSecrets::from_secrets(secrets)
}

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
    let created = if shop.store == StoreKind::Dynamodb && args.create_table {
        ensure_table(&shop.table).await?
    } else {
        false
    };
    let (app, secrets) = shop.app(url_of(addr)).await?;
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
    let (store_line, where_line) = match shop.store {
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
                shop.table,
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

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
