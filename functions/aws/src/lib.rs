//! The AWS adapters: the DynamoDB store (one table, its item catalogue in [`dynamodb`]), the SES v2
//! mailer, configuration and secrets for the deployed functions, request counting, and CloudWatch
//! metrics in Embedded Metric Format.
pub mod config;
pub mod counting;
pub mod dynamodb;
pub mod emf;
pub mod lambda;
pub mod ses;
#[cfg(feature = "table-setup")]
pub mod table_setup;
