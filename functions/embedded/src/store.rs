//! The embedded store: one SQLite file, for the local stack and the tests.
//!
//! Every item is kept as its JSON next to the few columns a query filters or sorts on (versions, states,
//! times). Times are integers (Unix nanoseconds) so SQL orders them correctly; raw payloads are
//! zlib-compressed blobs. A commit is one `BEGIN IMMEDIATE` transaction that checks every condition of
//! the batch before it writes anything, which gives the same all-or-nothing guarantee as one DynamoDB
//! `TransactWriteItems`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use jiff::Timestamp;
use mallguard_domain::history::HistoryEntry;
use mallguard_domain::hold::Hold;
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef};
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::{Notice, NoticeId, NoticeState};
use mallguard_domain::ports::{
    Clock, Commit, CommitError, Expect, Head, IngestSnapshot, IngestStore, Quarantined, Records, StaffStore,
    StoreError, StoredOrder, SweepStore, SystemClock, WriteBatch,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The schema this build writes, kept in SQLite's `user_version`. A file written by a newer build is
/// refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process holding the file's write lock before giving up with
/// `Unavailable` (the caller then answers 503 and the mall retries).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    key      TEXT PRIMARY KEY NOT NULL,
    version  INTEGER NOT NULL,
    json     TEXT NOT NULL,
    raw      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS index_entries (
    key        TEXT NOT NULL,
    order_key  TEXT NOT NULL,
    placed_at  INTEGER NOT NULL,
    json       TEXT NOT NULL,
    PRIMARY KEY (key, order_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_entries_by_time ON index_entries (key, placed_at);
CREATE TABLE IF NOT EXISTS heads (
    key      TEXT PRIMARY KEY NOT NULL,
    version  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (
    id          TEXT PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    next_due    INTEGER,
    created_at  INTEGER NOT NULL,
    json        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_by_next_due ON holds (next_due);
CREATE INDEX IF NOT EXISTS holds_by_created_at ON holds (created_at);
CREATE TABLE IF NOT EXISTS notices (
    id               TEXT PRIMARY KEY NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    json             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notices_by_next_attempt ON notices (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_key  TEXT NOT NULL,
    at         INTEGER NOT NULL,
    json       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_order ON history (order_key, seq);
CREATE TABLE IF NOT EXISTS quarantine (
    id           TEXT PRIMARY KEY NOT NULL,
    received_at  INTEGER NOT NULL,
    json         TEXT NOT NULL,
    raw          BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id       TEXT PRIMARY KEY NOT NULL,
    seen_at  INTEGER NOT NULL
);
";

/// A [`Store`](mallguard_domain::ports::Store) in one SQLite database (a file, or memory for tests).
///
/// One connection behind a mutex: SQLite serialises writers anyway, and a single connection keeps the
/// prepared-statement cache warm. Every call runs on tokio's blocking pool so a slow disk or a lock held
/// by another process never stalls the async runtime. Clones share the connection and the clock.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// When a delivery id was seen (`deliveries.seen_at`).
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating its folder and the schema when missing.
    ///
    /// The file is put in WAL mode so readers (e.g. `mallguard evidence` in another terminal) never block
    /// the writer. Fails with `Corrupt` when the file is not a database or has a newer schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("cannot create the folder {}: {e}", parent.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| Error::from(e).0)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| Error::from(e).0)?;
        // `journal_mode` answers with the mode in force, so it is read as a query, not executed.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| Error::from(e).0)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the store could not switch to WAL mode");
        }
        Self::with_schema(conn)
    }

    /// A private database in memory, gone when the store is dropped. For tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| Error::from(e).0)?;
        Self::with_schema(conn)
    }

    fn with_schema(mut conn: Connection) -> Result<Self, StoreError> {
        migrate(&mut conn).map_err(|e| e.0)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock: Arc::new(SystemClock),
        })
    }

    /// Takes "now" from `clock` (the system clock by default): the time a delivery id is recorded as
    /// seen.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave the connection mid-transaction: `Transaction` rolls back on
            // drop, so a poisoned lock still guards a usable connection.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn).map_err(|e| e.0)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the store's worker thread failed: {e}")))?
    }
}

/// Creates the schema in a fresh database and refuses one written by a newer build.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        SCHEMA_VERSION => {}
        other => {
            return Err(Error(StoreError::Corrupt(format!(
                "the database has schema version {other}; this build knows version {SCHEMA_VERSION}"
            ))));
        }
    }
    tx.commit()?;
    Ok(())
}

