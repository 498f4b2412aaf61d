//! Alarms that can fire: every alarm of `infra/template.yaml` names a metric something emits, under its
//! namespace and with exactly its dimensions. CloudWatch accepts an alarm on a metric nobody publishes
//! and leaves it at OK for ever (an alarm on `NoticesFailed` without the `Function` dimension the EMF
//! lines carry never saw a data point), so the template is checked against the code here:
//!
//! - `mallguard` (the functions' EMF lines): a metric of [`Metric::ALL`], the dimensions
//!   [`EmfMetrics::line`] declares, and a `Function` value that is one of the template's functions,
//!   whose binary's source passes that very name as its metrics' function;
//! - `AWS/Lambda`: `FunctionName` refers to a function of the template;
//! - `AWS/SQS`: `QueueName` is the `QueueName` of a queue of the template;
//! - no other namespace; every alarm mails the alarm topic; metric math adds up the metrics it lists;
//! - each public Function URL is declared, granted both ways, and watched for 4xx and 5xx;
//! - every function that can count a metric an alarm watches is summed by that alarm: every function runs
//!   the use cases through one application, so any of them may count any metric, save those
//!   [`COUNTED_BY_SOME`] lists with the functions that count them and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mallguard_aws::emf::{EmfMetrics, NAMESPACE};
use mallguard_domain::ports::Metric;
use yaml_rust2::{Yaml, YamlLoader};

/// Metrics only some functions count, with those functions (binary names) and the reason. An alarm on any
/// other metric of the namespace must sum every function of the template.
const COUNTED_BY_SOME: [(&str, &[&str], &str); 2] = [
    (
        "FeedsStale",
        &["poll"],
        "only a poll run counts the shops it leaves unread (functions/domain/src/service/poll.rs)",
    ),
    (
        "ParseFailures",
        &["ingest", "poll", "amazon-notifications", "console"],
        "only what parses a mall's payload quarantines it: webhooks (ingest), polled orders (poll), Amazon's \
         notifications and SP-API answers (amazon-notifications), and the quarantine's replay (console)",
    ),
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(text: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .expect("the template is YAML (short-form tags such as !Ref read as plain values)")
        .into_iter()
        .next()
        .expect("one document")
}

fn template() -> Yaml {
    load(&std::fs::read_to_string(repository().join("infra/template.yaml")).expect("infra/template.yaml"))
}

/// One metric an alarm watches.
#[derive(Debug)]
struct Watched {
    alarm: String,
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
}

/// The resources of a template of one type, by logical id.
fn resources<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("a logical id"), r))
        .collect()
}

fn text(node: &Yaml) -> String {
    match node {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected a string, found {other:?}"),
    }
}

fn metric(alarm: &str, node: &Yaml) -> Watched {
    let dimensions = match &node["Dimensions"] {
        Yaml::BadValue => vec![],
        list => list
            .as_vec()
            .unwrap_or_else(|| panic!("{alarm}: Dimensions is not a list"))
            .iter()
            .map(|d| (text(&d["Name"]), text(&d["Value"])))
            .collect(),
    };
    Watched {
        alarm: alarm.to_owned(),
        namespace: text(&node["Namespace"]),
        name: text(&node["MetricName"]),
        dimensions,
    }
}

/// Every metric the template's alarms watch; panics on an alarm that watches none, or whose metric math
/// leaves out a metric it lists.
fn watched(template: &Yaml) -> Vec<Watched> {
    let mut all = vec![];
    for (id, alarm) in resources(template, "AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        assert!(
            properties["AlarmActions"]
                .as_vec()
                .is_some_and(|actions| actions.iter().any(|a| a.as_str() == Some("AlarmTopic"))),
            "{id}: mails nobody (AlarmActions without the AlarmTopic)"
        );
        match properties["Metrics"].as_vec() {
            None => all.push(metric(id, properties)),
            Some(queries) => {
                let expression = queries
                    .iter()
                    .find_map(|q| q["Expression"].as_str())
                    .unwrap_or_else(|| panic!("{id}: metric math without an expression"));
                for query in queries.iter().filter(|q| !q["MetricStat"].is_badvalue()) {
                    let query_id = text(&query["Id"]);
                    assert!(
                        expression
                            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .any(|token| token == query_id),
                        "{id}: the expression {expression:?} leaves out {query_id}"
                    );
                    all.push(metric(id, &query["MetricStat"]["Metric"]));
                }
            }
        }
    }
    all
}

