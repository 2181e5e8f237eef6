//! Bank statement exports (mutasi rekening) read into rows, with every row
//! that cannot be read kept with its line number and the reason.
//!
//! [`read_statement`] streams a file: CSV ([`csv`]: UTF-8, UTF-8 with BOM or
//! Windows-1252; `,` `;` or tab), XLSX and XLS ([`excel`], calamine). Title
//! rows above the header and summary rows below it are passed over; the
//! layout is recognised by its header ([`layout`], DOMAIN.md "Bank statement
//! exports") or given by the person's own column mapping. Rows are handed to
//! the caller one at a time, so memory does not grow with the file.

pub mod csv;
pub mod excel;
pub mod layout;

use std::io::{Read, Seek, SeekFrom};

use chrono::{NaiveDate, NaiveTime};

use crate::dates::DateOptions;
pub use layout::{Bank, BankChoice, Cell, ColumnMapping, Columns, Layout};

/// One transaction of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    /// 1-based line (CSV) or row (spreadsheet) in the file.
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
    /// The row as it was in the file (cells joined by the separator).
    pub raw: String,
}

/// What the reader hands its caller, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Row(StatementRow),
    Rejected(RejectedRow),
    /// How far the reader is: `done` of `total` (bytes for CSV, rows for spreadsheets).
    Progress { done: u64, total: u64 },
}

/// The file formats a statement can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
        }
    }
}

/// What reading a statement found, besides its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub format: Format,
    pub layout: Layout,
    /// `utf-8`, `utf-8-bom` or `windows-1252` (CSV); the sheet name for spreadsheets.
    pub encoding: String,
    pub separator: Option<char>,
    pub rows: u64,
    pub rejected: u64,
    /// The statement's own period end when it states one (BCA `Periode`).
    pub period_end: Option<NaiveDate>,
}

/// How to read a statement.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub bank: BankChoice,
    /// The account's column mapping: used when asked for (`mapped`), or
    /// when no known header is found.
    pub mapping: Option<ColumnMapping>,
    /// Dates without a year (and two-digit years) are read near this day
    /// when the file states no period; today when `None`.
    pub reference: Option<NaiveDate>,
    /// Largest sum of the uncompressed sizes of a spreadsheet's parts.
    pub max_unpacked_bytes: u64,
}

impl ReadOptions {
    pub fn new(bank: BankChoice, mapping: Option<ColumnMapping>) -> Self {
        ReadOptions { bank, mapping, reference: None, max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES }
    }
}

/// Default cap on a spreadsheet's unpacked size (1 GiB).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// The header must be within this many rows of the top of a sheet or file.
const HEADER_SEARCH_ROWS: usize = 50;

/// Why a file is not a statement arus can read. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the file is empty")]
    Empty,
    #[error("this is a {0} file, not a bank statement (CSV, XLSX or XLS)")]
    NotAStatement(&'static str),
    #[error("no header of a known bank layout (BCA, BCA Bisnis, Mandiri, BNI, BRI) was found in the first {HEADER_SEARCH_ROWS} rows; choose `mapped` and map the columns")]
    UnknownLayout,
    #[error("the file looks like {found}, not {asked}")]
    WrongBank { asked: &'static str, found: &'static str },
    #[error("no row matches the column mapping: expected a header with {0}")]
    MappingNotFound(String),
    #[error("`mapped` was chosen but the account has no saved column mapping and none was given")]
    NoMapping,
    #[error("invalid column mapping: {0}")]
    BadMapping(String),
    #[error("the workbook is encrypted (password protected); save it without a password and upload it again")]
    Encrypted,
    #[error("the workbook unpacks to more than {limit} bytes ({declared} declared): refused as a possible zip bomb")]
    TooLarge { declared: u64, limit: u64 },
    #[error("the spreadsheet cannot be read: {0}")]
    Corrupt(String),
    #[error("the file is not CSV: {0}")]
    NotCsv(String),
    #[error("reading the file failed: {0}")]
    Io(String),
    /// The caller asked to stop (its sink returned an error).
    #[error("stopped: {0}")]
    Stopped(String),
}

