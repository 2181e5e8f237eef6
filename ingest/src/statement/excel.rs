//! XLSX and XLS statements through calamine.
//!
//! XLSX sheets are streamed cell by cell (calamine's cell reader), so a
//! million-row export never sits in memory as a grid. Before calamine
//! opens a workbook, the zip's directory is checked: the parts may unpack
//! to at most `max_unpacked_bytes` together, and no large part may claim a
//! compression ratio only a zip bomb has (the zip crate then refuses to
//! unpack more than a part declares). Encrypted workbooks are named as such.
//! XLS (BIFF, at most 65,536 rows) is read as a whole sheet.

use std::io::{Read, Seek, SeekFrom};

use calamine::{Data, DataRef, Reader, Xls, XlsError, Xlsx, XlsxError};
use chrono::{NaiveDate, NaiveDateTime};

use super::{Cell, Driver, Next, StatementError};

/// Cells right of this column are ignored (a statement has about ten).
const MAX_COLUMNS: usize = 64;
/// Rows between progress reports.
const PROGRESS_EVERY: u32 = 4096;
/// Deflate cannot do much better than about 1000:1; ordinary sheets
/// compress 5–30:1. A part this much smaller than it unpacks to is a bomb.
const BOMB_RATIO: u64 = 400;
/// Parts smaller than this are not judged by their ratio.
const BOMB_MIN_BYTES: u64 = 8 << 20;

/// Checks the zip directory of a workbook before anything is unpacked.
pub fn check_zip<R: Read + Seek>(input: &mut R, max_unpacked_bytes: u64) -> Result<(), StatementError> {
    input.seek(SeekFrom::Start(0))?;
    let mut zip = zip::ZipArchive::new(&mut *input).map_err(|e| StatementError::Corrupt(format!("not a valid XLSX (zip): {e}")))?;
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| StatementError::Corrupt(format!("zip entry {i}: {e}")))?;
        let (size, packed) = (part.size(), part.compressed_size().max(1));
        declared = declared.saturating_add(size);
        if size >= BOMB_MIN_BYTES && size / packed >= BOMB_RATIO {
            return Err(StatementError::TooLarge { declared: size, limit: packed.saturating_mul(BOMB_RATIO) });
        }
    }
    if declared > max_unpacked_bytes {
        return Err(StatementError::TooLarge { declared, limit: max_unpacked_bytes });
    }
    input.seek(SeekFrom::Start(0))?;
    Ok(())
}

fn xlsx_error(e: XlsxError) -> StatementError {
    match e {
        XlsxError::Password => StatementError::Encrypted,
        XlsxError::Io(e) => StatementError::Io(e.to_string()),
        other => StatementError::Corrupt(other.to_string()),
    }
}

fn excel_datetime(value: &calamine::ExcelDateTime) -> Option<NaiveDateTime> {
    let (y, m, d, h, min, s, ms) = value.to_ymd_hms_milli();
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))?.and_hms_milli_opt(u32::from(h), u32::from(min), u32::from(s), u32::from(ms))
}

fn from_ref(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
        DataRef::Bool(b) => Cell::Text(b.to_string()),
        DataRef::DateTime(d) => excel_datetime(d).map_or(Cell::Float(d.as_f64()), Cell::Date),
        DataRef::Error(e) => Cell::Text(format!("#{e}")),
    }
}

fn from_data(value: &Data) -> Cell {
    match value {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(d) => excel_datetime(d).map_or(Cell::Float(d.as_f64()), Cell::Date),
        Data::Error(e) => Cell::Text(format!("#{e}")),
    }
}

fn render(cells: &[Cell]) -> String {
    cells.iter().map(Cell::text).collect::<Vec<_>>().join(",")
}

