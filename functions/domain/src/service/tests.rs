//! Use-case tests over the in-memory store: the lifecycle, the races, the mails.

use std::sync::Arc;

use jiff::SignedDuration;

use super::*;
use crate::hold::HoldState;
use crate::ids::Mall;
use crate::notice::{NoticeKind, NoticeState};
use crate::ports::roles::*;
use crate::testing::{
    ManualClock, MemoryStore, RecordingMailer, incoming, line, link_tokens, order, order_at, settings,
};

struct World {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
}

fn world_with(settings: Settings) -> World {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings);
    World {
        app,
        store,
        mailer,
        clock,
    }
}

fn world() -> World {
    world_with(settings())
}

impl World {
    /// Ingests 1001 then its duplicate 1002 five minutes later; returns the hold.
    async fn held_pair(&self) -> Hold {
        assert_eq!(
            self.app.ingest(incoming(order("1001"))).await.unwrap(),
            IngestOutcome::Accepted
        );
        let outcome = self
            .app
            .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
            .await
            .unwrap();
        let IngestOutcome::Held { hold, notified: true } = outcome else {
            panic!("expected a notified hold: {outcome:?}")
        };
        self.store.hold(&hold).await.unwrap().unwrap()
    }

    fn mails_of(&self, kind: NoticeKind) -> Vec<Mail> {
        self.mailer
            .mails()
            .into_iter()
            .filter(|m| m.tags.contains(&("kind".into(), kind.as_str().into())))
            .collect()
    }

    fn token(&self, action: usize) -> String {
        let notice = self.mails_of(NoticeKind::Notice).pop().expect("a notice was sent");
        link_tokens(&notice)[action].clone()
    }

    async fn state(&self, hold: &Hold) -> HoldState {
        self.store.hold(&hold.id).await.unwrap().unwrap().state
    }

    async fn events(&self, order_id: &str) -> Vec<String> {
        let r = order(order_id).order_ref;
        self.store
            .history(&r)
            .await
            .unwrap()
            .iter()
            .map(|h| format!("{:?}", h.event))
            .collect()
    }
}

use crate::notice::Mail;

#[tokio::test]
async fn a_duplicate_is_held_and_the_buyer_and_staff_are_mailed_at_once() {
    let w = world();
    let hold = w.held_pair().await;
    assert_eq!(hold.state, HoldState::Held);
    assert_eq!(hold.original.order_id.as_str(), "1001");
    let notice = w.mails_of(NoticeKind::Notice);
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].to.as_str(), "taro.yamada@example.com");
    assert_eq!(link_tokens(&notice[0]).len(), 2);
    assert_eq!(
        w.mails_of(NoticeKind::StaffNewHold)[0].to.as_str(),
        "staff@tanaka-shop.example"
    );
    let stored = w
        .store
        .notice(&NoticeId::for_hold(&hold.id, NoticeKind::Notice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, NoticeState::Sent);
    assert_eq!(stored.message_id.as_deref(), Some("test-1"));
    let events = w.events("1002").await.join("\n");
    for needle in ["Received", "Matched", "Held", "NoticeQueued", "NoticeSent"] {
        assert!(events.contains(needle), "{needle} missing from\n{events}");
    }
    assert!(w.events("1001").await.join("").contains("DuplicateReceived"));
}

#[tokio::test]
async fn a_redelivered_order_writes_nothing_and_never_matches_itself() {
    let w = world();
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let history = w.events("1001").await.len();
    for _ in 0..3 {
        assert_eq!(
            w.app.ingest(incoming(order("1001"))).await.unwrap(),
            IngestOutcome::Redelivered
        );
    }
    assert_eq!(w.events("1001").await.len(), history);
    assert!(w.store.holds(false).await.unwrap().is_empty());
    assert!(w.mailer.mails().is_empty());
}

#[tokio::test]
async fn a_seen_delivery_id_is_answered_without_reading_the_order_again() {
    let w = world();
    let mut first = incoming(order("1001"));
    first.delivery = Some("delivery-1".into());
    w.app.ingest(first.clone()).await.unwrap();
    assert_eq!(w.app.ingest(first).await.unwrap(), IngestOutcome::Redelivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_copies_of_a_duplicate_pair_give_exactly_one_hold() {
    let w = world();
    let mut tasks = vec![];
    for i in 0..40 {
        let app = w.app.clone();
        let o = if i % 2 == 0 {
            order("1001")
        } else {
            order_at("1002", "2026-11-23T03:05:00Z")
        };
        tasks.push(tokio::spawn(async move { app.ingest(incoming(o)).await }));
    }
    let mut held = 0;
    for t in tasks {
        if let IngestOutcome::Held { .. } = t.await.unwrap().unwrap() {
            held += 1;
        }
    }
    assert_eq!(held, 1);
    assert_eq!(w.store.holds(false).await.unwrap().len(), 1);
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
}

#[tokio::test]
async fn a_a_b_holds_only_the_second_a_and_three_copies_point_at_the_first() {
    let w = world();
    w.app.ingest(incoming(order("1"))).await.unwrap();
    let second = w
        .app
        .ingest(incoming(order_at("2", "2026-11-23T03:01:00Z")))
        .await
        .unwrap();
    let mut b = order_at("3", "2026-11-23T03:02:00Z");
    b.lines = crate::order::OrderLines::parse(vec![line("SKU-B", 1)]).unwrap();
    assert_eq!(w.app.ingest(incoming(b)).await.unwrap(), IngestOutcome::Accepted);
    let third = w
        .app
        .ingest(incoming(order_at("4", "2026-11-23T03:03:00Z")))
        .await
        .unwrap();
    assert!(matches!(second, IngestOutcome::Held { .. }));
    let IngestOutcome::Held { hold, .. } = third else {
        panic!("{third:?}")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(hold.original.order_id.as_str(), "1");
}

#[tokio::test]
async fn the_buyer_cancels_once_and_a_second_click_learns_the_outcome() {
    let w = world();
    let hold = w.held_pair().await;
    let page = w.app.view(&w.token(1)).await.unwrap();
    assert_eq!(page.hold.state, HoldState::Held, "viewing changes nothing");
    assert!(page.confirm_token.is_some() && page.cancel_token.is_some());
    let Answer::Done(page) = w.app.answer(&w.token(1)).await.unwrap() else {
        panic!("first click settles")
    };
    assert_eq!(page.hold.state, HoldState::Cancelled);
    assert!(page.confirm_token.is_none());
    let Answer::AlreadySettled(page) = w.app.answer(&w.token(0)).await.unwrap() else {
        panic!("second click")
    };
    assert_eq!(page.hold.state, HoldState::Cancelled);
    assert_eq!(w.state(&hold).await, HoldState::Cancelled);
    assert_eq!(w.mails_of(NoticeKind::Receipt).len(), 1);
    assert_eq!(w.mails_of(NoticeKind::StaffResolved).len(), 1);
    let held = w.store.order(&hold.order).await.unwrap().unwrap();
    assert_eq!(
        held.order.status,
        crate::order::OrderStatus::Cancelled,
        "out of matching"
    );
    let events = w.events("1002").await.join("\n");
    assert!(events.contains("PageOpened") && events.contains("Resolved") && events.contains("LateAnswer"));
}

#[tokio::test]
async fn a_forged_link_is_refused_and_an_expired_link_shows_the_outcome() {
    let w = world();
    let hold = w.held_pair().await;
    let mut forged = w.token(1);
    forged.replace_range(forged.len() - 3.., "AAA");
    assert!(matches!(w.app.view(&forged).await, Err(ServiceError::InvalidLink)));
    w.clock.set(
        hold.deadline
            .saturating_add(SignedDuration::from_hours(24 * 15))
            .unwrap(),
    );
    let Answer::Expired(page) = w.app.answer(&w.token(1)).await.unwrap() else {
        panic!("expired")
    };
    assert!(page.expired);
    assert_eq!(w.state(&hold).await, HoldState::Held, "an expired link changes nothing");
}

/// The outcomes of the mails a request sends (the buyer's notice and the staff's alert of a new hold) are
/// given to the store to write behind the request's answer, so a store that can answers first; the sweep
/// sends one mail after another and commits each outcome before its next send, alone.
#[tokio::test]
async fn a_requests_mails_are_recorded_behind_its_answer_and_the_sweeps_one_by_one() {
    let w = world();
    let count = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::Relaxed);
    let hold = w.held_pair().await;
    assert_eq!(w.mailer.mails().len(), 2);
    assert_eq!(count(&w.store.behind), 2, "the notice's outcome and the alert's");
    let notice = crate::notice::NoticeId::for_hold(&hold.id, NoticeKind::Notice);
    let sent = w.store.notice(&notice).await.unwrap().unwrap();
    assert_eq!(sent.state, crate::notice::NoticeState::Sent, "recorded all the same");
    w.clock.set(hold.remind_at.unwrap());
    assert_eq!(w.app.sweep().await.unwrap().reminded, 1);
    assert_eq!(w.mails_of(NoticeKind::Reminder).len(), 1);
    assert_eq!(
        count(&w.store.behind),
        2,
        "the sweep's reminder was recorded before it went on"
    );
    assert_eq!(count(&w.store.beside_others), 0, "and alone");
}

#[tokio::test]
async fn the_sweep_reminds_at_half_time_and_cancels_at_the_deadline() {
    let w = world();
    let hold = w.held_pair().await;
    assert_eq!(
        w.app.sweep().await.unwrap(),
        SweepReport::default(),
        "nothing is due yet"
    );
    w.clock.set(hold.remind_at.unwrap());
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.reminded, report.cancelled), (1, 0));
    assert_eq!(w.mails_of(NoticeKind::Reminder).len(), 1);
    assert_eq!(link_tokens(&w.mails_of(NoticeKind::Reminder)[0]).len(), 2);
    assert_eq!(w.app.sweep().await.unwrap().reminded, 0, "reminded once");
    w.clock.set(hold.deadline);
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.cancelled, 1);
    assert_eq!(w.state(&hold).await, HoldState::Cancelled);
    let cancellation = w.mails_of(NoticeKind::Cancellation);
    assert_eq!(cancellation.len(), 1);
    assert!(cancellation[0].text.contains("1002"));
    assert_eq!(w.mails_of(NoticeKind::StaffExpired).len(), 1);
    assert_eq!(w.app.sweep().await.unwrap(), SweepReport::default());
}

