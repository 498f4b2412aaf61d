//! The Rakuten mailer against the SMTP sink on loopback: what goes on the wire, how failures map.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{MailError, Mailer};
use mallguard_smtp::sink::{AuthMechanism, ReceivedMail, SmtpSink, TEST_CA};
use mallguard_smtp::{RakutenSmtpMailer, RakutenSmtpSettings, SettingsError, Tls};

const USER: &str = "shop-123456";
const PASSWORD: &str = "s3cret-pw";
const MASKED: &str = "9ca9e8e4ef09fe8d9a239a6af95b9bc6s9@pc.fw.rakuten.ne.jp";
const SHOP: &str = "info@tanaka-cha.example";
const SHOP_NAME: &str = "田中商店（静岡・お茶の専門店）";
const SUBJECT: &str = "【重要】ご注文の重複確認のお願い（注文番号 1001 と 1002 は同じご注文ですか？）田中商店";
const TEXT: &str = "山田 太郎 様\n\n同じ内容のご注文が2件ございました。\n.から始まる行\n\
    ご確認ください：\nhttps://confirm.example/h/abc_DEF-1\n\n田中商店\n";
const HTML: &str = "<p>山田 太郎 様</p><p>同じ内容のご注文が2件ございました。</p>";

fn address(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn settings(host: &str, port: u16, password: &str) -> RakutenSmtpSettings {
    RakutenSmtpSettings {
        host: host.to_owned(),
        port,
        user: USER.to_owned(),
        password: password.into(),
        from: address(SHOP),
        from_name: Some(SHOP_NAME.to_owned()),
        reply_to: Some(address("support@tanaka-cha.example")),
        tls: Tls::None,
        extra_roots: vec![],
        timeout: Duration::from_secs(10),
    }
}

fn mailer(sink: &SmtpSink) -> RakutenSmtpMailer {
    RakutenSmtpMailer::new(settings(&sink.host(), sink.port(), PASSWORD)).unwrap()
}

fn notice() -> Mail {
    Mail {
        to: address(MASKED),
        subject: SUBJECT.to_owned(),
        text: TEXT.to_owned(),
        html: Some(HTML.to_owned()),
        tags: vec![("hold".into(), "h-1".into()), ("kind".into(), "notice".into())],
    }
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

// ---- A small reader of what the mailer writes: headers, RFC 2047 words, MIME parts. ----

struct Parsed {
    /// Unfolded headers, names as written.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Parsed {
    fn new(raw: &[u8]) -> Self {
        let raw = std::str::from_utf8(raw).expect("the message is ASCII");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a blank line after the headers");
        let mut headers: Vec<(String, String)> = vec![];
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers
                    .last_mut()
                    .expect("a folded line follows a header")
                    .1
                    .push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("a header line");
                headers.push((name.to_owned(), value.trim_start().to_owned()));
            }
        }
        Self {
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn header(&self, name: &str) -> &str {
        match self.all(name).as_slice() {
            [one] => one,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// The parts of a multipart body, each parsed.
    fn parts(&self) -> Vec<Parsed> {
        let content_type = self.header("Content-Type");
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("a boundary")
            .trim_matches('"');
        let body = std::str::from_utf8(&self.body).unwrap();
        let delimiter = format!("--{boundary}");
        let mut sections: Vec<&str> = body.split(delimiter.as_str()).collect();
        assert!(sections.pop().unwrap().starts_with("--"), "a closing delimiter");
        sections
            .into_iter()
            .skip(1)
            .map(|s| {
                let s = s.strip_prefix("\r\n").expect("CRLF after a delimiter");
                let s = s.strip_suffix("\r\n").expect("CRLF before a delimiter");
                Parsed::new(s.as_bytes())
            })
            .collect()
    }

    /// The body, its transfer encoding undone, as UTF-8.
    fn decoded_text(&self) -> String {
        let encoding = self
            .all("Content-Transfer-Encoding")
            .first()
            .copied()
            .unwrap_or("7bit")
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                let compact: String = std::str::from_utf8(&self.body)
                    .unwrap()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                STANDARD.decode(compact).expect("base64")
            }
            "quoted-printable" => quoted_printable(&self.body),
            "7bit" | "8bit" => self.body.clone(),
            other => panic!("unexpected encoding {other}"),
        };
        String::from_utf8(bytes).expect("UTF-8")
    }
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' if body[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A header value with its RFC 2047 encoded-words decoded (whitespace between two words dropped).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    // The bytes of a run of adjacent words: a character may be split between two of them.
    let mut bytes: Vec<u8> = vec![];
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let mut pieces = rest[start + 2..].splitn(3, '?');
        let (charset, encoding, tail) = (pieces.next().unwrap(), pieces.next().unwrap(), pieces.next().unwrap());
        let end = tail.find("?=").expect("an encoded-word ends with ?=");
        assert!(charset.eq_ignore_ascii_case("utf-8"), "{charset}");
        let decoded = match encoding {
            "B" | "b" => STANDARD.decode(&tail[..end]).expect("base64 word"),
            "Q" | "q" => quoted_printable(tail[..end].replace('_', " ").as_bytes()),
            other => panic!("encoding {other}"),
        };
        let adjacent = !bytes.is_empty() && before.trim().is_empty();
        if !adjacent {
            out.push_str(&String::from_utf8(std::mem::take(&mut bytes)).expect("whole characters"));
            out.push_str(before);
        }
        bytes.extend(decoded);
        rest = &tail[end + 2..];
    }
    out.push_str(&String::from_utf8(bytes).expect("whole characters"));
    out.push_str(rest);
    out
}

/// `name <address>` → (decoded name, address).
fn mailbox(value: &str) -> (String, String) {
    let (name, address) = value.rsplit_once('<').expect("an address in brackets");
    let name = decode_words(name.trim());
    let name = name.trim_matches('"').to_owned();
    (name, address.trim_end_matches('>').to_owned())
}

fn only_message(sink: &SmtpSink) -> ReceivedMail {
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.into_iter().next().unwrap()
}

// ---- The tests. ----

#[tokio::test]
async fn a_notice_goes_through_with_the_shops_login_and_address_to_the_masked_buyer() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let id = mailer(&sink).send(&notice()).await.unwrap();

    let got = only_message(&sink);
    assert_eq!(got.user.as_deref(), Some(USER));
    assert_eq!(got.from, SHOP, "the envelope sender is the shop's registered address");
    assert_eq!(got.recipients, vec![MASKED.to_owned()]);
    assert_eq!(id, "SINK000001", "the queue id of the final 250");
    assert!(sink.commands().contains(&"AUTH".to_owned()));

    assert!(got.data.is_ascii());
    let text = got.text();
    for line in text.split("\r\n") {
        assert!(line.len() <= 78, "line too long: {line:?}");
    }
    let message = Parsed::new(&got.data);
    assert_eq!(mailbox(message.header("From")), (SHOP_NAME.to_owned(), SHOP.to_owned()));
    assert!(
        !message.header("From").contains("\"=?"),
        "no encoded-word inside a quoted string: {}",
        message.header("From")
    );
    assert_eq!(message.header("To").trim_matches(['<', '>']), MASKED);
    assert_eq!(
        message.header("Reply-To").trim_matches(['<', '>']),
        "support@tanaka-cha.example"
    );
    assert_eq!(decode_words(message.header("Subject")), SUBJECT);
    let message_id = message.header("Message-ID");
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@tanaka-cha.example>"),
        "{message_id}"
    );
    message.header("Date");
    assert!(message.header("Content-Type").starts_with("multipart/alternative"));
    assert!(
        message
            .headers
            .iter()
            .all(|(name, _)| !name.to_ascii_lowercase().starts_with("x-mallguard")),
        "the tags stay out of the message"
    );
    assert!(message.all("Bcc").is_empty());

    let parts = message.parts();
    assert_eq!(parts.len(), 2);
    assert!(
        parts[0]
            .header("Content-Type")
            .to_ascii_lowercase()
            .starts_with("text/plain; charset=utf-8")
    );
    assert_eq!(parts[0].decoded_text(), crlf(TEXT));
    assert!(
        parts[1]
            .header("Content-Type")
            .to_ascii_lowercase()
            .starts_with("text/html; charset=utf-8")
    );
    assert_eq!(parts[1].decoded_text(), HTML);
}

