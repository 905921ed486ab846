//! sea-orm entities: the shape of each table, nothing more. Rules live in `domain`, writes in
//! `services`.

pub mod city;
pub mod closure;
pub mod equipment;
pub mod facility;
pub mod fee_policy;
pub mod fee_reduction;
pub mod public_holiday;
pub mod regular_closing_day;
pub mod room;
pub mod room_price;
pub mod room_unit;
pub mod room_unit_coverage;
pub mod slot;
pub mod slot_template;
pub mod slot_template_period;
pub mod staff_assignment;
pub mod user;
pub mod ward;
