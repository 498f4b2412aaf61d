//! `mallguard serve`: the ingest and respond routers on one local port, and the expiry sweep on a timer.
//! On the embedded store by default; with `--store dynamodb` on DynamoDB and SES (DynamoDB Local and
//! moto, through the standard `AWS_ENDPOINT_URL_*` variables), so the real adapters can be tried locally.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mallguard_ingest::IngestConfig;
use tokio::net::TcpListener;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::args::{CliResult, ServeArgs, ShopArgs, StoreKind, url_of};

/// How long a client may take to send a request's line and headers, and how long a kept-alive connection
/// may sit idle, before the connection is closed: a client that opens connections and never finishes a
/// request (by mistake, or to exhaust the server) holds each for this long at most.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take in all, its body included, before it is answered 408 Request Timeout;
/// also the longest a body may pause between two of its parts.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most connections served at once; more wait in the listen backlog until one closes.
const MAX_CONNECTIONS: usize = 512;
/// The most signed orders worked on at once; more wait for a turn (their wait counts toward the request
/// timeout). Each holds an order, its mails and its writes in memory: unbounded, 64 connections posting held
/// orders at once took the program past 40 MB, where 16 at a time keep it under 30 MB with the same
/// throughput (two cores are busy either way). A turn is taken once the body is read and its signature
/// verified, so slow or unsigned senders hold none, and pages never wait for one.
const MAX_WEBHOOKS: usize = 16;
/// How long Ctrl-C waits for the requests in flight to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The server's limits: the constants above, each replaceable by a variable that is deliberately not a
/// flag (tests and tuning, not everyday use): `MALLGUARD_HEADER_TIMEOUT_SECS`,
/// `MALLGUARD_REQUEST_TIMEOUT_SECS`, `MALLGUARD_MAX_CONNECTIONS`, `MALLGUARD_MAX_WEBHOOKS`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_timeout: Duration,
    request_timeout: Duration,
    max_connections: usize,
    max_webhooks: usize,
}

impl Limits {
    fn from_env() -> CliResult<Self> {
        let secs = |name: &str, default: Duration| -> CliResult<Duration> {
            Ok(positive(name)?.map_or(default, Duration::from_secs))
        };
        Ok(Self {
            header_timeout: secs("MALLGUARD_HEADER_TIMEOUT_SECS", HEADER_TIMEOUT)?,
            request_timeout: secs("MALLGUARD_REQUEST_TIMEOUT_SECS", REQUEST_TIMEOUT)?,
            max_connections: count("MALLGUARD_MAX_CONNECTIONS", MAX_CONNECTIONS)?,
            max_webhooks: count("MALLGUARD_MAX_WEBHOOKS", MAX_WEBHOOKS)?,
        })
    }
}

/// How many of something the environment variable `name` allows, else `default`.
fn count(name: &str, default: usize) -> CliResult<usize> {
    match positive(name)? {
        Some(n) => Ok(usize::try_from(n).map_err(|_| format!("{name} is too large"))?),
        None => Ok(default),
    }
}

/// A whole number above zero from the environment variable `name`, if it is set.
fn positive(name: &str) -> CliResult<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{name} must be a whole number above zero, not {text:?}").into()),
        },
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} must be a whole number above zero").into()),
    }
}

/// The table's definition, compiled in so the program creates exactly the table the stack deploys.
const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Creates the table from the template unless it exists.
async fn ensure_table(table: &str) -> CliResult<bool> {
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(false),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            mallguard_aws::table_setup::create_table_from_template(&client, table, TEMPLATE).await?;
            Ok(true)
        }
        Err(err) => Err(format!(
            "cannot reach the DynamoDB table {table}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        )
        .into()),
    }
}

/// Where the SDK sends a service's requests: the standard variables, else AWS itself.
fn endpoint(service_variable: &str) -> String {
    std::env::var(service_variable)
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| "AWS".to_owned())
}

