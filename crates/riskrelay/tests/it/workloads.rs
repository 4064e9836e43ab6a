//! Risky workload identities through the real pipeline: the simulated tenant's risky service
//! principals and agents read in the poll cycle, reconciled, enriched in `$batch`, rendered for
//! Slack, Teams, PagerDuty and the signed webhook (payloads kept for the validators; events
//! verified with the `standardwebhooks` library against the schema).

use std::sync::Arc;

use riskrelay::app::{Adapters, ServiceParts};
use riskrelay::fleet::{Fleet, Job};
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::store::Store;
use riskrelay::tenancy::Mode;
use riskrelay::workload::WorkloadKind;
use riskrelay_sim::testkit::{
    SIGNING_SECRET, TestApp, WEBHOOK_PATH, answer, ok_pagerduty, pagerduty_sink, received_json,
    received_text, record_received, webhook_sink,
};
use riskrelay_sim::{Fault, SimServicePrincipal};
use wiremock::{MockServer, ResponseTemplate};

const SP: &str = "7d3c1a52-4b0e-4c1f-9a57-0e1f2a3b4c5d";
const APP: &str = "0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a";
const KEY: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

fn fleet(t: &TestApp) -> Fleet<ServiceParts> {
    let store: Arc<dyn Store> = t.store.clone();
    let mut adapters = Adapters::new(store);
    adapters.inline_retry.base_delay = std::time::Duration::from_millis(20);
    Fleet::<ServiceParts>::build(&t.settings, adapters, Mode::Config, 1)
        .unwrap()
        .delivering()
}

/// One poll cycle, its work delivered in process; whether it worked.
async fn cycle(fleet: &Fleet<ServiceParts>) -> bool {
    let runs = fleet.each(Job::Poll(None)).await.unwrap();
    runs.iter().all(|r| r.result.is_ok())
}

async fn slack_texts(t: &TestApp) -> Vec<String> {
    received_text(&t.slack).await
}

