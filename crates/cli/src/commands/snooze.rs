//! `riskrelay snooze`: hold a user's or workload identity's alerts back for a while, list the
//! snoozes, or end one.

use super::*;
use anyhow::Context as _;
use riskrelay::store::Store;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn snooze(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
    user: &str,
    duration: Option<&str>,
    reason: Option<&str>,
    by: &str,
) -> anyhow::Result<ExitCode> {
    use riskrelay::snooze;
    let duration =
        snooze::parse_duration(duration.context("say how long with --for, such as --for 7d")?)
            .map_err(|e| anyhow::anyhow!("--for: {e}"))?;
    let now = time::OffsetDateTime::now_utc();
    let mut s = snooze::new(user, duration, reason.unwrap_or_default(), by, None, now)
        .map_err(anyhow::Error::msg)?;
    // The level today, when riskrelay knows the subject by its object id: an escalation above it
    // breaks through.
    if let Some(id) = s.user_id {
        s.level = riskrelay::store::load::<riskrelay::reconcile::UserState>(
            store.as_ref(),
            tenant,
            &riskrelay::store::keys::user(id),
        )
        .await?
        .map(|v| v.value.risk_level);
    }
    if let riskrelay::snooze::Subject::App(id) = &s.subject {
        for kind in riskrelay::workload::WorkloadKind::ALL {
            let key = riskrelay::store::keys::workload(kind, id);
            if let Some(v) = riskrelay::store::load::<riskrelay::workload::WorkloadState>(
                store.as_ref(),
                tenant,
                &key,
            )
            .await?
            {
                s.level = Some(v.value.risk_level);
                s.workload = Some((kind, v.value.id));
                break;
            }
        }
    }
    let until = s.until;
    let name = shown(&s.subject.to_string());
    riskrelay::features::snooze::update(store.as_ref(), tenant, |b| b.add(s.clone())).await?;
    println!(
        "{name} snoozed until {}; the snooze is posted at the next poll cycle",
        riskrelay::render::time_text(until)
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn snooze_list(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
) -> anyhow::Result<ExitCode> {
    let (book, _) = riskrelay::features::snooze::load(store.as_ref(), tenant).await?;
    let now = time::OffsetDateTime::now_utc();
    let running: Vec<_> = book.active.iter().filter(|s| s.until > now).collect();
    if running.is_empty() {
        println!("nobody is snoozed");
    }
    for s in running {
        println!(
            "{}\tuntil {}\tby {}\t{} held back\t{}",
            shown(&s.subject.to_string()),
            riskrelay::render::time_text(s.until),
            shown(&s.by),
            s.held,
            shown(&s.reason)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn snooze_clear(
    (store, tenant): (Arc<dyn Store>, riskrelay::ids::TenantId),
    user: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let who = riskrelay::snooze::Subject::parse(user)
        .with_context(|| format!("\"{}\" is not {}", shown(user), riskrelay::snooze::EXPECTED))?;
    let now = time::OffsetDateTime::now_utc();
    let cleared =
        riskrelay::features::snooze::update(store.as_ref(), tenant, |b| b.clear(&who, by, now))
            .await?;
    if cleared {
        println!(
            "{}'s snooze lifted; posted at the next poll cycle",
            shown(&who.to_string())
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} is not snoozed", shown(&who.to_string()));
        Ok(ExitCode::from(1))
    }
}
