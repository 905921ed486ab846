//! 予約の決まり: the rules a booking of one or more consecutive slots (コマ) of one room follows,
//! from the moment it is requested to the moment it ends.
//!
//! Pure rules: no I/O and no clock. "Now" is always a parameter, and the caller counts what it
//! needs (for example a person's active bookings) inside its own transaction and passes the
//! numbers in. Every time of day is local time in Asia/Tokyo
//! ([`tokyo`](crate::domain::calendar::tokyo)).
//!
//! # The rules (予約の決まり)
//!
//! 1. **States.** A booking waits for payment ([`BookingState::AwaitingPayment`]), is
//!    [`Confirmed`](BookingState::Confirmed) once paid, and ends
//!    [`Cancelled`](BookingState::Cancelled), [`Expired`](BookingState::Expired) (not paid in
//!    time), [`CheckedIn`](BookingState::CheckedIn) or [`NoShow`](BookingState::NoShow).
//!    [`transition`] is the one table of allowed changes.
//!    A booking holds its slots while it is awaiting payment, confirmed or checked in.
//! 2. **Slots.** One booking is 1 to `max_slots_per_booking` slots of the booked room, none of
//!    them started, each starting exactly when the previous one ends, on one day
//!    ([`check_selection`]).
//! 3. **Booking window (受付期間).** For each date of use, first-come booking (先着順) opens in an
//!    earlier month on a set day and time, for residents first and for non-residents some days
//!    later, and closes at the end of a day before the day of use; later bookings are taken at
//!    the counter. A room with a lottery (抽選) is in its lottery until first-come opens
//!    ([`phase`]).
//! 4. **Payment deadline (支払期限).** A booking must be paid by the end of the 7th local day
//!    after booking, and never later than the end of the day before use; a booking made so late
//!    that this has passed gets a short grace instead ([`pay_by`]).
//! 5. **Refunds (還付).** A resident who cancels gets back a percentage of what was paid, by how
//!    many Tokyo calendar days before use they cancel ([`RefundPolicy`]); a cancellation by
//!    staff or a closure decided by the city refunds in full. Refunds are whole yen, rounded
//!    down.
//! 6. **Per-person limits (利用制限).** At most so many active bookings per month of use and kind
//!    of room, so many unpaid bookings at once, and so many slots in one booking
//!    ([`check_limits`]).
//!
//! All of these numbers are configuration ([`BookingRules`]); its `Default` is the demo city's.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

use crate::domain::calendar::{tokyo_date, tokyo_instant};
use crate::domain::pricing::Residency;

// ---------------------------------------------------------------------------------------------
// 1. States
// ---------------------------------------------------------------------------------------------

/// Where a booking is in its life. The codes are stored in `bookings.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingState {
    /// 支払待ち: booked, not yet paid; holds its slots until `pay_by`.
    AwaitingPayment,
    /// 予約確定: paid (or free).
    Confirmed,
    /// 取消: cancelled by the resident, by staff or because of a closure; slots released.
    Cancelled,
    /// 期限切れ: not paid by `pay_by`; cancelled automatically and slots released.
    Expired,
    /// 利用済: checked in at the facility.
    CheckedIn,
    /// 無断キャンセル: confirmed but nobody came.
    NoShow,
}

impl BookingState {
    /// Every state, in the order of a booking's life.
    pub const ALL: &'static [BookingState] = &[
        BookingState::AwaitingPayment,
        BookingState::Confirmed,
        BookingState::Cancelled,
        BookingState::Expired,
        BookingState::CheckedIn,
        BookingState::NoShow,
    ];

    /// The states that hold their slots (and count towards the per-person limits).
    pub const ACTIVE: &'static [BookingState] = &[
        BookingState::AwaitingPayment,
        BookingState::Confirmed,
        BookingState::CheckedIn,
    ];

    /// The stable code stored in the database and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            BookingState::AwaitingPayment => "awaiting_payment",
            BookingState::Confirmed => "confirmed",
            BookingState::Cancelled => "cancelled",
            BookingState::Expired => "expired",
            BookingState::CheckedIn => "checked_in",
            BookingState::NoShow => "no_show",
        }
    }

    /// Whether the booking holds its slots: awaiting payment, confirmed or checked in.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            BookingState::AwaitingPayment | BookingState::Confirmed | BookingState::CheckedIn
        )
    }

    /// Whether no event can change the booking any more (a no-show can still be undone by a
    /// late-synced offline check-in).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            BookingState::AwaitingPayment | BookingState::Confirmed | BookingState::NoShow
        )
    }
}

impl fmt::Display for BookingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A state or event code that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown booking code `{0}`")]
pub struct UnknownBookingCode(pub String);

impl FromStr for BookingState {
    type Err = UnknownBookingCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BookingState::ALL
            .iter()
            .copied()
            .find(|state| state.code() == s)
            .ok_or_else(|| UnknownBookingCode(s.to_owned()))
    }
}

/// What can happen to a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingEvent {
    /// The payment arrived (online or at the counter).
    Paid,
    /// The resident cancelled (refund by the tier table).
    CancelledByResident,
    /// Staff cancelled (full refund).
    CancelledByStaff,
    /// The city closed the facility or room (full refund).
    CancelledByClosure,
    /// `pay_by` passed without payment.
    PaymentDeadlinePassed,
    /// The booker arrived and was checked in.
    CheckedIn,
    /// Nobody came.
    MarkedNoShow,
    /// The booker was checked in within the check-in window by an offline scanner whose scan
    /// reached the server only after the no-show job had marked the booking: the scan wins.
    CheckedInLate,
}

impl BookingEvent {
    /// Every event.
    pub const ALL: &'static [BookingEvent] = &[
        BookingEvent::Paid,
        BookingEvent::CancelledByResident,
        BookingEvent::CancelledByStaff,
        BookingEvent::CancelledByClosure,
        BookingEvent::PaymentDeadlinePassed,
        BookingEvent::CheckedIn,
        BookingEvent::MarkedNoShow,
        BookingEvent::CheckedInLate,
    ];

    /// The stable code, for the booking's history.
    pub fn code(self) -> &'static str {
        match self {
            BookingEvent::Paid => "paid",
            BookingEvent::CancelledByResident => "cancelled_by_resident",
            BookingEvent::CancelledByStaff => "cancelled_by_staff",
            BookingEvent::CancelledByClosure => "cancelled_by_closure",
            BookingEvent::PaymentDeadlinePassed => "payment_deadline_passed",
            BookingEvent::CheckedIn => "checked_in",
            BookingEvent::MarkedNoShow => "marked_no_show",
            BookingEvent::CheckedInLate => "checked_in_late",
        }
    }

    /// Who cancelled, for a cancellation event; the refund depends on it.
    pub fn cancel_reason(self) -> Option<CancelReason> {
        match self {
            BookingEvent::CancelledByResident => Some(CancelReason::Resident),
            BookingEvent::CancelledByStaff => Some(CancelReason::Staff),
            BookingEvent::CancelledByClosure => Some(CancelReason::Closure),
            _ => None,
        }
    }
}

impl fmt::Display for BookingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for BookingEvent {
    type Err = UnknownBookingCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BookingEvent::ALL
            .iter()
            .copied()
            .find(|event| event.code() == s)
            .ok_or_else(|| UnknownBookingCode(s.to_owned()))
    }
}

