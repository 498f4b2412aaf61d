//! Each deployed function, as Lambda runs it: the cold start reads its configuration from the
//! environment and its secret from Secrets Manager (moto), the store is DynamoDB Local with the table
//! created from infra/template.yaml, mail goes to SES (moto), and the handler is invoked with the exact
//! envelope Lambda delivers, from `events/lambda/`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use mallguard_aws::counting::RequestCounts;
use mallguard_aws::emf::EmfMetrics;
use mallguard_domain::hold::HoldState;
use mallguard_domain::ids::HoldId;
use mallguard_domain::testing::ManualClock;
use mallguard_ingest::IngestConfig;
use mallguard_lambda::functions::{MailEvents, Poll};
use mallguard_lambda::{ColdStart, Function, cold_start_with};
use serde_json::Value;
use tower::ServiceExt;

/// The secrets the sample events in `events/lambda/` were signed with (test values only; `tests/lambda-local`
/// puts the same into the secret of a local Lambda run).
const SECRETS: &str = include_str!("../../events/lambda/test-secrets.json");
const SENDER: &str = "noreply@tanaka-shop.example";
/// The hold the respond events' token names: the Shopify duplicate #1002.
const HOLD: &str = "h26528c4c205a0bcea6dc";

/// Environment variables are process-wide: tests that set them take this lock.
static ENV: Mutex<()> = Mutex::new(());

fn service(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{what} is not running: run the tests with `bash tests/run`"))
}

/// The malls' URLs in the environment while it lives (the cold start reads them), removed after.
struct MallUrls;

impl MallUrls {
    /// Sets them; call under [`ENV`].
    fn set(urls: &mallguard_lambda::FeedUrls) -> MallUrls {
        // SAFETY: under ENV, before any client reads them.
        unsafe {
            std::env::set_var("MALLGUARD_RAKUTEN_URL", &urls.rakuten);
            if let Some(yahoo) = &urls.yahoo {
                std::env::set_var("MALLGUARD_YAHOO_URL", yahoo);
            }
            std::env::set_var("MALLGUARD_YAHOO_TOKEN_URL", &urls.yahoo_token);
            std::env::set_var("MALLGUARD_AMAZON_URL", &urls.amazon);
            std::env::set_var("MALLGUARD_AMAZON_TOKEN_URL", &urls.amazon_token);
            if let Some(shopify) = &urls.shopify {
                std::env::set_var("MALLGUARD_SHOPIFY_URL", shopify);
            }
        }
        MallUrls
    }
}

impl Drop for MallUrls {
    fn drop(&mut self) {
        for name in [
            "MALLGUARD_RAKUTEN_URL",
            "MALLGUARD_YAHOO_URL",
            "MALLGUARD_YAHOO_TOKEN_URL",
            "MALLGUARD_AMAZON_URL",
            "MALLGUARD_AMAZON_TOKEN_URL",
            "MALLGUARD_SHOPIFY_URL",
        ] {
            // SAFETY: the guard lives under ENV.
            unsafe { std::env::remove_var(name) };
        }
    }
}

fn event(name: &str) -> String {
    std::fs::read_to_string(mallguard_tests::events_dir().join("lambda").join(name)).unwrap()
}

/// Collects EMF lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Deployed {
    cold: ColdStart,
    clock: Arc<ManualClock>,
    metrics: Lines,
    moto: String,
}

/// A deployment as the template makes it: a table, a secret, a verified sender, the environment.
async fn deploy(name: &str) -> Deployed {
    deploy_with(name, SECRETS, "ingest").await
}

/// The same with the secret `secrets`, counting metrics as the function `function`.
async fn deploy_with(name: &str, secrets: &str, function: &str) -> Deployed {
    deploy_at(name, secrets, function, "2026-11-23T03:10:05Z".parse().unwrap()).await
}

/// The same on a clock that starts at `at`.
async fn deploy_at(name: &str, secrets: &str, function: &str, at: jiff::Timestamp) -> Deployed {
    let dynamodb = service("MALLGUARD_TEST_DYNAMODB", "DynamoDB Local");
    let moto = service("MALLGUARD_TEST_SES", "moto");
    let table = format!("mallguard-lambda-{name}-{}", std::process::id());
    let secret = format!("mallguard/{name}-{}", std::process::id());
    // SAFETY: set while holding ENV, before any client reads them.
    unsafe {
        for (k, v) in [
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str()),
            ("AWS_ENDPOINT_URL_SESV2", moto.as_str()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.as_str()),
            ("MALLGUARD_TABLE", table.as_str()),
            ("MALLGUARD_SECRET_ID", secret.as_str()),
            (
                "MALLGUARD_PUBLIC_URL",
                "https://p7lq2h3kz5w6x7y8a9b0c1d2e3f4g5h6.lambda-url.ap-northeast-1.on.aws/",
            ),
            ("MALLGUARD_SHOP_NAME", "田中商店"),
            ("MALLGUARD_SENDER", SENDER),
            ("MALLGUARD_CONTACT_EMAIL", "support@tanaka-shop.example"),
            ("MALLGUARD_STAFF_EMAIL", "staff@tanaka-shop.example"),
        ] {
            std::env::set_var(k, v);
        }
    }
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    mallguard_aws::table_setup::create_table_from_template(&ddb, &table, include_str!("../../infra/template.yaml"))
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret)
        .secret_string(secrets)
        .send()
        .await
        .unwrap();
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::at(&at.to_string()));
    let metrics = Lines::default();
    let emf = Arc::new(EmfMetrics::to_writer(function, Box::new(metrics.clone())));
    let cold = cold_start_with::<Poll>(&sdk, clock.clone(), emf)
        .await
        .expect("the cold start succeeds");
    Deployed {
        cold,
        clock,
        metrics,
        moto,
    }
}

