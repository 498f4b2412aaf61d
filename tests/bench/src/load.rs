//! The load: orders posted to a server with keep-alive by a fixed number of workers, one connection each,
//! every request timed from send to the last byte of the answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mallguard_malls::generic;

use crate::orders::Order;

/// Orders signed at once: Standard Webhooks signatures expire after five minutes, so each batch is signed
/// just before it is posted rather than all up front.
pub const SIGN_BATCH: usize = 1_000;

#[derive(Debug, Default, Clone)]
pub struct LoadResult {
    pub sent: usize,
    pub accepted: usize,
    pub held: usize,
    /// Other 2xx answers (redelivered, quarantined, …).
    pub other: usize,
    pub errors: usize,
    pub error_samples: Vec<String>,
    /// Time spent posting (signing excluded).
    pub wall: Duration,
    pub latencies: Vec<Duration>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.sent as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of the latencies, in ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    pub fn merge(&mut self, other: LoadResult) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.held += other.held;
        self.other += other.other;
        self.errors += other.errors;
        for s in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(s);
            }
        }
        self.wall += other.wall;
        self.latencies.extend(other.latencies);
    }
}

pub fn quantile_ms(latencies: &[Duration], q: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// A worker's connection: the socket and what it has read beyond the last answer.
struct Connection {
    stream: TcpStream,
    read: Vec<u8>,
}

/// An answer: its status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
    /// The server said `connection: close`: the next request needs a new connection.
    closing: bool,
}

/// Workers with one keep-alive connection each, posting requests built before the clock starts.
///
/// Plain HTTP/1.1 on blocking sockets, one thread per worker: the load generator's own work counts in every
/// latency at concurrency 1, and a general client (reqwest, whose connection runs as a task of its own on
/// the runtime) added 0.02-0.04 ms to a request's 0.45 ms there, measured in alternating runs.
pub struct Load {
    /// `host:port`.
    authority: String,
    path: String,
    secret: Option<String>,
    connections: Vec<Mutex<Option<Connection>>>,
}

impl Load {
    /// `base_url`: `http://host:port` (the load speaks plain HTTP only); `secret`: sign with it (None: post
    /// unsigned, for the bare server).
    pub fn new(base_url: &str, secret: Option<String>, concurrency: usize) -> Result<Self, String> {
        let authority = base_url
            .trim_end_matches('/')
            .strip_prefix("http://")
            .filter(|authority| !authority.is_empty() && !authority.contains('/'))
            .ok_or_else(|| format!("{base_url:?}: the load posts to http://host:port (plain HTTP, no path)"))?
            .to_owned();
        Ok(Self {
            authority,
            path: "/webhooks/generic".to_owned(),
            secret,
            connections: (0..concurrency.max(1)).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Posts `orders` in order, batch by batch (each batch finished before the next is signed). Blocks: the
    /// workers are threads of their own, and a caller on the runtime gives up its worker meanwhile.
    pub fn post(&self, orders: &[Order], batch: usize) -> LoadResult {
        let mut total = LoadResult::default();
        for chunk in orders.chunks(batch.max(1)) {
            total.merge(self.post_batch(chunk));
        }
        total
    }

    fn post_batch(&self, orders: &[Order]) -> LoadResult {
        let timestamp = Timestamp::now().as_second();
        let requests: Vec<Vec<u8>> = orders.iter().map(|o| self.request(o, timestamp)).collect();
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        // The workers block on their sockets: off the runtime's threads, which the caller may need meanwhile.
        let results = tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                let workers: Vec<_> = self
                    .connections
                    .iter()
                    .map(|slot| scope.spawn(|| self.work(slot, &requests, &next)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a load worker does not panic"))
                    .collect::<Vec<_>>()
            })
        });
        let mut total = LoadResult::default();
        for r in results {
            total.merge(r);
        }
        total.wall = started.elapsed();
        total
    }

    /// The request for `order`, whole: head and body.
    fn request(&self, order: &Order, timestamp: i64) -> Vec<u8> {
        let mut head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            self.path,
            self.authority,
            order.body.len()
        );
        if let Some(secret) = &self.secret {
            let signature = generic::sign(secret, &order.id, timestamp, &order.body);
            head.push_str(&format!(
                "{}: {}\r\n{}: {timestamp}\r\n{}: {signature}\r\n",
                generic::ID_HEADER,
                order.id,
                generic::TIMESTAMP_HEADER,
                generic::SIGNATURE_HEADER
            ));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(&order.body);
        request
    }

    /// One worker: takes the next request until none is left.
    fn work(&self, slot: &Mutex<Option<Connection>>, requests: &[Vec<u8>], next: &AtomicUsize) -> LoadResult {
        let mut slot = slot.lock().expect("a worker's connection is never poisoned");
        let mut r = LoadResult::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(request) = requests.get(i) else { break };
            let t = Instant::now();
            let answer = self.exchange(&mut slot, request);
            r.latencies.push(t.elapsed());
            r.sent += 1;
            match answer {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
                    match v["status"].as_str() {
                        Some("accepted") => r.accepted += 1,
                        Some("held") => r.held += 1,
                        _ => r.other += 1,
                    }
                }
                Ok(answer) => {
                    r.errors += 1;
                    if r.error_samples.len() < 5 {
                        r.error_samples.push(format!(
                            "{}: {}",
                            answer.status,
                            String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
                        ));
                    }
                }
                Err(e) => {
                    r.errors += 1;
                    if r.error_samples.len() < 5 {
                        r.error_samples.push(e);
                    }
                }
            }
        }
        r
    }

    /// Sends `request` on the worker's connection (a new one if it has none) and reads the answer; a
    /// connection that failed or that the server closes is dropped. A kept-alive connection the server had
    /// closed meanwhile (idle too long, say) fails before any byte of an answer: the request goes once more
    /// on a new connection, as general clients do.
    fn exchange(&self, slot: &mut Option<Connection>, request: &[u8]) -> Result<Answer, String> {
        let reused = slot.is_some();
        let answer = match self.send(slot, request) {
            Err(Failed::ClosedBeforeAnswer(_)) if reused => self.send(slot, request),
            answer => answer,
        };
        answer.map_err(Failed::into_message)
    }

    fn send(&self, slot: &mut Option<Connection>, request: &[u8]) -> Result<Answer, Failed> {
        if slot.is_none() {
            let conn = self
                .connect()
                .map_err(|e| Failed::Other(format!("cannot connect to {}: {e}", self.authority)))?;
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("connected just above");
        let answer = match conn.stream.write_all(request) {
            Ok(()) => read_answer(conn),
            Err(e) if closed(&e) => Err(Failed::ClosedBeforeAnswer(format!("sending: {e}"))),
            Err(e) => Err(Failed::Other(format!("sending: {e}"))),
        };
        if answer.as_ref().map_or(true, |a| a.closing) {
            *slot = None;
        }
        answer
    }

    fn connect(&self) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(&self.authority)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Connection {
            stream,
            read: Vec::with_capacity(4096),
        })
    }
}

