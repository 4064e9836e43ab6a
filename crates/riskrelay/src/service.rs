//! `riskrelay run`: the self-hosted service in one process — the webhook server, a scheduler
//! (poll, posture, subscription upkeep), the worker, an in-process queue and the SQLite store.
//!
//! Durability without a queue service: the poll cycle hands its observations to the worker
//! directly ([`crate::queue::inline::InlineQueue`]) and advances the checkpoint only after every one was processed, so
//! a crash or a stop mid-cycle makes the next start re-read the same window; delivery records and
//! last-seen state in SQLite make that re-read post only what had not been posted. Webhook hints
//! go through an in-memory channel: they are wake-ups, and a lost one is caught by the next poll.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};

use crate::app::ServiceParts;
use crate::fleet::{Done, Fleet, FleetQueue, Job, TenantRun};
use crate::queue::Queue;
use crate::queue::hints::{self, HintQueue};
use crate::source::poll::PollTrigger;
use crate::source::webhook::Webhook;

/// The longest a poll cycle or posture check may run by default (`RISKRELAY_JOB_DEADLINE_MINUTES`):
/// well below "stuck". A poll window that cannot be read by then is cut, and caught up over the
/// next cycles (see [`crate::source::poll::Poller::poll_until`]).
pub const JOB_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Past its deadline a poll cycle finishes handing on the page in flight; this long at most.
const DEADLINE_BACKSTOP: Duration = Duration::from_secs(120);
/// How long a stop waits for the job in progress before abandoning it (systemd and container
/// runtimes send SIGKILL after 30 s or so by default anyway).
pub const STOP_GRACE: Duration = Duration::from_secs(25);

/// Webhook hints handed to the worker at a time.
const HINT_BATCH: usize = 20;

/// How often each job runs.
#[derive(Debug, Clone)]
pub struct Intervals {
    pub poll: Duration,
    pub posture: Duration,
    pub subscriptions: Duration,
    /// The longest one poll cycle or posture check runs.
    pub job_deadline: Duration,
}

impl Intervals {
    /// `RISKRELAY_POLL_INTERVAL_SECONDS` and `RISKRELAY_POSTURE_INTERVAL_SECONDS`.
    pub fn load(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        let default = Self::default();
        Ok(Self {
            poll: env.or(
                "RISKRELAY_POLL_INTERVAL_SECONDS",
                "seconds, 30 to 86400",
                default.poll,
                crate::config::seconds(30..=86_400),
            )?,
            posture: env.or(
                "RISKRELAY_POSTURE_INTERVAL_SECONDS",
                "seconds, 60 to 86400",
                default.posture,
                crate::config::seconds(60..=86_400),
            )?,
            subscriptions: default.subscriptions,
            job_deadline: env.or(
                "RISKRELAY_JOB_DEADLINE_MINUTES",
                "minutes, 1 to 240",
                default.job_deadline,
                crate::config::minutes(1..=240),
            )?,
        })
    }
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(120),
            posture: Duration::from_secs(900),
            subscriptions: Duration::from_secs(6 * 3600),
            job_deadline: JOB_DEADLINE,
        }
    }
}

/// The running service: the tenants' parts (a [`Fleet`] of [`ServiceParts`]), where the webhook listens (when a `clientState` is configured)
/// and the schedule.
pub struct Service {
    pub fleet: Arc<Fleet<ServiceParts>>,
    /// Where the webhook, the action pages, `/healthz` and `/metrics` listen.
    pub listen: SocketAddr,
    /// Who may read `/metrics`.
    pub metrics: crate::metrics::endpoint::Access,
    /// What the webhook verifies with; `None`: no webhook.
    pub webhook: Option<crate::source::webhook::Tenants>,
    pub schedule: Intervals,
    /// Woken by a `missed` lifecycle event: the scheduler polls at once.
    pub poll_now: Arc<Notify>,
    /// Slack's interactivity Request URL, when the Slack app's signing secret is set.
    pub slack: Option<Arc<crate::actions::slack::SlackInteractions>>,
}

