//! 使用料: the fee of a booking of one or more consecutive slots (コマ) of one room, with a
//! line-by-line breakdown that a resident can read before booking and a receipt can print after.
//!
//! Pure rules: no I/O. The caller looks up the room's fee of each slot's band (`room_prices`), the
//! city's fee policy (`fee_policies`), the reduction (`fee_reductions`) and the rented equipment,
//! and passes them in as plain data ([`QuoteRequest`]); [`quote`] returns a [`Quote`].
//!
//! # The rules (料金の計算方法)
//!
//! All amounts are whole yen. All multipliers are whole percentages and all arithmetic is on
//! integers (no floating point), so the same booking always costs the same.
//!
//! 1. **Room fee of a slot (室場使用料).** The starting point is the room's fee for the slot's
//!    band (e.g. morning, afternoon, evening; day, night), as charged to a resident on a weekday.
//!    It is multiplied by:
//!    - the weekend/holiday percentage (土日祝加算, e.g. 120 %) if the slot is on a Saturday,
//!      Sunday or public holiday;
//!    - the non-resident percentage (市外利用者, e.g. 150 %) if the booker neither lives, works
//!      nor studies in the city;
//!    - the purpose percentage: an event charging admission (入場料を徴収する催し, e.g. 150 %)
//!      or commercial use (営利目的, e.g. 300 %); ordinary use is 100 %.
//!
//!    A multiplier that does not apply counts as 100 %. The multipliers are applied **together,
//!    in one step**, and only the result is rounded: **down to a whole 10 yen** (public fee tables
//!    are in 10-yen steps). For example a non-resident on a Sunday pays for a 2,100-yen slot
//!    2,100 × 120 % × 150 % = 3,780 yen; a resident on a Sunday pays for a 1,230-yen slot
//!    1,230 × 120 % = 1,476 → 1,470 yen.
//! 2. **Reduction (減免).** A reduction of `p` % off (0–100; e.g. 100 % for groups of people with
//!    disabilities, 50 % for children's groups) applies to the room fee of each slot, never to
//!    equipment. The amount taken off a slot is `fee × p / 100` rounded **down to a whole
//!    10 yen**, so the city never takes off more than the rule gives: 50 % off 1,650 yen takes
//!    off 820 yen and leaves 830 yen to pay; 100 % off always leaves exactly 0. It is computed
//!    slot by slot, so each slot has its own net fee (a cancelled slot refunds its own amount).
//!    **Commercial use never gets a reduction**: a quote for commercial use with a reduction is
//!    refused.
//! 3. **Equipment (付帯設備).** Each rented item costs its fee per slot × the quantity rented, for
//!    every slot of the booking. No multiplier and no reduction applies to equipment.
//! 4. **Total.** Total = room fees − reductions + equipment. Every amount, per line and in total,
//!    must fit the fee columns (a 32-bit signed integer, at most 2,147,483,647 yen); a quote that
//!    does not is refused rather than wrapped around.
//!
//! # Checks
//!
//! A quote is refused ([`PricingError`]) if there is no slot; a base fee is negative; a
//! multiplier of the fee policy is below 100 %; the reduction is outside 0–100 %; a reduction is
//! given for commercial use; an equipment quantity is below 1 or an equipment fee is negative;
//! or an amount does not fit.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

use crate::domain::calendar::DayType;

/// The city's fee multipliers, each in percent of the resident weekday fee and at least 100
/// (one row of `fee_policies`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeePolicy {
    /// Applied when the booker is not a resident (e.g. 150).
    pub non_resident_percent: i32,
    /// Applied on Saturdays, Sundays and public holidays (e.g. 120).
    pub weekend_holiday_percent: i32,
    /// Applied to an event that charges admission (e.g. 150).
    pub admission_event_percent: i32,
    /// Applied to commercial use (e.g. 300).
    pub commercial_percent: i32,
}

/// Whether the booker counts as a resident for fees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Residency {
    /// 市内: lives, works or studies in the city. Pays the base fee.
    Resident,
    /// 市外: pays the non-resident percentage on the room fee.
    NonResident,
}

