//! Ingest one order: record it, match it, hold a suspected duplicate and queue its notices, in one
//! atomic write conditioned on the head versions of the customer's identity keys.

use jiff::Timestamp;

use super::{MAX_ATTEMPTS, Mallguard, ServiceError, Settling, index_entries, queue, requested};
use crate::action::ActionKind;
use crate::blacklist::BlacklistMark;
use crate::history::{Event, HistoryEntry};
use crate::hold::{ContactRules, Decision, Hold, HoldState, OrderNumbers, Resolver, risk_flags};
use crate::ids::{HoldId, OrderRef};
use crate::matching::{Candidate, find_duplicate};
use crate::notice::{Notice, NoticeKind};
use crate::order::{Order, OrderStatus, PayloadDigest};
use crate::ports::{CommitError, Expect, IngestSnapshot, Metric, StoredOrder, WebhookDelivery, WriteBatch};

/// An order as a mall delivered it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub order: Order,
    /// The exact bytes received.
    pub raw: Vec<u8>,
    /// The webhook's delivery id, when the mall sends one.
    pub delivery: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Recorded; no suspected duplicate.
    Accepted,
    /// Recorded and held as a suspected duplicate; `notified` when the buyer notice went out now.
    Held { hold: HoldId, notified: bool },
    /// Seen before and unchanged: nothing written.
    Redelivered,
    /// A later notification changed the order's status at the mall.
    Updated { status: OrderStatus },
}

struct Plan {
    batch: WriteBatch,
    notices: Vec<Notice>,
    outcome: IngestOutcome,
}

impl Mallguard {
    /// Records `incoming` and decides whether it is a suspected duplicate. Safe to call concurrently
    /// with copies of the same order or with other orders of the same customer: exactly one decision
    /// wins per customer at a time, and a loser re-reads and decides again.
    pub async fn ingest(&self, incoming: Incoming) -> Result<IngestOutcome, ServiceError> {
        let order = &incoming.order.order_ref;
        // The answer time, the cut-off, the window and what the mails say are the order's shop's.
        self.in_shop(order.mall, &order.shop)
            .await
            .ingest_in_shop(incoming)
            .await
    }

    async fn ingest_in_shop(&self, incoming: Incoming) -> Result<IngestOutcome, ServiceError> {
        // Every send and mall action of this request shares one budget from here: the mall is waiting.
        let within = super::Within::request();
        let digest = PayloadDigest::of(&incoming.raw);
        let settings = &self.settings;
        let identity = settings.hasher.order_identity(&incoming.order);
        let products = settings.products.products_of(&incoming.order);
        let window = settings.policy.window;
        let placed = incoming.order.placed_at;
        let from = placed.saturating_sub(window).unwrap_or(placed);
        let to = placed.saturating_add(window).unwrap_or(placed);
        for attempt in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let mut snapshot = if attempt == 0 {
                let (seen, snapshot) = self
                    .store
                    .delivery_and_snapshot(
                        incoming.delivery.as_deref(),
                        &digest,
                        &incoming.order.order_ref,
                        &identity.keys,
                        from,
                        to,
                    )
                    .await?;
                let Some(snapshot) = snapshot else {
                    return Ok(IngestOutcome::Redelivered);
                };
                // The same id with another body is not a retry: processing it as new loses nothing (the
                // order itself is idempotent by its mall, shop and id), dropping it could lose an order.
                if seen.is_some() {
                    tracing::warn!(
                        delivery = incoming.delivery.as_deref().unwrap_or_default(),
                        "a delivery id seen before came with a different payload: processed as new"
                    );
                }
                snapshot
            } else {
                self.store
                    .ingest_snapshot(&incoming.order.order_ref, &identity.keys, from, to)
                    .await?
            };
            // A store may find a stored copy through the index entries alone (a redelivery shares its keys
            // and time). After a lost race, or for an order with no identity keys, ask for it directly.
            if snapshot.existing.is_none() && (attempt > 0 || identity.keys.is_empty()) {
                snapshot.existing = self.store.order(&incoming.order.order_ref).await?;
            }
            let mut plan = match &snapshot.existing {
                Some(existing) => self.plan_update(existing, &incoming, now).await?,
                None => {
                    let stored = StoredOrder {
                        order: incoming.order.clone(),
                        identity: identity.clone(),
                        products: products.clone(),
                        raw: incoming.raw.clone(),
                        received_at: now,
                        version: 1,
                        hold: None,
                        duplicates: vec![],
                    };
                    self.plan_new(stored, snapshot, now).await?
                }
            };
            if plan.batch.is_empty() {
                return Ok(plan.outcome);
            }
            plan.batch
                .deliveries
                .extend(incoming.delivery.clone().map(|id| WebhookDelivery {
                    id,
                    digest: digest.clone(),
                }));
            let settled: Vec<Hold> = plan
                .batch
                .holds
                .iter()
                .map(|(h, _)| h.clone())
                .filter(|h| h.state != HoldState::Held)
                .collect();
            let actions = requested(&plan.batch);
            let known = super::act::Known::of(&plan.batch, &[]);
            match self.store.commit(plan.batch).await {
                Ok(()) => {
                    settled.iter().for_each(|h| self.record_settled(h));
                    match &plan.outcome {
                        IngestOutcome::Accepted => self.metrics.record(Metric::OrderReceived, 1),
                        IngestOutcome::Held { .. } => {
                            self.metrics.record(Metric::OrderReceived, 1);
                            self.metrics.record(Metric::DuplicateHeld, 1);
                        }
                        IngestOutcome::Redelivered | IngestOutcome::Updated { .. } => {}
                    }
                    let (sent, _) = self.deliver(plan.notices, within).await;
                    // The mall is asked after the buyer is mailed: the notice is what must go out in seconds.
                    if let Err(err) = self.perform(actions, &known, within).await {
                        tracing::warn!(error = %err, "a mall action's outcome could not be recorded; the sweep retries it");
                    }
                    let outcome = match plan.outcome {
                        IngestOutcome::Held { hold, .. } => IngestOutcome::Held {
                            hold,
                            notified: sent.contains(&NoticeKind::Notice),
                        },
                        other => other,
                    };
                    tracing::info!(order = %incoming.order.order_ref, ?outcome, attempt, "order ingested");
                    return Ok(outcome);
                }
                Err(CommitError::Conflict) => {
                    tracing::debug!(order = %incoming.order.order_ref, attempt, "concurrent writer; deciding again");
                }
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
        }
        Err(ServiceError::Contention)
    }

