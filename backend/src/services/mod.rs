//! Use cases: each takes a connection or transaction, applies the domain rules, and reads or writes
//! through the entities. Handlers call exactly one of these.

pub mod audit;
pub mod availability;
pub mod bookings;
pub mod facilities;
pub mod holidays;
pub mod mail;
pub mod prices;
pub mod registration;
pub mod review;
pub mod seed;
pub mod sessions;
pub mod slots;