/// What the room is booked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Ordinary use (100 %).
    Ordinary,
    /// An event that charges admission (入場料を徴収する催し).
    AdmissionEvent,
    /// Commercial use (営利目的). Never reduced.
    Commercial,
}

/// One slot of the booking, with the room's fee for its band.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteSlot {
    /// The slot's price band, e.g. `morning`, `day`, `night`.
    pub band: String,
    /// Weekday, or Saturday/Sunday/public holiday.
    pub day_type: DayType,
    /// The room's fee for this band, for a resident on a weekday, in yen.
    pub base_fee_yen: i32,
}

/// A reduction (減免) granted to the booking (one row of `fee_reductions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduction {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// Percent taken off the room fee, 0–100.
    pub percent_off: i32,
}

/// An item of equipment rented for every slot of the booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EquipmentRental {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// Fee per item and slot, in yen.
    pub fee_yen: i32,
    /// How many items, at least 1.
    pub quantity: i32,
}

/// Everything the fee of a booking depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteRequest {
    /// The booked slots, in time order; at least one.
    pub slots: Vec<QuoteSlot>,
    pub policy: FeePolicy,
    pub residency: Residency,
    pub purpose: Purpose,
    /// The reduction granted, if any. Not allowed for commercial use.
    pub reduction: Option<Reduction>,
    /// Equipment rented for every slot.
    pub equipment: Vec<EquipmentRental>,
}

/// The day type of a slot, as a quote shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuoteDayType {
    Weekday,
    /// Saturday, Sunday or a public holiday.
    WeekendHoliday,
}

impl From<DayType> for QuoteDayType {
    fn from(day_type: DayType) -> Self {
        match day_type {
            DayType::Weekday => QuoteDayType::Weekday,
            DayType::WeekendHoliday => QuoteDayType::WeekendHoliday,
        }
    }
}

/// One line of a quote or receipt. The amounts of all lines add up to the quote's total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuoteLine {
    /// The room fee of one slot (室場使用料).
    Room {
        /// Position of the slot in the booking, from 0.
        slot_index: usize,
        band: String,
        day_type: QuoteDayType,
        /// The resident weekday fee of the band.
        base_yen: i64,
        /// 100 unless the slot is on a weekend or holiday.
        weekend_holiday_percent: i32,
        /// 100 unless the booker is a non-resident.
        non_resident_percent: i32,
        /// 100 for ordinary use, otherwise the admission-event or commercial percentage.
        purpose_percent: i32,
        /// base × all percentages, rounded down to 10 yen.
        amount_yen: i64,
    },
    /// The reduction (減免) of one slot's room fee.
    Reduction {
        /// The slot the reduction applies to, from 0.
        slot_index: usize,
        code: String,
        name: String,
        name_en: String,
        percent_off: i32,
        /// Negative or zero: the amount taken off, rounded down to 10 yen.
        amount_yen: i64,
    },
    /// One item of equipment for the whole booking (付帯設備).
    Equipment {
        code: String,
        name: String,
        name_en: String,
        /// Fee per item and slot.
        fee_yen: i64,
        quantity: i32,
        /// Number of slots it is rented for (all of them).
        slots: usize,
        /// fee × quantity × slots.
        amount_yen: i64,
    },
}

impl QuoteLine {
    /// The signed amount of the line (a reduction is negative).
    pub fn amount_yen(&self) -> i64 {
        match self {
            QuoteLine::Room { amount_yen, .. }
            | QuoteLine::Reduction { amount_yen, .. }
            | QuoteLine::Equipment { amount_yen, .. } => *amount_yen,
        }
    }
}

/// The fee of a booking: lines in order (each slot's room fee followed by its reduction, then the
/// equipment) and the totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
    /// Room fees of all slots before the reduction.
    pub room_yen: i64,
    /// Equipment of all slots.
    pub equipment_yen: i64,
    /// Amount taken off the room fees (zero or positive).
    pub reduction_yen: i64,
    /// What the booker pays: room − reduction + equipment.
    pub total_yen: i64,
}