/// Reads the first sheet with a recognised header; returns its name.
pub(crate) fn read_xlsx<R: Read + Seek>(mut input: R, max_unpacked_bytes: u64, driver: &mut Driver<'_>) -> Result<String, StatementError> {
    check_zip(&mut input, max_unpacked_bytes)?;
    let mut workbook: Xlsx<R> = Xlsx::new(input).map_err(xlsx_error)?;
    let names = workbook.sheet_names();
    for name in &names {
        driver.next_sheet();
        let mut reader = workbook.worksheet_cells_reader(name).map_err(xlsx_error)?;
        let total = u64::from(reader.dimensions().end.0) + 1;
        let mut row: Vec<Cell> = Vec::new();
        let mut at: Option<u32> = None;
        let mut gave_up = false;
        while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
            let (r, c) = cell.get_position();
            if at != Some(r) {
                if let Some(prev) = at {
                    if driver.record(prev as usize + 1, &row, || render(&row))? == Next::GiveUp {
                        gave_up = true;
                        break;
                    }
                    if prev.is_multiple_of(PROGRESS_EVERY) {
                        driver.progress(u64::from(prev), total)?;
                    }
                }
                row.clear();
                at = Some(r);
            }
            let c = c as usize;
            if c < MAX_COLUMNS {
                if row.len() <= c {
                    row.resize(c + 1, Cell::Empty);
                }
                row[c] = from_ref(cell.get_value());
            }
        }
        if let (Some(last), false) = (at, gave_up) {
            driver.record(last as usize + 1, &row, || render(&row))?;
        }
        if driver.found_header() {
            driver.progress(total, total)?;
            return Ok(name.clone());
        }
    }
    Ok(names.into_iter().next().unwrap_or_default())
}

