//! Describing the tenants an MSP deployment watches: one tenant's fields checked as
//! `riskrelay tenants add` takes them, and a CSV file of many as `riskrelay tenants import` takes
//! it. Every row is checked before anything is written, and each bad row is named by its line.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::drift::DriftMode;
use crate::ids::TenantId;
use crate::tenancy::TenantRecord;

/// Rows one import takes: 100,000 tenants is beyond any MSP, and a file bigger than that is more
/// likely a mistake than a customer list.
pub const MAX_ROWS: usize = 100_000;

/// What the CSV's header may name, first the column's own name then the names it also goes by.
const COLUMNS: [(&str, &[&str]); 6] = [
    ("id", &["tenant", "tenantid", "tenant id", "tenant_id"]),
    ("name", &["tenant name"]),
    ("sinks", &["destinations", "destination"]),
    ("driftmode", &["drift mode", "drift_mode", "drift"]),
    ("exclude", &["exclusions", "excluded"]),
    (
        "summary",
        &["summary schedule", "summary_schedule", "schedule"],
    ),
];

/// A tenant as someone described it, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub sinks: Vec<&'a str>,
    pub drift_mode: Option<&'a str>,
    pub exclude: Option<&'a str>,
    /// The standing summary's schedule, as `RISKRELAY_SUMMARY` takes it.
    pub summary: Option<&'a str>,
}

/// Checks a described tenant against the deployment's destinations (`RISKRELAY_SINKS`' names):
/// its id a tenant's GUID, its name fit for every message, its destinations configured ones (a
/// typo would send its alerts nowhere), its drift mode, exclusions and summary schedule valid.
pub fn check(
    d: &Described<'_>,
    configured: &[String],
    now: OffsetDateTime,
) -> Result<TenantRecord, String> {
    let id = TenantId::parse(d.id.trim()).map_err(|e| format!("the tenant must be its id: {e}"))?;
    // The nil GUID is no tenant: riskrelay keeps the deployment's own records under it.
    if id == crate::tenancy::deployment() {
        return Err("the tenant must be its id, not the nil GUID".into());
    }
    let name = TenantRecord::check_name(d.name)?;
    let sinks: Vec<String> = d
        .sinks
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = sinks.iter().find(|s| !configured.contains(s)) {
        return Err(format!(
            "\"{}\" is not a destination of RISKRELAY_SINKS (configured: {})",
            crate::render::escape::terminal(unknown),
            if configured.is_empty() {
                "none".to_string()
            } else {
                configured.join(", ")
            }
        ));
    }
    let drift_mode = d
        .drift_mode
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| m.parse::<DriftMode>())
        .transpose()
        .map_err(|e| format!("the drift mode must be {e}"))?;
    let exclude = d.exclude.map(str::trim).filter(|e| !e.is_empty());
    if let Some(list) = exclude {
        crate::exclusions::Exclusions::parse(list).map_err(|e| format!("exclusions: {e}"))?;
    }
    let summary = d.summary.map(str::trim).filter(|s| !s.is_empty());
    if let Some(text) = summary {
        crate::summary::Schedule::parse(text).map_err(|e| format!("the summary schedule: {e}"))?;
    }
    Ok(TenantRecord {
        id,
        name,
        sinks,
        drift_mode,
        exclude: exclude.map(str::to_string),
        summary: summary.map(str::to_string),
        added_at: now,
    })
}

