//! The Graph client against the simulated tenant and against wiremock for exact faults.

use std::time::Duration;

use riskrelay::context::Lookup;
use riskrelay::graph::config::{AppSecret, GraphConfig, GraphCredential};
use riskrelay::graph::{Feature, GraphClient, GraphError};
use riskrelay::ids::UserId;
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};
use riskrelay_sim::testkit::fast_retry;
use riskrelay_sim::{DetectionSpec, Fault, SimConfig, SimUser, Simulator};
use secrecy::SecretString;
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client for `config` that retries quickly.
pub fn client(config: &GraphConfig) -> GraphClient {
    let mut config = config.clone();
    config.retry = fast_retry(config.retry.max_attempts);
    GraphClient::new(&config).unwrap()
}

fn user_id(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(
        0xa000_0000_0000_4000_8000_0000_0000_0000 + n,
    ))
}

/// A config whose Graph root and authority are a wiremock server, with a static token.
fn wiremock_config(server: &MockServer) -> GraphConfig {
    GraphConfig {
        tenant_id: riskrelay::ids::TenantId::parse(riskrelay_sim::testkit::TENANT).unwrap(),
        authority_host: server.uri().parse().unwrap(),
        graph_root: server.uri().parse().unwrap(),
        credential: GraphCredential::AccessToken(SecretString::from("static-test-token")),
        identity_protection_rps: 1.0,
        request_timeout: Duration::from_millis(500),
        retry: fast_retry(4),
        batch_concurrency: 1,
        admin_center: Default::default(),
    }
}

fn since() -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::hours(1)
}

#[tokio::test]
async fn client_secret_tokens_are_fetched_once_and_cached() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let graph = client(&sim.graph_config());
    graph.risky_users_changed_since(since()).await.unwrap();
    graph.identity_protection_policy().await.unwrap();
    assert_eq!(sim.tokens_issued(), 1);
}

/// A token endpoint that echoes the request it refused, as some proxies and error pages do.
struct EchoingTokenEndpoint;

impl wiremock::Respond for EchoingTokenEndpoint {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let echoed = String::from_utf8_lossy(&req.body).replace('"', "'");
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": format!("AADSTS900144: the request could not be read: {echoed}"),
        }))
    }
}

/// What a failed token request said, in its error and in the log, against a token endpoint that
/// answers with `endpoint`.
async fn token_refusal(endpoint: impl wiremock::Respond + 'static, secret: AppSecret) -> String {
    let logs = riskrelay_sim::testkit::LogCapture::start();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(endpoint)
        .mount(&server)
        .await;
    let mut config = wiremock_config(&server);
    config.credential = GraphCredential::App {
        client_id: uuid::Uuid::from_u128(7),
        secret,
    };
    let err = client(&config)
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    format!("{err} {err:?} {}", logs.text())
}