/// Why a fee cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PricingError {
    #[error("a booking needs at least one slot")]
    NoSlots,
    #[error("slot {slot_index} has a negative base fee ({base_fee_yen} yen)")]
    NegativeBaseFee {
        slot_index: usize,
        base_fee_yen: i32,
    },
    #[error("fee policy {field} is {percent} %, but a multiplier must be at least 100 %")]
    MultiplierBelow100 { field: &'static str, percent: i32 },
    #[error("reduction {code} is {percent_off} % off, but it must be between 0 and 100 %")]
    ReductionOutOfRange { code: String, percent_off: i32 },
    #[error("commercial use never gets a reduction (reduction {code} was given)")]
    ReductionForCommercialUse { code: String },
    #[error("equipment {code} has quantity {quantity}, but at least 1 must be rented")]
    EquipmentQuantity { code: String, quantity: i32 },
    #[error("equipment {code} has a negative fee ({fee_yen} yen)")]
    NegativeEquipmentFee { code: String, fee_yen: i32 },
    #[error("the fee is too large to compute (over {} yen)", i32::MAX)]
    Overflow,
}

/// Compute the fee of a booking by the rules in the module documentation.
pub fn quote(request: &QuoteRequest) -> Result<Quote, PricingError> {
    validate(request)?;
    let policy = &request.policy;
    let non_resident_percent = match request.residency {
        Residency::Resident => 100,
        Residency::NonResident => policy.non_resident_percent,
    };
    let purpose_percent = match request.purpose {
        Purpose::Ordinary => 100,
        Purpose::AdmissionEvent => policy.admission_event_percent,
        Purpose::Commercial => policy.commercial_percent,
    };

    let mut lines = Vec::with_capacity(request.slots.len() * 2 + request.equipment.len());
    let (mut room_yen, mut reduction_yen, mut equipment_yen) = (0_i64, 0_i64, 0_i64);
    for (slot_index, slot) in request.slots.iter().enumerate() {
        let weekend_holiday_percent = match slot.day_type {
            DayType::Weekday => 100,
            DayType::WeekendHoliday => policy.weekend_holiday_percent,
        };
        let amount_yen = room_fee(
            slot.base_fee_yen,
            [
                weekend_holiday_percent,
                non_resident_percent,
                purpose_percent,
            ],
        )?;
        room_yen = add(room_yen, amount_yen)?;
        lines.push(QuoteLine::Room {
            slot_index,
            band: slot.band.clone(),
            day_type: slot.day_type.into(),
            base_yen: i64::from(slot.base_fee_yen),
            weekend_holiday_percent,
            non_resident_percent,
            purpose_percent,
            amount_yen,
        });
        if let Some(reduction) = &request.reduction {
            let off = amount_off(amount_yen, reduction.percent_off)?;
            reduction_yen = add(reduction_yen, off)?;
            lines.push(QuoteLine::Reduction {
                slot_index,
                code: reduction.code.clone(),
                name: reduction.name.clone(),
                name_en: reduction.name_en.clone(),
                percent_off: reduction.percent_off,
                amount_yen: -off,
            });
        }
    }

    let slots = request.slots.len();
    for item in &request.equipment {
        let amount_yen = fits(
            i64::from(item.fee_yen)
                .checked_mul(i64::from(item.quantity))
                .and_then(|per_slot| per_slot.checked_mul(i64::try_from(slots).ok()?)),
        )?;
        equipment_yen = add(equipment_yen, amount_yen)?;
        lines.push(QuoteLine::Equipment {
            code: item.code.clone(),
            name: item.name.clone(),
            name_en: item.name_en.clone(),
            fee_yen: i64::from(item.fee_yen),
            quantity: item.quantity,
            slots,
            amount_yen,
        });
    }

    let total_yen = fits(
        room_yen
            .checked_sub(reduction_yen)
            .and_then(|net| net.checked_add(equipment_yen)),
    )?;
    Ok(Quote {
        lines,
        room_yen,
        equipment_yen,
        reduction_yen,
        total_yen,
    })
}

