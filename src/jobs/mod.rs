//! The durable job queue's work: what a change asks of Slack, and the workers that do it
//! after the HTTP reply, retried with backoff, never lost on restart.

pub mod effects;
pub mod retry;
pub mod slack_jobs;
pub mod worker;

use serde::{Deserialize, Serialize};

pub use effects::Effects;
pub use worker::{Worker, WorkerHandle};

/// One piece of outside work for an incident. Stored as JSON; jobs of one incident run
/// in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Create the incident's channel and record it; then the jobs that need it follow.
    CreateChannel,
    Invite {
        users: Vec<String>,
    },
    SetTopic,
    /// Post the summary message, record its `ts`, pin it.
    PostSummary,
    /// Bring the pinned summary up to date with the incident as it is now.
    UpdateSummary,
    /// Post `text` (mrkdwn, already escaped) in the incident's channel.
    Post {
        text: String,
    },
    /// Post `text` in the announce channel, if one is configured.
    Announce {
        text: String,
    },
    ArchiveChannel,
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::CreateChannel => "create_channel",
            Job::Invite { .. } => "invite",
            Job::SetTopic => "set_topic",
            Job::PostSummary => "post_summary",
            Job::UpdateSummary => "update_summary",
            Job::Post { .. } => "post",
            Job::Announce { .. } => "announce",
            Job::ArchiveChannel => "archive_channel",
        }
    }

    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("a job serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_payload() {
        for job in [
            Job::CreateChannel,
            Job::Invite {
                users: vec!["U1".into()],
            },
            Job::Post {
                text: "a <b> & c".into(),
            },
        ] {
            let back: Job = serde_json::from_str(&job.to_payload()).unwrap();
            assert_eq!(back, job);
            assert!(job.to_payload().contains(job.kind()));
        }
    }
}
