//! What the mail service reports after sending (SES events: delivery, bounce, complaint, reject, delay) and
//! what mallguard does with it. A buyer's notice that did not arrive (a bounce of any kind, a complaint, a
//! reject), or that could not be sent at all, escalates its hold at once: the staff get a phone task, or for
//! Amazon the customer-service request (sellers may not phone Amazon buyers), or for a gift, other ways to
//! reach the buyer. Everything reported is kept in the order's evidence.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Mallguard, ServiceError, queue};
use crate::history::{Event, HistoryEntry};
use crate::hold::{Hold, HoldState, amazon_case_text};
use crate::ids::HoldId;
use crate::notice::{EarlierNotice, Notice, NoticeId, NoticeKind, NoticeState, Undelivered, UndeliveredHow};
use crate::ports::{CommitError, Expect, WriteBatch};

/// What the mail service reported about one sent mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailOutcome {
    Delivered,
    /// Bounced; `permanent` when the address will never take it (no such user, a refusing domain), not when
    /// it may some day (a full mailbox, a message too large: SES's `Transient`) or SES cannot tell
    /// (`Undetermined`).
    Bounced {
        permanent: bool,
    },
    /// The recipient marked it as spam.
    Complained,
    /// The mail service refused to send it (a virus scan, a suppressed address).
    Rejected,
    /// Not delivered yet; the service keeps trying.
    Delayed,
}

impl MailOutcome {
    /// Whether the buyer will not get this mail: the hold is escalated.
    ///
    /// Every bounce counts, not only a permanent one. SES reports a bounce only once it has stopped trying:
    /// a transient or undetermined bounce means this notice was not delivered and will not be, even if the
    /// address may take mail again later. Sending it again would mean waiting out a full mailbox while the
    /// buyer's answer time runs, so the staff are told at once, as for a permanent bounce (a phone task, or
    /// Amazon's customer service), and the evidence keeps which kind of bounce it was.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            MailOutcome::Bounced { .. } | MailOutcome::Complained | MailOutcome::Rejected
        )
    }

    pub fn label(self, lang: crate::Language) -> &'static str {
        use crate::Language::{En, Ja};
        match (self, lang) {
            (MailOutcome::Delivered, Ja) => "配信済み",
            (MailOutcome::Delivered, En) => "delivered",
            (MailOutcome::Bounced { permanent: true }, Ja) => "不達（宛先不明などの恒久的なエラー）",
            (MailOutcome::Bounced { permanent: true }, En) => "bounced (permanently)",
            (MailOutcome::Bounced { permanent: false }, Ja) => "一時的な不達",
            (MailOutcome::Bounced { permanent: false }, En) => "bounced (for now)",
            (MailOutcome::Complained, Ja) => "迷惑メールとして報告された",
            (MailOutcome::Complained, En) => "reported as spam",
            (MailOutcome::Rejected, Ja) => "送信を拒否された",
            (MailOutcome::Rejected, En) => "refused by the mail service",
            (MailOutcome::Delayed, Ja) => "配信遅延",
            (MailOutcome::Delayed, En) => "delayed",
        }
    }
}

/// One report of the mail service about one mail, with the tags the mail was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailReport {
    pub message_id: String,
    pub outcome: MailOutcome,
    pub at: Timestamp,
    /// The hold the mail is about (its `hold` tag), when it is about one.
    pub hold: Option<HoldId>,
    /// The notice's kind (its `kind` tag).
    pub kind: Option<NoticeKind>,
    /// The service's reason, without any address.
    pub detail: String,
}

/// What became of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailReportOutcome {
    /// Kept in the order's evidence.
    Recorded,
    /// Kept, and the hold escalated to the staff.
    Escalated,
    /// About no hold (a staff alert, a quarantine notice): logged only.
    Ignored,
}

/// The buyer's mails whose failure leaves the buyer unaware of the hold.
fn asks_the_buyer(kind: NoticeKind) -> bool {
    matches!(kind, NoticeKind::Notice | NoticeKind::Reminder)
}

