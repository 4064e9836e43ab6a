//! Stable identifiers derived from what changed: the same change observed twice gets the same key.

use super::*;

fn stamp(t: Option<OffsetDateTime>) -> String {
    t.map(|t| t.unix_timestamp_nanos().to_string())
        .unwrap_or_else(|| "none".into())
}

/// A short digest of a set of strings (detection ids, alert keys), order-independent.
pub fn fingerprint<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut sorted: Vec<&str> = items.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    crate::mac::sha256_of(sorted)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn user(
    tenant: TenantId,
    user: &RiskyUser,
    change: &Change,
    detections: &[RiskDetection],
) -> String {
    change_of(
        &format!("user/{tenant}/{}", user.id),
        change,
        user.risk_last_updated_date_time,
        detections.iter().map(|d| d.id.as_str()),
    )
}

/// The key of a change in a subject's risk (`subject`: "user/<tenant>/<id>" and the like):
/// its kind and Graph's stamp, and for new detections which ones.
pub fn change_of<'a>(
    subject: &str,
    change: &Change,
    stamp_of_change: Option<OffsetDateTime>,
    detections: impl IntoIterator<Item = &'a str>,
) -> String {
    let base = format!("{subject}/{}/{}", change.kind(), stamp(stamp_of_change));
    if matches!(change, Change::NewDetections) {
        format!("{base}/{}", fingerprint(detections))
    } else {
        base
    }
}

/// One incident per risk episode: the next episode of the same subject pages anew.
pub fn incident(subject: String, episode_start: Option<OffsetDateTime>) -> String {
    match episode_start {
        Some(t) => format!("{subject}/{}", t.unix_timestamp()),
        None => subject,
    }
}
