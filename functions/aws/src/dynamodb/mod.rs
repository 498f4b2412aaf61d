//! The DynamoDB store: every mallguard item in one table, defined in
//! `infra/template.yaml` (`pk`/`sk` strings; GSI `due` on `gsi1pk`/`gsi1sk`; GSI `lookup` on
//! `gsi2pk`/`gsi2sk`; TTL attribute `expires_at`).
//!
//! # Item catalogue
//!
//! Times in keys are *sortable UTC strings*, `2026-11-23T03:00:00.000000000Z` (fixed width, nanoseconds,
//! so string order is time order; times before year 0 clamp to year 0 and every read re-checks the exact
//! time in the item's `doc`). `doc` is the domain type as JSON: the exact round trip the contract suite
//! asks for, with no second schema to drift. `expires_at` is epoch seconds: the write's time by the
//! store's clock (the system clock unless [`DynamoDbStore::with_clock`] sets another) plus the retention
//! period (default 180 days), so personal data goes [`DEFAULT_RETENTION`] after it was last written. TTL
//! deletion lags up to two days, so **every read drops items whose `expires_at` is past by the store's
//! clock**, and `Expect::Absent` counts an expired item as absent.
//!
//! | item | pk | sk | GSI keys | other attributes | TTL | access pattern |
//! |---|---|---|---|---|---|---|
//! | order | `ORDER#{mall}/{shop}/{order id}` | `ORDER` | `lookup`: `MALLORDER#{mall}#{order id}` / `{shop}` | `version` N, `doc` S (StoredOrder without `raw`), `raw` B (zlib) | yes | GetItem by ref; `orders_with_id` Queries `lookup` |
//! | order number | the order's pk | `NUMBER` | `lookup`: `MALLORDER#{mall}#{number without its #}` / `{shop}` | – | yes, the order's (written with it) | written unconditionally in the order's transaction whenever the order is, if its buyer knows it by a number other than its order id (Shopify's `#1001`); `orders_with_id` finds it with the order ids |
//! | match-index entry | `KEY#{identity key}` | `AT#{placed_at}#{order key}` | – | `doc` S (IndexEntry: hashes only) | yes | the ingest Query below; the same Query per key of a held order lists the buyer's related orders for the buyer's page and an answer (`index_window`) |
//! | head | `KEY#{identity key}` | `~HEAD` | – | `version` N | yes, refreshed by every bump | the ingest Query below; bumped under a condition by every decision |
//! | hold | `HOLD#{hold id}` | `HOLD` | `due` while held: `DUE#HOLD` / `{next_due}#{id}`; `lookup`: `HOLDS` / `{created_at}#{id}` | `version` N, `state` S, `doc` S | yes | GetItem; `due_holds` Queries `due`; `holds` Queries `lookup` newest first |
//! | notice | `NOTICE#{notice id}` | `NOTICE` | `due` while pending: `DUE#NOTICE` / `{next_attempt_at}#{id}` | `version` N, `doc` S (the rendered mail) | yes | GetItem; `pending_notices` Queries `due` |
//! | kept page | the hold's pk | `PAGE#{sha256 of the HTML}` | – | `doc` S (KeptPage without its HTML: hold, order, when first shown, digest, template version, language), `raw` B (the HTML served, zlib; at most 256 KiB before compression) | yes, as the notices' text | the buyer's page GetItems it before writing (a reload of a page already kept writes only its history entry); an unconditional Put in the history entry's transaction when its digest is new; the evidence Queries `begins_with(sk, "PAGE#")` in the hold's partition |
//! | mall action | `ACTION#{hold id}.{kind}` | `ACTION` | `due` while pending: `DUE#ACTION` / `{next_attempt_at}#{id}` | `version` N, `doc` S (MallAction: refs, state, the mall's reference or refusal; no personal data) | yes | GetItem; `pending_actions` Queries `due`; written with the decision that asks for it (Absent), then under `version = :read` |
//! | history | the order's pk | `H#{commit time}#{writer}#{index}` | – | `doc` S (HistoryEntry: digests, ids, no personal data) | **none** (the evidence for disputes) | Query `begins_with(sk, "H#")`, ascending |
//! | quarantined payload | `QUARANTINE` | `Q#{id}` | – | `version` N (always 0), `doc` S, `raw` B (zlib) | yes | Query pk `QUARANTINE` |
//! | delivery id | `DELIVERY#{id}` | `DELIVERY` | – | `digest` S (SHA-256 of the payload it carried; a reused id with another payload is not a redelivery) | 7 days | GetItem |
//! | poll cursor | `CURSOR#{mall}#{shop}` | `CURSOR` | – | `version` N, `doc` S (PollCursor: the feed's opaque position and when it moved; no personal data) | **none** (a cursor gone would send its poller back to its first look-back) | GetItem by mall and shop at the start of every poll; a Put under `attribute_not_exists(pk)` (first poll) or `version = :read` after each page, so of two overlapping polls only one moves it |
//! | blacklist entry | `BLACKLIST` | `B#{entry id}` | – | `doc` S (BlacklistEntry: the order's ref and number, its hashed identity keys, the staff's reason, who added it and when) | **none** (stays until the staff remove it) | GetItem by id; `blacklist` Queries pk `BLACKLIST` (newest first, sorted on the client); Put with its marks (Add) or Deleted with them (Remove) in the batch's transaction, unconditionally |
//! | blacklist mark | `KEY#{identity key}` | `~BLACKLIST#{entry id}` | – | `doc` S (BlacklistMark: the key, the entry id, the order ref) | **none** (goes with its entry) | read by the ingest Query below at no extra request: `AT#…` < `~BLACKLIST#…` < `~HEAD`; one per key of the entry, written and deleted with it |
//! | used sign-in link | `SIGNIN#{nonce}` | `SIGNIN` | – | – | at the link's own expiry | never read: a Put under `attribute_not_exists(pk)` in the transaction of the sign-in, so a second use of the link cancels it (`Conflict`) |
//! | shop settings | `SHOPS` | `{mall}#{shop}` | – | `version` N, `doc` S (ShopSettings: the shop's own name, contacts and policy changes, who saved them and when; no buyer's data) | **none** (settings are not personal data; gone, they would put the shop back on the defaults) | `shop_settings` Queries pk `SHOPS`, consistent, all shops in one request (sorted on the client into `Mall`'s order); a Put under `attribute_not_exists(pk)` (a shop never set) or `version = :read` |
//!
//! **Order numbers.** Staff look an order up by the number they and the buyer see (Shopify's `#1001`) as
//! often as by the mall's order id (Shopify's `5678901234567890123`). The number item puts the order in
//! the `lookup` partition of its number too, so the one `orders_with_id` Query answers both, and it
//! points back at the order by its pk. It lives and expires with the order: each write of the order
//! rewrites it (a new number replaces the old), and an order rewritten without a number keeps its last
//! one until the TTL takes it.
//!
//! **The ingest Query.** One Query per identity key of the new order, all run concurrently (an order has an
//! email, phone, address and, when it carries one, reading key; a reading or an address without a postal
//! code adds no request of its own beyond its key's Query):
//! `pk = KEY#{key} AND sk BETWEEN AT#{from} AND ~HEAD`, descending, strongly consistent, paginated.
//! `~HEAD` sorts after every `AT#…`, so this one range holds the window's entries (plus the rare entry
//! placed after `to`, dropped on the client: a filter expression cannot name the sort key, and a filtered
//! item is billed all the same) and the head; and the key's blacklist marks (`~BLACKLIST#…`, between the
//! two, whenever they were made), so the blacklist costs the ingest path no request of its own. Items are
//! told apart by their sort key: only `AT#…` is an entry, only `~HEAD` the head. Descending order reads
//! the head *first*: a decision that commits after that read bumps the head and makes this decision's
//! commit fail, and one that committed before it has its entries in place for the rest of the read.
//! (DynamoDB gives a Query read-committed isolation per item, so in theory one concurrent transaction
//! could be seen half-applied between the head and its entry; the window is the time DynamoDB takes to
//! apply one transaction's two items in one partition.) A new order that no entry names costs these
//! Queries and one TransactWriteItems — no GetItem; an entry that names the order itself (a redelivery)
//! costs one GetItem of the order.
//!
//! **Commit.** A [`WriteBatch`] is one `TransactWriteItems` (at most 100 items; a domain batch holds far
//! fewer, a larger one is refused as `Corrupt`). Heads are Updates that set `version + 1` under
//! `attribute_not_exists(pk)` (read as version 0) or `version = :read`; items with an [`Expect`] are whole
//! Puts (so a settled hold loses its `due` keys and the index stays sparse) under
//! `attribute_not_exists(pk) OR expires_at <= :now` (Absent), `version = :v` (Version) or nothing (Any);
//! index entries, history, kept pages, deliveries and blacklist entries and marks are unconditional Puts (a
//! removed blacklist entry and its marks unconditional Deletes), and a used sign-in link a Put under
//! `attribute_not_exists(pk)` (an expired record still counts: the link is refused as expired anyway). A
//! blacklist entry adds one item per identity key of its order (at most seven) besides itself. The SDK
//! sets the transaction's `ClientRequestToken` once per call, before its retries, so a retry of a
//! transaction whose answer was lost succeeds instead of failing its own conditions.
//!
//! **History order.** The contract wants history back in the order it was written, whatever the
//! entries' own times (a test clock freezes them; a late mall event may go back in time). So the sort
//! key is the commit's instant by the store's clock (the wall clock in production; made strictly
//! increasing within a process, so a test clock standing still keeps the order too), a random id of the
//! writing store, and the entry's place in its batch. Between two Lambda instances writing to one order
//! the order is that of their wall clocks, which NTP keeps within milliseconds; such writes are rare
//! (a buyer's click and the sweep) and each is a settled decision already serialised by the hold's
//! version.
//!
//! **Errors.** A cancelled transaction whose reasons include `ConditionalCheckFailed` or
//! `TransactionConflict` is [`CommitError::Conflict`] (the use case re-reads and decides again).
//! Throttling, exceeded throughput or request limits, 5xx, timeouts and connection failures are
//! [`StoreError::Unavailable`] after the SDK's standard retries (the caller answers 503 and the mall
//! retries). A validation error or anything else is [`StoreError::Corrupt`]: a bug, not worth a retry.
//!
//! **Hot keys.** `DUE#HOLD`, `DUE#NOTICE`, `DUE#ACTION`, `HOLDS`, `QUARANTINE`, `BLACKLIST` and `SHOPS`
//! are one partition each. They hold only holds, notices, quarantined payloads, blacklist entries and
//! shop settings, which are rare next to orders (the blacklist and the settings are written by the staff
//! alone, and the settings are a handful of items each function reads once while it is warm); orders,
//! entries, marks and heads spread over one partition per order and per customer key.
//!
//! **Consistency.** Reads of the base table are strongly consistent. The two GSIs are eventually
//! consistent: the sweep may see a hold a moment after it was settled, and then its conditional write
//! fails and it skips the hold, which is what the domain expects of a sweep that lost a race.
//!
//! **This module.** `keys` builds every key shape of the catalogue (one function per shape), `codec`
//! turns the domain types into items and back (the `doc`, `raw` and TTL attributes, [`time_key`]), and
//! `error` maps DynamoDB's answers to the domain's errors; this file holds the store and its reads and
//! writes.

