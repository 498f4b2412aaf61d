//! The expire Lambda function: one sweep per EventBridge Scheduler invocation, taking due holds until
//! shortly before the invocation's deadline.

use std::time::{Instant, SystemTime};

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::Expire>().await?;
    let app = &cold.app;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        // The deadline as an instant of this process's monotonic clock.
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        mallguard_expire::handle(app, event.payload, Some(Instant::now() + left)).await
    }))
    .await
}
