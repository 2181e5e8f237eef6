//! Bank statement exports (mutasi rekening) read into rows, with every row
//! that cannot be read kept with its line number and the reason.
//!
//! This part reads CSV: the bytes are decoded (UTF-8, UTF-8 with BOM, else
//! Windows-1252), the separator is found (`,`, `;` or tab), title rows above
//! the header and summary rows below it are passed over, and the layout is
//! recognised by its header (DOMAIN.md, "Bank statement exports").

use chrono::{NaiveDate, NaiveTime};

use crate::dates::{parse_date, DateOptions};
use crate::money::parse_rupiah;

/// The layouts recognised by their header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// BCA personal (KlikBCA): Tanggal Transaksi, Keterangan, Cabang, Jumlah, (DB/CR), Saldo.
    BcaPersonal,
    /// BCA Bisnis: Tanggal Transaksi, Keterangan, Cabang, Jumlah (`287,490.00 DB`), Saldo.
    BcaBisnis,
    /// Mandiri CSV: Account No, Date, Val. Date, Transaction Code, Description, Description, Reference No., Debit, Credit.
    MandiriCsv,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::BcaPersonal => "bca",
            Layout::BcaBisnis => "bca_bisnis",
            Layout::MandiriCsv => "mandiri_csv",
        }
    }
}

/// One transaction of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    /// 1-based line in the file.
    pub line: usize,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub description: String,
    /// Signed rupiah: money in positive, money out negative.
    pub amount: i64,
    pub balance: Option<i64>,
    pub reference: Option<String>,
    /// BCA's `PEND` rows: not yet booked; the date comes from the description.
    pub pending: bool,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: usize,
    pub reason: String,
    /// The row as it was in the file.
    pub raw: String,
}

/// What reading a statement gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub layout: Layout,
    pub encoding: &'static str,
    pub separator: char,
    pub rows: Vec<StatementRow>,
    pub rejected: Vec<RejectedRow>,
    /// The statement's own period end when it states one (BCA `Periode`).
    pub period_end: Option<NaiveDate>,
}

/// Why a file is not a statement arus can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the file is empty")]
    Empty,
    #[error("no header of a known bank layout was found (BCA, BCA Bisnis, Mandiri); map the columns by hand")]
    UnknownLayout,
    #[error("the file is not CSV: {0}")]
    NotCsv(String),
}

/// Decodes a text file: UTF-8 (a BOM is dropped) or else Windows-1252.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").map_or((bytes, "utf-8"), |rest| (rest, "utf-8-bom"));
    match std::str::from_utf8(bytes.0) {
        Ok(text) => (text.to_owned(), bytes.1),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes.0);
            (text.into_owned(), "windows-1252")
        }
    }
}

/// Reads a CSV statement export.
pub fn read_csv(bytes: &[u8]) -> Result<Statement, StatementError> {
    let (text, encoding) = decode(bytes);
    if text.trim().is_empty() {
        return Err(StatementError::Empty);
    }
    let separator = sniff_separator(&text);
    let records = records(&text, separator)?;
    let (header_at, layout) = records
        .iter()
        .enumerate()
        .find_map(|(i, (_, fields))| detect(fields).map(|layout| (i, layout)))
        .ok_or(StatementError::UnknownLayout)?;
    let period_end = records[..header_at].iter().find_map(|(_, fields)| period_end(fields));
    let options = DateOptions { reference: period_end, ..DateOptions::default() };
    let mut statement = Statement { layout, encoding, separator, rows: Vec::new(), rejected: Vec::new(), period_end };
    for (line, fields) in &records[header_at + 1..] {
        if fields.iter().all(|f| f.trim().is_empty()) || is_summary(fields) {
            continue;
        }
        let raw = fields.join(&separator.to_string());
        match read_row(layout, fields, *line, options) {
            Ok(row) => statement.rows.push(row),
            Err(reason) => statement.rejected.push(RejectedRow { line: *line, reason, raw }),
        }
    }
    Ok(statement)
}

/// The separator that splits the first lines most consistently.
fn sniff_separator(text: &str) -> char {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(30).collect();
    let mut best = (',', 0usize);
    for candidate in [',', ';', '\t'] {
        // The most common field count above one, and how many lines have it.
        let mut counts = std::collections::HashMap::new();
        for line in &lines {
            let fields = csv::ReaderBuilder::new()
                .delimiter(candidate as u8)
                .has_headers(false)
                .flexible(true)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .and_then(Result::ok)
                .map_or(0, |r| r.len());
            if fields > 1 {
                *counts.entry(fields).or_insert(0usize) += 1;
            }
        }
        let score = counts.values().copied().max().unwrap_or(0);
        if score > best.1 {
            best = (candidate, score);
        }
    }
    best.0
}

