//! One test binary: the real server, real databases (PostgreSQL and SQLite).

mod helpers;

mod api_incidents;
mod health;
mod signature;
mod slash_commands;
mod store;
