//! riskrelay's own figures, kept once per process and read two ways: `GET /metrics` on
//! `riskrelay run` (OpenMetrics text, encoded by the Prometheus project's `prometheus-client`),
//! and CloudWatch Embedded Metric Format lines a Lambda function writes to its log at the end of
//! each invocation ([`Metrics::take_emf`]): the same events, counted since the last flush.
//!
//! Labels carry no user data: a tenant id, a destination's configured name, a budget name, a
//! result. One process-wide set ([`global`]), as the figures are the process's, whichever part
//! records them.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use time::OffsetDateTime;

use crate::ids::TenantId;

pub mod endpoint;

/// CloudWatch namespace of the EMF figures (the dashboard and alarms in `template.yaml` read it).
pub const NAMESPACE: &str = "riskrelay";

/// Every metric name the EMF lines carry (the template's dashboard and alarms may name no other).
pub const EMF_NAMES: &[&str] = &[
    "PollCycles",
    "PollSucceeded",
    "PollFailed",
    "PollCycleDuration",
    "CheckpointLag",
    "IdentityProtectionRequests",
    "GraphThrottled",
    "BatchRequests",
    "AlertsDelivered",
    "AlertsFailed",
    "AlertsParked",
    "Tenants",
];

/// Dimensioned figures an alarm watches, published without their dimension too.
const ALARMED: &[&str] = &["AlertsFailed"];

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cycle {
    tenant: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tenant {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Budget {
    budget: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Destination {
    destination: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Consent {
    tenant: String,
    state: &'static str,
}

/// What a delivery attempt came to, per destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Failed,
    Parked,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Parked => "parked",
        }
    }

    fn emf_name(self) -> &'static str {
        match self {
            Self::Delivered => "AlertsDelivered",
            Self::Failed => "AlertsFailed",
            Self::Parked => "AlertsParked",
        }
    }
}

use crate::tenancy::Consent as ConsentState;

const CONSENT_STATES: [ConsentState; 3] = [
    ConsentState::Pending,
    ConsentState::Granted,
    ConsentState::Lost,
];

