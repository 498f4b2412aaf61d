//! Cold starts of the deployed functions, measured on this machine: each bootstrap of `mallguard-lambda`
//! (a native release build) is started as Lambda starts it — the Lambda environment variables, the
//! function's environment as infra/template.yaml sets it, dummy credentials, endpoints pointing at
//! DynamoDB Local and moto — against a small emulator of the Lambda Runtime API on loopback, and handed its
//! sample event from `events/lambda/`.
//!
//! Per function: the init time (spawn to the first `GET …/invocation/next`: the cold start's own work,
//! reading the secret, warming the table, building the clients), the first invocation (event handed out to
//! response posted), whether it succeeded, and the peak RSS (`VmHWM`) after it. Some functions get further
//! events on the same process, timed as warm invocations (and preparing what the next function needs: the
//! Shopify pair ingested holds the order the respond and mail-events samples name).
//!
//! The deployment's secret holds the Amazon seller of the SQS sample, read from the fake SP-API of
//! `mallguard-feeds` on loopback (the poll and amazon-notifications functions' `MALLGUARD_AMAZON_URL`), so
//! every function starts as it would for a shop selling on Amazon. Before the first function starts, the
//! stand-ins are warmed up (DynamoDB Local's JVM compiles its hot paths on first use). The times include the
//! stand-ins' own latency on loopback (moto answers SES and Secrets Manager from Python): they compare the
//! functions with each other and over time, not with AWS.
//!
//! The Runtime API contract served (version 2018-06-01):
//! - `GET /2018-06-01/runtime/invocation/next`: waits for an event, answers 200 with the event as body and
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (Unix ms), `Lambda-Runtime-Invoked-Function-Arn`
//!   and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: the result, answered 202;
//! - `POST /2018-06-01/runtime/invocation/{id}/error`: an error (`Lambda-Runtime-Function-Error-Type`, a JSON
//!   body with `errorMessage`/`errorType`), answered 202;
//! - `POST /2018-06-01/runtime/init/error`: the init failed, answered 202.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use mallguard_feeds::fake_amazon::{self, FakeSpApi};

use crate::services::{Services, die_with_parent};

/// The secrets of the deployment the functions run in: the test values the samples in `events/lambda/`
/// were signed with (tests/lambda/main.rs), so the Shopify samples verify and the respond samples' link
/// token is valid. The generic secret also signs the fresh generic order handed to ingest. The Amazon
/// seller of the SQS sample (the fake SP-API's credentials) is added at run time.
const SECRETS: &str = r#"{
  "identity_pepper": "dGVzdCBwZXBwZXIgZm9yIHRoZSBsYW1iZGEgdGVzdHM=",
  "link_key": "dGVzdCBsaW5rIGtleSBmb3IgdGhlIGxhbWJkYSB0ZXN0cw==",
  "shopify": { "tanaka-shop": "test-shopify-secret-for-lambda" },
  "generic": ["whsec_dGVzdCBnZW5lcmljIHNlY3JldCBmb3IgbGFtYmRhISE="]
}"#;
const GENERIC_SECRET: &str = "whsec_dGVzdCBnZW5lcmljIHNlY3JldCBmb3IgbGFtYmRhISE=";
const SENDER: &str = "noreply@tanaka-shop.example";
const REGION: &str = "ap-northeast-1";
const ACCOUNT: &str = "123456789012";
/// The respond function's URL, as the other functions' `MALLGUARD_PUBLIC_URL` (the template's default).
const RESPOND_URL: &str = "https://p7lq2h3kz5w6x7y8a9b0c1d2e3f4g5h6.lambda-url.ap-northeast-1.on.aws/";
/// The memory the template gives every function.
const MEMORY_MB: u32 = 128;
/// How long a function may take to start and answer before it is given up on.
const GIVE_UP: Duration = Duration::from_secs(60);

