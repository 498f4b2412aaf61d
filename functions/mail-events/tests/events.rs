//! The mail-events handler over the in-memory store, with the EventBridge envelopes of SES's events in
//! `events/lambda/mail-events-*.json`.

use std::sync::Arc;

use jiff::SignedDuration;
use mallguard_domain::hold::Hold;
use mallguard_domain::ids::Mall;
use mallguard_domain::notice::{Mail, NoticeId, NoticeKind, NoticeState};
use mallguard_domain::order::Order;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::{IngestOutcome, MailOutcome, Mallguard};
use mallguard_domain::testing::{ManualClock, MemoryStore, RecordingMailer, incoming, order, order_at, settings};
use mallguard_mail_events::{Handled, handle, report_of};

fn sample() -> serde_json::Value {
    envelope("bounce")
}

/// `events/lambda/mail-events-{name}.json`.
fn envelope(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../events/lambda/mail-events-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_recorded_bounce_reads_as_a_permanent_bounce_of_a_holds_notice() {
    let report = report_of(&sample()).unwrap();
    assert_eq!(report.outcome, MailOutcome::Bounced { permanent: true });
    assert_eq!(report.kind, Some(NoticeKind::Notice));
    assert_eq!(
        report.hold.map(|h| h.to_string()).as_deref(),
        Some("h26528c4c205a0bcea6dc")
    );
    assert_eq!(report.detail, "Permanent/General");
    assert!(!report.detail.contains('@'), "no address kept");
    assert_eq!(report.at, "2026-11-23T03:06:11.734Z".parse().unwrap());
}

#[test]
fn other_events_and_other_shapes_are_ignored_with_a_reason() {
    let mut send = sample();
    send["detail"]["eventType"] = "Send".into();
    assert!(report_of(&send).unwrap_err().contains("Send"));
    assert!(report_of(&serde_json::json!({"detail-type": "x"})).is_err());
    assert!(report_of(&serde_json::json!([1, 2])).is_err());
}

#[tokio::test]
async fn a_bounce_of_a_held_orders_notice_escalates_it_to_a_phone_task() {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock, settings());
    app.ingest(incoming(order("1001"))).await.unwrap();
    let IngestOutcome::Held { hold, .. } = app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    let mut event = sample();
    event["detail"]["mail"]["tags"]["hold"] = serde_json::json!([hold.to_string()]);
    assert_eq!(handle(&app, event.clone()).await.unwrap(), Handled::Escalated);
    let alerts: Vec<_> = mailer
        .mails()
        .into_iter()
        .filter(|m| m.tags.contains(&("kind".into(), "staff_undeliverable".into())))
        .collect();
    assert_eq!(alerts.len(), 1);
    // Delivered again by EventBridge: recorded, no second alert.
    assert_eq!(handle(&app, event).await.unwrap(), Handled::Recorded);
    let history = store
        .history(&order_at("1002", "2026-11-23T03:05:00Z").order_ref)
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|h| format!("{:?}", h.event).contains("MailReported"))
            .count(),
        2
    );
}

#[test]
fn each_recorded_envelope_reads_as_its_outcome_for_the_same_notice() {
    let cases = [
        (
            "complaint",
            MailOutcome::Complained,
            "abuse",
            "2026-11-23T03:07:44.102Z",
        ),
        (
            "reject",
            MailOutcome::Rejected,
            "Bad content",
            "2026-11-23T03:06:10.021Z",
        ),
        ("delivery", MailOutcome::Delivered, "", "2026-11-23T03:06:11.518Z"),
        (
            "delivery-delay",
            MailOutcome::Delayed,
            "TransientCommunicationFailure",
            "2026-11-23T03:16:09.744Z",
        ),
    ];
    for (name, outcome, detail, at) in cases {
        let report = report_of(&envelope(name)).unwrap();
        assert_eq!(report.outcome, outcome, "{name}");
        assert_eq!(report.detail, detail, "{name}");
        assert_eq!(report.at, at.parse().unwrap(), "{name}");
        assert_eq!(report.kind, Some(NoticeKind::Notice), "{name}");
        assert_eq!(
            report.hold.map(|h| h.to_string()).as_deref(),
            Some("h26528c4c205a0bcea6dc"),
            "{name}"
        );
    }
}

/// The in-memory stack at the duplicate's arrival.
struct Stack {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
}

fn stack() -> Stack {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings());
    Stack {
        app,
        store,
        mailer,
        clock,
    }
}

impl Stack {
    /// Ingests `first` and then `second` (a duplicate of it) and returns the hold.
    async fn hold(&self, first: Order, second: Order) -> Hold {
        self.app.ingest(incoming(first)).await.unwrap();
        let IngestOutcome::Held { hold, .. } = self.app.ingest(incoming(second)).await.unwrap() else {
            panic!("held")
        };
        self.store.hold(&hold).await.unwrap().unwrap()
    }

    /// The recorded envelope `name`, about `hold`'s notice.
    fn event(&self, name: &str, hold: &Hold) -> serde_json::Value {
        let mut event = envelope(name);
        event["detail"]["mail"]["tags"]["hold"] = serde_json::json!([hold.id.to_string()]);
        event
    }

