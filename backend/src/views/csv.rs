//! CSV for spreadsheets, shared by every download (the payment reconciliation, the console's
//! reports, the open-data facility list): UTF-8 with a byte order mark (so Excel reads Japanese
//! text as UTF-8), CRLF line ends (RFC 4180), fields quoted only when they must be, and text
//! that a spreadsheet would run as a formula defused.

/// One CSV field of text: quoted when it holds a separator, a quote or a line break; a text that
/// a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return first,
/// as OWASP lists them) is prefixed with `'`. Numbers are written with [`Cell::Int`] and
/// [`Cell::Decimal`] instead, so a negative number stays a number.
pub fn field(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Text, escaped with [`field`].
    Text(&'a str),
    /// A whole number, written as it is.
    Int(i64),
    /// A number with decimals, or empty when there is none (a ratio without a denominator).
    Decimal(Option<f64>),
}

impl Cell<'_> {
    fn render(self) -> String {
        match self {
            Cell::Text(text) => field(text),
            Cell::Int(n) => n.to_string(),
            Cell::Decimal(Some(x)) if x.is_finite() => x.to_string(),
            Cell::Decimal(_) => String::new(),
        }
    }
}

/// A CSV document being written: the byte order mark and the header first, then rows.
#[derive(Clone, Debug)]
pub struct CsvWriter {
    out: String,
}

impl CsvWriter {
    /// A document with these column names.
    pub fn new(header: &[&str]) -> Self {
        let mut writer = CsvWriter {
            out: String::from("\u{FEFF}"),
        };
        writer.row(header.iter().map(|h| Cell::Text(h)));
        writer
    }

    /// Adds one row (ended with CRLF).
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        let line: Vec<String> = cells.into_iter().map(Cell::render).collect();
        self.out.push_str(&line.join(","));
        self.out.push_str("\r\n");
    }

    /// The finished document.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_run_as_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a\"b"), "\"a\"\"b\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
        assert_eq!(field("@cmd"), "'@cmd");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn a_document_has_a_bom_a_header_and_crlf_rows_with_numbers_left_as_numbers() {
        let mut csv = CsvWriter::new(&["month", "名称", "net_yen", "rate"]);
        csv.row([
            Cell::Text("2026-04"),
            Cell::Text("鶴見, 本館"),
            Cell::Int(-300),
            Cell::Decimal(Some(0.25)),
        ]);
        csv.row([
            Cell::Text("+x"),
            Cell::Text(""),
            Cell::Int(0),
            Cell::Decimal(None),
        ]);
        assert_eq!(
            csv.finish(),
            "\u{FEFF}month,名称,net_yen,rate\r\n2026-04,\"鶴見, 本館\",-300,0.25\r\n'+x,,0,\r\n"
        );
    }
}
