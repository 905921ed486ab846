//! Yoyaku: the reservation system for a Japanese city's public sports and cultural facilities.
//!
//! The binary (`main.rs`) only parses the command line; everything else lives here so tests and
//! the benchmark drive the same code. A request flows router → extractor → handler → service →
//! database; `domain` holds the rules and no I/O.

pub mod auth;
pub mod bench;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod http;
pub mod jobs;
pub mod observability;
pub mod payments;
pub mod router;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;
