//! CSV statements, streamed: the separator is chosen from the first lines,
//! then records are read one at a time. Fields are UTF-8 when they are
//! valid UTF-8, else Windows-1252 (the encoding of older Indonesian bank
//! exports), decided field by field so one odd byte cannot garble the file.

use std::io::{BufReader, Read, Seek, SeekFrom};

use super::{Cell, Driver, Next, StatementError};

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// How much of the file the separator is chosen from.
const SNIFF_BYTES: u64 = 64 * 1024;
/// Records between progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// Decodes one field: UTF-8, or else Windows-1252. The flag says which.
pub fn decode_field(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(), true),
    }
}

/// Reads every record of a CSV file into `driver`; returns the encoding
/// and the separator.
pub(crate) fn read<R: Read + Seek>(mut input: R, driver: &mut Driver<'_>) -> Result<(&'static str, char), StatementError> {
    let total = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    (&mut input).take(SNIFF_BYTES).read_to_end(&mut head)?;
    let bom = head.starts_with(BOM);
    input.seek(SeekFrom::Start(if bom { BOM.len() as u64 } else { 0 }))?;
    let body = if bom { &head[BOM.len()..] } else { &head[..] };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(StatementError::Empty);
    }
    let separator = sniff_separator(body, head.len() as u64 == total);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator as u8)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(256 * 1024, input));
    let mut encoding = if bom { "utf-8-bom" } else { "utf-8" };
    let mut record = csv::ByteRecord::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut count = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(StatementError::NotCsv(e.to_string())),
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        cells.clear();
        for field in record.iter() {
            let (text, fallback) = decode_field(field);
            if fallback {
                encoding = "windows-1252";
            }
            cells.push(Cell::Text(text));
        }
        let raw = || cells.iter().map(|c| match c {
            Cell::Text(t) => t.as_str(),
            _ => "",
        }).collect::<Vec<_>>().join(&separator.to_string());
        if driver.record(line, &cells, raw)? == Next::GiveUp {
            break;
        }
        count += 1;
        if count.is_multiple_of(PROGRESS_EVERY) {
            driver.progress(record.position().map_or(0, |p| p.byte()), total)?;
        }
    }
    driver.progress(total, total)?;
    Ok((encoding, separator))
}

/// The separator that splits the first lines most consistently: for each
/// candidate, the most common field count above one and how many lines have
/// it. A last line cut off by the sniff window is left out.
fn sniff_separator(head: &[u8], whole_file: bool) -> char {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).collect();
    if !whole_file && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(30);
    let mut best = (',', 0usize);
    for candidate in [',', ';', '\t'] {
        let mut counts = std::collections::HashMap::new();
        for line in &lines {
            let fields = csv::ReaderBuilder::new()
                .delimiter(candidate as u8)
                .has_headers(false)
                .flexible(true)
                .from_reader(*line)
                .byte_records()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::{read_all, BankChoice, Layout, ReadOptions};

    #[test]
    fn tabs_and_a_stray_windows_1252_byte_in_a_utf8_file() {
        let mut bytes = "Tanggal Transaksi\tKeterangan\tCabang\tJumlah\tSaldo\n01/10/2026\tQRIS KOPI\t0038\t45,000.00 DB\t1,000.00\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"02/10/2026\tCAF\xC9 \xE9\t0038\t5,000.00 CR\t6,000.00\n");
        let (s, rows, rejected) = read_all(&bytes, &ReadOptions::new(BankChoice::Auto, None)).unwrap();
        assert_eq!((s.layout, s.separator, s.encoding.as_str()), (Layout::BcaBisnis, Some('\t'), "windows-1252"));
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(rows[1].description, "CAFÉ é");
        assert_eq!(rows.iter().map(|r| r.amount).collect::<Vec<_>>(), [-45_000, 5_000]);
    }

    #[test]
    fn impossible_dates_and_amounts_are_rejected_rows_not_guesses() {
        let csv = "Tanggal Transaksi;Keterangan;Cabang;Jumlah;Saldo\n\
            31/02/2026;A;0038;5,000.00 DB;1\n\
            13/25/2026;B;0038;5,000.00 DB;1\n\
            01/03/2026;C;0038;5.000,00;1\n\
            01/03/2026;D;0038;5,000.00 DB;1\n";
        let (_, rows, rejected) = read_all(csv.as_bytes(), &ReadOptions::new(BankChoice::Auto, None)).unwrap();
        assert_eq!(rows.iter().map(|r| r.description.as_str()).collect::<Vec<_>>(), ["D"]);
        let reasons: Vec<(usize, &str)> = rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].0 == 2 && reasons[0].1.starts_with("date:"), "{reasons:?}");
        assert!(reasons[1].0 == 3 && reasons[1].1.contains("no month 25"), "{reasons:?}");
        assert!(reasons[2].0 == 4 && reasons[2].1.contains("neither DB nor CR"), "{reasons:?}");
    }

    #[test]
    fn whitespace_only_is_empty() {
        assert_eq!(read_all(b" \r\n\n", &ReadOptions::new(BankChoice::Auto, None)).unwrap_err(), StatementError::Empty);
    }
}
