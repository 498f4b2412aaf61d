//! The SES mailer against moto in server mode (started by `bash tests/run`), and against a fake SES on
//! a loopback port for what moto does not keep (tags, reply-to, charsets, configuration set) and the
//! answers moto never gives (throttling, 5xx, silence).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use mallguard_aws::ses::SesMailer;
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{MailError, Mailer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn moto() -> String {
    std::env::var("MALLGUARD_TEST_SES")
        .unwrap_or_else(|_| panic!("moto is not running: run the tests with `bash tests/run`"))
}

/// A client of `endpoint` that tries once and gives up after a few seconds: a test of a failure must
/// see the failure, not the SDK's retries of it.
async fn client(endpoint: &str) -> aws_sdk_sesv2::Client {
    let config = mallguard_aws::sdk::loader()
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .load()
        .await;
    aws_sdk_sesv2::Client::new(&config)
}

fn address(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

/// A sender no other test uses: moto's state is shared by every test of the run.
fn unique_sender(test: &str) -> EmailAddress {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    address(&format!("noreply-{test}-{nanos}@shop.example"))
}

async fn verify(client: &aws_sdk_sesv2::Client, sender: &EmailAddress) {
    client
        .create_email_identity()
        .email_identity(sender.as_str())
        .send()
        .await
        .expect("moto creates the identity");
}

fn notice_mail(html: Option<&str>) -> Mail {
    Mail {
        to: address("buyer@docomo.ne.jp"),
        subject: "【田中商店】ご注文の発送前確認のお願い".into(),
        text: "田中 様\n\nご注文が重複していないかご確認ください。\nhttp://127.0.0.1:9000/h/abc\n".into(),
        html: html.map(str::to_owned),
        tags: vec![("kind".into(), "notice".into()), ("hold".into(), "h01JDEXAMPLE".into())],
    }
}

/// Moto's record of the message SES accepted with this id.
async fn sent_by_moto(endpoint: &str, message_id: &str) -> Value {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = data["ses"]["Message"].as_array().expect("moto lists sent messages");
    messages
        .iter()
        .find(|m| m["id"] == message_id)
        .unwrap_or_else(|| panic!("moto has no message {message_id}: {messages:?}"))
        .clone()
}

#[tokio::test]
async fn a_notice_goes_out_through_ses_with_its_subject_bodies_and_recipient_and_the_message_id_comes_back() {
    let endpoint = moto();
    let client = client(&endpoint).await;
    let sender = unique_sender("notice");
    verify(&client, &sender).await;
    let mailer = SesMailer::new(client, sender.clone(), None)
        .with_display_name("田中商店")
        .with_reply_to(address("support@shop.example"));

    // Moto keeps one body per message (the HTML one when there is one): send with and without HTML.
    let html = "<p>田中 様</p><p>ご注文が重複していないかご確認ください。</p>";
    let with_html = notice_mail(Some(html));
    let id = mailer.send(&with_html).await.expect("SES accepts the mail");
    let sent = sent_by_moto(&endpoint, &id).await;
    assert_eq!(sent["subject"], with_html.subject.as_str());
    assert_eq!(sent["body"], html);
    assert_eq!(
        sent["destinations"]["ToAddresses"],
        serde_json::json!(["buyer@docomo.ne.jp"])
    );
    assert_eq!(
        sent["source"],
        format!("=?UTF-8?B?55Sw5Lit5ZWG5bqX?= <{sender}>").as_str(),
        "the shop's name, encoded, before the sender"
    );

    let text_only = notice_mail(None);
    let id = mailer.send(&text_only).await.expect("SES accepts the mail");
    let sent = sent_by_moto(&endpoint, &id).await;
    assert_eq!(sent["body"], text_only.text.as_str());
    assert_eq!(sent["subject"], text_only.subject.as_str());
}

#[tokio::test]
async fn a_send_from_an_unverified_sender_is_rejected_without_naming_the_address() {
    let endpoint = moto();
    let sender = unique_sender("unverified");
    let mailer = SesMailer::new(client(&endpoint).await, sender.clone(), None);
    let err = mailer.send(&notice_mail(None)).await.unwrap_err();
    // Moto answers 400 MessageRejected "Email address not verified <sender>".
    let MailError::Rejected(reason) = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert!(reason.starts_with("MessageRejected: "), "{reason}");
    assert!(!reason.contains(sender.as_str()), "no address in the reason: {reason}");
}

#[tokio::test]
async fn a_send_to_an_unreachable_endpoint_is_transient() {
    // Port 9 (discard) has no listener on a test machine: the connection is refused at once.
    let mailer = SesMailer::new(
        client("http://127.0.0.1:9").await,
        address("noreply@shop.example"),
        None,
    );
    let err = mailer.send(&notice_mail(None)).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
}

/// A fake SES: answers every request with `status`, `headers` and `body`, and keeps the request bodies.
async fn fake_ses(status: u16, headers: &'static str, body: &'static str) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let request = read_request(&mut socket).await;
                if status == 0 {
                    // Say nothing, as a stuck service does.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                if let Ok(json) = serde_json::from_slice(&request) {
                    keep.lock().unwrap().push(json);
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (endpoint, seen)
}

/// Reads one HTTP/1.1 request and returns its body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![];
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return vec![];
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return buf[end + 4..].to_vec();
        }
    }
}

