//! A small iCalendar (RFC 5545) writer for the open-data availability feed: one VCALENDAR of
//! VEVENTs, times in UTC (`…Z`, so no VTIMEZONE is needed), text values escaped (§3.3.11),
//! CRLF line ends and lines folded at 75 octets without splitting a UTF-8 character (§3.1).
//!
//! Written here rather than with the `icalendar` crate: the feed needs five properties, the
//! crate stamps a random UID and the current time on every event unless each is overridden, and
//! it would be a new dependency (with a parser we do not use) for about sixty lines.

use chrono::{DateTime, Utc};

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Stable across downloads (a calendar app updates the event instead of adding another).
    pub uid: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    pub location: String,
    pub url: Option<String>,
}

/// A calendar to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    /// `X-WR-CALNAME`, the name calendar apps show.
    pub name: String,
    /// `DTSTAMP` of every event: when the feed was made.
    pub stamp: DateTime<Utc>,
    pub events: Vec<Event>,
}

/// A UTC date-time value, `YYYYMMDDTHHMMSSZ` (§3.3.5, form #2).
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (§3.3.11): backslash, semicolon, comma and line breaks.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            // Other control characters are not allowed in TEXT.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded (§3.1): at most 75 octets per physical line, each continuation
/// starting with a space (which counts towards its 75), never inside a UTF-8 character; ends
/// with CRLF.
pub fn fold(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / LIMIT * 3 + 2);
    let mut used = 0;
    for ch in line.chars() {
        let width = ch.len_utf8();
        if used + width > LIMIT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(ch);
        used += width;
    }
    out.push_str("\r\n");
    out
}

/// The calendar as text.
pub fn render(calendar: &Calendar) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//Yoyaku//Open data availability//JA".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", escape_text(&calendar.name)),
        "X-WR-TIMEZONE:Asia/Tokyo".into(),
    ];
    let stamp = utc(calendar.stamp);
    for event in &calendar.events {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}", escape_text(&event.uid)));
        lines.push(format!("DTSTAMP:{stamp}"));
        lines.push(format!("DTSTART:{}", utc(event.starts_at)));
        lines.push(format!("DTEND:{}", utc(event.ends_at)));
        lines.push(format!("SUMMARY:{}", escape_text(&event.summary)));
        lines.push(format!("LOCATION:{}", escape_text(&event.location)));
        if let Some(url) = &event.url {
            // URI values are not TEXT: no escaping, but they are folded like any line.
            lines.push(format!("URL:{url}"));
        }
        // A free slot does not make anyone busy.
        lines.push("TRANSP:TRANSPARENT".into());
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape_text("a,b;c\\d\ne\r\nf\u{7}"),
            "a\\,b\\;c\\\\d\\ne\\nf"
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let ascii = "X".repeat(160);
        let folded = fold(&ascii);
        let lines: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() <= 75));
        assert_eq!(lines[0].len(), 75);
        assert!(lines[1].starts_with(' '));
        // Japanese: three octets a character, so a line holds 25 of them (24 after the space).
        let japanese = format!("SUMMARY:{}", "空".repeat(60));
        let folded = fold(&japanese);
        for line in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = folded.replace("\r\n ", "");
        assert_eq!(
            unfolded,
            format!("{japanese}\r\n"),
            "unfolding gives the line back"
        );
        assert_eq!(fold("short"), "short\r\n");
    }

    #[test]
    fn a_calendar_has_its_events_with_stable_uids_in_utc_and_crlf_lines() {
        let at = |h| Utc.with_ymd_and_hms(2026, 4, 1, h, 0, 0).unwrap();
        let text = render(&Calendar {
            name: "大体育室, 空き".into(),
            stamp: at(1),
            events: vec![Event {
                uid: "slot-42@yoyaku.example".into(),
                starts_at: at(0),
                ends_at: at(2),
                summary: "空き: 大体育室".into(),
                location: "鶴見スポーツセンター".into(),
                url: Some("https://yoyaku.example/rooms/7".into()),
            }],
        });
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
        assert!(text.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(text.contains("\r\nX-WR-CALNAME:大体育室\\, 空き\r\n"));
        assert!(text.contains("\r\nUID:slot-42@yoyaku.example\r\n"));
        assert!(text.contains("\r\nDTSTAMP:20260401T010000Z\r\n"));
        assert!(text.contains("\r\nDTSTART:20260401T000000Z\r\nDTEND:20260401T020000Z\r\n"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "every line ends with CRLF"
        );
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 1);
    }
}
