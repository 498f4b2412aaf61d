//! Mall actions in the use cases: a decision adds the actions it asks of the mall to its batch
//! ([`Mallguard::ask_mall`]); each runs right after the commit ([`Mallguard::perform`]); what could not run
//! stays pending for the sweep ([`Mallguard::retry_actions`]). The buyer's mails that depend on the mall
//! (a cancellation receipt) wait on the action and are sent only once the mall did it; a refusal alerts the
//! staff with the mall's reason and sends the buyer nothing (one because the order shipped settles the hold as
//! shipped); an action that keeps failing alerts the staff once after
//! [`ALERT_AFTER_ATTEMPTS`](crate::action::ALERT_AFTER_ATTEMPTS) attempts, or after
//! [`ALERT_AFTER_UNCONFIRMED`](crate::action::ALERT_AFTER_UNCONFIRMED) unconfirmed by the mall, and goes on being
//! tried. A release goes to the mall only after mallguard's own hold ([`Mallguard::release_gate`]).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use jiff::Timestamp;

use super::{Mallguard, SEND_LEASE, ServiceError, Within, queue};
use crate::action::{ActionBy, ActionError, ActionId, ActionKind, ActionState, DropReason, MallAction};
use crate::history::{Event, HistoryEntry};
use crate::hold::{Decision, Hold, HoldState, Resolver};
use crate::notice::{HoldMailContext, Notice, NoticeId, NoticeKind};
use crate::order::OrderStatus;
use crate::ports::{CommitError, Expect, Metric, StoredOrder, WriteBatch};

/// The time a sweep keeps for one mall action: none is claimed with less left before its `until` (a Yahoo!
/// action is an orderInfo and an orderStatusChange and maybe a token refresh, each up to ten seconds).
const ACTION_ROOM: Duration = Duration::from_secs(30);

/// What a round of actions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ActionsReport {
    pub done: usize,
    /// Not done now (or taken by the mall but not confirmed yet); tried again by the sweep.
    pub retried: usize,
    pub refused: usize,
    /// No longer needed (a hold settled before it was ever placed at the mall).
    pub dropped: usize,
    /// Not started for want of time: still pending.
    pub left: usize,
}

impl ActionsReport {
    /// Both rounds together.
    pub fn plus(self, other: Self) -> Self {
        Self {
            done: self.done + other.done,
            retried: self.retried + other.retried,
            refused: self.refused + other.refused,
            dropped: self.dropped + other.dropped,
            left: self.left + other.left,
        }
    }
}

impl Mallguard {
    /// Whether this deployment does `kind` at the mall of `hold`'s order.
    pub(super) fn acts(&self, hold: &Hold, kind: ActionKind) -> bool {
        self.actions.can(hold.order.mall, &hold.order.shop, kind)
    }

    /// Adds the action `kind` on `hold`'s order to `batch`, claimed for performing right after the commit
    /// (the sweep takes it over if that fails), with the buyer mails that wait on it, and who decided it (who
    /// settled the hold; mallguard for a hold).
    pub(super) fn ask_mall(
        &self,
        batch: &mut WriteBatch,
        kind: ActionKind,
        hold: &Hold,
        then_notify: Vec<NoticeKind>,
        now: Timestamp,
    ) -> MallAction {
        let mut action = MallAction::new(kind, &hold.id, &hold.order, &hold.original, now);
        action.by = ActionBy::of(hold);
        let lease = now.saturating_add(SEND_LEASE).unwrap_or(now);
        action.next_attempt_at = lease;
        action.leased_until = Some(lease);
        action.then_notify = then_notify;
        batch.history.push(HistoryEntry::new(
            &hold.order,
            now,
            Event::ActionRequested {
                action: action.id.clone(),
                kind,
            },
        ));
        batch.actions.push((action.clone(), Expect::Absent));
        action
    }

    /// Performs actions just committed (or claimed by the sweep) within `within` and records each outcome
    /// with what follows from it: on success the buyer mails that waited on it, on a refusal the staff alert,
    /// sent within the same time. A hold done once its hold was settled (the buyer confirmed meanwhile) is
    /// followed by the release that waited for it.
    pub(super) async fn perform(
        &self,
        actions: Vec<MallAction>,
        known: &Known,
        within: Within,
    ) -> Result<ActionsReport, ServiceError> {
        let mut report = ActionsReport::default();
        let mut queue: VecDeque<MallAction> = actions.into();
        while let Some(action) = queue.pop_front() {
            if let Some(release) = self.perform_one(action, known, within, &mut report).await? {
                queue.push_back(release);
            }
        }
        Ok(report)
    }

