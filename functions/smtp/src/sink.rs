//! An SMTP server for tests (feature `sink`): listens on `127.0.0.1`, on a port the system picks, and
//! records what it accepts.
//!
//! It speaks just enough ESMTP for a submission client: `EHLO`/`HELO`, `AUTH PLAIN` and `AUTH LOGIN`
//! (against one configured user and password, `535` on a mismatch, and no mail before a login), `MAIL
//! FROM`, `RCPT TO`, `DATA` (with dot-unstuffing), `RSET`, `NOOP` and `QUIT`. Started with
//! [`SmtpSink::start`] there is no TLS: a mailer talks to it with [`Tls::None`](crate::Tls::None), which
//! only loopback allows. Started with [`SmtpSink::start_with_starttls`] it offers `STARTTLS` with a test
//! certificate for `127.0.0.1` and `localhost` (signed by [`TEST_CA`], valid 2000–2126), and takes no login
//! and no mail before it: a mailer reaches it with [`Tls::Required`](crate::Tls::Required) and `TEST_CA` in
//! its extra roots.
//!
//! Each accepted message is kept as a [`ReceivedMail`]: the envelope sender, the recipients, the user
//! who logged in and the raw `DATA`. Faults are armed one at a time: [`refuse_next_recipient`]
//! (`550`), [`answer_4xx_once`] (`451` to the next `MAIL FROM`) and [`drop_connection_once`] (the
//! connection is closed once the next message's `DATA` is in, before any reply).
//!
//! Every connection is bounded (a minute of silence, 64 KiB a line, 10 MiB a message), and everything
//! stops when the sink is dropped.
//!
//! [`refuse_next_recipient`]: SmtpSink::refuse_next_recipient
//! [`answer_4xx_once`]: SmtpSink::answer_4xx_once
//! [`drop_connection_once`]: SmtpSink::drop_connection_once

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

const MAX_LINE: u64 = 64 * 1024;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const IDLE: Duration = Duration::from_secs(60);
const NAME: &str = "mallguard-sink";

/// The certificate (DER) of the test CA that signed the sink's STARTTLS certificate: trust it in the mailer.
pub const TEST_CA: &[u8] = include_bytes!("sink_tls/ca.der");
const TEST_CERTIFICATE: &[u8] = include_bytes!("sink_tls/leaf.der");
const TEST_KEY: &[u8] = include_bytes!("sink_tls/leaf.key.der");

/// An AUTH mechanism the sink can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
}

impl AuthMechanism {
    fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
        }
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The `MAIL FROM` path, without its angle brackets.
    pub from: String,
    /// The `RCPT TO` paths, without their angle brackets.
    pub recipients: Vec<String>,
    /// Who logged in on that connection.
    pub user: Option<String>,
    /// The message as sent, dot-unstuffed, with the client's line ends, without the final `.`.
    pub data: Vec<u8>,
    /// Whether it came over TLS (after `STARTTLS`).
    pub encrypted: bool,
}

impl ReceivedMail {
    /// The message as text (lossy: a mailer that keeps to ASCII loses nothing).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// The SMTP server; see the module docs.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    user: String,
    password: String,
    /// With [`SmtpSink::start_with_starttls`]: the TLS side of `STARTTLS`.
    tls: Option<Acceptor>,
    state: Mutex<State>,
}

struct Acceptor(TlsAcceptor);

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAcceptor")
    }
}

/// What a connection runs over: the TCP stream, then TLS over it after `STARTTLS`.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = Box<dyn Io>;