/// One function's cold start.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub function: String,
    /// The event of the first invocation (a file in `events/lambda/`, or what it was made from).
    pub event: String,
    /// Spawn to the first `GET …/invocation/next`, ms. None: it never asked.
    pub init_ms: Option<f64>,
    /// First event handed out to its response (or error) posted, ms.
    pub first_invoke_ms: Option<f64>,
    /// `response`, `error` (invocation error), `init_error`, `exited` (before answering) or `timeout`.
    pub outcome: String,
    /// A response was posted, and it says success: an HTTP status below 400 for the Function URL functions,
    /// no `batchItemFailures` for the SQS one.
    pub success: bool,
    /// The HTTP status in the response of a Function URL function.
    pub status_code: Option<u16>,
    /// Peak resident set (`VmHWM`, kB) after the first invocation.
    pub peak_rss_kb: Option<u64>,
    /// Resident set (`VmRSS`, kB) after the first invocation.
    pub rss_kb: Option<u64>,
    /// The first invocation's response or error body, shortened.
    pub detail: String,
    /// Further invocations on the same (now warm) process.
    pub warm: Vec<WarmInvoke>,
    /// The function's own log (stdout and stderr).
    pub log: PathBuf,
}

/// An invocation of a warm process.
#[derive(Debug, Clone, Serialize)]
pub struct WarmInvoke {
    pub event: String,
    pub invoke_ms: f64,
    pub success: bool,
    pub status_code: Option<u16>,
    pub detail: String,
}

/// How a function is invoked: its events and the environment the template gives it.
struct Function {
    name: &'static str,
    /// The template's timeout, for the deadline header.
    timeout: Duration,
    /// Function URL functions answer an API Gateway v2 response with a status code.
    http: bool,
    sqs: bool,
    /// The first (measured cold) event, then the warm ones: (label, payload).
    events: Vec<(String, Vec<u8>)>,
    env: Vec<(&'static str, String)>,
}

/// Starts each function's bootstrap in `bins_dir` (`cargo build --release -p mallguard-lambda --bins`) in
/// turn against a fresh deployment on `services` (table from `root/infra/template.yaml`, secret, SES identity
/// and configuration set), and measures its cold start. Functions run one at a time, in an order where
/// each finds what its sample event names.
pub async fn run(bins_dir: &Path, services: &Services, root: &Path) -> Result<Vec<ColdStart>, String> {
    let deployment = Deployment::create(services, root).await?;
    let functions = functions(root, &deployment)?;
    let mut results = vec![];
    for function in functions {
        let binary = bins_dir.join(function.name);
        if !binary.is_file() {
            return Err(format!(
                "{} is missing: build the bootstraps with `cargo build --release -p mallguard-lambda --bins`",
                binary.display()
            ));
        }
        let log = services.logs.join(format!("lambda-{}.log", function.name));
        let result = measure(&binary, &function, services, &log).await?;
        results.push(result);
    }
    Ok(results)
}

/// What the template creates once for all functions, and the stand-in of Amazon's SP-API the secret's
/// Amazon seller is read from (the poll and amazon-notifications functions' `MALLGUARD_AMAZON_URL`).
struct Deployment {
    table: String,
    secret_arn: String,
    configuration_set: Option<String>,
    amazon: FakeSpApi,
}

impl Deployment {
    async fn create(services: &Services, root: &Path) -> Result<Self, String> {
        let sdk = sdk_config().await;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let table = format!("mallguard-bench-cold-{}-{stamp}", std::process::id());
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(&services.dynamodb)
                .build(),
        );
        let template_path = root.join("infra/template.yaml");
        let template =
            std::fs::read_to_string(&template_path).map_err(|e| format!("{}: {e}", template_path.display()))?;
        mallguard_aws::table_setup::create_table_from_template(&ddb, &table, &template)
            .await
            .map_err(|e| format!("creating the table {table}: {e}"))?;

        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&sdk)
                .endpoint_url(&services.ses)
                .build(),
        );
        // The Amazon seller the SQS sample's notifications name, read from the fake SP-API.
        let amazon = FakeSpApi::start().await;
        let mut secret_json: Value = serde_json::from_str(SECRETS).map_err(|e| e.to_string())?;
        secret_json["amazon"] = json!({
            fake_amazon::SELLER: {
                "client_id": fake_amazon::CLIENT_ID,
                "client_secret": fake_amazon::CLIENT_SECRET,
                "refresh_token": fake_amazon::REFRESH_TOKEN
            }
        });
        let secret = secrets
            .create_secret()
            .name(format!("mallguard/bench-cold-{}-{stamp}", std::process::id()))
            .secret_string(secret_json.to_string())
            .send()
            .await
            .map_err(|e| format!("creating the secret in moto: {}", error_chain(&e)))?;
        let secret_arn = secret.arn().ok_or("moto returned no secret ARN")?.to_owned();

        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&sdk)
                .endpoint_url(&services.ses)
                .build(),
        );
        ses.create_email_identity()
            .email_identity(SENDER)
            .send()
            .await
            .map_err(|e| format!("creating the SES identity in moto: {}", error_chain(&e)))?;
        // The template gives every function a configuration set (MailConfigurationSet).
        let set_name = format!("mallguard-bench-mail-{stamp}");
        let configuration_set = match ses
            .create_configuration_set()
            .configuration_set_name(&set_name)
            .send()
            .await
        {
            Ok(_) => Some(set_name),
            Err(e) => {
                eprintln!(
                    "coldstart: moto refused the SES configuration set ({}); the functions run without one",
                    error_chain(&e)
                );
                None
            }
        };
        warm_up(&ddb, &secrets, &table, &secret_arn).await?;
        Ok(Deployment {
            table,
            secret_arn,
            configuration_set,
            amazon,
        })
    }
}

