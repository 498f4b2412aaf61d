//! Every setting a shop needs reaches the deployed functions: each knob's `MALLGUARD_*` variable is set by
//! `infra/template.yaml` (from a parameter), and what the parameters' defaults and allowed values put there
//! is read by the functions' configuration without an error, so no cold start fails on a default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clap::{Args, Command};
use mallguard_aws::config::Knobs;
use yaml_rust2::{Yaml, YamlLoader};

/// Knobs the template leaves unset on purpose, with the reason.
const NOT_FROM_THE_TEMPLATE: [(&str, &str); 1] = [(
    "MALLGUARD_CONSOLE_URL",
    "the console function takes its base URL from the Function URL each request came in on",
)];

fn template() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text).expect("YAML").remove(0)
}

/// The variables of every knob, as the functions read them.
fn knob_variables() -> BTreeSet<String> {
    Knobs::augment_args(Command::new("knobs"))
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

/// The variables the template sets: the Globals' and each function's own, name → value (a parameter's
/// name for `!Ref`, which the YAML reader keeps as a plain string; a list for `!If`).
fn template_variables(template: &Yaml) -> BTreeMap<String, Yaml> {
    let mut all = BTreeMap::new();
    let mut add = |variables: &Yaml| {
        for (name, value) in variables.as_hash().into_iter().flatten() {
            all.insert(name.as_str().expect("a variable name").to_owned(), value.clone());
        }
    };
    add(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for (_, resource) in template["Resources"].as_hash().expect("Resources") {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            add(&resource["Properties"]["Environment"]["Variables"]);
        }
    }
    all
}

#[test]
fn every_knob_is_set_by_the_template() {
    let set = template_variables(&template());
    let missing: Vec<String> = knob_variables()
        .into_iter()
        .filter(|var| !set.contains_key(var) && !NOT_FROM_THE_TEMPLATE.iter().any(|(v, _)| v == var))
        .collect();
    assert!(
        missing.is_empty(),
        "no parameter of infra/template.yaml sets {missing:?}: a deployed shop could not change them"
    );
    for (var, why) in NOT_FROM_THE_TEMPLATE {
        assert!(knob_variables().contains(var), "{var} ({why}) is no knob any more");
    }
}

/// A value a deployer gives each parameter without a default (they are required).
fn sample(parameter: &str) -> Option<&'static str> {
    match parameter {
        "ShopName" => Some("田中商店"),
        "SenderAddress" => Some("noreply@tanaka-shop.example"),
        "ContactEmail" => Some("support@tanaka-shop.example"),
        "StaffEmail" => Some("staff@tanaka-shop.example"),
        _ => None,
    }
}

fn text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

#[test]
fn the_parameters_defaults_and_allowed_values_are_read_by_the_functions() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let template = template();
    let parameters = template["Parameters"].as_hash().expect("Parameters");
    let parameter = |name: &str| parameters.get(&Yaml::String(name.to_owned()));
    let knobs = knob_variables();
    // Each knob variable the template sets unconditionally from one parameter: variable → parameter.
    let from_parameters: BTreeMap<String, String> = template_variables(&template)
        .into_iter()
        .filter(|(var, _)| knobs.contains(var))
        .filter_map(|(var, value)| {
            let name = text(&value)?;
            parameter(&name).map(|_| (var, name))
        })
        .collect();
    assert!(from_parameters.len() >= 15, "{from_parameters:?}");

    let defaults: BTreeMap<&String, String> = from_parameters
        .iter()
        .map(|(var, name)| {
            let p = parameter(name).unwrap();
            let value = text(&p["Default"])
                .or_else(|| sample(name).map(str::to_owned))
                .unwrap_or_else(|| panic!("{name} has no default: give it a sample here"));
            (var, value)
        })
        .collect();
    // Every allowed value of each parameter, one at a time over the defaults.
    let mut cases = vec![defaults.clone()];
    for (var, name) in &from_parameters {
        for allowed in parameter(name).unwrap()["AllowedValues"].as_vec().into_iter().flatten() {
            let mut case = defaults.clone();
            case.insert(var, text(allowed).expect("an allowed value"));
            cases.push(case);
        }
    }
    for case in cases {
        for var in &knobs {
            // SAFETY: under ENV; nothing else reads the environment meanwhile.
            unsafe { std::env::remove_var(var) };
        }
        for (var, value) in &case {
            // SAFETY: as above.
            unsafe { std::env::set_var(var, value) };
        }
        let read = Knobs::from_env().unwrap_or_else(|e| panic!("{case:?}: {e}"));
        assert_eq!(read.shop_name, case[&"MALLGUARD_SHOP_NAME".to_owned()]);
        assert_eq!(
            read.shipping_cutoff.to_string(),
            format!("{}:00", case[&"MALLGUARD_SHIPPING_CUTOFF".to_owned()])
        );
        assert_eq!(read.remind.to_string(), case[&"MALLGUARD_REMIND".to_owned()]);
        assert_eq!(
            read.amazon_auto_cancel.to_string(),
            case[&"MALLGUARD_AMAZON_AUTO_CANCEL".to_owned()]
        );
    }
}

