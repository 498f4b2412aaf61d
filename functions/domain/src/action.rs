//! Mall actions (モールでの操作): what mallguard asks a mall to do with a held order, so that the mall knows
//! what mallguard decided. Holding the order keeps the warehouse from shipping it (保留), releasing it lets
//! it ship again, cancelling it cancels it at the mall (キャンセル).
//!
//! Actions go through an outbox, exactly like notices: the decision and its pending actions are written in
//! one transaction, each action runs after the commit, a failure that passes (throttling, an outage) stays
//! pending and is retried by the sweep with back-off, a refusal (already cancelled, not allowed in its status)
//! ends the action and alerts the staff with the mall's reason, and a refusal because the order has shipped
//! settles the hold as shipped (the mall's status wins). An
//! action's id is its hold's and its kind's, so it is created once, and a mall adapter makes each action
//! idempotent at the mall (Shopify: one hold handle per hold; Yahoo!: a status already set is done), so a
//! retry after a lost answer never acts twice.

use std::fmt;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{HoldId, Mall, OrderRef, ShopId};
use crate::notice::NoticeKind;

/// The most of a mall's text (an error, a refusal's reason) kept in an action, its evidence and the staff's
/// mail, in characters. A mall's error can quote a whole answer (a JSON error quoting a megabyte body); kept
/// whole it would make the action's record too big to write, so the action would never end and nobody be told.
pub const MAX_MALL_TEXT: usize = 500;

/// The longest wait a mall may ask for before an action is tried again: past a day the staff had better
/// look (and a mall's `Retry-After` of years would park the action for good).
pub const MAX_MALL_WAIT: SignedDuration = SignedDuration::from_hours(24);

/// `text` from a mall made fit to keep and to mail: control characters (newlines too) become spaces and a
/// text longer than [`MAX_MALL_TEXT`] keeps its beginning and its end (where adapters name what the next
/// attempt follows, such as Amazon's `feedId=…`) around a `…`.
pub fn mall_text(text: &str) -> String {
    const TAIL: usize = 220;
    let clean: Vec<char> = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.len() <= MAX_MALL_TEXT {
        return clean.into_iter().collect();
    }
    let head = MAX_MALL_TEXT - TAIL - 3;
    let mut kept: String = clean[..head].iter().collect();
    kept.push_str(" … ");
    kept.extend(&clean[clean.len() - TAIL..]);
    kept
}

/// After this many failed attempts of an action (failures that may pass: an outage, throttling) the staff
/// are told once, with the mall's last reason ([`NoticeKind::StaffActionFailing`]). With the back-off of
/// [`MallAction::failed`] (1, 2, 4 … 32 minutes, then hourly) the eighth failure comes about two hours after
/// the first: long enough that a blip or a burst of throttling has passed, short enough that a held order's
/// warehouse cut-off or the buyer's receipt is not lost without anybody knowing.
///
/// The action is **not** ended then: it keeps being tried every hour until the mall does it or refuses it.
/// A shop owner expects what mallguard promised the buyer to happen once the mall is back (an order held,
/// a cancellation done and then receipted) rather than silently stop; and a staff member who does it by
/// hand meanwhile loses nothing, since each adapter treats what is already done at the mall as done (or the
/// mall refuses it, which the staff are told too).
pub const ALERT_AFTER_ATTEMPTS: u32 = 8;

/// How long the mall may leave an action it took unconfirmed (Rakuten's 800 waiting for 900, Shopify's
/// cancel job, Amazon's feed in processing) before the staff are told, once
/// ([`NoticeKind::StaffActionFailing`]). These re-checks are not failures: the mall said yes and is working
/// on it, and Rakuten's confirmation in particular can take hours; past a day the staff had better look.
pub const ALERT_AFTER_UNCONFIRMED: SignedDuration = SignedDuration::from_hours(24);

/// What is asked of the mall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// 保留: keep the held order from shipping while the buyer decides.
    Hold,
    /// 保留解除: let it ship (confirmed by the buyer or the staff, or the other order was cancelled).
    Release,
    /// キャンセル: cancel it at the mall.
    Cancel,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Hold => "hold",
            ActionKind::Release => "release",
            ActionKind::Cancel => "cancel",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who decided what is asked of the mall: each adapter gives the mall its reason from it (Shopify's
/// `orderCancel` reason, Rakuten's `changeReasonDetailApply`, Amazon's `CancelReason`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionBy {
    /// mallguard, on finding a suspected duplicate (the hold); also an action kept from before actions said.
    #[default]
    Mallguard,
    /// The buyer, through the notice's page.
    Buyer,
    /// A staff member (often after a phone call with the buyer).
    Staff,
    /// Nobody answered before the deadline.
    Deadline,
    /// The mall: the other order was cancelled there, so this one ships.
    Mall,
}

