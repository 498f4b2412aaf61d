//! Prepares what a deployed function finds, on DynamoDB Local and moto, for a local Lambda run
//! (`tests/lambda-local` starts both services and runs this; README, "Run the functions locally"):
//!
//! - the table, created from `infra/template.yaml` as the integration tests create theirs;
//! - the secret, with the given JSON (the test secrets the sample envelopes are signed with);
//! - the sender's SES identity (moto, like SES, sends only from a verified identity).
//!
//! ```text
//! cargo run -p mallguard-aws --features table-setup --example lambda-local -- TABLE SECRET_ID SENDER SECRET_FILE
//! ```
//!
//! The endpoints come from `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER` and
//! `AWS_ENDPOINT_URL_SESV2`: without them it would prepare a real account, so it refuses to run.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use aws_smithy_types::error::display::DisplayErrorContext;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");
const ENDPOINTS: [&str; 3] = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SESV2",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match prepare().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lambda-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn prepare() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [table, secret_id, sender, secret_file] = args.as_slice() else {
        return Err("usage: lambda-local TABLE SECRET_ID SENDER SECRET_FILE".into());
    };
    for var in ENDPOINTS {
        let local = std::env::var(var).is_ok_and(|url| url.starts_with("http://127.0.0.1:"));
        if !local {
            return Err(format!("{var} must point at a local service (http://127.0.0.1:…)"));
        }
    }
    let secret = std::fs::read_to_string(secret_file).map_err(|e| format!("{secret_file}: {e}"))?;
    serde_json::from_str::<serde_json::Value>(&secret).map_err(|e| format!("{secret_file}: not JSON: {e}"))?;

    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    mallguard_aws::table_setup::create_table_from_template(&dynamodb, table, TEMPLATE)
        .await
        .map_err(|e| format!("the table {table}: {e}"))?;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(secret_id)
        .secret_string(secret)
        .send()
        .await
        .map_err(|e| format!("the secret {secret_id}: {}", DisplayErrorContext(&e)))?;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .map_err(|e| format!("the SES identity {sender}: {}", DisplayErrorContext(&e)))?;
    Ok(())
}
