//! A cash-book page (*buku kas*): rows of date, description, *masuk* (money
//! in) and *keluar* (money out), printed or handwritten, become one entry
//! each. The header names the columns (`MASUK`/`PEMASUKAN`/`DEBET`,
//! `KELUAR`/`PENGELUARAN`/`KREDIT`, `SALDO`); with word boxes an amount
//! belongs to the column it sits under, without them (plain text) to the
//! side its description's words suggest (`jual`, `terima` → in), at a lower
//! confidence. A row without a date has the date of the row above. Totals
//! and balances (`JUMLAH`, `SALDO`) are not entries.
//!
//! Handwriting reads poorly: every entry carries its confidence, and the
//! caller shows the person anything below its threshold before it counts.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::amounts::{self, Amount};
use super::receipt::Field;
use super::{Line, Page};
use crate::dates::{parse_date, DateOptions};
use crate::money::parse_rupiah;

/// Which way the money went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// *masuk*
    In,
    /// *keluar*
    Out,
}

/// One row of the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub date: Option<Field<NaiveDate>>,
    pub description: String,
    /// Whole rupiah, positive; `flow` says which way.
    pub amount: Field<i64>,
    pub flow: Flow,
    /// The least of the row's confidences (reading, date, column).
    pub confidence: f32,
    pub line: u32,
}

/// Everything read from one page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CashBook {
    pub entries: Vec<Entry>,
    /// Whether a header named the in and out columns.
    pub columns_found: bool,
}

const IN_WORDS: &[&str] = &["MASUK", "PEMASUKAN", "PENERIMAAN", "DEBET", "DEBIT", "IN", "UANG MASUK"];
const OUT_WORDS: &[&str] = &["KELUAR", "PENGELUARAN", "KREDIT", "CREDIT", "OUT", "UANG KELUAR"];
const BALANCE_WORDS: &[&str] = &["SALDO", "BALANCE", "SISA"];
const SUMMARY_WORDS: &[&str] = &["JUMLAH", "TOTAL", "SALDO", "SUBTOTAL", "BALANCE", "SISA"];
const INCOME_HINTS: &[&str] = &["jual", "penjualan", "terima", "diterima", "masuk", "pendapatan", "omzet", "omset", "laku", "setor", "modal", "pinjaman", "gaji", "bayaran", "dp"];

/// Chat-style amounts on handwritten pages: `300rb`, `1,5jt`, `25k`.
static SHORTHAND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b\d+(?:[.,]\d+)?\s?(?:rb|ribu|k|jt|juta)\b").expect("shorthand pattern"));
static LEADING_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(\d{1,2}\s?[/\-.]\s?\d{1,2}(?:\s?[/\-.]\s?\d{2,4})?|\d{1,2}\s+[A-Za-z]{3,9}(?:\s+\d{2,4})?)\b").expect("leading date"));

fn upper_words(line: &Line) -> Vec<String> {
    line.text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_uppercase).collect()
}

/// The x-centre of the first word of `line` that is one of `names`.
fn column_centre(line: &Line, names: &[&str]) -> Option<f32> {
    line.words.iter().find(|w| names.contains(&w.text.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase().as_str())).map(|w| w.bbox.left as f32 + w.bbox.width as f32 / 2.0)
}

/// Whether the page looks like a cash book rather than a receipt: a header
/// naming in and out columns, or several dated rows with amounts and no total.
pub fn looks_like_cashbook(page: &Page) -> bool {
    let header = page.lines.iter().any(|l| {
        let words = upper_words(l);
        words.iter().any(|w| IN_WORDS.contains(&w.as_str()) && w != "IN") && words.iter().any(|w| OUT_WORDS.contains(&w.as_str()) && w != "OUT")
    });
    if header {
        return true;
    }
    let dated_rows = page.lines.iter().filter(|l| LEADING_DATE.is_match(&l.text) && !amounts::find(&amounts::repair(&l.text)).is_empty()).count();
    let totals = page.lines.iter().filter(|l| upper_words(l).iter().any(|w| w.starts_with("TOTAL") || w == "TUNAI" || w == "CASH" || w == "KEMBALI")).count();
    dated_rows >= 3 && totals == 0
}

/// An amount on the line: chat shorthand first (`300rb`), then printed
/// notation; positions are byte offsets into `text`.
fn money_on(text: &str) -> Vec<(usize, usize, i64, String)> {
    let mut found: Vec<(usize, usize, i64, String)> = SHORTHAND
        .find_iter(text)
        .filter_map(|m| parse_rupiah(m.as_str()).ok().map(|money| (m.start(), m.end(), money.rupiah.abs(), m.as_str().to_owned())))
        .collect();
    for f in amounts::find(text) {
        if found.iter().any(|(s, e, _, _)| f.start < *e && f.end > *s) {
            continue;
        }
        // Rupiah are whole; cents printed on a cash book are dropped.
        let rupiah = Amount { minor: f.amount.minor.abs(), scale: f.amount.scale }.whole_units();
        // A zero (or a bare small number) holds an empty column's place.
        if rupiah >= 0 && (f.looks_like_money() || rupiah >= 100 || rupiah == 0) {
            found.push((f.start, f.end, rupiah, f.text));
        }
    }
    found.sort_by_key(|f| f.0);
    found
}