#[tokio::test]
async fn a_token_endpoint_that_echoes_the_request_leaks_no_secret() {
    let secret = "s3cr3t+v@lue/with=chars";
    let text = token_refusal(
        EchoingTokenEndpoint,
        AppSecret::ClientSecret(SecretString::from(secret)),
    )
    .await;
    assert!(
        text.contains("AADSTS900144"),
        "the upstream's words stay: {text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
    let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for form in [secret, encoded.as_str(), "s3cr3t"] {
        assert!(!text.contains(form), "{form} leaked: {text}");
    }
}

/// The same, when the echo percent-encodes in lower case (`%7e`), when it comes from the
/// certificate's signed client assertion, and when the sign-in's error text is cut short: no
/// form of the secret survives.
#[tokio::test]
async fn a_token_echo_leaks_no_secret_in_lower_case_escapes_nor_a_client_assertion() {
    struct LowerCaseEcho;
    impl wiremock::Respond for LowerCaseEcho {
        fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
            // Re-encode the form's escapes in lower case, as some proxies do.
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let mut echoed = String::new();
            let mut chars = body.chars().peekable();
            while let Some(c) = chars.next() {
                echoed.push(c);
                if c == '%' {
                    for _ in 0..2 {
                        if let Some(h) = chars.next() {
                            echoed.push(h.to_ascii_lowercase());
                        }
                    }
                }
            }
            ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_request",
                "error_description": format!("AADSTS900144: could not read: {echoed}"),
            }))
        }
    }
    let text = token_refusal(
        LowerCaseEcho,
        AppSecret::ClientSecret(SecretString::from("Ab~cD~eF/gH+iJ?kL=mN")),
    )
    .await;
    assert!(
        text.contains("%7e") || text.contains("[redacted]"),
        "{text}"
    );
    for leaked in ["Ab~cD", "Ab%7ecD", "Ab%7EcD", "eF%2fgH", "iJ%3fkL"] {
        assert!(!text.contains(leaked), "{leaked} leaked: {text}");
    }

    // The certificate's signed assertion, echoed: minted per request, so it is matched as a
    // signed JWT.
    let pem = std::fs::read_to_string(format!(
        "{}/tests/fixtures/graph-app-cert.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let text = token_refusal(
        LowerCaseEcho,
        AppSecret::Certificate(SecretString::from(pem)),
    )
    .await;
    assert!(text.contains("client_assertion="), "{text}");
    assert!(!text.contains("client_assertion=eyJ"), "{text}");
}

