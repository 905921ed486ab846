//! End-to-end tests of the console's counter area (http::console::counter), on SQLite and PostgreSQL.
