//! A simulated Entra tenant: a token endpoint, an interactive sign-in for analysts
//! ([`signin`]), and the Graph endpoints riskrelay uses, served on loopback with Graph's response
//! shapes, paging, `Prefer` handling, enum values and throttling. Its state is scriptable (users,
//! risk changes, detections, the setting, password sync, faults). [`browser`] is a scripted
//! browser for the action pages.
//!
//! `riskrelay demo`, `riskrelay run --simulate` and the integration tests all talk to it through
//! the real HTTP clients.

pub mod browser;
mod filter;
mod http;
mod notify;
pub mod scenario;
mod script;
pub mod signin;
#[cfg(feature = "testkit")]
pub mod testkit;
mod workloads;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use riskrelay::context::{ManagerRef, Registration, UserContext};
use riskrelay::graph::config::{AppSecret, GraphConfig, GraphCredential};
use riskrelay::ids::{SubscriptionId, TenantId, UserId};
use riskrelay::posture::{Organization, SETTING};
use riskrelay::risk::{
    DetectionTimingType, RiskDetection, RiskLevel, RiskUserActivity, RiskyUser,
    RiskyUserHistoryItem, SignInLocation,
};

pub use self::http::SimApp;
pub use self::workloads::SimServicePrincipal;

/// Graph's largest page for the risk endpoints.
pub const MAX_PAGE: usize = 500;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub tenant_id: TenantId,
    pub client_id: uuid::Uuid,
    pub client_secret: String,
    /// Largest page served (Graph: 500); lower it to exercise paging with few items.
    pub max_page: usize,
    /// Answer 429 without Retry-After to identity-protection requests closer than one second
    /// apart, as Graph does per tenant.
    pub enforce_rate_limit: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(
                0x5a5a_5a5a_0000_4000_8000_0000_0000_0001,
            )),
            client_id: uuid::Uuid::from_u128(0x5a5a_5a5a_0000_4000_8000_0000_0000_0002),
            client_secret: "simulated-client-secret".into(),
            max_page: MAX_PAGE,
            enforce_rate_limit: false,
        }
    }
}

/// A user of the simulated directory.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub context: UserContext,
    pub registration: Option<Registration>,
    /// Group ids the user is a transitive member of.
    pub groups: Vec<String>,
    /// Directory role template ids the user holds.
    pub roles: Vec<String>,
}