#[tokio::test]
async fn invalid_client_surfaces_as_a_clear_message() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut config = sim.graph_config();
    if let GraphCredential::App { secret, .. } = &mut config.credential {
        *secret = AppSecret::ClientSecret(SecretString::from("wrong-secret"));
    }
    let err = client(&config)
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GraphError::Auth(_)), "{err:?}");
    assert!(
        text.starts_with("could not get a Graph token") && text.contains("AADSTS7000215"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn certificate_credential_signs_a_verifiable_assertion() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{}/oauth2/v2.0/token", riskrelay_sim::testkit::TENANT)))
        .and(body_string_contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "cert-token"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/beta/identityProtection/policy"))
        .and(header("authorization", "Bearer cert-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"isUserRiskClearedOnPasswordReset": true})),
        )
        .mount(&server)
        .await;
    let mut config = wiremock_config(&server);
    let pem = std::fs::read_to_string(format!(
        "{}/tests/fixtures/graph-app-cert.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let client_id = uuid::Uuid::from_u128(42);
    config.credential = GraphCredential::App {
        client_id,
        secret: AppSecret::Certificate(SecretString::from(pem)),
    };
    let policy = client(&config).identity_protection_policy().await.unwrap();
    assert_eq!(policy.on_prem_reset_enabled(), Some(true));

    // The assertion verifies with the certificate's public key and names the app and endpoint.
    let requests = server.received_requests().await.unwrap();
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    let assertion = &form["client_assertion"];
    let public = std::fs::read(format!(
        "{}/tests/fixtures/graph-app-public-key.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // The audience is checked below: it names the token endpoint the assertion was made for.
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation).unwrap();
    assert_eq!(data.claims["iss"], json!(client_id.to_string()));
    assert_eq!(data.claims["sub"], json!(client_id.to_string()));
    assert!(data.claims["aud"].as_str().unwrap().ends_with(&format!(
        "/{}/oauth2/v2.0/token",
        riskrelay_sim::testkit::TENANT
    )));
    assert!(data.header.x5t_s256.is_some() && data.header.x5t.is_some());
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn a_static_token_is_sent_as_is() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.accept_static_token("token-from-elsewhere");
    let mut config = sim.graph_config();
    config.credential = GraphCredential::AccessToken(SecretString::from("token-from-elsewhere"));
    client(&config)
        .risky_users_changed_since(since())
        .await
        .unwrap();
    assert_eq!(sim.tokens_issued(), 0);
    assert!(!format!("{:?}", client(&config)).contains("token-from-elsewhere"));
}

/// The point of the Graph client: reads cost one request per page, not per user.
#[tokio::test]
async fn a_thousand_changed_users_cost_eight_identity_protection_requests() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..1000u128 {
        let id = sim.add_user(SimUser::new(
            user_id(n),
            &format!("User {n}"),
            &format!("user{n}"),
        ));
        sim.set_risk(id, RiskLevel::Medium, RiskState::AtRisk, RiskDetail::None);
        for _ in 0..3 {
            sim.add_detection(
                id,
                DetectionSpec::new(
                    "passwordSpray",
                    "signin",
                    RiskLevel::Medium,
                    DetectionTimingType::Offline,
                ),
            );
        }
        ids.push(id);
    }
    // Graph's real rule: identity-protection requests closer than 1 s apart get a 429.
    sim.enforce_rate_limit(true);
    sim.clear_requests();
    let graph = client(&sim.graph_config());

    let users = graph.risky_users_changed_since(since()).await.unwrap();
    let detections = graph.risk_detections_changed_since(since()).await.unwrap();
    let contexts = graph.user_contexts(&ids).await;

    assert_eq!(
        (users.len(), detections.len(), contexts.len()),
        (1000, 3000, 1000)
    );
    assert!(contexts.values().all(|c| matches!(c, Lookup::Found(_))));
    let requests = sim.requests();
    let ip: Vec<_> = requests
        .iter()
        .filter(|r| r.is_identity_protection())
        .collect();
    let batches = requests.iter().filter(|r| r.path == "/v1.0/$batch").count();
    assert_eq!(ip.len(), 8, "2 pages of users + 6 pages of detections");
    assert!(
        ip.iter().all(|r| r.status == 200),
        "the limiter kept every request under Graph's 1 per second"
    );
    assert!(ip.iter().all(|r| r.prefer_unknown_enums));
    assert_eq!(batches, 50, "1,000 users / 20 per $batch");
    assert_eq!(graph.counts().identity_protection, 8);
    assert_eq!(graph.counts().directory, 50);
}

#[tokio::test]
async fn paging_follows_next_links_and_tolerates_odd_items() {
    let sim = Simulator::start(SimConfig {
        max_page: 7,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    for n in 0..30 {
        let id = sim.add_user(SimUser::new(user_id(n), "U", "u"));
        sim.set_risk(id, RiskLevel::Low, RiskState::AtRisk, RiskDetail::None);
    }
    sim.clear_requests();
    let users = client(&sim.graph_config())
        .risky_users_changed_since(since())
        .await
        .unwrap();
    assert_eq!(users.len(), 30);
    let mut got: Vec<_> = users.iter().map(|u| u.id).collect();
    got.dedup();
    assert_eq!(got.len(), 30);
    assert_eq!(sim.requests().len(), 5, "ceil(30 / 7) pages");
}

#[tokio::test]
async fn a_foreign_next_link_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [],
            "@odata.nextLink": "https://evil.example/v1.0/identityProtection/riskyUsers?$skiptoken=1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&wiremock_config(&server))
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::ForeignNextLink {
                feature: Feature::RiskyUsers
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_next_link_that_comes_back_is_stopped_after_one_repeat() {
    let server = MockServer::start().await;
    let looping = format!(
        "{}/v1.0/identityProtection/riskyUsers?$skiptoken=loop",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .and(wiremock::matchers::query_param("$skiptoken", "loop"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": [], "@odata.nextLink": looping.clone()})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": [], "@odata.nextLink": looping})),
        )
        .mount(&server)
        .await;
    let err = client(&wiremock_config(&server))
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::Paging { detail, .. } if detail.contains("repeats")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "the first page and the looping one, then stop"
    );
}

#[tokio::test]
async fn a_huge_retry_after_fails_the_request_at_once_and_holds_nobody_back() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "100000"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&server)
        .await;
    let graph = client(&wiremock_config(&server));
    let started = std::time::Instant::now();
    let err = graph.risky_users_changed_since(since()).await.unwrap_err();
    assert!(matches!(err, GraphError::Throttled { .. }), "{err:?}");
    // The next identity-protection request is not held back by the refused wait.
    graph.risky_users_changed_since(since()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // In production riskrelay honours at most two minutes.
    assert_eq!(
        riskrelay::graph::config::retry_policy(5).max_retry_after,
        Duration::from_secs(120)
    );
}

#[tokio::test]
async fn throttling_with_and_without_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    client(&wiremock_config(&server))
        .risky_users_changed_since(since())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );

    // Identity protection's 429s carry no Retry-After: exponential backoff, then success.
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.fail(Fault::status("/identityProtection/riskDetections", 429, 2));
    client(&sim.graph_config())
        .risk_detections_changed_since(since())
        .await
        .unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 200]);

    // Throttled beyond the attempt budget: a retryable error, not a hang.
    sim.fail(Fault::status("/identityProtection/riskDetections", 429, 10));
    let err = client(&sim.graph_config())
        .risk_detections_changed_since(since())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Throttled { .. }) && err.is_retryable(),
        "{err:?}"
    );
}

