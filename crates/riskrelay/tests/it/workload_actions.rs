//! Acting on a risky workload identity from its alert, as the signed-in analyst: a service
//! principal confirmed compromised (refused for a Security Operator, whom Graph does not let) and
//! disabled; an agent confirmed safe; a service principal snoozed. Each through the simulated tenant's sign-in and Graph, the
//! follow-up message, and the next cycle's alert recalling who acted.

use riskrelay::action_link::{ActionKind, ActionLink};
use riskrelay::app::ServiceParts;
use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::workload::WorkloadKind;
use riskrelay_sim::SimServicePrincipal;
use riskrelay_sim::browser::{Answer, Browser};

use crate::actions::{actions_config, browser, button, buttons, token};
use riskrelay_sim::testkit::{TestApp, received_json};

const SP: &str = "7d3c1a52-4b0e-4c1f-9a57-0e1f2a3b4c5d";
const APP: &str = "0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a";
const AGENT: &str = "a9e1c0de-7a11-4e2b-8c3d-5e6f7a8b9c0d";
use riskrelay_sim::signin::{
    ANALYST_SECURITY_ADMINISTRATOR as SECURITY_ADMINISTRATOR,
    ANALYST_SECURITY_OPERATOR as SECURITY_OPERATOR,
};

/// A tenant past its baseline, watching `kind`, with every action configured.
async fn rig(kind: WorkloadKind) -> (TestApp, ServiceParts) {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.settings.actions = Some(actions_config(
        "confirm,dismiss,revoke,snooze,disable,confirmSafe",
    ));
    t.settings.workloads = vec![kind];
    let app = t.build::<ServiceParts>(None);
    app.poller.poll().await.unwrap();
    (t, app)
}

/// The service principal `SP` at `level`, stamped now.
fn sp_at_risk(t: &TestApp, level: RiskLevel) {
    t.sim.set_workload_risk(
        WorkloadKind::ServicePrincipal,
        SP,
        level,
        RiskState::AtRisk,
        RiskDetail::None,
    );
}

/// The Slack posts that mention `needle`.
async fn posts_about(t: &TestApp, needle: &str) -> Vec<serde_json::Value> {
    received_json(&t.slack)
        .await
        .into_iter()
        .filter(|p| p.to_string().contains(needle))
        .collect()
}

/// Signs in on `link` as analyst `n` and presses the confirm page's button; the confirm page
/// and the page the action ends on.
async fn act(b: &mut Browser, link: &str, n: usize) -> (Answer, Answer) {
    let (page, _) = b.sign_in(link, n).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let done = b.confirm(link, &page.body).await.unwrap();
    (page, done)
}

