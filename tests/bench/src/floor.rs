//! The writes-only floor: what SQLite alone costs for the rows the store writes for a new, distinct order,
//! one `BEGIN IMMEDIATE` transaction per order, on a database with the store's own schema and pragmas.
//! Ingest can never be faster than this; the gap is the price of everything else (HTTP, parsing,
//! signature, matching, the reads before the write).
//!
//! The same rows means the same keys, not only the same lengths: the three identity keys are made as ingest
//! makes them (HMACs, spread over the key space), and a hold's id is spread as the store's are (a hash of the
//! held order's key).
//! Where each order's entries land in the `heads` and `index_entries` trees decides which pages a commit
//! reads and writes: keys numbered in order (as the floor wrote them before) land on the same few leaves
//! order after order, which stay in SQLite's page cache and the CPU's, and made the floor a quarter faster
//! than writing these rows can be.
//!
//! For the duplicate mix the floor writes what a held order writes as well: its decision (the order's rows,
//! the hold, the buyer's notice and the staff's, the original order taking the duplicate, four history
//! rows) in one transaction, and the two notices' outcomes in a second (a notice is committed before it is
//! sent and its outcome after, so two transactions is the least a held order can take). How its rate
//! compares with the distinct floor's says what share of the distinct rate the mix's writes alone allow.
//! Since ingest under load commits several requests' writes in one transaction, the two are also written
//! eight orders a transaction ([`Floor::in_groups`]): the mix's share then says the same with the syncs
//! shared, as ingest shares them.
//!
//! The floor commits in a loop that does nothing else, so its caches stay warm from one commit to the next,
//! where ingest commits after a request's other work: [`Floor::disturbing_caches`] says what cold caches cost
//! SQLite alone, with memory written over before every other block of transactions.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use mallguard_domain::identity::{IdentityHasher, KeyKind};

use crate::orders::Order;

/// How big the rows' JSON is, in bytes: averages read from a database the server wrote, else guesses.
#[derive(Debug, Clone, Copy)]
pub struct RowSizes {
    pub order_json: usize,
    pub index_json: usize,
    pub history_json: usize,
    pub key: usize,
    pub hold_json: usize,
    pub notice_json: usize,
    /// Whether these were read from a real database (else the guesses below).
    pub measured: bool,
}

impl Default for RowSizes {
    fn default() -> Self {
        Self {
            order_json: 2_000,
            index_json: 400,
            history_json: 200,
            // An identity key: its kind's letter, a colon and 22 characters of base64.
            key: 24,
            hold_json: 1_500,
            notice_json: 3_000,
            measured: false,
        }
    }
}

impl RowSizes {
    /// The average sizes of the rows in a database `mallguard serve` wrote (None when it has no order).
    pub fn of(db: &Path) -> Option<Self> {
        let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        let avg = |sql: &str| -> Option<usize> {
            conn.query_row(sql, [], |r| r.get::<_, Option<f64>>(0))
                .optional()
                .ok()
                .flatten()
                .flatten()
                .map(|v| v.round() as usize)
        };
        Some(Self {
            order_json: avg("SELECT avg(length(json)) FROM orders")?,
            index_json: avg("SELECT avg(length(json)) FROM index_entries")?,
            history_json: avg("SELECT avg(length(json)) FROM history")?,
            key: avg("SELECT avg(length(key)) FROM index_entries")?,
            // A run without holds has neither: the guesses stand (only the mix's floor writes them).
            hold_json: avg("SELECT avg(length(json)) FROM holds").unwrap_or(Self::default().hold_json),
            notice_json: avg("SELECT avg(length(json)) FROM notices").unwrap_or(Self::default().notice_json),
            measured: true,
        })
    }
}

#[derive(Debug, Clone)]
pub struct FloorResult {
    pub orders: usize,
    pub wall: Duration,
    /// The CPU the writing thread spent (in SQLite and in the kernel for it): the rest of `wall` is waiting,
    /// mostly for the disk's sync at each commit.
    pub cpu: Duration,
    pub sizes: RowSizes,
}