/// DynamoDB Local runs on a JVM that compiles its hot paths as they are used: the first function measured
/// would pay for that (and for moto's first Secrets Manager call). The stand-ins answer these calls, of the
/// kinds a cold start and an ingest make, before any function starts. The items written are the bench's
/// own (`BENCHWARM#…`), which no function reads.
async fn warm_up(
    ddb: &aws_sdk_dynamodb::Client,
    secrets: &aws_sdk_secretsmanager::Client,
    table: &str,
    secret_arn: &str,
) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let s = |v: String| AttributeValue::S(v);
    for i in 0..WARM_UP_ROUNDS {
        let pk = format!("BENCHWARM#{i}");
        ddb.get_item()
            .table_name(table)
            .key("pk", s(pk.clone()))
            .key("sk", s("WARM".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("warming DynamoDB Local up: {}", error_chain(&e)))?;
        ddb.query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("warming DynamoDB Local up: {}", error_chain(&e)))?;
        let put = Put::builder()
            .table_name(table)
            .item("pk", s(pk))
            .item("sk", s("WARM".into()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| e.to_string())?;
        ddb.transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await
            .map_err(|e| format!("warming DynamoDB Local up: {}", error_chain(&e)))?;
        secrets
            .get_secret_value()
            .secret_id(secret_arn)
            .send()
            .await
            .map_err(|e| format!("warming moto up: {}", error_chain(&e)))?;
    }
    Ok(())
}

/// Rounds of [`warm_up`]: enough for DynamoDB Local's answers to settle at their steady time.
const WARM_UP_ROUNDS: usize = 200;

/// Region and dummy credentials set here, never looked up: nothing may reach a real account.
async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "mallguard-bench",
        ))
        .load()
        .await
}

