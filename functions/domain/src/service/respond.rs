//! The buyer's page behind a notice link, and settling a hold by the buyer or the staff.
//! Viewing never changes a hold: mail scanners and link previewers open links too.

use super::{MAX_ATTEMPTS, Mallguard, ServiceError, Settlement, Settling};
use crate::history::{Event, HistoryEntry};
use crate::hold::{Decision, Hold, Resolver};
use crate::ids::HoldId;
use crate::order::Order;
use crate::ports::{CommitError, WriteBatch};
use crate::token::{LinkAction, LinkToken, TokenError};

/// What the buyer's page shows.
#[derive(Debug, Clone)]
pub struct HoldPage {
    /// The shop the buyer ordered from, as its settings name it: the page's header and contact.
    pub shop: crate::policy::ShopProfile,
    pub hold: Hold,
    pub held: Order,
    pub original: Order,
    /// The action of the link that was opened.
    pub action: LinkAction,
    /// Tokens for the two buttons, while the hold can still be answered through this link.
    pub confirm_token: Option<String>,
    pub cancel_token: Option<String>,
    /// The link is past its expiry: the page shows the outcome and how to reach the shop.
    pub expired: bool,
    /// For a cancelled hold whose order mallguard cancels at the mall: how far that is (pending, done,
    /// refused), so the page says only what really happened.
    pub mall_cancel: Option<crate::action::ActionState>,
    /// A cancelled hold whose order mallguard does not cancel at the mall (the own store, a relay, a shop
    /// without credentials): the staff do it by hand, and until then it is only in progress.
    pub cancel_by_hand: bool,
    /// The buyer's other open orders to the held order's recipient (関連するご注文), oldest first: the page
    /// shows everything the buyer ordered, and after an answer what will arrive.
    pub related: Vec<Order>,
    /// The shop's bundling (同梱) and product map, to say in how many parcels it arrives.
    pub bundling: crate::bundle::Bundling,
    pub products: crate::identity::ProductMap,
}

impl HoldPage {
    /// The related orders and the shop's bundling, as the mails take them.
    pub fn group(&self) -> crate::notice::OrderGroup<'_> {
        crate::notice::OrderGroup {
            related: &self.related,
            bundling: &self.bundling,
            products: &self.products,
        }
    }
}

/// What a page was rendered from besides the hold: the version of the page templates and the language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMeta {
    pub template: String,
    pub lang: crate::Language,
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The result of pressing a button.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This press settled the hold.
    Done(HoldPage),
    /// Somebody (an earlier press, the staff, the deadline) settled it first; the page shows how.
    AlreadySettled(HoldPage),
    /// The link expired before it was used.
    Expired(HoldPage),
}

impl Mallguard {
    fn verify_link(&self, token: &str) -> Result<(LinkToken, bool), ServiceError> {
        match self.settings.signer.verify(token, self.clock.now()) {
            Ok(token) => Ok((token, false)),
            Err(TokenError::Expired { token }) => Ok((*token, true)),
            Err(TokenError::Invalid) => Err(ServiceError::InvalidLink),
        }
    }

    async fn page(&self, token: &LinkToken, hold: Hold, expired: bool) -> Result<HoldPage, ServiceError> {
        let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
        let shop = this.settings.shop.clone();
        let held = self.load_order(&hold.order).await?;
        let original = self.load_order(&hold.original).await?.order;
        // A blacklisted customer's hold is the staff's alone: the buyer was never sent its link.
        let related = if hold.blacklisted.is_none() {
            this.related_orders(&held, &hold.original, None).await?
        } else {
            vec![]
        };
        let held = held.order;
        // An unsettled hold can be answered until its link expires, also past the deadline when it waits
        // for the staff (an Amazon order is cancelled only on the buyer's word).
        let open = hold.state == crate::hold::HoldState::Held && !expired;
        let acts = self.acts(&hold, crate::action::ActionKind::Cancel);
        let cancel_by_hand = hold.cancelled_by_hand(acts);
        let mall_cancel = if hold.state == crate::hold::HoldState::Cancelled && acts {
            let id = crate::action::ActionId::for_hold(&hold.id, crate::action::ActionKind::Cancel);
            self.store.action(&id).await?.map(|action| action.state)
        } else {
            None
        };
        let sign = |action| {
            open.then(|| {
                self.settings
                    .signer
                    .sign(&hold.id, action, token.expires_at)
                    .to_string()
            })
        };
        Ok(HoldPage {
            shop,
            confirm_token: sign(LinkAction::Confirm),
            cancel_token: sign(LinkAction::Cancel),
            action: token.action,
            hold,
            held,
            original,
            expired,
            mall_cancel,
            cancel_by_hand,
            related: related.into_iter().map(|r| r.order).collect(),
            bundling: this.settings.policy.bundling.clone(),
            products: this.settings.products.clone(),
        })
    }

    pub(super) async fn load_hold(&self, id: &HoldId) -> Result<Hold, ServiceError> {
        self.store
            .hold(id)
            .await?
            .ok_or_else(|| ServiceError::HoldNotFound(id.clone()))
    }

    /// The page behind a link (GET). Changes no hold; the opening is noted in the evidence.
    pub async fn view(&self, token: &str) -> Result<HoldPage, ServiceError> {
        let (page, _) = self.view_rendered(token, |_| Err::<(String, PageMeta), ()>(())).await?;
        Ok(page)
    }

