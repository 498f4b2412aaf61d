//! The races of concurrent decisions on DynamoDB Local, through the real use cases: double-clicked orders
//! (exactly one of each pair held) and a buyer's click racing the expiry sweep (one outcome).

use std::collections::BTreeMap;

use mallguard_domain::history::Event;
use mallguard_domain::hold::HoldState;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::{Answer, IngestOutcome};
use mallguard_domain::testing::incoming;
use tokio::task::JoinSet;

use crate::support::{Table, World, customer_order};

const PAIRS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pairs_of_duplicates_sent_at_once_give_exactly_fifty_holds() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let mut tasks = JoinSet::new();
    for pair in 0..PAIRS {
        // A double-click: the same basket by the same customer, thirty seconds apart, both in flight at
        // once. Every pair is another customer, so pairs never match each other.
        for (copy, placed_at) in [("a", "2026-11-23T03:00:00Z"), ("b", "2026-11-23T03:00:30Z")] {
            let order = customer_order(1000 + pair, &format!("race-{pair}-{copy}"), placed_at);
            let app = world.app.clone();
            tasks.spawn(async move { (pair, app.ingest(incoming(order)).await) });
        }
    }
    let mut outcomes: BTreeMap<usize, Vec<IngestOutcome>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (pair, outcome) = joined.expect("an ingest task panicked");
        let outcome = outcome.unwrap_or_else(|e| panic!("pair {pair}: ingest failed: {e}"));
        outcomes.entry(pair).or_default().push(outcome);
    }
    let counts = table.counts.snapshot();

    for (pair, outcomes) in &outcomes {
        let held = outcomes
            .iter()
            .filter(|o| matches!(o, IngestOutcome::Held { .. }))
            .count();
        let accepted = outcomes.iter().filter(|o| **o == IngestOutcome::Accepted).count();
        assert_eq!(
            (held, accepted),
            (1, 1),
            "pair {pair}: exactly one order held and one accepted, got {outcomes:?}"
        );
    }
    let holds = table.store.holds(false).await.expect("listing holds");
    assert_eq!(holds.len(), PAIRS, "exactly one hold per pair: none lost, none doubled");
    for pair in 0..PAIRS {
        let a = customer_order(1000 + pair, &format!("race-{pair}-a"), "2026-11-23T03:00:00Z").order_ref;
        let b = customer_order(1000 + pair, &format!("race-{pair}-b"), "2026-11-23T03:00:30Z").order_ref;
        let of_pair: Vec<_> = holds.iter().filter(|h| [&a, &b].contains(&&h.order)).collect();
        assert_eq!(of_pair.len(), 1, "pair {pair}: one hold");
        let hold = of_pair[0];
        let other = if hold.order == a { &b } else { &a };
        assert_eq!(&hold.original, other, "pair {pair}: the hold points at the other order");
        let stored_held = table.store.order(&hold.order).await.unwrap().expect("the held order");
        let stored_other = table.store.order(other).await.unwrap().expect("the original order");
        assert_eq!(stored_held.hold.as_ref(), Some(&hold.id));
        assert_eq!(stored_other.hold, None, "pair {pair}: the original is not held");
        assert_eq!(stored_other.duplicates, vec![hold.id.clone()]);
    }
    // Each order's winning decision, and each hold's two notices recorded as sent; the rest lost a race.
    let lost = counts
        .of("TransactWriteItems")
        .saturating_sub((PAIRS * 2 + PAIRS * 2) as u64);
    println!(
        "race: {PAIRS} pairs, {} orders: {counts}; {lost} decisions lost a race and were made again",
        PAIRS * 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_click_racing_the_expiry_sweep_gives_one_outcome() {
    let table = Table::new().await;
    let world = World::new(table.store.clone());
    let (mut clicks_won, mut sweeps_won) = (0, 0);
    for round in 0..10 {
        world.clock.set("2026-11-23T03:05:01Z".parse().unwrap());
        let first = customer_order(2000 + round, &format!("click-{round}-1"), "2026-11-23T03:00:00Z");
        let second = customer_order(2000 + round, &format!("click-{round}-2"), "2026-11-23T03:05:00Z");
        assert_eq!(
            world.app.ingest(incoming(first)).await.unwrap(),
            IngestOutcome::Accepted
        );
        let IngestOutcome::Held { hold, notified: true } = world.app.ingest(incoming(second.clone())).await.unwrap()
        else {
            panic!("round {round}: the second order must be held and notified")
        };
        let deadline = table.store.hold(&hold).await.unwrap().expect("the hold").deadline;
        world.clock.set(deadline);
        let token = world.token(&hold, 0);

        let app = world.app.clone();
        let click = tokio::spawn(async move { app.answer(&token).await });
        let app = world.app.clone();
        let sweep = tokio::spawn(async move { app.sweep().await });
        let click = click.await.unwrap().expect("the click");
        let report = sweep.await.unwrap().expect("the sweep");

        let state = table.store.hold(&hold).await.unwrap().expect("the hold").state;
        match click {
            // The link is valid until deadline + grace, so a click that wins counts.
            Answer::Done(page) => {
                clicks_won += 1;
                assert_eq!(page.hold.state, HoldState::Confirmed);
                assert_eq!(report.cancelled, 0, "round {round}: the sweep must not cancel too");
                assert_eq!(state, HoldState::Confirmed);
            }
            Answer::AlreadySettled(page) => {
                sweeps_won += 1;
                assert_eq!(page.hold.state, HoldState::Cancelled, "the loser is told the outcome");
                assert_eq!(report.cancelled, 1);
                assert_eq!(state, HoldState::Cancelled);
            }
            Answer::Expired(_) => panic!("round {round}: the link is still valid at the deadline"),
        }
        let history = table.store.history(&second.order_ref).await.unwrap();
        let resolved = history
            .iter()
            .filter(|e| matches!(e.event, Event::Resolved { .. }))
            .count();
        assert_eq!(resolved, 1, "round {round}: exactly one Resolved event: {history:?}");
    }
    println!("click vs sweep: the click won {clicks_won} rounds, the sweep {sweeps_won}");
}