/// The seven functions with their events and environments, in the order they run.
fn functions(root: &Path, deployment: &Deployment) -> Result<Vec<Function>, String> {
    let events = root.join("events");
    let sample = |name: &str| -> Result<(String, Vec<u8>), String> {
        let path = events.join("lambda").join(name);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((name.to_owned(), bytes))
    };
    let generic = fresh_generic_order(&events)?;
    let console = console_event(&events)?;
    let function = |name: &'static str, timeout: u64, http: bool, events: Vec<(String, Vec<u8>)>| Function {
        name,
        timeout: Duration::from_secs(timeout),
        http,
        sqs: name == "amazon-notifications",
        events,
        env: environment(name, deployment),
    };
    Ok(vec![
        // A fresh order (nothing to match: it is the first); then the Shopify pair, whose second is held
        // with its notice: the hold the respond and mail-events samples name.
        function(
            "ingest",
            10,
            true,
            vec![
                generic,
                sample("ingest-shopify.json")?,
                sample("ingest-shopify-base64.json")?,
            ],
        ),
        // The bounce of that notice: the hold becomes a phone task for the staff.
        function("mail-events", 10, false, vec![sample("mail-events-bounce.json")?]),
        // The buyer opens the link (GET), then presses cancel (POST, warm).
        function(
            "respond",
            10,
            true,
            vec![sample("respond-get.json")?, sample("respond-post.json")?],
        ),
        function("expire", 60, false, vec![sample("expire-schedule.json")?]),
        function("poll", 300, false, vec![sample("poll-schedule.json")?]),
        function(
            "amazon-notifications",
            120,
            false,
            vec![sample("amazon-notifications-sqs.json")?],
        ),
        function("console", 30, true, vec![console]),
    ])
}

/// The environment Lambda gives the function `name`: its own variables, the template's (Globals and the
/// function's), dummy credentials and the stand-ins' endpoints.
fn environment(name: &'static str, deployment: &Deployment) -> Vec<(&'static str, String)> {
    let function_name = format!("mallguard-{name}");
    let mut env: Vec<(&'static str, String)> = vec![
        // What Lambda sets (provided.al2023).
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/29/[$LATEST]0123456789abcdef0123456789abcdef".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        // LoggingConfig: LogFormat JSON, ApplicationLogLevel INFO.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "test".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin".into()),
        // Never a real account, a profile or instance metadata.
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        // The template's Globals.
        ("MALLGUARD_TABLE", deployment.table.clone()),
        ("MALLGUARD_SECRET_ID", deployment.secret_arn.clone()),
        ("MALLGUARD_SHOP_NAME", "田中商店".into()),
        ("MALLGUARD_SENDER", SENDER.into()),
        ("MALLGUARD_CONTACT_EMAIL", "support@tanaka-shop.example".into()),
        ("MALLGUARD_STAFF_EMAIL", "staff@tanaka-shop.example".into()),
        ("MALLGUARD_LANGUAGE", "ja".into()),
        ("MALLGUARD_WINDOW_HOURS", "48".into()),
        ("MALLGUARD_ANSWER_HOURS", "24".into()),
        ("MALLGUARD_RETENTION_DAYS", "180".into()),
    ];
    if let Some(set) = &deployment.configuration_set {
        env.push(("MALLGUARD_CONFIGURATION_SET", set.clone()));
    }
    // Each function's own variables (the template's defaults, no PublicUrl parameter).
    let public_url = if name == "respond" {
        "https://respond.invalid".to_owned()
    } else {
        RESPOND_URL.to_owned()
    };
    env.push(("MALLGUARD_PUBLIC_URL", public_url));
    if name == "poll" {
        env.push(("MALLGUARD_RAKUTEN_URL", "https://api.rms.rakuten.co.jp".into()));
    }
    // The template points these two at Amazon (AmazonEndpoint, AmazonTokenUrl); here the fake SP-API.
    if matches!(name, "poll" | "amazon-notifications") {
        let amazon = deployment.amazon.url().to_owned();
        env.push((
            "MALLGUARD_AMAZON_TOKEN_URL",
            format!("{amazon}{}", fake_amazon::LWA_PATH),
        ));
        env.push(("MALLGUARD_AMAZON_URL", amazon));
    }
    env
}