/// The malls' hosts are read by every function's cold start (each builds the mall clients that hold, release
/// and cancel orders), so the template sets them for all (Globals), never for one function alone; only the
/// buyer page's URL differs by function.
#[test]
fn the_malls_urls_are_set_for_every_function() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    for var in [
        "MALLGUARD_RAKUTEN_URL",
        "MALLGUARD_AMAZON_URL",
        "MALLGUARD_AMAZON_TOKEN_URL",
    ] {
        assert!(!globals[var].is_badvalue(), "{var} is not in the Globals");
    }
    for (id, resource) in template["Resources"].as_hash().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for (name, _) in resource["Properties"]["Environment"]["Variables"]
            .as_hash()
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            assert!(
                !name.ends_with("_URL") || name == "MALLGUARD_PUBLIC_URL",
                "{id:?} alone sets {name}: every function's cold start reads it"
            );
        }
    }
}

/// Environment variables are process-wide: the tests that set them take this lock.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The parameter's `AllowedPattern`, as CloudFormation runs it.
fn pattern(template: &Yaml, parameter: &str) -> regex_lite::Regex {
    let text = template["Parameters"][parameter]["AllowedPattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{parameter} has no AllowedPattern"));
    regex_lite::Regex::new(text).unwrap_or_else(|e| panic!("{parameter}'s pattern: {e}"))
}

/// Whether the functions' configuration reads `value` in `var`, the other knobs as the samples set them.
fn reads(var: &str, value: &str) -> Result<(), String> {
    let base = [
        ("MALLGUARD_SHOP_NAME", "田中商店"),
        ("MALLGUARD_SENDER", "noreply@tanaka-shop.example"),
        ("MALLGUARD_CONTACT_EMAIL", "support@tanaka-shop.example"),
        ("MALLGUARD_STAFF_EMAIL", "staff@tanaka-shop.example"),
    ];
    for knob in knob_variables() {
        // SAFETY: under ENV; nothing else reads the environment meanwhile.
        unsafe { std::env::remove_var(knob) };
    }
    for (name, sample) in base.into_iter().chain([(var, value)]) {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, sample) };
    }
    Knobs::from_env().map(drop).map_err(|e| e.to_string())
}

