//! The layouts of bank exports, recognised by their header row, and the
//! reading of one transaction row from the cells of any of them.
//!
//! A layout is a set of column names given roles (date, description,
//! amount, …); a user's own column mapping ([`ColumnMapping`]) is the same
//! thing, written by a person once and saved per account.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::dates::{parse_date, DateOptions, DayOrder};
use crate::money::{parse_rupiah, Direction};

use super::StatementRow;

/// One cell of a statement: CSV gives text, spreadsheets also numbers and dates.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    Date(NaiveDateTime),
}

impl Cell {
    /// The cell as the person sees it (for headers, descriptions and rejected rows).
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_owned(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Date(d) if d.time() == NaiveTime::MIN => d.format("%Y-%m-%d").to_string(),
            Cell::Date(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// The layouts arus knows, and the user's own mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// BCA personal (KlikBCA) CSV: Tanggal Transaksi, Keterangan, Cabang, Jumlah, (DB/CR), Saldo.
    BcaPersonal,
    /// BCA Bisnis CSV: Tanggal Transaksi, Keterangan, Cabang, Jumlah (`287,490.00 DB`), Saldo.
    BcaBisnis,
    /// Mandiri CSV: Account No, Date, Val. Date, Transaction Code, Description, Description, Reference No., Debit, Credit.
    MandiriCsv,
    /// Mandiri XLSX: Tgl., Tgl. Val., Rincian Transaksi, No. Referensi, Debit, Kredit, Saldo, Branch Code.
    MandiriXlsx,
    /// BNI XLSX: No., Tanggal Kirim, Cabang, Journal No., Deskripsi, Amount, Db/Cr.
    Bni,
    /// BRI cash management XLSX: ID, NOREK, TGL_TRAN, TGL_EFEKTIF, JAM_TRAN, SEQ, DESK_TRAN, SALDO_AWAL_MUTASI, MUTASI_DEBIT, MUTASI_KREDIT.
    Bri,
    /// Columns named by the user ([`ColumnMapping`]).
    Mapped,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::BcaPersonal => "bca",
            Layout::BcaBisnis => "bca_bisnis",
            Layout::MandiriCsv => "mandiri_csv",
            Layout::MandiriXlsx => "mandiri_xlsx",
            Layout::Bni => "bni",
            Layout::Bri => "bri",
            Layout::Mapped => "mapped",
        }
    }

    /// The bank whose export this is (`None` for a mapping).
    pub fn bank(self) -> Option<Bank> {
        match self {
            Layout::BcaPersonal | Layout::BcaBisnis => Some(Bank::Bca),
            Layout::MandiriCsv | Layout::MandiriXlsx => Some(Bank::Mandiri),
            Layout::Bni => Some(Bank::Bni),
            Layout::Bri => Some(Bank::Bri),
            Layout::Mapped => None,
        }
    }
}

/// The banks whose exports arus recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bank {
    Bca,
    Mandiri,
    Bni,
    Bri,
}

impl Bank {
    pub fn as_str(self) -> &'static str {
        match self {
            Bank::Bca => "bca",
            Bank::Mandiri => "mandiri",
            Bank::Bni => "bni",
            Bank::Bri => "bri",
        }
    }
}

/// What the person says the file is: `auto` (recognise by header), a
/// bank, or `mapped` (use the account's saved column mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BankChoice {
    #[default]
    Auto,
    Bca,
    Mandiri,
    Bni,
    Bri,
    Mapped,
}

impl BankChoice {
    pub const NAMES: &'static str = "auto, bca, mandiri, bni, bri, mapped";

    pub fn parse(text: &str) -> Option<BankChoice> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => BankChoice::Auto,
            "bca" | "bca_bisnis" => BankChoice::Bca,
            "mandiri" => BankChoice::Mandiri,
            "bni" => BankChoice::Bni,
            "bri" => BankChoice::Bri,
            "mapped" | "generic" => BankChoice::Mapped,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BankChoice::Auto => "auto",
            BankChoice::Bca => "bca",
            BankChoice::Mandiri => "mandiri",
            BankChoice::Bni => "bni",
            BankChoice::Bri => "bri",
            BankChoice::Mapped => "mapped",
        }
    }

    /// Whether a file recognised as `layout` fits this choice.
    pub fn admits(self, layout: Layout) -> bool {
        match self {
            BankChoice::Auto => layout != Layout::Mapped,
            BankChoice::Mapped => layout == Layout::Mapped,
            bank => layout.bank().map(Bank::as_str) == Some(bank.as_str()),
        }
    }
}

