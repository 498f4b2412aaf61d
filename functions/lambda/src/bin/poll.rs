//! The poll function: one read of every polled mall shop per EventBridge Scheduler invocation, stopping
//! before the invocation's deadline.

use std::time::{Instant, SystemTime};

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::Poll>().await?;
    let feeds = mallguard_lambda::feeds(&cold.deployment)?;
    tracing::info!(shops = feeds.len(), "poll feeds ready");
    let (app, feeds, budget) = (&cold.app, feeds.as_slice(), mallguard_lambda::poll_budget());
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        // The deadline as an instant of this process's monotonic clock.
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        mallguard_poll::handle(app, feeds, budget, Some(Instant::now() + left), event.payload).await
    }))
    .await
}
