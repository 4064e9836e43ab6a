//! Acting from an alert: the signed links on a delivered Slack alert, the action pages, Entra
//! sign-in against the simulated tenant (authorization code + PKCE, ID tokens signed with its
//! published key), the action taken with the analyst's own token, the follow-up message and the
//! next alert that recalls it — and every way in that must change nothing.
//!
//! riskrelay's pages are driven through the app itself (`HttpApp::handle`), the simulated
//! sign-in over HTTP, by a small cookie-keeping client standing in for the browser. The real
//! browser run of the same flow is `tools/browser/actions.py`.

use riskrelay::action_link::{ActionKind, ActionLink, ActionsConfig};
use riskrelay::app::ServiceParts;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::risk::{RiskLevel, RiskState};
use riskrelay_sim::browser::{Answer, Browser, csrf};

use riskrelay_sim::testkit::{LogCapture, TestApp, received_json};

const PUBLIC: &str = "http://127.0.0.1:18443";
const LINK_KEY: &str = "0123456789abcdef0123456789abcdef";

/// A browser on the app's action pages, asserting the security headers on every answer of
/// riskrelay's.
pub(crate) fn browser(app: &ServiceParts) -> Browser {
    Browser::new(app.actions.clone().expect("actions are configured"), PUBLIC).unwrap()
}

async fn open(b: &mut Browser, url: &str) -> Answer {
    request(b, "GET", url, None).await
}

