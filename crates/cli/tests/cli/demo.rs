//! `riskrelay demo` is part of the test suite: its chapters, its messages and its payload files.

use riskrelay_cli::demo::{DemoOptions, run};

use riskrelay_sim::testkit::record_payload;

async fn demo(
    enforce: bool,
    tenants: usize,
) -> (tempfile::TempDir, riskrelay_cli::demo::DemoReport) {
    let dir = tempfile::tempdir().unwrap();
    let report = run(DemoOptions {
        out: dir.path().to_path_buf(),
        enforce,
        slack_webhook: None,
        teams_webhook: None,
        print: false,
        tenants,
    })
    .await
    .unwrap();
    (dir, report)
}

fn titles(report: &riskrelay_cli::demo::DemoReport, chapter: usize) -> Vec<String> {
    report
        .posted
        .iter()
        .filter(|p| p.chapter == chapter)
        .map(|p| p.view.title.clone())
        .collect()
}

#[tokio::test]
async fn the_chapters_produce_the_expected_messages() {
    let (dir, report) = demo(false, 1).await;
    assert_eq!(
        titles(&report, 0),
        vec![
            "User-risk Conditional Access policy",
            "riskrelay is watching: 2 users already at risk"
        ]
    );
    assert_eq!(
        titles(&report, 1),
        vec!["High user risk"],
        "a new-risk alert, not one per existing user"
    );
    let new_risk = &report.posted.iter().find(|p| p.chapter == 1).unwrap().view;
    let text = riskrelay::render::console::text(new_risk);
    assert!(
        text.contains("User reported suspicious activity") && text.contains("Adsync User 2"),
        "{text}"
    );
    assert!(
        text.contains("Needs an administrator") && text.contains("is off"),
        "the verdict explains itself: {text}"
    );

    assert_eq!(
        titles(&report, 2),
        vec![
            "On-premises password change no longer resets user risk",
            "On-premises password change resets user risk again",
            "New detections for a high-risk user",
        ]
    );
    let later = &report.posted.iter().rfind(|p| p.chapter == 2).unwrap().view;
    assert_eq!(
        later.callout.as_ref().unwrap().headline,
        "Can self-remediate on-premises",
        "the verdict changed once the setting was on"
    );

    assert_eq!(titles(&report, 3), vec!["User risk remediated"]);
    let remediated = riskrelay::render::console::text(
        &report.posted.iter().find(|p| p.chapter == 3).unwrap().view,
    );
    assert!(
        remediated.contains("the password was changed on-premises and synced to Entra"),
        "{remediated}"
    );

    assert_eq!(
        titles(&report, 4),
        vec!["40 user risk changes in one cycle"]
    );
    let digest = &report.posted.iter().find(|p| p.chapter == 4).unwrap().view;
    assert_eq!(digest.lists[0].items.len(), 40);

    assert_eq!(
        titles(&report, 5),
        vec!["User snoozed", "User risk raised to high"],
        "the medium detection is held back, the escalation breaks through"
    );
    let escalation = riskrelay::render::console::text(
        &report.posted.iter().rfind(|p| p.chapter == 5).unwrap().view,
    );
    assert!(
        escalation.contains("Snoozed: by alice@contoso.com")
            && escalation.contains("password reset booked"),
        "{escalation}"
    );
    assert_eq!(titles(&report, 6), vec!["Summary: 42 users at risk"]);
    let summary = riskrelay::render::console::text(
        &report.posted.iter().find(|p| p.chapter == 6).unwrap().view,
    );
    assert!(
        summary.contains("Lee Gu") && summary.contains("snoozed by alice@contoso.com"),
        "{summary}"
    );

    // An analyst confirms a compromise from the alert's button: the new-risk alert carries the
    // buttons, every destination hears who acted, and the compromise alert says so.
    assert_eq!(
        titles(&report, 7),
        vec![
            "High user risk",
            "Confirmed compromised",
            "User confirmed compromised"
        ]
    );
    let chapter7: Vec<String> = report
        .posted
        .iter()
        .filter(|p| p.chapter == 7)
        .map(|p| riskrelay::render::console::text(&p.view))
        .collect();
    assert!(
        chapter7[0].contains("→ Confirm compromised: http://127.0.0.1:8080/actions/v1."),
        "{}",
        chapter7[0]
    );
    assert!(
        chapter7[1].contains("Confirmed compromised by secops@contoso.com"),
        "{}",
        chapter7[1]
    );
    assert!(
        chapter7[2].contains("Action: Confirmed compromised by secops@contoso.com"),
        "{}",
        chapter7[2]
    );

    // The PagerDuty chapter: one incident, opened at high, updated at its lowered severity
    // under the same key, resolved although the risk ended at medium.
    assert_eq!(
        titles(&report, 8),
        vec![
            "High user risk",
            "User risk lowered to medium",
            "User risk remediated"
        ]
    );
    let actions: Vec<&str> = report
        .pagerduty
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["trigger", "trigger", "resolve"],
        "{:#?}",
        report.pagerduty
    );
    assert!(
        report
            .pagerduty
            .iter()
            .all(|e| e["dedup_key"] == report.pagerduty[0]["dedup_key"])
    );
    assert_eq!(report.pagerduty[0]["payload"]["severity"], "critical");
    assert_eq!(report.pagerduty[1]["payload"]["severity"], "error");
    // The workload chapter: the pipeline's alert names its secret and reach, an analyst disables
    // it; the agent is confirmed safe and its end recalls who.
    assert_eq!(
        titles(&report, 9),
        vec![
            "Service principal at risk (high)",
            "Service principal disabled",
            "Agent at risk (medium)",
            "Confirmed safe",
            "Agent risk dismissed"
        ]
    );
    let chapter9: Vec<String> = report
        .posted
        .iter()
        .filter(|p| p.chapter == 9)
        .map(|p| riskrelay::render::console::text(&p.view))
        .collect();
    for expected in [
        "ci-deploy",
        "Global Administrator",
        "Megan Bowen",
        "→ Disable service principal: http://127.0.0.1:8080/actions/v1.",
    ] {
        assert!(
            chapter9[0].contains(expected),
            "{expected}: {}",
            chapter9[0]
        );
    }
    assert!(
        chapter9[1].contains("disabled by appsec@contoso.com"),
        "{}",
        chapter9[1]
    );
    assert!(
        chapter9[4].contains("Action: Confirmed safe by appsec@contoso.com"),
        "{}",
        chapter9[4]
    );
    let mut written: Vec<String> = std::fs::read_dir(dir.path().join("pagerduty"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["01-trigger.json", "02-trigger.json", "03-resolve.json"]
    );

    // One pair of payload files per message, named in story order.
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), report.posted.len() * 2);
    for (i, p) in report.posted.iter().enumerate() {
        assert!(
            p.slack_file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{:02}-", i + 1))
        );
        for (kind, file) in [("slack", &p.slack_file), ("teams", &p.teams_file)] {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            record_payload(
                kind,
                &format!("demo-{}", file.file_stem().unwrap().to_string_lossy()),
                &v,
            );
        }
    }
    let summary_file = &report
        .posted
        .iter()
        .find(|p| p.chapter == 6)
        .unwrap()
        .slack_file;
    let digest_slack: serde_json::Value =
        serde_json::from_slice(&std::fs::read(summary_file).unwrap()).unwrap();
    assert_eq!(
        digest_slack.to_string().matches("Spray Target").count(),
        40,
        "the Slack digest holds all 40 users"
    );
}