/// A duplicate the mall itself holds for fraud screening (Yahoo!'s FraudHoldStatus): held like any other,
/// and the staff are told the mall screens it.
#[tokio::test]
async fn a_duplicate_the_mall_screens_for_fraud_is_flagged_to_the_staff() {
    let w = world();
    let mut first = order("y-1");
    first.order_ref.mall = Mall::Yahoo;
    let mut second = order_at("y-2", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Yahoo;
    second.screened_by_mall = true;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!("the duplicate is held")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert!(
        hold.risks.contains(&crate::hold::RiskFlag::ScreenedByMall),
        "{:?}",
        hold.risks
    );
    let alert = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(alert.text.contains("モールの不正注文審査で保留中"), "{}", alert.text);
    // The buyer is not told: the screening is the mall's business with the staff.
    let notice = &w.mails_of(NoticeKind::Notice)[0];
    assert!(!notice.text.contains("不正"), "{}", notice.text);

    // The mall ends its screening: read again with the same status, the order is updated (not a
    // redelivery), the hold's risks drop the flag, and the evidence says so.
    let mut released = order_at("y-2", "2026-11-23T03:05:00Z");
    released.order_ref.mall = Mall::Yahoo;
    let outcome = w.app.ingest(incoming(released)).await.unwrap();
    assert!(matches!(outcome, IngestOutcome::Updated { .. }), "{outcome:?}");
    let hold = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert!(
        !hold.risks.contains(&crate::hold::RiskFlag::ScreenedByMall),
        "{:?}",
        hold.risks
    );
    assert_eq!(hold.state, HoldState::Held);
    let stored = w.store.order(&hold.order).await.unwrap().unwrap();
    assert!(!stored.order.screened_by_mall);
    let mut events = w.store.history(&hold.order).await.unwrap();
    let last = events.pop().unwrap();
    assert!(
        matches!(
            last.event,
            crate::history::Event::ScreeningChanged { screened: false, .. }
        ),
        "{last:?}"
    );
}

/// The screening's end arriving with a status change is kept too.
#[tokio::test]
async fn a_screening_that_ends_with_a_cancellation_is_recorded_with_it() {
    let w = world();
    let mut screened = order("y-9");
    screened.order_ref.mall = Mall::Yahoo;
    screened.screened_by_mall = true;
    w.app.ingest(incoming(screened.clone())).await.unwrap();
    let mut cancelled = screened.clone();
    cancelled.screened_by_mall = false;
    cancelled.status = crate::order::OrderStatus::Cancelled;
    let outcome = w.app.ingest(incoming(cancelled)).await.unwrap();
    assert!(matches!(outcome, IngestOutcome::Updated { .. }), "{outcome:?}");
    let stored = w.store.order(&screened.order_ref).await.unwrap().unwrap();
    assert_eq!(stored.order.status, crate::order::OrderStatus::Cancelled);
    assert!(!stored.order.screened_by_mall);
    let events: Vec<String> = w
        .store
        .history(&screened.order_ref)
        .await
        .unwrap()
        .iter()
        .map(|h| format!("{:?}", h.event))
        .collect();
    assert!(events.iter().any(|e| e.starts_with("ScreeningChanged")), "{events:?}");
    assert!(events.iter().any(|e| e.starts_with("StatusChanged")), "{events:?}");
}

#[tokio::test]
async fn an_unanswered_amazon_hold_is_not_cancelled_but_left_to_the_staff_with_the_case_text() {
    let w = world();
    let mut first = order("503-1111111-0000001");
    first.order_ref.mall = Mall::Amazon;
    let mut second = order_at("503-1111111-0000002", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Amazon;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert!(!hold.contact.phone_allowed);
    let alert = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(alert.text.contains("電話連絡は禁止"), "{}", alert.text);
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().escalated, 1);
    let waiting = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(
        waiting.state,
        HoldState::Held,
        "an Amazon order is cancelled only on the buyer's word"
    );
    assert!(waiting.awaiting_staff);
    let case = waiting.amazon_fallback_case.clone().expect("fallback noted");
    assert!(case.contains("503-1111111-0000002"));
    let escalation = &w.mails_of(NoticeKind::StaffEscalated)[0];
    assert!(escalation.text.contains(&case), "{}", escalation.text);
    assert!(
        escalation.text.contains("自動ではキャンセルしません"),
        "{}",
        escalation.text
    );
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
    // It is no longer due: later sweeps leave it to the staff.
    w.clock.advance(SignedDuration::from_hours(72));
    assert_eq!(w.app.sweep().await.unwrap(), SweepReport::default());
    // The staff settle it after Amazon's customer service asked the buyer.
    w.app.resolve(&hold.id, Decision::Cancel, "tanaka").await.unwrap();
    assert_eq!(w.state(&hold).await, HoldState::Cancelled);
    let settled = w.store.hold(&hold.id).await.unwrap().unwrap();
    let r = settled.order;
    let events: Vec<_> = w
        .store
        .history(&r)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.event)
        .collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, crate::history::Event::AmazonFallbackNoted { .. }))
    );
}

#[tokio::test]
async fn a_shop_that_turns_automatic_cancellation_on_may_escalate_first_then_cancel() {
    let mut s = settings();
    s.policy.amazon_auto_cancel = true;
    s.policy.amazon_fallback_first = true;
    let w = world_with(s);
    let mut first = order("503-1");
    first.order_ref.mall = Mall::Amazon;
    let mut second = order_at("503-2", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Amazon;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().escalated, 1);
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(escalated.state, HoldState::Held);
    assert!(escalated.amazon_fallback_case.is_some());
    assert!(escalated.deadline > hold.deadline);
    w.clock.set(escalated.deadline);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_click_racing_the_sweep_gives_one_outcome() {
    for _ in 0..10 {
        let w = world();
        let hold = w.held_pair().await;
        w.clock.set(hold.deadline);
        let token = w.token(0);
        let app = w.app.clone();
        let click = tokio::spawn(async move { app.answer(&token).await });
        let app = w.app.clone();
        let sweep = tokio::spawn(async move { app.sweep().await });
        let click = click.await.unwrap().unwrap();
        let report = sweep.await.unwrap().unwrap();
        let state = w.state(&hold).await;
        match click {
            // The link expires at deadline + grace, so the click counts when it wins.
            Answer::Done(page) => {
                assert_eq!(page.hold.state, HoldState::Confirmed);
                assert_eq!(report.cancelled, 0);
                assert_eq!(state, HoldState::Confirmed);
            }
            Answer::AlreadySettled(page) => {
                assert_eq!(page.hold.state, HoldState::Cancelled);
                assert_eq!(state, HoldState::Cancelled);
            }
            Answer::Expired(_) => panic!("the link is still valid"),
        }
        let resolved = w
            .events("1002")
            .await
            .iter()
            .filter(|e| e.starts_with("Resolved"))
            .count();
        assert_eq!(resolved, 1);
    }
}

#[tokio::test]
async fn a_failed_notice_stays_pending_and_the_sweep_sends_it_later() {
    let w = world();
    w.mailer.fail(true);
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let outcome = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    let id = NoticeId::for_hold(&hold, NoticeKind::Notice);
    let pending = w.store.notice(&id).await.unwrap().unwrap();
    assert_eq!(pending.state, NoticeState::Pending);
    assert_eq!(pending.attempts, 1);
    w.mailer.fail(false);
    assert_eq!(w.app.sweep().await.unwrap().notices_sent, 0, "not before the backoff");
    w.clock.advance(SignedDuration::from_mins(1));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.notices_sent, 2, "the notice and the staff alert");
    assert_eq!(w.store.notice(&id).await.unwrap().unwrap().state, NoticeState::Sent);
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
}

#[tokio::test]
async fn a_sweep_run_by_hand_retries_failed_mail_at_once_but_never_mail_being_sent() {
    let w = world();
    w.mailer.fail(true);
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    w.mailer.fail(false);
    // Staff fixed the mail route a few seconds later and sweep by hand: no waiting out the back-off.
    w.clock.advance(SignedDuration::from_secs(5));
    let report = w.app.sweep_with(Retry::AllNow).await.unwrap();
    assert_eq!(report.notices_sent, 2, "the notice and the staff alert, now");
    let id = NoticeId::for_hold(&hold, NoticeKind::Notice);
    assert_eq!(w.store.notice(&id).await.unwrap().unwrap().state, NoticeState::Sent);

    // A notice somebody is sending right now (leased) is left alone, back-off or not.
    let mut leased = w.store.notice(&id).await.unwrap().unwrap();
    leased.state = NoticeState::Pending;
    let leased = leased.leased(w.clock.now().saturating_add(SignedDuration::from_mins(2)).unwrap());
    let mut batch = WriteBatch::default();
    batch.notices.push((leased, Expect::Any));
    w.store.commit(batch).await.unwrap();
    let report = w.app.sweep_with(Retry::AllNow).await.unwrap();
    assert_eq!(report.notices_sent, 0, "{report:?}");
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
}