impl ActionBy {
    /// Who settled `hold` (mallguard while it is still held).
    pub fn of(hold: &crate::hold::Hold) -> Self {
        use crate::hold::Resolver;
        match hold.resolution.as_ref().map(|r| &r.by) {
            None => ActionBy::Mallguard,
            Some(Resolver::Buyer) => ActionBy::Buyer,
            Some(Resolver::Staff { .. }) => ActionBy::Staff,
            Some(Resolver::Deadline) => ActionBy::Deadline,
            Some(Resolver::Mall) => ActionBy::Mall,
        }
    }
}

/// An action's id: its hold's id and its kind (`h….cancel`), so one hold asks each thing of the mall once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(String);

impl ActionId {
    pub fn for_hold(hold: &HoldId, kind: ActionKind) -> Self {
        Self(format!("{hold}.{}", kind.as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// Not done yet: tried after the commit, then by the sweep until it is done or refused.
    Pending,
    /// The mall did it.
    Done,
    /// The mall refused it for good: the staff were told why.
    Refused,
    /// Not asked of the mall after all, and never to be: a hold whose hold was settled before it reached the
    /// mall, or a release of a hold that mallguard did not place (refused, dropped, or placed by somebody else
    /// before mallguard asked). The evidence says why.
    Dropped,
}

impl ActionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Pending => "pending",
            ActionState::Done => "done",
            ActionState::Refused => "refused",
            ActionState::Dropped => "dropped",
        }
    }
}

/// Why an action is no longer asked of the mall ([`ActionState::Dropped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A hold whose hold was settled before the mall held the order.
    SettledFirst,
    /// A release with no hold action of mallguard's before it.
    NoHold,
    /// A release of a hold the mall refused.
    HoldRefused,
    /// A release of a hold that was dropped.
    HoldDropped,
    /// A release of a hold the mall had before mallguard asked: somebody else's, not mallguard's to lift.
    HeldByOthers,
}

/// One thing asked of a mall about one held order: an outbox record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MallAction {
    pub id: ActionId,
    pub kind: ActionKind,
    pub hold: HoldId,
    /// The order acted on: the held one.
    pub order: OrderRef,
    /// The earlier order it duplicates, named in the note the mall keeps with the hold.
    pub original: OrderRef,
    pub state: ActionState,
    /// Who decided it: the reason the mall is given.
    #[serde(default)]
    pub by: ActionBy,
    pub version: u64,
    pub attempts: u32,
    pub created_at: Timestamp,
    /// When a pending action is next tried.
    pub next_attempt_at: Timestamp,
    /// While somebody is performing it: until then nobody else may.
    #[serde(default)]
    pub leased_until: Option<Timestamp>,
    /// What the mall calls what it did (a hold id, a job id, a feed id), when it says.
    pub reference: Option<String>,
    pub last_error: Option<String>,
    /// The buyer's mails that wait for this action: sent once the mall did it (a cancellation receipt
    /// says the order is cancelled only when it is), never when it refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then_notify: Vec<NoticeKind>,
    /// Done, but the mall had the order so already when mallguard first asked: somebody else did it (the
    /// staff put the order on 保留 by hand), so it is not mallguard's to undo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found_done: bool,
    /// When the mall first took the action without confirming it ([`ActionError::Accepted`]); its re-checks
    /// since are not failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    /// The staff were told that the action keeps failing or stays unconfirmed (once per action).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staff_told: bool,
}

impl MallAction {
    pub fn new(kind: ActionKind, hold: &HoldId, order: &OrderRef, original: &OrderRef, now: Timestamp) -> Self {
        Self {
            id: ActionId::for_hold(hold, kind),
            kind,
            hold: hold.clone(),
            order: order.clone(),
            original: original.clone(),
            state: ActionState::Pending,
            by: ActionBy::Mallguard,
            version: 0,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            leased_until: None,
            reference: None,
            last_error: None,
            then_notify: vec![],
            found_done: false,
            accepted_at: None,
            staff_told: false,
        }
    }

    /// The action claimed for performing until `until`.
    pub fn leased(&self, until: Timestamp) -> Self {
        Self {
            version: self.version + 1,
            next_attempt_at: until,
            leased_until: Some(until),
            ..self.clone()
        }
    }

    /// Whether somebody may be performing it right now.
    pub fn is_leased(&self, now: Timestamp) -> bool {
        self.leased_until.is_some_and(|until| until > now)
    }