#[tokio::test]
async fn without_html_the_text_is_the_only_alternative() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mut mail = notice();
    mail.html = None;
    mailer(&sink).send(&mail).await.unwrap();
    let message = Parsed::new(&only_message(&sink).data);
    let parts = message.parts();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].decoded_text(), crlf(TEXT));
}

#[tokio::test]
async fn an_ascii_body_with_leading_dots_arrives_whole() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mut mail = notice();
    mail.text = "Dear buyer,\n.\n..two dots\n.one dot\nend\n".to_owned();
    mail.html = None;
    mailer(&sink).send(&mail).await.unwrap();
    let message = Parsed::new(&only_message(&sink).data);
    assert_eq!(message.parts()[0].decoded_text(), crlf(&mail.text));
}

#[tokio::test]
async fn auth_login_is_used_when_the_server_offers_only_that() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    sink.offer_auth(&[AuthMechanism::Login]);
    mailer(&sink).send(&notice()).await.unwrap();
    assert_eq!(only_message(&sink).user.as_deref(), Some(USER));
}

#[tokio::test]
async fn without_a_queue_id_the_message_id_is_returned() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    sink.queue_ids(false);
    let id = mailer(&sink).send(&notice()).await.unwrap();
    let message = Parsed::new(&only_message(&sink).data);
    assert_eq!(format!("<{id}>"), message.header("Message-ID"));
}