#[tokio::test]
async fn the_earlier_order_cancelled_at_the_mall_releases_the_hold() {
    let w = world();
    let hold = w.held_pair().await;
    let mut cancelled = order("1001");
    cancelled.status = crate::order::OrderStatus::Cancelled;
    let outcome = w.app.ingest(incoming(cancelled)).await.unwrap();
    assert_eq!(
        outcome,
        IngestOutcome::Updated {
            status: crate::order::OrderStatus::Cancelled
        }
    );
    assert_eq!(w.state(&hold).await, HoldState::Released);
    // A new copy does not match the cancelled order but matches the released one.
    let later = w
        .app
        .ingest(incoming(order_at("1003", "2026-11-23T03:10:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold: third, .. } = later else {
        panic!("{later:?}")
    };
    assert_eq!(
        w.store.hold(&third).await.unwrap().unwrap().original.order_id.as_str(),
        "1002"
    );
}

#[tokio::test]
async fn the_held_order_cancelled_at_the_mall_settles_its_hold() {
    let w = world();
    let hold = w.held_pair().await;
    let mut cancelled = order_at("1002", "2026-11-23T03:05:00Z");
    cancelled.status = crate::order::OrderStatus::Cancelled;
    w.app.ingest(incoming(cancelled)).await.unwrap();
    let settled = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Cancelled);
    assert_eq!(settled.resolution.unwrap().by, crate::hold::Resolver::Mall);
}

#[tokio::test]
async fn staff_resolve_a_hold_after_a_phone_call() {
    let w = world();
    let hold = w.held_pair().await;
    let done = w
        .app
        .resolve(&hold.id, crate::hold::Decision::Confirm, "suzuki")
        .await
        .unwrap();
    let Settlement::Settled(done) = done else {
        panic!("settled now: {done:?}")
    };
    assert_eq!(done.state, HoldState::Confirmed);
    let again = w
        .app
        .resolve(&hold.id, crate::hold::Decision::Cancel, "suzuki")
        .await
        .unwrap();
    let Settlement::AlreadySettled(again) = again else {
        panic!("already settled: {again:?}")
    };
    assert_eq!(again.state, HoldState::Confirmed);
    let evidence = w.app.evidence(&hold.order).await.unwrap();
    let timeline: Vec<String> = evidence
        .history
        .iter()
        .map(|h| h.describe(crate::Language::En))
        .collect();
    assert!(timeline.iter().any(|l| l.contains("staff (suzuki)")), "{timeline:#?}");
    let japanese: Vec<String> = evidence
        .history
        .iter()
        .map(|h| h.describe(crate::Language::Ja))
        .collect();
    assert!(
        japanese
            .iter()
            .any(|l| l.contains("スタッフ（suzuki）が「両方発送」と回答")),
        "{japanese:#?}"
    );
}

#[tokio::test]
async fn the_same_buyer_on_rakuten_then_yahoo_is_held_across_malls() {
    let w = world();
    let mut rakuten = order("386193-20261123-0000012345");
    rakuten.order_ref.mall = Mall::Rakuten;
    rakuten.buyer.email = Some(crate::order::EmailAddress::parse("a1b2c3@pc.fw.rakuten.ne.jp").unwrap());
    rakuten.ship_to.lines = vec!["千代田1丁目2番3号 メゾン千代田101".into()];
    let mut yahoo = order_at("tanaka-yahoo-10000123", "2026-11-23T03:40:00Z");
    yahoo.order_ref.mall = Mall::Yahoo;
    yahoo.buyer.phone = Some("＋８１ ９０－１２３４－５６７８".into());
    yahoo.ship_to.name = "山田　太郎".into();
    yahoo.ship_to.lines = vec!["千代田１－２－３　メゾン千代田１０１".into()];
    w.app.ingest(incoming(rakuten)).await.unwrap();
    let outcome = w.app.ingest(incoming(yahoo)).await.unwrap();
    assert!(matches!(outcome, IngestOutcome::Held { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_quarantined_payload_is_kept_once_and_the_staff_alerted_once() {
    let w = world();
    let raw = b"{\"id\": {}}".to_vec();
    let id = w
        .app
        .quarantine("shopify", raw.clone(), Default::default(), "id: expected a number")
        .await
        .unwrap();
    let again = w
        .app
        .quarantine("shopify", raw.clone(), Default::default(), "id: expected a number")
        .await
        .unwrap();
    assert_eq!(id, again);
    let kept = w.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].raw, raw);
    assert_eq!(w.mails_of(NoticeKind::StaffQuarantine).len(), 1);
}

#[derive(Default)]
struct CountingMetrics(std::sync::Mutex<std::collections::HashMap<&'static str, u64>>);

impl crate::ports::Metrics for CountingMetrics {
    fn record(&self, metric: crate::ports::Metric, count: u64) {
        *self.0.lock().unwrap().entry(metric.name()).or_default() += count;
    }
}

#[tokio::test]
async fn what_happens_is_counted_for_the_dashboards() {
    let metrics = Arc::new(CountingMetrics::default());
    let mut w = world();
    w.app = w.app.clone().with_metrics(metrics.clone());
    let hold = w.held_pair().await;
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    w.clock.set(hold.deadline);
    w.app.sweep().await.unwrap();
    w.app
        .quarantine("generic", b"{}".to_vec(), Default::default(), "lines: missing")
        .await
        .unwrap();
    let counts = metrics.0.lock().unwrap().clone();
    assert_eq!(counts.get("OrdersReceived"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("DuplicatesHeld"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("HoldsExpired"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("ParseFailures"), Some(&1), "{counts:?}");
    // notice + staff alert, cancellation + staff alert, quarantine alert
    assert_eq!(counts.get("NoticesSent"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("HoldsCancelled"), None);
}

#[tokio::test]
async fn an_order_matching_only_a_held_order_is_held_against_the_first_order_of_the_chain() {
    let w = world();
    // A (own store) and S (Shopify) share the buyer's email; R (Rakuten) shares only the phone with S.
    let mut a = order("A-1");
    a.ship_to.phone = Some("03-3214-5601".into());
    a.buyer.phone = Some("03-3214-5601".into());
    a.ship_to.lines = vec!["千代田1-2-3 メゾン千代田 101".into()];
    let mut s = order_at("S-1", "2026-11-23T03:02:00Z");
    s.order_ref.mall = Mall::Shopify;
    s.buyer.phone = Some("090-2468-1357".into());
    s.ship_to.phone = Some("090-2468-1357".into());
    s.ship_to.postal_code = "100-0002".into();
    s.ship_to.lines = vec!["皇居外苑1-1".into()];
    let mut r = order_at("R-1", "2026-11-23T03:04:00Z");
    r.order_ref.mall = Mall::Rakuten;
    r.buyer.email = Some(crate::order::EmailAddress::parse("abc123@pc.fw.rakuten.ne.jp").unwrap());
    r.buyer.phone = Some("090-2468-1357".into());
    r.ship_to.phone = Some("090-2468-1357".into());
    r.ship_to.postal_code = "100-0003".into();
    r.ship_to.lines = vec!["一ツ橋1-1".into()];

    assert_eq!(
        w.app.ingest(incoming(a.clone())).await.unwrap(),
        IngestOutcome::Accepted
    );
    let IngestOutcome::Held { hold: on_s, .. } = w.app.ingest(incoming(s.clone())).await.unwrap() else {
        panic!("S is held against A")
    };
    assert_eq!(w.store.hold(&on_s).await.unwrap().unwrap().original, a.order_ref);
    let IngestOutcome::Held { hold: on_r, .. } = w.app.ingest(incoming(r.clone())).await.unwrap() else {
        panic!("R is held")
    };
    let hold = w.store.hold(&on_r).await.unwrap().unwrap();
    assert_eq!(
        hold.original, a.order_ref,
        "held against the first order, not the held S"
    );
    let first = w.store.order(&a.order_ref).await.unwrap().unwrap();
    assert!(first.duplicates.contains(&on_r) && first.duplicates.contains(&on_s));
    // R's buyer is not promised that the held S ships.
    let notice = w
        .mails_of(NoticeKind::Notice)
        .into_iter()
        .find(|m| m.to.as_str().ends_with("rakuten.ne.jp"))
        .expect("R's notice");
    assert!(!notice.text.contains("S-1"), "{}", notice.text);
    assert!(
        notice.text.contains("注文番号　: **1"),
        "the first order, masked: {}",
        notice.text
    );
    let timeline: Vec<String> = w
        .app
        .evidence(&r.order_ref)
        .await
        .unwrap()
        .history
        .iter()
        .map(|e| e.describe(crate::Language::Ja))
        .collect();
    assert!(
        timeline
            .iter()
            .any(|l| l.contains("shopify") && l.contains("最初の注文に対して保留")),
        "{timeline:?}"
    );
}

#[tokio::test]
async fn mails_say_what_happened_in_one_style_and_never_ask_to_settle_a_settled_hold() {
    let w = world();
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let mut second = order_at("1002", "2026-11-23T03:05:00Z");
    second.buyer.phone = Some("＋８１ ９０－１２３４－５６７８".into());
    second.delivery.requested_date = Some(jiff::civil::date(2026, 11, 30));
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!("held")
    };
    let alert = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(
        alert.text.contains("一致項目: メールアドレス・電話番号"),
        "{}",
        alert.text
    );
    assert!(
        !alert.text.contains("email") && !alert.text.contains("phone,"),
        "{}",
        alert.text
    );
    assert!(alert.text.contains("090-1234-5678"), "one phone format: {}", alert.text);
    assert!(!alert.text.contains("＋８１"), "{}", alert.text);
    let notice = &w.mails_of(NoticeKind::Notice)[0];
    assert!(notice.text.contains("2026年11月30日"), "{}", notice.text);
    assert!(!notice.text.contains("2026-11-30"), "one date style: {}", notice.text);

    // Staff settle it after a phone call: the buyer is told what was done, not thanked for an answer.
    let settled = w
        .app
        .resolve(&hold, crate::hold::Decision::Confirm, "suzuki")
        .await
        .unwrap();
    assert!(matches!(settled, Settlement::Settled(_)));
    let receipt = &w.mails_of(NoticeKind::Receipt)[0];
    assert!(!receipt.text.contains("ご回答いただき"), "{}", receipt.text);
    assert!(receipt.text.contains("次のとおり対応いたしました"), "{}", receipt.text);
}

#[tokio::test]
async fn the_staff_mail_after_the_buyers_answer_does_not_ask_the_staff_to_settle_it() {
    let w = world();
    w.held_pair().await;
    let token = w.token(1);
    assert!(matches!(w.app.answer(&token).await.unwrap(), Answer::Done(_)));
    let resolved = &w.mails_of(NoticeKind::StaffResolved)[0];
    assert!(!resolved.text.contains("mallguard resolve"), "{}", resolved.text);
    assert!(!resolved.text.contains("【連絡方法】"), "{}", resolved.text);
    assert!(
        resolved.text.contains("キャンセル"),
        "says what the buyer chose: {}",
        resolved.text
    );
    let receipt = &w.mails_of(NoticeKind::Receipt)[0];
    assert!(
        receipt.text.contains("ご回答いただき"),
        "the buyer did answer: {}",
        receipt.text
    );
}

#[tokio::test]
async fn a_shop_that_turns_automatic_cancellation_on_has_amazon_holds_cancelled_at_the_deadline() {
    let mut s = settings();
    s.policy.amazon_auto_cancel = true;
    let w = world_with(s);
    let mut first = order("503-3");
    first.order_ref.mall = Mall::Amazon;
    let mut second = order_at("503-4", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Amazon;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 1);
    let settled = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Cancelled);
    let case = settled
        .amazon_fallback_case
        .expect("the case text is noted for the staff");
    assert!(w.mails_of(NoticeKind::StaffExpired)[0].text.contains(&case));
}

#[tokio::test]
async fn a_notice_to_a_carrier_address_at_night_goes_out_at_eight_with_its_deadline_moved() {
    use crate::order::EmailAddress;
    let w = world();
    // 23:00 JST.
    w.clock.set("2026-11-23T14:00:00Z".parse().unwrap());
    let carrier = |mut o: crate::order::Order| {
        o.buyer.email = Some(EmailAddress::parse("taro.y@docomo.ne.jp").unwrap());
        o
    };
    w.app
        .ingest(incoming(carrier(order_at("2001", "2026-11-23T13:50:00Z"))))
        .await
        .unwrap();
    let outcome = w
        .app
        .ingest(incoming(carrier(order_at("2002", "2026-11-23T13:59:00Z"))))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(!notified, "no notice at 23:00 to a carrier address");
    assert!(w.mails_of(NoticeKind::Notice).is_empty());
    assert_eq!(
        w.mails_of(NoticeKind::StaffNewHold).len(),
        1,
        "the staff are told at once"
    );
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    let eight = "2026-11-23T23:00:00Z".parse().unwrap();
    assert_eq!(
        hold.deadline,
        eight + settings().policy.answer_within,
        "the buyer's time starts at 08:00"
    );

    w.clock.set("2026-11-23T22:59:00Z".parse().unwrap());
    w.app.sweep().await.unwrap();
    assert!(w.mails_of(NoticeKind::Notice).is_empty(), "not before 08:00");
    w.clock.set(eight);
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.notices_sent, 1, "{report:?}");
    assert_eq!(w.mails_of(NoticeKind::Notice)[0].to.as_str(), "taro.y@docomo.ne.jp");
}

/// A notice held back for the morning is not sent once the staff settled the hold in the night: the buyer
/// would be asked to confirm or cancel what is decided.
#[tokio::test]
async fn a_notice_waiting_for_the_morning_is_withdrawn_when_the_hold_is_settled_in_the_night() {
    use crate::order::EmailAddress;
    let w = world();
    w.clock.set("2026-11-23T14:00:00Z".parse().unwrap());
    let carrier = |mut o: crate::order::Order| {
        o.buyer.email = Some(EmailAddress::parse("taro.y@docomo.ne.jp").unwrap());
        o
    };
    w.app
        .ingest(incoming(carrier(order_at("2001", "2026-11-23T13:50:00Z"))))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = w
        .app
        .ingest(incoming(carrier(order_at("2002", "2026-11-23T13:59:00Z"))))
        .await
        .unwrap()
    else {
        panic!("held, notice deferred")
    };
    // 23:30 JST: the staff phone the buyer and ship both.
    w.clock.set("2026-11-23T14:30:00Z".parse().unwrap());
    w.app
        .resolve(&hold, Decision::Confirm, "sato@shop.example")
        .await
        .unwrap();
    w.clock.set("2026-11-23T23:00:00Z".parse().unwrap());
    w.app.sweep().await.unwrap();
    assert!(
        w.mails_of(NoticeKind::Notice).is_empty(),
        "no question about a settled hold"
    );
    let notice = w
        .store
        .notice(&NoticeId::for_hold(&hold, NoticeKind::Notice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.state, NoticeState::Withdrawn);
    assert!(w.events("2002").await.iter().any(|e| e.starts_with("NoticeWithdrawn")));
    // Nothing left for later sweeps.
    w.clock.set("2026-11-24T02:00:00Z".parse().unwrap());
    assert_eq!(w.app.sweep().await.unwrap().notices_sent, 0);
}

#[tokio::test]
async fn a_notice_to_another_address_at_night_goes_out_at_once() {
    let w = world();
    w.clock.set("2026-11-23T14:00:00Z".parse().unwrap());
    w.app
        .ingest(incoming(order_at("3001", "2026-11-23T13:50:00Z")))
        .await
        .unwrap();
    let outcome = w
        .app
        .ingest(incoming(order_at("3002", "2026-11-23T13:59:00Z")))
        .await
        .unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Held { notified: true, .. }),
        "{outcome:?}"
    );
}

#[test]
fn carrier_addresses_are_told_apart() {
    use crate::order::EmailAddress;
    for carrier in [
        "a@docomo.ne.jp",
        "b@ezweb.ne.jp",
        "c@biz.ezweb.ne.jp",
        "d@i.softbank.jp",
        "e@au.com",
    ] {
        assert!(EmailAddress::parse(carrier).unwrap().is_carrier(), "{carrier}");
    }
    for other in [
        "a@gmail.com",
        "b@example.jp",
        "c@notdocomo.ne.jp",
        "d@pc.fw.rakuten.ne.jp",
    ] {
        assert!(!EmailAddress::parse(other).unwrap().is_carrier(), "{other}");
    }
}

fn report(hold: &Hold, kind: NoticeKind, outcome: MailOutcome) -> MailReport {
    MailReport {
        message_id: "ses-0001".into(),
        outcome,
        at: "2026-11-23T03:06:00Z".parse().unwrap(),
        hold: Some(hold.id.clone()),
        kind: Some(kind),
        detail: "Permanent/General".into(),
    }
}

#[tokio::test]
async fn a_bounced_notice_turns_the_hold_into_a_phone_task_once() {
    let w = world();
    let hold = w.held_pair().await;
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Bounced { permanent: true });
    assert_eq!(
        w.app.mail_reported(bounced.clone()).await.unwrap(),
        MailReportOutcome::Escalated
    );
    let alerts = w.mails_of(NoticeKind::StaffUndeliverable);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].text.contains("電話で確認") && alerts[0].text.contains("090"),
        "{}",
        alerts[0].text
    );
    assert!(
        w.store.hold(&hold.id).await.unwrap().unwrap().phone_task,
        "the hold is marked for a call, for the staff lists"
    );
    // The same bounce reported twice, and a complaint after it: one phone task, every report in the evidence.
    assert_eq!(w.app.mail_reported(bounced).await.unwrap(), MailReportOutcome::Recorded);
    let complaint = report(&hold, NoticeKind::Notice, MailOutcome::Complained);
    assert_eq!(
        w.app.mail_reported(complaint).await.unwrap(),
        MailReportOutcome::Recorded
    );
    assert_eq!(w.mails_of(NoticeKind::StaffUndeliverable).len(), 1);
    let events = w.events("1002").await;
    let permanent = events
        .iter()
        .filter(|e| e.contains("Bounced { permanent: true }"))
        .count();
    assert_eq!(permanent, 2, "{events:?}");
    assert!(events.iter().any(|e| e.contains("Complained")), "{events:?}");
    let alerts_queued = events
        .iter()
        .filter(|e| e.contains("NoticeQueued") && e.contains("StaffUndeliverable"));
    assert_eq!(alerts_queued.count(), 1, "{events:?}");
    // A delivery is only recorded.
    let delivered = report(&hold, NoticeKind::Reminder, MailOutcome::Delivered);
    assert_eq!(
        w.app.mail_reported(delivered).await.unwrap(),
        MailReportOutcome::Recorded
    );
    // A report about no hold (a staff alert) is ignored.
    let mut staff = report(&hold, NoticeKind::StaffNewHold, MailOutcome::Delivered);
    staff.hold = None;
    assert_eq!(w.app.mail_reported(staff).await.unwrap(), MailReportOutcome::Ignored);
}

/// The staff's undeliverable mail for `hold` once `reports` came, in that order.
async fn undeliverable_after(w: &World, hold: &Hold, reports: &[(NoticeKind, MailOutcome)]) -> String {
    for (kind, outcome) in reports {
        w.app.mail_reported(report(hold, *kind, *outcome)).await.unwrap();
    }
    let alerts = w.mails_of(NoticeKind::StaffUndeliverable);
    assert_eq!(alerts.len(), 1);
    alerts[0].text.clone()
}

#[tokio::test]
async fn the_undeliverable_staff_mail_says_what_became_of_the_buyers_mail_and_what_the_buyer_may_know() {
    use MailOutcome::*;
    use NoticeKind::{Notice, Reminder};
    let bounced = Bounced { permanent: true };
    // What was reported, what the alert says, and what it must not say.
    type Case<'a> = (&'a [(NoticeKind, MailOutcome)], &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            &[(Notice, bounced)],
            &["確認メールが届きませんでした（不達）", "購入者は保留を知りません"],
            &["迷惑メール"],
        ),
        (
            &[(Notice, Complained)],
            &["確認メールは届きましたが、購入者が迷惑メールとして報告しました"],
            &["保留を知りません", "届きませんでした"],
        ),
        (
            &[(Notice, Delivered), (Reminder, bounced)],
            &[
                "リマインドが届きませんでした（不達）",
                "最初の確認メールは届いているため、購入者は保留を知っているはずです",
            ],
            &["保留を知りません"],
        ),
        (
            &[(Reminder, bounced)],
            &[
                "リマインドが届きませんでした",
                "不達の報告はありません。購入者は保留を知っているかもしれません",
            ],
            &["保留を知りません"],
        ),
    ];
    for (reports, says, never) in cases {
        let w = world();
        let hold = w.held_pair().await;
        let text = undeliverable_after(&w, &hold, reports).await;
        for needle in says {
            assert!(text.contains(needle), "{reports:?} should say {needle}: {text}");
        }
        for needle in never {
            assert!(!text.contains(needle), "{reports:?} should not say {needle}: {text}");
        }
    }
}

