//! The use cases: ingest an order, poll a mall that pushes nothing, show and answer a hold's page, resolve
//! a hold as staff, sweep due holds, quarantine what cannot be parsed, print the evidence. They take their
//! ports at construction, so one code path serves Lambda, the local stack and the tests.

mod act;
mod expire;
mod ingest;
mod mail_events;
mod notified;
mod poll;
mod respond;
mod shops;
mod staff;

use std::sync::Arc;

use jiff::Timestamp;

pub use act::ActionsReport;
pub use expire::{Retry, SweepReport};
pub use ingest::{Incoming, IngestOutcome};
pub use mail_events::{MailOutcome, MailReport, MailReportOutcome};
pub use notified::{NotificationError, NotificationOutcome, OrderNotification};
pub use poll::{CREDENTIALS_WARNING, PollBudget, PollReport, STALE_FEED};
pub use respond::{Answer, HoldPage, PageMeta, sha256_hex};
pub use shops::ShopSettingsError;
pub use staff::{Blacklisting, HoldDetail, MAX_NOTE_CHARS, StaffError};

use crate::action::{ActionKind, MallActions, NoMallActions};
use crate::history::{Event, HistoryEntry};
use crate::hold::{Decision, Hold, HoldState, Resolver, amazon_case_text};
use crate::identity::{IdentityHasher, ProductMap};
use crate::ids::{HoldId, Mall, OrderId, OrderRef};
use crate::matching::IndexEntry;
use crate::notice::{
    HoldMailContext, Links, Notice, NoticeId, NoticeKind, NoticeState, RenderError, Templates, UndeliveredHow,
};
use crate::order::OrderStatus;
use crate::policy::{Policy, ShopProfile};
use crate::ports::{
    Clock, CommitError, Expect, MailError, Mailer, Metric, Metrics, NoMetrics, ParsedPayload, PayloadParser,
    Quarantined, Store, StoreError, StoredOrder, WriteBatch,
};
use crate::token::{LinkAction, LinkSigner};

/// How often a decision is re-read and retried when concurrent writers keep winning.
const MAX_ATTEMPTS: usize = 16;
/// The most related orders read beside one hold: a buyer's open orders in the window are a handful; the
/// bound keeps a runaway identity (a shared office phone) from costing a read per order it ever placed.
pub const MAX_RELATED: usize = 10;
/// How often a notice is tried before it is given up: with the back-off of [`Notice::failed`] (1, 2, 4 … 32
/// minutes, then an hour) the ten tries span about four hours (243 minutes), and then the staff take over.
const MAX_SEND_ATTEMPTS: u32 = 10;
/// A notice (or mall action) being sent now is not picked up by another sender for this long: longer than
/// any one send or action may take ([`SWEEP_SEND_TIMEOUT`], [`REQUEST_SEND_BUDGET`]), so a lease never lapses
/// while its holder is still sending.
const SEND_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);
/// How long all the sends and mall actions inside one request may take together (the notice and the staff
/// alert of an ingested order whatever the route: SES, Rakuten's relay, Amazon's Messaging API; the hold or
/// cancellation asked of the mall; the staff alert of a refusal). Shopify gives up on a webhook after about
/// five seconds, and the request has its store writes to do as well. What is not done by then stays pending
/// under its lease, and the sweep does it.
pub const REQUEST_SEND_BUDGET: std::time::Duration = std::time::Duration::from_millis(2500);
/// How long one send or mall action may take in the sweep: longer than in a request, a fraction of the expire
/// function's minute (so one hanging mail service cannot use up an invocation), and far shorter than the
/// lease it holds.
pub const SWEEP_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// The sweep starts no send or mall action with less time than this left before its end: what is left is
/// reported ([`SweepReport::more_due`]) and done by the next sweep.
pub const SWEEP_SEND_MIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The time the mails and mall actions of one request, or of one sweep, have.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Within {
    /// When everything must be done (None: no end).
    ends: Option<tokio::time::Instant>,
    sweep: bool,
}

impl Within {
    /// A request's: every send and action in it shares [`REQUEST_SEND_BUDGET`] from now. What runs out of
    /// time is left as it is, pending under the lease its writer took: not an attempt that failed.
    pub(crate) fn request() -> Self {
        Self {
            ends: Some(tokio::time::Instant::now() + REQUEST_SEND_BUDGET),
            sweep: false,
        }
    }

    /// A sweep's, ending at `until`: each send or action gets [`SWEEP_SEND_TIMEOUT`] at most and none ends
    /// after `until`; one that times out counts as a failed attempt, so what always hangs is given up in the
    /// end.
    pub(crate) fn sweep(until: Option<tokio::time::Instant>) -> Self {
        Self {
            ends: until,
            sweep: true,
        }
    }

    /// How long the next send or action may take; None when none may start now.
    pub(crate) fn next_call(&self) -> Option<std::time::Duration> {
        let left = self
            .ends
            .map(|ends| ends.saturating_duration_since(tokio::time::Instant::now()));
        match (self.sweep, left) {
            (true, None) => Some(SWEEP_SEND_TIMEOUT),
            (true, Some(left)) => (left >= SWEEP_SEND_MIN).then(|| left.min(SWEEP_SEND_TIMEOUT)),
            (false, left) => left.filter(|left| !left.is_zero()),
        }
    }
}