/// An EMF line's one dimension besides the function (`Tenant`, `Destination`), with its value.
type Dimension = Option<(&'static str, String)>;

/// EMF figures waiting for the next flush: (dimension, metric name) → value.
type Pending = BTreeMap<(Dimension, &'static str), EmfValue>;

#[derive(Debug, Clone, Copy)]
enum EmfValue {
    Sum(f64, &'static str),
    Last(f64, &'static str),
}

pub struct Metrics {
    registry: Registry,
    poll_cycles: Family<Cycle, Counter>,
    last_success: Family<Tenant, Gauge<f64, AtomicU64>>,
    cycle_seconds: Histogram,
    checkpoint_lag: Family<Tenant, Gauge<f64, AtomicU64>>,
    graph_requests: Family<Budget, Counter>,
    graph_throttled: Family<Budget, Counter>,
    batch_requests: Counter,
    alerts: Family<Destination, Counter>,
    hint_queue: Gauge,
    consent: Family<Consent, Gauge>,
    emf: Mutex<Pending>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("riskrelay");
        let poll_cycles = Family::<Cycle, Counter>::default();
        registry.register(
            "poll_cycles",
            "Poll cycles run, by tenant and result (ok or error)",
            poll_cycles.clone(),
        );
        let last_success = Family::<Tenant, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_successful_poll_timestamp_seconds",
            "When the tenant's last poll cycle succeeded (Unix time)",
            last_success.clone(),
        );
        // 0.25 s to about 17 minutes: a quiet cycle takes a few seconds, a large window minutes.
        let cycle_seconds = Histogram::new(exponential_buckets(0.25, 2.0, 13));
        registry.register(
            "poll_cycle_duration_seconds",
            "How long poll cycles took, successful or not",
            cycle_seconds.clone(),
        );
        let checkpoint_lag = Family::<Tenant, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "checkpoint_lag_seconds",
            "How far the tenant's checkpoint was behind the clock when its last cycle ended",
            checkpoint_lag.clone(),
        );
        let graph_requests = Family::<Budget, Counter>::default();
        registry.register(
            "graph_requests",
            "Graph requests sent, by budget (identity_protection: 1 request/s per tenant)",
            graph_requests.clone(),
        );
        let graph_throttled = Family::<Budget, Counter>::default();
        registry.register(
            "graph_throttled",
            "Graph answers of 429 Too Many Requests, by budget",
            graph_throttled.clone(),
        );
        let batch_requests = Counter::default();
        registry.register(
            "graph_batch_requests",
            "Graph $batch requests sent (each carries up to 20 reads)",
            batch_requests.clone(),
        );
        let alerts = Family::<Destination, Counter>::default();
        registry.register(
            "alerts",
            "Messages by destination and outcome (delivered, failed, parked)",
            alerts.clone(),
        );
        let hint_queue = Gauge::default();
        registry.register(
            "hint_queue_depth",
            "Webhook hints waiting for the worker",
            hint_queue.clone(),
        );
        let consent = Family::<Consent, Gauge>::default();
        registry.register(
            "tenant_consent",
            "1 for each registered tenant's consent state (registry mode)",
            consent.clone(),
        );
        Self {
            registry,
            poll_cycles,
            last_success,
            cycle_seconds,
            checkpoint_lag,
            graph_requests,
            graph_throttled,
            batch_requests,
            alerts,
            hint_queue,
            consent,
            emf: Mutex::new(BTreeMap::new()),
        }
    }

    fn emf_add(&self, dim: Dimension, name: &'static str, value: EmfValue) {
        let mut pending = self.emf.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.entry((dim, name)).or_insert(match value {
            EmfValue::Sum(_, unit) => EmfValue::Sum(0.0, unit),
            v => v,
        });
        *entry = match (*entry, value) {
            (EmfValue::Sum(a, unit), EmfValue::Sum(b, _)) => EmfValue::Sum(a + b, unit),
            (_, v) => v,
        };
    }

    /// A poll cycle ended: `checkpoint` is where it left the window when it succeeded.
    pub fn poll_cycle(
        &self,
        tenant: TenantId,
        checkpoint: Option<OffsetDateTime>,
        took: Duration,
        now: OffsetDateTime,
    ) {
        let t = tenant.to_string();
        let result = if checkpoint.is_some() { "ok" } else { "error" };
        self.poll_cycles
            .get_or_create(&Cycle {
                tenant: t.clone(),
                result,
            })
            .inc();
        self.cycle_seconds.observe(took.as_secs_f64());
        self.emf_add(None, "PollCycles", EmfValue::Sum(1.0, "Count"));
        self.emf_add(
            None,
            "PollCycleDuration",
            EmfValue::Last(took.as_secs_f64(), "Seconds"),
        );
        match checkpoint {
            Some(cp) => {
                let tenant = Tenant { tenant: t };
                self.last_success
                    .get_or_create(&tenant)
                    .set(now.unix_timestamp() as f64);
                let lag = (now - cp).as_seconds_f64().max(0.0);
                self.checkpoint_lag.get_or_create(&tenant).set(lag);
                // Without a dimension too: the dead-man alarm watches the deployment as a whole.
                self.emf_add(None, "PollSucceeded", EmfValue::Sum(1.0, "Count"));
                // No tenant dimension in CloudWatch: each would be a metric billed every month
                // (a thousand tenants, a thousand metrics); the dashboard shows the worst.
                self.emf_add(None, "CheckpointLag", EmfValue::Last(lag, "Seconds"));
            }
            None => self.emf_add(None, "PollFailed", EmfValue::Sum(1.0, "Count")),
        }
    }

    /// A Graph request sent under `budget` (`identity_protection`, `directory`, `other`).
    pub fn graph_request(&self, budget: &'static str) {
        self.graph_requests.get_or_create(&Budget { budget }).inc();
        if budget == "identity_protection" {
            self.emf_add(
                None,
                "IdentityProtectionRequests",
                EmfValue::Sum(1.0, "Count"),
            );
        }
    }

    pub fn graph_throttled(&self, budget: &'static str) {
        self.graph_throttled.get_or_create(&Budget { budget }).inc();
        self.emf_add(None, "GraphThrottled", EmfValue::Sum(1.0, "Count"));
    }

    pub fn batch_request(&self) {
        self.batch_requests.inc();
        self.emf_add(None, "BatchRequests", EmfValue::Sum(1.0, "Count"));
    }

    /// `n` messages to `destination` came to `outcome`.
    pub fn alerts(&self, destination: &str, outcome: Outcome, n: u64) {
        if n == 0 {
            return;
        }
        self.alerts
            .get_or_create(&Destination {
                destination: destination.to_string(),
                outcome: outcome.name(),
            })
            .inc_by(n);
        self.emf_add(
            Some(("Destination", destination.to_string())),
            outcome.emf_name(),
            EmfValue::Sum(n as f64, "Count"),
        );
    }

    pub fn hint_queue_depth(&self, n: usize) {
        self.hint_queue.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The tenant's consent state is `state`: 1 for it, 0 for the others, so a change leaves
    /// no stale 1 behind.
    pub fn consent(&self, tenant: TenantId, state: ConsentState) {
        for s in CONSENT_STATES {
            self.consent
                .get_or_create(&Consent {
                    tenant: tenant.to_string(),
                    state: s.name(),
                })
                .set(i64::from(s == state));
        }
        self.emf_add(
            Some(("Consent", state.name().to_string())),
            "Tenants",
            EmfValue::Sum(1.0, "Count"),
        );
    }

    /// The OpenMetrics text of every figure.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an error would only leave the text short.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }

    /// The figures recorded since the last call, as CloudWatch Embedded Metric Format lines (one
    /// per dimension), stamped `now`; empty when nothing was recorded. Each dimension set is a
    /// metric CloudWatch bills for, so figures carry at most one small dimension (a destination,
    /// a consent state), and those an alarm watches ([`ALARMED`]) are also published without it
    /// (an alarm cannot search across dimensions). The function is a plain member, for searching
    /// the logs.
    pub fn take_emf(&self, function: &str, now: OffsetDateTime) -> Vec<String> {
        let pending = std::mem::take(&mut *self.emf.lock().unwrap_or_else(|e| e.into_inner()));
        let mut by_dim: BTreeMap<Dimension, Vec<(&'static str, EmfValue)>> = BTreeMap::new();
        for ((dim, name), v) in pending {
            by_dim.entry(dim).or_default().push((name, v));
        }
        let ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        by_dim
            .into_iter()
            .map(|(dim, figures)| {
                let mut dims: Vec<Vec<&str>> = Vec::new();
                let mut line = serde_json::Map::new();
                line.insert("Function".into(), function.into());
                match &dim {
                    Some((name, value)) => {
                        dims.push(vec![*name]);
                        if figures.iter().any(|(n, _)| ALARMED.contains(n)) {
                            dims.push(Vec::new());
                        }
                        line.insert((*name).into(), value.clone().into());
                    }
                    None => dims.push(Vec::new()),
                }
                let mut defs = Vec::new();
                for (name, v) in figures {
                    let (value, unit) = match v {
                        EmfValue::Sum(x, u) | EmfValue::Last(x, u) => (x, u),
                    };
                    defs.push(serde_json::json!({ "Name": name, "Unit": unit }));
                    line.insert(name.into(), value.into());
                }
                line.insert(
                    "_aws".into(),
                    serde_json::json!({
                        "Timestamp": ms,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": dims,
                            "Metrics": defs,
                        }],
                    }),
                );
                serde_json::Value::Object(line).to_string()
            })
            .collect()
    }
}

/// The process's figures.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap()
    }

    #[test]
    fn the_text_names_each_figure_with_its_prefix_and_counts_what_was_recorded() {
        let m = Metrics::new();
        let now = OffsetDateTime::now_utc();
        m.poll_cycle(tenant(), Some(now), Duration::from_secs(2), now);
        m.poll_cycle(tenant(), None, Duration::from_secs(1), now);
        m.alerts("slack", Outcome::Delivered, 3);
        let text = m.encode();
        assert!(
            text.contains(
                "riskrelay_poll_cycles_total{tenant=\"11111111-2222-3333-4444-555555555555\",result=\"ok\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("riskrelay_alerts_total{destination=\"slack\",outcome=\"delivered\"} 3"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn every_name_an_emf_line_carries_is_listed() {
        let m = Metrics::new();
        let now = OffsetDateTime::now_utc();
        m.poll_cycle(tenant(), Some(now), Duration::from_secs(1), now);
        m.poll_cycle(tenant(), None, Duration::from_secs(1), now);
        m.graph_request("identity_protection");
        m.graph_throttled("identity_protection");
        m.batch_request();
        for o in [Outcome::Delivered, Outcome::Failed, Outcome::Parked] {
            m.alerts("slack", o, 1);
        }
        m.consent(tenant(), ConsentState::Granted);
        let mut seen = std::collections::BTreeSet::new();
        for line in m.take_emf("test", now) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            for metric in v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                seen.insert(metric["Name"].as_str().unwrap().to_string());
            }
        }
        let listed: std::collections::BTreeSet<String> =
            EMF_NAMES.iter().map(|s| s.to_string()).collect();
        assert_eq!(seen, listed);
    }

    #[test]
    fn emf_lines_sum_counts_since_the_last_flush_and_then_start_again() {
        let m = Metrics::new();
        m.alerts("teams", Outcome::Failed, 2);
        m.alerts("teams", Outcome::Failed, 1);
        m.alerts("slack", Outcome::Delivered, 1);
        m.graph_request("identity_protection");
        let lines = m.take_emf("worker", OffsetDateTime::now_utc());
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        let by_dest = parsed.iter().find(|v| v["Destination"] == "teams").unwrap();
        let slack = parsed.iter().find(|v| v["Destination"] == "slack").unwrap();
        assert_eq!(
            slack["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Destination"]]),
            "delivered counts are not alarmed: no total published"
        );
        assert_eq!(by_dest["AlertsFailed"], 3.0);
        assert_eq!(
            by_dest["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Destination"], []])
        );
        assert_eq!(by_dest["Function"], "worker");
        assert!(m.take_emf("worker", OffsetDateTime::now_utc()).is_empty());
    }
}
