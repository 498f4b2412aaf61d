//! The evidence (注文履歴): every event of an order, appended, never rewritten (DESIGN.md §8).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::hold::{Decision, HoldState, Resolver};
use crate::identity::KeyKind;
use crate::ids::{HoldId, OrderRef, ProductKey};
use crate::notice::{NoticeId, NoticeKind};
use crate::order::{OrderStatus, PayloadDigest};
use crate::policy::format_jst;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The mall's notification arrived (only its digest is kept here).
    Received {
        digest: PayloadDigest,
        status: OrderStatus,
    },
    /// The same notification (or the same order unchanged) arrived again.
    Redelivered {
        digest: PayloadDigest,
    },
    /// A later notification changed the order's status at the mall.
    StatusChanged {
        from: OrderStatus,
        to: OrderStatus,
        digest: PayloadDigest,
    },
    /// Suspected duplicate of `with`.
    Matched {
        with: OrderRef,
        keys: Vec<KeyKind>,
        products: Vec<ProductKey>,
    },
    /// This order is the earlier order of a hold on `held`.
    DuplicateReceived {
        held: OrderRef,
        hold: HoldId,
    },
    Held {
        hold: HoldId,
        deadline: Timestamp,
        urgent: bool,
    },
    NoticeQueued {
        notice: NoticeId,
        kind: NoticeKind,
    },
    NoticeSent {
        notice: NoticeId,
        kind: NoticeKind,
        message_id: String,
    },
    NoticeFailed {
        notice: NoticeId,
        kind: NoticeKind,
        attempt: u32,
        error: String,
    },
    /// The buyer opened the page behind a notice link (GET: nothing changed).
    PageOpened {
        hold: HoldId,
    },
    /// Somebody settled the hold.
    Resolved {
        hold: HoldId,
        decision: Decision,
        state: HoldState,
        by: Resolver,
    },
    /// An answer that came after the hold was settled; it changed nothing.
    LateAnswer {
        hold: HoldId,
        decision: Decision,
        state: HoldState,
        by: Resolver,
    },
    /// Amazon: the customer-service fallback was noted for the staff.
    AmazonFallbackNoted {
        hold: HoldId,
    },
}

/// One line of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub order: OrderRef,
    pub at: Timestamp,
    pub event: Event,
}

impl HistoryEntry {
    pub fn new(order: &OrderRef, at: Timestamp, event: Event) -> Self {
        Self {
            order: order.clone(),
            at,
            event,
        }
    }

    /// One line of the timeline a shop shows a customer in a dispute.
    pub fn describe(&self, lang: Language) -> String {
        let when = format_jst(self.at, lang);
        let what = match (&self.event, lang) {
            (Event::Received { digest, status }, _) => {
                format!("received ({status:?}, payload sha256 {})", &digest.as_str()[..16])
            }
            (Event::Redelivered { .. }, _) => "notification received again (no change)".into(),
            (Event::StatusChanged { from, to, .. }, _) => format!("status at the mall: {from:?} -> {to:?}"),
            (Event::Matched { with, keys, products }, _) => {
                let keys: Vec<_> = keys.iter().map(|k| k.as_str()).collect();
                let products: Vec<_> = products.iter().map(|p| p.as_str()).collect();
                format!(
                    "suspected duplicate of {with} (same {}; product {})",
                    keys.join(", "),
                    products.join(", ")
                )
            }
            (Event::DuplicateReceived { held, hold }, _) => {
                format!("later order {held} held as its duplicate ({hold})")
            }
            (Event::Held { hold, deadline, urgent }, _) => format!(
                "held ({hold}), answer deadline {}{}",
                format_jst(*deadline, lang),
                if *urgent { ", URGENT" } else { "" }
            ),
            (Event::NoticeQueued { kind, .. }, _) => format!("{} queued", kind.as_str()),
            (Event::NoticeSent { kind, message_id, .. }, _) => {
                format!("{} sent (message id {message_id})", kind.as_str())
            }
            (
                Event::NoticeFailed {
                    kind, attempt, error, ..
                },
                _,
            ) => {
                format!("{} failed to send (attempt {attempt}): {error}", kind.as_str())
            }
            (Event::PageOpened { .. }, _) => "buyer opened the confirmation page".into(),
            (
                Event::Resolved {
                    decision, state, by, ..
                },
                _,
            ) => {
                format!("answered {} by {by}: hold {state}", decision.as_str())
            }
            (
                Event::LateAnswer {
                    decision, state, by, ..
                },
                _,
            ) => {
                format!(
                    "late answer {} by {by} ignored: hold already {state}",
                    decision.as_str()
                )
            }
            (Event::AmazonFallbackNoted { .. }, _) => {
                "Amazon customer-service fallback noted for the staff (no phone contact)".into()
            }
        };
        format!("{when}  {what}")
    }
}
