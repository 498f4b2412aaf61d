//! The expiry sweep: reminders at half time, cancellation at the deadline (Amazon: the
//! customer-service fallback noted), and retries of notices that failed to send. Reads only due items.

use std::time::Duration;

use tokio::time::Instant;

use jiff::Timestamp;

use super::act::Known;
use super::{Mallguard, SWEEP_SEND_TIMEOUT, ServiceError, Settlement, Settling, Within, queue};
use crate::action::MallAction;
use crate::history::{Event, HistoryEntry};
use crate::hold::{Decision, Hold, HoldState, Resolver, amazon_case_text};
use crate::notice::{Notice, NoticeKind};
use crate::ports::{CommitError, Expect, StoredOrder, WriteBatch};

/// How many due holds a sweep reads at a time, and how many pending notices one sweep retries.
pub(super) const SWEEP_LIMIT: usize = 200;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub reminded: usize,
    pub cancelled: usize,
    /// Amazon holds escalated to the customer-service fallback before cancelling.
    pub escalated: usize,
    /// Reminders and retries to a carrier address moved to the end of the quiet hours.
    pub deferred: usize,
    pub notices_sent: usize,
    pub notices_failed: usize,
    /// Mall actions done, retried later, refused, and dropped as no longer needed.
    pub actions: super::ActionsReport,
    /// Holds another writer settled while this sweep looked at them.
    pub skipped: usize,
    /// Due holds, mail or mall actions were left for the next sweep: this one reached its time limit.
    pub more_due: bool,
}

/// How a sweep treats mails that failed to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Those whose retry back-off has passed (the scheduled sweep).
    WhenDue,
    /// Every one not being sent right now, back-off or not: staff who run a sweep by hand after fixing
    /// the mail route want the mail out now, since the buyer's answer time is running.
    AllNow,
}

