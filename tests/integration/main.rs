//! tykgen's integration tests: one test binary (see `Cargo.toml`), one module per concern.
//!
//! Tests that need an external tool (terraform, ansible-lint, docker-compose, redis-server, ...)
//! find it through `tools::tool`, which skips with one line when it is missing, unless
//! `TYKGEN_REQUIRE_TOOLS=1` (set by `.ci/run`) makes a missing tool a failure.

// libtest starts tests in name order: the real-host harness (about 20 minutes) goes first, so
// that the other tests run beside it instead of after it.
#[path = "real_hosts.rs"]
mod a_real_hosts;
mod ansible;
mod check;
mod cli;
mod common;
mod compose;
mod control_plane_tls;
mod data_tier;
mod determinism;
mod env_names;
mod errors;
mod explain;
mod hostile;
mod key_tables;
mod newcomer;
mod patch;
mod random_profiles;
mod reach;
mod readme_commands;
mod safety;
mod terraform;
mod tools;
mod tyk_schema;
mod tyk_wiring;
mod versions;
