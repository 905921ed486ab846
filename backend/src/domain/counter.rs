//! 窓口の決まり: the rules of the counter, where staff find a person and book on their behalf
//! ("no one left behind": people who come in person or telephone).
//!
//! 1. **Finding a person** ([`parse_search`]). One way at a time: the card number (利用者番号,
//!    checked by its Luhn digit before any lookup), the name in kanji or kana *together with* the
//!    date of birth, or the phone number. A name alone, or a partial number, would list many
//!    people: staff would browse personal data they do not need, so such a search is refused
//!    rather than answered. A search that still matches more than [`MAX_MATCHES`] people is
//!    refused too ([`too_many`]).
//! 2. **The counter phase** ([`Channel::require_open`]). Online booking of a date closes at the
//!    end of a day before use (`BookingWindow::closes_days_before`); from then on, bookings of
//!    that date are taken at the counter, including same-day walk-ins. The counter does not jump
//!    the queue: before first-come opens, or while a lottery holds the date, it refuses as the
//!    online service does.

use chrono::NaiveDate;

use crate::domain::booking::{BookingRuleError, Phase};
use crate::domain::registration::{FieldProblem, normalise_phone};
use crate::domain::search::fold;

/// The most people one search may show. Families share a phone number and namesakes share a
/// birthday, so a few matches are normal; more means the search was not specific enough.
pub const MAX_MATCHES: usize = 5;

/// The fewest characters of a name, once spaces are removed (a one-character name would match
/// by accident).
pub const MIN_NAME_CHARS: usize = 2;

/// How staff look a person up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResidentSearch {
    /// Ten digits with a correct check digit (hyphens and spaces as typed are dropped).
    CardNumber(String),
    /// Part of the name, kanji or kana, folded by [`fold`] with spaces removed, and the date of
    /// birth.
    NameAndBirth {
        name: String,
        date_of_birth: NaiveDate,
    },
    /// A Japanese phone number, digits only (as `users.phone` stores it).
    Phone(String),
}

impl ResidentSearch {
    /// The method's stable code, for the audit log (never the search terms themselves).
    pub fn method(&self) -> &'static str {
        match self {
            ResidentSearch::CardNumber(_) => "card_number",
            ResidentSearch::NameAndBirth { .. } => "name_and_birth",
            ResidentSearch::Phone(_) => "phone",
        }
    }
}

/// Why a search was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchRefusal {
    /// A value is malformed (a mistyped card number, a date that is not a date).
    Invalid(Vec<FieldProblem>),
    /// The search is ambiguous or would list too many people.
    TooBroad(Vec<FieldProblem>),
}

/// A field's value, trimmed, unless blank (a form submits blank fields as empty strings).
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn problem(field: &'static str, message: impl Into<String>) -> Vec<FieldProblem> {
    vec![FieldProblem {
        field,
        message: message.into(),
    }]
}

/// Turn the search form's fields (blank ones as `None` or empty) into one search.
pub fn parse_search(
    card_number: Option<&str>,
    name: Option<&str>,
    date_of_birth: Option<&str>,
    phone: Option<&str>,
) -> Result<ResidentSearch, SearchRefusal> {
    let (card_number, name, date_of_birth, phone) = (
        given(card_number),
        given(name),
        given(date_of_birth),
        given(phone),
    );
    let methods = [card_number.is_some(), name.is_some(), phone.is_some()]
        .iter()
        .filter(|m| **m)
        .count();
    if methods == 0 {
        let field = if date_of_birth.is_some() {
            "name"
        } else {
            "card_number"
        };
        return Err(SearchRefusal::TooBroad(problem(
            field,
            "enter a card number, a name with the date of birth, or a phone number",
        )));
    }
    if methods > 1 {
        let field = if card_number.is_some() {
            "card_number"
        } else {
            "phone"
        };
        return Err(SearchRefusal::TooBroad(problem(
            field,
            "search one way at a time: card number, name with date of birth, or phone",
        )));
    }
    if let Some(raw) = card_number {
        let digits: String = raw.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        return if crate::domain::card::is_valid_card_number(&digits) {
            Ok(ResidentSearch::CardNumber(digits))
        } else {
            Err(SearchRefusal::Invalid(problem(
                "card_number",
                "a card number is ten digits; check it against the card (the last digit is a check digit)",
            )))
        };
    }
    if let Some(raw) = phone {
        return normalise_phone(raw)
            .map(ResidentSearch::Phone)
            .map_err(|message| SearchRefusal::Invalid(problem("phone", message)));
    }
    let name = name.map(folded_name).unwrap_or_default();
    if name.chars().count() < MIN_NAME_CHARS {
        return Err(SearchRefusal::TooBroad(problem(
            "name",
            format!("enter at least {MIN_NAME_CHARS} characters of the name"),
        )));
    }
    let Some(raw) = date_of_birth else {
        return Err(SearchRefusal::TooBroad(problem(
            "date_of_birth",
            "a name needs the date of birth too",
        )));
    };
    let date_of_birth = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        SearchRefusal::Invalid(problem("date_of_birth", "enter a date as YYYY-MM-DD"))
    })?;
    Ok(ResidentSearch::NameAndBirth {
        name,
        date_of_birth,
    })
}

