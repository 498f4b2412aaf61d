//! The mail-events function: SES's events about the notices (through EventBridge), attached to their holds.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::MailEvents>().await?;
    let app = &cold.app;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        mallguard_mail_events::handle(app, event.payload).await
    }))
    .await
}