/// What a round of sends did.
#[derive(Debug, Default)]
struct Delivered {
    /// The kinds of the notices sent.
    sent: Vec<NoticeKind>,
    /// Not sent: failed, or (in a request) out of time.
    failed: usize,
    /// Not started in the sweep for want of time: still pending.
    left: usize,
}

impl Delivered {
    fn absorb(&mut self, other: Delivered) {
        self.sent.extend(other.sent);
        self.failed += other.failed;
        self.left += other.left;
    }
}

/// The secrets and numbers of one deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub hasher: IdentityHasher,
    pub signer: LinkSigner,
    pub products: ProductMap,
    pub policy: Policy,
    pub shop: ShopProfile,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("gave up after {MAX_ATTEMPTS} attempts: concurrent writers kept changing the same customer")]
    Contention,
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("no hold {0}")]
    HoldNotFound(HoldId),
    #[error("the link is not valid")]
    InvalidLink,
    #[error("no order {0}")]
    OrderNotFound(OrderRef),
}

impl ServiceError {
    /// Worth a retry by the caller (the mall, the scheduler): the store or the contention will pass.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ServiceError::Store(StoreError::Unavailable(_)) | ServiceError::Contention
        )
    }
}

/// What became of a hold somebody tried to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Settled by this decision: the hold as it is now.
    Settled(Hold),
    /// Somebody (the buyer, the staff, the deadline, the mall) settled it first: the hold as they left it.
    AlreadySettled(Hold),
}

impl Settlement {
    /// The hold as it is now, whoever settled it.
    pub fn hold(&self) -> &Hold {
        match self {
            Settlement::Settled(hold) | Settlement::AlreadySettled(hold) => hold,
        }
    }
}

/// One settlement to add to a batch: which hold, what was decided and by whom, and the two orders.
struct Settling<'a> {
    hold: &'a Hold,
    decision: Decision,
    by: Resolver,
    held: &'a StoredOrder,
    original: &'a StoredOrder,
    /// The buyer's related orders, where the settler read them: the buyer's receipt says what arrives.
    related: Option<&'a [StoredOrder]>,
    now: Timestamp,
}

/// What became of one quarantined payload on replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub id: String,
    pub outcome: ReplayOutcome,
}

#[derive(Debug, Clone)]
pub enum ReplayOutcome {
    /// It parses now and went through ingest.
    Ingested(IngestOutcome),
    /// It parses now, as a topic that needs no processing.
    Ignored(String),
    /// It still cannot be parsed; it stays in quarantine.
    StillInvalid(String),
    /// It parses, but ingest still cannot take it (the store refuses its item, say); it stays in quarantine.
    NotIngested(String),
}

/// What the staff see about one order.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub order: StoredOrder,
    pub hold: Option<Hold>,
    pub history: Vec<HistoryEntry>,
    /// Every mail the history says was written about this order, as kept (its exact text), in the order
    /// they were written; a mail past the retention period is gone and only its digest in the history stays.
    pub mails: Vec<Notice>,
    /// Every distinct page the buyer was shown for this order's hold, as served, in the order first shown;
    /// past the retention period only the digests in the history stay.
    pub pages: Vec<crate::history::KeptPage>,
}

impl Evidence {
    /// The digest the history recorded for `notice` when it was sent (else when it was written).
    pub fn recorded_digest(&self, notice: &NoticeId) -> Option<&str> {
        let mut queued = None;
        for entry in &self.history {
            match &entry.event {
                Event::NoticeSent {
                    notice: id,
                    digest: Some(digest),
                    ..
                } if id == notice => return Some(digest),
                Event::NoticeQueued {
                    notice: id,
                    digest: Some(digest),
                    ..
                } if id == notice => queued = Some(digest.as_str()),
                _ => {}
            }
        }
        queued
    }
}

/// mallguard's use cases over injected ports.
#[derive(Clone)]
pub struct Mallguard {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    /// The settings in force: the deployment's, or a mall shop's over them (see [`Mallguard::in_shop`]).
    settings: Arc<Settings>,
    /// The deployment's settings, which every shop's are applied over.
    base: Arc<Settings>,
    shops: Arc<shops::ShopSettingsCache>,
    templates: Arc<Templates>,
    metrics: Arc<dyn Metrics>,
    keeper: Option<Arc<dyn crate::feed::CredentialKeeper>>,
    actions: Arc<dyn MallActions>,
    /// How long each mall shop asked the poller to wait (Retry-After, Yahoo!'s daily cap).
    poll_waits: Arc<poll::PollWaits>,
}

impl Mallguard {
    /// Waits until the store has written what it recorded behind requests' answers (see
    /// [`crate::ports::Commit::commit_behind`]): a server calls it last, before it stops.
    pub async fn written_behind(&self) {
        self.store.written_behind().await;
    }