impl SimUser {
    /// A user with the given name; `upn_local` becomes `{upn_local}@contoso.com`.
    pub fn new(id: UserId, display_name: &str, upn_local: &str) -> Self {
        Self {
            context: UserContext {
                id,
                display_name: Some(display_name.into()),
                user_principal_name: Some(format!("{upn_local}@contoso.com")),
                department: None,
                job_title: None,
                account_enabled: Some(true),
                on_premises_sync_enabled: None,
                manager: None,
                user_type: Some("Member".into()),
            },
            registration: Some(Registration {
                is_mfa_registered: Some(true),
                is_sspr_registered: Some(true),
                is_sspr_enabled: Some(true),
                methods_registered: vec!["microsoftAuthenticatorPush".into()],
                is_passwordless_capable: None,
            }),
            groups: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// A guest (B2B) user.
    pub fn guest(mut self) -> Self {
        self.context.user_type = Some("Guest".into());
        self
    }

    pub fn in_group(mut self, group_id: &str) -> Self {
        self.groups.push(group_id.into());
        self
    }

    pub fn with_role(mut self, role_template_id: &str) -> Self {
        self.roles.push(role_template_id.into());
        self
    }

    /// Registered for MFA and, separately, for self-service password reset.
    pub fn registered(mut self, mfa: bool, sspr: bool) -> Self {
        self.registration = Some(Registration {
            is_mfa_registered: Some(mfa),
            is_sspr_registered: Some(sspr),
            is_sspr_enabled: Some(true),
            methods_registered: Vec::new(),
            is_passwordless_capable: None,
        });
        self
    }

    /// Registered for MFA with these methods (`userRegistrationDetails` names), and able to sign
    /// in without a password or not.
    pub fn with_methods(mut self, methods: &[&str], passwordless: bool) -> Self {
        self.registration = Some(Registration {
            is_mfa_registered: Some(true),
            is_sspr_registered: Some(true),
            is_sspr_enabled: Some(true),
            methods_registered: methods.iter().map(|m| m.to_string()).collect(),
            is_passwordless_capable: Some(passwordless),
        });
        self
    }

    pub fn synced(mut self) -> Self {
        self.context.on_premises_sync_enabled = Some(true);
        self
    }

    pub fn with_job(mut self, department: &str, title: &str) -> Self {
        self.context.department = Some(department.into());
        self.context.job_title = Some(title.into());
        self
    }

    pub fn with_manager(mut self, name: &str, upn: &str) -> Self {
        self.context.manager = Some(ManagerRef {
            display_name: Some(name.into()),
            user_principal_name: Some(upn.into()),
        });
        self
    }

    pub fn unregistered(mut self) -> Self {
        self.registration = Some(Registration {
            is_mfa_registered: Some(false),
            is_sspr_registered: Some(false),
            is_sspr_enabled: Some(true),
            methods_registered: Vec::new(),
            is_passwordless_capable: None,
        });
        self
    }
}

/// A detection to add.
#[derive(Debug, Clone)]
pub struct DetectionSpec {
    pub risk_event_type: String,
    pub activity: String,
    pub level: RiskLevel,
    pub timing: DetectionTimingType,
    pub ip_address: Option<String>,
    pub location: Option<SignInLocation>,
    pub additional_info: Option<String>,
    /// When it was detected; now when not given.
    pub at: Option<OffsetDateTime>,
}

impl DetectionSpec {
    pub fn new(
        risk_event_type: &str,
        activity: &str,
        level: RiskLevel,
        timing: DetectionTimingType,
    ) -> Self {
        Self {
            risk_event_type: risk_event_type.into(),
            activity: activity.into(),
            level,
            timing,
            ip_address: None,
            location: None,
            additional_info: None,
            at: None,
        }
    }

    /// The most common offline detection: high-risk leaked credentials, user activity.
    pub fn leaked_credentials() -> Self {
        Self::new(
            "leakedCredentials",
            "user",
            RiskLevel::High,
            DetectionTimingType::Offline,
        )
    }

    pub fn at(mut self, t: OffsetDateTime) -> Self {
        self.at = Some(t);
        self
    }

    pub fn from_ip(mut self, ip: &str, city: &str, country: &str) -> Self {
        self.ip_address = Some(ip.into());
        self.location = Some(SignInLocation {
            city: Some(city.into()),
            state: None,
            country_or_region: Some(country.into()),
        });
        self
    }
}

/// A scripted fault: the next `times` requests whose path contains `path_contains` (and whose
/// method matches, when given) get this answer instead of the real one.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: String,
    pub times: usize,
    pub reply: FaultReply,
}

/// Random faults on every Graph request, for soaks: a share of them throttled (with and without
/// `Retry-After`) or failing with 503, and every `$batch` slowed down.
#[derive(Debug, Clone)]
pub struct Chaos {
    /// Share of requests that fail, 0 to 1.
    pub rate: f64,
    pub batch_delay: Duration,
}

impl Chaos {
    fn pick(&self, path: &str) -> Option<FaultReply> {
        if rand::random_range(0.0..1.0) < self.rate {
            let (status, retry_after) = match rand::random_range(0..3u8) {
                0 => (429, Some("1".to_string())),
                1 => (429, None),
                _ => (503, None),
            };
            return Some(FaultReply::Status {
                status,
                retry_after,
                body: r#"{"error":{"code":"chaos","message":"injected by the soak"}}"#.into(),
            });
        }
        (path.ends_with("/$batch") && !self.batch_delay.is_zero())
            .then_some(FaultReply::Delay(self.batch_delay))
    }
}

#[derive(Debug, Clone)]
pub enum FaultReply {
    Status {
        status: u16,
        /// The `Retry-After` header as sent: any text, as an upstream might send it.
        retry_after: Option<String>,
        body: String,
    },
    /// Sleep this long before answering normally (for timeouts).
    Delay(Duration),
    /// A 200 whose body is not JSON.
    Malformed,
}

impl Fault {
    pub fn status(path_contains: &str, status: u16, times: usize) -> Self {
        let body = json!({"error": {"code": fault_code(status), "message": "simulated fault"}})
            .to_string();
        Self {
            method: None,
            path_contains: path_contains.into(),
            times,
            reply: FaultReply::Status {
                status,
                retry_after: None,
                body,
            },
        }
    }