/// Reads the entries of a cash-book page. `reference` gives dates written
/// without a year (`21/11`) their year: the latest such day not after it.
pub fn parse(page: &Page, reference: NaiveDate) -> CashBook {
    let header_at = page.lines.iter().position(|l| {
        let words = upper_words(l);
        words.iter().any(|w| IN_WORDS.contains(&w.as_str())) && words.iter().any(|w| OUT_WORDS.contains(&w.as_str()))
    });
    let columns = header_at.and_then(|i| {
        let line = &page.lines[i];
        let in_x = column_centre(line, IN_WORDS)?;
        let out_x = column_centre(line, OUT_WORDS)?;
        Some((in_x, out_x, column_centre(line, BALANCE_WORDS)))
    });
    let in_first = header_at.map(|i| {
        let text = page.lines[i].text.to_uppercase();
        let pos = |names: &[&str]| names.iter().filter_map(|n| text.find(n)).min().unwrap_or(usize::MAX);
        pos(IN_WORDS) < pos(OUT_WORDS)
    });
    let has_balance_column = header_at.is_some_and(|i| upper_words(&page.lines[i]).iter().any(|w| BALANCE_WORDS.contains(&w.as_str())));

    let mut book = CashBook { entries: Vec::new(), columns_found: header_at.is_some() };
    let mut last_date: Option<Field<NaiveDate>> = None;
    for (i, line) in page.lines.iter().enumerate().skip(header_at.map_or(0, |h| h + 1)) {
        let words = upper_words(line);
        if words.first().is_some_and(|w| SUMMARY_WORDS.contains(&w.as_str())) {
            continue;
        }
        let text = amounts::repair(&line.text);
        // The date at the start of the row, if any.
        let (date, rest_from) = match LEADING_DATE.find(&text) {
            Some(m) => match parse_date(m.as_str().trim(), DateOptions { reference: Some(reference), ..DateOptions::default() }) {
                Ok(written) => (Some(Field { value: written.date, text: m.as_str().trim().to_owned(), confidence: line.confidence * 0.9, line: Some(i as u32) }), m.end()),
                Err(_) => (None, 0),
            },
            None => (None, 0),
        };
        let rest = &text[rest_from..];
        let mut money = money_on(rest);
        if money.iter().all(|m| m.2 == 0) {
            continue;
        }
        // A balance column's figure is not an entry.
        if has_balance_column && money.len() >= 2 && columns.is_none() {
            money.pop();
        }
        let description = rest[..money[0].0].trim().trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
        if description.chars().filter(|c| c.is_alphabetic()).count() < 2 {
            continue;
        }
        let date = match date {
            Some(d) => {
                last_date = Some(d.clone());
                Some(d)
            }
            // Same day as the row above (ditto), less sure.
            None => last_date.clone().map(|mut d| {
                d.confidence *= 0.8;
                d.line = Some(i as u32);
                d
            }),
        };
        let boxes = columns.filter(|_| !line.words.is_empty());
        let mut placed: Vec<(i64, String, Flow, f32)> = Vec::new();
        match boxes {
            Some((in_x, out_x, balance_x)) => {
                // Each amount goes to the column it sits under.
                for (start, end, rupiah, written) in &money {
                    let Some(x) = word_centre(line, &text, rest_from + start, rest_from + end) else { continue };
                    let d_in = (x - in_x).abs();
                    let d_out = (x - out_x).abs();
                    if balance_x.is_some_and(|b| (x - b).abs() < d_in.min(d_out)) {
                        continue;
                    }
                    let flow = if d_in <= d_out { Flow::In } else { Flow::Out };
                    let margin = (d_in - d_out).abs() / (in_x - out_x).abs().max(1.0);
                    placed.push((*rupiah, written.clone(), flow, (0.6 + margin).min(0.95)));
                }
            }
            None if money.len() >= 2 && in_first.is_some() => {
                // Two figures without boxes: in the header's order.
                let first_in = in_first.unwrap_or(true);
                for (k, (_, _, rupiah, written)) in money.iter().take(2).enumerate() {
                    let flow = if (k == 0) == first_in { Flow::In } else { Flow::Out };
                    placed.push((*rupiah, written.clone(), flow, 0.7));
                }
            }
            None => {
                let Some((_, _, rupiah, written)) = money.iter().find(|m| m.2 > 0) else { continue };
                let lower = description.to_lowercase();
                let income = INCOME_HINTS.iter().any(|h| lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == *h));
                placed.push((*rupiah, written.clone(), if income { Flow::In } else { Flow::Out }, 0.55));
            }
        }
        for (rupiah, written, flow, column_confidence) in placed.into_iter().filter(|p| p.0 > 0) {
            let date_confidence = date.as_ref().map_or(0.3, |d| d.confidence);
            let confidence = line.confidence.min(date_confidence).min(column_confidence);
            book.entries.push(Entry {
                date: date.clone(),
                description: description.clone(),
                amount: Field { value: rupiah, text: written, confidence: line.confidence, line: Some(i as u32) },
                flow,
                confidence,
                line: i as u32,
            });
        }
    }
    book
}

