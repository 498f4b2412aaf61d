//! The load: orders posted to a server with keep-alive by a fixed number of workers, one connection each,
//! every request timed from send to the last byte of the answer.

use std::sync::Arc;
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

/// One client per worker, each keeping its one connection alive across batches.
pub struct Load {
    clients: Vec<reqwest::Client>,
    url: String,
    secret: Option<String>,
}

impl Load {
    /// `secret`: sign with it (None: post unsigned, for the bare server).
    pub fn new(base_url: &str, secret: Option<String>, concurrency: usize) -> Self {
        let clients = (0..concurrency.max(1))
            .map(|_| {
                reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("a plain HTTP client builds")
            })
            .collect();
        Self {
            clients,
            url: format!("{}/webhooks/generic", base_url.trim_end_matches('/')),
            secret,
        }
    }

    /// Posts `orders` in order, batch by batch (each batch finished before the next is signed).
    pub async fn post(&self, orders: &[Order], batch: usize) -> LoadResult {
        let mut total = LoadResult::default();
        for chunk in orders.chunks(batch.max(1)) {
            total.merge(self.post_batch(chunk).await);
        }
        total
    }

    async fn post_batch(&self, orders: &[Order]) -> LoadResult {
        let timestamp = Timestamp::now().as_second();
        let signed: Arc<Vec<(Order, Option<String>)>> = Arc::new(
            orders
                .iter()
                .map(|o| {
                    let sig = self
                        .secret
                        .as_ref()
                        .map(|s| generic::sign(s, &o.id, timestamp, &o.body));
                    (o.clone(), sig)
                })
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(self.clients.len());
        for client in &self.clients {
            let (client, signed, next, url) =
                (client.clone(), Arc::clone(&signed), Arc::clone(&next), self.url.clone());
            tasks.push(tokio::spawn(async move {
                let mut r = LoadResult::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((order, sig)) = signed.get(i) else { break };
                    let mut req = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(order.body.clone());
                    if let Some(sig) = sig {
                        req = req
                            .header(generic::ID_HEADER, &order.id)
                            .header(generic::TIMESTAMP_HEADER, timestamp.to_string())
                            .header(generic::SIGNATURE_HEADER, sig);
                    }
                    let t = Instant::now();
                    let answer = match req.send().await {
                        Ok(resp) => {
                            let status = resp.status();
                            resp.bytes().await.map(|b| (status, b)).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    r.latencies.push(t.elapsed());
                    r.sent += 1;
                    match answer {
                        Ok((status, body)) if status.is_success() => {
                            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                            match v["status"].as_str() {
                                Some("accepted") => r.accepted += 1,
                                Some("held") => r.held += 1,
                                _ => r.other += 1,
                            }
                        }
                        Ok((status, body)) => {
                            r.errors += 1;
                            if r.error_samples.len() < 5 {
                                r.error_samples.push(format!(
                                    "{status}: {}",
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
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
            }));
        }
        let mut total = LoadResult::default();
        for task in tasks {
            total.merge(task.await.expect("a load worker does not panic"));
        }
        total.wall = started.elapsed();
        total
    }
}
