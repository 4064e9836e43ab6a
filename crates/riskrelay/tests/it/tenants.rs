//! Many tenants from one deployment (the MSP mode): each tenant's alerts reach only its own
//! destinations, a tenant that revokes consent is announced once and holds up no other, a
//! notification signed for one tenant never passes for another, and each tenant's
//! identity-protection budget holds while tenants run side by side.

use std::sync::Arc;

use riskrelay::app::{Adapters, ServiceParts, Settings};
use riskrelay::drift::DriftMode;
use riskrelay::fleet::{Done, Fleet, Job};
use riskrelay::ids::TenantId;
use riskrelay::risk::RiskLevel;
use riskrelay::sink::config::{SinkConfig, SinkKind};
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::{self, Store};
use riskrelay::tenancy::{self, Consent, Mode, TenantRecord, TenantStatus};
use riskrelay_sim::{SimConfig, SimUser, Simulator};
use secrecy::ExposeSecret as _;
use serde_json::json;
use wiremock::MockServer;

use riskrelay_sim::testkit::{RecordingQueue, SLACK_PATH, ok_slack, received_text};

/// Simulated tenants on one server, each a registered tenant, with one Slack server per named
/// destination.
pub(crate) struct Msp {
    pub(crate) sims: Vec<Simulator>,
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) settings: Settings,
    /// Destination name → its fake Slack.
    chats: Vec<(String, MockServer)>,
}

impl Msp {
    pub(crate) async fn start(tenants: usize, sinks: &[&str]) -> Self {
        let sims = Simulator::start_many((0..tenants).map(SimConfig::tenant).collect())
            .await
            .unwrap();
        let mut graph = sims[0].graph_config();
        graph.retry = riskrelay_sim::testkit::fast_retry(graph.retry.max_attempts);
        let mut settings = Settings::with_graph(graph);
        let mut chats = Vec::new();
        for name in sinks {
            let server = MockServer::start().await;
            ok_slack(&server).await;
            settings.alerts.sinks.push(SinkConfig {
                name: name.to_string(),
                kind: SinkKind::Slack,
                url: secrecy::SecretString::from(format!("{}{SLACK_PATH}", server.uri())),
                min_level: RiskLevel::Low,
                key: None,
            });
            chats.push((name.to_string(), server));
        }
        Self {
            sims,
            store: Arc::new(MemoryStore::default()),
            settings,
            chats,
        }
    }

    pub(crate) async fn register(
        &self,
        i: usize,
        name: &str,
        sinks: &[&str],
        drift: Option<DriftMode>,
    ) {
        riskrelay::fleet::register(
            self.store.as_ref(),
            TenantRecord {
                id: self.sims[i].tenant_id(),
                name: name.into(),
                sinks: sinks.iter().map(|s| s.to_string()).collect(),
                drift_mode: drift,
                exclude: None,
                summary: None,
                added_at: time::OffsetDateTime::now_utc(),
            },
        )
        .await
        .unwrap();
    }

    pub(crate) fn fleet(&self) -> Fleet<ServiceParts> {
        let store: Arc<dyn Store> = self.store.clone();
        let mut adapters = Adapters::new(store);
        adapters.inline_retry.base_delay = std::time::Duration::from_millis(20);
        Fleet::<ServiceParts>::build(&self.settings, adapters, Mode::Registry, 250)
            .unwrap()
            .delivering()
    }

    pub(crate) async fn texts(&self, sink: &str) -> String {
        self.posts(sink).await.join("\n")
    }

    /// The payloads `sink` received, as JSON.
    pub(crate) async fn payloads(&self, sink: &str) -> Vec<serde_json::Value> {
        let server = &self.chats.iter().find(|(n, _)| n == sink).unwrap().1;
        riskrelay_sim::testkit::received_json(server).await
    }

    pub(crate) async fn posts(&self, sink: &str) -> Vec<String> {
        let server = &self.chats.iter().find(|(n, _)| n == sink).unwrap().1;
        received_text(server).await
    }

    /// How many posts to `sink` say `text`.
    pub(crate) async fn saying(&self, sink: &str, text: &str) -> usize {
        self.posts(sink)
            .await
            .iter()
            .filter(|p| p.contains(text))
            .count()
    }

