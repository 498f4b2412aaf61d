//! What the staff do besides settling holds: the blacklist, notes on a hold, signing in.

use super::{Mallguard, ServiceError};
use crate::Language;
use crate::action::{ActionId, ActionKind, MallAction};
use crate::blacklist::{BlacklistEntry, BlacklistId, BlacklistWrite, clean_reason};
use crate::history::{Event, HistoryEntry};
use crate::hold::Hold;
use crate::ids::{HoldId, OrderRef};
use crate::notice::{Mail, Notice, NoticeId, NoticeKind};
use crate::order::EmailAddress;
use crate::ports::{CommitError, MailError, StoredOrder, UsedSignIn, WriteBatch};

/// Everything the staff see of one hold: both orders, the mails, what was asked of the mall, and the
/// held order's evidence.
#[derive(Debug, Clone)]
pub struct HoldDetail {
    pub hold: Hold,
    pub held: StoredOrder,
    /// The earlier order (for a blacklisted customer's hold: the order the entry was made from).
    pub original: StoredOrder,
    /// The buyer's notice and reminder, and the staff's mails about this hold, as recorded.
    pub notices: Vec<Notice>,
    pub actions: Vec<MallAction>,
    pub history: Vec<HistoryEntry>,
    /// The customer's other open orders to the held order's recipient (see [`Mallguard::related_orders`]).
    pub related: Vec<StoredOrder>,
    /// 同梱候補 under the held order's shop's bundling: the open orders among the held, the earlier and the
    /// related ones that ship together to the held order's address; empty when the shop does not bundle.
    pub bundle_candidates: Vec<crate::ids::OrderRef>,
    /// Every distinct page the buyer was shown for this hold, as served (see [`crate::history::KeptPage`]).
    pub pages: Vec<crate::history::KeptPage>,
}

/// The longest note kept on a hold.
pub const MAX_NOTE_CHARS: usize = 1000;

/// What adding an order's customer to the blacklist did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blacklisting {
    Added(BlacklistEntry),
    /// The customer of this order was on the blacklist already: nothing changed.
    AlreadyListed(BlacklistEntry),
}

/// Why a staff request was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The order carries no phone, mail address or address: there is nothing to recognise its customer by.
    #[error("order {0} has no phone, mail address or address to recognise its customer by")]
    NothingToMatch(OrderRef),
    #[error("no blacklist entry {0}")]
    NoSuchEntry(BlacklistId),
    #[error("a reason is needed")]
    NoReason,
    #[error("the note is empty")]
    EmptyNote,
    /// The sign-in link was used before.
    #[error("this sign-in link was used already")]
    SignInUsed,
}

impl Mallguard {
    /// Puts the customer of `order` on the blacklist: their later orders on any mall are held for the
    /// staff, without a mail to the buyer. Recorded in the order's evidence with who did it.
    pub async fn add_to_blacklist(&self, order: &OrderRef, reason: &str, by: &str) -> Result<Blacklisting, StaffError> {
        let reason = clean_reason(reason);
        if reason.is_empty() {
            return Err(StaffError::NoReason);
        }
        let stored = self.load_order(order).await?;
        if stored.identity.keys.is_empty() {
            return Err(StaffError::NothingToMatch(order.clone()));
        }
        let id = BlacklistId::for_order(order);
        if let Some(entry) = self.store.blacklist_entry(&id).await.map_err(ServiceError::from)? {
            return Ok(Blacklisting::AlreadyListed(entry));
        }
        let now = self.clock.now();
        let entry = BlacklistEntry {
            id: id.clone(),
            order: order.clone(),
            number: stored.order.number.clone(),
            keys: stored.identity.keys.clone(),
            reason: reason.clone(),
            added_by: by.to_owned(),
            added_at: now,
        };
        // The customer's heads are bumped with the entry: an order of theirs being decided right now
        // conflicts, decides again, and sees the marks.
        for _ in 0..super::MAX_ATTEMPTS {
            let heads = self
                .store
                .ingest_snapshot(order, &entry.keys, now, now)
                .await
                .map_err(ServiceError::from)?
                .heads;
            let batch = WriteBatch {
                heads,
                blacklist: vec![BlacklistWrite::Add(entry.clone())],
                history: vec![HistoryEntry::new(
                    order,
                    now,
                    Event::Blacklisted {
                        entry: id.clone(),
                        by: by.to_owned(),
                        reason: reason.clone(),
                    },
                )],
                ..WriteBatch::default()
            };
            match self.store.commit(batch).await {
                Ok(()) => {
                    tracing::info!(order = %order, entry = %entry.id, "customer put on the blacklist");
                    return Ok(Blacklisting::Added(entry));
                }
                Err(CommitError::Conflict) => continue,
                Err(CommitError::Store(err)) => return Err(ServiceError::from(err).into()),
            }
        }
        Err(ServiceError::Contention.into())
    }

    /// Takes an entry off the blacklist; recorded in the evidence of the order it was made from.
    pub async fn remove_from_blacklist(&self, id: &BlacklistId, by: &str) -> Result<BlacklistEntry, StaffError> {
        let entry = self
            .store
            .blacklist_entry(id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| StaffError::NoSuchEntry(id.clone()))?;
        let now = self.clock.now();
        let batch = WriteBatch {
            blacklist: vec![BlacklistWrite::Remove(entry.clone())],
            history: vec![HistoryEntry::new(
                &entry.order,
                now,
                Event::BlacklistRemoved {
                    entry: id.clone(),
                    by: by.to_owned(),
                },
            )],
            ..WriteBatch::default()
        };
        self.store.commit(batch).await.map_err(commit_error)?;
        tracing::info!(entry = %id, "blacklist entry removed");
        Ok(entry)
    }