/// A name as searched: [`fold`]ed (kana to hiragana, full-width to half-width, lower case) and
/// without spaces, so `ヤマダ　ハナコ`, `やまだはなこ` and `山田 花子` compare as written.
pub fn folded_name(name: &str) -> String {
    fold(name).chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a person's kanji name or kana matches a folded search name (part of either).
pub fn name_matches(folded_query: &str, display_name: &str, name_kana: Option<&str>) -> bool {
    folded_name(display_name).contains(folded_query)
        || name_kana.is_some_and(|kana| folded_name(kana).contains(folded_query))
}

/// The refusal for a search that matched more than [`MAX_MATCHES`] people, naming the field
/// to narrow.
pub fn too_many(search: &ResidentSearch) -> SearchRefusal {
    let field = match search {
        ResidentSearch::CardNumber(_) => "card_number",
        ResidentSearch::NameAndBirth { .. } => "name",
        ResidentSearch::Phone(_) => "phone",
    };
    SearchRefusal::TooBroad(problem(
        field,
        format!(
            "more than {MAX_MATCHES} people match; search by card number, or give the full name"
        ),
    ))
}

/// Where a booking is made: online by the person, or at a facility's counter by staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Online,
    Counter,
}

impl Channel {
    /// The code stored in `bookings.channel`.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Counter => "counter",
        }
    }

    /// Whether a date in `phase` may be booked through this channel: online only while
    /// first-come is open; at the counter also once online booking has closed (the counter
    /// phase, same-day walk-ins included). Neither may book before first-come opens or while a
    /// lottery holds the date.
    pub fn require_open(self, phase: &Phase) -> Result<(), BookingRuleError> {
        match (self, phase) {
            (Channel::Counter, Phase::Closed) => Ok(()),
            _ => phase.require_open(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::card::card_number;

    fn refused_field(result: Result<ResidentSearch, SearchRefusal>) -> (&'static str, bool) {
        match result {
            Err(SearchRefusal::Invalid(p)) => (p[0].field, false),
            Err(SearchRefusal::TooBroad(p)) => (p[0].field, true),
            Ok(search) => panic!("accepted {search:?}"),
        }
    }

    #[test]
    fn a_card_number_is_accepted_with_hyphens_and_refused_with_a_wrong_check_digit() {
        let number = card_number(6);
        let typed = format!("{}-{}", &number[..4], &number[4..]);
        assert_eq!(
            parse_search(Some(&typed), None, None, None),
            Ok(ResidentSearch::CardNumber(number.clone()))
        );
        let mut wrong = number.into_bytes();
        wrong[9] = if wrong[9] == b'9' { b'0' } else { wrong[9] + 1 };
        let wrong = String::from_utf8(wrong).unwrap();
        assert_eq!(
            refused_field(parse_search(Some(&wrong), None, None, None)),
            ("card_number", false)
        );
    }

    #[test]
    fn a_name_needs_the_date_of_birth_and_two_characters() {
        assert_eq!(
            refused_field(parse_search(None, Some("山田"), None, None)),
            ("date_of_birth", true)
        );
        assert_eq!(
            refused_field(parse_search(None, Some("山"), Some("1990-04-01"), None)),
            ("name", true)
        );
        assert_eq!(
            refused_field(parse_search(None, Some("山田"), Some("1990-13-01"), None)),
            ("date_of_birth", false)
        );
        assert_eq!(
            parse_search(None, Some("ヤマダ　ハナコ"), Some("1990-04-01"), None),
            Ok(ResidentSearch::NameAndBirth {
                name: "やまだはなこ".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1990, 4, 1).unwrap(),
            })
        );
    }

    #[test]
    fn nothing_or_two_methods_at_once_are_refused_as_too_broad() {
        assert_eq!(
            refused_field(parse_search(None, None, None, None)),
            ("card_number", true)
        );
        assert_eq!(
            refused_field(parse_search(Some(" "), None, Some("1990-04-01"), Some(""))),
            ("name", true)
        );
        assert_eq!(
            refused_field(parse_search(
                Some(&card_number(6)),
                None,
                None,
                Some("045-671-2121")
            )),
            ("card_number", true)
        );
    }

    #[test]
    fn a_phone_number_is_searched_as_digits() {
        assert_eq!(
            parse_search(None, None, None, Some("045-671-2121")),
            Ok(ResidentSearch::Phone("0456712121".into()))
        );
        assert_eq!(
            refused_field(parse_search(None, None, None, Some("671-2121"))),
            ("phone", false)
        );
    }

    #[test]
    fn names_match_in_kanji_or_kana_whatever_the_script_and_spacing() {
        let query = folded_name("ハナコ");
        assert!(name_matches(&query, "山田 花子", Some("やまだ はなこ")));
        assert!(name_matches(&folded_name("山田花子"), "山田　花子", None));
        assert!(!name_matches(&query, "山田 太郎", Some("やまだ たろう")));
    }

    #[test]
    fn the_counter_may_book_after_online_booking_closed_but_never_before_it_opens() {
        let opens_at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert!(Channel::Counter.require_open(&Phase::Closed).is_ok());
        assert!(Channel::Counter.require_open(&Phase::Open).is_ok());
        assert_eq!(
            Channel::Online.require_open(&Phase::Closed),
            Err(BookingRuleError::BookingClosed)
        );
        assert_eq!(
            Channel::Counter.require_open(&Phase::Lottery),
            Err(BookingRuleError::LotteryPeriod)
        );
        assert_eq!(
            Channel::Counter.require_open(&Phase::NotOpen { opens_at }),
            Err(BookingRuleError::BookingNotOpen { opens_at })
        );
    }
}