async fn invoke(router: axum::Router, event: &str) -> (u16, String) {
    let request = lambda_http::request::from_str(event).expect("a Lambda HTTP event");
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Invokes a router with a Lambda HTTP event; returns the status and the `Location` header.
async fn invoke_location(router: axum::Router, event: &str) -> (u16, Option<String>) {
    let request = lambda_http::request::from_str(event).expect("a Lambda HTTP event");
    let response = router.oneshot(request).await.unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (response.status().as_u16(), location)
}

async fn moto_messages(moto: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{moto}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

/// The recipients (`To`) of a message moto kept.
fn recipients(message: &Value) -> Vec<&str> {
    message["destinations"]["ToAddresses"]
        .as_array()
        .map(|to| to.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `d`'s use cases as its cold start composes them (the secret's mail routes; its mall actions when `act`,
/// else none), over a DynamoDB client whose every request is counted.
async fn counted_app(d: &Deployed, act: bool) -> (mallguard_domain::service::Mallguard, RequestCounts) {
    let counts = RequestCounts::default();
    let app = app_with(d, act, counts.interceptor(), counts.clone()).await;
    (app, counts)
}

/// `d`'s use cases as its cold start composes them, over a DynamoDB client with `interceptor`.
async fn app_with(
    d: &Deployed,
    act: bool,
    interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
    counts: RequestCounts,
) -> mallguard_domain::service::Mallguard {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(interceptor)
            .build(),
    );
    let deployment = &d.cold.deployment;
    let store =
        mallguard_aws::dynamodb::DynamoDbStore::new(client, deployment.aws.table.clone(), deployment.knobs.retention())
            .with_counts(counts)
            .with_clock(d.clock.clone());
    let urls = mallguard_lambda::FeedUrls::from_env();
    let names = mallguard_lambda::ShopNames::new(&deployment.settings.shop.name);
    let mailer = mallguard_lambda::mail_routes(deployment, &names, &urls, Arc::new(deployment.mailer(&sdk))).unwrap();
    let app = mallguard_domain::service::Mallguard::new(
        Arc::new(store),
        Arc::new(mailer),
        d.clock.clone(),
        deployment.settings.clone(),
    );
    if act {
        app.with_mall_actions(Arc::new(mallguard_lambda::mall_actions(deployment, &urls).unwrap()))
    } else {
        app
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn each_function_handles_its_sample_event_against_dynamodb_local_and_moto() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy("all").await;
        let ingest = || {
            let webhooks = d.cold.deployment.secrets.webhooks().clone();
            mallguard_ingest::router(d.cold.app.clone(), IngestConfig::new(webhooks))
        };

        // ingest: the Shopify order, then its duplicate delivered base64-encoded: the raw bytes verify.
        let (status, body) = invoke(ingest(), &event("ingest-shopify.json")).await;
        assert_eq!((status, body.contains("\"accepted\"")), (200, true), "{body}");
        let (status, body) = invoke(ingest(), &event("ingest-shopify-base64.json")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(HOLD) && body.contains("\"notified\":true"), "{body}");
        let notice = moto_messages(&d.moto).await;
        assert!(
            notice
                .iter()
                .any(|m| m["subject"].as_str().unwrap_or("").contains("ご確認のお願い")),
            "the notice went out through SES: {notice:?}"
        );
        // The same Standard Webhooks message from the shop's order system: the same buyer and tea again.
        let (status, body) = invoke(ingest(), &event("ingest-generic.json")).await;
        assert_eq!((status, body.contains("\"held\"")), (200, true), "{body}");
        // A body changed on the way fails its signature.
        let tampered = event("ingest-shopify.json").replace("有機煎茶", "有機番茶");
        assert_eq!(invoke(ingest(), &tampered).await.0, 401);

        // respond: GET shows the page and changes nothing; POST cancels once.
        let respond = || mallguard_respond::router(d.cold.app.clone());
        let hold = HoldId::parse(HOLD).unwrap();
        let (status, page) = invoke(respond(), &event("respond-get.json")).await;
        assert_eq!(status, 200, "{page}");
        // Shown by the numbers the buyer knows; the earlier order masked, as it may be somebody else's.
        assert!(page.contains("#1002") && page.contains("***01"), "{page}");
        assert!(
            !page.contains("5678901234567890456") && !page.contains("#1001"),
            "{page}"
        );
        let app = &d.cold.app;
        let state_of = |hold: HoldId| async move {
            let holds = app.holds(false).await.unwrap();
            holds.into_iter().find(|h| h.id == hold).expect("the hold exists").state
        };
        assert_eq!(state_of(hold.clone()).await, HoldState::Held);
        let page_of_link = "/h/h26528c4c205a0bcea6dc.x.4102444800.xThaR_LoKCXDGSVROz9EFQ";
        let (status, location) = invoke_location(respond(), &event("respond-post.json")).await;
        assert_eq!((status, location.as_deref()), (303, Some(page_of_link)));
        assert_eq!(state_of(hold.clone()).await, HoldState::Cancelled);
        let (status, location) = invoke_location(respond(), &event("respond-post.json")).await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some(page_of_link)),
            "a second press leads to the outcome"
        );
        assert_eq!(state_of(hold.clone()).await, HoldState::Cancelled);
        let (status, page) = invoke(respond(), &event("respond-get.json")).await;
        assert_eq!(status, 200, "{page}");
        // A generic order is cancelled at its store by the staff: until then it is in progress.
        assert!(
            page.contains("キャンセルの手続きを進めております") && !page.contains("キャンセルされました"),
            "the page shows the outcome: {page}"
        );

        // expire: at the deadline of the generic order's hold, the scheduled event cancels it.
        let open = app.holds(true).await.unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        d.clock.set(open[0].deadline);
        let payload: Value = serde_json::from_str(&event("expire-schedule.json")).unwrap();
        let summary = mallguard_expire::handle(&d.cold.app, payload, None).await.unwrap();
        assert_eq!(summary.cancelled, 1, "{summary:?}");
        assert_eq!(state_of(open[0].id.clone()).await, HoldState::Cancelled);

        // Metrics in Embedded Metric Format went to stdout (here: captured).
        let emf = String::from_utf8(d.metrics.0.lock().unwrap().clone()).unwrap();
        for metric in [
            "OrdersReceived",
            "DuplicatesHeld",
            "NoticesSent",
            "HoldsCancelled",
            "HoldsExpired",
        ] {
            assert!(emf.contains(&format!("\"{metric}\"")), "{metric} missing from {emf}");
        }
    });
}

/// Every write a store's client sends, as IAM authorises it: the action and the item's partition key (a
/// transaction is authorised item by item).
#[derive(Clone, Default)]
struct WriteLog(Arc<Mutex<Vec<(&'static str, String)>>>);

impl WriteLog {
    fn take(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl std::fmt::Debug for WriteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteLog")
    }
}

impl aws_sdk_dynamodb::config::Intercept for WriteLog {
    fn name(&self) -> &'static str {
        "MallguardWriteLog"
    }

    fn read_before_serialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_write_item::BatchWriteItemInput, delete_item::DeleteItemInput, put_item::PutItemInput,
            transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
        };
        use aws_sdk_dynamodb::types::AttributeValue;
        let pk = |item: Option<&std::collections::HashMap<String, AttributeValue>>| {
            item.and_then(|i| i.get("pk"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let input = context.input();
        let mut log = self.0.lock().unwrap();
        if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    log.push(("dynamodb:PutItem", pk(Some(put.item()))));
                }
                if let Some(update) = item.update() {
                    log.push(("dynamodb:UpdateItem", pk(Some(update.key()))));
                }
                if let Some(delete) = item.delete() {
                    log.push(("dynamodb:DeleteItem", pk(Some(delete.key()))));
                }
                if let Some(check) = item.condition_check() {
                    log.push(("dynamodb:ConditionCheckItem", pk(Some(check.key()))));
                }
            }
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            log.push(("dynamodb:PutItem", pk(put.item())));
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            log.push(("dynamodb:UpdateItem", pk(update.key())));
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            log.push(("dynamodb:DeleteItem", pk(delete.key())));
        } else if input.downcast_ref::<BatchWriteItemInput>().is_some() {
            log.push(("dynamodb:BatchWriteItem", String::new()));
        }
        Ok(())
    }
}

/// The writes of `writes` that the role `role` of infra/template.yaml does not allow: each needs a statement
/// with its action whose `dynamodb:LeadingKeys` (if any) matches its partition key.
fn not_allowed(role: &str, writes: &[(&'static str, String)]) -> Vec<String> {
    let template = yaml_rust2::YamlLoader::load_from_str(include_str!("../../infra/template.yaml")).unwrap();
    let policies = &template[0]["Resources"][role]["Properties"]["Policies"];
    let strings = |node: &yaml_rust2::Yaml| -> Vec<String> {
        match node {
            yaml_rust2::Yaml::String(s) => vec![s.clone()],
            yaml_rust2::Yaml::Array(list) => list.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            _ => vec![],
        }
    };
    let mut statements = vec![];
    for policy in policies.as_vec().unwrap_or_else(|| panic!("{role} has no policies")) {
        for statement in policy["PolicyDocument"]["Statement"].as_vec().unwrap() {
            let leading = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let keys = (!leading.is_badvalue()).then(|| strings(leading));
            statements.push((strings(&statement["Action"]), keys));
        }
    }
    let matches = |pattern: &str, pk: &str| match pattern.strip_suffix('*') {
        Some(prefix) => pk.starts_with(prefix),
        None => pk == pattern,
    };
    writes
        .iter()
        .filter(|(action, pk)| {
            !statements.iter().any(|(actions, keys)| {
                actions.iter().any(|a| a == action)
                    && keys.as_ref().is_none_or(|keys| keys.iter().any(|k| matches(k, pk)))
            })
        })
        .map(|(action, pk)| format!("{role}: {action} on {pk}"))
        .collect()
}

/// Fails unless `writes` (of one flow) is not empty and the role `role` allows each.
fn assert_allowed(role: &str, writes: Vec<(&'static str, String)>) {
    assert!(!writes.is_empty(), "{role}: the flow wrote nothing");
    let wrong = not_allowed(role, &writes);
    assert!(wrong.is_empty(), "writes the role refuses:\n{}", wrong.join("\n"));
}

/// The roles of infra/template.yaml allow each function's writes, as its handlers make them with the sample
/// envelopes: IAM narrowed to what the code does is only right while the code does no more.
#[test]
fn each_functions_role_allows_the_writes_its_handler_makes() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy("iam").await;
        let writes = WriteLog::default();
        let app = app_with(&d, true, writes.clone(), RequestCounts::default()).await;
        let webhooks = d.cold.deployment.secrets.webhooks().clone();
        let ingest = || mallguard_ingest::router(app.clone(), IngestConfig::new(webhooks.clone()));

        for sample in [
            "ingest-shopify.json",
            "ingest-shopify-base64.json",
            "ingest-generic.json",
        ] {
            let (status, body) = invoke(ingest(), &event(sample)).await;
            assert_eq!(status, 200, "{sample}: {body}");
        }
        let ingested = writes.take();
        assert!(
            ingested.iter().any(|(action, _)| *action == "dynamodb:UpdateItem"),
            "the customers' heads were bumped: {ingested:?}"
        );
        assert_allowed("IngestRole", ingested);

        let bounce: Value = serde_json::from_str(&event("mail-events-bounce.json")).unwrap();
        let handled = mallguard_mail_events::handle(&app, bounce).await.unwrap();
        assert_eq!(handled, mallguard_mail_events::Handled::Escalated);
        assert_allowed("MailEventsRole", writes.take());

        let (status, _) = invoke_location(mallguard_respond::router(app.clone()), &event("respond-post.json")).await;
        assert_eq!(status, 303);
        assert_allowed("RespondRole", writes.take());

        let open = app.holds(true).await.unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        d.clock.set(open[0].deadline);
        let payload: Value = serde_json::from_str(&event("expire-schedule.json")).unwrap();
        let summary = mallguard_expire::handle(&app, payload, None).await.unwrap();
        assert_eq!(summary.cancelled, 1, "{summary:?}");
        assert_allowed("ExpireRole", writes.take());

        console_writes(&d, &app, &writes).await;
    });
}