#[tokio::test]
async fn the_english_undeliverable_staff_mail_says_a_complained_notice_arrived() {
    let mut s = settings();
    s.shop.language = crate::Language::En;
    let w = world_with(s);
    let hold = w.held_pair().await;
    let text = undeliverable_after(&w, &hold, &[(NoticeKind::Notice, MailOutcome::Complained)]).await;
    assert!(
        text.contains("The buyer's notice arrived, but the buyer reported it as spam"),
        "{text}"
    );
    assert!(!text.contains("does not know of the hold"), "{text}");
    let w = world_with({
        let mut s = settings();
        s.shop.language = crate::Language::En;
        s
    });
    let hold = w.held_pair().await;
    let reports = [
        (NoticeKind::Notice, MailOutcome::Delivered),
        (NoticeKind::Reminder, MailOutcome::Bounced { permanent: false }),
    ];
    let text = undeliverable_after(&w, &hold, &reports).await;
    assert!(text.contains("The buyer's reminder bounced"), "{text}");
    assert!(
        text.contains("The first notice was delivered, so the buyer should know of the hold"),
        "{text}"
    );
}

#[tokio::test]
async fn the_undeliverable_staff_mail_of_a_refused_send_says_it_never_left() {
    let w = world();
    w.mailer.refuse("taro.yamada@example.com");
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    w.app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    let alerts = w.mails_of(NoticeKind::StaffUndeliverable);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]
            .text
            .contains("メールサービスが購入者への確認メールの送信を拒否しました（送られていません）")
            && alerts[0].text.contains("購入者は保留を知りません"),
        "{}",
        alerts[0].text
    );
}

#[tokio::test]
async fn a_bounced_amazon_notice_notes_the_customer_service_request_and_no_phone() {
    let w = world();
    let mut first = order("503-7777777-0000001");
    first.order_ref.mall = Mall::Amazon;
    let mut second = order_at("503-7777777-0000002", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Amazon;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Rejected);
    assert_eq!(
        w.app.mail_reported(bounced).await.unwrap(),
        MailReportOutcome::Escalated
    );
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert!(!escalated.phone_task, "no phone call for an Amazon buyer");
    let case = escalated
        .amazon_fallback_case
        .expect("the customer-service request is noted");
    let alert = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(
        alert.text.contains(&case) && alert.text.contains("電話はできません"),
        "{}",
        alert.text
    );
}

#[tokio::test]
async fn a_notice_the_mail_service_refuses_is_given_up_and_the_staff_take_over() {
    let w = world();
    w.mailer.refuse("taro.yamada@example.com");
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let outcome = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    let notice = w
        .store
        .notice(&crate::notice::NoticeId::for_hold(&hold, NoticeKind::Notice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.state, NoticeState::Failed, "not retried forever");
    assert_eq!(w.mails_of(NoticeKind::StaffUndeliverable).len(), 1);
    w.clock.advance(SignedDuration::from_hours(2));
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.notices_sent, report.notices_failed), (0, 0), "{report:?}");
}

#[tokio::test]
async fn a_buyer_who_shops_in_english_gets_the_notice_in_english_and_the_staff_theirs_in_japanese() {
    let w = world();
    let english = |mut o: crate::order::Order| {
        o.buyer.language = Some(crate::Language::En);
        o
    };
    w.app.ingest(incoming(english(order("4001")))).await.unwrap();
    let outcome = w
        .app
        .ingest(incoming(english(order_at("4002", "2026-11-23T03:05:00Z"))))
        .await
        .unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Held { notified: true, .. }),
        "{outcome:?}"
    );
    let notice = &w.mails_of(NoticeKind::Notice)[0];
    assert!(
        notice.subject.contains("Please confirm your order"),
        "{}",
        notice.subject
    );
    let staff = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(staff.subject.contains("[mallguard]") && !staff.text.is_empty());
    assert!(
        staff.text.contains("発送保留"),
        "the staff read the shop's language: {}",
        staff.text
    );
}

#[test]
fn locales_read_as_the_languages_mallguard_writes() {
    use crate::order::language_of_locale;
    assert_eq!(language_of_locale("ja"), Some(crate::Language::Ja));
    assert_eq!(language_of_locale("ja-JP"), Some(crate::Language::Ja));
    assert_eq!(language_of_locale("en-US"), Some(crate::Language::En));
    assert_eq!(language_of_locale("EN_gb"), Some(crate::Language::En));
    assert_eq!(language_of_locale("zh-CN"), None);
    assert_eq!(language_of_locale(""), None);
}

