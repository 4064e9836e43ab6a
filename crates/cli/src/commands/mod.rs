//! The commands of `riskrelay`, one file each, and what several share: the store they open and
//! how they print what came from outside.

pub mod check;
pub mod demo;
pub mod parked;
pub mod replay;
pub mod run;
pub mod serve;
pub mod simulated;
pub mod snooze;
pub mod status;
pub mod subscribe;
pub mod tenants;

use anyhow::Context as _;
use riskrelay::config::Env;
use riskrelay::store::Store;
use riskrelay::store::memory::MemoryStore;
use riskrelay::store::sqlite::SqliteStore;
use std::path::PathBuf;
use std::sync::Arc;

/// The store of the tenant registry: the service's SQLite file (created when missing) or the
/// deployment's table.
pub async fn registry_store(db: PathBuf, table: Option<String>) -> anyhow::Result<Arc<dyn Store>> {
    open_store(&Env::from_process(), &db, table, false).await
}

/// The deployment's DynamoDB table when `table` names one, else the SQLite file `db`; a file
/// that must exist (the service's, for a command that changes what the service reads) is not
/// created.
async fn open_store(
    env: &Env,
    db: &std::path::Path,
    table: Option<String>,
    must_exist: bool,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match table {
        Some(table) => Arc::new(riskrelay::store::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&riskrelay::aws::config().await),
            table,
        )),
        None if must_exist && !db.exists() => anyhow::bail!(
            "there is no database at {} (set --db or RISKRELAY_SQLITE_PATH to the service's, or --table for a deployment's DynamoDB table)",
            db.display()
        ),
        None => Arc::new(sqlite(env, db)?),
    })
}

pub fn tenant_arg(s: &str) -> anyhow::Result<riskrelay::ids::TenantId> {
    let id = riskrelay::ids::TenantId::parse(s.trim())
        .map_err(|e| anyhow::anyhow!("the tenant must be its id: {e}"))?;
    // The nil GUID is no tenant: riskrelay keeps the deployment's own records under it.
    if id == riskrelay::tenancy::deployment() {
        anyhow::bail!("the tenant must be its id, not the nil GUID");
    }
    Ok(id)
}

/// Text from a store or an upstream, safe to print on a terminal.
pub fn shown(text: &str) -> String {
    riskrelay::render::escape::terminal(text)
}

/// The tenants a command works on, and the registry they come from (empty with one tenant).
pub struct Chosen {
    pub registry: riskrelay::tenancy::Registry,
    /// Each tenant with its registered record (`None`: the one configured tenant).
    pub tenants: Vec<(
        riskrelay::ids::TenantId,
        Option<riskrelay::tenancy::TenantRecord>,
    )>,
}

impl Chosen {
    /// One tenant's settings from the deployment's (its destinations, drift mode, exclusions).
    pub fn settings_of(
        &self,
        base: &riskrelay::app::Settings,
        record: Option<&riskrelay::tenancy::TenantRecord>,
    ) -> anyhow::Result<riskrelay::app::Settings> {
        match record {
            Some(r) => base.for_tenant(&self.registry, r),
            None => Ok(base.clone()),
        }
    }
}

/// Which tenants: `--tenant ID` (one this deployment watches: refused otherwise, so nothing is
/// read or kept where no service looks), `--all-tenants` (every registered one), or neither —
/// the configured tenant, or with many tenants every one when `default_all`, else a request to
/// name one.
pub async fn chosen(
    env: &Env,
    store: &dyn Store,
    tenant: Option<&str>,
    all: bool,
    default_all: bool,
) -> anyhow::Result<Chosen> {
    use riskrelay::tenancy::Mode;
    match Mode::load(env)? {
        Mode::Config => {
            let id = match (tenant, riskrelay::config::tenant_id(env)) {
                (Some(t), Ok(own)) => {
                    let t = tenant_arg(t)?;
                    if t != own {
                        anyhow::bail!(
                            "--tenant {t} is not the tenant this deployment watches (RISKRELAY_TENANT_ID is {own})"
                        );
                    }
                    t
                }
                // No configured tenant to compare with (a store worked on from another machine).
                (Some(t), Err(_)) => tenant_arg(t)?,
                (None, own) => own?,
            };
            Ok(Chosen {
                registry: Default::default(),
                tenants: vec![(id, None)],
            })
        }
        Mode::Registry => {
            let registry = riskrelay::store::registry::load(store).await?;
            let tenants = match tenant {
                Some(t) => {
                    let id = tenant_arg(t)?;
                    let record = registry.tenants.get(&id).cloned().with_context(|| {
                        format!(
                            "--tenant {id} is not a registered tenant of this deployment (riskrelay tenants list shows them)"
                        )
                    })?;
                    vec![(id, Some(record))]
                }
                None if all || default_all => registry
                    .tenants
                    .values()
                    .map(|r| (r.id, Some(r.clone())))
                    .collect(),
                None => anyhow::bail!(
                    "this deployment watches many tenants (RISKRELAY_TENANTS=registry): name one with --tenant ID, or use --all-tenants"
                ),
            };
            Ok(Chosen { registry, tenants })
        }
    }
}

/// The store a snooze command works on, with the tenant its documents belong to.
pub async fn snooze_store(
    db: PathBuf,
    table: Option<String>,
    tenant: Option<String>,
) -> anyhow::Result<(Arc<dyn Store>, riskrelay::ids::TenantId)> {
    let env = Env::from_process();
    let store = open_store(&env, &db, table, true).await?;
    let tenant = match tenant {
        // A snooze for a tenant this deployment does not watch would be kept where nothing reads it.
        Some(t) => {
            chosen(&env, store.as_ref(), Some(&t), false, false)
                .await?
                .tenants[0]
                .0
        }
        None => riskrelay::config::tenant_id(&env)?,
    };
    Ok((store, tenant))
}

/// The service's SQLite database, with `RISKRELAY_CLAIM_LEASE_SECONDS` when set.
pub fn sqlite(env: &Env, db: &std::path::Path) -> anyhow::Result<SqliteStore> {
    let store = SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))?;
    let lease = env.or(
        "RISKRELAY_CLAIM_LEASE_SECONDS",
        "seconds, 5 to 3600",
        riskrelay::store::CLAIM_LEASE,
        riskrelay::config::seconds(5..=3600),
    )?;
    Ok(store.with_claim_lease(lease))
}

/// The SQLite store when `RISKRELAY_SQLITE_PATH` is set (so `check` and `subscribe` share the
/// service's memory of episodes and subscriptions), else a throwaway one.
pub fn optional_store(env: &Env) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match env.get("RISKRELAY_SQLITE_PATH") {
        Some(p) => Arc::new(SqliteStore::open(std::path::Path::new(p))?),
        None => Arc::new(MemoryStore::default()),
    })
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