/// `events/lambda/ingest-generic.json` carrying `events/generic/order.json` with its dates moved to now (as
/// `mallguard send` does), signed now with the deployment's generic secret: Standard Webhooks refuses a
/// timestamp more than five minutes off.
fn fresh_generic_order(events: &Path) -> Result<(String, Vec<u8>), String> {
    let read_json = |path: PathBuf| -> Result<Value, String> {
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut order = read_json(events.join("generic/order.json"))?;
    let now = jiff::Timestamp::now();
    let jst = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9));
    let placed = now
        .checked_sub(jiff::SignedDuration::from_mins(1))
        .map_err(|e| e.to_string())?
        .to_zoned(jst.clone());
    order["placed_at"] = json!(placed.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
    let delivery = placed
        .date()
        .checked_add(jiff::Span::new().days(2))
        .map_err(|e| e.to_string())?;
    order["delivery"]["requested_date"] = json!(delivery.to_string());
    let body = serde_json::to_string_pretty(&order).map_err(|e| e.to_string())?;

    let mut envelope = read_json(events.join("lambda/ingest-generic.json"))?;
    let id = format!("msg_bench{}", now.as_millisecond());
    let signature = mallguard_malls::generic::sign(GENERIC_SECRET, &id, now.as_second(), body.as_bytes());
    let headers = &mut envelope["headers"];
    headers["webhook-id"] = json!(id);
    headers["webhook-timestamp"] = json!(now.as_second().to_string());
    headers["webhook-signature"] = json!(signature);
    envelope["requestContext"]["timeEpoch"] = json!(now.as_millisecond());
    envelope["requestContext"]["time"] = json!(
        now.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d/%b/%Y:%H:%M:%S %z")
            .to_string()
    );
    envelope["body"] = json!(body);
    let bytes = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
    Ok(("generic/order.json in ingest-generic.json, signed now".into(), bytes))
}