impl FloorResult {
    pub fn per_second(&self) -> f64 {
        self.orders as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Milliseconds of the writing thread's CPU per order.
    pub fn cpu_ms_per_order(&self) -> f64 {
        self.cpu.as_secs_f64() * 1_000.0 / self.orders.max(1) as f64
    }
}

/// The floor's database, written slice by slice between the slices of the ingest run it is compared with:
/// on a shared machine the disk's sync latency drifts by the minute, and interleaving gives both the same
/// weather.
pub struct Floor {
    conn: Connection,
    sizes: RowSizes,
    written: usize,
    /// The transactions timed as they are (all of them for the floor proper).
    undisturbed: Tally,
    /// The first orders of pairs whose second has not come yet, oldest first: a held order's original (its
    /// key and its identity keys, which the duplicate shares).
    originals: std::collections::VecDeque<(String, [String; 3])>,
    /// Makes the identity keys as ingest makes them.
    hasher: IdentityHasher,
    /// Orders a transaction: 1 for the floor proper; more to write as ingest's grouped commits do.
    group: usize,
    /// Memory written over before the transactions of every other block (none for the floor proper): see
    /// [`Floor::disturbing_caches`].
    disturb: Vec<u8>,
    /// The transactions the caches were disturbed for.
    disturbed: Tally,
    /// Transactions written so far, to tell the blocks apart.
    transactions: usize,
}

/// Orders written and the time and CPU their transactions took.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    orders: usize,
    wall: Duration,
    cpu: Duration,
}

impl Tally {
    fn result(self, sizes: RowSizes) -> FloorResult {
        FloorResult {
            orders: self.orders,
            wall: self.wall,
            cpu: self.cpu,
            sizes,
        }
    }
}

/// Transactions a block, when blocks alternate with their caches disturbed and not: short enough that
/// both kinds see the same minute of a shared machine, long enough that a block's first transaction is
/// the exception.
pub const BLOCK: usize = 16;

impl Floor {
    /// A new database at `db` with the store's schema (every migration) and pragmas, written one order a
    /// transaction.
    pub fn open(db: &Path, sizes: RowSizes) -> Result<Self, String> {
        Self::in_groups(db, sizes, 1)
    }

    /// The same, written `group` orders a transaction, as ingest's commits come together under load: the
    /// decisions of `group` orders in one, then the outcomes of the held ones' notices in a second.
    pub fn in_groups(db: &Path, sizes: RowSizes, group: usize) -> Result<Self, String> {
        drop(mallguard_embedded::SqliteStore::open(db).map_err(|e| format!("cannot create {}: {e}", db.display()))?);
        // The store's pragmas on its writing connection (`SqliteStore::open`): a busy timeout and WAL, the
        // rest SQLite's defaults. (The store checkpoints on a thread of its own; the floor leaves SQLite's
        // automatic checkpoint on. A floor checkpointing as the store does, tried, wrote within 3 % of this
        // one's rate, less than two runs of either differ.)
        let conn = Connection::open(db).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("the floor database is in {mode} mode, not WAL"));
        }
        Ok(Self {
            conn,
            sizes,
            written: 0,
            undisturbed: Tally::default(),
            originals: std::collections::VecDeque::new(),
            hasher: IdentityHasher::new(b"mallguard-bench floor".to_vec()),
            group: group.max(1),
            disturb: Vec::new(),
            disturbed: Tally::default(),
            transactions: 0,
        })
    }

    /// The same floor, in blocks of transactions that alternate: as it is, and with `bytes` of memory written
    /// over (untimed) before each transaction ([`Floor::disturbed_result`]). The floor proper commits in a
    /// loop that does nothing else, so SQLite's code and pages stay in the core's caches from one commit to the
    /// next; ingest runs a request's other work between two commits, which evicts them. With as much memory
    /// written over as the core's L2 cache holds ([`disturbance`]), a transaction starts from caches as cold
    /// as ingest's, and the two kinds of block, on one database in the same minutes, say what that costs
    /// SQLite alone.
    pub fn disturbing_caches(mut self, bytes: usize) -> Self {
        self.disturb = vec![0; bytes];
        self
    }

    /// Writes the nine rows of each order, one transaction each. The payloads are built before the clock
    /// starts: only SQLite is timed (compressing the raw body is the store's work, but not SQLite's).
    pub fn write(&mut self, orders: &[Order]) -> Result<(), String> {
        let mut rows: Vec<Rows> = orders
            .iter()
            .enumerate()
            .map(|(n, o)| Rows::new(self.written + n, o, self.sizes, &self.hasher))
            .collect();
        for (r, o) in rows.iter_mut().zip(orders) {
            if o.duplicate {
                // The same buyer: its keys' heads are written again, its index entries go beside the original's.
                let (original, keys) = self.originals.pop_front().ok_or("a duplicate before any original")?;
                r.keys = keys;
                r.held = Some(Held::new(r, original, self.sizes));
            } else {
                self.originals.push_back((r.order_key.clone(), r.keys.clone()));
            }
        }
        // `group` orders a transaction (one for the floor proper: each decision, then its outcomes, in turn),
        // each timed on its own so that disturbing the caches before it is not.
        for group in rows.chunks(self.group) {
            let disturbed = !self.disturb.is_empty() && (self.transactions / BLOCK) % 2 == 1;
            if disturbed {
                disturb(&mut self.disturb);
            }
            let (started, cpu_before) = (Instant::now(), thread_cpu());
            write_group(&mut self.conn, group).map_err(|e| format!("floor write: {e}"))?;
            let tally = if disturbed {
                &mut self.disturbed
            } else {
                &mut self.undisturbed
            };
            tally.wall += started.elapsed();
            tally.cpu += thread_cpu().saturating_sub(cpu_before);
            tally.orders += group.len();
            self.transactions += 1;
        }
        self.written += rows.len();
        Ok(())
    }

    /// The floor's transactions (with [`Floor::disturbing_caches`], those of the undisturbed blocks).
    pub fn result(&self) -> FloorResult {
        self.undisturbed.result(self.sizes)
    }

    /// The transactions of the blocks whose caches were disturbed ([`Floor::disturbing_caches`]).
    pub fn disturbed_result(&self) -> FloorResult {
        self.disturbed.result(self.sizes)
    }
}

