//! The kinds of facility and room the city runs, with their display names.
//!
//! The database holds the same lists as CHECK constraints (migration `city_model`); a test below
//! keeps the two in step.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! kind_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal, $ja:literal, $en:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every kind, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in the database and used in the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Japanese display name.
            pub fn name_ja(self) -> &'static str {
                match self { $($name::$variant => $ja),+ }
            }

            /// English display name.
            pub fn name_en(self) -> &'static str {
                match self { $($name::$variant => $en),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownKind;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($code => Ok($name::$variant),)+ _ => Err(UnknownKind(s.to_owned())) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

/// A kind code that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}`")]
pub struct UnknownKind(pub String);

kind_enum! {
    /// What a facility is.
    FacilityKind {
        SportsCenter => "sports_center", "スポーツセンター", "Sports center";
        Gymnasium => "gymnasium", "体育館", "Gymnasium";
        Pool => "pool", "プール", "Pool";
        BaseballField => "baseball_field", "野球場", "Baseball field";
        BallField => "ball_field", "球技場", "Ball field";
        SportsGround => "sports_ground", "運動広場", "Sports ground";
        TennisCourts => "tennis_courts", "庭球場", "Tennis courts";
        Hall => "hall", "公会堂・ホール", "Public hall";
        CommunityCenter => "community_center", "地区センター", "Community center";
        Budokan => "budokan", "武道館", "Martial arts arena";
    }
}

kind_enum! {
    /// What a room (室場) is.
    RoomKind {
        Hall => "hall", "ホール・講堂", "Hall";
        Gymnasium => "gymnasium", "体育室", "Gymnasium";
        MartialArtsHall => "martial_arts_hall", "武道場", "Martial arts hall";
        Court => "court", "コート", "Court";
        Field => "field", "グラウンド", "Field";
        MeetingRoom => "meeting_room", "会議室", "Meeting room";
        JapaneseRoom => "japanese_room", "和室", "Japanese-style room";
        TrainingRoom => "training_room", "トレーニング室", "Training room";
        Studio => "studio", "スタジオ", "Studio";
        PoolLane => "pool_lane", "プールのコース", "Pool lane";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code() {
        for kind in FacilityKind::ALL {
            assert_eq!(kind.code().parse::<FacilityKind>(), Ok(*kind));
        }
        for kind in RoomKind::ALL {
            assert_eq!(kind.code().parse::<RoomKind>(), Ok(*kind));
        }
    }

    #[test]
    fn kinds_match_the_database_check_constraints() {
        let facility: Vec<_> = FacilityKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(facility, migration::FACILITY_KINDS_FOR_CODE);
        let room: Vec<_> = RoomKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(room, migration::ROOM_KINDS_FOR_CODE);
    }

    #[test]
    fn an_unknown_code_is_refused() {
        assert_eq!(
            "bowling".parse::<RoomKind>(),
            Err(UnknownKind("bowling".into()))
        );
    }
}