impl Mallguard {
    /// Records what the mail service reported about a mail and, when a buyer's notice of an open hold did
    /// not arrive, escalates the hold to the staff (once per hold).
    pub async fn mail_reported(&self, report: MailReport) -> Result<MailReportOutcome, ServiceError> {
        let within = super::Within::request();
        let (Some(hold_id), Some(kind)) = (&report.hold, report.kind) else {
            tracing::info!(message_id = report.message_id, outcome = ?report.outcome, "a mail report about no hold");
            return Ok(MailReportOutcome::Ignored);
        };
        let Some(hold) = self.store.hold(hold_id).await? else {
            tracing::warn!(hold = %hold_id, "a mail report about a hold that is gone");
            return Ok(MailReportOutcome::Ignored);
        };
        let now = self.clock.now();
        let reported = HistoryEntry::new(
            &hold.order,
            report.at,
            Event::MailReported {
                kind,
                message_id: report.message_id.clone(),
                outcome: report.outcome,
                detail: report.detail.chars().take(200).collect(),
            },
        );
        let mut with = WriteBatch {
            history: vec![reported],
            ..WriteBatch::default()
        };
        // SES reports only on mail it took: a notice still pending (its send timed out in the request, or its
        // outcome could not be written) is not sent again, and one that failed is not retried.
        let notice_id = NoticeId::for_hold(hold_id, kind);
        if let Some(notice) = self.store.notice(&notice_id).await?
            && notice.state == NoticeState::Pending
        {
            let settled = if report.outcome.is_failure() {
                let mut failed = notice.given_up(format!(
                    "{}: {}",
                    report.outcome.label(crate::Language::En),
                    report.detail
                ));
                // The mail service's id ties the notice to its reports (the console's delivery column).
                failed.message_id = Some(report.message_id.clone());
                failed
            } else {
                notice.sent(report.message_id.clone())
            };
            with.notices.push((settled, Expect::Version(notice.version)));
        }
        let escalate = report.outcome.is_failure() && asks_the_buyer(kind) && hold.state == HoldState::Held;
        let how = match report.outcome {
            MailOutcome::Complained => UndeliveredHow::Complained,
            MailOutcome::Rejected => UndeliveredHow::Refused,
            _ => UndeliveredHow::Bounced,
        };
        let notices = if escalate {
            self.escalate_undeliverable(hold, with, (kind, how), now).await?
        } else {
            self.commit_alone(with).await?;
            vec![]
        };
        self.deliver(notices.clone(), within).await;
        tracing::info!(hold = %hold_id, kind = kind.as_str(), outcome = ?report.outcome, escalated = escalate, "mail report");
        Ok(if !notices.is_empty() {
            MailReportOutcome::Escalated
        } else {
            MailReportOutcome::Recorded
        })
    }