    pub fn new(store: Arc<dyn Store>, mailer: Arc<dyn Mailer>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            mailer,
            clock,
            base: Arc::new(settings.clone()),
            settings: Arc::new(settings),
            shops: Arc::new(shops::ShopSettingsCache::default()),
            templates: Arc::new(Templates::new()),
            metrics: Arc::new(NoMetrics),
            keeper: None,
            actions: Arc::new(NoMallActions),
            poll_waits: Arc::default(),
        }
    }

    /// Holds, releases and cancels orders at their malls through `actions` (without it, the staff do, as
    /// their mails say).
    pub fn with_mall_actions(mut self, actions: Arc<dyn MallActions>) -> Self {
        self.actions = actions;
        self
    }

    /// Writes credentials a mall rotated during a poll back to `keeper` (without one, a rotation is only
    /// logged and alerted).
    pub fn with_credential_keeper(mut self, keeper: Arc<dyn crate::feed::CredentialKeeper>) -> Self {
        self.keeper = Some(keeper);
        self
    }

    /// Counts what happens into `metrics` (CloudWatch on Lambda).
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Counts a hold that was just settled.
    fn record_settled(&self, hold: &Hold) {
        let metric = match (hold.state, hold.resolution.as_ref().map(|r| &r.by)) {
            (HoldState::Held, _) => return,
            (HoldState::Confirmed, _) => Metric::HoldConfirmed,
            (HoldState::Released | HoldState::Shipped, _) => Metric::HoldReleased,
            (HoldState::Cancelled, Some(Resolver::Deadline)) => Metric::HoldExpired,
            (HoldState::Cancelled, _) => Metric::HoldCancelled,
        };
        self.metrics.record(metric, 1);
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn links(&self, hold: &Hold) -> Links {
        let expires = hold
            .deadline
            .saturating_add(self.settings.policy.link_grace)
            .unwrap_or(hold.deadline);
        let url = |action| {
            let token = self.settings.signer.sign(&hold.id, action, expires);
            format!("{}/h/{}", self.settings.shop.public_url.trim_end_matches('/'), token)
        };
        Links {
            confirm: url(LinkAction::Confirm),
            cancel: url(LinkAction::Cancel),
        }
    }

    /// Renders and queues a hold mail; None when a buyer mail has no address to go to. Of a hold still
    /// held (or cancelled), the staff mails say that mallguard has asked the mall to hold (or cancel) the
    /// order where this deployment does that (the decision asked for it with the same [`Mallguard::acts`]),
    /// and give the admin-screen steps only where it does not.
    fn hold_notice(
        &self,
        kind: NoticeKind,
        hold: &Hold,
        held: &StoredOrder,
        original: &StoredOrder,
        now: Timestamp,
    ) -> Result<Option<Notice>, RenderError> {
        self.hold_notice_at(kind, hold, held, original, self.asked_of_mall(hold), None, now)
    }

    /// What mallguard has asked the mall for `hold` as it stands: a hold while held, a cancellation once
    /// cancelled (unless the mall cancelled it), where this deployment acts at that mall.
    fn asked_of_mall(&self, hold: &Hold) -> Option<ActionKind> {
        match hold.state {
            HoldState::Held => Some(ActionKind::Hold),
            HoldState::Cancelled if hold.resolution.as_ref().is_none_or(|r| r.by != Resolver::Mall) => {
                Some(ActionKind::Cancel)
            }
            _ => None,
        }
        .filter(|kind| self.acts(hold, *kind))
    }

    /// [`Mallguard::hold_notice`] for a staff mail sent while the hold goes on (an escalation, an undeliverable
    /// notice): of a hold still held it says that the mall holds the order only when mallguard's hold action
    /// says so (done, or asked and not failed yet); refused, dropped, or failing, the mail gives the steps.
    async fn staff_hold_notice(
        &self,
        kind: NoticeKind,
        hold: &Hold,
        held: &StoredOrder,
        original: &StoredOrder,
        undelivered: Option<crate::notice::Undelivered>,
        now: Timestamp,
    ) -> Result<Option<Notice>, ServiceError> {
        if hold.state != HoldState::Held || !self.acts(hold, ActionKind::Hold) {
            let at_mall = self.asked_of_mall(hold);
            return Ok(self.hold_notice_at(kind, hold, held, original, at_mall, undelivered, now)?);
        }
        let action = self
            .store
            .action(&crate::action::ActionId::for_hold(&hold.id, ActionKind::Hold))
            .await?;
        let placed = action.is_some_and(|a| match a.state {
            crate::action::ActionState::Done => true,
            crate::action::ActionState::Pending => a.attempts == 0,
            crate::action::ActionState::Refused | crate::action::ActionState::Dropped => false,
        });
        let at_mall = placed.then_some(ActionKind::Hold);
        Ok(self.hold_notice_at(kind, hold, held, original, at_mall, undelivered, now)?)
    }

    /// The same, saying that mallguard has asked the mall for `at_mall` (the staff mails then give no steps)
    /// and, for the staff's undeliverable mail, what became of the buyer's mail.
    #[allow(clippy::too_many_arguments)]
    fn hold_notice_at(
        &self,
        kind: NoticeKind,
        hold: &Hold,
        held: &StoredOrder,
        original: &StoredOrder,
        at_mall: Option<ActionKind>,
        undelivered: Option<crate::notice::Undelivered>,
        now: Timestamp,
    ) -> Result<Option<Notice>, RenderError> {
        self.hold_notice_with(kind, hold, held, original, at_mall, undelivered, None, now)
    }

    /// The same, with the buyer's related orders read by the writer (None: not read, the mail speaks of the
    /// two orders alone).
    #[allow(clippy::too_many_arguments)]
    fn hold_notice_with(
        &self,
        kind: NoticeKind,
        hold: &Hold,
        held: &StoredOrder,
        original: &StoredOrder,
        at_mall: Option<ActionKind>,
        undelivered: Option<crate::notice::Undelivered>,
        related: Option<&[StoredOrder]>,
        now: Timestamp,
    ) -> Result<Option<Notice>, RenderError> {
        let links = matches!(kind, NoticeKind::Notice | NoticeKind::Reminder).then(|| self.links(hold));
        let related: Option<Vec<crate::order::Order>> = related.map(|r| r.iter().map(|o| o.order.clone()).collect());
        let ctx = HoldMailContext {
            shop: &self.settings.shop,
            hold,
            held: &held.order,
            original: &original.order,
            links: links.as_ref(),
            at_mall,
            refusal: None,
            undelivered,
            group: related.as_deref().map(|related| crate::notice::OrderGroup {
                related,
                bundling: &self.settings.policy.bundling,
                products: &self.settings.products,
            }),
        };
        Ok(self.templates.hold_mail(kind, &ctx)?.map(|mail| {
            let mut notice = Notice::new(
                NoticeId::for_hold(&hold.id, kind),
                kind,
                Some(hold.id.clone()),
                mail,
                now,
            );
            notice.order = Some(hold.order.clone());
            // Sent right after the commit; the sweep only retries it if that fails.
            let lease = now.saturating_add(SEND_LEASE).unwrap_or(now);
            notice.next_attempt_at = lease;
            notice.leased_until = Some(lease);
            notice
        }))
    }

    /// The buyer's other open orders beside a hold on `held` (関連するご注文): those the index entries of
    /// `held`'s keys name inside the window around it (`entries` when the writer read them already, else one
    /// read of the index per key), to exactly `held`'s recipient, placed by the same buyer, neither `held` nor
    /// `original`, open and not held now (a held one has its own notice; one confirmed ships like any other). One read per order, at most
    /// [`MAX_RELATED`] orders from at most three times as many reads.
    async fn related_orders(
        &self,
        held: &StoredOrder,
        original: &OrderRef,
        entries: Option<&[IndexEntry]>,
    ) -> Result<Vec<StoredOrder>, ServiceError> {
        let window = self.settings.policy.window;
        let placed = held.order.placed_at;
        let read;
        let entries = match entries {
            Some(entries) => entries,
            None if held.identity.keys.is_empty() => return Ok(vec![]),
            None => {
                let from = placed.saturating_sub(window).unwrap_or(placed);
                let to = placed.saturating_add(window).unwrap_or(placed);
                read = self.store.index_window(&held.identity.keys, from, to).await?;
                &read
            }
        };
        let refs = crate::bundle::related_refs(
            &held.identity.keys,
            &held.identity.recipient,
            &[&held.order.order_ref, original],
            entries,
            placed,
            window,
        );
        let mut related = vec![];
        // The first MAX_RELATED that qualify, not the first read: one shipped or held in between does not
        // hide an open one. Reads stay bounded all the same.
        for order in refs.iter().take(3 * MAX_RELATED) {
            if related.len() == MAX_RELATED {
                break;
            }
            if let Some(stored) = self.store.order(order).await?
                && stored.order.status == OrderStatus::Open
                && crate::bundle::same_buyer(&held.order, &stored.order)
                && self.ships_with_the_rest(&stored).await?
            {
                related.push(stored);
            }
        }
        Ok(related)
    }

    /// Whether an open order goes out like any other: never held, or held and then shipped as it was (the
    /// buyer confirmed it, or its twin was cancelled at the mall). One still held has its own notice. One more
    /// read, only for an order that was ever held.
    async fn ships_with_the_rest(&self, stored: &StoredOrder) -> Result<bool, ServiceError> {
        let Some(id) = &stored.hold else {
            return Ok(true);
        };
        Ok(matches!(
            self.store.hold(id).await?.map(|h| h.state),
            Some(crate::hold::HoldState::Confirmed | crate::hold::HoldState::Released)
        ))
    }

    async fn load_order(&self, order: &OrderRef) -> Result<StoredOrder, ServiceError> {
        self.store
            .order(order)
            .await?
            .ok_or_else(|| ServiceError::OrderNotFound(order.clone()))
    }

    /// Adds to `batch` the settlement of `s.hold` and what follows from it: the held order is taken out of
    /// matching when cancelled, the history, and the mails for who decided.
    fn settle_into(&self, batch: &mut WriteBatch, s: Settling<'_>) -> Result<Settlement, ServiceError> {
        let Settling {
            hold,
            decision,
            by,
            held,
            original,
            related,
            now,
        } = s;
        let mut settled = match hold.settle(decision, by.clone(), now) {
            Ok(settled) => settled,
            Err(_) => return Ok(Settlement::AlreadySettled(hold.clone())),
        };
        if by == Resolver::Deadline && settled.contact.amazon_fallback && settled.amazon_fallback_case.is_none() {
            settled.amazon_fallback_case =
                Some(amazon_case_text(&self.settings.shop.name, &held.order, &original.order));
            batch.history.push(HistoryEntry::new(
                &hold.order,
                now,
                Event::AmazonFallbackNoted { hold: hold.id.clone() },
            ));
        }
        batch.holds.push((settled.clone(), Expect::Version(hold.version)));
        let event = Event::Resolved {
            hold: hold.id.clone(),
            decision,
            state: settled.state,
            by: by.clone(),
        };
        batch.history.push(HistoryEntry::new(&hold.order, now, event.clone()));
        if hold.original != hold.order {
            batch.history.push(HistoryEntry::new(&hold.original, now, event));
        }
        // A cancelled hold no longer counts as an earlier order; the mall updates it when staff cancel there.
        if settled.state == HoldState::Cancelled && by != Resolver::Mall {
            cancel_locally(batch, held);
        }
        let kinds: &[NoticeKind] = match (by.clone(), settled.state) {
            (Resolver::Mall, HoldState::Shipped) => &[NoticeKind::StaffShipped],
            (Resolver::Buyer, _) => &[NoticeKind::Receipt, NoticeKind::StaffResolved],
            (Resolver::Staff { .. }, _) => &[NoticeKind::Receipt],
            (Resolver::Deadline, _) => &[NoticeKind::Cancellation, NoticeKind::StaffExpired],
            (Resolver::Mall, _) => &[],
        };
        // A blacklisted customer's hold is the staff's business only: the buyer is never mailed about it.
        let kinds: Vec<NoticeKind> = kinds
            .iter()
            .copied()
            .filter(|k| settled.blacklisted.is_none() || !matches!(k, NoticeKind::Receipt | NoticeKind::Cancellation))
            .collect();
        // What the mall must do now: cancel a cancelled order (unless the mall cancelled it itself), and
        // release a hold placed there when the order is to ship after all.
        let at_mall = match settled.state {
            HoldState::Cancelled if by != Resolver::Mall => Some(ActionKind::Cancel),
            HoldState::Confirmed | HoldState::Released => Some(ActionKind::Release),
            _ => None,
        }
        .filter(|kind| self.acts(&settled, *kind));
        // A buyer's mail that says the order is cancelled waits until the mall has cancelled it.
        let waits = |kind: &NoticeKind| {
            at_mall == Some(ActionKind::Cancel) && matches!(kind, NoticeKind::Receipt | NoticeKind::Cancellation)
        };
        for kind in kinds.iter().filter(|k| !waits(k)) {
            if let Some(notice) = self.hold_notice_with(*kind, &settled, held, original, at_mall, None, related, now)? {
                queue(batch, notice, now);
            }
        }
        if let Some(kind) = at_mall {
            let then_notify = kinds.iter().copied().filter(|k| waits(k)).collect();
            self.ask_mall(batch, kind, &settled, then_notify, now);
        }
        Ok(Settlement::Settled(settled))
    }

    /// Sends notices just committed (inside a request, or by the sweep) within `within`; a send out of time
    /// in a request leaves its notice pending for the sweep. Returns the kinds sent and the number not sent.
    async fn deliver(&self, notices: Vec<Notice>, within: Within) -> (Vec<NoticeKind>, usize) {
        let delivered = self.deliver_within(notices, within).await;
        (delivered.sent, delivered.failed + delivered.left)
    }

    /// Whether `notice` asks the buyer about a hold that is no longer held.
    async fn settled_meanwhile(&self, notice: &Notice) -> bool {
        if !matches!(notice.kind, NoticeKind::Notice | NoticeKind::Reminder) {
            return false;
        }
        let Some(hold) = &notice.hold else { return false };
        // Unreadable now: sent as usual (it was right when written).
        matches!(self.store.hold(hold).await, Ok(Some(hold)) if hold.state != HoldState::Held)
    }

    /// Records `notice` withdrawn unsent, in its order's evidence too.
    async fn withdraw(&self, notice: &Notice) {
        let now = self.clock.now();
        let mut batch = WriteBatch::default();
        batch
            .notices
            .push((notice.withdrawn(), Expect::Version(notice.version)));
        if let Some(order) = &notice.order {
            batch.history.push(HistoryEntry::new(
                order,
                now,
                Event::NoticeWithdrawn {
                    notice: notice.id.clone(),
                    kind: notice.kind,
                },
            ));
        }
        match self.store.commit(batch).await {
            Ok(()) => tracing::info!(notice = %notice.id, "the hold was settled meanwhile: the notice is not sent"),
            Err(error) => {
                tracing::warn!(notice = %notice.id, %error, "could not withdraw the notice; the sweep looks again")
            }
        }
    }

    /// Sends notices within `within` and records each outcome. In the sweep, one after another, each leased
    /// just before its own send, from the clock's now, so a lease taken at the sweep's start cannot lapse while
    /// the notice waits for its turn and another sweep send it too; one somebody else has taken meanwhile is
    /// theirs. In a request, together (see below); the staff alerts a failure raises go out after them.
    async fn deliver_within(&self, notices: Vec<Notice>, within: Within) -> Delivered {
        let mut delivered = Delivered::default();
        if within.sweep {
            let mut queue: std::collections::VecDeque<Notice> = notices.into();
            while let Some(notice) = queue.pop_front() {
                let (one, alerts) = self.deliver_one(notice, within, false).await;
                delivered.absorb(one);
                queue.extend(alerts);
            }
            return delivered;
        }
        // A request's mails (a hold's notice and the staff's copy, say) go out together, and their outcomes
        // are recorded together: the mall waits for the slowest send, not for the sum of them, and a store
        // that commits concurrent writes as one (the embedded one does) records them in one transaction.
        // Each outcome is still its own write, conditional on its own notice, so one's conflict undoes no other.
        let mut round = notices;
        while !round.is_empty() {
            let together = round.len() > 1;
            let outcomes =
                futures_util::future::join_all(round.into_iter().map(|n| self.deliver_one(n, within, together))).await;
            round = Vec::new();
            for (one, alerts) in outcomes {
                delivered.absorb(one);
                round.extend(alerts);
            }
        }
        delivered
    }

    /// Sends one notice within `within` and records its outcome; returns what it did and the staff alerts it
    /// raised (a buyer's notice given up), to be sent next. `together`: other notices of the request go out
    /// at the same moment, and their outcomes are recorded beside this one's.
    async fn deliver_one(&self, notice: Notice, within: Within, together: bool) -> (Delivered, Vec<Notice>) {
        let mut delivered = Delivered::default();
        let Some(limit) = within.next_call() else {
            // Not even started once the time is spent: a send cut short might still go out.
            tracing::warn!(notice = %notice.id, "no time left to send the notice; the sweep sends it");
            if within.sweep {
                delivered.left += 1;
            } else {
                delivered.failed += 1;
            }
            return (delivered, vec![]);
        };
        let notice = if within.sweep {
            match self.lease(&notice).await {
                Some(leased) => leased,
                None => return (delivered, vec![]),
            }
        } else {
            notice
        };
        // A buyer's question that waited (for the morning, or its next try) is not asked once the hold
        // is settled: the buyer would be asked to confirm or cancel what is decided.
        if within.sweep && self.settled_meanwhile(&notice).await {
            self.withdraw(&notice).await;
            return (delivered, vec![]);
        }
        let outcome = match tokio::time::timeout(limit, self.mailer.send(&notice.mail)).await {
            Ok(outcome) => outcome,
            // In the sweep, a send that does not answer counts as a failed attempt: a route that always
            // hangs is given up after the tries it gets, the staff told, and the others go out meanwhile.
            Err(_) if within.sweep => Err(MailError::Transient(format!(
                "the mail service did not answer within {} s",
                limit.as_secs()
            ))),
            // In a request the notice is left as it is, pending under the lease its writer took, and the
            // sweep sends it once the lease ends. Not an attempt that failed: the mail service may be fine.
            Err(_) => {
                delivered.failed += 1;
                tracing::warn!(notice = %notice.id, "notice not sent in time; the sweep sends it");
                return (delivered, vec![]);
            }
        };
        let now = self.clock.now();
        let refused = matches!(outcome, Err(MailError::Rejected(_)));
        let reads = match &outcome {
            Err(MailError::OtherLanguage { reads, .. }) => Some(*reads),
            _ => None,
        };
        let (updated, event) = match outcome {
            Ok(message_id) => {
                delivered.sent.push(notice.kind);
                self.metrics.record(Metric::NoticeSent, 1);
                tracing::info!(notice = %notice.id, %message_id, "notice sent");
                let event = Event::NoticeSent {
                    notice: notice.id.clone(),
                    kind: notice.kind,
                    message_id: message_id.clone(),
                    digest: Some(notice.mail.digest()),
                };
                (notice.sent(message_id), event)
            }
            Err(err) => {
                delivered.failed += 1;
                self.metrics.record(Metric::NoticeFailed, 1);
                // A refusal is final; a failure that may pass is retried a bounded number of times.
                let give_up = refused || notice.attempts + 1 >= MAX_SEND_ATTEMPTS;
                let updated = if give_up {
                    tracing::error!(notice = %notice.id, error = %err, "notice given up: the staff are told");
                    notice.given_up(err.to_string())
                } else {
                    tracing::warn!(notice = %notice.id, error = %err, "notice not sent; the sweep retries it");
                    notice.failed(err.to_string(), now)
                };
                let event = Event::NoticeFailed {
                    notice: notice.id.clone(),
                    kind: notice.kind,
                    attempt: updated.attempts,
                    error: err.to_string(),
                };
                (updated, event)
            }
        };
        let mut batch = WriteBatch::default();
        let mut updated = updated;
        // The route takes only mail in the buyer's language, which was not known when this was written:
        // the next attempt goes written in it.
        if let Some(reads) = reads
            && updated.state == NoticeState::Pending
        {
            match self.in_language(&notice, reads, &mut batch).await {
                Ok(Some(mail)) => updated.mail = mail,
                Ok(None) => {}
                Err(err) => tracing::warn!(notice = %notice.id, error = %err, "could not write the notice again"),
            }
        }
        if let Some(order) = &notice.order {
            batch.history.push(HistoryEntry::new(order, now, event));
        }
        // A buyer's notice given up leaves the buyer unaware of an open hold: the staff take over.
        let given_up_hold = (updated.state == NoticeState::Failed
            && matches!(notice.kind, NoticeKind::Notice | NoticeKind::Reminder))
        .then_some(notice.hold.as_ref())
        .flatten();
        let how = if refused {
            UndeliveredHow::Refused
        } else {
            UndeliveredHow::GaveUp {
                attempts: updated.attempts,
            }
        };
        batch.notices.push((updated, Expect::Version(notice.version)));
        let recorded = match given_up_hold {
            Some(hold_id) => match self.store.hold(hold_id).await {
                Ok(Some(hold)) => self.escalate_undeliverable(hold, batch, (notice.kind, how), now).await,
                Ok(None) => self.commit_as(batch, together).await.map(|()| vec![]),
                Err(err) => Err(err.into()),
            },
            // A request's sends are recorded behind its answer where the store can: the mails went out
            // either way. The sweep records each before its next send.
            None if !within.sweep => self.commit_behind(batch).await.map(|()| vec![]),
            None => self.commit_as(batch, together).await.map(|()| vec![]),
        };
        match recorded {
            Ok(alerts) => (delivered, alerts),
            // The mail went out (or not) either way; a conflict means the sweep already recorded it.
            Err(err) => {
                tracing::warn!(notice = %notice.id, error = %err, "could not record the notice's outcome");
                (delivered, vec![])
            }
        }
    }

    /// The mail of `notice` written again for a buyer who reads `reads`, and (into `batch`) the held order
    /// taking that language, so the hold's later mails are written in it too; None when the notice is no
    /// hold's mail.
    async fn in_language(
        &self,
        notice: &Notice,
        reads: crate::Language,
        batch: &mut WriteBatch,
    ) -> Result<Option<crate::notice::Mail>, ServiceError> {
        let Some(hold) = (match &notice.hold {
            Some(id) => self.store.hold(id).await?,
            None => None,
        }) else {
            return Ok(None);
        };
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let mut held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        if held.order.buyer.language != Some(reads) {
            let read = held.version;
            held.order.buyer.language = Some(reads);
            held.version += 1;
            batch.orders.push((held.clone(), Expect::Version(read)));
        }
        let at_mall = this.asked_of_mall(&hold);
        let now = self.clock.now();
        // The mail rewritten says all the first one did: the buyer's other orders and what arrives with them.
        let related = self.related_orders(&held, &hold.original, None).await?;
        Ok(this
            .hold_notice_with(notice.kind, &hold, &held, &original, at_mall, None, Some(&related), now)?
            .map(|rewritten| rewritten.mail))
    }

    /// Leases `notice` (as read) to this sender from the clock's now for [`SEND_LEASE`]; None when somebody
    /// else wrote it meanwhile (or the store failed: the notice stays pending either way).
    async fn lease(&self, notice: &Notice) -> Option<Notice> {
        let now = self.clock.now();
        let leased = notice.leased(now.saturating_add(SEND_LEASE).unwrap_or(now));
        let mut batch = WriteBatch::default();
        batch.notices.push((leased.clone(), Expect::Version(notice.version)));
        match self.store.commit(batch).await {
            Ok(()) => Some(leased),
            Err(CommitError::Conflict) => None,
            Err(CommitError::Store(err)) => {
                tracing::warn!(notice = %notice.id, error = %err, "could not lease the notice; the sweep sends it");
                None
            }
        }
    }

    /// Keeps a signed payload that could not be parsed and alerts the staff: nothing is lost.
    pub async fn quarantine(
        &self,
        source: &str,
        raw: Vec<u8>,
        meta: std::collections::BTreeMap<String, String>,
        error: &str,
    ) -> Result<String, ServiceError> {
        self.quarantine_as(source, raw, meta, error, false).await
    }

    /// Keeps aside an order that was read but that ingest can never take (`unrecorded`: the staff are told it
    /// was read, not recorded, and not checked for duplicates), or a payload that cannot be parsed.
    pub(super) async fn quarantine_as(
        &self,
        source: &str,
        raw: Vec<u8>,
        meta: std::collections::BTreeMap<String, String>,
        error: &str,
        unrecorded: bool,
    ) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let digest = crate::order::PayloadDigest::of(&raw);
        let id = digest.as_str()[..20].to_owned();
        let item = Quarantined {
            id: id.clone(),
            source: source.to_owned(),
            received_at: now,
            error: error.to_owned(),
            raw,
            meta,
            replayed_at: None,
        };
        let mail = self
            .templates
            .quarantine_mail(&self.settings.shop, &id, source, error, unrecorded)?;
        let notice = sent_after_commit(
            Notice::new(
                NoticeId::for_quarantine(&id),
                NoticeKind::StaffQuarantine,
                None,
                mail,
                now,
            ),
            now,
        );
        let mut batch = WriteBatch::default();
        batch.quarantine.push((item, Expect::Absent));
        batch.notices.push((notice.clone(), Expect::Absent));
        match self.store.commit(batch).await {
            Ok(()) => {
                self.metrics.record(Metric::ParseFailure, 1);
                self.deliver(vec![notice], Within::request()).await;
            }
            // The same payload is already quarantined and its staff alert queued.
            Err(CommitError::Conflict) => {}
            Err(CommitError::Store(err)) => return Err(err.into()),
        }
        tracing::warn!(quarantine = %id, source, "payload quarantined");
        Ok(id)
    }

    /// Marks a quarantined payload as reprocessed.
    async fn mark_replayed(
        &self,
        mut item: Quarantined,
        order: Option<&OrderRef>,
        by: &str,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        item.replayed_at = Some(now);
        let mut batch = WriteBatch::default();
        if let Some(order) = order {
            let event = Event::QuarantineReplayed {
                quarantine: item.id.clone(),
                by: by.to_owned(),
            };
            batch.history.push(HistoryEntry::new(order, now, event));
        }
        batch.quarantine.push((item, Expect::Any));
        match self.store.commit(batch).await {
            Ok(()) | Err(CommitError::Conflict) => Ok(()),
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }

    /// The quarantined payloads, replayed ones included, oldest first.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, ServiceError> {
        let mut items = self.store.quarantined().await?;
        items.sort_by_key(|q| q.received_at);
        Ok(items)
    }

    /// Parses every quarantined payload not yet replayed again with `parser` (after a fix) and ingests
    /// what now parses, noting in the order's evidence who replayed it (`by`). A payload that still fails
    /// stays waiting; each one's outcome is reported.
    pub async fn replay_quarantined(
        &self,
        parser: &dyn PayloadParser,
        by: &str,
    ) -> Result<Vec<Replayed>, ServiceError> {
        let mut report = vec![];
        for item in self.quarantined().await? {
            if item.replayed_at.is_some() {
                continue;
            }
            let id = item.id.clone();
            let outcome = match parser.parse(&item.source, &item.meta, &item.raw) {
                Ok(ParsedPayload::Order(order)) => {
                    let order_ref = order.order_ref.clone();
                    let incoming = Incoming {
                        order: *order,
                        raw: item.raw.clone(),
                        delivery: None,
                    };
                    match self.ingest(incoming).await {
                        Ok(outcome) => {
                            self.mark_replayed(item, Some(&order_ref), by).await?;
                            ReplayOutcome::Ingested(outcome)
                        }
                        // What will pass ends the replay: run it again later.
                        Err(error) if error.is_transient() => return Err(error),
                        // An order ingest still cannot take stays in quarantine; the others go on.
                        Err(error) => ReplayOutcome::NotIngested(error.to_string()),
                    }
                }
                Ok(ParsedPayload::Ignored(topic)) => {
                    self.mark_replayed(item, None, by).await?;
                    ReplayOutcome::Ignored(topic)
                }
                Err(error) => ReplayOutcome::StillInvalid(error),
            };
            report.push(Replayed { id, outcome });
        }
        Ok(report)
    }

    /// The orders with this mall order id, in every shop of the mall.
    pub async fn find_orders(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, ServiceError> {
        Ok(self.store.orders_with_id(mall, order_id).await?)
    }

    /// The order, its hold and its whole history: what a shop shows a customer in a dispute.
    pub async fn evidence(&self, order: &OrderRef) -> Result<Evidence, ServiceError> {
        let stored = self.load_order(order).await?;
        let hold = match &stored.hold {
            Some(id) => self.store.hold(id).await?,
            None => None,
        };
        let history = self.store.history(order).await?;
        let mut mails: Vec<Notice> = vec![];
        for entry in &history {
            if let Event::NoticeQueued { notice, .. } = &entry.event
                && !mails.iter().any(|m| &m.id == notice)
                && let Some(kept) = self.store.notice(notice).await?
            {
                mails.push(kept);
            }
        }
        let pages = match &hold {
            Some(hold) => self.store.pages(&hold.id).await?,
            None => vec![],
        };
        Ok(Evidence {
            order: stored,
            hold,
            history,
            mails,
            pages,
        })
    }

    /// Holds for the staff: open ones first, urgent first, then by deadline.
    pub async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, ServiceError> {
        let mut holds = self.store.holds(open_only).await?;
        holds.sort_by_key(|h| (h.state != HoldState::Held, !h.urgent, h.deadline));
        Ok(holds)
    }
}

