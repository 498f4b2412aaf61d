//! Mall actions in the use cases, over the in-memory store and a scripted mall: a hold placed at the mall,
//! a cancellation done there before the buyer is told, retries, refusals, and the mall's word on shipping.

use std::sync::Arc;

use jiff::SignedDuration;

use super::*;
use crate::action::{ActionError, ActionId, ActionKind, ActionState, Performed};
use crate::hold::HoldState;
use crate::ids::Mall;
use crate::notice::{Mail, NoticeId, NoticeKind, NoticeState};
use crate::order::OrderStatus;
use crate::ports::roles::*;
use crate::ports::{Commit, Expect, WriteBatch};
use crate::testing::{
    ManualClock, MemoryStore, RecordingMailer, ScriptedActions, incoming, link_tokens, order, order_at, settings,
};

struct World {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
    mall: Arc<ScriptedActions>,
}

/// Waits (yielding to the sweeps running beside the test) until the mall has been asked `n` times.
async fn asked_reaches(mall: &ScriptedActions, n: usize) {
    for _ in 0..1000 {
        if mall.asked().len() == n {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(mall.asked().len(), n);
}

fn world(mall: ScriptedActions) -> World {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let mall = Arc::new(mall);
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings()).with_mall_actions(mall.clone());
    World {
        app,
        store,
        mailer,
        clock,
        mall,
    }
}

impl World {
    async fn held_pair(&self) -> Hold {
        self.app.ingest(incoming(order("1001"))).await.unwrap();
        let outcome = self
            .app
            .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
            .await
            .unwrap();
        let IngestOutcome::Held { hold, .. } = outcome else {
            panic!("{outcome:?}")
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

    fn cancel_token(&self) -> String {
        let notice = self.mails_of(NoticeKind::Notice).pop().expect("a notice was sent");
        link_tokens(&notice)[1].clone()
    }

    async fn action(&self, hold: &Hold, kind: ActionKind) -> crate::action::MallAction {
        self.store
            .action(&ActionId::for_hold(&hold.id, kind))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {kind} action"))
    }

    async fn events(&self, order_id: &str) -> Vec<String> {
        self.store
            .history(&order(order_id).order_ref)
            .await
            .unwrap()
            .iter()
            .map(|e| e.describe(crate::Language::En))
            .collect()
    }
}

#[tokio::test]
async fn a_duplicate_is_held_at_the_mall_once_and_the_evidence_says_so() {
    let w = world(ScriptedActions::at(Mall::Own));
    let hold = w.held_pair().await;
    assert_eq!(
        w.mall.asked(),
        [(ActionId::for_hold(&hold.id, ActionKind::Hold), ActionKind::Hold)]
    );
    let action = w.action(&hold, ActionKind::Hold).await;
    assert_eq!(action.state, ActionState::Done);
    assert_eq!(action.reference, Some(format!("ref-{}", action.id)));
    let events = w.events("1002").await;
    assert!(
        events.iter().any(|e| e.contains("asked the mall for the hold")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("the mall did the hold (ref-")),
        "{events:?}"
    );
    // The sweep finds nothing left to do at the mall.
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.actions, ActionsReport::default());
    assert_eq!(w.mall.asked().len(), 1);
}

#[tokio::test]
async fn the_buyers_cancellation_reaches_the_mall_before_the_buyers_receipt() {
    let w = world(ScriptedActions::at(Mall::Own));
    let hold = w.held_pair().await;
    let Answer::Done(_) = w.app.answer(&w.cancel_token()).await.unwrap() else {
        panic!("settled")
    };
    let cancel = w.action(&hold, ActionKind::Cancel).await;
    assert_eq!(cancel.state, ActionState::Done);
    assert_eq!(w.mall.asked().last().unwrap().1, ActionKind::Cancel);
    assert_eq!(
        cancel.by,
        crate::action::ActionBy::Buyer,
        "the mall is told the buyer asked"
    );
    assert_eq!(
        w.action(&hold, ActionKind::Hold).await.by,
        crate::action::ActionBy::Mallguard
    );
    let receipts = w.mails_of(NoticeKind::Receipt);
    assert_eq!(receipts.len(), 1, "the receipt, once the mall cancelled");
    let staff = &w.mails_of(NoticeKind::StaffResolved)[0];
    assert!(
        staff.text.contains("mallguard"),
        "the staff are not asked to cancel by hand: {}",
        staff.text
    );
    let events = w.events("1002").await;
    let cancelled_at = events
        .iter()
        .position(|e| e.contains("the mall did the cancellation"))
        .unwrap();
    let receipt_queued = events
        .iter()
        .position(|e| e.contains("receipt") && e.contains("queued"))
        .unwrap();
    assert!(cancelled_at < receipt_queued, "{events:?}");
}

#[tokio::test]
async fn a_refused_cancellation_tells_the_staff_why_and_the_buyer_nothing() {
    let mall = ScriptedActions::at(Mall::Own)
        .then(Ok(Performed::default()))
        .then(Err(ActionError::Refused("the order has already been fulfilled".into())));
    let w = world(mall);
    let hold = w.held_pair().await;
    w.app.answer(&w.cancel_token()).await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Cancel).await.state, ActionState::Refused);
    assert!(
        w.mails_of(NoticeKind::Receipt).is_empty(),
        "the buyer is told nothing untrue"
    );
    let alerts = w.mails_of(NoticeKind::StaffActionRefused);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].text.contains("the order has already been fulfilled"),
        "{}",
        alerts[0].text
    );
    let events = w.events("1002").await;
    assert!(
        events
            .iter()
            .any(|e| e.ends_with("the mall refused the cancellation: the order has already been fulfilled")),
        "the evidence keeps the mall's reason: {events:?}"
    );
    // Nothing else changes: the sweep does not try again.
    w.clock.advance(SignedDuration::from_hours(2));
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 2);
}