/// A console request as the Function URL hands it over: same-origin, with the session cookie if any.
async fn console_request(
    router: &axum::Router,
    path: &str,
    session: Option<&str>,
    form: Option<&str>,
) -> (u16, String, Option<String>) {
    use axum::http::{Method, Request, header};
    let mut request = Request::builder()
        .method(if form.is_some() { Method::POST } else { Method::GET })
        .uri(path)
        .header(header::HOST, "console.example")
        .header("sec-fetch-site", "same-origin");
    if let Some(session) = session {
        request = request.header(
            header::COOKIE,
            format!("{}={session}", mallguard_console::SESSION_COOKIE),
        );
    }
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request
        .body(axum::body::Body::from(form.unwrap_or_default().to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|c| c.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), cookie)
}

/// What staff do in the console, through its router over the logged client: sign in with the mailed link,
/// settle a hold and note on it, blacklist a customer and remove the entry, save a shop's settings, and
/// replay the quarantine; the console's role allows every write of it.
async fn console_writes(d: &Deployed, app: &mallguard_domain::service::Mallguard, writes: &WriteLog) {
    use mallguard_domain::testing::{incoming, order_at};
    let base = "https://console-iam.example";
    let router = mallguard_console::router(
        app.clone(),
        Arc::new(mallguard_malls::inbound::Malls),
        mallguard_console::ConsoleConfig {
            staff: d.cold.deployment.knobs.staff_list(),
            base_url: mallguard_console::ConsoleUrl::Fixed(base.into()),
        },
    );
    // A hold for the staff to settle, and a payload waiting in the quarantine: made by the other functions.
    let now = mallguard_domain::ports::Clock::now(d.clock.as_ref());
    app.ingest(incoming(order_at("console-1", &now.to_string())))
        .await
        .unwrap();
    let held = app
        .ingest(incoming(order_at(
            "console-2",
            &(now + jiff::SignedDuration::from_mins(5)).to_string(),
        )))
        .await
        .unwrap();
    let mallguard_domain::service::IngestOutcome::Held { hold, .. } = held else {
        panic!("{held:?}")
    };
    let mut order: Value = serde_json::from_str(
        &std::fs::read_to_string(mallguard_tests::events_dir().join("generic/order.json")).unwrap(),
    )
    .unwrap();
    order["order_id"] = "TS-QUARANTINED-1".into();
    app.quarantine(
        "generic",
        order.to_string().into_bytes(),
        Default::default(),
        "a parser since fixed",
    )
    .await
    .unwrap();
    writes.take();

    let before = moto_messages(&d.moto).await.len();
    let (status, body, _) = console_request(
        &router,
        "/console/sign-in",
        None,
        Some("address=staff%40tanaka-shop.example"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mailed = moto_messages(&d.moto).await[before..]
        .iter()
        .map(Value::to_string)
        .find_map(|m| {
            let at = m.find(&format!("{base}/console/sign-in/"))?;
            let token: String = m[at + base.len() + "/console/sign-in/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c))
                .collect();
            Some(token)
        })
        .expect("the sign-in link was mailed");
    let (status, body, cookie) = console_request(&router, &format!("/console/sign-in/{mailed}"), None, Some("")).await;
    assert_eq!(status, 303, "{body}");
    let cookie = cookie.expect("a session");
    let session = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let (_, page, _) = console_request(&router, "/console/holds", Some(&session), None).await;
    let at = page.find("name=\"form_token\" value=\"").expect("a form") + 25;
    let token = page[at..].split('"').next().unwrap().to_owned();
    let post = |path: String, form: String| {
        let (router, session) = (router.clone(), session.clone());
        async move {
            let (status, body, _) = console_request(&router, &path, Some(&session), Some(&form)).await;
            assert!(status == 303 || status == 200, "{path}: {status} {body}");
        }
    };

    post(
        format!("/console/holds/{hold}/note"),
        format!("form_token={token}&note=called"),
    )
    .await;
    post(
        format!("/console/holds/{hold}/resolve"),
        format!("form_token={token}&decision=cancel"),
    )
    .await;
    post(
        "/console/orders/own/tanaka/console-1/blacklist".into(),
        format!("form_token={token}&reason=refused"),
    )
    .await;
    let entry = app.blacklist().await.unwrap().pop().expect("blacklisted");
    post(
        format!("/console/blacklist/{}/remove", entry.id),
        format!("form_token={token}"),
    )
    .await;
    assert!(app.blacklist().await.unwrap().is_empty());
    post(
        "/console/settings/own/tanaka".into(),
        format!("form_token={token}&version=0&answer_hours=5"),
    )
    .await;
    post("/console/quarantine/replay".into(), format!("form_token={token}")).await;

    let logged = writes.take();
    for (action, partition) in [
        ("dynamodb:PutItem", "SIGNIN#"),
        ("dynamodb:PutItem", "HOLD#"),
        ("dynamodb:PutItem", "BLACKLIST"),
        ("dynamodb:DeleteItem", "BLACKLIST"),
        ("dynamodb:UpdateItem", "KEY#"),
        ("dynamodb:PutItem", "SHOPS"),
        ("dynamodb:PutItem", "QUARANTINE"),
        ("dynamodb:PutItem", "ORDER#"),
    ] {
        assert!(
            logged.iter().any(|(a, pk)| *a == action && pk.starts_with(partition)),
            "the console's flow made no {action} under {partition}: {logged:?}"
        );
    }
    assert_allowed("ConsoleRole", logged);
}

/// A browser's request for `/favicon.ico` on the buyer's page or the console is answered with 204, as the
/// binaries wrap their routers, so it never counts in the Function URL's 4xx alarm.
#[test]
fn a_browsers_favicon_request_is_no_4xx() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy("favicon").await;
        let mut request: Value = serde_json::from_str(&event("respond-get.json")).unwrap();
        request["rawPath"] = "/favicon.ico".into();
        request["requestContext"]["http"]["path"] = "/favicon.ico".into();
        let request = request.to_string();
        let respond = mallguard_lambda::without_favicon(mallguard_respond::router(d.cold.app.clone()));
        let console = mallguard_lambda::without_favicon(mallguard_console::router(
            d.cold.app.clone(),
            Arc::new(mallguard_malls::inbound::Malls),
            mallguard_console::ConsoleConfig {
                staff: d.cold.deployment.knobs.staff_list(),
                base_url: mallguard_console::ConsoleUrl::FunctionUrl,
            },
        ));
        for (function, router) in [("respond", respond), ("console", console)] {
            let (status, body) = invoke(router, &request).await;
            assert_eq!(status, 204, "{function}: {body}");
        }
    });
}

