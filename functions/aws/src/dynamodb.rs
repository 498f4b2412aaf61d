//! The DynamoDB store: every mallguard item in one table (DESIGN.md §4–§6, §10), defined in
//! `infra/template.yaml` (`pk`/`sk` strings; GSI `due` on `gsi1pk`/`gsi1sk`; GSI `lookup` on
//! `gsi2pk`/`gsi2sk`; TTL attribute `expires_at`).
//!
//! # Item catalogue
//!
//! Times in keys are *sortable UTC strings*, `2026-11-23T03:00:00.000000000Z` (fixed width, nanoseconds,
//! so string order is time order; times before year 0 clamp to year 0 and every read re-checks the exact
//! time in the item's `doc`). `doc` is the domain type as JSON: the exact round trip the contract suite
//! asks for, with no second schema to drift. `expires_at` is epoch seconds: the write's wall-clock
//! time plus the retention period (default 180 days), so personal data goes [`DEFAULT_RETENTION`] after
//! it was last written. TTL deletion lags up to two days, so **every read drops items whose
//! `expires_at` is past**, and `Expect::Absent` counts an expired item as absent.
//!
//! | item | pk | sk | GSI keys | other attributes | TTL | access pattern |
//! |---|---|---|---|---|---|---|
//! | order | `ORDER#{mall}/{shop}/{order id}` | `ORDER` | `lookup`: `MALLORDER#{mall}#{order id}` / `{shop}` | `version` N, `doc` S (StoredOrder without `raw`), `raw` B (zlib) | yes | GetItem by ref; `orders_with_id` Queries `lookup` |
//! | match-index entry | `KEY#{identity key}` | `AT#{placed_at}#{order key}` | – | `doc` S (IndexEntry: hashes only) | yes | the ingest Query below |
//! | head | `KEY#{identity key}` | `~HEAD` | – | `version` N | yes, refreshed by every bump | the ingest Query below; bumped under a condition by every decision |
//! | hold | `HOLD#{hold id}` | `HOLD` | `due` while held: `DUE#HOLD` / `{next_due}#{id}`; `lookup`: `HOLDS` / `{created_at}#{id}` | `version` N, `state` S, `doc` S | yes | GetItem; `due_holds` Queries `due`; `holds` Queries `lookup` newest first |
//! | notice | `NOTICE#{notice id}` | `NOTICE` | `due` while pending: `DUE#NOTICE` / `{next_attempt_at}#{id}` | `version` N, `doc` S (the rendered mail) | yes | GetItem; `pending_notices` Queries `due` |
//! | history | the order's pk | `H#{commit time}#{writer}#{index}` | – | `doc` S (HistoryEntry: digests, ids, no personal data) | **none** (the evidence for disputes) | Query `begins_with(sk, "H#")`, ascending |
//! | quarantined payload | `QUARANTINE` | `Q#{id}` | – | `version` N (always 0), `doc` S, `raw` B (zlib) | yes | Query pk `QUARANTINE` |
//! | delivery id | `DELIVERY#{id}` | `DELIVERY` | – | – | 7 days | GetItem |
//! | blacklist (planned) | `KEY#{identity key}` | `BLOCKED` | – | – | – | the ingest Query reads it for free: `AT#…` < `BLOCKED` < `~HEAD` |
//!
//! **The ingest Query.** One Query per identity key of the new order, all run concurrently:
//! `pk = KEY#{key} AND sk BETWEEN AT#{from} AND ~HEAD`, descending, strongly consistent, paginated.
//! `~HEAD` sorts after every `AT#…`, so this one range holds the window's entries (plus the rare entry
//! placed after `to`, dropped on the client: a filter expression cannot name the sort key, and a filtered
//! item is billed all the same) and the head. Descending order reads the head *first*: a decision that
//! commits after that read bumps the head and makes this decision's commit fail, and one that committed
//! before it has its entries in place for the rest of the read. (DynamoDB gives a Query read-committed
//! isolation per item, so in theory one concurrent transaction could be seen half-applied between the
//! head and its entry; the window is the time DynamoDB takes to apply one transaction's two items in
//! one partition.) A new order that no entry names costs these Queries and one TransactWriteItems —
//! no GetItem; an entry that names the order itself (a redelivery) costs one GetItem of the order.
//!
//! **Commit.** A [`WriteBatch`] is one `TransactWriteItems` (at most 100 items; a domain batch holds far
//! fewer, a larger one is refused as `Corrupt`). Heads are Updates that set `version + 1` under
//! `attribute_not_exists(pk)` (read as version 0) or `version = :read`; items with an [`Expect`] are whole
//! Puts (so a settled hold loses its `due` keys and the index stays sparse) under
//! `attribute_not_exists(pk) OR expires_at <= :now` (Absent), `version = :v` (Version) or nothing (Any);
//! index entries, history and deliveries are unconditional Puts. The SDK sets the transaction's
//! `ClientRequestToken` once per call, before its retries, so a retry of a transaction whose answer was
//! lost succeeds instead of failing its own conditions.
//!
//! **History order.** The contract wants history back in the order it was written, whatever the
//! entries' own times (a test clock freezes them; a late mall event may go back in time). So the sort
//! key is the commit's wall-clock instant (strictly increasing within a process), a random id of the
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
//! **Hot keys.** `DUE#HOLD`, `DUE#NOTICE`, `HOLDS` and `QUARANTINE` are one partition each. They hold
//! only holds, notices and quarantined payloads, which are rare next to orders; orders, entries and
//! heads spread over one partition per order and per customer key.
//!
//! **Consistency.** Reads of the base table are strongly consistent. The two GSIs are eventually
//! consistent: the sweep may see a hold a moment after it was settled, and then its conditional write
//! fails and it skips the hold, which is what the domain expects of a sweep that lost a race.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::history::HistoryEntry;
use mallguard_domain::hold::{Hold, HoldState};
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef};
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::{Notice, NoticeId, NoticeState};
use mallguard_domain::ports::{
    CommitError, Expect, Head, IngestSnapshot, Quarantined, Store, StoreError, StoredOrder, WriteBatch,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::counting::RequestCounts;

/// How long personal data is kept after it was last written (DESIGN.md §10).
pub const DEFAULT_RETENTION: SignedDuration = SignedDuration::from_hours(180 * 24);
/// How long a webhook delivery id is remembered: malls retry for hours (Shopify: 4), not weeks.
pub const DELIVERY_RETENTION: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The most items DynamoDB takes in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

type Item = HashMap<String, AttributeValue>;

// Attribute names.
const PK: &str = "pk";
const SK: &str = "sk";
const GSI1PK: &str = "gsi1pk";
const GSI1SK: &str = "gsi1sk";
const GSI2PK: &str = "gsi2pk";
const GSI2SK: &str = "gsi2sk";
const VERSION: &str = "version";
const DOC: &str = "doc";
const RAW: &str = "raw";
const STATE: &str = "state";
const EXPIRES_AT: &str = "expires_at";

// Index names, as in infra/template.yaml.
const DUE_INDEX: &str = "due";
const LOOKUP_INDEX: &str = "lookup";

// Fixed keys.
const ORDER_SK: &str = "ORDER";
const HEAD_SK: &str = "~HEAD";
const HOLD_SK: &str = "HOLD";
const NOTICE_SK: &str = "NOTICE";
const DELIVERY_SK: &str = "DELIVERY";
const QUARANTINE_PK: &str = "QUARANTINE";
const DUE_HOLD: &str = "DUE#HOLD";
const DUE_NOTICE: &str = "DUE#NOTICE";
const HOLDS_PK: &str = "HOLDS";
const ENTRY_PREFIX: &str = "AT#";
const HISTORY_PREFIX: &str = "H#";

/// A [`Store`] over one DynamoDB table laid out as the [module docs](self) describe. Cheap to clone:
/// clones share the SDK client.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    retention: SignedDuration,
    page_size: Option<i32>,
    counts: RequestCounts,
    /// Random per store: two writers that append history to one order in the same nanosecond still
    /// write two items.
    writer: u64,
}