mod codec;
mod error;
mod keys;

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use aws_smithy_types::error::display::DisplayErrorContext;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionId, ActionState, MallAction};
use mallguard_domain::blacklist::{BlacklistEntry, BlacklistId, BlacklistMark, BlacklistWrite};
use mallguard_domain::feed::PollCursor;
use mallguard_domain::history::{HistoryEntry, KeptPage};
use mallguard_domain::hold::{Hold, HoldState};
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::{Notice, NoticeId, NoticeState};
use mallguard_domain::order::PayloadDigest;
use mallguard_domain::ports::{
    Clock, Commit, CommitError, CursorStore, Expect, Head, IngestSnapshot, IngestStore, Quarantined, Records,
    StaffStore, StoreError, StoredOrder, SweepStore, SystemClock, WriteBatch,
};
use mallguard_domain::shop_settings::ShopSettings;

pub use self::codec::time_key;
use self::codec::{
    EXPIRES_AT, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Item, PK, SK, STATE, VERSION, doc, live, n, s, str_attr, version_attr,
};
use self::error::{commit_error, corrupt, store_error};
use self::keys::KeySchema;
use crate::counting::RequestCounts;

/// How long personal data is kept after it was last written.
pub const DEFAULT_RETENTION: SignedDuration = SignedDuration::from_hours(180 * 24);
/// How long a webhook delivery id is remembered: malls retry for hours (Shopify: 4), not weeks.
pub const DELIVERY_RETENTION: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The most items DynamoDB takes in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A [`Store`](mallguard_domain::ports::Store) over one DynamoDB table laid out as the
/// [module docs](self) describe. Cheap to clone: clones share the SDK client and the clock.
#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    retention: SignedDuration,
    page_size: Option<i32>,
    counts: RequestCounts,
    /// Random per store: two writers that append history to one order in the same nanosecond still
    /// write two items.
    writer: u64,
    /// What "now" is for TTLs, expiry checks and the commit instant of history.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbStore")
            .field("table", &self.table)
            .field("retention", &self.retention)
            .field("page_size", &self.page_size)
            .field("writer", &format_args!("{:016x}", self.writer))
            .finish_non_exhaustive()
    }
}

