//! Builders for tests: a realistic order, a shop, a hold, a clock that tests move by hand, an in-memory
//! store, a store that is down, and an order feed that answers from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::Language;
use crate::action::{ActionId, ActionState, MallAction};
use crate::feed::{FeedError, FeedOrder, FeedPage, LookedUp, OrderFeed, OrderLookup, PollCursor};
use crate::hold::{ContactRules, Hold, HoldState, OrderNumbers, risk_flags};
use crate::identity::KeyKind;
use crate::ids::{HoldId, Mall, OrderId, OrderRef, ProductKey, ShopId};
use crate::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderLine, OrderLines, OrderStatus, PayloadDigest, PaymentMethod,
    PostalAddress, Quantity,
};
use crate::policy::{Policy, ShopProfile};
use std::collections::BTreeMap;

use crate::history::HistoryEntry;
use crate::identity::{IdentityHasher, IdentityKey, ProductMap};
use crate::matching::IndexEntry;
use crate::notice::{Mail, Notice, NoticeId, NoticeState};
use crate::ports::{
    Clock, Commit, CommitError, CursorStore, Expect, Head, IngestSnapshot, IngestStore, MailError, Mailer, Quarantined,
    Records, StaffStore, StoreError, StoredOrder, SweepStore, WriteBatch,
};
use crate::service::{Incoming, Settings};
use crate::token::LinkSigner;

pub fn line(sku: &str, quantity: u32) -> OrderLine {
    OrderLine {
        product: ProductKey::parse(sku).unwrap(),
        title: format!("有機緑茶 {sku}"),
        quantity: Quantity::try_from(quantity).unwrap(),
        unit_price: Some(Money::yen(1200)),
    }
}

/// An order by 山田 太郎 for one SKU-A, placed 2026-11-23 12:00 JST on the shop's own store.
pub fn order(id: &str) -> Order {
    order_at(id, "2026-11-23T03:00:00Z")
}

pub fn order_at(id: &str, placed_at: &str) -> Order {
    Order {
        order_ref: OrderRef::new(Mall::Own, ShopId::parse("tanaka").unwrap(), OrderId::parse(id).unwrap()),
        number: None,
        placed_at: placed_at.parse().unwrap(),
        buyer: Buyer {
            name: "山田 太郎".into(),
            kana: Some("ヤマダ タロウ".into()),
            email: Some(EmailAddress::parse("taro.yamada@example.com").unwrap()),
            phone: Some("090-1234-5678".into()),
            address: None,
            language: None,
        },
        ship_to: PostalAddress {
            name: "山田 太郎".into(),
            kana: None,
            postal_code: "100-0001".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            lines: vec!["千代田1-2-3 メゾン千代田 101".into()],
            phone: Some("090-1234-5678".into()),
        },
        lines: OrderLines::parse(vec![line("SKU-A", 1)]).unwrap(),
        delivery: Delivery::default(),
        gift: false,
        payment: PaymentMethod::Card,
        status: OrderStatus::Open,
        total: Some(Money::yen(1200)),
        payload_digest: PayloadDigest::of(id.as_bytes()),
        screened_by_mall: false,
    }
}

pub fn shop() -> ShopProfile {
    ShopProfile {
        name: "田中商店".into(),
        contact_email: EmailAddress::parse("support@tanaka-shop.example").unwrap(),
        contact_phone: Some("03-1234-5678".into()),
        staff_email: EmailAddress::parse("staff@tanaka-shop.example").unwrap(),
        public_url: "http://127.0.0.1:9000".into(),
        language: Language::Ja,
    }
}

