//! The request budgets, counted, never timed: what one use case costs in DynamoDB
//! requests and items read. Each test prints its measured counts.

use std::sync::Arc;
use std::time::Instant;

use mallguard_aws::dynamodb::DynamoDbStore;
use mallguard_domain::hold::{Decision, Resolver};
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::ports::roles::*;
use mallguard_domain::ports::{Expect, StoredOrder, WriteBatch};
use mallguard_domain::service::{IngestOutcome, PollBudget, index_entries};
use mallguard_domain::testing::{ScriptedFeed, feed_order, feed_page, hold_for, incoming, settings};
use tokio::sync::Mutex;

use crate::support::{Table, World, customer_order};

fn keys_of(order: &mallguard_domain::order::Order) -> u64 {
    settings().hasher.order_identity(order).keys.len() as u64
}

#[tokio::test]
async fn a_new_order_costs_one_query_per_identity_key_and_one_transaction() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());

    let first = customer_order(1, "budget-1", "2026-11-23T03:00:00Z");
    let keys = keys_of(&first);
    assert!(keys >= 3, "the test customer has an email, a phone and an address key");
    table.counts.reset();
    assert_eq!(
        world.app.ingest(incoming(first.clone())).await.unwrap(),
        IngestOutcome::Accepted
    );
    let new = table.counts.take();
    println!("a new order ({keys} identity keys): {new}");
    assert_eq!(new.of("Query"), keys, "one Query per identity key");
    assert_eq!(new.of("TransactWriteItems"), 1, "one transaction");
    assert_eq!(new.of("GetItem"), 0, "no GetItem for an order nobody stored yet");
    assert_eq!(new.total(), keys + 1, "nothing else: {new}");
    assert_eq!(new.attempts, keys + 1, "no retries");

    // Another new order of another customer costs the same, whatever the table holds.
    let other = customer_order(2, "budget-2", "2026-11-23T03:00:00Z");
    world.app.ingest(incoming(other)).await.unwrap();
    let again = table.counts.take();
    assert_eq!(
        (again.of("Query"), again.of("TransactWriteItems"), again.total()),
        (keys, 1, keys + 1)
    );

    // A duplicate: the same Queries, the original's GetItem, the decision's transaction, then one
    // transaction per notice sent (the buyer's notice and the staff alert) to record it as sent.
    let duplicate = customer_order(1, "budget-3", "2026-11-23T03:05:00Z");
    let outcome = world.app.ingest(incoming(duplicate)).await.unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Held { notified: true, .. }),
        "{outcome:?}"
    );
    let dup = table.counts.take();
    println!("a duplicate (held, notice and staff alert sent): {dup}");
    assert_eq!(dup.of("Query"), keys);
    assert_eq!(dup.of("GetItem"), 1, "the original order");
    assert_eq!(
        dup.of("TransactWriteItems"),
        3,
        "the decision, then each of the two notices recorded as sent"
    );

    // A redelivery of the first order: its own index entries name it, so one GetItem finds it; it
    // writes nothing.
    let redelivered = world.app.ingest(incoming(first)).await.unwrap();
    assert_eq!(redelivered, IngestOutcome::Redelivered);
    let redelivery = table.counts.take();
    println!("a redelivery (no webhook delivery id): {redelivery}");
    assert_eq!(redelivery.writes(), 0, "a redelivery writes nothing");
    assert_eq!(redelivery.of("Query"), keys);
    assert_eq!(redelivery.of("GetItem"), 1);

    // With a webhook delivery id: the first delivery costs one GetItem more (has it been seen?), a
    // repeat only that GetItem.
    let mut with_id = incoming(customer_order(3, "budget-4", "2026-11-23T03:00:00Z"));
    with_id.delivery = Some("webhook-delivery-1".into());
    world.app.ingest(with_id.clone()).await.unwrap();
    let first_delivery = table.counts.take();
    println!("a new order with a webhook delivery id: {first_delivery}");
    assert_eq!(
        (
            first_delivery.of("GetItem"),
            first_delivery.of("Query"),
            first_delivery.of("TransactWriteItems")
        ),
        (1, keys, 1)
    );
    assert_eq!(world.app.ingest(with_id).await.unwrap(), IngestOutcome::Redelivered);
    let repeat = table.counts.take();
    println!("a repeated webhook delivery: {repeat}");
    assert_eq!(repeat.total(), 1, "one GetItem of the delivery id: {repeat}");
    assert_eq!(repeat.writes(), 0);
}

/// The request counts of one new order's ingest: (Query, TransactWriteItems, every request).
async fn new_order_costs(table: &Table, world: &World, order: mallguard_domain::order::Order) -> (u64, u64, u64) {
    table.counts.reset();
    assert_eq!(
        world.app.ingest(incoming(order)).await.unwrap(),
        IngestOutcome::Accepted
    );
    let counts = table.counts.take();
    (counts.of("Query"), counts.of("TransactWriteItems"), counts.total())
}

