//! `riskrelay check`: the posture checks once, as a report.

use super::simulated::*;
use super::*;
use riskrelay::app::{Adapters, Parts, Settings, ToolParts};
use riskrelay::checks::PostureConfig;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::drift::DriftMode;
use std::process::ExitCode;

pub async fn check(
    json: bool,
    enforce: bool,
    simulate: bool,
    tenant: Option<String>,
    all_tenants: bool,
) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let store = optional_store(&env)?;
    let (_sim, base, chosen) = match simulate {
        true => {
            let (sim, graph) = simulated().await?;
            let tenant = graph.tenant_id;
            let one = Chosen {
                registry: Default::default(),
                tenants: vec![(tenant, None)],
            };
            (Some(sim), Settings::with_graph(graph), one)
        }
        false => {
            let chosen =
                chosen(&env, store.as_ref(), tenant.as_deref(), all_tenants, false).await?;
            (None, Settings::load(&env, &EnvSecrets(&env))?, chosen)
        }
    };
    let mut posture = PostureConfig::load(&env)?;
    if enforce {
        posture.drift_mode = DriftMode::Enforce;
    } else if posture.drift_mode == DriftMode::Off {
        // `check` always reports the setting, even when the service's guard is off.
        posture.drift_mode = DriftMode::Report;
    }
    if chosen.tenants.is_empty() {
        anyhow::bail!("no tenant is registered (riskrelay tenants add)");
    }
    let many = chosen.tenants.len() > 1 || chosen.tenants[0].1.is_some();
    let mut exit = 0;
    let mut reports = Vec::new();
    for (id, record) in &chosen.tenants {
        let settings = chosen.settings_of(&base, record.as_ref())?;
        let app = ToolParts::build(&settings, Adapters::new(store.clone()))?;
        let mut posture = posture.clone();
        // A tenant's own drift mode, still reported when it is off.
        if let (Some(mode), false) = (record.as_ref().and_then(|r| r.drift_mode), enforce) {
            posture.drift_mode = match mode {
                DriftMode::Off => DriftMode::Report,
                m => m,
            };
        }
        let run = riskrelay::checks::run(
            &app.graph,
            app.store.as_ref(),
            *id,
            &posture,
            app.clock.now(),
        )
        .await?;
        run.commit(app.store.as_ref()).await?;
        exit = exit.max(run.report.exit_code());
        let report = riskrelay::checks::report::json(&run.report);
        if json {
            reports.push(match (many, record) {
                (true, Some(r)) => {
                    serde_json::json!({"tenant": id, "name": r.name, "report": report})
                }
                _ => report,
            });
        } else {
            use std::io::IsTerminal as _;
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            if let (true, Some(r)) = (many, record) {
                println!("== {} ({id})", shown(&r.name));
            }
            print!("{}", riskrelay::checks::report::human(&run.report, color));
        }
    }
    if json {
        let out = match (many, reports.len()) {
            (false, 1) => reports.remove(0),
            _ => serde_json::Value::Array(reports),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::from(exit))
}
