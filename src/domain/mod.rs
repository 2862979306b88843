//! The incident domain: pure types and rules, no I/O.
//!
//! Everything past the HTTP and Slack edges speaks in these types; the store persists
//! them and the edges parse into them.

pub mod actor;
pub mod cadence;
pub mod followup;
pub mod gameday;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod severity;
pub mod stats;
pub mod summary;

pub use actor::Actor;
pub use followup::Followup;
pub use gameday::{Drill, Gameday, Team};
pub use ids::{ChannelId, IncidentId, RoleName, SlackUserId};
pub use incident::{Change, Event, EventKind, Incident, Milestones, Rejected};
pub use lifecycle::{Policy, Refused, Status, Transition};
pub use severity::Severity;

/// Text a user typed was refused: the message says why, in words for that user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