    /// One action; returns the release now due, claimed, when this was a hold whose hold was settled.
    async fn perform_one(
        &self,
        action: MallAction,
        known: &Known,
        within: Within,
        report: &mut ActionsReport,
    ) -> Result<Option<MallAction>, ServiceError> {
        let now = self.clock.now();
        if action.kind == ActionKind::Release {
            match self.release_gate(&action, now).await? {
                Gate::Go => {}
                Gate::GoDropping(hold_action) => {
                    let mut batch = WriteBatch::default();
                    drop_into(&mut batch, &hold_action, DropReason::SettledFirst, now);
                    if self.commit_action(batch, &hold_action).await? {
                        report.dropped += 1;
                    }
                }
                Gate::Wait(until) => {
                    // Not tried: the hold is on its way to the mall. The release follows it (see below), or
                    // the sweep takes it once the hold's lease is over.
                    report.retried += 1;
                    let mut batch = WriteBatch::default();
                    batch
                        .actions
                        .push((action.waiting(until), Expect::Version(action.version)));
                    self.commit_action(batch, &action).await?;
                    return Ok(None);
                }
                Gate::Drop(reason, stale_hold) => {
                    let mut batch = WriteBatch::default();
                    let mut dropped = 1;
                    if let Some(hold_action) = stale_hold {
                        dropped += 1;
                        drop_into(&mut batch, &hold_action, DropReason::SettledFirst, now);
                    }
                    drop_into(&mut batch, &action, reason, now);
                    if self.commit_action(batch, &action).await? {
                        tracing::info!(action = %action.id, ?reason, "release not asked of the mall");
                        report.dropped += dropped;
                    }
                    return Ok(None);
                }
            }
        }
        let Some(limit) = within.next_call() else {
            // Not started for want of time: pending, for the sweep (the writer's lease, or the claim, lapses).
            tracing::warn!(action = %action.id, "no time left for the mall action; the sweep does it");
            report.left += 1;
            return Ok(None);
        };
        let mut batch = WriteBatch::default();
        // A mall that does not answer in time counts as an attempt that failed, in a request as in the sweep:
        // the call may have reached the mall, so a later "already done" is mallguard's own doing.
        let result = match tokio::time::timeout(limit, self.actions.perform(&action)).await {
            Ok(result) => result,
            Err(_) => Err(ActionError::Later {
                message: format!("the mall did not answer within {} s", limit.as_secs()),
                retry_after: None,
            }),
        };
        // What the mall said is kept in the action, its evidence and maybe a mail: made fit for all three.
        let result = result.map_err(ActionError::tamed);
        let mut shipped = false;
        let (mut updated, event) = match result {
            Ok(performed) => {
                report.done += 1;
                tracing::info!(action = %action.id, reference = ?performed.reference, already = performed.already, "the mall did it");
                let event = Event::ActionPerformed {
                    action: action.id.clone(),
                    kind: action.kind,
                    reference: performed.reference.clone(),
                };
                (action.performed(performed), event)
            }
            Err(ActionError::Later { message, retry_after }) => {
                report.retried += 1;
                tracing::warn!(action = %action.id, error = %message, "the mall could not do it now; the sweep retries");
                self.metrics.record(Metric::FeedRetry, 1);
                let updated = action.failed(message.clone(), retry_after, now);
                let event = Event::ActionRetried {
                    action: action.id.clone(),
                    kind: action.kind,
                    attempt: updated.attempts,
                    error: message,
                };
                (updated, event)
            }
            Err(ActionError::Accepted {
                reference,
                message,
                check_after,
            }) => {
                report.retried += 1;
                tracing::info!(action = %action.id, ?reference, %message, "the mall took it; confirmed later");
                let updated = action.accepted(reference.clone(), message.clone(), check_after, now);
                let event = Event::ActionAccepted {
                    action: action.id.clone(),
                    kind: action.kind,
                    attempt: updated.attempts + 1,
                    reference,
                    message,
                };
                (updated, event)
            }
            // A release the mall cannot do because the order shipped: what the release was for has happened.
            Err(ActionError::Shipped(reason)) if action.kind == ActionKind::Release => {
                report.done += 1;
                tracing::info!(action = %action.id, %reason, "the order shipped: nothing left to release");
                let event = Event::ActionPerformed {
                    action: action.id.clone(),
                    kind: action.kind,
                    reference: None,
                };
                (action.done(None), event)
            }
            Err(ActionError::Shipped(reason)) => {
                report.refused += 1;
                tracing::warn!(action = %action.id, %reason, "the order has shipped at the mall; the hold settles as shipped");
                shipped = action.kind != ActionKind::Release;
                let event = Event::ActionRefused {
                    action: action.id.clone(),
                    kind: action.kind,
                    reason: reason.clone(),
                };
                (action.refused(reason), event)
            }
            Err(ActionError::Refused(reason)) => {
                report.refused += 1;
                tracing::error!(action = %action.id, %reason, "the mall refused; the staff are told");
                self.metrics.record(Metric::FeedFailure, 1);
                let event = Event::ActionRefused {
                    action: action.id.clone(),
                    kind: action.kind,
                    reason: reason.clone(),
                };
                (action.refused(reason), event)
            }
        };
        batch.history.push(HistoryEntry::new(&action.order, now, event));
        let mut settled = None;
        let mails = match updated.state {
            ActionState::Refused if shipped => {
                let (hold, mails) = self.shipped_into(&mut batch, &updated, now).await?;
                settled = hold;
                mails
            }
            ActionState::Done if !updated.then_notify.is_empty() => {
                self.mails_for(&updated, &updated.then_notify, None, known, now).await?
            }
            ActionState::Refused => {
                let reason = updated.last_error.clone().unwrap_or_default();
                self.mails_for(&updated, &[NoticeKind::StaffActionRefused], Some(&reason), known, now)
                    .await?
            }
            ActionState::Pending if updated.calls_for_staff(&action, now) => {
                tracing::error!(action = %action.id, attempts = updated.attempts, "the mall keeps failing or has not confirmed; the staff are told");
                updated.staff_told = true;
                let reason = updated.last_error.clone().unwrap_or_default();
                self.mails_for(&updated, &[NoticeKind::StaffActionFailing], Some(&reason), known, now)
                    .await?
            }
            _ => vec![],
        };
        // The shipped settlement queued its own mail.
        if settled.is_none() {
            for notice in &mails {
                queue(&mut batch, notice.clone(), now);
            }
        }
        batch.actions.push((updated.clone(), Expect::Version(action.version)));
        if !self.commit_action(batch, &action).await? {
            return Ok(None);
        }
        if let Some(hold) = &settled {
            self.record_settled(hold);
        }
        self.deliver(mails, within).await;
        // The buyer or the staff may have settled the hold while the mall was placing it: its release waited
        // (see [`Mallguard::release_gate`]) and follows now. Not after the very first try, inside the request
        // that held the order: nothing can have asked for a release before it (the notice has just gone out),
        // and that request reads nothing more; a release asked meanwhile waits for the sweep.
        if updated.kind == ActionKind::Hold && updated.state == ActionState::Done && action.version > 0 {
            return self.release_after_hold(&updated).await;
        }
        Ok(None)
    }