#[tokio::test]
async fn a_malls_megabyte_refusal_reaches_the_evidence_and_the_staff_short_and_on_one_line() {
    let reason = format!("{{\"errors\":\"{}\"}}\nSubject: forged", "x".repeat(1_000_000));
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Refused(reason))));
    let hold = w.held_pair().await;
    let refused = w.action(&hold, ActionKind::Hold).await;
    assert_eq!(refused.state, ActionState::Refused, "the refusal was recorded");
    let kept = refused.last_error.unwrap();
    assert!(kept.chars().count() <= crate::action::MAX_MALL_TEXT, "{}", kept.len());
    assert!(kept.ends_with("} Subject: forged"), "{kept}");
    let events = w.events("1002").await;
    let event = events.iter().find(|e| e.contains("refused")).expect("a refusal event");
    assert!(event.len() < 1_000 && !event.contains('\n'), "{event}");
    let alert = &w.mails_of(NoticeKind::StaffActionRefused)[0];
    assert!(alert.text.len() < 20_000, "{}", alert.text.len());
    assert!(!alert.text.contains("\nSubject: forged"), "{}", alert.text);
}

#[tokio::test]
async fn a_failure_that_passes_is_retried_by_the_sweep_and_done_once() {
    let later = || {
        Err(ActionError::Later {
            message: "HTTP 503".into(),
            retry_after: None,
        })
    };
    let w = world(ScriptedActions::at(Mall::Own).then(later()).then(later()));
    let hold = w.held_pair().await;
    let pending = w.action(&hold, ActionKind::Hold).await;
    assert_eq!((pending.state, pending.attempts), (ActionState::Pending, 1));
    // Not before its back-off.
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 1);
    w.clock.advance(SignedDuration::from_mins(1));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.actions.retried, 1, "{report:?}");
    w.clock.advance(SignedDuration::from_mins(2));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.actions.done, 1, "{report:?}");
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Done);
    w.clock.advance(SignedDuration::from_mins(10));
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 3, "done once, never again");
}

