//! The respond Lambda function: the buyer's page at `GET/POST /h/{token}` behind a Function URL.

use lambda_http::{Error, run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mallguard_lambda::init_logging();
    let cold = mallguard_lambda::cold_start::<mallguard_lambda::functions::Respond>().await?;
    run(mallguard_lambda::without_favicon(mallguard_respond::router(cold.app))).await
}
