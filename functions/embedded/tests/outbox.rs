//! The outbox mailer writes mails a mail client opens: read one back and decode it as a client would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{Clock, MailError, Mailer, SystemClock};
use mallguard_domain::testing::ManualClock;
use mallguard_embedded::OutboxMailer;

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

fn notice_mail() -> Mail {
    Mail {
        to: address("taro.yamada@example.com"),
        subject: "【田中商店】ご注文の発送前確認のお願い（同じ商品のご注文が2件あります）".into(),
        text: "山田 太郎様\n\n田中商店でございます。同じ商品のご注文を2件いただいております。\n\
               両方とも発送する場合:\nhttp://127.0.0.1:9000/h/confirm_TOKEN-1\n\
               後のご注文をキャンセルする場合:\nhttp://127.0.0.1:9000/h/cancel_TOKEN-2\n"
            .into(),
        html: Some(
            "<p>山田 太郎様</p><p><a href=\"http://127.0.0.1:9000/h/confirm_TOKEN-1\">両方とも発送</a></p>".into(),
        ),
        tags: vec![
            ("hold".into(), "h0123456789abcdef0123".into()),
            ("kind".into(), "notice".into()),
        ],
    }
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = vec![];
    for group in clean.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | value(c) << (18 - 6 * i));
        for i in 0..group.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7): soft line breaks dropped, `=XX` decoded.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("not quoted-printable: ={hex}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A header's value, unfolded; encoded-words decoded (the white space between them dropped, RFC 2047 §6.2).
fn header(head: &str, name: &str) -> Option<String> {
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let line = unfolded.split("\r\n").find(|l| {
        l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name) && l[name.len()..].starts_with(':')
    })?;
    let value = line[name.len() + 1..].trim();
    if !value.starts_with("=?") {
        return Some(value.to_owned());
    }
    let mut bytes = vec![];
    for word in value.split_whitespace() {
        // The charset name is case-insensitive (RFC 2047 §2): `UTF-8` and `utf-8` are one.
        let b64 = word
            .get(..10)
            .filter(|prefix| prefix.eq_ignore_ascii_case("=?UTF-8?B?"))
            .and_then(|_| word[10..].strip_suffix("?="))
            .unwrap_or_else(|| panic!("not a UTF-8 base64 encoded-word: {word}"));
        let decoded = decode_base64(b64);
        std::str::from_utf8(&decoded).expect("each encoded-word holds whole characters");
        bytes.extend(decoded);
    }
    Some(String::from_utf8(bytes).unwrap())
}

struct Part {
    /// `type/subtype; charset=…`, lower case, unquoted.
    content_type: String,
    body: String,
}

/// One body part: its content type and its body, decoded from its transfer encoding as a client would.
fn part(head: &str, encoded: &str) -> Part {
    let content_type = header(head, "Content-Type")
        .expect("Content-Type")
        .to_ascii_lowercase()
        .replace('"', "");
    let body = match header(head, "Content-Transfer-Encoding").as_deref() {
        Some("base64") => {
            for line in encoded.split("\r\n") {
                assert!(line.len() <= 76, "base64 lines are wrapped at 76: {line}");
            }
            decode_base64(encoded)
        }
        Some("quoted-printable") => decode_quoted_printable(encoded),
        Some("7bit") | None => encoded.as_bytes().to_vec(),
        Some(other) => panic!("unexpected transfer encoding {other}"),
    };
    Part {
        content_type,
        body: String::from_utf8(body).expect("UTF-8"),
    }
}

/// The message's headers and the alternatives of its `multipart/alternative` body.
fn parts(message: &str) -> (String, Vec<Part>) {
    let (head, body) = message.split_once("\r\n\r\n").expect("a blank line after the headers");
    let content_type = header(head, "Content-Type").expect("Content-Type");
    assert!(content_type.starts_with("multipart/alternative;"), "{content_type}");
    let boundary = content_type
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .expect("a quoted boundary");
    let delimiter = format!("--{boundary}");
    let closing = format!("{delimiter}--\r\n");
    assert!(body.ends_with(&closing), "the body ends with the closing delimiter");
    let parts = body[..body.len() - closing.len()]
        .split(&format!("{delimiter}\r\n"))
        .skip(1)
        .map(|part_text| {
            let (head, encoded) = part_text.split_once("\r\n\r\n").expect("part headers");
            // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            part(head, encoded.strip_suffix("\r\n").unwrap_or(encoded))
        })
        .collect();
    (head.to_owned(), parts)
}