/// The floor's blocks of transactions as they are and with their caches disturbed, from one pass.
#[derive(Debug, Clone)]
pub struct ColdFloor {
    pub warm: FloorResult,
    pub cold: FloorResult,
    /// The memory written over before each disturbed transaction, and what that amount is.
    pub bytes: usize,
    pub what: &'static str,
}

impl ColdFloor {
    /// `rate` (orders/s) as a percentage of a floor of `floor` orders/s slowed as much as disturbing the
    /// caches slowed these blocks.
    pub fn share_of_slowed(&self, rate: f64, floor: f64) -> f64 {
        let slowed = self.cold.per_second() / self.warm.per_second().max(1e-9);
        100.0 * rate / (floor * slowed).max(1e-9)
    }
}

/// What one new order writes.
struct Rows {
    /// Which order of the run this is.
    number: usize,
    order_key: String,
    order_json: String,
    raw: Vec<u8>,
    keys: [String; 3],
    index_json: String,
    history_json: String,
    placed_at: i64,
    delivery: String,
    digest: String,
    /// What a held order writes besides.
    held: Option<Held>,
}

/// The rows of a hold: its own, the two notices (then their outcomes), the original order written again
/// with the duplicate noted, and three history rows more (matched, the original's duplicate, held) and two
/// for the outcomes.
struct Held {
    hold_id: String,
    hold_json: String,
    notices: [(String, String); 2],
    original_key: String,
    original_json: String,
    history_json: String,
}

impl Held {
    fn new(r: &Rows, original_key: String, s: RowSizes) -> Self {
        let pad = |prefix: &str, len: usize| {
            let mut text = format!("{prefix}{}:", r.order_key);
            while text.len() < len {
                text.push('x');
            }
            text
        };
        // Spread over the table as the store's hold ids are (`h` and 20 hex digits of a hash of the order).
        let hold_id = format!("h{:020x}", spread(r.number) >> 48);
        Self {
            notices: ["notice", "staff_new_hold"].map(|kind| (format!("{hold_id}.{kind}"), pad(kind, s.notice_json))),
            hold_json: pad("hold", s.hold_json),
            hold_id,
            original_json: pad(&original_key, s.order_json),
            original_key,
            history_json: r.history_json.clone(),
        }
    }
}