    /// Adds to `batch` what follows when the mall says the order of `action` has shipped: the hold settles as
    /// shipped (from held, or from a cancellation mallguard decided but the mall never did), the order reads as
    /// shipped and counts as an earlier order again, and the staff get [`NoticeKind::StaffShipped`] rather than
    /// a refusal; the buyer's mails that waited on a cancellation are never sent. A hold settled otherwise
    /// meanwhile (the mall's shipment already reported) gets the usual refusal alert, or nothing when shipped.
    async fn shipped_into(
        &self,
        batch: &mut WriteBatch,
        action: &MallAction,
        now: Timestamp,
    ) -> Result<(Option<Hold>, Vec<Notice>), ServiceError> {
        let hold = self.load_hold(&action.hold).await?;
        let Ok(shipped) = hold.shipped_at_mall(now) else {
            if hold.state == HoldState::Shipped {
                return Ok((None, vec![]));
            }
            let reason = action.last_error.clone().unwrap_or_default();
            let mails = self
                .mails_for(
                    action,
                    &[NoticeKind::StaffActionRefused],
                    Some(&reason),
                    &Known::default(),
                    now,
                )
                .await?;
            return Ok((None, mails));
        };
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        let mut updated = held.clone();
        updated.order.status = OrderStatus::Shipped;
        updated.version = held.version + 1;
        batch.index.extend(super::index_entries(&updated));
        batch.orders.push((updated.clone(), Expect::Version(held.version)));
        batch.holds.push((shipped.clone(), Expect::Version(hold.version)));
        let event = Event::Resolved {
            hold: hold.id.clone(),
            decision: Decision::Shipped,
            state: HoldState::Shipped,
            by: Resolver::Mall,
        };
        batch.history.push(HistoryEntry::new(&hold.order, now, event.clone()));
        if hold.original != hold.order {
            batch.history.push(HistoryEntry::new(&hold.original, now, event));
        }
        let mut mails = vec![];
        if let Some(notice) =
            this.hold_notice_at(NoticeKind::StaffShipped, &shipped, &updated, &original, None, None, now)?
        {
            queue(batch, notice.clone(), now);
            mails.push(notice);
        }
        Ok((Some(shipped), mails))
    }