/// What `events/README.md` says each envelope answers in a local Lambda run (`tests/lambda-local`, then
/// `cargo lambda invoke` in its order), on today's clock: the samples are signed once, so this is what keeps
/// them answering as documented.
#[test]
fn the_sample_envelopes_answer_today_as_events_readme_says() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy_at("today", SECRETS, "ingest", jiff::Timestamp::now()).await;
        let ingest = || {
            let webhooks = d.cold.deployment.secrets.webhooks().clone();
            mallguard_ingest::router(d.cold.app.clone(), IngestConfig::new(webhooks))
        };
        let (status, body) = invoke(ingest(), &event("ingest-shopify.json")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"accepted"}"#));
        let (status, body) = invoke(ingest(), &event("ingest-shopify-base64.json")).await;
        assert_eq!(
            (status, body.as_str()),
            (
                200,
                r#"{"hold":"h26528c4c205a0bcea6dc","notified":true,"status":"held"}"#
            )
        );
        // Signed for the handler tests' clock: a replay today.
        let (status, body) = invoke(ingest(), &event("ingest-generic.json")).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("outside the tolerance"), "{body}");
        let (status, body) = invoke(ingest(), &event("ingest-shopify.json")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"redelivered"}"#));

        let respond = || mallguard_respond::router(d.cold.app.clone());
        let (status, page) = invoke(respond(), &event("respond-get.json")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<title>ご注文内容のご確認"), "{page}");
        let (status, location) = invoke_location(respond(), &event("respond-post.json")).await;
        assert_eq!(
            (status, location.as_deref()),
            (
                303,
                Some("/h/h26528c4c205a0bcea6dc.x.4102444800.xThaR_LoKCXDGSVROz9EFQ")
            )
        );
        let (status, page) = invoke(respond(), &event("respond-get.json")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<title>ご回答ありがとうございました"), "{page}");

        // The hold is settled: each report goes into the evidence, and none escalates it.
        for sample in [
            "mail-events-delivery.json",
            "mail-events-delivery-delay.json",
            "mail-events-bounce.json",
            "mail-events-complaint.json",
            "mail-events-reject.json",
        ] {
            let payload: Value = serde_json::from_str(&event(sample)).unwrap();
            let handled = mallguard_mail_events::handle(&d.cold.app, payload).await.unwrap();
            assert_eq!(handled, mallguard_mail_events::Handled::Recorded, "{sample}");
        }

        let payload: Value = serde_json::from_str(&event("expire-schedule.json")).unwrap();
        let summary = mallguard_expire::handle(&d.cold.app, payload, None).await.unwrap();
        assert_eq!(
            serde_json::to_value(&summary).unwrap(),
            serde_json::json!({"reminded": 0, "cancelled": 0, "escalated": 0, "deferred": 0, "notices_sent": 0,
                "notices_failed": 0, "actions": {"done": 0, "retried": 0, "refused": 0, "dropped": 0, "left": 0},
                "skipped": 0, "more_due": false})
        );

        // No mall credentials in the secret: nothing to poll, and no Amazon seller to read the order from.
        let feeds = mallguard_lambda::feeds(&d.cold.deployment).expect("feeds from the secret");
        let payload: Value = serde_json::from_str(&event("poll-schedule.json")).unwrap();
        let report = mallguard_poll::handle(&d.cold.app, &feeds, mallguard_lambda::poll_budget(), None, payload)
            .await
            .expect("the invocation succeeds");
        assert_eq!(serde_json::to_value(report).unwrap(), serde_json::json!({"shops": []}));
        let sellers = mallguard_lambda::amazon_sellers(&d.cold.deployment).unwrap();
        let sqs: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(&event("amazon-notifications-sqs.json")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let (response, batch) =
            mallguard_amazon_notifications::handle(&d.cold.app, &sellers, Some(deadline), sqs).await;
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [
                {"itemIdentifier": "5b7e2f1c-8a3d-4e6f-9b0a-1c2d3e4f5a6b"},
                {"itemIdentifier": "c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f"}
            ]}),
            "{batch:?}"
        );
    });
}

/// The mail-events function is wired with SES alone (no mall client, no relay): a bounced notice still
/// escalates its hold, and the staff's alert still goes out.
#[test]
fn the_mail_events_wiring_escalates_a_bounce_and_alerts_the_staff_through_ses() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy("mailevents-wiring").await;
        let webhooks = d.cold.deployment.secrets.webhooks().clone();
        let ingest = || mallguard_ingest::router(d.cold.app.clone(), IngestConfig::new(webhooks.clone()));
        for sample in ["ingest-shopify.json", "ingest-shopify-base64.json"] {
            let (status, body) = invoke(ingest(), &event(sample)).await;
            assert_eq!(status, 200, "{sample}: {body}");
        }
        let before = moto_messages(&d.moto).await.len();

        let wiring = MailEvents::WIRING;
        assert!(!wiring.mall_actions && !wiring.buyer_mail_routes && !wiring.credential_keeper);
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let cold = cold_start_with::<MailEvents>(&sdk, d.clock.clone(), Arc::new(mallguard_domain::ports::NoMetrics))
            .await
            .expect("the cold start succeeds");
        let bounce: Value = serde_json::from_str(&event("mail-events-bounce.json")).unwrap();
        let handled = mallguard_mail_events::handle(&cold.app, bounce).await.unwrap();
        assert_eq!(handled, mallguard_mail_events::Handled::Escalated);
        assert_eq!(
            moto_messages(&d.moto).await.len(),
            before + 1,
            "the staff's alert went out through SES"
        );
    });
}

#[test]
fn a_cold_start_without_its_secret_names_what_is_missing() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy("nosecret").await;
        drop(d);
        // SAFETY: under ENV.
        unsafe { std::env::set_var("MALLGUARD_SECRET_ID", "mallguard/does-not-exist") };
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let clock = Arc::new(ManualClock::at("2026-11-23T03:10:05Z"));
        let err = cold_start_with::<Poll>(&sdk, clock, Arc::new(mallguard_domain::ports::NoMetrics))
            .await
            .err()
            .expect("no such secret");
        assert!(err.to_string().contains("mallguard/does-not-exist"), "{err}");
    });
}

#[test]
fn the_poll_function_reads_the_rakuten_shops_of_the_secret_from_rms() {
    use mallguard_domain::ids::{Mall, OrderId};
    use mallguard_feeds::fake::{self, FakeRms};

    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let rms = FakeRms::start().await;
        // SAFETY: under ENV, before the feeds are built.
        unsafe { std::env::set_var("MALLGUARD_RAKUTEN_URL", rms.url()) };
        let mut secrets: Value = serde_json::from_str(SECRETS).unwrap();
        secrets["rakuten"] = serde_json::json!({
            fake::SHOP: { "service_secret": fake::SERVICE_SECRET, "license_key": fake::LICENSE_KEY }
        });
        let d = deploy_with("poll", &secrets.to_string(), "poll").await;
        // After both sample orders (12:00 and 12:20 JST).
        d.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
        let feeds = mallguard_lambda::feeds(&d.cold.deployment).expect("feeds from the secret");
        assert_eq!(feeds.len(), 1);
        let payload: Value = serde_json::from_str(&event("poll-schedule.json")).unwrap();
        let poll = |payload: Value| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            let (app, feeds) = (&d.cold.app, feeds.as_slice());
            async move {
                let report =
                    mallguard_poll::handle(app, feeds, mallguard_lambda::poll_budget(), Some(deadline), payload)
                        .await
                        .expect("the invocation succeeds");
                serde_json::to_value(report).unwrap()
            }
        };

        // The first run records the two sample orders, and finds the licenseKey expiring in five days: the
        // staff are told to renew it, once that day.
        let warnings = || async {
            moto_messages(&d.moto)
                .await
                .into_iter()
                .filter(|m| m["subject"].as_str().unwrap_or("").contains("期限切れになります"))
                .count()
        };
        // moto's mails are the whole run's (and an earlier run's, on a moto left running): count the new ones.
        let before = warnings().await;
        let report = poll(payload.clone()).await;
        assert_eq!(
            report["shops"][0]["credentials_expire"], "2026-11-28T14:59:59Z",
            "{report}"
        );
        assert_eq!(warnings().await - before, 1, "one warning to renew the key");
        let shop = &report["shops"][0];
        assert_eq!(
            (shop["mall"].as_str(), shop["shop"].as_str()),
            (Some("rakuten"), Some(fake::SHOP)),
            "{report}"
        );
        assert_eq!(shop["outcome"], "polled", "{report}");
        assert_eq!(shop["orders"], 2, "{report}");
        assert_eq!(
            shop["accepted"].as_u64().unwrap() + shop["held"].as_u64().unwrap(),
            2,
            "{report}"
        );
        assert_eq!(
            (shop["cursor_moved"].as_bool(), shop["failure"].is_null()),
            (Some(true), true),
            "{report}"
        );
        for number in [fake::YAMADA, fake::SATO] {
            let found = d
                .cold
                .app
                .find_orders(Mall::Rakuten, &OrderId::parse(number).unwrap())
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{number} is recorded");
        }

        // The next run reads them again (the matching window) and records nothing new.
        d.clock.advance(jiff::SignedDuration::from_mins(5));
        let report = poll(payload.clone()).await;
        let shop = &report["shops"][0];
        assert_eq!(shop["outcome"], "polled", "{report}");
        for new in ["accepted", "held", "updated", "quarantined"] {
            assert_eq!(shop[new], 0, "{new}: {report}");
        }

        // The licenseKey expires: the run says so, still succeeds, and the staff are alerted through SES.
        rms.expire_key();
        d.clock.advance(jiff::SignedDuration::from_mins(5));
        let report = poll(payload).await;
        let failure = report["shops"][0]["failure"].as_str().unwrap_or_default().to_owned();
        assert!(failure.contains("credentials"), "{report}");
        let messages = moto_messages(&d.moto).await;
        assert!(
            messages.iter().any(|m| {
                m["subject"].as_str().unwrap_or("").contains("取得できません")
                    && m.to_string().contains("staff@tanaka-shop.example")
            }),
            "the staff alert went out through SES: {messages:?}"
        );
        // Counted under the poll function, the dimension the template's FeedFailures alarm names.
        let emf = String::from_utf8(d.metrics.0.lock().unwrap().clone()).unwrap();
        let line = emf
            .lines()
            .find(|l| l.contains("\"FeedFailures\""))
            .unwrap_or_else(|| panic!("no FeedFailures in {emf}"));
        let line: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (line["Function"].as_str(), line["FeedFailures"].as_u64()),
            (Some("poll"), Some(1))
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "mallguard");

        // SAFETY: under ENV.
        unsafe { std::env::remove_var("MALLGUARD_RAKUTEN_URL") };
    });
}

