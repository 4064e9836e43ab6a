//! `riskrelay status`: each tenant's state from the store, for a terminal or a script.

use super::*;
use riskrelay::status::TenantState;
use std::process::ExitCode;
use time::OffsetDateTime;

pub async fn status(
    json: bool,
    tenant: Option<String>,
    db: PathBuf,
    table: Option<String>,
) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let store = open_store(&env, &db, table, true).await?;
    let now = OffsetDateTime::now_utc();
    let chosen = chosen(&env, store.as_ref(), tenant.as_deref(), true, true).await?;
    let mut tenants = Vec::new();
    for (id, record) in chosen.tenants {
        let consent = match &record {
            Some(_) => riskrelay::store::load::<riskrelay::tenancy::TenantStatus>(
                store.as_ref(),
                id,
                riskrelay::tenancy::STATUS,
            )
            .await?
            .map(|v| v.value)
            .or_else(|| Some(Default::default())),
            None => None,
        };
        tenants.push(
            riskrelay::status::read(
                store.as_ref(),
                id,
                record.map(|r| r.name),
                consent.as_ref(),
                now,
            )
            .await?,
        );
    }
    let attention = tenants.iter().any(TenantState::needs_attention);
    if json {
        let out = serde_json::json!({
            "checkedAt": riskrelay_time(now),
            "needsAttention": attention,
            "tenants": tenants,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if tenants.is_empty() {
            println!("no tenant is registered (riskrelay tenants add)");
        }
        for t in &tenants {
            print!("{}", human(t, now));
        }
    }
    Ok(ExitCode::from(u8::from(attention)))
}

/// One character per day, its height the day's share of the busiest day's alerts.
fn sparkline(days: &[riskrelay::status::DayCount]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = days.iter().map(|d| d.alerts).max().unwrap_or(0).max(1);
    days.iter()
        .map(|d| match d.alerts {
            0 => '·',
            n => BARS[((n * 7).div_ceil(max) as usize).min(7)],
        })
        .collect()
}

fn riskrelay_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn when(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let m = (now - t).whole_minutes();
    let when = when(t);
    match m {
        m if m < 1 => format!("{when} (just now)"),
        m if m < 120 => format!("{when} ({m} minutes ago)"),
        m => format!("{when} ({} hours ago)", m / 60),
    }
}

/// One tenant for a person: a line per fact, what needs attention said first in its line.
fn human(t: &TenantState, now: OffsetDateTime) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<22}{value}\n"));
    let title = match &t.name {
        Some(n) => format!("{} ({})", shown(n), t.tenant_id),
        None => t.tenant_id.to_string(),
    };
    line(
        "Last successful poll",
        t.last_poll.map_or("none yet".into(), |at| ago(at, now)),
    );
    line(
        "Polls",
        match (t.polls_failing_since, &t.last_error) {
            (Some(since), e) => format!(
                "FAILING since {}{}: {}",
                ago(since, now),
                if t.stale_announced {
                    ", the team was told"
                } else {
                    ""
                },
                shown(e.as_deref().unwrap_or("unknown error"))
            ),
            (None, _) => "ok".into(),
        },
    );
    if let Some(c) = t.consent {
        line(
            "Consent",
            if c == "lost" { "LOST".into() } else { c.into() },
        );
    }
    line(
        "On-premises reset",
        match (t.on_premises_reset, t.posture_checked_at) {
            (Some(true), Some(at)) => format!("on (checked {})", ago(at, now)),
            (Some(false), Some(at)) => format!("OFF (checked {})", ago(at, now)),
            _ => "not checked yet".into(),
        },
    );
    line(
        "Snoozed",
        if t.snoozes.is_empty() {
            "nobody".into()
        } else {
            t.snoozes
                .iter()
                .map(|s| {
                    format!(
                        "{} until {} by {}: {}",
                        shown(&s.user),
                        when(s.until),
                        shown(&s.by),
                        shown(&s.reason)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
    );
    line(
        "Parked",
        if t.parked.is_empty() {
            "nothing".into()
        } else {
            format!(
                "{} message(s): {} (riskrelay parked --replay all)",
                t.parked.len(),
                t.parked
                    .iter()
                    .map(|p| format!("{} {}", shown(&p.destination), shown(&p.failure)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    );
    line("Subscriptions", t.subscriptions.to_string());
    if !t.workload_risk.is_empty() {
        line("Workload risk", t.workload_risk.join("; "));
    }
    let r = &t.at_risk;
    line(
        "At risk now",
        format!(
            "{} high, {} medium, {} low{}",
            r.high,
            r.medium,
            r.low,
            if r.other > 0 {
                format!(", {} hidden", r.other)
            } else {
                String::new()
            }
        ),
    );
    let total: u32 = t.alerts_per_day.iter().map(|d| d.alerts).sum();
    line(
        "Alerts, last 14 days",
        format!("{total}  {}", sparkline(&t.alerts_per_day)),
    );
    format!("{title}\n{out}")
}
