//! The SES v2 mailer: sends each rendered [`Mail`] with `SendEmail` (simple content: subject, text and
//! HTML, all UTF-8) and returns the SES message id, which the domain records in the notice item so the
//! delivery, bounce and complaint events of `mail-events` attach to it. SES puts the MIME
//! message together itself (the outbox mailer of the local stack writes its own with `mail-builder`);
//! only the sender's display name is encoded here, as RFC 2047 encoded-words.
//!
//! Failures come back as [`MailError`]: `Transient` for what passes on its own (throttling, 5xx,
//! timeouts, the network), `Rejected` for what SES refuses to send. Either way the domain leaves the
//! notice pending and the expiry sweep retries it later; the split tells the staff and
//! the logs which kind of trouble it is. Errors are told apart by the SDK's typed errors and HTTP
//! status, never by parsing messages.
//!
//! Logs carry the message id and the hold and kind tags, never an address: error
//! messages from SES can name addresses (in the sandbox it names the unverified recipient), so they
//! are scrubbed before they leave this module.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use mail_builder::encoders::base64::base64_encode;
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{MailError, Mailer};

/// SES caps a tag name and a tag value at this many characters.
const TAG_MAX: usize = 256;
/// Bytes of text per RFC 2047 encoded-word: 40 base64 characters, 52 with the frame, under the 75 cap.
const WORD_BYTES: usize = 30;
const CHARSET: &str = "UTF-8";

/// A [`Mailer`] over Amazon SES v2.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: EmailAddress,
    /// The `From` header as sent: the bare address, or `display name <address>`.
    from_header: String,
    reply_to: Option<EmailAddress>,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Sends from `from` (an identity verified in SES), through `configuration_set` when given (the
    /// set whose event destination feeds `mail-events`).
    pub fn new(client: aws_sdk_sesv2::Client, from: EmailAddress, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from_header: from.as_str().to_owned(),
            from,
            reply_to: None,
            configuration_set: configuration_set.filter(|s| !s.trim().is_empty()),
        }
    }

    /// Shows `name` as the sender (`田中商店 <noreply@…>`), so buyers see the shop rather than a
    /// no-reply address. Non-ASCII names are sent as RFC 2047 encoded-words, as SES requires.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.from_header = mailbox(name, &self.from);
        self
    }

    /// Answers to the mail go to `reply_to` (the shop's contact address), not to the sender.
    pub fn with_reply_to(mut self, reply_to: EmailAddress) -> Self {
        self.reply_to = Some(reply_to);
        self
    }

    /// The `From` header this mailer sends.
    pub fn from_header(&self) -> &str {
        &self.from_header
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let tag = |name: &str| mail.tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let (hold, kind) = (tag("hold").unwrap_or(""), tag("kind").unwrap_or(""));
        let request = self
            .client
            .send_email()
            .from_email_address(&self.from_header)
            .destination(Destination::builder().to_addresses(mail.to.as_str()).build())
            .set_reply_to_addresses(self.reply_to.as_ref().map(|r| vec![r.as_str().to_owned()]))
            .content(EmailContent::builder().simple(message(mail)?).build())
            .set_email_tags(Some(email_tags(&mail.tags)?))
            .set_configuration_set_name(self.configuration_set.clone());
        match request.send().await {
            Ok(output) => {
                let Some(message_id) = output.message_id else {
                    // SES always returns one on success; without it no delivery event could attach.
                    return Err(MailError::Transient(
                        "SES accepted the mail but returned no message id".into(),
                    ));
                };
                tracing::info!(%message_id, %hold, %kind, "mail sent through SES");
                Ok(message_id)
            }
            Err(err) => {
                let err = classify(err);
                tracing::warn!(%hold, %kind, error = %err, "SES did not send the mail");
                Err(err)
            }
        }
    }
}

/// The simple message: subject, text and (when present) HTML, all UTF-8.
fn message(mail: &Mail) -> Result<Message, MailError> {
    let content = |data: &str| {
        Content::builder()
            .data(data)
            .charset(CHARSET)
            .build()
            .map_err(|e| MailError::Rejected(format!("the mail could not be put together: {e}")))
    };
    let mut body = Body::builder().text(content(&mail.text)?);
    if let Some(html) = &mail.html {
        body = body.html(content(html)?);
    }
    Ok(Message::builder()
        .subject(content(&mail.subject)?)
        .body(body.build())
        .build())
}