impl Rows {
    fn new(n: usize, order: &Order, s: RowSizes, hasher: &IdentityHasher) -> Self {
        let pad = |prefix: &str, len: usize| {
            let mut text = format!("{prefix}{n}:");
            while text.len() < len {
                text.push('x');
            }
            text
        };
        // An email, a phone and an address key made as ingest makes them (HMACs, so spread over the key
        // space): each order's three inserts into `heads`, `index_entries` and its index land on leaf pages
        // anywhere in those trees, as the server's do. Keys numbered in order would land on the same few
        // leaves, order after order, which stay in SQLite's cache and the CPU's: a floor faster than any
        // store writing these rows could be.
        let identities = [
            (KeyKind::Email, format!("floor{n}@example.jp")),
            (KeyKind::Phone, format!("0{n:09}")),
            (KeyKind::Address, format!("東京都|千代田区1-{n}|floor")),
        ];
        let keys = identities.map(|(kind, identity)| {
            let mut key = hasher.key(kind, &identity).as_str().to_owned();
            while key.len() < s.key {
                key.push('x');
            }
            key
        });
        Self {
            number: n,
            order_key: format!("own#tanaka-shop#BENCH-floor-{n:07}"),
            order_json: pad("order", s.order_json),
            // Compressed as the store keeps it, so the rows are as long as ingest's.
            raw: mallguard_embedded::payload::pack(&order.body).expect("a bench order is far under 4 GiB"),
            keys,
            index_json: pad("entry", s.index_json),
            history_json: pad("event", s.history_json),
            placed_at: 1_790_000_000_000_000_000 + i64::try_from(n).unwrap_or(0),
            // Numbered like the order key: each row is new, as each of the server's is.
            delivery: format!("generic/{}-{n}", order.id),
            digest: pad("", 64),
            held: None,
        }
    }
}

/// A number spread over 128 bits (two rounds of SplitMix64's finaliser): distinct for distinct `n`, in no
/// order.
fn spread(n: usize) -> u128 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = n as u64;
    (u128::from(mix(n)) << 64) | u128::from(mix(n ^ 0x9e37_79b9_7f4a_7c15))
}

/// Writes one byte of each 64-byte cache line of `memory`, so that whatever the caches held is evicted.
fn disturb(memory: &mut [u8]) {
    for line in memory.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    std::hint::black_box(memory);
}

/// The size of the first CPU core's L2 cache as Linux reports it (`/sys/devices/system/cpu/cpu0/cache`).
pub fn core_l2_bytes() -> Option<usize> {
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).ok();
    let caches = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache")
        .into_iter()
        .flatten()
        .flatten();
    caches
        .filter(|entry| read(entry.path().join("level")).is_some_and(|level| level.trim() == "2"))
        .find_map(|entry| read(entry.path().join("size")).and_then(|size| cache_size(&size)))
}

/// How much memory the cold-cache floor writes over before a transaction: the core's L2 cache, or 2 MiB
/// where Linux reports none; and what that is, in words.
pub fn disturbance() -> (usize, &'static str) {
    match core_l2_bytes() {
        Some(bytes) => (bytes, "a core's L2 cache"),
        None => (
            2 << 20,
            "a guess at a core's L2 cache, which Linux does not report here",
        ),
    }
}

/// A cache size as sysfs writes it (`2048K`, `4M`).
fn cache_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: usize = digits.parse().ok()?;
    match unit {
        "" => Some(n),
        "K" => Some(n << 10),
        "M" => Some(n << 20),
        "G" => Some(n << 30),
        _ => None,
    }
}