/// The cross-mall story with the deployed handlers on DynamoDB Local, each mall through its own interface:
/// the poll function reads a Rakuten order, then on its next run the same buyer's Yahoo! orders (held); the
/// amazon-notifications function takes Amazon's SQS event, reads the order from the SP-API and holds it
/// against the first, with no phone contact; the poll function's getOrders backstop then finds nothing new.
#[test]
fn rakuten_yahoo_and_amazon_orders_of_one_buyer_through_the_deployed_handlers() {
    use mallguard_domain::ids::Mall;
    use mallguard_feeds::fake::{self, FakeRms};
    use mallguard_feeds::fake_amazon::{self, FakeSpApi};
    use mallguard_feeds::fake_yahoo::{self, FakeYahoo};
    use mallguard_lambda::FeedUrls;

    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let (rms, yahoo, amazon) = (
            FakeRms::start().await,
            FakeYahoo::start().await,
            FakeSpApi::start().await,
        );
        // A key good for months: no expiry warning (moto's mails are shared with the other tests of the run).
        rms.license_expires("2027-02-01T23:59:59");
        let mut secrets: Value = serde_json::from_str(SECRETS).unwrap();
        secrets["rakuten"] = serde_json::json!({
            fake::SHOP: { "service_secret": fake::SERVICE_SECRET, "license_key": fake::LICENSE_KEY }
        });
        secrets["yahoo"] = serde_json::json!({
            fake_yahoo::SELLER: {
                "client_id": fake_yahoo::CLIENT_ID,
                "client_secret": fake_yahoo::CLIENT_SECRET,
                "refresh_token": fake_yahoo::REFRESH_TOKEN
            }
        });
        secrets["amazon"] = serde_json::json!({
            fake_amazon::SELLER: {
                "client_id": fake_amazon::CLIENT_ID,
                "client_secret": fake_amazon::CLIENT_SECRET,
                "refresh_token": fake_amazon::REFRESH_TOKEN
            }
        });
        let urls = FeedUrls {
            rakuten: rms.url().to_owned(),
            yahoo: Some(format!("{}/ShoppingWebService/V1/", yahoo.url())),
            yahoo_token: format!("{}/yconnect/v2/token", yahoo.url()),
            amazon: amazon.url().to_owned(),
            amazon_token: format!("{}{}", amazon.url(), fake_amazon::LWA_PATH),
            shopify: None,
        };
        // The cold start's mall actions call the fakes too: no request leaves the machine.
        let _malls = MallUrls::set(&urls);
        let d = deploy_with("malls", &secrets.to_string(), "poll").await;
        d.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
        let feeds = mallguard_lambda::feeds_from(&d.cold.deployment, &urls).expect("feeds from the secret");
        let of = |mall: Mall| -> Vec<_> { feeds.iter().filter(|f| f.mall() == mall).cloned().collect() };
        assert_eq!(
            (of(Mall::Rakuten).len(), of(Mall::Yahoo).len(), of(Mall::Amazon).len()),
            (1, 1, 1)
        );
        let payload: Value = serde_json::from_str(&event("poll-schedule.json")).unwrap();
        // The cold start's use cases over a client that logs every write, for the roles' check.
        let writes = WriteLog::default();
        let recorded = app_with(&d, true, writes.clone(), RequestCounts::default()).await;
        let app = &recorded;
        let poll = |feeds: Vec<std::sync::Arc<dyn mallguard_domain::feed::OrderFeed>>| {
            let payload = payload.clone();
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
                let report =
                    mallguard_poll::handle(app, &feeds, mallguard_lambda::poll_budget(), Some(deadline), payload)
                        .await
                        .expect("the invocation succeeds");
                serde_json::to_value(report).unwrap()
            }
        };

        let report = poll(of(Mall::Rakuten)).await;
        assert_eq!(report["shops"][0]["accepted"], 2, "{report}");
        d.clock.advance(jiff::SignedDuration::from_mins(5));
        let report = poll(of(Mall::Yahoo)).await;
        // By 13:05 JST the fake lists one Yahoo! order of 山田 太郎's.
        assert_eq!(report["shops"][0]["held"], 1, "the Yahoo! order is held: {report}");
        // The held order's buyer was sent the notice through SES: the message id its evidence records is the
        // one of a mail moto took for the buyer (moto's mails are the whole run's, other tests' too).
        let yahoo_order = mallguard_domain::ids::OrderRef::new(
            Mall::Yahoo,
            mallguard_domain::ids::ShopId::parse(fake_yahoo::SELLER).unwrap(),
            mallguard_domain::ids::OrderId::parse(fake_yahoo::FIRST).unwrap(),
        );
        let evidence = app.evidence(&yahoo_order).await.unwrap();
        let sent: Vec<String> = evidence
            .history
            .iter()
            .filter_map(|h| match &h.event {
                mallguard_domain::history::Event::NoticeSent {
                    kind: mallguard_domain::notice::NoticeKind::Notice,
                    message_id,
                    ..
                } => Some(message_id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "one notice sent: {:?}", evidence.history);
        let messages = moto_messages(&d.moto).await;
        let notice = messages
            .iter()
            .find(|m| m["id"].as_str() == Some(sent[0].as_str()))
            .unwrap_or_else(|| panic!("SES has no message {}", sent[0]));
        assert!(
            notice["destinations"].to_string().contains("taro.yamada@example.com"),
            "{notice}"
        );

        // Amazon's SQS event: two deliveries of one ORDER_CHANGE notification.
        let to_amazon_relay = |messages: &[Value]| {
            messages
                .iter()
                .filter(|m| m.to_string().contains("@marketplace.amazon.co.jp"))
                .count()
        };
        // moto's mails are the whole run's: count what this test adds.
        let relay_before = to_amazon_relay(&moto_messages(&d.moto).await);
        assert_allowed("PollRole", writes.take());
        let sellers = mallguard_lambda::amazon_sellers_from(&d.cold.deployment, &urls).unwrap();
        let sqs: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(&event("amazon-notifications-sqs.json")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let (response, batch) = mallguard_amazon_notifications::handle(app, &sellers, Some(deadline), sqs).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert_eq!((batch.held, batch.already_handled), (1, 1), "{batch:?}");
        assert_eq!(amazon.requests(fake_amazon::Endpoint::GetOrder), 1);
        assert_allowed("AmazonNotificationsRole", writes.take());

        let holds = app.holds(true).await.unwrap();
        let amazon_hold = holds
            .iter()
            .find(|h| h.order.mall == Mall::Amazon)
            .unwrap_or_else(|| panic!("the Amazon order is held: {holds:?}"));
        assert_eq!(amazon_hold.original.mall, Mall::Rakuten, "held against the first order");
        assert_eq!(amazon_hold.original.order_id.as_str(), fake::YAMADA);
        assert!(
            !amazon_hold.contact.phone_allowed,
            "never a phone task for an Amazon order"
        );
        assert_eq!(holds.iter().filter(|h| h.order.mall == Mall::Yahoo).count(), 1);
        let messages = moto_messages(&d.moto).await;
        assert_eq!(
            to_amazon_relay(&messages),
            relay_before,
            "never through SES to Amazon's relay address"
        );
        let sent = amazon.messages();
        assert_eq!(sent.len(), 1, "the notice, through Buyer-Seller Messaging");
        assert_eq!(
            (sent[0].order.as_str(), sent[0].message_type.as_str()),
            (fake_amazon::ORDER, "confirmOrderDetails")
        );
        assert!(!sent[0].text().contains("http"), "no link: {}", sent[0].text());
        let staff_mail = messages
            .iter()
            .map(|m| m.to_string())
            .find(|text| text.contains("staff@tanaka-shop.example") && text.contains(fake_amazon::ORDER))
            .expect("the staff were told of the Amazon hold");
        // No phone task: the staff are told that phoning is forbidden, and where to turn instead.
        assert!(staff_mail.contains("電話連絡は禁止"), "{staff_mail}");
        assert!(staff_mail.contains("カスタマーサービス"), "{staff_mail}");

        // The backstop: getOrders finds the Amazon order again; it is a redelivery, nothing is written.
        d.clock.advance(jiff::SignedDuration::from_mins(5));
        let report = poll(of(Mall::Amazon)).await;
        let shop = &report["shops"][0];
        assert_eq!(shop["outcome"], "polled", "{report}");
        assert_eq!(
            (shop["accepted"].as_u64(), shop["held"].as_u64()),
            (Some(0), Some(0)),
            "{report}"
        );
        assert!(shop["failure"].is_null(), "{report}");
    });
}