impl DynamoDbStore {
    /// A store over `table`, keeping personal data for `retention` after it was last written
    /// ([`DEFAULT_RETENTION`] in production; a negative one makes every item born expired, for tests).
    pub fn new(client: Client, table: String, retention: SignedDuration) -> Self {
        Self {
            client,
            table,
            retention,
            page_size: None,
            counts: RequestCounts::default(),
            writer: std::collections::hash_map::RandomState::new().build_hasher().finish(),
        }
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

    /// The SDK client.
    /// Opens the connection to DynamoDB during a cold start with one cheap read of a key that never
    /// exists, so the first order after a cold start does not pay the TLS handshake (most of a second at
    /// 128 MB). Failures are only logged: the first real request will report them properly.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S("WARMUP".into()))
            .key("sk", AttributeValue::S("WARMUP".into()))
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %DisplayErrorContext(&err), "DynamoDB warm-up failed");
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn expires_at(&self, now: Timestamp, retention: SignedDuration) -> AttributeValue {
        n(now.as_second().saturating_add(retention.as_secs()))
    }

    // ---------------------------------------------------------------------------------------------
    // Reads

    async fn get(&self, pk: String, sk: &str, now: Timestamp) -> Result<Option<Item>, StoreError> {
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
    fn partition_query(&self, keys: Keys, pk: String, sort_condition: Option<&str>) -> QueryFluentBuilder {
        let (index, pk_attr, sk_attr) = match keys {
            Keys::Table => (None, PK, SK),
            Keys::Due => (Some(DUE_INDEX), GSI1PK, GSI1SK),
            Keys::Lookup => (Some(LOOKUP_INDEX), GSI2PK, GSI2SK),
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

    /// The head version and the live entries of `key` placed at or after `from` (entries after the window
    /// are dropped by the caller, which knows `to`).
    async fn key_window(
        &self,
        key: &IdentityKey,
        from: Timestamp,
        now: Timestamp,
    ) -> Result<(u64, Vec<IndexEntry>), StoreError> {
        let query = self
            .partition_query(Keys::Table, key_pk(key), Some("#sk BETWEEN :from AND :head"))
            .expression_attribute_values(":from", s(format!("{ENTRY_PREFIX}{}", time_key(from))))
            .expression_attribute_values(":head", s(HEAD_SK))
            // Newest first, so the head comes first: see "The ingest Query" in the module docs.
            .scan_index_forward(false);
        let mut head = 0;
        let entries = self
            .query(query, None, |item| {
                if str_attr(&item, SK)? == HEAD_SK {
                    // A head is never dropped as expired: its version must be read as stored, or every
                    // decision would conflict until TTL deletes it.
                    head = version_attr(&item)?;
                    return Ok(None);
                }
                match live(item, now)? {
                    Some(item) => from_json::<IndexEntry>(str_attr(&item, DOC)?).map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        Ok((head, entries))
    }

    /// Items of one `due` partition whose sort key is at or before `now`, soonest first, at most `limit`.
    async fn due<T>(
        &self,
        partition: &str,
        now: Timestamp,
        limit: usize,
        mut keep: impl FnMut(Item) -> Result<Option<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let query = self
            .partition_query(Keys::Due, partition.to_owned(), Some("#sk <= :now"))
            // `~` sorts after every character of an id, so items due exactly at `now` are included.
            .expression_attribute_values(":now", s(format!("{}#~", time_key(now))))
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
        let now = Timestamp::now();
        let ttl = self.expires_at(now, self.retention);
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
                .key(PK, s(key_pk(&head.key)))
                .key(SK, s(HEAD_SK))
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
                (key_pk(&head.key), HEAD_SK.to_owned()),
                TransactWriteItem::builder().update(update).build(),
                true,
            )?;
        }

        for (mut stored, expect) in batch.orders {
            let order_ref = stored.order.order_ref.clone();
            let raw = compress(&std::mem::take(&mut stored.raw))?;
            let item = Item::from([
                (PK.into(), s(order_pk(&order_ref))),
                (SK.into(), s(ORDER_SK)),
                (VERSION.into(), n(stored.version)),
                (DOC.into(), s(to_json(&stored)?)),
                (RAW.into(), AttributeValue::B(raw.into())),
                (EXPIRES_AT.into(), ttl.clone()),
                (
                    GSI2PK.into(),
                    s(format!("MALLORDER#{}#{}", order_ref.mall, order_ref.order_id)),
                ),
                (GSI2SK.into(), s(order_ref.shop.as_str())),
            ]);
            self.put(&mut items, item, Some(expect), now)?;
        }

        for entry in batch.index {
            let item = Item::from([
                (PK.into(), s(key_pk(&entry.key))),
                (SK.into(), s(entry_sk(&entry))),
                (DOC.into(), s(to_json(&entry)?)),
                (EXPIRES_AT.into(), ttl.clone()),
            ]);
            self.put(&mut items, item, None, now)?;
        }

        for (hold, expect) in batch.holds {
            let mut item = Item::from([
                (PK.into(), s(format!("HOLD#{}", hold.id))),
                (SK.into(), s(HOLD_SK)),
                (VERSION.into(), n(hold.version)),
                (STATE.into(), s(hold.state.as_str())),
                (DOC.into(), s(to_json(&hold)?)),
                (EXPIRES_AT.into(), ttl.clone()),
                (GSI2PK.into(), s(HOLDS_PK)),
                (GSI2SK.into(), s(format!("{}#{}", time_key(hold.created_at), hold.id))),
            ]);
            // Only unsettled holds carry `due` keys: the sweep's index holds exactly what it watches.
            if let Some(due) = hold.next_due() {
                item.insert(GSI1PK.into(), s(DUE_HOLD));
                item.insert(GSI1SK.into(), s(format!("{}#{}", time_key(due), hold.id)));
            }
            self.put(&mut items, item, Some(expect), now)?;
        }

        for (notice, expect) in batch.notices {
            let mut item = Item::from([
                (PK.into(), s(format!("NOTICE#{}", notice.id))),
                (SK.into(), s(NOTICE_SK)),
                (VERSION.into(), n(notice.version)),
                (DOC.into(), s(to_json(&notice)?)),
                (EXPIRES_AT.into(), ttl.clone()),
            ]);
            if notice.state == NoticeState::Pending {
                item.insert(GSI1PK.into(), s(DUE_NOTICE));
                item.insert(
                    GSI1SK.into(),
                    s(format!("{}#{}", time_key(notice.next_attempt_at), notice.id)),
                );
            }
            self.put(&mut items, item, Some(expect), now)?;
        }

        // History comes back in commit order, not by the entries' own times (which may go backwards, and
        // which a test clock may freeze): the sort key is this commit's wall-clock instant, made strictly
        // increasing within the process, then the writer, then the place in the batch.
        if !batch.history.is_empty() {
            let instant = time_key(commit_instant());
            for (i, entry) in batch.history.into_iter().enumerate() {
                let item = Item::from([
                    (PK.into(), s(order_pk(&entry.order))),
                    (
                        SK.into(),
                        s(format!("{HISTORY_PREFIX}{instant}#{:016x}#{i:04}", self.writer)),
                    ),
                    (DOC.into(), s(to_json(&entry)?)),
                ]);
                self.put(&mut items, item, None, now)?;
            }
        }

        for (mut quarantined, expect) in batch.quarantine {
            let raw = compress(&std::mem::take(&mut quarantined.raw))?;
            let item = Item::from([
                (PK.into(), s(QUARANTINE_PK)),
                (SK.into(), s(format!("Q#{}", quarantined.id))),
                // Quarantined payloads carry no version; an existing one counts as version 0.
                (VERSION.into(), n(0)),
                (DOC.into(), s(to_json(&quarantined)?)),
                (RAW.into(), AttributeValue::B(raw.into())),
                (EXPIRES_AT.into(), ttl.clone()),
            ]);
            self.put(&mut items, item, Some(expect), now)?;
        }

        // A store whose items are born expired (tests) expires its deliveries too.
        let delivery_ttl = self.expires_at(now, DELIVERY_RETENTION.min(self.retention));
        for delivery in batch.deliveries {
            let item = Item::from([
                (PK.into(), s(format!("DELIVERY#{delivery}"))),
                (SK.into(), s(DELIVERY_SK)),
                (EXPIRES_AT.into(), delivery_ttl.clone()),
            ]);
            self.put(&mut items, item, None, now)?;
        }

        Ok(items.into_items())
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
impl Store for DynamoDbStore {
    async fn ingest_snapshot(
        &self,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        let now = Timestamp::now();
        let unique: Vec<&IdentityKey> = keys.iter().collect::<BTreeSet<_>>().into_iter().collect();
        let windows =
            futures_util::future::try_join_all(unique.iter().map(|key| self.key_window(key, from, now))).await?;
        let mut versions = HashMap::new();
        let mut entries: Vec<IndexEntry> = vec![];
        for (key, (version, found)) in unique.iter().zip(windows) {
            versions.insert(*key, version);
            for entry in found {
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
        Ok(IngestSnapshot {
            existing,
            entries,
            heads,
        })
    }

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

    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        let Some(item) = self.get(order_pk(order), ORDER_SK, Timestamp::now()).await? else {
            return Ok(None);
        };
        let mut stored: StoredOrder = from_json(str_attr(&item, DOC)?)?;
        stored.raw = decompress(bytes_attr(&item, RAW)?)?;
        Ok(Some(stored))
    }

    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        let now = Timestamp::now();
        let query = self
            .partition_query(Keys::Lookup, format!("MALLORDER#{mall}#{order_id}"), None)
            // The refs only: the orders themselves (raw payloads included) stay where they are.
            .projection_expression("#opk, #exp")
            .expression_attribute_names("#opk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT);
        self.query(query, None, |item| {
            let Some(item) = live(item, now)? else { return Ok(None) };
            let pk = str_attr(&item, PK)?;
            let key = pk
                .strip_prefix("ORDER#")
                .ok_or_else(|| corrupt(format!("{pk:?} in the lookup index is not an order")))?;
            OrderRef::parse_key(key)
                .map(Some)
                .map_err(|e| corrupt(format!("order key {key:?}: {e}")))
        })
        .await
    }

    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        let item = self.get(format!("HOLD#{id}"), HOLD_SK, Timestamp::now()).await?;
        item.map(|item| from_json(str_attr(&item, DOC)?)).transpose()
    }

    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError> {
        let now = Timestamp::now();
        let mut query = self
            .partition_query(Keys::Lookup, HOLDS_PK.to_owned(), None)
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
                let hold: Hold = from_json(str_attr(&item, DOC)?)?;
                Ok((!open_only || hold.state == HoldState::Held).then_some(hold))
            }
            None => Ok(None),
        })
        .await
    }

    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError> {
        self.due(DUE_HOLD, now, limit, |item| {
            let hold: Hold = from_json(str_attr(&item, DOC)?)?;
            // The key's time is exact except for clamped far-past times; the doc decides.
            Ok(hold.next_due().is_some_and(|due| due <= now).then_some(hold))
        })
        .await
    }

    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError> {
        let item = self.get(format!("NOTICE#{id}"), NOTICE_SK, Timestamp::now()).await?;
        item.map(|item| from_json(str_attr(&item, DOC)?)).transpose()
    }

    async fn pending_notices(&self, now: Timestamp, limit: usize) -> Result<Vec<Notice>, StoreError> {
        self.due(DUE_NOTICE, now, limit, |item| {
            let notice: Notice = from_json(str_attr(&item, DOC)?)?;
            Ok((notice.state == NoticeState::Pending && notice.next_attempt_at <= now).then_some(notice))
        })
        .await
    }

    async fn history(&self, order: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        let query = self
            .partition_query(Keys::Table, order_pk(order), Some("begins_with(#sk, :h)"))
            .expression_attribute_values(":h", s(HISTORY_PREFIX))
            .scan_index_forward(true);
        self.query(query, None, |item| from_json(str_attr(&item, DOC)?).map(Some))
            .await
    }

    async fn delivery_seen(&self, delivery: &str) -> Result<bool, StoreError> {
        let item = self
            .get(format!("DELIVERY#{delivery}"), DELIVERY_SK, Timestamp::now())
            .await?;
        Ok(item.is_some())
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let now = Timestamp::now();
        let query = self.partition_query(Keys::Table, QUARANTINE_PK.to_owned(), None);
        let mut found = self
            .query(query, None, |item| {
                let Some(item) = live(item, now)? else { return Ok(None) };
                let mut quarantined: Quarantined = from_json(str_attr(&item, DOC)?)?;
                quarantined.raw = decompress(bytes_attr(&item, RAW)?)?;
                Ok(Some(quarantined))
            })
            .await?;
        // The embedded store's order: oldest first.
        found.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(found)
    }
}

// -------------------------------------------------------------------------------------------------
// Keys

fn order_pk(order: &OrderRef) -> String {
    format!("ORDER#{}", order.key())
}

fn key_pk(key: &IdentityKey) -> String {
    format!("KEY#{key}")
}

fn entry_sk(entry: &IndexEntry) -> String {
    format!("{ENTRY_PREFIX}{}#{}", time_key(entry.placed_at), entry.order.key())
}

/// A time as a fixed-width UTC string whose string order is time order:
/// `2026-11-23T03:00:00.000000000Z`. Times before year 0 clamp to year 0 (the order is kept, never
/// reversed; readers re-check exact times in the item's doc).
pub fn time_key(at: Timestamp) -> String {
    let dt = jiff::tz::Offset::UTC.to_datetime(at);
    if dt.year() < 0 {
        return "0000-01-01T00:00:00.000000000Z".to_owned();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond()
    )
}

/// The wall-clock instant of a commit, strictly later than every earlier one of this process, so two
/// commits in the same nanosecond (or a clock step back) still keep their history in commit order.
fn commit_instant() -> Timestamp {
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = i64::try_from(Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Timestamp::from_nanosecond(i128::from(next)).unwrap_or(Timestamp::MAX),
            Err(seen) => last = seen,
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Attributes

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt(message.into())
}

fn str_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        other => Err(corrupt(format!("attribute {name} is not a string: {other:?}"))),
    }
}

fn bytes_attr<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], StoreError> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Ok(value.as_ref()),
        other => Err(corrupt(format!(
            "attribute {name} is not binary: {:?}",
            other.map(|_| "another type")
        ))),
    }
}