/// The mail's tags as SES message tags: names and values sanitised, empty names dropped, the first of
/// two equal names kept (SES refuses a message whose tags repeat a name).
fn email_tags(tags: &[(String, String)]) -> Result<Vec<MessageTag>, MailError> {
    let mut out: Vec<MessageTag> = vec![];
    for (name, value) in tags {
        let name = sanitize_tag(name);
        if name.is_empty() || out.iter().any(|t| t.name() == name) {
            continue;
        }
        let mut value = sanitize_tag(value);
        if value.is_empty() {
            // SES wants a value; the tag's presence still says something in the event.
            value = "none".to_owned();
        }
        let tag = MessageTag::builder()
            .name(name)
            .value(value)
            .build()
            .map_err(|e| MailError::Rejected(format!("a tag could not be put together: {e}")))?;
        out.push(tag);
    }
    Ok(out)
}

/// SES tag names and values allow only `[A-Za-z0-9_\-.@]`, at most 256 characters: anything else
/// becomes `_`, and the rest is cut.
pub fn sanitize_tag(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(TAG_MAX)
        .collect()
}

/// `display name <address>`: the name as a quoted string when it is printable ASCII, else as RFC 2047
/// `=?UTF-8?B?…?=` encoded-words (SES requires non-ASCII display names encoded). Line breaks and other
/// control characters are dropped, so a name can never add a header.
pub fn mailbox(name: &str, address: &EmailAddress) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() {
        return address.as_str().to_owned();
    }
    let phrase = if name.chars().all(|c| matches!(c, ' '..='~')) && !name.contains("=?") {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encoded_words(name).join(" ")
    };
    format!("{phrase} <{}>", address.as_str())
}

/// Encoded-words of at most [`WORD_BYTES`] bytes of text each, never splitting a character (RFC 2047 §5).
///
/// `mail-builder` does the base64. Its own display-name encoder is not used: it puts the encoded-word
/// inside a quoted string (`"=?utf-8?B?…?=" <…>`), which RFC 2047 §5 forbids and readers may show as is.
fn encoded_words(text: &str) -> Vec<String> {
    let mut words = vec![];
    let mut chunk = String::new();
    for c in text.chars() {
        if !chunk.is_empty() && chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(encoded_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk));
    }
    words
}

/// `=?UTF-8?B?{base64 of text}?=`.
fn encoded_word(text: &str) -> String {
    // Encoding into memory cannot fail, and base64 is ASCII.
    let base64 = base64_encode(text.as_bytes()).unwrap_or_default();
    format!("=?UTF-8?B?{}?=", String::from_utf8_lossy(&base64))
}

/// Maps a failed `SendEmail` to the domain's error: typed SDK errors first, then the HTTP status.
fn classify(err: SdkError<SendEmailError, aws_sdk_sesv2::config::http::HttpResponse>) -> MailError {
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let err = ctx.into_err();
            let reason = describe(&err);
            match err {
                SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_) => {
                    MailError::Transient(format!("SES throttled the send: {reason}"))
                }
                SendEmailError::MessageRejected(_)
                | SendEmailError::MailFromDomainNotVerifiedException(_)
                | SendEmailError::AccountSuspendedException(_)
                | SendEmailError::SendingPausedException(_)
                | SendEmailError::NotFoundException(_)
                | SendEmailError::BadRequestException(_) => MailError::Rejected(reason),
                // Codes this SDK version does not model: the status says whether it may pass.
                _ if status >= 500 || status == 429 => MailError::Transient(format!("SES answered {status}: {reason}")),
                _ => MailError::Rejected(format!("SES answered {status}: {reason}")),
            }
        }
        other => {
            // The SDK's own text ("dispatch failure") says little: the sources say what happened.
            let detail = scrub(&crate::error_chain(&other));
            let what = match &other {
                SdkError::TimeoutError(_) => "SES did not answer in time",
                SdkError::DispatchFailure(e) if e.is_timeout() => "the request to SES timed out",
                SdkError::DispatchFailure(e) if e.is_io() => "the request to SES failed on the network",
                SdkError::DispatchFailure(_) => "the request to SES could not be sent",
                // An answer that is not SES's (a proxy's error page, a cut-off body).
                SdkError::ResponseError(_) => "SES's answer could not be read",
                // Credentials and the endpoint are resolved while the request is built; both pass (an
                // expiring role, a hiccup of the credential source), and the sweep retries anyway.
                SdkError::ConstructionFailure(_) => "the request to SES could not be made",
                _ => "SES send failed",
            };
            MailError::Transient(format!("{what}: {detail}"))
        }
    }
}