impl DynamoDbStore {
    /// A store over `table`, keeping personal data for `retention` after it was last written
    /// ([`DEFAULT_RETENTION`] in production; a negative one makes every item born expired, for tests).
    /// Its clock is the system clock until [`with_clock`](Self::with_clock) sets another.
    pub fn new(client: Client, table: String, retention: SignedDuration) -> Self {
        Self {
            client,
            table,
            retention,
            page_size: None,
            counts: RequestCounts::default(),
            writer: std::collections::hash_map::RandomState::new().build_hasher().finish(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Takes every "now" from `clock`: the `expires_at` of the items written, the TTL check of every
    /// read and of `Expect::Absent`, and the commit instant that orders history. Tests use it to stand
    /// past an item's retention without waiting for it.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Caps every Query page at `items` (DynamoDB's own cap is 1 MB), so tests can make every read
    /// paginate.
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items.max(1));
        self
    }

    /// Adds the items this store reads to `counts` (register `counts.interceptor()` on the client to count
    /// the requests too).
    pub fn with_counts(mut self, counts: RequestCounts) -> Self {
        self.counts = counts;
        self
    }

    /// The counts this store adds its items read to.
    pub fn counts(&self) -> &RequestCounts {
        &self.counts
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection to DynamoDB during a cold start with one cheap read of a key that never
    /// exists, so the first order after a cold start does not pay the TLS handshake (most of a second at
    /// 128 MB). Failures are only logged: the first real request will report them properly.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::WARM_UP))
            .key(SK, s(keys::WARM_UP))
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %DisplayErrorContext(&err), "DynamoDB warm-up failed");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reads

    /// The live item with this key, if any.
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        let found = u64::from(out.item.is_some());
        self.counts.add_items(found, found);
        let now = self.clock.now();
        out.item.map(|item| live(item, now)).transpose().map(Option::flatten)
    }

