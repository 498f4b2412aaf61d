//! Shopify: the Admin GraphQL API of one shop, to hold, release and cancel its orders (mall actions), over
//! the pure requests and parsers of [`mallguard_malls::shopify`]. [`ShopifyAdmin`] is one shop's
//! [`ShopActions`]; the shop id is the `….myshopify.com` subdomain, as the webhooks name it.
//!
//! Every call is a `POST` of `{"query", "variables"}` to
//! `https://{shop}.myshopify.com/admin/api/2026-10/graphql.json` ([`shopify::GRAPHQL_API_VERSION`]) with
//! the shop's access token in `X-Shopify-Access-Token`.
//!
//! # The calls
//!
//! - **Hold** (1 + n calls): read the order's fulfillment orders ([`shopify::fulfillment_orders_query`]),
//!   ask [`OrderFulfillmentOrders::hold_plan`], then one `fulfillmentOrderHold` for each fulfillment order
//!   that can be held and does not carry mallguard's hold yet, `reason` `OTHER`, `notifyMerchant` false, the
//!   handle `mallguard-{hold id}` ([`shopify::hold_handle`]) and a note naming the earlier order (its mall,
//!   shop and order id: no buyer's data). Already held by mallguard: done without a mutation. A hold that
//!   Shopify answers as a duplicate handle (a retry after a lost answer) is done too, and the fulfillment
//!   orders are read once more for its id. No fulfillment orders yet (Shopify assigns an order to a location
//!   a few minutes after it is created): [`ActionError::Later`], in [`NOT_YET_ASSIGNED_WAIT`]. Nothing left
//!   that can be held (fulfilled or being fulfilled): refused, the order already shipped. The reference is
//!   mallguard's hold ids, comma-joined.
//! - **Release** (1 + n calls): read the fulfillment orders, then one `fulfillmentOrderReleaseHold` per
//!   fulfillment order that carries mallguard's hold, naming mallguard's hold ids only (never the merchant's
//!   or another app's). None of mallguard's holds left: done without a mutation. The reference is the hold
//!   ids released.
//! - **Cancel** (2 calls, 3 on a refusal): read the order (already cancelled: done without a mutation; the
//!   mutation is not idempotent), then `orderCancel` with reason [`cancel_reason`], the configured
//!   [`RefundChoice`] and restock, `notifyCustomer` false (mallguard mails the buyer itself) and a staff
//!   note naming mallguard, the hold and the earlier order. Accepted, the cancellation runs as a job: done
//!   when the answer says the job is done (`SUCCEEDED`), else [`ActionError::Accepted`] with the job's id,
//!   so the action stays pending (and the buyer's cancellation mail waits) until a later attempt reads the
//!   order cancelled (`cancelledAt`; 1 call). While the action keeps a job's id, no second `orderCancel` is
//!   sent; a job that never cancels the order leaves the action pending, and the staff are alerted after
//!   [`ALERT_AFTER_ATTEMPTS`](mallguard_domain::action::ALERT_AFTER_ATTEMPTS) attempts. Refused for good:
//!   the order is read again, and if it is cancelled by now (an earlier attempt's job, the staff or the
//!   buyer), done; else refused with Shopify's reason.
//!
//! An order with more than the 25 fulfillment orders one read lists is refused before anything is done:
//! the staff act by hand rather than mallguard holding part of it. An order of another mall or shop, or an
//! id that is not a Shopify order id, is refused without a call.
//!
//! # Failures
//!
//! Every answer goes through [`ActionFailure::classify`] and [`ActionFailure::with_retry_after`]: throttled
//! (HTTP 429, 503 or a `THROTTLED` code) is [`ActionError::Later`] with the wait of the answer's
//! `extensions.cost` or `Retry-After`; 5xx and `INTERNAL_SERVER_ERROR` are `Later`; 401 and 403 are
//! [`ActionError::Refused`] saying that a person must fix the access token or its scopes; user errors are
//! `Refused` with Shopify's `CODE (field): message`, but for the ones the parser takes as passing
//! (`INTERNAL_ERROR`); any other status or top-level error is `Refused`. No answer (a timeout, no
//! connection) is `Later`; an answer that is not JSON is `Later`, JSON of another shape `Refused`.
//!
//! No error text or log line holds the access token or a buyer's data: the logs carry the shop, the order,
//! the hold, the kind, the number of calls and Shopify's ids.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::FeedError;
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_malls::ParseError;
use mallguard_malls::shopify::{
    self, ActionFailure, CancelJobStatus, CancelOutcome, HoldOutcome, HoldPlan, OrderCancelReason,
    OrderFulfillmentOrders, RefundMethod, Refusal, ReleaseOutcome,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::actions::ShopActions;
use crate::http::{self, ConfigError, Timeouts};

/// The reason a cancellation gives Shopify, by who decided it: `CUSTOMER` for a duplicate the buyer chose to
/// cancel, `OTHER` for the rest (a hold that expired unanswered, a staff decision), as the research notes fit
/// them (§1.6).
pub fn cancel_reason(by: ActionBy) -> OrderCancelReason {
    match by {
        ActionBy::Buyer => OrderCancelReason::Customer,
        ActionBy::Staff | ActionBy::Deadline | ActionBy::Mall | ActionBy::Mallguard => OrderCancelReason::Other,
    }
}
/// How long to wait before holding an order that has no fulfillment orders yet: Shopify's "short delay of
/// about five minutes" after an order is created.
pub const NOT_YET_ASSIGNED_WAIT: SignedDuration = SignedDuration::from_mins(5);
/// The largest answer read: a fulfillment-order read of 25 is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// How soon a cancellation Shopify took as a job is looked at again (its order read for `cancelledAt`).
const CANCEL_CONFIRM_WAIT: SignedDuration = SignedDuration::from_mins(1);

/// The prefix of a job's id: what an action keeps as its reference while Shopify cancels the order.
const JOB_GID: &str = "gid://shopify/Job/";
/// How many fulfillment order ids a message lists.
const LISTED: usize = 5;

/// How a cancelled order is refunded, as the secret's `shopify_admin.{shop}.refund` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefundChoice {
    /// `original`: back to how the buyer paid.
    #[default]
    Original,
    /// `store_credit`: as store credit that does not expire.
    StoreCredit,
    /// `none`: no refund by Shopify (the shop refunds by hand). Authorized but uncaptured payments are
    /// released on cancel whatever is chosen.
    NoRefund,
}

