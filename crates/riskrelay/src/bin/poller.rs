//! Lambda (EventBridge schedules): the poll cycle, the posture checks and subscription upkeep,
//! chosen by the schedule's input (`{"job": "poll" | "posture" | "subscriptions"}`). Wiring only.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskrelay::lambda::{PollerFunction, start};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("poller", PollerFunction::build).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let app = app.current().await;
            app.scheduled(&event.payload, Some(event.context.deadline))
                .await
                .map_err(|e| Error::from(format!("{e:#}")))
        }
    }))
    .await
}
