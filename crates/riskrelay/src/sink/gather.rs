//! A destination several tenants share (the MSP mode): posts from many tenants' deliveries wait
//! their turn here, and when one turn finds more user alerts than the digest threshold from two
//! tenants or more, they go out as one digest across tenants, each line naming its tenant,
//! instead of one paced post each. A spray across 50 customers is then a post or two, not 50
//! posts a second apart (Slack takes about one message a second per webhook).
//!
//! Nothing else changes: each tenant's delivery claims its alerts before posting and completes
//! or releases them with the answer it gets here, which for a folded alert is the digest's. The
//! turn is the destination's pace: while one post waits for it, the others gather.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::{FailureClass, Outgoing, Sink, SinkError};
use crate::alert::{Digest, DigestEntry, Message, keys};
use crate::ids::TenantId;
use crate::render::View;
use crate::risk::RiskLevel;

/// A post waiting for its turn, with where its answer goes.
struct Waiting {
    message: Message,
    view: View,
    tenant_name: Option<String>,
    answer: oneshot::Sender<Result<(), SinkError>>,
}

impl Waiting {
    fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            routing: self.message.routing(),
            view: self.view.clone(),
            message: &self.message,
            tenant_name: self.tenant_name.clone(),
        }
    }

    /// Its lines in a digest, when it can be folded into one: a user alert, or a tenant's own
    /// digest.
    fn entries(&self) -> Option<(TenantId, Vec<DigestEntry>)> {
        // The tenant's registered name; its id when it has none.
        let name = self
            .tenant_name
            .clone()
            .unwrap_or_else(|| self.message.routing().tenant_id.to_string());
        let named = |mut e: DigestEntry| {
            e.tenant = Some(name.clone());
            e
        };
        match &self.message {
            Message::User(a) => Some((a.tenant_id, vec![named(a.digest_entry())])),
            Message::Digest(d) => {
                Some((d.tenant_id, d.entries.iter().cloned().map(named).collect()))
            }
            _ => None,
        }
    }
}

pub struct Gathering {
    inner: Arc<dyn Sink>,
    /// More user alerts than this in one turn, from two tenants or more, become one digest.
    threshold: usize,
    waiting: Mutex<Vec<Waiting>>,
    /// Held by the post that is waiting for the destination's pace or posting.
    turn: tokio::sync::Mutex<()>,
}