/// What happens at the mall, through the deployed handlers on DynamoDB Local: the poll function holds a
/// Yahoo! duplicate at Yahoo! (status 3), and at the deadline the expire function cancels it there (status
/// 4) before the buyer's cancellation mail goes out through SES; the Amazon order of the same buyer, held
/// through the amazon-notifications function, is not cancelled at its deadline and the staff get the case
/// text. Counted against the same poll in a deployment without mall actions: each duplicate held at Yahoo!
/// costs one transaction more (the action's outcome; the action itself rides in the decision's) and not
/// one read more.
#[test]
fn holds_and_cancellations_reach_yahoo_and_an_amazon_hold_waits_for_the_staff() {
    use mallguard_domain::action::{ActionId, ActionKind, ActionState};
    use mallguard_domain::hold::HoldState;
    use mallguard_domain::ids::Mall;
    use mallguard_domain::ports::roles::*;
    use mallguard_feeds::fake::{self, FakeRms};
    use mallguard_feeds::fake_amazon::{self, FakeSpApi};
    use mallguard_feeds::fake_yahoo::{self, FakeYahoo};

    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let (rms, yahoo, amazon) = (
            FakeRms::start().await,
            FakeYahoo::start().await,
            FakeSpApi::start().await,
        );
        rms.license_expires("2027-02-01T23:59:59");
        let _malls = MallUrls::set(&mallguard_lambda::FeedUrls {
            rakuten: rms.url().to_owned(),
            yahoo: Some(format!("{}/ShoppingWebService/V1/", yahoo.url())),
            yahoo_token: format!("{}/yconnect/v2/token", yahoo.url()),
            amazon: amazon.url().to_owned(),
            amazon_token: format!("{}{}", amazon.url(), fake_amazon::LWA_PATH),
            shopify: None,
        });
        let mut secrets: Value = serde_json::from_str(SECRETS).unwrap();
        secrets["rakuten"] = serde_json::json!({
            fake::SHOP: { "service_secret": fake::SERVICE_SECRET, "license_key": fake::LICENSE_KEY }
        });
        secrets["yahoo"] = serde_json::json!({
            fake_yahoo::SELLER: {
                "client_id": fake_yahoo::CLIENT_ID,
                "client_secret": fake_yahoo::CLIENT_SECRET,
                "refresh_token": fake_yahoo::REFRESH_TOKEN
            }
        });
        secrets["amazon"] = serde_json::json!({
            fake_amazon::SELLER: {
                "client_id": fake_amazon::CLIENT_ID,
                "client_secret": fake_amazon::CLIENT_SECRET,
                "refresh_token": fake_amazon::REFRESH_TOKEN
            }
        });
        // The Rakuten then the Yahoo! poll, the Yahoo! one counted: first where mallguard does not act at
        // the malls (the fakes' orders are only read), then as deployed.
        let payload: Value = serde_json::from_str(&event("poll-schedule.json")).unwrap();
        let poll = |app: mallguard_domain::service::Mallguard, counts: RequestCounts, d: &Deployed| {
            let payload = payload.clone();
            let feeds = mallguard_lambda::feeds(&d.cold.deployment).expect("feeds from the secret");
            async move {
                let of = |mall: Mall| -> Vec<_> { feeds.iter().filter(|f| f.mall() == mall).cloned().collect() };
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
                let mut counted = None;
                for mall in [Mall::Rakuten, Mall::Yahoo] {
                    counts.reset();
                    mallguard_poll::handle(
                        &app,
                        &of(mall),
                        mallguard_lambda::poll_budget(),
                        Some(deadline),
                        payload.clone(),
                    )
                    .await
                    .expect("the poll succeeds");
                    counted = Some(counts.take());
                }
                counted.unwrap()
            }
        };
        let without = deploy_with("actions-baseline", &secrets.to_string(), "poll").await;
        without.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
        let (app, counts) = counted_app(&without, false).await;
        let baseline = poll(app, counts, &without).await;
        assert_eq!(
            yahoo.status(fake_yahoo::FIRST).0,
            2,
            "nothing asked of Yahoo! without mall actions"
        );

        let d = deploy_with("actions", &secrets.to_string(), "poll").await;
        d.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
        let (counted, counts) = counted_app(&d, true).await;
        let app = &counted;
        let acting = poll(counted.clone(), counts.clone(), &d).await;
        assert_eq!(yahoo.status(fake_yahoo::FIRST).0, 3, "held at Yahoo!");
        let yahoo_holds = app
            .holds(true)
            .await
            .unwrap()
            .iter()
            .filter(|h| h.order.mall == Mall::Yahoo)
            .count() as u64;
        assert!(yahoo_holds >= 1);
        println!("the Yahoo! poll without mall actions: {baseline}; with them: {acting}");
        assert_eq!(
            acting.of("TransactWriteItems"),
            baseline.of("TransactWriteItems") + yahoo_holds,
            "one transaction per hold action, its outcome: {baseline} / {acting}"
        );
        assert_eq!(
            acting.total(),
            baseline.total() + yahoo_holds,
            "nothing else, and no read: {baseline} / {acting}"
        );

        let sellers = mallguard_lambda::amazon_sellers(&d.cold.deployment).unwrap();
        let mut sqs: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(&event("amazon-notifications-sqs.json")).unwrap();
        sqs.records.truncate(1);
        let (response, batch) = mallguard_amazon_notifications::handle(app, &sellers, None, sqs).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(batch.held, 1, "{batch:?}");

        let holds = app.holds(true).await.unwrap();
        let yahoo_hold = holds.iter().find(|h| h.order.mall == Mall::Yahoo).unwrap().clone();
        let amazon_hold = holds.iter().find(|h| h.order.mall == Mall::Amazon).unwrap().clone();
        let store = d
            .cold
            .deployment
            .store(&aws_config::load_defaults(BehaviorVersion::latest()).await);
        let hold_action = store
            .action(&ActionId::for_hold(&yahoo_hold.id, ActionKind::Hold))
            .await
            .unwrap()
            .expect("the hold action is recorded");
        assert_eq!(hold_action.state, ActionState::Done);
        assert!(
            !mallguard_domain::action::MallActions::can(
                &mallguard_lambda::mall_actions(&d.cold.deployment, &mallguard_lambda::FeedUrls::from_env()).unwrap(),
                Mall::Amazon,
                &amazon_hold.order.shop,
                ActionKind::Hold
            ),
            "no hold exists at Amazon"
        );

        // Both deadlines pass: the expire function cancels the Yahoo! order at Yahoo!, not the Amazon one.
        let before = moto_messages(&d.moto).await.len();
        let yahoo_buyer = "taro.yamada@example.com";
        d.clock.set(yahoo_hold.deadline.max(amazon_hold.deadline));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let sweep = mallguard_expire::handle(
            app,
            serde_json::from_str(&event("expire-schedule.json")).unwrap(),
            Some(deadline),
        )
        .await
        .unwrap();
        assert_eq!(
            (sweep.cancelled, sweep.escalated, sweep.actions.done),
            (1, 1, 1),
            "{sweep:?}"
        );
        assert_eq!(yahoo.status(fake_yahoo::FIRST).0, 4, "cancelled at Yahoo!");
        let amazon_now = app.holds(true).await.unwrap();
        let waiting = amazon_now.iter().find(|h| h.id == amazon_hold.id).expect("still open");
        assert_eq!(waiting.state, HoldState::Held);
        assert!(waiting.awaiting_staff && waiting.amazon_fallback_case.is_some());
        let messages = moto_messages(&d.moto).await;
        let new: Vec<String> = messages[before..].iter().map(|m| m.to_string()).collect();
        let to_the_buyer: Vec<&Value> = messages[before..]
            .iter()
            .filter(|m| recipients(m) == [yahoo_buyer])
            .collect();
        assert_eq!(to_the_buyer.len(), 1, "one mail to the Yahoo! buyer: {new:?}");
        let cancellation = to_the_buyer[0].to_string();
        assert!(
            cancellation.contains(fake_yahoo::FIRST) && cancellation.contains("キャンセルのお知らせ"),
            "the Yahoo! buyer's cancellation mail, after Yahoo! cancelled: {cancellation}"
        );
        assert!(
            new.iter()
                .any(|m| m.contains("staff@tanaka-shop.example") && m.contains("自動ではキャンセルしません")),
            "the staff get the Amazon case: {new:?}"
        );
    });
}

