//! The staff's tools: list and resolve holds, print the evidence, sweep now, replay quarantine.

use std::process::ExitCode;

use mallguard_domain::Language;
use mallguard_domain::hold::{Decision, HoldState};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::policy::{format_jst, format_jst_seconds};
use mallguard_domain::service::{Mallguard, ReplayOutcome, Retry, Settlement};

use crate::args::{CliResult, ShopArgs, url_of};
use crate::terminal::{say, table};

/// The use cases, with links in mails pointing at the default local address (or `--public-url`).
async fn app(shop: &ShopArgs) -> CliResult<Mallguard> {
    let default_url = url_of("127.0.0.1:9000".parse().expect("a valid address"));
    Ok(crate::local::compose(shop, default_url).await?.app)
}

/// Words of the staff's tools, per language.
struct Words {
    ja: bool,
}

impl Words {
    fn of(lang: Language) -> Self {
        Self {
            ja: lang == Language::Ja,
        }
    }

    fn pick<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        if self.ja { ja } else { en }
    }
}

/// An order as staff type it back into `evidence`: the mall and the number they know (`#1001` for
/// Shopify, whose internal id nobody types).
fn order_words(order: &OrderRef, number: &str) -> String {
    let number = mallguard_domain::order::bare_number(number);
    format!("{} #{number}", order.mall)
}

