//! The simulated tenant's scripting API: its users and their risk, detections, the setting and
//! posture, faults, and what it recorded.

use riskrelay::ids::{SubscriptionId, UserId};
use riskrelay::posture::{CaPolicy, Organization, SETTING};
use riskrelay::risk::{RiskDetail, RiskDetection, RiskLevel, RiskState, RiskyUser};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;

impl Simulator {
    /// The tenant's administrator revokes (or grants again) riskrelay's access: the token
    /// endpoint refuses the app, and Graph refuses the tokens it had.
    pub fn set_consent(&self, consented: bool) {
        let mut s = self.lock();
        s.consented = consented;
        if !consented {
            s.tokens.clear();
        }
    }

    /// Whether the tenant's administrator has granted the app's delegated permissions (the
    /// action pages' sign-in); without them, Entra answers a sign-in that asks for one with
    /// `consent_required` and AADSTS65001.
    pub fn set_delegated_consent(&self, granted: bool) {
        self.lock().signin.delegated_withheld = !granted;
    }

    /// ID tokens name this tenant in `tid` from now on, as a token of another tenant would.
    pub fn issue_id_tokens_for(&self, tenant: &str) {
        self.lock().signin.tid = Some(tenant.to_string());
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

    /// The requests Graph's 1 per second identity-protection rule counts: risk and
    /// Conditional Access reads and writes, each `$batch` counted once (its parts not).
    pub fn identity_protection_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                !r.inner
                    && (r.path.contains("/identityProtection/")
                        || r.path.contains("/identity/conditionalAccess/"))
            })
            .collect()
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
}

impl State {
    /// The user's principal name and display name, as risk records carry them.
    pub(crate) fn names(&self, id: UserId) -> (Option<String>, Option<String>) {
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

    pub(crate) fn set_risk_at(
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