#[tokio::test]
async fn a_blacklisted_customers_next_order_on_another_mall_is_held_for_the_staff_without_a_buyer_mail() {
    let w = world();
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let first = order("1001").order_ref;
    let added = w
        .app
        .add_to_blacklist(&first, " 受取拒否が3回 ", "sato@shop.example")
        .await
        .unwrap();
    let Blacklisting::Added(entry) = added else {
        panic!("added now: {added:?}")
    };
    assert_eq!(entry.reason, "受取拒否が3回");
    assert_eq!(entry.added_by, "sato@shop.example");
    let again = w.app.add_to_blacklist(&first, "again", "ito").await.unwrap();
    assert!(
        matches!(again, Blacklisting::AlreadyListed(ref e) if e.id == entry.id),
        "{again:?}"
    );

    // Two weeks later, far outside the duplicate window, the same phone on Rakuten with another product.
    w.clock.advance(SignedDuration::from_hours(24 * 14));
    let mut later = order_at("386193-20261207-0000000001", "2026-12-07T03:00:00Z");
    later.order_ref.mall = Mall::Rakuten;
    later.buyer.email = Some(crate::order::EmailAddress::parse("x9@pc.fw.rakuten.ne.jp").unwrap());
    later.lines = crate::order::OrderLines::parse(vec![line("SKU-Z", 1)]).unwrap();
    let later_ref = later.order_ref.clone();
    let sent_before = w.mailer.mails().len();
    let outcome = w.app.ingest(incoming(later)).await.unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("held without a buyer notice: {outcome:?}")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(hold.blacklisted, Some(entry.id.clone()));
    assert!(
        hold.awaiting_staff && hold.next_due().is_none(),
        "no deadline cancels it"
    );
    assert_eq!(hold.original, first);
    let mails = &w.mailer.mails()[sent_before..];
    assert_eq!(mails.len(), 1, "only the staff are told: {mails:#?}");
    assert!(
        mails[0]
            .tags
            .contains(&("kind".into(), NoticeKind::StaffNewHold.as_str().into()))
    );
    assert!(
        mails[0].text.contains("ブラックリスト"),
        "the staff are told why: {}",
        mails[0].text
    );
    assert!(!mails[0].text.contains("確認メールを送りました"), "{}", mails[0].text);
    let evidence = w.app.evidence(&later_ref).await.unwrap();
    let lines: Vec<String> = evidence
        .history
        .iter()
        .map(|h| h.describe(crate::Language::Ja))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ブラックリスト") && l.contains("電話番号")),
        "the evidence says why: {lines:#?}"
    );

    // The staff look, phone, note it and cancel: still no mail to the buyer.
    w.app
        .note_on_hold(&hold.id, "電話で確認: 本人の注文ではない", "sato@shop.example")
        .await
        .unwrap();
    let done = w
        .app
        .resolve(&hold.id, crate::hold::Decision::Cancel, "sato@shop.example")
        .await
        .unwrap();
    assert!(
        matches!(done, Settlement::Settled(ref h) if h.state == HoldState::Cancelled),
        "{done:?}"
    );
    assert_eq!(
        w.mailer.mails().len(),
        sent_before + 1,
        "no buyer mail when settled either"
    );
    let lines: Vec<String> = w
        .app
        .evidence(&later_ref)
        .await
        .unwrap()
        .history
        .iter()
        .map(|h| h.describe(crate::Language::En))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("note by sato@shop.example: 電話で確認")),
        "{lines:#?}"
    );

    // Off the list, the customer's next order is an ordinary one.
    w.app
        .remove_from_blacklist(&entry.id, "sato@shop.example")
        .await
        .unwrap();
    assert!(w.app.blacklist().await.unwrap().is_empty());
    w.clock.advance(SignedDuration::from_hours(24 * 14));
    let outcome = w
        .app
        .ingest(incoming(order_at("after-removal", "2026-12-21T03:00:00Z")))
        .await
        .unwrap();
    assert_eq!(outcome, IngestOutcome::Accepted);
    let first_lines: Vec<String> = w
        .app
        .evidence(&first)
        .await
        .unwrap()
        .history
        .iter()
        .map(|h| h.describe(crate::Language::En))
        .collect();
    assert!(
        first_lines
            .iter()
            .any(|l| l.contains("sato@shop.example put the customer on the blacklist"))
            && first_lines
                .iter()
                .any(|l| l.contains("took the customer off the blacklist")),
        "{first_lines:#?}"
    );
}

#[tokio::test]
async fn an_order_without_anything_to_recognise_is_not_blacklisted_and_an_empty_reason_is_refused() {
    let w = world();
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let first = order("1001").order_ref;
    assert!(matches!(
        w.app.add_to_blacklist(&first, "  ", "ito").await,
        Err(StaffError::NoReason)
    ));
    let missing = order("nope").order_ref;
    assert!(matches!(
        w.app.add_to_blacklist(&missing, "why", "ito").await,
        Err(StaffError::Service(ServiceError::OrderNotFound(_)))
    ));
}

#[tokio::test]
async fn a_sign_in_link_is_used_once() {
    let w = world();
    let used = crate::ports::UsedSignIn {
        id: "nonce-1".into(),
        expires_at: "2026-11-23T03:20:01Z".parse().unwrap(),
    };
    w.app.use_sign_in(used.clone()).await.unwrap();
    assert!(matches!(w.app.use_sign_in(used).await, Err(StaffError::SignInUsed)));
}

#[tokio::test]
async fn a_shops_own_settings_change_what_its_next_notice_says_and_when_its_deadline_falls() {
    let w = world();
    w.app.load_shop_settings().await.unwrap();
    let shop = order("1001").order_ref.shop;
    let saved = w
        .app
        .save_shop_settings(
            Mall::Own,
            &shop,
            None,
            &[
                ("name".into(), "田中商店 公式ストア".into()),
                ("answer_hours".into(), "6".into()),
                ("contact_phone".into(), "03-9999-0000".into()),
            ],
            "sato@shop.example",
        )
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.updated_by, "sato@shop.example");
    // A save from a version that is no longer the stored one loses nothing: it is refused.
    assert!(matches!(
        w.app
            .save_shop_settings(Mall::Own, &shop, Some(0), &[("answer_hours".into(), "8".into())], "ito")
            .await,
        Err(ShopSettingsError::Conflict)
    ));
    assert!(matches!(
        w.app
            .save_shop_settings(Mall::Own, &shop, None, &[("answer_hours".into(), "0".into())], "ito")
            .await,
        Err(ShopSettingsError::Setting(_))
    ));

    let hold = w.held_pair().await;
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    assert!(notice.subject.contains("田中商店 公式ストア"), "{}", notice.subject);
    assert!(notice.text.contains("03-9999-0000"), "{}", notice.text);
    let answer = hold.deadline.duration_since(w.clock.now());
    assert_eq!(answer, SignedDuration::from_hours(6), "the shop's answer time");

    // Another shop keeps the deployment's settings.
    let mut other = order_at("y-1", "2026-11-23T03:00:00Z");
    other.order_ref.shop = crate::ids::ShopId::parse("other-shop").unwrap();
    other.buyer.email = Some(crate::order::EmailAddress::parse("hanako@example.com").unwrap());
    other.buyer.phone = Some("080-0000-1111".into());
    other.ship_to.phone = None;
    other.ship_to.name = "佐藤 花子".into();
    w.app.ingest(incoming(other.clone())).await.unwrap();
    let mut again = other.clone();
    again.order_ref.order_id = crate::ids::OrderId::parse("y-2").unwrap();
    again.placed_at = "2026-11-23T03:04:00Z".parse().unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(again)).await.unwrap() else {
        panic!("held")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(
        hold.deadline.duration_since(w.clock.now()),
        settings().policy.answer_within,
        "the deployment's answer time"
    );
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    assert!(
        notice.subject.contains("田中商店") && !notice.subject.contains("公式ストア"),
        "{}",
        notice.subject
    );
}

/// A parser fixed since the payload was quarantined: it reads the order's key back out of the bytes.
struct FixedParser;

impl crate::ports::PayloadParser for FixedParser {
    fn parse(
        &self,
        _source: &str,
        _meta: &std::collections::BTreeMap<String, String>,
        raw: &[u8],
    ) -> Result<crate::ports::ParsedPayload, String> {
        match std::str::from_utf8(raw) {
            Ok(text) if text.contains("1001") => Ok(crate::ports::ParsedPayload::Order(Box::new(order("1001")))),
            _ => Err("still not an order".into()),
        }
    }
}

/// Parses a payload naming order 1001 or 2002 as that order.
struct TwoOrdersParser;

impl crate::ports::PayloadParser for TwoOrdersParser {
    fn parse(
        &self,
        _source: &str,
        _meta: &std::collections::BTreeMap<String, String>,
        raw: &[u8],
    ) -> Result<crate::ports::ParsedPayload, String> {
        let text = String::from_utf8_lossy(raw);
        ["1001", "2002"]
            .into_iter()
            .find(|id| text.contains(id))
            .map(|id| crate::ports::ParsedPayload::Order(Box::new(order(id))))
            .ok_or_else(|| "not an order".into())
    }
}

/// An order the store still refuses stays in quarantine, told apart from one that cannot be parsed; the
/// replay goes on with the others (it used to stop at the first).
#[tokio::test]
async fn a_quarantined_order_ingest_still_cannot_take_stays_and_the_replay_goes_on() {
    let w = world();
    w.store.refuse_writes_of("2002");
    w.app
        .quarantine_as(
            "generic",
            b"order 2002".to_vec(),
            Default::default(),
            "ingest failed: too big",
            true,
        )
        .await
        .unwrap();
    let alert = &w.mails_of(NoticeKind::StaffQuarantine)[0];
    assert!(alert.text.contains("記録できませんでした"), "{}", alert.text);
    assert!(!alert.text.contains("解析できない"), "{}", alert.text);
    w.clock.advance(SignedDuration::from_secs(1));
    w.app
        .quarantine("generic", b"order 1001".to_vec(), Default::default(), "unknown field")
        .await
        .unwrap();
    let report = w
        .app
        .replay_quarantined(&TwoOrdersParser, "sato@shop.example")
        .await
        .unwrap();
    assert_eq!(report.len(), 2);
    assert!(
        matches!(&report[0].outcome, ReplayOutcome::NotIngested(e) if e.contains("size limit")),
        "{:?}",
        report[0]
    );
    assert!(
        matches!(report[1].outcome, ReplayOutcome::Ingested(IngestOutcome::Accepted)),
        "{:?}",
        report[1]
    );
    let waiting: Vec<_> = w
        .app
        .quarantined()
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.replayed_at.is_none())
        .collect();
    assert_eq!(waiting.len(), 1, "the refused order stays");
}