    /// Runs `query` page by page (following `LastEvaluatedKey`), decoding each item with `decode`, until
    /// the pages end or `limit` items were kept.
    async fn query<T>(
        &self,
        query: QueryFluentBuilder,
        limit: Option<usize>,
        mut decode: impl FnMut(Item) -> Result<Option<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut kept = vec![];
        let mut start = None;
        loop {
            let wanted = limit.map(|l| l.saturating_sub(kept.len()));
            let page_limit = match (wanted, self.page_size) {
                (Some(w), Some(p)) => Some(i32::try_from(w).unwrap_or(i32::MAX).min(p)),
                (Some(w), None) => Some(i32::try_from(w).unwrap_or(i32::MAX)),
                (None, p) => p,
            };
            let out = query
                .clone()
                .set_exclusive_start_key(start.take())
                .set_limit(page_limit)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            self.counts.add_items(
                u64::try_from(out.scanned_count).unwrap_or(0),
                u64::try_from(out.count).unwrap_or(0),
            );
            for item in out.items.unwrap_or_default() {
                if let Some(value) = decode(item)? {
                    kept.push(value);
                }
            }
            if limit.is_some_and(|l| kept.len() >= l) {
                break;
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(kept)
    }

    /// A Query of one partition of the table or of an index, with `#pk`/`:pk` bound and `#sk` named when
    /// `sort_condition` is given. The table is read consistently; indexes cannot be.
    fn partition_query(&self, schema: KeySchema, pk: String, sort_condition: Option<&str>) -> QueryFluentBuilder {
        let (index, pk_attr, sk_attr) = match schema {
            KeySchema::Table => (None, PK, SK),
            KeySchema::Due => (Some(keys::DUE_INDEX), GSI1PK, GSI1SK),
            KeySchema::Lookup => (Some(keys::LOOKUP_INDEX), GSI2PK, GSI2SK),
        };
        let condition = match sort_condition {
            Some(sort) => format!("#pk = :pk AND {sort}"),
            None => "#pk = :pk".to_owned(),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk));
        if sort_condition.is_some() {
            query = query.expression_attribute_names("#sk", sk_attr);
        }
        if index.is_none() {
            query = query.consistent_read(true);
        }
        query
    }

    /// The head version, the live entries of `key` placed at or after `from` (entries after the window
    /// are dropped by the caller, which knows `to`) and the blacklist marks under `key`, whenever they
    /// were made: one Query.
    async fn key_window(&self, key: &IdentityKey, from: Timestamp, now: Timestamp) -> Result<KeyWindow, StoreError> {
        let query = self
            .partition_query(KeySchema::Table, keys::key_pk(key), Some("#sk BETWEEN :from AND :head"))
            .expression_attribute_values(":from", s(keys::entries_from(from)))
            .expression_attribute_values(":head", s(keys::HEAD_SK))
            // Newest first, so the head comes first: see "The ingest Query" in the module docs.
            .scan_index_forward(false);
        let mut head = 0;
        let mut marks = vec![];
        let entries = self
            .query(query, None, |item| {
                let sk = str_attr(&item, SK)?;
                if sk == keys::HEAD_SK {
                    // A head is never dropped as expired: its version must be read as stored, or every
                    // decision would conflict until TTL deletes it.
                    head = version_attr(&item)?;
                    return Ok(None);
                }
                if keys::is_mark_sk(sk) {
                    // Marks have no TTL: they go with their entry.
                    marks.push(doc::<BlacklistMark>(&item)?);
                    return Ok(None);
                }
                if !keys::is_entry_sk(sk) {
                    // An item of a shape this build does not know (a newer build's) is not its business.
                    return Ok(None);
                }
                match live(item, now)? {
                    Some(item) => doc::<IndexEntry>(&item).map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        Ok(KeyWindow { head, entries, marks })
    }

    /// Live items (by the store's clock) of one `due` partition whose sort key is at or before `due`,
    /// soonest first, at most `limit`.
    async fn due<T>(
        &self,
        partition: &str,
        due: Timestamp,
        limit: usize,
        mut keep: impl FnMut(Item) -> Result<Option<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let now = self.clock.now();
        let query = self
            .partition_query(KeySchema::Due, partition.to_owned(), Some("#sk <= :due"))
            .expression_attribute_values(":due", s(keys::due_until(due)))
            .scan_index_forward(true);
        let mut found = self
            .query(query, Some(limit), |item| match live(item, now)? {
                Some(item) => keep(item),
                None => Ok(None),
            })
            .await?;
        found.truncate(limit);
        Ok(found)
    }

    // ---------------------------------------------------------------------------------------------
    // Writes

    fn transact_items(&self, batch: WriteBatch) -> Result<Vec<TransactWriteItem>, CommitError> {
        let now = self.clock.now();
        let ttl = codec::expires_at(now, self.retention);
        let mut items = Writes::default();

        let mut heads: Vec<Head> = vec![];
        for head in batch.heads {
            match heads.iter().find(|h| h.key == head.key) {
                // One key read twice at two versions: one of the reads is stale by definition.
                Some(seen) if seen.version != head.version => return Err(CommitError::Conflict),
                Some(_) => {}
                None => heads.push(head),
            }
        }
        for head in heads {
            let next = head
                .version
                .checked_add(1)
                .ok_or_else(|| corrupt("a head version overflows"))?;
            let mut update = Update::builder()
                .table_name(&self.table)
                .key(PK, s(keys::key_pk(&head.key)))
                .key(SK, s(keys::HEAD_SK))
                .update_expression("SET #v = :next, #exp = :exp")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":next", n(next))
                .expression_attribute_values(":exp", ttl.clone());
            update = if head.version == 0 {
                update
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
            } else {
                update
                    .condition_expression("#v = :read")
                    .expression_attribute_values(":read", n(head.version))
            };
            let update = update.build().map_err(|e| corrupt(format!("a head update: {e}")))?;
            items.push(
                (keys::key_pk(&head.key), keys::HEAD_SK.to_owned()),
                TransactWriteItem::builder().update(update).build(),
                true,
            )?;
        }

        for (stored, expect) in batch.orders {
            let number = codec::order_number_item(&stored.order, &ttl);
            self.put(&mut items, codec::order_item(stored, &ttl)?, Some(expect), now)?;
            if let Some(number) = number {
                self.put(&mut items, number, None, now)?;
            }
        }
        for entry in &batch.index {
            self.put(&mut items, codec::entry_item(entry, &ttl)?, None, now)?;
        }
        for (hold, expect) in &batch.holds {
            self.put(&mut items, codec::hold_item(hold, &ttl)?, Some(*expect), now)?;
        }
        for (notice, expect) in &batch.notices {
            self.put(&mut items, codec::notice_item(notice, &ttl)?, Some(*expect), now)?;
        }
        for (action, expect) in &batch.actions {
            self.put(&mut items, codec::action_item(action, &ttl)?, Some(*expect), now)?;
        }
        for page in &batch.pages {
            self.put(&mut items, codec::page_item(page, &ttl)?, None, now)?;
        }

        // History comes back in commit order, not by the entries' own times (which may go backwards, and
        // which a test clock may freeze): the sort key is this commit's instant, made strictly increasing
        // within the process, then the writer, then the place in the batch.
        if !batch.history.is_empty() {
            let instant = keys::commit_instant(now);
            for (i, entry) in batch.history.iter().enumerate() {
                let item = codec::history_item(entry, keys::history_sk(instant, self.writer, i))?;
                self.put(&mut items, item, None, now)?;
            }
        }

        for (quarantined, expect) in batch.quarantine {
            self.put(
                &mut items,
                codec::quarantine_item(quarantined, &ttl)?,
                Some(expect),
                now,
            )?;
        }

        // A store whose items are born expired (tests) expires its deliveries too.
        let delivery_ttl = codec::expires_at(now, DELIVERY_RETENTION.min(self.retention));
        for delivery in &batch.deliveries {
            self.put(&mut items, codec::delivery_item(delivery, &delivery_ttl), None, now)?;
        }

        for (cursor, expect) in &batch.cursors {
            self.put(&mut items, codec::cursor_item(cursor)?, Some(*expect), now)?;
        }

        // Settings carry no `expires_at`, so the Absent condition is `attribute_not_exists(pk)` alone.
        for (settings, expect) in &batch.shop_settings {
            self.put(&mut items, codec::shop_settings_item(settings)?, Some(*expect), now)?;
        }

        // An entry and its marks (one per identity key of the order, so at most eight items) are put or
        // deleted together; an Add and a Remove of one entry in one batch: the last one wins.
        for write in &batch.blacklist {
            match write {
                BlacklistWrite::Add(entry) => {
                    self.put(&mut items, codec::blacklist_item(entry)?, None, now)?;
                    for mark in entry.marks() {
                        self.put(&mut items, codec::mark_item(&mark)?, None, now)?;
                    }
                }
                BlacklistWrite::Remove(entry) => {
                    self.delete(&mut items, keys::BLACKLIST_PK.to_owned(), keys::blacklist_sk(&entry.id))?;
                    for key in &entry.keys {
                        self.delete(&mut items, keys::key_pk(key), keys::mark_sk(&entry.id))?;
                    }
                }
            }
        }

        // A link used before conflicts, expired or not (past its expiry it is refused anyway).
        for used in &batch.sign_ins {
            let item = codec::sign_in_item(used);
            let key = (str_attr(&item, PK)?.to_owned(), str_attr(&item, SK)?.to_owned());
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(|e| corrupt(format!("a sign-in put: {e}")))?;
            items.push(key, TransactWriteItem::builder().put(put).build(), true)?;
        }

        Ok(items.into_items())
    }

    /// Adds an unconditional Delete of the item with this key.
    fn delete(&self, items: &mut Writes, pk: String, sk: String) -> Result<(), CommitError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk.as_str()))
            .key(SK, s(sk.as_str()))
            .build()
            .map_err(|e| corrupt(format!("a delete: {e}")))?;
        items.push((pk, sk), TransactWriteItem::builder().delete(delete).build(), false)
    }