    /// Escalates `hold` (read just now) whose buyer's mail `failed` (which mail, and how), in one write with
    /// `with` (what reported it), and returns the staff alert to send: none when the hold was escalated before
    /// or is settled by now (`with` is written all the same). A hold somebody else wrote meanwhile (a
    /// reminder, the buyer) is read again.
    pub(super) async fn escalate_undeliverable(
        &self,
        mut hold: Hold,
        with: WriteBatch,
        failed: (NoticeKind, UndeliveredHow),
        now: Timestamp,
    ) -> Result<Vec<Notice>, ServiceError> {
        for _ in 0..super::MAX_ATTEMPTS {
            if hold.state != HoldState::Held {
                return self.commit_alone(with).await.map(|()| vec![]);
            }
            let mut batch = with.clone();
            let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
            let notices = this.undeliverable_into(&mut batch, &hold, failed, now).await?;
            match self.store.commit(batch).await {
                Ok(()) => return Ok(notices),
                Err(CommitError::Conflict) => match self.store.hold(&hold.id).await? {
                    Some(current) if current.version != hold.version => hold = current,
                    // The hold is as read: the conflict is its alert, queued by an earlier report.
                    _ => return self.commit_alone(with).await.map(|()| vec![]),
                },
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
        }
        Err(ServiceError::Contention)
    }

    /// Commits `batch`; a conflict is reported as contention (what it writes was written by somebody else).
    pub(super) async fn commit_alone(&self, batch: WriteBatch) -> Result<(), ServiceError> {
        self.commit_as(batch, false).await
    }

    /// Commits `batch` as [`Self::commit_alone`] does; `beside_others`: other commits of the same request
    /// come at the same moment (see [`crate::ports::Commit::commit_beside_others`]).
    pub(super) async fn commit_as(&self, batch: WriteBatch, beside_others: bool) -> Result<(), ServiceError> {
        let committed = if beside_others {
            self.store.commit_beside_others(batch).await
        } else {
            self.store.commit(batch).await
        };
        committed.map_err(contention)
    }

    /// Records what a request's sends did (the notices and their history), behind the request's answer
    /// where the store can (see [`crate::ports::Commit::commit_behind`]).
    pub(super) async fn commit_behind(&self, batch: WriteBatch) -> Result<(), ServiceError> {
        self.store.commit_behind(batch).await.map_err(contention)
    }

    /// Adds to `batch` the escalation of `hold` whose buyer cannot be mailed, and returns the staff alert to
    /// send (one per hold: a second escalation of the same hold makes the batch a conflict).
    ///
    /// The hold stops reminding (a reminder to an address that did not take the notice reaches nobody).
    /// For Amazon the customer-service request is noted on the hold, and then the shop's Amazon policy
    /// applies now rather than at the deadline: by default the hold waits for the staff (it is never
    /// cancelled unanswered); with automatic cancellation and the fallback first, Amazon's customer service
    /// gets its time from now before the order is cancelled; with automatic cancellation alone, the
    /// deadline stands.
    ///
    /// The alert says how the mail failed and what the buyer may know of the hold all the same: a complaint
    /// means the mail arrived, and a failed reminder may follow a notice that was delivered.
    pub(super) async fn undeliverable_into(
        &self,
        batch: &mut WriteBatch,
        hold: &Hold,
        (mail, how): (NoticeKind, UndeliveredHow),
        now: Timestamp,
    ) -> Result<Vec<Notice>, ServiceError> {
        let earlier = match mail {
            NoticeKind::Reminder => self.earlier_notice(hold).await?,
            _ => EarlierNotice::None,
        };
        let undelivered = Undelivered { mail, how, earlier };
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        let policy = &self.settings.policy;
        let mut escalated = hold.clone();
        escalated.remind_at = None;
        if hold.contact.amazon_fallback {
            if hold.amazon_fallback_case.is_none() {
                escalated.amazon_fallback_case =
                    Some(amazon_case_text(&self.settings.shop.name, &held.order, &original.order));
                batch.history.push(HistoryEntry::new(
                    &hold.order,
                    now,
                    Event::AmazonFallbackNoted { hold: hold.id.clone() },
                ));
                if policy.amazon_auto_cancel && policy.amazon_fallback_first {
                    let second = now.saturating_add(policy.amazon_fallback_within).unwrap_or(now);
                    escalated.deadline = escalated.deadline.max(second);
                }
            }
            if !policy.amazon_auto_cancel {
                escalated.awaiting_staff = true;
            }
        }
        // Where the staff may phone the buyer (the staff mail says so), the hold is marked for a call.
        if hold.contact.phone_allowed && held.order.buyer.phone.is_some() {
            escalated.phone_task = true;
        }
        if escalated != *hold {
            escalated.version += 1;
            batch.holds.push((escalated.clone(), Expect::Version(hold.version)));
        }
        let Some(notice) = self
            .staff_hold_notice(
                NoticeKind::StaffUndeliverable,
                &escalated,
                &held,
                &original,
                Some(undelivered),
                now,
            )
            .await?
        else {
            return Ok(vec![]);
        };
        // One alert per hold however many reports come: `Absent` makes a second one a conflict.
        queue(batch, notice.clone(), now);
        Ok(vec![notice])
    }

    /// What mallguard knows of `hold`'s notice: sent (the mail service took it), delivered (it said so), or
    /// neither.
    async fn earlier_notice(&self, hold: &Hold) -> Result<EarlierNotice, ServiceError> {
        let sent = self
            .store
            .notice(&NoticeId::for_hold(&hold.id, NoticeKind::Notice))
            .await?
            .is_some_and(|n| n.state == NoticeState::Sent);
        if !sent {
            return Ok(EarlierNotice::None);
        }
        let delivered = self.store.history(&hold.order).await?.iter().any(|entry| {
            matches!(
                entry.event,
                Event::MailReported {
                    kind: NoticeKind::Notice,
                    outcome: MailOutcome::Delivered,
                    ..
                }
            )
        });
        Ok(if delivered {
            EarlierNotice::Delivered
        } else {
            EarlierNotice::Sent
        })
    }
}

/// A commit's failure as the use cases report it: a conflict is contention (what it writes was written by
/// somebody else).
fn contention(error: CommitError) -> ServiceError {
    match error {
        CommitError::Store(err) => ServiceError::Store(err),
        CommitError::Conflict => ServiceError::Contention,
    }
}
