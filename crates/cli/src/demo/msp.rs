//! Chapter 9 (`--tenants N`): one deployment watching many simulated customer tenants.

use riskrelay::app::{Adapters, Settings};
use riskrelay::store::memory::MemoryStore;
use riskrelay_sim::{DetectionSpec, SimConfig, SimUser, Simulator};
use std::sync::Arc;
use std::time::Duration;

/// The MSP chapter: `n` simulated tenants of their own (a store of their own too), registered
/// as `riskrelay tenants add` would, their baselines taken quietly, then one cycle over all.
pub(super) async fn msp_chapter(
    settings: &Settings,
    sinks: Vec<Arc<dyn riskrelay::sink::Sink>>,
    n: usize,
    print: bool,
) -> anyhow::Result<()> {
    use riskrelay::fleet::{Fleet, Job};
    let sims = Simulator::start_many((1..=n).map(SimConfig::tenant).collect()).await?;
    let mut settings = settings.clone();
    settings.graph = sims[0].graph_config();
    settings.graph.identity_protection_rps = 50.0;
    settings.actions = None;
    settings.summary = riskrelay::summary::Schedule::Off;
    let store: Arc<dyn riskrelay::store::Store> = Arc::new(MemoryStore::default());
    riskrelay_sim::scenario::register_tenants(store.as_ref(), &sims).await?;
    let fleet = |settings: &Settings, sinks: Vec<Arc<dyn riskrelay::sink::Sink>>| {
        let mut adapters = Adapters::new(store.clone());
        adapters.inline_retry.base_delay = Duration::from_millis(200);
        adapters.built_sinks = sinks;
        Fleet::<riskrelay::app::ServiceParts>::build(
            settings,
            adapters,
            riskrelay::tenancy::Mode::Registry,
            n,
        )
        .map(Fleet::delivering)
    };
    // Every tenant's first posture check and baseline ("riskrelay is watching"), to no
    // destination: the story is what happens next.
    let mut quiet = settings.clone();
    quiet.alerts.sinks.clear();
    let quiet = fleet(&quiet, Vec::new())?;
    for job in [Job::Posture, Job::Poll(None)] {
        for run in quiet.each(job).await? {
            run.result
                .map_err(|e| anyhow::anyhow!("baseline of {:?}: {e}", run.name))?;
        }
    }
    let contoso = sims[0].add_user(
        SimUser::new(
            riskrelay_sim::scenario::user_id(400),
            "Pradeep Gupta",
            "pradeepg",
        )
        .synced(),
    );
    sims[0].detect(contoso, DetectionSpec::leaked_credentials());
    sims[1].set_consent(false);
    let started = std::time::Instant::now();
    let runs = fleet(&settings, sinks)?.each(Job::Poll(None)).await?;
    if print {
        let worked = runs.iter().filter(|r| r.result.is_ok()).count();
        println!(
            "{n} tenants polled side by side in {:.1} s: {worked} worked, {} refused riskrelay.",
            started.elapsed().as_secs_f64(),
            n - worked
        );
    }
    Ok(())
}
