//! Slack's interactivity Request URL on the real HTTP server: a click Slack signed (by slack_sdk's
//! own signer) is acknowledged with 200; a tampered, stale or unsigned one gets 401 and one log
//! line without its body.

use std::process::Command;
use std::sync::Arc;

use riskrelay::actions::slack::{PATH, SlackInteractions};
use riskrelay::config::{Env, EnvSecrets};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// The `X-Slack-Signature` slack_sdk makes for `body` at `timestamp`.
fn slack_signs(timestamp: &str, body: &[u8]) -> String {
    let root = riskrelay_sim::testkit::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let out = Command::new(riskrelay_sim::testkit::tools_python())
        .arg(root.join("tools/validators/slack_sign.py"))
        .args([SECRET, timestamp])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn signed_clicks_are_acknowledged_and_tampered_stale_or_unsigned_ones_refused() {
    let env = Env::from_pairs([("RISKRELAY_SLACK_SIGNING_SECRET", SECRET)]);
    let app = SlackInteractions::load(&EnvSecrets(&env), riskrelay::clock::system())
        .unwrap()
        .expect("configured");
    assert!(
        !format!("{app:?}").contains(SECRET),
        "Debug shows no secret"
    );
    let listener = riskrelay::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(riskrelay::server::serve(listener, Arc::new(app), async {
        let _ = stopped.await;
    }));
    let logs = riskrelay_sim::testkit::LogCapture::start();
    let client = reqwest::Client::new();
    // A URL button's click, form-encoded as Slack sends it.
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U0123"},
        "actions": [{"action_id": "link-0", "type": "button", "value": "secret-looking-value-42"}]
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let post = |ts: String, sig: Option<String>, body: String| {
        let mut req = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .body(body);
        if let Some(sig) = sig {
            req = req.header("x-slack-signature", sig);
        }
        req.send()
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let signed = slack_signs(&now, body.as_bytes());

    let res = post(now.clone(), Some(signed.clone()), body.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().is_empty());

    let tampered = body.replace("U0123", "U9999");
    let res = post(now.clone(), Some(signed.clone()), tampered)
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "tampered");
    // Signed correctly by Slack's signer, but six minutes ago: a replay.
    let old = (time::OffsetDateTime::now_utc().unix_timestamp() - 360).to_string();
    let stale = slack_signs(&old, body.as_bytes());
    let res = post(old, Some(stale), body.clone()).await.unwrap();
    assert_eq!(res.status(), 401, "stale");
    let res = post(now.clone(), None, body.clone()).await.unwrap();
    assert_eq!(res.status(), 401, "unsigned");
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 405);

    let text = logs.text();
    assert_eq!(
        text.matches("a Slack interaction acknowledged").count(),
        1,
        "{text}"
    );
    assert!(text.contains("block_actions"), "{text}");
    for why in [
        "does not match",
        "more than five minutes",
        "no Slack signature",
    ] {
        assert_eq!(text.matches(why).count(), 1, "one line each: {text}");
    }
    assert!(
        !text.contains("secret-looking-value-42")
            && !text.contains("U9999")
            && !text.contains(SECRET),
        "no body or secret in the log: {text}"
    );
}

#[test]
fn no_secret_no_endpoint_and_a_bad_one_is_a_clear_error() {
    let none = Env::from_pairs::<&str, &str>([]);
    assert!(
        SlackInteractions::load(&EnvSecrets(&none), riskrelay::clock::system())
            .unwrap()
            .is_none()
    );
    let bad = Env::from_pairs([("RISKRELAY_SLACK_SIGNING_SECRET", "short")]);
    let err = SlackInteractions::load(&EnvSecrets(&bad), riskrelay::clock::system())
        .unwrap_err()
        .to_string();
    assert!(err.contains("RISKRELAY_SLACK_SIGNING_SECRET"), "{err}");
    assert!(!err.contains("short\""), "the value is not quoted: {err}");
}

/// The Slack app manifest the repository ships, field by field (Slack publishes no JSON schema for
/// manifests, only its reference page and its SDKs' types): incoming webhooks on, the only scope
/// theirs, and interactivity pointing at this endpoint.
#[test]
fn the_shipped_slack_app_manifest_asks_for_webhooks_and_points_interactivity_here() {
    let path = riskrelay_sim::testkit::repo_root().join("infra/slack/app-manifest.json");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let known = [
        "_metadata",
        "display_information",
        "features",
        "oauth_config",
        "settings",
    ];
    for key in m.as_object().unwrap().keys() {
        assert!(
            known.contains(&key.as_str()),
            "a top-level key Slack does not know: {key}"
        );
    }
    let name = m["display_information"]["name"].as_str().unwrap();
    // Slack's limits: a name of at most 35 characters, a description of at most 140.
    assert!(!name.is_empty() && name.chars().count() <= 35);
    let description = m["display_information"]["description"].as_str().unwrap();
    assert!(description.chars().count() <= 140);
    let colour = m["display_information"]["background_color"]
        .as_str()
        .unwrap();
    assert!(colour.len() == 7 && colour.starts_with('#'), "{colour}");
    assert_eq!(
        m["oauth_config"]["scopes"]["bot"],
        serde_json::json!(["incoming-webhook"])
    );
    assert_eq!(
        m["settings"]["incoming_webhooks"]["incoming_webhooks_enabled"],
        true
    );
    assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
    let url = url::Url::parse(
        m["settings"]["interactivity"]["request_url"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!((url.scheme(), url.path()), ("https", PATH));
    assert_eq!(
        m["settings"]["socket_mode_enabled"], false,
        "Slack calls the URL"
    );
    assert!(
        m["features"]["bot_user"]["display_name"]
            .as_str()
            .unwrap()
            .len()
            <= 80
    );
    // The walkthrough names the file.
    let docs =
        std::fs::read_to_string(riskrelay_sim::testkit::repo_root().join("docs/destinations.md"))
            .unwrap();
    assert!(docs.contains("infra/slack/app-manifest.json"));
}