fn number_attr(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(Some)
            .map_err(|_| corrupt(format!("attribute {name} is not an integer: {value:?}"))),
        Some(other) => Err(corrupt(format!("attribute {name} is not a number: {other:?}"))),
    }
}

fn version_attr(item: &Item) -> Result<u64, StoreError> {
    let version = number_attr(item, VERSION)?.ok_or_else(|| corrupt("an item has no version"))?;
    u64::try_from(version).map_err(|_| corrupt(format!("version {version} is negative")))
}

/// The item if it is not past its TTL (DynamoDB deletes expired items up to two days late).
fn live(item: Item, now: Timestamp) -> Result<Option<Item>, StoreError> {
    Ok(match number_attr(&item, EXPIRES_AT)? {
        Some(expires_at) if expires_at <= now.as_second() => None,
        _ => Some(item),
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("an item does not serialise: {e}")))
}

fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(format!("an item does not read back: {e}")))
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2 + 16), Compression::default());
    encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|e| corrupt(format!("cannot compress a payload: {e}")))
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut raw = Vec::with_capacity(blob.len() * 3);
    ZlibDecoder::new(blob)
        .read_to_end(&mut raw)
        .map_err(|e| corrupt(format!("a stored payload does not decompress: {e}")))?;
    Ok(raw)
}

