//! Error mapping: what DynamoDB answers, as the domain's [`StoreError`] and [`CommitError`] (see
//! "Errors" in the [module docs](super)).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use mallguard_domain::ports::{CommitError, StoreError};

/// An item or a request that is wrong: a bug, not worth a retry.
pub(super) fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt(message.into())
}

/// Service errors that pass with time: the SDK has already retried them with backoff.
pub(super) trait Transient {
    fn is_transient(&self) -> bool;
}

/// The errors every DynamoDB operation shares that pass with time, plus any of the operation's own.
macro_rules! transient {
    ($error:ident $(, $own:ident)*) => {
        impl Transient for $error {
            fn is_transient(&self) -> bool {
                matches!(
                    self,
                    $error::ProvisionedThroughputExceededException(_)
                        | $error::RequestLimitExceeded(_)
                        | $error::ThrottlingException(_)
                        | $error::InternalServerError(_)
                        | $error::InvalidEndpointException(_)
                        $(| $error::$own(_))*
                )
            }
        }
    };
}

transient!(QueryError);
transient!(GetItemError);
// TransactionInProgress: the same idempotency token is still being applied; its outcome comes shortly.
transient!(TransactWriteItemsError, TransactionInProgressException);

/// Maps a failed call: what may pass is `Unavailable`, the rest is a bug (`Corrupt`).
pub(super) fn store_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: Transient + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => service.err().is_transient() || service.raw().status().is_server_error(),
        // Building the request failed: nothing was sent, and sending it again fails the same way.
        _ => false,
    };
    let message = describe(operation, &err);
    if transient {
        tracing::warn!(operation, error = %message, "DynamoDB unavailable");
        StoreError::Unavailable(message)
    } else {
        tracing::error!(operation, error = %message, "DynamoDB refused a request");
        StoreError::Corrupt(message)
    }
}

/// A one-line account of a failed call: the service's error code and message (never the request, which
/// may carry personal data), or the chain of causes of a failure to get an answer at all.
fn describe<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => format!(
            "DynamoDB {operation}: {} (HTTP {}): {}",
            service.err().code().unwrap_or("unknown error"),
            service.raw().status().as_u16(),
            service.err().message().unwrap_or("no message")
        ),
        other => format!("DynamoDB {operation}: {}", DisplayErrorContext(other)),
    }
}

/// Maps a failed `TransactWriteItems`: a cancellation by a condition or a concurrent transaction is a
/// [`CommitError::Conflict`]; the rest as [`store_error`] maps it.
pub(super) fn commit_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> CommitError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .filter_map(|reason| reason.code())
            .filter(|code| *code != "None")
            .collect();
        let any = |wanted: &[&str]| codes.iter().any(|code| wanted.contains(code));
        // A validation error fails the same way every time, whatever else happened.
        if !any(&["ValidationError"]) {
            if any(&["ConditionalCheckFailed", "TransactionConflict"]) {
                return CommitError::Conflict;
            }
            if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
                return CommitError::Store(StoreError::Unavailable(format!(
                    "DynamoDB TransactWriteItems cancelled: {codes:?}"
                )));
            }
        }
        let message = format!("{} {codes:?}", describe("TransactWriteItems", &err));
        tracing::error!(error = %message, "DynamoDB refused a transaction");
        return CommitError::Store(StoreError::Corrupt(message));
    }
    CommitError::Store(store_error("TransactWriteItems", err))
}