#[tokio::test]
async fn a_replayed_quarantined_payload_is_ingested_once_and_its_evidence_names_who_replayed_it() {
    let w = world();
    let raw = incoming(order("1001")).raw;
    w.app
        .quarantine("generic", raw, Default::default(), "unknown field")
        .await
        .unwrap();
    w.app
        .quarantine("generic", b"garbage".to_vec(), Default::default(), "not JSON")
        .await
        .unwrap();
    let report = w
        .app
        .replay_quarantined(&FixedParser, "sato@shop.example")
        .await
        .unwrap();
    assert_eq!(report.len(), 2);
    assert!(
        report
            .iter()
            .any(|r| matches!(r.outcome, ReplayOutcome::Ingested(IngestOutcome::Accepted)))
    );
    assert!(
        report
            .iter()
            .any(|r| matches!(r.outcome, ReplayOutcome::StillInvalid(_)))
    );
    let lines: Vec<String> = w
        .app
        .evidence(&order("1001").order_ref)
        .await
        .unwrap()
        .history
        .iter()
        .map(|h| h.describe(crate::Language::Ja))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("sato@shop.example が隔離データ")),
        "{lines:#?}"
    );
    // Replayed once: a second replay only tries what still fails.
    let again = w.app.replay_quarantined(&FixedParser, "ito").await.unwrap();
    assert_eq!(again.len(), 1);
}

#[tokio::test]
async fn putting_a_customer_on_the_blacklist_moves_their_heads_so_an_order_being_decided_decides_again() {
    let w = world();
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let first = order("1001").order_ref;
    let keys = w.store.order(&first).await.unwrap().unwrap().identity.keys;
    let now = w.clock.now();
    // What an ingest of the customer's next order read just before the staff pressed "add".
    let read = w
        .store
        .ingest_snapshot(&order("1002").order_ref, &keys, now, now)
        .await
        .unwrap()
        .heads;
    w.app.add_to_blacklist(&first, "受取拒否", "ito").await.unwrap();
    let decided_on_stale = crate::ports::WriteBatch {
        heads: read,
        ..Default::default()
    };
    assert_eq!(
        w.store.commit(decided_on_stale).await,
        Err(crate::ports::CommitError::Conflict),
        "the decision made before the entry must be made again"
    );
}

/// `count` held pairs of different buyers (none matches another pair); returns the latest deadline.
async fn held_pairs(w: &World, count: usize) -> jiff::Timestamp {
    let holds = ingest_pairs(&w.app, count).await;
    let mut latest = None;
    for hold in holds {
        latest = latest.max(Some(w.store.hold(&hold).await.unwrap().unwrap().deadline));
    }
    latest.expect("at least one pair")
}

/// Ingests `count` held pairs of different buyers (`buyer{n}@example.com`); returns their holds.
async fn ingest_pairs(app: &Mallguard, count: usize) -> Vec<HoldId> {
    let mut holds = vec![];
    for n in 0..count {
        let buyer = |mut o: crate::order::Order| {
            let phone = format!("090-{:04}-{:04}", 7000 + n / 10_000, n % 10_000);
            o.buyer.name = format!("買手 {n}");
            o.buyer.kana = None;
            o.buyer.email = Some(crate::order::EmailAddress::parse(&format!("buyer{n}@example.com")).unwrap());
            o.buyer.phone = Some(phone.clone());
            o.ship_to.name = o.buyer.name.clone();
            o.ship_to.phone = Some(phone);
            o.ship_to.lines = vec![format!("千代田{n}")];
            o
        };
        app.ingest(incoming(buyer(order(&format!("B{n}-1"))))).await.unwrap();
        let outcome = app
            .ingest(incoming(buyer(order_at(&format!("B{n}-2"), "2026-11-23T03:05:00Z"))))
            .await
            .unwrap();
        let IngestOutcome::Held { hold, .. } = outcome else {
            panic!("pair {n} was not held: {outcome:?}")
        };
        holds.push(hold);
    }
    holds
}

#[tokio::test(start_paused = true)]
async fn a_relay_that_hangs_neither_outlasts_the_sweep_nor_holds_up_the_other_mail_and_is_given_up_once() {
    let w = world();
    // Every notice and staff alert failed once in its request, so all are pending for the sweep.
    w.mailer.fail(true);
    let holds = ingest_pairs(&w.app, 4).await;
    w.mailer.fail(false);
    // The first two buyers' route hangs (a relay that never answers); the others' mail goes out.
    w.mailer.hang_for("buyer0@example.com");
    w.mailer.hang_for("buyer1@example.com");
    let hung: Vec<NoticeId> = holds[..2]
        .iter()
        .map(|h| NoticeId::for_hold(h, NoticeKind::Notice))
        .collect();
    let mut attempts = vec![1];
    for sweep in 0..12 {
        let retry_at = w.store.notice(&hung[0]).await.unwrap().unwrap().next_attempt_at;
        w.clock.set(w.clock.now().max(retry_at));
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(50);
        let report = w.app.sweep_until(Retry::WhenDue, Some(until)).await.unwrap();
        assert!(
            tokio::time::Instant::now() <= until,
            "sweep {sweep} outlasted its time: {report:?}"
        );
        if sweep == 0 {
            assert_eq!((report.notices_sent, report.notices_failed), (6, 2), "{report:?}");
            let mut notified: Vec<String> = w
                .mails_of(NoticeKind::Notice)
                .iter()
                .map(|m| m.to.as_str().to_owned())
                .collect();
            notified.sort();
            assert_eq!(notified, ["buyer2@example.com", "buyer3@example.com"]);
        }
        let notice = w.store.notice(&hung[0]).await.unwrap().unwrap();
        attempts.push(notice.attempts);
        if notice.state == NoticeState::Failed {
            break;
        }
    }
    assert_eq!(
        attempts,
        (1..=MAX_SEND_ATTEMPTS).collect::<Vec<_>>(),
        "one attempt per sweep"
    );
    for id in &hung {
        assert_eq!(w.store.notice(id).await.unwrap().unwrap().state, NoticeState::Failed);
    }
    // Given up with the staff told once per hold, however many sweeps follow.
    for _ in 0..3 {
        w.clock.advance(SignedDuration::from_hours(1));
        w.app.sweep().await.unwrap();
    }
    let alerts = w.mails_of(NoticeKind::StaffUndeliverable);
    assert_eq!(alerts.len(), 2);
    assert!(
        alerts[0]
            .text
            .contains("確認メールを10回送ろうとしましたが、送れませんでした")
            && alerts[0].text.contains("購入者は保留を知りません"),
        "{}",
        alerts[0].text
    );
}

/// A clock that moves with tokio's (paused) time, as the real one moves while a sweep sends.
struct TokioClock {
    start: jiff::Timestamp,
    since: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> jiff::Timestamp {
        let elapsed = SignedDuration::try_from(self.since.elapsed()).unwrap();
        self.start.checked_add(elapsed).unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn two_sweeps_overlapping_a_slow_mail_service_send_each_notice_once() {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(TokioClock {
        start: "2026-11-23T03:05:01Z".parse().unwrap(),
        since: tokio::time::Instant::now(),
    });
    let app = Mallguard::new(store.clone(), mailer.clone(), clock, settings());
    mailer.fail(true);
    ingest_pairs(&app, 6).await;
    mailer.fail(false);
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    // Twelve sends of 15 s each: the first sweep is still sending well after two minutes, when a second
    // one (a hand-run `mallguard expire`, the next tick) starts.
    mailer.slow(std::time::Duration::from_secs(15));
    let first = app.sweep();
    let second = async {
        tokio::time::sleep(std::time::Duration::from_secs(150)).await;
        app.sweep().await
    };
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(
        second.notices_sent > 0,
        "the second sweep took what the first had not reached: {second:?}"
    );
    assert_eq!(first.notices_sent + second.notices_sent, 12, "{first:?} {second:?}");
    assert_eq!(mailer.mails().len(), 12, "each notice and alert sent once");
    assert!(
        !first.more_due && !second.more_due,
        "what the other took is not left over"
    );
}

#[tokio::test]
async fn a_backlog_of_due_holds_drains_in_one_sweep_page_after_page() {
    let w = world();
    let count = expire::SWEEP_LIMIT * 2 + 7;
    let latest = held_pairs(&w, count).await;
    w.clock.set(latest);
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.cancelled, report.more_due), (count, false));
    assert_eq!(w.mails_of(NoticeKind::Cancellation).len(), count);
    assert_eq!(w.app.sweep().await.unwrap(), SweepReport::default(), "nothing left");
}

#[tokio::test]
async fn a_sweep_out_of_time_stops_after_the_page_it_took_and_says_more_is_due() {
    let w = world();
    let count = expire::SWEEP_LIMIT + 3;
    let latest = held_pairs(&w, count).await;
    w.clock.set(latest);
    // Time for one send at most: one page is still taken (and its mail sent), then the sweep stops.
    let first = w
        .app
        .sweep_until(Retry::WhenDue, Some(tokio::time::Instant::now() + SWEEP_SEND_TIMEOUT))
        .await
        .unwrap();
    assert_eq!((first.cancelled, first.more_due), (expire::SWEEP_LIMIT, true));
    assert_eq!(
        w.mails_of(NoticeKind::Cancellation).len(),
        expire::SWEEP_LIMIT,
        "each page's mail goes out with it"
    );
    let second = w
        .app
        .sweep_until(Retry::WhenDue, Some(tokio::time::Instant::now() + SWEEP_SEND_TIMEOUT))
        .await
        .unwrap();
    assert_eq!((second.cancelled, second.more_due), (3, false));
}

impl World {
    /// Ingests Amazon orders 503-1 then its duplicate 503-2 five minutes later; returns the hold.
    async fn held_amazon_pair(&self) -> Hold {
        let mut first = order("503-1");
        first.order_ref.mall = Mall::Amazon;
        let mut second = order_at("503-2", "2026-11-23T03:05:00Z");
        second.order_ref.mall = Mall::Amazon;
        self.app.ingest(incoming(first)).await.unwrap();
        let IngestOutcome::Held { hold, .. } = self.app.ingest(incoming(second)).await.unwrap() else {
            panic!("held")
        };
        self.store.hold(&hold).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn an_amazon_hold_whose_message_bounced_is_not_cancelled_at_its_deadline_but_waits_for_the_staff() {
    let w = world();
    let hold = w.held_amazon_pair().await;
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Bounced { permanent: true });
    assert_eq!(
        w.app.mail_reported(bounced).await.unwrap(),
        MailReportOutcome::Escalated
    );
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert!(escalated.amazon_fallback_case.is_some());
    assert!(escalated.awaiting_staff, "the hold waits for the staff");
    assert_eq!(escalated.remind_at, None, "no reminder to an address that bounced");
    let alert = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(alert.text.contains("自動ではキャンセルしません"), "{}", alert.text);
    w.clock.set(hold.deadline);
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.cancelled, 0, "{report:?}");
    w.clock.advance(SignedDuration::from_hours(72));
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 0);
    assert_eq!(w.state(&hold).await, HoldState::Held);
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
    assert!(w.mails_of(NoticeKind::Reminder).is_empty());
}

