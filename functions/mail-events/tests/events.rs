//! The mail-events handler over the in-memory store, with the recorded EventBridge envelope of an SES bounce.

use std::sync::Arc;

use mallguard_domain::notice::NoticeKind;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::{IngestOutcome, MailOutcome, Mallguard};
use mallguard_domain::testing::{ManualClock, MemoryStore, RecordingMailer, incoming, order, order_at, settings};
use mallguard_mail_events::{Handled, handle, report_of};

fn sample() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/lambda/mail-events-bounce.json"
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
