//! The activity figures `riskrelay status` shows: the at-risk counts move with the states the
//! worker saves, user alerts are counted by day, and the summary sets the counts from Graph.

use riskrelay::observation::{Subject, WorkItem};
use riskrelay::risk::{RiskDetail, RiskState};
use riskrelay_sim::testkit::{TestApp, hint};

async fn figures(t: &TestApp) -> riskrelay::activity::Activity {
    riskrelay::features::activity::load(t.store.as_ref(), t.sim.tenant_id())
        .await
        .unwrap()
}

#[tokio::test]
async fn counts_follow_the_saved_states_and_the_summary_sets_them_from_graph() {
    let t = TestApp::start().await;
    t.ok_sinks().await;
    let worker = t.worker();
    let a = t.high_risk_user(81, "Ada Activity", "ada");
    let b = t.high_risk_user(82, "Bo Activity", "bo");
    let items: Vec<WorkItem> = [a, b]
        .into_iter()
        .map(|id| hint(&t, Subject::RiskyUser { user_id: id }))
        .collect();
    worker.process(&items).await;
    let f = figures(&t).await;
    assert_eq!((f.at_risk.high, f.at_risk.total()), (2, 2), "{f:?}");
    let today = time::OffsetDateTime::now_utc();
    assert_eq!(f.last_days(today).last().unwrap().1, 2, "two alerts today");

    // Bo's risk ends: one fewer at risk, and the end was an alert too.
    t.sim.end_risk(
        b,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    worker
        .process(&[hint(&t, Subject::RiskyUser { user_id: b })])
        .await;
    // The same observation again changes nothing.
    worker
        .process(&[hint(&t, Subject::RiskyUser { user_id: b })])
        .await;
    let f = figures(&t).await;
    assert_eq!(f.at_risk.total(), 1, "{f:?}");
    assert_eq!(f.last_days(today).last().unwrap().1, 3);

    // A user riskrelay never saw is at risk in Graph: the summary's full read counts them.
    t.high_risk_user(83, "Cy Unseen", "cy");
    let report = worker
        .process(&[WorkItem::Summary {
            tenant_id: t.sim.tenant_id(),
            slot: today,
        }])
        .await;
    assert!(report.results.iter().all(Result::is_ok), "{report:?}");
    let f = figures(&t).await;
    assert_eq!(f.at_risk.high, 2, "Ada and Cy, as Graph lists them: {f:?}");
    assert!(f.counted_at.is_some());
}