#[tokio::test]
async fn a_risky_service_principal_is_alerted_with_its_credential_and_reach_then_lowered_and_ended_on_one_incident()
 {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    let pagerduty = MockServer::start().await;
    ok_pagerduty(&pagerduty).await;
    let siem = MockServer::start().await;
    answer(&siem, WEBHOOK_PATH, ResponseTemplate::new(204), None, None).await;
    t.settings
        .alerts
        .sinks
        .push(pagerduty_sink(&pagerduty, RiskLevel::Low));
    t.settings
        .alerts
        .sinks
        .push(webhook_sink(&siem, RiskLevel::Low, SIGNING_SECRET));
    t.settings.workloads = vec![WorkloadKind::ServicePrincipal];
    t.sim.add_service_principal(
        SimServicePrincipal::new(SP, APP, "Build pipeline")
            .with_secret(KEY, "ci-deploy")
            .with_owner("Megan Bowen", "megan@contoso.com")
            .with_graph_permission("Application.ReadWrite.All")
            .with_graph_permission("User.Read.All")
            .with_role("Global Administrator", GLOBAL_ADMIN),
    );
    let fleet = fleet(&t);
    assert!(cycle(&fleet).await, "the first cycle (baseline)");
    // What the first cycle said (the users' baseline) is left aside.
    let said = slack_texts(&t).await.len();
    let paged = received_json(&pagerduty).await.len();
    let sent = received_json(&siem).await.len();

    t.sim.set_workload_risk(
        WorkloadKind::ServicePrincipal,
        SP,
        RiskLevel::High,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    t.sim.add_workload_detection(
        WorkloadKind::ServicePrincipal,
        SP,
        "leakedCredentials",
        RiskLevel::High,
        &[KEY],
    );
    let before = t
        .sim
        .requests()
        .iter()
        .filter(|r| r.is_identity_protection())
        .count();
    assert!(cycle(&fleet).await);
    let ip = t
        .sim
        .requests()
        .iter()
        .filter(|r| r.is_identity_protection())
        .count()
        - before;
    // Users: one page of detections and one of risky users; service principals: one page each.
    assert_eq!(ip, 4, "one identity-protection request per page");
    let texts = slack_texts(&t).await.split_off(said);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let alert = &texts[0];
    for expected in [
        "Service principal at risk (high)",
        "Build pipeline",
        "Leaked credentials",
        "ci-deploy",
        "Application.ReadWrite.All",
        "Global Administrator",
        "Megan Bowen",
        "evidence: source: public code repository",
        "this organisation",
        "cannot remediate its own risk",
        "Rotate or remove the credential the detection names (client secret \\\"ci-deploy\\\")",
        "ManagedAppMenuBlade",
    ] {
        assert!(alert.contains(expected), "missing {expected:?} in {alert}");
    }
    assert!(
        !alert.contains("User.Read.All"),
        "only privileged permissions are named: {alert}"
    );
    // Quiet when nothing changed.
    assert!(cycle(&fleet).await);
    assert_eq!(slack_texts(&t).await.len(), said + 1);

    t.sim.set_workload_risk(
        WorkloadKind::ServicePrincipal,
        SP,
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    assert!(cycle(&fleet).await);
    t.sim.set_workload_risk(
        WorkloadKind::ServicePrincipal,
        SP,
        RiskLevel::None,
        RiskState::Dismissed,
        RiskDetail::AdminDismissedAllRiskForServicePrincipal,
    );
    assert!(cycle(&fleet).await);
    let texts = slack_texts(&t).await.split_off(said);
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(
        texts[1].contains("Service principal risk lowered to medium"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].contains("Service principal risk dismissed"),
        "{}",
        texts[2]
    );
    assert!(
        texts[2].contains("an administrator dismissed all risk for the service principal"),
        "{}",
        texts[2]
    );
    assert!(
        !texts[2].contains("cannot remediate"),
        "no steps once it has ended"
    );

    // PagerDuty: one incident for the episode, opened critical, updated, resolved.
    let events = received_json(&pagerduty).await.split_off(paged);
    let actions: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e["event_action"].as_str().unwrap(),
                e["payload"]["severity"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("trigger", Some("critical")),
            ("trigger", Some("error")),
            ("resolve", None)
        ]
    );
    let keys: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["dedup_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "one incident: {keys:?}");

    // The signed webhook: servicePrincipal events, verified and schema-checked independently.
    let bodies = received_json(&siem).await.split_off(sent);
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "riskrelay.servicePrincipal.newRisk",
            "riskrelay.servicePrincipal.lowered",
            "riskrelay.servicePrincipal.dismissed"
        ]
    );
    assert_eq!(bodies[0]["data"]["subjectKind"], "servicePrincipal");
    assert_eq!(
        bodies[0]["data"]["workload"]["credentials"][0]["displayName"],
        "ci-deploy"
    );
    assert_eq!(
        bodies[0]["data"]["workload"]["privilegedRoles"][0],
        "Global Administrator"
    );
    assert_eq!(bodies[2]["data"]["resolves"], true);
    let dir = tempfile::tempdir().unwrap();
    let files = super::signed_webhook::deliveries(&siem, dir.path()).await;
    assert!(super::signed_webhook::verified(SIGNING_SECRET, &files));
    record_received("slack", "workload-service-principal", &t.slack).await;
    record_received("teams", "workload-service-principal", &t.teams).await;
}

#[tokio::test]
async fn without_the_licence_users_are_still_alerted_and_it_is_said_once() {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.settings.workloads = vec![WorkloadKind::ServicePrincipal];
    t.sim.fail(
        Fault::status("/identityProtection/riskyServicePrincipals", 403, 1_000)
            .with_code("Authentication_RequestFromNonPremiumTenantOrB2CTenant"),
    );
    let fleet = fleet(&t);
    assert!(cycle(&fleet).await, "a refusal never fails the cycle");
    t.high_risk_user(41, "Adele Vance", "adele@contoso.com");
    assert!(cycle(&fleet).await);
    assert!(cycle(&fleet).await);
    let texts = slack_texts(&t).await;
    let unavailable: Vec<&String> = texts
        .iter()
        .filter(|b| b.contains("Risky service principals cannot be read"))
        .collect();
    assert_eq!(unavailable.len(), 1, "said once: {texts:#?}");
    assert!(
        unavailable[0].contains("Workload ID Premium"),
        "{}",
        unavailable[0]
    );
    assert!(
        texts.iter().any(|b| b.contains("Adele Vance")),
        "the user's alert went out: {texts:#?}"
    );
    // Tried once, then rested for the hour.
    let refused = t
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("riskyServicePrincipals"))
        .count();
    assert_eq!(refused, 1);
    // `riskrelay status` (and the status page) say why, from the store alone.
    let state = riskrelay::status::read(
        t.store.as_ref(),
        t.sim.tenant_id(),
        None,
        None,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(
        state.workload_risk,
        [
            "service principals: cannot be read (Graph says the tenant lacks Microsoft Entra Workload ID Premium)"
        ]
    );
}

