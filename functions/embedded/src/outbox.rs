//! The outbox mailer: instead of sending, writes each mail as an RFC 5322 `.eml` file into a folder,
//! where any mail client opens it. The local stack uses it so a developer can read what a buyer would
//! receive and click its links; the links are also printed in the log.
//!
//! The message is plain MIME with no dependency beyond the standard library: headers in ASCII (the
//! subject and any non-ASCII tag as RFC 2047 `=?UTF-8?B?…?=` encoded-words), and a
//! `multipart/alternative` body whose text and HTML parts are UTF-8 in base64.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::{self, TimeZone};
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{MailError, Mailer};

/// Lines of the message stay under this many characters (RFC 5322 asks for at most 78).
const LINE_MAX: usize = 76;
/// Bytes of text per encoded-word: 40 base64 characters, 52 with the `=?UTF-8?B?` `?=` frame.
const WORD_BYTES: usize = 30;
const CRLF: &str = "\r\n";

/// Tells apart messages written in the same microsecond by the same process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A [`Mailer`] that writes every message into a folder as an `.eml` file.
///
/// Files are named `{UTC time}-{kind}-{message id}.eml` (e.g. `20261123T030000123456Z-notice-….eml`),
/// so `ls` lists them in the order they were sent.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: EmailAddress,
}

impl OutboxMailer {
    /// Writes into `dir` (created on the first mail when missing), with `from` as the sender.
    pub fn new(dir: impl Into<PathBuf>, from: EmailAddress) -> Self {
        Self { dir: dir.into(), from }
    }

    /// The folder the mails are written into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let now = Timestamp::now();
        let id = message_id(now);
        let kind = mail
            .tags
            .iter()
            .find(|(name, _)| name == "kind")
            .map(|(_, value)| file_safe(value))
            .filter(|kind| !kind.is_empty())
            .unwrap_or_else(|| "mail".to_owned());
        let name = format!("{}-{kind}-{id}.eml", compact_utc(now));
        let message = render(mail, &self.from, &id, now);
        let dir = self.dir.clone();
        let path = tokio::task::spawn_blocking(move || write_file(&dir, &name, message.as_bytes()))
            .await
            .map_err(|e| MailError::Transient(format!("the outbox writer failed: {e}")))?
            .map_err(|e| MailError::Transient(format!("cannot write to the outbox {}: {e}", self.dir.display())))?;
        // No address in the log (DESIGN.md §10): the file holds it, the log says where the file is.
        tracing::info!(path = %path.display(), kind, message_id = %id, "mail written to the outbox");
        for link in links(&mail.text) {
            tracing::info!(%link, path = %path.display(), "link in the mail");
        }
        Ok(id)
    }
}

/// Writes under a temporary name and renames, so a watcher of the folder never sees half a message.
fn write_file(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, contents)?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
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
fn render(mail: &Mail, from: &EmailAddress, id: &str, now: Timestamp) -> String {
    // Japanese readers expect the Date in JST; a fixed offset needs no time zone database.
    let jst = now.to_zoned(TimeZone::fixed(tz::offset(9)));
    let date = jiff::fmt::rfc2822::to_string(&jst).unwrap_or_else(|_| "Thu, 1 Jan 1970 00:00:00 +0000".to_owned());
    let boundary = format!("=_mallguard_{id}");
    let mut m = String::new();
    m.push_str(&header("From", from.as_str()));
    m.push_str(&header("To", mail.to.as_str()));
    m.push_str(&header("Subject", &mail.subject));
    m.push_str(&header("Date", &date));
    m.push_str(&header("Message-ID", &format!("<{id}@mallguard.local>")));
    m.push_str(&header("MIME-Version", "1.0"));
    for (name, value) in &mail.tags {
        let name = header_name(name);
        if !name.is_empty() {
            m.push_str(&header(&format!("X-Mallguard-{name}"), value));
        }
    }
    m.push_str(&format!(
        "Content-Type: multipart/alternative;{CRLF} boundary=\"{boundary}\"{CRLF}{CRLF}"
    ));
    m.push_str(&format!("This is a multi-part message in MIME format.{CRLF}"));
    m.push_str(&part(&boundary, "text/plain", &mail.text));
    if let Some(html) = &mail.html {
        m.push_str(&part(&boundary, "text/html", html));
    }
    m.push_str(&format!("--{boundary}--{CRLF}"));
    m
}

