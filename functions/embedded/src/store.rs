//! The embedded store: one SQLite file, for the local stack and the tests.
//!
//! Every item is kept as its JSON next to the few columns a query filters or sorts on (versions, states,
//! times). Times are integers (Unix nanoseconds) so SQL orders them correctly; raw payloads are
//! compressed blobs (see [`crate::payload`]). A commit is one `BEGIN IMMEDIATE` transaction that checks
//! every condition of the batch before it writes anything, which gives the same all-or-nothing guarantee
//! as one DynamoDB `TransactWriteItems`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use mallguard_domain::action::{ActionId, MallAction};
use mallguard_domain::blacklist::{BlacklistEntry, BlacklistId, BlacklistMark, BlacklistWrite};
use mallguard_domain::feed::PollCursor;
use mallguard_domain::history::{HistoryEntry, KeptPage};
use mallguard_domain::hold::Hold;
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::{Notice, NoticeId, NoticeState};
use mallguard_domain::order::{Order, PayloadDigest, bare_number};
use mallguard_domain::ports::{
    Clock, Commit, CommitError, CursorStore, Expect, Head, IngestSnapshot, IngestStore, Quarantined, Records,
    StaffStore, StoreError, StoredOrder, SweepStore, SystemClock, WriteBatch,
};
use mallguard_domain::shop_settings::ShopSettings;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::payload;

/// The schema this build writes, kept in SQLite's `user_version`. A file written by a newer build is
/// refused rather than misread.
///
/// Version 8 → 9 changes no table: payloads are written with LZ4 from then on ([`crate::payload`]), which a
/// build of version 8 cannot read, so such a build refuses the file instead of calling its new orders
/// corrupt. The zlib payloads written before stay as they are, and read.
const SCHEMA_VERSION: i64 = 9;

/// How long a request waits for the file's write lock (another process's, or the commits queued before
/// it in this one) before giving up with `Unavailable` (the caller then answers 503 and the mall retries).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most read connections a store on a file keeps open: readers never wait for the writer (WAL), and
/// a few of them are enough for one machine's requests.
const READERS: usize = 4;

/// Version 1's schema. A new database gets it and then every migration step, so a new database and a
/// migrated one can never differ.
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

/// Version 1 → 2: a delivery id keeps the digest of its payload. Ids kept by version 1 have none and read
/// as unseen.
const TO_VERSION_2: &str = "ALTER TABLE deliveries ADD COLUMN digest TEXT;";

/// Version 2 → 3: an order keeps the number its buyer knows (Shopify's `#1001`), without its `#`, where it
/// differs from the mall's order id, so staff find the order by either. The partial index holds only the
/// orders that have such a number. The numbers of the orders already stored are filled in from their JSON
/// ([`fill_in_order_numbers`]).
const TO_VERSION_3: &str = "
ALTER TABLE orders ADD COLUMN number TEXT;
CREATE INDEX IF NOT EXISTS orders_by_number ON orders (number, key) WHERE number IS NOT NULL;
";