#[tokio::test]
async fn an_action_the_mall_keeps_failing_alerts_the_staff_once_and_is_still_done_later() {
    let attempts = crate::action::ALERT_AFTER_ATTEMPTS;
    let mut mall = ScriptedActions::at(Mall::Own);
    for attempt in 1..=attempts + 1 {
        mall = mall.then(Err(ActionError::Later {
            message: format!("HTTP 503 (attempt {attempt})"),
            retry_after: None,
        }));
    }
    let w = world(mall);
    let hold = w.held_pair().await;
    for _ in 1..attempts {
        assert!(
            w.mails_of(NoticeKind::StaffActionFailing).is_empty(),
            "not before the eighth attempt"
        );
        w.clock.advance(SignedDuration::from_hours(1));
        w.app.sweep().await.unwrap();
    }
    let pending = w.action(&hold, ActionKind::Hold).await;
    assert_eq!((pending.state, pending.attempts), (ActionState::Pending, attempts));
    let alerts = w.mails_of(NoticeKind::StaffActionFailing);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].text.contains("HTTP 503 (attempt 8)"),
        "the mall's last reason: {}",
        alerts[0].text
    );
    assert!(
        alerts[0]
            .text
            .contains("mallguard は試み続けます（通常は1時間ごと、モールが待つよう求めたときは最長1日ごと）"),
        "{}",
        alerts[0].text
    );
    // It goes on being tried, without another alert, and is done once the mall is back.
    w.clock.advance(SignedDuration::from_hours(1));
    w.app.sweep().await.unwrap();
    w.clock.advance(SignedDuration::from_hours(1));
    w.app.sweep().await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Done);
    assert_eq!(w.mails_of(NoticeKind::StaffActionFailing).len(), 1, "told once");
    let events = w.events("1002").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.contains("at the mall failed (attempt"))
            .count(),
        attempts as usize + 1,
        "every retry is in the evidence: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("staff alert (the mall keeps failing)") && e.contains("queued")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_hold_still_failing_when_the_buyer_confirms_is_dropped_and_released_in_case_it_reached_the_mall() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Later {
        message: "no answer".into(),
        retry_after: None,
    })));
    let hold = w.held_pair().await;
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    w.app.answer(&confirm).await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Dropped);
    assert_eq!(w.action(&hold, ActionKind::Release).await.state, ActionState::Done);
    assert_eq!(w.mall.asked().last().unwrap().1, ActionKind::Release);
    w.clock.advance(SignedDuration::from_mins(5));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.actions, ActionsReport::default(), "nothing left to do");
    assert_eq!(w.mall.asked().len(), 2, "the hold's failed try and the release");
    let events = w.events("1002").await;
    assert!(
        events.iter().any(
            |e| e.contains("the hold at the mall no longer asked: the hold was settled before it reached the mall")
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_hold_the_sweep_drops_says_why_in_the_evidence() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Later {
        message: "throttled".into(),
        retry_after: None,
    })));
    let hold = w.held_pair().await;
    let token = w.cancel_token();
    // The cancellation settles the hold; the hold action still pending is the sweep's to drop.
    w.app.answer(&token).await.unwrap();
    w.clock.advance(SignedDuration::from_mins(5));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.actions.dropped, 1, "{report:?}");
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Dropped);
    let events = w.events("1002").await;
    assert!(
        events.iter().any(
            |e| e.contains("the hold at the mall no longer asked: the hold was settled before it reached the mall")
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_release_waits_for_a_hold_still_on_its_way_to_the_mall_and_follows_it() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Later {
        message: "HTTP 503".into(),
        retry_after: None,
    })));
    let hold = w.held_pair().await;
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    // The sweep's retry of the hold is slow at the mall; the buyer confirms meanwhile.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    w.mall.gate(&[ActionKind::Hold], gate.clone());
    w.clock.advance(SignedDuration::from_mins(1));
    let app = w.app.clone();
    let sweep = tokio::spawn(async move { app.sweep().await });
    for _ in 0..1000 {
        if w.mall.asked().len() == 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(w.mall.asked().len(), 2, "the hold's retry is at the mall");
    w.app.answer(&confirm).await.unwrap();
    assert_eq!(w.mall.asked().len(), 2, "the release waits for the hold");
    gate.add_permits(1);
    sweep.await.unwrap().unwrap();
    let asked = w.mall.asked();
    assert_eq!(
        asked.last(),
        Some(&(ActionId::for_hold(&hold.id, ActionKind::Release), ActionKind::Release)),
        "the last call to the mall lifts the hold: {asked:?}"
    );
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Done);
    assert_eq!(w.action(&hold, ActionKind::Release).await.state, ActionState::Done);
}

#[tokio::test]
async fn a_hold_the_mall_refused_is_not_released_and_the_staff_are_told_once() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Refused(
        "Cannot Be Operated : a reservation cannot be held".into(),
    ))));
    let hold = w.held_pair().await;
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    w.app.answer(&confirm).await.unwrap();
    w.clock.advance(SignedDuration::from_hours(1));
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 1, "no release asked: {:?}", w.mall.asked());
    assert_eq!(w.action(&hold, ActionKind::Release).await.state, ActionState::Dropped);
    assert_eq!(w.mails_of(NoticeKind::StaffActionRefused).len(), 1);
    let events = w.events("1002").await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("the release at the mall no longer asked: the mall refused the hold")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_hold_the_staff_placed_before_mallguard_asked_is_not_lifted_by_the_buyers_confirmation() {
    let w = world(ScriptedActions::at(Mall::Own).then(Ok(Performed::found(Some("already OrderStatus 3 保留".into())))));
    let hold = w.held_pair().await;
    assert!(w.action(&hold, ActionKind::Hold).await.found_done);
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    w.app.answer(&confirm).await.unwrap();
    assert_eq!(w.mall.asked().len(), 1, "no release asked");
    assert_eq!(w.action(&hold, ActionKind::Release).await.state, ActionState::Dropped);
    let events = w.events("1002").await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("the order was on hold at the mall before mallguard asked")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_hold_found_placed_on_a_retry_is_mallguards_own_and_is_released() {
    let w = world(
        ScriptedActions::at(Mall::Own)
            .then(Err(ActionError::Later {
                message: "no answer".into(),
                retry_after: None,
            }))
            .then(Ok(Performed::found(Some("already OrderStatus 3 保留".into())))),
    );
    let hold = w.held_pair().await;
    w.clock.advance(SignedDuration::from_mins(1));
    w.app.sweep().await.unwrap();
    assert!(
        !w.action(&hold, ActionKind::Hold).await.found_done,
        "maybe the first try's"
    );
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    w.app.answer(&confirm).await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Release).await.state, ActionState::Done);
}

