//! Pure pieces of the console's reports: the month range a report covers (parsed and bounded
//! here, so every report refuses the same bad input the same way), the ratios, and the SVG bar
//! chart the reports page draws on the server (no script, no chart library).

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// The longest range one report covers, in months. A city-wide report over two years is a few
/// hundred thousand slots to aggregate; more than that belongs in an export job, not a request.
pub const MAX_MONTHS: i32 = 24;

/// How many months a report covers when the range is left open (a year up to the end month).
pub const DEFAULT_MONTHS: i32 = 12;

/// A calendar month (`YYYY-MM`), in Japan time like every service date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1–12.
    month: u32,
}

impl Month {
    /// The month of a date.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parses `YYYY-MM` (four-digit year 2000–2100, two-digit month), nothing else.
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        if !year
            .bytes()
            .chain(month.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let month: u32 = month.parse().ok()?;
        ((2000..=2100).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    /// The month `n` months later (or earlier, for a negative `n`).
    pub fn plus(self, n: i32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 + n;
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// How many months from `self` to `later`, counting both (`2026-01`..`2026-03` is 3).
    pub fn count_to(self, later: Month) -> i32 {
        (later.year * 12 + later.month as i32) - (self.year * 12 + self.month as i32) + 1
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The months a report covers, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthRange {
    pub from: Month,
    pub to: Month,
}

impl MonthRange {
    /// The first day of the range (inclusive).
    pub fn start_date(self) -> NaiveDate {
        self.from.first_day()
    }

    /// The day after the range (exclusive), so a query reads `date >= start AND date < end`.
    pub fn end_date(self) -> NaiveDate {
        self.to.plus(1).first_day()
    }

    /// Every month of the range in order.
    pub fn months(self) -> Vec<Month> {
        (0..self.from.count_to(self.to))
            .map(|i| self.from.plus(i))
            .collect()
    }
}

/// One problem with the requested range, naming the parameter at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeProblem {
    /// `from` or `to`.
    pub field: &'static str,
    pub message: String,
}

/// Turns `?from=&to=` into a range. Left out: `to` is `from` + 11 months when `from` is given,
/// else `current`; `from` is `to` − 11 months. Every problem is returned at once.
pub fn resolve_range(
    from: Option<&str>,
    to: Option<&str>,
    current: Month,
) -> Result<MonthRange, Vec<RangeProblem>> {
    let mut problems = Vec::new();
    let mut parse = |field: &'static str, text: Option<&str>| match text {
        None => None,
        Some(text) => {
            let month = Month::parse(text);
            if month.is_none() {
                problems.push(RangeProblem {
                    field,
                    message: format!("`{text}` is not a month: write YYYY-MM (2000-01 to 2100-12)"),
                });
            }
            month
        }
    };
    let from_month = parse("from", from);
    let to_month = parse("to", to);
    if !problems.is_empty() {
        return Err(problems);
    }
    let (from, to) = match (from_month, to_month) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, from.plus(DEFAULT_MONTHS - 1)),
        (None, Some(to)) => (to.plus(1 - DEFAULT_MONTHS), to),
        (None, None) => (current.plus(1 - DEFAULT_MONTHS), current),
    };
    if to < from {
        return Err(vec![RangeProblem {
            field: "to",
            message: format!("`to` ({to}) is before `from` ({from})"),
        }]);
    }
    let months = from.count_to(to);
    if months > MAX_MONTHS {
        return Err(vec![RangeProblem {
            field: "to",
            message: format!(
                "the range covers {months} months; a report covers at most {MAX_MONTHS}"
            ),
        }]);
    }
    Ok(MonthRange { from, to })
}

/// `part / whole`, rounded to four decimals; `None` when there is no whole to divide by.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    if whole == 0 {
        return None;
    }
    Some((part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// A bar chart: one bar per label, for the reports page.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// An id unique on the page (it names the title and description elements).
    pub id: String,
    /// What the chart shows (read as the image's name).
    pub title: String,
    /// A sentence with the figures (read as the image's description; the table follows).
    pub description: String,
    pub bars: Vec<Bar>,
}

/// One bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Under the bar, e.g. `2026-04`.
    pub label: String,
    /// The height, in the chart's unit (never negative).
    pub value: f64,
    /// Above the bar, e.g. `62.5%` or `¥12,000`.
    pub shown: String,
}