impl RefundChoice {
    /// The value as the secret writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundChoice::Original => "original",
            RefundChoice::StoreCredit => "store_credit",
            RefundChoice::NoRefund => "none",
        }
    }

    /// The `refundMethod` of `orderCancel`.
    pub fn method(self) -> RefundMethod {
        match self {
            RefundChoice::Original => RefundMethod::OriginalPaymentMethods,
            RefundChoice::StoreCredit => RefundMethod::StoreCredit { expires_at: None },
            RefundChoice::NoRefund => RefundMethod::NoRefund,
        }
    }
}

impl fmt::Display for RefundChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refund choice that is not `original`, `store_credit` or `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the refund must be original, store_credit or none, not {0:?}")]
pub struct UnknownRefund(pub String);

impl FromStr for RefundChoice {
    type Err = UnknownRefund;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "original" => Ok(RefundChoice::Original),
            "store_credit" => Ok(RefundChoice::StoreCredit),
            "none" => Ok(RefundChoice::NoRefund),
            other => Err(UnknownRefund(other.chars().take(40).collect())),
        }
    }
}

/// How a [`ShopifyAdmin`] calls and cancels; [`Default`] is the shop's own host, the default timeouts, a
/// refund to the original payment methods and restocking (the secret's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyOptions {
    /// Where the Admin API is: None for `https://{shop}.myshopify.com`; a fake's URL in tests. The path
    /// `/admin/api/{version}/graphql.json` is added to it.
    pub base_url: Option<String>,
    pub timeouts: Timeouts,
    /// How a cancelled order is refunded.
    pub refund: RefundChoice,
    /// Whether a cancelled order's items go back to stock.
    pub restock: bool,
}

