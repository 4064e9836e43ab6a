//! `riskrelay subscribe`: create, renew or remove the optional Graph subscriptions once.

use super::*;
use riskrelay::app::{Adapters, Parts, Settings, ToolParts};
use riskrelay::config::{Env, EnvSecrets};
use std::process::ExitCode;

pub async fn subscribe() -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    if riskrelay::tenancy::Mode::load(&env)? == riskrelay::tenancy::Mode::Registry {
        anyhow::bail!(
            "with RISKRELAY_TENANTS=registry each tenant's subscriptions are kept by riskrelay run (or the poller in AWS), each with its own clientState"
        );
    }
    let secrets = EnvSecrets(&env);
    let settings = Settings::load(&env, &secrets)?;
    settings.require_client_states(&secrets)?;
    let app = ToolParts::build(&settings, Adapters::new(optional_store(&env)?))?;
    let r = app
        .upkeep()?
        .ensure(app.clock.now())
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "created {:?}, renewed {:?}, recreated {:?}, deleted {:?}",
        r.created, r.renewed, r.recreated, r.deleted
    );
    Ok(ExitCode::SUCCESS)
}