#[tokio::test]
async fn three_503s_then_success() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.fail(Fault::status("/identityProtection/riskyUsers", 503, 3));
    client(&sim.graph_config())
        .risky_users_changed_since(since())
        .await
        .unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 503, 200]);
}

#[tokio::test]
async fn a_timeout_is_a_retryable_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/identityProtection/riskyUsers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": []}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut config = wiremock_config(&server);
    config.retry.max_attempts = 2;
    let err = client(&config)
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Timeout { .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_malformed_body_is_a_clear_non_retryable_error() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.fail(Fault {
        method: None,
        path_contains: "/identityProtection/riskyUsers".into(),
        times: 1,
        reply: riskrelay_sim::FaultReply::Malformed,
    });
    let err = client(&sim.graph_config())
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Malformed { .. }) && !err.is_retryable(),
        "{err:?}"
    );
    assert!(err.to_string().contains("risky-user reads"));
}

#[tokio::test]
async fn a_user_who_was_never_risky_is_none_not_an_error() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    assert_eq!(
        client(&sim.graph_config())
            .risky_user(user_id(7))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_missing_permission_names_it() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.fail(Fault::status("/identityProtection/riskyUsers", 403, 1));
    let err = client(&sim.graph_config())
        .risky_users_changed_since(since())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Graph refused risky-user reads (403 Authorization_RequestDenied): the app needs the IdentityRiskyUser.Read.All permission"
    );
    assert_eq!(sim.requests().len(), 1, "a 403 is not retried");
}

#[tokio::test]
async fn detections_without_risk_reasons_and_unknown_enum_values() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let id = sim.add_user(SimUser::new(user_id(1), "Adsync User 2", "adsync2").synced());
    sim.add_detection(id, DetectionSpec::leaked_credentials());
    sim.add_detection(
        id,
        DetectionSpec::new(
            "someDetectionFrom2027",
            "user",
            RiskLevel::High,
            DetectionTimingType::Unknown("eventually".into()),
        ),
    );
    sim.set_risk(
        id,
        RiskLevel::None,
        RiskState::Remediated,
        RiskDetail::UserChangedPasswordOnPremises,
    );
    let graph = client(&sim.graph_config());

    let user = graph.risky_user(id).await.unwrap().unwrap();
    assert_eq!(
        user.risk_detail,
        RiskDetail::UserChangedPasswordOnPremises,
        "read as itself, not unknownFutureValue"
    );
    let detections = graph.user_detections(id, since()).await.unwrap();
    assert_eq!(detections.len(), 2);
    assert!(detections[0].risk_reasons().is_empty());
    assert_eq!(
        detections[1].detection_timing_type,
        DetectionTimingType::Unknown("eventually".into())
    );
    assert!(
        sim.requests().iter().all(|r| r.prefer_unknown_enums),
        "every identity-protection read sends the Prefer header"
    );

    // Without the header Graph hides the member: the reason riskrelay always sends it.
    let token = format!("Bearer {}", "sim-raw");
    sim.accept_static_token("sim-raw");
    let raw: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}v1.0/identityProtection/riskyUsers/{id}",
            sim.url()
        ))
        .header("authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["riskDetail"], "unknownFutureValue");
}

