//! The DynamoDB store against DynamoDB Local: the shared store contract, the races of concurrent decisions,
//! the request budgets and the TTL rules. Run with `bash tests/run`, which starts DynamoDB
//! Local and tells these tests where it listens.

mod budgets;
mod contract;
mod expiry;
mod races;
mod support;