/// How long a worker waits for a server that stopped answering.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exchange failed.
enum Failed {
    /// The connection was closed or reset before any byte of the answer came.
    ClosedBeforeAnswer(String),
    Other(String),
}

impl Failed {
    fn into_message(self) -> String {
        match self {
            Failed::ClosedBeforeAnswer(e) | Failed::Other(e) => e,
        }
    }
}

/// Whether `e` says the peer closed or reset the connection.
fn closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        e.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof
    )
}

/// Reads one answer: the head up to its blank line, then `content-length` bytes of body.
fn read_answer(conn: &mut Connection) -> Result<Answer, Failed> {
    let head_end = loop {
        if let Some(at) = conn.read.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let nothing_yet = conn.read.is_empty();
        fill(conn).map_err(|e| match e {
            Failed::ClosedBeforeAnswer(e) if !nothing_yet => Failed::Other(e),
            e => e,
        })?;
    };
    let other = |e: String| Failed::Other(e);
    let head =
        std::str::from_utf8(&conn.read[..head_end]).map_err(|_| other("an answer's head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| other(format!("not an HTTP answer: {:?}", &head[..head.len().min(100)])))?;
    let mut length = None;
    let mut closing = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            closing = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(other(format!("a {status} answer came {value}, not with a length")));
        }
    }
    let length = length.ok_or_else(|| other(format!("a {status} answer without content-length")))?;
    while conn.read.len() < head_end + length {
        fill(conn).map_err(|e| other(e.into_message()))?;
    }
    let body = conn.read[head_end..head_end + length].to_vec();
    conn.read.drain(..head_end + length);
    Ok(Answer { status, body, closing })
}

/// Reads what the socket has into the connection's buffer.
fn fill(conn: &mut Connection) -> Result<(), Failed> {
    let mut chunk = [0u8; 4096];
    match conn.stream.read(&mut chunk) {
        Ok(0) => Err(Failed::ClosedBeforeAnswer(
            "the server closed the connection".to_owned(),
        )),
        Ok(n) => {
            conn.read.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) if closed(&e) => Err(Failed::ClosedBeforeAnswer(format!("reading: {e}"))),
        Err(e) => Err(Failed::Other(format!("reading: {e}"))),
    }
}
