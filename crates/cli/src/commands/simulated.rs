//! The simulated tenants `run --simulate` and `check --simulate` work against, with their settings.

use riskrelay::app::Settings;
use riskrelay::client_state::ClientStates;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::graph::config::GraphConfig;
use riskrelay_sim::{SimConfig, Simulator, scenario};
use std::net::SocketAddr;

/// A running simulated tenant and a Graph configuration for it.
pub async fn simulated() -> anyhow::Result<(Simulator, GraphConfig)> {
    let (mut sims, config) = simulated_many(1).await?;
    Ok((sims.remove(0), config))
}

/// `n` simulated tenants on one server, each with the service's story, and a Graph configuration
/// for the first.
pub async fn simulated_many(n: usize) -> anyhow::Result<(Vec<Simulator>, GraphConfig)> {
    let sims = Simulator::start_many((0..n).map(SimConfig::tenant).collect()).await?;
    for sim in &sims {
        scenario::seed_service(sim);
    }
    let mut config = sims[0].graph_config();
    // The simulator does not share a real tenant's budget.
    config.identity_protection_rps = 20.0;
    Ok((sims, config))
}

/// The settings from the environment, against the simulated tenant when `simulate` is set.
/// The actions `run --simulate` offers: all of them, at the listening address.
pub fn simulated_actions(
    listen: SocketAddr,
) -> anyhow::Result<Option<riskrelay::action_link::ActionsConfig>> {
    let host = if listen.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        listen.ip()
    };
    let every = riskrelay::action_link::ActionKind::ALL
        .map(|a| a.name())
        .join(",");
    let e = Env::default()
        .with("RISKRELAY_ACTIONS", &every)
        .with(
            "RISKRELAY_PUBLIC_URL",
            &format!("http://{}", SocketAddr::new(host, listen.port())),
        )
        .with(
            "RISKRELAY_ACTION_LINK_KEY",
            &riskrelay::actions::oidc::random(32),
        );
    Ok(riskrelay::action_link::ActionsConfig::load(
        &e,
        &EnvSecrets(&e),
    )?)
}

pub async fn settings(
    env: &Env,
    simulate: Option<usize>,
    listen: SocketAddr,
) -> anyhow::Result<(Vec<Simulator>, Settings)> {
    let secrets = EnvSecrets(env);
    let Some(n) = simulate else {
        return Ok((Vec::new(), Settings::load(env, &secrets)?));
    };
    let (sims, graph) = simulated_many(n).await?;
    let mut settings = Settings::load_with_graph(env, &secrets, graph)?;
    if settings.client_states.is_none() {
        // A throwaway secret for the simulated tenants' subscriptions and the webhook.
        let e = Env::default().with(
            "RISKRELAY_CLIENT_STATE",
            &uuid::Uuid::new_v4().simple().to_string(),
        );
        settings.client_states = Some(ClientStates::load(&EnvSecrets(&e))?);
    }
    if n == 1 && settings.actions.is_none() && env.get("RISKRELAY_ACTIONS").is_none() {
        // Every action, against the simulated tenant's sign-in, with a throwaway link key.
        settings.actions = simulated_actions(listen)?;
    }
    Ok((sims, settings))
}