async fn request(b: &mut Browser, method: &str, url: &str, form: Option<&str>) -> Answer {
    let ours = url.starts_with('/') || url.starts_with(PUBLIC);
    let answer = b.request(method, url, form).await.unwrap();
    if ours {
        for (name, v) in [
            ("content-security-policy", "frame-ancestors 'none'"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ] {
            let got = answer.headers.get(name).unwrap().to_str().unwrap();
            assert!(got.contains(v), "{name}: {got}");
        }
    }
    answer
}

pub(crate) fn actions_config(actions: &str) -> ActionsConfig {
    let e = Env::default()
        .with("RISKRELAY_ACTIONS", actions)
        .with("RISKRELAY_PUBLIC_URL", PUBLIC)
        .with("RISKRELAY_ACTION_LINK_KEY", LINK_KEY);
    ActionsConfig::load(&e, &EnvSecrets(&e)).unwrap().unwrap()
}

/// A tenant past its baseline whose user Adele is at high risk, and the new-risk alert about her
/// delivered to Slack with its buttons.
async fn rig() -> (
    TestApp,
    ServiceParts,
    riskrelay::ids::UserId,
    serde_json::Value,
) {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    t.settings.actions = Some(actions_config("confirm,dismiss,revoke,snooze"));
    let app = t.build::<ServiceParts>(None);
    let poller = app.poller.clone();
    poller.poll().await.unwrap();
    let user = t.high_risk_user(1, "Adele Vance", "adelev@contoso.com");
    poller.poll().await.unwrap();
    let alert = received_json(&t.slack)
        .await
        .into_iter()
        .find(|p| p.to_string().contains("adelev@contoso.com"))
        .expect("the new-risk alert");
    (t, app, user, alert)
}

/// A Slack payload's buttons: (label, URL).
pub(crate) fn buttons(payload: &serde_json::Value) -> Vec<(String, String)> {
    payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().iter())
        .map(|e| {
            (
                e["text"]["text"].as_str().unwrap().to_string(),
                e["url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The URL of the button labelled `label` on a Slack payload.
pub(crate) fn button(payload: &serde_json::Value, label: &str) -> String {
    buttons(payload)
        .into_iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no {label} button in {payload}"))
        .1
}

/// Opens `link` (a landing page offering sign-in), then signs in as the simulated analyst `n`.
async fn sign_in(b: &mut Browser, link: &str, n: usize) -> (Answer, Vec<String>) {
    let landing = open(b, link).await;
    assert_eq!(landing.status, 200, "{}", landing.body);
    assert!(landing.body.contains("Sign in with Microsoft"));
    b.sign_in(link, n).await.unwrap()
}

/// The follow-up messages among posts: "Confirmed compromised by …".
fn follow_ups(posts: Vec<serde_json::Value>) -> usize {
    posts
        .into_iter()
        .filter(|p| p.to_string().contains("Confirmed compromised by"))
        .count()
}

pub(crate) fn token(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

#[tokio::test]
async fn an_analyst_confirms_a_compromise_from_the_alert_and_the_channel_hears_it_once() {
    let logs = LogCapture::start();
    let (t, app, user, alert) = rig().await;
    // Every action as a link button on the alert, each signed for this user and alert.
    for &a in ActionKind::offered(None) {
        let url = button(&alert, a.label());
        assert!(url.starts_with(&format!("{PUBLIC}/actions/v1.")), "{url}");
        let link = ActionLink::verify(
            token(&url),
            &actions_config("confirm").key,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        assert_eq!((link.user, link.action), (user, a));
    }
    let confirm = button(&alert, "Confirm compromised");
    let mut b = browser(&app);

    // A link scanner opens it first: a page, nothing changed, nothing stored.
    let scanner = open(&mut b.fresh(), &confirm).await;
    assert_eq!(scanner.status, 200);
    assert!(
        scanner.body.contains("Confirm compromised?")
            && scanner.body.contains("Nothing is done until you confirm")
    );
    assert_eq!(
        t.sim.risky_user(user).unwrap().risk_state,
        RiskState::AtRisk
    );

    let (page, visited) = sign_in(&mut b, &confirm, 0).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("secops@contoso.com"), "{}", page.body);
    assert!(
        page.body.contains("high · atRisk"),
        "the live risk: {}",
        page.body
    );
    let callback = visited
        .iter()
        .find(|u| u.contains("/actions/callback"))
        .unwrap()
        .clone();

    // The same sign-in answer again (a replayed state and code): refused.
    let replay = open(&mut b, &callback).await;
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("already used"), "{}", replay.body);

    // The form without its CSRF token, with a wrong one, and from a browser without the
    // session: refused, nothing changed.
    for (same_browser, form) in [
        (true, "".to_string()),
        (true, "csrf=forged".into()),
        (false, format!("csrf={}", csrf(&page.body).unwrap())),
    ] {
        let mut client = b.fresh();
        if same_browser {
            client.cookies = b.cookies.clone();
        }
        let res = request(
            &mut client,
            "POST",
            &format!("/actions/{}", token(&confirm)),
            Some(&form),
        )
        .await;
        assert_eq!(res.status, 403, "{form}: {}", res.body);
    }
    assert_eq!(
        t.sim.risky_user(user).unwrap().risk_state,
        RiskState::AtRisk
    );
    assert!(t.sim.analyst_actions().is_empty());

    // Confirm: a silent second sign-in for the same analyst, the action with their token.
    let form = format!("csrf={}", csrf(&page.body).unwrap());
    let posted = request(
        &mut b,
        "POST",
        &format!("/actions/{}", token(&confirm)),
        Some(&form),
    )
    .await;
    assert_eq!(posted.status, 303);
    assert!(
        posted.location.as_deref().unwrap().contains("prompt=none"),
        "{posted:?}"
    );
    let (done, _) = b.follow(posted).await.unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("Confirmed compromised") && done.body.contains("by secops@contoso.com"),
        "{}",
        done.body
    );
    let state = t.sim.risky_user(user).unwrap();
    assert_eq!(
        (state.risk_level, state.risk_state),
        (RiskLevel::High, RiskState::ConfirmedCompromised)
    );
    assert_eq!(
        t.sim.analyst_actions(),
        vec![(
            "secops@contoso.com".to_string(),
            "confirmCompromised".to_string(),
            user
        )]
    );

    // One follow-up message per destination, naming the analyst.
    assert_eq!(follow_ups(received_json(&t.slack).await), 1);
    assert_eq!(follow_ups(received_json(&t.teams).await), 1);

    // The next poll sees the compromise and says who confirmed it: the same story, not news.
    let before = received_json(&t.slack).await.len();
    app.poller.poll().await.unwrap();
    let mut posts = received_json(&t.slack).await;
    assert_eq!(posts.len(), before + 1, "one alert about the compromise");
    let last = posts.pop().unwrap().to_string();
    assert!(
        last.contains("Open user in Entra"),
        "a user alert, not the follow-up: {last}"
    );
    assert!(
        last.contains("Confirmed compromised by secops@contoso.com"),
        "the alert recalls the action: {last}"
    );
    assert!(
        !last.contains("\"Confirm compromised\""),
        "no confirm button once confirmed: {last}"
    );
    assert!(
        last.contains("\"Revoke sessions\""),
        "the other actions stay: {last}"
    );

    // Nothing secret in the logs: no access or ID token, no code, no link key.
    let text = logs.text();
    for secret in [
        "sim-user-",
        "simcode-",
        "eyJ",
        LINK_KEY,
        "simulated-client-secret",
    ] {
        assert!(!text.contains(secret), "{secret} in the logs:\n{text}");
    }
}

#[tokio::test]
async fn an_analyst_without_a_role_is_told_which_role_and_nothing_changes() {
    let (t, app, user, alert) = rig().await;
    let posts_before = t.posts().await;
    let mut b = browser(&app);
    // No directory role at all: the live read is refused, and the page names the read roles.
    let (page, _) = sign_in(&mut b, &button(&alert, "Dismiss user risk"), 1).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("Graph refused to show the user")
            && page.body.contains("Security Reader"),
        "{}",
        page.body
    );
    // A Security Reader reads the risk but may not change it: Graph's own least privileged role
    // (Security Administrator) and the portal's (Security Operator) are both named, and the
    // analyst is not told they lack a role they may hold.
    let mut b = browser(&app);
    let (page, _) = sign_in(&mut b, &button(&alert, "Dismiss user risk"), 2).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let form = format!("csrf={}", csrf(&page.body).unwrap());
    let posted = request(
        &mut b,
        "POST",
        &format!("/actions/{}", token(&button(&alert, "Dismiss user risk"))),
        Some(&form),
    )
    .await;
    let (refused, _) = b.follow(posted).await.unwrap();
    assert_eq!(refused.status, 403, "{}", refused.body);
    for words in [
        "Security Administrator",
        "Security Operator",
        "IdentityRiskyUser.ReadWrite.All",
    ] {
        assert!(refused.body.contains(words), "{words}: {}", refused.body);
    }
    assert!(!refused.body.contains("You need the Security Operator role"));
    assert_eq!(
        t.sim.risky_user(user).unwrap().risk_state,
        RiskState::AtRisk
    );
    assert!(t.sim.analyst_actions().is_empty());
    assert_eq!(t.posts().await, posts_before, "no follow-up message");
}

#[tokio::test]
async fn forged_expired_and_unoffered_links_are_refused_with_a_page() {
    let (t, app, user, alert) = rig().await;
    let confirm = button(&alert, "Confirm compromised");
    let mut b = browser(&app);
    let tok = token(&confirm);
    // One character of the signature changed.
    let mut tampered = tok.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let config = actions_config("confirm");
    let past = ActionLink {
        tenant: t.settings.tenant(),
        user,
        alert_key: "user/x".into(),
        action: ActionKind::Confirm,
        expires: time::OffsetDateTime::now_utc().unix_timestamp() - 1,
        workload: None,
    }
    .sign(&config.key);
    let other_key = ActionLink {
        tenant: t.settings.tenant(),
        user,
        alert_key: "user/x".into(),
        action: ActionKind::Confirm,
        expires: time::OffsetDateTime::now_utc().unix_timestamp() + 60,
        workload: None,
    }
    .sign(&riskrelay::action_link::LinkKey::new(&[7; 32]).unwrap());
    for (path, status, words) in [
        (
            format!("/actions/{tampered}"),
            400,
            "This link is not valid",
        ),
        (
            format!("/actions/signin/{tampered}"),
            400,
            "This link is not valid",
        ),
        (
            format!("/actions/{other_key}"),
            400,
            "This link is not valid",
        ),
        (format!("/actions/{past}"), 410, "This link has expired"),
        (
            format!("/actions/signin/{past}"),
            410,
            "This link has expired",
        ),
        (
            "/actions/nonsense".to_string(),
            400,
            "This link is not valid",
        ),
    ] {
        let res = open(&mut b, &path).await;
        assert_eq!(res.status, status, "{path}");
        assert!(res.body.contains(words), "{path}: {}", res.body);
        assert!(res.location.is_none());
    }
    assert!(b.cookies.is_empty(), "a bad link starts no session");
    assert_eq!(
        t.sim.risky_user(user).unwrap().risk_state,
        RiskState::AtRisk
    );
}

/// A form acts at most once: sent again after it acted, it shows what was done; sent three times
/// at once (three tabs, or a client replaying the session), one submission acts and the others
/// are told it is being taken or was done. One Graph action, one follow-up per destination.
#[tokio::test]
async fn a_form_acts_once_when_resubmitted_or_sent_three_times_at_once() {
    let (t, app, user, alert) = rig().await;
    let confirm = button(&alert, "Confirm compromised");
    let mut b = browser(&app);
    let (page, _) = sign_in(&mut b, &confirm, 0).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let form = format!("csrf={}", csrf(&page.body).unwrap());
    let action = format!("/actions/{}", token(&confirm));

    let mut tabs: Vec<_> = (0..3)
        .map(|_| {
            let mut tab = b.fresh();
            tab.cookies = b.cookies.clone();
            tab
        })
        .collect();
    let mut posted = Vec::new();
    for tab in &mut tabs {
        let p = request(tab, "POST", &action, Some(&form)).await;
        assert_eq!(p.status, 303, "{}", p.body);
        posted.push(p);
    }
    let [mut t1, mut t2, mut t3] = <[_; 3]>::try_from(tabs).ok().unwrap();
    let [p1, p2, p3] = <[_; 3]>::try_from(posted).unwrap();
    let (a, b2, c) = tokio::join!(t1.follow(p1), t2.follow(p2), t3.follow(p3));
    let ends: Vec<(u16, String)> = [a, b2, c]
        .into_iter()
        .map(|r| {
            let (answer, _) = r.unwrap();
            (answer.status, answer.body)
        })
        .collect();
    let acted = ends
        .iter()
        .filter(|(s, body)| *s == 200 && body.contains("Confirmed compromised"))
        .count();
    assert!(acted >= 1, "{ends:?}");
    for (status, body) in &ends {
        assert!(
            (*status == 200 && body.contains("Confirmed compromised"))
                || (*status == 409 && body.contains("This action is being taken")),
            "{status}: {body}"
        );
    }
    assert_eq!(t.sim.analyst_actions().len(), 1, "one Graph action");

    // The same form again, after it acted: the page says what was done; nothing is done again.
    let again = request(&mut t1, "POST", &action, Some(&form)).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.location.as_deref(), Some(action.as_str()));
    let (shown, _) = t1.follow(again).await.unwrap();
    assert!(
        shown.body.contains("Confirmed compromised"),
        "{}",
        shown.body
    );
    assert_eq!(t.sim.analyst_actions().len(), 1, "still one Graph action");
    assert_eq!(follow_ups(received_json(&t.slack).await), 1);
    assert_eq!(follow_ups(received_json(&t.teams).await), 1);
    assert_eq!(
        t.sim.risky_user(user).unwrap().risk_state,
        RiskState::ConfirmedCompromised
    );
}

/// Opening the sign-in link, as link scanners and preview bots do, stores nothing: 5,000 opens
/// leave the store as it was (the sign-in in flight lives in a sealed cookie), and a forged
/// answer to the callback stores nothing either.
#[tokio::test]
async fn five_thousand_sign_in_opens_store_nothing() {
    let (t, app, _user, alert) = rig().await;
    let confirm = button(&alert, "Confirm compromised");
    let before = t.store.keys();
    let mut scanner = browser(&app);
    for _ in 0..5_000 {
        let mut fresh = scanner.fresh();
        let res = open(&mut fresh, &format!("/actions/signin/{}", token(&confirm))).await;
        assert_eq!(res.status, 303);
        scanner = fresh;
    }
    // Its cookies replayed with a made-up answer: refused before anything is stored.
    let started = open(
        &mut scanner,
        &format!("/actions/signin/{}", token(&confirm)),
    )
    .await;
    let state = url::Url::parse(started.location.as_deref().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let forged = open(
        &mut scanner,
        &format!("/actions/callback?code=made-up&state={state}"),
    )
    .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert_eq!(t.store.keys(), before, "nothing stored");
}

#[tokio::test]
async fn a_code_redeemed_twice_is_refused() {
    let (_t, app, _user, alert) = rig().await;
    let confirm = button(&alert, "Confirm compromised");
    let mut b = browser(&app);
    let (_, visited) = sign_in(&mut b, &confirm, 0).await;
    let first = url::Url::parse(
        visited
            .iter()
            .find(|u| u.contains("/actions/callback"))
            .unwrap(),
    )
    .unwrap();
    let code = first
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // A new sign-in in the same browser, answered with the code of the first one.
    let started = open(&mut b, &format!("/actions/signin/{}", token(&confirm))).await;
    let entra = url::Url::parse(started.location.as_deref().unwrap()).unwrap();
    let state = entra
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = open(
        &mut b,
        &format!("/actions/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(res.status, 400);
    assert!(
        res.body.contains("Sign-in could not be completed"),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn with_an_action_group_only_its_members_may_act() {
    let mut t = TestApp::start().await;
    t.ok_sinks().await;
    let mut config = actions_config("revoke,snooze");
    config.group = Some(riskrelay_sim::signin::SOC_GROUP);
    t.settings.actions = Some(config.clone());
    let app = t.build::<ServiceParts>(None);
    let user = t.high_risk_user(3, "Lynne Robbins", "lynner@contoso.com");
    let link = config
        .button(
            t.settings.tenant(),
            user,
            "user/group-test",
            ActionKind::Snooze,
            time::OffsetDateTime::now_utc(),
        )
        .url;
    // The Security Operator is in the group: the confirm page.
    let mut b = browser(&app);
    let (page, _) = sign_in(&mut b, &link, 0).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Snooze 7 days?"), "{}", page.body);
    let done = b.confirm(&link, &page.body).await.unwrap();
    assert!(done.body.contains("Snoozed for 7 days"), "{}", done.body);
    let (snoozes, _) = riskrelay::features::snooze::load(t.store.as_ref(), t.settings.tenant())
        .await
        .unwrap();
    assert_eq!(snoozes.active.len(), 1);
    assert_eq!(snoozes.active[0].by, "secops@contoso.com");
    assert_eq!(snoozes.active[0].user_id, Some(user));

    // Another group configured: the same analyst is refused, nothing is stored.
    let mut other = config.clone();
    other.group = Some(uuid::Uuid::from_u128(7));
    t.settings.actions = Some(other);
    let app = t.build::<ServiceParts>(None);
    let mut b = browser(&app);
    let (page, _) = sign_in(&mut b, &link, 0).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("not in the group allowed to act"),
        "{}",
        page.body
    );
}

#[test]
fn actions_need_a_public_url_and_a_key_and_name_what_is_missing() {
    let e = Env::default().with("RISKRELAY_ACTIONS", "confirm");
    let err = ActionsConfig::load(&e, &EnvSecrets(&e))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("RISKRELAY_PUBLIC_URL is not set"), "{err}");
    let e = e.with("RISKRELAY_PUBLIC_URL", "https://riskrelay.contoso.com");
    let err = ActionsConfig::load(&e, &EnvSecrets(&e))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("RISKRELAY_ACTION_LINK_KEY is not set"),
        "{err}"
    );
    let short = e.clone().with("RISKRELAY_ACTION_LINK_KEY", "tooshort");
    let err = ActionsConfig::load(&short, &EnvSecrets(&short))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RISKRELAY_ACTION_LINK_KEY is invalid") && !err.contains("tooshort"),
        "{err}"
    );
    let bad = e.clone().with("RISKRELAY_ACTIONS", "confirm,delete");
    let err = ActionsConfig::load(&bad, &EnvSecrets(&bad))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"delete\" is not an action"), "{err}");
    let plain = e
        .clone()
        .with("RISKRELAY_PUBLIC_URL", "http://riskrelay.contoso.com");
    assert!(
        ActionsConfig::load(&plain, &EnvSecrets(&plain)).is_err(),
        "plain http off loopback"
    );
    // No link key, but a clientState: a key derived from it (not the clientState itself).
    let derived = e
        .clone()
        .with("RISKRELAY_CLIENT_STATE", "a-generated-client-state-value");
    let config = ActionsConfig::load(&derived, &EnvSecrets(&derived))
        .unwrap()
        .unwrap();
    let link = ActionLink {
        tenant: riskrelay::ids::TenantId::parse(riskrelay_sim::testkit::TENANT).unwrap(),
        user: riskrelay::ids::UserId::parse(riskrelay_sim::testkit::USER_1).unwrap(),
        alert_key: "k".into(),
        action: ActionKind::Confirm,
        expires: i64::MAX,
        workload: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let raw = riskrelay::action_link::LinkKey::new(b"a-generated-client-state-value").unwrap();
    assert!(ActionLink::verify(&link.sign(&config.key), &config.key, now).is_ok());
    assert!(ActionLink::verify(&link.sign(&config.key), &raw, now).is_err());
    let none = Env::default();
    assert!(
        ActionsConfig::load(&none, &EnvSecrets(&none))
            .unwrap()
            .is_none(),
        "off by default"
    );
}

#[tokio::test]
async fn the_status_page_needs_a_signed_in_reader_and_shows_the_tenant_without_script() {
    let (t, app, _user, _alert) = rig().await;
    let mut b = browser(&app);

    // Without a session: sent to sign in, and nothing of the tenant's state on the way.
    let first = open(&mut b.fresh(), "/status").await;
    assert_eq!(first.status, 303, "{}", first.body);
    let to = first.location.clone().unwrap();
    assert!(to.contains("/oauth2/v2.0/authorize"), "{to}");
    assert!(!first.body.contains("Last successful poll"));
    // It asks for no permission to change anything.
    assert!(!to.contains("ReadWrite"), "{to}");

    // Analyst 1 has no directory role: refused after sign-in.
    let (refused, _) = b.fresh().sign_in_at("/status", 1).await.unwrap();
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("You may not read riskrelay"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("Last successful poll"));

    // Analyst 2 is a Security Reader: the page, with the poll, the count at risk and the chart.
    let (page, _) = b.sign_in_at("/status", 2).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    for (name, v) in [
        ("content-security-policy", "default-src 'none'"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
    ] {
        let got = page.headers.get(name).unwrap().to_str().unwrap();
        assert!(got.contains(v), "{name}: {got}");
    }
    assert!(page.body.contains("Rae Kim"), "says who is signed in");
    assert!(page.body.contains(&t.sim.tenant_id().to_string()));
    assert!(page.body.contains("Last successful poll"));
    assert!(
        page.body.contains("1 high · 0 medium · 0 low"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<rect").count(), 14, "one bar a day");
    assert!(!page.body.contains("<script"));
    // The session keeps the reader signed in; another browser is not.
    assert_eq!(open(&mut b, "/status").await.status, 200);
    assert_eq!(open(&mut b.fresh(), "/status").await.status, 303);
}