/// A row that could not be taken: its line in the file (the header is line 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub why: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// Reads a CSV of tenants: a header naming the columns (`id` and `name` required; `sinks`,
/// `driftMode`, `exclude`, `summary` optional, in any order, also by the names people use for them), then
/// one tenant per row. Destinations in one cell are separated by `;` or `,` (quote the cell);
/// exclusions are a `RISKRELAY_EXCLUDE` list. Either every row is good and all records come
/// back, or every bad row is reported and none do.
pub fn read_csv(
    text: &str,
    configured: &[String],
    now: OffsetDateTime,
) -> Result<Vec<TenantRecord>, Vec<BadRow>> {
    let bad = |line: u64, why: String| vec![BadRow { line, why }];
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| bad(1, format!("the header cannot be read: {e}")))?
        .clone();
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        let Some((column, _)) = COLUMNS.iter().find(|(name, aliases)| {
            *name == h.replace(['_', ' '], "") || aliases.contains(&h.as_str())
        }) else {
            return Err(bad(
                1,
                format!(
                    "\"{}\" is not a column riskrelay knows (id, name, sinks, driftMode, exclude, summary)",
                    crate::render::escape::terminal(&h)
                ),
            ));
        };
        if at.insert(column, i).is_some() {
            return Err(bad(1, format!("the column {column} is named twice")));
        }
    }
    for required in ["id", "name"] {
        if !at.contains_key(required) {
            return Err(bad(1, format!("the header has no {required} column")));
        }
    }
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<TenantId, u64> = BTreeMap::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(BadRow {
                    line,
                    why: format!("the row cannot be read: {e}"),
                });
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        if row.iter().all(str::is_empty) {
            continue;
        }
        if records.len() + errors.len() >= MAX_ROWS {
            return Err(bad(
                line,
                format!("more than {MAX_ROWS} rows; split the file"),
            ));
        }
        let cell = |column: &str| at.get(column).and_then(|&i| row.get(i));
        let d = Described {
            id: cell("id").unwrap_or_default(),
            name: cell("name").unwrap_or_default(),
            sinks: cell("sinks")
                .map(|s| s.split([';', ',']).collect())
                .unwrap_or_default(),
            drift_mode: cell("driftmode"),
            exclude: cell("exclude"),
            summary: cell("summary"),
        };
        match check(&d, configured, now) {
            Ok(record) => match seen.insert(record.id, line) {
                Some(first) => errors.push(BadRow {
                    line,
                    why: format!("tenant {} is already on line {first}", record.id),
                }),
                None => records.push(record),
            },
            Err(why) => errors.push(BadRow { line, why }),
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-03 10:00 UTC);
    const A: &str = "11111111-2222-3333-4444-555555555555";
    const B: &str = "22222222-3333-4444-5555-666666666666";

    fn configured() -> Vec<String> {
        vec!["contoso".into(), "shared".into()]
    }

    #[test]
    fn a_good_file_with_quoting_aliases_and_a_bom_is_read_whole() {
        let text = format!(
            "\u{feff}Tenant ID,Name,Destinations,Drift mode,Exclusions\n\
             {A},Contoso,\"contoso; shared\",enforce,\"breakglass@contoso.com, app:sp-9\"\n\
             \n\
             {B},\"Fabrikam, Inc.\",,,\n"
        );
        let records = read_csv(&text, &configured(), NOW).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].sinks, ["contoso", "shared"]);
        assert_eq!(records[0].drift_mode, Some(DriftMode::Enforce));
        assert_eq!(
            records[0].exclude.as_deref(),
            Some("breakglass@contoso.com, app:sp-9")
        );
        assert_eq!(records[1].name, "Fabrikam, Inc.");
        assert_eq!(
            (records[1].drift_mode, records[1].exclude.clone()),
            (None, None)
        );
        assert!(records[1].sinks.is_empty());
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_nothing_is_taken() {
        let text = format!(
            "id,name,sinks,driftMode,exclude\n\
             {A},Contoso,,,\n\
             not-a-guid,Nobody,,,\n\
             {B},Fabrikam,teams-typo,,\n\
             {B},Fabrikam,,sometimes,\n\
             00000000-0000-0000-0000-000000000000,Nil,,,\n\
             {A},Contoso again,,,\n\
             33333333-4444-5555-6666-777777777777,,,,\n\
             44444444-5555-6666-7777-888888888888,Bad exclusions,,,ada\n"
        );
        let errors = read_csv(&text, &configured(), NOW).unwrap_err();
        let lines: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.why.as_str())).collect();
        let expect = [
            (3, "the tenant must be its id"),
            (4, "\"teams-typo\" is not a destination of RISKRELAY_SINKS"),
            (5, "the drift mode must be one of off, report, enforce"),
            (6, "not the nil GUID"),
            (7, "is already on line 2"),
            (8, "the tenant name is empty"),
            (9, "exclusions:"),
        ];
        assert_eq!(lines.len(), expect.len(), "{lines:#?}");
        for ((line, why), (l, says)) in lines.iter().zip(expect) {
            assert_eq!(*line, l, "{why}");
            assert!(why.contains(says), "line {line}: {why}");
        }
    }

    #[test]
    fn a_tenant_s_summary_schedule_is_checked_and_kept() {
        let text = format!(
            "id,name,summary\n\
             {A},Contoso,mon 07:30\n\
             {B},Fabrikam,\n"
        );
        let records = read_csv(&text, &configured(), NOW).unwrap();
        assert_eq!(records[0].summary.as_deref(), Some("mon 07:30"));
        assert_eq!(records[1].summary, None);
        let errors = read_csv(
            &format!("id,name,schedule\n{A},Contoso,25:00\n"),
            &configured(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0]
                .why
                .starts_with("the summary schedule: \"25:00\" is not"),
            "{}",
            errors[0].why
        );
    }

    #[test]
    fn a_header_it_cannot_use_is_refused_on_line_one() {
        for (header, says) in [
            ("name,sinks", "no id column"),
            ("id,name,colour", "\"colour\" is not a column"),
            ("id,tenant,name", "named twice"),
        ] {
            let errors = read_csv(&format!("{header}\n"), &configured(), NOW).unwrap_err();
            assert_eq!(errors[0].line, 1);
            assert!(errors[0].why.contains(says), "{header}: {}", errors[0].why);
        }
    }
}
