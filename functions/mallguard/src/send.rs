//! `mallguard send`: signs a sample event with the local secrets, as the mall would, and posts it (or
//! prints it as the Lambda event a deployed ingest function receives).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use jiff::civil::Date;
use mallguard_domain::policy::jst;
use mallguard_domain::ports::{Clock, SystemClock};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::args::{CliResult, DataArgs};
use crate::terminal::say;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The event file, e.g. events/generic/order.json.
    pub file: PathBuf,
    /// shopify or generic (default: shopify for files under a `shopify` folder, else generic).
    #[arg(long)]
    pub mall: Option<String>,
    /// The running server.
    #[arg(long, env = "MALLGUARD_URL", default_value = "http://127.0.0.1:9000")]
    pub url: String,
    /// Shopify topic (default: from the file name: orders/cancelled, orders/updated, else orders/create).
    #[arg(long)]
    pub topic: Option<String>,
    /// Shopify shop domain.
    #[arg(long, default_value = "tanaka-shop.myshopify.com")]
    pub shop_domain: String,
    /// Send the file's bytes as they are. By default the sample's dates are moved to today's: its orders
    /// are placed yesterday, a requested delivery date lies ahead, and the gaps between them stay.
    #[arg(long)]
    pub as_is: bool,
    /// Print the signed request as the Lambda Function URL event a deployed ingest function receives,
    /// instead of posting it (for `cargo lambda invoke --data-file`). Signed now: a generic sample's
    /// signature holds five minutes.
    #[arg(long)]
    pub print_envelope: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

/// A webhook as the mall would send it: the route, its signed headers and the exact body.
struct Signed {
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn signed(args: &SendArgs) -> CliResult<Signed> {
    let file = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let body = if args.as_is {
        file
    } else {
        let today = SystemClock.now().to_zoned(jst()).date();
        moved_to(&file, today).unwrap_or(file)
    };
    let secrets = args.data.data_dir().secrets()?;
    let path_text = args.file.to_string_lossy().to_string();
    let mall = args.mall.clone().unwrap_or_else(|| {
        if path_text.split(['/', '\\']).any(|p| p == "shopify") {
            "shopify".into()
        } else {
            "generic".into()
        }
    });
    // The same bytes give the same delivery id, as a mall's retry of one delivery does.
    let delivery: String = Sha256::digest(&body)[..12].iter().map(|b| format!("{b:02x}")).collect();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    match mall.as_str() {
        "shopify" => {
            let topic = args.topic.clone().unwrap_or_else(|| {
                let name = args
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                if name.contains("cancel") {
                    "orders/cancelled".into()
                } else if name.contains("updated") {
                    "orders/updated".into()
                } else {
                    "orders/create".into()
                }
            });
            // The shop's own secret, else the one for every shop, as the ingest router picks it.
            let shop_id = mallguard_malls::shopify::shop_id_from_domain(&args.shop_domain)
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default();
            let secret = secrets
                .webhooks()
                .shopify_for(Some(&shop_id))
                .ok_or_else(|| format!("secrets.json has no Shopify secret for {}", args.shop_domain))?;
            headers.extend([
                ("x-shopify-topic", topic),
                ("x-shopify-shop-domain", args.shop_domain.clone()),
                ("x-shopify-webhook-id", delivery),
                (
                    "x-shopify-hmac-sha256",
                    mallguard_malls::shopify::sign(secret.expose_secret(), &body),
                ),
            ]);
        }
        _ => {
            let timestamp = SystemClock.now().as_second();
            let id = format!("msg_{delivery}");
            let secret = secrets
                .webhooks()
                .generic()
                .first()
                .ok_or("secrets.json has no generic (Standard Webhooks) secret")?;
            let signature = mallguard_malls::generic::sign(secret.expose_secret(), &id, timestamp, &body);
            headers.extend([
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ]);
        }
    }
    Ok(Signed {
        path: format!("/webhooks/{mall}"),
        headers,
        body,
    })
}

pub async fn send(args: SendArgs) -> CliResult<ExitCode> {
    let signed = signed(&args)?;
    if args.print_envelope {
        println!("{}", envelope(&signed, &args.url, SystemClock.now()));
        return Ok(ExitCode::SUCCESS);
    }
    let url = format!("{}{}", args.url.trim_end_matches('/'), signed.path);
    let client = reqwest::Client::new();
    let mut request = client.post(&url);
    for (name, value) in &signed.headers {
        request = request.header(*name, value);
    }
    let response = request
        .body(signed.body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e} (is `cargo run` running?)"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    say!("{} {status}\n{text}", args.file.display());
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The request as Lambda hands it to a function behind a Function URL (payload format 2.0), signed now:
/// what `cargo lambda invoke --data-file` takes.
fn envelope(signed: &Signed, url: &str, now: jiff::Timestamp) -> String {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut headers: serde_json::Map<String, serde_json::Value> = signed
        .headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.clone())))
        .collect();
    headers.insert("host".into(), host.clone().into());
    let body = String::from_utf8_lossy(&signed.body).into_owned();
    let (text, base64) = if body.as_bytes() == signed.body.as_slice() {
        (body, false)
    } else {
        use base64::Engine;
        (base64::engine::general_purpose::STANDARD.encode(&signed.body), true)
    };
    let envelope = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": signed.path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": host.split('.').next().unwrap_or_default(),
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": "POST",
                "path": signed.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "mallguard-send"
            },
            "requestId": format!("mallguard-send-{}", now.as_millisecond()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.as_millisecond()
        },
        "isBase64Encoded": base64,
        "body": text
    });
    serde_json::to_string_pretty(&envelope).expect("a JSON value")
}

