//! The expire Lambda function: one sweep per EventBridge Scheduler invocation.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let cold = mallguard_lambda::cold_start("expire").await?;
    let app = &cold.app;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        mallguard_expire::handle(app, event.payload).await
    }))
    .await
}