    /// The blacklist, newest first.
    pub async fn blacklist(&self) -> Result<Vec<BlacklistEntry>, ServiceError> {
        Ok(self.store.blacklist().await?)
    }

    /// A staff member's note on a hold ("phoned the buyer: …"), kept in the held order's evidence.
    pub async fn note_on_hold(&self, id: &HoldId, note: &str, by: &str) -> Result<(), StaffError> {
        let note: String = note
            .trim()
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(MAX_NOTE_CHARS)
            .collect();
        if note.is_empty() {
            return Err(StaffError::EmptyNote);
        }
        let hold = self
            .store
            .hold(id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::HoldNotFound(id.clone()))?;
        let now = self.clock.now();
        let batch = WriteBatch {
            history: vec![HistoryEntry::new(
                &hold.order,
                now,
                Event::StaffNote {
                    hold: id.clone(),
                    by: by.to_owned(),
                    note,
                },
            )],
            ..WriteBatch::default()
        };
        self.store.commit(batch).await.map_err(commit_error)?;
        Ok(())
    }

    /// One hold as the staff's console shows it.
    pub async fn hold_detail(&self, id: &HoldId) -> Result<HoldDetail, ServiceError> {
        let hold = self
            .store
            .hold(id)
            .await?
            .ok_or_else(|| ServiceError::HoldNotFound(id.clone()))?;
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?;
        let mut notices = vec![];
        for kind in [
            NoticeKind::Notice,
            NoticeKind::Reminder,
            NoticeKind::Receipt,
            NoticeKind::Cancellation,
            NoticeKind::StaffNewHold,
            NoticeKind::StaffUndeliverable,
        ] {
            if let Some(notice) = self.store.notice(&NoticeId::for_hold(id, kind)).await? {
                notices.push(notice);
            }
        }
        let mut actions = vec![];
        for kind in [ActionKind::Hold, ActionKind::Release, ActionKind::Cancel] {
            if let Some(action) = self.store.action(&ActionId::for_hold(id, kind)).await? {
                actions.push(action);
            }
        }
        let history = self.store.history(&hold.order).await?;
        let pages = self.store.pages(id).await?;
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let related = this.related_orders(&held, &hold.original, None).await?;
        let group: Vec<&crate::order::Order> = [&original.order, &held.order]
            .into_iter()
            .chain(related.iter().map(|r| &r.order))
            .collect();
        let bundle_candidates = crate::bundle::bundle_candidates(&held.order, &group, &this.settings.policy.bundling)
            .into_iter()
            .map(|o| o.order_ref.clone())
            .collect();
        Ok(HoldDetail {
            hold,
            held,
            original,
            notices,
            actions,
            history,
            related,
            bundle_candidates,
            pages,
        })
    }

    /// Mails a staff member the link that signs them in (built by the console: it knows its address).
    /// Sent at once, not through the outbox: a link that does not arrive is asked for again.
    pub async fn mail_sign_in_link(&self, to: &EmailAddress, link: &str, lang: Language) -> Result<(), MailError> {
        let shop = &self.settings.shop.name;
        let (subject, text) = match lang {
            Language::Ja => (
                format!("【{shop}】mallguard コンソールへのサインイン"),
                format!(
                    "mallguard コンソールへのサインインが要求されました。\n\n次のリンクを開き、「サインイン」を押してください（15分間、1回だけ有効）。\n\n{link}\n\n心当たりがない場合は、このメールを破棄してください。リンクを開かなければ何も起こりません。\n"
                ),
            ),
            Language::En => (
                format!("[{shop}] Sign in to the mallguard console"),
                format!(
                    "Someone asked to sign in to the mallguard console with this address.\n\nOpen this link and press \"Sign in\" (valid for 15 minutes, once):\n\n{link}\n\nIf it was not you, delete this mail: nothing happens unless the link is used.\n"
                ),
            ),
        };
        let mail = Mail {
            to: to.clone(),
            subject,
            text,
            html: None,
            tags: vec![("kind".into(), "staff_sign_in".into())],
        };
        // Bounded like every send inside a request: a mail service that does not answer leaves the page
        // saying so, not hanging.
        match tokio::time::timeout(super::REQUEST_SEND_BUDGET, self.mailer.send(&mail)).await {
            Ok(sent) => sent.map(|_| ()),
            Err(_) => Err(MailError::Transient(format!(
                "the mail service did not answer within {} ms",
                super::REQUEST_SEND_BUDGET.as_millis()
            ))),
        }
    }

    /// Records that a sign-in link was used; refused when it was used before. The link's signature and
    /// expiry are the caller's to check first.
    pub async fn use_sign_in(&self, used: UsedSignIn) -> Result<(), StaffError> {
        let batch = WriteBatch {
            sign_ins: vec![used],
            ..WriteBatch::default()
        };
        match self.store.commit(batch).await {
            Ok(()) => Ok(()),
            Err(CommitError::Conflict) => Err(StaffError::SignInUsed),
            Err(CommitError::Store(err)) => Err(ServiceError::from(err).into()),
        }
    }
}

fn commit_error(err: CommitError) -> StaffError {
    match err {
        // The blacklist and notes are written unconditionally: a conflict would be a store's bug.
        CommitError::Conflict => StaffError::Service(ServiceError::Contention),
        CommitError::Store(err) => StaffError::Service(err.into()),
    }
}
