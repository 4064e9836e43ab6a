//! The SQS adapter against moto, and the webhook in front of it.

use std::sync::Arc;

use riskrelay::ids::{TenantId, UserId};
use riskrelay::observation::{Fetched, Observation, Origin, Subject, WorkItem};
use riskrelay::queue::Queue;
use riskrelay::queue::sqs::SqsQueue;
use riskrelay::risk::RiskyUser;
use riskrelay::source::webhook::Webhook;

use riskrelay_sim::testkit::*;

fn observation(i: usize, pad: usize) -> WorkItem {
    let user = UserId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1));
    WorkItem::Observation(Observation {
        tenant_id: TenantId::parse(TENANT).unwrap(),
        subject: Subject::RiskyUser { user_id: user },
        origin: Origin::Poll {
            cycle_id: "c1".into(),
        },
        observed_at: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
        fetched: (pad > 0).then(|| Fetched {
            risky_user: RiskyUser {
                id: user,
                user_principal_name: Some("x".repeat(pad)),
                user_display_name: None,
                risk_level: riskrelay::risk::RiskLevel::High,
                risk_state: riskrelay::risk::RiskState::AtRisk,
                risk_detail: riskrelay::risk::RiskDetail::None,
                risk_last_updated_date_time: None,
                is_deleted: false,
                is_processing: false,
            },
            detections: Vec::new(),
        }),
    })
}

async fn new_queue(client: &aws_sdk_sqs::Client) -> String {
    let out = client
        .create_queue()
        .queue_name(unique("riskrelay-test"))
        .send()
        .await
        .unwrap();
    out.queue_url().unwrap().to_string()
}

async fn receive_all(client: &aws_sdk_sqs::Client, url: &str) -> Vec<WorkItem> {
    let mut out = Vec::new();
    loop {
        let res = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let msgs = res.messages();
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    out
}

#[tokio::test]
async fn enqueues_in_batches_and_round_trips() {
    let client = aws_sdk_sqs::Client::new(&aws_config().await);
    let url = new_queue(&client).await;
    let queue = SqsQueue::new(client.clone(), url.clone());
    let items: Vec<WorkItem> = (0..25).map(|i| observation(i, 0)).collect();
    queue.enqueue(items.clone()).await.unwrap();
    let mut got = receive_all(&client, &url).await;
    let key = |w: &WorkItem| match w {
        WorkItem::Observation(o) => format!("{:?}", o.subject),
        _ => String::new(),
    };
    got.sort_by_key(key);
    let mut want = items;
    want.sort_by_key(key);
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_oversized_observation_is_sent_without_attached_data() {
    let client = aws_sdk_sqs::Client::new(&aws_config().await);
    let url = new_queue(&client).await;
    let queue = SqsQueue::new(client.clone(), url.clone());
    queue
        .enqueue(vec![observation(1, 300 * 1024), observation(2, 10)])
        .await
        .unwrap();
    let got = receive_all(&client, &url).await;
    assert_eq!(got.len(), 2);
    let fetched: Vec<bool> = got
        .iter()
        .map(|w| matches!(w, WorkItem::Observation(o) if o.fetched.is_some()))
        .collect();
    assert_eq!(
        fetched.iter().filter(|f| **f).count(),
        1,
        "the small one keeps its data, the large one is trimmed"
    );
}

#[tokio::test]
async fn a_missing_queue_is_an_error_and_the_webhook_answers_503() {
    let client = aws_sdk_sqs::Client::new(&aws_config().await);
    let queue = SqsQueue::new(
        client,
        format!("{}/123456789012/does-not-exist", moto_endpoint()),
    );
    assert!(queue.enqueue(vec![observation(1, 0)]).await.is_err());

    let app = Webhook::new(&webhook_config(&webhook_env()), Arc::new(queue));
    let body = std::fs::read_to_string(
        riskrelay_sim::testkit::repo_root().join("events/furl-notifications.json"),
    )
    .unwrap();
    let ev: serde_json::Value = serde_json::from_str(&body).unwrap();
    let err = app
        .accept(ev["body"].as_str().unwrap().as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err, riskrelay::api_error::ApiError::QueueUnavailable);
}

#[tokio::test]
async fn webhook_to_sqs_end_to_end() {
    let client = aws_sdk_sqs::Client::new(&aws_config().await);
    let url = new_queue(&client).await;
    let app = Webhook::new(
        &webhook_config(&webhook_env()),
        Arc::new(SqsQueue::new(client.clone(), url.clone())),
    );
    let body = std::fs::read_to_string(
        riskrelay_sim::testkit::repo_root().join("events/furl-notifications.json"),
    )
    .unwrap();
    let ev: serde_json::Value = serde_json::from_str(&body).unwrap();
    let outcome = app
        .accept(ev["body"].as_str().unwrap().as_bytes())
        .await
        .unwrap();
    assert_eq!(outcome.accepted, 2);
    let got = receive_all(&client, &url).await;
    assert_eq!(got.len(), 2);
}