    /// A new order: record it, and hold it when it duplicates an earlier one.
    async fn plan_new(
        &self,
        mut stored: StoredOrder,
        snapshot: IngestSnapshot,
        now: Timestamp,
    ) -> Result<Plan, ServiceError> {
        let order = stored.order.clone();
        let mut batch = WriteBatch {
            heads: snapshot.heads,
            ..WriteBatch::default()
        };
        batch.history.push(HistoryEntry::new(
            &order.order_ref,
            now,
            Event::Received {
                digest: order.payload_digest.clone(),
                status: order.status,
            },
        ));
        let candidate = Candidate {
            order: &order.order_ref,
            placed_at: order.placed_at,
            keys: &stored.identity.keys,
            products: &stored.products,
            recipient: &stored.identity.recipient,
        };
        if order.status == OrderStatus::Open
            && let Some(mark) = snapshot.blacklisted.first()
        {
            let mark = mark.clone();
            let marks = snapshot.blacklisted.clone();
            return self.plan_blacklisted(stored, batch, mark, &marks, now).await;
        }
        // Only an open order can be a duplicate: one that arrives already cancelled or shipped is recorded.
        let duplicate = (order.status == OrderStatus::Open)
            .then(|| find_duplicate(candidate, &snapshot.entries, self.settings.policy.window))
            .flatten();
        let (original, via) = match &duplicate {
            Some(dup) => match self.store.order(&dup.original).await? {
                Some(matched) => {
                    let (first, via) = self.first_of_chain(matched).await?;
                    (Some(first), via)
                }
                None => (None, None),
            },
            None => (None, None),
        };
        let (Some(mut dup), Some(mut original)) = (duplicate, original) else {
            batch.index.extend(index_entries(&stored));
            batch.orders.push((stored, Expect::Absent));
            return Ok(Plan {
                batch,
                notices: vec![],
                outcome: IngestOutcome::Accepted,
            });
        };

        dup.original = original.order.order_ref.clone();
        dup.original_placed_at = original.order.placed_at;
        let deadline = self.settings.policy.deadline(&order, now);
        let hold = Hold {
            id: HoldId::for_order(&order.order_ref),
            order: order.order_ref.clone(),
            original: dup.original.clone(),
            numbers: OrderNumbers {
                held: order.number.clone(),
                original: original.order.number.clone(),
            },
            state: HoldState::Held,
            version: 1,
            created_at: now,
            deadline: deadline.at,
            remind_at: deadline.remind_at,
            urgent: deadline.urgent,
            shared_keys: dup.shared_keys.clone(),
            shared_products: dup.shared_products.clone(),
            risks: risk_flags(&order),
            contact: ContactRules::for_order(&order),
            amazon_fallback_case: None,
            awaiting_staff: false,
            phone_task: false,
            blacklisted: None,
            resolution: None,
            cancelled_at_mall: None,
        };
        stored.hold = Some(hold.id.clone());
        let expected_original = original.version;
        original.duplicates.push(hold.id.clone());
        original.version += 1;

        batch.history.push(HistoryEntry::new(
            &order.order_ref,
            now,
            Event::Matched {
                with: dup.original.clone(),
                keys: dup.shared_keys,
                products: dup.shared_products,
                via,
                with_number: original.order.number.clone(),
            },
        ));
        batch.history.push(HistoryEntry::new(
            &dup.original,
            now,
            Event::DuplicateReceived {
                held: order.order_ref.clone(),
                hold: hold.id.clone(),
                held_number: order.number.clone(),
            },
        ));
        batch.history.push(HistoryEntry::new(
            &order.order_ref,
            now,
            Event::Held {
                hold: hold.id.clone(),
                deadline: hold.deadline,
                urgent: hold.urgent,
            },
        ));
        // The buyer's other open orders, from the index entries this decision read anyway: a read per
        // related order, only when a hold is made and the buyer has any.
        let related = self
            .related_orders(&stored, &original.order.order_ref, Some(&snapshot.entries))
            .await?;
        let mut notices = vec![];
        for kind in [NoticeKind::Notice, NoticeKind::StaffNewHold] {
            let at_mall = self.asked_of_mall(&hold);
            if let Some(mut notice) =
                self.hold_notice_with(kind, &hold, &stored, &original, at_mall, None, Some(&related), now)?
            {
                match deadline.send_at {
                    // Quiet hours of a carrier address: the sweep sends it when they end.
                    Some(send_at) if kind == NoticeKind::Notice => {
                        notice.next_attempt_at = send_at;
                        notice.leased_until = None;
                        queue(&mut batch, notice, now);
                    }
                    _ => notices.push(notice),
                }
            }
        }
        batch.holds.push((hold.clone(), Expect::Absent));
        for notice in &notices {
            queue(&mut batch, notice.clone(), now);
        }
        if self.acts(&hold, ActionKind::Hold) {
            self.ask_mall(&mut batch, ActionKind::Hold, &hold, vec![], now);
        }
        batch.index.extend(index_entries(&stored));
        batch.orders.push((stored, Expect::Absent));
        batch.orders.push((original, Expect::Version(expected_original)));
        tracing::info!(order = %order.order_ref, hold = %hold.id, urgent = hold.urgent, "suspected duplicate held");
        Ok(Plan {
            batch,
            notices,
            outcome: IngestOutcome::Held {
                hold: hold.id,
                notified: false,
            },
        })
    }

