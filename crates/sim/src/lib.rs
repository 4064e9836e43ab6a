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
pub mod scenario;
pub mod signin;
#[cfg(feature = "testkit")]
pub mod testkit;

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
use riskrelay::posture::{CaPolicy, Organization, SETTING};
use riskrelay::risk::{
    DetectionTimingType, RiskDetail, RiskDetection, RiskLevel, RiskState, RiskUserActivity,
    RiskyUser, RiskyUserHistoryItem, SignInLocation,
};

pub use self::http::SimApp;

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
}

impl State {
    /// The user's principal name and display name, as risk records carry them.
    fn names(&self, id: UserId) -> (Option<String>, Option<String>) {
        self.users
            .get(&id)
            .map(|u| {
                (
                    u.context.user_principal_name.clone(),
                    u.context.display_name.clone(),
                )
            })
            .unwrap_or_default()
    }

    fn set_risk_at(
        &mut self,
        id: UserId,
        level: RiskLevel,
        state: RiskState,
        detail: RiskDetail,
        now: OffsetDateTime,
    ) {
        let (upn, name) = self.names(id);
        let user = RiskyUser {
            id,
            user_principal_name: upn,
            user_display_name: name,
            risk_level: level.clone(),
            risk_state: state.clone(),
            risk_detail: detail.clone(),
            risk_last_updated_date_time: Some(now),
            is_deleted: false,
            is_processing: false,
        };
        self.risky.insert(id, user);
        let n = self.history.len() + 1;
        self.history.push(RiskyUserHistoryItem {
            id: format!("{id}-{n}"),
            user_id: Some(id),
            initiated_by: None,
            activity: Some(RiskUserActivity {
                risk_event_types: Vec::new(),
                detail: detail.clone(),
            }),
            risk_level: level,
            risk_state: state,
            risk_detail: detail,
            risk_last_updated_date_time: Some(now),
        });
    }
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

    /// The tenant's administrator revokes (or grants again) riskrelay's access: the token
    /// endpoint refuses the app, and Graph refuses the tokens it had.
    pub fn set_consent(&self, consented: bool) {
        let mut s = self.lock();
        s.consented = consented;
        if !consented {
            s.tokens.clear();
        }
    }

    /// The token endpoint answers with this AADSTS code (`AADSTS90002` a tenant not found,
    /// `AADSTS53003` blocked by Conditional Access, `AADSTS500011` Graph's resource not in the
    /// tenant), or normally again with `None`. Tokens issued before keep working until they
    /// expire, as Entra's do.
    pub fn refuse_tokens(&self, code: Option<&str>) {
        self.lock().token_refusal = code.map(str::to_string);
    }

    /// The most items a list page holds from now on (Graph's own maximum is 500).
    pub fn set_max_page(&self, max: usize) {
        self.lock().config.max_page = max;
    }