/// A person's own description of a statement's columns, by header text
/// (compared without case, dots or underscores). Either `amount` (signed,
/// or with DB/CR in it, or with a `direction` column) or `debit` and
/// `credit` columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// The column holding the booking date.
    pub date: String,
    /// Columns joined (with a space) into the description.
    pub description: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// With `amount`: a column saying debit (`D`, `DB`, `Debet`) or credit (`K`, `CR`, `Kredit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Money out, written as a positive number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit: Option<String>,
    /// Money in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The balance after the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Order of day and month in numeric dates (default day first).
    #[serde(default)]
    pub date_order: DayOrder,
}

impl ColumnMapping {
    /// Every reason the mapping cannot describe a statement.
    pub fn check(&self) -> Result<(), String> {
        let blank = |s: &str| norm(s).is_empty();
        if blank(&self.date) {
            return Err("the mapping names no date column".into());
        }
        if self.description.is_empty() || self.description.iter().any(|d| blank(d)) {
            return Err("the mapping names no description column (or an empty one)".into());
        }
        match (&self.amount, &self.debit, &self.credit) {
            (Some(a), None, None) if !blank(a) => {}
            (None, Some(d), Some(c)) if !blank(d) && !blank(c) => {
                if self.direction.is_some() {
                    return Err("direction goes with amount, not with debit and credit".into());
                }
            }
            _ => return Err("the mapping needs either amount, or debit and credit".into()),
        }
        Ok(())
    }
}

/// Header text compared without case, dots, underscores or repeated spaces.
pub(crate) fn norm(field: &str) -> String {
    let replaced: String = field.trim().trim_start_matches('\u{feff}').chars().map(|c| if c == '.' || c == '_' { ' ' } else { c }).collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// How a row gives its amount.
#[derive(Debug, Clone, PartialEq)]
enum Amount {
    /// One column, signed or with DB/CR in it.
    Signed(usize),
    /// An amount column and a debit/credit column.
    WithDirection { amount: usize, direction: usize },
    /// Money out and money in in two columns.
    DebitCredit { debit: usize, credit: usize },
}

#[derive(Debug, Clone, PartialEq)]
enum Balance {
    After(usize),
    /// BRI's SALDO_AWAL_MUTASI: the balance before the row.
    Before(usize),
}

/// A layout resolved against a header row: the index of every role.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub layout: Layout,
    date: usize,
    time: Option<usize>,
    description: Vec<usize>,
    amount: Amount,
    balance: Option<Balance>,
    reference: Option<usize>,
    /// BCA: `PEND` rows carry their date in the description.
    pending_rows: bool,
    pub date_order: DayOrder,
}

impl Columns {
    fn new(layout: Layout, date: usize, description: Vec<usize>, amount: Amount) -> Self {
        Columns { layout, date, time: None, description, amount, balance: None, reference: None, pending_rows: false, date_order: DayOrder::DayFirst }
    }
}