/// An event that is not allowed in the booking's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a booking that is {from} cannot take the event {event}")]
pub struct InvalidTransition {
    pub from: BookingState,
    pub event: BookingEvent,
}

impl InvalidTransition {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        "invalid_transition"
    }
}

/// The state a booking moves to when `event` happens, or why it cannot.
///
/// The allowed changes, and nothing else:
///
/// | from | event | to |
/// |---|---|---|
/// | awaiting_payment | paid | confirmed |
/// | awaiting_payment | cancelled by resident, staff or closure | cancelled |
/// | awaiting_payment | payment deadline passed | expired |
/// | confirmed | cancelled by resident, staff or closure | cancelled |
/// | confirmed | checked in | checked_in |
/// | confirmed | marked no-show | no_show |
/// | no_show | checked in late (an offline scan made in time, synced afterwards) | checked_in |
///
/// So a booking is paid only once and only while awaiting payment; only an unpaid booking
/// expires; check-in and no-show need a paid booking (staff record a counter payment first);
/// cancelled, expired and checked-in bookings are final: cancelling them again is refused, so a
/// late payment or a repeated event never revives a booking whose slots are gone. A no-show
/// takes one event only: the late check-in of an offline scan made while check-in was open
/// (the no-show job cannot know about scans still queued in a basement).
pub fn transition(
    from: BookingState,
    event: BookingEvent,
) -> Result<BookingState, InvalidTransition> {
    use BookingEvent as E;
    use BookingState as S;
    match (from, event) {
        (S::AwaitingPayment, E::Paid) => Ok(S::Confirmed),
        (
            S::AwaitingPayment | S::Confirmed,
            E::CancelledByResident | E::CancelledByStaff | E::CancelledByClosure,
        ) => Ok(S::Cancelled),
        (S::AwaitingPayment, E::PaymentDeadlinePassed) => Ok(S::Expired),
        (S::Confirmed, E::CheckedIn) => Ok(S::CheckedIn),
        (S::Confirmed, E::MarkedNoShow) => Ok(S::NoShow),
        (S::NoShow, E::CheckedInLate) => Ok(S::CheckedIn),
        _ => Err(InvalidTransition { from, event }),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors a booking request can meet
// ---------------------------------------------------------------------------------------------

/// Why a booking request breaks the rules. Each variant has a stable [`code`](Self::code).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BookingRuleError {
    #[error("choose at least one slot")]
    NoSlots,
    #[error("slot {slot_id} is chosen twice")]
    DuplicateSlot { slot_id: i64 },
    #[error("slot {slot_id} belongs to room {slot_room_id}, not to the booked room {room_id}")]
    SlotsOfOtherRoom {
        slot_id: i64,
        slot_room_id: i32,
        room_id: i32,
    },
    #[error("slot {slot_id} has already started")]
    SlotInPast { slot_id: i64 },
    #[error(
        "the slots must follow one another on one day; slot {slot_id} does not start when the slot before it ends"
    )]
    SlotsNotConsecutive { slot_id: i64 },
    #[error("booking for this date opens at {opens_at}")]
    BookingNotOpen { opens_at: DateTime<Utc> },
    #[error("this date is still in its lottery; apply through the lottery")]
    LotteryPeriod,
    #[error("online booking for this date has closed; ask at the facility's counter")]
    BookingClosed,
    #[error(transparent)]
    LimitReached(#[from] LimitReached),
}

impl BookingRuleError {
    /// The stable machine code used in the API.
    pub fn code(&self) -> &'static str {
        match self {
            BookingRuleError::NoSlots => "no_slots",
            BookingRuleError::DuplicateSlot { .. } => "duplicate_slot",
            BookingRuleError::SlotsOfOtherRoom { .. } => "slots_of_other_room",
            BookingRuleError::SlotInPast { .. } => "slot_in_past",
            BookingRuleError::SlotsNotConsecutive { .. } => "slots_not_consecutive",
            BookingRuleError::BookingNotOpen { .. } => "booking_not_open",
            BookingRuleError::LotteryPeriod => "lottery_period",
            BookingRuleError::BookingClosed => "booking_closed",
            BookingRuleError::LimitReached(_) => "limit_reached",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Slots
// ---------------------------------------------------------------------------------------------

/// One slot of a booking request, as the database has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedSlot {
    pub slot_id: i64,
    pub room_id: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Check the slots of a booking request for `room_id` and return them in start order.
///
/// In this order, the first failure wins:
/// 1. at least one slot ([`BookingRuleError::NoSlots`]);
/// 2. at most `max_slots` ([`LimitReached`] `max_slots_per_booking`);
/// 3. no slot twice ([`BookingRuleError::DuplicateSlot`]);
/// 4. every slot of `room_id` ([`BookingRuleError::SlotsOfOtherRoom`]);
/// 5. none started: a slot starting exactly at `now` is refused ([`BookingRuleError::SlotInPast`]);
/// 6. sorted by start, each slot starts exactly when the previous one ends, and all start on the
///    same Tokyo date ([`BookingRuleError::SlotsNotConsecutive`], naming the first slot after a
///    gap).
pub fn check_selection(
    requested: &[RequestedSlot],
    room_id: i32,
    max_slots: u32,
    now: DateTime<Utc>,
) -> Result<Vec<RequestedSlot>, BookingRuleError> {
    if requested.is_empty() {
        return Err(BookingRuleError::NoSlots);
    }
    if requested.len() > max_slots as usize {
        return Err(LimitReached {
            limit: BookingLimits::MAX_SLOTS_PER_BOOKING,
            max: max_slots,
        }
        .into());
    }
    let mut ordered = requested.to_vec();
    ordered.sort_by_key(|slot| (slot.starts_at, slot.slot_id));
    let mut ids: Vec<i64> = requested.iter().map(|slot| slot.slot_id).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(BookingRuleError::DuplicateSlot { slot_id: pair[0] });
    }
    if let Some(other) = requested.iter().find(|slot| slot.room_id != room_id) {
        return Err(BookingRuleError::SlotsOfOtherRoom {
            slot_id: other.slot_id,
            slot_room_id: other.room_id,
            room_id,
        });
    }
    if let Some(started) = ordered.iter().find(|slot| slot.starts_at <= now) {
        return Err(BookingRuleError::SlotInPast {
            slot_id: started.slot_id,
        });
    }
    let day = tokyo_date(ordered[0].starts_at);
    if let Some(pair) = ordered
        .windows(2)
        .find(|pair| pair[1].starts_at != pair[0].ends_at || tokyo_date(pair[1].starts_at) != day)
    {
        return Err(BookingRuleError::SlotsNotConsecutive {
            slot_id: pair[1].slot_id,
        });
    }
    Ok(ordered)
}

// ---------------------------------------------------------------------------------------------
// 3. Booking window
// ---------------------------------------------------------------------------------------------

/// When first-come booking (先着順) of a date opens and closes. Times are Tokyo local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookingWindow {
    /// How many months before the month of use booking opens (1: the month before).
    pub first_come_opens_months_before: u32,
    /// Day of that month it opens on, 1–28.
    pub opens_on_day: u32,
    /// Minute of that day it opens at (9:00 = 540), 0–1439.
    pub opens_at_minute: i16,
    /// How many days after residents non-residents may book.
    pub non_resident_delay_days: u32,
    /// Online booking closes at the end of the day this many days before use (1: bookable until
    /// the end of the day before; 0: until the end of the day of use). Later bookings are taken
    /// at the counter.
    pub closes_days_before: u32,
}

