//! Mail to Rakuten buyers through Rakuten's own SMTP server.
//!
//! Rakuten hands shops masked buyer addresses (`…@pc.fw.rakuten.ne.jp`, 楽天あんしんメルアド). Mail to
//! them is carried only by Rakuten's relay (楽天のメールサーバー), with the shop's own SMTP AUTH login,
//! from an address the shop registered in RMS. [`RakutenSmtpMailer`] is the domain's [`Mailer`] for one
//! shop over that relay: it renders each [`Mail`] as a `multipart/alternative` UTF-8 message (text, and
//! HTML when there is some), opens one connection, upgrades it with STARTTLS, logs in, sends, and quits.
//!
//! # What is known of Rakuten's relay, and from where
//!
//! - Masked addresses can only be reached through Rakuten's dedicated SMTP server; the shop's usual
//!   server fails on them. (ワイメール's help, "楽天マスクアドレスへの送信",
//!   `https://www.y-ml.com/help/import/166-to-rakuten-mask-address.html`.)
//! - The server name, the SMTP AUTH ID and the SMTP AUTH password are per shop, shown in R-Login under
//!   あんしんメルアドサービスメニュー → メールサーバ設定情報. (Re:lation's manual,
//!   `https://ingage.jp/manual/relation/?p=1534`; OpenLogi's help,
//!   `https://help.openlogi.com/print/faq/1319`.) R-Login can issue a new password
//!   (「新しいパスワードに更新」); the old one stops working, so a rotation there must be copied here
//!   (LedgHOME's knowledge base, `https://lh2.sp-support.jp/knowledgebase/` 楽天あんしんメルアドサービスについて).
//! - The sender must be an address the shop registered in RMS: 店舗連絡先メールアドレス,
//!   注文確認メール送り先メールアドレス or 資料請求確認メール送り先メールアドレス — the real address, not
//!   its mask. (LedgHOME, アカウント別SMTP設定; OpenLogi; 領収書ドットコム's manual,
//!   `https://secure.ryoshusho.com/online_manual/top/?mid=5`.) Public code reports the relay
//!   answering `552 5.2.0 <…> sender rejected` when the envelope sender was another address; this mailer
//!   therefore puts [`RakutenSmtpSettings::from`] in both the envelope (`MAIL FROM`) and `From`.
//! - Bounces from the relay cannot be processed as usual (ワイメール), so a refusal after the relay
//!   accepted the mail is not seen here.
//! - Host `sub.fw.rakuten.ne.jp`, port 587, STARTTLS, SMTP AUTH: this is what public client code
//!   configures (nodemailer with `requireTLS: true`, SwiftMailer with `tls`, both on
//!   `sub.fw.rakuten.ne.jp:587`). [`RAKUTEN_SMTP_HOST`] and [`RAKUTEN_SMTP_PORT`] are those values.
//!
//! # What stays unverified
//!
//! - The host and port come from third-party code, not from Rakuten's own pages (RMS help is behind the
//!   shop login): take the server name R-Login shows for the shop when it differs.
//! - Whether the relay offers STARTTLS today (older client code sends on 587 without TLS). This mailer
//!   refuses to send without it ([`Tls::Required`]): a relay without STARTTLS fails every send as
//!   `Transient`, and the password never goes out in the clear.
//! - Which AUTH mechanisms it offers: PLAIN is tried first, then LOGIN (Re:lation lets its users pick
//!   either).
//! - The text of its final `250`: Postfix's `queued as ID` and Exim's `id=ID` are read as the queue id;
//!   anything else falls back to the Message-ID.
//! - Sending limits (messages per hour, size), and whether it refuses recipients that are not masked
//!   addresses. [`is_rakuten_masked`] tells masked addresses apart, so a caller can route only those
//!   here.
//!
//! # Errors
//!
//! No connection, a timeout, a broken TLS handshake, a relay without STARTTLS and any `4xx` are
//! [`MailError::Transient`]; a `5xx` (login refused, sender or recipient refused, message refused) is
//! [`MailError::Rejected`] with the server's text. The server's text is scrubbed of addresses first
//! (a `550` usually names the recipient). A timeout after the whole message went out may mean the relay
//! took it: SMTP cannot tell, and a retry may then deliver it twice.
//!
//! Logs carry the queue or message id and the mail's `hold` and `kind` tags, never an address, a body
//! or the password (lettre's own wire tracing is not enabled).

