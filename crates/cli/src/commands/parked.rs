//! `riskrelay parked`: the messages a destination would not take, listed or replayed.

use super::*;
use riskrelay::app::{Adapters, Parts, Settings, WorkerParts};
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn parked(replay: Option<String>, db: PathBuf) -> anyhow::Result<ExitCode> {
    use riskrelay::parking::{self, Selection};
    if !db.exists() {
        anyhow::bail!(
            "there is no database at {} (set --db or RISKRELAY_SQLITE_PATH to the service's)",
            db.display()
        );
    }
    let env = Env::from_process();
    let settings = Settings::load(&env, &EnvSecrets(&env))?;
    let store: Arc<dyn Store> = Arc::new(sqlite(&env, &db)?);
    let Some(which) = replay else {
        let list = parking::list(store.as_ref(), settings.tenant()).await?;
        if list.is_empty() {
            println!("nothing is parked");
        }
        for p in list {
            println!(
                "{}\t{}\t{}\t{} attempt{}\t{}\t{}",
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
        return Ok(ExitCode::SUCCESS);
    };
    let which = match which.as_str() {
        "all" => Selection::All,
        id => Selection::One(id.to_string()),
    };
    let app = WorkerParts::build(&settings, Adapters::new(store))?;
    let outcomes = app.worker.replay_parked(&which).await?;
    let mut failed = 0;
    for (id, outcome) in &outcomes {
        match outcome {
            Ok(()) => println!("{id}\tdelivered"),
            Err(e) => {
                failed += 1;
                println!("{id}\tstill parked: {}", shown(e));
            }
        }
    }
    if outcomes.is_empty() {
        println!("nothing is parked");
    }
    Ok(ExitCode::from(u8::from(failed > 0)))
}