/// A fresh hold on `held` as a duplicate of `original`, noticed when `held` was placed.
pub fn hold_for(held: &Order, original: &Order) -> Hold {
    let deadline = Policy::default().deadline(held, held.placed_at);
    Hold {
        id: HoldId::for_order(&held.order_ref),
        order: held.order_ref.clone(),
        original: original.order_ref.clone(),
        numbers: OrderNumbers {
            held: held.number.clone(),
            original: original.number.clone(),
        },
        state: HoldState::Held,
        version: 1,
        created_at: held.placed_at,
        deadline: deadline.at,
        remind_at: deadline.remind_at,
        urgent: deadline.urgent,
        shared_keys: vec![KeyKind::Email, KeyKind::Phone],
        shared_products: vec![ProductKey::parse("SKU-A").unwrap()],
        risks: risk_flags(held),
        contact: ContactRules::for_order(held),
        amazon_fallback_case: None,
        awaiting_staff: false,
        phone_task: false,
        blacklisted: None,
        resolution: None,
        cancelled_at_mall: None,
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn at(at: &str) -> Self {
        Self(Mutex::new(at.parse().unwrap()))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap();
        *now = now.checked_add(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A store in memory, for the use-case tests: the reference behaviour of the `Store` port.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
    /// Counts calls, so tests can check how much a use case reads.
    pub calls: std::sync::atomic::AtomicUsize,
    /// Counts the commits made with [`Commit::commit_beside_others`].
    pub beside_others: std::sync::atomic::AtomicUsize,
    /// Counts the batches given to [`Commit::commit_behind`] (this store writes them at once).
    pub behind: std::sync::atomic::AtomicUsize,
    /// Every batch committed, in order (a batch that conflicted wrote nothing and is not kept), so tests can
    /// check what a use case wrote.
    committed: Mutex<Vec<WriteBatch>>,
    /// Order ids whose every write fails as the real store fails an item it cannot take (DynamoDB's
    /// `ValidationException` for an item over 400 KB): a failure no retry mends.
    unwritable: Mutex<Vec<String>>,
}

impl MemoryStore {
    /// The batches committed so far.
    pub fn commits(&self) -> Vec<WriteBatch> {
        self.committed.lock().unwrap().clone()
    }

    /// Makes every batch that writes the order `order_id` fail with [`StoreError::Corrupt`], as the real store
    /// refuses an item it cannot take.
    pub fn refuse_writes_of(&self, order_id: &str) {
        self.unwritable.lock().unwrap().push(order_id.to_owned());
    }
}

#[derive(Default, Clone)]
struct Tables {
    orders: BTreeMap<String, StoredOrder>,
    index: BTreeMap<(IdentityKey, String), IndexEntry>,
    heads: BTreeMap<IdentityKey, u64>,
    holds: BTreeMap<HoldId, Hold>,
    notices: BTreeMap<NoticeId, Notice>,
    history: Vec<HistoryEntry>,
    quarantine: BTreeMap<String, Quarantined>,
    deliveries: BTreeMap<String, crate::order::PayloadDigest>,
    cursors: BTreeMap<(Mall, ShopId), PollCursor>,
    actions: BTreeMap<ActionId, MallAction>,
    blacklist: BTreeMap<crate::blacklist::BlacklistId, crate::blacklist::BlacklistEntry>,
    marks: BTreeMap<(IdentityKey, crate::blacklist::BlacklistId), crate::blacklist::BlacklistMark>,
    sign_ins: BTreeMap<String, Timestamp>,
    shop_settings: BTreeMap<(Mall, ShopId), crate::shop_settings::ShopSettings>,
    pages: Vec<crate::history::KeptPage>,
}

fn condition_holds(stored: Option<u64>, expect: Expect) -> bool {
    match expect {
        Expect::Absent => stored.is_none(),
        Expect::Version(v) => stored == Some(v),
        Expect::Any => true,
    }
}

impl MemoryStore {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl Commit for MemoryStore {
    async fn commit_beside_others(&self, batch: WriteBatch) -> Result<(), CommitError> {
        self.beside_others.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.commit(batch).await
    }

    async fn commit_behind(&self, batch: WriteBatch) -> Result<(), CommitError> {
        self.behind.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.commit(batch).await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), CommitError> {
        let unwritable = self.unwritable.lock().unwrap().clone();
        if let Some((stored, _)) = batch
            .orders
            .iter()
            .find(|(o, _)| unwritable.iter().any(|id| id == o.order.order_ref.order_id.as_str()))
        {
            return Err(CommitError::Store(StoreError::Corrupt(format!(
                "the item of order {} cannot be written: it is over the item size limit",
                stored.order.order_ref.order_id
            ))));
        }
        let mut t = self.tables();
        let ok = batch
            .heads
            .iter()
            .all(|h| t.heads.get(&h.key).copied().unwrap_or(0) == h.version)
            && batch
                .orders
                .iter()
                .all(|(o, e)| condition_holds(t.orders.get(&o.order.order_ref.key()).map(|s| s.version), *e))
            && batch
                .holds
                .iter()
                .all(|(h, e)| condition_holds(t.holds.get(&h.id).map(|s| s.version), *e))
            && batch
                .notices
                .iter()
                .all(|(n, e)| condition_holds(t.notices.get(&n.id).map(|s| s.version), *e))
            && batch
                .quarantine
                .iter()
                .all(|(q, e)| condition_holds(t.quarantine.get(&q.id).map(|_| 0), *e))
            && batch
                .cursors
                .iter()
                .all(|(c, e)| condition_holds(t.cursors.get(&(c.mall, c.shop.clone())).map(|s| s.version), *e))
            && batch
                .actions
                .iter()
                .all(|(a, e)| condition_holds(t.actions.get(&a.id).map(|s| s.version), *e))
            && batch.sign_ins.iter().all(|u| !t.sign_ins.contains_key(&u.id))
            && batch
                .shop_settings
                .iter()
                .all(|(s, e)| condition_holds(t.shop_settings.get(&(s.mall, s.shop.clone())).map(|s| s.version), *e));
        if !ok {
            return Err(CommitError::Conflict);
        }
        self.committed.lock().unwrap().push(batch.clone());
        for h in batch.heads {
            t.heads.insert(h.key, h.version + 1);
        }
        for (o, _) in batch.orders {
            t.orders.insert(o.order.order_ref.key(), o);
        }
        for e in batch.index {
            t.index.insert((e.key.clone(), e.order.key()), e);
        }
        for (h, _) in batch.holds {
            t.holds.insert(h.id.clone(), h);
        }
        for (n, _) in batch.notices {
            t.notices.insert(n.id.clone(), n);
        }
        t.history.extend(batch.history);
        for (q, _) in batch.quarantine {
            t.quarantine.insert(q.id.clone(), q);
        }
        t.deliveries
            .extend(batch.deliveries.into_iter().map(|d| (d.id, d.digest)));
        for (c, _) in batch.cursors {
            t.cursors.insert((c.mall, c.shop.clone()), c);
        }
        for (a, _) in batch.actions {
            t.actions.insert(a.id.clone(), a);
        }
        for write in batch.blacklist {
            match write {
                crate::blacklist::BlacklistWrite::Add(entry) => {
                    for mark in entry.marks() {
                        t.marks.insert((mark.key.clone(), mark.entry.clone()), mark);
                    }
                    t.blacklist.insert(entry.id.clone(), entry);
                }
                crate::blacklist::BlacklistWrite::Remove(entry) => {
                    for key in &entry.keys {
                        t.marks.remove(&(key.clone(), entry.id.clone()));
                    }
                    t.blacklist.remove(&entry.id);
                }
            }
        }
        for used in batch.sign_ins {
            t.sign_ins.insert(used.id, used.expires_at);
        }
        for (settings, _) in batch.shop_settings {
            t.shop_settings.insert((settings.mall, settings.shop.clone()), settings);
        }
        for page in batch.pages {
            if !t
                .pages
                .iter()
                .any(|p| p.hold == page.hold && p.shown.digest == page.shown.digest)
            {
                t.pages.push(page);
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Records for MemoryStore {
    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        Ok(self.tables().orders.get(&order.key()).cloned())
    }

    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        Ok(self.tables().holds.get(id).cloned())
    }

    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError> {
        Ok(self.tables().notices.get(id).cloned())
    }

    async fn action(&self, id: &ActionId) -> Result<Option<MallAction>, StoreError> {
        Ok(self.tables().actions.get(id).cloned())
    }

    async fn page_kept(&self, hold: &HoldId, digest: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .pages
            .iter()
            .any(|p| &p.hold == hold && p.shown.digest == digest))
    }
}

#[async_trait::async_trait]
impl IngestStore for MemoryStore {
    async fn ingest_snapshot(
        &self,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        let t = self.tables();
        let entries = t
            .index
            .values()
            .filter(|e| keys.contains(&e.key) && e.placed_at >= from && e.placed_at <= to)
            .cloned()
            .collect();
        let heads = keys
            .iter()
            .map(|k| Head {
                key: k.clone(),
                version: t.heads.get(k).copied().unwrap_or(0),
            })
            .collect();
        let blacklisted = t.marks.values().filter(|m| keys.contains(&m.key)).cloned().collect();
        Ok(IngestSnapshot {
            existing: t.orders.get(&order.key()).cloned(),
            entries,
            heads,
            blacklisted,
        })
    }

    async fn index_window(
        &self,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        Ok(self
            .tables()
            .index
            .values()
            .filter(|e| keys.contains(&e.key) && e.placed_at >= from && e.placed_at <= to)
            .cloned()
            .collect())
    }

    async fn delivery_digest(&self, delivery: &str) -> Result<Option<crate::order::PayloadDigest>, StoreError> {
        Ok(self.tables().deliveries.get(delivery).cloned())
    }
}

#[async_trait::async_trait]
impl SweepStore for MemoryStore {
    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError> {
        let mut due: Vec<Hold> = self
            .tables()
            .holds
            .values()
            .filter(|h| h.next_due().is_some_and(|d| d <= now))
            .cloned()
            .collect();
        due.sort_by_key(|h| h.next_due());
        due.truncate(limit);
        Ok(due)
    }

    async fn pending_notices(&self, now: Timestamp, limit: usize) -> Result<Vec<Notice>, StoreError> {
        let mut pending: Vec<Notice> = self
            .tables()
            .notices
            .values()
            .filter(|n| n.state == NoticeState::Pending && n.next_attempt_at <= now)
            .cloned()
            .collect();
        pending.sort_by_key(|n| n.next_attempt_at);
        pending.truncate(limit);
        Ok(pending)
    }

    async fn pending_actions(&self, now: Timestamp, limit: usize) -> Result<Vec<MallAction>, StoreError> {
        let mut pending: Vec<MallAction> = self
            .tables()
            .actions
            .values()
            .filter(|a| a.state == ActionState::Pending && a.next_attempt_at <= now)
            .cloned()
            .collect();
        pending.sort_by_key(|a| a.next_attempt_at);
        pending.truncate(limit);
        Ok(pending)
    }
}

#[async_trait::async_trait]
impl StaffStore for MemoryStore {
    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        // By the mall's order id, or by the number the buyer knows without its `#`; each order once.
        let t = self.tables();
        let found = t.orders.values().map(|o| &o.order).filter(|o| {
            o.order_ref.mall == mall
                && (&o.order_ref.order_id == order_id
                    || o.number.as_deref().map(crate::order::bare_number) == Some(order_id.as_str()))
        });
        Ok(found.map(|o| o.order_ref.clone()).collect())
    }

    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError> {
        let mut holds: Vec<Hold> = self
            .tables()
            .holds
            .values()
            .filter(|h| !open_only || h.state == HoldState::Held)
            .cloned()
            .collect();
        holds.sort_by_key(|h| std::cmp::Reverse(h.created_at));
        Ok(holds)
    }

    async fn history(&self, order: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self
            .tables()
            .history
            .iter()
            .filter(|h| &h.order == order)
            .cloned()
            .collect())
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        Ok(self.tables().quarantine.values().cloned().collect())
    }

    async fn blacklist(&self) -> Result<Vec<crate::blacklist::BlacklistEntry>, StoreError> {
        let mut entries: Vec<_> = self.tables().blacklist.values().cloned().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.added_at));
        Ok(entries)
    }

    async fn blacklist_entry(
        &self,
        id: &crate::blacklist::BlacklistId,
    ) -> Result<Option<crate::blacklist::BlacklistEntry>, StoreError> {
        Ok(self.tables().blacklist.get(id).cloned())
    }

    async fn shop_settings(&self) -> Result<Vec<crate::shop_settings::ShopSettings>, StoreError> {
        Ok(self.tables().shop_settings.values().cloned().collect())
    }

    async fn pages(&self, hold: &HoldId) -> Result<Vec<crate::history::KeptPage>, StoreError> {
        Ok(self
            .tables()
            .pages
            .iter()
            .filter(|p| &p.hold == hold)
            .cloned()
            .collect())
    }
}

#[async_trait::async_trait]
impl CursorStore for MemoryStore {
    async fn cursor(&self, mall: Mall, shop: &ShopId) -> Result<Option<PollCursor>, StoreError> {
        Ok(self.tables().cursors.get(&(mall, shop.clone())).cloned())
    }
}

/// A mailer that keeps what it was asked to send, and fails on demand.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<Mail>>,
    pub failing: std::sync::atomic::AtomicBool,
    /// Addresses the mail service refuses (a suppressed address): sends to them are `Rejected`.
    pub refused: Mutex<Vec<String>>,
    /// The mail service hangs: sends never finish.
    pub hanging: std::sync::atomic::AtomicBool,
    /// Addresses the mail service cannot reach now (their server down): sends to them are `Transient`.
    pub unreachable: Mutex<Vec<String>>,
    /// Addresses whose route hangs (a relay that never answers): sends to them never finish.
    pub hanging_for: Mutex<Vec<String>>,
    /// How long each send takes (in tokio's time, so paused tests move through it at once).
    pub delay: Mutex<std::time::Duration>,
}

