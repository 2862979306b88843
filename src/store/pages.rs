//! Pages sent out, and their state as pompier last told each pager.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::paging::{Page, PageState};
use crate::domain::{IncidentId, Team};

impl Store {
    /// The pages of incident `id`, by service and team (the default routing first).
    pub async fn pages_of(&self, id: IncidentId) -> Result<Vec<Page>, StoreError> {
        let rows: Vec<(String, String, String)> = with_db!(self, kept read pool => {
            sqlx::query_as(
                "SELECT service, team, state FROM pages WHERE incident_id = $1 \
                 ORDER BY service, team",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(service, team, state)| {
                let corrupt = |what: &str| StoreError::Corrupt(format!("page {what}"));
                Ok(Page {
                    service,
                    team: match team.as_str() {
                        "" => None,
                        name => Some(name.parse().map_err(|_| corrupt("team"))?),
                    },
                    state: state.parse().map_err(|_| corrupt("state"))?,
                })
            })
            .collect()
    }

    /// Records that the page of incident `id` through `service` to `team` is now in
    /// `state`.
    pub async fn record_page(
        &self,
        id: IncidentId,
        service: &str,
        team: Option<&Team>,
        state: PageState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO pages (incident_id, service, team, state, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident_id, service, team) \
                 DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )
            .bind(id.0)
            .bind(service)
            .bind(team.map_or("", Team::as_str))
            .bind(state.as_str())
            .bind(at)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }
}
