//! Slack's side: request signatures, the `/incident` grammar, and message text.

pub mod blocks;
pub mod client;
pub mod command;
pub mod commands;
pub mod events;
pub mod groups;
pub mod home;
pub mod interactions;
pub mod modal;
pub mod names;
pub mod reply;
pub mod report;
pub mod text;
pub mod tiers;
pub mod verify;