/// Version 3 → 4: the poll cursor of each mall and shop (`{mall}/{shop}`), how far the poller of a mall that
/// pushes nothing has read. A database of version 3 has none: its malls were never polled.
const TO_VERSION_4: &str = "
CREATE TABLE IF NOT EXISTS cursors (
    key      TEXT PRIMARY KEY NOT NULL,
    version  INTEGER NOT NULL,
    json     TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 4 → 5: the mall actions (hold, release, cancel at the mall), an outbox like the notices. A
/// database of version 4 has none: nothing was ever asked of a mall.
const TO_VERSION_5: &str = "
CREATE TABLE IF NOT EXISTS actions (
    id               TEXT PRIMARY KEY NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    json             TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS actions_by_next_attempt ON actions (state, next_attempt_at);
";

/// Version 5 → 6: the blacklist, the marks its entries put under their identity keys (read with the
/// index entries of a new order's keys, so by key first; by entry to take an entry's marks away), and
/// the staff sign-in links used, each kept until it expires. A database of version 5 has none of them:
/// nobody was ever blacklisted or signed in with a link.
const TO_VERSION_6: &str = "
CREATE TABLE IF NOT EXISTS blacklist (
    id        TEXT PRIMARY KEY NOT NULL,
    added_at  INTEGER NOT NULL,
    json      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blacklist_by_added_at ON blacklist (added_at);
CREATE TABLE IF NOT EXISTS blacklist_marks (
    key    TEXT NOT NULL,
    entry  TEXT NOT NULL,
    json   TEXT NOT NULL,
    PRIMARY KEY (key, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blacklist_marks_by_entry ON blacklist_marks (entry);
CREATE TABLE IF NOT EXISTS sign_ins (
    id          TEXT PRIMARY KEY NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sign_ins_by_expiry ON sign_ins (expires_at);
";

/// Version 6 → 7: the settings of each mall shop, one row per mall and shop. A database of version 6 has
/// none: every shop ran on the deployment's defaults.
const TO_VERSION_7: &str = "
CREATE TABLE IF NOT EXISTS shop_settings (
    mall     TEXT NOT NULL,
    shop     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    json     TEXT NOT NULL,
    PRIMARY KEY (mall, shop)
) WITHOUT ROWID;
";

/// Version 7 → 8: the buyer's pages as served, one row per hold and digest (the HTML compressed, as raw
/// payloads are). A database of version 7 has none: only the pages' digests in the history.
const TO_VERSION_8: &str = "
CREATE TABLE IF NOT EXISTS pages (
    hold      TEXT NOT NULL,
    digest    TEXT NOT NULL,
    shown_at  INTEGER NOT NULL,
    json      TEXT NOT NULL,
    html      BLOB NOT NULL,
    PRIMARY KEY (hold, digest)
) WITHOUT ROWID;
";

/// A [`Store`](mallguard_domain::ports::Store) in one SQLite database (a file, or memory for tests).
///
/// **Connections.** One connection writes: every commit is a `BEGIN IMMEDIATE` transaction on it, so
/// this process never competes with itself for SQLite's write lock, and the conditions a commit checks are
/// read under that lock. A commit waits for that connection (behind the commits queued before it) and then
/// for the file's write lock (held by another process, say) for at most the busy timeout *in all*, counted
/// from when it was asked: when the store is locked, every waiting request gets `Unavailable` one busy
/// timeout after it came, together, instead of one busy timeout after the one before it. A read by key
/// takes the writing connection when no commit holds it or waits for it (its page cache holds what it
/// wrote; a read connection's is emptied by every commit of another connection), and otherwise runs on
/// a connection of its own (up to a few, opened as needed): the file is in WAL mode, so those read the
/// last commit while a writer (this process's or another's) holds the write lock, and never queue behind
/// a commit. A store in memory has one connection for everything (a second would be a second database).
///
/// **Files.** The database file, and the `-wal` and `-shm` files SQLite gives the same permissions, are
/// readable and writable by the owner only (they hold buyers' names and addresses), whatever the umask.
///
/// Commits, and reads that list many rows, run on tokio's blocking pool so a slow disk or a lock held by
/// another process never stalls the async runtime. A read by key runs in place, on a connection told never
/// to wait (a WAL read waits for nobody), and goes to the pool only when SQLite would have waited. Clones
/// share the connections and the clock.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    /// Commits waiting for the writer: whoever holds it next commits all of them in one transaction.
    queue: Arc<Mutex<Vec<Queued>>>,
    /// Transactions the writer committed (each may hold several requests' batches).
    transactions: Arc<std::sync::atomic::AtomicU64>,
    /// None for a store in memory: its reads go to the writer.
    readers: Option<Arc<Readers>>,
    busy_timeout: Duration,
    /// When a delivery id was seen (`deliveries.seen_at`).
    clock: Arc<dyn Clock>,
    /// The batches [`Commit::commit_behind`] answered before they were written (None: it commits at once).
    behind: Option<Arc<Behind>>,
}

/// The batches written behind their requests' answers and not yet written: reads of notices and history
/// wait for the ones queued before them, and a stopping process for all of them.
#[derive(Default)]
struct Behind {
    /// The commit ids of the batches still to be written.
    pending: Mutex<BTreeSet<u64>>,
    /// Told whenever one is written or given up.
    settled: tokio::sync::Notify,
}

impl Behind {
    /// Waits until no batch whose id is below `upto` is pending (None: until none at all is).
    async fn caught_up(&self, upto: Option<u64>) {
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let first = self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .first()
                .copied();
            if first.is_none_or(|first| upto.is_some_and(|upto| first >= upto)) {
                return;
            }
            settled.await;
        }
    }

    fn settle(&self, id: u64) {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        self.settled.notify_waiters();
    }
}

/// The read connections of a store on a file: idle ones kept for the next read, at most [`READERS`]
/// open at once.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating its folder (owner only) and the schema when
    /// missing, and migrating a database of an older version.
    ///
    /// The file is put in WAL mode so readers (e.g. `mallguard evidence` in another terminal) never block
    /// the writer. Its group and other permissions are taken away (also from its `-wal` and `-shm`
    /// files) when an older version or a wide umask left them. Fails with `Corrupt` when the file is not
    /// a database or has a newer schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        private_file(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot create the database {}: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(|e| Error::from(e).0)?;
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(|e| Error::from(e).0)?;
        // `journal_mode` answers with the mode in force, so it is read as a query, not executed.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| Error::from(e).0)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the store could not switch to WAL mode");
        }
        // Checkpoints happen on a thread of their own (see `checkpoints`), never inside a commit: with
        // SQLite's automatic checkpoint, the commit that crosses 1,000 WAL pages copies them all back
        // into the database file before it answers, and the request waiting for it with it. (Should the
        // thread's connection not open, commits keep checkpointing as SQLite does by default.)
        let checkpointer = open_reader(path).and_then(|c| {
            c.pragma_update(None, "query_only", false)?;
            Ok(c)
        });
        if checkpointer.is_ok() {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(|e| Error::from(e).0)?;
        }
        // Should a group commit be written again a savepoint per batch (see `commit_group`), what each would
        // undo (its sub-journal) would spill from memory into a temporary file past 64 KB, and a file
        // created, written and deleted per commit cost more than the commit's own writes. A group's pages
        // are few enough to keep in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|e| Error::from(e).0)?;
        let mut store = Self::with_schema(conn)?;
        match checkpointer {
            Ok(conn) => checkpoints(conn, Arc::downgrade(&store.writer)),
            Err(e) => tracing::warn!(error = %e.0, "no checkpoint thread: commits checkpoint the WAL themselves"),
        }
        store.readers = Some(Arc::new(Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
        }));
        Ok(store)
    }

    /// A private database in memory, gone when the store is dropped. For tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| Error::from(e).0)?;
        Self::with_schema(conn)
    }

    fn with_schema(mut conn: Connection) -> Result<Self, StoreError> {
        migrate(&mut conn).map_err(|e| e.0)?;
        Ok(Self {
            writer: Arc::new(tokio::sync::Mutex::new(conn)),
            queue: Arc::new(Mutex::new(Vec::new())),
            transactions: Arc::default(),
            readers: None,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            clock: Arc::new(SystemClock),
            behind: None,
        })
    }

    /// Writes what [`Commit::commit_behind`] is given after answering: the batch is queued at once (the
    /// commits asked for after it come after it) and written by the next transaction, whoever's it is; a
    /// task of its own sees that one comes. For a server answering requests: the request that has just
    /// sent its mails is answered without waiting for a transaction to record them. Whoever stops the
    /// process calls [`Commit::written_behind`] first.
    pub fn writing_behind(mut self) -> Self {
        self.behind = Some(Arc::default());
        self
    }

    /// Takes "now" from `clock` (the system clock by default): the time a delivery id is recorded as
    /// seen.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Gives up with `Unavailable` after waiting `timeout` for the write lock, or for a connection
    /// ([`DEFAULT_BUSY_TIMEOUT`] unless set).
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Commits `batch` (true) or finds its conditions broken (false), together with the other commits
    /// waiting at the same moment: the first to get the writer takes every queued batch and commits them
    /// in one `BEGIN IMMEDIATE` transaction, so that one batch's broken condition or failed statement
    /// touches no other (see `commit_group`). One commit (one WAL sync) then serves every
    /// request that was waiting, instead of each waiting its turn for a sync of its own; alone, a batch
    /// commits as before. A batch still in the queue one busy timeout after the call is taken out and
    /// answered `Unavailable`; one taken by a commit always gets that commit's outcome.
    ///
    /// `beside_others`: other commits of the same task come at the same moment (see
    /// [`Commit::commit_beside_others`]); they are let queue beside this one first.
    async fn group_commit(&self, batch: WriteBatch, now: Timestamp, beside_others: bool) -> Result<bool, StoreError> {
        let id = NEXT_COMMIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queued = self.enqueue(id, batch, now)?;
        self.committed(queued, beside_others).await
    }

    /// Queues `batch` as commit `id`: its JSON and payloads made, its busy timeout counted from now.
    fn enqueue(&self, id: u64, mut batch: WriteBatch, now: Timestamp) -> Result<InQueue, StoreError> {
        let deadline = tokio::time::Instant::now() + self.busy_timeout;
        let encoded = Encoded::of(&mut batch).map_err(|e| e.0)?;
        let (answer, outcome) = tokio::sync::oneshot::channel();
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push(Queued {
            id,
            batch,
            encoded,
            now,
            deadline,
            answer,
        });
        Ok(InQueue { id, outcome, deadline })
    }

    /// Waits for the outcome of the queued commit, committing it (with every batch queued by then) once the
    /// writer is free and no other commit has taken it.
    async fn committed(&self, queued: InQueue, beside_others: bool) -> Result<bool, StoreError> {
        let InQueue {
            id,
            mut outcome,
            deadline,
        } = queued;
        // A request given up (its future dropped) takes its batch out of the queue with it.
        let waiting = StillQueued { queue: &self.queue, id };
        // The other futures of this task go first (the outcomes of the mails one request sent together), so
        // their commits queue beside this one and share its transaction, and its sync, instead of each
        // taking the writer in turn. (Woken at once, not as `tokio::task::yield_now` does after the next
        // poll of the runtime's I/O driver: that is a system call per commit.) Only then: tokio puts a task
        // that woke itself at the back of its queue and wakes an idle worker thread to take it, two thread
        // switches a lone commit has no use for.
        if beside_others {
            YieldOnce(false).await;
        }
        loop {
            let writer = tokio::select! {
                // Another request's commit took this batch along.
                result = &mut outcome => {
                    return result.unwrap_or_else(|_| Err(StoreError::Unavailable("the store's writer stopped".into())));
                }
                writer = tokio::time::timeout_at(deadline, Arc::clone(&self.writer).lock_owned()) => writer,
            };
            let Ok(conn) = writer else {
                // Out of time: leave unless a commit has already taken the batch (then its outcome comes).
                if waiting.take_out() {
                    return Err(busy(self.busy_timeout));
                }
                return outcome
                    .await
                    .unwrap_or_else(|_| Err(StoreError::Unavailable("the store's writer stopped".into())));
            };
            let mut group: Vec<Queued> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let n = queue.len().min(GROUP_LIMIT);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                // Taken by the commit before this one: its outcome is on the way.
                drop(conn);
                continue;
            }
            // This batch's own outcome comes back on a channel nobody has polled yet, and the channel the
            // select above polled is closed first: answered there, it would wake this very task, which tokio
            // answers, the next time the task waits, by polling it again and waking an idle worker thread to
            // take it (two thread switches per commit, for nothing).
            if let Some(own) = group.iter_mut().find(|q| q.id == id) {
                let (own_answer, own_outcome) = tokio::sync::oneshot::channel();
                let polled = std::mem::replace(&mut own.answer, own_answer);
                drop(outcome);
                drop(polled);
                self.commit_taken(conn, group).await?;
                return own_outcome
                    .await
                    .unwrap_or_else(|_| Err(StoreError::Unavailable("the store's writer stopped".into())));
            }
            // Another commit took this batch before this one got the writer; its outcome is on the way, after
            // this commit of the batches queued since.
            self.commit_taken(conn, group).await?;
        }
    }

    /// Commits `group`, taken from the queue by the holder of the writer `conn`, and answers each batch.
    ///
    /// Right here first: with the lock free, a commit (its WAL frames and one sync) takes a fraction of a
    /// millisecond on a local disk, less than handing it to the blocking pool and back. Commits take turns,
    /// so at most one of the runtime's threads is in one, and the others take its waiting tasks. Only when
    /// another process holds the file does it go where it may wait.
    async fn commit_taken(
        &self,
        mut conn: tokio::sync::OwnedMutexGuard<Connection>,
        group: Vec<Queued>,
    ) -> Result<(), StoreError> {
        let committed = match commit_group(&mut conn, group, false) {
            Ok(committed) => committed,
            Err(group) => tokio::task::spawn_blocking(move || commit_group(&mut conn, group, true).unwrap_or(false))
                .await
                .map_err(|e| StoreError::Unavailable(format!("the store's worker thread failed: {e}")))?,
        };
        self.count_transaction(committed);
        Ok(())
    }

    /// [`Commit::commit`] (`beside_others`: [`Commit::commit_beside_others`]).
    async fn commit_as(&self, batch: WriteBatch, beside_others: bool) -> Result<(), CommitError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        match self.group_commit(batch, now, beside_others).await? {
            true => Ok(()),
            false => Err(CommitError::Conflict),
        }
    }

    fn count_transaction(&self, committed: bool) {
        if committed {
            self.transactions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// How many transactions the store committed: fewer than the commits asked for when requests came
    /// together and shared one.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` on the writing connection on the blocking pool, once the commits before it are done,
    /// giving up one busy timeout after the call.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.busy_timeout;
        let busy_timeout = self.busy_timeout;
        let mut conn = tokio::time::timeout_at(deadline, Arc::clone(&self.writer).lock_owned())
            .await
            .map_err(|_| busy(busy_timeout))?;
        tokio::task::spawn_blocking(move || {
            // What is left of the wait is how long SQLite may wait for another process's lock. (A panic in
            // `f` cannot leave the connection mid-transaction: `Transaction` rolls back on drop.)
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            conn.busy_timeout(left).map_err(Error::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the store's worker thread failed: {e}")))?
        .map_err(|e| e.0)
    }

    /// Runs `f` on a read connection (the writing one for a store in memory).
    ///
    /// A read in WAL mode waits for nobody (it reads the last commit, whoever holds the write lock), so it
    /// first runs right here, on an idle connection and with SQLite told never to wait: handing it to the
    /// blocking pool would cost more than the read (two thread wake-ups per read, most of a small request's
    /// CPU). Should SQLite find the file locked all the same (another process recovering the WAL, say) or
    /// no connection be idle, `f` runs again on the blocking pool, where it may wait up to the busy timeout.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.write(f).await;
        };
        if let Some(result) = self.read_on_idle_writer(&f) {
            return result.map_err(|e| e.0);
        }
        if let Some(result) = readers.read_now(&f) {
            return result.map_err(|e| e.0);
        }
        self.read_on_pool(f).await
    }

    /// Runs `f` at once on the writing connection when no commit holds it or waits for it; None otherwise,
    /// or when SQLite would have had to wait (nothing was read then).
    ///
    /// A read connection's page cache is emptied whenever another connection has committed since its last
    /// read, so under a steady flow of orders every read by key fetches each page it touches from the file
    /// again (a system call and a copy per page); the writer's cache holds the pages it wrote itself. A
    /// read this short (a few lookups by key) holds a commit that comes meanwhile for less than the commit
    /// itself takes.
    fn read_on_idle_writer<T>(&self, f: &impl Fn(&mut Connection) -> Result<T, Error>) -> Option<Result<T, Error>> {
        if !self.queue.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
            return None;
        }
        let mut conn = self.writer.try_lock().ok()?;
        if conn.busy_timeout(Duration::ZERO).is_err() {
            return None;
        }
        // A read that fails leaves nothing behind on the connection: its transaction rolls back on drop.
        match f(&mut conn) {
            Err(e) if e.is_busy() => None,
            result => Some(result),
        }
    }

    /// Runs `f` on a read connection on the blocking pool: for reads that list (the console's tables, the
    /// sweep's due items), which may take long enough to hold up other requests if run in place.
    async fn read_on_pool<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.write(f).await;
        };
        let deadline = tokio::time::Instant::now() + self.busy_timeout;
        let busy_timeout = self.busy_timeout;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&readers.permits).acquire_owned())
            .await
            .map_err(|_| busy(busy_timeout))?
            .map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let readers = Arc::clone(readers);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = readers.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => open_reader(&readers.path)?,
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            conn.busy_timeout(left).map_err(Error::from)?;
            let result = f(&mut conn);
            // A connection whose read failed is not kept: whatever failed may stick to it.
            if result.is_ok() {
                readers.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the store's worker thread failed: {e}")))?
        .map_err(|e| e.0)
    }
}