#[derive(Debug)]
struct State {
    mechanisms: Vec<AuthMechanism>,
    messages: Vec<ReceivedMail>,
    commands: Vec<String>,
    connections: usize,
    refuse_next_recipient: bool,
    answer_4xx_once: bool,
    drop_connection_once: bool,
    queue_ids: bool,
    next_id: u64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; the state is still readable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SmtpSink {
    /// Listens on `127.0.0.1:0`, offering AUTH PLAIN and LOGIN for `user` and `password`.
    pub async fn start(user: impl Into<String>, password: impl Into<String>) -> io::Result<Self> {
        Self::start_on(user.into(), password.into(), None).await
    }

    /// The same, offering `STARTTLS` with the test certificate (see the module docs) and taking no login or
    /// mail before it.
    pub async fn start_with_starttls(user: impl Into<String>, password: impl Into<String>) -> io::Result<Self> {
        let invalid = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidInput, e);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_no_client_auth()
            .with_single_cert(
                vec![TEST_CERTIFICATE.to_vec().into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(TEST_KEY.to_vec().into()),
            )
            .map_err(invalid)?;
        let acceptor = Acceptor(TlsAcceptor::from(Arc::new(config)));
        Self::start_on(user.into(), password.into(), Some(acceptor)).await
    }

    async fn start_on(user: String, password: String, tls: Option<Acceptor>) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            user,
            password,
            tls,
            state: Mutex::new(State {
                mechanisms: vec![AuthMechanism::Plain, AuthMechanism::Login],
                messages: vec![],
                commands: vec![],
                connections: 0,
                refuse_next_recipient: false,
                answer_4xx_once: false,
                drop_connection_once: false,
                queue_ids: true,
                next_id: 1,
            }),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Ok(Self { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.state().messages.clone()
    }

    /// The verbs of every command received so far (`EHLO`, `AUTH`, …), upper-cased, without their
    /// arguments (so never a credential or an address).
    pub fn commands(&self) -> Vec<String> {
        self.shared.state().commands.clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.state().connections
    }

    /// Offers only these mechanisms from the next `EHLO` on (none: no `AUTH` line, and no mail).
    pub fn offer_auth(&self, mechanisms: &[AuthMechanism]) {
        self.shared.state().mechanisms = mechanisms.to_vec();
    }

    /// The next `RCPT TO` gets `550 5.1.1 <address>: Recipient address rejected`.
    pub fn refuse_next_recipient(&self) {
        self.shared.state().refuse_next_recipient = true;
    }

    /// The next `MAIL FROM` gets `451 4.3.0`.
    pub fn answer_4xx_once(&self) {
        self.shared.state().answer_4xx_once = true;
    }

    /// The next message's connection is closed once its `DATA` is in, before any reply; the message
    /// is not recorded.
    pub fn drop_connection_once(&self) {
        self.shared.state().drop_connection_once = true;
    }

    /// Ends the final `250` with `Ok: queued as SINK…` (the default, as Postfix does) or with a bare
    /// `Ok`.
    pub fn queue_ids(&self, on: bool) {
        self.shared.state().queue_ids = on;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The accept loop owns every connection's task: aborting it ends them all.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.state().connections += 1;
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        // A client that goes away is no fault of the sink's.
                        let _ = serve(stream, shared).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One connection's state.
#[derive(Default)]
struct Session {
    greeted: bool,
    user: Option<String>,
    from: Option<String>,
    recipients: Vec<String>,
}

impl Session {
    fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
    }
}

struct Conn {
    reader: BufReader<ReadHalf<Stream>>,
    writer: WriteHalf<Stream>,
    encrypted: bool,
}

impl Conn {
    fn over(stream: Stream, encrypted: bool) -> Self {
        let (read, writer) = tokio::io::split(stream);
        Conn {
            reader: BufReader::new(read),
            writer,
            encrypted,
        }
    }

    /// The connection after the TLS handshake on its stream. Anything the client sent before the
    /// handshake and after `STARTTLS` is dropped (RFC 3207: a client must not pipeline past it).
    async fn starttls(self, acceptor: &TlsAcceptor) -> io::Result<Self> {
        let stream = self.reader.into_inner().unsplit(self.writer);
        let tls = tokio::time::timeout(IDLE, acceptor.accept(stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake went quiet"))??;
        Ok(Conn::over(Box::new(tls), true))
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(format!("{text}\r\n").as_bytes()).await?;
        self.writer.flush().await
    }

    /// One line with its line end, or `None` at the end of the stream.
    async fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![];
        let read = tokio::time::timeout(IDLE, (&mut self.reader).take(MAX_LINE).read_until(b'\n', &mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client went quiet"))??;
        if read == 0 {
            return Ok(None);
        }
        if !buf.ends_with(b"\n") {
            if buf.len() as u64 >= MAX_LINE {
                self.reply("500 5.5.2 Line too long").await?;
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            // The stream ended in the middle of a line.
            return Ok(None);
        }
        Ok(Some(buf))
    }

    /// A line without its line end, as text.
    async fn text_line(&mut self) -> io::Result<Option<String>> {
        Ok(self.line().await?.map(|l| {
            let l = String::from_utf8_lossy(&l).into_owned();
            l.trim_end_matches(['\r', '\n']).to_owned()
        }))
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let mut conn = Conn::over(Box::new(stream), false);
    let mut session = Session::default();
    conn.reply(&format!("220 {NAME} ESMTP ready")).await?;
    while let Some(line) = conn.text_line().await? {
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        shared.state().commands.push(verb.clone());
        // With STARTTLS offered, nothing but greetings and STARTTLS before it.
        let needs_tls = shared.tls.is_some() && !conn.encrypted;
        if needs_tls && matches!(verb.as_str(), "AUTH" | "MAIL" | "RCPT" | "DATA") {
            conn.reply("530 5.7.0 Must issue a STARTTLS command first").await?;
            continue;
        }
        match verb.as_str() {
            "STARTTLS" => {
                let Some(acceptor) = shared.tls.as_ref().filter(|_| needs_tls) else {
                    conn.reply("502 5.5.2 Error: command not recognized").await?;
                    continue;
                };
                conn.reply("220 2.0.0 Ready to start TLS").await?;
                conn = conn.starttls(&acceptor.0).await?;
                // RFC 3207: the client starts over with EHLO, and knows nothing of before.
                session = Session::default();
            }
            "EHLO" => {
                session = Session::default();
                session.greeted = true;
                let mechanisms = shared.state().mechanisms.clone();
                let mut lines = vec![format!("{NAME} greets {arg}")];
                if shared.tls.is_some() && !conn.encrypted {
                    lines.push("STARTTLS".to_owned());
                }
                if !mechanisms.is_empty() {
                    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
                    lines.push(format!("AUTH {}", names.join(" ")));
                }
                lines.extend([
                    "8BITMIME".to_owned(),
                    format!("SIZE {MAX_MESSAGE}"),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ]);
                let last = lines.len() - 1;
                let reply: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                conn.reply(&reply.join("\r\n")).await?;
            }
            "HELO" => {
                session = Session::default();
                session.greeted = true;
                conn.reply(&format!("250 {NAME}")).await?;
            }
            "AUTH" => auth(&mut conn, &shared, &mut session, &arg).await?,
            "MAIL" => {
                let reply = mail_from(&shared, &mut session, &arg);
                conn.reply(&reply).await?;
            }
            "RCPT" => {
                let reply = rcpt_to(&shared, &mut session, &arg);
                conn.reply(&reply).await?;
            }
            "DATA" => {
                if session.from.is_none() || session.recipients.is_empty() {
                    conn.reply("503 5.5.1 Error: need MAIL and RCPT first").await?;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(&mut conn).await? else {
                    return Ok(());
                };
                if data.len() > MAX_MESSAGE {
                    session.reset();
                    conn.reply("552 5.3.4 Message too big").await?;
                    continue;
                }
                let reply = {
                    let mut state = shared.state();
                    if std::mem::take(&mut state.drop_connection_once) {
                        drop(state);
                        // Gone before the reply: the client cannot know whether the mail was taken.
                        return Ok(());
                    }
                    state.messages.push(ReceivedMail {
                        from: session.from.take().unwrap_or_default(),
                        recipients: std::mem::take(&mut session.recipients),
                        user: session.user.clone(),
                        data,
                        encrypted: conn.encrypted,
                    });
                    let id = state.next_id;
                    state.next_id += 1;
                    if state.queue_ids {
                        format!("250 2.0.0 Ok: queued as SINK{id:06X}")
                    } else {
                        "250 2.0.0 Ok".to_owned()
                    }
                };
                session.reset();
                conn.reply(&reply).await?;
            }
            "RSET" => {
                session.reset();
                conn.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => conn.reply("250 2.0.0 Ok").await?,
            "QUIT" => {
                conn.reply("221 2.0.0 Bye").await?;
                return Ok(());
            }
            "VRFY" => conn.reply("252 2.5.2 Cannot VRFY user").await?,
            _ => conn.reply("502 5.5.2 Error: command not recognized").await?,
        }
    }
    Ok(())
}

/// `AUTH PLAIN [initial]` or `AUTH LOGIN [initial]`, with their `334` challenges.
async fn auth(conn: &mut Conn, shared: &Shared, session: &mut Session, arg: &str) -> io::Result<()> {
    if !session.greeted {
        return conn.reply("503 5.5.1 Error: send EHLO first").await;
    }
    if session.user.is_some() {
        return conn.reply("503 5.5.1 Error: already authenticated").await;
    }
    if session.from.is_some() {
        return conn.reply("503 5.5.1 Error: MAIL transaction in progress").await;
    }
    let (name, initial) = match arg.split_once(' ') {
        Some((name, initial)) => (name.to_ascii_uppercase(), Some(initial.trim().to_owned())),
        None => (arg.to_ascii_uppercase(), None),
    };
    let offered = shared.state().mechanisms.iter().any(|m| m.name() == name);
    if !offered {
        return conn.reply("504 5.5.4 Unrecognized authentication type").await;
    }
    // `None`: the client gave up (`*`) or went away; the reply is sent already.
    let credentials = if name == "PLAIN" {
        let Some(response) = challenge(conn, initial, "").await? else {
            return Ok(());
        };
        match decode(&response) {
            Some(decoded) => {
                let mut parts = decoded.split('\0');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(_authzid), Some(user), Some(password), None) => Some((user.to_owned(), password.to_owned())),
                    _ => None,
                }
            }
            None => None,
        }
    } else {
        let Some(user) = challenge(conn, initial, &STANDARD.encode("Username:")).await? else {
            return Ok(());
        };
        let Some(password) = challenge(conn, None, &STANDARD.encode("Password:")).await? else {
            return Ok(());
        };
        decode(&user).zip(decode(&password))
    };
    match credentials {
        None => conn.reply("501 5.5.2 Error: cannot decode the response").await,
        Some((user, password)) if user == shared.user && password == shared.password => {
            session.user = Some(user);
            conn.reply("235 2.7.0 Authentication successful").await
        }
        Some(_) => conn.reply("535 5.7.8 Error: authentication failed").await,
    }
}

/// The client's answer to a `334` challenge (or its initial response, when it gave one); `None` when it
/// cancelled (the `501` is sent) or went away.
async fn challenge(conn: &mut Conn, initial: Option<String>, prompt: &str) -> io::Result<Option<String>> {
    let response = match initial {
        // `=` is an empty initial response (RFC 4954).
        Some(initial) => Some(if initial == "=" { String::new() } else { initial }),
        None => {
            conn.reply(&format!("334 {prompt}")).await?;
            conn.text_line().await?
        }
    };
    match response {
        Some(r) if r.trim() == "*" => {
            conn.reply("501 5.7.0 Authentication cancelled").await?;
            Ok(None)
        }
        other => Ok(other),
    }
}

fn decode(base64: &str) -> Option<String> {
    STANDARD
        .decode(base64.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// The path of `FROM:<a@b> SIZE=…` or `TO:<a@b>`, without its brackets.
fn path(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .map(|_| &arg[keyword.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

fn mail_from(shared: &Shared, session: &mut Session, arg: &str) -> String {
    if !session.greeted {
        return "503 5.5.1 Error: send EHLO first".into();
    }
    if session.user.is_none() {
        return "530 5.7.0 Authentication required".into();
    }
    if session.from.is_some() {
        return "503 5.5.1 Error: nested MAIL command".into();
    }
    let Some(from) = path(arg, "FROM:") else {
        return "501 5.5.4 Syntax: MAIL FROM:<address>".into();
    };
    if std::mem::take(&mut shared.state().answer_4xx_once) {
        return "451 4.3.0 Error: temporary failure, try again later".into();
    }
    session.from = Some(from);
    "250 2.1.0 Ok".into()
}

fn rcpt_to(shared: &Shared, session: &mut Session, arg: &str) -> String {
    if session.from.is_none() {
        return "503 5.5.1 Error: need MAIL command".into();
    }
    let Some(to) = path(arg, "TO:") else {
        return "501 5.5.4 Syntax: RCPT TO:<address>".into();
    };
    if std::mem::take(&mut shared.state().refuse_next_recipient) {
        // As real servers do, the refusal names the address: the mailer must keep it out of its logs.
        return format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown");
    }
    session.recipients.push(to);
    "250 2.1.5 Ok".into()
}

/// The lines up to `.`, each leading dot of a stuffed line removed; `None` if the client went away.
/// Past [`MAX_MESSAGE`] the rest is read and dropped, so the caller can refuse it.
async fn read_data(conn: &mut Conn) -> io::Result<Option<Vec<u8>>> {
    let mut data = vec![];
    loop {
        let Some(line) = conn.line().await? else {
            return Ok(None);
        };
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() <= MAX_MESSAGE {
            data.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_without_their_brackets_and_parameters() {
        assert_eq!(
            path("FROM:<shop@example.jp> SIZE=123", "FROM:").as_deref(),
            Some("shop@example.jp")
        );
        assert_eq!(path("from: <a@b.example>", "FROM:").as_deref(), Some("a@b.example"));
        assert_eq!(path("TO:<>", "TO:").as_deref(), Some(""));
        assert_eq!(path("TO:a@b.example", "TO:"), None);
        assert_eq!(path("FROM:<a@b.example>", "TO:"), None);
    }

    #[tokio::test]
    async fn a_raw_session_is_answered_and_dots_are_unstuffed() {
        let sink = SmtpSink::start("u", "p").await.unwrap();
        let stream = TcpStream::connect(sink.addr()).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut replies = String::new();
        let plain = STANDARD.encode("\0u\0p");
        let script = format!(
            "EHLO t\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN {plain}\r\nNOOP\r\nMAIL FROM:<a@b.example>\r\n\
             RCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\nRSET\r\nQUIT\r\n"
        );
        write.write_all(script.as_bytes()).await.unwrap();
        reader.read_to_string(&mut replies).await.unwrap();
        let codes: Vec<&str> = replies
            .lines()
            .filter(|l| l.len() > 3 && l.as_bytes()[3] == b' ')
            .map(|l| &l[..3])
            .collect();
        assert_eq!(
            codes,
            [
                "220", "250", "530", "235", "250", "250", "250", "354", "250", "250", "221"
            ],
            "{replies}"
        );
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].user.as_deref(), Some("u"));
        assert_eq!(messages[0].text(), "Subject: x\r\n\r\n.leading dot\r\n");
        assert_eq!(
            sink.commands(),
            ["EHLO", "MAIL", "AUTH", "NOOP", "MAIL", "RCPT", "DATA", "RSET", "QUIT"]
        );
    }
}
