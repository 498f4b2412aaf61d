//! `send --print-envelope`: the Lambda event a deployed ingest function receives, signed now with the data
//! folder's secrets, so a sample can be invoked today (`cargo lambda invoke --data-file`), not only at the
//! instant a committed envelope was signed.

mod common;

use common::{event, mallguard, start, stdout};

/// Reads an envelope as the Lambda runtime does and replays it against a running server over HTTP.
async fn replay(envelope: &str, url: &str) -> (u16, String) {
    let request = lambda_http::request::from_str(envelope).expect("a Lambda Function URL event");
    let (parts, body) = request.into_parts();
    let client = reqwest::Client::new();
    let mut http = client.request(parts.method.clone(), format!("{url}{}", parts.uri.path()));
    for (name, value) in &parts.headers {
        if name != "host" {
            http = http.header(name.as_str(), value.to_str().unwrap());
        }
    }
    let response = http.body(body.to_vec()).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_printed_envelope_is_signed_now_and_accepted_by_the_ingest_route() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let (_server, url) = start(&data);
    for (sample, status) in [
        ("generic/order.json", "accepted"),
        ("generic/order-duplicate.json", "held"),
        // The Shopify sample is the same buyer buying the same item: held across malls.
        ("shopify/orders-create.json", "held"),
    ] {
        let printed = stdout(&mallguard(&data, &["send", &event(sample), "--print-envelope"]));
        let envelope: serde_json::Value = serde_json::from_str(&printed).expect("JSON");
        assert_eq!(envelope["version"], "2.0");
        assert_eq!(envelope["requestContext"]["http"]["method"], "POST");
        let (code, body) = replay(&printed, &url).await;
        assert_eq!(code, 200, "{sample}: {body}");
        assert!(body.contains(status), "{sample}: {body}");
    }
    // The committed generic envelope was signed once, long ago: outside the five minutes it is refused,
    // which is why the printed one exists.
    let committed = std::fs::read_to_string(event("lambda/ingest-generic.json")).unwrap();
    let (code, _) = replay(&committed, &url).await;
    assert_eq!(code, 401);
}
