//! Starts Tally for tests: every service in-process on port 0, against real Redis and
//! Postgres from the test kit, each with a fresh database and key prefix; and a small
//! HTTP client that keeps one voter's cookie; and real browsers (headless Chromium).

pub mod browser;
pub mod client;
pub mod event_api;
pub mod stack;

pub use client::{Client, Reply};
pub use stack::{Running, Stack, StackBuilder};
