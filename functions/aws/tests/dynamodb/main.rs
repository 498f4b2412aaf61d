//! The DynamoDB store against DynamoDB Local: the shared store contract, the races of DESIGN.md §5–§6,
//! the request budgets of issue 4 and the TTL rules. Run with `bash tests/run`, which starts DynamoDB
//! Local and tells these tests where it listens.

mod budgets;
mod contract;
mod expiry;
mod races;
mod support;