    /// Adds a whole-item Put under the condition `expect` asks for (None: unconditional).
    fn put(&self, items: &mut Writes, item: Item, expect: Option<Expect>, now: Timestamp) -> Result<(), CommitError> {
        let key = (str_attr(&item, PK)?.to_owned(), str_attr(&item, SK)?.to_owned());
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        let conditional = match expect {
            None | Some(Expect::Any) => false,
            Some(Expect::Absent) => {
                // An item past its TTL reads as absent, so it also counts as absent here: a new order must
                // not conflict forever with its own expired copy that TTL has not deleted yet.
                put = put
                    .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#exp", EXPIRES_AT)
                    .expression_attribute_values(":now", n(now.as_second()));
                true
            }
            Some(Expect::Version(version)) => {
                put = put
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", VERSION)
                    .expression_attribute_values(":v", n(version));
                true
            }
        };
        let put = put.build().map_err(|e| corrupt(format!("a put: {e}")))?;
        items.push(key, TransactWriteItem::builder().put(put).build(), conditional)
    }
}

/// What the ingest Query of one identity key reads.
struct KeyWindow {
    /// The head's version (0: no head yet).
    head: u64,
    /// The live entries placed at or after the window's start.
    entries: Vec<IndexEntry>,
    marks: Vec<BlacklistMark>,
}

