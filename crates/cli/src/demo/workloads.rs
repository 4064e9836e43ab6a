//! Chapter 9: workload identities. A pipeline's leaked secret puts its service principal at high
//! risk and an analyst disables it from the alert; an AI agent is flagged and an analyst confirms
//! it safe. The real pipeline throughout: the poll cycle's workload reads, the `$batch` context,
//! the action pages with the simulated tenant's sign-in.

use riskrelay::action_link::ActionKind;
use riskrelay::workload::WorkloadKind;
use riskrelay_sim::SimServicePrincipal;
use riskrelay_sim::signin::ANALYST_SECURITY_ADMINISTRATOR;

use super::*;

const PIPELINE: &str = "7d3c1a52-4b0e-4c1f-9a57-0e1f2a3b4c5d";
const PIPELINE_APP: &str = "0b7c2e19-55aa-4d2e-b1a0-9f8e7d6c5b4a";
const PIPELINE_SECRET: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const AGENT: &str = "a9e1c0de-7a11-4e2b-8c3d-5e6f7a8b9c0d";
/// Global Administrator's role template id, from Microsoft's permissions reference.
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

pub(super) async fn workloads_chapter(demo: &Demo) -> anyhow::Result<()> {
    let sim = &demo.sim;
    sim.add_service_principal(
        SimServicePrincipal::new(PIPELINE, PIPELINE_APP, "Build pipeline")
            .with_secret(PIPELINE_SECRET, "ci-deploy")
            .with_owner("Megan Bowen", "meganb@contoso.com")
            .with_graph_permission("Application.ReadWrite.All")
            .with_graph_permission("User.Read.All")
            .with_role("Global Administrator", GLOBAL_ADMINISTRATOR),
    );
    sim.set_workload_risk(
        WorkloadKind::ServicePrincipal,
        PIPELINE,
        RiskLevel::High,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    sim.add_workload_detection(
        WorkloadKind::ServicePrincipal,
        PIPELINE,
        "leakedCredentials",
        RiskLevel::High,
        &[PIPELINE_SECRET],
    );
    demo.poll().await?;
    demo.act_from_alert(
        ActionKind::Disable.label_on(Some(WorkloadKind::ServicePrincipal)),
        ANALYST_SECURITY_ADMINISTRATOR,
        "Service principal disabled",
    )
    .await?;
    anyhow::ensure!(
        sim.service_principal_enabled(PIPELINE) == Some(false),
        "the service principal is still enabled"
    );

    // An agent identity is a service principal too: the directory names it.
    sim.add_service_principal(
        SimServicePrincipal::new(AGENT, AGENT, "Contoso migration agent")
            .with_owner("Lee Gu", "leeg@contoso.com"),
    );
    sim.set_workload_risk(
        WorkloadKind::Agent,
        AGENT,
        RiskLevel::Medium,
        RiskState::AtRisk,
        RiskDetail::None,
    );
    sim.add_workload_detection(
        WorkloadKind::Agent,
        AGENT,
        "suspiciousAPITraffic",
        RiskLevel::Medium,
        &[],
    );
    demo.poll().await?;
    demo.act_from_alert(
        ActionKind::ConfirmSafe.label_on(Some(WorkloadKind::Agent)),
        ANALYST_SECURITY_ADMINISTRATOR,
        "Confirmed safe",
    )
    .await?;
    demo.poll().await?;
    Ok(())
}