/// A notice the writer sends itself right after its commit: leased to it for a while, so the sweep only
/// retries it if that send fails or the writer dies.
fn sent_after_commit(mut notice: Notice, now: Timestamp) -> Notice {
    let lease = now.saturating_add(SEND_LEASE).unwrap_or(now);
    notice.next_attempt_at = lease;
    notice.leased_until = Some(lease);
    notice
}

/// The mall actions a batch asks for (its new ones), to perform once it is committed.
fn requested(batch: &WriteBatch) -> Vec<crate::action::MallAction> {
    batch
        .actions
        .iter()
        .filter(|(_, expect)| *expect == Expect::Absent)
        .map(|(action, _)| action.clone())
        .collect()
}

fn queue(batch: &mut WriteBatch, notice: Notice, now: Timestamp) {
    if let Some(order) = &notice.order {
        batch.history.push(HistoryEntry::new(
            order,
            now,
            Event::NoticeQueued {
                notice: notice.id.clone(),
                kind: notice.kind,
                digest: Some(notice.mail.digest()),
                template: Some(crate::notice::template_version().to_owned()),
            },
        ));
    }
    debug_assert_eq!(notice.state, NoticeState::Pending);
    batch.notices.push((notice, Expect::Absent));
}

/// Marks an order cancelled in mallguard's records and takes it out of matching.
fn cancel_locally(batch: &mut WriteBatch, stored: &StoredOrder) {
    let mut cancelled = stored.clone();
    cancelled.order.status = OrderStatus::Cancelled;
    cancelled.version = stored.version + 1;
    batch.index.extend(index_entries(&cancelled));
    batch.orders.push((cancelled, Expect::Version(stored.version)));
}

/// The match-index entries of a stored order, one per identity key.
pub fn index_entries(stored: &StoredOrder) -> Vec<IndexEntry> {
    stored
        .identity
        .keys
        .iter()
        .map(|key| IndexEntry {
            key: key.clone(),
            order: stored.order.order_ref.clone(),
            placed_at: stored.order.placed_at,
            products: stored.products.clone(),
            recipient: stored.identity.recipient.clone(),
            cancelled: stored.order.status == OrderStatus::Cancelled,
        })
        .collect()
}

#[cfg(test)]
mod act_tests;
#[cfg(test)]
mod bundle_tests;
#[cfg(test)]
mod poll_tests;
#[cfg(test)]
mod tests;
