//! Background work the service does by itself: today, keeping the slot inventory materialised
//! for a rolling window. Later: payment deadlines, the mail outbox, no-shows, lottery draws.

pub mod slot_generation;
