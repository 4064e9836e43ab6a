//! The subset of OData `$filter` that riskrelay sends: comparisons joined by `and` / `or`
//! (`and` binds tighter), on string, enum and DateTimeOffset members. Anything else is refused
//! with a 400, as Graph refuses filters it does not support.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Time(OffsetDateTime),
}

#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    field: String,
    op: String,
    value: Value,
}

/// A parsed filter: a disjunction of conjunctions.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Vec<Vec<Comparison>>);

fn parse_comparison(s: &str) -> Result<Comparison, String> {
    let mut parts = s.trim().splitn(3, ' ');
    let (Some(field), Some(op), Some(raw)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("Invalid filter clause: {s}"));
    };
    if !matches!(op, "eq" | "ne" | "ge" | "gt" | "le" | "lt") {
        return Err(format!("Invalid filter clause: unsupported operator {op}"));
    }
    let raw = raw.trim();
    let value = if let Some(text) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Value::Text(text.to_string())
    } else {
        Value::Time(
            OffsetDateTime::parse(raw, &Rfc3339)
                .map_err(|_| format!("Invalid filter clause: bad literal {raw}"))?,
        )
    };
    Ok(Comparison {
        field: field.to_string(),
        op: op.to_string(),
        value,
    })
}

impl Filter {
    pub fn parse(s: &str) -> Result<Self, String> {
        s.split(" or ")
            .map(|conj| {
                conj.split(" and ")
                    .map(parse_comparison)
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn matches(&self, item: &serde_json::Value) -> bool {
        self.0
            .iter()
            .any(|conj| conj.iter().all(|c| c.matches(item)))
    }
}

impl Comparison {
    fn matches(&self, item: &serde_json::Value) -> bool {
        let Some(actual) = item.get(&self.field) else {
            return false;
        };
        let ord = match (&self.value, actual) {
            (Value::Text(want), serde_json::Value::String(got)) => {
                got.to_lowercase().cmp(&want.to_lowercase())
            }
            (Value::Time(want), serde_json::Value::String(got)) => {
                match OffsetDateTime::parse(got, &Rfc3339) {
                    Ok(got) => got.cmp(want),
                    Err(_) => return false,
                }
            }
            _ => return false,
        };
        use std::cmp::Ordering::*;
        match self.op.as_str() {
            "eq" => ord == Equal,
            "ne" => ord != Equal,
            "ge" => ord != Less,
            "gt" => ord == Greater,
            "le" => ord != Greater,
            "lt" => ord == Less,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_what_riskrelay_sends() {
        let f = Filter::parse("riskLastUpdatedDateTime ge 2026-11-25T10:00:00Z").unwrap();
        assert!(f.matches(&json!({"riskLastUpdatedDateTime": "2026-11-25T10:00:00.5Z"})));
        assert!(!f.matches(&json!({"riskLastUpdatedDateTime": "2026-11-25T09:59:59Z"})));
        assert!(!f.matches(&json!({"riskLastUpdatedDateTime": null})));

        let f =
            Filter::parse("riskState eq 'atRisk' or riskState eq 'confirmedCompromised'").unwrap();
        assert!(f.matches(&json!({"riskState": "confirmedCompromised"})));
        assert!(!f.matches(&json!({"riskState": "remediated"})));

        let f = Filter::parse("userId eq 'abc' and lastUpdatedDateTime ge 2026-01-01T00:00:00Z")
            .unwrap();
        assert!(
            f.matches(&json!({"userId": "abc", "lastUpdatedDateTime": "2026-02-01T00:00:00Z"}))
        );
        assert!(
            !f.matches(&json!({"userId": "abd", "lastUpdatedDateTime": "2026-02-01T00:00:00Z"}))
        );
        assert!(Filter::parse("startswith(userId,'a')").is_err());
        assert!(Filter::parse("riskLevel has 'high'").is_err());
    }
}