impl RecordingMailer {
    pub fn mails(&self) -> Vec<Mail> {
        self.sent.lock().unwrap().clone()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on (or no longer) sends never finish.
    pub fn hang(&self, hanging: bool) {
        self.hanging.store(hanging, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on sends to `address` never finish, the others go out.
    pub fn hang_for(&self, address: &str) {
        self.hanging_for.lock().unwrap().push(address.to_owned());
    }

    /// From now on each send takes `delay`.
    pub fn slow(&self, delay: std::time::Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// From now on every send to `address` fails for now (`Transient`), the others go out.
    pub fn unreachable(&self, address: &str) {
        self.unreachable.lock().unwrap().push(address.to_owned());
    }

    /// From now on the mail service refuses mail to `address`.
    pub fn refuse(&self, address: &str) {
        self.refused.lock().unwrap().push(address.to_owned());
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        if self.hanging.load(std::sync::atomic::Ordering::SeqCst)
            || self.hanging_for.lock().unwrap().iter().any(|a| a == mail.to.as_str())
        {
            return std::future::pending().await;
        }
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError::Transient("the test mailer is down".into()));
        }
        if self.unreachable.lock().unwrap().iter().any(|a| a == mail.to.as_str()) {
            return Err(MailError::Transient("the recipient's server does not answer".into()));
        }
        if self.refused.lock().unwrap().iter().any(|a| a == mail.to.as_str()) {
            return Err(MailError::Rejected("the address is on the suppression list".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(mail.clone());
        Ok(format!("test-{}", sent.len()))
    }
}

/// Settings for tests: fixed secrets, the default policy, the test shop.
pub fn settings() -> Settings {
    Settings {
        hasher: IdentityHasher::new(b"test pepper".to_vec()),
        signer: LinkSigner::new(b"test link key".to_vec()),
        products: ProductMap::default(),
        policy: Policy::default(),
        shop: shop(),
    }
}

/// The link tokens (`/h/{token}`) in a mail's text, confirm first.
pub fn link_tokens(mail: &Mail) -> Vec<String> {
    mail.text
        .split_whitespace()
        .filter_map(|word| word.split_once("/h/").map(|(_, token)| token.to_owned()))
        .collect()
}

/// The raw bytes a test pretends a mall sent for `order`.
pub fn incoming(order: Order) -> Incoming {
    let raw = format!("{{\"order\":\"{}\"}}", order.order_ref.key()).into_bytes();
    Incoming {
        order,
        raw,
        delivery: None,
    }
}

/// A store that is down (throttled past the SDK's retries, or unreachable): every call fails with
/// [`StoreError::Unavailable`], so callers can be checked to answer "retry later".
#[derive(Debug, Clone, Copy, Default)]
pub struct UnavailableStore;

fn unavailable<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable("throttled".into()))
}

#[async_trait::async_trait]
impl Commit for UnavailableStore {
    async fn commit(&self, _: WriteBatch) -> Result<(), CommitError> {
        Err(CommitError::Store(StoreError::Unavailable("throttled".into())))
    }
}

#[async_trait::async_trait]
impl Records for UnavailableStore {
    async fn order(&self, _: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        unavailable()
    }
    async fn hold(&self, _: &HoldId) -> Result<Option<Hold>, StoreError> {
        unavailable()
    }
    async fn notice(&self, _: &NoticeId) -> Result<Option<Notice>, StoreError> {
        unavailable()
    }
    async fn action(&self, _: &ActionId) -> Result<Option<MallAction>, StoreError> {
        unavailable()
    }
    async fn page_kept(&self, _: &HoldId, _: &str) -> Result<bool, StoreError> {
        unavailable()
    }
}

#[async_trait::async_trait]
impl IngestStore for UnavailableStore {
    async fn ingest_snapshot(
        &self,
        _: &OrderRef,
        _: &[IdentityKey],
        _: Timestamp,
        _: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        unavailable()
    }
    async fn index_window(&self, _: &[IdentityKey], _: Timestamp, _: Timestamp) -> Result<Vec<IndexEntry>, StoreError> {
        unavailable()
    }
    async fn delivery_digest(&self, _: &str) -> Result<Option<crate::order::PayloadDigest>, StoreError> {
        unavailable()
    }
}

#[async_trait::async_trait]
impl SweepStore for UnavailableStore {
    async fn due_holds(&self, _: Timestamp, _: usize) -> Result<Vec<Hold>, StoreError> {
        unavailable()
    }
    async fn pending_notices(&self, _: Timestamp, _: usize) -> Result<Vec<Notice>, StoreError> {
        unavailable()
    }
    async fn pending_actions(&self, _: Timestamp, _: usize) -> Result<Vec<MallAction>, StoreError> {
        unavailable()
    }
}

#[async_trait::async_trait]
impl StaffStore for UnavailableStore {
    async fn orders_with_id(&self, _: Mall, _: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        unavailable()
    }
    async fn holds(&self, _: bool) -> Result<Vec<Hold>, StoreError> {
        unavailable()
    }
    async fn history(&self, _: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        unavailable()
    }
    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        unavailable()
    }
    async fn blacklist(&self) -> Result<Vec<crate::blacklist::BlacklistEntry>, StoreError> {
        unavailable()
    }
    async fn blacklist_entry(
        &self,
        _: &crate::blacklist::BlacklistId,
    ) -> Result<Option<crate::blacklist::BlacklistEntry>, StoreError> {
        unavailable()
    }
    async fn shop_settings(&self) -> Result<Vec<crate::shop_settings::ShopSettings>, StoreError> {
        unavailable()
    }
    async fn pages(&self, _: &HoldId) -> Result<Vec<crate::history::KeptPage>, StoreError> {
        unavailable()
    }
}

#[async_trait::async_trait]
impl CursorStore for UnavailableStore {
    async fn cursor(&self, _: Mall, _: &ShopId) -> Result<Option<PollCursor>, StoreError> {
        unavailable()
    }
}

/// An [`OrderFeed`] that answers from a script given in advance, one answer per call, and keeps the position
/// each call asked from. Once the script is spent, every call finds nothing new: one empty last page that
/// stays where it was asked from.
pub struct ScriptedFeed {
    mall: Mall,
    shop: ShopId,
    script: Mutex<VecDeque<Result<FeedPage, FeedError>>>,
    asked: Mutex<Vec<Option<String>>>,
    expires_at: Mutex<Option<Timestamp>>,
    rotated: Mutex<Option<String>>,
}

impl ScriptedFeed {
    /// A feed of `shop` on `mall` with nothing scripted yet.
    pub fn new(mall: Mall, shop: &str) -> Self {
        Self {
            mall,
            shop: ShopId::parse(shop).unwrap(),
            script: Mutex::new(VecDeque::new()),
            asked: Mutex::new(vec![]),
            expires_at: Mutex::new(None),
            rotated: Mutex::new(None),
        }
    }

    /// Says, from now on, that the mall rotated the refresh token to `value`.
    pub fn rotate(&self, value: &str) {
        *self.rotated.lock().unwrap() = Some(value.to_owned());
    }

    /// Says, at every poll (one request each), that the credentials expire at `at`.
    pub fn expiring(self, at: &str) -> Self {
        *self.expires_at.lock().unwrap() = Some(at.parse().unwrap());
        self
    }

    /// Adds `answer` to the end of the script.
    pub fn then(self, answer: Result<FeedPage, FeedError>) -> Self {
        self.push(answer);
        self
    }

    /// Adds `answer` to the end of the script of a feed already in use.
    pub fn push(&self, answer: Result<FeedPage, FeedError>) {
        self.script.lock().unwrap().push_back(answer);
    }

    /// How many times the feed was read.
    pub fn calls(&self) -> usize {
        self.asked.lock().unwrap().len()
    }

    /// The position each read started from, in order (None: the first run's look-back).
    pub fn positions(&self) -> Vec<Option<String>> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl OrderFeed for ScriptedFeed {
    fn mall(&self) -> Mall {
        self.mall
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    async fn changed_since(
        &self,
        position: Option<&str>,
        _now: Timestamp,
        _first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError> {
        self.asked.lock().unwrap().push(position.map(str::to_owned));
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| {
            Ok(FeedPage {
                orders: vec![],
                next: position.unwrap_or("start").to_owned(),
                more: false,
                requests: 1,
            })
        })
    }

    async fn credentials_expiry(&self, _now: Timestamp) -> Result<Option<crate::feed::CredentialsExpiry>, FeedError> {
        Ok(self
            .expires_at
            .lock()
            .unwrap()
            .map(|expires_at| crate::feed::CredentialsExpiry {
                expires_at,
                requests: 1,
            }))
    }

    fn rotated_credential(&self) -> Option<crate::feed::RotatedCredential> {
        self.rotated
            .lock()
            .unwrap()
            .clone()
            .map(|value| crate::feed::RotatedCredential {
                mall: self.mall,
                shop: self.shop.clone(),
                field: "refresh_token",
                value: value.into(),
            })
    }
}

/// A [`CredentialKeeper`](crate::feed::CredentialKeeper) in memory: what it holds, by mall, shop and field.
#[derive(Default)]
pub struct MemoryKeeper {
    pub kept: Mutex<BTreeMap<(Mall, ShopId, &'static str), String>>,
    pub writes: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::feed::CredentialKeeper for MemoryKeeper {
    async fn keep(&self, rotated: &crate::feed::RotatedCredential) -> Result<bool, String> {
        use secrecy::ExposeSecret;
        let key = (rotated.mall, rotated.shop.clone(), rotated.field);
        let value = rotated.value.expose_secret().to_owned();
        let mut kept = self.kept.lock().unwrap();
        if kept.get(&key) == Some(&value) {
            return Ok(false);
        }
        kept.insert(key, value);
        self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(true)
    }
}

/// An order as a feed reads it, with the bytes [`incoming`] pretends the mall sent.
pub fn feed_order(order: Order) -> FeedOrder {
    let Incoming { order, raw, .. } = incoming(order);
    FeedOrder::Order {
        order: Box::new(order),
        raw,
    }
}

/// A page of `orders` (one request) that ends at `next`, with `more` changed orders beyond it.
pub fn feed_page(orders: Vec<FeedOrder>, next: &str, more: bool) -> FeedPage {
    FeedPage {
        orders,
        next: next.to_owned(),
        more,
        requests: 1,
    }
}

/// An [`OrderLookup`] that answers from a script, one answer per read (an order not scripted is
/// [`FeedError::Refused`]), and remembers which orders were read.
pub struct ScriptedLookup {
    mall: Mall,
    shop: ShopId,
    script: Mutex<VecDeque<Result<FeedOrder, FeedError>>>,
    asked: Mutex<Vec<OrderId>>,
}

impl ScriptedLookup {
    /// A lookup of `shop`'s orders on `mall` with nothing scripted yet.
    pub fn new(mall: Mall, shop: &str) -> Self {
        Self {
            mall,
            shop: ShopId::parse(shop).unwrap(),
            script: Mutex::new(VecDeque::new()),
            asked: Mutex::new(vec![]),
        }
    }

    /// Adds `answer` to the end of the script.
    pub fn then(self, answer: Result<FeedOrder, FeedError>) -> Self {
        self.script.lock().unwrap().push_back(answer);
        self
    }

    /// The orders read, in order.
    pub fn asked(&self) -> Vec<OrderId> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl OrderLookup for ScriptedLookup {
    fn mall(&self) -> Mall {
        self.mall
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    async fn order(&self, id: &OrderId) -> Result<LookedUp, FeedError> {
        self.asked.lock().unwrap().push(id.clone());
        let answer = self.script.lock().unwrap().pop_front();
        let order = answer.unwrap_or_else(|| Err(FeedError::Refused(format!("nothing scripted for {id}"))))?;
        Ok(LookedUp { order, requests: 3 })
    }
}

/// A [`MallActions`](crate::action::MallActions) double: does the kinds it was told it can, answers each
/// perform from a script (done when nothing is scripted), and remembers what was asked.
#[derive(Default)]
pub struct ScriptedActions {
    /// Actions of these kinds wait for a permit before the mall answers (a slow mall).
    gate: Mutex<Option<(Vec<crate::action::ActionKind>, Arc<tokio::sync::Semaphore>)>>,
    can: Mutex<Vec<(Mall, crate::action::ActionKind)>>,
    /// How long each answer takes (in tokio's time).
    delay: Mutex<std::time::Duration>,
    script: Mutex<VecDeque<Result<crate::action::Performed, crate::action::ActionError>>>,
    asked: Mutex<Vec<(ActionId, crate::action::ActionKind)>>,
}

impl ScriptedActions {
    /// Acts at `mall` with every kind.
    pub fn at(mall: Mall) -> Self {
        use crate::action::ActionKind::*;
        let actions = Self::default();
        actions
            .can
            .lock()
            .unwrap()
            .extend([Hold, Release, Cancel].map(|kind| (mall, kind)));
        actions
    }

    /// Adds `answer` to the end of the script.
    pub fn then(self, answer: Result<crate::action::Performed, crate::action::ActionError>) -> Self {
        self.script.lock().unwrap().push_back(answer);
        self
    }

    /// Each answer takes `delay` (the mall is slow).
    pub fn slow(self, delay: std::time::Duration) -> Self {
        *self.delay.lock().unwrap() = delay;
        self
    }

    /// From now on, each action of `kinds` is asked of the mall (and counted in [`ScriptedActions::asked`]),
    /// then waits for a permit of `gate` before the mall answers.
    pub fn gate(&self, kinds: &[crate::action::ActionKind], gate: Arc<tokio::sync::Semaphore>) {
        *self.gate.lock().unwrap() = Some((kinds.to_vec(), gate));
    }

    /// The actions performed (each attempt), in order.
    pub fn asked(&self) -> Vec<(ActionId, crate::action::ActionKind)> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl crate::action::MallActions for ScriptedActions {
    fn can(&self, mall: Mall, _shop: &ShopId, kind: crate::action::ActionKind) -> bool {
        self.can.lock().unwrap().contains(&(mall, kind))
    }

    async fn perform(&self, action: &MallAction) -> Result<crate::action::Performed, crate::action::ActionError> {
        self.asked.lock().unwrap().push((action.id.clone(), action.kind));
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let gate = self
            .gate
            .lock()
            .unwrap()
            .as_ref()
            .filter(|(kinds, _)| kinds.contains(&action.kind))
            .map(|(_, gate)| gate.clone());
        if let Some(gate) = gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
        let answer = self.script.lock().unwrap().pop_front();
        answer.unwrap_or_else(|| Ok(crate::action::Performed::changed(Some(format!("ref-{}", action.id)))))
    }
}