/// What happens at Shopify, through the deployed handlers on DynamoDB Local: the ingest function holds the
/// Shopify duplicate #1002 at Shopify (one `fulfillmentOrderHold` per open fulfillment order), the buyer's
/// cancel through the respond function is one `orderCancel`, and once Shopify's job has cancelled the order
/// the expire function's sweep sends the buyer's receipt through SES (moto). Counted against the same
/// handlers in a deployment without mall actions: the hold costs one transaction more (its outcome; the
/// action itself rides in the decision's) and no read; so does the cancel, whose receipt waits on it, with
/// one GetItem more: the respond function's look at whether the cancel is done.
#[test]
fn a_shopify_duplicate_is_held_and_cancelled_at_shopify_through_the_deployed_handlers() {
    use mallguard_domain::action::{ActionId, ActionKind, ActionState};
    use mallguard_domain::ports::roles::*;
    use mallguard_feeds::fake_shopify::{self, FakeShopify, Operation};

    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let shopify = FakeShopify::start().await;
        shopify.add_order(fake_shopify::ORDER, 2);
        let _malls = MallUrls::set(&mallguard_lambda::FeedUrls {
            rakuten: "http://127.0.0.1:9".into(),
            yahoo: None,
            yahoo_token: "http://127.0.0.1:9".into(),
            amazon: "http://127.0.0.1:9".into(),
            amazon_token: "http://127.0.0.1:9".into(),
            shopify: Some(shopify.url().to_owned()),
        });
        let mut secrets: Value = serde_json::from_str(SECRETS).unwrap();
        secrets["shopify_admin"] = serde_json::json!({
            fake_shopify::SHOP: { "access_token": fake_shopify::TOKEN, "refund": "original", "restock": true }
        });
        let hold = HoldId::parse(HOLD).unwrap();
        // The two orders through the ingest function, then the buyer's cancel through the respond function,
        // each counted.
        let handled = |app: mallguard_domain::service::Mallguard, counts: RequestCounts, d: &Deployed| {
            let webhooks = d.cold.deployment.secrets.webhooks().clone();
            async move {
                let ingest = || mallguard_ingest::router(app.clone(), IngestConfig::new(webhooks.clone()));
                let (status, body) = invoke(ingest(), &event("ingest-shopify.json")).await;
                assert_eq!(status, 200, "{body}");
                counts.reset();
                let (status, body) = invoke(ingest(), &event("ingest-shopify-base64.json")).await;
                assert!(status == 200 && body.contains(HOLD), "{body}");
                let held = counts.take();
                let (status, _) =
                    invoke_location(mallguard_respond::router(app.clone()), &event("respond-post.json")).await;
                assert_eq!(status, 303);
                (held, counts.take())
            }
        };
        let without = deploy_with("shopify-baseline", SECRETS, "ingest").await;
        let (app, counts) = counted_app(&without, false).await;
        let (held_plain, cancelled_plain) = handled(app, counts, &without).await;
        assert_eq!(
            shopify.requests(Operation::Hold),
            0,
            "nothing asked of Shopify without mall actions"
        );

        let d = deploy_with("shopify-actions", &secrets.to_string(), "ingest").await;
        let (app, counts) = counted_app(&d, true).await;
        let (held, cancelled) = handled(app.clone(), counts.clone(), &d).await;
        assert_eq!(
            shopify.requests(Operation::Hold),
            2,
            "one fulfillmentOrderHold per open fulfillment order"
        );
        assert_eq!(shopify.requests(Operation::Cancel), 1, "one orderCancel");
        println!("the Shopify duplicate held without mall actions: {held_plain}; with them: {held}");
        assert_eq!(
            held.of("GetItem"),
            held_plain.of("GetItem"),
            "no read for the hold: {held}"
        );
        assert_eq!(held.of("TransactWriteItems"), held_plain.of("TransactWriteItems") + 1);
        assert_eq!(held.total(), held_plain.total() + 1, "nothing else: {held}");
        println!("the buyer's cancel without mall actions: {cancelled_plain}; with them: {cancelled}");
        assert_eq!(
            cancelled.of("GetItem"),
            cancelled_plain.of("GetItem") + 1,
            "the respond function's look at the cancel only: {cancelled}"
        );
        // One transaction more (the cancel's outcome); the receipt waits for Shopify's job, so the
        // transaction recording it as sent is not in this invocation.
        assert_eq!(
            cancelled.of("TransactWriteItems"),
            cancelled_plain.of("TransactWriteItems")
        );
        assert_eq!(
            cancelled.total(),
            cancelled_plain.total() + 1,
            "nothing else: {cancelled}"
        );

        // moto's mails are the whole run's (other tests cancel #1002 too): the receipt is found by the message
        // id its evidence records.
        let order = mallguard_domain::ids::OrderRef::new(
            mallguard_domain::ids::Mall::Shopify,
            mallguard_domain::ids::ShopId::parse(fake_shopify::SHOP).unwrap(),
            mallguard_domain::ids::OrderId::parse(fake_shopify::ORDER).unwrap(),
        );
        let receipts_sent = || {
            let app = app.clone();
            let order = order.clone();
            async move {
                app.evidence(&order)
                    .await
                    .unwrap()
                    .history
                    .iter()
                    .filter_map(|h| match &h.event {
                        mallguard_domain::history::Event::NoticeSent {
                            kind: mallguard_domain::notice::NoticeKind::Receipt,
                            message_id,
                            ..
                        } => Some(message_id.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert!(receipts_sent().await.is_empty(), "no receipt while Shopify's job runs");
        // Shopify's job cancels the order; the expire function's sweep looks again and sends the receipt.
        d.clock.advance(jiff::SignedDuration::from_mins(2));
        let sweep = mallguard_expire::handle(
            &app,
            serde_json::from_str(&event("expire-schedule.json")).unwrap(),
            Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
        )
        .await
        .unwrap();
        assert_eq!(sweep.actions.done, 1, "{sweep:?}");
        assert_eq!(shopify.requests(Operation::Cancel), 1, "still one orderCancel");
        let sent = receipts_sent().await;
        assert_eq!(sent.len(), 1, "one receipt");
        let messages = moto_messages(&d.moto).await;
        let receipt = messages
            .iter()
            .find(|m| m["id"].as_str() == Some(sent[0].as_str()))
            .unwrap_or_else(|| panic!("SES has no message {}", sent[0]));
        assert_eq!(recipients(receipt), ["taro.yamada@example.com"]);
        assert!(receipt.to_string().contains("ご回答ありがとうございます"), "{receipt}");
        let store = d
            .cold
            .deployment
            .store(&aws_config::load_defaults(BehaviorVersion::latest()).await);
        let cancel = store
            .action(&ActionId::for_hold(&hold, ActionKind::Cancel))
            .await
            .unwrap()
            .expect("the cancel is recorded");
        assert_eq!(cancel.state, ActionState::Done);
    });
}

/// SES's bounce of a buyer's notice, as EventBridge delivers it to the mail-events function: the hold
/// becomes a phone task for the staff within the one invocation, mailed through SES (moto).
#[test]
fn a_bounce_event_from_ses_turns_the_hold_into_a_phone_task() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy_with("mailevents", SECRETS, "mail-events").await;
        let ingest = || {
            let webhooks = d.cold.deployment.secrets.webhooks().clone();
            mallguard_ingest::router(d.cold.app.clone(), IngestConfig::new(webhooks))
        };
        for sample in ["ingest-shopify.json", "ingest-shopify-base64.json"] {
            let (status, body) = invoke(ingest(), &event(sample)).await;
            assert_eq!(status, 200, "{body}");
        }
        let before = moto_messages(&d.moto).await.len();
        let bounce: Value = serde_json::from_str(&event("mail-events-bounce.json")).unwrap();
        let handled = mallguard_mail_events::handle(&d.cold.app, bounce.clone())
            .await
            .unwrap();
        assert_eq!(handled, mallguard_mail_events::Handled::Escalated);
        let messages = moto_messages(&d.moto).await;
        let new: Vec<String> = messages[before..].iter().map(|m| m.to_string()).collect();
        assert!(
            new.iter()
                .any(|m| m.contains("staff@tanaka-shop.example") && m.contains("届きませんでした")),
            "the staff's phone task went out through SES: {new:?}"
        );
        // EventBridge delivers at least once: the same event again is recorded, not mailed again.
        assert_eq!(
            mallguard_mail_events::handle(&d.cold.app, bounce).await.unwrap(),
            mallguard_mail_events::Handled::Recorded
        );
        // moto's mails are the whole run's, and other tests send meanwhile: only the phone task is counted.
        let phone_tasks = |messages: &[Value]| {
            messages
                .iter()
                .map(|m| m.to_string())
                .filter(|m| m.contains("staff@tanaka-shop.example") && m.contains("届きませんでした"))
                .count()
        };
        assert_eq!(phone_tasks(&moto_messages(&d.moto).await), phone_tasks(&messages));
        let evidence = d
            .cold
            .app
            .evidence(&d.cold.app.holds(true).await.unwrap()[0].order)
            .await
            .unwrap();
        assert!(
            evidence
                .history
                .iter()
                .any(|h| matches!(h.event, mallguard_domain::history::Event::MailReported { .. })),
            "in the evidence"
        );
    });
}

