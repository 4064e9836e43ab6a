//! The SAM template's dashboard and alarms read riskrelay's own figures: its dashboard body is
//! JSON once CloudFormation substitutes it, and every riskrelay metric it or an alarm names is
//! one the functions write.

fn template() -> String {
    std::fs::read_to_string(riskrelay_sim::testkit::repo_root().join("infra/template.yaml"))
        .unwrap()
}

/// The `DashboardBody: !Sub |` block, with each `${…}` replaced as CloudFormation would.
fn dashboard_body(t: &str) -> serde_json::Value {
    let mut lines = t
        .lines()
        .skip_while(|l| !l.contains("DashboardBody: !Sub |"));
    let head = lines.next().expect("a DashboardBody");
    let indent = head.len() - head.trim_start().len();
    let body: String = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .collect::<Vec<_>>()
        .join("\n");
    let substituted = regex_lite_replace(&body);
    serde_json::from_str(&substituted).unwrap_or_else(|e| panic!("{e}:\n{substituted}"))
}

/// `${Name}` and `${Name.Attr}` become a plain value.
fn regex_lite_replace(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').unwrap() + i;
        out.push_str("substituted");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Names after `MetricName=\"` (searches) and in `["riskrelay", "Name"]` pairs.
fn dashboard_names(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Array(a) => {
            if a.first() == Some(&serde_json::json!("riskrelay"))
                && let Some(n) = a.get(1).and_then(|n| n.as_str())
            {
                out.push(n.to_string());
            }
            a.iter().for_each(|x| dashboard_names(x, out));
        }
        serde_json::Value::Object(o) => o.values().for_each(|x| dashboard_names(x, out)),
        serde_json::Value::String(s) => {
            if let Some(rest) = s.split("MetricName=\"").nth(1) {
                out.push(rest.split('"').next().unwrap().to_string());
            }
        }
        _ => {}
    }
}

#[test]
fn the_dashboard_and_alarms_name_only_figures_the_functions_write() {
    let t = template();
    let mut names = Vec::new();
    dashboard_names(&dashboard_body(&t), &mut names);
    assert!(names.len() >= 8, "{names:?}");
    // Alarms on riskrelay's namespace: the MetricName after `Namespace: riskrelay`.
    let lines: Vec<&str> = t.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "Namespace: riskrelay" {
            let next = lines[i + 1].trim();
            names.push(next.strip_prefix("MetricName: ").unwrap().to_string());
        }
    }
    for n in &names {
        assert!(
            riskrelay::metrics::EMF_NAMES.contains(&n.as_str()),
            "{n} is not a figure riskrelay writes"
        );
    }
    for wanted in ["PollSucceeded", "AlertsFailed", "GraphThrottled"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} is watched");
    }
}

/// A top-level resource's lines, from its name to the next resource.
fn resource(t: &str, name: &str) -> String {
    let start = format!("  {name}:");
    let mut lines = t.lines().skip_while(|l| *l != start);
    let head = lines.next().unwrap_or_else(|| panic!("no resource {name}"));
    let body: Vec<&str> = lines
        .take_while(|l| l.starts_with("   ") || l.is_empty())
        .collect();
    format!("{head}\n{}", body.join("\n"))
}

#[test]
fn the_dead_man_alarm_fires_on_silence() {
    let alarm = resource(&template(), "DeadManAlarm");
    for line in [
        "MetricName: PollSucceeded",
        "ComparisonOperator: LessThanThreshold",
        "TreatMissingData: breaching",
        "EvaluationPeriods: !Ref DeadManMinutes",
        "DatapointsToAlarm: !Ref DeadManMinutes",
    ] {
        assert!(alarm.contains(line), "{line} missing from:\n{alarm}");
    }
}

/// Every DynamoDB call the store makes, as its IAM action (`batch_get_item` → `BatchGetItem`), read
/// from the store's source. `CreateTable` is the tests' and the CLI's set-up, not a function's.
fn store_actions() -> std::collections::BTreeSet<String> {
    let dir = riskrelay_sim::testkit::repo_root().join("crates/riskrelay/src/store/dynamo");
    let mut actions = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in text.split(".client").skip(1) {
            let call = call.trim_start().trim_start_matches('\n').trim_start();
            let Some(name) = call.strip_prefix('.').and_then(|c| c.split("()").next()) else {
                continue;
            };
            if name == "create_table" {
                continue;
            }
            let pascal: String = name
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            actions.insert(format!("dynamodb:{pascal}"));
        }
    }
    actions
}

#[test]
fn each_function_that_uses_the_store_may_make_every_call_it_makes() {
    let t = template();
    let actions = store_actions();
    // The calls the tests know the store makes: a change to the store's calls fails here until
    // the template grants it.
    for expected in [
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
    ] {
        assert!(actions.contains(expected), "{actions:?}");
    }
    let granted = |function: &str| -> Vec<String> {
        let body: String = t
            .lines()
            .skip_while(|l| l.trim() != format!("{function}:"))
            .skip(1)
            .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("Action: ["))
            .flat_map(|l| {
                l.trim_end_matches(']')
                    .split(", ")
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for function in [
        "PollerFunction",
        "WorkerFunction",
        "TenantJobsFunction",
        "ActionsFunction",
    ] {
        let granted = granted(function);
        for a in &actions {
            assert!(
                granted.contains(a),
                "{function} may not call {a}: {granted:?}"
            );
        }
    }
    // The webhook reads only: the subscription ids, and the registry's pages.
    assert_eq!(
        granted("WebhookFunction"),
        ["dynamodb:GetItem", "dynamodb:Query"]
    );
}
