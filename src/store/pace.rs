//! Slack's rate tiers, shared by every instance on one database: one row per method
//! (per channel for `chat.postMessage`) holding the earliest time, in milliseconds since
//! the epoch, at which its next call may go. A call takes the next slot and pushes the
//! row on by one interval; a 429 pushes it past Slack's `Retry-After`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};

/// What asking for a slot gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Taken: the call may go at this time (now or soon).
    Taken(DateTime<Utc>),
    /// Not taken: the next slot is not before this time.
    NotBefore(DateTime<Utc>),
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Takes the next slot of `key`, one every `every_ms`, if it comes no later than
    /// `latest` (a caller waits that long at most); else says when the next one is.
    pub async fn take_slot(
        &self,
        key: &str,
        now: DateTime<Utc>,
        every_ms: i64,
        latest: DateTime<Utc>,
    ) -> Result<Slot, StoreError> {
        let greatest = with_db!(self, postgres _p => "GREATEST", sqlite _p => "MAX");
        let taken: Option<i64> = with_db!(self, kept write pool => {
            sqlx::query_scalar(&format!(
                "INSERT INTO slack_pace (key, next_ms) VALUES ($1, $2 + $3) \
                 ON CONFLICT (key) DO UPDATE SET next_ms = {greatest}(slack_pace.next_ms, $2) + $3 \
                 WHERE slack_pace.next_ms <= $4 RETURNING next_ms"
            ))
            .bind(key)
            .bind(ms(now))
            .bind(every_ms)
            .bind(ms(latest))
            .fetch_optional(pool)
            .await?
        });
        if let Some(next) = taken {
            return Ok(Slot::Taken(at(next - every_ms).max(now)));
        }
        Ok(Slot::NotBefore(self.held_until(key).await?.unwrap_or(now)))
    }

    /// When the next call of `key` may go, if it was ever paced or held.
    async fn held_until(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = with_db!(self, kept read pool => {
            sqlx::query_scalar("SELECT next_ms FROM slack_pace WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(next.map(at))
    }

    /// Every key held back at `now` (by a 429, or paced), and until when.
    pub async fn holds(
        &self,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let rows: Vec<(String, i64)> = with_db!(self, kept read pool => {
            sqlx::query_as("SELECT key, next_ms FROM slack_pace WHERE next_ms > $1")
                .bind(ms(now))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(key, next)| (key, at(next)))
            .collect())
    }

    /// No call of `key` before `until` (Slack's `Retry-After`), from any instance.
    pub async fn hold_slots(&self, key: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let greatest = with_db!(self, postgres _p => "GREATEST", sqlite _p => "MAX");
        with_db!(self, write pool => {
            sqlx::query(&format!(
                "INSERT INTO slack_pace (key, next_ms) VALUES ($1, $2) ON CONFLICT (key) \
                 DO UPDATE SET next_ms = {greatest}(slack_pace.next_ms, excluded.next_ms)"
            ))
            .bind(key)
            .bind(ms(until))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Forgets the slots that ended before `before` (they hold nothing back any more);
    /// how many.
    pub async fn forget_slots(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM slack_pace WHERE next_ms < $1")
                .bind(ms(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