#[tokio::test]
async fn an_enrichment_outage_gives_up_once_not_once_per_batch() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let ids: Vec<UserId> = (0..60)
        .map(|n| {
            sim.add_user(SimUser::new(
                user_id(500 + n),
                &format!("U{n}"),
                &format!("u{n}"),
            ))
        })
        .collect();
    sim.fail(Fault::status("$batch", 503, 1_000));
    let config = sim.graph_config();
    let contexts = client(&config).user_contexts(&ids).await;
    assert_eq!(contexts.len(), 60);
    assert!(
        contexts
            .values()
            .all(|l| matches!(l, Lookup::Unavailable { reason } if reason.contains("503"))),
        "{contexts:?}"
    );
    let batches = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("$batch") && !r.inner)
        .count();
    assert_eq!(
        batches as u32, config.retry.max_attempts,
        "one chunk's attempts, then the other two chunks are not sent"
    );
}

/// The breaker holds for the rest of the cycle, not only one read: with `$batch` down, a cycle of
/// two pages (1,000 users) spends one chunk's retries on its first page and none on its second,
/// and each page's alerts still go out, saying the context is unavailable.
#[tokio::test]
async fn an_enrichment_outage_gives_up_once_per_cycle_not_once_per_page() {
    let t = riskrelay_sim::testkit::TestApp::start().await;
    t.ok_sinks().await;
    t.save_posture(OffsetDateTime::now_utc()).await;
    let worker = t.worker();
    let ids: Vec<UserId> = (0..1000u128)
        .map(|n| t.high_risk_user(3000 + n, &format!("Page User {n}"), &format!("page{n}")))
        .collect();
    t.sim.fail(Fault::status("$batch", 503, usize::MAX));
    let page = |ids: &[UserId]| -> Vec<_> {
        ids.iter()
            .map(|id| riskrelay_sim::testkit::polled(&t.sim, *id, "cycle-1"))
            .collect()
    };
    let batches = || {
        t.sim
            .requests()
            .iter()
            .filter(|r| r.path.contains("$batch") && !r.inner)
            .count()
    };
    let first = worker.process(&page(&ids[..500])).await;
    assert!(first.results.iter().all(Result::is_ok));
    let after_first = batches();
    // One chunk's attempts for each feature read in `$batch` (directory context, registration).
    let attempts = t.settings.graph.retry.max_attempts as usize;
    assert_eq!(
        after_first,
        2 * attempts,
        "one chunk's attempts per feature on the first page"
    );
    let second = worker.process(&page(&ids[500..])).await;
    assert!(second.results.iter().all(Result::is_ok));
    assert_eq!(
        batches(),
        after_first,
        "the second page sends no $batch at all"
    );
    let alerts = second
        .alerts
        .iter()
        .filter(|m| matches!(m, riskrelay::alert::Message::User(_)))
        .count();
    assert_eq!(alerts, 500, "its alerts still go out");
}