/// The CPU time the calling thread has used (user and system).
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill; the clock id is a constant Linux knows.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut t) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// The order row, three heads, three index entries, one history row, one delivery (and a held order's
/// rows): the store's statements (`write_batch` in `functions/embedded/src/store.rs`), in its order.
fn write_rows(tx: &Connection, r: &Rows) -> rusqlite::Result<()> {
    for key in &r.keys {
        tx.prepare_cached(
            "INSERT INTO heads (key, version) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version",
        )?
        .execute(params![key, 1])?;
    }
    tx.prepare_cached(
        "INSERT INTO orders (key, version, json, raw, number) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO UPDATE SET version = excluded.version, json = excluded.json, raw = excluded.raw,
             number = excluded.number",
    )?
    .execute(params![r.order_key, 1, r.order_json, r.raw, Option::<String>::None])?;
    for key in &r.keys {
        tx.prepare_cached(
            "INSERT INTO index_entries (key, order_key, placed_at, json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key, order_key) DO UPDATE SET placed_at = excluded.placed_at, json = excluded.json",
        )?
        .execute(params![key, r.order_key, r.placed_at, r.index_json])?;
    }
    tx.prepare_cached("INSERT INTO history (order_key, at, json) VALUES (?1, ?2, ?3)")?
        .execute(params![r.order_key, r.placed_at, r.history_json])?;
    tx.prepare_cached(
        "INSERT INTO deliveries (id, seen_at, digest) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET digest = excluded.digest",
    )?
    .execute(params![r.delivery, r.placed_at / 1_000_000_000, r.digest])?;
    if let Some(held) = &r.held {
        for _ in 0..3 {
            tx.prepare_cached("INSERT INTO history (order_key, at, json) VALUES (?1, ?2, ?3)")?
                .execute(params![r.order_key, r.placed_at, held.history_json])?;
        }
        tx.prepare_cached(
            "INSERT INTO holds (id, version, state, next_due, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state,
                 next_due = excluded.next_due, created_at = excluded.created_at, json = excluded.json",
        )?
        .execute(params![
            held.hold_id,
            1,
            "held",
            r.placed_at + DAY,
            r.placed_at,
            held.hold_json
        ])?;
        for (id, json) in &held.notices {
            notice(tx, id, 1, "pending", r.placed_at, json)?;
        }
        // The original takes the duplicate: its row written again (same payload, new version).
        tx.prepare_cached(
            "INSERT INTO orders (key, version, json, raw, number) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version, json = excluded.json, raw = excluded.raw,
                 number = excluded.number",
        )?
        .execute(params![
            held.original_key,
            2,
            held.original_json,
            r.raw,
            Option::<String>::None
        ])?;
    }
    Ok(())
}

