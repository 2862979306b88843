//! One test binary: the real server, real databases (PostgreSQL and SQLite).

// The benchmarks' fake Slack, for its enforcement of Slack's tiers.
#[allow(dead_code)]
#[path = "../../tools/fake_slack.rs"]
mod bench_fake;
mod fake_confluence;
mod fake_jira;
mod fake_oidc;
mod fake_pagers;
mod fake_slack;
mod fake_socket;
mod helpers;
mod private;
mod process;
mod queue;

mod access;
mod alertmanager;
mod alerts;
mod announce;
mod api_incidents;
mod audit;
mod bad_input;
mod bounds;
mod browser;
mod cadence;
mod classes;
mod confluence;
mod dashboard;
mod dnd;
mod edits;
mod events;
mod faults;
mod followups;
mod fuzz;
mod gamedays;
mod health;
mod home;
mod interactions;
mod jira;
mod lane;
mod manifest;
mod metrics;
mod names;
mod pace;
mod paging;
mod permissions;
mod rollups;
mod security;
mod signature;
mod slack_client;
mod slack_jobs;
mod slash_commands;
mod socket_mode;
mod sso;
mod stats;
mod status_page;
mod store;
mod streams;
mod teams;
mod tokens;
mod writes;
