//! The timeline: an append-only list of events per incident.

use super::rows::EventRow;
use super::{Db, Store, StoreError};
use crate::domain::{Event, IncidentId};

/// Appends `$event` to incident `$id`'s timeline on executor `$ex`.
macro_rules! insert_event {
    ($ex:expr, $id:expr, $event:expr) => {{
        let e: &crate::domain::Event = $event;
        sqlx::query(
            "INSERT INTO events (incident_id, at, kind, actor, from_value, to_value, role, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($id)
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(e.actor.to_string())
        .bind(e.from.as_deref())
        .bind(e.to.as_deref())
        .bind(e.role.as_ref().map(|r| r.as_str()))
        .bind(e.note.as_deref())
        .execute($ex)
        .await?
    }};
}

impl Store {
    /// The timeline of incident `id`, oldest first.
    pub async fn timeline(&self, id: IncidentId) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT at, kind, actor, from_value, to_value, role, note FROM events \
                 WHERE incident_id = $1 ORDER BY id",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
