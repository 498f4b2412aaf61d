//! An order a mall's notification names without carrying it (Amazon's `ORDER_CHANGE` through SQS): the
//! notification is checked against the ones already handled, the order is read from the mall by its id, and
//! it goes through the same ingest as a webhook or a poll: matching, hold, notice.

use std::collections::BTreeMap;

use super::{Incoming, IngestOutcome, Mallguard, ServiceError};
use crate::feed::{FeedError, FeedOrder, LookedUp, OrderLookup};
use crate::ids::{Mall, OrderId, ShopId};

/// A mall's notification that one of a seller's orders changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNotification {
    pub mall: Mall,
    pub shop: ShopId,
    pub order_id: OrderId,
    /// The notification's own id, prefixed with its mall (`amazon:…`): the same notification delivered
    /// twice is handled once.
    pub delivery: String,
    /// Whether the order is worth reading now (Amazon: not while it is `Pending`, when it has no prices
    /// and no address; its next change comes as a notification of its own).
    pub worth_reading: bool,
}

/// What became of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The order was read and ingested.
    Ingested(IngestOutcome),
    /// This notification was handled before: nothing read, nothing written.
    AlreadyHandled,
    /// Not read now (see [`OrderNotification::worth_reading`]).
    NotRead,
    /// The order the mall returned could not be read: kept in quarantine under this id, and the staff
    /// alerted.
    Quarantined(String),
}

/// Why a notification could not be handled now. Either way it must be delivered again (the queue's
/// visibility timeout is the back-off, its dead-letter queue the end of the retries).
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The mall's API could not be read; where a person must act the staff were alerted.
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The alert key the sellers without credentials share: one alert a day between them.
const UNCONFIGURED_SELLERS: &str = "~unconfigured";

impl Mallguard {
    /// Handles one order notification: a notification handled before costs one read and nothing else;
    /// otherwise the order is read through `lookup` (the notification's seller's credentials; None when the
    /// deployment has none for that seller) and ingested, with the notification's id as its delivery id.
    /// Also returns the requests the read cost at the mall. Missing or expired credentials and a refused
    /// request alert the staff (once a day per mall, seller and reason) and are returned, so the
    /// notification is delivered again (and, after its last delivery, kept in the dead-letter queue).
    pub async fn notified(
        &self,
        notification: &OrderNotification,
        lookup: Option<&dyn OrderLookup>,
    ) -> Result<(NotificationOutcome, u32), NotificationError> {
        let OrderNotification {
            mall,
            shop,
            order_id,
            delivery,
            worth_reading,
        } = notification;
        if self
            .store
            .delivery_digest(delivery)
            .await
            .map_err(ServiceError::from)?
            .is_some()
        {
            tracing::debug!(delivery = delivery.as_str(), "notification handled before");
            return Ok((NotificationOutcome::AlreadyHandled, 0));
        }
        if !worth_reading {
            return Ok((NotificationOutcome::NotRead, 0));
        }
        let Some(lookup) = lookup else {
            let error = FeedError::Unauthorized(format!(
                "no credentials for {mall} seller {shop}: add the seller's API credentials to the deployment's secret"
            ));
            // Any SP-API application may point its notifications at the queue, so a seller without
            // credentials may be a stranger's: one alert a day for all such sellers, not one each (the
            // notifications themselves go back to the queue, and to its dead letters in the end).
            self.feed_failed_alerting(*mall, shop, UNCONFIGURED_SELLERS, None, &error)
                .await?;
            return Err(error.into());
        };
        if lookup.mall() != *mall || lookup.shop() != shop {
            // The caller picks the lookup by the notification's seller: another one is a bug of the caller's.
            return Err(FeedError::Refused(format!(
                "a notification of {mall} shop {shop} was to be read with the credentials of {} shop {}",
                lookup.mall(),
                lookup.shop()
            ))
            .into());
        }
        let LookedUp { order, requests } = match lookup.order(order_id).await {
            Ok(read) => read,
            Err(error) => {
                self.feed_failed(*mall, shop, None, &error).await?;
                return Err(error.into());
            }
        };
        let outcome = match order {
            FeedOrder::Order { order, raw } if order.order_ref.mall == *mall && &order.order_ref.shop == shop => {
                let digest = crate::order::PayloadDigest::of(&raw);
                let outcome = self
                    .ingest(Incoming {
                        order: *order,
                        raw,
                        delivery: Some(delivery.clone()),
                    })
                    .await?;
                if outcome == IngestOutcome::Redelivered {
                    // The order was known unchanged (the backstop read it first), so ingest wrote nothing,
                    // not even the delivery: record it, so this notification's next delivery is not read
                    // from the mall again.
                    self.record_delivery(delivery, digest).await?;
                }
                NotificationOutcome::Ingested(outcome)
            }
            FeedOrder::Order { order, raw } => {
                let error = format!(
                    "the {mall} order {order_id} of shop {shop} was read as {}",
                    order.order_ref
                );
                NotificationOutcome::Quarantined(self.quarantine_notified(notification, raw, &error).await?)
            }
            FeedOrder::Unreadable { raw, error } => {
                NotificationOutcome::Quarantined(self.quarantine_notified(notification, raw, &error).await?)
            }
        };
        Ok((outcome, requests))
    }

    async fn record_delivery(&self, delivery: &str, digest: crate::order::PayloadDigest) -> Result<(), ServiceError> {
        let batch = crate::ports::WriteBatch {
            deliveries: vec![crate::ports::WebhookDelivery {
                id: delivery.to_owned(),
                digest,
            }],
            ..crate::ports::WriteBatch::default()
        };
        match self.store.commit(batch).await {
            Ok(()) | Err(crate::ports::CommitError::Conflict) => Ok(()),
            Err(crate::ports::CommitError::Store(err)) => Err(err.into()),
        }
    }

    async fn quarantine_notified(
        &self,
        notification: &OrderNotification,
        raw: Vec<u8>,
        error: &str,
    ) -> Result<String, ServiceError> {
        let meta = BTreeMap::from([
            ("shop".to_owned(), notification.shop.to_string()),
            ("delivery".to_owned(), notification.delivery.clone()),
        ]);
        self.quarantine(notification.mall.as_str(), raw, meta, error).await
    }
}
