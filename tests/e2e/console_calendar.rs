//! End-to-end tests of the console's calendar area (http::console::calendar), on SQLite and PostgreSQL.
