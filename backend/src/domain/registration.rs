//! 利用者登録: what a registration must contain, checked field by field so a person sees every
//! problem at once, and the states a registration goes through.
//!
//! email unverified → (follows the link) → pending review → (staff check identity and residency)
//! → approved (card number, valid three years) or rejected; an approved registration expires
//! unless renewed.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use email_address::EmailAddress;

/// A registration's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    EmailUnverified,
    PendingReview,
    Approved,
    Rejected,
    Expired,
}

impl RegistrationState {
    pub const ALL: &'static [RegistrationState] = &[
        RegistrationState::EmailUnverified,
        RegistrationState::PendingReview,
        RegistrationState::Approved,
        RegistrationState::Rejected,
        RegistrationState::Expired,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            RegistrationState::EmailUnverified => "email_unverified",
            RegistrationState::PendingReview => "pending_review",
            RegistrationState::Approved => "approved",
            RegistrationState::Rejected => "rejected",
            RegistrationState::Expired => "expired",
        }
    }
}

impl FromStr for RegistrationState {
    type Err = super::kinds::UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegistrationState::ALL
            .iter()
            .copied()
            .find(|r| r.code() == s)
            .ok_or_else(|| super::kinds::UnknownKind(s.to_owned()))
    }
}

/// A registration as submitted.
#[derive(Debug, Clone, Default)]
pub struct RegistrationInput<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub date_of_birth: &'a str,
    pub postal_code: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub residency: &'a str,
    pub locale: &'a str,
}

/// A registration that passed every check, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRegistration {
    /// Lower-cased.
    pub email: String,
    pub name: String,
    /// Full-width katakana folded to hiragana is not done: kana is kept as written, trimmed.
    pub name_kana: String,
    pub date_of_birth: NaiveDate,
    /// `NNN-NNNN`.
    pub postal_code: String,
    pub address: String,
    /// Digits only.
    pub phone: String,
    pub residency: String,
    pub locale: String,
}

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

/// Residency categories a person can register under.
pub const RESIDENCY_CATEGORIES: &[&str] = &[
    "resident",
    "works_in_city",
    "studies_in_city",
    "non_resident",
];

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Check every field; all problems are returned together.
pub fn validate(
    input: &RegistrationInput<'_>,
    today: NaiveDate,
) -> Result<ValidRegistration, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &'static str, message: String| problems.push(FieldProblem { field, message });

    let email = input.email.trim().to_lowercase();
    if email.len() > 254 || !EmailAddress::is_valid(&email) || !email.contains('.') {
        problem(
            "email",
            "enter an email address such as hanako@example.jp".into(),
        );
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        problem("name", "enter your name (up to 100 characters)".into());
    }
    let kana = input.name_kana.trim();
    if kana.is_empty() || kana.chars().count() > 100 || !kana.chars().all(is_kana_or_space) {
        problem(
            "name_kana",
            "enter your name in kana (ひらがな or カタカナ)".into(),
        );
    }
    let date_of_birth = NaiveDate::parse_from_str(input.date_of_birth.trim(), "%Y-%m-%d").ok();
    match date_of_birth {
        None => problem("date_of_birth", "enter a date as YYYY-MM-DD".into()),
        Some(dob) if dob > today => problem("date_of_birth", "cannot be in the future".into()),
        Some(dob) if today.year() - dob.year() > 120 => {
            problem("date_of_birth", "check the year".into())
        }
        Some(_) => {}
    }
    let postal_code = normalise_postal_code(input.postal_code)
        .map_err(|message| problem("postal_code", message))
        .unwrap_or_default();
    let address = normalise_address(input.address)
        .map_err(|message| problem("address", message))
        .unwrap_or_default();
    let phone = normalise_phone(input.phone)
        .map_err(|message| problem("phone", message))
        .unwrap_or_default();
    if !RESIDENCY_CATEGORIES.contains(&input.residency) {
        problem(
            "residency",
            format!("one of {}", RESIDENCY_CATEGORIES.join(", ")),
        );
    }
    if !matches!(input.locale, "ja" | "en") {
        problem("locale", "ja or en".into());
    }
    if let Err(reason) = password_strength(input.password, &[&email, name, kana]) {
        problem("password", reason);
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ValidRegistration {
        email,
        name: name.to_owned(),
        name_kana: kana.to_owned(),
        date_of_birth: date_of_birth.unwrap_or(today),
        postal_code,
        address,
        phone,
        residency: input.residency.to_owned(),
        locale: input.locale.to_owned(),
    })
}

