//! One test binary: the real server, real databases (PostgreSQL and SQLite).

mod fake_confluence;
mod fake_slack;
mod fake_socket;
mod helpers;
mod private;
mod process;
mod queue;

mod access;
mod api_incidents;
mod bad_input;
mod bounds;
mod browser;
mod cadence;
mod classes;
mod confluence;
mod dashboard;
mod events;
mod faults;
mod followups;
mod fuzz;
mod gamedays;
mod health;
mod interactions;
mod manifest;
mod metrics;
mod signature;
mod slack_client;
mod slack_jobs;
mod slash_commands;
mod socket_mode;
mod stats;
mod store;
mod streams;
mod tokens;
mod writes;