/// What `--once` did.
#[derive(Debug, Default)]
pub struct OnceReport {
    /// The highest posture exit code among the tenants.
    pub posture_exit: u8,
    /// Each tenant's poll cycle that ran.
    pub polls: Vec<crate::source::poll::PollReport>,
    pub failures: Vec<String>,
}

/// "tenant name: " for the MSP mode's messages, nothing for one tenant.
fn who(run: &TenantRun) -> String {
    match &run.name {
        Some(name) => format!("{name} ({}): ", run.tenant),
        None => String::new(),
    }
}

/// The highest posture exit code among the tenants.
fn worst_exit(runs: &[TenantRun]) -> u8 {
    runs.iter()
        .filter_map(|r| match r.result {
            Ok(Done::Posture(code)) => Some(code),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The poll cycles that ran.
fn polls(runs: Vec<TenantRun>) -> Vec<crate::source::poll::PollReport> {
    runs.into_iter()
        .filter_map(|r| match r.result {
            Ok(Done::Poll(p)) => Some(p),
            _ => None,
        })
        .collect()
}

/// Each tenant's failure as a line.
fn failures(job: &str, runs: &[TenantRun]) -> Vec<String> {
    runs.iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .err()
                .map(|e| format!("{job}: {}{e}", who(r)))
        })
        .collect()
}

/// Asks the scheduler for an immediate poll (a `missed` lifecycle event).
pub struct PollSignal(pub Arc<Notify>);

#[async_trait]
impl PollTrigger for PollSignal {
    async fn poll_now(&self, _reason: &str) -> Result<(), crate::store::StoreError> {
        self.0.notify_one();
        Ok(())
    }
}

impl Service {
    /// A job for every tenant, within the job deadline. A job past it is dropped as a crash
    /// would drop it: the next one re-reads the window while delivery records post nothing twice.
    async fn job(&self, job: Job) -> Result<Vec<TenantRun>, String> {
        let deadline = self.schedule.job_deadline;
        let backstop = match job {
            Job::Poll(_) => deadline + DEADLINE_BACKSTOP,
            _ => deadline,
        };
        let job = match job {
            // Each cycle stops reading at its deadline with the checkpoint kept.
            Job::Poll(_) => Job::Poll(Some(tokio::time::Instant::now() + deadline)),
            other => other,
        };
        match tokio::time::timeout(backstop, self.fleet.each(job)).await {
            Ok(r) => r.map_err(|e| format!("{e:#}")),
            Err(_) => Err(format!(
                "the job passed its {} minute deadline and was stopped",
                deadline.as_secs() / 60
            )),
        }
    }

    /// Runs the posture checks of every tenant and hands their alerts to the worker; each
    /// tenant's episode state is saved only once they went through. The highest exit code.
    pub async fn posture_job(&self) -> Result<u8, String> {
        let runs = self.job(Job::Posture).await?;
        report("posture check", &runs)?;
        Ok(worst_exit(&runs))
    }

    async fn poll(&self) -> Result<Vec<crate::source::poll::PollReport>, String> {
        let runs = self.job(Job::Poll(None)).await?;
        report("poll cycle", &runs)?;
        Ok(polls(runs))
    }

    async fn upkeep(&self) -> Result<(), String> {
        let runs = self.job(Job::Subscriptions).await?;
        report("subscription upkeep", &runs)
    }

    /// One posture check and one poll cycle per tenant, with their deliveries.
    pub async fn once(&self) -> OnceReport {
        let mut report = OnceReport::default();
        match self.job(Job::Posture).await {
            Ok(runs) => {
                report.failures.extend(failures("posture check", &runs));
                report.posture_exit = worst_exit(&runs);
            }
            Err(e) => report.failures.push(format!("posture check: {e}")),
        }
        match self.job(Job::Poll(None)).await {
            Ok(runs) => {
                report.failures.extend(failures("poll", &runs));
                report.polls = polls(runs);
            }
            Err(e) => report.failures.push(format!("poll: {e}")),
        }
        report
    }

    /// Runs until `stop` turns true. A job in progress finishes first.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        let hints = HintQueue::new(hints::DEFAULT_CAPACITY);
        let mut routes = crate::server::Routes::default();
        if let Some(tenants) = &self.webhook {
            routes = routes.fallback(Arc::new(
                Webhook::for_tenants(tenants.clone(), Arc::new(hints.clone()))
                    .knowing(self.fleet.store().clone())
                    .with_clock(self.fleet.clock().clone()),
            ));
        }
        if self.fleet.mode() == crate::tenancy::Mode::Registry {
            routes = routes.prefix("/consent", Arc::new(ConsentLanding));
        }
        let actions = self.fleet.action_pages();
        if let Some(actions) = &actions {
            routes = routes
                .prefix("/actions/", actions.clone())
                .prefix("/status", actions.clone());
        }
        if let Some(slack) = &self.slack {
            routes = routes.prefix(crate::actions::slack::PATH, slack.clone());
        }
        // Answered here rather than by the webhook, so that it says whether the schedule runs.
        let scheduling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        routes = routes
            .prefix("/healthz", Arc::new(Health(scheduling.clone())))
            .prefix(
                "/metrics",
                Arc::new(crate::metrics::endpoint::Endpoint(self.metrics.clone())),
            );
        {
            let listener = crate::server::bind(self.listen).await?;
            tracing::info!(address = %listener.local_addr()?, webhook = self.webhook.is_some(), actions = actions.is_some(), slack_interactivity = self.slack.is_some(), "listening");
            let mut s = stop.clone();
            tasks.spawn(crate::server::serve(
                listener,
                Arc::new(routes),
                async move { stopped(&mut s).await },
            ));
        }
        if self.webhook.is_some() {
            let inline = FleetQueue(self.fleet.clone());
            let mut s = stop.clone();
            tasks.spawn(async move {
                loop {
                    let batch = tokio::select! {
                        b = hints.next_batch(HINT_BATCH) => b,
                        () = stopped(&mut s) => None,
                    };
                    let Some(batch) = batch else { break };
                    // Hints are wake-ups: a stop does not wait for them (each costs up to two
                    // identity-protection reads, a second apart); the next poll re-reads the users.
                    tokio::select! {
                        r = inline.enqueue(batch) => if let Err(e) = r {
                            tracing::warn!(error = %e, "webhook hints dropped after retries; the next poll re-reads those users");
                        },
                        () = stopped(&mut s) => {
                            tracing::info!(waiting = hints.len(), "stopping: webhook hints in progress are left to the next poll");
                            break;
                        }
                    }
                }
                hints.close();
            });
        }
        let me = self.clone();
        let trigger = self.poll_now.clone();
        let mut s = stop.clone();
        let alive = Alive(scheduling);
        tasks.spawn(async move {
            // Says "not running" however this task ends, a panic included.
            let _alive = alive;
            let mut poll = tokio::time::interval(me.schedule.poll);
            let mut posture = tokio::time::interval(me.schedule.posture);
            let mut subs = tokio::time::interval(me.schedule.subscriptions);
            for i in [&mut poll, &mut posture, &mut subs] {
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            loop {
                tokio::select! {
                    biased;
                    () = stopped(&mut s) => break,
                    _ = posture.tick() => {
                        let job = me.clone();
                        if let Err(e) = guarded("posture check", &s, async move { job.posture_job().await.map(|_| ()) }).await {
                            tracing::error!(error = %e, "posture check failed");
                        }
                    }
                    _ = poll.tick() => {
                        let job = me.clone();
                        if let Err(e) = guarded("poll cycle", &s, async move { job.poll().await.map(|_| ()) }).await {
                            tracing::error!(error = %e, "poll cycle failed; the next one re-reads the window");
                        }
                    }
                    _ = trigger.notified() => {
                        let job = me.clone();
                        if let Err(e) = guarded("poll cycle", &s, async move { job.poll().await.map(|_| ()) }).await {
                            tracing::error!(error = %e, "poll cycle failed");
                        }
                    }
                    _ = subs.tick() => {
                        if me.webhook.is_some() {
                            let job = me.clone();
                            if let Err(e) = guarded("subscription upkeep", &s, async move { job.upkeep().await }).await {
                                tracing::error!(error = %e, "subscription upkeep failed");
                            }
                        }
                    }
                }
            }
        });
        stopped(&mut stop).await;
        tracing::info!("stopping: letting the job in progress finish");
        let finished = tokio::time::timeout(STOP_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "the job in progress did not finish within {} s of the stop; it is abandoned and the next start redoes it",
                STOP_GRACE.as_secs()
            );
            tasks.abort_all();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Where a tenant's administrator lands after the admin-consent page (the default redirect URI of
/// `riskrelay tenants add`). It says what happens next and echoes nothing from the request but an
/// error code: the grant itself is confirmed by the next token riskrelay gets for the tenant.
struct ConsentLanding;

/// Longest error code the consent page repeats.
const CONSENT_ERROR_MAX: usize = 64;

/// What the admin-consent redirect says. Microsoft's error answer carries `admin_consent=True`
/// too, beside `error` and `error_description` (identity platform "admin consent" docs), so the
/// error is read first.
fn consent_answer(query: Option<&str>) -> String {
    let pairs: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(error) = get("error") {
        // An error code is letters, digits and underscores (`consent_required`,
        // `access_denied`); anything else is not repeated.
        let code = if !error.is_empty()
            && error.len() <= CONSENT_ERROR_MAX
            && error.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            error
        } else {
            "unrecognised"
        };
        return format!(
            "Consent was not granted (Microsoft answered with the error {code}). Ask your service provider for the consent link again, and sign in as a Global Administrator or Privileged Role Administrator of your tenant.\n"
        );
    }
    if get("admin_consent").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return "Thank you: riskrelay has been granted access. It confirms the grant at its next poll cycle; your service provider sees the tenant as granted in riskrelay tenants list.\n".into();
    }
    "Access was not granted. Ask your service provider for the consent link again, and sign in as a Global Administrator or Privileged Role Administrator of your tenant.\n".into()
}

#[async_trait]
impl crate::server::HttpApp for ConsentLanding {
    async fn handle(&self, req: http::Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
        let mut res = crate::source::webhook::text_response(
            http::StatusCode::OK,
            bytes::Bytes::from(consent_answer(req.uri().query())),
        );
        res.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    }
}

/// Runs one scheduled job as a task of its own, stoppable (a stop cuts its waits short and starts
/// no new request, so it ends in moments with nothing half-done). A panic in it is logged and
/// counted as a failed job: the schedule goes on, and the next tick runs the job again.
async fn guarded(
    job: &'static str,
    stop: &watch::Receiver<bool>,
    work: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
) -> Result<(), String> {
    match tokio::spawn(crate::http::stoppable(stop.clone(), work)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            let what = e
                .into_panic()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!(job, panic = %crate::redact::scrub(&what), "a scheduled job panicked; it counts as failed and the schedule goes on");
            Err(format!("the {job} stopped on an internal error"))
        }
        Err(_) => Err(format!("the {job} was cancelled")),
    }
}