#[tokio::test]
async fn the_send_email_request_carries_utf8_bodies_sanitised_tags_the_reply_to_and_the_configuration_set() {
    let (endpoint, seen) = fake_ses(200, "", r#"{"MessageId":"fake-0001"}"#).await;
    let mailer = SesMailer::new(
        client(&endpoint).await,
        address("noreply@shop.example"),
        Some("mallguard-events".into()),
    )
    .with_display_name("Tanaka Shop")
    .with_reply_to(address("support@shop.example"));
    let mut mail = notice_mail(Some("<p>本文</p>"));
    mail.tags.push(("staff note".into(), "発送 待ち/urgent".into()));
    assert_eq!(mailer.send(&mail).await.unwrap(), "fake-0001");

    let request = seen.lock().unwrap().pop().expect("the fake SES saw the request");
    assert_eq!(request["FromEmailAddress"], "\"Tanaka Shop\" <noreply@shop.example>");
    assert_eq!(
        request["Destination"]["ToAddresses"],
        serde_json::json!(["buyer@docomo.ne.jp"])
    );
    assert_eq!(request["ReplyToAddresses"], serde_json::json!(["support@shop.example"]));
    assert_eq!(request["ConfigurationSetName"], "mallguard-events");
    let simple = &request["Content"]["Simple"];
    assert_eq!(simple["Subject"]["Data"], mail.subject.as_str());
    assert_eq!(simple["Body"]["Text"]["Data"], mail.text.as_str());
    assert_eq!(simple["Body"]["Html"]["Data"], "<p>本文</p>");
    for part in [&simple["Subject"], &simple["Body"]["Text"], &simple["Body"]["Html"]] {
        assert_eq!(part["Charset"], "UTF-8");
    }
    assert_eq!(
        request["EmailTags"],
        serde_json::json!([
            {"Name": "kind", "Value": "notice"},
            {"Name": "hold", "Value": "h01JDEXAMPLE"},
            {"Name": "staff_note", "Value": "______urgent"},
        ])
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_transient_and_a_refusal_is_rejected() {
    let cases: [(u16, &str, &str, bool); 5] = [
        (
            429,
            "x-amzn-errortype: TooManyRequestsException\r\n",
            r#"{"message":"slow down"}"#,
            true,
        ),
        (
            400,
            "x-amzn-errortype: LimitExceededException\r\n",
            r#"{"message":"daily quota"}"#,
            true,
        ),
        (
            500,
            "x-amzn-errortype: InternalFailure\r\n",
            r#"{"message":"oops"}"#,
            true,
        ),
        (503, "", "<html>Service Unavailable</html>", true),
        (
            403,
            "x-amzn-errortype: SendingPausedException\r\n",
            r#"{"message":"sending paused"}"#,
            false,
        ),
    ];
    for (status, headers, body, transient) in cases {
        let (endpoint, _) = fake_ses(status, headers, body).await;
        let mailer = SesMailer::new(client(&endpoint).await, address("noreply@shop.example"), None);
        let err = mailer.send(&notice_mail(None)).await.unwrap_err();
        assert_eq!(
            matches!(err, MailError::Transient(_)),
            transient,
            "{status} {headers}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_send_ses_does_not_answer_in_time_is_transient() {
    let (endpoint, _) = fake_ses(0, "", "").await;
    let mailer = SesMailer::new(client(&endpoint).await, address("noreply@shop.example"), None);
    let started = std::time::Instant::now();
    let err = mailer.send(&notice_mail(None)).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_deployments_client_gives_up_on_a_silent_ses_so_the_notice_waits_for_the_sweep() {
    let (endpoint, _) = fake_ses(0, "", "").await;
    let sdk = mallguard_aws::sdk::loader().endpoint_url(&endpoint).load().await;
    let mailer = SesMailer::new(
        mallguard_aws::config::ses_client(&sdk),
        address("noreply@shop.example"),
        None,
    );
    let err = mailer.send(&notice_mail(None)).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("time"), "says it timed out: {err}");
}