    /// A new open order of a blacklisted customer: held for the staff's review, the mall asked to hold it,
    /// the staff told, the buyer not mailed, and no deadline set to cancel it. It takes priority over a
    /// duplicate: the staff decide about both.
    async fn plan_blacklisted(
        &self,
        mut stored: StoredOrder,
        mut batch: WriteBatch,
        mark: BlacklistMark,
        marks: &[BlacklistMark],
        now: Timestamp,
    ) -> Result<Plan, ServiceError> {
        let order = stored.order.clone();
        // The order the entry was made from stands as the hold's other order; if it is gone (retention),
        // the held order stands for itself.
        let original = match self.store.order(&mark.order).await? {
            Some(original) if original.order.order_ref != order.order_ref => original,
            _ => stored.clone(),
        };
        let mut keys: Vec<_> = marks
            .iter()
            .filter(|m| m.entry == mark.entry)
            .map(|m| m.key.kind())
            .collect();
        keys.sort();
        keys.dedup();
        let deadline = self.settings.policy.deadline(&order, now);
        let hold = Hold {
            id: HoldId::for_order(&order.order_ref),
            order: order.order_ref.clone(),
            original: original.order.order_ref.clone(),
            numbers: OrderNumbers {
                held: order.number.clone(),
                original: original.order.number.clone(),
            },
            state: HoldState::Held,
            version: 1,
            created_at: now,
            deadline: deadline.at,
            remind_at: None,
            urgent: deadline.urgent,
            shared_keys: keys.clone(),
            shared_products: vec![],
            risks: risk_flags(&order),
            contact: ContactRules::for_order(&order),
            amazon_fallback_case: None,
            awaiting_staff: true,
            phone_task: false,
            blacklisted: Some(mark.entry.clone()),
            resolution: None,
            cancelled_at_mall: None,
        };
        stored.hold = Some(hold.id.clone());
        batch.history.push(HistoryEntry::new(
            &order.order_ref,
            now,
            Event::BlacklistMatched {
                entry: mark.entry.clone(),
                with: mark.order.clone(),
                keys,
            },
        ));
        batch.history.push(HistoryEntry::new(
            &order.order_ref,
            now,
            Event::Held {
                hold: hold.id.clone(),
                deadline: hold.deadline,
                urgent: hold.urgent,
            },
        ));
        let mut notices = vec![];
        if let Some(notice) = self.hold_notice(NoticeKind::StaffNewHold, &hold, &stored, &original, now)? {
            notices.push(notice);
        }
        batch.holds.push((hold.clone(), Expect::Absent));
        for notice in &notices {
            queue(&mut batch, notice.clone(), now);
        }
        if self.acts(&hold, ActionKind::Hold) {
            self.ask_mall(&mut batch, ActionKind::Hold, &hold, vec![], now);
        }
        batch.index.extend(index_entries(&stored));
        batch.orders.push((stored, Expect::Absent));
        tracing::info!(order = %order.order_ref, hold = %hold.id, entry = %mark.entry, "blacklisted customer held for the staff");
        Ok(Plan {
            batch,
            notices,
            outcome: IngestOutcome::Held {
                hold: hold.id,
                notified: false,
            },
        })
    }