/// The dimension names of every EMF line, as the code declares them.
fn emf_dimensions() -> BTreeSet<String> {
    let line = EmfMetrics::line("any", Metric::NoticeFailed, 1, 0);
    let declared = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    let sets = declared.as_array().expect("Dimensions");
    assert_eq!(sets.len(), 1, "the EMF lines declare one dimension set");
    sets[0]
        .as_array()
        .expect("a dimension set")
        .iter()
        .map(|d| d.as_str().expect("a dimension name").to_owned())
        .collect()
}

/// What is wrong with each alarm of `template`, as sentences; empty when every alarm can fire.
/// `emits_function` tells whether the function (a binary name) publishes its metrics under that name.
fn mismatches(template: &Yaml, emits_function: &dyn Fn(&str) -> bool) -> Vec<String> {
    let functions = resources(template, "AWS::Serverless::Function");
    let binaries: BTreeSet<String> = functions
        .iter()
        .map(|(_, f)| text(&f["Metadata"]["BuildProperties"]["Binary"]))
        .collect();
    let queues: BTreeSet<String> = resources(template, "AWS::SQS::Queue")
        .iter()
        .map(|(id, _)| format!("{id}.QueueName"))
        .collect();
    let metric_names: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    let emf = emf_dimensions();
    let mut wrong = vec![];
    for w in watched(template) {
        let names: BTreeSet<String> = w.dimensions.iter().map(|(n, _)| n.clone()).collect();
        let value = |name: &str| w.dimensions.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let at = format!("{}: {} {}", w.alarm, w.namespace, w.name);
        match w.namespace.as_str() {
            ns if ns == NAMESPACE => {
                if !metric_names.contains(w.name.as_str()) {
                    wrong.push(format!("{at}: no such metric (functions/domain Metric)"));
                }
                if names != emf {
                    wrong.push(format!("{at}: dimensions {names:?}, the EMF lines carry {emf:?}"));
                }
                if let Some(function) = value("Function") {
                    if !binaries.contains(function) {
                        wrong.push(format!(
                            "{at}: Function {function:?} is none of the template's {binaries:?}"
                        ));
                    } else if !emits_function(function) {
                        wrong.push(format!(
                            "{at}: the {function} binary does not publish its metrics as {function:?}"
                        ));
                    }
                }
            }
            "AWS/Lambda" => {
                let named = value("FunctionName");
                if names.len() != 1 || !named.is_some_and(|f| functions.iter().any(|(id, _)| *id == f)) {
                    wrong.push(format!(
                        "{at}: dimensions {:?} name no function of the template",
                        w.dimensions
                    ));
                }
            }
            "AWS/SQS" => {
                let named = value("QueueName");
                if names.len() != 1 || !named.is_some_and(|q| queues.contains(q)) {
                    wrong.push(format!(
                        "{at}: dimensions {:?} name no queue of the template",
                        w.dimensions
                    ));
                }
            }
            other => wrong.push(format!("{at}: namespace {other:?} is not watched by this test")),
        }
    }
    wrong
}

/// The functions that can count a metric of the namespace and that an alarm watching it leaves out, as
/// sentences; empty when every alarm sums every function that may count its metric.
fn uncovered(template: &Yaml, counted_by_some: &[(&str, &[&str], &str)]) -> Vec<String> {
    let binaries: BTreeSet<String> = resources(template, "AWS::Serverless::Function")
        .iter()
        .map(|(_, f)| text(&f["Metadata"]["BuildProperties"]["Binary"]))
        .collect();
    // Alarm → metric → the functions it sums.
    let mut summed: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for w in watched(template).into_iter().filter(|w| w.namespace == NAMESPACE) {
        let functions = summed.entry((w.alarm.clone(), w.name.clone())).or_default();
        functions.extend(
            w.dimensions
                .iter()
                .filter(|(n, _)| n == "Function")
                .map(|(_, v)| v.clone()),
        );
    }
    let mut wrong = vec![];
    for ((alarm, metric), functions) in summed {
        let counting: BTreeSet<String> = match counted_by_some.iter().find(|(m, _, _)| *m == metric) {
            Some((_, some, _)) => some.iter().map(|f| (*f).to_owned()).collect(),
            None => binaries.clone(),
        };
        let left_out: Vec<&String> = counting.difference(&functions).collect();
        if !left_out.is_empty() {
            wrong.push(format!(
                "{alarm}: {metric} counted by {left_out:?} is not summed (it watches {functions:?})"
            ));
        }
    }
    wrong
}