/// `Code: message` of a service error, addresses scrubbed.
fn describe(err: &SendEmailError) -> String {
    let code = err.code().unwrap_or("unknown error");
    match err.message() {
        Some(message) if !message.is_empty() => format!("{code}: {}", scrub(message)),
        _ => code.to_owned(),
    }
}

/// Replaces every word that holds an `@` with `<address>`: SES's messages can name the addresses
/// involved, and these texts end up in logs and in the notice's last error.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains('@') {
            // Keep the punctuation around the address, so the sentence still reads; angle brackets
            // belong to the address (`<a@b>` becomes `<address>`).
            let start = word.find(|c: char| !matches!(c, '(' | '[' | '"' | '\'')).unwrap_or(0);
            let end = word
                .rfind(|c: char| !matches!(c, ')' | ']' | '"' | '\'' | ',' | '.' | ';' | ':'))
                .map_or(word.len(), |i| i + 1)
                .max(start);
            out.push_str(&word[..start]);
            out.push_str("<address>");
            out.push_str(&word[end..]);
        } else {
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn address(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn tag_names_and_values_keep_only_what_ses_allows_and_are_cut_at_256() {
        assert_eq!(sanitize_tag("hold"), "hold");
        assert_eq!(sanitize_tag("h-01.x_y@z"), "h-01.x_y@z");
        assert_eq!(sanitize_tag("a b/c:d"), "a_b_c_d");
        assert_eq!(sanitize_tag("発送"), "__");
        assert_eq!(sanitize_tag(&"x".repeat(300)).len(), 256);
    }

    #[test]
    fn tags_with_empty_names_are_dropped_repeated_names_keep_the_first_and_empty_values_get_one() {
        let tags = email_tags(&[
            ("kind".into(), "notice".into()),
            ("".into(), "x".into()),
            ("kind".into(), "reminder".into()),
            ("hold".into(), "".into()),
        ])
        .unwrap();
        let pairs: Vec<_> = tags.iter().map(|t| (t.name(), t.value())).collect();
        assert_eq!(pairs, vec![("kind", "notice"), ("hold", "none")]);
    }

    #[test]
    fn a_japanese_shop_name_becomes_whole_character_encoded_words_before_the_address() {
        let from = address("noreply@shop.example");
        let m = mailbox("田中商店（静岡・お茶の専門店）オンラインショップ", &from);
        assert!(m.ends_with(" <noreply@shop.example>"), "{m}");
        let phrase = m.trim_end_matches(" <noreply@shop.example>");
        let mut decoded = String::new();
        for word in phrase.split(' ') {
            assert!(word.len() <= 75, "RFC 2047 caps a word at 75 characters: {word}");
            let b64 = word.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
            decoded.push_str(std::str::from_utf8(&STANDARD.decode(b64).unwrap()).expect("whole characters"));
        }
        assert_eq!(decoded, "田中商店（静岡・お茶の専門店）オンラインショップ");
    }

    #[test]
    fn a_short_japanese_shop_name_is_one_encoded_word() {
        let from = address("noreply@shop.example");
        assert_eq!(
            mailbox("田中商店", &from),
            "=?UTF-8?B?55Sw5Lit5ZWG5bqX?= <noreply@shop.example>"
        );
    }

    #[test]
    fn an_ascii_shop_name_is_quoted_and_line_breaks_cannot_add_headers() {
        let from = address("noreply@shop.example");
        assert_eq!(
            mailbox("Tanaka \"Tea\" Shop", &from),
            "\"Tanaka \\\"Tea\\\" Shop\" <noreply@shop.example>"
        );
        assert_eq!(
            mailbox("Shop\r\nBcc: x@evil.example", &from),
            "\"ShopBcc: x@evil.example\" <noreply@shop.example>"
        );
        assert_eq!(mailbox("  ", &from), "noreply@shop.example");
    }

    #[test]
    fn addresses_in_error_messages_are_scrubbed_and_the_sentence_kept() {
        assert_eq!(
            scrub(
                "Email address is not verified. The following identities failed the check in region AP-NORTHEAST-1: buyer@docomo.ne.jp, <x@y.example>."
            ),
            "Email address is not verified. The following identities failed the check in region AP-NORTHEAST-1: <address>, <address>."
        );
        assert_eq!(scrub("(to \"buyer@docomo.ne.jp\")"), "(to \"<address>\")");
        assert_eq!(scrub("no address here"), "no address here");
    }
}