impl Default for BookingWindow {
    fn default() -> Self {
        BookingWindow {
            first_come_opens_months_before: 1,
            opens_on_day: 1,
            opens_at_minute: 9 * 60,
            non_resident_delay_days: 7,
            closes_days_before: 1,
        }
    }
}

impl BookingWindow {
    /// When first-come booking of `service_date` opens for `residency`, by the configuration
    /// alone (no lottery). For use on 2027-02-14 with the defaults: 2027-01-01 09:00 JST for
    /// residents, 2027-01-08 09:00 JST for non-residents.
    pub fn opens_at(&self, service_date: NaiveDate, residency: Residency) -> DateTime<Utc> {
        let month_of_use = service_date.with_day(1).unwrap_or(service_date);
        let month = month_of_use
            .checked_sub_months(Months::new(self.first_come_opens_months_before))
            .unwrap_or(NaiveDate::MIN);
        let day = self.opens_on_day.clamp(1, days_in_month(month));
        let resident_day = month.with_day(day).unwrap_or(month);
        let day = match residency {
            Residency::Resident => resident_day,
            Residency::NonResident => days_after(resident_day, self.non_resident_delay_days),
        };
        tokyo_instant(day, self.opens_at_minute)
    }

    /// When online booking of `service_date` closes: the end (24:00) of the day
    /// `closes_days_before` days before use. For use on 2027-02-14 with the defaults:
    /// 2027-02-13 24:00 JST.
    pub fn closes_at(&self, service_date: NaiveDate) -> DateTime<Utc> {
        end_of_day(days_before(service_date, self.closes_days_before))
    }

    /// Check the configuration.
    pub fn validate(&self) -> Result<(), InvalidBookingRules> {
        check(
            self.first_come_opens_months_before <= 24,
            "window.first_come_opens_months_before",
            "at most 24 months",
        )?;
        check(
            (1..=28).contains(&self.opens_on_day),
            "window.opens_on_day",
            "a day from 1 to 28 (every month has it)",
        )?;
        check(
            (0..1440).contains(&self.opens_at_minute),
            "window.opens_at_minute",
            "a minute of the day from 0 to 1439",
        )?;
        check(
            self.non_resident_delay_days <= MAX_CONFIG_DAYS,
            "window.non_resident_delay_days",
            "at most 366 days",
        )?;
        check(
            self.closes_days_before <= MAX_CONFIG_DAYS,
            "window.closes_days_before",
            "at most 366 days",
        )
    }
}

/// Where a date of use is in its booking window, for one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// First-come booking has not opened yet for this person; it opens at `opens_at`.
    NotOpen { opens_at: DateTime<Utc> },
    /// A lottery room before first-come opens: apply through the lottery (抽選).
    Lottery,
    /// First-come booking is open.
    Open,
    /// Online booking has closed (counter booking only).
    Closed,
}

impl Phase {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Phase::NotOpen { .. } => "not_open",
            Phase::Lottery => "lottery",
            Phase::Open => "open",
            Phase::Closed => "closed",
        }
    }

    /// `Ok` when first-come booking is open, otherwise the error to answer with
    /// (`booking_not_open`, `lottery_period` or `booking_closed`).
    pub fn require_open(&self) -> Result<(), BookingRuleError> {
        match *self {
            Phase::Open => Ok(()),
            Phase::NotOpen { opens_at } => Err(BookingRuleError::BookingNotOpen { opens_at }),
            Phase::Lottery => Err(BookingRuleError::LotteryPeriod),
            Phase::Closed => Err(BookingRuleError::BookingClosed),
        }
    }
}

/// Where `service_date` is in its booking window at `now`, for a person of `residency`.
///
/// - From [`BookingWindow::closes_at`] on: [`Phase::Closed`] (this wins over everything).
/// - First-come opens at [`BookingWindow::opens_at`] for the person's residency. For a lottery
///   room, if `lottery_confirm_deadline` (the deadline for winners to confirm, 当選確定) is later,
///   first-come opens at that deadline instead, so what winners leave is offered only then.
///   From that instant on: [`Phase::Open`].
/// - Before it, a lottery room is in [`Phase::Lottery`] as long as first-come has not opened for
///   residents either. Otherwise (any room when first-come is still in the future; a
///   non-resident in the days after residents' opening): [`Phase::NotOpen`] with the instant
///   first-come opens for this person.
///
/// `lottery_confirm_deadline` is ignored for a room without a lottery.
pub fn phase(
    now: DateTime<Utc>,
    service_date: NaiveDate,
    residency: Residency,
    window: &BookingWindow,
    lottery_room: bool,
    lottery_confirm_deadline: Option<DateTime<Utc>>,
) -> Phase {
    if now >= window.closes_at(service_date) {
        return Phase::Closed;
    }
    let first_come = |residency| {
        let configured = window.opens_at(service_date, residency);
        match lottery_confirm_deadline {
            Some(deadline) if lottery_room => configured.max(deadline),
            _ => configured,
        }
    };
    let opens_at = first_come(residency);
    if now >= opens_at {
        Phase::Open
    } else if lottery_room && now < first_come(Residency::Resident) {
        Phase::Lottery
    } else {
        Phase::NotOpen { opens_at }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Payment deadline
// ---------------------------------------------------------------------------------------------

/// When a booking must be paid by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentRule {
    /// Pay by the end of the local day this many days after the day of booking.
    pub days_after_booking: u32,
    /// …and by the end of the local day this many days before the day of use at the latest.
    pub latest_days_before_use: u32,
    /// A booking always gets at least this many minutes to pay (unless its first slot starts
    /// sooner), for bookings made when the deadline above has (nearly) passed.
    pub grace_minutes: u32,
}

impl Default for PaymentRule {
    fn default() -> Self {
        PaymentRule {
            days_after_booking: 7,
            latest_days_before_use: 1,
            grace_minutes: 30,
        }
    }
}

impl PaymentRule {
    /// Check the configuration.
    pub fn validate(&self) -> Result<(), InvalidBookingRules> {
        check(
            self.days_after_booking <= MAX_CONFIG_DAYS,
            "payment.days_after_booking",
            "at most 366 days",
        )?;
        check(
            self.latest_days_before_use <= MAX_CONFIG_DAYS,
            "payment.latest_days_before_use",
            "at most 366 days",
        )?;
        check(
            (1..=1440).contains(&self.grace_minutes),
            "payment.grace_minutes",
            "from 1 to 1440 minutes",
        )
    }
}

/// The payment deadline of a booking made at `booked_at` whose first slot starts at
/// `first_slot_starts_at`. A payment is on time if it arrives before this instant; the job
/// expires bookings still unpaid after it.
///
/// "The end of a day" is 24:00 Tokyo time, i.e. the next local midnight (a screen shows it as
/// "by the end of 12/7"). The deadline is the earliest of:
/// - the end of the local day `days_after_booking` days after the day of booking
///   (booked 2026-12-01 14:00 → 2026-12-08 00:00 JST);
/// - the end of the local day `latest_days_before_use` days before the day of use
///   (use on 2026-12-05 → 2026-12-05 00:00 JST);
/// - the start of the first slot.
///
/// But a booking always gets at least `grace_minutes` after `booked_at` to pay, unless its first
/// slot starts sooner. With the defaults, a booking made at 23:50 on the day before use (its
/// deadline, the end of that day, is only 10 minutes away) must be paid by 00:20; one made when
/// the deadline has already passed (at the counter on the day of use) within 30 minutes.
pub fn pay_by(
    booked_at: DateTime<Utc>,
    first_slot_starts_at: DateTime<Utc>,
    rule: &PaymentRule,
) -> DateTime<Utc> {
    let after_booking = end_of_day(days_after(tokyo_date(booked_at), rule.days_after_booking));
    let before_use = end_of_day(days_before(
        tokyo_date(first_slot_starts_at),
        rule.latest_days_before_use,
    ));
    let deadline = after_booking.min(before_use).min(first_slot_starts_at);
    let grace =
        (booked_at + Duration::minutes(i64::from(rule.grace_minutes))).min(first_slot_starts_at);
    deadline.max(grace)
}

// ---------------------------------------------------------------------------------------------
// 5. Refunds
// ---------------------------------------------------------------------------------------------

/// One row of the refund table: cancelling at least this many days before use refunds this
/// percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundTier {
    pub days_before_use_at_least: u32,
    /// 0–100.
    pub percent: u32,
}