impl Gathering {
    pub fn new(inner: Arc<dyn Sink>, threshold: usize) -> Self {
        Self {
            inner,
            threshold,
            waiting: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn lost(&self) -> SinkError {
        SinkError::Retryable {
            sink: self.inner.name().to_string(),
            class: FailureClass::Stopping,
            detail: "the post it waited for was stopped; not posted".into(),
        }
    }

    /// Posts everything that gathered, and answers each waiting post.
    async fn post_gathered(&self, gathered: Vec<Waiting>) {
        let mut foldable: Vec<(Waiting, TenantId, Vec<DigestEntry>)> = Vec::new();
        let mut first = true;
        for w in gathered {
            match w.entries() {
                Some((tenant, entries)) => foldable.push((w, tenant, entries)),
                None => self.post_alone(w, &mut first).await,
            }
        }
        let lines: usize = foldable.iter().map(|(_, _, e)| e.len()).sum();
        let tenants: std::collections::BTreeSet<TenantId> =
            foldable.iter().map(|(_, t, _)| *t).collect();
        if tenants.len() < 2 || lines <= self.threshold {
            for (w, _, _) in foldable {
                self.post_alone(w, &mut first).await;
            }
            return;
        }
        let key = format!(
            "digest/across/{}",
            keys::fingerprint(foldable.iter().map(|(w, _, _)| w.message.key()))
        );
        let (waiting, entries): (Vec<Waiting>, Vec<Vec<DigestEntry>>) =
            foldable.into_iter().map(|(w, _, e)| (w, e)).unzip();
        let mut entries: Vec<DigestEntry> = entries.into_iter().flatten().collect();
        // Each tenant's lines together, in the order they came.
        entries.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        let digest = Message::Digest(Digest {
            key,
            tenant_id: crate::tenancy::deployment(),
            entries,
        });
        if !first {
            self.inner.ready().await;
        }
        let result = self
            .inner
            .post(&Outgoing {
                routing: digest.routing(),
                view: crate::render::view(&digest),
                message: &digest,
                tenant_name: None,
            })
            .await;
        tracing::info!(
            sink = self.inner.name(),
            alerts = waiting.len(),
            tenants = tenants.len(),
            ok = result.is_ok(),
            "posted a digest across tenants"
        );
        for w in waiting {
            let _ = w.answer.send(result.clone());
        }
    }

    async fn post_alone(&self, w: Waiting, first: &mut bool) {
        if !std::mem::take(first) {
            self.inner.ready().await;
        }
        let result = self.inner.post(&w.outgoing()).await;
        let _ = w.answer.send(result);
    }
}

#[async_trait]
impl Sink for Gathering {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn min_level(&self) -> &RiskLevel {
        self.inner.min_level()
    }

    /// The destination's pace is waited for in [`Sink::post`], where posts gather meanwhile.
    async fn ready(&self) {}

    fn digests(&self) -> bool {
        self.inner.digests()
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        if !self.inner.digests() {
            // A pager or a signed webhook: every user is its own incident; nothing gathers.
            self.inner.ready().await;
            return self.inner.post(message).await;
        }
        let (answer, mut answered) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Waiting {
                message: message.message.clone(),
                view: message.view.clone(),
                tenant_name: message.tenant_name.clone(),
                answer,
            });
        let _turn = self.turn.lock().await;
        match answered.try_recv() {
            // An earlier turn took it along.
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Closed) => return Err(self.lost()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        self.inner.ready().await;
        let gathered = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        self.post_gathered(gathered).await;
        answered.await.unwrap_or_else(|_| Err(self.lost()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Change, OperationsNotice};
    use std::time::Duration;

    /// A channel that takes one post per `pace` and records what it was given.
    struct Channel {
        pace: crate::limiter::Limiter,
        digests: bool,
        fail: bool,
        posts: Mutex<Vec<Message>>,
    }

    impl Channel {
        fn new(digests: bool, fail: bool) -> Arc<Self> {
            Arc::new(Self {
                pace: crate::limiter::Limiter::with_interval(Duration::from_millis(100)),
                digests,
                fail,
                posts: Mutex::new(Vec::new()),
            })
        }
        fn posts(&self) -> Vec<Message> {
            self.posts.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Sink for Channel {
        fn name(&self) -> &str {
            "shared"
        }
        fn min_level(&self) -> &RiskLevel {
            &RiskLevel::Low
        }
        async fn ready(&self) {
            self.pace.acquire().await;
        }
        fn digests(&self) -> bool {
            self.digests
        }
        async fn post(&self, m: &Outgoing<'_>) -> Result<(), SinkError> {
            self.posts.lock().unwrap().push(m.message.clone());
            if self.fail {
                return Err(SinkError::Retryable {
                    sink: "shared".into(),
                    class: FailureClass::Status(500),
                    detail: "down".into(),
                });
            }
            Ok(())
        }
    }

    fn tenant(n: u128) -> TenantId {
        TenantId::from_uuid(uuid::Uuid::from_u128(n))
    }

    /// A tenant's own digest of `users` lines: foldable like a user alert.
    fn burst(t: u128, users: usize) -> Message {
        Message::Digest(Digest {
            key: format!("digest/{t}"),
            tenant_id: tenant(t),
            entries: (0..users)
                .map(|i| DigestEntry {
                    display_name: format!("User {t}-{i}"),
                    upn: None,
                    change: Change::NewRisk,
                    level: RiskLevel::High,
                    top_detection: None,
                    tenant: None,
                })
                .collect(),
        })
    }

    fn notice(t: u128) -> Message {
        Message::Operations(OperationsNotice {
            key: format!("ops/{t}"),
            tenant_id: tenant(t),
            title: "Consent lost".into(),
            lines: Vec::new(),
            action: "grant it again".into(),
            at: time::OffsetDateTime::UNIX_EPOCH,
            incident: None,
            resolves: false,
        })
    }

    /// Posts every message at once, each as its tenant's delivery would; the answers in order.
    async fn post_all(sink: &Gathering, messages: &[Message]) -> Vec<Result<(), SinkError>> {
        futures_util::future::join_all(messages.iter().map(|m| async move {
            let tenant = m.routing().tenant_id;
            sink.post(&Outgoing {
                routing: m.routing(),
                view: crate::render::view(m),
                message: m,
                tenant_name: Some(format!("Tenant {tenant}")),
            })
            .await
        }))
        .await
    }

    #[tokio::test]
    async fn a_burst_across_tenants_goes_out_as_one_digest_naming_each_tenant() {
        let channel = Channel::new(true, false);
        let sink = Gathering::new(channel.clone(), 10);
        let mut messages: Vec<Message> = (1..=30).map(|t| burst(t, 1)).collect();
        messages.push(notice(7));
        let answers = post_all(&sink, &messages).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let posts = channel.posts();
        // The first post went alone; the rest gathered while it held the pace.
        assert!(posts.len() <= 3, "{} posts", posts.len());
        let across: Vec<&Digest> = posts
            .iter()
            .filter_map(|m| match m {
                Message::Digest(d) if d.tenant_id == crate::tenancy::deployment() => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(across.len(), 1, "{posts:#?}");
        // Every user is posted once, alone or in the digest, and each digest line names its tenant.
        let mut named: Vec<String> = posts
            .iter()
            .flat_map(|m| match m {
                Message::Digest(d) => d.entries.iter().map(|e| e.display_name.clone()).collect(),
                _ => Vec::new(),
            })
            .collect();
        named.sort();
        named.dedup();
        assert_eq!(named.len(), 30);
        assert!(across[0].entries.iter().all(|e| {
            e.tenant
                .as_deref()
                .is_some_and(|t| t.starts_with("Tenant "))
        }));
        let view = crate::render::view(&Message::Digest(across[0].clone()));
        let n = across[0].entries.len();
        assert!(
            view.title
                .starts_with(&format!("{n} user risk changes across {n} tenants")),
            "{}",
            view.title
        );
        // The notice is not folded.
        assert_eq!(
            posts
                .iter()
                .filter(|m| matches!(m, Message::Operations(_)))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn one_tenant_s_posts_or_a_few_are_never_folded() {
        let channel = Channel::new(true, false);
        let sink = Gathering::new(channel.clone(), 10);
        // Twenty posts of one tenant: no digest across tenants.
        let one: Vec<Message> = (0..20).map(|_| burst(1, 1)).collect();
        post_all(&sink, &one).await;
        assert!(
            channel
                .posts()
                .iter()
                .all(|m| m.routing().tenant_id == tenant(1))
        );
        // Four tenants, four alerts: under the threshold, each its own post.
        let channel = Channel::new(true, false);
        let sink = Gathering::new(channel.clone(), 10);
        post_all(&sink, &(1..=4).map(|t| burst(t, 1)).collect::<Vec<_>>()).await;
        assert_eq!(channel.posts().len(), 4);
    }

    #[tokio::test]
    async fn a_failed_digest_fails_every_alert_it_carried_and_a_pager_never_gathers() {
        let channel = Channel::new(true, true);
        let sink = Gathering::new(channel.clone(), 2);
        let answers = post_all(&sink, &(1..=12).map(|t| burst(t, 1)).collect::<Vec<_>>()).await;
        // Each tenant's delivery hears of the failure and releases its claim: nothing is lost.
        assert!(answers.iter().all(Result::is_err));
        let pager = Channel::new(false, false);
        let sink = Gathering::new(pager.clone(), 2);
        post_all(&sink, &(1..=12).map(|t| burst(t, 1)).collect::<Vec<_>>()).await;
        assert_eq!(pager.posts().len(), 12);
    }
}
