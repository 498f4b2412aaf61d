//! The console Lambda function: the staff's pages under `/console/` behind a Function URL of their own.

use std::sync::Arc;

use lambda_http::{Error, run};
use mallguard_console::{ConsoleConfig, ConsoleUrl};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::Console>().await?;
    let config = ConsoleConfig {
        staff: cold.deployment.knobs.staff_list(),
        // The Function URL the request came in on, unless the stack names another (a custom domain).
        base_url: match &cold.deployment.knobs.console_url {
            Some(url) => ConsoleUrl::Fixed(url.clone()),
            None => ConsoleUrl::FunctionUrl,
        },
    };
    run(mallguard_lambda::without_favicon(mallguard_console::router(
        cold.app,
        Arc::new(mallguard_malls::inbound::Malls),
        config,
    )))
    .await
}