/// A reminder later than this before the deadline only adds noise (as [`crate::policy::Policy::deadline`] has
/// it).
const REMINDER_BEFORE_DEADLINE: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// How far ahead a sweep run by hand looks for mail waiting out a back-off: beyond the longest back-off.
const BACKOFF_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl Mallguard {
    /// Runs one scheduled sweep at the clock's now, taking due holds until none is left.
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        self.sweep_with(Retry::WhenDue).await
    }

    /// Runs one sweep at the clock's now, retrying failed mail as `retry` says, taking due holds until none
    /// is left.
    pub async fn sweep_with(&self, retry: Retry) -> Result<SweepReport, ServiceError> {
        self.sweep_until(retry, None).await
    }

    /// Runs one sweep at the clock's now that ends by `until` (None: no limit). A page of due holds is taken
    /// only while the time left is more than twice the longest page so far and more than one send may take
    /// ([`SWEEP_SEND_TIMEOUT`]); every send and mall action is cut short at `until`, and none is started when
    /// too little time is left. So an invocation with a time limit ends on its own; what it left is reported
    /// ([`SweepReport::more_due`]) and taken by the next sweep.
    ///
    /// A backlog (the store was down for an hour, a sale's worth of holds due at one cut-off) thus drains
    /// as fast as one invocation allows, not one page per scheduled tick.
    pub async fn sweep_until(&self, retry: Retry, until: Option<Instant>) -> Result<SweepReport, ServiceError> {
        let now = self.clock.now();
        let within = Within::sweep(until);
        let mut report = SweepReport::default();
        let mut done = super::ActionsReport::default();
        let mut longest = Duration::ZERO;
        loop {
            let started = Instant::now();
            let due = self.store.due_holds(now, SWEEP_LIMIT).await?;
            let full = due.len() >= SWEEP_LIMIT;
            let mut notices = vec![];
            let mut actions = vec![];
            let mut known = Known::default();
            let mut moved = 0;
            // What a page writes (leases, mail times) starts when the page does.
            let page_now = self.clock.now().max(now);
            for hold in due {
                let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
                match this.sweep_hold(&hold, page_now).await? {
                    Some((kind, queued, asked, wrote)) => {
                        match kind {
                            Swept::Reminded => report.reminded += 1,
                            Swept::Cancelled => report.cancelled += 1,
                            Swept::Escalated => report.escalated += 1,
                            Swept::Deferred => report.deferred += 1,
                        }
                        moved += 1;
                        notices.extend(queued);
                        actions.extend(asked);
                        known.extend(wrote);
                    }
                    None => report.skipped += 1,
                }
            }
            // Each page's mail and mall actions go out before the next page is taken: a sweep cut short
            // leaves nothing half done (what had no time left stays pending for the next sweep).
            let delivered = self.deliver_within(notices, within).await;
            report.notices_sent += delivered.sent.len();
            report.notices_failed += delivered.failed;
            report.more_due |= delivered.left > 0;
            done = done.plus(self.perform_claimed(actions, &known, within).await?);
            if !full {
                break;
            }
            // A full page in which every hold was settled by someone else meanwhile: the next sweep looks
            // again rather than this one spinning on what others are writing.
            if moved == 0 {
                report.more_due = true;
                break;
            }
            longest = longest.max(started.elapsed());
            let enough = (longest * 2).max(SWEEP_SEND_TIMEOUT);
            if until.is_some_and(|until| until.saturating_duration_since(Instant::now()) <= enough) {
                report.more_due = true;
                break;
            }
        }
        let (delivered, deferred) = self.retry_pending(now, retry, within).await?;
        report.notices_sent += delivered.sent.len();
        report.notices_failed += delivered.failed;
        report.more_due |= delivered.left > 0;
        report.deferred += deferred;
        let horizon = match retry {
            Retry::WhenDue => now,
            Retry::AllNow => now.saturating_add(BACKOFF_HORIZON).unwrap_or(now),
        };
        let retried = self.retry_actions(horizon, within).await?;
        report.actions = done.plus(retried);
        report.more_due |= report.actions.left > 0;
        if report.more_due {
            tracing::warn!(
                ?report,
                "sweep stopped at its time limit with holds, mail or mall actions still due; the next sweep takes them"
            );
        } else if report != SweepReport::default() {
            tracing::info!(?report, "sweep done");
        }
        Ok(report)
    }

    async fn sweep_hold(
        &self,
        hold: &Hold,
        now: Timestamp,
    ) -> Result<Option<(Swept, Vec<Notice>, Vec<MallAction>, Known)>, ServiceError> {
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        let policy = &self.settings.policy;
        let mut batch = WriteBatch::default();
        let mut related: Option<Vec<StoredOrder>> = None;
        let swept = if now >= hold.deadline {
            let amazon = hold.contact.amazon_fallback;
            // Amazon: by default never cancelled unanswered; the staff get the customer-service case text
            // and the hold waits for them. With automatic cancellation, optionally after a second deadline.
            let wait_for_staff = amazon && !policy.amazon_auto_cancel;
            let escalate_first = amazon && (wait_for_staff || policy.amazon_fallback_first);
            if wait_for_staff && hold.amazon_fallback_case.is_some() {
                // The request was noted when the notice did not arrive and the staff have its text: the hold
                // only stops being due.
                let mut waiting = hold.clone();
                waiting.version += 1;
                waiting.awaiting_staff = true;
                waiting.remind_at = None;
                batch.holds.push((waiting, Expect::Version(hold.version)));
                Swept::Escalated
            } else if escalate_first && hold.amazon_fallback_case.is_none() {
                let mut escalated = hold.clone();
                escalated.version += 1;
                escalated.amazon_fallback_case =
                    Some(amazon_case_text(&self.settings.shop.name, &held.order, &original.order));
                if wait_for_staff {
                    escalated.awaiting_staff = true;
                } else {
                    escalated.deadline = now.saturating_add(policy.amazon_fallback_within).unwrap_or(now);
                }
                escalated.remind_at = None;
                batch.holds.push((escalated.clone(), Expect::Version(hold.version)));
                batch.history.push(HistoryEntry::new(
                    &hold.order,
                    now,
                    Event::AmazonFallbackNoted { hold: hold.id.clone() },
                ));
                if let Some(n) = self
                    .staff_hold_notice(NoticeKind::StaffEscalated, &escalated, &held, &original, None, now)
                    .await?
                {
                    queue(&mut batch, n, now);
                }
                Swept::Escalated
            } else {
                // The cancellation mail says what still arrives: the buyer's orders open now (read once here,
                // and kept for the mail that waits for the mall's cancellation). A blacklisted customer's
                // hold mails the staff alone.
                if hold.blacklisted.is_none() {
                    related = Some(self.related_orders(&held, &hold.original, None).await?);
                }
                let settling = Settling {
                    hold,
                    decision: Decision::Cancel,
                    by: Resolver::Deadline,
                    held: &held,
                    original: &original,
                    related: related.as_deref(),
                    now,
                };
                match self.settle_into(&mut batch, settling)? {
                    Settlement::Settled(_) => Swept::Cancelled,
                    Settlement::AlreadySettled(_) => return Ok(None),
                }
            }
        } else if let Some(morning) = self.quiet_for(&held.order, hold.urgent, now) {
            // A carrier address at night: the reminder waits for the morning, or is dropped when the morning
            // is too near the deadline for it to help.
            let mut later = hold.reminded();
            if hold.deadline.duration_since(morning) >= REMINDER_BEFORE_DEADLINE {
                later.remind_at = Some(morning);
            }
            batch.holds.push((later, Expect::Version(hold.version)));
            Swept::Deferred
        } else {
            let reminded = hold.reminded();
            batch.holds.push((reminded.clone(), Expect::Version(hold.version)));
            // The reminder lists the buyer's other open orders as they are now: in A, A, B the notice went
            // before B was placed, and the reminder is where the buyer sees all three.
            let listed = self.related_orders(&held, &hold.original, None).await?;
            let at_mall = self.asked_of_mall(&reminded);
            if let Some(n) = self.hold_notice_with(
                NoticeKind::Reminder,
                &reminded,
                &held,
                &original,
                at_mall,
                None,
                Some(&listed),
                now,
            )? {
                queue(&mut batch, n, now);
            }
            Swept::Reminded
        };
        let notices = batch.notices.iter().map(|(n, _)| n.clone()).collect();
        let actions = super::requested(&batch);
        let settled: Vec<Hold> = batch.holds.iter().map(|(h, _)| h.clone()).collect();
        let mut known = Known::of(&batch, &[&held, &original]);
        if let Some(related) = related {
            known = known.with_related(&hold.id, related);
        }
        match self.store.commit(batch).await {
            Ok(()) => {
                settled.iter().for_each(|h| self.record_settled(h));
                Ok(Some((swept, notices, actions, known)))
            }
            // The buyer, the staff or another sweep moved first; the next sweep sees the result.
            Err(CommitError::Conflict) => Ok(None),
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }

    /// Retries notices that are still pending and nobody is sending now, within the sweep's time: each is
    /// leased just before its own send ([`Mallguard::deliver_within`]), so two sweeps never mail twice.
    /// Returns what the sends did and how many retries were moved to the end of the quiet hours.
    async fn retry_pending(
        &self,
        now: Timestamp,
        retry: Retry,
        within: Within,
    ) -> Result<(super::Delivered, usize), ServiceError> {
        let horizon = match retry {
            Retry::WhenDue => now,
            Retry::AllNow => now.saturating_add(BACKOFF_HORIZON).unwrap_or(now),
        };
        let mut due = vec![];
        let mut deferred = 0;
        for notice in self.store.pending_notices(horizon, SWEEP_LIMIT).await? {
            if notice.is_leased(self.clock.now()) {
                continue;
            }
            if let Some(morning) = self.retry_waits_for_morning(&notice, now).await? {
                if notice.next_attempt_at != morning {
                    let mut later = notice.clone();
                    later.version += 1;
                    later.next_attempt_at = morning;
                    let mut batch = WriteBatch::default();
                    batch.notices.push((later, Expect::Version(notice.version)));
                    // The buyer's first question has not reached them: their time to answer starts when it
                    // does, as for a notice held back at the order (never past the delivery date's cut-off).
                    if notice.kind == NoticeKind::Notice
                        && let Some(moved) = self.answer_time_from(&notice, morning).await?
                    {
                        batch.holds.push(moved);
                    }
                    match self.store.commit(batch).await {
                        Ok(()) => deferred += 1,
                        Err(CommitError::Conflict) => {}
                        Err(CommitError::Store(err)) => return Err(err.into()),
                    }
                }
                continue;
            }
            due.push(notice);
        }
        Ok((self.deliver_within(due, within).await, deferred))
    }

    /// The hold of the first `notice`, its deadline (and reminder) moved to count from `morning`, when that is
    /// later than it is now; with the version it was read at.
    async fn answer_time_from(
        &self,
        notice: &Notice,
        morning: Timestamp,
    ) -> Result<Option<(Hold, Expect)>, ServiceError> {
        let Some(id) = &notice.hold else { return Ok(None) };
        let Some(hold) = self.store.hold(id).await? else {
            return Ok(None);
        };
        if hold.state != HoldState::Held || hold.awaiting_staff {
            return Ok(None);
        }
        let held = self.load_order(&hold.order).await?;
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let planned = this.settings.policy.deadline(&held.order, morning);
        if planned.at <= hold.deadline {
            return Ok(None);
        }
        let mut moved = hold.clone();
        moved.version += 1;
        moved.deadline = planned.at;
        moved.remind_at = planned.remind_at;
        moved.urgent |= planned.urgent;
        Ok(Some((moved, Expect::Version(hold.version))))
    }

    /// When the quiet hours at `now` end, if a buyer's mail to `order`'s buyer must wait for them: a carrier
    /// address, the shop's quiet hours, and a hold that is not urgent.
    fn quiet_for(&self, order: &crate::order::Order, urgent: bool, now: Timestamp) -> Option<Timestamp> {
        let carrier = order.buyer.email.as_ref().is_some_and(|e| e.is_carrier());
        if !carrier || urgent {
            return None;
        }
        self.settings.policy.quiet_hours?.end_of(now)
    }

    /// When a retry of `notice` must wait for the end of the quiet hours: a buyer's mail to a carrier address
    /// at night, in the shop's quiet hours, unless its hold is urgent.
    async fn retry_waits_for_morning(
        &self,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, ServiceError> {
        let to_buyer = matches!(
            notice.kind,
            NoticeKind::Notice | NoticeKind::Reminder | NoticeKind::Receipt | NoticeKind::Cancellation
        );
        let (true, true, Some(order)) = (to_buyer, notice.mail.to.is_carrier(), &notice.order) else {
            return Ok(None);
        };
        let this = self.in_shop(order.mall, &order.shop).await;
        let Some(morning) = this.settings.policy.quiet_hours.and_then(|quiet| quiet.end_of(now)) else {
            return Ok(None);
        };
        let urgent = match &notice.hold {
            Some(id) => self.store.hold(id).await?.is_some_and(|hold| hold.urgent),
            None => false,
        };
        Ok((!urgent).then_some(morning))
    }
}

enum Swept {
    Reminded,
    Cancelled,
    Escalated,
    /// A buyer's mail moved to the end of the quiet hours.
    Deferred,
}
