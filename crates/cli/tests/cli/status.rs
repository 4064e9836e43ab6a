//! `riskrelay status`: what the store says about the tenant, with an exit status a script can
//! act on.

use riskrelay_sim::SimConfig;

use crate::run::{Watched, logs, watched};

async fn status(w: &Watched, json: bool) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"));
    cmd.env_clear()
        .env("RISKRELAY_TENANT_ID", w.sim.tenant_id().to_string())
        .env("RISKRELAY_SQLITE_PATH", &w.db)
        .arg("status");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn status_says_when_the_last_poll_worked_and_flags_failing_polls() {
    let w = watched(SimConfig::default(), 0).await;
    let (code, out, err) = status(&w, true).await;
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}{}", logs(&w.db)));
    let t = &v["tenants"][0];
    assert_eq!(t["tenantId"], w.sim.tenant_id().to_string());
    assert!(t["lastPoll"].is_string(), "{v}");
    assert!(t["pollsFailingSince"].is_null(), "{v}");
    assert_eq!(t["parked"], serde_json::json!([]));
    assert_eq!(t["atRisk"]["high"], 0, "{v}");
    assert_eq!(t["alertsPerDay"].as_array().unwrap().len(), 14, "{v}");
    assert_eq!(code, i32::from(v["needsAttention"] == true), "{v}");

    // Polls have been failing for an hour, and the team was told.
    {
        let store = riskrelay::store::sqlite::SqliteStore::open(&w.db).unwrap();
        let since = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let health = riskrelay::poll_health::PollHealth {
            failing_since: Some(since),
            last_error: Some("Graph answered 503 for risky-user reads".into()),
            told_at: Some(since + time::Duration::minutes(30)),
        };
        riskrelay::store::save(
            &store,
            w.sim.tenant_id(),
            riskrelay::store::keys::POLL_HEALTH,
            &health,
            None,
        )
        .await
        .unwrap();
    }
    let (code, out, _) = status(&w, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILING since"), "{out}");
    assert!(
        out.contains("(60 minutes ago), the team was told: Graph answered 503"),
        "{out}"
    );
    assert!(out.contains("Last successful poll"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("At risk now") && l.ends_with("0 high, 0 medium, 0 low")),
        "{out}"
    );
    assert!(out.contains("Alerts, last 14 days"), "{out}");
    let (_, out, _) = status(&w, true).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["needsAttention"], true);
    assert_eq!(v["tenants"][0]["staleAnnounced"], true);
}

#[tokio::test]
async fn status_without_a_database_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskrelay"))
        .env_clear()
        .env(
            "RISKRELAY_TENANT_ID",
            "11111111-2222-3333-4444-555555555555",
        )
        .args(["status", "--db"])
        .arg(dir.path().join("missing.sqlite"))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("there is no database at"), "{err}");
    assert!(
        !dir.path().join("missing.sqlite").exists(),
        "nothing created"
    );
}