/// Who or what cancelled a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The resident: refund by the tier table.
    Resident,
    /// Staff: full refund.
    Staff,
    /// A closure decided by the city (weather, maintenance): full refund.
    Closure,
}

/// What a cancellation gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundDecision {
    /// Percent of the paid amount given back.
    pub percent: u32,
    /// The refund in whole yen: paid × percent / 100, rounded down.
    pub amount_yen: i64,
    /// Tokyo calendar days from the cancellation to the day of use (0 on the day of use,
    /// negative after it).
    pub days_before_use: i64,
}

/// The refund table (還付率). A resident who cancels `d` Tokyo calendar days before the day of
/// use gets the percentage of the tier with the largest `days_before_use_at_least` not above
/// `d`; a cancellation on or after the day of use counts as 0 days. With the defaults: 7 days
/// or more before use, 100 %; 3 to 6 days, 50 %; 2 days or fewer, nothing.
///
/// A valid table has a tier for 0 days, percentages from 0 to 100, no two tiers for the same
/// number of days, and never refunds more for a later cancellation. Tiers may be listed in any
/// order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefundPolicy {
    pub tiers: Vec<RefundTier>,
}

impl Default for RefundPolicy {
    fn default() -> Self {
        RefundPolicy {
            tiers: vec![
                RefundTier {
                    days_before_use_at_least: 7,
                    percent: 100,
                },
                RefundTier {
                    days_before_use_at_least: 3,
                    percent: 50,
                },
                RefundTier {
                    days_before_use_at_least: 0,
                    percent: 0,
                },
            ],
        }
    }
}

impl RefundPolicy {
    /// The refund of a cancellation at `now` of a booking whose first slot starts at
    /// `first_slot_starts_at` and of which `paid_yen` has been paid.
    ///
    /// Staff and closure cancellations refund 100 %. An unpaid booking (`paid_yen` 0) refunds
    /// 0 yen; that is not an error. A negative `paid_yen` counts as 0.
    pub fn refund(
        &self,
        paid_yen: i64,
        now: DateTime<Utc>,
        first_slot_starts_at: DateTime<Utc>,
        reason: CancelReason,
    ) -> RefundDecision {
        let days_before_use = days_before_use(now, first_slot_starts_at);
        let percent = match reason {
            CancelReason::Staff | CancelReason::Closure => 100,
            CancelReason::Resident => self.percent_for(days_before_use),
        };
        let paid = i128::from(paid_yen.max(0));
        let amount = paid * i128::from(percent.min(100)) / 100;
        RefundDecision {
            percent,
            amount_yen: i64::try_from(amount).unwrap_or(0),
            days_before_use,
        }
    }

    /// The percentage a resident gets back `days_before_use` days before use (negative counts as
    /// 0). A table without a tier low enough refunds 0 % (a valid table always has one).
    pub fn percent_for(&self, days_before_use: i64) -> u32 {
        let days = days_before_use.max(0);
        self.tiers
            .iter()
            .filter(|tier| i64::from(tier.days_before_use_at_least) <= days)
            .max_by_key(|tier| tier.days_before_use_at_least)
            .map_or(0, |tier| tier.percent)
    }

