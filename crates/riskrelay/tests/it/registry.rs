//! The tenant registry on DynamoDB (moto): one document per tenant, so concurrent writers never
//! lose a tenant, a CSV import of thousands is all listed, and a registry stored the old way (one
//! document) is moved on first use without losing a record.

use std::sync::Arc;

use riskrelay::fleet;
use riskrelay::ids::TenantId;
use riskrelay::store::{self, Store};
use riskrelay::tenancy::{self, Registry, TenantRecord};
use riskrelay_sim::testkit::dynamo_store;
use time::OffsetDateTime;

fn record(n: u32, name: &str) -> TenantRecord {
    TenantRecord {
        id: TenantId::from_uuid(uuid::Uuid::from_u128(
            0x1000_0000_0000_4000_8000_0000_0000_0000 + u128::from(n),
        )),
        name: name.to_string(),
        sinks: Vec::new(),
        drift_mode: None,
        exclude: None,
        summary: None,
        added_at: OffsetDateTime::now_utc(),
    }
}

#[tokio::test]
async fn four_concurrent_writers_and_an_import_of_2000_tenants_lose_none() {
    let dynamo = dynamo_store().await;
    let table = dynamo.table_name().to_string();
    let store: Arc<dyn Store> = Arc::new(dynamo);
    // Four `tenants add` at once, 25 tenants each: the old one-document registry lost one in ten.
    let writers = (0..4u32).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                let n = w * 25 + i;
                assert!(
                    fleet::register(store.as_ref(), record(n, &format!("Writer {w} #{i}")))
                        .await
                        .unwrap(),
                    "new"
                );
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    // A CSV import of 2,000 tenants, the first 100 of them the writers' (updated, not added).
    let mut csv = String::from("id,name,driftMode\n");
    for n in 0..2000u32 {
        csv.push_str(&format!("{},Customer {n},report\n", record(n, "").id));
    }
    let records = riskrelay::onboarding::read_csv(&csv, &[], OffsetDateTime::now_utc()).unwrap();
    let done = fleet::import(store.as_ref(), records).await.unwrap();
    assert_eq!((done.added, done.updated), (1900, 100));

    let registry = store::registry::load(store.as_ref()).await.unwrap();
    assert_eq!(
        registry.tenants.len(),
        2000,
        "every tenant listed, none lost"
    );
    let first = &registry.tenants[&record(0, "").id];
    assert_eq!(first.name, "Customer 0");
    assert_eq!(first.drift_mode, Some(riskrelay::drift::DriftMode::Report));

    // Removing one leaves the rest; adding it again brings it back.
    let gone = fleet::unregister(store.as_ref(), record(7, "").id)
        .await
        .unwrap();
    assert_eq!(gone.map(|r| r.name), Some("Customer 7".to_string()));
    assert!(
        fleet::unregister(store.as_ref(), record(7, "").id)
            .await
            .unwrap()
            .is_none()
    );
    let registry = store::registry::load(store.as_ref()).await.unwrap();
    assert_eq!(registry.tenants.len(), 1999);
    assert!(
        fleet::register(store.as_ref(), record(7, "Back"))
            .await
            .unwrap()
    );
    assert_eq!(
        store::registry::load(store.as_ref())
            .await
            .unwrap()
            .tenants
            .len(),
        2000
    );
    riskrelay_sim::testkit::drop_table(&table).await;
}

#[tokio::test]
async fn a_one_document_registry_is_moved_on_first_use_losing_nothing() {
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    // A tenant re-added after the move but before the old document was emptied (a crash): its
    // own document is the newer and is kept.
    assert!(
        fleet::register(store.as_ref(), record(2, "Fabrikam (renamed)"))
            .await
            .unwrap()
    );
    let old = Registry {
        tenants: [
            record(1, "Contoso"),
            record(2, "Fabrikam"),
            record(3, "Northwind"),
        ]
        .into_iter()
        .map(|r| (r.id, r))
        .collect(),
    };
    store::save(
        store.as_ref(),
        tenancy::deployment(),
        tenancy::REGISTRY,
        &old,
        None,
    )
    .await
    .unwrap();

    let registry = store::registry::load(store.as_ref()).await.unwrap();
    let names: Vec<&str> = registry.tenants.values().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Contoso", "Fabrikam (renamed)", "Northwind"]);
    let emptied = store::load::<Registry>(store.as_ref(), tenancy::deployment(), tenancy::REGISTRY)
        .await
        .unwrap()
        .unwrap();
    assert!(
        emptied.value.tenants.is_empty(),
        "the old document is emptied"
    );
    // Moved once: reading again moves nothing and lists the same.
    assert_eq!(store::registry::migrate(store.as_ref()).await.unwrap(), 0);
    assert_eq!(
        store::registry::load(store.as_ref()).await.unwrap(),
        registry
    );
}
