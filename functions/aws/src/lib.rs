//! The AWS adapters: the DynamoDB store (one table, its item catalogue in [`dynamodb`]), the SES v2
//! mailer, configuration and secrets for the deployed functions, request counting, and CloudWatch
//! metrics in Embedded Metric Format. The function libraries never depend on this crate: the Lambda
//! composition (`mallguard-lambda`) and the local program wire these adapters into the use cases.
pub mod config;
pub mod counting;
pub mod dynamodb;
pub mod emf;
pub mod keeper;
pub mod sdk;
pub mod ses;
#[cfg(feature = "table-setup")]
pub mod table_setup;

/// An error and its sources on one line: the SDK's top-level text alone ("dispatch failure",
/// "service error") says little.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