impl StatementError {
    pub fn code(&self) -> &'static str {
        match self {
            StatementError::Empty => "empty",
            StatementError::NotAStatement(_) => "not_a_statement",
            StatementError::UnknownLayout => "unknown_layout",
            StatementError::WrongBank { .. } => "wrong_bank",
            StatementError::MappingNotFound(_) => "mapping_not_found",
            StatementError::NoMapping => "no_mapping",
            StatementError::BadMapping(_) => "bad_mapping",
            StatementError::Encrypted => "encrypted",
            StatementError::TooLarge { .. } => "too_large",
            StatementError::Corrupt(_) => "corrupt",
            StatementError::NotCsv(_) => "not_csv",
            StatementError::Io(_) => "io",
            StatementError::Stopped(_) => "stopped",
        }
    }
}

impl From<std::io::Error> for StatementError {
    fn from(e: std::io::Error) -> Self {
        StatementError::Io(e.to_string())
    }
}

/// Recognises the format by the first bytes (never by the file name).
pub fn sniff_format(head: &[u8]) -> Result<Format, StatementError> {
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if head.is_empty() {
        return Err(StatementError::Empty);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if head.starts_with(OLE) {
        return Ok(Format::Xls);
    }
    let known: &[(&[u8], &str)] = &[
        (b"%PDF", "PDF"),
        (b"\x89PNG", "PNG image"),
        (b"\xFF\xD8\xFF", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"RIFF", "RIFF (WebP/WAV)"),
        (b"\x1F\x8B", "gzip"),
        (b"Rar!", "RAR"),
        (b"7z\xBC\xAF", "7-Zip"),
        (b"PK\x05\x06", "empty ZIP"),
        (b"<?xml", "XML"),
        (b"{\\rtf", "RTF"),
    ];
    if let Some((_, name)) = known.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(StatementError::NotAStatement(name));
    }
    let sample = &head[..head.len().min(8192)];
    if sample.contains(&0) {
        return Err(StatementError::NotAStatement("binary"));
    }
    Ok(Format::Csv)
}

/// Reads a statement from `input`, handing each row (or rejected row) to
/// `sink` in file order. A `sink` error stops reading ([`StatementError::Stopped`]).
pub fn read_statement<R, F>(mut input: R, options: &ReadOptions, mut sink: F) -> Result<Summary, StatementError>
where
    R: Read + Seek,
    F: FnMut(Item) -> Result<(), String>,
{
    if options.bank == BankChoice::Mapped && options.mapping.is_none() {
        return Err(StatementError::NoMapping);
    }
    if let Some(mapping) = &options.mapping {
        mapping.check().map_err(StatementError::BadMapping)?;
    }
    let mut head = Vec::with_capacity(8192);
    (&mut input).take(8192).read_to_end(&mut head)?;
    input.seek(SeekFrom::Start(0))?;
    let format = sniff_format(&head)?;
    let mut driver = Driver::new(options, &mut sink);
    let (encoding, separator) = match format {
        Format::Csv => {
            let (encoding, separator) = csv::read(input, &mut driver)?;
            (encoding.to_owned(), Some(separator))
        }
        Format::Xlsx => (excel::read_xlsx(input, options.max_unpacked_bytes, &mut driver)?, None),
        Format::Xls => (excel::read_xls(input, &mut driver)?, None),
    };
    driver.finish(format, encoding, separator)
}