/// A postal code as `NNN-NNNN` (seven digits, with or without the hyphen).
pub fn normalise_postal_code(raw: &str) -> Result<String, String> {
    let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() == 7 && raw.chars().all(|c| c.is_ascii_digit() || c == '-') {
        Ok(format!("{}-{}", &digits[..3], &digits[3..]))
    } else {
        Err("enter a postal code such as 231-0017".into())
    }
}

/// An address, trimmed: 5–200 characters.
pub fn normalise_address(raw: &str) -> Result<String, String> {
    let address = raw.trim();
    if (5..=200).contains(&address.chars().count()) {
        Ok(address.to_owned())
    } else {
        Err("enter your address (5–200 characters)".into())
    }
}

/// A Japanese phone number, digits only (10 or 11, starting with 0; hyphens, spaces and
/// brackets are allowed as written).
pub fn normalise_phone(raw: &str) -> Result<String, String> {
    let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    let chars_ok = raw
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')'));
    if chars_ok && (10..=11).contains(&digits.len()) && digits.starts_with('0') {
        Ok(digits)
    } else {
        Err("enter a Japanese phone number such as 045-671-2121".into())
    }
}

pub(crate) fn is_kana_or_space(c: char) -> bool {
    matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー' | '・' | ' ' | '　' | 'ゝ' | 'ゞ' | 'ヽ' | 'ヾ')
}

/// Refuse short, common or guessable passwords, with the reason (zxcvbn's estimate; it knows
/// the passwords most often found in breaches, and `personal` words such as the person's name).
pub fn password_strength(password: &str, personal: &[&str]) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!("use at least {MIN_PASSWORD_CHARS} characters"));
    }
    if length > 128 {
        return Err("use at most 128 characters".into());
    }
    let estimate = zxcvbn::zxcvbn(password, personal);
    if u8::from(estimate.score()) >= 3 {
        return Ok(());
    }
    let reason = estimate
        .feedback()
        .and_then(|f| f.warning().map(|w| w.to_string()))
        .unwrap_or_else(|| "this password is too easy to guess".into());
    Err(format!("{reason}; try a longer phrase of unrelated words"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2026-11-23".parse().unwrap()
    }

    fn good() -> RegistrationInput<'static> {
        RegistrationInput {
            email: " Hanako@Example.JP ",
            password: "blue heron paints the harbour",
            name: "横浜 花子",
            name_kana: "よこはま はなこ",
            date_of_birth: "1990-04-01",
            postal_code: "2310017",
            address: "横浜市中区港町1-1",
            phone: "045-671-2121",
            residency: "resident",
            locale: "ja",
        }
    }

    fn fields(problems: Vec<FieldProblem>) -> Vec<&'static str> {
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_complete_registration_is_accepted_and_normalised() {
        let valid = validate(&good(), today()).unwrap();
        assert_eq!(valid.email, "hanako@example.jp");
        assert_eq!(valid.postal_code, "231-0017");
        assert_eq!(valid.phone, "0456712121");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = RegistrationInput {
            email: "not-an-email",
            password: "short",
            name: "",
            name_kana: "横浜",
            date_of_birth: "2030-01-01",
            postal_code: "12",
            address: "横浜",
            phone: "12345",
            residency: "martian",
            locale: "fr",
        };
        assert_eq!(
            fields(validate(&input, today()).unwrap_err()),
            [
                "email",
                "name",
                "name_kana",
                "date_of_birth",
                "postal_code",
                "address",
                "phone",
                "residency",
                "locale",
                "password"
            ]
        );
    }

    #[test]
    fn katakana_kana_is_accepted_and_kanji_is_not() {
        let katakana = RegistrationInput {
            name_kana: "ヨコハマ ハナコ",
            ..good()
        };
        assert!(validate(&katakana, today()).is_ok());
        let kanji = RegistrationInput {
            name_kana: "横浜花子",
            ..good()
        };
        assert_eq!(
            fields(validate(&kanji, today()).unwrap_err()),
            ["name_kana"]
        );
    }

    #[test]
    fn common_or_personal_passwords_are_refused_with_a_reason() {
        let reason = password_strength("password123", &[]).unwrap_err();
        assert!(!reason.is_empty());
        assert!(password_strength("hanakohanako", &["hanako"]).is_err());
        assert!(password_strength("blue heron paints the harbour", &[]).is_ok());
        assert_eq!(
            password_strength("short", &[]).unwrap_err(),
            "use at least 10 characters"
        );
    }

    #[test]
    fn states_match_the_database_check_constraint() {
        let codes: Vec<_> = RegistrationState::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, migration::REGISTRATION_STATES_FOR_CODE);
    }
}
