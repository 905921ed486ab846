//! End-to-end tests of the console's reports area (http::console::reports), on SQLite and PostgreSQL.
