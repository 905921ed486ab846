//! Background work the service does by itself: today, keeping the slot inventory materialised
//! for a rolling window, expiring unpaid bookings, and sending the mail outbox. Later: no-shows,
//! lottery draws.

pub mod mail_delivery;
pub mod no_shows;
pub mod payment_deadlines;
pub mod refunds;
pub mod registration_reminders;
pub mod slot_generation;