#[cfg(feature = "sink")]
pub mod sink;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls as LettreTls, TlsParameters};
use lettre::transport::smtp::response::{Response, Severity};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mallguard_domain::notice::Mail;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{MailError, Mailer};
use secrecy::{ExposeSecret, SecretString};

/// Rakuten's relay for masked addresses, as public client code configures it (see the module docs).
pub const RAKUTEN_SMTP_HOST: &str = "sub.fw.rakuten.ne.jp";
/// The submission port, with STARTTLS.
pub const RAKUTEN_SMTP_PORT: u16 = 587;
/// How long a whole send may take, from the connection to the final reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS before anything else, the certificate checked against the webpki (Mozilla) roots; a
    /// server that does not offer it gets nothing, not even the login.
    Required,
    /// Plain text: only for a server on loopback (a test sink); refused for any other host.
    None,
}

/// One shop's access to Rakuten's relay.
#[derive(Clone)]
pub struct RakutenSmtpSettings {
    pub host: String,
    pub port: u16,
    /// The SMTP AUTH ID R-Login shows for the shop.
    pub user: String,
    pub password: SecretString,
    /// The shop's address registered in RMS (店舗連絡先メールアドレス or another registered one, never
    /// its mask): the envelope sender and `From`.
    pub from: EmailAddress,
    /// Shown as the sender (`田中商店 <shop@…>`).
    pub from_name: Option<String>,
    /// Where the buyer's answers go, when not to `from`.
    pub reply_to: Option<EmailAddress>,
    pub tls: Tls,
    /// Certificates (DER) trusted beside the webpki roots with [`Tls::Required`]: a test sink's own CA.
    /// Rakuten's relay needs none.
    pub extra_roots: Vec<Vec<u8>>,
    /// How long a whole send may take, from the connection to the final reply.
    pub timeout: Duration,
}