pub async fn serve(shop: &ShopArgs, args: ServeArgs) -> CliResult<ExitCode> {
    let feed_args = &shop.malls;
    let limits = Limits::from_env()?;
    let listener = TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (choose another with --bind)", args.bind))?;
    let addr = listener.local_addr()?;
    let created = if shop.state.store == StoreKind::Dynamodb && args.create_table {
        ensure_table(&shop.state.table).await?
    } else {
        false
    };
    let local = crate::local::compose_server(shop, url_of(addr)).await?;
    let feeds = crate::local::feeds(&local, feed_args, None, shop.knobs.policy().window)?;
    let crate::local::Local { app, webhooks, .. } = local;
    let console = mallguard_console::ConsoleConfig {
        staff: shop.knobs.staff_list(),
        base_url: mallguard_console::ConsoleUrl::Fixed(shop.knobs.console_url.clone().unwrap_or_else(|| url_of(addr))),
    };
    let staff_line = console
        .staff
        .addresses()
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let router = axum::Router::new()
        .route("/", axum::routing::get(index))
        .merge(mallguard_ingest::router(
            app.clone(),
            IngestConfig {
                at_once: Some(limits.max_webhooks),
                ..IngestConfig::new(webhooks)
            },
        ))
        .merge(mallguard_respond::router(app.clone()))
        .merge(mallguard_console::router(
            app.clone(),
            std::sync::Arc::new(mallguard_malls::inbound::Malls),
            console,
        ));

    let sweeper = app.clone();
    let every = Duration::from_secs(args.sweep_every.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(err) = sweeper.sweep().await {
                tracing::warn!(error = %err, "expiry sweep failed; trying again at the next tick");
            }
        }
    });

    // The malls that push nothing are polled on their own timer, every shop in turn.
    let poll_every = Duration::from_secs(args.poll_every.max(10));
    if !feeds.is_empty() {
        let poller = app.clone();
        let budget = feed_args.budget();
        let feeds = feeds.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll_every);
            loop {
                tick.tick().await;
                for feed in &feeds {
                    match poller.poll(feed.as_ref(), budget).await {
                        Ok(report) => tracing::info!(mall = %feed.mall(), shop = %feed.shop(), ?report, "polled"),
                        Err(err) => {
                            tracing::warn!(mall = %feed.mall(), shop = %feed.shop(), error = %err, "poll failed; trying again at the next tick")
                        }
                    }
                }
            }
        });
    }

    let data = shop.data_dir();
    let url = url_of(addr);
    // The send commands must reach this server and sign with this data folder's secrets.
    let mut port_flag = if addr.port() == 9000 {
        String::new()
    } else {
        format!(" --url {url}")
    };
    if shop.state.data.data != std::path::Path::new(".mallguard") {
        port_flag.push_str(&format!(" --data {}", shell_word(&data.root().display().to_string())));
    }
    let (store_line, where_line) = match shop.state.store {
        StoreKind::Embedded => (
            "the embedded store".to_owned(),
            format!(
                "data folder:  {} (mails are written to {})",
                data.root().display(),
                data.outbox().display()
            ),
        ),
        StoreKind::Dynamodb => (
            format!(
                "DynamoDB table {}{} at {}, mail through SES at {}",
                shop.state.table,
                if created { " (just created)" } else { "" },
                endpoint("AWS_ENDPOINT_URL_DYNAMODB"),
                endpoint("AWS_ENDPOINT_URL_SESV2"),
            ),
            format!(
                "secrets:      {}/secrets.json; SES sends only from a verified sender (moto too):\
                 \n                aws sesv2 create-email-identity --email-identity {} --endpoint-url {}",
                data.root().display(),
                shop.knobs.sender,
                endpoint("AWS_ENDPOINT_URL_SESV2"),
            ),
        ),
    };
    println!(
        "mallguard is running on {store_line}.\n\
         \n  webhooks:     {url}/webhooks/shopify   {url}/webhooks/generic\
         \n  buyer pages:  {url}/h/<token>\
         \n  console:      {url}/console/ (staff sign in as {staff_line}; the link is mailed)\
         \n  {where_line}\
         \n  expiry sweep: every {secs} s{polling}\
         \n\nSend two same-item orders from another terminal; the second is held:\
         \n  cargo run -- send events/generic/order.json{port_flag}\
         \n  cargo run -- send events/generic/order-duplicate.json{port_flag}\n",
        secs = every.as_secs(),
        polling = if feeds.is_empty() {
            String::new()
        } else {
            let shops: Vec<String> = feeds.iter().map(|f| format!("{} {}", f.mall(), f.shop())).collect();
            format!(
                "\n  polling:      {} every {} s",
                shops.join(", "),
                poll_every.as_secs()
            )
        },
    );
    // A request is answered 408 once it has taken `request_timeout` in all (the last layer, the outermost),
    // and its body fails once it pauses that long (a handler reading it then gives up).
    let router = router
        .layer(RequestBodyTimeoutLayer::new(limits.request_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    run(listener, router, limits, shutdown()).await;
    // The last requests' mails are recorded before the process ends: unrecorded, they would go out again.
    app.written_behind().await;
    println!("mallguard stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Serves `router` on `listener` until `stop` completes, then waits up to [`SHUTDOWN_GRACE`] for the
/// requests in flight (idle connections close at once).
///
/// HTTP/1 only, as `axum::serve` was here, with what it lacks: every connection must deliver a request's
/// headers within the header timeout (also the idle limit between two requests on one connection), and
/// at most `max_connections` are served at once: the accept loop takes a slot before it accepts, so
/// beyond the limit new connections wait in the kernel's backlog instead of costing a task each.
async fn run(listener: TcpListener, router: axum::Router, limits: Limits, stop: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            // A header timeout, a reset, a malformed request: the client's business, not the log's.
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
}

/// `GET /`: what this server is, for whoever opens its address in a browser.
async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(INDEX)
}

const INDEX: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mallguard（ローカル）</title>
<style>body{font-family:system-ui,"Noto Sans CJK JP",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.7}
code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}</style></head>
<body>
<h1>mallguard</h1>
<p>重複注文の疑いを発送前に保留し、購入者に確認するサーバーです（ローカル実行）。</p>
<ul>
<li>モールからの注文通知: <code>POST /webhooks/shopify</code>、<code>POST /webhooks/generic</code></li>
<li>購入者の確認ページ: <code>/h/&lt;トークン&gt;</code>（確認メールのリンクから開きます）</li>
<li>スタッフ用コンソール: <a href="/console/">/console/</a>（保留・注文の経過・ブラックリスト・隔離。サインイン用リンクはメールで届きます）</li>
<li>保留の一覧（コマンド）: <code>cargo run -- holds</code></li>
</ul>
<p lang="en">mallguard holds suspected duplicate orders before they ship and asks the buyer. Order webhooks:
<code>POST /webhooks/shopify</code>, <code>POST /webhooks/generic</code>. The buyer's page: <code>/h/&lt;token&gt;</code>,
linked from the notice mail. The staff's console: <a href="/console/">/console/</a> (holds, timelines, blacklist,
quarantine; the sign-in link is mailed). Holds at the command line: <code>cargo run -- holds</code>.</p>
</body></html>
"#;

/// A path as one shell word: quoted when it holds anything a shell would split or expand.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Completes on Ctrl-C, or on SIGTERM (how systemd, a container runtime or `kill` stops a process), so
/// either way the requests in flight finish and the log's waiting lines are written.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
