//! Rendering: snapshots of representative messages, hostile input, and the platforms' limits.
//! Every payload made here is also written for the Slack and Teams validators.

use riskrelay::alert::{Change, Message};
use riskrelay::render::{self, console, slack, teams};
use serde_json::Value;

use riskrelay_sim::testkit::{record_payload, samples};

fn texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::Object(o) => o.values().for_each(|x| texts(x, out)),
        _ => {}
    }
}

fn all_texts(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    texts(v, &mut out);
    out
}

#[test]
fn snapshots_of_each_kind() {
    for (name, message) in samples::every_kind() {
        let view = render::view(&message);
        let s = slack::payload(&view);
        let t = teams::payload(&view);
        record_payload("slack", &format!("render-{name}"), &s);
        record_payload("teams", &format!("render-{name}"), &t);
        insta::assert_snapshot!(format!("{name}-console"), console::text(&view));
        insta::assert_json_snapshot!(format!("{name}-slack"), s);
        insta::assert_json_snapshot!(format!("{name}-teams"), t);
    }
}

#[test]
fn remediation_names_the_on_premises_password_change() {
    let m = Message::User(Box::new(samples::user_alert(
        Change::Remediated {
            how: riskrelay::risk::RiskDetail::UserChangedPasswordOnPremises,
        },
        "Adsync User 2",
    )));
    let view = render::view(&m);
    let text = console::text(&view);
    assert!(
        text.contains("the password was changed on-premises and synced to Entra"),
        "{text}"
    );
    assert!(
        slack::payload(&view)["text"]
            .as_str()
            .unwrap()
            .contains("changed on-premises")
    );
}

const HOSTILE: [&str; 6] = [
    "<!channel> urgent",
    "<@U123> <#C123> <!subteam^S1>",
    "[x](https://evil.example)",
    "<at>CEO</at>",
    "<https://evil.example|Reset password>",
    "Bob\n> *Admin approved*\u{202E}txt.exe",
];

#[test]
fn hostile_display_names_are_harmless() {
    let long = "A".repeat(10_000);
    for (i, name) in HOSTILE.iter().copied().chain([long.as_str()]).enumerate() {
        let mut alert = samples::user_alert(Change::NewRisk, name);
        alert.user.user_principal_name = Some(format!("{name}@contoso.com"));
        if let riskrelay::context::Lookup::Found(c) = &mut alert.context {
            c.user_principal_name = Some(format!("{name}@contoso.com"));
            c.department = Some(name.to_string());
        }
        alert.detections[0].location = Some(riskrelay::risk::SignInLocation {
            city: Some(name.into()),
            state: None,
            country_or_region: None,
        });
        let view = render::view(&Message::User(Box::new(alert)));
        let s = slack::payload(&view);
        let t = teams::payload(&view);
        record_payload("slack", &format!("hostile-{i}"), &s);
        record_payload("teams", &format!("hostile-{i}"), &t);

        let raw = s.to_string();
        for forbidden in ["<!", "<@", "<#", "<http", "link_names", "\"parse\""] {
            assert!(
                !raw.contains(forbidden),
                "{name:?}: Slack payload contains {forbidden}"
            );
        }
        for text in all_texts(&s) {
            assert!(
                !text.contains('<') && !text.contains('>'),
                "{name:?}: raw angle bracket in {text:?}"
            );
            assert!(!text.contains('\u{202E}'));
        }
        // No line of user data may start a quote.
        assert!(!raw.contains("\\n&gt; *Admin"), "{name:?}");

        let card = &t["attachments"][0]["content"];
        let mut textblocks = Vec::new();
        collect_textblocks(card, &mut textblocks);
        for tb in textblocks {
            assert!(
                !tb.contains(name) || name.len() < 3,
                "{name:?} reached a TextBlock: {tb}"
            );
            assert!(
                !tb.contains("evil.example") && !tb.to_lowercase().contains("<at>"),
                "{tb}"
            );
        }
        assert!(
            !t.to_string().to_lowercase().contains("<at>"),
            "{name:?}: mention tag survived"
        );
        assert!(t.to_string().len() <= teams::MAX_BYTES);
        for text in all_texts(&s) {
            assert!(text.chars().count() <= slack::SECTION_TEXT_MAX);
        }
    }
}

