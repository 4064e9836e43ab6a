//! Secrets Manager against moto: the one JSON secret, missing keys, TTL, and an outage.

use std::time::Duration;

use riskrelay::client_state::ClientStates;
use riskrelay::config::Env;
use riskrelay::deliver::AlertsConfig;
use riskrelay::graph::config::GraphConfig;
use riskrelay::secrets::SecretCache;

use riskrelay_sim::testkit::{aws_config, unique};

async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&aws_config().await)
}

async fn create(client: &aws_sdk_secretsmanager::Client, value: serde_json::Value) -> String {
    let name = unique("riskrelay/test");
    client
        .create_secret()
        .name(&name)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    name
}

fn env() -> Env {
    Env::default()
        .with("RISKRELAY_TENANT_ID", riskrelay_sim::testkit::TENANT)
        .with(
            "RISKRELAY_CLIENT_ID",
            "22222222-3333-4444-5555-666666666666",
        )
}

#[tokio::test]
async fn one_secret_configures_graph_client_state_and_sinks() {
    let sm = client().await;
    let id = create(
        &sm,
        serde_json::json!({
            "graph_client_secret": "s3cret-graph",
            "client_state": "s3cret-state",
            "slack_webhook_url": "https://hooks.slack.com/services/T/B/s3cret",
        }),
    )
    .await;
    let secrets = SecretCache::new(sm, &id, Duration::from_secs(300))
        .get()
        .await
        .unwrap();
    let graph = GraphConfig::load(&env(), &secrets).unwrap();
    let states = ClientStates::load(&secrets).unwrap();
    let alerts = AlertsConfig::load(&env(), &secrets).unwrap();
    assert!(states.matches("s3cret-state"));
    assert_eq!(alerts.sinks.len(), 1);
    let debug = format!("{graph:?} {states:?} {alerts:?} {secrets:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[tokio::test]
async fn a_missing_key_names_itself() {
    let sm = client().await;
    let id = create(&sm, serde_json::json!({"graph_client_secret": "x"})).await;
    let secrets = SecretCache::new(sm, &id, Duration::from_secs(300))
        .get()
        .await
        .unwrap();
    let err = ClientStates::load(&secrets).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("key \"client_state\" of secret {id} is not set")),
        "{err}"
    );
}

#[tokio::test]
async fn a_changed_secret_is_read_again_after_the_ttl() {
    let sm = client().await;
    let id = create(&sm, serde_json::json!({"client_state": "first"})).await;
    let cache = SecretCache::new(sm.clone(), &id, Duration::from_millis(300));
    let first = cache.get().await.unwrap();
    sm.put_secret_value()
        .secret_id(&id)
        .secret_string(serde_json::json!({"client_state": "second"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        cache.get().await.unwrap().fingerprint(),
        first.fingerprint(),
        "cached within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = cache.get().await.unwrap();
    assert_ne!(second.fingerprint(), first.fingerprint());
    assert!(ClientStates::load(&second).unwrap().matches("second"));
}

#[tokio::test]
async fn an_unknown_secret_or_an_outage_is_a_clear_error() {
    let err = SecretCache::new(
        client().await,
        "riskrelay/does-not-exist",
        Duration::from_secs(1),
    )
    .get()
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not read secret riskrelay/does-not-exist"),
        "{err}"
    );

    let down = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let err = SecretCache::new(
        aws_sdk_secretsmanager::Client::new(&down),
        "riskrelay/prod",
        Duration::from_secs(1),
    )
    .get()
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not read secret riskrelay/prod"),
        "{err}"
    );
}
