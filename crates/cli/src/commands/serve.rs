//! `riskrelay serve`: the webhook alone, as a local server.

use super::*;
use anyhow::Context as _;
use riskrelay::config::{Env, EnvSecrets};
use riskrelay::queue::memory::MemoryQueue;
use riskrelay::source::webhook::{Webhook, WebhookConfig};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn serve(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let config = WebhookConfig::load(&env, &EnvSecrets(&env)).context("configuration")?;
    let (queue, mut rx) = MemoryQueue::new();
    let app = Arc::new(Webhook::new(&config, Arc::new(queue)));
    let listener = riskrelay::server::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "webhook listening");
    let printer = tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match serde_json::to_string(&item) {
                Ok(line) => println!("{line}"),
                Err(e) => tracing::error!(error = %e, "could not print an item"),
            }
        }
    });
    riskrelay::server::serve(listener, app, shutdown_signal()).await;
    printer.abort();
    Ok(ExitCode::SUCCESS)
}