/// The writes of one transaction, at most one per item (DynamoDB refuses a transaction that names an
/// item twice).
#[derive(Default)]
struct Writes {
    items: Vec<(TransactWriteItem, bool)>,
    at: HashMap<(String, String), usize>,
}

impl Writes {
    fn push(&mut self, key: (String, String), item: TransactWriteItem, conditional: bool) -> Result<(), CommitError> {
        match self.at.get(&key) {
            // Unconditional writes of one item (an index entry written twice): the last one wins, as it
            // would in two transactions.
            Some(&i) if !conditional && !self.items[i].1 => {
                self.items[i] = (item, false);
                Ok(())
            }
            Some(_) => Err(corrupt(format!(
                "the batch writes the item {}/{} twice, once under a condition",
                key.0, key.1
            ))
            .into()),
            None => {
                self.at.insert(key, self.items.len());
                self.items.push((item, conditional));
                Ok(())
            }
        }
    }

    fn into_items(self) -> Vec<TransactWriteItem> {
        self.items.into_iter().map(|(item, _)| item).collect()
    }
}

#[async_trait]
impl Commit for DynamoDbStore {
    async fn commit(&self, batch: WriteBatch) -> Result<(), CommitError> {
        if batch.is_empty() {
            return Ok(());
        }
        let items = self.transact_items(batch)?;
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(corrupt(format!(
                "a batch of {} items is more than one DynamoDB transaction takes ({MAX_TRANSACTION_ITEMS})",
                items.len()
            ))
            .into());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(commit_error)
    }
}