/// The known layout whose header `cells` is.
pub fn detect(cells: &[Cell]) -> Option<Columns> {
    let names: Vec<String> = cells.iter().map(|c| norm(&c.text())).collect();
    let at = |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
    let all = |candidates: &[&str]| names.iter().enumerate().filter(|(_, n)| candidates.contains(&n.as_str())).map(|(i, _)| i).collect::<Vec<_>>();

    // Mandiri CSV first: it shares Date and Description with BCA's English header.
    if let (Some(_), Some(date), Some(debit), Some(credit)) = (at(&["account no"]), at(&["date"]), at(&["debit"]), at(&["credit"])) {
        let description = all(&["description"]);
        if !description.is_empty() {
            let mut c = Columns::new(Layout::MandiriCsv, date, description, Amount::DebitCredit { debit, credit });
            c.reference = at(&["reference no"]);
            return Some(c);
        }
    }
    if let (Some(date), Some(description), Some(amount), Some(balance)) =
        (at(&["tanggal transaksi", "tanggal", "date"]), at(&["keterangan", "description"]), at(&["jumlah", "amount"]), at(&["saldo", "balance"]))
    {
        // Personal exports have an unnamed DB/CR column after the amount.
        let personal = names.get(amount + 1).is_some_and(String::is_empty) && amount + 1 != balance;
        let mut c = if personal {
            Columns::new(Layout::BcaPersonal, date, vec![description], Amount::WithDirection { amount, direction: amount + 1 })
        } else {
            Columns::new(Layout::BcaBisnis, date, vec![description], Amount::Signed(amount))
        };
        c.balance = Some(Balance::After(balance));
        c.pending_rows = true;
        return Some(c);
    }
    if let (Some(date), Some(_), Some(description), Some(debit), Some(credit)) =
        (at(&["tgl"]), at(&["tgl val"]), at(&["rincian transaksi"]), at(&["debit"]), at(&["kredit"]))
    {
        let mut c = Columns::new(Layout::MandiriXlsx, date, vec![description], Amount::DebitCredit { debit, credit });
        c.balance = at(&["saldo"]).map(Balance::After);
        c.reference = at(&["no referensi"]);
        return Some(c);
    }
    if let (Some(date), Some(description), Some(amount), Some(direction)) =
        (at(&["tanggal kirim"]), at(&["deskripsi"]), at(&["amount"]), at(&["db/cr"]))
    {
        let mut c = Columns::new(Layout::Bni, date, vec![description], Amount::WithDirection { amount, direction });
        c.reference = at(&["journal no"]);
        return Some(c);
    }
    if let (Some(date), Some(description), Some(debit), Some(credit)) = (at(&["tgl tran"]), at(&["desk tran"]), at(&["mutasi debit"]), at(&["mutasi kredit"])) {
        let mut c = Columns::new(Layout::Bri, date, vec![description], Amount::DebitCredit { debit, credit });
        c.time = at(&["jam tran"]);
        c.balance = at(&["saldo awal mutasi"]).map(Balance::Before);
        c.reference = at(&["seq"]);
        return Some(c);
    }
    None
}

/// `mapping` resolved against `cells` if this is the header it describes.
pub fn resolve(mapping: &ColumnMapping, cells: &[Cell]) -> Option<Columns> {
    let names: Vec<String> = cells.iter().map(|c| norm(&c.text())).collect();
    let at = |name: &str| {
        let wanted = norm(name);
        names.iter().position(|n| *n == wanted)
    };
    let optional = |name: &Option<String>| match name {
        None => Some(None),
        Some(n) => at(n).map(Some),
    };
    let date = at(&mapping.date)?;
    let description = mapping.description.iter().map(|d| at(d)).collect::<Option<Vec<_>>>()?;
    let amount = match (&mapping.amount, &mapping.debit, &mapping.credit) {
        (Some(amount), _, _) => match &mapping.direction {
            Some(direction) => Amount::WithDirection { amount: at(amount)?, direction: at(direction)? },
            None => Amount::Signed(at(amount)?),
        },
        (None, Some(debit), Some(credit)) => Amount::DebitCredit { debit: at(debit)?, credit: at(credit)? },
        _ => return None,
    };
    let mut c = Columns::new(Layout::Mapped, date, description, amount);
    c.time = optional(&mapping.time)?;
    c.balance = optional(&mapping.balance)?.map(Balance::After);
    c.reference = optional(&mapping.reference)?;
    c.date_order = mapping.date_order;
    Some(c)
}

