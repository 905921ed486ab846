//! The shape of a city's fixture files (`fixtures/<city>/`), parsed and checked before anything is
//! written: every cross-reference resolves, codes are unique, and fee tables match templates.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::calendar::{parse_minute_of_day, parse_weekday};
use crate::domain::kinds::{FacilityKind, RoomKind};
use crate::domain::roles::Role;

/// Everything a city's seed holds.
#[derive(Debug, Clone)]
pub struct CityFixture {
    pub city: CityFile,
    pub facilities: Vec<FacilityDef>,
    pub templates: Vec<TemplateDef>,
    pub fees: FeesFile,
    pub holidays: Vec<HolidayDef>,
    pub demo_users: Vec<UserDef>,
    pub demo_groups: Vec<GroupDef>,
}

/// `city.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityFile {
    pub city: CityDef,
    pub wards: Vec<WardDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityDef {
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub prefecture: String,
    pub prefecture_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardDef {
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FacilitiesFile {
    facilities: Vec<FacilityDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityDef {
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub kind: FacilityKind,
    /// Ward code.
    pub ward: String,
    pub postal_code: String,
    pub address: String,
    pub address_en: String,
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    pub opens: String,
    pub closes: String,
    pub closes_on_holidays: bool,
    pub year_end_closure: bool,
    pub closing_days: Vec<ClosingDayDef>,
    pub barrier_free_ja: Vec<String>,
    pub barrier_free_en: Vec<String>,
    pub description_ja: String,
    pub description_en: String,
    pub rooms: Vec<RoomDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosingDayDef {
    /// `mon` … `sun`.
    pub weekday: String,
    pub nth: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomDef {
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub kind: RoomKind,
    pub capacity: i32,
    pub area_m2: Option<i32>,
    pub template: String,
    /// Resident weekday fee per slot, by band.
    pub fees: HashMap<String, i32>,
    pub lottery: bool,
    pub requires_group: bool,
    #[serde(default)]
    pub equipment: Vec<EquipmentDef>,
    #[serde(default)]
    pub halves: Vec<HalfDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HalfDef {
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub capacity: i32,
    pub fees: HashMap<String, i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquipmentDef {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub fee_yen: i32,
    #[serde(default = "one")]
    pub quantity: i32,
}

fn one() -> i32 {
    1
}

fn resident() -> String {
    "resident".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplatesFile {
    templates: Vec<TemplateDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDef {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub periods: Vec<PeriodDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodDef {
    /// `MM-DD`.
    pub season_from: String,
    pub season_to: String,
    pub day_type: String,
    pub starts: String,
    pub ends: String,
    pub band: String,
    #[serde(default)]
    pub lighting: bool,
}

/// `fees.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeesFile {
    pub policy: FeePolicyDef,
    pub reductions: Vec<ReductionDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeePolicyDef {
    pub effective_from: NaiveDate,
    pub non_resident_percent: i32,
    pub weekend_holiday_percent: i32,
    pub admission_event_percent: i32,
    pub commercial_percent: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReductionDef {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub percent_off: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayDef {
    pub date: NaiveDate,
    pub name: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<UserDef>,
    #[serde(default)]
    groups: Vec<GroupDef>,
}

/// A demo group (団体), registered on seeding, with its members named by email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    pub name: String,
    pub name_kana: String,
    pub activity: String,
    pub representative: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub email: String,
    pub display_name: String,
    pub name_kana: Option<String>,
    pub role: String,
    /// `resident` (default), `works_in_city`, `studies_in_city` or `non_resident`.
    #[serde(default = "resident")]
    pub residency: String,
    pub locale: String,
    #[serde(default)]
    pub facilities: Vec<String>,
    /// `YYYY-MM-DD`; residents who join groups need one (the age rule).
    pub date_of_birth: Option<String>,
    /// A fixed card number (10 digits, Luhn), so the demo can add members by it.
    pub card_number: Option<String>,
}

/// A fixture that cannot be loaded, naming the file and the place in it.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: String,
        source: Box<toml::de::Error>,
    },
    #[error("{file} line {line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{place}: {message}")]
    Invalid { place: String, message: String },
}

fn invalid(place: impl Into<String>, message: impl Into<String>) -> FixtureError {
    FixtureError::Invalid {
        place: place.into(),
        message: message.into(),
    }
}

macro_rules! embedded {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/", $path)),
        )
    };
}

/// The demo city's files, compiled into the binary so `yoyaku serve` works from any folder.
const DEMO_CITY: [(&str, &str); 6] = [
    embedded!("demo-city/city.toml"),
    embedded!("demo-city/facilities.toml"),
    embedded!("demo-city/slot-templates.toml"),
    embedded!("demo-city/fees.toml"),
    embedded!("demo-city/demo-users.toml"),
    embedded!("holidays/japan-2024-2035.csv"),
];

impl CityFixture {
    /// The demo city embedded in the binary.
    pub fn demo() -> Result<CityFixture, FixtureError> {
        let [city, facilities, templates, fees, users, holidays] = DEMO_CITY;
        Self::parse(city, facilities, templates, fees, users, holidays)
    }

    /// A city from a folder laid out like `fixtures/demo-city/` (`demo-users.toml` optional).
    /// Public holidays are national: the built-in list unless `holidays` names another CSV.
    pub fn from_dir(dir: &Path, holidays: Option<&Path>) -> Result<CityFixture, FixtureError> {
        let read = |path: &Path| -> Result<(String, String), FixtureError> {
            let file = path.display().to_string();
            std::fs::read_to_string(path)
                .map(|text| (file.clone(), text))
                .map_err(|source| FixtureError::Read { file, source })
        };
        let users_path = dir.join("demo-users.toml");
        let users = if users_path.exists() {
            read(&users_path)?
        } else {
            (users_path.display().to_string(), "users = []".to_owned())
        };
        let holidays = match holidays {
            Some(path) => read(path)?,
            None => (DEMO_CITY[5].0.to_owned(), DEMO_CITY[5].1.to_owned()),
        };
        let files = [
            read(&dir.join("city.toml"))?,
            read(&dir.join("facilities.toml"))?,
            read(&dir.join("slot-templates.toml"))?,
            read(&dir.join("fees.toml"))?,
            users,
            holidays,
        ];
        let [c, f, t, e, u, h] = files
            .each_ref()
            .map(|(name, text)| (name.as_str(), text.as_str()));
        Self::parse(c, f, t, e, u, h)
    }

    fn parse(
        city: (&str, &str),
        facilities: (&str, &str),
        templates: (&str, &str),
        fees: (&str, &str),
        users: (&str, &str),
        holidays: (&str, &str),
    ) -> Result<CityFixture, FixtureError> {
        let users_file = toml_file::<UsersFile>(users)?;
        let fixture = CityFixture {
            city: toml_file(city)?,
            facilities: toml_file::<FacilitiesFile>(facilities)?.facilities,
            templates: toml_file::<TemplatesFile>(templates)?.templates,
            fees: toml_file(fees)?,
            demo_users: users_file.users,
            demo_groups: users_file.groups,
            holidays: parse_holidays(holidays.0, holidays.1)?,
        };
        fixture.validate()?;
        Ok(fixture)
    }

    /// Number of top-level rooms (a divisible room counts once) and of halves.
    pub fn room_counts(&self) -> (usize, usize) {
        let rooms = self.facilities.iter().map(|f| f.rooms.len()).sum();
        let halves = self
            .facilities
            .iter()
            .flat_map(|f| &f.rooms)
            .map(|r| r.halves.len())
            .sum();
        (rooms, halves)
    }

    fn validate(&self) -> Result<(), FixtureError> {
        let wards: HashSet<&str> = self.city.wards.iter().map(|w| w.code.as_str()).collect();
        if wards.len() != self.city.wards.len() {
            return Err(invalid("city.toml", "ward codes must be unique"));
        }
        let mut bands_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for t in &self.templates {
            let place = format!("slot template {}", t.code);
            if t.periods.is_empty() {
                return Err(invalid(place, "has no periods"));
            }
            for p in &t.periods {
                let (from, to) = (
                    parse_month_day(&p.season_from),
                    parse_month_day(&p.season_to),
                );
                let (starts, ends) = (parse_minute_of_day(&p.starts), parse_minute_of_day(&p.ends));
                if from.is_none() || to.is_none() {
                    return Err(invalid(&place, "season_from/season_to must be MM-DD"));
                }
                match (starts, ends) {
                    (Some(s), Some(e)) if s < e => {}
                    _ => {
                        return Err(invalid(
                            &place,
                            format!("period {}–{} is not a valid time range", p.starts, p.ends),
                        ));
                    }
                }
                if !["any", "weekday", "weekend_holiday"].contains(&p.day_type.as_str()) {
                    return Err(invalid(
                        &place,
                        format!(
                            "day_type `{}` is not any, weekday or weekend_holiday",
                            p.day_type
                        ),
                    ));
                }
            }
            check_no_overlap(&place, &t.periods)?;
            bands_of.insert(&t.code, t.periods.iter().map(|p| p.band.as_str()).collect());
        }
        let mut facility_codes = HashSet::new();
        for f in &self.facilities {
            let place = format!("facility {}", f.code);
            if !facility_codes.insert(f.code.as_str()) {
                return Err(invalid(place, "code is used twice"));
            }
            if !wards.contains(f.ward.as_str()) {
                return Err(invalid(
                    place,
                    format!("ward `{}` is not in city.toml", f.ward),
                ));
            }
            match (
                parse_minute_of_day(&f.opens),
                parse_minute_of_day(&f.closes),
            ) {
                (Some(o), Some(c)) if o < c => {}
                _ => {
                    return Err(invalid(
                        place,
                        "opens/closes must be HH:MM with opens before closes",
                    ));
                }
            }
            if f.barrier_free_ja.len() != f.barrier_free_en.len() {
                return Err(invalid(
                    place,
                    "barrier_free_ja and barrier_free_en differ in length",
                ));
            }
            for day in &f.closing_days {
                if parse_weekday(&day.weekday).is_none()
                    || day.nth.is_some_and(|n| !(1..=5).contains(&n))
                {
                    return Err(invalid(
                        &place,
                        format!(
                            "closing day {}/{:?} is not a weekday and 1..5",
                            day.weekday, day.nth
                        ),
                    ));
                }
            }
            let mut room_codes = HashSet::new();
            for r in &f.rooms {
                let place = format!("facility {} room {}", f.code, r.code);
                let Some(bands) = bands_of.get(r.template.as_str()) else {
                    return Err(invalid(
                        place,
                        format!("template `{}` is not defined", r.template),
                    ));
                };
                let fee_tables = std::iter::once(&r.fees).chain(r.halves.iter().map(|h| &h.fees));
                for fees in fee_tables {
                    let keys: BTreeSet<&str> = fees.keys().map(String::as_str).collect();
                    if &keys != bands {
                        return Err(invalid(
                            &place,
                            format!("fee bands {keys:?} differ from the template's {bands:?}"),
                        ));
                    }
                    if fees.values().any(|yen| *yen < 0) {
                        return Err(invalid(&place, "fees cannot be negative"));
                    }
                }
                if !(r.halves.is_empty() || r.halves.len() == 2) {
                    return Err(invalid(&place, "a divisible room has exactly two halves"));
                }
                for code in std::iter::once(&r.code).chain(r.halves.iter().map(|h| &h.code)) {
                    if !room_codes.insert(code.as_str()) {
                        return Err(invalid(&place, format!("room code `{code}` is used twice")));
                    }
                }
                if r.capacity <= 0 || r.halves.iter().any(|h| h.capacity <= 0) {
                    return Err(invalid(&place, "capacity must be positive"));
                }
            }
        }
        for u in &self.demo_users {
            if u.role.parse::<Role>().is_err() {
                return Err(invalid(
                    format!("demo user {}", u.email),
                    format!("role `{}` is unknown", u.role),
                ));
            }
            if let Some(missing) = u
                .facilities
                .iter()
                .find(|c| !facility_codes.contains(c.as_str()))
            {
                return Err(invalid(
                    format!("demo user {}", u.email),
                    format!("facility `{missing}` is not defined"),
                ));
            }
            if u.date_of_birth
                .as_deref()
                .is_some_and(|d| d.parse::<NaiveDate>().is_err())
            {
                return Err(invalid(
                    format!("demo user {}", u.email),
                    "date_of_birth must be YYYY-MM-DD",
                ));
            }
            if u.card_number
                .as_deref()
                .is_some_and(|c| !crate::domain::card::is_valid_card_number(c))
            {
                return Err(invalid(
                    format!("demo user {}", u.email),
                    "card_number must be 10 digits with a Luhn check digit",
                ));
            }
        }
        let emails: HashSet<&str> = self.demo_users.iter().map(|u| u.email.as_str()).collect();
        for g in &self.demo_groups {
            let place = format!("demo group {}", g.name);
            if let Some(unknown) = std::iter::once(&g.representative)
                .chain(&g.members)
                .find(|e| !emails.contains(e.as_str()))
            {
                return Err(invalid(&place, format!("`{unknown}` is not a demo user")));
            }
            if g.members.contains(&g.representative) {
                return Err(invalid(&place, "the representative is listed as a member"));
            }
        }
        Ok(())
    }
}

/// Periods that can apply on the same day must not overlap: bookings claim a room unit per slot
/// start, which is only sound when a room's slots on one day are disjoint.
fn check_no_overlap(place: &str, periods: &[PeriodDef]) -> Result<(), FixtureError> {
    use crate::domain::calendar::in_season;
    for (i, a) in periods.iter().enumerate() {
        for b in &periods[i + 1..] {
            let day_types_meet =
                a.day_type == "any" || b.day_type == "any" || a.day_type == b.day_type;
            let (af, at, bf, bt) = (
                parse_month_day(&a.season_from).unwrap_or(101),
                parse_month_day(&a.season_to).unwrap_or(1231),
                parse_month_day(&b.season_from).unwrap_or(101),
                parse_month_day(&b.season_to).unwrap_or(1231),
            );
            let seasons_meet = in_season(bf, af, at) || in_season(af, bf, bt);
            let (a_start, a_end) = (parse_minute_of_day(&a.starts), parse_minute_of_day(&a.ends));
            let (b_start, b_end) = (parse_minute_of_day(&b.starts), parse_minute_of_day(&b.ends));
            let times_meet = a_start < b_end && b_start < a_end;
            if day_types_meet && seasons_meet && times_meet {
                return Err(invalid(
                    place,
                    format!(
                        "periods {}–{} and {}–{} overlap on the same days",
                        a.starts, a.ends, b.starts, b.ends
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn toml_file<T: serde::de::DeserializeOwned>(
    (file, text): (&str, &str),
) -> Result<T, FixtureError> {
    toml::from_str(text).map_err(|source| FixtureError::Parse {
        file: file.to_owned(),
        source: Box::new(source),
    })
}

/// `MM-DD` as month*100+day.
pub fn parse_month_day(text: &str) -> Option<i16> {
    let (m, d) = text.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m * 100 + d) as i16)
}

fn parse_holidays(file: &str, text: &str) -> Result<Vec<HolidayDef>, FixtureError> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim_start_matches('\u{feff}').trim());
    if header != Some("date,name,name_en") {
        return Err(FixtureError::Csv {
            file: file.into(),
            line: 1,
            message: "header must be date,name,name_en".into(),
        });
    }
    let mut holidays = Vec::new();
    for (index, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let csv_error = |message: &str| FixtureError::Csv {
            file: file.into(),
            line: index + 1,
            message: message.into(),
        };
        let mut fields = line.splitn(3, ',');
        let (Some(date), Some(name), Some(name_en)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(csv_error("expected three fields"));
        };
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| csv_error("date must be YYYY-MM-DD"))?;
        holidays.push(HolidayDef {
            date,
            name: name.into(),
            name_en: name_en.trim_matches('"').into(),
        });
    }
    Ok(holidays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_city_parses_and_validates() {
        let city = CityFixture::demo().expect("demo city loads");
        assert_eq!(city.city.wards.len(), 18);
        assert!(city.facilities.len() >= 80);
        let (rooms, halves) = city.room_counts();
        assert!(rooms >= 600, "{rooms} rooms");
        assert!(halves >= 2);
    }

    #[test]
    fn a_room_with_fees_for_an_unknown_band_is_refused() {
        let mut city = CityFixture::demo().unwrap();
        city.facilities[0].rooms[0]
            .fees
            .insert("midnight".into(), 100);
        let error = city.validate().unwrap_err().to_string();
        assert!(error.contains("fee bands"), "{error}");
    }

    #[test]
    fn a_facility_in_an_unknown_ward_is_refused() {
        let mut city = CityFixture::demo().unwrap();
        city.facilities[0].ward = "999999".into();
        assert!(
            city.validate()
                .unwrap_err()
                .to_string()
                .contains("ward `999999`")
        );
    }

    #[test]
    fn overlapping_periods_on_the_same_days_are_refused() {
        let mut city = CityFixture::demo().unwrap();
        let mut extra = city.templates[0].periods[0].clone();
        extra.starts = "10:00".into();
        extra.ends = "11:30".into();
        city.templates[0].periods.push(extra);
        assert!(city.validate().unwrap_err().to_string().contains("overlap"));
    }

    #[test]
    fn the_demo_folder_loads_from_disk_with_the_built_in_holidays() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo-city");
        let city = CityFixture::from_dir(&dir, None).expect("loads from disk");
        assert_eq!(
            city.holidays.len(),
            CityFixture::demo().unwrap().holidays.len()
        );
    }

    #[test]
    fn month_days_parse_including_leap_day() {
        assert_eq!(parse_month_day("04-01"), Some(401));
        assert_eq!(parse_month_day("02-29"), Some(229));
        assert_eq!(parse_month_day("02-30"), None);
    }

    #[test]
    fn holiday_csv_errors_name_the_line() {
        let error = parse_holidays("h.csv", "date,name,name_en\n2026-13-01,x,y\n").unwrap_err();
        assert_eq!(error.to_string(), "h.csv line 2: date must be YYYY-MM-DD");
    }
}
