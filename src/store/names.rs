//! Slack display names as last read, by user id (`slack_names`).

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};

impl Store {
    /// The names known of `ids`, with when each was read.
    pub async fn names(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        Ok(with_db!(self, read pool => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT user_id, name, fetched_at FROM slack_names WHERE user_id IN (",
            );
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.as_str());
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    /// Records `name` as user `id`'s, read at `at`.
    pub async fn put_name(
        &self,
        id: &str,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO slack_names (user_id, name, fetched_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, fetched_at = excluded.fetched_at",
            )
            .bind(id)
            .bind(name)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}
