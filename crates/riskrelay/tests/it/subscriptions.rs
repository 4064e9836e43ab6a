//! Subscription upkeep against the simulated tenant, which validates notification URLs against
//! the real webhook server, as Graph does, and sends notifications to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use riskrelay::app::{Adapters, Parts, ToolParts};
use riskrelay::client_state::ClientStates;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::ids::SubscriptionId;
use riskrelay::notification::LifecycleKind;
use riskrelay::observation::{LifecycleEvent, Subject, WorkItem};
use riskrelay::source::poll::PollTrigger;
use riskrelay::source::subscriptions::LifecycleHandler;
use riskrelay::source::subscriptions::{KnownSubscriptions, SubscriptionsConfig, Upkeep, Wanted};
use riskrelay::source::webhook::Webhook;
use riskrelay::source::webhook::WebhookConfig;
use time::OffsetDateTime;

use riskrelay_sim::testkit::RecordingQueue;

fn states(value: &str) -> ClientStates {
    let e = Env::default().with("RISKRELAY_CLIENT_STATE", value);
    ClientStates::load(&EnvSecrets(&e)).unwrap()
}

#[derive(Default)]
struct CountingTrigger(AtomicUsize);

#[async_trait::async_trait]
impl PollTrigger for CountingTrigger {
    async fn poll_now(&self, _reason: &str) -> Result<(), riskrelay::store::StoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Rig {
    app: riskrelay_sim::testkit::TestApp,
    queue: RecordingQueue,
    url: url::Url,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::ops::Deref for Rig {
    type Target = riskrelay_sim::testkit::TestApp;

    fn deref(&self) -> &Self::Target {
        &self.app
    }
}

impl Rig {
    /// The simulator plus our webhook on loopback, as the subscriptions' endpoint.
    async fn new(client_state: &str) -> Self {
        let app = riskrelay_sim::testkit::TestApp::start().await;
        let queue = RecordingQueue::default();
        let config = WebhookConfig {
            tenant_id: app.sim.tenant_id(),
            client_states: states(client_state),
        };
        // As deployed: only subscriptions upkeep recorded are accepted.
        let known = KnownSubscriptions::new(app.sim.tenant_id(), app.store.clone());
        let webhook = Arc::new(
            Webhook::new(&config, Arc::new(queue.clone()))
                .with_known_subscriptions(Arc::new(known)),
        );
        let listener = riskrelay::server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(riskrelay::server::serve(listener, webhook, async {
            let _ = stopped.await;
        }));
        Self {
            app,
            queue,
            url,
            _stop: stop,
        }
    }

    /// Subscription upkeep as the composition root builds it, for `wanted` at `public_url`.
    fn upkeep_at(
        &self,
        wanted: Vec<Wanted>,
        public_url: url::Url,
        client_state: &str,
        trigger: Option<Arc<dyn PollTrigger>>,
    ) -> Arc<Upkeep> {
        let mut settings = self.settings.clone();
        settings.subscriptions = SubscriptionsConfig {
            wanted,
            public_url: Some(public_url),
        };
        settings.client_states = Some(states(client_state));
        let store: Arc<dyn riskrelay::store::Store> = self.store.clone();
        let mut adapters = Adapters::new(store);
        adapters.poll_trigger = trigger;
        ToolParts::build(&settings, adapters)
            .unwrap()
            .base
            .upkeep
            .unwrap()
    }

    fn upkeep(&self, wanted: Vec<Wanted>, client_state: &str) -> Arc<Upkeep> {
        self.upkeep_at(wanted, self.url.clone(), client_state, None)
    }

    fn only_subscription(&self) -> (SubscriptionId, serde_json::Value) {
        let subs = self.sim.subscriptions();
        assert_eq!(subs.len(), 1, "{subs:?}");
        (
            SubscriptionId::parse(subs[0]["id"].as_str().unwrap()).unwrap(),
            subs[0].clone(),
        )
    }
}

#[tokio::test]
async fn creates_validates_and_receives_with_the_right_client_state() {
    let rig = Rig::new("state-one").await;
    let upkeep = rig.upkeep(vec![Wanted::Users], "state-one");
    let report = upkeep.ensure(OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(report.created, vec!["users"]);
    let (_, sub) = rig.only_subscription();
    assert_eq!(sub["notificationUrl"], format!("{}notifications", rig.url));
    assert_eq!(
        sub["lifecycleNotificationUrl"],
        format!("{}lifecycle", rig.url)
    );
    assert_eq!(sub["changeType"], "updated");

    let marker = riskrelay::store::load::<Option<OffsetDateTime>>(
        rig.store.as_ref(),
        rig.sim.tenant_id(),
        riskrelay::store::keys::SUBSCRIPTIONS_CREATING,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        marker.value, None,
        "the creation marker is cleared once the id is saved"
    );

    // Nothing to do the second time.
    assert_eq!(
        upkeep.ensure(OffsetDateTime::now_utc()).await.unwrap(),
        Default::default()
    );

    // Graph notifies; our webhook accepts it because the clientState matches.
    let user = riskrelay_sim::testkit::uid(1);
    assert_eq!(
        rig.sim.notify(&format!("Users/{user}"), "updated").await,
        vec![202]
    );
    let items = rig.queue.items();
    assert!(
        matches!(&items[..], [WorkItem::Observation(o)] if o.subject == Subject::User { user_id: user }),
        "{items:?}"
    );
}

#[tokio::test]
async fn renews_before_expiry_and_recreates_after_a_client_state_rotation() {
    let rig = Rig::new("state-two").await;
    rig.upkeep(vec![Wanted::Users], "state-one")
        .ensure(OffsetDateTime::now_utc())
        .await
        .unwrap();
    let (id, _) = rig.only_subscription();
    rig.sim
        .set_subscription_expiry(id, OffsetDateTime::now_utc() + time::Duration::days(2));
    let renewed = rig
        .upkeep(vec![Wanted::Users], "state-one")
        .ensure(OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(renewed.renewed, vec!["users"]);
    let (same, sub) = rig.only_subscription();
    assert_eq!(same, id);
    let expires = OffsetDateTime::parse(
        sub["expirationDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires > OffsetDateTime::now_utc() + time::Duration::days(20));

    // The clientState was rotated (our webhook only accepts "state-two" now): recreate.
    let rotated = rig
        .upkeep(vec![Wanted::Users], "state-two")
        .ensure(OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(rotated.recreated, vec!["users"]);
    let (new_id, _) = rig.only_subscription();
    assert_ne!(new_id, id);
    assert_eq!(
        rig.sim
            .notify(
                &format!("Users/{}", riskrelay_sim::testkit::uid(2)),
                "updated"
            )
            .await,
        vec![202]
    );
    assert_eq!(
        rig.queue.items().len(),
        1,
        "the new subscription carries the new clientState"
    );

    // No longer wanted: deleted.
    let removed = rig
        .upkeep(vec![], "state-two")
        .ensure(OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(removed.deleted, vec!["users"]);
    assert!(rig.sim.subscriptions().is_empty());
}

#[tokio::test]
async fn lifecycle_events_reauthorize_recreate_and_poll() {
    let rig = Rig::new("state-one").await;
    let trigger = Arc::new(CountingTrigger::default());
    let upkeep = rig.upkeep_at(
        vec![Wanted::Users],
        rig.url.clone(),
        "state-one",
        Some(trigger.clone()),
    );
    upkeep.ensure(OffsetDateTime::now_utc()).await.unwrap();
    let (id, _) = rig.only_subscription();
    let event = |kind: LifecycleKind, id: SubscriptionId| LifecycleEvent {
        tenant_id: rig.sim.tenant_id(),
        subscription_id: id,
        event: kind,
        subscription_expires: None,
        received_at: OffsetDateTime::now_utc(),
    };

    // The lifecycle URL works end to end: Graph's event reaches our queue.
    assert_eq!(
        rig.sim.lifecycle(id, "reauthorizationRequired").await,
        Some(202)
    );
    assert!(
        matches!(&rig.queue.items()[..], [WorkItem::Lifecycle(l)] if l.event == LifecycleKind::ReauthorizationRequired)
    );

    rig.sim.clear_requests();
    upkeep
        .handle(
            &event(LifecycleKind::ReauthorizationRequired, id),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(
        rig.sim
            .requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path == format!("/v1.0/subscriptions/{id}"))
    );

    rig.sim.remove_subscription(id);
    upkeep
        .handle(
            &event(LifecycleKind::SubscriptionRemoved, id),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let (recreated, _) = rig.only_subscription();
    assert_ne!(recreated, id);

    upkeep
        .handle(
            &event(LifecycleKind::Missed, recreated),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert_eq!(
        trigger.0.load(Ordering::SeqCst),
        1,
        "missed notifications trigger an immediate poll"
    );
    upkeep
        .handle(
            &event(LifecycleKind::Unknown("somethingNew".into()), recreated),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_or_wrong_endpoint_fails_validation_clearly() {
    let rig = Rig::new("state-one").await;
    let upkeep = rig.upkeep_at(
        vec![Wanted::Users],
        url::Url::parse("http://127.0.0.1:9/").unwrap(),
        "state-one",
        None,
    );
    let err = upkeep.ensure(OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(
        matches!(
            err,
            riskrelay::source::subscriptions::UpkeepError::Graph(
                riskrelay::graph::GraphError::Rejected { status: 400, .. }
            )
        ),
        "Graph's refusal, typed: {err:?}"
    );
    assert!(err.to_string().contains("validation"), "{err}");
    assert!(rig.sim.subscriptions().is_empty());
}