impl Default for ShopifyOptions {
    fn default() -> Self {
        ShopifyOptions {
            base_url: None,
            timeouts: Timeouts::default(),
            refund: RefundChoice::Original,
            restock: true,
        }
    }
}

/// The shop's Admin API access token (a custom app's `shpat_…`); sent only in `X-Shopify-Access-Token`,
/// never written to a log or an error.
#[derive(Clone)]
pub struct ShopifyCredentials {
    pub access_token: SecretString,
}

impl fmt::Debug for ShopifyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyCredentials").finish_non_exhaustive()
    }
}

/// One Shopify shop's Admin GraphQL API, for mall actions (see the [module](self)).
pub struct ShopifyAdmin {
    shop: ShopId,
    credentials: ShopifyCredentials,
    /// The whole GraphQL URL.
    endpoint: String,
    client: reqwest::Client,
    timeout: Duration,
    refund: RefundChoice,
    restock: bool,
}

impl fmt::Debug for ShopifyAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyAdmin")
            .field("shop", &self.shop)
            .field("endpoint", &self.endpoint)
            .field("refund", &self.refund)
            .field("restock", &self.restock)
            .finish_non_exhaustive()
    }
}

/// The calls, by the names the logs and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    FulfillmentOrders,
    Hold,
    Release,
    Cancel,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::FulfillmentOrders => "fulfillmentOrders",
            Call::Hold => "fulfillmentOrderHold",
            Call::Release => "fulfillmentOrderReleaseHold",
            Call::Cancel => "orderCancel",
        }
    }
}

/// A call that failed: the error to hand back, and what Shopify's answer stood for (None: no answer, or
/// one that could not be read).
struct CallFailed {
    failure: Option<ActionFailure>,
    error: ActionError,
}

impl From<CallFailed> for ActionError {
    fn from(failed: CallFailed) -> Self {
        failed.error
    }
}

impl From<ActionError> for CallFailed {
    fn from(error: ActionError) -> Self {
        CallFailed { failure: None, error }
    }
}

impl ShopifyAdmin {
    /// The Admin API of `shop` (the `….myshopify.com` subdomain) with its own HTTP client (rustls, both
    /// timeouts of `options`). Without a base URL, a shop id that is no subdomain (it has a dot) is refused.
    pub fn new(
        shop: ShopId,
        credentials: ShopifyCredentials,
        options: ShopifyOptions,
    ) -> Result<ShopifyAdmin, ConfigError> {
        let endpoint = match options.base_url.as_deref() {
            Some(base) => format!(
                "{}/admin/api/{}/graphql.json",
                http::base_url(base)?,
                shopify::GRAPHQL_API_VERSION
            ),
            None => {
                let url = shopify::graphql_url(&shop);
                if shop.as_str().contains('.') {
                    return Err(ConfigError::BaseUrl {
                        url,
                        reason: format!("the shop id {shop:?} is not a myshopify.com subdomain"),
                    });
                }
                http::base_url(&url)?
            }
        };
        Ok(ShopifyAdmin {
            shop,
            credentials,
            endpoint,
            client: http::client(options.timeouts)?,
            timeout: options.timeouts.total,
            refund: options.refund,
            restock: options.restock,
        })
    }

    /// The GraphQL URL every call goes to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How a cancelled order is refunded.
    pub fn refund(&self) -> RefundChoice {
        self.refund
    }

    /// Whether a cancelled order is restocked.
    pub fn restock(&self) -> bool {
        self.restock
    }