    async fn status(&self, i: usize) -> TenantStatus {
        store::load::<TenantStatus>(
            self.store.as_ref(),
            self.sims[i].tenant_id(),
            tenancy::STATUS,
        )
        .await
        .unwrap()
        .unwrap()
        .value
    }
}

pub(crate) fn at_risk(sim: &Simulator, n: u128, name: &str, upn: &str) {
    riskrelay_sim::testkit::high_risk(
        sim,
        SimUser::new(riskrelay_sim::testkit::uid(n), name, upn).synced(),
    );
}

/// Every tenant's run of a job worked (or was skipped when `skipped` names it).
pub(crate) fn all_ok(runs: &[riskrelay::fleet::TenantRun]) {
    for r in runs {
        assert!(r.result.is_ok(), "{:?}: {:?}", r.name, r.result);
    }
}

#[tokio::test]
async fn two_tenants_reach_only_their_own_destinations_with_their_own_drift_modes() {
    let msp = Msp::start(2, &["contoso", "shared"]).await;
    msp.register(0, "Contoso", &["contoso"], Some(DriftMode::Enforce))
        .await;
    msp.register(1, "Fabrikam", &[], Some(DriftMode::Report))
        .await;
    for sim in &msp.sims {
        sim.set_setting(false);
    }
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap()); // the baselines
    at_risk(&msp.sims[0], 1, "Alice Contoso", "alice");
    at_risk(&msp.sims[1], 2, "Bob Fabrikam", "bob");
    all_ok(&fleet.each(Job::Posture).await.unwrap());
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());

    let contoso = msp.texts("contoso").await;
    let shared = msp.texts("shared").await;
    assert!(contoso.contains("Alice Contoso"), "{contoso}");
    assert!(shared.contains("Bob Fabrikam"), "{shared}");
    assert!(!contoso.contains("Bob Fabrikam") && !contoso.contains("Fabrikam"));
    assert!(!shared.contains("Alice Contoso") && !shared.contains("Contoso"));
    // Every message names its tenant, so a shared channel tells them apart.
    assert!(shared.contains("[Fabrikam]"), "{shared}");
    // Contoso enforces: its setting was switched back on. Fabrikam only reports it.
    assert_eq!(msp.sims[0].setting(), Some(true));
    assert_eq!(msp.sims[1].setting(), Some(false));
    assert!(contoso.contains("riskrelay switched it on"), "{contoso}");
    assert!(shared.contains("found off"), "{shared}");
    // Each tenant's state is its own: both granted, each with its own checkpoint.
    for i in 0..2 {
        assert_eq!(msp.status(i).await.consent, Consent::Granted);
        let checkpoint = msp
            .store
            .get(msp.sims[i].tenant_id(), riskrelay::store::keys::CHECKPOINT)
            .await
            .unwrap();
        assert!(checkpoint.is_some(), "tenant {i} has no checkpoint");
    }
}

