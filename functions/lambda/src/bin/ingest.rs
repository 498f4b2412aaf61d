//! The ingest Lambda function: `POST /webhooks/{mall}` behind a Function URL (or an HTTP API).

use lambda_http::{Error, run};
use mallguard_ingest::IngestConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's log format is JSON (set in the template); never a body, an email,
    // a phone number or an address.
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::Ingest>().await?;
    let webhooks = cold.deployment.secrets.webhooks().clone();
    // lambda_http hands the router the exact bytes received (base64-decoded when isBase64Encoded), which
    // is what the signature checks need.
    run(mallguard_ingest::router(cold.app, IngestConfig::new(webhooks))).await
}
