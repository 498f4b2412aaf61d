//! The amazon-notifications handler over the in-memory store, with the recorded SQS envelope and SP-API
//! answers: what each kind of message becomes, and which ones go back to the queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use mallguard_amazon_notifications::{BatchReport, QUARANTINE_SOURCE, Sellers, handle};
use mallguard_domain::feed::{FeedError, FeedOrder, OrderLookup};
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::notice::NoticeKind;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::Mallguard;
use mallguard_domain::testing::{
    ManualClock, MemoryStore, RecordingMailer, ScriptedLookup, UnavailableStore, settings,
};

const SELLER: &str = "A1EXAMPLESELLER";

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The recorded envelope: two deliveries of one notification of order 250-1234567-7654321.
fn envelope() -> SqsEvent {
    serde_json::from_slice(&sample("lambda/amazon-notifications-sqs.json")).unwrap()
}

/// The recorded getOrder and getOrderItems answers, read as the SP-API client reads them.
fn amazon_order() -> FeedOrder {
    let get_order = sample("amazon/getOrder.json");
    let items = sample("amazon/getOrderItems.json");
    let (order, raw) = mallguard_malls::amazon::order_from(&get_order, &[&items], &ShopId::parse(SELLER).unwrap())
        .map_err(|(_, e)| e)
        .unwrap();
    FeedOrder::Order {
        order: Box::new(order),
        raw,
    }
}

struct World {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:36:00Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock, settings());
    World { app, store, mailer }
}

fn sellers(lookup: &Arc<ScriptedLookup>) -> Sellers {
    Sellers::new([lookup.clone() as Arc<dyn OrderLookup>])
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn a_notification_delivered_twice_reads_and_records_the_order_once() {
    let w = world();
    let lookup = Arc::new(ScriptedLookup::new(Mall::Amazon, SELLER).then(Ok(amazon_order())));
    let (response, report) = handle(&w.app, &sellers(&lookup), None, envelope()).await;
    assert!(failures(&response).is_empty());
    assert_eq!(
        report,
        BatchReport {
            messages: 2,
            ingested: 1,
            already_handled: 1,
            requests: 3,
            ..BatchReport::default()
        }
    );
    assert_eq!(lookup.asked().len(), 1);
    let order_ref = mallguard_domain::ids::OrderRef::new(
        Mall::Amazon,
        ShopId::parse(SELLER).unwrap(),
        mallguard_domain::ids::OrderId::parse("250-1234567-7654321").unwrap(),
    );
    let stored = w.store.order(&order_ref).await.unwrap().expect("recorded");
    assert_eq!(stored.order.buyer.name, "山田 太郎");
    assert_eq!(stored.raw, {
        let FeedOrder::Order { raw, .. } = amazon_order() else {
            unreachable!()
        };
        raw
    });
}

#[tokio::test]
async fn only_the_message_that_could_not_be_handled_goes_back_to_the_queue() {
    let w = world();
    let lookup = Arc::new(
        ScriptedLookup::new(Mall::Amazon, SELLER)
            .then(Err(FeedError::Throttled { retry_after: None }))
            .then(Ok(amazon_order())),
    );
    let (response, report) = handle(&w.app, &sellers(&lookup), None, envelope()).await;
    assert_eq!(failures(&response), ["5b7e2f1c-8a3d-4e6f-9b0a-1c2d3e4f5a6b"]);
    assert_eq!((report.failed, report.ingested), (1, 1));
    // Delivered again, the throttled copy is known by its notification id: nothing read twice.
    let mut again = envelope();
    again.records.truncate(1);
    let (response, report) = handle(&w.app, &sellers(&lookup), None, again).await;
    assert!(failures(&response).is_empty());
    assert_eq!(report.already_handled, 1);
    assert_eq!(lookup.asked().len(), 2);
}

#[tokio::test]
async fn an_unreadable_body_is_quarantined_and_not_delivered_again() {
    let w = world();
    let lookup = Arc::new(ScriptedLookup::new(Mall::Amazon, SELLER));
    let mut event = envelope();
    event.records.truncate(1);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut second = event.records[0].clone();
    second.message_id = Some("deep".into());
    second.body = Some(deep.clone());
    event.records[0].body = Some("{\"NotificationType\": \"ORDER_CHANGE\", \"Payload\": 12}".into());
    event.records.push(second);
    let (response, report) = handle(&w.app, &sellers(&lookup), None, event).await;
    assert!(failures(&response).is_empty());
    assert_eq!(report.quarantined, 2);
    let kept = w.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|q| q.source == QUARANTINE_SOURCE));
    assert!(kept.iter().any(|q| q.raw == deep.as_bytes()));
    assert!(lookup.asked().is_empty());
    assert_eq!(
        w.mailer
            .mails()
            .iter()
            .filter(|m| m
                .tags
                .contains(&("kind".into(), NoticeKind::StaffQuarantine.as_str().into())))
            .count(),
        2
    );
}