#[tokio::test]
async fn an_amazon_hold_with_its_request_noted_but_still_due_is_left_to_the_staff_at_the_deadline() {
    // A hold escalated before holds were marked as waiting at once: the sweep must not cancel it either.
    let w = world();
    let hold = w.held_amazon_pair().await;
    let mut noted = hold.clone();
    noted.amazon_fallback_case = Some("依頼文".into());
    noted.version += 1;
    let mut batch = WriteBatch::default();
    batch.holds.push((noted, Expect::Version(hold.version)));
    w.store.commit(batch).await.unwrap();
    w.clock.set(hold.deadline);
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.cancelled, report.escalated), (0, 1), "{report:?}");
    let waiting = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(waiting.state, HoldState::Held);
    assert!(waiting.awaiting_staff);
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
    assert!(
        w.mails_of(NoticeKind::StaffEscalated).is_empty(),
        "the staff have the request text already"
    );
}

#[tokio::test]
async fn with_automatic_cancellation_an_amazon_hold_whose_message_bounced_is_cancelled_at_its_deadline() {
    let mut s = settings();
    s.policy.amazon_auto_cancel = true;
    let w = world_with(s);
    let hold = w.held_amazon_pair().await;
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Rejected);
    w.app.mail_reported(bounced).await.unwrap();
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert!(escalated.amazon_fallback_case.is_some());
    assert!(!escalated.awaiting_staff);
    assert_eq!(escalated.deadline, hold.deadline);
    let alert = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(
        alert.text.contains("解決しない場合はキャンセルします"),
        "{}",
        alert.text
    );
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 1);
    assert_eq!(w.state(&hold).await, HoldState::Cancelled);
}

#[tokio::test]
async fn with_the_fallback_first_amazons_customer_service_gets_its_time_from_the_bounce() {
    let mut s = settings();
    s.policy.amazon_auto_cancel = true;
    s.policy.amazon_fallback_first = true;
    let w = world_with(s);
    let hold = w.held_amazon_pair().await;
    w.clock
        .set(hold.deadline.checked_sub(SignedDuration::from_hours(1)).unwrap());
    let mut bounced = report(&hold, NoticeKind::Notice, MailOutcome::Complained);
    bounced.at = w.clock.now();
    w.app.mail_reported(bounced).await.unwrap();
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    let second = w.clock.now().checked_add(SignedDuration::from_hours(48)).unwrap();
    assert_eq!(escalated.deadline, second);
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 0);
    w.clock.set(second);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 1);
}

#[tokio::test]
async fn no_reminder_goes_to_a_buyer_whose_notice_bounced() {
    let w = world();
    let hold = w.held_pair().await;
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Bounced { permanent: true });
    w.app.mail_reported(bounced).await.unwrap();
    let escalated = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(escalated.remind_at, None);
    assert!(!escalated.awaiting_staff, "a phone task: the deadline stands");
    w.clock.set(hold.remind_at.unwrap());
    assert_eq!(w.app.sweep().await.unwrap().reminded, 0);
    assert!(w.mails_of(NoticeKind::Reminder).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_mail_service_that_hangs_leaves_the_notice_pending_and_the_answer_comes_back() {
    let w = world();
    w.mailer.hang(true);
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let started = tokio::time::Instant::now();
    let outcome = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    // Paused time only moves when every task waits on a timer: this is the budget, not the wall clock.
    assert!(started.elapsed() <= REQUEST_SEND_BUDGET, "{:?}", started.elapsed());
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    let id = NoticeId::for_hold(&hold, NoticeKind::Notice);
    let pending = w.store.notice(&id).await.unwrap().unwrap();
    assert_eq!(pending.state, NoticeState::Pending, "not failed, not lost");
    assert_eq!(pending.attempts, 0, "a send cut short is not a failed attempt");
    assert!(
        pending.is_leased(w.clock.now()),
        "no sweep sends it while the request may still"
    );
    assert_eq!(w.app.sweep().await.unwrap().notices_sent, 0);

    // The sweep waits longer, but not for ever: a send that does not answer there is a failed attempt, and
    // the notice is retried after its back-off.
    w.clock.advance(SignedDuration::from_mins(2));
    let started = tokio::time::Instant::now();
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.notices_sent, report.notices_failed), (0, 2), "{report:?}");
    assert!(started.elapsed() >= SWEEP_SEND_TIMEOUT);
    let tried = w.store.notice(&id).await.unwrap().unwrap();
    assert_eq!((tried.state, tried.attempts), (NoticeState::Pending, 1));

    w.mailer.hang(false);
    w.clock.advance(SignedDuration::from_mins(2));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.notices_sent, 2, "the notice and the staff alert: {report:?}");
    assert_eq!(w.store.notice(&id).await.unwrap().unwrap().state, NoticeState::Sent);
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
    w.clock.advance(SignedDuration::from_mins(5));
    assert_eq!(w.app.sweep().await.unwrap().notices_sent, 0, "sent once");
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
}

/// A mailer whose first send takes a while and the rest answer at once, as a slow route beside a quick one.
#[derive(Default)]
struct SlowFirstMailer {
    inner: crate::testing::RecordingMailer,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Mailer for SlowFirstMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(REQUEST_SEND_BUDGET * 2).await;
        }
        self.inner.send(mail).await
    }
}

#[tokio::test(start_paused = true)]
async fn the_sends_of_one_request_go_out_together_and_one_out_of_time_waits_for_the_sweep() {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(SlowFirstMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings());
    app.ingest(incoming(order("1001"))).await.unwrap();
    let started = tokio::time::Instant::now();
    let outcome = app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    // The buyer's route hangs past the budget; the staff alert beside it went out at once, and the request
    // waited the budget, not the hanging send.
    assert_eq!(started.elapsed(), REQUEST_SEND_BUDGET);
    let sent: Vec<Vec<(String, String)>> = mailer.inner.mails().into_iter().map(|m| m.tags).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains(&("kind".into(), NoticeKind::StaffNewHold.as_str().into())),
        "{sent:?}"
    );
    let notice = NoticeId::for_hold(&hold, NoticeKind::Notice);
    let pending = store.notice(&notice).await.unwrap().unwrap();
    assert_eq!((pending.state, pending.attempts), (NoticeState::Pending, 0));
    clock.advance(SignedDuration::from_mins(2));
    assert_eq!(app.sweep().await.unwrap().notices_sent, 1);
    assert_eq!(mailer.inner.mails().len(), 2);
}

#[tokio::test]
async fn a_transient_bounce_escalates_the_hold_too_since_ses_has_stopped_trying() {
    let w = world();
    let hold = w.held_pair().await;
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Bounced { permanent: false });
    assert_eq!(
        w.app.mail_reported(bounced).await.unwrap(),
        MailReportOutcome::Escalated
    );
    let alerts = w.mails_of(NoticeKind::StaffUndeliverable);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].text.contains("電話で確認"), "{}", alerts[0].text);
    assert_eq!(w.store.hold(&hold.id).await.unwrap().unwrap().remind_at, None);
    let events = w.events("1002").await;
    assert!(
        events.iter().any(|e| e.contains("Bounced { permanent: false }")),
        "the kind of bounce is in the evidence: {events:?}"
    );
    // A delay is not a failure: SES is still trying.
    let delayed = report(&hold, NoticeKind::Reminder, MailOutcome::Delayed);
    assert_eq!(w.app.mail_reported(delayed).await.unwrap(), MailReportOutcome::Recorded);
}

#[tokio::test]
async fn a_notice_ses_reports_on_is_never_sent_again_by_the_sweep() {
    // The send's answer was lost (a timeout, a failed write), so the notice is still pending; SES's report
    // says it took the mail after all.
    for outcome in [MailOutcome::Delivered, MailOutcome::Rejected] {
        let w = world();
        w.mailer.fail(true);
        w.app.ingest(incoming(order("1001"))).await.unwrap();
        let IngestOutcome::Held { hold, notified: false } = w
            .app
            .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
            .await
            .unwrap()
        else {
            panic!("held, not notified")
        };
        let hold = w.store.hold(&hold).await.unwrap().unwrap();
        w.mailer.fail(false);
        w.app
            .mail_reported(report(&hold, NoticeKind::Notice, outcome))
            .await
            .unwrap();
        let id = NoticeId::for_hold(&hold.id, NoticeKind::Notice);
        let notice = w.store.notice(&id).await.unwrap().unwrap();
        let expected = if outcome.is_failure() {
            NoticeState::Failed
        } else {
            NoticeState::Sent
        };
        assert_eq!(notice.state, expected, "{outcome:?}");
        assert_eq!(
            notice.message_id,
            Some(report(&hold, NoticeKind::Notice, outcome).message_id),
            "{outcome:?}: the notice is tied to the report, so its delivery shows it"
        );
        w.clock.advance(SignedDuration::from_mins(10));
        w.app.sweep().await.unwrap();
        assert!(w.mails_of(NoticeKind::Notice).is_empty(), "{outcome:?}: not sent again");
    }
}

#[tokio::test]
async fn a_notice_that_keeps_failing_is_given_up_after_ten_tries_in_about_four_hours_and_the_staff_told_once() {
    let w = world();
    w.mailer.unreachable("taro.yamada@example.com");
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    let IngestOutcome::Held { hold, notified: false } = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap()
    else {
        panic!("held, not notified")
    };
    let id = NoticeId::for_hold(&hold, NoticeKind::Notice);
    let first_try = w.clock.now();
    let mut last_try = first_try;
    loop {
        let notice = w.store.notice(&id).await.unwrap().unwrap();
        if notice.state != NoticeState::Pending {
            break;
        }
        assert!(notice.attempts < MAX_SEND_ATTEMPTS, "tried {} times", notice.attempts);
        w.clock.set(notice.next_attempt_at);
        last_try = notice.next_attempt_at;
        w.app.sweep().await.unwrap();
    }
    let notice = w.store.notice(&id).await.unwrap().unwrap();
    assert_eq!(notice.state, NoticeState::Failed);
    assert_eq!(notice.attempts, MAX_SEND_ATTEMPTS);
    assert_eq!(last_try.duration_since(first_try), SignedDuration::from_mins(243));
    let tries = w
        .events("1002")
        .await
        .iter()
        .filter(|e| e.starts_with("NoticeFailed") && e.contains("kind: Notice,"))
        .count();
    assert_eq!(tries, 10);
    assert_eq!(w.mails_of(NoticeKind::StaffUndeliverable).len(), 1);
    // Nothing more: no eleventh try, no second alert.
    w.clock.advance(SignedDuration::from_hours(2));
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.notices_sent, report.notices_failed), (0, 0), "{report:?}");
    assert_eq!(w.mails_of(NoticeKind::StaffUndeliverable).len(), 1);
}

