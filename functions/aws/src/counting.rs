//! Request counting for DynamoDB: how many requests of each operation a use case
//! costs, and how many items DynamoDB read to answer them. The budget tests assert on these counts,
//! never on time, so they hold on a slow CI machine as on a fast one.
//!
//! Two halves feed one [`RequestCounts`]:
//!
//! - [`CountingInterceptor`], an SDK interceptor registered on the DynamoDB client, counts each
//!   operation once per call (by the operation name the SDK keeps in the config bag's
//!   [`Metadata`]) and each HTTP attempt (so SDK retries show up separately);
//! - the store adds the items read: `ScannedCount` of each Query page (what DynamoDB read and bills,
//!   filtered items included) and one for each item a GetItem found.
//!
//! ```text
//! let counts = RequestCounts::default();
//! let client = aws_sdk_dynamodb::Client::from_conf(
//!     aws_sdk_dynamodb::config::Builder::from(&sdk_config).interceptor(counts.interceptor()).build(),
//! );
//! let store = DynamoDbStore::new(client, table, retention).with_counts(counts.clone());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What was counted since the last [`RequestCounts::reset`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls per operation name (`Query`, `GetItem`, `TransactWriteItems`, …), each counted once however
    /// often the SDK retried it.
    pub requests: BTreeMap<String, u64>,
    /// HTTP attempts, SDK retries included.
    pub attempts: u64,
    /// Items DynamoDB read: the `ScannedCount` of every Query page plus the items GetItem found.
    pub items_read: u64,
    /// Items handed back to the store: the `Count` of every Query page plus the items GetItem found.
    pub items_returned: u64,
}

impl Counts {
    /// Calls of one operation, e.g. `counts.of("Query")`.
    pub fn of(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// Calls of every operation together.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Calls of the operations that write (`PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem`,
    /// `TransactWriteItems`).
    pub fn writes(&self) -> u64 {
        [
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
        ]
        .iter()
        .map(|op| self.of(op))
        .sum()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requests.is_empty() {
            f.write_str("no requests")?;
        }
        for (i, (operation, count)) in self.requests.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{operation} x{count}")?;
        }
        write!(
            f,
            "; {} attempts; {} items read, {} returned",
            self.attempts, self.items_read, self.items_returned
        )
    }
}

/// A shared counter of DynamoDB requests and items read. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounts {
    inner: Arc<Mutex<Counts>>,
}

impl RequestCounts {
    /// The interceptor to register on the DynamoDB client
    /// (`aws_sdk_dynamodb::config::Builder::interceptor`); it counts into these counts.
    pub fn interceptor(&self) -> CountingInterceptor {
        CountingInterceptor { counts: self.clone() }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Counts {
        self.lock().clone()
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        *self.lock() = Counts::default();
    }

    /// The counts so far, and starts again from zero: one use case's cost in one call.
    pub fn take(&self) -> Counts {
        std::mem::take(&mut *self.lock())
    }

    pub(crate) fn add_items(&self, read: u64, returned: u64) {
        let mut counts = self.lock();
        counts.items_read += read;
        counts.items_returned += returned;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts are plain numbers: a panic elsewhere cannot leave them half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts each DynamoDB call by operation name, and each HTTP attempt. See [`RequestCounts::interceptor`].
#[derive(Debug, Clone)]
pub struct CountingInterceptor {
    counts: RequestCounts,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "MallguardRequestCounting"
    }

    // Not `read_before_execution`: a client interceptor runs that hook before the operation's own
    // configuration (which carries `Metadata`) is in the bag. This hook runs once per call, after it.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name).to_owned();
        *self.counts.lock().requests.entry(operation).or_default() += 1;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counts.lock().attempts += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_print_per_operation() {
        let counts = RequestCounts::default();
        {
            let mut inner = counts.lock();
            inner.requests.insert("Query".into(), 3);
            inner.requests.insert("TransactWriteItems".into(), 1);
            inner.attempts = 4;
        }
        counts.add_items(5, 2);
        let snap = counts.snapshot();
        assert_eq!(snap.of("Query"), 3);
        assert_eq!(snap.of("GetItem"), 0);
        assert_eq!(snap.total(), 4);
        assert_eq!(snap.writes(), 1);
        assert_eq!(
            snap.to_string(),
            "Query x3, TransactWriteItems x1; 4 attempts; 5 items read, 2 returned"
        );
        assert_eq!(counts.take(), snap);
        assert_eq!(counts.snapshot(), Counts::default());
        assert_eq!(
            Counts::default().to_string(),
            "no requests; 0 attempts; 0 items read, 0 returned"
        );
    }
}