/// Every sample a parameter's pattern accepts is read by the functions (no allowed value fails a cold
/// start), and each value the functions refuse is refused by the pattern before anything is deployed.
#[test]
fn the_parameters_patterns_allow_only_what_the_functions_read() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let template = template();
    let times: Vec<String> = (0..24 * 60)
        .step_by(47)
        .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .collect();
    let mut quiet: Vec<String> = times
        .iter()
        .flat_map(|a| times.iter().map(move |b| format!("{a}-{b}")))
        .collect();
    quiet.extend(["off", "21:00-08:00", "00:00-23:59", "23:59-00:00"].map(String::from));
    let addresses = [
        "noreply@tanaka-shop.example",
        "taro.yamada+mallguard@mail.tanaka-shop.example",
        "a@b.c",
        "a@b..c",
        "o'brien@shop.example",
    ];
    let not_addresses = [
        "a,b@shop.example",
        "a;b@shop.example",
        "<a@shop.example>",
        "Shop <a@shop.example>",
        "a b@shop.example",
        "a\u{3000}b@shop.example",
        "a\u{85}b@shop.example",
        "a@shop",
        "a@.shop.example",
        "a@shop.example.",
        "@shop.example",
        "a@b@shop.example",
        "",
    ];
    let lists = [
        "sato@tanaka-shop.example",
        "sato@tanaka-shop.example, ito@tanaka-shop.example",
        "sato@tanaka-shop.example,ito@tanaka-shop.example , kato@tanaka-shop.example",
    ];
    let not_lists = [
        "sato@tanaka-shop.example; ito@tanaka-shop.example",
        "sato@tanaka-shop.example, <ito@tanaka-shop.example>",
        "sato, ito@tanaka-shop.example",
    ];
    let equal_times: Vec<String> = times.iter().map(|t| format!("{t}-{t}")).collect();
    let mut cases: Vec<(&str, &str, Vec<String>, Vec<String>)> = vec![
        (
            "QuietHours",
            "MALLGUARD_QUIET_HOURS",
            quiet,
            equal_times
                .into_iter()
                .chain(["24:00-08:00", "21:00-8:00", "21:00"].map(String::from))
                .collect(),
        ),
        (
            "StaffAddresses",
            "MALLGUARD_STAFF_ADDRESSES",
            lists.map(String::from).to_vec(),
            not_lists.map(String::from).to_vec(),
        ),
    ];
    for (parameter, var) in [
        ("SenderAddress", "MALLGUARD_SENDER"),
        ("ContactEmail", "MALLGUARD_CONTACT_EMAIL"),
        ("StaffEmail", "MALLGUARD_STAFF_EMAIL"),
    ] {
        cases.push((
            parameter,
            var,
            addresses.map(String::from).to_vec(),
            not_addresses.map(String::from).to_vec(),
        ));
    }
    for (parameter, var, samples, refused) in cases {
        let allowed = pattern(&template, parameter);
        let mut accepted = 0;
        for sample in samples.iter().chain(&refused) {
            if allowed.is_match(sample) {
                accepted += 1;
                reads(var, sample).unwrap_or_else(|e| panic!("{parameter} allows {sample:?}, which {e}"));
            }
        }
        assert!(
            accepted >= samples.len() / 2,
            "{parameter}: its pattern allows too little"
        );
        for sample in &refused {
            // Empty means unset for a list (MALLGUARD_STAFF_ADDRESSES is left out then).
            if !(sample.is_empty() && parameter == "StaffAddresses") {
                assert!(
                    reads(var, sample).is_err(),
                    "{parameter}: the functions read {sample:?}"
                );
            }
            assert!(!allowed.is_match(sample), "{parameter} allows {sample:?}");
        }
    }

    // AlarmEmail goes to SNS, not to the functions: the same address pattern, held to the same parse.
    let alarm = pattern(&template, "AlarmEmail");
    for sample in addresses {
        assert!(alarm.is_match(sample), "AlarmEmail refuses {sample:?}");
    }
    for sample in not_addresses {
        assert!(!alarm.is_match(sample), "AlarmEmail allows {sample:?}");
        assert!(
            mallguard_domain::order::EmailAddress::parse(sample).is_err(),
            "{sample:?}"
        );
    }
}

/// The amazon-notifications function's reserved concurrency is 0 (none) or at least the two its queue's
/// poller takes at once.
#[test]
fn the_amazon_notifications_concurrency_is_none_or_at_least_two() {
    let template = template();
    let allowed = pattern(&template, "AmazonNotificationsConcurrency");
    let taken: Vec<u32> = (0..=1100).filter(|n| allowed.is_match(&n.to_string())).collect();
    let expected: Vec<u32> = std::iter::once(0).chain(2..=1000).collect();
    assert_eq!(taken, expected);
    for odd in ["", "01", "2.0", "-1", " 2"] {
        assert!(!allowed.is_match(odd), "{odd:?}");
    }
}