/// The decisions of `group` in one transaction, then the outcomes of its held orders' notices in another.
fn write_group(conn: &mut Connection, group: &[Rows]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for r in group {
        write_rows(&tx, r)?;
    }
    tx.commit()?;
    if group.iter().any(|r| r.held.is_some()) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in group {
            if let Some(held) = &r.held {
                outcome_rows(&tx, r, held)?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

/// The two notices sent: each written again as sent, with a history row.
fn outcome_rows(tx: &Connection, r: &Rows, held: &Held) -> rusqlite::Result<()> {
    for (id, json) in &held.notices {
        notice(tx, id, 2, "sent", r.placed_at, json)?;
        tx.prepare_cached("INSERT INTO history (order_key, at, json) VALUES (?1, ?2, ?3)")?
            .execute(params![r.order_key, r.placed_at, held.history_json])?;
    }
    Ok(())
}

/// The store's statement for a notice.
fn notice(tx: &Connection, id: &str, version: i64, state: &str, at: i64, json: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO notices (id, version, state, next_attempt_at, json) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state,
             next_attempt_at = excluded.next_attempt_at, json = excluded.json",
    )?
    .execute(params![id, version, state, at, json])?;
    Ok(())
}

/// A day in the store's time keys (nanoseconds).
const DAY: i64 = 86_400 * 1_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::Orders;

    /// Rows per table, every table of the schema, by name.
    fn counts(db: &Path) -> Vec<(String, i64)> {
        let conn = Connection::open(db).expect("the floor's database opens");
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("the tables are listed");
        tables
            .into_iter()
            .map(|t| {
                let n = conn
                    .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                    .expect("a table is counted");
                (t, n)
            })
            .collect()
    }

    #[test]
    fn written_in_groups_the_floor_writes_the_rows_it_writes_one_order_a_transaction() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mix = Orders::load(&root)
            .expect("the sample orders load")
            .with_duplicates("t", 50, 10);
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (one, grouped) = (dir.path().join("one.db"), dir.path().join("grouped.db"));
        let mut alone = Floor::open(&one, RowSizes::default()).expect("the floor opens");
        let mut together = Floor::in_groups(&grouped, RowSizes::default(), 8).expect("the floor opens");
        // In two slices, so that a group and a pair cross from one slice into the next.
        for part in mix.chunks(27) {
            alone.write(part).expect("the floor writes");
            together.write(part).expect("the grouped floor writes");
        }
        let (alone, together) = (counts(&one), counts(&grouped));
        assert_eq!(alone, together);
        let rows = |table: &str| alone.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n);
        // 25 held: each has three history rows more in its decision and two with its outcomes.
        assert_eq!(
            (rows("orders"), rows("holds"), rows("notices"), rows("history")),
            (50, 25, 50, 50 + 25 * 5)
        );
    }

    #[test]
    fn the_floor_writes_identity_keys_made_and_spread_as_ingest_makes_them_and_a_duplicate_shares_its_originals() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mix = Orders::load(&root)
            .expect("the sample orders load")
            .with_duplicates("t", 200, 10);
        let dir = tempfile::tempdir().expect("a temporary folder");
        let db = dir.path().join("floor.db");
        let mut floor = Floor::open(&db, RowSizes::default()).expect("the floor opens");
        floor.write(&mix).expect("the floor writes");
        let conn = Connection::open(&db).expect("the floor's database opens");
        let entries: Vec<(String, String)> = conn
            .prepare("SELECT key, order_key FROM index_entries ORDER BY key")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("the index entries are read");
        assert_eq!(entries.len(), 3 * 200);
        for (key, _) in &entries {
            let parsed = mallguard_domain::identity::IdentityKey::parse(key).expect("a key as ingest's");
            assert_eq!(parsed.as_str(), key);
        }
        // 100 pairs: the duplicate's entries beside its original's, under the same three keys.
        let heads: i64 = conn
            .query_row("SELECT count(*) FROM heads", [], |r| r.get(0))
            .expect("the heads are counted");
        assert_eq!(heads, 3 * 100);
        // Spread: in key order, the orders come in no order of their numbers (numbered keys would keep it).
        // (Each step from one buyer's key to the next: 99 of them.)
        let emails: Vec<&(String, String)> = entries.iter().filter(|(k, _)| k.starts_with("e:")).collect();
        let steps: Vec<bool> = emails
            .windows(2)
            .filter(|w| w[0].0 != w[1].0)
            .map(|w| w[0].1 < w[1].1)
            .collect();
        assert_eq!(steps.len(), 99);
        let ascending = steps.iter().filter(|up| **up).count();
        assert!((20..80).contains(&ascending), "{ascending} of 99 steps ascend");
        let holds: Vec<String> = conn
            .prepare("SELECT id FROM holds")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("the holds are read");
        assert_eq!(holds.len(), 100);
        assert!(holds.iter().all(|h| h.len() == 21 && h.starts_with('h')), "{holds:?}");
    }

    #[test]
    fn disturbing_the_caches_changes_what_is_timed_not_what_is_written() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let orders = Orders::load(&root).expect("the sample orders load").distinct("t", 30);
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (plain, cold) = (dir.path().join("plain.db"), dir.path().join("cold.db"));
        let mut proper = Floor::open(&plain, RowSizes::default()).expect("the floor opens");
        let mut disturbed = Floor::open(&cold, RowSizes::default())
            .expect("the floor opens")
            .disturbing_caches(256 << 10);
        // In slices that cut a block, so that the blocks run on from one slice into the next.
        for part in orders.chunks(7) {
            proper.write(part).expect("the floor writes");
            disturbed.write(part).expect("the disturbed floor writes");
        }
        assert_eq!(counts(&plain), counts(&cold));
        assert_eq!(proper.result().orders, 30);
        assert_eq!(proper.disturbed_result().orders, 0);
        // Blocks of 16: transactions 0 to 15 as they are, 16 to 29 disturbed, each line written over once
        // before each of those.
        assert_eq!(disturbed.result().orders, 16);
        assert_eq!(disturbed.disturbed_result().orders, 14);
        assert!(disturbed.disturb.chunks(64).all(|line| line[0] == 14));
        assert!(disturbed.disturbed_result().cpu > Duration::ZERO);
        assert!(proper.disturb.is_empty());
    }

    #[test]
    fn a_share_of_the_slowed_floor_is_taken_of_the_floor_slowed_as_the_disturbed_blocks_were() {
        let result = |orders: usize| FloorResult {
            orders,
            wall: Duration::from_secs(1),
            cpu: Duration::from_millis(100),
            sizes: RowSizes::default(),
        };
        let blocks = ColdFloor {
            warm: result(100),
            cold: result(80),
            bytes: 2 << 20,
            what: "a core's L2 cache",
        };
        // 40 orders/s against a floor of 100 slowed to 80.
        assert!((blocks.share_of_slowed(40.0, 100.0) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn cache_sizes_read_as_sysfs_writes_them() {
        assert_eq!(cache_size("2048K\n"), Some(2 << 20));
        assert_eq!(cache_size("4M"), Some(4 << 20));
        assert_eq!(cache_size("512"), Some(512));
        assert_eq!(cache_size("2048 KB"), None);
        assert_eq!(cache_size("K"), None);
        assert!(disturbance().0 >= 64 << 10);
    }
}