/// Every record with its 1-based line number, fields trimmed.
fn records(text: &str, separator: char) -> Result<Vec<(usize, Vec<String>)>, StatementError> {
    let mut reader = csv::ReaderBuilder::new().delimiter(separator as u8).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| StatementError::NotCsv(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        out.push((line, record.iter().map(|f| f.trim().to_owned()).collect()));
    }
    Ok(out)
}

fn norm(field: &str) -> String {
    field.trim().trim_end_matches('.').to_lowercase()
}

/// The layout whose header `fields` is.
fn detect(fields: &[String]) -> Option<Layout> {
    let names: Vec<String> = fields.iter().map(|f| norm(f)).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    if has("tanggal transaksi") && has("keterangan") && has("jumlah") && has("saldo") {
        // Personal exports have an unnamed DB/CR column after Jumlah.
        let jumlah = names.iter().position(|n| n == "jumlah")?;
        return Some(if names.get(jumlah + 1).is_some_and(|n| n.is_empty()) { Layout::BcaPersonal } else { Layout::BcaBisnis });
    }
    if has("account no") && has("date") && has("debit") && has("credit") && has("description") {
        return Some(Layout::MandiriCsv);
    }
    None
}

/// `Periode : ,01/11/2026 - 21/11/2026` → 21/11/2026.
fn period_end(fields: &[String]) -> Option<NaiveDate> {
    if !norm(fields.first()?).starts_with("periode") {
        return None;
    }
    let text = fields[1..].join(" ");
    let end = text.rsplit(" - ").next()?;
    parse_date(end.trim(), DateOptions::default()).ok().map(|d| d.date)
}

/// The summary rows below the transactions.
fn is_summary(fields: &[String]) -> bool {
    let first = norm(fields.first().map_or("", String::as_str));
    ["saldo awal", "saldo akhir", "mutasi debet", "mutasi debit", "mutasi kredit", "mutasi credit", "opening balance", "closing balance", "total"]
        .iter()
        .any(|s| first.starts_with(s))
}

fn field<'a>(fields: &'a [String], i: usize, name: &str) -> Result<&'a str, String> {
    fields.get(i).map(String::as_str).ok_or_else(|| format!("the row has no {name} column"))
}

fn amount(text: &str, name: &str) -> Result<i64, String> {
    parse_rupiah(text.trim_start_matches('=')).map(|m| m.rupiah).map_err(|e| format!("{name}: {e}"))
}