    fn staff_alerts(&self) -> Vec<Mail> {
        self.mailer
            .mails()
            .into_iter()
            .filter(|m| m.tags.contains(&("kind".into(), "staff_undeliverable".into())))
            .collect()
    }
}

fn pair() -> (Order, Order) {
    (order("1001"), order_at("1002", "2026-11-23T03:05:00Z"))
}

#[tokio::test]
async fn a_complaint_arriving_first_escalates_the_hold_to_a_phone_task() {
    let s = stack();
    let (first, second) = pair();
    let hold = s.hold(first, second).await;
    assert_eq!(
        handle(&s.app, s.event("complaint", &hold)).await.unwrap(),
        Handled::Escalated
    );
    let alerts = s.staff_alerts();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].text.contains("電話で確認") && alerts[0].text.contains("090"),
        "{}",
        alerts[0].text
    );
    // The bounce that follows is kept, with no second phone task.
    assert_eq!(
        handle(&s.app, s.event("bounce", &hold)).await.unwrap(),
        Handled::Recorded
    );
    assert_eq!(s.staff_alerts().len(), 1);
}

#[tokio::test]
async fn a_reject_of_a_notice_still_waiting_to_be_retried_escalates_and_ends_its_retries() {
    let s = stack();
    let (first, second) = pair();
    // The send failed as far as mallguard knows, so the notice waits for the sweep; SES took it after all.
    s.mailer.fail(true);
    let hold = s.hold(first, second).await;
    s.mailer.fail(false);
    assert_eq!(
        handle(&s.app, s.event("reject", &hold)).await.unwrap(),
        Handled::Escalated
    );
    let notice = s
        .store
        .notice(&NoticeId::for_hold(&hold.id, NoticeKind::Notice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.state, NoticeState::Failed, "no more retries");
    s.clock.advance(SignedDuration::from_hours(1));
    s.app.sweep().await.unwrap();
    let to_buyer = s
        .mailer
        .mails()
        .into_iter()
        .filter(|m| m.tags.contains(&("kind".into(), "notice".into())))
        .count();
    assert_eq!(to_buyer, 0, "the sweep does not send it again");
    assert_eq!(s.staff_alerts().len(), 1);
}

#[tokio::test]
async fn a_delivery_or_a_delay_is_only_recorded() {
    let s = stack();
    let (first, second) = pair();
    let hold = s.hold(first, second).await;
    let before = s.mailer.mails().len();
    for name in ["delivery-delay", "delivery"] {
        assert_eq!(handle(&s.app, s.event(name, &hold)).await.unwrap(), Handled::Recorded);
    }
    assert_eq!(s.mailer.mails().len(), before, "nobody is mailed");
    let after = s.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(after, hold, "the hold is as it was");
    let reported = s
        .store
        .history(&hold.order)
        .await
        .unwrap()
        .iter()
        .filter(|h| format!("{:?}", h.event).contains("MailReported"))
        .count();
    assert_eq!(reported, 2);
}

#[tokio::test]
async fn a_transient_bounce_escalates_the_hold() {
    let s = stack();
    let (first, second) = pair();
    let hold = s.hold(first, second).await;
    let mut event = s.event("bounce", &hold);
    event["detail"]["bounce"]["bounceType"] = "Transient".into();
    event["detail"]["bounce"]["bounceSubType"] = "MailboxFull".into();
    assert_eq!(handle(&s.app, event).await.unwrap(), Handled::Escalated);
    assert_eq!(s.staff_alerts().len(), 1);
}

#[tokio::test]
async fn an_amazon_orders_bounce_records_the_customer_service_request_and_no_phone_task() {
    let s = stack();
    let (mut first, mut second) = pair();
    first.order_ref.mall = Mall::Amazon;
    second.order_ref.mall = Mall::Amazon;
    let hold = s.hold(first, second).await;
    assert_eq!(
        handle(&s.app, s.event("bounce", &hold)).await.unwrap(),
        Handled::Escalated
    );
    let escalated = s.store.hold(&hold.id).await.unwrap().unwrap();
    let case = escalated.amazon_fallback_case.expect("the request is noted");
    assert!(escalated.awaiting_staff);
    let alerts = s.staff_alerts();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].text.contains(&case), "{}", alerts[0].text);
    assert!(!alerts[0].text.contains("電話で確認"), "{}", alerts[0].text);
    assert!(alerts[0].text.contains("電話はできません"), "{}", alerts[0].text);
}

#[tokio::test]
async fn a_gift_orders_bounce_gives_no_phone_task() {
    let s = stack();
    let (mut first, mut second) = pair();
    first.gift = true;
    second.gift = true;
    let hold = s.hold(first, second).await;
    assert!(!hold.contact.phone_allowed);
    assert_eq!(
        handle(&s.app, s.event("bounce", &hold)).await.unwrap(),
        Handled::Escalated
    );
    let alerts = s.staff_alerts();
    assert_eq!(alerts.len(), 1);
    assert!(!alerts[0].text.contains("電話で確認"), "{}", alerts[0].text);
    assert!(alerts[0].text.contains("別の方法で確認"), "{}", alerts[0].text);
    assert!(
        s.store
            .hold(&hold.id)
            .await
            .unwrap()
            .unwrap()
            .amazon_fallback_case
            .is_none()
    );
}