    /// The page behind a link (GET), rendered by `render` into its HTML with the page templates' version
    /// and language; the opening is noted in the evidence with the SHA-256 of exactly that HTML, so what the
    /// buyer was shown is proven as the mails are. Changes no hold.
    pub async fn view_rendered<E>(
        &self,
        token: &str,
        render: impl FnOnce(&HoldPage) -> Result<(String, PageMeta), E>,
    ) -> Result<(HoldPage, Result<String, E>), ServiceError> {
        let (token, expired) = self.verify_link(token)?;
        let hold = self.load_hold(&token.hold).await?;
        let page = self.page(&token, hold, expired).await?;
        let rendered = render(&page);
        if !expired {
            let shown = rendered.as_ref().ok().map(|(html, meta)| crate::history::PageShown {
                digest: sha256_hex(html.as_bytes()),
                template: meta.template.clone(),
                lang: meta.lang,
            });
            let mut batch = WriteBatch::default();
            // The page itself is kept once per digest: a reload of the same page writes only its opening.
            if let (Some(shown), Ok((html, _))) = (&shown, &rendered) {
                let kept = if html.len() > crate::history::KeptPage::MAX_HTML_BYTES {
                    tracing::warn!(hold = %page.hold.id, bytes = html.len(), "a page too large to keep: its digest only");
                    true
                } else {
                    self.store
                        .page_kept(&page.hold.id, &shown.digest)
                        .await
                        .unwrap_or_else(|err| {
                            tracing::warn!(hold = %page.hold.id, error = %err, "could not tell whether the page is kept");
                            false
                        })
                };
                if !kept {
                    batch.pages.push(crate::history::KeptPage {
                        hold: page.hold.id.clone(),
                        order: page.hold.order.clone(),
                        shown_at: self.clock.now(),
                        shown: shown.clone(),
                        html: html.clone(),
                    });
                }
            }
            let event = Event::PageOpened {
                hold: page.hold.id.clone(),
                page: shown,
            };
            batch
                .history
                .push(HistoryEntry::new(&page.hold.order, self.clock.now(), event));
            if let Err(err) = self.store.commit(batch).await {
                tracing::warn!(hold = %page.hold.id, error = %err, "could not note the page opening");
            }
        }
        Ok((page, rendered.map(|(html, _)| html)))
    }

    /// Performs the link's action (POST), once. A second press, or one after the staff or the deadline
    /// settled the hold, shows the outcome.
    pub async fn answer(&self, token: &str) -> Result<Answer, ServiceError> {
        let (token, expired) = self.verify_link(token)?;
        if expired {
            let hold = self.load_hold(&token.hold).await?;
            return Ok(Answer::Expired(self.page(&token, hold, true).await?));
        }
        let outcome = self
            .decide(&token.hold, token.action.decision(), Resolver::Buyer)
            .await?;
        Ok(match outcome {
            Settlement::Settled(hold) => Answer::Done(self.page(&token, hold, false).await?),
            Settlement::AlreadySettled(hold) => Answer::AlreadySettled(self.page(&token, hold, false).await?),
        })
    }

    /// Staff settle a hold, e.g. after a phone call.
    pub async fn resolve(&self, id: &HoldId, decision: Decision, staff: &str) -> Result<Settlement, ServiceError> {
        self.decide(id, decision, Resolver::Staff { name: staff.to_owned() })
            .await
    }

    /// Settles a hold under its version; on a conflict re-reads, so two racing decisions give one
    /// outcome and the loser learns it.
    pub(super) async fn decide(
        &self,
        id: &HoldId,
        decision: Decision,
        by: Resolver,
    ) -> Result<Settlement, ServiceError> {
        // The buyer's browser (or the staff) waits: every send and mall action shares one budget from here.
        let within = super::Within::request();
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let hold = self.load_hold(id).await?;
            // What the mails say, and to whom the staff's go, is the held order's shop's.
            let this = self.in_shop(hold.order.mall, &hold.order.shop).await;
            let held = self.load_order(&hold.order).await?;
            let original = self.load_order(&hold.original).await?;
            // The receipt says what arrives: the buyer's other open orders are read for it (not for a hold
            // already settled, nor a blacklisted customer's, whom nobody mails).
            let related = if hold.state == crate::hold::HoldState::Held && hold.blacklisted.is_none() {
                this.related_orders(&held, &hold.original, None).await?
            } else {
                vec![]
            };
            let mut batch = WriteBatch::default();
            let settling = Settling {
                hold: &hold,
                decision,
                by: by.clone(),
                held: &held,
                original: &original,
                related: Some(&related),
                now,
            };
            let settled = match this.settle_into(&mut batch, settling)? {
                Settlement::Settled(settled) => settled,
                Settlement::AlreadySettled(lost) => {
                    let mut late = WriteBatch::default();
                    let event = Event::LateAnswer {
                        hold: hold.id.clone(),
                        decision,
                        state: lost.state,
                        by,
                    };
                    late.history.push(HistoryEntry::new(&hold.order, now, event));
                    if let Err(err) = self.store.commit(late).await {
                        tracing::warn!(hold = %hold.id, error = %err, "could not note a late answer");
                    }
                    return Ok(Settlement::AlreadySettled(lost));
                }
            };
            let notices = batch.notices.iter().map(|(n, _)| n.clone()).collect();
            let actions = super::requested(&batch);
            let known = super::act::Known::of(&batch, &[&held, &original]).with_related(&hold.id, related.clone());
            match self.store.commit(batch).await {
                Ok(()) => {
                    tracing::info!(hold = %id, state = %settled.state, by = %settled.resolution.as_ref().map(|r| r.by.to_string()).unwrap_or_default(), "hold settled");
                    self.record_settled(&settled);
                    this.deliver(notices, within).await;
                    if let Err(err) = this.perform(actions, &known, within).await {
                        tracing::warn!(hold = %id, error = %err, "a mall action's outcome could not be recorded; the sweep retries it");
                    }
                    return Ok(Settlement::Settled(settled));
                }
                Err(CommitError::Conflict) => continue,
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
        }
        Err(ServiceError::Contention)
    }
}