    /// Removes every fault still waiting.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// How many access tokens the token endpoint has issued.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens.len()
    }

    /// Accepts `token` as a bearer token, as if obtained elsewhere.
    pub fn accept_static_token(&self, token: &str) {
        self.lock().static_tokens.push(token.into());
    }

    pub fn add_user(&self, user: SimUser) -> UserId {
        let id = user.context.id;
        self.lock().users.insert(id, user);
        id
    }

    pub fn user(&self, id: UserId) -> Option<SimUser> {
        self.lock().users.get(&id).cloned()
    }

    /// Sets a user's risk as ID Protection would, stamping `riskLastUpdatedDateTime` with now
    /// and writing a history item.
    pub fn set_risk(&self, id: UserId, level: RiskLevel, state: RiskState, detail: RiskDetail) {
        self.set_risk_at(id, level, state, detail, OffsetDateTime::now_utc());
    }

    /// [`Simulator::set_risk`] with an explicit `riskLastUpdatedDateTime`.
    pub fn set_risk_at(
        &self,
        id: UserId,
        level: RiskLevel,
        state: RiskState,
        detail: RiskDetail,
        now: OffsetDateTime,
    ) {
        self.lock().set_risk_at(id, level, state, detail, now);
    }

    /// Marks a risky user deleted (the account is gone, its risk stays listed) or still being
    /// processed by the backend.
    pub fn set_user_flags(&self, id: UserId, deleted: bool, processing: bool) {
        if let Some(u) = self.lock().risky.get_mut(&id) {
            u.is_deleted = deleted;
            u.is_processing = processing;
            u.risk_last_updated_date_time = Some(OffsetDateTime::now_utc());
        }
    }

    /// Who can sign in to the simulated tenant.
    pub fn analysts(&self) -> Vec<signin::SimAnalyst> {
        self.lock().signin.analysts.clone()
    }

    /// Actions analysts took through Graph: (analyst UPN, action, user).
    pub fn analyst_actions(&self) -> Vec<(String, String, UserId)> {
        self.lock().signin.actions.clone()
    }

    pub fn risky_user(&self, id: UserId) -> Option<RiskyUser> {
        self.lock().risky.get(&id).cloned()
    }

    /// Adds a detection for a user and returns its id.
    pub fn add_detection(&self, user: UserId, spec: DetectionSpec) -> String {
        let mut s = self.lock();
        let now = spec.at.unwrap_or_else(OffsetDateTime::now_utc);
        let id = format!("{:064x}", s.next_detection);
        s.next_detection += 1;
        let (upn, name) = s.names(user);
        s.detections.push(RiskDetection {
            id: id.clone(),
            user_id: user,
            risk_event_type: spec.risk_event_type,
            risk_level: spec.level,
            risk_state: RiskState::AtRisk,
            risk_detail: RiskDetail::None,
            detection_timing_type: spec.timing,
            activity: Some(spec.activity),
            source: Some("IdentityProtection".into()),
            ip_address: spec.ip_address,
            location: spec.location,
            activity_date_time: Some(now - time::Duration::minutes(3)),
            detected_date_time: Some(now - time::Duration::minutes(1)),
            last_updated_date_time: Some(now),
            user_display_name: name,
            user_principal_name: upn,
            additional_info: spec.additional_info,
        });
        id
    }

    /// A detection that raises the user's risk to its level, as ID Protection does.
    pub fn detect(&self, user: UserId, spec: DetectionSpec) -> String {
        let (level, at) = (
            spec.level.clone(),
            spec.at.unwrap_or_else(OffsetDateTime::now_utc),
        );
        let id = self.add_detection(user, spec);
        self.set_risk_at(user, level, RiskState::AtRisk, RiskDetail::None, at);
        id
    }

    /// The risk ends (remediated or dismissed, by `detail`): the user's open detections close
    /// with the same detail, as ID Protection does.
    pub fn end_risk(&self, user: UserId, state: RiskState, detail: RiskDetail) {
        self.close_detections(user, state.clone(), detail.clone());
        self.set_risk(user, RiskLevel::None, state, detail);
    }

    /// Marks a user's open detections with the state and detail their remediation gave them.
    pub fn close_detections(&self, user: UserId, state: RiskState, detail: RiskDetail) {
        let mut s = self.lock();
        let now = OffsetDateTime::now_utc();
        for d in s
            .detections
            .iter_mut()
            .filter(|d| d.user_id == user && d.risk_state == RiskState::AtRisk)
        {
            d.risk_state = state.clone();
            d.risk_detail = detail.clone();
            d.last_updated_date_time = Some(now);
        }
    }

    /// A user's detections as Graph would list them.
    pub fn detections_of(&self, user: UserId) -> Vec<RiskDetection> {
        self.lock()
            .detections
            .iter()
            .filter(|d| d.user_id == user)
            .cloned()
            .collect()
    }

    pub fn detection_count(&self) -> usize {
        self.lock().detections.len()
    }

    /// Registration details come wrapped in `{"value": {…}}` (the shape of Microsoft's example).
    pub fn wrap_registration_details(&self, wrap: bool) {
        self.lock().wrap_registration = wrap;
    }

    pub fn set_setting(&self, on: bool) {
        self.lock().policy.insert(SETTING.into(), json!(on));
    }

    pub fn setting(&self) -> Option<bool> {
        self.lock().policy.get(SETTING).and_then(Value::as_bool)
    }

    /// Sets any member of the policy object (to check that riskrelay leaves others untouched).
    pub fn set_policy_member(&self, key: &str, value: Value) {
        self.lock().policy.insert(key.into(), value);
    }

    pub fn policy(&self) -> serde_json::Map<String, Value> {
        self.lock().policy.clone()
    }

    /// When false, the beta policy endpoint answers 404, as in a cloud that lacks it.
    pub fn set_policy_available(&self, available: bool) {
        self.lock().policy_available = available;
    }

    pub fn set_organization(&self, org: Organization) {
        self.lock().organization = org;
    }

    pub fn set_ca_policies(&self, policies: Vec<CaPolicy>) {
        self.lock().ca_policies = policies
            .into_iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect();
    }

    pub fn fail(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// The most `$batch` requests it has answered at the same time.
    pub fn most_batches_in_flight(&self) -> usize {
        self.lock().most_batches_in_flight
    }

    /// Random faults from now on (`None`: none).
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.lock().chaos = chaos;
    }

    pub fn enforce_rate_limit(&self, on: bool) {
        self.lock().config.enforce_rate_limit = on;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Subscriptions as Graph would list them.
    pub fn subscriptions(&self) -> Vec<Value> {
        self.lock()
            .subscriptions
            .values()
            .map(|s| s.body.clone())
            .collect()
    }

    /// Adds a legacy ID Protection security alert naming these users.
    pub fn add_security_alert(&self, id: &str, users: Vec<UserId>) {
        self.lock().alerts.insert(id.into(), users);
    }

    /// Moves a subscription's expiry (to exercise renewal).
    pub fn set_subscription_expiry(&self, id: SubscriptionId, at: OffsetDateTime) {
        if let Some(s) = self.lock().subscriptions.get_mut(&id) {
            s.body["expirationDateTime"] = json!(
                at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            );
        }
    }

    /// Expires a subscription early (as Graph does when it removes one).
    pub fn remove_subscription(&self, id: SubscriptionId) {
        self.lock().subscriptions.remove(&id);
    }

    /// Sends a change notification for `resource` to every subscription whose resource covers
    /// it, as Graph does, with the subscription's clientState. Returns the statuses received.
    pub async fn notify(&self, resource: &str, change_type: &str) -> Vec<u16> {
        let targets: Vec<(SubscriptionId, Value, Option<String>)> = {
            let s = self.lock();
            s.subscriptions
                .iter()
                .filter(|(_, sub)| {
                    let r = sub.body["resource"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_ascii_lowercase();
                    resource.to_ascii_lowercase().starts_with(&r)
                })
                .map(|(id, sub)| (*id, sub.body.clone(), sub.client_state.clone()))
                .collect()
        };
        let tenant = self.tenant_id();
        let mut statuses = Vec::new();
        for (id, body, client_state) in targets {
            let item = json!({
                "subscriptionId": id.to_string(),
                "subscriptionExpirationDateTime": body["expirationDateTime"],
                "changeType": change_type,
                "resource": resource,
                "resourceData": {"@odata.type": "#Microsoft.Graph.User", "@odata.id": resource, "id": resource.rsplit('/').next()},
                "clientState": client_state,
                "tenantId": tenant.to_string(),
            });
            statuses.push(
                post_json(
                    body["notificationUrl"].as_str().unwrap_or_default(),
                    json!({"value": [item]}),
                )
                .await,
            );
        }
        statuses
    }

    /// Sends a lifecycle notification for a subscription to its lifecycle URL.
    pub async fn lifecycle(&self, id: SubscriptionId, event: &str) -> Option<u16> {
        let (body, client_state) = {
            let s = self.lock();
            let sub = s.subscriptions.get(&id)?;
            (sub.body.clone(), sub.client_state.clone())
        };
        let url = body["lifecycleNotificationUrl"].as_str()?.to_string();
        let item = json!({
            "subscriptionId": id.to_string(),
            "subscriptionExpirationDateTime": body["expirationDateTime"],
            "tenantId": self.tenant_id().to_string(),
            "clientState": client_state,
            "lifecycleEvent": event,
        });
        Some(post_json(&url, json!({"value": [item]})).await)
    }
}

async fn post_json(url: &str, body: Value) -> u16 {
    match reqwest::Client::new().post(url).json(&body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}