fn busy(timeout: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "the store is busy: waited {} ms for the database",
        timeout.as_millis()
    ))
}

/// Turns off SQLite's memory statistics for the whole process; false when SQLite had started already (it
/// refuses the setting then, and keeps them).
///
/// With statistics on (SQLite's default), every allocation and free SQLite makes takes one mutex shared by
/// the whole process. Under concurrent requests one thread commits while another reads, and that mutex was
/// contended on nearly every page: at concurrency 8 half the server's futex calls and a sixth of its CPU.
/// The store reads no statistic and sets no heap limit, so it loses nothing.
///
/// # Safety
///
/// No other thread may be using SQLite meanwhile (`sqlite3_config` is not thread-safe): call it first thing
/// in `main`, before any connection is opened.
pub unsafe fn without_memory_statistics() -> bool {
    // SAFETY: the caller guarantees no other thread is in SQLite; the option takes one int.
    let rc = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
    rc == rusqlite::ffi::SQLITE_OK
}

/// How often the checkpointer copies the WAL's new pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A WAL this long (pages; SQLite's own automatic checkpoint starts at 1,000) is brought back to its start
/// by the checkpointer (see [`checkpoints`]).
const RESTART_AFTER_PAGES: i64 = 1_000;

/// How long the checkpointer waits for reads to leave the WAL before it gives up starting it over (and
/// tries again on its next round).
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// One `PASSIVE` checkpoint: the pages in the WAL and how many of them are now in the database file.
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// Starts the thread that checkpoints the WAL on `conn` every [`CHECKPOINT_EVERY`]
/// while the store whose writer is `writer` lives. A `PASSIVE` checkpoint never waits for a writer or a
/// reader: it copies what it can, and once every page is copied the next commit starts the WAL over, so
/// the file stays small without a commit ever doing the copying. The last connection to close
/// checkpoints what is left (SQLite does that on close).
fn checkpoints(conn: Connection, writer: std::sync::Weak<tokio::sync::Mutex<Connection>>) {
    let alive = writer.clone();
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // Only the `RESTART` checkpoint waits (for reads in progress), and never for long: the writer
            // is held meanwhile.
            let _ = conn.busy_timeout(RESTART_WAIT);
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                if alive.strong_count() == 0 {
                    return;
                }
                let wal = match checkpoint(&conn) {
                    Ok((wal, _copied)) => wal,
                    Err(e) => {
                        tracing::debug!(error = %e, "checkpoint skipped");
                        continue;
                    }
                };
                // Under steady commits and reads the WAL is never all copied, with no reader in it, at the
                // moment a commit begins (commits go on adding pages while the pass above copies), and only
                // then does SQLite start it over: the file would grow for as long as the load lasts, every
                // commit extending it (new blocks for the file system to allocate) and every read searching a
                // longer index. So once the WAL is long, what the pass left (the few pages added meanwhile) is
                // copied between two commits, with the writer held, in a `RESTART` checkpoint: it waits, a few
                // milliseconds at most, for the reads still in the WAL (new reads go on, from the database
                // file), so that the next commit starts the WAL over.
                if wal >= RESTART_AFTER_PAGES
                    && let Some(writer) = alive.upgrade()
                {
                    let _between_commits = writer.blocking_lock();
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                        tracing::debug!(error = %e, "checkpoint skipped");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no checkpoint thread: commits checkpoint the WAL themselves");
        // The store was just made: nobody holds its writer yet.
        if let Some(writer) = writer.upgrade()
            && let Ok(conn) = writer.try_lock()
        {
            let _ = conn.pragma_update(None, "wal_autocheckpoint", 1000);
        }
    }
}

impl Readers {
    /// Runs `f` at once on an idle connection, never waiting for a lock; None when no connection is idle,
    /// no read permit is free, or SQLite would have had to wait (nothing was read then: try again where
    /// waiting is allowed).
    fn read_now<T>(&self, f: &impl Fn(&mut Connection) -> Result<T, Error>) -> Option<Result<T, Error>> {
        let _permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        let mut conn = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        if conn.busy_timeout(Duration::ZERO).is_err() {
            return None;
        }
        let result = f(&mut conn);
        match &result {
            Err(e) if e.is_busy() => {
                self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
                None
            }
            // A connection whose read failed is not kept: whatever failed may stick to it.
            Err(_) => Some(result),
            Ok(_) => {
                self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
                Some(result)
            }
        }
    }
}

/// A connection that only reads (`query_only`), to the database [`SqliteStore::open`] prepared (never a
/// new one, should the file have gone meanwhile).
fn open_reader(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Makes sure the database file exists with owner-only permissions before SQLite opens it (SQLite gives
/// the `-wal` and `-shm` files it creates the database file's permissions), and takes group and other
/// permissions from the three files when they have them. A missing folder is created for the owner
/// only; an existing one is left as it is (the caller's data folder may hold more than the database).
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        match std::fs::symlink_metadata(&file) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o077 != 0 => {
                let mode = meta.permissions().mode() & 0o700;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Creates the schema in a fresh database, brings an older one up to [`SCHEMA_VERSION`] step by step, and
/// refuses one written by a newer build.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::from(StoreError::Corrupt(format!(
            "the database has schema version {version}; this build knows version {SCHEMA_VERSION}"
        ))));
    }
    if version < 1 {
        tx.execute_batch(SCHEMA)?;
    }
    if version < 2 {
        tx.execute_batch(TO_VERSION_2)?;
    }
    if version < 3 {
        tx.execute_batch(TO_VERSION_3)?;
        fill_in_order_numbers(&tx)?;
    }
    if version < 4 {
        tx.execute_batch(TO_VERSION_4)?;
    }
    if version < 5 {
        tx.execute_batch(TO_VERSION_5)?;
    }
    if version < 6 {
        tx.execute_batch(TO_VERSION_6)?;
    }
    if version < 7 {
        tx.execute_batch(TO_VERSION_7)?;
    }
    if version < 8 {
        tx.execute_batch(TO_VERSION_8)?;
    }
    if version != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

/// Sets the `number` column of the orders stored before it existed, from each order's JSON.
fn fill_in_order_numbers(tx: &Transaction<'_>) -> Result<(), Error> {
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT key, json FROM orders WHERE number IS NULL")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = tx.prepare("UPDATE orders SET number = ?2 WHERE key = ?1")?;
    for (key, json) in rows {
        let stored: StoredOrder = from_json(&json)?;
        if let Some(number) = number_col(&stored.order) {
            update.execute(params![key, number])?;
        }
    }
    Ok(())
}

/// The `number` column of an order: the number its buyer knows without its `#`, where it has one that
/// differs from its mall order id (that one is found by its key already) and that an order id could spell
/// (no look-up could ask for another).
fn number_col(order: &Order) -> Option<&str> {
    let number = bare_number(order.number.as_deref()?);
    (number != order.order_ref.order_id.as_str() && OrderId::parse(number).is_ok()).then_some(number)
}

/// A `StoreError` that the `?` operator can make from SQLite, JSON and I/O errors.
#[derive(Debug)]
/// A store error, and whether SQLite answered busy (locked by another connection): a read tried without
/// waiting is then tried again where it may wait.
struct Error(StoreError, bool);

impl Error {
    fn is_busy(&self) -> bool {
        self.1
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Self(err, false)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseCorrupt, DatabaseLocked, NotADatabase};
        let busy =
            matches!(&err, rusqlite::Error::SqliteFailure(e, _) if matches!(e.code, DatabaseBusy | DatabaseLocked));
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
            Self(StoreError::Corrupt(err.to_string()), false)
        } else {
            Self(StoreError::Unavailable(err.to_string()), busy)
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self(StoreError::Corrupt(format!("an item does not read back: {err}")), false)
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
    i64::try_from(version).map_err(|_| Error::from(StoreError::Corrupt(format!("version {version} is out of range"))))
}

fn to_json<T: Serialize>(item: &T) -> Result<String, Error> {
    Ok(serde_json::to_string(item)?)
}

fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    Ok(serde_json::from_str(json)?)
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, Error> {
    payload::pack(raw).map_err(|e| Error::from(StoreError::Unavailable(e.to_string())))
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, Error> {
    payload::unpack(blob).map_err(|e| Error::from(StoreError::Corrupt(e.to_string())))
}

/// The key of a poll cursor: `{mall}/{shop}` (shop ids hold no `/`).
fn cursor_key(mall: Mall, shop: &ShopId) -> String {
    format!("{mall}/{shop}")
}

fn notice_state(state: NoticeState) -> &'static str {
    match state {
        NoticeState::Pending => "pending",
        NoticeState::Sent => "sent",
        NoticeState::Failed => "failed",
        NoticeState::Withdrawn => "withdrawn",
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

fn stored_version(tx: &Connection, sql: &str, id: &str) -> Result<Option<u64>, Error> {
    let version: Option<i64> = tx.prepare_cached(sql)?.query_row([id], |row| row.get(0)).optional()?;
    stored_u64(version)
}

fn stored_u64(version: Option<i64>) -> Result<Option<u64>, Error> {
    version
        .map(|v| {
            u64::try_from(v).map_err(|_| Error::from(StoreError::Corrupt(format!("stored version {v} is negative"))))
        })
        .transpose()
}

/// Whether every condition of `batch` holds right now.
fn conditions_hold(tx: &Connection, batch: &WriteBatch) -> Result<bool, Error> {
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
    for (cursor, expect) in &batch.cursors {
        let key = cursor_key(cursor.mall, &cursor.shop);
        let stored = stored_version(tx, "SELECT version FROM cursors WHERE key = ?1", &key)?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    for (action, expect) in &batch.actions {
        let stored = stored_version(tx, "SELECT version FROM actions WHERE id = ?1", action.id.as_str())?;
        if !condition_holds(stored, *expect) {
            return Ok(false);
        }
    }
    for used in &batch.sign_ins {
        // A link used before, expired or not: the record is only ever there after a use.
        let stored = stored_version(tx, "SELECT 0 FROM sign_ins WHERE id = ?1", &used.id)?;
        if stored.is_some() {
            return Ok(false);
        }
    }
    for (settings, expect) in &batch.shop_settings {
        let version: Option<i64> = tx
            .prepare_cached("SELECT version FROM shop_settings WHERE mall = ?1 AND shop = ?2")?
            .query_row(params![settings.mall.as_str(), settings.shop.as_str()], |row| {
                row.get(0)
            })
            .optional()?;
        if !condition_holds(stored_u64(version)?, *expect) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes every item of `batch` at `now`, with the JSON columns and compressed payloads made beforehand
/// (`encoded`); the conditions were checked in the same transaction. Nothing here changes the batch or its
/// rows, so a group whose transaction is undone is written again as it was.
fn write_batch(tx: &Connection, batch: &WriteBatch, encoded: &Encoded, now: Timestamp) -> Result<(), Error> {
    for head in &batch.heads {
        tx.prepare_cached(
            "INSERT INTO heads (key, version) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version",
        )?
        .execute(params![head.key.as_str(), version_col(head.version + 1)?])?;
    }
    for ((order, _), (json, raw)) in batch.orders.iter().zip(&encoded.orders) {
        tx.prepare_cached(
            "INSERT INTO orders (key, version, json, raw, number) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version, json = excluded.json, raw = excluded.raw,
                 number = excluded.number",
        )?
        .execute(params![
            order.order.order_ref.key(),
            version_col(order.version)?,
            json,
            raw,
            number_col(&order.order)
        ])?;
    }
    for (entry, json) in batch.index.iter().zip(&encoded.index) {
        tx.prepare_cached(
            "INSERT INTO index_entries (key, order_key, placed_at, json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key, order_key) DO UPDATE SET placed_at = excluded.placed_at, json = excluded.json",
        )?
        .execute(params![
            entry.key.as_str(),
            entry.order.key(),
            time_key(entry.placed_at),
            json
        ])?;
    }
    for ((hold, _), json) in batch.holds.iter().zip(&encoded.holds) {
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
            json
        ])?;
    }
    for ((notice, _), json) in batch.notices.iter().zip(&encoded.notices) {
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
            json
        ])?;
    }
    for (entry, json) in batch.history.iter().zip(&encoded.history) {
        tx.prepare_cached("INSERT INTO history (order_key, at, json) VALUES (?1, ?2, ?3)")?
            .execute(params![entry.order.key(), time_key(entry.at), json])?;
    }
    for ((item, _), (json, raw)) in batch.quarantine.iter().zip(&encoded.quarantine) {
        tx.prepare_cached(
            "INSERT INTO quarantine (id, received_at, json, raw) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET received_at = excluded.received_at, json = excluded.json,
                 raw = excluded.raw",
        )?
        .execute(params![item.id, time_key(item.received_at), json, raw])?;
    }
    let seen_at = now.as_second();
    for delivery in &batch.deliveries {
        // The first sighting's time stays; the latest payload's digest is kept.
        tx.prepare_cached(
            "INSERT INTO deliveries (id, seen_at, digest) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET digest = excluded.digest",
        )?
        .execute(params![delivery.id, seen_at, delivery.digest.as_str()])?;
    }
    for (cursor, _) in &batch.cursors {
        tx.prepare_cached(
            "INSERT INTO cursors (key, version, json) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version, json = excluded.json",
        )?
        .execute(params![
            cursor_key(cursor.mall, &cursor.shop),
            version_col(cursor.version)?,
            to_json(cursor)?
        ])?;
    }
    for ((action, _), json) in batch.actions.iter().zip(&encoded.actions) {
        tx.prepare_cached(
            "INSERT INTO actions (id, version, state, next_attempt_at, json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state,
                 next_attempt_at = excluded.next_attempt_at, json = excluded.json",
        )?
        .execute(params![
            action.id.as_str(),
            version_col(action.version)?,
            action.state.as_str(),
            time_key(action.next_attempt_at),
            json
        ])?;
    }
    for write in &batch.blacklist {
        match write {
            BlacklistWrite::Add(entry) => {
                tx.prepare_cached(
                    "INSERT INTO blacklist (id, added_at, json) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET added_at = excluded.added_at, json = excluded.json",
                )?
                .execute(params![entry.id.as_str(), time_key(entry.added_at), to_json(entry)?])?;
                for mark in entry.marks() {
                    tx.prepare_cached(
                        "INSERT INTO blacklist_marks (key, entry, json) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key, entry) DO UPDATE SET json = excluded.json",
                    )?
                    .execute(params![mark.key.as_str(), mark.entry.as_str(), to_json(&mark)?])?;
                }
            }
            BlacklistWrite::Remove(entry) => {
                // Every mark of the entry, whatever keys the entry given names.
                tx.prepare_cached("DELETE FROM blacklist_marks WHERE entry = ?1")?
                    .execute([entry.id.as_str()])?;
                tx.prepare_cached("DELETE FROM blacklist WHERE id = ?1")?
                    .execute([entry.id.as_str()])?;
            }
        }
    }
    if !batch.sign_ins.is_empty() {
        // What a TTL does in DynamoDB: records of links that expired go (a link past its expiry is refused
        // as expired anyway, used or not).
        tx.prepare_cached("DELETE FROM sign_ins WHERE expires_at <= ?1")?
            .execute([time_key(now)])?;
    }
    for used in &batch.sign_ins {
        tx.prepare_cached(
            "INSERT INTO sign_ins (id, expires_at) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
        )?
        .execute(params![used.id, time_key(used.expires_at)])?;
    }
    for (settings, _) in &batch.shop_settings {
        tx.prepare_cached(
            "INSERT INTO shop_settings (mall, shop, version, json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (mall, shop) DO UPDATE SET version = excluded.version, json = excluded.json",
        )?
        .execute(params![
            settings.mall.as_str(),
            settings.shop.as_str(),
            version_col(settings.version)?,
            to_json(settings)?
        ])?;
    }
    // A page is kept once: the first showing of a digest stays (the same digest is the same page).
    for (page, (json, html)) in batch.pages.iter().zip(&encoded.pages) {
        tx.prepare_cached(
            "INSERT INTO pages (hold, digest, shown_at, json, html) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hold, digest) DO NOTHING",
        )?
        .execute(params![
            page.hold.as_str(),
            page.shown.digest,
            time_key(page.shown_at),
            json,
            html
        ])?;
    }
    Ok(())
}

/// `item`'s JSON without its payload, and the payload compressed: the payload goes in a column of its own.
/// The payload (raw bytes, or a page's HTML) is taken out while the JSON is made and put back, so `item` is
/// left as it came.
fn json_and_payload<T: Serialize, P: Default + AsRef<[u8]>>(
    item: &mut T,
    payload: impl Fn(&mut T) -> &mut P,
) -> Result<(String, Vec<u8>), Error> {
    let raw = std::mem::take(payload(item));
    let (json, compressed) = (to_json(&*item), compress(raw.as_ref()));
    *payload(item) = raw;
    Ok((json?, compressed?))
}

/// A batch's JSON columns and compressed payloads, made before the batch queues for the writer: commits take
/// turns on the writer, so what needs no lock (serialising, compressing) is done beforehand by each request on
/// its own thread, and the writer does only SQLite's work. Each list is in the order of the batch's list of
/// the same name; the rows a batch seldom has (cursors, the blacklist, settings) are made as they are written.
#[derive(Default)]
struct Encoded {
    orders: Vec<(String, Vec<u8>)>,
    index: Vec<String>,
    holds: Vec<String>,
    notices: Vec<String>,
    history: Vec<String>,
    quarantine: Vec<(String, Vec<u8>)>,
    actions: Vec<String>,
    pages: Vec<(String, Vec<u8>)>,
}

impl Encoded {
    /// A payload (an order's or a quarantined item's raw body, a page's HTML) is taken out of its item while
    /// the item's JSON is made, and put back: the batch is left as it came.
    fn of(batch: &mut WriteBatch) -> Result<Self, Error> {
        Ok(Self {
            orders: batch
                .orders
                .iter_mut()
                .map(|(order, _)| json_and_payload(order, |o| &mut o.raw))
                .collect::<Result<_, _>>()?,
            index: batch.index.iter().map(to_json).collect::<Result<_, _>>()?,
            holds: batch
                .holds
                .iter()
                .map(|(hold, _)| to_json(hold))
                .collect::<Result<_, _>>()?,
            notices: batch
                .notices
                .iter()
                .map(|(notice, _)| to_json(notice))
                .collect::<Result<_, _>>()?,
            history: batch.history.iter().map(to_json).collect::<Result<_, _>>()?,
            quarantine: batch
                .quarantine
                .iter_mut()
                .map(|(item, _)| json_and_payload(item, |i| &mut i.raw))
                .collect::<Result<_, _>>()?,
            actions: batch
                .actions
                .iter()
                .map(|(action, _)| to_json(action))
                .collect::<Result<_, _>>()?,
            pages: batch
                .pages
                .iter_mut()
                .map(|page| json_and_payload(page, |p| &mut p.html))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Numbers the queued commits.
static NEXT_COMMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A commit's place in the queue: taken out when its request stops waiting before a commit took it.
struct StillQueued<'a> {
    queue: &'a Mutex<Vec<Queued>>,
    id: u64,
}

impl StillQueued<'_> {
    /// Takes the batch out of the queue; false when a commit already took it.
    fn take_out(&self) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let at = queue.iter().position(|q| q.id == self.id);
        at.map(|at| queue.remove(at)).is_some()
    }
}

impl Drop for StillQueued<'_> {
    fn drop(&mut self) {
        self.take_out();
    }
}

/// Pending once, waking itself at once: whatever else its task polls runs before it goes on.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// The most batches one transaction takes (the rest go in the next).
const GROUP_LIMIT: usize = 64;

/// A commit in the queue, as its asker sees it: where its outcome comes, and until when it may wait.
struct InQueue {
    id: u64,
    outcome: tokio::sync::oneshot::Receiver<Result<bool, StoreError>>,
    deadline: tokio::time::Instant,
}

/// A batch written behind its request's answer: settled (written, or given up and logged) when this goes,
/// also when its task is dropped with the runtime.
struct SettlesBehind(Arc<Behind>, u64);

impl Drop for SettlesBehind {
    fn drop(&mut self) {
        self.0.settle(self.1);
    }
}

/// A commit waiting for the writer.
struct Queued {
    id: u64,
    batch: WriteBatch,
    encoded: Encoded,
    now: Timestamp,
    deadline: tokio::time::Instant,
    answer: tokio::sync::oneshot::Sender<Result<bool, StoreError>>,
}

/// Commits `group` in one transaction and answers each batch; true when it wrote a batch.
///
/// The batches are written one after the other with no savepoint between them: a batch whose condition broke
/// writes nothing (conditions are checked before any write), so a savepoint would only serve a statement
/// failing halfway through a batch, and it costs a copy of every page the batch touches (SQLite's
/// sub-journal, in memory) plus the allocations for it, for every batch of every group. Should a statement
/// fail all the same, the transaction is undone and the group written again with a savepoint per batch,
/// so that only the failing batch fails.
///
/// `wait`: SQLite may wait for another process's lock as long as the most patient batch could (a batch whose
/// own time is up by then gets the same `Unavailable` as it would alone, a moment later). Without it the
/// transaction begins now or not at all: the group comes back unanswered when the file is locked, to be
/// committed where waiting does not hold up other requests.
fn commit_group(conn: &mut Connection, mut group: Vec<Queued>, wait: bool) -> Result<bool, Vec<Queued>> {
    let left = if wait {
        group
            .iter()
            .map(|q| q.deadline.saturating_duration_since(tokio::time::Instant::now()))
            .max()
            .unwrap_or_default()
    } else {
        Duration::ZERO
    };
    // None: a statement failed in a group of several, to be written again apart.
    let together = match begin_immediate(conn, left) {
        Err(e) if !wait && e.is_busy() => return Err(group),
        Err(e) => Some(Err(e)),
        Ok(tx) => match write_together(&tx, &mut group) {
            Ok(written) => Some(
                tx.commit()
                    .map(|()| written.into_iter().map(Ok).collect())
                    .map_err(Error::from),
            ),
            // Dropping the transaction undoes it.
            Err(_) if group.len() > 1 => None,
            Err(e) => Some(Err(e)),
        },
    };
    let outcomes = match together {
        Some(outcomes) => outcomes,
        None => match begin_immediate(conn, left) {
            Err(e) if !wait && e.is_busy() => return Err(group),
            Err(e) => Err(e),
            Ok(tx) => write_apart(tx, &mut group),
        },
    };
    match outcomes {
        Ok(outcomes) => {
            let committed = outcomes.iter().any(|o| matches!(o, Ok(true)));
            for (q, done) in group.into_iter().zip(outcomes) {
                let _ = q.answer.send(done.map_err(|e| e.0));
            }
            Ok(committed)
        }
        Err(e) => {
            // Nothing of the group was committed: every batch gets the error, not a dropped channel.
            for q in group {
                let _ = q.answer.send(Err(e.0.clone()));
            }
            Ok(false)
        }
    }
}

/// `BEGIN IMMEDIATE`, waiting up to `left` for another process's lock. IMMEDIATE takes the write lock before
/// the checks, so no other writer can slip in between the reads of the versions and the writes that depend
/// on them; once it is taken nothing else waits for a lock.
fn begin_immediate(conn: &mut Connection, left: Duration) -> Result<Transaction<'_>, Error> {
    conn.busy_timeout(left)?;
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Writes each batch of `group` whose conditions hold, in order (each checked after the writes of those
/// before it): whether each was written. Any failed statement fails the lot (the caller undoes it).
fn write_together(tx: &Transaction<'_>, group: &mut [Queued]) -> Result<Vec<bool>, Error> {
    let mut written = Vec::with_capacity(group.len());
    for q in group.iter_mut() {
        let holds = conditions_hold(tx, &q.batch)?;
        if holds {
            write_batch(tx, &q.batch, &q.encoded, q.now)?;
        }
        written.push(holds);
    }
    Ok(written)
}

/// Writes each batch of `group` in a savepoint of its own and commits: a batch whose statement fails is
/// undone alone and gets the error, the others are committed.
fn write_apart(mut tx: Transaction<'_>, group: &mut [Queued]) -> Result<Vec<Result<bool, Error>>, Error> {
    let mut outcomes = Vec::with_capacity(group.len());
    for q in group.iter_mut() {
        outcomes.push((|| -> Result<bool, Error> {
            let sp = tx.savepoint()?;
            if !conditions_hold(&sp, &q.batch)? {
                return Ok(false);
            }
            write_batch(&sp, &q.batch, &q.encoded, q.now)?;
            sp.commit()?;
            Ok(true)
        })());
    }
    tx.commit()?;
    Ok(outcomes)
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

/// The index entries of `keys` placed in `[from, to]`, by key, then by time.
fn window_entries(
    tx: &rusqlite::Transaction<'_>,
    keys: &[IdentityKey],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<IndexEntry>, Error> {
    let mut entries = vec![];
    let unique: BTreeSet<&IdentityKey> = keys.iter().collect();
    for key in unique {
        let found: Vec<IndexEntry> = read_all(
            tx,
            "SELECT json FROM index_entries WHERE key = ?1 AND placed_at BETWEEN ?2 AND ?3 ORDER BY placed_at",
            params![key.as_str(), time_key(from), time_key(to)],
        )?;
        entries.extend(found.into_iter().filter(|e| e.placed_at >= from && e.placed_at <= to));
    }
    Ok(entries)
}

/// The digest delivery `id` was recorded with.
fn delivery_digest(conn: &Connection, id: &str) -> Result<Option<PayloadDigest>, Error> {
    let digest: Option<Option<String>> = conn
        .prepare_cached("SELECT digest FROM deliveries WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    digest
        .flatten()
        .map(|hex| {
            PayloadDigest::parse(&hex)
                .ok_or_else(|| Error::from(StoreError::Corrupt(format!("delivery {id:?}: bad digest"))))
        })
        .transpose()
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
    let snapshot = snapshot_in(&tx, order, keys, from, to)?;
    tx.commit()?;
    Ok(snapshot)
}

/// [`snapshot`] inside a read transaction the caller holds.
fn snapshot_in(
    tx: &Transaction<'_>,
    order: &OrderRef,
    keys: &[IdentityKey],
    from: Timestamp,
    to: Timestamp,
) -> Result<IngestSnapshot, Error> {
    let existing = read_order(tx, order)?;
    let entries = window_entries(tx, keys, from, to)?;
    let mut heads = Vec::with_capacity(keys.len());
    for key in keys {
        let version = stored_version(tx, "SELECT version FROM heads WHERE key = ?1", key.as_str())?;
        heads.push(Head {
            key: key.clone(),
            version: version.unwrap_or(0),
        });
    }
    let mut blacklisted = vec![];
    for key in keys.iter().collect::<BTreeSet<_>>() {
        let marks: Vec<BlacklistMark> = read_all(
            tx,
            "SELECT json FROM blacklist_marks WHERE key = ?1 ORDER BY entry",
            [key.as_str()],
        )?;
        blacklisted.extend(marks);
    }
    Ok(IngestSnapshot {
        existing,
        entries,
        heads,
        blacklisted,
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
        self.commit_as(batch, false).await
    }

    async fn commit_beside_others(&self, batch: WriteBatch) -> Result<(), CommitError> {
        self.commit_as(batch, true).await
    }

    async fn commit_behind(&self, mut batch: WriteBatch) -> Result<(), CommitError> {
        let Some(behind) = &self.behind else {
            return self.commit_as(batch, true).await;
        };
        let (notices, history) = (std::mem::take(&mut batch.notices), std::mem::take(&mut batch.history));
        let only_notices_and_history = batch.is_empty();
        (batch.notices, batch.history) = (notices, history);
        if !only_notices_and_history {
            return self.commit_as(batch, true).await;
        }
        if batch.is_empty() {
            return Ok(());
        }
        let id = NEXT_COMMIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Pending before this call answers: a read begun after it waits for the batch.
        behind.pending.lock().unwrap_or_else(PoisonError::into_inner).insert(id);
        let settles = SettlesBehind(Arc::clone(behind), id);
        let queued = self.enqueue(id, batch, self.clock.now())?;
        let store = self.clone();
        // The next commit takes the batch along (the queue is first come, first committed); this task only
        // sees that one comes when no other commit does, and logs what became of it.
        tokio::spawn(async move {
            let _settles = settles;
            match store.committed(queued, false).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "a sent mail's record was not written: its notice changed meanwhile (the sweep, say, took it)"
                ),
                Err(error) => tracing::warn!(
                    %error,
                    "a sent mail's record could not be written: its notice stays pending, and the sweep looks at it again once its lease ends"
                ),
            }
        });
        Ok(())
    }

    async fn written_behind(&self) {
        if let Some(behind) = &self.behind {
            behind.caught_up(None).await;
        }
    }
}

impl SqliteStore {
    /// Waits until the batches written behind before this call are written: a read of notices or history
    /// shows what the requests answered before it recorded.
    async fn behind_written_before_now(&self) {
        if let Some(behind) = &self.behind {
            behind
                .caught_up(Some(NEXT_COMMIT.load(std::sync::atomic::Ordering::Relaxed)))
                .await;
        }
    }
}

#[async_trait]
impl Records for SqliteStore {
    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        let order = order.clone();
        self.read(move |conn| read_order(conn, &order)).await
    }

    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_one(conn, "SELECT json FROM holds WHERE id = ?1", id.as_str()))
            .await
    }

    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError> {
        self.behind_written_before_now().await;
        let id = id.clone();
        self.read(move |conn| read_one(conn, "SELECT json FROM notices WHERE id = ?1", id.as_str()))
            .await
    }

    async fn action(&self, id: &ActionId) -> Result<Option<MallAction>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_one(conn, "SELECT json FROM actions WHERE id = ?1", id.as_str()))
            .await
    }

    async fn page_kept(&self, hold: &HoldId, digest: &str) -> Result<bool, StoreError> {
        let (hold, digest) = (hold.clone(), digest.to_owned());
        self.read(move |conn| {
            let found: Option<i64> = conn
                .prepare_cached("SELECT 1 FROM pages WHERE hold = ?1 AND digest = ?2")?
                .query_row(params![hold.as_str(), digest], |row| row.get(0))
                .optional()?;
            Ok(found.is_some())
        })
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
        self.read(move |conn| snapshot(conn, &order, &keys, from, to)).await
    }

    async fn index_window(
        &self,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let entries = window_entries(&tx, &keys, from, to)?;
            tx.commit()?;
            Ok(entries)
        })
        .await
    }

    async fn delivery_digest(&self, delivery: &str) -> Result<Option<PayloadDigest>, StoreError> {
        let delivery_id = delivery.to_owned();
        self.read(move |conn| delivery_digest(conn, &delivery_id)).await
    }

    /// Both in one read transaction: one read where there were two (each a hand-over of a connection and a
    /// fresh look at the WAL).
    async fn delivery_and_snapshot(
        &self,
        delivery: Option<&str>,
        digest: &PayloadDigest,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(Option<PayloadDigest>, Option<IngestSnapshot>), StoreError> {
        let (delivery, digest) = (delivery.map(str::to_owned), digest.clone());
        let (order, keys) = (order.clone(), keys.to_vec());
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let seen = match &delivery {
                Some(delivery) => delivery_digest(&tx, delivery)?,
                None => None,
            };
            if seen.as_ref() == Some(&digest) {
                return Ok((seen, None));
            }
            let snapshot = snapshot_in(&tx, &order, &keys, from, to)?;
            tx.commit()?;
            Ok((seen, Some(snapshot)))
        })
        .await
    }
}

