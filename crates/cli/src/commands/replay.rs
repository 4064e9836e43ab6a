//! `riskrelay replay`: one saved Lambda event through the function that would receive it.

use anyhow::Context as _;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::queue::memory::MemoryQueue;
use riskrelay::source::webhook::{Webhook, WebhookConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Replays a Lambda event file: a Function URL request goes through the webhook (printing what it
/// enqueues); an SQS batch is decoded message by message (what the worker would receive, and which
/// messages it would reject as unreadable).
pub async fn replay(file: PathBuf) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    if let Ok(batch) = serde_json::from_str::<aws_lambda_events::sqs::SqsEvent>(&text)
        && !batch.records.is_empty()
    {
        let mut unreadable = 0;
        for r in &batch.records {
            match riskrelay::queue::sqs::decode(r) {
                Ok((id, item)) => println!("{id}\t{}", serde_json::to_string(&item)?),
                Err(id) => {
                    unreadable += 1;
                    println!("{id}\tunreadable: the worker reports it as a batch item failure");
                }
            }
        }
        return Ok(if unreadable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let env = Env::from_process();
    let config = WebhookConfig::load(&env, &EnvSecrets(&env))?;
    let (queue, mut rx) = MemoryQueue::new();
    let app = Webhook::new(&config, Arc::new(queue));
    let request = lambda_http::request::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is neither a Function URL event nor an SQS batch: {e}",
            file.display()
        )
    })?;
    let response = app
        .handle(riskrelay::source::webhook::from_lambda(request))
        .await;
    eprintln!("HTTP {}", response.status().as_u16());
    drop(app);
    while let Some(item) = rx.recv().await {
        println!("{}", serde_json::to_string(&item)?);
    }
    Ok(if response.status().is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
