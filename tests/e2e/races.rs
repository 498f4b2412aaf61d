use mallguard_domain::ports::roles::*;
use mallguard_tests::{event, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_copies_of_an_order_pair_give_exactly_one_hold() {
    let app = std::sync::Arc::new(spawn_app().await);
    let first = event("generic/order.json");
    let second = event("generic/order-duplicate.json");
    let mut tasks = vec![];
    for i in 0..40 {
        let app = app.clone();
        let body = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let response = app.post_generic(&body).await;
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.unwrap();
            body["status"].as_str().unwrap().to_owned()
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| *s == "held").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "accepted").count(), 1, "{statuses:?}");
    assert_eq!(app.store.holds(false).await.unwrap().len(), 1);
    let notices = app
        .outbox()
        .into_iter()
        .filter(|m| m.subject.contains("ご確認のお願い"))
        .count();
    assert_eq!(notices, 1, "one notice, however many copies arrived");
}