#[tokio::test]
async fn a_tenant_that_revokes_consent_is_announced_once_and_holds_up_no_other() {
    let msp = Msp::start(2, &["contoso", "shared"]).await;
    msp.register(0, "Contoso", &["contoso"], None).await;
    msp.register(1, "Fabrikam", &[], None).await;
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());

    msp.sims[0].set_consent(false);
    at_risk(&msp.sims[1], 2, "Bob Fabrikam", "bob");
    let runs = fleet.each(Job::Poll(None)).await.unwrap();
    let contoso = runs
        .iter()
        .find(|r| r.tenant == msp.sims[0].tenant_id())
        .unwrap();
    let fabrikam = runs
        .iter()
        .find(|r| r.tenant == msp.sims[1].tenant_id())
        .unwrap();
    assert!(contoso.result.is_err(), "{:?}", contoso.result);
    assert!(
        matches!(fabrikam.result, Ok(Done::Poll(_))),
        "{:?}",
        fabrikam.result
    );
    // Fabrikam's alert went out in the same cycle.
    assert!(msp.texts("shared").await.contains("Bob Fabrikam"));
    let status = msp.status(0).await;
    assert_eq!(status.consent, Consent::Lost);
    assert!(status.last_error.is_some());

    // Two more cycles: Contoso is only tried, and nothing more is said.
    for _ in 0..2 {
        fleet.each(Job::Poll(None)).await.unwrap();
    }
    let shared = msp.texts("shared").await;
    assert_eq!(
        msp.saying("shared", "lost access to a tenant").await,
        1,
        "{shared}"
    );
    assert!(
        shared.contains("Tenant: Contoso"),
        "the MSP's channel names the tenant: {shared}"
    );
    // The notice is for the MSP: the customer's own channel hears nothing of it.
    assert!(!msp.texts("contoso").await.contains("lost access"));

    // Consent granted again: said once, and the tenant is polled again.
    msp.sims[0].set_consent(true);
    at_risk(&msp.sims[0], 3, "Carol Contoso", "carol");
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    let shared = msp.texts("shared").await;
    assert_eq!(
        msp.saying("shared", "has access to a tenant again").await,
        1,
        "{shared}"
    );
    assert_eq!(msp.status(0).await.consent, Consent::Granted);
    assert!(msp.texts("contoso").await.contains("Carol Contoso"));
}

#[tokio::test]
async fn a_tenant_never_consented_stays_pending_silently() {
    let msp = Msp::start(2, &["shared"]).await;
    msp.register(0, "Contoso", &[], None).await;
    msp.register(1, "Fabrikam", &[], None).await;
    msp.sims[1].set_consent(false);
    let fleet = msp.fleet();
    for _ in 0..2 {
        let runs = fleet.each(Job::Poll(None)).await.unwrap();
        let pending = runs
            .iter()
            .find(|r| r.tenant == msp.sims[1].tenant_id())
            .unwrap();
        assert!(
            matches!(pending.result, Ok(Done::Skipped)),
            "{:?}",
            pending.result
        );
    }
    let status = msp.status(1).await;
    assert_eq!(status.consent, Consent::Pending);
    assert!(status.last_error.unwrap().contains("AADSTS700016"));
    assert!(!msp.texts("shared").await.contains("lost access"));
    assert_eq!(msp.status(0).await.consent, Consent::Granted);
}