/// Whether `functions/lambda/src/bin/<binary>.rs` names its metrics' function after the binary (it passes
/// the binary's name to the cold start, which dimensions every EMF line with it).
fn binary_names_itself(binary: &str) -> bool {
    let read = |path: &str| std::fs::read_to_string(repository().join(path)).unwrap_or_default();
    // The binary starts as its function type (`cold_start::<mallguard_lambda::functions::Poll>()`), whose
    // `NAME` its metrics carry: `function!(Poll, "poll", …)` in the library.
    let code = read(&format!("functions/lambda/src/bin/{binary}.rs"));
    let Some(function) = code
        .split("functions::")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|function| !function.is_empty())
    else {
        return false;
    };
    let library = read("functions/lambda/src/lib.rs")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    library.contains(&format!("{function}, \"{binary}\""))
}

#[test]
fn every_alarm_of_the_template_watches_a_metric_the_code_emits() {
    let template = template();
    let watched = watched(&template);
    assert!(
        watched.iter().any(|w| w.namespace == NAMESPACE),
        "the template has alarms on the functions' own metrics"
    );
    let wrong = mismatches(&template, &binary_names_itself);
    assert!(wrong.is_empty(), "alarms that can never fire:\n{}", wrong.join("\n"));
}

#[test]
fn every_alarm_sums_every_function_that_can_count_its_metric() {
    let template = template();
    let binaries: BTreeSet<String> = resources(&template, "AWS::Serverless::Function")
        .iter()
        .map(|(_, f)| text(&f["Metadata"]["BuildProperties"]["Binary"]))
        .collect();
    let metric_names: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    for (metric, some, why) in COUNTED_BY_SOME {
        assert!(metric_names.contains(metric), "{metric} ({why}) is no metric any more");
        assert!(!why.trim().is_empty(), "{metric}: say why only {some:?} count it");
        for function in some {
            assert!(
                binaries.contains(*function),
                "{metric}: {function} is no function of the template"
            );
        }
    }
    let wrong = uncovered(&template, &COUNTED_BY_SOME);
    assert!(wrong.is_empty(), "alarms that miss a function:\n{}", wrong.join("\n"));
}

#[test]
fn an_alarm_that_leaves_out_a_function_counting_its_metric_is_reported() {
    let template = load(
        r#"
Resources:
  IngestFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: ingest } }
  PollFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: poll } }
  PollOnly:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: mallguard
      MetricName: FeedFailures
      Dimensions: [{ Name: Function, Value: poll }]
      AlarmActions: [!Ref AlarmTopic]
  Stale:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: mallguard
      MetricName: FeedsStale
      Dimensions: [{ Name: Function, Value: poll }]
      AlarmActions: [!Ref AlarmTopic]
  Both:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: total
          Expression: FILL(a, 0) + FILL(b, 0)
        - Id: a
          MetricStat:
            Metric: { Namespace: mallguard, MetricName: NoticesFailed, Dimensions: [{ Name: Function, Value: ingest }] }
        - Id: b
          MetricStat:
            Metric: { Namespace: mallguard, MetricName: NoticesFailed, Dimensions: [{ Name: Function, Value: poll }] }
      AlarmActions: [!Ref AlarmTopic]
"#,
    );
    let wrong = uncovered(&template, &COUNTED_BY_SOME);
    assert_eq!(wrong.len(), 1, "{wrong:#?}");
    assert!(
        wrong[0].starts_with("PollOnly: FeedFailures") && wrong[0].contains("\"ingest\""),
        "{wrong:#?}"
    );
    // Without its entry in the list, FeedsStale too must come from every function.
    let wrong = uncovered(&template, &[]);
    assert!(wrong.iter().any(|w| w.starts_with("Stale:")), "{wrong:#?}");
}

