//! The amazon-notifications function: Amazon's ORDER_CHANGE notifications from the SQS queue, each order
//! read from the SP-API and ingested; the messages that could not be handled now go back to the queue
//! alone (`batchItemFailures`).

use std::time::{Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::AmazonNotifications>().await?;
    let sellers = mallguard_lambda::amazon_sellers(&cold.deployment)?;
    tracing::info!(sellers = sellers.len(), "amazon sellers ready");
    let (app, sellers) = (&cold.app, &sellers);
    run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        // The deadline as an instant of this process's monotonic clock.
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let (response, _) =
            mallguard_amazon_notifications::handle(app, sellers, Some(Instant::now() + left), event.payload).await;
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