/// A `StoreError` that the `?` operator can make from SQLite, JSON and I/O errors.
#[derive(Debug)]
struct Error(StoreError);

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Self(err)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        let corrupt = match &err {
            rusqlite::Error::SqliteFailure(e, _) => matches!(e.code, DatabaseCorrupt | NotADatabase),
            // A column that does not read back as the type written: the data, not the service, is wrong.
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => true,
            // Busy, locked, full disk, I/O: may pass, so the caller retries.
            _ => false,
        };
        if corrupt {
            Self(StoreError::Corrupt(err.to_string()))
        } else {
            Self(StoreError::Unavailable(err.to_string()))
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self(StoreError::Corrupt(format!("an item does not read back: {err}")))
    }
}

/// A time as a sortable integer: Unix nanoseconds, clamped to what an `i64` holds (years 1677–2262).
///
/// Clamping keeps the order (it never reverses two times), and every query filters again on the exact
/// time in the item's JSON, so the rare far-future deadline is still answered exactly.
fn time_key(at: Timestamp) -> i64 {
    let ns = at.as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

fn version_col(version: u64) -> Result<i64, Error> {
    i64::try_from(version).map_err(|_| Error(StoreError::Corrupt(format!("version {version} is out of range"))))
}

fn to_json<T: Serialize>(item: &T) -> Result<String, Error> {
    Ok(serde_json::to_string(item)?)
}

fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    Ok(serde_json::from_str(json)?)
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2 + 16), Compression::default());
    encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error(StoreError::Unavailable(format!("cannot compress a payload: {e}"))))
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, Error> {
    let mut raw = Vec::with_capacity(blob.len() * 3);
    ZlibDecoder::new(blob).read_to_end(&mut raw).map_err(|e| {
        Error(StoreError::Corrupt(format!(
            "a stored payload does not decompress: {e}"
        )))
    })?;
    Ok(raw)
}

fn notice_state(state: NoticeState) -> &'static str {
    match state {
        NoticeState::Pending => "pending",
        NoticeState::Sent => "sent",
    }
}

/// Whether a put's condition holds against the stored item's version (`None`: no such item).
fn condition_holds(stored: Option<u64>, expect: Expect) -> bool {
    match expect {
        Expect::Absent => stored.is_none(),
        Expect::Version(v) => stored == Some(v),
        Expect::Any => true,
    }
}

fn stored_version(tx: &Transaction<'_>, sql: &str, id: &str) -> Result<Option<u64>, Error> {
    let version: Option<i64> = tx.prepare_cached(sql)?.query_row([id], |row| row.get(0)).optional()?;
    version
        .map(|v| u64::try_from(v).map_err(|_| Error(StoreError::Corrupt(format!("stored version {v} is negative")))))
        .transpose()
}