// -------------------------------------------------------------------------------------------------
// Errors

/// The key schemas a Query can use.
#[derive(Debug, Clone, Copy)]
enum Keys {
    Table,
    /// The sparse `due` index: unsettled holds and pending notices by time.
    Due,
    /// The `lookup` index: holds by creation time, orders by mall order id.
    Lookup,
}

/// Service errors that pass with time: the SDK has already retried them with backoff.
trait Transient {
    fn is_transient(&self) -> bool;
}

/// The errors every DynamoDB operation shares that pass with time, plus any of the operation's own.
macro_rules! transient {
    ($error:ident $(, $own:ident)*) => {
        impl Transient for $error {
            fn is_transient(&self) -> bool {
                matches!(
                    self,
                    $error::ProvisionedThroughputExceededException(_)
                        | $error::RequestLimitExceeded(_)
                        | $error::ThrottlingException(_)
                        | $error::InternalServerError(_)
                        | $error::InvalidEndpointException(_)
                        $(| $error::$own(_))*
                )
            }
        }
    };
}

transient!(QueryError);
transient!(GetItemError);
// TransactionInProgress: the same idempotency token is still being applied; its outcome comes shortly.
transient!(TransactWriteItemsError, TransactionInProgressException);

/// Maps a failed call: what may pass is `Unavailable`, the rest is a bug (`Corrupt`).
fn store_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: Transient + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => service.err().is_transient() || service.raw().status().is_server_error(),
        // Building the request failed: nothing was sent, and sending it again fails the same way.
        _ => false,
    };
    let message = describe(operation, &err);
    if transient {
        tracing::warn!(operation, error = %message, "DynamoDB unavailable");
        StoreError::Unavailable(message)
    } else {
        tracing::error!(operation, error = %message, "DynamoDB refused a request");
        StoreError::Corrupt(message)
    }
}