/// Check the request against the rules before computing anything.
fn validate(request: &QuoteRequest) -> Result<(), PricingError> {
    let policy = &request.policy;
    for (field, percent) in [
        ("non_resident_percent", policy.non_resident_percent),
        ("weekend_holiday_percent", policy.weekend_holiday_percent),
        ("admission_event_percent", policy.admission_event_percent),
        ("commercial_percent", policy.commercial_percent),
    ] {
        if percent < 100 {
            return Err(PricingError::MultiplierBelow100 { field, percent });
        }
    }
    if request.slots.is_empty() {
        return Err(PricingError::NoSlots);
    }
    for (slot_index, slot) in request.slots.iter().enumerate() {
        if slot.base_fee_yen < 0 {
            return Err(PricingError::NegativeBaseFee {
                slot_index,
                base_fee_yen: slot.base_fee_yen,
            });
        }
    }
    if let Some(reduction) = &request.reduction {
        if !(0..=100).contains(&reduction.percent_off) {
            return Err(PricingError::ReductionOutOfRange {
                code: reduction.code.clone(),
                percent_off: reduction.percent_off,
            });
        }
        if request.purpose == Purpose::Commercial {
            return Err(PricingError::ReductionForCommercialUse {
                code: reduction.code.clone(),
            });
        }
    }
    for item in &request.equipment {
        if item.quantity < 1 {
            return Err(PricingError::EquipmentQuantity {
                code: item.code.clone(),
                quantity: item.quantity,
            });
        }
        if item.fee_yen < 0 {
            return Err(PricingError::NegativeEquipmentFee {
                code: item.code.clone(),
                fee_yen: item.fee_yen,
            });
        }
    }
    Ok(())
}

/// The room fee of one slot: base × every percentage in one step, rounded down to 10 yen.
///
/// With three percentages the exact fee is base × p1 × p2 × p3 / 100³ yen, so the fee in whole
/// tens of yen is base × p1 × p2 × p3 / (100³ × 10), truncated; every factor is non-negative,
/// so truncation is rounding down.
fn room_fee(base_fee_yen: i32, percents: [i32; 3]) -> Result<i64, PricingError> {
    let mut product = i64::from(base_fee_yen);
    let mut divisor = 10_i64;
    for percent in percents {
        product = product
            .checked_mul(i64::from(percent))
            .ok_or(PricingError::Overflow)?;
        divisor *= 100;
    }
    fits(Some(product / divisor * 10))
}

/// The amount a reduction takes off a room fee: fee × percent / 100, rounded down to 10 yen.
fn amount_off(fee_yen: i64, percent_off: i32) -> Result<i64, PricingError> {
    let product = fee_yen
        .checked_mul(i64::from(percent_off))
        .ok_or(PricingError::Overflow)?;
    Ok(product / 1000 * 10)
}

/// A sum that must still fit a fee column.
fn add(sum: i64, amount: i64) -> Result<i64, PricingError> {
    fits(sum.checked_add(amount))
}