/// The x-centre of the words of `line` that the byte range of `text` covers
/// (`text` is the line's text after [`amounts::repair`], which keeps word
/// order, so words are found by their position among the line's words).
fn word_centre(line: &Line, text: &str, start: usize, end: usize) -> Option<f32> {
    let wanted: Vec<&str> = text[start..end].split_whitespace().collect();
    let first = wanted.first()?;
    let last = wanted.last()?;
    let index = text[..start].split_whitespace().count();
    // Repairs may have joined two words into one: the matching word nearest the expected place.
    let find = |needle: &str, from: usize| line.words.iter().enumerate().filter(|(_, w)| w.text.contains(needle) || needle.contains(w.text.as_str())).min_by_key(|(k, _)| k.abs_diff(from)).map(|(k, _)| k);
    let a = find(first, index)?;
    let b = find(last, a).unwrap_or(a);
    let (left, right) = (line.words[a].bbox.left as f32, line.words[b].bbox.right() as f32);
    Some((left + right) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::{BBox, Word};

    fn reference() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).expect("date")
    }

    /// A line of words placed at the given x positions.
    fn placed(words: &[(&str, u32)], y: u32, confidence: f32) -> Line {
        Line::from_words(words.iter().map(|(t, x)| Word { text: (*t).to_owned(), confidence, bbox: BBox { left: *x, top: y, width: 12 * t.len() as u32, height: 20 } }).collect())
    }

    #[test]
    fn columns_decide_in_and_out() {
        let page = Page {
            lines: vec![
                placed(&[("BUKU", 10), ("KAS", 70)], 0, 0.9),
                placed(&[("Tgl", 10), ("Keterangan", 100), ("Masuk", 400), ("Keluar", 550), ("Saldo", 700)], 30, 0.9),
                placed(&[("20/11", 10), ("Jual", 100), ("bakso", 160), ("300.000", 400), ("300.000", 700)], 60, 0.85),
                placed(&[("Beli", 100), ("daging", 160), ("120.000", 550), ("180.000", 700)], 90, 0.8),
                placed(&[("21/11", 10), ("Gas", 100), ("elpiji", 150), ("22.000", 550), ("158.000", 700)], 120, 0.4),
                placed(&[("Jumlah", 100), ("300.000", 400), ("142.000", 550)], 150, 0.9),
            ],
            width: 800,
            height: 200,
        };
        assert!(looks_like_cashbook(&page));
        let book = parse(&page, reference());
        assert!(book.columns_found);
        let got: Vec<(Option<String>, &str, i64, Flow)> = book.entries.iter().map(|e| (e.date.as_ref().map(|d| d.value.to_string()), e.description.as_str(), e.amount.value, e.flow)).collect();
        assert_eq!(
            got,
            vec![
                (Some("2026-11-20".into()), "Jual bakso", 300_000, Flow::In),
                (Some("2026-11-20".into()), "Beli daging", 120_000, Flow::Out),
                (Some("2026-11-21".into()), "Gas elpiji", 22_000, Flow::Out),
            ]
        );
        // The ditto date is less sure than a written one; a poorly read row is unsure.
        assert!(book.entries[1].date.as_ref().unwrap().confidence < book.entries[0].date.as_ref().unwrap().confidence);
        assert!(book.entries[2].confidence <= 0.4);
    }

    #[test]
    fn plain_text_uses_the_header_order_or_the_words() {
        let page = Page::from_text("Tanggal Uraian Pemasukan Pengeluaran\n01/11 Penjualan nasi 450rb 0\n02/11 Belanja pasar 0 175.000\n03/11 Terima pinjaman 1,5jt");
        let book = parse(&page, reference());
        let got: Vec<(i64, Flow)> = book.entries.iter().map(|e| (e.amount.value, e.flow)).collect();
        assert_eq!(got, vec![(450_000, Flow::In), (175_000, Flow::Out), (1_500_000, Flow::In)]);
        let page = Page::from_text("05/11 beli minyak 35.000\n05/11 jual gorengan 120.000\n06/11 bayar listrik 200.000");
        assert!(looks_like_cashbook(&page));
        let book = parse(&page, reference());
        let flows: Vec<Flow> = book.entries.iter().map(|e| e.flow).collect();
        assert_eq!(flows, vec![Flow::Out, Flow::In, Flow::Out]);
        assert!(book.entries.iter().all(|e| e.confidence <= 0.55));
    }

    #[test]
    fn a_receipt_is_not_a_cash_book() {
        let page = Page::from_text("TOKO ABC\n21/11/2026\nGula 15.000\nTOTAL 15.000\nTUNAI 20.000\nKEMBALI 5.000");
        assert!(!looks_like_cashbook(&page));
    }
}