fn collect_textblocks(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if o.get("type") == Some(&Value::String("TextBlock".into())) {
                out.push(
                    o.get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            if o.get("type") == Some(&Value::String("Fact".into())) {
                out.push(
                    o.get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            o.values().for_each(|x| collect_textblocks(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_textblocks(x, out)),
        _ => {}
    }
}

#[test]
fn the_largest_alert_is_truncated_deterministically_within_limits() {
    let mut alert = samples::user_alert(Change::NewRisk, &"N".repeat(10_000));
    alert.detections = (0..500)
        .map(|n| {
            samples::detection(
                n,
                if n % 2 == 0 {
                    "unfamiliarFeatures"
                } else {
                    "someFutureDetectionType"
                },
                "signin",
            )
        })
        .collect();
    for d in &mut alert.detections {
        d.location = Some(riskrelay::risk::SignInLocation {
            city: Some("C".repeat(500)),
            state: Some("S".repeat(500)),
            country_or_region: Some("R".repeat(500)),
        });
    }
    let view = render::view(&Message::User(Box::new(alert)));
    let s = slack::payload(&view);
    let t = teams::payload(&view);
    record_payload("slack", "largest-alert", &s);
    record_payload("teams", "largest-alert", &t);
    assert_eq!(s, slack::payload(&view), "deterministic");
    assert_eq!(t, teams::payload(&view), "deterministic");

    let blocks = s["blocks"].as_array().unwrap();
    assert!(blocks.len() <= slack::MAX_BLOCKS);
    let total: usize = all_texts(&Value::Array(blocks.clone()))
        .iter()
        .map(|t| t.chars().count())
        .sum();
    assert!(total <= 12_000, "cumulative block text {total}");
    for b in blocks {
        if let Some(text) = b["text"]["text"].as_str() {
            assert!(text.chars().count() <= slack::SECTION_TEXT_MAX);
        }
        if b["type"] == "header" {
            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= slack::HEADER_MAX);
        }
    }
    let raw = s.to_string();
    let more = regex_like_more(&raw).expect("a '+N more detections' line");
    let shown =
        raw.matches("\\n• ").count() + raw.matches("*Detections*").count().saturating_sub(1);
    assert!(more > 400 && more < 500, "{more} more (shown {shown})");

    let size = serde_json::to_vec(&t).unwrap().len();
    assert!(size <= teams::MAX_BYTES, "{size}");
    assert!(t.to_string().contains("more detections"));
    println!(
        "largest alert: Slack {} bytes, {} blocks, +{more} more detections; Teams {size} bytes",
        raw.len(),
        blocks.len()
    );
}

fn regex_like_more(s: &str) -> Option<usize> {
    let i = s.find(" more detections")?;
    let digits: String = s[..i]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

#[test]
fn unknown_values_are_shown_raw() {
    let mut alert = samples::user_alert(Change::NewRisk, "Adsync User 2");
    alert.detections[0].risk_event_type = "quantumTunnelSignIn".into();
    alert.user.risk_detail = riskrelay::risk::RiskDetail::Unknown("aBrandNewDetail".into());
    let view = render::view(&Message::User(Box::new(alert)));
    let text = console::text(&view);
    assert!(
        text.contains("quantumTunnelSignIn") && text.contains("aBrandNewDetail"),
        "{text}"
    );
}

/// Every user alert links to the user's page and the risky users report in the tenant's admin
/// center, as a Slack button and a Teams `Action.OpenUrl`; the URL is built from the ids alone.
#[test]
fn every_user_alert_links_to_the_user_in_the_admin_center_of_its_cloud() {
    use riskrelay::alert::AdminCenter;
    for (name, message) in samples::every_kind() {
        let view = render::view(&message);
        let Message::User(a) = &message else {
            assert!(view.links.is_empty(), "{name}");
            continue;
        };
        let user = format!(
            "https://entra.microsoft.com/{}/#view/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/overview/userId/{}",
            a.tenant_id, a.user.id
        );
        assert_eq!(view.links[0].url, user, "{name}");
        // The report, unless four action buttons take the card's last places (Teams shows five).
        let report = view.links.iter().find(|l| l.label == "Risky users report");
        match a.actions.len() {
            4 => assert!(report.is_none(), "{name}"),
            _ => assert!(
                report
                    .unwrap()
                    .url
                    .ends_with("IdentityProtectionMenuBlade/~/RiskyUsers")
            ),
        }
        assert!(
            view.links.len() <= 5,
            "{name}: Teams shows at most five actions"
        );
        for (link, button) in view.links.iter().rev().zip(a.actions.iter().rev()) {
            assert_eq!(
                (link.label, &link.url),
                (button.action.label(), &button.url)
            );
        }
        let s = slack::payload(&view);
        let buttons: Vec<&Value> = s["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap())
            .collect();
        assert_eq!(buttons[0]["type"], "button");
        assert_eq!(buttons[0]["url"], user.as_str(), "{name}");
        let t = teams::payload(&view);
        let actions = &t["attachments"][0]["content"]["actions"];
        assert_eq!(actions[0]["type"], "Action.OpenUrl");
        assert_eq!(actions[0]["url"], user.as_str(), "{name}");
        assert!(console::text(&view).contains(&user));
    }

    // GCC High and DoD: the US Government admin center. A hostile name or UPN changes nothing.
    let mut a = samples::user_alert(Change::NewRisk, "x\"><img src=x>");
    a.admin_center = AdminCenter::UsGov;
    a.user.user_principal_name = Some("a\"><script>@evil.example".into());
    let view = render::view(&Message::User(Box::new(a.clone())));
    for l in &view.links {
        assert!(
            l.url.starts_with("https://entra.microsoft.us/"),
            "{}",
            l.url
        );
        assert!(!l.url.contains('<') && !l.url.contains('"'), "{}", l.url);
    }
    // A deleted account has no page to open: only the report.
    a.user.is_deleted = true;
    let view = render::view(&Message::User(Box::new(a)));
    assert_eq!(
        view.links.iter().map(|l| l.label).collect::<Vec<_>>(),
        ["Risky users report"]
    );
}