/// The delegated permissions the sign-in for `link` asks Entra for.
async fn scopes_asked(b: &mut Browser, link: &str) -> String {
    let start = b
        .get(&format!("/actions/signin/{}", token(link)))
        .await
        .unwrap();
    let to = url::Url::parse(start.location.as_deref().unwrap()).unwrap();
    to.query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn a_service_principal_is_confirmed_compromised_by_a_security_administrator_not_an_operator_and_disabled()
 {
    let (t, app) = rig(WorkloadKind::ServicePrincipal).await;
    t.sim.add_service_principal(
        SimServicePrincipal::new(SP, APP, "Build pipeline")
            .with_owner("Megan Bowen", "megan@contoso.com"),
    );
    sp_at_risk(&t, RiskLevel::High);
    app.poller.poll().await.unwrap();
    let alerts = posts_about(&t, "Service principal at risk").await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    // A service principal's actions only: no "Revoke sessions", no "Confirm safe".
    let labels: Vec<String> = buttons(alert).into_iter().map(|(l, _)| l).collect();
    for expected in [
        "Confirm compromised",
        "Dismiss risk",
        "Disable service principal",
        "Snooze 7 days",
    ] {
        assert!(labels.iter().any(|l| l == expected), "{labels:?}");
    }
    for absent in ["Revoke sessions", "Confirm safe", "Dismiss user risk"] {
        assert!(!labels.iter().any(|l| l == absent), "{labels:?}");
    }
    let confirm = button(alert, "Confirm compromised");
    let disable = button(alert, "Disable service principal");
    let config = actions_config("confirm");
    let link = ActionLink::verify(
        token(&confirm),
        &config.key,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(
        (link.workload, link.user.to_string(), link.action),
        (
            Some(WorkloadKind::ServicePrincipal),
            SP.to_string(),
            ActionKind::Confirm
        )
    );

    // The sign-in asks for what the link needs: the risk permission always, the app write
    // permission only to disable.
    let b = browser(&app);
    let asked = scopes_asked(&mut b.fresh(), &confirm).await;
    assert!(
        asked.contains("IdentityRiskyServicePrincipal.ReadWrite.All"),
        "{asked}"
    );
    assert!(!asked.contains("Application.ReadWrite.All"), "{asked}");
    assert!(!asked.contains("IdentityRiskyUser"), "{asked}");
    let asked = scopes_asked(&mut b.fresh(), &disable).await;
    assert!(asked.contains("Application.ReadWrite.All"), "{asked}");

    // A Security Operator reads the risk but Graph refuses the confirmation: the page says
    // which role Graph names, and nothing changes.
    let (page, refused) = act(&mut b.fresh(), &confirm, SECURITY_OPERATOR).await;
    assert!(page.body.contains("Build pipeline"), "{}", page.body);
    assert!(page.body.contains("high · atRisk"), "{}", page.body);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Graph refused to change the service principal")
            && refused.body.contains("Security Administrator"),
        "{}",
        refused.body
    );
    assert!(t.sim.analyst_actions().is_empty());

    // A Security Administrator confirms: Graph records it under their name, the channel hears.
    let (_, done) = act(&mut b.fresh(), &confirm, SECURITY_ADMINISTRATOR).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Confirmed compromised"), "{}", done.body);
    let acted = t.sim.analyst_actions();
    assert_eq!(acted.len(), 1, "{acted:?}");
    assert_eq!(
        (
            acted[0].0.as_str(),
            acted[0].1.as_str(),
            acted[0].2.to_string()
        ),
        ("appsec@contoso.com", "confirmCompromised", SP.to_string())
    );
    let follow_ups = posts_about(&t, "Confirmed compromised by").await;
    assert_eq!(follow_ups.len(), 1, "{follow_ups:#?}");
    assert!(follow_ups[0].to_string().contains("Build pipeline"));

    // The next cycle's alert about the compromise says who confirmed it, and no longer offers
    // to confirm.
    app.poller.poll().await.unwrap();
    let compromised = posts_about(&t, "compromise").await;
    let latest = compromised
        .iter()
        .rev()
        .find(|p| p.to_string().contains("(from riskrelay)"))
        .unwrap_or_else(|| panic!("no alert recalling the action: {compromised:#?}"));
    assert!(
        latest.to_string().contains("appsec@contoso.com"),
        "{latest}"
    );
    let labels: Vec<String> = buttons(latest).into_iter().map(|(l, _)| l).collect();
    assert!(
        !labels.iter().any(|l| l == "Confirm compromised"),
        "{labels:?}"
    );

    // Disabling: refused for the Security Operator (not an application administrator), done
    // for the administrator; the directory says so.
    let (_, refused) = act(&mut b.fresh(), &disable, SECURITY_OPERATOR).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Graph refused to disable the service principal"),
        "{}",
        refused.body
    );
    assert_eq!(t.sim.service_principal_enabled(SP), Some(true));
    let (_, done) = act(&mut b.fresh(), &disable, SECURITY_ADMINISTRATOR).await;
    assert!(
        done.body.contains("Service principal disabled"),
        "{}",
        done.body
    );
    assert_eq!(t.sim.service_principal_enabled(SP), Some(false));
    assert_eq!(
        posts_about(&t, "Service principal disabled by").await.len(),
        1
    );
}