#[test]
fn an_alarm_on_a_metric_without_its_dimension_or_of_another_name_is_reported() {
    let template = load(
        r#"
Resources:
  IngestFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: ingest
  Queue:
    Type: AWS::SQS::Queue
  NoDimension:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: mallguard
      MetricName: NoticesFailed
      AlarmActions: [!Ref AlarmTopic]
  Misspelt:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: mallguard
      MetricName: NoticeFailed
      Dimensions:
        - Name: Function
          Value: ingest
      AlarmActions: [!Ref AlarmTopic]
  UnknownFunction:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: total
          Expression: FILL(a, 0)
        - Id: a
          MetricStat:
            Metric:
              Namespace: mallguard
              MetricName: ParseFailures
              Dimensions:
                - Name: Function
                  Value: webhook
      AlarmActions: [!Ref AlarmTopic]
  OtherFunction:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref RespondFunction
      AlarmActions: [!Ref AlarmTopic]
  OtherQueue:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - Name: QueueName
          Value: !GetAtt Queue.QueueUrl
      AlarmActions: [!Ref AlarmTopic]
  Fine:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: mallguard
      MetricName: DuplicatesHeld
      Dimensions:
        - Name: Function
          Value: ingest
      AlarmActions: [!Ref AlarmTopic]
"#,
    );
    let wrong = mismatches(&template, &|_| true);
    let alarms: BTreeSet<&str> = wrong.iter().map(|w| w.split(':').next().unwrap()).collect();
    assert_eq!(
        alarms,
        BTreeSet::from([
            "Misspelt",
            "NoDimension",
            "OtherFunction",
            "OtherQueue",
            "UnknownFunction"
        ]),
        "{wrong:#?}"
    );
    // A binary that dimensions its lines with another name is reported too.
    let renamed = mismatches(&template, &|f| f != "ingest");
    assert!(
        renamed
            .iter()
            .any(|w| w.starts_with("Fine:") && w.contains("does not publish")),
        "{renamed:#?}"
    );
}

#[test]
fn metric_math_that_leaves_out_a_metric_it_lists_is_refused() {
    let template = load(
        r#"
Resources:
  Partial:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: total
          Expression: FILL(a, 0)
        - Id: a
          MetricStat: { Metric: { Namespace: mallguard, MetricName: ParseFailures } }
        - Id: b
          MetricStat: { Metric: { Namespace: mallguard, MetricName: ParseFailures } }
      AlarmActions: [!Ref AlarmTopic]
"#,
    );
    let refused = std::panic::catch_unwind(|| watched(&template)).expect_err("b is listed but not summed");
    let message = refused.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("leaves out b"), "{message}");
}

/// The longest interval (minutes) `ExpireSchedule`'s pattern allows between two sweeps.
fn slowest_sweep_minutes(template: &Yaml) -> u64 {
    let pattern = text(&template["Parameters"]["ExpireSchedule"]["AllowedPattern"]);
    let allowed = regex_lite::Regex::new(&pattern).expect("ExpireSchedule's pattern");
    let rates = (1..=24 * 60).map(|m| {
        let rate = match m {
            1 => "rate(1 minute)".to_owned(),
            60 => "rate(1 hour)".to_owned(),
            m if m % 60 == 0 => format!("rate({} hours)", m / 60),
            m => format!("rate({m} minutes)"),
        };
        (m, rate)
    });
    rates
        .filter(|(_, rate)| allowed.is_match(rate))
        .map(|(m, _)| m)
        .max()
        .expect("ExpireSchedule allows some rate")
}

fn number(node: &Yaml) -> u64 {
    node.as_i64()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_else(|| panic!("expected a number, found {node:?}"))
}

