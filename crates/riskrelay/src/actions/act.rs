//! The sign-in's answer, and the action taken once: the form's claim on its session, the
//! Graph call with the analyst's own token, the follow-up message to every destination and the
//! record the next alert recalls.

use super::oidc::{Analyst, digest, random};
use crate::action_link::{ActionKind, ActionLink};
use crate::alert::{ActionNotice, Message};
use crate::risk::RiskyUser;
use bytes::Bytes;
use http::{Request, StatusCode};
use subtle::ConstantTimeEq as _;

use super::problem::consent_missing;
use super::*;

impl ActionsApp {
    /// Redeems the answer's code: who signed in, and a token for this request. Before anything is
    /// stored: Entra takes each code once, and only a real sign-in gets one, so nothing after it
    /// can be reached by a forged answer.
    pub(super) async fn redeem(
        &self,
        code: &str,
        login: &Login,
    ) -> Result<super::oidc::SignedIn, Problem> {
        self.oidc
            .redeem(
                code,
                &login.verifier,
                &self.config.redirect_uri(),
                &self.scope(login.purpose, &login.link),
                &login.nonce,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "sign-in could not be completed");
                match &e {
                    super::oidc::SignInError::Refused(text) if consent_missing("", text) => {
                        Problem::ConsentMissing
                    }
                    _ => Problem::SignInFailed,
                }
            })
    }

    /// A signed-in session for `link`, remembering the sign-in answer just taken (`spent`) with
    /// those the browser's session took before; the version to save it at.
    pub(super) fn signed_in(
        &self,
        link: String,
        analyst: Analyst,
        live: Option<RiskyUser>,
        stored: Option<(Session, u64)>,
        spent: String,
    ) -> (Session, Option<u64>) {
        let (mut used, version) = match stored {
            Some((s, v)) => (s.used, Some(v)),
            None => (Vec::new(), None),
        };
        used.push(spent);
        let session = Session {
            link,
            analyst: Some(analyst),
            csrf: random(RANDOM_BYTES),
            live,
            live_workload: None,
            done: None,
            acting: None,
            used,
            expires: self.clock.now() + SESSION_LIFETIME,
        };
        (session, version)
    }

    pub(super) async fn answer(&self, req: &Request<Bytes>) -> Page {
        let q: std::collections::HashMap<String, String> =
            form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let state = q.get("state").ok_or(Problem::SignInFailed)?;
        let spent = digest(state);
        let session = self.session(req).await?;
        let login = self
            .cookie(req, "login")
            .and_then(|c| self.sealer.open::<Login>(LOGIN_SEAL, &c))
            .filter(|l| bool::from(l.state.as_bytes().ct_eq(state.as_bytes())));
        let Some(login) = login else {
            // No sign-in of this browser carries that `state`: an answer already taken (its
            // cookie is gone), or one meant for another browser.
            if let Some((_, Some((s, _)))) = &session
                && s.used.contains(&spent)
            {
                tracing::warn!("a sign-in answer came back a second time; refused");
                return Err(Problem::Replayed);
            }
            tracing::warn!("a sign-in answer matched no sign-in of this browser; refused");
            return Err(Problem::SignInFailed);
        };
        if login.expires <= self.clock.now() {
            return Err(Problem::SignInFailed);
        }
        let Some((id, stored)) = session else {
            return Err(Problem::SignInFirst);
        };
        if !bool::from(id.as_bytes().ct_eq(login.session.as_bytes())) {
            tracing::warn!("a sign-in answer came to another browser session; refused");
            return Err(Problem::SignInFailed);
        }
        if stored
            .as_ref()
            .is_some_and(|(s, _)| s.used.contains(&spent))
        {
            tracing::warn!("a sign-in answer came back a second time; refused");
            return Err(Problem::Replayed);
        }
        if login.purpose == Purpose::Status {
            return self.answer_status(&q, login, id, stored, spent).await;
        }
        let link = self.link(&login.link)?;
        if let Some(error) = q.get("error") {
            // A silent request Entra cannot answer (MFA due, the Entra session gone): ask again
            // with the sign-in page.
            let needs_user = matches!(
                error.as_str(),
                "login_required" | "interaction_required" | "consent_required"
            );
            if login.silent && needs_user && login.purpose == Purpose::Act {
                return self.start_login(&id, &login.link, Purpose::Act, None);
            }
            let description = q.get("error_description").map_or("", String::as_str);
            if consent_missing(error, description) {
                tracing::warn!(tenant = %self.tenant, "sign-in refused: the tenant has not granted the action pages' delegated permissions");
                return Err(Problem::ConsentMissing);
            }
            tracing::warn!(error = %crate::render::escape::truncate(&crate::render::escape::single_line(error), 64), "sign-in answered with an error");
            return Err(Problem::SignInFailed);
        }
        let code = q.get("code").ok_or(Problem::SignInFailed)?;
        let signed = self.redeem(code, &login).await?;
        let analyst = signed.analyst;
        let token = signed.access_token;
        if let Some(group) = self.config.group {
            let member = self
                .graph
                .analyst_in_group(&token, group)
                .await
                .map_err(|e| graph_problem(&e, &link))?;
            if !member {
                tracing::warn!(analyst = %analyst.upn, "analyst not in the action group; refused");
                return Err(Problem::NotInGroup);
            }
        }
        match login.purpose {
            Purpose::SignIn => {
                let (live, live_workload) = match link.workload {
                    None => (
                        self.graph
                            .risky_user_as(&token, link.user)
                            .await
                            .map_err(|e| graph_problem(&e, &link))?,
                        None,
                    ),
                    Some(kind) => (
                        None,
                        self.graph
                            .risky_workload_as(&token, kind, link.user)
                            .await
                            .map_err(|e| graph_problem(&e, &link))?,
                    ),
                };
                tracing::info!(analyst = %analyst.upn, action = link.action.name(), subject = crate::workload::subject_name(link.workload), id = %link.user, "analyst signed in on an action page");
                let (mut session, version) =
                    self.signed_in(login.link.clone(), analyst, live, stored, spent);
                session.live_workload = live_workload;
                if !self.save_session(&id, &session, version).await? {
                    return Err(Problem::Replayed);
                }
                Ok(see_other(&format!("/actions/{}", session.link)))
            }
            Purpose::Status => Err(Problem::SignInFailed),
            Purpose::Act => {
                let Some((mut session, version)) = stored else {
                    return Err(Problem::SignInFirst);
                };
                if session.analyst.as_ref().map(|a| a.oid) != Some(analyst.oid) {
                    return Err(Problem::WrongAnalyst);
                }
                if session.done.is_some() {
                    return Ok(see_other(&format!("/actions/{}", session.link)));
                }
                if session.claimed(self.clock.now()) {
                    return Err(Problem::InProgress);
                }
                // The session's one action is claimed with a conditional write: of concurrent
                // or repeated submissions, one acts.
                session.acting = Some(self.clock.now());
                session.used.push(spent);
                if !self.save_session(&id, &session, Some(version)).await? {
                    return match self.session(req).await? {
                        Some((_, Some((s, _)))) if s.done.is_some() => {
                            Ok(see_other(&format!("/actions/{}", s.link)))
                        }
                        _ => Err(Problem::InProgress),
                    };
                }
                let version = version + 1;
                // The level read live when the analyst signed in: a snooze lets a rise above it through.
                let level = match &session.live_workload {
                    Some(w) => Some(w.risk_level.clone()),
                    None => session.live.as_ref().map(|u| u.risk_level.clone()),
                };
                let name = match &session.live_workload {
                    Some(w) => Some(w.name()),
                    None => session.live.as_ref().and_then(|u| {
                        u.user_principal_name
                            .clone()
                            .or(u.user_display_name.clone())
                    }),
                };
                let taken = self.take(&link, &analyst, &token, level, name, &id).await;
                session.acting = None;
                let notice = match taken {
                    Ok(n) => n,
                    Err(problem) => {
                        // Nothing was done: the claim is released so the analyst may try again.
                        let _ = self.save_session(&id, &session, Some(version)).await;
                        return Err(problem);
                    }
                };
                session.done = Some(notice.clone());
                // Done is done: if the session cannot record it, say so on this answer rather
                // than hide a change that happened behind an error page.
                if !matches!(
                    self.save_session(&id, &session, Some(version)).await,
                    Ok(true)
                ) {
                    return Ok(html(StatusCode::OK, pages::done(&notice)));
                }
                Ok(see_other(&format!("/actions/{}", session.link)))
            }
        }
    }

    /// Takes the action with the analyst's token, records it and tells every destination once.
    pub(super) async fn take(
        &self,
        link: &ActionLink,
        analyst: &Analyst,
        token: &secrecy::SecretString,
        level: Option<crate::risk::RiskLevel>,
        name: Option<String>,
        session: &str,
    ) -> Result<ActionNotice, Problem> {
        let now = self.clock.now();
        let user = name.unwrap_or_else(|| link.user.to_string());
        if link.action == ActionKind::Snooze {
            let subject = match link.workload {
                None => link.user.to_string(),
                Some(_) => format!("app:{}", link.user),
            };
            let mut s = crate::snooze::new(
                &subject,
                time::Duration::days(7),
                &format!(
                    "snoozed from the alert (ref {})",
                    crate::render::short_ref(&link.alert_key)
                ),
                &analyst.upn,
                level,
                now,
            )
            .map_err(|_| Problem::BadLink)?;
            s.workload = link.workload.map(|kind| (kind, link.user.to_string()));
            crate::features::snooze::update(self.store.as_ref(), self.tenant, |b| b.add(s.clone()))
                .await
                .map_err(|_| Problem::Unavailable)?;
        } else if let Some(kind) = link.workload {
            self.graph
                .act_on_workload_as(token, link.action, kind, link.user)
                .await
                .map_err(|e| graph_problem(&e, link))?;
        } else {
            self.graph
                .act_as(token, link.action, link.user)
                .await
                .map_err(|e| graph_problem(&e, link))?;
        }
        tracing::info!(analyst = %analyst.upn, action = link.action.name(), subject = crate::workload::subject_name(link.workload), id = %link.user, "action taken from an alert");
        let notice = ActionNotice {
            // One per session (a session acts once): a retried delivery of it posts once.
            key: format!(
                "action/{}/{}/{}/{}",
                self.tenant,
                link.user,
                link.action.name(),
                &session[..16]
            ),
            workload: link.workload,
            tenant_id: self.tenant,
            user_id: link.user,
            user,
            action: link.action,
            by: analyst.upn.clone(),
            at: now,
            alert_key: link.alert_key.clone(),
        };
        if let Err(e) = taken::record(self.store.as_ref(), self.tenant, &notice, now).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "the action was taken but not recorded; the next alert about the user will not mention it"
            );
        }
        // A snooze is announced by the next poll cycle, like one from the command line.
        if link.action != ActionKind::Snooze {
            let report = self
                .delivery
                .deliver(&[Message::Action(notice.clone())], now)
                .await;
            for f in report.failures {
                tracing::warn!(sink = %f.sink, error = %f.error, "the follow-up message was not posted");
            }
        }
        Ok(notice)
    }
}