/// Reads a statement held in memory and collects its rows (tests, small files).
pub fn read_all(bytes: &[u8], options: &ReadOptions) -> Result<(Summary, Vec<StatementRow>, Vec<RejectedRow>), StatementError> {
    let (mut rows, mut rejected) = (Vec::new(), Vec::new());
    let summary = read_statement(std::io::Cursor::new(bytes), options, |item| {
        match item {
            Item::Row(r) => rows.push(r),
            Item::Rejected(r) => rejected.push(r),
            Item::Progress { .. } => {}
        }
        Ok(())
    })?;
    Ok((summary, rows, rejected))
}

/// Where the reader is: before the header, or reading rows under it.
enum State {
    Searching { seen: usize },
    Rows(Box<Columns>),
}

/// Turns the records of any format into rows: finds the header (and a
/// stated period above it), then reads every record below it.
pub(crate) struct Driver<'a> {
    options: &'a ReadOptions,
    sink: &'a mut dyn FnMut(Item) -> Result<(), String>,
    state: State,
    period_end: Option<NaiveDate>,
    date_options: DateOptions,
    /// A known layout found while looking for the user's mapping (for the error).
    other_layout: Option<Layout>,
    rows: u64,
    rejected: u64,
}

/// What a source should do after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    /// The header was not found near the top: stop reading this sheet.
    GiveUp,
}

impl<'a> Driver<'a> {
    fn new(options: &'a ReadOptions, sink: &'a mut dyn FnMut(Item) -> Result<(), String>) -> Self {
        Driver {
            options,
            sink,
            state: State::Searching { seen: 0 },
            period_end: None,
            date_options: DateOptions { reference: options.reference, ..DateOptions::default() },
            other_layout: None,
            rows: 0,
            rejected: 0,
        }
    }

    pub(crate) fn found_header(&self) -> bool {
        matches!(self.state, State::Rows(_))
    }

    /// Starts a new sheet: a header must be found again unless one was.
    pub(crate) fn next_sheet(&mut self) {
        if let State::Searching { seen } = &mut self.state {
            *seen = 0;
        }
    }

    pub(crate) fn progress(&mut self, done: u64, total: u64) -> Result<(), StatementError> {
        (self.sink)(Item::Progress { done, total }).map_err(StatementError::Stopped)
    }

    /// One record (`raw` renders it for a rejected row).
    pub(crate) fn record(&mut self, line: usize, cells: &[Cell], raw: impl FnOnce() -> String) -> Result<Next, StatementError> {
        match &self.state {
            State::Searching { seen } => {
                let seen = *seen + 1;
                if let Some(end) = layout::period_end(cells) {
                    self.period_end = Some(end);
                    self.date_options.reference = Some(end);
                }
                if let Some(columns) = self.header(cells)? {
                    self.state = State::Rows(Box::new(columns));
                    return Ok(Next::Continue);
                }
                self.state = State::Searching { seen };
                Ok(if seen >= HEADER_SEARCH_ROWS { Next::GiveUp } else { Next::Continue })
            }
            State::Rows(columns) => {
                if layout::is_summary(cells) {
                    return Ok(Next::Continue);
                }
                let item = match layout::read_row(columns, cells, line, self.date_options) {
                    Ok(row) => {
                        self.rows += 1;
                        Item::Row(row)
                    }
                    Err(reason) => {
                        self.rejected += 1;
                        Item::Rejected(RejectedRow { line, reason, raw: raw() })
                    }
                };
                (self.sink)(item).map_err(StatementError::Stopped)?;
                Ok(Next::Continue)
            }
        }
    }

    /// The columns if `cells` is the header this reader is looking for.
    fn header(&mut self, cells: &[Cell]) -> Result<Option<Columns>, StatementError> {
        let known = layout::detect(cells);
        let mapped = self.options.mapping.as_ref().and_then(|m| layout::resolve(m, cells));
        match self.options.bank {
            BankChoice::Mapped => {
                if let Some(k) = &known {
                    self.other_layout = Some(k.layout);
                }
                Ok(mapped)
            }
            BankChoice::Auto => Ok(known.or(mapped)),
            bank => match known {
                Some(k) if bank.admits(k.layout) => Ok(Some(k)),
                Some(k) => Err(StatementError::WrongBank { asked: bank.as_str(), found: k.layout.as_str() }),
                None => Ok(mapped),
            },
        }
    }

