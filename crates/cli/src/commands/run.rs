//! `riskrelay run`: the self-hosted service (webhook, scheduler, worker, SQLite) or one cycle of it.

use super::*;
use riskrelay::app::Adapters;
use riskrelay::config::Env;
use riskrelay::risk::RiskLevel;
use riskrelay::service::{Intervals, PollSignal, Service};
use riskrelay::sink::console::ConsoleSink;
use riskrelay::source::webhook::WebhookConfig;
use riskrelay::store::Store;
use riskrelay_sim::scenario;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::simulated::*;

pub async fn service(
    once: bool,
    simulate: Option<usize>,
    listen: SocketAddr,
    db: PathBuf,
    console: bool,
) -> anyhow::Result<ExitCode> {
    use riskrelay::tenancy::Mode;
    let env = Env::from_process();
    let (sims, settings) = settings(&env, simulate, listen).await?;
    let mode = match simulate {
        Some(n) if n > 1 => Mode::Registry,
        _ => Mode::load(&env)?,
    };
    let schedule = Intervals::load(&env)?;
    let store: Arc<dyn Store> = Arc::new(sqlite(&env, &db)?);
    if mode == Mode::Registry && sims.len() > 1 {
        riskrelay_sim::scenario::register_tenants(store.as_ref(), &sims).await?;
    }
    let mut adapters = Adapters::new(store.clone());
    if console || settings.alerts.sinks.is_empty() {
        if settings.alerts.sinks.is_empty() {
            tracing::warn!(
                "no Slack or Teams destination is configured; messages are printed on stdout"
            );
        }
        adapters
            .built_sinks
            .push(Arc::new(ConsoleSink::new(RiskLevel::Low)));
    }
    let poll_now = Arc::new(tokio::sync::Notify::new());
    adapters.poll_trigger = Some(Arc::new(PollSignal(poll_now.clone())));
    let fleet = riskrelay::fleet::Fleet::<riskrelay::app::ServiceParts>::build(
        &settings,
        adapters,
        mode,
        riskrelay::fleet::concurrency(&env)?,
    )?
    .delivering();
    if mode == Mode::Registry {
        let n = fleet.registry().await?.tenants.len();
        if n == 0 {
            tracing::warn!(
                "RISKRELAY_TENANTS=registry and no tenant is registered yet (riskrelay tenants add)"
            );
        }
        tracing::info!(tenants = n, "watching the registered tenants");
    }
    let webhook = settings
        .client_states
        .clone()
        .map(|client_states| match mode {
            Mode::Config => riskrelay::source::webhook::Tenants::One(WebhookConfig {
                tenant_id: settings.tenant(),
                client_states,
            }),
            Mode::Registry => riskrelay::source::webhook::Tenants::Registry(Arc::new(
                riskrelay::source::webhook::RegisteredTenants::new(client_states, store.clone()),
            )),
        });
    if webhook.is_none() {
        tracing::info!("webhook disabled: RISKRELAY_CLIENT_STATE is not set");
    }
    let slack = riskrelay::actions::slack::SlackInteractions::load(
        &riskrelay::config::EnvSecrets(&env),
        fleet.clock().clone(),
    )?
    .map(Arc::new);
    let svc = Arc::new(Service {
        slack,
        fleet: Arc::new(fleet),
        listen,
        metrics: riskrelay::metrics::endpoint::Access::load(
            &env,
            &riskrelay::config::EnvSecrets(&env),
        )?,
        webhook,
        schedule,
        poll_now,
    });

    if once {
        let report = svc.once().await;
        for f in &report.failures {
            tracing::error!("{f}");
        }
        return Ok(if report.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tick = env.or(
        "RISKRELAY_SIMULATE_TICK_SECONDS",
        "seconds, 1 to 3600",
        SIMULATED_TICK,
        riskrelay::config::seconds(1..=3600),
    )?;
    let ticker = (!sims.is_empty()).then(|| {
        tokio::spawn(async move {
            let mut step = 0;
            loop {
                tokio::time::sleep(tick).await;
                for sim in &sims {
                    scenario::tick(sim, step);
                }
                step += 1;
            }
        })
    });
    let running = tokio::spawn(svc.run(stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    if let Some(t) = ticker {
        t.abort();
    }
    running.await??;
    Ok(ExitCode::SUCCESS)
}

/// How often `run --simulate` moves its simulated tenant's story on, unless
/// `RISKRELAY_SIMULATE_TICK_SECONDS` says otherwise.
const SIMULATED_TICK: Duration = Duration::from_secs(30);