impl RakutenSmtpSettings {
    /// Rakuten's relay ([`RAKUTEN_SMTP_HOST`]:[`RAKUTEN_SMTP_PORT`], STARTTLS required,
    /// [`DEFAULT_TIMEOUT`]) with the shop's login and registered address.
    pub fn rakuten(user: impl Into<String>, password: SecretString, from: EmailAddress) -> Self {
        Self {
            host: RAKUTEN_SMTP_HOST.to_owned(),
            port: RAKUTEN_SMTP_PORT,
            user: user.into(),
            password,
            from,
            from_name: None,
            reply_to: None,
            tls: Tls::Required,
            extra_roots: vec![],
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for RakutenSmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RakutenSmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .field("from", &self.from)
            .field("from_name", &self.from_name)
            .field("reply_to", &self.reply_to)
            .field("tls", &self.tls)
            .field("extra_roots", &self.extra_roots.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Settings a mailer cannot be built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the SMTP host is empty")]
    EmptyHost,
    #[error("the SMTP port is 0")]
    ZeroPort,
    #[error("the SMTP AUTH user is empty")]
    EmptyUser,
    #[error("the timeout is zero")]
    ZeroTimeout,
    #[error("plain-text SMTP is only for a server on loopback, not for {host}")]
    PlainTextToRemoteHost { host: String },
    #[error("the {which} address cannot be used in SMTP: {reason}")]
    BadAddress { which: &'static str, reason: String },
    #[error("TLS cannot be set up for {host}: {reason}")]
    Tls { host: String, reason: String },
}

/// A [`Mailer`] over Rakuten's relay, for one shop.
#[derive(Clone)]
pub struct RakutenSmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The domain of the Message-IDs: the shop's.
    id_domain: String,
    timeout: Duration,
    host: String,
    port: u16,
}

impl fmt::Debug for RakutenSmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RakutenSmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl RakutenSmtpMailer {
    /// Checks the settings and prepares the transport; nothing is sent or connected yet.
    pub fn new(settings: RakutenSmtpSettings) -> Result<Self, SettingsError> {
        let host = settings.host.trim().to_owned();
        if host.is_empty() {
            return Err(SettingsError::EmptyHost);
        }
        if settings.port == 0 {
            return Err(SettingsError::ZeroPort);
        }
        if settings.user.trim().is_empty() {
            return Err(SettingsError::EmptyUser);
        }
        if settings.timeout.is_zero() {
            return Err(SettingsError::ZeroTimeout);
        }
        let tls = match settings.tls {
            Tls::Required => {
                let mut builder = TlsParameters::builder(host.clone()).certificate_store(CertificateStore::WebpkiRoots);
                for root in &settings.extra_roots {
                    let certificate = Certificate::from_der(root.clone()).map_err(|e| SettingsError::Tls {
                        host: host.clone(),
                        reason: e.to_string(),
                    })?;
                    builder = builder.add_root_certificate(certificate);
                }
                let parameters = builder.build_rustls().map_err(|e| SettingsError::Tls {
                    host: host.clone(),
                    reason: e.to_string(),
                })?;
                LettreTls::Required(parameters)
            }
            Tls::None if is_loopback(&host) => LettreTls::None,
            Tls::None => return Err(SettingsError::PlainTextToRemoteHost { host }),
        };
        let from_address = smtp_address(&settings.from).map_err(|reason| SettingsError::BadAddress {
            which: "sender",
            reason,
        })?;
        let from_name = settings
            .from_name
            .as_deref()
            .map(one_line)
            .filter(|n| !n.trim().is_empty());
        let from = Mailbox::new(from_name.map(|n| n.trim().to_owned()), from_address);
        let reply_to = match &settings.reply_to {
            Some(address) => Some(Mailbox::new(
                None,
                smtp_address(address).map_err(|reason| SettingsError::BadAddress {
                    which: "reply-to",
                    reason,
                })?,
            )),
            None => None,
        };
        let id_domain = settings
            .from
            .as_str()
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
            .to_owned();
        // A bracketed IPv6 literal is a host name to the connector; the bare address is what it wants.
        let connect_host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(connect_host)
            .port(settings.port)
            .tls(tls)
            .credentials(Credentials::new(
                settings.user.trim().to_owned(),
                settings.password.expose_secret().to_owned(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login])
            .timeout(Some(settings.timeout))
            .build();
        Ok(Self {
            transport,
            from,
            reply_to,
            id_domain,
            timeout: settings.timeout,
            host,
            port: settings.port,
        })
    }

    /// The `From` header's address, as sent.
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    /// The whole message as it goes on the wire (CRLF line ends, all ASCII), its envelope and the
    /// Message-ID (without angle brackets).
    fn render(&self, mail: &Mail) -> Result<(Envelope, Vec<u8>, String), MailError> {
        let to = smtp_address(&mail.to)
            .map_err(|reason| MailError::Rejected(format!("the recipient cannot be used in SMTP: {reason}")))?;
        let id = format!("{}@{}", random_id(), self.id_domain);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(one_line(&mail.subject))
            .message_id(Some(format!("<{id}>")));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        // Every mail has one shape, `multipart/alternative`, as the outbox writes it.
        let mut body = MultiPart::alternative().singlepart(SinglePart::plain(mail.text.clone()));
        if let Some(html) = &mail.html {
            body = body.singlepart(SinglePart::html(html.clone()));
        }
        let message = builder
            .multipart(body)
            .map_err(|e| MailError::Rejected(format!("the mail could not be put together: {e}")))?;
        let envelope = Envelope::new(Some(self.from.email.clone()), vec![to])
            .map_err(|e| MailError::Rejected(format!("the envelope could not be put together: {e}")))?;
        Ok((envelope, message.formatted(), id))
    }
}

#[async_trait]
impl Mailer for RakutenSmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let tag = |name: &str| mail.tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let (hold, kind) = (tag("hold").unwrap_or(""), tag("kind").unwrap_or(""));
        let (envelope, message, message_id) = self.render(mail)?;
        let sent = tokio::time::timeout(self.timeout, self.transport.send_raw(&envelope, &message)).await;
        let result = match sent {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(classify(&err)),
            Err(_) => Err(MailError::Transient(format!(
                "the SMTP server did not finish within {:?}",
                self.timeout
            ))),
        };
        match result {
            Ok(response) => {
                let queue_id = queue_id(&response);
                let id = queue_id.clone().unwrap_or_else(|| message_id.clone());
                tracing::info!(
                    host = %self.host,
                    queue_id = queue_id.as_deref().unwrap_or(""),
                    %message_id,
                    %hold,
                    %kind,
                    "mail sent through Rakuten's SMTP server"
                );
                Ok(id)
            }
            Err(err) => {
                tracing::warn!(host = %self.host, %message_id, %hold, %kind, error = %err, "Rakuten's SMTP server did not take the mail");
                Err(err)
            }
        }
    }
}

/// Whether `address` is one of Rakuten's masked buyer addresses (`…@fw.rakuten.ne.jp` and its
/// subdomains: `pc.`, `mb.`, …), the ones only Rakuten's relay carries.
pub fn is_rakuten_masked(address: &EmailAddress) -> bool {
    let domain = address
        .as_str()
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    domain == "fw.rakuten.ne.jp" || domain.ends_with(".fw.rakuten.ne.jp")
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1` (bracketed or not, IPv4-mapped too).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn smtp_address(address: &EmailAddress) -> Result<Address, String> {
    address.as_str().parse::<Address>().map_err(|e| e.to_string())
}

/// A header value on one line: control characters (line breaks above all) are dropped, so a value can
/// never end its header and start another.
fn one_line(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// 128 random bits in hex, for the Message-ID; the clock and the process if the system has no random.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_ok() {
        return bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}.{:x}", std::process::id())
}

/// The queue id in a final `250`: Postfix's `… queued as 4Xyz…`, Exim's `OK id=1abc-…`.
fn queue_id(response: &Response) -> Option<String> {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let token = |rest: &str| {
        let id: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect();
        let id = id.trim_end_matches('.').to_owned();
        (!id.is_empty()).then_some(id)
    };
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("queued as ") {
        return token(&text[at + "queued as ".len()..]);
    }
    lower
        .split_whitespace()
        .zip(text.split_whitespace())
        .find_map(|(l, original)| l.starts_with("id=").then(|| token(&original[3..])).flatten())
}

/// Maps a failed exchange to the domain's error: `4xx` and everything on the way (network, TLS,
/// timeouts, replies that cannot be read) may pass; a `5xx` will not.
fn classify(err: &lettre::transport::smtp::Error) -> MailError {
    let detail = scrub(&source_text(err));
    if err.is_timeout() {
        return MailError::Transient(format!("the SMTP server did not answer in time: {detail}"));
    }
    if let Some(code) = err.status() {
        let number = u16::from(code);
        return match code.severity {
            Severity::TransientNegativeCompletion => {
                MailError::Transient(format!("the SMTP server deferred the mail ({number}): {detail}"))
            }
            _ if matches!(number, 530 | 534 | 535 | 538) => {
                MailError::Rejected(format!("the SMTP server refused the shop's login ({number}): {detail}"))
            }
            _ => MailError::Rejected(format!("the SMTP server refused the mail ({number}): {detail}")),
        };
    }
    if err.is_tls() {
        return MailError::Transient(format!("the TLS handshake with the SMTP server failed: {detail}"));
    }
    if err.is_client() {
        if detail.contains("STARTTLS") {
            // Perhaps a hop stripped it; never send the login in the clear, try again later.
            return MailError::Transient(format!("the SMTP server did not offer STARTTLS: {detail}"));
        }
        // No AUTH mechanism in common and the like: settings to fix, not a passing fault.
        return MailError::Rejected(format!("the SMTP exchange cannot go on: {detail}"));
    }
    MailError::Transient(format!("the connection to the SMTP server failed: {detail}"))
}

/// The error's own text and its sources', one after the other (lettre puts the server's reply in the
/// source).
fn source_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![];
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

/// Replaces every word that holds an `@` with `<address>`: a server's refusal usually names the
/// recipient, and these texts end up in logs and in the notice's last error.
fn scrub(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if !word.contains('@') {
                return word.to_owned();
            }
            let start = word
                .find(|c: char| !matches!(c, '(' | '[' | '"' | '\'' | '<'))
                .unwrap_or(0);
            let end = word
                .rfind(|c: char| !matches!(c, ')' | ']' | '"' | '\'' | ',' | '.' | ';' | ':' | '>'))
                .map_or(word.len(), |i| i + 1)
                .max(start);
            let (open, close) = (&word[..start], &word[end..]);
            // `<a@b>:` becomes `<address>:`, not `<<address>>:`.
            let open = open.trim_end_matches('<');
            let close = close.trim_start_matches('>');
            format!("{open}<address>{close}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use lettre::transport::smtp::response::{Category, Code, Detail};

    use super::*;

    fn address(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn ok(lines: &[&str]) -> Response {
        Response::new(
            Code::new(Severity::PositiveCompletion, Category::MailSystem, Detail::Zero),
            lines.iter().map(|l| (*l).to_owned()).collect(),
        )
    }

    #[test]
    fn queue_ids_are_read_from_postfix_and_exim_replies_and_nothing_else() {
        assert_eq!(
            queue_id(&ok(&["2.0.0 Ok: queued as 4XyZ12abC"])).as_deref(),
            Some("4XyZ12abC")
        );
        assert_eq!(
            queue_id(&ok(&["2.0.0 Ok: Queued as 4XyZ12abC."])).as_deref(),
            Some("4XyZ12abC")
        );
        assert_eq!(
            queue_id(&ok(&["OK id=1tQ2-000abc-Zz"])).as_deref(),
            Some("1tQ2-000abc-Zz")
        );
        assert_eq!(queue_id(&ok(&["2.0.0 Ok"])), None);
        assert_eq!(queue_id(&ok(&["2.6.0 Queued mail for delivery"])), None);
        assert_eq!(queue_id(&ok(&[])), None);
    }

    #[test]
    fn addresses_in_server_text_are_scrubbed() {
        assert_eq!(
            scrub("5.1.1 <9ca9e8e4s9@pc.fw.rakuten.ne.jp>: Recipient address rejected"),
            "5.1.1 <address>: Recipient address rejected"
        );
        assert_eq!(
            scrub("5.2.0 <shop@example.jp> sender rejected"),
            "5.2.0 <address> sender rejected"
        );
        assert_eq!(scrub("to (a@b.example), then"), "to (<address>), then");
        assert_eq!(scrub("no address here"), "no address here");
    }

    #[test]
    fn loopback_hosts_are_told_apart() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "sub.fw.rakuten.ne.jp",
            "10.0.0.1",
            "localhost.example.com",
            "0.0.0.0",
            "[::]",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn masked_addresses_are_rakutens_fw_domain_and_its_subdomains() {
        assert!(is_rakuten_masked(&address("9ca9e8e4ef09fe8ds9@pc.fw.rakuten.ne.jp")));
        assert!(is_rakuten_masked(&address("abc@FW.Rakuten.ne.jp")));
        assert!(is_rakuten_masked(&address("abc@mb.fw.rakuten.ne.jp")));
        assert!(!is_rakuten_masked(&address("abc@rakuten.ne.jp")));
        assert!(!is_rakuten_masked(&address("abc@evilfw.rakuten.ne.jp")));
        assert!(!is_rakuten_masked(&address("abc@shop.rakuten.co.jp")));
    }

    #[test]
    fn the_default_settings_are_rakutens_relay_with_starttls() {
        let s = RakutenSmtpSettings::rakuten("123456", "pw".into(), address("shop@example.jp"));
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            (RAKUTEN_SMTP_HOST, 587, Tls::Required)
        );
        assert!(RakutenSmtpMailer::new(s).is_ok());
    }

    #[test]
    fn message_ids_are_random_hex() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