#[tokio::test]
async fn overlapping_sweeps_with_a_slow_mall_perform_each_action_once() {
    let w = world(ScriptedActions::at(Mall::Own));
    let now = w.clock.now();
    let mut batch = WriteBatch::default();
    let ids: Vec<ActionId> = ["2002", "3002", "4002"]
        .iter()
        .map(|id| {
            let held = order(id).order_ref;
            let action = crate::action::MallAction::new(
                ActionKind::Cancel,
                &crate::ids::HoldId::for_order(&held),
                &held,
                &order("1001").order_ref,
                now,
            );
            batch.actions.push((action.clone(), Expect::Absent));
            action.id
        })
        .collect();
    w.store.commit(batch).await.unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    w.mall.gate(&[ActionKind::Cancel], gate.clone());
    let wait_for = |n: usize| asked_reaches(&w.mall, n);
    // Each action takes the mall 90 seconds: longer together than one lease.
    let app = w.app.clone();
    let first = tokio::spawn(async move { app.sweep().await });
    wait_for(1).await;
    w.clock.advance(SignedDuration::from_secs(90));
    gate.add_permits(1);
    wait_for(2).await;
    w.clock.advance(SignedDuration::from_secs(60));
    let app = w.app.clone();
    let second = tokio::spawn(async move { app.sweep().await });
    wait_for(3).await;
    gate.add_permits(2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    let mut asked: Vec<ActionId> = w.mall.asked().into_iter().map(|(id, _)| id).collect();
    asked.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(asked, expected, "each action performed once");
    for id in &ids {
        assert_eq!(w.store.action(id).await.unwrap().unwrap().state, ActionState::Done);
    }
}

#[tokio::test]
async fn a_sweep_near_its_end_claims_no_action() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Later {
        message: "HTTP 503".into(),
        retry_after: None,
    })));
    let hold = w.held_pair().await;
    w.clock.advance(SignedDuration::from_mins(5));
    let report = w
        .app
        .sweep_until(Retry::WhenDue, Some(tokio::time::Instant::now()))
        .await
        .unwrap();
    // Reported as left, so the sweep says more is due.
    assert_eq!(
        report.actions,
        ActionsReport {
            left: 1,
            ..ActionsReport::default()
        }
    );
    assert!(report.more_due, "{report:?}");
    let pending = w.action(&hold, ActionKind::Hold).await;
    assert_eq!((pending.state, pending.leased_until), (ActionState::Pending, None));
    w.app.sweep().await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Done);
}

#[tokio::test]
async fn re_checks_of_an_action_the_mall_took_are_not_failures_and_alert_the_staff_after_a_day() {
    let mut mall = ScriptedActions::at(Mall::Own).then(Ok(Performed::default()));
    for _ in 0..30 {
        mall = mall.then(Err(ActionError::Accepted {
            reference: None,
            message: "still orderProgress 800".into(),
            check_after: SignedDuration::from_mins(5),
        }));
    }
    let w = world(mall);
    let hold = w.held_pair().await;
    w.app.answer(&w.cancel_token()).await.unwrap();
    // Checked every hour for 23 hours: no alert, no failed attempt.
    for _ in 0..23 {
        w.clock.advance(SignedDuration::from_hours(1));
        w.app.sweep().await.unwrap();
    }
    let cancel = w.action(&hold, ActionKind::Cancel).await;
    assert_eq!((cancel.state, cancel.attempts), (ActionState::Pending, 0));
    assert!(w.mails_of(NoticeKind::StaffActionFailing).is_empty());
    let events = w.events("1002").await;
    assert!(!events.iter().any(|e| e.contains("failed (attempt")), "{events:?}");
    for _ in 0..3 {
        w.clock.advance(SignedDuration::from_hours(1));
        w.app.sweep().await.unwrap();
    }
    assert_eq!(
        w.mails_of(NoticeKind::StaffActionFailing).len(),
        1,
        "told once, after a day"
    );
}