/// Reads an XLS workbook (or names an encrypted XLSX, which is an OLE file too).
pub(crate) fn read_xls<R: Read + Seek>(mut input: R, driver: &mut Driver<'_>) -> Result<String, StatementError> {
    // An encrypted XLSX is an OLE container holding `EncryptedPackage`;
    // calamine's XLSX opener says so before it looks for a zip.
    if let Err(XlsxError::Password) = Xlsx::new(&mut input) {
        return Err(StatementError::Encrypted);
    }
    input.seek(SeekFrom::Start(0))?;
    let mut workbook: Xls<R> = Xls::new(input).map_err(|e| match e {
        XlsError::Password => StatementError::Encrypted,
        XlsError::Io(e) => StatementError::Io(e.to_string()),
        other => StatementError::Corrupt(other.to_string()),
    })?;
    let names = workbook.sheet_names();
    for name in &names {
        driver.next_sheet();
        let range = workbook.worksheet_range(name).map_err(|e| StatementError::Corrupt(e.to_string()))?;
        let first_row = range.start().map_or(0, |(r, _)| r as usize);
        let first_col = range.start().map_or(0, |(_, c)| c as usize);
        let total = range.height() as u64;
        let mut cells = Vec::new();
        for (i, row) in range.rows().enumerate() {
            cells.clear();
            cells.resize(first_col.min(MAX_COLUMNS), Cell::Empty);
            cells.extend(row.iter().take(MAX_COLUMNS.saturating_sub(first_col)).map(from_data));
            if driver.record(first_row + i + 1, &cells, || render(&cells))? == Next::GiveUp {
                break;
            }
        }
        if driver.found_header() {
            driver.progress(total, total)?;
            return Ok(name.clone());
        }
    }
    Ok(names.into_iter().next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use crate::statement::tests::{fixture, ymd};
    use crate::statement::{read_all, BankChoice, Format, Layout, ReadOptions, StatementError};

    fn auto() -> ReadOptions {
        ReadOptions::new(BankChoice::Auto, None)
    }

    fn hms(h: u32, m: u32, s: u32) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(h, m, s)
    }

    #[test]
    fn mandiri_xlsx_dates_floats_text_amounts_and_summary_rows() {
        let (s, rows, rejected) = read_all(&fixture("mandiri.xlsx"), &auto()).unwrap();
        assert_eq!((s.format, s.layout, s.encoding.as_str()), (Format::Xlsx, Layout::MandiriXlsx, "Mutasi"));
        assert_eq!(s.period_end, Some(ymd(2026, 11, 21)));
        let got: Vec<_> = rows.iter().map(|r| (r.line, r.date, r.amount, r.balance)).collect();
        assert_eq!(
            got,
            [
                (6, ymd(2026, 11, 3), 1_500_000, Some(6_500_000)),
                (7, ymd(2026, 11, 4), -52_500, Some(6_447_500)),
                (8, ymd(2026, 11, 4), -52_500, Some(6_395_000)),
                // 1,234.50 of interest: whole rupiah, half up.
                (9, ymd(2026, 11, 5), 1_235, Some(6_396_235)),
                (10, ymd(2026, 11, 6), -12_500, Some(6_383_735)),
                (11, ymd(2026, 11, 7), -68_000, Some(6_315_735)),
            ]
        );
        assert_eq!(rows[0].time, hms(9, 15, 0));
        assert_eq!(rows[0].reference.as_deref(), Some("FT2611030001"));
        assert_eq!(rows[0].description, "TRANSFER DARI SITI AMINAH");
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert_eq!(rejected[0].line, 12);
        assert!(rejected[0].reason.contains("debit"), "{}", rejected[0].reason);
    }

    #[test]
    fn bni_xlsx_on_its_second_sheet_with_indonesian_month_names() {
        let (s, rows, rejected) = read_all(&fixture("bni.xlsx"), &auto()).unwrap();
        assert_eq!((s.layout, s.encoding.as_str()), (Layout::Bni, "Transaksi"));
        let got: Vec<_> = rows.iter().map(|r| (r.date, r.time, r.amount, r.reference.as_deref())).collect();
        assert_eq!(
            got,
            [
                (ymd(2023, 12, 25), hms(10, 15, 32), -250_000, Some("J001")),
                (ymd(2023, 12, 26), None, 3_000_000, Some("J002")),
                (ymd(2023, 12, 31), None, -5_000, Some("J003")),
                (ymd(2024, 1, 1), None, 1_500_000, Some("J004")),
            ]
        );
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].line, 6);
        assert!(rejected[0].reason.contains("neither debit nor credit"), "{}", rejected[0].reason);
        assert!(rejected[0].raw.contains("TOPUP GOPAY"), "{}", rejected[0].raw);
    }

    #[test]
    fn bri_xlsx_times_and_balances_from_the_opening_balance_column() {
        let (s, rows, rejected) = read_all(&fixture("bri.xlsx"), &auto()).unwrap();
        assert_eq!(s.layout, Layout::Bri);
        let got: Vec<_> = rows.iter().map(|r| (r.date, r.time, r.amount, r.balance)).collect();
        assert_eq!(
            got,
            [
                (ymd(2026, 10, 1), hms(8, 30, 5), -200_000, Some(1_800_000)),
                (ymd(2026, 10, 1), hms(14, 2, 11), 750_000, Some(2_550_000)),
                (ymd(2026, 10, 2), hms(7, 0, 0), -150_000, Some(2_400_000)),
            ]
        );
        assert_eq!((rejected.len(), rejected[0].line), (1, 5));
    }

    #[test]
    fn legacy_xls_is_read_too() {
        let (s, rows, rejected) = read_all(&fixture("mandiri.xls"), &auto()).unwrap();
        assert_eq!((s.format, s.layout), (Format::Xls, Layout::MandiriXlsx));
        assert!(rejected.is_empty(), "{rejected:?}");
        let got: Vec<_> = rows.iter().map(|r| (r.line, r.date, r.amount)).collect();
        assert_eq!(got, [(4, ymd(2026, 9, 1), 4_500_000), (5, ymd(2026, 9, 2), -500_000)]);
    }

    #[test]
    fn encrypted_corrupt_and_bomb_workbooks_are_named_as_such() {
        assert_eq!(read_all(&fixture("encrypted.xlsx"), &auto()).unwrap_err(), StatementError::Encrypted);
        let bomb = read_all(&fixture("bomb.xlsx"), &auto()).unwrap_err();
        assert!(matches!(bomb, StatementError::TooLarge { declared: 268_435_456, .. }), "{bomb:?}");
        // Under the ratio rule, the total cap still holds.
        let small = ReadOptions { max_unpacked_bytes: 4096, ..auto() };
        assert!(matches!(read_all(&fixture("bri.xlsx"), &small).unwrap_err(), StatementError::TooLarge { .. }));
        let mut cut = fixture("mandiri.xlsx");
        cut.truncate(cut.len() / 2);
        assert_eq!(read_all(&cut, &auto()).unwrap_err().code(), "corrupt");
        let mut garbled = fixture("mandiri.xls");
        garbled.truncate(600);
        assert_eq!(read_all(&garbled, &auto()).unwrap_err().code(), "corrupt");
    }
}
