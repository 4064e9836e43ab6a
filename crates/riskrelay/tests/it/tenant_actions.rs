//! Actions across tenants (the MSP mode): an alert's buttons carry its tenant, the action pages
//! sign the analyst in at that tenant's authority and act with that tenant's delegated token; a
//! token naming another tenant is refused, and a tenant that has not granted the delegated
//! permissions gets a page that says so. Two simulated tenants on one server, driven through the
//! same router `riskrelay run` and the actions function serve.

use std::sync::Arc;

use riskrelay::action_link::ActionLink;
use riskrelay::fleet::Job;
use riskrelay::risk::{RiskLevel, RiskState};
use riskrelay_sim::browser::Browser;
use riskrelay_sim::testkit::{LogCapture, uid};

use crate::actions::{actions_config, button, token};
use crate::tenants::{Msp, all_ok, at_risk};

const PUBLIC: &str = "http://127.0.0.1:18443";

/// Contoso (tenant 0) and Fabrikam (tenant 1), each with its own channel and actions on, past
/// their baselines; then one user at risk in each.
async fn rig() -> (
    Msp,
    Arc<riskrelay::fleet::Fleet<riskrelay::app::ServiceParts>>,
) {
    let mut msp = Msp::start(2, &["contoso", "fabrikam"]).await;
    msp.settings.actions = Some(actions_config("confirm,dismiss,snooze"));
    msp.register(0, "Contoso", &["contoso"], None).await;
    msp.register(1, "Fabrikam", &["fabrikam"], None).await;
    let fleet = Arc::new(msp.fleet());
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    at_risk(&msp.sims[0], 1, "Alice Contoso", "alice@contoso.com");
    at_risk(&msp.sims[1], 2, "Bob Fabrikam", "bob@fabrikam.com");
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    (msp, fleet)
}

/// The alert `sink` received about `upn`.
async fn alert(msp: &Msp, sink: &str, upn: &str) -> serde_json::Value {
    msp.payloads(sink)
        .await
        .into_iter()
        .find(|p| p.to_string().contains(upn))
        .unwrap_or_else(|| panic!("no alert about {upn} in {sink}"))
}

fn pages(fleet: &Arc<riskrelay::fleet::Fleet<riskrelay::app::ServiceParts>>) -> Browser {
    Browser::new(
        fleet.action_pages().expect("actions are configured"),
        PUBLIC,
    )
    .unwrap()
}

#[tokio::test]
async fn an_analyst_acts_in_the_tenant_of_the_alert_and_a_token_of_another_tenant_is_refused() {
    let logs = LogCapture::start();
    let (msp, fleet) = rig().await;
    let (contoso, fabrikam) = (msp.sims[0].tenant_id(), msp.sims[1].tenant_id());
    let bob = uid(2);

    // Fabrikam's alert carries Fabrikam in its links, and only Fabrikam's channel has it.
    let alert = alert(&msp, "fabrikam", "bob@fabrikam.com").await;
    let confirm = button(&alert, "Confirm compromised");
    let key = actions_config("confirm").key;
    let link = ActionLink::verify(token(&confirm), &key, time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!((link.tenant, link.user), (fabrikam, bob));
    assert!(!msp.texts("contoso").await.contains("bob@fabrikam.com"));

    // Signing in goes to Fabrikam's own authority (its sign-in page names it, and only its
    // token endpoint can redeem the code), Entra's answer comes back with a `state` naming it,
    // and the confirmed action is taken there with the analyst's token; the follow-up goes to
    // Fabrikam's channel only.
    let mut b = pages(&fleet);
    let start = b
        .get(&format!("/actions/signin/{}", token(&confirm)))
        .await
        .unwrap();
    let authority = start.location.clone().unwrap();
    assert!(
        authority.contains(&format!("/{fabrikam}/oauth2/v2.0/authorize")),
        "{authority}"
    );
    let (page, visited) = b.sign_in(&confirm, 0).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        visited[0].contains(&format!("state={fabrikam}.")),
        "{visited:?}"
    );
    assert!(page.body.contains("Confirm compromised?"), "{}", page.body);
    let done = b.confirm(&confirm, &page.body).await.unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("by secops@contoso.com"), "{}", done.body);
    assert_eq!(
        msp.sims[1].analyst_actions(),
        vec![(
            "secops@contoso.com".to_string(),
            "confirmCompromised".to_string(),
            bob
        )]
    );
    let state = msp.sims[1].risky_user(bob).unwrap();
    assert_eq!(state.risk_state, RiskState::ConfirmedCompromised);
    assert!(msp.sims[0].analyst_actions().is_empty());
    assert_eq!(msp.saying("fabrikam", "Confirmed compromised by").await, 1);
    assert_eq!(msp.saying("contoso", "Confirmed compromised by").await, 0);
    // The action is recorded in Fabrikam's partition of the store, not Contoso's.
    let now = time::OffsetDateTime::now_utc();
    let taken = |t| riskrelay::actions::taken::recent(msp.store.as_ref(), t, now);
    assert_eq!(taken(fabrikam).await.unwrap().len(), 1);
    assert!(taken(contoso).await.unwrap().is_empty());

    // An ID token that names another tenant than the link's is refused, and nothing is done.
    msp.sims[1].issue_id_tokens_for(&contoso.to_string());
    let dismiss = button(&alert, "Dismiss user risk");
    let mut other = b.fresh();
    let (refused, _) = other.sign_in(&dismiss, 0).await.unwrap();
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("Sign-in could not be completed"),
        "{}",
        refused.body
    );
    assert!(logs.text().contains("issued in another tenant"));
    assert_eq!(msp.sims[1].analyst_actions().len(), 1);

    // A link signed for a tenant the deployment no longer watches opens nothing.
    riskrelay::fleet::unregister(msp.store.as_ref(), contoso)
        .await
        .unwrap();
    let contoso_alert = self::alert(&msp, "contoso", "alice@contoso.com").await;
    let gone = pages(&fleet)
        .get(&button(&contoso_alert, "Dismiss user risk"))
        .await
        .unwrap();
    assert_eq!(gone.status, 400, "{}", gone.body);
    assert!(
        gone.body.contains("This link is not valid"),
        "{}",
        gone.body
    );
    assert!(msp.sims[0].analyst_actions().is_empty());
    assert_eq!(
        msp.sims[0].risky_user(uid(1)).unwrap().risk_level,
        RiskLevel::High
    );
}

#[tokio::test]
async fn a_tenant_without_the_delegated_permissions_gets_a_page_that_says_so() {
    let (msp, fleet) = rig().await;
    msp.sims[0].set_delegated_consent(false);
    let alert = alert(&msp, "contoso", "alice@contoso.com").await;
    let mut b = pages(&fleet);
    let (page, _) = b
        .sign_in(&button(&alert, "Dismiss user risk"), 0)
        .await
        .unwrap();
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("This tenant has not granted riskrelay&#39;s action permissions")
            || page
                .body
                .contains("This tenant has not granted riskrelay's action permissions"),
        "{}",
        page.body
    );
    assert!(page.body.contains("riskrelay tenants consent-url"));
    assert!(msp.sims[0].analyst_actions().is_empty());

    // Once granted, the same link works.
    msp.sims[0].set_delegated_consent(true);
    let (page, _) = b
        .fresh()
        .sign_in(&button(&alert, "Dismiss user risk"), 0)
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Dismiss user risk?"), "{}", page.body);
}