    /// The action done at the mall.
    pub fn done(&self, reference: Option<String>) -> Self {
        Self {
            state: ActionState::Done,
            version: self.version + 1,
            attempts: self.attempts + 1,
            leased_until: None,
            reference,
            last_error: None,
            ..self.clone()
        }
    }

    /// The action done as the mall says ([`Performed`]): found so already on mallguard's very first request
    /// (nothing of mallguard's can have reached the mall before), somebody else did it. On a later attempt
    /// an earlier one of mallguard's may have done it with its answer lost, so it counts as mallguard's.
    pub fn performed(&self, performed: Performed) -> Self {
        let first_request = self.version == 0 && self.attempts == 0 && self.accepted_at.is_none();
        Self {
            found_done: performed.already && first_request,
            ..self.done(performed.reference)
        }
    }

    /// The action put back to wait, untried, until `until` (a release waiting for its hold to land).
    pub fn waiting(&self, until: Timestamp) -> Self {
        Self {
            version: self.version + 1,
            next_attempt_at: until,
            leased_until: None,
            ..self.clone()
        }
    }

    /// The action refused for good, with the mall's reason (made fit to keep: [`mall_text`]).
    pub fn refused(&self, reason: String) -> Self {
        Self {
            state: ActionState::Refused,
            version: self.version + 1,
            attempts: self.attempts + 1,
            leased_until: None,
            last_error: Some(mall_text(&reason)),
            ..self.clone()
        }
    }

    /// The action no longer needed.
    pub fn dropped(&self) -> Self {
        Self {
            state: ActionState::Dropped,
            version: self.version + 1,
            leased_until: None,
            ..self.clone()
        }
    }

    /// Whether the staff are to be told now that this action, `before` this attempt, keeps failing
    /// ([`ALERT_AFTER_ATTEMPTS`] failed attempts) or stays unconfirmed by the mall
    /// ([`ALERT_AFTER_UNCONFIRMED`] since it took it): once per action, however long it goes on.
    pub fn calls_for_staff(&self, before: &MallAction, now: Timestamp) -> bool {
        // An action that had reached the attempts before was told of then (kept from before `staff_told`).
        let untold = !before.staff_told && before.attempts < ALERT_AFTER_ATTEMPTS;
        let failing = self.attempts >= ALERT_AFTER_ATTEMPTS;
        let unconfirmed = self
            .accepted_at
            .is_some_and(|at| now.duration_since(at) >= ALERT_AFTER_UNCONFIRMED);
        self.state == ActionState::Pending && untold && (failing || unconfirmed)
    }

    /// The action the mall took but has not confirmed: still pending, looked at again after `check_after`
    /// (at least a minute), or, as the wait grows, after half the time waited so far (at most an hour), keeping
    /// the mall's `reference`. A re-check is not a failed attempt: it does not count towards
    /// [`ALERT_AFTER_ATTEMPTS`]; the staff hear of it after [`ALERT_AFTER_UNCONFIRMED`].
    pub fn accepted(
        &self,
        reference: Option<String>,
        message: String,
        check_after: SignedDuration,
        now: Timestamp,
    ) -> Self {
        let since = self.accepted_at.unwrap_or(now);
        let waited = now.duration_since(since).max(SignedDuration::ZERO);
        let wait = check_after
            .clamp(SignedDuration::from_mins(1), MAX_MALL_WAIT)
            .max((waited / 2).min(SignedDuration::from_hours(1)));
        Self {
            version: self.version + 1,
            next_attempt_at: now.saturating_add(wait).unwrap_or(now),
            leased_until: None,
            last_error: Some(mall_text(&message)),
            reference: reference.map(|r| mall_text(&r)).or_else(|| self.reference.clone()),
            accepted_at: self.accepted_at.or(Some(now)),
            ..self.clone()
        }
    }

    /// The action after an attempt that may pass, retried with back-off: 1, 2, 4 … minutes, at most an hour
    /// apart, and not before the mall asked (`retry_after`, at most [`MAX_MALL_WAIT`]). The error is kept as
    /// [`mall_text`].
    pub fn failed(&self, error: String, retry_after: Option<SignedDuration>, now: Timestamp) -> Self {
        let attempts = self.attempts + 1;
        let minutes = 1i64 << attempts.saturating_sub(1).min(6);
        let backoff = SignedDuration::from_mins(minutes.min(60));
        let wait = retry_after.map_or(backoff, |asked| asked.min(MAX_MALL_WAIT).max(backoff));
        Self {
            version: self.version + 1,
            attempts,
            next_attempt_at: now.saturating_add(wait).unwrap_or(now),
            leased_until: None,
            last_error: Some(mall_text(&error)),
            ..self.clone()
        }
    }
}