    /// Check the table.
    pub fn validate(&self) -> Result<(), InvalidBookingRules> {
        let mut tiers = self.tiers.clone();
        tiers.sort_by_key(|tier| tier.days_before_use_at_least);
        check(
            tiers
                .first()
                .is_some_and(|t| t.days_before_use_at_least == 0),
            "refunds.tiers",
            "needs a tier with days_before_use_at_least = 0",
        )?;
        if let Some(tier) = tiers.iter().find(|t| t.percent > 100) {
            return Err(invalid(
                "refunds.tiers",
                format!(
                    "the tier for {} days refunds {} %, but at most 100 %",
                    tier.days_before_use_at_least, tier.percent
                ),
            ));
        }
        for pair in tiers.windows(2) {
            let (nearer, earlier) = (pair[0], pair[1]);
            if nearer.days_before_use_at_least == earlier.days_before_use_at_least {
                return Err(invalid(
                    "refunds.tiers",
                    format!("two tiers for {} days", nearer.days_before_use_at_least),
                ));
            }
            if nearer.percent > earlier.percent {
                return Err(invalid(
                    "refunds.tiers",
                    format!(
                        "cancelling {} days before use refunds {} %, more than {} days before ({} %)",
                        nearer.days_before_use_at_least,
                        nearer.percent,
                        earlier.days_before_use_at_least,
                        earlier.percent
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Tokyo calendar days from `now` to the day of `first_slot_starts_at`: use on 2026-12-10,
/// cancelled any time on 2026-12-03, is 7 days before use. Negative after the day of use.
pub fn days_before_use(now: DateTime<Utc>, first_slot_starts_at: DateTime<Utc>) -> i64 {
    (tokyo_date(first_slot_starts_at) - tokyo_date(now)).num_days()
}

// ---------------------------------------------------------------------------------------------
// 6. Per-person limits
// ---------------------------------------------------------------------------------------------

/// Per-person limits (利用制限).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookingLimits {
    /// Active bookings (awaiting payment, confirmed, checked in) one person may hold for one
    /// month of use and one kind of room.
    pub max_active_per_month_per_room_kind: u32,
    /// Bookings awaiting payment one person may hold at once.
    pub max_unpaid_at_once: u32,
    /// Slots in one booking.
    pub max_slots_per_booking: u32,
}

impl BookingLimits {
    pub const MAX_ACTIVE_PER_MONTH_PER_ROOM_KIND: &'static str =
        "max_active_per_month_per_room_kind";
    pub const MAX_UNPAID_AT_ONCE: &'static str = "max_unpaid_at_once";
    pub const MAX_SLOTS_PER_BOOKING: &'static str = "max_slots_per_booking";

    /// Check the configuration: every limit at least 1.
    pub fn validate(&self) -> Result<(), InvalidBookingRules> {
        for (name, value) in [
            (
                Self::MAX_ACTIVE_PER_MONTH_PER_ROOM_KIND,
                self.max_active_per_month_per_room_kind,
            ),
            (Self::MAX_UNPAID_AT_ONCE, self.max_unpaid_at_once),
            (Self::MAX_SLOTS_PER_BOOKING, self.max_slots_per_booking),
        ] {
            if value < 1 {
                return Err(invalid(format!("limits.{name}"), "at least 1"));
            }
        }
        Ok(())
    }
}

impl Default for BookingLimits {
    fn default() -> Self {
        BookingLimits {
            max_active_per_month_per_room_kind: 4,
            max_unpaid_at_once: 3,
            max_slots_per_booking: 4,
        }
    }
}

/// What a person already holds, counted by the caller inside the booking's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CurrentCounts {
    /// Their active bookings for the same month of use and kind of room.
    pub active_in_month_for_kind: u32,
    /// Their bookings awaiting payment.
    pub unpaid: u32,
}

/// A per-person limit a new booking would go over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("limit reached: {limit} is {max}")]
pub struct LimitReached {
    /// The name of the limit, as in the configuration (e.g. `max_unpaid_at_once`).
    pub limit: &'static str,
    /// Its configured value.
    pub max: u32,
}

/// Whether one more booking of `requested_slots` slots stays within the limits. The new booking
/// counts as one more active booking in its month and kind of room and as one more unpaid
/// booking. Checked in this order: slots per booking, active per month per kind of room, unpaid
/// at once.
pub fn check_limits(
    limits: &BookingLimits,
    counts: CurrentCounts,
    requested_slots: u32,
) -> Result<(), LimitReached> {
    let checks = [
        (
            BookingLimits::MAX_SLOTS_PER_BOOKING,
            limits.max_slots_per_booking,
            requested_slots <= limits.max_slots_per_booking,
        ),
        (
            BookingLimits::MAX_ACTIVE_PER_MONTH_PER_ROOM_KIND,
            limits.max_active_per_month_per_room_kind,
            counts.active_in_month_for_kind < limits.max_active_per_month_per_room_kind,
        ),
        (
            BookingLimits::MAX_UNPAID_AT_ONCE,
            limits.max_unpaid_at_once,
            counts.unpaid < limits.max_unpaid_at_once,
        ),
    ];
    match checks.into_iter().find(|(_, _, within)| !within) {
        Some((limit, max, _)) => Err(LimitReached { limit, max }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// All the rules
// ---------------------------------------------------------------------------------------------

/// Every booking rule of the city (`[booking]` in the configuration). `Default` is the demo
/// city's: first-come opens on the 1st of the month before at 9:00 for residents, 7 days later
/// for non-residents, and closes at the end of the day before use; pay within 7 days and by the
/// day before use; refunds 100 % from 7 days before use, 50 % from 3, then none; at most 4
/// active bookings per month and kind of room, 3 unpaid at once and 4 slots per booking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookingRules {
    pub window: BookingWindow,
    pub payment: PaymentRule,
    pub refunds: RefundPolicy,
    pub limits: BookingLimits,
}

impl BookingRules {
    /// Check every part; the error names the first wrong field.
    pub fn validate(&self) -> Result<(), InvalidBookingRules> {
        self.window.validate()?;
        self.payment.validate()?;
        self.refunds.validate()?;
        self.limits.validate()
    }
}

/// A booking rule in the configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("booking.{field}: {message}")]
pub struct InvalidBookingRules {
    /// The field, under `booking` (e.g. `refunds.tiers`).
    pub field: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The largest number of days a rule may name.
const MAX_CONFIG_DAYS: u32 = 366;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidBookingRules {
    InvalidBookingRules {
        field: field.into(),
        message: message.into(),
    }
}

fn check(ok: bool, field: &str, message: &str) -> Result<(), InvalidBookingRules> {
    if ok {
        Ok(())
    } else {
        Err(invalid(field, message))
    }
}

/// 24:00 Tokyo time of `date`: the next local midnight.
fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    tokyo_instant(date, 1440)
}

fn days_after(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

fn days_before(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_sub_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MIN)
}

fn days_in_month(first_of_month: NaiveDate) -> u32 {
    first_of_month
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .map_or(28, |last| last.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// A Tokyo local time, written `YYYY-MM-DD HH:MM`.
    fn jst(text: &str) -> DateTime<Utc> {
        let (date, time) = text.split_once(' ').unwrap();
        let (h, m) = time.split_once(':').unwrap();
        let minute = h.parse::<i16>().unwrap() * 60 + m.parse::<i16>().unwrap();
        tokyo_instant(d(date), minute)
    }

    fn slot(slot_id: i64, room_id: i32, starts: &str, ends: &str) -> RequestedSlot {
        RequestedSlot {
            slot_id,
            room_id,
            starts_at: jst(starts),
            ends_at: jst(ends),
        }
    }

    fn window() -> BookingWindow {
        BookingWindow::default()
    }

    // 1. States

    #[test]
    fn states_match_the_database_check_constraint() {
        let codes: Vec<_> = BookingState::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, migration::BOOKING_STATES_FOR_CODE);
    }

    #[test]
    fn every_state_and_event_round_trips_through_its_code() {
        for state in BookingState::ALL {
            assert_eq!(state.code().parse::<BookingState>(), Ok(*state));
            assert_eq!(state.to_string(), state.code());
        }
        for event in BookingEvent::ALL {
            assert_eq!(event.code().parse::<BookingEvent>(), Ok(*event));
        }
        assert_eq!(
            "reserved".parse::<BookingState>(),
            Err(UnknownBookingCode("reserved".into()))
        );
    }

    #[test]
    fn state_codes_are_the_serde_names() {
        for state in BookingState::ALL {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.code())
            );
        }
    }

    #[test]
    fn only_the_listed_transitions_are_allowed() {
        use BookingEvent as E;
        use BookingState as S;
        let allowed = [
            (S::AwaitingPayment, E::Paid, S::Confirmed),
            (S::AwaitingPayment, E::CancelledByResident, S::Cancelled),
            (S::AwaitingPayment, E::CancelledByStaff, S::Cancelled),
            (S::AwaitingPayment, E::CancelledByClosure, S::Cancelled),
            (S::AwaitingPayment, E::PaymentDeadlinePassed, S::Expired),
            (S::Confirmed, E::CancelledByResident, S::Cancelled),
            (S::Confirmed, E::CancelledByStaff, S::Cancelled),
            (S::Confirmed, E::CancelledByClosure, S::Cancelled),
            (S::Confirmed, E::CheckedIn, S::CheckedIn),
            (S::Confirmed, E::MarkedNoShow, S::NoShow),
            (S::NoShow, E::CheckedInLate, S::CheckedIn),
        ];
        for &from in S::ALL {
            for &event in E::ALL {
                let expected = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to)
                    .ok_or(InvalidTransition { from, event });
                assert_eq!(transition(from, event), expected, "{from} + {event}");
            }
        }
    }

    #[test]
    fn a_booking_is_paid_only_while_awaiting_payment() {
        assert_eq!(
            transition(BookingState::AwaitingPayment, BookingEvent::Paid),
            Ok(BookingState::Confirmed)
        );
        for from in [
            BookingState::Confirmed,
            BookingState::Cancelled,
            BookingState::Expired,
        ] {
            assert!(transition(from, BookingEvent::Paid).is_err());
        }
    }

    #[test]
    fn cancelling_an_expired_or_cancelled_booking_is_refused() {
        let error =
            transition(BookingState::Expired, BookingEvent::CancelledByResident).unwrap_err();
        assert_eq!(error.code(), "invalid_transition");
        assert_eq!(
            error.to_string(),
            "a booking that is expired cannot take the event cancelled_by_resident"
        );
        assert!(transition(BookingState::Cancelled, BookingEvent::CancelledByClosure).is_err());
    }

    #[test]
    fn only_an_unpaid_booking_expires() {
        assert_eq!(
            transition(
                BookingState::AwaitingPayment,
                BookingEvent::PaymentDeadlinePassed
            ),
            Ok(BookingState::Expired)
        );
        assert!(transition(BookingState::Confirmed, BookingEvent::PaymentDeadlinePassed).is_err());
    }

    #[test]
    fn active_bookings_are_those_that_hold_their_slots() {
        let active: Vec<_> = BookingState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active, BookingState::ACTIVE);
        assert!(!BookingState::Cancelled.is_active());
        assert!(!BookingState::Expired.is_active());
        assert!(!BookingState::NoShow.is_active());
    }

    #[test]
    fn a_final_state_takes_no_event() {
        for &state in BookingState::ALL {
            let takes_one = BookingEvent::ALL
                .iter()
                .any(|&event| transition(state, event).is_ok());
            assert_eq!(state.is_final(), !takes_one, "{state}");
        }
    }

    #[test]
    fn cancellation_events_name_who_cancelled() {
        assert_eq!(
            BookingEvent::CancelledByClosure.cancel_reason(),
            Some(CancelReason::Closure)
        );
        assert_eq!(BookingEvent::Paid.cancel_reason(), None);
    }

    // 2. Slots

    #[test]
    fn consecutive_slots_of_the_room_come_back_in_start_order() {
        let now = jst("2026-12-01 10:00");
        let requested = [
            slot(12, 7, "2026-12-10 13:00", "2026-12-10 17:00"),
            slot(11, 7, "2026-12-10 09:00", "2026-12-10 13:00"),
            slot(13, 7, "2026-12-10 17:00", "2026-12-10 21:00"),
        ];
        let ordered = check_selection(&requested, 7, 4, now).unwrap();
        let ids: Vec<_> = ordered.iter().map(|s| s.slot_id).collect();
        assert_eq!(ids, [11, 12, 13]);
    }

    #[test]
    fn a_request_without_slots_is_refused() {
        let error = check_selection(&[], 7, 4, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(error, BookingRuleError::NoSlots);
        assert_eq!(error.code(), "no_slots");
    }

    #[test]
    fn more_slots_than_a_booking_may_hold_reach_the_slot_limit() {
        let requested = [
            slot(1, 7, "2026-12-10 09:00", "2026-12-10 10:00"),
            slot(2, 7, "2026-12-10 10:00", "2026-12-10 11:00"),
            slot(3, 7, "2026-12-10 11:00", "2026-12-10 12:00"),
        ];
        let error = check_selection(&requested, 7, 2, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(error.code(), "limit_reached");
        assert_eq!(
            error,
            BookingRuleError::LimitReached(LimitReached {
                limit: "max_slots_per_booking",
                max: 2
            })
        );
    }

    #[test]
    fn the_same_slot_twice_is_refused() {
        let requested = [
            slot(1, 7, "2026-12-10 09:00", "2026-12-10 13:00"),
            slot(1, 7, "2026-12-10 09:00", "2026-12-10 13:00"),
        ];
        let error = check_selection(&requested, 7, 4, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(error, BookingRuleError::DuplicateSlot { slot_id: 1 });
        assert_eq!(error.code(), "duplicate_slot");
    }

    #[test]
    fn a_slot_of_another_room_is_refused() {
        let requested = [
            slot(1, 7, "2026-12-10 09:00", "2026-12-10 13:00"),
            slot(2, 8, "2026-12-10 13:00", "2026-12-10 17:00"),
        ];
        let error = check_selection(&requested, 7, 4, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(
            error,
            BookingRuleError::SlotsOfOtherRoom {
                slot_id: 2,
                slot_room_id: 8,
                room_id: 7
            }
        );
        assert_eq!(error.code(), "slots_of_other_room");
    }

    #[test]
    fn a_slot_that_has_started_is_in_the_past() {
        let requested = [slot(1, 7, "2026-12-10 09:00", "2026-12-10 13:00")];
        let error = check_selection(&requested, 7, 4, jst("2026-12-10 09:00")).unwrap_err();
        assert_eq!(error, BookingRuleError::SlotInPast { slot_id: 1 });
        assert_eq!(error.code(), "slot_in_past");
        assert!(check_selection(&requested, 7, 4, jst("2026-12-10 08:59")).is_ok());
    }

    #[test]
    fn slots_with_a_gap_between_them_are_not_consecutive() {
        let requested = [
            slot(1, 7, "2026-12-10 09:00", "2026-12-10 12:00"),
            slot(3, 7, "2026-12-10 18:00", "2026-12-10 21:00"),
        ];
        let error = check_selection(&requested, 7, 4, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(error, BookingRuleError::SlotsNotConsecutive { slot_id: 3 });
        assert_eq!(error.code(), "slots_not_consecutive");
    }

    #[test]
    fn slots_across_midnight_are_not_consecutive() {
        let requested = [
            slot(1, 7, "2026-12-10 22:00", "2026-12-10 24:00"),
            slot(2, 7, "2026-12-11 00:00", "2026-12-11 02:00"),
        ];
        let error = check_selection(&requested, 7, 4, jst("2026-12-01 10:00")).unwrap_err();
        assert_eq!(error, BookingRuleError::SlotsNotConsecutive { slot_id: 2 });
    }

    // 3. Booking window

    #[test]
    fn first_come_opens_for_residents_on_the_first_of_the_month_before_at_nine() {
        let use_on = d("2027-02-14");
        assert_eq!(
            window().opens_at(use_on, Residency::Resident),
            jst("2027-01-01 09:00")
        );
    }

    #[test]
    fn non_residents_may_book_seven_days_after_residents() {
        assert_eq!(
            window().opens_at(d("2027-02-14"), Residency::NonResident),
            jst("2027-01-08 09:00")
        );
    }

    #[test]
    fn online_booking_closes_at_the_end_of_the_day_before_use() {
        assert_eq!(window().closes_at(d("2027-02-14")), jst("2027-02-13 24:00"));
        assert_eq!(jst("2027-02-13 24:00"), jst("2027-02-14 00:00"));
    }

    #[test]
    fn the_opening_month_crosses_the_year_and_keeps_the_day() {
        // Use in January 2027 opens on 1 December 2026.
        assert_eq!(
            window().opens_at(d("2027-01-20"), Residency::Resident),
            jst("2026-12-01 09:00")
        );
        let two_months = BookingWindow {
            first_come_opens_months_before: 2,
            opens_on_day: 15,
            ..window()
        };
        assert_eq!(
            two_months.opens_at(d("2027-03-31"), Residency::Resident),
            jst("2027-01-15 09:00")
        );
    }

    #[test]
    fn a_resident_sees_the_phases_in_order() {
        let use_on = d("2027-02-14");
        let at = |text| {
            phase(
                jst(text),
                use_on,
                Residency::Resident,
                &window(),
                false,
                None,
            )
        };
        assert_eq!(
            at("2027-01-01 08:59"),
            Phase::NotOpen {
                opens_at: jst("2027-01-01 09:00")
            }
        );
        assert_eq!(at("2027-01-01 09:00"), Phase::Open);
        assert_eq!(at("2027-02-13 23:59"), Phase::Open);
        assert_eq!(at("2027-02-14 00:00"), Phase::Closed);
        assert_eq!(at("2027-02-20 00:00"), Phase::Closed);
    }

    #[test]
    fn a_non_resident_waits_until_their_own_opening() {
        let use_on = d("2027-02-14");
        let at = |text| {
            phase(
                jst(text),
                use_on,
                Residency::NonResident,
                &window(),
                false,
                None,
            )
        };
        assert_eq!(
            at("2027-01-05 12:00"),
            Phase::NotOpen {
                opens_at: jst("2027-01-08 09:00")
            }
        );
        assert_eq!(at("2027-01-08 09:00"), Phase::Open);
    }

    #[test]
    fn a_lottery_room_is_in_its_lottery_until_first_come_opens() {
        let use_on = d("2027-02-14");
        let at = |text, residency| phase(jst(text), use_on, residency, &window(), true, None);
        assert_eq!(at("2026-12-10 12:00", Residency::Resident), Phase::Lottery);
        assert_eq!(
            at("2026-12-10 12:00", Residency::NonResident),
            Phase::Lottery
        );
        assert_eq!(at("2027-01-01 09:00", Residency::Resident), Phase::Open);
        // After residents' opening the lottery is over; non-residents wait for their own.
        assert_eq!(
            at("2027-01-02 12:00", Residency::NonResident),
            Phase::NotOpen {
                opens_at: jst("2027-01-08 09:00")
            }
        );
    }

    #[test]
    fn a_late_lottery_confirm_deadline_delays_first_come() {
        let use_on = d("2027-02-14");
        let deadline = Some(jst("2027-01-05 17:00"));
        let at = |text, residency, lottery| {
            phase(jst(text), use_on, residency, &window(), lottery, deadline)
        };
        assert_eq!(
            at("2027-01-03 12:00", Residency::Resident, true),
            Phase::Lottery
        );
        assert_eq!(
            at("2027-01-05 17:00", Residency::Resident, true),
            Phase::Open
        );
        assert_eq!(
            at("2027-01-06 12:00", Residency::NonResident, true),
            Phase::NotOpen {
                opens_at: jst("2027-01-08 09:00")
            }
        );
        // A room without a lottery ignores the deadline.
        assert_eq!(
            at("2027-01-03 12:00", Residency::Resident, false),
            Phase::Open
        );
    }

    #[test]
    fn only_the_open_phase_lets_a_booking_through() {
        assert_eq!(Phase::Open.require_open(), Ok(()));
        let opens_at = jst("2027-01-01 09:00");
        let codes: Vec<_> = [Phase::NotOpen { opens_at }, Phase::Lottery, Phase::Closed]
            .iter()
            .map(|p| p.require_open().unwrap_err().code())
            .collect();
        assert_eq!(
            codes,
            ["booking_not_open", "lottery_period", "booking_closed"]
        );
    }

    // 4. Payment deadline

    #[test]
    fn payment_is_due_at_the_end_of_the_seventh_day_after_booking() {
        let deadline = pay_by(
            jst("2026-12-01 14:00"),
            jst("2026-12-20 09:00"),
            &PaymentRule::default(),
        );
        assert_eq!(deadline, jst("2026-12-08 24:00"));
    }

    #[test]
    fn payment_is_due_by_the_end_of_the_day_before_use_at_the_latest() {
        let deadline = pay_by(
            jst("2026-12-01 14:00"),
            jst("2026-12-05 09:00"),
            &PaymentRule::default(),
        );
        assert_eq!(deadline, jst("2026-12-04 24:00"));
    }

    #[test]
    fn a_booking_made_the_day_before_use_is_due_at_midnight() {
        let deadline = pay_by(
            jst("2026-12-04 15:10"),
            jst("2026-12-05 09:00"),
            &PaymentRule::default(),
        );
        assert_eq!(deadline, jst("2026-12-04 24:00"));
    }

    #[test]
    fn a_booking_made_just_before_the_deadline_gets_thirty_minutes_to_pay() {
        let booked_at = jst("2026-12-04 23:50");
        let deadline = pay_by(booked_at, jst("2026-12-05 09:00"), &PaymentRule::default());
        assert_eq!(deadline, jst("2026-12-05 00:20"));
    }

    #[test]
    fn a_booking_made_after_the_deadline_gets_thirty_minutes_to_pay() {
        // At the counter on the day of use: the end of the day before use has passed.
        let booked_at = jst("2026-12-05 07:00");
        let deadline = pay_by(booked_at, jst("2026-12-05 09:00"), &PaymentRule::default());
        assert_eq!(deadline, jst("2026-12-05 07:30"));
    }

    #[test]
    fn the_deadline_is_never_after_the_first_slot_starts() {
        let same_day = PaymentRule {
            latest_days_before_use: 0,
            ..PaymentRule::default()
        };
        let deadline = pay_by(jst("2026-12-05 08:00"), jst("2026-12-05 09:00"), &same_day);
        assert_eq!(deadline, jst("2026-12-05 09:00"));
        let deadline = pay_by(
            jst("2026-12-05 08:45"),
            jst("2026-12-05 09:00"),
            &PaymentRule::default(),
        );
        assert_eq!(deadline, jst("2026-12-05 09:00"));
    }

    #[test]
    fn the_deadline_counts_days_in_tokyo_not_utc() {
        // 2026-12-01 08:00 JST is still 30 November in UTC.
        let deadline = pay_by(
            jst("2026-12-01 08:00"),
            jst("2026-12-31 09:00"),
            &PaymentRule::default(),
        );
        assert_eq!(deadline, jst("2026-12-08 24:00"));
    }

    // 5. Refunds

    #[test]
    fn cancelling_seven_days_before_use_refunds_in_full() {
        let policy = RefundPolicy::default();
        let decision = policy.refund(
            3000,
            jst("2026-12-03 23:59"),
            jst("2026-12-10 09:00"),
            CancelReason::Resident,
        );
        assert_eq!(
            decision,
            RefundDecision {
                percent: 100,
                amount_yen: 3000,
                days_before_use: 7
            }
        );
    }

    #[test]
    fn cancelling_three_to_six_days_before_use_refunds_half_rounded_down() {
        let policy = RefundPolicy::default();
        let starts = jst("2026-12-10 09:00");
        let decision = policy.refund(
            1475,
            jst("2026-12-04 00:00"),
            starts,
            CancelReason::Resident,
        );
        assert_eq!((decision.percent, decision.amount_yen), (50, 737));
        let decision = policy.refund(
            1475,
            jst("2026-12-07 12:00"),
            starts,
            CancelReason::Resident,
        );
        assert_eq!((decision.percent, decision.amount_yen), (50, 737));
    }

    #[test]
    fn cancelling_two_days_before_use_or_later_refunds_nothing() {
        let policy = RefundPolicy::default();
        let starts = jst("2026-12-10 09:00");
        for now in ["2026-12-08 00:00", "2026-12-10 08:00", "2026-12-11 10:00"] {
            let decision = policy.refund(3000, jst(now), starts, CancelReason::Resident);
            assert_eq!((decision.percent, decision.amount_yen), (0, 0), "{now}");
        }
    }

    #[test]
    fn staff_and_closure_cancellations_refund_in_full_even_on_the_day() {
        let policy = RefundPolicy::default();
        let (now, starts) = (jst("2026-12-10 08:00"), jst("2026-12-10 09:00"));
        for reason in [CancelReason::Staff, CancelReason::Closure] {
            let decision = policy.refund(3000, now, starts, reason);
            assert_eq!((decision.percent, decision.amount_yen), (100, 3000));
        }
    }

    #[test]
    fn an_unpaid_booking_refunds_nothing_without_error() {
        let decision = RefundPolicy::default().refund(
            0,
            jst("2026-12-01 10:00"),
            jst("2026-12-10 09:00"),
            CancelReason::Closure,
        );
        assert_eq!(decision.amount_yen, 0);
    }

    #[test]
    fn days_before_use_are_tokyo_calendar_days() {
        // 2026-12-03 08:00 JST is 2 December in UTC; it is still 7 days before the 10th in Tokyo.
        assert_eq!(
            days_before_use(jst("2026-12-03 08:00"), jst("2026-12-10 09:00")),
            7
        );
        assert_eq!(
            days_before_use(jst("2026-12-02 23:59"), jst("2026-12-10 00:30")),
            8
        );
    }

    #[test]
    fn tiers_may_be_listed_in_any_order() {
        let mut policy = RefundPolicy::default();
        policy.tiers.reverse();
        assert!(policy.validate().is_ok());
        assert_eq!(policy.percent_for(5), 50);
        assert_eq!(policy.percent_for(30), 100);
    }

    #[test]
    fn a_refund_table_must_cover_the_day_of_use() {
        let policy = RefundPolicy {
            tiers: vec![RefundTier {
                days_before_use_at_least: 3,
                percent: 100,
            }],
        };
        assert_eq!(policy.validate().unwrap_err().field, "refunds.tiers");
        assert!(RefundPolicy { tiers: vec![] }.validate().is_err());
    }

    #[test]
    fn a_refund_table_never_refunds_more_for_a_later_cancellation() {
        let policy = RefundPolicy {
            tiers: vec![
                RefundTier {
                    days_before_use_at_least: 7,
                    percent: 50,
                },
                RefundTier {
                    days_before_use_at_least: 0,
                    percent: 80,
                },
            ],
        };
        assert!(policy.validate().is_err());
    }

    #[test]
    fn a_refund_table_refuses_percentages_over_100_and_repeated_days() {
        let over = RefundPolicy {
            tiers: vec![RefundTier {
                days_before_use_at_least: 0,
                percent: 101,
            }],
        };
        assert!(over.validate().is_err());
        let repeated = RefundPolicy {
            tiers: vec![
                RefundTier {
                    days_before_use_at_least: 0,
                    percent: 0,
                },
                RefundTier {
                    days_before_use_at_least: 0,
                    percent: 0,
                },
            ],
        };
        assert!(repeated.validate().is_err());
    }

    // 6. Limits

    #[test]
    fn a_booking_within_every_limit_passes() {
        let counts = CurrentCounts {
            active_in_month_for_kind: 3,
            unpaid: 2,
        };
        assert_eq!(check_limits(&BookingLimits::default(), counts, 4), Ok(()));
    }

    #[test]
    fn a_fifth_active_booking_in_a_month_reaches_the_monthly_limit() {
        let counts = CurrentCounts {
            active_in_month_for_kind: 4,
            unpaid: 0,
        };
        assert_eq!(
            check_limits(&BookingLimits::default(), counts, 1),
            Err(LimitReached {
                limit: "max_active_per_month_per_room_kind",
                max: 4
            })
        );
    }

    #[test]
    fn a_fourth_unpaid_booking_reaches_the_unpaid_limit() {
        let counts = CurrentCounts {
            active_in_month_for_kind: 0,
            unpaid: 3,
        };
        let error = check_limits(&BookingLimits::default(), counts, 1).unwrap_err();
        assert_eq!(error.limit, "max_unpaid_at_once");
        let rule: BookingRuleError = error.into();
        assert_eq!(rule.code(), "limit_reached");
        assert_eq!(rule.to_string(), "limit reached: max_unpaid_at_once is 3");
    }

    #[test]
    fn too_many_slots_reach_the_slot_limit_first() {
        let counts = CurrentCounts {
            active_in_month_for_kind: 4,
            unpaid: 3,
        };
        let error = check_limits(&BookingLimits::default(), counts, 5).unwrap_err();
        assert_eq!(error.limit, "max_slots_per_booking");
    }

    // All the rules

    #[test]
    fn the_demo_citys_rules_are_valid() {
        assert_eq!(BookingRules::default().validate(), Ok(()));
    }

    #[test]
    fn the_rules_read_from_toml_with_defaults_for_what_is_left_out() {
        let rules: BookingRules = toml::from_str(
            r#"
            [window]
            non_resident_delay_days = 14

            [[refunds.tiers]]
            days_before_use_at_least = 0
            percent = 0

            [[refunds.tiers]]
            days_before_use_at_least = 10
            percent = 100
            "#,
        )
        .unwrap();
        assert_eq!(rules.window.non_resident_delay_days, 14);
        assert_eq!(rules.window.opens_at_minute, 540);
        assert_eq!(rules.payment, PaymentRule::default());
        assert_eq!(rules.refunds.tiers.len(), 2);
        assert_eq!(rules.validate(), Ok(()));
    }

    #[test]
    fn the_rules_round_trip_through_json() {
        let rules = BookingRules::default();
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<BookingRules>(&json).unwrap(), rules);
    }

    #[test]
    fn a_misspelt_rule_is_an_error() {
        assert!(toml::from_str::<BookingRules>("[limits]\nmax_unpaid = 2\n").is_err());
    }

    #[test]
    fn invalid_rules_name_their_field() {
        let mut rules = BookingRules::default();
        rules.window.opens_on_day = 31;
        assert_eq!(rules.validate().unwrap_err().field, "window.opens_on_day");
        let mut rules = BookingRules::default();
        rules.limits.max_unpaid_at_once = 0;
        let error = rules.validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "booking.limits.max_unpaid_at_once: at least 1"
        );
        let mut rules = BookingRules::default();
        rules.payment.grace_minutes = 0;
        assert_eq!(rules.validate().unwrap_err().field, "payment.grace_minutes");
    }
}
