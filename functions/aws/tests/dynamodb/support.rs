//! What every DynamoDB test needs: a client for DynamoDB Local (started by `bash tests/run`), a fresh
//! table made from infra/template.yaml, and a store that counts its requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::Region;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use jiff::SignedDuration;
use mallguard_aws::counting::RequestCounts;
use mallguard_aws::dynamodb::{DEFAULT_RETENTION, DynamoDbStore};
use mallguard_aws::table_setup::create_table_from_template;
use mallguard_domain::ids::HoldId;
use mallguard_domain::notice::{Mail, NoticeKind};
use mallguard_domain::order::{EmailAddress, Order};
use mallguard_domain::ports::{Clock, SystemClock};
use mallguard_domain::service::Mallguard;
use mallguard_domain::testing::{ManualClock, RecordingMailer, link_tokens, order_at, settings};

/// The table definition, read at compile time: the tests cannot run on a table the template does not
/// define.
pub const TEMPLATE: &str = include_str!("../../../../infra/template.yaml");

/// Where `bash tests/run` says DynamoDB Local listens.
pub const ENDPOINT_VAR: &str = "MALLGUARD_TEST_DYNAMODB";

/// A DynamoDB client for DynamoDB Local, counting its requests into `counts`. Panics when the test
/// services are not running: a DynamoDB test never passes by skipping.
pub async fn client(counts: &RequestCounts) -> Client {
    let endpoint = std::env::var(ENDPOINT_VAR)
        .unwrap_or_else(|_| panic!("DynamoDB Local is not running: run the tests with `bash tests/run`"));
    // Region and credentials are set here, not looked up: a test must never reach a real AWS account.
    let sdk = mallguard_aws::sdk::loader()
        .endpoint_url(endpoint)
        .region(Region::new("ap-northeast-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "mallguard-tests"))
        .load()
        .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counts.interceptor())
        .build();
    Client::from_conf(config)
}

/// A table name no other test (or test process) uses.
pub fn unique_table_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemClock.now().as_nanosecond() % 1_000_000_000;
    format!(
        "mallguard-test-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh table and a store over it.
pub struct Table {
    pub name: String,
    pub client: Client,
    pub counts: RequestCounts,
    pub store: DynamoDbStore,
}

impl Table {
    /// A new, empty table made from the template, and a store with the default retention.
    pub async fn new() -> Self {
        let counts = RequestCounts::default();
        let client = client(&counts).await;
        let name = unique_table_name();
        create_table_from_template(&client, &name, TEMPLATE)
            .await
            .unwrap_or_else(|e| panic!("creating the table {name} from infra/template.yaml: {e}"));
        let store = DynamoDbStore::new(client.clone(), name.clone(), DEFAULT_RETENTION).with_counts(counts.clone());
        counts.reset();
        Self {
            name,
            client,
            counts,
            store,
        }
    }

    /// Another store over the same table and client, keeping its items for `retention`.
    pub fn store_with_retention(&self, retention: SignedDuration) -> DynamoDbStore {
        DynamoDbStore::new(self.client.clone(), self.name.clone(), retention).with_counts(self.counts.clone())
    }
}

/// The use cases over a DynamoDB store, with a recording mailer and a clock the test moves.
pub struct World {
    pub app: Mallguard,
    pub mailer: Arc<RecordingMailer>,
    pub clock: Arc<ManualClock>,
}

impl World {
    pub fn new(store: DynamoDbStore) -> Self {
        let mailer = Arc::new(RecordingMailer::default());
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
        let app = Mallguard::new(Arc::new(store), mailer.clone(), clock.clone(), settings());
        Self { app, mailer, clock }
    }

    /// The mails of one kind sent so far, oldest first.
    pub fn mails_of(&self, kind: NoticeKind) -> Vec<Mail> {
        self.mailer
            .mails()
            .into_iter()
            .filter(|m| m.tags.contains(&("kind".into(), kind.as_str().into())))
            .collect()
    }

    /// The confirm (0) or cancel (1) link token of the notice sent for `hold`.
    pub fn token(&self, hold: &HoldId, action: usize) -> String {
        let notice = self
            .mails_of(NoticeKind::Notice)
            .into_iter()
            .rev()
            .find(|m| m.tags.iter().any(|(_, v)| v == hold.as_str()))
            .unwrap_or_else(|| panic!("no notice was sent for {hold}"));
        link_tokens(&notice)[action].clone()
    }
}

/// An order by customer `n` (their own name, email, phones and address), placed at `placed_at`: orders
/// of different customers never match each other.
pub fn customer_order(n: usize, id: &str, placed_at: &str) -> Order {
    let mut order = order_at(id, placed_at);
    order.buyer.name = format!("山田 太郎{n}");
    order.buyer.email = Some(EmailAddress::parse(&format!("customer{n}@example.com")).expect("an email"));
    let phone = format!("090-{:04}-{:04}", 1000 + n / 10_000, n % 10_000);
    order.buyer.phone = Some(phone.clone());
    order.ship_to.phone = Some(phone);
    order.ship_to.name = order.buyer.name.clone();
    order.ship_to.lines = vec![format!("千代田{}-2-3 メゾン千代田 {}", n % 97 + 1, n + 100)];
    order
}