/// A sweep that keeps failing, or never passes, is told: the errors' alarm needs a failure in two periods
/// running, each long enough to hold a run of the slowest schedule; the other alarm counts the runs that
/// passed (invocations without an error) over two of the slowest schedule's intervals, and a new stack
/// (no data yet) does not fire it while no data at all still mails.
#[test]
fn the_sweeps_alarms_fit_the_slowest_schedule() {
    let template = template();
    let slowest = slowest_sweep_minutes(&template) * 60;
    assert_eq!(
        slowest,
        15 * 60,
        "the README and the alarms' descriptions say 15 minutes"
    );
    let resources = &template["Resources"];

    let errors = &resources["ExpireErrorsAlarm"]["Properties"];
    assert_eq!(text(&errors["MetricName"]), "Errors");
    assert!(number(&errors["Period"]) >= slowest, "a period holds at least one run");
    assert_eq!(number(&errors["EvaluationPeriods"]), 2);
    assert_eq!(number(&errors["DatapointsToAlarm"]), 2);
    assert_eq!(number(&errors["Threshold"]), 1, "one failed run in each period");

    let missing = &resources["SweepMissingAlarm"]["Properties"];
    let queries = missing["Metrics"].as_vec().expect("metric math");
    let id_of = |name: &str| {
        queries
            .iter()
            .find(|q| q["MetricStat"]["Metric"]["MetricName"].as_str() == Some(name))
            .map(|q| text(&q["Id"]))
            .unwrap_or_else(|| panic!("SweepMissingAlarm reads no {name}"))
    };
    let expression = queries
        .iter()
        .find_map(|q| q["Expression"].as_str())
        .expect("an expression");
    let compact: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(
        compact,
        format!("{}-FILL({},0)", id_of("Invocations"), id_of("Errors")),
        "the runs that passed: invocations without an error (and no runs at all: no data)"
    );
    for query in queries.iter().filter(|q| !q["MetricStat"].is_badvalue()) {
        let period = number(&query["MetricStat"]["Period"]);
        assert_eq!(
            period * number(&missing["EvaluationPeriods"]),
            2 * slowest,
            "30 minutes"
        );
    }
    assert_eq!(text(&missing["ComparisonOperator"]), "LessThanThreshold");
    assert_eq!(number(&missing["Threshold"]), 1);
    assert_eq!(
        text(&missing["TreatMissingData"]),
        "missing",
        "breaching would fire on a new stack before its first sweep"
    );
    assert!(
        missing["InsufficientDataActions"]
            .as_vec()
            .is_some_and(|a| a.iter().any(|a| a.as_str() == Some("AlarmTopic"))),
        "no run at all (no data) is mailed too"
    );
}

/// Each public Function URL is a resource of the template (so checkov sees it), is granted to everyone both
/// ways a public URL needs since October 2025 (`lambda:InvokeFunctionUrl` for `NONE`, `lambda:InvokeFunction`
/// through the URL only), and its function has the URL's 4xx and 5xx alarms.
#[test]
fn every_public_function_url_is_granted_and_watched() {
    let template = template();
    let urls = resources(&template, "AWS::Lambda::Url");
    assert_eq!(urls.len(), 3, "the webhooks, the buyer's page and the console");
    for (_, function) in resources(&template, "AWS::Serverless::Function") {
        assert!(
            function["Properties"]["FunctionUrlConfig"].is_badvalue(),
            "a FunctionUrlConfig is made into a URL only at deploy, out of the checks' sight"
        );
    }
    let permissions = resources(&template, "AWS::Lambda::Permission");
    let alarms = watched(&template);
    for (id, url) in urls {
        let properties = &url["Properties"];
        let function = text(&properties["TargetFunctionArn"]);
        assert_eq!(text(&properties["AuthType"]), "NONE", "{id}");
        let granted = |action: &str, key: &str, value: &str| {
            permissions.iter().any(|(_, p)| {
                let p = &p["Properties"];
                p["FunctionName"].as_str() == Some(function.as_str())
                    && p["Action"].as_str() == Some(action)
                    && p["Principal"].as_str() == Some("*")
                    && match &p[key] {
                        Yaml::Boolean(b) => b.to_string() == value,
                        other => other.as_str() == Some(value),
                    }
            })
        };
        assert!(
            granted("lambda:InvokeFunctionUrl", "FunctionUrlAuthType", "NONE"),
            "{id}: no public lambda:InvokeFunctionUrl"
        );
        assert!(
            granted("lambda:InvokeFunction", "InvokedViaFunctionUrl", "true"),
            "{id}: no public lambda:InvokeFunction through the URL"
        );
        assert!(
            url["Metadata"]["checkov"]["skip"]
                .as_vec()
                .is_some_and(|skips| skips.iter().any(|s| s["id"].as_str() == Some("CKV_AWS_258")
                    && s["comment"].as_str().is_some_and(|c| !c.trim().is_empty()))),
            "{id}: say why it is public (checkov's CKV_AWS_258)"
        );
        for metric in ["Url4xxCount", "Url5xxCount"] {
            assert!(
                alarms.iter().any(|w| w.namespace == "AWS/Lambda"
                    && w.name == metric
                    && w.dimensions == [("FunctionName".to_owned(), function.clone())]),
                "{id}: no alarm on {function}'s {metric}"
            );
        }
    }
}
