//! Lambda (EventBridge schedules): the poll cycle, the posture checks and subscription upkeep,
//! chosen by the schedule's input (`{"job": "poll" | "posture" | "subscriptions"}`). Wiring only.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskrelay::lambda::{LambdaApp, Reloading};

#[tokio::main]
async fn main() -> Result<(), Error> {
    riskrelay::telemetry::init(riskrelay::telemetry::LogFormat::from_env());
    let app = std::sync::Arc::new(
        Reloading::cold_start(LambdaApp::build)
            .await
            .map_err(|e| format!("riskrelay poller could not start: {e:#}"))?,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let app = app.current().await;
            app.scheduled(&event.payload)
                .await
                .map_err(|e| Error::from(format!("{e:#}")))
        }
    }))
    .await
}