#[tokio::test]
async fn an_unreadable_body_goes_back_to_the_queue_when_it_cannot_be_kept() {
    let app = Mallguard::new(
        Arc::new(UnavailableStore),
        Arc::new(RecordingMailer::default()),
        Arc::new(ManualClock::at("2026-11-23T03:36:00Z")),
        settings(),
    );
    let mut event = envelope();
    event.records.truncate(1);
    event.records[0].body = Some("not json".into());
    let (response, _) = handle(&app, &Sellers::default(), None, event).await;
    assert_eq!(failures(&response), ["5b7e2f1c-8a3d-4e6f-9b0a-1c2d3e4f5a6b"]);
}

#[tokio::test]
async fn pending_orders_and_other_marketplaces_are_let_go_without_a_read() {
    let w = world();
    let lookup = Arc::new(ScriptedLookup::new(Mall::Amazon, SELLER));
    let mut event = envelope();
    let pending = event.records[0]
        .body
        .as_ref()
        .unwrap()
        .replace("\"OrderStatus\":\"Unshipped\"", "\"OrderStatus\":\"Pending\"");
    let us = event.records[1]
        .body
        .as_ref()
        .unwrap()
        .replace("A1VC38T7YXB528", "ATVPDKIKX0DER")
        .replace("7d9c2b1a", "8e0d3c2b");
    event.records[0].body = Some(pending);
    event.records[1].body = Some(us);
    let (response, report) = handle(&w.app, &sellers(&lookup), None, event).await;
    assert!(failures(&response).is_empty());
    assert_eq!(report.let_go, 2);
    assert!(lookup.asked().is_empty());
    assert!(w.store.commits().is_empty());
}

#[tokio::test]
async fn a_seller_the_deployment_has_no_credentials_for_is_retried_and_the_staff_told_what_to_add() {
    let w = world();
    let mut event = envelope();
    event.records.truncate(1);
    let (response, _) = handle(&w.app, &Sellers::default(), None, event).await;
    assert_eq!(failures(&response), ["5b7e2f1c-8a3d-4e6f-9b0a-1c2d3e4f5a6b"]);
    let alerts: Vec<_> = w
        .mailer
        .mails()
        .into_iter()
        .filter(|m| {
            m.tags
                .contains(&("kind".into(), NoticeKind::StaffFeedFailure.as_str().into()))
        })
        .collect();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].text.contains(SELLER), "{}", alerts[0].text);
}

#[tokio::test]
async fn messages_not_started_before_the_deadline_go_back_to_the_queue_unread() {
    let w = world();
    let lookup = Arc::new(ScriptedLookup::new(Mall::Amazon, SELLER).then(Ok(amazon_order())));
    let soon = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (response, report) = handle(&w.app, &sellers(&lookup), Some(soon), envelope()).await;
    assert_eq!(
        failures(&response),
        [
            "5b7e2f1c-8a3d-4e6f-9b0a-1c2d3e4f5a6b",
            "c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f"
        ]
    );
    assert_eq!(report.failed, 2);
    assert!(lookup.asked().is_empty());
}