/// Clears the "scheduler running" flag when dropped, however the scheduler ends.
struct Alive(Arc<std::sync::atomic::AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `GET /healthz` of `riskrelay run`: 200 while the scheduler runs, 503 once it has stopped (a
/// process that answers but no longer polls is not healthy).
struct Health(Arc<std::sync::atomic::AtomicBool>);

impl Health {
    fn running(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl crate::server::HttpApp for Health {
    async fn handle(&self, req: http::Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
        if req.uri().path() != "/healthz" {
            return crate::api_error::ApiError::NotFound.into_response();
        }
        if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
            return crate::api_error::ApiError::MethodNotAllowed.into_response();
        }
        let (status, text): (_, &'static [u8]) = if self.running() {
            (http::StatusCode::OK, b"ok")
        } else {
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                b"the scheduler is not running: no poll, posture check or delivery happens",
            )
        };
        let mut res =
            crate::source::webhook::text_response(status, bytes::Bytes::from_static(text));
        res.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    }
}

/// One line per tenant that failed, as one error (each tenant's failure is its own; the others
/// ran).
fn report(job: &str, runs: &[TenantRun]) -> Result<(), String> {
    let lines = failures(job, runs);
    if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("; "))
    }
}

/// Completes once the stop flag is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::HttpApp as _;

    #[tokio::test]
    async fn a_panicking_job_is_a_failed_job_and_the_next_one_runs() {
        let (_tx, stop) = watch::channel(false);
        let err = guarded("poll cycle", &stop, async {
            if stop_never() {
                return Ok(());
            }
            panic!("overflow when converting float to duration")
        })
        .await
        .unwrap_err();
        assert_eq!(err, "the poll cycle stopped on an internal error");
        assert_eq!(guarded("poll cycle", &stop, async { Ok(()) }).await, Ok(()));
        assert_eq!(
            guarded("poll cycle", &stop, async { Err("Graph: 503".to_string()) }).await,
            Err("Graph: 503".to_string())
        );
    }

    /// Keeps the compiler from seeing that the job above always panics.
    fn stop_never() -> bool {
        std::env::var_os("RISKRELAY_NEVER_SET_THIS").is_some()
    }

    #[tokio::test]
    async fn healthz_says_whether_the_scheduler_runs() {
        let get = |path: &str| {
            http::Request::builder()
                .uri(path)
                .body(bytes::Bytes::new())
                .unwrap()
        };
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let health = Health(flag.clone());
        assert_eq!(health.handle(get("/healthz")).await.status(), 200);
        drop(Alive(flag));
        let res = health.handle(get("/healthz")).await;
        assert_eq!(res.status(), 503);
        assert!(String::from_utf8_lossy(res.body()).contains("scheduler is not running"));
        assert_eq!(health.handle(get("/healthz/x")).await.status(), 404);
    }

    #[tokio::test]
    async fn the_consent_landing_says_what_happened_and_echoes_nothing() {
        let ask = |query: &str| {
            let req = http::Request::builder()
                .uri(format!("/consent?{query}"))
                .body(bytes::Bytes::new())
                .unwrap();
            async move {
                let res = ConsentLanding.handle(req).await;
                String::from_utf8(res.body().to_vec()).unwrap()
            }
        };
        let granted =
            ask("admin_consent=True&tenant=8d6a3c1e-2f4b-4c5d-9e6f-7a8b9c0d1e2f&state=%3Cb%3Ex%3C%2Fb%3E")
                .await;
        assert!(granted.starts_with("Thank you"), "{granted}");
        assert!(!granted.contains("8d6a3c1e") && !granted.contains('<'));
        let refused =
            ask("error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
        assert!(refused.starts_with("Consent was not granted"), "{refused}");
        assert!(refused.contains("access_denied") && !refused.contains("script"));
        // Microsoft's error answer carries admin_consent=True as well: not a grant.
        let failed = ask("admin_consent=True&error=consent_required&error_description=AADSTS65004%3A+User+declined&state=x").await;
        assert!(failed.starts_with("Consent was not granted"), "{failed}");
        assert!(failed.contains("consent_required") && !failed.contains("AADSTS65004"));
        let odd = ask("admin_consent=True&error=%3Cb%3Enope%3C%2Fb%3E").await;
        assert!(odd.contains("unrecognised") && !odd.contains('<'), "{odd}");
        let nothing = ask("").await;
        assert!(nothing.starts_with("Access was not granted"), "{nothing}");
    }
}
