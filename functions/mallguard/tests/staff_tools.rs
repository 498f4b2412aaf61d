//! The staff's tools as a person uses them in a terminal: what they print is safe to print, lines up,
//! and says what to do next.

mod common;

use common::{event, mallguard, start, stdout};

/// A sample order whose item title carries terminal control sequences, as a hostile buyer could write.
fn order_with_escapes(dir: &std::path::Path) -> String {
    let mut order: serde_json::Value =
        serde_json::from_slice(&std::fs::read(event("generic/order.json")).unwrap()).unwrap();
    order["order_id"] = "TS-ESC-0001".into();
    order["lines"][0]["title"] = "煎茶\u{1b}]0;pwned\u{7}\u{1b}[2J".into();
    let path = dir.join("escapes.json");
    std::fs::write(&path, serde_json::to_vec(&order).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn evidence_never_prints_a_terminal_control_sequence_from_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let (_server, url) = start(&data);
    let file = order_with_escapes(dir.path());
    let sent = stdout(&mallguard(&data, &["send", &file, "--url", &url]));
    assert!(sent.contains("accepted"), "{sent}");
    let out = mallguard(&data, &["evidence", "own", "TS-ESC-0001"]);
    let text = stdout(&out);
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07), "{text:?}");
    assert!(text.contains("煎茶\\u{1b}]0;pwned"), "shown, not obeyed: {text}");
}

#[tokio::test]
async fn an_empty_quarantine_and_a_short_hold_id_say_what_is_going_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let replay = stdout(&mallguard(&data, &["quarantine", "replay"]));
    assert!(replay.contains("再処理を待つ受信データはありません"), "{replay:?}");
    let short = common::run(&data, &["resolve", "hd5a10eb53f5", "confirm"]);
    assert!(!short.status.success());
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("12 characters, not 21"), "{err}");
}

#[test]
fn a_serve_option_before_serve_is_refused_without_a_misleading_hint() {
    let out = std::process::Command::new(common::BIN)
        .args(["--bind", "127.0.0.1:9", "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'serve' cannot be used with '--bind"), "{err}");
    assert!(!err.contains("--remind"), "{err}");
}

#[test]
fn help_of_each_command_lists_only_the_settings_that_apply() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(common::BIN).args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let holds = help(&["holds", "--help"]);
    assert!(holds.contains("--language") && holds.contains("--data"), "{holds}");
    assert!(
        !holds.contains("--window-hours") && !holds.contains("--remind"),
        "{holds}"
    );
    let send = help(&["send", "--help"]);
    assert!(send.contains("--data") && !send.contains("--shop-name"), "{send}");
    let serve = help(&["serve", "--help"]);
    assert!(
        serve.contains("--window-hours") && serve.contains("--no-remind"),
        "{serve}"
    );
}

/// An operator sets a shop's own settings at the command line: they are shown back, refused when wrong,
/// and the next notice of that shop's orders follows them.
#[tokio::test]
async fn shop_settings_are_set_and_shown_at_the_command_line_and_the_next_notice_follows_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let none = stdout(&mallguard(&data, &["shop", "show"]));
    assert!(none.contains("ショップ別の設定はありません"), "{none}");
    let set = stdout(&mallguard(
        &data,
        &[
            "shop",
            "set",
            "own",
            "tanaka-shop",
            "name=田中商店 本店",
            "answer_hours=6",
            "--by",
            "ops",
        ],
    ));
    assert!(set.contains("version 1") && set.contains("田中商店 本店"), "{set}");
    assert!(set.contains("（既定値）"), "unset keys say so: {set}");
    let wrong = common::run(&data, &["shop", "set", "own", "tanaka-shop", "answer_hours=zero"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("answer_hours"));
    let shown = stdout(&mallguard(&data, &["shop", "show", "own"]));
    assert!(shown.contains("answer_hours") && shown.contains("ops"), "{shown}");

    let (_server, url) = start(&data);
    for sample in ["generic/order.json", "generic/order-duplicate.json"] {
        let path = event(sample);
        let sent = stdout(&mallguard(&data, &["send", &path, "--url", &url]));
        assert!(sent.contains("status"), "{sent}");
    }
    let outbox = data.join("outbox");
    let notice = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-notice-"))
        .expect("the buyer's notice");
    let mail = mallguard_tests::OutboxMail::read(&notice);
    assert!(
        mail.text.contains("田中商店 本店"),
        "the shop's name as set: {}",
        mail.text
    );
    let holds = stdout(&mallguard(&data, &["holds"]));
    assert!(holds.contains("TS-20261123-0002"), "{holds}");
}
