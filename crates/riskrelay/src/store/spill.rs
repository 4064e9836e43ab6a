//! A poll window's detections, set aside on disk while the cycle streams its users.
//!
//! Graph lists risky users and risk detections separately, in no useful order, and an alert
//! about a user needs that user's detections. Holding every detection of a large window in memory
//! would make a cycle's memory grow with its size (about 1 KiB a detection); a private temporary
//! SQLite database (on disk, deleted when dropped, a small page cache) keeps it flat.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::StoreError;
use crate::ids::UserId;
use crate::risk::RiskDetection;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("the detections' spill file: {e}"))
}

pub struct DetectionSpill {
    conn: Connection,
    count: usize,
}

impl DetectionSpill {
    pub fn new() -> Result<Self, StoreError> {
        // An empty name is SQLite's private temporary on-disk database, removed on close.
        let conn = Connection::open("").map_err(err)?;
        // Throwaway data: no journal, no fsync.
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE d (id TEXT PRIMARY KEY, user TEXT NOT NULL, json TEXT NOT NULL);
             CREATE INDEX d_user ON d (user);",
        )
        .map_err(err)?;
        Ok(Self { conn, count: 0 })
    }

    /// Detections set aside so far (a detection listed twice counts once).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sets a page of detections aside.
    pub fn add(&mut self, page: &[RiskDetection]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO d (id, user, json) VALUES (?1, ?2, ?3)")
                .map_err(err)?;
            for d in page {
                let json = serde_json::to_string(d).map_err(err)?;
                self.count += insert
                    .execute(params![d.id, d.user_id.to_string(), json])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Takes the detections of these users out.
    pub fn take(
        &mut self,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<RiskDetection>>, StoreError> {
        let tx = self.conn.transaction().map_err(err)?;
        let mut out: HashMap<UserId, Vec<RiskDetection>> = HashMap::new();
        {
            let mut select = tx
                .prepare_cached("SELECT json FROM d WHERE user = ?1")
                .map_err(err)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM d WHERE user = ?1")
                .map_err(err)?;
            for user in users {
                let key = user.to_string();
                let rows = select
                    .query_map(params![key], |r| r.get::<_, String>(0))
                    .map_err(err)?;
                for json in rows {
                    let d: RiskDetection =
                        serde_json::from_str(&json.map_err(err)?).map_err(err)?;
                    out.entry(*user).or_default().push(d);
                }
                delete.execute(params![key]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Up to `max` users who still have detections set aside, taken out with them.
    pub fn take_any(&mut self, max: usize) -> Result<Vec<UserId>, StoreError> {
        let users: Vec<UserId> = {
            let mut select = self
                .conn
                .prepare_cached("SELECT DISTINCT user FROM d LIMIT ?1")
                .map_err(err)?;
            let rows = select
                .query_map(params![max as i64], |r| r.get::<_, String>(0))
                .map_err(err)?;
            rows.map(|r| {
                let text = r.map_err(err)?;
                UserId::parse(&text).map_err(err)
            })
            .collect::<Result<_, _>>()?
        };
        self.take(&users)?;
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(id: &str, user: u128) -> RiskDetection {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "userId": uuid::Uuid::from_u128(user).to_string(),
            "riskEventType": "unfamiliarFeatures",
            "riskLevel": "medium",
            "riskState": "atRisk",
            "riskDetail": "none",
            "detectionTimingType": "realtime",
        }))
        .unwrap()
    }

    #[test]
    fn detections_come_back_per_user_once() {
        let mut s = DetectionSpill::new().unwrap();
        s.add(&[detection("a", 1), detection("b", 1), detection("c", 2)])
            .unwrap();
        s.add(&[detection("b", 1), detection("d", 3)]).unwrap();
        assert_eq!(s.len(), 4, "a detection listed twice counts once");
        let u1 = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let got = s.take(&[u1]).unwrap();
        let mut ids: Vec<&str> = got[&u1].iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b"]);
        assert!(s.take(&[u1]).unwrap().is_empty(), "taken out");
        let mut rest = s.take_any(10).unwrap();
        rest.sort();
        assert_eq!(
            rest,
            [2, 3].map(|n| UserId::from_uuid(uuid::Uuid::from_u128(n)))
        );
        assert!(s.take_any(10).unwrap().is_empty());
    }
}