/// Escapes text for XML content and attribute values.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The chart as an inline SVG element: `role="img"` named by its `<title>` and described by its
/// `<desc>` (the page puts the full table beside it, so nothing is only in the picture). One
/// horizontal bar per label, so a year of months stays legible on a phone; sizes are in a
/// viewBox, so the chart scales with the page and with text zoom; colours come from the
/// stylesheet (`.chart-bar`, `.chart-label`), so they follow its contrast rules.
pub fn svg_bar_chart(chart: &BarChart) -> String {
    const ROW: f64 = 26.0;
    const LABEL: f64 = 64.0;
    const PLOT: f64 = 200.0;
    const VALUE: f64 = 96.0;
    const PAD: f64 = 4.0;
    let id = xml_escape(&chart.id);
    let width = LABEL + PLOT + VALUE;
    let height = PAD * 2.0 + chart.bars.len().max(1) as f64 * ROW;
    let max = chart
        .bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        xml_escape(&chart.title),
        xml_escape(&chart.description),
    );
    svg.push_str(&format!(
        "<line class=\"chart-axis\" x1=\"{LABEL}\" y1=\"0\" x2=\"{LABEL}\" y2=\"{height}\"/>"
    ));
    for (i, bar) in chart.bars.iter().enumerate() {
        let value = if bar.value.is_finite() && bar.value > 0.0 {
            bar.value
        } else {
            0.0
        };
        let w = if max > 0.0 {
            (value / max * PLOT * 10.0).round() / 10.0
        } else {
            0.0
        };
        let top = PAD + i as f64 * ROW;
        let text_y = top + ROW / 2.0 + 4.0;
        svg.push_str(&format!(
            "<g><text class=\"chart-label\" x=\"{}\" y=\"{text_y}\" text-anchor=\"end\">{}</text>\
             <rect class=\"chart-bar\" x=\"{LABEL}\" y=\"{}\" width=\"{w}\" height=\"{}\"/>\
             <text class=\"chart-value\" x=\"{}\" y=\"{text_y}\">{}</text></g>",
            LABEL - 6.0,
            xml_escape(&bar.label),
            top + 5.0,
            ROW - 10.0,
            LABEL + w + 6.0,
            xml_escape(&bar.shown),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Month {
        Month::parse(text).unwrap()
    }

    #[test]
    fn a_month_is_parsed_only_from_yyyy_mm() {
        assert_eq!(m("2026-04").to_string(), "2026-04");
        for bad in [
            "2026-4",
            "2026-13",
            "2026-00",
            "26-04",
            "2026/04",
            "abcd-ef",
            "1999-12",
            "2026-04-01",
            "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn months_add_across_years() {
        assert_eq!(m("2026-11").plus(3), m("2027-02"));
        assert_eq!(m("2026-01").plus(-1), m("2025-12"));
        assert_eq!(m("2025-12").count_to(m("2026-02")), 3);
        assert_eq!(m("2026-12").plus(1).first_day().to_string(), "2027-01-01");
    }

    #[test]
    fn an_open_range_is_the_year_up_to_the_current_month() {
        let range = resolve_range(None, None, m("2026-11")).unwrap();
        assert_eq!((range.from, range.to), (m("2025-12"), m("2026-11")));
        assert_eq!(range.months().len(), 12);
        let range = resolve_range(Some("2026-01"), None, m("2026-11")).unwrap();
        assert_eq!(range.to, m("2026-12"));
        let range = resolve_range(None, Some("2026-03"), m("2026-11")).unwrap();
        assert_eq!(range.from, m("2025-04"));
        assert_eq!(range.start_date().to_string(), "2025-04-01");
        assert_eq!(range.end_date().to_string(), "2026-04-01");
    }

    #[test]
    fn a_bad_range_names_the_parameter_at_fault() {
        let fields = |r: Result<MonthRange, Vec<RangeProblem>>| {
            r.unwrap_err()
                .into_iter()
                .map(|p| p.field)
                .collect::<Vec<_>>()
        };
        let now = m("2026-11");
        assert_eq!(
            fields(resolve_range(Some("2026-13"), Some("x"), now)),
            ["from", "to"]
        );
        assert_eq!(
            fields(resolve_range(Some("2026-05"), Some("2026-04"), now)),
            ["to"]
        );
        assert_eq!(
            fields(resolve_range(Some("2024-01"), Some("2026-01"), now)),
            ["to"]
        );
        assert!(
            resolve_range(Some("2024-02"), Some("2026-01"), now).is_ok(),
            "24 months is allowed"
        );
    }

    #[test]
    fn a_ratio_is_rounded_and_absent_without_a_whole() {
        assert_eq!(ratio(1, 3), Some(0.3333));
        assert_eq!(ratio(2, 4), Some(0.5));
        assert_eq!(ratio(5, 0), None);
    }

    #[test]
    fn the_chart_is_an_image_named_and_described_with_bars_in_proportion() {
        let chart = BarChart {
            id: "occ".into(),
            title: "Occupancy <by month>".into(),
            description: "April 50%, May 100%".into(),
            bars: vec![
                Bar {
                    label: "2026-04".into(),
                    value: 50.0,
                    shown: "50%".into(),
                },
                Bar {
                    label: "2026-05".into(),
                    value: 100.0,
                    shown: "100%".into(),
                },
                Bar {
                    label: "2026-06".into(),
                    value: f64::NAN,
                    shown: "–".into(),
                },
            ],
        };
        let svg = svg_bar_chart(&chart);
        assert!(svg.starts_with(
            "<svg class=\"chart\" role=\"img\" aria-labelledby=\"occ-title occ-desc\""
        ));
        assert!(svg.contains("<title id=\"occ-title\">Occupancy &lt;by month&gt;</title>"));
        assert!(svg.contains("<desc id=\"occ-desc\">April 50%, May 100%</desc>"));
        assert!(svg.contains("width=\"100\""), "half the longest bar: {svg}");
        assert!(
            svg.contains("width=\"200\""),
            "the longest bar fills the plot"
        );
        assert!(svg.contains("width=\"0\""), "a missing value draws no bar");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_chart_still_draws_an_axis() {
        let svg = svg_bar_chart(&BarChart {
            id: "x".into(),
            title: "t".into(),
            description: "d".into(),
            bars: vec![],
        });
        assert!(svg.contains("<line class=\"chart-axis\""));
        assert!(!svg.contains("<rect"));
    }
}