/// Ingests a pair to a carrier address during the day (so the notice goes out at once); returns the hold.
async fn carrier_pair_by_day(w: &World) -> Hold {
    use crate::order::EmailAddress;
    let carrier = |mut o: crate::order::Order| {
        o.buyer.email = Some(EmailAddress::parse("taro.y@docomo.ne.jp").unwrap());
        o
    };
    w.app.ingest(incoming(carrier(order("3001")))).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w
        .app
        .ingest(incoming(carrier(order_at("3002", "2026-11-23T03:05:00Z"))))
        .await
        .unwrap()
    else {
        panic!("held")
    };
    w.store.hold(&hold).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_reminder_due_at_night_to_a_carrier_address_waits_for_eight() {
    let w = world();
    let hold = carrier_pair_by_day(&w).await;
    // Noticed at 12:05 JST: the reminder falls at 00:05 JST, in the quiet hours.
    let remind_at = hold.remind_at.unwrap();
    assert_eq!(remind_at, "2026-11-23T15:05:01Z".parse().unwrap());
    w.clock.set(remind_at);
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.reminded, report.deferred), (0, 1), "{report:?}");
    assert!(w.mails_of(NoticeKind::Reminder).is_empty());
    let eight: jiff::Timestamp = "2026-11-23T23:00:00Z".parse().unwrap();
    assert_eq!(w.store.hold(&hold.id).await.unwrap().unwrap().remind_at, Some(eight));
    w.clock.set("2026-11-23T22:59:00Z".parse().unwrap());
    assert_eq!(w.app.sweep().await.unwrap().reminded, 0);
    w.clock.set(eight);
    assert_eq!(w.app.sweep().await.unwrap().reminded, 1);
    assert_eq!(w.mails_of(NoticeKind::Reminder).len(), 1);
}

#[tokio::test]
async fn a_reminder_whose_morning_is_too_near_the_deadline_is_dropped() {
    let w = world();
    let hold = carrier_pair_by_day(&w).await;
    // Pull the deadline to 08:30 JST: a reminder at 08:00 would come half an hour before it.
    let mut near = hold.clone();
    near.deadline = "2026-11-23T23:30:00Z".parse().unwrap();
    near.version += 1;
    let mut batch = WriteBatch::default();
    batch.holds.push((near, Expect::Version(hold.version)));
    w.store.commit(batch).await.unwrap();
    w.clock.set(hold.remind_at.unwrap());
    assert_eq!(w.app.sweep().await.unwrap().deferred, 1);
    assert_eq!(w.store.hold(&hold.id).await.unwrap().unwrap().remind_at, None);
}

#[tokio::test]
async fn a_retry_to_a_carrier_address_at_night_waits_for_eight_but_one_to_an_urgent_hold_does_not() {
    for urgent in [false, true] {
        let w = world();
        w.mailer.unreachable("taro.y@docomo.ne.jp");
        let hold = carrier_pair_by_day(&w).await;
        if urgent {
            let mut pressing = hold.clone();
            pressing.urgent = true;
            pressing.version += 1;
            let mut batch = WriteBatch::default();
            batch.holds.push((pressing, Expect::Version(hold.version)));
            w.store.commit(batch).await.unwrap();
        }
        w.mailer.unreachable.lock().unwrap().clear();
        let id = NoticeId::for_hold(&hold.id, NoticeKind::Notice);
        assert_eq!(w.store.notice(&id).await.unwrap().unwrap().state, NoticeState::Pending);
        // The sweep at 23:00 JST finds the retry due.
        w.clock.set("2026-11-23T14:00:00Z".parse().unwrap());
        let report = w.app.sweep().await.unwrap();
        if urgent {
            assert_eq!(report.notices_sent, 1, "{report:?}");
            continue;
        }
        assert_eq!((report.notices_sent, report.deferred), (0, 1), "{report:?}");
        let eight: jiff::Timestamp = "2026-11-23T23:00:00Z".parse().unwrap();
        assert_eq!(w.store.notice(&id).await.unwrap().unwrap().next_attempt_at, eight);
        // The buyer's time to answer starts when the question reaches them.
        let moved = w.store.hold(&hold.id).await.unwrap().unwrap();
        assert_eq!(moved.deadline, eight + settings().policy.answer_within);
        assert!(moved.deadline > hold.deadline);
        // A sweep run by hand at night leaves it waiting too.
        assert_eq!(w.app.sweep_with(Retry::AllNow).await.unwrap().notices_sent, 0);
        w.clock.set(eight.checked_sub(SignedDuration::from_mins(1)).unwrap());
        w.app.sweep().await.unwrap();
        assert!(w.mails_of(NoticeKind::Notice).is_empty(), "not before 08:00");
        w.clock.set(eight);
        w.app.sweep().await.unwrap();
        assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
        assert_eq!(w.store.notice(&id).await.unwrap().unwrap().state, NoticeState::Sent);
    }
}

#[tokio::test]
async fn without_a_mall_action_the_staff_mails_give_the_steps_to_hold_by_hand() {
    let w = world();
    let hold = w.held_pair().await;
    let steps = crate::hold::mall_steps(Mall::Own, HoldState::Held, crate::Language::Ja);
    let new_hold = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(new_hold.text.contains(steps), "{}", new_hold.text);
    assert!(!new_hold.text.contains("依頼しました"), "{}", new_hold.text);
    let bounced = report(&hold, NoticeKind::Notice, MailOutcome::Bounced { permanent: true });
    w.app.mail_reported(bounced).await.unwrap();
    let undeliverable = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(undeliverable.text.contains(steps), "{}", undeliverable.text);
    assert!(!undeliverable.text.contains("依頼しました"), "{}", undeliverable.text);
}

#[tokio::test]
async fn where_mallguard_cannot_cancel_at_the_mall_the_buyer_reads_in_progress_and_the_staff_get_the_steps() {
    let w = world();
    let hold = w.held_pair().await;
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().cancelled, 1);
    let mail = &w.mails_of(NoticeKind::Cancellation)[0];
    assert!(mail.subject.contains("キャンセル手続きのお知らせ"), "{}", mail.subject);
    for body in [&mail.text, mail.html.as_ref().unwrap()] {
        assert!(body.contains("キャンセルの手続きを進めております"), "{body}");
        assert!(
            !body.contains("キャンセルさせていただきました"),
            "nothing happened at the mall yet: {body}"
        );
    }
    let staff = &w.mails_of(NoticeKind::StaffExpired)[0];
    let steps = crate::hold::mall_steps(Mall::Own, HoldState::Cancelled, crate::Language::Ja);
    assert!(
        staff.text.contains("mallguard はこの注文を") && staff.text.contains(steps),
        "{}",
        staff.text
    );
    // The buyer's page says the same.
    let page = w.app.view(&w.token(1)).await.unwrap();
    assert!(page.cancel_by_hand);
    assert_eq!(page.mall_cancel, None);
}

#[tokio::test]
async fn where_mallguard_cannot_cancel_at_the_mall_the_buyers_receipt_says_in_progress() {
    let w = world();
    w.held_pair().await;
    let Answer::Done(page) = w.app.answer(&w.token(1)).await.unwrap() else {
        panic!("settled")
    };
    assert!(page.cancel_by_hand);
    let receipt = &w.mails_of(NoticeKind::Receipt)[0];
    assert!(
        receipt.text.contains("キャンセルの手続きを進めております"),
        "{}",
        receipt.text
    );
    assert!(!receipt.text.contains("キャンセルされました"), "{}", receipt.text);
    let staff = &w.mails_of(NoticeKind::StaffResolved)[0];
    assert!(staff.text.contains("mallguard はこの注文を"), "{}", staff.text);
}

/// A route that, like Amazon's messaging, carries a buyer's mail only in the buyer's language: this buyer
/// reads English.
#[derive(Default)]
struct EnglishReadersRoute {
    inner: RecordingMailer,
}

#[async_trait::async_trait]
impl Mailer for EnglishReadersRoute {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        if mail.to.as_str() == "taro.yamada@example.com" && mail.subject.contains("ご確認のお願い") {
            return Err(MailError::OtherLanguage {
                reads: crate::Language::En,
                message: "the buyer reads en-US".into(),
            });
        }
        self.inner.send(mail).await
    }
}

#[tokio::test]
async fn a_notice_written_before_the_buyers_language_was_known_goes_again_in_it_and_nobody_is_escalated() {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(EnglishReadersRoute::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings());
    // The order's language was never learned (the mall's look-up was throttled): the notice is in Japanese.
    app.ingest(incoming(order("1001"))).await.unwrap();
    let outcome = app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    let id = NoticeId::for_hold(&hold, NoticeKind::Notice);
    let retried = store.notice(&id).await.unwrap().unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (NoticeState::Pending, 1),
        "retried, not given up"
    );
    assert!(retried.mail.subject.starts_with("[") && retried.mail.subject.contains("Please confirm your order"));
    let held = store.order(&order("1002").order_ref).await.unwrap().unwrap();
    assert_eq!(held.order.buyer.language, Some(crate::Language::En));
    clock.advance(SignedDuration::from_mins(2));
    assert_eq!(app.sweep().await.unwrap().notices_sent, 1);
    let sent = mailer.inner.mails();
    let notices: Vec<&Mail> = sent
        .iter()
        .filter(|m| m.tags.contains(&("kind".into(), NoticeKind::Notice.as_str().into())))
        .collect();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].subject.contains("Please confirm your order"),
        "{}",
        notices[0].subject
    );
    assert!(
        !sent.iter().any(|m| m
            .tags
            .contains(&("kind".into(), NoticeKind::StaffUndeliverable.as_str().into()))),
        "the hold is not escalated"
    );
}

#[tokio::test]
async fn a_cancellation_the_staff_did_by_hand_is_done_on_the_buyers_page_once_the_mall_reports_it() {
    let w = world();
    let hold = w.held_pair().await;
    w.app.answer(&w.token(1)).await.unwrap();
    assert!(w.app.view(&w.token(1)).await.unwrap().cancel_by_hand, "in progress");
    // The staff cancel it in the mall's admin screen; the mall's webhook says so.
    let mut cancelled = order_at("1002", "2026-11-23T03:05:00Z");
    cancelled.status = crate::order::OrderStatus::Cancelled;
    let outcome = w.app.ingest(incoming(cancelled.clone())).await.unwrap();
    assert_eq!(
        outcome,
        IngestOutcome::Updated {
            status: crate::order::OrderStatus::Cancelled
        }
    );
    let page = w.app.view(&w.token(1)).await.unwrap();
    assert!(!page.cancel_by_hand, "done at the mall");
    assert_eq!(page.hold.state, HoldState::Cancelled);
    let noted = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert!(noted.cancelled_at_mall.is_some());
    let history = w.store.history(&hold.order).await.unwrap();
    assert!(
        history.iter().any(|e| e
            .describe(crate::Language::En)
            .contains("the mall reports the order cancelled")),
        "{history:?}"
    );
    // Delivered again: nothing more is written.
    let commits = w.store.commits().len();
    assert_eq!(
        w.app.ingest(incoming(cancelled)).await.unwrap(),
        IngestOutcome::Redelivered
    );
    assert_eq!(w.store.commits().len(), commits);
}

/// The console's sign-in mail is bounded like every send in a request: a mail service that hangs gives the
/// page an answer (try again), not a request that never ends.
#[tokio::test(start_paused = true)]
async fn a_sign_in_mail_to_a_hanging_mail_service_gives_up_within_the_requests_budget() {
    let w = world();
    w.mailer.hang(true);
    let started = tokio::time::Instant::now();
    let to = crate::order::EmailAddress::parse("staff@tanaka-shop.example").unwrap();
    let sent = w
        .app
        .mail_sign_in_link(&to, "https://console.example/sign-in", crate::Language::Ja)
        .await;
    assert!(matches!(sent, Err(MailError::Transient(_))), "{sent:?}");
    assert!(
        started.elapsed() <= super::REQUEST_SEND_BUDGET,
        "{:?}",
        started.elapsed()
    );
}