/// A Rakuten buyer's masked address is reached through Rakuten's relay: the shop's own-store order comes
/// first, the same buyer's Rakuten order is polled and held, and its notice goes through the relay (an SMTP
/// sink here) with the shop's login and its registered From; the staff alert still goes through SES.
#[test]
fn a_rakuten_buyers_notice_goes_through_rakutens_relay_with_the_shops_login() {
    use mallguard_domain::ids::Mall;
    use mallguard_feeds::fake::{self, FakeRms};
    use mallguard_smtp::sink::SmtpSink;

    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let rms = FakeRms::start().await;
        rms.license_expires("2027-02-01T23:59:59");
        let sink = SmtpSink::start("tanaka-relay", "relay-password").await.unwrap();
        let _malls = MallUrls::set(&mallguard_lambda::FeedUrls {
            rakuten: rms.url().to_owned(),
            yahoo: None,
            yahoo_token: "http://127.0.0.1:9/token".into(),
            amazon: "http://127.0.0.1:9".into(),
            amazon_token: "http://127.0.0.1:9/token".into(),
            shopify: None,
        });
        let mut secrets: Value = serde_json::from_str(SECRETS).unwrap();
        secrets["rakuten"] = serde_json::json!({
            fake::SHOP: {
                "service_secret": fake::SERVICE_SECRET,
                "license_key": fake::LICENSE_KEY,
                "smtp": {
                    "user": "tanaka-relay",
                    "password": "relay-password",
                    "from": "shop@tanaka-shop.example",
                    "host": "127.0.0.1",
                    "port": sink.port()
                }
            }
        });
        let d = deploy_with("relay", &secrets.to_string(), "poll").await;
        // The Rakuten shop goes by its own name (saved in the console): the relay's From carries it.
        let shop = mallguard_domain::ids::ShopId::parse(fake::SHOP).unwrap();
        d.cold
            .app
            .save_shop_settings(
                Mall::Rakuten,
                &shop,
                None,
                &[("name".into(), "Tanaka Rakuten Shop".into())],
                "sato@tanaka-shop.example",
            )
            .await
            .unwrap();
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let cold = cold_start_with::<Poll>(&sdk, d.clock.clone(), Arc::new(mallguard_domain::ports::NoMetrics))
            .await
            .expect("the cold start succeeds");
        let ingest = {
            let webhooks = cold.deployment.secrets.webhooks().clone();
            mallguard_ingest::router(cold.app.clone(), IngestConfig::new(webhooks))
        };
        let (status, body) = invoke(ingest, &event("ingest-generic.json")).await;
        assert_eq!(status, 200, "{body}");
        d.clock.set("2026-11-23T04:00:00Z".parse().unwrap());
        let feeds = mallguard_lambda::feeds(&cold.deployment).unwrap();
        let rakuten: Vec<_> = feeds.into_iter().filter(|f| f.mall() == Mall::Rakuten).collect();
        let payload: Value = serde_json::from_str(&event("poll-schedule.json")).unwrap();
        let report = mallguard_poll::handle(&cold.app, &rakuten, mallguard_lambda::poll_budget(), None, payload)
            .await
            .unwrap();
        let report = serde_json::to_value(report).unwrap();
        assert_eq!(report["shops"][0]["held"], 1, "{report}");

        let relayed = sink.messages();
        assert_eq!(relayed.len(), 1, "the buyer's notice, through the relay");
        let mail = &relayed[0];
        assert_eq!(mail.user.as_deref(), Some("tanaka-relay"));
        assert_eq!(mail.from, "shop@tanaka-shop.example");
        let from = mail
            .text()
            .lines()
            .find(|l| l.starts_with("From:"))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(
            from.contains("Tanaka Rakuten Shop") && from.contains("<shop@tanaka-shop.example>"),
            "the shop's own name: {from}"
        );
        assert!(
            mail.recipients.iter().all(|r| r.ends_with("@pc.fw.rakuten.ne.jp")),
            "{:?}",
            mail.recipients
        );
        let messages = moto_messages(&d.moto).await;
        assert!(
            !messages.iter().any(|m| m.to_string().contains("pc.fw.rakuten.ne.jp")),
            "never through SES"
        );
    });
}

/// A shop's own settings, saved in the console of one function, reach another function's cold start
/// through the table: the next notice there names the shop as set and its deadline follows the shop's
/// answer time, on DynamoDB Local and moto.
#[test]
fn a_shops_settings_saved_in_the_console_govern_the_next_notice_of_every_function() {
    use mallguard_domain::ids::{Mall, ShopId};
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let d = deploy_with("shopsettings", SECRETS, "console").await;
        let shop = ShopId::parse("tanaka-shop").unwrap();
        let saved = d
            .cold
            .app
            .save_shop_settings(
                Mall::Shopify,
                &shop,
                None,
                &[
                    ("name".into(), "田中商店 Shopify店".into()),
                    ("answer_hours".into(), "5".into()),
                ],
                "sato@tanaka-shop.example",
            )
            .await
            .unwrap();
        assert_eq!(saved.version, 1);

        // Another function's cold start on the same table and secret: the ingest function.
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let ingest = cold_start_with::<Poll>(&sdk, d.clock.clone(), Arc::new(mallguard_domain::ports::NoMetrics))
            .await
            .expect("the cold start succeeds");
        let router = || {
            let webhooks = ingest.deployment.secrets.webhooks().clone();
            mallguard_ingest::router(ingest.app.clone(), IngestConfig::new(webhooks))
        };
        let before = moto_messages(&d.moto).await.len();
        for sample in ["ingest-shopify.json", "ingest-shopify-base64.json"] {
            let (status, body) = invoke(router(), &event(sample)).await;
            assert_eq!(status, 200, "{body}");
        }
        let messages = moto_messages(&d.moto).await;
        // moto is shared with the tests running beside this one: look for this shop's mails only.
        let named: Vec<String> = messages[before..]
            .iter()
            .map(|m| m.to_string())
            .filter(|m| m.contains("田中商店 Shopify店"))
            .collect();
        assert!(
            named.iter().any(|m| m.contains("ご確認")),
            "the buyer's notice names the shop as set: {named:?}"
        );
        let hold = &ingest.app.holds(true).await.unwrap()[0];
        assert_eq!(
            hold.deadline
                .duration_since(mallguard_domain::ports::Clock::now(d.clock.as_ref())),
            jiff::SignedDuration::from_hours(5),
            "the shop's answer time"
        );
    });
}