    pub fn with_retry_after(self, secs: u64) -> Self {
        self.with_retry_after_text(&secs.to_string())
    }

    /// Graph's `error.code` in the answer (a licence's, a permission's).
    pub fn with_code(mut self, code: &str) -> Self {
        if let FaultReply::Status { body, .. } = &mut self.reply {
            *body = json!({"error": {"code": code, "message": "simulated fault"}}).to_string();
        }
        self
    }

    /// `Retry-After` exactly as given (`1e20`, an HTTP date, nonsense).
    pub fn with_retry_after_text(mut self, value: &str) -> Self {
        if let FaultReply::Status { retry_after, .. } = &mut self.reply {
            *retry_after = Some(value.to_string());
        }
        self
    }

    pub fn on(mut self, method: &str) -> Self {
        self.method = Some(method.into());
        self
    }
}

fn fault_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        403 => "Authorization_RequestDenied",
        404 => "ResourceNotFound",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "UnknownError",
    }
}

/// A request the simulator received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub prefer_unknown_enums: bool,
    pub body: Option<Value>,
    /// Part of a `$batch`.
    pub inner: bool,
    pub status: u16,
    /// When it was answered (for benchmarks: the tail after the last read).
    pub at: std::time::Instant,
}

impl Recorded {
    /// Whether Graph counts the request against the identity-protection budget.
    pub fn is_identity_protection(&self) -> bool {
        !self.inner
            && (self.path.contains("/identityProtection/")
                || self.path.contains("/identity/conditionalAccess/"))
    }
}

#[derive(Debug, Clone)]
struct SimSubscription {
    body: Value,
    client_state: Option<String>,
}

#[derive(Debug)]
struct State {
    config: SimConfig,
    users: BTreeMap<UserId, SimUser>,
    risky: BTreeMap<UserId, RiskyUser>,
    detections: Vec<RiskDetection>,
    history: Vec<RiskyUserHistoryItem>,
    policy: serde_json::Map<String, Value>,
    policy_available: bool,
    organization: Organization,
    ca_policies: Vec<Value>,
    subscriptions: BTreeMap<SubscriptionId, SimSubscription>,
    /// Legacy security alerts: id to the users they name.
    alerts: BTreeMap<String, Vec<UserId>>,
    tokens: Vec<String>,
    static_tokens: Vec<String>,
    faults: Vec<Fault>,
    chaos: Option<Chaos>,
    batches_in_flight: usize,
    most_batches_in_flight: usize,
    requests: Vec<Recorded>,
    last_ip_request: Option<std::time::Instant>,
    next_detection: u64,
    /// Answer registration details wrapped in `{"value": …}`, as Microsoft's example does.
    wrap_registration: bool,
    /// Interactive sign-in: analysts, codes and delegated tokens (see [`signin`]).
    signin: signin::SignIn,
    /// Whether the tenant's administrator has consented to riskrelay's app.
    consented: bool,
    /// An AADSTS refusal the token endpoint answers every client-credentials request with.
    token_refusal: Option<String>,
    /// Service principals, and workload identities' risk (see [`workloads`]).
    workloads: workloads::Workloads,
}

/// A running simulated tenant. The server stops when the last tenant it serves is dropped.
pub struct Simulator {
    state: Arc<Mutex<State>>,
    url: Url,
    _server: Arc<Server>,
}