/// Whether every condition of `batch` holds right now.
fn conditions_hold(tx: &Transaction<'_>, batch: &WriteBatch) -> Result<bool, Error> {
    for head in &batch.heads {
        let stored = stored_version(tx, "SELECT version FROM heads WHERE key = ?1", head.key.as_str())?;
        if stored.unwrap_or(0) != head.version {
            return Ok(false);
        }
    }
    for (order, expect) in &batch.orders {
        let stored = stored_version(
            tx,
            "SELECT version FROM orders WHERE key = ?1",
            &order.order.order_ref.key(),
        )?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    for (hold, expect) in &batch.holds {
        let stored = stored_version(tx, "SELECT version FROM holds WHERE id = ?1", hold.id.as_str())?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    for (notice, expect) in &batch.notices {
        let stored = stored_version(tx, "SELECT version FROM notices WHERE id = ?1", notice.id.as_str())?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    for (item, expect) in &batch.quarantine {
        // Quarantined payloads carry no version: one that exists counts as version 0.
        let stored = stored_version(tx, "SELECT 0 FROM quarantine WHERE id = ?1", &item.id)?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes every item of `batch` at `now`; the conditions were checked in the same transaction.
fn write_batch(tx: &Transaction<'_>, batch: WriteBatch, now: Timestamp) -> Result<(), Error> {
    for head in &batch.heads {
        tx.prepare_cached(
            "INSERT INTO heads (key, version) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version",
        )?
        .execute(params![head.key.as_str(), version_col(head.version + 1)?])?;
    }
    for (mut order, _) in batch.orders {
        let raw = compress(&std::mem::take(&mut order.raw))?;
        tx.prepare_cached(
            "INSERT INTO orders (key, version, json, raw) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version, json = excluded.json, raw = excluded.raw",
        )?
        .execute(params![
            order.order.order_ref.key(),
            version_col(order.version)?,
            to_json(&order)?,
            raw
        ])?;
    }
    for entry in &batch.index {
        tx.prepare_cached(
            "INSERT INTO index_entries (key, order_key, placed_at, json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key, order_key) DO UPDATE SET placed_at = excluded.placed_at, json = excluded.json",
        )?
        .execute(params![
            entry.key.as_str(),
            entry.order.key(),
            time_key(entry.placed_at),
            to_json(entry)?
        ])?;
    }
    for (hold, _) in &batch.holds {
        tx.prepare_cached(
            "INSERT INTO holds (id, version, state, next_due, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state,
                 next_due = excluded.next_due, created_at = excluded.created_at, json = excluded.json",
        )?
        .execute(params![
            hold.id.as_str(),
            version_col(hold.version)?,
            hold.state.as_str(),
            hold.next_due().map(time_key),
            time_key(hold.created_at),
            to_json(hold)?
        ])?;
    }
    for (notice, _) in &batch.notices {
        tx.prepare_cached(
            "INSERT INTO notices (id, version, state, next_attempt_at, json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state,
                 next_attempt_at = excluded.next_attempt_at, json = excluded.json",
        )?
        .execute(params![
            notice.id.as_str(),
            version_col(notice.version)?,
            notice_state(notice.state),
            time_key(notice.next_attempt_at),
            to_json(notice)?
        ])?;
    }
    for entry in &batch.history {
        tx.prepare_cached("INSERT INTO history (order_key, at, json) VALUES (?1, ?2, ?3)")?
            .execute(params![entry.order.key(), time_key(entry.at), to_json(entry)?])?;
    }
    for (mut item, _) in batch.quarantine {
        let raw = compress(&std::mem::take(&mut item.raw))?;
        tx.prepare_cached(
            "INSERT INTO quarantine (id, received_at, json, raw) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET received_at = excluded.received_at, json = excluded.json,
                 raw = excluded.raw",
        )?
        .execute(params![item.id, time_key(item.received_at), to_json(&item)?, raw])?;
    }
    let seen_at = now.as_second();
    for delivery in &batch.deliveries {
        tx.prepare_cached("INSERT OR IGNORE INTO deliveries (id, seen_at) VALUES (?1, ?2)")?
            .execute(params![delivery, seen_at])?;
    }
    Ok(())
}

/// Commits `batch` at `now`, or returns `Ok(false)` and writes nothing when a condition fails.
fn commit_batch(conn: &mut Connection, batch: WriteBatch, now: Timestamp) -> Result<bool, Error> {
    // IMMEDIATE takes the write lock before the checks, so no other writer can slip in between the
    // reads of the versions and the writes that depend on them.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !conditions_hold(&tx, &batch)? {
        // Dropping the transaction rolls it back; nothing was written yet anyway.
        return Ok(false);
    }
    write_batch(&tx, batch, now)?;
    tx.commit()?;
    Ok(true)
}

fn read_order(conn: &Connection, order: &OrderRef) -> Result<Option<StoredOrder>, Error> {
    let row: Option<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT json, raw FROM orders WHERE key = ?1")?
        .query_row([order.key()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(json, raw)| {
        let mut stored: StoredOrder = from_json(&json)?;
        stored.raw = decompress(&raw)?;
        Ok(stored)
    })
    .transpose()
}

/// The JSON column of every row a query returns, decoded.
fn read_all<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<T>, Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| row.get::<_, String>(0))?;
    rows.map(|json| from_json(&json?)).collect()
}

fn read_one<T: DeserializeOwned>(conn: &Connection, sql: &str, id: &str) -> Result<Option<T>, Error> {
    let json: Option<String> = conn.prepare_cached(sql)?.query_row([id], |row| row.get(0)).optional()?;
    json.map(|json| from_json(&json)).transpose()
}

fn limit_col(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn snapshot(
    conn: &mut Connection,
    order: &OrderRef,
    keys: &[IdentityKey],
    from: Timestamp,
    to: Timestamp,
) -> Result<IngestSnapshot, Error> {
    // One read transaction: the order, the entries and the heads are all of the same moment, so a head
    // version read here vouches for the entries read with it.
    let tx = conn.transaction()?;
    let existing = read_order(&tx, order)?;
    let mut entries = vec![];
    let unique: BTreeSet<&IdentityKey> = keys.iter().collect();
    for key in unique {
        let found: Vec<IndexEntry> = read_all(
            &tx,
            "SELECT json FROM index_entries WHERE key = ?1 AND placed_at BETWEEN ?2 AND ?3 ORDER BY placed_at",
            params![key.as_str(), time_key(from), time_key(to)],
        )?;
        entries.extend(found.into_iter().filter(|e| e.placed_at >= from && e.placed_at <= to));
    }
    let mut heads = Vec::with_capacity(keys.len());
    for key in keys {
        let version = stored_version(&tx, "SELECT version FROM heads WHERE key = ?1", key.as_str())?;
        heads.push(Head {
            key: key.clone(),
            version: version.unwrap_or(0),
        });
    }
    tx.commit()?;
    Ok(IngestSnapshot {
        existing,
        entries,
        heads,
    })
}

fn read_quarantined(conn: &Connection) -> Result<Vec<Quarantined>, Error> {
    let mut stmt = conn.prepare_cached("SELECT json, raw FROM quarantine ORDER BY received_at, id")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
    rows.map(|row| {
        let (json, raw) = row?;
        let mut item: Quarantined = from_json(&json)?;
        item.raw = decompress(&raw)?;
        Ok(item)
    })
    .collect()
}

#[async_trait]
impl Commit for SqliteStore {
    async fn commit(&self, batch: WriteBatch) -> Result<(), CommitError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        match self.run(move |conn| commit_batch(conn, batch, now)).await? {
            true => Ok(()),
            false => Err(CommitError::Conflict),
        }
    }
}

#[async_trait]
impl Records for SqliteStore {
    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        let order = order.clone();
        self.run(move |conn| read_order(conn, &order)).await
    }

    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        let id = id.clone();
        self.run(move |conn| read_one(conn, "SELECT json FROM holds WHERE id = ?1", id.as_str()))
            .await
    }

    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError> {
        let id = id.clone();
        self.run(move |conn| read_one(conn, "SELECT json FROM notices WHERE id = ?1", id.as_str()))
            .await
    }
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn ingest_snapshot(
        &self,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        let (order, keys) = (order.clone(), keys.to_vec());
        self.run(move |conn| snapshot(conn, &order, &keys, from, to)).await
    }

    async fn delivery_seen(&self, delivery: &str) -> Result<bool, StoreError> {
        let delivery = delivery.to_owned();
        self.run(move |conn| {
            let seen = conn
                .prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")?
                .query_row([delivery], |_| Ok(()))
                .optional()?;
            Ok(seen.is_some())
        })
        .await
    }
}

#[async_trait]
impl SweepStore for SqliteStore {
    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError> {
        self.run(move |conn| {
            // `next_due` is NULL for settled holds, so the index holds exactly the holds the sweep watches.
            let holds: Vec<Hold> = read_all(
                conn,
                "SELECT json FROM holds WHERE next_due IS NOT NULL AND next_due <= ?1
                 ORDER BY next_due, id LIMIT ?2",
                params![time_key(now), limit_col(limit)],
            )?;
            Ok(holds
                .into_iter()
                .filter(|h| h.next_due().is_some_and(|due| due <= now))
                .collect())
        })
        .await
    }

    async fn pending_notices(&self, now: Timestamp, limit: usize) -> Result<Vec<Notice>, StoreError> {
        self.run(move |conn| {
            let notices: Vec<Notice> = read_all(
                conn,
                "SELECT json FROM notices WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
                params![time_key(now), limit_col(limit)],
            )?;
            Ok(notices.into_iter().filter(|n| n.next_attempt_at <= now).collect())
        })
        .await
    }
}

#[async_trait]
impl StaffStore for SqliteStore {
    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        // Keys are `mall/shop/order`: a range over the mall's keys, then the order id checked exactly. Only
        // staff look-ups take this path; matching never does.
        let (mall_text, order_id) = (mall.as_str(), order_id.clone());
        self.run(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT key FROM orders WHERE key >= ?1 AND key < ?2 AND substr(key, -?3) = ?4")?;
            let suffix = format!("/{order_id}");
            let rows = statement.query_map(
                params![
                    format!("{mall_text}/"),
                    format!("{mall_text}0"),
                    suffix.len() as i64,
                    suffix
                ],
                |row| row.get::<_, String>(0),
            )?;
            let mut refs = vec![];
            for key in rows {
                let key = key?;
                let parsed =
                    OrderRef::parse_key(&key).map_err(|e| StoreError::Corrupt(format!("order key {key:?}: {e}")))?;
                if parsed.order_id == order_id {
                    refs.push(parsed);
                }
            }
            Ok(refs)
        })
        .await
    }

    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError> {
        self.run(move |conn| {
            let sql = if open_only {
                "SELECT json FROM holds WHERE state = 'held' ORDER BY created_at DESC, id DESC"
            } else {
                "SELECT json FROM holds ORDER BY created_at DESC, id DESC"
            };
            read_all(conn, sql, [])
        })
        .await
    }

    async fn history(&self, order: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        let key = order.key();
        self.run(move |conn| {
            read_all(
                conn,
                "SELECT json FROM history WHERE order_key = ?1 ORDER BY seq",
                [key],
            )
        })
        .await
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        self.run(|conn| read_quarantined(conn)).await
    }
}