#[tokio::test]
async fn microsofts_example_records_and_an_unreadable_one_leave_the_cycle_whole_and_an_agent_alerted()
 {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.settings.workloads = vec![WorkloadKind::ServicePrincipal, WorkloadKind::Agent];
    // Microsoft's v1.0 example: an id that is not a GUID, a timestamp with a stray bracket.
    t.sim.put_workload_record(
        WorkloadKind::ServicePrincipal,
        serde_json::json!({
            "id": "9089a539-a539-9089-39a5-899039a58990x",
            "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
            "displayName": "Contoso App",
            "servicePrincipalType": "Application",
            "isEnabled": true,
            "riskLastUpdatedDateTime": format!("{})", time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap()),
            "riskLevel": "low",
            "riskState": "atRisk",
            "riskDetail": "none"
        }),
    );
    t.sim.put_workload_record(
        WorkloadKind::ServicePrincipal,
        serde_json::json!({"id": "broken-1", "riskLevel": "high", "riskState": "atRisk", "riskLastUpdatedDateTime": "not a time"}),
    );
    t.sim.set_workload_risk(
        WorkloadKind::Agent,
        "c5a2ab25-0c1c-4f0b-a1e4-aa3f0c8b8e21",
        RiskLevel::High,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    let logs = riskrelay_sim::testkit::LogCapture::start();
    // The first read of a tenant takes every identity at risk now.
    let fleet = fleet(&t);
    assert!(cycle(&fleet).await, "the cycle completes");
    let texts = slack_texts(&t).await;
    assert!(
        texts
            .iter()
            .any(|b| b.contains("Contoso App") && b.contains("Service principal at risk (low)")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|b| b.contains("Agent at risk (high)") && b.contains("An agent cannot remediate")),
        "{texts:#?}"
    );
    assert!(!texts.iter().any(|b| b.contains("broken-1")));
    assert!(
        logs.text().contains("riskLastUpdatedDateTime"),
        "the unreadable item's member is named in the log"
    );
    // No link is built from an id that is not a GUID.
    let contoso = texts.iter().find(|b| b.contains("Contoso App")).unwrap();
    assert!(!contoso.contains("ManagedAppMenuBlade"), "{contoso}");

    // An agent's detection with evidence in shapes not documented yet, one of them hostile.
    t.sim.put_workload_detection(
        WorkloadKind::Agent,
        serde_json::json!({
            "id": "ad-1", "agentId": "c5a2ab25-0c1c-4f0b-a1e4-aa3f0c8b8e21",
            "riskEventType": "unusualAgentActivity", "riskLevel": "high", "riskState": "atRisk",
            "lastModifiedDateTime": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
            "riskEvidence": {"summary": "Read 40 mailboxes in a minute <!channel>", "nested": {"ignored": true}},
            "additionalInfo": "[{\"Key\":\"toolName\",\"Value\":\"mail.read\"}]"
        }),
    );
    t.sim.set_workload_risk(
        WorkloadKind::Agent,
        "c5a2ab25-0c1c-4f0b-a1e4-aa3f0c8b8e21",
        RiskLevel::High,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    assert!(cycle(&fleet).await);
    let texts = slack_texts(&t).await;
    let agent = texts
        .iter()
        .find(|b| b.contains("New detections for a high-risk agent"))
        .unwrap_or_else(|| panic!("{texts:#?}"));
    assert!(
        agent.contains("evidence: summary: Read 40 mailboxes in a minute")
            && agent.contains("toolName: mail.read"),
        "{agent}"
    );
    assert!(
        !agent.contains("<!channel>"),
        "evidence is escaped: {agent}"
    );
    record_received("slack", "workload-agent", &t.slack).await;
    record_received("teams", "workload-agent", &t.teams).await;
}
