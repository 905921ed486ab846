//! Background work the service does by itself: keeping the slot inventory materialised for a
//! rolling window, expiring unpaid bookings, refunds, reminders, no-shows and the mail outbox.
//! Each module does one run's work; `runner` schedules them once per period across instances.

pub mod lottery;
pub mod mail_delivery;
pub mod no_shows;
pub mod payment_deadlines;
pub mod refunds;
pub mod registration_reminders;
pub mod runner;
pub mod slot_generation;