/// One body part: the text with CRLF line ends (the canonical form of text, RFC 2045 §6.8) in base64.
fn part(boundary: &str, content_type: &str, body: &str) -> String {
    let canonical = body.replace("\r\n", "\n").replace('\n', CRLF);
    let mut p = format!(
        "--{boundary}{CRLF}Content-Type: {content_type}; charset=UTF-8{CRLF}\
         Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    );
    let encoded = base64(canonical.as_bytes());
    // Base64 is ASCII, so slicing at any byte offset is at a character boundary.
    for start in (0..encoded.len()).step_by(LINE_MAX) {
        p.push_str(&encoded[start..(start + LINE_MAX).min(encoded.len())]);
        p.push_str(CRLF);
    }
    p
}

/// `Name: value` with its CRLF; the value as RFC 2047 encoded-words unless it is short printable ASCII.
fn header(name: &str, value: &str) -> String {
    let plain = value.chars().all(|c| matches!(c, ' '..='~'))
        && !value.contains("=?")
        && name.len() + 2 + value.len() <= LINE_MAX;
    if plain {
        return format!("{name}: {value}{CRLF}");
    }
    let mut out = format!("{name}:");
    let mut line_len = out.len();
    for word in encoded_words(value) {
        // White space between two encoded-words is dropped by the reader, so folding here adds nothing.
        if line_len + 1 + word.len() > LINE_MAX {
            out.push_str(CRLF);
            line_len = 0;
        }
        out.push(' ');
        out.push_str(&word);
        line_len += 1 + word.len();
    }
    out.push_str(CRLF);
    out
}

/// `=?UTF-8?B?…?=` words of at most [`WORD_BYTES`] bytes each, never splitting a character (RFC 2047 §5).
fn encoded_words(text: &str) -> Vec<String> {
    let mut words = vec![];
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn a_long_japanese_subject_becomes_whole_character_encoded_words_on_short_lines() {
        let subject = "【重要】ご注文の発送前確認のお願い（注文番号 1001 と 1002 は重複していませんか？）田中商店";
        let h = header("Subject", subject);
        assert!(h.ends_with(CRLF));
        for line in h.trim_end().split(CRLF) {
            assert!(line.len() < 78, "line too long: {line:?}");
        }
        assert!(h.split(CRLF).skip(1).all(|l| l.is_empty() || l.starts_with(' ')), "{h}");
        let words = encoded_words(subject);
        assert!(words.len() > 2);
        assert!(
            words.iter().all(|w| w.len() <= 75),
            "RFC 2047 caps a word at 75 characters"
        );
        // Every word decodes on its own: no character is split between two words.
        let mut joined = String::new();
        for word in &words {
            let b64 = word.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
            joined.push_str(std::str::from_utf8(&decode(b64)).expect("whole characters"));
        }
        assert_eq!(joined, subject);
    }

    #[test]
    fn short_ascii_headers_stay_readable_and_line_breaks_cannot_inject_headers() {
        assert_eq!(header("X-Mallguard-Kind", "notice"), "X-Mallguard-Kind: notice\r\n");
        let h = header("Subject", "hi\r\nBcc: someone@example.com");
        assert!(h.starts_with("Subject: =?UTF-8?B?"), "{h}");
        assert!(!h.contains("Bcc:"));
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

    fn decode(b64: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let clean: Vec<u8> = b64.bytes().filter(|&c| c != b'=').collect();
        let mut out = vec![];
        for group in clean.chunks(4) {
            let n = group
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &c)| n | u32::from(value(c)) << (18 - 6 * i));
            for i in 0..group.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}