    /// The mall began or ended screening the order: recorded on it, in its evidence, and in the risks of
    /// its open hold.
    async fn plan_screening(
        &self,
        existing: &StoredOrder,
        incoming: &Incoming,
        now: Timestamp,
    ) -> Result<Plan, ServiceError> {
        let mut batch = WriteBatch::default();
        let mut updated = existing.clone();
        updated.order.screened_by_mall = incoming.order.screened_by_mall;
        updated.version += 1;
        batch.history.push(HistoryEntry::new(
            &existing.order.order_ref,
            now,
            Event::ScreeningChanged {
                screened: updated.order.screened_by_mall,
                digest: PayloadDigest::of(&incoming.raw),
            },
        ));
        batch.orders.push((updated.clone(), Expect::Version(existing.version)));
        if let Some(hold) = self.open_hold(existing.hold.as_ref()).await? {
            let mut refreshed = hold.clone();
            refreshed.risks = risk_flags(&updated.order);
            refreshed.version += 1;
            batch.holds.push((refreshed, Expect::Version(hold.version)));
        }
        Ok(Plan {
            batch,
            notices: vec![],
            outcome: IngestOutcome::Updated {
                status: updated.order.status,
            },
        })
    }

    /// An order seen before. An unchanged status writes nothing (unless the mall's screening changed); a
    /// cancellation at the mall settles the holds it takes part in.
    async fn plan_update(
        &self,
        existing: &StoredOrder,
        incoming: &Incoming,
        now: Timestamp,
    ) -> Result<Plan, ServiceError> {
        let new_status = incoming.order.status;
        let old_status = existing.order.status;
        let nothing = Plan {
            batch: WriteBatch::default(),
            notices: vec![],
            outcome: IngestOutcome::Redelivered,
        };
        // The mall reports cancelled an order mallguard marked cancelled where it does not cancel at the mall:
        // the staff cancelled it there by hand, and the cancellation is no longer in progress.
        if new_status == OrderStatus::Cancelled && old_status == OrderStatus::Cancelled {
            return self.cancelled_by_hand_at_mall(existing, now).await;
        }
        // A status never goes back to open; a mall that re-sends an old state changes nothing, except the
        // mall's own fraud screening starting or ending, which the staff see beside the hold.
        if new_status == old_status || new_status == OrderStatus::Open {
            if incoming.order.screened_by_mall == existing.order.screened_by_mall {
                return Ok(nothing);
            }
            return self.plan_screening(existing, incoming, now).await;
        }
        let mut batch = WriteBatch::default();
        let mut updated = existing.clone();
        updated.order.status = new_status;
        updated.version += 1;
        let digest = PayloadDigest::of(&incoming.raw);
        // The mall's screening may end (or start) with the same change.
        if incoming.order.screened_by_mall != existing.order.screened_by_mall {
            updated.order.screened_by_mall = incoming.order.screened_by_mall;
            batch.history.push(HistoryEntry::new(
                &existing.order.order_ref,
                now,
                Event::ScreeningChanged {
                    screened: updated.order.screened_by_mall,
                    digest: digest.clone(),
                },
            ));
        }
        batch.history.push(HistoryEntry::new(
            &existing.order.order_ref,
            now,
            Event::StatusChanged {
                from: old_status,
                to: new_status,
                digest,
            },
        ));
        batch.index.extend(index_entries(&updated));
        batch.orders.push((updated.clone(), Expect::Version(existing.version)));

        let mut notices = vec![];
        if new_status == OrderStatus::Cancelled {
            // This order was held: the buyer cancelled it at the mall, which settles the hold.
            if let Some(hold) = self.open_hold(existing.hold.as_ref()).await? {
                let original = self.load_order(&hold.original).await?;
                self.settle_into(
                    &mut batch,
                    Settling {
                        hold: &hold,
                        decision: Decision::Cancel,
                        by: Resolver::Mall,
                        held: &updated,
                        original: &original,
                        related: None,
                        now,
                    },
                )?;
            }
            // Later orders held as duplicates of this one are no longer duplicates: ship them.
            for id in &existing.duplicates {
                if let Some(hold) = self.open_hold(Some(id)).await? {
                    let held = self.load_order(&hold.order).await?;
                    self.settle_into(
                        &mut batch,
                        Settling {
                            hold: &hold,
                            decision: Decision::Release,
                            by: Resolver::Mall,
                            held: &held,
                            original: &updated,
                            related: None,
                            now,
                        },
                    )?;
                }
            }
        }
        if new_status == OrderStatus::Shipped {
            // The mall shipped the held order before anybody answered: what the mall reports wins. The
            // hold is settled as shipped, nothing is cancelled, and the staff are told.
            if let Some(hold) = self.open_hold(existing.hold.as_ref()).await? {
                let original = self.load_order(&hold.original).await?;
                self.settle_into(
                    &mut batch,
                    Settling {
                        hold: &hold,
                        decision: Decision::Shipped,
                        by: Resolver::Mall,
                        held: &updated,
                        original: &original,
                        related: None,
                        now,
                    },
                )?;
            }
        }
        notices.extend(batch.notices.iter().map(|(n, _)| n.clone()));
        Ok(Plan {
            batch,
            notices,
            outcome: IngestOutcome::Updated { status: new_status },
        })
    }

