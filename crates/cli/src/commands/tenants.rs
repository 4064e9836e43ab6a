//! `riskrelay tenants`: the registry of the tenants an MSP deployment watches.

use super::*;
use clap::Subcommand;
use riskrelay::config::Env;
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
        /// When its standing summary is posted, as RISKRELAY_SUMMARY: HH:MM (daily, UTC),
        /// a weekday and HH:MM, or off (default: RISKRELAY_SUMMARY).
        #[arg(long, value_name = "SCHEDULE")]
        summary: Option<String>,
    },
    /// Add or update many tenants from a CSV file: a header naming the columns id, name and
    /// optionally sinks, driftMode, exclude, summary; then one tenant per row. Every row is checked first:
    /// one bad row (reported with its line number) and nothing is written.
    Import {
        /// The CSV file.
        file: PathBuf,
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
    let env = Env::from_process();
    match action {
        TenantsAction::Add {
            tenant,
            name,
            sinks,
            drift_mode,
            exclude,
            summary,
        } => {
            let configured = riskrelay::sink::config::names(&env)?;
            let record = riskrelay::onboarding::check(
                &riskrelay::onboarding::Described {
                    id: &tenant,
                    name: &name,
                    sinks: sinks.iter().map(String::as_str).collect(),
                    drift_mode: drift_mode.as_deref(),
                    exclude: exclude.as_deref(),
                    summary: summary.as_deref(),
                },
                &configured,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(anyhow::Error::msg)?;
            let (id, name) = (record.id, record.name.clone());
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            let new = fleet::register(store.as_ref(), record).await?;
            println!(
                "{} {} ({id}).\nIts administrator grants riskrelay access here (a Global Administrator or Privileged Role Administrator of that tenant):\n\n{}\n\nriskrelay confirms it with the first token it gets; until then `riskrelay tenants list` shows it as pending.",
                if new { "Added" } else { "Updated" },
                shown(&name),
                link.url(id)
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantsAction::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let configured = riskrelay::sink::config::names(&env)?;
            let records = match riskrelay::onboarding::read_csv(
                &text,
                &configured,
                time::OffsetDateTime::now_utc(),
            ) {
                Ok(records) => records,
                Err(bad) => {
                    for row in &bad {
                        eprintln!("{}: {}", file.display(), shown(&row.to_string()));
                    }
                    anyhow::bail!(
                        "{} bad row{} in {}; nothing was imported",
                        bad.len(),
                        if bad.len() == 1 { "" } else { "s" },
                        file.display()
                    );
                }
            };
            let link = ConsentLink::load(&env)?;
            let store = registry_store(db, table).await?;
            let done = fleet::import(store.as_ref(), records.clone()).await?;
            println!(
                "Imported {} tenants: {} added, {} updated. Each tenant's administrator grants riskrelay access at its link (a Global Administrator or Privileged Role Administrator of that tenant):",
                records.len(),
                done.added,
                done.updated
            );
            for r in &records {
                println!("{}\t{}\t{}", r.id, shown(&r.name), link.url(r.id));
            }
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
                            "exclude": r.exclude, "summary": r.summary, "consent": s.consent, "refusal": s.refusal, "since": s.since.map(|t| fmt(Some(t))),
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