/// No sample exists for the console: the respond sample's Function URL envelope, asking for the staff's
/// sign-in page (`GET /console/sign-in`), what a signed-out visit lands on.
fn console_event(events: &Path) -> Result<(String, Vec<u8>), String> {
    let path = events.join("lambda/respond-get.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut envelope: Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    envelope["rawPath"] = json!("/console/sign-in");
    envelope["requestContext"]["http"]["path"] = json!("/console/sign-in");
    let bytes = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
    Ok(("GET /console/sign-in (from respond-get.json)".into(), bytes))
}

/// Runs one function: spawn, first event, warm events, kill.
async fn measure(binary: &Path, function: &Function, services: &Services, log: &Path) -> Result<ColdStart, String> {
    let emulator = Emulator::start(function).await?;
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .envs(function.env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", emulator.address.clone())
        .env("AWS_ENDPOINT_URL_DYNAMODB", &services.dynamodb)
        .env("AWS_ENDPOINT_URL_SESV2", &services.ses)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &services.ses)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    die_with_parent(&mut cmd);

    let (first_label, first_event) = function.events[0].clone();
    emulator.queue(first_event);
    let spawned = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let mut process = Process(child);
    let pid = process.0.id();

    let mut result = ColdStart {
        function: function.name.to_owned(),
        event: first_label,
        init_ms: None,
        first_invoke_ms: None,
        outcome: "timeout".into(),
        success: false,
        status_code: None,
        peak_rss_kb: None,
        rss_kb: None,
        detail: String::new(),
        warm: vec![],
        log: log.to_owned(),
    };
    let mut signals = emulator.signals;
    let first = wait(&mut signals, &mut process, GIVE_UP).await;
    match first {
        Waited::Done {
            next_at,
            handed_at,
            answer,
        } => {
            result.init_ms = Some(ms(next_at - spawned));
            result.first_invoke_ms = Some(ms(answer.at - handed_at));
            let (success, status) = judge(function, &answer);
            result.outcome = if answer.error { "error" } else { "response" }.into();
            result.success = success;
            result.status_code = status;
            result.detail = shorten(&answer.body);
            // Read right after the answer, before any further event: the first invocation's peak.
            let (hwm, rss) = memory(pid);
            result.peak_rss_kb = hwm;
            result.rss_kb = rss;
        }
        Waited::InitError(body) => {
            result.outcome = "init_error".into();
            result.detail = shorten(&body);
        }
        Waited::Exited(status) => {
            result.outcome = "exited".into();
            result.detail = format!("{status}; {}", log_tail(log));
        }
        Waited::TimedOut => result.detail = log_tail(log),
    }
    if result.outcome == "response" || result.outcome == "error" {
        for (label, event) in function.events.iter().skip(1) {
            emulator.queue_tx.send(event.clone()).map_err(|e| e.to_string())?;
            match wait(&mut signals, &mut process, GIVE_UP).await {
                Waited::Done { handed_at, answer, .. } => {
                    let (success, status) = judge(function, &answer);
                    result.warm.push(WarmInvoke {
                        event: label.clone(),
                        invoke_ms: ms(answer.at - handed_at),
                        success,
                        status_code: status,
                        detail: shorten(&answer.body),
                    });
                }
                other => {
                    return Err(format!(
                        "{}: the warm invocation with {label} did not answer ({}); {}",
                        function.name,
                        other.describe(),
                        log_tail(log)
                    ));
                }
            }
        }
    }
    drop(process);
    emulator.stop.notify_waiters();
    Ok(result)
}

/// Kills the function when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a function posted for an invocation.
struct Answer {
    error: bool,
    body: Bytes,
    at: Instant,
}

enum Waited {
    Done {
        next_at: Instant,
        handed_at: Instant,
        answer: Answer,
    },
    InitError(Bytes),
    Exited(std::process::ExitStatus),
    TimedOut,
}

impl Waited {
    fn describe(&self) -> String {
        match self {
            Waited::Done { .. } => "answered".into(),
            Waited::InitError(body) => format!("init error {}", shorten(body)),
            Waited::Exited(status) => format!("exited: {status}"),
            Waited::TimedOut => "timed out".into(),
        }
    }
}

/// Waits for the next invocation's `next`, hand-out and answer; or an init error, the process's end, or
/// `limit`.
async fn wait(signals: &mut mpsc::UnboundedReceiver<Signal>, process: &mut Process, limit: Duration) -> Waited {
    let started = Instant::now();
    let (mut next_at, mut handed_at) = (None, None);
    loop {
        if started.elapsed() > limit {
            return Waited::TimedOut;
        }
        match tokio::time::timeout(Duration::from_millis(20), signals.recv()).await {
            Ok(Some(Signal::Next(at))) => {
                next_at.get_or_insert(at);
            }
            Ok(Some(Signal::Handed(at))) => handed_at = Some(at),
            Ok(Some(Signal::Answer(answer))) => {
                let handed = handed_at.unwrap_or(answer.at);
                return Waited::Done {
                    next_at: next_at.unwrap_or(handed),
                    handed_at: handed,
                    answer,
                };
            }
            Ok(Some(Signal::InitError(body))) => return Waited::InitError(body),
            Ok(None) => return Waited::TimedOut,
            Err(_) => {
                if let Ok(Some(status)) = process.0.try_wait() {
                    return Waited::Exited(status);
                }
            }
        }
    }
}

/// Whether an answer says success, and the HTTP status of a Function URL function's.
fn judge(function: &Function, answer: &Answer) -> (bool, Option<u16>) {
    if answer.error {
        return (false, None);
    }
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    if function.http {
        let status = parsed
            .as_ref()
            .and_then(|v| v.get("statusCode"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok());
        return (status.is_some_and(|s| s < 400), status);
    }
    if function.sqs {
        let failures = parsed
            .as_ref()
            .and_then(|v| v.get("batchItemFailures"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        return (failures == 0, None);
    }
    (true, None)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// `VmHWM` and `VmRSS` of a process, kB.
fn memory(pid: u32) -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn shorten(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!(
        "the end of {}:\n{}",
        log.display(),
        lines[lines.len().saturating_sub(15)..].join("\n")
    )
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

// --- the Runtime API emulator ------------------------------------------------------------------------------

enum Signal {
    /// The runtime asked for the next event.
    Next(Instant),
    /// An event was handed out.
    Handed(Instant),
    Answer(Answer),
    InitError(Bytes),
}

#[derive(Clone)]
struct Shared {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>>,
    signals: mpsc::UnboundedSender<Signal>,
    /// The request ids handed out, so an answer for an unknown id is refused as Lambda does.
    handed: Arc<Mutex<VecDeque<String>>>,
    function_arn: String,
    timeout: Duration,
}

struct Emulator {
    /// `127.0.0.1:PORT`, as `AWS_LAMBDA_RUNTIME_API` takes it (no scheme).
    address: String,
    queue_tx: mpsc::UnboundedSender<Vec<u8>>,
    signals: mpsc::UnboundedReceiver<Signal>,
    stop: Arc<Notify>,
}

impl Emulator {
    async fn start(function: &Function) -> Result<Self, String> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (signal_tx, signals) = mpsc::unbounded_channel();
        let shared = Shared {
            queue: Arc::new(tokio::sync::Mutex::new(queue_rx)),
            signals: signal_tx,
            handed: Arc::default(),
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:mallguard-{}", function.name),
            timeout: function.timeout,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the runtime API emulator cannot listen: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.notified().await })
                .await;
        });
        Ok(Emulator {
            address,
            queue_tx,
            signals,
            stop,
        })
    }

    fn queue(&self, event: Vec<u8>) {
        let _ = self.queue_tx.send(event);
    }
}

/// `GET /runtime/invocation/next`: long-polls until an event is queued.
async fn next(State(shared): State<Shared>) -> Response {
    let _ = shared.signals.send(Signal::Next(Instant::now()));
    let event = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(event) = event else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let request_id = request_id(now);
    let deadline = (now + shared.timeout).as_millis();
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        now.as_secs(),
        now.as_nanos() & ((1u128 << 96) - 1),
        now.subsec_nanos()
    );
    shared
        .handed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push_back(request_id.clone());
    let _ = shared.signals.send(Signal::Handed(Instant::now()));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", &request_id)
        .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", &shared.function_arn)
        .header("Lambda-Runtime-Trace-Id", trace)
        .body(Body::from(event))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A UUID-shaped request id, unique enough for one bench run.
fn request_id(now: Duration) -> String {
    let n = now.as_nanos();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (n >> 64) as u32 ^ (n as u32),
        (n >> 48) as u16,
        (n >> 36) as u16 & 0xfff,
        (n >> 24) as u16 & 0xfff,
        n as u64 & 0xffff_ffff_ffff
    )
}

fn known(shared: &Shared, id: &str) -> bool {
    shared
        .handed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .any(|h| h == id)
}

/// `POST /runtime/invocation/{id}/response`.
async fn response(State(shared): State<Shared>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    let at = Instant::now();
    if !known(&shared, &id) {
        return (StatusCode::BAD_REQUEST, "unknown request id").into_response();
    }
    let _ = shared.signals.send(Signal::Answer(Answer { error: false, body, at }));
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

/// `POST /runtime/invocation/{id}/error`.
async fn error(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    if !known(&shared, &id) {
        return (StatusCode::BAD_REQUEST, "unknown request id").into_response();
    }
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let mut text = format!("[{kind}] ").into_bytes();
    text.extend_from_slice(&body);
    let _ = shared.signals.send(Signal::Answer(Answer {
        error: true,
        body: Bytes::from(text),
        at,
    }));
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

/// `POST /runtime/init/error`.
async fn init_error(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let mut text = format!("[{kind}] ").into_bytes();
    text.extend_from_slice(&body);
    let _ = shared.signals.send(Signal::InitError(Bytes::from(text)));
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}