/// `Periode : ,01/11/2026 - 21/11/2026` (a title row) → 21/11/2026.
pub fn period_end(cells: &[Cell]) -> Option<NaiveDate> {
    let texts: Vec<String> = cells.iter().map(Cell::text).filter(|t| !t.is_empty()).collect();
    let first = texts.first()?;
    let lower = first.to_lowercase();
    if !lower.starts_with("periode") && !lower.starts_with("period") {
        return None;
    }
    // The dates may share the label's cell (`Periode : 01/11/2026 - 21/11/2026`).
    let rest = first.split_once(':').map_or("", |(_, r)| r);
    let text = std::iter::once(rest).chain(texts[1..].iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
    let end = text.rsplit(" - ").next()?.trim_start_matches([',', ':', ' ']);
    parse_date(end.trim(), DateOptions::default()).ok().map(|d| d.date)
}

/// The summary rows below the transactions (and blank rows).
pub fn is_summary(cells: &[Cell]) -> bool {
    let Some(first) = cells.iter().find(|c| !c.is_empty()) else {
        return true;
    };
    let first = norm(&first.text());
    ["saldo awal", "saldo akhir", "mutasi debet", "mutasi debit", "mutasi kredit", "mutasi credit", "opening balance", "closing balance", "total", "jumlah"]
        .iter()
        .any(|s| first.starts_with(s))
}

fn cell(cells: &[Cell], i: usize) -> &Cell {
    cells.get(i).unwrap_or(&Cell::Empty)
}

/// Excel's day 0 (the 1900 date system, with its 1900-02-29 that never was).
fn excel_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default().and_time(NaiveTime::MIN)
}

/// A number in a date column: `20231225`, or an Excel serial day.
fn number_date(value: f64) -> Result<NaiveDateTime, String> {
    if value.fract() == 0.0 && (19_000_101.0..=29_991_231.0).contains(&value) {
        let n = value as u32;
        return NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100)
            .map(|d| d.and_time(NaiveTime::MIN))
            .ok_or_else(|| format!("{n} is not a date"));
    }
    if !(1.0..=2_958_465.0).contains(&value) {
        return Err(format!("{value} is not a date"));
    }
    let millis = (value * 86_400_000.0).round() as i64;
    Ok(excel_epoch() + Duration::milliseconds(millis))
}

fn read_date(c: &Cell, options: DateOptions) -> Result<(NaiveDate, Option<NaiveTime>), String> {
    let with_time = |d: NaiveDateTime| (d.date(), (d.time() != NaiveTime::MIN).then_some(d.time()));
    match c {
        Cell::Empty => Err("no date".into()),
        Cell::Text(t) => parse_date(t, options).map(|w| (w.date, w.time)).map_err(|e| e.to_string()),
        Cell::Date(d) => Ok(with_time(*d)),
        Cell::Int(i) => number_date(*i as f64).map(with_time),
        Cell::Float(f) => number_date(*f).map(with_time),
    }
}

