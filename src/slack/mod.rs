//! Slack's side: request signatures, the `/incident` grammar, and message text.

pub mod command;
pub mod commands;
pub mod reply;
pub mod text;
pub mod verify;
