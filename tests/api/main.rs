//! One test binary: the real server, real databases (PostgreSQL and SQLite).

mod fake_slack;
mod helpers;

mod api_incidents;
mod health;
mod signature;
mod slack_client;
mod slack_jobs;
mod slash_commands;
mod store;