#[tokio::test]
async fn a_japanese_mail_is_written_as_an_eml_a_client_decodes_to_the_original_text() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("outbox");
    let mailer = OutboxMailer::new(&dir, address("noreply@tanaka-shop.example"));
    let mail = notice_mail();
    let id = mailer.send(&mail).await.unwrap();

    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "one file per mail, in a folder created on demand");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.ends_with(&format!("-notice-{id}.eml")), "{name}");
    assert!(
        name[..8].bytes().all(|b| b.is_ascii_digit()) && &name[8..9] == "T",
        "{name}"
    );

    let message = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        message.is_ascii(),
        "an RFC 5322 message is ASCII: non-ASCII text is encoded"
    );
    for line in message.split("\r\n") {
        assert!(line.len() < 78, "line longer than RFC 5322 allows: {line:?}");
    }
    assert!(!message.replace("\r\n", "").contains('\n'), "every line ends with CRLF");

    let (head, parts) = parts(&message);
    assert_eq!(header(&head, "From").as_deref(), Some("<noreply@tanaka-shop.example>"));
    assert_eq!(header(&head, "To").as_deref(), Some("<taro.yamada@example.com>"));
    assert_eq!(header(&head, "Subject").as_deref(), Some(mail.subject.as_str()));
    assert!(
        head.to_ascii_uppercase().contains("SUBJECT: =?UTF-8?B?"),
        "the subject is RFC 2047 encoded"
    );
    assert_eq!(header(&head, "Message-ID"), Some(format!("<{id}@mallguard.local>")));
    assert_eq!(header(&head, "MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(header(&head, "X-Mallguard-Kind").as_deref(), Some("notice"));
    assert_eq!(
        header(&head, "X-Mallguard-Hold").as_deref(),
        Some("h0123456789abcdef0123")
    );
    let date = header(&head, "Date").expect("Date");
    let sent = jiff::fmt::rfc2822::parse(&date).unwrap_or_else(|e| panic!("{date:?} is not RFC 2822: {e}"));
    let age = SystemClock.now().duration_since(sent.timestamp());
    assert!(age.abs() < jiff::SignedDuration::from_mins(5), "Date is now: {date}");

    assert_eq!(parts.len(), 2, "a text and an HTML alternative");
    assert_eq!(parts[0].content_type, "text/plain; charset=utf-8");
    assert_eq!(parts[1].content_type, "text/html; charset=utf-8");
    // Text travels in its canonical form, CRLF line ends (RFC 2045 §6.8); otherwise it is the original.
    assert_eq!(parts[0].body.replace("\r\n", "\n"), mail.text);
    assert_eq!(parts[1].body.replace("\r\n", "\n"), mail.html.unwrap());
}

#[tokio::test]
async fn mails_are_listed_in_the_order_sent_and_a_mail_without_html_or_kind_has_one_part() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path(), address("noreply@tanaka-shop.example"));
    let mut ids = vec![];
    for i in 0..5 {
        let mail = Mail {
            subject: format!("Quarantined payload {i}"),
            html: None,
            tags: vec![],
            ..notice_mail()
        };
        ids.push(mailer.send(&mail).await.unwrap());
    }
    let files = eml_files(dir.path());
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 5);
    for (name, id) in names.iter().zip(&ids) {
        assert!(
            name.ends_with(&format!("-mail-{id}.eml")),
            "sorted names follow the sending order: {names:?}"
        );
    }
    let message = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(header(&message, "Subject").as_deref(), Some("Quarantined payload 0"));
    let (_, parts) = parts(&message);
    assert_eq!(parts.len(), 1, "no HTML, only the text part");
    assert_eq!(parts[0].content_type, "text/plain; charset=utf-8");
    assert_eq!(parts[0].body.replace("\r\n", "\n"), notice_mail().text);
}

#[tokio::test]
async fn a_folder_that_cannot_be_written_is_a_transient_failure() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"a file where the outbox folder should be").unwrap();
    let mailer = OutboxMailer::new(&blocked, address("noreply@tanaka-shop.example"));
    let err = mailer.send(&notice_mail()).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn the_date_and_the_file_name_are_the_time_of_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01.5Z"));
    let mailer = OutboxMailer::new(dir.path(), address("noreply@tanaka-shop.example")).with_clock(clock.clone());
    mailer.send(&notice_mail()).await.unwrap();
    clock.advance(jiff::SignedDuration::from_hours(24));
    mailer.send(&notice_mail()).await.unwrap();

    let files = eml_files(dir.path());
    let names: Vec<&str> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names[0].starts_with("20261123T030501500000Z-notice-"), "{names:?}");
    assert!(names[1].starts_with("20261124T030501500000Z-notice-"), "{names:?}");
    let dates: Vec<String> = files
        .iter()
        .map(|f| header(&std::fs::read_to_string(f).unwrap(), "Date").expect("Date"))
        .collect();
    // In JST, as Japanese readers expect.
    assert_eq!(
        dates,
        ["Mon, 23 Nov 2026 12:05:01 +0900", "Tue, 24 Nov 2026 12:05:01 +0900"]
    );
}

/// A mail holds the buyer's name and address: other local users must not read it, whatever the umask,
/// and a folder an older version left open is closed.
#[cfg(unix)]
#[tokio::test]
async fn mails_and_their_folder_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();

    // A new folder, two levels deep.
    let fresh = dir.path().join("data").join("outbox");
    let mailer = OutboxMailer::new(&fresh, address("noreply@tanaka-shop.example"));
    mailer.send(&notice_mail()).await.unwrap();
    assert_eq!(mode(&fresh), 0o700);
    for file in eml_files(&fresh) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }

    // A folder left open by an older version.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mailer = OutboxMailer::new(&open, address("noreply@tanaka-shop.example"));
    mailer.send(&notice_mail()).await.unwrap();
    assert_eq!(mode(&open), 0o700, "the folder is closed");
    let files = eml_files(&open);
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
}

/// The folder is made with the first mail, not checked again for each; one removed meanwhile (a developer
/// clearing it out) is made again by the next mail, which is written all the same.
#[tokio::test]
async fn a_folder_removed_between_two_mails_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = OutboxMailer::new(&outbox, address("noreply@tanaka-shop.example"));
    mailer.send(&notice_mail()).await.unwrap();
    std::fs::remove_dir_all(&outbox).unwrap();
    mailer.send(&notice_mail()).await.unwrap();
    assert_eq!(eml_files(&outbox).len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