fn read_row(layout: Layout, fields: &[String], line: usize, options: DateOptions) -> Result<StatementRow, String> {
    match layout {
        Layout::BcaPersonal | Layout::BcaBisnis => {
            let description = field(fields, 1, "Keterangan")?.to_owned();
            let date_text = field(fields, 0, "Tanggal Transaksi")?;
            let pending = date_text.eq_ignore_ascii_case("pend");
            let date = if pending {
                // The real day is in the description: `TANGGAL :20/11`.
                // ASCII case folding keeps byte offsets valid in `description`.
                let at = description.to_ascii_uppercase().find("TANGGAL :").ok_or("a pending row without TANGGAL :DD/MM in its description")?;
                let day = description[at + "TANGGAL :".len()..].split_whitespace().next().unwrap_or("");
                parse_date(day, options).map_err(|e| format!("Tanggal: {e}"))?.date
            } else {
                parse_date(date_text, options).map_err(|e| format!("Tanggal Transaksi: {e}"))?.date
            };
            let (value, balance_at) = if layout == Layout::BcaPersonal {
                let sign = field(fields, 4, "DB/CR")?;
                (format!("{} {sign}", field(fields, 3, "Jumlah")?), 5)
            } else {
                (field(fields, 3, "Jumlah")?.to_owned(), 4)
            };
            let parsed = parse_rupiah(&value).map_err(|e| format!("Jumlah: {e}"))?;
            if parsed.direction.is_none() {
                return Err(format!("Jumlah {value:?} says neither DB nor CR"));
            }
            let balance = fields.get(balance_at).filter(|b| !b.is_empty()).map(|b| amount(b, "Saldo")).transpose()?;
            Ok(StatementRow { line, date, time: None, description, amount: parsed.rupiah, balance, reference: None, pending })
        }
        Layout::MandiriCsv => {
            let date = parse_date(field(fields, 1, "Date")?, options).map_err(|e| format!("Date: {e}"))?.date;
            let description = [field(fields, 4, "Description")?, fields.get(5).map_or("", String::as_str)]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let reference = fields.get(6).filter(|r| !r.is_empty()).cloned();
            let debit = field(fields, 7, "Debit")?;
            let credit = field(fields, 8, "Credit")?;
            let zero = |s: &str| s.is_empty() || parse_rupiah(s).is_ok_and(|m| m.rupiah == 0);
            let amount = match (zero(debit), zero(credit)) {
                (false, true) => -amount(debit, "Debit")?.abs(),
                (true, false) => amount(credit, "Credit")?.abs(),
                (true, true) => return Err("neither Debit nor Credit has an amount".into()),
                (false, false) => return Err("both Debit and Credit have an amount".into()),
            };
            Ok(StatementRow { line, date, time: None, description, amount, balance: None, reference, pending: false })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/fixtures/statements/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn bca_personal_with_title_rows_pending_rows_and_summary() {
        let s = read_csv(&fixture("bca-personal.csv")).unwrap();
        assert_eq!((s.layout, s.separator, s.encoding), (Layout::BcaPersonal, ',', "utf-8"));
        assert_eq!(s.period_end, Some(ymd(2026, 11, 21)));
        assert_eq!(s.rows.len(), 5, "{:?}", s.rejected);
        assert_eq!(s.rows[0].date, ymd(2026, 11, 2));
        assert_eq!(s.rows[0].amount, -50_000);
        assert_eq!(s.rows[0].balance, Some(1_950_000));
        assert_eq!(s.rows[1].amount, 3_500_000);
        let pending = s.rows.iter().find(|r| r.pending).unwrap();
        assert_eq!((pending.date, pending.amount), (ymd(2026, 11, 20), -25_000));
        // A row with a broken amount is kept with its line and reason.
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].line, 12);
        assert!(s.rejected[0].reason.starts_with("Jumlah"), "{}", s.rejected[0].reason);
    }

    #[test]
    fn bca_bisnis_semicolons_and_windows_1252() {
        let s = read_csv(&fixture("bca-bisnis.csv")).unwrap();
        assert_eq!((s.layout, s.separator, s.encoding), (Layout::BcaBisnis, ';', "windows-1252"));
        assert_eq!(s.rows.len(), 3, "{:?}", s.rejected);
        assert_eq!(s.rows[0].amount, -287_490);
        assert_eq!(s.rows[1].amount, 12_500_000);
        assert!(s.rows[2].description.contains("CAFÉ"), "{}", s.rows[2].description);
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn mandiri_csv_with_bom_two_digit_years_and_debit_credit_columns() {
        let s = read_csv(&fixture("mandiri.csv")).unwrap();
        assert_eq!((s.layout, s.encoding), (Layout::MandiriCsv, "utf-8-bom"));
        assert_eq!(s.rows.len(), 3, "{:?}", s.rejected);
        assert_eq!((s.rows[0].date, s.rows[0].amount), (ymd(2026, 10, 30), -150_000));
        assert_eq!(s.rows[1].amount, 2_000_000);
        assert_eq!(s.rows[0].reference.as_deref(), Some("REF0001"));
        assert_eq!(s.rejected.len(), 1);
        assert!(s.rejected[0].reason.contains("both Debit and Credit"));
    }

    #[test]
    fn a_pending_row_with_non_ascii_text_is_read() {
        // `ﬁ` upper-cases to two bytes fewer than it has.
        let csv = "Periode : ,01/11/2026 - 21/11/2026\nTanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\nPEND,KARTU DEBIT ﬁﬁﬁ TANGGAL :20/11,'0000,25000.00,DB,\n";
        let s = read_csv(csv.as_bytes()).unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!((s.rows[0].date, s.rows[0].amount), (ymd(2026, 11, 20), -25_000));
    }

    #[test]
    fn unknown_files_are_refused_with_a_reason() {
        assert_eq!(read_csv(b""), Err(StatementError::Empty));
        assert_eq!(read_csv(b"a,b,c\n1,2,3\n"), Err(StatementError::UnknownLayout));
    }
}