/// Readings and addresses without a postal code cost the ingest path at most one Query more, and only
/// for an order that carries a reading: the address key is one key whether the postal code is there or
/// not, and a reading is one more key, read by one more Query run beside the others.
#[tokio::test]
async fn a_reading_costs_one_more_query_only_when_the_order_carries_it_and_a_missing_postal_code_none() {
    use mallguard_domain::identity::KeyKind;
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let kinds = |order: &mallguard_domain::order::Order| -> Vec<KeyKind> {
        settings()
            .hasher
            .order_identity(order)
            .keys
            .iter()
            .map(|k| k.kind())
            .collect()
    };

    // A kanji name and no reading: email, phone and address, one Query each.
    let mut plain = customer_order(21, "budget-reading-1", "2026-11-23T03:00:00Z");
    plain.buyer.kana = None;
    assert_eq!(kinds(&plain).len(), 3, "{:?}", kinds(&plain));
    let base = new_order_costs(&table, &world, plain).await;
    println!("a new order without a reading (3 identity keys): {base:?}");
    assert_eq!(base, (3, 1, 4), "one Query per key and one transaction");

    // Without a valid postal code: still the address key (from the prefecture), at the same cost.
    let mut no_postal = customer_order(22, "budget-reading-2", "2026-11-23T03:00:00Z");
    no_postal.buyer.kana = None;
    no_postal.ship_to.postal_code = "100-001".into();
    assert!(kinds(&no_postal).contains(&KeyKind::Address));
    let without_postal = new_order_costs(&table, &world, no_postal).await;
    println!("a new order without a valid postal code: {without_postal:?}");
    assert_eq!(without_postal, base, "a missing postal code costs nothing more");

    // With the mall's reading of the recipient: one key more, one Query more, nothing else.
    let mut with_reading = customer_order(23, "budget-reading-3", "2026-11-23T03:00:00Z");
    with_reading.ship_to.kana = Some("ヤマダ タロウ".into());
    assert!(kinds(&with_reading).contains(&KeyKind::Reading));
    let read = new_order_costs(&table, &world, with_reading).await;
    println!("a new order with a reading (4 identity keys): {read:?}");
    assert_eq!(read, (base.0 + 1, 1, base.2 + 1), "exactly one Query more");

    // A name written in romaji is its own reading: the same one Query more, even without a postal code.
    let mut romaji = customer_order(24, "budget-reading-4", "2026-11-23T03:00:00Z");
    romaji.buyer.kana = None;
    romaji.ship_to.name = "Taro Yamada".into();
    romaji.ship_to.postal_code = String::new();
    let spoken = new_order_costs(&table, &world, romaji).await;
    println!("a new order with a romaji name and no postal code: {spoken:?}");
    assert_eq!(spoken, read);

    // The Amazon order of the buyer of `with_reading`, written in romaji at the same home, is found
    // with those same Queries and held: the reading key links them.
    let mut amazon = customer_order(23, "budget-reading-5", "2026-11-23T03:10:00Z");
    amazon.order_ref.mall = mallguard_domain::ids::Mall::Amazon;
    amazon.buyer.kana = None;
    amazon.buyer.email = Some("zz99@marketplace.amazon.co.jp".parse().unwrap());
    amazon.buyer.phone = None;
    amazon.ship_to.phone = None;
    amazon.ship_to.name = "YAMADA TARO".into();
    amazon.ship_to.kana = None;
    let queries = settings().hasher.order_identity(&amazon).keys.len() as u64;
    table.counts.reset();
    let outcome = world.app.ingest(incoming(amazon)).await.unwrap();
    assert!(matches!(outcome, IngestOutcome::Held { .. }), "{outcome:?}");
    let held = table.counts.take();
    println!("the same buyer's order in romaji on another mall, held: {held}");
    assert_eq!(held.of("Query"), queries, "one Query per key of the new order: {held}");
    assert_eq!(held.of("Scan"), 0);
}

const ORDERS: usize = 10_000;
const DUE: usize = 10;

/// Writes `batches` through the store's own `commit`, several transactions at a time.
/// A poll that finds nothing new costs what it must and nothing else: the cursor read, the cursor moved.
/// The blacklist costs ingest nothing: its marks live in the identity keys' partitions that ingest
/// queries anyway, so a new order of anybody costs the same Queries with a blacklist as without, and a
/// listed customer's next order is held with those same Queries (plus the listed order, read once for the
/// staff's page, and its transactions: the decision and the staff alert).
#[tokio::test]
async fn the_blacklist_costs_the_ingest_path_no_extra_request() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let listed = customer_order(7, "budget-bl-1", "2026-11-01T03:00:00Z");
    let keys = keys_of(&listed);
    world.app.ingest(incoming(listed.clone())).await.unwrap();
    world
        .app
        .add_to_blacklist(&listed.order_ref, "受取拒否", "ops")
        .await
        .unwrap();

    table.counts.reset();
    let stranger = customer_order(8, "budget-bl-2", "2026-11-23T03:00:00Z");
    assert_eq!(
        world.app.ingest(incoming(stranger)).await.unwrap(),
        IngestOutcome::Accepted
    );
    let new = table.counts.take();
    println!("a new order with a blacklist in the table: {new}");
    assert_eq!(
        (
            new.of("Query"),
            new.of("GetItem"),
            new.of("TransactWriteItems"),
            new.total()
        ),
        (keys, 0, 1, keys + 1),
        "the same as without a blacklist: {new}"
    );

    let again = customer_order(7, "budget-bl-3", "2026-11-23T03:00:00Z");
    let outcome = world.app.ingest(incoming(again)).await.unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Held { notified: false, .. }),
        "{outcome:?}"
    );
    let hit = table.counts.take();
    println!("a blacklisted customer's next order: {hit}");
    assert_eq!(hit.of("Query"), keys, "the marks come with the ingest Queries: {hit}");
    assert_eq!(hit.of("GetItem"), 1, "the order the entry was made from: {hit}");
    assert_eq!(hit.of("Scan"), 0);
}