    /// The plan for a cancelled order the mall reports cancelled: when mallguard cancelled its hold without
    /// acting at the mall and has not heard of it since, the hold notes that the mall has it cancelled now
    /// (one read of the hold, only then); otherwise nothing.
    async fn cancelled_by_hand_at_mall(&self, existing: &StoredOrder, now: Timestamp) -> Result<Plan, ServiceError> {
        let mut plan = Plan {
            batch: WriteBatch::default(),
            notices: vec![],
            outcome: IngestOutcome::Redelivered,
        };
        let order = &existing.order.order_ref;
        let Some(id) = &existing.hold else {
            return Ok(plan);
        };
        if self.actions.can(order.mall, &order.shop, ActionKind::Cancel) {
            return Ok(plan);
        }
        let Some(hold) = self.store.hold(id).await? else {
            return Ok(plan);
        };
        if !hold.cancelled_by_hand(false) || &hold.order != order {
            return Ok(plan);
        }
        let noted = Hold {
            cancelled_at_mall: Some(now),
            version: hold.version + 1,
            ..hold.clone()
        };
        plan.batch.holds.push((noted, Expect::Version(hold.version)));
        plan.batch.history.push(HistoryEntry::new(
            order,
            now,
            Event::CancelledAtMall { hold: hold.id.clone() },
        ));
        plan.outcome = IngestOutcome::Updated {
            status: OrderStatus::Cancelled,
        };
        Ok(plan)
    }

    /// The order a new duplicate is held against: `matched` itself, or, when `matched` is itself held as a
    /// duplicate of an earlier order, the first order of that chain (the one that ships), with the order
    /// that was matched. A notice must not promise to ship an order that is itself on hold.
    async fn first_of_chain(&self, matched: StoredOrder) -> Result<(StoredOrder, Option<OrderRef>), ServiceError> {
        let mut current = matched;
        let mut via = None;
        // Chains are short (each link is a hold on the first order); the bound guards a corrupt loop.
        for _ in 0..8 {
            let Some(hold) = self.open_hold(current.hold.as_ref()).await? else {
                break;
            };
            let Some(first) = self.store.order(&hold.original).await? else {
                break;
            };
            if first.order.status == OrderStatus::Cancelled {
                break;
            }
            via.get_or_insert_with(|| current.order.order_ref.clone());
            current = first;
        }
        Ok((current, via))
    }

    async fn open_hold(&self, id: Option<&HoldId>) -> Result<Option<Hold>, ServiceError> {
        let Some(id) = id else { return Ok(None) };
        Ok(self.store.hold(id).await?.filter(|h| h.state == HoldState::Held))
    }
}
