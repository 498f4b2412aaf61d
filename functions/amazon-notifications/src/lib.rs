//! The amazon-notifications function: Amazon's SP-API writes an `ORDER_CHANGE` notification to an SQS queue
//! for every change of a seller's order, and Lambda hands this function the queue's messages in batches.
//! Each message is read on its own ([`handle`]):
//!
//! 1. its body is read as an `ORDER_CHANGE` notification; one that cannot be read is kept in quarantine
//!    (the staff alerted) and not delivered again;
//! 2. a notification of another marketplace than Amazon.co.jp is let go;
//! 3. the order is read from the SP-API with its seller's credentials and ingested like every other mall's
//!    order ([`Mallguard::notified`]): matching, hold, notice. A notification handled before (SQS delivers
//!    at least once) costs one read of the store.
//!
//! A message that could not be handled now (the SP-API throttled or down, credentials expired or missing,
//! the store unavailable) is named in the answer's `batchItemFailures`, so only it comes back after the
//! queue's visibility timeout, and after the queue's last receive it waits in the dead-letter queue, where
//! an alarm sees it. The function never fails as a whole: that would bring back the whole batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use mallguard_domain::feed::OrderLookup;
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::service::{IngestOutcome, Mallguard, NotificationOutcome, OrderNotification};
use mallguard_malls::amazon;
use serde::Serialize;

/// The time a message is given at least: one is not started with less than this left before the
/// invocation's deadline, and goes back to the queue instead (a read is a few SP-API calls of at most 10 s
/// each).
pub const SAFETY_MARGIN: Duration = Duration::from_secs(45);

/// The quarantine source of a notification body that could not be read.
pub const QUARANTINE_SOURCE: &str = "amazon-notification";

/// The SP-API readers of the deployment's Amazon sellers, by seller id.
#[derive(Clone, Default)]
pub struct Sellers(BTreeMap<ShopId, Arc<dyn OrderLookup>>);

impl Sellers {
    /// One reader per seller (a second reader of the same seller replaces the first).
    pub fn new(lookups: impl IntoIterator<Item = Arc<dyn OrderLookup>>) -> Self {
        Sellers(
            lookups
                .into_iter()
                .map(|lookup| (lookup.shop().clone(), lookup))
                .collect(),
        )
    }

    /// The reader of `seller`'s orders, if the deployment has its credentials.
    pub fn get(&self, seller: &ShopId) -> Option<&dyn OrderLookup> {
        self.0.get(seller).map(Arc::as_ref)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What became of the messages of one batch, for the log line that ends each invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub messages: usize,
    /// Orders read and recorded, new or changed.
    pub ingested: usize,
    /// Of those, held as suspected duplicates.
    pub held: usize,
    /// Orders read that were known unchanged (the backstop read them first): nothing written but the
    /// notification's id.
    pub unchanged: usize,
    /// Notifications handled before (delivered again by SQS).
    pub already_handled: usize,
    /// Orders not read now (`Pending`) or of another marketplace.
    pub let_go: usize,
    /// Bodies or orders that could not be read, kept in quarantine.
    pub quarantined: usize,
    /// Messages handed back to the queue.
    pub failed: usize,
    /// Requests made to the SP-API.
    pub requests: u64,
}

/// Handles one batch of SQS messages, not starting a message when less than [`SAFETY_MARGIN`] is left before
/// `deadline` (None: no deadline). Returns the messages to deliver again (by their `messageId`) and what the
/// batch did.
pub async fn handle(
    app: &Mallguard,
    sellers: &Sellers,
    deadline: Option<Instant>,
    event: SqsEvent,
) -> (SqsBatchResponse, BatchReport) {
    let mut response = SqsBatchResponse::default();
    let mut report = BatchReport {
        messages: event.records.len(),
        ..BatchReport::default()
    };
    for message in &event.records {
        let id = message.message_id.as_deref().unwrap_or_default();
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let handled = if left.is_some_and(|left| left < SAFETY_MARGIN) {
            tracing::warn!(
                message_id = id,
                ?left,
                "too little time left: the message goes back to the queue"
            );
            Err(())
        } else {
            handle_one(app, sellers, message, &mut report).await
        };
        match handled {
            Ok(()) => {}
            Err(()) if id.is_empty() => {
                // Lambda cannot name a message without its id: failing the batch would redeliver all of it.
                tracing::error!("a message with no messageId could not be handled, and cannot be handed back");
            }
            Err(()) => {
                report.failed += 1;
                response.add_failure(id);
            }
        }
    }
    if report.failed > 0 {
        tracing::warn!(?report, "notifications handled; some go back to the queue");
    } else {
        tracing::info!(?report, "notifications handled");
    }
    (response, report)
}

/// One message; `Err` hands it back to the queue (the cause is logged here).
async fn handle_one(
    app: &Mallguard,
    sellers: &Sellers,
    message: &SqsMessage,
    report: &mut BatchReport,
) -> Result<(), ()> {
    let message_id = message.message_id.as_deref().unwrap_or_default();
    let receives = message
        .attributes
        .get("ApproximateReceiveCount")
        .map(String::as_str)
        .unwrap_or("?");
    let body = message.body.as_deref().unwrap_or_default();
    let change = match amazon::parse_notification(body.as_bytes()) {
        Ok(change) => change,
        Err(error) => {
            let meta = BTreeMap::from([("message_id".to_owned(), message_id.to_owned())]);
            return match app
                .quarantine(QUARANTINE_SOURCE, body.as_bytes().to_vec(), meta, &error.to_string())
                .await
            {
                Ok(quarantined) => {
                    tracing::warn!(message_id, %quarantined, %error, "a notification that cannot be read was quarantined");
                    report.quarantined += 1;
                    Ok(())
                }
                Err(store) => {
                    tracing::error!(message_id, receives, error = %store, "an unreadable notification could not be quarantined");
                    Err(())
                }
            };
        }
    };
    if !change.is_japan() {
        tracing::info!(
            message_id,
            marketplace = change.marketplace_id.as_str(),
            "a notification of another marketplace than Amazon.co.jp: let go"
        );
        report.let_go += 1;
        return Ok(());
    }
    let notification = OrderNotification {
        mall: Mall::Amazon,
        shop: change.seller_id.clone(),
        order_id: change.order_id.clone(),
        delivery: change.delivery_id(),
        worth_reading: change.worth_fetching(),
    };
    match app.notified(&notification, sellers.get(&change.seller_id)).await {
        Ok((outcome, requests)) => {
            report.requests += u64::from(requests);
            match outcome {
                NotificationOutcome::Ingested(IngestOutcome::Redelivered) => report.unchanged += 1,
                NotificationOutcome::Ingested(ingested) => {
                    report.ingested += 1;
                    if matches!(ingested, IngestOutcome::Held { .. }) {
                        report.held += 1;
                    }
                }
                NotificationOutcome::AlreadyHandled => report.already_handled += 1,
                NotificationOutcome::NotRead => report.let_go += 1,
                NotificationOutcome::Quarantined(_) => report.quarantined += 1,
            }
            Ok(())
        }
        Err(error) => {
            tracing::warn!(
                message_id,
                receives,
                seller = %change.seller_id,
                order = %change.order_id,
                %error,
                "the notification goes back to the queue"
            );
            Err(())
        }
    }
}
