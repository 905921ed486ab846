//! End-to-end tests of the console's settings area (http::console::settings), on SQLite and PostgreSQL.
