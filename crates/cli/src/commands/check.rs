//! `riskrelay check`: the posture checks once, as a report.

use super::simulated::*;
use super::*;
use riskrelay::app::{Adapters, Parts, Settings, ToolParts};
use riskrelay::checks::PostureConfig;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::drift::DriftMode;
use std::process::ExitCode;

pub async fn check(json: bool, enforce: bool, simulate: bool) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let (_sim, settings) = match simulate {
        true => {
            let (sim, graph) = simulated().await?;
            (Some(sim), Settings::with_graph(graph))
        }
        false => (None, Settings::load(&env, &EnvSecrets(&env))?),
    };
    let app = ToolParts::build(&settings, Adapters::new(optional_store(&env)?))?;
    let mut posture = PostureConfig::load(&env)?;
    if enforce {
        posture.drift_mode = DriftMode::Enforce;
    } else if posture.drift_mode == DriftMode::Off {
        // `check` always reports the setting, even when the service's guard is off.
        posture.drift_mode = DriftMode::Report;
    }
    let run = riskrelay::checks::run(
        &app.graph,
        app.store.as_ref(),
        app.tenant,
        &posture,
        app.clock.now(),
    )
    .await?;
    run.commit(app.store.as_ref()).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&riskrelay::checks::report::json(&run.report))?
        );
    } else {
        use std::io::IsTerminal as _;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", riskrelay::checks::report::human(&run.report, color));
    }
    Ok(ExitCode::from(run.report.exit_code()))
}