    /// Commits an action's outcome; false when somebody else recorded it meanwhile (a sweep that took over a
    /// lapsed lease).
    async fn commit_action(&self, batch: WriteBatch, action: &MallAction) -> Result<bool, ServiceError> {
        match self.store.commit(batch).await {
            Ok(()) => Ok(true),
            Err(CommitError::Conflict) => {
                tracing::warn!(action = %action.id, "the action's outcome was recorded by somebody else");
                Ok(false)
            }
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }

    /// Whether a release may go to the mall now: only once mallguard's own hold may be there. A release waits
    /// while its hold is being placed, and is dropped when there is nothing of mallguard's to release (the
    /// hold was refused, never tried, never asked for, or found placed by somebody else).
    async fn release_gate(&self, release: &MallAction, now: Timestamp) -> Result<Gate, ServiceError> {
        let hold_action = self
            .store
            .action(&ActionId::for_hold(&release.hold, ActionKind::Hold))
            .await?;
        Ok(match hold_action {
            None => Gate::Drop(DropReason::NoHold, None),
            Some(hold) => match hold.state {
                ActionState::Done if hold.found_done => Gate::Drop(DropReason::HeldByOthers, None),
                ActionState::Done => Gate::Go,
                ActionState::Refused => Gate::Drop(DropReason::HoldRefused, None),
                // A hold that failed may still have reached the mall (no answer, an answer not understood): its
                // release is asked, and does nothing where nothing is held. One never tried needs none.
                ActionState::Dropped if tried(&hold) => Gate::Go,
                ActionState::Dropped => Gate::Drop(DropReason::HoldDropped, None),
                ActionState::Pending => match hold.leased_until.filter(|until| *until > now) {
                    Some(until) => Gate::Wait(until),
                    // Nobody is placing it, and the hold is settled (it asked for this release): the hold is
                    // not needed any more.
                    None if tried(&hold) => Gate::GoDropping(Box::new(hold)),
                    None => Gate::Drop(DropReason::HoldDropped, Some(Box::new(hold))),
                },
            },
        })
    }

    /// After a hold was placed at the mall: the release waiting for it, claimed, when the hold was settled
    /// meanwhile.
    async fn release_after_hold(&self, hold_action: &MallAction) -> Result<Option<MallAction>, ServiceError> {
        let settled = self
            .store
            .hold(&hold_action.hold)
            .await?
            .is_some_and(|hold| hold.state != HoldState::Held);
        if !settled {
            return Ok(None);
        }
        let id = ActionId::for_hold(&hold_action.hold, ActionKind::Release);
        let now = self.clock.now();
        match self.store.action(&id).await? {
            Some(release) if release.state == ActionState::Pending && !release.is_leased(now) => {
                self.claim(&release, now).await
            }
            _ => Ok(None),
        }
    }

    /// The actions a sweep's page just asked for, each claimed from the clock's now just before it runs (the
    /// lease they were written with started with the page and may lapse while the ones before them run).
    pub(super) async fn perform_claimed(
        &self,
        actions: Vec<MallAction>,
        known: &Known,
        within: Within,
    ) -> Result<ActionsReport, ServiceError> {
        let mut report = ActionsReport::default();
        for action in actions {
            let Some(claimed) = self.claim(&action, self.clock.now()).await? else {
                continue;
            };
            report = report.plus(self.perform(vec![claimed], known, within).await?);
        }
        Ok(report)
    }

    /// `action` claimed for performing from `now` (see [`SEND_LEASE`]); None when somebody else changed it.
    async fn claim(&self, action: &MallAction, now: Timestamp) -> Result<Option<MallAction>, ServiceError> {
        let claimed = action.leased(now.saturating_add(SEND_LEASE).unwrap_or(now));
        let mut batch = WriteBatch::default();
        batch.actions.push((claimed.clone(), Expect::Version(action.version)));
        match self.store.commit(batch).await {
            Ok(()) => Ok(Some(claimed)),
            Err(CommitError::Conflict) => Ok(None),
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }

    /// The mails of `kinds` about the hold of `action`, rendered now (the hold, the orders as they are: as the
    /// decision that asked for the action just wrote them, when `known`, else read).
    async fn mails_for(
        &self,
        action: &MallAction,
        kinds: &[NoticeKind],
        refusal: Option<&str>,
        known: &Known,
        now: Timestamp,
    ) -> Result<Vec<Notice>, ServiceError> {
        let hold = match known.hold(&action.hold) {
            Some(hold) => hold.clone(),
            None => self.load_hold(&action.hold).await?,
        };
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let held = match known.order(&hold.order) {
            Some(order) => order.clone(),
            None => self.load_order(&hold.order).await?,
        };
        let original = match known.order(&hold.original) {
            Some(order) => order.clone(),
            None => self.load_order(&hold.original).await?,
        };
        // The buyer's receipt or cancellation mail says what still arrives: from the orders the decision read
        // when it is at hand, else from the buyer's orders open now (a receipt the sweep sends later: Rakuten's
        // pending cancellation, a retried one).
        let read;
        let related = match known.related(&hold.id) {
            Some(related) => Some(related),
            None if hold.blacklisted.is_none()
                && kinds
                    .iter()
                    .any(|k| matches!(k, NoticeKind::Receipt | NoticeKind::Cancellation)) =>
            {
                read = this.related_orders(&held, &hold.original, None).await?;
                Some(read.as_slice())
            }
            None => None,
        };
        let mut notices = vec![];
        for kind in kinds {
            if let Some(mut notice) =
                this.action_notice(*kind, &hold, &held, &original, action, refusal, related, now)?
            {
                // One alert per action (a hold can see a refused hold and a refused cancel).
                if matches!(kind, NoticeKind::StaffActionRefused | NoticeKind::StaffActionFailing) {
                    notice.id = NoticeId::from_stored(format!("{}.{}", action.id, kind.as_str()));
                }
                notices.push(notice);
            }
        }
        Ok(notices)
    }

    #[allow(clippy::too_many_arguments)]
    fn action_notice(
        &self,
        kind: NoticeKind,
        hold: &Hold,
        held: &StoredOrder,
        original: &StoredOrder,
        action: &MallAction,
        refusal: Option<&str>,
        related: Option<&[StoredOrder]>,
        now: Timestamp,
    ) -> Result<Option<Notice>, ServiceError> {
        let related: Option<Vec<crate::order::Order>> = related.map(|r| r.iter().map(|o| o.order.clone()).collect());
        let ctx = HoldMailContext {
            shop: &self.settings.shop,
            hold,
            held: &held.order,
            original: &original.order,
            links: None,
            at_mall: Some(action.kind),
            refusal,
            undelivered: None,
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
            super::sent_after_commit(notice, now)
        }))
    }