struct Server(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

impl SimConfig {
    /// The `n`th of several simulated tenants (0 is the default one); one multi-tenant app, so
    /// the same client id and secret for every tenant.
    pub fn tenant(n: usize) -> Self {
        let mut c = Self::default();
        if n > 0 {
            c.tenant_id = TenantId::from_uuid(uuid::Uuid::from_u128(
                0x5a5a_5a5a_0000_4000_8001_0000_0000_0000 + n as u128,
            ));
        }
        c
    }
}

impl Simulator {
    /// Starts on 127.0.0.1 with an ephemeral port. The tenant starts empty with the setting on,
    /// password hash sync fresh, and no Conditional Access policy.
    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        Ok(Self::start_many(vec![config]).await?.remove(0))
    }

    /// Several tenants on one server (one URL), each with its own directory, budget, faults and
    /// consent.
    pub async fn start_many(configs: Vec<SimConfig>) -> anyhow::Result<Vec<Self>> {
        anyhow::ensure!(!configs.is_empty(), "no tenant to simulate");
        let states: Vec<Arc<Mutex<State>>> = configs
            .into_iter()
            .map(|c| Arc::new(Mutex::new(Self::initial(c))))
            .collect();
        let listener = riskrelay::server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let app = Arc::new(http::SimFront::new(&states));
        tokio::spawn(riskrelay::server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        let server = Arc::new(Server(Some(stop)));
        Ok(states
            .into_iter()
            .map(|state| Self {
                state,
                url: url.clone(),
                _server: server.clone(),
            })
            .collect())
    }

    /// A tenant as it starts: empty, with the setting on, password hash sync fresh, and no
    /// Conditional Access policy.
    fn initial(config: SimConfig) -> State {
        let mut policy = serde_json::Map::new();
        policy.insert(
            "@odata.context".into(),
            json!("https://graph.microsoft.com/beta/$metadata#identityProtection/policy/$entity"),
        );
        policy.insert("id".into(), json!("identityProtectionPolicy"));
        policy.insert(SETTING.into(), json!(true));
        policy.insert("unifiedRiskSignals".into(), json!({"enabledFor": ["none"]}));
        let now = OffsetDateTime::now_utc();
        State {
            organization: Organization {
                id: Some(config.tenant_id.to_string()),
                on_premises_sync_enabled: Some(true),
                on_premises_last_sync_date_time: Some(now - time::Duration::minutes(12)),
                on_premises_last_password_sync_date_time: Some(now - time::Duration::minutes(2)),
            },
            config,
            users: BTreeMap::new(),
            risky: BTreeMap::new(),
            detections: Vec::new(),
            history: Vec::new(),
            policy,
            policy_available: true,
            ca_policies: Vec::new(),
            subscriptions: BTreeMap::new(),
            alerts: BTreeMap::new(),
            tokens: Vec::new(),
            static_tokens: Vec::new(),
            faults: Vec::new(),
            chaos: None,
            batches_in_flight: 0,
            most_batches_in_flight: 0,
            requests: Vec::new(),
            last_ip_request: None,
            next_detection: 1,
            wrap_registration: false,
            signin: signin::SignIn::with_default_analysts(),
            consented: true,
            token_refusal: None,
            workloads: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only happens in a failing test; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn url(&self) -> Url {
        self.url.clone()
    }

    pub fn tenant_id(&self) -> TenantId {
        self.lock().config.tenant_id
    }

    /// A Graph configuration that signs in to the simulator with its client secret.
    pub fn graph_config(&self) -> GraphConfig {
        let s = self.lock();
        GraphConfig {
            tenant_id: s.config.tenant_id,
            authority_host: self.url(),
            graph_root: self.url(),
            credential: GraphCredential::App {
                client_id: s.config.client_id,
                secret: AppSecret::ClientSecret(SecretString::from(s.config.client_secret.clone())),
            },
            identity_protection_rps: 1.0,
            request_timeout: Duration::from_secs(10),
            // The simulator answers at once: retry its scripted faults quickly.
            retry: riskrelay::http::RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(2),
                budget: Duration::from_secs(60),
                max_retry_after: Duration::from_secs(60),
            },
            batch_concurrency: riskrelay::graph::config::DEFAULT_BATCH_CONCURRENCY,
            admin_center: Default::default(),
        }
    }
}