fn read_time(c: &Cell) -> Result<Option<NaiveTime>, String> {
    let bad = || format!("{:?} is not a time of day", c.text());
    match c {
        Cell::Empty => Ok(None),
        Cell::Text(t) if t.trim().is_empty() => Ok(None),
        Cell::Text(t) => {
            let t = t.trim().replace('.', ":");
            NaiveTime::parse_from_str(&t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M")).map(Some).map_err(|_| bad())
        }
        Cell::Date(d) => Ok(Some(d.time())),
        // A time-formatted cell without its style: a fraction of a day.
        Cell::Float(f) if (0.0..1.0).contains(f) => {
            let secs = (f * 86_400.0).round() as u32;
            NaiveTime::from_num_seconds_from_midnight_opt(secs.min(86_399), 0).map(Some).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// Whole rupiah from a spreadsheet number. Cells hold binary floats: the
/// value is taken to the sen by its shortest decimal form, then to rupiah
/// (half up), as a person reading the cell would.
fn float_rupiah(value: f64) -> Result<i64, String> {
    if !value.is_finite() || value.abs() >= 1e15 {
        return Err(format!("{value} is not an amount"));
    }
    let text = format!("{:.2}", value.abs());
    let (whole, sen) = text.split_once('.').unwrap_or((&text, "00"));
    let mut rupiah: i64 = whole.parse().map_err(|_| format!("{value} is not an amount"))?;
    if sen.parse::<u8>().unwrap_or(0) >= 50 {
        rupiah += 1;
    }
    Ok(if value < 0.0 { -rupiah } else { rupiah })
}

/// An amount cell: the rupiah (signed as written) and any DB/CR written in it.
fn read_amount(c: &Cell, name: &str) -> Result<(i64, Option<Direction>), String> {
    match c {
        Cell::Empty => Ok((0, None)),
        Cell::Text(t) if t.trim().is_empty() => Ok((0, None)),
        Cell::Text(t) => parse_rupiah(t.trim().trim_start_matches('=')).map(|m| (m.rupiah, m.direction)).map_err(|e| format!("{name}: {e}")),
        Cell::Int(i) => Ok((*i, None)),
        Cell::Float(f) => float_rupiah(*f).map(|r| (r, None)).map_err(|e| format!("{name}: {e}")),
        Cell::Date(_) => Err(format!("{name}: a date where an amount should be")),
    }
}

fn read_direction(c: &Cell) -> Result<Direction, String> {
    let text = c.text().to_ascii_uppercase();
    match text.trim().trim_end_matches('.') {
        "D" | "DB" | "DR" | "DEBET" | "DEBIT" => Ok(Direction::Debit),
        "K" | "C" | "CR" | "KR" | "KREDIT" | "CREDIT" => Ok(Direction::Credit),
        "" => Err("the debit/credit column is empty".into()),
        other => Err(format!("{other:?} says neither debit nor credit")),
    }
}

/// Reads one data row under `columns`. `options.reference` dates rows
/// written without a year.
pub fn read_row(columns: &Columns, cells: &[Cell], line: usize, options: DateOptions) -> Result<StatementRow, String> {
    let options = DateOptions { order: columns.date_order, ..options };
    let description =
        columns.description.iter().map(|&i| cell(cells, i).text()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    let date_cell = cell(cells, columns.date);
    let pending = columns.pending_rows && date_cell.text().eq_ignore_ascii_case("pend");
    let (date, mut time) = if pending {
        // The real day is in the description: `TANGGAL :20/11`.
        // ASCII case folding keeps byte offsets valid in `description`.
        let at = description.to_ascii_uppercase().find("TANGGAL :").ok_or("a pending row without TANGGAL :DD/MM in its description")?;
        let day = description[at + "TANGGAL :".len()..].split_whitespace().next().unwrap_or("");
        let written = parse_date(day, options).map_err(|e| format!("TANGGAL: {e}"))?;
        (written.date, None)
    } else {
        read_date(date_cell, options).map_err(|e| format!("date: {e}"))?
    };
    if let Some(t) = columns.time {
        time = read_time(cell(cells, t)).map_err(|e| format!("time: {e}"))?.or(time);
    }
    let amount = match columns.amount {
        Amount::Signed(i) => {
            let (rupiah, written) = read_amount(cell(cells, i), "amount")?;
            if columns.layout == Layout::BcaBisnis && written.is_none() && !cell(cells, i).is_empty() {
                return Err(format!("amount {:?} says neither DB nor CR", cell(cells, i).text()));
            }
            rupiah
        }
        Amount::WithDirection { amount, direction } => {
            let (rupiah, written) = read_amount(cell(cells, amount), "amount")?;
            let direction = read_direction(cell(cells, direction))?;
            if written.is_some_and(|w| w != direction) {
                return Err("the amount and the debit/credit column disagree".into());
            }
            match direction {
                Direction::Debit => -rupiah.abs(),
                Direction::Credit => rupiah.abs(),
            }
        }
        Amount::DebitCredit { debit, credit } => {
            let (out, _) = read_amount(cell(cells, debit), "debit")?;
            let (into, _) = read_amount(cell(cells, credit), "credit")?;
            match (out, into) {
                (0, 0) => return Err("neither debit nor credit has an amount".into()),
                (out, 0) => -out.abs(),
                (0, into) => into.abs(),
                _ => return Err("both debit and credit have an amount".into()),
            }
        }
    };
    if amount == 0 {
        return Err("the amount is zero".into());
    }
    let balance = match &columns.balance {
        None => None,
        Some(Balance::After(i)) => match cell(cells, *i) {
            c if c.is_empty() => None,
            c => Some(read_amount(c, "balance")?.0),
        },
        Some(Balance::Before(i)) => match cell(cells, *i) {
            c if c.is_empty() => None,
            c => Some(read_amount(c, "opening balance")?.0.saturating_add(amount)),
        },
    };
    let reference = columns.reference.map(|i| cell(cells, i).text()).filter(|r| !r.is_empty());
    let time = time.map(|t| t.with_nanosecond(0).unwrap_or(t));
    Ok(StatementRow { line, date, time, description, amount, balance, reference, pending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cells: &[&str]) -> Vec<Cell> {
        cells.iter().map(|c| Cell::Text((*c).to_owned())).collect()
    }

    #[test]
    fn headers_are_recognised_without_case_dots_or_underscores() {
        let mandiri = text(&["Tgl.", "Tgl. Val.", "Rincian Transaksi", "No. Referensi", "Debit", "Kredit", "Saldo", "Branch Code"]);
        assert_eq!(detect(&mandiri).map(|c| c.layout), Some(Layout::MandiriXlsx));
        let bri = text(&["ID", "NOREK", "TGL_TRAN", "TGL_EFEKTIF", "JAM_TRAN", "SEQ", "DESK_TRAN", "SALDO_AWAL_MUTASI", "MUTASI_DEBIT", "MUTASI_KREDIT"]);
        assert_eq!(detect(&bri).map(|c| c.layout), Some(Layout::Bri));
        let bni = text(&["No.", "Tanggal Kirim", "Cabang", "Journal No.", "Deskripsi", "Amount", "Db/Cr"]);
        assert_eq!(detect(&bni).map(|c| c.layout), Some(Layout::Bni));
        let bca_en = text(&["Date", "Description", "Branch", "Amount", "", "Balance"]);
        assert_eq!(detect(&bca_en).map(|c| c.layout), Some(Layout::BcaPersonal));
        assert_eq!(detect(&text(&["Tanggal", "Uraian", "Nominal"])), None);
    }

    #[test]
    fn spreadsheet_numbers_become_whole_rupiah_and_dates() {
        assert_eq!(float_rupiah(287_490.0), Ok(287_490));
        assert_eq!(float_rupiah(0.1 + 0.2), Ok(0));
        assert_eq!(float_rupiah(1_234.5), Ok(1_235));
        assert_eq!(float_rupiah(-1_234.49), Ok(-1_234));
        assert_eq!(float_rupiah(12_500_000.000_000_002), Ok(12_500_000));
        assert!(float_rupiah(f64::NAN).is_err());
        // Excel serial 45285 is 2023-12-25; .5 is noon.
        assert_eq!(number_date(45_285.5).unwrap(), NaiveDate::from_ymd_opt(2023, 12, 25).unwrap().and_hms_opt(12, 0, 0).unwrap());
        assert_eq!(number_date(20_231_225.0).unwrap().date(), NaiveDate::from_ymd_opt(2023, 12, 25).unwrap());
        assert!(number_date(-3.0).is_err());
    }

    #[test]
    fn a_mapping_resolves_against_its_header_and_reads_rows() {
        let mapping = ColumnMapping {
            date: "Tgl".into(),
            description: vec!["Uraian".into(), "Catatan".into()],
            amount: None,
            direction: None,
            debit: Some("Keluar".into()),
            credit: Some("Masuk".into()),
            time: None,
            balance: None,
            reference: None,
            date_order: DayOrder::MonthFirst,
        };
        assert_eq!(mapping.check(), Ok(()));
        let header = text(&["TGL", "uraian", "Masuk", "Keluar", "Catatan"]);
        let columns = resolve(&mapping, &header).unwrap();
        assert!(resolve(&mapping, &text(&["Tgl", "Uraian", "Masuk"])).is_none());
        let row = read_row(&columns, &text(&["11/21/2026", "beli tepung", "", "150.000", "pasar"]), 3, DateOptions::default()).unwrap();
        assert_eq!((row.date, row.amount, row.description.as_str()), (NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(), -150_000, "beli tepung pasar"));
        let bad = ColumnMapping { debit: None, ..mapping };
        assert!(bad.check().is_err());
    }
}