#[tokio::test]
async fn a_poll_with_nothing_new_costs_one_getitem_and_one_transaction() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let mut order = customer_order(5, "386193-20261123-0000000005", "2026-11-23T03:00:00Z");
    order.order_ref.mall = Mall::Rakuten;
    order.order_ref.shop = ShopId::parse("tanaka-rakuten").unwrap();
    let feed = ScriptedFeed::new(Mall::Rakuten, "tanaka-rakuten").then(Ok(feed_page(
        vec![feed_order(order.clone())],
        "2026-11-23T12:05:00+09:00",
        false,
    )));
    let budget = PollBudget {
        max_pages: 10,
        first_look_back: jiff::SignedDuration::from_hours(24),
        until: None,
    };
    let first = world.app.poll(&feed, budget).await.unwrap();
    assert_eq!((first.accepted, first.cursor_moved), (1, true), "{first:?}");
    let keys = keys_of(&order);
    let polled = table.counts.take();
    println!("a first poll with one new order ({keys} identity keys): {polled}");
    assert_eq!(polled.of("GetItem"), 1, "the cursor: {polled}");
    assert_eq!(polled.of("Query"), keys, "the new order's ingest Queries: {polled}");
    assert_eq!(
        polled.of("TransactWriteItems"),
        2,
        "the order's decision and the cursor: {polled}"
    );

    let idle = world.app.poll(&feed, budget).await.unwrap();
    let counts = table.counts.take();
    println!("a poll with nothing new: {counts}");
    assert_eq!((idle.pages, idle.orders, idle.cursor_moved), (1, 0, true), "{idle:?}");
    assert_eq!(counts.of("GetItem"), 1, "the cursor: {counts}");
    assert_eq!(counts.of("TransactWriteItems"), 1, "the cursor moved: {counts}");
    assert_eq!(counts.total(), 2, "nothing else: {counts}");
    let cursor = world
        .app
        .cursor(Mall::Rakuten, &ShopId::parse("tanaka-rakuten").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cursor.position.as_str(), cursor.version),
        ("2026-11-23T12:05:00+09:00", 2)
    );
}