#[async_trait]
impl SweepStore for SqliteStore {
    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError> {
        self.read_on_pool(move |conn| {
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
        self.behind_written_before_now().await;
        self.read_on_pool(move |conn| {
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

    async fn pending_actions(&self, now: Timestamp, limit: usize) -> Result<Vec<MallAction>, StoreError> {
        self.read_on_pool(move |conn| {
            let actions: Vec<MallAction> = read_all(
                conn,
                "SELECT json FROM actions WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
                params![time_key(now), limit_col(limit)],
            )?;
            Ok(actions.into_iter().filter(|a| a.next_attempt_at <= now).collect())
        })
        .await
    }
}

#[async_trait]
impl StaffStore for SqliteStore {
    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        // Keys are `mall/shop/order`: a range over the mall's keys, then the order id checked exactly; and
        // the orders whose buyers know them by this number, from the number's index. Only staff look-ups
        // take this path; matching never does.
        let (mall_text, order_id) = (mall.as_str(), order_id.clone());
        self.read(move |conn| {
            let (from, to) = (format!("{mall_text}/"), format!("{mall_text}0"));
            let suffix = format!("/{order_id}");
            let mut keys = BTreeSet::new();
            let mut by_id =
                conn.prepare_cached("SELECT key FROM orders WHERE key >= ?1 AND key < ?2 AND substr(key, -?3) = ?4")?;
            for key in by_id.query_map(params![from, to, suffix.len() as i64, suffix], |row| {
                row.get::<_, String>(0)
            })? {
                keys.insert(key?);
            }
            let mut by_number =
                conn.prepare_cached("SELECT key FROM orders WHERE number = ?1 AND key >= ?2 AND key < ?3")?;
            let mut numbered = BTreeSet::new();
            for key in by_number.query_map(params![order_id.as_str(), from, to], |row| row.get::<_, String>(0))? {
                numbered.insert(key?);
            }
            let mut refs = vec![];
            for key in keys.union(&numbered) {
                let parsed =
                    OrderRef::parse_key(key).map_err(|e| StoreError::Corrupt(format!("order key {key:?}: {e}")))?;
                if parsed.mall == mall && (parsed.order_id == order_id || numbered.contains(key)) {
                    refs.push(parsed);
                }
            }
            Ok(refs)
        })
        .await
    }

    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError> {
        self.read_on_pool(move |conn| {
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
        self.behind_written_before_now().await;
        let key = order.key();
        self.read(move |conn| {
            read_all(
                conn,
                "SELECT json FROM history WHERE order_key = ?1 ORDER BY seq",
                [&key],
            )
        })
        .await
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        self.read_on_pool(|conn| read_quarantined(conn)).await
    }

    async fn blacklist(&self) -> Result<Vec<BlacklistEntry>, StoreError> {
        self.read_on_pool(|conn| read_all(conn, "SELECT json FROM blacklist ORDER BY added_at DESC, id", []))
            .await
    }

    async fn blacklist_entry(&self, id: &BlacklistId) -> Result<Option<BlacklistEntry>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read_one(conn, "SELECT json FROM blacklist WHERE id = ?1", id.as_str()))
            .await
    }

    async fn shop_settings(&self) -> Result<Vec<ShopSettings>, StoreError> {
        let mut found: Vec<ShopSettings> = self
            .read(|conn| read_all(conn, "SELECT json FROM shop_settings ORDER BY mall, shop", []))
            .await?;
        // The `mall` column sorts by name; the domain's order of malls is `Mall`'s (Shopify first).
        found.sort_by(|a, b| (a.mall, &a.shop).cmp(&(b.mall, &b.shop)));
        Ok(found)
    }

    async fn pages(&self, hold: &HoldId) -> Result<Vec<KeptPage>, StoreError> {
        let hold = hold.clone();
        self.read_on_pool(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT json, html FROM pages WHERE hold = ?1 ORDER BY shown_at, digest")?;
            let rows = stmt.query_map([hold.as_str()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
            })?;
            let mut pages = vec![];
            for row in rows {
                let (json, html) = row?;
                let mut page: KeptPage = from_json(&json)?;
                page.html = String::from_utf8(decompress(&html)?)
                    .map_err(|e| Error::from(StoreError::Corrupt(format!("a kept page is not UTF-8: {e}"))))?;
                pages.push(page);
            }
            Ok(pages)
        })
        .await
    }
}

#[async_trait]
impl CursorStore for SqliteStore {
    async fn cursor(&self, mall: Mall, shop: &ShopId) -> Result<Option<PollCursor>, StoreError> {
        let key = cursor_key(mall, shop);
        self.read(move |conn| read_one(conn, "SELECT json FROM cursors WHERE key = ?1", &key))
            .await
    }
}

#[cfg(test)]
mod tests {
    use mallguard_domain::ports::WebhookDelivery;
    use mallguard_domain::testing::ManualClock;

    use super::*;

    /// An empty database as a build of schema `version` left it: the first schema and the steps after it,
    /// without the data fixes of the migration (the tests add the rows an old build wrote).
    fn database_at(version: i64) -> Connection {
        let steps = [
            SCHEMA,
            TO_VERSION_2,
            TO_VERSION_3,
            TO_VERSION_4,
            TO_VERSION_5,
            TO_VERSION_6,
            TO_VERSION_7,
            TO_VERSION_8,
        ];
        let conn = Connection::open_in_memory().unwrap();
        for step in &steps[..usize::try_from(version).unwrap()] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        conn
    }

    /// A keyed read takes the writing connection when nothing holds it or waits for it (its page cache is
    /// the one kept warm), a read connection otherwise: while a commit holds the writer, and while commits
    /// wait for it (a read would hold them up).
    #[tokio::test(flavor = "current_thread")]
    async fn a_read_takes_the_idle_writer_and_otherwise_a_read_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        let on_a_read_connection =
            || store.read(|conn| Ok(conn.query_row("PRAGMA query_only", [], |r| r.get::<_, bool>(0))?));
        assert!(!on_a_read_connection().await.unwrap(), "the writer was idle");

        let held = store.writer.try_lock().unwrap();
        assert!(on_a_read_connection().await.unwrap(), "a commit held the writer");
        drop(held);

        let (answer, _outcome) = tokio::sync::oneshot::channel();
        store.queue.lock().unwrap().push(Queued {
            id: 0,
            encoded: Encoded::default(),
            batch: WriteBatch::default(),
            now: Timestamp::UNIX_EPOCH,
            deadline: tokio::time::Instant::now(),
            answer,
        });
        assert!(on_a_read_connection().await.unwrap(), "a commit waited for the writer");
        store.queue.lock().unwrap().clear();
        assert!(!on_a_read_connection().await.unwrap(), "the writer was idle again");
    }

    /// A keyed read runs in place, on the caller's thread; when SQLite answers busy there (it was told not
    /// to wait), the same read runs again on the blocking pool, where it may wait, and its answer is the
    /// caller's. Any other error is the caller's at once.
    #[tokio::test(flavor = "current_thread")]
    async fn a_read_runs_in_place_and_again_on_the_pool_when_sqlite_would_have_waited() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        // A commit holds the writer throughout, so the reads take read connections. The first read opens one
        // on the pool and leaves it idle.
        let _held = store.writer.try_lock().unwrap();
        store
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .unwrap();
        let caller = std::thread::current().id();

        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&threads);
        let answer = store
            .read(move |conn| {
                let mut seen = seen.lock().unwrap();
                seen.push(std::thread::current().id());
                if seen.len() == 1 {
                    let busy = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY);
                    return Err(rusqlite::Error::SqliteFailure(busy, None).into());
                }
                Ok(conn.query_row("SELECT 2", [], |r| r.get::<_, i64>(0))?)
            })
            .await;
        assert_eq!(answer.unwrap(), 2);
        let threads = threads.lock().unwrap().clone();
        assert_eq!(threads.len(), 2, "tried in place, then on the pool");
        assert_eq!(threads[0], caller, "the first try ran on the caller's thread");
        assert_ne!(threads[1], caller, "the second ran on the blocking pool");

        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let failed: Result<i64, _> = store
            .read(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Err(Error::from(StoreError::Corrupt("unreadable".into())))
            })
            .await;
        assert_eq!(failed, Err(StoreError::Corrupt("unreadable".into())));
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "only busy is tried again"
        );
    }

    /// A pending notice about the order `id`, as a request writes it before sending its mail.
    fn pending_notice(id: &str) -> Notice {
        let order = mallguard_domain::testing::order(id).order_ref;
        let hold = HoldId::for_order(&order);
        let mail = mallguard_domain::notice::Mail {
            to: mallguard_domain::order::EmailAddress::parse("taro.yamada@example.com").unwrap(),
            subject: "【田中商店】ご注文の確認".to_owned(),
            text: "山田 太郎様\n".to_owned(),
            html: None,
            tags: vec![],
        };
        let at = "2026-11-23T03:00:00Z".parse().unwrap();
        let id = NoticeId::from_stored(format!("{hold}.notice"));
        let mut notice = Notice::new(id, mallguard_domain::notice::NoticeKind::Notice, Some(hold), mail, at);
        notice.order = Some(order);
        notice
    }

    /// A store writing behind answers before the record is written (here while a commit holds the writer);
    /// a read of the notice begun after that, and `written_behind`, wait until it is written, and never
    /// show the notice as it was. Reads of anything else do not wait.
    #[tokio::test(flavor = "current_thread")]
    async fn reads_of_notices_wait_for_what_was_written_behind_before_them_and_other_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db"))
            .unwrap()
            .writing_behind();
        let notice = pending_notice("behind-read");
        let batch = WriteBatch {
            notices: vec![(notice.clone(), Expect::Absent)],
            ..WriteBatch::default()
        };
        store.commit(batch).await.unwrap();
        let held = Arc::clone(&store.writer).lock_owned().await;
        let sent = notice.sent("m-1".to_owned());
        let record = WriteBatch {
            notices: vec![(sent.clone(), Expect::Version(notice.version))],
            ..WriteBatch::default()
        };
        store.commit_behind(record).await.unwrap();
        let read = tokio::spawn({
            let (store, id) = (store.clone(), notice.id.clone());
            async move { store.notice(&id).await }
        });
        let everything = tokio::spawn({
            let store = store.clone();
            async move { store.written_behind().await }
        });
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(!read.is_finished(), "the read waits while the record cannot be written");
        assert!(!everything.is_finished(), "so does written_behind");
        let order = notice.order.clone().unwrap();
        assert_eq!(
            store.order(&order).await.unwrap(),
            None,
            "a read of orders does not wait"
        );
        drop(held);
        assert_eq!(read.await.unwrap().unwrap(), Some(sent));
        everything.await.unwrap();
    }

    /// A record's task dropped with its runtime (a process stopping without `written_behind`) counts as
    /// settled: nobody waits for it forever.
    #[test]
    fn a_record_whose_task_went_with_its_runtime_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db"))
            .unwrap()
            .writing_behind();
        let notice = pending_notice("behind-dropped");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let record = WriteBatch {
                notices: vec![(notice.clone(), Expect::Absent)],
                ..WriteBatch::default()
            };
            store.commit_behind(record).await.unwrap();
        });
        drop(runtime);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), store.written_behind())
                .await
                .expect("nothing is left to wait for");
        });
    }

    #[test]
    fn a_payload_that_does_not_unpack_is_a_corrupt_item() {
        assert_eq!(decompress(&compress(b"{}").unwrap()).unwrap(), b"{}");
        assert!(matches!(decompress(b"not zlib"), Err(Error(StoreError::Corrupt(_), _))));
    }

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
    async fn a_version_1_database_is_migrated_and_its_digestless_deliveries_read_as_unseen() {
        let conn = database_at(1);
        conn.execute("INSERT INTO deliveries (id, seen_at) VALUES ('old', 1)", [])
            .unwrap();
        let store = SqliteStore::with_schema(conn).unwrap();
        assert_eq!(store.delivery_digest("old").await.unwrap(), None);
        let batch = WriteBatch {
            deliveries: vec![WebhookDelivery {
                id: "old".into(),
                digest: PayloadDigest::of(b"body"),
            }],
            ..WriteBatch::default()
        };
        store.commit(batch).await.unwrap();
        assert_eq!(
            store.delivery_digest("old").await.unwrap(),
            Some(PayloadDigest::of(b"body"))
        );
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn a_version_2_database_is_migrated_and_its_orders_are_found_by_their_numbers() {
        let numbered = |id: &str, number: Option<&str>| {
            let order = mallguard_domain::testing::order(id);
            let mut stored = StoredOrder {
                identity: mallguard_domain::identity::IdentityHasher::new(b"v2".to_vec()).order_identity(&order),
                products: mallguard_domain::identity::ProductMap::default().products_of(&order),
                raw: vec![],
                received_at: order.placed_at,
                version: 1,
                hold: None,
                duplicates: vec![],
                order,
            };
            stored.order.number = number.map(str::to_owned);
            stored
        };
        let conn = database_at(2);
        let orders = [
            numbered("5678901234567890123", Some("#1001")),
            numbered("5678901234567890124", None),
            numbered("1001", None),
        ];
        for stored in &orders {
            conn.execute(
                "INSERT INTO orders (key, version, json, raw) VALUES (?1, 1, ?2, ?3)",
                params![
                    stored.order.order_ref.key(),
                    to_json(stored).unwrap(),
                    compress(b"").unwrap()
                ],
            )
            .unwrap();
        }
        let store = SqliteStore::with_schema(conn).unwrap();
        let mut found = store
            .orders_with_id(Mall::Own, &OrderId::parse("1001").unwrap())
            .await
            .unwrap();
        found.sort();
        assert_eq!(
            found,
            vec![orders[2].order.order_ref.clone(), orders[0].order.order_ref.clone()]
        );
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    #[test]
    fn a_new_database_has_the_schema_of_a_migrated_one() {
        let schema = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            stmt.query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut new = Connection::open_in_memory().unwrap();
        migrate(&mut new).unwrap();
        let mut old = database_at(1);
        migrate(&mut old).unwrap();
        assert_eq!(schema(&new), schema(&old));
        assert!(schema(&new).iter().any(|sql| sql.contains("orders_by_number")));
        assert!(schema(&new).iter().any(|sql| sql.contains("CREATE TABLE cursors")));
        assert!(
            schema(&new)
                .iter()
                .any(|sql| sql.contains("CREATE TABLE blacklist_marks"))
        );
        assert!(schema(&new).iter().any(|sql| sql.contains("CREATE TABLE sign_ins")));
        assert!(
            schema(&new)
                .iter()
                .any(|sql| sql.contains("CREATE TABLE shop_settings"))
        );
        assert!(schema(&new).iter().any(|sql| sql.contains("CREATE TABLE pages")));
    }

    #[tokio::test]
    async fn a_version_8_database_keeps_its_zlib_payloads_readable_and_refuses_older_builds_from_then_on() {
        let conn = database_at(8);
        let stored = order_written_with_zlib(&conn, "v8");
        let store = SqliteStore::with_schema(conn).unwrap();
        assert_eq!(store.order(&stored.order.order_ref).await.unwrap(), Some(stored));
        // A build of version 8 reads this as a newer file, and refuses it.
        assert_eq!(user_version(&store), 9);
    }

    #[tokio::test]
    async fn a_version_7_database_is_migrated_with_an_empty_pages_table() {
        let conn = database_at(7);
        let store = SqliteStore::with_schema(conn).unwrap();
        let hold = HoldId::parse("h0123456789abcdef0123").unwrap();
        assert!(store.pages(&hold).await.unwrap().is_empty());
        assert!(!store.page_kept(&hold, "00").await.unwrap());
    }

    #[tokio::test]
    async fn a_version_6_database_is_migrated_with_every_shop_on_the_defaults() {
        let conn = database_at(6);
        conn.execute(
            "INSERT INTO sign_ins (id, expires_at) VALUES ('v6-link', ?1)",
            [time_key("2099-01-01T00:00:00Z".parse().unwrap())],
        )
        .unwrap();
        let store = SqliteStore::with_schema(conn).unwrap();
        assert_eq!(store.shop_settings().await.unwrap(), vec![]);
        let mut settings = ShopSettings::new(
            Mall::Yahoo,
            ShopId::parse("tanaka-yahoo").unwrap(),
            "ops",
            "2026-11-29T00:00:00Z".parse().unwrap(),
        );
        settings.set("answer_hours", "12").unwrap();
        settings.version = 1;
        let batch = || WriteBatch {
            shop_settings: vec![(settings.clone(), Expect::Absent)],
            ..WriteBatch::default()
        };
        store.commit(batch()).await.unwrap();
        assert_eq!(store.commit(batch()).await, Err(CommitError::Conflict));
        assert_eq!(store.shop_settings().await.unwrap(), vec![settings]);
        // What version 6 kept is still there: a link used before the migration stays used.
        let used = WriteBatch {
            sign_ins: vec![mallguard_domain::ports::UsedSignIn {
                id: "v6-link".into(),
                expires_at: "2099-01-01T00:00:00Z".parse().unwrap(),
            }],
            ..WriteBatch::default()
        };
        assert_eq!(store.commit(used).await, Err(CommitError::Conflict));
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn a_version_5_database_is_migrated_with_an_empty_blacklist_and_no_link_used() {
        let conn = database_at(5);
        let store = SqliteStore::with_schema(conn).unwrap();
        assert_eq!(store.blacklist().await.unwrap(), vec![]);
        let used = mallguard_domain::ports::UsedSignIn {
            id: "v5-link".into(),
            expires_at: "2099-01-01T00:00:00Z".parse().unwrap(),
        };
        let batch = || WriteBatch {
            sign_ins: vec![used.clone()],
            ..WriteBatch::default()
        };
        store.commit(batch()).await.unwrap();
        assert_eq!(store.commit(batch()).await, Err(CommitError::Conflict));
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn shop_settings_are_listed_in_the_order_of_the_malls_not_of_their_names() {
        let store = SqliteStore::in_memory().unwrap();
        let at: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        let shops: Vec<ShopSettings> = [
            (Mall::Own, "tanaka"),
            (Mall::Amazon, "tanaka-amazon"),
            (Mall::Shopify, "tanaka-b"),
            (Mall::Shopify, "tanaka-a"),
            (Mall::Yahoo, "tanaka-yahoo"),
        ]
        .into_iter()
        .map(|(mall, shop)| {
            let mut settings = ShopSettings::new(mall, ShopId::parse(shop).unwrap(), "ops", at);
            settings.version = 1;
            settings
        })
        .collect();
        let batch = WriteBatch {
            shop_settings: shops.iter().map(|s| (s.clone(), Expect::Absent)).collect(),
            ..WriteBatch::default()
        };
        store.commit(batch).await.unwrap();
        let listed: Vec<(Mall, String)> = store
            .shop_settings()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.mall, s.shop.to_string()))
            .collect();
        let expected: Vec<(Mall, String)> = [
            (Mall::Shopify, "tanaka-a"),
            (Mall::Shopify, "tanaka-b"),
            (Mall::Yahoo, "tanaka-yahoo"),
            (Mall::Amazon, "tanaka-amazon"),
            (Mall::Own, "tanaka"),
        ]
        .into_iter()
        .map(|(mall, shop)| (mall, shop.to_owned()))
        .collect();
        assert_eq!(listed, expected);
    }

    /// Payloads are compressed by each request on its own thread before its commit queues (one compressor a
    /// thread): many commits at once from both of the runtime's threads each keep their own payload, and the
    /// stored JSON holds no copy of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn payloads_compressed_on_many_threads_at_once_are_each_stored_as_they_came() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        let hasher = mallguard_domain::identity::IdentityHasher::new(b"enc".to_vec());
        let stored = |n: usize| {
            let order = mallguard_domain::testing::order(&format!("enc-{n}"));
            StoredOrder {
                identity: hasher.order_identity(&order),
                products: mallguard_domain::identity::ProductMap::default().products_of(&order),
                // Payloads of different lengths, each its own, so a mix-up shows.
                raw: format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(n * 37)).into_bytes(),
                received_at: order.placed_at,
                version: 1,
                hold: None,
                duplicates: vec![],
                order,
            }
        };
        let commits: Vec<_> = (0..64)
            .map(|n| {
                let store = store.clone();
                let order = stored(n);
                tokio::spawn(async move {
                    let batch = WriteBatch {
                        orders: vec![(order, Expect::Absent)],
                        ..WriteBatch::default()
                    };
                    store.commit(batch).await
                })
            })
            .collect();
        for commit in commits {
            commit.await.unwrap().unwrap();
        }
        for n in 0..64 {
            let expected = stored(n);
            let read = store.order(&expected.order.order_ref).await.unwrap().unwrap();
            assert_eq!(read.raw, expected.raw, "order {n}");
        }
        let conn = store.writer.try_lock().unwrap();
        let (rows, without_payload): (i64, i64) = conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE json LIKE '%\"raw\":[]%') FROM orders",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (rows, without_payload),
            (64, 64),
            "the payload is in its own column only"
        );
    }

    #[tokio::test]
    async fn used_links_past_their_expiry_go_at_the_next_use_of_a_link() {
        let clock = Arc::new(ManualClock::at("2026-11-23T03:00:00Z"));
        let store = SqliteStore::in_memory().unwrap().with_clock(clock.clone());
        let used = |id: &str, at: &str| WriteBatch {
            sign_ins: vec![mallguard_domain::ports::UsedSignIn {
                id: id.into(),
                expires_at: at.parse().unwrap(),
            }],
            ..WriteBatch::default()
        };
        store.commit(used("old", "2026-11-23T03:15:00Z")).await.unwrap();
        clock.advance(jiff::SignedDuration::from_hours(1));
        store.commit(used("new", "2026-11-23T04:15:00Z")).await.unwrap();
        let conn = store.writer.try_lock().unwrap();
        let kept: Vec<String> = conn
            .prepare("SELECT id FROM sign_ins ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kept, ["new"]);
    }

    /// An order `{tag}-1` written into `conn` as the builds before LZ4 wrote it: its payload zlib-compressed,
    /// which this build still reads.
    fn order_written_with_zlib(conn: &Connection, tag: &str) -> StoredOrder {
        let order = mallguard_domain::testing::order(&format!("{tag}-1"));
        let stored = StoredOrder {
            identity: mallguard_domain::identity::IdentityHasher::new(tag.as_bytes().to_vec()).order_identity(&order),
            products: mallguard_domain::identity::ProductMap::default().products_of(&order),
            raw: format!(r#"{{"order":"{tag}-1"}}"#).into_bytes(),
            received_at: order.placed_at,
            version: 1,
            hold: None,
            duplicates: vec![],
            order,
        };
        conn.execute(
            "INSERT INTO orders (key, version, json, raw) VALUES (?1, 1, ?2, ?3)",
            params![
                stored.order.order_ref.key(),
                to_json(&stored).unwrap(),
                zlib(&stored.raw)
            ],
        )
        .unwrap();
        stored
    }

    /// The schema version the store's file carries (SQLite's `user_version`).
    fn user_version(store: &SqliteStore) -> i64 {
        let conn = store.writer.try_lock().expect("no commit is under way");
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(raw).unwrap();
        z.finish().unwrap()
    }

    #[tokio::test]
    async fn a_version_3_database_is_migrated_and_its_malls_start_unpolled() {
        let conn = database_at(3);
        let stored = order_written_with_zlib(&conn, "v3");
        let store = SqliteStore::with_schema(conn).unwrap();
        let shop = ShopId::parse("tanaka-rakuten").unwrap();
        assert_eq!(store.cursor(Mall::Rakuten, &shop).await.unwrap(), None);
        let cursor = PollCursor {
            mall: Mall::Rakuten,
            shop: shop.clone(),
            position: "2026-11-23T12:00:00+09:00".into(),
            version: 1,
            updated_at: "2026-11-23T03:00:00Z".parse().unwrap(),
        };
        let batch = WriteBatch {
            cursors: vec![(cursor.clone(), Expect::Absent)],
            ..WriteBatch::default()
        };
        store.commit(batch).await.unwrap();
        assert_eq!(store.cursor(Mall::Rakuten, &shop).await.unwrap(), Some(cursor));
        assert_eq!(store.order(&stored.order.order_ref).await.unwrap(), Some(stored));
        assert_eq!(user_version(&store), SCHEMA_VERSION);
    }

    /// The store's own one-transaction read answers as the two reads it stands for: a redelivery (same id,
    /// same payload) ends there, anything else comes with the snapshot.
    #[tokio::test]
    async fn the_delivery_and_the_snapshot_read_together_answer_as_the_two_reads_would() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        let stored = mallguard_domain::testing::order("D-1");
        let digest = PayloadDigest::of(b"payload");
        let batch = WriteBatch {
            deliveries: vec![WebhookDelivery {
                id: "d-1".to_owned(),
                digest: digest.clone(),
            }],
            ..WriteBatch::default()
        };
        store.commit(batch).await.unwrap();
        let order = &stored.order_ref;
        let at: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let read = |delivery: Option<&'static str>, digest: PayloadDigest| {
            let store = store.clone();
            let order = order.clone();
            async move {
                store
                    .delivery_and_snapshot(delivery, &digest, &order, &[], at, at)
                    .await
                    .unwrap()
            }
        };
        let (seen, snapshot) = read(Some("d-1"), digest.clone()).await;
        assert_eq!((seen, snapshot.is_none()), (Some(digest.clone()), true), "a redelivery");
        let (seen, snapshot) = read(Some("d-1"), PayloadDigest::of(b"another body")).await;
        assert_eq!(seen, Some(digest.clone()), "the same id with another body");
        assert!(snapshot.is_some_and(|s| s.existing.is_none()));
        let (seen, snapshot) = read(Some("d-2"), digest.clone()).await;
        assert_eq!((seen, snapshot.is_some()), (None, true), "a new delivery id");
        let (seen, snapshot) = read(None, digest).await;
        assert_eq!((seen, snapshot.is_some()), (None, true), "no delivery id");
    }

    #[tokio::test]
    async fn a_delivery_is_seen_at_the_time_of_the_injected_clock() {
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
        let store = SqliteStore::in_memory().unwrap().with_clock(clock.clone());
        let deliveries = |ids: &[&str]| WriteBatch {
            deliveries: ids
                .iter()
                .map(|&id| WebhookDelivery {
                    id: id.to_owned(),
                    digest: PayloadDigest::of(id.as_bytes()),
                })
                .collect(),
            ..WriteBatch::default()
        };
        store.commit(deliveries(&["d-1"])).await.unwrap();
        clock.advance(jiff::SignedDuration::from_hours(1));
        // A redelivery keeps the first sighting.
        store.commit(deliveries(&["d-1", "d-2"])).await.unwrap();
        assert_eq!(
            store.delivery_digest("d-2").await.unwrap(),
            Some(PayloadDigest::of(b"d-2"))
        );
        let conn = store.writer.try_lock().unwrap();
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
        let conn = store.writer.try_lock().unwrap();
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
        let number = plan("SELECT key FROM orders WHERE number = '1001' AND key >= 'shopify/' AND key < 'shopify0'");
        assert!(number.contains("orders_by_number"), "{number}");
        let marks = plan("SELECT json FROM blacklist_marks WHERE key = 'k' ORDER BY entry");
        assert!(marks.contains("PRIMARY KEY") && !marks.contains("SCAN"), "{marks}");
        let unmark = plan("SELECT 1 FROM blacklist_marks WHERE entry = 'b1'");
        assert!(unmark.contains("blacklist_marks_by_entry"), "{unmark}");
        let listing = plan("SELECT json FROM blacklist ORDER BY added_at DESC, id");
        assert!(listing.contains("blacklist_by_added_at"), "{listing}");
    }
}
