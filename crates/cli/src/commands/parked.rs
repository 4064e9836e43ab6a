//! `riskrelay parked`: the messages a destination would not take, listed or replayed.

use super::*;
use riskrelay::app::{Adapters, Parts, Settings, WorkerParts};
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn parked(
    replay: Option<String>,
    tenant: Option<String>,
    all_tenants: bool,
    db: PathBuf,
) -> anyhow::Result<ExitCode> {
    use riskrelay::parking::{self, Selection};
    if !db.exists() {
        anyhow::bail!(
            "there is no database at {} (set --db or RISKRELAY_SQLITE_PATH to the service's)",
            db.display()
        );
    }
    let env = Env::from_process();
    let store: Arc<dyn Store> = Arc::new(sqlite(&env, &db)?);
    let chosen = chosen(&env, store.as_ref(), tenant.as_deref(), all_tenants, false).await?;
    let many = chosen.tenants.len() > 1;
    // Listing reads the store alone; replaying posts, with the deployment's settings.
    let base = match replay {
        Some(_) => Some(Settings::load(&env, &EnvSecrets(&env))?),
        None => None,
    };
    let mut listed = 0;
    let mut failed = 0;
    for (id, record) in &chosen.tenants {
        // With many tenants, each line names whose it is.
        let whose = match (many, record) {
            (true, Some(r)) => format!("{}\t", shown(&r.name)),
            _ => String::new(),
        };
        let Some(which) = &replay else {
            for p in parking::list(store.as_ref(), *id).await? {
                listed += 1;
                println!(
                    "{whose}{}\t{}\t{}\t{} attempt{}\t{}\t{}",
                    p.id,
                    p.sink,
                    p.parked_at
                        .format(&time::format_description::well_known::Rfc3339)?,
                    p.attempts,
                    if p.attempts == 1 { "" } else { "s" },
                    shown(&parking::summary(&p.message)),
                    shown(&riskrelay::redact::scrub(&p.error))
                );
            }
            continue;
        };
        let which = match which.as_str() {
            "all" => Selection::All,
            id => Selection::One(id.to_string()),
        };
        let Some(base) = &base else {
            continue;
        };
        let settings = chosen.settings_of(base, record.as_ref())?;
        let app = WorkerParts::build(&settings, Adapters::new(store.clone()))?;
        for (id, outcome) in &app.worker.replay_parked(&which).await? {
            listed += 1;
            match outcome {
                Ok(()) => println!("{whose}{id}\tdelivered"),
                Err(e) => {
                    failed += 1;
                    println!("{whose}{id}\tstill parked: {}", shown(e));
                }
            }
        }
    }
    if listed == 0 {
        println!("nothing is parked");
    }
    Ok(ExitCode::from(u8::from(failed > 0)))
}