pub async fn holds(shop: &ShopArgs, all: bool) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let w = Words::of(lang);
    let holds = app.holds(!all).await?;
    if holds.is_empty() {
        say!(
            "{}",
            match all {
                true => w.pick("保留はありません。", "No holds."),
                false => w.pick("対応待ちの保留はありません。", "No open holds."),
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        w.pick("保留ID", "HOLD").to_owned(),
        w.pick("状態", "STATE").to_owned(),
        w.pick("至急", "URGENT").to_owned(),
        w.pick("電話", "CALL").to_owned(),
        w.pick("回答期限（日本時間）", "DEADLINE (JST)").to_owned(),
        w.pick("保留中の注文", "HELD ORDER").to_owned(),
        w.pick("重複の疑いの相手", "DUPLICATE OF").to_owned(),
        w.pick("ショップ", "SHOP").to_owned(),
    ]];
    for h in holds {
        let urgent = h.urgent && h.state == HoldState::Held;
        rows.push(vec![
            h.id.to_string(),
            h.state.staff_label(lang).to_owned(),
            if urgent { w.pick("至急", "URGENT") } else { "-" }.to_owned(),
            // The buyer's notice did not arrive: the staff phone the buyer.
            if h.phone_task && h.state == HoldState::Held {
                w.pick("要電話", "CALL")
            } else {
                "-"
            }
            .to_owned(),
            format_jst(h.deadline, lang),
            order_words(&h.order, h.held_number()),
            order_words(&h.original, h.original_number()),
            h.order.shop.to_string(),
        ]);
    }
    print!("{}", table(&rows));
    say!(
        "{}",
        w.pick(
            "注文の経過: mallguard evidence <モール> <注文番号>（例: mallguard evidence own #TS-20261123-0002）",
            "An order's timeline: mallguard evidence <mall> <order number> (e.g. mallguard evidence own #TS-20261123-0002)"
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn resolve(shop: &ShopArgs, hold: &str, decision: Decision, staff: &str) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let id = HoldId::parse(hold).map_err(|e| format!("{hold:?}: {e}"))?;
    match app.resolve(&id, decision, staff).await? {
        Settlement::Settled(settled) => {
            say!("{id}: {} ({})", settled.state.staff_label(lang), staff);
            Ok(ExitCode::SUCCESS)
        }
        Settlement::AlreadySettled(current) => {
            let w = Words::of(lang);
            say!(
                "{id}: {} {} — {}",
                w.pick("すでに", "was already"),
                current.state.staff_label(lang),
                w.pick("変更はありません", "nothing changed")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// An order number as staff copy it: `#TS-…` or `#1001` (as `holds` and the mails show it), without the
/// `#`, or the mall's internal id.
fn order_number(raw: &str) -> Result<OrderId, String> {
    OrderId::parse(mallguard_domain::order::bare_number(raw)).map_err(|e| format!("{raw:?}: {e}"))
}

pub async fn evidence(shop: &ShopArgs, mall: &str, order_id: &str, shop_id: Option<&str>) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let w = Words::of(lang);
    let mall: Mall = mall.parse()?;
    let order_id = order_number(order_id)?;
    let refs = match shop_id {
        Some(s) => vec![OrderRef::new(mall, ShopId::parse(s)?, order_id.clone())],
        None => app.find_orders(mall, &order_id).await?,
    };
    let [order_ref] = refs.as_slice() else {
        if refs.is_empty() {
            return Err(format!("no order {order_id} on {mall}").into());
        }
        let shops: Vec<_> = refs.iter().map(|r| r.shop.to_string()).collect();
        return Err(format!("order {order_id} exists in shops {}: add --shop", shops.join(", ")).into());
    };
    let evidence = app.evidence(order_ref).await?;
    let order = &evidence.order.order;
    let at = |t| format_jst_seconds(t, lang);
    if w.ja {
        say!(
            "注文 {}（{}、ショップ {}）　時刻はすべて日本時間",
            order.number(),
            order.order_ref.mall.display_name(lang),
            order.order_ref.shop
        );
    } else {
        say!(
            "Order {} ({}, shop {}); all times JST",
            order.number(),
            order.order_ref.mall.display_name(lang),
            order.order_ref.shop
        );
    }
    let mut rows = vec![];
    if order.number.is_some() {
        // The mall's internal id, for its API and support, beside the number people know.
        rows.push(vec![
            w.pick("注文ID", "order id").to_owned(),
            order.order_ref.order_id.to_string(),
        ]);
    }
    rows.extend([
        vec![w.pick("注文日時", "placed").to_owned(), at(order.placed_at)],
        vec![
            w.pick("受信日時", "received").to_owned(),
            at(evidence.order.received_at),
        ],
        vec![w.pick("状態", "status").to_owned(), order.status.label(lang).to_owned()],
    ]);
    for line in order.lines.iter() {
        rows.push(vec![
            w.pick("商品", "item").to_owned(),
            format!("{}（{}）× {}", line.title, line.product, line.quantity.get()),
        ]);
    }
    rows.push(vec![
        w.pick("受信データ", "payload").to_owned(),
        format!("sha256 {}", order.payload_digest.as_str()),
    ]);
    if let Some(hold) = &evidence.hold {
        let (duplicate_of, deadline) = if w.ja {
            (
                format!(
                    "（{} と重複の疑い）",
                    order_words(&hold.original, hold.original_number())
                ),
                "、回答期限",
            )
        } else {
            (
                format!(
                    " (duplicate of {})",
                    order_words(&hold.original, hold.original_number())
                ),
                ", deadline",
            )
        };
        rows.push(vec![
            w.pick("保留", "hold").to_owned(),
            format!(
                "{} {}{duplicate_of}{deadline} {}",
                hold.id,
                hold.state.staff_label(lang),
                at(hold.deadline)
            ),
        ]);
        if let Some(r) = &hold.resolution {
            rows.push(vec![
                w.pick("決着", "settled").to_owned(),
                format!("{} / {} / {}", r.state.staff_label(lang), r.by.label(lang), at(r.at)),
            ]);
        }
    }
    for id in &evidence.order.duplicates {
        rows.push(vec![
            w.pick("後の重複注文の保留", "later duplicate held").to_owned(),
            id.to_string(),
        ]);
    }
    let indented: Vec<Vec<String>> = rows
        .into_iter()
        .map(|mut r| {
            r[0] = format!("  {}:", r[0]);
            r
        })
        .collect();
    print!("{}", table(&indented));
    say!();
    say!("{}", w.pick("経過:", "Timeline:"));
    for entry in &evidence.history {
        say!("  {}", entry.describe(lang));
    }
    print_mails(&evidence, lang);
    print_pages(&evidence, lang);
    Ok(ExitCode::SUCCESS)
}

/// Every distinct page the buyer was shown for the order's hold, as its visible text (what staff read back
/// to a buyer), each with the digest the timeline recorded and whether the kept HTML still matches it.
fn print_pages(evidence: &mallguard_domain::service::Evidence, lang: Language) {
    if evidence.pages.is_empty() {
        return;
    }
    let w = Words::of(lang);
    say!();
    say!(
        "{}",
        w.pick(
            "購入者に表示したページ（表示したとおりの文面。保存期間を過ぎたものは経過の sha256 のみ）:",
            "Pages the buyer was shown (their text as shown; past the retention period only the timeline's sha256 is left):"
        )
    );
    for page in &evidence.pages {
        let check = if page.matches() {
            w.pick("経過の記録と一致", "matches the timeline's record")
        } else {
            w.pick("経過の記録と不一致", "DOES NOT match the timeline's record")
        };
        say!();
        say!(
            "──── {} {}（{}）",
            w.pick("確認ページ", "Confirmation page"),
            mallguard_domain::policy::format_jst(page.shown_at, lang),
            match page.shown.lang {
                Language::Ja => "日本語",
                Language::En => "English",
            }
        );
        say!("sha256: {}（{check}）", page.shown.digest);
        say!(
            "{}: {}",
            w.pick("テンプレート版", "Template version"),
            page.shown.template
        );
        say!();
        print!("{}", page.visible_text());
        say!("────");
    }
}

/// Every mail of the order as it was sent, text unchanged, each with the digest the history recorded and
/// whether the kept text still matches it: what staff read back to a buyer in a dispute.
fn print_mails(evidence: &mallguard_domain::service::Evidence, lang: Language) {
    use mallguard_domain::history::{Event, kind_label};
    use mallguard_domain::notice::NoticeState;
    let w = Words::of(lang);
    let queued: Vec<(&mallguard_domain::notice::NoticeId, Option<&str>)> = evidence
        .history
        .iter()
        .filter_map(|h| match &h.event {
            Event::NoticeQueued { notice, template, .. } => Some((notice, template.as_deref())),
            _ => None,
        })
        .collect();
    if queued.is_empty() {
        return;
    }
    say!();
    say!(
        "{}",
        w.pick(
            "送ったメール（本文は送ったとおり。保存期間を過ぎたものは記録の sha256 のみ）:",
            "Mails (the text exactly as sent; past the retention period only the recorded sha256 is left):"
        )
    );
    let mut shown = vec![];
    for (id, template) in queued {
        if shown.contains(&id) {
            continue;
        }
        shown.push(id);
        let recorded = evidence.recorded_digest(id);
        let Some(kept) = evidence.mails.iter().find(|m| &m.id == id) else {
            say!();
            say!(
                "──── {} {}: {}",
                id,
                w.pick("本文は削除済み（保存期間）", "text gone (retention period)"),
                recorded.map(|d| format!("sha256 {d}")).unwrap_or_default()
            );
            continue;
        };
        let digest = kept.mail.digest();
        let check = match recorded {
            Some(r) if r == digest => w.pick("経過の記録と一致", "matches the timeline's record"),
            Some(_) => w.pick("経過の記録と不一致", "DOES NOT match the timeline's record"),
            None => w.pick("記録なし（旧版）", "not recorded (older version)"),
        };
        say!();
        say!(
            "──── {}（{}）",
            kind_label(kept.kind, lang),
            match kept.state {
                NoticeState::Sent => w.pick("送信済み", "sent"),
                NoticeState::Pending => w.pick("送信待ち", "waiting to be sent"),
                NoticeState::Failed => w.pick("送信できず", "could not be sent"),
                NoticeState::Withdrawn => w.pick("送らず", "withdrawn unsent"),
            }
        );
        say!("{}: {}", w.pick("宛先", "To"), kept.mail.to);
        say!("{}: {}", w.pick("件名", "Subject"), kept.mail.subject);
        say!("sha256: {digest}（{check}）");
        if let Some(template) = template {
            say!("{}: {template}", w.pick("テンプレート版", "Template version"));
        }
        say!();
        print!("{}", kept.mail.text);
        if !kept.mail.text.ends_with('\n') {
            say!();
        }
        say!("────");
    }
}

pub async fn expire(shop: &ShopArgs, within: Option<u64>) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let until = within.map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
    // By hand, staff want every pending mail out now: the buyer's answer time is running.
    let r = app.sweep_until(Retry::AllNow, until).await?;
    if lang == Language::Ja {
        say!(
            "リマインド {}件、期限キャンセル {}件、Amazonカスタマーサービスへの確認依頼 {}件、メール送信 {}件（失敗 {}件）、夜間の送信停止時間のため延期 {}件、他で処理済み {}件",
            r.reminded,
            r.cancelled,
            r.escalated,
            r.notices_sent,
            r.notices_failed,
            r.deferred,
            r.skipped
        );
        if r.more_due {
            say!(
                "時間内に処理しきれなかった期限到来の保留・メール・モールでの操作が残っています。もう一度実行してください。"
            );
        }
    } else {
        say!(
            "reminded {}, cancelled {}, escalated to Amazon customer service {}, mails sent {}, failed {}, put off until the quiet hours end {}, skipped {}",
            r.reminded,
            r.cancelled,
            r.escalated,
            r.notices_sent,
            r.notices_failed,
            r.deferred,
            r.skipped
        );
        if r.more_due {
            say!("due holds, mail or mall actions are left that did not fit in the time given: run it again");
        }
    }
    Ok(if r.notices_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn poll(shop: &ShopArgs, mall: Option<&str>) -> CliResult<ExitCode> {
    let args = &shop.malls;
    let default_url = url_of("127.0.0.1:9000".parse().expect("a valid address"));
    let local = crate::local::compose(shop, default_url).await?;
    let mall = mall.map(str::parse::<Mall>).transpose()?;
    let feeds = crate::local::feeds(&local, args, mall, shop.knobs.policy().window)?;
    let w = Words::of(local.app.settings().shop.language);
    if feeds.is_empty() {
        say!(
            "{}",
            w.pick(
                "ポーリングするモールがありません: secrets.json の rakuten・yahoo・amazon にショップの認証情報を追加してください。",
                "Nothing to poll: add a shop's credentials under rakuten, yahoo or amazon in secrets.json."
            )
        );
        return Ok(ExitCode::FAILURE);
    }
    let mut failed = false;
    for feed in &feeds {
        let r = local.app.poll(feed.as_ref(), args.budget()).await?;
        let counts = [
            (w.pick("注文", "orders"), r.orders),
            (w.pick("受付", "accepted"), r.accepted),
            (w.pick("保留", "held"), r.held),
            (w.pick("更新", "updated"), r.updated),
            (w.pick("隔離", "quarantined"), r.quarantined),
        ];
        let counts: Vec<String> = counts.iter().map(|(what, n)| format!("{what} {n}")).collect();
        say!("{} {}: {}", feed.mall(), feed.shop(), counts.join(w.pick("、", ", ")));
        if let Some(failure) = &r.failure {
            failed = true;
            say!("  {}: {failure}", w.pick("読み取れませんでした", "could not be read"));
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub async fn quarantine_list(shop: &ShopArgs) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let w = Words::of(lang);
    let items = app.quarantined().await?;
    if items.is_empty() {
        say!(
            "{}",
            w.pick("隔離中の受信データはありません。", "Nothing in quarantine.")
        );
    }
    for q in items {
        let replayed = q
            .replayed_at
            .map(|t| format!("{} {}", w.pick("再処理済み", "replayed"), format_jst_seconds(t, lang)))
            .unwrap_or_else(|| w.pick("再処理待ち", "waiting").to_owned());
        say!(
            "{}  {:<8} {}  {} bytes  {replayed}\n    {}",
            q.id,
            q.source,
            format_jst_seconds(q.received_at, lang),
            q.raw.len(),
            q.error
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn quarantine_replay(shop: &ShopArgs, by: &str) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let w = Words::of(app.settings().shop.language);
    let report = app.replay_quarantined(&mallguard_malls::Malls, by).await?;
    if report.is_empty() {
        say!(
            "{}",
            w.pick(
                "再処理を待つ受信データはありません。",
                "Nothing waiting in quarantine: nothing to replay."
            )
        );
    }
    let mut failed = 0;
    for replayed in &report {
        match &replayed.outcome {
            ReplayOutcome::Ingested(outcome) => say!("{}: {outcome:?}", replayed.id),
            ReplayOutcome::Ignored(topic) => say!("{}: topic {topic} needs no processing", replayed.id),
            ReplayOutcome::StillInvalid(err) => {
                failed += 1;
                say!("{}: still cannot be parsed: {err}", replayed.id);
            }
            ReplayOutcome::NotIngested(err) => {
                failed += 1;
                say!("{}: parsed, but still cannot be recorded: {err}", replayed.id);
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `mallguard notify`: Amazon's notifications from a file, handled as the amazon-notifications function
/// handles the queue's messages.
pub async fn notify(shop: &ShopArgs, file: &std::path::Path) -> CliResult<ExitCode> {
    let args = &shop.malls;
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
    let event: SqsEvent = if json.get("Records").is_some() {
        serde_json::from_value(json).map_err(|e| format!("{}: not an SQS event: {e}", file.display()))?
    } else {
        // One notification, as the body of one message.
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("local-{}", file.display()));
        message.body = Some(String::from_utf8_lossy(&bytes).into_owned());
        let mut event = SqsEvent::default();
        event.records.push(message);
        event
    };
    let default_url = url_of("127.0.0.1:9000".parse().expect("a valid address"));
    let local = crate::local::compose(shop, default_url).await?;
    let sellers = crate::local::amazon_sellers(&local, args)?;
    let w = Words::of(local.app.settings().shop.language);
    let (response, r) = mallguard_amazon_notifications::handle(&local.app, &sellers, None, event).await;
    let counts = [
        (w.pick("通知", "messages"), r.messages),
        (w.pick("取り込み", "ingested"), r.ingested),
        (w.pick("保留", "held"), r.held),
        (w.pick("変更なし", "unchanged"), r.unchanged),
        (w.pick("処理済み", "already handled"), r.already_handled),
        (w.pick("対象外", "let go"), r.let_go),
        (w.pick("隔離", "quarantined"), r.quarantined),
        (w.pick("再試行", "to retry"), r.failed),
    ];
    let counts: Vec<String> = counts.iter().map(|(what, n)| format!("{what} {n}")).collect();
    say!("amazon: {}", counts.join(w.pick("、", ", ")));
    for failure in &response.batch_item_failures {
        say!(
            "  {}: {}",
            w.pick(
                "処理できませんでした（ログを参照）",
                "could not be handled (see the log)"
            ),
            failure.item_identifier
        );
    }
    Ok(if response.batch_item_failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `shop show [MALL [SHOP]]`: each shop's settings, key by key, with who changed them last.
pub async fn shop_show(shop: &ShopArgs, mall: Option<&str>, shop_id: Option<&str>) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let w = Words::of(app.settings().shop.language);
    let all = match (mall, shop_id) {
        (Some(mall), Some(id)) => vec![app.shop_settings_of(mall.parse()?, &ShopId::parse(id)?).await?],
        (Some(mall), None) => {
            let mall: Mall = mall.parse()?;
            app.all_shop_settings()
                .await?
                .into_iter()
                .filter(|s| s.mall == mall)
                .collect()
        }
        _ => app.all_shop_settings().await?,
    };
    if all.is_empty() {
        say!(
            "{}",
            w.pick(
                "ショップ別の設定はありません（すべて既定値）。設定: mallguard shop set <モール> <ショップ> KEY=VALUE",
                "No shop has settings of its own (all defaults). Set some: mallguard shop set <mall> <shop> KEY=VALUE"
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    for settings in all {
        say!("{} {}", settings.mall, settings.shop);
        let mut rows = vec![];
        for key in mallguard_domain::shop_settings::KEYS {
            let value = settings.get(key).unwrap_or_default();
            let value = if value.is_empty() {
                w.pick("（既定値）", "(default)").to_owned()
            } else {
                value
            };
            rows.push(vec![format!("  {key}"), value]);
        }
        print!("{}", table(&rows));
        if settings.version > 0 {
            say!(
                "  {} {} ({})",
                w.pick("最終変更:", "last changed by"),
                settings.updated_by,
                format_jst(settings.updated_at, app.settings().shop.language)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `shop set MALL SHOP KEY=VALUE …`.
pub async fn shop_set(shop: &ShopArgs, mall: &str, shop_id: &str, pairs: &[String], by: &str) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let mall: Mall = mall.parse()?;
    let id = ShopId::parse(shop_id)?;
    let changes = pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| format!("{pair:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let saved = app
        .save_shop_settings(mall, &id, None, &changes, by)
        .await
        .map_err(|e| e.to_string())?;
    say!("{mall} {id}: saved (version {})", saved.version);
    shop_show(shop, Some(mall.as_str()), Some(shop_id)).await
}
