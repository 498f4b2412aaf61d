//! Mall actions in the use cases: a decision adds the actions it asks of the mall to its batch
//! ([`Mallguard::ask_mall`]); each runs right after the commit ([`Mallguard::perform`]); what could not run
//! stays pending for the sweep ([`Mallguard::retry_actions`]). The buyer's mails that depend on the mall
//! (a cancellation receipt) wait on the action and are sent only once the mall did it; a refusal alerts the
//! staff with the mall's reason and sends the buyer nothing; an action that keeps failing alerts the staff
//! once after [`ALERT_AFTER_ATTEMPTS`](crate::action::ALERT_AFTER_ATTEMPTS) attempts and goes on being tried.

use jiff::Timestamp;

use super::{Mallguard, SEND_LEASE, ServiceError, Within, queue};
use crate::action::{ActionError, ActionKind, ActionState, MallAction};
use crate::history::{Event, HistoryEntry};
use crate::hold::{Hold, HoldState};
use crate::notice::{HoldMailContext, Notice, NoticeId, NoticeKind};
use crate::ports::{CommitError, Expect, Metric, StoredOrder, WriteBatch};

/// What a round of actions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ActionsReport {
    pub done: usize,
    /// Not done now (or taken by the mall but not confirmed yet); tried again by the sweep.
    pub retried: usize,
    pub refused: usize,
    /// No longer needed (a hold settled before it was ever placed at the mall).
    pub dropped: usize,
    /// Not started (or not finished inside a request) for want of time: still pending.
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
    /// (the sweep takes it over if that fails), with the buyer mails that wait on it.
    pub(super) fn ask_mall(
        &self,
        batch: &mut WriteBatch,
        kind: ActionKind,
        hold: &Hold,
        then_notify: Vec<NoticeKind>,
        now: Timestamp,
    ) -> MallAction {
        let mut action = MallAction::new(kind, &hold.id, &hold.order, &hold.original, now);
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

    /// Performs actions just committed (or due in the sweep) within `within` and records each outcome with
    /// what follows from it: on success the buyer mails that waited on it, on a refusal the staff alert, sent
    /// within the same time. In the sweep each action is leased just before it runs, from the clock's now, and
    /// one the mall does not answer in time counts as a failed attempt; in a request it is left pending under
    /// its writer's lease for the sweep.
    pub(super) async fn perform(
        &self,
        actions: Vec<MallAction>,
        within: Within,
    ) -> Result<ActionsReport, ServiceError> {
        let mut report = ActionsReport::default();
        for action in actions {
            let Some(limit) = within.next_call() else {
                tracing::warn!(action = %action.id, "no time left for the mall action; the sweep does it");
                report.left += 1;
                continue;
            };
            let action = if within.sweep {
                match self.lease_action(&action).await? {
                    Some(leased) => leased,
                    // Somebody else took it meanwhile: theirs.
                    None => continue,
                }
            } else {
                action
            };
            let result = match tokio::time::timeout(limit, self.actions.perform(&action)).await {
                Ok(result) => result,
                Err(_) if within.sweep => Err(ActionError::Later {
                    message: format!("the mall did not answer within {} s", limit.as_secs()),
                    retry_after: None,
                }),
                Err(_) => {
                    tracing::warn!(action = %action.id, "the mall did not answer in time; the sweep retries");
                    report.left += 1;
                    continue;
                }
            };
            let now = self.clock.now();
            let mut batch = WriteBatch::default();
            // What the mall said is kept in the action, its evidence and maybe a mail: made fit for all three.
            let result = result.map_err(ActionError::tamed);
            let (updated, event) = match result {
                Ok(performed) => {
                    report.done += 1;
                    tracing::info!(action = %action.id, reference = ?performed.reference, "the mall did it");
                    let event = Event::ActionPerformed {
                        action: action.id.clone(),
                        kind: action.kind,
                        reference: performed.reference.clone(),
                    };
                    (action.done(performed.reference), event)
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
                        attempt: updated.attempts,
                        reference,
                        message,
                    };
                    (updated, event)
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
            let mails = match updated.state {
                ActionState::Done if !updated.then_notify.is_empty() => {
                    self.mails_for(&updated, &updated.then_notify, None, now).await?
                }
                ActionState::Refused => {
                    let reason = updated.last_error.clone().unwrap_or_default();
                    self.mails_for(&updated, &[NoticeKind::StaffActionRefused], Some(&reason), now)
                        .await?
                }
                ActionState::Pending if updated.calls_for_staff() => {
                    tracing::error!(action = %action.id, attempts = updated.attempts, "the mall keeps failing; the staff are told");
                    let reason = updated.last_error.clone().unwrap_or_default();
                    self.mails_for(&updated, &[NoticeKind::StaffActionFailing], Some(&reason), now)
                        .await?
                }
                _ => vec![],
            };
            for notice in &mails {
                queue(&mut batch, notice.clone(), now);
            }
            batch.actions.push((updated, Expect::Version(action.version)));
            match self.store.commit(batch).await {
                Ok(()) => {
                    self.deliver(mails, within).await;
                }
                // Somebody else recorded this action meanwhile (a sweep that took over a lapsed lease).
                Err(CommitError::Conflict) => {
                    tracing::warn!(action = %action.id, "the action's outcome was recorded by somebody else");
                }
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
        }
        Ok(report)
    }

    /// The mails of `kinds` about the hold of `action`, rendered now (the hold, the orders as they are).
    async fn mails_for(
        &self,
        action: &MallAction,
        kinds: &[NoticeKind],
        refusal: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<Notice>, ServiceError> {
        let hold = self.load_hold(&action.hold).await?;
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        let mut notices = vec![];
        for kind in kinds {
            if let Some(mut notice) = this.action_notice(*kind, &hold, &held, &original, action, refusal, now)? {
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
        now: Timestamp,
    ) -> Result<Option<Notice>, ServiceError> {
        let ctx = HoldMailContext {
            shop: &self.settings.shop,
            hold,
            held: &held.order,
            original: &original.order,
            links: None,
            at_mall: Some(action.kind),
            refusal,
            undelivered: None,
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

    /// The sweep's part: pending actions whose next attempt is due and nobody is performing, within the
    /// sweep's time; each is leased just before it runs ([`Mallguard::perform`]), so two sweeps never act
    /// twice. A hold action whose hold was settled before it ever reached the mall is dropped (the
    /// settlement asked for what follows).
    pub(super) async fn retry_actions(
        &self,
        horizon: Timestamp,
        within: Within,
    ) -> Result<ActionsReport, ServiceError> {
        let mut report = ActionsReport::default();
        let mut due = vec![];
        for action in self.store.pending_actions(horizon, super::expire::SWEEP_LIMIT).await? {
            if action.is_leased(self.clock.now()) {
                continue;
            }
            let stale_hold = action.kind == ActionKind::Hold
                && self
                    .store
                    .hold(&action.hold)
                    .await?
                    .is_none_or(|hold| hold.state != HoldState::Held);
            if !stale_hold {
                due.push(action);
                continue;
            }
            let mut batch = WriteBatch::default();
            batch.actions.push((action.dropped(), Expect::Version(action.version)));
            match self.store.commit(batch).await {
                Ok(()) => report.dropped += 1,
                Err(CommitError::Conflict) => {}
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
        }
        let performed = self.perform(due, within).await?;
        Ok(ActionsReport {
            dropped: report.dropped,
            ..performed
        })
    }

    /// Leases `action` (as read) to this sweep from the clock's now for [`SEND_LEASE`]; None when somebody
    /// else wrote it meanwhile.
    async fn lease_action(&self, action: &MallAction) -> Result<Option<MallAction>, ServiceError> {
        let now = self.clock.now();
        let leased = action.leased(now.saturating_add(SEND_LEASE).unwrap_or(now));
        let mut batch = WriteBatch::default();
        batch.actions.push((leased.clone(), Expect::Version(action.version)));
        match self.store.commit(batch).await {
            Ok(()) => Ok(Some(leased)),
            Err(CommitError::Conflict) => Ok(None),
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }
}
