//! Background work the service does by itself: today, keeping the slot inventory materialised
//! for a rolling window, and expiring unpaid bookings. Later: the mail outbox, no-shows, lottery
//! draws.

pub mod payment_deadlines;
pub mod slot_generation;