    /// The sweep's part: pending actions whose next attempt is due, each claimed from the clock's now just
    /// before it runs (a lease taken for a whole batch would lapse while the batch's first actions run, and
    /// let another sweep act on the last ones too), none claimed once `until` is near. A hold action whose
    /// hold was settled before it ever reached the mall is dropped (the settlement asked for what follows).
    pub(super) async fn retry_actions(
        &self,
        horizon: Timestamp,
        within: Within,
    ) -> Result<ActionsReport, ServiceError> {
        let until = within.ends;
        let mut report = ActionsReport::default();
        let mut longest = Duration::ZERO;
        let due = self.store.pending_actions(horizon, super::expire::SWEEP_LIMIT).await?;
        let count = due.len();
        for (taken, action) in due.into_iter().enumerate() {
            let room = ACTION_ROOM.max(longest * 2);
            if until.is_some_and(|until| until.saturating_duration_since(Instant::now()) <= room) {
                tracing::warn!("the sweep's time is near its end: the remaining mall actions wait for the next");
                // Reported as left, so the sweep says more is due.
                report.left += count - taken;
                break;
            }
            let now = self.clock.now();
            if action.is_leased(now) {
                continue;
            }
            let stale_hold = action.kind == ActionKind::Hold
                && self
                    .store
                    .hold(&action.hold)
                    .await?
                    .is_none_or(|hold| hold.state != HoldState::Held);
            if stale_hold {
                let mut batch = WriteBatch::default();
                drop_into(&mut batch, &action, DropReason::SettledFirst, now);
                if self.commit_action(batch, &action).await? {
                    report.dropped += 1;
                }
                continue;
            }
            let Some(claimed) = self.claim(&action, now).await? else {
                continue;
            };
            let started = Instant::now();
            report = report.plus(self.perform(vec![claimed], &Known::default(), within).await?);
            longest = longest.max(started.elapsed());
        }
        Ok(report)
    }
}