/// What the mall did, as it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Performed {
    /// The mall's id of what it did (a hold, a cancellation job, a feed), for the evidence.
    pub reference: Option<String>,
    /// The mall had the order so already and nothing was changed (Yahoo!: already 保留).
    pub already: bool,
}

impl Performed {
    /// Done by this request, with the mall's id of what it did.
    pub fn changed(reference: Option<String>) -> Self {
        Self {
            reference,
            already: false,
        }
    }

    /// Found so already at the mall: nothing was changed.
    pub fn found(reference: Option<String>) -> Self {
        Self {
            reference,
            already: true,
        }
    }
}

/// Why an action was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Throttled, down, credentials to refresh: tried again later, no person involved.
    #[error("the mall could not do it now: {message}")]
    Later {
        message: String,
        retry_after: Option<SignedDuration>,
    },
    /// The mall refused it for good (already shipped, already cancelled, not allowed in its status, our
    /// credentials refused): the staff must act; the reason is the mall's.
    #[error("the mall refused: {0}")]
    Refused(String),
    /// The mall refused because the order has already shipped (Yahoo!: `ShipStatus` 3 or 4, or 5 完了;
    /// Rakuten: orderProgress 500 発送済 or later; Amazon: `Shipped`): what the mall reports wins, so the hold
    /// settles as shipped, as when the mall reports the shipment itself, and the staff hear that it shipped.
    #[error("the order has already shipped: {0}")]
    Shipped(String),
    /// The mall took it but has not done it yet (Rakuten: a cancellation applied for, orderProgress 800,
    /// until Rakuten confirms it at 900): the action stays pending and is looked at again after
    /// `check_after`, so what waits on it (the buyer's cancellation mail) waits until the mall confirms.
    #[error("the mall took it and has not confirmed it yet: {message}")]
    Accepted {
        /// What the mall calls what it took, when it says.
        reference: Option<String>,
        message: String,
        check_after: SignedDuration,
    },
}

impl ActionError {
    /// The error with the mall's text made fit to keep ([`mall_text`]) and its wait at most
    /// [`MAX_MALL_WAIT`], whatever the adapter passed on.
    pub fn tamed(self) -> Self {
        match self {
            ActionError::Later { message, retry_after } => ActionError::Later {
                message: mall_text(&message),
                retry_after: retry_after.map(|wait| wait.clamp(SignedDuration::ZERO, MAX_MALL_WAIT)),
            },
            ActionError::Refused(reason) => ActionError::Refused(mall_text(&reason)),
            ActionError::Shipped(reason) => ActionError::Shipped(mall_text(&reason)),
            ActionError::Accepted {
                reference,
                message,
                check_after,
            } => ActionError::Accepted {
                reference: reference.map(|r| mall_text(&r)),
                message: mall_text(&message),
                check_after: check_after.clamp(SignedDuration::ZERO, MAX_MALL_WAIT),
            },
        }
    }
}

/// The malls' write APIs, one adapter per mall behind this port.
#[async_trait]
pub trait MallActions: Send + Sync {
    /// Whether this deployment does `kind` at `mall` for `shop` (the mall has such an operation and the
    /// deployment holds the shop's credentials). Where not, the staff do it by hand, as the staff mails say.
    fn can(&self, mall: Mall, shop: &ShopId, kind: ActionKind) -> bool;

    /// Does `action` at the mall. Idempotent: an action already done there is done again without effect.
    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError>;
}

/// No mall actions: every hold stays with the staff, as before mallguard acted at malls.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMallActions;