#[tokio::test]
async fn a_held_order_the_mall_reports_shipped_is_never_cancelled() {
    let w = world(ScriptedActions::at(Mall::Own));
    let hold = w.held_pair().await;
    let mut shipped = order_at("1002", "2026-11-23T03:05:00Z");
    shipped.status = OrderStatus::Shipped;
    let mut update = incoming(shipped);
    update.raw = b"shipped at the mall".to_vec();
    assert!(matches!(
        w.app.ingest(update).await.unwrap(),
        IngestOutcome::Updated {
            status: OrderStatus::Shipped
        }
    ));
    let settled = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Shipped);
    assert_eq!(w.mails_of(NoticeKind::StaffShipped).len(), 1);
    // The deadline passes: no cancellation, no cancellation mail, nothing asked of the mall.
    w.clock.set(hold.deadline + SignedDuration::from_hours(1));
    w.app.sweep().await.unwrap();
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
    assert!(w.mall.asked().iter().all(|(_, kind)| *kind == ActionKind::Hold));
}

#[tokio::test]
async fn at_the_deadline_the_cancellation_mail_waits_for_the_mall() {
    let w = world(ScriptedActions::at(Mall::Own));
    let hold = w.held_pair().await;
    w.clock.set(hold.deadline);
    let report = w.app.sweep().await.unwrap();
    assert_eq!((report.cancelled, report.actions.done), (1, 1), "{report:?}");
    assert_eq!(
        w.action(&hold, ActionKind::Cancel).await.by,
        crate::action::ActionBy::Deadline
    );
    let cancellation = &w.mails_of(NoticeKind::Cancellation)[0];
    assert!(
        cancellation.text.contains("キャンセルさせていただきました"),
        "the mall cancelled it: {}",
        cancellation.text
    );
    let staff = &w.mails_of(NoticeKind::StaffExpired)[0];
    assert!(!staff.text.contains("mallguard はこの注文を"), "{}", staff.text);
    let page = w.app.view(&w.cancel_token()).await.unwrap();
    assert!(!page.cancel_by_hand);
    assert_eq!(page.mall_cancel, Some(ActionState::Done));
}

#[tokio::test]
async fn the_buyers_page_says_the_cancellation_is_in_progress_until_the_mall_did_it() {
    let mall = ScriptedActions::at(Mall::Own)
        .then(Ok(Performed::default()))
        .then(Err(ActionError::Later {
            message: "HTTP 503".into(),
            retry_after: None,
        }));
    let w = world(mall);
    let hold = w.held_pair().await;
    let token = w.cancel_token();
    let Answer::Done(page) = w.app.answer(&token).await.unwrap() else {
        panic!("settled")
    };
    assert_eq!(page.hold.state, HoldState::Cancelled);
    assert_eq!(
        page.mall_cancel,
        Some(ActionState::Pending),
        "not yet cancelled at the mall"
    );
    assert!(
        w.mails_of(NoticeKind::Receipt).is_empty(),
        "no receipt before the mall cancelled"
    );
    w.clock.advance(SignedDuration::from_mins(1));
    w.app.sweep().await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Cancel).await.state, ActionState::Done);
    assert_eq!(w.app.view(&token).await.unwrap().mall_cancel, Some(ActionState::Done));
    assert_eq!(
        w.mails_of(NoticeKind::Receipt).len(),
        1,
        "the receipt once the mall cancelled"
    );
}

fn bounced(hold: &Hold) -> MailReport {
    MailReport {
        message_id: "ses-0001".into(),
        outcome: MailOutcome::Bounced { permanent: true },
        at: "2026-11-23T03:06:00Z".parse().unwrap(),
        hold: Some(hold.id.clone()),
        kind: Some(NoticeKind::Notice),
        detail: "Permanent/General".into(),
    }
}