#[tokio::test]
async fn a_notification_signed_for_one_tenant_never_passes_for_another() {
    use riskrelay::client_state::ClientStates;
    use riskrelay::source::subscriptions::CreatedWith;
    use riskrelay::source::webhook::{RegisteredTenants, Tenants, Webhook};
    let msp = Msp::start(3, &[]).await;
    msp.register(0, "Contoso", &[], None).await;
    msp.register(1, "Fabrikam", &[], None).await;
    let ids: Vec<TenantId> = msp.sims.iter().map(|s| s.tenant_id()).collect();
    let subs: Vec<riskrelay::ids::SubscriptionId> = (1..=3)
        .map(|n| {
            riskrelay::ids::SubscriptionId::from_uuid(uuid::Uuid::from_u128(0xabc0 + n as u128))
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        store::save(
            msp.store.as_ref(),
            *id,
            riskrelay::store::keys::SUBSCRIPTIONS,
            &CreatedWith([(subs[i], "fp".to_string())].into()),
            None,
        )
        .await
        .unwrap();
    }
    let e = riskrelay::config::Env::default().with("RISKRELAY_CLIENT_STATE", "deployment-secret");
    let base = ClientStates::load(&riskrelay::config::EnvSecrets(&e)).unwrap();
    let value = |t: TenantId| base.for_tenant(t).current().expose_secret().to_string();
    let queue = RecordingQueue::default();
    let webhook = Webhook::for_tenants(
        Tenants::Registry(Arc::new(RegisteredTenants::new(
            base.clone(),
            msp.store.clone(),
        ))),
        Arc::new(queue.clone()),
    );
    let item = |tenant: TenantId, sub: usize, client_state: &str| {
        json!({
            "subscriptionId": subs[sub].to_string(),
            "changeType": "updated",
            "resource": "Users/6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b",
            "clientState": client_state,
            "tenantId": tenant.to_string(),
        })
    };
    let cases = [
        (
            "tenant A's clientState claiming tenant B",
            item(ids[1], 1, &value(ids[0])),
            false,
        ),
        (
            "the deployment's own value",
            item(ids[1], 1, "deployment-secret"),
            false,
        ),
        (
            "a tenant that is not registered",
            item(ids[2], 2, &value(ids[2])),
            false,
        ),
        ("B's own value for B", item(ids[1], 1, &value(ids[1])), true),
        ("A's own value for A", item(ids[0], 0, &value(ids[0])), true),
    ];
    for (what, item, accepted) in cases {
        let body = json!({ "value": [item] }).to_string();
        let tally = webhook.accept(body.as_bytes()).await.unwrap();
        assert_eq!(tally.accepted, usize::from(accepted), "{what}");
        assert_eq!(tally.rejected, usize::from(!accepted), "{what}");
    }
    let tenants: Vec<TenantId> = queue.items().iter().map(|i| i.tenant_id()).collect();
    assert_eq!(tenants, [ids[1], ids[0]]);
}

#[tokio::test]
async fn each_tenant_keeps_its_own_budget_while_tenants_run_side_by_side() {
    const TENANTS: usize = 4;
    let mut msp = Msp::start(TENANTS, &["shared"]).await;
    // Graph's rule, per tenant: identity-protection requests closer than a second are refused.
    msp.settings.graph.identity_protection_rps = 1.0;
    for (i, sim) in msp.sims.iter().enumerate() {
        sim.enforce_rate_limit(true);
        msp.register(i, &format!("Tenant {i}"), &[], None).await;
    }
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    for (i, sim) in msp.sims.iter().enumerate() {
        sim.clear_requests();
        for n in 0..3 {
            at_risk(
                sim,
                (i * 10 + n) as u128 + 1,
                &format!("User {i}-{n}"),
                &format!("u{i}{n}"),
            );
        }
    }
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    let mut spans = Vec::new();
    for (i, sim) in msp.sims.iter().enumerate() {
        let ip: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|r| r.is_identity_protection())
            .collect();
        assert!(
            ip.len() >= 2,
            "tenant {i} made {} identity-protection requests",
            ip.len()
        );
        assert!(
            ip.iter().all(|r| r.status != 429),
            "tenant {i} was throttled: its budget was overrun"
        );
        for pair in ip.windows(2) {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(
                gap >= std::time::Duration::from_millis(950),
                "tenant {i}: requests {gap:?} apart"
            );
        }
        spans.push((ip[0].at, ip[ip.len() - 1].at));
    }
    // Side by side: every tenant's requests overlap every other's in time.
    for a in &spans {
        for b in &spans {
            assert!(
                a.0 <= b.1 && b.0 <= a.1,
                "two tenants ran one after the other"
            );
        }
    }
    assert!(msp.texts("shared").await.contains("User 3-2"));
}

