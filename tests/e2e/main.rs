//! End-to-end tests over real HTTP, one test binary. Run on SQLite by default and on PostgreSQL
//! with `TEST_DATABASE_URL` (see README).

mod bad_input;
mod catalogue;
mod fixtures;
mod migrations;
mod operations;