/// An amount, refused if the arithmetic overflowed or it does not fit in an `i32`.
fn fits(amount: Option<i64>) -> Result<i64, PricingError> {
    amount
        .filter(|a| i32::try_from(*a).is_ok())
        .ok_or(PricingError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo city's policy (fixtures/demo-city/fees.toml).
    const DEMO: FeePolicy = FeePolicy {
        non_resident_percent: 150,
        weekend_holiday_percent: 120,
        admission_event_percent: 150,
        commercial_percent: 300,
    };

    fn slot(band: &str, day_type: DayType, base_fee_yen: i32) -> QuoteSlot {
        QuoteSlot {
            band: band.to_owned(),
            day_type,
            base_fee_yen,
        }
    }

    fn request(slots: Vec<QuoteSlot>) -> QuoteRequest {
        QuoteRequest {
            slots,
            policy: DEMO,
            residency: Residency::Resident,
            purpose: Purpose::Ordinary,
            reduction: None,
            equipment: Vec::new(),
        }
    }

    fn reduction(code: &str, percent_off: i32) -> Reduction {
        Reduction {
            code: code.to_owned(),
            name: "減免".to_owned(),
            name_en: "Reduction".to_owned(),
            percent_off,
        }
    }

    fn equipment(code: &str, fee_yen: i32, quantity: i32) -> EquipmentRental {
        EquipmentRental {
            code: code.to_owned(),
            name: code.to_owned(),
            name_en: code.to_owned(),
            fee_yen,
            quantity,
        }
    }

    /// The fee of one slot for a request.
    fn single(base: i32, day_type: DayType, residency: Residency, purpose: Purpose) -> i64 {
        let mut r = request(vec![slot("day", day_type, base)]);
        r.residency = residency;
        r.purpose = purpose;
        quote(&r).unwrap().total_yen
    }

    fn assert_lines_add_up(q: &Quote) {
        let sum: i64 = q.lines.iter().map(QuoteLine::amount_yen).sum();
        assert_eq!(sum, q.total_yen);
        assert_eq!(q.total_yen, q.room_yen - q.reduction_yen + q.equipment_yen);
    }

    fn error_of(r: &QuoteRequest) -> PricingError {
        quote(r).unwrap_err()
    }

    #[test]
    fn a_resident_weekday_slot_costs_the_base_fee() {
        let q = quote(&request(vec![slot("day", DayType::Weekday, 2100)])).unwrap();
        assert_eq!(q.total_yen, 2100);
        assert_eq!(q.room_yen, 2100);
        assert_eq!((q.equipment_yen, q.reduction_yen), (0, 0));
        assert_eq!(
            q.lines,
            vec![QuoteLine::Room {
                slot_index: 0,
                band: "day".to_owned(),
                day_type: QuoteDayType::Weekday,
                base_yen: 2100,
                weekend_holiday_percent: 100,
                non_resident_percent: 100,
                purpose_percent: 100,
                amount_yen: 2100,
            }]
        );
    }

    #[test]
    fn a_weekend_slot_costs_120_percent_rounded_down_to_10_yen() {
        let (w, r, o) = (
            DayType::WeekendHoliday,
            Residency::Resident,
            Purpose::Ordinary,
        );
        assert_eq!(single(1250, w, r, o), 1500);
        // 1,230 × 1.2 = 1,476 → 1,470.
        assert_eq!(single(1230, w, r, o), 1470);
    }

    #[test]
    fn a_non_resident_on_a_weekend_pays_both_multipliers_in_one_step() {
        let fee = single(
            2100,
            DayType::WeekendHoliday,
            Residency::NonResident,
            Purpose::Ordinary,
        );
        assert_eq!(fee, 3780);
        // Rounding after each step would give 1,230 → 1,470 → 2,200; in one step 1,230 × 1.8 =
        // 2,214 → 2,210.
        let fee = single(
            1230,
            DayType::WeekendHoliday,
            Residency::NonResident,
            Purpose::Ordinary,
        );
        assert_eq!(fee, 2210);
    }

    #[test]
    fn a_non_resident_on_a_weekday_pays_150_percent() {
        let fee = single(
            1100,
            DayType::Weekday,
            Residency::NonResident,
            Purpose::Ordinary,
        );
        assert_eq!(fee, 1650);
    }

    #[test]
    fn commercial_use_costs_three_times_the_fee() {
        let (d, r) = (DayType::Weekday, Residency::Resident);
        assert_eq!(single(2100, d, r, Purpose::Commercial), 6300);
        // On a weekend, for a non-resident: 2,400 × 1.2 × 1.5 × 3 = 12,960.
        let fee = single(
            2400,
            DayType::WeekendHoliday,
            Residency::NonResident,
            Purpose::Commercial,
        );
        assert_eq!(fee, 12_960);
    }

    #[test]
    fn an_event_charging_admission_costs_150_percent() {
        let (d, r) = (DayType::Weekday, Residency::Resident);
        assert_eq!(single(2100, d, r, Purpose::AdmissionEvent), 3150);
        // 1,230 × 1.5 = 1,845 → 1,840.
        assert_eq!(single(1230, d, r, Purpose::AdmissionEvent), 1840);
    }

    #[test]
    fn the_line_shows_which_multipliers_applied() {
        let mut r = request(vec![slot("night", DayType::WeekendHoliday, 2400)]);
        r.residency = Residency::NonResident;
        r.purpose = Purpose::AdmissionEvent;
        let q = quote(&r).unwrap();
        let QuoteLine::Room {
            day_type,
            weekend_holiday_percent,
            non_resident_percent,
            purpose_percent,
            amount_yen,
            ..
        } = &q.lines[0]
        else {
            panic!("expected a room line, got {:?}", q.lines[0]);
        };
        assert_eq!(*day_type, QuoteDayType::WeekendHoliday);
        assert_eq!(
            (
                *weekend_holiday_percent,
                *non_resident_percent,
                *purpose_percent
            ),
            (120, 150, 150)
        );
        assert_eq!(*amount_yen, 6480);
    }

    #[test]
    fn a_full_reduction_makes_the_room_free_but_equipment_is_still_charged() {
        let mut r = request(vec![
            slot("day", DayType::WeekendHoliday, 2100),
            slot("day", DayType::WeekendHoliday, 2100),
        ]);
        r.reduction = Some(reduction("disability_group", 100));
        r.equipment = vec![equipment("scoreboard", 200, 1)];
        let q = quote(&r).unwrap();
        assert_eq!(q.room_yen, 5040);
        assert_eq!(q.reduction_yen, 5040);
        assert_eq!(q.equipment_yen, 400);
        assert_eq!(q.total_yen, 400);
        assert_lines_add_up(&q);
        assert!(matches!(
            &q.lines[1],
            QuoteLine::Reduction {
                slot_index: 0,
                percent_off: 100,
                amount_yen: -2520,
                ..
            }
        ));
    }

    #[test]
    fn a_half_reduction_takes_off_half_rounded_down_to_10_yen() {
        // A non-resident children's group in a 1,100-yen studio: 1,650 yen; half is 825, so
        // 820 is taken off and 830 is left to pay.
        let mut r = request(vec![slot("morning", DayType::Weekday, 1100)]);
        r.residency = Residency::NonResident;
        r.reduction = Some(reduction("children_group", 50));
        let q = quote(&r).unwrap();
        assert_eq!((q.room_yen, q.reduction_yen, q.total_yen), (1650, 820, 830));
        // An even case: 2,100 → 1,050.
        let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
        r.reduction = Some(reduction("senior_club", 50));
        assert_eq!(quote(&r).unwrap().total_yen, 1050);
    }

    #[test]
    fn a_reduction_is_computed_slot_by_slot() {
        let mut r = request(vec![
            slot("morning", DayType::Weekday, 1230),
            slot("afternoon", DayType::Weekday, 1230),
        ]);
        r.reduction = Some(reduction("children_group", 50));
        let q = quote(&r).unwrap();
        // 615 → 610 off each slot, never 1,230 off the total.
        assert_eq!(
            (q.room_yen, q.reduction_yen, q.total_yen),
            (2460, 1220, 1240)
        );
        assert_lines_add_up(&q);
    }

    #[test]
    fn a_zero_percent_reduction_takes_nothing_off() {
        let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
        r.reduction = Some(reduction("none", 0));
        let q = quote(&r).unwrap();
        assert_eq!((q.reduction_yen, q.total_yen), (0, 2100));
    }

    #[test]
    fn commercial_use_with_a_reduction_is_refused() {
        let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
        r.purpose = Purpose::Commercial;
        r.reduction = Some(reduction("children_group", 50));
        assert_eq!(
            error_of(&r),
            PricingError::ReductionForCommercialUse {
                code: "children_group".to_owned()
            }
        );
    }

    #[test]
    fn consecutive_day_and_night_slots_add_up() {
        // Main gymnasium, half A: day 2,100, night 2,400; Saturday 15:00–19:00, non-resident.
        let mut r = request(vec![
            slot("day", DayType::WeekendHoliday, 2100),
            slot("night", DayType::WeekendHoliday, 2400),
        ]);
        r.residency = Residency::NonResident;
        let q = quote(&r).unwrap();
        // 2,100 × 1.8 = 3,780; 2,400 × 1.8 = 4,320.
        assert_eq!(q.room_yen, 8100);
        assert_eq!(q.total_yen, 8100);
        let bands: Vec<_> = q
            .lines
            .iter()
            .map(|line| match line {
                QuoteLine::Room {
                    slot_index,
                    band,
                    amount_yen,
                    ..
                } => (*slot_index, band.as_str(), *amount_yen),
                other => panic!("unexpected line {other:?}"),
            })
            .collect();
        assert_eq!(bands, vec![(0, "day", 3780), (1, "night", 4320)]);
    }

    #[test]
    fn equipment_costs_its_fee_times_quantity_for_every_slot() {
        let mut r = request(vec![
            slot("day", DayType::Weekday, 3100),
            slot("day", DayType::Weekday, 3100),
            slot("night", DayType::Weekday, 3500),
        ]);
        // Equipment takes no multiplier, even for a non-resident's commercial use on a weekday.
        r.residency = Residency::NonResident;
        r.purpose = Purpose::Commercial;
        r.equipment = vec![
            equipment("table-tennis", 100, 4),
            equipment("badminton-net", 0, 2),
        ];
        let q = quote(&r).unwrap();
        assert_eq!(q.equipment_yen, 1200);
        assert_eq!(q.room_yen, (3100 + 3100 + 3500) * 45 / 10);
        assert_lines_add_up(&q);
        assert_eq!(
            q.lines[3],
            QuoteLine::Equipment {
                code: "table-tennis".to_owned(),
                name: "table-tennis".to_owned(),
                name_en: "table-tennis".to_owned(),
                fee_yen: 100,
                quantity: 4,
                slots: 3,
                amount_yen: 1200,
            }
        );
        assert_eq!(q.lines[4].amount_yen(), 0);
    }

    #[test]
    fn lines_come_slot_by_slot_then_equipment() {
        let mut r = request(vec![
            slot("morning", DayType::Weekday, 1100),
            slot("afternoon", DayType::Weekday, 1400),
        ]);
        r.reduction = Some(reduction("senior_club", 50));
        r.equipment = vec![equipment("audio-set", 300, 1)];
        let q = quote(&r).unwrap();
        let kinds: Vec<_> = q
            .lines
            .iter()
            .map(|line| match line {
                QuoteLine::Room { slot_index, .. } => format!("room {slot_index}"),
                QuoteLine::Reduction { slot_index, .. } => format!("reduction {slot_index}"),
                QuoteLine::Equipment { code, .. } => format!("equipment {code}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "room 0",
                "reduction 0",
                "room 1",
                "reduction 1",
                "equipment audio-set"
            ]
        );
        assert_eq!(q.total_yen, 550 + 700 + 600);
        assert_lines_add_up(&q);
    }

    #[test]
    fn a_quote_serialises_with_tagged_lines() {
        let mut r = request(vec![slot("day", DayType::WeekendHoliday, 2100)]);
        r.reduction = Some(reduction("children_group", 50));
        let json = serde_json::to_value(quote(&r).unwrap()).unwrap();
        assert_eq!(json["lines"][0]["kind"], "room");
        assert_eq!(json["lines"][0]["day_type"], "weekend_holiday");
        assert_eq!(json["lines"][1]["kind"], "reduction");
        assert_eq!(json["lines"][1]["amount_yen"], -1260);
        assert_eq!(json["total_yen"], 1260);
    }

    #[test]
    fn the_openapi_schema_of_a_line_names_its_kind() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_string(&QuoteLine::schema()).unwrap();
        for word in [
            "\"kind\"",
            "\"room\"",
            "\"reduction\"",
            "\"equipment\"",
            "slot_index",
        ] {
            assert!(schema.contains(word), "{word} missing from {schema}");
        }
    }

    #[test]
    fn a_booking_without_slots_is_refused() {
        assert_eq!(error_of(&request(Vec::new())), PricingError::NoSlots);
    }

    #[test]
    fn a_negative_base_fee_is_refused() {
        let r = request(vec![
            slot("day", DayType::Weekday, 2100),
            slot("night", DayType::Weekday, -1),
        ]);
        assert_eq!(
            error_of(&r),
            PricingError::NegativeBaseFee {
                slot_index: 1,
                base_fee_yen: -1
            }
        );
    }

    #[test]
    fn a_free_room_costs_nothing() {
        let mut r = request(vec![slot("day", DayType::WeekendHoliday, 0)]);
        r.residency = Residency::NonResident;
        assert_eq!(quote(&r).unwrap().total_yen, 0);
    }

    #[test]
    fn a_policy_multiplier_below_100_percent_is_refused() {
        let cases = [
            (
                "non_resident_percent",
                FeePolicy {
                    non_resident_percent: 99,
                    ..DEMO
                },
            ),
            (
                "weekend_holiday_percent",
                FeePolicy {
                    weekend_holiday_percent: 99,
                    ..DEMO
                },
            ),
            (
                "admission_event_percent",
                FeePolicy {
                    admission_event_percent: 99,
                    ..DEMO
                },
            ),
            (
                "commercial_percent",
                FeePolicy {
                    commercial_percent: 99,
                    ..DEMO
                },
            ),
        ];
        for (field, policy) in cases {
            let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
            r.policy = policy;
            assert_eq!(
                error_of(&r),
                PricingError::MultiplierBelow100 { field, percent: 99 }
            );
        }
    }

    #[test]
    fn a_reduction_outside_0_to_100_percent_is_refused() {
        for percent_off in [-1, 101] {
            let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
            r.reduction = Some(reduction("odd", percent_off));
            assert_eq!(
                error_of(&r),
                PricingError::ReductionOutOfRange {
                    code: "odd".to_owned(),
                    percent_off
                }
            );
        }
    }

    #[test]
    fn an_equipment_quantity_below_1_is_refused() {
        for quantity in [0, -2] {
            let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
            r.equipment = vec![equipment("timer", 100, quantity)];
            assert_eq!(
                error_of(&r),
                PricingError::EquipmentQuantity {
                    code: "timer".to_owned(),
                    quantity
                }
            );
        }
    }

    #[test]
    fn a_negative_equipment_fee_is_refused() {
        let mut r = request(vec![slot("day", DayType::Weekday, 2100)]);
        r.equipment = vec![equipment("timer", -100, 1)];
        assert_eq!(
            error_of(&r),
            PricingError::NegativeEquipmentFee {
                code: "timer".to_owned(),
                fee_yen: -100
            }
        );
    }

    #[test]
    fn a_fee_too_large_for_the_fee_columns_is_refused() {
        // One slot whose multiplied fee exceeds i32::MAX.
        let mut r = request(vec![slot("day", DayType::Weekday, i32::MAX)]);
        r.purpose = Purpose::Commercial;
        assert_eq!(error_of(&r), PricingError::Overflow);

        // Multipliers whose product overflows even i64.
        let mut r = request(vec![slot("day", DayType::WeekendHoliday, i32::MAX)]);
        r.residency = Residency::NonResident;
        r.purpose = Purpose::Commercial;
        r.policy = FeePolicy {
            non_resident_percent: i32::MAX,
            weekend_holiday_percent: i32::MAX,
            admission_event_percent: 100,
            commercial_percent: i32::MAX,
        };
        assert_eq!(error_of(&r), PricingError::Overflow);

        // Each slot fits but the sum does not.
        let r = request(vec![slot("day", DayType::Weekday, 1_500_000_000); 2]);
        assert_eq!(error_of(&r), PricingError::Overflow);

        // Equipment fee × quantity × slots does not fit.
        let mut r = request(vec![slot("day", DayType::Weekday, 0); 3]);
        r.equipment = vec![equipment("timer", i32::MAX, 1)];
        assert_eq!(error_of(&r), PricingError::Overflow);
    }

    #[test]
    fn the_largest_fee_that_fits_is_accepted() {
        let q = quote(&request(vec![slot("day", DayType::Weekday, 2_147_483_640)])).unwrap();
        assert_eq!(q.total_yen, 2_147_483_640);
    }
}