/// The holds and orders a decision just wrote (and the orders it read unchanged), so the actions it asked for
/// render their mails without reading them again: an action adds no read to the request that asked for it.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    holds: Vec<Hold>,
    orders: Vec<StoredOrder>,
    /// The buyer's related orders a decision read for a hold, so a receipt that waited for the mall says what
    /// arrives without reading them again (a receipt rendered by a later sweep reads them then).
    related: Vec<(crate::ids::HoldId, Vec<StoredOrder>)>,
}

impl Known {
    /// What `batch` writes, and the orders in `read` it leaves as they are.
    pub(super) fn of(batch: &WriteBatch, read: &[&StoredOrder]) -> Self {
        let mut orders: Vec<StoredOrder> = batch.orders.iter().map(|(order, _)| order.clone()).collect();
        for order in read {
            if !orders.iter().any(|o| o.order.order_ref == order.order.order_ref) {
                orders.push((*order).clone());
            }
        }
        Self {
            holds: batch.holds.iter().map(|(hold, _)| hold.clone()).collect(),
            orders,
            related: vec![],
        }
    }

    /// With the related orders read for `hold`.
    pub(super) fn with_related(mut self, hold: &crate::ids::HoldId, related: Vec<StoredOrder>) -> Self {
        self.related.push((hold.clone(), related));
        self
    }

    /// Adds what another decision wrote.
    pub(super) fn extend(&mut self, other: Known) {
        self.holds.extend(other.holds);
        self.orders.extend(other.orders);
        self.related.extend(other.related);
    }

    fn hold(&self, id: &crate::ids::HoldId) -> Option<&Hold> {
        self.holds.iter().rev().find(|h| &h.id == id)
    }

    fn order(&self, order: &crate::ids::OrderRef) -> Option<&StoredOrder> {
        self.orders.iter().rev().find(|o| &o.order.order_ref == order)
    }

    fn related(&self, hold: &crate::ids::HoldId) -> Option<&[StoredOrder]> {
        self.related
            .iter()
            .rev()
            .find(|(h, _)| h == hold)
            .map(|(_, r)| r.as_slice())
    }
}

/// What a release waits for.
enum Gate {
    /// mallguard's hold is at the mall: release it.
    Go,
    /// mallguard's hold is being placed, until then at the latest.
    Wait(Timestamp),
    /// Release, after dropping the hold action still pending: it failed, and may have reached the mall.
    GoDropping(Box<MallAction>),
    /// Nothing of mallguard's to release; with the hold action to drop too, when it never ran.
    Drop(DropReason, Option<Box<MallAction>>),
}

/// Whether a hold action was ever tried at the mall (and may have reached it whatever it answered).
fn tried(hold: &MallAction) -> bool {
    hold.attempts > 0 || hold.accepted_at.is_some()
}

/// Adds `action`, dropped for `reason`, and its evidence to `batch`.
fn drop_into(batch: &mut WriteBatch, action: &MallAction, reason: DropReason, now: Timestamp) {
    batch.history.push(HistoryEntry::new(
        &action.order,
        now,
        Event::ActionDropped {
            action: action.id.clone(),
            kind: action.kind,
            reason,
        },
    ));
    batch.actions.push((action.dropped(), Expect::Version(action.version)));
}