#[async_trait]
impl MallActions for NoMallActions {
    fn can(&self, _mall: Mall, _shop: &ShopId, _kind: ActionKind) -> bool {
        false
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        Err(ActionError::Refused(format!(
            "this deployment does not act at {}",
            action.order.mall
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderId;

    fn action() -> MallAction {
        let order = OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka").unwrap(),
            OrderId::parse("1002").unwrap(),
        );
        let original = OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka").unwrap(),
            OrderId::parse("1001").unwrap(),
        );
        MallAction::new(
            ActionKind::Hold,
            &HoldId::for_order(&order),
            &order,
            &original,
            "2026-11-23T03:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn an_action_is_named_by_its_hold_and_kind() {
        let a = action();
        assert_eq!(a.id.as_str(), format!("{}.hold", a.hold));
        assert_eq!(
            ActionId::for_hold(&a.hold, ActionKind::Cancel).as_str(),
            format!("{}.cancel", a.hold)
        );
    }

    #[test]
    fn a_failed_action_backs_off_and_honours_the_malls_wait() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let once = action().failed("503".into(), None, now);
        assert_eq!(
            (once.attempts, once.next_attempt_at),
            (1, "2026-11-23T03:01:00Z".parse().unwrap())
        );
        let twice = once.failed("503".into(), None, now);
        assert_eq!(twice.next_attempt_at, "2026-11-23T03:02:00Z".parse().unwrap());
        let asked = action().failed("429".into(), Some(SignedDuration::from_mins(10)), now);
        assert_eq!(asked.next_attempt_at, "2026-11-23T03:10:00Z".parse().unwrap());
        let many = (0..20).fold(action(), |a, _| a.failed("x".into(), None, now));
        assert_eq!(
            many.next_attempt_at,
            "2026-11-23T04:00:00Z".parse().unwrap(),
            "an hour at most"
        );
        assert_eq!(many.state, ActionState::Pending);
    }

    #[test]
    fn a_malls_wait_of_years_is_cut_to_a_day() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let asked = SignedDuration::from_secs(i64::from(u32::MAX));
        let failed = action().failed("429".into(), Some(asked), now);
        assert_eq!(failed.next_attempt_at, "2026-11-24T03:00:00Z".parse().unwrap());
        let tamed = ActionError::Later {
            message: "429".into(),
            retry_after: Some(asked),
        }
        .tamed();
        assert_eq!(
            tamed,
            ActionError::Later {
                message: "429".into(),
                retry_after: Some(MAX_MALL_WAIT)
            }
        );
    }

    #[test]
    fn a_malls_huge_or_multiline_text_is_kept_short_on_one_line_with_its_end() {
        let body = format!(
            "invalid JSON: {}\r\nBcc: x@example.com\u{7} (feedId=50001)",
            "x".repeat(1_000_000)
        );
        let refused = action().refused(body.clone());
        let kept = refused.last_error.unwrap();
        assert!(kept.chars().count() <= MAX_MALL_TEXT, "{}", kept.len());
        assert!(kept.starts_with("invalid JSON: xxx"), "{kept}");
        assert!(kept.ends_with("Bcc: x@example.com  (feedId=50001)"), "{kept}");
        assert!(!kept.chars().any(char::is_control), "{kept:?}");
        let failed = action().failed(body.clone(), None, "2026-11-23T03:00:00Z".parse().unwrap());
        assert_eq!(failed.last_error.as_deref(), Some(kept.as_str()));
        assert_eq!(
            ActionError::Refused(body).tamed(),
            ActionError::Refused(kept),
            "the evidence and the staff's mail get the same text"
        );
        assert_eq!(mall_text(" already\nfulfilled "), "already fulfilled");
    }

    #[test]
    fn a_taken_action_is_re_checked_as_the_mall_asks_then_less_often_up_to_hourly_without_counting_failures() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let wait = SignedDuration::from_mins(5);
        let first = action().accepted(Some("job-1".into()), "800".into(), wait, at("2026-11-23T03:00:00Z"));
        assert_eq!(first.next_attempt_at, at("2026-11-23T03:05:00Z"));
        assert_eq!(
            (first.attempts, first.accepted_at),
            (0, Some(at("2026-11-23T03:00:00Z")))
        );
        let later = first.accepted(None, "800".into(), wait, at("2026-11-23T03:40:00Z"));
        assert_eq!(
            later.next_attempt_at,
            at("2026-11-23T04:00:00Z"),
            "half the 40 minutes waited"
        );
        assert_eq!(later.reference.as_deref(), Some("job-1"));
        let much_later = later.accepted(None, "800".into(), wait, at("2026-11-23T09:00:00Z"));
        assert_eq!(
            much_later.next_attempt_at,
            at("2026-11-23T10:00:00Z"),
            "an hour at most"
        );
        assert_eq!(much_later.attempts, 0);
    }

    #[test]
    fn done_refused_and_dropped_end_the_action() {
        let done = action().done(Some("gid://shopify/FulfillmentHold/1".into()));
        assert_eq!((done.state, done.version, done.attempts), (ActionState::Done, 1, 1));
        let refused = action().refused("already fulfilled".into());
        assert_eq!(refused.state, ActionState::Refused);
        assert_eq!(refused.last_error.as_deref(), Some("already fulfilled"));
        assert_eq!(action().dropped().state, ActionState::Dropped);
    }
}