#[tokio::test]
async fn a_line_break_in_the_subject_cannot_add_a_header() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mut mail = notice();
    mail.subject = "hi\r\nBcc: someone@example.com".to_owned();
    mailer(&sink).send(&mail).await.unwrap();
    let got = only_message(&sink);
    assert_eq!(got.recipients, vec![MASKED.to_owned()]);
    let message = Parsed::new(&got.data);
    assert!(message.all("Bcc").is_empty());
    assert_eq!(decode_words(message.header("Subject")), "hiBcc: someone@example.com");
}

#[tokio::test]
async fn a_wrong_password_is_rejected_as_a_refused_login() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mailer = RakutenSmtpMailer::new(settings(&sink.host(), sink.port(), "wrong")).unwrap();
    match mailer.send(&notice()).await {
        Err(MailError::Rejected(reason)) => {
            assert!(reason.contains("login") && reason.contains("535"), "{reason}");
            assert!(!reason.contains("wrong"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(sink.messages().is_empty());
    assert!(!sink.commands().contains(&"MAIL".to_owned()));
}

#[tokio::test]
async fn a_4xx_is_transient_and_the_next_send_goes_through() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mailer = mailer(&sink);
    sink.answer_4xx_once();
    match mailer.send(&notice()).await {
        Err(MailError::Transient(reason)) => assert!(reason.contains("451"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(sink.messages().is_empty());
    mailer.send(&notice()).await.unwrap();
    only_message(&sink);
}

#[tokio::test]
async fn a_refused_recipient_is_rejected_without_naming_the_address() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    sink.refuse_next_recipient();
    match mailer(&sink).send(&notice()).await {
        Err(MailError::Rejected(reason)) => {
            assert!(reason.contains("550"), "{reason}");
            assert!(reason.contains("Recipient address rejected"), "{reason}");
            assert!(!reason.contains('@') && !reason.contains("9ca9e8e4"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_dropped_connection_is_transient_and_the_next_send_goes_through() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mailer = mailer(&sink);
    sink.drop_connection_once();
    match mailer.send(&notice()).await {
        Err(MailError::Transient(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(sink.messages().is_empty());
    mailer.send(&notice()).await.unwrap();
    only_message(&sink);
    assert_eq!(sink.connections(), 2, "a new connection for each send");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_as_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stream);
    });
    let mut settings = settings("127.0.0.1", port, PASSWORD);
    settings.timeout = Duration::from_millis(300);
    let started = Instant::now();
    match RakutenSmtpMailer::new(settings).unwrap().send(&notice()).await {
        Err(MailError::Transient(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    silent.abort();
}

#[tokio::test]
async fn no_server_listening_is_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    match RakutenSmtpMailer::new(settings("127.0.0.1", port, PASSWORD))
        .unwrap()
        .send(&notice())
        .await
    {
        Err(MailError::Transient(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn with_tls_required_a_server_without_starttls_gets_neither_the_login_nor_the_mail() {
    let sink = SmtpSink::start(USER, PASSWORD).await.unwrap();
    let mut settings = settings(&sink.host(), sink.port(), PASSWORD);
    settings.tls = Tls::Required;
    match RakutenSmtpMailer::new(settings).unwrap().send(&notice()).await {
        Err(MailError::Transient(reason)) => assert!(reason.contains("STARTTLS"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let commands = sink.commands();
    assert!(
        !commands.contains(&"AUTH".to_owned()) && !commands.contains(&"MAIL".to_owned()),
        "{commands:?}"
    );
}

#[tokio::test]
async fn with_tls_required_the_login_and_the_mail_go_only_after_starttls_to_a_trusted_certificate() {
    let sink = SmtpSink::start_with_starttls(USER, PASSWORD).await.unwrap();
    let mut settings = settings(&sink.host(), sink.port(), PASSWORD);
    settings.tls = Tls::Required;
    settings.extra_roots = vec![TEST_CA.to_vec()];
    let id = RakutenSmtpMailer::new(settings).unwrap().send(&notice()).await.unwrap();
    assert!(!id.is_empty());
    let mail = only_message(&sink);
    assert!(mail.encrypted, "the mail came over TLS");
    assert_eq!(mail.user.as_deref(), Some(USER));
    assert_eq!(mail.recipients, [MASKED]);
    let commands = sink.commands();
    let at = |verb: &str| commands.iter().position(|c| c == verb);
    assert!(
        at("STARTTLS").is_some() && at("STARTTLS") < at("AUTH"),
        "STARTTLS before the login: {commands:?}"
    );
}

#[tokio::test]
async fn with_tls_required_a_certificate_nobody_vouches_for_gets_neither_the_login_nor_the_mail() {
    let sink = SmtpSink::start_with_starttls(USER, PASSWORD).await.unwrap();
    let mut settings = settings(&sink.host(), sink.port(), PASSWORD);
    // The webpki roots only: the sink's test CA is not among them.
    settings.tls = Tls::Required;
    assert!(RakutenSmtpMailer::new(settings).unwrap().send(&notice()).await.is_err());
    assert!(sink.messages().is_empty());
    let commands = sink.commands();
    assert!(
        commands.contains(&"STARTTLS".to_owned()) && !commands.contains(&"AUTH".to_owned()),
        "{commands:?}"
    );
}

#[test]
fn plain_text_to_a_host_off_loopback_is_refused_at_construction() {
    for host in [
        "sub.fw.rakuten.ne.jp",
        "10.0.0.1",
        "localhost.example.com",
        "[2001:db8::1]",
    ] {
        match RakutenSmtpMailer::new(settings(host, 587, PASSWORD)) {
            Err(SettingsError::PlainTextToRemoteHost { host: refused }) => assert_eq!(refused, host),
            other => panic!("{host}: {other:?}"),
        }
    }
    for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
        assert!(RakutenSmtpMailer::new(settings(host, 2525, PASSWORD)).is_ok(), "{host}");
    }
}

#[test]
fn other_unusable_settings_are_refused_at_construction() {
    let mut s = settings("127.0.0.1", 2525, PASSWORD);
    s.user = " ".into();
    assert_eq!(RakutenSmtpMailer::new(s).unwrap_err(), SettingsError::EmptyUser);
    let mut s = settings("127.0.0.1", 2525, PASSWORD);
    s.host = String::new();
    assert_eq!(RakutenSmtpMailer::new(s).unwrap_err(), SettingsError::EmptyHost);
    let mut s = settings("127.0.0.1", 2525, PASSWORD);
    s.port = 0;
    assert_eq!(RakutenSmtpMailer::new(s).unwrap_err(), SettingsError::ZeroPort);
    let mut s = settings("127.0.0.1", 2525, PASSWORD);
    s.timeout = Duration::ZERO;
    assert_eq!(RakutenSmtpMailer::new(s).unwrap_err(), SettingsError::ZeroTimeout);
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let settings = settings("127.0.0.1", 2525, PASSWORD);
    let mailer = RakutenSmtpMailer::new(settings.clone()).unwrap();
    for shown in [format!("{settings:?}"), format!("{mailer:?}")] {
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
}
