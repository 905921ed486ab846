//! Booking rules (placeholder; being written).