#[tokio::test]
async fn with_no_shared_destination_an_operations_message_never_reaches_a_customer_channel() {
    // Every destination is some tenant's own: there is nowhere the MSP hears, and the customer's
    // channel must not hear about another tenant (nor about itself from the MSP's side).
    let msp = Msp::start(2, &["contoso", "fabrikam"]).await;
    msp.register(0, "Contoso", &["contoso"], None).await;
    msp.register(1, "Fabrikam", &["fabrikam"], None).await;
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    msp.sims[1].set_consent(false);
    at_risk(&msp.sims[0], 1, "Alice Contoso", "alice");
    let logs = riskrelay_sim::testkit::LogCapture::start();
    fleet.each(Job::Poll(None)).await.unwrap();
    assert_eq!(msp.status(1).await.consent, Consent::Lost);
    assert!(msp.texts("contoso").await.contains("Alice Contoso"));
    for sink in ["contoso", "fabrikam"] {
        assert_eq!(msp.saying(sink, "lost access").await, 0, "{sink}");
    }
    assert!(
        logs.text()
            .contains("no shared destination for this operations message"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_consent_change_whose_announcement_failed_is_announced_at_the_next_job() {
    let msp = Msp::start(1, &["shared"]).await;
    msp.register(0, "Contoso", &[], None).await;
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    // The MSP's channel refuses the next post, then takes every one.
    let shared = &msp.chats[0].1;
    shared.reset().await;
    riskrelay_sim::testkit::answer(
        shared,
        SLACK_PATH,
        wiremock::ResponseTemplate::new(400).set_body_string("invalid_blocks"),
        Some(1),
        None,
    )
    .await;
    ok_slack(shared).await;
    msp.sims[0].set_consent(false);
    fleet.each(Job::Poll(None)).await.unwrap();
    assert_eq!(
        msp.status(0).await.consent,
        Consent::Granted,
        "not recorded as lost before it was said"
    );
    assert_eq!(
        msp.saying("shared", "lost access to a tenant").await,
        1,
        "the refused post"
    );
    for _ in 0..2 {
        fleet.each(Job::Poll(None)).await.unwrap();
    }
    assert_eq!(msp.status(0).await.consent, Consent::Lost);
    assert_eq!(
        msp.saying("shared", "lost access to a tenant").await,
        2,
        "the refused post and one that arrived, nothing more"
    );
}

/// A lapsed licence is not lost consent: the tenant's one message says which licence and asks for
/// no consent; a tenant that no longer exists is said as such; and a refusal every tenant shares
/// (AADSTS500011: Graph's resource is not in the tenant, as a wrong cloud or Graph root causes)
/// is one message about the deployment's setting, with no tenant marked as having lost access.
#[tokio::test]
async fn a_lapsed_licence_a_missing_tenant_and_a_deployment_wide_error_are_told_apart() {
    use riskrelay_sim::Fault;
    let msp = Msp::start(2, &["msp"]).await;
    msp.register(0, "Contoso", &[], None).await;
    msp.register(1, "Fabrikam", &[], None).await;
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    assert_eq!(msp.status(1).await.consent, Consent::Granted);

    // Fabrikam's Entra ID P2 lapses: Graph answers 403 with a licence code.
    msp.sims[1].fail(
        Fault::status("/identityProtection/", 403, usize::MAX)
            .with_code("Authentication_RequestFromNonPremiumTenantOrB2CTenant"),
    );
    for _ in 0..3 {
        fleet.each(Job::Poll(None)).await.unwrap();
    }
    let status = msp.status(1).await;
    assert_eq!(
        (status.consent, status.refusal),
        (Consent::Lost, Some(tenancy::Refusal::Licence))
    );
    assert_eq!(msp.saying("msp", "a licence is missing").await, 1);
    let texts = msp.texts("msp").await;
    assert!(
        texts.contains("Entra ID P2") && texts.contains("Fabrikam"),
        "{texts}"
    );
    assert_eq!(msp.saying("msp", "grant consent again").await, 0, "{texts}");
    assert_eq!(msp.status(0).await.consent, Consent::Granted);
    msp.sims[1].clear_faults();
    fleet.each(Job::Poll(None)).await.unwrap();
    assert_eq!(msp.status(1).await.consent, Consent::Granted);
    assert_eq!(msp.saying("msp", "has access to a tenant again").await, 1);

    // Every tenant's token endpoint says Graph's resource is not there: the deployment's setting.
    for sim in &msp.sims {
        sim.refuse_tokens(Some("AADSTS500011"));
    }
    let fresh = msp.fleet();
    for _ in 0..2 {
        fresh.each(Job::Poll(None)).await.unwrap();
    }
    assert_eq!(msp.saying("msp", "setting fails for every tenant").await, 1);
    assert!(msp.texts("msp").await.contains("RISKRELAY_GRAPH_ROOT"));
    for i in 0..2 {
        let s = msp.status(i).await;
        assert_eq!(s.consent, Consent::Granted, "tenant {i} kept its access");
        assert!(s.last_error.is_some_and(|e| e.contains("AADSTS500011")));
    }
    assert_eq!(msp.saying("msp", "lost access").await, 0);
    for sim in &msp.sims {
        sim.refuse_tokens(None);
    }
    msp.fleet().each(Job::Poll(None)).await.unwrap();
    assert_eq!(msp.saying("msp", "tenants answer again").await, 1);

    // Fabrikam is deleted: "not found", with the advice to remove it.
    msp.sims[1].refuse_tokens(Some("AADSTS90002"));
    let fresh = msp.fleet();
    fresh.each(Job::Poll(None)).await.unwrap();
    fresh.each(Job::Poll(None)).await.unwrap();
    let s = msp.status(1).await;
    assert_eq!(s.refusal, Some(tenancy::Refusal::TenantNotFound));
    assert_eq!(msp.saying("msp", "A tenant was not found").await, 1);
    assert!(msp.texts("msp").await.contains("riskrelay tenants remove"));
}

#[tokio::test]
async fn each_tenant_s_summary_follows_its_own_schedule() {
    let msp = Msp::start(3, &["shared"]).await;
    // The deployment posts no summary; Contoso wants one daily at 08:00, Fabrikam on Mondays.
    assert_eq!(msp.settings.summary, riskrelay::summary::Schedule::Off);
    msp.register(0, "Contoso", &[], None).await;
    msp.register(1, "Fabrikam", &[], None).await;
    msp.register(2, "Northwind", &[], None).await;
    for (i, schedule) in [(0, "08:00"), (1, "mon 08:00")] {
        let mut record = riskrelay::store::registry::load(msp.store.as_ref())
            .await
            .unwrap()
            .tenants[&msp.sims[i].tenant_id()]
            .clone();
        record.summary = Some(schedule.into());
        riskrelay::fleet::register(msp.store.as_ref(), record)
            .await
            .unwrap();
    }
    let fleet = msp.fleet();
    let asks = |at: time::OffsetDateTime| {
        let fleet = &fleet;
        async move {
            let mut asked = Vec::new();
            for (record, app) in fleet.tenants().await.unwrap() {
                if app.poller.ask_for_summary(at).await.unwrap() {
                    asked.push(record.unwrap().name);
                }
            }
            asked.sort();
            asked
        }
    };
    use time::macros::datetime;
    // Installed on a Thursday: nobody's first summary is at installation time.
    assert!(asks(datetime!(2026-12-03 10:00 UTC)).await.is_empty());
    // Friday 08:01: Contoso's daily summary is due, Fabrikam waits for Monday, Northwind never.
    assert_eq!(asks(datetime!(2026-12-04 08:01 UTC)).await, ["Contoso"]);
    assert_eq!(
        asks(datetime!(2026-12-07 08:01 UTC)).await,
        ["Contoso", "Fabrikam"]
    );
}

#[tokio::test]
async fn a_burst_across_tenants_reaches_a_shared_channel_as_one_digest_and_loses_no_one() {
    let mut msp = Msp::start(12, &["shared"]).await;
    msp.settings.alerts.digest_threshold = 5;
    for i in 0..12 {
        msp.register(i, &format!("Customer {i:02}"), &[], None)
            .await;
    }
    let fleet = msp.fleet();
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap()); // the baselines
    let before = msp.posts("shared").await.len();
    // One user at risk in every customer at once: a spray across customers.
    for (i, sim) in msp.sims.iter().enumerate() {
        at_risk(
            sim,
            100 + i as u128,
            &format!("Victim {i:02}"),
            &format!("victim{i:02}"),
        );
    }
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    let posts: Vec<String> = msp.posts("shared").await.split_off(before);
    // Without gathering: twelve posts a second apart. Gathered: the first alone, the rest
    // folded while it held Slack's pace.
    assert!(posts.len() <= 4, "{} posts: {posts:#?}", posts.len());
    let digest = posts
        .iter()
        .find(|p| p.contains("user risk changes across"))
        .expect("a digest across tenants");
    assert!(digest.contains("[Customer "), "{digest}");
    // Every victim is in the channel exactly once, alone or in the digest.
    for i in 0..12 {
        let name = format!("Victim {i:02}");
        assert_eq!(
            posts.iter().filter(|p| p.contains(&name)).count(),
            1,
            "{name}: {posts:#?}"
        );
    }
    // Each tenant's delivery records hold: a second cycle posts nothing again.
    all_ok(&fleet.each(Job::Poll(None)).await.unwrap());
    assert_eq!(msp.posts("shared").await.len(), before + posts.len());
}