#[cfg(test)]
mod tests {
    use mallguard_domain::testing::ManualClock;

    use super::*;

    #[test]
    fn time_keys_keep_the_order_of_times_even_beyond_what_nanoseconds_in_an_i64_hold() {
        let times = [
            Timestamp::MIN,
            "1600-01-01T00:00:00Z".parse().unwrap(),
            "1970-01-01T00:00:00Z".parse().unwrap(),
            "2026-11-23T03:00:00.000000001Z".parse().unwrap(),
            "2026-11-23T03:00:00.000000002Z".parse().unwrap(),
            Timestamp::MAX,
        ];
        for pair in times.windows(2) {
            assert!(time_key(pair[0]) <= time_key(pair[1]), "{} vs {}", pair[0], pair[1]);
        }
        assert!(time_key(times[3]) < time_key(times[4]));
    }

    #[test]
    fn payloads_round_trip_through_compression() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let blob = compress(&raw).unwrap();
        assert!(blob.len() < raw.len());
        assert_eq!(decompress(&blob).unwrap(), raw);
        assert!(matches!(decompress(b"not zlib"), Err(Error(StoreError::Corrupt(_)))));
    }

    #[test]
    fn a_database_with_a_newer_schema_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let err = SqliteStore::with_schema(conn).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt(ref m) if m.contains("schema version")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_delivery_is_seen_at_the_time_of_the_injected_clock() {
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
        let store = SqliteStore::in_memory().unwrap().with_clock(clock.clone());
        let deliveries = |ids: &[&str]| WriteBatch {
            deliveries: ids.iter().map(|&id| id.to_owned()).collect(),
            ..WriteBatch::default()
        };
        store.commit(deliveries(&["d-1"])).await.unwrap();
        clock.advance(jiff::SignedDuration::from_hours(1));
        // A redelivery keeps the first sighting.
        store.commit(deliveries(&["d-1", "d-2"])).await.unwrap();
        assert!(store.delivery_seen("d-2").await.unwrap());
        let conn = store.conn.lock().unwrap();
        let seen: Vec<(String, i64)> = conn
            .prepare("SELECT id, seen_at FROM deliveries ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let at = |t: &str| t.parse::<Timestamp>().unwrap().as_second();
        assert_eq!(
            seen,
            [
                ("d-1".to_owned(), at("2026-11-23T03:05:01Z")),
                ("d-2".to_owned(), at("2026-11-23T04:05:01Z"))
            ]
        );
    }

    #[test]
    fn the_sweep_queries_use_their_indexes() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |row| row.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let due =
            plan("SELECT json FROM holds WHERE next_due IS NOT NULL AND next_due <= 5 ORDER BY next_due, id LIMIT 3");
        assert!(due.contains("holds_by_next_due"), "{due}");
        let pending = plan(
            "SELECT json FROM notices WHERE state = 'pending' AND next_attempt_at <= 5 ORDER BY next_attempt_at, id LIMIT 3",
        );
        assert!(pending.contains("notices_by_next_attempt"), "{pending}");
        let window =
            plan("SELECT json FROM index_entries WHERE key = 'k' AND placed_at BETWEEN 1 AND 5 ORDER BY placed_at");
        assert!(window.contains("index_entries_by_time"), "{window}");
        let history = plan("SELECT json FROM history WHERE order_key = 'o' ORDER BY seq");
        assert!(history.contains("history_by_order"), "{history}");
    }
}