/// A one-line account of a failed call: the service's error code and message (never the request, which
/// may carry personal data), or the chain of causes of a failure to get an answer at all.
fn describe<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => format!(
            "DynamoDB {operation}: {} (HTTP {}): {}",
            service.err().code().unwrap_or("unknown error"),
            service.raw().status().as_u16(),
            service.err().message().unwrap_or("no message")
        ),
        other => format!("DynamoDB {operation}: {}", DisplayErrorContext(other)),
    }
}

fn commit_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> CommitError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .filter_map(|reason| reason.code())
            .filter(|code| *code != "None")
            .collect();
        let any = |wanted: &[&str]| codes.iter().any(|code| wanted.contains(code));
        // A validation error fails the same way every time, whatever else happened.
        if !any(&["ValidationError"]) {
            if any(&["ConditionalCheckFailed", "TransactionConflict"]) {
                return CommitError::Conflict;
            }
            if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
                return CommitError::Store(StoreError::Unavailable(format!(
                    "DynamoDB TransactWriteItems cancelled: {codes:?}"
                )));
            }
        }
        let message = format!("{} {codes:?}", describe("TransactWriteItems", &err));
        tracing::error!(error = %message, "DynamoDB refused a transaction");
        return CommitError::Store(StoreError::Corrupt(message));
    }
    CommitError::Store(store_error("TransactWriteItems", err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_as_times_do() {
        let times: Vec<Timestamp> = [
            "0001-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2001-01-01T06:00:00Z",
            "2001-01-01T06:00:00.000000001Z",
            "2026-11-23T03:00:00.1Z",
            "2026-11-23T03:00:00.123456789Z",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .chain([Timestamp::MAX])
        .collect();
        for pair in times.windows(2) {
            assert!(time_key(pair[0]) < time_key(pair[1]), "{} vs {}", pair[0], pair[1]);
        }
        assert_eq!(time_key(times[4]), "2026-11-23T03:00:00.100000000Z");
        assert_eq!(time_key(Timestamp::MIN), "0000-01-01T00:00:00.000000000Z");
        assert!(time_key(Timestamp::MIN) <= time_key(times[0]));
    }

    #[test]
    fn a_due_bound_includes_items_due_exactly_then_and_no_later_ones() {
        let now: Timestamp = "2001-01-01T06:00:00Z".parse().unwrap();
        let bound = format!("{}#~", time_key(now));
        let id = "h0123456789abcdef0123";
        assert!(format!("{}#{id}", time_key(now)) <= bound);
        let later = now.checked_add(SignedDuration::from_nanos(1)).unwrap();
        assert!(format!("{}#{id}", time_key(later)) > bound);
        assert!(format!("{}#q1.staff_quarantine", time_key(now)) <= bound);
    }

    #[test]
    fn the_head_sorts_after_every_index_entry() {
        let latest = format!("{ENTRY_PREFIX}{}#own/shop/id", time_key(Timestamp::MAX));
        assert!(latest.as_str() < HEAD_SK);
        assert!("BLOCKED" > latest.as_str() && "BLOCKED" < HEAD_SK);
    }

    #[test]
    fn commit_instants_strictly_increase() {
        let mut last = commit_instant();
        for _ in 0..10_000 {
            let next = commit_instant();
            assert!(next > last);
            last = next;
        }
    }

    #[test]
    fn payloads_round_trip_through_compression() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(decompress(&compress(&raw).unwrap()).unwrap(), raw);
        assert_eq!(decompress(&compress(&[]).unwrap()).unwrap(), Vec::<u8>::new());
        assert!(matches!(decompress(b"not zlib"), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn expired_items_are_dropped_and_malformed_ttls_are_corrupt() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let at = |secs: i64| Item::from([(EXPIRES_AT.to_owned(), n(secs))]);
        assert!(live(at(now.as_second() + 1), now).unwrap().is_some());
        assert!(live(at(now.as_second()), now).unwrap().is_none());
        assert!(live(Item::new(), now).unwrap().is_some());
        let bad = Item::from([(EXPIRES_AT.to_owned(), s("tomorrow"))]);
        assert!(matches!(live(bad, now), Err(StoreError::Corrupt(_))));
    }
}
