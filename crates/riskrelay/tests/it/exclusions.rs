//! `RISKRELAY_EXCLUDE`: excluded users (by user principal name, id or group) get no alert and
//! are left out of digests, but their state is recorded, so lifting the exclusion floods nothing.

use riskrelay::app::ServiceParts;
use riskrelay::exclusions::Exclusions;
use riskrelay::reconcile::UserState;
use riskrelay::store::{self, Store};
use riskrelay_sim::SimUser;

use riskrelay_sim::testkit::TestApp;
use riskrelay_sim::testkit::uid;

const GROUP: &str = "0f0e0d0c-0b0a-4909-8807-060504030201";

#[tokio::test]
async fn excluded_users_get_no_alert_and_no_digest_line_but_their_state_is_kept() {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.settings.alerts.digest_threshold = 1;
    t.settings.policy.exclude = Exclusions::parse(&format!(
        "BreakGlass@contoso.com, {}, group:{GROUP}",
        uid(2)
    ))
    .unwrap();
    let app = t.build::<ServiceParts>(None);
    app.poller.poll().await.unwrap(); // baseline of an empty tenant
    let (before_slack, _) = t.posts().await;

    let by_upn = t.high_risk_user(1, "Break Glass", "breakglass");
    t.high_risk_user(2, "Excluded By Id", "byid");
    t.high_risk(SimUser::new(uid(3), "Service Account", "svc").in_group(GROUP));
    t.high_risk_user(4, "Alice Alert", "alice");
    t.high_risk_user(5, "Bob Alert", "bob");
    app.poller.poll().await.unwrap();

    let posts = t.slack.received_requests().await.unwrap();
    let new: Vec<String> = posts[before_slack..]
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        new.len(),
        1,
        "one digest for the two who may be named: {new:#?}"
    );
    for name in ["Alice Alert", "Bob Alert"] {
        assert!(new[0].contains(name), "{name} in the digest");
    }
    for name in ["Break Glass", "Excluded By Id", "Service Account"] {
        assert!(
            !new[0].contains(name),
            "{name} must not be named: {}",
            new[0]
        );
    }
    let state = store::load::<UserState>(
        t.store.as_ref() as &dyn Store,
        t.sim.tenant_id(),
        &store::keys::user(by_upn),
    )
    .await
    .unwrap();
    assert!(
        state.is_some_and(|s| s.value.is_risky()),
        "an excluded user's state is recorded"
    );

    // Lifting the exclusions later says nothing about what already happened.
    t.settings.policy.exclude = Exclusions::default();
    let lifted = t.build::<ServiceParts>(None);
    let (slack, teams) = t.posts().await;
    lifted.poller.poll().await.unwrap();
    assert_eq!(t.posts().await, (slack, teams), "no flood");
}