#[tokio::test]
async fn batch_handles_mixed_inner_statuses() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let ids: Vec<UserId> = (0..25)
        .map(|n| {
            sim.add_user(SimUser::new(user_id(n), &format!("U{n}"), &format!("u{n}")).synced())
        })
        .collect();
    let gone = user_id(999);
    // Two inner requests throttled with Retry-After, one failing with 503 once.
    sim.fail(Fault::status(&format!("/users/{}", ids[3]), 429, 1).with_retry_after(1));
    sim.fail(Fault::status(&format!("/users/{}", ids[21]), 429, 1).with_retry_after(1));
    sim.fail(Fault::status(&format!("/users/{}", ids[9]), 503, 1));
    let mut wanted = ids.clone();
    wanted.push(gone);
    let contexts = client(&sim.graph_config()).user_contexts(&wanted).await;
    assert_eq!(contexts.len(), 26);
    assert_eq!(contexts[&gone], Lookup::NotFound);
    for id in &ids {
        let c = contexts[id]
            .found()
            .unwrap_or_else(|| panic!("{id}: {:?}", contexts[id]));
        assert_eq!(c.on_premises_sync_enabled, Some(true));
    }
    let batches = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/v1.0/$batch")
        .count();
    assert_eq!(
        batches, 3,
        "two batches, then one retry batch for the three failed items"
    );
}

#[tokio::test]
async fn registration_403_switches_the_feature_off_naming_the_permission() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let id = sim.add_user(SimUser::new(user_id(1), "U", "u"));
    sim.fail(Fault::status("/userRegistrationDetails/", 403, 1));
    let graph = client(&sim.graph_config());
    let reg = graph.registrations(&[id]).await;
    let Lookup::Unavailable { reason } = &reg[&id] else {
        panic!("{reg:?}")
    };
    assert!(reason.contains("AuditLog.Read.All"), "{reason}");
    let before = sim.requests().len();
    let again = graph.registrations(&[id]).await;
    assert!(matches!(again[&id], Lookup::Unavailable { .. }));
    assert_eq!(
        sim.requests().len(),
        before,
        "no request while the feature is off"
    );
}

#[tokio::test]
async fn policy_patch_sends_exactly_the_one_member() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_setting(false);
    sim.set_policy_member("unifiedRiskSignals", json!({"enabledFor": ["all"]}));
    let graph = client(&sim.graph_config());
    graph.enable_on_prem_reset().await.unwrap();
    let patch = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.path, "/beta/identityProtection/policy");
    assert_eq!(
        serde_json::to_string(&patch.body.unwrap()).unwrap(),
        r#"{"isUserRiskClearedOnPasswordReset":true}"#
    );
    assert!(patch.prefer_unknown_enums);
    assert_eq!(sim.setting(), Some(true));
    assert_eq!(
        sim.policy()["unifiedRiskSignals"],
        json!({"enabledFor": ["all"]}),
        "other members untouched"
    );
}

#[tokio::test]
async fn organization_and_conditional_access_reads() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_ca_policies(vec![riskrelay_sim::scenario::user_risk_policy(
        "Require password change for high user risk",
        "enabled",
        &["high"],
        &["mfa", "riskRemediation"],
    )]);
    let graph = client(&sim.graph_config());
    let org = graph.organization().await.unwrap();
    assert_eq!(org.on_premises_sync_enabled, Some(true));
    assert!(org.on_premises_last_password_sync_date_time.is_some());
    let policies = graph.conditional_access_policies().await.unwrap();
    assert_eq!(
        policies[0]
            .grant_controls
            .as_ref()
            .unwrap()
            .built_in_controls,
        vec!["mfa", "riskRemediation"]
    );
}

#[tokio::test]
async fn directory_batches_run_concurrently_up_to_the_configured_number() {
    for concurrency in [1, 3] {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let ids: Vec<UserId> = (0..200u128)
            .map(|n| sim.add_user(riskrelay_sim::SimUser::new(user_id(n), "Batch", "batch")))
            .collect();
        sim.set_chaos(Some(riskrelay_sim::Chaos {
            rate: 0.0,
            batch_delay: Duration::from_millis(100),
        }));
        let mut config = sim.graph_config();
        config.batch_concurrency = concurrency;
        let contexts = client(&config).user_contexts(&ids).await;
        assert_eq!(contexts.len(), 200);
        assert!(
            contexts.values().all(|l| matches!(l, Lookup::Found(_))),
            "every user read"
        );
        assert_eq!(
            sim.most_batches_in_flight(),
            concurrency,
            "ten batches, at most {concurrency} at a time"
        );
    }
}
