//! `riskrelay tenants`: the registry of the tenants an MSP deployment watches.

use super::*;
use clap::Subcommand;
use riskrelay::config::Env;
use riskrelay::drift::DriftMode;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TenantsAction {
    /// Register a tenant and print the admin-consent URL for its administrator. It is pending
    /// until riskrelay gets a token for it. Again on a registered tenant: updates its record.
    Add {
        /// The tenant id (a GUID).
        tenant: String,
        /// Its name, shown in every message about it.
        #[arg(long)]
        name: String,
        /// Its own destinations, by name from RISKRELAY_SINKS (default: the shared ones, those
        /// no tenant names).
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        sinks: Vec<String>,
        /// Its drift guard: off, report or enforce (default: RISKRELAY_DRIFT_MODE).
        #[arg(long)]
        drift_mode: Option<String>,
        /// Its users who never get an alert, as RISKRELAY_EXCLUDE (default: RISKRELAY_EXCLUDE).
        #[arg(long, value_name = "LIST")]
        exclude: Option<String>,
    },
    /// Every registered tenant with its consent state, last poll and last error.
    List {
        /// Machine-readable JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print a registered tenant's admin-consent URL again.
    ConsentUrl { tenant: String },
    /// Stop watching a tenant.
    Remove { tenant: String },
}

pub async fn tenants(
    action: TenantsAction,
    db: PathBuf,
    table: Option<String>,
) -> anyhow::Result<ExitCode> {
    use riskrelay::fleet;
    use riskrelay::graph::config::ConsentLink;
    use riskrelay::tenancy::TenantRecord;
    let env = Env::from_process();
    match action {
        TenantsAction::Add {
            tenant,
            name,
            sinks,
            drift_mode,
            exclude,
        } => {
            let id = tenant_arg(&tenant)?;
            let name = TenantRecord::check_name(&name).map_err(anyhow::Error::msg)?;
            // The destinations a tenant names must be configured ones: a typo would otherwise
            // silently send its alerts nowhere.
            let configured = riskrelay::sink::config::names(&env)?;
            let sinks: Vec<String> = sinks
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(unknown) = sinks.iter().find(|s| !configured.contains(s)) {
                anyhow::bail!(
                    "--sinks: \"{unknown}\" is not a destination of RISKRELAY_SINKS (configured: {})",
                    if configured.is_empty() {
                        "none".to_string()
                    } else {
                        configured.join(", ")
                    }
                );
            }
            let drift_mode = drift_mode
                .map(|m| m.parse::<DriftMode>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("--drift-mode: {e}"))?;
            if let Some(list) = &exclude {
                riskrelay::exclusions::Exclusions::parse(list)
                    .map_err(|e| anyhow::anyhow!("--exclude: {e}"))?;
            }
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            let record = TenantRecord {
                id,
                name: name.clone(),
                sinks,
                drift_mode,
                exclude,
                added_at: time::OffsetDateTime::now_utc(),
            };
            let new = fleet::register(store.as_ref(), record).await?;
            println!(
                "{} {} ({id}).\nIts administrator grants riskrelay access here (a Global Administrator or Privileged Role Administrator of that tenant):\n\n{}\n\nriskrelay confirms it with the first token it gets; until then `riskrelay tenants list` shows it as pending.",
                if new { "Added" } else { "Updated" },
                shown(&name),
                link.url(id)
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::List { json } => {
            let store = registry_store(db, table).await?;
            let list = fleet::statuses(store.as_ref()).await?;
            let fmt = |t: Option<time::OffsetDateTime>| {
                t.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "-".into())
            };
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|(r, s)| {
                        serde_json::json!({
                            "id": r.id, "name": r.name, "sinks": r.sinks, "driftMode": r.drift_mode,
                            "exclude": r.exclude, "consent": s.consent, "refusal": s.refusal, "since": s.since.map(|t| fmt(Some(t))),
                            "lastPoll": s.last_poll.map(|t| fmt(Some(t))), "lastError": s.last_error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if list.is_empty() {
                println!("no tenant is registered (riskrelay tenants add TENANT_ID --name NAME)");
            } else {
                println!("TENANT\tNAME\tCONSENT\tLAST POLL\tSINKS\tLAST ERROR");
                for (r, s) in &list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        r.id,
                        shown(&r.name),
                        match s.refusal {
                            Some(why) => format!("{} ({})", s.consent.name(), why.name()),
                            None => s.consent.name().to_string(),
                        },
                        fmt(s.last_poll),
                        if r.sinks.is_empty() {
                            "shared".to_string()
                        } else {
                            shown(&r.sinks.join(","))
                        },
                        shown(s.last_error.as_deref().unwrap_or("-"))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::ConsentUrl { tenant } => {
            let id = tenant_arg(&tenant)?;
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            if !fleet::statuses(store.as_ref())
                .await?
                .iter()
                .any(|(r, _)| r.id == id)
            {
                anyhow::bail!("{id} is not registered (riskrelay tenants add {id} --name NAME)");
            }
            println!("{}", link.url(id));
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::Remove { tenant } => {
            let id = tenant_arg(&tenant)?;
            let store = registry_store(db, table).await?;
            match fleet::unregister(store.as_ref(), id).await? {
                Some(r) => {
                    println!(
                        "Removed {} ({id}). Its subscriptions lapse on their own within three days; revoke the app in that tenant to end access now.",
                        shown(&r.name)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("riskrelay: {id} is not registered");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
