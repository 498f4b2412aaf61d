//! The outbox mailer: instead of sending, writes each mail as an RFC 5322 `.eml` file into a folder,
//! where any mail client opens it. The local stack uses it so a developer can read what a buyer would
//! receive and click its links; the links are also printed in the log.
//!
//! The message is put together by `mail-builder`: headers in ASCII (the subject and any non-ASCII tag
//! as RFC 2047 encoded-words), and a `multipart/alternative` body whose text part (and HTML part, when
//! the mail has one) is UTF-8, in the transfer encoding `mail-builder` finds shortest (base64 for
//! Japanese text).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::{self, TimeZone};
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{Clock, MailError, Mailer, SystemClock};

/// Tells apart messages written in the same microsecond by the same process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A [`Mailer`] that writes every message into a folder as an `.eml` file.
///
/// Files are named `{UTC time}-{kind}-{message id}.eml` (e.g. `20261123T030000123456Z-notice-….eml`),
/// so `ls` lists them in the order they were sent. The time is the mailer's clock's: the system clock
/// unless [`with_clock`](Self::with_clock) sets another.
#[derive(Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: EmailAddress,
    clock: Arc<dyn Clock>,
    /// The folder was made (or closed to others) by an earlier mail: not checked again for every mail.
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer")
            .field("dir", &self.dir)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl OutboxMailer {
    /// Writes into `dir` (created on the first mail when missing), with `from` as the sender.
    pub fn new(dir: impl Into<PathBuf>, from: EmailAddress) -> Self {
        Self {
            dir: dir.into(),
            from,
            clock: Arc::new(SystemClock),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Takes "now" from `clock`: the `Date` header, the file name and the message id.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The folder the mails are written into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one message, making the folder first when no mail has yet (or when it went meanwhile).
    fn write(&self, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
        if !self.ready.load(Ordering::Relaxed) {
            private_dir(&self.dir)?;
            self.ready.store(true, Ordering::Relaxed);
        }
        match write_file(&self.dir, name, contents) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                private_dir(&self.dir)?;
                write_file(&self.dir, name, contents)
            }
            written => written,
        }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let now = self.clock.now();
        let id = message_id(now);
        let kind = mail
            .tags
            .iter()
            .find(|(name, _)| name == "kind")
            .map(|(_, value)| file_safe(value))
            .filter(|kind| !kind.is_empty())
            .unwrap_or_else(|| "mail".to_owned());
        let name = format!("{}-{kind}-{id}.eml", compact_utc(now));
        let message = render(mail, &self.from, &id, now)
            .map_err(|e| MailError::Rejected(format!("the mail could not be put together: {e}")))?;
        // Written right here: a file of a few kilobytes into the page cache takes microseconds, less than
        // handing it to the blocking pool and back.
        let path = self
            .write(&name, &message)
            .map_err(|e| MailError::Transient(format!("cannot write to the outbox {}: {e}", self.dir.display())))?;
        // No address in the log: the file holds it, the log says where the file is.
        tracing::info!(path = %path.display(), kind, message_id = %id, "mail written to the outbox");
        for link in links(&mail.text) {
            tracing::info!(%link, path = %path.display(), "link in the mail");
        }
        Ok(id)
    }
}

/// Writes under a temporary name and renames, so a watcher of the folder never sees half a message.
///
/// A mail holds the buyer's name, address and order: the folder is the owner's only (0700, made so by
/// [`private_dir`] when an older version or a wide umask left it open) and so is every file (0600),
/// whatever the umask.
fn write_file(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    let mut file = private_file(&partial)?;
    file.write_all(contents)?;
    drop(file);
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new file (a stale one from a crash is replaced), 0600 whatever the umask.
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies to a file it creates; a stale one keeps its own until told.
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// A message id unique across processes and calls: the time, the process id and a counter.
fn message_id(now: Timestamp) -> String {
    let micros = now.as_microsecond();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{micros:x}.{:x}.{n}", std::process::id())
}

/// `20261123T030000123456Z`: fixed width, so names sort by time.
fn compact_utc(now: Timestamp) -> String {
    format!("{}{:06}Z", now.strftime("%Y%m%dT%H%M%S"), now.subsec_microsecond())
}

/// Keeps `[A-Za-z0-9_-]`, so a tag value is safe in a file name.
fn file_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(40)
        .collect()
}