#[tokio::test]
async fn the_staff_mails_of_a_hold_the_mall_was_asked_for_say_so_and_give_no_steps() {
    let w = world(ScriptedActions::at(Mall::Yahoo));
    let mut first = order("1001");
    first.order_ref.mall = Mall::Yahoo;
    let mut second = order_at("1002", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Yahoo;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    let steps = crate::hold::mall_steps(Mall::Yahoo, HoldState::Held, crate::Language::Ja);
    let new_hold = &w.mails_of(NoticeKind::StaffNewHold)[0];
    assert!(
        new_hold
            .text
            .contains("に注文の保留（ステータスを「3 保留」に）を依頼しました"),
        "{}",
        new_hold.text
    );
    assert!(!new_hold.text.contains(steps), "no steps by hand: {}", new_hold.text);
    w.app.mail_reported(bounced(&hold)).await.unwrap();
    let undeliverable = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(undeliverable.text.contains("を依頼しました"), "{}", undeliverable.text);
    assert!(!undeliverable.text.contains(steps), "{}", undeliverable.text);
}

#[tokio::test]
async fn an_amazon_escalation_keeps_the_steps_since_amazon_cannot_hold() {
    let mall = ScriptedActions::default();
    let w = world(mall);
    let mut first = order("503-1111111-0000001");
    first.order_ref.mall = Mall::Amazon;
    let mut second = order_at("503-1111111-0000002", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Amazon;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    w.clock.set(hold.deadline);
    assert_eq!(w.app.sweep().await.unwrap().escalated, 1);
    let escalation = &w.mails_of(NoticeKind::StaffEscalated)[0];
    let steps = crate::hold::mall_steps(Mall::Amazon, HoldState::Held, crate::Language::Ja);
    assert!(escalation.text.contains(steps), "{}", escalation.text);
    assert!(!escalation.text.contains("を依頼しました"), "{}", escalation.text);
}

#[tokio::test]
async fn a_cancellation_the_mall_only_took_waits_for_its_confirmation_before_the_buyers_receipt() {
    let mall = ScriptedActions::at(Mall::Own)
        .then(Ok(Performed::default()))
        .then(Err(ActionError::Accepted {
            reference: Some("ORDER_EXT_API_CANCEL_ORDER_INFO_101".into()),
            message: "applied for: orderProgress 800".into(),
            check_after: SignedDuration::from_mins(5),
        }))
        .then(Err(ActionError::Accepted {
            reference: None,
            message: "still orderProgress 800".into(),
            check_after: SignedDuration::from_mins(5),
        }));
    let w = world(mall);
    let hold = w.held_pair().await;
    let token = w.cancel_token();
    w.app.answer(&token).await.unwrap();
    let taken = w.action(&hold, ActionKind::Cancel).await;
    assert_eq!(taken.state, ActionState::Pending);
    assert_eq!(taken.reference.as_deref(), Some("ORDER_EXT_API_CANCEL_ORDER_INFO_101"));
    assert!(w.mails_of(NoticeKind::Receipt).is_empty(), "not cancelled yet");
    assert_eq!(
        w.app.view(&token).await.unwrap().mall_cancel,
        Some(ActionState::Pending)
    );
    // Not looked at again before the mall's wait; then still only taken; then confirmed.
    w.clock.advance(SignedDuration::from_mins(1));
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 2);
    w.clock.advance(SignedDuration::from_mins(5));
    w.app.sweep().await.unwrap();
    assert!(w.mails_of(NoticeKind::Receipt).is_empty());
    w.clock.advance(SignedDuration::from_mins(10));
    w.app.sweep().await.unwrap();
    assert_eq!(w.action(&hold, ActionKind::Cancel).await.state, ActionState::Done);
    assert_eq!(
        w.mails_of(NoticeKind::Receipt).len(),
        1,
        "the receipt once the mall confirmed"
    );
    assert!(w.mails_of(NoticeKind::StaffActionRefused).is_empty());
    let events = w.events("1002").await;
    assert!(
        events
            .iter()
            .any(|e| e
                .contains("the mall took the cancellation (ORDER_EXT_API_CANCEL_ORDER_INFO_101), not confirmed yet")),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_mail_service_and_a_slow_mall_share_the_requests_budget_and_the_hold_waits_for_the_sweep() {
    let second = std::time::Duration::from_secs(1);
    let w = world(ScriptedActions::at(Mall::Own).slow(second * 10));
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    w.mailer.slow(second);
    let started = tokio::time::Instant::now();
    let outcome = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    // Paused time moves only while every task waits on a timer: this is the budget, not the wall clock.
    assert!(started.elapsed() <= REQUEST_SEND_BUDGET, "{:?}", started.elapsed());
    let IngestOutcome::Held { hold, notified: true } = outcome else {
        panic!("{outcome:?}")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    // The notice and the staff alert took two seconds; the mall's ten were cut short and count as an attempt
    // (the call may have reached the mall, so what the sweep then finds done is mallguard's own hold).
    let action = w.action(&hold, ActionKind::Hold).await;
    assert_eq!((action.state, action.attempts), (ActionState::Pending, 1));
    w.clock.advance(SignedDuration::from_mins(3));
    assert_eq!(
        w.app.sweep().await.unwrap().actions.done,
        1,
        "the sweep holds it at the mall"
    );
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Done);
}

#[tokio::test(start_paused = true)]
async fn the_staff_alert_of_a_refusal_shares_the_requests_budget_and_what_is_left_waits_for_the_sweep() {
    let mall = ScriptedActions::at(Mall::Own)
        .slow(std::time::Duration::from_millis(400))
        .then(Err(ActionError::Refused("the order is locked".into())));
    let w = world(mall);
    w.app.ingest(incoming(order("1001"))).await.unwrap();
    w.mailer.slow(std::time::Duration::from_millis(1500));
    let started = tokio::time::Instant::now();
    let outcome = w
        .app
        .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
        .await
        .unwrap();
    // Notice and staff alert (sent together) 1.5 s, the mall's refusal 0.4 s: the refusal's alert had the
    // 0.6 s left of the budget, not a budget of its own.
    assert_eq!(started.elapsed(), REQUEST_SEND_BUDGET);
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
    let IngestOutcome::Held { hold, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Refused);
    let alert = NoticeId::from_stored(format!(
        "{}.{}",
        ActionId::for_hold(&hold.id, ActionKind::Hold),
        NoticeKind::StaffActionRefused.as_str()
    ));
    let pending = w.store.notice(&alert).await.unwrap().unwrap();
    assert_eq!((pending.state, pending.attempts), (NoticeState::Pending, 0));
    w.mailer.slow(std::time::Duration::ZERO);
    w.clock.advance(SignedDuration::from_mins(3));
    w.app.sweep().await.unwrap();
    assert_eq!(w.mails_of(NoticeKind::StaffActionRefused).len(), 1);
}

#[tokio::test]
async fn a_cancellation_the_mall_refuses_because_the_order_shipped_settles_the_hold_as_shipped() {
    let w = world(
        ScriptedActions::at(Mall::Own)
            .then(Ok(Performed::default()))
            .then(Err(ActionError::Shipped("ShipStatus 3".into()))),
    );
    let hold = w.held_pair().await;
    w.clock.set(hold.deadline);
    w.app.sweep().await.unwrap();
    let settled = w.store.hold(&hold.id).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Shipped, "the mall's status wins");
    let held = w.store.order(&order("1002").order_ref).await.unwrap().unwrap();
    assert_eq!(held.order.status, OrderStatus::Shipped);
    assert!(
        w.mails_of(NoticeKind::Cancellation).is_empty(),
        "no cancellation mail to the buyer"
    );
    assert_eq!(w.mails_of(NoticeKind::StaffShipped).len(), 1);
    assert!(
        w.mails_of(NoticeKind::StaffActionRefused).is_empty(),
        "not a refusal to act on"
    );
    assert_eq!(w.action(&hold, ActionKind::Cancel).await.state, ActionState::Refused);
    let page = w.app.view(&w.cancel_token()).await.unwrap();
    assert_eq!(page.hold.state, HoldState::Shipped);
}

#[tokio::test]
async fn a_hold_the_mall_finds_too_late_settles_as_shipped_and_tells_the_staff() {
    let w = world(ScriptedActions::at(Mall::Own).then(Err(ActionError::Shipped("ShipStatus 3".into()))));
    let hold = w.held_pair().await;
    assert_eq!(w.store.hold(&hold.id).await.unwrap().unwrap().state, HoldState::Shipped);
    assert_eq!(w.mails_of(NoticeKind::StaffShipped).len(), 1);
    assert!(w.mails_of(NoticeKind::StaffActionRefused).is_empty());
    // At the deadline nothing is cancelled.
    w.clock.set(hold.deadline);
    w.app.sweep().await.unwrap();
    assert_eq!(w.mall.asked().len(), 1);
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
}

#[tokio::test]
async fn the_staff_mail_of_an_undeliverable_notice_gives_the_steps_when_the_mall_refused_the_hold() {
    let w = world(ScriptedActions::at(Mall::Yahoo).then(Err(ActionError::Refused(
        "Yahoo does not change an order from 1 予約中 to 3 保留".into(),
    ))));
    let mut first = order("1001");
    first.order_ref.mall = Mall::Yahoo;
    let mut second = order_at("1002", "2026-11-23T03:05:00Z");
    second.order_ref.mall = Mall::Yahoo;
    w.app.ingest(incoming(first)).await.unwrap();
    let IngestOutcome::Held { hold, .. } = w.app.ingest(incoming(second)).await.unwrap() else {
        panic!()
    };
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(w.action(&hold, ActionKind::Hold).await.state, ActionState::Refused);
    w.app.mail_reported(bounced(&hold)).await.unwrap();
    let steps = crate::hold::mall_steps(Mall::Yahoo, HoldState::Held, crate::Language::Ja);
    let undeliverable = &w.mails_of(NoticeKind::StaffUndeliverable)[0];
    assert!(
        undeliverable.text.contains(steps),
        "the steps by hand: {}",
        undeliverable.text
    );
    assert!(!undeliverable.text.contains("を依頼しました"), "{}", undeliverable.text);
}

#[tokio::test]
async fn the_buyers_cancellation_at_the_mall_reads_the_hold_and_orders_once() {
    let calls = |w: &World| w.store.calls.load(std::sync::atomic::Ordering::SeqCst);
    // The same answer without mall actions: the decision's reads and writes, the receipt sent.
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let plain = World {
        app: Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings()),
        store,
        mailer,
        clock,
        mall: Arc::new(ScriptedActions::at(Mall::Own)),
    };
    plain.held_pair().await;
    let before = calls(&plain);
    plain.app.answer(&plain.cancel_token()).await.unwrap();
    let without = calls(&plain) - before;

    let w = world(ScriptedActions::at(Mall::Own));
    w.held_pair().await;
    let before = calls(&w);
    w.app.answer(&w.cancel_token()).await.unwrap();
    let with = calls(&w) - before;
    assert_eq!(w.mails_of(NoticeKind::Receipt).len(), 1);
    // One write more (the cancel's outcome, with the receipt), and the page the answer shows reads the
    // cancel to say whether it is done; the hold and the orders are not read again for the receipt.
    assert_eq!(with, without + 2);
}

/// The cancellations a deadline sweep's page asks for are each claimed just before they run: a slow mall
/// cannot let the lease of the page's later ones lapse, and a second sweep meanwhile does not repeat them.
#[tokio::test]
async fn deadline_cancellations_of_one_page_are_performed_once_beside_an_overlapping_sweep() {
    let w = world(ScriptedActions::at(Mall::Own));
    let other = |mut o: crate::order::Order| {
        o.buyer.name = "佐藤 花子".into();
        o.buyer.kana = None;
        o.buyer.email = Some(crate::order::EmailAddress::parse("hanako@example.org").unwrap());
        o.buyer.phone = Some("080-9999-0000".into());
        o.ship_to.name = "佐藤 花子".into();
        o.ship_to.lines = vec!["大阪市北区梅田9-9-9".into()];
        o
    };
    let first = w.held_pair().await;
    w.app.ingest(incoming(other(order("2001")))).await.unwrap();
    let IngestOutcome::Held { hold: second, .. } = w
        .app
        .ingest(incoming(other(order_at("2002", "2026-11-23T03:05:00Z"))))
        .await
        .unwrap()
    else {
        panic!("the second buyer's duplicate is held too")
    };
    let second = w.store.hold(&second).await.unwrap().unwrap();
    w.clock.set(first.deadline.max(second.deadline));
    let asked_before = w.mall.asked().len();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    w.mall.gate(&[ActionKind::Cancel], gate.clone());
    let wait_for = |n: usize| asked_reaches(&w.mall, n);
    // Each cancellation takes the mall 90 seconds: the two together take longer than one lease.
    let app = w.app.clone();
    let sweeping = tokio::spawn(async move { app.sweep().await });
    wait_for(asked_before + 1).await;
    w.clock.advance(SignedDuration::from_secs(90));
    gate.add_permits(1);
    wait_for(asked_before + 2).await;
    w.clock.advance(SignedDuration::from_secs(60));
    // Another sweep now: the second cancellation was claimed 60 s ago, so it is not taken again (taken, it
    // would wait at the mall's gate: the bound turns that into a failure rather than a hang).
    let report = tokio::time::timeout(std::time::Duration::from_secs(10), w.app.sweep())
        .await
        .expect("the second sweep takes no cancellation the first is performing")
        .unwrap();
    assert_eq!(report.actions.done, 0, "{report:?}");
    gate.add_permits(1);
    sweeping.await.unwrap().unwrap();
    let cancels = w.mall.asked()[asked_before..]
        .iter()
        .filter(|(_, kind)| *kind == ActionKind::Cancel)
        .count();
    assert_eq!(cancels, 2, "each cancellation performed once");
}

/// A release the mall cannot do because the order shipped meanwhile is done, not a refusal: the staff are not
/// told a release failed for an order that went out as the buyer wanted.
#[tokio::test]
async fn a_release_of_an_order_that_shipped_is_done_without_a_refusal() {
    let w = world(
        ScriptedActions::at(Mall::Own)
            .then(Ok(Performed::default()))
            .then(Err(ActionError::Shipped("OrderStatus 5".into()))),
    );
    let hold = w.held_pair().await;
    let confirm = link_tokens(&w.mails_of(NoticeKind::Notice)[0])[0].clone();
    w.app.answer(&confirm).await.unwrap();
    let release = w.action(&hold, ActionKind::Release).await;
    assert_eq!(release.state, ActionState::Done);
    assert!(w.mails_of(NoticeKind::StaffActionRefused).is_empty());
}