#[tokio::test]
async fn with_enforce_riskrelay_corrects_the_setting_itself_and_with_tenants_an_msp_chapter() {
    let (_dir, report) = demo(true, 3).await;
    assert_eq!(
        titles(&report, 2),
        vec![
            "riskrelay turned on-premises password reset back on",
            "New detections for a high-risk user"
        ]
    );
    // The MSP chapter: Contoso's alert names its tenant; Fabrikam's lost access is said once;
    // Northwind, quiet, says nothing (its baseline was taken before the story).
    let mut msp = titles(&report, 10);
    msp.sort();
    assert_eq!(
        msp,
        vec!["High user risk", "riskrelay lost access to a tenant"]
    );
    for p in report.posted.iter().filter(|p| p.chapter == 10) {
        let text = riskrelay::render::console::text(&p.view);
        if p.view.title == "High user risk" {
            assert!(
                text.contains("Tenant: Contoso") && text.contains("Pradeep Gupta"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("Fabrikam") && !text.contains("Northwind"),
                "{text}"
            );
        }
    }
    for p in &report.posted {
        for (kind, file) in [("slack", &p.slack_file), ("teams", &p.teams_file)] {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            record_payload(
                kind,
                &format!(
                    "demo-enforce-{}",
                    file.file_stem().unwrap().to_string_lossy()
                ),
                &v,
            );
        }
    }
}

/// The demo tells its story on stdout; its log (stderr) stays quiet unless something is wrong or
/// `RISKRELAY_LOG` asks for more.
#[tokio::test]
async fn the_demo_prints_the_story_without_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let run = |log: Option<&str>| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"));
        c.env_clear().arg("demo").arg("--out").arg(dir.path());
        if let Some(l) = log {
            c.env("RISKRELAY_LOG", l);
        }
        c.output()
    };
    let quiet = run(None).await.unwrap();
    assert!(quiet.status.success());
    let story = String::from_utf8_lossy(&quiet.stdout);
    assert!(story.contains("riskrelay starts watching"), "{story}");
    let log = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !log.contains("INFO") && !log.contains("poll cycle done"),
        "no info lines by default: {log}"
    );
    let chatty = run(Some("info")).await.unwrap();
    assert!(String::from_utf8_lossy(&chatty.stderr).contains("poll cycle done"));
}