/// The sample `body` with its dates moved so its orders make sense on `today`: every timestamp moves by
/// the whole days that put the earliest one yesterday (so the orders are in the past and a pair keeps its
/// five minutes), and every date-only value (a requested delivery date) by one day more, so it still lies
/// ahead. The same file gives the same bytes all day, as a mall's retry of one delivery does. None when
/// the body is not a JSON object with a timestamp.
fn moved_to(body: &[u8], today: Date) -> Option<Vec<u8>> {
    let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut earliest: Option<Date> = None;
    visit(&mut json, &mut |text| {
        if let Some((date, _)) = timestamp_date(text) {
            earliest = Some(earliest.map_or(date, |e| e.min(date)));
        }
    });
    let yesterday = today.yesterday().ok()?;
    let days = earliest?.until(yesterday).ok()?.get_days();
    let shift = |date: Date, extra: i32| date.checked_add(jiff::Span::new().days(days + extra)).ok();
    let mut rewrite = |text: &mut String| {
        if let Some((date, rest)) = timestamp_date(text) {
            if let Some(moved) = shift(date, 0) {
                *text = format!("{moved}{rest}");
            }
        } else if let Some((date, separator)) = plain_date(text)
            && let Some(moved) = shift(date, 1)
        {
            *text = moved.to_string().replace('-', separator);
        }
    };
    visit_mut(&mut json, &mut rewrite);
    let mut out = serde_json::to_vec_pretty(&json).ok()?;
    out.push(b'\n');
    Some(out)
}

/// The date of an RFC 3339 timestamp (`2026-11-23T12:00:00+09:00`) and the text after it.
fn timestamp_date(text: &str) -> Option<(Date, &str)> {
    let (date, rest) = (text.get(..10)?, text.get(10..)?);
    if !rest.starts_with('T') || text.parse::<jiff::Timestamp>().is_err() {
        return None;
    }
    Some((date.parse().ok()?, rest))
}

/// A date alone, `2026-11-25` or `2026/11/25`, and its separator.
fn plain_date(text: &str) -> Option<(Date, &'static str)> {
    if text.len() != 10 {
        return None;
    }
    let separator = if text.as_bytes()[4] == b'/' { "/" } else { "-" };
    Some((text.replace('/', "-").parse().ok()?, separator))
}

fn visit(value: &mut serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| visit(v, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| visit(v, f)),
        _ => {}
    }
}

fn visit_mut(value: &mut serde_json::Value, f: &mut impl FnMut(&mut String)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| visit_mut(v, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| visit_mut(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn field<'a>(json: &'a serde_json::Value, path: &[&str]) -> &'a str {
        path.iter().fold(json, |v, k| &v[*k]).as_str().unwrap()
    }

    #[test]
    fn a_sample_sent_today_was_placed_yesterday_and_asks_for_delivery_ahead() {
        let today = jiff::civil::date(2027, 3, 10);
        let first: serde_json::Value =
            serde_json::from_slice(&moved_to(&sample("generic/order.json"), today).unwrap()).unwrap();
        let second: serde_json::Value =
            serde_json::from_slice(&moved_to(&sample("generic/order-duplicate.json"), today).unwrap()).unwrap();
        assert_eq!(field(&first, &["placed_at"]), "2027-03-09T12:00:00+09:00");
        assert_eq!(
            field(&second, &["placed_at"]),
            "2027-03-09T12:05:00+09:00",
            "the gap stays"
        );
        let requested = field(&first, &["delivery", "requested_date"]);
        assert!(requested > "2027-03-10", "a delivery date ahead of today: {requested}");
        // The same file gives the same bytes all day: a retry is a retry.
        assert_eq!(
            moved_to(&sample("generic/order.json"), today),
            moved_to(&sample("generic/order-redelivered.json"), today)
        );
    }

    #[test]
    fn shopify_samples_move_their_timestamps_and_the_delivery_apps_date() {
        let today = jiff::civil::date(2027, 3, 10);
        let moved = String::from_utf8(moved_to(&sample("shopify/orders-create.json"), today).unwrap()).unwrap();
        assert!(!moved.contains("2026-11-2"), "{moved}");
        assert!(moved.contains("2027-03-09T12:00:00+09:00"));
        let original = String::from_utf8(sample("shopify/orders-create.json")).unwrap();
        if original.contains("2026/11/") {
            assert!(moved.contains("2027/03/"), "the app's YYYY/MM/DD date moves too");
        }
        assert!(moved.contains("5678901234567890123"), "ids stay exact");
    }
}
