//! The incident domain: pure types and rules, no I/O.
//!
//! Everything past the HTTP and Slack edges speaks in these types; the store persists
//! them and the edges parse into them.

/// `Deserialize` for a type that parses from a string (`FromStr<Err = Invalid>`), so a
/// settings file is checked by the same rules as user input.
macro_rules! deserialize_from_str {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(d)?
                    .parse()
                    .map_err(|e: $crate::domain::Invalid| serde::de::Error::custom(e))
            }
        }
    };
}

pub mod actor;
pub mod alert;
pub mod cadence;
pub mod followup;
pub mod gameday;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod paging;
pub mod permissions;
pub mod roles;
pub mod rollup;
pub mod severity;
pub mod sketch;
pub mod stats;
pub mod status_page;
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