/// `hold` → `Hold`, `staff_kind` → `Staff-Kind`: a tag name as a header name.
fn header_name(tag: &str) -> String {
    tag.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first
                .into_iter()
                .chain(chars.map(|c| c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The whole message, with CRLF line ends.
fn render(mail: &Mail, from: &EmailAddress, id: &str, now: Timestamp) -> std::io::Result<Vec<u8>> {
    // Japanese readers expect the Date in JST; a fixed offset needs no time zone database.
    let jst = now.to_zoned(TimeZone::fixed(tz::offset(9)));
    let date = jiff::fmt::rfc2822::to_string(&jst).unwrap_or_else(|_| "Thu, 1 Jan 1970 00:00:00 +0000".to_owned());
    let mut message = MessageBuilder::new()
        .from(from.as_str())
        .to(mail.to.as_str())
        .subject(one_line(&mail.subject))
        .header("Date", Raw::new(date))
        .message_id(format!("{id}@mallguard.local"))
        // The way the mail would take when deployed: a Rakuten buyer's masked address through Rakuten's
        // relay, an Amazon buyer through Amazon's messaging, the rest through SES.
        .header(
            "X-Mallguard-Mail-Route",
            Text::new(mallguard_domain::mail_routes::route_of(mail).0.as_str()),
        );
    for (name, value) in &mail.tags {
        let name = header_name(name);
        if !name.is_empty() {
            message = message.header(format!("X-Mallguard-{name}"), Text::new(one_line(value)));
        }
    }
    // Text travels in its canonical form, CRLF line ends (RFC 2045 §6.8), whatever the encoding. The
    // body is `multipart/alternative` even without HTML, so every mail has one shape.
    let mut parts = vec![MimePart::new("text/plain", canonical(&mail.text))];
    if let Some(html) = &mail.html {
        parts.push(MimePart::new("text/html", canonical(html)));
    }
    message
        .body(MimePart::new("multipart/alternative", parts))
        .write_to_vec()
}

/// A header value on one line: control characters (line breaks above all) are dropped, so a value can
/// never end its header and start another.
fn one_line(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// The text with CRLF line ends.
fn canonical(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// The `http://` and `https://` links in a text, without trailing punctuation.
fn links(text: &str) -> Vec<&str> {
    let url_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    let mut found = vec![];
    let mut rest = text;
    while let Some(start) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !url_char(c)).unwrap_or(tail.len());
        let link = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        if link.len() > "https://".len() {
            found.push(link);
        }
        rest = &tail[end.max(1)..];
    }
    found
}

#[cfg(test)]
mod tests {
    use mallguard_domain::testing::ManualClock;

    use super::*;

    fn mail(subject: &str) -> Mail {
        Mail {
            to: EmailAddress::parse("taro.yamada@example.com").unwrap(),
            subject: subject.into(),
            text: "本文\nhttp://127.0.0.1:9000/h/abc\n".into(),
            html: None,
            tags: vec![("kind".into(), "notice".into())],
        }
    }

    fn head(message: &[u8]) -> String {
        let message = std::str::from_utf8(message).unwrap();
        message.split_once("\r\n\r\n").unwrap().0.to_owned()
    }

    #[test]
    fn a_long_japanese_subject_becomes_encoded_words_on_short_lines() {
        let subject = "【重要】ご注文の発送前確認のお願い（注文番号 1001 と 1002 は重複していませんか？）田中商店";
        let from = EmailAddress::parse("noreply@shop.example").unwrap();
        let message = render(&mail(subject), &from, "id", Timestamp::UNIX_EPOCH).unwrap();
        assert!(message.is_ascii());
        let head = head(&message);
        let start = head.find("Subject: ").unwrap();
        let lines: Vec<&str> = head[start..]
            .split("\r\n")
            .take_while(|l| l.starts_with("Subject") || l.starts_with([' ', '\t']))
            .collect();
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(line.len() < 78, "line too long: {line:?}");
            assert!(
                line.trim_start()
                    .trim_start_matches("Subject: ")
                    .to_ascii_uppercase()
                    .starts_with("=?UTF-8?B?"),
                "{line}"
            );
        }
    }

    #[test]
    fn line_breaks_in_a_header_value_cannot_add_headers() {
        let from = EmailAddress::parse("noreply@shop.example").unwrap();
        let mut mail = mail("hi\r\nBcc: someone@example.com");
        mail.tags.push(("hold".into(), "h1\r\nBcc: other@example.com".into()));
        let head = head(&render(&mail, &from, "id", Timestamp::UNIX_EPOCH).unwrap());
        assert!(!head.split("\r\n").any(|line| line.starts_with("Bcc")), "{head}");
        assert!(head.contains("Subject: hiBcc: someone@example.com\r\n"), "{head}");
        assert!(
            head.contains("X-Mallguard-Hold: h1Bcc: other@example.com\r\n"),
            "{head}"
        );
    }

    #[test]
    fn the_date_is_the_injected_time_in_jst() {
        let from = EmailAddress::parse("noreply@shop.example").unwrap();
        let at: Timestamp = "2026-11-23T03:05:01Z".parse().unwrap();
        let head = head(&render(&mail("hi"), &from, "id", at).unwrap());
        assert!(head.contains("\r\nDate: Mon, 23 Nov 2026 12:05:01 +0900\r\n"), "{head}");
        assert!(head.contains("\r\nMessage-ID: <id@mallguard.local>\r\n"), "{head}");
    }

    #[test]
    fn each_mail_is_marked_with_the_route_it_would_take_when_deployed() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let from = EmailAddress::parse("noreply@shop.example").unwrap();
        let route = |to: &str, mall: &str| {
            let mut m = mail("s");
            m.to = EmailAddress::parse(to).unwrap();
            m.tags.extend([
                ("route".into(), "buyer".into()),
                ("mall".into(), mall.into()),
                ("shop".into(), "tea-shop".into()),
            ]);
            head(&render(&m, &from, "id", now).unwrap())
        };
        assert!(route("a1@pc.fw.rakuten.ne.jp", "rakuten").contains("X-Mallguard-Mail-Route: rakuten-relay"));
        assert!(route("x@marketplace.amazon.co.jp", "amazon").contains("X-Mallguard-Mail-Route: amazon-messaging"));
        assert!(route("taro@example.com", "shopify").contains("X-Mallguard-Mail-Route: default"));
        assert!(head(&render(&mail("s"), &from, "id", now).unwrap()).contains("X-Mallguard-Mail-Route: default"));
    }

    #[tokio::test]
    async fn the_file_name_and_the_message_id_follow_the_injected_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01.000042Z"));
        let from = EmailAddress::parse("noreply@shop.example").unwrap();
        let mailer = OutboxMailer::new(dir.path(), from).with_clock(clock);
        let id = mailer.send(&mail("hi")).await.unwrap();
        let at: Timestamp = "2026-11-23T03:05:01.000042Z".parse().unwrap();
        assert!(id.starts_with(&format!("{:x}.", at.as_microsecond())), "{id}");
        let name = format!("20261123T030501000042Z-notice-{id}.eml");
        assert!(dir.path().join(name).exists());
    }

    #[test]
    fn links_are_found_in_japanese_text_without_the_punctuation_around_them() {
        let text = "ご確認ください：\nhttp://127.0.0.1:9000/h/abc_DEF-1\n（https://example.com/x?y=1）。終わり. https://a.example/b.";
        assert_eq!(
            links(text),
            vec![
                "http://127.0.0.1:9000/h/abc_DEF-1",
                "https://example.com/x?y=1",
                "https://a.example/b"
            ]
        );
    }

    #[test]
    fn tag_names_become_header_names_and_kinds_become_file_name_parts() {
        assert_eq!(header_name("hold"), "Hold");
        assert_eq!(header_name("staff_new hold"), "Staff-New-Hold");
        assert_eq!(file_safe("staff_new_hold"), "staff_new_hold");
        assert_eq!(file_safe("../x y"), "xy");
    }

    #[test]
    fn file_names_sort_by_time() {
        let a: Timestamp = "2026-11-23T03:00:00.000009Z".parse().unwrap();
        let b: Timestamp = "2026-11-23T03:00:00.00001Z".parse().unwrap();
        assert_eq!(compact_utc(a), "20261123T030000000009Z");
        assert!(compact_utc(a) < compact_utc(b));
        assert_ne!(message_id(a), message_id(a));
    }
}