    fn finish(self, format: Format, encoding: String, separator: Option<char>) -> Result<Summary, StatementError> {
        let State::Rows(columns) = self.state else {
            return Err(match (&self.options.mapping, self.options.bank) {
                (Some(m), BankChoice::Mapped) => {
                    let mut names = vec![m.date.clone()];
                    names.extend(m.description.iter().cloned());
                    names.extend([&m.amount, &m.direction, &m.debit, &m.credit].into_iter().flatten().cloned());
                    let hint = self.other_layout.map(|l| format!(" (the file looks like {}: try bank auto)", l.as_str())).unwrap_or_default();
                    StatementError::MappingNotFound(format!("{}{hint}", names.join(", ")))
                }
                _ => StatementError::UnknownLayout,
            });
        };
        Ok(Summary { format, layout: columns.layout, encoding, separator, rows: self.rows, rejected: self.rejected, period_end: self.period_end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/fixtures/statements/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn auto() -> ReadOptions {
        ReadOptions::new(BankChoice::Auto, None)
    }

    #[test]
    fn bca_personal_with_title_rows_pending_rows_and_summary() {
        let (s, rows, rejected) = read_all(&fixture("bca-personal.csv"), &auto()).unwrap();
        assert_eq!((s.layout, s.separator, s.encoding.as_str(), s.format), (Layout::BcaPersonal, Some(','), "utf-8", Format::Csv));
        assert_eq!(s.period_end, Some(ymd(2026, 11, 21)));
        assert_eq!(rows.len(), 5, "{rejected:?}");
        assert_eq!(rows[0].date, ymd(2026, 11, 2));
        assert_eq!(rows[0].amount, -50_000);
        assert_eq!(rows[0].balance, Some(1_950_000));
        assert_eq!(rows[1].amount, 3_500_000);
        let pending = rows.iter().find(|r| r.pending).unwrap();
        assert_eq!((pending.date, pending.amount), (ymd(2026, 11, 20), -25_000));
        // A row with a broken amount is kept with its line and reason.
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].line, 12);
        assert!(rejected[0].reason.starts_with("amount"), "{}", rejected[0].reason);
        assert!(rejected[0].raw.contains("2x000.00"), "{}", rejected[0].raw);
    }

    #[test]
    fn bca_bisnis_semicolons_and_windows_1252() {
        let (s, rows, rejected) = read_all(&fixture("bca-bisnis.csv"), &auto()).unwrap();
        assert_eq!((s.layout, s.separator, s.encoding.as_str()), (Layout::BcaBisnis, Some(';'), "windows-1252"));
        assert_eq!(rows.len(), 3, "{rejected:?}");
        assert_eq!(rows[0].amount, -287_490);
        assert_eq!(rows[1].amount, 12_500_000);
        assert!(rows[2].description.contains("CAFÉ"), "{}", rows[2].description);
        assert!(rejected.is_empty());
    }

    #[test]
    fn mandiri_csv_with_bom_two_digit_years_and_debit_credit_columns() {
        let (s, rows, rejected) = read_all(&fixture("mandiri.csv"), &auto()).unwrap();
        assert_eq!((s.layout, s.encoding.as_str()), (Layout::MandiriCsv, "utf-8-bom"));
        assert_eq!(rows.len(), 3, "{rejected:?}");
        assert_eq!((rows[0].date, rows[0].amount), (ymd(2026, 10, 30), -150_000));
        assert_eq!(rows[0].description, "TRANSFER KE PLN PREPAID 5123");
        assert_eq!(rows[1].amount, 2_000_000);
        assert_eq!(rows[0].reference.as_deref(), Some("REF0001"));
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].reason.contains("both debit and credit"));
    }

    #[test]
    fn a_pending_row_with_non_ascii_text_is_read() {
        // `ﬁ` upper-cases to two bytes fewer than it has.
        let csv = "Periode : ,01/11/2026 - 21/11/2026\nTanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\nPEND,KARTU DEBIT ﬁﬁﬁ TANGGAL :20/11,'0000,25000.00,DB,\n";
        let (_, rows, rejected) = read_all(csv.as_bytes(), &auto()).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!((rows[0].date, rows[0].amount), (ymd(2026, 11, 20), -25_000));
    }

    #[test]
    fn unknown_files_are_refused_with_a_reason() {
        let err = |bytes: &[u8]| read_all(bytes, &auto()).unwrap_err();
        assert_eq!(err(b""), StatementError::Empty);
        assert_eq!(err(b"a,b,c\n1,2,3\n"), StatementError::UnknownLayout);
        assert_eq!(err(b"%PDF-1.7\n..."), StatementError::NotAStatement("PDF"));
        assert_eq!(err(b"\x89PNG\r\n\x1a\n\0\0"), StatementError::NotAStatement("PNG image"));
        assert_eq!(err(b"abc\0def"), StatementError::NotAStatement("binary"));
        let bca = fixture("bca-personal.csv");
        assert_eq!(
            read_all(&bca, &ReadOptions::new(BankChoice::Bni, None)).unwrap_err(),
            StatementError::WrongBank { asked: "bni", found: "bca" }
        );
        assert_eq!(read_all(&bca, &ReadOptions::new(BankChoice::Mapped, None)).unwrap_err(), StatementError::NoMapping);
    }

    #[test]
    fn a_mapped_statement_of_a_bank_arus_does_not_know() {
        let csv = "Buku Kas Koperasi\nTanggal;Uraian;Masuk;Keluar\n21/11/2026;jual bakso;300.000;\n22/11/2026;beli daging;;150.000\n";
        let mapping: ColumnMapping =
            serde_json::from_str(r#"{"date":"tanggal","description":["uraian"],"debit":"keluar","credit":"masuk"}"#).unwrap();
        assert_eq!(read_all(csv.as_bytes(), &auto()).unwrap_err(), StatementError::UnknownLayout);
        for bank in [BankChoice::Auto, BankChoice::Mapped] {
            let (s, rows, rejected) = read_all(csv.as_bytes(), &ReadOptions::new(bank, Some(mapping.clone()))).unwrap();
            assert_eq!((s.layout, s.separator), (Layout::Mapped, Some(';')));
            assert!(rejected.is_empty(), "{rejected:?}");
            assert_eq!(rows.iter().map(|r| (r.date, r.amount)).collect::<Vec<_>>(), [(ymd(2026, 11, 21), 300_000), (ymd(2026, 11, 22), -150_000)]);
        }
        // The mapping does not fit a BCA file: the error says what it looked for and what the file is.
        let err = read_all(&fixture("bca-personal.csv"), &ReadOptions::new(BankChoice::Mapped, Some(mapping))).unwrap_err();
        assert_eq!(err.to_string(), "no row matches the column mapping: expected a header with tanggal, uraian, keluar, masuk (the file looks like bca: try bank auto)");
    }

    #[test]
    fn a_header_far_below_the_top_is_not_searched_for() {
        let mut csv = "x,y\n".repeat(60);
        csv.push_str("Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n");
        assert_eq!(read_all(csv.as_bytes(), &auto()).unwrap_err(), StatementError::UnknownLayout);
    }

    #[test]
    fn a_sink_error_stops_reading() {
        let err = read_statement(std::io::Cursor::new(fixture("bca-personal.csv")), &auto(), |item| match item {
            Item::Row(_) => Err("broker down".into()),
            _ => Ok(()),
        });
        assert_eq!(err, Err(StatementError::Stopped("broker down".into())));
    }
}