    /// One GraphQL call: the body of an answer that is no failure, or the error its failure (or the lack of
    /// an answer) means.
    async fn call(&self, call: Call, body: &serde_json::Value, calls: &mut u32) -> Result<Vec<u8>, CallFailed> {
        let name = call.name();
        let mut token = HeaderValue::from_str(self.credentials.access_token.expose_secret().trim()).map_err(|_| {
            ActionError::Refused(format!(
                "{name}: the access token of Shopify shop {} has characters a header cannot carry: fix \
                 shopify_admin.{}.access_token in the secret",
                self.shop, self.shop
            ))
        })?;
        token.set_sensitive(true);
        *calls += 1;
        let response = self
            .client
            .post(&self.endpoint)
            .header(CONTENT_TYPE, shopify::GRAPHQL_CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .header(shopify::ACCESS_TOKEN_HEADER, token)
            .body(body.to_string())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| later(http::transport(name, e, self.timeout)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(shopify::RETRY_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(seconds);
        let body = match http::read_body(response, MAX_ANSWER_BYTES, name, self.timeout).await {
            Ok(body) => body,
            // A failure is classified by its status when its body cannot be read.
            Err(_) if !(200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(later(e).into()),
        };
        match ActionFailure::classify(status, &body) {
            None => Ok(body),
            Some(failure) => {
                let failure = failure.with_retry_after(retry_after.as_deref());
                Err(CallFailed {
                    error: self.failed(call, &failure),
                    failure: Some(failure),
                })
            }
        }
    }

    /// What a failed answer means for the action, with what a person must do when it is for good.
    fn failed(&self, call: Call, failure: &ActionFailure) -> ActionError {
        let name = call.name();
        let shop = &self.shop;
        let scopes = "the custom app needs read_orders, write_orders, \
                      write_merchant_managed_fulfillment_orders and write_third_party_fulfillment_orders";
        let hint = match failure {
            ActionFailure::Unauthorized { .. } => format!(
                ": a person must fix the Admin API access token of Shopify shop {shop} or its scopes ({scopes}) \
                 and put the token in the secret's shopify_admin.{shop}.access_token"
            ),
            ActionFailure::Rejected { code: Some(code), .. } if code == "ACCESS_DENIED" => {
                format!(": a person must give the app of Shopify shop {shop} the missing scope ({scopes})")
            }
            _ => String::new(),
        };
        match ActionError::from(failure.clone()) {
            ActionError::Later { message, retry_after } => ActionError::Later {
                message: format!("{name}: {message}"),
                retry_after,
            },
            ActionError::Refused(message) => ActionError::Refused(format!("{name}: {message}{hint}")),
            // A failure is never only taken, nor says the order shipped.
            other @ (ActionError::Accepted { .. } | ActionError::Shipped(_)) => other,
        }
    }

    /// The order's fulfillment orders; refused when Shopify has no such order.
    async fn read(&self, gid: &str, calls: &mut u32) -> Result<OrderFulfillmentOrders, ActionError> {
        let body = self
            .call(Call::FulfillmentOrders, &shopify::fulfillment_orders_query(gid), calls)
            .await?;
        match shopify::parse_fulfillment_orders(&body) {
            Ok(Some(read)) => Ok(read),
            Ok(None) => Err(ActionError::Refused(format!(
                "fulfillmentOrders: Shopify shop {} has no order {gid} (or the app may not read it)",
                self.shop
            ))),
            Err(e) => Err(unreadable(Call::FulfillmentOrders, &e)),
        }
    }

    async fn hold(&self, action: &MallAction, gid: &str, calls: &mut u32) -> Result<Performed, ActionError> {
        let read = self.read(gid, calls).await?;
        let plan = read.hold_plan(&action.hold);
        if read.more && plan != HoldPlan::OrderCancelled {
            return Err(too_many(&read));
        }
        let (to_hold, cannot_hold) = match plan {
            HoldPlan::OrderCancelled => {
                return Err(ActionError::Refused(format!(
                    "the order {gid} is already cancelled at Shopify: there is nothing to hold"
                )));
            }
            HoldPlan::NotYetAssigned => {
                return Err(ActionError::Later {
                    message: format!(
                        "Shopify has not assigned the order {gid} to a location yet (it has no fulfillment \
                         orders): it is held once it has"
                    ),
                    retry_after: Some(NOT_YET_ASSIGNED_WAIT),
                });
            }
            // Every fulfillment order left is fulfilled (CLOSED): the order has shipped, which settles the
            // hold as shipped. One still being fulfilled is too late to hold, and the staff hear why.
            HoldPlan::TooLate { cannot_hold }
                if !cannot_hold.is_empty()
                    && read
                        .fulfillment_orders
                        .iter()
                        .filter(|fo| cannot_hold.contains(&fo.gid))
                        .all(|fo| fo.status == shopify::FulfillmentOrderStatus::Closed) =>
            {
                return Err(ActionError::Shipped(format!(
                    "the order {gid} is fulfilled at Shopify: every fulfillment order is closed ({})",
                    statuses(&read, &cannot_hold)
                )));
            }
            HoldPlan::TooLate { cannot_hold } => {
                return Err(ActionError::Refused(format!(
                    "the order {gid} already shipped at Shopify (or is being fulfilled): none of its \
                     fulfillment orders can be held ({})",
                    statuses(&read, &cannot_hold)
                )));
            }
            HoldPlan::AlreadyHeld { hold_ids, cannot_hold } => {
                self.part_shipped(action, &read, &cannot_hold);
                return Ok(reference(hold_ids));
            }
            HoldPlan::Hold {
                fulfillment_orders,
                cannot_hold,
            } => (fulfillment_orders, cannot_hold),
        };
        self.part_shipped(action, &read, &cannot_hold);
        let notes = hold_note(action);
        let mut ours = our_holds(&read, action);
        let mut duplicate = false;
        for (done, fulfillment_order) in to_hold.iter().enumerate() {
            let request = shopify::fulfillment_order_hold_request(fulfillment_order, &action.hold, &notes);
            let outcome = match self.call(Call::Hold, &request, calls).await {
                Ok(body) => shopify::parse_hold(&body).map_err(|e| unreadable(Call::Hold, &e)),
                Err(failed) => Err(failed.error),
            };
            match outcome {
                Ok(HoldOutcome::Held { hold_id, .. }) => ours.push(hold_id),
                Ok(HoldOutcome::AlreadyHeld) => duplicate = true,
                Ok(HoldOutcome::Refused(refusal)) => return Err(refused(Call::Hold, refusal)),
                Err(error) => {
                    if done > 0 {
                        tracing::warn!(mall = "shopify", shop = %self.shop, hold = %action.hold, held = done, of = to_hold.len(), "a hold stopped part way: the retry holds the rest");
                    }
                    return Err(error);
                }
            }
        }
        if duplicate {
            // A hold of an earlier attempt whose answer was lost: its id is on the fulfillment order.
            ours = our_holds(&self.read(gid, calls).await?, action);
        }
        Ok(reference(ours))
    }

    /// Logs the fulfillment orders of a held order that could not be held (shipped from one location).
    fn part_shipped(&self, action: &MallAction, read: &OrderFulfillmentOrders, cannot_hold: &[String]) {
        if !cannot_hold.is_empty() {
            tracing::warn!(
                mall = "shopify",
                shop = %self.shop,
                hold = %action.hold,
                cannot_hold = cannot_hold.len(),
                of = read.fulfillment_orders.len(),
                "part of the order shipped or is being fulfilled: the rest is held"
            );
        }
    }

    async fn release(&self, action: &MallAction, gid: &str, calls: &mut u32) -> Result<Performed, ActionError> {
        let read = self.read(gid, calls).await?;
        if read.cancelled {
            // A cancelled order ships nothing; its holds go with it.
            return Ok(Performed::default());
        }
        if read.more {
            return Err(too_many(&read));
        }
        let mut released = Vec::new();
        for target in read.release_plan(&action.hold) {
            let request =
                shopify::fulfillment_order_release_hold_request(&target.fulfillment_order_gid, &target.hold_ids);
            let body = self.call(Call::Release, &request, calls).await?;
            match shopify::parse_release(&body).map_err(|e| unreadable(Call::Release, &e))? {
                ReleaseOutcome::Released { .. } => released.extend(target.hold_ids),
                ReleaseOutcome::Refused(refusal) => return Err(refused(Call::Release, refusal)),
            }
        }
        Ok(reference(released))
    }

    async fn cancel(&self, action: &MallAction, gid: &str, calls: &mut u32) -> Result<Performed, ActionError> {
        let job = action.reference.as_deref().filter(|r| r.starts_with(JOB_GID));
        let read = self.read(gid, calls).await?;
        if read.cancelled {
            return Ok(Performed::changed(job.map(str::to_owned)));
        }
        // Fulfilled (every fulfillment order left is closed): the order has shipped, and orderCancel would
        // refund it. The mall's status wins: the hold settles as shipped, nothing is cancelled.
        let live: Vec<_> = read
            .fulfillment_orders
            .iter()
            .filter(|fo| fo.status != shopify::FulfillmentOrderStatus::Cancelled)
            .collect();
        if !live.is_empty()
            && live
                .iter()
                .all(|fo| fo.status == shopify::FulfillmentOrderStatus::Closed)
        {
            return Err(ActionError::Shipped(format!(
                "the order {gid} is fulfilled at Shopify (every fulfillment order is closed): not cancelled"
            )));
        }
        // An earlier attempt's job is still running: orderCancel is not idempotent, so it is not sent again.
        if let Some(job) = job {
            return Err(ActionError::Accepted {
                reference: Some(job.to_owned()),
                message: format!("Shopify is still cancelling the order ({job}): done once it reads as cancelled"),
                check_after: CANCEL_CONFIRM_WAIT,
            });
        }
        let note = format!(
            "mallguard: 重複注文としてキャンセル（先の注文: {}、保留 {}）",
            action.original, action.hold
        );
        let request =
            shopify::order_cancel_request(gid, cancel_reason(action.by), self.refund.method(), self.restock, &note);
        let refusal = match self.call(Call::Cancel, &request, calls).await {
            Ok(body) => match shopify::parse_cancel(&body).map_err(|e| unreadable(Call::Cancel, &e))? {
                CancelOutcome::Accepted { job_id, status, done } => {
                    if done || status == Some(CancelJobStatus::Succeeded) {
                        return Ok(Performed::changed(job_id));
                    }
                    let status = status.map(|s| format!(", {s:?}")).unwrap_or_default();
                    return Err(ActionError::Accepted {
                        message: format!(
                            "Shopify took the cancellation as a job ({}{status}): done once the order reads as \
                             cancelled",
                            job_id.as_deref().unwrap_or("no job id")
                        ),
                        reference: job_id,
                        check_after: CANCEL_CONFIRM_WAIT,
                    });
                }
                CancelOutcome::Refused(refusal) if refusal.retry_later() => {
                    return Err(refused(Call::Cancel, refusal));
                }
                CancelOutcome::Refused(refusal) => refused(Call::Cancel, refusal),
            },
            Err(CallFailed {
                failure: Some(ActionFailure::Refused(_)),
                error: error @ ActionError::Refused(_),
            }) => error,
            Err(failed) => return Err(failed.error),
        };
        // Shopify has no code of its own for an order cancelled already (by an earlier attempt's job, the
        // staff or the buyer): its cancelledAt tells.
        if self.read(gid, calls).await?.cancelled {
            return Ok(Performed::default());
        }
        Err(refusal)
    }
}

#[async_trait]
impl ShopActions for ShopifyAdmin {
    fn mall(&self) -> Mall {
        Mall::Shopify
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    fn can(&self, kind: ActionKind) -> bool {
        matches!(kind, ActionKind::Hold | ActionKind::Release | ActionKind::Cancel)
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        let order = &action.order;
        if order.mall != Mall::Shopify || order.shop != self.shop {
            return Err(ActionError::Refused(format!(
                "the client of Shopify shop {} was asked to act on {order}",
                self.shop
            )));
        }
        let Some(gid) = shopify::order_gid(&order.order_id) else {
            return Err(ActionError::Refused(format!(
                "{} is not a Shopify order id (not all digits)",
                order.order_id
            )));
        };
        let mut calls = 0;
        let result = match action.kind {
            ActionKind::Hold => self.hold(action, &gid, &mut calls).await,
            ActionKind::Release => self.release(action, &gid, &mut calls).await,
            ActionKind::Cancel => self.cancel(action, &gid, &mut calls).await,
        };
        match &result {
            Ok(performed) => tracing::info!(
                mall = "shopify",
                shop = %self.shop,
                order = %order.order_id,
                hold = %action.hold,
                kind = action.kind.as_str(),
                calls,
                reference = performed.reference.as_deref().unwrap_or(""),
                "done at Shopify"
            ),
            Err(error) => tracing::warn!(
                mall = "shopify",
                shop = %self.shop,
                order = %order.order_id,
                hold = %action.hold,
                kind = action.kind.as_str(),
                calls,
                later = matches!(error, ActionError::Later { .. }),
                "not done at Shopify"
            ),
        }
        result
    }
}

/// The note Shopify keeps with the hold, shown to the merchant: the earlier order by its mall, shop and id,
/// and mallguard's hold; no buyer's data.
fn hold_note(action: &MallAction) -> String {
    format!(
        "mallguard: 重複注文の疑い（先の注文: {}）— 購入者に確認中（保留 {}）",
        action.original, action.hold
    )
}

/// Every hold mallguard placed on the order for the action's hold.
fn our_holds(read: &OrderFulfillmentOrders, action: &MallAction) -> Vec<String> {
    read.fulfillment_orders
        .iter()
        .flat_map(|fo| fo.our_hold_ids(&action.hold))
        .map(str::to_owned)
        .collect()
}

/// Done, with Shopify's ids comma-joined (none when there are none).
fn reference(ids: Vec<String>) -> Performed {
    Performed::changed((!ids.is_empty()).then(|| ids.join(",")))
}

/// `gid … STATUS` of the named fulfillment orders, a few of them.
fn statuses(read: &OrderFulfillmentOrders, gids: &[String]) -> String {
    let mut listed: Vec<String> = read
        .fulfillment_orders
        .iter()
        .filter(|fo| gids.contains(&fo.gid))
        .take(LISTED)
        .map(|fo| format!("{} {}", fo.gid, fo.status))
        .collect();
    if gids.len() > LISTED {
        listed.push(format!("and {} more", gids.len() - LISTED));
    }
    if listed.is_empty() {
        "every one is cancelled".to_owned()
    } else {
        listed.join(", ")
    }
}

fn too_many(read: &OrderFulfillmentOrders) -> ActionError {
    ActionError::Refused(format!(
        "the order {} has more than the {} fulfillment orders mallguard reads: act on it by hand",
        read.order_gid,
        read.fulfillment_orders.len()
    ))
}

/// The user errors of an answer, for good or for later as [`Refusal::retry_later`] says.
fn refused(call: Call, refusal: Refusal) -> ActionError {
    match ActionError::from(ActionFailure::Refused(refusal)) {
        ActionError::Later { message, retry_after } => ActionError::Later {
            message: format!("{}: {message}", call.name()),
            retry_after,
        },
        ActionError::Refused(message) => ActionError::Refused(format!("{}: {message}", call.name())),
        other @ (ActionError::Accepted { .. } | ActionError::Shipped(_)) => other,
    }
}

/// A successful answer that cannot be read: not JSON at all (a maintenance page) may pass, JSON of another
/// shape is for a person to look at.
fn unreadable(call: Call, error: &ParseError) -> ActionError {
    let message = format!("{}: the answer cannot be read: {error}", call.name());
    match error {
        ParseError::NotJson(_) => ActionError::Later {
            message,
            retry_after: None,
        },
        _ => ActionError::Refused(message),
    }
}

/// No answer: tried again later.
fn later(error: FeedError) -> ActionError {
    let message = match error {
        FeedError::Unavailable(message) | FeedError::Refused(message) | FeedError::Unauthorized(message) => message,
        FeedError::Throttled { .. } => error.to_string(),
    };
    ActionError::Later {
        message,
        retry_after: None,
    }
}

/// A `Retry-After` value as seconds, which is what [`ActionFailure::with_retry_after`] reads: seconds as
/// sent, an HTTP date as the seconds until it.
fn seconds(value: &str) -> String {
    if value.trim().parse::<f64>().is_ok() {
        return value.trim().to_owned();
    }
    http::retry_after(value, Timestamp::now())
        .map(|wait| wait.as_secs().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(id: &str) -> ShopId {
        ShopId::parse(id).unwrap()
    }

    fn credentials() -> ShopifyCredentials {
        ShopifyCredentials {
            access_token: SecretString::from("shpat_secret_value"),
        }
    }

    #[test]
    fn the_refund_is_read_as_the_secret_writes_it() {
        for choice in [
            RefundChoice::Original,
            RefundChoice::StoreCredit,
            RefundChoice::NoRefund,
        ] {
            assert_eq!(choice.as_str().parse::<RefundChoice>(), Ok(choice));
        }
        assert_eq!(" none ".parse(), Ok(RefundChoice::NoRefund));
        assert!("refund".parse::<RefundChoice>().is_err());
        assert_eq!(RefundChoice::NoRefund.method(), RefundMethod::NoRefund);
        assert_eq!(
            RefundChoice::StoreCredit.method(),
            RefundMethod::StoreCredit { expires_at: None }
        );
        assert_eq!(RefundChoice::default(), RefundChoice::Original);
    }

    #[test]
    fn without_a_base_url_the_shop_names_the_host() {
        let admin = ShopifyAdmin::new(shop("tanaka-shop"), credentials(), ShopifyOptions::default()).unwrap();
        assert_eq!(
            admin.endpoint(),
            "https://tanaka-shop.myshopify.com/admin/api/2026-10/graphql.json"
        );
        let err = ShopifyAdmin::new(shop("shop.example.com"), credentials(), ShopifyOptions::default()).unwrap_err();
        assert!(matches!(err, ConfigError::BaseUrl { .. }), "{err}");
        let options = ShopifyOptions {
            base_url: Some("http://127.0.0.1:4000/".into()),
            ..ShopifyOptions::default()
        };
        let admin = ShopifyAdmin::new(shop("tanaka-shop"), credentials(), options).unwrap();
        assert_eq!(admin.endpoint(), "http://127.0.0.1:4000/admin/api/2026-10/graphql.json");
        let options = ShopifyOptions {
            base_url: Some("http://shopify.example".into()),
            ..ShopifyOptions::default()
        };
        assert!(ShopifyAdmin::new(shop("tanaka-shop"), credentials(), options).is_err());
    }

    #[test]
    fn debug_shows_no_token() {
        let admin = ShopifyAdmin::new(shop("tanaka-shop"), credentials(), ShopifyOptions::default()).unwrap();
        let text = format!("{admin:?} {:?}", credentials());
        assert!(!text.contains("shpat_secret_value"), "{text}");
        assert!(text.contains("tanaka-shop"), "{text}");
    }

    #[test]
    fn a_retry_after_date_becomes_seconds() {
        assert_eq!(seconds("2"), "2");
        assert_eq!(seconds(" 2.5 "), "2.5");
        assert_eq!(seconds("soon"), "");
        let later = Timestamp::now() + SignedDuration::from_secs(120);
        let date = later.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait: i64 = seconds(&date).parse().unwrap();
        assert!((100..=120).contains(&wait), "{wait}");
    }
}