async fn commit_all(store: &DynamoDbStore, batches: Vec<WriteBatch>) {
    let queue = Arc::new(Mutex::new(batches));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (queue, store) = (queue.clone(), store.clone());
        workers.spawn(async move {
            loop {
                let Some(batch) = queue.lock().await.pop() else { break };
                store.commit(batch).await.expect("writing the setup");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a setup writer panicked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_sweep_over_ten_thousand_orders_reads_only_the_due_holds() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let started = Instant::now();

    // 10,000 orders of 10,000 customers, with their match-index entries.
    let hasher = &settings().hasher;
    let mut orders: Vec<StoredOrder> = (0..ORDERS)
        .map(|i| {
            let order = customer_order(10_000 + i, &format!("bulk-{i:05}"), "2026-11-23T03:00:00Z");
            StoredOrder {
                identity: hasher.order_identity(&order),
                products: settings().products.products_of(&order),
                raw: format!("{{\"order\":\"bulk-{i:05}\"}}").into_bytes(),
                received_at: "2026-11-23T03:00:01Z".parse().unwrap(),
                version: 1,
                hold: None,
                duplicates: vec![],
                order,
            }
        })
        .collect();

    // Holds on the first 100 orders (held order 2i, original 2i+1): 10 due, 20 due next week and 20
    // settled, so the sweep has holds to pass over in the index as well as in the table.
    let due_at: jiff::Timestamp = "2026-11-24T00:00:00Z".parse().unwrap();
    let mut holds = vec![];
    for h in 0..DUE + 40 {
        let mut hold = hold_for(&orders[2 * h].order, &orders[2 * h + 1].order);
        hold.remind_at = None;
        hold.deadline = if h < DUE {
            due_at
        } else {
            "2026-11-30T00:00:00Z".parse().unwrap()
        };
        if h >= DUE + 20 {
            hold = hold
                .settle(Decision::Confirm, Resolver::Buyer, due_at)
                .expect("a held hold settles");
        }
        orders[2 * h].hold = Some(hold.id.clone());
        orders[2 * h + 1].duplicates = vec![hold.id.clone()];
        holds.push((hold, Expect::Absent));
    }
    // 20 orders and their entries (4 keys each: email, phone, address, reading) per transaction: 100 items.
    let mut batches: Vec<WriteBatch> = orders
        .chunks(20)
        .map(|chunk| WriteBatch {
            index: chunk.iter().flat_map(index_entries).collect(),
            orders: chunk.iter().map(|o| (o.clone(), Expect::Absent)).collect(),
            ..WriteBatch::default()
        })
        .collect();
    batches.push(WriteBatch {
        holds,
        ..WriteBatch::default()
    });
    let transactions = batches.len();
    let items: usize = batches
        .iter()
        .map(|b| b.orders.len() + b.index.len() + b.holds.len())
        .sum();
    commit_all(&table.store, batches).await;
    println!(
        "setup: {ORDERS} orders, {items} items in {transactions} transactions in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    world.clock.set("2026-11-24T00:00:01Z".parse().unwrap());
    table.counts.reset();
    let report = world.app.sweep().await.expect("the sweep");
    let sweep = table.counts.take();
    println!("the expiry sweep over {ORDERS} orders and {DUE} due holds: {sweep}; {report:?}");
    assert_eq!(report.cancelled, DUE, "every due hold is cancelled");
    assert_eq!(sweep.of("Scan"), 0, "never a Scan");
    // The deadline's cancellation mail says what still arrives: the buyer's orders open now, one Query per
    // identity key of the held order (each partition holds that one order's entry here).
    let keys = keys_of(&orders[0].order);
    assert_eq!(
        sweep.of("Query"),
        3 + DUE as u64 * keys,
        "one Query each for the due holds, the due notices and the due mall actions, and one per identity key \
         of each due hold's order: {sweep}"
    );
    assert_eq!(
        sweep.of("GetItem"),
        2 * DUE as u64,
        "the held and the original order of each due hold: {sweep}"
    );
    assert!(
        sweep.items_read <= (3 + keys) * DUE as u64,
        "the sweep reads the due holds, their two orders and the held order's own index entries, nothing of \
         the other {ORDERS} orders: {sweep}"
    );

    // The next sweep finds nothing due: one page of nothing per index partition.
    let idle = {
        world.app.sweep().await.expect("the second sweep");
        table.counts.take()
    };
    println!("an idle sweep over the same table: {idle}");
    assert_eq!((idle.of("Query"), idle.items_read, idle.total()), (3, 0, 3));
}

/// One pass of a real feed against its fake, counted at both ends: the mall's requests and DynamoDB's.
struct Pass {
    report: mallguard_domain::service::PollReport,
    store: mallguard_aws::counting::Counts,
}

async fn pass(table: &Table, world: &World, feed: &dyn mallguard_domain::feed::OrderFeed) -> Pass {
    table.counts.reset();
    let budget = PollBudget {
        max_pages: 10,
        first_look_back: jiff::SignedDuration::from_hours(24),
        until: None,
    };
    let report = world.app.poll(feed, budget).await.unwrap();
    Pass {
        report,
        store: table.counts.take(),
    }
}

/// A pass that ingested orders: DynamoDB's requests grow with the orders read, never with the table (no
/// Scan). Each new order costs what a webhook's does (the ingest Queries of its keys, its transaction, and
/// for a held one the hold's mails recorded as sent), plus the cursor read and moved once per page.
///
/// `keys` is the exact number of identity keys of the orders the pass read, one Query each: a bound per
/// order would be seven (an email, three phones, two addresses, a reading) and would let a key counted
/// twice, or a Query too many, pass unseen.
fn assert_per_order(pass: &Pass, mall: &str, keys: u64) {
    let Pass { report, store } = pass;
    let orders = (report.orders + report.quarantined) as u64;
    let pages = report.pages as u64;
    assert_eq!(store.of("Scan"), 0, "{mall}: {store}");
    assert_eq!(
        store.of("Query"),
        keys,
        "{mall}: one Query per identity key of the orders read: {store}"
    );
    assert!(
        store.of("GetItem") <= 2 * orders + 1,
        "{mall}: at most the order and its duplicate's per order, and the cursor: {store}"
    );
    assert!(
        store.of("TransactWriteItems") <= 4 * orders + pages,
        "{mall}: a decision and its mails per order, the cursor per page: {store}"
    );
    assert!(store.total() <= 10 * orders + pages + 1, "{mall}: {store}");
}

/// An idle pass: the mall read once, nothing ingested, and in DynamoDB the cursor read and moved, nothing
/// else (no Scan, no Query).
fn assert_idle(pass: &Pass, mall: &str) {
    let Pass { report, store } = pass;
    println!(
        "{mall}: a pass with nothing new: {} mall requests; store {store}",
        report.requests
    );
    assert_eq!(
        (report.orders, report.quarantined, report.failure.as_deref()),
        (0, 0, None),
        "{mall}: {report:?}"
    );
    assert_eq!(store.of("GetItem"), 1, "{mall}: the cursor: {store}");
    assert_eq!(store.of("TransactWriteItems"), 1, "{mall}: the cursor moved: {store}");
    assert_eq!(store.total(), 2, "{mall}: nothing else: {store}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yahoo_pass_costs_calls_per_changed_order_and_an_idle_one_one_order_list() {
    use mallguard_feeds::fake_yahoo::{Endpoint, FakeYahoo};
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    world.clock.set("2026-11-23T04:30:00Z".parse().unwrap());
    let yahoo = FakeYahoo::start().await;
    let feed = yahoo.feed();

    let first = pass(&table, &world, &feed).await;
    let orders = first.report.orders as u64;
    if orders == 0 {
        let kept: Vec<String> = world
            .app
            .quarantined()
            .await
            .unwrap()
            .into_iter()
            .map(|q| q.error)
            .collect();
        panic!("{:?}; quarantined: {kept:?}", first.report);
    }
    println!(
        "yahoo: a first pass with {orders} orders: {} mall requests; store {}",
        first.report.requests, first.store
    );
    assert_eq!(
        yahoo.requests(Endpoint::OrderInfo),
        orders as u32,
        "one orderInfo per order"
    );
    assert_eq!(yahoo.requests(Endpoint::OrderList), 1);
    // The sample order: the buyer's email, one phone (buyer and ship-to alike), one home, a reading.
    assert_per_order(&first, "yahoo", 4);

    world.clock.advance(jiff::SignedDuration::from_mins(5));
    let idle = pass(&table, &world, &feed).await;
    assert_idle(&idle, "yahoo");
    assert_eq!(yahoo.requests(Endpoint::OrderList), 2, "one orderList");
    assert_eq!(yahoo.requests(Endpoint::OrderInfo), orders as u32, "no orderInfo");
    assert_eq!(idle.report.requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amazon_backstop_pass_costs_calls_per_changed_order_and_an_idle_one_one_get_orders() {
    use mallguard_feeds::fake_amazon::{Endpoint, FakeSpApi};
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    world.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
    let amazon = FakeSpApi::start().await;
    let api = amazon.api();

    let first = pass(&table, &world, &api).await;
    let orders = first.report.orders as u64;
    assert!(orders >= 1, "{:?}", first.report);
    println!(
        "amazon: a first pass with {orders} orders: {} mall requests; store {}",
        first.report.requests, first.store
    );
    assert_eq!(
        amazon.requests(Endpoint::GetOrderItems),
        orders as u32,
        "one getOrderItems per order read"
    );
    // The sample order: Amazon's relay email, one phone and one home; the name in kanji and no reading.
    assert_per_order(&first, "amazon", 3);

    world.clock.advance(jiff::SignedDuration::from_mins(5));
    let before = amazon.requests(Endpoint::GetOrders);
    let idle = pass(&table, &world, &api).await;
    assert_idle(&idle, "amazon");
    assert_eq!(amazon.requests(Endpoint::GetOrders) - before, 1, "one getOrders");
    assert_eq!(
        amazon.requests(Endpoint::GetOrder),
        orders as u32,
        "no order read again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rakuten_pass_costs_calls_per_changed_order_and_an_idle_one_two_searches() {
    use mallguard_feeds::fake::{Endpoint, FakeRms, YAMADA};
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    world.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
    let rms = FakeRms::start().await;
    rms.license_expires("2027-02-01T23:59:59");
    let feed = rms.feed();

    let first = pass(&table, &world, &feed).await;
    let orders = first.report.orders as u64;
    assert_eq!(orders, 2, "{:?}", first.report);
    println!(
        "rakuten: a first pass with {orders} orders: {} mall requests; store {}",
        first.report.requests, first.store
    );
    assert_eq!(rms.requests(Endpoint::GetOrder), 1, "one getOrder for up to 100 orders");
    assert_eq!(
        rms.requests(Endpoint::LicenseExpiry),
        1,
        "the licenseKey's expiry, once a day"
    );
    // 山田 太郎's own order: email, phone, home, reading (4); 佐藤 花子's gift: email, her phone and the
    // recipient's, her home and the recipient's, the recipient's reading (6).
    assert_per_order(&first, "rakuten", 10);

    world.clock.advance(jiff::SignedDuration::from_mins(5));
    let idle = pass(&table, &world, &feed).await;
    assert_idle(&idle, "rakuten");
    assert_eq!(
        idle.report.requests, 2,
        "new orders, and cancellations in the window: two searches"
    );
    assert_eq!(rms.requests(Endpoint::GetOrder), 1, "no order read again");

    // A cancellation at Rakuten: one getOrder of that order, and the store writes its update.
    rms.cancel_yamada();
    world.clock.advance(jiff::SignedDuration::from_mins(5));
    let cancelled = pass(&table, &world, &feed).await;
    println!(
        "rakuten: a pass with one cancellation: {} mall requests; store {}",
        cancelled.report.requests, cancelled.store
    );
    assert_eq!(cancelled.report.updated, 1, "{:?}", cancelled.report);
    assert_eq!(rms.get_batches().last().unwrap(), &vec![YAMADA.to_owned()]);
    assert_eq!(cancelled.report.requests, 3);
    // 山田 太郎's cancellation: the Queries of its four keys, nothing more.
    assert_per_order(&cancelled, "rakuten", 4);
}

/// A mall action adds no request to the decision (its item rides in the decision's transaction) and one
/// transaction after it (the mall's answer recorded); no read on the hot path.
#[tokio::test]
async fn a_mall_action_costs_one_transaction_and_no_read_on_top_of_the_decision() {
    use mallguard_domain::action::{ActionId, ActionKind, ActionState};
    use mallguard_domain::testing::ScriptedActions;
    let table = Table::new().await;
    let mall = Arc::new(ScriptedActions::at(Mall::Own));
    let mut world = World::new(table.store.clone());
    world.app = world.app.clone().with_mall_actions(mall.clone());

    let first = customer_order(8, "budget-act-1", "2026-11-23T03:00:00Z");
    let keys = keys_of(&first);
    world.app.ingest(incoming(first)).await.unwrap();
    table.counts.reset();
    let duplicate = customer_order(8, "budget-act-2", "2026-11-23T03:05:00Z");
    let IngestOutcome::Held { hold, .. } = world.app.ingest(incoming(duplicate)).await.unwrap() else {
        panic!("held")
    };
    let held = table.counts.take();
    println!("a duplicate held at the mall (notice, staff alert, hold action): {held}");
    assert_eq!(held.of("Query"), keys);
    assert_eq!(held.of("GetItem"), 1, "the original order, as without actions");
    assert_eq!(
        held.of("TransactWriteItems"),
        4,
        "the decision (with the action), two notices marked sent, the action's outcome"
    );
    assert_eq!(held.total(), keys + 5, "nothing else: {held}");
    assert_eq!(mall.asked().len(), 1);
    let action = table
        .store
        .action(&ActionId::for_hold(&hold, ActionKind::Hold))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(action.state, ActionState::Done);
}

/// On DynamoDB: a hold the mall fails to place once is placed by the next sweep, once (the sweep claims it,
/// then records the answer: two transactions; the hold read before and after); a hold the
/// mall refuses ends there with the staff told the mall's reason, and nothing else changes.
#[tokio::test]
async fn a_failed_mall_action_is_done_once_by_the_sweep_and_a_refused_one_tells_the_staff() {
    use mallguard_domain::action::{ActionError, ActionId, ActionKind, ActionState};
    use mallguard_domain::hold::HoldState;
    use mallguard_domain::notice::NoticeKind;
    use mallguard_domain::testing::ScriptedActions;
    let table = Table::new().await;
    let mall = Arc::new(
        ScriptedActions::at(Mall::Own)
            .then(Err(ActionError::Later {
                message: "HTTP 503".into(),
                retry_after: None,
            }))
            .then(Ok(Default::default()))
            .then(Err(ActionError::Refused("the order is locked by the warehouse".into()))),
    );
    let mut world = World::new(table.store.clone());
    world.app = world.app.clone().with_mall_actions(mall.clone());

    world
        .app
        .ingest(incoming(customer_order(11, "budget-retry-1", "2026-11-23T03:00:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, .. } = world
        .app
        .ingest(incoming(customer_order(11, "budget-retry-2", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    let id = ActionId::for_hold(&hold, ActionKind::Hold);
    let failed = table.store.action(&id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts), (ActionState::Pending, 1));
    world.clock.advance(jiff::SignedDuration::from_mins(2));
    table.counts.reset();
    let swept = world.app.sweep().await.unwrap();
    let retry = table.counts.take();
    println!("a sweep retrying one failed hold at the mall: {retry}");
    assert_eq!(swept.actions.done, 1, "{swept:?}");
    assert_eq!(retry.of("Scan"), 0);
    assert_eq!(retry.of("TransactWriteItems"), 2, "the claim and the answer: {retry}");
    assert_eq!(
        retry.of("GetItem"),
        2,
        "the hold, read before (still to be held?) and after (settled meanwhile? then its release follows): {retry}"
    );
    assert_eq!(table.store.action(&id).await.unwrap().unwrap().state, ActionState::Done);
    assert_eq!(mall.asked().len(), 2, "tried once, done once");
    world.clock.advance(jiff::SignedDuration::from_mins(2));
    assert_eq!(world.app.sweep().await.unwrap().actions.done, 0, "never again");
    assert_eq!(mall.asked().len(), 2);

    // Another buyer's duplicate: the mall refuses to hold it.
    world
        .app
        .ingest(incoming(customer_order(12, "budget-refused-1", "2026-11-23T03:00:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, .. } = world
        .app
        .ingest(incoming(customer_order(12, "budget-refused-2", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    let refused = table
        .store
        .action(&ActionId::for_hold(&hold, ActionKind::Hold))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused.state, ActionState::Refused);
    let alerts = world.mails_of(NoticeKind::StaffActionRefused);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].text.contains("the order is locked by the warehouse"),
        "{}",
        alerts[0].text
    );
    let still = table.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(still.state, HoldState::Held, "the refusal changes nothing else");
    world.clock.advance(jiff::SignedDuration::from_mins(5));
    world.app.sweep().await.unwrap();
    assert_eq!(mall.asked().len(), 3, "a refusal is not tried again");
}

/// What the buyer's cancellation and the deadline's cost in DynamoDB with the mall acting, against the same
/// without mall actions: the cancel's item rides in the decision's transaction, its outcome (with the mail
/// that waited on it) is one transaction more (the sweep's one more still: it claims the cancel before it
/// runs), and no hold or order is read again for it. The answer's page reads the cancel to say whether it is
/// done: one GetItem more there.
#[tokio::test]
async fn the_buyers_cancellation_and_the_deadline_at_the_mall_cost_transactions_and_no_read() {
    use mallguard_domain::testing::ScriptedActions;
    let table = Table::new().await;
    let acting = {
        let mut world = World::new(table.store.clone());
        world.app = world
            .app
            .clone()
            .with_mall_actions(Arc::new(ScriptedActions::at(Mall::Own)));
        world
    };
    let plain = World::new(table.store.clone());
    let held = |world: &World, customer: usize, tag: &'static str| {
        let app = world.app.clone();
        async move {
            app.ingest(incoming(customer_order(
                customer,
                &format!("{tag}-1"),
                "2026-11-23T03:00:00Z",
            )))
            .await
            .unwrap();
            let duplicate = customer_order(customer, &format!("{tag}-2"), "2026-11-23T03:05:00Z");
            let IngestOutcome::Held { hold, .. } = app.ingest(incoming(duplicate)).await.unwrap() else {
                panic!("held")
            };
            hold
        }
    };

    // The buyer cancels.
    let cost_of_cancel = |world: &World, hold| {
        let token = world.token(&hold, 1);
        let app = world.app.clone();
        let table = &table;
        async move {
            table.counts.reset();
            app.answer(&token).await.unwrap();
            table.counts.take()
        }
    };
    let hold = held(&plain, 21, "budget-cancel-plain").await;
    let without = cost_of_cancel(&plain, hold).await;
    let hold = held(&acting, 22, "budget-cancel-acting").await;
    let with = cost_of_cancel(&acting, hold).await;
    println!("the buyer's cancellation without mall actions: {without}; with: {with}");
    assert_eq!(
        with.of("GetItem"),
        without.of("GetItem") + 1,
        "the page's read of the cancel only"
    );
    assert_eq!(with.of("Query"), without.of("Query"));
    assert_eq!(with.of("TransactWriteItems"), without.of("TransactWriteItems") + 1);
    assert_eq!(with.total(), without.total() + 2, "nothing else: {with}");
    assert_eq!(acting.mails_of(mallguard_domain::notice::NoticeKind::Receipt).len(), 1);

    // Nobody answers: the deadline's sweep (of one due hold each) cancels at the mall.
    let late = held(&plain, 23, "budget-deadline-plain").await;
    let hold = table.store.hold(&late).await.unwrap().unwrap();
    plain.clock.set(hold.deadline);
    table.counts.reset();
    let swept = plain.app.sweep().await.unwrap();
    let without = table.counts.take();
    assert_eq!(swept.cancelled, 1);
    let late = held(&acting, 24, "budget-deadline-acting").await;
    let hold = table.store.hold(&late).await.unwrap().unwrap();
    acting.clock.set(hold.deadline);
    table.counts.reset();
    let swept = acting.app.sweep().await.unwrap();
    let with = table.counts.take();
    println!("the deadline's cancellation without mall actions: {without}; with: {with}");
    assert_eq!((swept.cancelled, swept.actions.done), (1, 1), "{swept:?}");
    assert_eq!(with.of("GetItem"), without.of("GetItem"), "no read for the action");
    // The sweep claims the cancellation just before it runs (so an overlapping sweep never repeats it), then
    // records the mall's answer: two transactions.
    assert_eq!(with.of("TransactWriteItems"), without.of("TransactWriteItems") + 2);
    assert_eq!(with.total(), without.total() + 2, "nothing else: {with}");
}

/// The buyer's other open orders (関連するご注文) cost the ingest path nothing it does not read anyway but
/// one GetItem per related order, and only when a hold is made: they come from the index entries the
/// decision read. The buyer's page and answer read the index once more (one Query per key, a pair's page
/// as well) and one GetItem per related order.
#[tokio::test]
async fn related_orders_cost_one_getitem_each_and_only_when_a_hold_is_made() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let with_b = |n: usize, tag: &str| {
        let mut b = customer_order(n, &format!("{tag}-b"), "2026-11-23T03:02:00Z");
        b.lines =
            mallguard_domain::order::OrderLines::parse(vec![mallguard_domain::testing::line("SKU-B", 1)]).unwrap();
        b
    };
    let first = customer_order(31, "budget-rel-1", "2026-11-23T03:00:00Z");
    let keys = keys_of(&first);
    world.app.ingest(incoming(first)).await.unwrap();
    table.counts.reset();
    assert_eq!(
        world.app.ingest(incoming(with_b(31, "budget-rel"))).await.unwrap(),
        IngestOutcome::Accepted
    );
    let accepted = table.counts.take();
    println!("B, accepted beside A: {accepted}");
    assert_eq!(
        (accepted.of("Query"), accepted.of("GetItem"), accepted.total()),
        (keys, 0, keys + 1),
        "an order that is not held reads no related order: {accepted}"
    );
    let duplicate = customer_order(31, "budget-rel-3", "2026-11-23T03:05:00Z");
    let IngestOutcome::Held { hold, notified: true } = world.app.ingest(incoming(duplicate)).await.unwrap() else {
        panic!("the second A is held")
    };
    let held = table.counts.take();
    println!("the second A, held beside B: {held}");
    assert_eq!(held.of("Query"), keys, "no Query more than a pair's hold: {held}");
    assert_eq!(held.of("GetItem"), 2, "the original order and B: {held}");
    assert_eq!(held.of("TransactWriteItems"), 3, "as a pair's hold: {held}");
    let notice = world
        .mails_of(mallguard_domain::notice::NoticeKind::Notice)
        .pop()
        .unwrap();
    assert!(notice.text.contains("そのほかのご注文"), "{}", notice.text);

    // A pair without B, for the page and the answer.
    world
        .app
        .ingest(incoming(customer_order(32, "budget-pair-1", "2026-11-23T03:00:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold: pair, .. } = world
        .app
        .ingest(incoming(customer_order(32, "budget-pair-2", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    let cost = |hold, answer: bool| {
        let token = world.token(&hold, 0);
        let app = world.app.clone();
        let table = &table;
        async move {
            table.counts.reset();
            if answer {
                app.answer(&token).await.unwrap();
            } else {
                app.view(&token).await.unwrap();
            }
            table.counts.take()
        }
    };
    let (pair_view, view) = (cost(pair.clone(), false).await, cost(hold.clone(), false).await);
    println!("the page of a pair: {pair_view}; beside B: {view}");
    assert!(
        pair_view.of("Query") >= keys,
        "the page looks for related orders: {pair_view}"
    );
    assert_eq!(view.of("Query"), pair_view.of("Query"));
    assert_eq!(view.of("GetItem"), pair_view.of("GetItem") + 1, "B: {view}");
    let (pair_answer, answer) = (cost(pair, true).await, cost(hold, true).await);
    println!("ship both, a pair: {pair_answer}; beside B: {answer}");
    assert_eq!(answer.of("Query"), pair_answer.of("Query"));
    assert_eq!(
        answer.of("GetItem"),
        pair_answer.of("GetItem") + 2,
        "B for the receipt and for the page after it: {answer}"
    );
    assert_eq!(answer.of("TransactWriteItems"), pair_answer.of("TransactWriteItems"));
}

/// The buyer's page as served costs a view one GetItem (is this page kept already?) and, only when its
/// digest is new, one more item in the transaction that notes the opening; a reload of the same page writes
/// its history entry alone, and a page that changed (the hold answered) is kept again.
#[tokio::test]
async fn a_page_is_kept_once_per_digest_for_one_getitem_per_view() {
    use mallguard_domain::ports::Clock as _;
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    world
        .app
        .ingest(incoming(customer_order(41, "budget-page-1", "2026-11-23T03:00:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, .. } = world
        .app
        .ingest(incoming(customer_order(41, "budget-page-2", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    let token = world.token(&hold, 0);
    let render = |page: &mallguard_domain::service::HoldPage| {
        Ok::<_, ()>((
            format!("<p>{} {}</p>", page.held.order_ref.order_id, page.hold.state),
            mallguard_domain::service::PageMeta {
                template: "budget".into(),
                lang: mallguard_domain::Language::Ja,
            },
        ))
    };
    let view = |rendered: bool| {
        let (app, token, table) = (world.app.clone(), token.clone(), &table);
        async move {
            table.counts.reset();
            if rendered {
                app.view_rendered(&token, render).await.unwrap().1.unwrap();
            } else {
                app.view(&token).await.unwrap();
            }
            table.counts.take()
        }
    };
    let bare = view(false).await;
    let first = view(true).await;
    let shown_at = world.clock.now();
    world.clock.advance(jiff::SignedDuration::from_mins(1));
    let reload = view(true).await;
    println!("a view: {bare}; the same, its page kept: {first}; a reload of it: {reload}");
    for counts in [&first, &reload] {
        assert_eq!(counts.of("GetItem"), bare.of("GetItem") + 1, "{counts}");
        assert_eq!(counts.of("Query"), bare.of("Query"));
        assert_eq!(
            counts.of("TransactWriteItems"),
            1,
            "the opening and a new page in one: {counts}"
        );
        assert_eq!(counts.total(), bare.total() + 1, "nothing else: {counts}");
    }
    let kept = table.store.pages(&hold).await.unwrap();
    assert_eq!(kept.len(), 1, "the reload kept nothing more");
    assert_eq!(kept[0].shown_at, shown_at, "and did not write the page again");
    assert!(kept[0].matches());

    world.app.answer(&token).await.unwrap();
    view(true).await;
    let kept = table.store.pages(&hold).await.unwrap();
    assert_eq!(kept.len(), 2, "the answered page is another page");
    assert!(
        kept[0].html.contains("held") && kept[1].html.contains("confirmed"),
        "{kept:?}"
    );
}