#[async_trait]
impl Records for DynamoDbStore {
    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        let item = self.get(keys::order_pk(order), keys::ORDER_SK).await?;
        item.map(|item| codec::order_from_item(&item)).transpose()
    }

    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        let item = self.get(keys::hold_pk(id), keys::HOLD_SK).await?;
        item.map(|item| doc(&item)).transpose()
    }

    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError> {
        let item = self.get(keys::notice_pk(id), keys::NOTICE_SK).await?;
        item.map(|item| doc(&item)).transpose()
    }

    async fn page_kept(&self, hold: &HoldId, digest: &str) -> Result<bool, StoreError> {
        Ok(self.get(keys::hold_pk(hold), &keys::page_sk(digest)).await?.is_some())
    }

    async fn action(&self, id: &ActionId) -> Result<Option<MallAction>, StoreError> {
        let item = self.get(keys::action_pk(id), keys::ACTION_SK).await?;
        item.map(|item| doc(&item)).transpose()
    }
}

#[async_trait]
impl IngestStore for DynamoDbStore {
    async fn ingest_snapshot(
        &self,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        let now = self.clock.now();
        let unique: Vec<&IdentityKey> = keys.iter().collect::<BTreeSet<_>>().into_iter().collect();
        let windows =
            futures_util::future::try_join_all(unique.iter().map(|key| self.key_window(key, from, now))).await?;
        let mut versions = HashMap::new();
        let mut entries: Vec<IndexEntry> = vec![];
        let mut blacklisted: Vec<BlacklistMark> = vec![];
        for (key, window) in unique.iter().zip(windows) {
            versions.insert(*key, window.head);
            blacklisted.extend(window.marks);
            for entry in window.entries {
                if entry.placed_at < from || entry.placed_at > to {
                    continue;
                }
                // Upserted by (key, order): an order's entries keep its placed_at, so one (key, order) is
                // one item; should a moved time ever leave two, the snapshot still shows one.
                if !entries.iter().any(|e| e.key == entry.key && e.order == entry.order) {
                    entries.push(entry);
                }
            }
        }
        let heads = keys
            .iter()
            .map(|key| Head {
                key: key.clone(),
                version: versions.get(key).copied().unwrap_or(0),
            })
            .collect();
        // A stored copy of this order has entries at its own placed_at, inside the window: only then is
        // it worth a GetItem. The use case asks for it itself after a conflict.
        let existing = if entries.iter().any(|e| &e.order == order) {
            self.order(order).await?
        } else {
            None
        };
        // The embedded store's order: by key, then by entry.
        blacklisted.sort_by(|a, b| (&a.key, &a.entry).cmp(&(&b.key, &b.entry)));
        Ok(IngestSnapshot {
            existing,
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
        let now = self.clock.now();
        let unique: Vec<&IdentityKey> = keys.iter().collect::<BTreeSet<_>>().into_iter().collect();
        let windows =
            futures_util::future::try_join_all(unique.iter().map(|key| self.key_window(key, from, now))).await?;
        let mut entries: Vec<IndexEntry> = vec![];
        for window in windows {
            for entry in window.entries {
                if entry.placed_at < from || entry.placed_at > to {
                    continue;
                }
                if !entries.iter().any(|e| e.key == entry.key && e.order == entry.order) {
                    entries.push(entry);
                }
            }
        }
        Ok(entries)
    }

    async fn delivery_digest(&self, delivery: &str) -> Result<Option<PayloadDigest>, StoreError> {
        let item = self.get(keys::delivery_pk(delivery), keys::DELIVERY_SK).await?;
        Ok(item.as_ref().map(codec::delivery_digest).transpose()?.flatten())
    }
}

#[async_trait]
impl SweepStore for DynamoDbStore {
    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError> {
        self.due(keys::DUE_HOLD, now, limit, |item| {
            let hold: Hold = doc(&item)?;
            // The key's time is exact except for clamped far-past times; the doc decides.
            Ok(hold.next_due().is_some_and(|due| due <= now).then_some(hold))
        })
        .await
    }

    async fn pending_notices(&self, now: Timestamp, limit: usize) -> Result<Vec<Notice>, StoreError> {
        self.due(keys::DUE_NOTICE, now, limit, |item| {
            let notice: Notice = doc(&item)?;
            Ok((notice.state == NoticeState::Pending && notice.next_attempt_at <= now).then_some(notice))
        })
        .await
    }

    async fn pending_actions(&self, now: Timestamp, limit: usize) -> Result<Vec<MallAction>, StoreError> {
        self.due(keys::DUE_ACTION, now, limit, |item| {
            let action: MallAction = doc(&item)?;
            Ok((action.state == ActionState::Pending && action.next_attempt_at <= now).then_some(action))
        })
        .await
    }
}

#[async_trait]
impl StaffStore for DynamoDbStore {
    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        let now = self.clock.now();
        let query = self
            .partition_query(KeySchema::Lookup, keys::order_lookup_pk(mall, order_id), None)
            // The refs only: the orders themselves (raw payloads included) stay where they are. Order items
            // (by their id) and number items (by the number buyers know) both name the order by its pk.
            .projection_expression("#opk, #exp")
            .expression_attribute_names("#opk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT);
        let found = self
            .query(query, None, |item| {
                let Some(item) = live(item, now)? else { return Ok(None) };
                let pk = str_attr(&item, PK)?;
                let key = keys::order_key_of(pk)
                    .ok_or_else(|| corrupt(format!("{pk:?} in the lookup index is not an order")))?;
                OrderRef::parse_key(key)
                    .map(Some)
                    .map_err(|e| corrupt(format!("order key {key:?}: {e}")))
            })
            .await?;
        // Each order once, should its id and its number ever both match.
        Ok(found.into_iter().collect::<BTreeSet<_>>().into_iter().collect())
    }

    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError> {
        let now = self.clock.now();
        let mut query = self
            .partition_query(KeySchema::Lookup, keys::HOLDS_PK.to_owned(), None)
            // Newest first: the sort key starts with the creation time.
            .scan_index_forward(false);
        if open_only {
            query = query
                .filter_expression("#state = :held")
                .expression_attribute_names("#state", STATE)
                .expression_attribute_values(":held", s(HoldState::Held.as_str()));
        }
        self.query(query, None, |item| match live(item, now)? {
            Some(item) => {
                let hold: Hold = doc(&item)?;
                Ok((!open_only || hold.state == HoldState::Held).then_some(hold))
            }
            None => Ok(None),
        })
        .await
    }

    async fn pages(&self, hold: &HoldId) -> Result<Vec<KeptPage>, StoreError> {
        let now = self.clock.now();
        let query = self
            .partition_query(KeySchema::Table, keys::hold_pk(hold), Some("begins_with(#sk, :p)"))
            .expression_attribute_values(":p", s(keys::PAGE_PREFIX));
        let mut pages = self
            .query(query, None, |item| {
                live(item, now)?.map(|item| codec::page_from_item(&item)).transpose()
            })
            .await?;
        pages.sort_by(|a, b| (a.shown_at, &a.shown.digest).cmp(&(b.shown_at, &b.shown.digest)));
        Ok(pages)
    }

    async fn history(&self, order: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        let query = self
            .partition_query(KeySchema::Table, keys::order_pk(order), Some("begins_with(#sk, :h)"))
            .expression_attribute_values(":h", s(keys::HISTORY_PREFIX))
            .scan_index_forward(true);
        self.query(query, None, |item| doc(&item).map(Some)).await
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let now = self.clock.now();
        let query = self.partition_query(KeySchema::Table, keys::QUARANTINE_PK.to_owned(), None);
        let mut found = self
            .query(query, None, |item| match live(item, now)? {
                Some(item) => codec::quarantined_from_item(&item).map(Some),
                None => Ok(None),
            })
            .await?;
        // The embedded store's order: oldest first.
        found.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(found)
    }

    async fn blacklist(&self) -> Result<Vec<BlacklistEntry>, StoreError> {
        let query = self
            .partition_query(
                KeySchema::Table,
                keys::BLACKLIST_PK.to_owned(),
                Some("begins_with(#sk, :b)"),
            )
            .expression_attribute_values(":b", s(keys::BLACKLIST_PREFIX));
        let mut found: Vec<BlacklistEntry> = self.query(query, None, |item| doc(&item).map(Some)).await?;
        // Newest first, as the embedded store lists them (the sort key is the id, so the client sorts: a
        // blacklist is a shop's few dozen customers, not a table's worth).
        found.sort_by(|a, b| b.added_at.cmp(&a.added_at).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn blacklist_entry(&self, id: &BlacklistId) -> Result<Option<BlacklistEntry>, StoreError> {
        let item = self.get(keys::BLACKLIST_PK.to_owned(), &keys::blacklist_sk(id)).await?;
        item.map(|item| doc(&item)).transpose()
    }

    async fn shop_settings(&self) -> Result<Vec<ShopSettings>, StoreError> {
        let query = self.partition_query(KeySchema::Table, keys::SHOPS_PK.to_owned(), None);
        let mut found: Vec<ShopSettings> = self.query(query, None, |item| doc(&item).map(Some)).await?;
        // The sort key orders malls by name (`amazon` first); the domain's order is `Mall`'s (Shopify first).
        found.sort_by(|a, b| (a.mall, &a.shop).cmp(&(b.mall, &b.shop)));
        Ok(found)
    }
}

#[async_trait]
impl CursorStore for DynamoDbStore {
    async fn cursor(&self, mall: Mall, shop: &ShopId) -> Result<Option<PollCursor>, StoreError> {
        let item = self.get(keys::cursor_pk(mall, shop), keys::CURSOR_SK).await?;
        item.map(|item| doc(&item)).transpose()
    }
}