#[tokio::test]
async fn an_agent_is_confirmed_safe_from_its_alert_and_the_end_of_its_risk_says_who() {
    let (t, app) = rig(WorkloadKind::Agent).await;
    // An agent identity is a service principal too: its name comes from the directory.
    t.sim.add_service_principal(SimServicePrincipal::new(
        AGENT,
        AGENT,
        "Contoso helpdesk agent",
    ));
    t.sim.set_workload_risk(
        WorkloadKind::Agent,
        AGENT,
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    app.poller.poll().await.unwrap();
    let alerts = posts_about(&t, "Agent at risk").await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let labels: Vec<String> = buttons(&alerts[0]).into_iter().map(|(l, _)| l).collect();
    for expected in [
        "Confirm compromised",
        "Dismiss risk",
        "Confirm safe",
        "Snooze 7 days",
    ] {
        assert!(labels.iter().any(|l| l == expected), "{labels:?}");
    }
    assert!(
        !labels.iter().any(|l| l == "Disable service principal"),
        "{labels:?}"
    );
    let safe = button(&alerts[0], "Confirm safe");
    let mut b = browser(&app);
    let asked = scopes_asked(&mut b.fresh(), &safe).await;
    assert!(
        asked.contains("IdentityRiskyAgent.ReadWrite.All"),
        "{asked}"
    );

    let landing = b.fresh().get(&safe).await.unwrap();
    assert!(landing.body.contains("Agent id"), "{}", landing.body);
    let (page, done) = act(&mut b, &safe, SECURITY_ADMINISTRATOR).await;
    assert!(
        page.body.contains("Contoso helpdesk agent"),
        "{}",
        page.body
    );
    assert!(page.body.contains("medium · atRisk"), "{}", page.body);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Confirmed safe"), "{}", done.body);
    let acted = t.sim.analyst_actions();
    assert_eq!(
        acted
            .iter()
            .map(|(who, what, id)| (who.as_str(), what.as_str(), id.to_string()))
            .collect::<Vec<_>>(),
        [("appsec@contoso.com", "confirmSafe", AGENT.to_string())]
    );
    assert_eq!(posts_about(&t, "Confirmed safe by").await.len(), 1);

    // The next cycle reads the end of the risk, recalling the analyst's action.
    app.poller.poll().await.unwrap();
    let ended = posts_about(&t, "(from riskrelay)").await;
    assert_eq!(ended.len(), 1, "{ended:#?}");
    let text = ended[0].to_string();
    assert!(
        text.contains("Confirmed safe by appsec@contoso.com"),
        "{text}"
    );
    assert!(
        text.contains("an administrator confirmed the agent safe"),
        "{text}"
    );
}

#[tokio::test]
async fn a_service_principal_snoozed_from_its_alert_holds_back_new_detections_and_lets_an_escalation_through()
 {
    let (t, app) = rig(WorkloadKind::ServicePrincipal).await;
    t.sim
        .add_service_principal(SimServicePrincipal::new(SP, APP, "Build pipeline"));
    sp_at_risk(&t, RiskLevel::Medium);
    app.poller.poll().await.unwrap();
    let alerts = posts_about(&t, "Service principal at risk").await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let snooze = button(&alerts[0], "Snooze 7 days");

    // Snoozing changes nothing in Entra, so a Security Operator, who can read the risk, may.
    let mut b = browser(&app);
    let (page, done) = act(&mut b, &snooze, SECURITY_OPERATOR).await;
    assert!(
        page.body.contains("this identity's alerts"),
        "{}",
        page.body
    );
    assert!(done.body.contains("Snoozed for 7 days"), "{}", done.body);
    assert!(t.sim.analyst_actions().is_empty(), "nothing asked of Graph");

    // The next cycle posts the snooze, once.
    app.poller.poll().await.unwrap();
    let snoozed = posts_about(&t, "Service principal snoozed").await;
    assert_eq!(snoozed.len(), 1, "{snoozed:#?}");
    assert!(snoozed[0].to_string().contains(&format!("app:{SP}")));

    // A new detection at the level snoozed at is held back.
    let before = posts_about(&t, "Build pipeline").await.len();
    t.sim.add_workload_detection(
        WorkloadKind::ServicePrincipal,
        SP,
        "leakedCredentials",
        RiskLevel::Medium,
        &[],
    );
    sp_at_risk(&t, RiskLevel::Medium);
    app.poller.poll().await.unwrap();
    assert_eq!(posts_about(&t, "Build pipeline").await.len(), before);

    // An escalation above it breaks through, saying who snoozed it and why.
    sp_at_risk(&t, RiskLevel::High);
    app.poller.poll().await.unwrap();
    let raised = posts_about(&t, "this alert breaks through").await;
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let text = raised[0].to_string();
    assert!(
        text.contains("Build pipeline") && text.contains("secops@contoso.com"),
        "{text}"
    );

    // The snooze counted what it held back and learnt whom it names.
    let (book, _) = riskrelay::features::snooze::load(t.store.as_ref(), t.sim.tenant_id())
        .await
        .unwrap();
    assert_eq!(book.active.len(), 1);
    assert_eq!(book.active[0].held, 1);
    assert_eq!(
        book.active[0].workload,
        Some((WorkloadKind::ServicePrincipal, SP.to_string()))
    );
}
